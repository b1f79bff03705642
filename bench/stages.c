/* stages: per-stage throughput of publish (read, deflate, AES-256-GCM, SHA-256, store, end to end) on 1..N threads, as JSON. */

/*
 * What is measured, and how. The corpus file is read into memory once; every
 * in-memory stage then runs over that buffer in chunks (4 MiB, like publish),
 * so only the read, store and publish stages touch files. A stage that is
 * parallel in publish (deflate, AES-GCM) runs on T threads that claim chunk
 * indexes from one atomic counter, each with its own context and its own
 * output buffer, exactly as publish's workers do; contexts are allocated and
 * output buffers faulted in before a start barrier, and the clock runs from
 * that barrier to the last join. A stage that is serial in publish (the one
 * reader, SHA-256 over the output, the in-order store writer) runs on one
 * thread and is reported at threads = 1.
 *
 * Figures. MB/s is input bytes / 1e6 / wall seconds; each configuration is
 * repeated R times and the fastest repetition is kept (load from other
 * processes only ever adds time), its CPU seconds (getrusage, all threads)
 * next to it: MB per CPU-second hardly moves with outside load, so it is the
 * per-core figure to trust on a shared machine. Within a repetition the
 * thread counts run back to back, so a burst of load hits neighbours alike.
 * Every sample and the load average at the time are kept in the JSON.
 *
 * Variants. deflate/sp_codec is the library's codec with its per-chunk
 * choice (libdeflate at the level, the fast codec, or stored, from a probe of
 * the chunk: src/lib/compress/codec.c), i.e. what publish runs per chunk; its
 * rows count the chunks each codec got (deflated/fast/stored, also in the
 * JSON as deflated_chunks, fast_chunks, stored_chunks; publish rows take them
 * from sp_publish's result). deflate/libdeflate is the same
 * level without the probe (pure deflate cost); deflate/isal is ISA-L's
 * isal_deflate_stateless with a gzip wrapper, levels 0-3 (built only when
 * libisal is found; each level's members are checked to inflate back with
 * libdeflate before they are timed). Slow levels (>= 10) run once on a
 * smaller evenly spaced sample of chunks (--slow-sample); the others on
 * --sample bytes, also evenly spaced through the file (0 = all of it).
 *
 * AES-GCM seals the corpus buffer in place (fresh nonce per chunk and
 * repetition), so it runs after every stage that reads the buffer.
 * read/{uring,pread} uses sp_source with two reads in flight (as publish's
 * reader), page cache warm. store/file-write is the writer's put_write calls
 * into a file:// store; store/file-commit adds the commit's fsync and
 * rename. publish is sp_publish of the file at the default level (or
 * --publish-level) into a file:// store and SQLite registry under a
 * temporary SEALPUB_HOME, removed afterwards.
 *
 * Output: one JSON document on stdout (schema 1, see bench/stages.sh), a
 * human table on stderr.
 */

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "compress/codec.h"
#include "crypto/crypto.h"
#include "source/source.h"
#include "store/store.h"

#ifdef SP_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#ifndef SP_ISAL_VERSION
#define SP_ISAL_VERSION "unknown"
#endif
#endif

#define MAX_REPS 16
#define MAX_THREADS 256
#define MAX_RESULTS 512
#define SLOW_LEVEL 10

typedef enum kernel { K_CODEC, K_LIBDEFLATE, K_ISAL, K_AES } kernel;
static const char *const kernel_variant[] = {"sp_codec", "libdeflate", "isal", "openssl"};

typedef struct options {
    const char *path, *name, *work_dir, *host_note;
    size_t chunk, sample, slow_sample;
    unsigned reps, threads[32], nthreads;
    int levels[16], nlevels, isal_levels[8], nisal, publish_level, emulated;
    char stages[256];
} options;

typedef struct corpus {
    uint8_t *data;
    size_t size, chunk, nchunks;
    char sha256[65];
} corpus;

/* Chunk indexes a parallel stage runs over, evenly spaced through the file. */
typedef struct sample {
    size_t *idx, n;
    uint64_t bytes;
} sample;

typedef struct result {
    const char *stage, *variant;
    int level; /* -1: none */
    unsigned threads, nsamples;
    uint64_t bytes, out_bytes, kinds[3]; /* chunks per sp_codec_kind: deflated, stored, fast */
    int has_out;
    double wall, cpu, load1, samples[MAX_REPS];
} result;

static char work_dir[1024]; /* this run's temporary home, store and registry; removed at exit */
static result results[MAX_RESULTS];
static unsigned nresults;

/* A stage that could not run is reported here and in the JSON, and the run goes on. */
static char errors[8][600];
static unsigned nerrors;

static void note_error(const char *stage, const char *msg)
{
    fprintf(stderr, "stages: %s skipped: %s\n", stage, msg);
    if (nerrors < SP_ARRAY_LEN(errors)) snprintf(errors[nerrors++], sizeof(errors[0]), "%s: %s", stage, msg);
}

/* ------------------------------------------------------------------ helpers */

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static double load1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

