/* sp_common.h: internal helpers every library module may use (errors, bytes, secrets). */
#ifndef SP_COMMON_H
#define SP_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sealpub/sealpub.h"

#define SP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Sets err (may be NULL) and returns status, with err->retryable set when
 * the same call may succeed later (connection refused/reset, timeout, 5xx;
 * SP_ERR_BUSY and SP_ERR_INTERRUPTED always are). Failures read
 *   return sp_fail(err, SP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
 *   return sp_fail_retry(err, SP_ERR_STORE, "...");
 *   return sp_fail_as(err, SP_ERR_STORE, transient, "..."); */
sp_status sp_fail_as(sp_error *err, sp_status status, int retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define sp_fail(err, status, ...) sp_fail_as((err), (status), 0, __VA_ARGS__)
#define sp_fail_retry(err, status, ...) sp_fail_as((err), (status), 1, __VA_ARGS__)
/* Starts up to n threads running fn(arg) with SIGINT and SIGTERM blocked in
 * them, so that signals reach the calling thread; returns how many started
 * (th[0..returned) must be joined). */
#include <pthread.h>
unsigned sp_start_workers(pthread_t *th, unsigned n, void *(*fn)(void *), void *arg);
/* Appends OpenSSL's queued error text (and clears the queue). */
sp_status sp_fail_openssl(sp_error *err, sp_status status, const char *what);

/* Guard macro: propagate a non-OK status, keeping the happy path linear. */
#define SP_TRY(expr)                          \
    do {                                      \
        sp_status sp_try_s_ = (expr);         \
        if (sp_try_s_ != SP_OK) return sp_try_s_; \
    } while (0)

static inline void sp_put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void sp_put_le32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline void sp_put_le64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline uint16_t sp_get_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t sp_get_le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t sp_get_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Lower-case hex; out must hold 2*len+1. */
void sp_hex(const uint8_t *in, size_t len, char *out);
/* Strict hex decode of exactly 2*len digits; returns 0 on success. */
int sp_unhex(const char *in, uint8_t *out, size_t len);
/* Standard base64 with padding; out must hold 4*ceil(len/3)+1. */
void sp_b64_encode(const uint8_t *in, size_t len, char *out);
/* Decodes standard base64 (whitespace ignored); returns decoded length or -1. */
long sp_b64_decode(const char *in, uint8_t *out, size_t cap);

/* Secret memory: wiped with OPENSSL_cleanse on free, mlock'ed and marked
 * MADV_DONTDUMP where the OS allows (failures there are not errors). That
 * covers only these pages: AES key schedules and other copies live in
 * OpenSSL's, libpq's and libcurl's heap, so a process that handles keys
 * calls sp_disable_core_dumps() (the CLI does, first thing in main). */
void *sp_secret_alloc(size_t len);
void sp_secret_free(void *p, size_t len);

/* strlcpy-like: always terminates; returns 0 if it fitted, -1 if truncated. */
int sp_strlcpy(char *dst, const char *src, size_t cap);

/* Monotonic seconds. */
double sp_now(void);

#endif
