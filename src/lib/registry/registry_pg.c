/* registry_pg.c: the resources registry on PostgreSQL through libpq (docs/SCHEMA.md). */

/*
 * Every value reaches the server as a PQexecParams parameter; no SQL text is
 * ever built from a value. A put is one transaction holding one statement,
 * INSERT ... ON CONFLICT on the identity columns, so two publishers racing on
 * the same (name, stage, arch, version) cannot both insert: the unique index
 * decides, and "replace" vs "fail" is decided by the same statement that
 * writes. Whether ON CONFLICT updated an existing row is read from the new
 * tuple's xmax (zero for a fresh insert, the locking transaction for an
 * update), a long-standing and widely relied-on PostgreSQL behaviour.
 *
 * Secrets: the connection string may hold a password (key=value or URI
 * userinfo), and libpq echoes parts of a malformed string in its errors
 * (`invalid percent-encoded token: "..."`). Every libpq message is therefore
 * cut to its first line and scrubbed of password=..., URI userinfo and the
 * literal password before it reaches an sp_error. The handle keeps no copy
 * of the connection string.
 *
 * Thread-safety: one handle is one PGconn; use it from one thread at a time.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "registry/registry.h"

#define PG_CONNECT_TIMEOUT_S "10"
/* Serialises concurrent `init`s: CREATE ... IF NOT EXISTS is not race-free. */
#define PG_INIT_LOCK_KEY "7526466355015115"

typedef struct sp_pg {
    PGconn *conn;
} sp_pg;

/* ---- messages ------------------------------------------------------------ */

