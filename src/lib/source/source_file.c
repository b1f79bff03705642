/* source_file.c: reads the input in chunks: io_uring or pread for regular files, read(2) for streams. */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "source/source.h"
#include "source/source_docker.h"
#include "source/uring_compat.h"

/*
 * The caller hands us buffers one by one (submit) and takes them back oldest
 * first (wait). For a regular file each submission is a read at a fixed
 * offset, so with io_uring up to depth of them run at once while the
 * pipeline compresses earlier chunks; pread and streams do the same work
 * synchronously inside wait. Completions may arrive in any order: each one
 * lands in its slot, and wait only returns the oldest slot.
 *
 * A regular file must not change while we read it, or the published bytes
 * would match neither the old nor the new file. Its size is taken once at
 * open and every read is sized from it, so a read that ends early means it
 * shrank. The read that covers the expected end asks for one byte more,
 * which must not come (EOF), and a second fstat must agree, or it grew.
 * Callers stop at the first short chunk, so that check must ride on the last
 * data read; only when the size is a multiple of the chunk (or 0) is it a
 * read of its own, which the caller submits after its last full chunk.
 */

#define SOURCE_DEPTH_MAX 4096u
#define SOURCE_CHUNK_MAX ((size_t)1 << 30)
#define SUBMIT_RETRIES 1000

enum source_kind { KIND_URING, KIND_PREAD, KIND_STREAM };
enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_INFLIGHT, SLOT_DONE };

struct slot {
    uint8_t *buf;
    uint64_t off; /* offset of buf[0], relative to the source's base */
    size_t expect; /* bytes the file should give: chunk, less for the last one */
    size_t want;   /* bytes asked for: expect, +1 at the expected end, 0 past it */
    size_t done;   /* bytes read into buf so far */
    int last;      /* covers the expected end: EOF must follow and fstat agree */
    int error;    /* errno of a failed read, reported when the slot is waited for */
    enum slot_state state;
};

struct sp_source {
    char *label; /* the path, or "standard input", for messages */
    int fd, own_fd;
    enum source_kind kind;
    size_t chunk;
    unsigned depth;
    uint64_t base;     /* file offset of the first byte (stdin may start mid-file) */
    uint64_t size;     /* bytes from base, from fstat at open; UINT64_MAX for streams */
    uint64_t next_off; /* relative offset of the next submission */
    int end_queued;    /* the read covering the expected end has been queued */
    int stream_eof;
    int is_tar;
    struct slot *slots; /* ring of depth slots: head is the oldest, count in use */
    unsigned head, count, inflight;
    struct io_uring ring;
    int ring_ok;
    sp_docker_stream *docker; /* a docker-daemon: input (a stream without fd), else NULL */
    sp_status failed; /* sticky: once failed, every call repeats the error */
    char failed_msg[sizeof(((sp_error *)0)->msg)];
};

static void uring_drain(sp_source *s);

/* Records the failure on the source (so later calls repeat it), makes sure no
 * read still targets a caller buffer, and fills err. */
__attribute__((format(printf, 4, 5)))
static sp_status source_fail(sp_source *s, sp_error *err, sp_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->failed_msg, sizeof(s->failed_msg), fmt, ap);
    va_end(ap);
    s->failed = status;
    uring_drain(s);
    return sp_fail(err, status, "%s", s->failed_msg);
}

static int env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* ---- io_uring: the one adapter for liburing's -errno convention ---- */

static int uring_setup(sp_source *s)
{
    if (env_flag("SEALPUB_TEST_URING_FAIL")) return -EPERM;
    int r = io_uring_queue_init(s->depth, &s->ring, 0);
    if (r < 0) return r;
    /* A seccomp filter may allow io_uring_setup and deny io_uring_enter (or
     * a sandbox may fake both): one NOP round trip proves the ring works. */
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
    if (!sqe) {
        r = -EBUSY;
    } else {
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data(sqe, NULL);
        do r = io_uring_submit(&s->ring);
        while (r == -EINTR);
        if (r == 1) {
            struct io_uring_cqe *cqe;
            do r = io_uring_wait_cqe(&s->ring, &cqe);
            while (r == -EINTR);
            if (r == 0) {
                r = cqe->res;
                io_uring_cqe_seen(&s->ring, cqe);
            }
        } else if (r >= 0) {
            r = -EIO;
        }
    }
    if (r < 0) {
        io_uring_queue_exit(&s->ring);
        return r;
    }
    s->ring_ok = 1;
    return 0;
}

