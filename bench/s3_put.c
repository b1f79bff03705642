/* s3_put.c: uploads a file through sealpub's store interface, to time the upload stage alone (bench/s3.sh).
 *
 * The file is read into memory first, as the upload stage receives sealed
 * bytes from the sealer in memory; then the upload runs, handed 4 MiB at a
 * time, and its own CPU time (user and system, every thread, from
 * getrusage) and wall time are printed on stdout as
 * "upload_cpu_s=U upload_wall_s=W bytes=N". The process total (reading the
 * file included) is what /usr/bin/time around it reports. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double wall_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: s3_put FILE STORE_URL KEY\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        perror(argv[1]);
        return 1;
    }
    size_t size = (size_t)sb.st_size, got = 0;
    unsigned char *data = malloc(size ? size : 1);
    if (!data) {
        fprintf(stderr, "s3_put: out of memory for %zu bytes\n", size);
        return 1;
    }
    while (got < size) {
        ssize_t n = read(fd, data + got, size - got);
        if (n <= 0) {
            perror(argv[1]);
            return 1;
        }
        got += (size_t)n;
    }
    close(fd);
    sp_store st;
    sp_upload *up = NULL;
    sp_error err = {0};
    double c0 = cpu_now(), w0 = wall_now();
    sp_status s = sp_store_open(argv[2], &st, &err);
    if (s == SP_OK) s = st.ops->put_begin(st.impl, argv[3], UINT64_MAX, &up, &err);
    for (size_t off = 0; s == SP_OK && off < size; off += 4u << 20)
        s = st.ops->put_write(up, data + off, size - off < (4u << 20) ? size - off : 4u << 20, &err);
    if (s == SP_OK) s = st.ops->put_commit(up, &err);
    else if (up) st.ops->put_abort(up);
    if (s != SP_OK) {
        fprintf(stderr, "s3_put: %s\n", err.msg);
        return 1;
    }
    sp_store_close(&st);
    printf("upload_cpu_s=%.3f upload_wall_s=%.3f bytes=%zu\n", cpu_now() - c0, wall_now() - w0, size);
    free(data);
    return 0;
}
