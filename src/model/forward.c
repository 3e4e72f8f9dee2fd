/*
 * forward.c - sessions and the float-activation forward pass of a Llama-family decoder.
 *
 * A session owns the KV cache (f32, [n_layer][n_ctx][n_head_kv * head_dim] for keys and for values), every
 * activation buffer (sized for n_batch tokens) and a thread pool; all are allocated in octet_session_new, so
 * decoding allocates nothing. A decode call appends its tokens to cache slots n_past.. and gives them
 * positions pos.. (positions are independent of slots: a sequence may start at any position).
 *
 * Per layer, for the batch X [n][n_embd]:
 *   Xn = rmsnorm(X) * attn_norm
 *   Q = Xn Wq^T (+bq), K = Xn Wk^T (+bk), V = Xn Wv^T (+bv)      one pass over the three weights
 *   rotate Q, K by RoPE at their positions; append K, V to the cache
 *   A = softmax(Q K^T / sqrt(head_dim), causal) V per head       kv head = head / (n_head / n_head_kv)
 *   X += A Wo^T
 *   Xn = rmsnorm(X) * ffn_norm
 *   X += (silu(Xn Wgate^T) * (Xn Wup^T)) Wdown^T
 * then logits = rmsnorm(X) * output_norm  Wout^T.
 *
 * Matrix products quantize the activations once per product to the weight type's vec_dot_type and then run
 * the per-type dot kernel for every (weight row, token) pair; weight rows are split across threads. Every
 * output element is computed by one kernel call whatever the thread count, so results are bit-identical for
 * any -t.
 *
 * RoPE angles come from exact 64-bit phases: phase = pos * phi_i mod 2^64 (model.c computes phi_i), so the
 * angle keeps full precision at any position (docs/integer.md, "The bridge", design point 1); cos/sin come from
 * that integer phase through core/xmath.c, in IEEE double operations only, so they are the same on every CPU.
 */
#include <math.h>
#include <string.h>

#include "core/limits.h"
#include "core/xmath.h"
#include "core/threadpool.h"
#include "kernels/gemm.h"
#include "kernels/kernels_impl.h"
#include "model.h"
#include "model/int/int.h"
#include "model/matmul.h"
#include "model/packed.h"

struct octet_session {
    const octet_model *m;
    int exec;
    octet__int_state *ist; /* integer mode state (exec == OCTET_EXEC_INT), else NULL */
    int n_ctx, n_batch, logits_all;
    octet__pool *pool;
    int n_past;
    int last_n;            /* tokens in the last decode call */
    size_t kv_dim;
    int l0, l1;               /* layers [l0, l1) run by this session (a pipeline stage), normally 0, n_layer */
    float *k_cache, *v_cache; /* [l1 - l0][n_ctx][kv_dim] */
    /* scratch, n_batch rows each */
    float *x;     /* [n_batch][n_embd] residual stream */
    float *xn;    /* [n_batch][n_embd] normed input */
    float *q;     /* [n_batch][n_head*head_dim] */
    float *k, *v; /* [n_batch][kv_dim] */
    float *att;   /* [n_batch][n_head*head_dim] */
    float *hg, *hu; /* [n_batch][n_ff] */
    float *rope;  /* [n_batch][n_rot/2][2] cos, sin */
    float *rope_swa; /* the same for the sliding-window layers when their RoPE differs (model->rope_phi_swa), else NULL */
    const uint64_t *phi; /* the phases of this session: model->rope_phi, or rope_phi_long (phi3) for a long context */
    float *scores; /* [n_threads][n_ctx] */
    uint8_t *aq;  /* quantized activations [n_batch][aq_stride] */
    size_t aq_stride;
    uint8_t *panel;      /* [n_threads][panel_stride] row panels of the prompt GEMMs (kernels/gemm.h) */
    size_t panel_stride; /* 0: no panel kernels */
    float *pout;         /* [n_threads][n_batch * 8] panel results */
    octet__q8_aux *aux; /* [n_batch][aux_stride] per Q8_0 activation block: code sum, scale (kernels/gemm.h) */
    size_t aux_stride;
    float *logits; /* [n_logit_rows][n_vocab] */
    int n_logit_rows;
    int last_keep; /* rows of the last decode call whose logits are kept (its last ones) */
    struct row_info *rows; /* [n_batch] per-row owner, cache slot and position of the current pass */
    float **yrows;         /* [n_batch] per-row logits destinations */
    /* mixture of experts (n_expert > 0), else NULL: see moe_ffn */
    float *moe_logits;     /* [n_batch][n_expert] router outputs */
    float *moe_w;          /* [n_batch][n_expert_used] weights of the chosen experts */
    int *moe_sel;          /* [n_batch][n_expert_used] the chosen experts */
    int *moe_tok;          /* [n_batch] the rows routed to one expert */
    float *moe_x, *moe_y;  /* [n_batch][n_embd] their inputs, the expert's outputs */
    float *moe_acc;        /* [n_batch][n_embd] the weighted sum */
};

/* One token row of a forward pass: whose KV cache it belongs to, its slot there, and its position. A pass over
 * a single session has owner == the session for every row; a batched pass mixes sessions. */
typedef struct row_info {
    octet_session *owner;
    int slot;
    int64_t pos;
} row_info;

octet_session_params octet_session_default_params(void) {
    octet_session_params p = {.exec = OCTET_EXEC_FLOAT, .n_ctx = 0, .n_threads = 0, .n_batch = 0, .logits_all = 0};
    return p;
}

static size_t max_act_row_bytes(int64_t n) {
    size_t best = (size_t)n * sizeof(float);
    const int vdts[] = {OCTET_TYPE_Q8_0, OCTET_TYPE_Q8_1, OCTET_TYPE_Q8_K};
    for (size_t i = 0; i < sizeof vdts / sizeof vdts[0]; i++) {
        size_t b = octet__row_bytes(vdts[i], n);
        if (b > best) best = b;
    }
    return best;
}

/* The largest row panel any of the model's matrices needs (0 when no panel kernel applies). */
static size_t panel_bytes_of(const octet__tensor *t, size_t best) {
    const octet__panel_kernels *pk = t->data ? octet__panel(t->type) : NULL;
    size_t b = pk ? pk->bytes(t->ne[0]) : 0;
    return b > best ? b : best;
}

static size_t panel_bytes(const octet_model *m, int l0, int l1) {
    size_t best = panel_bytes_of(&m->output, 0);
    for (int l = l0; l < l1; l++) {
        const octet__layer *L = &m->layers[l];
        const octet__tensor *ts[] = {&L->wq,       &L->wk,        &L->wv,      &L->wo,       &L->w_gate,
                                     &L->w_up,     &L->w_down,    &L->gate_inp, &L->gate_exps, &L->up_exps,
                                     &L->down_exps};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) best = panel_bytes_of(ts[i], best);
    }
    return (best + 63) & ~(size_t)63;
}

/* Allocate count floats, checking count = a * b * c for overflow. */
static float *alloc_f32(size_t a, size_t b, size_t c, int *ok) {
    size_t n, bytes;
    if (!octet__mul_size(a, b, &n) || !octet__mul_size(n, c, &n) || !octet__mul_size(n, sizeof(float), &bytes)) {
        *ok = 0;
        return NULL;
    }
    float *p = octet__malloc(bytes);
    if (!p) *ok = 0;
    return p;
}

