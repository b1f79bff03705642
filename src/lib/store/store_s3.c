/* store_s3.c: the S3 store: SigV4-signed requests over libcurl multi, multipart upload from a fixed buffer pool, retries. */

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
 * drives the network inside put_write, put_commit and put_abort; between
 * those calls transfers make no progress, which S3 tolerates (a part left
 * idle too long fails with RequestTimeout and is resent). The store handle
 * itself is read-only after open, so several threads may each run their own
 * uploads and reads on one store.
 *
 * Each request is signed by the project's own SigV4 signer (sigv4.c) with a
 * fresh date per attempt; the URL path and query are exactly the encoded
 * forms the signer canonicalised, so what is sent is what was signed. Every
 * body is sent with its real SHA-256 and a Content-Length, never chunked.
 *
 * Failures: the outcome of every exchange goes through sp_s3_classify (in
 * store_s3.h) and is retried with full-jitter backoff up to max_attempts. A
 * failed or cancelled upload is aborted on the server (AbortMultipartUpload)
 * so no parts linger; commit then HEADs the object and compares its size
 * with what was written.
 */
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "store/s3_xml.h"
#include "store/sigv4.h"
#include "store/store.h"
#include "store/store_s3.h"

#define S3_MIB ((size_t)1 << 20)
#define S3_PART_MIN (5 * S3_MIB)
#define S3_PART_MAX ((size_t)5 << 30)
#define S3_PART_DEFAULT (8 * S3_MIB)
#define S3_PARTS_MAX 10000u
#define S3_PARTS_PER_DOUBLING 1000u
#define S3_INFLIGHT_DEFAULT 4
#define S3_INFLIGHT_MAX 32
#define S3_ATTEMPTS_DEFAULT 5
#define S3_ATTEMPTS_MAX 20
#define S3_STALL_DEFAULT 30
#define S3_RESP_MAX ((size_t)4 << 20) /* XML bodies; a ListMultipartUploads page is well under */
#define S3_ETAG_MAX 128
#define S3_POLL_MS 100 /* also how quickly the cancel flag is noticed */
#define S3_SECRET_MAX SP_SIGV4_SECRET_MAX
#define S3_TOKEN_MAX 8192
#define S3_PATH_MAX (SP_OBJECT_KEY_MAX + 80)
#define S3_QUERY_MAX 4096

/* Formats a one-line message; long keys are cut at the buffer's end on
 * purpose (messages are bounded like every other buffer). */
static void msgf(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void msgf(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------------
 * Retry policy: the one place that maps an outcome to a retry class.
 */

static int code_in(const char *code, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(code, list[i])) return 1;
    return 0;
}

sp_s3_retry sp_s3_classify(int curl_code, long http_status, const char *s3_code)
{
    /* S3 and compatible servers ask to slow down under these names. */
    static const char *const throttle[] = {"SlowDown", "Throttling", "ThrottlingException", "ThrottledException",
                                           "RequestThrottled", "RequestThrottledException", "TooManyRequestsException",
                                           "RequestLimitExceeded", "BandwidthLimitExceeded", "ProvisionedThroughputExceededException",
                                           "PriorRequestNotComplete", "EC2ThrottledException"};
    static const char *const transient[] = {"RequestTimeout", "RequestTimeoutException", "InternalError",
                                            "ServiceUnavailable", "InternalFailure", "OperationAborted"};
    if (curl_code != CURLE_OK) {
        switch ((CURLcode)curl_code) {
        /* The network failed mid-exchange or a stalled transfer was cut
         * (CURLE_OPERATION_TIMEDOUT is the low-speed limit): resend. */
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_WEIRD_SERVER_REPLY:
            return SP_S3_RETRY_TRANSIENT;
        default:
            /* Certificate problems, bad URLs, our own write-callback aborts:
             * a resend would fail the same way. */
            return SP_S3_FATAL;
        }
    }
    const char *code = s3_code ? s3_code : "";
    if (*code && code_in(code, throttle, SP_ARRAY_LEN(throttle))) return SP_S3_RETRY_THROTTLE;
    if (*code && code_in(code, transient, SP_ARRAY_LEN(transient))) return SP_S3_RETRY_TRANSIENT;
    if (http_status >= 200 && http_status < 300) return *code ? SP_S3_FATAL : SP_S3_DONE;
    if (http_status == 429) return SP_S3_RETRY_THROTTLE;
    if (http_status == 503) return SP_S3_RETRY_THROTTLE;
    if (http_status == 500 || http_status == 502 || http_status == 504 || http_status == 408)
        return SP_S3_RETRY_TRANSIENT;
    return SP_S3_FATAL;
}

double sp_s3_backoff_seconds(sp_s3_retry cls, unsigned retry, double jitter01)
{
    double base = cls == SP_S3_RETRY_THROTTLE ? 1.0 : 0.1, cap = 20.0;
    double ceiling = base;
    for (unsigned i = 1; i < retry && ceiling < cap; i++) ceiling *= 2;
    if (ceiling > cap) ceiling = cap;
    if (jitter01 < 0) jitter01 = 0;
    if (jitter01 >= 1) jitter01 = 0.999999;
    return ceiling * jitter01;
}

static double jitter(void)
{
    uint32_t r;
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1) return 0.5;
    return (double)r / 4294967296.0;
}

/* ---------------------------------------------------------------------------
 * Cancel flag.
 */

static volatile const int *g_cancel;

void sp_s3_set_cancel_flag(volatile const int *flag) { __atomic_store_n(&g_cancel, flag, __ATOMIC_RELEASE); }

