/* sigv4.h: AWS Signature Version 4 request signing, owned by the project (S3 and generic services). */
#ifndef SP_SIGV4_H
#define SP_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "common/sp_common.h"

/* Hard maxima of everything the signer builds. Inputs that would overflow one
 * fail with SP_ERR_USAGE rather than being truncated, because a truncated
 * canonical request would sign something other than what is sent. */
#define SP_SIGV4_HEADERS_MAX 64        /* caller headers plus the ones the signer adds */
#define SP_SIGV4_QUERY_PARAMS_MAX 128
#define SP_SIGV4_SECRET_MAX 256        /* secret access key, bytes */
#define SP_SIGV4_CREQ_MAX 16384        /* canonical request, with its NUL */
#define SP_SIGV4_SIGNED_HEADERS_MAX 2048
#define SP_SIGV4_STS_MAX 512
#define SP_SIGV4_AUTHZ_MAX 3072
#define SP_SIGV4_AMZ_DATE_LEN 16       /* "YYYYMMDDTHHMMSSZ" */

/* The hex SHA-256 of an empty payload, which GET/HEAD/DELETE requests sign. */
#define SP_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

enum {
    /* Generic AWS services (and AWS's generic test suite): path is the path as
     * already encoded on the wire; it is normalised (RFC 3986 dot segments
     * removed, empty segments collapsed) and URI-encoded once more, i.e.
     * double-encoded relative to the raw path. Without this flag the signer
     * follows S3: path is the raw path, never normalised, encoded once, and
     * that encoded form (sp_sigv4_encode_path) is also what goes on the wire. */
    SP_SIGV4_GENERIC_PATH = 1u << 0,
    /* Adds "x-amz-content-sha256: <payload_sha256>" to the signed headers (S3
     * requires it on every request; the caller must send the same header). */
    SP_SIGV4_SIGN_CONTENT_SHA256 = 1u << 1,
};

typedef struct sp_sigv4_header {
    const char *name;  /* any case; must not be x-amz-date / x-amz-security-token */
    const char *value; /* trimmed and whitespace-collapsed for signing */
} sp_sigv4_header;

/* One request to sign. All strings are borrowed for the call only. */
typedef struct sp_sigv4_request {
    const char *method;        /* "GET", "PUT", ... */
    const char *path;          /* see SP_SIGV4_GENERIC_PATH; must start with '/' */
    const char *query;         /* raw query without '?', NULL or "" for none */
    const sp_sigv4_header *headers; /* must include host; order kept for repeats */
    size_t n_headers;
    const char *payload_sha256;/* 64 lower-case hex digits or e.g. "UNSIGNED-PAYLOAD" */
    const char *amz_date;      /* "YYYYMMDDTHHMMSSZ"; the signer signs x-amz-date with it */
    const char *region;        /* "us-east-1" */
    const char *service;       /* "s3" */
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "": none; else signed as x-amz-security-token */
    unsigned flags;            /* SP_SIGV4_* */
} sp_sigv4_request;

/* What the signer produces; fixed-size so the caller owns all memory. The
 * caller must send x-amz-date (amz_date), x-amz-security-token (when a token
 * was given) and, with SP_SIGV4_SIGN_CONTENT_SHA256, x-amz-content-sha256,
 * plus Authorization: <authorization>. */
typedef struct sp_sigv4_result {
    char canonical_request[SP_SIGV4_CREQ_MAX];
    char string_to_sign[SP_SIGV4_STS_MAX];
    char signed_headers[SP_SIGV4_SIGNED_HEADERS_MAX]; /* "host;x-amz-date" */
    char signature[65];                               /* lower-case hex */
    char authorization[SP_SIGV4_AUTHZ_MAX];           /* the header's value */
} sp_sigv4_result;

/* Signs req into out. Returns SP_OK, SP_ERR_USAGE for malformed input or an
 * output that would exceed a maximum, SP_ERR_CRYPTO if OpenSSL fails. The
 * error message never contains the secret key or the signature. Thread-safe;
 * every secret-derived intermediate is wiped before return. On failure out is
 * zeroed. */
SP_MUST_USE sp_status sp_sigv4_sign(const sp_sigv4_request *req, sp_sigv4_result *out, sp_error *err);

/* S3's encoding of a raw path: every byte outside the RFC 3986 unreserved set
 * and '/' becomes %XX (upper-case). The result is both the wire path and the
 * canonical URI, so requests built with it always match their signature. */
SP_MUST_USE sp_status sp_sigv4_encode_path(const char *raw, char *out, size_t cap, sp_error *err);

/* Percent-encodes in[0..len) with the unreserved set (and '/' kept when
 * keep_slash), for building query values the canonicaliser decodes back.
 * Returns 0, or -1 if out (cap bytes with the NUL) is too small. */
int sp_sigv4_uri_encode(const char *in, size_t len, int keep_slash, char *out, size_t cap);
/* Appends name=value (value URI-encoded, "&" before it unless buf is empty)
 * to the NUL-terminated query or form body in buf; -1 if it does not fit. */
int sp_sigv4_append_param(char *buf, size_t cap, const char *name, const char *value);

/* Canonical query string: split on '&', percent-decode, re-encode with the
 * unreserved set, sort by key then value, "key=" for empty values. '+' is
 * taken literally (S3 does not read it as a space). The result is also a valid
 * wire query, which is how the S3 store uses it. */
SP_MUST_USE sp_status sp_sigv4_canonical_query(const char *query, char *out, size_t cap, sp_error *err);

/* Formats t (UTC) as "YYYYMMDDTHHMMSSZ"; out holds SP_SIGV4_AMZ_DATE_LEN + 1. */
void sp_sigv4_amz_date(time_t t, char out[SP_SIGV4_AMZ_DATE_LEN + 1]);

#endif
