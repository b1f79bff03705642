/* helpers.h: shared fixtures for the unit tests (temp folders, data, files). */
#ifndef SP_TEST_HELPERS_H
#define SP_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sealpub/sealpub.h"

/* A fresh folder under /tmp; also made the default data folder. */
static inline void sp_test_tmpdir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/sealpub-test-XXXXXX");
    cr_assert_not_null(mkdtemp(out));
    setenv("SEALPUB_HOME", out, 1);
    unsetenv("SEALPUB_STORE");
    unsetenv("SEALPUB_REGISTRY");
    unsetenv("DATABASE_URL");
    unsetenv("SEALPUB_KEK");
    unsetenv("SEALPUB_KEK_FILE");
}

static inline void sp_test_rmtree(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

enum { SP_DATA_RANDOM, SP_DATA_TEXT, SP_DATA_ZERO };

/* Deterministic content of three kinds: incompressible, text-like, zeros. */
static inline void sp_test_fill(uint8_t *buf, size_t len, int kind, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    static const char *words[] = {"layer", "sha256", "manifest", "json", "usr", "lib", "config", "the", "of", "\n"};
    size_t i = 0;
    while (i < len) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (kind == SP_DATA_ZERO) {
            buf[i++] = 0;
        } else if (kind == SP_DATA_RANDOM) {
            for (int k = 0; k < 8 && i < len; k++) buf[i++] = (uint8_t)(x >> (8 * k));
        } else {
            const char *w = words[x % 10];
            for (; *w && i < len; w++) buf[i++] = (uint8_t)*w;
            if (i < len) buf[i++] = ' ';
        }
    }
}

static inline void sp_test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    if (len) cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static inline uint8_t *sp_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n ? (size_t)n : 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static inline int sp_test_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

#endif
