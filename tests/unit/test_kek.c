/* test_kek.c: the registry key policy: bound wrapping, refusing unwrapped rows under a KEK, SEALPUB_REQUIRE_KEK,
 * and unwrap capacities. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "crypto/crypto.h"
#include "crypto/kek.h"

#define KEK_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static const uint8_t AID_A[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t AID_B[16] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};

/* The registry row most tests seal a key for. */
static const sp_kek_binding DETECTOR = {"detector", "dev", "amd64", "7", AID_A};

static void clean_env(void)
{
    unsetenv("SEALPUB_KEK");
    unsetenv("SEALPUB_KEK_FILE");
    unsetenv("SEALPUB_REQUIRE_KEK");
}

static void file_key(uint8_t k[32])
{
    for (int i = 0; i < 32; i++) k[i] = (uint8_t)(0xa0 + i);
}

/* With only SEALPUB_KEK=KEK_B64 set, seals file_key() (into k) for DETECTOR. */
static void seal_under_kek(uint8_t k[32], sp_kek_fields *f)
{
    clean_env();
    setenv("SEALPUB_KEK", KEK_B64, 1);
    file_key(k);
    sp_error err;
    cr_assert_eq(sp_kek_seal_key(k, &DETECTOR, f, &err), SP_OK, "%s", err.msg);
}

/* The raw KEK of KEK_B64 and its id. */
static void test_kek(uint8_t kek[32], char id[SP_KEK_ID_LEN + 1])
{
    for (int i = 0; i < 32; i++) kek[i] = (uint8_t)i;
    sp_kek_id(kek, id);
}

/* RFC 5649 wrap straight through OpenSSL, for any key length (sealpub's own
 * wrap refuses what it would never write). */
static size_t openssl_wrap(const uint8_t kek[32], const uint8_t *key, size_t len, uint8_t *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, m = 0;
    cr_assert(c);
    EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW); /* needed by OpenSSL 1.1.1 */
    cr_assert_eq(EVP_EncryptInit_ex(c, EVP_aes_256_wrap_pad(), NULL, kek, NULL), 1);
    cr_assert_eq(EVP_EncryptUpdate(c, out, &n, key, (int)len), 1);
    cr_assert_eq(EVP_EncryptFinal_ex(c, out + n, &m), 1);
    EVP_CIPHER_CTX_free(c);
    return (size_t)(n + m);
}

/* Regression: sp_key_unwrap used to write in_len - 8 bytes into the
 * caller's 32-byte key, so a registry row holding an 88-byte wrapped blob
 * (a wrapped 80-byte key, valid under the KEK) overflowed it (ASan: a heap
 * buffer overflow on the exact-size buffer below). */
Test(kek, oversized_wrapped_key_is_refused_without_writing)
{
    clean_env();
    uint8_t kek[32], big[80], blob[96];
    char id[SP_KEK_ID_LEN + 1], b64[160];
    test_kek(kek, id);
    memset(big, 0x5a, sizeof(big));
    size_t blen = openssl_wrap(kek, big, sizeof(big), blob);
    cr_assert_eq(blen, 88);
    uint8_t *key = malloc(32); /* exactly the capacity: ASan flags one byte more */
    cr_assert(key);
    memset(key, 0x11, 32);
    sp_error err;
    cr_assert_eq(sp_key_unwrap(kek, blob, blen, 32, key, 32, &err), SP_ERR_AUTH);
    cr_assert(strstr(err.msg, "88") != NULL, "%s", err.msg);
    for (int i = 0; i < 32; i++) cr_assert_eq(key[i], 0x11, "the key buffer was written");
    /* The same blob through the registry path (a legacy row). */
    sp_b64_encode(blob, blen, b64);
    setenv("SEALPUB_KEK", KEK_B64, 1);
    sp_kek_binding b = {"n", "dev", "amd64", "1", AID_A};
    cr_assert_eq(sp_kek_open_key(b64, SP_KEY_WRAP_KWP, id, &b, key, &err), SP_ERR_AUTH);
    /* A capacity below the key length is refused before OpenSSL runs. */
    cr_assert_eq(sp_key_unwrap(kek, blob, 40, 32, key, 16, &err), SP_ERR_INTERNAL);
    uint8_t small[8];
    size_t wlen = 0;
    cr_assert_eq(sp_key_wrap(kek, big, 32, small, sizeof(small), &wlen, &err), SP_ERR_INTERNAL);
    free(key);
    clean_env();
}

Test(kek, bound_wrap_round_trip)
{
    uint8_t k[32], back[32];
    sp_kek_fields f;
    sp_error err;
    seal_under_kek(k, &f);
    cr_assert_str_eq(f.key_wrap, SP_KEY_WRAP_BOUND);
    cr_assert_eq(strlen(f.kek_id), SP_KEK_ID_LEN);
    cr_assert_eq(sp_kek_open_key(f.encryption_key, f.key_wrap, f.kek_id, &DETECTOR, back, &err), SP_OK, "%s",
                 err.msg);
    cr_assert_eq(memcmp(k, back, 32), 0);
    /* Not the plain RFC 5649 wrap under the KEK: a reader of an earlier
     * release, or anyone treating it as legacy, cannot unwrap it. */
    cr_assert_eq(sp_kek_open_key(f.encryption_key, SP_KEY_WRAP_KWP, f.kek_id, &DETECTOR, back, &err), SP_ERR_AUTH);
    clean_env();
}

