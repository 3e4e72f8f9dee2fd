/*
 * threadpool.h - a persistent pool of worker threads. octet__pool_run(pool, fn, ctx) calls fn(ctx, ith, nth)
 * for ith = 0 .. nth-1, ith 0 on the calling thread, and returns when all have finished (a barrier). Workers
 * spin briefly on an atomic generation counter before sleeping on a condition variable, so back-to-back runs
 * (a forward pass issues dozens per token) cost little; no thread is created after octet__pool_new.
 */
#ifndef OCTET_THREADPOOL_H
#define OCTET_THREADPOOL_H

#include <stdatomic.h>
#include <stdint.h>

#include "octet.h"

typedef void (*octet__task_fn)(void *ctx, int ith, int nth);
typedef struct octet__pool octet__pool;

int octet__pool_new(octet__pool **out, int n_threads, octet_error *err);
void octet__pool_free(octet__pool *p);
int octet__pool_n_threads(const octet__pool *p);
void octet__pool_run(octet__pool *p, octet__task_fn fn, void *ctx);
/* Like octet__pool_run, but fn runs on the caller (ith 0) and on whichever workers join while the caller is
 * still inside fn; it returns when the caller and every worker that joined have finished. So fn must claim its
 * work itself (e.g. chunks from an atomic counter) and complete everything when only ith 0 runs: the result must
 * not depend on which threads ran. A descheduled worker then never holds up the caller. */
void octet__pool_run_any(octet__pool *p, octet__task_fn fn, void *ctx);
/* Work items for octet__pool_run_any: [0, total) in pieces of `chunk`, claimed from an atomic counter so that a
 * thread slowed down by another process takes fewer pieces instead of holding the others at a barrier. */
typedef struct octet__claim {
    atomic_llong next;
    int64_t total, chunk;
} octet__claim;
static inline void octet__claim_init(octet__claim *c, int64_t total, int64_t chunk) {
    atomic_init(&c->next, 0);
    c->total = total;
    c->chunk = chunk > 0 ? chunk : 1;
}
/* Matrix rows: about 8 pieces per thread, at least 16 rows each, whole groups of 8 for the multi-row kernels. */
static inline void octet__claim_init_rows(octet__claim *c, int64_t total, int nth) {
    int64_t chunk = total / (8 * (int64_t)(nth > 0 ? nth : 1));
    if (chunk < 16) chunk = 16;
    octet__claim_init(c, total, (chunk + 7) & ~(int64_t)7);
}
/* The next piece [*lo, *hi); 0 when none is left. */
static inline int octet__claim_next(octet__claim *c, int64_t *lo, int64_t *hi) {
    int64_t r0 = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed) * c->chunk;
    if (r0 >= c->total) return 0;
    *lo = r0;
    *hi = r0 + c->chunk < c->total ? r0 + c->chunk : c->total;
    return 1;
}
/* A thread's pieces of a claim with the next one looked at before the current one is done (so its last rows can
 * prefetch what comes after them): peek claims the next piece, once, and gives its start; take hands it over. */
typedef struct octet__claim_cursor {
    int64_t lo, hi;
    int state; /* 0: nothing claimed ahead, 1: [lo, hi) claimed ahead, 2: none left */
} octet__claim_cursor;
static inline int octet__cursor_peek(octet__claim *c, octet__claim_cursor *k, int64_t *lo) {
    if (!k->state) k->state = octet__claim_next(c, &k->lo, &k->hi) ? 1 : 2;
    *lo = k->lo;
    return k->state == 1;
}
static inline int octet__cursor_take(octet__claim *c, octet__claim_cursor *k, int64_t *lo, int64_t *hi) {
    int64_t l;
    if (!octet__cursor_peek(c, k, &l)) return 0;
    *lo = k->lo, *hi = k->hi;
    k->state = 0;
    return 1;
}
/* Number of online CPUs (at least 1). */
int octet__n_cpus(void);

#endif