int octet_session_new(octet_session **out, const octet_model *m, const octet_session_params *params,
                      octet_error *err) {
    if (!out || !m) return octet__err(err, OCTET_EINVAL, "octet_session_new: NULL argument");
    *out = NULL;
    octet_session_params p = params ? *params : octet_session_default_params();
    const octet__hparams *hp = &m->hp;
    int n_ctx = p.n_ctx > 0 ? p.n_ctx : (hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
    if (p.n_ctx < 0 || n_ctx > OCTET_MAX_CTX)
        return octet__err(err, OCTET_EINVAL, "context size %d is outside 1..%d", p.n_ctx, OCTET_MAX_CTX);
    int n_batch = p.n_batch > 0 ? p.n_batch : 512;
    if (p.n_batch < 0 || n_batch > OCTET_MAX_BATCH)
        return octet__err(err, OCTET_EINVAL, "batch size %d is outside 1..%d", p.n_batch, OCTET_MAX_BATCH);
    if (p.exec != OCTET_EXEC_FLOAT && p.exec != OCTET_EXEC_INT)
        return octet__err(err, OCTET_EINVAL, "execution mode %d is not float (0) or int (1)", p.exec);
    int l0 = p.layer_begin, l1 = p.layer_end;
    if (l0 == 0 && l1 == 0) l1 = hp->n_layer;
    if (l0 < 0 || l1 > hp->n_layer || l0 >= l1)
        return octet__err(err, OCTET_EINVAL, "layer range [%d, %d) is not inside [0, %d)", p.layer_begin, p.layer_end,
                          hp->n_layer);
    if (p.exec == OCTET_EXEC_INT && (l0 != 0 || l1 != hp->n_layer))
        return octet__err(err, OCTET_EUNSUPPORTED, "pipeline stages are not available in integer mode yet");
    octet_session *s = octet__calloc(1, sizeof *s);
    if (!s) return octet__err(err, OCTET_ENOMEM, "session: out of memory");
    s->m = m;
    s->exec = p.exec;
    s->l0 = l0;
    s->l1 = l1;
    s->n_ctx = n_ctx;
    s->n_batch = n_batch;
    s->logits_all = p.logits_all != 0;
    /* phi3 LongRoPE: the long factors when the context exceeds the original one (llama.cpp's rule, by n_ctx) */
    s->phi = m->rope_phi_long && n_ctx > hp->yarn_orig_ctx ? m->rope_phi_long : m->rope_phi;
    int rc = octet__pool_new(&s->pool, p.n_threads, err);
    if (rc) {
        octet_session_free(s);
        return rc;
    }
    int nth = octet__pool_n_threads(s->pool);
    int ok = 1;
    if (p.n_logits < 0 || p.n_logits > n_batch)
        return octet__err(err, OCTET_EINVAL, "session: n_logits %d is outside 0..the batch size %d", p.n_logits, n_batch);
    s->n_logit_rows = s->logits_all ? n_batch : p.n_logits > 1 ? p.n_logits : 1;
    s->logits = alloc_f32((size_t)s->n_logit_rows, (size_t)hp->n_vocab, 1, &ok);
    if (!ok) {
        octet_session_free(s);
        return octet__err(err, OCTET_ENOMEM, "session: out of memory for logits");
    }
    if (s->exec == OCTET_EXEC_INT) {
        if (s->phi != m->rope_phi) { /* the integer weights hold the model's (short-factor) phases */
            octet_session_free(s);
            return octet__err(err, OCTET_EUNSUPPORTED,
                              "integer mode: a context of %d above the original %d needs phi3's long RoPE factors "
                              "(rope_factors_long.weight), not implemented in integer mode yet",
                              n_ctx, hp->yarn_orig_ctx);
        }
        rc = octet__int_new(&s->ist, m, n_ctx, n_batch, s->n_logit_rows, s->pool, err);
        if (rc) {
            octet_session_free(s);
            return rc;
        }
        *out = s;
        return 0;
    }
    rc = octet__repack_prepare(m, l0, l1, s->pool, err); /* once per model: repacked matrices (model/packed.h) */
    if (rc) {
        octet_session_free(s);
        return rc;
    }
    s->kv_dim = (size_t)hp->n_head_kv * (size_t)hp->head_dim;
    size_t q_dim = (size_t)hp->n_head * (size_t)hp->head_dim, nb = (size_t)n_batch;
    s->k_cache = alloc_f32((size_t)(l1 - l0), (size_t)n_ctx, s->kv_dim, &ok);
    s->v_cache = alloc_f32((size_t)(l1 - l0), (size_t)n_ctx, s->kv_dim, &ok);
    s->x = alloc_f32(nb, (size_t)hp->n_embd, 1, &ok);
    s->xn = alloc_f32(nb, (size_t)hp->n_embd, 1, &ok);
    s->q = alloc_f32(nb, q_dim, 1, &ok);
    s->k = alloc_f32(nb, s->kv_dim, 1, &ok);
    s->v = alloc_f32(nb, s->kv_dim, 1, &ok);
    s->att = alloc_f32(nb, q_dim, 1, &ok);
    const int n_ff_max = hp->n_ff_exp > hp->n_ff ? hp->n_ff_exp : hp->n_ff;
    s->hg = alloc_f32(nb, (size_t)n_ff_max, 1, &ok);
    s->hu = alloc_f32(nb, (size_t)n_ff_max, 1, &ok);
    if (hp->n_expert) {
        s->moe_logits = alloc_f32(nb, (size_t)hp->n_expert, 1, &ok);
        s->moe_w = alloc_f32(nb, (size_t)hp->n_expert_used, 1, &ok);
        s->moe_sel = octet__calloc(nb * (size_t)hp->n_expert_used, sizeof *s->moe_sel);
        s->moe_tok = octet__calloc(nb, sizeof *s->moe_tok);
        if (!s->moe_sel || !s->moe_tok) ok = 0;
        s->moe_x = alloc_f32(nb, (size_t)hp->n_embd, 1, &ok);
        s->moe_y = alloc_f32(nb, (size_t)hp->n_embd, 1, &ok);
        s->moe_acc = alloc_f32(nb, (size_t)hp->n_embd, 1, &ok);
    }
    s->rope = alloc_f32(nb, (size_t)hp->n_rot, 1, &ok);
    if (m->rope_phi_swa) s->rope_swa = alloc_f32(nb, (size_t)hp->n_rot, 1, &ok);
    s->scores = alloc_f32((size_t)nth, (size_t)n_ctx, 1, &ok);
    size_t stride = max_act_row_bytes(hp->n_embd), t;
    if ((t = max_act_row_bytes((int64_t)q_dim)) > stride) stride = t;
    if ((t = max_act_row_bytes(n_ff_max)) > stride) stride = t;
    s->aq_stride = (stride + 63) & ~(size_t)63;
    s->panel_stride = panel_bytes(m, l0, l1);
    if (s->panel_stride) {
        size_t pb;
        if (octet__mul_size((size_t)nth, s->panel_stride, &pb)) s->panel = octet__malloc(pb);
        else ok = 0;
        s->pout = alloc_f32((size_t)nth, nb, OCTET__PANEL_ROWS, &ok);
        if (!s->panel) ok = 0;
    }
    s->aux_stride = stride / 32; /* >= the blocks of any input row */
    s->aux = octet__calloc(nb * s->aux_stride, sizeof *s->aux);
    if (!s->aux) ok = 0;
    s->rows = octet__calloc(nb, sizeof *s->rows);
    s->yrows = octet__calloc(nb, sizeof *s->yrows);
    if (!s->rows || !s->yrows) ok = 0;
    size_t aq_bytes;
    if (ok && octet__mul_size(nb, s->aq_stride, &aq_bytes)) s->aq = octet__malloc(aq_bytes);
    if (!ok || !s->aq) {
        octet_session_free(s);
        return octet__err(err, OCTET_ENOMEM, "session: out of memory for a %d-token context and %d-token batch",
                          n_ctx, n_batch);
    }
    *out = s;
    return 0;
}

void octet_session_free(octet_session *s) {
    if (!s) return;
    octet__int_free(s->ist);
    octet__pool_free(s->pool);
    float *bufs[] = {s->k_cache, s->v_cache, s->x,     s->xn,         s->q,     s->k,    s->v,
                     s->att,     s->hg,      s->hu,    s->rope,       s->scores, s->logits, s->moe_logits,
                     s->moe_w,   s->moe_x,   s->moe_y, s->moe_acc, s->rope_swa};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) octet__free(bufs[i]);
    octet__free(s->aq);
    octet__free(s->panel);
    octet__free(s->pout);
    octet__free(s->aux);
    octet__free(s->rows);
    octet__free(s->yrows);
    octet__free(s->moe_sel);
    octet__free(s->moe_tok);
    octet__free(s);
}

