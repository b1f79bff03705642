/* unseal.h: the strict container reader, shared by sp_open (local files) and sp_fetch (a store). */
#ifndef SP_UNSEAL_H
#define SP_UNSEAL_H

#include <limits.h>

#include "registry/registry.h"

/* Reads up to len bytes; *got < len only at end of input. */
typedef sp_status (*sp_read_fn)(void *ctx, uint8_t *buf, size_t len, size_t *got, sp_error *err);

/* Where container bytes come from: read() if set, else the file descriptor. */
typedef struct sp_byte_in {
    sp_read_fn read;
    void *ctx;
    int fd;
    const char *name; /* for messages */
    uint64_t pos;     /* bytes consumed so far */
} sp_byte_in;

typedef sp_status (*sp_sink_fn)(void *ctx, const uint8_t *buf, size_t len, sp_error *err);

/* Verifies and decrypts one container from in, handing authenticated
 * plaintext chunks to sink (may be NULL: verify only). The key comes from
 * o->key_file, else from row if given, else from the registry row that the
 * header names. o->expect_* are enforced. */
sp_status sp_unseal_stream(sp_byte_in *in, const sp_open_opts *o, const sp_row *row, sp_sink_fn sink,
                           void *sink_ctx, sp_open_result *r, sp_error *err) SP_MUST_USE;

/* Output through a temporary file renamed into place only on success; "-"
 * streams to stdout; NULL writes nothing (sink stays NULL). */
typedef struct sp_out_file {
    int fd;
    const char *name;
    char tmp[PATH_MAX];
    sp_sink_fn sink;
} sp_out_file;
sp_status sp_out_begin(const char *output, sp_out_file *f, sp_error *err) SP_MUST_USE;
/* Commits (s == SP_OK) or discards the temporary file; returns the final status. */
sp_status sp_out_finish(sp_out_file *f, sp_status s, sp_error *err);

#endif
