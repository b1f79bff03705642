/* main.c: the sealpub command line: argument parsing, progress, exit codes; uses only sealpub.h. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fetch_docker.h"

#define EXIT_USAGE 2

volatile sig_atomic_t g_cancel;

static void on_signal(int sig)
{
    g_cancel = 1;
    /* A second signal kills at once, for the impatient. */
    signal(sig, SIG_DFL);
}

void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Set by main when --json is anywhere on the command line, so that a usage
 * error found while parsing (before the command knows it was asked for
 * JSON) is still one JSON object on stdout. */
static int g_json_requested;

int usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "sealpub%s%s: %s (see 'sealpub %s%s--help')\n", cmd ? " " : "", cmd ? cmd : "", msg,
            cmd ? cmd : "", cmd ? " " : "");
    if (g_json_requested && cmd) {
        sp_error e = {.status = SP_ERR_USAGE};
        snprintf(e.msg, sizeof(e.msg), "%s", msg);
        json_error(cmd, EXIT_USAGE, &e, NULL, 0, NULL);
    }
    return EXIT_USAGE;
}

int next_option(int argc, char **argv, const char *shortopts, const struct option *opts, const char *cmd,
                const char *help, int *opt_rc)
{
    if (*opt_rc == OPTIONS_START) {
        opterr = 0; /* one line of ours instead of getopt's */
        optind = 1;
        *opt_rc = OPTIONS_DONE;
    }
    int c = getopt_long(argc, argv, shortopts, opts, NULL);
    if (c == 'H' || (c == 'h' && strchr(shortopts, 'h'))) {
        fputs(help, stdout);
        *opt_rc = 0;
        return -1;
    }
    /* '?' is an unknown option, ':' a missing value (shortopts start with ':'). */
    if (c == '?' || c == ':') {
        *opt_rc = usage_error(cmd, c == ':' ? "option '%s' needs a value" : "unknown option '%s'", argv[optind - 1]);
        return -1;
    }
    return c;
}

int extra_operands(const char *cmd, int argc, char **argv, int allowed)
{
    if (optind + allowed >= argc) return 0;
    return usage_error(cmd, "unexpected argument '%s'", argv[optind + allowed]);
}


int report(const char *cmd, const sp_error *err)
{
    fprintf(stderr, "sealpub %s: error: %s\n", cmd, err->msg[0] ? err->msg : sp_status_name(err->status));
    return sp_error_exit_code(err);
}

/* In --json mode a failure is also one JSON object on stdout, so a caller
 * parsing stdout always gets one: the exit code, the status, the message,
 * whether retrying can help, and the warnings collected so far. */
void json_warnings(const char (*warnings)[256], unsigned n)
{
    printf(",\"warnings\":[");
    for (unsigned i = 0; i < n; i++) {
        if (i) putchar(',');
        json_string(stdout, warnings[i]);
    }
    putchar(']');
}

void json_error(const char *cmd, int code, const sp_error *err, const char (*warnings)[256], unsigned nwarnings,
                const char *extra)
{
    json_begin(cmd, 0);
    printf(",\"code\":%d,\"status\":", code);
    json_string(stdout, sp_status_name(err->status));
    json_member(stdout, "message", err->msg[0] ? err->msg : sp_status_name(err->status));
    printf(",\"retryable\":%s", err->retryable ? "true" : "false");
    json_warnings(warnings, nwarnings);
    printf("%s}\n", extra ? extra : "");
}

int report_json(const char *cmd, const sp_error *err, const char (*warnings)[256], unsigned nwarnings)
{
    int code = report(cmd, err);
    json_error(cmd, code, err, warnings, nwarnings, NULL);
    return code;
}

/* Notices (e.g. waiting for another publish of the same identity) as they happen. */
static void on_notice(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "sealpub publish: %s\n", msg);
}

static const char main_help[] =
    "sealpub: compress, encrypt and publish build artifacts\n"
    "\n"
    "usage: sealpub <command> [options]\n"
    "\n"
    "commands:\n"
    "  publish FILE|-   seal an artifact and publish it (object, then registry row)\n"
    "  fetch            download, verify and decrypt a published artifact by name\n"
    "  open FILE.enc    verify and decrypt a container back to the original bytes\n"
    "  inspect FILE.enc print a container's header and index (no key needed)\n"
    "  db init          create the registry table if missing (safe to run twice)\n"
    "  db recover       write the rows kept by publishes whose registry write failed\n"
    "  list             list published artifacts (never keys), newest first\n"
    "  delete           delete artifacts (row, then object), one version or by retention\n"
    "  rewrap           re-wrap registry keys under a new key-encryption key\n"
    "  cleanup          remove what SIGKILLed publishes left (S3 multipart uploads, temp files)\n"
    "  version          print the version (--verbose: CPU features in use)\n"
    "\n"
    "Run 'sealpub <command> --help' for a command's options and examples.\n"
    "Exit codes: 0 ok, 2 usage, 3 bad input, 4 I/O, 5 not a container, 6 authentication\n"
    "failed or truncated, 7 store, 8 registry, 9 exists, 10 crypto, 11 not found,\n"
    "12 store unavailable (retry), 13 registry unavailable (retry), 14 identity busy\n"
    "(retry), 70 internal, 130 interrupted (docs/CLI.md).\n";

