/* creds_web_identity.c: IRSA and friends: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN via STS AssumeRoleWithWebIdentity. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/creds.h"

static sp_status wi_get(sp_creds_provider *p, sp_creds *out, sp_error *err)
{
    const sp_creds_env *env = p->impl;
    const char *file = sp_creds_getenv(env, "AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *role = sp_creds_getenv(env, "AWS_ROLE_ARN");
    if (!file && !role) return sp_fail(err, SP_ERR_NOT_FOUND, "AWS_WEB_IDENTITY_TOKEN_FILE unset");
    if (!file || !role)
        return sp_fail(err, SP_ERR_USAGE, "web identity needs both AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN");
    SP_TRY(sp_creds_sts_web_identity(env, role, sp_creds_getenv(env, "AWS_ROLE_SESSION_NAME"), file, out, err));
    snprintf(out->source, sizeof(out->source), "web identity");
    return SP_OK;
}

sp_creds_provider *sp_creds_web_identity_new(const sp_creds_env *env)
{
    return sp_creds_env_provider_new("web identity", wi_get, env);
}