/* A wrapped key copied into another row (other identity, or another
 * publish's artifact_id) does not open there. */
Test(kek, wrapped_key_copied_to_another_row_is_refused)
{
    uint8_t k[32], back[32];
    sp_kek_fields f;
    sp_error err;
    seal_under_kek(k, &f);
    sp_kek_binding others[] = {
        {"detector2", "dev", "amd64", "7", AID_A}, {"detector", "prod", "amd64", "7", AID_A},
        {"detector", "dev", "arm64", "7", AID_A},  {"detector", "dev", "amd64", "8", AID_A},
        {"detector", "dev", "amd64", "7", AID_B},  {"detecto", "rdev", "amd64", "7", AID_A},
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        memset(back, 0, 32);
        cr_assert_eq(sp_kek_open_key(f.encryption_key, f.key_wrap, f.kek_id, &others[i], back, &err), SP_ERR_AUTH,
                     "binding %zu opened", i);
        cr_assert(strstr(err.msg, "another registry row") != NULL, "%s", err.msg);
    }
    clean_env();
}

Test(kek, unwrapped_row_is_refused_when_a_kek_is_set)
{
    clean_env();
    uint8_t k[32], back[32];
    file_key(k);
    sp_kek_fields f;
    sp_error err;
    cr_assert_eq(sp_kek_seal_key(k, &DETECTOR, &f, &err), SP_OK);
    cr_assert_str_eq(f.key_wrap, SP_KEY_WRAP_NONE);
    /* No KEK: readable. */
    cr_assert_eq(sp_kek_open_key(f.encryption_key, f.key_wrap, "", &DETECTOR, back, &err), SP_OK);
    cr_assert_eq(memcmp(k, back, 32), 0);
    setenv("SEALPUB_KEK", KEK_B64, 1);
    cr_assert_eq(sp_kek_open_key(f.encryption_key, f.key_wrap, "", &DETECTOR, back, &err), SP_ERR_AUTH);
    cr_assert(strstr(err.msg, "unwrapped") != NULL, "%s", err.msg);
    cr_assert_eq(sp_kek_open_key(f.encryption_key, "", "", &DETECTOR, back, &err), SP_ERR_AUTH); /* empty = none */
    clean_env();
}

Test(kek, require_kek)
{
    clean_env();
    uint8_t k[32], back[32], kek[32], wrapped[48];
    char id[SP_KEK_ID_LEN + 1], b64[80];
    file_key(k);
    sp_kek_fields f;
    sp_error err;
    setenv("SEALPUB_REQUIRE_KEK", "1", 1);
    cr_assert_eq(sp_kek_seal_key(k, &DETECTOR, &f, &err), SP_ERR_USAGE);
    cr_assert(strstr(err.msg, "SEALPUB_REQUIRE_KEK") != NULL, "%s", err.msg);
    sp_b64_encode(k, 32, b64);
    cr_assert_eq(sp_kek_open_key(b64, "none", "", &DETECTOR, back, &err), SP_ERR_AUTH);
    /* Legacy (unbound) rows: read by default, refused under SEALPUB_REQUIRE_KEK=1. */
    test_kek(kek, id);
    size_t wlen = 0;
    cr_assert_eq(sp_key_wrap(kek, k, 32, wrapped, sizeof(wrapped), &wlen, &err), SP_OK);
    sp_b64_encode(wrapped, wlen, b64);
    setenv("SEALPUB_KEK", KEK_B64, 1);
    cr_assert_eq(sp_kek_open_key(b64, SP_KEY_WRAP_KWP, id, &DETECTOR, back, &err), SP_ERR_AUTH);
    cr_assert(strstr(err.msg, "not bound") != NULL, "%s", err.msg);
    unsetenv("SEALPUB_REQUIRE_KEK");
    cr_assert_eq(sp_kek_open_key(b64, SP_KEY_WRAP_KWP, id, &DETECTOR, back, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(memcmp(k, back, 32), 0);
    setenv("SEALPUB_REQUIRE_KEK", "yes", 1);
    cr_assert_eq(sp_kek_seal_key(k, &DETECTOR, &f, &err), SP_ERR_USAGE);
    clean_env();
}

Test(kek, hostile_row_fields_stay_on_one_line)
{
    clean_env();
    uint8_t back[32];
    sp_error err;
    cr_assert_eq(sp_kek_open_key("AAAA", "x\nsealpub: fine", "", &DETECTOR, back, &err), SP_ERR_REGISTRY);
    cr_assert_null(strchr(err.msg, '\n'), "%s", err.msg);
}
