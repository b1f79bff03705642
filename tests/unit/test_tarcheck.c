/* test_tarcheck.c: the tar completeness check, against archives made by /bin/tar at test time. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source/tarcheck.h"

static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/sp_tar_XXXXXX", base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static void remove_tmpdir(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

TestSuite(tarcheck, .init = make_tmpdir, .fini = remove_tmpdir);

static void set_checksum(uint8_t *h, int as_signed);

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Content bytes are never zero, so the last member's data ends on a
 * non-zero byte and the end marker's position can be found from the end. */
static void write_file(const char *rel, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/src/%s", tmpdir, rel);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    for (size_t i = 0; i < len; i++) fputc((int)(rng() % 255) + 1, f);
    cr_assert_eq(fclose(f), 0);
}

#define LONG_DIR "a_directory_with_a_name_long_enough_that_with_its_file_the_path_passes"
#define LONG_FILE "one_hundred_bytes_which_the_old_name_field_cannot_hold.bin"
#define LONG_NAME LONG_DIR "/" LONG_FILE

typedef struct archive {
    uint8_t *data;
    size_t len;
    size_t end; /* just past the end-of-archive marker's two zero blocks */
} archive;

static archive read_archive(const char *path)
{
    archive a = {0};
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    a.len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    a.data = malloc(a.len + 1);
    cr_assert_eq(fread(a.data, 1, a.len, f), a.len);
    fclose(f);
    size_t last = a.len;
    while (last > 0 && a.data[last - 1] == 0) last--;
    cr_assert_gt(last, 0);
    a.end = (last + 511) / 512 * 512 + 1024;
    cr_assert_leq(a.end, a.len);
    return a;
}

/* A tree with empty, tiny, block-sized and > 1 MiB files, a directory, a
 * symlink and a path over 100 bytes; "last.bin" goes last. */
static archive make_tar(const char *format, const char *extra_flags)
{
    char cmd[2048], out[512];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/src/sub' '%s/src/%s'", tmpdir, tmpdir, LONG_DIR);
    cr_assert_eq(system(cmd), 0);
    cr_assert_gt(strlen(LONG_NAME), 100);
    write_file("empty.bin", 0);
    write_file("one.bin", 1);
    write_file("block.bin", 512);
    write_file("odd.bin", 1000);
    write_file("big.bin", (1 << 20) + 54321);
    write_file("sub/inner.txt", 3000);
    write_file(LONG_NAME, 777);
    write_file("last.bin", 4097);
    snprintf(cmd, sizeof(cmd), "ln -sf odd.bin '%s/src/link'", tmpdir);
    cr_assert_eq(system(cmd), 0);
    snprintf(out, sizeof(out), "%s/%s.tar", tmpdir, format);
    snprintf(cmd, sizeof(cmd),
             "cd '%s/src' && tar --format=%s %s -cf '%s' empty.bin one.bin block.bin odd.bin big.bin sub link "
             "'%s' last.bin",
             tmpdir, format, extra_flags, out, LONG_NAME);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    archive a = read_archive(out);
    cr_assert_eq(a.len % 10240, 0, "tar pads to its record size");
    return a;
}

/* Feeds data in pieces of the given sizes (cycled); returns the status of
 * the first failure or of finish. */
static sp_status feed(const uint8_t *data, size_t len, const size_t *pieces, size_t npieces, sp_error *err)
{
    sp_tarcheck *t = sp_tarcheck_new();
    cr_assert_not_null(t);
    size_t off = 0;
    sp_status st = SP_OK;
    for (size_t i = 0; off < len && st == SP_OK; i++) {
        size_t n = npieces ? pieces[i % npieces] : len;
        if (n > len - off) n = len - off;
        st = sp_tarcheck_update(t, data + off, n, err);
        off += n;
    }
    if (st == SP_OK) st = sp_tarcheck_finish(t, err);
    sp_tarcheck_free(t);
    return st;
}

static sp_status feed_whole(const uint8_t *data, size_t len, sp_error *err) { return feed(data, len, NULL, 0, err); }