int octet_session_n_past(const octet_session *s) { return s->n_past; }
int octet_session_n_ctx(const octet_session *s) { return s->n_ctx; }
void octet_session_truncate(octet_session *s, int n) {
    if (n >= 0 && n < s->n_past) s->n_past = n;
}

const float *octet_session_logits(const octet_session *s, int i) {
    if (s->last_n == 0) return NULL;
    if (s->logits_all) {
        if (i < 0 || i >= s->last_n) return NULL;
        return s->logits + (size_t)i * (size_t)s->m->hp.n_vocab;
    }
    const int first = s->last_n - s->last_keep; /* rows first .. last_n-1 kept */
    if (i < first || i >= s->last_n) return NULL;
    return s->logits + (size_t)(i - first) * (size_t)s->m->hp.n_vocab;
}

/* ---- matrix products (the schedule: model/matmul.h) ------------------------------------------------------ */

#define MM_MAX OCTET__MM_MAX
typedef struct mm_task {
    int n_w;
    const octet__tensor *w[MM_MAX];
    float *y[MM_MAX];        /* [n_tok][w->ne[1]] */
    float *const *yrows;     /* if set (n_w == 1): token i's output row is yrows[i] instead of y[0] + i*n_out */
    const float *bias[MM_MAX];
    const float *x;          /* [n_tok][n_in] */
    int n_tok;
    int64_t n_in;
    int vdt;
    const uint8_t *a;        /* activation rows in vdt */
    size_t a_stride;
    uint8_t *aq;
    const octet__type_traits *kt;
    uint8_t *panel;            /* per-thread panel scratch (stride panel_stride), or NULL */
    size_t panel_stride;
    float *pout;               /* per-thread panel results (stride pout_stride floats) */
    octet__q8_aux *aux;       /* per activation block: code sum and scale, or NULL (kernels/gemm.h) */
    size_t aux_stride;
    size_t pout_stride;
    octet__packed pk[MM_MAX];  /* w[j] repacked in groups of 16 rows (model/packed.h), or pk[j].gemm == NULL */
} mm_task;

/* Activation row i into the weights' vec_dot_type (claimed one at a time by the driver). */
static void mm_quant(void *ctx, int i) {
    mm_task *t = ctx;
    const octet__type_traits *vt = &t->kt[t->vdt];
    const block_q8_0 *row = (const block_q8_0 *)(const void *)(t->aq + (size_t)i * t->a_stride);
    vt->from_float(t->x + (size_t)i * (size_t)t->n_in, t->aq + (size_t)i * t->a_stride, t->n_in);
    if (t->aux) /* exact integer sums (any order) and the scales as floats (exact) */
        for (int64_t b = 0; b < t->n_in / QK8_0; b++) {
            int32_t sum = 0;
            for (int j = 0; j < QK8_0; j++) sum += row[b].qs[j];
            t->aux[(size_t)i * t->aux_stride + (size_t)b].sum8 = 8 * sum;
            t->aux[(size_t)i * t->aux_stride + (size_t)b].d = octet__fp16_to_fp32(row[b].d);
        }
}

/* Prompt batches of at least this many tokens go through row panels (packing 8 rows costs about as much as
 * reading them for a few tokens); smaller ones, like the server's slots decoded together, use the 8-row GEMV on
 * up to 4 tokens per pass over the rows (Q5_K, Q6_K: the 1-row tile of up to 4 tokens). All give the reference
 * dot's bits, so this is only about speed. */
#define PANEL_MIN_TOK 8
#define PANEL_MIN_TOK_NO_GEMV 3 /* types with neither (Q4_K): panels from 3 tokens */

static inline void mm_store(const mm_task *t, float *y, int n_out, int i, int64_t r, float v, const float *b) {
    float *yi = t->yrows ? t->yrows[i] : y + (size_t)i * (size_t)n_out;
    yi[r] = b ? v + b[r] : v;
}

/* Where the weights of row r of matrix j are read from: its 16-row group when repacked (r a multiple of 16). */
static const uint8_t *mm_row_addr(void *ctx, int j, int64_t r) {
    const mm_task *t = ctx;
    if (t->pk[j].gemm && r < 16 * t->pk[j].groups) return t->pk[j].data + (size_t)(r / 16) * t->pk[j].group_bytes;
    return (const uint8_t *)t->w[j]->data + (size_t)r * t->w[j]->row_bytes;
}

/* ---- repacked matrices (model/packed.h): groups of 16 rows through the layout's kernel ---------------------- */
#define MM_X16_TOK 32 /* tokens per kernel call (its results go through a stack buffer) */

/* Look up the repacked copies of the task's weights; 1 when any is used. */
static int mm_x16_setup(const octet_session *s, mm_task *t) {
    int any = 0;
    for (int j = 0; j < t->n_w; j++) {
        if (!octet__repack_find(s->m, t->w[j], &t->pk[j])) t->pk[j].gemm = NULL;
        any |= t->pk[j].gemm != NULL;
    }
    return any;
}

/* Rows [lo, hi) of weight j: the whole packed groups from lo, while lo is a multiple of 16. Returns the first
 * row left for the other paths. */
