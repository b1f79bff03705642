/* rowcheck.c: every registry row field a reader can check, with the same messages in open and fetch. */
#include <stdio.h>

#include "crypto/kek.h"
#include "reader/reader.h"

const char *sp_printable(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++) out[i] = s[i] >= 0x20 && s[i] < 0x7F ? s[i] : '?';
    out[i] = '\0';
    return out;
}

sp_status sp_row_check_fields(const sp_row *row, sp_error *err)
{
    char id[4 * SP_FIELD_MAX + SP_NAME_MAX + 8], a[80], b[SP_OBJECT_KEY_MAX];
    snprintf(id, sizeof(id), "%s/%s/%s/%s", row->resource_name, row->dev_stage, row->architecture, row->version);
    sp_printable(id, id, sizeof(id));
    if (strcmp(row->format, SP_FORMAT_NAME) != 0)
        return sp_fail(err, SP_ERR_REGISTRY, "the registry row for %s has format '%s'; this sealpub reads only %s", id,
                       sp_printable(row->format, a, sizeof(a)), SP_FORMAT_NAME);
    if (!sp_kek_wrap_is_known(row->key_wrap))
        return sp_fail(err, SP_ERR_REGISTRY, "the registry row for %s has an unknown key_wrap '%s'", id,
                       sp_printable(row->key_wrap, a, sizeof(a)));
    /* The object key is a function of the identity (FORMAT.md 14): a row
     * that names any other key, inside the store or outside it ("../"),
     * points a reader at bytes it did not ask for. */
    char want[SP_OBJECT_KEY_MAX];
    sp_error inner = {0};
    if (sp_object_key(row->resource_name, row->dev_stage, row->architecture, row->version, want, sizeof(want),
                      &inner) != SP_OK ||
        strcmp(want, row->object_key) != 0)
        return sp_fail(err, SP_ERR_REGISTRY, "the registry row for %s names object '%.300s', not %.300s", id,
                       sp_printable(row->object_key, b, sizeof(b)), want);
    return SP_OK;
}

sp_status sp_row_check_object(const sp_row *row, const char *what, uint64_t size, const char sha256_hex[65],
                              uint64_t plain_total, sp_error *err)
{
    char a[80];
    if (size != row->size_bytes)
        return sp_fail(err, SP_ERR_AUTH, "%s is %llu bytes but its registry row says %llu: truncated or replaced", what,
                       (unsigned long long)size, (unsigned long long)row->size_bytes);
    if (strcmp(sha256_hex, row->sha256) != 0)
        return sp_fail(err, SP_ERR_AUTH, "%s has SHA-256 %s but its registry row says %s", what, sha256_hex,
                       sp_printable(row->sha256, a, sizeof(a)));
    if (plain_total != row->plain_size)
        return sp_fail(err, SP_ERR_AUTH, "%s holds %llu bytes of plaintext but its registry row says %llu", what,
                       (unsigned long long)plain_total, (unsigned long long)row->plain_size);
    return SP_OK;
}
