/*
 * sched.c - slots and the scheduler thread.
 *
 * Each slot owns one octet_session (its KV cache) over the shared, immutable model. One thread runs every
 * step:
 *   1. move queued jobs into idle slots (cancelled ones are dropped);
 *   2. each slot still reading its prompt evaluates up to SRV_PREFILL_CHUNK prompt tokens (the cache keeps the
 *      previous request's tokens, so a shared prefix - a chat's history - is not evaluated again);
 *   3. each generating slot samples its next token, appends its text, checks end-of-generation, stop strings,
 *      max_tokens and the context;
 *   4. all slots that continue decode their new token together in one octet_session_decode_batch call, so the
 *      weights are streamed from memory once per step instead of once per slot.
 * A job whose client went away (job->cancel) leaves its slot at the next step.
 *
 * Pipeline mode (srv_sched_new_pipeline: `octet serve` under mpiexec, docs/distributed.md): slot i is the
 * pipeline's sequence i instead of a session. Step 2 submits every prefilling slot's chunk before waiting for
 * any, and step 4 submits every continuing slot's token before waiting, so the slots' micro-batches occupy
 * different stages at once. Nothing is in flight between steps. A pipeline sequence cannot be truncated, so a
 * new job always starts from an empty cache (no prefix reuse).
 *
 * Only this thread touches sessions and samplers. Jobs are shared with connection threads under job->mu.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

/* ---- jobs ------------------------------------------------------------------------------------------------ */
srv_job *srv_job_new(int32_t *prompt, int n_prompt) {
    srv_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    j->refs = 1;
    j->prompt = prompt;
    j->n_prompt = n_prompt;
    return j;
}

void srv_job_release(srv_job *j) {
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    int left = --j->refs;
    pthread_mutex_unlock(&j->mu);
    if (left) return;
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j->prompt);
    for (int i = 0; i < j->n_stop; i++) free(j->stop[i]);
    octet_grammar_free(j->grammar);
    srv_buf_free(&j->text);
    free(j);
}

static void deadline_in(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

void srv_job_wait(srv_job *j, size_t sent, int ms) {
    struct timespec ts;
    deadline_in(&ts, ms);
    pthread_mutex_lock(&j->mu);
    while (!j->done && j->ready <= sent && !j->cancel)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &ts)) break;
    pthread_mutex_unlock(&j->mu);
}

/* ---- slots and the scheduler ---------------------------------------------------------------------------- */
typedef struct slot {
    octet_session *s;
    int32_t *cache;     /* tokens in the KV cache, in order (n_cache of them) */
    int n_cache;
    srv_job *job;       /* NULL: idle */
    octet_sampler *smp;
    int n_fed;          /* prompt tokens in the cache for the current job */
    int generating;     /* the prompt is in; logits are those of the last token */
    int last_n;         /* tokens of the last decode call (the logits are its last token's) */
    int n_reused;       /* prompt tokens found in the cache */
    int pend;           /* pipeline: prompt tokens of the chunk in flight */
    double t_start;
} slot;

