/* test_codec.c: gzip members per chunk, the per-chunk codec choice, the stored fallback, and strict inflate. */
#include <criterion/criterion.h>

#include "compress/codec.h"
#include "helpers.h"

/* Content classes beyond helpers.h's: fp16-like weights (a random low byte,
 * a high byte from a few exponents: entropy coding saves ~20 %, matching
 * nothing) and a sparse chunk whose text lies only between the probe's
 * slices (codec.c probes 8 slices of 16 KiB, evenly spaced). */
enum { DATA_WEIGHTS = 100, DATA_HIDDEN_TEXT };

static void fill(uint8_t *buf, size_t len, int kind, uint64_t seed)
{
    if (kind == DATA_WEIGHTS) {
        uint64_t x = seed * 0x9E3779B97F4A7C15ull + 7;
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if (i % 2 == 0) {
                buf[i] = (uint8_t)(x >> 24);
            } else {
                unsigned r = (unsigned)(x >> 40) & 0xff, e = 0;
                while (r & 1 && e < 7) r >>= 1, e++; /* geometric: exponent 0x20-0x27 */
                buf[i] = (uint8_t)(0x20 + e + ((x >> 60) & 1 ? 0x80 : 0));
            }
        }
    } else if (kind == DATA_HIDDEN_TEXT) {
        memset(buf, 0, len);
        size_t stride = len / 8, from = stride / 8, to = stride - stride / 8;
        for (size_t s = 0; s < 8; s++) sp_test_fill(buf + s * stride + from, to - from, SP_DATA_TEXT, seed + s);
    } else {
        sp_test_fill(buf, len, kind, seed);
    }
}

/* Compresses one chunk, checks it inflates back, returns the codec used and
 * (optionally) the member in *member (caller frees). */
