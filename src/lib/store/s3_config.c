/* s3_config.c: opening the S3 store: URL, endpoint and addressing, region, CA bundle, tuning, credentials chain. */
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "store/aws_config_file.h"
#include "store/s3_private.h"

/* ---------------------------------------------------------------------------
 * Paths and keys.
 */

/* libcurl removes "." and ".." segments from the URL it sends (RFC 3986
 * dot-segment removal), but the signature covers the path as written, so
 * such a path would be signed for one key and sent for another: refused. */
static int has_dot_segment(const char *path)
{
    for (const char *seg = path; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL) {
        size_t n = strcspn(seg, "/");
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) return 1;
    }
    return 0;
}

/* host[:port] names this machine: localhost, 127.0.0.0/8 or [::1]. */
static int is_loopback_host(const char *hostport)
{
    char h[256];
    size_t n;
    if (hostport[0] == '[') {
        n = strcspn(hostport + 1, "]");
        snprintf(h, sizeof(h), "%.*s", (int)n, hostport + 1);
        return strcmp(h, "::1") == 0;
    }
    n = strcspn(hostport, ":");
    snprintf(h, sizeof(h), "%.*s", (int)n, hostport);
    if (strcasecmp(h, "localhost") == 0) return 1;
    struct in_addr a;
    return inet_pton(AF_INET, h, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

sp_status s3_object_key(const s3_store *st, const char *key, char *out, size_t cap, sp_error *err)
{
    if (!key || !*key || key[0] == '/' || strstr(key, "//") || has_dot_segment(key))
        return sp_fail(err, SP_ERR_USAGE, "invalid S3 object key '%.200s'", key ? key : "");
    int n = st->prefix[0] ? snprintf(out, cap, "%s/%s", st->prefix, key) : snprintf(out, cap, "%s", key);
    if (n < 0 || (size_t)n >= cap || (size_t)n >= SP_OBJECT_KEY_MAX)
        return sp_fail(err, SP_ERR_USAGE, "S3 object key longer than %d bytes", SP_OBJECT_KEY_MAX - 1);
    return SP_OK;
}

/* The unencoded request path of an object ("" key: the bucket itself). */
void s3_raw_path(const s3_store *st, const char *full_key, char *out, size_t cap)
{
    if (st->path_style)
        snprintf(out, cap, "/%s%s%s", st->bucket, *full_key ? "/" : "", full_key);
    else
        snprintf(out, cap, "/%s", full_key);
}

sp_status s3_query_param(char *q, size_t cap, const char *name, const char *value, sp_error *err)
{
    if (sp_sigv4_append_param(q, cap, name, value) != 0) return sp_fail(err, SP_ERR_USAGE, "S3 query too long");
    return SP_OK;
}

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
    if (has_dot_segment(st->prefix))
        return sp_fail(err, SP_ERR_USAGE, "S3 prefix '%s' has a '.' or '..' segment", st->prefix);
    return SP_OK;
}

/* Host and base URL for the current region and addressing style. Called
 * at open and, under the lock, when the bucket's region is discovered. */
static void set_endpoint(s3_store *st, const char *custom_host, const char *custom_base)
{
    s3_endpoint *ep = &st->ep;
    if (custom_host) {
        /* Virtual-hosted on a custom endpoint: BUCKET.host, as radosgw
         * serves it with "rgw dns name". */
        if (st->path_style) {
            snprintf(ep->host, sizeof(ep->host), "%s", custom_host);
            snprintf(ep->base, sizeof(ep->base), "%s", custom_base);
        } else {
            const char *auth = strstr(custom_base, "://") + 3;
            snprintf(ep->host, sizeof(ep->host), "%s.%s", st->bucket, custom_host);
            snprintf(ep->base, sizeof(ep->base), "%.*s%s.%s", (int)(auth - custom_base), custom_base, st->bucket, auth);
        }
        return;
    }
    if (st->path_style) snprintf(ep->host, sizeof(ep->host), "s3.%s.amazonaws.com", ep->region);
    else snprintf(ep->host, sizeof(ep->host), "%s.s3.%s.amazonaws.com", st->bucket, ep->region);
    snprintf(ep->base, sizeof(ep->base), "https://%s", ep->host);
}

/* Path-style or virtual-hosted: SEALPUB_S3_ADDRESSING_STYLE, else the
 * profile's s3.addressing_style ("auto", "path", "virtual"); "auto" means
 * virtual-hosted on AWS (path-style for buckets with dots, which the
 * *.s3 wildcard certificate cannot cover) and path-style on custom
 * endpoints, whose DNS rarely has a name per bucket. */
static sp_status choose_style(s3_store *st, const sp_aws_profile *prof, sp_error *err)
{
    const char *var = "SEALPUB_S3_ADDRESSING_STYLE";
    const char *style = env(var);
    if (!style && (style = sp_aws_profile_get(prof, "s3.addressing_style"))) var = "the profile's s3.addressing_style";
    if (!style || !strcmp(style, "auto")) {
        st->path_style = st->custom_endpoint || strchr(st->bucket, '.') != NULL;
        return SP_OK;
    }
    if (!strcmp(style, "path")) st->path_style = 1;
    else if (!strcmp(style, "virtual")) st->path_style = 0;
    else return sp_fail(err, SP_ERR_USAGE, "%s must be auto, path or virtual, not '%.40s'", var, style);
    if (!st->path_style && strchr(st->bucket, '.') && !st->custom_endpoint)
        return sp_fail(err, SP_ERR_USAGE,
                       "bucket '%s' has dots, which virtual-hosted addressing over TLS cannot serve: use path", st->bucket);
    return SP_OK;
}

static sp_status parse_endpoint(s3_store *st, const sp_aws_profile *prof, sp_error *err)
{
    const char *var = env("AWS_ENDPOINT_URL_S3") ? "AWS_ENDPOINT_URL_S3" : "AWS_ENDPOINT_URL";
    const char *ep = env(var);
    if (!ep && (ep = sp_aws_profile_get(prof, "endpoint_url"))) var = "the profile's endpoint_url";
    st->custom_endpoint = ep != NULL;
    SP_TRY(choose_style(st, prof, err));
    if (!ep) {
        set_endpoint(st, NULL, NULL);
        snprintf(st->endpoint_desc, sizeof(st->endpoint_desc), "%s", st->ep.base);
        return SP_OK;
    }
    const char *auth;
    if (!strncmp(ep, "https://", 8)) auth = ep + 8;
    else if (!strncmp(ep, "http://", 7)) auth = ep + 7;
    else return sp_fail(err, SP_ERR_USAGE, "%s must start with http:// or https://", var);
    size_t al = strcspn(auth, "/?#");
    const char *rest = auth + al;
    char host[S3_HOST_MAX], base[S3_BASE_MAX];
    if (al == 0 || al + 64 >= sizeof(host)) return sp_fail(err, SP_ERR_USAGE, "%s has no usable host", var);
    /* Credentials belong in AWS_* variables, never in a URL that ends up
     * in messages. */
    if (memchr(auth, '@', al)) return sp_fail(err, SP_ERR_USAGE, "%s must not contain user:password@", var);
    for (size_t i = 0; i < al; i++) {
        char c = auth[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(".-:[]_", c)))
            return sp_fail(err, SP_ERR_USAGE, "%s has an invalid host", var);
    }
    /* A gateway under a path (https://gw/s3/) would need that prefix in
     * every signed path; no S3 client agrees on how, so it is refused. */
    if (*rest && strcmp(rest, "/") != 0)
        return sp_fail(err, SP_ERR_USAGE,
                       "%s has a path ('%.60s'); endpoints under a path prefix are not supported: use scheme://host[:port]",
                       var, rest);
    memcpy(host, auth, al);
    host[al] = '\0';
    /* Plain http carries the requests, and a session token, in clear: only
     * to this host, unless the user says the network is trusted. */
    if (auth == ep + 7 && !is_loopback_host(host)) {
        const char *allow = env("SEALPUB_ALLOW_HTTP");
        if (!allow || strcmp(allow, "1") != 0)
            return sp_fail(err, SP_ERR_USAGE,
                           "%s is plain http:// to a host that is not loopback; use https:// or set SEALPUB_ALLOW_HTTP=1",
                           var);
    }
    snprintf(base, sizeof(base), "%.*s", (int)(auth - ep + al), ep);
    snprintf(st->endpoint_desc, sizeof(st->endpoint_desc), "%s", base);
    set_endpoint(st, host, base);
    return SP_OK;
}