static const char publish_help[] =
    "usage: sealpub publish FILE|-|docker-daemon:IMAGE --name NAME --stage STAGE --version VERSION [options]\n"
    "\n"
    "Compresses FILE (or standard input, or the `docker save` archive of IMAGE[:TAG|@DIGEST]\n"
    "read from the Docker engine on $DOCKER_HOST, default unix:///var/run/docker.sock)\n"
    "in chunks, encrypts it under a fresh\n"
    "random AES-256 key, stores it as {stage}/{name}-{arch}-{version}.enc and then\n"
    "records it in the registry. Nothing is left behind on failure.\n"
    "\n"
    "  --name NAME          resource name: A-Z a-z 0-9 . _ -, at most 128 bytes\n"
    "  --stage STAGE        dev stage (dev, stage, main, ...), at most 64 bytes\n"
    "  --arch ARCH          x86_64|amd64|aarch64|arm64|...; stored as amd64/arm64 (default: this host)\n"
    "  --version VERSION    at most 64 bytes\n"
    "  --level N            gzip level 0-12 (default 5; 0 stores; env SEALPUB_LEVEL)\n"
    "  --threads N          worker threads (default: online CPUs; env SEALPUB_THREADS)\n"
    "  --chunk-size SIZE    1M-64M (default 4M; env SEALPUB_CHUNK_SIZE)\n"
    "  --store URL          file:///DIR or s3://BUCKET[/PREFIX] (env SEALPUB_STORE;\n"
    "                       default: the local data folder)\n"
    "  --registry URL       sqlite:///PATH, postgresql://... (env SEALPUB_REGISTRY,\n"
    "                       DATABASE_URL; default: the local data folder)\n"
    "  --on-exists MODE     replace (default: waits for another publish of the same\n"
    "                       object key) or fail (fails at once if one is running)\n"
    "  --lock-timeout SEC   how long replace waits for another publish of the same\n"
    "                       object key (default 600; env SEALPUB_LOCK_TIMEOUT)\n"
    "  --io MODE            pread (default: measured faster here), uring, or auto\n"
    "                       (io_uring with a silent pread fallback)\n"
    "  --content MODE       auto (default: tar if the name or first block says so), tar, raw\n"
    "  --expect-size N      fail unless the input is exactly N bytes\n"
    "  --expect-sha256 HEX  fail unless the input's SHA-256 is HEX\n"
    "  --sse MODE           S3 server-side encryption: AES256 or aws:kms (env SEALPUB_S3_SSE)\n"
    "  --sse-kms-key-id ID  the KMS key for --sse aws:kms (env SEALPUB_S3_SSE_KMS_KEY_ID)\n"
    "  --storage-class C    S3 storage class, e.g. STANDARD_IA (env SEALPUB_S3_STORAGE_CLASS)\n"
    "  --tag KEY=VALUE      S3 object tag; repeat for more (env SEALPUB_S3_TAGS=K=V,K=V)\n"
    "  --dry-run            check every setting, the store, the registry and the claim;\n"
    "                       upload nothing and print the object key and row\n"    "  --json               print one JSON object with the result on stdout\n"
    "  --quiet              no progress and no summary\n"
    "\n"
    "Memory: about (threads + 2) x 2 x chunk size, whatever the input size\n"
    "(32 MiB at 2 threads and 4 MiB chunks).\n"
    "\n"
    "examples:\n"
    "  sealpub publish image.tar --name api --stage dev --arch arm64 --version 1.4.2\n"
    "  sealpub publish docker-daemon:api:1.4.2 --name api --stage dev --version 1.4.2 --json\n"
    "  sealpub publish model.trt --name detector --stage main --version 7 --on-exists fail\n";

static const char open_help[] =
    "usage: sealpub open FILE.enc|- [-o OUT|-] [--key-file FILE] [--registry URL]\n"
    "                    [--expect NAME/STAGE/ARCH/VERSION] [--threads N]\n"
    "\n"
    "Verifies and decrypts a container. The key comes from the registry row named\n"
    "by the container's header, or from --key-file (32 raw bytes or base64). OUT is\n"
    "written through a temporary file and appears only if every chunk and the\n"
    "final record authenticated. Without -o, only verifies. With -o -, bytes are\n"
    "streamed and only trustworthy when the exit code is 0 (use set -o pipefail).\n"
    "--expect refuses a container of any other resource (e.g. an object copied\n"
    "over another's key).\n"
    "\n"
    "examples:\n"
    "  sealpub open api-arm64-1.4.2.enc -o api.tar\n"
    "  sealpub open api-arm64-1.4.2.enc --expect api/dev/arm64/1.4.2 -o api.tar\n"
    "  set -o pipefail; sealpub open api-arm64-1.4.2.enc --key-file key.b64 -o - | docker load\n";

static const char inspect_help[] =
    "usage: sealpub inspect FILE.enc [--json]\n"
    "\n"
    "Prints the header (format, chunk size, artifact id, name, stage, architecture,\n"
    "version) and the chunk index. Needs no key; the index is authenticated only\n"
    "by 'sealpub open'.\n";

int parse_uint_env_or_arg(const char *cmd, const char *what, const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || *end || errno || v < lo || v > hi)
        return usage_error(cmd, "invalid %s '%s': expected an integer %ld-%ld", what, text, lo, hi);
    *out = v;
    return 0;
}

static int parse_size_arg(const char *cmd, const char *what, const char *text, uint64_t *out)
{
    sp_error err = {0};
    if (sp_parse_size(text, out, &err) != SP_OK) return usage_error(cmd, "%s: %s", what, err.msg);
    return 0;
}

/* Progress on a TTY: one carriage-returned line, at most 10 times a second.
 * Elsewhere (CI logs) a heartbeat: one plain line every interval seconds. */
typedef struct progress_state {
    double start, last;
    double interval; /* heartbeat mode when > 0 */
    const char *cmd, *verb; /* "publish", "read" */
} progress_state;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_heartbeat(void *ctx, const sp_progress *p)
{
    progress_state *st = ctx;
    double t = now_s();
    if (t - st->last < st->interval) return;
    st->last = t;
    double mib = (double)p->in_bytes / 1048576.0, rate = mib / (t - st->start > 1e-3 ? t - st->start : 1e-3);
    if (p->total)
        fprintf(stderr, "sealpub %s: %.1f of %.1f MiB %s (%d%%), %.1f MiB/s, %.0f s\n", st->cmd, mib,
                (double)p->total / 1048576.0, st->verb, (int)(100.0 * (double)p->in_bytes / (double)p->total), rate,
                t - st->start);
    else
        fprintf(stderr, "sealpub %s: %.1f MiB %s, %.1f MiB/s, %.0f s\n", st->cmd, mib, st->verb, rate, t - st->start);
}

/* SEALPUB_HEARTBEAT_SECONDS (default 30, 0 = off); non-zero on a bad value. */
static int heartbeat_seconds(const char *cmd, long *secs)
{
    const char *hb = getenv("SEALPUB_HEARTBEAT_SECONDS");
    *secs = 30;
    return hb && parse_uint_env_or_arg(cmd, "SEALPUB_HEARTBEAT_SECONDS", hb, 0, 86400, secs);
}

