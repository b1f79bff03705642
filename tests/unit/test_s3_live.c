/* test_s3_live.c: the S3 store against a real S3 service (the local radosgw of scripts/services.sh). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_helpers.h"
#include "store/store.h"
#include "store/store_s3.h"
#include "skip.h"

/* The server's coordinates survive tests/unit/hermetic.c's clearing. */
const char *const sp_test_env_keep[] = {"AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                        "AWS_REGION", "AWS_CA_BUNDLE", "SEALPUB_TEST_S3", NULL};

/* Needs AWS_ENDPOINT_URL_S3 and SEALPUB_TEST_S3 (s3://bucket[/prefix]) plus
 * credentials, as `scripts/services.sh start` writes them to
 * /tmp/sealpub-services/env. Without them every test is skipped, with the
 * reason, unless SEALPUB_REQUIRE_SERVICES=1, where a missing service is a
 * failure: CI sets it so the live checks cannot vanish silently. */

#define MiB ((size_t)1 << 20)

static char base_url[1024]; /* SEALPUB_TEST_S3 plus a prefix unique to this run */

static void need_service(void)
{
    const char *ep = getenv("AWS_ENDPOINT_URL_S3"), *url = getenv("SEALPUB_TEST_S3");
    if (!ep || !*ep || !url || !*url) {
        SP_SKIP_OR_FAIL("no S3 service configured (AWS_ENDPOINT_URL_S3 and SEALPUB_TEST_S3 unset; "
                        "scripts/services.sh start writes them to /tmp/sealpub-services/env)");
    }
    /* Small parts so that the multipart boundaries sit at 5 MiB. */
    setenv("SEALPUB_S3_PART_SIZE", "5M", 1);
    setenv("SEALPUB_S3_PARTS_IN_FLIGHT", "4", 1);
    size_t n = strlen(url);
    while (n && url[n - 1] == '/') n--;
    snprintf(base_url, sizeof(base_url), "%.*s/test-s3-live-%ld-%d", (int)n, url, (long)time(NULL), (int)getpid());
}


static int count_uploads(void *ctx, const sp_s3_upload_info *u)
{
    (*(int *)ctx)++;
    cr_log_info("upload left: %s (%s)", u->key, u->upload_id);
    return 0;
}

static int uploads_left(void)
{
    int n = 0;
    sp_error err = {0};
    cr_assert_eq(sp_s3_list_uploads(base_url, count_uploads, &n, &err), SP_OK, "%s", err.msg);
    return n;
}

TestSuite(s3_live, .timeout = 300);

Test(s3_live, put_stat_read_remove_across_part_boundaries)
{
    need_service();
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_open(base_url, &st, &err), SP_OK, "%s", err.msg);
    static const struct {
        size_t size;
        int known;
    } cases[] = {
        {0, 1}, {1, 1}, {5 * MiB - 1, 1}, {5 * MiB, 1}, {5 * MiB + 1, 1},
        {0, 0}, {1, 0}, {5 * MiB - 1, 0}, {5 * MiB, 0}, {5 * MiB + 1, 0},
        {40 * MiB, 0}, /* multipart from an unknown size: 8 parts, 4 in flight */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = cases[i].size;
        char key[128];
        snprintf(key, sizeof(key), "sizes/obj-%zu-%s", n, cases[i].known ? "known" : "unknown");
        uint8_t *d = sp_test_pattern(n, (unsigned)i + 1);
        cr_assert_eq(sp_test_put_object(&st, key, d, n, cases[i].known ? n : UINT64_MAX, &err), SP_OK, "%s: %s", key, err.msg);

        uint64_t size = 12345;
        cr_assert_eq(st.ops->stat(st.impl, key, &size, &err), SP_OK, "%s", err.msg);
        cr_expect_eq(size, n, "%s: stat says %llu", key, (unsigned long long)size);
        if (n) {
            uint8_t *back = malloc(n);
            /* Two reads, the second across the first part boundary when there is one. */
            size_t cut = n > 5 * MiB ? 5 * MiB - 7 : n / 2;
            cr_assert_eq(st.ops->read_range(st.impl, key, 0, back, cut, &err), SP_OK, "%s", err.msg);
            cr_assert_eq(st.ops->read_range(st.impl, key, cut, back + cut, n - cut, &err), SP_OK, "%s", err.msg);
            cr_expect(memcmp(back, d, n) == 0, "%s: content differs", key);
            free(back);
            uint8_t b[16];
            cr_expect_eq(st.ops->read_range(st.impl, key, n - 1, b, 2, &err), SP_ERR_TRUNCATED, "%s: %s", key, err.msg);
        }
        uint8_t one;
        cr_expect_eq(st.ops->read_range(st.impl, key, n, &one, 1, &err), SP_ERR_TRUNCATED, "%s: %s", key, err.msg);
        cr_expect_eq(st.ops->remove(st.impl, key, &err), SP_OK, "%s", err.msg);
        cr_expect_eq(st.ops->stat(st.impl, key, &size, &err), SP_ERR_NOT_FOUND, "%s", key);
        free(d);
    }
    cr_expect_eq(st.ops->remove(st.impl, "sizes/never-existed", &err), SP_OK, "%s", err.msg);
    cr_expect_eq(uploads_left(), 0);
    sp_store_close(&st);
}

