/* output.c: where opened plaintext goes: a nameless file linked into place only after verification, or a stream.
 *
 * The rule (docs/CLI.md, "Output files"): a regular file, new or existing,
 * is written without any name (O_TMPFILE) and linked/renamed into place only
 * after every check passed, so neither a failure nor a signal ever leaves
 * unverified plaintext under any name; where the filesystem lacks O_TMPFILE
 * a temporary name next to it is used and removed on failure. Standard
 * output ("-") and an existing device, FIFO or socket (also one reached
 * through a symlink, like /dev/stdout or /dev/null) cannot be replaced
 * atomically and must never be renamed over: they are opened and written in
 * place, in order, like "-", and a failure is reported by the exit status.
 * A symlink to a regular file is refused rather than replaced or followed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reader/reader.h"

static int cancelled(const sp_out_file *f) { return f->cancel && __atomic_load_n(f->cancel, __ATOMIC_RELAXED); }

static sp_status sink_write(void *ctx, const uint8_t *buf, size_t len, sp_error *err)
{
    sp_out_file *f = ctx;
    while (len) {
        /* A stream whose reader stalls is waited on in poll(), so that a
         * signal (already handled, or landing after a partial write) still
         * ends the command. */
        if (f->direct) {
            struct pollfd pfd = {.fd = f->fd, .events = POLLOUT};
            while (!cancelled(f) && poll(&pfd, 1, 200) == 0) {}
        }
        if (cancelled(f)) return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted");
        ssize_t n = write(f->fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return sp_fail(err, SP_ERR_IO, "write %s: %s", f->name, n < 0 ? strerror(errno) : "no progress");
        buf += n;
        len -= (size_t)n;
    }
    return SP_OK;
}

static sp_status open_in_place(const char *output, sp_out_file *f, sp_error *err)
{
    /* No O_CREAT, no O_TRUNC: the thing exists and is not a file. */
    /* A FIFO blocks here until it has a reader; a signal ends the wait. */
    f->fd = open(output, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (f->fd < 0 && errno == EINTR) return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted while opening %s", output);
    if (f->fd < 0) return sp_fail(err, SP_ERR_IO, "cannot open %s: %s", output, strerror(errno));
    struct stat sb;
    if (fstat(f->fd, &sb) != 0 || S_ISREG(sb.st_mode)) {
        /* Replaced by a regular file between the checks: not ours to write in place. */
        close(f->fd);
        f->fd = -1;
        return sp_fail(err, SP_ERR_IO, "output %s changed while it was being opened", output);
    }
    f->direct = 1;
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
        f->direct = 1;
        f->name = "<stdout>";
        return SP_OK;
    }
    struct stat lsb, sb;
    if (lstat(output, &lsb) == 0) {
        if (stat(output, &sb) != 0)
            return sp_fail(err, SP_ERR_USAGE, "output %s is a symbolic link to nothing", output);
        if (S_ISDIR(sb.st_mode)) return sp_fail(err, SP_ERR_USAGE, "output %s is a directory", output);
        if (!S_ISREG(sb.st_mode)) return open_in_place(output, f, err);
        if (S_ISLNK(lsb.st_mode))
            return sp_fail(err, SP_ERR_USAGE,
                           "output %s is a symbolic link to a file: give the file's own path (or -o - for standard "
                           "output)",
                           output);
    }
    if (snprintf(f->tmp, sizeof(f->tmp), "%s.sealpub-XXXXXX", output) >= (int)sizeof(f->tmp))
        return sp_fail(err, SP_ERR_USAGE, "output path too long");
    const char *slash = strrchr(output, '/');
    if (!slash) sp_strlcpy(f->dir, ".", sizeof(f->dir));
    else if (slash == output) sp_strlcpy(f->dir, "/", sizeof(f->dir));
    else snprintf(f->dir, sizeof(f->dir), "%.*s", (int)(slash - output), output);
    f->fd = open(f->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (f->fd >= 0) {
        f->tmp[0] = '\0'; /* nameless until committed */
        return SP_OK;
    }
    /* Filesystems without O_TMPFILE answer EOPNOTSUPP (or EISDIR/EINVAL on
     * old kernels): fall back to a named temporary file. */
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
        sp_status s = sp_fail(err, errno == ENOENT || errno == ENOTDIR ? SP_ERR_USAGE : SP_ERR_IO,
                              "cannot create %s in %s: %s", output, f->dir, strerror(errno));
        f->tmp[0] = '\0';
        return s;
    }
    if ((f->fd = mkostemp(f->tmp, O_CLOEXEC)) < 0) {
        sp_status s = sp_fail(err, errno == ENOENT ? SP_ERR_USAGE : SP_ERR_IO, "cannot create %s: %s", f->tmp,
                              strerror(errno));
        f->tmp[0] = '\0';
        return s;
    }
    return SP_OK;
}

