/* container.c: encoding and strict decoding of the sealpub v1 layout; no I/O and no crypto here. */
#include "format/container.h"

/* Like PNG's: a high byte to catch 7-bit channels, CR LF and ^Z to catch
 * text-mode transfers. */
const uint8_t sp_magic[SP_MAGIC_LEN] = {0x89, 'S', 'P', 'U', 'B', 0x0d, 0x0a, 0x1a};
const uint8_t sp_footer_magic[SP_MAGIC_LEN] = {'S', 'P', 'U', 'B', 'F', 'O', 'O', 'T'};

static size_t put_field(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    p[0] = (uint8_t)n;
    memcpy(p + 1, s, n);
    return n + 1;
}

size_t sp_header_encode(const sp_header *h, uint8_t out[SP_HEADER_MAX])
{
    memcpy(out, sp_magic, SP_MAGIC_LEN);
    out[8] = h->version;
    out[9] = h->suite;
    sp_put_le16(out + 10, h->flags);
    sp_put_le32(out + 12, h->chunk_size);
    memcpy(out + 16, h->artifact_id, SP_ARTIFACT_ID_LEN);
    size_t m = SP_HEADER_FIXED;
    m += put_field(out + m, h->name);
    m += put_field(out + m, h->stage);
    m += put_field(out + m, h->arch);
    m += put_field(out + m, h->version_str);
    sp_put_le16(out + 32, (uint16_t)(m - SP_HEADER_FIXED));
    return m;
}

static sp_status get_field(const uint8_t *meta, size_t meta_len, size_t *pos, const char *what, char *dst,
                           size_t max, sp_error *err)
{
    if (*pos >= meta_len) return sp_fail(err, SP_ERR_FORMAT, "header metadata ends before the %s", what);
    size_t n = meta[*pos];
    if (n == 0 || n > max || *pos + 1 + n > meta_len)
        return sp_fail(err, SP_ERR_FORMAT, "header %s has an invalid length (%zu)", what, n);
    memcpy(dst, meta + *pos + 1, n);
    dst[n] = '\0';
    if (strlen(dst) != n) return sp_fail(err, SP_ERR_FORMAT, "header %s contains a NUL byte", what);
    sp_error inner;
    /* The version alone may carry semver build metadata after one '+'. */
    sp_status v = strcmp(what, "version") == 0 ? sp_validate_version(dst, &inner)
                                               : sp_validate_name(what, dst, max, &inner);
    if (v != SP_OK) return sp_fail(err, SP_ERR_FORMAT, "header %s is invalid", what);
    *pos += 1 + n;
    return SP_OK;
}

sp_status sp_header_decode(const uint8_t *buf, size_t len, sp_header *h, size_t *header_len, sp_error *err)
{
    if (len >= 1 && memcmp(buf, sp_magic, len < SP_MAGIC_LEN ? len : SP_MAGIC_LEN) != 0)
        return sp_fail(err, SP_ERR_FORMAT, "not a sealpub container (bad magic)");
    if (len < SP_HEADER_FIXED) return sp_fail(err, SP_ERR_TRUNCATED, "container is shorter than its header");
    memset(h, 0, sizeof(*h));
    h->version = buf[8];
    h->suite = buf[9];
    h->flags = sp_get_le16(buf + 10);
    h->chunk_size = sp_get_le32(buf + 12);
    memcpy(h->artifact_id, buf + 16, SP_ARTIFACT_ID_LEN);
    if (h->version != SP_FORMAT_VERSION)
        return sp_fail(err, SP_ERR_FORMAT, "unsupported container version %u (this sealpub reads version %d)",
                       h->version, SP_FORMAT_VERSION);
    if (h->suite != SP_SUITE_AES256GCM_GZIP) return sp_fail(err, SP_ERR_FORMAT, "unknown cipher suite %u", h->suite);
    if (h->flags != 0) return sp_fail(err, SP_ERR_FORMAT, "unknown header flags 0x%04x", h->flags);
    if (h->chunk_size < SP_CHUNK_MIN || h->chunk_size > SP_CHUNK_MAX)
        return sp_fail(err, SP_ERR_FORMAT, "chunk size %u outside 1-64 MiB", h->chunk_size);
    size_t meta_len = sp_get_le16(buf + 32);
    if (meta_len > SP_HEADER_MAX - SP_HEADER_FIXED)
        return sp_fail(err, SP_ERR_FORMAT, "header metadata too long (%zu bytes)", meta_len);
    if (len < SP_HEADER_FIXED + meta_len) return sp_fail(err, SP_ERR_TRUNCATED, "container is shorter than its header");
    const uint8_t *meta = buf + SP_HEADER_FIXED;
    size_t pos = 0;
    SP_TRY(get_field(meta, meta_len, &pos, "name", h->name, SP_NAME_MAX, err));
    SP_TRY(get_field(meta, meta_len, &pos, "stage", h->stage, SP_FIELD_MAX, err));
    SP_TRY(get_field(meta, meta_len, &pos, "architecture", h->arch, SP_FIELD_MAX, err));
    SP_TRY(get_field(meta, meta_len, &pos, "version", h->version_str, SP_FIELD_MAX, err));
    if (pos != meta_len) return sp_fail(err, SP_ERR_FORMAT, "header metadata has %zu trailing bytes", meta_len - pos);
    *header_len = SP_HEADER_FIXED + meta_len;
    return SP_OK;
}