static void on_progress(void *ctx, const sp_progress *p)
{
    progress_state *st = ctx;
    double t = now_s();
    if (t - st->last < 0.1) return;
    st->last = t;
    double mib = (double)p->in_bytes / 1048576.0, rate = mib / (t - st->start > 1e-3 ? t - st->start : 1e-3);
    if (p->total) {
        int pct = (int)(100.0 * (double)p->in_bytes / (double)p->total);
        int bar = pct / 4;
        fprintf(stderr, "\r[%.*s%*s] %3d%% %9.1f MiB %7.1f MiB/s", bar, "=========================", 25 - bar, "", pct,
                mib, rate);
    } else {
        fprintf(stderr, "\r%9.1f MiB read %7.1f MiB/s", mib, rate);
    }
}

void json_member(FILE *f, const char *key, const char *value)
{
    fprintf(f, ",\"%s\":", key);
    if (value) json_string(f, value);
    else fputs("null", f);
}

void json_identity(FILE *f, const char *name, const char *stage, const char *arch, const char *version)
{
    json_member(f, "name", name);
    json_member(f, "stage", stage);
    json_member(f, "architecture", arch);
    json_member(f, "version", version);
}

void json_begin(const char *cmd, int ok)
{
    printf("{\"schema\":%d,\"command\":", SP_JSON_SCHEMA);
    json_string(stdout, cmd);
    printf(",\"ok\":%s", ok ? "true" : "false");
}

void json_store(const char *desc)
{
    sp_store_parts sp;
    sp_store_parts_from_desc(desc, &sp);
    json_member(stdout, "store", desc);
    printf(",\"store_parts\":{\"scheme\":");
    json_string(stdout, sp.scheme);
    static const char *const names[] = {"bucket", "prefix", "region", "endpoint", "path"};
    const char *vals[] = {sp.bucket, sp.prefix, sp.region, sp.endpoint, sp.path};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        printf(",\"%s\":", names[i]);
        if (vals[i][0]) json_string(stdout, vals[i]);
        else printf("null");
    }
    putchar('}');
}

void json_public_url(FILE *f, const char *object_key)
{
    const char *base = getenv("SEALPUB_PUBLIC_BASE_URL");
    fprintf(f, ",\"public_url\":");
    if (!base || !*base) {
        fprintf(f, "null");
        return;
    }
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/') n--;
    /* '+' (semver build metadata) is percent-encoded: some CDNs and S3
     * website endpoints read a literal '+' in a path as a space. */
    char url[4096];
    int k = snprintf(url, sizeof(url), "%.*s/", (int)n, base);
    for (const char *p = object_key; *p && k + 4 < (int)sizeof(url); p++)
        k += *p == '+' ? snprintf(url + k, sizeof(url) - (size_t)k, "%%2B") : (url[k] = *p, url[k + 1] = '\0', 1);
    json_string(f, url);
}

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* ,"docker_image":{"id":"sha256:...","repo_tags":["api:1.4.2",...]} for a
 * docker-daemon: input. */
static void print_docker_image_json(const sp_publish_result *r)
{
    printf(",\"docker_image\":{\"id\":");
    json_string(stdout, r->docker_image_id);
    printf(",\"repo_tags\":[");
    const char *t = r->docker_repo_tags;
    for (int first = 1; *t; first = 0) {
        size_t n = strcspn(t, "\n");
        char tag[sizeof(r->docker_repo_tags)];
        memcpy(tag, t, n);
        tag[n] = 0;
        if (!first) putchar(',');
        json_string(stdout, tag);
        t += n + (t[n] == '\n');
    }
    printf("]}");
}

/* publish --dry-run: the object key and the row a real publish would write
 * (never a key: none was made), and what it would do to an existing one. */
static int print_dry_run(const sp_publish_opts *o, const sp_publish_result *r, int json)
{
    if (json) {
        json_begin("publish", 1);
        printf(",\"dry_run\":true,\"object_key\":");
        json_string(stdout, r->object_key);
        json_store(r->store);
        json_member(stdout, "registry", r->registry);
        printf(",\"row\":{\"resource_name\":");
        json_string(stdout, o->name);
        json_member(stdout, "dev_stage", o->stage);
        json_member(stdout, "architecture", r->arch);
        json_member(stdout, "version", o->version);
        json_member(stdout, "object_key", r->object_key);
        printf("},\"would_replace\":%s,\"object_exists\":%s,\"level\":%d,\"threads\":%u,\"chunk_size\":%zu",
               r->replaced ? "true" : "false", r->object_exists ? "true" : "false", r->level, r->threads,
               r->chunk_size);
        json_warnings(r->warnings, r->warnings_count);
        printf("}\n");
    } else {
        fprintf(stderr,
                "dry run: nothing uploaded, nothing written\n  object:   %s\n  store:    %s\n  registry: %s\n"
                "  row:      %s/%s/%s/%s%s\n",
                r->object_key, r->store, r->registry, o->name, o->stage, r->arch, o->version,
                r->replaced ? " (would replace the existing row)" : " (new)");
    }
    return 0;
}

