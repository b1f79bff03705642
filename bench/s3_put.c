/* s3_put.c: uploads a file through sealpub's store interface, to time the upload stage alone (bench/s3.sh). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/store.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: s3_put FILE STORE_URL KEY\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    sp_store st;
    sp_upload *up = NULL;
    sp_error err = {0};
    sp_status s = sp_store_open(argv[2], &st, &err);
    if (s == SP_OK) s = st.ops->put_begin(st.impl, argv[3], UINT64_MAX, &up, &err);
    static unsigned char buf[4 << 20];
    ssize_t n;
    while (s == SP_OK && (n = read(fd, buf, sizeof(buf))) > 0) s = st.ops->put_write(up, buf, (size_t)n, &err);
    if (s == SP_OK) s = st.ops->put_commit(up, &err);
    else if (up) st.ops->put_abort(up);
    close(fd);
    if (s != SP_OK) {
        fprintf(stderr, "s3_put: %s\n", err.msg);
        return 1;
    }
    sp_store_close(&st);
    return 0;
}
