/* test_registry_pg.c: the PostgreSQL registry backend, live against $DATABASE_URL. */

/*
 * Each live test works in a schema of its own (created here, put first on the
 * search_path through PGOPTIONS, dropped in the fini), so tests are
 * independent and never touch a `resources` table other tests or people use.
 * Without DATABASE_URL the live tests skip with the reason, or fail when
 * SEALPUB_REQUIRE_SERVICES=1. The connection-failure tests need no server.
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "registry/registry.h"
#include "skip.h"

/* The server's coordinates survive tests/unit/hermetic.c's clearing. */
const char *const sp_test_env_keep[] = {"DATABASE_URL", NULL};

static PGconn *g_admin;
static char g_schema[64];
static sp_registry g_reg;

static void fini(void)
{
    if (g_reg.ops) g_reg.ops->close(g_reg.impl);
    memset(&g_reg, 0, sizeof(g_reg));
    if (g_admin) {
        if (g_schema[0]) {
            char sql[128];
            snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", g_schema);
            PQclear(PQexec(g_admin, sql));
        }
        PQfinish(g_admin);
        g_admin = NULL;
    }
}

TestSuite(registry_pg, .fini = fini, .timeout = 60);

/* Runs admin SQL built from this file's own literals (never from values
 * under test: those go through the backend only). */
static PGresult *admin_v(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static PGresult *admin_v(const char *fmt, va_list ap)
{
    char sql[1024];
    vsnprintf(sql, sizeof(sql), fmt, ap);
    PGresult *res = PQexec(g_admin, sql);
    ExecStatusType st = PQresultStatus(res);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "admin SQL failed: %s\n%s",
              PQresultErrorMessage(res), sql);
    return res;
}

static PGresult *admin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static PGresult *admin(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *res = admin_v(fmt, ap);
    va_end(ap);
    return res;
}

/* The single value of a one-row admin query; caller frees. */
static char *admin_value(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *admin_value(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *res = admin_v(fmt, ap);
    va_end(ap);
    cr_assert_eq(PQntuples(res), 1);
    char *v = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

/* Connects the admin session, creates a fresh schema and opens the backend
 * in it; skips (or fails) without DATABASE_URL. */
static void live(int do_init)
{
    const char *url = getenv("DATABASE_URL");
    if (!url || !*url) {
        SP_SKIP_OR_FAIL("DATABASE_URL is not set: no PostgreSQL to test against "
                        "(scripts/services.sh start, then source /tmp/sealpub-services/env)");
    }
    g_admin = PQconnectdb(url);
    cr_assert(PQstatus(g_admin) == CONNECTION_OK, "cannot connect to DATABASE_URL: %s", PQerrorMessage(g_admin));
    PQclear(admin("SET client_min_messages = warning"));
    snprintf(g_schema, sizeof(g_schema), "sp_test_%ld_%ld", (long)getpid(), (long)time(NULL));
    PQclear(admin("CREATE SCHEMA %s", g_schema));
    char opts[128];
    snprintf(opts, sizeof(opts), "-c search_path=%s", g_schema);
    cr_assert_eq(setenv("PGOPTIONS", opts, 1), 0);

    sp_error err = {0};
    cr_assert_eq(sp_registry_pg_open(url, &g_reg, &err), SP_OK, "open: %s", err.msg);
    if (do_init) cr_assert_eq(g_reg.ops->init(g_reg.impl, &err), SP_OK, "init: %s", err.msg);
}

static void make_row(sp_row *r, const char *name, const char *stage, const char *arch, const char *version,
                     char seed)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->resource_name, sizeof(r->resource_name), "%s", name);
    snprintf(r->dev_stage, sizeof(r->dev_stage), "%s", stage);
    snprintf(r->architecture, sizeof(r->architecture), "%s", arch);
    snprintf(r->version, sizeof(r->version), "%s", version);
    snprintf(r->object_key, sizeof(r->object_key), "%s/%s-%s-%s.enc", stage, name, arch, version);
    memset(r->sha256, seed, 64);
    memset(r->artifact_id, seed, 32);
    r->size_bytes = 1000 + (uint64_t)seed;
    r->plain_size = 5000000000ULL + (uint64_t)seed; /* above 2^32 */
    snprintf(r->encryption_key, sizeof(r->encryption_key), "%c%cAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", seed,
             seed);
    snprintf(r->key_wrap, sizeof(r->key_wrap), "none");
    snprintf(r->format, sizeof(r->format), "sealpub-v1");
}

