/* inspect.c: sp_inspect: the header and the clear index, read from the end without the key, in bounded memory.
 *
 * The index is in clear text but authenticated only with the key, which the
 * output says. Nothing here trusts the footer: its count is bounded by
 * FORMAT.md 9.3 and by the file's size, the index is read in fixed blocks
 * (a crafted or sparse file cannot make it allocate what the footer
 * claims), and the entries must tile the file as 11.3 requires before
 * anything is printed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reader/reader.h"

#define BLOCK_ENTRIES 2048

static sp_status pread_full(int fd, const char *name, void *buf, size_t len, uint64_t off, sp_error *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sp_fail(err, SP_ERR_IO, "read %s: %s", name, strerror(errno));
        if (n == 0)
            return sp_fail(err, SP_ERR_TRUNCATED, "%s: file ends at byte %llu, inside the index it claims", name,
                           (unsigned long long)(off + done));
        done += (size_t)n;
    }
    return SP_OK;
}

typedef struct ix_walk {
    int fd;
    const char *name;
    uint64_t pos, n, i; /* file offset of the next entry block, entries, next entry */
    uint8_t buf[BLOCK_ENTRIES * SP_INDEX_ENTRY];
    size_t have, at;
} ix_walk;

static sp_status ix_next(ix_walk *w, sp_index_entry *e, sp_error *err)
{
    if (w->at == w->have) {
        uint64_t left = w->n - w->i;
        size_t k = left < BLOCK_ENTRIES ? (size_t)left : BLOCK_ENTRIES;
        SP_TRY(pread_full(w->fd, w->name, w->buf, k * SP_INDEX_ENTRY, w->pos, err));
        w->pos += k * SP_INDEX_ENTRY;
        w->have = k;
        w->at = 0;
    }
    sp_index_entry_decode(w->buf + w->at * SP_INDEX_ENTRY, e);
    w->at++;
    w->i++;
    return SP_OK;
}

static void ix_rewind(ix_walk *w, uint64_t first)
{
    w->pos = first;
    w->i = w->have = w->at = 0;
}

