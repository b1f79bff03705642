/* input.c: container bytes in, from a file descriptor or a callback, hashed and cancellable; the header. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reader/reader.h"

static int cancelled(const sp_byte_in *in) { return in->cancel && __atomic_load_n(in->cancel, __ATOMIC_RELAXED); }

/* A signal that lands after a partial read, or between the cancel check
 * and read(), interrupts nothing: the next read() on a silent pipe would
 * then wait forever. So a stream is waited on in poll() with a short
 * timeout, and the flag is checked on every wake-up. */
static sp_status wait_readable(sp_byte_in *in, sp_error *err)
{
    struct pollfd pfd = {.fd = in->fd, .events = POLLIN};
    for (;;) {
        if (cancelled(in)) return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted");
        int r = poll(&pfd, 1, 200);
        if (r > 0) return SP_OK; /* readable, at end of input, or an error read() will report */
        if (r < 0 && errno != EINTR) return sp_fail(err, SP_ERR_IO, "poll %s: %s", in->name, strerror(errno));
    }
}

sp_status sp_in_read(sp_byte_in *in, uint8_t *buf, size_t len, size_t *got, sp_error *err)
{
    size_t done = 0;
    sp_status s = SP_OK;
    if (cancelled(in)) return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted");
    if (in->read) {
        s = in->read(in->ctx, buf, len, &done, err);
    } else {
        while (done < len) {
            if (in->stream) SP_TRY(wait_readable(in, err));
            else if (cancelled(in)) return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted");
            ssize_t n = read(in->fd, buf + done, len - done);
            /* The CLI's handlers do not restart read(), so a signal while a
             * pipe or FIFO is silent lands here and is observed. */
            if (n < 0 && errno == EINTR) {
                if (cancelled(in)) return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted");
                continue;
            }
            if (n < 0) return sp_fail(err, SP_ERR_IO, "read %s: %s", in->name, strerror(errno));
            if (n == 0) break;
            done += (size_t)n;
        }
    }
    if (in->hash && done) sp_sha256_update(in->hash, buf, done);
    in->pos += done;
    *got = done;
    return s;
}

sp_status sp_in_read_exact(sp_byte_in *in, uint8_t *buf, size_t len, const char *what, sp_error *err)
{
    size_t got = 0;
    SP_TRY(sp_in_read(in, buf, len, &got, err));
    if (got != len)
        return sp_fail(err, SP_ERR_TRUNCATED, "%s: container truncated at byte %llu (inside %s)", in->name,
                       (unsigned long long)in->pos, what);
    return SP_OK;
}

sp_status sp_in_read_header(sp_byte_in *in, uint8_t *buf, sp_header *h, size_t *hlen, sp_error *err)
{
    size_t got = 0;
    SP_TRY(sp_in_read(in, buf, SP_HEADER_FIXED, &got, err));
    if (got == 0) return sp_fail(err, SP_ERR_FORMAT, "%s: empty file, not a sealpub container", in->name);
    sp_status s = sp_header_decode(buf, got, h, hlen, err);
    if (s == SP_ERR_TRUNCATED && got == SP_HEADER_FIXED) {
        size_t meta = sp_get_le16(buf + 32);
        /* An oversized meta_len is a format error, reported by the decoder
         * without reading what it claims. */
        if (meta > SP_HEADER_MAX - SP_HEADER_FIXED) return sp_header_decode(buf, SP_HEADER_MAX, h, hlen, err);
        SP_TRY(sp_in_read_exact(in, buf + SP_HEADER_FIXED, meta, "the header", err));
        s = sp_header_decode(buf, SP_HEADER_FIXED + meta, h, hlen, err);
    }
    if (s != SP_OK && err) {
        char m[sizeof(err->msg)];
        snprintf(m, sizeof(m), "%.200s: %.300s", in->name, err->msg);
        sp_strlcpy(err->msg, m, sizeof(err->msg));
    }
    return s;
}

sp_status sp_in_open(const char *path, volatile const int *cancel, sp_byte_in *in, sp_error *err)
{
    memset(in, 0, sizeof(*in));
    in->name = path;
    in->cancel = cancel;
    struct stat sb;
    if (strcmp(path, "-") == 0) {
        in->fd = STDIN_FILENO;
        in->name = "<stdin>";
        in->stream = fstat(in->fd, &sb) != 0 || !S_ISREG(sb.st_mode);
        return SP_OK;
    }
    /* Opening a FIFO blocks until a writer appears; a signal then returns
     * EINTR, which must end the command rather than be retried. */
    if (cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED)) return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted");
    while ((in->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 && errno == EINTR)
        if (cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED)) return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted");
    if (in->fd < 0) return sp_fail(err, SP_ERR_INPUT, "%s: %s", path, strerror(errno));
    if (fstat(in->fd, &sb) != 0) sb.st_mode = S_IFIFO; /* unknown: treat as a stream */
    if (S_ISDIR(sb.st_mode)) {
        close(in->fd);
        in->fd = -1;
        return sp_fail(err, SP_ERR_INPUT, "%s: is a directory", path);
    }
    in->stream = !S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode);
    return SP_OK;
}
