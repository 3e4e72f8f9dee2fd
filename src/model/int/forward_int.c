/*
 * forward_int.c - sessions and the per-token forward pass of the integer-only mode. Integer arithmetic only:
 * `make intonly` compiles this file with -mgeneral-regs-only (no FP or vector registers), so any floating
 * point here fails that build. Float appears once, at the end, as IEEE bit patterns of the Q16 logits
 * built with integer operations (octet__int_to_f32_bits).
 *
 * Per layer, for the batch X [n][n_embd] (int32 Q16 residual stream):
 *   Xn = rmsnorm(X) * g                 int64 sum of squares, exact isqrt, one reciprocal (intmath.c)
 *   A8 = quant(Xn)                      int8 blocks of 32 + int16 block scales, per-token exponent (max pass)
 *   Q, K, V = A8 W8^T (+ b)             int32 per block, int64 across blocks with the products of the two
 *                                       block scales, one multiplier+shift to Q16 (kernels/int_kernels.h);
 *                                       four tokens per weight row in prompts
 *   q -> int16 per head (power-of-two scale), k, v -> int8 per head and token in the cache (scale = max |.|
 *   as int16 mantissa + exponent); nothing is rotated in place: RoPE enters each score as the turn of the query
 *   pair by the angle (m - n) theta_i (cos/sin of every cache distance tabulated per session from the exact
 *   phases d * phi_i, rope_int.c), so a score depends on m - n only, bit for bit
 *   scores -> Q20 with one Q31 multiplier and shift; softmax with the integer exp -> Q30;
 *   attention out = sum_j (p_j * v_scale_j) v8_j / 127 in Q16 (int32 accumulators)
 *   X += quant(att) Wo^T; Xn = rmsnorm(X) * g2; X += quant(silu(Xn Wg^T) * (Xn Wu^T)) Wd^T  (sigmoid from exp)
 * logits = quant(rmsnorm(X) * g_out) Wout^T in Q16, handed out as float.
 *
 * Determinism: every output element is computed by one call whatever the thread count, and the integer kernels
 * give the same bits in their portable and AVX2 versions, so results are identical for any -t and either kernel.
 */
#include <limits.h>
#include <string.h>

#include "core/core.h"
#include "kernels/int_kernels.h"
#include "kernels/kset.h"
#include "kernels/int_repack.h"
#include "kernels/repack.h"
#include "model/int/int.h"
#include "model/int/int_impl.h"
#include "model/matmul.h"
#include "kernels/intmath.h"
#include "model/model.h"

/* 2^37 / 127 rounded: the 1/127 of the activation codes as a Q31-range multiplier (shift 37). */
#define M127 1082196484

/* A token of a pass: the session whose cache it joins (the state running the pass, or another session's in a
 * batched decode), its cache slot and position, and where its float logits go (NULL: none). */
typedef struct octet__int_row {
    octet__int_state *o;
    int slot;
    int64_t pos;
    float *logits;
} octet__int_row;

struct octet__int_state {
    const octet__int_weights *w;
    octet__pool *pool;
    int nth, n_ctx, n_batch;
    int q_dim, kv_dim, max_in;
    int32_t *x, *xn, *q, *k, *v, *att, *hg, *hu; /* [n_batch][..] Q16 */
    int8_t *aq;                                  /* [n_batch][max_in] activation codes */
    int16_t *as;                                 /* [n_batch][max_in / 32] block scales */
    int *asa;                                    /* [n_batch] row exponents */
    int *sbase;                                  /* [n_batch] 37 - asa: the rescale's shift without the row's */
    int16_t *q16;                                /* [n_batch][q_dim] unrotated, halves layout per head */
    int8_t *qsh;                                 /* [n_batch][n_head]: q = q16 * 2^(qsh - 16) */
    int16_t *cs_rel;                             /* [n_ctx][2][n_rot / 2]: cos, sin of d * theta_i, d < n_ctx */
    int16_t *cs_tmp;                             /* [nth][2][n_rot / 2] for distances outside the table */
    int8_t *kc, *vc;                             /* [n_layer][n_head_kv][n_ctx][head_dim]; keys unrotated, halves */
    int16_t *ksc, *vsc;                          /* [n_layer][n_head_kv][n_ctx] scale mantissas (2^13..2^14] */
    int8_t *ksh, *vsh;                           /* [n_layer][n_head_kv][n_ctx] scale exponents */
    int64_t *kpos;                               /* [n_ctx] position of each cache slot */
    int64_t *sc;                                 /* [nth][n_ctx] scores in Q20 */
    int32_t *pr;                                 /* [nth][n_ctx] probabilities in Q30 */
    const int16_t **csp;                         /* [nth][n_ctx] each key's cos/sin row (cs_rel) */
    int32_t *acc;                                /* [nth][head_dim] */
    int32_t *lq;                                 /* [n_logit_rows][n_vocab] Q16 logits */
    octet__int_dot_fn dot;
    octet__int_dot4_fn dot4;
    const octet__ikernel_table *ik;              /* the kernel set's integer kernels */
    int multirow;                                /* the set has 8-row GEMV and row panel kernels */
    uint8_t *panel;                              /* [nth][panel_stride] row panels (multirow) */
    size_t panel_stride;
    int64_t *pout;                               /* [nth][n_batch * 8] panel results (multirow) */
    octet__int_score_fn score;
    octet__int_scores_fn scores;
    octet__int_qscale_fn qscale;
    octet__int_vweights_fn vweights;
    octet__int_wsum_fn wsum;
    octet__int_qhead_fn qhead;                   /* query heads to int16 (query_head) */
    octet__int_rescale32_fn rescale32;           /* attention outputs to Q16 (attn_run) */
    octet__int_codes_fn codes;                   /* activation codes (octet__int_quant_row_ref) */
    octet__int_quant_row_fn quant_row;           /* activation quantizer (mm_quant) */
    octet__int_rmsnorm_fn rmsnorm;               /* RMSNorm (norm_run) */
    octet__int_swiglu_fn swiglu;                 /* silu(gate) * up (mm_dot) */
    octet__int_softmax_fn softmax;               /* attention probabilities (attn_run) */
    void (*to_f32)(const int32_t *v, size_t n, int frac, void *out); /* the logits' float bits (mm_dot) */
    void (*add_sat)(int32_t *x, const int32_t *d, size_t n);            /* residual connections */
    int repack;                                  /* AVX-512 VNNI kernels on the matrices' q8_0x16 copies (x16) */
    int32_t *aux;                                /* [n_batch][max_in / 16] block scales and code sums (repack) */
    int64_t *pout16;                             /* [nth][n_batch * 16] 16-row results (repack) */
    uint8_t *xrow;                               /* [nth][max_in / 32 * 34] a row unpacked from x16 groups */
    int lq_rows;                                 /* rows of lq */
    /* per call */
    int n_tok, layer;
    octet__int_row *rows;                        /* [n_batch] each row's session, cache slot, position, logits */
};

