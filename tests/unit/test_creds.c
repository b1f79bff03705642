/* test_creds.c: the credentials providers' server-free parts: JSON documents, the shared files, credential_process, chain and cache. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "store/aws_config_file.h"
#include "store/creds.h"

/* ---- JSON documents */

typedef struct seen {
    char keys[512];
} seen;

static int collect(void *ctx, const char *key, const char *val)
{
    seen *s = ctx;
    size_t n = strlen(s->keys);
    snprintf(s->keys + n, sizeof(s->keys) - n, "%s=%s;", key, val);
    return 0;
}

Test(creds, json_walk_reads_a_flat_object_and_skips_nested_values)
{
    const char *doc = " {\"A\": \"x\\\"y\\u00e9\", \"N\": 12, \"Nested\": {\"k\": [1, \"}\"]}, \"B\": true}\n";
    seen s = {{0}};
    sp_error err;
    cr_assert_eq(sp_creds_json_walk(doc, strlen(doc), collect, &s, &err), SP_OK, "%s", err.msg);
    cr_expect_str_eq(s.keys, "A=x\"y\xc3\xa9;N=12;B=true;");
}

Test(creds, json_walk_refuses_what_is_not_one_object)
{
    const char *bad[] = {"", "[]", "{\"a\": }", "{\"a\": \"x\"", "{\"a\": \"x\"} trailing", "{a: 1}", "{\"a\" \"x\"}",
                         "{\"a\": \"\\q\"}", "{\"a\": \"\\u0000\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        seen s = {{0}};
        sp_error err;
        cr_expect_eq(sp_creds_json_walk(bad[i], strlen(bad[i]), collect, &s, &err), SP_ERR_FORMAT, "accepted %s",
                     bad[i]);
    }
}

Test(creds, from_json_fills_credentials_and_checks_them)
{
    sp_creds *c = sp_creds_new();
    sp_error err;
    const char *ok = "{\"Version\": 1, \"AccessKeyId\": \"AKIAEXAMPLE\", \"SecretAccessKey\": \"s3cr3t\", "
                     "\"SessionToken\": \"tok\", \"Expiration\": \"2030-01-02T03:04:05Z\"}";
    cr_assert_eq(sp_creds_from_json(ok, strlen(ok), "SessionToken", c, "test", &err), SP_OK, "%s", err.msg);
    cr_expect_str_eq(c->access_key, "AKIAEXAMPLE");
    cr_expect_str_eq(c->secret, "s3cr3t");
    cr_expect_str_eq(c->token, "tok");
    cr_expect_eq(c->expires, (time_t)1893553445);

    const char *v2 = "{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\"}";
    cr_expect_eq(sp_creds_from_json(v2, strlen(v2), "SessionToken", c, "test", &err), SP_ERR_USAGE);
    cr_expect(strstr(err.msg, "Version 2"), "%s", err.msg);
    const char *nosecret = "{\"AccessKeyId\": \"A\"}";
    cr_expect_eq(sp_creds_from_json(nosecret, strlen(nosecret), "Token", c, "test", &err), SP_ERR_USAGE);
    const char *imds_fail = "{\"Code\": \"AssumeRoleUnauthorizedAccess\", \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\"}";
    cr_expect_eq(sp_creds_from_json(imds_fail, strlen(imds_fail), "Token", c, "test", &err), SP_ERR_USAGE);
    cr_expect(strstr(err.msg, "AssumeRoleUnauthorizedAccess"), "%s", err.msg);
    const char *badexp = "{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"s\", \"Expiration\": \"tomorrow\"}";
    cr_expect_eq(sp_creds_from_json(badexp, strlen(badexp), "Token", c, "test", &err), SP_ERR_USAGE);
    sp_creds_free(c);
}

/* ---- the shared files */

