/* store_helpers.h: shared by the store tests: deterministic data and an upload in uneven slices. */
#ifndef SP_TEST_STORE_HELPERS_H
#define SP_TEST_STORE_HELPERS_H

#include <stdlib.h>

#include "store/store.h"

/* n bytes of xorshift noise (incompressible, deterministic per seed). */
static inline uint8_t *sp_test_pattern(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n ? n : 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
    return p;
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