/* AWS_REGION, AWS_DEFAULT_REGION, the profile's region; with none of them
 * the bucket's own region is learnt from the first answer that names it
 * (s3_transfer.c), starting from us-east-1. */
static sp_status choose_region(s3_store *st, const sp_aws_profile *prof, sp_error *err)
{
    const char *var = "AWS_REGION", *region = env(var);
    if (!region) region = env(var = "AWS_DEFAULT_REGION");
    if (!region && (region = sp_aws_profile_get(prof, "region"))) var = "the profile's region";
    st->region_explicit = region != NULL;
    if (!region) region = "us-east-1";
    if (strlen(region) >= sizeof(st->ep.region) || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
        return sp_fail(err, SP_ERR_USAGE, "invalid AWS region '%.40s' in %s", region, var);
    snprintf(st->ep.region, sizeof(st->ep.region), "%s", region);
    return SP_OK;
}

/* AWS_CA_BUNDLE, the profile's ca_bundle, then SSL_CERT_FILE: a private CA
 * for the endpoint and for STS/container credential endpoints. */
static sp_status choose_ca(s3_store *st, const sp_aws_profile *prof, sp_error *err)
{
    const char *var = "AWS_CA_BUNDLE", *ca = env(var);
    if (!ca && (ca = sp_aws_profile_get(prof, "ca_bundle"))) var = "the profile's ca_bundle";
    if (!ca) ca = env(var = "SSL_CERT_FILE");
    if (!ca) return SP_OK;
    if (strlen(ca) >= sizeof(st->cainfo)) return sp_fail(err, SP_ERR_USAGE, "%s: path too long", var);
    if (access(ca, R_OK) != 0) return sp_fail(err, SP_ERR_USAGE, "%s names '%.300s', which cannot be read", var, ca);
    snprintf(st->cainfo, sizeof(st->cainfo), "%s", ca);
    return SP_OK;
}

static sp_status load_tuning(s3_store *st, sp_error *err)
{
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

static sp_status creds_env(const s3_store *st, sp_creds_env *ce, sp_error *err)
{
    memset(ce, 0, sizeof(*ce));
    const char *profile = env("AWS_PROFILE"), *sts = env("AWS_ENDPOINT_URL_STS");
    if ((profile && strlen(profile) >= sizeof(ce->profile)) || (sts && strlen(sts) >= sizeof(ce->sts_endpoint)))
        return sp_fail(err, SP_ERR_USAGE, "AWS_PROFILE or AWS_ENDPOINT_URL_STS is too long");
    snprintf(ce->profile, sizeof(ce->profile), "%s", profile ? profile : "");
    snprintf(ce->sts_endpoint, sizeof(ce->sts_endpoint), "%s", sts ? sts : "");
    snprintf(ce->cainfo, sizeof(ce->cainfo), "%s", st->cainfo);
    snprintf(ce->region, sizeof(ce->region), "%s", st->ep.region);
    return SP_OK;
}

/* Escapes in[0..n) for XML character data; out is cut short (never
 * overflowed) if cap is too small, which the caller's limits exclude. */
static void xml_escape(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 6 < cap; i++) {
        const char *e = in[i] == '&' ? "&amp;" : in[i] == '<' ? "&lt;" : in[i] == '>' ? "&gt;" : NULL;
        if (e) o += (size_t)snprintf(out + o, cap - o, "%s", e);
        else out[o++] = in[i];
    }
    out[o] = '\0';
}

/* What real buckets require of new objects: server-side encryption,
 * storage class, tags. Checked here so a typo fails before any upload. */
static sp_status load_object_settings(s3_store *st, sp_error *err)
{
    const char *sse = env("SEALPUB_S3_SSE"), *kms = env("SEALPUB_S3_SSE_KMS_KEY_ID");
    if (sse && strcmp(sse, "AES256") != 0 && strcmp(sse, "aws:kms") != 0)
        return sp_fail(err, SP_ERR_USAGE, "SEALPUB_S3_SSE must be AES256 or aws:kms, not '%.40s'", sse);
    if (kms && (!sse || strcmp(sse, "aws:kms") != 0))
        return sp_fail(err, SP_ERR_USAGE, "SEALPUB_S3_SSE_KMS_KEY_ID needs SEALPUB_S3_SSE=aws:kms");
    if (kms && (strlen(kms) >= sizeof(st->sse_kms_key) || strcspn(kms, " \t\r\n") != strlen(kms)))
        return sp_fail(err, SP_ERR_USAGE, "SEALPUB_S3_SSE_KMS_KEY_ID is malformed");
    snprintf(st->sse, sizeof(st->sse), "%s", sse ? sse : "");
    snprintf(st->sse_kms_key, sizeof(st->sse_kms_key), "%s", kms ? kms : "");

    const char *ck = env("SEALPUB_S3_CHECKSUM");
    if (ck && strcmp(ck, "crc32c") != 0 && strcmp(ck, "none") != 0)
        return sp_fail(err, SP_ERR_USAGE, "SEALPUB_S3_CHECKSUM must be crc32c or none, not '%.40s'", ck);
    st->checksum = !ck || !strcmp(ck, "crc32c");

    const char *sc = env("SEALPUB_S3_STORAGE_CLASS");
    if (sc && (strlen(sc) >= sizeof(st->storage_class) || strspn(sc, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != strlen(sc)))
        return sp_fail(err, SP_ERR_USAGE, "SEALPUB_S3_STORAGE_CLASS must be a class name like STANDARD_IA, not '%.40s'", sc);
    snprintf(st->storage_class, sizeof(st->storage_class), "%s", sc ? sc : "");

    /* "k=v,k2=v2" -> x-amz-tagging "k=v&k2=v2", each part URL-encoded.
     * S3 allows 10 tags, keys of 1-128 and values of 0-256 characters. */
    const char *tags = env("SEALPUB_S3_TAGS");
    st->tagging[0] = '\0';
    st->tags_xml[0] = '\0';
    if (!tags) return SP_OK;
    size_t len = 0, xl = 0;
    unsigned n = 0;
    xl = (size_t)snprintf(st->tags_xml, sizeof(st->tags_xml), "<Tagging><TagSet>");
    for (const char *t = tags; *t;) {
        size_t tl = strcspn(t, ","), kl = strcspn(t, "=");
        int ctl = 0;
        for (size_t i = 0; i < tl; i++) ctl |= (unsigned char)t[i] < 0x20 || t[i] == 0x7f;
        if (ctl || kl > tl || kl == 0 || kl > 128 || tl - kl - 1 > 256 || ++n > 10)
            return sp_fail(err, SP_ERR_USAGE,
                           "SEALPUB_S3_TAGS must be KEY=VALUE[,KEY=VALUE...] (at most 10; keys 1-128, values 0-256 characters)");
        if (len) st->tagging[len++] = '&';
        if (sp_sigv4_uri_encode(t, kl, 0, st->tagging + len, sizeof(st->tagging) - len - 2) != 0)
            return sp_fail(err, SP_ERR_USAGE, "SEALPUB_S3_TAGS is too long");
        len = strlen(st->tagging);
        st->tagging[len++] = '=';
        if (sp_sigv4_uri_encode(t + kl + 1, tl - kl - 1, 0, st->tagging + len, sizeof(st->tagging) - len - 2) != 0)
            return sp_fail(err, SP_ERR_USAGE, "SEALPUB_S3_TAGS is too long");
        len = strlen(st->tagging);
        char k[3 * 128 + 1], v[3 * 256 + 1];
        xml_escape(t, kl, k, sizeof(k));
        xml_escape(t + kl + 1, tl - kl - 1, v, sizeof(v));
        xl += (size_t)snprintf(st->tags_xml + xl, sizeof(st->tags_xml) - xl, "<Tag><Key>%s</Key><Value>%s</Value></Tag>", k, v);
        if (xl >= sizeof(st->tags_xml)) return sp_fail(err, SP_ERR_USAGE, "SEALPUB_S3_TAGS is too long");
        t += tl + (t[tl] == ',');
    }
    xl += (size_t)snprintf(st->tags_xml + xl, sizeof(st->tags_xml) - xl, "</TagSet></Tagging>");
    if (xl >= sizeof(st->tags_xml)) return sp_fail(err, SP_ERR_USAGE, "SEALPUB_S3_TAGS is too long");
    return SP_OK;
}

void s3_object_headers(const s3_store *st, const s3_meta *meta, size_t n_meta, s3_xfer *x)
{
    size_t n = x->n_extra;
    if (st->sse[0]) x->extra[n++] = (sp_sigv4_header){"x-amz-server-side-encryption", st->sse};
    if (st->sse_kms_key[0]) x->extra[n++] = (sp_sigv4_header){"x-amz-server-side-encryption-aws-kms-key-id", st->sse_kms_key};
    if (st->storage_class[0]) x->extra[n++] = (sp_sigv4_header){"x-amz-storage-class", st->storage_class};
    if (st->tagging[0]) x->extra[n++] = (sp_sigv4_header){"x-amz-tagging", st->tagging};
    for (size_t i = 0; i < n_meta && n < S3_EXTRA_HEADERS_MAX; i++) x->extra[n++] = (sp_sigv4_header){meta[i].name, meta[i].value};
    x->n_extra = n;
}

/* The credentials: the default chain behind a cache, asked once now so a
 * missing or broken source fails the open, before any byte is read. */
static sp_status load_credentials(s3_store *st, sp_error *err)
{
    sp_creds_env ce;
    SP_TRY(creds_env(st, &ce, err));
    /* The margin first: nothing is allocated yet if it is malformed. */
    long margin;
    SP_TRY(env_long("SEALPUB_CREDENTIALS_REFRESH_SECONDS", 0, 3600, 300, &margin, err));
    sp_creds_provider *chain;
    SP_TRY(sp_creds_default_chain(&ce, &chain, err));
    st->creds = sp_creds_cached_new(chain, margin);
    if (!st->creds) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    sp_creds *c = sp_creds_new();
    if (!c) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    sp_status s = st->creds->get(st->creds, c, err);
    sp_creds_free(c);
    if (s == SP_ERR_NOT_FOUND) s = SP_ERR_USAGE, err->status = s;
    return s;
}

sp_status s3_open_impl(const char *url, s3_store **out, sp_error *err)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return sp_fail(err, SP_ERR_STORE, "curl_global_init: %s", curl_easy_strerror(curl_init_rc));
    s3_store *st = calloc(1, sizeof(*st));
    if (!st) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    if (pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st);
        return sp_fail(err, SP_ERR_NOMEM, "pthread_mutex_init failed");
    }
    sp_status s = parse_url(st, url, err);
    /* The profile's settings (region, ca_bundle, addressing) apply when it
     * exists; a profile that does not is only an error if AWS_PROFILE named
     * it, and the credentials chain reports that. */
    sp_aws_profile *prof = NULL;
    if (s == SP_OK) {
        sp_creds_env ce;
        sp_error pe;
        sp_status ps = creds_env(st, &ce, &pe);
        if (ps == SP_OK) ps = sp_aws_profile_load(&ce, NULL, &prof, &pe);
        if (ps != SP_OK && ps != SP_ERR_NOT_FOUND) s = sp_fail(err, ps, "%s", pe.msg);
    }
    if (s == SP_OK) s = choose_region(st, prof, err);
    if (s == SP_OK) s = choose_ca(st, prof, err);
    if (s == SP_OK) s = load_tuning(st, err);
    if (s == SP_OK) s = load_object_settings(st, err);
    if (s == SP_OK) s = parse_endpoint(st, prof, err);
    st->tls = !strncmp(st->ep.base, "https://", 8);
    sp_aws_profile_free(prof);
    if (s == SP_OK) s = load_credentials(st, err);
    if (s != SP_OK) {
        s3_close_impl(st);
        return s;
    }
    *out = st;
    return SP_OK;
}

