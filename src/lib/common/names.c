/* names.c: validation of resource names, architectures, sizes and the object key layout. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <strings.h>
#include <sys/utsname.h>

#include "common/sp_common.h"

sp_status sp_validate_name(const char *what, const char *value, size_t max, sp_error *err)
{
    if (!value || !*value) return sp_fail(err, SP_ERR_USAGE, "%s is required", what);
    size_t n = strlen(value);
    if (n > max) return sp_fail(err, SP_ERR_USAGE, "%s is too long (%zu bytes, at most %zu)", what, n, max);
    if (value[0] == '.' || value[0] == '-')
        return sp_fail(err, SP_ERR_USAGE, "invalid %s '%.64s': must not start with '%c'", what, value, value[0]);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                 c == '_' || c == '-';
        if (!ok)
            return sp_fail(err, SP_ERR_USAGE,
                           "invalid %s: character %zu (0x%02x) is not allowed; use only A-Z a-z 0-9 . _ -", what,
                           i + 1, c);
    }
    return SP_OK;
}

sp_status sp_validate_version(const char *value, sp_error *err)
{
    const char *plus = value ? strchr(value, '+') : NULL;
    if (!plus) return sp_validate_name("version", value, SP_FIELD_MAX, err);
    size_t n = strlen(value), head = (size_t)(plus - value);
    if (n > SP_FIELD_MAX) return sp_fail(err, SP_ERR_USAGE, "version is too long (%zu bytes, at most %d)", n, SP_FIELD_MAX);
    char main_part[SP_FIELD_MAX + 1];
    memcpy(main_part, value, head);
    main_part[head] = '\0';
    SP_TRY(sp_validate_name("version", main_part, SP_FIELD_MAX, err));
    const char *meta = plus + 1;
    if (!*meta)
        return sp_fail(err, SP_ERR_USAGE, "invalid version: build metadata after '+' is empty (e.g. 1.4.2+build.7)");
    for (const char *p = meta; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return sp_fail(err, SP_ERR_USAGE,
                           "invalid version: character %zu (0x%02x) is not allowed in build metadata; use A-Z a-z "
                           "0-9 . - after one '+'",
                           (size_t)(p - value) + 1, c);
    }
    return SP_OK;
}

/* Docker's spellings are canonical: they are what image manifests and the
 * Woodpecker platform strings use, so rows line up with the images. The set
 * is closed because '-' separates the fields of the object key: an open set
 * would let ("col", "x-amd64") and ("col-x", "amd64") share one key. None
 * of the canonical names contains '-'. */
static const struct {
    const char *canonical;
    const char *spellings; /* comma-separated, compared case-insensitively */
} arch_table[] = {
    {"amd64", "amd64,x86_64,x86-64,x64,linux/amd64"},
    {"arm64", "arm64,aarch64,arm64v8,armv8,linux/arm64,linux/arm64/v8"},
    {"386", "386,i386,i686,x86,linux/386"},
    {"arm", "arm,armhf,armv7,armv7l,arm32v7,linux/arm,linux/arm/v7"},
    {"ppc64le", "ppc64le,ppc64el,powerpc64le,linux/ppc64le"},
    {"s390x", "s390x,linux/s390x"},
    {"riscv64", "riscv64,linux/riscv64"},
};

const char *sp_arch_spellings(size_t i, const char **canonical)
{
    if (i >= SP_ARRAY_LEN(arch_table)) return NULL;
    if (canonical) *canonical = arch_table[i].canonical;
    return arch_table[i].spellings;
}

static int spelling_matches(const char *list, const char *in)
{
    size_t n = strlen(in);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncasecmp(p, in, n) == 0) return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

sp_status sp_canonical_arch(const char *in, char out[SP_FIELD_MAX + 1], sp_error *err)
{
    struct utsname u;
    if (!in || !*in) {
        if (uname(&u) != 0) return sp_fail(err, SP_ERR_INTERNAL, "uname failed: %s", strerror(errno));
        in = u.machine;
    }
    for (size_t i = 0; i < SP_ARRAY_LEN(arch_table); i++) {
        if (spelling_matches(arch_table[i].spellings, in)) {
            sp_strlcpy(out, arch_table[i].canonical, SP_FIELD_MAX + 1);
            return SP_OK;
        }
    }
    char shown[40];
    size_t k = 0;
    for (const char *p = in; *p && k + 1 < sizeof(shown); p++)
        shown[k++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
    shown[k] = '\0';
    return sp_fail(err, SP_ERR_USAGE,
                   "unknown architecture '%s': use amd64, arm64, 386, arm, ppc64le, s390x or riscv64 "
                   "(or a spelling listed in docs/CLI.md such as x86_64, aarch64, linux/arm64)",
                   shown);
}

sp_status sp_parse_size(const char *text, uint64_t *out, sp_error *err)
{
    if (!text || !*text) return sp_fail(err, SP_ERR_USAGE, "empty size");
    if (*text == '-' || *text == '+' || isspace((unsigned char)*text))
        return sp_fail(err, SP_ERR_USAGE, "invalid size '%.32s': expected a number with an optional K/M/G suffix", text);
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || errno == ERANGE)
        return sp_fail(err, SP_ERR_USAGE, "invalid size '%.32s': expected a number with an optional K/M/G suffix", text);
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: return sp_fail(err, SP_ERR_USAGE, "invalid size '%.32s': unknown suffix '%c'", text, *end);
    }
    if (shift && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0 || strcmp(end, "ib") == 0)) end += strlen(end);
    if (*end) return sp_fail(err, SP_ERR_USAGE, "invalid size '%.32s': trailing characters", text);
    if (shift && v > (UINT64_MAX >> shift)) return sp_fail(err, SP_ERR_USAGE, "size '%.32s' is too large", text);
    *out = (uint64_t)v << shift;
    return SP_OK;
}

sp_status sp_object_key(const char *name, const char *stage, const char *arch, const char *version, char *out,
                        size_t cap, sp_error *err)
{
    int n = snprintf(out, cap, "%s/%s-%s-%s.enc", stage, name, arch, version);
    if (n < 0 || (size_t)n >= cap) return sp_fail(err, SP_ERR_USAGE, "object key too long");
    return SP_OK;
}

static sp_status mkdir_p(char *path, sp_error *err)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST) return sp_fail(err, SP_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return sp_fail(err, SP_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    return SP_OK;
}

sp_status sp_default_home(char *out, size_t cap, sp_error *err)
{
    const char *v;
    int n;
    if ((v = getenv("SEALPUB_HOME")) && *v)
        n = snprintf(out, cap, "%s", v);
    else if ((v = getenv("XDG_DATA_HOME")) && *v)
        n = snprintf(out, cap, "%s/sealpub", v);
    else if ((v = getenv("HOME")) && *v)
        n = snprintf(out, cap, "%s/.local/share/sealpub", v);
    else
        return sp_fail(err, SP_ERR_USAGE, "no data folder: set SEALPUB_HOME, XDG_DATA_HOME or HOME");
    if (n < 0 || (size_t)n >= cap) return sp_fail(err, SP_ERR_USAGE, "data folder path too long");
    if (out[0] != '/') return sp_fail(err, SP_ERR_USAGE, "data folder '%s' must be an absolute path", out);
    return mkdir_p(out, err);
}
