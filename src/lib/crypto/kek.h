/* kek.h: loading the optional key-encryption key from the environment. */
#ifndef SP_KEK_H
#define SP_KEK_H

#include "common/sp_common.h"

#define SP_KEK_ID_LEN 16
#define SP_KEY_WRAP_NONE "none"
/* Written by earlier releases: RFC 5649 under the KEK itself, not bound to its row.
 * Still read (only a KEK holder can make one) unless SEALPUB_REQUIRE_KEK=1. */
#define SP_KEY_WRAP_KWP "aes256-kwp"
/* RFC 5649 under a key derived from the KEK and the row's identity and
 * artifact_id (docs/FORMAT.md "Key wrapping"): a wrapped key copied into
 * another row does not unwrap there. */
#define SP_KEY_WRAP_BOUND "aes256-kwp-bound-v1"
#define SP_KEK_INFO "sealpub v1 key wrap"

/* What a wrapped key is bound to: the registry row's identity and the
 * artifact_id of the container (SP_KEK_ARTIFACT_ID_LEN raw bytes, the
 * container's SP_ARTIFACT_ID_LEN). */
#define SP_KEK_ARTIFACT_ID_LEN 16
typedef struct sp_kek_binding {
    const char *name, *stage, *arch, *version;
    const uint8_t *artifact_id;
} sp_kek_binding;

/* The registry fields that carry a file key: what publish writes and what
 * a reader resolves. Sizes match sp_row's. */
typedef struct sp_kek_fields {
    char encryption_key[128];
    char key_wrap[32];
    char kek_id[65];
} sp_kek_fields;

/* Reads SEALPUB_KEK (base64 of 32 bytes) or SEALPUB_KEK_FILE (32 raw bytes
 * or base64 text). *present = 0 when neither is set. Errors never echo the
 * value. kek should be secret memory. */
sp_status sp_kek_load(uint8_t kek[32], int *present, char id[SP_KEK_ID_LEN + 1], sp_error *err) SP_MUST_USE;
/* First 16 hex digits of SHA-256("sealpub-kek-id" || KEK). */
void sp_kek_id(const uint8_t kek[32], char id[SP_KEK_ID_LEN + 1]);

/* 1 for the key_wrap values this sealpub reads: none, aes256-kwp-bound-v1, aes256-kwp. */
int sp_kek_wrap_is_known(const char *key_wrap);

/* SEALPUB_REQUIRE_KEK=1: publish refuses to run without a KEK and readers
 * refuse rows that are not bound-wrapped. Anything but unset/""/"0" other
 * than "1" is SP_ERR_USAGE. */
sp_status sp_kek_required(int *required, sp_error *err) SP_MUST_USE;

/* Publish: the registry form of file_key. With a KEK (SEALPUB_KEK or
 * SEALPUB_KEK_FILE) it is wrapped and bound (SP_KEY_WRAP_BOUND); without one
 * it is stored as is ("none"), unless SEALPUB_REQUIRE_KEK=1 (SP_ERR_USAGE). */
sp_status sp_kek_seal_key(const uint8_t file_key[32], const sp_kek_binding *b, sp_kek_fields *out,
                          sp_error *err) SP_MUST_USE;

/* The wrapping key of one row under kek: HKDF-SHA256 of the KEK with the
 * artifact id as salt and the identity in the info (docs/FORMAT.md "Key
 * wrapping"). For rewrap, which holds two KEKs at once. */
sp_status sp_kek_row_key(const uint8_t kek[32], const sp_kek_binding *b, uint8_t out[32], sp_error *err) SP_MUST_USE;

/* Readers: the file key of a row. With a KEK configured, a "none" row is
 * refused (SP_ERR_AUTH: whoever can write one row could substitute
 * content); a bound row unwraps only under the binding it was made for. */
sp_status sp_kek_open_key(const char *encryption_key, const char *key_wrap, const char *kek_id,
                          const sp_kek_binding *b, uint8_t file_key[32], sp_error *err) SP_MUST_USE;

#endif
