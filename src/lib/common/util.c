/* util.c: hex, base64, bounded strings, time and secret memory. */
#include <openssl/crypto.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <time.h>

#include "common/sp_common.h"

void sp_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int sp_unhex(const char *in, uint8_t *out, size_t len)
{
    if (strlen(in) != 2 * len) return -1;
    for (size_t i = 0; i < len; i++) {
        int hi = hex_val(in[2 * i]), lo = hex_val(in[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void sp_b64_encode(const uint8_t *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len) v |= in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
}

long sp_b64_decode(const char *in, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') continue;
        if (*p == '=') { pad++; continue; }
        if (pad) return -1; /* data after padding */
        const char *pos = strchr(b64_alphabet, *p);
        if (!pos) return -1;
        acc = acc << 6 | (uint32_t)(pos - b64_alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap) return -1;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (pad > 2) return -1;
    return (long)n;
}

int sp_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t n = strlen(src);
    if (cap == 0) return -1;
    if (n >= cap) {
        memcpy(dst, src, cap - 1);
        dst[cap - 1] = '\0';
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

double sp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Secrets get their own pages so that locking and MADV_DONTDUMP cover them
 * and nothing else; keys are few and small, so the page cost is irrelevant. */
void *sp_secret_alloc(size_t len)
{
    size_t page = 4096, sz = (len + page - 1) / page * page;
    void *p = mmap(NULL, sz ? sz : page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    (void)mlock(p, sz ? sz : page);
#ifdef MADV_DONTDUMP
    (void)madvise(p, sz ? sz : page, MADV_DONTDUMP);
#endif
    return p;
}

void sp_secret_free(void *p, size_t len)
{
    if (!p) return;
    size_t page = 4096, sz = (len + page - 1) / page * page;
    OPENSSL_cleanse(p, len);
    (void)munlock(p, sz ? sz : page);
    munmap(p, sz ? sz : page);
}