static int64_t mm_x16_rows(mm_task *t, int j, int64_t lo, int64_t hi, const octet__mm_piece *pc) {
    const octet__packed *pk = &t->pk[j];
    const int n_out = (int)t->w[j]->ne[1];
    float v[MM_X16_TOK * 16];
    if (lo % 16) return lo;
    for (; lo + 16 <= hi && lo / 16 < pk->groups; lo += 16) {
        const uint8_t *pf = octet__mm_next(pc, j, lo + 16);
        const uint8_t *g = pk->data + (size_t)(lo / 16) * pk->group_bytes;
        /* without a bias or output row pointers the kernel writes the outputs in place (stride n_out) */
        const int direct = !t->yrows && !t->bias[j];
        for (int i = 0; i < t->n_tok; i += MM_X16_TOK) {
            const int nc = t->n_tok - i < MM_X16_TOK ? t->n_tok - i : MM_X16_TOK;
            pk->gemm(t->n_in, direct ? t->y[j] + (size_t)i * (size_t)n_out + (size_t)lo : v,
                     direct ? (size_t)n_out : 16, g, i ? NULL : pf, t->a + (size_t)i * t->a_stride, t->a_stride, nc,
                     t->aux ? t->aux + (size_t)i * t->aux_stride : NULL, t->aux_stride);
            if (!direct)
                for (int c = 0; c < nc; c++)
                    for (int k = 0; k < 16; k++) mm_store(t, t->y[j], n_out, i + c, lo + k, v[c * 16 + k], t->bias[j]);
        }
    }
    return lo;
}

/* Rows [lo, hi) of weight j for every token: repacked 16-row groups, then 8 rows at a time, as a panel for a
 * prompt batch (packed once, used for every token) or through the 8-row GEMV, then row by row (F32: the tile of
 * OCTET__GEMM_NC tokens per row). Every output element equals one reference-exact kernel result (a dot, or one
 * lane of a 16-row kernel, an 8-row GEMV or a row panel: src/kernels/gemm.h). */
static void mm_rows(void *ctx, int ith, int j, int64_t lo, int64_t hi, const octet__mm_piece *pc) {
    mm_task *t = ctx;
    uint8_t *panel = t->panel ? t->panel + (size_t)ith * t->panel_stride : NULL;
    float *pout = t->pout ? t->pout + (size_t)ith * t->pout_stride : NULL;
    const octet__tensor *w = t->w[j];
    const int64_t n_out = w->ne[1];
    octet__vec_dot_fn dot = t->kt[w->type].vec_dot;
    float *y = t->y[j];
    const float *b = t->bias[j];
    octet__gemv8_fn gemv8 = octet__gemv8(w->type);
    octet__gemm_fn gemm = t->n_tok > 1 ? octet__gemm(w->type) : NULL;
    const int min_tok = gemv8 || gemm ? PANEL_MIN_TOK : PANEL_MIN_TOK_NO_GEMV;
    const octet__panel_kernels *pk = t->n_tok >= min_tok && panel ? octet__panel(w->type) : NULL;
    if (pk && pk->bytes(t->n_in) > t->panel_stride) pk = NULL;
    if (t->pk[j].gemm) lo = mm_x16_rows(t, j, lo, hi, pc);
    if (pk || gemv8) {
        for (; lo + OCTET__PANEL_ROWS <= hi; lo += OCTET__PANEL_ROWS) {
            const uint8_t *w0 = (const uint8_t *)w->data + (size_t)lo * w->row_bytes;
            const uint8_t *pf = octet__mm_next(pc, j, lo + OCTET__PANEL_ROWS);
            if (pk) {
                pk->pack(t->n_in, panel, w0, w->row_bytes, pf);
                pk->gemm(t->n_in, pout, OCTET__PANEL_ROWS, panel, t->a, t->a_stride, t->n_tok, t->aux, t->aux_stride);
                for (int i = 0; i < t->n_tok; i++)
                    for (int k = 0; k < OCTET__PANEL_ROWS; k++)
                        mm_store(t, y, (int)n_out, i, lo + k, pout[(size_t)i * OCTET__PANEL_ROWS + k], b);
            } else {
                for (int i = 0; i < t->n_tok; i += OCTET__GEMV_NC) {
                    float v[OCTET__GEMV_NC * OCTET__GEMV_ROWS];
                    int nc = t->n_tok - i < OCTET__GEMV_NC ? t->n_tok - i : OCTET__GEMV_NC;
                    gemv8(t->n_in, v, w0, w->row_bytes, i ? NULL : pf, t->a + (size_t)i * t->a_stride, t->a_stride,
                          nc, t->aux ? t->aux + (size_t)i * t->aux_stride : NULL, t->aux_stride);
                    for (int c = 0; c < nc; c++)
                        for (int k = 0; k < OCTET__GEMV_ROWS; k++)
                            mm_store(t, y, (int)n_out, i + c, lo + k, v[c * OCTET__GEMV_ROWS + k], b);
                }
            }
        }
    }
    for (int64_t r = lo; r < hi; r++) {
        const uint8_t *wr = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        for (int i = 0; i < t->n_tok; i += OCTET__GEMM_NC) {
            float v[OCTET__GEMM_NC];
            int nc = t->n_tok - i < OCTET__GEMM_NC ? t->n_tok - i : OCTET__GEMM_NC;
            if (gemm) {
                gemm(t->n_in, v, wr, t->a + (size_t)i * t->a_stride, t->a_stride, nc);
            } else {
                for (int c = 0; c < nc; c++) dot(t->n_in, &v[c], wr, t->a + (size_t)(i + c) * t->a_stride);
            }
            for (int c = 0; c < nc; c++) mm_store(t, y, (int)n_out, i + c, r, v[c], b);
        }
    }
}

