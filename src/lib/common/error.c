/* error.c: the status table and the helpers that fill an sp_error. */
#include <openssl/err.h>
#include <stdio.h>

#include "common/sp_common.h"

static const struct {
    const char *name;
    int exit_code;
} status_table[SP_STATUS_COUNT] = {
    [SP_OK] = {"ok", 0},
    [SP_ERR_USAGE] = {"usage error", 2},
    [SP_ERR_INPUT] = {"bad input", 3},
    [SP_ERR_IO] = {"I/O error", 4},
    [SP_ERR_NOMEM] = {"out of memory", 4},
    [SP_ERR_CRYPTO] = {"crypto library error", 10},
    [SP_ERR_FORMAT] = {"not a valid sealpub container", 5},
    [SP_ERR_AUTH] = {"authentication failed", 6},
    [SP_ERR_TRUNCATED] = {"container truncated", 6},
    [SP_ERR_STORE] = {"store error", 7},
    [SP_ERR_REGISTRY] = {"registry error", 8},
    [SP_ERR_EXISTS] = {"resource exists", 9},
    [SP_ERR_NOT_FOUND] = {"not found", 11},
    [SP_ERR_INTERRUPTED] = {"interrupted", 130},
    [SP_ERR_INTERNAL] = {"internal error", 70},
    [SP_ERR_BUSY] = {"identity busy", 14},
};

/* Retryable store and registry failures get codes of their own, so that a
 * script can retry exactly those (docs/CLI.md). */
#define EXIT_STORE_RETRY 12
#define EXIT_REGISTRY_RETRY 13

const char *sp_status_name(sp_status s)
{
    if ((unsigned)s >= SP_STATUS_COUNT) return "unknown status";
    return status_table[s].name;
}

int sp_status_exit_code(sp_status s)
{
    if ((unsigned)s >= SP_STATUS_COUNT) return 70;
    return status_table[s].exit_code;
}

int sp_error_exit_code(const sp_error *e)
{
    if (!e) return 70;
    if (e->retryable && e->status == SP_ERR_STORE) return EXIT_STORE_RETRY;
    if (e->retryable && e->status == SP_ERR_REGISTRY) return EXIT_REGISTRY_RETRY;
    return sp_status_exit_code(e->status);
}

const char *sp_version(void) { return SEALPUB_VERSION; }

/* The one writer of an sp_error. */
sp_status sp_fail_as(sp_error *err, sp_status status, int retryable, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->status = status;
        err->retryable = retryable || status == SP_ERR_BUSY || status == SP_ERR_INTERRUPTED;
    }
    return status;
}

sp_status sp_fail_openssl(sp_error *err, sp_status status, const char *what)
{
    char detail[256] = "no detail";
    unsigned long e = ERR_get_error();
    if (e) ERR_error_string_n(e, detail, sizeof(detail));
    ERR_clear_error();
    return sp_fail(err, status, "%s: %s", what, detail);
}
