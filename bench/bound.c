/* bound: libdeflate gzip over a file's chunks on N threads, the ceiling sealpub publish is measured against. */

/*
 * What is timed, and what is not. The file is mmapped and every page is read
 * once before the clock starts, so the bound excludes I/O and page faults (the
 * benchmark keeps the page cache warm for every tool, so sealpub's read() of a
 * cached file costs it only a memcpy). Inside the clock: N threads, each with
 * its own compressor and its own output buffer sized by
 * libdeflate_gzip_compress_bound(), claim chunk indexes from one atomic
 * counter and compress them; a chunk that does not shrink counts at its plain
 * size, as sealpub stores such chunks. Nothing is encrypted, hashed or
 * written: this is the compression work alone, which is all a perfect
 * pipeline would add no cost to.
 *
 * Output: one JSON object on stdout; cpu_seconds covers the same interval
 * as seconds (all threads), peak_rss_kib includes the mapped file.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct job {
  const uint8_t *data;     /* whole file, read-only, shared by every thread */
  size_t size;
  size_t chunk;
  size_t nchunks;
  int level;
  atomic_size_t next;      /* the next chunk index to claim */
};

struct worker {
  pthread_t tid;
  struct job *job;
  uint64_t out_bytes;      /* written only by this worker, read after join */
  uint64_t stored_chunks;
  int failed;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void *work(void *arg) {
  struct worker *w = arg;
  struct job *j = w->job;
  struct libdeflate_compressor *c = libdeflate_alloc_compressor(j->level);
  size_t cap = c ? libdeflate_gzip_compress_bound(c, j->chunk) : 0;
  uint8_t *out = cap ? malloc(cap) : NULL;
  if (!c || !out) {
    w->failed = 1;
    libdeflate_free_compressor(c);
    free(out);
    return NULL;
  }
  for (;;) {
    size_t i = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
    if (i >= j->nchunks)
      break;
    size_t off = i * j->chunk;
    size_t len = j->size - off < j->chunk ? j->size - off : j->chunk;
    size_t n = libdeflate_gzip_compress(c, j->data + off, len, out, cap);
    if (n == 0 || n >= len) {
      n = len;
      w->stored_chunks++;
    }
    w->out_bytes += n;
  }
  libdeflate_free_compressor(c);
  free(out);
  return NULL;
}

static size_t parse_size(const char *s) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s)
    return 0;
  switch (*end) {
  case 'k': case 'K': v <<= 10; end++; break;
  case 'm': case 'M': v <<= 20; end++; break;
  case 'g': case 'G': v <<= 30; end++; break;
  default: break;
  }
  if (*end == 'i' && end[1] == 'B')
    end += 2;
  return *end ? 0 : (size_t)v;
}

static void usage(void) {
  fprintf(stderr, "usage: bound FILE [--threads N] [--level 0-12] [--chunk-size BYTES|4M]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *path = NULL;
  long threads = 2;
  long level = 6;
  size_t chunk = (size_t)4 << 20;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--level") && i + 1 < argc)
      level = strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--chunk-size") && i + 1 < argc)
      chunk = parse_size(argv[++i]);
    else if (argv[i][0] == '-' && argv[i][1])
      usage();
    else if (!path)
      path = argv[i];
    else
      usage();
  }
  if (!path || threads < 1 || threads > 256 || level < 0 || level > 12 || chunk == 0)
    usage();

  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) {
    fprintf(stderr, "bound: %s: %s\n", path, fd < 0 ? strerror(errno) : "empty or unreadable");
    return 1;
  }
  size_t size = (size_t)st.st_size;
  void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (map == MAP_FAILED) {
    fprintf(stderr, "bound: mmap: %s\n", strerror(errno));
    return 1;
  }
  close(fd);
  const uint8_t *data = map;
  /* MAP_POPULATE already maps every page; the sum keeps that from being a
   * promise the kernel may skip and the compiler may drop. */
  volatile uint8_t sink = 0;
  for (size_t off = 0; off < size; off += 4096)
    sink ^= data[off];
  (void)sink;

  struct job job = {.data = data, .size = size, .chunk = chunk,
                    .nchunks = (size + chunk - 1) / chunk, .level = (int)level};
  atomic_init(&job.next, 0);
  struct worker *ws = calloc((size_t)threads, sizeof *ws);
  if (!ws)
    return 1;

  double c0 = cpu_s();
  double t0 = now_s();
  for (long t = 0; t < threads; t++) {
    ws[t].job = &job;
    if (pthread_create(&ws[t].tid, NULL, work, &ws[t]) != 0) {
      fprintf(stderr, "bound: pthread_create failed\n");
      return 1;
    }
  }
  uint64_t out = 0, stored = 0;
  int failed = 0;
  for (long t = 0; t < threads; t++) {
    pthread_join(ws[t].tid, NULL);
    out += ws[t].out_bytes;
    stored += ws[t].stored_chunks;
    failed |= ws[t].failed;
  }
  double secs = now_s() - t0;
  double cpu = cpu_s() - c0;
  if (failed) {
    fprintf(stderr, "bound: out of memory\n");
    return 1;
  }

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"tool\":\"bound\",\"file\":\"%s\",\"threads\":%ld,\"level\":%ld,\"chunk_size\":%zu,"
         "\"chunks\":%zu,\"stored_chunks\":%" PRIu64 ",\"plain_size\":%zu,\"output_bytes\":%" PRIu64 ","
         "\"seconds\":%.6f,\"mb_per_s\":%.2f,\"cpu_seconds\":%.3f,\"peak_rss_kib\":%ld}\n",
         path, threads, level, chunk, job.nchunks, stored, size, out, secs,
         (double)size / 1e6 / secs, cpu, ru.ru_maxrss);
  free(ws);
  munmap(map, size);
  return 0;
}
