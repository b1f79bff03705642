/* kek.h: loading the optional key-encryption key from the environment. */
#ifndef SP_KEK_H
#define SP_KEK_H

#include "common/sp_common.h"

#define SP_KEK_ID_LEN 16
#define SP_KEY_WRAP_NONE "none"
#define SP_KEY_WRAP_KWP "aes256-kwp"

/* Reads SEALPUB_KEK (base64 of 32 bytes) or SEALPUB_KEK_FILE (32 raw bytes
 * or base64 text). *present = 0 when neither is set. Errors never echo the
 * value. kek should be secret memory. */
sp_status sp_kek_load(uint8_t kek[32], int *present, char id[SP_KEK_ID_LEN + 1], sp_error *err) SP_MUST_USE;
/* First 16 hex digits of SHA-256("sealpub-kek-id" || KEK). */
void sp_kek_id(const uint8_t kek[32], char id[SP_KEK_ID_LEN + 1]);

#endif