static void *alloc_n(size_t a, size_t b, size_t elem, int *ok) {
    size_t n;
    if (!octet__mul_size(a, b, &n) || !octet__mul_size(n, elem, &n)) {
        *ok = 0;
        return NULL;
    }
    void *p = octet__malloc(n ? n : 1);
    if (!p) *ok = 0;
    return p;
}

/* ---- the q8_0x16 path (AVX-512 VNNI, kernels/int_repack.h): setup here, products in mm_rows_x16 ------------- */

/* Sessions use the matrices' q8_0x16 copies (built at load where usable, repack.c) when the AVX2 multi-row path is
 * on and the CPU still qualifies (SIMD may have been switched off since the weights were built), and the AVX-512
 * attention scores. */
static void repack_setup(octet__int_state *st, int *ok) {
    /* matrices held only by their groups are read through them row by row when the kernels cannot run */
    st->xrow = alloc_n((size_t)st->nth, (size_t)st->max_in / 32, OCTET_INT_BLOCK, ok);
    if (!st->multirow || !octet__int_repack_usable()) return;
    st->repack = 1;
    st->aux = alloc_n((size_t)st->n_batch, (size_t)st->max_in / 16, 4, ok);
    st->pout16 = alloc_n((size_t)st->nth, (size_t)st->n_batch * 16, 8, ok);
}


/* The kernels of the set in use (src/kernels/kset.h); the multi-row ones are used when the set has them all. */
static void pick_kernels(octet__int_state *st) {
    const octet__ikernel_table *k = octet__ikernels();
    st->ik = k;
    st->dot = k->dot;
    st->dot4 = k->dot4;
    st->multirow = k->gemv8 && k->gemv8_y && k->panel_bytes && k->pack8 && k->panel && k->panel_y && k->rescale8;
    st->score = k->score;
    st->scores = k->scores;
    st->qscale = k->qscale;
    st->vweights = k->vweights;
    st->wsum = k->wsum;
    st->qhead = k->qhead;
    st->rescale32 = k->rescale32;
    st->codes = k->codes;
    st->quant_row = k->quant_row;
    st->rmsnorm = k->rmsnorm;
    st->swiglu = k->swiglu;
    st->softmax = k->softmax;
    st->to_f32 = k->to_f32;
    st->add_sat = k->add_sat;
}

