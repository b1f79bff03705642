/* store.h: the object store interface (local directory, S3) used by the pipeline. */
#ifndef SP_STORE_H
#define SP_STORE_H

#include "common/sp_common.h"

/* One object being written. Owned by the thread that called put_begin; the
 * same thread calls write/commit/abort (backends may use threads inside). */
typedef struct sp_upload sp_upload;

typedef struct sp_store_ops {
    const char *scheme; /* "file", "s3" */
    /* Starts an object under key. size_hint is the final size if known, else
     * UINT64_MAX. Nothing is visible under key until commit succeeds. */
    sp_status (*put_begin)(void *impl, const char *key, uint64_t size_hint, sp_upload **up, sp_error *err);
    /* Optional: user metadata stored with the object (S3: x-amz-meta-NAME),
     * before the first put_write. name: [a-z0-9-], at most 52 bytes;
     * value: printable ASCII, at most 255 bytes; at most 8 per object. */
    sp_status (*put_meta)(sp_upload *up, const char *name, const char *value, sp_error *err);
    /* Appends bytes in order; may block for back-pressure. */
    sp_status (*put_write)(sp_upload *up, const void *buf, size_t len, sp_error *err);
    /* Optional (NULL if the backend has nothing in flight between writes):
     * lets transfers progress while the writer waits for the next sealed
     * bytes, so a pause in the input never looks like a stalled server.
     * Never blocks; called from the same thread as put_write. */
    sp_status (*put_poll)(sp_upload *up, sp_error *err);
    /* Makes the object visible atomically and checks its size equals the
     * bytes written; frees up in all cases. */
    sp_status (*put_commit)(sp_upload *up, sp_error *err);
    /* Discards everything written; frees up. Never fails visibly. */
    void (*put_abort)(sp_upload *up);
    /* Size of a committed object (SP_ERR_NOT_FOUND if absent). */
    sp_status (*stat)(void *impl, const char *key, uint64_t *size, sp_error *err);
    /* Reads exactly len bytes at off (short object -> SP_ERR_TRUNCATED). */
    sp_status (*read_range)(void *impl, const char *key, uint64_t off, void *buf, size_t len, sp_error *err);
    /* Deletes a committed object; absent is not an error. */
    sp_status (*remove)(void *impl, const char *key, sp_error *err);
    /* Optional: removes what interrupted publishes left behind that is
     * older than older_than_seconds (S3: multipart uploads never completed
     * or aborted; file: temp files of a killed writer); *removed counts. */
    sp_status (*cleanup)(void *impl, long older_than_seconds, unsigned *removed, sp_error *err);
    /* Optional: commit only if no object exists under the key yet (S3:
     * If-None-Match: * on the PUT or CompleteMultipartUpload; file: link()
     * instead of rename()); an existing one fails the commit with
     * SP_ERR_EXISTS. Call after put_begin, before the first put_write. */
    void (*put_create_only)(sp_upload *up);
    /* Optional: whether the store really honours put_create_only (a server
     * may ignore the header): *supported set by a probe. */
    sp_status (*probe_create_only)(void *impl, int *supported, sp_error *err);
    /* Optional: the caller's cancel flag (see sp_store_set_cancel). */
    void (*set_cancel)(void *impl, volatile const int *flag);
    void (*close)(void *impl);
} sp_store_ops;

typedef struct sp_store {
    const sp_store_ops *ops;
    void *impl;
    char desc[SP_OBJECT_KEY_MAX]; /* printable location, never credentials */
} sp_store;

/* Opens the store named by url ("file:///dir", "file:dir", "s3://bucket/prefix");
 * url NULL/"" means $SEALPUB_STORE, else file://<default home>/objects. */
sp_status sp_store_open(const char *url, sp_store *st, sp_error *err);
void sp_store_close(sp_store *st);
/* Whether two store descriptions name the same place: scheme, path,
 * bucket, prefix and endpoint; not the region or any note (a region
 * learnt from the server at one open may be configured at the next). */
int sp_store_same_location(const char *desc_a, const char *desc_b);

/* Gives the store the caller's cancel flag (NULL: none), before it is used
 * by any thread. Transfers check it between network polls, so one stops
 * within about 100 ms of the flag turning non-zero: an upload aborts on the
 * server and fails with SP_ERR_INTERRUPTED, a read fails the same way. The
 * flag must outlive the store; it belongs to this store only. */
void sp_store_set_cancel(sp_store *st, volatile const int *flag);

/* put_meta when the backend has it (else nothing: metadata is optional). */
SP_MUST_USE sp_status sp_store_put_meta(sp_store *st, sp_upload *up, const char *name, const char *value,
                                        sp_error *err);

/* Runs the backend's cleanup (none: nothing to clean, *removed = 0). */
SP_MUST_USE sp_status sp_store_cleanup_stale(sp_store *st, long older_than_seconds, unsigned *removed, sp_error *err);

/* Backends. */
sp_status sp_store_file_open(const char *dir, sp_store *st, sp_error *err);
sp_status sp_store_s3_open(const char *url, sp_store *st, sp_error *err);
/* Read-only, unsigned HTTP(S) GETs of BASE/KEY: a CDN or public-read prefix
 * in front of the bucket (fetch --via-public-url). */
sp_status sp_store_http_open(const char *base_url, sp_store *st, sp_error *err);

#endif