/* Queues the rest of sl's read. */
static sp_status uring_queue(sp_source *s, struct slot *sl, sp_error *err)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
    if (!sqe) return source_fail(s, err, SP_ERR_INTERNAL, "%s: io_uring submission queue full", s->label);
    io_uring_prep_read(sqe, s->fd, sl->buf + sl->done, (unsigned)(sl->want - sl->done),
                       s->base + sl->off + sl->done);
    io_uring_sqe_set_data(sqe, sl);
    sl->state = SLOT_INFLIGHT;
    s->inflight++;
    for (int tries = 0;; tries++) {
        int r = io_uring_submit(&s->ring);
        if (r >= 1) return SP_OK;
        /* EAGAIN/EBUSY: the kernel is short of resources or completions are
         * backed up; both clear as reads finish. */
        if (r == -EINTR || ((r == -EAGAIN || r == -EBUSY || r == 0) && tries < SUBMIT_RETRIES)) {
            if (r != -EINTR) usleep(1000);
            continue;
        }
        s->inflight--; /* never reached the kernel */
        sl->state = SLOT_DONE;
        return source_fail(s, err, SP_ERR_IO, "%s: io_uring submit failed: %s", s->label,
                           strerror(r < 0 ? -r : EIO));
    }
}

/* Reaps completions until target is done; others that finish meanwhile are
 * recorded in their slots. */
static sp_status uring_complete(sp_source *s, struct slot *target, sp_error *err)
{
    while (target->state != SLOT_DONE) {
        struct io_uring_cqe *cqe;
        int r = io_uring_wait_cqe(&s->ring, &cqe);
        if (r == -EINTR || r == -EAGAIN) continue;
        if (r < 0) return source_fail(s, err, SP_ERR_IO, "%s: io_uring wait failed: %s", s->label, strerror(-r));
        struct slot *sl = io_uring_cqe_get_data(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&s->ring, cqe);
        if (!sl) continue;
        s->inflight--;
        if (res == -EINTR || res == -EAGAIN) {
            SP_TRY(uring_queue(s, sl, err));
        } else if (res < 0) {
            sl->error = -res;
            sl->state = SLOT_DONE;
        } else if (res == 0) {
            sl->state = SLOT_DONE; /* EOF: checked against the expected size later */
        } else {
            sl->done += (size_t)res;
            if (sl->done < sl->want) SP_TRY(uring_queue(s, sl, err)); /* short read: ask for the rest */
            else sl->state = SLOT_DONE;
        }
    }
    return SP_OK;
}

/* Waits until no read targets a caller buffer. */
static void uring_drain(sp_source *s)
{
    while (s->ring_ok && s->inflight > 0) {
        struct io_uring_cqe *cqe;
        int r = io_uring_wait_cqe(&s->ring, &cqe);
        if (r == -EINTR || r == -EAGAIN) continue;
        if (r < 0) break; /* a broken ring: queue_exit still cancels what is left */
        if (io_uring_cqe_get_data(cqe)) s->inflight--;
        io_uring_cqe_seen(&s->ring, cqe);
    }
}

/* ---- pread and streams: synchronous, inside wait ---- */

static void wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    (void)poll(&p, 1, -1);
}

static void pread_fill(sp_source *s, struct slot *sl)
{
    while (sl->done < sl->want) {
        ssize_t r = pread(s->fd, sl->buf + sl->done, sl->want - sl->done, (off_t)(s->base + sl->off + sl->done));
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                wait_readable(s->fd);
                continue;
            }
            sl->error = errno;
            break;
        }
        if (r == 0) break;
        sl->done += (size_t)r;
    }
    sl->state = SLOT_DONE;
}

/* A pipe hands over at most its capacity per read, so a full chunk takes
 * many reads; the loop runs until the chunk is full or the writer closes. */
static void stream_fill(sp_source *s, struct slot *sl)
{
    while (!s->stream_eof && sl->done < s->chunk) {
        ssize_t r = read(s->fd, sl->buf + sl->done, s->chunk - sl->done);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) { /* an inherited O_NONBLOCK */
                wait_readable(s->fd);
                continue;
            }
            sl->error = errno;
            break;
        }
        if (r == 0) s->stream_eof = 1;
        sl->done += (size_t)r;
    }
    sl->state = SLOT_DONE;
}