Test(s3_live, keys_that_need_encoding_are_signed_right)
{
    need_service();
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_open(base_url, &st, &err), SP_OK, "%s", err.msg);
    static const char *keys[] = {"enc/a b+c=d&e~f.g_h-i", "enc/caf\xC3\xA9 $ (1) [2] ,;!'*", "enc/x%2Fy%20z"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        uint8_t d[3] = {1, 2, (uint8_t)i};
        cr_assert_eq(sp_test_put_object(&st, keys[i], d, sizeof(d), sizeof(d), &err), SP_OK, "%s: %s", keys[i], err.msg);
        uint8_t back[3];
        cr_assert_eq(st.ops->read_range(st.impl, keys[i], 0, back, 3, &err), SP_OK, "%s", err.msg);
        cr_expect(memcmp(back, d, 3) == 0);
        cr_expect_eq(st.ops->remove(st.impl, keys[i], &err), SP_OK, "%s", err.msg);
    }
    sp_store_close(&st);
}

Test(s3_live, abort_leaves_no_multipart_upload)
{
    need_service();
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_open(base_url, &st, &err), SP_OK, "%s", err.msg);
    size_t n = 12 * MiB;
    uint8_t *d = sp_test_pattern(n, 99);
    sp_upload *up;
    cr_assert_eq(st.ops->put_begin(st.impl, "aborted/obj", UINT64_MAX, &up, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(st.ops->put_write(up, d, n, &err), SP_OK, "%s", err.msg);
    cr_expect_eq(uploads_left(), 1, "a multipart upload is in progress");
    st.ops->put_abort(up);
    cr_expect_eq(uploads_left(), 0, "abort left a multipart upload behind");
    uint64_t size;
    cr_expect_eq(st.ops->stat(st.impl, "aborted/obj", &size, &err), SP_ERR_NOT_FOUND);
    free(d);
    sp_store_close(&st);
}

static volatile int cancel_flag;

Test(s3_live, cancel_flag_interrupts_and_aborts)
{
    need_service();
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_open(base_url, &st, &err), SP_OK, "%s", err.msg);
    sp_store_set_cancel(&st, &cancel_flag);
    size_t n = 16 * MiB;
    uint8_t *d = sp_test_pattern(n, 5);
    sp_upload *up;
    cr_assert_eq(st.ops->put_begin(st.impl, "cancelled/obj", UINT64_MAX, &up, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(st.ops->put_write(up, d, n, &err), SP_OK, "%s", err.msg);
    cancel_flag = 1;
    cr_expect_eq(st.ops->put_write(up, d, 1, &err), SP_ERR_INTERRUPTED, "%s", err.msg);
    cr_expect(strstr(err.msg, "interrupted"), "%s", err.msg);
    cr_expect_eq(st.ops->put_commit(up, &err), SP_ERR_INTERRUPTED);
    cancel_flag = 0;
    sp_store_set_cancel(&st, NULL);
    cr_expect_eq(uploads_left(), 0);
    free(d);
    sp_store_close(&st);
}

Test(s3_live, abort_stale_cleans_the_prefix)
{
    need_service();
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_open(base_url, &st, &err), SP_OK, "%s", err.msg);
    size_t n = 6 * MiB;
    uint8_t *d = sp_test_pattern(n, 6);
    sp_upload *up;
    cr_assert_eq(st.ops->put_begin(st.impl, "stale/obj", UINT64_MAX, &up, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(st.ops->put_write(up, d, n, &err), SP_OK, "%s", err.msg); /* part 1 on the wire */
    cr_expect_eq(uploads_left(), 1);
    unsigned aborted = 99;
    cr_assert_eq(sp_s3_abort_stale(base_url, 3600, &aborted, &err), SP_OK, "%s", err.msg);
    cr_expect_eq(aborted, 0, "an upload seconds old is not stale after an hour");
    sleep(2);
    cr_assert_eq(sp_s3_abort_stale(base_url, 1, &aborted, &err), SP_OK, "%s", err.msg);
    cr_expect_eq(aborted, 1);
    cr_expect_eq(uploads_left(), 0);
    /* The writer finds its upload gone: a clean store error. */
    cr_expect_eq(st.ops->put_commit(up, &err), SP_ERR_STORE);
    cr_expect(strstr(err.msg, "NoSuchUpload"), "%s", err.msg);
    free(d);
    sp_store_close(&st);
}

Test(s3_live, wrong_secret_is_signature_does_not_match)
{
    need_service();
    setenv("AWS_SECRET_ACCESS_KEY", "not-the-right-secret-key", 1);
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_open(base_url, &st, &err), SP_OK, "%s", err.msg);
    uint8_t d[4] = {0};
    cr_expect_eq(sp_test_put_object(&st, "denied/obj", d, sizeof(d), sizeof(d), &err), SP_ERR_STORE);
    cr_log_info("wrong secret: %s", err.msg);
    cr_expect(strstr(err.msg, "SignatureDoesNotMatch") && strstr(err.msg, "403") && strstr(err.msg, "PutObject"),
              "%s", err.msg);
    cr_expect(!strstr(err.msg, "not-the-right-secret-key") && !strstr(err.msg, "Signature="), "%s", err.msg);
    sp_store_close(&st);
}

Test(s3_live, missing_bucket_is_no_such_bucket)
{
    need_service();
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_test_open_missing_bucket(&st, &err), SP_OK, "%s", err.msg);
    uint8_t d[4] = {0};
    cr_expect_eq(sp_test_put_object(&st, "obj", d, sizeof(d), sizeof(d), &err), SP_ERR_STORE);
    cr_log_info("missing bucket: %s", err.msg);
    cr_expect(strstr(err.msg, "NoSuchBucket") && strstr(err.msg, "404"), "%s", err.msg);
    /* And with multipart: CreateMultipartUpload fails the same way. */
    size_t n = 6 * MiB;
    uint8_t *big = sp_test_pattern(n, 1);
    cr_expect_eq(sp_test_put_object(&st, "obj", big, n, UINT64_MAX, &err), SP_ERR_STORE);
    cr_expect(strstr(err.msg, "NoSuchBucket"), "%s", err.msg);
    free(big);
    sp_store_close(&st);
}

Test(s3_live, unreachable_endpoint_is_a_clear_error)
{
    need_service();
    setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1", 1);
    setenv("SEALPUB_S3_MAX_ATTEMPTS", "2", 1);
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_open(base_url, &st, &err), SP_OK, "%s", err.msg);
    uint8_t d[4] = {0};
    cr_expect_eq(sp_test_put_object(&st, "obj", d, sizeof(d), sizeof(d), &err), SP_ERR_STORE);
    cr_log_info("unreachable: %s", err.msg);
    cr_expect(strstr(err.msg, "127.0.0.1:1") && strstr(err.msg, "connect") && strstr(err.msg, "after 2 attempts"),
              "%s", err.msg);
    uint64_t size;
    cr_expect_eq(st.ops->stat(st.impl, "obj", &size, &err), SP_ERR_STORE, "%s", err.msg);
    sp_store_close(&st);
}

