/* sealpub.h: the public API of libsealpub, the sealed artifact publisher. */
#ifndef SEALPUB_SEALPUB_H
#define SEALPUB_SEALPUB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SP_MUST_USE __attribute__((warn_unused_result))
#else
#define SP_MUST_USE
#endif

/* Every fallible call returns one of these. The CLI maps them to exit codes
 * (see sp_status_exit_code and docs/CLI.md). */
typedef enum sp_status {
    SP_OK = 0,
    SP_ERR_USAGE,       /* bad argument, name, size or environment value */
    SP_ERR_INPUT,       /* input missing, unreadable, changed or truncated */
    SP_ERR_IO,          /* local read/write failure */
    SP_ERR_NOMEM,       /* allocation failed */
    SP_ERR_CRYPTO,      /* the crypto library failed (not an auth failure) */
    SP_ERR_FORMAT,      /* not a sealpub container, or malformed */
    SP_ERR_AUTH,        /* authentication failed: wrong key or tampered data */
    SP_ERR_TRUNCATED,   /* container ends before its authenticated end */
    SP_ERR_STORE,       /* the object store failed */
    SP_ERR_REGISTRY,    /* the registry failed */
    SP_ERR_EXISTS,      /* the resource exists and --on-exists fail */
    SP_ERR_NOT_FOUND,   /* no such resource / object */
    SP_ERR_INTERRUPTED, /* SIGINT/SIGTERM or a cancel request */
    SP_ERR_INTERNAL,    /* a bug: please report */
    SP_ERR_BUSY,        /* another publish holds the identity past --lock-timeout */
    SP_STATUS_COUNT
} sp_status;

/* A caller-owned error record filled by failing calls: the status plus one
 * line of detail (never a key, credential or connection string), and whether
 * the same call may succeed if retried later unchanged (a refused or reset
 * connection, a timeout, HTTP 5xx/SlowDown, a lock wait that timed out) or
 * cannot (bad credentials, a missing bucket or table, bad input). */
typedef struct sp_error {
    sp_status status;
    char msg[512];
    int retryable;
} sp_error;

/* Static strings; never NULL. */
const char *sp_status_name(sp_status s);
int sp_status_exit_code(sp_status s);

/* Makes the calling process non-dumpable (PR_SET_DUMPABLE 0) and sets
 * RLIMIT_CORE to 0, so no core file or /proc/PID/mem reader of another
 * user sees its keys: call it first thing in a program that handles keys.
 * Affects the whole process. Returns 0, or -1 with errno when either step
 * failed (both are tried). */
int sp_disable_core_dumps(void);
/* The exit code for a failure: sp_status_exit_code, except that a retryable
 * store or registry failure has its own code (docs/CLI.md, "Exit codes"). */
int sp_error_exit_code(const sp_error *e);
const char *sp_version(void);
/* The default thread count: the CPUs this process may use, that is its
 * affinity mask (taskset, a cpuset) capped by a cgroup v1/v2 CPU quota
 * rounded up (a container limited to 2 CPUs gets 2 on any host), at least 1. */
unsigned sp_default_threads(void);

/* Limits of the container format (docs/FORMAT.md). */
#define SP_CHUNK_MIN ((size_t)1 << 20)
#define SP_CHUNK_MAX ((size_t)64 << 20)
#define SP_CHUNK_DEFAULT ((size_t)4 << 20)
#define SP_LEVEL_MAX 12
#define SP_NAME_MAX 128     /* resource name */
#define SP_FIELD_MAX 64     /* stage, architecture, version */
#define SP_KEY_BYTES 32
#define SP_OBJECT_KEY_MAX 1024

typedef enum sp_on_exists { SP_ON_EXISTS_REPLACE = 0, SP_ON_EXISTS_FAIL } sp_on_exists;
/* AUTO: io_uring, falling back to pread silently. The default is PREAD:
 * it measured faster than io_uring here, warm and cold (docs/BENCHMARKS.md). */
typedef enum sp_io_mode { SP_IO_AUTO = 0, SP_IO_URING, SP_IO_PREAD } sp_io_mode;

/* Name checks shared by the CLI and the library: [A-Za-z0-9._-], not starting
 * with a dot, 1..max bytes. Return SP_OK or SP_ERR_USAGE with a message. */