/* Replaces every occurrence of needle in s (cap bytes) by "***". */
static void scrub_literal(char *s, size_t cap, const char *needle)
{
    size_t nl = needle ? strlen(needle) : 0;
    if (nl == 0) return;
    char out[1024];
    size_t o = 0;
    for (const char *p = s; *p && o + 1 < sizeof(out);) {
        if (strncmp(p, needle, nl) == 0) {
            for (const char *r = "***"; *r && o + 1 < sizeof(out); r++) out[o++] = *r;
            p += nl;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    sp_strlcpy(s, out, cap);
}

/* Masks the value after every "password" [spaces] "=" [spaces] (key=value
 * strings and URI query parameters), quoted or not. */
static void scrub_password_kv(char *s, size_t cap)
{
    char out[1024];
    size_t o = 0;
    const char *p = s;
    while (*p && o + 1 < sizeof(out)) {
        if (strncasecmp(p, "password", 8) == 0) {
            const char *q = p + 8;
            while (*q == ' ' || *q == '\t') q++;
            if (*q == '=') {
                q++;
                while (*q == ' ' || *q == '\t') q++;
                for (const char *r = "password=***"; *r && o + 1 < sizeof(out); r++) out[o++] = *r;
                if (*q == '\'') {
                    q++;
                    while (*q && *q != '\'') q += (*q == '\\' && q[1]) ? 2 : 1;
                    if (*q == '\'') q++;
                } else {
                    while (*q && !isspace((unsigned char)*q) && *q != '&' && *q != '"') q++;
                }
                p = q;
                continue;
            }
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
    sp_strlcpy(s, out, cap);
}

/* Masks the password of URI userinfo: scheme://user:SECRET@host -> user:***@host. */
static void scrub_uri_userinfo(char *s, size_t cap)
{
    char *p = s;
    while ((p = strstr(p, "://")) != NULL) {
        char *auth = p + 3;
        size_t alen = strcspn(auth, "/?#\" \t\r\n");
        char *at = NULL;
        for (size_t i = 0; i < alen; i++)
            if (auth[i] == '@') at = auth + i;
        if (at) {
            char *colon = memchr(auth, ':', (size_t)(at - auth));
            if (colon) {
                char tail[1024];
                sp_strlcpy(tail, at, sizeof(tail));
                size_t head = (size_t)(colon + 1 - s);
                if (head + 3 >= cap) {
                    colon[1] = '\0'; /* no room for the mask: cut the secret off */
                    return;
                }
                memcpy(colon + 1, "***", 3);
                sp_strlcpy(colon + 4, tail, cap - head - 3);
                at = colon + 4;
            }
        }
        p = at ? at : auth;
    }
}

/* The literal password candidates of a raw connection string: the URI
 * userinfo password (raw, possibly percent-encoded) and password=values, so
 * they can be masked wherever libpq quotes them. */
static void scrub_raw_secrets(char *msg, size_t cap, const char *conninfo)
{
    if (!conninfo || !*conninfo) return;
    char cand[1024];
    const char *u = strstr(conninfo, "://");
    if (u) {
        const char *auth = u + 3;
        size_t alen = strcspn(auth, "/?#");
        const char *at = NULL;
        for (size_t i = 0; i < alen; i++)
            if (auth[i] == '@') at = auth + i;
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon && (size_t)(at - colon - 1) < sizeof(cand)) {
            memcpy(cand, colon + 1, (size_t)(at - colon - 1));
            cand[at - colon - 1] = '\0';
            scrub_literal(msg, cap, cand);
        }
    }
    for (const char *p = conninfo; (p = strcasestr(p, "password")) != NULL;) {
        const char *q = p + 8;
        p = q;
        while (*q == ' ' || *q == '\t') q++;
        if (*q != '=') continue;
        q++;
        while (*q == ' ' || *q == '\t') q++;
        if (*q == '\'') q++;
        size_t n = strcspn(q, "' \t\r\n&#");
        if (n == 0 || n >= sizeof(cand)) continue;
        memcpy(cand, q, n);
        cand[n] = '\0';
        scrub_literal(msg, cap, cand);
    }
}

/* The first line of a libpq message, trimmed and scrubbed. */
static void pg_clean_message(const char *raw, const char *conninfo, char *out, size_t cap)
{
    if (!raw) raw = "";
    while (isspace((unsigned char)*raw)) raw++;
    size_t n = strcspn(raw, "\r\n");
    if (n >= cap) n = cap - 1;
    memcpy(out, raw, n);
    out[n] = '\0';
    while (n > 0 && isspace((unsigned char)out[n - 1])) out[--n] = '\0';
    /* The severity adds nothing to an sp_error: "ERROR:  relation ..." */
    static const char *const severities[] = {"ERROR:  ", "FATAL:  ", "PANIC:  "};
    for (size_t i = 0; i < SP_ARRAY_LEN(severities); i++) {
        size_t sl = strlen(severities[i]);
        if (strncmp(out, severities[i], sl) == 0) {
            memmove(out, out + sl, strlen(out + sl) + 1);
            break;
        }
    }
    scrub_raw_secrets(out, cap, conninfo);
    scrub_password_kv(out, cap);
    scrub_uri_userinfo(out, cap);
    if (!out[0]) sp_strlcpy(out, "unknown libpq error", cap);
}

static sp_status pg_fail_conn(sp_error *err, PGconn *conn, const char *what)
{
    char m[512];
    pg_clean_message(conn ? PQerrorMessage(conn) : "out of memory", NULL, m, sizeof(m));
    return sp_fail(err, SP_ERR_REGISTRY, "PostgreSQL %s: %s", what, m);
}

static sp_status pg_fail_result(sp_error *err, PGconn *conn, PGresult *res, const char *what)
{
    const char *raw = res ? PQresultErrorMessage(res) : NULL;
    if (!raw || !*raw) return pg_fail_conn(err, conn, what);
    char m[512];
    pg_clean_message(raw, NULL, m, sizeof(m));
    /* 42P01 undefined_table: the server team's table is not there yet. */
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state && strcmp(state, "42P01") == 0)
        return sp_fail(err, SP_ERR_REGISTRY, "PostgreSQL %s: %s (create it with 'sealpub db init')", what, m);
    return sp_fail(err, SP_ERR_REGISTRY, "PostgreSQL %s: %s", what, m);
}

/* ---- statements ---------------------------------------------------------- */

/* Libraries do not write to stderr: NOTICEs such as "relation already
 * exists, skipping" are dropped. */
static void pg_quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Re-establishes a connection that broke since the last call (server
 * restart, idle timeout); one try. */
static sp_status pg_ensure(sp_pg *pg, sp_error *err)
{
    if (PQstatus(pg->conn) == CONNECTION_OK) return SP_OK;
    PQreset(pg->conn);
    if (PQstatus(pg->conn) != CONNECTION_OK) return pg_fail_conn(err, pg->conn, "connection lost");
    return SP_OK;
}

/* Runs a command that returns no rows. */
static sp_status pg_command(sp_pg *pg, const char *sql, const char *what, sp_error *err)
{
    PGresult *res = PQexec(pg->conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        sp_status s = pg_fail_result(err, pg->conn, res, what);
        PQclear(res);
        return s;
    }
    PQclear(res);
    return SP_OK;
}

static void pg_rollback(sp_pg *pg)
{
    if (PQtransactionStatus(pg->conn) == PQTRANS_IDLE) return;
    PQclear(PQexec(pg->conn, "ROLLBACK"));
}

/* ---- init ---------------------------------------------------------------- */

/* The unique key is a uniquely named index rather than only the table's
 * constraint, so that a table created earlier without the constraint gains
 * it; when the table was created by this statement, the constraint's own
 * index already carries the name resources_identity and the CREATE INDEX is
 * a no-op. */
static const char *const PG_INIT_SQL[] = {
    "SET LOCAL client_min_messages = warning",
    "SELECT pg_advisory_xact_lock(" PG_INIT_LOCK_KEY ")",
    "CREATE TABLE IF NOT EXISTS resources (\n"
    "  id             BIGSERIAL PRIMARY KEY,\n"
    "  resource_name  TEXT        NOT NULL,\n"
    "  dev_stage      TEXT        NOT NULL,\n"
    "  architecture   TEXT        NOT NULL,\n"
    "  version        TEXT        NOT NULL,\n"
    "  object_key     TEXT        NOT NULL,\n"
    "  sha256         CHAR(64)    NOT NULL,\n"
    "  size_bytes     BIGINT      NOT NULL,\n"
    "  plain_size     BIGINT      NOT NULL,\n"
    "  encryption_key TEXT        NOT NULL,\n"
    "  key_wrap       TEXT        NOT NULL DEFAULT 'none',\n"
    "  kek_id         TEXT,\n"
    "  artifact_id    CHAR(32)    NOT NULL,\n"
    "  format         TEXT        NOT NULL,\n"
    "  created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),\n"
    "  updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),\n"
    "  CONSTRAINT resources_identity UNIQUE (resource_name, dev_stage, architecture, version)\n"
    ")",
    "CREATE UNIQUE INDEX IF NOT EXISTS resources_identity\n"
    "  ON resources (resource_name, dev_stage, architecture, version)",
};

static sp_status pg_init(void *impl, sp_error *err)
{
    sp_pg *pg = impl;
    SP_TRY(pg_ensure(pg, err));
    SP_TRY(pg_command(pg, "BEGIN", "init", err));
    for (size_t i = 0; i < SP_ARRAY_LEN(PG_INIT_SQL); i++) {
        PGresult *res = PQexec(pg->conn, PG_INIT_SQL[i]);
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            sp_status s = pg_fail_result(err, pg->conn, res, "init");
            PQclear(res);
            pg_rollback(pg);
            return s;
        }
        PQclear(res);
    }
    sp_status s = pg_command(pg, "COMMIT", "init (commit)", err);
    if (s != SP_OK) pg_rollback(pg);
    return s;
}

/* ---- put ----------------------------------------------------------------- */

#define PG_COLUMNS \
    "resource_name, dev_stage, architecture, version, object_key, sha256, size_bytes, " \
    "plain_size, encryption_key, key_wrap, kek_id, artifact_id, format"
#define PG_VALUES "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
#define PG_IDENTITY "(resource_name, dev_stage, architecture, version)"

static const char PG_PUT_REPLACE_SQL[] =
    "INSERT INTO resources (" PG_COLUMNS ") VALUES " PG_VALUES "\n"
    "ON CONFLICT " PG_IDENTITY " DO UPDATE SET\n"
    "  object_key = EXCLUDED.object_key, sha256 = EXCLUDED.sha256,\n"
    "  size_bytes = EXCLUDED.size_bytes, plain_size = EXCLUDED.plain_size,\n"
    "  encryption_key = EXCLUDED.encryption_key, key_wrap = EXCLUDED.key_wrap,\n"
    "  kek_id = EXCLUDED.kek_id, artifact_id = EXCLUDED.artifact_id,\n"
    "  format = EXCLUDED.format, updated_at = now()\n"
    "RETURNING (xmax::text <> '0')";

static const char PG_PUT_FAIL_SQL[] =
    "INSERT INTO resources (" PG_COLUMNS ") VALUES " PG_VALUES "\n"
    "ON CONFLICT " PG_IDENTITY " DO NOTHING\n"
    "RETURNING id";

static int is_lower_hex(const char *s, size_t len)
{
    if (strlen(s) != len) return 0;
    for (size_t i = 0; i < len; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return 0;
    return 1;
}

static sp_status pg_put(void *impl, const sp_row *row, sp_on_exists on_exists, int *replaced, sp_error *err)
{
    sp_pg *pg = impl;
    if (replaced) *replaced = 0;
    /* CHAR(n) would pad a short value silently; the pipeline never passes one. */
    if (!is_lower_hex(row->sha256, 64) || !is_lower_hex(row->artifact_id, 32))
        return sp_fail(err, SP_ERR_INTERNAL, "registry row: sha256/artifact_id are not lower-case hex");
    if (row->size_bytes > (uint64_t)INT64_MAX || row->plain_size > (uint64_t)INT64_MAX)
        return sp_fail(err, SP_ERR_REGISTRY, "registry row: size does not fit a BIGINT");

    char size_bytes[24], plain_size[24];
    snprintf(size_bytes, sizeof(size_bytes), "%" PRIu64, row->size_bytes);
    snprintf(plain_size, sizeof(plain_size), "%" PRIu64, row->plain_size);
    const char *params[13] = {
        row->resource_name, row->dev_stage, row->architecture, row->version,
        row->object_key, row->sha256, size_bytes, plain_size,
        row->encryption_key, row->key_wrap[0] ? row->key_wrap : "none",
        row->kek_id[0] ? row->kek_id : NULL, row->artifact_id, row->format,
    };
    int fail_mode = on_exists == SP_ON_EXISTS_FAIL;

    SP_TRY(pg_ensure(pg, err));
    SP_TRY(pg_command(pg, "BEGIN", "put", err));
    PGresult *res = PQexecParams(pg->conn, fail_mode ? PG_PUT_FAIL_SQL : PG_PUT_REPLACE_SQL,
                                 13, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) > 1 ||
        (!fail_mode && PQntuples(res) != 1)) {
        sp_status s = PQresultStatus(res) == PGRES_TUPLES_OK
                          ? sp_fail(err, SP_ERR_REGISTRY, "PostgreSQL put: unexpected result (%d rows)",
                                    PQntuples(res))
                          : pg_fail_result(err, pg->conn, res, "put");
        PQclear(res);
        pg_rollback(pg);
        return s;
    }
    if (fail_mode && PQntuples(res) == 0) {
        PQclear(res);
        pg_rollback(pg);
        return sp_fail(err, SP_ERR_EXISTS, "resource %s/%s/%s/%s already exists (use --on-exists replace)",
                       row->resource_name, row->dev_stage, row->architecture, row->version);
    }
    int was_replaced = !fail_mode && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    sp_status s = pg_command(pg, "COMMIT", "put (commit)", err);
    if (s != SP_OK) {
        pg_rollback(pg);
        return s;
    }
    if (replaced) *replaced = was_replaced;
    return SP_OK;
}

/* ---- get ----------------------------------------------------------------- */

#define PG_SELECT \
    "SELECT " PG_COLUMNS ",\n" \
    "  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')\n" \
    "FROM resources\n" \
    "WHERE resource_name = $1 AND dev_stage = $2 AND architecture = $3"

static const char PG_GET_SQL[] = PG_SELECT " AND version = $4";
static const char PG_GET_LATEST_SQL[] = PG_SELECT "\nORDER BY created_at DESC, id DESC LIMIT 1";

static sp_status pg_copy_field(char *dst, size_t cap, PGresult *res, int col, const char *name, sp_error *err)
{
    const char *v = PQgetisnull(res, 0, col) ? "" : PQgetvalue(res, 0, col);
    if (sp_strlcpy(dst, v, cap) != 0)
        return sp_fail(err, SP_ERR_REGISTRY, "registry column %s is longer than %zu bytes", name, cap - 1);
    return SP_OK;
}

static sp_status pg_copy_u64(uint64_t *dst, PGresult *res, int col, const char *name, sp_error *err)
{
    const char *v = PQgetisnull(res, 0, col) ? "" : PQgetvalue(res, 0, col);
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!isdigit((unsigned char)v[0]) || *end != '\0' || errno != 0)
        return sp_fail(err, SP_ERR_REGISTRY, "registry column %s is not a non-negative integer", name);
    *dst = (uint64_t)x;
    return SP_OK;
}

