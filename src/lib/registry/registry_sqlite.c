/* registry_sqlite.c: the embedded default registry: the `resources` table in an SQLite file. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "registry/registry.h"

typedef struct sqlite_reg {
    sqlite3 *db;
    char table[64];      /* validated identifier (sp_registry_table) */
    char qt[80];         /* the same, quoted for SQL text */
    char path[4096];     /* the database file: claims live beside it */
    int claim_fd;        /* the held claim's lock file, or -1 */
} sqlite_reg;

/* Same columns as the PostgreSQL table (docs/SCHEMA.md); timestamps are
 * ISO 8601 UTC text. The object_key index refuses two identities sharing one
 * object (docs/CLI.md, "Object keys"). */
static const char schema_fmt[] =
    "CREATE TABLE IF NOT EXISTS %s ("
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
    " created_at TEXT NOT NULL DEFAULT (strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ','now')),"
    " updated_at TEXT NOT NULL DEFAULT (strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ','now')));";
static const char index_fmt[] =
    "CREATE UNIQUE INDEX IF NOT EXISTS \"%s_identity\""
    " ON %s (resource_name, dev_stage, architecture, version);"
    "CREATE UNIQUE INDEX IF NOT EXISTS \"%s_object_key\" ON %s (object_key);";

#define SQ_COLS                                                                                        \
    "resource_name, dev_stage, architecture, version, object_key, sha256, size_bytes, plain_size," \
    " encryption_key, key_wrap, kek_id, artifact_id, format, created_at, updated_at"

static sp_status db_fail(sqlite_reg *r, sp_error *err, const char *what)
{
    return sp_fail(err, SP_ERR_REGISTRY, "SQLite %s: %s", what, sqlite3_errmsg(r->db));
}

static sp_status sq_check_columns(sqlite_reg *r, sp_error *err);

/* Creates the table if missing; an existing one must have every column
 * before the unique indexes are added (a missing column is named, not
 * reported as SQLite's "no such column"). */
static sp_status sq_init(void *impl, sp_error *err)
{
    sqlite_reg *r = impl;
    char sql[2048];
    snprintf(sql, sizeof(sql), schema_fmt, r->qt);
    if (sqlite3_exec(r->db, sql, NULL, NULL, NULL) != SQLITE_OK) return db_fail(r, err, "create table");
    SP_TRY(sq_check_columns(r, err));
    snprintf(sql, sizeof(sql), index_fmt, r->table, r->qt, r->table, r->qt);
    if (sqlite3_exec(r->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        if (sqlite3_extended_errcode(r->db) == SQLITE_CONSTRAINT_UNIQUE)
            return sp_fail(err, SP_ERR_REGISTRY,
                           "SQLite init: rows of %s share an object_key, so its unique index cannot be added", r->qt);
        return db_fail(r, err, "create table");
    }
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
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "SELECT 1 FROM %s WHERE resource_name=?1 AND dev_stage=?2 AND architecture=?3 AND version=?4", r->qt);
    int rc = run(r, sql, row, 1, 0);
    sp_status s = SP_OK;
    if (rc == SQLITE_ROW && on_exists == SP_ON_EXISTS_FAIL) {
        s = sp_fail(err, SP_ERR_EXISTS, "resource %s/%s/%s/%s already exists (use --on-exists replace)",
                    row->resource_name, row->dev_stage, row->architecture, row->version);
    } else if (rc == SQLITE_ROW) {
        *replaced = 1;
        snprintf(sql, sizeof(sql),
                 "UPDATE %s SET object_key=?5, sha256=?6, size_bytes=?7, plain_size=?8, encryption_key=?9,"
                 " key_wrap=?10, kek_id=?11, artifact_id=?12, format=?13,"
                 " updated_at=strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ','now')"
                 " WHERE resource_name=?1 AND dev_stage=?2 AND architecture=?3 AND version=?4",
                 r->qt);
        rc = run(r, sql, row, 1, 5);
        if (rc != SQLITE_DONE) s = db_fail(r, err, "update");
    } else if (rc == SQLITE_DONE) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO %s (resource_name, dev_stage, architecture, version, object_key, sha256,"
                 " size_bytes, plain_size, encryption_key, key_wrap, kek_id, artifact_id, format)"
                 " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
                 r->qt);
        rc = run(r, sql, row, 1, 5);
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

static void row_from(sqlite3_stmt *st, sp_row *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < SP_ROW_COLUMNS; i++) {
        const sp_row_column *c = &sp_row_columns[i];
        if (c->cap) col_text(st, i, sp_row_text(out, c), c->cap);
        else *sp_row_u64(out, c) = (uint64_t)sqlite3_column_int64(st, i);
    }
}