static void load3(double out[3])
{
    out[0] = out[1] = out[2] = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &out[0], &out[1], &out[2]) != 3) out[0] = out[1] = out[2] = -1;
        fclose(f);
    }
}

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("stages: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}

static size_t chunk_len(const corpus *c, size_t i) { return i + 1 < c->nchunks ? c->chunk : c->size - i * c->chunk; }

static int stage_wanted(const options *o, const char *stage)
{
    size_t n = strlen(stage);
    for (const char *p = o->stages; (p = strstr(p, stage)); p += n)
        if ((p == o->stages || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

/* qemu-user passes the host's /proc/cpuinfo through: an arm64 binary that
 * reads x86 fields there is being emulated (and the other way round). */
static int looks_emulated(void)
{
    char line[512];
    int x86 = 0, arm = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "vendor_id", 9)) x86 = 1;
        if (!strncmp(line, "CPU implementer", 15)) arm = 1;
    }
    fclose(f);
#if defined(__x86_64__) || defined(__i386__)
    return arm && !x86;
#else
    return x86 && !arm;
#endif
}

static void cpu_model(char *out, size_t cap)
{
    char line[512], implementer[32] = "", part[32] = "";
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    while (fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "\n")] = '\0';
        if (!strncmp(line, "model name", 10) || !strncmp(line, "Hardware", 8)) {
            snprintf(out, cap, "%s", v);
            fclose(f);
            return;
        }
        if (!strncmp(line, "CPU implementer", 15) && !*implementer) snprintf(implementer, sizeof(implementer), "%s", v);
        if (!strncmp(line, "CPU part", 8) && !*part) snprintf(part, sizeof(part), "%s", v);
    }
    fclose(f);
    /* arm64 kernels print no model name: name the common server cores. */
    static const struct { const char *imp, *part, *name; } arm[] = {
        {"0x41", "0xd0c", "Arm Neoverse-N1"}, {"0x41", "0xd40", "Arm Neoverse-V1"},
        {"0x41", "0xd49", "Arm Neoverse-N2"}, {"0x41", "0xd4f", "Arm Neoverse-V2"},
        {"0x41", "0xd08", "Arm Cortex-A72"},  {"0x41", "0xd0b", "Arm Cortex-A76"},
        {"0xc0", "0xac3", "Ampere-1"},        {"0x61", "0x000", "Apple"},
    };
    if (*implementer) {
        for (size_t i = 0; i < SP_ARRAY_LEN(arm); i++)
            if (!strcmp(implementer, arm[i].imp) && !strcmp(part, arm[i].part)) {
                snprintf(out, cap, "%s", arm[i].name);
                return;
            }
        snprintf(out, cap, "implementer %s part %s", implementer, part);
    }
}

/* ------------------------------------------------------------------ parallel stages */

typedef struct job {
    corpus *c;
    const sample *set;
    kernel kind;
    int level;
    uint64_t run; /* counts every timed run of this process: AES nonces never repeat */
    const uint8_t *key;
    atomic_size_t next;
    pthread_barrier_t start;
} job;

typedef struct worker {
    pthread_t tid;
    job *j;
    uint64_t out_bytes, kinds[3];
    int failed;
    sp_error err;
} worker;

#ifdef SP_HAVE_ISAL
static size_t isal_level_buf_size(int level)
{
    switch (level) {
    case 1: return ISAL_DEF_LVL1_DEFAULT;
    case 2: return ISAL_DEF_LVL2_DEFAULT;
    case 3: return ISAL_DEF_LVL3_DEFAULT;
    default: return 0;
    }
}

/* One gzip member of in[0..len) into out; 0 on failure. */
static size_t isal_gzip(int level, uint8_t *level_buf, size_t level_buf_size, const uint8_t *in, size_t len,
                        uint8_t *out, size_t cap)
{
    struct isal_zstream z;
    isal_deflate_stateless_init(&z);
    z.level = (uint32_t)level;
    z.level_buf = level_buf;
    z.level_buf_size = (uint32_t)level_buf_size;
    z.gzip_flag = IGZIP_GZIP;
    z.end_of_stream = 1;
    z.flush = NO_FLUSH;
    z.next_in = (uint8_t *)(uintptr_t)in; /* ISA-L's API is not const-correct; it does not write */
    z.avail_in = (uint32_t)len;
    z.next_out = out;
    z.avail_out = (uint32_t)cap;
    return isal_deflate_stateless(&z) == COMP_OK ? z.total_out : 0;
}
#endif

static size_t out_cap_for(size_t chunk) { return sp_codec_bound(chunk) + chunk / 8 + 4096; }