SP_MUST_USE sp_status sp_validate_name(const char *what, const char *value, size_t max, sp_error *err);
/* A version: a name (above), optionally followed by semver build metadata,
 * "+" and [A-Za-z0-9.-]+ ("1.4.2+build.7"); 1..64 bytes in all. The "+"
 * stays in the object key (S3 requests carry it percent-encoded, %2B). */
SP_MUST_USE sp_status sp_validate_version(const char *value, sp_error *err);
/* Canonicalises an architecture to one of a closed set (amd64, arm64, 386,
 * arm, ppc64le, s390x, riscv64), accepting the spellings listed by
 * sp_arch_spellings (x86_64, aarch64, Docker's linux/arm64, ...); anything
 * else is SP_ERR_USAGE. NULL or "" means the host's. */
SP_MUST_USE sp_status sp_canonical_arch(const char *in, char out[SP_FIELD_MAX + 1], sp_error *err);
/* The accepted spellings of canonical architecture i (0-based), as one
 * comma-separated static string, with the canonical name in *canonical;
 * NULL past the last one. docs/CLI.md and docs/FORMAT.md print this table. */
const char *sp_arch_spellings(size_t i, const char **canonical);
/* Parses "4M", "4MiB", "1048576", "64m": bytes, binary multiples. */
SP_MUST_USE sp_status sp_parse_size(const char *text, uint64_t *out, sp_error *err);
/* "{stage}/{name}-{arch}-{version}.enc" */
SP_MUST_USE sp_status sp_object_key(const char *name, const char *stage, const char *arch,
                                    const char *version, char *out, size_t cap, sp_error *err);
/* The default data folder ($SEALPUB_HOME, else $XDG_DATA_HOME/sealpub, else
 * ~/.local/share/sealpub), created if missing. */
SP_MUST_USE sp_status sp_default_home(char *out, size_t cap, sp_error *err);

typedef struct sp_progress {
    uint64_t in_bytes;   /* plaintext consumed so far */
    uint64_t out_bytes;  /* container bytes handed to the store */
    uint64_t total;      /* input size if known, else 0 */
} sp_progress;
typedef void (*sp_progress_fn)(void *ctx, const sp_progress *p);

typedef struct sp_publish_opts {
    /* A path, "-" for standard input, or "docker-daemon:IMAGE[:TAG|@DIGEST]":
     * that image's `docker save` archive, streamed from the Docker Engine API
     * on $DOCKER_HOST (unix:// only; default unix:///var/run/docker.sock). */
    const char *input;
    const char *name, *stage, *arch, *version;
    int level;                /* 0..12; -1 = default */
    unsigned threads;         /* 0 = online CPUs */
    size_t chunk_size;        /* 0 = SP_CHUNK_DEFAULT */
    const char *store_url;    /* NULL = $SEALPUB_STORE or the default home */
    const char *registry_url; /* NULL = $SEALPUB_REGISTRY / $DATABASE_URL or the default home */
    sp_on_exists on_exists;
    sp_io_mode io_mode;       /* default SP_IO_PREAD (sp_publish_opts_init) */
    uint64_t expect_size;     /* UINT64_MAX = not given */
    const char *expect_sha256;/* hex or NULL */
    int content_tar;          /* -1 auto, 0 no, 1 yes: check tar end-of-archive */
    sp_progress_fn progress;
    void *progress_ctx;
    volatile const int *cancel; /* optional: non-zero aborts the publish; set it from a signal
                                   handler or with an atomic store (it is read atomically) */
    /* How long to wait for another publish of the same object key to finish
     * (replace mode): seconds, 0 = do not wait; < 0 = the default (600 s or
     * $SEALPUB_LOCK_TIMEOUT). */
    double lock_timeout;
    /* Optional: called (on the caller's thread) with one-line notices as
     * they happen, e.g. "waiting for ...". Every notice is also kept in
     * the result's warnings. */
    void (*notice)(void *ctx, const char *msg);
    void *notice_ctx;
    /* Check everything and upload nothing: the input opens, the KEK loads,
     * credentials resolve, the store answers for the object key, the
     * registry's table fits, the claim is free and the on-exists rule
     * passes. The result then describes the object key and row that a real
     * publish would write (sizes and hashes 0: nothing was read). */
    int dry_run;
} sp_publish_opts;

