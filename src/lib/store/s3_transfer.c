/* s3_transfer.c: the S3 transfer engine: one signed HTTP exchange on a curl multi, its retries and the stall watchdog. */

/*
 * Threads: none of our own. A transfer belongs to the thread that drives
 * its multi handle (s3_drive); between drives it makes no progress, which S3
 * tolerates (a part left idle too long fails with RequestTimeout and is
 * resent).
 *
 * Each attempt is signed by the project's own SigV4 signer (sigv4.c) with a
 * fresh date and the credentials the store's cached provider holds at that
 * moment, so a retry or a part started after a refresh carries the new
 * credentials while the parts already on the wire finish with the old ones.
 * The URL path and query are exactly the encoded forms the signer
 * canonicalised, so what is sent is what was signed. Every body is sent
 * with its real SHA-256 and a Content-Length, never chunked.
 *
 * Failures: the outcome of every exchange goes through sp_s3_classify
 * (s3_retry.c) and is retried with full-jitter backoff up to max_attempts.
 * One outcome is special: a server that names the bucket's region
 * (x-amz-bucket-region) after a request signed for another region. When the
 * user did not choose a region, the store switches to the bucket's and the
 * request is resent once; the store's description says so.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/curl_compat.h"
#include "store/s3_private.h"

void s3_msgf(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

void s3_xfer_init(s3_xfer *x, s3_store *st, const char *method, const char *op)
{
    /* The easy handle and the response buffer are reused (connections
     * live in the multi handle); everything else starts afresh. */
    char *resp = x->resp;
    size_t cap = x->resp_cap;
    CURL *easy = x->easy;
    curl_slist_free_all(x->hdrs);
    memset(x, 0, sizeof(*x));
    x->resp = resp;
    x->resp_cap = cap;
    x->easy = easy;
    x->st = st;
    x->method = method;
    snprintf(x->op, sizeof(x->op), "%s", op);
    memcpy(x->body_sha, SP_SIGV4_EMPTY_SHA256, 65);
}

void s3_xfer_release(s3_xfer *x)
{
    if (x->easy) curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    free(x->resp);
    x->easy = NULL;
    x->hdrs = NULL;
    x->resp = NULL;
    x->resp_cap = 0;
}

void s3_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned len = 0;
    if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1) memset(md, 0, sizeof(md));
    sp_hex(md, 32, out);
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    s3_xfer *x = ud;
    size_t want = size * n, left = x->body_len - x->sent;
    if (want > left) want = left;
    if (want) memcpy(buf, x->body + x->sent, want);
    x->sent += want;
    return want;
}

/* curl rewinds when it must resend the body itself (a redirect or an early
 * error response on a reused connection). */
static int on_seek(void *ud, curl_off_t off, int origin)
{
    s3_xfer *x = ud;
    if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->body_len) return CURL_SEEKFUNC_FAIL;
    x->sent = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
    s3_xfer *x = ud;
    size_t len = size * n;
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    if (x->dst && code >= 200 && code < 300) {
        size_t room = x->dst_cap - x->dst_len;
        size_t take = len < room ? len : room;
        memcpy(x->dst + x->dst_len, data, take);
        x->dst_len += take;
        if (take < len) {
            /* A 200 means the server ignored Range and sends the whole
             * object from offset 0: we have what we asked for. A 206 that
             * overruns is a broken server. Either way, stop reading. */
            if (code == 200) x->dst_enough = 1;
            else x->dst_overflow = 1;
            return 0;
        }
        return len;
    }
    /* Error and XML bodies: kept up to a hard maximum, the rest dropped
     * (an error body's Code comes first; a truncated listing fails to
     * parse rather than being misread). */
    if (x->resp_len + len + 1 > x->resp_cap && x->resp_cap < S3_RESP_MAX) {
        size_t cap = x->resp_cap ? x->resp_cap : 16384;
        while (cap < x->resp_len + len + 1 && cap < S3_RESP_MAX) cap *= 2;
        if (cap > S3_RESP_MAX) cap = S3_RESP_MAX;
        char *p = realloc(x->resp, cap);
        if (!p) return 0;
        x->resp = p;
        x->resp_cap = cap;
    }
    size_t room = x->resp_cap ? x->resp_cap - x->resp_len - 1 : 0;
    size_t take = len < room ? len : room;
    if (take) {
        memcpy(x->resp + x->resp_len, data, take);
        x->resp_len += take;
        x->resp[x->resp_len] = '\0';
    }
    return len;
}

