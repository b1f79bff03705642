/* tarcheck.c: a streaming check that a tar archive is whole, so a cut-off `docker save` is never published. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "source/tarcheck.h"

/*
 * Only framing is checked: every header's checksum and size, that each
 * member's data (padded to 512) is all there, and that the archive ends with
 * the two zero blocks of the end-of-archive marker, followed by nothing but
 * the zero padding tar adds up to its record size. Member data is skipped
 * without being looked at, so the check costs nothing next to the pipeline.
 *
 * What decides how many data bytes follow a header (as GNU tar and Go's
 * archive/tar, which writes `docker save` output, read it):
 *  - the size field, octal or GNU base-256, or a preceding pax 'x' header's
 *    "size" record, which overrides it (members over 8 GiB in pax format);
 *  - none for symlinks, devices, directories and FIFOs ('2'..'6'), whatever
 *    the size field says; a hard link ('1') may carry data in pax archives;
 *  - an old GNU sparse member ('S') may be followed by sparse-map extension
 *    blocks before its data, not counted in its size.
 * pax 'x'/'g' headers and GNU 'L'/'K' long names are members with data; 'x'
 * and 'L' are read only for the size and the name used in messages.
 */

#define BLOCK 512u
#define NAME_CAP 256
#define SIZE_MAX_SANE ((uint64_t)INT64_MAX)

enum tar_state { ST_HEADER, ST_SPARSE_EXT, ST_DATA, ST_PAD, ST_END, ST_FAILED };
enum meta_kind { META_NONE, META_PAX, META_LONGNAME };
enum pax_state { PX_LEN, PX_KEY, PX_VAL, PX_BAD };

struct sp_tarcheck {
    uint64_t pos; /* bytes consumed so far */
    enum tar_state state;
    uint8_t block[BLOCK]; /* a header or sparse-extension block being gathered */
    size_t fill;
    uint64_t block_at;  /* offset of block[0] */
    int zero_pending;   /* the previous header block was all zero */
    uint64_t zero_at;   /* ... and started here */
    uint64_t data_left; /* member data still to come */
    uint64_t pad_left;  /* then padding to the next block */
    char name[NAME_CAP];/* of the current member, for messages */

    /* What a pax 'x' header or a GNU 'L' member says about the next member. */
    enum meta_kind meta;
    uint64_t meta_at;
    char next_name[NAME_CAP];
    size_t next_name_len;
    int have_next_name;
    uint64_t next_size;
    int have_next_size;

    /* pax record parser: "LEN KEY=VALUE\n", fed a byte at a time. */
    enum pax_state px;
    uint64_t px_len, px_idx;
    int px_digits;
    char px_key[16];
    size_t px_key_len;
    char px_val[NAME_CAP];
    size_t px_val_len;

    sp_status failed;
    char failed_msg[sizeof(((sp_error *)0)->msg)];
};

__attribute__((format(printf, 3, 4)))
static sp_status tar_fail(sp_tarcheck *t, sp_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->failed_msg, sizeof(t->failed_msg), fmt, ap);
    va_end(ap);
    t->failed = SP_ERR_INPUT;
    t->state = ST_FAILED;
    return sp_fail(err, SP_ERR_INPUT, "%s", t->failed_msg);
}

/* Copies a name for a one-line message: printable ASCII only, bounded. */
static void set_name(char *dst, const uint8_t *src, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && src[i] && n < NAME_CAP - 1; i++)
        dst[n++] = (src[i] >= 0x20 && src[i] < 0x7f && src[i] != '\'') ? (char)src[i] : '?';
    dst[n] = 0;
    if (n == NAME_CAP - 1) memcpy(dst + NAME_CAP - 4, "...", 4);
}

