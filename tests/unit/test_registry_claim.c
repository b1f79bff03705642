/* test_registry_claim.c: the identity claim, object-key ownership, table checks and settings of registry.c (SQLite). */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "registry/journal.h"
#include "registry/registry.h"

static char g_dir[] = "/tmp/sealpub-claim-XXXXXX";
static char g_db[256];

static void setup(void)
{
    cr_assert(mkdtemp(g_dir) != NULL);
    snprintf(g_db, sizeof(g_db), "%s/reg.db", g_dir);
    /* Hermetic: nothing from the caller's shell picks another registry or table. */
    unsetenv("SEALPUB_TABLE");
    unsetenv("SEALPUB_REGISTRY");
    unsetenv("DATABASE_URL");
    unsetenv("PGHOST");
    unsetenv("PGDATABASE");
    unsetenv("PGSERVICE");
    setenv("SEALPUB_RECOVERY_DIR", g_dir, 1);
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(claim, .init = setup, .fini = teardown);

static void open_reg(sp_registry *reg)
{
    sp_error err = {0};
    cr_assert_eq(sp_registry_sqlite_open(g_db, reg, &err), SP_OK, "%s", err.msg);
}

static sp_row make_row(const char *name, const char *version, const char *key)
{
    sp_row r;
    memset(&r, 0, sizeof(r));
    strcpy(r.resource_name, name);
    strcpy(r.dev_stage, "dev");
    strcpy(r.architecture, "amd64");
    strcpy(r.version, version);
    strcpy(r.object_key, key);
    memset(r.sha256, 'a', 64);
    r.size_bytes = 100;
    r.plain_size = 90;
    strcpy(r.encryption_key, "a2V5");
    strcpy(r.key_wrap, "none");
    memset(r.artifact_id, 'b', 32);
    strcpy(r.format, "sealpub-v1");
    return r;
}

Test(claim, one_holder_per_key_until_release)
{
    sp_registry a, b;
    open_reg(&a);
    open_reg(&b);
    sp_error err = {0};
    cr_assert_eq(a.ops->try_claim(a.impl, "dev/x-amd64-1.enc", "host h pid 1", &err), SP_OK, "%s", err.msg);
    cr_expect(a.ops->claim_held(a.impl));
    cr_expect_eq(b.ops->try_claim(b.impl, "dev/x-amd64-1.enc", "host h pid 2", &err), SP_ERR_BUSY);
    cr_expect(strstr(err.msg, "host h pid 1") != NULL, "holder not named: %s", err.msg);
    /* Another key is independent. */
    cr_expect_eq(b.ops->try_claim(b.impl, "dev/y-amd64-1.enc", "host h pid 2", &err), SP_OK, "%s", err.msg);
    b.ops->release(b.impl);
    a.ops->release(a.impl);
    cr_expect(!a.ops->claim_held(a.impl));
    cr_expect_eq(b.ops->try_claim(b.impl, "dev/x-amd64-1.enc", "host h pid 2", &err), SP_OK, "%s", err.msg);
    sp_registry_close(&b); /* closing drops the claim too */
    cr_expect_eq(a.ops->try_claim(a.impl, "dev/x-amd64-1.enc", "host h pid 1", &err), SP_OK, "%s", err.msg);
    sp_registry_close(&a);
}

Test(claim, dies_with_the_holding_process)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        sp_registry r;
        sp_error e;
        if (sp_registry_sqlite_open(g_db, &r, &e) != SP_OK) _exit(2);
        if (r.ops->try_claim(r.impl, "dev/k-amd64-1.enc", "child", &e) != SP_OK) _exit(3);
        pause(); /* killed below while holding the claim */
        _exit(0);
    }
    sp_registry reg;
    open_reg(&reg);
    sp_error err = {0};
    sp_status s = SP_OK;
    for (int i = 0; i < 200; i++) { /* until the child holds it: a bound, not a timing check */
        s = reg.ops->try_claim(reg.impl, "dev/k-amd64-1.enc", "parent", &err);
        if (s == SP_ERR_BUSY) break;
        if (s == SP_OK) reg.ops->release(reg.impl);
        usleep(20000);
    }
    cr_assert_eq(s, SP_ERR_BUSY, "the child never held the claim");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_expect_eq(reg.ops->try_claim(reg.impl, "dev/k-amd64-1.enc", "parent", &err), SP_OK, "%s", err.msg);
    sp_registry_close(&reg);
}

Test(claim, wait_modes)
{
    sp_registry a, b;
    open_reg(&a);
    open_reg(&b);
    sp_error err = {0};
    double waited = -1;
    cr_assert_eq(sp_registry_claim(&a, "dev/w-amd64-1.enc", "w/dev/amd64/1", 1, 0, NULL, NULL, NULL, &waited, &err),
                 SP_OK, "%s", err.msg);
    cr_expect_eq(sp_registry_claim(&b, "dev/w-amd64-1.enc", "w/dev/amd64/1", 1, 10, NULL, NULL, NULL, &waited, &err),
                 SP_ERR_EXISTS);
    cr_expect(strstr(err.msg, "another publish of w/dev/amd64/1 is in progress") != NULL, "%s", err.msg);
    cr_expect_eq(sp_registry_claim(&b, "dev/w-amd64-1.enc", "w/dev/amd64/1", 0, 0.3, NULL, NULL, NULL, &waited, &err),
                 SP_ERR_BUSY);
    cr_expect(err.retryable, "a lock timeout is retryable");
    cr_expect(waited >= 0.3, "gave up after %.2f s", waited);
    int cancel = 1;
    cr_expect_eq(sp_registry_claim(&b, "dev/w-amd64-1.enc", "w/dev/amd64/1", 0, 60, &cancel, NULL, NULL, &waited, &err),
                 SP_ERR_INTERRUPTED);
    sp_registry_close(&a);
    sp_registry_close(&b);
}

