/* container.h: the byte layout of a sealpub v1 container (docs/FORMAT.md): header, records, index, footer. */
#ifndef SP_CONTAINER_H
#define SP_CONTAINER_H

#include "common/sp_common.h"

#define SP_MAGIC_LEN 8
extern const uint8_t sp_magic[SP_MAGIC_LEN];
extern const uint8_t sp_footer_magic[SP_MAGIC_LEN];

#define SP_FORMAT_VERSION 1
#define SP_SUITE_AES256GCM_GZIP 1
#define SP_FORMAT_NAME "sealpub-v1"
#define SP_ARTIFACT_ID_LEN 16
#define SP_HEADER_FIXED 34
#define SP_HEADER_MAX (SP_HEADER_FIXED + SP_NAME_MAX + 3 * SP_FIELD_MAX + 4)
#define SP_PREFIX_LEN 4
#define SP_TAG_LEN 16
#define SP_FINAL_FLAG 0x80000000u
#define SP_INDEX_FIXED 16
#define SP_INDEX_ENTRY 24
#define SP_FOOTER_LEN 24
#define SP_ENTRY_STORED 1u
#define SP_KDF_INFO "sealpub v1 payload key"

typedef struct sp_header {
    uint8_t version, suite;
    uint16_t flags;
    uint32_t chunk_size;
    uint8_t artifact_id[SP_ARTIFACT_ID_LEN];
    char name[SP_NAME_MAX + 1];
    char stage[SP_FIELD_MAX + 1];
    char arch[SP_FIELD_MAX + 1];
    char version_str[SP_FIELD_MAX + 1];
} sp_header;

typedef struct sp_index_entry {
    uint64_t offset;    /* of the record's prefix, from the start of the container */
    uint32_t body_len;  /* ciphertext + tag */
    uint32_t plain_len; /* bytes this chunk inflates to */
    uint32_t flags;     /* SP_ENTRY_STORED; other bits must be 0 */
    uint32_t reserved;  /* must be 0 */
} sp_index_entry;

/* Writes the header; returns its length (<= SP_HEADER_MAX). */
size_t sp_header_encode(const sp_header *h, uint8_t out[SP_HEADER_MAX]);
/* Parses and validates a header from buf[0..len). SP_ERR_TRUNCATED when len
 * is too short to tell, SP_ERR_FORMAT for anything invalid. */
sp_status sp_header_decode(const uint8_t *buf, size_t len, sp_header *h, size_t *header_len, sp_error *err) SP_MUST_USE;

/* Nonce of record `counter`: 11-byte big-endian counter, then 0x01 for the
 * final record, 0x00 otherwise. */
void sp_record_nonce(uint64_t counter, int final, uint8_t nonce[12]);
/* Largest body a data record of this chunk size may have. */
size_t sp_record_max_body(uint32_t chunk_size);
/* Largest body an index record of n entries has. */
uint64_t sp_index_body_len(uint64_t n);

/* Index plaintext: plain_total, count, entries. */
void sp_index_encode(uint64_t plain_total, const sp_index_entry *e, uint64_t n, uint8_t *out);
sp_status sp_index_decode_fixed(const uint8_t *buf, size_t len, uint64_t *plain_total, uint64_t *n,
                                sp_error *err) SP_MUST_USE;
void sp_index_entry_decode(const uint8_t *p, sp_index_entry *e);

/* Index entries a v1 container may have: the final record's 31-bit length
 * bounds them (FORMAT.md 9.3). */
#define SP_INDEX_MAX_ENTRIES 89478483u

/* gzip member rules (member.c). sp_member_header checks ID, CM, reserved
 * flags and FHCRC, skips FEXTRA/FNAME/FCOMMENT, and gives the offset of the
 * DEFLATE data. sp_member_stored_only: 1 when the DEFLATE data at m[off..]
 * is stored blocks only, the last one BFINAL and followed by exactly the
 * 8-byte trailer (the meaning of the index's stored flag). */
sp_status sp_member_header(const uint8_t *m, size_t len, size_t *data_off, sp_error *err) SP_MUST_USE;
int sp_member_stored_only(const uint8_t *m, size_t len, size_t data_off);

void sp_footer_encode(uint64_t final_offset, uint64_t n, uint8_t out[SP_FOOTER_LEN]);
sp_status sp_footer_decode(const uint8_t in[SP_FOOTER_LEN], uint64_t *final_offset, uint64_t *n,
                           sp_error *err) SP_MUST_USE;

#endif