static void bind_opt(sqlite3_stmt *st, int i, const char *v)
{
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

/* One row by a SELECT of SQ_COLS with text parameters ?1..?n (NULL binds
 * NULL): SP_OK with *found, or the failure. */
static sp_status sq_select_row(sqlite_reg *r, const char *sql, const char *const *params, int n, sp_row *out,
                               int *found, sp_error *err)
{
    *found = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(r, err, "select");
    for (int i = 0; i < n; i++) bind_opt(st, i + 1, params[i]);
    int rc = sqlite3_step(st);
    sp_status s = SP_OK;
    if (rc == SQLITE_ROW) row_from(st, out), *found = 1;
    else if (rc != SQLITE_DONE) s = db_fail(r, err, "select");
    sqlite3_finalize(st);
    return s;
}

static sp_status sq_get(void *impl, const char *name, const char *stage, const char *arch, const char *version,
                        sp_row *out, sp_error *err)
{
    sqlite_reg *r = impl;
    char sql[768];
    snprintf(sql, sizeof(sql), "SELECT " SQ_COLS " FROM %s WHERE resource_name=?1 AND dev_stage=?2 AND architecture=?3%s",
             r->qt, version ? " AND version=?4" : " ORDER BY created_at DESC, id DESC LIMIT 1");
    const char *params[4] = {name, stage, arch, version};
    int found = 0;
    SP_TRY(sq_select_row(r, sql, params, version ? 4 : 3, out, &found, err));
    if (!found)
        return sp_fail(err, SP_ERR_NOT_FOUND, "no resource %s/%s/%s/%s in the registry", name, stage, arch,
                       version ? version : "(latest)");
    return SP_OK;
}


static sp_status sq_list(void *impl, const sp_row_filter *f, sp_row_fn fn, void *ctx, sp_error *err)
{
    sqlite_reg *r = impl;
    char sql[900];
    /* A NULL parameter matches everything, so one statement serves every filter. */
    snprintf(sql, sizeof(sql),
             "SELECT " SQ_COLS " FROM %s WHERE (?1 IS NULL OR resource_name=?1) AND (?2 IS NULL OR dev_stage=?2)"
             " AND (?3 IS NULL OR architecture=?3) AND (?4 IS NULL OR created_at>=?4) AND (?5 IS NULL OR created_at<?5)"
             " ORDER BY created_at DESC, id DESC LIMIT ?6 OFFSET ?7",
             r->qt);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(r, err, "list");
    bind_opt(st, 1, f->name);
    bind_opt(st, 2, f->stage);
    bind_opt(st, 3, f->arch);
    bind_opt(st, 4, f->since);
    bind_opt(st, 5, f->before);
    sqlite3_bind_int64(st, 6, f->limit && f->limit < (uint64_t)INT64_MAX ? (sqlite3_int64)f->limit : -1);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)(f->offset < (uint64_t)INT64_MAX ? f->offset : 0));
    sp_status s = SP_OK;
    sp_row row;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_from(st, &row);
        if (!f->with_keys) OPENSSL_cleanse(row.encryption_key, sizeof(row.encryption_key));
        if (fn(ctx, &row)) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) s = db_fail(r, err, "list");
    OPENSSL_cleanse(&row, sizeof(row));
    sqlite3_finalize(st);
    return s;
}

/* One row-changing statement; 0 rows changed is SP_ERR_NOT_FOUND. */
static sp_status sq_change_one(sqlite_reg *r, const char *sql, const char *const *params, int n, const char *what,
                               sp_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(r, err, what);
    for (int i = 0; i < n; i++) bind_opt(st, i + 1, params[i]);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(r, err, what);
    if (sqlite3_changes(r->db) != 1)
        return sp_fail(err, SP_ERR_NOT_FOUND, "%s/%s/%s/%s changed or went meanwhile: %s not done", params[0],
                       params[1], params[2], params[3], what);
    return SP_OK;
}

static sp_status sq_remove(void *impl, const char *name, const char *stage, const char *arch, const char *version,
                           const char *artifact_id, sp_error *err)
{
    sqlite_reg *r = impl;
    char sql[400];
    snprintf(sql, sizeof(sql),
             "DELETE FROM %s WHERE resource_name=?1 AND dev_stage=?2 AND architecture=?3 AND version=?4"
             " AND artifact_id=?5",
             r->qt);
    const char *params[5] = {name, stage, arch, version, artifact_id};
    return sq_change_one(r, sql, params, 5, "delete", err);
}

