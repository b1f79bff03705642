/* store_s3.c: the S3 store as the pipeline sees it: its operations table, opening, reads, deletes, cleanup. */

/*
 * The S3 store is split by concern, the way aws-c-s3 separates its client,
 * meta-requests and parts, and aws-c-auth its credentials providers:
 *
 *   store_s3.c     this file: the sp_store_ops table, open/close, stat, ranged reads, delete
 *   s3_config.c    URL, endpoint and addressing style, region, CA bundle, tuning, credentials chain
 *   s3_transfer.c  one signed HTTP exchange on a curl multi: retries, stall watchdog, region discovery
 *   s3_retry.c     the retry policy: outcome -> retry class, backoff
 *   s3_upload.c    one upload: single PUT or multipart from a fixed buffer pool
 *   s3_list.c      ListMultipartUploads and aborting stale uploads (cleanup)
 *   creds_*.c      where credentials come from (see creds.h)
 *
 * The store handle holds no process-wide state: the cancel flag, the
 * credentials cache and the region it learnt belong to this store. Settings
 * are read-only after open, so several threads may each run their own
 * uploads and reads on one store.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3_private.h"


static sp_status s3_stat(void *impl, const char *key, uint64_t *size, sp_error *err)
{
    s3_store *st = impl;
    char full[SP_OBJECT_KEY_MAX], path[S3_PATH_MAX];
    SP_TRY(s3_object_key(st, key, full, sizeof(full), err));
    s3_raw_path(st, full, path, sizeof(path));
    s3_xfer x = {0};
    sp_status s = s3_head_size(st, NULL, &x, path, 0, size, err);
    s3_xfer_release(&x);
    return s;
}

static sp_status s3_read_range(void *impl, const char *key, uint64_t off, void *buf, size_t len, sp_error *err)
{
    s3_store *st = impl;
    char full[SP_OBJECT_KEY_MAX];
    SP_TRY(s3_object_key(st, key, full, sizeof(full), err));
    if (len == 0) return SP_OK;
    s3_xfer x = {0};
    s3_xfer_init(&x, st, "GET", "GetObject");
    s3_raw_path(st, full, x.raw_path, sizeof(x.raw_path));
    snprintf(x.range, sizeof(x.range), "bytes=%llu-%llu", (unsigned long long)off,
             (unsigned long long)(off + len - 1));
    x.dst = buf;
    x.dst_cap = len;
    sp_status s = s3_xfer_run(NULL, &x, err);
    if (s == SP_OK && x.status == 200 && off != 0)
        s = sp_fail(err, SP_ERR_STORE, "S3 GetObject s3://%s/%.300s: the server ignored the Range header",
                    st->bucket, full);
    else if (s == SP_OK && x.dst_len != len)
        s = sp_fail(err, SP_ERR_TRUNCATED, "S3 object s3://%s/%.300s ends before byte %llu (got %zu of %zu bytes at %llu)",
                    st->bucket, full, (unsigned long long)(off + len), x.dst_len, len, (unsigned long long)off);
    else if (s == SP_ERR_STORE && x.status == 416)
        s = sp_fail(err, SP_ERR_TRUNCATED, "S3 object s3://%s/%.300s ends before offset %llu", st->bucket, full,
                    (unsigned long long)off);
    s3_xfer_release(&x);
    return s;
}

static sp_status s3_remove(void *impl, const char *key, sp_error *err)
{
    s3_store *st = impl;
    char full[SP_OBJECT_KEY_MAX];
    SP_TRY(s3_object_key(st, key, full, sizeof(full), err));
    s3_xfer x = {0};
    s3_xfer_init(&x, st, "DELETE", "DeleteObject");
    s3_raw_path(st, full, x.raw_path, sizeof(x.raw_path));
    sp_status s = s3_xfer_run(NULL, &x, err);
    /* Absent is not an error (S3 itself answers 204 either way, but
     * compatible servers may say 404 NoSuchKey). */
    if (s == SP_ERR_NOT_FOUND && strcmp(x.xerr.code, "NoSuchBucket") != 0) s = SP_OK;
    s3_xfer_release(&x);
    return s;
}

/* Whether the server honours If-None-Match on a PUT: two create-only PUTs
 * of a probe object; a server that implements it refuses the second with
 * 412, one that ignores the header accepts both. The probe is deleted. */
