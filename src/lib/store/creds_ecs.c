/* creds_ecs.c: ECS task roles and EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/_FULL_URI with an authorization token. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/creds.h"

#define ECS_HOST "http://169.254.170.2"
#define ECS_TIMEOUT_MS 5000

/* Plain http is only for the link-local agents and loopback (a sidecar),
 * as the SDKs allow; anything else must be https so the token and the
 * credentials never cross a network in clear. */
static int http_allowed(const char *url)
{
    const char *h = url + 7;
    size_t hl = strcspn(h, "/?#");
    char host[128];
    if (hl >= sizeof(host)) return 0;
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (host[0] == '[') {
        char *close = strchr(host, ']');
        if (!close) return 0;
        *close = '\0';
        return !strcmp(host + 1, "::1") || !strcmp(host + 1, "fd00:ec2::23");
    }
    char *colon = strchr(host, ':');
    if (colon) *colon = '\0';
    return !strncmp(host, "127.", 4) || !strcmp(host, "localhost") || !strcmp(host, "169.254.170.2") ||
           !strcmp(host, "169.254.170.23");
}

static sp_status read_token(const sp_creds_env *env, char *out, size_t cap, sp_error *err)
{
    out[0] = '\0';
    const char *file = sp_creds_getenv(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tok = sp_creds_getenv(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (file) {
        /* EKS rotates the file: read it on every call. */
        FILE *f = fopen(file, "rb");
        if (!f) return sp_fail(err, SP_ERR_USAGE, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %.300s: %s", file, strerror(errno));
        size_t n = fread(out, 1, cap - 1, f);
        fclose(f);
        if (n == cap - 1) return sp_fail(err, SP_ERR_USAGE, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE is too large");
        out[n] = '\0';
        while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ')) out[--n] = '\0';
    } else if (tok) {
        if (strlen(tok) >= cap) return sp_fail(err, SP_ERR_USAGE, "AWS_CONTAINER_AUTHORIZATION_TOKEN is too long");
        memcpy(out, tok, strlen(tok) + 1);
    }
    if (strpbrk(out, "\r\n")) return sp_fail(err, SP_ERR_USAGE, "the container authorization token has a line break");
    return SP_OK;
}

static sp_status ecs_get(sp_creds_provider *p, sp_creds *out, sp_error *err)
{
    const sp_creds_env *env = p->impl;
    const char *rel = sp_creds_getenv(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = sp_creds_getenv(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    char url[2048];
    if (rel) {
        if (rel[0] != '/' || strlen(rel) > 1024)
            return sp_fail(err, SP_ERR_USAGE, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path starting with /");
        snprintf(url, sizeof(url), "%s%s", ECS_HOST, rel);
    } else if (full) {
        if (strlen(full) > 1024) return sp_fail(err, SP_ERR_USAGE, "AWS_CONTAINER_CREDENTIALS_FULL_URI is too long");
        if (!strncmp(full, "http://", 7)) {
            if (!http_allowed(full))
                return sp_fail(err, SP_ERR_USAGE,
                               "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is only allowed to loopback or the "
                               "ECS/EKS agent addresses; use https");
        } else if (strncmp(full, "https://", 8) != 0) {
            return sp_fail(err, SP_ERR_USAGE, "AWS_CONTAINER_CREDENTIALS_FULL_URI must start with http:// or https://");
        }
        snprintf(url, sizeof(url), "%s", full);
    } else {
        return sp_fail(err, SP_ERR_NOT_FOUND, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/_FULL_URI unset");
    }
    char *tok = sp_secret_alloc(SP_CREDS_TOKEN_MAX + 1);
    char *hdr = sp_secret_alloc(SP_CREDS_TOKEN_MAX + 32);
    sp_status s = tok && hdr ? SP_OK : sp_fail(err, SP_ERR_NOMEM, "out of memory");
    if (s == SP_OK) s = read_token(env, tok, SP_CREDS_TOKEN_MAX + 1, err);
    const char *lines[3] = {"Accept: application/json", NULL, NULL};
    if (s == SP_OK && tok[0]) {
        snprintf(hdr, SP_CREDS_TOKEN_MAX + 32, "Authorization: %s", tok);
        lines[1] = hdr;
    }
    sp_creds_http h = {.method = "GET", .url = url, .headers = lines, .connect_timeout_ms = 2000,
                       .timeout_ms = ECS_TIMEOUT_MS, .cainfo = env->cainfo[0] ? env->cainfo : NULL};
    if (s == SP_OK) {
        sp_error he;
        if (sp_creds_http_run(&h, &he) != SP_OK)
            s = sp_fail(err, SP_ERR_STORE, "container credentials endpoint %.200s: %s", url, he.msg);
        else if (h.status != 200)
            /* 4xx: the token or URI is wrong, which a retry cannot fix. */
            s = sp_fail(err, h.status >= 400 && h.status < 500 ? SP_ERR_USAGE : SP_ERR_STORE,
                        "container credentials endpoint %.200s answered HTTP %ld", url, h.status);
        else
            s = sp_creds_from_json(h.resp, h.resp_len, "Token", out, "container credentials endpoint", err);
        sp_creds_http_free(&h);
    }
    if (tok) sp_secret_free(tok, SP_CREDS_TOKEN_MAX + 1);
    if (hdr) sp_secret_free(hdr, SP_CREDS_TOKEN_MAX + 32);
    if (s == SP_OK) snprintf(out->source, sizeof(out->source), "container credentials (ECS/EKS)");
    return s;
}

sp_creds_provider *sp_creds_ecs_new(const sp_creds_env *env)
{
    return sp_creds_env_provider_new("container credentials", ecs_get, env);
}