static sp_status sq_rekey(void *impl, const sp_row *row, const char *old_encryption_key, sp_error *err)
{
    sqlite_reg *r = impl;
    char sql[600];
    snprintf(sql, sizeof(sql),
             "UPDATE %s SET encryption_key=?7, key_wrap=?8, kek_id=?9,"
             " updated_at=strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ','now')"
             " WHERE resource_name=?1 AND dev_stage=?2 AND architecture=?3 AND version=?4 AND artifact_id=?5"
             " AND encryption_key=?6",
             r->qt);
    const char *params[9] = {row->resource_name, row->dev_stage, row->architecture, row->version, row->artifact_id,
                             old_encryption_key, row->encryption_key, row->key_wrap,
                             row->kek_id[0] ? row->kek_id : NULL};
    return sq_change_one(r, sql, params, 9, "rewrap", err);
}

static sp_status sq_get_by_key(void *impl, const char *key, sp_row *out, sp_error *err)
{
    sqlite_reg *r = impl;
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT " SQ_COLS " FROM %s WHERE object_key=?1 LIMIT 1", r->qt);
    const char *params[1] = {key};
    int found = 0;
    SP_TRY(sq_select_row(r, sql, params, 1, out, &found, err));
    if (!found) return sp_fail(err, SP_ERR_NOT_FOUND, "no row has object key %s", key);
    return SP_OK;
}

/* The claim between processes on one host: an exclusive flock() on a lock
 * file per object key in "<database>.claims/", named by the FNV-1a hash of
 * the table and key. The kernel drops the lock when the holder exits, even
 * by SIGKILL, so nothing can wedge an identity. Lock files are never
 * unlinked: removing one while another process waits on it would let two
 * holders lock different inodes. The holder writes who it is into the file
 * for the others' messages. */
static uint64_t fnv1a(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = a; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xffu) * 1099511628211ULL;
    for (const char *p = b; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static sp_status sq_try_claim(void *impl, const char *key, const char *who, sp_error *err)
{
    sqlite_reg *r = impl;
    if (r->claim_fd >= 0) return sp_fail(err, SP_ERR_INTERNAL, "registry handle already holds a claim");
    char dir[4200], path[4300];
    snprintf(dir, sizeof(dir), "%s.claims", r->path);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return sp_fail(err, SP_ERR_REGISTRY, "cannot create the claims folder %s: %s", dir, strerror(errno));
    snprintf(path, sizeof(path), "%s/%016llx.lock", dir, (unsigned long long)fnv1a(r->table, key));
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return sp_fail(err, SP_ERR_REGISTRY, "cannot open the claim file %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char holder[200] = "";
        ssize_t n = e == EWOULDBLOCK ? pread(fd, holder, sizeof(holder) - 1, 0) : -1;
        close(fd);
        if (e != EWOULDBLOCK) return sp_fail(err, SP_ERR_REGISTRY, "cannot lock %s: %s", path, strerror(e));
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\r\n")] = '\0';
        return sp_fail(err, SP_ERR_BUSY, "held by %s", holder[0] ? holder : "another process");
    }
    char line[256];
    int n = snprintf(line, sizeof(line), "sealpub %s\n", who);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) {
        /* Only the holder's description is lost; the lock itself holds. */
    }
    r->claim_fd = fd;
    return SP_OK;
}

static int sq_claim_held(void *impl)
{
    sqlite_reg *r = impl;
    return r->claim_fd >= 0;
}

static void sq_release(void *impl)
{
    sqlite_reg *r = impl;
    if (r->claim_fd < 0) return;
    close(r->claim_fd); /* drops the flock */
    r->claim_fd = -1;
}

/* The same contract as the PostgreSQL check, with SQLite's looser types:
 * every column present, and the unique keys. */
static sp_status sq_check_columns(sqlite_reg *r, sp_error *err)
{
    static const char *const cols[] = {"resource_name", "dev_stage", "architecture", "version", "object_key",
                                       "sha256", "size_bytes", "plain_size", "encryption_key", "key_wrap",
                                       "kek_id", "artifact_id", "format", "created_at", "updated_at"};
    char sql[256], problems[400] = "";
    unsigned missing = 0;
    for (size_t i = 0; i < SP_ARRAY_LEN(cols); i++) {
        snprintf(sql, sizeof(sql), "SELECT 1 FROM pragma_table_info('%s') WHERE name='%s'", r->table, cols[i]);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(r, err, "table check");
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW) {
            size_t n = strlen(problems);
            snprintf(problems + n, sizeof(problems) - n, "%scolumn %s is missing", missing++ ? "; " : "", cols[i]);
        }
    }
    if (missing)
        return sp_fail(err, SP_ERR_REGISTRY, "SQLite table %s does not fit sealpub (docs/SCHEMA.md): %s", r->qt,
                       problems);
    return SP_OK;
}

