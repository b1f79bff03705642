/* admin.c: the small public entry points that only forward to one module. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/codec.h"
#include "crypto/crypto.h"
#include "registry/registry.h"
#include "store/store.h"

sp_status sp_registry_init(const char *registry_url, char *where, size_t cap, sp_error *err)
{
    sp_registry reg;
    SP_TRY(sp_registry_open(registry_url, &reg, err));
    sp_status s = reg.ops->init(reg.impl, err);
    /* An existing table owned by another team may not fit: name each mismatch. */
    char warn[256];
    if (s == SP_OK) s = reg.ops->check(reg.impl, warn, sizeof(warn), err);
    if (where) sp_strlcpy(where, reg.desc, cap);
    sp_registry_close(&reg);
    return s;
}

void sp_cpu_features(char *out, size_t cap)
{
    char crypto[256];
    sp_crypto_cpu_features(crypto, sizeof(crypto));
    snprintf(out, cap, "%s; %s", crypto, sp_codec_version());
}

sp_status sp_store_cleanup(const char *store_url, long older_than_seconds, unsigned *removed, sp_error *err)
{
    *removed = 0;
    if (older_than_seconds < 0) return sp_fail(err, SP_ERR_USAGE, "--older-than must not be negative");
    sp_store st;
    SP_TRY(sp_store_open(store_url, &st, err));
    sp_status s = sp_store_cleanup_stale(&st, older_than_seconds, removed, err);
    sp_store_close(&st);
    return s;
}
