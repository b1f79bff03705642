/* test_sigv4.c: checks the SigV4 signer against AWS's published test suite (read in place) and S3 edge cases. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/sigv4.h"
#include "skip.h"

/* The suite as shipped in ../shared (aws-c-auth's tests/aws-signing-test-suite/v4).
 * Never copied into the project: it is third-party data. */
#define SUITE_DIR SP_SHARED_DIR "/sigv4-test-suite"
/* The snapshot holds 38 cases; fewer means a folder went missing, which
 * must fail rather than pass with less coverage. */
#define SUITE_MIN_VECTORS 38

/* Cases that do not apply to this signer, by folder name, with the reason.
 * Empty: every case in the snapshot is signed and compared. (The query-*
 * files in each folder are the presigned-URL variant of the same case; the
 * signer does not presign, so only the header-* files are compared.) */
static const struct {
    const char *name, *reason;
} not_applicable[] = {{NULL, NULL}};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        if (!got) break;
        n += got;
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

/* Just enough JSON for context.json: the string or boolean value of a key
 * that appears once anywhere in the document. */
static int json_string(const char *json, const char *key, char *out, size_t cap)
{
    char pat[80];
    snprintf(pat, sizeof(pat), "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p) return 0;
    p += strlen(pat);
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == ':') p++;
    if (*p != '"') return 0;
    p++;
    size_t n = 0;
    while (*p && *p != '"' && n + 1 < cap) out[n++] = *p++;
    out[n] = '\0';
    return *p == '"';
}

static int json_bool(const char *json, const char *key, int dflt)
{
    char pat[80];
    snprintf(pat, sizeof(pat), "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p) return dflt;
    p += strlen(pat);
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == ':') p++;
    if (!strncmp(p, "true", 4)) return 1;
    if (!strncmp(p, "false", 5)) return 0;
    return dflt;
}

typedef struct vec_list {
    char **dirs;
    size_t n, cap;
} vec_list;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every folder holding a request.txt is a case, however deeply nested. */
static void find_vectors(const char *dir, vec_list *v)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        char req[4200];
        snprintf(req, sizeof(req), "%s/request.txt", path);
        if (access(req, R_OK) == 0) {
            if (v->n == v->cap) v->dirs = realloc(v->dirs, (v->cap = v->cap ? 2 * v->cap : 64) * sizeof(char *));
            v->dirs[v->n++] = strdup(path);
        }
        find_vectors(path, v);
    }
    closedir(d);
    qsort(v->dirs, v->n, sizeof(char *), cmp_str);
}

typedef struct parsed_req {
    char method[16];
    char path[1024];
    char query[1024];
    sp_sigv4_header h[SP_SIGV4_HEADERS_MAX];
    char *names[SP_SIGV4_HEADERS_MAX], *values[SP_SIGV4_HEADERS_MAX];
    size_t n;
    const char *body;
    size_t body_len;
} parsed_req;

static void free_req(parsed_req *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->names[i]);
        free(r->values[i]);
    }
}

/* "METHOD SP target SP HTTP/1.1", headers, blank line, body. The target may
 * hold spaces (get-space-*), so it ends at the last " HTTP/". A line that
 * starts with whitespace continues the previous header's value
 * (get-header-value-multiline); it is kept with its newline, and the signer
 * collapses that whitespace like any other. */
