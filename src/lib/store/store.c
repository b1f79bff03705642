/* store.c: picks the store backend from a URL or the environment. */
#include <stdlib.h>

#include "store/store.h"


sp_status sp_store_open(const char *url, sp_store *st, sp_error *err)
{
    char home[SP_OBJECT_KEY_MAX], dir[SP_OBJECT_KEY_MAX + 16];
    memset(st, 0, sizeof(*st));
    if (url && !*url) return sp_fail(err, SP_ERR_USAGE, "--store is empty: give file:///DIR or s3://BUCKET[/PREFIX]");
    if (!url) url = getenv("SEALPUB_STORE");
    if (url && !*url) return sp_fail(err, SP_ERR_USAGE, "SEALPUB_STORE is set but empty: unset it or give a value");
    if (!url) {
        SP_TRY(sp_default_home(home, sizeof(home), err));
        snprintf(dir, sizeof(dir), "%s/objects", home);
        return sp_store_file_open(dir, st, err);
    }
    if (strncmp(url, "file://", 7) == 0) return sp_store_file_open(url + 7, st, err);
    if (strncmp(url, "file:", 5) == 0) return sp_store_file_open(url + 5, st, err);
    if (strncmp(url, "s3://", 5) == 0) return sp_store_s3_open(url, st, err);
    if (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0) return sp_store_http_open(url, st, err);
    if (url[0] == '/')
        return sp_fail(err, SP_ERR_USAGE, "store URL '%.200s' has no scheme: did you mean file://%.200s?", url, url);
    /* Only the scheme is echoed: the rest may carry credentials. */
    size_t scheme = strcspn(url, ":/@");
    return sp_fail(err, SP_ERR_USAGE, "unsupported store URL scheme '%.*s': use file:///DIR or s3://BUCKET[/PREFIX]",
                   (int)(scheme > 32 ? 32 : scheme), url);
}

void sp_store_close(sp_store *st)
{
    if (st && st->ops) st->ops->close(st->impl);
    if (st) memset(st, 0, sizeof(*st));
}

void sp_store_set_cancel(sp_store *st, volatile const int *flag)
{
    if (st && st->ops && st->ops->set_cancel) st->ops->set_cancel(st->impl, flag);
}

sp_status sp_store_cleanup_stale(sp_store *st, long older_than_seconds, unsigned *removed, sp_error *err)
{
    *removed = 0;
    if (older_than_seconds < 0) return sp_fail(err, SP_ERR_USAGE, "--older-than must not be negative");
    if (!st->ops->cleanup) return SP_OK;
    return st->ops->cleanup(st->impl, older_than_seconds, removed, err);
}

sp_status sp_store_put_meta(sp_store *st, sp_upload *up, const char *name, const char *value, sp_error *err)
{
    return st->ops->put_meta ? st->ops->put_meta(up, name, value, err) : SP_OK;
}

int sp_store_same_location(const char *desc_a, const char *desc_b)
{
    sp_store_parts a, b;
    sp_store_parts_from_desc(desc_a, &a);
    sp_store_parts_from_desc(desc_b, &b);
    if (!a.scheme[0]) return desc_a && desc_b && strcmp(desc_a, desc_b) == 0;
    return !strcmp(a.scheme, b.scheme) && !strcmp(a.path, b.path) && !strcmp(a.bucket, b.bucket) &&
           !strcmp(a.prefix, b.prefix) && !strcmp(a.endpoint, b.endpoint);
}

/* The descriptions are written by the backends' open functions; this reads
 * back the same forms, so machine output never parses human text itself. */
void sp_store_parts_from_desc(const char *desc, sp_store_parts *out)
{
    memset(out, 0, sizeof(*out));
    if (!desc) return;
    const char *sep = strstr(desc, "://");
    if (!sep) return;
    snprintf(out->scheme, sizeof(out->scheme), "%.*s", (int)(sep - desc), desc);
    const char *rest = sep + 3;
    if (strcmp(out->scheme, "file") == 0) {
        sp_strlcpy(out->path, rest, sizeof(out->path));
        return;
    }
    if (strcmp(out->scheme, "s3") != 0) { /* "BASE (public URL)" */
        const char *end = strstr(desc, " (public URL)");
        snprintf(out->endpoint, sizeof(out->endpoint), "%.*s", (int)(end ? end - desc : (long)strlen(desc)), desc);
        return;
    }
    size_t loc = strcspn(rest, " ");
    size_t b = strcspn(rest, "/ ");
    snprintf(out->bucket, sizeof(out->bucket), "%.*s", (int)b, rest);
    if (rest[b] == '/') snprintf(out->prefix, sizeof(out->prefix), "%.*s", (int)(loc - b - 1), rest + b + 1);
    const char *at = strstr(rest + loc, " at ");
    if (at) {
        at += 4;
        snprintf(out->endpoint, sizeof(out->endpoint), "%.*s", (int)strcspn(at, " "), at);
    } else if (rest[loc] == ' ' && rest[loc + 1] == '(') {
        const char *r = rest + loc + 2;
        snprintf(out->region, sizeof(out->region), "%.*s", (int)strcspn(r, ",)"), r);
    }
}
