/* test_s3.c: the S3 store offline: XML parsing, the retry policy, part sizes, and the upload logic against an in-process fake S3. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "store/s3_xml.h"
#include "store/store.h"
#include "store/store_s3.h"

/* ===================================================================== XML */

typedef struct collect {
    char paths[64][SP_S3_XML_PATH_MAX];
    char texts[64][64];
    int n;
} collect;

static int on_elem(void *ctx, const char *path, const char *text, size_t len)
{
    collect *c = ctx;
    if (c->n < 64) {
        snprintf(c->paths[c->n], sizeof(c->paths[0]), "%s", path);
        snprintf(c->texts[c->n], sizeof(c->texts[0]), "%.*s", (int)len, text);
        c->n++;
    }
    return 0;
}

static sp_status walk(const char *doc, collect *c, sp_error *err)
{
    memset(c, 0, sizeof(*c));
    return sp_s3_xml_walk(doc, strlen(doc), on_elem, c, err);
}

Test(s3_xml, walks_paths_entities_cdata_and_namespaces)
{
    collect c;
    sp_error err = {0};
    const char *doc = "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- hi -->"
                      "<s3:R xmlns:s3=\"urn:x\" a='1>2' b=\"/\"><A>x &amp; &lt;y&gt; &quot;&apos; &#65;&#x42;&#x20AC;</A>"
                      "<B/><C><![CDATA[<raw>&amp;]]></C></s3:R>\n";
    cr_assert_eq(walk(doc, &c, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(c.n, 4);
    cr_expect_str_eq(c.paths[0], "R/A");
    cr_expect_str_eq(c.texts[0], "x & <y> \"' AB\xE2\x82\xAC");
    cr_expect_str_eq(c.paths[1], "R/B");
    cr_expect_str_eq(c.texts[1], "");
    cr_expect_str_eq(c.paths[2], "R/C");
    cr_expect_str_eq(c.texts[2], "<raw>&amp;");
    cr_expect_str_eq(c.paths[3], "R");
}

Test(s3_xml, rejects_malformed_documents)
{
    static const char *bad[] = {
        "",                                   /* no root */
        "   ",                                /* no root */
        "<A>",                                /* unclosed */
        "<A><B></A></B>",                     /* mismatched */
        "<A></A><B></B>",                     /* two roots */
        "</A>",                               /* end without start */
        "text<A></A>",                        /* text outside the root */
        "<!DOCTYPE A [<!ENTITY x \"y\">]><A>&x;</A>", /* no DTDs */
        "<A>&unknown;</A>",                   /* unknown entity */
        "<A>&#0;</A>",                        /* NUL reference */
        "<A>&#xD800;</A>",                    /* surrogate */
        "<A>&#x110000;</A>",                  /* out of range */
        "<A>&amp</A>",                        /* unterminated entity */
        "<A b=\"1></A>",                      /* unterminated attribute */
        "<A><!-- x </A>",                     /* unterminated comment */
        "<A><![CDATA[x</A>",                  /* unterminated CDATA */
        "<?xml version=\"1.0\"",              /* unterminated PI */
        "<A / x></A>",                        /* stray slash */
        "<></>",                              /* no name */
        "<A><B<C/></B></A>",                  /* '<' inside a tag */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        collect c;
        sp_error err = {0};
        cr_expect_eq(walk(bad[i], &c, &err), SP_ERR_FORMAT, "accepted: %s", bad[i]);
    }
}

Test(s3_xml, enforces_depth_and_text_limits)
{
    char doc[4 * SP_S3_XML_TEXT_MAX];
    collect c;
    sp_error err = {0};
    size_t n = 0;
    for (int i = 0; i < SP_S3_XML_DEPTH_MAX + 1; i++) n += (size_t)sprintf(doc + n, "<a>");
    for (int i = 0; i < SP_S3_XML_DEPTH_MAX + 1; i++) n += (size_t)sprintf(doc + n, "</a>");
    cr_expect_eq(walk(doc, &c, &err), SP_ERR_FORMAT, "too deep was accepted");

    n = (size_t)sprintf(doc, "<a>");
    memset(doc + n, 'x', SP_S3_XML_TEXT_MAX + 1);
    n += SP_S3_XML_TEXT_MAX + 1;
    sprintf(doc + n, "</a>");
    cr_expect_eq(walk(doc, &c, &err), SP_ERR_FORMAT, "oversized text was accepted");

    n = (size_t)sprintf(doc, "<a>");
    memset(doc + n, 'x', SP_S3_XML_TEXT_MAX);
    n += SP_S3_XML_TEXT_MAX;
    sprintf(doc + n, "</a>");
    cr_expect_eq(walk(doc, &c, &err), SP_OK, "text at the limit was rejected: %s", err.msg);
}

Test(s3_xml, does_not_read_past_len)
{
    /* The document is not NUL-terminated where the length says it ends. */
    const char full[] = "<A>ok</A><B>";
    collect c;
    sp_error err = {0};
    memset(&c, 0, sizeof(c));
    cr_expect_eq(sp_s3_xml_walk(full, 9, on_elem, &c, &err), SP_OK, "%s", err.msg);
    cr_expect_eq(sp_s3_xml_walk(full, 7, on_elem, &c, &err), SP_ERR_FORMAT);
}

Test(s3_xml, error_documents)
{
    sp_s3_xml_error e;
    const char *aws = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
                      "<Message>The request signature we calculated does not match the signature you provided.\n"
                      "Check your key.</Message><StringToSign>AWS4-HMAC-SHA256...</StringToSign>"
                      "<RequestId>4442587FB7D0A2F9</RequestId></Error>";
    cr_assert_eq(sp_s3_xml_parse_error(aws, strlen(aws), &e), 1);
    cr_expect_str_eq(e.code, "SignatureDoesNotMatch");
    cr_expect(strchr(e.message, '\n') == NULL, "message keeps a newline: %s", e.message);
    cr_expect(strstr(e.message, "does not match") != NULL);

    /* CompleteMultipartUpload can fail with status 200 and this body. */
    const char *late = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n\n  <Error>\n<Code>InternalError</Code>"
                       "<Message>We encountered an internal error. Please try again.</Message></Error>";
    cr_assert_eq(sp_s3_xml_parse_error(late, strlen(late), &e), 1);
    cr_expect_str_eq(e.code, "InternalError");

    const char *rgw = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket</Code>"
                      "<BucketName>nope</BucketName><RequestId>tx0</RequestId><HostId>x</HostId></Error>";
    cr_assert_eq(sp_s3_xml_parse_error(rgw, strlen(rgw), &e), 1);
    cr_expect_str_eq(e.code, "NoSuchBucket");
    cr_expect_str_eq(e.message, "");

    const char *ok = "<CompleteMultipartUploadResult><Location>x</Location><ETag>\"e-2\"</ETag>"
                     "</CompleteMultipartUploadResult>";
    cr_expect_eq(sp_s3_xml_parse_error(ok, strlen(ok), &e), 0);
    cr_expect_eq(sp_s3_xml_parse_error("", 0, &e), 0);
    cr_expect_eq(sp_s3_xml_parse_error(" \n", 2, &e), 0);
    cr_expect_eq(sp_s3_xml_parse_error("<Error><Code>x</Code>", 21, &e), -1);
    cr_expect_str_eq(e.code, "");
    /* An Error element nested elsewhere is not an error document. */
    const char *nested = "<R><Error><Code>X</Code></Error></R>";
    cr_expect_eq(sp_s3_xml_parse_error(nested, strlen(nested), &e), 0);
    cr_expect_str_eq(e.code, "");
}

Test(s3_xml, upload_id)
{
    char id[64];
    sp_error err = {0};
    const char *doc = "<?xml version=\"1.0\"?><InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                      "<Bucket>b</Bucket><Key>k</Key><UploadId>2~abc-DEF_123</UploadId></InitiateMultipartUploadResult>";
    cr_assert_eq(sp_s3_xml_upload_id(doc, strlen(doc), id, sizeof(id), &err), SP_OK, "%s", err.msg);
    cr_expect_str_eq(id, "2~abc-DEF_123");
    const char *none = "<InitiateMultipartUploadResult><UploadId> </UploadId></InitiateMultipartUploadResult>";
    cr_expect_eq(sp_s3_xml_upload_id(none, strlen(none), id, sizeof(id), &err), SP_ERR_FORMAT);
    cr_expect_eq(sp_s3_xml_upload_id(doc, strlen(doc), id, 5, &err), SP_ERR_FORMAT);
    const char *err_doc = "<Error><Code>AccessDenied</Code></Error>";
    cr_expect_eq(sp_s3_xml_upload_id(err_doc, strlen(err_doc), id, sizeof(id), &err), SP_ERR_FORMAT);
}

typedef struct seen {
    sp_s3_xml_upload u[8];
    int n, stop_at;
} seen;

static int on_upload(void *ctx, const sp_s3_xml_upload *u)
{
    seen *s = ctx;
    if (s->n < 8) s->u[s->n] = *u;
    s->n++;
    return s->stop_at && s->n == s->stop_at;
}

Test(s3_xml, list_multipart_uploads)
{
    const char *doc =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
        "<NextKeyMarker>p/k2</NextKeyMarker><NextUploadIdMarker>2~z</NextUploadIdMarker>"
        "<Prefix>p/</Prefix><MaxUploads>2</MaxUploads><IsTruncated>true</IsTruncated>\n"
        "  <Upload><Key>p/k1 &amp; more</Key><UploadId>2~a</UploadId><Initiator><ID>x</ID></Initiator>"
        "<Owner><ID>x</ID></Owner><StorageClass>STANDARD</StorageClass>"
        "<Initiated>2024-05-01T10:00:00.000Z</Initiated></Upload>\n"
        "  <Upload><Key>p/k2</Key><UploadId>2~z</UploadId><Initiated>2024-05-02T00:00:01Z</Initiated></Upload>\n"
        "</ListMultipartUploadsResult>";
    seen s = {0};
    int truncated = 0;
    char nk[64], ni[64];
    sp_error err = {0};
    cr_assert_eq(sp_s3_xml_list_uploads(doc, strlen(doc), on_upload, &s, &truncated, nk, sizeof(nk), ni, sizeof(ni),
                                        &err),
                 SP_OK, "%s", err.msg);
    cr_assert_eq(s.n, 2);
    cr_expect_str_eq(s.u[0].key, "p/k1 & more");
    cr_expect_str_eq(s.u[0].upload_id, "2~a");
    cr_expect_str_eq(s.u[0].initiated, "2024-05-01T10:00:00.000Z");
    cr_expect_str_eq(s.u[1].key, "p/k2");
    cr_expect_eq(truncated, 1);
    cr_expect_str_eq(nk, "p/k2");
    cr_expect_str_eq(ni, "2~z");

    seen stop = {.stop_at = 1};
    cr_expect_eq(sp_s3_xml_list_uploads(doc, strlen(doc), on_upload, &stop, &truncated, nk, sizeof(nk), ni,
                                        sizeof(ni), &err),
                 SP_ERR_INTERRUPTED);
    cr_expect_eq(stop.n, 1);

    const char *empty = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>";
    seen none = {0};
    cr_expect_eq(sp_s3_xml_list_uploads(empty, strlen(empty), on_upload, &none, &truncated, nk, sizeof(nk), ni,
                                        sizeof(ni), &err),
                 SP_OK);
    cr_expect_eq(none.n, 0);
    cr_expect_eq(truncated, 0);

    const char *no_id = "<ListMultipartUploadsResult><Upload><Key>k</Key></Upload></ListMultipartUploadsResult>";
    cr_expect_eq(sp_s3_xml_list_uploads(no_id, strlen(no_id), on_upload, &none, &truncated, nk, sizeof(nk), ni,
                                        sizeof(ni), &err),
                 SP_ERR_FORMAT);
}

Test(s3_xml, iso8601)
{
    time_t t;
    cr_assert_eq(sp_s3_parse_iso8601("2015-08-30T12:36:00Z", &t), 0);
    cr_expect_eq(t, (time_t)1440938160);
    cr_assert_eq(sp_s3_parse_iso8601("2015-08-30T12:36:00.123Z", &t), 0);
    cr_expect_eq(t, (time_t)1440938160);
    static const char *bad[] = {"", "2015-08-30", "2015-08-30T12:36:00", "2015-08-30T12:36:00+01:00",
                                "2015-13-30T12:36:00Z", "2015-08-30T12:36:00.Z", "20150830T123600Z",
                                "2015-08-30T12:36:0xZ", " 2015-08-30T12:36:00Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(sp_s3_parse_iso8601(bad[i], &t), -1, "accepted %s", bad[i]);
}

/* ============================================================ retry policy */

Test(s3_retry, classifier)
{
    /* Network trouble is retried; our own and TLS failures are not. */
    cr_expect_eq(sp_s3_classify(CURLE_COULDNT_CONNECT, 0, NULL), SP_S3_RETRY_TRANSIENT);
    cr_expect_eq(sp_s3_classify(CURLE_OPERATION_TIMEDOUT, 0, NULL), SP_S3_RETRY_TRANSIENT);
    cr_expect_eq(sp_s3_classify(CURLE_RECV_ERROR, 0, NULL), SP_S3_RETRY_TRANSIENT);
    cr_expect_eq(sp_s3_classify(CURLE_SEND_ERROR, 0, NULL), SP_S3_RETRY_TRANSIENT);
    cr_expect_eq(sp_s3_classify(CURLE_GOT_NOTHING, 0, NULL), SP_S3_RETRY_TRANSIENT);
    cr_expect_eq(sp_s3_classify(CURLE_PEER_FAILED_VERIFICATION, 0, NULL), SP_S3_FATAL);
    cr_expect_eq(sp_s3_classify(CURLE_URL_MALFORMAT, 0, NULL), SP_S3_FATAL);
    cr_expect_eq(sp_s3_classify(CURLE_WRITE_ERROR, 0, NULL), SP_S3_FATAL);

    cr_expect_eq(sp_s3_classify(0, 200, NULL), SP_S3_DONE);
    cr_expect_eq(sp_s3_classify(0, 204, ""), SP_S3_DONE);
    cr_expect_eq(sp_s3_classify(0, 206, NULL), SP_S3_DONE);
    /* 200 with an <Error> body: by its code. */
    cr_expect_eq(sp_s3_classify(0, 200, "InternalError"), SP_S3_RETRY_TRANSIENT);
    cr_expect_eq(sp_s3_classify(0, 200, "SlowDown"), SP_S3_RETRY_THROTTLE);
    cr_expect_eq(sp_s3_classify(0, 200, "InvalidPart"), SP_S3_FATAL);

    for (long st = 500; st <= 504; st++) {
        if (st == 501 || st == 503) continue;
        cr_expect_eq(sp_s3_classify(0, st, NULL), SP_S3_RETRY_TRANSIENT, "status %ld", st);
    }
    cr_expect_eq(sp_s3_classify(0, 501, "NotImplemented"), SP_S3_FATAL);
    cr_expect_eq(sp_s3_classify(0, 503, "SlowDown"), SP_S3_RETRY_THROTTLE);
    cr_expect_eq(sp_s3_classify(0, 503, NULL), SP_S3_RETRY_THROTTLE);
    cr_expect_eq(sp_s3_classify(0, 429, NULL), SP_S3_RETRY_THROTTLE);
    cr_expect_eq(sp_s3_classify(0, 400, "RequestTimeout"), SP_S3_RETRY_TRANSIENT);
    cr_expect_eq(sp_s3_classify(0, 500, "InternalError"), SP_S3_RETRY_TRANSIENT);

    static const char *fatal[] = {"SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId", "NoSuchBucket",
                                  "NoSuchKey", "NoSuchUpload", "EntityTooSmall", "XAmzContentSHA256Mismatch",
                                  "BadDigest", "InvalidArgument", "RequestTimeTooSkewed", "ExpiredToken"};
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
        long status = !strcmp(fatal[i], "NoSuchBucket") || !strcmp(fatal[i], "NoSuchKey") ||
                              !strcmp(fatal[i], "NoSuchUpload")
                          ? 404
                          : strstr(fatal[i], "Access") || strstr(fatal[i], "Signature") ||
                                    strstr(fatal[i], "Skewed") || strstr(fatal[i], "Token")
                                ? 403
                                : 400;
        cr_expect_eq(sp_s3_classify(0, status, fatal[i]), SP_S3_FATAL, "%s", fatal[i]);
    }
    cr_expect_eq(sp_s3_classify(0, 403, NULL), SP_S3_FATAL);
    cr_expect_eq(sp_s3_classify(0, 404, NULL), SP_S3_FATAL);
    cr_expect_eq(sp_s3_classify(0, 411, NULL), SP_S3_FATAL);
}

Test(s3_retry, full_jitter_backoff)
{
    cr_expect_float_eq(sp_s3_backoff_seconds(SP_S3_RETRY_TRANSIENT, 1, 0.5), 0.05, 1e-9);
    cr_expect_float_eq(sp_s3_backoff_seconds(SP_S3_RETRY_TRANSIENT, 3, 0.5), 0.2, 1e-9);
    cr_expect_float_eq(sp_s3_backoff_seconds(SP_S3_RETRY_THROTTLE, 1, 0.5), 0.5, 1e-9);
    cr_expect_float_eq(sp_s3_backoff_seconds(SP_S3_RETRY_THROTTLE, 30, 0.999), 20.0 * 0.999, 1e-9);
    cr_expect_float_eq(sp_s3_backoff_seconds(SP_S3_RETRY_TRANSIENT, 100, 0.5), 10.0, 1e-9);
    cr_expect_float_eq(sp_s3_backoff_seconds(SP_S3_RETRY_TRANSIENT, 2, 0.0), 0.0, 1e-9);
    cr_expect_lt(sp_s3_backoff_seconds(SP_S3_RETRY_THROTTLE, 40, 1.0), 20.0);
}

Test(s3_parts, part_sizes)
{
    const size_t MiB = (size_t)1 << 20, base = 8 * MiB;
    /* Unknown size: doubling every 1000 parts; 10,000 parts hold terabytes. */
    cr_expect_eq(sp_s3_part_size(base, UINT64_MAX, 1), base);
    cr_expect_eq(sp_s3_part_size(base, UINT64_MAX, 1000), base);
    cr_expect_eq(sp_s3_part_size(base, UINT64_MAX, 1001), 2 * base);
    cr_expect_eq(sp_s3_part_size(base, UINT64_MAX, 2001), 4 * base);
    uint64_t total = 0;
    for (unsigned p = 1; p <= 10000; p++) {
        size_t ps = sp_s3_part_size(base, UINT64_MAX, p);
        cr_assert_leq(ps, (size_t)5 << 30);
        cr_assert_geq(ps, 5 * MiB);
        total += ps;
    }
    cr_expect_geq(total, (uint64_t)5 << 40, "10,000 parts hold only %llu bytes", (unsigned long long)total);
    cr_expect_eq(sp_s3_part_size((size_t)4 << 30, UINT64_MAX, 9999), (size_t)5 << 30, "capped at 5 GiB");

    /* Known size: at least base, whole MiB, never more than 10,000 parts. */
    cr_expect_eq(sp_s3_part_size(base, 100, 1), base);
    cr_expect_eq(sp_s3_part_size(base, (uint64_t)10 << 30, 1), base);
    uint64_t big = (uint64_t)1 << 40; /* 1 TiB */
    size_t ps = sp_s3_part_size(base, big, 1);
    cr_expect_eq(ps % MiB, 0);
    cr_expect_leq((big + ps - 1) / ps, 10000);
    cr_expect_eq(sp_s3_part_size(base, big, 7000), ps, "a known size keeps one part size");
}

/* =========================================================== fake S3 server */

/* An in-process S3 look-alike on 127.0.0.1: enough of PutObject, multipart
 * upload, HEAD, ranged GET, DELETE and ListMultipartUploads to drive the
 * store, plus fault injection. It checks what the store sends (signature
 * header shape, body hash, Content-Length, no chunking) and counts
 * violations; it does not verify signatures (the SigV4 suite and the live
 * test against radosgw do). */

#define FAKE_MAX_OBJ 16
#define FAKE_MAX_UP 8
#define FAKE_MAX_PARTS 64

typedef struct fake_obj {
    char key[256];
    uint8_t *data;
    size_t len;
} fake_obj;

typedef struct fake_upload {
    char key[256];
    char id[32];
    uint8_t *part[FAKE_MAX_PARTS + 1];
    size_t part_len[FAKE_MAX_PARTS + 1];
    int live;
} fake_upload;

typedef struct fault {
    char method[8];
    char query_has[32]; /* "" = any */
    int status;         /* 0 = hang without answering */
    char code[32];      /* "" = no body */
    int times;
} fault;

static struct fake {
    pthread_mutex_t mu;
    int port;
    fake_obj obj[FAKE_MAX_OBJ];
    fake_upload up[FAKE_MAX_UP];
    int next_id;
    fault faults[8];
    int nfaults;
    int violations;
    char violation[256];
    char log[256][64]; /* "PUT partNumber=2" etc. */
    int nlog;
    long head_size_delta; /* lie about sizes in HEAD */
} F = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void violate(const char *what)
{
    F.violations++;
    snprintf(F.violation, sizeof(F.violation), "%s", what);
}

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void pct_decode(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        if (in[i] == '%' && i + 2 < n + 0 && hexv(in[i + 1]) >= 0 && hexv(in[i + 2]) >= 0) {
            out[o++] = (char)(hexv(in[i + 1]) * 16 + hexv(in[i + 2]));
            i += 2;
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
}

static int qparam(const char *query, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len >= nl && !strncmp(p, name, nl) && (len == nl || p[nl] == '=')) {
            const char *v = len > nl ? p + nl + 1 : p + len;
            pct_decode(v, (size_t)(p + len - v), out, cap);
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

typedef struct resp {
    int status;
    char hdrs[512];
    char *body;
    size_t body_len;
    int hang;
    int head;
} resp;

static void xml_error(resp *r, int status, const char *code)
{
    r->status = status;
    r->body = malloc(256);
    r->body_len = (size_t)snprintf(r->body, 256, "<?xml version=\"1.0\"?><Error><Code>%s</Code><Message>fake %s</Message></Error>",
                                   code, code);
}

static fake_obj *find_obj(const char *key)
{
    for (int i = 0; i < FAKE_MAX_OBJ; i++)
        if (F.obj[i].data && !strcmp(F.obj[i].key, key)) return &F.obj[i];
    return NULL;
}

static void put_obj(const char *key, uint8_t *data, size_t len)
{
    fake_obj *o = find_obj(key);
    if (!o)
        for (int i = 0; i < FAKE_MAX_OBJ && !o; i++)
            if (!F.obj[i].data) o = &F.obj[i];
    if (!o) abort();
    free(o->data);
    snprintf(o->key, sizeof(o->key), "%s", key);
    o->data = data ? data : malloc(1);
    o->len = len;
}

static fake_upload *find_up(const char *id)
{
    for (int i = 0; i < FAKE_MAX_UP; i++)
        if (F.up[i].live && !strcmp(F.up[i].id, id)) return &F.up[i];
    return NULL;
}

/* Called with F.mu held; body stays the caller's. */
static void handle(const char *method, const char *target, const char *hdrs, uint8_t *body, size_t blen, resp *r)
{
    char path[1024], key[256], query[1024] = "", v[256];
    const char *q = strchr(target, '?');
    size_t pl = q ? (size_t)(q - target) : strlen(target);
    if (q) snprintf(query, sizeof(query), "%s", q + 1);
    pct_decode(target, pl, path, sizeof(path));
    /* Path style: /bucket/key */
    const char *k = strchr(path + 1, '/');
    snprintf(key, sizeof(key), "%.200s", k ? k + 1 : "");
    if (F.nlog < 256) snprintf(F.log[F.nlog++], sizeof(F.log[0]), "%.8s %.40s", method, query);
    r->head = !strcmp(method, "HEAD");

    for (int i = 0; i < F.nfaults; i++) {
        fault *f = &F.faults[i];
        if (f->times && !strcmp(f->method, method) && (!f->query_has[0] || strstr(query, f->query_has))) {
            f->times--;
            if (f->status == 0) {
                r->hang = 1;
                return;
            }
            if (f->status == 200 && f->code[0] && !strcmp(method, "POST") && strstr(query, "uploadId")) {
                /* The CompleteMultipartUpload trap: 200 with an <Error>. */
                xml_error(r, 200, f->code);
                return;
            }
            if (f->code[0]) xml_error(r, f->status, f->code);
            else r->status = f->status;
            return;
        }
    }
    if (strncmp(path, "/bucket", 7) != 0 || (path[7] && path[7] != '/')) {
        xml_error(r, 404, "NoSuchBucket");
        return;
    }
    if (!strcmp(method, "PUT") && qparam(query, "uploadId", v, sizeof(v))) {
        char pn[16];
        fake_upload *u = find_up(v);
        if (!u) return xml_error(r, 404, "NoSuchUpload");
        qparam(query, "partNumber", pn, sizeof(pn));
        int n = atoi(pn);
        if (n < 1 || n > FAKE_MAX_PARTS) return xml_error(r, 400, "InvalidArgument");
        free(u->part[n]);
        u->part[n] = malloc(blen + 1);
        if (blen) memcpy(u->part[n], body, blen);
        u->part_len[n] = blen;
        r->status = 200;
        snprintf(r->hdrs, sizeof(r->hdrs), "ETag: \"etag-%d-%zu\"\r\n", n, blen);
        return;
    }
    if (!strcmp(method, "PUT")) {
        uint8_t *copy = malloc(blen + 1);
        if (blen) memcpy(copy, body, blen);
        put_obj(key, copy, blen);
        r->status = 200;
        snprintf(r->hdrs, sizeof(r->hdrs), "ETag: \"single\"\r\n");
        return;
    }
    if (!strcmp(method, "POST") && qparam(query, "uploads", v, sizeof(v))) {
        fake_upload *u = NULL;
        for (int i = 0; i < FAKE_MAX_UP && !u; i++)
            if (!F.up[i].live) u = &F.up[i];
        if (!u) abort();
        memset(u, 0, sizeof(*u));
        u->live = 1;
        snprintf(u->key, sizeof(u->key), "%s", key);
        snprintf(u->id, sizeof(u->id), "2~id-%d", ++F.next_id);
        r->status = 200;
        r->body = malloc(512);
        r->body_len = (size_t)snprintf(r->body, 512,
                                       "<?xml version=\"1.0\"?><InitiateMultipartUploadResult><Bucket>bucket</Bucket>"
                                       "<Key>%s</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>",
                                       key, u->id);
        return;
    }
    if (!strcmp(method, "POST") && qparam(query, "uploadId", v, sizeof(v))) {
        fake_upload *u = find_up(v);
        if (!u) return xml_error(r, 404, "NoSuchUpload");
        /* Assemble the parts the body lists, in its order. */
        size_t total = 0, off = 0;
        int nums[FAKE_MAX_PARTS], n = 0;
        for (const char *p = (const char *)body; p && (p = strstr(p, "<PartNumber>")); p++) {
            if (n == FAKE_MAX_PARTS) break;
            nums[n] = atoi(p + 12);
            if (nums[n] < 1 || nums[n] > FAKE_MAX_PARTS || !u->part[nums[n]]) return xml_error(r, 400, "InvalidPart");
            total += u->part_len[nums[n++]];
        }
        uint8_t *data = malloc(total + 1);
        for (int i = 0; i < n; i++) {
            memcpy(data + off, u->part[nums[i]], u->part_len[nums[i]]);
            off += u->part_len[nums[i]];
        }
        put_obj(u->key, data, total);
        for (int i = 0; i <= FAKE_MAX_PARTS; i++) free(u->part[i]);
        u->live = 0;
        r->status = 200;
        r->body = strdup("<?xml version=\"1.0\"?><CompleteMultipartUploadResult><ETag></ETag></CompleteMultipartUploadResult>");
        r->body_len = strlen(r->body);
        return;
    }
    if (!strcmp(method, "DELETE") && qparam(query, "uploadId", v, sizeof(v))) {
        fake_upload *u = find_up(v);
        if (!u) return xml_error(r, 404, "NoSuchUpload");
        for (int i = 0; i <= FAKE_MAX_PARTS; i++) free(u->part[i]);
        u->live = 0;
        r->status = 204;
        return;
    }
    if (!strcmp(method, "GET") && qparam(query, "uploads", v, sizeof(v))) {
        char prefix[256] = "";
        qparam(query, "prefix", prefix, sizeof(prefix));
        size_t cap = 8192, n = 0;
        r->body = malloc(cap);
        n += (size_t)snprintf(r->body + n, cap - n, "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>");
        for (int i = 0; i < FAKE_MAX_UP; i++)
            if (F.up[i].live && !strncmp(F.up[i].key, prefix, strlen(prefix)))
                n += (size_t)snprintf(r->body + n, cap - n,
                                      "<Upload><Key>%s</Key><UploadId>%s</UploadId>"
                                      "<Initiated>2020-01-01T00:00:00.000Z</Initiated></Upload>",
                                      F.up[i].key, F.up[i].id);
        n += (size_t)snprintf(r->body + n, cap - n, "</ListMultipartUploadsResult>");
        r->body_len = n;
        r->status = 200;
        return;
    }
    fake_obj *o = find_obj(key);
    if (!strcmp(method, "DELETE")) {
        if (o) {
            free(o->data);
            o->data = NULL;
        }
        r->status = 204;
        return;
    }
    if (!o) {
        if (r->head) r->status = 404;
        else xml_error(r, 404, "NoSuchKey");
        return;
    }
    if (r->head) {
        r->status = 200;
        snprintf(r->hdrs, sizeof(r->hdrs), "Content-Length: %zu\r\n", (size_t)((long)o->len + F.head_size_delta));
        return;
    }
    if (!strcmp(method, "GET")) {
        const char *rg = strcasestr(hdrs, "\r\nRange: bytes=");
        unsigned long long a = 0, b = 0;
        if (!rg || sscanf(rg + 15, "%llu-%llu", &a, &b) != 2) {
            violate("GET without a Range");
            return xml_error(r, 400, "InvalidArgument");
        }
        if (a >= o->len) return xml_error(r, 416, "InvalidRange");
        if (b >= o->len) b = o->len - 1;
        r->status = 206;
        r->body_len = (size_t)(b - a + 1);
        r->body = malloc(r->body_len);
        memcpy(r->body, o->data + a, r->body_len);
        return;
    }
    xml_error(r, 405, "MethodNotAllowed");
}

static int read_full(int fd, void *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t k = read(fd, (char *)buf + got, n - got);
        if (k <= 0) return -1;
        got += (size_t)k;
    }
    return 0;
}

static void write_full(int fd, const void *buf, size_t n)
{
    for (size_t put = 0; put < n;) {
        ssize_t k = send(fd, (const char *)buf + put, n - put, MSG_NOSIGNAL);
        if (k <= 0) return;
        put += (size_t)k;
    }
}

static void check_request(const char *method, const char *hdrs, const uint8_t *body, size_t blen, int has_len)
{
    if (!strcasestr(hdrs, "\r\nAuthorization: AWS4-HMAC-SHA256 Credential=FAKEKEY/")) violate("no SigV4 Authorization");
    if (!strcasestr(hdrs, "\r\nx-amz-date: ")) violate("no x-amz-date");
    if (strstr(hdrs, "fake-secret")) violate("the secret key was sent");
    const char *sha = strcasestr(hdrs, "\r\nx-amz-content-sha256: ");
    if (!sha) {
        violate("no x-amz-content-sha256");
        return;
    }
    unsigned char md[32];
    unsigned mdlen;
    char hex[65];
    EVP_Digest(body ? (const void *)body : "", blen, md, &mdlen, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", md[i]);
    if (strncmp(sha + 24, hex, 64) != 0) violate("x-amz-content-sha256 is not the body's hash");
    if (strcasestr(hdrs, "\r\nTransfer-Encoding:")) violate("chunked body");
    if ((!strcmp(method, "PUT") || !strcmp(method, "POST")) && !has_len) violate("body without Content-Length");
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(65536);
    for (;;) {
        size_t n = 0;
        char *end = NULL;
        while (!end) {
            if (n == 65535) goto out;
            ssize_t k = read(fd, buf + n, 65535 - n);
            if (k <= 0) goto out;
            n += (size_t)k;
            buf[n] = '\0';
            end = strstr(buf, "\r\n\r\n");
        }
        size_t hlen = (size_t)(end + 4 - buf);
        char method[16], target[2048];
        if (sscanf(buf, "%15s %2047s", method, target) != 2) goto out;
        char hdrs[65536];
        snprintf(hdrs, sizeof(hdrs), "%.*s", (int)hlen, buf);
        const char *cl = strcasestr(hdrs, "\r\nContent-Length: ");
        size_t blen = cl ? (size_t)strtoull(cl + 18, NULL, 10) : 0;
        if (strcasestr(hdrs, "\r\nExpect: 100-continue")) write_full(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        uint8_t *body = malloc(blen + 1); /* NUL-terminated for the XML scan */
        body[blen] = '\0';
        size_t have = n - hlen < blen ? n - hlen : blen;
        if (have) memcpy(body, buf + hlen, have);
        if (have < blen && read_full(fd, body + have, blen - have) != 0) {
            free(body);
            goto out;
        }
        resp r = {0};
        pthread_mutex_lock(&F.mu);
        check_request(method, hdrs, body, blen, cl != NULL);
        handle(method, target, hdrs, body, blen, &r);
        pthread_mutex_unlock(&F.mu);
        free(body);
        if (r.hang) {
            /* Say nothing until the client gives up. */
            char sink[4096];
            while (read(fd, sink, sizeof(sink)) > 0) {}
            goto out;
        }
        char head[1024];
        int hn;
        if (r.head)
            hn = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\n%s%s\r\n", r.status, r.hdrs,
                          strstr(r.hdrs, "Content-Length") ? "" : "Content-Length: 0\r\n");
        else
            hn = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\n%sContent-Length: %zu\r\n\r\n", r.status, r.hdrs,
                          r.body_len);
        write_full(fd, head, (size_t)hn);
        if (!r.head && r.body_len) write_full(fd, r.body, r.body_len);
        free(r.body);
    }
out:
    free(buf);
    close(fd);
    return NULL;
}

static void *accept_main(void *arg)
{
    int ls = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) continue;
        pthread_t t;
        pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
    return NULL;
}

static void fake_start(void)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(ls, 64), 0);
    socklen_t al = sizeof(a);
    getsockname(ls, (struct sockaddr *)&a, &al);
    F.port = ntohs(a.sin_port);
    pthread_t t;
    pthread_create(&t, NULL, accept_main, (void *)(intptr_t)ls);
    pthread_detach(t);

    char ep[64];
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", F.port);
    setenv("AWS_ENDPOINT_URL_S3", ep, 1);
    setenv("AWS_ACCESS_KEY_ID", "FAKEKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "fake-secret", 1);
    unsetenv("AWS_SESSION_TOKEN");
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("SEALPUB_S3_PART_SIZE", "5M", 1);
    setenv("SEALPUB_S3_PARTS_IN_FLIGHT", "3", 1);
    setenv("SEALPUB_S3_MAX_ATTEMPTS", "3", 1);
    unsetenv("SEALPUB_S3_STALL_SECONDS");
}

static void add_fault(const char *method, const char *query_has, int status, const char *code, int times)
{
    pthread_mutex_lock(&F.mu);
    fault *f = &F.faults[F.nfaults++];
    snprintf(f->method, sizeof(f->method), "%s", method);
    snprintf(f->query_has, sizeof(f->query_has), "%s", query_has);
    f->status = status;
    snprintf(f->code, sizeof(f->code), "%s", code);
    f->times = times;
    pthread_mutex_unlock(&F.mu);
}

static int count_log(const char *prefix)
{
    pthread_mutex_lock(&F.mu);
    int n = 0;
    for (int i = 0; i < F.nlog; i++) n += !strncmp(F.log[i], prefix, strlen(prefix));
    pthread_mutex_unlock(&F.mu);
    return n;
}

static int live_uploads(void)
{
    pthread_mutex_lock(&F.mu);
    int n = 0;
    for (int i = 0; i < FAKE_MAX_UP; i++) n += F.up[i].live;
    pthread_mutex_unlock(&F.mu);
    return n;
}

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n ? n : 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
    return p;
}

