/* source_docker.c: streams an image's `docker save` archive from the Docker Engine API, pull-style, with no temp file. */
#include "source/source_docker.h"

#include <stdlib.h>

#include "common/json.h"
#include "source/docker_engine.h"

/*
 * The pipeline pulls: it hands us a buffer and waits for it to be full.
 * libcurl pushes: its write callback gets whatever one socket read brought.
 * The multi interface joins the two: a read runs curl_multi_perform (and
 * polls the socket) only until the caller's buffer is full. What a callback
 * brings beyond that waits in a small spill buffer for the next read, so
 * memory stays at one chunk plus one socket read, whatever the image size.
 *
 * The archive's end is trusted only when the HTTP response ended properly:
 * the engine sends it chunked, so an engine that dies mid-stream leaves the
 * response without its last chunk, which curl reports as an error. An engine
 * that fails after it has started sending appends its JSON error to the
 * stream instead; the tar completeness check (the input is always treated as
 * a tar archive) refuses that.
 */

#define POLL_MS 100
#define SPILL_MAX ((size_t)16 << 20) /* a bug guard: one perform never brings this much */
#define TAGS_MAX 1024

struct sp_docker_stream {
    sp_docker *d;
    CURLM *multi;
    CURL *easy;
    int added, done;
    CURLcode result;
    long http;
    char ref[520];
    char image_id[80];
    char tags[TAGS_MAX];
    char errbuf[CURL_ERROR_SIZE];
    /* The caller's buffer during a read; NULL otherwise. */
    uint8_t *dst;
    size_t dst_len, dst_cap;
    /* Bytes that arrived past the caller's buffer. */
    uint8_t *spill;
    size_t spill_off, spill_len, spill_cap;
    /* The body of an answer other than 200 (an error message), bounded. */
    char errbody[1024];
    size_t errbody_len;
    uint64_t total;
    int failed_alloc;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *ctx)
{
    sp_docker_stream *s = ctx;
    size_t len = size * n;
    if (!s->http) curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->http);
    if (s->http != 200) {
        size_t room = sizeof(s->errbody) - 1 - s->errbody_len, take = len < room ? len : room;
        memcpy(s->errbody + s->errbody_len, ptr, take);
        s->errbody_len += take;
        s->errbody[s->errbody_len] = 0;
        return len;
    }
    size_t take = 0;
    if (s->dst && s->dst_len < s->dst_cap) {
        take = s->dst_cap - s->dst_len < len ? s->dst_cap - s->dst_len : len;
        memcpy(s->dst + s->dst_len, ptr, take);
        s->dst_len += take;
    }
    size_t rest = len - take;
    if (rest) {
        if (s->spill_off == s->spill_len) s->spill_off = s->spill_len = 0;
        if (s->spill_len + rest > s->spill_cap) {
            size_t cap = s->spill_cap ? s->spill_cap : 65536;
            while (cap < s->spill_len + rest) cap *= 2;
            uint8_t *p = cap <= SPILL_MAX ? realloc(s->spill, cap) : NULL;
            if (!p) {
                s->failed_alloc = 1;
                return 0;
            }
            s->spill = p;
            s->spill_cap = cap;
        }
        memcpy(s->spill + s->spill_len, ptr + take, rest);
        s->spill_len += rest;
    }
    s->total += len;
    return len;
}

static sp_status inspect(sp_docker_stream *s, sp_error *err)
{
    char path[600], what[600];
    long code = 0;
    char *body = NULL;
    snprintf(path, sizeof(path), "/images/%s/json", s->ref);
    SP_TRY(sp_docker_get(s->d, path, &code, &body, err));
    sp_status st = SP_OK;
    if (code == 404) {
        st = sp_fail(err, SP_ERR_INPUT, "%s%s: no such image in the docker engine at %s", SP_DOCKER_DAEMON_PREFIX,
                     s->ref, sp_docker_socket(s->d));
    } else if (code != 200) {
        snprintf(what, sizeof(what), "looking up image %s", s->ref);
        st = sp_docker_http_error(s->d, what, code, body, err);
    } else if (sp_json_string(sp_json_member(body, "Id"), s->image_id, sizeof(s->image_id)) != 0) {
        st = sp_fail(err, SP_ERR_INPUT, "docker engine at %s: image %s has no Id", sp_docker_socket(s->d), s->ref);
    } else {
        /* RepoTags: an array of strings, or null for an untagged image. */
        const char *p = sp_json_member(body, "RepoTags");
        size_t n = 0;
        if (p && *p == '[') {
            for (p++;;) {
                while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r' || *p == ',') p++;
                if (*p != '"') break;
                char tag[300];
                if (sp_json_string(p, tag, sizeof(tag)) != 0) break;
                size_t tl = strlen(tag);
                if (n + tl + 2 > sizeof(s->tags)) break; /* keep whole tags only */
                if (n) s->tags[n++] = '\n';
                memcpy(s->tags + n, tag, tl + 1);
                n += tl;
                p = sp_json_skip(p);
                if (!p) break;
            }
        }
    }
    free(body);
    return st;
}

