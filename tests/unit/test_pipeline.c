/* test_pipeline.c: publish -> open round trips through the public API, and every tampering that must fail. */
#include <criterion/criterion.h>
#include <sqlite3.h>

#include "format/container.h"
#include "helpers.h"

#define MiB (1u << 20)

static char home[256];

static void setup(void) { sp_test_tmpdir(home, sizeof(home)); }
static void teardown(void) { sp_test_rmtree(home); }

TestSuite(pipeline, .init = setup, .fini = teardown);

static sp_status publish_file(const char *path, const char *name, const char *version, size_t chunk, unsigned threads,
                              int level, sp_publish_result *r, sp_error *err)
{
    sp_publish_opts o;
    sp_publish_opts_init(&o);
    o.input = path;
    o.name = name;
    o.stage = "dev";
    o.arch = "arm64";
    o.version = version;
    o.chunk_size = chunk;
    o.threads = threads;
    o.level = level;
    return sp_publish(&o, r, err);
}

static void object_path(const char *name, const char *version, char *out, size_t cap)
{
    snprintf(out, cap, "%s/objects/dev/%s-arm64-%s.enc", home, name, version);
}

/* The key column of the row, written raw to a key file for --key-file opens. */
static void key_file_for(const char *name, const char *version, const char *key_path)
{
    char db[300], sql[300];
    snprintf(db, sizeof(db), "%s/registry.db", home);
    sqlite3 *h;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    snprintf(sql, sizeof(sql), "SELECT encryption_key FROM resources WHERE resource_name='%s' AND version='%s'", name,
             version);
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    sp_test_write_file(key_path, sqlite3_column_text(st, 0), strlen((const char *)sqlite3_column_text(st, 0)));
    sqlite3_finalize(st);
    sqlite3_close(h);
}

static sp_status open_to(const char *container, const char *key_file, const char *out, sp_error *err)
{
    sp_open_opts o;
    sp_open_opts_init(&o);
    o.input = container;
    o.output = out;
    o.key_file = key_file;
    sp_open_result r;
    return sp_open(&o, &r, err);
}