/* Gives the nameless file its name; an existing file is replaced through a
 * random temporary name, since linkat() cannot replace. */
static sp_status link_tmpfile(sp_out_file *f, sp_error *err)
{
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, f->name, AT_SYMLINK_FOLLOW) == 0) return SP_OK;
    if (errno != EEXIST) return sp_fail(err, SP_ERR_IO, "cannot create %s: %s", f->name, strerror(errno));
    struct stat lsb;
    if (lstat(f->name, &lsb) == 0 && !S_ISREG(lsb.st_mode))
        return sp_fail(err, SP_ERR_IO, "output %s was replaced by something that is not a file", f->name);
    for (int attempt = 0; attempt < 16; attempt++) {
        uint8_t rnd[6];
        char hex[13];
        SP_TRY(sp_random(rnd, sizeof(rnd), err));
        sp_hex(rnd, sizeof(rnd), hex);
        if (snprintf(f->tmp, sizeof(f->tmp), "%s.sealpub-%s", f->name, hex) >= (int)sizeof(f->tmp))
            return sp_fail(err, SP_ERR_USAGE, "output path too long");
        if (linkat(AT_FDCWD, proc, AT_FDCWD, f->tmp, AT_SYMLINK_FOLLOW) == 0) {
            if (rename(f->tmp, f->name) == 0) return SP_OK;
            sp_status s = sp_fail(err, SP_ERR_IO, "rename to %s: %s", f->name, strerror(errno));
            unlink(f->tmp);
            return s;
        }
        if (errno != EEXIST) return sp_fail(err, SP_ERR_IO, "cannot create %s: %s", f->tmp, strerror(errno));
    }
    return sp_fail(err, SP_ERR_IO, "cannot find a free temporary name next to %s", f->name);
}

sp_status sp_out_finish(sp_out_file *f, sp_status s, sp_error *err)
{
    if (!f->name || f->fd < 0) return s;
    if (f->direct) {
        if (f->fd != STDOUT_FILENO) close(f->fd);
        f->fd = -1;
        return s;
    }
    if (s == SP_OK && fsync(f->fd) != 0) s = sp_fail(err, SP_ERR_IO, "fsync %s: %s", f->name, strerror(errno));
    if (s == SP_OK) {
        mode_t mask = umask(0);
        umask(mask);
        (void)fchmod(f->fd, 0666 & ~mask);
    }
    if (!f->tmp[0]) {
        /* Nameless: on failure closing it is all it takes. */
        if (s == SP_OK) s = link_tmpfile(f, err);
        close(f->fd);
        f->fd = -1;
        return s;
    }
    close(f->fd);
    f->fd = -1;
    if (s == SP_OK && rename(f->tmp, f->name) != 0)
        s = sp_fail(err, SP_ERR_IO, "rename to %s: %s", f->name, strerror(errno));
    if (s != SP_OK) unlink(f->tmp);
    return s;
}
