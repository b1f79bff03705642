/* creds.h: AWS credentials providers (environment, web identity, shared files, process, ECS, IMDS, chain, cache). */
#ifndef SP_CREDS_H
#define SP_CREDS_H

#include <stddef.h>
#include <time.h>

#include "common/sp_common.h"

/*
 * The model is aws-c-auth's: every source of credentials is a provider with
 * one operation, get, in a file of its own (creds_<source>.c). The chain
 * (creds_chain.c) asks each in the AWS CLI's order and the first that has
 * credentials wins; the cache (creds_cached.c) sits in front of the chain,
 * and the S3 store only ever asks the cache.
 *
 * A provider answers SP_ERR_NOT_FOUND when its source is simply not set up
 * here (no variable, no file, no metadata service); the chain then tries the
 * next one and remembers the reason for its final message. Any other error
 * means the source is set up but broken (a profile naming a missing
 * source_profile, a credential_process that exits 1): the chain stops there,
 * because falling through to another identity would hide the mistake.
 */

#define SP_CREDS_KEY_MAX 128
#define SP_CREDS_SECRET_MAX 256
#define SP_CREDS_TOKEN_MAX 8192
#define SP_CREDS_WHY_MAX 1024

/* One set of credentials. Kept in secret memory (sp_creds_new). */
typedef struct sp_creds {
    char access_key[SP_CREDS_KEY_MAX + 1];
    char secret[SP_CREDS_SECRET_MAX + 1];
    char token[SP_CREDS_TOKEN_MAX + 1]; /* "" if none */
    time_t expires;                     /* 0: does not expire */
    char source[96];                    /* "environment", "profile dev", "EC2 instance metadata", ... */
} sp_creds;

sp_creds *sp_creds_new(void);
void sp_creds_free(sp_creds *c);
/* Checks the shapes a signer can use (non-empty key and secret, no control
 * characters); names what in the message, never its value. */
SP_MUST_USE sp_status sp_creds_check(const sp_creds *c, const char *what, sp_error *err);

typedef struct sp_creds_provider sp_creds_provider;
struct sp_creds_provider {
    const char *name; /* for the chain's "tried" list */
    /* Fills out. SP_ERR_NOT_FOUND: not configured here, with the reason in
     * err. Thread-safety: only the cached provider may be called by several
     * threads; it serialises the others. */
    sp_status (*get)(sp_creds_provider *p, sp_creds *out, sp_error *err);
    void (*destroy)(sp_creds_provider *p);
    void *impl;
};

static inline void sp_creds_provider_free(sp_creds_provider *p)
{
    if (p) p->destroy(p);
}

/* The settings the providers share, copied into each provider at creation
 * (so they outlive whoever filled them). Variables that a source alone
 * reads (AWS_ROLE_ARN, AWS_CONTAINER_*, ...) are read at each get through
 * getenv, because platforms rotate token files under them. */
typedef struct sp_creds_env {
    const char *(*getenv)(const char *name); /* NULL: the process's getenv */
    char profile[128];       /* AWS_PROFILE; "": "default" */
    char cainfo[1024];       /* CA file for HTTPS to STS and container endpoints; "": the system's */
    char region[64];         /* for STS's regional endpoint; "": us-east-1 */
    char sts_endpoint[512];  /* AWS_ENDPOINT_URL_STS; "": AWS_ENDPOINT_URL, else https://sts.REGION.amazonaws.com */
} sp_creds_env;

/* Sources, in the order of the default chain. Each returns NULL only when
 * out of memory. */
sp_creds_provider *sp_creds_environment_new(const sp_creds_env *env);
sp_creds_provider *sp_creds_web_identity_new(const sp_creds_env *env);
sp_creds_provider *sp_creds_profile_new(const sp_creds_env *env);
sp_creds_provider *sp_creds_ecs_new(const sp_creds_env *env);
sp_creds_provider *sp_creds_imds_new(const sp_creds_env *env);

