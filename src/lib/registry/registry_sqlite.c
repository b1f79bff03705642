/* registry_sqlite.c: the embedded default registry: the `resources` table in an SQLite file. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "registry/registry.h"

typedef struct sqlite_reg {
    sqlite3 *db;
} sqlite_reg;

/* Same columns as the PostgreSQL table (docs/SCHEMA.md); timestamps are
 * ISO 8601 UTC text. */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS resources ("
    " id INTEGER PRIMARY KEY,"
    " resource_name TEXT NOT NULL,"
    " dev_stage TEXT NOT NULL,"
    " architecture TEXT NOT NULL,"
    " version TEXT NOT NULL,"
    " object_key TEXT NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " size_bytes INTEGER NOT NULL,"
    " plain_size INTEGER NOT NULL,"
    " encryption_key TEXT NOT NULL,"
    " key_wrap TEXT NOT NULL DEFAULT 'none',"
    " kek_id TEXT,"
    " artifact_id TEXT NOT NULL,"
    " format TEXT NOT NULL,"
    " created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
    " updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')));"
    "CREATE UNIQUE INDEX IF NOT EXISTS resources_identity"
    " ON resources (resource_name, dev_stage, architecture, version);";

static sp_status db_fail(sqlite_reg *r, sp_error *err, const char *what)
{
    return sp_fail(err, SP_ERR_REGISTRY, "SQLite %s: %s", what, sqlite3_errmsg(r->db));
}

static sp_status sq_init(void *impl, sp_error *err)
{
    sqlite_reg *r = impl;
    if (sqlite3_exec(r->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) return db_fail(r, err, "create table");
    return SP_OK;
}

static void bind_identity(sqlite3_stmt *st, int first, const sp_row *row)
{
    sqlite3_bind_text(st, first, row->resource_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, first + 1, row->dev_stage, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, first + 2, row->architecture, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, first + 3, row->version, -1, SQLITE_STATIC);
}

static void bind_payload(sqlite3_stmt *st, int first, const sp_row *row)
{
    sqlite3_bind_text(st, first, row->object_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, first + 1, row->sha256, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, first + 2, (sqlite3_int64)row->size_bytes);
    sqlite3_bind_int64(st, first + 3, (sqlite3_int64)row->plain_size);
    sqlite3_bind_text(st, first + 4, row->encryption_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, first + 5, row->key_wrap, -1, SQLITE_STATIC);
    if (row->kek_id[0])
        sqlite3_bind_text(st, first + 6, row->kek_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, first + 6);
    sqlite3_bind_text(st, first + 7, row->artifact_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, first + 8, row->format, -1, SQLITE_STATIC);
}

/* One statement, run to completion; returns the sqlite3_step result. */
static int run(sqlite_reg *r, const char *sql, const sp_row *row, int identity_first, int payload_first)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) return SQLITE_ERROR;
    if (identity_first) bind_identity(st, identity_first, row);
    if (payload_first) bind_payload(st, payload_first, row);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc;
}

