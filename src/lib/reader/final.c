/* final.c: the end of a container: the final record's tag, the index against the records read, the footer, end of input. */
#include <stdlib.h>

#include <openssl/crypto.h>

#include "reader/reader.h"

static sp_status check_index(const sp_byte_in *in, const uint8_t *index, size_t ilen, const sp_records_seen *seen,
                             sp_error *err)
{
    uint64_t ix_total = 0, ix_n = 0;
    SP_TRY(sp_index_decode_fixed(index, ilen, &ix_total, &ix_n, err));
    if (ix_n != seen->n || ix_total != seen->plain_total)
        return sp_fail(err, SP_ERR_FORMAT, "%s: index disagrees with the records read", in->name);
    for (uint64_t i = 0; i < seen->n; i++) {
        sp_index_entry e;
        const sp_index_entry *r = &seen->e[i];
        sp_index_entry_decode(index + SP_INDEX_FIXED + i * SP_INDEX_ENTRY, &e);
        if (e.offset != r->offset || e.body_len != r->body_len || e.plain_len != r->plain_len)
            return sp_fail(err, SP_ERR_FORMAT, "%s: index entry %llu disagrees with its record", in->name,
                           (unsigned long long)i);
        if ((e.flags & ~SP_ENTRY_STORED) || e.reserved)
            return sp_fail(err, SP_ERR_FORMAT, "%s: index entry %llu sets reserved bits (a newer format?)", in->name,
                           (unsigned long long)i);
        /* FORMAT.md 8.3: the flag is set if and only if the member is
         * stored blocks only; every reader checks it, so all agree. */
        if ((e.flags & SP_ENTRY_STORED) != r->flags)
            return sp_fail(err, SP_ERR_FORMAT, "%s: index entry %llu's stored flag disagrees with its gzip member",
                           in->name, (unsigned long long)i);
    }
    return SP_OK;
}

sp_status sp_final_check(sp_byte_in *in, const uint8_t payload_key[32], const uint8_t aad[32],
                         const sp_records_seen *seen, sp_error *err)
{
    uint32_t len = seen->final_word & ~SP_FINAL_FLAG;
    if ((uint64_t)len != sp_index_body_len(seen->n))
        return sp_fail(err, SP_ERR_FORMAT, "%s: final record length %u does not match %llu chunks", in->name, len,
                       (unsigned long long)seen->n);
    uint8_t *buf = malloc(32 + (size_t)len), nonce[12];
    if (!buf) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    size_t ilen = len - SP_TAG_LEN;
    sp_aead *aead = NULL;
    sp_status s = sp_in_read_exact(in, buf + 32, len, "the final record", err);
    if (s == SP_OK) s = sp_aead_new(payload_key, &aead, err);
    if (s == SP_OK) {
        /* The AAD is H || index: the index sits right after H in buf. */
        memcpy(buf, aad, 32);
        sp_record_nonce(seen->n, 1, nonce);
        s = sp_aead_open(aead, nonce, buf, 32 + ilen, buf + 32 + ilen, 0, buf + 32 + ilen, err);
        if (s == SP_ERR_AUTH)
            s = sp_fail(err, SP_ERR_AUTH, "%s: final record failed authentication: tampered, reordered or truncated",
                        in->name);
    }
    if (s == SP_OK) s = check_index(in, buf + 32, ilen, seen, err);
    sp_aead_free(aead);
    free(buf);
    SP_TRY(s);

    uint8_t footer[SP_FOOTER_LEN];
    uint64_t f_off = 0, f_n = 0;
    size_t got = 0;
    SP_TRY(sp_in_read_exact(in, footer, SP_FOOTER_LEN, "the footer", err));
    SP_TRY(sp_footer_decode(footer, &f_off, &f_n, err));
    if (f_off != seen->end_offset || f_n != seen->n)
        return sp_fail(err, SP_ERR_FORMAT, "%s: footer disagrees with the container", in->name);
    SP_TRY(sp_in_read(in, footer, 1, &got, err));
    if (got) return sp_fail(err, SP_ERR_FORMAT, "%s: unexpected bytes after the end of the container", in->name);
    return SP_OK;
}
