/* codec.c: one gzip member per chunk, its codec (libdeflate, ISA-L, stored) chosen from a cheap probe of the chunk. */
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef SP_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

#include "compress/codec.h"

/*
 * The choice. Before a chunk is compressed, a probe runs the fast codec over
 * PROBE_SLICES evenly spaced slices (2-3 % of a 4 MiB chunk) and counts their
 * byte histogram. Two numbers come out of it:
 *
 *   fast  = the fast codec's output / input on the slices;
 *   h0    = the order-0 entropy of the slices' bytes / 8: what Huffman coding
 *           of single bytes alone would give, with no matches at all.
 *
 * - fast > 1 - SP_CODEC_MIN_SAVING: the chunk is (nearly) incompressible and is
 *   stored: the store probe's guarantee, kept from the first version.
 * - h0 - fast < LZ_GAIN_MIN: string matching buys (almost) nothing over byte
 *   entropy coding, so a stronger matcher has nothing to find: fp16/bf16
 *   weights (h0 0.92, fast 0.92) and runs of zeros are such chunks. They get
 *   the fast codec, ISA-L igzip level 2, ~10x libdeflate 5 per core, and its
 *   members were no larger than libdeflate 5's on the fp16 and zero chunks of
 *   the corpus (docs/BENCHMARKS.md, "Per-chunk codec choice").
 * - otherwise matching pays (tar of /usr: h0 0.65, fast 0.26 to 0.53), and
 *   libdeflate at the level is 10-25 % smaller than ISA-L: libdeflate.
 *
 * A probe of slices can miss what lies between them (a text island in a
 * sparse file). So a chunk given the fast codec is checked after the full
 * pass: if it compressed worse than the probe predicted by more than
 * FAST_SLACK, the probe did not see the chunk's real content and the chunk is
 * compressed again with libdeflate; the fast pass wasted is a tenth of that.
 *
 * Every input of the decision is a byte of the chunk and the level: the same
 * chunk always gets the same codec and the same member.
 */
#define SP_CODEC_MIN_SAVING 0.03
#define LZ_GAIN_MIN 0.02
#define FAST_SLACK 0.005
#define PROBE_SLICES 8
#define PROBE_SLICE (16u * 1024u)
#define PROBE_MIN_LEN (PROBE_SLICES * PROBE_SLICE * 4) /* smaller chunks skip the probe: just compress */
#define ADAPTIVE_MAX_LEVEL 9 /* 10-12 ask for the smallest output: always libdeflate */

/* ISA-L level 2: docs/SCALING.md measured it at 2.6x libdeflate 1 per core on
 * container images (4.4 % more output) and 5.4x on fp16 weights (same size).
 * Its members are standard gzip, so readers do not change. */
#define ISAL_LEVEL 2

