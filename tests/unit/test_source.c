/* test_source.c: the input stage: io_uring, pread and stream reads, size changes, open errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "source/source.h"
#include "skip.h"

#define CHUNK ((size_t)64 * 1024)

static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/sp_source_XXXXXX", base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
    cr_assert_eq(chmod(tmpdir, 0755), 0); /* the unreadable-file test reads it as nobody */
}

static void remove_tmpdir(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

static void tmp_path(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", tmpdir, name); }

static uint8_t *make_file(const char *path, size_t len, uint64_t seed)
{
    uint8_t *data = malloc(len ? len : 1);
    cr_assert_not_null(data);
    sp_test_fill(data, len, SP_DATA_RANDOM, seed);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    return data;
}

static void append_bytes(const char *path, size_t len)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    cr_assert_geq(fd, 0);
    uint8_t buf[64];
    memset(buf, 'A', sizeof(buf));
    while (len) {
        size_t n = len < sizeof(buf) ? len : sizeof(buf);
        cr_assert_eq(write(fd, buf, n), (ssize_t)n);
        len -= n;
    }
    close(fd);
}

/* Reads the whole source the way the pipeline does: depth buffers in
 * flight, each resubmitted when its chunk has been taken, and no submission
 * after a short chunk or 0 (so a check the source leaves to a later read
 * would be missed). Checks that every chunk but the last is full and that
 * submissions after the end give 0. */
static sp_status drain(sp_source *s, unsigned depth, uint8_t **out, size_t *out_len, sp_error *err)
{
    uint8_t **bufs = calloc(depth, sizeof(*bufs));
    size_t cap = 1 << 16, len = 0;
    uint8_t *acc = malloc(cap);
    sp_status st = SP_OK;
    unsigned outstanding = 0;
    int eof = 0, short_seen = 0;
    for (unsigned i = 0; i < depth && st == SP_OK; i++) {
        bufs[i] = malloc(CHUNK);
        st = sp_source_submit(s, bufs[i], err);
        if (st == SP_OK) outstanding++;
    }
    while (st == SP_OK && outstanding > 0) {
        uint8_t *b;
        size_t got;
        st = sp_source_wait(s, &b, &got, err);
        if (st != SP_OK) break;
        outstanding--;
        cr_assert_leq(got, CHUNK);
        if (got == 0) {
            eof = 1;
            continue;
        }
        cr_assert(!eof, "data after end of input");
        cr_assert(!short_seen, "a short chunk before the last one");
        if (got < CHUNK) short_seen = eof = 1;
        while (len + got > cap) acc = realloc(acc, cap *= 2);
        memcpy(acc + len, b, got);
        len += got;
        if (!eof) {
            st = sp_source_submit(s, b, err);
            if (st == SP_OK) outstanding++;
        }
    }
    if (st == SP_OK) {
        /* After the end every wait keeps answering 0. */
        uint8_t *b;
        size_t got = 1;
        cr_assert_eq(sp_source_submit(s, bufs[0], err), SP_OK);
        cr_assert_eq(sp_source_wait(s, &b, &got, err), SP_OK);
        cr_assert_eq(got, 0);
    }
    for (unsigned i = 0; i < depth; i++) free(bufs[i]);
    free(bufs);
    *out = acc;
    *out_len = len;
    return st;
}

/* Opens path in mode, reads it all, compares with expect. Returns 0 when
 * io_uring was asked for and is not available here (the test then skips). */
static int read_and_compare(const char *path, sp_io_mode mode, unsigned depth, const uint8_t *expect, size_t len,
                            const char *want_kind)
{
    sp_source *s = NULL;
    sp_error err = {0};
    sp_status st = sp_source_open(path, mode, CHUNK, depth, &s, &err);
    if (st == SP_ERR_USAGE && mode == SP_IO_URING && strstr(err.msg, "io_uring is unavailable")) return 0;
    cr_assert_eq(st, SP_OK, "open %s: %s", path, err.msg);
    cr_assert_str_eq(sp_source_kind(s), want_kind);
    if (strcmp(want_kind, "stream") != 0) cr_assert_eq(sp_source_size(s), (uint64_t)len);
    else cr_assert_eq(sp_source_size(s), UINT64_MAX);
    uint8_t *got;
    size_t got_len;
    st = drain(s, depth, &got, &got_len, &err);
    cr_assert_eq(st, SP_OK, "read %s: %s", path, err.msg);
    cr_assert_eq(got_len, len, "read %zu bytes, expected %zu", got_len, len);
    cr_assert(len == 0 || memcmp(got, expect, len) == 0, "contents differ");
    free(got);
    sp_source_close(s);
    return 1;
}

static const size_t sizes[] = {0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 123, 4 * CHUNK};

static void sizes_in_mode(sp_io_mode mode, const char *want_kind)
{
    for (size_t i = 0; i < SP_ARRAY_LEN(sizes); i++) {
        char path[512];
        tmp_path(path, sizeof(path), "f.bin");
        uint8_t *data = make_file(path, sizes[i], i + 1);
        static const unsigned depths[] = {1, 4};
        for (size_t d = 0; d < SP_ARRAY_LEN(depths); d++) {
            if (!read_and_compare(path, mode, depths[d], data, sizes[i], want_kind)) {
                free(data);
                cr_skip_test("io_uring is not available here");
            }
        }
        free(data);
    }
}

TestSuite(source, .init = make_tmpdir, .fini = remove_tmpdir);

Test(source, uring_sizes) { sizes_in_mode(SP_IO_URING, "uring"); }

Test(source, pread_sizes) { sizes_in_mode(SP_IO_PREAD, "pread"); }

Test(source, auto_falls_back_to_pread_when_uring_setup_fails)
{
    setenv("SEALPUB_TEST_URING_FAIL", "1", 1);
    unsetenv("SEALPUB_DEBUG");
    sizes_in_mode(SP_IO_AUTO, "pread");
}

Test(source, forced_uring_fails_clearly_when_unavailable)
{
    setenv("SEALPUB_TEST_URING_FAIL", "1", 1);
    char path[512];
    tmp_path(path, sizeof(path), "f.bin");
    free(make_file(path, 10, 1));
    sp_source *s = NULL;
    sp_error err = {0};
    cr_assert_eq(sp_source_open(path, SP_IO_URING, CHUNK, 4, &s, &err), SP_ERR_USAGE);
    cr_assert_null(s);
    cr_assert(strstr(err.msg, path) && strstr(err.msg, "io_uring is unavailable") &&
                  strstr(err.msg, "Operation not permitted"),
              "message: %s", err.msg);
}

/* Opens path with stderr going to a file and returns what was written there. */
static char *capture_stderr(const char *path, sp_io_mode mode)
{
    char cap_path[512];
    tmp_path(cap_path, sizeof(cap_path), "stderr.txt");
    fflush(stderr);
    int saved = dup(2);
    int fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    dup2(fd, 2);
    close(fd);
    sp_source *s = NULL;
    sp_error err = {0};
    sp_status st = sp_source_open(path, mode, CHUNK, 2, &s, &err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    cr_assert_eq(st, SP_OK, "%s", err.msg);
    cr_assert_str_eq(sp_source_kind(s), "pread");
    sp_source_close(s);
    static char text[1024];
    FILE *f = fopen(cap_path, "r");
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = 0;
    return text;
}

Test(source, fallback_is_silent_unless_debug)
{
    char path[512];
    tmp_path(path, sizeof(path), "f.bin");
    free(make_file(path, 10, 1));
    setenv("SEALPUB_TEST_URING_FAIL", "1", 1);
    unsetenv("SEALPUB_DEBUG");
    cr_assert_str_eq(capture_stderr(path, SP_IO_AUTO), "");
    setenv("SEALPUB_DEBUG", "1", 1);
    const char *text = capture_stderr(path, SP_IO_AUTO);
    cr_assert(strstr(text, "io_uring is unavailable") && strstr(text, "pread"), "stderr: %s", text);
}

Test(source, auto_uses_uring_when_available)
{
    unsetenv("SEALPUB_TEST_URING_FAIL");
    char path[512];
    tmp_path(path, sizeof(path), "f.bin");
    uint8_t *data = make_file(path, 3 * CHUNK + 5, 7);
    sp_source *s = NULL;
    sp_error err = {0};
    cr_assert_eq(sp_source_open(path, SP_IO_URING, CHUNK, 1, &s, &err) == SP_OK ||
                     strstr(err.msg, "io_uring is unavailable") != NULL,
                 1, "%s", err.msg);
    const char *want = s ? "uring" : "pread"; /* AUTO must match what URING found */
    sp_source_close(s);
    cr_assert(read_and_compare(path, SP_IO_AUTO, 4, data, 3 * CHUNK + 5, want));
    free(data);
}

/* Standard input redirected from a regular file, already read in part: the
 * source starts at the current offset and knows the size. */
Test(source, stdin_regular_file_from_its_offset)
{
    char path[512];
    tmp_path(path, sizeof(path), "f.bin");
    size_t len = 2 * CHUNK + 99;
    uint8_t *data = make_file(path, len, 3);
    int fd = open(path, O_RDONLY);
    cr_assert_eq(lseek(fd, 100, SEEK_SET), 100);
    cr_assert_eq(dup2(fd, 0), 0);
    close(fd);
    cr_assert(read_and_compare("-", SP_IO_PREAD, 2, data + 100, len - 100, "pread"));
    free(data);
}

/* A writer that hands the pipe odd-sized pieces, with pauses, so that reads
 * come back short and the source must keep reading to fill a chunk. */
static void slow_writer(int fd, const uint8_t *data, size_t len)
{
    static const size_t pieces[] = {1, 7, 4093, 65537, 3, 12289, 100000, 511};
    size_t off = 0;
    for (unsigned i = 0; off < len; i++) {
        size_t n = pieces[i % SP_ARRAY_LEN(pieces)];
        if (n > len - off) n = len - off;
        ssize_t w = write(fd, data + off, n);
        if (w <= 0) _exit(2);
        off += (size_t)w;
        if (i % 3 == 0) usleep(2000);
    }
    close(fd);
    _exit(0);
}

Test(source, stdin_pipe_written_slowly)
{
    size_t len = 3 * CHUNK + 777;
    uint8_t *data = malloc(len);
    sp_test_fill(data, len, SP_DATA_RANDOM, 11);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(p[0]);
        slow_writer(p[1], data, len);
    }
    close(p[1]);
    cr_assert_eq(dup2(p[0], 0), 0);
    close(p[0]);
    cr_assert(read_and_compare("-", SP_IO_URING, 4, data, len, "stream"));
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(data);
}

Test(source, empty_pipe)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    close(p[1]);
    cr_assert_eq(dup2(p[0], 0), 0);
    close(p[0]);
    cr_assert(read_and_compare("-", SP_IO_AUTO, 2, NULL, 0, "stream"));
}