sp_status sp_docker_stream_open(const char *ref, volatile const int *cancel, sp_docker_stream **out, sp_error *err)
{
    *out = NULL;
    if (!sp_docker_ref_ok(ref))
        return sp_fail(err, SP_ERR_USAGE,
                       "%s%.80s: not an image reference (IMAGE[:TAG] or IMAGE@DIGEST or an image ID; "
                       "letters, digits and ._/:@- only)",
                       SP_DOCKER_DAEMON_PREFIX, ref ? ref : "");
    sp_docker_stream *s = calloc(1, sizeof(*s));
    if (!s) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    sp_strlcpy(s->ref, ref, sizeof(s->ref));
    sp_status st = sp_docker_connect(cancel, &s->d, err);
    if (st == SP_OK) st = inspect(s, err);
    char *esc = NULL;
    if (st == SP_OK && !(s->multi = curl_multi_init())) st = sp_fail(err, SP_ERR_NOMEM, "out of memory (curl_multi_init)");
    if (st == SP_OK) {
        /* By name, not by ID: the archive then carries the tags, and a load
         * restores them. */
        CURL *tmp = curl_easy_init();
        esc = tmp ? curl_easy_escape(tmp, ref, 0) : NULL;
        if (tmp) curl_easy_cleanup(tmp);
        if (!esc) st = sp_fail(err, SP_ERR_NOMEM, "out of memory");
    }
    if (st == SP_OK) {
        char path[1700];
        snprintf(path, sizeof(path), "/images/get?names=%s", esc);
        if (!(s->easy = sp_docker_handle(s->d, path, s->errbuf, err))) st = err->status;
    }
    curl_free(esc);
    if (st == SP_OK) {
        curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
        if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK)
            st = sp_fail(err, SP_ERR_INTERNAL, "curl_multi_add_handle failed");
        else
            s->added = 1;
    }
    if (st != SP_OK) {
        sp_docker_stream_close(s);
        return st;
    }
    *out = s;
    return SP_OK;
}

static void take_spill(sp_docker_stream *s)
{
    size_t n = s->spill_len - s->spill_off, room = s->dst_cap - s->dst_len;
    if (n > room) n = room;
    memcpy(s->dst + s->dst_len, s->spill + s->spill_off, n);
    s->dst_len += n;
    s->spill_off += n;
}

static sp_status finish_error(sp_docker_stream *s, sp_error *err)
{
    const char *sock = sp_docker_socket(s->d);
    if (s->failed_alloc) return sp_fail(err, SP_ERR_NOMEM, "out of memory while reading the image stream");
    if (s->result != CURLE_OK) {
        if (s->result == CURLE_ABORTED_BY_CALLBACK) return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted");
        return sp_fail(err, SP_ERR_INPUT,
                       "docker engine at %s: the image stream of %s broke after %llu bytes (did the engine stop?): %s",
                       sock, s->ref, (unsigned long long)s->total,
                       s->errbuf[0] ? s->errbuf : curl_easy_strerror(s->result));
    }
    if (s->http == 404)
        return sp_fail(err, SP_ERR_INPUT, "%s%s: no such image in the docker engine at %s", SP_DOCKER_DAEMON_PREFIX,
                       s->ref, sock);
    char what[600];
    snprintf(what, sizeof(what), "exporting image %s", s->ref);
    return sp_docker_http_error(s->d, what, s->http, s->errbody, err);
}

sp_status sp_docker_stream_read(sp_docker_stream *s, uint8_t *buf, size_t cap, size_t *got, sp_error *err)
{
    *got = 0;
    s->dst = buf;
    s->dst_len = 0;
    s->dst_cap = cap;
    sp_status st = SP_OK;
    for (;;) {
        if (s->spill_off < s->spill_len) take_spill(s);
        if (s->dst_len == cap || s->done) break;
        int running = 0;
        CURLMcode mc = curl_multi_perform(s->multi, &running);
        if (mc != CURLM_OK) {
            st = sp_fail(err, SP_ERR_INTERNAL, "curl_multi_perform: %s", curl_multi_strerror(mc));
            break;
        }
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(s->multi, &left)))
            if (m->msg == CURLMSG_DONE && m->easy_handle == s->easy) {
                s->done = 1;
                s->result = m->data.result;
                curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->http);
            }
        if (s->done) {
            if (s->result != CURLE_OK || s->http != 200 || s->failed_alloc) {
                st = finish_error(s, err);
                break;
            }
            continue; /* drain what is left in the spill buffer */
        }
        if (s->dst_len == cap || s->spill_off < s->spill_len) continue;
        mc = curl_multi_poll(s->multi, NULL, 0, POLL_MS, NULL);
        if (mc != CURLM_OK) {
            st = sp_fail(err, SP_ERR_INTERNAL, "curl_multi_poll: %s", curl_multi_strerror(mc));
            break;
        }
    }
    *got = s->dst_len;
    s->dst = NULL;
    return st;
}

const char *sp_docker_stream_image_id(const sp_docker_stream *s) { return s->image_id; }
const char *sp_docker_stream_repo_tags(const sp_docker_stream *s) { return s->tags; }

void sp_docker_stream_close(sp_docker_stream *s)
{
    if (!s) return;
    if (s->added) curl_multi_remove_handle(s->multi, s->easy);
    if (s->easy) curl_easy_cleanup(s->easy);
    if (s->multi) curl_multi_cleanup(s->multi);
    sp_docker_free(s->d);
    free(s->spill);
    free(s);
}
