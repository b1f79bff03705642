/* unseal.c: sp_open: the strict reader of docs/FORMAT.md, wiring the stages in src/lib/reader/ and the key.
 *
 * The stages mirror the writer's: input.c reads the header, this file finds
 * the key (a key file, or the registry row, every field of which is
 * checked), records.c frames the data records and has N workers
 * authenticate, decrypt and inflate them while handing plaintext to the
 * output strictly in order, and final.c checks the final record, the index
 * against what was read, the footer and the end of input. A container
 * counts as opened only then; output.c links the output into place only
 * after that, so a failed or interrupted open never leaves plaintext under
 * any name. sp_fetch (fetch.c) feeds the same stages from the store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crypto/crypto.h"
#include "crypto/kek.h"
#include "crypto/keyfile.h"
#include "format/container.h"
#include "registry/registry.h"
#include "unseal.h"

/* The 32-byte file key: from a key file (raw or base64) or the registry row
 * that names this header, unwrapped with the KEK when the row says so. */
static sp_status read_key_file(const char *path, uint8_t key[32], sp_error *err)
{
    return sp_key_file_read(path, "key file", key, err);
}

static sp_status key_from_row(const sp_row *row, uint8_t key[32], sp_error *err)
{
    /* The KEK policy and the row binding live in kek.c. */
    _Static_assert(SP_ARTIFACT_ID_LEN == SP_KEK_ARTIFACT_ID_LEN, "binding length");
    uint8_t aid[SP_ARTIFACT_ID_LEN];
    if (sp_unhex(row->artifact_id, aid, sizeof(aid)) != 0)
        return sp_fail(err, SP_ERR_REGISTRY, "registry row's artifact_id is not %d hex digits", 2 * SP_ARTIFACT_ID_LEN);
    sp_kek_binding b = {row->resource_name, row->dev_stage, row->architecture, row->version, aid};
    return sp_kek_open_key(row->encryption_key, row->key_wrap, row->kek_id, &b, key, err);
}

/* The container must be the resource the caller asked for: a valid object
 * of another resource copied over this one authenticates under its own key. */
static sp_status check_expected(const sp_open_opts *o, const sp_header *h, sp_error *err)
{
    const char *want[4] = {o->expect_name, o->expect_stage, o->expect_arch, o->expect_version};
    const char *have[4] = {h->name, h->stage, h->arch, h->version_str};
    static const char *what[4] = {"name", "stage", "architecture", "version"};
    for (int i = 0; i < 4; i++)
        if (want[i] && strcmp(want[i], have[i]) != 0)
            return sp_fail(err, SP_ERR_AUTH, "container is %s/%s/%s/%s, not the expected %s '%s'", h->name, h->stage,
                           h->arch, h->version_str, what[i], want[i]);
    return SP_OK;
}

/* *used is set to the row the key came from (NULL with a key file); the
 * caller checks the container's size and hash against it at the end. */
static sp_status resolve_key(const sp_open_opts *o, const sp_row *given, const sp_header *h, uint8_t key[32],
                             sp_row *row_out, const sp_row **used, sp_error *err)
{
    *used = NULL;
    SP_TRY(check_expected(o, h, err));
    if (o->key_file) return read_key_file(o->key_file, key, err);
    sp_registry reg;
    sp_row row;
    memset(&row, 0, sizeof(row));
    sp_status s = SP_OK;
    if (given) {
        row = *given;
    } else {
        SP_TRY(sp_registry_open(o->registry_url, &reg, err));
        s = reg.ops->get(reg.impl, h->name, h->stage, h->arch, h->version_str, &row, err);
        sp_registry_close(&reg);
    }
    if (s == SP_ERR_NOT_FOUND)
        return sp_fail(err, SP_ERR_NOT_FOUND, "no key: %s/%s/%s/%s is not in the registry (give --key-file)", h->name,
                       h->stage, h->arch, h->version_str);
    if (s == SP_OK) s = sp_row_check_fields(&row, err);
    char id[2 * SP_ARTIFACT_ID_LEN + 1], shown[2 * SP_ARTIFACT_ID_LEN + 1];
    sp_hex(h->artifact_id, SP_ARTIFACT_ID_LEN, id);
    if (s == SP_OK && strcmp(id, row.artifact_id) != 0)
        s = sp_fail(err, SP_ERR_AUTH,
                    "the registry row for %s/%s/%s/%s belongs to another publish (artifact %s, this file is %s): "
                    "the file was replaced or is stale",
                    h->name, h->stage, h->arch, h->version_str, sp_printable(row.artifact_id, shown, sizeof(shown)),
                    id);
    if (s == SP_OK) s = key_from_row(&row, key, err);
    if (s == SP_OK) {
        *row_out = row;
        *used = row_out;
    }
    OPENSSL_cleanse(&row, sizeof(row));
    return s;
}