void sp_record_nonce(uint64_t counter, int final, uint8_t nonce[12])
{
    memset(nonce, 0, 12);
    for (int i = 0; i < 8; i++) nonce[10 - i] = (uint8_t)(counter >> (8 * i));
    nonce[11] = final ? 1 : 0;
}

size_t sp_record_max_body(uint32_t chunk_size)
{
    /* The stored gzip form is the largest a writer may emit: header and
     * trailer (18), 5 bytes per 65535-byte stored block, and the tag. */
    return (size_t)chunk_size + 18 + 5 * ((size_t)chunk_size / 65535 + 1) + SP_TAG_LEN;
}

uint64_t sp_index_body_len(uint64_t n) { return SP_INDEX_FIXED + n * SP_INDEX_ENTRY + SP_TAG_LEN; }

void sp_index_encode(uint64_t plain_total, const sp_index_entry *e, uint64_t n, uint8_t *out)
{
    sp_put_le64(out, plain_total);
    sp_put_le64(out + 8, n);
    uint8_t *p = out + SP_INDEX_FIXED;
    for (uint64_t i = 0; i < n; i++, p += SP_INDEX_ENTRY) {
        sp_put_le64(p, e[i].offset);
        sp_put_le32(p + 8, e[i].body_len);
        sp_put_le32(p + 12, e[i].plain_len);
        sp_put_le32(p + 16, e[i].flags);
        sp_put_le32(p + 20, 0);
    }
}

sp_status sp_index_decode_fixed(const uint8_t *buf, size_t len, uint64_t *plain_total, uint64_t *n, sp_error *err)
{
    if (len < SP_INDEX_FIXED) return sp_fail(err, SP_ERR_FORMAT, "index record too short");
    *plain_total = sp_get_le64(buf);
    *n = sp_get_le64(buf + 8);
    if (*n > (len - SP_INDEX_FIXED) / SP_INDEX_ENTRY || len != SP_INDEX_FIXED + *n * SP_INDEX_ENTRY)
        return sp_fail(err, SP_ERR_FORMAT, "index record length does not match its entry count");
    return SP_OK;
}

void sp_index_entry_decode(const uint8_t *p, sp_index_entry *e)
{
    e->offset = sp_get_le64(p);
    e->body_len = sp_get_le32(p + 8);
    e->plain_len = sp_get_le32(p + 12);
    e->flags = sp_get_le32(p + 16);
    e->reserved = sp_get_le32(p + 20);
}

void sp_footer_encode(uint64_t final_offset, uint64_t n, uint8_t out[SP_FOOTER_LEN])
{
    sp_put_le64(out, final_offset);
    sp_put_le64(out + 8, n);
    memcpy(out + 16, sp_footer_magic, SP_MAGIC_LEN);
}

sp_status sp_footer_decode(const uint8_t in[SP_FOOTER_LEN], uint64_t *final_offset, uint64_t *n, sp_error *err)
{
    if (memcmp(in + 16, sp_footer_magic, SP_MAGIC_LEN) != 0)
        return sp_fail(err, SP_ERR_TRUNCATED, "container has no footer: truncated or not a sealpub container");
    *final_offset = sp_get_le64(in);
    *n = sp_get_le64(in + 8);
    return SP_OK;
}