/* g = silu(g) * u, element by element (the same arithmetic whichever thread runs it) */
static void swiglu(float *g, const float *u, size_t n) {
    for (size_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* gate and up rows [r0, r1) done: their SwiGLU for every token, on the thread that computed them */
static void mm_pair(void *ctx, int64_t r0, int64_t r1) {
    const mm_task *t = ctx;
    const int64_t n_ff = t->w[0]->ne[1];
    for (int i = 0; i < t->n_tok; i++) {
        const size_t o = (size_t)i * (size_t)n_ff + (size_t)r0;
        swiglu(t->y[0] + o, t->y[1] + o, (size_t)(r1 - r0));
    }
}

static const octet__mm_ops mm_ops = {.quant = mm_quant, .rows = mm_rows, .row_addr = mm_row_addr, .pair = mm_pair};

/* y_j = x W_j^T (+ b_j) for j < n_w; all W_j share the input size and the activation type. swiglu_pair: gate and
 * up of one shape (n_w = 2, no yrows), and y[0] = silu(y[0]) * y[1] afterwards. */
static void matmul_rows(octet_session *s, int n_w, const octet__tensor *const *w, float *const *y,
                        const float *const *b, const float *x, int n_tok, float *const *yrows, int swiglu_pair) {
    mm_task t;
    memset(&t, 0, sizeof t);
    octet__mm mm = {.ops = &mm_ops, .ctx = &t, .n_w = n_w, .n_tok = n_tok, .pair = swiglu_pair, .group = 8};
    t.yrows = yrows;
    t.kt = octet__kernels();
    t.n_w = n_w;
    for (int j = 0; j < n_w; j++) {
        t.w[j] = w[j];
        t.y[j] = y[j];
        t.bias[j] = b ? b[j] : NULL;
        mm.n_out[j] = w[j]->ne[1];
    }
    t.x = x;
    t.n_tok = n_tok;
    t.n_in = w[0]->ne[0];
    t.vdt = t.kt[w[0]->type].vec_dot_type;
    if (t.vdt == OCTET_TYPE_F32) {
        t.a = (const uint8_t *)x;
        t.a_stride = (size_t)t.n_in * sizeof(float);
    } else {
        t.aq = s->aq;
        t.a = s->aq;
        t.a_stride = s->aq_stride;
        int uses_aux = 0; /* only the Q4_0/Q8_0 GEMV and the Q4_0/Q5_0/Q8_0 panels read the activation blocks' aux */
        for (int j = 0; j < n_w; j++)
            uses_aux |= w[j]->type == OCTET_TYPE_Q4_0 || w[j]->type == OCTET_TYPE_Q5_0 || w[j]->type == OCTET_TYPE_Q8_0;
        if (uses_aux) {
            t.aux = s->aux;
            t.aux_stride = s->aux_stride;
        }
        mm.quantize = 1;
        if (mm_x16_setup(s, &t)) mm.group = 16;
    }
    t.panel = s->panel;
    t.panel_stride = s->panel_stride;
    t.pout = s->pout;
    t.pout_stride = (size_t)s->n_batch * OCTET__PANEL_ROWS;
    octet__mm_run(s->pool, &mm);
}

static void matmul(octet_session *s, int n_w, const octet__tensor *const *w, float *const *y, const float *const *b,
                   const float *x, int n_tok) {
    matmul_rows(s, n_w, w, y, b, x, n_tok, NULL, 0);
}

static void matmul1(octet_session *s, const octet__tensor *w, float *y, const float *b, const float *x, int n_tok) {
    matmul(s, 1, &w, &y, &b, x, n_tok);
}

/* Group weights sharing an activation type into one product; others go alone. */
static void matmul_group(octet_session *s, int n_w, const octet__tensor *const *w, float *const *y,
                         const float *const *b, const float *x, int n_tok) {
    const octet__type_traits *kt = octet__kernels();
    int same = 1;
    for (int j = 1; j < n_w; j++) same &= kt[w[j]->type].vec_dot_type == kt[w[0]->type].vec_dot_type;
    if (same) {
        matmul(s, n_w, w, y, b, x, n_tok);
    } else {
        for (int j = 0; j < n_w; j++) matmul1(s, w[j], y[j], b ? b[j] : NULL, x, n_tok);
    }
}

/* ---- element-wise pieces --------------------------------------------------------------------------------- */

static void rmsnorm(float *out, const float *x, const float *g, int n, float eps) {
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * (double)x[i];
    float scale = (float)(1.0 / sqrt(ss / n + (double)eps));
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * g[i];
}

/* cos/sin for every token of the batch and every rotated pair, from exact phases phi (into tab). */
static void rope_tables(octet_session *s, int n_tok, const uint64_t *phi, float *tab) {
    const octet_model *m = s->m;
    int half = m->hp.n_rot / 2;
    for (int t = 0; t < n_tok; t++) {
        uint64_t p = (uint64_t)s->rows[t].pos;
        float *cs = tab + (size_t)t * (size_t)m->hp.n_rot;
        for (int i = 0; i < half; i++) {
            uint64_t phase = p * phi[i]; /* mod 2^64: whole turns drop out exactly */
            octet__xm_turn_sincosf(phase, &cs[2 * i], &cs[2 * i + 1]); /* the same bits on every machine */
            if (m->hp.rope_mscale != 1.0f) { /* YaRN magnitude / rope.scaling.attn_factor (model.c) */
                cs[2 * i] *= m->hp.rope_mscale;
                cs[2 * i + 1] *= m->hp.rope_mscale;
            }
        }
    }
}

static void rope_apply(const octet_session *s, const float *tab, float *v, int n_heads, int t) {
    const octet__hparams *hp = &s->m->hp;
    int half = hp->n_rot / 2;
    const float *cs = tab + (size_t)t * (size_t)hp->n_rot;
    for (int h = 0; h < n_heads; h++) {
        float *x = v + (size_t)h * (size_t)hp->head_dim;
        for (int i = 0; i < half; i++) {
            int i0 = hp->rope_type == OCTET_ROPE_NORM ? 2 * i : i;
            int i1 = hp->rope_type == OCTET_ROPE_NORM ? 2 * i + 1 : i + half;
            float c = cs[2 * i], sn = cs[2 * i + 1];
            float a = x[i0], b = x[i1];
            x[i0] = a * c - b * sn;
            x[i1] = a * sn + b * c;
        }
    }
}

/* v -> cap tanh(v / cap) (gemma2's attention and final soft-capping; llama.cpp scales, tanh, scales back) */
static void softcap(float *v, int n, float cap) {
    for (int i = 0; i < n; i++) v[i] = cap * tanhf(v[i] * (1.0f / cap));
}

/* ---- attention -------------------------------------------------------------------------------------------- */

typedef struct attn_task {
    octet_session *s;
    int layer, n_tok;
} attn_task;

static void attn_run(void *ctx, int ith, int nth) {
    attn_task *a = ctx;
    octet_session *s = a->s;
    const octet__hparams *hp = &s->m->hp;
    const octet__fkernel_table *fk = octet__fkernels();
    const int hd = hp->head_dim, n_head = hp->n_head, group = hp->n_head / hp->n_head_kv;
    const size_t q_dim = (size_t)n_head * (size_t)hd;
    const float scale = hp->attn_scale; /* 1 / sqrt(head_dim) unless the architecture says otherwise (model.c) */
    const float cap = hp->attn_softcap;
    const int window = s->m->layers[a->layer].swa ? hp->n_swa : 0;
    float *sc = s->scores + (size_t)ith * (size_t)s->n_ctx;
    int total = a->n_tok * n_head;
    for (int job = ith; job < total; job += nth) {
        int t = job / n_head, h = job % n_head, kh = h / group;
        const octet_session *o = s->rows[t].owner;
        const float *kc = o->k_cache + (size_t)(a->layer - o->l0) * (size_t)o->n_ctx * o->kv_dim;
        const float *vc = o->v_cache + (size_t)(a->layer - o->l0) * (size_t)o->n_ctx * o->kv_dim;
        const float *q = s->q + (size_t)t * q_dim + (size_t)h * (size_t)hd;
        int n_keys = s->rows[t].slot + 1; /* causal: the owner's cache up to and including this token */
        if (window && n_keys > window) { /* sliding window: the last `window` slots (contiguous positions) */
            kc += (size_t)(n_keys - window) * o->kv_dim;
            vc += (size_t)(n_keys - window) * o->kv_dim;
            n_keys = window;
        }
        fk->scores_f32(sc, q, kc + (size_t)kh * (size_t)hd, s->kv_dim, n_keys, hd, scale);
        if (cap > 0.0f) softcap(sc, n_keys, cap);
        float mx = -INFINITY;
        for (int j = 0; j < n_keys; j++)
            if (sc[j] > mx) mx = sc[j];
        double sum = 0.0;
        for (int j = 0; j < n_keys; j++) {
            sc[j] = expf(sc[j] - mx);
            sum += (double)sc[j];
        }
        float inv = (float)(1.0 / sum);
        float *out = s->att + (size_t)t * q_dim + (size_t)h * (size_t)hd;
        fk->wsum_f32(out, sc, inv, vc + (size_t)kh * (size_t)hd, s->kv_dim, n_keys, hd);
    }
}

/* ---- architecture steps: q/k norms, mixture of experts, gemma's pieces --------------------------------------- */

static void final_softcap(octet_session *s, int first, int n_tok) {
    for (int t = first; t < n_tok; t++) softcap(s->yrows[t], s->m->hp.n_vocab, s->m->hp.final_softcap);
}

/* RMSNorm of the rows of s->xn in place (gemma's post-attention and post-FFN norms). */
static void post_norm(octet_session *s, const float *g, int n_tok) {
    const int E = s->m->hp.n_embd;
    for (int t = 0; t < n_tok; t++) {
        float *v = s->xn + (size_t)t * (size_t)E;
        rmsnorm(v, v, g, E, s->m->hp.norm_eps);
    }
}

/* hg = gelu(gate) * up with GELU's tanh approximation, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
 * (Hendrycks and Gimpel 2016; Gemma's gelu_pytorch_tanh), evaluated in float as written. */
static void gelu_ffn_gates(octet_session *s, const octet__layer *L, int n_tok) {
    const octet__tensor *w[2] = {&L->w_gate, &L->w_up};
    float *y[2] = {s->hg, s->hu};
    matmul_group(s, 2, w, y, NULL, s->xn, n_tok);
    const size_t n = (size_t)n_tok * (size_t)s->m->hp.n_ff;
    for (size_t i = 0; i < n; i++) {
        const float x = s->hg[i];
        s->hg[i] = 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x))) * s->hu[i];
    }
}

