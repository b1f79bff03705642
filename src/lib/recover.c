/* recover.c: sp_registry_recover: replays the recovery journal (registry/journal.h) into the registry. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "format/container.h"
#include "registry/journal.h"
#include "registry/registry.h"
#include "store/store.h"

/* The entry's object is still the one it describes: same size, and the
 * header names the same artifact id (a random 128-bit value per publish). */
static sp_status entry_object_matches(sp_store *st, const sp_row *row, int *matches, sp_error *err)
{
    uint64_t size = 0;
    *matches = 0;
    sp_status s = st->ops->stat(st->impl, row->object_key, &size, err);
    if (s == SP_ERR_NOT_FOUND) return SP_OK;
    if (s != SP_OK || size != row->size_bytes) return s;
    uint8_t head[SP_HEADER_MAX];
    size_t n = size < sizeof(head) ? (size_t)size : sizeof(head);
    SP_TRY(st->ops->read_range(st->impl, row->object_key, 0, head, n, err));
    sp_header hdr;
    size_t used = 0;
    if (sp_header_decode(head, n, &hdr, &used, err) != SP_OK) return SP_OK; /* not a container: not ours */
    char hex[SP_ARTIFACT_ID_LEN * 2 + 1];
    sp_hex(hdr.artifact_id, SP_ARTIFACT_ID_LEN, hex);
    *matches = strcmp(hex, row->artifact_id) == 0 && strcmp(hdr.name, row->resource_name) == 0 &&
               strcmp(hdr.stage, row->dev_stage) == 0 && strcmp(hdr.arch, row->architecture) == 0 &&
               strcmp(hdr.version_str, row->version) == 0;
    return SP_OK;
}

/* One entry: under the claim on its object key (so no publish runs
 * meanwhile), written only if the object is still the one it describes. */
static sp_status recover_one(sp_store *st, sp_registry *reg, const char *path, const char *store_desc_want,
                             sp_recover_result *r, sp_error *err)
{
    sp_row row;
    char store_desc[SP_OBJECT_KEY_MAX];
    SP_TRY(sp_journal_read(path, &row, store_desc, sizeof(store_desc), err));
    sp_status s = SP_OK;
    if (!sp_store_same_location(store_desc, store_desc_want)) {
        r->remaining++; /* another store's entry: left for a run against that store */
        OPENSSL_cleanse(&row, sizeof(row));
        return SP_OK;
    }
    char identity[SP_NAME_MAX + 3 * SP_FIELD_MAX + 8];
    snprintf(identity, sizeof(identity), "%s/%s/%s/%s", row.resource_name, row.dev_stage, row.architecture,
             row.version);
    double waited = 0;
    s = sp_registry_claim(reg, row.object_key, identity, 0, 600, NULL, NULL, NULL, &waited, err);
    int matches = 0;
    if (s == SP_OK) s = entry_object_matches(st, &row, &matches, err);
    if (s == SP_OK && matches) {
        int replaced = 0;
        s = reg->ops->put(reg->impl, &row, SP_ON_EXISTS_REPLACE, &replaced, err);
        if (s == SP_OK) {
            r->replayed++;
            sp_journal_remove(path);
        }
    } else if (s == SP_OK) {
        r->obsolete++;
        sp_journal_remove(path);
    }
    reg->ops->release(reg->impl);
    OPENSSL_cleanse(&row, sizeof(row));
    return s;
}

sp_status sp_registry_recover(const char *store_url, const char *registry_url, sp_recover_result *r, sp_error *err)
{
    memset(r, 0, sizeof(*r));
    char dir[SP_OBJECT_KEY_MAX];
    SP_TRY(sp_journal_dir(dir, sizeof(dir), err));
    sp_store st;
    sp_registry reg;
    SP_TRY(sp_store_open(store_url, &st, err));
    sp_status s = sp_registry_open(registry_url, &reg, err);
    if (s != SP_OK) {
        sp_store_close(&st);
        return s;
    }
    DIR *d = opendir(dir);
    if (!d) s = sp_fail(err, SP_ERR_IO, "cannot read the recovery folder %s", dir);
    struct dirent *de;
    while (s == SP_OK && d && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".row") != 0) continue;
        char path[SP_OBJECT_KEY_MAX + 300];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        s = recover_one(&st, &reg, path, st.desc, r, err);
    }
    if (d) closedir(d);
    if (s != SP_OK) {
        /* What is left stays for the next run. */
        r->remaining++;
    }
    sp_registry_close(&reg);
    sp_store_close(&st);
    return s;
}
