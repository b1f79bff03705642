/* sigv4.c: builds AWS SigV4 canonical requests and signs them with HMAC-SHA256 (OpenSSL). */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/sigv4.h"

/* A bounded string builder: appends stop at the hard maximum and set
 * overflow, so callers check once at the end instead of after every append. */
typedef struct sb {
    char *p;
    size_t cap, len;
    int overflow;
} sb;

static void sb_init(sb *b, char *p, size_t cap)
{
    b->p = p;
    b->cap = cap;
    b->len = 0;
    b->overflow = cap == 0;
    if (cap) p[0] = '\0';
}

static void sb_putn(sb *b, const char *s, size_t n)
{
    if (b->overflow) return;
    if (n >= b->cap - b->len) {
        b->overflow = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sb *b, const char *s) { sb_putn(b, s, strlen(s)); }
static void sb_putc(sb *b, char c) { sb_putn(b, &c, 1); }

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* RFC 3986 percent-encoding with upper-case hex, as SigV4 requires. */
static void sb_encode(sb *b, const char *s, size_t n, int keep_slash)
{
    static const char hexd[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            sb_putc(b, (char)c);
        } else {
            char esc[3] = {'%', hexd[c >> 4], hexd[c & 15]};
            sb_putn(b, esc, 3);
        }
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into b. A '%' not followed by two hex digits is
 * kept literally: the wire query is the caller's, and rejecting it would be
 * less useful than signing exactly what will be sent. */
static void sb_decode(sb *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && n - i >= 3 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            sb_putc(b, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
            i += 2;
        } else {
            sb_putc(b, s[i]);
        }
    }
}

int sp_sigv4_uri_encode(const char *in, size_t len, int keep_slash, char *out, size_t cap)
{
    sb b;
    sb_init(&b, out, cap);
    sb_encode(&b, in, len, keep_slash);
    return b.overflow ? -1 : 0;
}

int sp_sigv4_append_param(char *buf, size_t cap, const char *name, const char *value)
{
    size_t len = strlen(buf);
    int n = snprintf(buf + len, cap - len, "%s%s=", len ? "&" : "", name);
    if (n < 0 || (size_t)n >= cap - len) return -1;
    len += (size_t)n;
    return sp_sigv4_uri_encode(value, strlen(value), 0, buf + len, cap - len) != 0 ? -1 : 0;
}

sp_status sp_sigv4_encode_path(const char *raw, char *out, size_t cap, sp_error *err)
{
    sb b;
    sb_init(&b, out, cap);
    if (!raw || raw[0] != '/') return sp_fail(err, SP_ERR_USAGE, "sigv4: path must start with '/'");
    sb_encode(&b, raw, strlen(raw), 1);
    if (b.overflow) return sp_fail(err, SP_ERR_USAGE, "sigv4: encoded path longer than %zu bytes", cap);
    return SP_OK;
}

/* The generic services' canonical URI: remove dot segments and empty
 * segments (RFC 3986 5.2.4 plus AWS's collapsing of "//"), then encode each
 * segment of the wire path again. */
static void canonical_generic_path(sb *b, const char *path)
{
    enum { MAXSEG = 256 };
    const char *seg[MAXSEG];
    size_t seglen[MAXSEG];
    size_t n = 0;
    for (const char *p = path; *p;) {
        while (*p == '/') p++;
        const char *s = p;
        while (*p && *p != '/') p++;
        size_t len = (size_t)(p - s);
        if (len == 0 || (len == 1 && s[0] == '.')) continue;
        if (len == 2 && s[0] == '.' && s[1] == '.') {
            if (n) n--;
            continue;
        }
        if (n == MAXSEG) {
            b->overflow = 1;
            return;
        }
        seg[n] = s;
        seglen[n++] = len;
    }
    /* As in RFC 3986, a path ending in "/", "/." or "/.." names a folder. */
    const char *last = strrchr(path, '/');
    last = last ? last + 1 : path;
    int trailing = !*last || !strcmp(last, ".") || !strcmp(last, "..");
    sb_putc(b, '/');
    for (size_t i = 0; i < n; i++) {
        if (i) sb_putc(b, '/');
        sb_encode(b, seg[i], seglen[i], 0);
    }
    if (n && trailing) sb_putc(b, '/');
}

typedef struct qparam {
    size_t key, val; /* offsets into the scratch buffer of encoded strings */
} qparam;

/* Insertion sort instead of qsort: qsort's comparator has no context
 * argument in C11 and a global would make the signer thread-unsafe. At most
 * SP_SIGV4_QUERY_PARAMS_MAX entries, so quadratic is fine. */
static void qparam_sort(qparam *v, size_t n, const char *base)
{
    for (size_t i = 1; i < n; i++) {
        qparam t = v[i];
        size_t j = i;
        while (j > 0) {
            int c = strcmp(base + v[j - 1].key, base + t.key);
            if (c == 0) c = strcmp(base + v[j - 1].val, base + t.val);
            if (c <= 0) break;
            v[j] = v[j - 1];
            j--;
        }
        v[j] = t;
    }
}

sp_status sp_sigv4_canonical_query(const char *query, char *out, size_t cap, sp_error *err)
{
    sb o;
    sb_init(&o, out, cap);
    if (!query || !*query) return cap ? SP_OK : sp_fail(err, SP_ERR_USAGE, "sigv4: no room for the query");

    size_t qlen = strlen(query);
    if (qlen >= SP_SIGV4_CREQ_MAX) return sp_fail(err, SP_ERR_USAGE, "sigv4: query longer than %d bytes", SP_SIGV4_CREQ_MAX);
    /* Decoded then re-encoded strings grow at most 3x; decoded ones are
     * shorter than the input, so one scratch of 4x the query fits both. */
    enum { SCRATCH = 4 * SP_SIGV4_CREQ_MAX };
    char *scratch = malloc(SCRATCH);
    char *dec = malloc(qlen + 1);
    if (!scratch || !dec) {
        free(scratch);
        free(dec);
        return sp_fail(err, SP_ERR_NOMEM, "sigv4: out of memory");
    }
    qparam params[SP_SIGV4_QUERY_PARAMS_MAX];
    size_t n = 0;
    sb s;
    sb_init(&s, scratch, SCRATCH);
    sp_status st = SP_OK;

    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len) {
            if (n == SP_SIGV4_QUERY_PARAMS_MAX) {
                st = sp_fail(err, SP_ERR_USAGE, "sigv4: more than %d query parameters", SP_SIGV4_QUERY_PARAMS_MAX);
                goto out;
            }
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            const char *v = eq ? eq + 1 : p + len;
            size_t vlen = eq ? len - klen - 1 : 0;
            sb d;

            sb_init(&d, dec, qlen + 1);
            sb_decode(&d, p, klen);
            params[n].key = s.len;
            sb_encode(&s, dec, d.len, 0);
            sb_putc(&s, '\0');

            sb_init(&d, dec, qlen + 1);
            sb_decode(&d, v, vlen);
            params[n].val = s.len;
            sb_encode(&s, dec, d.len, 0);
            sb_putc(&s, '\0');
            n++;
        }
        p += len;
        if (*p == '&') p++;
    }
    if (s.overflow) {
        st = sp_fail(err, SP_ERR_USAGE, "sigv4: query too long");
        goto out;
    }
    qparam_sort(params, n, scratch);
    for (size_t i = 0; i < n; i++) {
        if (i) sb_putc(&o, '&');
        sb_puts(&o, scratch + params[i].key);
        sb_putc(&o, '=');
        sb_puts(&o, scratch + params[i].val);
    }
    if (o.overflow) st = sp_fail(err, SP_ERR_USAGE, "sigv4: canonical query longer than %zu bytes", cap);
