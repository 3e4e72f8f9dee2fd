/*
 * int.h - the integer-only execution mode (octet_session_params.exec == OCTET_EXEC_INT): the interface the
 * session (src/model/forward.c) calls. Everything behind it lives in src/model/int/.
 *
 * Contract: octet__int_new prepares what it needs from the model (integer weights and fixed-point constants are
 * derived once, at load; the per-token path has no floating point) and allocates the integer KV cache and
 * scratch for n_ctx slots and n_batch tokens, using the session's thread pool. octet__int_forward evaluates
 * n_tok tokens placed at cache slots n_past .. n_past+n_tok-1 with positions pos .. pos+n_tok-1 and writes
 * float logits (converted from integers only for output) into logits: one row of n_vocab per token from
 * token `first` on (n_tok - first <= the n_logit_rows given to octet__int_new). Results are bit-identical for any thread count and for the
 * portable versus SIMD kernels.
 */
#ifndef OCTET_MODEL_INT_H
#define OCTET_MODEL_INT_H

#include <stdint.h>

#include "core/threadpool.h"
#include "octet.h"

typedef struct octet__int_state octet__int_state;

int octet__int_new(octet__int_state **out, const octet_model *m, int n_ctx, int n_batch, int n_logit_rows,
                   octet__pool *pool, octet_error *err);
void octet__int_free(octet__int_state *st);
void octet__int_forward(octet__int_state *st, const int32_t *tokens, int n_tok, int64_t pos, int n_past, int first,
                        float *logits);
/* A batched decode: token i joins the cache of owners[i] (integer states of the same model, each at most once) at
 * slot slots[i], position pos[i], and its float logits go to logits[i]; ws (one of them, or any state of the
 * model) supplies the scratch. n <= octet__int_batch_max(ws) <= OCTET__INT_BATCH, and every slots[i] < ws's context. Each row's
 * results are bit-identical to decoding it alone. */
#define OCTET__INT_BATCH 16 /* at most this many sessions per batched pass */
int octet__int_batch_max(const octet__int_state *ws);
void octet__int_forward_batch(octet__int_state *ws, octet__int_state *const *owners, const int *slots,
                              const int32_t *tokens, const int64_t *pos, int n, float *const *logits);
/* Called by octet_model_close: frees integer weights cached in the model, if any. */
void octet__int_model_release(octet_model *m);

#endif
