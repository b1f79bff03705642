/* creds_sts.c: STS AssumeRole (signed with source credentials) and AssumeRoleWithWebIdentity (unsigned, with a token). */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/creds.h"
#include "store/s3_xml.h"
#include "store/sigv4.h"

#define STS_BODY_MAX 24576
#define STS_TIMEOUT_MS 10000

/* AWS_ENDPOINT_URL_STS (or the generic AWS_ENDPOINT_URL), else the
 * regional endpoint, which AWS recommends over the global one. */
static sp_status sts_url(const sp_creds_env *env, char *url, size_t cap, char *host, size_t hcap, sp_error *err)
{
    const char *ep = env->sts_endpoint[0] ? env->sts_endpoint : sp_creds_getenv(env, "AWS_ENDPOINT_URL");
    if (ep) {
        const char *auth = !strncmp(ep, "https://", 8) ? ep + 8 : !strncmp(ep, "http://", 7) ? ep + 7 : NULL;
        if (!auth) return sp_fail(err, SP_ERR_USAGE, "AWS_ENDPOINT_URL_STS must start with http:// or https://");
        size_t al = strcspn(auth, "/?#");
        if (al == 0 || al >= hcap || (auth[al] && strcmp(auth + al, "/") != 0))
            return sp_fail(err, SP_ERR_USAGE, "AWS_ENDPOINT_URL_STS must be scheme://host[:port]");
        snprintf(host, hcap, "%.*s", (int)al, auth);
        snprintf(url, cap, "%.*s/", (int)(auth - ep + al), ep);
        return SP_OK;
    }
    snprintf(host, hcap, "sts.%s.amazonaws.com", env->region[0] ? env->region : "us-east-1");
    snprintf(url, cap, "https://%s/", host);
    return SP_OK;
}

static sp_status add_param(char *body, size_t cap, const char *name, const char *value, sp_error *err)
{
    if (sp_sigv4_append_param(body, cap, name, value) != 0) return sp_fail(err, SP_ERR_USAGE, "STS request too long");
    return SP_OK;
}

typedef struct sts_answer {
    sp_creds *c;
    char expiration[64];
    char code[96], message[256];
    int too_long;
} sts_answer;

static const char *leaf(const char *path, const char *parent)
{
    size_t pl = strlen(parent), n = strlen(path);
    /* ".../Credentials/AccessKeyId": the leaf under parent. */
    const char *slash = strrchr(path, '/');
    if (!slash || (size_t)(slash - path) < pl) return NULL;
    if (strncmp(slash - pl, parent, pl) != 0) return NULL;
    (void)n;
    return slash + 1;
}

static void take(char *dst, size_t cap, const char *text, size_t len, int *too_long)
{
    if (len >= cap) *too_long = 1;
    else memcpy(dst, text, len + 1);
}

static int on_sts_elem(void *ctx, const char *path, const char *text, size_t len)
{
    sts_answer *a = ctx;
    const char *l;
    if ((l = leaf(path, "Credentials"))) {
        if (!strcmp(l, "AccessKeyId")) take(a->c->access_key, sizeof(a->c->access_key), text, len, &a->too_long);
        else if (!strcmp(l, "SecretAccessKey")) take(a->c->secret, sizeof(a->c->secret), text, len, &a->too_long);
        else if (!strcmp(l, "SessionToken")) take(a->c->token, sizeof(a->c->token), text, len, &a->too_long);
        else if (!strcmp(l, "Expiration")) take(a->expiration, sizeof(a->expiration), text, len, &a->too_long);
    } else if ((l = leaf(path, "Error"))) {
        if (!strcmp(l, "Code")) take(a->code, sizeof(a->code), text, len, &a->too_long);
        else if (!strcmp(l, "Message")) take(a->message, sizeof(a->message), text, len, &a->too_long);
    }
    return 0;
}

/* Sends body to STS (signed with source unless NULL) and reads the
 * credentials out of the answer. */
