/* kek.c: the optional key-encryption key (SEALPUB_KEK / SEALPUB_KEK_FILE), its identifier, and the registry key policy. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <stdlib.h>

#include "crypto/crypto.h"
#include "crypto/kek.h"
#include "crypto/keyfile.h"

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
        SP_TRY(sp_key_file_read(path, "SEALPUB_KEK_FILE", kek, err));
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

int sp_kek_wrap_is_known(const char *w)
{
    return strcmp(w, SP_KEY_WRAP_NONE) == 0 || strcmp(w, SP_KEY_WRAP_BOUND) == 0 || strcmp(w, SP_KEY_WRAP_KWP) == 0;
}

sp_status sp_kek_required(int *required, sp_error *err)
{
    const char *v = getenv("SEALPUB_REQUIRE_KEK");
    *required = 0;
    if (!v || !*v || strcmp(v, "0") == 0) return SP_OK;
    if (strcmp(v, "1") != 0) return sp_fail(err, SP_ERR_USAGE, "SEALPUB_REQUIRE_KEK must be 0 or 1");
    *required = 1;
    return SP_OK;
}

/* The wrapping key of one row: HKDF-SHA256 with the KEK as input key, the
 * artifact_id as salt and the identity in the info string. Names, stages,
 * architectures and versions cannot hold a newline (names.c), so the
 * newline-separated info is unambiguous. */
static sp_status row_kek(const uint8_t kek[32], const sp_kek_binding *b, uint8_t out[32], sp_error *err)
{
    char info[sizeof(SP_KEK_INFO) + SP_NAME_MAX + 3 * SP_FIELD_MAX + 8];
    int n = snprintf(info, sizeof(info), "%s\n%s\n%s\n%s\n%s", SP_KEK_INFO, b->name, b->stage, b->arch, b->version);
    if (n < 0 || (size_t)n >= sizeof(info) || strlen(b->name) > SP_NAME_MAX)
        return sp_fail(err, SP_ERR_REGISTRY, "registry row identity is too long to bind a key to");
    return sp_hkdf_sha256(kek, 32, b->artifact_id, SP_KEK_ARTIFACT_ID_LEN, info, out, err);
}

sp_status sp_kek_row_key(const uint8_t kek[32], const sp_kek_binding *b, uint8_t out[32], sp_error *err)
{
    return row_kek(kek, b, out, err);
}

sp_status sp_kek_seal_key(const uint8_t file_key[32], const sp_kek_binding *b, sp_kek_fields *out, sp_error *err)
{
    int required = 0, have = 0;
    memset(out, 0, sizeof(*out));
    SP_TRY(sp_kek_required(&required, err));
    uint8_t *kek = sp_secret_alloc(64); /* KEK, row key */
    if (!kek) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    char id[SP_KEK_ID_LEN + 1] = "";
    sp_status s = sp_kek_load(kek, &have, id, err);
    if (s == SP_OK && !have && required)
        s = sp_fail(err, SP_ERR_USAGE, "SEALPUB_REQUIRE_KEK=1 but neither SEALPUB_KEK nor SEALPUB_KEK_FILE is set");
    if (s == SP_OK && have) {
        uint8_t wrapped[SP_KEY_WRAP_MAX_KEY + 16];
        size_t wlen = 0;
        s = row_kek(kek, b, kek + 32, err);
        if (s == SP_OK) s = sp_key_wrap(kek + 32, file_key, SP_KEY_BYTES, wrapped, sizeof(wrapped), &wlen, err);
        if (s == SP_OK) {
            sp_b64_encode(wrapped, wlen, out->encryption_key);
            sp_strlcpy(out->key_wrap, SP_KEY_WRAP_BOUND, sizeof(out->key_wrap));
            sp_strlcpy(out->kek_id, id, sizeof(out->kek_id));
        }
    } else if (s == SP_OK) {
        sp_b64_encode(file_key, SP_KEY_BYTES, out->encryption_key);
        sp_strlcpy(out->key_wrap, SP_KEY_WRAP_NONE, sizeof(out->key_wrap));
    }
    sp_secret_free(kek, 64);
    return s;
}