static char dir[256];

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void files_setup(void)
{
    sp_test_tmpdir(dir, sizeof(dir));
    char p[512];
    snprintf(p, sizeof(p), "%s/config", dir);
    setenv("AWS_CONFIG_FILE", p, 1);
    snprintf(p, sizeof(p), "%s/credentials", dir);
    setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
}

static void files_teardown(void) { sp_test_rmtree(dir); }

Test(creds, profile_merges_both_files_with_nested_sections, .init = files_setup, .fini = files_teardown)
{
    write_file("config", "# comment\n[default]\nregion = eu-west-1\n\n[profile dev]\nregion = us-west-2\n"
                         "aws_access_key_id = FROMCONFIG\ns3 =\n    addressing_style = path\n  endpoint_url = http://x\n"
                         "ca_bundle = /etc/ca.pem\n[dev]\nregion = not-this-one\n");
    write_file("credentials", "[dev]\naws_access_key_id = FROMCREDENTIALS\r\naws_secret_access_key = sec ret\n"
                              "[profile dev]\naws_access_key_id = NOTTHISEITHER\n");
    sp_creds_env env = {0};
    snprintf(env.profile, sizeof(env.profile), "dev");
    sp_aws_profile *p;
    sp_error err;
    cr_assert_eq(sp_aws_profile_load(&env, NULL, &p, &err), SP_OK, "%s", err.msg);
    cr_expect_str_eq(sp_aws_profile_get(p, "region"), "us-west-2");
    cr_expect_str_eq(sp_aws_profile_get(p, "aws_access_key_id"), "FROMCREDENTIALS", "the credentials file wins");
    cr_expect_str_eq(sp_aws_profile_get(p, "aws_secret_access_key"), "sec ret");
    cr_expect_str_eq(sp_aws_profile_get(p, "s3.addressing_style"), "path");
    cr_expect_str_eq(sp_aws_profile_get(p, "s3.endpoint_url"), "http://x");
    cr_expect_str_eq(sp_aws_profile_get(p, "ca_bundle"), "/etc/ca.pem", "a key after the nested section is the profile's");
    cr_expect_null(sp_aws_profile_get(p, "endpoint_url"));
    sp_aws_profile_free(p);

    cr_assert_eq(sp_aws_profile_load(&env, "default", &p, &err), SP_OK, "%s", err.msg);
    cr_expect_str_eq(sp_aws_profile_get(p, "region"), "eu-west-1");
    sp_aws_profile_free(p);

    cr_expect_eq(sp_aws_profile_load(&env, "nosuch", &p, &err), SP_ERR_NOT_FOUND);
    cr_expect(strstr(err.msg, "no profile 'nosuch'") && strstr(err.msg, dir), "%s", err.msg);
}

Test(creds, profile_file_errors_are_named, .init = files_setup, .fini = files_teardown)
{
    write_file("config", "[profile dev]\nregion\n");
    sp_creds_env env = {0};
    sp_aws_profile *p;
    sp_error err;
    cr_expect_eq(sp_aws_profile_load(&env, "dev", &p, &err), SP_ERR_USAGE);
    cr_expect(strstr(err.msg, "line 2: expected 'name = value'"), "%s", err.msg);
    write_file("config", "[profile dev\n");
    cr_expect_eq(sp_aws_profile_load(&env, "dev", &p, &err), SP_ERR_USAGE);
    cr_expect(strstr(err.msg, "without ']'"), "%s", err.msg);
}