static void *work(void *arg)
{
    worker *w = arg;
    job *j = w->j;
    corpus *c = j->c;
    size_t cap = out_cap_for(c->chunk);
    uint8_t *out = NULL, *level_buf = NULL;
#ifdef SP_HAVE_ISAL
    size_t level_buf_size = 0;
#endif
    sp_codec *codec = NULL;
    sp_aead *aead = NULL;
    struct libdeflate_compressor *ld = NULL;

    switch (j->kind) {
    case K_CODEC: w->failed = sp_codec_new(j->level, &codec, &w->err) != SP_OK; break;
    case K_LIBDEFLATE:
        ld = libdeflate_alloc_compressor(j->level);
        if (!ld) w->failed = 1, sp_fail(&w->err, SP_ERR_NOMEM, "libdeflate_alloc_compressor(%d)", j->level);
        break;
    case K_ISAL:
#ifdef SP_HAVE_ISAL
        level_buf_size = isal_level_buf_size(j->level);
        if (level_buf_size) level_buf = xmalloc(level_buf_size);
#endif
        break;
    case K_AES: w->failed = sp_aead_new(j->key, &aead, &w->err) != SP_OK; break;
    }
    if (j->kind != K_AES) {
        out = xmalloc(cap);
        memset(out, 0, cap); /* fault the pages in before the clock starts */
    }
    pthread_barrier_wait(&j->start);

    for (size_t k; !w->failed && (k = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < j->set->n;) {
        size_t i = j->set->idx[k], len = chunk_len(c, i), n = 0;
        uint8_t *in = c->data + i * c->chunk;
        sp_codec_kind kind = SP_CODEC_DEFLATE;
        switch (j->kind) {
        case K_CODEC:
            if (sp_codec_compress(codec, in, len, out, cap, &n, &kind, &w->err) != SP_OK) w->failed = 1;
            break;
        case K_LIBDEFLATE:
            n = libdeflate_gzip_compress(ld, in, len, out, cap);
            /* publish would store such a chunk: count it at its stored size */
            if (!n || n >= len) n = sp_codec_bound(len) - 64, kind = SP_CODEC_STORED;
            break;
        case K_ISAL:
            kind = SP_CODEC_FAST;
#ifdef SP_HAVE_ISAL
            n = isal_gzip(j->level, level_buf, level_buf_size, in, len, out, cap);
            if (!n) w->failed = 1, sp_fail(&w->err, SP_ERR_INTERNAL, "isal_deflate_stateless failed on chunk %zu", i);
            else if (n >= len) n = sp_codec_bound(len) - 64, kind = SP_CODEC_STORED;
#endif
            break;
        case K_AES: {
            uint8_t nonce[SP_GCM_NONCE] = {0}, tag[SP_GCM_TAG], aad[32] = {0};
            /* unique per chunk and per timed run under this process's key */
            sp_put_le64(nonce, (uint64_t)i);
            sp_put_le32(nonce + 8, (uint32_t)j->run);
            if (sp_aead_seal(aead, nonce, aad, sizeof(aad), in, len, tag, &w->err) != SP_OK) w->failed = 1;
            n = len + SP_GCM_TAG;
            break;
        }
        }
        w->out_bytes += n;
        if (j->kind != K_AES) w->kinds[kind]++;
    }
    sp_codec_free(codec);
    sp_aead_free(aead);
    libdeflate_free_compressor(ld);
    free(level_buf);
    free(out);
    return NULL;
}

/* One timed run of kind on threads threads; fills wall/cpu/out. */
static void run_parallel(corpus *c, const sample *set, kernel kind, int level, unsigned threads, const uint8_t *key,
                         double *wall, double *cpu, uint64_t *out, uint64_t kinds[3])
{
    static uint64_t runs;
    job j = {.c = c, .set = set, .kind = kind, .level = level, .run = runs++, .key = key};
    atomic_init(&j.next, 0);
    worker *w = calloc(threads, sizeof(*w));
    if (!w) die("out of memory");
    pthread_barrier_init(&j.start, NULL, threads + 1);
    for (unsigned t = 0; t < threads; t++) {
        w[t].j = &j;
        if (pthread_create(&w[t].tid, NULL, work, &w[t]) != 0) die("cannot start thread %u", t);
    }
    pthread_barrier_wait(&j.start);
    double t0 = sp_now(), c0 = cpu_now();
    for (unsigned t = 0; t < threads; t++) pthread_join(w[t].tid, NULL);
    *wall = sp_now() - t0;
    *cpu = cpu_now() - c0;
    *out = kinds[0] = kinds[1] = kinds[2] = 0;
    for (unsigned t = 0; t < threads; t++) {
        if (w[t].failed) die("%s level %d: %s", kernel_variant[kind], level, w[t].err.msg);
        *out += w[t].out_bytes;
        for (int k = 0; k < 3; k++) kinds[k] += w[t].kinds[k];
    }
    pthread_barrier_destroy(&j.start);
    free(w);
}

static sample make_sample(const corpus *c, size_t budget)
{
    sample s = {0};
    size_t n = c->nchunks;
    if (budget && budget < c->size) {
        n = (budget + c->chunk - 1) / c->chunk;
        if (n > c->nchunks) n = c->nchunks;
        if (!n) n = 1;
    }
    s.idx = xmalloc(n * sizeof(*s.idx));
    s.n = n;
    for (size_t k = 0; k < n; k++) {
        s.idx[k] = k * c->nchunks / n;
        s.bytes += chunk_len(c, s.idx[k]);
    }
    return s;
}

/* ------------------------------------------------------------------ results */

static void print_header(void)
{
    fprintf(stderr, "%-8s %-12s %5s %3s %10s %10s %9s %7s %5s %s\n", "stage", "variant", "level", "T", "MB/s",
            "MB/cpu-s", "MB", "ratio", "load", "chunks deflated/fast/stored");
}

static void print_row(const result *r)
{
    char lv[16] = "-", ratio[16] = "-", kinds[80] = "";
    if (r->level >= 0) snprintf(lv, sizeof(lv), "%d", r->level);
    if (r->has_out) {
        snprintf(ratio, sizeof(ratio), "%.4f", (double)r->out_bytes / (double)r->bytes);
        snprintf(kinds, sizeof(kinds), "%" PRIu64 "/%" PRIu64 "/%" PRIu64, r->kinds[SP_CODEC_DEFLATE],
                 r->kinds[SP_CODEC_FAST], r->kinds[SP_CODEC_STORED]);
    }
    double mb = (double)r->bytes / 1e6;
    fprintf(stderr, "%-8s %-12s %5s %3u %10.1f %10.1f %9.1f %7s %5.2f %s\n", r->stage, r->variant, lv, r->threads,
            mb / r->wall, r->cpu > 0 ? mb / r->cpu : 0.0, mb, ratio, r->load1, kinds);
}

static result *new_result(const char *stage, const char *variant, int level, unsigned threads, uint64_t bytes)
{
    if (nresults == MAX_RESULTS) die("too many results");
    result *r = &results[nresults++];
    memset(r, 0, sizeof(*r));
    r->stage = stage;
    r->variant = variant;
    r->level = level;
    r->threads = threads;
    r->bytes = bytes;
    return r;
}

/* Keeps the fastest repetition. */
static void add_sample(result *r, double wall, double cpu, uint64_t out, const uint64_t kinds[3], int has_out)
{
    if (r->nsamples < MAX_REPS) r->samples[r->nsamples] = (double)r->bytes / 1e6 / wall;
    if (!r->nsamples || wall < r->wall) {
        r->wall = wall;
        r->cpu = cpu;
        r->out_bytes = out;
        if (kinds) memcpy(r->kinds, kinds, sizeof(r->kinds));
        r->has_out = has_out;
        r->load1 = load1();
    }
    r->nsamples++;
}

/* One parallel configuration: R repetitions, all thread counts within each. */
static void measure_parallel(const options *o, corpus *c, kernel kind, int level, const uint8_t *key)
{
    int slow = kind != K_AES && level >= SLOW_LEVEL;
    sample set = make_sample(c, kind == K_AES ? 0 : slow ? o->slow_sample : o->sample);
    unsigned reps = slow ? 1 : o->reps, first = nresults;
    const char *stage = kind == K_AES ? "aes-gcm" : "deflate";
    for (unsigned t = 0; t < o->nthreads; t++) new_result(stage, kernel_variant[kind], kind == K_AES ? -1 : level, o->threads[t], set.bytes);
    for (unsigned rep = 0; rep < reps; rep++)
        for (unsigned t = 0; t < o->nthreads; t++) {
            double wall, cpu;
            uint64_t out, kinds[3];
            run_parallel(c, &set, kind, level, o->threads[t], key, &wall, &cpu, &out, kinds);
            add_sample(&results[first + t], wall, cpu, out, kinds, kind != K_AES);
        }
    for (unsigned t = 0; t < o->nthreads; t++) print_row(&results[first + t]);
    free(set.idx);
}

#ifdef SP_HAVE_ISAL
/* ISA-L's members must be plain gzip that libdeflate (i.e. sealpub open) inflates. */
static void isal_check(const corpus *c, int level)
{
    size_t cap = out_cap_for(c->chunk), bsz = isal_level_buf_size(level);
    uint8_t *out = xmalloc(cap), *back = xmalloc(c->chunk), *lb = bsz ? xmalloc(bsz) : NULL;
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    if (!d) die("out of memory");
    size_t picks[3] = {0, c->nchunks / 2, c->nchunks - 1};
    for (int k = 0; k < 3; k++) {
        size_t i = picks[k], len = chunk_len(c, i), got = 0;
        size_t n = isal_gzip(level, lb, bsz, c->data + i * c->chunk, len, out, cap);
        if (!n || libdeflate_gzip_decompress(d, out, n, back, c->chunk, &got) != LIBDEFLATE_SUCCESS || got != len ||
            memcmp(back, c->data + i * c->chunk, len) != 0)
            die("isal level %d: chunk %zu does not inflate back with libdeflate", level, i);
    }
    libdeflate_free_decompressor(d);
    free(out);
    free(back);
    free(lb);
}
#endif

/* ------------------------------------------------------------------ serial stages */

static void measure_read(const options *o, const corpus *c)
{
    static const struct { const char *name; sp_io_mode mode; } modes[] = {{"uring", SP_IO_URING}, {"pread", SP_IO_PREAD}};
    enum { DEPTH = 2 }; /* publish's reader keeps two reads in flight */
    uint8_t *buf[DEPTH];
    for (int b = 0; b < DEPTH; b++) {
        buf[b] = xmalloc(c->chunk);
        memset(buf[b], 0, c->chunk);
    }
    for (size_t m = 0; m < SP_ARRAY_LEN(modes); m++) {
        result *r = new_result("read", modes[m].name, -1, 1, c->size);
        for (unsigned rep = 0; rep < o->reps; rep++) {
            sp_error e = {0};
            sp_source *s = NULL;
            double t0 = sp_now(), c0 = cpu_now();
            if (sp_source_open(o->path, modes[m].mode, c->chunk, DEPTH, &s, &e) != SP_OK) {
                note_error(modes[m].mode == SP_IO_URING ? "read/uring" : "read/pread", e.msg);
                nresults--;
                r = NULL;
                break;
            }
            uint64_t total = 0;
            unsigned inflight = 0, nextbuf = 0;
            int eof = 0;
            while (!eof || inflight) {
                while (!eof && inflight < DEPTH) {
                    if (sp_source_submit(s, buf[nextbuf], &e) != SP_OK) die("read/%s: %s", modes[m].name, e.msg);
                    nextbuf = (nextbuf + 1) % DEPTH;
                    inflight++;
                }
                uint8_t *got_buf;
                size_t got;
                if (sp_source_wait(s, &got_buf, &got, &e) != SP_OK) die("read/%s: %s", modes[m].name, e.msg);
                inflight--;
                total += got;
                if (got < c->chunk) eof = 1;
            }
            sp_source_close(s);
            double wall = sp_now() - t0, cpu = cpu_now() - c0;
            if (total != c->size) die("read/%s: got %" PRIu64 " bytes of %zu", modes[m].name, total, c->size);
            add_sample(r, wall, cpu, 0, NULL, 0);
        }
        if (r) print_row(r);
    }
    for (int b = 0; b < DEPTH; b++) free(buf[b]);
}

static void measure_sha256(const options *o, corpus *c)
{
    result *r = new_result("sha256", "openssl", -1, 1, c->size);
    for (unsigned rep = 0; rep < o->reps; rep++) {
        uint8_t digest[32];
        double t0 = sp_now(), c0 = cpu_now();
        sp_sha256 *h = sp_sha256_new();
        if (!h) die("out of memory");
        for (size_t i = 0; i < c->nchunks; i++) sp_sha256_update(h, c->data + i * c->chunk, chunk_len(c, i));
        sp_sha256_final(h, digest);
        sp_sha256_free(h);
        add_sample(r, sp_now() - t0, cpu_now() - c0, 0, NULL, 0);
        sp_hex(digest, 32, c->sha256);
    }
    print_row(r);
}

static void measure_store(const options *o, const corpus *c, const char *dir)
{
    sp_store st;
    sp_error e = {0};
    if (sp_store_file_open(dir, &st, &e) != SP_OK) die("store %s: %s", dir, e.msg);
    result *w = new_result("store", "file-write", -1, 1, c->size);
    result *cm = new_result("store", "file-commit", -1, 1, c->size);
    const char *key = "bench/stages-store.bin";
    for (unsigned rep = 0; rep < o->reps; rep++) {
        sp_upload *up = NULL;
        double t0 = sp_now(), c0 = cpu_now();
        if (st.ops->put_begin(st.impl, key, c->size, &up, &e) != SP_OK) die("store: %s", e.msg);
        for (size_t i = 0; i < c->nchunks; i++)
            if (st.ops->put_write(up, c->data + i * c->chunk, chunk_len(c, i), &e) != SP_OK) die("store: %s", e.msg);
        double t1 = sp_now(), c1 = cpu_now();
        if (st.ops->put_commit(up, &e) != SP_OK) die("store: %s", e.msg);
        double t2 = sp_now(), c2 = cpu_now();
        add_sample(w, t1 - t0, c1 - c0, 0, NULL, 0);
        add_sample(cm, t2 - t0, c2 - c0, 0, NULL, 0);
        if (st.ops->remove(st.impl, key, &e) != SP_OK) die("store: %s", e.msg);
    }
    sp_store_close(&st);
    print_row(w);
    print_row(cm);
}

static void measure_publish(const options *o, const corpus *c, const char *work)
{
    char store_dir[1100], store_url[1200], reg_url[1200];
    snprintf(store_dir, sizeof(store_dir), "%s/publish-store", work);
    snprintf(store_url, sizeof(store_url), "file://%s", store_dir);
    snprintf(reg_url, sizeof(reg_url), "sqlite://%s/registry.db", work);
    unsigned first = nresults;
    for (unsigned t = 0; t < o->nthreads; t++) new_result("publish", "file+sqlite", o->publish_level, o->threads[t], c->size);
    for (unsigned rep = 0; rep < o->reps; rep++)
        for (unsigned t = 0; t < o->nthreads; t++) {
            sp_publish_opts po;
            sp_publish_result pr;
            sp_error e = {0};
            char version[64];
            snprintf(version, sizeof(version), "1.%u.%u", rep, o->threads[t]);
            sp_publish_opts_init(&po);
            po.input = o->path;
            po.name = o->name;
            po.stage = "bench";
            po.version = version;
            po.level = o->publish_level;
            po.threads = o->threads[t];
            po.chunk_size = c->chunk;
            po.store_url = store_url;
            po.registry_url = reg_url;
            po.on_exists = SP_ON_EXISTS_REPLACE;
            double t0 = sp_now(), c0 = cpu_now();
            if (sp_publish(&po, &pr, &e) != SP_OK) {
                note_error("publish", e.msg);
                nresults = first;
                return;
            }
            double wall = sp_now() - t0, cpu = cpu_now() - c0;
            if (pr.plain_size != c->size) die("publish: %" PRIu64 " bytes published of %zu", pr.plain_size, c->size);
            result *r = &results[first + t];
            const uint64_t kinds[3] = {pr.chunks_deflated, pr.chunks_stored_raw, pr.chunks_fast};
            add_sample(r, wall, cpu, pr.stored_size, kinds, 1);
            if (r->level < 0) r->level = pr.level;
            /* Keep the disk from filling with copies of the corpus. */
            char path[2200];
            snprintf(path, sizeof(path), "%s/%s", store_dir, pr.object_key);
            unlink(path);
        }
    for (unsigned t = 0; t < o->nthreads; t++) print_row(&results[first + t]);
}

/* ------------------------------------------------------------------ JSON */

static void json_result(FILE *f, const result *r)
{
    double mb = (double)r->bytes / 1e6;
    fprintf(f, "    {\"stage\":\"%s\",\"variant\":\"%s\",\"level\":", r->stage, r->variant);
    if (r->level >= 0) fprintf(f, "%d", r->level);
    else fputs("null", f);
    fprintf(f, ",\"threads\":%u,\"mb_per_s\":%.2f,\"mb_per_cpu_s\":%.2f,\"bytes\":%" PRIu64
               ",\"seconds\":%.6f,\"cpu_seconds\":%.6f,",
            r->threads, mb / r->wall, r->cpu > 0 ? mb / r->cpu : 0.0, r->bytes, r->wall, r->cpu);
    if (r->has_out)
        fprintf(f,
                "\"out_bytes\":%" PRIu64 ",\"ratio\":%.5f,\"stored_chunks\":%" PRIu64 ",\"fast_chunks\":%" PRIu64
                ",\"deflated_chunks\":%" PRIu64 ",",
                r->out_bytes, (double)r->out_bytes / (double)r->bytes, r->kinds[SP_CODEC_STORED],
                r->kinds[SP_CODEC_FAST], r->kinds[SP_CODEC_DEFLATE]);
    else
        fputs("\"out_bytes\":null,\"ratio\":null,", f);
    fprintf(f, "\"reps\":%u,\"load1\":%.2f,\"samples_mb_per_s\":[", r->nsamples, r->load1);
    for (unsigned k = 0; k < r->nsamples && k < MAX_REPS; k++) fprintf(f, "%s%.2f", k ? "," : "", r->samples[k]);
    fputs("]}", f);
}

/* The stages publish runs on its worker pool, and publish itself. */
static int is_parallel_stage(const char *stage)
{
    return !strcmp(stage, "deflate") || !strcmp(stage, "aes-gcm") || !strcmp(stage, "publish");
}

static const result *find_result(const char *stage, const char *variant, int level, unsigned threads)
{
    for (unsigned i = 0; i < nresults; i++)
        if (!strcmp(results[i].stage, stage) && !strcmp(results[i].variant, variant) && results[i].level == level &&
            results[i].threads == threads)
            return &results[i];
    return NULL;
}

static void write_json(FILE *f, const options *o, const corpus *c, const char *date, const double load_start[3])
{
    struct utsname u;
    char model[320], features[512];
    uname(&u);
    cpu_model(model, sizeof(model));
    if (o->emulated) {
        char host[sizeof(model)];
        memcpy(host, model, sizeof(model));
        snprintf(model, sizeof(model), "EMULATED (qemu-user) on %.280s", host);
    }
    sp_cpu_features(features, sizeof(features));
    double load_end[3];
    load3(load_end);

    fprintf(f, "{\"schema\":1,\"tool\":\"sealpub-stages\",\"date\":\"%s\",\n \"host\":{\"arch\":", date);
    json_str(f, u.machine);
    fputs(",\"cpu_model\":", f);
    json_str(f, model);
    fprintf(f, ",\"cores\":%ld,\"kernel\":", sysconf(_SC_NPROCESSORS_ONLN));
    json_str(f, u.release);
    fputs(",\"openssl_version\":", f);
    json_str(f, OpenSSL_version(OPENSSL_VERSION));
    fputs(",\"openssl_features\":", f);
    json_str(f, features);
    fputs(",\"openssl_cpu_settings\":", f);
#ifdef OPENSSL_INFO_CPU_SETTINGS
    json_str(f, OPENSSL_info(OPENSSL_INFO_CPU_SETTINGS));
#else
    fputs("null", f); /* OpenSSL 1.1.1 (Debian 11) has no OPENSSL_info */
#endif
    /* Since issue 18 the writer hashes on a helper thread while it writes:
     * bench/compare then models the writer as max(SHA-256, store), not the sum. */
    fputs(",\"writer_hash_thread\":true", f);
    fputs(",\"libdeflate_version\":", f);
    json_str(f, LIBDEFLATE_VERSION_STRING);
    fputs(",\"isal_version\":", f);
#ifdef SP_HAVE_ISAL
    json_str(f, SP_ISAL_VERSION);
#else
    fputs("null", f);
#endif
    fputs(",\"sealpub_version\":", f);
    json_str(f, sp_version());
    fputs(",\"compiler\":", f);
    json_str(f, __VERSION__);
    fprintf(f, ",\"emulated\":%s,\"note\":", o->emulated ? "true" : "false");
    if (o->host_note) json_str(f, o->host_note);
    else fputs("null", f);
    fprintf(f, ",\"load_avg_start\":[%.2f,%.2f,%.2f],\"load_avg_end\":[%.2f,%.2f,%.2f]},\n", load_start[0],
            load_start[1], load_start[2], load_end[0], load_end[1], load_end[2]);

    fputs(" \"corpus\":{\"name\":", f);
    json_str(f, o->name);
    fprintf(f, ",\"path\":");
    json_str(f, o->path);
    fprintf(f, ",\"bytes\":%zu,\"sha256\":\"%s\"},\n", c->size, c->sha256);
    fprintf(f, " \"chunk_size\":%zu,\"reps\":%u,\"best_of\":\"fastest of reps by wall clock\","
               "\"sample_bytes\":%zu,\"slow_sample_bytes\":%zu,\"slow_level_from\":%d,\"slow_reps\":1,\n",
            c->chunk, o->reps, o->sample, o->slow_sample, SLOW_LEVEL);
    fputs(" \"results\":[\n", f);
    for (unsigned i = 0; i < nresults; i++) {
        json_result(f, &results[i]);
        fputs(i + 1 < nresults ? ",\n" : "\n", f);
    }
    fputs(" ],\n \"scaling\":[\n", f);
    int firstrow = 1;
    for (unsigned i = 0; i < nresults; i++) {
        const result *r = &results[i];
        const result *one = find_result(r->stage, r->variant, r->level, 1);
        if (!one || !is_parallel_stage(r->stage)) continue;
        double mbps = (double)r->bytes / 1e6 / r->wall, one_mbps = (double)one->bytes / 1e6 / one->wall;
        fprintf(f, "%s    {\"stage\":\"%s\",\"variant\":\"%s\",\"level\":", firstrow ? "" : ",\n", r->stage, r->variant);
        if (r->level >= 0) fprintf(f, "%d", r->level);
        else fputs("null", f);
        /* cpu_efficiency: MB per CPU-second at T over that at 1. Near 1 when
         * the threads share nothing (no lock, cache or bandwidth limit), even
         * on a loaded machine whose other processes lower efficiency. */
        double cpu_mbps = r->cpu > 0 ? (double)r->bytes / 1e6 / r->cpu : 0,
               one_cpu = one->cpu > 0 ? (double)one->bytes / 1e6 / one->cpu : 0;
        fprintf(f, ",\"threads\":%u,\"mb_per_s\":%.2f,\"efficiency\":%.4f,\"cpu_efficiency\":%.4f}", r->threads,
                mbps, mbps / ((double)r->threads * one_mbps), one_cpu > 0 ? cpu_mbps / one_cpu : 0.0);
        firstrow = 0;
    }
    fputs("\n ],\n \"errors\":[", f);
    for (unsigned i = 0; i < nerrors; i++) {
        if (i) fputc(',', f);
        json_str(f, errors[i]);
    }
    fputs("]}\n", f);
}

static void print_scaling(const options *o)
{
    if (o->nthreads < 2) return;
    fprintf(stderr, "\nscaling (efficiency = MB/s(T) / (T * MB/s(1))):\n");
    for (unsigned i = 0; i < nresults; i++) {
        const result *r = &results[i];
        if (r->threads == 1 || !is_parallel_stage(r->stage)) continue;
        const result *one = find_result(r->stage, r->variant, r->level, 1);
        if (!one) continue;
        double e = ((double)r->bytes / r->wall) / ((double)r->threads * (double)one->bytes / one->wall);
        char lv[16] = "-";
        if (r->level >= 0) snprintf(lv, sizeof(lv), "%d", r->level);
        fprintf(stderr, "  %-8s %-12s %5s T=%-3u efficiency %.2f\n", r->stage, r->variant, lv, r->threads, e);
    }
}

/* ------------------------------------------------------------------ main */

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* The work folder holds only what this run made (also after die()). */
static void remove_work_dir(void)
{
    if (work_dir[0] && nftw(work_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "stages: could not remove %s\n", work_dir);
}

static void usage(FILE *f)
{
    fputs("usage: stages FILE [--name NAME] [--threads 1,2,...] [--reps R] [--chunk-size 4M]\n"
          "              [--stages read,sha256,store,deflate,libdeflate,isal,aes,publish]\n"
          "              [--levels 1,2,4,6,9,12] [--isal-levels 0,1,2,3] [--sample 256M] [--slow-sample 32M]\n"
          "              [--publish-level L] [--work-dir DIR] [--host-note TEXT] [--emulated]\n"
          "JSON on stdout, a table on stderr. Default threads: 1, powers of two below nproc, nproc.\n",
          f);
}

static unsigned parse_list(const char *s, int *out, unsigned max, int lo, int hi, const char *what)
{
    unsigned n = 0;
    char *end;
    while (*s) {
        long v = strtol(s, &end, 10);
        if (end == s || v < lo || v > hi || n == max) die("bad %s list near '%s'", what, s);
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') die("bad %s list near '%s'", what, end);
    }
    return n;
}

static size_t parse_size(const char *s, const char *what)
{
    uint64_t v;
    sp_error e;
    if (sp_parse_size(s, &v, &e) != SP_OK) die("%s: %s", what, e.msg);
    return (size_t)v;
}

static void load_corpus(const char *path, corpus *c, size_t chunk)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0) die("%s: %s", path, strerror(errno));
    c->size = (size_t)sb.st_size;
    if (!c->size) die("%s: empty", path);
    c->chunk = chunk;
    c->nchunks = (c->size + chunk - 1) / chunk;
    c->data = xmalloc(c->size);
    if (fread(c->data, 1, c->size, f) != c->size) die("%s: short read", path);
    fclose(f);
    strcpy(c->sha256, "not-measured");
}

