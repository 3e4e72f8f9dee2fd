/*
 * matmul.c - the schedule of a matrix product shared by both execution modes (see matmul.h).
 */
#include "model/matmul.h"

#include <stddef.h>

/* Concatenated row r as (matrix, row) and its address; NULL past the last matrix. */
static const uint8_t *concat_addr(const octet__mm *mm, int64_t r) {
    for (int j = 0; j < mm->n_w; j++) {
        if (r < mm->n_out[j]) return mm->ops->row_addr(mm->ctx, j, r);
        r -= mm->n_out[j];
    }
    return NULL;
}

const uint8_t *octet__mm_next(const octet__mm_piece *pc, int j, int64_t r) {
    octet__mm *mm = pc->mm;
    int64_t nxt = mm->base[j] + r;
    if (nxt < pc->r1) return concat_addr(mm, nxt);
    if (pc->after) return pc->after;
    return octet__cursor_peek(&mm->rows, pc->cur, &nxt) ? concat_addr(mm, nxt) : NULL; /* claims the next piece */
}

/* Rows [r0, r1) of the concatenated matrices; the rows after them are at `after`, or, when that is NULL, the
 * start of the thread's next piece. */
static void piece(octet__mm *mm, int ith, int64_t r0, int64_t r1, const uint8_t *after, octet__claim_cursor *cur) {
    const octet__mm_piece pc = {mm, r1, after, cur};
    for (int j = 0; j < mm->n_w; j++) {
        const int64_t b = mm->base[j], n = mm->n_out[j];
        const int64_t lo = r0 > b ? r0 - b : 0, hi = r1 - b < n ? r1 - b : n;
        if (lo < hi) mm->ops->rows(mm->ctx, ith, j, lo, hi, &pc);
    }
}

static void quant_task(void *ctx, int ith, int nth) {
    octet__mm *mm = ctx;
    (void)ith, (void)nth;
    for (int64_t i0, i1; octet__claim_next(&mm->toks, &i0, &i1);) mm->ops->quant(mm->ctx, (int)i0);
}

static void rows_task(void *ctx, int ith, int nth) {
    octet__mm *mm = ctx;
    (void)nth;
    octet__claim_cursor cur = {0, 0, 0};
    if (mm->pair) {
        const int64_t n = mm->n_out[0];
        for (int64_t r0, r1; octet__cursor_take(&mm->rows, &cur, &r0, &r1);) {
            piece(mm, ith, r0, r1, concat_addr(mm, n + r0), &cur);
            piece(mm, ith, n + r0, n + r1, NULL, &cur);
            mm->ops->pair(mm->ctx, r0, r1);
        }
        return;
    }
    for (int64_t r0, r1; octet__cursor_take(&mm->rows, &cur, &r0, &r1);) {
        piece(mm, ith, r0, r1, NULL, &cur);
        if (mm->ops->done) mm->ops->done(mm->ctx, r0, r1);
    }
}

void octet__mm_run(octet__pool *pool, octet__mm *mm) {
    if (mm->quantize) {
        octet__claim_init(&mm->toks, mm->n_tok, 1);
        if (mm->n_tok == 1) mm->ops->quant(mm->ctx, 0);
        else octet__pool_run_any(pool, quant_task, mm);
    }
    if (mm->ops->quantized) mm->ops->quantized(mm->ctx);
    int64_t total = 0;
    for (int j = 0; j < mm->n_w; j++) {
        mm->base[j] = total;
        total += mm->n_out[j];
    }
    if (mm->pair) total = mm->n_out[0];
    octet__claim_init_rows(&mm->rows, total, octet__pool_n_threads(pool));
    if (mm->group > 8) mm->rows.chunk = (mm->rows.chunk + mm->group - 1) / mm->group * mm->group;
    octet__pool_run_any(pool, rows_task, mm);
}