struct srv_sched {
    const octet_model *m;
    octet_pipeline *pl;     /* pipeline mode: slot i is sequence i (not owned) */
    int n_slots, n_ctx, queue_max;
    slot *slots;
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_job *qhead, *qtail; /* under mu */
    int n_queued;           /* under mu */
    int n_active;           /* under mu */
    int stopping;           /* under mu */
    int use_batch;          /* octet_session_decode_batch works for this model and mode */
    int verbose;            /* one line per finished request on stderr */
    octet_grammar_vocab *gvocab; /* the vocabulary indexed for grammar masks, made at the first grammar job */
    /* scratch for the batched step */
    octet_session **bs;
    int32_t *btok;
    int64_t *bpos;
    int *bslot;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void finish(srv_sched *sc, slot *sl, const char *reason, int status, const char *err) {
    srv_job *j = sl->job;
    if (sc->verbose)
        fprintf(stderr, "octet serve: slot %d: %d prompt tokens (%d reused), %d generated, %s, %.0f ms\n",
                (int)(sl - sc->slots), j->n_prompt, sl->n_reused, j->n_gen, status ? err : reason,
                now_ms() - sl->t_start);
    pthread_mutex_lock(&j->mu);
    srv_utf8_flush(&j->u8, &j->text);
    j->ready = j->text.len;
    j->done = 1;
    j->finish = reason;
    if (status) {
        j->err_status = status;
        snprintf(j->err, sizeof j->err, "%s", err ? err : "internal error");
    }
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    srv_job_release(j);
    sl->job = NULL;
    octet_sampler_free(sl->smp);
    sl->smp = NULL;
    sl->generating = 0;
    pthread_mutex_lock(&sc->mu);
    sc->n_active--;
    pthread_mutex_unlock(&sc->mu);
}

/* Length of the longest suffix of text[0..n) that is a proper prefix of stop s. */
static size_t partial_stop(const char *text, size_t n, const char *s) {
    size_t sl = strlen(s);
    for (size_t k = sl - 1; k > 0; k--)
        if (k <= n && memcmp(text + n - k, s, k) == 0) return k;
    return 0;
}

/* Append a token's text; returns 1 when a stop string appeared (text cut before it). Under j->mu. */
static int emit(srv_job *j, const char *piece, size_t n) {
    size_t old = j->text.len;
    srv_utf8_put(&j->u8, &j->text, piece, n);
    size_t hold = 0;
    for (int i = 0; i < j->n_stop; i++) {
        size_t sl = strlen(j->stop[i]);
        size_t from = old >= sl ? old - sl + 1 : 0;
        if (j->text.len >= from + sl) {
            const char *hit = NULL;
            /* memmem over the region that may contain a new occurrence */
            for (size_t p = from; p + sl <= j->text.len && !hit; p++)
                if (memcmp(j->text.p + p, j->stop[i], sl) == 0) hit = j->text.p + p;
            if (hit) {
                j->text.len = (size_t)(hit - j->text.p);
                j->text.p[j->text.len] = 0;
                return 1;
            }
        }
        size_t h = partial_stop(j->text.p ? j->text.p : "", j->text.len, j->stop[i]);
        if (h > hold) hold = h;
    }
    if (j->text.len - hold > j->ready) j->ready = j->text.len - hold;
    return 0;
}

/* Start a job in a slot: reuse the cached prefix, make a sampler. */
static int start_job(srv_sched *sc, slot *sl, srv_job *j) {
    octet_error err;
    sl->job = j;
    sl->generating = 0;
    if (octet_sampler_new(&sl->smp, &j->sp, octet_n_vocab(sc->m), &err)) return -1;
    if (j->grammar) {
        if (!sc->gvocab && octet_grammar_vocab_new(&sc->gvocab, sc->m, &err)) return -1;
        if (octet_sampler_set_grammar(sl->smp, j->grammar, sc->gvocab)) return -1;
    }
    int common = 0;
    while (!sc->pl && common < sl->n_cache && common < j->n_prompt && sl->cache[common] == j->prompt[common])
        common++;
    if (common >= j->n_prompt) common = j->n_prompt - 1; /* re-evaluate the last token for its logits */
    if (!sc->pl) octet_session_truncate(sl->s, common);
    sl->n_cache = common;
    sl->n_fed = common;
    sl->n_reused = common;
    sl->t_start = now_ms();
    for (int i = 0; i < j->n_prompt; i++) octet_sampler_accept(sl->smp, j->prompt[i]);
    return 0;
}

/* A chunk of the slot's prompt has been evaluated: remember its tokens; once the whole prompt is in, the slot
 * generates. Returns 1 when the slot decodes a token in this step (0: more prompt to go, or max_tokens is 0 and
 * the job is finished). */
static int prompt_chunk_done(srv_sched *sc, slot *sl, int chunk) {
    srv_job *j = sl->job;
    memcpy(sl->cache + sl->n_fed, j->prompt + sl->n_fed, (size_t)chunk * sizeof *sl->cache);
    sl->n_fed += chunk;
    sl->n_cache = sl->n_fed;
    if (sl->n_fed < j->n_prompt) return 0;
    sl->generating = 1;
    sl->last_n = chunk;
    if (j->n_gen >= j->max_tokens) {
        finish(sc, sl, "length", 0, NULL);
        return 0;
    }
    return 1;
}

/* Pipeline mode: collect the npend prompt chunks submitted in this step; slots whose prompt is complete join
 * bslot (from index nb). Returns the new nb. */
static int prefill_wait(srv_sched *sc, int nb, int npend) {
    octet_error err;
    memset(&err, 0, sizeof err);
    for (int k = 0; k < npend; k++) {
        int seq = -1;
        if (octet_pipeline_wait(sc->pl, &seq, &err)) { /* the pipeline is broken: fail every chunk in flight */
            for (int i = 0; i < sc->n_slots; i++)
                if (sc->slots[i].pend) {
                    sc->slots[i].pend = 0;
                    sc->slots[i].n_cache = 0;
                    finish(sc, &sc->slots[i], NULL, 500, err.msg);
                }
            return nb;
        }
        slot *sl = &sc->slots[seq];
        int chunk = sl->pend;
        sl->pend = 0;
        if (prompt_chunk_done(sc, sl, chunk)) sc->bslot[nb++] = seq;
    }
    return nb;
}

/* Pipeline mode: decode the nd tokens in btok for slots bslot (all submitted, then all collected); a failed
 * slot gets bslot[k] = -1. */
static void pipeline_step(srv_sched *sc, int nd) {
    octet_error err;
    memset(&err, 0, sizeof err);
    int sent = 0;
    for (int k = 0; k < nd; k++) {
        slot *sl = &sc->slots[sc->bslot[k]];
        if (octet_pipeline_submit(sc->pl, sc->bslot[k], &sc->btok[k], 1, sc->bpos[k], 0, &err)) {
            sl->n_cache = 0;
            finish(sc, sl, NULL, 500, err.msg);
            sc->bslot[k] = -1;
        } else {
            sent++;
        }
    }
    for (int k = 0; k < sent; k++)
        if (octet_pipeline_wait(sc->pl, NULL, &err)) {
            for (int i = 0; i < nd; i++)
                if (sc->bslot[i] >= 0) {
                    sc->slots[sc->bslot[i]].n_cache = 0;
                    finish(sc, &sc->slots[sc->bslot[i]], NULL, 500, err.msg);
                    sc->bslot[i] = -1;
                }
            return;
        }
}

static void *sched_main(void *arg) {
    srv_sched *sc = arg;
    octet_error err;
    char piece[512];
    for (;;) {
        pthread_mutex_lock(&sc->mu);
        while (!sc->stopping && sc->n_active == 0 && sc->n_queued == 0) pthread_cond_wait(&sc->cv, &sc->mu);
        if (sc->stopping) {
            pthread_mutex_unlock(&sc->mu);
            break;
        }
        for (int i = 0; i < sc->n_slots && sc->qhead; i++) {
            if (sc->slots[i].job) continue;
            srv_job *j = sc->qhead;
            sc->qhead = j->next;
            if (!sc->qhead) sc->qtail = NULL;
            sc->n_queued--;
            sc->n_active++;
            sc->slots[i].job = j; /* claimed; started below, outside the lock */
            sc->slots[i].n_fed = -1;
        }
        pthread_mutex_unlock(&sc->mu);

        int nb = 0, npend = 0;
        for (int i = 0; i < sc->n_slots; i++) {
            slot *sl = &sc->slots[i];
            srv_job *j = sl->job;
            if (!j) continue;
            if (j->cancel) {
                finish(sc, sl, "cancelled", 0, NULL);
                continue;
            }
            if (sl->n_fed < 0 && start_job(sc, sl, j)) {
                finish(sc, sl, NULL, 500, "out of memory");
                continue;
            }
            if (!sl->generating) {
                int chunk = j->n_prompt - sl->n_fed;
                if (chunk > SRV_PREFILL_CHUNK) chunk = SRV_PREFILL_CHUNK;
                if (sc->pl) { /* in flight with the other slots' chunks; collected by prefill_wait */
                    if (octet_pipeline_submit(sc->pl, i, j->prompt + sl->n_fed, chunk, sl->n_fed, sl->n_fed == 0,
                                              &err)) {
                        sl->n_cache = 0;
                        finish(sc, sl, NULL, 500, err.msg);
                        continue;
                    }
                    sl->pend = chunk;
                    npend++;
                    continue;
                }
                if (octet_session_decode(sl->s, j->prompt + sl->n_fed, chunk, sl->n_fed, &err)) {
                    sl->n_cache = 0;
                    octet_session_truncate(sl->s, 0);
                    finish(sc, sl, NULL, 500, err.msg);
                    continue;
                }
                if (!prompt_chunk_done(sc, sl, chunk)) continue;
            } else if (j->n_gen >= j->max_tokens) {
                finish(sc, sl, "length", 0, NULL);
                continue;
            }
            sc->bslot[nb++] = i;
        }
        if (npend) nb = prefill_wait(sc, nb, npend);

        /* sample for every generating slot, then decode the survivors together */
        int nd = 0;
        for (int k = 0; k < nb; k++) {
            slot *sl = &sc->slots[sc->bslot[k]];
            srv_job *j = sl->job;
            const float *logits = sc->pl ? octet_pipeline_logits(sc->pl, sc->bslot[k], sl->last_n - 1)
                                         : octet_session_logits(sl->s, sl->last_n - 1);
            if (!logits) {
                finish(sc, sl, NULL, 500, "no logits");
                continue;
            }
            int32_t tok = octet_sampler_sample(sl->smp, logits);
            if (tok < 0) {
                finish(sc, sl, NULL, 500, "no token of the vocabulary can continue the grammar");
                continue;
            }
            if ((!j->ignore_eos || j->grammar) && octet_token_is_eog(sc->m, tok)) {
                finish(sc, sl, "stop", 0, NULL);
                continue;
            }
            if (j->grammar && octet_grammar_accept_token(j->grammar, sc->gvocab, tok)) {
                finish(sc, sl, NULL, 500, "the grammar refused a sampled token");
                continue;
            }
            octet_sampler_accept(sl->smp, tok);
            int n = octet_token_to_piece(sc->m, tok, 0, piece, sizeof piece);
            if (n < 0) n = 0;
            if (n > (int)sizeof piece) n = (int)sizeof piece;
            pthread_mutex_lock(&j->mu);
            j->n_gen++;
            int stopped = emit(j, piece, (size_t)n);
            if (j->text.oom) stopped = 2;
            if (j->stream) pthread_cond_broadcast(&j->cv); /* a whole-response request is woken by finish() */
            int more = j->n_gen < j->max_tokens;
            pthread_mutex_unlock(&j->mu);
            if (stopped) {
                finish(sc, sl, stopped == 2 ? NULL : "stop", stopped == 2 ? 500 : 0, "out of memory");
                continue;
            }
            if (!more || sl->n_cache >= sc->n_ctx) {
                finish(sc, sl, "length", 0, NULL);
                continue;
            }
            sc->bs[nd] = sl->s;
            sc->btok[nd] = tok;
            sc->bpos[nd] = sl->n_cache;
            sc->bslot[nd] = sc->bslot[k];
            nd++;
        }
        if (nd == 0) continue;
        int rc = 0;
        if (sc->pl) pipeline_step(sc, nd);
        else if (sc->use_batch && nd > 1) {
            rc = octet_session_decode_batch(sc->bs, sc->btok, sc->bpos, nd, &err);
            if (rc) sc->use_batch = 0; /* fall back to one session at a time */
        }
        if (!sc->pl && (!sc->use_batch || nd == 1 || rc)) {
            for (int k = 0; k < nd; k++) {
                slot *sl = &sc->slots[sc->bslot[k]];
                if (octet_session_n_past(sl->s) > sl->n_cache) continue; /* done by the batch */
                if (octet_session_decode(sl->s, &sc->btok[k], 1, sc->bpos[k], &err)) {
                    sl->n_cache = 0;
                    octet_session_truncate(sl->s, 0);
                    finish(sc, sl, NULL, 500, err.msg);
                    sc->bslot[k] = -1;
                }
            }
        }
        for (int k = 0; k < nd; k++) {
            if (sc->bslot[k] < 0) continue;
            slot *sl = &sc->slots[sc->bslot[k]];
            sl->cache[sl->n_cache++] = sc->btok[k];
            sl->last_n = 1;
        }
    }
    /* stopping: fail whatever is left */
    for (int i = 0; i < sc->n_slots; i++)
        if (sc->slots[i].job) finish(sc, &sc->slots[i], NULL, 503, "the server is shutting down");
    pthread_mutex_lock(&sc->mu);
    srv_job *j = sc->qhead;
    sc->qhead = sc->qtail = NULL;
    sc->n_queued = 0;
    pthread_mutex_unlock(&sc->mu);
    while (j) {
        srv_job *next = j->next;
        pthread_mutex_lock(&j->mu);
        j->done = 1;
        j->err_status = 503;
        snprintf(j->err, sizeof j->err, "the server is shutting down");
        pthread_cond_broadcast(&j->cv);
        pthread_mutex_unlock(&j->mu);
        srv_job_release(j);
        j = next;
    }
    return NULL;
}

static int sched_new(srv_sched **out, const octet_model *m, octet_pipeline *pl, int n_slots, int queue_max,
                     const octet_session_params *sp, octet_error *err) {
    *out = NULL;
    srv_sched *sc = calloc(1, sizeof *sc);
    if (!sc) goto oom;
    sc->m = m;
    sc->pl = pl;
    sc->n_slots = n_slots;
    sc->queue_max = queue_max;
    sc->use_batch = 1;
    pthread_mutex_init(&sc->mu, NULL);
    pthread_cond_init(&sc->cv, NULL);
    sc->slots = calloc((size_t)n_slots, sizeof *sc->slots);
    sc->bs = calloc((size_t)n_slots, sizeof *sc->bs);
    sc->btok = calloc((size_t)n_slots, sizeof *sc->btok);
    sc->bpos = calloc((size_t)n_slots, sizeof *sc->bpos);
    sc->bslot = calloc((size_t)n_slots, sizeof *sc->bslot);
    if (!sc->slots || !sc->bs || !sc->btok || !sc->bpos || !sc->bslot) goto oom;
    octet_session_params p = *sp;
    srv_sched_session_params(&p, n_slots); /* decode_batch needs room for one row per slot */
    for (int i = 0; i < n_slots; i++) {
        int rc = pl ? 0 : octet_session_new(&sc->slots[i].s, m, &p, err);
        if (rc) {
            srv_sched_free(sc);
            return rc;
        }
        sc->n_ctx = pl ? octet_pipeline_n_ctx(pl) : octet_session_n_ctx(sc->slots[i].s);
        sc->slots[i].cache = calloc((size_t)sc->n_ctx + 1, sizeof *sc->slots[i].cache);
        if (!sc->slots[i].cache) goto oom;
    }
    if (pthread_create(&sc->th, NULL, sched_main, sc)) {
        srv_sched_free(sc);
        if (err) {
            err->code = OCTET_EINTERNAL;
            snprintf(err->msg, sizeof err->msg, "serve: cannot start the scheduler thread");
        }
        return OCTET_EINTERNAL;
    }
    sc->started = 1;
    *out = sc;
    return 0;
oom:
    srv_sched_free(sc);
    if (err) {
        err->code = OCTET_ENOMEM;
        snprintf(err->msg, sizeof err->msg, "serve: out of memory for %d slots", n_slots);
    }
    return OCTET_ENOMEM;
}

int srv_sched_new(srv_sched **out, const octet_model *m, int n_slots, int queue_max,
                  const octet_session_params *sp, octet_error *err) {
    return sched_new(out, m, NULL, n_slots, queue_max, sp, err);
}

int srv_sched_new_pipeline(srv_sched **out, const octet_model *m, octet_pipeline *pl, int queue_max,
                           octet_error *err) {
    octet_session_params sp = octet_session_default_params();
    return sched_new(out, m, pl, octet_pipeline_n_seq(pl), queue_max, &sp, err);
}

void srv_sched_session_params(octet_session_params *sp, int n_slots) {
    if (sp->n_batch == 0) sp->n_batch = 512;
    if (sp->n_batch < n_slots) sp->n_batch = n_slots;
    sp->logits_all = 0;
}

int srv_sched_submit(srv_sched *sc, srv_job *j) {
    pthread_mutex_lock(&sc->mu);
    if (sc->stopping || sc->n_queued >= sc->queue_max) {
        pthread_mutex_unlock(&sc->mu);
        return -1;
    }
    pthread_mutex_lock(&j->mu);
    j->refs++;
    pthread_mutex_unlock(&j->mu);
    j->next = NULL;
    if (sc->qtail) sc->qtail->next = j;
    else sc->qhead = j;
    sc->qtail = j;
    sc->n_queued++;
    pthread_cond_signal(&sc->cv);
    pthread_mutex_unlock(&sc->mu);
    return 0;
}

void srv_sched_set_verbose(srv_sched *sc, int on) { sc->verbose = on; }

void srv_sched_counts(srv_sched *sc, int *n_slots, int *n_active, int *n_queued) {
    pthread_mutex_lock(&sc->mu);
    *n_slots = sc->n_slots;
    *n_active = sc->n_active;
    *n_queued = sc->n_queued;
    pthread_mutex_unlock(&sc->mu);
}

int srv_sched_busy(srv_sched *sc) {
    pthread_mutex_lock(&sc->mu);
    int n = sc->n_queued + sc->n_active;
    pthread_mutex_unlock(&sc->mu);
    return n;
}

int srv_sched_n_ctx(const srv_sched *sc) { return sc->n_ctx; }

void srv_sched_shutdown(srv_sched *sc) {
    if (!sc || !sc->started) return;
    pthread_mutex_lock(&sc->mu);
    sc->stopping = 1;
    pthread_cond_broadcast(&sc->cv);
    pthread_mutex_unlock(&sc->mu);
    pthread_join(sc->th, NULL);
    sc->started = 0;
}

void srv_sched_free(srv_sched *sc) {
    if (!sc) return;
    srv_sched_shutdown(sc);
    for (int i = 0; sc->slots && i < sc->n_slots; i++) {
        octet_session_free(sc->slots[i].s);
        octet_sampler_free(sc->slots[i].smp);
        free(sc->slots[i].cache);
    }
    free(sc->slots);
    free(sc->bs);
    free(sc->btok);
    free(sc->bpos);
    free(sc->bslot);
    octet_grammar_vocab_free(sc->gvocab);
    pthread_mutex_destroy(&sc->mu);
    pthread_cond_destroy(&sc->cv);
    free(sc);
}
