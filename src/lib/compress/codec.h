/* codec.h: one chunk in, one complete gzip member out, its codec chosen from the chunk's content. */
#ifndef SP_CODEC_H
#define SP_CODEC_H

#include "common/sp_common.h"

/* Per-thread state: not thread-safe. */
typedef struct sp_codec sp_codec;

/* How one chunk was encoded. Every kind is one standard gzip member that any
 * inflater reads; the kind is reported (publish --json, bench/stages) and
 * never stored in the container. */
typedef enum sp_codec_kind {
    SP_CODEC_DEFLATE = 0, /* libdeflate at the codec's level */
    SP_CODEC_STORED = 1,  /* stored deflate blocks: the chunk would not shrink */
    SP_CODEC_FAST = 2,    /* ISA-L igzip level 2 (libdeflate level 1 when built without ISA-L) */
} sp_codec_kind;

sp_status sp_codec_new(int level, sp_codec **out, sp_error *err) SP_MUST_USE;
void sp_codec_free(sp_codec *c);

/* Largest member compress can produce for len input bytes (the stored form). */
size_t sp_codec_bound(size_t len);

/* Compresses in[0..len) into out as one gzip member and says how in *kind.
 * Level 0, a chunk the probe predicts will not shrink by SP_CODEC_MIN_SAVING,
 * or one whose compressed form is no smaller than its stored form, is written
 * with stored deflate blocks (SP_CODEC_STORED): still a valid gzip member, at
 * memcpy+CRC speed, and never larger than sp_codec_bound. Level 1 uses the
 * fast codec; levels 2-9 choose per chunk (codec.c says how); levels 10-12
 * always use libdeflate. The choice depends only on the bytes and the level:
 * the same input gives the same members. */
sp_status sp_codec_compress(sp_codec *c, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                            sp_codec_kind *kind, sp_error *err) SP_MUST_USE;

/* Inflates exactly one gzip member that must fill in[0..len) and yield at
 * most cap bytes. SP_ERR_FORMAT on anything else. */
sp_status sp_codec_decompress(sp_codec *c, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                              sp_error *err) SP_MUST_USE;

/* "libdeflate 1.14 ..." */
const char *sp_codec_version(void);
/* One line: the codec(s) sp_codec_compress uses at level (0-12). */
void sp_codec_describe(int level, char *out, size_t cap);

#endif
