/* docker_engine.c: talks to the Docker Engine API over its unix socket: DOCKER_HOST, version negotiation, error lines. */
#include "source/docker_engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/json.h"

/*
 * The docker CLI and the engine agree on an API version per request: the
 * path starts with /vX.Y, and an engine refuses versions outside its range
 * ("client version 1.41 is too old" from Engine 29.0 on). A client with a
 * fixed version breaks whenever the engine moves its floor or ceiling, so we
 * ask the engine which version it speaks and use that, capped at the newest
 * one whose requests we know (images/get and images/load have not changed
 * since long before 1.24). DOCKER_API_VERSION pins it, as it does for the
 * docker CLI; the engine then refuses a version it does not speak, and that
 * refusal is reported as such.
 */

#define DEFAULT_HOST "unix:///var/run/docker.sock"
#define API_MIN_MAJOR 1
#define API_MIN_MINOR 24
#define API_MAX "1.52"
#define API_MAX_MAJOR 1
#define API_MAX_MINOR 52
#define SMALL_BODY_MAX (1u << 20)
#define CONNECT_TIMEOUT_S 10L

struct sp_docker {
    char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char api[16];
    volatile const int *cancel;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

const char *sp_docker_socket(const sp_docker *d) { return d->socket; }
const char *sp_docker_api_version(const sp_docker *d) { return d->api; }

int sp_docker_ref_ok(const char *ref)
{
    size_t n = ref ? strlen(ref) : 0;
    if (n == 0 || n > 512 || ref[0] == '-' || ref[0] == '/') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = ref[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("._/:@-", c)))
            return 0;
    }
    return 1;
}

/* "1.41" -> 1, 41; anything else is -1. */
static int parse_version(const char *v, int *major, int *minor)
{
    char *end;
    if (!v || *v < '0' || *v > '9') return -1;
    long a = strtol(v, &end, 10);
    if (*end != '.' || end[1] < '0' || end[1] > '9') return -1;
    long b = strtol(end + 1, &end, 10);
    if (*end || a > 99 || b > 999) return -1;
    *major = (int)a;
    *minor = (int)b;
    return 0;
}

static sp_status parse_host(sp_docker *d, sp_error *err)
{
    const char *host = getenv("DOCKER_HOST");
    if (!host || !*host) host = DEFAULT_HOST;
    if (strncmp(host, "unix://", 7) != 0) {
        const char *colon = strstr(host, "://");
        return sp_fail(err, SP_ERR_USAGE,
                       "DOCKER_HOST=%.*s://...: only unix:// sockets are supported (no TLS client for tcp://); "
                       "reach the engine through its socket",
                       colon ? (int)(colon - host) : 0, colon ? host : "");
    }
    const char *path = host + 7;
    if (path[0] != '/') return sp_fail(err, SP_ERR_USAGE, "DOCKER_HOST %s: the socket path must be absolute", host);
    if (sp_strlcpy(d->socket, path, sizeof(d->socket)) != 0)
        return sp_fail(err, SP_ERR_USAGE, "DOCKER_HOST: socket path longer than %zu bytes", sizeof(d->socket) - 1);
    return SP_OK;
}

/* One plain connect() tells the cases apart by errno, which curl would fold
 * into "couldn't connect". */
static sp_status probe_socket(const sp_docker *d, sp_error *err)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return sp_fail(err, SP_ERR_IO, "docker engine: socket: %s", strerror(errno));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, d->socket, strlen(d->socket) + 1);
    int r;
    do r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    while (r != 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (r == 0) return SP_OK;
    switch (e) {
    case ENOENT:
        return sp_fail(err, SP_ERR_INPUT, "docker engine is not running: no socket at %s (set DOCKER_HOST=unix://PATH)",
                       d->socket);
    case ECONNREFUSED:
        return sp_fail(err, SP_ERR_INPUT, "docker engine is not running: connection refused on %s", d->socket);
    case EACCES:
    case EPERM:
        return sp_fail(err, SP_ERR_INPUT,
                       "permission denied on the docker socket %s (run as a user in its group, e.g. docker)",
                       d->socket);
    default:
        return sp_fail(err, SP_ERR_INPUT, "docker engine at %s: cannot connect: %s", d->socket, strerror(e));
    }
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    const sp_docker *d = ctx;
    return d->cancel && __atomic_load_n(d->cancel, __ATOMIC_RELAXED) ? 1 : 0;
}

