/*
 * eval.h - the evaluation loop shared by `octet perplexity` and `octet report`: llama.cpp's chunked perplexity
 * (non-overlapping chunks of n_ctx tokens, BOS first, the second half scored), with optional saving of each
 * scored row's log-probabilities and optional comparison against a base row (KL divergence, top-1 agreement).
 */
#ifndef OCTET_CLI_EVAL_H
#define OCTET_CLI_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "octet.h"

typedef struct eval_stats {
    double nll, nll2;              /* sums of -log p(next) and its square */
    double nllb, nllb2, nll_nllb;  /* the same for the base, and the cross term (KLD runs) */
    double kl, kl2;
    size_t count, same_top;
    double *kld_vals;              /* per-row KLD (count entries) when comparing; owned */
    size_t kld_cap;
} eval_stats;

typedef struct eval_io {
    /* called with each scored row's log-probabilities (n_vocab floats); non-zero stops the run */
    int (*save)(void *ud, const float *logprobs);
    /* fills base (n_vocab floats) with the base model's log-probabilities for the next scored row */
    int (*load)(void *ud, float *base);
    void *ud;
    /* optional: evaluate through this pipeline (rank 0 of an MPI job, app/cli/dist.h) instead of the session,
     * with up to octet_pipeline_n_seq chunks in flight as micro-batches; s may then be NULL */
    octet_pipeline *pl;
} eval_io;

/* Evaluate n_chunk chunks of toks (n_chunk * n_ctx ids) with session s (logits_all, n_batch >= n_ctx).
 * first = n_ctx / 2. progress: print "[k]ppl," lines to stderr. Returns 0 or prints an error and returns -1. */
int eval_chunks(octet_session *s, const octet_model_info *mi, const int32_t *toks, int n_ctx, int n_chunk,
                const eval_io *io, eval_stats *st, int progress);
void eval_stats_free(eval_stats *st);

/* Summaries: mean NLL and its standard error; PPL = exp(mean). */
void eval_mean_unc(double sum, double sum2, size_t count, double *mean, double *unc);
/* Sorts kld_vals and returns the given percentile (linear interpolation). */
double eval_kld_percentile(eval_stats *st, double f);

#endif