Test(creds, profile_provider_static_keys_and_process, .init = files_setup, .fini = files_teardown)
{
    write_file("credentials", "[static]\naws_access_key_id = AKIASTATIC\naws_secret_access_key = s1\n");
    write_file("config", "[profile proc]\ncredential_process = printf '{\"Version\":1,\"AccessKeyId\":\"AKIAPROC\","
                         "\"SecretAccessKey\":\"s2\",\"SessionToken\":\"t2\",\"Expiration\":\"2031-01-01T00:00:00Z\"}'\n"
                         "[profile fails]\ncredential_process = exit 4\n"
                         "[profile norole]\nrole_arn = arn:aws:iam::1:role/r\n");
    sp_creds_env env = {0};
    sp_creds *c = sp_creds_new();
    sp_error err;
    snprintf(env.profile, sizeof(env.profile), "static");
    sp_creds_provider *p = sp_creds_profile_new(&env);
    cr_assert_eq(p->get(p, c, &err), SP_OK, "%s", err.msg);
    cr_expect_str_eq(c->access_key, "AKIASTATIC");
    cr_expect_eq(c->expires, 0);
    sp_creds_provider_free(p);

    snprintf(env.profile, sizeof(env.profile), "proc");
    p = sp_creds_profile_new(&env);
    cr_assert_eq(p->get(p, c, &err), SP_OK, "%s", err.msg);
    cr_expect_str_eq(c->access_key, "AKIAPROC");
    cr_expect_str_eq(c->token, "t2");
    cr_expect_neq(c->expires, 0);
    cr_expect(strstr(c->source, "credential_process"), "%s", c->source);
    sp_creds_provider_free(p);

    snprintf(env.profile, sizeof(env.profile), "fails");
    p = sp_creds_profile_new(&env);
    cr_expect_eq(p->get(p, c, &err), SP_ERR_USAGE);
    cr_expect(strstr(err.msg, "credential_process of profile 'fails' failed (exit status 4)"), "%s", err.msg);
    sp_creds_provider_free(p);

    snprintf(env.profile, sizeof(env.profile), "norole");
    p = sp_creds_profile_new(&env);
    cr_expect_eq(p->get(p, c, &err), SP_ERR_USAGE);
    cr_expect(strstr(err.msg, "role_arn but no source_profile"), "%s", err.msg);
    sp_creds_provider_free(p);

    /* No AWS_PROFILE and no default profile: not configured, so the
     * chain moves on. */
    env.profile[0] = '\0';
    p = sp_creds_profile_new(&env);
    cr_expect_eq(p->get(p, c, &err), SP_ERR_NOT_FOUND);
    sp_creds_provider_free(p);
    sp_creds_free(c);
}

/* ---- chain and cache, with a scripted provider */

typedef struct scripted {
    int calls;
    sp_status answer; /* what get returns */
    long life;        /* seconds until the handed-out credentials expire; 0: never */
    char name[32];
} scripted;

static sp_status scripted_get(sp_creds_provider *p, sp_creds *out, sp_error *err)
{
    scripted *s = p->impl;
    s->calls++;
    if (s->answer != SP_OK) return sp_fail(err, s->answer, "%s says no", s->name);
    memset(out, 0, sizeof(*out));
    snprintf(out->access_key, sizeof(out->access_key), "KEY%d", s->calls);
    snprintf(out->secret, sizeof(out->secret), "secret");
    out->expires = s->life ? time(NULL) + s->life : 0;
    return SP_OK;
}

static void scripted_destroy(sp_creds_provider *p) { free(p); }

static sp_creds_provider *scripted_new(scripted *s, const char *name, sp_status answer, long life)
{
    *s = (scripted){.answer = answer, .life = life};
    snprintf(s->name, sizeof(s->name), "%s", name);
    sp_creds_provider *p = calloc(1, sizeof(*p));
    *p = (sp_creds_provider){.name = s->name, .get = scripted_get, .destroy = scripted_destroy, .impl = s};
    return p;
}