static sp_status pg_row_from(PGresult *res, sp_row *out, sp_error *err)
{
    memset(out, 0, sizeof(*out));
    SP_TRY(pg_copy_field(out->resource_name, sizeof(out->resource_name), res, 0, "resource_name", err));
    SP_TRY(pg_copy_field(out->dev_stage, sizeof(out->dev_stage), res, 1, "dev_stage", err));
    SP_TRY(pg_copy_field(out->architecture, sizeof(out->architecture), res, 2, "architecture", err));
    SP_TRY(pg_copy_field(out->version, sizeof(out->version), res, 3, "version", err));
    SP_TRY(pg_copy_field(out->object_key, sizeof(out->object_key), res, 4, "object_key", err));
    SP_TRY(pg_copy_field(out->sha256, sizeof(out->sha256), res, 5, "sha256", err));
    SP_TRY(pg_copy_u64(&out->size_bytes, res, 6, "size_bytes", err));
    SP_TRY(pg_copy_u64(&out->plain_size, res, 7, "plain_size", err));
    SP_TRY(pg_copy_field(out->encryption_key, sizeof(out->encryption_key), res, 8, "encryption_key", err));
    SP_TRY(pg_copy_field(out->key_wrap, sizeof(out->key_wrap), res, 9, "key_wrap", err));
    SP_TRY(pg_copy_field(out->kek_id, sizeof(out->kek_id), res, 10, "kek_id", err));
    SP_TRY(pg_copy_field(out->artifact_id, sizeof(out->artifact_id), res, 11, "artifact_id", err));
    SP_TRY(pg_copy_field(out->format, sizeof(out->format), res, 12, "format", err));
    SP_TRY(pg_copy_field(out->created_at, sizeof(out->created_at), res, 13, "created_at", err));
    return SP_OK;
}