static void header_name(const uint8_t *h, char *out)
{
    /* POSIX ustar splits long names into prefix/name; GNU tar's "ustar  "
     * magic uses the prefix bytes for other fields. */
    if (memcmp(h + 257, "ustar\0", 6) == 0 && h[345]) {
        uint8_t full[155 + 1 + 100];
        size_t p = strnlen((const char *)h + 345, 155), n = strnlen((const char *)h, 100);
        memcpy(full, h + 345, p);
        full[p] = '/';
        memcpy(full + p + 1, h, n);
        set_name(out, full, p + 1 + n);
    } else {
        set_name(out, h, 100);
    }
}

/* An octal field: optional leading spaces/NULs, digits, then only spaces or
 * NULs. Empty counts as 0 (as old tars write). Returns 0 on success. */
static int parse_octal(const uint8_t *f, size_t len, uint64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    while (i < len && (f[i] == ' ' || f[i] == 0)) i++;
    for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v > (SIZE_MAX_SANE >> 3)) return -1;
        v = (v << 3) | (uint64_t)(f[i] - '0');
    }
    for (; i < len; i++)
        if (f[i] != ' ' && f[i] != 0) return -1;
    *out = v;
    return 0;
}

static int parse_size(const uint8_t *f, uint64_t *out)
{
    if (!(f[0] & 0x80)) return parse_octal(f, 12, out);
    /* GNU base-256: the rest of the field, big-endian, after the flag bit.
     * A leading 0xff is a negative number, meaningless for a size. */
    if (f[0] == 0xff) return -1;
    uint64_t v = f[0] & 0x7f;
    for (int i = 1; i < 12; i++) {
        if (v > (SIZE_MAX_SANE >> 8)) return -1;
        v = (v << 8) | f[i];
    }
    *out = v;
    return 0;
}

/* The checksum is the sum of the header bytes with its own field counted as
 * spaces. POSIX says unsigned; some historic tars summed signed chars, and
 * GNU tar accepts either, so do we. */
static int checksum_ok(const uint8_t *h)
{
    uint64_t want;
    const uint8_t *f = h + 148;
    size_t i = 0;
    while (i < 8 && f[i] == ' ') i++;
    if (i == 8 || f[i] < '0' || f[i] > '7') return 0; /* no digits: not a header */
    if (parse_octal(f, 8, &want) != 0) return 0;
    int64_t usum = 8 * ' ', ssum = 8 * ' ';
    for (size_t k = 0; k < BLOCK; k++) {
        if (k >= 148 && k < 156) continue;
        usum += h[k];
        ssum += (int8_t)h[k];
    }
    return (int64_t)want == usum || (int64_t)want == ssum;
}

int sp_tarcheck_sniff(const uint8_t *data, size_t len)
{
    if (!data || len < BLOCK) return 0;
    if (memcmp(data + 257, "ustar", 5) == 0) return 1;
    return checksum_ok(data);
}

sp_tarcheck *sp_tarcheck_new(void) { return calloc(1, sizeof(sp_tarcheck)); }

void sp_tarcheck_free(sp_tarcheck *t) { free(t); }

/* ---- metadata members: pax 'x' records and GNU 'L' names ---- */

static sp_status pax_record_done(sp_tarcheck *t, sp_error *err)
{
    if (t->px_key_len == 4 && memcmp(t->px_key, "size", 4) == 0) {
        uint64_t v = 0;
        int ok = t->px_val_len > 0 && t->px_val_len < 20;
        for (size_t i = 0; ok && i < t->px_val_len; i++) {
            if (t->px_val[i] < '0' || t->px_val[i] > '9') ok = 0;
            else v = v * 10 + (uint64_t)(t->px_val[i] - '0');
        }
        if (!ok || v > SIZE_MAX_SANE)
            return tar_fail(t, err, "input is not a valid tar archive: bad pax size record in the header at byte %" PRIu64,
                            t->meta_at);
        t->next_size = v;
        t->have_next_size = 1;
    } else if (t->px_key_len == 4 && memcmp(t->px_key, "path", 4) == 0) {
        set_name(t->next_name, (const uint8_t *)t->px_val, t->px_val_len);
        t->have_next_name = 1;
    }
    return SP_OK;
}

