/* docker_engine.h: a minimal Docker Engine API client over its unix socket: where, which API version, what failed. */
#ifndef SP_DOCKER_ENGINE_H
#define SP_DOCKER_ENGINE_H

#include <curl/curl.h>

#include "common/sp_common.h"

/* One engine connection's settings; used by one thread at a time. */
typedef struct sp_docker sp_docker;

/* Reads DOCKER_HOST (default unix:///var/run/docker.sock; only unix:// is
 * supported: tcp:// would need TLS client certificates, refused with
 * SP_ERR_USAGE) and DOCKER_API_VERSION (pins the API version, as the docker
 * CLI does; else it is negotiated: the engine's own version from the
 * Api-Version header of GET /_ping, or GET /version, capped at the newest
 * one this client knows). Connects once first, so that an engine that is not
 * running or a socket we may not open is one clear SP_ERR_INPUT line.
 * cancel (may be NULL) ends waits with SP_ERR_INTERRUPTED. */
SP_MUST_USE sp_status sp_docker_connect(volatile const int *cancel, sp_docker **out, sp_error *err);
void sp_docker_free(sp_docker *d);

/* The socket path, for messages. */
const char *sp_docker_socket(const sp_docker *d);
/* "1.41": the API version every request uses. */
const char *sp_docker_api_version(const sp_docker *d);

/* A new easy handle for http://docker/vX.Y<path> on the engine's socket,
 * with an error buffer of CURL_ERROR_SIZE bytes (errbuf) and a progress
 * callback that aborts the transfer when *cancel becomes non-zero. NULL and
 * SP_ERR_NOMEM if curl cannot make one. */
CURL *sp_docker_handle(sp_docker *d, const char *path, char *errbuf, sp_error *err);

/* An answer gathered in memory, NUL-terminated, up to 1 MiB; past that
 * too_big is set and, with keep_reading, the rest is read and dropped
 * (else the transfer stops there). sp_docker_body_write is its
 * CURLOPT_WRITEFUNCTION, the body its CURLOPT_WRITEDATA; free data after. */
typedef struct sp_docker_body {
    char *data;
    size_t len;
    int too_big, keep_reading;
} sp_docker_body;
size_t sp_docker_body_write(char *ptr, size_t size, size_t n, void *ctx);

/* GET path and keep the body (at most 1 MiB, NUL-terminated, caller frees). */
SP_MUST_USE sp_status sp_docker_get(sp_docker *d, const char *path, long *code, char **body, sp_error *err);

/* A non-2xx answer as one line: "docker engine at SOCK: WHAT: HTTP 500: message",
 * with the engine's refusal of our API version named as such. */
SP_MUST_USE sp_status sp_docker_http_error(const sp_docker *d, const char *what, long code, const char *body,
                                           sp_error *err);

/* A failed transfer (rc from curl) as one line naming what was going on;
 * a cancelled one is SP_ERR_INTERRUPTED. */
SP_MUST_USE sp_status sp_docker_transfer_error(const sp_docker *d, const char *what, CURLcode rc, const char *errbuf,
                                               sp_status status, sp_error *err);

/* Whether a docker reference is plain enough to put into a URL path:
 * [A-Za-z0-9._/:@-], 1..512 bytes, not starting with '-' or '/'. */
int sp_docker_ref_ok(const char *ref);

#endif
