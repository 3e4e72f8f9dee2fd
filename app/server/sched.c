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
#include <math.h>
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
    free(j->toks);
    free(j->ptoks);
    free(j->emb);
    free(j->emb_acc);
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
    double t_used;      /* when its last job started: the least recently used idle slot is given away first */
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
    float *hbuf;            /* embeddings: SRV_PREFILL_CHUNK x n_embd final hidden states */
    int n_embd;
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
    j->n_toks_keep = j->n_toks; /* a stop string cut the text: drop the tokens whose text is all gone */
    while (j->n_toks_keep > 0 && j->toks[j->n_toks_keep - 1].text_off >= j->text.len && reason &&
           strcmp(reason, "stop") == 0)
        j->n_toks_keep--;
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

/* ---- issue 19 items 3-4: prefix-aware slot choice, logprobs, embeddings ---------------------------------------- */
/* Log-softmax of logits at tok, in double (max subtracted, then log of the sum of exponentials), and the n_top
 * largest (ties: lower id first). */
static void tok_logprob(const float *logits, int V, int32_t tok, int n_top, srv_tokinfo *ti) {
    double mx = (double)logits[0];
    for (int i = 1; i < V; i++)
        if ((double)logits[i] > mx) mx = (double)logits[i];
    double sum = 0;
    for (int i = 0; i < V; i++) sum += exp((double)logits[i] - mx);
    double lse = mx + log(sum);
    ti->id = tok;
    ti->logprob = (float)((double)logits[tok] - lse);
    ti->n_top = 0;
    for (int i = 0; i < V && n_top > 0; i++) {
        float x = logits[i];
        int k = ti->n_top;
        if (k == n_top && !(x > logits[ti->top_id[k - 1]])) continue;
        if (k < n_top) ti->n_top++;
        else k--;
        while (k > 0 && x > logits[ti->top_id[k - 1]]) {
            ti->top_id[k] = ti->top_id[k - 1];
            k--;
        }
        ti->top_id[k] = i;
    }
    for (int k = 0; k < ti->n_top; k++) ti->top_lp[k] = (float)((double)logits[ti->top_id[k]] - lse);
}

static int common_prefix(const slot *sl, const srv_job *j) {
    int c = 0;
    while (c < sl->n_cache && c < j->n_prompt && sl->cache[c] == j->prompt[c]) c++;
    return c;
}

/* The idle slot for job j: the longest cached prefix in common when it covers at least half of j's prompt (when j
 * may reuse it), else the least recently used, so that a conversation keeps finding its slot while other clients
 * come and go (a shared BOS or system prompt alone does not make a new request evict a conversation). -1: none
 * idle. */
static int pick_slot(srv_sched *sc, const srv_job *j) {
    int best = -1, best_c = -1;
    for (int i = 0; i < sc->n_slots; i++) {
        slot *sl = &sc->slots[i];
        if (sl->job) continue;
        int c = sc->pl || !j->cache_prompt || j->embed || j->prompt_logprobs ? 0 : common_prefix(sl, j);
        if (2 * c < j->n_prompt) c = 0;
        if (c > best_c || (c == best_c && sl->t_used < sc->slots[best].t_used)) {
            best = i;
            best_c = c;
        }
    }
    return best;
}

/* Embedding job: accumulate the chunk's hidden states; 1 when the whole prompt is in (the job is finished). */
static int embed_chunk(srv_sched *sc, slot *sl, int chunk, octet_error *err) {
    srv_job *j = sl->job;
    if (octet_session_decode_stage(sl->s, j->prompt + sl->n_fed, NULL, chunk, sl->n_fed, sc->hbuf, err)) return -1;
    for (int t = 0; t < chunk; t++)
        for (int e = 0; e < sc->n_embd; e++) j->emb_acc[e] += (double)sc->hbuf[(size_t)t * (size_t)sc->n_embd + e];
    memcpy(sl->cache + sl->n_fed, j->prompt + sl->n_fed, (size_t)chunk * sizeof *sl->cache);
    sl->n_fed += chunk;
    sl->n_cache = sl->n_fed;
    if (sl->n_fed < j->n_prompt) return 0;
    /* mean, then L2 normalisation (the mean's 1/n cancels in it, but is kept so the steps read as documented) */
    double ss = 0;
    for (int e = 0; e < sc->n_embd; e++) {
        j->emb_acc[e] /= (double)j->n_prompt;
        ss += j->emb_acc[e] * j->emb_acc[e];
    }
    double inv = ss > 0 ? 1.0 / sqrt(ss) : 0;
    pthread_mutex_lock(&j->mu);
    for (int e = 0; e < sc->n_embd; e++) j->emb[e] = (float)(j->emb_acc[e] * inv);
    j->n_embd = sc->n_embd;
    pthread_mutex_unlock(&j->mu);
    return 1;
}

