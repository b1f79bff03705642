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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "registry/pg_link.h"
#include "registry/registry.h"

#define PG_CONNECT_TIMEOUT_S "10"
/* Serialises concurrent `init`s: CREATE ... IF NOT EXISTS is not race-free. */
#define PG_INIT_LOCK_KEY "7526466355015115"

/* SQL text that names the table: built once at open from the validated
 * identifier (sp_registry_table), never from a value. */
typedef struct pg_sql {
    char put_replace[1024], put_fail[640], get[800], get_latest[800], get_by_key[800], list[1100], list_keys[1100], remove[400],
        rekey[600];
} pg_sql;

typedef struct sp_pg {
    PGconn *conn;
    char schema[64], table[64];
    char qtable[160];           /* "schema"."table" or "table", quoted */
    char idx_identity[64], idx_key[64];
    pg_sql sql;
    char claim_key[24];         /* the advisory lock key (bigint, decimal) while claimed; "" if none */
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

/* A broken connection is worth retrying; everything the server answered
 * with a reason (a missing table, a bad password) is not. */
static sp_status pg_fail_conn(sp_error *err, PGconn *conn, const char *what)
{
    char m[512];
    pg_clean_message(conn ? PQerrorMessage(conn) : "out of memory", NULL, m, sizeof(m));
    return sp_fail_retry(err, SP_ERR_REGISTRY, "PostgreSQL %s: %s", what, m);
}

/* SQLSTATE classes that say "the same statement may work later": connection
 * exceptions (08), serialization failures and deadlocks (40001, 40P01),
 * insufficient resources (53), operator intervention (57P01-57P03: a
 * shutdown or restart) and lock_not_available (55P03). */
static int pg_state_retryable(const char *state)
{
    if (!state) return 1; /* no answer at all: the connection broke */
    return strncmp(state, "08", 2) == 0 || strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
           strncmp(state, "53", 2) == 0 || strncmp(state, "57P0", 4) == 0 || strcmp(state, "55P03") == 0;
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
    if (pg_state_retryable(state)) return sp_fail_retry(err, SP_ERR_REGISTRY, "PostgreSQL %s: %s", what, m);
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

/* The unique keys are uniquely named indexes rather than only the table's
 * constraint, so that a table created earlier without them gains them;
 * when the table was created by the same transaction, the constraint's own
 * index already carries the identity index's name and that CREATE INDEX is
 * a no-op. The object_key index makes two identities that map to one
 * object key (docs/CLI.md, "Object keys") impossible at the database too. */
static sp_status pg_init(void *impl, sp_error *err)
{
    sp_pg *pg = impl;
    char create[2048], idx1[400], idx2[400], schema[200] = "SELECT 1";
    snprintf(create, sizeof(create),
             "CREATE TABLE IF NOT EXISTS %s (\n"
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
             "  CONSTRAINT \"%s\" UNIQUE (resource_name, dev_stage, architecture, version)\n"
             ")",
             pg->qtable, pg->idx_identity);
    snprintf(idx1, sizeof(idx1),
             "CREATE UNIQUE INDEX IF NOT EXISTS \"%s\" ON %s (resource_name, dev_stage, architecture, version)",
             pg->idx_identity, pg->qtable);
    snprintf(idx2, sizeof(idx2), "CREATE UNIQUE INDEX IF NOT EXISTS \"%s\" ON %s (object_key)", pg->idx_key,
             pg->qtable);
    if (pg->schema[0]) snprintf(schema, sizeof(schema), "CREATE SCHEMA IF NOT EXISTS \"%s\"", pg->schema);
    const char *steps[] = {
        "SET LOCAL client_min_messages = warning",
        "SELECT pg_advisory_xact_lock(" PG_INIT_LOCK_KEY ")",
        schema, create, idx1, idx2,
    };
    SP_TRY(pg_ensure(pg, err));
    SP_TRY(pg_command(pg, "BEGIN", "init", err));
    for (size_t i = 0; i < SP_ARRAY_LEN(steps); i++) {
        PGresult *res = PQexec(pg->conn, steps[i]);
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            sp_status s = state && strcmp(state, "23505") == 0 && steps[i] == idx2
                              ? sp_fail(err, SP_ERR_REGISTRY,
                                        "PostgreSQL init: rows of %s share an object_key, so its unique index "
                                        "cannot be added: list them with SELECT object_key, count(*) FROM %s "
                                        "GROUP BY 1 HAVING count(*) > 1",
                                        pg->qtable, pg->qtable)
                              : pg_fail_result(err, pg->conn, res, "init");
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
/* list never needs a key (its callers clear it): none crosses the link (pg_link.h). */
#define PG_KEYLESS_COLUMNS \
    "resource_name, dev_stage, architecture, version, object_key, sha256, size_bytes, " \
    "plain_size, '' AS encryption_key, key_wrap, kek_id, artifact_id, format"
#define PG_VALUES "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
#define PG_IDENTITY "(resource_name, dev_stage, architecture, version)"
#define PG_CREATED \
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), " \
    "to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static void pg_build_sql(sp_pg *pg)
{
    pg_sql *q = &pg->sql;
    snprintf(q->put_replace, sizeof(q->put_replace),
             "INSERT INTO %s (" PG_COLUMNS ") VALUES " PG_VALUES "\n"
             "ON CONFLICT " PG_IDENTITY " DO UPDATE SET\n"
             "  object_key = EXCLUDED.object_key, sha256 = EXCLUDED.sha256,\n"
             "  size_bytes = EXCLUDED.size_bytes, plain_size = EXCLUDED.plain_size,\n"
             "  encryption_key = EXCLUDED.encryption_key, key_wrap = EXCLUDED.key_wrap,\n"
             "  kek_id = EXCLUDED.kek_id, artifact_id = EXCLUDED.artifact_id,\n"
             "  format = EXCLUDED.format, updated_at = now()\n"
             "RETURNING (xmax::text <> '0')",
             pg->qtable);
    snprintf(q->put_fail, sizeof(q->put_fail),
             "INSERT INTO %s (" PG_COLUMNS ") VALUES " PG_VALUES "\nON CONFLICT " PG_IDENTITY " DO NOTHING\n"
             "RETURNING id",
             pg->qtable);
    snprintf(q->get, sizeof(q->get),
             "SELECT " PG_COLUMNS ", " PG_CREATED " FROM %s\n"
             "WHERE resource_name = $1 AND dev_stage = $2 AND architecture = $3 AND version = $4",
             pg->qtable);
    snprintf(q->get_latest, sizeof(q->get_latest),
             "SELECT " PG_COLUMNS ", " PG_CREATED " FROM %s\n"
             "WHERE resource_name = $1 AND dev_stage = $2 AND architecture = $3\n"
             "ORDER BY created_at DESC, id DESC LIMIT 1",
             pg->qtable);
    snprintf(q->get_by_key, sizeof(q->get_by_key),
             "SELECT " PG_COLUMNS ", " PG_CREATED " FROM %s WHERE object_key = $1 LIMIT 1", pg->qtable);
    /* A NULL parameter matches everything, so one statement serves every
     * filter; list never sends keys, list_keys (rewrap) does. */
#define PG_LIST_WHERE                                                                          \
    " FROM %s\n"                                                                                \
    "WHERE ($1::text IS NULL OR resource_name = $1) AND ($2::text IS NULL OR dev_stage = $2)\n" \
    "  AND ($3::text IS NULL OR architecture = $3)\n"                                          \
    "  AND ($4::timestamptz IS NULL OR created_at >= $4::timestamptz)\n"                       \
    "  AND ($5::timestamptz IS NULL OR created_at < $5::timestamptz)\n"                        \
    "ORDER BY created_at DESC, id DESC LIMIT $6::bigint OFFSET $7::bigint"
    snprintf(q->list, sizeof(q->list), "SELECT " PG_KEYLESS_COLUMNS ", " PG_CREATED PG_LIST_WHERE, pg->qtable);
    snprintf(q->list_keys, sizeof(q->list_keys), "SELECT " PG_COLUMNS ", " PG_CREATED PG_LIST_WHERE, pg->qtable);
#undef PG_LIST_WHERE
    snprintf(q->remove, sizeof(q->remove),
             "DELETE FROM %s WHERE resource_name = $1 AND dev_stage = $2 AND architecture = $3 AND version = $4\n"
             "  AND artifact_id = $5",
             pg->qtable);
    snprintf(q->rekey, sizeof(q->rekey),
             "UPDATE %s SET encryption_key = $7, key_wrap = $8, kek_id = $9, updated_at = now()\n"
             "WHERE resource_name = $1 AND dev_stage = $2 AND architecture = $3 AND version = $4\n"
             "  AND artifact_id = $5 AND encryption_key = $6",
             pg->qtable);
}

/* Runs inside the put's transaction: a connection that broke and was made
 * again since the claim was taken no longer holds it (advisory locks live
 * with the session), and the row must not be written without it. */
static const char PG_CLAIM_HELD_SQL[] =
    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted\n"
    "  AND objsubid = 1 AND classid = (($1::bigint >> 32) & 4294967295)::oid\n"
    "  AND objid = ($1::bigint & 4294967295)::oid";

static int pg_claim_still_held(sp_pg *pg)
{
    if (!pg->claim_key[0] || PQstatus(pg->conn) != CONNECTION_OK) return 0;
    const char *params[1] = {pg->claim_key};
    PGresult *res = PQexecParams(pg->conn, PG_CLAIM_HELD_SQL, 1, NULL, params, NULL, NULL, 0);
    int held = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    PQclear(res);
    return held;
}

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
    SP_TRY(sp_pg_link_check_key(pg->conn, row->key_wrap, err)); /* after a reset too: pg_link.h */
    SP_TRY(pg_command(pg, "BEGIN", "put", err));
    if (pg->claim_key[0] && !pg_claim_still_held(pg)) {
        pg_rollback(pg);
        pg->claim_key[0] = '\0';
        return sp_fail_retry(err, SP_ERR_REGISTRY,
                             "PostgreSQL put: the claim on %s/%s/%s/%s was lost with the connection",
                             row->resource_name, row->dev_stage, row->architecture, row->version);
    }
    PGresult *res = PQexecParams(pg->conn, fail_mode ? pg->sql.put_fail : pg->sql.put_replace,
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

static sp_status pg_copy_field(char *dst, size_t cap, PGresult *res, int r, int col, const char *name, sp_error *err)
{
    const char *v = PQgetisnull(res, r, col) ? "" : PQgetvalue(res, r, col);
    if (sp_strlcpy(dst, v, cap) != 0)
        return sp_fail(err, SP_ERR_REGISTRY, "registry column %s is longer than %zu bytes", name, cap - 1);
    return SP_OK;
}

static sp_status pg_copy_u64(uint64_t *dst, PGresult *res, int r, int col, const char *name, sp_error *err)
{
    const char *v = PQgetisnull(res, r, col) ? "" : PQgetvalue(res, r, col);
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!isdigit((unsigned char)v[0]) || *end != '\0' || errno != 0)
        return sp_fail(err, SP_ERR_REGISTRY, "registry column %s is not a non-negative integer", name);
    *dst = (uint64_t)x;
    return SP_OK;
}

static sp_status pg_row_from_at(PGresult *res, int r, sp_row *out, sp_error *err);

static sp_status pg_row_from(PGresult *res, sp_row *out, sp_error *err) { return pg_row_from_at(res, 0, out, err); }

static sp_status pg_row_from_at(PGresult *res, int r, sp_row *out, sp_error *err)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < SP_ROW_COLUMNS; i++) {
        const sp_row_column *c = &sp_row_columns[i];
        if (c->cap) SP_TRY(pg_copy_field(sp_row_text(out, c), c->cap, res, r, i, c->name, err));
        else SP_TRY(pg_copy_u64(sp_row_u64(out, c), res, r, i, c->name, err));
    }
    return SP_OK;
}

/* One row by a SELECT of PG_COLUMNS: SP_OK with *found, or the failure.
 * On a clear link the server withholds unwrapped keys (pg_link.h) and such
 * a row is refused. what names the lookup in messages. */
static sp_status pg_select_row(sp_pg *pg, const char *query, int nparams, const char *const *params, const char *what,
                               sp_row *out, int *found, sp_error *err)
{
    *found = 0;
    SP_TRY(pg_ensure(pg, err));
    char keyless[1024];
    const char *sql = sp_pg_link_select(pg->conn, query, keyless, sizeof(keyless));
    if (!sql) return sp_fail(err, SP_ERR_INTERNAL, "PostgreSQL %s: no key column to withhold", what);
    PGresult *res = PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sp_status s = pg_fail_result(err, pg->conn, res, what);
        PQclear(res);
        return s;
    }
    sp_status s = SP_OK;
    if (PQntuples(res) > 0) {
        s = pg_row_from(res, out, err);
        if (s == SP_OK) s = sp_pg_link_check_key(pg->conn, out->key_wrap, err);
        if (s != SP_OK) OPENSSL_cleanse(out, sizeof(*out));
        *found = s == SP_OK;
    }
    PQclear(res);
    return s;
}

