/* store.c: picks the store backend from a URL or the environment. */
#include <stdlib.h>

#include "store/store.h"


sp_status sp_store_open(const char *url, sp_store *st, sp_error *err)
{
    char home[SP_OBJECT_KEY_MAX], dir[SP_OBJECT_KEY_MAX + 16];
    memset(st, 0, sizeof(*st));
    if (!url || !*url) url = getenv("SEALPUB_STORE");
    if (!url || !*url) {
        SP_TRY(sp_default_home(home, sizeof(home), err));
        snprintf(dir, sizeof(dir), "%s/objects", home);
        return sp_store_file_open(dir, st, err);
    }
    if (strncmp(url, "file://", 7) == 0) return sp_store_file_open(url + 7, st, err);
    if (strncmp(url, "file:", 5) == 0) return sp_store_file_open(url + 5, st, err);
    if (strncmp(url, "s3://", 5) == 0) return sp_store_s3_open(url, st, err);
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