out:
    free(scratch);
    free(dec);
    return st;
}

void sp_sigv4_amz_date(time_t t, char out[SP_SIGV4_AMZ_DATE_LEN + 1])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, SP_SIGV4_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

static int valid_amz_date(const char *d)
{
    if (!d || strlen(d) != SP_SIGV4_AMZ_DATE_LEN) return 0;
    for (int i = 0; i < SP_SIGV4_AMZ_DATE_LEN; i++) {
        char c = d[i];
        if (i == 8 ? c != 'T' : i == 15 ? c != 'Z' : (c < '0' || c > '9')) return 0;
    }
    return 1;
}

/* RFC 7230 token characters: anything else in a name would let a header
 * break the canonical form (a ':' or newline). */
static int valid_header_name(const char *s)
{
    if (!s || !*s) return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!is_unreserved(c) && !strchr("!#$%&'*+^`|", c)) return 0;
    }
    return 1;
}

/* Scope parts end up between '/' in the credential: no '/' or whitespace. */
static int valid_scope_part(const char *s)
{
    if (!s || !*s) return 0;
    for (; *s; s++)
        if (*s == '/' || (unsigned char)*s <= ' ' || *s == ',' || *s == '=') return 0;
    return 1;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

typedef struct hdr {
    size_t name, value; /* offsets into the header scratch */
} hdr;

static void hdr_sort(hdr *v, size_t n, const char *base)
{
    /* Stable insertion sort: repeated names keep the caller's order, which
     * SigV4 requires when it joins their values. */
    for (size_t i = 1; i < n; i++) {
        hdr t = v[i];
        size_t j = i;
        while (j > 0 && strcmp(base + v[j - 1].name, base + t.name) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = t;
    }
}

/* Appends one header (lower-cased name, trimmed value with whitespace runs
 * collapsed to one space, which also unfolds obsolete multi-line values). */
static void add_header(sb *s, hdr *h, const char *name, const char *value)
{
    h->name = s->len;
    for (const char *p = name; *p; p++) sb_putc(s, (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p));
    sb_putc(s, '\0');
    h->value = s->len;
    const char *p = value ? value : "";
    while (is_ws(*p)) p++;
    int pending_space = 0;
    for (; *p; p++) {
        if (is_ws(*p)) {
            pending_space = 1;
            continue;
        }
        if (pending_space) sb_putc(s, ' ');
        pending_space = 0;
        sb_putc(s, *p);
    }
    sb_putc(s, '\0');
}

static int hmac256(const void *key, size_t keylen, const void *msg, size_t len, unsigned char out[32])
{
    unsigned int outlen = 0;
    return HMAC(EVP_sha256(), key, (int)keylen, msg, len, out, &outlen) != NULL && outlen == 32;
}

static int sha256(const void *msg, size_t len, unsigned char out[32])
{
    unsigned int outlen = 0;
    return EVP_Digest(msg, len, out, &outlen, EVP_sha256(), NULL) == 1 && outlen == 32;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
static int derive_signing_key(const char *secret, const char *date8, const char *region, const char *service,
                              unsigned char key[32])
{
    unsigned char k1[32], k2[32], k3[32];
    char seed[4 + SP_SIGV4_SECRET_MAX];
    size_t slen = strlen(secret);
    memcpy(seed, "AWS4", 4);
    memcpy(seed + 4, secret, slen);
    int ok = hmac256(seed, 4 + slen, date8, 8, k1) && hmac256(k1, 32, region, strlen(region), k2) &&
             hmac256(k2, 32, service, strlen(service), k3) && hmac256(k3, 32, "aws4_request", 12, key);
    OPENSSL_cleanse(seed, sizeof(seed));
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    OPENSSL_cleanse(k3, sizeof(k3));
    return ok;
}

static sp_status check_request(const sp_sigv4_request *r, sp_error *err)
{
    if (!r->method || !*r->method || strspn(r->method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(r->method))
        return sp_fail(err, SP_ERR_USAGE, "sigv4: bad method");
    if (!r->path || r->path[0] != '/') return sp_fail(err, SP_ERR_USAGE, "sigv4: path must start with '/'");
    if (!valid_amz_date(r->amz_date)) return sp_fail(err, SP_ERR_USAGE, "sigv4: x-amz-date must be YYYYMMDDTHHMMSSZ");
    if (!valid_scope_part(r->region)) return sp_fail(err, SP_ERR_USAGE, "sigv4: bad region");
    if (!valid_scope_part(r->service)) return sp_fail(err, SP_ERR_USAGE, "sigv4: bad service");
    if (!valid_scope_part(r->access_key) || strlen(r->access_key) > 128)
        return sp_fail(err, SP_ERR_USAGE, "sigv4: bad access key id");
    if (!r->secret_key || !*r->secret_key || strlen(r->secret_key) > SP_SIGV4_SECRET_MAX)
        return sp_fail(err, SP_ERR_USAGE, "sigv4: secret key missing or longer than %d bytes", SP_SIGV4_SECRET_MAX);
    if (!r->payload_sha256 || !*r->payload_sha256 || strlen(r->payload_sha256) > 128 ||
        strcspn(r->payload_sha256, " \t\r\n") != strlen(r->payload_sha256))
        return sp_fail(err, SP_ERR_USAGE, "sigv4: bad payload hash");
    if (r->n_headers && !r->headers) return sp_fail(err, SP_ERR_USAGE, "sigv4: headers missing");
    if (r->n_headers + 3 > SP_SIGV4_HEADERS_MAX)
        return sp_fail(err, SP_ERR_USAGE, "sigv4: more than %d headers", SP_SIGV4_HEADERS_MAX - 3);
    int has_token = r->session_token && *r->session_token;
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *n = r->headers[i].name;
        if (!valid_header_name(n)) return sp_fail(err, SP_ERR_USAGE, "sigv4: bad header name");
        /* The signer adds these itself; a second copy would be joined with
         * a comma and sign a value the server never sees. */
        if (!strcasecmp(n, "x-amz-date") || !strcasecmp(n, "authorization") ||
            (has_token && !strcasecmp(n, "x-amz-security-token")) ||
            ((r->flags & SP_SIGV4_SIGN_CONTENT_SHA256) && !strcasecmp(n, "x-amz-content-sha256")))
            return sp_fail(err, SP_ERR_USAGE, "sigv4: header %s is set by the signer", n);
    }
    return SP_OK;
}

static sp_status sign(const sp_sigv4_request *r, sp_sigv4_result *out, char *scratch, size_t scratch_cap,
                      sp_error *err)
{
    SP_TRY(check_request(r, err));

    /* Canonical headers, sorted and merged. */
    hdr h[SP_SIGV4_HEADERS_MAX];
    size_t n = 0;
    sb s;
    sb_init(&s, scratch, scratch_cap);
    for (size_t i = 0; i < r->n_headers; i++) add_header(&s, &h[n++], r->headers[i].name, r->headers[i].value);
    add_header(&s, &h[n++], "x-amz-date", r->amz_date);
    if (r->session_token && *r->session_token) add_header(&s, &h[n++], "x-amz-security-token", r->session_token);
    if (r->flags & SP_SIGV4_SIGN_CONTENT_SHA256) add_header(&s, &h[n++], "x-amz-content-sha256", r->payload_sha256);
    if (s.overflow) return sp_fail(err, SP_ERR_USAGE, "sigv4: headers longer than %zu bytes", scratch_cap);
    hdr_sort(h, n, scratch);

    int has_host = 0;
    for (size_t i = 0; i < n; i++) has_host |= !strcmp(scratch + h[i].name, "host");
    if (!has_host) return sp_fail(err, SP_ERR_USAGE, "sigv4: the host header is required");

    sb c, sh;
    sb_init(&c, out->canonical_request, sizeof(out->canonical_request));
    sb_init(&sh, out->signed_headers, sizeof(out->signed_headers));
    sb_puts(&c, r->method);
    sb_putc(&c, '\n');
    if (r->flags & SP_SIGV4_GENERIC_PATH)
        canonical_generic_path(&c, r->path);
    else
        sb_encode(&c, r->path, strlen(r->path), 1);
    sb_putc(&c, '\n');
    if (c.overflow) return sp_fail(err, SP_ERR_USAGE, "sigv4: canonical request longer than %d bytes", SP_SIGV4_CREQ_MAX);
    SP_TRY(sp_sigv4_canonical_query(r->query, c.p + c.len, c.cap - c.len, err));
    c.len += strlen(c.p + c.len);
    sb_putc(&c, '\n');
    for (size_t i = 0; i < n; i++) {
        const char *name = scratch + h[i].name;
        if (i && !strcmp(name, scratch + h[i - 1].name)) {
            sb_putc(&c, ',');
        } else {
            if (i) {
                sb_putc(&c, '\n');
                sb_putc(&sh, ';');
            }
            sb_puts(&c, name);
            sb_putc(&c, ':');
            sb_puts(&sh, name);
        }
        sb_puts(&c, scratch + h[i].value);
    }
    sb_puts(&c, "\n\n");
    sb_puts(&c, out->signed_headers);
    sb_putc(&c, '\n');
    sb_puts(&c, r->payload_sha256);
    if (c.overflow) return sp_fail(err, SP_ERR_USAGE, "sigv4: canonical request longer than %d bytes", SP_SIGV4_CREQ_MAX);
    if (sh.overflow)
        return sp_fail(err, SP_ERR_USAGE, "sigv4: signed headers longer than %d bytes", SP_SIGV4_SIGNED_HEADERS_MAX);

    /* String to sign. */
    unsigned char digest[32];
    char hex[65];
    if (!sha256(c.p, c.len, digest)) return sp_fail_openssl(err, SP_ERR_CRYPTO, "sigv4: SHA-256");
    sp_hex(digest, 32, hex);
    char date8[9];
    memcpy(date8, r->amz_date, 8);
    date8[8] = '\0';
    char scope[256];
    int sl = snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date8, r->region, r->service);
    if (sl < 0 || (size_t)sl >= sizeof(scope)) return sp_fail(err, SP_ERR_USAGE, "sigv4: region or service too long");
    sb t;
    sb_init(&t, out->string_to_sign, sizeof(out->string_to_sign));
    sb_puts(&t, "AWS4-HMAC-SHA256\n");
    sb_puts(&t, r->amz_date);
    sb_putc(&t, '\n');
    sb_puts(&t, scope);
    sb_putc(&t, '\n');
    sb_puts(&t, hex);
    if (t.overflow) return sp_fail(err, SP_ERR_USAGE, "sigv4: string to sign too long");

    /* Signature. */
    unsigned char key[32], sig[32];
    int ok = derive_signing_key(r->secret_key, date8, r->region, r->service, key) &&
             hmac256(key, 32, t.p, t.len, sig);
    OPENSSL_cleanse(key, sizeof(key));
    if (!ok) return sp_fail_openssl(err, SP_ERR_CRYPTO, "sigv4: HMAC-SHA256");
    sp_hex(sig, 32, out->signature);
    OPENSSL_cleanse(sig, sizeof(sig));

    sb a;
    sb_init(&a, out->authorization, sizeof(out->authorization));
    sb_puts(&a, "AWS4-HMAC-SHA256 Credential=");
    sb_puts(&a, r->access_key);
    sb_putc(&a, '/');
    sb_puts(&a, scope);
    sb_puts(&a, ", SignedHeaders=");
    sb_puts(&a, out->signed_headers);
    sb_puts(&a, ", Signature=");
    sb_puts(&a, out->signature);
    if (a.overflow) return sp_fail(err, SP_ERR_USAGE, "sigv4: authorization header too long");
    return SP_OK;
}

sp_status sp_sigv4_sign(const sp_sigv4_request *req, sp_sigv4_result *out, sp_error *err)
{
    if (!req || !out) return sp_fail(err, SP_ERR_USAGE, "sigv4: missing request or result");
    /* The header scratch holds values such as the session token: heap, and
     * wiped, rather than a large stack frame on worker threads. */
    size_t cap = SP_SIGV4_CREQ_MAX;
    char *scratch = malloc(cap);
    if (!scratch) return sp_fail(err, SP_ERR_NOMEM, "sigv4: out of memory");
    sp_status st = sign(req, out, scratch, cap, err);
    OPENSSL_cleanse(scratch, cap);
    free(scratch);
    if (st != SP_OK) OPENSSL_cleanse(out, sizeof(*out));
    return st;
}