static int cmd_publish(int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, 0, 'n'},      {"stage", required_argument, 0, 's'},
        {"arch", required_argument, 0, 'a'},      {"version", required_argument, 0, 'v'},
        {"level", required_argument, 0, 'l'},     {"threads", required_argument, 0, 't'},
        {"chunk-size", required_argument, 0, 'c'}, {"store", required_argument, 0, 'S'},
        {"registry", required_argument, 0, 'R'},  {"on-exists", required_argument, 0, 'e'},
        {"io", required_argument, 0, 'i'},        {"content", required_argument, 0, 'C'},
        {"expect-size", required_argument, 0, 'z'}, {"expect-sha256", required_argument, 0, 'h'},
        {"json", no_argument, 0, 'j'},            {"quiet", no_argument, 0, 'q'},
        {"lock-timeout", required_argument, 0, 'L'}, {"dry-run", no_argument, 0, 'D'},
        {"sse", required_argument, 0, 1001},      {"sse-kms-key-id", required_argument, 0, 1002},
        {"storage-class", required_argument, 0, 1003}, {"tag", required_argument, 0, 1004},
        {"help", no_argument, 0, 'H'},            {0, 0, 0, 0},
    };
    sp_publish_opts o;
    sp_publish_opts_init(&o);
    int json = 0, quiet = 0, c;
    char tags[3000] = "";
    size_t tags_len = 0;
    long v;
    uint64_t size;
    const char *env;
    /* Environment defaults first, validated like flags; flags override. */
    if ((env = getenv("SEALPUB_LEVEL")) && *env) {
        if (parse_uint_env_or_arg("publish", "SEALPUB_LEVEL", env, 0, 12, &v)) return EXIT_USAGE;
        o.level = (int)v;
    }
    if ((env = getenv("SEALPUB_THREADS")) && *env) {
        if (parse_uint_env_or_arg("publish", "SEALPUB_THREADS", env, 1, 1024, &v)) return EXIT_USAGE;
        o.threads = (unsigned)v;
    }
    if ((env = getenv("SEALPUB_CHUNK_SIZE")) && *env) {
        if (parse_size_arg("publish", "SEALPUB_CHUNK_SIZE", env, &size)) return EXIT_USAGE;
        if (size < SP_CHUNK_MIN || size > SP_CHUNK_MAX)
            return usage_error("publish", "SEALPUB_CHUNK_SIZE '%s' out of range 1M-64M", env);
        o.chunk_size = (size_t)size;
    }
    int opt_rc = OPTIONS_START;
    while ((c = next_option(argc, argv, ":", opts, "publish", publish_help, &opt_rc)) != -1) {
        switch (c) {
        case 'n': o.name = optarg; break;
        case 's': o.stage = optarg; break;
        case 'a': o.arch = optarg; break;
        case 'v': o.version = optarg; break;
        case 'l':
            if (parse_uint_env_or_arg("publish", "--level", optarg, 0, 12, &v)) return EXIT_USAGE;
            o.level = (int)v;
            break;
        case 't':
            if (parse_uint_env_or_arg("publish", "--threads", optarg, 1, 1024, &v)) return EXIT_USAGE;
            o.threads = (unsigned)v;
            break;
        case 'c':
            if (parse_size_arg("publish", "--chunk-size", optarg, &size)) return EXIT_USAGE;
            if (size < SP_CHUNK_MIN || size > SP_CHUNK_MAX)
                return usage_error("publish", "--chunk-size %s out of range 1M-64M", optarg);
            o.chunk_size = (size_t)size;
            break;
        case 'S': o.store_url = optarg; break;
        case 'R': o.registry_url = optarg; break;
        case 'e':
            if (strcmp(optarg, "replace") == 0) o.on_exists = SP_ON_EXISTS_REPLACE;
            else if (strcmp(optarg, "fail") == 0) o.on_exists = SP_ON_EXISTS_FAIL;
            else return usage_error("publish", "--on-exists must be replace or fail, not '%s'", optarg);
            break;
        case 'i':
            if (strcmp(optarg, "auto") == 0) o.io_mode = SP_IO_AUTO;
            else if (strcmp(optarg, "uring") == 0) o.io_mode = SP_IO_URING;
            else if (strcmp(optarg, "pread") == 0) o.io_mode = SP_IO_PREAD;
            else return usage_error("publish", "--io must be auto, uring or pread, not '%s'", optarg);
            break;
        case 'C':
            if (strcmp(optarg, "auto") == 0) o.content_tar = -1;
            else if (strcmp(optarg, "tar") == 0) o.content_tar = 1;
            else if (strcmp(optarg, "raw") == 0) o.content_tar = 0;
            else return usage_error("publish", "--content must be auto, tar or raw, not '%s'", optarg);
            break;
        case 'z':
            if (parse_size_arg("publish", "--expect-size", optarg, &o.expect_size)) return EXIT_USAGE;
            break;
        case 'h': o.expect_sha256 = optarg; break;
        case 'j': json = 1; break;
        case 'q': quiet = 1; break;
        case 'L':
            if (parse_uint_env_or_arg("publish", "--lock-timeout", optarg, 0, 86400, &v)) return EXIT_USAGE;
            o.lock_timeout = (double)v;
            break;
        case 'D': o.dry_run = 1; break;
        /* S3 object settings: the flags set the same SEALPUB_S3_* variables the
         * store reads (docs/CLI.md), so flag and variable cannot disagree. */
        case 1001:
            if (strcmp(optarg, "AES256") != 0 && strcmp(optarg, "aws:kms") != 0)
                return usage_error("publish", "--sse must be AES256 or aws:kms, not '%s'", optarg);
            setenv("SEALPUB_S3_SSE", optarg, 1);
            break;
        case 1002: setenv("SEALPUB_S3_SSE_KMS_KEY_ID", optarg, 1); break;
        case 1003: setenv("SEALPUB_S3_STORAGE_CLASS", optarg, 1); break;
        case 1004: {
            if (!strchr(optarg, '=') || strchr(optarg, ','))
                return usage_error("publish", "--tag must be KEY=VALUE (repeat it for more), not '%s'", optarg);
            if (tags_len + strlen(optarg) + 2 > sizeof(tags))
                return usage_error("publish", "too many --tag values");
            tags_len += (size_t)snprintf(tags + tags_len, sizeof(tags) - tags_len, "%s%s", tags_len ? "," : "", optarg);
            break;
        }
        }
    }
    if (opt_rc != OPTIONS_DONE) return opt_rc;
    if (optind >= argc) return usage_error("publish", "no input: give FILE or - for standard input");
    if (extra_operands("publish", argc, argv, 1)) return EXIT_USAGE;
    o.input = argv[optind];
    if (!o.name) return usage_error("publish", "--name is required");
    if (!o.stage) return usage_error("publish", "--stage is required");
    if (!o.version) return usage_error("publish", "--version is required");
    progress_state ps = {.start = now_s(), .cmd = "publish", .verb = "read"};
    ps.last = ps.start;
    /* Non-TTY (CI logs): a heartbeat line; SEALPUB_HEARTBEAT_SECONDS, 0 = off. */
    long secs = 30;
    if (heartbeat_seconds("publish", &secs)) return EXIT_USAGE;
    if (!quiet && !json && isatty(STDERR_FILENO)) {
        o.progress = on_progress;
        o.progress_ctx = &ps;
    } else if (!quiet) {
        ps.interval = (double)secs;
        if (secs > 0) {
            o.progress = on_heartbeat;
            o.progress_ctx = &ps;
        }
    }
    if (tags_len) setenv("SEALPUB_S3_TAGS", tags, 1);
    if (!quiet) o.notice = on_notice;
    install_signals();
    o.cancel = (volatile const int *)&g_cancel;
    sp_publish_result r;
    sp_error err = {0};
    sp_status s = sp_publish(&o, &r, &err);
    if (o.progress == on_progress) fputs("\r\033[K", stderr);
    if (s != SP_OK && json) return report_json("publish", &err, r.warnings, r.warnings_count);
    if (s != SP_OK) return report("publish", &err);
    if (r.dry_run) return print_dry_run(&o, &r, json);
    double ratio = r.plain_size ? (double)r.stored_size / (double)r.plain_size : 1.0;
    double mbps = r.seconds > 0 ? (double)r.plain_size / 1e6 / r.seconds : 0;
    if (json) {
        json_begin("publish", 1);
        printf(",\"dry_run\":false,\"object_key\":");
        json_string(stdout, r.object_key);
        json_store(r.store);
        json_member(stdout, "registry", r.registry);
        json_identity(stdout, o.name, o.stage, r.arch, o.version);
        printf(",\"sha256\":\"%s\",\"artifact_id\":\"%s\",\"plain_size\":%llu,\"stored_size\":%llu,"
               "\"ratio\":%.4f,\"chunks\":%llu,\"chunks_stored\":%llu,\"chunks_fast\":%llu,"
               "\"chunks_deflated\":%llu,\"level\":%d,\"threads\":%u,"
               "\"chunk_size\":%zu,\"replaced\":%s,\"seconds\":%.3f,\"mb_per_s\":%.1f",
               r.sha256, r.artifact_id, (unsigned long long)r.plain_size, (unsigned long long)r.stored_size, ratio,
               (unsigned long long)r.chunks, (unsigned long long)r.chunks_stored_raw,
               (unsigned long long)r.chunks_fast, (unsigned long long)r.chunks_deflated, r.level, r.threads,
               r.chunk_size, r.replaced ? "true" : "false", r.seconds, mbps);
        if (r.docker_image_id[0]) print_docker_image_json(&r);
        json_public_url(stdout, r.object_key);
        /* The S3 object settings in force (flags or SEALPUB_S3_*), null when unset. */
        static const char *const s3_settings[][2] = {{"sse", "SEALPUB_S3_SSE"},
                                                     {"sse_kms_key_id", "SEALPUB_S3_SSE_KMS_KEY_ID"},
                                                     {"storage_class", "SEALPUB_S3_STORAGE_CLASS"},
                                                     {"tags", "SEALPUB_S3_TAGS"}};
        for (size_t i = 0; i < sizeof(s3_settings) / sizeof(s3_settings[0]); i++) {
            const char *setting = getenv(s3_settings[i][1]);
            printf(",\"%s\":", s3_settings[i][0]);
            if (setting && *setting) json_string(stdout, setting);
            else printf("null");
        }
        printf(",\"claim_wait_seconds\":%.3f", r.claim_wait_seconds);
        json_warnings(r.warnings, r.warnings_count);
        printf("}\n");
    } else if (!quiet) {
        if (!o.store_url && !getenv("SEALPUB_STORE"))
            fprintf(stderr, "sealpub: no store configured: used the local data folder (see --store)\n");
        fprintf(stderr,
                "published %s%s\n  store:    %s\n  registry: %s\n  size:     %llu -> %llu bytes (%.1f%%)\n"
                "  sha256:   %s\n  time:     %.2f s (%.1f MB/s)\n",
                r.object_key, r.replaced ? " (replaced the previous version)" : "", r.store, r.registry,
                (unsigned long long)r.plain_size, (unsigned long long)r.stored_size, 100.0 * ratio, r.sha256,
                r.seconds, mbps);
    }
    return 0;
}

