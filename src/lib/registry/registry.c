/* registry.c: picks the registry backend from a URL or the environment. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "registry/registry.h"

#include <stddef.h>

#define TEXT(f) {#f, offsetof(sp_row, f), sizeof(((sp_row *)0)->f)}
#define NUMBER(f) {#f, offsetof(sp_row, f), 0}
const sp_row_column sp_row_columns[SP_ROW_COLUMNS] = {
    TEXT(resource_name), TEXT(dev_stage),  TEXT(architecture),   TEXT(version),  TEXT(object_key),
    TEXT(sha256),        NUMBER(size_bytes), NUMBER(plain_size), TEXT(encryption_key), TEXT(key_wrap),
    TEXT(kek_id),        TEXT(artifact_id), TEXT(format),        TEXT(created_at), TEXT(updated_at),
};
#undef TEXT
#undef NUMBER

/* A URI with the postgres scheme, or a libpq conninfo string, which starts
 * with a keyword and '=' ("host=db dbname=x"). Anything else is refused
 * here, because libpq's own parse errors quote the string, password and all. */
static int is_postgres(const char *url)
{
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) return 1;
    size_t kw = strspn(url, "abcdefghijklmnopqrstuvwxyz_");
    size_t sp = strspn(url + kw, " ");
    return kw > 0 && url[kw + sp] == '=' && !strstr(url, "://");
}

sp_status sp_registry_open(const char *url, sp_registry *reg, sp_error *err)
{
    memset(reg, 0, sizeof(*reg));
    int configured = 0;
    SP_TRY(sp_registry_configured(url, &configured, err));
    if (!url) url = getenv("SEALPUB_REGISTRY");
    if (!url) url = getenv("DATABASE_URL");
    if (!url) {
        /* libpq's own variables select PostgreSQL with libpq's defaults. */
        const char *pg = getenv("PGHOST");
        if (!pg || !*pg) pg = getenv("PGDATABASE");
        if (!pg || !*pg) pg = getenv("PGSERVICE");
        if (pg && *pg) return sp_registry_pg_open("", reg, err);
        char home[SP_OBJECT_KEY_MAX], path[SP_OBJECT_KEY_MAX + 16];
        SP_TRY(sp_default_home(home, sizeof(home), err));
        snprintf(path, sizeof(path), "%s/registry.db", home);
        return sp_registry_sqlite_open(path, reg, err);
    }
    if (strncmp(url, "sqlite://", 9) == 0) return sp_registry_sqlite_open(url + 9, reg, err);
    if (strncmp(url, "sqlite:", 7) == 0) return sp_registry_sqlite_open(url + 7, reg, err);
    if (is_postgres(url)) return sp_registry_pg_open(url, reg, err);
    /* Never echo the URL: it may carry a password. */
    return sp_fail(err, SP_ERR_USAGE,
                   "unsupported registry URL: use sqlite:///PATH, postgresql://... or a libpq conninfo string");
}

void sp_registry_close(sp_registry *reg)
{
    if (reg && reg->ops) reg->ops->close(reg->impl);
    if (reg) memset(reg, 0, sizeof(*reg));
}

static int valid_ident(const char *s, size_t n)
{
    if (n == 0 || n > 63) return 0;
    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) return 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    return 1;
}

sp_status sp_registry_table(char schema_out[64], char table_out[64], sp_error *err)
{
    const char *t = getenv("SEALPUB_TABLE");
    schema_out[0] = '\0';
    if (!t) {
        sp_strlcpy(table_out, "resources", 64);
        return SP_OK;
    }
    const char *dot = strchr(t, '.');
    size_t n = strlen(t);
    int ok = dot ? valid_ident(t, (size_t)(dot - t)) && valid_ident(dot + 1, n - (size_t)(dot - t) - 1)
                 : valid_ident(t, n);
    if (!ok)
        return sp_fail(err, SP_ERR_USAGE,
                       "SEALPUB_TABLE must be TABLE or SCHEMA.TABLE, each [A-Za-z_][A-Za-z0-9_]* and at most 63 "
                       "bytes");
    if (dot) {
        memcpy(schema_out, t, (size_t)(dot - t));
        schema_out[dot - t] = '\0';
        sp_strlcpy(table_out, dot + 1, 64);
    } else {
        sp_strlcpy(table_out, t, 64);
    }
    return SP_OK;
}

sp_status sp_registry_configured(const char *url, int *configured, sp_error *err)
{
    static const char *const vars[] = {"SEALPUB_REGISTRY", "DATABASE_URL", "PGHOST", "PGDATABASE", "PGSERVICE"};
    *configured = 0;
    if (url) {
        if (!*url) return sp_fail(err, SP_ERR_USAGE, "--registry is empty: give sqlite:///PATH or postgresql://...");
        *configured = 1;
    }
    for (size_t i = 0; i < SP_ARRAY_LEN(vars); i++) {
        const char *v = getenv(vars[i]);
        if (!v) continue;
        if (!*v)
            return sp_fail(err, SP_ERR_USAGE, "%s is set but empty: unset it or give a value", vars[i]);
        *configured = 1;
    }
    return SP_OK;
}

static void notify(sp_notice_fn fn, void *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void notify(sp_notice_fn fn, void *ctx, const char *fmt, ...)
{
    if (!fn) return;
    char m[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    fn(ctx, m);
}

/* Polling rather than a blocking lock call: the wait observes cancellation
 * and the timeout, and a PostgreSQL session blocked in pg_advisory_lock
 * could not be interrupted by the caller's signal. */
#define CLAIM_POLL_S 0.2

sp_status sp_registry_claim(sp_registry *reg, const char *key, const char *identity, int fail_if_held, double timeout,
                            volatile const int *cancel, sp_notice_fn notice, void *notice_ctx, double *waited,
                            sp_error *err)
{
    char who[128], host[64] = "?";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(who, sizeof(who), "host %s pid %ld", host, (long)getpid());
    double start = sp_now();
    if (waited) *waited = 0;
    int announced = 0;
    for (;;) {
        sp_error e = {0};
        sp_status s = reg->ops->try_claim(reg->impl, key, who, &e);
        if (waited) *waited = sp_now() - start;
        if (s != SP_ERR_BUSY) {
            if (s != SP_OK) *err = e;
            else if (announced) notify(notice, notice_ctx, "claimed %s after waiting %.1f s", identity, sp_now() - start);
            return s;
        }
        if (fail_if_held)
            return sp_fail(err, SP_ERR_EXISTS,
                           "another publish of %s is in progress (%s); --on-exists fail does not wait for it",
                           identity, e.msg);
        if (!announced) {
            notify(notice, notice_ctx, "waiting for another publish of %s to finish (%s; --lock-timeout %.0f s)",
                   identity, e.msg, timeout);
            announced = 1;
        }
        if (sp_now() - start >= timeout)
            return sp_fail(err, SP_ERR_BUSY, "gave up after %.0f s waiting for another publish of %s (%s)",
                           sp_now() - start, identity, e.msg);
        for (int i = 0; i < 4; i++) {
            if (cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED))
                return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted while waiting for the claim on %s", identity);
            struct timespec ts = {0, (long)(CLAIM_POLL_S / 4 * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
}
