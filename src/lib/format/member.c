/* member.c: the gzip member framing rules of docs/FORMAT.md 8.2-8.3 that an inflater does not check. */
#include "format/container.h"

/* CRC-32 (RFC 1952) bit by bit: it only ever covers a member header, a few
 * bytes that a v1 writer never even produces (FHCRC), so speed is moot. */
static uint32_t crc32_small(const uint8_t *p, size_t len)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}

sp_status sp_member_header(const uint8_t *m, size_t len, size_t *data_off, sp_error *err)
{
    if (len < 18 || m[0] != 0x1F || m[1] != 0x8B || m[2] != 8)
        return sp_fail(err, SP_ERR_FORMAT, "chunk payload is not a gzip member");
    uint8_t flg = m[3];
    if (flg & 0xE0) return sp_fail(err, SP_ERR_FORMAT, "chunk's gzip member sets reserved header flags");
    size_t pos = 10;
    if (flg & 0x04) { /* FEXTRA: skipped, its content is not interpreted */
        if (pos + 2 > len) return sp_fail(err, SP_ERR_FORMAT, "chunk's gzip member header is cut short");
        pos += 2 + (size_t)sp_get_le16(m + pos);
    }
    for (uint8_t bit = 0x08; bit <= 0x10; bit <<= 1) { /* FNAME, FCOMMENT: zero-terminated */
        if (!(flg & bit)) continue;
        while (pos < len && m[pos]) pos++;
        pos++;
    }
    if (flg & 0x02) { /* FHCRC: must match, as zlib also insists */
        if (pos + 2 > len) return sp_fail(err, SP_ERR_FORMAT, "chunk's gzip member header is cut short");
        if ((crc32_small(m, pos) & 0xFFFFu) != sp_get_le16(m + pos))
            return sp_fail(err, SP_ERR_FORMAT, "chunk's gzip member header CRC (FHCRC) does not match");
        pos += 2;
    }
    if (pos + 8 > len) return sp_fail(err, SP_ERR_FORMAT, "chunk's gzip member header is cut short");
    *data_off = pos;
    return SP_OK;
}

int sp_member_stored_only(const uint8_t *m, size_t len, size_t pos)
{
    /* Every stored block starts on a byte boundary when the one before it
     * was stored too, so the walk can stay byte-aligned; the first block of
     * another type ends it. */
    for (;;) {
        if (pos + 5 > len) return 0;
        uint8_t b = m[pos];
        if ((b >> 1) & 3) return 0;
        size_t n = sp_get_le16(m + pos + 1);
        if ((n ^ sp_get_le16(m + pos + 3)) != 0xFFFF) return 0;
        pos += 5 + n;
        if (b & 1) return pos + 8 == len;
    }
}