static void assert_same_row(const sp_row *got, const sp_row *want)
{
    cr_assert_str_eq(got->resource_name, want->resource_name);
    cr_assert_str_eq(got->dev_stage, want->dev_stage);
    cr_assert_str_eq(got->architecture, want->architecture);
    cr_assert_str_eq(got->version, want->version);
    cr_assert_str_eq(got->object_key, want->object_key);
    cr_assert_str_eq(got->sha256, want->sha256);
    cr_assert_eq(got->size_bytes, want->size_bytes);
    cr_assert_eq(got->plain_size, want->plain_size);
    cr_assert_str_eq(got->encryption_key, want->encryption_key);
    cr_assert_str_eq(got->key_wrap, want->key_wrap);
    cr_assert_str_eq(got->kek_id, want->kek_id);
    cr_assert_str_eq(got->artifact_id, want->artifact_id);
    cr_assert_str_eq(got->format, want->format);
}

static void put_ok(const sp_row *r, sp_on_exists mode, int want_replaced)
{
    sp_error err = {0};
    int replaced = -1;
    cr_assert_eq(g_reg.ops->put(g_reg.impl, r, mode, &replaced, &err), SP_OK, "put: %s", err.msg);
    cr_assert_eq(replaced, want_replaced);
}

Test(registry_pg, init_twice_and_desc_has_no_password)
{
    live(1);
    sp_error err = {0};
    cr_assert_eq(g_reg.ops->init(g_reg.impl, &err), SP_OK, "second init: %s", err.msg);
    char *n = admin_value("SELECT count(*) FROM pg_indexes WHERE schemaname = '%s' "
                          "AND indexname = 'resources_identity'", g_schema);
    cr_assert_str_eq(n, "1");
    free(n);
    cr_assert_str_eq(g_reg.ops->scheme, "postgresql");
    cr_assert(strncmp(g_reg.desc, "postgresql://", 13) == 0, "desc: %s", g_reg.desc);
    const char *pw = PQpass(g_admin);
    if (pw && *pw) cr_assert_null(strstr(g_reg.desc, pw), "desc shows the password");
}

Test(registry_pg, init_adds_unique_key_to_existing_table)
{
    live(0);
    /* A table created by hand without the constraint. */
    PQclear(admin("CREATE TABLE %s.resources (id BIGSERIAL PRIMARY KEY, resource_name TEXT NOT NULL,"
                  " dev_stage TEXT NOT NULL, architecture TEXT NOT NULL, version TEXT NOT NULL,"
                  " object_key TEXT NOT NULL, sha256 CHAR(64) NOT NULL, size_bytes BIGINT NOT NULL,"
                  " plain_size BIGINT NOT NULL, encryption_key TEXT NOT NULL,"
                  " key_wrap TEXT NOT NULL DEFAULT 'none', kek_id TEXT, artifact_id CHAR(32) NOT NULL,"
                  " format TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
                  " updated_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                  g_schema));
    sp_error err = {0};
    cr_assert_eq(g_reg.ops->init(g_reg.impl, &err), SP_OK, "init: %s", err.msg);
    cr_assert_eq(g_reg.ops->init(g_reg.impl, &err), SP_OK, "init again: %s", err.msg);
    sp_row r;
    make_row(&r, "tool", "dev", "amd64", "1.0", 'a');
    put_ok(&r, SP_ON_EXISTS_FAIL, 0);
    cr_assert_eq(g_reg.ops->put(g_reg.impl, &r, SP_ON_EXISTS_FAIL, NULL, &err), SP_ERR_EXISTS, "%s", err.msg);
    make_row(&r, "tool", "dev", "amd64", "1.0", 'b');
    put_ok(&r, SP_ON_EXISTS_REPLACE, 1);
}

Test(registry_pg, put_get_round_trip)
{
    live(1);
    sp_row r, w, got;
    make_row(&r, "tool", "prod", "arm64", "2.1.0", 'c');
    put_ok(&r, SP_ON_EXISTS_REPLACE, 0);
    make_row(&w, "tool", "prod", "arm64", "2.2.0", 'd');
    snprintf(w.key_wrap, sizeof(w.key_wrap), "aes256-kwp");
    snprintf(w.kek_id, sizeof(w.kek_id), "0123456789abcdef");
    snprintf(w.encryption_key, sizeof(w.encryption_key), "%s", "ZmFrZS13cmFwcGVkLWtleS1vZi00MC1ieXRlcy4uLi4uLi4uLi4uLg==");
    w.size_bytes = 0;
    w.plain_size = (uint64_t)INT64_MAX;
    put_ok(&w, SP_ON_EXISTS_FAIL, 0);

    sp_error err = {0};
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "prod", "arm64", "2.1.0", &got, &err), SP_OK, "%s", err.msg);
    assert_same_row(&got, &r);
    cr_assert_eq(strlen(got.created_at), 20, "created_at: %s", got.created_at);
    cr_assert_eq(got.created_at[10], 'T');
    cr_assert_eq(got.created_at[19], 'Z');
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "prod", "arm64", "2.2.0", &got, &err), SP_OK, "%s", err.msg);
    assert_same_row(&got, &w);

    /* kek_id "" is stored as NULL. */
    char *n = admin_value("SELECT count(*) FROM %s.resources WHERE kek_id IS NULL AND version = '2.1.0'", g_schema);
    cr_assert_str_eq(n, "1");
    free(n);
}