static sp_status pg_get(void *impl, const char *name, const char *stage, const char *arch,
                        const char *version, sp_row *out, sp_error *err)
{
    sp_pg *pg = impl;
    const char *params[4] = {name, stage, arch, version};
    SP_TRY(pg_ensure(pg, err));
    PGresult *res = PQexecParams(pg->conn, version ? PG_GET_SQL : PG_GET_LATEST_SQL,
                                 version ? 4 : 3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sp_status s = pg_fail_result(err, pg->conn, res, "get");
        PQclear(res);
        return s;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return sp_fail(err, SP_ERR_NOT_FOUND, "resource %s/%s/%s/%s not found in the registry",
                       name, stage, arch, version ? version : "(latest)");
    }
    sp_status s = pg_row_from(res, out, err);
    PQclear(res);
    return s;
}

/* ---- open / close -------------------------------------------------------- */

static void pg_close(void *impl)
{
    sp_pg *pg = impl;
    if (!pg) return;
    PQfinish(pg->conn);
    free(pg);
}

static const sp_registry_ops PG_OPS = {
    .scheme = "postgresql",
    .init = pg_init,
    .put = pg_put,
    .get = pg_get,
    .close = pg_close,
};

/* "postgresql://user@host:port/db", or with a socket directory as host,
 * "postgresql://user@/db?host=/run/postgresql&port=5432". No password. */