/* qwen3: RMSNorm of every head of q and of k (gains [head_dim], the model's epsilon), before RoPE. */
static void qk_norm(octet_session *s, const octet__layer *L, int n_tok) {
    const octet__hparams *hp = &s->m->hp;
    const int hd = hp->head_dim;
    const size_t q_dim = (size_t)hp->n_head * (size_t)hd;
    for (int t = 0; t < n_tok; t++) {
        for (int h = 0; h < hp->n_head; h++) {
            float *v = s->q + (size_t)t * q_dim + (size_t)h * (size_t)hd;
            rmsnorm(v, v, L->q_norm, hd, hp->norm_eps);
        }
        for (int h = 0; h < hp->n_head_kv; h++) {
            float *v = s->k + (size_t)t * s->kv_dim + (size_t)h * (size_t)hd;
            rmsnorm(v, v, L->k_norm, hd, hp->norm_eps);
        }
    }
}

/* Expert e's matrix of a stack (model.h: the experts' matrices one after another). */
static octet__tensor expert_view(const octet__tensor *stack, int e) {
    octet__tensor t = *stack;
    t.data = (const uint8_t *)stack->data + (size_t)e * (size_t)stack->ne[1] * stack->row_bytes;
    return t;
}

/* The feed-forward of a mixture-of-experts layer on the normed rows s->xn, added to s->x. Routing as llama.cpp's
 * build_moe_ffn does it for the llama (Mixtral) and qwen3moe architectures: p = softmax(router logits) over all
 * experts, the k = n_expert_used largest (ties: the lower index), their weights p_e / sum of the k p_e. Row t's
 * output is sum over its experts of w_e * down_e(silu(gate_e x) * up_e x). Each expert runs once over the rows
 * routed to it (gathered), through the plain matmul path; the weighted sums are formed in expert order, so the
 * result does not depend on the thread count. */
static void moe_ffn(octet_session *s, const octet__layer *L, int n_tok) {
    const octet__hparams *hp = &s->m->hp;
    const octet__type_traits *kt = octet__kernels();
    const int E = hp->n_embd, X = hp->n_expert, K = hp->n_expert_used, FE = hp->n_ff_exp;
    matmul1(s, &L->gate_inp, s->moe_logits, NULL, s->xn, n_tok);
    for (int t = 0; t < n_tok; t++) {
        float *lg = s->moe_logits + (size_t)t * (size_t)X;
        int *sel = s->moe_sel + (size_t)t * (size_t)K;
        float *w = s->moe_w + (size_t)t * (size_t)K;
        float mx = -INFINITY;
        for (int e = 0; e < X; e++)
            if (lg[e] > mx) mx = lg[e];
        double sum = 0.0;
        for (int e = 0; e < X; e++) sum += exp((double)lg[e] - (double)mx);
        for (int e = 0; e < X; e++) lg[e] = (float)(exp((double)lg[e] - (double)mx) / sum); /* probabilities */
        double wsum = 0.0;
        for (int j = 0; j < K; j++) { /* k passes of a selection: k is small */
            int best = -1;
            for (int e = 0; e < X; e++) {
                int taken = 0;
                for (int i = 0; i < j; i++) taken |= sel[i] == e;
                if (!taken && (best < 0 || lg[e] > lg[best])) best = e;
            }
            sel[j] = best;
            wsum += (double)lg[best];
        }
        for (int j = 0; j < K; j++) w[j] = (float)((double)lg[sel[j]] / wsum);
    }
    memset(s->moe_acc, 0, (size_t)n_tok * (size_t)E * sizeof(float));
    for (int e = 0; e < X; e++) {
        int c = 0;
        for (int t = 0; t < n_tok; t++)
            for (int j = 0; j < K; j++)
                if (s->moe_sel[(size_t)t * (size_t)K + (size_t)j] == e) {
                    s->moe_tok[c] = t;
                    memcpy(s->moe_x + (size_t)c * (size_t)E, s->xn + (size_t)t * (size_t)E, (size_t)E * sizeof(float));
                    c++;
                }
        if (!c) continue;
        const octet__tensor g = expert_view(&L->gate_exps, e), u = expert_view(&L->up_exps, e),
                            d = expert_view(&L->down_exps, e);
        const octet__tensor *w[2] = {&g, &u};
        float *y[2] = {s->hg, s->hu};
        if (kt[g.type].vec_dot_type == kt[u.type].vec_dot_type) {
            matmul_rows(s, 2, w, y, NULL, s->moe_x, c, NULL, 1); /* hg = silu(gate) * up */
        } else {
            matmul_group(s, 2, w, y, NULL, s->moe_x, c);
            swiglu(s->hg, s->hu, (size_t)c * (size_t)FE);
        }
        matmul1(s, &d, s->moe_y, NULL, s->hg, c);
        for (int i = 0; i < c; i++) {
            const int t = s->moe_tok[i];
            float we = 0.0f;
            for (int j = 0; j < K; j++)
                if (s->moe_sel[(size_t)t * (size_t)K + (size_t)j] == e) we = s->moe_w[(size_t)t * (size_t)K + (size_t)j];
            float *acc = s->moe_acc + (size_t)t * (size_t)E;
            const float *yi = s->moe_y + (size_t)i * (size_t)E;
            for (int k = 0; k < E; k++) acc[k] += we * yi[k];
        }
    }
    for (size_t i = 0; i < (size_t)n_tok * (size_t)E; i++) s->x[i] += s->moe_acc[i];
}