/* The response headers we keep, before a new attempt or status line. */
static void forget_headers(s3_xfer *x)
{
    x->etag[0] = '\0';
    x->has_length = 0;
    x->bucket_region[0] = '\0';
    x->resp_crc32c[0] = '\0';
    x->resp_ck_alg[0] = '\0';
    x->resp_ck_type[0] = '\0';
}

/* A header value that fits; one that does not is left out, never cut. */
static void copy_value(char *dst, size_t cap, const char *v, size_t vlen)
{
    if (vlen >= cap) return;
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    s3_xfer *x = ud;
    size_t len = size * n;
    /* A new status line (after "100 Continue") starts a new header set. */
    if (len >= 5 && !memcmp(data, "HTTP/", 5)) {
        forget_headers(x);
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon) return len;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) end--;
    size_t vlen = (size_t)(end - v);
    if (nlen == 21 && !strncasecmp(data, "x-amz-checksum-crc32c", 21)) {
        copy_value(x->resp_crc32c, sizeof(x->resp_crc32c), v, vlen);
    } else if (nlen == 24 && !strncasecmp(data, "x-amz-checksum-algorithm", 24)) {
        copy_value(x->resp_ck_alg, sizeof(x->resp_ck_alg), v, vlen);
    } else if (nlen == 19 && !strncasecmp(data, "x-amz-checksum-type", 19)) {
        copy_value(x->resp_ck_type, sizeof(x->resp_ck_type), v, vlen);
    } else if (nlen == 19 && !strncasecmp(data, "x-amz-bucket-region", 19)) {
        if (vlen && vlen < sizeof(x->bucket_region) && strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") >= vlen) {
            memcpy(x->bucket_region, v, vlen);
            x->bucket_region[vlen] = '\0';
        }
    } else if (nlen == 4 && !strncasecmp(data, "ETag", 4)) {
        copy_value(x->etag, sizeof(x->etag), v, vlen);
    } else if (nlen == 14 && !strncasecmp(data, "Content-Length", 14)) {
        char num[32];
        if (vlen && vlen < sizeof(num)) {
            memcpy(num, v, vlen);
            num[vlen] = '\0';
            char *e;
            unsigned long long cl = strtoull(num, &e, 10);
            if (*e == '\0' && num[0] >= '0' && num[0] <= '9') {
                x->content_length = cl;
                x->has_length = 1;
            }
        }
    }
    return len;
}

static sp_status add_header(struct curl_slist **l, const char *name, const char *value, sp_error *err)
{
    char line[SP_SIGV4_AUTHZ_MAX + 64];
    int n = snprintf(line, sizeof(line), "%s: %s", name, value);
    if (n < 0 || (size_t)n >= sizeof(line)) return sp_fail(err, SP_ERR_INTERNAL, "S3 header %s too long", name);
    struct curl_slist *t = curl_slist_append(*l, line);
    OPENSSL_cleanse(line, sizeof(line));
    if (!t) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    *l = t;
    return SP_OK;
}

#define CURL_TRY(expr)                                                                             \
    do {                                                                                           \
        CURLcode c_ = (expr);                                                                      \
        if (c_ != CURLE_OK) return sp_fail(err, SP_ERR_STORE, "curl setup: %s", curl_easy_strerror(c_)); \
    } while (0)

/* The stall watchdog: curl's low-speed limit averages over a window of
 * about 5 s, so a body that stops moving was cut 5-6 s late (measured by
 * tests/integration/it_faults.sh); this cuts it stall_seconds after the
 * last byte moved in either direction. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    s3_xfer *x = ud;
    (void)dltotal;
    (void)ultotal;
    double now = sp_now();
    if (dlnow + ulnow != x->moved || x->last_move == 0) {
        x->moved = dlnow + ulnow;
        x->last_move = now;
        return 0;
    }
    if (now - x->last_move < (double)x->st->stall_seconds) return 0;
    x->stalled = 1;
    return 1; /* CURLE_ABORTED_BY_CALLBACK, read as a timeout below */
}

