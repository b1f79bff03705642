/* creds_util.c: what the credentials providers share: secret storage, a flat-JSON reader, a blocking HTTP call. */
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/creds.h"
#include "store/curl_compat.h"
#include "store/s3_xml.h"

#define CREDS_HTTP_RESP_MAX ((size_t)256 << 10)

sp_creds *sp_creds_new(void)
{
    sp_creds *c = sp_secret_alloc(sizeof(*c));
    if (c) memset(c, 0, sizeof(*c));
    return c;
}

void sp_creds_free(sp_creds *c)
{
    if (c) sp_secret_free(c, sizeof(*c));
}

static int clean(const char *s, const char *forbidden)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || strchr(forbidden, *s)) return 0;
    return 1;
}

sp_status sp_creds_check(const sp_creds *c, const char *what, sp_error *err)
{
    if (!c->access_key[0] || !c->secret[0])
        return sp_fail(err, SP_ERR_USAGE, "%s: credentials without an access key id or secret key", what);
    if (!clean(c->access_key, "/ ,="))
        return sp_fail(err, SP_ERR_USAGE, "%s: the access key id is malformed", what);
    if (!clean(c->secret, "") || !clean(c->token, ""))
        return sp_fail(err, SP_ERR_USAGE, "%s: the secret key or session token has control characters", what);
    return SP_OK;
}

static void env_provider_destroy(sp_creds_provider *p)
{
    free(p->impl);
    free(p);
}

sp_creds_provider *sp_creds_env_provider_new(const char *name, sp_status (*get)(sp_creds_provider *, sp_creds *, sp_error *),
                                             const sp_creds_env *env)
{
    sp_creds_provider *p = calloc(1, sizeof(*p));
    sp_creds_env *copy = calloc(1, sizeof(*copy));
    if (!p || !copy) {
        free(p);
        free(copy);
        return NULL;
    }
    *copy = *env;
    *p = (sp_creds_provider){.name = name, .get = get, .destroy = env_provider_destroy, .impl = copy};
    return p;
}

const char *sp_creds_getenv(const sp_creds_env *env, const char *name)
{
    const char *v = env && env->getenv ? env->getenv(name) : getenv(name);
    return v && *v ? v : NULL;
}

/* ---------------------------------------------------------------------------
 * A flat-JSON reader: the credentials documents are one object of strings
 * (and a number or two). Nested values are skipped by bracket depth.
 */

typedef struct jr {
    const char *p, *end;
} jr;

static void ws(jr *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n')) r->p++;
}

/* Reads a string into out (escapes decoded; \u of the BMP as UTF-8). */
static int jstring(jr *r, char *out, size_t cap)
{
    if (r->p >= r->end || *r->p != '"') return -1;
    r->p++;
    size_t n = 0;
    while (r->p < r->end && *r->p != '"') {
        unsigned char c = (unsigned char)*r->p++;
        if (c < 0x20) return -1;
        if (c == '\\') {
            if (r->p >= r->end) return -1;
            char e = *r->p++;
            unsigned cp;
            switch (e) {
            case '"': case '\\': case '/': cp = (unsigned char)e; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u': {
                if (r->end - r->p < 4) return -1;
                char hex[5] = {r->p[0], r->p[1], r->p[2], r->p[3], 0};
                char *e2;
                cp = (unsigned)strtoul(hex, &e2, 16);
                if (*e2) return -1;
                r->p += 4;
                break;
            }
            default: return -1;
            }
            char b[3];
            size_t bl;
            if (cp < 0x80) b[0] = (char)cp, bl = 1;
            else if (cp < 0x800) b[0] = (char)(0xC0 | (cp >> 6)), b[1] = (char)(0x80 | (cp & 0x3F)), bl = 2;
            else b[0] = (char)(0xE0 | (cp >> 12)), b[1] = (char)(0x80 | ((cp >> 6) & 0x3F)), b[2] = (char)(0x80 | (cp & 0x3F)), bl = 3;
            if (cp == 0 || n + bl >= cap) return -1;
            memcpy(out + n, b, bl);
            n += bl;
            continue;
        }
        if (n + 1 >= cap) return -1;
        out[n++] = (char)c;
    }
    if (r->p >= r->end) return -1;
    r->p++;
    out[n] = '\0';
    return 0;
}

