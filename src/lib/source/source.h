/* source.h: the input stage: regular files (io_uring or pread) and streams (stdin, pipes, FIFOs). */
#ifndef SP_SOURCE_H
#define SP_SOURCE_H

#include "common/sp_common.h"

/* One input, driven by one thread (not thread-safe). The caller owns the
 * buffers; the source only borrows a buffer between its submit and its wait. */
typedef struct sp_source sp_source;

/* Opens path ("-" = standard input). chunk is the read unit; depth (1..4096)
 * is how many reads may be in flight (the pipeline passes its pool size).
 * Regular files (including a regular file on stdin, read from its current
 * offset) use io_uring or pread; pipes, FIFOs, ttys, sockets and devices are
 * streams, read with read(2) whatever the mode (a FIFO path waits in open
 * until a writer appears). mode AUTO tries io_uring for regular files and
 * falls back to pread silently (a debug line on stderr only when
 * SEALPUB_DEBUG is set); URING fails with SP_ERR_USAGE if io_uring is
 * unavailable; PREAD forces pread. SEALPUB_TEST_URING_FAIL=1 makes io_uring
 * setup fail as if denied (EPERM), for tests of the fallback.
 * "docker-daemon:IMAGE" is not a path: the image's `docker save` archive,
 * streamed from the Docker Engine API (source_docker.h; its errors).
 * Errors: SP_ERR_INPUT with "PATH: No such file or directory", "PATH: is a
 * directory", "PATH: Permission denied", ...; SP_ERR_NOMEM. */
SP_MUST_USE sp_status sp_source_open(const char *path, sp_io_mode mode, size_t chunk, unsigned depth,
                                     sp_source **out, sp_error *err);

/* sp_source_open, and while a FIFO path waits for its first writer, *cancel
 * becoming non-zero (a SIGINT/SIGTERM handler's flag; NULL: never) ends the
 * wait with SP_ERR_INTERRUPTED within about 100 ms. */
SP_MUST_USE sp_status sp_source_open_cancellable(const char *path, sp_io_mode mode, size_t chunk, unsigned depth,
                                                 volatile const int *cancel, sp_source **out, sp_error *err);

/* Queues a read of the next chunk into buf (cap >= chunk). Buffers are filled
 * in submission order. At most depth submissions may be outstanding
 * (SP_ERR_INTERNAL otherwise). */
SP_MUST_USE sp_status sp_source_submit(sp_source *s, uint8_t *buf, sp_error *err);

/* Waits for the oldest submission: *buf_out = that buffer, *got = bytes in it
 * (== chunk except for the last one; 0 at end of input, and for every
 * submission after that). Short reads, EINTR and EAGAIN are retried
 * internally. A regular file whose size changes while being read is
 * SP_ERR_INPUT ("PATH: file changed size while being read"); a read failure
 * is SP_ERR_IO. After any error the source is failed for good (later calls
 * repeat the error) and no read is still in flight, so the caller may reuse
 * or free every buffer it submitted. */
SP_MUST_USE sp_status sp_source_wait(sp_source *s, uint8_t **buf_out, size_t *got, sp_error *err);

/* Size if known up front (regular files), else UINT64_MAX. */
uint64_t sp_source_size(const sp_source *s);
/* "uring", "pread" or "stream": what is actually used. */
const char *sp_source_kind(const sp_source *s);
/* Whether the input name suggests a tar archive (".tar" suffix, any case;
 * always for a docker-daemon: input). */
int sp_source_name_is_tar(const sp_source *s);
/* For a "docker-daemon:IMAGE" input (source_docker.h), read from the Docker
 * Engine API instead of a file: returns 1 and the image's ID ("sha256:...")
 * and repository tags ('\n'-separated, maybe ""), owned by s; else 0. */
int sp_source_docker_image(const sp_source *s, const char **image_id, const char **repo_tags);
/* Reaps any read still in flight, then closes (stdin is left open) and frees.
 * NULL does nothing. */
void sp_source_close(sp_source *s);

#endif