/* Builds, signs and hands one attempt to the multi handle. */
sp_status s3_xfer_start(CURLM *m, s3_xfer *x, sp_error *err)
{
    s3_store *st = x->st;
    x->status = 0;
    x->cc = CURLE_OK;
    x->curl_err[0] = '\0';
    x->resp_len = 0;
    x->dst_len = 0;
    x->dst_overflow = x->dst_enough = 0;
    forget_headers(x);
    x->sent = 0;
    memset(&x->xerr, 0, sizeof(x->xerr));
    x->attempt++;

    s3_endpoint ep;
    s3_endpoint_get(st, &ep);
    char path[3 * S3_PATH_MAX], query[3 * S3_QUERY_MAX], url[sizeof(ep.base) + sizeof(path) + sizeof(query) + 2];
    SP_TRY(sp_sigv4_encode_path(x->raw_path, path, sizeof(path), err));
    SP_TRY(sp_sigv4_canonical_query(x->query, query, sizeof(query), err));
    snprintf(url, sizeof(url), "%s%s%s%s", ep.base, path, *query ? "?" : "", query);

    /* The credentials current now: the cache refreshes them shortly before
     * they expire, so every attempt (a retry, the next part) signs with
     * ones that are still valid. */
    sp_creds *cr = sp_creds_new();
    if (!cr) return sp_fail(err, SP_ERR_NOMEM, "out of memory for credentials");
    sp_status s = st->creds->get(st->creds, cr, err);
    if (s != SP_OK) {
        sp_creds_free(cr);
        /* Credentials that vanished since open (a profile deleted, the
         * metadata service gone) are a configuration problem, not a
         * missing object. */
        if (s == SP_ERR_NOT_FOUND && err) err->status = SP_ERR_USAGE;
        return s == SP_ERR_NOT_FOUND ? SP_ERR_USAGE : s;
    }

    char date[SP_SIGV4_AMZ_DATE_LEN + 1];
    sp_sigv4_amz_date(time(NULL), date);
    sp_sigv4_header h[3 + S3_EXTRA_HEADERS_MAX];
    size_t nh = 0;
    h[nh++] = (sp_sigv4_header){"host", ep.host};
    if (x->content_type) h[nh++] = (sp_sigv4_header){"content-type", x->content_type};
    if (x->range[0]) h[nh++] = (sp_sigv4_header){"range", x->range};
    for (size_t i = 0; i < x->n_extra; i++) h[nh++] = x->extra[i];
    sp_sigv4_request rq = {
        .method = x->method, .path = x->raw_path, .query = x->query, .headers = h, .n_headers = nh,
        .payload_sha256 = x->body_sha, .amz_date = date, .region = ep.region, .service = "s3",
        .access_key = cr->access_key, .secret_key = cr->secret, .session_token = cr->token,
        .flags = SP_SIGV4_SIGN_CONTENT_SHA256,
    };
    sp_sigv4_result *sig = malloc(sizeof(*sig));
    if (!sig) {
        sp_creds_free(cr);
        return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    }
    s = sp_sigv4_sign(&rq, sig, err);

    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    if (s == SP_OK) s = add_header(&x->hdrs, "Host", ep.host, err);
    if (s == SP_OK) s = add_header(&x->hdrs, "x-amz-date", date, err);
    if (s == SP_OK) s = add_header(&x->hdrs, "x-amz-content-sha256", x->body_sha, err);
    if (s == SP_OK && cr->token[0]) s = add_header(&x->hdrs, "x-amz-security-token", cr->token, err);
    if (s == SP_OK && x->content_type) s = add_header(&x->hdrs, "Content-Type", x->content_type, err);
    if (s == SP_OK && x->range[0]) s = add_header(&x->hdrs, "Range", x->range, err);
    for (size_t i = 0; s == SP_OK && i < x->n_extra; i++) s = add_header(&x->hdrs, x->extra[i].name, x->extra[i].value, err);
    if (s == SP_OK) s = add_header(&x->hdrs, "Authorization", sig->authorization, err);
    OPENSSL_cleanse(sig, sizeof(*sig));
    free(sig);
    sp_creds_free(cr);
    SP_TRY(s);

    if (!x->easy && !(x->easy = curl_easy_init())) return sp_fail(err, SP_ERR_NOMEM, "curl_easy_init failed");
    CURL *e = x->easy;
    curl_easy_reset(e);
    CURL_TRY(curl_easy_setopt(e, CURLOPT_URL, url));
    CURL_TRY(SP_CURL_HTTP_ONLY(e));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_PRIVATE, x));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_USERAGENT, "sealpub/" SEALPUB_VERSION));
    /* TLS verification is never optional; SSL_CERT_FILE names a private CA. */
    CURL_TRY(curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L));
    if (st->cainfo[0]) CURL_TRY(curl_easy_setopt(e, CURLOPT_CAINFO, st->cainfo));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, st->stall_seconds));
    /* A transfer that moves no byte for stall_seconds is cut and retried. */
    CURL_TRY(curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, st->stall_seconds));
    x->moved = 0;
    x->last_move = 0;
    x->stalled = 0;
    CURL_TRY(curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_XFERINFODATA, x));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_WRITEDATA, x));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_HEADERDATA, x));

    if (!strcmp(x->method, "PUT")) {
        CURL_TRY(curl_easy_setopt(e, CURLOPT_UPLOAD, 1L));
        CURL_TRY(curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read));
        CURL_TRY(curl_easy_setopt(e, CURLOPT_READDATA, x));
        CURL_TRY(curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek));
        CURL_TRY(curl_easy_setopt(e, CURLOPT_SEEKDATA, x));
        /* Without a size curl would send chunked encoding, which S3 rejects. */
        CURL_TRY(curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->body_len));
        CURL_TRY(curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024));
    } else if (!strcmp(x->method, "POST")) {
        CURL_TRY(curl_easy_setopt(e, CURLOPT_POST, 1L));
        CURL_TRY(curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body ? (const char *)x->body : ""));
        CURL_TRY(curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len));
    } else if (!strcmp(x->method, "HEAD")) {
        CURL_TRY(curl_easy_setopt(e, CURLOPT_NOBODY, 1L));
    } else if (strcmp(x->method, "GET") != 0) {
        CURL_TRY(curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method));
    }
    CURLMcode mc = curl_multi_add_handle(m, e);
    if (mc != CURLM_OK) return sp_fail(err, SP_ERR_STORE, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
    x->state = XF_ACTIVE;
    return SP_OK;
}

