/* hkdf.c: HKDF-SHA256 through OpenSSL 3's EVP_KDF or, on OpenSSL 1.1.1 (Debian 11), its EVP_PKEY HKDF: the same RFC 5869 output. */
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <string.h>

#include "crypto/crypto.h"

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/core_names.h>

sp_status sp_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len, const char *info,
                         uint8_t out[32], sp_error *err)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!kctx) return sp_fail_openssl(err, SP_ERR_CRYPTO, "HKDF unavailable");
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)ikm, ikm_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)(uintptr_t)salt, salt_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)(uintptr_t)info, strlen(info)),
        OSSL_PARAM_construct_end(),
    };
    int ok = EVP_KDF_derive(kctx, out, 32, params);
    EVP_KDF_CTX_free(kctx);
    return ok == 1 ? SP_OK : sp_fail_openssl(err, SP_ERR_CRYPTO, "HKDF");
}
#else
sp_status sp_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len, const char *info,
                         uint8_t out[32], sp_error *err)
{
    /* 1.1.1 takes int lengths; every caller passes a few dozen bytes. */
    if (ikm_len > 1u << 20 || salt_len > 1u << 20 || strlen(info) > 1u << 20)
        return sp_fail(err, SP_ERR_INTERNAL, "HKDF input too long");
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    if (!pctx) return sp_fail_openssl(err, SP_ERR_CRYPTO, "HKDF unavailable");
    size_t out_len = 32;
    int ok = EVP_PKEY_derive_init(pctx) == 1 && EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()) == 1 &&
             EVP_PKEY_CTX_set1_hkdf_salt(pctx, salt, (int)salt_len) == 1 &&
             EVP_PKEY_CTX_set1_hkdf_key(pctx, ikm, (int)ikm_len) == 1 &&
             EVP_PKEY_CTX_add1_hkdf_info(pctx, (const unsigned char *)info, (int)strlen(info)) == 1 &&
             EVP_PKEY_derive(pctx, out, &out_len) == 1 && out_len == 32;
    EVP_PKEY_CTX_free(pctx);
    return ok ? SP_OK : sp_fail_openssl(err, SP_ERR_CRYPTO, "HKDF");
}
#endif