int octet__int_new(octet__int_state **out, const octet_model *m, int n_ctx, int n_batch, int n_logit_rows,
                   octet__pool *pool, octet_error *err) {
    *out = NULL;
    const octet__int_weights *w;
    int rc = octet__int_weights_get(&w, m, err);
    if (rc) return rc;
    octet__int_state *st = octet__calloc(1, sizeof *st);
    if (!st) return octet__err(err, OCTET_ENOMEM, "integer mode: out of memory");
    st->w = w;
    st->pool = pool;
    st->nth = octet__pool_n_threads(pool);
    st->n_ctx = n_ctx;
    st->n_batch = n_batch;
    st->q_dim = w->n_head * w->head_dim;
    st->kv_dim = w->n_head_kv * w->head_dim;
    st->max_in = w->n_embd > w->n_ff ? w->n_embd : w->n_ff;
    if (st->q_dim > st->max_in) st->max_in = st->q_dim;
    int ok = 1;
    size_t nb = (size_t)n_batch, E = (size_t)w->n_embd, F = (size_t)w->n_ff, qd = (size_t)st->q_dim,
           kvd = (size_t)st->kv_dim, lc = (size_t)w->n_layer * (size_t)n_ctx;
    st->x = alloc_n(nb, E, 4, &ok);
    st->xn = alloc_n(nb, E, 4, &ok);
    st->q = alloc_n(nb, qd, 4, &ok);
    st->k = alloc_n(nb, kvd, 4, &ok);
    st->v = alloc_n(nb, kvd, 4, &ok);
    st->att = alloc_n(nb, qd, 4, &ok);
    st->hg = alloc_n(nb, F, 4, &ok);
    st->hu = alloc_n(nb, F, 4, &ok);
    st->aq = alloc_n(nb, (size_t)st->max_in, 1, &ok);
    st->as = alloc_n(nb, (size_t)st->max_in / 32, 2, &ok);
    st->asa = alloc_n(nb, 1, sizeof(int), &ok);
    st->sbase = alloc_n(nb, 1, sizeof(int), &ok);
    st->q16 = alloc_n(nb, qd, 2, &ok);
    st->qsh = alloc_n(nb, (size_t)w->n_head, 1, &ok);
    st->cs_rel = alloc_n((size_t)n_ctx, (size_t)(w->n_rot / 2 + 1) * 2, 2, &ok);
    st->cs_tmp = alloc_n((size_t)st->nth, (size_t)(w->n_rot / 2 + 1) * 2, 2, &ok);
    st->kc = alloc_n(lc, kvd, 1, &ok);
    st->vc = alloc_n(lc, kvd, 1, &ok);
    st->ksc = alloc_n(lc, (size_t)w->n_head_kv, 2, &ok);
    st->ksh = alloc_n(lc, (size_t)w->n_head_kv, 1, &ok);
    st->vsc = alloc_n(lc, (size_t)w->n_head_kv, 2, &ok);
    st->vsh = alloc_n(lc, (size_t)w->n_head_kv, 1, &ok);
    st->kpos = alloc_n((size_t)n_ctx, 1, 8, &ok);
    st->sc = alloc_n((size_t)st->nth, (size_t)n_ctx, 8, &ok);
    st->pr = alloc_n((size_t)st->nth, (size_t)n_ctx, 4, &ok);
    st->csp = alloc_n((size_t)st->nth, (size_t)n_ctx, sizeof *st->csp, &ok);
    st->acc = alloc_n((size_t)st->nth, (size_t)w->head_dim, 4, &ok);
    /* Q16 logits: the session's rows, and at least enough for a batched decode of a few sessions
     * (octet__int_forward_batch takes at most lq_rows tokens per pass) */
    st->lq_rows = n_batch < OCTET__INT_BATCH ? n_batch : OCTET__INT_BATCH;
    if (n_logit_rows > st->lq_rows) st->lq_rows = n_logit_rows;
    st->lq = alloc_n((size_t)st->lq_rows, (size_t)w->n_vocab, 4, &ok);
    st->rows = alloc_n(nb, 1, sizeof *st->rows, &ok);
    pick_kernels(st);
    repack_setup(st, &ok);
    if (st->multirow) {
        st->panel_stride = (st->ik->panel_bytes(st->max_in / 32) + 63) & ~(size_t)63;
        st->panel = alloc_n((size_t)st->nth, st->panel_stride, 1, &ok);
        st->pout = alloc_n((size_t)st->nth, nb * 8, 8, &ok);
    }
    if (!ok) {
        octet__int_free(st);
        return octet__err(err, OCTET_ENOMEM, "integer mode: out of memory for a %d-token context and %d-token batch",
                          n_ctx, n_batch);
    }
    /* cos/sin of every distance the cache can hold: phase = d * phi_i mod 2^64 */
    const int half = w->n_rot / 2;
    for (int d = 0; d < n_ctx; d++) {
        int16_t *cs = st->cs_rel + (size_t)d * (size_t)(half + 1) * 2;
        for (int i = 0; i < half; i++) octet__int_cossin(w, (uint64_t)d * w->phi[i], &cs[i], &cs[half + i]);
    }
    *out = st;
    return 0;
}

void octet__int_free(octet__int_state *st) {
    if (!st) return;
    void *bufs[] = {st->x, st->xn, st->q, st->k, st->v, st->att, st->hg, st->hu, st->aq, st->as, st->asa, st->sbase,
                    st->q16, st->qsh, st->cs_rel, st->cs_tmp, st->kc, st->vc, st->ksc, st->ksh, st->vsc, st->vsh,
                    st->kpos, st->sc, st->pr, (void *)st->csp, st->acc, st->panel, st->pout,
                    st->lq, st->aux, st->pout16, st->xrow, st->rows};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) octet__free(bufs[i]);
    octet__free(st);
}

/* ---- matrix products (the schedule: model/matmul.h) ------------------------------------------------------ */

typedef struct mm_task {
    octet__int_state *st;
    const octet__int_mat *w[OCTET__MM_MAX];
    int32_t *y[OCTET__MM_MAX];          /* [n_tok][n_out] Q16 */
    const int32_t *bias[OCTET__MM_MAX]; /* Q16 or NULL */
    const int32_t *x;                   /* [n_tok][n_in] Q16 */
    int n_tok, n_in;
    int yf_first;            /* >= 0: the logits, y[0] also handed out as float into st->rows[yf_first + i].logits */
    int sb_min, sb_max;      /* the range of st->sbase over the tokens */
} mm_task;

/* Activation row i (claimed one at a time by the driver). */
static void mm_quant(void *ctx, int i) {
    mm_task *t = ctx;
    octet__int_state *st = t->st;
    size_t s = (size_t)st->max_in;
    st->quant_row(t->x + (size_t)i * (size_t)t->n_in, t->n_in, st->aq + (size_t)i * s, st->as + (size_t)i * (s / 32),
                  &st->asa[i], st->codes);
    if (st->repack)
        st->ik->block_aux(st->aq + (size_t)i * s, st->as + (size_t)i * (s / 32), t->n_in / 32,
                          st->aux + (size_t)i * (s / 16));
}

/* real = acc * 2^-ws_exp * 2^(sa - 16) / 127  ->  Q16, plus the bias */
static inline void mm_store(const mm_task *t, int j, int i, int64_t r, int64_t acc) {
    const octet__int_mat *w = t->w[j];
    int64_t v = octet__int_mulshift(acc, M127, t->st->sbase[i] + w->ws_exp[r]);
    t->y[j][(size_t)i * (size_t)w->n_out + (size_t)r] = octet__int_sat32(v + (t->bias[j] ? t->bias[j][r] : 0));
}

/* Prompt batches of at least this many tokens use row panels, smaller ones the 8-row GEMV per token. */
#define PANEL_MIN_TOK 3

/* The weights of row r of matrix j (what the prefetch of the group starting there reads); NULL for a matrix held
 * only by its 16-row groups. */