/* Writes data in uneven slices, as the pipeline would. */
static sp_status put_object(sp_store *st, const char *key, const uint8_t *data, size_t n, uint64_t hint, sp_error *err)
{
    sp_upload *up;
    sp_status s = st->ops->put_begin(st->impl, key, hint, &up, err);
    if (s != SP_OK) return s;
    size_t off = 0, step = 777777;
    while (off < n) {
        size_t k = n - off < step ? n - off : step;
        s = st->ops->put_write(up, data + off, k, err);
        if (s != SP_OK) {
            st->ops->put_abort(up);
            return s;
        }
        off += k;
        step = step * 3 % 1500007 + 1;
    }
    return st->ops->put_commit(up, err);
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

TestSuite(s3_fake, .init = fake_start, .timeout = 120);

Test(s3_fake, single_put_and_multipart_round_trip)
{
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_s3_open("s3://bucket/pre/fix/", &st, &err), SP_OK, "%s", err.msg);
    cr_expect(strstr(st.desc, "s3://bucket/pre/fix") && !strstr(st.desc, "fake-secret"), "%s", st.desc);
    const size_t MiB = 1 << 20;
    size_t sizes[] = {0, 1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1, 16 * MiB + 3};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int known = 0; known < 2; known++) {
            char key[64];
            snprintf(key, sizeof(key), "obj-%zu-%d", sizes[i], known);
            uint8_t *d = pattern(sizes[i], (unsigned)i);
            cr_assert_eq(put_object(&st, key, d, sizes[i], known ? sizes[i] : UINT64_MAX, &err), SP_OK, "%s: %s",
                         key, err.msg);
            expect_stored(&st, key, d, sizes[i]);
            free(d);
        }
    }
    /* At 5 MiB parts: 0..5 MiB is one PUT each; 5 MiB+1 two parts; 16 MiB+3 four. */
    cr_expect_eq(count_log("POST uploads"), 4, "multipart uploads started");
    cr_expect_eq(count_log("PUT partNumber"), 2 * (2 + 4));
    cr_expect_eq(live_uploads(), 0);
    cr_expect_eq(F.violations, 0, "protocol violation: %s", F.violation);

    /* Keys land under the prefix, without double slashes. */
    pthread_mutex_lock(&F.mu);
    cr_expect(find_obj("pre/fix/obj-1-0") != NULL);
    pthread_mutex_unlock(&F.mu);
    sp_store_close(&st);
}