Test(creds, chain_takes_the_first_and_lists_what_it_tried)
{
    scripted a, b, c;
    sp_creds_provider *ps[3] = {scripted_new(&a, "one", SP_ERR_NOT_FOUND, 0), scripted_new(&b, "two", SP_ERR_NOT_FOUND, 0),
                                scripted_new(&c, "three", SP_OK, 0)};
    sp_creds_provider *chain = sp_creds_chain_new(ps, 3);
    sp_creds *cr = sp_creds_new();
    sp_error err;
    cr_assert_eq(chain->get(chain, cr, &err), SP_OK, "%s", err.msg);
    cr_expect_eq(a.calls + b.calls + c.calls, 3);
    c.answer = SP_ERR_NOT_FOUND;
    cr_expect_eq(chain->get(chain, cr, &err), SP_ERR_NOT_FOUND);
    cr_expect_str_eq(err.msg, "S3 credentials not found; tried one (one says no); two (two says no); three (three says no)");
    b.answer = SP_ERR_USAGE; /* set up but broken: stops the search */
    cr_expect_eq(chain->get(chain, cr, &err), SP_ERR_USAGE);
    cr_expect_str_eq(err.msg, "S3 credentials from two: two says no");
    cr_expect_eq(c.calls, 2, "nothing after a broken source is asked");
    sp_creds_provider_free(chain);
    sp_creds_free(cr);
}

Test(creds, cache_keeps_lasting_credentials_and_refreshes_short_ones)
{
    scripted s;
    sp_creds_provider *cache = sp_creds_cached_new(scripted_new(&s, "src", SP_OK, 3600), 300);
    sp_creds *cr = sp_creds_new();
    sp_error err;
    for (int i = 0; i < 5; i++) cr_assert_eq(cache->get(cache, cr, &err), SP_OK, "%s", err.msg);
    cr_expect_eq(s.calls, 1, "an hour-long set is reused");
    sp_creds_provider_free(cache);

    /* Four-second credentials: refreshed after half their life. */
    cache = sp_creds_cached_new(scripted_new(&s, "src", SP_OK, 4), 300);
    cr_assert_eq(cache->get(cache, cr, &err), SP_OK);
    cr_expect_str_eq(cr->access_key, "KEY1");
    cr_assert_eq(cache->get(cache, cr, &err), SP_OK);
    cr_expect_eq(s.calls, 1, "still fresh: not asked again");
    s.life = 6;
    sleep(3);
    cr_assert_eq(cache->get(cache, cr, &err), SP_OK);
    cr_expect_eq(s.calls, 2);
    cr_expect_str_eq(cr->access_key, "KEY2", "the new credentials are handed out");

    /* A failed refresh keeps credentials that are still valid, and fails
     * once they have expired. */
    s.answer = SP_ERR_STORE;
    sleep(4); /* past half of 6 s, before the end */
    cr_expect_eq(cache->get(cache, cr, &err), SP_OK, "%s", err.msg);
    cr_expect_str_eq(cr->access_key, "KEY2");
    cr_expect_eq(s.calls, 3, "the refresh was tried");
    sleep(3);
    cr_expect_eq(cache->get(cache, cr, &err), SP_ERR_STORE);
    sp_creds_provider_free(cache);
    sp_creds_free(cr);
}

Test(creds, environment_provider)
{
    sp_creds_env env = {0};
    sp_creds_provider *p = sp_creds_environment_new(&env);
    sp_creds *c = sp_creds_new();
    sp_error err;
    cr_expect_eq(p->get(p, c, &err), SP_ERR_NOT_FOUND);
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    cr_expect_eq(p->get(p, c, &err), SP_ERR_USAGE);
    cr_expect_str_eq(err.msg, "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set");
    setenv("AWS_SECRET_ACCESS_KEY", "zz-secret-zz", 1);
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    cr_assert_eq(p->get(p, c, &err), SP_OK, "%s", err.msg);
    cr_expect_str_eq(c->access_key, "AKIAENV");
    cr_expect_str_eq(c->token, "tok");
    setenv("AWS_ACCESS_KEY_ID", "AKIA/BAD", 1);
    cr_expect_eq(p->get(p, c, &err), SP_ERR_USAGE);
    cr_expect(!strstr(err.msg, "zz-secret-zz"), "%s", err.msg);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    sp_creds_provider_free(p);
    sp_creds_free(c);
}