static sp_status sts_call(const sp_creds_env *env, const sp_creds *source, const char *action, const char *body,
                          sp_creds *out, sp_error *err)
{
    char url[400], host[300];
    SP_TRY(sts_url(env, url, sizeof(url), host, sizeof(host), err));
    const char *lines[6];
    size_t nl = 0;
    char date_h[64], authz_h[SP_SIGV4_AUTHZ_MAX + 32];
    char *token_h = NULL;
    sp_status s = SP_OK;
    lines[nl++] = "Content-Type: application/x-www-form-urlencoded; charset=utf-8";
    if (source) {
        unsigned char md[32];
        char sha[65];
        unsigned mdlen = 0;
        if (EVP_Digest(body, strlen(body), md, &mdlen, EVP_sha256(), NULL) != 1)
            return sp_fail(err, SP_ERR_CRYPTO, "SHA-256 failed");
        sp_hex(md, 32, sha);
        char date[SP_SIGV4_AMZ_DATE_LEN + 1];
        sp_sigv4_amz_date(time(NULL), date);
        sp_sigv4_header h[2] = {{"host", host}, {"content-type", "application/x-www-form-urlencoded; charset=utf-8"}};
        sp_sigv4_request rq = {
            .method = "POST", .path = "/", .query = "", .headers = h, .n_headers = 2, .payload_sha256 = sha,
            .amz_date = date, .region = env->region[0] ? env->region : "us-east-1", .service = "sts",
            .access_key = source->access_key, .secret_key = source->secret, .session_token = source->token,
            .flags = SP_SIGV4_GENERIC_PATH,
        };
        sp_sigv4_result *sig = malloc(sizeof(*sig));
        if (!sig) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
        s = sp_sigv4_sign(&rq, sig, err);
        if (s == SP_OK) {
            snprintf(date_h, sizeof(date_h), "X-Amz-Date: %s", date);
            snprintf(authz_h, sizeof(authz_h), "Authorization: %s", sig->authorization);
            lines[nl++] = date_h;
            lines[nl++] = authz_h;
            if (source->token[0]) {
                size_t tl = strlen(source->token) + 32;
                token_h = sp_secret_alloc(tl);
                if (!token_h) s = sp_fail(err, SP_ERR_NOMEM, "out of memory");
                else {
                    snprintf(token_h, tl, "X-Amz-Security-Token: %s", source->token);
                    lines[nl++] = token_h;
                }
            }
        }
        OPENSSL_cleanse(sig, sizeof(*sig));
        free(sig);
    }
    lines[nl] = NULL;
    sp_creds_http h = {.method = "POST", .url = url, .headers = lines, .body = body, .connect_timeout_ms = 5000,
                       .timeout_ms = STS_TIMEOUT_MS, .cainfo = env->cainfo[0] ? env->cainfo : NULL};
    if (s == SP_OK) {
        sp_error he;
        if (sp_creds_http_run(&h, &he) != SP_OK) s = sp_fail(err, SP_ERR_STORE, "STS %s at %s: %s", action, url, he.msg);
    }
    OPENSSL_cleanse(authz_h, sizeof(authz_h));
    if (token_h) sp_secret_free(token_h, strlen(source->token) + 32);
    if (s != SP_OK) return s;

    sts_answer a = {.c = out};
    memset(out, 0, sizeof(*out));
    sp_error xe;
    sp_status xs = sp_s3_xml_walk(h.resp, h.resp_len, on_sts_elem, &a, &xe);
    long status = h.status;
    sp_creds_http_free(&h);
    if (status < 200 || status >= 300) {
        s = sp_fail(err, status >= 500 ? SP_ERR_STORE : SP_ERR_USAGE, "STS %s at %s: HTTP %ld %s%s%s", action, url,
                    status, a.code, a.message[0] ? ": " : "", a.message);
    } else if (xs != SP_OK || a.too_long) {
        s = sp_fail(err, SP_ERR_STORE, "STS %s at %s: unreadable answer", action, url);
    } else if (a.expiration[0] && sp_s3_parse_iso8601(a.expiration, &out->expires) != 0) {
        s = sp_fail(err, SP_ERR_STORE, "STS %s: unreadable Expiration '%.40s'", action, a.expiration);
    } else {
        s = sp_creds_check(out, "STS", err);
    }
    if (s != SP_OK) memset(out, 0, sizeof(*out));
    return s;
}

