/* s3_xml.c: a bounded, non-validating XML walker and the S3 response readers built on it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3_xml.h"

/* S3 bodies are small and machine-written, so a full XML library would buy
 * nothing but attack surface: this walker understands exactly what S3 and
 * compatible servers send, bounds everything, and expands no entities
 * beyond the predefined ones. */
typedef struct walker {
    sp_s3_xml_fn fn;
    void *ctx;
    size_t depth;
    size_t plen[SP_S3_XML_DEPTH_MAX + 1]; /* path length before each level */
    char path[SP_S3_XML_PATH_MAX];
    size_t pathlen;
    char text[SP_S3_XML_TEXT_MAX + 1];
    size_t tlen;
    int root_seen, stopped;
} walker;

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int name_char(char c)
{
    return !is_space(c) && c != '/' && c != '>' && c != '<' && c != '=' && c != '&' && c != '"' && c != '\'' &&
           c != '\0';
}

static sp_status text_putn(walker *w, const char *s, size_t n, sp_error *err)
{
    /* XML has no NUL character; one would silently cut an id or key short. */
    if (memchr(s, '\0', n)) return sp_fail(err, SP_ERR_FORMAT, "XML text contains a NUL byte");
    if (n > SP_S3_XML_TEXT_MAX - w->tlen)
        return sp_fail(err, SP_ERR_FORMAT, "XML text longer than %d bytes", SP_S3_XML_TEXT_MAX);
    memcpy(w->text + w->tlen, s, n);
    w->tlen += n;
    w->text[w->tlen] = '\0';
    return SP_OK;
}

static sp_status put_utf8(walker *w, unsigned long cp, sp_error *err)
{
    char b[4];
    size_t n;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return sp_fail(err, SP_ERR_FORMAT, "XML character reference out of range");
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return text_putn(w, b, n, err);
}

/* Character data between tags, with references decoded. */
static sp_status char_data(walker *w, const char *s, size_t n, sp_error *err)
{
    if (w->depth == 0) {
        for (size_t i = 0; i < n; i++)
            if (!is_space(s[i])) return sp_fail(err, SP_ERR_FORMAT, "XML text outside the root element");
        return SP_OK;
    }
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t run = amp ? (size_t)(amp - (s + i)) : n - i;
        SP_TRY(text_putn(w, s + i, run, err));
        i += run;
        if (!amp) break;
        const char *semi = memchr(s + i, ';', n - i < 12 ? n - i : 12);
        if (!semi) return sp_fail(err, SP_ERR_FORMAT, "XML entity not terminated");
        const char *ent = s + i + 1;
        size_t elen = (size_t)(semi - ent);
        static const struct {
            const char *name;
            char c;
        } predefined[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
        int done = 0;
        for (size_t k = 0; k < SP_ARRAY_LEN(predefined) && !done; k++) {
            if (strlen(predefined[k].name) == elen && !memcmp(ent, predefined[k].name, elen)) {
                SP_TRY(text_putn(w, &predefined[k].c, 1, err));
                done = 1;
            }
        }
        if (!done) {
            if (elen < 2 || ent[0] != '#') return sp_fail(err, SP_ERR_FORMAT, "unknown XML entity");
            int hex = ent[1] == 'x';
            const char *d = ent + 1 + hex;
            if (d == semi) return sp_fail(err, SP_ERR_FORMAT, "empty XML character reference");
            unsigned long cp = 0;
            for (; d < semi; d++) {
                int v = (*d >= '0' && *d <= '9')           ? *d - '0'
                        : hex && (*d >= 'a' && *d <= 'f') ? *d - 'a' + 10
                        : hex && (*d >= 'A' && *d <= 'F') ? *d - 'A' + 10
                                                          : -1;
                if (v < 0) return sp_fail(err, SP_ERR_FORMAT, "bad XML character reference");
                cp = cp * (hex ? 16 : 10) + (unsigned long)v;
                if (cp > 0x10FFFF) return sp_fail(err, SP_ERR_FORMAT, "XML character reference out of range");
            }
            SP_TRY(put_utf8(w, cp, err));
        }
        i = (size_t)(semi - s) + 1;
    }
    return SP_OK;
}

