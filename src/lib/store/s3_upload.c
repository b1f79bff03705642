/* s3_upload.c: one S3 upload as a meta-request: single PUT or multipart from a fixed pool of part buffers. */

/*
 * How an upload works
 * -------------------
 * One put is a small meta-request that fans out into part requests. The
 * writer's bytes are copied into the "current" part buffer. A full buffer is
 * only sent once the next byte arrives, because until then it may be the
 * whole object: an object that fits in one part goes up as a single PUT at
 * commit, everything larger as CreateMultipartUpload, UploadPart (several in
 * flight), CompleteMultipartUpload.
 *
 * Memory is bounded by design: parts_in_flight + 1 buffers are allocated at
 * put_begin; one is being filled while the others are on the wire or waiting
 * to be resent. A buffer returns to the pool only when its part succeeded,
 * so a retry always has the bytes it needs, and put_write blocks (driving
 * curl) when every buffer is busy: that is the back-pressure on the
 * pipeline. With an unknown size the part size doubles every 1000 parts
 * (8 MiB start: about 8 TB in 10,000 parts), and buffers grow with it.
 *
 * Threads: none of our own. Every handle of an upload (its curl multi, the
 * transfers, the pool) belongs to the thread that called put_begin, which
 * drives the network inside put_write, put_commit and put_abort. Several
 * threads may each run their own uploads on one store.
 *
 * A failed or cancelled upload is aborted on the server
 * (AbortMultipartUpload) so no parts linger; commit then HEADs the object
 * and compares its size with what was written.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "store/s3_private.h"

typedef struct part_buf {
    uint8_t *data;
    size_t cap, len;
    unsigned part_no;
    int busy; /* on the wire or waiting to be resent: the bytes must stay */
    char crc[12]; /* its CRC32C, base64, as sent */
    /* The part's SHA-256 and CRC32C, computed as the bytes are copied in
     * (a slice at a time, while they are in the cache) when *_live. */
    EVP_MD_CTX *sha;
    int sha_live, crc_live;
    uint32_t crc_run;
    s3_xfer x;
} part_buf;

/* Bytes copied into a part buffer and hashed before the next slice: small
 * enough to be hashed from the CPU's cache. */
#define FILL_SLICE ((size_t)64 << 10)

/* Every member is touched only by the thread that called put_begin. */
struct sp_upload {
    s3_store *st;
    CURLM *multi;
    char key[SP_OBJECT_KEY_MAX];  /* full key, prefix included */
    char path[S3_PATH_MAX];       /* its raw request path */
    uint64_t size_hint;           /* UINT64_MAX: unknown */
    uint64_t written;
    part_buf *bufs;               /* the pool: parts_in_flight + 1 */
    unsigned nbuf;
    part_buf *cur;                /* being filled, or NULL */
    unsigned parts;               /* parts handed to the network so far */
    int multipart;
    char upload_id[512];
    char (*etags)[S3_ETAG_MAX];   /* etags[n-1] of part n */
    unsigned etags_cap;
    char (*crcs)[12];             /* crcs[n-1]: part n's CRC32C, for Complete */
    unsigned echoed;              /* parts whose answer confirmed their CRC32C */
    int ck;                       /* CK_*: what the server showed of flexible checksums */
    int full_object;              /* Create confirmed x-amz-checksum-type FULL_OBJECT */
    uint32_t full_crc;            /* CRC32C of the parts handed out so far, in order */
    s3_xfer ctl;                  /* Create, Complete, Abort, Head, Delete */
    sp_status failed;             /* first failure; later calls return it */
    int fail_retryable;           /* ... and whether retrying later may help */
    char fail_msg[sizeof(((sp_error *)0)->msg)];
    int aborted;
    s3_meta meta[S3_META_MAX];    /* x-amz-meta-*, set before the first write */
    size_t n_meta;
    int create_only;              /* If-None-Match: * on the PUT or the Complete */
};

/* Flexible checksums are offered, never assumed: the server's answers say
 * whether it checks them. AWS echoes the algorithm on Create and every
 * part's CRC32C; radosgw 16 ignores both, and once a part's answer shows
 * that, later parts skip the CRC pass (the SHA-256 of the signature stays
 * the per-part check such a server verifies). */
enum { CK_UNKNOWN, CK_VERIFIED, CK_IGNORED };

/* Room for the object headers (4 settings and the metadata) and the
 * checksum headers beside them. */
_Static_assert(4 + S3_META_MAX + 3 <= S3_EXTRA_HEADERS_MAX, "too few extra header slots");

void s3_put_create_only(sp_upload *up) { up->create_only = 1; }

/* 412 on a create-only commit: someone wrote the key outside the claim. A
 * retried Complete whose first answer was lost also meets its own object:
 * the size check after the commit decides that case. */
