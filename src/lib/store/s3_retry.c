/* s3_retry.c: the S3 retry policy in one place: outcome -> retry class, and full-jitter backoff. */
#include <openssl/rand.h>
#include <string.h>

#include "store/s3_private.h"


static int code_in(const char *code, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(code, list[i])) return 1;
    return 0;
}

sp_s3_retry sp_s3_classify(int curl_code, long http_status, const char *s3_code)
{
    /* S3 and compatible servers ask to slow down under these names. */
    static const char *const throttle[] = {"SlowDown", "Throttling", "ThrottlingException", "ThrottledException",
                                           "RequestThrottled", "RequestThrottledException", "TooManyRequestsException",
                                           "RequestLimitExceeded", "BandwidthLimitExceeded", "ProvisionedThroughputExceededException",
                                           "PriorRequestNotComplete", "EC2ThrottledException"};
    static const char *const transient[] = {"RequestTimeout", "RequestTimeoutException", "InternalError",
                                            "ServiceUnavailable", "InternalFailure", "OperationAborted"};
    if (curl_code != CURLE_OK) {
        switch ((CURLcode)curl_code) {
        /* The network failed mid-exchange or a stalled transfer was cut
         * (CURLE_OPERATION_TIMEDOUT is the low-speed limit): resend. */
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_WEIRD_SERVER_REPLY:
            return SP_S3_RETRY_TRANSIENT;
        default:
            /* Certificate problems, bad URLs, our own write-callback aborts:
             * a resend would fail the same way. */
            return SP_S3_FATAL;
        }
    }
    const char *code = s3_code ? s3_code : "";
    if (*code && code_in(code, throttle, SP_ARRAY_LEN(throttle))) return SP_S3_RETRY_THROTTLE;
    if (*code && code_in(code, transient, SP_ARRAY_LEN(transient))) return SP_S3_RETRY_TRANSIENT;
    if (http_status >= 200 && http_status < 300) return *code ? SP_S3_FATAL : SP_S3_DONE;
    if (http_status == 429) return SP_S3_RETRY_THROTTLE;
    if (http_status == 503) return SP_S3_RETRY_THROTTLE;
    if (http_status == 500 || http_status == 502 || http_status == 504 || http_status == 408)
        return SP_S3_RETRY_TRANSIENT;
    return SP_S3_FATAL;
}

double sp_s3_backoff_seconds(sp_s3_retry cls, unsigned retry, double jitter01)
{
    double base = cls == SP_S3_RETRY_THROTTLE ? 1.0 : 0.1, cap = 20.0;
    double ceiling = base;
    for (unsigned i = 1; i < retry && ceiling < cap; i++) ceiling *= 2;
    if (ceiling > cap) ceiling = cap;
    if (jitter01 < 0) jitter01 = 0;
    if (jitter01 >= 1) jitter01 = 0.999999;
    return ceiling * jitter01;
}

double s3_jitter(void)
{
    uint32_t r;
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1) return 0.5;
    return (double)r / 4294967296.0;
}

