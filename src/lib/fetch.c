/* fetch.c: sp_fetch: registry row -> parallel ranged reads from the store -> the strict parallel reader.
 *
 * Download threads fetch fixed-size ranges of the object into a ring of
 * buffers, several in flight; the reader's framer (unseal.c, records.c)
 * consumes them strictly in order through the byte callback, and its
 * workers decrypt and inflate records in parallel. A download thread may
 * start range i only when the slot of range i - nslots has been consumed,
 * so memory is nslots x range_size for the ring plus the reader's slots,
 * whatever the object size. The output appears only after the final record
 * authenticated, the whole object was read, and its size and SHA-256 (hashed
 * by the reader as it reads) equal the row's.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "crypto/crypto.h"
#include "store/store.h"
#include "unseal.h"

enum { SLOT_FREE, SLOT_FETCHING, SLOT_READY, SLOT_FAILED };

typedef struct range_slot {
    uint8_t *buf;
    uint64_t idx;
    size_t len;
    int state;
} range_slot;

typedef struct prefetch {
    /* Read-only while threads run. */
    sp_store *st;
    const char *key;
    uint64_t size, nranges;
    size_t range;
    unsigned nslots;
    range_slot *slots;
    volatile const int *cancel;

    /* Guarded by mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t next_job;
    int stop;
    sp_error err; /* first worker failure */

    /* Consumer (calling thread) only. */
    uint64_t cur;
    size_t cur_off;
    uint64_t consumed;
    sp_progress_fn progress;
    void *progress_ctx;
} prefetch;

static void *fetch_worker(void *arg)
{
    prefetch *p = arg;
    sp_error e = {0};
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->next_job < p->nranges && p->slots[p->next_job % p->nslots].state != SLOT_FREE)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop || p->next_job >= p->nranges) break;
        uint64_t idx = p->next_job++;
        range_slot *sl = &p->slots[idx % p->nslots];
        sl->state = SLOT_FETCHING;
        sl->idx = idx;
        uint64_t off = idx * p->range;
        sl->len = (size_t)(p->size - off < p->range ? p->size - off : p->range);
        pthread_mutex_unlock(&p->mu);
        sp_status s = p->st->ops->read_range(p->st->impl, p->key, off, sl->buf, sl->len, &e);
        pthread_mutex_lock(&p->mu);
        sl->state = s == SP_OK ? SLOT_READY : SLOT_FAILED;
        if (s != SP_OK && p->err.status == SP_OK) p->err = e;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* The reader's byte source: in-order bytes from the ring. */
static sp_status prefetch_read(void *ctx, uint8_t *buf, size_t len, size_t *got, sp_error *err)
{
    prefetch *p = ctx;
    size_t done = 0;
    while (done < len && p->cur < p->nranges) {
        if (p->cancel && __atomic_load_n(p->cancel, __ATOMIC_RELAXED))
            return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted");
        range_slot *sl = &p->slots[p->cur % p->nslots];
        pthread_mutex_lock(&p->mu);
        while (!(sl->idx == p->cur && (sl->state == SLOT_READY || sl->state == SLOT_FAILED)))
            pthread_cond_wait(&p->cv, &p->mu);
        if (sl->state == SLOT_FAILED) {
            *err = p->err;
            pthread_mutex_unlock(&p->mu);
            return err->status ? err->status : SP_ERR_STORE;
        }
        pthread_mutex_unlock(&p->mu);
        size_t n = sl->len - p->cur_off < len - done ? sl->len - p->cur_off : len - done;
        memcpy(buf + done, sl->buf + p->cur_off, n);
        done += n;
        p->cur_off += n;
        if (p->cur_off == sl->len) {
            pthread_mutex_lock(&p->mu);
            sl->state = SLOT_FREE;
            pthread_cond_broadcast(&p->cv);
            pthread_mutex_unlock(&p->mu);
            p->cur++;
            p->cur_off = 0;
            p->consumed += sl->len;
            if (p->progress) {
                sp_progress pr = {.in_bytes = p->consumed, .out_bytes = p->consumed, .total = p->size};
                p->progress(p->progress_ctx, &pr);
            }
        }
    }
    *got = done;
    return SP_OK;
}

void sp_fetch_opts_init(sp_fetch_opts *o) { memset(o, 0, sizeof(*o)); }

static sp_status validate(const sp_fetch_opts *o, char arch[SP_FIELD_MAX + 1], sp_error *err)
{
    SP_TRY(sp_validate_name("name", o->name, SP_NAME_MAX, err));
    SP_TRY(sp_validate_name("stage", o->stage, SP_FIELD_MAX, err));
    if (o->version) SP_TRY(sp_validate_version(o->version, err));
    SP_TRY(sp_canonical_arch(o->arch, arch, err));
    if (o->parallel > 64) return sp_fail(err, SP_ERR_USAGE, "parallel reads %u is more than 64", o->parallel);
    if (o->range_size && (o->range_size < (64u << 10) || o->range_size > SP_CHUNK_MAX))
        return sp_fail(err, SP_ERR_USAGE, "range size %zu out of range 64 KiB - 64 MiB", o->range_size);
    return SP_OK;
}