static sp_status create_only_refused(sp_upload *up, const s3_xfer *x, sp_status s, sp_error *err)
{
    if (!up->create_only || x->status != 412) return s;
    if (x->attempt > 1 && up->multipart) return SP_OK;
    return sp_fail(err, SP_ERR_EXISTS,
                   "an object already exists at s3://%s/%.300s and If-None-Match refused to replace it (written "
                   "outside sealpub's claim?); nothing was replaced",
                   up->st->bucket, up->key);
}

/* The part size for part number part_no (1-based). A known size is split
 * into at most 10,000 equal parts of at least base, whole MiB; an unknown
 * size starts at base and doubles every 1000 parts, up to 5 GiB. */
size_t sp_s3_part_size(size_t base, uint64_t size_hint, unsigned part_no)
{
    if (size_hint != UINT64_MAX) {
        uint64_t per = (size_hint + S3_PARTS_MAX - 1) / S3_PARTS_MAX;
        per = (per + S3_MIB - 1) / S3_MIB * S3_MIB;
        uint64_t ps = per > base ? per : base;
        return ps > S3_PART_MAX ? S3_PART_MAX : (size_t)ps;
    }
    uint64_t ps = base;
    for (unsigned i = S3_PARTS_PER_DOUBLING; i < part_no && ps < S3_PART_MAX; i += S3_PARTS_PER_DOUBLING) ps *= 2;
    return ps > S3_PART_MAX ? S3_PART_MAX : (size_t)ps;
}

static size_t part_size(const sp_upload *up, unsigned part_no)
{
    return sp_s3_part_size(up->st->part_size, up->size_hint, part_no);
}

/* A buffer's starting size: a small object of known size gets a buffer of
 * its own size (grown if the hint was wrong), everything else a part's. */
static size_t initial_cap(const sp_upload *up, unsigned part_no)
{
    size_t ps = part_size(up, part_no);
    if (part_no == 1 && up->size_hint < ps) return up->size_hint < 4096 ? 4096 : (size_t)up->size_hint;
    return ps;
}

static sp_status upload_failed(sp_upload *up, sp_status s, const char *msg)
{
    /* Inside an upload a 404 (NoSuchUpload, NoSuchKey) means the store
     * failed, not that the caller asked for something absent. */
    if (s == SP_ERR_NOT_FOUND) s = SP_ERR_STORE;
    if (up->failed == SP_OK) {
        up->failed = s;
        snprintf(up->fail_msg, sizeof(up->fail_msg), "%s", msg);
    }
    return up->failed;
}

static sp_status report(const sp_upload *up, sp_error *err)
{
    return sp_fail_as(err, up->failed, up->fail_retryable, "%s", up->fail_msg);
}

/* Collects the parts that finished: their ETags, or the first failure. */
static void reap_parts(sp_upload *up)
{
    for (unsigned i = 0; i < up->nbuf; i++) {
        part_buf *b = &up->bufs[i];
        if (!b->busy || b->x.state != XF_DONE) continue;
        b->busy = 0;
        b->x.state = XF_IDLE;
        if (b->x.result != SP_OK) {
            if (up->failed == SP_OK) up->fail_retryable = b->x.retryable;
            upload_failed(up, b->x.result, b->x.msg);
        } else if (!b->x.etag[0]) {
            char m[160];
            s3_msgf(m, sizeof(m), "S3 UploadPart %u of s3://%s/%.60s: the response had no ETag", b->part_no,
                     up->st->bucket, up->key);
            upload_failed(up, SP_ERR_STORE, m);
        } else {
            snprintf(up->etags[b->part_no - 1], S3_ETAG_MAX, "%s", b->x.etag);
            /* A server that checks flexible checksums answers with the
             * one it computed; radosgw 16 ignores them and says nothing. */
            if (!b->crc[0]) continue;
            if (!strcmp(b->x.resp_crc32c, b->crc)) {
                up->echoed++;
                up->ck = CK_VERIFIED;
            } else if (b->x.resp_crc32c[0]) {
                char m[200];
                s3_msgf(m, sizeof(m), "S3 UploadPart %u of s3://%s/%.60s: the server's CRC32C %s differs from ours %s",
                        b->part_no, up->st->bucket, up->key, b->x.resp_crc32c, b->crc);
                if (up->failed == SP_OK) up->fail_retryable = 1; /* damaged on the way: a resend may pass */
                upload_failed(up, SP_ERR_STORE, m);
            } else if (up->ck == CK_UNKNOWN) {
                up->ck = CK_IGNORED;
            }
        }
    }
}