static int cancelled(void)
{
    volatile const int *f = __atomic_load_n(&g_cancel, __ATOMIC_ACQUIRE);
    /* Atomic, not merely volatile: the flag may be set by another thread. */
    return f && __atomic_load_n(f, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------------------
 * The store handle: read-only after open.
 */

typedef struct s3_store {
    char bucket[64];
    char prefix[SP_OBJECT_KEY_MAX]; /* no leading or trailing '/'; may be "" */
    char base[300];                 /* "https://host[:port]" */
    char host[280];                 /* the Host header, signed */
    char endpoint_desc[300];        /* for messages; never credentials */
    int path_style;
    char region[64];
    char access_key[129];
    char *secret; /* sp_secret_alloc'ed, S3_SECRET_MAX + 1 */
    char *token;  /* sp_secret_alloc'ed, S3_TOKEN_MAX + 1; "" if none */
    char cainfo[1024];
    size_t part_size;
    unsigned parts_in_flight, max_attempts;
    long stall_seconds;
} s3_store;

/* ---------------------------------------------------------------------------
 * One HTTP exchange with its retries.
 */

enum { XF_IDLE = 0, XF_ACTIVE, XF_BACKOFF, XF_DONE };

typedef struct s3_xfer {
    s3_store *st;
    /* The request, set before xfer_start. */
    const char *method;
    char op[48];                /* "UploadPart 17": names the operation in messages */
    char raw_path[S3_PATH_MAX]; /* unencoded; the signer encodes it */
    char query[S3_QUERY_MAX];   /* raw; values already percent-encoded */
    const uint8_t *body;
    size_t body_len;
    char body_sha[65];
    const char *content_type;
    char range[64];
    uint8_t *dst; /* GET: where a 2xx body goes (else into resp) */
    size_t dst_cap;
    int ignore_cancel; /* the abort that follows a cancel must still run */
    unsigned max_attempts; /* 0: the store's setting */

    /* The response of the latest attempt. */
    long status;
    CURLcode cc;
    char curl_err[CURL_ERROR_SIZE];
    char *resp;
    size_t resp_len, resp_cap;
    size_t dst_len;
    int dst_overflow, dst_enough;
    char etag[S3_ETAG_MAX];
    uint64_t content_length;
    int has_length;
    sp_s3_xml_error xerr;

    /* Progress. */
    curl_off_t moved;  /* bytes up + down seen by the stall watchdog */
    double last_move;  /* sp_now() when moved last changed */
    int stalled;       /* the watchdog cut this attempt */
    CURL *easy;
    struct curl_slist *hdrs;
    size_t sent;
    unsigned attempt;
    double retry_at;
    int state;
    sp_status result;
    char msg[sizeof(((sp_error *)0)->msg)];
} s3_xfer;

static void xfer_init(s3_xfer *x, s3_store *st, const char *method, const char *op)
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

static void xfer_release(s3_xfer *x)
{
    if (x->easy) curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    free(x->resp);
    x->easy = NULL;
    x->hdrs = NULL;
    x->resp = NULL;
    x->resp_cap = 0;
}

static void sha256_hex(const void *p, size_t n, char out[65])
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

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    s3_xfer *x = ud;
    size_t len = size * n;
    /* A new status line (after "100 Continue") starts a new header set. */
    if (len >= 5 && !memcmp(data, "HTTP/", 5)) {
        x->etag[0] = '\0';
        x->has_length = 0;
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon) return len;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) end--;
    size_t vlen = (size_t)(end - v);
    if (nlen == 4 && !strncasecmp(data, "ETag", 4)) {
        if (vlen < sizeof(x->etag)) {
            memcpy(x->etag, v, vlen);
            x->etag[vlen] = '\0';
        }
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

/* Builds, signs and hands one attempt to the multi handle. */
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

static sp_status xfer_start(CURLM *m, s3_xfer *x, sp_error *err)
{
    s3_store *st = x->st;
    x->status = 0;
    x->cc = CURLE_OK;
    x->curl_err[0] = '\0';
    x->resp_len = 0;
    x->dst_len = 0;
    x->dst_overflow = x->dst_enough = 0;
    x->etag[0] = '\0';
    x->has_length = 0;
    x->sent = 0;
    memset(&x->xerr, 0, sizeof(x->xerr));
    x->attempt++;

    char path[3 * S3_PATH_MAX], query[3 * S3_QUERY_MAX], url[sizeof(st->base) + sizeof(path) + sizeof(query) + 2];
    SP_TRY(sp_sigv4_encode_path(x->raw_path, path, sizeof(path), err));
    SP_TRY(sp_sigv4_canonical_query(x->query, query, sizeof(query), err));
    snprintf(url, sizeof(url), "%s%s%s%s", st->base, path, *query ? "?" : "", query);

    char date[SP_SIGV4_AMZ_DATE_LEN + 1];
    sp_sigv4_amz_date(time(NULL), date);
    sp_sigv4_header h[3];
    size_t nh = 0;
    h[nh++] = (sp_sigv4_header){"host", st->host};
    if (x->content_type) h[nh++] = (sp_sigv4_header){"content-type", x->content_type};
    if (x->range[0]) h[nh++] = (sp_sigv4_header){"range", x->range};
    sp_sigv4_request rq = {
        .method = x->method, .path = x->raw_path, .query = x->query, .headers = h, .n_headers = nh,
        .payload_sha256 = x->body_sha, .amz_date = date, .region = st->region, .service = "s3",
        .access_key = st->access_key, .secret_key = st->secret, .session_token = st->token,
        .flags = SP_SIGV4_SIGN_CONTENT_SHA256,
    };
    sp_sigv4_result *sig = malloc(sizeof(*sig));
    if (!sig) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    sp_status s = sp_sigv4_sign(&rq, sig, err);

    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    if (s == SP_OK) s = add_header(&x->hdrs, "Host", st->host, err);
    if (s == SP_OK) s = add_header(&x->hdrs, "x-amz-date", date, err);
    if (s == SP_OK) s = add_header(&x->hdrs, "x-amz-content-sha256", x->body_sha, err);
    if (s == SP_OK && st->token[0]) s = add_header(&x->hdrs, "x-amz-security-token", st->token, err);
    if (s == SP_OK && x->content_type) s = add_header(&x->hdrs, "Content-Type", x->content_type, err);
    if (s == SP_OK && x->range[0]) s = add_header(&x->hdrs, "Range", x->range, err);
    if (s == SP_OK) s = add_header(&x->hdrs, "Authorization", sig->authorization, err);
    OPENSSL_cleanse(sig, sizeof(*sig));
    free(sig);
    SP_TRY(s);

    if (!x->easy && !(x->easy = curl_easy_init())) return sp_fail(err, SP_ERR_NOMEM, "curl_easy_init failed");
    CURL *e = x->easy;
    curl_easy_reset(e);
    CURL_TRY(curl_easy_setopt(e, CURLOPT_URL, url));
    CURL_TRY(curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"));
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

static const char *object_url(const s3_xfer *x, char *buf, size_t cap)
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
    object_url(x, where, sizeof(where));
    const s3_store *st = x->st;
    char tries[48] = "";
    if (x->attempt > 1) snprintf(tries, sizeof(tries), " (after %u attempts)", x->attempt);
    if (x->cc != CURLE_OK) {
        x->result = SP_ERR_STORE;
        msgf(x->msg, sizeof(x->msg), "S3 %s %s failed: %s at %s: %s%s", x->op, where,
                 curl_easy_strerror(x->cc), st->endpoint_desc, x->curl_err[0] ? x->curl_err : "no detail", tries);
        return;
    }
    /* A missing bucket is a configuration problem, not a missing object. */
    x->result = x->status == 404 && strcmp(x->xerr.code, "NoSuchBucket") != 0 ? SP_ERR_NOT_FOUND : SP_ERR_STORE;
    const char *code = x->xerr.code[0] ? x->xerr.code : NULL;
    const char *msg = x->xerr.message[0] ? x->xerr.message : NULL;
    if (code)
        msgf(x->msg, sizeof(x->msg), "S3 %s %s failed: HTTP %ld %s%s%s%s", x->op, where, x->status, code,
                 msg ? ": " : "", msg ? msg : "", tries);
    else
        msgf(x->msg, sizeof(x->msg), "S3 %s %s failed: HTTP %ld%s%s", x->op, where, x->status,
                 x->status == 404 ? " Not Found" : x->status == 403 ? " Forbidden (check the credentials)" : "", tries);
}

/* One attempt finished: success, a scheduled retry, or a final failure. */
static void xfer_finished(CURLM *m, s3_xfer *x, CURLcode cc)
{
    curl_multi_remove_handle(m, x->easy);
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    if (cc == CURLE_WRITE_ERROR && x->dst_enough) cc = CURLE_OK;
    if (cc == CURLE_ABORTED_BY_CALLBACK && x->stalled) {
        cc = CURLE_OPERATION_TIMEDOUT;
        msgf(x->curl_err, sizeof(x->curl_err), "no byte moved for %ld s", x->st->stall_seconds);
    }
    x->cc = cc;
    if (cc == CURLE_WRITE_ERROR && x->dst_overflow) {
        x->state = XF_DONE;
        x->result = SP_ERR_STORE;
        char where[SP_OBJECT_KEY_MAX + 80];
        msgf(x->msg, sizeof(x->msg), "S3 %s %s failed: the server sent more bytes than the range asked for",
                 x->op, object_url(x, where, sizeof(where)));
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
    unsigned max = x->max_attempts ? x->max_attempts : x->st->max_attempts;
    if (cls != SP_S3_FATAL && x->attempt < max) {
        x->state = XF_BACKOFF;
        x->retry_at = sp_now() + sp_s3_backoff_seconds(cls, x->attempt, jitter());
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
static sp_status drive(CURLM *m, s3_xfer *const *xs, size_t n, int ignore_cancel, int block, sp_error *err)
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
            if (xfer_start(m, x, &e2) != SP_OK) {
                x->state = XF_DONE;
                x->result = e2.status;
                snprintf(x->msg, sizeof(x->msg), "%s", e2.msg);
            }
            restarted = 1;
        } else if (x->retry_at < wake) {
            wake = x->retry_at;
        }
    }
    if (!ignore_cancel && cancelled()) return sp_fail(err, SP_ERR_INTERRUPTED, "S3 transfer cancelled");
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
static void xfer_stop(CURLM *m, s3_xfer *x)
{
    if (x->state == XF_ACTIVE) curl_multi_remove_handle(m, x->easy);
    x->state = XF_IDLE;
}

/* Runs x to completion on m (or a private multi). */
static sp_status xfer_run(CURLM *m, s3_xfer *x, sp_error *err)
{
    CURLM *own = NULL;
    if (!m && !(m = own = curl_multi_init())) return sp_fail(err, SP_ERR_NOMEM, "curl_multi_init failed");
    sp_status s = xfer_start(m, x, err);
    while (s == SP_OK && x->state != XF_DONE) {
        s3_xfer *one[1] = {x};
        s = drive(m, one, 1, x->ignore_cancel, 1, err);
    }
    if (s != SP_OK) {
        xfer_stop(m, x);
        if (s == SP_ERR_INTERRUPTED) {
            char where[SP_OBJECT_KEY_MAX + 80];
            sp_fail(err, s, "S3 %s %s interrupted", x->op, object_url(x, where, sizeof(where)));
        }
    } else if (x->result != SP_OK) {
        s = sp_fail(err, x->result, "%s", x->msg);
    }
    if (own) curl_multi_cleanup(own);
    return s;
}

/* ---------------------------------------------------------------------------
 * Paths and keys.
 */

static sp_status object_key(const s3_store *st, const char *key, char *out, size_t cap, sp_error *err)
{
    if (!key || !*key || key[0] == '/' || strstr(key, "//"))
        return sp_fail(err, SP_ERR_USAGE, "invalid S3 object key '%.200s'", key ? key : "");
    int n = st->prefix[0] ? snprintf(out, cap, "%s/%s", st->prefix, key) : snprintf(out, cap, "%s", key);
    if (n < 0 || (size_t)n >= cap || (size_t)n >= SP_OBJECT_KEY_MAX)
        return sp_fail(err, SP_ERR_USAGE, "S3 object key longer than %d bytes", SP_OBJECT_KEY_MAX - 1);
    return SP_OK;
}

/* The unencoded request path of an object ("" key: the bucket itself). */
static void raw_path(const s3_store *st, const char *full_key, char *out, size_t cap)
{
    if (st->path_style)
        snprintf(out, cap, "/%s%s%s", st->bucket, *full_key ? "/" : "", full_key);
    else
        snprintf(out, cap, "/%s", full_key);
}

static sp_status query_param(char *q, size_t cap, const char *name, const char *value, sp_error *err)
{
    size_t len = strlen(q);
    int n = snprintf(q + len, cap - len, "%s%s=", len ? "&" : "", name);
    if (n < 0 || (size_t)n >= cap - len) return sp_fail(err, SP_ERR_INTERNAL, "S3 query too long");
    len += (size_t)n;
    if (sp_sigv4_uri_encode(value, strlen(value), 0, q + len, cap - len) != 0)
        return sp_fail(err, SP_ERR_USAGE, "S3 query value too long");
    return SP_OK;
}

/* ---------------------------------------------------------------------------
 * Upload.
 */

typedef struct part_buf {
    uint8_t *data;
    size_t cap, len;
    unsigned part_no;
    int busy; /* on the wire or waiting to be resent: the bytes must stay */
    s3_xfer x;
} part_buf;

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
    s3_xfer ctl;                  /* Create, Complete, Abort, Head, Delete */
    sp_status failed;             /* first failure; later calls return it */
    char fail_msg[sizeof(((sp_error *)0)->msg)];
    int aborted;
};

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

static sp_status report(const sp_upload *up, sp_error *err) { return sp_fail(err, up->failed, "%s", up->fail_msg); }

/* Collects the parts that finished: their ETags, or the first failure. */
static void reap_parts(sp_upload *up)
{
    for (unsigned i = 0; i < up->nbuf; i++) {
        part_buf *b = &up->bufs[i];
        if (!b->busy || b->x.state != XF_DONE) continue;
        b->busy = 0;
        b->x.state = XF_IDLE;
        if (b->x.result != SP_OK) {
            upload_failed(up, b->x.result, b->x.msg);
        } else if (!b->x.etag[0]) {
            char m[160];
            msgf(m, sizeof(m), "S3 UploadPart %u of s3://%s/%.60s: the response had no ETag", b->part_no,
                     up->st->bucket, up->key);
            upload_failed(up, SP_ERR_STORE, m);
        } else {
            snprintf(up->etags[b->part_no - 1], S3_ETAG_MAX, "%s", b->x.etag);
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
    sp_status s = drive(up->multi, xs, n, 0, block, err);
    reap_parts(up);
    return s;
}

static unsigned busy_parts(const sp_upload *up)
{
    unsigned n = 0;
    for (unsigned i = 0; i < up->nbuf; i++) n += up->bufs[i].busy != 0;
    return n;
}

static sp_status list_uploads(s3_store *st, int (*fn)(void *, const sp_s3_upload_info *), void *ctx, sp_error *err);

/* Aborts one multipart upload by key and id (absent counts as done). */
static sp_status abort_by_id(s3_store *st, const char *key, const char *upload_id, sp_error *err)
{
    s3_xfer x = {0};
    xfer_init(&x, st, "DELETE", "AbortMultipartUpload");
    raw_path(st, key, x.raw_path, sizeof(x.raw_path));
    sp_status s = query_param(x.query, sizeof(x.query), "uploadId", upload_id, err);
    if (s == SP_OK) s = xfer_run(NULL, &x, err);
    xfer_release(&x);
    return s == SP_ERR_NOT_FOUND ? SP_OK : s;
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
        (void)abort_by_id(c->up->st, u->key, u->upload_id, &e);
    return 0;
}

static sp_status create_multipart(sp_upload *up, sp_error *err)
{
    s3_xfer *x = &up->ctl;
    time_t started = time(NULL);
    xfer_init(x, up->st, "POST", "CreateMultipartUpload");
    snprintf(x->raw_path, sizeof(x->raw_path), "%s", up->path);
    snprintf(x->query, sizeof(x->query), "uploads=");
    x->content_type = "application/octet-stream";
    SP_TRY(xfer_run(up->multi, x, err));
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
        (void)list_uploads(up->st, abort_if_lost, &c, &xe);
    }
    return SP_OK;
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
        up->etags_cap = cap;
    }
    up->etags[no - 1][0] = '\0';
    b->part_no = no;
    s3_xfer *x = &b->x;
    char op[32];
    snprintf(op, sizeof(op), "UploadPart %u", no);
    xfer_init(x, up->st, "PUT", op);
    snprintf(x->raw_path, sizeof(x->raw_path), "%s", up->path);
    x->query[0] = '\0';
    char num[16];
    snprintf(num, sizeof(num), "%u", no);
    SP_TRY(query_param(x->query, sizeof(x->query), "partNumber", num, err));
    SP_TRY(query_param(x->query, sizeof(x->query), "uploadId", up->upload_id, err));
    x->body = b->data;
    x->body_len = b->len;
    sha256_hex(b->data, b->len, x->body_sha);
    b->busy = 1;
    sp_status s = xfer_start(up->multi, x, err);
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
            b->len = 0;
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
        if (up->bufs[i].busy) xfer_stop(up->multi, &up->bufs[i].x);
        up->bufs[i].busy = 0;
    }
    if (!up->multipart || up->aborted) return;
    up->aborted = 1;
    s3_xfer *x = &up->ctl;
    xfer_init(x, up->st, "DELETE", "AbortMultipartUpload");
    snprintf(x->raw_path, sizeof(x->raw_path), "%s", up->path);
    sp_error e;
    if (query_param(x->query, sizeof(x->query), "uploadId", up->upload_id, &e) != SP_OK) return;
    x->ignore_cancel = 1;
    /* After a cancel the user is waiting: one retry at most. */
    if (cancelled()) x->max_attempts = 2;
    (void)xfer_run(up->multi, x, &e);
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
        upload_failed(up, s, err ? err->msg : "S3 upload failed");
    }
    abort_upload(up);
    return report(up, err);
}

static void free_upload(sp_upload *up)
{
    if (!up) return;
    for (unsigned i = 0; i < up->nbuf; i++) {
        xfer_stop(up->multi, &up->bufs[i].x);
        xfer_release(&up->bufs[i].x);
        free(up->bufs[i].data);
    }
    xfer_stop(up->multi, &up->ctl);
    xfer_release(&up->ctl);
    if (up->multi) curl_multi_cleanup(up->multi);
    free(up->bufs);
    free(up->etags);
    free(up);
}

static sp_status s3_put_begin(void *impl, const char *key, uint64_t size_hint, sp_upload **out, sp_error *err)
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
    sp_status s = object_key(st, key, up->key, sizeof(up->key), err);
    if (s == SP_OK) {
        raw_path(st, up->key, up->path, sizeof(up->path));
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
    }
    if (s != SP_OK) {
        free_upload(up);
        return s;
    }
    *out = up;
    return SP_OK;
}