Test(source, fifo_path)
{
    char path[512];
    tmp_path(path, sizeof(path), "fifo");
    cr_assert_eq(mkfifo(path, 0600), 0);
    size_t len = 2 * CHUNK + 1;
    uint8_t *data = malloc(len);
    sp_test_fill(data, len, SP_DATA_RANDOM, 5);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open(path, O_WRONLY);
        if (fd < 0) _exit(3);
        slow_writer(fd, data, len);
    }
    cr_assert(read_and_compare(path, SP_IO_AUTO, 4, data, len, "stream"));
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(data);
}

Test(source, char_device_is_a_stream)
{
    cr_assert(read_and_compare("/dev/null", SP_IO_AUTO, 1, NULL, 0, "stream"));
}

/* ---- size changes ---- */

/* Opens a file of n chunks, takes the first chunk, lets change() alter the
 * file, then reads on: the read must fail with the size-change message. */
static void expect_size_change(sp_io_mode mode, unsigned depth, size_t size, void (*change)(const char *path))
{
    char path[512];
    tmp_path(path, sizeof(path), "changing.bin");
    free(make_file(path, size, 9));
    sp_source *s = NULL;
    sp_error err = {0};
    sp_status st = sp_source_open(path, mode, CHUNK, depth, &s, &err);
    if (st == SP_ERR_USAGE && mode == SP_IO_URING) cr_skip_test("io_uring is not available here");
    cr_assert_eq(st, SP_OK, "%s", err.msg);
    uint8_t *first = malloc(CHUNK), *b;
    size_t got;
    cr_assert_eq(sp_source_submit(s, first, &err), SP_OK);
    cr_assert_eq(sp_source_wait(s, &b, &got, &err), SP_OK);
    cr_assert_eq(got, CHUNK);
    change(path);
    uint8_t *rest;
    size_t rest_len;
    st = drain(s, depth, &rest, &rest_len, &err);
    cr_assert_eq(st, SP_ERR_INPUT, "status %d (%s)", st, err.msg);
    char want[600];
    snprintf(want, sizeof(want), "%s: file changed size while being read", path);
    cr_assert_str_eq(err.msg, want);
    /* The failure sticks. */
    sp_error again = {0};
    cr_assert_eq(sp_source_wait(s, &b, &got, &again), SP_ERR_INPUT);
    cr_assert_str_eq(again.msg, want);
    free(rest);
    free(first);
    sp_source_close(s);
}