/* One round of network work for the upload's parts (see drive). */
static sp_status pump(sp_upload *up, int block, sp_error *err)
{
    s3_xfer *xs[S3_INFLIGHT_MAX + 1];
    size_t n = 0;
    for (unsigned i = 0; i < up->nbuf; i++)
        if (up->bufs[i].busy) xs[n++] = &up->bufs[i].x;
    sp_status s = s3_drive(up->st, up->multi, xs, n, 0, block, err);
    reap_parts(up);
    return s;
}

static unsigned busy_parts(const sp_upload *up)
{
    unsigned n = 0;
    for (unsigned i = 0; i < up->nbuf; i++) n += up->bufs[i].busy != 0;
    return n;
}

typedef struct lost_ctx {
    sp_upload *up;
    time_t since;
} lost_ctx;

static int abort_if_lost(void *vctx, const sp_s3_upload_info *u)
{
    lost_ctx *c = vctx;
    sp_error e;
    if (strcmp(u->key, c->up->key) == 0 && strcmp(u->upload_id, c->up->upload_id) != 0 && u->initiated >= c->since)
        (void)s3_abort_by_id(c->up->st, u->key, u->upload_id, &e);
    return 0;
}

static sp_status create_multipart(sp_upload *up, sp_error *err)
{
    s3_xfer *x = &up->ctl;
    time_t started = time(NULL);
    s3_xfer_init(x, up->st, "POST", "CreateMultipartUpload");
    snprintf(x->raw_path, sizeof(x->raw_path), "%s", up->path);
    snprintf(x->query, sizeof(x->query), "uploads=");
    x->content_type = "application/octet-stream";
    s3_object_headers(up->st, up->meta, up->n_meta, x);
    if (up->st->checksum) {
        x->extra[x->n_extra++] = (sp_sigv4_header){"x-amz-checksum-algorithm", "CRC32C"};
        x->extra[x->n_extra++] = (sp_sigv4_header){"x-amz-checksum-type", "FULL_OBJECT"};
    }
    SP_TRY(s3_xfer_run(up->multi, x, err));
    if (up->st->checksum && !strcasecmp(x->resp_ck_alg, "CRC32C")) {
        up->ck = CK_VERIFIED;
        up->full_object = !strcasecmp(x->resp_ck_type, "FULL_OBJECT");
    }
    sp_error xe;
    if (sp_s3_xml_upload_id(x->resp, x->resp_len, up->upload_id, sizeof(up->upload_id), &xe) != SP_OK)
        return sp_fail(err, SP_ERR_STORE, "S3 CreateMultipartUpload s3://%s/%.300s: %s", up->st->bucket, up->key,
                       xe.msg);
    up->multipart = 1;
    /* A Create whose answer was lost still created an upload we never
     * heard of: after a retried Create, abort the other uploads of this
     * key started since (best effort; `sealpub cleanup` is the backstop). */
    if (x->attempt > 1) {
        lost_ctx c = {up, started - 5};
        (void)s3_list_uploads(up->st, abort_if_lost, &c, &xe);
    }
    return SP_OK;
}

/* The part's payload SHA-256, from the running hash where it ran. */
static void part_sha256(part_buf *b, char out[65])
{
    unsigned char md[32];
    unsigned len = 0;
    if (b->sha_live && EVP_DigestFinal_ex(b->sha, md, &len) == 1 && len == 32) sp_hex(md, 32, out);
    else s3_sha256_hex(b->data ? (const void *)b->data : "", b->len, out);
    b->sha_live = 0;
}

/* Starts a buffer's running hashes: the SHA-256 unless the part will go
 * UNSIGNED-PAYLOAD, the CRC32C while the server may check it. */
static void start_hashes(sp_upload *up, part_buf *b)
{
    b->len = 0;
    b->crc_run = 0;
    b->crc_live = up->st->checksum && up->ck != CK_IGNORED;
    int unsigned_likely = up->st->tls && up->ck == CK_VERIFIED;
    b->sha_live = !unsigned_likely && b->sha && EVP_DigestInit_ex(b->sha, EVP_sha256(), NULL) == 1;
}

/* Copies bytes into the buffer being filled, hashing each slice as it lands. */
static void fill(part_buf *b, const uint8_t *p, size_t n)
{
    while (n) {
        size_t k = n < FILL_SLICE ? n : FILL_SLICE;
        uint8_t *dst = b->data + b->len;
        memcpy(dst, p, k);
        if (b->sha_live && EVP_DigestUpdate(b->sha, dst, k) != 1) b->sha_live = 0;
        if (b->crc_live) b->crc_run = s3_crc32c(b->crc_run, dst, k);
        b->len += k;
        p += k;
        n -= k;
    }
}

/* Hands a filled buffer to the network as the next part, once fewer than
 * parts_in_flight are on the wire (the pool's extra buffer is the one
 * being filled meanwhile). */
