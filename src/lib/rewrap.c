/* rewrap.c: sp_rewrap: KEK rotation over the registry, one compare-and-swap row at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/crypto.h"
#include "crypto/kek.h"
#include "crypto/keyfile.h"
#include "registry/registry.h"

/* Rows are read in pages and handled one by one; the walk collects a page
 * of identities (keys included: they are what the swap compares) into
 * wiped memory. */
#define REWRAP_PAGE 256

typedef struct rewrap_page {
    sp_row *rows;
    size_t n;
} rewrap_page;

static int take(void *ctx, const sp_row *row)
{
    rewrap_page *pg = ctx;
    pg->rows[pg->n++] = *row;
    return pg->n == REWRAP_PAGE;
}

/* The file key of a selected row under from (NULL: the row holds it unwrapped). */
static sp_status open_key(const sp_row *row, const uint8_t *from, uint8_t key[32], sp_error *err)
{
    uint8_t raw[96], artifact[16], *row_key = sp_secret_alloc(32);
    if (!row_key) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    long n = sp_b64_decode(row->encryption_key, raw, sizeof(raw));
    sp_status s = SP_OK;
    sp_kek_binding b = {row->resource_name, row->dev_stage, row->architecture, row->version, artifact};
    if (n < 0 || sp_unhex(row->artifact_id, artifact, sizeof(artifact)) != 0)
        s = sp_fail(err, SP_ERR_REGISTRY, "row %s/%s/%s/%s: unreadable key material", row->resource_name,
                    row->dev_stage, row->architecture, row->version);
    else if (!from) {
        if (n != 32) s = sp_fail(err, SP_ERR_REGISTRY, "row %s: the unwrapped key is not 32 bytes", row->object_key);
        else memcpy(key, raw, 32);
    } else if (strcmp(row->key_wrap, SP_KEY_WRAP_BOUND) == 0) {
        s = sp_kek_row_key(from, &b, row_key, err);
        if (s == SP_OK) s = sp_key_unwrap(row_key, raw, (size_t)n, SP_KEY_BYTES, key, 32, err);
    } else {
        s = sp_key_unwrap(from, raw, (size_t)n, SP_KEY_BYTES, key, 32, err);
    }
    if (s == SP_ERR_AUTH)
        s = sp_fail(err, SP_ERR_AUTH, "cannot unwrap the key of %s/%s/%s/%s with --from-kek: wrong KEK or damaged row",
                    row->resource_name, row->dev_stage, row->architecture, row->version);
    OPENSSL_cleanse(raw, sizeof(raw));
    sp_secret_free(row_key, 32);
    return s;
}

/* row's key fields rewritten under to, bound to the row. */
static sp_status seal_key(sp_row *row, const uint8_t *to, const char *to_id, const uint8_t key[32], sp_error *err)
{
    uint8_t artifact[16], wrapped[SP_KEY_WRAP_MAX_KEY + 16], *row_key = sp_secret_alloc(32);
    if (!row_key) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    sp_kek_binding b = {row->resource_name, row->dev_stage, row->architecture, row->version, artifact};
    size_t wlen = 0;
    sp_status s = sp_unhex(row->artifact_id, artifact, sizeof(artifact)) == 0
                      ? SP_OK
                      : sp_fail(err, SP_ERR_REGISTRY, "row %s: artifact_id is not hex", row->object_key);
    if (s == SP_OK) s = sp_kek_row_key(to, &b, row_key, err);
    if (s == SP_OK) s = sp_key_wrap(row_key, key, SP_KEY_BYTES, wrapped, sizeof(wrapped), &wlen, err);
    if (s == SP_OK) {
        sp_b64_encode(wrapped, wlen, row->encryption_key);
        sp_strlcpy(row->key_wrap, SP_KEY_WRAP_BOUND, sizeof(row->key_wrap));
        sp_strlcpy(row->kek_id, to_id, sizeof(row->kek_id));
    }
    sp_secret_free(row_key, 32);
    return s;
}

