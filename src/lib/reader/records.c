/* records.c: the data records: framing in order, N workers that authenticate, decrypt and inflate, an in-order sink.
 *
 * The mirror of the publish pipeline. The calling thread is both the framer
 * and the writer. As framer it reads record prefixes in order, checks each
 * length against max_body before reading the body, reads the body into a
 * free slot, numbers it and queues it. Worker threads take queued slots by
 * number (any number of them may work at once, finishing in any order); each
 * owns an AEAD context and an inflater, authenticates and decrypts the body
 * in place, checks the gzip member's framing (FORMAT.md 8.2), inflates it
 * into the slot's plaintext buffer and marks the slot done. As writer the
 * calling thread hands done slots to the sink strictly by number and frees
 * them. It prefers writing to framing, and waits only when it can do
 * neither.
 *
 * Plaintext. A slot's plaintext reaches the sink only after its tag
 * verified (sp_aead_open wipes the buffer otherwise), and only in order, so
 * a `-o -` consumer sees a prefix of the artifact, every byte authenticated.
 * Whether the whole container is valid is known only after the final
 * record (final.c): callers commit output then, never before.
 *
 * Memory. Slot i holds the record numbered i mod nslots, and framing stops
 * while nslots records are outstanding (framed but not written), so the
 * numbers in flight never collide. Every slot's buffers (max_body +
 * chunk_size) are allocated before the first record: peak memory is
 * nslots x (max_body + chunk_size), about (threads + 2) x 2 x chunk_size,
 * whatever the artifact size; only the list of records seen grows, by 24
 * bytes per chunk (as the index does).
 *
 * Failure. The first failure on any thread is recorded under the lock,
 * `failed` is set and both condition variables are broadcast; workers stop
 * taking records, the calling thread stops framing and writing, joins the
 * workers and returns that failure. A chunk that fails in the middle
 * therefore stops everything and nothing after it reaches the sink.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "compress/codec.h"
#include "reader/reader.h"

#define MAX_THREADS 64

enum { RS_FREE, RS_QUEUED, RS_WORKING, RS_DONE };

typedef struct rslot {
    uint8_t *body;  /* max_body bytes: the record body, decrypted in place */
    uint8_t *plain; /* chunk_size bytes */
    uint64_t seq;
    uint32_t body_len;
    size_t plain_len;
    size_t body_hw, plain_hw; /* the most ever used: what to wipe at the end */
    int stored;
    int state;
} rslot;

typedef struct rpool {
    /* Set before the workers start; read-only afterwards. */
    const sp_records_cfg *cfg;
    const char *name;
    unsigned nslots;
    rslot *slots;

    /* Guarded by mu. */
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* workers wait here: a slot was queued, or stop */
    pthread_cond_t done_cv; /* the calling thread waits here: a slot is done, or failed */
    uint64_t next_work;     /* the number the next free worker takes */
    int stop, failed;
    sp_error err;           /* the first failure */
} rpool;

static void fail_locked(rpool *p, const sp_error *e)
{
    if (!p->failed) {
        p->failed = 1;
        p->err = *e;
        if (p->err.status == SP_OK) p->err.status = SP_ERR_INTERNAL;
    }
    pthread_cond_broadcast(&p->work_cv);
    pthread_cond_broadcast(&p->done_cv);
}

/* Prefixes a stage's message with the container and chunk it is about. */
static sp_status chunk_fail(const rpool *p, uint64_t seq, sp_status s, sp_error *e)
{
    char m[sizeof(e->msg)];
    snprintf(m, sizeof(m), "%.200s: chunk %llu: %.300s", p->name, (unsigned long long)seq, e->msg);
    sp_strlcpy(e->msg, m, sizeof(e->msg));
    e->status = s;
    return s;
}

