/* test_vectors.c: the committed test vectors (tests/data/vectors) open to their expected plaintext. */
#include <criterion/criterion.h>

#include "helpers.h"
#include "sealpub/sealpub.h"

static void check_vector(const char *name)
{
    char enc[512], key[512], plain[512], out[512], home[256];
    sp_test_tmpdir(home, sizeof(home));
    snprintf(enc, sizeof(enc), "%s/vectors/%s.enc", SP_TEST_DATA, name);
    snprintf(key, sizeof(key), "%s/vectors/%s.key", SP_TEST_DATA, name);
    snprintf(plain, sizeof(plain), "%s/vectors/%s.plain", SP_TEST_DATA, name);
    snprintf(out, sizeof(out), "%s/out", home);
    sp_open_opts o;
    sp_open_opts_init(&o);
    o.input = enc;
    o.output = out;
    o.key_file = key;
    sp_open_result r;
    sp_error err = {0};
    cr_assert_eq(sp_open(&o, &r, &err), SP_OK, "%s: %s", name, err.msg);
    size_t a = 0, b = 0;
    uint8_t *want = sp_test_read_file(plain, &a), *got = sp_test_read_file(out, &b);
    cr_assert_not_null(want, "missing %s", plain);
    cr_assert_eq(a, b, "%s: %zu bytes, expected %zu", name, b, a);
    cr_assert_eq(memcmp(want, got, a), 0, "%s: content differs", name);
    cr_assert_eq(r.plain_size, a);
    free(want);
    free(got);
    sp_test_rmtree(home);
}

Test(vectors, empty) { check_vector("empty"); }
Test(vectors, one_byte) { check_vector("one_byte"); }
Test(vectors, one_chunk_1mib) { check_vector("one_chunk_1mib"); }
Test(vectors, two_chunks_1mib_plus_1) { check_vector("two_chunks_1mib_plus_1"); }
Test(vectors, text_2_5mib) { check_vector("text_2_5mib"); }
Test(vectors, random_1_5mib) { check_vector("random_1_5mib"); }
