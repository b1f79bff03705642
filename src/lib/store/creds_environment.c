/* creds_environment.c: credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/creds.h"

static sp_status env_get(sp_creds_provider *p, sp_creds *out, sp_error *err)
{
    const sp_creds_env *env = p->impl;
    const char *ak = sp_creds_getenv(env, "AWS_ACCESS_KEY_ID");
    const char *sk = sp_creds_getenv(env, "AWS_SECRET_ACCESS_KEY");
    const char *tok = sp_creds_getenv(env, "AWS_SESSION_TOKEN");
    if (!ak && !sk) return sp_fail(err, SP_ERR_NOT_FOUND, "AWS_ACCESS_KEY_ID unset");
    /* One of the pair alone is a mistake, not an absence. */
    if (!ak || !sk)
        return sp_fail(err, SP_ERR_USAGE, "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set");
    if (strlen(ak) > SP_CREDS_KEY_MAX) return sp_fail(err, SP_ERR_USAGE, "AWS_ACCESS_KEY_ID is malformed");
    if (strlen(sk) > SP_CREDS_SECRET_MAX) return sp_fail(err, SP_ERR_USAGE, "AWS_SECRET_ACCESS_KEY is too long");
    if (tok && strlen(tok) > SP_CREDS_TOKEN_MAX) return sp_fail(err, SP_ERR_USAGE, "AWS_SESSION_TOKEN is malformed or too long");
    memset(out, 0, sizeof(*out));
    memcpy(out->access_key, ak, strlen(ak) + 1);
    memcpy(out->secret, sk, strlen(sk) + 1);
    if (tok) memcpy(out->token, tok, strlen(tok) + 1);
    snprintf(out->source, sizeof(out->source), "environment");
    sp_status s = sp_creds_check(out, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN", err);
    if (s != SP_OK) memset(out, 0, sizeof(*out));
    return s;
}

sp_creds_provider *sp_creds_environment_new(const sp_creds_env *env)
{
    return sp_creds_env_provider_new("environment", env_get, env);
}