static int cmd_open(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"key-file", required_argument, 0, 'k'},
        {"registry", required_argument, 0, 'R'}, {"quiet", no_argument, 0, 'q'},
        {"expect", required_argument, 0, 'x'},  {"help", no_argument, 0, 'H'},
        {"threads", required_argument, 0, 'T'}, {"json", no_argument, 0, 'j'},
        {0, 0, 0, 0},
    };
    char expect[4 * 130], *parts[4] = {0};
    long tv;
    sp_open_opts o;
    sp_open_opts_init(&o);
    int quiet = 0, json = 0, c;
    int opt_rc = OPTIONS_START;
    while ((c = next_option(argc, argv, ":o:", opts, "open", open_help, &opt_rc)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'o': o.output = optarg; break;
        case 'k': o.key_file = optarg; break;
        case 'R': o.registry_url = optarg; break;
        case 'q': quiet = 1; break;
        case 'x': {
            snprintf(expect, sizeof(expect), "%s", optarg);
            char *save = NULL, *tok = strtok_r(expect, "/", &save);
            int k = 0;
            for (; tok && k < 4; tok = strtok_r(NULL, "/", &save)) parts[k++] = tok;
            if (k != 4 || tok) return usage_error("open", "--expect takes NAME/STAGE/ARCH/VERSION, not '%s'", optarg);
            o.expect_name = parts[0];
            o.expect_stage = parts[1];
            o.expect_arch = parts[2];
            o.expect_version = parts[3];
            break;
        }
        case 'T':
            if (parse_uint_env_or_arg("open", "--threads", optarg, 1, 64, &tv)) return EXIT_USAGE;
            o.threads = (unsigned)tv;
            break;
        }
    }
    if (opt_rc != OPTIONS_DONE) return opt_rc;
    if (optind >= argc) return usage_error("open", "no container given");
    if (extra_operands("open", argc, argv, 1)) return EXIT_USAGE;
    o.input = argv[optind];
    if (json && o.output && strcmp(o.output, "-") == 0)
        return usage_error("open", "--json with -o - would mix the result into the data on stdout");
    /* A signal ends the open cleanly: the output, nameless until verified, vanishes. */
    install_signals();
    o.cancel = (volatile const int *)&g_cancel;
    sp_open_result r;
    sp_error err = {0};
    if (sp_open(&o, &r, &err) != SP_OK) return json ? report_json("open", &err, NULL, 0) : report("open", &err);
    if (json) {
        json_begin("open", 1);
        json_identity(stdout, r.name, r.stage, r.arch, r.version);
        printf(",\"plain_size\":%llu,\"stored_size\":%llu,\"chunks\":%llu,\"verified\":true,\"written\":%s}\n",
               (unsigned long long)r.plain_size, (unsigned long long)r.stored_size, (unsigned long long)r.chunks,
               o.output ? "true" : "false");
        return 0;
    }
    if (!quiet)
        fprintf(stderr, "%s %s/%s/%s/%s: %llu bytes in %llu chunks, all authenticated%s%s\n",
                o.output ? "opened" : "verified", r.name, r.stage, r.arch, r.version,
                (unsigned long long)r.plain_size, (unsigned long long)r.chunks,
                o.output && strcmp(o.output, "-") ? " -> " : "", o.output && strcmp(o.output, "-") ? o.output : "");
    return 0;
}

