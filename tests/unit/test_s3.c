/* test_s3.c: the S3 store offline: XML parsing, the retry policy, backoff, part sizes and configuration. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "store/s3_private.h"
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

/* The upload logic (retries, stall cuts, Complete answering 200 with an
 * <Error>, aborts, the size check after commit, cancel, stale uploads) is
 * tested against the real radosgw, with faults injected by
 * tests/faults/fault_proxy.py: test_s3_faults.c, test_s3_live.c and
 * tests/integration/it_faults.sh. No fake server here. */

/* ============================================================ configuration */

/* Stand-in credentials (the secret "very-secret", which no message may echo; no request is made), and the
 * endpoint unless NULL. */
static void fake_credentials(const char *endpoint)
{
    setenv("AWS_ACCESS_KEY_ID", "AK", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "very-secret", 1);
    if (endpoint) setenv("AWS_ENDPOINT_URL_S3", endpoint, 1);
}

Test(s3_config, rejects_bad_urls_and_settings)
{
    fake_credentials("http://127.0.0.1:9");
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

/* libcurl drops "." and ".." segments from what it sends after the signature
 * covered them (issue 13): such prefixes are refused before any request. */
Test(s3_config, refuses_dot_segments_in_the_prefix)
{
    fake_credentials("http://127.0.0.1:9");
    sp_store st;
    sp_error err = {0};
    static const char *bad[] = {"s3://bucket/a/../b", "s3://bucket/..", "s3://bucket/./x", "s3://bucket/a/.",
                                "s3://bucket/a/./b/", "s3://bucket/a/..//b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(sp_store_s3_open(bad[i], &st, &err), SP_ERR_USAGE, "accepted %s", bad[i]);
        cr_expect(strstr(err.msg, "segment") != NULL, "%s: %s", bad[i], err.msg);
    }
    static const char *good[] = {"s3://bucket/a..b/.c/d.", "s3://bucket/...", "s3://bucket/.hidden"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cr_expect_eq(sp_store_s3_open(good[i], &st, &err), SP_OK, "%s: %s", good[i], err.msg);
        sp_store_close(&st);
    }
}

/* Plain http carries the session token in clear: loopback only, unless
 * SEALPUB_ALLOW_HTTP=1 (issue 13). */
Test(s3_config, plain_http_only_to_loopback_or_by_opt_in)
{
    fake_credentials(NULL);
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("SEALPUB_ALLOW_HTTP");
    sp_store st;
    sp_error err = {0};
    static const char *loopback[] = {"http://127.0.0.1:9", "http://127.1.2.3", "http://localhost:9000",
                                     "http://LOCALHOST", "http://[::1]:9000", "https://s3.example.com"};
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
        setenv("AWS_ENDPOINT_URL_S3", loopback[i], 1);
        cr_expect_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_OK, "%s: %s", loopback[i], err.msg);
        sp_store_close(&st);
    }
    static const char *remote[] = {"http://s3.example.com", "http://10.0.0.1:9000", "http://[::2]:9000",
                                   "http://128.0.0.1", "http://localhost.example.com", "http://127.0.0.1.example.com"};
    for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
        setenv("AWS_ENDPOINT_URL_S3", remote[i], 1);
        cr_expect_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_ERR_USAGE, "accepted %s", remote[i]);
        cr_expect(strstr(err.msg, "SEALPUB_ALLOW_HTTP") != NULL, "%s: %s", remote[i], err.msg);
        setenv("SEALPUB_ALLOW_HTTP", "0", 1);
        cr_expect_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_ERR_USAGE, "accepted %s with =0", remote[i]);
        setenv("SEALPUB_ALLOW_HTTP", "1", 1);
        cr_expect_eq(sp_store_s3_open("s3://bucket", &st, &err), SP_OK, "%s opted in: %s", remote[i], err.msg);
        sp_store_close(&st);
        unsetenv("SEALPUB_ALLOW_HTTP");
    }
    unsetenv("AWS_ENDPOINT_URL_S3");
}

/* CRC32C for x-amz-checksum-crc32c: the check values of RFC 3720 (iSCSI)
 * and the catalogue's "123456789", whatever path (CPU instruction or table)
 * this machine takes; chained calls over odd, unaligned splits give the
 * one-shot value. */