sp_status sp_rewrap(const sp_rewrap_opts *o, sp_rewrap_result *r, sp_error *err)
{
    memset(r, 0, sizeof(*r));
    if (!o->to_kek_file) return sp_fail(err, SP_ERR_USAGE, "--to-kek is required");
    char arch[SP_FIELD_MAX + 1];
    if (o->arch) SP_TRY(sp_canonical_arch(o->arch, arch, err));
    uint8_t *keks = sp_secret_alloc(96); /* from, to, file key */
    if (!keks) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    sp_status s = sp_key_file_read(o->to_kek_file, "--to-kek", keks + 32, err);
    if (s == SP_OK && o->from_kek_file) s = sp_key_file_read(o->from_kek_file, "--from-kek", keks, err);
    if (s == SP_OK) {
        sp_kek_id(keks + 32, r->to_kek_id);
        if (o->from_kek_file) sp_kek_id(keks, r->from_kek_id);
        if (o->from_kek_file && strcmp(r->from_kek_id, r->to_kek_id) == 0)
            s = sp_fail(err, SP_ERR_USAGE, "--from-kek and --to-kek are the same key");
    }
    sp_registry reg = {0};
    if (s == SP_OK) s = sp_registry_open(o->registry_url, &reg, err);
    rewrap_page pg = {calloc(REWRAP_PAGE, sizeof(sp_row)), 0};
    if (s == SP_OK && !pg.rows) s = sp_fail(err, SP_ERR_NOMEM, "out of memory");
    sp_row_filter f = {.name = o->name, .stage = o->stage, .arch = o->arch ? arch : NULL, .limit = REWRAP_PAGE,
                       .with_keys = 1};
    uint64_t done = 0;
    for (int more = 1; s == SP_OK && more;) {
        pg.n = 0;
        s = reg.ops->list(reg.impl, &f, take, &pg, err);
        more = pg.n == REWRAP_PAGE;
        f.offset += pg.n; /* rewritten rows keep their place: created_at does not change */
        for (size_t i = 0; s == SP_OK && i < pg.n; i++) {
            sp_row *row = &pg.rows[i];
            int none = strcmp(row->key_wrap, SP_KEY_WRAP_NONE) == 0 || !row->key_wrap[0];
            if (!none && strcmp(row->kek_id, r->to_kek_id) == 0) {
                r->already++;
                continue;
            }
            int selected = o->from_kek_file ? !none && strcmp(row->kek_id, r->from_kek_id) == 0 : none;
            if (!selected) {
                r->other++;
                continue;
            }
            if (o->limit && done >= o->limit) {
                more = 0;
                break;
            }
            if (o->cancel && __atomic_load_n(o->cancel, __ATOMIC_RELAXED)) {
                s = sp_fail(err, SP_ERR_INTERRUPTED, "interrupted after rewrapping %u row(s); run again to resume",
                            r->rewrapped);
                break;
            }
            char old[sizeof(row->encryption_key)];
            sp_strlcpy(old, row->encryption_key, sizeof(old));
            s = open_key(row, o->from_kek_file ? keks : NULL, keks + 64, err);
            if (s == SP_OK) s = seal_key(row, keks + 32, r->to_kek_id, keks + 64, err);
            if (s == SP_OK && !o->dry_run) {
                s = reg.ops->rekey(reg.impl, row, old, err);
                if (s == SP_ERR_NOT_FOUND) {
                    r->changed++;
                    s = SP_OK;
                    OPENSSL_cleanse(old, sizeof(old));
                    continue;
                }
            }
            OPENSSL_cleanse(old, sizeof(old));
            if (s == SP_OK) r->rewrapped++, done++;
        }
        if (pg.rows) OPENSSL_cleanse(pg.rows, REWRAP_PAGE * sizeof(sp_row));
    }
    free(pg.rows);
    sp_registry_close(&reg);
    sp_secret_free(keks, 96);
    return s;
}