Test(s3_fake, stat_read_remove_semantics)
{
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_OK, "%s", err.msg);
    uint8_t *d = pattern(1000, 7);
    cr_assert_eq(put_object(&st, "a/b", d, 1000, 1000, &err), SP_OK, "%s", err.msg);
    uint64_t size;
    uint8_t buf[100];
    cr_expect_eq(st.ops->stat(st.impl, "missing", &size, &err), SP_ERR_NOT_FOUND);
    cr_expect_eq(st.ops->read_range(st.impl, "missing", 0, buf, 10, &err), SP_ERR_NOT_FOUND);
    cr_expect(strstr(err.msg, "NoSuchKey") && strstr(err.msg, "GetObject"), "%s", err.msg);
    cr_expect_eq(st.ops->read_range(st.impl, "a/b", 950, buf, 100, &err), SP_ERR_TRUNCATED, "%s", err.msg);
    cr_expect_eq(st.ops->read_range(st.impl, "a/b", 1000, buf, 1, &err), SP_ERR_TRUNCATED, "%s", err.msg);
    cr_expect_eq(st.ops->read_range(st.impl, "a/b", 10, buf, 0, &err), SP_OK);
    cr_assert_eq(st.ops->read_range(st.impl, "a/b", 900, buf, 100, &err), SP_OK, "%s", err.msg);
    cr_expect(memcmp(buf, d + 900, 100) == 0);
    cr_expect_eq(st.ops->remove(st.impl, "a/b", &err), SP_OK, "%s", err.msg);
    cr_expect_eq(st.ops->remove(st.impl, "a/b", &err), SP_OK, "absent is not an error: %s", err.msg);
    cr_expect_eq(st.ops->stat(st.impl, "a/b", &size, &err), SP_ERR_NOT_FOUND);
    cr_expect_eq(st.ops->stat(st.impl, "/abs", &size, &err), SP_ERR_USAGE);
    cr_expect_eq(st.ops->stat(st.impl, "a//b", &size, &err), SP_ERR_USAGE);
    free(d);
    sp_store_close(&st);
}