/* ---- the pass --------------------------------------------------------------------------------------------- */

/* One pass over n_tok rows described by s->rows (owner, slot, position); s provides the scratch and the pool,
 * and its score buffer must cover every owner's slots (s->n_ctx >= slot + 1). Row t's logits, for t in
 * [first_logit, n_tok), go to s->yrows[t]. */
static void forward(octet_session *s, const int32_t *tokens, const float *hidden_in, int n_tok, int first_logit,
                    float *hidden_out) {
    const octet_model *m = s->m;
    const octet__hparams *hp = &m->hp;
    const octet__type_traits *kt = octet__kernels();
    const int E = hp->n_embd, F = hp->n_ff;
    const size_t q_dim = (size_t)hp->n_head * (size_t)hp->head_dim;

    if (s->l0 == 0) {
        for (int t = 0; t < n_tok; t++)
            kt[m->tok_embd.type].to_float((const uint8_t *)m->tok_embd.data +
                                              (size_t)tokens[t] * m->tok_embd.row_bytes,
                                          s->x + (size_t)t * (size_t)E, E);
    } else {
        memcpy(s->x, hidden_in, (size_t)n_tok * (size_t)E * sizeof(float));
    }
    if (hp->embd_scale != 1.0f) /* gemma: embeddings times sqrt(n_embd), in float as llama.cpp's ggml_scale */
        for (size_t i = 0; s->l0 == 0 && i < (size_t)n_tok * (size_t)E; i++) s->x[i] *= hp->embd_scale;
    rope_tables(s, n_tok, s->phi, s->rope);
    if (s->rope_swa) rope_tables(s, n_tok, m->rope_phi_swa, s->rope_swa);

    for (int l = s->l0; l < s->l1; l++) {
        const octet__layer *L = &m->layers[l];
        for (int t = 0; t < n_tok; t++)
            rmsnorm(s->xn + (size_t)t * (size_t)E, s->x + (size_t)t * (size_t)E, L->attn_norm, E, hp->norm_eps);
        {
            const octet__tensor *w[3] = {&L->wq, &L->wk, &L->wv};
            float *y[3] = {s->q, s->k, s->v};
            const float *b[3] = {L->bq, L->bk, L->bv};
            matmul_group(s, 3, w, y, b, s->xn, n_tok);
        }
        if (L->q_norm) qk_norm(s, L, n_tok);
        const float *rtab = L->swa && s->rope_swa ? s->rope_swa : s->rope;
        for (int t = 0; t < n_tok; t++) {
            rope_apply(s, rtab, s->q + (size_t)t * q_dim, hp->n_head, t);
            rope_apply(s, rtab, s->k + (size_t)t * s->kv_dim, hp->n_head_kv, t);
            octet_session *o = s->rows[t].owner;
            size_t at = ((size_t)(l - o->l0) * (size_t)o->n_ctx + (size_t)s->rows[t].slot) * o->kv_dim;
            memcpy(o->k_cache + at, s->k + (size_t)t * s->kv_dim, s->kv_dim * sizeof(float));
            memcpy(o->v_cache + at, s->v + (size_t)t * s->kv_dim, s->kv_dim * sizeof(float));
        }
        attn_task at = {.s = s, .layer = l, .n_tok = n_tok};
        octet__pool_run(s->pool, attn_run, &at);
        /* output projection into xn (free now), then the residual */
        matmul1(s, &L->wo, s->xn, NULL, s->att, n_tok);
        if (L->attn_post_norm) post_norm(s, L->attn_post_norm, n_tok);
        for (size_t i = 0; i < (size_t)n_tok * (size_t)E; i++) s->x[i] += s->xn[i];

        for (int t = 0; t < n_tok; t++)
            rmsnorm(s->xn + (size_t)t * (size_t)E, s->x + (size_t)t * (size_t)E, L->ffn_norm, E, hp->norm_eps);
        if (L->gate_inp.data) {
            moe_ffn(s, L, n_tok); /* adds to s->x */
            continue;
        }
        if (hp->ffn_gelu) {
            gelu_ffn_gates(s, L, n_tok);
        } else {
            const octet__tensor *w[2] = {&L->w_gate, &L->w_up};
            float *y[2] = {s->hg, s->hu};
            if (kt[w[0]->type].vec_dot_type == kt[w[1]->type].vec_dot_type && w[0]->ne[0] == w[1]->ne[0] &&
                w[0]->ne[1] == w[1]->ne[1]) {
                matmul_rows(s, 2, w, y, NULL, s->xn, n_tok, NULL, 1); /* hg = silu(gate) * up, by the rows' threads */
            } else {
                matmul_group(s, 2, w, y, NULL, s->xn, n_tok);
                swiglu(s->hg, s->hu, (size_t)n_tok * (size_t)F);
            }
        }
        matmul1(s, &L->w_down, s->xn, NULL, s->hg, n_tok);
        if (L->ffn_post_norm) post_norm(s, L->ffn_post_norm, n_tok);
        for (size_t i = 0; i < (size_t)n_tok * (size_t)E; i++) s->x[i] += s->xn[i];
    }
    if (s->l1 < hp->n_layer) { /* not the last stage: hand the hidden states on */
        memcpy(hidden_out, s->x, (size_t)n_tok * (size_t)E * sizeof(float));
        return;
    }

    if (hidden_out) /* the last stage's caller wants the final hidden states: every row after the output norm */
        for (int t = 0; t < n_tok; t++)
            rmsnorm(hidden_out + (size_t)t * (size_t)E, s->x + (size_t)t * (size_t)E, m->output_norm, E, hp->norm_eps);

    /* logits for rows first_logit.. into s->yrows[first_logit..] */
    int first = first_logit, n_out = n_tok - first;
    for (int t = first; t < n_tok; t++)
        rmsnorm(s->xn + (size_t)(t - first) * (size_t)E, s->x + (size_t)t * (size_t)E, m->output_norm, E,
                hp->norm_eps);
    const octet__tensor *wout = &m->output;
    float *y0 = NULL;
    matmul_rows(s, 1, &wout, &y0, NULL, s->xn, n_out, s->yrows + first, 0);
    if (hp->final_softcap > 0.0f) final_softcap(s, first, n_tok);
}