Test(registry_pg, created_at_is_utc_iso8601)
{
    live(1);
    cr_assert_eq(setenv("PGTZ", "Asia/Kolkata", 1), 0); /* session time zone must not matter */
    g_reg.ops->close(g_reg.impl);
    memset(&g_reg, 0, sizeof(g_reg));
    sp_error err = {0};
    cr_assert_eq(sp_registry_pg_open(getenv("DATABASE_URL"), &g_reg, &err), SP_OK, "%s", err.msg);
    sp_row r, got;
    make_row(&r, "tool", "dev", "amd64", "1.0", 'e');
    put_ok(&r, SP_ON_EXISTS_REPLACE, 0);
    PQclear(admin("UPDATE %s.resources SET created_at = '2026-11-28 23:59:01.75+00'", g_schema));
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "dev", "amd64", "1.0", &got, &err), SP_OK, "%s", err.msg);
    cr_assert_str_eq(got.created_at, "2026-11-28T23:59:01Z");
}

Test(registry_pg, replace_updates_and_keeps_created_at)
{
    live(1);
    sp_row a, b, got;
    make_row(&a, "tool", "dev", "amd64", "1.0", 'a');
    put_ok(&a, SP_ON_EXISTS_REPLACE, 0);
    PQclear(admin("UPDATE %s.resources SET created_at = '2020-01-02 03:04:05+00', "
                  "updated_at = '2020-01-02 03:04:05+00'", g_schema));

    make_row(&b, "tool", "dev", "amd64", "1.0", 'b');
    snprintf(b.object_key, sizeof(b.object_key), "dev/other-key.enc");
    snprintf(b.key_wrap, sizeof(b.key_wrap), "aes256-kwp");
    snprintf(b.kek_id, sizeof(b.kek_id), "fedcba9876543210");
    b.size_bytes = 77;
    b.plain_size = 88;
    put_ok(&b, SP_ON_EXISTS_REPLACE, 1);

    sp_error err = {0};
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "dev", "amd64", "1.0", &got, &err), SP_OK, "%s", err.msg);
    assert_same_row(&got, &b);
    cr_assert_str_eq(got.created_at, "2020-01-02T03:04:05Z");
    char *n = admin_value("SELECT count(*) FROM %s.resources WHERE updated_at > now() - interval '1 hour'", g_schema);
    cr_assert_str_eq(n, "1");
    free(n);
    n = admin_value("SELECT count(*) FROM %s.resources", g_schema);
    cr_assert_str_eq(n, "1");
    free(n);

    /* Replacing back to a kek_id-less row clears kek_id. */
    put_ok(&a, SP_ON_EXISTS_REPLACE, 1);
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "dev", "amd64", "1.0", &got, &err), SP_OK, "%s", err.msg);
    assert_same_row(&got, &a);
}

Test(registry_pg, fail_mode_reports_exists_and_keeps_row)
{
    live(1);
    sp_row a, b, got;
    make_row(&a, "tool", "dev", "amd64", "1.0", 'a');
    put_ok(&a, SP_ON_EXISTS_FAIL, 0);
    make_row(&b, "tool", "dev", "amd64", "1.0", 'b');
    sp_error err = {0};
    int replaced = -1;
    cr_assert_eq(g_reg.ops->put(g_reg.impl, &b, SP_ON_EXISTS_FAIL, &replaced, &err), SP_ERR_EXISTS);
    cr_assert_eq(replaced, 0);
    cr_assert_str_eq(err.msg, "resource tool/dev/amd64/1.0 already exists (use --on-exists replace)");
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "dev", "amd64", "1.0", &got, &err), SP_OK, "%s", err.msg);
    assert_same_row(&got, &a);
    /* The failed put left no transaction open: the handle still works. */
    make_row(&b, "tool", "dev", "amd64", "1.1", 'b');
    put_ok(&b, SP_ON_EXISTS_FAIL, 0);
}