static sp_status open_element(walker *w, const char *name, size_t n, sp_error *err)
{
    if (w->depth == 0 && w->root_seen) return sp_fail(err, SP_ERR_FORMAT, "XML has more than one root element");
    if (w->depth == SP_S3_XML_DEPTH_MAX) return sp_fail(err, SP_ERR_FORMAT, "XML nested deeper than %d", SP_S3_XML_DEPTH_MAX);
    /* Namespace prefixes are dropped: S3 documents use a default namespace,
     * and a server that prefixes names still means the same element. */
    const char *colon = memchr(name, ':', n);
    if (colon) {
        n -= (size_t)(colon + 1 - name);
        name = colon + 1;
    }
    if (n == 0) return sp_fail(err, SP_ERR_FORMAT, "XML element without a name");
    size_t need = n + (w->depth ? 1 : 0);
    if (need >= SP_S3_XML_PATH_MAX - w->pathlen) return sp_fail(err, SP_ERR_FORMAT, "XML element path too long");
    w->plen[w->depth++] = w->pathlen;
    if (w->depth > 1) w->path[w->pathlen++] = '/';
    memcpy(w->path + w->pathlen, name, n);
    w->pathlen += n;
    w->path[w->pathlen] = '\0';
    w->root_seen = 1;
    w->tlen = 0;
    w->text[0] = '\0';
    return SP_OK;
}

static sp_status close_element(walker *w, const char *name, size_t n, sp_error *err)
{
    if (w->depth == 0) return sp_fail(err, SP_ERR_FORMAT, "XML end tag without a start tag");
    const char *colon = memchr(name, ':', n);
    if (colon) {
        n -= (size_t)(colon + 1 - name);
        name = colon + 1;
    }
    size_t start = w->plen[w->depth - 1] + (w->depth > 1 ? 1 : 0);
    if (w->pathlen - start != n || memcmp(w->path + start, name, n) != 0)
        return sp_fail(err, SP_ERR_FORMAT, "XML end tag does not match its start tag");
    if (w->fn(w->ctx, w->path, w->text, w->tlen)) w->stopped = 1;
    w->pathlen = w->plen[--w->depth];
    w->path[w->pathlen] = '\0';
    w->tlen = 0;
    w->text[0] = '\0';
    return SP_OK;
}

static const char *find(const char *p, const char *end, const char *needle)
{
    return memmem(p, (size_t)(end - p), needle, strlen(needle));
}

static sp_status walk(walker *w, const char *doc, size_t len, sp_error *err)
{
    const char *p = doc, *end = doc + len;
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3;
    while (p < end && !w->stopped) {
        if (*p != '<') {
            const char *lt = memchr(p, '<', (size_t)(end - p));
            if (!lt) lt = end;
            SP_TRY(char_data(w, p, (size_t)(lt - p), err));
            p = lt;
            continue;
        }
        size_t rest = (size_t)(end - p);
        if (rest >= 2 && p[1] == '?') {
            const char *q = find(p + 2, end, "?>");
            if (!q) return sp_fail(err, SP_ERR_FORMAT, "XML processing instruction not terminated");
            p = q + 2;
        } else if (rest >= 4 && !memcmp(p, "<!--", 4)) {
            const char *q = find(p + 4, end, "-->");
            if (!q) return sp_fail(err, SP_ERR_FORMAT, "XML comment not terminated");
            p = q + 3;
        } else if (rest >= 9 && !memcmp(p, "<![CDATA[", 9)) {
            const char *q = find(p + 9, end, "]]>");
            if (!q) return sp_fail(err, SP_ERR_FORMAT, "XML CDATA not terminated");
            if (w->depth == 0) return sp_fail(err, SP_ERR_FORMAT, "XML CDATA outside the root element");
            SP_TRY(text_putn(w, p + 9, (size_t)(q - (p + 9)), err));
            p = q + 3;
        } else if (rest >= 2 && p[1] == '!') {
            return sp_fail(err, SP_ERR_FORMAT, "XML declarations (DOCTYPE) are not accepted");
        } else if (rest >= 2 && p[1] == '/') {
            const char *name = p + 2, *q = name;
            while (q < end && name_char(*q)) q++;
            size_t n = (size_t)(q - name);
            while (q < end && is_space(*q)) q++;
            if (q >= end || *q != '>') return sp_fail(err, SP_ERR_FORMAT, "XML end tag not terminated");
            SP_TRY(close_element(w, name, n, err));
            p = q + 1;
        } else {
            const char *name = p + 1, *q = name;
            while (q < end && name_char(*q)) q++;
            size_t n = (size_t)(q - name);
            /* Attributes are skipped; quoted values may hold '>' and '/'. */
            int self_closing = 0;
            for (;;) {
                if (q >= end) return sp_fail(err, SP_ERR_FORMAT, "XML start tag not terminated");
                if (*q == '"' || *q == '\'') {
                    const char *close = memchr(q + 1, *q, (size_t)(end - q - 1));
                    if (!close) return sp_fail(err, SP_ERR_FORMAT, "XML attribute not terminated");
                    q = close + 1;
                    continue;
                }
                if (*q == '<') return sp_fail(err, SP_ERR_FORMAT, "'<' inside an XML tag");
                if (*q == '>') break;
                self_closing = *q == '/';
                if (self_closing && (q + 1 >= end || q[1] != '>'))
                    return sp_fail(err, SP_ERR_FORMAT, "stray '/' in an XML tag");
                q++;
            }
            SP_TRY(open_element(w, name, n, err));
            if (self_closing) SP_TRY(close_element(w, name, n, err));
            p = q + 1;
        }
    }
    if (w->stopped) return SP_OK;
    if (w->depth) return sp_fail(err, SP_ERR_FORMAT, "XML ends inside an element (truncated)");
    if (!w->root_seen) return sp_fail(err, SP_ERR_FORMAT, "XML has no root element");
    return SP_OK;
}