static sp_status submit_part(sp_upload *up, part_buf *b, sp_error *err)
{
    while (busy_parts(up) >= up->st->parts_in_flight) {
        SP_TRY(pump(up, 1, err));
        if (up->failed) return report(up, err);
    }
    if (up->parts == S3_PARTS_MAX)
        return sp_fail(err, SP_ERR_STORE, "S3 object s3://%s/%.300s would need more than %u parts", up->st->bucket,
                       up->key, S3_PARTS_MAX);
    if (!up->multipart) SP_TRY(create_multipart(up, err));
    unsigned no = ++up->parts;
    if (no > up->etags_cap) {
        unsigned cap = up->etags_cap ? up->etags_cap * 2 : 64;
        if (cap > S3_PARTS_MAX) cap = S3_PARTS_MAX;
        void *p = realloc(up->etags, (size_t)cap * S3_ETAG_MAX);
        if (!p) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
        up->etags = p;
        p = realloc(up->crcs, (size_t)cap * sizeof(*up->crcs));
        if (!p) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
        up->crcs = p;
        up->etags_cap = cap;
    }
    up->etags[no - 1][0] = '\0';
    b->part_no = no;
    s3_xfer *x = &b->x;
    char op[32];
    snprintf(op, sizeof(op), "UploadPart %u", no);
    s3_xfer_init(x, up->st, "PUT", op);
    snprintf(x->raw_path, sizeof(x->raw_path), "%s", up->path);
    x->query[0] = '\0';
    char num[16];
    snprintf(num, sizeof(num), "%u", no);
    SP_TRY(s3_query_param(x->query, sizeof(x->query), "partNumber", num, err));
    SP_TRY(s3_query_param(x->query, sizeof(x->query), "uploadId", up->upload_id, err));
    x->body = b->data;
    x->body_len = b->len;
    b->crc[0] = '\0';
    up->crcs[no - 1][0] = '\0';
    if (up->st->checksum && up->ck != CK_IGNORED) {
        uint32_t crc = b->crc_live ? b->crc_run : s3_crc32c(0, b->data, b->len);
        up->full_crc = s3_crc32c_combine(up->full_crc, crc, b->len);
        s3_crc32c_b64(crc, b->crc);
        snprintf(up->crcs[no - 1], sizeof(up->crcs[0]), "%s", b->crc);
        x->extra[x->n_extra++] = (sp_sigv4_header){"x-amz-checksum-crc32c", b->crc};
    }
    /* The server checks every part: by its SHA-256 in the signature, or,
     * once it has shown that it verifies CRC32C (and no part's answer has
     * said otherwise) and TLS protects the request, by the CRC32C alone
     * (UNSIGNED-PAYLOAD), which saves the SHA-256 pass over every byte, as
     * the AWS SDKs do. */
    if (b->crc[0] && up->st->tls && up->ck == CK_VERIFIED && up->echoed == no - 1 - busy_parts(up))
        snprintf(x->body_sha, sizeof(x->body_sha), "UNSIGNED-PAYLOAD");
    else
        part_sha256(b, x->body_sha);
    b->busy = 1;
    sp_status s = s3_xfer_start(up->multi, x, err);
    if (s != SP_OK) b->busy = 0;
    return s;
}

/* A free buffer for the next part, sized for it; blocks while all are busy. */
static sp_status acquire_buffer(sp_upload *up, sp_error *err)
{
    size_t need = initial_cap(up, up->parts + 1);
    for (;;) {
        if (up->failed) return report(up, err);
        for (unsigned i = 0; i < up->nbuf; i++) {
            part_buf *b = &up->bufs[i];
            if (b->busy) continue;
            if (b->cap < need) {
                /* The part size grew (unknown size, past 1000 parts). */
                uint8_t *p = malloc(need);
                if (!p) return sp_fail(err, SP_ERR_NOMEM, "out of memory for a %zu-byte S3 part", need);
                free(b->data);
                b->data = p;
                b->cap = need;
            }
            start_hashes(up, b);
            up->cur = b;
            return SP_OK;
        }
        SP_TRY(pump(up, 1, err));
    }
}

/* Stops everything on the wire and aborts the multipart upload, so no
 * parts are left to be billed. Failures are swallowed: abort never fails
 * visibly, and stale uploads are what sp_s3_abort_stale is for. */
static void abort_upload(sp_upload *up)
{
    for (unsigned i = 0; i < up->nbuf; i++) {
        if (up->bufs[i].busy) s3_xfer_stop(up->multi, &up->bufs[i].x);
        up->bufs[i].busy = 0;
    }
    if (!up->multipart || up->aborted) return;
    up->aborted = 1;
    s3_xfer *x = &up->ctl;
    s3_xfer_init(x, up->st, "DELETE", "AbortMultipartUpload");
    snprintf(x->raw_path, sizeof(x->raw_path), "%s", up->path);
    sp_error e;
    if (s3_query_param(x->query, sizeof(x->query), "uploadId", up->upload_id, &e) != SP_OK) return;
    x->ignore_cancel = 1;
    /* After a cancel the user is waiting: one retry at most. */
    if (s3_cancelled(up->st)) x->max_attempts = 2;
    (void)s3_xfer_run(up->multi, x, &e);
}

