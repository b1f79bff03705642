/* unseal.c: sp_open and sp_inspect: the reference reader of docs/FORMAT.md, streaming and strict.
 *
 * The reader authenticates every record before its plaintext leaves this
 * file, and a container counts as opened only when its final record (the
 * index) authenticated with the counter that follows the last data record,
 * the index agrees with every record seen, and the footer is followed by
 * end of input. Output goes to a temporary file that is renamed into place
 * only then, so a failed open never leaves plaintext under the output name.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "compress/codec.h"
#include "crypto/crypto.h"
#include "crypto/kek.h"
#include "format/container.h"
#include "registry/registry.h"
#include "unseal.h"

/* Reads up to len bytes; *got < len only at end of input. */
static sp_status in_read(sp_byte_in *in, uint8_t *buf, size_t len, size_t *got, sp_error *err)
{
    size_t done = 0;
    sp_status s = SP_OK;
    if (in->read) {
        s = in->read(in->ctx, buf, len, &done, err);
    } else {
        while (done < len) {
            ssize_t n = read(in->fd, buf + done, len - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return sp_fail(err, SP_ERR_IO, "read %s: %s", in->name, strerror(errno));
            if (n == 0) break;
            done += (size_t)n;
        }
    }
    in->pos += done;
    *got = done;
    return s;
}

static sp_status in_read_exact(sp_byte_in *in, uint8_t *buf, size_t len, const char *what, sp_error *err)
{
    size_t got = 0;
    SP_TRY(in_read(in, buf, len, &got, err));
    if (got != len)
        return sp_fail(err, SP_ERR_TRUNCATED, "%s: container truncated at byte %llu (inside %s)", in->name,
                       (unsigned long long)in->pos, what);
    return SP_OK;
}

static sp_status read_header(sp_byte_in *in, uint8_t *buf, sp_header *h, size_t *hlen, sp_error *err)
{
    size_t got = 0;
    SP_TRY(in_read(in, buf, SP_HEADER_FIXED, &got, err));
    if (got == 0) return sp_fail(err, SP_ERR_FORMAT, "%s: empty file, not a sealpub container", in->name);
    sp_status s = sp_header_decode(buf, got, h, hlen, err);
    if (s == SP_ERR_TRUNCATED && got == SP_HEADER_FIXED) {
        size_t meta = sp_get_le16(buf + 32);
        if (meta > SP_HEADER_MAX - SP_HEADER_FIXED) return sp_header_decode(buf, SP_HEADER_MAX, h, hlen, err);
        SP_TRY(in_read_exact(in, buf + SP_HEADER_FIXED, meta, "the header", err));
        s = sp_header_decode(buf, SP_HEADER_FIXED + meta, h, hlen, err);
    }
    if (s != SP_OK && err) {
        char m[sizeof(err->msg)];
        snprintf(m, sizeof(m), "%.200s: %.300s", in->name, err->msg);
        sp_strlcpy(err->msg, m, sizeof(err->msg));
    }
    return s;
}

/* The 32-byte file key: from a key file (raw or base64) or the registry row
 * that names this header, unwrapped with the KEK when the row says so. */
static sp_status read_key_file(const char *path, uint8_t key[32], sp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return sp_fail(err, SP_ERR_USAGE, "key file %s: %s", path, strerror(errno));
    uint8_t buf[256];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    sp_status s = SP_OK;
    if (n == 32) {
        memcpy(key, buf, 32);
    } else {
        buf[n] = '\0';
        if (sp_b64_decode((const char *)buf, key, 32) != 32)
            s = sp_fail(err, SP_ERR_USAGE, "key file %s must hold 32 raw bytes or their base64", path);
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return s;
}

static sp_status key_from_row(const sp_row *row, uint8_t key[32], sp_error *err)
{
    uint8_t raw[96];
    long n = sp_b64_decode(row->encryption_key, raw, sizeof(raw));
    sp_status s = SP_OK;
    if (n < 0) {
        s = sp_fail(err, SP_ERR_REGISTRY, "registry row's encryption_key is not valid base64");
    } else if (strcmp(row->key_wrap, SP_KEY_WRAP_NONE) == 0 || !row->key_wrap[0]) {
        if (n != 32) s = sp_fail(err, SP_ERR_REGISTRY, "registry row's encryption_key is not 32 bytes");
        else memcpy(key, raw, 32);
    } else if (strcmp(row->key_wrap, SP_KEY_WRAP_KWP) == 0) {
        uint8_t *kek = sp_secret_alloc(32);
        int have = 0;
        char id[SP_KEK_ID_LEN + 1] = "";
        size_t klen = 0;
        s = kek ? sp_kek_load(kek, &have, id, err) : sp_fail(err, SP_ERR_NOMEM, "out of memory");
        if (s == SP_OK && !have)
            s = sp_fail(err, SP_ERR_USAGE, "the key is wrapped under KEK %s: set SEALPUB_KEK or SEALPUB_KEK_FILE",
                        row->kek_id);
        else if (s == SP_OK && strcmp(id, row->kek_id) != 0)
            s = sp_fail(err, SP_ERR_AUTH, "the key is wrapped under KEK %s but SEALPUB_KEK is KEK %s", row->kek_id, id);
        if (s == SP_OK) s = sp_key_unwrap(kek, raw, (size_t)n, key, &klen, err);
        if (s == SP_OK && klen != 32) s = sp_fail(err, SP_ERR_REGISTRY, "unwrapped key is not 32 bytes");
        sp_secret_free(kek, 32);
    } else {
        s = sp_fail(err, SP_ERR_REGISTRY, "unknown key_wrap '%s' in the registry row", row->key_wrap);
    }
    OPENSSL_cleanse(raw, sizeof(raw));
    return s;
}

/* The container must be the resource the caller asked for: a valid object
 * of another resource copied over this one authenticates under its own key. */
static sp_status check_expected(const sp_open_opts *o, const sp_header *h, sp_error *err)
{
    const char *want[4] = {o->expect_name, o->expect_stage, o->expect_arch, o->expect_version};
    const char *have[4] = {h->name, h->stage, h->arch, h->version_str};
    static const char *what[4] = {"name", "stage", "architecture", "version"};
    for (int i = 0; i < 4; i++)
        if (want[i] && strcmp(want[i], have[i]) != 0)
            return sp_fail(err, SP_ERR_AUTH, "container is %s/%s/%s/%s, not the expected %s '%s'", h->name, h->stage,
                           h->arch, h->version_str, what[i], want[i]);
    return SP_OK;
}

static sp_status resolve_key(const sp_open_opts *o, const sp_row *given, const sp_header *h, uint8_t key[32],
                             sp_error *err)
{
    SP_TRY(check_expected(o, h, err));
    if (o->key_file) return read_key_file(o->key_file, key, err);
    sp_registry reg;
    sp_row row;
    sp_status s = SP_OK;
    if (given) {
        row = *given;
    } else {
        SP_TRY(sp_registry_open(o->registry_url, &reg, err));
        s = reg.ops->get(reg.impl, h->name, h->stage, h->arch, h->version_str, &row, err);
        sp_registry_close(&reg);
    }
    if (s == SP_ERR_NOT_FOUND)
        return sp_fail(err, SP_ERR_NOT_FOUND, "no key: %s/%s/%s/%s is not in the registry (give --key-file)", h->name,
                       h->stage, h->arch, h->version_str);
    SP_TRY(s);
    char id[2 * SP_ARTIFACT_ID_LEN + 1];
    sp_hex(h->artifact_id, SP_ARTIFACT_ID_LEN, id);
    if (strcmp(id, row.artifact_id) != 0)
        s = sp_fail(err, SP_ERR_AUTH,
                    "the registry row for %s/%s/%s/%s belongs to another publish (artifact %s, this file is %s): "
                    "the file was replaced or is stale",
                    h->name, h->stage, h->arch, h->version_str, row.artifact_id, id);
    if (s == SP_OK) s = key_from_row(&row, key, err);
    OPENSSL_cleanse(&row, sizeof(row));
    return s;
}

/* The strict streaming reader. */
sp_status sp_unseal_stream(sp_byte_in *in, const sp_open_opts *o, const sp_row *row, sp_sink_fn sink, void *sink_ctx,
                           sp_open_result *r, sp_error *err)
{
    uint8_t header[SP_HEADER_MAX], aad[32], nonce[12], prefix[SP_PREFIX_LEN];
    sp_header h;
    size_t hlen = 0;
    SP_TRY(read_header(in, header, &h, &hlen, err));
    sp_sha256_once(header, hlen, aad);

    uint8_t *keys = sp_secret_alloc(64);
    if (!keys) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    sp_aead *aead = NULL;
    sp_codec *codec = NULL;
    size_t max_body = sp_record_max_body(h.chunk_size);
    /* Buffers grow to what the records need, bounded by the chunk size, so
     * a hostile header cannot make the reader reserve 128 MiB up front. */
    uint8_t *body = NULL, *plain = NULL, *index = NULL;
    size_t body_cap = 0, plain_cap = 0;
    sp_index_entry *seen = NULL;
    uint64_t n = 0, cap = 0, offset = hlen, plain_total = 0;
    int last_short = 0;
    sp_status s = resolve_key(o, row, &h, keys, err);
    if (s == SP_OK) s = sp_hkdf_sha256(keys, 32, h.artifact_id, SP_ARTIFACT_ID_LEN, SP_KDF_INFO, keys + 32, err);
    if (s == SP_OK) s = sp_aead_new(keys + 32, &aead, err);
    if (s == SP_OK) s = sp_codec_new(0, &codec, err);
    while (s == SP_OK) {
        size_t got = 0;
        s = in_read(in, prefix, SP_PREFIX_LEN, &got, err);
        if (s == SP_OK && got != SP_PREFIX_LEN) {
            s = sp_fail(err, SP_ERR_TRUNCATED,
                        "%s: container truncated after %llu chunks: its final record is missing", in->name,
                        (unsigned long long)n);
            break;
        }
        if (s != SP_OK) break;
        uint32_t word = sp_get_le32(prefix), len = word & ~SP_FINAL_FLAG;
        if (word & SP_FINAL_FLAG) {
            if ((uint64_t)len != sp_index_body_len(n)) {
                s = sp_fail(err, SP_ERR_FORMAT, "%s: final record length %u does not match %llu chunks", in->name,
                            len, (unsigned long long)n);
                break;
            }
            index = malloc(32 + len);
            if (!index) { s = sp_fail(err, SP_ERR_NOMEM, "out of memory"); break; }
            s = in_read_exact(in, index + 32, len, "the final record", err);
            if (s != SP_OK) break;
            memcpy(index, aad, 32);
            size_t ilen = len - SP_TAG_LEN;
            sp_record_nonce(n, 1, nonce);
            s = sp_aead_open(aead, nonce, index, 32 + ilen, index + 32 + ilen, 0, index + 32 + ilen, err);
            if (s == SP_ERR_AUTH) {
                s = sp_fail(err, SP_ERR_AUTH, "%s: final record failed authentication: tampered, reordered or truncated",
                            in->name);
                break;
            }
            uint64_t ix_total = 0, ix_n = 0;
            if (s == SP_OK) s = sp_index_decode_fixed(index + 32, ilen, &ix_total, &ix_n, err);
            if (s == SP_OK && (ix_n != n || ix_total != plain_total))
                s = sp_fail(err, SP_ERR_FORMAT, "%s: index disagrees with the records read", in->name);
            for (uint64_t i = 0; s == SP_OK && i < n; i++) {
                sp_index_entry e;
                sp_index_entry_decode(index + 32 + SP_INDEX_FIXED + i * SP_INDEX_ENTRY, &e);
                if (e.offset != seen[i].offset || e.body_len != seen[i].body_len || e.plain_len != seen[i].plain_len)
                    s = sp_fail(err, SP_ERR_FORMAT, "%s: index entry %llu disagrees with its record", in->name,
                                (unsigned long long)i);
                else if ((e.flags & ~SP_ENTRY_STORED) || e.reserved)
                    s = sp_fail(err, SP_ERR_FORMAT, "%s: index entry %llu sets reserved bits (a newer format?)",
                                in->name, (unsigned long long)i);
            }
            if (s != SP_OK) break;
            uint8_t footer[SP_FOOTER_LEN + 1];
            uint64_t f_off = 0, f_n = 0;
            s = in_read_exact(in, footer, SP_FOOTER_LEN, "the footer", err);
            if (s == SP_OK) s = sp_footer_decode(footer, &f_off, &f_n, err);
            if (s == SP_OK && (f_off != offset || f_n != n))
                s = sp_fail(err, SP_ERR_FORMAT, "%s: footer disagrees with the container", in->name);
            if (s == SP_OK) s = in_read(in, footer, 1, &got, err);
            if (s == SP_OK && got)
                s = sp_fail(err, SP_ERR_FORMAT, "%s: unexpected bytes after the end of the container", in->name);
            if (s == SP_OK && r) {
                r->plain_size = plain_total;
                r->stored_size = in->pos;
                r->chunks = n;
            }
            break;
        }
        if (len < SP_TAG_LEN || len > max_body) {
            s = sp_fail(err, SP_ERR_FORMAT, "%s: record %llu has an impossible length %u", in->name,
                        (unsigned long long)n, len);
            break;
        }
        if (last_short) {
            s = sp_fail(err, SP_ERR_FORMAT, "%s: record %llu follows a short chunk", in->name, (unsigned long long)n);
            break;
        }
        if (len > body_cap) {
            uint8_t *nb = realloc(body, len);
            if (!nb) { s = sp_fail(err, SP_ERR_NOMEM, "out of memory"); break; }
            body = nb;
            body_cap = len;
        }
        s = in_read_exact(in, body, len, "a chunk", err);
        if (s != SP_OK) break;
        sp_record_nonce(n, 0, nonce);
        s = sp_aead_open(aead, nonce, aad, sizeof(aad), body, len - SP_TAG_LEN, body + len - SP_TAG_LEN, err);
        if (s == SP_ERR_AUTH) {
            s = sp_fail(err, SP_ERR_AUTH,
                        "%s: chunk %llu failed authentication: wrong key, or the container was modified, reordered "
                        "or spliced",
                        in->name, (unsigned long long)n);
            break;
        }
        /* The gzip trailer's ISIZE sizes the output; the inflater checks it. */
        size_t plen = 0, want = len >= SP_TAG_LEN + 4 ? sp_get_le32(body + len - SP_TAG_LEN - 4) : 0;
        if (s == SP_OK && (want == 0 || want > h.chunk_size))
            s = sp_fail(err, SP_ERR_FORMAT, "%s: chunk %llu claims %zu bytes, outside 1..chunk size", in->name,
                        (unsigned long long)n, want);
        if (s == SP_OK && want > plain_cap) {
            if (plain) OPENSSL_cleanse(plain, plain_cap);
            free(plain);
            plain_cap = 0;
            if (!(plain = malloc(want))) s = sp_fail(err, SP_ERR_NOMEM, "out of memory");
            else plain_cap = want;
        }
        if (s == SP_OK) s = sp_codec_decompress(codec, body, len - SP_TAG_LEN, plain, want, &plen, err);
        if (s == SP_OK && plen == 0) s = sp_fail(err, SP_ERR_FORMAT, "%s: chunk %llu is empty", in->name, (unsigned long long)n);
        if (s != SP_OK) break;
        last_short = plen < h.chunk_size;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            sp_index_entry *ne = realloc(seen, cap * sizeof(*ne));
            if (!ne) { s = sp_fail(err, SP_ERR_NOMEM, "out of memory"); break; }
            seen = ne;
        }
        seen[n++] = (sp_index_entry){.offset = offset, .body_len = len, .plain_len = (uint32_t)plen};
        offset += SP_PREFIX_LEN + len;
        plain_total += plen;
        if (sink) s = sink(sink_ctx, plain, plen, err);
    }
    if (r) {
        sp_strlcpy(r->name, h.name, sizeof(r->name));
        sp_strlcpy(r->stage, h.stage, sizeof(r->stage));
        sp_strlcpy(r->arch, h.arch, sizeof(r->arch));
        sp_strlcpy(r->version, h.version_str, sizeof(r->version));
    }
    sp_aead_free(aead);
    sp_codec_free(codec);
    sp_secret_free(keys, 64);
    if (plain) OPENSSL_cleanse(plain, plain_cap);
    free(plain);
    free(body);
    free(index);
    free(seen);
    return s;
}

static sp_status sink_write(void *ctx, const uint8_t *buf, size_t len, sp_error *err)
{
    sp_out_file *f = ctx;
    while (len) {
        ssize_t n = write(f->fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return sp_fail(err, SP_ERR_IO, "write %s: %s", f->name, n < 0 ? strerror(errno) : "no progress");
        buf += n;
        len -= (size_t)n;
    }
    return SP_OK;
}

sp_status sp_out_begin(const char *output, sp_out_file *f, sp_error *err)
{
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    f->name = output;
    if (!output) return SP_OK;
    f->sink = sink_write;
    if (strcmp(output, "-") == 0) {
        f->fd = STDOUT_FILENO;
        f->name = "<stdout>";
        return SP_OK;
    }
    struct stat sb;
    if (stat(output, &sb) == 0 && S_ISDIR(sb.st_mode))
        return sp_fail(err, SP_ERR_USAGE, "output %s is a directory", output);
    if (snprintf(f->tmp, sizeof(f->tmp), "%s.sealpub-XXXXXX", output) >= (int)sizeof(f->tmp))
        return sp_fail(err, SP_ERR_USAGE, "output path too long");
    if ((f->fd = mkostemp(f->tmp, O_CLOEXEC)) < 0) {
        sp_status s = sp_fail(err, errno == ENOENT ? SP_ERR_USAGE : SP_ERR_IO, "cannot create %s: %s", f->tmp,
                              strerror(errno));
        f->tmp[0] = '\0';
        return s;
    }
    return SP_OK;
}

sp_status sp_out_finish(sp_out_file *f, sp_status s, sp_error *err)
{
    if (!f->tmp[0] || f->fd < 0) return s;
    if (s == SP_OK && fsync(f->fd) != 0) s = sp_fail(err, SP_ERR_IO, "fsync %s: %s", f->tmp, strerror(errno));
    if (s == SP_OK) {
        mode_t mask = umask(0);
        umask(mask);
        (void)fchmod(f->fd, 0666 & ~mask);
    }
    close(f->fd);
    f->fd = -1;
    if (s == SP_OK && rename(f->tmp, f->name) != 0)
        s = sp_fail(err, SP_ERR_IO, "rename to %s: %s", f->name, strerror(errno));
    if (s != SP_OK) unlink(f->tmp);
    return s;
}

static sp_status open_input(const char *path, sp_byte_in *in, sp_error *err)
{
    memset(in, 0, sizeof(*in));
    in->name = path;
    if (strcmp(path, "-") == 0) {
        in->fd = STDIN_FILENO;
        in->name = "<stdin>";
        return SP_OK;
    }
    in->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (in->fd < 0) return sp_fail(err, SP_ERR_INPUT, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(in->fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        close(in->fd);
        return sp_fail(err, SP_ERR_INPUT, "%s: is a directory", path);
    }
    return SP_OK;
}

void sp_open_opts_init(sp_open_opts *o) { memset(o, 0, sizeof(*o)); }

sp_status sp_open(const sp_open_opts *o, sp_open_result *r, sp_error *err)
{
    sp_byte_in in;
    sp_out_file out;
    if (r) memset(r, 0, sizeof(*r));
    if (!o->input) return sp_fail(err, SP_ERR_USAGE, "no container given");
    SP_TRY(open_input(o->input, &in, err));
    sp_status s = sp_out_begin(o->output, &out, err);
    if (s == SP_OK) s = sp_unseal_stream(&in, o, NULL, out.sink, &out, r, err);
    s = sp_out_finish(&out, s, err);
    if (in.fd != STDIN_FILENO) close(in.fd);
    return s;
}

/* inspect: everything readable without the key. The index is in clear text
 * but only authenticated with the key, which is said in the output. */
sp_status sp_inspect(const char *path, int json, FILE *outf, sp_error *err)
{
    sp_byte_in in;
    SP_TRY(open_input(path, &in, err));
    uint8_t header[SP_HEADER_MAX], footer[SP_FOOTER_LEN], prefix[SP_PREFIX_LEN];
    sp_header h;
    size_t hlen = 0;
    uint64_t f_off = 0, n = 0, plain_total = 0, ix_n = 0;
    uint8_t *index = NULL;
    struct stat sb = {0};
    sp_status s = read_header(&in, header, &h, &hlen, err);
    if (s == SP_OK && (fstat(in.fd, &sb) != 0 || !S_ISREG(sb.st_mode)))
        s = sp_fail(err, SP_ERR_USAGE, "%s: inspect needs a regular file", in.name);
    uint64_t size = (uint64_t)sb.st_size;
    if (s == SP_OK && size < hlen + SP_PREFIX_LEN + SP_FOOTER_LEN)
        s = sp_fail(err, SP_ERR_TRUNCATED, "%s: container truncated: no room for its final record", in.name);
    if (s == SP_OK && pread(in.fd, footer, SP_FOOTER_LEN, (off_t)(size - SP_FOOTER_LEN)) != SP_FOOTER_LEN)
        s = sp_fail(err, SP_ERR_IO, "read %s: %s", in.name, strerror(errno));
    if (s == SP_OK) s = sp_footer_decode(footer, &f_off, &n, err);
    if (s == SP_OK && (f_off < hlen || f_off + SP_PREFIX_LEN > size - SP_FOOTER_LEN ||
                       sp_index_body_len(n) != size - SP_FOOTER_LEN - SP_PREFIX_LEN - f_off))
        s = sp_fail(err, SP_ERR_FORMAT, "%s: footer does not point at a final record of %llu entries", in.name,
                    (unsigned long long)n);
    if (s == SP_OK && pread(in.fd, prefix, SP_PREFIX_LEN, (off_t)f_off) != SP_PREFIX_LEN)
        s = sp_fail(err, SP_ERR_IO, "read %s: %s", in.name, strerror(errno));
    if (s == SP_OK && sp_get_le32(prefix) != ((uint32_t)sp_index_body_len(n) | SP_FINAL_FLAG))
        s = sp_fail(err, SP_ERR_FORMAT, "%s: footer does not point at the final record", in.name);
    size_t ilen = s == SP_OK ? (size_t)sp_index_body_len(n) - SP_TAG_LEN : 0;
    if (s == SP_OK && !(index = malloc(ilen))) s = sp_fail(err, SP_ERR_NOMEM, "out of memory");
    if (s == SP_OK && pread(in.fd, index, ilen, (off_t)(f_off + SP_PREFIX_LEN)) != (ssize_t)ilen)
        s = sp_fail(err, SP_ERR_IO, "read %s: %s", in.name, strerror(errno));
    if (s == SP_OK) s = sp_index_decode_fixed(index, ilen, &plain_total, &ix_n, err);
    if (s == SP_OK && ix_n != n) s = sp_fail(err, SP_ERR_FORMAT, "%s: index count disagrees with the footer", in.name);
    if (s == SP_OK) {
        char id[2 * SP_ARTIFACT_ID_LEN + 1];
        sp_hex(h.artifact_id, SP_ARTIFACT_ID_LEN, id);
        uint64_t raw = 0;
        for (uint64_t i = 0; i < n; i++) raw += sp_get_le32(index + SP_INDEX_FIXED + i * SP_INDEX_ENTRY + 16) & 1;
        if (json) {
            fprintf(outf,
                    "{\"format\":\"%s\",\"version\":%u,\"suite\":\"AES-256-GCM+gzip\",\"chunk_size\":%u,"
                    "\"artifact_id\":\"%s\",\"name\":\"%s\",\"stage\":\"%s\",\"architecture\":\"%s\","
                    "\"resource_version\":\"%s\",\"header_bytes\":%zu,\"container_bytes\":%llu,\"plain_size\":%llu,"
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
        for (uint64_t i = 0; i < n; i++) {
            sp_index_entry e;
            sp_index_entry_decode(index + SP_INDEX_FIXED + i * SP_INDEX_ENTRY, &e);
            if (json)
                fprintf(outf, "%s{\"offset\":%llu,\"record_bytes\":%u,\"plain_bytes\":%u,\"stored\":%s}", i ? "," : "",
                        (unsigned long long)e.offset, e.body_len, e.plain_len, e.flags & 1 ? "true" : "false");
            else
                fprintf(outf, "  %8llu %14llu %10u %10u %s\n", (unsigned long long)i, (unsigned long long)e.offset,
                        e.body_len, e.plain_len, e.flags & 1 ? "stored" : "deflate");
        }
        if (json) fprintf(outf, "]}\n");
    }
    free(index);
    close(in.fd);
    return s;
}
