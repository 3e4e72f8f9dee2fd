/*
 * threadpool.h - a persistent pool of worker threads. octet__pool_run(pool, fn, ctx) calls fn(ctx, ith, nth)
 * for ith = 0 .. nth-1, ith 0 on the calling thread, and returns when all have finished (a barrier). Workers
 * spin briefly on an atomic generation counter before sleeping on a condition variable, so back-to-back runs
 * (a forward pass issues dozens per token) cost little; no thread is created after octet__pool_new.
 */
#ifndef OCTET_THREADPOOL_H
#define OCTET_THREADPOOL_H

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
/* Number of online CPUs (at least 1). */
int octet__n_cpus(void);

#endif
