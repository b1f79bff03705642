/* fuzz_header.c: the pure container parsers (header, index plaintext, footer): no I/O, no crypto, so millions of runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/container.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Besides "no crash, no sanitizer report", every successful decode must
 * round-trip through its encoder byte for byte: a parser that accepts bytes
 * the writer would never produce is a format bug, and the strict reader
 * (docs/FORMAT.md) promises there is exactly one encoding of each value. */

static void check_header(const uint8_t *data, size_t size, size_t *hlen_out)
{
    sp_header h;
    size_t hlen = 0;
    sp_error err;
    *hlen_out = 0;
    if (sp_header_decode(data, size, &h, &hlen, &err) != SP_OK) return;
    if (hlen < SP_HEADER_FIXED || hlen > SP_HEADER_MAX || hlen > size) abort();
    sp_error inner;
    if (sp_validate_name("name", h.name, SP_NAME_MAX, &inner) != SP_OK) abort();
    if (sp_validate_name("stage", h.stage, SP_FIELD_MAX, &inner) != SP_OK) abort();
    if (sp_validate_name("architecture", h.arch, SP_FIELD_MAX, &inner) != SP_OK) abort();
    if (sp_validate_name("version", h.version_str, SP_FIELD_MAX, &inner) != SP_OK) abort();
    if (h.chunk_size < SP_CHUNK_MIN || h.chunk_size > SP_CHUNK_MAX) abort();
    uint8_t again[SP_HEADER_MAX];
    if (sp_header_encode(&h, again) != hlen || memcmp(again, data, hlen) != 0) abort();
    *hlen_out = hlen;
}

static void check_index(const uint8_t *p, size_t len)
{
    uint64_t total = 0, n = 0;
    sp_error err;
    if (sp_index_decode_fixed(p, len, &total, &n, &err) != SP_OK) return;
    if (n > (len - SP_INDEX_FIXED) / SP_INDEX_ENTRY || len != SP_INDEX_FIXED + n * SP_INDEX_ENTRY) abort();
    /* The decoder validated the length against n; walk every entry as the
     * reader does, then re-encode (entries with reserved bits set are
     * rejected by the reader, so they cannot round-trip and are skipped). */
    sp_index_entry *e = malloc((size_t)(n ? n : 1) * sizeof(*e));
    if (!e) abort();
    int reserved = 0;
    for (uint64_t i = 0; i < n; i++) {
        sp_index_entry_decode(p + SP_INDEX_FIXED + i * SP_INDEX_ENTRY, &e[i]);
        if (e[i].reserved) reserved = 1;
    }
    if (!reserved) {
        uint8_t *again = malloc(len);
        if (!again) abort();
        sp_index_encode(total, e, n, again);
        if (memcmp(again, p, len) != 0) abort();
        free(again);
    }
    free(e);
}

static void check_footer(const uint8_t *p)
{
    uint64_t final_offset = 0, n = 0;
    sp_error err;
    if (sp_footer_decode(p, &final_offset, &n, &err) != SP_OK) return;
    uint8_t again[SP_FOOTER_LEN];
    sp_footer_encode(final_offset, n, again);
    if (memcmp(again, p, SP_FOOTER_LEN) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t hlen;
    /* The header from the start; the index plaintext over what follows a
     * valid header (else over the whole input); the footer from the last
     * SP_FOOTER_LEN bytes, as the reader seeks to it. */
    check_header(data, size, &hlen);
    check_index(data + hlen, size - hlen);
    if (size >= SP_FOOTER_LEN) check_footer(data + size - SP_FOOTER_LEN);
    return 0;
}
