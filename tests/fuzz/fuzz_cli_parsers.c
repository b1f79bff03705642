/* fuzz_cli_parsers.c: what the CLI parses from flags and the environment: sizes, names, architectures, store and registry URLs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"
#include "sealpub/sealpub.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Input: up to five lines. Line 1 is the value under test, given to every
 * parser (as --chunk-size, --name, --arch, --store, --registry would be);
 * lines 2-5 become AWS_ENDPOINT_URL_S3, AWS_REGION, SEALPUB_S3_PART_SIZE and
 * SEALPUB_S3_MAX_ATTEMPTS (unset when absent), which the S3 store parses when
 * it opens.
 *
 * Only what parses without side effects is reached: opening a store or a
 * registry may create folders, create a SQLite file or connect. So
 *   - store URLs: s3:// opens fully (URL, credentials, endpoint, region and
 *     tuning are all parsed before any request; nothing connects), file: only
 *     with a relative path (rejected before any mkdir), other schemes fully;
 *   - registry URLs: unsupported schemes fully, sqlite: only with an empty
 *     path, and postgres URLs / conninfo strings only when libpq's own parser
 *     rejects them: that path reports libpq's message scrubbed of the
 *     password and never connects. A connection string libpq accepts would
 *     be dialled, so it is not passed on: the connect path is not fuzzed. */

#define FAKE_AWS_SECRET "fuzz/AwsSecret+Key=0123456789abcdefghijklmno"
#define FAKE_AWS_TOKEN "fuzz/SessionToken+Value=zyxwvutsrqponm"
#define FAKE_DB_PASSWORD "Sup3rS3cretPw"
#define UNSUPPORTED_REGISTRY \
    "unsupported registry URL: use sqlite:///PATH, postgresql://... or a libpq conninfo string"

/* libpq's parser, declared here rather than through libpq-fe.h, whose
 * include folder is private to the library target; only pointers cross. */
extern void *PQconninfoParse(const char *conninfo, char **errmsg);
extern void PQconninfoFree(void *options);
extern void PQfreemem(void *ptr);

static void set_or_unset(const char *var, const char *value)
{
    if (value) setenv(var, value, 1);
    else unsetenv(var);
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

static int valid_name_oracle(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || s[0] == '.' || s[0] == '-') return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", s[i])) return 0;
    return 1;
}

static void check_size(const char *s)
{
    uint64_t v = 0, again = 0;
    sp_error err;
    if (sp_parse_size(s, &v, &err) != SP_OK) return;
    char buf[32];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    if (sp_parse_size(buf, &again, &err) != SP_OK || again != v) abort();
    /* No sign, no whitespace of any kind, no empty: a digit comes first. */
    if (s[0] < '0' || s[0] > '9') abort();
}

static void check_names(const char *s)
{
    sp_error err;
    int name_ok = sp_validate_name("name", s, SP_NAME_MAX, &err) == SP_OK;
    if (name_ok != valid_name_oracle(s, SP_NAME_MAX)) abort();
    if (!name_ok && (err.status != SP_ERR_USAGE || strchr(err.msg, '\n'))) abort();
    int field_ok = sp_validate_name("stage", s, SP_FIELD_MAX, &err) == SP_OK;
    if (field_ok != valid_name_oracle(s, SP_FIELD_MAX)) abort();

    char arch[SP_FIELD_MAX + 1];
    if (sp_canonical_arch(s, arch, &err) != SP_OK) return;
    if (!valid_name_oracle(arch, SP_FIELD_MAX)) abort();
    /* The object key of valid parts has exactly two path segments, neither
     * "." nor "..": a name cannot walk out of its stage folder. */
    if (!field_ok) return;
    char key[SP_OBJECT_KEY_MAX];
    if (sp_object_key(s, s, arch, s, key, sizeof(key), &err) != SP_OK) abort();
    char *slash = strchr(key, '/');
    if (!slash || strchr(slash + 1, '/') || key[0] == '.' || slash[1] == '.') abort();
}