static sp_status s3_put_write(sp_upload *up, const void *buf, size_t len, sp_error *err)
{
    if (up->failed) return report(up, err);
    if (cancelled()) return fail_upload(up, SP_ERR_INTERRUPTED, err);
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
        memcpy(b->data + b->len, p, n);
        b->len += n;
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

/* Between writes: parts already on the wire keep moving while the input
 * pauses (a docker save reading a large layer), so curl's stall timer only
 * ever measures the server. */
static sp_status s3_put_poll(sp_upload *up, sp_error *err)
{
    if (up->failed) return report(up, err);
    if (cancelled()) return fail_upload(up, SP_ERR_INTERRUPTED, err);
    if (!busy_parts(up)) return SP_OK;
    sp_status s = pump(up, 0, err);
    if (s == SP_OK && up->failed) s = up->failed;
    if (s != SP_OK) return fail_upload(up, s, err);
    return SP_OK;
}

static sp_status head_size(s3_store *st, CURLM *m, s3_xfer *x, const char *path, int ignore_cancel, uint64_t *size,
                           sp_error *err)
{
    xfer_init(x, st, "HEAD", "HeadObject");
    x->ignore_cancel = ignore_cancel;
    snprintf(x->raw_path, sizeof(x->raw_path), "%s", path);
    SP_TRY(xfer_run(m, x, err));
    if (!x->has_length) {
        char where[SP_OBJECT_KEY_MAX + 80];
        return sp_fail(err, SP_ERR_STORE, "S3 HeadObject %s: no Content-Length in the response",
                       object_url(x, where, sizeof(where)));
    }
    *size = x->content_length;
    return SP_OK;
}

/* The ETag list for CompleteMultipartUpload; ETags are escaped for XML. */
static char *complete_body(const sp_upload *up, size_t *len, sp_error *err)
{
    size_t cap = 128 + (size_t)up->parts * (64 + 6 * S3_ETAG_MAX), n = 0;
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
        n += (size_t)snprintf(b + n, cap - n, "</ETag></Part>");
    }
    n += (size_t)snprintf(b + n, cap - n, "</CompleteMultipartUpload>");
    *len = n;
    return b;
}

