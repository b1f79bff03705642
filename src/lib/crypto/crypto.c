/* crypto.c: the one adapter between sealpub and OpenSSL's 1/0 return convention. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

#include "crypto/crypto.h"

sp_status sp_random(uint8_t *buf, size_t len, sp_error *err)
{
    if (len > INT32_MAX || RAND_bytes(buf, (int)len) != 1) return sp_fail_openssl(err, SP_ERR_CRYPTO, "RAND_bytes");
    return SP_OK;
}

struct sp_aead {
    EVP_CIPHER_CTX *enc, *dec;
};

sp_status sp_aead_new(const uint8_t key[32], sp_aead **out, sp_error *err)
{
    sp_aead *a = calloc(1, sizeof(*a));
    if (!a) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    a->enc = EVP_CIPHER_CTX_new();
    a->dec = EVP_CIPHER_CTX_new();
    /* The key schedule is set once; each record only sets its nonce. */
    if (!a->enc || !a->dec || EVP_EncryptInit_ex(a->enc, EVP_aes_256_gcm(), NULL, key, NULL) != 1 ||
        EVP_DecryptInit_ex(a->dec, EVP_aes_256_gcm(), NULL, key, NULL) != 1) {
        sp_aead_free(a);
        return sp_fail_openssl(err, SP_ERR_CRYPTO, "AES-256-GCM init");
    }
    *out = a;
    return SP_OK;
}

void sp_aead_free(sp_aead *a)
{
    if (!a) return;
    EVP_CIPHER_CTX_free(a->enc); /* frees and cleanses the key schedule */
    EVP_CIPHER_CTX_free(a->dec);
    free(a);
}

/* OpenSSL's lengths are int: records are bounded far below that (64 MiB). */
sp_status sp_aead_seal(sp_aead *a, const uint8_t nonce[SP_GCM_NONCE], const uint8_t *aad, size_t aad_len,
                       uint8_t *buf, size_t len, uint8_t tag[SP_GCM_TAG], sp_error *err)
{
    int n = 0;
    if (len > INT32_MAX || aad_len > INT32_MAX) return sp_fail(err, SP_ERR_INTERNAL, "record too large");
    if (EVP_EncryptInit_ex(a->enc, NULL, NULL, NULL, nonce) != 1 ||
        (aad_len && EVP_EncryptUpdate(a->enc, NULL, &n, aad, (int)aad_len) != 1) ||
        (len && EVP_EncryptUpdate(a->enc, buf, &n, buf, (int)len) != 1) ||
        EVP_EncryptFinal_ex(a->enc, buf + len, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_GCM_GET_TAG, SP_GCM_TAG, tag) != 1)
        return sp_fail_openssl(err, SP_ERR_CRYPTO, "AES-256-GCM seal");
    return SP_OK;
}

sp_status sp_aead_open(sp_aead *a, const uint8_t nonce[SP_GCM_NONCE], const uint8_t *aad, size_t aad_len,
                       uint8_t *buf, size_t len, const uint8_t tag[SP_GCM_TAG], sp_error *err)
{
    int n = 0;
    if (len > INT32_MAX || aad_len > INT32_MAX) return sp_fail(err, SP_ERR_FORMAT, "record too large");
    if (EVP_DecryptInit_ex(a->dec, NULL, NULL, NULL, nonce) != 1 ||
        (aad_len && EVP_DecryptUpdate(a->dec, NULL, &n, aad, (int)aad_len) != 1) ||
        (len && EVP_DecryptUpdate(a->dec, buf, &n, buf, (int)len) != 1) ||
        EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_GCM_SET_TAG, SP_GCM_TAG, (void *)(uintptr_t)tag) != 1)
        return sp_fail_openssl(err, SP_ERR_CRYPTO, "AES-256-GCM open");
    if (EVP_DecryptFinal_ex(a->dec, buf + len, &n) != 1) {
        OPENSSL_cleanse(buf, len);
        return sp_fail(err, SP_ERR_AUTH, "authentication failed");
    }
    return SP_OK;
}

struct sp_sha256 {
    EVP_MD_CTX *md;
};

sp_sha256 *sp_sha256_new(void)
{
    sp_sha256 *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    h->md = EVP_MD_CTX_new();
    if (!h->md || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
        sp_sha256_free(h);
        return NULL;
    }
    return h;
}

void sp_sha256_update(sp_sha256 *h, const void *data, size_t len)
{
    if (len) EVP_DigestUpdate(h->md, data, len);
}

void sp_sha256_final(sp_sha256 *h, uint8_t out[32])
{
    unsigned int n = 32;
    EVP_DigestFinal_ex(h->md, out, &n);
}

void sp_sha256_free(sp_sha256 *h)
{
    if (!h) return;
    EVP_MD_CTX_free(h->md);
    free(h);
}

