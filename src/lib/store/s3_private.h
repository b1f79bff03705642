/* s3_private.h: what the S3 store's files share: the store handle, one HTTP exchange, addressing helpers. */
#ifndef SP_S3_PRIVATE_H
#define SP_S3_PRIVATE_H

#include <curl/curl.h>
#include <pthread.h>
#include <time.h>

#include "store/creds.h"
#include "store/s3_xml.h"
#include "store/sigv4.h"
#include "store/store.h"
#include "store/store_s3.h"

#define S3_MIB ((size_t)1 << 20)
#define S3_PART_MIN (5 * S3_MIB)
#define S3_PART_MAX ((size_t)5 << 30)
#define S3_PART_DEFAULT (8 * S3_MIB)
#define S3_PARTS_MAX 10000u
#define S3_PARTS_PER_DOUBLING 1000u
#define S3_INFLIGHT_DEFAULT 4
#define S3_INFLIGHT_MAX 32
#define S3_ATTEMPTS_DEFAULT 5
#define S3_ATTEMPTS_MAX 20
#define S3_STALL_DEFAULT 30
#define S3_RESP_MAX ((size_t)4 << 20) /* XML bodies; a ListMultipartUploads page is well under */
#define S3_ETAG_MAX 128
#define S3_POLL_MS 100 /* also how quickly the cancel flag is noticed */
#define S3_PATH_MAX (SP_OBJECT_KEY_MAX + 80)
#define S3_QUERY_MAX 4096
#define S3_REGION_MAX 64
#define S3_EXTRA_HEADERS_MAX 16
#define S3_HOST_MAX 280
#define S3_BASE_MAX 300

/* Where requests go. Changes at most once after open (the bucket's own
 * region, learnt from a server's answer), so it sits behind the store's lock
 * and every attempt signs with a snapshot. */
typedef struct s3_endpoint {
    char region[S3_REGION_MAX];
    char host[S3_HOST_MAX];  /* the Host header, signed */
    char base[S3_BASE_MAX];  /* "https://host[:port]" */
} s3_endpoint;

/* The store handle. Settings are read-only after open; the members under
 * "shared" may be touched by any thread that uses the store. */
typedef struct s3_store {
    char bucket[64];
    char prefix[SP_OBJECT_KEY_MAX]; /* no leading or trailing '/'; may be "" */
    char endpoint_desc[S3_BASE_MAX]; /* for messages; never credentials */
    int custom_endpoint;            /* AWS_ENDPOINT_URL[_S3] or the profile's endpoint_url */
    int path_style;
    int region_explicit;            /* set by the user: a mismatch is an error, not a redirect */
    char cainfo[1024];
    size_t part_size;
    unsigned parts_in_flight, max_attempts;
    long stall_seconds;
    /* Object settings, sent on PutObject and CreateMultipartUpload. */
    char sse[16];           /* "", "AES256" or "aws:kms" (SEALPUB_S3_SSE) */
    char sse_kms_key[256];  /* SEALPUB_S3_SSE_KMS_KEY_ID, with aws:kms only */
    char storage_class[32]; /* SEALPUB_S3_STORAGE_CLASS */
    char tagging[1024];     /* x-amz-tagging, URL-encoded k=v&k=v (SEALPUB_S3_TAGS) */
    char tags_xml[4096];    /* the same tags as a PutObjectTagging body */
    int checksum;           /* send CRC32C flexible checksums (SEALPUB_S3_CHECKSUM=crc32c, the default) */
    int tls;                /* the endpoint is https: UNSIGNED-PAYLOAD is allowed once checksums are verified */

    /* Shared: the cached credentials provider locks itself. */
    sp_creds_provider *creds;
    /* Shared: set once by sp_store_set_cancel before use, then only read. */
    volatile const int *cancel;
    /* Shared, under lock. */
    pthread_mutex_t lock;
    s3_endpoint ep;
    char region_note[160]; /* "" or how the region was discovered */
} s3_store;

/* ---- s3_config.c: opening (URL, endpoint, settings) and addressing. */

SP_MUST_USE sp_status s3_open_impl(const char *url, s3_store **out, sp_error *err);
void s3_close_impl(s3_store *st);
/* Copies the current endpoint (region, host, base). */
void s3_endpoint_get(s3_store *st, s3_endpoint *out);
/* Switches to region (discovered from the server); returns 1 if it changed. */
int s3_endpoint_set_region(s3_store *st, const char *region);
SP_MUST_USE sp_status s3_object_key(const s3_store *st, const char *key, char *out, size_t cap, sp_error *err);
/* The unencoded request path of an object ("" key: the bucket itself). */
void s3_raw_path(const s3_store *st, const char *full_key, char *out, size_t cap);
SP_MUST_USE sp_status s3_query_param(char *q, size_t cap, const char *name, const char *value, sp_error *err);
int s3_cancelled(const s3_store *st);

typedef struct s3_xfer s3_xfer;

/* User metadata of one object (x-amz-meta-NAME: value). */
#define S3_META_MAX 8
typedef struct s3_meta {
    char name[64];
    char value[256];
} s3_meta;

/* Adds the object settings and metadata to x's signed headers (x keeps
 * pointers into st and meta, which must outlive it). */
void s3_object_headers(const s3_store *st, const s3_meta *meta, size_t n_meta, s3_xfer *x);

