/* pg_link.h: whether a PostgreSQL link may carry an unwrapped key, and the TLS default that protects one. */
#ifndef SP_PG_LINK_H
#define SP_PG_LINK_H

#include <libpq-fe.h>

#include "common/sp_common.h"

/*
 * The policy (docs/SECURITY.md "Keys and the registry"):
 * - A link is local when it is a unix socket, or TCP to a loopback address
 *   (127.0.0.0/8, ::1) unless SEALPUB_REGISTRY_TRUST_LOOPBACK=0, which
 *   treats loopback like any remote host (for hosts where other users can
 *   bind a loopback port, and for tests that must exercise the remote rule).
 * - Before connecting: when neither the connection string, a service
 *   (service=, PGSERVICE) nor PGSSLMODE sets an sslmode and the target is not
 *   local, the caller passes sslmode=verify-full (libpq's default "prefer"
 *   falls back to cleartext, and an active attacker can force that).
 * - After connecting: a link that is neither local nor encrypted (TLS or
 *   GSSAPI) is "clear"; over it the registry refuses to send or receive a
 *   row whose key is unwrapped, unless SEALPUB_ALLOW_PLAINTEXT_REGISTRY=1:
 *   such a key is withheld by the server's own query (sp_pg_link_select)
 *   and the row is refused (sp_pg_link_check_key).
 * Every function reads the environment when called; none keeps state.
 */

/* Checks SEALPUB_REGISTRY_TRUST_LOOPBACK and SEALPUB_ALLOW_PLAINTEXT_REGISTRY
 * (unset, "", "0" or "1"; anything else is SP_ERR_USAGE). */
sp_status sp_pg_link_check_env(sp_error *err) SP_MUST_USE;

/* 1 when the parsed options (PQconninfoParse) and the environment set no
 * sslmode and name a target that is not local: then connect with
 * sslmode=verify-full. */
int sp_pg_link_wants_verify_full(const PQconninfoOption *opts);

/* 1 when the connected link is clear (see above) and cleartext keys are not
 * allowed explicitly. */
int sp_pg_link_is_clear(PGconn *conn);

/* The SELECT to run over conn: sql itself on a link that may carry keys;
 * on a clear link, a copy in buf (cap bytes) in which the encryption_key
 * column of PG_COLUMNS reads '' for rows whose key is unwrapped, so such a
 * key is never sent (the caller then refuses the row with
 * sp_pg_link_check_key). NULL if sql has no such column or buf is too small. */
const char *sp_pg_link_select(PGconn *conn, const char *sql, char *buf, size_t cap);

/* SP_ERR_USAGE with SP_REGISTRY_CLEAR_LINK_MSG when key_wrap says the key is
 * unwrapped ("none" or "") and the link is clear. */
sp_status sp_pg_link_check_key(PGconn *conn, const char *key_wrap, sp_error *err) SP_MUST_USE;

#endif
