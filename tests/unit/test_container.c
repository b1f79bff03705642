/* test_container.c: header, nonce, index and footer encoding, and the strict header checks. */
#include <criterion/criterion.h>

#include "format/container.h"

static sp_header sample(void)
{
    sp_header h = {.version = 1, .suite = 1, .chunk_size = 4u << 20};
    memset(h.artifact_id, 0xab, sizeof(h.artifact_id));
    strcpy(h.name, "api");
    strcpy(h.stage, "dev");
    strcpy(h.arch, "arm64");
    strcpy(h.version_str, "1.4.2");
    return h;
}

Test(container, header_round_trip)
{
    sp_header h = sample(), back;
    uint8_t buf[SP_HEADER_MAX];
    size_t n = sp_header_encode(&h, buf), len = 0;
    cr_assert_eq(n, SP_HEADER_FIXED + 4 + 3 + 3 + 5 + 5);
    cr_assert_eq(memcmp(buf, sp_magic, 8), 0);
    sp_error err;
    cr_assert_eq(sp_header_decode(buf, n, &back, &len, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(len, n);
    cr_assert_str_eq(back.name, "api");
    cr_assert_str_eq(back.stage, "dev");
    cr_assert_str_eq(back.arch, "arm64");
    cr_assert_str_eq(back.version_str, "1.4.2");
    cr_assert_eq(back.chunk_size, 4u << 20);
    cr_assert_eq(memcmp(back.artifact_id, h.artifact_id, 16), 0);
}

Test(container, header_rejects_every_bad_field)
{
    sp_header h = sample(), back;
    uint8_t good[SP_HEADER_MAX], buf[SP_HEADER_MAX];
    size_t n = sp_header_encode(&h, good), len;
    sp_error err;
    struct {
        size_t off;
        uint8_t val;
        sp_status want;
    } cases[] = {
        {0, 0x00, SP_ERR_FORMAT},  /* magic */
        {7, 0x00, SP_ERR_FORMAT},  /* magic */
        {8, 2, SP_ERR_FORMAT},     /* version */
        {9, 7, SP_ERR_FORMAT},     /* suite */
        {10, 1, SP_ERR_FORMAT},    /* flags */
        {14, 0x00, SP_ERR_FORMAT}, /* chunk size 0 */
        {15, 0x04, SP_ERR_FORMAT}, /* chunk size 68 MiB */
        {33, 0xff, SP_ERR_FORMAT}, /* meta length */
        {32, 0x01, SP_ERR_FORMAT}, /* meta length shorter than its fields */
        {34, 0, SP_ERR_FORMAT},    /* empty name */
        {35, '/', SP_ERR_FORMAT},  /* bad character */
        {35, '.', SP_ERR_FORMAT},  /* leading dot */
        {36, 0, SP_ERR_FORMAT},    /* NUL inside a field */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(buf, good, n);
        buf[cases[i].off] = cases[i].val;
        cr_expect_eq(sp_header_decode(buf, n, &back, &len, &err), cases[i].want, "case %zu (offset %zu)", i,
                     cases[i].off);
    }
    /* Chunk size below 1 MiB. */
    memcpy(buf, good, n);
    sp_put_le32(buf + 12, (1u << 20) - 1);
    cr_expect_eq(sp_header_decode(buf, n, &back, &len, &err), SP_ERR_FORMAT);
    /* Too short to tell is "truncated", at every length. */
    for (size_t cut = 1; cut < n; cut++)
        cr_expect_eq(sp_header_decode(good, cut, &back, &len, &err), SP_ERR_TRUNCATED, "cut at %zu", cut);
}

Test(container, nonce_layout)
{
    uint8_t n[12];
    sp_record_nonce(0, 0, n);
    for (int i = 0; i < 12; i++) cr_assert_eq(n[i], 0);
    sp_record_nonce(0x0102030405060708ull, 1, n);
    uint8_t want[12] = {0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 1};
    cr_assert_eq(memcmp(n, want, 12), 0);
}

Test(container, index_and_footer_round_trip)
{
    sp_index_entry e[3] = {{52, 100, 4u << 20, 0}, {156, 200, 4u << 20, 1}, {360, 50, 17, 0}};
    uint8_t buf[SP_INDEX_FIXED + 3 * SP_INDEX_ENTRY];
    sp_index_encode(8388625, e, 3, buf);
    uint64_t total, n;
    sp_error err;
    cr_assert_eq(sp_index_decode_fixed(buf, sizeof(buf), &total, &n, &err), SP_OK);
    cr_assert_eq(total, 8388625);
    cr_assert_eq(n, 3);
    for (int i = 0; i < 3; i++) {
        sp_index_entry d;
        sp_index_entry_decode(buf + SP_INDEX_FIXED + i * SP_INDEX_ENTRY, &d);
        cr_assert_eq(d.offset, e[i].offset);
        cr_assert_eq(d.body_len, e[i].body_len);
        cr_assert_eq(d.plain_len, e[i].plain_len);
        cr_assert_eq(d.flags, e[i].flags);
    }
    cr_assert_eq(sp_index_decode_fixed(buf, sizeof(buf) - 1, &total, &n, &err), SP_ERR_FORMAT);
    uint8_t f[SP_FOOTER_LEN];
    uint64_t off;
    sp_footer_encode(12345, 3, f);
    cr_assert_eq(sp_footer_decode(f, &off, &n, &err), SP_OK);
    cr_assert_eq(off, 12345);
    cr_assert_eq(n, 3);
    f[20] ^= 1;
    cr_assert_eq(sp_footer_decode(f, &off, &n, &err), SP_ERR_TRUNCATED);
}

Test(container, max_body_covers_the_stored_form)
{
    cr_assert_geq(sp_record_max_body(1u << 20), (1u << 20) + 18 + 5 * 17 + 16);
    cr_assert_eq(sp_index_body_len(0), SP_INDEX_FIXED + SP_TAG_LEN);
}
