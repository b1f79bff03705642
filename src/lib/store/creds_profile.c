/* creds_profile.c: credentials from the shared files' profile: static keys, role_arn + source_profile via STS, credential_process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/aws_config_file.h"
#include "store/creds.h"

#define PROFILE_DEPTH_MAX 4 /* source_profile hops, as a guard against loops */

static sp_status from_profile(const sp_creds_env *env, const char *name, int depth, sp_creds *out, sp_error *err);

static sp_status static_keys(const sp_aws_profile *p, sp_creds *out, sp_error *err)
{
    const char *ak = sp_aws_profile_get(p, "aws_access_key_id"), *sk = sp_aws_profile_get(p, "aws_secret_access_key");
    const char *tok = sp_aws_profile_get(p, "aws_session_token");
    if (!ak || !sk)
        return sp_fail(err, SP_ERR_USAGE, "profile '%s' has only one of aws_access_key_id and aws_secret_access_key",
                       sp_aws_profile_name(p));
    if (strlen(ak) > SP_CREDS_KEY_MAX || strlen(sk) > SP_CREDS_SECRET_MAX || (tok && strlen(tok) > SP_CREDS_TOKEN_MAX))
        return sp_fail(err, SP_ERR_USAGE, "profile '%s': a credential is too long", sp_aws_profile_name(p));
    memset(out, 0, sizeof(*out));
    memcpy(out->access_key, ak, strlen(ak) + 1);
    memcpy(out->secret, sk, strlen(sk) + 1);
    if (tok) memcpy(out->token, tok, strlen(tok) + 1);
    return sp_creds_check(out, "shared credentials file", err);
}

static sp_status assume_role(const sp_creds_env *env, const sp_aws_profile *p, int depth, sp_creds *out, sp_error *err)
{
    const char *role = sp_aws_profile_get(p, "role_arn"), *src = sp_aws_profile_get(p, "source_profile");
    const char *web = sp_aws_profile_get(p, "web_identity_token_file");
    const char *name = sp_aws_profile_name(p);
    if (web) return sp_creds_sts_web_identity(env, role, sp_aws_profile_get(p, "role_session_name"), web, out, err);
    if (sp_aws_profile_get(p, "credential_source"))
        return sp_fail(err, SP_ERR_USAGE, "profile '%s': credential_source is not supported; use source_profile", name);
    if (!src) return sp_fail(err, SP_ERR_USAGE, "profile '%s' has role_arn but no source_profile", name);
    if (depth >= PROFILE_DEPTH_MAX)
        return sp_fail(err, SP_ERR_USAGE, "profile '%s': source_profile chain longer than %d (a loop?)", name,
                       PROFILE_DEPTH_MAX);
    sp_creds *source = sp_creds_new();
    if (!source) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    sp_status s;
    if (!strcmp(src, name)) {
        /* A profile may name itself: its own static keys assume the role. */
        s = static_keys(p, source, err);
    } else {
        s = from_profile(env, src, depth + 1, source, err);
        if (s == SP_ERR_NOT_FOUND) s = sp_fail(err, SP_ERR_USAGE, "profile '%s': source_profile '%.100s' not found", name, src);
    }
    long duration = 0;
    const char *d = sp_aws_profile_get(p, "duration_seconds");
    if (s == SP_OK && d) {
        char *e;
        duration = strtol(d, &e, 10);
        if (*e || duration < 900 || duration > 43200)
            s = sp_fail(err, SP_ERR_USAGE, "profile '%s': duration_seconds must be from 900 to 43200", name);
    }
    if (s == SP_OK)
        s = sp_creds_sts_assume_role(env, source, role, sp_aws_profile_get(p, "role_session_name"),
                                     sp_aws_profile_get(p, "external_id"), duration, out, err);
    sp_creds_free(source);
    return s;
}

/* The AWS CLI's precedence inside one profile: role_arn, then static keys
 * (a source profile's own keys), then credential_process. */
static sp_status from_profile(const sp_creds_env *env, const char *name, int depth, sp_creds *out, sp_error *err)
{
    sp_aws_profile *p;
    SP_TRY(sp_aws_profile_load(env, name, &p, err));
    sp_status s;
    const char *proc = sp_aws_profile_get(p, "credential_process");
    if (sp_aws_profile_get(p, "role_arn") && depth == 0) s = assume_role(env, p, depth, out, err);
    else if (sp_aws_profile_get(p, "role_arn") && !sp_aws_profile_get(p, "aws_access_key_id")) s = assume_role(env, p, depth, out, err);
    else if (sp_aws_profile_get(p, "aws_access_key_id") || sp_aws_profile_get(p, "aws_secret_access_key")) s = static_keys(p, out, err);
    else if (proc) s = sp_creds_process_run(proc, sp_aws_profile_name(p), out, err);
    else s = sp_fail(err, depth ? SP_ERR_USAGE : SP_ERR_NOT_FOUND, "profile '%s' has no credentials", sp_aws_profile_name(p));
    if (s == SP_OK)
        snprintf(out->source, sizeof(out->source), "profile %.60s%s", sp_aws_profile_name(p),
                 sp_aws_profile_get(p, "role_arn") ? " (assumed role)" : proc ? " (credential_process)" : "");
    sp_aws_profile_free(p);
    return s;
}

static sp_status profile_get(sp_creds_provider *self, sp_creds *out, sp_error *err)
{
    const sp_creds_env *env = self->impl;
    sp_status s = from_profile(env, NULL, 0, out, err);
    /* A profile named by AWS_PROFILE must exist: falling through to
     * another identity would publish as someone else. */
    if (s == SP_ERR_NOT_FOUND && env->profile[0] && strcmp(env->profile, "default") != 0) {
        char why[sizeof(err->msg)];
        snprintf(why, sizeof(why), "%s", err ? err->msg : "not found");
        return sp_fail(err, SP_ERR_USAGE, "AWS_PROFILE=%.100s: %s", env->profile, why);
    }
    return s;
}

sp_creds_provider *sp_creds_profile_new(const sp_creds_env *env)
{
    return sp_creds_env_provider_new("shared files", profile_get, env);
}