Test(claim, object_key_has_one_owner)
{
    sp_registry reg;
    open_reg(&reg);
    sp_error err = {0};
    int replaced = 0;
    sp_row r1 = make_row("a", "b-amd64-1", "dev/a-amd64-b-amd64-1.enc");
    sp_row r2 = make_row("a-amd64-b", "1", "dev/a-amd64-b-amd64-1.enc");
    cr_assert_eq(reg.ops->put(reg.impl, &r1, SP_ON_EXISTS_FAIL, &replaced, &err), SP_OK, "%s", err.msg);
    sp_row got;
    cr_assert_eq(reg.ops->get_by_key(reg.impl, r1.object_key, &got, &err), SP_OK, "%s", err.msg);
    cr_expect_str_eq(got.resource_name, "a");
    cr_expect_eq(reg.ops->get_by_key(reg.impl, "dev/none.enc", &got, &err), SP_ERR_NOT_FOUND);
    /* The unique index refuses the second identity even without the claim. */
    cr_expect_neq(reg.ops->put(reg.impl, &r2, SP_ON_EXISTS_REPLACE, &replaced, &err), SP_OK);
    sp_registry_close(&reg);
}

Test(claim, table_setting_and_shape)
{
    sp_error err = {0};
    char schema[64], table[64];
    setenv("SEALPUB_TABLE", "team.artifacts", 1);
    cr_expect_eq(sp_registry_table(schema, table, &err), SP_OK, "%s", err.msg);
    cr_expect_str_eq(schema, "team");
    cr_expect_str_eq(table, "artifacts");
    const char *bad[] = {"", "1x", "a.b.c", "x;drop", "a-b", "\"q\"", ".x", "x."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("SEALPUB_TABLE", bad[i], 1);
        cr_expect_eq(sp_registry_table(schema, table, &err), SP_ERR_USAGE, "'%s' accepted", bad[i]);
    }
    /* A table of another shape, created by someone else, is reported by name. */
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(g_db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "CREATE TABLE theirs (id INTEGER PRIMARY KEY, resource_name TEXT, dev_stage TEXT, "
                              "architecture TEXT, version TEXT)",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    setenv("SEALPUB_TABLE", "theirs", 1);
    sp_registry reg;
    cr_expect_eq(sp_registry_sqlite_open(g_db, &reg, &err), SP_ERR_REGISTRY);
    cr_expect(strstr(err.msg, "column object_key is missing") != NULL, "%s", err.msg);
    cr_expect(strstr(err.msg, "column sha256 is missing") != NULL, "%s", err.msg);
    unsetenv("SEALPUB_TABLE");
}

Test(claim, empty_settings_are_errors)
{
    sp_error err = {0};
    int configured = -1;
    cr_expect_eq(sp_registry_configured(NULL, &configured, &err), SP_OK);
    cr_expect_eq(configured, 0);
    setenv("DATABASE_URL", "", 1);
    cr_expect_eq(sp_registry_configured(NULL, &configured, &err), SP_ERR_USAGE);
    cr_expect(strstr(err.msg, "DATABASE_URL is set but empty") != NULL, "%s", err.msg);
    unsetenv("DATABASE_URL");
    cr_expect_eq(sp_registry_configured("", &configured, &err), SP_ERR_USAGE);
    setenv("PGHOST", "db.example", 1);
    cr_expect_eq(sp_registry_configured(NULL, &configured, &err), SP_OK);
    cr_expect_eq(configured, 1);
    unsetenv("PGHOST");
}

Test(claim, journal_round_trip)
{
    sp_row r = make_row("j", "1", "dev/j-amd64-1.enc"), back;
    char path[512], store[256];
    sp_error err = {0};
    cr_assert_eq(sp_journal_write(&r, "s3://b/p at http://127.0.0.1:1", path, sizeof(path), &err), SP_OK, "%s",
                 err.msg);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(sp_journal_read(path, &back, store, sizeof(store), &err), SP_OK, "%s", err.msg);
    cr_expect_str_eq(store, "s3://b/p at http://127.0.0.1:1");
    cr_expect_str_eq(back.object_key, r.object_key);
    cr_expect_str_eq(back.encryption_key, r.encryption_key);
    cr_expect_eq(back.size_bytes, 100);
    cr_expect_eq(back.plain_size, 90);
    /* A truncated entry is refused, not half-read. */
    cr_assert_eq(truncate(path, 60), 0);
    cr_expect_eq(sp_journal_read(path, &back, store, sizeof(store), &err), SP_ERR_FORMAT);
    sp_journal_remove(path);
    cr_expect_neq(access(path, F_OK), 0);
}