void s3_close_impl(s3_store *st)
{
    if (!st) return;
    sp_creds_provider_free(st->creds);
    pthread_mutex_destroy(&st->lock);
    OPENSSL_cleanse(st, sizeof(*st));
    free(st);
}

void s3_endpoint_get(s3_store *st, s3_endpoint *out)
{
    pthread_mutex_lock(&st->lock);
    *out = st->ep;
    pthread_mutex_unlock(&st->lock);
}

int s3_endpoint_set_region(s3_store *st, const char *region)
{
    int changed = 0;
    pthread_mutex_lock(&st->lock);
    if (strcmp(st->ep.region, region) != 0 && strlen(region) < sizeof(st->ep.region)) {
        snprintf(st->region_note, sizeof(st->region_note), "region %s learnt from the server (was %s)", region,
                 st->ep.region);
        snprintf(st->ep.region, sizeof(st->ep.region), "%s", region);
        if (!st->custom_endpoint) set_endpoint(st, NULL, NULL);
        changed = 1;
    }
    pthread_mutex_unlock(&st->lock);
    return changed;
}

int s3_cancelled(const s3_store *st)
{
    /* Atomic, not merely volatile: the flag may be set by another thread. */
    return st->cancel && __atomic_load_n(st->cancel, __ATOMIC_RELAXED);
}
