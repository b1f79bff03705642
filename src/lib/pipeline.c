/* pipeline.c: sp_publish: the one file that wires source -> codec -> AEAD -> hash -> store -> registry.
 *
 * Threads. Three kinds run at once. The reader thread owns the source: it
 * takes a free slot from the pool, reads the next chunk into it (io_uring
 * keeps up to two reads in flight), numbers it, runs the optional tar and
 * checksum checks over it in order, and appends it to the work queue. N
 * worker threads take slots from the work queue in any order; each owns a
 * codec and an AEAD context, compresses the chunk into the slot's output
 * buffer as one gzip member and seals it in place with the nonce of its
 * sequence number. The calling thread is the writer: it waits for the slot
 * whose number is next, feeds its bytes to SHA-256 and to the store, records
 * its index entry, and returns the slot to the pool; a helper thread does the
 * hashing while the writer writes the same bytes (hash_behind, below). After
 * the last chunk it seals the index as the final record, writes the footer
 * and commits.
 *
 * Ordering. Only sequence numbers order anything: workers finish in any
 * order and park their slot in done[seq % nslots]; the writer consumes
 * strictly by number. Since every outstanding number holds one slot, at most
 * nslots numbers are outstanding and the modulo map never collides.
 *
 * Back-pressure and memory. Every byte lives in a slot (one input chunk and
 * one output record), allocated once before the first read: nslots =
 * threads + 2. The reader blocks when the pool is empty, so a slow store (S3
 * at 60 MiB/s) throttles the reader, not memory. Peak memory is therefore
 * about nslots * 2 * chunk_size whatever the input size (32 MiB at 2 threads
 * and 4 MiB chunks); only the index grows, by 24 bytes per chunk.
 *
 * Deadlock freedom. The writer needs the lowest outstanding number; its slot
 * is already held by the reader (read in flight), a worker, or the done map,
 * and none of them waits for anything the writer holds.
 *
 * Shutdown on error. The first failure on any thread is recorded with its
 * message under the lock and `failed` is set; all condition variables are
 * broadcast, every loop checks `failed` after waking, and threads exit. A
 * reader blocked in read() on a stalled pipe is woken by pthread_cancel; it
 * enables cancellation only around that call, so it never dies holding the
 * lock. The writer then aborts the upload: nothing is committed, no row is
 * written. Cancellation (SIGINT/SIGTERM via opts->cancel) is a failure too.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "compress/codec.h"
#include "crypto/crypto.h"
#include "crypto/kek.h"
#include "format/container.h"
#include "registry/journal.h"
#include "registry/registry.h"
#include "source/source.h"
#include "source/tarcheck.h"
#include "store/store.h"

#define READ_AHEAD 2

typedef struct slot {
    uint8_t *in, *out;
    size_t in_len, body_len;
    uint64_t seq;
    sp_codec_kind kind;
} slot;

typedef struct pipeline {
    /* Set before the threads start; read-only afterwards. */
    size_t chunk, out_cap;
    unsigned nthreads, nslots;
    int level;
    uint8_t aad[32];
    const uint8_t *payload_key;
    sp_source *src;
    sp_tarcheck *tar;          /* reader thread only */
    int tar_sniff;             /* reader thread only: decide on the first chunk */
    sp_sha256 *input_hash;     /* reader thread only; NULL unless --expect-sha256 */
    char expect_sha256[65];    /* lower-case hex */
    uint64_t expect_size;      /* UINT64_MAX = not given */
    volatile const int *cancel;
    int create_only;           /* --on-exists fail on a store that honours it: commit only a new object */
    slot *slots;

    /* Guarded by mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv_free, cv_work, cv_done;
    unsigned *free_stack, nfree;
    unsigned *workq, wq_head, wq_count;
    int *done;                 /* slot index + 1 by seq % nslots; 0 = not yet */
    uint64_t total_chunks;     /* valid once reader_done */
    uint64_t plain_total;      /* valid once reader_done */
    int reader_done, failed;
    sp_error err;
    int inited;                /* pipeline_alloc ran: locks exist */
} pipeline;

static void fail_locked(pipeline *p, const sp_error *e)
{
    if (!p->failed) {
        p->failed = 1;
        p->err = *e;
    }
    pthread_cond_broadcast(&p->cv_free);
    pthread_cond_broadcast(&p->cv_work);
    pthread_cond_broadcast(&p->cv_done);
}

static void fail(pipeline *p, const sp_error *e)
{
    pthread_mutex_lock(&p->mu);
    fail_locked(p, e);
    pthread_mutex_unlock(&p->mu);
}

/* An atomic load: the flag is set by a signal handler or another thread. */
static int cancelled(const pipeline *p) { return p->cancel && __atomic_load_n(p->cancel, __ATOMIC_RELAXED); }

static void release_slot(pipeline *p, unsigned idx)
{
    pthread_mutex_lock(&p->mu);
    p->free_stack[p->nfree++] = idx;
    pthread_cond_signal(&p->cv_free);
    pthread_mutex_unlock(&p->mu);
}

/* Checks that run over the plaintext in input order, on the reader thread. */
static sp_status check_chunk(pipeline *p, const uint8_t *buf, size_t len, sp_error *err)
{
    if (p->input_hash) sp_sha256_update(p->input_hash, buf, len);
    if (p->tar_sniff) {
        p->tar_sniff = 0;
        if (!sp_tarcheck_sniff(buf, len)) {
            sp_tarcheck_free(p->tar);
            p->tar = NULL;
        }
    }
    if (p->tar) return sp_tarcheck_update(p->tar, buf, len, err);
    return SP_OK;
}

static sp_status check_input_end(pipeline *p, uint64_t total, sp_error *err)
{
    if (p->expect_size != UINT64_MAX && total != p->expect_size)
        return sp_fail(err, SP_ERR_INPUT, "input was %llu bytes, --expect-size says %llu", (unsigned long long)total,
                       (unsigned long long)p->expect_size);
    if (p->input_hash) {
        uint8_t digest[32];
        char got[65];
        sp_sha256_final(p->input_hash, digest);
        sp_hex(digest, 32, got);
        if (strcmp(got, p->expect_sha256) != 0)
            return sp_fail(err, SP_ERR_INPUT, "input SHA-256 is %s, --expect-sha256 says %s", got, p->expect_sha256);
    }
    return SP_OK;
}

