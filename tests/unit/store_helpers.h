/* store_helpers.h: shared by the store tests: deterministic data, an upload in uneven slices, a missing bucket. */
#ifndef SP_TEST_STORE_HELPERS_H
#define SP_TEST_STORE_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "helpers.h"
#include "store/store.h"

/* n bytes of xorshift noise (incompressible, deterministic per seed): helpers.h's SP_DATA_RANDOM. */
static inline uint8_t *sp_test_pattern(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n ? n : 1);
    cr_assert_not_null(p);
    sp_test_fill(p, n, SP_DATA_RANDOM, seed);
    return p;
}

/* Opens the S3 store of a bucket that does not exist (s3://sealpub-missing-PID). */
static inline sp_status sp_test_open_missing_bucket(sp_store *st, sp_error *err)
{
    char url[64];
    snprintf(url, sizeof(url), "s3://sealpub-missing-%d", (int)getpid());
    return sp_store_open(url, st, err);
}

/* Puts data through the store in uneven slices, as the pipeline's records arrive. */
static inline sp_status sp_test_put_object(sp_store *st, const char *key, const uint8_t *data, size_t n,
                                           uint64_t hint, sp_error *err)
{
    sp_upload *up;
    sp_status s = st->ops->put_begin(st->impl, key, hint, &up, err);
    if (s != SP_OK) return s;
    size_t off = 0, step = 777777;
    while (off < n) {
        size_t k = n - off < step ? n - off : step;
        s = st->ops->put_write(up, data + off, k, err);
        if (s != SP_OK) {
            st->ops->put_abort(up);
            return s;
        }
        off += k;
        step = step * 3 % 1500007 + 1;
    }
    return st->ops->put_commit(up, err);
}

#endif
