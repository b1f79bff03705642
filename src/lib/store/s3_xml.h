/* s3_xml.h: a small, bounded parser for the XML bodies S3 returns (errors, multipart uploads); a fuzz target. */
#ifndef SP_S3_XML_H
#define SP_S3_XML_H

#include <stddef.h>
#include <time.h>

#include "common/sp_common.h"

/* Hard limits: a response past them is rejected, never truncated silently. */
#define SP_S3_XML_DEPTH_MAX 16
#define SP_S3_XML_PATH_MAX 256 /* "A/B/C" of local element names */
#define SP_S3_XML_TEXT_MAX 4096 /* character data of one element */

/* Called at the end of every element with its path from the root (namespace
 * prefixes dropped, e.g. "Error/Code") and the decoded character data
 * directly inside it (NUL-terminated; whitespace between child elements
 * included). Return non-zero to stop the walk early (not an error). */
typedef int (*sp_s3_xml_fn)(void *ctx, const char *path, const char *text, size_t len);

/* Walks doc[0..len), which need not be NUL-terminated. Accepts elements,
 * attributes (skipped), the five predefined entities and numeric character
 * references, CDATA, comments and processing instructions. Rejects DOCTYPE
 * (so no entity expansion), mismatched or unclosed tags, a missing root and
 * anything past the limits, with SP_ERR_FORMAT. Stateless and reentrant. */
SP_MUST_USE sp_status sp_s3_xml_walk(const char *doc, size_t len, sp_s3_xml_fn fn, void *ctx, sp_error *err);

typedef struct sp_s3_xml_error {
    char code[64];     /* "SignatureDoesNotMatch"; "" if absent */
    char message[256]; /* control characters replaced by spaces */
} sp_s3_xml_error;

/* Returns 1 if doc is a well-formed <Error> document (fills e), 0 if it is
 * well-formed with another root, -1 if it is not well-formed XML (e is then
 * empty). An empty body returns 0. */
int sp_s3_xml_parse_error(const char *doc, size_t len, sp_s3_xml_error *e);

/* InitiateMultipartUploadResult/UploadId into out (SP_ERR_FORMAT if absent,
 * empty, or longer than cap-1). */
SP_MUST_USE sp_status sp_s3_xml_upload_id(const char *doc, size_t len, char *out, size_t cap, sp_error *err);

typedef struct sp_s3_xml_upload {
    char key[SP_OBJECT_KEY_MAX];
    char upload_id[512];
    char initiated[64]; /* ISO 8601 as sent */
} sp_s3_xml_upload;

/* One ListMultipartUploadsResult page: fn is called for every Upload (a
 * non-zero return stops the walk and is returned as SP_ERR_INTERRUPTED);
 * truncated and the next markers tell whether and where to continue. An
 * Upload missing its Key or UploadId is SP_ERR_FORMAT. */
typedef int (*sp_s3_xml_upload_fn)(void *ctx, const sp_s3_xml_upload *u);
SP_MUST_USE sp_status sp_s3_xml_list_uploads(const char *doc, size_t len, sp_s3_xml_upload_fn fn, void *ctx,
                                             int *truncated, char *next_key, size_t key_cap, char *next_upload_id,
                                             size_t id_cap, sp_error *err);

/* "2024-05-01T10:00:00.000Z" (fraction optional, UTC only) to seconds since
 * the epoch; returns 0 on success, -1 if malformed. */
int sp_s3_parse_iso8601(const char *s, time_t *out);

#endif
