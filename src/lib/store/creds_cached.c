/* creds_cached.c: holds credentials until shortly before they expire, then refreshes; the one provider the store asks. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/creds.h"

/* Several threads (the publish writer, fetch's readers) sign requests with
 * one store, so the cache is the one provider that locks; a refresh holds
 * the lock, and the others wait for its result rather than each asking the
 * source. */
typedef struct cached {
    sp_creds_provider *inner;
    long margin;
    pthread_mutex_t lock;
    sp_creds *have; /* secret memory */
    int valid;
    time_t refresh_at; /* 0: never */
} cached;

static sp_status cached_get(sp_creds_provider *self, sp_creds *out, sp_error *err)
{
    cached *c = self->impl;
    sp_status s = SP_OK;
    pthread_mutex_lock(&c->lock);
    time_t now = time(NULL);
    if (!c->valid || (c->refresh_at && now >= c->refresh_at)) {
        /* Into a scratch copy: a failed refresh must not spoil what we hold. */
        sp_creds *fresh = sp_creds_new();
        s = fresh ? c->inner->get(c->inner, fresh, err) : sp_fail(err, SP_ERR_NOMEM, "out of memory");
        if (s == SP_OK) memcpy(c->have, fresh, sizeof(*fresh));
        sp_creds_free(fresh);
        if (s == SP_OK) {
            c->valid = 1;
            c->refresh_at = 0;
            if (c->have->expires) {
                /* Refresh margin minutes early, but for credentials that
                 * live shorter than twice the margin, at half their life,
                 * so that short-lived ones are still reused. */
                long life = (long)(c->have->expires - now);
                long margin = c->margin;
                if (life < 2 * margin) margin = life / 2;
                if (margin < 0) margin = 0;
                c->refresh_at = c->have->expires - margin;
                if (c->refresh_at <= now) c->refresh_at = now + 1;
            }
        } else if (c->valid && c->have->expires > now) {
            /* The source failed but what we hold is still good: use it and
             * try again on the next request. */
            s = SP_OK;
        } else {
            c->valid = 0;
        }
    }
    if (s == SP_OK) memcpy(out, c->have, sizeof(*out));
    pthread_mutex_unlock(&c->lock);
    return s;
}

static void cached_destroy(sp_creds_provider *self)
{
    cached *c = self->impl;
    sp_creds_provider_free(c->inner);
    sp_creds_free(c->have);
    pthread_mutex_destroy(&c->lock);
    free(c);
    free(self);
}

sp_creds_provider *sp_creds_cached_new(sp_creds_provider *inner, long margin_seconds)
{
    sp_creds_provider *self = calloc(1, sizeof(*self));
    cached *c = calloc(1, sizeof(*c));
    sp_creds *have = sp_creds_new();
    if (!self || !c || !have || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(self);
        free(c);
        sp_creds_free(have);
        sp_creds_provider_free(inner);
        return NULL;
    }
    c->inner = inner;
    c->margin = margin_seconds;
    c->have = have;
    *self = (sp_creds_provider){.name = inner->name, .get = cached_get, .destroy = cached_destroy, .impl = c};
    return self;
}
