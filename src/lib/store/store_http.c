/* store_http.c: a read-only store over plain HTTP(S): a CDN, or a public-read bucket prefix, in front of the bucket. */

/*
 * Loaders download through a CDN whose origin is the bucket, with plain
 * unsigned GETs, not S3 credentials. This store is what `fetch
 * --via-public-url` reads through: stat is a HEAD, read_range a GET with a
 * Range header, both of BASE/KEY. Nothing here is trusted more than the
 * bucket: fetch checks the object's size and SHA-256 against the registry
 * row, and every chunk, exactly as for S3, so a CDN serving a stale or
 * truncated copy is refused and nothing is written.
 *
 * Thread-safety: read_range runs on several fetch workers at once; each call
 * uses its own curl handle, and the handle's state is all on the stack.
 * Cancellation: the caller's flag (set_cancel) aborts a transfer within one
 * progress callback.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

#define HTTP_CONNECT_TIMEOUT_S 10L
#define HTTP_STALL_SECONDS 30L

typedef struct http_store {
    char base[SP_OBJECT_KEY_MAX]; /* without a trailing slash */
    volatile const int *cancel;
} http_store;

typedef struct http_get {
    uint8_t *buf;
    size_t cap, got;
    int overflow;
    volatile const int *cancel;
} http_get;

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    http_get *g = ctx;
    size_t len = size * n;
    if (g->got + len > g->cap) {
        g->overflow = 1;
        return 0; /* more than asked for: a server that ignored Range */
    }
    memcpy(g->buf + g->got, data, len);
    g->got += len;
    return len;
}

static size_t on_discard(char *data, size_t size, size_t n, void *ctx)
{
    (void)data;
    (void)ctx;
    return size * n;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    const http_get *g = ctx;
    return g->cancel && __atomic_load_n(g->cancel, __ATOMIC_RELAXED) ? 1 : 0;
}

static sp_status http_run(const http_store *h, const char *key, int head, uint64_t off, size_t len, http_get *g,
                          long *status, curl_off_t *length, sp_error *err)
{
    char url[2 * SP_OBJECT_KEY_MAX], range[64], curl_err[CURL_ERROR_SIZE] = "";
    /* '+' (a version's build metadata) is sent as %2B: a CDN may read a raw '+' as a space. */
    int k = snprintf(url, sizeof(url), "%s/", h->base);
    for (const char *p = key; *p && k + 4 < (int)sizeof(url); p++)
        k += *p == '+' ? snprintf(url + k, sizeof(url) - (size_t)k, "%%2B") : (url[k] = *p, url[k + 1] = '\0', 1);
    if (k + 4 >= (int)sizeof(url)) return sp_fail(err, SP_ERR_USAGE, "public URL too long");
    CURL *c = curl_easy_init();
    if (!c) return sp_fail(err, SP_ERR_NOMEM, "cannot allocate a curl handle");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, HTTP_CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, HTTP_STALL_SECONDS);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is the CDN's business, not ours to follow blindly */
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, g);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the string form; the bitmask is deprecated there */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    const char *ca = getenv("AWS_CA_BUNDLE");
    if (ca && *ca) curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    if (head) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_discard);
    } else {
        snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)off, (unsigned long long)(off + len - 1));
        curl_easy_setopt(c, CURLOPT_RANGE, range);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (length) curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, length);
    curl_easy_cleanup(c);
    if (g->cancel && __atomic_load_n(g->cancel, __ATOMIC_RELAXED))
        return sp_fail(err, SP_ERR_INTERRUPTED, "GET %s interrupted", url);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && g->overflow)) {
        int transient = rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_RECV_ERROR ||
                        rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE ||
                        rc == CURLE_COULDNT_RESOLVE_HOST;
        return sp_fail_as(err, SP_ERR_STORE, transient, "%s %s: %s", head ? "HEAD" : "GET", url,
                                                      curl_err[0] ? curl_err : curl_easy_strerror(rc));
    }
    return SP_OK;
}

static sp_status http_fail_status(const char *what, const char *key, long status, sp_error *err)
{
    if (status == 404) return sp_fail(err, SP_ERR_NOT_FOUND, "%s %s: HTTP 404 from the public URL", what, key);
    if (status >= 500 || status == 429)
        return sp_fail_retry(err, SP_ERR_STORE, "%s %s: HTTP %ld from the public URL", what, key, status);
    return sp_fail(err, SP_ERR_STORE, "%s %s: HTTP %ld from the public URL", what, key, status);
}