Test(s3, crc32c_known_values_and_chaining)
{
    uint8_t buf[4096];
    memset(buf, 0, 32);
    cr_expect_eq(s3_crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, 32);
    cr_expect_eq(s3_crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
    cr_expect_eq(s3_crc32c(0, buf, 32), 0x46DD794Eu);
    cr_expect_eq(s3_crc32c(0, "123456789", 9), 0xE3069283u);
    cr_expect_eq(s3_crc32c(0, "", 0), 0u);
    char b64[12];
    s3_crc32c_b64(0xE3069283u, b64);
    cr_expect_str_eq(b64, "4waSgw==");
    for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (uint8_t)(i * 131 + 7);
    uint32_t whole = s3_crc32c(0, buf + 1, sizeof(buf) - 1);
    uint32_t c = 0;
    size_t splits[] = {3, 1, 7, 64, 1000, 5, 2000};
    size_t off = 1;
    for (size_t i = 0; i < SP_ARRAY_LEN(splits); i++) {
        c = s3_crc32c(c, buf + off, splits[i]);
        off += splits[i];
    }
    c = s3_crc32c(c, buf + off, sizeof(buf) - off);
    cr_expect_eq(c, whole);
}

/* The whole object's CRC32C from its parts' (FULL_OBJECT), for every split
 * of a buffer, empty parts included, against the CRC of the whole. */
Test(s3, crc32c_combine_equals_the_crc_of_the_concatenation)
{
    uint8_t buf[4099];
    for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (uint8_t)(i * 131u + 7u);
    uint32_t whole = s3_crc32c(0, buf, sizeof(buf));
    size_t cuts[] = {0, 1, 7, 8, 63, 64, 1000, 4096, 4098, 4099};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        size_t c = cuts[i];
        uint32_t a = s3_crc32c(0, buf, c), b = s3_crc32c(0, buf + c, sizeof(buf) - c);
        cr_expect_eq(s3_crc32c_combine(a, b, sizeof(buf) - c), whole, "split at %zu", c);
    }
    /* Three parts, folded left as the upload does. */
    uint32_t acc = 0;
    size_t offs[] = {0, 1500, 3000, sizeof(buf)};
    for (int k = 0; k < 3; k++)
        acc = s3_crc32c_combine(acc, s3_crc32c(0, buf + offs[k], offs[k + 1] - offs[k]), offs[k + 1] - offs[k]);
    cr_expect_eq(acc, whole);
    /* A long second part (many squarings of x^8). */
    size_t big = (size_t)3 << 20;
    uint8_t *z = calloc(1, big + 9);
    cr_assert_not_null(z);
    memcpy(z, "123456789", 9);
    cr_expect_eq(s3_crc32c_combine(0xE3069283u, s3_crc32c(0, z + 9, big), big), s3_crc32c(0, z, big + 9));
    free(z);
}

/* db recover matches journal entries to the store by place, not by the
 * whole description: a region learnt at publish and configured at recover
 * is the same bucket; another bucket, prefix or endpoint is not. */
Test(s3, store_same_location_ignores_the_region_note)
{
    const char *learnt = "s3://b/p (eu-west-3, the bucket's region, learnt from the server)";
    cr_expect(sp_store_same_location(learnt, "s3://b/p (eu-west-3)"));
    cr_expect(sp_store_same_location("s3://b/p (us-east-1)", learnt));
    cr_expect(!sp_store_same_location(learnt, "s3://b/q (eu-west-3)"));
    cr_expect(!sp_store_same_location(learnt, "s3://c/p (eu-west-3)"));
    cr_expect(!sp_store_same_location("s3://b (us-east-1)", "s3://b/p (us-east-1)"));
    cr_expect(sp_store_same_location("s3://b/p at http://127.0.0.1:7480", "s3://b/p at http://127.0.0.1:7480"));
    cr_expect(!sp_store_same_location("s3://b/p at http://127.0.0.1:7480", "s3://b/p at http://127.0.0.1:7481"));
    cr_expect(sp_store_same_location("file:///srv/a", "file:///srv/a"));
    cr_expect(!sp_store_same_location("file:///srv/a", "file:///srv/ab"));
    cr_expect(!sp_store_same_location("file:///srv/a", "s3://srv/a (us-east-1)"));
}