static void check_splits(const archive *a)
{
    static const size_t splits[] = {1, 511, 512, 513, 4096, 65536, 7, 10240};
    sp_error err = {0};
    cr_assert_eq(feed_whole(a->data, a->len, &err), SP_OK, "%s", err.msg);
    for (size_t i = 0; i < SP_ARRAY_LEN(splits); i++)
        cr_assert_eq(feed(a->data, a->len, &splits[i], 1, &err), SP_OK, "split %zu: %s", splits[i], err.msg);
    for (int r = 0; r < 20; r++) {
        size_t pieces[64];
        for (size_t i = 0; i < SP_ARRAY_LEN(pieces); i++) pieces[i] = 1 + rng() % (r < 10 ? 1500 : 70000);
        cr_assert_eq(feed(a->data, a->len, pieces, SP_ARRAY_LEN(pieces), &err), SP_OK, "random split: %s", err.msg);
    }
    /* Cutting into the record padding after the end marker loses nothing. */
    cr_assert_eq(feed_whole(a->data, a->end, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(feed_whole(a->data, a->end + 1, &err), SP_OK, "%s", err.msg);
}

static void expect_truncated_at(const archive *a, size_t cut)
{
    sp_error err = {0};
    static const size_t split = 1000;
    sp_status st = (cut % 3) ? feed_whole(a->data, cut, &err) : feed(a->data, cut, &split, 1, &err);
    cr_assert_eq(st, SP_ERR_INPUT, "cut at %zu of %zu passed", cut, a->end);
    cr_assert(strncmp(err.msg, "input is a truncated tar archive: ", 34) == 0, "cut at %zu: %s", cut, err.msg);
    char at[64];
    snprintf(at, sizeof(at), "byte %zu", cut);
    cr_assert(strstr(err.msg, at) != NULL, "cut at %zu: %s", cut, err.msg);
}

static void check_cuts(const archive *a)
{
    /* Every block boundary and its neighbours, every byte of the end
     * marker and the block before it, and random offsets. */
    for (size_t b = 0; b < a->end; b += 512) {
        expect_truncated_at(a, b);
        if (b + 1 < a->end) expect_truncated_at(a, b + 1);
        if (b >= 1) expect_truncated_at(a, b - 1);
        if (b + 256 < a->end) expect_truncated_at(a, b + 256);
    }
    for (size_t c = a->end > 1536 ? a->end - 1536 : 0; c < a->end; c++) expect_truncated_at(a, c);
    for (int i = 0; i < 2000; i++) expect_truncated_at(a, (size_t)(rng() % a->end));
}

/* Offset of the header whose name field is exactly name, or SIZE_MAX. */
static size_t find_header(const archive *a, const char *name)
{
    for (size_t off = 0; off + 512 <= a->len; off += 512)
        if (strncmp((const char *)a->data + off, name, 100) == 0 && strlen(name) < 100) return off;
    return SIZE_MAX;
}

static void check_cut_message(const archive *a, const char *header_name, const char *shown, size_t size,
                              size_t into)
{
    size_t h = find_header(a, header_name);
    cr_assert_neq(h, SIZE_MAX, "no header for %s", header_name);
    size_t cut = h + 512 + into;
    size_t pad = (512 - size % 512) % 512;
    char want[1024];
    snprintf(want, sizeof(want),
             "input is a truncated tar archive: ended at byte %zu inside member '%s' (expected %zu more bytes)", cut,
             shown, size - into + pad);
    sp_error err = {0};
    cr_assert_eq(feed_whole(a->data, cut, &err), SP_ERR_INPUT);
    cr_assert_str_eq(err.msg, want);
}

static void check_corruption(archive *a)
{
    sp_error err = {0};
    char want[256];
    /* A flipped byte in a header: the first one, and one deep inside. */
    size_t big = find_header(a, "big.bin");
    static const size_t spots[] = {0, 100, 148, 156, 300, 511};
    for (size_t i = 0; i < SP_ARRAY_LEN(spots); i++) {
        size_t hdrs[2] = {0, big};
        for (int k = 0; k < 2; k++) {
            size_t at = hdrs[k] + spots[i];
            a->data[at] ^= 0x04;
            snprintf(want, sizeof(want), "input is not a valid tar archive: bad header checksum at byte %zu", hdrs[k]);
            cr_assert_eq(feed_whole(a->data, a->len, &err), SP_ERR_INPUT, "flip at %zu", at);
            cr_assert_str_eq(err.msg, want);
            static const size_t one = 1;
            cr_assert_eq(feed(a->data, a->len, &one, 1, &err), SP_ERR_INPUT, "flip at %zu", at);
            cr_assert_str_eq(err.msg, want);
            a->data[at] ^= 0x04;
        }
    }
    /* Anything but zeros after the end marker: inside tar's own padding... */
    a->data[a->len - 1] = 'x';
    snprintf(want, sizeof(want), "input is not a valid tar archive: data after the end-of-archive marker at byte %zu",
             a->len - 1);
    cr_assert_eq(feed_whole(a->data, a->len, &err), SP_ERR_INPUT);
    cr_assert_str_eq(err.msg, want);
    a->data[a->len - 1] = 0;
    /* ...or appended to the archive. */
    uint8_t *longer = malloc(a->len + 7);
    memcpy(longer, a->data, a->len);
    memcpy(longer + a->len, "garbage", 7);
    cr_assert_eq(feed_whole(longer, a->len + 7, &err), SP_ERR_INPUT);
    cr_assert(strstr(err.msg, "data after the end-of-archive marker"), "%s", err.msg);
    free(longer);
    /* A wrong size with a checksum to match: the framing goes astray and
     * the "header" found inside big.bin's data is caught. */
    uint8_t saved[512];
    memcpy(saved, a->data + big, 512);
    snprintf((char *)a->data + big + 124, 12, "%011o", 1000u);
    set_checksum(a->data + big, 0);
    cr_assert_eq(feed_whole(a->data, a->len, &err), SP_ERR_INPUT);
    snprintf(want, sizeof(want), "input is not a valid tar archive: bad header checksum at byte %zu", big + 512 + 1024);
    cr_assert_str_eq(err.msg, want);
    a->data[big + 124] = '9'; /* not octal */
    set_checksum(a->data + big, 0);
    cr_assert_eq(feed_whole(a->data, a->len, &err), SP_ERR_INPUT);
    snprintf(want, sizeof(want), "input is not a valid tar archive: bad size field in the header at byte %zu", big);
    cr_assert_str_eq(err.msg, want);
    memcpy(a->data + big, saved, 512);
    cr_assert_eq(feed_whole(a->data, a->len, &err), SP_OK, "%s", err.msg);
}

Test(tarcheck, gnu_format)
{
    archive a = make_tar("gnu", "");
    cr_assert(memmem(a.data, a.len, "././@LongLink", 13), "no GNU long name member");
    cr_assert(sp_tarcheck_sniff(a.data, a.len));
    check_splits(&a);
    check_cuts(&a);
    check_cut_message(&a, "big.bin", "big.bin", (1 << 20) + 54321, 1000);
    check_cut_message(&a, "odd.bin", "odd.bin", 1000, 1000); /* cut inside the padding */
    check_cut_message(&a, "././@LongLink", "././@LongLink", strlen(LONG_NAME) + 1, 10);
    /* The long-named member is reported by its full name. */
    size_t ll = find_header(&a, "././@LongLink");
    size_t h = ll + 512 + 512; /* the name fits one block */
    sp_error err = {0};
    cr_assert_eq(feed_whole(a.data, h + 512 + 5, &err), SP_ERR_INPUT);
    cr_assert(strstr(err.msg, "inside member '" LONG_NAME "' (expected 1019 more bytes)"), "%s", err.msg);
    check_corruption(&a);
    free(a.data);
}

Test(tarcheck, pax_format)
{
    archive a = make_tar("pax", "");
    cr_assert(memmem(a.data, a.len, "path=" LONG_NAME, strlen(LONG_NAME) + 5), "no pax path record");
    cr_assert(sp_tarcheck_sniff(a.data, a.len));
    check_splits(&a);
    check_cuts(&a);
    check_cut_message(&a, "big.bin", "big.bin", (1 << 20) + 54321, 1000);
    check_corruption(&a);
    /* The member after the pax header with its path is reported by that path. */
    const uint8_t *rec = memmem(a.data, a.len, "path=" LONG_NAME, strlen(LONG_NAME) + 5);
    size_t x = (size_t)(rec - a.data) / 512 * 512 - 512; /* the 'x' header */
    cr_assert_eq(a.data[x + 156], 'x');
    size_t h = x + 512 + 512;
    cr_assert_eq(a.data[h + 156], '0');
    sp_error err = {0};
    cr_assert_eq(feed_whole(a.data, h + 512 + 5, &err), SP_ERR_INPUT);
    cr_assert(strstr(err.msg, "inside member '" LONG_NAME "' (expected 1019 more bytes)"), "%s", err.msg);
    free(a.data);
}

Test(tarcheck, ustar_and_v7_formats)
{
    /* ustar splits the long path into prefix and name; v7 has no magic. */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/src'", tmpdir);
    cr_assert_eq(system(cmd), 0);
    write_file("a.bin", 5000);
    archive u = make_tar("ustar", "");
    check_splits(&u);
    check_cuts(&u);
    free(u.data);
    snprintf(cmd, sizeof(cmd), "cd '%s/src' && tar --format=v7 -cf ../v7.tar a.bin", tmpdir);
    cr_assert_eq(system(cmd), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/v7.tar", tmpdir);
    archive v = read_archive(path);
    cr_assert(sp_tarcheck_sniff(v.data, v.len), "a valid checksum is enough");
    check_splits(&v);
    check_cuts(&v);
    free(v.data);
}

/* A file of 12 data runs between holes: the old GNU sparse header holds 4
 * runs, so the map continues in extension blocks that size does not count. */
static void make_sparse_file(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/src/sparse.bin", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    uint8_t buf[4096];
    for (int i = 0; i < 12; i++) {
        for (size_t k = 0; k < sizeof(buf); k++) buf[k] = (uint8_t)(rng() % 255 + 1);
        cr_assert_eq(pwrite(fd, buf, sizeof(buf), (off_t)i * 65536), (ssize_t)sizeof(buf));
    }
    cr_assert_eq(ftruncate(fd, 12 * 65536 + 4096), 0);
    close(fd);
}

Test(tarcheck, sparse_members)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/src'", tmpdir);
    cr_assert_eq(system(cmd), 0);
    make_sparse_file();
    static const char *formats[] = {"gnu", "pax"};
    for (int f = 0; f < 2; f++) {
        /* last.bin goes last so the end marker can be found. */
        write_file("last.bin", 100);
        snprintf(cmd, sizeof(cmd), "cd '%s/src' && tar --format=%s -S -cf ../sparse.tar sparse.bin last.bin", tmpdir,
                 formats[f]);
        cr_assert_eq(system(cmd), 0);
        char path[512];
        snprintf(path, sizeof(path), "%s/sparse.tar", tmpdir);
        archive a = read_archive(path);
        if (f == 0) cr_assert(a.data[156] == 'S' && a.data[482] == 1, "expected an extended GNU sparse header");
        check_splits(&a);
        check_cuts(&a);
        free(a.data);
    }
}

/* ---- hand-made headers for what /bin/tar will not write here ---- */

static void set_checksum(uint8_t *h, int as_signed)
{
    memset(h + 148, ' ', 8);
    long sum = 0;
    for (int i = 0; i < 512; i++) sum += as_signed ? (long)(int8_t)h[i] : (long)h[i];
    snprintf((char *)h + 148, 8, "%06lo", sum & 0777777);
    h[155] = ' ';
}

static void make_header(uint8_t *h, const char *name, char type, uint64_t size)
{
    memset(h, 0, 512);
    snprintf((char *)h, 100, "%s", name);
    memcpy(h + 100, "0000644", 8);
    memcpy(h + 108, "0000000", 8);
    memcpy(h + 116, "0000000", 8);
    snprintf((char *)h + 124, 12, "%011" PRIo64, size);
    memcpy(h + 136, "00000000000", 12);
    h[156] = (uint8_t)type;
    memcpy(h + 257, "ustar\0" "00", 8);
    set_checksum(h, 0);
}

Test(tarcheck, signed_checksum_accepted)
{
    uint8_t a[512 * 4] = {0};
    make_header(a, "caf\xc3\xa9-\xff\xfe.txt", '0', 0);
    uint8_t *h = a;
    sp_error err = {0};
    cr_assert_eq(feed_whole(a, sizeof(a), &err), SP_OK, "%s", err.msg);
    set_checksum(h, 1);
    cr_assert(sp_tarcheck_sniff(a, sizeof(a)));
    cr_assert_eq(feed_whole(a, sizeof(a), &err), SP_OK, "%s", err.msg);
    h[148 + 5] ^= 1; /* neither sum matches now */
    cr_assert_eq(feed_whole(a, sizeof(a), &err), SP_ERR_INPUT);
    cr_assert_str_eq(err.msg, "input is not a valid tar archive: bad header checksum at byte 0");
}

/* Big members: a GNU base-256 size and a pax "size" record, both > 8 GiB,
 * fed without building the archive in memory. */
static sp_status feed_big_member(sp_tarcheck *t, uint64_t size, sp_error *err)
{
    static uint8_t zeros[1 << 20];
    uint64_t left = size + (512 - size % 512) % 512;
    while (left) {
        size_t n = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);
        zeros[0] = 0x5a; /* member data need not be zero */
        SP_TRY(sp_tarcheck_update(t, zeros, n, err));
        left -= n;
    }
    return SP_OK;
}

Test(tarcheck, base256_size)
{
    uint64_t size = ((uint64_t)9 << 30) + 3;
    uint8_t h[512], end[1024] = {0};
    make_header(h, "huge.bin", '0', 0);
    memset(h + 124, 0, 12);
    h[124] = 0x80;
    for (int i = 0; i < 8; i++) h[124 + 11 - i] = (uint8_t)(size >> (8 * i));
    set_checksum(h, 0);
    sp_error err = {0};
    sp_tarcheck *t = sp_tarcheck_new();
    cr_assert_eq(sp_tarcheck_update(t, h, 512, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(feed_big_member(t, size, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(sp_tarcheck_update(t, end, sizeof(end), &err), SP_OK, "%s", err.msg);
    cr_assert_eq(sp_tarcheck_finish(t, &err), SP_OK, "%s", err.msg);
    sp_tarcheck_free(t);

    /* The same header cut after 1 GiB of data. */
    t = sp_tarcheck_new();
    cr_assert_eq(sp_tarcheck_update(t, h, 512, &err), SP_OK);
    cr_assert_eq(feed_big_member(t, (uint64_t)1 << 30, &err), SP_OK);
    cr_assert_eq(sp_tarcheck_finish(t, &err), SP_ERR_INPUT);
    char want[256];
    snprintf(want, sizeof(want),
             "input is a truncated tar archive: ended at byte %" PRIu64 " inside member 'huge.bin' (expected %" PRIu64
             " more bytes)",
             512 + ((uint64_t)1 << 30), size - ((uint64_t)1 << 30) + 509);
    cr_assert_str_eq(err.msg, want);
    sp_tarcheck_free(t);

    /* A negative base-256 size is not a size. */
    h[124] = 0xff;
    set_checksum(h, 0);
    t = sp_tarcheck_new();
    cr_assert_eq(sp_tarcheck_update(t, h, 512, &err), SP_ERR_INPUT);
    cr_assert_str_eq(err.msg, "input is not a valid tar archive: bad size field in the header at byte 0");
    sp_tarcheck_free(t);
}

Test(tarcheck, pax_size_record_overrides_the_size_field)
{
    uint64_t size = ((uint64_t)8 << 30) + 1000;
    char rec[64];
    int n = snprintf(rec, sizeof(rec), "%d size=%" PRIu64 "\n", 0, size);
    /* The length counts its own digits: 2 digits + the rest. */
    n = snprintf(rec, sizeof(rec), "%d size=%" PRIu64 "\n", n + 1, size);
    uint8_t x[1024] = {0}, h[512], end[1024] = {0};
    make_header(x, "PaxHeaders/huge.bin", 'x', (uint64_t)n);
    memcpy(x + 512, rec, (size_t)n);
    make_header(h, "huge.bin", '0', 0); /* what GNU tar writes when the size does not fit */
    sp_error err = {0};
    sp_tarcheck *t = sp_tarcheck_new();
    cr_assert_eq(sp_tarcheck_update(t, x, sizeof(x), &err), SP_OK, "%s", err.msg);
    cr_assert_eq(sp_tarcheck_update(t, h, 512, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(feed_big_member(t, size, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(sp_tarcheck_update(t, end, sizeof(end), &err), SP_OK, "%s", err.msg);
    cr_assert_eq(sp_tarcheck_finish(t, &err), SP_OK, "%s", err.msg);
    sp_tarcheck_free(t);

    /* Without the data, it is a truncation, not an end marker. */
    t = sp_tarcheck_new();
    cr_assert_eq(sp_tarcheck_update(t, x, sizeof(x), &err), SP_OK);
    cr_assert_eq(sp_tarcheck_update(t, h, 512, &err), SP_OK);
    cr_assert_eq(sp_tarcheck_update(t, end, sizeof(end), &err), SP_OK);
    cr_assert_eq(sp_tarcheck_finish(t, &err), SP_ERR_INPUT);
    cr_assert(strstr(err.msg, "inside member 'huge.bin'"), "%s", err.msg);
    sp_tarcheck_free(t);
}

Test(tarcheck, special_members_have_no_data)
{
    /* A directory whose size field is not zero (old Solaris tar) has no data. */
    uint8_t a[512 * 3] = {0};
    make_header(a, "dir/", '5', 4096);
    sp_error err = {0};
    cr_assert_eq(feed_whole(a, sizeof(a), &err), SP_OK, "%s", err.msg);
}

Test(tarcheck, lone_zero_block_then_data)
{
    uint8_t a[512 * 5] = {0};
    make_header(a, "a.txt", '0', 0);
    make_header(a + 1024, "b.txt", '0', 0);
    sp_error err = {0};
    cr_assert_eq(feed_whole(a, sizeof(a), &err), SP_ERR_INPUT);
    cr_assert_str_eq(err.msg, "input is not a valid tar archive: a lone zero block at byte 512 is followed by data");
}

Test(tarcheck, empty_and_tiny_inputs)
{
    sp_error err = {0};
    sp_tarcheck *t = sp_tarcheck_new();
    cr_assert_eq(sp_tarcheck_finish(t, &err), SP_ERR_INPUT);
    cr_assert_str_eq(err.msg, "input is a truncated tar archive: no end-of-archive marker (input ended at byte 0)");
    sp_tarcheck_free(t);
    sp_tarcheck_free(NULL);

    uint8_t zeros[1024] = {0};
    cr_assert_eq(feed_whole(zeros, 1024, &err), SP_OK, "an empty archive is complete");
    cr_assert_eq(feed_whole(zeros, 512, &err), SP_ERR_INPUT);
    cr_assert_eq(feed_whole(zeros, 1023, &err), SP_ERR_INPUT);
}

Test(tarcheck, sniff)
{
    uint8_t junk[4096];
    for (size_t i = 0; i < sizeof(junk); i++) junk[i] = (uint8_t)rng();
    cr_assert_not(sp_tarcheck_sniff(junk, sizeof(junk)));
    uint8_t zeros[512] = {0};
    cr_assert_not(sp_tarcheck_sniff(zeros, sizeof(zeros)));
    uint8_t h[512];
    make_header(h, "x", '0', 0);
    cr_assert(sp_tarcheck_sniff(h, 512));
    cr_assert_not(sp_tarcheck_sniff(h, 511));
    memcpy(h + 257, "nope!", 5);
    cr_assert_not(sp_tarcheck_sniff(h, 512), "magic gone, checksum now wrong");
    set_checksum(h, 0);
    cr_assert(sp_tarcheck_sniff(h, 512), "checksum alone");
}

Test(tarcheck, errors_stick)
{
    uint8_t a[1024] = {0};
    memset(a, 'z', 512);
    sp_error err = {0};
    sp_tarcheck *t = sp_tarcheck_new();
    cr_assert_eq(sp_tarcheck_update(t, a, 512, &err), SP_ERR_INPUT);
    cr_assert_eq(sp_tarcheck_update(t, a + 512, 512, &err), SP_ERR_INPUT);
    cr_assert_eq(sp_tarcheck_finish(t, &err), SP_ERR_INPUT);
    cr_assert_str_eq(err.msg, "input is not a valid tar archive: bad header checksum at byte 0");
    sp_tarcheck_free(t);
}