/* Fills the defaults above. */
void sp_publish_opts_init(sp_publish_opts *o);

typedef struct sp_publish_result {
    char object_key[SP_OBJECT_KEY_MAX];
    char store[SP_OBJECT_KEY_MAX];    /* where it went, without credentials */
    char registry[SP_OBJECT_KEY_MAX]; /* likewise */
    char sha256[65];                  /* of the stored object's bytes */
    char artifact_id[33];
    char arch[SP_FIELD_MAX + 1];      /* canonical */
    uint64_t plain_size, stored_size;
    uint64_t chunks, chunks_stored_raw;
    /* How the other chunks were compressed, chosen per chunk from its
     * content: with the fast codec (ISA-L; libdeflate level 1 without it),
     * or with libdeflate at the level. chunks = the three counts' sum. */
    uint64_t chunks_fast, chunks_deflated;
    double seconds;
    int replaced;                     /* a previous row was replaced (dry run: would be) */
    int dry_run;                      /* nothing was uploaded or written */
    int object_exists;                /* dry run: an object is stored under the key now */
    double claim_wait_seconds;        /* time spent waiting for the identity claim */
    unsigned warnings_count;          /* notices and warnings, oldest first (at most 8 kept) */
    char warnings[8][256];
    int level;
    unsigned threads;
    size_t chunk_size;
    /* For a docker-daemon: input: the image ID ("sha256:...") and its
     * repository tags, '\n'-separated; both "" otherwise. */
    char docker_image_id[80];
    char docker_repo_tags[1024];
} sp_publish_result;

/* Seals the input and publishes it: object first, then the registry row.
 * On failure nothing is left behind (see docs/ARCHITECTURE.md). Thread-safe
 * with respect to other calls; blocks the caller until done. */
SP_MUST_USE sp_status sp_publish(const sp_publish_opts *o, sp_publish_result *r, sp_error *err);

typedef struct sp_open_opts {
    const char *input;        /* container path or "-" */
    const char *output;       /* path, "-" for stdout; NULL = verify only */
    const char *key_file;     /* 32 raw bytes or base64; NULL = look up the registry */
    const char *registry_url; /* as for publish */
    unsigned threads;         /* decrypt/inflate workers; 0 = online CPUs */
    volatile const int *cancel; /* optional, as for publish: non-zero stops the open, leaving no output */
    /* When set, the container's header must name exactly this resource
     * (canonical architecture spelling), else SP_ERR_AUTH. */
    const char *expect_name, *expect_stage, *expect_arch, *expect_version;
} sp_open_opts;
void sp_open_opts_init(sp_open_opts *o);

typedef struct sp_open_result {
    uint64_t plain_size, stored_size, chunks;
    char name[SP_NAME_MAX + 1], stage[SP_FIELD_MAX + 1], arch[SP_FIELD_MAX + 1], version[SP_FIELD_MAX + 1];
} sp_open_result;

/* Verifies and decrypts a container. The output is written to a temporary
 * file and renamed only after the final record authenticated, so a failure
 * never leaves partial plaintext under the output name. */
SP_MUST_USE sp_status sp_open(const sp_open_opts *o, sp_open_result *r, sp_error *err);

typedef struct sp_fetch_opts {
    const char *name, *stage, *arch, *version; /* arch NULL = this host; version NULL = the newest */
    const char *output;       /* path, "-" for stdout; NULL = verify only */
    const char *store_url;    /* as for publish */
    const char *registry_url; /* as for publish */
    unsigned parallel;        /* ranged reads in flight; 0 = 4 */
    size_t range_size;        /* bytes per ranged read; 0 = 4 MiB */
    unsigned threads;         /* decrypt/inflate workers; 0 = online CPUs */
    volatile const int *cancel;
    /* Optional: called as the object downloads (in_bytes = container bytes
     * consumed so far, total = the object's size), from the thread that
     * frames records; keep it short. */
    sp_progress_fn progress;
    void *progress_ctx;
} sp_fetch_opts;
void sp_fetch_opts_init(sp_fetch_opts *o);