static sp_status pg_get(void *impl, const char *name, const char *stage, const char *arch,
                        const char *version, sp_row *out, sp_error *err)
{
    sp_pg *pg = impl;
    const char *params[4] = {name, stage, arch, version};
    int found = 0;
    SP_TRY(pg_select_row(pg, version ? pg->sql.get : pg->sql.get_latest, version ? 4 : 3, params, "get", out, &found,
                         err));
    if (!found)
        return sp_fail(err, SP_ERR_NOT_FOUND, "resource %s/%s/%s/%s not found in the registry", name, stage, arch,
                       version ? version : "(latest)");
    return SP_OK;
}

static sp_status pg_get_by_key(void *impl, const char *key, sp_row *out, sp_error *err)
{
    const char *params[1] = {key};
    int found = 0;
    SP_TRY(pg_select_row(impl, ((sp_pg *)impl)->sql.get_by_key, 1, params, "get by object key", out, &found, err));
    if (!found) return sp_fail(err, SP_ERR_NOT_FOUND, "no row has object key %s", key);
    return SP_OK;
}

static sp_status pg_list(void *impl, const sp_row_filter *f, sp_row_fn fn, void *ctx, sp_error *err)
{
    sp_pg *pg = impl;
    char limit[24], offset[24];
    snprintf(limit, sizeof(limit), "%" PRIu64, f->limit ? f->limit : (uint64_t)INT64_MAX);
    snprintf(offset, sizeof(offset), "%" PRIu64, f->offset);
    const char *params[7] = {f->name, f->stage, f->arch, f->since, f->before, limit, offset};
    SP_TRY(pg_ensure(pg, err));
    char keyless[1300]; /* a clear link never carries an unwrapped key: pg_link.h */
    const char *sql = f->with_keys ? sp_pg_link_select(pg->conn, pg->sql.list_keys, keyless, sizeof(keyless))
                                   : pg->sql.list;
    if (!sql) return sp_fail(err, SP_ERR_INTERNAL, "PostgreSQL list: no key column to withhold");
    PGresult *res = PQexecParams(pg->conn, sql, 7, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sp_status s = pg_fail_result(err, pg->conn, res, "list");
        PQclear(res);
        return s;
    }
    sp_status s = SP_OK;
    sp_row row;
    for (int i = 0; s == SP_OK && i < PQntuples(res); i++) {
        s = pg_row_from_at(res, i, &row, err);
        if (s == SP_OK && fn(ctx, &row)) break;
    }
    OPENSSL_cleanse(&row, sizeof(row));
    PQclear(res);
    return s;
}

