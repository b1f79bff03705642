/* reader.h: the stages of the container reader (input, records, final record, output, row checks), wired by unseal.c. */
#ifndef SP_READER_H
#define SP_READER_H

#include <limits.h>

#include "crypto/crypto.h"
#include "format/container.h"
#include "registry/registry.h"

/* ---- input.c: where container bytes come from ---- */

/* Reads up to len bytes; *got < len only at end of input. */
typedef sp_status (*sp_read_fn)(void *ctx, uint8_t *buf, size_t len, size_t *got, sp_error *err);

/* read() if set, else the file descriptor. Touched by the calling thread only. */
typedef struct sp_byte_in {
    sp_read_fn read;
    void *ctx;
    int fd;
    const char *name;            /* for messages */
    uint64_t pos;                /* bytes consumed so far */
    sp_sha256 *hash;             /* when set, every consumed byte is hashed */
    volatile const int *cancel;  /* checked before every read and on EINTR */
    int stream;                  /* a pipe, FIFO, socket or terminal: wait in poll(), not read() */
} sp_byte_in;

sp_status sp_in_read(sp_byte_in *in, uint8_t *buf, size_t len, size_t *got, sp_error *err) SP_MUST_USE;
/* As sp_in_read, but running out of input is SP_ERR_TRUNCATED naming `what`. */
sp_status sp_in_read_exact(sp_byte_in *in, uint8_t *buf, size_t len, const char *what, sp_error *err) SP_MUST_USE;
/* Reads and checks the header (FORMAT.md 4.3) into buf (SP_HEADER_MAX bytes). */
sp_status sp_in_read_header(sp_byte_in *in, uint8_t *buf, sp_header *h, size_t *hlen, sp_error *err) SP_MUST_USE;
/* Opens a container path ("-" = stdin) for reading; in->fd is the caller's to close. */
sp_status sp_in_open(const char *path, volatile const int *cancel, sp_byte_in *in, sp_error *err) SP_MUST_USE;

/* ---- records.c: data records -> N workers (authenticate, decrypt, inflate) -> in-order sink ---- */

typedef sp_status (*sp_sink_fn)(void *ctx, const uint8_t *buf, size_t len, sp_error *err);

typedef struct sp_records_cfg {
    const uint8_t *payload_key; /* 32 bytes */
    const uint8_t *aad;         /* H, 32 bytes */
    uint32_t chunk_size;
    uint64_t first_offset;      /* the header length */
    unsigned threads;           /* workers; 0 = online CPUs */
    sp_sink_fn sink;            /* NULL: verify only */
    void *sink_ctx;
} sp_records_cfg;

/* What the records said, for the final-record checks. */
typedef struct sp_records_seen {
    sp_index_entry *e;   /* one per data record: offset, body_len, plain_len, flags (stored) */
    uint64_t n, plain_total;
    uint64_t end_offset; /* where the final record starts */
    uint32_t final_word; /* its prefix, already consumed */
} sp_records_seen;

/* Reads data records until the final record's prefix, handing authenticated
 * plaintext to the sink strictly in order; returns only when every worker
 * has stopped. The caller frees seen->e (also on failure). */
sp_status sp_records_read(sp_byte_in *in, const sp_records_cfg *cfg, sp_records_seen *seen, sp_error *err) SP_MUST_USE;

/* ---- final.c: the final record, the index against the records, footer, end of input ---- */
sp_status sp_final_check(sp_byte_in *in, const uint8_t payload_key[32], const uint8_t aad[32],
                         const sp_records_seen *seen, sp_error *err) SP_MUST_USE;

/* ---- output.c: where plaintext goes ---- */

/* A regular file (new or existing) is written without a name (O_TMPFILE) or
 * under a temporary name, and linked/renamed into place only on success;
 * "-", and an existing device, FIFO or socket (also through a symlink such
 * as /dev/stdout), are written directly, in order; NULL writes nothing. */
typedef struct sp_out_file {
    int fd;
    int direct;           /* written in place: nothing to commit or remove */
    const char *name;
    char tmp[PATH_MAX];   /* named temporary file, when O_TMPFILE was not available */
    char dir[PATH_MAX];   /* directory of name, for O_TMPFILE */
    sp_sink_fn sink;
    volatile const int *cancel; /* optional: a stalled consumer of a stream must not outlast a signal */
} sp_out_file;
sp_status sp_out_begin(const char *output, sp_out_file *f, sp_error *err) SP_MUST_USE;
/* Commits (s == SP_OK) or discards the output; returns the final status. */
sp_status sp_out_finish(sp_out_file *f, sp_status s, sp_error *err);

/* ---- rowcheck.c: every registry row field a reader can check ---- */

/* Copies s into out (cap bytes) with anything outside printable ASCII
 * replaced by '?', cut to fit: registry fields are untrusted text and
 * messages are one line. */
const char *sp_printable(const char *s, char *out, size_t cap);
/* format, key_wrap and object_key (must be exactly the key the row's own
 * identity maps to) before the row is used at all. */
sp_status sp_row_check_fields(const sp_row *row, sp_error *err) SP_MUST_USE;
/* The container as read against the row: its byte count, SHA-256 and the
 * index's plain_total. */
sp_status sp_row_check_object(const sp_row *row, const char *what, uint64_t size, const char sha256_hex[65],
                              uint64_t plain_total, sp_error *err) SP_MUST_USE;

#endif
