/* test_names.c: name validation, architecture spellings, sizes, object keys. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/sp_common.h"

Test(names, valid_and_invalid_names)
{
    sp_error err;
    const char *good[] = {"api", "API_v2", "a.b-c", "1.4.2", "x"};
    for (size_t i = 0; i < 5; i++) cr_expect_eq(sp_validate_name("name", good[i], 128, &err), SP_OK, "%s", good[i]);
    const char *bad[] = {"", ".hidden", "-flag", "a/b", "a b", "x'; DROP TABLE resources; --", "semi;colon",
                         "quote\"", "tab\t", "ünï", "..", "a\\b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(sp_validate_name("name", bad[i], 128, &err), SP_ERR_USAGE, "'%s' accepted", bad[i]);
    char longname[200];
    memset(longname, 'a', 129);
    longname[129] = 0;
    cr_expect_eq(sp_validate_name("name", longname, 128, &err), SP_ERR_USAGE);
    cr_expect(strstr(err.msg, "too long") != NULL, "%s", err.msg);
    longname[128] = 0;
    cr_expect_eq(sp_validate_name("name", longname, 128, &err), SP_OK);
    cr_expect_eq(sp_validate_name("name", NULL, 128, &err), SP_ERR_USAGE);
}

Test(names, architecture_spellings)
{
    char out[SP_FIELD_MAX + 1];
    sp_error err;
    const char *pairs[][2] = {{"x86_64", "amd64"}, {"amd64", "amd64"}, {"AMD64", "amd64"}, {"aarch64", "arm64"},
                              {"arm64", "arm64"},  {"riscv64", "riscv64"}};
    for (size_t i = 0; i < 6; i++) {
        cr_assert_eq(sp_canonical_arch(pairs[i][0], out, &err), SP_OK);
        cr_expect_str_eq(out, pairs[i][1]);
    }
    cr_assert_eq(sp_canonical_arch(NULL, out, &err), SP_OK);
#if defined(__x86_64__)
    cr_expect_str_eq(out, "amd64");
#elif defined(__aarch64__)
    cr_expect_str_eq(out, "arm64");
#endif
    cr_expect_eq(sp_canonical_arch("arm/v7", out, &err), SP_ERR_USAGE);
}

Test(names, sizes)
{
    uint64_t v;
    sp_error err;
    struct {
        const char *text;
        uint64_t want;
    } good[] = {{"1048576", 1048576}, {"4M", 4u << 20}, {"4MiB", 4u << 20}, {"64m", 64u << 20},
                {"1k", 1024},         {"2G", 2ull << 30}, {"0", 0}};
    for (size_t i = 0; i < 7; i++) {
        cr_assert_eq(sp_parse_size(good[i].text, &v, &err), SP_OK, "%s", good[i].text);
        cr_expect_eq(v, good[i].want, "%s", good[i].text);
    }
    const char *bad[] = {"", "-1", "4X", "4MB2", "abc", " 4", "99999999999999999999", "16777216T"};
    for (size_t i = 0; i < 8; i++) cr_expect_eq(sp_parse_size(bad[i], &v, &err), SP_ERR_USAGE, "'%s'", bad[i]);
}

Test(names, object_key_layout)
{
    char key[SP_OBJECT_KEY_MAX];
    sp_error err;
    cr_assert_eq(sp_object_key("api", "dev", "arm64", "1.4.2", key, sizeof(key), &err), SP_OK);
    cr_assert_str_eq(key, "dev/api-arm64-1.4.2.enc");
    cr_assert_eq(sp_object_key("api", "dev", "arm64", "1.4.2", key, 10, &err), SP_ERR_USAGE);
}

Test(names, base64_and_hex)
{
    uint8_t in[5] = {0, 1, 2, 0xfe, 0xff}, out[8];
    char b64[16], hex[11];
    sp_b64_encode(in, 5, b64);
    cr_assert_str_eq(b64, "AAEC/v8=");
    cr_assert_eq(sp_b64_decode(b64, out, sizeof(out)), 5);
    cr_assert_eq(memcmp(in, out, 5), 0);
    cr_assert_eq(sp_b64_decode("AA=E", out, sizeof(out)), -1);
    cr_assert_eq(sp_b64_decode("A*", out, sizeof(out)), -1);
    sp_hex(in, 5, hex);
    cr_assert_str_eq(hex, "000102feff");
    cr_assert_eq(sp_unhex("000102FEFF", out, 5), 0);
    cr_assert_eq(sp_unhex("0001", out, 5), -1);
    cr_assert_eq(sp_unhex("zz0102feff", out, 5), -1);
}

/* The architecture set is closed (issue 12): a dash-carrying or unknown
 * architecture would make object keys ambiguous. */
