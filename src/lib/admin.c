/* admin.c: the small public entry points that only forward to one module. */
#include <stdio.h>

#include "compress/codec.h"
#include "crypto/crypto.h"
#include "registry/registry.h"

sp_status sp_registry_init(const char *registry_url, char *where, size_t cap, sp_error *err)
{
    sp_registry reg;
    SP_TRY(sp_registry_open(registry_url, &reg, err));
    sp_status s = reg.ops->init(reg.impl, err);
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
