/* kek.c: the optional key-encryption key (SEALPUB_KEK / SEALPUB_KEK_FILE) and its public identifier. */
#include <errno.h>
#include <stdio.h>
#include <openssl/crypto.h>
#include <stdlib.h>

#include "crypto/crypto.h"
#include "crypto/kek.h"

static sp_status kek_from_text(const char *text, const char *source, uint8_t kek[32], sp_error *err)
{
    uint8_t tmp[64];
    long n = sp_b64_decode(text, tmp, sizeof(tmp));
    sp_status s = SP_OK;
    if (n != 32)
        s = sp_fail(err, SP_ERR_USAGE, "%s must be 32 bytes, base64-encoded (got %s)", source,
                    n < 0 ? "invalid base64" : "a different length");
    else
        memcpy(kek, tmp, 32);
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return s;
}

sp_status sp_kek_load(uint8_t kek[32], int *present, char id[SP_KEK_ID_LEN + 1], sp_error *err)
{
    const char *b64 = getenv("SEALPUB_KEK"), *path = getenv("SEALPUB_KEK_FILE");
    *present = 0;
    if (b64 && *b64 && path && *path) return sp_fail(err, SP_ERR_USAGE, "set SEALPUB_KEK or SEALPUB_KEK_FILE, not both");
    if (b64 && *b64) {
        SP_TRY(kek_from_text(b64, "SEALPUB_KEK", kek, err));
    } else if (path && *path) {
        FILE *f = fopen(path, "rb");
        if (!f) return sp_fail(err, SP_ERR_USAGE, "SEALPUB_KEK_FILE %s: %s", path, strerror(errno));
        uint8_t buf[128];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        sp_status s = SP_OK;
        if (n == 32) {
            memcpy(kek, buf, 32); /* raw key bytes */
        } else {
            buf[n] = '\0';
            s = kek_from_text((const char *)buf, "SEALPUB_KEK_FILE", kek, err);
        }
        OPENSSL_cleanse(buf, sizeof(buf));
        SP_TRY(s);
    } else {
        return SP_OK;
    }
    sp_kek_id(kek, id);
    *present = 1;
    return SP_OK;
}

void sp_kek_id(const uint8_t kek[32], char id[SP_KEK_ID_LEN + 1])
{
    uint8_t buf[14 + 32], digest[32];
    memcpy(buf, "sealpub-kek-id", 14);
    memcpy(buf + 14, kek, 32);
    sp_sha256_once(buf, sizeof(buf), digest);
    OPENSSL_cleanse(buf, sizeof(buf));
    sp_hex(digest, SP_KEK_ID_LEN / 2, id);
}
