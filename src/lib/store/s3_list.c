/* s3_list.c: listing the multipart uploads under the store's prefix and aborting stale ones (sealpub cleanup). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/s3_private.h"

/* Aborts one multipart upload by key and id (absent counts as done). */
sp_status s3_abort_by_id(s3_store *st, const char *key, const char *upload_id, sp_error *err)
{
    s3_xfer x = {0};
    s3_xfer_init(&x, st, "DELETE", "AbortMultipartUpload");
    s3_raw_path(st, key, x.raw_path, sizeof(x.raw_path));
    sp_status s = s3_query_param(x.query, sizeof(x.query), "uploadId", upload_id, err);
    if (s == SP_OK) s = s3_xfer_run(NULL, &x, err);
    s3_xfer_release(&x);
    return s == SP_ERR_NOT_FOUND ? SP_OK : s;
}

typedef struct list_cb {
    int (*fn)(void *ctx, const sp_s3_upload_info *u);
    void *ctx;
} list_cb;

static int on_listed(void *vctx, const sp_s3_xml_upload *u)
{
    list_cb *c = vctx;
    sp_s3_upload_info info = {.key = u->key, .upload_id = u->upload_id, .initiated = 0};
    if (sp_s3_parse_iso8601(u->initiated, &info.initiated) != 0) info.initiated = 0;
    return c->fn(c->ctx, &info);
}

sp_status s3_list_uploads(s3_store *st, int (*fn)(void *, const sp_s3_upload_info *), void *ctx, sp_error *err)
{
    char prefix[SP_OBJECT_KEY_MAX + 1];
    snprintf(prefix, sizeof(prefix), "%s%s", st->prefix, st->prefix[0] ? "/" : "");
    char key_marker[SP_OBJECT_KEY_MAX] = "", id_marker[512] = "";
    list_cb cb = {fn, ctx};
    s3_xfer x = {0};
    sp_status s = SP_OK;
    for (unsigned page = 0; s == SP_OK; page++) {
        s3_xfer_init(&x, st, "GET", "ListMultipartUploads");
        s3_raw_path(st, "", x.raw_path, sizeof(x.raw_path));
        s = s3_query_param(x.query, sizeof(x.query), "uploads", "", err);
        if (s == SP_OK && prefix[0]) s = s3_query_param(x.query, sizeof(x.query), "prefix", prefix, err);
        if (s == SP_OK && key_marker[0]) s = s3_query_param(x.query, sizeof(x.query), "key-marker", key_marker, err);
        if (s == SP_OK && id_marker[0]) s = s3_query_param(x.query, sizeof(x.query), "upload-id-marker", id_marker, err);
        if (s == SP_OK) s = s3_xfer_run(NULL, &x, err);
        int truncated = 0;
        char next_key[SP_OBJECT_KEY_MAX], next_id[512];
        if (s == SP_OK)
            s = sp_s3_xml_list_uploads(x.resp, x.resp_len, on_listed, &cb, &truncated, next_key, sizeof(next_key),
                                       next_id, sizeof(next_id), err);
        if (s != SP_OK || !truncated) break;
        /* A truncated page must move the markers, or the loop never ends. */
        if (!next_key[0] || (!strcmp(next_key, key_marker) && !strcmp(next_id, id_marker)) || page > 100000) {
            s = sp_fail(err, SP_ERR_STORE, "S3 ListMultipartUploads s3://%s: truncated listing without a new marker",
                        st->bucket);
            break;
        }
        snprintf(key_marker, sizeof(key_marker), "%s", next_key);
        snprintf(id_marker, sizeof(id_marker), "%s", next_id);
    }
    s3_xfer_release(&x);
    return s;
}

sp_status sp_s3_list_uploads(const char *url, int (*fn)(void *ctx, const sp_s3_upload_info *u), void *ctx,
                             sp_error *err)
{
    s3_store *st;
    SP_TRY(s3_open_impl(url, &st, err));
    sp_status s = s3_list_uploads(st, fn, ctx, err);
    s3_close_impl(st);
    return s;
}

typedef struct stale_ctx {
    s3_store *st;
    time_t cutoff;
    unsigned aborted;
    sp_status failed;
    sp_error *err;
} stale_ctx;

static int abort_if_stale(void *vctx, const sp_s3_upload_info *u)
{
    stale_ctx *c = vctx;
    /* No date means we cannot tell its age: leave it. */
    if (!u->initiated || u->initiated > c->cutoff) return 0;
    sp_status s = s3_abort_by_id(c->st, u->key, u->upload_id, c->err);
    if (s != SP_OK) {
        c->failed = s;
        return 1;
    }
    c->aborted++;
    return 0;
}

/* The store's cleanup operation: aborts the multipart uploads under its
 * prefix that were initiated more than older_than_seconds ago. */
sp_status s3_abort_stale_impl(s3_store *st, long older_than_seconds, unsigned *aborted, sp_error *err)
{
    if (aborted) *aborted = 0;
    if (older_than_seconds < 0) return sp_fail(err, SP_ERR_USAGE, "the age of stale uploads must not be negative");
    stale_ctx c = {st, time(NULL) - older_than_seconds, 0, SP_OK, err};
    sp_status s = s3_list_uploads(st, abort_if_stale, &c, err);
    if (c.failed != SP_OK) s = c.failed; /* err already holds the abort's message */
    if (aborted) *aborted = c.aborted;
    return s;
}

sp_status sp_s3_abort_stale(const char *url, long older_than_seconds, unsigned *aborted, sp_error *err)
{
    if (aborted) *aborted = 0;
    if (older_than_seconds < 0) return sp_fail(err, SP_ERR_USAGE, "the age of stale uploads must not be negative");
    s3_store *st;
    SP_TRY(s3_open_impl(url, &st, err));
    sp_status s = s3_abort_stale_impl(st, older_than_seconds, aborted, err);
    s3_close_impl(st);
    return s;
}
