/* stress_pipeline.c: many concurrent-pipeline publishes, cancels and failures, without Criterion so that it
 * also runs under ThreadSanitizer (Criterion's arena cannot start under TSan: Snaipe/Criterion#274). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sealpub/sealpub.h"

static int passed, failed;

#define CHECK(cond, ...)                     \
    do {                                     \
        if (cond) {                          \
            passed++;                        \
        } else {                             \
            failed++;                        \
            printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            printf(__VA_ARGS__);             \
            printf("\n");                    \
        }                                    \
    } while (0)

static char home[64], in[128], out[128];

static void write_input(size_t len, unsigned seed)
{
    FILE *f = fopen(in, "wb");
    uint64_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        /* half text-like, half noise: both codec paths run */
        fputc((i / 65536) % 2 ? (int)(x >> 56) : "abcdefgh\n"[(x >> 60) % 9], f);
    }
    fclose(f);
}

static int same_files(const char *a, const char *b)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

static sp_status publish(const char *version, unsigned threads, size_t chunk, int content_tar,
                         volatile const int *cancel, sp_error *err)
{
    sp_publish_opts o;
    sp_publish_opts_init(&o);
    o.input = in;
    o.name = "stress";
    o.stage = "dev";
    o.arch = "amd64";
    o.version = version;
    o.threads = threads;
    o.chunk_size = chunk;
    o.content_tar = content_tar;
    o.cancel = cancel;
    sp_publish_result r;
    return sp_publish(&o, &r, err);
}

static volatile int cancel_flag;

static void *cancel_soon(void *arg)
{
    struct timespec ts = {0, 2 * 1000 * 1000};
    (void)arg;
    nanosleep(&ts, NULL);
    __atomic_store_n(&cancel_flag, 1, __ATOMIC_RELAXED);
    return NULL;
}

int main(void)
{
    snprintf(home, sizeof(home), "/tmp/sealpub-stress-XXXXXX");
    if (!mkdtemp(home)) return 1;
    setenv("SEALPUB_HOME", home, 1);
    unsetenv("SEALPUB_STORE");
    unsetenv("SEALPUB_REGISTRY");
    unsetenv("DATABASE_URL");
    snprintf(in, sizeof(in), "%s/in.bin", home);
    snprintf(out, sizeof(out), "%s/out.bin", home);

    /* Round trips over thread counts and sizes around the pool's edges. */
    unsigned threads[] = {1, 2, 3, 8};
    size_t sizes[] = {0, 1, (1u << 20) - 1, 1u << 20, 7u << 20, (13u << 20) + 3};
    for (size_t t = 0; t < 4; t++) {
        for (size_t s = 0; s < 6; s++) {
            char version[32];
            snprintf(version, sizeof(version), "t%u-s%zu", threads[t], s);
            write_input(sizes[s], (unsigned)(t * 10 + s));
            sp_error err = {0};
            sp_status st = publish(version, threads[t], 1u << 20, -1, NULL, &err);
            CHECK(st == SP_OK, "publish %s: %s", version, err.msg);
            char obj[256];
            snprintf(obj, sizeof(obj), "%s/objects/dev/stress-amd64-%s.enc", home, version);
            sp_open_opts oo;
            sp_open_opts_init(&oo);
            oo.input = obj;
            oo.output = out;
            sp_open_result r;
            st = sp_open(&oo, &r, &err);
            CHECK(st == SP_OK && same_files(in, out), "open %s: %s", version, err.msg);
            unlink(out);
        }
    }

    /* Cancel from another thread mid-publish: interrupted, nothing left. */
    write_input(24u << 20, 99);
    for (int i = 0; i < 3; i++) {
        cancel_flag = 0;
        pthread_t t;
        pthread_create(&t, NULL, cancel_soon, NULL);
        sp_error err = {0};
        sp_status st = publish("cancelled", 4, 1u << 20, -1, &cancel_flag, &err);
        pthread_join(t, NULL);
        CHECK(st == SP_ERR_INTERRUPTED || st == SP_OK, "cancel: %s", err.msg);
        char obj[256];
        struct stat sb;
        snprintf(obj, sizeof(obj), "%s/objects/dev/stress-amd64-cancelled.enc", home);
        if (st == SP_ERR_INTERRUPTED) CHECK(stat(obj, &sb) != 0, "cancelled publish left an object");
    }

    /* A tar that turns out truncated fails on the reader thread while workers run. */
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "tar -C /usr/share -cf %s/t.tar common-licenses && head -c $(( $(stat -c %%s %s/t.tar) / 2 )) %s/t.tar > %s",
             home, home, home, in);
    CHECK(system(cmd) == 0, "make tar");
    {
        sp_error err = {0};
        CHECK(publish("cut", 4, 1u << 20, 1, NULL, &err) == SP_ERR_INPUT, "truncated tar: %s", err.msg);
    }

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    if (system(cmd) != 0) return 1;
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