static void *reader_main(void *arg)
{
    pipeline *p = arg;
    unsigned inflight_idx[READ_AHEAD], head = 0, inflight = 0;
    unsigned depth = strcmp(sp_source_kind(p->src), "uring") == 0 ? READ_AHEAD : 1;
    uint64_t seq = 0, total = 0;
    int eof = 0;
    sp_error e = {0};

    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    while (!eof || inflight) {
        /* Keep reads in flight, but never block on the pool while a read
         * we already own could complete. */
        while (!eof && inflight < depth) {
            pthread_mutex_lock(&p->mu);
            while (!p->nfree && !p->failed && !inflight) pthread_cond_wait(&p->cv_free, &p->mu);
            if (p->failed || !p->nfree) {
                int stop = p->failed;
                pthread_mutex_unlock(&p->mu);
                if (stop) goto out;
                break;
            }
            unsigned idx = p->free_stack[--p->nfree];
            pthread_mutex_unlock(&p->mu);
            if (sp_source_submit(p->src, p->slots[idx].in, &e) != SP_OK) {
                release_slot(p, idx);
                fail(p, &e);
                goto out;
            }
            inflight_idx[(head + inflight) % READ_AHEAD] = idx;
            inflight++;
        }
        if (!inflight) break;
        uint8_t *buf = NULL;
        size_t got = 0;
        unsigned idx = inflight_idx[head];
        head = (head + 1) % READ_AHEAD;
        inflight--;
        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
        sp_status s = sp_source_wait(p->src, &buf, &got, &e);
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        if (s == SP_OK && buf != p->slots[idx].in)
            s = sp_fail(&e, SP_ERR_INTERNAL, "source completed reads out of order");
        if (s == SP_OK && got && !eof) s = check_chunk(p, buf, got, &e);
        if (s != SP_OK || cancelled(p)) {
            if (s == SP_OK) sp_fail(&e, SP_ERR_INTERRUPTED, "interrupted");
            release_slot(p, idx);
            fail(p, &e);
            goto out;
        }
        if (got == 0 || eof) {
            eof = 1;
            release_slot(p, idx);
            continue;
        }
        if (got < p->chunk) eof = 1; /* only the last chunk is short */
        slot *sl = &p->slots[idx];
        sl->in_len = got;
        sl->seq = seq++;
        total += got;
        pthread_mutex_lock(&p->mu);
        p->workq[(p->wq_head + p->wq_count) % p->nslots] = idx;
        p->wq_count++;
        pthread_cond_signal(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
    }
    /* The input's own checks end here, before the writer can commit: a
     * failing one aborts the upload instead of replacing a good version.
     * An empty input under --content auto was never sniffed: not a tar. */
    if ((p->tar && !p->tar_sniff && sp_tarcheck_finish(p->tar, &e) != SP_OK) ||
        check_input_end(p, total, &e) != SP_OK) {
        fail(p, &e);
        goto out;
    }
    pthread_mutex_lock(&p->mu);
    p->reader_done = 1;
    p->total_chunks = seq;
    p->plain_total = total;
    pthread_cond_broadcast(&p->cv_work);
    pthread_cond_broadcast(&p->cv_done);
    pthread_mutex_unlock(&p->mu);
out:
    /* Reads still in flight after a failure land in slots nobody reads. */
    return NULL;
}

static void *worker_main(void *arg)
{
    pipeline *p = arg;
    sp_codec *codec = NULL;
    sp_aead *aead = NULL;
    sp_error e = {0};
    if (sp_codec_new(p->level, &codec, &e) != SP_OK || sp_aead_new(p->payload_key, &aead, &e) != SP_OK) {
        fail(p, &e);
        goto out;
    }
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->wq_count && !p->reader_done && !p->failed) pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->failed || !p->wq_count) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        unsigned idx = p->workq[p->wq_head];
        p->wq_head = (p->wq_head + 1) % p->nslots;
        p->wq_count--;
        pthread_mutex_unlock(&p->mu);

        slot *sl = &p->slots[idx];
        uint8_t nonce[12], *payload = sl->out + SP_PREFIX_LEN;
        size_t n = 0;
        sp_status s = sp_codec_compress(codec, sl->in, sl->in_len, payload, p->out_cap - SP_PREFIX_LEN - SP_TAG_LEN,
                                        &n, &sl->kind, &e);
        if (s == SP_OK) {
            sp_record_nonce(sl->seq, 0, nonce);
            s = sp_aead_seal(aead, nonce, p->aad, sizeof(p->aad), payload, n, payload + n, &e);
        }
        if (s != SP_OK) {
            fail(p, &e);
            break;
        }
        sl->body_len = n + SP_TAG_LEN;
        sp_put_le32(sl->out, (uint32_t)sl->body_len);

        pthread_mutex_lock(&p->mu);
        p->done[sl->seq % p->nslots] = (int)idx + 1;
        pthread_cond_signal(&p->cv_done);
        pthread_mutex_unlock(&p->mu);
    }
out:
    sp_codec_free(codec);
    sp_aead_free(aead);
    return NULL;
}

/* What the writer produced. */
typedef struct seal_out {
    uint8_t sha256[32];
    uint64_t stored_size, plain_size, chunks, chunks_raw;
    uint64_t chunks_fast, chunks_deflated; /* codec choice counts (compress/codec.h) */
} seal_out;

typedef struct index_buf {
    sp_index_entry *e;
    uint64_t n, cap;
} index_buf;

static sp_status index_push(index_buf *ix, const sp_index_entry *e, sp_error *err)
{
    if (ix->n == ix->cap) {
        uint64_t cap = ix->cap ? ix->cap * 2 : 256;
        sp_index_entry *ne = realloc(ix->e, cap * sizeof(*ne));
        if (!ne) return sp_fail(err, SP_ERR_NOMEM, "out of memory growing the chunk index");
        ix->e = ne;
        ix->cap = cap;
    }
    ix->e[ix->n++] = *e;
    return SP_OK;
}

/* Writes bytes to the store and the hash together: the hash covers exactly
 * what is uploaded. */
static sp_status emit(sp_store *st, sp_upload *up, sp_sha256 *h, const uint8_t *buf, size_t len, uint64_t *offset,
                      sp_error *err)
{
    sp_sha256_update(h, buf, len);
    *offset += len;
    return st->ops->put_write(up, buf, len, err);
}