const char *s3_object_url(const s3_xfer *x, char *buf, size_t cap)
{
    const s3_store *st = x->st;
    const char *p = x->raw_path + 1;
    if (st->path_style) {
        p = strchr(p, '/');
        p = p ? p + 1 : "";
    }
    snprintf(buf, cap, "s3://%s/%s", st->bucket, p);
    return buf;
}

/* Turns the final attempt into a status and one line that names the
 * operation, the object, and S3's code and message (or curl's reason). */
static void xfer_fail(s3_xfer *x)
{
    char where[SP_OBJECT_KEY_MAX + 80];
    s3_object_url(x, where, sizeof(where));
    const s3_store *st = x->st;
    char tries[48] = "";
    if (x->attempt > 1) snprintf(tries, sizeof(tries), " (after %u attempts)", x->attempt);
    /* What sealpub's own retries gave up on may still work later; what S3
     * refused with a reason (403, NoSuchBucket) will not (exit 12 vs 7). */
    sp_s3_retry cls = sp_s3_classify((int)x->cc, x->status, x->xerr.code);
    x->retryable = cls == SP_S3_RETRY_TRANSIENT || cls == SP_S3_RETRY_THROTTLE;
    if (x->cc != CURLE_OK) {
        x->result = SP_ERR_STORE;
        s3_msgf(x->msg, sizeof(x->msg), "S3 %s %s failed: %s at %s: %s%s", x->op, where,
                 curl_easy_strerror(x->cc), st->endpoint_desc, x->curl_err[0] ? x->curl_err : "no detail", tries);
        return;
    }
    if (x->bucket_region[0] && (x->status == 301 || x->status == 307 || x->status == 400)) {
        s3_endpoint ep;
        s3_endpoint_get(x->st, &ep);
        if (strcmp(ep.region, x->bucket_region) != 0) {
            x->result = SP_ERR_STORE;
            s3_msgf(x->msg, sizeof(x->msg), "S3 %s %s failed: the bucket is in region %s, not %s%s", x->op, where,
                    x->bucket_region, ep.region,
                    x->st->region_explicit ? " (set AWS_REGION to the bucket's region)" : "");
            return;
        }
    }
    /* A missing bucket is a configuration problem, not a missing object. */
    x->result = x->status == 404 && strcmp(x->xerr.code, "NoSuchBucket") != 0 ? SP_ERR_NOT_FOUND : SP_ERR_STORE;
    const char *code = x->xerr.code[0] ? x->xerr.code : NULL;
    const char *msg = x->xerr.message[0] ? x->xerr.message : NULL;
    if (code)
        s3_msgf(x->msg, sizeof(x->msg), "S3 %s %s failed: HTTP %ld %s%s%s%s", x->op, where, x->status, code,
                 msg ? ": " : "", msg ? msg : "", tries);
    else
        s3_msgf(x->msg, sizeof(x->msg), "S3 %s %s failed: HTTP %ld%s%s", x->op, where, x->status,
                 x->status == 404 ? " Not Found" : x->status == 403 ? " Forbidden (check the credentials)" : "", tries);
}