/* Runs one row-changing statement in its own transaction; 0 rows changed
 * is SP_ERR_NOT_FOUND with what. */
static sp_status pg_change_one(sp_pg *pg, const char *sql, int n, const char *const *params, const char *what,
                               sp_error *err)
{
    SP_TRY(pg_ensure(pg, err));
    PGresult *res = PQexecParams(pg->conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        sp_status s = pg_fail_result(err, pg->conn, res, what);
        PQclear(res);
        return s;
    }
    int changed = atoi(PQcmdTuples(res));
    PQclear(res);
    if (changed != 1)
        return sp_fail(err, SP_ERR_NOT_FOUND, "%s/%s/%s/%s changed or went meanwhile: %s not done", params[0],
                       params[1], params[2], params[3], what);
    return SP_OK;
}

static sp_status pg_remove(void *impl, const char *name, const char *stage, const char *arch, const char *version,
                           const char *artifact_id, sp_error *err)
{
    const char *params[5] = {name, stage, arch, version, artifact_id};
    return pg_change_one(impl, ((sp_pg *)impl)->sql.remove, 5, params, "delete", err);
}

static sp_status pg_rekey(void *impl, const sp_row *row, const char *old_encryption_key, sp_error *err)
{
    const char *params[9] = {row->resource_name, row->dev_stage, row->architecture, row->version, row->artifact_id,
                             old_encryption_key, row->encryption_key, row->key_wrap,
                             row->kek_id[0] ? row->kek_id : NULL};
    return pg_change_one(impl, ((sp_pg *)impl)->sql.rekey, 9, params, "rewrap", err);
}