void sp_sha256_once(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 32;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

static sp_status key_wrap_op(int enc, const uint8_t kek[32], const uint8_t *in, size_t in_len, uint8_t *out,
                             size_t *out_len, sp_error *err)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, m = 0, ok;
    if (!c) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    /* OpenSSL 1.1.1 refuses wrap modes without this flag; 3.x ignores it. */
    EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    ok = EVP_CipherInit_ex(c, EVP_aes_256_wrap_pad(), NULL, kek, NULL, enc) == 1 &&
         EVP_CipherUpdate(c, out, &n, in, (int)in_len) == 1 && EVP_CipherFinal_ex(c, out + n, &m) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        if (!enc) return sp_fail(err, SP_ERR_AUTH, "cannot unwrap the key: wrong KEK or corrupted key material");
        return sp_fail_openssl(err, SP_ERR_CRYPTO, "AES key wrap");
    }
    *out_len = (size_t)(n + m);
    return SP_OK;
}

/* RFC 5649 output: the key padded to a multiple of 8, plus the 8-byte
 * integrity block. OpenSSL writes that many bytes (wrap) or in_len - 8
 * bytes (unwrap, before it checks the padding) into out, so both sizes are
 * checked against the caller's capacity before OpenSSL sees the buffers. */
sp_status sp_key_wrap(const uint8_t kek[32], const uint8_t *key, size_t key_len, uint8_t *out, size_t out_cap,
                      size_t *out_len, sp_error *err)
{
    if (key_len == 0 || key_len > SP_KEY_WRAP_MAX_KEY || sp_key_wrapped_len(key_len) > out_cap)
        return sp_fail(err, SP_ERR_INTERNAL, "key wrap: %zu-byte key does not fit a %zu-byte buffer", key_len, out_cap);
    return key_wrap_op(1, kek, key, key_len, out, out_len, err);
}

sp_status sp_key_unwrap(const uint8_t kek[32], const uint8_t *in, size_t in_len, size_t expect_key_len, uint8_t *key,
                        size_t key_cap, sp_error *err)
{
    size_t got = 0;
    if (expect_key_len == 0 || expect_key_len > key_cap || expect_key_len > SP_KEY_WRAP_MAX_KEY)
        return sp_fail(err, SP_ERR_INTERNAL, "key unwrap: a %zu-byte key does not fit a %zu-byte buffer",
                       expect_key_len, key_cap);
    if (in_len != sp_key_wrapped_len(expect_key_len))
        return sp_fail(err, SP_ERR_AUTH, "wrapped key is %zu bytes, expected %zu: corrupted key material", in_len,
                       sp_key_wrapped_len(expect_key_len));
    /* OpenSSL may write in_len - 8 bytes (the padded key) before checking
     * the length field; go through a buffer of exactly that size. */
    uint8_t tmp[SP_KEY_WRAP_MAX_KEY + 8];
    sp_status s = key_wrap_op(0, kek, in, in_len, tmp, &got, err);
    if (s == SP_OK && got != expect_key_len)
        s = sp_fail(err, SP_ERR_AUTH, "unwrapped key is %zu bytes, expected %zu", got, expect_key_len);
    if (s == SP_OK) memcpy(key, tmp, expect_key_len);
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return s;
}

/* What the CPU offers to OpenSSL's and libdeflate's assembly paths (both
 * dispatch at run time on the same CPUID/HWCAP bits read here). */
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

void sp_crypto_cpu_features(char *out, size_t cap)
{
    out[0] = '\0';
#if defined(__x86_64__) || defined(__i386__)
    unsigned int a = 0, b = 0, c1 = 0, d = 0, b7 = 0, c7 = 0;
    __get_cpuid(1, &a, &b, &c1, &d);
    __get_cpuid_count(7, 0, &a, &b7, &c7, &d);
    snprintf(out, cap, "x86: AES-NI=%s PCLMULQDQ=%s AVX2=%s VAES=%s VPCLMULQDQ=%s SHA-NI=%s",
             (c1 >> 25) & 1 ? "yes" : "no", (c1 >> 1) & 1 ? "yes" : "no", (b7 >> 5) & 1 ? "yes" : "no",
             (c7 >> 9) & 1 ? "yes" : "no", (c7 >> 10) & 1 ? "yes" : "no", (b7 >> 29) & 1 ? "yes" : "no");
#elif defined(__aarch64__)
    unsigned long hw = getauxval(AT_HWCAP);
    snprintf(out, cap, "arm64: AES=%s PMULL=%s SHA2=%s SHA512=%s", (hw & (1UL << 3)) ? "yes" : "no",
             (hw & (1UL << 4)) ? "yes" : "no", (hw & (1UL << 6)) ? "yes" : "no", (hw & (1UL << 21)) ? "yes" : "no");
#else
    snprintf(out, cap, "no accelerated paths known for this architecture");
#endif
}
