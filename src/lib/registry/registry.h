/* registry.h: the resources registry interface (SQLite, PostgreSQL): one row per published artifact. */
#ifndef SP_REGISTRY_H
#define SP_REGISTRY_H

#include "common/sp_common.h"

/* One row of the `resources` table (docs/SCHEMA.md). */
typedef struct sp_row {
    char resource_name[SP_NAME_MAX + 1];
    char dev_stage[SP_FIELD_MAX + 1];
    char architecture[SP_FIELD_MAX + 1];
    char version[SP_FIELD_MAX + 1];
    char object_key[SP_OBJECT_KEY_MAX];
    char sha256[65];           /* hex of the stored object */
    uint64_t size_bytes;       /* stored object size */
    uint64_t plain_size;       /* input size */
    char encryption_key[128];  /* base64 of the key, or of the wrapped key */
    char key_wrap[32];         /* "none", "aes256-kwp-bound-v1", "aes256-kwp" (crypto/kek.h) */
    char kek_id[65];           /* identifier of the KEK (hex of SHA-256 prefix), "" if none */
    char artifact_id[33];      /* hex, from the container header */
    char format[32];           /* "sealpub-v1" */
    char created_at[40];       /* ISO 8601 UTC, set by the backend */
    char updated_at[40];       /* likewise; changes when a replace rewrites the row */
} sp_row;

/* The row's columns, in the order every backend selects them and the
 * journal records them: name, and where the value lives in sp_row. cap 0
 * marks an unsigned 64-bit number, else a NUL-terminated text of cap
 * bytes. The first SP_ROW_WRITTEN are what a publish writes; created_at and
 * updated_at follow, set by the backend. */
typedef struct sp_row_column {
    const char *name;
    size_t offset, cap;
} sp_row_column;
#define SP_ROW_COLUMNS 15
#define SP_ROW_WRITTEN 13
extern const sp_row_column sp_row_columns[SP_ROW_COLUMNS];
static inline char *sp_row_text(sp_row *row, const sp_row_column *c) { return (char *)row + c->offset; }
static inline const char *sp_row_ctext(const sp_row *row, const sp_row_column *c)
{
    return (const char *)row + c->offset;
}
static inline uint64_t *sp_row_u64(sp_row *row, const sp_row_column *c) { return (uint64_t *)(void *)((char *)row + c->offset); }

/* Which rows list and retention look at; NULL/0 fields match everything. */
typedef struct sp_row_filter {
    const char *name, *stage, *arch;
    const char *since;  /* ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ": created at or after */
    const char *before; /* likewise: created strictly before */
    uint64_t limit;     /* 0 = no limit */
    uint64_t offset;
    int with_keys;      /* fill encryption_key (rewrap only); else it stays "" and never leaves the server */
} sp_row_filter;

/* Called per row, newest first (created_at, then id); non-zero stops. */
typedef int (*sp_row_fn)(void *ctx, const sp_row *row);