static sp_status complete_multipart(sp_upload *up, sp_error *err)
{
    size_t len = 0;
    char *body = complete_body(up, &len, err);
    if (!body) return SP_ERR_NOMEM;
    s3_xfer *x = &up->ctl;
    xfer_init(x, up->st, "POST", "CompleteMultipartUpload");
    snprintf(x->raw_path, sizeof(x->raw_path), "%s", up->path);
    sp_status s = query_param(x->query, sizeof(x->query), "uploadId", up->upload_id, err);
    x->body = (const uint8_t *)body;
    x->body_len = len;
    x->content_type = "application/xml";
    /* A Complete cut short by a cancel may still take effect on the server;
     * it is short, so it runs to its end and the commit finishes. */
    x->ignore_cancel = 1;
    sha256_hex(body, len, x->body_sha);
    if (s == SP_OK) s = xfer_run(up->multi, x, err);
    /* A Complete that succeeded on the server but whose answer was lost is
     * retried and then finds no such upload: the size check below decides. */
    if (s == SP_ERR_NOT_FOUND && x->attempt > 1 && !strcmp(x->xerr.code, "NoSuchUpload")) s = SP_OK;
    free(body);
    if (s == SP_OK) up->aborted = 1; /* completed: nothing left to abort */
    return s;
}