static sp_status sq_check(void *impl, char *warn, size_t warn_cap, sp_error *err)
{
    sqlite_reg *r = impl;
    if (warn_cap) warn[0] = '\0';
    SP_TRY(sq_check_columns(r, err));
    char sql[256];
    /* Unique, non-partial indexes and their columns, sorted. */
    snprintf(sql, sizeof(sql),
             "SELECT (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(l.name) ORDER BY name))"
             " FROM pragma_index_list('%s') AS l WHERE l.\"unique\" AND NOT l.partial",
             r->table);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) return db_fail(r, err, "table check");
    int has_identity = 0, has_key = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *c = sqlite3_column_text(st, 0);
        if (!c) continue;
        if (strcmp((const char *)c, "architecture,dev_stage,resource_name,version") == 0) has_identity = 1;
        if (strcmp((const char *)c, "object_key") == 0) has_key = 1;
    }
    sqlite3_finalize(st);
    if (!has_identity)
        return sp_fail(err, SP_ERR_REGISTRY,
                       "SQLite table %s does not fit sealpub (docs/SCHEMA.md): no unique key on (resource_name, "
                       "dev_stage, architecture, version)",
                       r->qt);
    if (!has_key && warn_cap)
        snprintf(warn, warn_cap, "table %s has no unique key on object_key: 'sealpub db init' adds it", r->qt);
    return SP_OK;
}

static void sq_close(void *impl)
{
    sqlite_reg *r = impl;
    if (!r) return;
    if (r->claim_fd >= 0) close(r->claim_fd);
    sqlite3_close(r->db);
    free(r);
}

static const sp_registry_ops sqlite_ops = {
    .scheme = "sqlite", .init = sq_init, .put = sq_put, .get = sq_get, .get_by_key = sq_get_by_key,
    .list = sq_list, .remove = sq_remove, .rekey = sq_rekey,
    .try_claim = sq_try_claim, .claim_held = sq_claim_held, .release = sq_release, .check = sq_check,
    .close = sq_close,
};

/* An existing registry that others can read and that holds unwrapped keys
 * gives every one of them the content: say so once per open (one line on
 * stderr; the file may be shared on purpose, so it is not an error). */
static void warn_if_exposed(sqlite_reg *r, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || (st.st_mode & (S_IRGRP | S_IROTH)) == 0) return;
    sqlite3_stmt *q = NULL;
    char sql[200];
    snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE key_wrap = 'none' LIMIT 1", r->qt);
    int exposed = sqlite3_prepare_v2(r->db, sql, -1, &q, NULL) ==
                      SQLITE_OK &&
                  sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    if (exposed)
        fprintf(stderr,
                "sealpub: warning: registry %s is readable by %s and holds unwrapped keys: chmod 600 it "
                "(or use SEALPUB_KEK)\n",
                path, (st.st_mode & S_IROTH) ? "every user" : "its group");
}

sp_status sp_registry_sqlite_open(const char *path, sp_registry *reg, sp_error *err)
{
    if (!path || !*path) return sp_fail(err, SP_ERR_USAGE, "empty SQLite registry path (use sqlite:///PATH)");
    /* The file holds keys: create it 0600 before SQLite does (SQLite
     * would use 0644 & ~umask), so that -wal and -shm, which SQLite creates
     * with the database file's mode, are 0600 too. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) close(fd);
    else if (errno != EEXIST)
        return sp_fail(err, SP_ERR_REGISTRY, "cannot create SQLite registry %s: %s", path, strerror(errno));
    char schema[64], table[64];
    SP_TRY(sp_registry_table(schema, table, err));
    if (schema[0] && strcmp(schema, "main") != 0)
        return sp_fail(err, SP_ERR_USAGE, "SEALPUB_TABLE: an SQLite registry has no schema '%s' (use TABLE)", schema);
    sqlite_reg *r = calloc(1, sizeof(*r));
    if (!r) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    r->claim_fd = -1;
    sp_strlcpy(r->table, table, sizeof(r->table));
    snprintf(r->qt, sizeof(r->qt), "\"%s\"", table);
    if (sp_strlcpy(r->path, path, sizeof(r->path)) != 0) {
        free(r);
        return sp_fail(err, SP_ERR_USAGE, "SQLite registry path is too long");
    }
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
    warn_if_exposed(r, path);
    reg->ops = &sqlite_ops;
    reg->impl = r;
    snprintf(reg->desc, sizeof(reg->desc), "sqlite://%s", path);
    return SP_OK;
}
