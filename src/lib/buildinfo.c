/* buildinfo.c: the build and runtime facts "sealpub version --verbose --json" prints, as one JSON object. */
#include <curl/curl.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/cpus.h"
#include "common/sp_common.h"
#include "compress/codec.h"

/* cmake/SealpubBuildInfo.cmake defines these; a build without it says so. */
#ifndef SP_BUILD_COMMIT
#define SP_BUILD_COMMIT "unknown"
#define SP_BUILD_TYPE ""
#define SP_BUILD_COMPILER ""
#define SP_BUILD_TARGET ""
#define SP_BUILD_CFLAGS ""
#define SP_BUILD_SANITIZE ""
#define SP_BUILD_FEATURES ""
#define SP_BUILD_CMAKE ""
#define SP_BUILT_LIBDEFLATE ""
#define SP_BUILT_LIBURING ""
#define SP_BUILT_ISAL ""
#define SP_BUILT_OPENSSL ""
#define SP_BUILT_CURL ""
#define SP_BUILT_LIBPQ ""
#endif

/* A bounded appender: keeps counting past cap, like snprintf. */
typedef struct out {
    char *buf;
    size_t cap, len;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->len < o->cap ? o->buf + o->len : NULL, o->len < o->cap ? o->cap - o->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) o->len += (size_t)n;
}

static void put_str(out *o, const char *s)
{
    put(o, "\"");
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') put(o, "\\%c", c);
        else if (c < 0x20) put(o, "\\u%04x", c);
        else put(o, "%c", c);
    }
    put(o, "\"");
}

/* "key": "value" with a leading comma unless first. */
static void member(out *o, int first, const char *key, const char *value)
{
    put(o, "%s", first ? "" : ",");
    put_str(o, key);
    put(o, ":");
    put_str(o, value);
}

static void library(out *o, int first, const char *name, const char *built, const char *runtime)
{
    put(o, "%s", first ? "" : ",");
    put_str(o, name);
    put(o, ":{");
    member(o, 1, "built_against", built);
    if (runtime) member(o, 0, "runtime", runtime);
    put(o, "}");
}

size_t sp_build_info_json(char *buf, size_t cap)
{
    out o = {buf, cap, 0};
    if (cap) buf[0] = '\0';
    put(&o, "{");
    member(&o, 1, "version", sp_version());
    member(&o, 0, "commit", SP_BUILD_COMMIT);

    put(&o, ",\"build\":{");
    member(&o, 1, "type", SP_BUILD_TYPE);
    member(&o, 0, "compiler", SP_BUILD_COMPILER);
    member(&o, 0, "target", SP_BUILD_TARGET);
    member(&o, 0, "cflags", SP_BUILD_CFLAGS);
    member(&o, 0, "sanitize", SP_BUILD_SANITIZE);
    member(&o, 0, "cmake", SP_BUILD_CMAKE);
    member(&o, 0, "optional_features", SP_BUILD_FEATURES);
    put(&o, "}");

    char pq[32], tmp[64];
    int v = PQlibVersion();
    /* 10 and later: major * 10000 + minor; before: major * 10000 + minor * 100 + patch. */
    if (v >= 100000) snprintf(pq, sizeof pq, "%d.%d", v / 10000, v % 10000);
    else snprintf(pq, sizeof pq, "%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
    put(&o, ",\"libraries\":{");
    library(&o, 1, "openssl", SP_BUILT_OPENSSL, OpenSSL_version(OPENSSL_VERSION));
    library(&o, 0, "libcurl", SP_BUILT_CURL, curl_version_info(CURLVERSION_NOW)->version);
    library(&o, 0, "libpq", SP_BUILT_LIBPQ, pq);
    library(&o, 0, "sqlite3", SQLITE_VERSION, sqlite3_libversion());
    /* No runtime version call in these three: what the build saw. */
    library(&o, 0, "libdeflate", SP_BUILT_LIBDEFLATE, NULL);
    library(&o, 0, "liburing", SP_BUILT_LIBURING, NULL);
    library(&o, 0, "isa-l", SP_BUILT_ISAL, NULL);
    put(&o, "}");

    char features[512];
    sp_cpu_features(features, sizeof features);
    sp_cpus c;
    sp_cpus_probe(&c);
    put(&o, ",\"cpu\":{");
    member(&o, 1, "features", features);
    put(&o, ",\"online\":%u,\"affinity\":%u,\"cgroup_quota\":", c.online, c.affinity);
    if (c.quota > 0) put(&o, "%.2f", c.quota);
    else put(&o, "null");
    put(&o, ",\"default_threads\":%u}", c.usable);

    put(&o, ",\"codec_per_level\":{");
    for (int level = 0; level <= SP_LEVEL_MAX; level++) {
        char d[256];
        sp_codec_describe(level, d, sizeof d);
        snprintf(tmp, sizeof tmp, "%d", level);
        member(&o, level == 0, tmp, d);
    }
    put(&o, "}}");
    return o.len;
}