static sp_status s3_put_commit(sp_upload *up, sp_error *err)
{
    sp_status s = up->failed ? report(up, err) : SP_OK;
    if (s == SP_OK && cancelled()) s = sp_fail(err, SP_ERR_INTERRUPTED, "cancelled");
    if (s == SP_OK && !up->multipart) {
        /* Everything fits in one part: a single PUT. */
        s3_xfer *x = &up->ctl;
        xfer_init(x, up->st, "PUT", "PutObject");
        snprintf(x->raw_path, sizeof(x->raw_path), "%s", up->path);
        x->body = up->cur ? up->cur->data : NULL;
        x->body_len = up->cur ? up->cur->len : 0;
        x->content_type = "application/octet-stream";
        sha256_hex(x->body ? (const void *)x->body : "", x->body_len, x->body_sha);
        s = xfer_run(up->multi, x, err);
    } else if (s == SP_OK) {
        if (up->cur && up->cur->len) {
            part_buf *b = up->cur;
            up->cur = NULL;
            s = submit_part(up, b, err);
        }
        while (s == SP_OK && busy_parts(up)) s = pump(up, 1, err);
        if (s == SP_OK && up->failed) s = report(up, err);
        if (s == SP_OK) s = complete_multipart(up, err);
    }
    uint64_t size = 0;
    /* Once Complete is sent the object may exist: finish the check even if
     * a cancel arrives now, rather than leave it unverified. */
    if (s == SP_OK) s = head_size(up->st, up->multi, &up->ctl, up->path, 1, &size, err);
    if (s == SP_OK && size != up->written) {
        /* The object is visible but wrong: remove it rather than let a
         * registry row point at it. */
        s3_xfer *x = &up->ctl;
        xfer_init(x, up->st, "DELETE", "DeleteObject");
        snprintf(x->raw_path, sizeof(x->raw_path), "%s", up->path);
        x->ignore_cancel = 1;
        sp_error e;
        (void)xfer_run(up->multi, x, &e);
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

static void s3_put_abort(sp_upload *up)
{
    if (!up) return;
    abort_upload(up);
    free_upload(up);
}

/* ---------------------------------------------------------------------------
 * Reads and deletes.
 */

static sp_status s3_stat(void *impl, const char *key, uint64_t *size, sp_error *err)
{
    s3_store *st = impl;
    char full[SP_OBJECT_KEY_MAX], path[S3_PATH_MAX];
    SP_TRY(object_key(st, key, full, sizeof(full), err));
    raw_path(st, full, path, sizeof(path));
    s3_xfer x = {0};
    sp_status s = head_size(st, NULL, &x, path, 0, size, err);
    xfer_release(&x);
    return s;
}

static sp_status s3_read_range(void *impl, const char *key, uint64_t off, void *buf, size_t len, sp_error *err)
{
    s3_store *st = impl;
    char full[SP_OBJECT_KEY_MAX];
    SP_TRY(object_key(st, key, full, sizeof(full), err));
    if (len == 0) return SP_OK;
    s3_xfer x = {0};
    xfer_init(&x, st, "GET", "GetObject");
    raw_path(st, full, x.raw_path, sizeof(x.raw_path));
    snprintf(x.range, sizeof(x.range), "bytes=%llu-%llu", (unsigned long long)off,
             (unsigned long long)(off + len - 1));
    x.dst = buf;
    x.dst_cap = len;
    sp_status s = xfer_run(NULL, &x, err);
    if (s == SP_OK && x.status == 200 && off != 0)
        s = sp_fail(err, SP_ERR_STORE, "S3 GetObject s3://%s/%.300s: the server ignored the Range header",
                    st->bucket, full);
    else if (s == SP_OK && x.dst_len != len)
        s = sp_fail(err, SP_ERR_TRUNCATED, "S3 object s3://%s/%.300s ends before byte %llu (got %zu of %zu bytes at %llu)",
                    st->bucket, full, (unsigned long long)(off + len), x.dst_len, len, (unsigned long long)off);
    else if (s == SP_ERR_STORE && x.status == 416)
        s = sp_fail(err, SP_ERR_TRUNCATED, "S3 object s3://%s/%.300s ends before offset %llu", st->bucket, full,
                    (unsigned long long)off);
    xfer_release(&x);
    return s;
}

static sp_status s3_remove(void *impl, const char *key, sp_error *err)
{
    s3_store *st = impl;
    char full[SP_OBJECT_KEY_MAX];
    SP_TRY(object_key(st, key, full, sizeof(full), err));
    s3_xfer x = {0};
    xfer_init(&x, st, "DELETE", "DeleteObject");
    raw_path(st, full, x.raw_path, sizeof(x.raw_path));
    sp_status s = xfer_run(NULL, &x, err);
    /* Absent is not an error (S3 itself answers 204 either way, but
     * compatible servers may say 404 NoSuchKey). */
    if (s == SP_ERR_NOT_FOUND && strcmp(x.xerr.code, "NoSuchBucket") != 0) s = SP_OK;
    xfer_release(&x);
    return s;
}

static void s3_close(void *impl)
{
    s3_store *st = impl;
    if (!st) return;
    sp_secret_free(st->secret, S3_SECRET_MAX + 1);
    sp_secret_free(st->token, S3_TOKEN_MAX + 1);
    OPENSSL_cleanse(st, sizeof(*st));
    free(st);
}

static const sp_store_ops s3_ops = {
    .scheme = "s3",
    .put_begin = s3_put_begin,
    .put_write = s3_put_write,
    .put_poll = s3_put_poll,
    .put_commit = s3_put_commit,
    .put_abort = s3_put_abort,
    .stat = s3_stat,
    .read_range = s3_read_range,
    .remove = s3_remove,
    .close = s3_close,
};

/* ---------------------------------------------------------------------------
 * Opening: URL, endpoint, credentials and tuning from the environment.
 */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static sp_status env_long(const char *name, long min, long max, long dflt, long *out, sp_error *err)
{
    const char *v = env(name);
    if (!v) {
        *out = dflt;
        return SP_OK;
    }
    char *e;
    long n = strtol(v, &e, 10);
    if (*e || e == v || n < min || n > max)
        return sp_fail(err, SP_ERR_USAGE, "%s must be a whole number from %ld to %ld, not '%.40s'", name, min, max, v);
    *out = n;
    return SP_OK;
}

static int valid_bucket(const char *b, size_t n)
{
    if (n < 3 || n > 63) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return 0;
    }
    return b[0] != '.' && b[0] != '-' && b[n - 1] != '.' && b[n - 1] != '-';
}

static sp_status parse_url(s3_store *st, const char *url, sp_error *err)
{
    if (!url || strncmp(url, "s3://", 5) != 0)
        return sp_fail(err, SP_ERR_USAGE, "S3 store URL must look like s3://BUCKET[/PREFIX]");
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    /* Credentials belong in AWS_* variables; never echo what looks like one. */
    if (memchr(b, '@', bl) || memchr(b, ':', bl))
        return sp_fail(err, SP_ERR_USAGE,
                       "S3 store URL must not carry credentials (use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)");
    if (!valid_bucket(b, bl))
        return sp_fail(err, SP_ERR_USAGE, "invalid S3 bucket name '%.*s' (3-63 of a-z 0-9 . -)", (int)(bl > 80 ? 80 : bl), b);
    memcpy(st->bucket, b, bl);
    st->bucket[bl] = '\0';
    const char *p = slash ? slash : "";
    while (*p == '/') p++;
    size_t pl = strlen(p);
    while (pl && p[pl - 1] == '/') pl--;
    if (pl >= 512) return sp_fail(err, SP_ERR_USAGE, "S3 prefix longer than 511 bytes");
    memcpy(st->prefix, p, pl);
    st->prefix[pl] = '\0';
    if (strstr(st->prefix, "//")) return sp_fail(err, SP_ERR_USAGE, "S3 prefix '%s' has an empty segment", st->prefix);
    return SP_OK;
}

static sp_status parse_endpoint(s3_store *st, sp_error *err)
{
    const char *var = env("AWS_ENDPOINT_URL_S3") ? "AWS_ENDPOINT_URL_S3" : "AWS_ENDPOINT_URL";
    const char *ep = env(var);
    if (!ep) {
        /* AWS: virtual-hosted style, except for buckets with dots, which
         * the *.s3 wildcard certificate cannot cover. */
        st->path_style = strchr(st->bucket, '.') != NULL;
        if (st->path_style) snprintf(st->host, sizeof(st->host), "s3.%s.amazonaws.com", st->region);
        else snprintf(st->host, sizeof(st->host), "%s.s3.%s.amazonaws.com", st->bucket, st->region);
        snprintf(st->base, sizeof(st->base), "https://%s", st->host);
        snprintf(st->endpoint_desc, sizeof(st->endpoint_desc), "%s", st->base);
        return SP_OK;
    }
    const char *auth;
    if (!strncmp(ep, "https://", 8)) auth = ep + 8;
    else if (!strncmp(ep, "http://", 7)) auth = ep + 7;
    else return sp_fail(err, SP_ERR_USAGE, "%s must start with http:// or https://", var);
    size_t al = strcspn(auth, "/?#");
    const char *rest = auth + al;
    if (al == 0 || al >= sizeof(st->host)) return sp_fail(err, SP_ERR_USAGE, "%s has no usable host", var);
    /* Credentials belong in AWS_* variables, never in a URL that ends up
     * in messages. */
    if (memchr(auth, '@', al)) return sp_fail(err, SP_ERR_USAGE, "%s must not contain user:password@", var);
    for (size_t i = 0; i < al; i++) {
        char c = auth[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(".-:[]_", c)))
            return sp_fail(err, SP_ERR_USAGE, "%s has an invalid host", var);
    }
    if (*rest && strcmp(rest, "/") != 0)
        return sp_fail(err, SP_ERR_USAGE, "%s must be scheme://host[:port] without a path", var);
    memcpy(st->host, auth, al);
    st->host[al] = '\0';
    snprintf(st->base, sizeof(st->base), "%.*s", (int)(auth - ep + al), ep);
    snprintf(st->endpoint_desc, sizeof(st->endpoint_desc), "%s", st->base);
    /* Custom endpoints (gateways, IP addresses) get path-style addressing. */
    st->path_style = 1;
    return SP_OK;
}