static sp_status s3_probe_create_only(void *impl, int *supported, sp_error *err)
{
    s3_store *st = impl;
    char key[80], full[SP_OBJECT_KEY_MAX];
    uint8_t rnd[8];
    *supported = 0;
    if (RAND_bytes(rnd, (int)sizeof(rnd)) != 1) return sp_fail(err, SP_ERR_CRYPTO, "RAND_bytes failed");
    char hex[17];
    sp_hex(rnd, sizeof(rnd), hex);
    snprintf(key, sizeof(key), ".sealpub-probe/if-none-match-%s", hex);
    SP_TRY(s3_object_key(st, key, full, sizeof(full), err));
    sp_status s = SP_OK;
    long status[2] = {0, 0};
    for (int i = 0; s == SP_OK && i < 2; i++) {
        s3_xfer x = {0};
        s3_xfer_init(&x, st, "PUT", "PutObject");
        s3_raw_path(st, full, x.raw_path, sizeof(x.raw_path));
        x.body = (const uint8_t *)"probe";
        x.body_len = 5;
        x.content_type = "text/plain";
        x.extra[x.n_extra++] = (sp_sigv4_header){"if-none-match", "*"};
        s3_sha256_hex("probe", 5, x.body_sha);
        sp_error e = {0};
        s = s3_xfer_run(NULL, &x, &e);
        status[i] = x.status;
        if (s != SP_OK && i == 1 && x.status == 412) s = SP_OK;
        else if (s != SP_OK) *err = e;
        s3_xfer_release(&x);
    }
    if (s == SP_OK) *supported = status[0] == 200 && status[1] == 412;
    sp_error ignored;
    (void)s3_remove(impl, key, &ignored);
    return s;
}

static sp_status s3_cleanup(void *impl, long older_than_seconds, unsigned *removed, sp_error *err)
{
    return s3_abort_stale_impl(impl, older_than_seconds, removed, err);
}

static void s3_set_cancel(void *impl, volatile const int *flag)
{
    s3_store *st = impl;
    st->cancel = flag;
}

static void s3_close(void *impl) { s3_close_impl(impl); }

static const sp_store_ops s3_ops = {
    .scheme = "s3",
    .put_begin = s3_put_begin,
    .put_write = s3_put_write,
    .put_poll = s3_put_poll,
    .put_meta = s3_put_meta,
    .put_commit = s3_put_commit,
    .put_create_only = s3_put_create_only,
    .probe_create_only = s3_probe_create_only,
    .put_abort = s3_put_abort,
    .stat = s3_stat,
    .read_range = s3_read_range,
    .remove = s3_remove,
    .cleanup = s3_cleanup,
    .set_cancel = s3_set_cancel,
    .close = s3_close,
};

/* On AWS with no region configured, the bucket's region is asked for once
 * (HeadBucket answers with x-amz-bucket-region whatever its status), so a
 * bucket outside us-east-1 works without a silent mismatch. */
static void discover_region(s3_store *st)
{
    if (st->region_explicit || st->custom_endpoint) return;
    s3_xfer x = {0};
    s3_xfer_init(&x, st, "HEAD", "HeadBucket");
    s3_raw_path(st, "", x.raw_path, sizeof(x.raw_path));
    x.max_attempts = 2;
    x.region_retried = 1; /* the answer's region is all we want: no resend in it */
    sp_error e;
    (void)s3_xfer_run(NULL, &x, &e); /* any failure shows again, clearer, on the first real request */
    if (x.bucket_region[0]) s3_endpoint_set_region(st, x.bucket_region);
    s3_xfer_release(&x);
}

sp_status sp_store_s3_open(const char *url, sp_store *store, sp_error *err)
{
    memset(store, 0, sizeof(*store));
    s3_store *st;
    SP_TRY(s3_open_impl(url, &st, err));
    discover_region(st);
    store->ops = &s3_ops;
    store->impl = st;
    s3_endpoint ep;
    s3_endpoint_get(st, &ep);
    if (st->custom_endpoint)
        s3_msgf(store->desc, sizeof(store->desc), "s3://%s%s%s at %s", st->bucket, st->prefix[0] ? "/" : "",
                st->prefix, st->endpoint_desc);
    else
        s3_msgf(store->desc, sizeof(store->desc), "s3://%s%s%s (%s%s)", st->bucket, st->prefix[0] ? "/" : "",
                st->prefix, ep.region, st->region_note[0] ? ", the bucket's region, learnt from the server" : "");
    return SP_OK;
}