static void pg_describe(PGconn *conn, char *out, size_t cap)
{
    const char *user = PQuser(conn), *host = PQhost(conn), *port = PQport(conn), *db = PQdb(conn);
    if (!user) user = "";
    if (!host || !*host) host = "localhost";
    if (!port || !*port) port = "5432";
    if (!db) db = "";
    if (host[0] == '/')
        snprintf(out, cap, "postgresql://%s@/%s?host=%s&port=%s", user, db, host, port);
    else if (strchr(host, ':'))
        snprintf(out, cap, "postgresql://%s@[%s]:%s/%s", user, host, port, db);
    else
        snprintf(out, cap, "postgresql://%s@%s:%s/%s", user, host, port, db);
}

/* libpq's connection failures read `connection to server at "h", port p
 * failed: REASON`; the location is already in our own prefix. */
static const char *pg_reason(const char *clean)
{
    if (strncmp(clean, "connection to server ", 21) == 0) {
        const char *f = strstr(clean, " failed: ");
        if (f && f[9]) {
            f += 9;
            if (strncmp(f, "FATAL:  ", 8) == 0 || strncmp(f, "ERROR:  ", 8) == 0) f += 8;
            return f;
        }
    }
    return clean;
}

sp_status sp_registry_pg_open(const char *conninfo, sp_registry *reg, sp_error *err)
{
    if (!conninfo) conninfo = "";
    memset(reg, 0, sizeof(*reg));

    /* Parse first. libpq's parse errors quote the offending token, which
     * may be the password or part of it wherever the typo is, so none of
     * its text is repeated: only that the string does not parse. */
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (!opts) {
        PQfreemem(perr);
        return sp_fail(err, SP_ERR_REGISTRY,
                       "invalid PostgreSQL connection string: libpq cannot parse it (not shown: it may hold a "
                       "password); expected postgresql://USER@HOST:PORT/DB or key=value pairs");
    }
    int has_timeout = getenv("PGCONNECT_TIMEOUT") != NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "connect_timeout") == 0 && o->val && *o->val) has_timeout = 1;
    PQconninfoFree(opts);

    /* Keywords are applied in order and the expanded dbname string comes
     * last, so a caller's connect_timeout wins over the default. */
    const char *keys[3] = {"connect_timeout", "dbname", NULL};
    const char *vals[3] = {PG_CONNECT_TIMEOUT_S, conninfo, NULL};
    PGconn *conn = PQconnectdbParams(has_timeout ? keys + 1 : keys, has_timeout ? vals + 1 : vals, 1);
    if (!conn) return sp_fail(err, SP_ERR_NOMEM, "cannot allocate a PostgreSQL connection");
    if (PQstatus(conn) != CONNECTION_OK) {
        char m[512], where[300];
        pg_clean_message(PQerrorMessage(conn), conninfo, m, sizeof(m));
        const char *host = PQhost(conn), *port = PQport(conn);
        if (host && *host)
            snprintf(where, sizeof(where), strchr(host, ':') ? "[%s]:%s" : "%s:%s", host,
                     port && *port ? port : "5432");
        else
            sp_strlcpy(where, "(libpq defaults)", sizeof(where));
        PQfinish(conn);
        return sp_fail(err, SP_ERR_REGISTRY, "cannot connect to PostgreSQL at %s: %s", where, pg_reason(m));
    }
    PQsetNoticeProcessor(conn, pg_quiet_notice, NULL);

    sp_pg *pg = calloc(1, sizeof(*pg));
    if (!pg) {
        PQfinish(conn);
        return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    }
    pg->conn = conn;
    reg->ops = &PG_OPS;
    reg->impl = pg;
    pg_describe(conn, reg->desc, sizeof(reg->desc));
    return SP_OK;
}