typedef struct sp_fetch_result {
    char object_key[SP_OBJECT_KEY_MAX];
    char version[SP_FIELD_MAX + 1];
    char sha256[65];
    uint64_t plain_size, stored_size, chunks;
    double seconds;
} sp_fetch_result;

/* Looks up the registry row, downloads the object with parallel ranged
 * reads, checks its size and SHA-256 against the row and its header against
 * the row's name/stage/arch/version, decrypts and inflates it, and writes
 * the output through a temporary file renamed only when all of that held. */
SP_MUST_USE sp_status sp_fetch(const sp_fetch_opts *o, sp_fetch_result *r, sp_error *err);

/* Loads a `docker save` archive, read from fd's current offset to its end,
 * into the Docker engine on $DOCKER_HOST (as for docker-daemon: inputs)
 * through POST /images/load. The engine answers HTTP 200 even when the load
 * fails, so success means: 200, no error object in its JSON stream, and at
 * least one "Loaded image" line; those lines go to loaded (joined by "; ").
 * The engine imports layers as they arrive: hand it only data that was
 * verified in full first (sp_fetch to a file, then this). Errors: as for
 * docker-daemon: inputs (SP_ERR_INPUT for the engine), SP_ERR_IO for a read
 * of fd, SP_ERR_FORMAT when the engine refuses the archive. */
SP_MUST_USE sp_status sp_docker_load(int fd, volatile const int *cancel, char *loaded, size_t cap, sp_error *err);
/* Connects to the engine on $DOCKER_HOST and negotiates the API version
 * (written to api, e.g. "1.41"), as sp_docker_load would: lets a caller
 * fail before a long download. Same errors. */
SP_MUST_USE sp_status sp_docker_check(volatile const int *cancel, char *api, size_t cap, sp_error *err);

/* Prints the header and the (unauthenticated without a key) index to out. */
SP_MUST_USE sp_status sp_inspect(const char *path, int json, FILE *out, sp_error *err);

/* Creates the registry's table if missing (safe to run twice), adds the
 * unique keys an older table lacks, and checks an existing table's shape
 * (docs/SCHEMA.md). The table is $SEALPUB_TABLE, default "resources". */
SP_MUST_USE sp_status sp_registry_init(const char *registry_url, char *where, size_t cap, sp_error *err);

/* A store's printable description (the `store` of results: "s3://B/P at
 * ENDPOINT", "s3://B/P (REGION)", "file:///DIR", "BASE (public URL)") in
 * parseable parts, for machine output. Absent parts are "". */
typedef struct sp_store_parts {
    char scheme[16];                /* "s3", "file", "https" or "http" */
    char bucket[64], region[64];
    char prefix[SP_OBJECT_KEY_MAX]; /* without slashes around it */
    char endpoint[512];             /* a custom S3 endpoint, or the public base URL */
    char path[SP_OBJECT_KEY_MAX];   /* file stores */
} sp_store_parts;
void sp_store_parts_from_desc(const char *desc, sp_store_parts *out);

/* One registry row as the operating commands show it: never the key. */
typedef struct sp_artifact {
    char name[SP_NAME_MAX + 1], stage[SP_FIELD_MAX + 1], arch[SP_FIELD_MAX + 1], version[SP_FIELD_MAX + 1];
    char object_key[SP_OBJECT_KEY_MAX];
    char sha256[65], artifact_id[33], key_wrap[32], kek_id[65], format[32];
    char created_at[40], updated_at[40]; /* ISO 8601 UTC */
    uint64_t size_bytes, plain_size;
} sp_artifact;
/* Called per artifact; a non-zero return stops the walk. */
typedef int (*sp_artifact_fn)(void *ctx, const sp_artifact *a);

/* Parses a point in time for --since/--older-than: an ISO 8601 UTC date
 * ("2026-11-01") or time ("2026-11-01T12:00:00Z"), or an age before now
 * ("90m", "36h", "7d", "2w"). out gets "YYYY-MM-DDTHH:MM:SSZ". */
SP_MUST_USE sp_status sp_parse_time(const char *text, char out[21], sp_error *err);

