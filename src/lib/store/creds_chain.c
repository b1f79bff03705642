/* creds_chain.c: tries credentials providers in order; the first with credentials wins; the error lists what was tried. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/creds.h"

typedef struct chain {
    sp_creds_provider **p;
    size_t n;
} chain;

static sp_status chain_get(sp_creds_provider *self, sp_creds *out, sp_error *err)
{
    chain *c = self->impl;
    char tried[SP_CREDS_WHY_MAX] = "";
    size_t len = 0;
    for (size_t i = 0; i < c->n; i++) {
        sp_error e = {0};
        sp_status s = c->p[i]->get(c->p[i], out, &e);
        if (s == SP_OK) return SP_OK;
        if (s != SP_ERR_NOT_FOUND) {
            /* Set up but broken: say which source, and stop. */
            return sp_fail(err, s, "S3 credentials from %s: %s", c->p[i]->name, e.msg);
        }
        int n = snprintf(tried + len, sizeof(tried) - len, "%s%s (%s)", len ? "; " : "", c->p[i]->name, e.msg);
        if (n > 0) len += (size_t)n < sizeof(tried) - len ? (size_t)n : sizeof(tried) - len - 1;
    }
    return sp_fail(err, SP_ERR_NOT_FOUND, "S3 credentials not found; tried %s", tried);
}

static void chain_destroy(sp_creds_provider *self)
{
    chain *c = self->impl;
    for (size_t i = 0; i < c->n; i++) sp_creds_provider_free(c->p[i]);
    free(c->p);
    free(c);
    free(self);
}

sp_creds_provider *sp_creds_chain_new(sp_creds_provider **providers, size_t n)
{
    sp_creds_provider *self = calloc(1, sizeof(*self));
    chain *c = calloc(1, sizeof(*c));
    sp_creds_provider **p = calloc(n ? n : 1, sizeof(*p));
    if (!self || !c || !p) {
        free(self);
        free(c);
        free(p);
        for (size_t i = 0; i < n; i++) sp_creds_provider_free(providers[i]);
        return NULL;
    }
    memcpy(p, providers, n * sizeof(*p));
    c->p = p;
    c->n = n;
    *self = (sp_creds_provider){.name = "chain", .get = chain_get, .destroy = chain_destroy, .impl = c};
    return self;
}

/* The order, in one place: fast local sources first, network sources last,
 * as the AWS CLI and SDKs resolve them. */
sp_status sp_creds_default_chain(const sp_creds_env *env, sp_creds_provider **out, sp_error *err)
{
    sp_creds_provider *p[5];
    size_t n = 0;
    p[n++] = sp_creds_environment_new(env);
    p[n++] = sp_creds_web_identity_new(env);
    p[n++] = sp_creds_profile_new(env);
    if (sp_creds_getenv(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
        sp_creds_getenv(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI"))
        p[n++] = sp_creds_ecs_new(env);
    else
        p[n++] = sp_creds_imds_new(env);
    for (size_t i = 0; i < n; i++) {
        if (p[i]) continue;
        for (size_t j = 0; j < n; j++) sp_creds_provider_free(p[j]);
        return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    }
    *out = sp_creds_chain_new(p, n);
    return *out ? SP_OK : sp_fail(err, SP_ERR_NOMEM, "out of memory");
}
