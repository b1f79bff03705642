/* unseal.h: the strict container reader, shared by sp_open (local files) and sp_fetch (a store). */
#ifndef SP_UNSEAL_H
#define SP_UNSEAL_H

#include "reader/reader.h"

typedef struct sp_unseal_cfg {
    const sp_open_opts *o; /* key_file, registry_url and expect_* are used */
    const sp_row *row;     /* the row the caller looked up; NULL: the row the header names, unless o->key_file */
    unsigned threads;      /* decrypt/inflate workers; 0 = online CPUs */
    sp_sink_fn sink;       /* NULL: verify only */
    void *sink_ctx;
    char *sha256_hex;      /* optional, 65 bytes: SHA-256 of the container bytes, when a row was used */
} sp_unseal_cfg;

/* Verifies and decrypts one container from in, handing authenticated
 * plaintext to the sink in order. The key comes from o->key_file, else from
 * cfg->row, else from the registry row that the header names; o->expect_*
 * are enforced; a row that is used has every field checked: format,
 * key_wrap, object key, artifact_id, and the container's size and SHA-256
 * as read. SP_OK only when every check of FORMAT.md 11.2 passed. */
sp_status sp_unseal_stream(sp_byte_in *in, const sp_unseal_cfg *cfg, sp_open_result *r, sp_error *err) SP_MUST_USE;

#endif
