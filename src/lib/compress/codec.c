/* codec.c: libdeflate gzip members per chunk, with a cheap probe that skips deflate on incompressible data. */
#include <libdeflate.h>
#include <stdlib.h>
#ifdef SP_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

#include "compress/codec.h"

/* The probe deflates a few small slices at level 1 and stores the chunk when
 * they save less than this fraction. fp16 weights save ~5-10% at level 1:
 * storing them costs at most that much size and saves all of the deflate time
 * (bench/ measures both). Text and tar data save > 50%, far from the line. */
#define SP_CODEC_MIN_SAVING 0.10
#define PROBE_SLICES 4
#define PROBE_SLICE (16u * 1024u)

/* Level 1 is ISA-L's level 2 when built with ISA-L: docs/SCALING.md
 * measured it at 2.6x libdeflate 1 per core on container images (4.4% more
 * output) and 5.4x on fp16 weights (same size). Its members are standard
 * gzip, so readers do not change; every other level stays on libdeflate. */
#define ISAL_LEVEL 2

struct sp_codec {
    int level;
#ifdef SP_HAVE_ISAL
    uint8_t *isal_buf; /* ISA-L's per-level working memory, level 1 only */
#endif
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
#ifdef SP_HAVE_ISAL
    if (level == 1 && !(c->isal_buf = malloc(ISAL_DEF_LVL2_DEFAULT))) {
        sp_codec_free(c);
        return sp_fail(err, SP_ERR_NOMEM, "cannot allocate the compressor");
    }
#endif
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
#ifdef SP_HAVE_ISAL
    free(c->isal_buf);
#endif
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

#ifdef SP_HAVE_ISAL
/* One gzip member with ISA-L; 0 if it did not fit in cap. */
static size_t isal_gzip(sp_codec *c, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    struct isal_zstream z;
    isal_deflate_stateless_init(&z);
    z.level = ISAL_LEVEL;
    z.level_buf = c->isal_buf;
    z.level_buf_size = ISAL_DEF_LVL2_DEFAULT;
    z.gzip_flag = IGZIP_GZIP;
    z.end_of_stream = 1;
    z.flush = NO_FLUSH;
    z.next_in = (uint8_t *)(uintptr_t)in; /* not const-correct; ISA-L only reads it */
    z.avail_in = (uint32_t)len;
    z.next_out = out;
    z.avail_out = (uint32_t)cap;
    return isal_deflate_stateless(&z) == COMP_OK ? z.total_out : 0;
}
#endif

sp_status sp_codec_compress(sp_codec *c, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                            int *stored, sp_error *err)
{
    size_t n = 0;
    *stored = 0;
    if (c->level > 0 && !probe_says_store(c, in, len)) {
#ifdef SP_HAVE_ISAL
        if (c->isal_buf)
            n = isal_gzip(c, in, len, out, cap);
        else
#endif
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

#ifdef SP_HAVE_ISAL
const char *sp_codec_version(void) { return "libdeflate " LIBDEFLATE_VERSION_STRING " (ISA-L igzip for level 1)"; }
#else
const char *sp_codec_version(void) { return "libdeflate " LIBDEFLATE_VERSION_STRING; }
#endif