static int on_region_elem(void *ctx, const char *path, const char *text, size_t len)
{
    s3_xfer *x = ctx;
    if (strcmp(path, "Error/Region") != 0) return 0;
    if (len && len < sizeof(x->bucket_region) && strspn(text, "abcdefghijklmnopqrstuvwxyz0123456789-") == len)
        memcpy(x->bucket_region, text, len + 1);
    return 1;
}

/* The answer says the request was signed or sent for another region than
 * the bucket's: 301 PermanentRedirect (HEAD has no body, only the header),
 * 400 AuthorizationHeaderMalformed or IllegalLocationConstraintException. */
static int region_mismatch(s3_xfer *x)
{
    if (x->status != 301 && x->status != 307 && x->status != 400) return 0;
    if (!x->bucket_region[0] && x->resp_len) {
        sp_error ignored;
        if (sp_s3_xml_walk(x->resp, x->resp_len, on_region_elem, x, &ignored) != SP_OK) x->bucket_region[0] = '\0';
    }
    if (!x->bucket_region[0]) return 0;
    s3_endpoint ep;
    s3_endpoint_get(x->st, &ep);
    return strcmp(ep.region, x->bucket_region) != 0;
}

/* One attempt finished: success, a scheduled retry, or a final failure. */
static void xfer_finished(CURLM *m, s3_xfer *x, CURLcode cc)
{
    curl_multi_remove_handle(m, x->easy);
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    if (cc == CURLE_WRITE_ERROR && x->dst_enough) cc = CURLE_OK;
    if (cc == CURLE_ABORTED_BY_CALLBACK && x->stalled) {
        cc = CURLE_OPERATION_TIMEDOUT;
        s3_msgf(x->curl_err, sizeof(x->curl_err), "no byte moved for %ld s", x->st->stall_seconds);
    }
    x->cc = cc;
    if (cc == CURLE_WRITE_ERROR && x->dst_overflow) {
        x->state = XF_DONE;
        x->result = SP_ERR_STORE;
        char where[SP_OBJECT_KEY_MAX + 80];
        s3_msgf(x->msg, sizeof(x->msg), "S3 %s %s failed: the server sent more bytes than the range asked for",
                 x->op, s3_object_url(x, where, sizeof(where)));
        return;
    }
    /* S3 may answer 200 and still fail (CompleteMultipartUpload): any body
     * whose root is <Error> is an error, whatever the status. */
    if (x->resp_len && cc == CURLE_OK) sp_s3_xml_parse_error(x->resp, x->resp_len, &x->xerr);
    sp_s3_retry cls = sp_s3_classify((int)cc, x->status, x->xerr.code);
    if (cls == SP_S3_DONE) {
        x->state = XF_DONE;
        x->result = SP_OK;
        return;
    }
    if (cls == SP_S3_FATAL && region_mismatch(x)) {
        /* Signed for the wrong region: S3 names the bucket's. Resent once
         * with it when the user left the region to us; the store's
         * description records the switch. */
        if (!x->st->region_explicit && !x->region_retried) {
            x->region_retried = 1;
            s3_endpoint_set_region(x->st, x->bucket_region);
            x->state = XF_BACKOFF;
            x->retry_at = sp_now();
            return;
        }
    }
    unsigned max = x->max_attempts ? x->max_attempts : x->st->max_attempts;
    if (cls != SP_S3_FATAL && x->attempt < max) {
        x->state = XF_BACKOFF;
        x->retry_at = sp_now() + sp_s3_backoff_seconds(cls, x->attempt, s3_jitter());
        return;
    }
    x->state = XF_DONE;
    xfer_fail(x);
}

