/* registry.c: picks the registry backend from a URL or the environment. */
#include <stdio.h>
#include <stdlib.h>

#include "registry/registry.h"

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
    if (!url || !*url) url = getenv("SEALPUB_REGISTRY");
    if (!url || !*url) url = getenv("DATABASE_URL");
    if (!url || !*url) {
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
