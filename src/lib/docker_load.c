/* docker_load.c: hands a verified `docker save` archive to the Docker engine (POST /images/load) and reads its verdict. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "common/sp_common.h"
#include "source/docker_engine.h"

/*
 * The engine imports each layer as its bytes arrive and keeps what it
 * imported, so this must only ever see an archive that was authenticated in
 * full: the caller fetches to a file first (sp_fetch writes it only after the
 * final record authenticated) and passes that file's descriptor.
 *
 * The answer is HTTP 200 as soon as the engine starts reading, even when the
 * load then fails: the verdict is in the JSON stream that follows, one object
 * per message, where an error is an object with "error"/"errorDetail". So a
 * load succeeded only if the status was 200, the stream parsed, no object
 * carried an error, and at least one said "Loaded image".
 */

struct load {
    int fd;
    int read_errno;
    sp_docker_body answer; /* the verdict is at its end: read it all, judge what fitted */
};

static size_t on_read(char *buf, size_t size, size_t n, void *ctx)
{
    struct load *l = ctx;
    for (;;) {
        ssize_t r = read(l->fd, buf, size * n);
        if (r >= 0) return (size_t)r;
        if (errno == EINTR) continue;
        l->read_errno = errno;
        return CURL_READFUNC_ABORT;
    }
}

/* Walks the JSON stream: SP_OK with the "Loaded image" lines in loaded, or
 * the engine's error. */
static sp_status judge(const sp_docker *d, const char *answer, char *loaded, size_t cap, sp_error *err)
{
    size_t n = 0;
    int any = 0;
    if (cap) loaded[0] = 0;
    for (const char *p = answer; p && *p;) {
        while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
        if (!*p) break;
        const char *end = sp_json_skip(p);
        if (*p != '{' || !end)
            return sp_fail(err, SP_ERR_INPUT, "docker engine at %s: unreadable answer to the image load",
                           sp_docker_socket(d));
        char msg[400];
        const char *e = sp_json_member(p, "error");
        const char *detail = sp_json_member(sp_json_member(p, "errorDetail"), "message");
        if ((e && *e != 'n') || detail) {
            if (sp_json_string(detail ? detail : e, msg, sizeof(msg)) != 0) sp_strlcpy(msg, "(no message)", sizeof(msg));
            return sp_fail(err, SP_ERR_FORMAT, "docker engine at %s refused the image: %s", sp_docker_socket(d), msg);
        }
        if (sp_json_string(sp_json_member(p, "stream"), msg, sizeof(msg)) == 0 && strncmp(msg, "Loaded image", 12) == 0) {
            any = 1;
            msg[strcspn(msg, "\r\n")] = 0;
            size_t ml = strlen(msg);
            if (n + ml + 3 < cap) {
                if (n) memcpy(loaded + n, "; ", 2), n += 2;
                memcpy(loaded + n, msg, ml + 1);
                n += ml;
            }
        }
        p = end;
    }
    if (!any)
        return sp_fail(err, SP_ERR_FORMAT, "docker engine at %s loaded no image from the archive", sp_docker_socket(d));
    return SP_OK;
}

sp_status sp_docker_check(volatile const int *cancel, char *api, size_t cap, sp_error *err)
{
    sp_docker *d = NULL;
    SP_TRY(sp_docker_connect(cancel, &d, err));
    if (cap) sp_strlcpy(api, sp_docker_api_version(d), cap);
    sp_docker_free(d);
    return SP_OK;
}

sp_status sp_docker_load(int fd, volatile const int *cancel, char *loaded, size_t cap, sp_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return sp_fail(err, SP_ERR_IO, "image archive: fstat: %s", strerror(errno));
    off_t pos = lseek(fd, 0, SEEK_CUR);
    sp_docker *d = NULL;
    SP_TRY(sp_docker_connect(cancel, &d, err));
    char errbuf[CURL_ERROR_SIZE];
    struct load l = {.fd = fd, .answer = {.keep_reading = 1}};
    /* quiet=1: no per-layer progress bars, only the verdict. */
    CURL *e = sp_docker_handle(d, "/images/load?quiet=1", errbuf, err);
    if (!e) {
        sp_docker_free(d);
        return err->status;
    }
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/x-tar");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, &l);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sp_docker_body_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &l.answer);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    /* A regular file has a known length: send it as such rather than chunked. */
    if (S_ISREG(st.st_mode) && pos >= 0 && st.st_size >= pos)
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(st.st_size - pos));
    CURLcode rc = curl_easy_perform(e);
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(e);
    curl_slist_free_all(hdrs);
    sp_status s;
    if (l.read_errno)
        s = sp_fail(err, SP_ERR_IO, "image archive: read failed: %s", strerror(l.read_errno));
    else if (rc != CURLE_OK)
        s = sp_docker_transfer_error(d, "loading the image", rc, errbuf, SP_ERR_INPUT, err);
    else if (code != 200)
        s = sp_docker_http_error(d, "loading the image", code, l.answer.data, err);
    else if (l.answer.too_big)
        s = sp_fail(err, SP_ERR_INPUT, "docker engine at %s: answer to the image load over 1 MiB", sp_docker_socket(d));
    else
        s = judge(d, l.answer.data ? l.answer.data : "", loaded, cap, err);
    free(l.answer.data);
    sp_docker_free(d);
    return s;
}