struct sp_codec {
    int level;
#ifdef SP_HAVE_ISAL
    uint8_t *isal_buf; /* ISA-L's level-2 working memory: the fast codec and the probe */
#else
    struct libdeflate_compressor *fast; /* level 1: the fast codec and the probe without ISA-L */
#endif
    struct libdeflate_compressor *main, *store;
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
    int ok = c->store && c->dec;
    if (level > 1 && ok) ok = (c->main = libdeflate_alloc_compressor(level)) != NULL;
#ifdef SP_HAVE_ISAL
    if (level > 0 && ok) ok = (c->isal_buf = malloc(ISAL_DEF_LVL2_DEFAULT)) != NULL;
#else
    if (level > 0 && ok) ok = (c->fast = libdeflate_alloc_compressor(1)) != NULL;
#endif
    if (!ok) {
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
    libdeflate_free_compressor(c->store);
    libdeflate_free_decompressor(c->dec);
#ifdef SP_HAVE_ISAL
    free(c->isal_buf);
#else
    libdeflate_free_compressor(c->fast);
#endif
    free(c);
}

size_t sp_codec_bound(size_t len)
{
    /* gzip header+trailer (18) and 5 bytes per stored block of <= 65535,
     * plus slack for an empty input's one block. */
    return len + 18 + 5 * (len / 65535 + 1) + 64;
}

#ifdef SP_HAVE_ISAL
/* One deflate stream (gzip member when gzip is set) with ISA-L; 0 if it did not fit in cap. */
static size_t isal_member(sp_codec *c, const uint8_t *in, size_t len, uint8_t *out, size_t cap, int gzip)
{
    struct isal_zstream z;
    isal_deflate_stateless_init(&z);
    z.level = ISAL_LEVEL;
    z.level_buf = c->isal_buf;
    z.level_buf_size = ISAL_DEF_LVL2_DEFAULT;
    z.gzip_flag = gzip ? IGZIP_GZIP : 0;
    z.end_of_stream = 1;
    z.flush = NO_FLUSH;
    z.next_in = (uint8_t *)(uintptr_t)in; /* not const-correct; ISA-L only reads it */
    z.avail_in = (uint32_t)len;
    z.next_out = out;
    z.avail_out = (uint32_t)cap;
    return isal_deflate_stateless(&z) == COMP_OK ? z.total_out : 0;
}
#endif

/* The fast codec: a gzip member, or (probe) a raw deflate stream; 0 if it did not fit. */
static size_t fast_compress(sp_codec *c, const uint8_t *in, size_t len, uint8_t *out, size_t cap, int gzip)
{
#ifdef SP_HAVE_ISAL
    return isal_member(c, in, len, out, cap, gzip);
#else
    return gzip ? libdeflate_gzip_compress(c->fast, in, len, out, cap)
                : libdeflate_deflate_compress(c->fast, in, len, out, cap);
#endif
}

/* The same member libdeflate's level 0 writes (header XFL 4, OS 255; stored
 * blocks of at most 65535 bytes; CRC-32 and size), written here when
 * libdeflate returns 0: before 1.9 (Debian 11 has 1.7) it wants about 20
 * bytes of slack past the exact output size, and callers may size the buffer
 * exactly. 0 if it does not fit in cap. */
static size_t stored_member(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    size_t blocks = len ? (len + 65534) / 65535 : 1;
    if (len > UINT32_MAX || cap < 18 + len + 5 * blocks) return 0;
    static const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff};
    memcpy(out, header, sizeof header);
    size_t o = sizeof header, i = 0;
    do {
        size_t n = len - i > 65535 ? 65535 : len - i;
        out[o++] = i + n == len; /* BFINAL on the last block, BTYPE 00: stored */
        sp_put_le16(out + o, (uint16_t)n);
        sp_put_le16(out + o + 2, (uint16_t)~n);
        memcpy(out + o + 4, in + i, n);
        o += 4 + n;
        i += n;
    } while (i < len);
    sp_put_le32(out + o, libdeflate_crc32(0, in, len));
    sp_put_le32(out + o + 4, (uint32_t)len);
    return o + 8;
}

/* log2 of a positive integer without libm: exponent from the bit length, the
 * mantissa m in [1,2) by the atanh series of ln m (error < 2e-5 bits). */
static double log2_u64(uint64_t v)
{
    int e = 63 - __builtin_clzll(v);
    double m = (double)v / (double)(1ull << e);
    double y = (m - 1.0) / (m + 1.0), y2 = y * y;
    double ln = 2.0 * y * (1.0 + y2 * (1.0 / 3 + y2 * (1.0 / 5 + y2 * (1.0 / 7 + y2 / 9))));
    return (double)e + ln * 1.4426950408889634;
}

typedef struct probe {
    double fast; /* fast codec output / input over the slices */
    double h0;   /* order-0 entropy of the slices, in bytes per byte */
} probe;

