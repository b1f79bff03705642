/* test_s3_faults.c: the S3 store's retries, stall cuts and failure paths against the real radosgw, through tests/faults/fault_proxy.py. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store_helpers.h"
#include "store/s3_private.h"
#include "store/store.h"
#include "store/store_s3.h"
#include "skip.h"

/* The server's coordinates survive tests/unit/hermetic.c's clearing. */
const char *const sp_test_env_keep[] = {"AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                        "AWS_REGION", "AWS_CA_BUNDLE", "SEALPUB_TEST_S3", NULL};

/*
 * Each test starts its own fault_proxy.py between the store and the real
 * S3 gateway of scripts/services.sh (AWS_ENDPOINT_URL_S3, SEALPUB_TEST_S3),
 * points AWS_ENDPOINT_URL_S3 at the proxy, writes the proxy's rules, and
 * asserts both on what the store returns and on the proxy's log of what
 * really went over the wire. Nothing here fakes the server: every answer
 * that is not an injected fault is radosgw's own. Without the services the
 * tests are skipped, with the reason, unless SEALPUB_REQUIRE_SERVICES=1.
 *
 * These replace the in-process fake server that test_s3.c used to carry.
 * The unreachable endpoint is test_s3_live.c's (no proxy needed).
 */

#define MiB ((size_t)1 << 20)
#define PROXY_PY SP_TEST_DATA "/../faults/fault_proxy.py"

static struct {
    char dir[64];
    char rules[128], log[128], port_file[128];
    char upstream[512];
    char base_url[1024]; /* SEALPUB_TEST_S3 plus a prefix unique to this test */
    pid_t pid;
    pid_t tls_pid; /* socat, the https front of tls_front() */
} P;

/* Skips (or, under SEALPUB_REQUIRE_SERVICES=1, fails) without the services;
 * else starts the proxy and points the store at it. */
static void start(void)
{
    const char *ep = getenv("AWS_ENDPOINT_URL_S3"), *url = getenv("SEALPUB_TEST_S3");
    if (!ep || !*ep || !url || !*url) {
        SP_SKIP_OR_FAIL("no S3 service configured (AWS_ENDPOINT_URL_S3 and SEALPUB_TEST_S3 unset; "
                        "scripts/services.sh start writes them)");
    }
    snprintf(P.upstream, sizeof(P.upstream), "%s", ep);
    size_t n = strlen(url);
    while (n && url[n - 1] == '/') n--;
    snprintf(P.base_url, sizeof(P.base_url), "%.*s/test-s3-faults-%ld-%d", (int)n, url, (long)time(NULL),
             (int)getpid());

    snprintf(P.dir, sizeof(P.dir), "/tmp/sealpub-faults-XXXXXX");
    cr_assert_not_null(mkdtemp(P.dir));
    snprintf(P.rules, sizeof(P.rules), "%s/rules.json", P.dir);
    snprintf(P.log, sizeof(P.log), "%s/proxy.jsonl", P.dir);
    snprintf(P.port_file, sizeof(P.port_file), "%s/port", P.dir);
    FILE *f = fopen(P.rules, "w");
    cr_assert_not_null(f);
    fputs("{\"tag\": \"t\", \"rules\": []}\n", f);
    fclose(f);

    P.pid = fork();
    cr_assert_geq(P.pid, 0);
    if (P.pid == 0) {
        /* The proxy dies with the test, however the test ends. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        /* The port comes through the file; its stdout copy is not needed. */
        if (!freopen("/dev/null", "w", stdout)) _exit(127);
        execlp("python3", "python3", PROXY_PY, "serve", "--upstream", P.upstream, "--rules", P.rules, "--log", P.log,
               "--port-file", P.port_file, "--forbid-env", "AWS_SECRET_ACCESS_KEY", (char *)NULL);
        _exit(127);
    }
    int port = 0;
    for (int i = 0; i < 200 && !port; i++) {
        FILE *pf = fopen(P.port_file, "r");
        if (pf) {
            if (fscanf(pf, "%d", &port) != 1) port = 0;
            fclose(pf);
        }
        if (!port) usleep(50 * 1000);
    }
    cr_assert_gt(port, 0, "fault_proxy.py did not start (python3 on PATH? %s)", PROXY_PY);
    char proxy[64];
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", port);
    setenv("AWS_ENDPOINT_URL_S3", proxy, 1);
    setenv("SEALPUB_S3_PART_SIZE", "5M", 1);
    setenv("SEALPUB_S3_PARTS_IN_FLIGHT", "3", 1);
    setenv("SEALPUB_S3_MAX_ATTEMPTS", "3", 1);
    unsetenv("SEALPUB_S3_STALL_SECONDS");
}

static void stop(void)
{
    if (P.tls_pid > 0) {
        kill(P.tls_pid, SIGTERM);
        waitpid(P.tls_pid, NULL, 0);
        P.tls_pid = 0;
        unsetenv("AWS_CA_BUNDLE");
    }
    if (P.pid > 0) {
        kill(P.pid, SIGTERM);
        waitpid(P.pid, NULL, 0);
        P.pid = 0;
    }
    if (P.dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", P.dir);
        if (system(cmd) != 0) cr_log_warn("could not remove %s", P.dir);
        P.dir[0] = '\0';
    }
}

TestSuite(s3_faults, .fini = stop, .timeout = 240);

/* Replaces the proxy's rules (a JSON array); its counters start afresh. */
static void rules(const char *json)
{
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", P.rules);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fprintf(f, "{\"tag\": \"t\", \"rules\": %s}\n", json);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, P.rules), 0);
}

