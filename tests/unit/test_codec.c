/* test_codec.c: gzip members per chunk, the stored fallback, and strict inflate. */
#include <criterion/criterion.h>

#include "compress/codec.h"
#include "helpers.h"

static void round_trip(int level, int kind, size_t len, int want_stored)
{
    uint8_t *in = malloc(len + 1), *out = malloc(sp_codec_bound(len)), *back = malloc(len + 1);
    sp_test_fill(in, len, kind, len);
    sp_codec *c;
    sp_error err;
    size_t n = 0, m = 0;
    int stored = -1;
    cr_assert_eq(sp_codec_new(level, &c, &err), SP_OK);
    cr_assert_eq(sp_codec_compress(c, in, len, out, sp_codec_bound(len), &n, &stored, &err), SP_OK, "%s", err.msg);
    if (want_stored >= 0) cr_assert_eq(stored, want_stored, "level %d kind %d len %zu", level, kind, len);
    cr_assert_leq(n, sp_codec_bound(len));
    cr_assert_eq(out[0], 0x1f);
    cr_assert_eq(out[1], 0x8b);
    cr_assert_eq(sp_codec_decompress(c, out, n, back, len + 1, &m, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(m, len);
    cr_assert_eq(memcmp(in, back, len), 0);
    sp_codec_free(c);
    free(in);
    free(out);
    free(back);
}

Test(codec, text_compresses)
{
    for (int level = 1; level <= 12; level += 5) round_trip(level, SP_DATA_TEXT, 1 << 20, 0);
}

Test(codec, random_is_stored_without_deflate)
{
    round_trip(6, SP_DATA_RANDOM, 1 << 20, 1);
    round_trip(1, SP_DATA_RANDOM, 4 << 20, 1);
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

Test(codec, inflate_is_strict)
{
    uint8_t in[4096], out[8192], back[4096];
    size_t n = 0, m = 0;
    int stored;
    sp_codec *c;
    sp_error err;
    sp_test_fill(in, sizeof(in), SP_DATA_TEXT, 1);
    cr_assert_eq(sp_codec_new(6, &c, &err), SP_OK);
    cr_assert_eq(sp_codec_compress(c, in, sizeof(in), out, sizeof(out), &n, &stored, &err), SP_OK);
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
