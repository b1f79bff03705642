/* manage.c: operating the registry: sp_list and sp_delete (the claim and the row-then-object order). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "registry/registry.h"
#include "store/store.h"

void sp_list_opts_init(sp_list_opts *o) { memset(o, 0, sizeof(*o)); }

void sp_delete_opts_init(sp_delete_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->keep_last = -1;
    o->lock_timeout = -1;
}

/* The key never leaves the registry layer through these commands. */
static void artifact_from(const sp_row *r, sp_artifact *a)
{
    memset(a, 0, sizeof(*a));
    sp_strlcpy(a->name, r->resource_name, sizeof(a->name));
    sp_strlcpy(a->stage, r->dev_stage, sizeof(a->stage));
    sp_strlcpy(a->arch, r->architecture, sizeof(a->arch));
    sp_strlcpy(a->version, r->version, sizeof(a->version));
    sp_strlcpy(a->object_key, r->object_key, sizeof(a->object_key));
    sp_strlcpy(a->sha256, r->sha256, sizeof(a->sha256));
    sp_strlcpy(a->artifact_id, r->artifact_id, sizeof(a->artifact_id));
    sp_strlcpy(a->key_wrap, r->key_wrap, sizeof(a->key_wrap));
    sp_strlcpy(a->kek_id, r->kek_id, sizeof(a->kek_id));
    sp_strlcpy(a->format, r->format, sizeof(a->format));
    sp_strlcpy(a->created_at, r->created_at, sizeof(a->created_at));
    sp_strlcpy(a->updated_at, r->updated_at, sizeof(a->updated_at));
    a->size_bytes = r->size_bytes;
    a->plain_size = r->plain_size;
}

typedef struct list_walk {
    sp_artifact_fn fn;
    void *ctx;
} list_walk;

static int list_one(void *ctx, const sp_row *row)
{
    list_walk *w = ctx;
    sp_artifact a;
    artifact_from(row, &a);
    return w->fn(w->ctx, &a);
}

sp_status sp_list(const sp_list_opts *o, sp_artifact_fn fn, void *ctx, sp_error *err)
{
    char arch[SP_FIELD_MAX + 1], since[21];
    sp_row_filter f = {.name = o->name, .stage = o->stage, .limit = o->limit, .offset = o->offset};
    if (o->name) SP_TRY(sp_validate_name("name", o->name, SP_NAME_MAX, err));
    if (o->stage) SP_TRY(sp_validate_name("stage", o->stage, SP_FIELD_MAX, err));
    if (o->arch) {
        SP_TRY(sp_canonical_arch(o->arch, arch, err));
        f.arch = arch;
    }
    if (o->since) {
        SP_TRY(sp_parse_time(o->since, since, err));
        f.since = since;
    }
    sp_registry reg;
    SP_TRY(sp_registry_open(o->registry_url, &reg, err));
    list_walk w = {fn, ctx};
    sp_status s = reg.ops->list(reg.impl, &f, list_one, &w, err);
    sp_registry_close(&reg);
    return s;
}

/* ---- delete ---------------------------------------------------------------- */

/* The targets are collected first (identity and artifact id only), then
 * each is deleted under its own claim, re-checked there: a row replaced by
 * a publish since the listing is left alone. */
typedef struct target {
    sp_row row; /* encryption_key cleared */
} target;

typedef struct targets {
    target *v;
    size_t n, cap;
    long skip; /* keep_last: rows still to skip */
    sp_status failed;
} targets;

static int collect(void *ctx, const sp_row *row)
{
    targets *t = ctx;
    if (t->skip > 0) {
        t->skip--;
        return 0;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        target *v = realloc(t->v, cap * sizeof(*v));
        if (!v) {
            t->failed = SP_ERR_NOMEM;
            return 1;
        }
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n].row = *row;
    OPENSSL_cleanse(t->v[t->n].row.encryption_key, sizeof(t->v[t->n].row.encryption_key));
    t->n++;
    return 0;
}