/* Records a failure, aborts on the server, and returns the failure. */
static sp_status fail_upload(sp_upload *up, sp_status s, sp_error *err)
{
    if (s == SP_ERR_INTERRUPTED) {
        char m[sizeof(up->fail_msg)];
        snprintf(m, sizeof(m), "S3 upload of s3://%s/%.300s interrupted; %s", up->st->bucket, up->key,
                 up->multipart ? "multipart upload aborted" : "nothing was stored");
        upload_failed(up, s, m);
    } else {
        if (up->failed == SP_OK) up->fail_retryable = err && err->retryable;
        upload_failed(up, s, err ? err->msg : "S3 upload failed");
    }
    abort_upload(up);
    return report(up, err);
}

static void free_upload(sp_upload *up)
{
    if (!up) return;
    for (unsigned i = 0; i < up->nbuf; i++) {
        s3_xfer_stop(up->multi, &up->bufs[i].x);
        s3_xfer_release(&up->bufs[i].x);
        free(up->bufs[i].data);
        EVP_MD_CTX_free(up->bufs[i].sha);
    }
    s3_xfer_stop(up->multi, &up->ctl);
    s3_xfer_release(&up->ctl);
    if (up->multi) curl_multi_cleanup(up->multi);
    free(up->bufs);
    free(up->etags);
    free(up->crcs);
    free(up);
}

sp_status s3_put_begin(void *impl, const char *key, uint64_t size_hint, sp_upload **out, sp_error *err)
{
    s3_store *st = impl;
    *out = NULL;
    if (size_hint != UINT64_MAX && size_hint > (uint64_t)S3_PART_MAX * S3_PARTS_MAX)
        return sp_fail(err, SP_ERR_USAGE, "object of %llu bytes is larger than S3 allows",
                       (unsigned long long)size_hint);
    sp_upload *up = calloc(1, sizeof(*up));
    if (!up) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    up->st = st;
    up->size_hint = size_hint;
    sp_status s = s3_object_key(st, key, up->key, sizeof(up->key), err);
    if (s == SP_OK) {
        s3_raw_path(st, up->key, up->path, sizeof(up->path));
        up->multi = curl_multi_init();
        up->nbuf = st->parts_in_flight + 1;
        up->bufs = calloc(up->nbuf, sizeof(*up->bufs));
        if (!up->multi || !up->bufs) s = sp_fail(err, SP_ERR_NOMEM, "out of memory");
    }
    if (s == SP_OK) {
        curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, (long)up->nbuf + 1);
        /* The whole pool up front: a failure to get memory shows now, not
         * halfway through a stream. A small known object needs one buffer
         * of its own size. */
        size_t first = initial_cap(up, 1);
        int small = first < part_size(up, 1);
        for (unsigned i = 0; i < up->nbuf && s == SP_OK; i++) {
            if (small && i > 0) break;
            size_t cap = first;
            up->bufs[i].data = malloc(cap);
            up->bufs[i].cap = cap;
            if (!up->bufs[i].data) s = sp_fail(err, SP_ERR_NOMEM, "out of memory for the S3 part buffers");
        }
        for (unsigned i = 0; i < up->nbuf && s == SP_OK; i++)
            if (!(up->bufs[i].sha = EVP_MD_CTX_new())) s = sp_fail(err, SP_ERR_NOMEM, "out of memory");
    }
    if (s != SP_OK) {
        free_upload(up);
        return s;
    }
    *out = up;
    return SP_OK;
}

sp_status s3_put_write(sp_upload *up, const void *buf, size_t len, sp_error *err)
{
    if (up->failed) return report(up, err);
    if (s3_cancelled(up->st)) return fail_upload(up, SP_ERR_INTERRUPTED, err);
    const uint8_t *p = buf;
    sp_status s = SP_OK;
    while (len && s == SP_OK) {
        size_t target = part_size(up, up->parts + 1);
        if (up->cur && up->cur->len == target) {
            /* Full, and more bytes follow: it is a part, not the whole. */
            part_buf *b = up->cur;
            up->cur = NULL;
            s = submit_part(up, b, err);
            continue;
        }
        if (!up->cur && (s = acquire_buffer(up, err)) != SP_OK) break;
        part_buf *b = up->cur;
        if (b->len == b->cap) {
            /* A small known object grew past its hint: the buffer gets a
             * part's full size. */
            uint8_t *q = realloc(b->data, target);
            if (!q) {
                s = sp_fail(err, SP_ERR_NOMEM, "out of memory for an S3 part");
                break;
            }
            b->data = q;
            b->cap = target;
        }
        size_t room = (target < b->cap ? target : b->cap) - b->len;
        size_t n = len < room ? len : room;
        fill(b, p, n);
        up->written += n;
        p += n;
        len -= n;
    }
    /* Keep the parts on the wire moving between writes. */
    if (s == SP_OK && busy_parts(up)) {
        s = pump(up, 0, err);
        if (s == SP_OK && up->failed) s = up->failed;
    }
    if (s != SP_OK) return fail_upload(up, s, err);
    return SP_OK;
}