/* Authenticate, decrypt, check the member, inflate: one record on a worker. */
static sp_status open_record(const rpool *p, sp_aead *aead, sp_codec *codec, rslot *sl, sp_error *e)
{
    uint8_t nonce[12];
    size_t mlen = sl->body_len - SP_TAG_LEN, off = 0, plen = 0;
    sp_record_nonce(sl->seq, 0, nonce);
    sp_status s = sp_aead_open(aead, nonce, p->cfg->aad, 32, sl->body, mlen, sl->body + mlen, e);
    if (s == SP_ERR_AUTH)
        return sp_fail(e, SP_ERR_AUTH,
                       "%s: chunk %llu failed authentication: wrong key, or the container was modified, reordered "
                       "or spliced",
                       p->name, (unsigned long long)sl->seq);
    if (s != SP_OK) return s;
    if ((s = sp_member_header(sl->body, mlen, &off, e)) != SP_OK) return chunk_fail(p, sl->seq, s, e);
    /* The trailer's ISIZE sizes the output; the inflater checks it. */
    size_t want = sp_get_le32(sl->body + mlen - 4);
    if (want == 0 || want > p->cfg->chunk_size)
        return sp_fail(e, SP_ERR_FORMAT, "%s: chunk %llu claims %zu bytes, outside 1..chunk size", p->name,
                       (unsigned long long)sl->seq, want);
    if (want > sl->plain_hw) sl->plain_hw = want; /* a failed inflate may have written that far */
    if ((s = sp_codec_decompress(codec, sl->body, mlen, sl->plain, want, &plen, e)) != SP_OK)
        return chunk_fail(p, sl->seq, s, e);
    if (plen == 0)
        return sp_fail(e, SP_ERR_FORMAT, "%s: chunk %llu is empty", p->name, (unsigned long long)sl->seq);
    sl->plain_len = plen;
    sl->stored = sp_member_stored_only(sl->body, mlen, off);
    return SP_OK;
}

static void *worker(void *arg)
{
    rpool *p = arg;
    sp_aead *aead = NULL;
    sp_codec *codec = NULL;
    sp_error e = {0};
    sp_status s = sp_aead_new(p->cfg->payload_key, &aead, &e);
    if (s == SP_OK) s = sp_codec_new(0, &codec, &e);
    pthread_mutex_lock(&p->mu);
    if (s != SP_OK) fail_locked(p, &e);
    for (;;) {
        rslot *sl;
        for (;;) {
            if (p->stop || p->failed) goto out;
            sl = &p->slots[p->next_work % p->nslots];
            if (sl->state == RS_QUEUED && sl->seq == p->next_work) break;
            pthread_cond_wait(&p->work_cv, &p->mu);
        }
        p->next_work++;
        sl->state = RS_WORKING;
        pthread_mutex_unlock(&p->mu);
        s = open_record(p, aead, codec, sl, &e);
        pthread_mutex_lock(&p->mu);
        sl->state = RS_DONE;
        if (s != SP_OK) fail_locked(p, &e);
        pthread_cond_broadcast(&p->done_cv);
    }
out:
    pthread_mutex_unlock(&p->mu);
    sp_aead_free(aead);
    sp_codec_free(codec);
    return NULL;
}

static unsigned worker_count(unsigned asked)
{
    long cpus = asked ? (long)asked : (long)sp_default_threads();
    if (cpus < 1) cpus = 1;
    return cpus > MAX_THREADS ? MAX_THREADS : (unsigned)cpus;
}

