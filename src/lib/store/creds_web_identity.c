/* creds_web_identity.c: IRSA and friends: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN via STS AssumeRoleWithWebIdentity. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/creds.h"

typedef struct web_identity {
    sp_creds_env env;
} web_identity;

static sp_status wi_get(sp_creds_provider *p, sp_creds *out, sp_error *err)
{
    web_identity *w = p->impl;
    const char *file = sp_creds_getenv(&w->env, "AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *role = sp_creds_getenv(&w->env, "AWS_ROLE_ARN");
    if (!file && !role) return sp_fail(err, SP_ERR_NOT_FOUND, "AWS_WEB_IDENTITY_TOKEN_FILE unset");
    if (!file || !role)
        return sp_fail(err, SP_ERR_USAGE, "web identity needs both AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN");
    SP_TRY(sp_creds_sts_web_identity(&w->env, role, sp_creds_getenv(&w->env, "AWS_ROLE_SESSION_NAME"), file, out, err));
    snprintf(out->source, sizeof(out->source), "web identity");
    return SP_OK;
}

static void wi_destroy(sp_creds_provider *p)
{
    free(p->impl);
    free(p);
}

sp_creds_provider *sp_creds_web_identity_new(const sp_creds_env *env)
{
    sp_creds_provider *p = calloc(1, sizeof(*p));
    web_identity *w = calloc(1, sizeof(*w));
    if (!p || !w) {
        free(p);
        free(w);
        return NULL;
    }
    w->env = *env;
    *p = (sp_creds_provider){.name = "web identity", .get = wi_get, .destroy = wi_destroy, .impl = w};
    return p;
}