static int parse_request(char *text, size_t len, parsed_req *r)
{
    memset(r, 0, sizeof(*r));
    char *eol = strchr(text, '\n');
    if (!eol) return 0;
    *eol = '\0';
    char *sp = strchr(text, ' ');
    char *ver = strstr(text, " HTTP/");
    if (!sp || !ver || ver < sp) return 0;
    for (char *p; (p = strstr(ver + 1, " HTTP/"));) ver = p;
    snprintf(r->method, sizeof(r->method), "%.*s", (int)(sp - text), text);
    char *target = sp + 1;
    *ver = '\0';
    char *q = strchr(target, '?');
    if (q) {
        *q = '\0';
        snprintf(r->query, sizeof(r->query), "%s", q + 1);
    }
    snprintf(r->path, sizeof(r->path), "%s", target);

    char *line = eol + 1;
    while (line < text + len) {
        char *end = strchr(line, '\n');
        if (!end) end = text + len;
        size_t ll = (size_t)(end - line);
        if (ll && line[ll - 1] == '\r') ll--;
        if (ll == 0) {
            line = end < text + len ? end + 1 : end;
            r->body = line;
            r->body_len = (size_t)(text + len - line);
            break;
        }
        if ((line[0] == ' ' || line[0] == '\t') && r->n) {
            char *prev = r->values[r->n - 1];
            size_t pl = strlen(prev);
            prev = realloc(prev, pl + ll + 2);
            prev[pl] = '\n';
            memcpy(prev + pl + 1, line, ll);
            prev[pl + 1 + ll] = '\0';
            r->values[r->n - 1] = prev;
        } else {
            char *colon = memchr(line, ':', ll);
            if (!colon || r->n == SP_SIGV4_HEADERS_MAX) return 0;
            r->names[r->n] = strndup(line, (size_t)(colon - line));
            r->values[r->n] = strndup(colon + 1, (size_t)(line + ll - colon - 1));
            r->n++;
        }
        line = end < text + len ? end + 1 : end;
    }
    if (!r->body) r->body = text + len;
    for (size_t i = 0; i < r->n; i++) {
        r->h[i].name = r->names[i];
        r->h[i].value = r->values[i];
    }
    return 1;
}

static int expect_file(const char *dir, const char *file, const char *got, const char *vec)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    size_t len;
    char *want = slurp(path, &len);
    if (!want) {
        cr_log_error("%s: cannot read %s", vec, file);
        return 0;
    }
    int ok = strlen(got) == len && memcmp(got, want, len) == 0;
    if (!ok) cr_log_error("%s: %s differs\n--- expected\n%s\n--- got\n%s", vec, file, want, got);
    free(want);
    return ok;
}

/* The Authorization value from the signed request the suite expects. */
static int expect_authz(const char *dir, const char *got, const char *vec)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/header-signed-request.txt", dir);
    char *txt = slurp(path, NULL);
    if (!txt) {
        cr_log_error("%s: cannot read header-signed-request.txt", vec);
        return 0;
    }
    int ok = 0;
    char *p = strstr(txt, "\nAuthorization:");
    if (p) {
        p += strlen("\nAuthorization:");
        size_t n = strcspn(p, "\r\n");
        ok = strlen(got) == n && memcmp(got, p, n) == 0;
        if (!ok) cr_log_error("%s: Authorization differs\n  expected %.*s\n  got      %s", vec, (int)n, p, got);
    } else {
        cr_log_error("%s: no Authorization line in header-signed-request.txt", vec);
    }
    free(txt);
    return ok;
}

static const char *reason_not_applicable(const char *name)
{
    for (size_t i = 0; i < sizeof(not_applicable) / sizeof(not_applicable[0]); i++)
        if (not_applicable[i].name && !strcmp(not_applicable[i].name, name)) return not_applicable[i].reason;
    return NULL;
}