/* The writer's SHA-256, overlapped with its store writes. The hash must stay
 * one serial pass over the uploaded bytes in order, but it need not run on
 * the thread that writes them: a helper thread hashes chunk n while the
 * writer hands the same bytes to the store, and the slot is released only
 * when both are done. Once compression is cheap (fp16 weights through the
 * fast codec) the writer is the limit, and this turns hash + write into
 * max(hash, write) per chunk. The helper and the writer never touch the
 * context at the same time: the writer uses it (header, final record) only
 * while no chunk is posted, and the mutex orders the hand-overs. */
typedef struct hash_behind {
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sp_sha256 *h;
    const uint8_t *buf; /* guarded by mu: posted bytes, NULL when idle */
    size_t len;
    int stop, started;
} hash_behind;

static void *hash_behind_main(void *arg)
{
    hash_behind *hb = arg;
    pthread_mutex_lock(&hb->mu);
    for (;;) {
        while (!hb->buf && !hb->stop) pthread_cond_wait(&hb->cv, &hb->mu);
        if (!hb->buf) break;
        const uint8_t *buf = hb->buf;
        size_t len = hb->len;
        pthread_mutex_unlock(&hb->mu);
        sp_sha256_update(hb->h, buf, len);
        pthread_mutex_lock(&hb->mu);
        hb->buf = NULL;
        pthread_cond_broadcast(&hb->cv);
    }
    pthread_mutex_unlock(&hb->mu);
    return NULL;
}

/* Without the thread (it could not start) hashing simply stays inline. */
static void hash_behind_start(hash_behind *hb, sp_sha256 *h)
{
    memset(hb, 0, sizeof(*hb));
    hb->h = h;
    pthread_mutex_init(&hb->mu, NULL);
    pthread_cond_init(&hb->cv, NULL);
    hb->started = pthread_create(&hb->tid, NULL, hash_behind_main, hb) == 0;
}

static void hash_behind_post(hash_behind *hb, const uint8_t *buf, size_t len)
{
    if (!hb->started) {
        sp_sha256_update(hb->h, buf, len);
        return;
    }
    pthread_mutex_lock(&hb->mu);
    hb->buf = buf;
    hb->len = len;
    pthread_cond_broadcast(&hb->cv);
    pthread_mutex_unlock(&hb->mu);
}

static void hash_behind_wait(hash_behind *hb)
{
    if (!hb->started) return;
    pthread_mutex_lock(&hb->mu);
    while (hb->buf) pthread_cond_wait(&hb->cv, &hb->mu);
    pthread_mutex_unlock(&hb->mu);
}

static void hash_behind_stop(hash_behind *hb)
{
    if (hb->started) {
        pthread_mutex_lock(&hb->mu);
        hb->stop = 1;
        pthread_cond_broadcast(&hb->cv);
        pthread_mutex_unlock(&hb->mu);
        pthread_join(hb->tid, NULL); /* it finishes a posted chunk first */
        hb->started = 0;
    }
    pthread_mutex_destroy(&hb->mu);
    pthread_cond_destroy(&hb->cv);
}

/* The final record: the index in clear, authenticated by a GCM tag over an
 * empty plaintext with AAD = header hash || index (docs/FORMAT.md). */
static sp_status write_final(pipeline *p, sp_store *st, sp_upload *up, sp_sha256 *h, const index_buf *ix,
                             uint64_t plain_total, uint64_t *offset, sp_error *err)
{
    uint64_t body = sp_index_body_len(ix->n);
    if (body > 0x7fffffffu) return sp_fail(err, SP_ERR_INPUT, "input has too many chunks for one index; raise --chunk-size");
    size_t ilen = (size_t)body - SP_TAG_LEN;
    uint8_t *rec = malloc(SP_PREFIX_LEN + (size_t)body + 32 + ilen);
    if (!rec) return sp_fail(err, SP_ERR_NOMEM, "out of memory for the index");
    uint8_t *index = rec + SP_PREFIX_LEN, *aad = rec + SP_PREFIX_LEN + body;
    sp_put_le32(rec, (uint32_t)body | SP_FINAL_FLAG);
    sp_index_encode(plain_total, ix->e, ix->n, index);
    memcpy(aad, p->aad, 32);
    memcpy(aad + 32, index, ilen);
    uint8_t nonce[12], footer[SP_FOOTER_LEN];
    sp_record_nonce(ix->n, 1, nonce);
    sp_aead *aead = NULL;
    sp_status s = sp_aead_new(p->payload_key, &aead, err);
    if (s == SP_OK) s = sp_aead_seal(aead, nonce, aad, 32 + ilen, index + ilen, 0, index + ilen, err);
    sp_aead_free(aead);
    uint64_t final_offset = *offset;
    if (s == SP_OK) s = emit(st, up, h, rec, SP_PREFIX_LEN + (size_t)body, offset, err);
    sp_footer_encode(final_offset, ix->n, footer);
    if (s == SP_OK) s = emit(st, up, h, footer, sizeof(footer), offset, err);
    free(rec);
    return s;
}