static sp_codec_kind round_trip_member(int level, int kind, size_t len, uint8_t **member, size_t *member_len)
{
    uint8_t *in = malloc(len + 1), *out = malloc(sp_codec_bound(len)), *back = malloc(len + 1);
    cr_assert(in && out && back);
    fill(in, len, kind, len);
    sp_codec *c;
    sp_error err;
    size_t n = 0, m = 0;
    sp_codec_kind k = (sp_codec_kind)-1;
    cr_assert_eq(sp_codec_new(level, &c, &err), SP_OK);
    cr_assert_eq(sp_codec_compress(c, in, len, out, sp_codec_bound(len), &n, &k, &err), SP_OK, "%s", err.msg);
    cr_assert(k == SP_CODEC_DEFLATE || k == SP_CODEC_STORED || k == SP_CODEC_FAST);
    cr_assert_leq(n, sp_codec_bound(len));
    /* The store guarantee: a compressed member is always smaller than the input. */
    if (k != SP_CODEC_STORED) cr_assert_lt(n, len, "level %d kind %d len %zu: compressed member not smaller", level, kind, len);
    cr_assert_eq(out[0], 0x1f);
    cr_assert_eq(out[1], 0x8b);
    cr_assert_eq(sp_codec_decompress(c, out, n, back, len + 1, &m, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(m, len);
    cr_assert_eq(memcmp(in, back, len), 0);
    sp_codec_free(c);
    free(in);
    free(back);
    if (member) {
        *member = out;
        *member_len = n;
    } else {
        free(out);
    }
    return k;
}

static void round_trip(int level, int kind, size_t len, int want_stored)
{
    sp_codec_kind k = round_trip_member(level, kind, len, NULL, NULL);
    if (want_stored >= 0)
        cr_assert_eq(k == SP_CODEC_STORED, want_stored, "level %d kind %d len %zu: codec %d", level, kind, len, k);
}

static void expect_kind(int level, int kind, size_t len, sp_codec_kind want)
{
    sp_codec_kind k = round_trip_member(level, kind, len, NULL, NULL);
    cr_assert_eq(k, want, "level %d kind %d len %zu: codec %d, expected %d", level, kind, len, k, want);
}

Test(codec, text_compresses)
{
    for (int level = 1; level <= 12; level += 5) round_trip(level, SP_DATA_TEXT, 1 << 20, 0);
}

Test(codec, random_is_stored_without_deflate)
{
    round_trip(6, SP_DATA_RANDOM, 1 << 20, 1);
    round_trip(1, SP_DATA_RANDOM, 4 << 20, 1);
    round_trip(5, SP_DATA_RANDOM, 4 << 20, 1);
}

Test(codec, level0_stores_everything)
{
    round_trip(0, SP_DATA_TEXT, 1 << 20, 1);
    round_trip(0, SP_DATA_ZERO, 1, 1);
}

Test(codec, small_and_empty_inputs)
{
    round_trip(6, SP_DATA_TEXT, 0, -1);
    round_trip(6, SP_DATA_RANDOM, 1, -1);
    round_trip(6, SP_DATA_ZERO, 65536, 0);
}

/* The adaptive levels (2-9): each content class gets its codec. */
Test(codec, adaptive_choice_per_content_class)
{
    for (int level = 2; level <= 9; level += 3) {
        expect_kind(level, SP_DATA_TEXT, 4 << 20, SP_CODEC_DEFLATE);  /* matching pays: libdeflate */
        expect_kind(level, DATA_WEIGHTS, 4 << 20, SP_CODEC_FAST);     /* entropy coding only: fast */
        expect_kind(level, SP_DATA_ZERO, 4 << 20, SP_CODEC_FAST);     /* runs: fast */
        expect_kind(level, SP_DATA_RANDOM, 4 << 20, SP_CODEC_STORED); /* incompressible: stored */
    }
}

/* Chunk sizes around the probe's minimum (512 KiB), publish's smallest and
 * default chunks, and odd lengths: every class round-trips at each. */
Test(codec, adaptive_chunk_size_edges)
{
    static const size_t lens[] = {(512u << 10) - 1, 512u << 10, (512u << 10) + 1, 1u << 20, (1u << 20) + 4097,
                                  (4u << 20) - 1, 4u << 20};
    static const int kinds[] = {SP_DATA_TEXT, DATA_WEIGHTS, SP_DATA_ZERO, SP_DATA_RANDOM, DATA_HIDDEN_TEXT};
    for (size_t i = 0; i < SP_ARRAY_LEN(lens); i++)
        for (size_t k = 0; k < SP_ARRAY_LEN(kinds); k++) round_trip(6, kinds[k], lens[i], -1);
    /* Below the probe's minimum nothing is probed: libdeflate at the level, as before. */
    expect_kind(6, DATA_WEIGHTS, (512u << 10) - 1, SP_CODEC_DEFLATE);
    expect_kind(6, DATA_WEIGHTS, 512u << 10, SP_CODEC_FAST);
}

/* The probe sees zeros only; the full fast pass compresses worse than the
 * probe predicted, so the chunk is compressed again with libdeflate. */
Test(codec, fast_pass_redone_when_probe_missed_content)
{
    expect_kind(6, DATA_HIDDEN_TEXT, 4 << 20, SP_CODEC_DEFLATE);
    uint8_t *deflated, *fast_member;
    size_t nd, nf;
    round_trip_member(6, DATA_HIDDEN_TEXT, 4 << 20, &deflated, &nd);
    /* Level 1 always keeps the fast codec: the re-check is what made level 6 smaller. */
    cr_assert_eq(round_trip_member(1, DATA_HIDDEN_TEXT, 4 << 20, &fast_member, &nf), SP_CODEC_FAST);
    cr_assert_lt(nd, nf, "libdeflate 6 (%zu) should beat the fast codec (%zu) on text", nd, nf);
    free(deflated);
    free(fast_member);
}

/* Level 1 is the fast codec for everything compressible; 10-12 ask for the
 * smallest output and always get libdeflate. */
Test(codec, fixed_levels_do_not_adapt)
{
    expect_kind(1, SP_DATA_TEXT, 4 << 20, SP_CODEC_FAST);
    expect_kind(1, DATA_WEIGHTS, 4 << 20, SP_CODEC_FAST);
    expect_kind(10, DATA_WEIGHTS, 4 << 20, SP_CODEC_DEFLATE);
    expect_kind(10, SP_DATA_RANDOM, 4 << 20, SP_CODEC_STORED);
}

/* Same bytes and level, same member and codec, from separate codec
 * contexts: the choice depends on nothing else. */
Test(codec, choice_is_deterministic)
{
    static const int kinds[] = {SP_DATA_TEXT, DATA_WEIGHTS, SP_DATA_ZERO, SP_DATA_RANDOM, DATA_HIDDEN_TEXT};
    for (size_t k = 0; k < SP_ARRAY_LEN(kinds); k++) {
        uint8_t *a, *b;
        size_t na, nb;
        sp_codec_kind ka = round_trip_member(6, kinds[k], 4 << 20, &a, &na);
        sp_codec_kind kb = round_trip_member(6, kinds[k], 4 << 20, &b, &nb);
        cr_assert_eq(ka, kb);
        cr_assert_eq(na, nb);
        cr_assert_eq(memcmp(a, b, na), 0, "kind %d: members differ", kinds[k]);
        free(a);
        free(b);
    }
}

Test(codec, inflate_is_strict)
{
    uint8_t in[4096], out[8192], back[4096];
    size_t n = 0, m = 0;
    sp_codec_kind kind;
    sp_codec *c;
    sp_error err;
    sp_test_fill(in, sizeof(in), SP_DATA_TEXT, 1);
    cr_assert_eq(sp_codec_new(6, &c, &err), SP_OK);
    cr_assert_eq(sp_codec_compress(c, in, sizeof(in), out, sizeof(out), &n, &kind, &err), SP_OK);
    /* More output than allowed: a deflate bomb is refused, not buffered. */
    cr_assert_eq(sp_codec_decompress(c, out, n, back, sizeof(in) - 1, &m, &err), SP_ERR_FORMAT);
    /* Trailing bytes after the member. */
    out[n] = 0;
    cr_assert_eq(sp_codec_decompress(c, out, n + 1, back, sizeof(back), &m, &err), SP_ERR_FORMAT);
    /* A corrupted CRC. */
    out[n - 8] ^= 1;
    cr_assert_eq(sp_codec_decompress(c, out, n, back, sizeof(back), &m, &err), SP_ERR_FORMAT);
    /* Not gzip at all. */
    cr_assert_eq(sp_codec_decompress(c, in, 100, back, sizeof(back), &m, &err), SP_ERR_FORMAT);
    sp_codec_free(c);
}

Test(codec, rejects_bad_level)
{
    sp_codec *c;
    sp_error err;
    cr_assert_eq(sp_codec_new(13, &c, &err), SP_ERR_USAGE);
    cr_assert_eq(sp_codec_new(-1, &c, &err), SP_ERR_USAGE);
}