static sp_status http_stat(void *impl, const char *key, uint64_t *size, sp_error *err)
{
    http_store *h = impl;
    http_get g = {.cancel = h->cancel};
    long status = 0;
    curl_off_t length = -1;
    SP_TRY(http_run(h, key, 1, 0, 0, &g, &status, &length, err));
    if (status != 200) return http_fail_status("HEAD", key, status, err);
    if (length < 0) return sp_fail(err, SP_ERR_STORE, "HEAD %s: the public URL sent no Content-Length", key);
    *size = (uint64_t)length;
    return SP_OK;
}

static sp_status http_read_range(void *impl, const char *key, uint64_t off, void *buf, size_t len, sp_error *err)
{
    http_store *h = impl;
    if (len == 0) return SP_OK;
    http_get g = {.buf = buf, .cap = len, .cancel = h->cancel};
    long status = 0;
    SP_TRY(http_run(h, key, 0, off, len, &g, &status, NULL, err));
    /* 206 is the answer to a Range; a 200 is the whole object, acceptable
     * only when that is exactly the range asked for. */
    if (status != 206 && !(status == 200 && off == 0 && !g.overflow && g.got == len))
        return g.overflow ? sp_fail(err, SP_ERR_STORE, "GET %s: the public URL ignored the Range header", key)
                          : http_fail_status("GET", key, status, err);
    if (g.got != len)
        return sp_fail(err, SP_ERR_TRUNCATED, "GET %s: %zu of %zu bytes at offset %llu from the public URL", key, g.got,
                       len, (unsigned long long)off);
    return SP_OK;
}

static sp_status http_read_only(void *impl, const char *key, sp_error *err)
{
    (void)impl;
    return sp_fail(err, SP_ERR_USAGE, "the public URL store is read-only (%s): publish and delete go to the bucket",
                   key);
}

static sp_status http_put_begin(void *impl, const char *key, uint64_t size_hint, sp_upload **up, sp_error *err)
{
    (void)size_hint;
    *up = NULL;
    return http_read_only(impl, key, err);
}

static void http_set_cancel(void *impl, volatile const int *flag) { ((http_store *)impl)->cancel = flag; }

static void http_close(void *impl) { free(impl); }

static const sp_store_ops HTTP_OPS = {
    .scheme = "https",
    .put_begin = http_put_begin,
    .stat = http_stat,
    .read_range = http_read_range,
    .remove = http_read_only,
    .set_cancel = http_set_cancel,
    .close = http_close,
};

static int loopback_host(const char *url)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost", 9) == 0 || strncmp(h, "[::1]", 5) == 0;
}

sp_status sp_store_http_open(const char *url, sp_store *st, sp_error *err)
{
    memset(st, 0, sizeof(*st));
    int https = strncmp(url, "https://", 8) == 0, http = strncmp(url, "http://", 7) == 0;
    if (!https && !http) return sp_fail(err, SP_ERR_USAGE, "a public URL must start with https:// (or http:// to loopback)");
    if (strchr(url, '@') || strchr(url, '?') || strchr(url, '#'))
        return sp_fail(err, SP_ERR_USAGE, "a public URL holds no credentials, query or fragment: give the base, e.g. "
                                          "https://cdn.example.com/artifacts");
    if (http && !loopback_host(url)) {
        const char *allow = getenv("SEALPUB_ALLOW_HTTP");
        if (!allow || strcmp(allow, "1") != 0)
            return sp_fail(err, SP_ERR_USAGE,
                           "the public URL is plain http:// to a host that is not loopback; use https:// or set "
                           "SEALPUB_ALLOW_HTTP=1");
    }
    http_store *h = calloc(1, sizeof(*h));
    if (!h) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    if (sp_strlcpy(h->base, url, sizeof(h->base)) != 0) {
        free(h);
        return sp_fail(err, SP_ERR_USAGE, "public URL too long");
    }
    size_t n = strlen(h->base);
    while (n > 0 && h->base[n - 1] == '/') h->base[--n] = '\0';
    st->ops = &HTTP_OPS;
    st->impl = h;
    snprintf(st->desc, sizeof(st->desc), "%s (public URL)", h->base);
    return SP_OK;
}
