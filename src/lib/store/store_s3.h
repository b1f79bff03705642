/* store_s3.h: S3-specific entry points beyond the store interface (upload listing, retry policy, part sizes), for tests and tools. */
#ifndef SP_STORE_S3_H
#define SP_STORE_S3_H

#include <time.h>

#include "store/store.h"

/* Lists the multipart uploads under the store's prefix in url
 * ("s3://bucket[/prefix]") and aborts those initiated more than
 * older_than_seconds ago; *aborted (may be NULL) counts them. Uploads that
 * vanish meanwhile are not errors. Credentials and endpoint as for
 * sp_store_s3_open. */
SP_MUST_USE sp_status sp_s3_abort_stale(const char *url, long older_than_seconds, unsigned *aborted, sp_error *err);

/* One multipart upload in progress under a store's prefix (the key is the
 * full object key, prefix included). */
typedef struct sp_s3_upload_info {
    const char *key;
    const char *upload_id;
    time_t initiated; /* 0 if the server sent none or an unreadable one */
} sp_s3_upload_info;

/* Calls fn for every multipart upload under the prefix (all pages); a
 * non-zero return stops the listing with SP_ERR_INTERRUPTED. Used by
 * sp_s3_abort_stale and by tests that check an abort left nothing behind. */
SP_MUST_USE sp_status sp_s3_list_uploads(const char *url, int (*fn)(void *ctx, const sp_s3_upload_info *u),
                                         void *ctx, sp_error *err);

/* The retry policy, in one place. Classifies the outcome of one HTTP
 * exchange: curl_code is the CURLcode (0 when the exchange completed),
 * http_status the response status (0 if none), s3_code the <Code> of an
 * <Error> body (NULL or "" if none; S3 can send an <Error> with status 200,
 * as CompleteMultipartUpload does). */
typedef enum sp_s3_retry {
    SP_S3_DONE = 0,        /* success */
    SP_S3_RETRY_TRANSIENT, /* a dropped connection, a timeout, a 5xx: back off briefly and resend */
    SP_S3_RETRY_THROTTLE,  /* SlowDown and friends: back off for longer */
    SP_S3_FATAL,           /* auth, client errors, missing things: resending cannot help */
} sp_s3_retry;

sp_s3_retry sp_s3_classify(int curl_code, long http_status, const char *s3_code);

/* Full-jitter exponential backoff before retry number `retry` (1 = the first
 * retry): a uniform random delay in [0, min(cap, base * 2^(retry-1))), with
 * base 100 ms (transient) or 1 s (throttle) and cap 20 s, as the AWS SDKs'
 * standard retry mode does. jitter01 is the random draw in [0, 1). */
double sp_s3_backoff_seconds(sp_s3_retry cls, unsigned retry, double jitter01);

/* The part size for part number part_no (1-based) of an upload with part
 * size setting base and size_hint (UINT64_MAX: unknown). A known size is
 * split into at most 10,000 parts of at least base, in whole MiB; an
 * unknown one starts at base and doubles every 1000 parts, capped at 5 GiB,
 * so 10,000 parts reach terabytes. */
size_t sp_s3_part_size(size_t base, uint64_t size_hint, unsigned part_no);

#endif