static void check_store(const char *url, const char *input)
{
    const char *path = NULL;
    if (!strncmp(url, "file://", 7)) path = url + 7;
    else if (!strncmp(url, "file:", 5)) path = url + 5;
    if (!*url || (path && path[0] == '/')) return; /* would use the default folder or create folders */
    sp_store st;
    sp_error err = {0};
    sp_status s = sp_store_open(url, &st, &err);
    /* Credentials from the environment never reach the description or the message. */
    if (!contains(input, "AwsSecret") && !contains(input, "SessionToken")) {
        if (contains(err.msg, FAKE_AWS_SECRET) || contains(err.msg, FAKE_AWS_TOKEN)) abort();
        if (s == SP_OK && (contains(st.desc, FAKE_AWS_SECRET) || contains(st.desc, FAKE_AWS_TOKEN))) abort();
    }
    if (s == SP_OK) {
        if (strncmp(url, "s3://", 5) != 0) abort(); /* only s3 opens without a folder */
        sp_store_close(&st);
    } else if (strchr(err.msg, '\n')) {
        abort(); /* errors are one line */
    }
}

/* The documented rule: a postgres(ql):// URI, or a conninfo string that
 * starts with a lower-case keyword and '=' and holds no "://". */
static int is_postgres(const char *url)
{
    if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13)) return 1;
    size_t kw = strspn(url, "abcdefghijklmnopqrstuvwxyz_"), sp = strspn(url + kw, " ");
    return kw > 0 && url[kw + sp] == '=' && !strstr(url, "://");
}

static void check_registry(const char *url)
{
    sp_registry reg;
    sp_error err = {0};
    if (!*url) return; /* the environment or the default folder */
    if (!strncmp(url, "sqlite:", 7)) {
        const char *path = url + (strncmp(url, "sqlite://", 9) ? 7 : 9);
        if (*path) return; /* would create a database file */
        if (sp_registry_open(url, &reg, &err) != SP_ERR_USAGE) abort();
        return;
    }
    if (!is_postgres(url)) {
        /* Never echoed, not even in part: an unsupported URL may still
         * carry a password. */
        if (sp_registry_open(url, &reg, &err) != SP_ERR_USAGE || strcmp(err.msg, UNSUPPORTED_REGISTRY) != 0) abort();
        return;
    }
    char *perr = NULL;
    void *opts = PQconninfoParse(url, &perr);
    PQfreemem(perr);
    if (opts) { /* well-formed: opening would connect */
        PQconninfoFree(opts);
        return;
    }
    if (sp_registry_open(url, &reg, &err) != SP_ERR_REGISTRY || strchr(err.msg, '\n')) abort();
    /* A string libpq cannot parse is never quoted back, in whole or part. */
    if (contains(err.msg, FAKE_DB_PASSWORD)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        init = 1;
        setenv("AWS_ACCESS_KEY_ID", "AKIAFUZZFUZZFUZZFUZZ", 1);
        setenv("AWS_SECRET_ACCESS_KEY", FAKE_AWS_SECRET, 1);
        setenv("AWS_SESSION_TOKEN", FAKE_AWS_TOKEN, 1);
        unsetenv("AWS_ENDPOINT_URL");
        unsetenv("SEALPUB_STORE");
        unsetenv("SEALPUB_REGISTRY");
        unsetenv("DATABASE_URL");
        unsetenv("PGCONNECT_TIMEOUT");
    }
    char *input = malloc(size + 1);
    if (!input) abort();
    memcpy(input, data, size);
    input[size] = '\0'; /* a NUL inside ends the value, as in argv */
    char *line[5] = {0};
    char *p = input;
    for (int i = 0; i < 5 && p; i++) {
        line[i] = p;
        p = strchr(p, '\n');
        if (p) *p++ = '\0';
    }
    set_or_unset("AWS_ENDPOINT_URL_S3", line[1]);
    set_or_unset("AWS_REGION", line[2]);
    set_or_unset("SEALPUB_S3_PART_SIZE", line[3]);
    set_or_unset("SEALPUB_S3_MAX_ATTEMPTS", line[4]);

    char *whole = malloc(size + 1);
    if (!whole) abort();
    memcpy(whole, data, size);
    whole[size] = '\0';

    check_size(line[0]);
    check_names(line[0]);
    check_store(line[0], whole);
    check_registry(line[0]);
    free(whole);
    free(input);
    return 0;
}