static const char fetch_help[] =
    "usage: sealpub fetch --name N --stage S [--arch A] (--version V | --latest)\n"
    "                     (-o OUT|- | --verify | --docker-load)\n"
    "                     [--store URL | --via-public-url] [--registry URL] [--parallel N] [--threads N]\n"
    "                     [--json] [--quiet]\n"
    "\n"
    "Looks up the registry row, downloads the object with parallel ranged reads,\n"
    "checks its size and SHA-256 against the row and its header against the row's\n"
    "name/stage/arch/version, decrypts and inflates it. OUT is written through a\n"
    "temporary file and appears only when every check passed. --verify does\n"
    "everything but write. --docker-load loads the image archive into the Docker\n"
    "engine on $DOCKER_HOST (POST /images/load), only after all of it was verified\n"
    "(it is fetched to a private temporary file under $TMPDIR first).\n"
    "--via-public-url downloads with unsigned HTTPS GETs from $SEALPUB_PUBLIC_BASE_URL\n"
    "(the CDN in front of the bucket) and verifies exactly as from S3.\n"
    "\n"
    "examples:\n"
    "  sealpub fetch --name api --stage dev --arch arm64 --version 1.4.2 -o api.tar\n"
    "  sealpub fetch --name api --stage main --latest --docker-load\n"
    "  sealpub fetch --name detector --stage main --latest --verify\n";

/* A fetch that found no row for this architecture says which ones exist
 * (a loader on an arm64 host asking for an image published for amd64). */
typedef struct arch_seen {
    const char *want;
    char list[200];
} arch_seen;

static int note_arch(void *ctx, const sp_artifact *a)
{
    arch_seen *seen = ctx;
    if (strcmp(a->arch, seen->want) == 0 || strstr(seen->list, a->arch)) return 0;
    size_t n = strlen(seen->list);
    snprintf(seen->list + n, sizeof(seen->list) - n, "%s%s", n ? ", " : "", a->arch);
    return 0;
}

static void hint_other_arches(const sp_fetch_opts *o, sp_error *err)
{
    sp_list_opts lo;
    sp_list_opts_init(&lo);
    lo.registry_url = o->registry_url;
    lo.name = o->name;
    lo.stage = o->stage;
    lo.limit = 1000;
    char want[SP_FIELD_MAX + 1] = "";
    sp_error e = {0};
    if (sp_canonical_arch(o->arch, want, &e) != SP_OK) return;
    arch_seen seen = {want, ""};
    if (sp_list(&lo, note_arch, &seen, &e) != SP_OK || !seen.list[0]) return;
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof(err->msg) - n, "; %s/%s exists for architecture %s (use --arch)", o->name, o->stage,
             seen.list);
}