Test(registry_pg, latest_is_newest_by_created_at)
{
    live(1);
    sp_row r, got;
    sp_error err = {0};
    make_row(&r, "tool", "dev", "amd64", "1.0", 'a');
    put_ok(&r, SP_ON_EXISTS_REPLACE, 0);
    make_row(&r, "tool", "dev", "amd64", "3.0", 'b');
    put_ok(&r, SP_ON_EXISTS_REPLACE, 0);
    make_row(&r, "tool", "dev", "amd64", "2.0", 'c');
    put_ok(&r, SP_ON_EXISTS_REPLACE, 0);
    /* Newer rows under another arch, stage and name must not be picked. */
    make_row(&r, "tool", "dev", "arm64", "9.0", 'd');
    put_ok(&r, SP_ON_EXISTS_REPLACE, 0);
    make_row(&r, "tool", "prod", "amd64", "9.0", 'd');
    put_ok(&r, SP_ON_EXISTS_REPLACE, 0);
    make_row(&r, "tool2", "dev", "amd64", "9.0", 'd');
    put_ok(&r, SP_ON_EXISTS_REPLACE, 0);

    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "dev", "amd64", NULL, &got, &err), SP_OK, "%s", err.msg);
    cr_assert_str_eq(got.version, "2.0"); /* published last, though not the highest */

    PQclear(admin("UPDATE %s.resources SET created_at = '2020-01-01+00' WHERE version = '2.0'", g_schema));
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "dev", "amd64", NULL, &got, &err), SP_OK, "%s", err.msg);
    cr_assert_str_eq(got.version, "3.0");

    /* Equal created_at: the later id wins. */
    PQclear(admin("UPDATE %s.resources SET created_at = '2021-01-01+00'", g_schema));
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "dev", "amd64", NULL, &got, &err), SP_OK, "%s", err.msg);
    cr_assert_str_eq(got.version, "2.0");

    /* A replace does not make a row newer. */
    PQclear(admin("UPDATE %s.resources SET created_at = '2019-01-01+00' WHERE version = '1.0'", g_schema));
    make_row(&r, "tool", "dev", "amd64", "1.0", 'f');
    put_ok(&r, SP_ON_EXISTS_REPLACE, 1);
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "dev", "amd64", NULL, &got, &err), SP_OK, "%s", err.msg);
    cr_assert_str_eq(got.version, "2.0");
}

Test(registry_pg, hostile_names_are_stored_verbatim)
{
    live(1);
    /* The registry does not validate (the pipeline does): these prove that
     * values never become SQL. */
    static const char *const names[][4] = {
        {"x'; DROP TABLE resources; --", "dev", "amd64", "1.0"},
        {"a\"b", "st'age;", "ar\\ch", "1.0'); DELETE FROM resources; --"},
        {"$1 $$ $x$ '' \\' %s %n", "dev", "amd64", "2"},
        {"' OR '1'='1", "' OR '1'='1", "' OR '1'='1", "' OR '1'='1"},
    };
    sp_error err = {0};
    for (size_t i = 0; i < SP_ARRAY_LEN(names); i++) {
        sp_row r, got;
        make_row(&r, names[i][0], names[i][1], names[i][2], names[i][3], (char)('a' + i));
        put_ok(&r, SP_ON_EXISTS_FAIL, 0);
        cr_assert_eq(g_reg.ops->get(g_reg.impl, names[i][0], names[i][1], names[i][2], names[i][3], &got, &err),
                     SP_OK, "%s", err.msg);
        assert_same_row(&got, &r);
        cr_assert_eq(g_reg.ops->get(g_reg.impl, names[i][0], names[i][1], names[i][2], NULL, &got, &err), SP_OK,
                     "%s", err.msg);
        assert_same_row(&got, &r);
    }
    char *n = admin_value("SELECT count(*) FROM %s.resources", g_schema);
    cr_assert_str_eq(n, "4");
    free(n);
    sp_row got;
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "' OR ''='", "dev", "amd64", NULL, &got, &err), SP_ERR_NOT_FOUND);
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "dev", "amd64' OR '1'='1", "1.0", &got, &err),
                 SP_ERR_NOT_FOUND);
}

