/* fuzz_s3_xml.c: every entry point of s3_xml.h on untrusted response bodies (a hostile or broken S3 endpoint). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/s3_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The body is passed as libFuzzer hands it over: exactly size bytes on the
 * heap, not NUL-terminated, so ASan reports any read past the end. The
 * callbacks check what s3_xml.h promises callers. */

static int nul_terminated(const char *s, size_t cap) { return memchr(s, '\0', cap) != NULL; }

typedef struct walk_ctx {
    unsigned calls, stop_at;
} walk_ctx;

static int on_elem(void *vctx, const char *path, const char *text, size_t len)
{
    walk_ctx *c = vctx;
    size_t pl = strlen(path);
    if (pl == 0 || pl >= SP_S3_XML_PATH_MAX || path[0] == '/' || path[pl - 1] == '/' || strstr(path, "//")) abort();
    if (len > SP_S3_XML_TEXT_MAX || text[len] != '\0') abort();
    return ++c->calls == c->stop_at; /* exercise the early stop too */
}

static int on_upload(void *vctx, const sp_s3_xml_upload *u)
{
    unsigned *left = vctx;
    if (!nul_terminated(u->key, sizeof(u->key)) || !nul_terminated(u->upload_id, sizeof(u->upload_id)) ||
        !nul_terminated(u->initiated, sizeof(u->initiated)))
        abort();
    if (!u->key[0] || !u->upload_id[0]) abort(); /* "An Upload missing its Key or UploadId is SP_ERR_FORMAT" */
    time_t t;
    (void)sp_s3_parse_iso8601(u->initiated, &t);
    return *left && --*left == 0;
}

static void check_error_fields(const sp_s3_xml_error *e, int rc)
{
    if (rc < -1 || rc > 1) abort();
    if (!nul_terminated(e->code, sizeof(e->code)) || !nul_terminated(e->message, sizeof(e->message))) abort();
    /* The message goes into a one-line error: no control characters. */
    for (const char *p = e->code; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) abort();
    for (const char *p = e->message; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) abort();
    if (rc != 1 && (e->code[0] || e->message[0])) abort(); /* filled only for an <Error> document */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *doc = (const char *)data;
    sp_error err;
    /* The first byte, when present, also picks the small knobs (capacities,
     * where a callback stops), so one input explores them with the body. */
    unsigned knob = size ? data[0] : 0;

    walk_ctx wc = {0, knob % 8};
    sp_status s = sp_s3_xml_walk(doc, size, on_elem, &wc, &err);
    if (s != SP_OK && s != SP_ERR_FORMAT && s != SP_ERR_NOMEM) abort();
    s = sp_s3_xml_walk(NULL, 0, on_elem, &wc, &err); /* no body at all */
    if (s != SP_ERR_FORMAT) abort();

    sp_s3_xml_error e;
    check_error_fields(&e, sp_s3_xml_parse_error(doc, size, &e));

    /* XML has no NUL: text holding one is an error, so an id is never cut short. */
    char id[600];
    size_t caps[] = {sizeof(id), 1 + knob % 64, 1};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        memset(id, 'x', sizeof(id));
        s = sp_s3_xml_upload_id(doc, size, id, caps[i], &err);
        if (s == SP_OK && (!id[0] || strlen(id) >= caps[i])) abort();
        if (s != SP_OK && id[0]) abort(); /* no half-filled id on failure */
    }

    int truncated = -1;
    char next_key[SP_OBJECT_KEY_MAX], next_id[512];
    unsigned stop = knob % 4; /* 0: never stop */
    s = sp_s3_xml_list_uploads(doc, size, on_upload, &stop, &truncated, next_key, sizeof(next_key), next_id,
                               sizeof(next_id), &err);
    if (truncated != 0 && truncated != 1) abort();
    if (s != SP_OK && truncated) abort();
    if (!nul_terminated(next_key, sizeof(next_key)) || !nul_terminated(next_id, sizeof(next_id))) abort();
    /* No callback and tiny marker buffers: markers that do not fit are an error, never an overflow. */
    char small_key[8], small_id[4];
    s = sp_s3_xml_list_uploads(doc, size, NULL, NULL, NULL, small_key, sizeof(small_key), small_id,
                               sizeof(small_id), &err);
    if (s == SP_OK && (strlen(small_key) >= sizeof(small_key) || strlen(small_id) >= sizeof(small_id))) abort();
    s = sp_s3_xml_list_uploads(doc, size, NULL, NULL, NULL, NULL, 0, NULL, 0, &err);
    (void)s;

    /* Timestamps as a server sends them: the body as one NUL-terminated string. */
    char *str = malloc(size + 1);
    if (!str) abort();
    memcpy(str, data, size);
    str[size] = '\0';
    time_t t;
    if (sp_s3_parse_iso8601(str, &t) == 0 && t < 0) abort();
    free(str);
    return 0;
}