sp_status sp_inspect(const char *path, int json, FILE *outf, sp_error *err)
{
    sp_byte_in in;
    SP_TRY(sp_in_open(path, NULL, &in, err));
    uint8_t header[SP_HEADER_MAX], footer[SP_FOOTER_LEN], prefix[SP_PREFIX_LEN], fixed[SP_INDEX_FIXED];
    sp_header h;
    size_t hlen = 0;
    uint64_t f_off = 0, n = 0, plain_total = 0, ix_n = 0, raw = 0;
    struct stat sb = {0};
    ix_walk *w = NULL;
    sp_status s = sp_in_read_header(&in, header, &h, &hlen, err);
    if (s == SP_OK && (fstat(in.fd, &sb) != 0 || !S_ISREG(sb.st_mode)))
        s = sp_fail(err, SP_ERR_USAGE, "%s: inspect needs a regular file", in.name);
    uint64_t size = (uint64_t)sb.st_size;
    if (s == SP_OK && size < hlen + SP_PREFIX_LEN + sp_index_body_len(0) + SP_FOOTER_LEN)
        s = sp_fail(err, SP_ERR_TRUNCATED, "%s: container truncated: no room for its final record", in.name);
    if (s == SP_OK) s = pread_full(in.fd, in.name, footer, SP_FOOTER_LEN, size - SP_FOOTER_LEN, err);
    if (s == SP_OK) s = sp_footer_decode(footer, &f_off, &n, err);
    /* The bound first: it keeps the arithmetic below far from overflow. */
    if (s == SP_OK && n > SP_INDEX_MAX_ENTRIES)
        s = sp_fail(err, SP_ERR_FORMAT, "%s: footer claims %llu chunks, more than a container can hold", in.name,
                    (unsigned long long)n);
    if (s == SP_OK && (f_off < hlen || f_off > size || size - f_off != SP_PREFIX_LEN + sp_index_body_len(n) + SP_FOOTER_LEN ||
                       n > (f_off - hlen) / (SP_PREFIX_LEN + SP_TAG_LEN)))
        s = sp_fail(err, SP_ERR_FORMAT, "%s: footer does not point at a final record of %llu entries", in.name,
                    (unsigned long long)n);
    if (s == SP_OK) s = pread_full(in.fd, in.name, prefix, SP_PREFIX_LEN, f_off, err);
    if (s == SP_OK && sp_get_le32(prefix) != ((uint32_t)sp_index_body_len(n) | SP_FINAL_FLAG))
        s = sp_fail(err, SP_ERR_FORMAT, "%s: footer does not point at the final record", in.name);
    if (s == SP_OK) s = pread_full(in.fd, in.name, fixed, SP_INDEX_FIXED, f_off + SP_PREFIX_LEN, err);
    if (s == SP_OK) {
        plain_total = sp_get_le64(fixed);
        ix_n = sp_get_le64(fixed + 8);
        if (ix_n != n) s = sp_fail(err, SP_ERR_FORMAT, "%s: index count disagrees with the footer", in.name);
    }
    if (s == SP_OK && !(w = calloc(1, sizeof(*w)))) s = sp_fail(err, SP_ERR_NOMEM, "out of memory");
    if (s == SP_OK) {
        /* Pass 1: the entries must tile the file (FORMAT.md 11.3 step 5). */
        const uint64_t first = f_off + SP_PREFIX_LEN + SP_INDEX_FIXED, max_body = sp_record_max_body(h.chunk_size);
        uint64_t expect = hlen, sum = 0;
        w->fd = in.fd;
        w->name = in.name;
        w->n = n;
        ix_rewind(w, first);
        for (uint64_t i = 0; s == SP_OK && i < n; i++) {
            sp_index_entry e;
            s = ix_next(w, &e, err);
            if (s == SP_OK && (e.offset != expect || e.body_len < SP_TAG_LEN || e.body_len > max_body ||
                               e.plain_len == 0 || e.plain_len > h.chunk_size ||
                               (i + 1 < n && e.plain_len != h.chunk_size)))
                s = sp_fail(err, SP_ERR_FORMAT, "%s: index entry %llu does not describe the records of this file",
                            in.name, (unsigned long long)i);
            expect += SP_PREFIX_LEN + (uint64_t)e.body_len;
            sum += e.plain_len;
            raw += e.flags & SP_ENTRY_STORED;
        }
        if (s == SP_OK && (expect != f_off || sum != plain_total))
            s = sp_fail(err, SP_ERR_FORMAT, "%s: index does not add up to the file", in.name);
        if (s == SP_OK) ix_rewind(w, first);
    }
    if (s == SP_OK) {
        char id[2 * SP_ARTIFACT_ID_LEN + 1];
        sp_hex(h.artifact_id, SP_ARTIFACT_ID_LEN, id);
        if (json) {
            fprintf(outf,
                    /* The envelope and names of docs/cli-json.schema.json: the
                     * resource's version is "version", as in every command. */
                    "{\"schema\":1,\"command\":\"inspect\",\"ok\":true,"
                    "\"format\":\"%s\",\"format_version\":%u,\"suite\":\"AES-256-GCM+gzip\",\"chunk_size\":%u,"
                    "\"artifact_id\":\"%s\",\"name\":\"%s\",\"stage\":\"%s\",\"architecture\":\"%s\","
                    "\"version\":\"%s\",\"header_bytes\":%zu,\"container_bytes\":%llu,\"plain_size\":%llu,"
                    "\"chunks\":%llu,\"chunks_stored\":%llu,\"authenticated\":false,\"index\":[",
                    SP_FORMAT_NAME, h.version, h.chunk_size, id, h.name, h.stage, h.arch, h.version_str, hlen,
                    (unsigned long long)size, (unsigned long long)plain_total, (unsigned long long)n,
                    (unsigned long long)raw);
        } else {
            fprintf(outf,
                    "format:        %s (version %u, AES-256-GCM, gzip members)\n"
                    "artifact id:   %s\n"
                    "resource:      %s  stage %s  arch %s  version %s\n"
                    "chunk size:    %u\n"
                    "container:     %llu bytes (header %zu)\n"
                    "plaintext:     %llu bytes in %llu chunks (%llu stored uncompressed)\n"
                    "index (not authenticated without the key):\n"
                    "  %8s %14s %10s %10s %s\n",
                    SP_FORMAT_NAME, h.version, id, h.name, h.stage, h.arch, h.version_str, h.chunk_size,
                    (unsigned long long)size, hlen, (unsigned long long)plain_total, (unsigned long long)n,
                    (unsigned long long)raw, "chunk", "offset", "stored", "plain", "flags");
        }
        for (uint64_t i = 0; s == SP_OK && i < n; i++) {
            sp_index_entry e;
            s = ix_next(w, &e, err);
            if (s != SP_OK) break;
            if (json)
                fprintf(outf, "%s{\"offset\":%llu,\"record_bytes\":%u,\"plain_bytes\":%u,\"stored\":%s}", i ? "," : "",
                        (unsigned long long)e.offset, e.body_len, e.plain_len, e.flags & 1 ? "true" : "false");
            else
                fprintf(outf, "  %8llu %14llu %10u %10u %s\n", (unsigned long long)i, (unsigned long long)e.offset,
                        e.body_len, e.plain_len, e.flags & 1 ? "stored" : "deflate");
        }
        if (s == SP_OK && json) fprintf(outf, "]}\n");
    }
    free(w);
    close(in.fd);
    return s;
}