/* A malformed record stops the parse of this header and nothing more: if it
 * hid a size, the framing goes wrong and a later header checksum says so. */
static sp_status pax_byte(sp_tarcheck *t, uint8_t c, sp_error *err)
{
    uint64_t idx = t->px_idx++;
    switch (t->px) {
    case PX_LEN:
        if (c >= '0' && c <= '9' && t->px_digits < 18) {
            t->px_len = t->px_len * 10 + (uint64_t)(c - '0');
            t->px_digits++;
        } else if (c == ' ' && t->px_digits > 0 && t->px_len >= idx + 3) {
            t->px = PX_KEY;
            t->px_key_len = 0;
            t->px_val_len = 0;
        } else {
            t->px = PX_BAD;
        }
        break;
    case PX_KEY:
        if (idx + 1 >= t->px_len) t->px = PX_BAD;
        else if (c == '=') t->px = PX_VAL;
        else if (t->px_key_len < sizeof(t->px_key)) t->px_key[t->px_key_len++] = (char)c;
        break;
    case PX_VAL:
        if (idx + 1 == t->px_len) {
            if (c != '\n') {
                t->px = PX_BAD;
                break;
            }
            SP_TRY(pax_record_done(t, err));
            t->px = PX_LEN;
            t->px_len = 0;
            t->px_idx = 0;
            t->px_digits = 0;
        } else if (t->px_val_len < sizeof(t->px_val)) {
            t->px_val[t->px_val_len++] = (char)c;
        }
        break;
    case PX_BAD:
        break;
    }
    return SP_OK;
}

static sp_status meta_data(sp_tarcheck *t, const uint8_t *p, size_t n, sp_error *err)
{
    if (t->meta == META_PAX) {
        for (size_t i = 0; i < n && t->px != PX_BAD; i++) SP_TRY(pax_byte(t, p[i], err));
    } else if (t->meta == META_LONGNAME) {
        size_t room = NAME_CAP - 1 - t->next_name_len;
        size_t k = n < room ? n : room;
        memcpy(t->next_name + t->next_name_len, p, k);
        t->next_name_len += k;
    }
    return SP_OK;
}

static void meta_done(sp_tarcheck *t)
{
    if (t->meta == META_LONGNAME) {
        uint8_t raw[NAME_CAP];
        memcpy(raw, t->next_name, t->next_name_len);
        set_name(t->next_name, raw, t->next_name_len);
        t->have_next_name = 1;
    }
    t->meta = META_NONE;
}

/* ---- headers ---- */

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

static void start_data(sp_tarcheck *t)
{
    t->pad_left = (BLOCK - t->data_left % BLOCK) % BLOCK;
    t->state = t->data_left ? ST_DATA : ST_HEADER;
    if (!t->data_left) meta_done(t);
}

static sp_status on_header(sp_tarcheck *t, sp_error *err)
{
    const uint8_t *h = t->block;
    if (all_zero(h, BLOCK)) {
        if (t->zero_pending) t->state = ST_END;
        t->zero_pending = 1;
        t->zero_at = t->block_at;
        return SP_OK;
    }
    if (t->zero_pending)
        return tar_fail(t, err,
                        "input is not a valid tar archive: a lone zero block at byte %" PRIu64 " is followed by data",
                        t->zero_at);
    if (!checksum_ok(h))
        return tar_fail(t, err, "input is not a valid tar archive: bad header checksum at byte %" PRIu64, t->block_at);
    uint64_t size;
    if (parse_size(h + 124, &size) != 0)
        return tar_fail(t, err, "input is not a valid tar archive: bad size field in the header at byte %" PRIu64,
                        t->block_at);

    header_name(h, t->name);
    char type = (char)h[156];
    t->meta = META_NONE;
    switch (type) {
    case 'x':
    case 'X': /* old Solaris spelling */
        t->meta = META_PAX;
        t->meta_at = t->block_at;
        t->px = PX_LEN;
        t->px_len = t->px_idx = 0;
        t->px_digits = 0;
        break;
    case 'L':
        t->meta = META_LONGNAME;
        t->next_name_len = 0;
        break;
    case 'g': /* global pax header and long link names: nothing we need */
    case 'K':
        break;
    default: /* a real member: the metadata before it applies to it */
        if (t->have_next_size) size = t->next_size;
        if (t->have_next_name) memcpy(t->name, t->next_name, NAME_CAP);
        t->have_next_size = t->have_next_name = 0;
        if (type >= '2' && type <= '6') size = 0;
        break;
    }
    t->data_left = size;
    if (type == 'S' && h[482]) {
        t->state = ST_SPARSE_EXT;
        return SP_OK;
    }
    start_data(t);
    return SP_OK;
}