Test(s3_fake, retries_throttling_and_5xx_then_succeeds)
{
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_OK, "%s", err.msg);
    add_fault("PUT", "", 503, "SlowDown", 1);
    add_fault("PUT", "partNumber=2", 500, "InternalError", 2);
    size_t n = 12 << 20;
    uint8_t *d = pattern(n, 3);
    cr_assert_eq(put_object(&st, "retried", d, n, UINT64_MAX, &err), SP_OK, "%s", err.msg);
    expect_stored(&st, "retried", d, n);
    cr_expect_eq(count_log("PUT partNumber=2"), 3, "part 2 sent three times");
    cr_expect_eq(F.violations, 0, "%s", F.violation);
    free(d);
    sp_store_close(&st);
}

Test(s3_fake, complete_200_with_error_body_is_retried)
{
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_OK, "%s", err.msg);
    add_fault("POST", "uploadId", 200, "InternalError", 1);
    size_t n = 11 << 20;
    uint8_t *d = pattern(n, 4);
    cr_assert_eq(put_object(&st, "late-error", d, n, n, &err), SP_OK, "%s", err.msg);
    cr_expect_eq(count_log("POST uploadId"), 2);
    expect_stored(&st, "late-error", d, n);
    free(d);
    sp_store_close(&st);
}