/* The chain takes ownership of the n providers. */
sp_creds_provider *sp_creds_chain_new(sp_creds_provider **providers, size_t n);
/* The default chain: environment, web identity, shared files (static keys,
 * role_arn via STS, credential_process), then ECS if its variables are set,
 * else EC2 instance metadata unless AWS_EC2_METADATA_DISABLED=true. */
SP_MUST_USE sp_status sp_creds_default_chain(const sp_creds_env *env, sp_creds_provider **out, sp_error *err);

/* Holds what inner returns until margin_seconds before it expires, then asks
 * again (credentials without expiry are kept for good). Thread-safe. Takes
 * ownership of inner. A margin longer than the credentials' remaining life
 * means every get refreshes; the cache caps the margin at half the life the
 * credentials had when they were fetched, so short-lived ones are reused. */
sp_creds_provider *sp_creds_cached_new(sp_creds_provider *inner, long margin_seconds);

/* ---- Helpers shared by the providers (creds_util.c). */

/* getenv through env (non-empty values only). */
const char *sp_creds_getenv(const sp_creds_env *env, const char *name);
/* A provider whose only state is its own copy of the shared settings: impl
 * is that sp_creds_env. NULL when out of memory. */
sp_creds_provider *sp_creds_env_provider_new(const char *name, sp_status (*get)(sp_creds_provider *, sp_creds *, sp_error *),
                                             const sp_creds_env *env);

/* Values of a flat JSON object (the documents of credential_process, ECS and
 * IMDS). Calls fn for every member whose value is a string or number
 * (numbers as their text); nested values are skipped. Returns SP_ERR_FORMAT
 * for anything that is not one JSON object. */
SP_MUST_USE sp_status sp_creds_json_walk(const char *doc, size_t len,
                                         int (*fn)(void *ctx, const char *key, const char *val), void *ctx,
                                         sp_error *err);
/* Fills c from a credentials JSON document whose members are named
 * key_id/secret/token ("AccessKeyId", "SecretAccessKey", "Token" or
 * "SessionToken") plus "Expiration" (ISO 8601, optional). */
SP_MUST_USE sp_status sp_creds_from_json(const char *doc, size_t len, const char *token_member, sp_creds *c,
                                         const char *what, sp_error *err);

/* A small blocking HTTP exchange for metadata services and STS. */
typedef struct sp_creds_http {
    const char *method; /* "GET", "PUT", "POST" */
    const char *url;
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
    const char *body;           /* POST/PUT body or NULL */
    long connect_timeout_ms, timeout_ms;
    const char *cainfo;
    /* Response. */
    long status;
    char *resp; /* malloc'ed, NUL-terminated; caller frees (may hold secrets: cleanse) */
    size_t resp_len;
} sp_creds_http;

/* Runs the exchange; a transport failure is SP_ERR_STORE with curl's text.
 * The response is bounded at 256 KiB. */
SP_MUST_USE sp_status sp_creds_http_run(sp_creds_http *h, sp_error *err);
void sp_creds_http_free(sp_creds_http *h);

/* STS (creds_sts.c). AssumeRole signs with source; AssumeRoleWithWebIdentity
 * sends the token file's contents unsigned. */
SP_MUST_USE sp_status sp_creds_sts_assume_role(const sp_creds_env *env, const sp_creds *source, const char *role_arn,
                                               const char *session_name, const char *external_id, long duration,
                                               sp_creds *out, sp_error *err);
SP_MUST_USE sp_status sp_creds_sts_web_identity(const sp_creds_env *env, const char *role_arn,
                                                const char *session_name, const char *token_file, sp_creds *out,
                                                sp_error *err);

/* Runs a credential_process command line (creds_process.c). */
SP_MUST_USE sp_status sp_creds_process_run(const char *command, const char *profile, sp_creds *out, sp_error *err);

#endif