static sp_status sq_put(void *impl, const sp_row *row, sp_on_exists on_exists, int *replaced, sp_error *err)
{
    sqlite_reg *r = impl;
    *replaced = 0;
    /* IMMEDIATE takes the write lock up front, so the existence check and
     * the write are one atomic step against concurrent publishers. */
    if (sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return db_fail(r, err, "begin");
    int rc = run(r,
                 "SELECT 1 FROM resources WHERE resource_name=?1 AND dev_stage=?2 AND architecture=?3 AND version=?4",
                 row, 1, 0);
    sp_status s = SP_OK;
    if (rc == SQLITE_ROW && on_exists == SP_ON_EXISTS_FAIL) {
        s = sp_fail(err, SP_ERR_EXISTS, "resource %s/%s/%s/%s already exists (use --on-exists replace)",
                    row->resource_name, row->dev_stage, row->architecture, row->version);
    } else if (rc == SQLITE_ROW) {
        *replaced = 1;
        rc = run(r,
                 "UPDATE resources SET object_key=?5, sha256=?6, size_bytes=?7, plain_size=?8, encryption_key=?9,"
                 " key_wrap=?10, kek_id=?11, artifact_id=?12, format=?13,"
                 " updated_at=strftime('%Y-%m-%dT%H:%M:%SZ','now')"
                 " WHERE resource_name=?1 AND dev_stage=?2 AND architecture=?3 AND version=?4",
                 row, 1, 5);
        if (rc != SQLITE_DONE) s = db_fail(r, err, "update");
    } else if (rc == SQLITE_DONE) {
        rc = run(r,
                 "INSERT INTO resources (resource_name, dev_stage, architecture, version, object_key, sha256,"
                 " size_bytes, plain_size, encryption_key, key_wrap, kek_id, artifact_id, format)"
                 " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
                 row, 1, 5);
        if (rc != SQLITE_DONE) s = db_fail(r, err, "insert");
    } else {
        s = db_fail(r, err, "select");
    }
    if (s == SP_OK && sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) s = db_fail(r, err, "commit");
    if (s != SP_OK) sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    return s;
}

static void col_text(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    sp_strlcpy(dst, t ? (const char *)t : "", cap);
}

static sp_status sq_get(void *impl, const char *name, const char *stage, const char *arch, const char *version,
                        sp_row *out, sp_error *err)
{
    sqlite_reg *r = impl;
    static const char cols[] =
        "SELECT resource_name, dev_stage, architecture, version, object_key, sha256, size_bytes, plain_size,"
        " encryption_key, key_wrap, kek_id, artifact_id, format, created_at FROM resources"
        " WHERE resource_name=?1 AND dev_stage=?2 AND architecture=?3";
    char sql[512];
    snprintf(sql, sizeof(sql), "%s%s", cols,
             version ? " AND version=?4" : " ORDER BY created_at DESC, id DESC LIMIT 1");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(r, err, "select");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, stage, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, arch, -1, SQLITE_STATIC);
    if (version) sqlite3_bind_text(st, 4, version, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sp_status s = SP_OK;
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        col_text(st, 0, out->resource_name, sizeof(out->resource_name));
        col_text(st, 1, out->dev_stage, sizeof(out->dev_stage));
        col_text(st, 2, out->architecture, sizeof(out->architecture));
        col_text(st, 3, out->version, sizeof(out->version));
        col_text(st, 4, out->object_key, sizeof(out->object_key));
        col_text(st, 5, out->sha256, sizeof(out->sha256));
        out->size_bytes = (uint64_t)sqlite3_column_int64(st, 6);
        out->plain_size = (uint64_t)sqlite3_column_int64(st, 7);
        col_text(st, 8, out->encryption_key, sizeof(out->encryption_key));
        col_text(st, 9, out->key_wrap, sizeof(out->key_wrap));
        col_text(st, 10, out->kek_id, sizeof(out->kek_id));
        col_text(st, 11, out->artifact_id, sizeof(out->artifact_id));
        col_text(st, 12, out->format, sizeof(out->format));
        col_text(st, 13, out->created_at, sizeof(out->created_at));
    } else if (rc == SQLITE_DONE) {
        s = sp_fail(err, SP_ERR_NOT_FOUND, "no resource %s/%s/%s/%s in the registry", name, stage, arch,
                    version ? version : "(latest)");
    } else {
        s = db_fail(r, err, "select");
    }
    sqlite3_finalize(st);
    return s;
}

static void sq_close(void *impl)
{
    sqlite_reg *r = impl;
    if (!r) return;
    sqlite3_close(r->db);
    free(r);
}

static const sp_registry_ops sqlite_ops = {
    .scheme = "sqlite", .init = sq_init, .put = sq_put, .get = sq_get, .close = sq_close,
};

sp_status sp_registry_sqlite_open(const char *path, sp_registry *reg, sp_error *err)
{
    if (!path || !*path) return sp_fail(err, SP_ERR_USAGE, "empty SQLite registry path (use sqlite:///PATH)");
    sqlite_reg *r = calloc(1, sizeof(*r));
    if (!r) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK) {
        sp_status s = sp_fail(err, SP_ERR_REGISTRY, "cannot open SQLite registry %s: %s", path,
                              r->db ? sqlite3_errmsg(r->db) : "out of memory");
        sq_close(r);
        return s;
    }
    sqlite3_busy_timeout(r->db, 10000);
    sqlite3_exec(r->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    /* The embedded registry creates its table on first use. */
    sp_status s = sq_init(r, err);
    if (s != SP_OK) {
        sq_close(r);
        return s;
    }
    reg->ops = &sqlite_ops;
    reg->impl = r;
    snprintf(reg->desc, sizeof(reg->desc), "sqlite://%s", path);
    return SP_OK;
}