sp_status sp_s3_xml_walk(const char *doc, size_t len, sp_s3_xml_fn fn, void *ctx, sp_error *err)
{
    if (!doc && len) return sp_fail(err, SP_ERR_FORMAT, "no XML document");
    /* The walker holds 4 KiB of text: heap, so parsing is safe on small
     * worker stacks and under fuzzers. */
    walker *w = calloc(1, sizeof(*w));
    if (!w) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    w->fn = fn;
    w->ctx = ctx;
    sp_status st = walk(w, doc ? doc : "", len, err);
    free(w);
    return st;
}

/* Copies text into a fixed field, control characters (a newline would
 * break the one-line error message) replaced by spaces, whitespace trimmed. */
static void copy_field(char *dst, size_t cap, const char *text, size_t len)
{
    while (len && is_space(*text)) text++, len--;
    while (len && is_space(text[len - 1])) len--;
    if (len >= cap) len = cap - 1;
    for (size_t i = 0; i < len; i++) dst[i] = ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) ? ' ' : text[i];
    dst[len] = '\0';
}

typedef struct error_ctx {
    sp_s3_xml_error *e;
    int is_error;
} error_ctx;

static int on_error_elem(void *vctx, const char *path, const char *text, size_t len)
{
    error_ctx *c = vctx;
    if (!strcmp(path, "Error/Code")) copy_field(c->e->code, sizeof(c->e->code), text, len);
    else if (!strcmp(path, "Error/Message")) copy_field(c->e->message, sizeof(c->e->message), text, len);
    else if (!strchr(path, '/')) c->is_error = !strcmp(path, "Error");
    return 0;
}

int sp_s3_xml_parse_error(const char *doc, size_t len, sp_s3_xml_error *e)
{
    memset(e, 0, sizeof(*e));
    size_t i = 0;
    while (i < len && is_space(doc[i])) i++;
    if (i == len) return 0;
    error_ctx c = {e, 0};
    sp_error ignored;
    if (sp_s3_xml_walk(doc, len, on_error_elem, &c, &ignored) != SP_OK) {
        memset(e, 0, sizeof(*e));
        return -1;
    }
    if (!c.is_error) memset(e, 0, sizeof(*e));
    return c.is_error;
}

typedef struct id_ctx {
    char *out;
    size_t cap;
    int found, too_long;
} id_ctx;

static int on_upload_id(void *vctx, const char *path, const char *text, size_t len)
{
    id_ctx *c = vctx;
    if (strcmp(path, "InitiateMultipartUploadResult/UploadId") != 0) return 0;
    while (len && is_space(*text)) text++, len--;
    while (len && is_space(text[len - 1])) len--;
    if (len >= c->cap) {
        c->too_long = 1;
        return 1;
    }
    memcpy(c->out, text, len);
    c->out[len] = '\0';
    c->found = len > 0;
    return 1;
}