static sp_status writer_run(pipeline *p, sp_store *st, sp_upload *up, const uint8_t *header, size_t header_len,
                            const sp_publish_opts *o, seal_out *out, sp_error *err)
{
    sp_sha256 *h = sp_sha256_new();
    index_buf ix = {0};
    uint64_t offset = 0, next = 0, plain = 0, total_size = sp_source_size(p->src);
    hash_behind hb;
    sp_status s = h ? SP_OK : sp_fail(err, SP_ERR_NOMEM, "out of memory");
    if (s == SP_OK) s = emit(st, up, h, header, header_len, &offset, err);
    hash_behind_start(&hb, h);
    while (s == SP_OK) {
        pthread_mutex_lock(&p->mu);
        while (!p->failed && !p->done[next % p->nslots] && !(p->reader_done && next == p->total_chunks)) {
            if (cancelled(p)) {
                sp_error e;
                sp_fail(&e, SP_ERR_INTERRUPTED, "interrupted");
                fail_locked(p, &e);
                break;
            }
            /* Wake now and then to notice a signal-driven cancel, and to
             * keep the store's transfers moving while the input pauses. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
            if (pthread_cond_timedwait(&p->cv_done, &p->mu, &ts) == ETIMEDOUT && st->ops->put_poll) {
                pthread_mutex_unlock(&p->mu);
                sp_error pe = {0};
                sp_status ps = st->ops->put_poll(up, &pe);
                pthread_mutex_lock(&p->mu);
                if (ps != SP_OK) {
                    fail_locked(p, &pe);
                    break;
                }
            }
        }
        if (p->failed) {
            pthread_mutex_unlock(&p->mu);
            s = SP_ERR_INTERNAL; /* the recorded error is reported by the caller */
            break;
        }
        if (p->reader_done && next == p->total_chunks) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        unsigned idx = (unsigned)p->done[next % p->nslots] - 1;
        p->done[next % p->nslots] = 0;
        pthread_mutex_unlock(&p->mu);

        slot *sl = &p->slots[idx];
        sp_index_entry e = {.offset = offset, .body_len = (uint32_t)sl->body_len, .plain_len = (uint32_t)sl->in_len,
                            .flags = sl->kind == SP_CODEC_STORED ? SP_ENTRY_STORED : 0};
        s = index_push(&ix, &e, err);
        if (s == SP_OK) {
            size_t len = SP_PREFIX_LEN + sl->body_len;
            hash_behind_post(&hb, sl->out, len);
            s = st->ops->put_write(up, sl->out, len, err);
            offset += len;
            hash_behind_wait(&hb); /* the slot's bytes are hashed before it is reused */
        }
        out->chunks_raw += sl->kind == SP_CODEC_STORED;
        out->chunks_fast += sl->kind == SP_CODEC_FAST;
        out->chunks_deflated += sl->kind == SP_CODEC_DEFLATE;
        plain += sl->in_len;
        release_slot(p, idx);
        next++;
        if (s != SP_OK) {
            fail(p, err);
            break;
        }
        if (o->progress) {
            sp_progress pr = {.in_bytes = plain, .out_bytes = offset,
                              .total = total_size == UINT64_MAX ? 0 : total_size};
            o->progress(o->progress_ctx, &pr);
        }
    }
    hash_behind_stop(&hb);
    if (s == SP_OK && cancelled(p)) s = sp_fail(err, SP_ERR_INTERRUPTED, "interrupted");
    if (s == SP_OK) s = write_final(p, st, up, h, &ix, plain, &offset, err);
    if (s == SP_OK) {
        sp_sha256_final(h, out->sha256);
        out->stored_size = offset;
        out->plain_size = plain;
        out->chunks = ix.n;
    }
    sp_sha256_free(h);
    free(ix.e);
    return s;
}

static void pipeline_free(pipeline *p)
{
    if (!p->inited) return;
    if (p->slots)
        for (unsigned i = 0; i < p->nslots; i++) {
            free(p->slots[i].in);
            free(p->slots[i].out);
        }
    free(p->slots);
    free(p->free_stack);
    free(p->workq);
    free(p->done);
    sp_tarcheck_free(p->tar);
    sp_sha256_free(p->input_hash);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_free);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
}

static sp_status pipeline_alloc(pipeline *p, sp_error *err)
{
    p->inited = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_free, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    p->nslots = p->nthreads + 2;
    p->out_cap = SP_PREFIX_LEN + sp_record_max_body((uint32_t)p->chunk);
    p->slots = calloc(p->nslots, sizeof(*p->slots));
    p->free_stack = calloc(p->nslots, sizeof(unsigned));
    p->workq = calloc(p->nslots, sizeof(unsigned));
    p->done = calloc(p->nslots, sizeof(int));
    if (!p->slots || !p->free_stack || !p->workq || !p->done) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
    for (unsigned i = 0; i < p->nslots; i++) {
        p->slots[i].in = malloc(p->chunk);
        p->slots[i].out = malloc(p->out_cap);
        if (!p->slots[i].in || !p->slots[i].out)
            return sp_fail(err, SP_ERR_NOMEM, "out of memory reserving %u buffers of %zu bytes", p->nslots, p->chunk);
        p->free_stack[p->nfree++] = i;
    }
    return SP_OK;
}

/* Runs the threads and writes one container to the store. */
/* Runs the threads and writes one container to the store, uncommitted: on
 * success *upo is the open upload, which the caller commits (after the
 * recovery journal has the row) or aborts. */
static sp_status seal_to_store(pipeline *p, sp_store *st, const char *key, const uint8_t *header, size_t header_len,
                               const sp_publish_opts *o, const char *identity, const char *artifact_hex,
                               seal_out *out, sp_upload **upo, sp_error *err)
{
    sp_upload *up = NULL;
    *upo = NULL;
    SP_TRY(st->ops->put_begin(st->impl, key, UINT64_MAX, &up, err));
    /* Who the object belongs to, readable without the registry (S3:
     * x-amz-meta-sealpub-identity / -artifact-id); not secret. */
    sp_status s = sp_store_put_meta(st, up, "sealpub-identity", identity, err);
    if (s == SP_OK) s = sp_store_put_meta(st, up, "sealpub-artifact-id", artifact_hex, err);
    if (s != SP_OK) {
        st->ops->put_abort(up);
        return s;
    }
    if (p->create_only) st->ops->put_create_only(up);
    pthread_t reader, *workers = calloc(p->nthreads, sizeof(pthread_t));
    unsigned started = 0;
    int reader_started = 0;
    s = workers ? SP_OK : sp_fail(err, SP_ERR_NOMEM, "out of memory");
    if (s == SP_OK && pthread_create(&reader, NULL, reader_main, p) == 0) reader_started = 1;
    else if (s == SP_OK) s = sp_fail(err, SP_ERR_INTERNAL, "cannot start the reader thread");
    for (unsigned i = 0; s == SP_OK && i < p->nthreads; i++, started++)
        if (pthread_create(&workers[i], NULL, worker_main, p) != 0)
            s = sp_fail(err, SP_ERR_INTERNAL, "cannot start worker thread %u", i);
    if (s != SP_OK) {
        fail(p, err);
    } else {
        s = writer_run(p, st, up, header, header_len, o, out, err);
    }
    if (s != SP_OK) {
        pthread_mutex_lock(&p->mu);
        if (!p->failed) fail_locked(p, err);
        *err = p->err;
        s = p->err.status;
        pthread_mutex_unlock(&p->mu);
        if (reader_started) pthread_cancel(reader);
    }
    if (reader_started) pthread_join(reader, NULL);
    for (unsigned i = 0; i < started; i++) pthread_join(workers[i], NULL);
    free(workers);
    if (s != SP_OK) {
        st->ops->put_abort(up);
        return s;
    }
    *upo = up;
    return SP_OK;
}