/* Skips one value of any kind; scalars other than strings go to out. */
static int jvalue(jr *r, char *out, size_t cap, int *scalar)
{
    ws(r);
    *scalar = 0;
    if (r->p >= r->end) return -1;
    if (*r->p == '"') {
        *scalar = 1;
        return jstring(r, out, cap);
    }
    if (*r->p == '{' || *r->p == '[') {
        int depth = 0, in_str = 0;
        for (; r->p < r->end; r->p++) {
            char c = *r->p;
            if (in_str) {
                if (c == '\\') r->p++;
                else if (c == '"') in_str = 0;
                continue;
            }
            if (c == '"') in_str = 1;
            else if (c == '{' || c == '[') {
                if (++depth > 32) return -1;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) {
                    r->p++;
                    return 0;
                }
            }
        }
        return -1;
    }
    size_t n = 0;
    while (r->p < r->end && strchr("0123456789+-.eEtruefalsn", *r->p)) {
        if (n + 1 >= cap) return -1;
        out[n++] = *r->p++;
    }
    if (!n) return -1;
    out[n] = '\0';
    *scalar = 1;
    return 0;
}

sp_status sp_creds_json_walk(const char *doc, size_t len, int (*fn)(void *ctx, const char *key, const char *val),
                             void *ctx, sp_error *err)
{
    jr r = {doc, doc + len};
    char key[128];
    char *val = sp_secret_alloc(SP_CREDS_TOKEN_MAX + 1);
    if (!val) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    sp_status s = SP_OK;
    ws(&r);
    if (r.p >= r.end || *r.p != '{') s = sp_fail(err, SP_ERR_FORMAT, "not a JSON object");
    else r.p++;
    int first = 1;
    while (s == SP_OK) {
        ws(&r);
        if (r.p < r.end && *r.p == '}' && first) {
            r.p++;
            break;
        }
        int scalar;
        if (jstring(&r, key, sizeof(key)) != 0) {
            s = sp_fail(err, SP_ERR_FORMAT, "malformed JSON member name");
            break;
        }
        ws(&r);
        if (r.p >= r.end || *r.p != ':') {
            s = sp_fail(err, SP_ERR_FORMAT, "malformed JSON: ':' expected");
            break;
        }
        r.p++;
        if (jvalue(&r, val, SP_CREDS_TOKEN_MAX + 1, &scalar) != 0) {
            s = sp_fail(err, SP_ERR_FORMAT, "malformed or oversized JSON value of \"%.60s\"", key);
            break;
        }
        if (scalar && fn(ctx, key, val)) break;
        first = 0;
        ws(&r);
        if (r.p < r.end && *r.p == ',') {
            r.p++;
            continue;
        }
        if (r.p < r.end && *r.p == '}') {
            r.p++;
            break;
        }
        s = sp_fail(err, SP_ERR_FORMAT, "malformed JSON: ',' or '}' expected");
    }
    if (s == SP_OK) {
        ws(&r);
        if (r.p != r.end) s = sp_fail(err, SP_ERR_FORMAT, "trailing bytes after the JSON object");
    }
    sp_secret_free(val, SP_CREDS_TOKEN_MAX + 1);
    return s;
}

typedef struct json_creds {
    sp_creds *c;
    const char *token_member;
    char expiration[64];
    char code[64];
    int version, has_version, too_long;
} json_creds;