static const uint8_t *mm_row_addr(void *ctx, int j, int64_t r) {
    const mm_task *t = ctx;
    return t->w[j]->w ? t->w[j]->w + (size_t)r * t->w[j]->row_bytes : NULL;
}

/* Rows [lo, hi) of matrix j through its q8_0x16 groups: with the 16-row kernels (st->repack) as far as whole
 * groups reach (lo a multiple of 16: the driver claims rows in multiples of 16 when st->repack), all the tokens
 * in one kernel call per group and the rescale in its registers where every row's shift is in range; then, for a
 * matrix held only by its groups (w->w NULL), the rest row by row, unpacked. Returns the first row left for the
 * other paths. */
static int64_t mm_rows_x16(mm_task *t, int ith, int j, int64_t lo, int64_t hi) {
    const octet__int_state *st = t->st;
    const octet__int_mat *w = t->w[j];
    const size_t s = (size_t)st->max_in;
    int64_t *pout = st->pout16 + (size_t)ith * (size_t)st->n_batch * 16;
    for (; st->repack && lo % 16 == 0 && lo + 16 <= hi && lo / 16 < w->n16; lo += 16) {
        const uint8_t *grp = w->x16 + (size_t)(lo / 16) * w->x16_bytes;
        const int8_t *e0 = w->ws_exp + lo;
        int emin = e0[0], emax = e0[0];
        for (int k = 1; k < 16; k++) emin = e0[k] < emin ? e0[k] : emin, emax = e0[k] > emax ? e0[k] : emax;
        const int32_t *bias = t->bias[j] ? t->bias[j] + lo : NULL;
        if (t->sb_min + emin >= 32 && t->sb_max + emax <= 62) {
            st->ik->gemm16_y(w->n_blocks, grp, e0, st->aq, s, st->aux, s / 16, t->n_tok, st->sbase, M127, bias,
                             t->y[j] + (size_t)lo, (size_t)w->n_out);
            continue;
        }
        st->ik->gemm16(w->n_blocks, grp, e0, st->aq, s, st->aux, s / 16, t->n_tok, pout);
        for (int i = 0; i < t->n_tok; i++)
            for (int h = 0; h < 16; h += 8) {
                int32_t *y8 = t->y[j] + (size_t)i * (size_t)w->n_out + (size_t)(lo + h);
                if (!st->ik->rescale8(pout + 16 * i + h, e0 + h, st->sbase[i], M127, bias ? bias + h : NULL, y8))
                    for (int k = 0; k < 8; k++) mm_store(t, j, i, lo + h + k, pout[16 * i + h + k]);
            }
    }
    if (w->w) return lo;
    uint8_t *wr = st->xrow + (size_t)ith * (s / 32) * OCTET_INT_BLOCK;
    for (; lo < hi; lo++) {
        octet__unpack_q8_0x16_ref(w->n_in, wr, w->x16 + (size_t)(lo / 16) * w->x16_bytes, (int)(lo % 16));
        int64_t acc[4];
        for (int i = 0; i < t->n_tok;) {
            const int n = t->n_tok - i >= 4 ? 4 : 1;
            if (n == 4)
                st->dot4(w->n_blocks, wr, w->ws_exp[lo], st->aq + (size_t)i * s, s, st->as + (size_t)i * (s / 32), s / 32,
                         acc);
            else
                acc[0] = st->dot(w->n_blocks, wr, w->ws_exp[lo], st->aq + (size_t)i * s, st->as + (size_t)i * (s / 32));
            for (int u = 0; u < n; u++, i++) mm_store(t, j, i, lo, acc[u]);
        }
    }
    return lo;
}

/* Row r of a matrix held only by its q8_0x16 groups (w->w NULL), unpacked into the first thread's row buffer (the
 * embedding lookups, on the calling thread). */
static const uint8_t *x16_row(octet__int_state *st, const octet__int_mat *w, int64_t r) {
    octet__unpack_q8_0x16_ref(w->n_in, st->xrow, w->x16 + (size_t)(r / 16) * w->x16_bytes, (int)(r % 16));
    return st->xrow;
}

/* Rows [lo, hi) of matrix j for every token: 16-row groups, then 8 rows at a time (8-row GEMV per token, or a
 * panel packed once for a prompt batch), then row by row (4-token or 1-token dots). Every result is the exact
 * integer of the reference dot whichever thread and kernel computes it. */