void sp_publish_opts_init(sp_publish_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->level = -1;
    o->io_mode = SP_IO_PREAD;
    o->expect_size = UINT64_MAX;
    o->content_tar = -1;
    o->lock_timeout = -1;
}

/* The default level: the cheapest level whose output, with the per-chunk
 * codec choice (compress/codec.c), is no more than 1 % larger than gzip -6 of
 * the whole file on every corpus of bench/gen_corpus.py (level 4 is 1.8-2.4 %
 * larger on the image; the sweep is in docs/BENCHMARKS.md). */
#ifndef SP_DEFAULT_LEVEL
#define SP_DEFAULT_LEVEL 5
#endif

static unsigned online_cpus(void)
{
    return sp_default_threads();
}

static sp_status validate_opts(const sp_publish_opts *o, char arch[SP_FIELD_MAX + 1], sp_error *err)
{
    if (!o->input || !*o->input) return sp_fail(err, SP_ERR_USAGE, "no input: give a file or - for standard input");
    SP_TRY(sp_validate_name("name", o->name, SP_NAME_MAX, err));
    SP_TRY(sp_validate_name("stage", o->stage, SP_FIELD_MAX, err));
    SP_TRY(sp_validate_version(o->version, err));
    SP_TRY(sp_canonical_arch(o->arch, arch, err));
    if (o->level < -1 || o->level > SP_LEVEL_MAX) return sp_fail(err, SP_ERR_USAGE, "level %d out of range 0-12", o->level);
    if (o->threads > 1024) return sp_fail(err, SP_ERR_USAGE, "--threads %u is more than 1024", o->threads);
    if (o->chunk_size && (o->chunk_size < SP_CHUNK_MIN || o->chunk_size > SP_CHUNK_MAX))
        return sp_fail(err, SP_ERR_USAGE, "chunk size %zu out of range 1 MiB - 64 MiB", o->chunk_size);
    const char *retry = getenv("SEALPUB_REGISTRY_RETRY_SECONDS");
    char *end = NULL;
    double retry_s = retry && *retry ? strtod(retry, &end) : 0;
    /* !(x >= 0 && x <= 3600) also refuses nan, which every comparison passes. */
    if (retry && *retry && (!(retry_s >= 0 && retry_s <= 3600) || *end))
        return sp_fail(err, SP_ERR_USAGE, "SEALPUB_REGISTRY_RETRY_SECONDS must be a number of seconds from 0 to 3600");
    const char *lock = getenv("SEALPUB_LOCK_TIMEOUT");
    double lock_s = lock && *lock ? strtod(lock, &end) : 0;
    if (lock && (!*lock || !(lock_s >= 0 && lock_s <= 86400) || *end))
        return sp_fail(err, SP_ERR_USAGE, "SEALPUB_LOCK_TIMEOUT must be a number of seconds from 0 to 86400");
    if (o->lock_timeout > 86400 || o->lock_timeout != o->lock_timeout)
        return sp_fail(err, SP_ERR_USAGE, "--lock-timeout must be a number of seconds from 0 to 86400");
    uint8_t tmp[32];
    if (o->expect_sha256 && sp_unhex(o->expect_sha256, tmp, 32) != 0)
        return sp_fail(err, SP_ERR_USAGE, "--expect-sha256 must be 64 hex digits");
    return SP_OK;
}

/* SEALPUB_REGISTRY_RETRY_SECONDS, validated by validate_opts; default 20. */
static double registry_retry_budget(void)
{
    const char *env = getenv("SEALPUB_REGISTRY_RETRY_SECONDS");
    return env && *env ? strtod(env, NULL) : 20.0;
}

/* --lock-timeout, else SEALPUB_LOCK_TIMEOUT (validated by validate_opts),
 * else 600 s: long enough for another multi-GB publish to finish. */
static double lock_timeout_of(const sp_publish_opts *o)
{
    if (o->lock_timeout >= 0) return o->lock_timeout;
    const char *env = getenv("SEALPUB_LOCK_TIMEOUT");
    return env && *env ? strtod(env, NULL) : 600.0;
}

/* Notices go to the caller's callback as they happen and into the result,
 * so that --json carries them too. */
typedef struct publish_notices {
    const sp_publish_opts *o;
    sp_publish_result *r;
} publish_notices;

static void publish_notice(void *ctx, const char *msg)
{
    publish_notices *pn = ctx;
    if (pn->r->warnings_count < SP_ARRAY_LEN(pn->r->warnings))
        sp_strlcpy(pn->r->warnings[pn->r->warnings_count++], msg, sizeof(pn->r->warnings[0]));
    if (pn->o->notice) pn->o->notice(pn->o->notice_ctx, msg);
}

/* What identifies the committed object as this publish's: the exact header
 * bytes (they hold the random artifact id) and the size. */
typedef struct object_check {
    sp_store *st;
    const char *key;
    const uint8_t *header;
    size_t header_len;
    uint64_t size;
    int ours; /* cleared when the object was found replaced by another publish */
} object_check;

static sp_status object_still_ours(object_check *oc, sp_error *err)
{
    uint64_t size = 0;
    uint8_t head[SP_HEADER_MAX];
    sp_status s = oc->st->ops->stat(oc->st->impl, oc->key, &size, err);
    if (s == SP_OK && size == oc->size) s = oc->st->ops->read_range(oc->st->impl, oc->key, 0, head, oc->header_len, err);
    else if (s == SP_OK || s == SP_ERR_NOT_FOUND) size = UINT64_MAX, s = SP_OK;
    if (s != SP_OK) return s;
    if (size != oc->size || memcmp(head, oc->header, oc->header_len) != 0) {
        oc->ours = 0;
        return sp_fail(err, SP_ERR_EXISTS,
                       "another publish replaced %s while the registry connection was down and the claim had lapsed; "
                       "this publish wrote no row",
                       oc->key);
    }
    return SP_OK;
}

/* Retries the row for a bounded time: a registry restart or failover
 * during a long upload should not throw the upload away. Only retryable
 * failures are retried. A connection that broke has lost the claim with it
 * (advisory locks live with the session): the claim is taken again and the
 * object checked to be still this publish's before any row is written. */