static void grow_by_one(const char *path) { append_bytes(path, 1); }
static void grow_by_chunk(const char *path) { append_bytes(path, CHUNK); }
static void shrink_half(const char *path) { cr_assert_eq(truncate(path, 2 * CHUNK + CHUNK / 2), 0); }
static void shrink_to_chunk_boundary(const char *path) { cr_assert_eq(truncate(path, 2 * CHUNK), 0); }

Test(source, grown_file_detected)
{
    static const sp_io_mode modes[] = {SP_IO_PREAD, SP_IO_URING};
    static const size_t sizes_[] = {4 * CHUNK, 3 * CHUNK + 1, 4 * CHUNK - 1, CHUNK + CHUNK / 2};
    for (size_t m = 0; m < SP_ARRAY_LEN(modes); m++) {
        for (size_t i = 0; i < SP_ARRAY_LEN(sizes_); i++) {
            expect_size_change(modes[m], 1, sizes_[i], grow_by_one);
            expect_size_change(modes[m], 4, sizes_[i], grow_by_one);
            expect_size_change(modes[m], 4, sizes_[i], grow_by_chunk);
        }
    }
}

Test(source, truncated_file_detected)
{
    static const sp_io_mode modes[] = {SP_IO_PREAD, SP_IO_URING};
    for (size_t m = 0; m < SP_ARRAY_LEN(modes); m++) {
        expect_size_change(modes[m], 1, 4 * CHUNK, shrink_half);
        expect_size_change(modes[m], 4, 4 * CHUNK, shrink_half);
        expect_size_change(modes[m], 3, 4 * CHUNK, shrink_to_chunk_boundary);
        expect_size_change(modes[m], 1, 3 * CHUNK - 7, shrink_to_chunk_boundary);
        expect_size_change(modes[m], 2, 3 * CHUNK - 7, shrink_half);
    }
}