/* The host part of the URL is ignored on a unix socket; "docker" is what the CLI sends. */
static CURL *new_handle(sp_docker *d, const char *url, char *errbuf, sp_error *err)
{
    CURL *e = curl_easy_init();
    if (!e) {
        sp_fail(err, SP_ERR_NOMEM, "out of memory (curl_easy_init)");
        return NULL;
    }
    errbuf[0] = 0;
    if (curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, d->socket) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_XFERINFODATA, d) != CURLE_OK) {
        curl_easy_cleanup(e);
        sp_fail(err, SP_ERR_INTERNAL, "docker engine: curl refused an option");
        return NULL;
    }
    return e;
}

CURL *sp_docker_handle(sp_docker *d, const char *path, char *errbuf, sp_error *err)
{
    char url[1200];
    if ((size_t)snprintf(url, sizeof(url), "http://docker/v%s%s", d->api, path) >= sizeof(url)) {
        sp_fail(err, SP_ERR_USAGE, "docker engine: request path too long");
        return NULL;
    }
    return new_handle(d, url, errbuf, err);
}

size_t sp_docker_body_write(char *ptr, size_t size, size_t n, void *ctx)
{
    sp_docker_body *b = ctx;
    size_t len = size * n;
    if (b->len + len > SMALL_BODY_MAX) {
        b->too_big = 1;
        return b->keep_reading ? len : 0;
    }
    char *p = realloc(b->data, b->len + len + 1);
    if (!p) return 0;
    memcpy(p + b->len, ptr, len);
    b->data = p;
    b->len += len;
    p[b->len] = 0;
    return len;
}

struct ping {
    char api[16];
};

static size_t on_header(char *ptr, size_t size, size_t n, void *ctx)
{
    struct ping *pg = ctx;
    size_t len = size * n;
    static const char name[] = "api-version:";
    if (len > sizeof(name) - 1 && strncasecmp(ptr, name, sizeof(name) - 1) == 0) {
        const char *v = ptr + sizeof(name) - 1;
        size_t vl = len - (sizeof(name) - 1);
        while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
        if (vl < sizeof(pg->api)) {
            memcpy(pg->api, v, vl);
            pg->api[vl] = 0;
        }
    }
    return len;
}

/* GET of an absolute path (no /vX.Y), for /_ping and /version. */
static sp_status get_raw(sp_docker *d, const char *path, struct ping *pg, long *code, char **body, sp_error *err)
{
    char errbuf[CURL_ERROR_SIZE], url[64];
    sp_docker_body b = {0};
    snprintf(url, sizeof(url), "http://docker%s", path);
    CURL *e = new_handle(d, url, errbuf, err);
    if (!e) return err->status;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sp_docker_body_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    if (pg) {
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, pg);
    }
    CURLcode rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, code);
    curl_easy_cleanup(e);
    if (rc != CURLE_OK) {
        free(b.data);
        char what[100];
        snprintf(what, sizeof(what), "GET %s", path);
        return sp_docker_transfer_error(d, what, rc, errbuf, SP_ERR_INPUT, err);
    }
    *body = b.data;
    return SP_OK;
}

sp_status sp_docker_get(sp_docker *d, const char *path, long *code, char **body, sp_error *err)
{
    char errbuf[CURL_ERROR_SIZE];
    sp_docker_body b = {0};
    *body = NULL;
    CURL *e = sp_docker_handle(d, path, errbuf, err);
    if (!e) return err->status;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sp_docker_body_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, code);
    curl_easy_cleanup(e);
    if (rc != CURLE_OK) {
        free(b.data);
        if (b.too_big) return sp_fail(err, SP_ERR_INPUT, "docker engine at %s: answer to GET %s over 1 MiB", d->socket, path);
        char what[600];
        snprintf(what, sizeof(what), "GET %.500s", path);
        return sp_docker_transfer_error(d, what, rc, errbuf, SP_ERR_INPUT, err);
    }
    *body = b.data;
    return SP_OK;
}