/* ---- s3_transfer.c: one HTTP exchange with its retries, on a curl multi. */

enum { XF_IDLE = 0, XF_ACTIVE, XF_BACKOFF, XF_DONE };

typedef struct s3_xfer {
    s3_store *st;
    /* The request, set before s3_xfer_start. */
    const char *method;
    char op[48];                /* "UploadPart 17": names the operation in messages */
    char raw_path[S3_PATH_MAX]; /* unencoded; the signer encodes it */
    char query[S3_QUERY_MAX];   /* raw; values already percent-encoded */
    const uint8_t *body;
    size_t body_len;
    char body_sha[65];
    const char *content_type;
    char range[64];
    uint8_t *dst; /* GET: where a 2xx body goes (else into resp) */
    size_t dst_cap;
    sp_sigv4_header extra[S3_EXTRA_HEADERS_MAX]; /* signed x-amz-* headers; strings borrowed */
    size_t n_extra;
    int ignore_cancel;     /* the abort that follows a cancel must still run */
    unsigned max_attempts; /* 0: the store's setting */

    /* The response of the latest attempt. */
    long status;
    CURLcode cc;
    char curl_err[CURL_ERROR_SIZE];
    char *resp;
    size_t resp_len, resp_cap;
    size_t dst_len;
    int dst_overflow, dst_enough;
    char etag[S3_ETAG_MAX];
    uint64_t content_length;
    int has_length;
    char bucket_region[S3_REGION_MAX]; /* x-amz-bucket-region, if sent */
    char resp_crc32c[16];              /* x-amz-checksum-crc32c of the answer, if sent */
    char resp_ck_alg[16];              /* x-amz-checksum-algorithm of the answer, if sent */
    char resp_ck_type[16];             /* x-amz-checksum-type of the answer, if sent */
    sp_s3_xml_error xerr;

    /* Progress. */
    curl_off_t moved; /* bytes up + down seen by the stall watchdog */
    double last_move; /* sp_now() when moved last changed */
    int stalled;      /* the watchdog cut this attempt */
    int region_retried;
    CURL *easy;
    struct curl_slist *hdrs;
    size_t sent;
    unsigned attempt;
    double retry_at;
    int state;
    sp_status result;
    int retryable;      /* the final failure may succeed if retried later (sp_s3_classify) */
    char msg[sizeof(((sp_error *)0)->msg)];
} s3_xfer;

void s3_xfer_init(s3_xfer *x, s3_store *st, const char *method, const char *op);
void s3_xfer_release(s3_xfer *x);
/* Builds, signs (with the credentials current now) and hands one attempt to m. */
SP_MUST_USE sp_status s3_xfer_start(CURLM *m, s3_xfer *x, sp_error *err);
/* One round of network work for xs; see s3_transfer.c. */
SP_MUST_USE sp_status s3_drive(s3_store *st, CURLM *m, s3_xfer *const *xs, size_t n, int ignore_cancel, int block, sp_error *err);
void s3_xfer_stop(CURLM *m, s3_xfer *x);
/* Runs x to completion on m (NULL: a private multi). */
sp_status s3_xfer_run(CURLM *m, s3_xfer *x, sp_error *err);
const char *s3_object_url(const s3_xfer *x, char *buf, size_t cap);
void s3_sha256_hex(const void *p, size_t n, char out[65]);
void s3_msgf(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- s3_checksum.c: CRC32C, hardware-accelerated where the CPU has it. */
uint32_t s3_crc32c(uint32_t crc, const void *buf, size_t len);
/* The CRC32C of A followed by B, from the CRCs of A and B and B's length:
 * the whole object's checksum from its parts' (FULL_OBJECT). */
uint32_t s3_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);
/* The base64 of the big-endian CRC, as x-amz-checksum-crc32c carries it. */
void s3_crc32c_b64(uint32_t crc, char out[9]);

/* ---- s3_retry.c */
double s3_jitter(void);

/* ---- s3_upload.c: the put_* operations. */
sp_status s3_put_begin(void *impl, const char *key, uint64_t size_hint, sp_upload **out, sp_error *err);
sp_status s3_put_write(sp_upload *up, const void *buf, size_t len, sp_error *err);
sp_status s3_put_poll(sp_upload *up, sp_error *err);
sp_status s3_put_meta(sp_upload *up, const char *name, const char *value, sp_error *err);
sp_status s3_put_commit(sp_upload *up, sp_error *err);
void s3_put_create_only(sp_upload *up);
void s3_put_abort(sp_upload *up);

SP_MUST_USE sp_status s3_head_size(s3_store *st, CURLM *m, s3_xfer *x, const char *path, int ignore_cancel,
                                   uint64_t *size, sp_error *err);

/* ---- s3_list.c: listing and aborting multipart uploads. */
sp_status s3_list_uploads(s3_store *st, int (*fn)(void *, const sp_s3_upload_info *), void *ctx,
                                      sp_error *err);
/* Aborts one multipart upload by key and id (absent counts as done). */
sp_status s3_abort_by_id(s3_store *st, const char *key, const char *upload_id, sp_error *err);
SP_MUST_USE sp_status s3_abort_stale_impl(s3_store *st, long older_than_seconds, unsigned *aborted, sp_error *err);

#endif