sp_status s3_put_meta(sp_upload *up, const char *name, const char *value, sp_error *err)
{
    if (up->written || up->multipart)
        return sp_fail(err, SP_ERR_INTERNAL, "S3 metadata must be set before the first byte is written");
    if (up->n_meta == S3_META_MAX) return sp_fail(err, SP_ERR_USAGE, "more than %d S3 metadata entries", S3_META_MAX);
    size_t nl = strlen(name), vl = strlen(value);
    if (!nl || nl >= sizeof(up->meta[0].name) || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != nl)
        return sp_fail(err, SP_ERR_USAGE, "invalid S3 metadata name '%.64s'", name);
    if (vl >= sizeof(up->meta[0].value))
        return sp_fail(err, SP_ERR_USAGE, "S3 metadata %s: value longer than 255 bytes", name);
    for (size_t i = 0; i < vl; i++)
        if ((unsigned char)value[i] < 0x20 || (unsigned char)value[i] > 0x7e)
            return sp_fail(err, SP_ERR_USAGE, "S3 metadata %s: value must be printable ASCII", name);
    snprintf(up->meta[up->n_meta].name, sizeof(up->meta[0].name), "x-amz-meta-%s", name);
    if (strlen(up->meta[up->n_meta].name) != nl + 11)
        return sp_fail(err, SP_ERR_USAGE, "invalid S3 metadata name '%.64s'", name);
    snprintf(up->meta[up->n_meta].value, sizeof(up->meta[0].value), "%s", value);
    up->n_meta++;
    return SP_OK;
}

/* Between writes: parts already on the wire keep moving while the input
 * pauses (a docker save reading a large layer), so curl's stall timer only
 * ever measures the server. */
sp_status s3_put_poll(sp_upload *up, sp_error *err)
{
    if (up->failed) return report(up, err);
    if (s3_cancelled(up->st)) return fail_upload(up, SP_ERR_INTERRUPTED, err);
    if (!busy_parts(up)) return SP_OK;
    sp_status s = pump(up, 0, err);
    if (s == SP_OK && up->failed) s = up->failed;
    if (s != SP_OK) return fail_upload(up, s, err);
    return SP_OK;
}

sp_status s3_head_size(s3_store *st, CURLM *m, s3_xfer *x, const char *path, int ignore_cancel, uint64_t *size,
                           sp_error *err)
{
    s3_xfer_init(x, st, "HEAD", "HeadObject");
    x->ignore_cancel = ignore_cancel;
    snprintf(x->raw_path, sizeof(x->raw_path), "%s", path);
    SP_TRY(s3_xfer_run(m, x, err));
    if (!x->has_length) {
        char where[SP_OBJECT_KEY_MAX + 80];
        return sp_fail(err, SP_ERR_STORE, "S3 HeadObject %s: no Content-Length in the response",
                       s3_object_url(x, where, sizeof(where)));
    }
    *size = x->content_length;
    return SP_OK;
}