/* The object's HEAD answer, by curl's own SigV4 (an independent client). */
static void head_by_curl(const char *key, char *out, size_t cap)
{
    const char *url = base_url + 5; /* "bucket/prefix..." */
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "curl -sS -f -I --aws-sigv4 'aws:amz:%s:s3' --user \"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY\" "
             "-H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' "
             "\"$AWS_ENDPOINT_URL_S3/%s/%s\" | tr -d '\\r'",
             getenv("AWS_REGION") ? getenv("AWS_REGION") : "us-east-1", url, key);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    cr_assert_eq(pclose(p), 0, "curl HEAD failed: %s", out);
}

/* User metadata (x-amz-meta-*) set before the first write reaches the
 * object, on a single PUT and on a multipart upload; bad names and values
 * are refused, and metadata after the first byte is a caller error. */
Test(s3_live, metadata_on_single_and_multipart_objects)
{
    need_service();
    sp_store st;
    sp_error err = {0};
    cr_assert_eq(sp_store_open(base_url, &st, &err), SP_OK, "%s", err.msg);
    size_t sizes[] = {1000, 11 * MiB};
    for (int i = 0; i < 2; i++) {
        char key[32];
        snprintf(key, sizeof(key), "meta-%d", i);
        uint8_t *d = sp_test_pattern(sizes[i], 9);
        sp_upload *up;
        cr_assert_eq(st.ops->put_begin(st.impl, key, sizes[i], &up, &err), SP_OK, "%s", err.msg);
        cr_expect_eq(sp_store_put_meta(&st, up, "Bad_Name", "x", &err), SP_ERR_USAGE);
        cr_expect_eq(sp_store_put_meta(&st, up, "ok", "line\nbreak", &err), SP_ERR_USAGE);
        cr_assert_eq(sp_store_put_meta(&st, up, "sealpub-artifact-id", "0123456789abcdef", &err), SP_OK, "%s", err.msg);
        cr_assert_eq(sp_store_put_meta(&st, up, "sealpub-identity", "model/dev/amd64/1", &err), SP_OK, "%s", err.msg);
        cr_assert_eq(st.ops->put_write(up, d, sizes[i], &err), SP_OK, "%s", err.msg);
        cr_expect_eq(sp_store_put_meta(&st, up, "late", "x", &err), SP_ERR_INTERNAL);
        cr_assert_eq(st.ops->put_commit(up, &err), SP_OK, "%s", err.msg);
        char head[8192];
        head_by_curl(key, head, sizeof(head));
        cr_expect(strstr(head, "x-amz-meta-sealpub-artifact-id: 0123456789abcdef") &&
                      strstr(head, "x-amz-meta-sealpub-identity: model/dev/amd64/1"),
                  "%s: %s", key, head);
        free(d);
    }
    sp_store_close(&st);
}