Test(registry_pg, missing_row_is_not_found)
{
    live(1);
    sp_row r, got;
    sp_error err = {0};
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "dev", "amd64", "1.0", &got, &err), SP_ERR_NOT_FOUND);
    cr_assert_eq(err.status, SP_ERR_NOT_FOUND);
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "dev", "amd64", NULL, &got, &err), SP_ERR_NOT_FOUND);
    make_row(&r, "tool", "dev", "amd64", "1.0", 'a');
    put_ok(&r, SP_ON_EXISTS_REPLACE, 0);
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "dev", "amd64", "1.1", &got, &err), SP_ERR_NOT_FOUND);
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "dev", "arm64", NULL, &got, &err), SP_ERR_NOT_FOUND);
}

Test(registry_pg, missing_table_is_a_registry_error)
{
    live(0);
    sp_row got;
    sp_error err = {0};
    cr_assert_eq(g_reg.ops->get(g_reg.impl, "tool", "dev", "amd64", "1.0", &got, &err), SP_ERR_REGISTRY);
    cr_assert_not_null(strstr(err.msg, "resources"), "%s", err.msg);
    cr_assert_null(strchr(err.msg, '\n'), "%s", err.msg);
}

Test(registry_pg, reconnects_after_the_server_drops_the_session)
{
    char app[64];
    snprintf(app, sizeof(app), "sp_test_reconnect_%ld", (long)getpid());
    cr_assert_eq(setenv("PGAPPNAME", app, 1), 0); /* to terminate only our own session */
    live(1);
    sp_row r, got;
    make_row(&r, "tool", "dev", "amd64", "1.0", 'a');
    put_ok(&r, SP_ON_EXISTS_REPLACE, 0);
    char *n = admin_value("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                          "WHERE application_name = '%s' AND pid <> pg_backend_pid()", app);
    cr_assert_str_eq(n, "1");
    free(n);
    /* The call that finds the session gone fails cleanly; the next reconnects. */
    sp_error err = {0};
    sp_status s = g_reg.ops->get(g_reg.impl, "tool", "dev", "amd64", "1.0", &got, &err);
    if (s != SP_OK) {
        cr_assert_eq(s, SP_ERR_REGISTRY, "%s", err.msg);
        cr_assert_null(strchr(err.msg, '\n'), "%s", err.msg);
        s = g_reg.ops->get(g_reg.impl, "tool", "dev", "amd64", "1.0", &got, &err);
    }
    cr_assert_eq(s, SP_OK, "%s", err.msg);
    assert_same_row(&got, &r);
}

/* ---- no server needed ---------------------------------------------------- */

static void assert_refused_without_secret(const char *conninfo, const char *secret)
{
    sp_registry reg;
    sp_error err = {0};
    cr_assert_eq(sp_registry_pg_open(conninfo, &reg, &err), SP_ERR_REGISTRY);
    cr_assert_eq(err.status, SP_ERR_REGISTRY);
    cr_assert_null(reg.ops);
    cr_assert_null(strstr(err.msg, secret), "message shows the password: %s", err.msg);
    cr_assert_null(strchr(err.msg, '\n'), "%s", err.msg);
}

Test(registry_pg_offline, unreachable_server_is_registry_error, .timeout = 30)
{
    sp_registry reg;
    sp_error err = {0};
    cr_assert_eq(sp_registry_pg_open("host=127.0.0.1 port=1 user=u password=s3cr3t-test dbname=d", &reg, &err),
                 SP_ERR_REGISTRY);
    cr_assert_null(strstr(err.msg, "s3cr3t-test"), "%s", err.msg);
    cr_assert(strncmp(err.msg, "cannot connect to PostgreSQL at 127.0.0.1:1: ", 45) == 0, "%s", err.msg);

    assert_refused_without_secret("postgresql://u:s3cr3t-test@127.0.0.1:1/d", "s3cr3t-test");
    assert_refused_without_secret("postgres://u@127.0.0.1:1/d?password=s3cr3t-test&sslmode=disable", "s3cr3t-test");
    assert_refused_without_secret("host=127.0.0.1 port=1 password='s3cr3t test' connect_timeout=3", "s3cr3t");
}

Test(registry_pg_offline, malformed_conninfo_does_not_echo_password)
{
    /* libpq quotes the bad token, which here is the password itself. */
    assert_refused_without_secret("postgresql://u:s3cr%zzt@127.0.0.1:1/d", "s3cr%zzt");
    assert_refused_without_secret("postgresql://u:s3cr3t-test@127.0.0.1:1/d?bogus=1", "s3cr3t-test");
    assert_refused_without_secret("host=127.0.0.1 password=s3cr3t-test port='1", "s3cr3t-test");
    assert_refused_without_secret("host=127.0.0.1 password=s3cr3t-test bogus=1", "s3cr3t-test");
}
