/* uring_compat.h: liburing, or, in a build without it (SEALPUB_URING off or liburing-dev missing), stand-ins that fail like a kernel without io_uring. */
#ifndef SP_URING_COMPAT_H
#define SP_URING_COMPAT_H

#ifdef SP_HAVE_URING
/* liburing 0.7's header (Debian 11) spells GNU's typeof, which -std=c11
 * does not have; liburing 2.x uses __typeof__ itself. */
#ifndef typeof
#define typeof __typeof__
#define SP_URING_TYPEOF
#endif
#include <liburing.h>
#ifdef SP_URING_TYPEOF
#undef typeof
#undef SP_URING_TYPEOF
#endif
#else
/* Only what source_file.c uses. io_uring_queue_init fails with -ENOSYS, so
 * "--io auto" falls back to pread exactly as on a kernel without io_uring
 * and "--io uring" reports it unavailable; nothing past it is reached. */
#include <errno.h>
#include <stddef.h>

struct io_uring {
    int unused;
};
struct io_uring_sqe {
    int unused;
};
struct io_uring_cqe {
    int res;
};

static inline int io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags)
{
    (void)entries, (void)ring, (void)flags;
    return -ENOSYS;
}
static inline void io_uring_queue_exit(struct io_uring *ring) { (void)ring; }
static inline struct io_uring_sqe *io_uring_get_sqe(struct io_uring *ring)
{
    (void)ring;
    return NULL;
}
static inline void io_uring_prep_nop(struct io_uring_sqe *sqe) { (void)sqe; }
static inline void io_uring_prep_read(struct io_uring_sqe *sqe, int fd, void *buf, unsigned n, unsigned long long off)
{
    (void)sqe, (void)fd, (void)buf, (void)n, (void)off;
}
static inline void io_uring_sqe_set_data(struct io_uring_sqe *sqe, void *data) { (void)sqe, (void)data; }
static inline void *io_uring_cqe_get_data(const struct io_uring_cqe *cqe)
{
    (void)cqe;
    return NULL;
}
static inline int io_uring_submit(struct io_uring *ring)
{
    (void)ring;
    return -ENOSYS;
}
static inline int io_uring_wait_cqe(struct io_uring *ring, struct io_uring_cqe **cqe)
{
    (void)ring;
    *cqe = NULL;
    return -ENOSYS;
}
static inline void io_uring_cqe_seen(struct io_uring *ring, struct io_uring_cqe *cqe) { (void)ring, (void)cqe; }
#endif

#endif