static sp_status load_config(s3_store *st, sp_error *err)
{
    const char *region = env("AWS_REGION");
    if (!region) region = env("AWS_DEFAULT_REGION");
    if (!region) region = "us-east-1";
    if (strlen(region) >= sizeof(st->region) || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
        return sp_fail(err, SP_ERR_USAGE, "invalid AWS region '%.40s'", region);
    snprintf(st->region, sizeof(st->region), "%s", region);

    const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY"), *tok = env("AWS_SESSION_TOKEN");
    if (!ak || !sk)
        return sp_fail(err, SP_ERR_USAGE, "S3 credentials missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    if (strlen(ak) >= sizeof(st->access_key) || strcspn(ak, "/ \t\r\n,=") != strlen(ak))
        return sp_fail(err, SP_ERR_USAGE, "AWS_ACCESS_KEY_ID is malformed");
    if (strlen(sk) > S3_SECRET_MAX) return sp_fail(err, SP_ERR_USAGE, "AWS_SECRET_ACCESS_KEY is too long");
    if (tok && (strlen(tok) > S3_TOKEN_MAX || strcspn(tok, "\r\n") != strlen(tok)))
        return sp_fail(err, SP_ERR_USAGE, "AWS_SESSION_TOKEN is malformed or too long");
    snprintf(st->access_key, sizeof(st->access_key), "%s", ak);
    st->secret = sp_secret_alloc(S3_SECRET_MAX + 1);
    st->token = sp_secret_alloc(S3_TOKEN_MAX + 1);
    if (!st->secret || !st->token) return sp_fail(err, SP_ERR_NOMEM, "out of memory for credentials");
    memcpy(st->secret, sk, strlen(sk) + 1);
    if (tok) memcpy(st->token, tok, strlen(tok) + 1);

    const char *ca = env("SSL_CERT_FILE");
    if (ca && strlen(ca) >= sizeof(st->cainfo)) return sp_fail(err, SP_ERR_USAGE, "SSL_CERT_FILE path too long");
    if (ca) snprintf(st->cainfo, sizeof(st->cainfo), "%s", ca);

    st->part_size = S3_PART_DEFAULT;
    const char *ps = env("SEALPUB_S3_PART_SIZE");
    if (ps) {
        uint64_t v;
        SP_TRY(sp_parse_size(ps, &v, err));
        if (v < S3_PART_MIN || v > S3_PART_MAX)
            return sp_fail(err, SP_ERR_USAGE, "SEALPUB_S3_PART_SIZE must be from 5 MiB to 5 GiB");
        st->part_size = (size_t)v;
    }
    long v;
    SP_TRY(env_long("SEALPUB_S3_PARTS_IN_FLIGHT", 1, S3_INFLIGHT_MAX, S3_INFLIGHT_DEFAULT, &v, err));
    st->parts_in_flight = (unsigned)v;
    SP_TRY(env_long("SEALPUB_S3_MAX_ATTEMPTS", 1, S3_ATTEMPTS_MAX, S3_ATTEMPTS_DEFAULT, &v, err));
    st->max_attempts = (unsigned)v;
    SP_TRY(env_long("SEALPUB_S3_STALL_SECONDS", 1, 3600, S3_STALL_DEFAULT, &st->stall_seconds, err));
    return SP_OK;
}

static sp_status open_impl(const char *url, s3_store **out, sp_error *err)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return sp_fail(err, SP_ERR_STORE, "curl_global_init: %s", curl_easy_strerror(curl_init_rc));
    s3_store *st = calloc(1, sizeof(*st));
    if (!st) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    sp_status s = parse_url(st, url, err);
    if (s == SP_OK) s = load_config(st, err);
    if (s == SP_OK) s = parse_endpoint(st, err);
    if (s != SP_OK) {
        s3_close(st);
        return s;
    }
    *out = st;
    return SP_OK;
}

sp_status sp_store_s3_open(const char *url, sp_store *store, sp_error *err)
{
    memset(store, 0, sizeof(*store));
    s3_store *st;
    SP_TRY(open_impl(url, &st, err));
    store->ops = &s3_ops;
    store->impl = st;
    if (getenv("AWS_ENDPOINT_URL_S3") || getenv("AWS_ENDPOINT_URL"))
        msgf(store->desc, sizeof(store->desc), "s3://%s%s%s at %s", st->bucket, st->prefix[0] ? "/" : "",
                 st->prefix, st->endpoint_desc);
    else
        msgf(store->desc, sizeof(store->desc), "s3://%s%s%s (%s)", st->bucket, st->prefix[0] ? "/" : "",
                 st->prefix, st->region);
    return SP_OK;
}

/* ---------------------------------------------------------------------------
 * Listing and aborting multipart uploads.
 */

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

static sp_status list_uploads(s3_store *st, int (*fn)(void *, const sp_s3_upload_info *), void *ctx, sp_error *err)
{
    char prefix[SP_OBJECT_KEY_MAX + 1];
    snprintf(prefix, sizeof(prefix), "%s%s", st->prefix, st->prefix[0] ? "/" : "");
    char key_marker[SP_OBJECT_KEY_MAX] = "", id_marker[512] = "";
    list_cb cb = {fn, ctx};
    s3_xfer x = {0};
    sp_status s = SP_OK;
    for (unsigned page = 0; s == SP_OK; page++) {
        xfer_init(&x, st, "GET", "ListMultipartUploads");
        raw_path(st, "", x.raw_path, sizeof(x.raw_path));
        s = query_param(x.query, sizeof(x.query), "uploads", "", err);
        if (s == SP_OK && prefix[0]) s = query_param(x.query, sizeof(x.query), "prefix", prefix, err);
        if (s == SP_OK && key_marker[0]) s = query_param(x.query, sizeof(x.query), "key-marker", key_marker, err);
        if (s == SP_OK && id_marker[0]) s = query_param(x.query, sizeof(x.query), "upload-id-marker", id_marker, err);
        if (s == SP_OK) s = xfer_run(NULL, &x, err);
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
    xfer_release(&x);
    return s;
}

sp_status sp_s3_list_uploads(const char *url, int (*fn)(void *ctx, const sp_s3_upload_info *u), void *ctx,
                             sp_error *err)
{
    s3_store *st;
    SP_TRY(open_impl(url, &st, err));
    sp_status s = list_uploads(st, fn, ctx, err);
    s3_close(st);
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
    sp_status s = abort_by_id(c->st, u->key, u->upload_id, c->err);
    if (s != SP_OK) {
        c->failed = s;
        return 1;
    }
    c->aborted++;
    return 0;
}

sp_status sp_s3_abort_stale(const char *url, long older_than_seconds, unsigned *aborted, sp_error *err)
{
    if (aborted) *aborted = 0;
    if (older_than_seconds < 0) return sp_fail(err, SP_ERR_USAGE, "the age of stale uploads must not be negative");
    s3_store *st;
    SP_TRY(open_impl(url, &st, err));
    stale_ctx c = {st, time(NULL) - older_than_seconds, 0, SP_OK, err};
    sp_status s = list_uploads(st, abort_if_stale, &c, err);
    if (c.failed != SP_OK) s = c.failed; /* err already holds the abort's message */
    if (aborted) *aborted = c.aborted;
    s3_close(st);
    return s;
}