/* ---- open errors and misuse ---- */

static void expect_open_error(const char *path, sp_status want_status, const char *want_msg)
{
    sp_source *s = (sp_source *)(uintptr_t)1;
    sp_error err = {0};
    cr_assert_eq(sp_source_open(path, SP_IO_AUTO, CHUNK, 2, &s, &err), want_status, "%s", err.msg);
    cr_assert_null(s);
    cr_assert_str_eq(err.msg, want_msg);
}

Test(source, missing_file)
{
    char path[512], want[600];
    tmp_path(path, sizeof(path), "nope.bin");
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    expect_open_error(path, SP_ERR_INPUT, want);
}

Test(source, directory)
{
    char want[600];
    snprintf(want, sizeof(want), "%s: is a directory", tmpdir);
    expect_open_error(tmpdir, SP_ERR_INPUT, want);
}

Test(source, socket_path)
{
    char path[512], want[600];
    tmp_path(path, sizeof(path), "sock");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
    snprintf(want, sizeof(want), "%s: is a socket, not a file or pipe", path);
    expect_open_error(path, SP_ERR_INPUT, want);
    close(fd);
}

/* chmod 000 does not stop root (CAP_DAC_OVERRIDE), and the tests often run as
 * root: a child process drops to nobody before opening. */
Test(source, unreadable_file)
{
    char path[512], want[600];
    tmp_path(path, sizeof(path), "secret.bin");
    free(make_file(path, 10, 1));
    cr_assert_eq(chmod(path, 0), 0);
    snprintf(want, sizeof(want), "%s: Permission denied", path);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(10);
        sp_source *s = NULL;
        sp_error err = {0};
        if (sp_source_open(path, SP_IO_AUTO, CHUNK, 2, &s, &err) != SP_ERR_INPUT) _exit(11);
        if (s || strcmp(err.msg, want) != 0) {
            fprintf(stderr, "message: %s\n", err.msg);
            _exit(12);
        }
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child died");
    cr_assert_neq(WEXITSTATUS(status), 10, "cannot drop privileges to nobody");
    cr_assert_eq(WEXITSTATUS(status), 0, "child failed with %d", WEXITSTATUS(status));
}