static void mm_rows(void *ctx, int ith, int j, int64_t lo, int64_t hi, const octet__mm_piece *pc) {
    mm_task *t = ctx;
    octet__int_state *st = t->st;
    const size_t s = (size_t)st->max_in;
    const octet__int_mat *w = t->w[j];
    if (w->x16 && (st->repack || !w->w)) lo = mm_rows_x16(t, ith, j, lo, hi);
    if (st->multirow) {
        const octet__ikernel_table *ik = st->ik;
        uint8_t *panel = st->panel + (size_t)ith * st->panel_stride;
        int64_t *pout = st->pout + (size_t)ith * (size_t)st->n_batch * 8;
        for (; lo + 8 <= hi; lo += 8) {
            const uint8_t *w0 = w->w + (size_t)lo * w->row_bytes;
            const int8_t *e0 = w->ws_exp + lo;
            const uint8_t *pf = octet__mm_next(pc, j, lo + 8);
            /* the rescale in the kernels' registers where every row's shift is in range (the usual case) */
            int emin = e0[0], emax = e0[0];
            for (int k = 1; k < 8; k++) emin = e0[k] < emin ? e0[k] : emin, emax = e0[k] > emax ? e0[k] : emax;
            const int fused = t->sb_min + emin >= 32 && t->sb_max + emax <= 62;
            const int32_t *bias = t->bias[j] ? t->bias[j] + lo : NULL;
            if (t->n_tok >= PANEL_MIN_TOK) {
                ik->pack8(w->n_blocks, panel, w0, w->row_bytes, e0, pf);
                if (fused) {
                    ik->panel_y(w->n_blocks, panel, st->aq, s, st->as, s / 32, t->n_tok, e0, st->sbase, M127, bias,
                                t->y[j] + (size_t)lo, (size_t)w->n_out);
                    continue;
                }
                ik->panel(w->n_blocks, panel, st->aq, s, st->as, s / 32, t->n_tok, pout);
            } else {
                for (int i = 0; i < t->n_tok; i++) {
                    const int8_t *ai = st->aq + (size_t)i * s;
                    const int16_t *asi = st->as + (size_t)i * (s / 32);
                    if (fused)
                        ik->gemv8_y(w->n_blocks, w0, w->row_bytes, e0, ai, asi, i ? NULL : pf, st->sbase[i], M127,
                                    bias, t->y[j] + (size_t)i * (size_t)w->n_out + (size_t)lo);
                    else
                        ik->gemv8(w->n_blocks, w0, w->row_bytes, e0, ai, asi, i ? NULL : pf, pout + 8 * i);
                }
                if (fused) continue;
            }
            for (int i = 0; i < t->n_tok; i++) {
                int32_t *y8 = t->y[j] + (size_t)i * (size_t)w->n_out + (size_t)lo;
                if (!ik->rescale8(pout + 8 * i, e0, st->sbase[i], M127, bias, y8))
                    for (int k = 0; k < 8; k++) mm_store(t, j, i, lo + k, pout[8 * i + k]);
            }
        }
    }
    for (int64_t r = lo; r < hi; r++) {
        const uint8_t *wr = w->w + (size_t)r * w->row_bytes;
        const int e = w->ws_exp[r];
        int64_t acc[4];
        for (int i = 0; i < t->n_tok;) {
            int n = t->n_tok - i >= 4 ? 4 : 1; /* four tokens share each weight block */
            if (n == 4)
                st->dot4(w->n_blocks, wr, e, st->aq + (size_t)i * s, s, st->as + (size_t)i * (s / 32), s / 32, acc);
            else
                acc[0] = st->dot(w->n_blocks, wr, e, st->aq + (size_t)i * s, st->as + (size_t)i * (s / 32));
            for (int u = 0; u < n; u++, i++) mm_store(t, j, i, r, acc[u]);
        }
    }
}

/* gate and up rows [r0, r1) done: their SwiGLU for every token, on the thread that computed them */
static void mm_pair(void *ctx, int64_t r0, int64_t r1) {
    const mm_task *t = ctx;
    const int64_t n_ff = t->w[0]->n_out;
    for (int i = 0; i < t->n_tok; i++) {
        size_t o = (size_t)i * (size_t)n_ff + (size_t)r0;
        t->st->swiglu(t->y[0] + o, t->y[1] + o, (size_t)(r1 - r0));
    }
}

/* rows [r0, r1) of the logits done: the only float of the pass, IEEE bit patterns of the Q16 logits built with
 * integer operations, by the rows' thread */
static void mm_done(void *ctx, int64_t r0, int64_t r1) {
    const mm_task *t = ctx;
    if (t->yf_first < 0) return;
    const size_t V = (size_t)t->w[0]->n_out;
    for (int i = 0; i < t->n_tok; i++) {
        float *yf = t->st->rows[t->yf_first + i].logits;
        if (yf) t->st->to_f32(t->y[0] + (size_t)i * V + (size_t)r0, (size_t)(r1 - r0), OCTET_INT_FX, yf + r0);
    }
}

/* the activations quantized: every token's output scale exponent, from its activation scale's */
static void mm_quantized(void *ctx) {
    mm_task *t = ctx;
    octet__int_state *st = t->st;
    t->sb_min = INT_MAX, t->sb_max = INT_MIN;
    for (int i = 0; i < t->n_tok; i++) {
        const int sb = st->sbase[i] = 37 - st->asa[i];
        t->sb_min = sb < t->sb_min ? sb : t->sb_min, t->sb_max = sb > t->sb_max ? sb : t->sb_max;
    }
}

static const octet__mm_ops mm_ops = {
    .quant = mm_quant, .quantized = mm_quantized, .rows = mm_rows, .row_addr = mm_row_addr, .pair = mm_pair, .done = mm_done};

/* y_j = x W_j^T (+ b_j), j < n_w, all W_j with the same input size. */
static void matmul(octet__int_state *st, int n_w, const octet__int_mat *const *w, int32_t *const *y,
                   const int32_t *const *b, const int32_t *x, int n_tok, int swiglu_pair, int yf_first) {
    mm_task t;
    memset(&t, 0, sizeof t);
    octet__mm mm = {.ops = &mm_ops, .ctx = &t, .n_w = n_w, .n_tok = n_tok, .quantize = 1, .pair = swiglu_pair,
                    .group = st->repack ? 16 : 8}; /* whole groups of 16 for mm_rows_x16 */
    t.st = st;
    t.yf_first = yf_first;
    for (int j = 0; j < n_w; j++) {
        t.w[j] = w[j];
        t.y[j] = y[j];
        t.bias[j] = b ? b[j] : NULL;
        mm.n_out[j] = w[j]->n_out;
    }
    t.x = x;
    t.n_tok = n_tok;
    t.n_in = w[0]->n_in;
    octet__mm_run(st->pool, &mm);
}

static void matmul1(octet__int_state *st, const octet__int_mat *w, int32_t *y, const int32_t *x, int n_tok) {
    matmul(st, 1, &w, &y, NULL, x, n_tok, 0, -1);
}

/* ---- element-wise pieces, one task per token ------------------------------------------------------------- */

typedef struct norm_task {
    octet__int_state *st;
    int32_t *out;
    const int32_t *in;
    const int32_t *g;
    int gs, n_tok, first;
} norm_task;