static int decode_common(octet_session *s, const int32_t *tokens, const float *hidden_in, int n, int64_t pos,
                         float *hidden_out, octet_error *err) {
    if (!s) return octet__err(err, OCTET_EINVAL, "decode: NULL session");
    if (n <= 0) return octet__err(err, OCTET_EINVAL, "decode: no tokens");
    int first_stage = s->l0 == 0, last_stage = s->l1 == s->m->hp.n_layer;
    if (first_stage ? !tokens : !hidden_in)
        return octet__err(err, OCTET_EINVAL, "decode: %s needed", first_stage ? "tokens are" : "hidden states are");
    if (!last_stage && !hidden_out) return octet__err(err, OCTET_EINVAL, "decode: hidden_out needed by this stage");
    if (last_stage && hidden_out && s->ist)
        return octet__err(err, OCTET_EUNSUPPORTED, "decode: final hidden states are available in float mode only");
    if (pos < 0 || pos > (INT64_C(1) << 62))
        return octet__err(err, OCTET_ERANGE, "decode: position %lld is outside 0..2^62", (long long)pos);
    int n_vocab = s->m->hp.n_vocab;
    for (int i = 0; first_stage && i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return octet__err(err, OCTET_ERANGE, "decode: token %d at index %d is outside the vocabulary (0..%d)",
                              tokens[i], i, n_vocab - 1);
    if (n > s->n_ctx - s->n_past)
        return octet__err(err, OCTET_ERANGE, "decode: %d tokens do not fit: context %d, %d already used", n, s->n_ctx,
                          s->n_past);
    if (s->logits_all && n > s->n_batch)
        return octet__err(err, OCTET_EINVAL, "decode: %d tokens with logits for all exceed the batch size %d", n,
                          s->n_batch);
    /* logits are kept for rows keep0 .. n-1 (row keep0 at the start of s->logits); a chunk before them computes
     * its last row's into the first row, which a later chunk overwrites */
    const int keep = s->logits_all ? n : n < s->n_logit_rows ? n : s->n_logit_rows, keep0 = n - keep;
    const size_t V = (size_t)s->m->hp.n_vocab;
    for (int off = 0; off < n; off += s->n_batch) {
        int cnt = n - off < s->n_batch ? n - off : s->n_batch;
        int first = keep0 - off > 0 ? keep0 - off : 0; /* the chunk's first row with logits */
        if (first > cnt - 1) first = cnt - 1;
        float *lg = s->logits + (size_t)(off + first - keep0 > 0 ? off + first - keep0 : 0) * V;
        if (s->ist) {
            octet__int_forward(s->ist, tokens + off, cnt, pos + off, s->n_past, first, lg);
            s->n_past += cnt;
        } else {
            for (int t = 0; t < cnt; t++) {
                s->rows[t].owner = s;
                s->rows[t].slot = s->n_past + t;
                s->rows[t].pos = pos + off + t;
                s->yrows[t] = lg + (size_t)(t >= first ? t - first : 0) * V;
            }
            size_t E = (size_t)s->m->hp.n_embd;
            forward(s, first_stage ? tokens + off : NULL, first_stage ? NULL : hidden_in + (size_t)off * E, cnt,
                    first, hidden_out ? hidden_out + (size_t)off * E : NULL);
            s->n_past += cnt;
        }
    }
    s->last_n = n;
    s->last_keep = keep;
    return 0;
}

int octet_session_decode(octet_session *s, const int32_t *tokens, int n, int64_t pos, octet_error *err) {
    if (s && (s->l0 != 0 || s->l1 != s->m->hp.n_layer))
        return octet__err(err, OCTET_EINVAL, "decode: this session is a pipeline stage: use octet_session_decode_stage");
    return decode_common(s, tokens, NULL, n, pos, NULL, err);
}

int octet_session_decode_stage(octet_session *s, const int32_t *tokens, const float *hidden_in, int n, int64_t pos,
                               float *hidden_out, octet_error *err) {
    return decode_common(s, tokens, hidden_in, n, pos, hidden_out, err);
}

int octet_session_decode_batch(octet_session *const *ss, const int32_t *tokens, const int64_t *pos, int n,
                               octet_error *err) {
    if (!ss || !tokens || !pos || n <= 0) return octet__err(err, OCTET_EINVAL, "decode_batch: bad arguments");
    octet_session *w = NULL; /* workspace: the session with the largest context among those with room for n rows */
    for (int i = 0; i < n; i++)
        if (ss[i] && ss[i]->n_batch >= n && (!w || ss[i]->n_ctx > w->n_ctx)) w = ss[i];
    if (!w) return octet__err(err, OCTET_EINVAL, "decode_batch: no session has a batch size of at least %d", n);
    for (int i = 0; i < n; i++) {
        octet_session *s = ss[i];
        if (!s || s->m != w->m || s->exec != w->exec || s->l0 != 0 || s->l1 != s->m->hp.n_layer)
            return octet__err(err, OCTET_EINVAL,
                              "decode_batch: session %d is NULL, of another model or mode, or a pipeline stage", i);
        for (int j = 0; j < i; j++)
            if (ss[j] == s) return octet__err(err, OCTET_EINVAL, "decode_batch: session %d appears twice", i);
        if (s->phi != w->phi)
            return octet__err(err, OCTET_EINVAL,
                              "decode_batch: session %d uses the other RoPE factors (context size on the other side "
                              "of the original context)", i);
        if (tokens[i] < 0 || tokens[i] >= w->m->hp.n_vocab)
            return octet__err(err, OCTET_ERANGE, "decode_batch: token %d of session %d is outside the vocabulary",
                              tokens[i], i);
        if (pos[i] < 0 || pos[i] > (INT64_C(1) << 62))
            return octet__err(err, OCTET_ERANGE, "decode_batch: position %lld is outside 0..2^62", (long long)pos[i]);
        if (s->n_past >= s->n_ctx)
            return octet__err(err, OCTET_ERANGE, "decode_batch: session %d: context of %d tokens is full", i, s->n_ctx);
    }
    for (int i = 0; i < n; i++)
        if (ss[i]->n_past + 1 > w->n_ctx)
            return octet__err(err, OCTET_EINVAL, "decode_batch: session %d's context exceeds the workspace's", i);
    if (w->ist) {
        /* integer mode: the sessions' rows in passes of up to octet__int_batch_max tokens, each row joining its
         * own session's cache (the same bits as decoding it alone) */
        const int cap = octet__int_batch_max(w->ist);
        octet__int_state *own[OCTET__INT_BATCH];
        int slot[OCTET__INT_BATCH];
        float *lg[OCTET__INT_BATCH];
        for (int i0 = 0; i0 < n; i0 += cap) {
            const int k = n - i0 < cap ? n - i0 : cap;
            for (int i = 0; i < k; i++) {
                own[i] = ss[i0 + i]->ist;
                slot[i] = ss[i0 + i]->n_past;
                lg[i] = ss[i0 + i]->logits;
            }
            octet__int_forward_batch(w->ist, own, slot, tokens + i0, pos + i0, k, lg);
        }
        for (int i = 0; i < n; i++) {
            ss[i]->n_past++;
            ss[i]->last_n = 1;
            ss[i]->last_keep = 1;
        }
        return 0;
    }
    for (int i = 0; i < n; i++) {
        w->rows[i].owner = ss[i];
        w->rows[i].slot = ss[i]->n_past;
        w->rows[i].pos = pos[i];
        /* a session with logits_all keeps its one row at the start of its buffer */
        w->yrows[i] = ss[i]->logits;
    }
    forward(w, tokens, NULL, n, 0, NULL);
    for (int i = 0; i < n; i++) {
        ss[i]->n_past++;
        ss[i]->last_n = 1;
        ss[i]->last_keep = 1;
    }
    return 0;
}