static int run_vector(const char *dir)
{
    const char *vec = dir + strlen(SUITE_DIR) + 1;
    char path[4200];
    snprintf(path, sizeof(path), "%s/context.json", dir);
    char *ctx = slurp(path, NULL);
    snprintf(path, sizeof(path), "%s/request.txt", dir);
    size_t rlen = 0;
    char *rtext = slurp(path, &rlen);
    if (!ctx || !rtext) {
        cr_log_error("%s: missing context.json or request.txt", vec);
        free(ctx);
        free(rtext);
        return 0;
    }

    char ak[128], sk[128], token[1024] = "", region[64], service[64], ts[64] = "", date[SP_SIGV4_AMZ_DATE_LEN + 1];
    int ok = json_string(ctx, "access_key_id", ak, sizeof(ak)) &&
             json_string(ctx, "secret_access_key", sk, sizeof(sk)) &&
             json_string(ctx, "region", region, sizeof(region)) &&
             json_string(ctx, "service", service, sizeof(service)) &&
             json_string(ctx, "timestamp", ts, sizeof(ts));
    json_string(ctx, "token", token, sizeof(token));
    /* "2015-08-30T12:36:00Z" -> "20150830T123600Z" */
    size_t dn = 0;
    for (const char *p = ts; *p && dn < SP_SIGV4_AMZ_DATE_LEN; p++)
        if (*p != '-' && *p != ':') date[dn++] = *p;
    date[dn] = '\0';

    parsed_req r;
    if (!ok || !parse_request(rtext, rlen, &r)) {
        cr_log_error("%s: cannot parse the case", vec);
        free(ctx);
        free(rtext);
        return 0;
    }

    unsigned char md[32];
    char body_hash[65];
    unsigned mdlen = 0;
    EVP_Digest(r.body, r.body_len, md, &mdlen, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) snprintf(body_hash + 2 * i, 3, "%02x", md[i]);

    sp_sigv4_request q = {
        .method = r.method,
        .path = r.path,
        .query = r.query,
        .headers = r.h,
        .n_headers = r.n,
        .payload_sha256 = body_hash,
        .amz_date = date,
        .region = region,
        .service = service,
        .access_key = ak,
        .secret_key = sk,
        /* omit_session_token: the token travels with the request but is
         * added after signing, so it is not part of the signature. */
        .session_token = json_bool(ctx, "omit_session_token", 0) ? NULL : token,
        .flags = (json_bool(ctx, "normalize", 1) ? SP_SIGV4_GENERIC_PATH : 0) |
                 (json_bool(ctx, "sign_body", 0) ? SP_SIGV4_SIGN_CONTENT_SHA256 : 0),
    };
    sp_sigv4_result *res = calloc(1, sizeof(*res));
    sp_error err = {0};
    sp_status st = sp_sigv4_sign(&q, res, &err);
    if (st != SP_OK) {
        cr_log_error("%s: sign failed: %s", vec, err.msg);
        ok = 0;
    } else {
        ok = expect_file(dir, "header-canonical-request.txt", res->canonical_request, vec);
        ok &= expect_file(dir, "header-string-to-sign.txt", res->string_to_sign, vec);
        ok &= expect_file(dir, "header-signature.txt", res->signature, vec);
        ok &= expect_authz(dir, res->authorization, vec);
    }
    free(res);
    free_req(&r);
    free(ctx);
    free(rtext);
    return ok;
}

Test(sigv4, aws_test_suite)
{
    struct stat st;
    if (stat(SUITE_DIR, &st) != 0 || !S_ISDIR(st.st_mode))
        SP_SKIP_OR_FAIL("AWS SigV4 test suite not found at %s: its 38 vectors were not run", SUITE_DIR);

    vec_list v = {0};
    find_vectors(SUITE_DIR, &v);
    size_t passed = 0, skipped = 0, failed = 0;
    for (size_t i = 0; i < v.n; i++) {
        const char *name = strrchr(v.dirs[i], '/') + 1;
        const char *why = reason_not_applicable(name);
        if (why) {
            cr_log_warn("%s: not applicable: %s", name, why);
            skipped++;
        } else if (run_vector(v.dirs[i])) {
            passed++;
        } else {
            failed++;
        }
        free(v.dirs[i]);
    }
    free(v.dirs);
    cr_log_info("sigv4 test suite: %zu passed, %zu failed, %zu not applicable, of %zu found", passed, failed,
                skipped, passed + failed + skipped);
    cr_expect_geq(passed + failed + skipped, SUITE_MIN_VECTORS, "found %zu cases under %s, expected at least %d",
                  passed + failed + skipped, SUITE_DIR, SUITE_MIN_VECTORS);
    cr_expect_eq(failed, 0, "%zu of %zu cases failed (see the log above)", failed, passed + failed);
}