Test(s3_fake, complete_200_with_fatal_error_fails_and_aborts)
{
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_OK, "%s", err.msg);
    add_fault("POST", "uploadId", 200, "InvalidPart", 5);
    size_t n = 11 << 20;
    uint8_t *d = pattern(n, 5);
    cr_expect_eq(put_object(&st, "bad-complete", d, n, n, &err), SP_ERR_STORE);
    cr_expect(strstr(err.msg, "CompleteMultipartUpload") && strstr(err.msg, "InvalidPart"), "%s", err.msg);
    cr_expect_eq(count_log("POST uploadId"), 1, "a fatal code is not retried");
    cr_expect_eq(count_log("DELETE uploadId"), 1, "the upload was aborted");
    cr_expect_eq(live_uploads(), 0);
    uint64_t size;
    cr_expect_eq(st.ops->stat(st.impl, "bad-complete", &size, &err), SP_ERR_NOT_FOUND);
    free(d);
    sp_store_close(&st);
}

Test(s3_fake, auth_errors_are_not_retried_and_read_clearly)
{
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_OK, "%s", err.msg);
    add_fault("PUT", "", 403, "SignatureDoesNotMatch", 10);
    uint8_t d[10] = {0};
    cr_expect_eq(put_object(&st, "denied", d, sizeof(d), sizeof(d), &err), SP_ERR_STORE);
    cr_expect(strstr(err.msg, "PutObject") && strstr(err.msg, "403") && strstr(err.msg, "SignatureDoesNotMatch") &&
                  strstr(err.msg, "s3://bucket/denied"),
              "%s", err.msg);
    cr_expect(strchr(err.msg, '\n') == NULL, "one line: %s", err.msg);
    cr_expect(!strstr(err.msg, "fake-secret") && !strstr(err.msg, "Signature="), "%s", err.msg);
    cr_expect_eq(count_log("PUT"), 1);
    sp_store_close(&st);
}