/* How many logged requests match the filters (fault_proxy.py count). */
static int proxy_count_now(const char *filters)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "python3 '%s' count '%s' %s", PROXY_PY, P.log, filters);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    int n = -1;
    if (fscanf(f, "%d", &n) != 1) n = -1;
    pclose(f);
    return n;
}

/* The proxy logs an exchange as it ends, a moment after the client has its
 * answer: poll briefly for the wanted count, return the last one seen. */
static int proxy_count(const char *filters, int want)
{
    int n = -1;
    for (int i = 0; i < 40; i++) {
        n = proxy_count_now(filters);
        if (n == want) break;
        usleep(50 * 1000);
    }
    return n;
}

/* proxy_count() with the filters made as printf makes them. */
static int proxy_countf(int want, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int proxy_countf(int want, const char *fmt, ...)
{
    char filters[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(filters, sizeof(filters), fmt, ap);
    va_end(ap);
    return proxy_count(filters, want);
}

/* Every request that went through the proxy was SigV4-signed, dated, carried
 * the real SHA-256 of its body and a Content-Length, was never chunked,
 * never carried the secret, and every GET had a Range. */
static void expect_protocol_clean(void)
{
    char cmd[1024], out[4096] = "";
    snprintf(cmd, sizeof(cmd), "python3 '%s' check '%s' 2>&1", PROXY_PY, P.log);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    int rc = pclose(f);
    cr_expect_eq(rc, 0, "protocol violations:\n%s", out);
}


static void expect_stored(sp_store *st, const char *key, const uint8_t *data, size_t n)
{
    sp_error err = {0};
    uint64_t size = 0;
    cr_assert_eq(st->ops->stat(st->impl, key, &size, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(size, n);
    if (!n) return;
    uint8_t *back = malloc(n);
    size_t half = n / 2;
    cr_assert_eq(st->ops->read_range(st->impl, key, 0, back, half, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(st->ops->read_range(st->impl, key, half, back + half, n - half, &err), SP_OK, "%s", err.msg);
    cr_expect(memcmp(back, data, n) == 0, "object %s differs", key);
    free(back);
}

static int count_upload(void *ctx, const sp_s3_upload_info *u)
{
    (*(int *)ctx)++;
    cr_expect(u->initiated > 0, "no Initiated date for %s", u->key);
    return 0;
}

static int uploads_left(const char *url)
{
    int n = 0;
    sp_error err = {0};
    cr_assert_eq(sp_s3_list_uploads(url, count_upload, &n, &err), SP_OK, "%s", err.msg);
    return n;
}

/* Puts an https front (socat, with a certificate made for the test) before
 * the proxy and points the store at it, so the store sees a TLS endpoint
 * while the proxy still reads every request. */
static void tls_front(void)
{
    char cmd[600], cert[160], key[160], to[64], listen[400];
    snprintf(cert, sizeof(cert), "%s/cert.pem", P.dir);
    snprintf(key, sizeof(key), "%s/key.pem", P.dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout '%s' -out '%s' 2>/dev/null",
             key, cert);
    cr_assert_eq(system(cmd), 0, "openssl could not make a test certificate");
    const char *proxy = getenv("AWS_ENDPOINT_URL_S3"), *colon = strrchr(proxy, ':');
    cr_assert_not_null(colon);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
    int port = ntohs(a.sin_port);
    close(s);
    snprintf(listen, sizeof(listen), "OPENSSL-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,cert=%s,key=%s,verify=0", port,
             cert, key);
    snprintf(to, sizeof(to), "TCP:127.0.0.1:%s", colon + 1);
    P.tls_pid = fork();
    cr_assert_geq(P.tls_pid, 0);
    if (P.tls_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        char log[160];
        snprintf(log, sizeof(log), "%s/socat.log", P.dir); /* the readiness probe's bare connects */
        if (!freopen(log, "w", stderr)) _exit(127);
        execlp("socat", "socat", listen, to, (char *)NULL);
        _exit(127);
    }
    int up = 0;
    for (int i = 0; i < 200 && !up; i++) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        up = connect(c, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(c);
        if (!up) usleep(25 * 1000);
    }
    cr_assert(up, "socat did not listen on 127.0.0.1:%d (is socat installed? scripts/install-deps.sh)", port);
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
    setenv("AWS_ENDPOINT_URL_S3", url, 1);
    setenv("AWS_CA_BUNDLE", cert, 1);
}

/* A test's store through the proxy, its URL, and the error of its last call. */
typedef struct {
    sp_store st;
    char url[1100];
    sp_error err;
} store_fx;

/* Opens the store under sub of this test's prefix ("": the prefix itself). */
static void open_store(store_fx *f, const char *sub)
{
    memset(&f->err, 0, sizeof(f->err));
    snprintf(f->url, sizeof(f->url), "%s%s%s", P.base_url, sub[0] ? "/" : "", sub);
    cr_assert_eq(sp_store_s3_open(f->url, &f->st, &f->err), SP_OK, "%s", f->err.msg);
}

/* start(), the proxy's rules (NULL: none), then the store under sub. */
static void start_store(store_fx *f, const char *rules_json, const char *sub)
{
    start();
    if (rules_json) rules(rules_json);
    open_store(f, sub);
}

/* Puts n bytes of sp_test_pattern(n, seed) as key, with the size hint
 * (UINT64_MAX: unknown), and asserts the put's status; returns the bytes
 * (the caller frees them). */
static uint8_t *put_pattern(store_fx *f, const char *key, size_t n, unsigned seed, uint64_t hint, sp_status want)
{
    uint8_t *d = sp_test_pattern(n, seed);
    cr_assert_eq(sp_test_put_object(&f->st, key, d, n, hint, &f->err), want, "%s: %s", key, f->err.msg);
    return d;
}

/* A failed upload left nothing: no object at key, no multipart upload open under the store's prefix. */
static void expect_nothing_left(store_fx *f, const char *key)
{
    uint64_t size = 0;
    cr_expect_eq(f->st.ops->stat(f->st.impl, key, &size, &f->err), SP_ERR_NOT_FOUND, "object %s left", key);
    cr_expect_eq(uploads_left(f->url), 0, "a multipart upload left under %s", f->url);
}

/* The base64 CRC32C of a part (from 1) of n bytes at d, in start()'s 5 MiB parts. */
static void part_crc32c(const uint8_t *d, size_t n, int part, char out[12])
{
    size_t off = (size_t)(part - 1) * 5 * MiB, len = n - off < 5 * MiB ? n - off : 5 * MiB;
    s3_crc32c_b64(s3_crc32c(0, d + off, len), out);
}

/* ================================================================== tests */

Test(s3_faults, round_trip_every_request_signed_and_sized)
{
    store_fx f, root;
    start_store(&f, NULL, "pre/fix");
    cr_expect(strstr(f.st.desc, "/pre/fix") && !strstr(f.st.desc, getenv("AWS_SECRET_ACCESS_KEY")), "%s", f.st.desc);
    size_t sizes[] = {0, 1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1, 16 * MiB + 3};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int known = 0; known < 2; known++) {
            char key[64];
            snprintf(key, sizeof(key), "obj-%zu-%d", sizes[i], known);
            uint8_t *d = put_pattern(&f, key, sizes[i], (unsigned)i, known ? sizes[i] : UINT64_MAX, SP_OK);
            expect_stored(&f.st, key, d, sizes[i]);
            free(d);
        }
    }
    /* At 5 MiB parts: 0..5 MiB is one PUT each; 5 MiB+1 two parts; 16 MiB+3 four. */
    cr_expect_eq(proxy_count("--op CreateMultipartUpload --status 200", 4), 4, "multipart uploads started");
    cr_expect_eq(proxy_count("--op UploadPart --status 200", 2 * (2 + 4)), 2 * (2 + 4), "parts");
    cr_expect_eq(proxy_count("--op PutObject --status 200", 8), 8, "single PUTs");
    cr_expect_eq(proxy_count("--op UploadPart,PutObject --action forward --status 503", 0), 0);
    cr_expect_eq(uploads_left(f.url), 0);
    /* Keys land under the prefix, without double slashes. */
    uint64_t size;
    open_store(&root, "");
    cr_expect_eq(root.st.ops->stat(root.st.impl, "pre/fix/obj-1-0", &size, &root.err), SP_OK, "%s", root.err.msg);
    sp_store_close(&root.st);
    expect_protocol_clean();
    sp_store_close(&f.st);
}

Test(s3_faults, stat_read_remove_semantics)
{
    store_fx f;
    start_store(&f, NULL, "");
    uint8_t *d = put_pattern(&f, "a/b", 1000, 7, 1000, SP_OK);
    uint64_t size;
    uint8_t buf[100];
    cr_expect_eq(f.st.ops->stat(f.st.impl, "missing", &size, &f.err), SP_ERR_NOT_FOUND);
    cr_expect_eq(f.st.ops->read_range(f.st.impl, "missing", 0, buf, 10, &f.err), SP_ERR_NOT_FOUND);
    cr_expect(strstr(f.err.msg, "NoSuchKey") && strstr(f.err.msg, "GetObject"), "%s", f.err.msg);
    cr_expect_eq(f.st.ops->read_range(f.st.impl, "a/b", 950, buf, 100, &f.err), SP_ERR_TRUNCATED, "%s", f.err.msg);
    cr_expect_eq(f.st.ops->read_range(f.st.impl, "a/b", 1000, buf, 1, &f.err), SP_ERR_TRUNCATED, "%s", f.err.msg);
    cr_expect_eq(f.st.ops->read_range(f.st.impl, "a/b", 10, buf, 0, &f.err), SP_OK);
    cr_assert_eq(f.st.ops->read_range(f.st.impl, "a/b", 900, buf, 100, &f.err), SP_OK, "%s", f.err.msg);
    cr_expect(memcmp(buf, d + 900, 100) == 0);
    cr_expect_eq(f.st.ops->remove(f.st.impl, "a/b", &f.err), SP_OK, "%s", f.err.msg);
    cr_expect_eq(f.st.ops->remove(f.st.impl, "a/b", &f.err), SP_OK, "absent is not an error: %s", f.err.msg);
    cr_expect_eq(f.st.ops->stat(f.st.impl, "a/b", &size, &f.err), SP_ERR_NOT_FOUND);
    cr_expect_eq(f.st.ops->stat(f.st.impl, "/abs", &size, &f.err), SP_ERR_USAGE);
    cr_expect_eq(f.st.ops->stat(f.st.impl, "a//b", &size, &f.err), SP_ERR_USAGE);
    expect_protocol_clean();
    free(d);
    sp_store_close(&f.st);
}

Test(s3_faults, retries_throttling_and_5xx_then_succeeds)
{
    store_fx f;
    start_store(&f,
                "[{\"op\": \"UploadPart\", \"part\": 2, \"times\": 2, \"action\": \"error\", \"status\": 500, "
                "\"code\": \"InternalError\"},"
                " {\"op\": \"UploadPart\", \"part\": 1, \"times\": 1, \"action\": \"error\", \"status\": 503, "
                "\"code\": \"SlowDown\"}]",
                "");
    size_t n = 12 * MiB;
    uint8_t *d = put_pattern(&f, "retried", n, 3, UINT64_MAX, SP_OK);
    expect_stored(&f.st, "retried", d, n);
    cr_expect_eq(proxy_count("--op UploadPart --part 1 --action error --status 503", 1), 1, "one SlowDown on part 1");
    cr_expect_eq(proxy_count("--op UploadPart --part 2 --action error --status 500", 2), 2, "two 500s on part 2");
    cr_expect_eq(proxy_count("--op UploadPart --part 2", 3), 3, "part 2 sent three times");
    cr_expect_eq(proxy_count("--op UploadPart --part 2 --action forward --status 200", 1), 1, "and accepted once");
    expect_protocol_clean();
    free(d);
    sp_store_close(&f.st);
}

Test(s3_faults, complete_200_with_error_body_is_retried)
{
    store_fx f;
    start_store(&f,
                "[{\"op\": \"CompleteMultipartUpload\", \"times\": 1, \"action\": \"error\", \"status\": 200, "
                "\"code\": \"InternalError\"}]",
                "");
    size_t n = 11 * MiB;
    uint8_t *d = put_pattern(&f, "late-error", n, 4, n, SP_OK);
    cr_expect_eq(proxy_count("--op CompleteMultipartUpload", 2), 2);
    cr_expect_eq(proxy_count("--op CompleteMultipartUpload --action forward --status 200", 1), 1);
    expect_stored(&f.st, "late-error", d, n);
    free(d);
    sp_store_close(&f.st);
}

Test(s3_faults, complete_200_with_fatal_error_fails_and_aborts)
{
    store_fx f;
    start_store(&f,
                "[{\"op\": \"CompleteMultipartUpload\", \"times\": 5, \"action\": \"error\", \"status\": 200, "
                "\"code\": \"InvalidPart\"}]",
                "");
    size_t n = 11 * MiB;
    uint8_t *d = put_pattern(&f, "bad-complete", n, 5, n, SP_ERR_STORE);
    cr_expect(strstr(f.err.msg, "CompleteMultipartUpload") && strstr(f.err.msg, "InvalidPart"), "%s", f.err.msg);
    cr_expect_eq(proxy_count("--op CompleteMultipartUpload", 1), 1, "a fatal code is not retried");
    cr_expect_eq(proxy_count("--op AbortMultipartUpload --action forward --status 204", 1), 1,
                 "the upload was aborted on the server");
    expect_nothing_left(&f, "bad-complete");
    free(d);
    sp_store_close(&f.st);
}

Test(s3_faults, complete_whose_answer_is_lost_still_commits)
{
    store_fx f;
    /* The server completes the upload; the client never hears of it and
     * sends Complete again. */
    start_store(&f, "[{\"op\": \"CompleteMultipartUpload\", \"times\": 1, \"action\": \"drop_response\"}]", "");
    size_t n = 11 * MiB;
    uint8_t *d = put_pattern(&f, "lost-answer", n, 6, n, SP_OK);
    cr_expect_eq(proxy_count("--op CompleteMultipartUpload --action drop_response --status 200", 1), 1);
    cr_expect_eq(proxy_count("--op CompleteMultipartUpload", 2), 2, "Complete was sent again");
    expect_stored(&f.st, "lost-answer", d, n);
    cr_expect_eq(uploads_left(f.url), 0);
    free(d);
    sp_store_close(&f.st);
}

Test(s3_faults, auth_errors_are_not_retried_and_read_clearly)
{
    store_fx f;
    start();
    /* radosgw's own 403: the secret is wrong, the signature does not match. */
    setenv("AWS_SECRET_ACCESS_KEY", "not-the-right-secret-key", 1);
    open_store(&f, "");
    uint8_t d[10] = {0};
    cr_expect_eq(sp_test_put_object(&f.st, "denied", d, sizeof(d), sizeof(d), &f.err), SP_ERR_STORE);
    char where[1200];
    snprintf(where, sizeof(where), "%s/denied", P.base_url);
    cr_expect(strstr(f.err.msg, "PutObject") && strstr(f.err.msg, "403") &&
                  strstr(f.err.msg, "SignatureDoesNotMatch") && strstr(f.err.msg, where),
              "%s", f.err.msg);
    cr_expect(strchr(f.err.msg, '\n') == NULL, "one line: %s", f.err.msg);
    cr_expect(!strstr(f.err.msg, "not-the-right-secret-key") && !strstr(f.err.msg, "Signature="), "%s", f.err.msg);
    cr_expect_eq(proxy_count("--op PutObject --status 403", 1), 1);
    cr_expect_eq(proxy_count("--op PutObject", 1), 1, "a 403 is not retried");
    sp_store_close(&f.st);
}

Test(s3_faults, failing_part_aborts_the_upload)
{
    store_fx f;
    start_store(&f,
                "[{\"op\": \"UploadPart\", \"part\": 2, \"times\": -1, \"action\": \"error\", \"status\": 500, "
                "\"code\": \"InternalError\"}]",
                "");
    size_t n = 16 * MiB;
    uint8_t *d = put_pattern(&f, "doomed", n, 6, UINT64_MAX, SP_ERR_STORE);
    cr_expect(strstr(f.err.msg, "UploadPart 2") && strstr(f.err.msg, "InternalError") &&
                  strstr(f.err.msg, "3 attempts"),
              "%s", f.err.msg);
    cr_expect_eq(proxy_count("--op UploadPart --part 2", 3), 3);
    cr_expect_geq(proxy_count("--op AbortMultipartUpload --action forward --status 204", 1), 1);
    expect_nothing_left(&f, "doomed");
    free(d);
    sp_store_close(&f.st);
}

Test(s3_faults, connection_resets_exhaust_the_attempts)
{
    store_fx f;
    start_store(&f, "[{\"op\": \"PutObject\", \"times\": -1, \"action\": \"reset\", \"after_bytes\": 0}]", "");
    uint8_t *d = put_pattern(&f, "reset", 3000, 1, 3000, SP_ERR_STORE);
    cr_expect(strstr(f.err.msg, "PutObject") && strstr(f.err.msg, "after 3 attempts"), "%s", f.err.msg);
    cr_expect_eq(proxy_count("--op PutObject --action reset", 3), 3);
    free(d);
    sp_store_close(&f.st);
}

Test(s3_faults, stalled_transfer_is_cut_and_retried)
{
    store_fx f;
    start();
    setenv("SEALPUB_S3_STALL_SECONDS", "1", 1);
    open_store(&f, "");

    /* The server takes the whole body and never answers. */
    rules("[{\"op\": \"PutObject\", \"times\": 1, \"action\": \"stall\", \"after_bytes\": 1000000000, "
          "\"seconds\": 30}]");
    uint8_t d[100] = {1};
    cr_assert_eq(sp_test_put_object(&f.st, "stalled", d, sizeof(d), sizeof(d), &f.err), SP_OK, "%s", f.err.msg);
    cr_expect_eq(proxy_count("--op PutObject", 2), 2);
    expect_stored(&f.st, "stalled", d, sizeof(d));

    /* The server stops reading 1 MiB into a part. */
    rules("[{\"op\": \"UploadPart\", \"part\": 1, \"times\": 1, \"action\": \"stall\", \"after_bytes\": 1048576, "
          "\"seconds\": 30}]");
    size_t n = 11 * MiB;
    uint8_t *big = put_pattern(&f, "stalled-part", n, 2, n, SP_OK);
    cr_expect_eq(proxy_count("--op UploadPart --part 1 --action stall", 1), 1);
    cr_expect_eq(proxy_count("--op UploadPart --part 1 --action forward --status 200", 1), 1, "part 1 resent");
    expect_stored(&f.st, "stalled-part", big, n);
    free(big);

    /* Every attempt of a HEAD hangs. */
    rules("[{\"op\": \"HeadObject\", \"times\": -1, \"action\": \"stall\", \"seconds\": 30}]");
    uint64_t size;
    cr_expect_eq(f.st.ops->stat(f.st.impl, "stalled", &size, &f.err), SP_ERR_STORE);
    cr_expect(strstr(f.err.msg, "HeadObject") && strstr(f.err.msg, "after 3 attempts"), "%s", f.err.msg);
    cr_expect_eq(proxy_count("--op HeadObject --action stall", 3), 3);
    sp_store_close(&f.st);
}

Test(s3_faults, size_mismatch_after_commit_fails_and_deletes)
{
    store_fx f;
    /* The HEAD after the commit reports one byte less than was stored. */
    start_store(&f, "[{\"op\": \"HeadObject\", \"times\": 1, \"action\": \"head_length_delta\", \"delta\": -1}]", "");
    uint8_t d[100] = {2};
    cr_expect_eq(sp_test_put_object(&f.st, "short", d, sizeof(d), sizeof(d), &f.err), SP_ERR_STORE);
    cr_expect(strstr(f.err.msg, "99 bytes") && strstr(f.err.msg, "expected 100"), "%s", f.err.msg);
    cr_expect_eq(proxy_count("--op HeadObject --action head_length_delta", 1), 1);
    cr_expect_eq(proxy_count("--op DeleteObject --action forward --status 204", 1), 1, "the object was deleted");
    uint64_t size;
    cr_expect_eq(f.st.ops->stat(f.st.impl, "short", &size, &f.err), SP_ERR_NOT_FOUND, "the bad object is gone");
    sp_store_close(&f.st);
}

static volatile int cancel_flag;

static void *raise_cancel(void *arg)
{
    (void)arg;
    usleep(500 * 1000);
    __atomic_store_n(&cancel_flag, 1, __ATOMIC_RELAXED);
    return NULL;
}

Test(s3_faults, cancel_flag_stops_a_part_mid_body_and_aborts)
{
    store_fx f;
    /* Part 1 is held mid-body, so the commit is waiting on the network
     * when the flag goes up. */
    start_store(&f,
                "[{\"op\": \"UploadPart\", \"part\": 1, \"times\": 1, \"action\": \"stall\", \"after_bytes\": 1048576, "
                "\"seconds\": 60}]",
                "");
    sp_store_set_cancel(&f.st, &cancel_flag);
    sp_upload *up;
    cr_assert_eq(f.st.ops->put_begin(f.st.impl, "cancelled", UINT64_MAX, &up, &f.err), SP_OK, "%s", f.err.msg);
    size_t n = 12 * MiB;
    uint8_t *d = sp_test_pattern(n, 8);
    cr_assert_eq(f.st.ops->put_write(up, d, n, &f.err), SP_OK, "%s", f.err.msg);
    cr_expect_eq(uploads_left(f.url), 1);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, raise_cancel, NULL), 0);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    cr_expect_eq(f.st.ops->put_commit(up, &f.err), SP_ERR_INTERRUPTED, "%s", f.err.msg);
    clock_gettime(CLOCK_MONOTONIC, &b);
    pthread_join(t, NULL);
    cr_expect(strstr(f.err.msg, "interrupted") && strstr(f.err.msg, "aborted"), "%s", f.err.msg);
    cr_log_info("commit returned %.2f s after it began (cancel at 0.5 s)",
                (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    cancel_flag = 0;
    sp_store_set_cancel(&f.st, NULL);
    cr_expect_eq(proxy_count("--op UploadPart --part 1 --action stall", 1), 1, "part 1 was on the wire");
    cr_expect_eq(proxy_count("--op AbortMultipartUpload --action forward --status 204", 1), 1);
    cr_expect_eq(uploads_left(f.url), 0, "the multipart upload was aborted");
    free(d);
    sp_store_close(&f.st);
}

Test(s3_faults, abort_stale_uploads_only_under_the_prefix)
{
    store_fx p, q;
    start_store(&p, NULL, "p");
    open_store(&q, "q");
    size_t n = 6 * MiB;
    uint8_t *d = sp_test_pattern(n, 9);
    sp_upload *up1, *up2;
    cr_assert_eq(p.st.ops->put_begin(p.st.impl, "left1", UINT64_MAX, &up1, &p.err), SP_OK);
    cr_assert_eq(p.st.ops->put_write(up1, d, n, &p.err), SP_OK, "%s", p.err.msg); /* starts the multipart upload */
    cr_assert_eq(q.st.ops->put_begin(q.st.impl, "elsewhere", UINT64_MAX, &up2, &q.err), SP_OK);
    cr_assert_eq(q.st.ops->put_write(up2, d, n, &q.err), SP_OK, "%s", q.err.msg);
    cr_expect_eq(uploads_left(p.url), 1, "only the prefix's uploads are listed");
    cr_expect_eq(uploads_left(q.url), 1);

    unsigned aborted = 99;
    cr_assert_eq(sp_s3_abort_stale(p.url, 3600, &aborted, &p.err), SP_OK, "%s", p.err.msg);
    cr_expect_eq(aborted, 0, "an upload seconds old is not an hour old");
    sleep(2);
    cr_assert_eq(sp_s3_abort_stale(p.url, 1, &aborted, &p.err), SP_OK, "%s", p.err.msg);
    cr_expect_eq(aborted, 1);
    cr_expect_eq(uploads_left(p.url), 0);
    cr_expect_eq(uploads_left(q.url), 1, "the other prefix's upload is untouched");
    /* Committing the upload whose parts were aborted fails cleanly. */
    cr_expect_eq(p.st.ops->put_commit(up1, &p.err), SP_ERR_STORE);
    cr_expect(strstr(p.err.msg, "NoSuchUpload"), "%s", p.err.msg);
    q.st.ops->put_abort(up2);
    cr_expect_eq(uploads_left(q.url), 0);
    free(d);
    sp_store_close(&q.st);
    sp_store_close(&p.st);
}

Test(s3_faults, missing_bucket_is_one_clear_request)
{
    start();
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_test_open_missing_bucket(&st, &err), SP_OK, "%s", err.msg);
    uint8_t d[1] = {0};
    cr_expect_eq(sp_test_put_object(&st, "x", d, 1, 1, &err), SP_ERR_STORE);
    cr_expect(strstr(err.msg, "NoSuchBucket") && strstr(err.msg, "404"), "%s", err.msg);
    cr_expect_eq(proxy_count("--op PutObject --status 404", 1), 1, "a missing bucket is not retried");
    sp_store_close(&st);
}

/* Flexible checksums against radosgw 16 as it is: the multipart upload
 * offers CRC32C (FULL_OBJECT), the first parts carry their CRC32C, and the
 * first part's answer shows the server ignores them (no echo): later parts
 * skip the CRC pass, Complete lists no checksums and sends no object
 * checksum, every part stays SHA-256-signed (the check this server does),
 * and the upload succeeds. A single PUT carries the object's CRC32C.
 * SEALPUB_S3_CHECKSUM=none sends none. */
Test(s3_faults, crc32c_offered_then_dropped_when_the_server_ignores_it)
{
    store_fx f;
    char want[12];
    start_store(&f, NULL, "crc");
    size_t n = 22 * MiB + 5; /* 5 parts of 5 MiB, 3 in flight */
    uint8_t *d = put_pattern(&f, "multi", n, 11, UINT64_MAX, SP_OK);
    expect_stored(&f.st, "multi", d, n);
    cr_expect_eq(proxy_count("--op CreateMultipartUpload --checksum-algorithm CRC32C --checksum-type FULL_OBJECT", 1), 1,
                 "Create offered CRC32C, FULL_OBJECT");
    part_crc32c(d, n, 1, want);
    cr_expect_eq(proxy_countf(1, "--op UploadPart --part 1 --status 200 --crc32c %s", want), 1,
                 "part 1 carried its CRC32C %s", want);
    /* Parts 2 and 3 may have started before part 1's answer; part 4 waits
     * for a free slot, so for an answer, and part 5 comes after. */
    cr_expect_eq(proxy_count("--op UploadPart --part 4 --status 200 --crc32c -", 1), 1, "part 4 without one");
    cr_expect_eq(proxy_count("--op UploadPart --part 5 --status 200 --crc32c -", 1), 1, "part 5 without one");
    cr_expect_eq(proxy_count("--op CompleteMultipartUpload --status 200 --crc32c - --complete-crc32c -", 1), 1,
                 "Complete without checksums");
    expect_protocol_clean(); /* every part's payload SHA-256 was signed */
    s3_crc32c_b64(s3_crc32c(0, d, 1000), want);
    cr_assert_eq(sp_test_put_object(&f.st, "single", d, 1000, 1000, &f.err), SP_OK, "%s", f.err.msg);
    cr_expect_eq(proxy_countf(1, "--op PutObject --status 200 --crc32c %s --crc32c-ok yes", want), 1,
                 "the single PUT carried the object's CRC32C");
    sp_store_close(&f.st);

    setenv("SEALPUB_S3_CHECKSUM", "none", 1);
    open_store(&f, "crc-off");
    cr_assert_eq(sp_test_put_object(&f.st, "multi", d, 12 * MiB, UINT64_MAX, &f.err), SP_OK, "%s", f.err.msg);
    cr_expect_eq(proxy_count("--op UploadPart --status 200 --crc32c -", 3 + 2), 3 + 2, "none sent when turned off");
    cr_expect_eq(proxy_count("--op CreateMultipartUpload --checksum-algorithm - --checksum-type -", 1), 1,
                 "none offered when turned off");
    unsetenv("SEALPUB_S3_CHECKSUM");
    free(d);
    sp_store_close(&f.st);
}

/* A server that checks flexible checksums, as AWS S3 documents it. radosgw
 * 16 does not, so the proxy plays that part of the protocol in front of it
 * (the "flexible_checksums" action): it computes the CRC32C of every body
 * it forwards, refuses a wrong one with BadDigest, echoes a right one, and
 * answers Create with the algorithm and type; radosgw stores the bytes.
 * Then every part carries its CRC32C, Complete lists them all and sends the
 * whole object's CRC32C, combined from the parts', with FULL_OBJECT. */
Test(s3_faults, crc32c_full_object_to_a_server_that_checks_them)
{
    store_fx f;
    char want[12], list[5][12], joined[80] = "";
    start_store(&f, "[{\"action\": \"flexible_checksums\", \"times\": -1}]", "crc-full");
    size_t n = 22 * MiB + 5;
    uint8_t *d = put_pattern(&f, "multi", n, 12, UINT64_MAX, SP_OK);
    expect_stored(&f.st, "multi", d, n);
    for (int part = 1; part <= 5; part++) {
        part_crc32c(d, n, part, list[part - 1]);
        cr_expect_eq(proxy_countf(1, "--op UploadPart --part %d --status 200 --crc32c %s --crc32c-ok yes", part,
                                  list[part - 1]),
                     1, "part %d carried its CRC32C %s", part, list[part - 1]);
        snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined), "%s%s", part > 1 ? "," : "", list[part - 1]);
    }
    s3_crc32c_b64(s3_crc32c(0, d, n), want);
    cr_expect_eq(proxy_countf(1,
                              "--op CompleteMultipartUpload --status 200 --crc32c %s --checksum-type FULL_OBJECT "
                              "--complete-crc32c %s",
                              want, joined),
                 1, "Complete sent the object's CRC32C %s and the parts' %s", want, joined);
    cr_expect_eq(proxy_count("--crc32c-ok no", 0), 0, "no wrong CRC32C");
    free(d);
    sp_store_close(&f.st);
}

/* A server that reports another CRC32C for a part than the one sent saw
 * other bytes: the upload fails, named, retryable, and leaves nothing. */
Test(s3_faults, a_part_echoed_with_another_crc32c_fails_the_upload)
{
    store_fx f;
    start_store(&f, "[{\"action\": \"flexible_checksums\", \"wrong_echo\": true, \"times\": -1}]", "crc-wrong");
    size_t n = 12 * MiB;
    uint8_t *d = put_pattern(&f, "multi", n, 14, UINT64_MAX, SP_ERR_STORE);
    cr_expect(strstr(f.err.msg, "the server's CRC32C AAAAAA== differs from ours") != NULL, "%s", f.err.msg);
    cr_expect(f.err.retryable, "a part damaged on the way may pass when published again");
    expect_nothing_left(&f, "multi");
    free(d);
    sp_store_close(&f.st);
}

/* Over https, to a server that confirmed CRC32C (the proxy playing that
 * part as above, behind a TLS front), parts go UNSIGNED-PAYLOAD with their
 * CRC32C: the checked CRC replaces the SHA-256 pass, as in the AWS SDKs.
 * When the server does not confirm it, parts over https stay signed with
 * their SHA-256. */
Test(s3_faults, unsigned_payload_over_https_only_once_crc32c_is_confirmed)
{
    store_fx f;
    start();
    tls_front();
    rules("[{\"action\": \"flexible_checksums\", \"times\": -1}]");
    open_store(&f, "tls-crc");
    size_t n = 12 * MiB + 7;
    uint8_t *d = put_pattern(&f, "multi", n, 13, UINT64_MAX, SP_OK);
    expect_stored(&f.st, "multi", d, n);
    for (int part = 1; part <= 3; part++)
        cr_expect_eq(
            proxy_countf(1, "--op UploadPart --part %d --status 200 --amz-sha UNSIGNED-PAYLOAD --crc32c-ok yes", part),
            1, "part %d went UNSIGNED-PAYLOAD with a checked CRC32C", part);
    sp_store_close(&f.st);

    rules("[]"); /* radosgw as it is: no confirmation */
    open_store(&f, "tls-plain");
    cr_assert_eq(sp_test_put_object(&f.st, "multi", d, n, UINT64_MAX, &f.err), SP_OK, "%s", f.err.msg);
    expect_stored(&f.st, "multi", d, n);
    cr_expect_eq(proxy_count("--op UploadPart --status 200 --amz-sha UNSIGNED-PAYLOAD", 3), 3,
                 "only the three parts to the confirming server went unsigned");
    cr_expect_eq(proxy_count("--op UploadPart --status 200", 6), 6, "six parts in all");
    free(d);
    sp_store_close(&f.st);
}

/* The cancel flag is the store's own (sp_store_set_cancel), and reads obey
 * it too: fetch's ranged GETs stop on SIGINT instead of waiting out a
 * stalled server. A second store opened beside it is not cancelled. */
Test(s3_faults, cancel_flag_stops_a_stalled_read_and_belongs_to_one_store)
{
    store_fx f, other;
    start_store(&f, NULL, "readcancel");
    open_store(&other, "readcancel");
    uint8_t *d = put_pattern(&f, "obj", 4096, 3, 4096, SP_OK);
    cancel_flag = 0;
    sp_store_set_cancel(&f.st, &cancel_flag);
    rules("[{\"op\": \"GetObject\", \"times\": 1, \"action\": \"stall\", \"after_bytes\": 0, \"seconds\": 60}]");
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, raise_cancel, NULL), 0);
    uint8_t buf[4096];
    cr_expect_eq(f.st.ops->read_range(f.st.impl, "obj", 0, buf, sizeof(buf), &f.err), SP_ERR_INTERRUPTED, "%s",
                 f.err.msg);
    pthread_join(t, NULL);
    cr_expect(strstr(f.err.msg, "interrupted"), "%s", f.err.msg);
    cr_expect_eq(proxy_count("--op GetObject --action stall", 1), 1, "the read was held by the proxy");
    /* The flag is still up, but the other store never saw it. */
    cr_expect_eq(other.st.ops->read_range(other.st.impl, "obj", 0, buf, sizeof(buf), &other.err), SP_OK, "%s",
                 other.err.msg);
    cr_expect_eq(memcmp(buf, d, sizeof(buf)), 0);
    cancel_flag = 0;
    free(d);
    sp_store_close(&f.st);
    sp_store_close(&other.st);
}