static void norm_run(void *ctx, int ith, int nth) {
    norm_task *t = ctx;
    const octet__int_weights *w = t->st->w;
    size_t E = (size_t)w->n_embd;
    for (int i = ith; i < t->n_tok; i += nth)
        t->st->rmsnorm(t->out + (size_t)i * E, t->in + (size_t)(i + t->first) * E, t->g, t->gs, w->n_embd,
                       w->eps_q32);
}

static void rmsnorm_rows(octet__int_state *st, int32_t *out, const int32_t *in, const int32_t *g, int gs, int n,
                         int first) {
    norm_task t = {st, out, in, g, gs, n, first};
    if (n == 1) norm_run(&t, 0, 1); /* one row: no pool round */
    else octet__pool_run(st->pool, norm_run, &t);
}

/* qwen3: RMSNorm of every head of q and k in place (Q16, gains [head_dim], the model's epsilon), before the heads
 * are quantized and rotated: the integer RMSNorm kernel on head_dim values per head. */
static void qk_norm_run(void *ctx, int ith, int nth) {
    octet__int_state *st = ctx;
    const octet__int_weights *w = st->w;
    const octet__int_layer *L = &w->layers[st->layer];
    const int hd = w->head_dim, heads = w->n_head + w->n_head_kv;
    for (int job = ith; job < st->n_tok * heads; job += nth) {
        const int t = job / heads, h = job % heads;
        int32_t *v = h < w->n_head ? st->q + (size_t)t * (size_t)st->q_dim + (size_t)h * (size_t)hd
                                   : st->k + (size_t)t * (size_t)st->kv_dim + (size_t)(h - w->n_head) * (size_t)hd;
        if (h < w->n_head) st->rmsnorm(v, v, L->q_g, L->q_gs, hd, w->eps_q32);
        else st->rmsnorm(v, v, L->k_g, L->k_gs, hd, w->eps_q32);
    }
}

/* One head of hd Q16 values into the halves layout (pair i at i and half + i) when the model rotates adjacent
 * pairs; elements past n_rot stay in place. */
static void to_halves(const octet__int_weights *w, const int32_t *v, int32_t *out) {
    const int half = w->n_rot / 2;
    if (w->rope_type == OCTET_ROPE_NORM) {
        for (int i = 0; i < half; i++) {
            out[i] = v[2 * i];
            out[half + i] = v[2 * i + 1];
        }
    } else {
        for (int i = 0; i < 2 * half; i++) out[i] = v[i];
    }
    for (int j = 2 * half; j < w->head_dim; j++) out[j] = v[j];
}

static int64_t max_abs32(const int32_t *v, int n) {
    int64_t m = 0;
    for (int j = 0; j < n; j++) {
        int64_t a = v[j] < 0 ? -(int64_t)v[j] : v[j];
        if (a > m) m = a;
    }
    return m;
}

/* int8 codes of v[0..n) with one scale found by an integer max pass: mantissa *m in (2^13, 2^14] and exponent
 * *e with m * 2^e >= max |v|; q = round(v * 127 / (m * 2^e)), so v ~ q * m * 2^e / 127. */
static void quant_head8(const int32_t *v, int n, int8_t *q, int16_t *m, int8_t *e) {
    int64_t amax = max_abs32(v, n);
    int sh = octet__int_bitlen((uint64_t)amax) - 14;
    int64_t mant = sh >= 0 ? (amax + (INT64_C(1) << sh) - 1) >> sh : amax * (INT64_C(1) << -sh);
    *m = (int16_t)mant;
    *e = (int8_t)sh;
    if (!mant) {
        memset(q, 0, (size_t)n);
        return;
    }
    octet__int_quant_codes(v, n, mant, sh, q);
}

/* Index of the scales of key/value head kh at cache slot j in this layer: [layer][kh][slot], so one head's keys
 * have their scales side by side for the attention's vector kernels. */
static inline size_t scale_index(const octet__int_state *o, int layer, int kh, int j) {
    return ((size_t)layer * (size_t)o->w->n_head_kv + (size_t)kh) * (size_t)o->n_ctx + (size_t)j;
}

/* Query head h of token t to int16 with one power-of-two scale (done by the attention job of that head), in the
 * halves layout of the cached keys (octet__int_qhead_ref: max |q16| <= 23170 = 32767 / sqrt 2, so a pair turned
 * by any angle stays in int16). */
static void query_head(octet__int_state *st, int t, int h) {
    const octet__int_weights *w = st->w;
    const int hd = w->head_dim;
    size_t o = (size_t)t * (size_t)st->q_dim + (size_t)h * (size_t)hd;
    int sh = st->qhead(st->q + o, hd, w->n_rot / 2, w->rope_type == OCTET_ROPE_NORM, st->q16 + o);
    st->qsh[(size_t)t * (size_t)w->n_head + (size_t)h] = (int8_t)sh;
}

/* Offset of key/value head kh at cache slot j in this layer's int8 keys and values: [layer][kh][slot][head_dim], so
 * one head's keys (and values) are contiguous: the attention reads them as one stream, and they spread over all
 * the sets of the L1 cache (at a stride of kv_dim bytes, a power of two, they fell into a few). */
static inline size_t cache_index(const octet__int_state *o, int layer, int kh, int j) {
    return scale_index(o, layer, kh, j) * (size_t)o->w->head_dim;
}

/* Keys and values to int8 in the cache (queries: query_head, per attention job). Nothing is rotated here: RoPE
 * enters the scores through the distance m - n (attn_run). */