/* One round of network work for the transfers in xs (those in backoff are
 * restarted when due). With block, waits for activity up to S3_POLL_MS
 * (less when a retry is due sooner); without, returns at once. Returns
 * SP_ERR_INTERRUPTED when the cancel flag is up (unless ignore_cancel),
 * else SP_OK; transfer outcomes are in each transfer's state. */
sp_status s3_drive(s3_store *st, CURLM *m, s3_xfer *const *xs, size_t n, int ignore_cancel, int block, sp_error *err)
{
    int running = 0;
    CURLMcode mc = curl_multi_perform(m, &running);
    if (mc != CURLM_OK) return sp_fail(err, SP_ERR_STORE, "curl_multi_perform: %s", curl_multi_strerror(mc));
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        s3_xfer *x = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x) xfer_finished(m, x, msg->data.result);
    }
    double now = sp_now(), wake = now + S3_POLL_MS / 1000.0;
    int restarted = 0;
    for (size_t i = 0; i < n; i++) {
        s3_xfer *x = xs[i];
        if (!x || x->state != XF_BACKOFF) continue;
        if (x->retry_at <= now) {
            sp_error e2;
            if (s3_xfer_start(m, x, &e2) != SP_OK) {
                x->state = XF_DONE;
                x->result = e2.status;
                snprintf(x->msg, sizeof(x->msg), "%s", e2.msg);
            }
            restarted = 1;
        } else if (x->retry_at < wake) {
            wake = x->retry_at;
        }
    }
    if (!ignore_cancel && s3_cancelled(st)) return sp_fail(err, SP_ERR_INTERRUPTED, "S3 transfer cancelled");
    if (restarted || !block) return SP_OK; /* a restart goes out with the next perform */
    int still_active = 0;
    for (size_t i = 0; i < n; i++) still_active |= xs[i] && xs[i]->state == XF_ACTIVE;
    if (!still_active && running == 0) {
        /* Nothing on the wire: just wait for the next retry time. */
        int any_backoff = 0;
        for (size_t i = 0; i < n; i++) any_backoff |= xs[i] && xs[i]->state == XF_BACKOFF;
        if (!any_backoff) return SP_OK;
    }
    int ms = (int)((wake - now) * 1000.0);
    if (ms < 0) ms = 0;
    if (ms > S3_POLL_MS) ms = S3_POLL_MS;
    mc = curl_multi_poll(m, NULL, 0, ms, NULL);
    if (mc != CURLM_OK) return sp_fail(err, SP_ERR_STORE, "curl_multi_poll: %s", curl_multi_strerror(mc));
    return SP_OK;
}

/* Takes x off the wire (after a cancel or a failure elsewhere). */
void s3_xfer_stop(CURLM *m, s3_xfer *x)
{
    if (x->state == XF_ACTIVE) curl_multi_remove_handle(m, x->easy);
    x->state = XF_IDLE;
}

/* Runs x to completion on m (or a private multi). */
sp_status s3_xfer_run(CURLM *m, s3_xfer *x, sp_error *err)
{
    CURLM *own = NULL;
    if (!m && !(m = own = curl_multi_init())) return sp_fail(err, SP_ERR_NOMEM, "curl_multi_init failed");
    sp_status s = s3_xfer_start(m, x, err);
    while (s == SP_OK && x->state != XF_DONE) {
        s3_xfer *one[1] = {x};
        s = s3_drive(x->st, m, one, 1, x->ignore_cancel, 1, err);
    }
    if (s != SP_OK) {
        s3_xfer_stop(m, x);
        if (s == SP_ERR_INTERRUPTED) {
            char where[SP_OBJECT_KEY_MAX + 80];
            sp_fail(err, s, "S3 %s %s interrupted", x->op, s3_object_url(x, where, sizeof(where)));
        }
    } else if (x->result != SP_OK) {
        s = sp_fail_as(err, x->result, x->retryable, "%s", x->msg);
    }
    if (own) curl_multi_cleanup(own);
    return s;
}