/* ---- the identity claim --------------------------------------------------- */

/* A session-level advisory lock keyed by a 64-bit hash of the table and the
 * object key, computed by the server so every client agrees on it. It is
 * held on this handle's connection for the whole publish and dies with the
 * connection, so a SIGKILLed publisher never wedges the identity. The
 * holder is found in pg_locks and named by its application_name, which
 * every sealpub connection sets to "sealpub host H pid P". */
static const char PG_TRY_CLAIM_SQL[] =
    "SELECT pg_try_advisory_lock(k), k::text FROM (SELECT hashtextextended($1, 0) AS k) AS h";
static const char PG_HOLDER_SQL[] =
    "SELECT coalesce(nullif(a.application_name, ''), 'a session without a name'), l.pid\n"
    "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid\n"
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1\n"
    "  AND l.classid = (($1::bigint >> 32) & 4294967295)::oid AND l.objid = ($1::bigint & 4294967295)::oid\n"
    "LIMIT 1";

static sp_status pg_try_claim(void *impl, const char *key, const char *who, sp_error *err)
{
    sp_pg *pg = impl;
    (void)who; /* carried by application_name, set at connect */
    char lock_name[SP_OBJECT_KEY_MAX + 200];
    snprintf(lock_name, sizeof(lock_name), "sealpub claim %s %s", pg->qtable, key);
    const char *params[1] = {lock_name};
    SP_TRY(pg_ensure(pg, err));
    PGresult *res = PQexecParams(pg->conn, PG_TRY_CLAIM_SQL, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        sp_status s = pg_fail_result(err, pg->conn, res, "claim");
        PQclear(res);
        return s;
    }
    int got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    char k[24];
    sp_strlcpy(k, PQgetvalue(res, 0, 1), sizeof(k));
    PQclear(res);
    if (got) {
        sp_strlcpy(pg->claim_key, k, sizeof(pg->claim_key));
        return SP_OK;
    }
    const char *hp[1] = {k};
    res = PQexecParams(pg->conn, PG_HOLDER_SQL, 1, NULL, hp, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        sp_fail(err, SP_ERR_BUSY, "held by %.200s, server pid %.20s", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    else
        sp_fail(err, SP_ERR_BUSY, "held by another session");
    PQclear(res);
    return SP_ERR_BUSY;
}

static int pg_claim_held(void *impl)
{
    sp_pg *pg = impl;
    sp_error e;
    if (!pg->claim_key[0] || pg_ensure(pg, &e) != SP_OK) return 0;
    return pg_claim_still_held(pg);
}

static void pg_release(void *impl)
{
    sp_pg *pg = impl;
    if (!pg->claim_key[0]) return;
    if (PQstatus(pg->conn) == CONNECTION_OK) {
        const char *params[1] = {pg->claim_key};
        PQclear(PQexecParams(pg->conn, "SELECT pg_advisory_unlock($1::bigint)", 1, NULL, params, NULL, NULL, 0));
    }
    pg->claim_key[0] = '\0';
}

/* ---- the table's shape ------------------------------------------------------- */

/* What sealpub writes and reads, and the types that hold it without
 * truncation or padding. A table owned by another team may differ in
 * anything else (extra nullable or defaulted columns, other indexes). */
typedef struct pg_col_rule {
    const char *name;
    const char *types; /* accepted format_type() prefixes, '|'-separated */
    int min_len;       /* for character varying(n)/character(n): n must be at least this */
    int nullable_ok;
} pg_col_rule;

static const pg_col_rule PG_COLS[] = {
    {"resource_name", "text|character varying", SP_NAME_MAX, 0},
    {"dev_stage", "text|character varying", SP_FIELD_MAX, 0},
    {"architecture", "text|character varying", SP_FIELD_MAX, 0},
    {"version", "text|character varying", SP_FIELD_MAX, 0},
    {"object_key", "text|character varying", SP_OBJECT_KEY_MAX - 1, 0},
    {"sha256", "text|character varying|character", 64, 0},
    {"size_bytes", "bigint|numeric", 0, 0},
    {"plain_size", "bigint|numeric", 0, 0},
    {"encryption_key", "text|character varying", 100, 0},
    {"key_wrap", "text|character varying", 31, 0},
    {"kek_id", "text|character varying", 64, 1},
    {"artifact_id", "text|character varying|character", 32, 0},
    {"format", "text|character varying", 31, 0},
    {"created_at", "timestamp with time zone|timestamp without time zone", 0, 0},
    {"updated_at", "timestamp with time zone|timestamp without time zone", 0, 0},
};

/* "character varying(32)" against "character varying": 1, and *len = 32. */
static int type_matches(const char *type, const char *accepted, int *len)
{
    *len = -1;
    for (const char *p = accepted; *p;) {
        size_t n = strcspn(p, "|");
        if (strncmp(type, p, n) == 0 && (type[n] == '\0' || type[n] == '(')) {
            if (type[n] == '(') *len = atoi(type + n + 1);
            return 1;
        }
        p += n + (p[n] == '|');
    }
    return 0;
}

static void append(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

static const char PG_COLUMNS_SQL[] =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,\n"
    "       a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''\n"
    "FROM pg_attribute a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped";
static const char PG_UNIQUE_SQL[] =
    "SELECT array_to_string(array(SELECT a.attname::text FROM unnest(i.indkey) AS k\n"
    "         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k ORDER BY 1), ',')\n"
    "FROM pg_index i WHERE i.indrelid = $1::oid AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL";

static sp_status pg_check(void *impl, char *warn, size_t warn_cap, sp_error *err)
{
    sp_pg *pg = impl;
    if (warn_cap) warn[0] = '\0';
    SP_TRY(pg_ensure(pg, err));
    const char *tp[1] = {pg->qtable};
    PGresult *res = PQexecParams(pg->conn, "SELECT to_regclass($1)::oid::text", 1, NULL, tp, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        sp_status s = pg_fail_result(err, pg->conn, res, "table check");
        PQclear(res);
        return s;
    }
    if (PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return sp_fail(err, SP_ERR_REGISTRY, "PostgreSQL: table %s does not exist (create it with 'sealpub db init')",
                       pg->qtable);
    }
    char oid[24];
    sp_strlcpy(oid, PQgetvalue(res, 0, 0), sizeof(oid));
    PQclear(res);

    const char *op[1] = {oid};
    res = PQexecParams(pg->conn, PG_COLUMNS_SQL, 1, NULL, op, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sp_status s = pg_fail_result(err, pg->conn, res, "table check");
        PQclear(res);
        return s;
    }
    char problems[480] = "";
    unsigned nproblems = 0;
    for (size_t r = 0; r < SP_ARRAY_LEN(PG_COLS); r++) {
        int found = -1;
        for (int i = 0; i < PQntuples(res); i++)
            if (strcmp(PQgetvalue(res, i, 0), PG_COLS[r].name) == 0) found = i;
        if (found < 0) {
            append(problems, sizeof(problems), "%scolumn %s is missing", nproblems++ ? "; " : "", PG_COLS[r].name);
            continue;
        }
        const char *type = PQgetvalue(res, found, 1);
        int len = -1;
        if (!type_matches(type, PG_COLS[r].types, &len))
            append(problems, sizeof(problems), "%scolumn %s is %s, expected %s", nproblems++ ? "; " : "",
                   PG_COLS[r].name, type, PG_COLS[r].types);
        else if (len >= 0 && len < PG_COLS[r].min_len)
            append(problems, sizeof(problems), "%scolumn %s is %s, too short for %d bytes", nproblems++ ? "; " : "",
                   PG_COLS[r].name, type, PG_COLS[r].min_len);
        else if (strncmp(type, "character(", 10) == 0 && len != PG_COLS[r].min_len)
            append(problems, sizeof(problems), "%scolumn %s is %s, which pads: expected exactly character(%d)",
                   nproblems++ ? "; " : "", PG_COLS[r].name, type, PG_COLS[r].min_len);
    }
    /* A NOT NULL column without a default that sealpub does not fill makes
     * every insert fail. */
    for (int i = 0; i < PQntuples(res); i++) {
        const char *name = PQgetvalue(res, i, 0);
        int ours = strcmp(name, "id") == 0;
        for (size_t r = 0; r < SP_ARRAY_LEN(PG_COLS) && !ours; r++) ours = strcmp(name, PG_COLS[r].name) == 0;
        if (!ours && strcmp(PQgetvalue(res, i, 2), "t") == 0 && strcmp(PQgetvalue(res, i, 3), "t") != 0)
            append(problems, sizeof(problems), "%scolumn %s is NOT NULL without a default and sealpub does not "
                   "fill it", nproblems++ ? "; " : "", name);
    }
    PQclear(res);

    res = PQexecParams(pg->conn, PG_UNIQUE_SQL, 1, NULL, op, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        sp_status s = pg_fail_result(err, pg->conn, res, "table check");
        PQclear(res);
        return s;
    }
    int has_identity = 0, has_key = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *cols = PQgetvalue(res, i, 0);
        if (strcmp(cols, "architecture,dev_stage,resource_name,version") == 0) has_identity = 1;
        if (strcmp(cols, "object_key") == 0) has_key = 1;
    }
    PQclear(res);
    if (!has_identity)
        append(problems, sizeof(problems), "%sno unique key on (resource_name, dev_stage, architecture, version)",
               nproblems++ ? "; " : "");
    if (nproblems)
        return sp_fail(err, SP_ERR_REGISTRY, "PostgreSQL table %s does not fit sealpub (docs/SCHEMA.md): %s",
                       pg->qtable, problems);
    if (!has_key && warn_cap)
        snprintf(warn, warn_cap,
                 "table %s has no unique key on object_key: 'sealpub db init' adds it (the identity claim still "
                 "refuses a shared key)",
                 pg->qtable);
    return SP_OK;
}

/* ---- open / close -------------------------------------------------------- */

static void pg_close(void *impl)
{
    sp_pg *pg = impl;
    if (!pg) return;
    pg_release(pg);
    PQfinish(pg->conn);
    free(pg);
}

static const sp_registry_ops PG_OPS = {
    .scheme = "postgresql",
    .init = pg_init,
    .put = pg_put,
    .get = pg_get,
    .get_by_key = pg_get_by_key,
    .list = pg_list,
    .remove = pg_remove,
    .rekey = pg_rekey,
    .try_claim = pg_try_claim,
    .claim_held = pg_claim_held,
    .release = pg_release,
    .check = pg_check,
    .close = pg_close,
};

/* Whether a failed connection may work later: the server refused the
 * credentials or the database (permanent), or could not be reached
 * (refused, timed out, shutting down: retryable). libpq gives no SQLSTATE
 * for a failed connection, so its message decides. */
static int pg_connect_retryable(const char *m)
{
    static const char *const permanent[] = {
        "authentication failed", "no pg_hba.conf entry", "does not exist", "password is required",
        "certificate", "SSL", "server does not support", "invalid",
    };
    for (size_t i = 0; i < SP_ARRAY_LEN(permanent); i++)
        if (strstr(m, permanent[i])) return 0;
    return 1;
}

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
    /* Remote targets get TLS with a verified certificate unless the caller
     * chose a mode (pg_link.h). */
    int verify_full = sp_pg_link_wants_verify_full(opts);
    PQconninfoFree(opts);
    SP_TRY(sp_pg_link_check_env(err));

    /* Keywords are applied in order and the expanded dbname string comes
     * last, so a caller's connect_timeout wins over the default. */
    /* Other publishers waiting for a claim name its holder by this. */
    char appname[64], hostname[32] = "?";
    gethostname(hostname, sizeof(hostname) - 1);
    hostname[sizeof(hostname) - 1] = '\0';
    snprintf(appname, sizeof(appname), "sealpub host %s pid %ld", hostname, (long)getpid());
    const char *keys[5], *vals[5];
    size_t nk = 0;
    keys[nk] = "fallback_application_name", vals[nk++] = appname;
    if (!has_timeout) keys[nk] = "connect_timeout", vals[nk++] = PG_CONNECT_TIMEOUT_S;
    if (verify_full) keys[nk] = "sslmode", vals[nk++] = "verify-full";
    keys[nk] = "dbname", vals[nk++] = conninfo;
    keys[nk] = NULL, vals[nk] = NULL;
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
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
        return sp_fail_as(
            err, SP_ERR_REGISTRY, pg_connect_retryable(m), "cannot connect to PostgreSQL at %s: %s%s", where, pg_reason(m),
                       verify_full ? " (sealpub uses sslmode=verify-full for a remote registry unless the URL or "
                                     "PGSSLMODE sets a mode; give the CA with PGSSLROOTCERT or sslrootcert=)"
                                   : "");
    }
    PQsetNoticeProcessor(conn, pg_quiet_notice, NULL);

    sp_pg *pg = calloc(1, sizeof(*pg));
    if (!pg) {
        PQfinish(conn);
        return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    }
    pg->conn = conn;
    sp_status ts = sp_registry_table(pg->schema, pg->table, err);
    if (ts != SP_OK) {
        pg_close(pg);
        return ts;
    }
    if (pg->schema[0])
        snprintf(pg->qtable, sizeof(pg->qtable), "\"%s\".\"%s\"", pg->schema, pg->table);
    else
        snprintf(pg->qtable, sizeof(pg->qtable), "\"%s\"", pg->table);
    snprintf(pg->idx_identity, sizeof(pg->idx_identity), "%.50s_identity", pg->table);
    snprintf(pg->idx_key, sizeof(pg->idx_key), "%.50s_object_key", pg->table);
    pg_build_sql(pg);
    reg->ops = &PG_OPS;
    reg->impl = pg;
    reg->clear_link = sp_pg_link_is_clear(conn);
    pg_describe(conn, reg->desc, sizeof(reg->desc));
    return SP_OK;
}