Test(source, bad_arguments)
{
    sp_source *s = NULL;
    sp_error err = {0};
    cr_assert_eq(sp_source_open("", SP_IO_AUTO, CHUNK, 1, &s, &err), SP_ERR_USAGE);
    cr_assert_eq(sp_source_open("/dev/null", SP_IO_AUTO, 0, 1, &s, &err), SP_ERR_USAGE);
    cr_assert_eq(sp_source_open("/dev/null", SP_IO_AUTO, CHUNK, 0, &s, &err), SP_ERR_USAGE);
    cr_assert_null(s);
}

Test(source, more_submissions_than_depth)
{
    char path[512];
    tmp_path(path, sizeof(path), "f.bin");
    free(make_file(path, 5 * CHUNK, 1));
    sp_source *s = NULL;
    sp_error err = {0};
    cr_assert_eq(sp_source_open(path, SP_IO_AUTO, CHUNK, 2, &s, &err), SP_OK, "%s", err.msg);
    uint8_t *a = malloc(CHUNK), *b = malloc(CHUNK), *c = malloc(CHUNK), *out;
    size_t got;
    cr_assert_eq(sp_source_submit(s, a, &err), SP_OK);
    cr_assert_eq(sp_source_submit(s, b, &err), SP_OK);
    cr_assert_eq(sp_source_submit(s, c, &err), SP_ERR_INTERNAL);
    cr_assert_eq(sp_source_wait(s, &out, &got, &err), SP_OK);
    cr_assert_eq(out, a);
    cr_assert_eq(sp_source_wait(s, &out, &got, &err), SP_OK);
    cr_assert_eq(out, b);
    cr_assert_eq(sp_source_wait(s, &out, &got, &err), SP_ERR_INTERNAL);
    sp_source_close(s);
    free(a);
    free(b);
    free(c);
}

Test(source, closing_with_reads_in_flight)
{
    char path[512];
    tmp_path(path, sizeof(path), "f.bin");
    free(make_file(path, 8 * CHUNK, 1));
    sp_source *s = NULL;
    sp_error err = {0};
    cr_assert_eq(sp_source_open(path, SP_IO_AUTO, CHUNK, 4, &s, &err), SP_OK, "%s", err.msg);
    uint8_t *bufs[4];
    for (int i = 0; i < 4; i++) {
        bufs[i] = malloc(CHUNK);
        cr_assert_eq(sp_source_submit(s, bufs[i], &err), SP_OK);
    }
    sp_source_close(s); /* must reap the reads before the buffers go */
    for (int i = 0; i < 4; i++) free(bufs[i]);
    sp_source_close(NULL);
}

Test(source, name_is_tar)
{
    static const struct {
        const char *name;
        int tar;
    } cases[] = {{"image.tar", 1}, {"IMAGE.TAR", 1}, {"x.Tar", 1}, {"image.tar.gz", 0}, {"tar", 0}, {"a.tarx", 0}};
    for (size_t i = 0; i < SP_ARRAY_LEN(cases); i++) {
        char path[512];
        tmp_path(path, sizeof(path), cases[i].name);
        free(make_file(path, 1, 1));
        sp_source *s = NULL;
        sp_error err = {0};
        cr_assert_eq(sp_source_open(path, SP_IO_PREAD, CHUNK, 1, &s, &err), SP_OK, "%s", err.msg);
        cr_assert_eq(sp_source_name_is_tar(s), cases[i].tar, "%s", cases[i].name);
        sp_source_close(s);
    }
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(dup2(p[0], 0), 0);
    sp_source *s = NULL;
    sp_error err = {0};
    cr_assert_eq(sp_source_open("-", SP_IO_AUTO, CHUNK, 1, &s, &err), SP_OK);
    cr_assert_eq(sp_source_name_is_tar(s), 0);
    sp_source_close(s);
}