static int cmd_fetch(int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, 0, 'n'},     {"stage", required_argument, 0, 's'},
        {"arch", required_argument, 0, 'a'},     {"version", required_argument, 0, 'v'},
        {"latest", no_argument, 0, 'L'},         {"output", required_argument, 0, 'o'},
        {"verify", no_argument, 0, 'V'},         {"store", required_argument, 0, 'S'},
        {"registry", required_argument, 0, 'R'}, {"parallel", required_argument, 0, 'p'},
        {"json", no_argument, 0, 'j'},           {"quiet", no_argument, 0, 'q'},
        {"docker-load", no_argument, 0, 'D'},    {"help", no_argument, 0, 'H'},
        {"threads", required_argument, 0, 'T'},  {"via-public-url", no_argument, 0, 'P'},
        {0, 0, 0, 0},
    };
    int docker_load = 0, via_public = 0;
    char loaded[1024] = "";
    sp_fetch_opts o;
    sp_fetch_opts_init(&o);
    int latest = 0, verify = 0, json = 0, quiet = 0, c;
    long v;
    int opt_rc = OPTIONS_START;
    while ((c = next_option(argc, argv, ":o:", opts, "fetch", fetch_help, &opt_rc)) != -1) {
        switch (c) {
        case 'n': o.name = optarg; break;
        case 's': o.stage = optarg; break;
        case 'a': o.arch = optarg; break;
        case 'v': o.version = optarg; break;
        case 'L': latest = 1; break;
        case 'o': o.output = optarg; break;
        case 'V': verify = 1; break;
        case 'D': docker_load = 1; break;
        case 'P': via_public = 1; break;
        case 'S': o.store_url = optarg; break;
        case 'R': o.registry_url = optarg; break;
        case 'p':
            if (parse_uint_env_or_arg("fetch", "--parallel", optarg, 1, 64, &v)) return EXIT_USAGE;
            o.parallel = (unsigned)v;
            break;
        case 'T':
            if (parse_uint_env_or_arg("fetch", "--threads", optarg, 1, 64, &v)) return EXIT_USAGE;
            o.threads = (unsigned)v;
            break;
        case 'j': json = 1; break;
        case 'q': quiet = 1; break;
        }
    }
    if (opt_rc != OPTIONS_DONE) return opt_rc;
    if (extra_operands("fetch", argc, argv, 0)) return EXIT_USAGE;
    if (!o.name) return usage_error("fetch", "--name is required");
    if (!o.stage) return usage_error("fetch", "--stage is required");
    if (!o.version == !latest) return usage_error("fetch", "give exactly one of --version V and --latest");
    if ((o.output != NULL) + verify + docker_load != 1)
        return usage_error("fetch", "give exactly one of -o OUT, --verify and --docker-load");
    if (json && o.output && strcmp(o.output, "-") == 0)
        return usage_error("fetch", "--json with -o - would mix the result into the data on stdout");
    long hb_secs = 30;
    if (heartbeat_seconds("fetch", &hb_secs)) return EXIT_USAGE;
    progress_state ps = {.start = now_s(), .cmd = "fetch", .verb = "downloaded", .interval = (double)hb_secs};
    ps.last = ps.start;
    if (!quiet && hb_secs > 0) {
        /* A heartbeat line for logs (the fetch has no progress bar). */
        o.progress = on_heartbeat;
        o.progress_ctx = &ps;
    }
    if (via_public) {
        /* The CDN in front of the bucket: unsigned GETs of BASE/OBJECT_KEY,
         * verified against the row exactly like the S3 path. */
        const char *base = getenv("SEALPUB_PUBLIC_BASE_URL");
        if (o.store_url) return usage_error("fetch", "give --store or --via-public-url, not both");
        if (!base || !*base)
            return usage_error("fetch", "--via-public-url needs SEALPUB_PUBLIC_BASE_URL (the CDN's base URL for the store)");
        o.store_url = base;
    }
    install_signals();
    o.cancel = (volatile const int *)&g_cancel;
    sp_fetch_result r;
    sp_error err = {0};
    if ((docker_load ? cli_fetch_docker_load(&o, &r, loaded, sizeof(loaded), &err) : sp_fetch(&o, &r, &err)) != SP_OK) {
        if (err.status == SP_ERR_NOT_FOUND) hint_other_arches(&o, &err);
        return json ? report_json("fetch", &err, NULL, 0) : report("fetch", &err);
    }
    double mbps = r.seconds > 0 ? (double)r.stored_size / 1e6 / r.seconds : 0;
    if (json) {
        json_begin("fetch", 1);
        json_member(stdout, "object_key", r.object_key);
        json_member(stdout, "name", o.name);
        json_member(stdout, "stage", o.stage);
        json_member(stdout, "version", r.version);
        printf(",\"sha256\":\"%s\",\"plain_size\":%llu,\"stored_size\":%llu,\"chunks\":%llu,\"verified\":true,"
               "\"written\":%s,\"seconds\":%.3f,\"mb_per_s\":%.1f",
               r.sha256, (unsigned long long)r.plain_size, (unsigned long long)r.stored_size,
               (unsigned long long)r.chunks, o.output ? "true" : "false", r.seconds, mbps);
        if (docker_load) {
            json_member(stdout, "docker_loaded", loaded);
        }
        printf("}\n");
    } else if (!quiet) {
        fprintf(stderr, "%s %s (version %s): %llu bytes, sha256 %s, all chunks authenticated%s%s (%.2f s, %.1f MB/s)\n",
                verify ? "verified" : "fetched", r.object_key, r.version, (unsigned long long)r.plain_size, r.sha256,
                o.output && strcmp(o.output, "-") ? " -> " : "", o.output && strcmp(o.output, "-") ? o.output : "",
                r.seconds, mbps);
        if (docker_load) fprintf(stderr, "loaded into the docker engine: %s\n", loaded);
    }
    return 0;
}

static int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'H'}, {0, 0, 0, 0}};
    int json = 0, c;
    int opt_rc = OPTIONS_START;
    while ((c = next_option(argc, argv, ":", opts, "inspect", inspect_help, &opt_rc)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        }
    }
    if (opt_rc != OPTIONS_DONE) return opt_rc;
    if (optind >= argc) return usage_error("inspect", "no container given");
    if (extra_operands("inspect", argc, argv, 1)) return EXIT_USAGE;
    sp_error err = {0};
    if (sp_inspect(argv[optind], json, stdout, &err) != SP_OK)
        return json ? report_json("inspect", &err, NULL, 0) : report("inspect", &err);
    return 0;
}

static const char db_help[] =
    "usage: sealpub db init    [--registry URL]\n"
    "       sealpub db recover [--registry URL] [--store URL] [--json]\n"
    "\n"
    "init creates the registry table ($SEALPUB_TABLE, default resources) and its\n"
    "unique keys if missing, and checks an existing table's columns and keys;\n"
    "safe to run twice.\n"
    "recover writes the rows kept in the recovery journal ($SEALPUB_RECOVERY_DIR,\n"
    "else <data folder>/recovery) by publishes whose object was stored but whose\n"
    "row could not be written; an entry whose object was replaced since is dropped.\n";

static int cmd_db_recover(const char *registry, const char *store, int json)
{
    sp_recover_result rr = {0};
    sp_error err = {0};
    if (sp_registry_recover(store, registry, &rr, &err) != SP_OK)
        return json ? report_json("db recover", &err, NULL, 0) : report("db recover", &err);
    if (json)
        json_begin("db recover", 1), printf(",\"replayed\":%u,\"obsolete\":%u,\"remaining\":%u}\n", rr.replayed,
                                            rr.obsolete, rr.remaining);
    else
        fprintf(stderr, "recovered %u row(s); dropped %u obsolete entr%s; %u left\n", rr.replayed, rr.obsolete,
                rr.obsolete == 1 ? "y" : "ies", rr.remaining);
    return 0;
}