static void qkv_run(void *ctx, int ith, int nth) {
    octet__int_state *st = ctx;
    const octet__int_weights *w = st->w;
    const int hd = w->head_dim;
    int32_t tmp[512];
    for (int t = ith; t < st->n_tok; t += nth) {
        const octet__int_row *row = &st->rows[t];
        octet__int_state *c = row->o; /* the cache's owner */
        if (st->layer == 0) c->kpos[row->slot] = row->pos;
        for (int h = 0; h < w->n_head_kv; h++) {
            size_t o = (size_t)t * (size_t)st->kv_dim + (size_t)h * (size_t)hd;
            size_t co = cache_index(c, st->layer, h, row->slot);
            size_t so = scale_index(c, st->layer, h, row->slot);
            to_halves(w, st->k + o, tmp);
            quant_head8(tmp, hd, c->kc + co, &c->ksc[so], &c->ksh[so]);
            quant_head8(st->v + o, hd, c->vc + co, &c->vsc[so], &c->vsh[so]);
        }
    }
}

/* Requests the cache lines of this layer's keys and values of key/value head kh for slots 0..n-1: between layers
 * the matrix rows streamed through the caches have evicted them, and their misses, issued together here, overlap
 * the work of the heads before their own. At most the first PREFETCH_KV_MAX bytes of each: past that the hardware
 * prefetcher follows the stream, and a long context's whole head would only evict itself from L1. */
#define PREFETCH_KV_MAX 16384
static void prefetch_kv(const octet__int_state *c, int layer, int kh, int n) {
    const size_t o = cache_index(c, layer, kh, 0);
    size_t bytes = (size_t)n * (size_t)c->w->head_dim;
    if (bytes > PREFETCH_KV_MAX) bytes = PREFETCH_KV_MAX;
    const int8_t *k = c->kc + o, *v = c->vc + o;
    for (size_t b = 0; b < bytes; b += 64) {
        __builtin_prefetch(k + b, 0, 3);
        __builtin_prefetch(v + b, 0, 3);
    }
}

static void attn_run(void *ctx, int ith, int nth) {
    octet__int_state *st = ctx;
    const octet__int_weights *w = st->w;
    const int hd = w->head_dim, n_head = w->n_head, group = w->n_head / w->n_head_kv, half = w->n_rot / 2;
    const size_t cs_stride = (size_t)(half + 1) * 2;
    int64_t *sc = st->sc + (size_t)ith * (size_t)st->n_ctx;
    int32_t *pr = st->pr + (size_t)ith * (size_t)st->n_ctx;
    const int16_t **csp = st->csp + (size_t)ith * (size_t)st->n_ctx;
    int32_t *acc = st->acc + (size_t)ith * (size_t)hd;
    int16_t *cs_tmp = st->cs_tmp + (size_t)ith * cs_stride;
    int cs_t = -1, n_far = 0, em_t = -1, em_kh = -1, emax = -128;
    int total = st->n_tok * n_head;
    /* one token: each thread takes a run of heads, so it reads the keys and values of fewer key/value heads, and
     * the next head's cache rows are requested when its group is reached; a batch: every nth job (later tokens
     * have more keys, so runs of tokens would be uneven) */
    const int one = st->n_tok == 1;
    const int j0 = one ? (int)((int64_t)total * ith / nth) : ith;
    const int j1 = one ? (int)((int64_t)total * (ith + 1) / nth) : total, jstep = one ? 1 : nth;
    for (int job = j0; job < j1; job += jstep) {
        int t = job / n_head, h = job % n_head, kh = h / group;
        /* the token's session: its cache holds the keys of slots 0 .. slot (this token's own included) */
        const octet__int_row *row = &st->rows[t];
        const octet__int_state *c = row->o;
        const int layer = st->layer, n_keys = row->slot + 1;
        const int64_t m = row->pos, *kpos = c->kpos;
        const int16_t *cs_rel = c->cs_rel;
        const uint64_t n_table = (uint64_t)c->n_ctx;
        if (one && (job == j0 || h % group == 0)) {
            if (job == j0) prefetch_kv(c, layer, kh, n_keys);
            if (kh + 1 < w->n_head_kv && (kh + 1) * group < j1) prefetch_kv(c, layer, kh + 1, n_keys);
        }
        query_head(st, t, h);
        const int16_t *q = st->q16 + (size_t)t * (size_t)st->q_dim + (size_t)h * (size_t)hd;
        const int8_t *k0 = c->kc + cache_index(c, layer, kh, 0);
        const size_t s0 = scale_index(c, layer, kh, 0);
        int shq = st->qsh[(size_t)t * (size_t)n_head + (size_t)h];
        /* each key's cos/sin row by its distance, once per token (the same for every head): NULL where the
         * distance is outside the session's table */
        if (t != cs_t) {
            n_far = 0;
            for (int j = 0; j < n_keys; j++) {
                uint64_t d = (uint64_t)m - (uint64_t)kpos[j]; /* distance mod 2^64: phases wrap the same way */
                csp[j] = d < n_table ? cs_rel + (size_t)d * cs_stride : NULL;
                n_far += d >= n_table;
            }
            cs_t = t;
        }
        /* raw scores: runs of keys in the table at once, the others one by one */
        for (int j = 0; j < n_keys;) {
            int run = j;
            if (!n_far) j = n_keys;
            while (j < n_keys && csp[j]) j++;
            if (j > run)
                st->scores(q, k0 + (size_t)run * (size_t)hd, (size_t)hd, csp + run, j - run, half, hd, sc + run);
            if (j == n_keys) break;
            uint64_t d = (uint64_t)m - (uint64_t)kpos[j];
            for (int i = 0; i < half; i++) octet__int_cossin(w, d * w->phi[i], &cs_tmp[i], &cs_tmp[half + i]);
            sc[j] = st->score(q, k0 + (size_t)j * (size_t)hd, cs_tmp, half, hd);
            j++;
        }
        /* |raw| < 2^31, ksc <= 2^14: real score = raw * ksc * 2^(shq + shk - 32) / (127 sqrt(hd))
         * = raw * ksc * att_m * 2^(shq + shk - 32 - att_e); Q20 */
        st->qscale(sc, c->ksc + s0, c->ksh + s0, n_keys, w->att_m, w->att_e + 12 - shq);
        st->softmax(sc, pr, n_keys);
        /* out = sum_j p_j v_j with v_j = v8 * vm_j * 2^(ve_j - 16) / 127, aligned to the largest exponent */
        const int8_t *vsh = c->vsh + s0;
        if (t != em_t || kh != em_kh) { /* the same for the heads of a group */
            emax = -128;
            for (int j = 0; j < n_keys; j++) emax = vsh[j] > emax ? vsh[j] : emax;
            em_t = t, em_kh = kh;
        }
        /* weight p_j * vm_j in Q23 of the largest scale: sum_j w_j <= 2^23 + n_keys, so with |v8| <= 127 every int32
         * accumulator stays below 2^31 (the probabilities' array now holds the weights) */
        st->vweights(pr, c->vsc + s0, vsh, n_keys, 21 + emax);
        st->wsum(acc, pr, c->vc + cache_index(c, layer, kh, 0), (size_t)hd, n_keys, hd);
        /* real out = acc * 2^(21 + emax - 30 - 16) / 127 -> Q16: acc * 2^(emax - 9) / 127 */
        int32_t *out = st->att + (size_t)t * (size_t)st->q_dim + (size_t)h * (size_t)hd;
        st->rescale32(out, acc, hd, M127, 37 + 9 - emax);
    }
}