sp_status sp_docker_http_error(const sp_docker *d, const char *what, long code, const char *body, sp_error *err)
{
    char msg[300] = "";
    if (body && sp_json_string(sp_json_member(body, "message"), msg, sizeof(msg)) != 0) {
        /* Not the engine's JSON: the first line of whatever it was. */
        size_t n = strcspn(body, "\r\n");
        snprintf(msg, sizeof(msg), "%.*s", (int)(n < 200 ? n : 200), body);
    }
    if (code == 400 && (strstr(msg, "client version") || strstr(msg, "API version")))
        return sp_fail(err, SP_ERR_INPUT, "docker engine at %s refused API version %s: %s", d->socket, d->api, msg);
    return sp_fail(err, SP_ERR_INPUT, "docker engine at %s: %s: HTTP %ld%s%s", d->socket, what, code,
                   *msg ? ": " : "", msg);
}

sp_status sp_docker_transfer_error(const sp_docker *d, const char *what, CURLcode rc, const char *errbuf,
                                   sp_status status, sp_error *err)
{
    if (rc == CURLE_ABORTED_BY_CALLBACK && d->cancel && __atomic_load_n(d->cancel, __ATOMIC_RELAXED))
        return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted");
    return sp_fail(err, status, "docker engine at %s: %s failed: %s", d->socket, what,
                   errbuf && *errbuf ? errbuf : curl_easy_strerror(rc));
}

/* DOCKER_API_VERSION, checked before anything is connected to. */
static sp_status read_pin(sp_docker *d, sp_error *err)
{
    int major, minor;
    const char *pin = getenv("DOCKER_API_VERSION");
    if (!pin || !*pin) return SP_OK;
    if (parse_version(pin, &major, &minor) != 0)
        return sp_fail(err, SP_ERR_USAGE, "DOCKER_API_VERSION=%.20s: expected a version like 1.41", pin);
    snprintf(d->api, sizeof(d->api), "%d.%d", major, minor);
    return SP_OK;
}

static sp_status negotiate(sp_docker *d, sp_error *err)
{
    int major, minor;
    if (d->api[0]) return SP_OK; /* pinned */
    struct ping pg = {{0}};
    long code = 0;
    char *body = NULL;
    SP_TRY(get_raw(d, "/_ping", &pg, &code, &body, err));
    free(body);
    body = NULL;
    if (code != 200) return sp_docker_http_error(d, "GET /_ping", code, NULL, err);
    if (!pg.api[0]) {
        /* Engines older than 1.25 send no Api-Version header: ask /version. */
        SP_TRY(get_raw(d, "/version", NULL, &code, &body, err));
        if (code == 200) sp_json_string(sp_json_member(body, "ApiVersion"), pg.api, sizeof(pg.api));
        free(body);
    }
    if (parse_version(pg.api, &major, &minor) != 0)
        return sp_fail(err, SP_ERR_INPUT, "docker engine at %s did not say which API version it speaks", d->socket);
    if (major < API_MIN_MAJOR || (major == API_MIN_MAJOR && minor < API_MIN_MINOR))
        return sp_fail(err, SP_ERR_INPUT, "docker engine at %s speaks API %s; sealpub needs %d.%d or newer", d->socket,
                       pg.api, API_MIN_MAJOR, API_MIN_MINOR);
    if (major > API_MAX_MAJOR || (major == API_MAX_MAJOR && minor > API_MAX_MINOR))
        snprintf(d->api, sizeof(d->api), "%s", API_MAX);
    else
        snprintf(d->api, sizeof(d->api), "%d.%d", major, minor);
    return SP_OK;
}

sp_status sp_docker_connect(volatile const int *cancel, sp_docker **out, sp_error *err)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return sp_fail(err, SP_ERR_INTERNAL, "curl_global_init: %s", curl_easy_strerror(curl_init_rc));
    sp_docker *d = calloc(1, sizeof(*d));
    if (!d) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    d->cancel = cancel;
    sp_status s = parse_host(d, err);
    if (s == SP_OK) s = read_pin(d, err);
    if (s == SP_OK) s = probe_socket(d, err);
    if (s == SP_OK) s = negotiate(d, err);
    if (s != SP_OK) {
        free(d);
        return s;
    }
    *out = d;
    return SP_OK;
}

void sp_docker_free(sp_docker *d) { free(d); }