/* The docker-daemon: input: same contract as stream_fill, but the errors
 * are the engine's, not an errno. */
static sp_status docker_fill(sp_source *s, struct slot *sl, sp_error *err)
{
    sp_error e = {0};
    size_t got = 0;
    sp_status st = s->stream_eof ? SP_OK : sp_docker_stream_read(s->docker, sl->buf, s->chunk, &got, &e);
    sl->state = SLOT_DONE;
    if (st != SP_OK) return source_fail(s, err, st, "%s", e.msg);
    if (got < s->chunk) s->stream_eof = 1;
    sl->done = got;
    return SP_OK;
}

/* ---- open ---- */

/* Bigger pipe buffers mean fewer wake-ups per chunk; the limit is a sysctl
 * and an unprivileged user may be refused, which is fine. */
static void grow_pipe(int fd, size_t chunk)
{
    long max = 1 << 20;
    FILE *f = fopen("/proc/sys/fs/pipe-max-size", "re");
    if (f) {
        long v;
        if (fscanf(f, "%ld", &v) == 1 && v > 0) max = v;
        fclose(f);
    }
    long want = (long)chunk < max ? (long)chunk : max;
    int cur = fcntl(fd, F_GETPIPE_SZ);
    if (cur >= 0 && cur < want) (void)fcntl(fd, F_SETPIPE_SZ, (int)want);
}

/* procfs and sysfs report size 0 (or a page) for files that have content:
 * their size cannot be trusted, so they are read as streams. */
static int size_is_fiction(int fd)
{
    struct statfs fs;
    if (fstatfs(fd, &fs) != 0) return 0;
    return fs.f_type == PROC_SUPER_MAGIC || fs.f_type == SYSFS_MAGIC;
}

static sp_status open_error(const char *path, int e, sp_error *err)
{
    struct stat st;
    if (e == ENXIO && stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        return sp_fail(err, SP_ERR_INPUT, "%s: is a socket, not a file or pipe", path);
    if (e == ENOMEM) return sp_fail(err, SP_ERR_NOMEM, "%s: %s", path, strerror(e));
    if (e == EMFILE || e == ENFILE) return sp_fail(err, SP_ERR_IO, "%s: %s", path, strerror(e));
    return sp_fail(err, SP_ERR_INPUT, "%s: %s", path, strerror(e));
}

static int is_cancelled(volatile const int *cancel) { return cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED); }

/* A FIFO opened without O_NONBLOCK blocks in open() until a writer appears,
 * and a signal handler that only sets a flag cannot end that wait (glibc and
 * our EINTR loop restart it). So FIFOs are opened non-blocking, and the wait
 * for the first writer is a poll in short steps that watches the cancel flag;
 * then the descriptor goes back to blocking reads. */