static probe run_probe(sp_codec *c, const uint8_t *in, size_t len)
{
    /* Four interleaved tables: a run of equal bytes (zeros) does not stall
     * on one counter's store-to-load dependency. */
    uint32_t hist[4][256] = {{0}};
    uint64_t total = 0, out_total = 0;
    size_t stride = len / PROBE_SLICES;
    for (unsigned i = 0; i < PROBE_SLICES; i++) {
        const uint8_t *s = in + i * stride;
        size_t n = fast_compress(c, s, PROBE_SLICE, c->probe_out, sizeof(c->probe_out), 0);
        out_total += n ? n : PROBE_SLICE;
        for (size_t k = 0; k < PROBE_SLICE; k += 4) {
            hist[0][s[k]]++;
            hist[1][s[k + 1]]++;
            hist[2][s[k + 2]]++;
            hist[3][s[k + 3]]++;
        }
        total += PROBE_SLICE;
    }
    /* H = log2(N) - sum(c log2 c) / N bits per byte. */
    double sum = 0;
    for (int b = 0; b < 256; b++) {
        uint64_t n = (uint64_t)hist[0][b] + hist[1][b] + hist[2][b] + hist[3][b];
        if (n) sum += (double)n * log2_u64(n);
    }
    probe p = {.fast = (double)out_total / (double)total, .h0 = (log2_u64(total) - sum / (double)total) / 8.0};
    return p;
}

sp_status sp_codec_compress(sp_codec *c, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                            sp_codec_kind *kind, sp_error *err)
{
    size_t n = 0;
    sp_codec_kind k = SP_CODEC_STORED;
    if (c->level > 0) {
        k = c->level == 1 ? SP_CODEC_FAST : SP_CODEC_DEFLATE;
        probe p = {0};
        if (len >= PROBE_MIN_LEN) {
            p = run_probe(c, in, len);
            if (p.fast > 1.0 - SP_CODEC_MIN_SAVING) k = SP_CODEC_STORED;
            else if (c->level <= ADAPTIVE_MAX_LEVEL && p.h0 - p.fast < LZ_GAIN_MIN) k = SP_CODEC_FAST;
        }
        if (k == SP_CODEC_FAST) {
            n = fast_compress(c, in, len, out, cap, 1);
            /* Worse than the probe said: it missed part of the chunk (see top). */
            if (c->level > 1 && (!n || (double)n > ((p.fast + FAST_SLACK) * (double)len))) k = SP_CODEC_DEFLATE;
        }
        if (k == SP_CODEC_DEFLATE) n = libdeflate_gzip_compress(c->main, in, len, out, cap);
        /* libdeflate falls back to stored blocks itself when deflate
         * expands; treat "no smaller than stored" as stored either way. */
        if (k != SP_CODEC_STORED && n && n < len) {
            *out_len = n;
            *kind = k;
            return SP_OK;
        }
    }
    n = libdeflate_gzip_compress(c->store, in, len, out, cap);
    if (!n) n = stored_member(in, len, out, cap);
    if (!n) return sp_fail(err, SP_ERR_INTERNAL, "gzip output buffer too small (%zu for %zu bytes)", cap, len);
    *kind = SP_CODEC_STORED;
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

/* What sp_codec_compress does at a level, for "sealpub version --verbose
 * --json": kept here, beside the choice it describes. */
void sp_codec_describe(int level, char *out, size_t cap)
{
#ifdef SP_HAVE_ISAL
    const char *fast = "ISA-L igzip level 2";
#else
    const char *fast = "libdeflate level 1";
#endif
    if (level <= 0)
        snprintf(out, cap, "stored (gzip stored blocks)");
    else if (level == 1)
        snprintf(out, cap, "%s; stored when incompressible", fast);
    else if (level <= ADAPTIVE_MAX_LEVEL)
        snprintf(out, cap, "libdeflate level %d; %s for chunks where matching gains nothing; stored when incompressible",
                 level, fast);
    else
        snprintf(out, cap, "libdeflate level %d; stored when incompressible", level);
}

#ifdef SP_HAVE_ISAL
const char *sp_codec_version(void)
{
    return "libdeflate " LIBDEFLATE_VERSION_STRING " (ISA-L igzip for level 1 and for chunks chosen per content)";
}
#else
const char *sp_codec_version(void) { return "libdeflate " LIBDEFLATE_VERSION_STRING; }
#endif
