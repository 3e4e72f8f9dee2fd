/*
 * matmul.h - the schedule of a matrix product, shared by the float and the integer forward pass.
 *
 * A product is y_j = x W_j^T for up to OCTET__MM_MAX matrices W_j that share the input (the q/k/v projections,
 * gate and up). The driver owns everything that is about *when* and *where* rows are computed:
 *   - activation rows are quantized first, claimed one at a time by whichever threads are free;
 *   - the rows of all matrices, concatenated, are claimed in pieces from an atomic counter (whole groups of
 *     `group` rows), so a thread slowed down by another process takes fewer pieces instead of holding the
 *     others at a barrier (octet__pool_run_any);
 *   - gate and up (`pair`) are claimed as row pairs, so the thread that computed rows [r0, r1) of both applies
 *     the gating to them at once (ops->pair), while they are in its cache;
 *   - each group of rows a kernel reads can prefetch the group the thread reads next: the next rows of its
 *     piece, the paired matrix's rows, or the start of its next piece, claimed when needed (octet__mm_next).
 * The execution mode supplies *how*: the quantizer, the kernels for a range of rows of one matrix, the row
 * addresses, and the gating. Every output element is one reference-exact kernel result whichever thread and
 * kernel computes it, so neither the split nor the thread count changes any bit.
 */
#ifndef OCTET_MODEL_MATMUL_H
#define OCTET_MODEL_MATMUL_H

#include <stdint.h>

#include "core/threadpool.h"

#define OCTET__MM_MAX 3

typedef struct octet__mm octet__mm;

/* The piece of rows a thread is computing: where the rows after its groups are, for the prefetches. */
typedef struct octet__mm_piece {
    octet__mm *mm;
    int64_t r1;               /* end of the piece, in concatenated rows */
    const uint8_t *after;     /* the rows after the piece, or NULL: the start of the thread's next piece */
    octet__claim_cursor *cur; /* the thread's cursor in mm->rows */
} octet__mm_piece;

typedef struct octet__mm_ops {
    /* quantize activation row i (when mm->quantize) */
    void (*quant)(void *ctx, int i);
    /* optional: after the activations are quantized, before any row (on the calling thread) */
    void (*quantized)(void *ctx);
    /* rows [lo, hi) of matrix j for every token, on thread ith (0 .. pool threads - 1) */
    void (*rows)(void *ctx, int ith, int j, int64_t lo, int64_t hi, const octet__mm_piece *pc);
    /* where the weights of row r of matrix j start (what a prefetch of the group starting there reads); NULL if
     * there is nothing to prefetch */
    const uint8_t *(*row_addr)(void *ctx, int j, int64_t r);
    /* pair: after rows [r0, r1) of both matrices, y0 = act(y0) * y1 on them for every token */
    void (*pair)(void *ctx, int64_t r0, int64_t r1);
    /* optional: after rows [r0, r1) of a single-matrix product */
    void (*done)(void *ctx, int64_t r0, int64_t r1);
} octet__mm_ops;

struct octet__mm {
    const octet__mm_ops *ops;
    void *ctx;
    int n_w;
    int64_t n_out[OCTET__MM_MAX]; /* rows of each matrix */
    int n_tok;
    int quantize; /* run ops->quant on every token first */
    int pair;     /* n_w == 2, same shape: rows claimed in pairs, ops->pair after each */
    int group;    /* rows are claimed in multiples of this (8, or 16 for 16-row kernels) */
    /* the driver's state */
    int64_t base[OCTET__MM_MAX]; /* matrix j's first row in the concatenation */
    octet__claim rows, toks;
};

/* The weights a kernel working on the group of rows of matrix j that starts at row r should prefetch: that row
 * while it is inside the piece, else the rows after the piece (the paired matrix's, or the thread's next piece,
 * claimed now). NULL when nothing follows. */
const uint8_t *octet__mm_next(const octet__mm_piece *pc, int j, int64_t r);

/* Run the product on the pool (the caller takes part; see octet__pool_run_any). */
void octet__mm_run(octet__pool *pool, octet__mm *mm);

#endif
