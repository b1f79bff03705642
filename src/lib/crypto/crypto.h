/* crypto.h: AES-256-GCM, HKDF-SHA-256, SHA-256 and key wrapping over OpenSSL's EVP interface. */
#ifndef SP_CRYPTO_H
#define SP_CRYPTO_H

#include "common/sp_common.h"

#define SP_GCM_NONCE 12
#define SP_GCM_TAG 16

/* Fills buf from OpenSSL's CSPRNG. */
sp_status sp_random(uint8_t *buf, size_t len, sp_error *err) SP_MUST_USE;

/* HKDF-SHA-256 (RFC 5869) to a 32-byte output. */
sp_status sp_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
                         const char *info, uint8_t out[32], sp_error *err) SP_MUST_USE;

/* One AES-256-GCM key schedule for one thread: not thread-safe, cheap to
 * reuse (only the nonce changes per record). */
typedef struct sp_aead sp_aead;
sp_status sp_aead_new(const uint8_t key[32], sp_aead **out, sp_error *err) SP_MUST_USE;
void sp_aead_free(sp_aead *a);
/* Encrypts len bytes of buf in place and writes the tag. */
sp_status sp_aead_seal(sp_aead *a, const uint8_t nonce[SP_GCM_NONCE], const uint8_t *aad, size_t aad_len,
                       uint8_t *buf, size_t len, uint8_t tag[SP_GCM_TAG], sp_error *err) SP_MUST_USE;
/* Decrypts in place; SP_ERR_AUTH if the tag does not verify (buf is then
 * wiped, so no unauthenticated plaintext escapes). */
sp_status sp_aead_open(sp_aead *a, const uint8_t nonce[SP_GCM_NONCE], const uint8_t *aad, size_t aad_len,
                       uint8_t *buf, size_t len, const uint8_t tag[SP_GCM_TAG], sp_error *err) SP_MUST_USE;

/* Streaming SHA-256. */
typedef struct sp_sha256 sp_sha256;
sp_sha256 *sp_sha256_new(void);
void sp_sha256_update(sp_sha256 *h, const void *data, size_t len);
void sp_sha256_final(sp_sha256 *h, uint8_t out[32]);
void sp_sha256_free(sp_sha256 *h);
void sp_sha256_once(const void *data, size_t len, uint8_t out[32]);

/* RFC 5649 AES key wrap with padding under a 32-byte KEK. Keys up to
 * SP_KEY_WRAP_MAX_KEY bytes; the wrapped form is sp_key_wrapped_len(key_len)
 * bytes. */
#define SP_KEY_WRAP_MAX_KEY 64
static inline size_t sp_key_wrapped_len(size_t key_len) { return (key_len + 7) / 8 * 8 + 8; }
/* Writes sp_key_wrapped_len(key_len) bytes; SP_ERR_INTERNAL if out_cap is smaller. */
sp_status sp_key_wrap(const uint8_t kek[32], const uint8_t *key, size_t key_len, uint8_t *out, size_t out_cap,
                      size_t *out_len, sp_error *err) SP_MUST_USE;
/* Unwraps a key of exactly expect_key_len bytes into key (key_cap bytes):
 * in_len must be the exact wrapped length of such a key, so registry
 * controlled input cannot size the write. SP_ERR_AUTH if the KEK is wrong,
 * the length differs or the material is corrupted; key is untouched then. */
sp_status sp_key_unwrap(const uint8_t kek[32], const uint8_t *in, size_t in_len, size_t expect_key_len, uint8_t *key,
                        size_t key_cap, sp_error *err) SP_MUST_USE;

/* "AES-NI PCLMUL VAES SHA-NI" etc., as OpenSSL will use them. */
void sp_crypto_cpu_features(char *out, size_t cap);

#endif