static int cmd_db(int argc, char **argv)
{
    static const struct option opts[] = {
        {"registry", required_argument, 0, 'R'}, {"store", required_argument, 0, 'S'},
        {"json", no_argument, 0, 'j'},           {"help", no_argument, 0, 'H'}, {0, 0, 0, 0}};
    const char *url = NULL, *store = NULL;
    int c, json = 0;
    int opt_rc = OPTIONS_START;
    while ((c = next_option(argc, argv, ":", opts, "db", db_help, &opt_rc)) != -1) {
        switch (c) {
        case 'R': url = optarg; break;
        case 'S': store = optarg; break;
        case 'j': json = 1; break;
        }
    }
    if (opt_rc != OPTIONS_DONE) return opt_rc;
    if (optind < argc && strcmp(argv[optind], "recover") == 0) return cmd_db_recover(url, store, json);
    if (optind >= argc || strcmp(argv[optind], "init") != 0)
        return usage_error("db", "expected 'init' or 'recover'%s%s", optind < argc ? ", not " : "",
                           optind < argc ? argv[optind] : "");
    char where[1024] = "";
    sp_error err = {0};
    if (sp_registry_init(url, where, sizeof(where), &err) != SP_OK)
        return json ? report_json("db init", &err, NULL, 0) : report("db init", &err);
    if (json) {
        json_begin("db init", 1);
        json_member(stdout, "registry", where);
        printf("}\n");
        return 0;
    }
    fprintf(stderr, "registry ready: %s\n", where);
    return 0;
}

static const char cleanup_help[] =
    "usage: sealpub cleanup [--store URL] [--older-than SECONDS]\n\n"
    "Removes what a publish killed with SIGKILL leaves behind, older than SECONDS\n"
    "(default 3600): an s3:// store's multipart uploads under its prefix (aborted),\n"
    "a file:// store's temporary files. Uploads in progress are younger than that;\n"
    "pass 0 only when no publish is running.\n";

static int cmd_cleanup(int argc, char **argv)
{
    static const struct option opts[] = {{"store", required_argument, 0, 'S'},
                                         {"older-than", required_argument, 0, 'o'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'H'},
                                         {0, 0, 0, 0}};
    const char *store = NULL;
    long older = 3600;
    int c, json = 0;
    int opt_rc = OPTIONS_START;
    while ((c = next_option(argc, argv, ":", opts, "cleanup", cleanup_help, &opt_rc)) != -1) {
        switch (c) {
        case 'S': store = optarg; break;
        case 'j': json = 1; break;
        case 'o':
            if (parse_uint_env_or_arg("cleanup", "--older-than", optarg, 0, 100L * 365 * 86400, &older))
                return EXIT_USAGE;
            break;
        }
    }
    if (opt_rc != OPTIONS_DONE) return opt_rc;
    if (extra_operands("cleanup", argc, argv, 0)) return EXIT_USAGE;
    unsigned removed = 0;
    sp_error err = {0};
    if (sp_store_cleanup(store, older, &removed, &err) != SP_OK)
        return json ? report_json("cleanup", &err, NULL, 0) : report("cleanup", &err);
    if (json) {
        json_begin("cleanup", 1);
        printf(",\"removed\":%u,\"older_than_seconds\":%ld}\n", removed, older);
        return 0;
    }
    const char *url = store ? store : getenv("SEALPUB_STORE");
    if (url && !strncmp(url, "s3://", 5))
        fprintf(stderr, "cleanup: aborted %u stale multipart upload%s\n", removed, removed == 1 ? "" : "s");
    else
        fprintf(stderr, "cleanup: removed %u stale temporary file%s\n", removed, removed == 1 ? "" : "s");
    return 0;
}

static int cmd_version(int argc, char **argv)
{
    int verbose = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            verbose = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--help") == 0) {
            puts("usage: sealpub version [--verbose] [--json]\n\n--verbose adds the CPU features OpenSSL and libdeflate use.\n"
                 "--verbose --json prints one JSON object: version, commit, build flags, library versions,\n"
                 "CPU features and counts (default threads), the codec at each level.");
            return 0;
        } else {
            return usage_error("version", "unknown option '%s'", argv[i]);
        }
    }
    if (json && !verbose) {
        json_begin("version", 1);
        json_member(stdout, "version", sp_version());
        printf("}\n");
        return 0;
    }
    if (json) {
        size_t n = sp_build_info_json(NULL, 0);
        char *info = malloc(n + 1);
        if (!info) {
            fprintf(stderr, "sealpub version: error: out of memory\n");
            return EXIT_FAILURE;
        }
        sp_build_info_json(info, n + 1);
        /* The library's object, inside the CLI's envelope. */
        json_begin("version", 1);
        printf(",%s\n", info[0] == '{' ? info + 1 : info);
        free(info);
        return 0;
    }
    printf("sealpub %s\n", sp_version());
    if (verbose) {
        char features[512];
        sp_cpu_features(features, sizeof(features));
        printf("%s\n", features);
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* Keys live in OpenSSL's and libpq's heap too: no core dumps at all. */
    (void)sp_disable_core_dumps();
    if (argc < 2) {
        fputs(main_help, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--json") == 0) g_json_requested = 1;
    /* "sealpub help CMD" and "sealpub CMD -h" are "sealpub CMD --help". */
    static char help_flag[] = "--help";
    char *help_argv[4] = {argv[0], NULL, help_flag, NULL};
    if (strcmp(cmd, "help") == 0 && argc >= 3) {
        help_argv[1] = argv[2];
        argv = help_argv;
        argc = 3;
        cmd = argv[1];
    } else if (argc >= 3 && strcmp(argv[2], "-h") == 0) {
        argv[2] = help_flag;
    }
    if (strcmp(cmd, "-V") == 0) cmd = "version";
    if (strcmp(cmd, "publish") == 0) return cmd_publish(argc - 1, argv + 1);
    if (strcmp(cmd, "open") == 0) return cmd_open(argc - 1, argv + 1);
    if (strcmp(cmd, "inspect") == 0) return cmd_inspect(argc - 1, argv + 1);
    if (strcmp(cmd, "fetch") == 0) return cmd_fetch(argc - 1, argv + 1);
    if (strcmp(cmd, "cleanup") == 0) return cmd_cleanup(argc - 1, argv + 1);
    if (strcmp(cmd, "db") == 0) return cmd_db(argc - 1, argv + 1);
    if (strcmp(cmd, "list") == 0) return cmd_list(argc - 1, argv + 1);
    if (strcmp(cmd, "delete") == 0) return cmd_delete(argc - 1, argv + 1);
    if (strcmp(cmd, "rewrap") == 0) return cmd_rewrap(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) return cmd_version(argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(main_help, stdout);
        return 0;
    }
    return usage_error(NULL, "unknown command '%s'", cmd);
}