static sp_status download(prefetch *p, unsigned nthreads, const sp_unseal_cfg *cfg, const sp_row *row,
                          sp_open_result *orr, sp_error *err)
{
    pthread_t *th = calloc(nthreads, sizeof(*th));
    unsigned started = 0;
    sp_status s = th ? SP_OK : sp_fail(err, SP_ERR_NOMEM, "out of memory");
    /* Signals go to the calling thread, which checks the cancel flag. */
    if (s == SP_OK && (started = sp_start_workers(th, nthreads, fetch_worker, p)) != nthreads)
        s = sp_fail(err, SP_ERR_INTERNAL, "cannot start a download thread");
    if (s == SP_OK) {
        sp_byte_in in = {.read = prefetch_read, .ctx = p, .fd = -1, .name = row->object_key, .cancel = p->cancel};
        s = sp_unseal_stream(&in, cfg, orr, err);
        if (s == SP_OK && in.pos != p->size)
            s = sp_fail(err, SP_ERR_FORMAT, "%s: container ends at byte %llu of %llu", row->object_key,
                        (unsigned long long)in.pos, (unsigned long long)p->size);
    }
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    return s;
}

sp_status sp_fetch(const sp_fetch_opts *o, sp_fetch_result *r, sp_error *err)
{
    char arch[SP_FIELD_MAX + 1];
    double t0 = sp_now();
    memset(r, 0, sizeof(*r));
    SP_TRY(validate(o, arch, err));

    sp_registry reg = {0};
    sp_store st = {0};
    sp_row row;
    /* Read below even when the lookup fails; nothing of a failed lookup
     * may be taken for a row. */
    memset(&row, 0, sizeof(row));
    sp_out_file out = {.fd = -1};
    prefetch p = {0};
    uint64_t size = 0;
    sp_status s = sp_registry_open(o->registry_url, &reg, err);
    if (s == SP_OK) s = reg.ops->get(reg.impl, o->name, o->stage, arch, o->version, &row, err);
    /* Every field is checked before the row is used to reach the store. */
    if (s == SP_OK) s = sp_row_check_fields(&row, err);
    if (s == SP_OK) s = sp_store_open(o->store_url, &st, err);
    if (s == SP_OK) sp_store_set_cancel(&st, o->cancel); /* S3 reads stop on SIGINT too */
    if (s == SP_OK) s = st.ops->stat(st.impl, row.object_key, &size, err);
    if (s == SP_ERR_NOT_FOUND && row.object_key[0]) {
        char v[SP_FIELD_MAX + 1], k[SP_OBJECT_KEY_MAX];
        s = sp_fail(err, SP_ERR_NOT_FOUND, "the registry row for %s/%s/%s/%s names %s, which is not in %s", o->name,
                    o->stage, arch, sp_printable(row.version, v, sizeof(v)),
                    sp_printable(row.object_key, k, sizeof(k)), st.desc);
    }
    /* The size first, from the store's metadata: a truncated or replaced
     * object fails before any transfer. */
    if (s == SP_OK && size != row.size_bytes)
        s = sp_row_check_object(&row, row.object_key, size, row.sha256, row.plain_size, err);
    if (s == SP_OK) s = sp_out_begin(o->output, &out, err);
    out.cancel = o->cancel;

    unsigned nthreads = o->parallel ? o->parallel : 4;
    p.st = &st;
    p.key = row.object_key;
    p.size = size;
    p.range = o->range_size ? o->range_size : (size_t)4 << 20;
    p.nranges = (size + p.range - 1) / p.range;
    p.nslots = nthreads + 2;
    p.cancel = o->cancel;
    p.progress = o->progress;
    p.progress_ctx = o->progress_ctx;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    if (s == SP_OK && !(p.slots = calloc(p.nslots, sizeof(*p.slots))))
        s = sp_fail(err, SP_ERR_NOMEM, "out of memory");
    for (unsigned i = 0; s == SP_OK && i < p.nslots; i++) {
        p.slots[i].idx = UINT64_MAX;
        if (!(p.slots[i].buf = malloc(p.range))) s = sp_fail(err, SP_ERR_NOMEM, "out of memory");
    }
    sp_open_opts oo;
    sp_open_opts_init(&oo);
    oo.expect_name = row.resource_name;
    oo.expect_stage = row.dev_stage;
    oo.expect_arch = row.architecture;
    oo.expect_version = row.version;
    sp_open_result orr = {0};
    sp_unseal_cfg cfg = {.o = &oo,
                         .row = &row,
                         .threads = o->threads,
                         .sink = out.sink,
                         .sink_ctx = &out,
                         .sha256_hex = r->sha256};
    if (s == SP_OK) s = download(&p, nthreads, &cfg, &row, &orr, err);
    s = sp_out_finish(&out, s, err);
    if (s == SP_OK) {
        sp_strlcpy(r->object_key, row.object_key, sizeof(r->object_key));
        sp_strlcpy(r->version, row.version, sizeof(r->version));
        r->plain_size = orr.plain_size;
        r->stored_size = size;
        r->chunks = orr.chunks;
        r->seconds = sp_now() - t0;
    }
    if (p.slots)
        for (unsigned i = 0; i < p.nslots; i++) free(p.slots[i].buf);
    free(p.slots);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    OPENSSL_cleanse(&row, sizeof(row));
    sp_store_close(&st);
    sp_registry_close(&reg);
    return s;
}
