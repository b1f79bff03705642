/* codec.h: one chunk in, one complete gzip member out (libdeflate), stored when it would not shrink. */
#ifndef SP_CODEC_H
#define SP_CODEC_H

#include "common/sp_common.h"

/* Per-thread state: not thread-safe. */
typedef struct sp_codec sp_codec;

sp_status sp_codec_new(int level, sp_codec **out, sp_error *err) SP_MUST_USE;
void sp_codec_free(sp_codec *c);

/* Largest member compress can produce for len input bytes (the stored form). */
size_t sp_codec_bound(size_t len);

/* Compresses in[0..len) into out as one gzip member. Level 0, or a chunk the
 * probe predicts will not shrink by SP_CODEC_MIN_SAVING, or whose compressed
 * form is no smaller than its stored form, is written with stored deflate
 * blocks (*stored = 1): still a valid gzip member, at memcpy+CRC speed. */
sp_status sp_codec_compress(sp_codec *c, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                            int *stored, sp_error *err) SP_MUST_USE;

/* Inflates exactly one gzip member that must fill in[0..len) and yield at
 * most cap bytes. SP_ERR_FORMAT on anything else. */
sp_status sp_codec_decompress(sp_codec *c, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                              sp_error *err) SP_MUST_USE;

/* "libdeflate 1.14" */
const char *sp_codec_version(void);

#endif