int main(int argc, char **argv)
{
    options o = {.chunk = SP_CHUNK_DEFAULT, .sample = 256u << 20, .slow_sample = 32u << 20, .reps = 3,
                 .publish_level = -1, .levels = {1, 2, 4, 6, 9, 12}, .nlevels = 6,
                 .isal_levels = {0, 1, 2, 3}, .nisal = 4};
    snprintf(o.stages, sizeof(o.stages), "read,sha256,store,deflate,libdeflate,isal,aes,publish");
    static const struct option lo[] = {
        {"name", 1, 0, 'n'},        {"threads", 1, 0, 't'},     {"reps", 1, 0, 'r'},
        {"chunk-size", 1, 0, 'c'},  {"stages", 1, 0, 's'},      {"levels", 1, 0, 'l'},
        {"isal-levels", 1, 0, 'i'}, {"sample", 1, 0, 'S'},      {"slow-sample", 1, 0, 'W'},
        {"publish-level", 1, 0, 'p'}, {"work-dir", 1, 0, 'w'},  {"host-note", 1, 0, 'N'},
        {"emulated", 0, 0, 'E'},    {"help", 0, 0, 'h'},        {0, 0, 0, 0}};
    int ch, tl[32];
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    if (nproc < 1) nproc = 1;
    for (long t = 1; t < nproc && o.nthreads < 31; t *= 2) o.threads[o.nthreads++] = (unsigned)t;
    o.threads[o.nthreads++] = (unsigned)nproc;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'n': o.name = optarg; break;
        case 't':
            o.nthreads = parse_list(optarg, tl, 32, 1, MAX_THREADS, "threads");
            for (unsigned k = 0; k < o.nthreads; k++) o.threads[k] = (unsigned)tl[k];
            break;
        case 'r':
            o.reps = (unsigned)atoi(optarg);
            if (o.reps < 1 || o.reps > MAX_REPS) die("--reps must be 1..%d", MAX_REPS);
            break;
        case 'c': o.chunk = parse_size(optarg, "--chunk-size"); break;
        case 's': snprintf(o.stages, sizeof(o.stages), "%s", optarg); break;
        case 'l': o.nlevels = (int)parse_list(optarg, o.levels, 16, 0, SP_LEVEL_MAX, "levels"); break;
        case 'i': o.nisal = (int)parse_list(optarg, o.isal_levels, 8, 0, 3, "isal levels"); break;
        case 'S': o.sample = parse_size(optarg, "--sample"); break;
        case 'W': o.slow_sample = parse_size(optarg, "--slow-sample"); break;
        case 'p': o.publish_level = atoi(optarg); break;
        case 'w': o.work_dir = optarg; break;
        case 'N': o.host_note = optarg; break;
        case 'E': o.emulated = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    o.path = argv[optind];
    if (looks_emulated()) o.emulated = 1;
    if (o.chunk < SP_CHUNK_MIN || o.chunk > SP_CHUNK_MAX) die("--chunk-size must be 1M..64M");
    if (!o.name) {
        const char *base = strrchr(o.path, '/');
        static char name[SP_NAME_MAX + 1];
        snprintf(name, sizeof(name), "%s", base ? base + 1 : o.path);
        name[strcspn(name, ".")] = '\0';
        o.name = name;
    }
    sp_error ve;
    if (sp_validate_name("--name", o.name, SP_NAME_MAX, &ve) != SP_OK) die("%s", ve.msg);

    /* A private home, store and registry: nothing outside it is touched. */
    char *work = work_dir;
    snprintf(work_dir, sizeof(work_dir), "%s/sealpub-stages.XXXXXX", o.work_dir ? o.work_dir : "/var/tmp");
    if (!mkdtemp(work_dir)) die("mkdtemp %s: %s", work_dir, strerror(errno));
    atexit(remove_work_dir);
    char home[1100], store_dir[1100];
    snprintf(home, sizeof(home), "%s/home", work);
    snprintf(store_dir, sizeof(store_dir), "%s/store", work);
    setenv("SEALPUB_HOME", home, 1);

    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    double load_start[3];
    load3(load_start);

    corpus c = {0};
    load_corpus(o.path, &c, o.chunk);
    uint8_t key[32];
    sp_error e;
    if (sp_random(key, sizeof(key), &e) != SP_OK) die("%s", e.msg);

    fprintf(stderr, "stages: %s (%s, %zu bytes, %zu chunks of %zu), reps %u, threads", o.name, o.path, c.size,
            c.nchunks, c.chunk, o.reps);
    for (unsigned t = 0; t < o.nthreads; t++) fprintf(stderr, "%s%u", t ? "," : " ", o.threads[t]);
    fprintf(stderr, ", load %.2f\n", load_start[0]);
    print_header();

    if (stage_wanted(&o, "read")) measure_read(&o, &c);
    /* Always measured once at least: the corpus hash goes into the JSON. */
    measure_sha256(&o, &c);
    if (stage_wanted(&o, "store")) measure_store(&o, &c, store_dir);
    if (stage_wanted(&o, "deflate"))
        for (int l = 0; l < o.nlevels; l++) measure_parallel(&o, &c, K_CODEC, o.levels[l], key);
    if (stage_wanted(&o, "libdeflate"))
        for (int l = 0; l < o.nlevels; l++)
            if (o.levels[l] > 0) measure_parallel(&o, &c, K_LIBDEFLATE, o.levels[l], key);
#ifdef SP_HAVE_ISAL
    if (stage_wanted(&o, "isal"))
        for (int l = 0; l < o.nisal; l++) {
            isal_check(&c, o.isal_levels[l]);
            measure_parallel(&o, &c, K_ISAL, o.isal_levels[l], key);
        }
#else
    if (stage_wanted(&o, "isal")) fprintf(stderr, "stages: isal skipped: built without libisal (apt-get install libisal-dev)\n");
#endif
    /* Last of the in-memory stages: it encrypts the buffer in place. */
    if (stage_wanted(&o, "aes")) measure_parallel(&o, &c, K_AES, -1, key);
    if (stage_wanted(&o, "publish")) measure_publish(&o, &c, work);
    print_scaling(&o);

    write_json(stdout, &o, &c, date, load_start);
    fflush(stdout);

    OPENSSL_cleanse(key, sizeof(key));
    free(c.data);
    return ferror(stdout) ? 1 : 0;
}