typedef struct sp_list_opts {
    const char *registry_url;
    const char *name, *stage, *arch; /* NULL = any; arch in any accepted spelling */
    const char *since;               /* see sp_parse_time; NULL = any */
    uint64_t limit, offset;          /* newest first; limit 0 = all */
} sp_list_opts;
void sp_list_opts_init(sp_list_opts *o);
/* Walks the registry's rows, newest first (created_at, then insertion). */
SP_MUST_USE sp_status sp_list(const sp_list_opts *o, sp_artifact_fn fn, void *ctx, sp_error *err);

typedef struct sp_delete_opts {
    const char *registry_url, *store_url;
    const char *name, *stage, *arch; /* arch NULL = this host's */
    const char *version;             /* one version; or NULL with older_than and/or keep_last */
    const char *older_than;          /* see sp_parse_time: rows created before it */
    long keep_last;                  /* >= 0: never delete the newest N of name/stage/arch; -1 = not given */
    int dry_run;                     /* report what would be deleted, change nothing */
    double lock_timeout;             /* wait for a publish of the same object key; < 0 = 600 s */
    volatile const int *cancel;
} sp_delete_opts;
void sp_delete_opts_init(sp_delete_opts *o);
/* Deletes artifacts: for each, under the identity claim publish uses, the
 * row first and then the object, so no row ever names a missing object.
 * fn sees each artifact deleted (or that would be); *count counts them. */
SP_MUST_USE sp_status sp_delete(const sp_delete_opts *o, sp_artifact_fn fn, void *ctx, unsigned *count,
                                sp_error *err);

/* Re-wraps registry keys from one key-encryption key to another (KEK
 * rotation), or from unwrapped ("none") rows to wrapped ones. Each row is
 * one compare-and-swap update of its key fields (it must still hold the key
 * read and describe the same artifact), so a row is always readable by
 * exactly one of the two, an interrupted run resumes where it stopped (rows
 * already under to_kek are counted, not touched), and a row republished
 * meanwhile is left alone. KEK files hold 32 raw bytes or their base64. */
typedef struct sp_rewrap_opts {
    const char *registry_url;
    const char *from_kek_file; /* rows wrapped under this KEK; NULL = rows holding unwrapped keys */
    const char *to_kek_file;   /* required */
    const char *name, *stage, *arch; /* optional filters */
    uint64_t limit;            /* rewrap at most this many rows this run; 0 = all */
    int dry_run;               /* count what would change */
    volatile const int *cancel;
} sp_rewrap_opts;
typedef struct sp_rewrap_result {
    unsigned rewrapped;  /* changed (dry run: would be) */
    unsigned already;    /* already under to_kek */
    unsigned other;      /* under another KEK (or, with from_kek_file, unwrapped): not selected */
    unsigned changed;    /* republished or deleted while running: left alone */
    char from_kek_id[17], to_kek_id[17];
} sp_rewrap_result;
SP_MUST_USE sp_status sp_rewrap(const sp_rewrap_opts *o, sp_rewrap_result *r, sp_error *err);

/* Replays the recovery journal ($SEALPUB_RECOVERY_DIR, else
 * <default home>/recovery): rows of publishes whose object was committed
 * but whose registry row could not be written. Each entry is written to the
 * registry only if the store still holds exactly that object (same
 * artifact id and size), under the identity claim; entries whose object was
 * replaced since are dropped. */
typedef struct sp_recover_result {
    unsigned replayed, obsolete, remaining;
} sp_recover_result;
SP_MUST_USE sp_status sp_registry_recover(const char *store_url, const char *registry_url, sp_recover_result *r,
                                          sp_error *err);

/* Removes what SIGKILLed publishes left in the store, older than
 * older_than_seconds: an s3:// store's multipart uploads under its prefix
 * (aborted), a file:// store's temp files (".NAME.XXXXXX"). *removed
 * counts them. */
SP_MUST_USE sp_status sp_store_cleanup(const char *store_url, long older_than_seconds, unsigned *removed,
                                       sp_error *err);

/* A description of the CPU features the crypto and codec use, one line. */
void sp_cpu_features(char *out, size_t cap);
/* The build and runtime facts as one JSON object (version, commit, build
 * flags, library versions built against and loaded, CPU features and
 * counts, the codec at each level): "sealpub version --verbose --json".
 * Writes at most cap bytes, always terminated; returns the full length,
 * like snprintf. */
size_t sp_build_info_json(char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