typedef struct sp_registry_ops {
    const char *scheme;
    /* Creates the table and its unique key if missing; idempotent. */
    sp_status (*init)(void *impl, sp_error *err);
    /* In one transaction: if a row with the same (name, stage, arch, version)
     * exists, fail with SP_ERR_EXISTS (on_exists fail) or update it (replace,
     * *replaced = 1); else insert. */
    sp_status (*put)(void *impl, const sp_row *row, sp_on_exists on_exists, int *replaced, sp_error *err);
    /* Looks up one row; version NULL picks the newest (by created_at). */
    sp_status (*get)(void *impl, const char *name, const char *stage, const char *arch,
                     const char *version, sp_row *out, sp_error *err);
    /* The row whose object_key is key (SP_ERR_NOT_FOUND if none): two
     * identities must never share one object. */
    sp_status (*get_by_key)(void *impl, const char *key, sp_row *out, sp_error *err);
    /* Takes the claim on an object key without waiting: SP_OK when taken
     * (held until release or close, and lost with the process or the
     * connection), SP_ERR_BUSY when another publisher holds it, with the
     * holder described in err->msg. One claim per handle. who describes this
     * publisher to the others ("host H pid P"). */
    sp_status (*try_claim)(void *impl, const char *key, const char *who, sp_error *err);
    /* 1 while the claim taken by try_claim is held: a broken and re-made
     * connection has lost it. */
    int (*claim_held)(void *impl);
    void (*release)(void *impl);
    /* Rows matching f, newest first. */
    sp_status (*list)(void *impl, const sp_row_filter *f, sp_row_fn fn, void *ctx, sp_error *err);
    /* Deletes the identity's row if it still describes artifact_id
     * (SP_ERR_NOT_FOUND otherwise: it changed or went meanwhile). */
    sp_status (*remove)(void *impl, const char *name, const char *stage, const char *arch, const char *version,
                        const char *artifact_id, sp_error *err);
    /* Replaces the key fields of the identity's row if it still holds
     * old_encryption_key and describes artifact_id (SP_ERR_NOT_FOUND
     * otherwise): one statement, so a row is never readable by neither key. */
    sp_status (*rekey)(void *impl, const sp_row *row, const char *old_encryption_key, sp_error *err);
    /* Checks an existing table: required columns and types and the unique
     * keys; each mismatch named in err (SP_ERR_REGISTRY). Gaps that only
     * weaken a second line of defence go to warn (may stay ""). */
    sp_status (*check)(void *impl, char *warn, size_t warn_cap, sp_error *err);
    void (*close)(void *impl);
} sp_registry_ops;

typedef struct sp_registry {
    const sp_registry_ops *ops;
    void *impl;
    char desc[SP_OBJECT_KEY_MAX]; /* printable, never a password */
    /* 1: a PostgreSQL link that is neither TLS nor local (unix socket,
     * loopback) and SEALPUB_ALLOW_PLAINTEXT_REGISTRY is not 1: the backend
     * refuses rows with unwrapped keys over it, so publish needs a KEK. */
    int clear_link;
} sp_registry;

#define SP_REGISTRY_CLEAR_LINK_MSG \
    "the PostgreSQL registry link is neither TLS nor local: refusing to send or receive an unwrapped key over it " \
    "(use sslmode=verify-full, set SEALPUB_KEK, or SEALPUB_ALLOW_PLAINTEXT_REGISTRY=1)"

/* url NULL/"": $SEALPUB_REGISTRY, else $DATABASE_URL (postgres), else
 * sqlite://<default home>/registry.db. "sqlite://PATH", "postgres://...",
 * "postgresql://...", or a libpq conninfo ("host=... dbname=..."). */
sp_status sp_registry_open(const char *url, sp_registry *reg, sp_error *err);
void sp_registry_close(sp_registry *reg);

sp_status sp_registry_sqlite_open(const char *path, sp_registry *reg, sp_error *err);
sp_status sp_registry_pg_open(const char *conninfo, sp_registry *reg, sp_error *err);

/* The table name: $SEALPUB_TABLE (an identifier, optionally
 * schema-qualified: [A-Za-z_][A-Za-z0-9_]* each part, at most 63 bytes), else
 * "resources". schema_out is "" when unqualified. */
sp_status sp_registry_table(char schema_out[64], char table_out[64], sp_error *err);

/* 1 when a registry is named explicitly: a URL, $SEALPUB_REGISTRY,
 * $DATABASE_URL or libpq's PGHOST/PGDATABASE/PGSERVICE. A set-but-empty
 * variable is an error naming it. */
sp_status sp_registry_configured(const char *url, int *configured, sp_error *err);

typedef void (*sp_notice_fn)(void *ctx, const char *msg);

/* Takes the claim on key. A holder seen with fail_if_held is SP_ERR_EXISTS
 * naming it; otherwise waits up to timeout seconds while another publisher
 * holds it, polling and observing *cancel, and a timeout is SP_ERR_BUSY
 * (retryable). identity is shown in messages; *waited gets the seconds spent
 * waiting. */
sp_status sp_registry_claim(sp_registry *reg, const char *key, const char *identity, int fail_if_held, double timeout,
                            volatile const int *cancel, sp_notice_fn notice, void *notice_ctx, double *waited,
                            sp_error *err);

#endif
