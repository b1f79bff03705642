/* pg_link.c: whether a PostgreSQL link may carry an unwrapped key, and the TLS default that protects one. */
#include <arpa/inet.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "registry/pg_link.h"
#include "registry/registry.h"

/* 0 or 1 from an optional 0/1 variable; dflt when unset or empty; -1 when invalid. */
static int env_flag(const char *name, int dflt)
{
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    if (strcmp(v, "0") == 0) return 0;
    if (strcmp(v, "1") == 0) return 1;
    return -1;
}

sp_status sp_pg_link_check_env(sp_error *err)
{
    static const char *const names[] = {"SEALPUB_REGISTRY_TRUST_LOOPBACK", "SEALPUB_ALLOW_PLAINTEXT_REGISTRY"};
    for (size_t i = 0; i < SP_ARRAY_LEN(names); i++)
        if (env_flag(names[i], 0) < 0) return sp_fail(err, SP_ERR_USAGE, "%s must be 0 or 1", names[i]);
    return SP_OK;
}

static int trust_loopback(void)
{
    return env_flag("SEALPUB_REGISTRY_TRUST_LOOPBACK", 1) == 1;
}

/* One entry of libpq's comma-separated host or hostaddr list. */
static int target_is_local(const char *h, size_t n)
{
    char buf[256];
    if (n == 0) return 1; /* empty: libpq's default unix socket */
    if (h[0] == '/' || h[0] == '@') return 1; /* a socket directory, or an abstract socket */
    if (n >= sizeof(buf) || !trust_loopback()) return 0;
    memcpy(buf, h, n);
    buf[n] = '\0';
    if (strcmp(buf, "localhost") == 0) return 1; /* what it resolved to is checked again after connecting */
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, buf, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, buf, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

static int list_is_local(const char *list)
{
    if (!list) return 1;
    for (;;) {
        size_t n = strcspn(list, ",");
        if (!target_is_local(list, n)) return 0;
        if (!list[n]) return 1;
        list += n + 1;
    }
}

static const char *opt(const PQconninfoOption *opts, const char *key)
{
    for (const PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, key) == 0 && o->val && *o->val) return o->val;
    return NULL;
}

static const char *opt_or_env(const PQconninfoOption *opts, const char *key, const char *env)
{
    const char *v = opt(opts, key);
    if (!v) v = getenv(env);
    return v && *v ? v : NULL;
}

int sp_pg_link_wants_verify_full(const PQconninfoOption *opts)
{
    /* A mode chosen anywhere, or a service file that may choose one, is the user's. */
    if (opt_or_env(opts, "sslmode", "PGSSLMODE") || opt_or_env(opts, "service", "PGSERVICE")) return 0;
    /* libpq connects to hostaddr when it is given, host only names it. */
    const char *addr = opt_or_env(opts, "hostaddr", "PGHOSTADDR");
    return !list_is_local(addr ? addr : opt_or_env(opts, "host", "PGHOST"));
}

/* The address actually connected, not the name asked for. */
static int peer_is_local(PGconn *conn)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = PQsocket(conn);
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0) return 0;
    if (ss.ss_family == AF_UNIX) return 1;
    if (!trust_loopback()) return 0;
    if (ss.ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

int sp_pg_link_is_clear(PGconn *conn)
{
    if (env_flag("SEALPUB_ALLOW_PLAINTEXT_REGISTRY", 0) == 1) return 0;
    if (PQsslInUse(conn) || PQgssEncInUse(conn)) return 0;
    return !peer_is_local(conn);
}

sp_status sp_pg_link_check_key(PGconn *conn, const char *key_wrap, sp_error *err)
{
    int unwrapped = !key_wrap || !*key_wrap || strcmp(key_wrap, "none") == 0;
    if (unwrapped && sp_pg_link_is_clear(conn)) return sp_fail(err, SP_ERR_USAGE, "%s", SP_REGISTRY_CLEAR_LINK_MSG);
    return SP_OK;
}

const char *sp_pg_link_select(PGconn *conn, const char *sql, char *buf, size_t cap)
{
    if (!sp_pg_link_is_clear(conn)) return sql;
    /* The key column as PG_COLUMNS (registry_pg.c) spells it in a SELECT. */
    static const char col[] = "plain_size, encryption_key, key_wrap";
    static const char keyless[] =
        "plain_size, CASE WHEN key_wrap IN ('none', '') THEN '' ELSE encryption_key END AS encryption_key, key_wrap";
    const char *at = strstr(sql, col);
    if (!at) return NULL;
    int n = snprintf(buf, cap, "%.*s%s%s", (int)(at - sql), sql, keyless, at + sizeof(col) - 1);
    return n >= 0 && (size_t)n < cap ? buf : NULL;
}