/* The ETag list for CompleteMultipartUpload; ETags are escaped for XML. */
static char *complete_body(const sp_upload *up, size_t *len, sp_error *err)
{
    size_t cap = 128 + (size_t)up->parts * (128 + 6 * S3_ETAG_MAX), n = 0;
    char *b = malloc(cap);
    if (!b) {
        sp_fail(err, SP_ERR_NOMEM, "out of memory");
        return NULL;
    }
    n += (size_t)snprintf(b + n, cap - n, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (unsigned i = 0; i < up->parts; i++) {
        n += (size_t)snprintf(b + n, cap - n, "<Part><PartNumber>%u</PartNumber><ETag>", i + 1);
        for (const char *e = up->etags[i]; *e; e++) {
            const char *esc = *e == '&' ? "&amp;" : *e == '<' ? "&lt;" : *e == '>' ? "&gt;" : NULL;
            if (esc) n += (size_t)snprintf(b + n, cap - n, "%s", esc);
            else b[n++] = *e;
        }
        n += (size_t)snprintf(b + n, cap - n, "</ETag>");
        /* Only to a server that confirmed every part's checksum: one that
         * ignores them could not match the list. */
        if (up->st->checksum && up->echoed == up->parts)
            n += (size_t)snprintf(b + n, cap - n, "<ChecksumCRC32C>%s</ChecksumCRC32C>", up->crcs[i]);
        n += (size_t)snprintf(b + n, cap - n, "</Part>");
    }
    n += (size_t)snprintf(b + n, cap - n, "</CompleteMultipartUpload>");
    *len = n;
    return b;
}

typedef struct crc_elem {
    char crc[16];
    int found;
} crc_elem;

static int find_crc(void *ctx, const char *path, const char *text, size_t len)
{
    crc_elem *c = ctx;
    if (strcmp(path, "CompleteMultipartUploadResult/ChecksumCRC32C") != 0) return 0;
    c->found = 1;
    snprintf(c->crc, sizeof(c->crc), "%.*s", (int)(len < 15 ? len : 15), text);
    return 1;
}

/* The object's CRC32C as the server reports it after a FULL_OBJECT
 * Complete, when it reports one, must be ours. */
static sp_status check_full_crc(sp_upload *up, const s3_xfer *x, const char *full, sp_error *err)
{
    crc_elem c = {{0}, 0};
    sp_error xe;
    if (x->resp_len && sp_s3_xml_walk(x->resp, x->resp_len, find_crc, &c, &xe) != SP_OK) return SP_OK;
    if (!c.found && x->resp_crc32c[0]) {
        snprintf(c.crc, sizeof(c.crc), "%s", x->resp_crc32c);
        c.found = 1;
    }
    if (!c.found || !strcmp(c.crc, full)) return SP_OK;
    return sp_fail(err, SP_ERR_STORE, "S3 CompleteMultipartUpload s3://%s/%.300s: the server's CRC32C of the object %s differs from ours %s",
                   up->st->bucket, up->key, c.crc, full);
}

static sp_status complete_multipart(sp_upload *up, sp_error *err)
{
    size_t len = 0;
    char *body = complete_body(up, &len, err);
    if (!body) return SP_ERR_NOMEM;
    s3_xfer *x = &up->ctl;
    s3_xfer_init(x, up->st, "POST", "CompleteMultipartUpload");
    snprintf(x->raw_path, sizeof(x->raw_path), "%s", up->path);
    sp_status s = s3_query_param(x->query, sizeof(x->query), "uploadId", up->upload_id, err);
    x->body = (const uint8_t *)body;
    x->body_len = len;
    x->content_type = "application/xml";
    /* A Complete cut short by a cancel may still take effect on the server;
     * it is short, so it runs to its end and the commit finishes. */
    x->ignore_cancel = 1;
    if (up->create_only) x->extra[x->n_extra++] = (sp_sigv4_header){"if-none-match", "*"};
    /* The whole object's CRC32C, combined from the parts', for a server
     * that took FULL_OBJECT and confirmed every part: it checks the object
     * it assembles against it. */
    char full[12];
    int send_full = up->full_object && up->echoed == up->parts;
    if (send_full) {
        s3_crc32c_b64(up->full_crc, full);
        x->extra[x->n_extra++] = (sp_sigv4_header){"x-amz-checksum-crc32c", full};
        x->extra[x->n_extra++] = (sp_sigv4_header){"x-amz-checksum-type", "FULL_OBJECT"};
    }
    s3_sha256_hex(body, len, x->body_sha);
    if (s == SP_OK) s = create_only_refused(up, x, s3_xfer_run(up->multi, x, err), err);
    if (s == SP_OK && send_full) s = check_full_crc(up, x, full, err);
    /* A Complete that succeeded on the server but whose answer was lost is
     * retried and then finds no such upload: the size check below decides. */
    if (s == SP_ERR_NOT_FOUND && x->attempt > 1 && !strcmp(x->xerr.code, "NoSuchUpload")) s = SP_OK;
    free(body);
    if (s == SP_OK) up->aborted = 1; /* completed: nothing left to abort */
    return s;
}

/* radosgw 16 drops the x-amz-tagging of CreateMultipartUpload, so a
 * multipart object gets its tags with PutObjectTagging after Complete (S3
 * requires a Content-MD5 on it). A failure here fails the commit, and the
 * object is deleted below like any other unverified one: tags often drive
 * lifecycle and access rules. */
static sp_status put_tagging(sp_upload *up, sp_error *err)
{
    const char *body = up->st->tags_xml;
    unsigned char md[16];
    unsigned mdlen = 0;
    char md5[32];
    if (EVP_Digest(body, strlen(body), md, &mdlen, EVP_md5(), NULL) != 1)
        return sp_fail(err, SP_ERR_CRYPTO, "MD5 failed");
    sp_b64_encode(md, 16, md5);
    s3_xfer *x = &up->ctl;
    s3_xfer_init(x, up->st, "PUT", "PutObjectTagging");
    snprintf(x->raw_path, sizeof(x->raw_path), "%s", up->path);
    snprintf(x->query, sizeof(x->query), "tagging=");
    x->body = (const uint8_t *)body;
    x->body_len = strlen(body);
    x->content_type = "application/xml";
    x->extra[x->n_extra++] = (sp_sigv4_header){"content-md5", md5};
    x->ignore_cancel = 1; /* the object exists now: finish, as Complete does */
    s3_sha256_hex(body, x->body_len, x->body_sha);
    return s3_xfer_run(up->multi, x, err);
}

sp_status s3_put_commit(sp_upload *up, sp_error *err)
{
    sp_status s = up->failed ? report(up, err) : SP_OK;
    if (s == SP_OK && s3_cancelled(up->st)) s = sp_fail(err, SP_ERR_INTERRUPTED, "cancelled");
    if (s == SP_OK && !up->multipart) {
        /* Everything fits in one part: a single PUT. */
        s3_xfer *x = &up->ctl;
        s3_xfer_init(x, up->st, "PUT", "PutObject");
        snprintf(x->raw_path, sizeof(x->raw_path), "%s", up->path);
        x->body = up->cur ? up->cur->data : NULL;
        x->body_len = up->cur ? up->cur->len : 0;
        x->content_type = "application/octet-stream";
        s3_object_headers(up->st, up->meta, up->n_meta, x);
        /* A single PUT's checksum is the whole object's. */
        char crc[12];
        part_buf *b = up->cur;
        if (up->st->checksum) {
            s3_crc32c_b64(b && b->crc_live ? b->crc_run : s3_crc32c(0, b ? (const void *)b->data : "", b ? b->len : 0), crc);
            x->extra[x->n_extra++] = (sp_sigv4_header){"x-amz-checksum-crc32c", crc};
        }
        if (up->create_only) x->extra[x->n_extra++] = (sp_sigv4_header){"if-none-match", "*"};
        if (b) part_sha256(b, x->body_sha);
        else s3_sha256_hex("", 0, x->body_sha);
        s = create_only_refused(up, x, s3_xfer_run(up->multi, x, err), err);
    } else if (s == SP_OK) {
        if (up->cur && up->cur->len) {
            part_buf *b = up->cur;
            up->cur = NULL;
            s = submit_part(up, b, err);
        }
        while (s == SP_OK && busy_parts(up)) s = pump(up, 1, err);
        if (s == SP_OK && up->failed) s = report(up, err);
        /* Servers that ignore If-None-Match on CompleteMultipartUpload
         * (radosgw 16 does) still get a look just before it: this narrows
         * the window to the Complete itself; the claim closes it for
         * sealpub's own writers. */
        if (s == SP_OK && up->create_only) {
            uint64_t existing = 0;
            sp_status h = s3_head_size(up->st, up->multi, &up->ctl, up->path, 0, &existing, err);
            if (h == SP_OK)
                s = sp_fail(err, SP_ERR_EXISTS,
                            "an object already exists at s3://%s/%.300s (written outside sealpub's claim?); the "
                            "multipart upload was aborted and nothing was replaced",
                            up->st->bucket, up->key);
            else if (h != SP_ERR_NOT_FOUND)
                s = h;
        }
        if (s == SP_OK) s = complete_multipart(up, err);
        if (s == SP_OK && up->st->tags_xml[0]) s = put_tagging(up, err);
    }
    uint64_t size = 0;
    /* Once Complete is sent the object may exist: finish the check even if
     * a cancel arrives now, rather than leave it unverified. */
    if (s == SP_OK) s = s3_head_size(up->st, up->multi, &up->ctl, up->path, 1, &size, err);
    if (s == SP_OK && size != up->written) {
        /* The object is visible but wrong: remove it rather than let a
         * registry row point at it. */
        s3_xfer *x = &up->ctl;
        s3_xfer_init(x, up->st, "DELETE", "DeleteObject");
        snprintf(x->raw_path, sizeof(x->raw_path), "%s", up->path);
        x->ignore_cancel = 1;
        sp_error e;
        (void)s3_xfer_run(up->multi, x, &e);
        s = sp_fail(err, SP_ERR_STORE, "S3 object s3://%s/%.300s has %llu bytes after upload, expected %llu; deleted",
                    up->st->bucket, up->key, (unsigned long long)size, (unsigned long long)up->written);
    }
    if (s != SP_OK && !up->aborted) s = fail_upload(up, s, err);
    if (s == SP_ERR_NOT_FOUND) {
        s = SP_ERR_STORE;
        if (err) err->status = s;
    }
    free_upload(up);
    return s;
}

void s3_put_abort(sp_upload *up)
{
    if (!up) return;
    abort_upload(up);
    free_upload(up);
}