/* A row field for an error message: printable ASCII only, cut short, so a
 * hostile row cannot break the one-line contract. */
static void printable(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in && o + 1 < cap; in++) out[o++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
    out[o] = '\0';
}

sp_status sp_kek_open_key(const char *encryption_key, const char *key_wrap, const char *kek_id,
                          const sp_kek_binding *b, uint8_t file_key[32], sp_error *err)
{
    int required = 0, have = 0;
    char shown[SP_KEK_ID_LEN * 2 + 1], id[SP_KEK_ID_LEN + 1] = "";
    SP_TRY(sp_kek_required(&required, err));
    uint8_t *kek = sp_secret_alloc(64); /* KEK, row key */
    if (!kek) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    sp_status s = sp_kek_load(kek, &have, id, err);
    int none = !key_wrap[0] || strcmp(key_wrap, SP_KEY_WRAP_NONE) == 0;
    int bound = strcmp(key_wrap, SP_KEY_WRAP_BOUND) == 0, legacy = strcmp(key_wrap, SP_KEY_WRAP_KWP) == 0;
    uint8_t raw[96];
    long n = sp_b64_decode(encryption_key, raw, sizeof(raw));
    printable(kek_id ? kek_id : "", shown, sizeof(shown));
    if (s != SP_OK) {
        /* the KEK's own error */
    } else if (!none && !bound && !legacy) {
        char w[40];
        printable(key_wrap, w, sizeof(w));
        s = sp_fail(err, SP_ERR_REGISTRY, "unknown key_wrap '%s' in the registry row", w);
    } else if (n < 0) {
        s = sp_fail(err, SP_ERR_REGISTRY, "registry row's encryption_key is not valid base64");
    } else if (none && (have || required)) {
        s = sp_fail(err, SP_ERR_AUTH,
                    "the registry row holds an unwrapped key but %s: refusing it (anyone who can write a row could "
                    "substitute content; republish with the KEK)",
                    have ? "a KEK is configured" : "SEALPUB_REQUIRE_KEK=1");
    } else if (none) {
        if (n != 32) s = sp_fail(err, SP_ERR_REGISTRY, "registry row's encryption_key is not 32 bytes");
        else memcpy(file_key, raw, 32);
    } else if (legacy && required) {
        s = sp_fail(err, SP_ERR_AUTH,
                    "the registry row's key is wrapped as '%s', not bound to its row, and SEALPUB_REQUIRE_KEK=1: "
                    "republish it",
                    SP_KEY_WRAP_KWP);
    } else if (!have) {
        s = sp_fail(err, SP_ERR_USAGE, "the key is wrapped under KEK %s: set SEALPUB_KEK or SEALPUB_KEK_FILE", shown);
    } else if (!kek_id || strcmp(id, kek_id) != 0) {
        s = sp_fail(err, SP_ERR_AUTH, "the key is wrapped under KEK %s but SEALPUB_KEK is KEK %s", shown, id);
    } else {
        if (bound) s = row_kek(kek, b, kek + 32, err);
        else memcpy(kek + 32, kek, 32);
        if (s == SP_OK) s = sp_key_unwrap(kek + 32, raw, (size_t)n, SP_KEY_BYTES, file_key, 32, err);
        if (s == SP_ERR_AUTH && bound && (size_t)n == sp_key_wrapped_len(SP_KEY_BYTES))
            s = sp_fail(err, SP_ERR_AUTH,
                        "cannot unwrap the key: wrong KEK, corrupted key material, or a key copied from another "
                        "registry row");
    }
    OPENSSL_cleanse(raw, sizeof(raw));
    sp_secret_free(kek, 64);
    return s;
}