/* ---- the pass --------------------------------------------------------------------------------------------- */

/* The pass over st->rows[0 .. n_tok-1]; logits for rows first.. */
static void forward_rows(octet__int_state *st, const int32_t *tokens, int n_tok, int first) {
    const octet__int_weights *w = st->w;
    const size_t E = (size_t)w->n_embd;
    st->n_tok = n_tok;

    const octet__int_mat *em = &w->embd;
    for (int t = 0; t < n_tok; t++) {
        const uint8_t *row = em->w ? em->w + (size_t)tokens[t] * em->row_bytes : x16_row(st, em, tokens[t]);
        const int e = em->ws_exp[tokens[t]], sh = e - OCTET_INT_FX;
        int32_t *x = st->x + (size_t)t * E;
        for (int b = 0; b < em->n_blocks; b++) {
            const uint8_t *blk = row + (size_t)b * OCTET_INT_BLOCK;
            const int32_t ws = octet__int_block_scale(octet__int_block_h(blk), e);
            for (int j = 0; j < 32; j++)
                x[32 * b + j] = octet__int_sat32(octet__int_shift_round((int64_t)(int8_t)blk[2 + j] * ws, sh));
        }
    }

    for (int l = 0; l < w->n_layer; l++) {
        const octet__int_layer *L = &w->layers[l];
        st->layer = l;
        rmsnorm_rows(st, st->xn, st->x, L->attn_g, L->attn_gs, n_tok, 0);
        {
            const octet__int_mat *ms[3] = {&L->wq, &L->wk, &L->wv};
            int32_t *y[3] = {st->q, st->k, st->v};
            const int32_t *b[3] = {L->bq, L->bk, L->bv};
            matmul(st, 3, ms, y, b, st->xn, n_tok, 0, -1);
        }
        if (L->q_g) octet__pool_run(st->pool, qk_norm_run, st);
        if (n_tok == 1) qkv_run(st, 0, 1); /* one token is one job: no pool round */
        else octet__pool_run(st->pool, qkv_run, st);
        octet__pool_run(st->pool, attn_run, st);
        matmul1(st, &L->wo, st->xn, st->att, n_tok);
        st->add_sat(st->x, st->xn, (size_t)n_tok * E);

        rmsnorm_rows(st, st->xn, st->x, L->ffn_g, L->ffn_gs, n_tok, 0);
        {
            const octet__int_mat *ms[2] = {&L->gate, &L->up};
            int32_t *y[2] = {st->hg, st->hu};
            matmul(st, 2, ms, y, NULL, st->xn, n_tok, 1, -1); /* hg = silu(gate) * up */
        }
        matmul1(st, &L->down, st->xn, st->hg, n_tok);
        st->add_sat(st->x, st->xn, (size_t)n_tok * E);
    }

    const int n_out = n_tok - first;
    rmsnorm_rows(st, st->xn, st->x, w->out_g, w->out_gs, n_out, first);
    const octet__int_mat *wo = &w->output;
    int32_t *lq = st->lq;
    matmul(st, 1, &wo, &lq, NULL, st->xn, n_out, 0, first); /* Q16 logits in lq, as float in each row's logits */
}

void octet__int_forward(octet__int_state *st, const int32_t *tokens, int n_tok, int64_t pos, int n_past, int first,
                        float *logits) {
    const size_t V = (size_t)st->w->n_vocab;
    for (int t = 0; t < n_tok; t++)
        st->rows[t] = (octet__int_row){st, n_past + t, pos + t, t >= first ? logits + (size_t)(t - first) * V : NULL};
    forward_rows(st, tokens, n_tok, first);
}

int octet__int_batch_max(const octet__int_state *st) {
    int n = st->lq_rows < st->n_batch ? st->lq_rows : st->n_batch;
    return n < OCTET__INT_BATCH ? n : OCTET__INT_BATCH;
}

void octet__int_forward_batch(octet__int_state *ws, octet__int_state *const *owners, const int *slots,
                              const int32_t *tokens, const int64_t *pos, int n, float *const *logits) {
    for (int i = 0; i < n; i++) ws->rows[i] = (octet__int_row){owners[i], slots[i], pos[i], logits[i]};
    forward_rows(ws, tokens, n, 0);
}
