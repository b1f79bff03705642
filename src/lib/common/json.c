/* json.c: a small validating JSON skipper and member lookup, for the Docker Engine API's answers. */
#include "common/json.h"

#include <string.h>

/* The engine's answers are flat; a hostile or broken peer must not be able
 * to recurse us off the stack. */
#define JSON_DEPTH_MAX 64

static const char *ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* p at the opening quote; returns past the closing one. */
static const char *skip_string(const char *p)
{
    if (*p != '"') return NULL;
    for (p++; *p && *p != '"'; p++) {
        if ((unsigned char)*p < 0x20) return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (hexval(p[i]) < 0) return NULL;
                p += 4;
            } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
                return NULL;
            }
        }
    }
    return *p == '"' ? p + 1 : NULL;
}

static const char *skip_value(const char *p, int depth)
{
    p = ws(p);
    if (depth > JSON_DEPTH_MAX) return NULL;
    switch (*p) {
    case '"': return skip_string(p);
    case '{':
    case '[': {
        char close = *p == '{' ? '}' : ']';
        int object = *p == '{';
        p = ws(p + 1);
        if (*p == close) return p + 1;
        for (;;) {
            if (object) {
                p = skip_string(ws(p));
                if (!p) return NULL;
                p = ws(p);
                if (*p++ != ':') return NULL;
            }
            p = skip_value(p, depth + 1);
            if (!p) return NULL;
            p = ws(p);
            if (*p == close) return p + 1;
            if (*p++ != ',') return NULL;
        }
    }
    case 't': return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f': return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n': return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
    default: {
        const char *start = p;
        if (*p == '-') p++;
        while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-') p++;
        return p > start && (p[-1] >= '0' && p[-1] <= '9') ? p : NULL;
    }
    }
}

const char *sp_json_skip(const char *p) { return p ? skip_value(p, 0) : NULL; }

const char *sp_json_member(const char *obj, const char *key)
{
    if (!obj) return NULL;
    const char *p = ws(obj);
    if (*p != '{') return NULL;
    p = ws(p + 1);
    if (*p == '}') return NULL;
    size_t klen = strlen(key);
    for (;;) {
        const char *k = ws(p), *kend = skip_string(k);
        if (!kend) return NULL;
        /* Keys the engine sends are plain ASCII: compare the raw text. */
        int match = (size_t)(kend - k - 2) == klen && memcmp(k + 1, key, klen) == 0;
        p = ws(kend);
        if (*p++ != ':') return NULL;
        p = ws(p);
        if (match) return p;
        p = skip_value(p, 1);
        if (!p) return NULL;
        p = ws(p);
        if (*p++ != ',') return NULL;
    }
}

static size_t put_utf8(unsigned cp, char *o)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

int sp_json_string(const char *p, char *out, size_t cap)
{
    if (!cap) return -1;
    out[0] = 0;
    if (!p || !skip_string(p)) return -1;
    size_t n = 0;
    for (p++; *p != '"'; p++) {
        char tmp[4];
        size_t len = 1;
        tmp[0] = *p;
        if (*p == '\\') {
            p++;
            switch (*p) {
            case 'b': tmp[0] = '\b'; break;
            case 'f': tmp[0] = '\f'; break;
            case 'n': tmp[0] = '\n'; break;
            case 'r': tmp[0] = '\r'; break;
            case 't': tmp[0] = '\t'; break;
            case 'u': {
                unsigned cp = 0;
                for (int i = 1; i <= 4; i++) cp = cp * 16 + (unsigned)hexval(p[i]);
                p += 4;
                /* Surrogate pairs are not worth decoding for messages: U+FFFD. */
                len = put_utf8(cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp, tmp);
                break;
            }
            default: tmp[0] = *p; break; /* " \ / */
            }
        }
        if (n + len >= cap) break;
        memcpy(out + n, tmp, len);
        n += len;
    }
    out[n] = 0;
    return 0;
}