/* The calling thread's loop: write what is done, else frame the next record. */
static sp_status frame_and_write(sp_byte_in *in, rpool *p, sp_records_seen *seen, sp_error *err)
{
    const sp_records_cfg *c = p->cfg;
    const size_t max_body = sp_record_max_body(c->chunk_size);
    uint64_t framed = 0, written = 0, offset = c->first_offset, cap = 0;
    int at_final = 0, last_short = 0;
    sp_status s = SP_OK;
    while (s == SP_OK) {
        if (in->cancel && __atomic_load_n(in->cancel, __ATOMIC_RELAXED))
            return sp_fail(err, SP_ERR_INTERRUPTED, "interrupted");
        pthread_mutex_lock(&p->mu);
        if (p->failed) {
            *err = p->err;
            pthread_mutex_unlock(&p->mu);
            return err->status;
        }
        rslot *ws = &p->slots[written % p->nslots];
        int ready = written < framed && ws->state == RS_DONE && ws->seq == written;
        int can_frame = !at_final && framed - written < p->nslots;
        if (!ready && !can_frame) {
            if (at_final && written == framed) {
                pthread_mutex_unlock(&p->mu);
                break;
            }
            pthread_cond_wait(&p->done_cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
            continue;
        }
        pthread_mutex_unlock(&p->mu);

        if (ready) {
            /* Only the last chunk may be short (FORMAT.md 8.2). */
            if (last_short)
                return sp_fail(err, SP_ERR_FORMAT, "%s: record %llu follows a short chunk", in->name,
                               (unsigned long long)written);
            last_short = ws->plain_len < c->chunk_size;
            seen->e[written].plain_len = (uint32_t)ws->plain_len;
            seen->e[written].flags = ws->stored ? SP_ENTRY_STORED : 0;
            seen->plain_total += ws->plain_len;
            if (c->sink) s = c->sink(c->sink_ctx, ws->plain, ws->plain_len, err);
            pthread_mutex_lock(&p->mu);
            ws->state = RS_FREE;
            pthread_mutex_unlock(&p->mu);
            written++;
            continue;
        }

        uint8_t prefix[SP_PREFIX_LEN];
        size_t got = 0;
        SP_TRY(sp_in_read(in, prefix, SP_PREFIX_LEN, &got, err));
        if (got != SP_PREFIX_LEN)
            return sp_fail(err, SP_ERR_TRUNCATED, "%s: container truncated after %llu chunks: its final record is missing",
                           in->name, (unsigned long long)framed);
        uint32_t word = sp_get_le32(prefix), len = word & ~SP_FINAL_FLAG;
        if (word & SP_FINAL_FLAG) {
            at_final = 1;
            seen->final_word = word;
            seen->end_offset = offset;
            continue;
        }
        if (len < SP_TAG_LEN || len > max_body)
            return sp_fail(err, SP_ERR_FORMAT, "%s: record %llu has an impossible length %u", in->name,
                           (unsigned long long)framed, len);
        if (framed == cap) {
            cap = cap ? cap * 2 : 256;
            sp_index_entry *ne = realloc(seen->e, cap * sizeof(*ne));
            if (!ne) return sp_fail(err, SP_ERR_NOMEM, "out of memory");
            seen->e = ne;
        }
        rslot *fs = &p->slots[framed % p->nslots];
        SP_TRY(sp_in_read_exact(in, fs->body, len, "a chunk", err));
        seen->e[framed] = (sp_index_entry){.offset = offset, .body_len = len};
        offset += SP_PREFIX_LEN + (uint64_t)len;
        pthread_mutex_lock(&p->mu);
        fs->seq = framed;
        fs->body_len = len;
        if (len > fs->body_hw) fs->body_hw = len;
        fs->state = RS_QUEUED;
        pthread_cond_broadcast(&p->work_cv);
        pthread_mutex_unlock(&p->mu);
        seen->n = ++framed;
    }
    return s;
}

sp_status sp_records_read(sp_byte_in *in, const sp_records_cfg *cfg, sp_records_seen *seen, sp_error *err)
{
    memset(seen, 0, sizeof(*seen));
    rpool p = {.cfg = cfg, .name = in->name};
    unsigned nthreads = worker_count(cfg->threads), started = 0;
    size_t max_body = sp_record_max_body(cfg->chunk_size);
    p.nslots = nthreads + 2;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.work_cv, NULL);
    pthread_cond_init(&p.done_cv, NULL);
    pthread_t th[MAX_THREADS];
    sp_status s = (p.slots = calloc(p.nslots, sizeof(*p.slots))) ? SP_OK : sp_fail(err, SP_ERR_NOMEM, "out of memory");
    for (unsigned i = 0; s == SP_OK && i < p.nslots; i++)
        if (!(p.slots[i].body = malloc(max_body)) || !(p.slots[i].plain = malloc(cfg->chunk_size)))
            s = sp_fail(err, SP_ERR_NOMEM, "out of memory");
    if (s == SP_OK && (started = sp_start_workers(th, nthreads, worker, &p)) != nthreads)
        s = sp_fail(err, SP_ERR_INTERNAL, "cannot start a decryption thread");
    if (s == SP_OK) s = frame_and_write(in, &p, seen, err);
    pthread_mutex_lock(&p.mu);
    p.stop = 1;
    if (s != SP_OK) p.failed = 1; /* workers skip what is queued */
    pthread_cond_broadcast(&p.work_cv);
    pthread_mutex_unlock(&p.mu);
    for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
    for (unsigned i = 0; p.slots && i < p.nslots; i++) {
        /* Wiping only what was used keeps a small artifact from touching
         * every page of the pool. */
        if (p.slots[i].plain) OPENSSL_cleanse(p.slots[i].plain, p.slots[i].plain_hw);
        if (p.slots[i].body) OPENSSL_cleanse(p.slots[i].body, p.slots[i].body_hw);
        free(p.slots[i].plain);
        free(p.slots[i].body);
    }
    free(p.slots);
    pthread_cond_destroy(&p.done_cv);
    pthread_cond_destroy(&p.work_cv);
    pthread_mutex_destroy(&p.mu);
    return s;
}