Test(s3_fake, failing_part_aborts_the_upload)
{
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_OK, "%s", err.msg);
    add_fault("PUT", "partNumber=2", 500, "InternalError", 100);
    size_t n = 30 << 20;
    uint8_t *d = pattern(n, 6);
    cr_expect_eq(put_object(&st, "doomed", d, n, UINT64_MAX, &err), SP_ERR_STORE);
    cr_expect(strstr(err.msg, "UploadPart 2") && strstr(err.msg, "InternalError") && strstr(err.msg, "3 attempts"),
              "%s", err.msg);
    cr_expect_eq(count_log("PUT partNumber=2"), 3);
    cr_expect_geq(count_log("DELETE uploadId"), 1);
    cr_expect_eq(live_uploads(), 0);
    free(d);
    sp_store_close(&st);
}

Test(s3_fake, stalled_transfer_is_cut_and_retried)
{
    setenv("SEALPUB_S3_STALL_SECONDS", "1", 1);
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_OK, "%s", err.msg);
    add_fault("PUT", "", 0, "", 1); /* the first PUT hangs */
    uint8_t d[100] = {1};
    cr_assert_eq(put_object(&st, "stalled", d, sizeof(d), sizeof(d), &err), SP_OK, "%s", err.msg);
    cr_expect_eq(count_log("PUT"), 2);
    expect_stored(&st, "stalled", d, sizeof(d));

    add_fault("HEAD", "", 0, "", 3); /* every attempt hangs */
    uint64_t size;
    cr_expect_eq(st.ops->stat(st.impl, "stalled", &size, &err), SP_ERR_STORE);
    cr_expect(strstr(err.msg, "HeadObject") && strstr(err.msg, "after 3 attempts"), "%s", err.msg);
    sp_store_close(&st);
}

