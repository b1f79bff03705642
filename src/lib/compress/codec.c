/* codec.c: libdeflate gzip members per chunk, with a cheap probe that skips deflate on incompressible data. */
#include <libdeflate.h>
#include <stdlib.h>

#include "compress/codec.h"

/* The probe deflates a few small slices at level 1 and stores the chunk when
 * they save less than this fraction. fp16 weights save ~5-10% at level 1:
 * storing them costs at most that much size and saves all of the deflate time
 * (bench/ measures both). Text and tar data save > 50%, far from the line. */
#define SP_CODEC_MIN_SAVING 0.10
#define PROBE_SLICES 4
#define PROBE_SLICE (16u * 1024u)

struct sp_codec {
    int level;
    struct libdeflate_compressor *main, *probe, *store;
    struct libdeflate_decompressor *dec;
    uint8_t probe_out[PROBE_SLICE + 1024];
};

sp_status sp_codec_new(int level, sp_codec **out, sp_error *err)
{
    if (level < 0 || level > SP_LEVEL_MAX) return sp_fail(err, SP_ERR_USAGE, "level %d out of range 0-12", level);
    sp_codec *c = calloc(1, sizeof(*c));
    if (!c) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    c->level = level;
    c->store = libdeflate_alloc_compressor(0);
    c->dec = libdeflate_alloc_decompressor();
    if (level > 0) {
        c->main = libdeflate_alloc_compressor(level);
        c->probe = libdeflate_alloc_compressor(1);
    }
    if (!c->store || !c->dec || (level > 0 && (!c->main || !c->probe))) {
        sp_codec_free(c);
        return sp_fail(err, SP_ERR_NOMEM, "cannot allocate the compressor");
    }
    *out = c;
    return SP_OK;
}

void sp_codec_free(sp_codec *c)
{
    if (!c) return;
    libdeflate_free_compressor(c->main);
    libdeflate_free_compressor(c->probe);
    libdeflate_free_compressor(c->store);
    libdeflate_free_decompressor(c->dec);
    free(c);
}

size_t sp_codec_bound(size_t len)
{
    /* gzip header+trailer (18) and 5 bytes per stored block of <= 65535,
     * plus slack for an empty input's one block. */
    return len + 18 + 5 * (len / 65535 + 1) + 64;
}

static int probe_says_store(sp_codec *c, const uint8_t *in, size_t len)
{
    if (len < PROBE_SLICES * PROBE_SLICE * 4) return 0; /* small: just compress */
    size_t in_total = 0, out_total = 0, stride = len / PROBE_SLICES;
    for (unsigned i = 0; i < PROBE_SLICES; i++) {
        size_t n = libdeflate_deflate_compress(c->probe, in + i * stride, PROBE_SLICE, c->probe_out,
                                               sizeof(c->probe_out));
        in_total += PROBE_SLICE;
        out_total += n ? n : PROBE_SLICE;
    }
    return (double)out_total > (double)in_total * (1.0 - SP_CODEC_MIN_SAVING);
}

sp_status sp_codec_compress(sp_codec *c, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                            int *stored, sp_error *err)
{
    size_t n = 0;
    *stored = 0;
    if (c->level > 0 && !probe_says_store(c, in, len)) {
        n = libdeflate_gzip_compress(c->main, in, len, out, cap);
        /* libdeflate falls back to stored blocks itself when deflate
         * expands; treat "no smaller than stored" as stored either way. */
        if (n && n < len) {
            *out_len = n;
            return SP_OK;
        }
    }
    n = libdeflate_gzip_compress(c->store, in, len, out, cap);
    if (!n) return sp_fail(err, SP_ERR_INTERNAL, "gzip output buffer too small (%zu for %zu bytes)", cap, len);
    *stored = 1;
    *out_len = n;
    return SP_OK;
}

sp_status sp_codec_decompress(sp_codec *c, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                              sp_error *err)
{
    size_t in_used = 0, out_used = 0;
    enum libdeflate_result r = libdeflate_gzip_decompress_ex(c->dec, in, len, out, cap, &in_used, &out_used);
    if (r == LIBDEFLATE_INSUFFICIENT_SPACE)
        return sp_fail(err, SP_ERR_FORMAT, "chunk inflates to more bytes than its gzip trailer (ISIZE) says");
    if (r != LIBDEFLATE_SUCCESS) return sp_fail(err, SP_ERR_FORMAT, "chunk payload is not a valid gzip member");
    if (in_used != len) return sp_fail(err, SP_ERR_FORMAT, "chunk payload has bytes after its gzip member");
    *out_len = out_used;
    return SP_OK;
}

const char *sp_codec_version(void) { return "libdeflate " LIBDEFLATE_VERSION_STRING; }