static sp_status delete_one(sp_registry *reg, sp_store *st, const sp_row *want, double lock_timeout,
                            volatile const int *cancel, int *deleted, sp_error *err)
{
    char identity[SP_NAME_MAX + 3 * SP_FIELD_MAX + 8];
    snprintf(identity, sizeof(identity), "%s/%s/%s/%s", want->resource_name, want->dev_stage, want->architecture,
             want->version);
    *deleted = 0;
    double waited = 0;
    SP_TRY(sp_registry_claim(reg, want->object_key, identity, 0, lock_timeout, cancel, NULL, NULL, &waited, err));
    sp_row now;
    sp_status s = reg->ops->get(reg->impl, want->resource_name, want->dev_stage, want->architecture, want->version,
                                &now, err);
    if (s == SP_OK && strcmp(now.artifact_id, want->artifact_id) != 0) s = SP_ERR_NOT_FOUND; /* republished: keep */
    OPENSSL_cleanse(&now, sizeof(now));
    if (s == SP_ERR_NOT_FOUND) {
        reg->ops->release(reg->impl);
        return SP_OK;
    }
    /* The row goes first: a reader never finds a row naming a missing object. */
    if (s == SP_OK) s = reg->ops->remove(reg->impl, want->resource_name, want->dev_stage, want->architecture,
                                         want->version, want->artifact_id, err);
    if (s == SP_OK) {
        *deleted = 1;
        sp_status o = st->ops->remove(st->impl, want->object_key, err);
        if (o != SP_OK && o != SP_ERR_NOT_FOUND) {
            size_t n = strlen(err->msg);
            snprintf(err->msg + n, sizeof(err->msg) - n,
                     " (the row of %s is deleted; its object %s is left, unreadable without the row: delete it by "
                     "hand)",
                     identity, want->object_key);
            s = o;
        }
    }
    reg->ops->release(reg->impl);
    return s;
}

sp_status sp_delete(const sp_delete_opts *o, sp_artifact_fn fn, void *ctx, unsigned *count, sp_error *err)
{
    char arch[SP_FIELD_MAX + 1], before[21];
    *count = 0;
    SP_TRY(sp_validate_name("name", o->name, SP_NAME_MAX, err));
    SP_TRY(sp_validate_name("stage", o->stage, SP_FIELD_MAX, err));
    SP_TRY(sp_canonical_arch(o->arch, arch, err));
    int retention = o->older_than || o->keep_last >= 0;
    if (o->version && retention)
        return sp_fail(err, SP_ERR_USAGE, "give either --version or --older-than/--keep-last, not both");
    if (!o->version && !retention)
        return sp_fail(err, SP_ERR_USAGE, "give --version, or --older-than and/or --keep-last");
    if (o->version) SP_TRY(sp_validate_version(o->version, err));
    if (o->older_than) SP_TRY(sp_parse_time(o->older_than, before, err));

    sp_store st;
    sp_registry reg;
    SP_TRY(sp_store_open(o->store_url, &st, err));
    sp_status s = sp_registry_open(o->registry_url, &reg, err);
    if (s != SP_OK) {
        sp_store_close(&st);
        return s;
    }
    targets t = {0};
    if (o->version) {
        sp_row row;
        s = reg.ops->get(reg.impl, o->name, o->stage, arch, o->version, &row, err);
        if (s == SP_OK) collect(&t, &row);
        OPENSSL_cleanse(&row, sizeof(row));
    } else {
        sp_row_filter f = {.name = o->name, .stage = o->stage, .arch = arch};
        t.skip = o->keep_last > 0 ? o->keep_last : 0;
        if (o->older_than && o->keep_last < 0) f.before = before;
        s = reg.ops->list(reg.impl, &f, collect, &t, err);
        if (s == SP_OK && t.failed) s = sp_fail(err, t.failed, "out of memory");
        /* keep_last and older_than together: beyond the newest N, and older. */
        if (s == SP_OK && o->older_than && o->keep_last >= 0) {
            size_t k = 0;
            for (size_t i = 0; i < t.n; i++)
                if (strcmp(t.v[i].row.created_at, before) < 0) t.v[k++] = t.v[i];
            t.n = k;
        }
    }
    double lock_timeout = o->lock_timeout >= 0 ? o->lock_timeout : 600;
    for (size_t i = 0; s == SP_OK && i < t.n; i++) {
        if (o->cancel && __atomic_load_n(o->cancel, __ATOMIC_RELAXED)) {
            s = sp_fail(err, SP_ERR_INTERRUPTED, "interrupted after deleting %u artifact(s)", *count);
            break;
        }
        int deleted = o->dry_run;
        if (!o->dry_run) s = delete_one(&reg, &st, &t.v[i].row, lock_timeout, o->cancel, &deleted, err);
        if (deleted) {
            (*count)++;
            sp_artifact a;
            artifact_from(&t.v[i].row, &a);
            if (fn) fn(ctx, &a);
        }
    }
    free(t.v);
    sp_registry_close(&reg);
    sp_store_close(&st);
    return s;
}