Test(s3_fake, size_mismatch_after_commit_fails_and_deletes)
{
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_OK, "%s", err.msg);
    F.head_size_delta = -1;
    uint8_t d[100] = {2};
    cr_expect_eq(put_object(&st, "short", d, sizeof(d), sizeof(d), &err), SP_ERR_STORE);
    cr_expect(strstr(err.msg, "99 bytes") && strstr(err.msg, "expected 100"), "%s", err.msg);
    F.head_size_delta = 0;
    uint64_t size;
    cr_expect_eq(st.ops->stat(st.impl, "short", &size, &err), SP_ERR_NOT_FOUND, "the bad object was deleted");
    sp_store_close(&st);
}

static volatile int cancel_flag;

Test(s3_fake, cancel_flag_aborts_with_interrupted)
{
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_OK, "%s", err.msg);
    sp_s3_set_cancel_flag(&cancel_flag);
    sp_upload *up;
    cr_assert_eq(st.ops->put_begin(st.impl, "cancelled", UINT64_MAX, &up, &err), SP_OK);
    size_t n = 12 << 20;
    uint8_t *d = pattern(n, 8);
    cr_assert_eq(st.ops->put_write(up, d, n, &err), SP_OK, "%s", err.msg);
    cr_expect_eq(live_uploads(), 1);
    cancel_flag = 1;
    cr_expect_eq(st.ops->put_write(up, d, 10, &err), SP_ERR_INTERRUPTED);
    cr_expect(strstr(err.msg, "interrupted") && strstr(err.msg, "aborted"), "%s", err.msg);
    cr_expect_eq(live_uploads(), 0, "the multipart upload was aborted");
    st.ops->put_abort(up);
    cancel_flag = 0;
    sp_s3_set_cancel_flag(NULL);
    free(d);
    sp_store_close(&st);
}

