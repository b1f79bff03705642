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
    char key_wrap[32];         /* "none", "aes256-kwp" (RFC 5649) */
    char kek_id[65];           /* identifier of the KEK (hex of SHA-256 prefix), "" if none */
    char artifact_id[33];      /* hex, from the container header */
    char format[32];           /* "sealpub-v1" */
    char created_at[40];       /* ISO 8601 UTC, set by the backend */
} sp_row;

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
    void (*close)(void *impl);
} sp_registry_ops;

typedef struct sp_registry {
    const sp_registry_ops *ops;
    void *impl;
    char desc[SP_OBJECT_KEY_MAX]; /* printable, never a password */
} sp_registry;

/* url NULL/"": $SEALPUB_REGISTRY, else $DATABASE_URL (postgres), else
 * sqlite://<default home>/registry.db. "sqlite://PATH", "postgres://...",
 * "postgresql://...", or a libpq conninfo ("host=... dbname=..."). */
sp_status sp_registry_open(const char *url, sp_registry *reg, sp_error *err);
void sp_registry_close(sp_registry *reg);

sp_status sp_registry_sqlite_open(const char *path, sp_registry *reg, sp_error *err);
sp_status sp_registry_pg_open(const char *conninfo, sp_registry *reg, sp_error *err);

#endif