sp_status sp_tarcheck_update(sp_tarcheck *t, const uint8_t *data, size_t len, sp_error *err)
{
    while (len > 0) {
        size_t n;
        switch (t->state) {
        case ST_FAILED:
            return sp_fail(err, t->failed, "%s", t->failed_msg);
        case ST_HEADER:
        case ST_SPARSE_EXT:
            if (t->fill == 0) t->block_at = t->pos;
            n = BLOCK - t->fill < len ? BLOCK - t->fill : len;
            memcpy(t->block + t->fill, data, n);
            t->fill += n;
            if (t->fill == BLOCK) {
                t->fill = 0;
                if (t->state == ST_HEADER) SP_TRY(on_header(t, err));
                else if (!t->block[504]) { /* the last sparse-map extension block */
                    start_data(t);
                }
            }
            break;
        case ST_DATA:
            n = t->data_left < len ? (size_t)t->data_left : len;
            if (t->meta != META_NONE) SP_TRY(meta_data(t, data, n, err));
            t->data_left -= n;
            if (!t->data_left) {
                meta_done(t);
                t->state = t->pad_left ? ST_PAD : ST_HEADER;
            }
            break;
        case ST_PAD:
            n = t->pad_left < len ? (size_t)t->pad_left : len;
            t->pad_left -= n;
            if (!t->pad_left) t->state = ST_HEADER;
            break;
        case ST_END:
            for (size_t i = 0; i < len; i++)
                if (data[i])
                    return tar_fail(t, err,
                                    "input is not a valid tar archive: data after the end-of-archive marker at byte %" PRIu64,
                                    t->pos + i);
            n = len;
            break;
        default:
            return sp_fail(err, SP_ERR_INTERNAL, "tarcheck: bad state %d", (int)t->state);
        }
        data += n;
        len -= n;
        t->pos += n;
    }
    return SP_OK;
}

sp_status sp_tarcheck_finish(sp_tarcheck *t, sp_error *err)
{
    switch (t->state) {
    case ST_FAILED:
        return sp_fail(err, t->failed, "%s", t->failed_msg);
    case ST_END:
        return SP_OK;
    case ST_DATA:
    case ST_PAD:
    case ST_SPARSE_EXT:
        return sp_fail(err, SP_ERR_INPUT,
                       "input is a truncated tar archive: ended at byte %" PRIu64 " inside member '%s' (expected %" PRIu64
                       " more bytes)",
                       t->pos, t->name,
                       t->data_left + t->pad_left + (t->state == ST_SPARSE_EXT ? BLOCK - t->fill : 0));
    case ST_HEADER:
        break;
    }
    if (t->fill > 0 && !all_zero(t->block, t->fill))
        return sp_fail(err, SP_ERR_INPUT,
                       "input is a truncated tar archive: ended at byte %" PRIu64
                       " inside the header at byte %" PRIu64 " (expected %zu more bytes)",
                       t->pos, t->block_at, BLOCK - t->fill);
    return sp_fail(err, SP_ERR_INPUT, "input is a truncated tar archive: no end-of-archive marker (input ended at byte %" PRIu64 ")",
                   t->pos);
}
