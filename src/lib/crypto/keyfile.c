/* keyfile.c: the one reader of 32-byte key files, shared by open's --key-file and SEALPUB_KEK_FILE. */
#include <errno.h>
#include <stdio.h>

#include <openssl/crypto.h>

#include "crypto/keyfile.h"

sp_status sp_key_file_read(const char *path, const char *what, uint8_t key[32], sp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return sp_fail(err, SP_ERR_USAGE, "%s %s: %s", what, path, strerror(errno));
    /* Large enough for 32 bytes of base64 with generous whitespace; a
     * longer file is not a key either way. */
    uint8_t buf[256], tmp[64];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    sp_status s = SP_OK;
    if (n == 32) {
        memcpy(key, buf, 32); /* raw key bytes */
    } else {
        buf[n] = '\0';
        if (sp_b64_decode((const char *)buf, tmp, sizeof(tmp)) == 32)
            memcpy(key, tmp, 32);
        else
            s = sp_fail(err, SP_ERR_USAGE, "%s %s must hold 32 raw bytes or their base64", what, path);
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return s;
}