static sp_status wait_for_writer(sp_source *s, volatile const int *cancel, sp_error *err)
{
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
    for (;;) {
        if (is_cancelled(cancel)) return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted while waiting for a writer on %s", s->label);
        int r = poll(&pfd, 1, 100);
        if (r > 0) break;
        if (r < 0 && errno != EINTR) return sp_fail(err, SP_ERR_INPUT, "%s: %s", s->label, strerror(errno));
    }
    int fl = fcntl(s->fd, F_GETFL);
    if (fl < 0 || fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
        return sp_fail(err, SP_ERR_INPUT, "%s: %s", s->label, strerror(errno));
    return SP_OK;
}

static sp_status open_fd(sp_source *s, const char *path, int is_stdin, volatile const int *cancel, sp_error *err)
{
    if (is_stdin) {
        s->fd = STDIN_FILENO;
    } else {
        int fd;
        do fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        while (fd < 0 && errno == EINTR && !is_cancelled(cancel));
        if (fd < 0 && errno == EINTR) return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted while opening %s", path);
        if (fd < 0) return open_error(path, errno, err);
        s->fd = fd;
        s->own_fd = 1;
    }
    struct stat st;
    if (fstat(s->fd, &st) != 0) return sp_fail(err, SP_ERR_INPUT, "%s: %s", s->label, strerror(errno));
    if (!is_stdin && S_ISFIFO(st.st_mode)) {
        SP_TRY(wait_for_writer(s, cancel, err));
    } else if (!is_stdin) {
        /* Everything else was opened non-blocking only so a FIFO could not
         * hang open(); reads of devices and sockets block as before. */
        int fl = fcntl(s->fd, F_GETFL);
        if (fl >= 0) (void)fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    if (S_ISDIR(st.st_mode)) return sp_fail(err, SP_ERR_INPUT, "%s: is a directory", s->label);
    if (S_ISREG(st.st_mode) && !size_is_fiction(s->fd)) {
        off_t base = 0;
        if (is_stdin) base = lseek(s->fd, 0, SEEK_CUR);
        if (base >= 0) {
            s->kind = KIND_PREAD; /* io_uring is tried later */
            s->base = (uint64_t)base;
            s->size = st.st_size > base ? (uint64_t)(st.st_size - base) : 0;
            (void)posix_fadvise(s->fd, base, 0, POSIX_FADV_SEQUENTIAL);
            return SP_OK;
        }
    }
    if (S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode) ||
        S_ISBLK(st.st_mode)) {
        s->kind = KIND_STREAM;
        s->size = UINT64_MAX;
        if (S_ISFIFO(st.st_mode)) grow_pipe(s->fd, s->chunk);
        return SP_OK;
    }
    return sp_fail(err, SP_ERR_INPUT, "%s: not a regular file, pipe or device", s->label);
}

static sp_status choose_io(sp_source *s, sp_io_mode mode, sp_error *err)
{
    if (s->kind == KIND_STREAM || mode == SP_IO_PREAD) return SP_OK;
    int r = uring_setup(s);
    if (r == 0) {
        s->kind = KIND_URING;
        return SP_OK;
    }
    if (mode == SP_IO_URING)
        return sp_fail(err, SP_ERR_USAGE,
                       "%s: io_uring is unavailable: %s (kernel.io_uring_disabled, a seccomp filter or an old "
                       "kernel?); use the auto or pread I/O mode",
                       s->label, strerror(-r));
    if (env_flag("SEALPUB_DEBUG"))
        fprintf(stderr, "sealpub: debug: io_uring is unavailable (%s); reading %s with pread\n", strerror(-r),
                s->label);
    return SP_OK;
}

sp_status sp_source_open(const char *path, sp_io_mode mode, size_t chunk, unsigned depth, sp_source **out,
                         sp_error *err)
{
    return sp_source_open_cancellable(path, mode, chunk, depth, NULL, out, err);
}

sp_status sp_source_open_cancellable(const char *path, sp_io_mode mode, size_t chunk, unsigned depth,
                                     volatile const int *cancel, sp_source **out, sp_error *err)
{
    *out = NULL;
    if (!path || !*path) return sp_fail(err, SP_ERR_USAGE, "no input path given");
    if (mode != SP_IO_AUTO && mode != SP_IO_URING && mode != SP_IO_PREAD)
        return sp_fail(err, SP_ERR_USAGE, "unknown I/O mode %d", (int)mode);
    if (chunk == 0 || chunk > SOURCE_CHUNK_MAX)
        return sp_fail(err, SP_ERR_USAGE, "read size %zu out of range 1..%zu", chunk, SOURCE_CHUNK_MAX);
    if (depth == 0 || depth > SOURCE_DEPTH_MAX)
        return sp_fail(err, SP_ERR_USAGE, "read depth %u out of range 1..%u", depth, SOURCE_DEPTH_MAX);

    int is_stdin = strcmp(path, "-") == 0;
    size_t len = strlen(path);
    sp_source *s = calloc(1, sizeof(*s));
    if (!s) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    s->fd = -1;
    s->chunk = chunk;
    s->depth = depth;
    s->is_tar = len >= 4 && strcasecmp(path + len - 4, ".tar") == 0;
    s->label = strdup(is_stdin ? "standard input" : path);
    s->slots = calloc(depth, sizeof(*s->slots));
    if (!s->label || !s->slots) {
        sp_source_close(s);
        return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    }
    sp_status st;
    if (strncmp(path, SP_DOCKER_DAEMON_PREFIX, strlen(SP_DOCKER_DAEMON_PREFIX)) == 0) {
        /* An image from the Docker engine: what `docker save` writes, so
         * always a tar archive whose completeness is checked. */
        s->kind = KIND_STREAM;
        s->size = UINT64_MAX;
        s->is_tar = 1;
        st = sp_docker_stream_open(path + strlen(SP_DOCKER_DAEMON_PREFIX), cancel, &s->docker, err);
    } else {
        st = open_fd(s, path, is_stdin, cancel, err);
        if (st == SP_OK) st = choose_io(s, mode, err);
    }
    if (st != SP_OK) {
        sp_source_close(s);
        return st;
    }
    *out = s;
    return SP_OK;
}

/* ---- submit / wait ---- */

sp_status sp_source_submit(sp_source *s, uint8_t *buf, sp_error *err)
{
    if (s->failed) return sp_fail(err, s->failed, "%s", s->failed_msg);
    if (!buf) return sp_fail(err, SP_ERR_INTERNAL, "source: submit without a buffer");
    if (s->count >= s->depth)
        return sp_fail(err, SP_ERR_INTERNAL, "source: more than %u reads outstanding", s->depth);
    struct slot *sl = &s->slots[(s->head + s->count) % s->depth];
    *sl = (struct slot){.buf = buf, .state = SLOT_QUEUED};
    s->count++;
    if (s->kind == KIND_STREAM) return SP_OK;

    sl->off = s->next_off;
    if (s->next_off < s->size) {
        uint64_t left = s->size - s->next_off;
        sl->expect = sl->want = left < s->chunk ? (size_t)left : s->chunk;
        if (sl->expect < s->chunk) { /* the end, with room in buf for one more byte */
            sl->want++;
            sl->last = s->end_queued = 1;
        }
        s->next_off += sl->expect;
    } else if (!s->end_queued) {
        sl->want = 1;
        sl->last = s->end_queued = 1;
    } else {
        sl->state = SLOT_DONE; /* past the end: nothing to read */
        return SP_OK;
    }
    if (s->kind == KIND_URING) return uring_queue(s, sl, err);
    return SP_OK;
}

static sp_status check_slot(sp_source *s, const struct slot *sl, sp_error *err)
{
    if (sl->error) return source_fail(s, err, SP_ERR_IO, "%s: read failed: %s", s->label, strerror(sl->error));
    if (s->kind == KIND_STREAM) return SP_OK;
    if (sl->done != sl->expect) goto changed;
    if (sl->last) {
        struct stat st;
        if (fstat(s->fd, &st) != 0)
            return source_fail(s, err, SP_ERR_IO, "%s: fstat failed: %s", s->label, strerror(errno));
        if ((uint64_t)st.st_size != s->base + s->size) goto changed;
    }
    return SP_OK;
changed:
    return source_fail(s, err, SP_ERR_INPUT, "%s: file changed size while being read", s->label);
}

sp_status sp_source_wait(sp_source *s, uint8_t **buf_out, size_t *got, sp_error *err)
{
    if (s->failed) return sp_fail(err, s->failed, "%s", s->failed_msg);
    if (s->count == 0) return sp_fail(err, SP_ERR_INTERNAL, "source: wait with no read submitted");
    struct slot *sl = &s->slots[s->head];
    if (sl->state != SLOT_DONE) {
        if (s->kind == KIND_URING) SP_TRY(uring_complete(s, sl, err));
        else if (s->kind == KIND_PREAD) pread_fill(s, sl);
        else if (s->docker) SP_TRY(docker_fill(s, sl, err));
        else stream_fill(s, sl);
    }
    SP_TRY(check_slot(s, sl, err));
    *buf_out = sl->buf;
    *got = sl->done;
    sl->state = SLOT_FREE;
    s->head = (s->head + 1) % s->depth;
    s->count--;
    return SP_OK;
}

uint64_t sp_source_size(const sp_source *s) { return s->size; }

const char *sp_source_kind(const sp_source *s)
{
    switch (s->kind) {
    case KIND_URING: return "uring";
    case KIND_PREAD: return "pread";
    case KIND_STREAM: break;
    }
    return "stream";
}

int sp_source_name_is_tar(const sp_source *s) { return s->is_tar; }

int sp_source_docker_image(const sp_source *s, const char **image_id, const char **repo_tags)
{
    if (!s->docker) return 0;
    *image_id = sp_docker_stream_image_id(s->docker);
    *repo_tags = sp_docker_stream_repo_tags(s->docker);
    return 1;
}

void sp_source_close(sp_source *s)
{
    if (!s) return;
    if (s->ring_ok) {
        uring_drain(s);
        io_uring_queue_exit(&s->ring);
    }
    if (s->own_fd && s->fd >= 0) close(s->fd);
    sp_docker_stream_close(s->docker);
    free(s->slots);
    free(s->label);
    free(s);
}