sp_status sp_creds_sts_assume_role(const sp_creds_env *env, const sp_creds *source, const char *role_arn,
                                   const char *session_name, const char *external_id, long duration, sp_creds *out,
                                   sp_error *err)
{
    char body[STS_BODY_MAX] = "";
    char dur[24], name[64];
    if (!session_name) {
        snprintf(name, sizeof(name), "sealpub-%ld", (long)time(NULL));
        session_name = name;
    }
    snprintf(dur, sizeof(dur), "%ld", duration > 0 ? duration : 3600);
    SP_TRY(add_param(body, sizeof(body), "Action", "AssumeRole", err));
    SP_TRY(add_param(body, sizeof(body), "Version", "2011-06-15", err));
    SP_TRY(add_param(body, sizeof(body), "RoleArn", role_arn, err));
    SP_TRY(add_param(body, sizeof(body), "RoleSessionName", session_name, err));
    SP_TRY(add_param(body, sizeof(body), "DurationSeconds", dur, err));
    if (external_id) SP_TRY(add_param(body, sizeof(body), "ExternalId", external_id, err));
    return sts_call(env, source, "AssumeRole", body, out, err);
}

sp_status sp_creds_sts_web_identity(const sp_creds_env *env, const char *role_arn, const char *session_name,
                                    const char *token_file, sp_creds *out, sp_error *err)
{
    /* The token file is rewritten by the platform (EKS rotates it), so it
     * is read afresh on every call. */
    FILE *f = fopen(token_file, "rb");
    if (!f) return sp_fail(err, SP_ERR_USAGE, "web identity token file %.300s: %s", token_file, strerror(errno));
    char *tok = sp_secret_alloc(SP_CREDS_TOKEN_MAX + 1);
    char *body = sp_secret_alloc(STS_BODY_MAX);
    if (!tok || !body) {
        fclose(f);
        if (tok) sp_secret_free(tok, SP_CREDS_TOKEN_MAX + 1);
        if (body) sp_secret_free(body, STS_BODY_MAX);
        return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    }
    size_t n = fread(tok, 1, SP_CREDS_TOKEN_MAX + 1, f);
    fclose(f);
    sp_status s = SP_OK;
    if (n > SP_CREDS_TOKEN_MAX) s = sp_fail(err, SP_ERR_USAGE, "web identity token file %.300s is too large", token_file);
    else {
        tok[n] = '\0';
        while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' ')) tok[--n] = '\0';
        if (!n) s = sp_fail(err, SP_ERR_USAGE, "web identity token file %.300s is empty", token_file);
    }
    char name[64];
    if (!session_name) {
        snprintf(name, sizeof(name), "sealpub-%ld", (long)time(NULL));
        session_name = name;
    }
    body[0] = '\0';
    if (s == SP_OK) s = add_param(body, STS_BODY_MAX, "Action", "AssumeRoleWithWebIdentity", err);
    if (s == SP_OK) s = add_param(body, STS_BODY_MAX, "Version", "2011-06-15", err);
    if (s == SP_OK) s = add_param(body, STS_BODY_MAX, "RoleArn", role_arn, err);
    if (s == SP_OK) s = add_param(body, STS_BODY_MAX, "RoleSessionName", session_name, err);
    if (s == SP_OK) s = add_param(body, STS_BODY_MAX, "WebIdentityToken", tok, err);
    if (s == SP_OK) s = sts_call(env, NULL, "AssumeRoleWithWebIdentity", body, out, err);
    sp_secret_free(tok, SP_CREDS_TOKEN_MAX + 1);
    sp_secret_free(body, STS_BODY_MAX);
    return s;
}