Test(names, architecture_set_is_closed)
{
    char out[SP_FIELD_MAX + 1];
    sp_error err;
    const char *pairs[][2] = {{"linux/arm64", "arm64"}, {"LINUX/ARM64/V8", "arm64"}, {"linux/arm/v7", "arm"},
                              {"armhf", "arm"},         {"i686", "386"},           {"ppc64el", "ppc64le"},
                              {"x86-64", "amd64"},      {"linux/s390x", "s390x"}};
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        cr_assert_eq(sp_canonical_arch(pairs[i][0], out, &err), SP_OK, "%s: %s", pairs[i][0], err.msg);
        cr_expect_str_eq(out, pairs[i][1]);
    }
    const char *refused[] = {"", "x-amd64", "mips64", "amd64-x", "arm64v9", "linux/", "amd64,arm64"};
    for (size_t i = 1; i < sizeof(refused) / sizeof(refused[0]); i++) { /* [0]: "" means the host */
        cr_expect_eq(sp_canonical_arch(refused[i], out, &err), SP_ERR_USAGE, "%s accepted", refused[i]);
        cr_expect(strstr(err.msg, "unknown architecture") != NULL, "%s", err.msg);
    }
    /* No canonical name contains the key's field separator. */
    const char *canon;
    for (size_t i = 0; sp_arch_spellings(i, &canon); i++) cr_expect(strchr(canon, '-') == NULL, "%s", canon);
}

/* docs/CLI.md and docs/FORMAT.md print the same table as the code. */
static void check_doc_table(const char *doc)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/../../docs/%s", SP_TEST_DATA, doc);
    FILE *f = fopen(path, "r");
    cr_assert(f != NULL, "cannot open %s", path);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    char *start = strstr(text, "<!-- arch-table -->"), *end = strstr(text, "<!-- /arch-table -->");
    cr_assert(start && end && start < end, "%s has no arch-table markers", doc);
    *end = '\0';
    const char *canon, *spellings;
    size_t rows = 0;
    for (size_t i = 0; (spellings = sp_arch_spellings(i, &canon)) != NULL; i++, rows++) {
        char line[512];
        int k = snprintf(line, sizeof(line), "| `%s` | ", canon);
        for (const char *p = spellings; *p;) {
            size_t len = strcspn(p, ",");
            k += snprintf(line + k, sizeof(line) - (size_t)k, "%s`%.*s`", p == spellings ? "" : ", ", (int)len, p);
            p += len + (p[len] == ',');
        }
        snprintf(line + k, sizeof(line) - (size_t)k, " |\n");
        cr_expect(strstr(start, line) != NULL, "%s lacks the row: %s", doc, line);
    }
    size_t doc_rows = 0;
    for (char *p = start; (p = strstr(p, "\n| `")) != NULL; p++) doc_rows++;
    cr_expect_eq(doc_rows, rows, "%s has %zu rows, the code %zu", doc, doc_rows, rows);
}

Test(names, architecture_table_in_docs)
{
    check_doc_table("CLI.md");
    check_doc_table("FORMAT.md");
}

/* Versions may carry semver build metadata after one '+' (issue 19). */
Test(names, version_build_metadata)
{
    sp_error err;
    const char *good[] = {"1.4.2+build.7", "1+a", "2.0.0-rc.1+sha.5114f85", "7"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_expect_eq(sp_validate_version(good[i], &err), SP_OK, "%s: %s", good[i], err.msg);
    const char *bad[] = {"1+", "+1", "1+a+b", "1+a_b", "1+a b", ".1+a", "1+\xc3\xa9", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(sp_validate_version(bad[i], &err), SP_ERR_USAGE, "'%s' accepted", bad[i]);
    char key[SP_OBJECT_KEY_MAX];
    cr_assert_eq(sp_object_key("api", "dev", "arm64", "1.4.2+build.7", key, sizeof(key), &err), SP_OK);
    cr_expect_str_eq(key, "dev/api-arm64-1.4.2+build.7.enc");
    char long_version[SP_FIELD_MAX + 2];
    memset(long_version, 'a', sizeof(long_version) - 1);
    long_version[sizeof(long_version) - 1] = '\0';
    long_version[10] = '+';
    cr_expect_eq(sp_validate_version(long_version, &err), SP_ERR_USAGE, "65 bytes accepted");
}