/* --- S3 specifics, from the examples in AWS's S3 SigV4 documentation. --- */

static const char *S3_AK = "AKIAIOSFODNN7EXAMPLE";
static const char *S3_SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

static sp_sigv4_result *sign_s3(const char *method, const char *path, const char *query, const sp_sigv4_header *h,
                                size_t n, const char *payload, sp_status *st, sp_error *err)
{
    sp_sigv4_request q = {
        .method = method, .path = path, .query = query, .headers = h, .n_headers = n,
        .payload_sha256 = payload, .amz_date = "20130524T000000Z", .region = "us-east-1",
        .service = "s3", .access_key = S3_AK, .secret_key = S3_SK,
        .flags = SP_SIGV4_SIGN_CONTENT_SHA256,
    };
    sp_sigv4_result *r = calloc(1, sizeof(*r));
    *st = sp_sigv4_sign(&q, r, err);
    return r;
}

Test(sigv4, s3_get_object_with_range)
{
    sp_sigv4_header h[] = {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}};
    sp_error err = {0};
    sp_status st;
    sp_sigv4_result *r = sign_s3("GET", "/test.txt", NULL, h, 2, SP_SIGV4_EMPTY_SHA256, &st, &err);
    cr_assert_eq(st, SP_OK, "%s", err.msg);
    cr_expect_str_eq(r->canonical_request,
                     "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
                     "x-amz-content-sha256:" SP_SIGV4_EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n\n"
                     "host;range;x-amz-content-sha256;x-amz-date\n" SP_SIGV4_EMPTY_SHA256);
    cr_expect_str_eq(r->signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    cr_expect_str_eq(r->signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
    free(r);
}

Test(sigv4, s3_put_object_encodes_key_once)
{
    sp_sigv4_header h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                           {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                           {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    sp_error err = {0};
    sp_status st;
    sp_sigv4_result *r = sign_s3("PUT", "/test$file.text", NULL, h, 3,
                                 "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072", &st, &err);
    cr_assert_eq(st, SP_OK, "%s", err.msg);
    cr_expect(strncmp(r->canonical_request, "PUT\n/test%24file.text\n\n", 23) == 0, "%s", r->canonical_request);
    cr_expect_str_eq(r->signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    free(r);
}

Test(sigv4, s3_subresource_without_value)
{
    sp_sigv4_header h[] = {{"Host", "examplebucket.s3.amazonaws.com"}};
    sp_error err = {0};
    sp_status st;
    sp_sigv4_result *r = sign_s3("GET", "/", "lifecycle", h, 1, SP_SIGV4_EMPTY_SHA256, &st, &err);
    cr_assert_eq(st, SP_OK, "%s", err.msg);
    cr_expect(strncmp(r->canonical_request, "GET\n/\nlifecycle=\n", 17) == 0, "%s", r->canonical_request);
    cr_expect_str_eq(r->signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    free(r);
}

Test(sigv4, s3_list_objects_query_sorted)
{
    sp_sigv4_header h[] = {{"Host", "examplebucket.s3.amazonaws.com"}};
    sp_error err = {0};
    sp_status st;
    sp_sigv4_result *r = sign_s3("GET", "/", "prefix=J&max-keys=2", h, 1, SP_SIGV4_EMPTY_SHA256, &st, &err);
    cr_assert_eq(st, SP_OK, "%s", err.msg);
    cr_expect(strncmp(r->canonical_request, "GET\n/\nmax-keys=2&prefix=J\n", 26) == 0, "%s", r->canonical_request);
    cr_expect_str_eq(r->signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    free(r);
}

Test(sigv4, path_encoding_s3_versus_generic)
{
    char out[256];
    sp_error err = {0};
    cr_assert_eq(sp_sigv4_encode_path("/a b/c%d+e~f.g_h-i/\xE1\x88\xB4", out, sizeof(out), &err), SP_OK);
    cr_expect_str_eq(out, "/a%20b/c%25d%2Be~f.g_h-i/%E1%88%B4");
    /* S3 keeps dot segments and repeated slashes: they are part of the key. */
    cr_assert_eq(sp_sigv4_encode_path("/b//x/../y/./z", out, sizeof(out), &err), SP_OK);
    cr_expect_str_eq(out, "/b//x/../y/./z");
    cr_expect_eq(sp_sigv4_encode_path("no-slash", out, sizeof(out), &err), SP_ERR_USAGE);
    cr_expect_eq(sp_sigv4_encode_path("/0123456789", out, 8, &err), SP_ERR_USAGE);

    /* The generic form encodes the wire path again: %20 becomes %2520. */
    sp_sigv4_header h[] = {{"Host", "example.amazonaws.com"}};
    sp_sigv4_request q = {.method = "GET", .path = "/a%20b/./c/../d", .headers = h, .n_headers = 1,
                          .payload_sha256 = SP_SIGV4_EMPTY_SHA256, .amz_date = "20150830T123600Z",
                          .region = "us-east-1", .service = "service", .access_key = "AK", .secret_key = "SK",
                          .flags = SP_SIGV4_GENERIC_PATH};
    sp_sigv4_result *r = calloc(1, sizeof(*r));
    cr_assert_eq(sp_sigv4_sign(&q, r, &err), SP_OK, "%s", err.msg);
    cr_expect(strncmp(r->canonical_request, "GET\n/a%2520b/d\n", 15) == 0, "%s", r->canonical_request);
    q.flags = 0;
    cr_assert_eq(sp_sigv4_sign(&q, r, &err), SP_OK, "%s", err.msg);
    cr_expect(strncmp(r->canonical_request, "GET\n/a%2520b/./c/../d\n", 22) == 0, "%s", r->canonical_request);
    free(r);
}

Test(sigv4, canonical_query)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"", ""},
        {"uploads", "uploads="},
        {"uploads=", "uploads="},
        {"uploadId=2~x.y&partNumber=10", "partNumber=10&uploadId=2~x.y"},
        {"a=2&a=1&b", "a=1&a=2&b="},
        {"&&x=1&", "x=1"},
        {"k=%2b+%41%zz%", "k=%2B%2BA%25zz%25"},
        {"prefix=a/b c&delimiter=/", "delimiter=%2F&prefix=a%2Fb%20c"},
        {"B=1&a=1&_=1", "B=1&_=1&a=1"},
        {"x==y", "x=%3Dy"},
    };
    char out[256];
    sp_error err = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_eq(sp_sigv4_canonical_query(cases[i].in, out, sizeof(out), &err), SP_OK, "%s", err.msg);
        cr_expect_str_eq(out, cases[i].want, "query \"%s\"", cases[i].in);
    }
    cr_expect_eq(sp_sigv4_canonical_query("a=0123456789", out, 8, &err), SP_ERR_USAGE);
}

Test(sigv4, rejects_bad_input_and_overflow)
{
    static char big[SP_SIGV4_CREQ_MAX];
    memset(big, 'v', sizeof(big) - 1);
    sp_sigv4_header ok_h[] = {{"Host", "h"}};
    sp_sigv4_header big_h[] = {{"Host", "h"}, {"x-big", big}};
    sp_sigv4_header dup_date[] = {{"Host", "h"}, {"X-Amz-Date", "20150830T123600Z"}};
    sp_sigv4_header bad_name[] = {{"Host", "h"}, {"a:b", "c"}};
    sp_sigv4_header no_host[] = {{"x-a", "b"}};
    const sp_sigv4_request base = {.method = "GET", .path = "/", .headers = ok_h, .n_headers = 1,
                                   .payload_sha256 = SP_SIGV4_EMPTY_SHA256, .amz_date = "20150830T123600Z",
                                   .region = "us-east-1", .service = "s3", .access_key = "AK",
                                   .secret_key = "very-secret-key"};
    sp_sigv4_result *r = calloc(1, sizeof(*r));
    sp_error err = {0};
    sp_sigv4_request q;

    q = base;
    cr_assert_eq(sp_sigv4_sign(&q, r, &err), SP_OK, "%s", err.msg);

    q = base;
    q.headers = big_h;
    q.n_headers = 2;
    cr_expect_eq(sp_sigv4_sign(&q, r, &err), SP_ERR_USAGE);
    cr_expect_eq(r->authorization[0], '\0', "a failed signing leaves no output");

#define EXPECT_USAGE(mutation)                                                        \
    do {                                                                              \
        q = base;                                                                     \
        mutation;                                                                     \
        err.msg[0] = '\0';                                                            \
        cr_expect_eq(sp_sigv4_sign(&q, r, &err), SP_ERR_USAGE, "%s", #mutation);      \
        cr_expect(strstr(err.msg, "very-secret-key") == NULL, "secret in the error"); \
        cr_expect(err.msg[0] != '\0', "%s: no message", #mutation);                  \
    } while (0)
    EXPECT_USAGE(q.amz_date = "2015-08-30T12:36:00Z");
    EXPECT_USAGE(q.amz_date = "20150830T123600");
    EXPECT_USAGE(q.method = "get");
    EXPECT_USAGE(q.path = "relative");
    EXPECT_USAGE(q.region = "us/east");
    EXPECT_USAGE(q.access_key = "");
    EXPECT_USAGE(q.secret_key = NULL);
    EXPECT_USAGE(q.payload_sha256 = "has space");
    EXPECT_USAGE((q.headers = dup_date, q.n_headers = 2));
    EXPECT_USAGE((q.headers = bad_name, q.n_headers = 2));
    EXPECT_USAGE((q.headers = no_host, q.n_headers = 1));
    EXPECT_USAGE(q.n_headers = SP_SIGV4_HEADERS_MAX);
#undef EXPECT_USAGE
    free(r);
}

Test(sigv4, signature_depends_on_every_input)
{
    sp_sigv4_header h[] = {{"Host", "h"}};
    const sp_sigv4_request base = {.method = "PUT", .path = "/k", .headers = h, .n_headers = 1,
                                   .payload_sha256 = SP_SIGV4_EMPTY_SHA256, .amz_date = "20150830T123600Z",
                                   .region = "us-east-1", .service = "s3", .access_key = "AK", .secret_key = "SK",
                                   .flags = SP_SIGV4_SIGN_CONTENT_SHA256};
    sp_sigv4_result *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    sp_error err = {0};
    cr_assert_eq(sp_sigv4_sign(&base, a, &err), SP_OK, "%s", err.msg);
    sp_sigv4_request q;
#define EXPECT_DIFFERS(mutation)                                              \
    do {                                                                      \
        q = base;                                                             \
        mutation;                                                             \
        cr_assert_eq(sp_sigv4_sign(&q, b, &err), SP_OK, "%s", err.msg);       \
        cr_expect_str_neq(a->signature, b->signature, "%s", #mutation);       \
    } while (0)
    EXPECT_DIFFERS(q.secret_key = "SK2");
    EXPECT_DIFFERS(q.region = "eu-west-1");
    EXPECT_DIFFERS(q.amz_date = "20150831T123600Z");
    EXPECT_DIFFERS(q.path = "/k2");
    EXPECT_DIFFERS(q.query = "partNumber=1");
    EXPECT_DIFFERS(q.session_token = "tok");
    EXPECT_DIFFERS(q.payload_sha256 = "UNSIGNED-PAYLOAD");
#undef EXPECT_DIFFERS
    q = base;
    q.session_token = "tok";
    cr_assert_eq(sp_sigv4_sign(&q, b, &err), SP_OK, "%s", err.msg);
    cr_expect_str_eq(b->signed_headers, "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
    free(a);
    free(b);
}

Test(sigv4, amz_date_format)
{
    char d[SP_SIGV4_AMZ_DATE_LEN + 1];
    sp_sigv4_amz_date((time_t)1440938160, d); /* 2015-08-30T12:36:00Z */
    cr_expect_str_eq(d, "20150830T123600Z");
}