static int count_upload(void *ctx, const sp_s3_upload_info *u)
{
    (*(int *)ctx)++;
    cr_expect(u->initiated > 0);
    return 0;
}

Test(s3_fake, abort_stale_uploads_under_the_prefix)
{
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_s3_open("s3://bucket/p", &st, &err), SP_OK, "%s", err.msg);
    size_t n = 6 << 20;
    uint8_t *d = pattern(n, 9);
    sp_upload *up1, *up2;
    cr_assert_eq(st.ops->put_begin(st.impl, "left1", UINT64_MAX, &up1, &err), SP_OK);
    cr_assert_eq(st.ops->put_write(up1, d, n, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(st.ops->put_write(up1, d, 1, &err), SP_OK, "%s", err.msg); /* starts the multipart upload */
    sp_store other;
    cr_assert_eq(sp_store_s3_open("s3://bucket/q", &other, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(other.ops->put_begin(other.impl, "elsewhere", UINT64_MAX, &up2, &err), SP_OK);
    cr_assert_eq(other.ops->put_write(up2, d, n, &err), SP_OK);
    cr_assert_eq(other.ops->put_write(up2, d, 1, &err), SP_OK);
    cr_assert_eq(live_uploads(), 2);

    int listed = 0;
    cr_assert_eq(sp_s3_list_uploads("s3://bucket/p", count_upload, &listed, &err), SP_OK, "%s", err.msg);
    cr_expect_eq(listed, 1, "only the prefix's uploads are listed");

    unsigned aborted = 99;
    cr_assert_eq(sp_s3_abort_stale("s3://bucket/p", 10L * 365 * 86400, &aborted, &err), SP_OK, "%s", err.msg);
    cr_expect_eq(aborted, 0, "nothing is ten years old");
    cr_assert_eq(sp_s3_abort_stale("s3://bucket/p", 60, &aborted, &err), SP_OK, "%s", err.msg);
    cr_expect_eq(aborted, 1);
    cr_expect_eq(live_uploads(), 1, "the other prefix's upload is untouched");
    /* Committing the upload whose parts were aborted fails cleanly. */
    cr_expect_eq(st.ops->put_commit(up1, &err), SP_ERR_STORE);
    cr_expect(strstr(err.msg, "NoSuchUpload"), "%s", err.msg);
    other.ops->put_abort(up2);
    cr_expect_eq(live_uploads(), 0);
    free(d);
    sp_store_close(&other);
    sp_store_close(&st);
}

Test(s3_fake, missing_bucket_and_unreachable_endpoint)
{
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_s3_open("s3://no-such-bucket", &st, &err), SP_OK, "%s", err.msg);
    uint8_t d[1] = {0};
    cr_expect_eq(put_object(&st, "x", d, 1, 1, &err), SP_ERR_STORE);
    cr_expect(strstr(err.msg, "NoSuchBucket") && strstr(err.msg, "404"), "%s", err.msg);
    sp_store_close(&st);

    setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1", 1);
    setenv("SEALPUB_S3_MAX_ATTEMPTS", "2", 1);
    cr_assert_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_OK, "%s", err.msg);
    cr_expect_eq(put_object(&st, "x", d, 1, 1, &err), SP_ERR_STORE);
    cr_expect(strstr(err.msg, "PutObject") && strstr(err.msg, "127.0.0.1:1") && strstr(err.msg, "after 2 attempts"),
              "%s", err.msg);
    sp_store_close(&st);
}

/* ============================================================ configuration */

Test(s3_config, rejects_bad_urls_and_settings)
{
    setenv("AWS_ACCESS_KEY_ID", "AK", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "very-secret", 1);
    setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9", 1);
    sp_store st;
    sp_error err = {0};
    static const char *bad_urls[] = {"s3://", "s3://AB", "s3://a", "s3://bucket_name", "s3://-bucket",
                                     "s3://bucket/a//b", "file:///x", "s3:/bucket"};
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++)
        cr_expect_eq(sp_store_s3_open(bad_urls[i], &st, &err), SP_ERR_USAGE, "accepted %s", bad_urls[i]);

    static const struct {
        const char *var, *value;
    } bad_env[] = {
        {"AWS_ENDPOINT_URL_S3", "ftp://host"},
        {"AWS_ENDPOINT_URL_S3", "http://user:s3cr3tpw@host"},
        {"AWS_ENDPOINT_URL_S3", "http://host/base/path"},
        {"AWS_REGION", "US EAST"},
        {"SEALPUB_S3_PART_SIZE", "4M"},
        {"SEALPUB_S3_PART_SIZE", "6G"},
        {"SEALPUB_S3_PARTS_IN_FLIGHT", "0"},
        {"SEALPUB_S3_PARTS_IN_FLIGHT", "33"},
        {"SEALPUB_S3_MAX_ATTEMPTS", "x"},
        {"SEALPUB_S3_STALL_SECONDS", "0"},
        {"AWS_ACCESS_KEY_ID", ""},
    };
    for (size_t i = 0; i < sizeof(bad_env) / sizeof(bad_env[0]); i++) {
        const char *old = getenv(bad_env[i].var);
        char *saved = old ? strdup(old) : NULL;
        setenv(bad_env[i].var, bad_env[i].value, 1);
        cr_expect_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_ERR_USAGE, "%s=%s accepted", bad_env[i].var,
                     bad_env[i].value);
        cr_expect(!strstr(err.msg, "very-secret") && !strstr(err.msg, "s3cr3tpw"), "%s", err.msg);
        if (saved) setenv(bad_env[i].var, saved, 1);
        else unsetenv(bad_env[i].var);
        free(saved);
    }
    cr_assert_eq(sp_store_s3_open("s3://my.bucket/x/", &st, &err), SP_OK, "%s", err.msg);
    cr_expect_str_eq(st.desc, "s3://my.bucket/x at http://127.0.0.1:9");
    sp_store_close(&st);

    unsetenv("AWS_ENDPOINT_URL_S3");
    unsetenv("AWS_ENDPOINT_URL");
    setenv("AWS_REGION", "eu-west-3", 1);
    cr_assert_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_OK, "%s", err.msg);
    cr_expect_str_eq(st.desc, "s3://bucket (eu-west-3)");
    sp_store_close(&st);
}