sp_status sp_s3_xml_upload_id(const char *doc, size_t len, char *out, size_t cap, sp_error *err)
{
    id_ctx c = {out, cap, 0, 0};
    if (cap) out[0] = '\0';
    SP_TRY(sp_s3_xml_walk(doc, len, on_upload_id, &c, err));
    if (c.too_long) return sp_fail(err, SP_ERR_FORMAT, "UploadId longer than %zu bytes", cap - 1);
    if (!c.found) return sp_fail(err, SP_ERR_FORMAT, "no UploadId in the InitiateMultipartUpload response");
    return SP_OK;
}

typedef struct list_ctx {
    sp_s3_xml_upload_fn fn;
    void *ctx;
    sp_s3_xml_upload cur;
    int truncated, bad, stopped;
    char *next_key, *next_id;
    size_t key_cap, id_cap;
} list_ctx;

#define LIST_ROOT "ListMultipartUploadsResult"

static int set_exact(char *dst, size_t cap, const char *text, size_t len)
{
    if (len >= cap) return -1;
    memcpy(dst, text, len);
    dst[len] = '\0';
    return 0;
}

static int on_list_elem(void *vctx, const char *path, const char *text, size_t len)
{
    list_ctx *c = vctx;
    if (strncmp(path, LIST_ROOT "/", sizeof(LIST_ROOT)) != 0) return 0;
    const char *rel = path + sizeof(LIST_ROOT);
    /* Keys are taken byte for byte: a key may begin or end with spaces. */
    if (!strcmp(rel, "Upload/Key")) {
        if (set_exact(c->cur.key, sizeof(c->cur.key), text, len)) c->bad = 1;
    } else if (!strcmp(rel, "Upload/UploadId")) {
        if (set_exact(c->cur.upload_id, sizeof(c->cur.upload_id), text, len)) c->bad = 1;
    } else if (!strcmp(rel, "Upload/Initiated")) {
        copy_field(c->cur.initiated, sizeof(c->cur.initiated), text, len);
    } else if (!strcmp(rel, "Upload")) {
        if (!c->cur.key[0] || !c->cur.upload_id[0]) c->bad = 1;
        if (c->bad) return 1;
        if (c->fn && c->fn(c->ctx, &c->cur)) {
            c->stopped = 1;
            return 1;
        }
        memset(&c->cur, 0, sizeof(c->cur));
    } else if (!strcmp(rel, "IsTruncated")) {
        char v[8];
        copy_field(v, sizeof(v), text, len);
        c->truncated = !strcmp(v, "true");
    } else if (!strcmp(rel, "NextKeyMarker")) {
        if (c->next_key && set_exact(c->next_key, c->key_cap, text, len)) c->bad = 1;
    } else if (!strcmp(rel, "NextUploadIdMarker")) {
        if (c->next_id && set_exact(c->next_id, c->id_cap, text, len)) c->bad = 1;
    }
    return c->bad;
}

sp_status sp_s3_xml_list_uploads(const char *doc, size_t len, sp_s3_xml_upload_fn fn, void *ctx, int *truncated,
                                 char *next_key, size_t key_cap, char *next_upload_id, size_t id_cap, sp_error *err)
{
    list_ctx *c = calloc(1, sizeof(*c));
    if (!c) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    c->fn = fn;
    c->ctx = ctx;
    c->next_key = key_cap ? next_key : NULL;
    c->next_id = id_cap ? next_upload_id : NULL;
    c->key_cap = key_cap;
    c->id_cap = id_cap;
    if (c->next_key) next_key[0] = '\0';
    if (c->next_id) next_upload_id[0] = '\0';
    sp_status st = sp_s3_xml_walk(doc, len, on_list_elem, c, err);
    if (st == SP_OK && c->bad) st = sp_fail(err, SP_ERR_FORMAT, "malformed Upload entry in ListMultipartUploads");
    if (st == SP_OK && c->stopped) st = sp_fail(err, SP_ERR_INTERRUPTED, "listing stopped by the caller");
    if (truncated) *truncated = st == SP_OK && c->truncated;
    free(c);
    return st;
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int sp_s3_parse_iso8601(const char *s, time_t *out)
{
    /* Fixed positions: "YYYY-MM-DDTHH:MM:SS" then ".fff" and "Z". */
    if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = digits(s + 11, 2),
        mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') return -1;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (strcmp(p, "Z") != 0) return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 60)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return -1;
    *out = t;
    return 0;
}