static int copy(char *dst, size_t cap, const char *v, int *too_long)
{
    if (strlen(v) >= cap) *too_long = 1;
    else memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int on_cred_member(void *ctx, const char *key, const char *val)
{
    json_creds *j = ctx;
    if (!strcmp(key, "AccessKeyId")) return copy(j->c->access_key, sizeof(j->c->access_key), val, &j->too_long);
    if (!strcmp(key, "SecretAccessKey")) return copy(j->c->secret, sizeof(j->c->secret), val, &j->too_long);
    if (!strcmp(key, j->token_member)) return copy(j->c->token, sizeof(j->c->token), val, &j->too_long);
    if (!strcmp(key, "Expiration")) return copy(j->expiration, sizeof(j->expiration), val, &j->too_long);
    if (!strcmp(key, "Code")) return copy(j->code, sizeof(j->code), val, &j->too_long);
    if (!strcmp(key, "Version")) {
        j->has_version = 1;
        j->version = atoi(val);
    }
    return 0;
}

sp_status sp_creds_from_json(const char *doc, size_t len, const char *token_member, sp_creds *c, const char *what,
                             sp_error *err)
{
    /* Nothing left over from an earlier answer may fill a missing field. */
    memset(c, 0, sizeof(*c));
    json_creds j = {.c = c, .token_member = token_member};
    sp_error je;
    if (sp_creds_json_walk(doc, len, on_cred_member, &j, &je) != SP_OK)
        return sp_fail(err, SP_ERR_USAGE, "%s: unreadable credentials document (%s)", what, je.msg);
    if (j.too_long) return sp_fail(err, SP_ERR_USAGE, "%s: a credentials field is too long", what);
    if (j.code[0] && strcmp(j.code, "Success") != 0)
        return sp_fail(err, SP_ERR_USAGE, "%s: the service answered Code \"%.60s\"", what, j.code);
    if (j.has_version && j.version != 1)
        return sp_fail(err, SP_ERR_USAGE, "%s: unsupported credentials Version %d (1 expected)", what, j.version);
    c->expires = 0;
    if (j.expiration[0] && sp_s3_parse_iso8601(j.expiration, &c->expires) != 0)
        return sp_fail(err, SP_ERR_USAGE, "%s: unreadable Expiration '%.40s' (ISO 8601 expected)", what, j.expiration);
    return sp_creds_check(c, what, err);
}

/* ---------------------------------------------------------------------------
 * A small blocking HTTP exchange.
 */

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    sp_creds_http *h = ud;
    size_t len = size * n;
    if (h->resp_len + len >= CREDS_HTTP_RESP_MAX) return 0;
    /* One buffer of the maximum size, never moved: answers carry secrets
     * and a realloc would leave copies behind unwiped. */
    if (!h->resp && !(h->resp = malloc(CREDS_HTTP_RESP_MAX))) return 0;
    memcpy(h->resp + h->resp_len, data, len);
    h->resp_len += len;
    h->resp[h->resp_len] = '\0';
    return len;
}

sp_status sp_creds_http_run(sp_creds_http *h, sp_error *err)
{
    h->status = 0;
    h->resp = NULL;
    h->resp_len = 0;
    CURL *e = curl_easy_init();
    if (!e) return sp_fail(err, SP_ERR_NOMEM, "curl_easy_init failed");
    struct curl_slist *hl = NULL;
    for (const char *const *l = h->headers; l && *l; l++) {
        struct curl_slist *t = curl_slist_append(hl, *l);
        if (!t) {
            curl_slist_free_all(hl);
            curl_easy_cleanup(e);
            return sp_fail(err, SP_ERR_NOMEM, "out of memory");
        }
        hl = t;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, h->url);
    SP_CURL_HTTP_ONLY(e);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "sealpub/" SEALPUB_VERSION);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->cainfo) curl_easy_setopt(e, CURLOPT_CAINFO, h->cainfo);
    /* Credentials endpoints never redirect; following one could hand a
     * token to another host. */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
    if (!strcmp(h->method, "POST")) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, h->body ? h->body : "");
    } else if (!strcmp(h->method, "PUT")) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, h->body ? h->body : "");
    }
    CURLcode cc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &h->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(e);
    if (cc != CURLE_OK) {
        sp_creds_http_free(h);
        return sp_fail(err, SP_ERR_STORE, "%s", cerr[0] ? cerr : curl_easy_strerror(cc));
    }
    if (!h->resp && !(h->resp = calloc(1, 1))) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    return SP_OK;
}

void sp_creds_http_free(sp_creds_http *h)
{
    if (h->resp) {
        OPENSSL_cleanse(h->resp, h->resp_len);
        free(h->resp);
    }
    h->resp = NULL;
    h->resp_len = 0;
}