/* The wiring: header, key, records, final record, then the row's size and hash. */
sp_status sp_unseal_stream(sp_byte_in *in, const sp_unseal_cfg *cfg, sp_open_result *r, sp_error *err)
{
    uint8_t header[SP_HEADER_MAX], aad[32];
    sp_header h;
    size_t hlen = 0;
    sp_row row_copy;
    const sp_row *row = NULL;
    sp_records_seen seen = {0};
    sp_sha256 *hash = NULL;
    SP_TRY(sp_in_read_header(in, header, &h, &hlen, err));
    uint8_t *keys = sp_secret_alloc(64); /* file key, payload key */
    sp_status s = keys ? SP_OK : sp_fail(err, SP_ERR_NOMEM, "out of memory");
    if (s == SP_OK) s = resolve_key(cfg->o, cfg->row, &h, keys, &row_copy, &row, err);
    /* A reader that has the row checks everything in it, the object's
     * size and SHA-256 included: the header bytes are hashed now, the rest
     * as it is read. */
    if (s == SP_OK && row && !in->hash) {
        if (!(hash = sp_sha256_new())) s = sp_fail(err, SP_ERR_NOMEM, "out of memory");
        else sp_sha256_update(hash, header, hlen);
        in->hash = hash;
    }
    if (s == SP_OK) s = sp_hkdf_sha256(keys, 32, h.artifact_id, SP_ARTIFACT_ID_LEN, SP_KDF_INFO, keys + 32, err);
    sp_sha256_once(header, hlen, aad);
    sp_records_cfg rc = {.payload_key = keys ? keys + 32 : NULL,
                         .aad = aad,
                         .chunk_size = h.chunk_size,
                         .first_offset = hlen,
                         .threads = cfg->threads,
                         .sink = cfg->sink,
                         .sink_ctx = cfg->sink_ctx};
    if (s == SP_OK) s = sp_records_read(in, &rc, &seen, err);
    if (s == SP_OK) s = sp_final_check(in, keys + 32, aad, &seen, err);
    if (s == SP_OK && row) {
        uint8_t digest[32];
        char hex[65];
        sp_sha256_final(in->hash, digest);
        sp_hex(digest, 32, hex);
        if (cfg->sha256_hex) memcpy(cfg->sha256_hex, hex, 65);
        s = sp_row_check_object(row, in->name, in->pos, hex, seen.plain_total, err);
    }
    if (r) {
        if (s == SP_OK) {
            r->plain_size = seen.plain_total;
            r->stored_size = in->pos;
            r->chunks = seen.n;
        }
        sp_strlcpy(r->name, h.name, sizeof(r->name));
        sp_strlcpy(r->stage, h.stage, sizeof(r->stage));
        sp_strlcpy(r->arch, h.arch, sizeof(r->arch));
        sp_strlcpy(r->version, h.version_str, sizeof(r->version));
    }
    if (hash) {
        in->hash = NULL;
        sp_sha256_free(hash);
    }
    if (row) OPENSSL_cleanse(&row_copy, sizeof(row_copy));
    free(seen.e);
    sp_secret_free(keys, 64);
    return s;
}

void sp_open_opts_init(sp_open_opts *o) { memset(o, 0, sizeof(*o)); }

sp_status sp_open(const sp_open_opts *o, sp_open_result *r, sp_error *err)
{
    sp_byte_in in;
    sp_out_file out;
    if (r) memset(r, 0, sizeof(*r));
    if (!o->input) return sp_fail(err, SP_ERR_USAGE, "no container given");
    SP_TRY(sp_in_open(o->input, o->cancel, &in, err));
    sp_status s = sp_out_begin(o->output, &out, err);
    out.cancel = o->cancel;
    sp_unseal_cfg cfg = {.o = o, .threads = o->threads, .sink = out.sink, .sink_ctx = &out};
    if (s == SP_OK) s = sp_unseal_stream(&in, &cfg, r, err);
    s = sp_out_finish(&out, s, err);
    if (in.fd != STDIN_FILENO) close(in.fd);
    return s;
}
