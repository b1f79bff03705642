/* creds_imds.c: EC2 instance profile credentials over IMDSv2 only (session token PUT first), with short timeouts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "store/creds.h"

#define IMDS_HOST "http://169.254.169.254"
#define IMDS_TOKEN_TTL 21600
#define IMDS_ROLE_MAX 256

/* Members are touched only under the cached provider's lock. */
typedef struct imds {
    sp_creds_env env;
    char token[512]; /* the IMDSv2 session token, reused until it nears its TTL */
    time_t token_until;
} imds;

static long env_num(const imds *m, const char *name, long dflt, long min, long max)
{
    const char *v = sp_creds_getenv(&m->env, name);
    if (!v) return dflt;
    char *e;
    long n = strtol(v, &e, 10);
    return *e || n < min || n > max ? dflt : n;
}

/* One exchange with the attempts and timeout the SDKs use
 * (AWS_METADATA_SERVICE_NUM_ATTEMPTS, AWS_METADATA_SERVICE_TIMEOUT: 1 and
 * 1 s): off EC2 nothing answers, and a host that is not on EC2 must not
 * wait long to learn it. */
static sp_status imds_call(imds *m, const char *method, const char *path, const char *const *hdrs, sp_creds_http *h,
                           sp_error *err)
{
    const char *base = sp_creds_getenv(&m->env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!base) base = IMDS_HOST;
    char url[512];
    size_t bl = strlen(base);
    snprintf(url, sizeof(url), "%.*s%s", (int)(bl && base[bl - 1] == '/' ? bl - 1 : bl), base, path);
    long attempts = env_num(m, "AWS_METADATA_SERVICE_NUM_ATTEMPTS", 1, 1, 10);
    long secs = env_num(m, "AWS_METADATA_SERVICE_TIMEOUT", 1, 1, 60);
    sp_status s = SP_OK;
    for (long i = 0; i < attempts; i++) {
        *h = (sp_creds_http){.method = method, .url = url, .headers = hdrs, .body = "",
                             .connect_timeout_ms = secs * 1000, .timeout_ms = secs * 1000};
        s = sp_creds_http_run(h, err);
        if (s == SP_OK && h->status < 500) return SP_OK;
        if (s == SP_OK) sp_creds_http_free(h);
    }
    if (s == SP_OK) return sp_fail(err, SP_ERR_STORE, "%s answered HTTP %ld", url, h->status);
    return s;
}

static sp_status get_token(imds *m, sp_error *err)
{
    time_t now = time(NULL);
    if (m->token[0] && now < m->token_until) return SP_OK;
    char ttl[64];
    snprintf(ttl, sizeof(ttl), "X-aws-ec2-metadata-token-ttl-seconds: %d", IMDS_TOKEN_TTL);
    const char *hdrs[] = {ttl, NULL};
    sp_creds_http h;
    sp_error e;
    if (imds_call(m, "PUT", "/latest/api/token", hdrs, &h, &e) != SP_OK)
        /* A hop limit of 1 seen from a container looks the same: no answer. */
        return sp_fail(err, SP_ERR_NOT_FOUND,
                       "no IMDSv2 token from the EC2 metadata service: %s (from a container on EC2 the "
                       "instance's metadata hop limit must be 2 or more)", e.msg);
    sp_status s = SP_OK;
    if (h.status != 200 || !h.resp_len || h.resp_len >= sizeof(m->token) || strpbrk(h.resp, "\r\n"))
        /* 403: the instance has the metadata service turned off; anything
         * else: not an EC2 metadata service at all. Either way, no source. */
        s = sp_fail(err, SP_ERR_NOT_FOUND, "no IMDSv2 token from %s (HTTP %ld)", "the EC2 metadata service", h.status);
    else {
        memcpy(m->token, h.resp, h.resp_len + 1);
        m->token_until = now + IMDS_TOKEN_TTL - 60;
    }
    sp_creds_http_free(&h);
    return s;
}

static sp_status imds_get(sp_creds_provider *p, sp_creds *out, sp_error *err)
{
    imds *m = p->impl;
    const char *off = sp_creds_getenv(&m->env, "AWS_EC2_METADATA_DISABLED");
    if (off && !strcasecmp(off, "true")) return sp_fail(err, SP_ERR_NOT_FOUND, "disabled by AWS_EC2_METADATA_DISABLED");
    SP_TRY(get_token(m, err));
    char th[600];
    snprintf(th, sizeof(th), "X-aws-ec2-metadata-token: %s", m->token);
    const char *hdrs[] = {th, NULL};
    sp_creds_http h;
    sp_error e;
    const char *dir = "/latest/meta-data/iam/security-credentials/";
    if (imds_call(m, "GET", dir, hdrs, &h, &e) != SP_OK)
        return sp_fail(err, SP_ERR_STORE, "EC2 metadata service: %s", e.msg);
    if (h.status == 401) m->token[0] = '\0'; /* expired token: a fresh one next time */
    if (h.status == 404 || (h.status == 200 && !h.resp_len)) {
        sp_creds_http_free(&h);
        return sp_fail(err, SP_ERR_NOT_FOUND, "this EC2 instance has no instance profile (IAM role)");
    }
    if (h.status != 200) {
        long st = h.status;
        sp_creds_http_free(&h);
        return sp_fail(err, SP_ERR_STORE, "EC2 metadata service answered HTTP %ld for the role name", st);
    }
    char role[IMDS_ROLE_MAX];
    size_t rl = strcspn(h.resp, "\r\n");
    int ok = rl && rl < sizeof(role);
    if (ok) {
        memcpy(role, h.resp, rl);
        role[rl] = '\0';
        ok = strspn(role, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-") == rl;
    }
    sp_creds_http_free(&h);
    if (!ok) return sp_fail(err, SP_ERR_STORE, "EC2 metadata service sent an unusable role name");
    char path[512];
    snprintf(path, sizeof(path), "%s%s", dir, role);
    if (imds_call(m, "GET", path, hdrs, &h, &e) != SP_OK)
        return sp_fail(err, SP_ERR_STORE, "EC2 metadata service: %s", e.msg);
    sp_status s;
    if (h.status != 200)
        s = sp_fail(err, SP_ERR_STORE, "EC2 metadata service answered HTTP %ld for role %s", h.status, role);
    else
        s = sp_creds_from_json(h.resp, h.resp_len, "Token", out, "EC2 instance metadata", err);
    sp_creds_http_free(&h);
    if (s == SP_OK) snprintf(out->source, sizeof(out->source), "EC2 instance metadata (role %.60s)", role);
    return s;
}

static void imds_destroy(sp_creds_provider *p)
{
    imds *m = p->impl;
    sp_secret_free(m, sizeof(*m));
    free(p);
}

sp_creds_provider *sp_creds_imds_new(const sp_creds_env *env)
{
    sp_creds_provider *p = calloc(1, sizeof(*p));
    imds *m = sp_secret_alloc(sizeof(*m));
    if (!p || !m) {
        free(p);
        if (m) sp_secret_free(m, sizeof(*m));
        return NULL;
    }
    memset(m, 0, sizeof(*m));
    m->env = *env;
    *p = (sp_creds_provider){.name = "EC2 instance metadata", .get = imds_get, .destroy = imds_destroy, .impl = m};
    return p;
}