/* Append a token's logprob record (under j->mu); 0 on allocation failure (the record is dropped). */
static int push_tok(srv_job *j, const srv_tokinfo *ti) {
    if (j->n_toks == j->cap_toks) {
        int nc = j->cap_toks ? 2 * j->cap_toks : 64;
        srv_tokinfo *p = realloc(j->toks, (size_t)nc * sizeof *p);
        if (!p) return 0;
        j->toks = p;
        j->cap_toks = nc;
    }
    j->toks[j->n_toks++] = *ti;
    return 1;
}
/* ---- end of issue 19 items 3-4 helpers -------------------------------------------------------------------- */

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
    /* from an empty cache when the request says so (cache_prompt false), when every prompt position's output is
     * needed (embeddings, prompt logprobs), and in pipeline mode */
    int common = sc->pl || !j->cache_prompt || j->embed || j->prompt_logprobs ? 0 : common_prefix(sl, j);
    if (common >= j->n_prompt) common = j->n_prompt - 1; /* re-evaluate the last token for its logits */
    if (j->embed) {
        j->emb_acc = calloc((size_t)sc->n_embd, sizeof *j->emb_acc);
        j->emb = calloc((size_t)sc->n_embd, sizeof *j->emb);
        if (!j->emb_acc || !j->emb) return -1;
    }
    if (j->prompt_logprobs && !(j->ptoks = calloc((size_t)j->n_prompt, sizeof *j->ptoks))) return -1;
    j->n_cached = common;
    sl->t_used = now_ms();
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
        for (int i; sc->qhead && (i = pick_slot(sc, sc->qhead)) >= 0;) {
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
                if (j->prompt_logprobs) chunk = 1; /* the logits after every prompt token */
                if (j->embed) {
                    int r = embed_chunk(sc, sl, chunk, &err);
                    if (r < 0) {
                        sl->n_cache = 0;
                        octet_session_truncate(sl->s, 0);
                        finish(sc, sl, NULL, 500, err.msg);
                    } else if (r > 0) {
                        finish(sc, sl, "stop", 0, NULL);
                    }
                    continue;
                }
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
                if (j->prompt_logprobs) { /* the logits after prompt token n_fed give token n_fed + 1's logprob */
                    pthread_mutex_lock(&j->mu);
                    if (sl->n_fed == 0) {
                        j->ptoks[0].id = j->prompt[0];
                        j->ptoks[0].logprob = NAN;
                    }
                    if (sl->n_fed + 1 < j->n_prompt) {
                        const float *lg = octet_session_logits(sl->s, 0);
                        if (lg)
                            tok_logprob(lg, octet_n_vocab(sc->m), j->prompt[sl->n_fed + 1], j->n_top,
                                        &j->ptoks[sl->n_fed + 1]);
                    }
                    j->n_ptoks = sl->n_fed + 2 < j->n_prompt ? sl->n_fed + 2 : j->n_prompt;
                    pthread_mutex_unlock(&j->mu);
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
            srv_tokinfo ti;
            if (j->logprobs) tok_logprob(logits, octet_n_vocab(sc->m), tok, j->n_top, &ti);
            pthread_mutex_lock(&j->mu);
            if (j->logprobs) {
                ti.text_off = j->text.len;
                if (!push_tok(j, &ti)) j->text.oom = 1;
            }
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
    octet_model_info mi;
    octet_model_get_info(m, &mi);
    sc->n_embd = mi.n_embd;
    if (!pl && sp->exec == OCTET_EXEC_FLOAT &&
        !(sc->hbuf = malloc((size_t)SRV_PREFILL_CHUNK * (size_t)mi.n_embd * sizeof *sc->hbuf)))
        goto oom;
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
int srv_sched_can_embed(const srv_sched *sc) { return sc->hbuf != NULL; }

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
    free(sc->hbuf);
    octet_grammar_vocab_free(sc->gvocab);
    pthread_mutex_destroy(&sc->mu);
    pthread_cond_destroy(&sc->cv);
    free(sc);
}