static sp_status put_row_with_retry(const pipeline *p, sp_registry *reg, const sp_row *row, sp_on_exists on_exists,
                                    int *replaced, const char *identity, double lock_timeout, object_check *oc,
                                    void *notices, sp_error *err)
{
    double budget = registry_retry_budget(), start = sp_now(), delay = 0.2;
    for (;;) {
        sp_status s = SP_OK;
        if (!reg->ops->claim_held(reg->impl)) {
            double waited = 0;
            reg->ops->release(reg->impl);
            s = sp_registry_claim(reg, oc->key, identity, 0, lock_timeout, p->cancel, publish_notice, notices,
                                  &waited, err);
            if (s == SP_OK) s = object_still_ours(oc, err);
            if (s != SP_OK && !(s == SP_ERR_REGISTRY && err->retryable)) return s;
        }
        if (s == SP_OK) s = reg->ops->put(reg->impl, row, on_exists, replaced, err);
        if (s != SP_ERR_REGISTRY || !err->retryable || sp_now() - start + delay > budget) return s;
        /* Sleep in 50 ms steps: a SIGTERM must end the wait, not the budget. */
        for (double waited = 0; waited < delay; waited += 0.05) {
            if (cancelled(p)) return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted while retrying the registry write");
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        delay = delay * 2 > 5.0 ? 5.0 : delay * 2;
    }
}

static sp_status make_row(const sp_publish_opts *o, const char *arch, const char *key_name, const seal_out *so,
                          const uint8_t *file_key, const sp_header *hdr, sp_row *row, sp_error *err)
{
    memset(row, 0, sizeof(*row));
    sp_strlcpy(row->resource_name, o->name, sizeof(row->resource_name));
    sp_strlcpy(row->dev_stage, o->stage, sizeof(row->dev_stage));
    sp_strlcpy(row->architecture, arch, sizeof(row->architecture));
    sp_strlcpy(row->version, o->version, sizeof(row->version));
    sp_strlcpy(row->object_key, key_name, sizeof(row->object_key));
    sp_hex(so->sha256, 32, row->sha256);
    row->size_bytes = so->stored_size;
    row->plain_size = so->plain_size;
    sp_hex(hdr->artifact_id, SP_ARTIFACT_ID_LEN, row->artifact_id);
    sp_strlcpy(row->format, SP_FORMAT_NAME, sizeof(row->format));

    /* With a KEK the key is wrapped and bound to this row (kek.c). */
    sp_kek_binding b = {row->resource_name, row->dev_stage, row->architecture, row->version, hdr->artifact_id};
    sp_kek_fields f;
    sp_status s = sp_kek_seal_key(file_key, &b, &f, err);
    if (s == SP_OK) {
        sp_strlcpy(row->encryption_key, f.encryption_key, sizeof(row->encryption_key));
        sp_strlcpy(row->key_wrap, f.key_wrap, sizeof(row->key_wrap));
        sp_strlcpy(row->kek_id, f.kek_id, sizeof(row->kek_id));
    }
    OPENSSL_cleanse(&f, sizeof(f));
    return s;
}

sp_status sp_publish(const sp_publish_opts *o, sp_publish_result *r, sp_error *err)
{
    char arch[SP_FIELD_MAX + 1], key_name[SP_OBJECT_KEY_MAX];
    double t0 = sp_now();
    memset(r, 0, sizeof(*r));
    SP_TRY(validate_opts(o, arch, err));
    SP_TRY(sp_object_key(o->name, o->stage, arch, o->version, key_name, sizeof(key_name), err));

    pipeline p = {0};
    p.chunk = o->chunk_size ? o->chunk_size : SP_CHUNK_DEFAULT;
    p.nthreads = o->threads ? o->threads : online_cpus();
    p.level = o->level >= 0 ? o->level : SP_DEFAULT_LEVEL;
    p.cancel = o->cancel;
    p.expect_size = o->expect_size;
    if (o->expect_sha256)
        for (size_t i = 0; i < 64 && o->expect_sha256[i]; i++)
            p.expect_sha256[i] = (char)((o->expect_sha256[i] >= 'A' && o->expect_sha256[i] <= 'F')
                                            ? o->expect_sha256[i] + 32 : o->expect_sha256[i]);

    /* Everything that can be checked is checked before any byte is stored:
     * input, KEK, store, registry, and an existing row under --on-exists fail. */
    sp_store st = {0};
    sp_registry reg = {0};
    sp_row row, prior;
    uint8_t *keys = NULL;
    seal_out so = {0};
    int had_prior = 0, replaced = 0, kek_present = 0, kek_required = 0;
    char kek_id[SP_KEK_ID_LEN + 1];
    sp_status s = sp_source_open_cancellable(o->input, o->io_mode, p.chunk, READ_AHEAD, o->cancel, &p.src, err);
    if (s == SP_OK && o->expect_size != UINT64_MAX && sp_source_size(p.src) != UINT64_MAX &&
        sp_source_size(p.src) != o->expect_size)
        s = sp_fail(err, SP_ERR_INPUT, "input is %llu bytes, --expect-size says %llu",
                    (unsigned long long)sp_source_size(p.src), (unsigned long long)o->expect_size);
    keys = sp_secret_alloc(2 * SP_KEY_BYTES); /* file key, payload key */
    if (s == SP_OK && !keys) s = sp_fail(err, SP_ERR_NOMEM, "out of memory");
    if (s == SP_OK) s = sp_kek_load(keys, &kek_present, kek_id, err); /* validates the KEK early; reloaded later */
    if (s == SP_OK) s = sp_kek_required(&kek_required, err);
    if (s == SP_OK && kek_required && !kek_present)
        s = sp_fail(err, SP_ERR_USAGE, "SEALPUB_REQUIRE_KEK=1 but neither SEALPUB_KEK nor SEALPUB_KEK_FILE is set");
    int registry_named = 0;
    if (s == SP_OK) s = sp_registry_configured(o->registry_url, &registry_named, err);
    if (s == SP_OK) s = sp_store_open(o->store_url, &st, err);
    if (s == SP_OK) sp_store_set_cancel(&st, o->cancel); /* the store's own; no process-wide flag */
    if (s == SP_OK && strcmp(st.ops->scheme, "https") == 0)
        s = sp_fail(err, SP_ERR_USAGE,
                    "an http(s):// store is the read-only public URL in front of the bucket: publish to s3://BUCKET");
    /* The row is the only copy of the key: a remote store with the local
     * default registry would put it in a file that a CI container loses. */
    if (s == SP_OK && !registry_named && strcmp(st.ops->scheme, "file") != 0)
        s = sp_fail(err, SP_ERR_USAGE,
                    "the %s store needs an explicit registry (DATABASE_URL, SEALPUB_REGISTRY, --registry or PGHOST): "
                    "the registry row is the only copy of the key, and the local default would be lost with this "
                    "machine",
                    st.ops->scheme);
    if (s == SP_OK) s = sp_registry_open(o->registry_url, &reg, err);
    /* An unwrapped key never crosses a cleartext link to a remote registry (registry_pg.c). */
    if (s == SP_OK && !kek_present && reg.clear_link)
        s = sp_fail(err, SP_ERR_USAGE, "%s", SP_REGISTRY_CLEAR_LINK_MSG);
    char identity[SP_NAME_MAX + 3 * SP_FIELD_MAX + 8];
    snprintf(identity, sizeof(identity), "%s/%s/%s/%s", o->name, o->stage, arch, o->version);
    publish_notices pn = {o, r};
    if (s == SP_OK) {
        char warn[256];
        s = reg.ops->check(reg.impl, warn, sizeof(warn), err);
        if (s == SP_OK && warn[0]) publish_notice(&pn, warn);
    }
    /* The claim: from here until the row is committed no other publisher,
     * on any machine, writes this object key (registry.h). */
    if (s == SP_OK)
        s = sp_registry_claim(&reg, key_name, identity, o->on_exists == SP_ON_EXISTS_FAIL, lock_timeout_of(o),
                              o->cancel, publish_notice, &pn, &r->claim_wait_seconds, err);
    if (s == SP_OK) {
        sp_row owner;
        sp_status k = reg.ops->get_by_key(reg.impl, key_name, &owner, err);
        if (k == SP_OK && !(strcmp(owner.resource_name, o->name) == 0 && strcmp(owner.dev_stage, o->stage) == 0 &&
                            strcmp(owner.architecture, arch) == 0 && strcmp(owner.version, o->version) == 0))
            s = sp_fail(err, SP_ERR_EXISTS,
                        "object key %s already belongs to %s/%s/%s/%s: '-' joins the fields of the key, so choose "
                        "a name or version that does not produce the same key",
                        key_name, owner.resource_name, owner.dev_stage, owner.architecture, owner.version);
        else if (k != SP_OK && k != SP_ERR_NOT_FOUND)
            s = k;
        OPENSSL_cleanse(&owner, sizeof(owner));
    }
    if (s == SP_OK) {
        s = reg.ops->get(reg.impl, o->name, o->stage, arch, o->version, &prior, err);
        if (s == SP_OK) had_prior = 1;
        if (s == SP_ERR_NOT_FOUND) s = SP_OK;
        if (had_prior && o->on_exists == SP_ON_EXISTS_FAIL)
            s = sp_fail(err, SP_ERR_EXISTS, "resource %s/%s/%s/%s already exists (use --on-exists replace)", o->name,
                        o->stage, arch, o->version);
    }
    /* --on-exists fail: the claim is the guard; where the store honours a
     * create-only commit (If-None-Match: *), it is a second one, against a
     * writer that bypasses the claim. Probed, never assumed. */
    if (s == SP_OK && o->on_exists == SP_ON_EXISTS_FAIL && !had_prior && st.ops->probe_create_only &&
        st.ops->put_create_only && !o->dry_run) {
        int supported = 0;
        uint64_t size = 0;
        /* Under the claim, an object without a row is what a failed publish
         * left (its delete failed too): replace it rather than refuse forever. */
        sp_status k = st.ops->stat(st.impl, key_name, &size, err);
        if (k == SP_OK) {
            char m[256];
            snprintf(m, sizeof(m), "an object without a registry row is stored at %.150s (left by a failed publish?): "
                                   "it will be replaced", key_name);
            publish_notice(&pn, m);
        } else if (k != SP_ERR_NOT_FOUND) {
            s = k;
        } else {
            s = st.ops->probe_create_only(st.impl, &supported, err);
        }
        p.create_only = supported;
        if (s == SP_OK && !supported && k == SP_ERR_NOT_FOUND)
            publish_notice(&pn, "the store ignores If-None-Match: only the identity claim guards against a "
                                "concurrent writer of this key");
    }
    if (s == SP_OK && o->dry_run) {
        /* The store answers for this very key: credentials, bucket, prefix. */
        uint64_t size = 0;
        sp_status k = st.ops->stat(st.impl, key_name, &size, err);
        /* A HEAD answers a missing bucket with a bare 404, like a missing
         * object; a GET's error body tells NoSuchBucket from NoSuchKey. */
        uint8_t byte;
        if (k == SP_ERR_NOT_FOUND) {
            k = st.ops->read_range(st.impl, key_name, 0, &byte, 1, err);
            if (k == SP_OK) k = SP_ERR_STORE, sp_fail(err, k, "%s appeared while checking it", key_name);
        }
        if (k == SP_OK || k == SP_ERR_NOT_FOUND) {
            r->dry_run = 1;
            r->object_exists = k == SP_OK;
            r->replaced = had_prior;
            sp_strlcpy(r->object_key, key_name, sizeof(r->object_key));
            sp_strlcpy(r->store, st.desc, sizeof(r->store));
            sp_strlcpy(r->registry, reg.desc, sizeof(r->registry));
            sp_strlcpy(r->arch, arch, sizeof(r->arch));
            r->level = p.level;
            r->threads = p.nthreads;
            r->chunk_size = p.chunk;
            r->seconds = sp_now() - t0;
        } else {
            s = k;
        }
        goto done;
    }
    if (s == SP_OK) s = pipeline_alloc(&p, err);

    sp_header hdr = {.version = SP_FORMAT_VERSION, .suite = SP_SUITE_AES256GCM_GZIP, .chunk_size = (uint32_t)p.chunk};
    uint8_t header[SP_HEADER_MAX];
    size_t header_len = 0;
    if (s == SP_OK) {
        sp_strlcpy(hdr.name, o->name, sizeof(hdr.name));
        sp_strlcpy(hdr.stage, o->stage, sizeof(hdr.stage));
        sp_strlcpy(hdr.arch, arch, sizeof(hdr.arch));
        sp_strlcpy(hdr.version_str, o->version, sizeof(hdr.version_str));
        s = sp_random(keys, SP_KEY_BYTES, err);
        if (s == SP_OK) s = sp_random(hdr.artifact_id, SP_ARTIFACT_ID_LEN, err);
        if (s == SP_OK) s = sp_hkdf_sha256(keys, SP_KEY_BYTES, hdr.artifact_id, SP_ARTIFACT_ID_LEN, SP_KDF_INFO,
                                           keys + SP_KEY_BYTES, err);
        header_len = sp_header_encode(&hdr, header);
        sp_sha256_once(header, header_len, p.aad);
        p.payload_key = keys + SP_KEY_BYTES;
    }
    if (s == SP_OK && o->expect_sha256 && !(p.input_hash = sp_sha256_new()))
        s = sp_fail(err, SP_ERR_NOMEM, "out of memory");
    if (s == SP_OK) {
        /* auto: a .tar name means tar; otherwise the reader sniffs the
         * first block and drops the check if it is not a tar header. */
        int want_tar = o->content_tar;
        if (want_tar < 0 && sp_source_name_is_tar(p.src)) want_tar = 1;
        p.tar_sniff = want_tar < 0;
        if (want_tar != 0 && !(p.tar = sp_tarcheck_new())) s = sp_fail(err, SP_ERR_NOMEM, "out of memory");
    }
    sp_upload *up = NULL;
    char journal[SP_OBJECT_KEY_MAX + 64] = "";
    char artifact_hex[2 * SP_ARTIFACT_ID_LEN + 1];
    sp_hex(hdr.artifact_id, SP_ARTIFACT_ID_LEN, artifact_hex);
    if (s == SP_OK) s = seal_to_store(&p, &st, key_name, header, header_len, o, identity, artifact_hex, &so, &up, err);
    if (s == SP_OK) s = make_row(o, arch, key_name, &so, keys, &hdr, &row, err);
    /* The journal entry exists before the object does, so that a publish
     * killed between the commit and the row leaves its key recoverable. A
     * journal that cannot be written (a read-only home) costs only that
     * protection: say so and go on. */
    if (s == SP_OK) {
        sp_error je = {0};
        if (sp_journal_write(&row, st.desc, journal, sizeof(journal), &je) != SP_OK) {
            char m[256];
            snprintf(m, sizeof(m), "no recovery journal for this publish: %.200s", je.msg);
            publish_notice(&pn, m);
            journal[0] = '\0';
        }
    }
    if (s == SP_OK) {
        s = st.ops->put_commit(up, err);
        up = NULL;
    } else if (up) {
        st.ops->put_abort(up);
        up = NULL;
    }
    if (s != SP_OK && journal[0]) {
        sp_journal_remove(journal); /* nothing was committed */
        journal[0] = '\0';
    }
    /* From here on an object is committed under key_name. */
    int committed = s == SP_OK;
    object_check oc = {&st, key_name, header, header_len, so.stored_size, 1};
    /* No size check here: each store's commit already compares the committed
     * object's size with the bytes it was given (file: fstat before the
     * rename; S3: HEAD after CompleteMultipartUpload, deleting a mismatch),
     * so a second stat could never disagree and no test could reach it. */
    if (s == SP_OK)
        s = put_row_with_retry(&p, &reg, &row, o->on_exists, &replaced, identity, lock_timeout_of(o), &oc, &pn, err);
    if (s == SP_OK) sp_journal_remove(journal);
    if (s != SP_OK && committed) {
        /* No row may point at this object, and no object may outlive its
         * failed row, unless deleting it would destroy a version that a
         * row still names. */
        sp_error e2;
        char first[sizeof(err->msg)];
        sp_strlcpy(first, err->msg, sizeof(first));
        if (s == SP_ERR_REGISTRY) snprintf(err->msg, sizeof(err->msg), "registry: %s", first);
        if (!oc.ours) {
            /* Another publisher owns the object now: neither delete it nor keep a journal entry for it. */
            sp_journal_remove(journal);
        } else if (!had_prior && s != SP_ERR_EXISTS) {
            size_t n = strlen(err->msg);
            sp_journal_remove(journal);
            if (st.ops->remove(st.impl, key_name, &e2) != SP_OK)
                snprintf(err->msg + n, sizeof(err->msg) - n, "; and deleting the uploaded object %s failed: %s",
                         key_name, e2.msg);
            else
                snprintf(err->msg + n, sizeof(err->msg) - n, "; the uploaded object was deleted again: nothing published");
        } else {
            size_t n = strlen(err->msg);
            if (journal[0])
                snprintf(err->msg + n, sizeof(err->msg) - n,
                         "; the object %s was replaced and its new key kept in %s: run 'sealpub db recover' once the "
                         "registry is back",
                         key_name, journal);
            else
                snprintf(err->msg + n, sizeof(err->msg) - n,
                         "; the object %s was overwritten but its registry row still describes the previous publish "
                         "(that version cannot be opened until publish succeeds again)",
                         key_name);
        }
    }
    if (s == SP_OK) {
        sp_strlcpy(r->object_key, key_name, sizeof(r->object_key));
        sp_strlcpy(r->store, st.desc, sizeof(r->store));
        sp_strlcpy(r->registry, reg.desc, sizeof(r->registry));
        sp_strlcpy(r->arch, arch, sizeof(r->arch));
        sp_strlcpy(r->sha256, row.sha256, sizeof(r->sha256));
        sp_strlcpy(r->artifact_id, row.artifact_id, sizeof(r->artifact_id));
        r->plain_size = so.plain_size;
        r->stored_size = so.stored_size;
        r->chunks = so.chunks;
        r->chunks_stored_raw = so.chunks_raw;
        r->chunks_fast = so.chunks_fast;
        r->chunks_deflated = so.chunks_deflated;
        r->replaced = replaced;
        r->level = p.level;
        r->threads = p.nthreads;
        r->chunk_size = p.chunk;
        r->seconds = sp_now() - t0;
        const char *image_id, *repo_tags;
        if (sp_source_docker_image(p.src, &image_id, &repo_tags)) {
            sp_strlcpy(r->docker_image_id, image_id, sizeof(r->docker_image_id));
            sp_strlcpy(r->docker_repo_tags, repo_tags, sizeof(r->docker_repo_tags));
        }
    }
done:
    OPENSSL_cleanse(&row, sizeof(row));
    OPENSSL_cleanse(&prior, sizeof(prior));
    sp_secret_free(keys, 2 * SP_KEY_BYTES);
    sp_source_close(p.src);
    pipeline_free(&p);
    sp_registry_close(&reg);
    sp_store_close(&st);
    if (s != SP_OK && err) err->status = s;
    return s;
}