static void round_trip(size_t len, int kind, size_t chunk, unsigned threads, int level)
{
    char in[300], out[300], obj[300], version[64];
    snprintf(in, sizeof(in), "%s/in.bin", home);
    snprintf(out, sizeof(out), "%s/out.bin", home);
    snprintf(version, sizeof(version), "%zu-%d-%u-%d", len, kind, threads, level);
    uint8_t *data = malloc(len + 1);
    sp_test_fill(data, len, kind, len + (size_t)kind);
    sp_test_write_file(in, data, len);
    sp_publish_result r;
    sp_error err = {0};
    cr_assert_eq(publish_file(in, "rt", version, chunk, threads, level, &r, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(r.plain_size, len);
    cr_assert_eq(r.chunks, (len + chunk - 1) / chunk);
    object_path("rt", version, obj, sizeof(obj));
    size_t olen = 0;
    uint8_t *stored = sp_test_read_file(obj, &olen);
    cr_assert_not_null(stored);
    cr_assert_eq(olen, r.stored_size);
    /* The reported sha256 is of the stored bytes. */
    uint8_t digest[32];
    char hex[65];
    extern void sp_sha256_once(const void *, size_t, uint8_t *);
    sp_sha256_once(stored, olen, digest);
    sp_hex(digest, 32, hex);
    cr_assert_str_eq(hex, r.sha256);
    /* Open with the key from the registry (the default). */
    cr_assert_eq(open_to(obj, NULL, out, &err), SP_OK, "%s", err.msg);
    size_t blen = 0;
    uint8_t *back = sp_test_read_file(out, &blen);
    cr_assert_eq(blen, len);
    cr_assert_eq(memcmp(back, data, len), 0, "content differs at len %zu kind %d", len, kind);
    free(back);
    free(stored);
    free(data);
    unlink(out);
}

Test(pipeline, round_trip_sizes_and_kinds)
{
    size_t chunk = MiB;
    size_t sizes[] = {0, 1, chunk - 1, chunk, chunk + 1, 5 * chunk + 12345};
    for (int kind = 0; kind < 3; kind++)
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) round_trip(sizes[i], kind, chunk, 2, 6);
}

Test(pipeline, round_trip_thread_counts_and_levels)
{
    round_trip(9 * MiB + 7, SP_DATA_TEXT, MiB, 1, 1);
    round_trip(9 * MiB + 7, SP_DATA_TEXT, MiB, 7, 0);
    round_trip(9 * MiB + 7, SP_DATA_TEXT, MiB, 3, 12);
    round_trip(17 * MiB, SP_DATA_RANDOM, 4 * MiB, 4, 6);
}

/* A three-record container ("tamper/1") plus its key file, for the negative tests. */
typedef struct fixture {
    char in[300], obj[300], key[300], out[300];
    uint8_t *bytes;
    size_t len;
    size_t rec[8]; /* offsets of records 0..n (n = final) */
    size_t nrec;
} fixture;

static void make_fixture(fixture *f)
{
    snprintf(f->in, sizeof(f->in), "%s/in.bin", home);
    snprintf(f->key, sizeof(f->key), "%s/key.b64", home);
    snprintf(f->out, sizeof(f->out), "%s/out.bin", home);
    size_t len = 3 * MiB + 100;
    uint8_t *data = malloc(len);
    sp_test_fill(data, len, SP_DATA_TEXT, 3);
    sp_test_write_file(f->in, data, len);
    free(data);
    sp_publish_result r;
    sp_error err;
    cr_assert_eq(publish_file(f->in, "tamper", "1", MiB, 2, 6, &r, &err), SP_OK, "%s", err.msg);
    object_path("tamper", "1", f->obj, sizeof(f->obj));
    key_file_for("tamper", "1", f->key);
    f->bytes = sp_test_read_file(f->obj, &f->len);
    /* Walk the record prefixes. */
    size_t off = SP_HEADER_FIXED + sp_get_le16(f->bytes + 32);
    f->nrec = 0;
    for (;;) {
        f->rec[f->nrec++] = off;
        uint32_t w = sp_get_le32(f->bytes + off);
        off += SP_PREFIX_LEN + (w & ~SP_FINAL_FLAG);
        if (w & SP_FINAL_FLAG) break;
    }
    cr_assert_eq(f->nrec, 5); /* 4 data records + final */
    cr_assert_eq(off + SP_FOOTER_LEN, f->len);
}

/* Writes a variant to the object path and expects open to fail with want,
 * leaving no output file. */
static void expect_fails(fixture *f, const uint8_t *bytes, size_t len, sp_status want, const char *what)
{
    char path[320];
    snprintf(path, sizeof(path), "%s/variant.enc", home);
    sp_test_write_file(path, bytes, len);
    sp_error err = {0};
    sp_status s = open_to(path, f->key, f->out, &err);
    cr_expect_eq(s, want, "%s: got %s (%s)", what, sp_status_name(s), err.msg);
    cr_expect_not(sp_test_exists(f->out), "%s: output left behind", what);
    unlink(f->out);
}

Test(pipeline, opens_with_key_file)
{
    fixture f;
    make_fixture(&f);
    sp_error err;
    cr_assert_eq(open_to(f.obj, f.key, f.out, &err), SP_OK, "%s", err.msg);
    free(f.bytes);
}

Test(pipeline, every_header_byte_is_authenticated)
{
    fixture f;
    make_fixture(&f);
    uint8_t *v = malloc(f.len);
    size_t hlen = f.rec[0];
    for (size_t i = 0; i < hlen; i++) {
        memcpy(v, f.bytes, f.len);
        /* Keep characters valid so the change reaches authentication. */
        v[i] = (i >= SP_HEADER_FIXED && v[i] >= 'a' && v[i] < 'z') ? (uint8_t)(v[i] + 1) : (uint8_t)(v[i] ^ 0x01);
        char path[320];
        snprintf(path, sizeof(path), "%s/variant.enc", home);
        sp_test_write_file(path, v, f.len);
        sp_error err = {0};
        sp_status s = open_to(path, f.key, f.out, &err);
        cr_expect_neq(s, SP_OK, "header byte %zu changed but the container opened", i);
        cr_expect_not(sp_test_exists(f.out));
    }
    free(v);
    free(f.bytes);
}

Test(pipeline, body_tag_index_footer_flips_fail)
{
    fixture f;
    make_fixture(&f);
    uint8_t *v = malloc(f.len);
    size_t spots[] = {f.rec[1] + 10, f.rec[2] - 1 /* a tag byte */, f.rec[4] + 4 /* index */, f.rec[4] + 20,
                      f.len - 1 /* footer */};
    for (size_t i = 0; i < 5; i++) {
        memcpy(v, f.bytes, f.len);
        v[spots[i]] ^= 0x20;
        char what[64];
        snprintf(what, sizeof(what), "flip at %zu", spots[i]);
        sp_error err = {0};
        char path[320];
        snprintf(path, sizeof(path), "%s/variant.enc", home);
        sp_test_write_file(path, v, f.len);
        sp_status s = open_to(path, f.key, f.out, &err);
        cr_expect(s == SP_ERR_AUTH || s == SP_ERR_FORMAT || s == SP_ERR_TRUNCATED, "%s: %s", what, sp_status_name(s));
        cr_expect_not(sp_test_exists(f.out));
    }
    free(v);
    free(f.bytes);
}

Test(pipeline, truncation_anywhere_fails)
{
    fixture f;
    make_fixture(&f);
    /* At every record boundary, inside records, and inside the footer. */
    for (size_t i = 0; i < f.nrec; i++) {
        expect_fails(&f, f.bytes, f.rec[i], SP_ERR_TRUNCATED, "cut at a record boundary");
        expect_fails(&f, f.bytes, f.rec[i] + 2, SP_ERR_TRUNCATED, "cut inside a prefix");
        expect_fails(&f, f.bytes, f.rec[i] + 100, SP_ERR_TRUNCATED, "cut inside a record");
    }
    expect_fails(&f, f.bytes, f.len - SP_FOOTER_LEN, SP_ERR_TRUNCATED, "footer missing");
    expect_fails(&f, f.bytes, f.len - 1, SP_ERR_TRUNCATED, "footer cut");
    expect_fails(&f, f.bytes, 10, SP_ERR_TRUNCATED, "cut inside the header");
    uint8_t *longer = malloc(f.len + 1);
    memcpy(longer, f.bytes, f.len);
    longer[f.len] = 0;
    expect_fails(&f, longer, f.len + 1, SP_ERR_FORMAT, "trailing byte");
    free(longer);
    free(f.bytes);
}

/* Builds header + the given records (by index into the original) + the
 * original final record and footer. */
static size_t splice(const fixture *f, const int *order, int n, uint8_t *out)
{
    size_t len = f->rec[0];
    memcpy(out, f->bytes, len);
    for (int i = 0; i < n; i++) {
        size_t a = f->rec[order[i]], b = f->rec[order[i] + 1];
        memcpy(out + len, f->bytes + a, b - a);
        len += b - a;
    }
    memcpy(out + len, f->bytes + f->rec[4], f->len - f->rec[4]);
    return len + f->len - f->rec[4];
}

Test(pipeline, dropped_duplicated_reordered_chunks_fail)
{
    fixture f;
    make_fixture(&f);
    uint8_t *v = malloc(2 * f.len);
    int drop[] = {0, 1, 3}, dup[] = {0, 1, 1, 2, 3}, swap[] = {0, 2, 1, 3}, drop_last[] = {0, 1, 2};
    expect_fails(&f, v, splice(&f, drop, 3, v), SP_ERR_AUTH, "dropped chunk");
    expect_fails(&f, v, splice(&f, dup, 5, v), SP_ERR_AUTH, "duplicated chunk");
    expect_fails(&f, v, splice(&f, swap, 4, v), SP_ERR_AUTH, "swapped chunks");
    expect_fails(&f, v, splice(&f, drop_last, 3, v), SP_ERR_FORMAT, "dropped last chunk");
    free(v);
    free(f.bytes);
}

Test(pipeline, wrong_key_and_swapped_objects_fail)
{
    fixture f;
    make_fixture(&f);
    /* A second publish of the same bytes under another resource. */
    sp_publish_result r;
    sp_error err;
    cr_assert_eq(publish_file(f.in, "other", "1", MiB, 2, 6, &r, &err), SP_OK, "%s", err.msg);
    char other[300], other_key[300];
    object_path("other", "1", other, sizeof(other));
    snprintf(other_key, sizeof(other_key), "%s/other.b64", home);
    key_file_for("other", "1", other_key);
    size_t olen;
    uint8_t *ob = sp_test_read_file(other, &olen);
    /* Other's object opened with tamper's key (swapped object). */
    expect_fails(&f, ob, olen, SP_ERR_AUTH, "object of another resource");
    /* Tamper's records behind other's header. */
    uint8_t *v = malloc(f.len + 64);
    size_t oh = SP_HEADER_FIXED + sp_get_le16(ob + 32);
    memcpy(v, ob, oh);
    memcpy(v + oh, f.bytes + f.rec[0], f.len - f.rec[0]);
    char path[320];
    snprintf(path, sizeof(path), "%s/variant.enc", home);
    sp_test_write_file(path, v, oh + f.len - f.rec[0]);
    cr_expect_neq(open_to(path, other_key, f.out, &err), SP_OK, "spliced header opened");
    cr_expect_neq(open_to(path, f.key, f.out, &err), SP_OK, "spliced header opened");
    cr_expect_not(sp_test_exists(f.out));
    /* Two publishes never share a key. */
    size_t k1, k2;
    uint8_t *a = sp_test_read_file(f.key, &k1), *b = sp_test_read_file(other_key, &k2);
    cr_expect(k1 != k2 || memcmp(a, b, k1) != 0, "two publishes share a key");
    free(a);
    free(b);
    free(v);
    free(ob);
    free(f.bytes);
}

Test(pipeline, republish_replaces_with_a_new_key_and_fail_mode_refuses)
{
    char in[300], key1[300], key2[300];
    snprintf(in, sizeof(in), "%s/in.bin", home);
    snprintf(key1, sizeof(key1), "%s/k1", home);
    snprintf(key2, sizeof(key2), "%s/k2", home);
    uint8_t data[1000];
    sp_test_fill(data, sizeof(data), SP_DATA_TEXT, 9);
    sp_test_write_file(in, data, sizeof(data));
    sp_publish_result r;
    sp_error err;
    cr_assert_eq(publish_file(in, "again", "1", MiB, 2, 6, &r, &err), SP_OK);
    cr_assert_eq(r.replaced, 0);
    key_file_for("again", "1", key1);
    cr_assert_eq(publish_file(in, "again", "1", MiB, 2, 6, &r, &err), SP_OK);
    cr_assert_eq(r.replaced, 1);
    key_file_for("again", "1", key2);
    size_t l1, l2;
    uint8_t *a = sp_test_read_file(key1, &l1), *b = sp_test_read_file(key2, &l2);
    cr_assert(l1 != l2 || memcmp(a, b, l1) != 0, "replace kept the key");
    free(a);
    free(b);
    char obj[300];
    object_path("again", "1", obj, sizeof(obj));
    size_t before_len;
    uint8_t *before = sp_test_read_file(obj, &before_len);
    sp_publish_opts o;
    sp_publish_opts_init(&o);
    o.input = in;
    o.name = "again";
    o.stage = "dev";
    o.arch = "aarch64"; /* the uname spelling is the same resource */
    o.version = "1";
    o.on_exists = SP_ON_EXISTS_FAIL;
    cr_assert_eq(sp_publish(&o, &r, &err), SP_ERR_EXISTS);
    cr_assert(strstr(err.msg, "already exists") != NULL, "%s", err.msg);
    /* fail mode touched neither the object nor the row. */
    size_t after_len;
    uint8_t *after = sp_test_read_file(obj, &after_len);
    cr_assert_eq(before_len, after_len);
    cr_assert_eq(memcmp(before, after, before_len), 0);
    cr_assert_eq(open_to(obj, NULL, NULL, &err), SP_OK, "%s", err.msg);
    free(before);
    free(after);
}

Test(pipeline, bad_input_publishes_nothing)
{
    sp_publish_result r;
    sp_error err;
    char dir_obj[300];
    snprintf(dir_obj, sizeof(dir_obj), "%s/objects/dev", home);
    cr_assert_eq(publish_file("/nonexistent/file", "x", "1", MiB, 2, 6, &r, &err), SP_ERR_INPUT);
    cr_assert(strstr(err.msg, "/nonexistent/file") != NULL, "%s", err.msg);
    cr_assert_eq(publish_file(home, "x", "1", MiB, 2, 6, &r, &err), SP_ERR_INPUT);
    cr_assert(strstr(err.msg, "directory") != NULL, "%s", err.msg);
    cr_assert_eq(publish_file("/etc/hostname", "bad/name", "1", MiB, 2, 6, &r, &err), SP_ERR_USAGE);
    cr_assert_eq(publish_file("/etc/hostname", "x", "1", 1000, 2, 6, &r, &err), SP_ERR_USAGE);
    cr_assert_eq(publish_file("/etc/hostname", "x", "1", 65 * MiB, 2, 6, &r, &err), SP_ERR_USAGE);
    cr_assert_not(sp_test_exists(dir_obj), "an object folder appeared");
}

Test(pipeline, truncated_tar_is_refused)
{
    char tar[300], cut[300], cmd[900], obj[300];
    snprintf(tar, sizeof(tar), "%s/img.tar", home);
    snprintf(cut, sizeof(cut), "%s/cut.tar", home);
    snprintf(cmd, sizeof(cmd), "tar -C /usr/share -cf '%s' common-licenses && head -c 20000 '%s' > '%s'", tar, tar,
             cut);
    cr_assert_eq(system(cmd), 0);
    sp_publish_result r;
    sp_error err;
    cr_assert_eq(publish_file(tar, "img", "1", MiB, 2, 6, &r, &err), SP_OK, "%s", err.msg);
    cr_assert_eq(publish_file(cut, "img", "2", MiB, 2, 6, &r, &err), SP_ERR_INPUT);
    cr_assert(strstr(err.msg, "truncated tar") != NULL, "%s", err.msg);
    object_path("img", "2", obj, sizeof(obj));
    cr_assert_not(sp_test_exists(obj));
    cr_assert_eq(open_to(obj, NULL, NULL, &err), SP_ERR_INPUT);
}

Test(pipeline, expect_size_and_sha256)
{
    char in[300];
    snprintf(in, sizeof(in), "%s/in.bin", home);
    sp_test_write_file(in, "hello", 5);
    sp_publish_opts o;
    sp_publish_opts_init(&o);
    o.input = in;
    o.name = "exp";
    o.stage = "dev";
    o.version = "1";
    o.expect_size = 6;
    sp_publish_result r;
    sp_error err;
    cr_assert_eq(sp_publish(&o, &r, &err), SP_ERR_INPUT);
    o.expect_size = 5;
    o.expect_sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    cr_assert_eq(sp_publish(&o, &r, &err), SP_ERR_INPUT);
    cr_assert(strstr(err.msg, "SHA-256") != NULL, "%s", err.msg);
    o.expect_sha256 = "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824"; /* any case */
    cr_assert_eq(sp_publish(&o, &r, &err), SP_OK, "%s", err.msg);
    /* A mismatch on republish fails before commit: the good version stays. */
    sp_test_write_file(in, "hellp", 5);
    cr_assert_eq(sp_publish(&o, &r, &err), SP_ERR_INPUT);
    char obj[300], out[300];
    snprintf(out, sizeof(out), "%s/out.bin", home);
#if defined(__aarch64__)
    snprintf(obj, sizeof(obj), "%s/objects/dev/exp-arm64-1.enc", home);
#else
    snprintf(obj, sizeof(obj), "%s/objects/dev/exp-amd64-1.enc", home);
#endif
    cr_assert_eq(open_to(obj, NULL, out, &err), SP_OK, "previous version damaged: %s", err.msg);
    size_t n = 0;
    uint8_t *back = sp_test_read_file(out, &n);
    cr_assert_eq(n, 5);
    cr_assert_eq(memcmp(back, "hello", 5), 0);
    free(back);
}

Test(pipeline, key_wrapping_round_trip_and_wrong_kek)
{
    char in[300], obj[300], out[300];
    snprintf(in, sizeof(in), "%s/in.bin", home);
    snprintf(out, sizeof(out), "%s/out.bin", home);
    sp_test_write_file(in, "wrapped artifact", 16);
    setenv("SEALPUB_KEK", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
    sp_publish_result r;
    sp_error err;
    cr_assert_eq(publish_file(in, "wrap", "1", MiB, 2, 6, &r, &err), SP_OK, "%s", err.msg);
    object_path("wrap", "1", obj, sizeof(obj));
    cr_assert_eq(open_to(obj, NULL, out, &err), SP_OK, "%s", err.msg);
    unlink(out);
    setenv("SEALPUB_KEK", "AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
    cr_assert_eq(open_to(obj, NULL, out, &err), SP_ERR_AUTH);
    cr_assert(strstr(err.msg, "KEK") != NULL, "%s", err.msg);
    unsetenv("SEALPUB_KEK");
    cr_assert_eq(open_to(obj, NULL, out, &err), SP_ERR_USAGE);
    cr_assert_not(sp_test_exists(out));
}
