/*
 * weights.c - load-time conversion of a bound model into integer weights (float allowed here; nothing in this
 * file runs per token).
 *
 * Matrices: Q8_0 blocks (fp16 scale d, 32 int8 codes) with one exponent per row, e_r the largest with
 *   max_b |ws| <= 32767,  ws = floor(d * 2^e_r + 1/2)
 * which the kernels form from d's bits with integer operations (octet__int_block_scale, kernels/int_kernels.h).
 * Q8_0 tensors are used in place; any other type is dequantized row by row and requantized to Q8_0 blocks
 * (d = amax / 127 rounded up to fp16, codes rounded to nearest).
 * Vectors: norm gains to int32 with the largest fraction width keeping max |g| below 2^23; biases to Q16.
 * Constants: eps in Q32, the attention scale 1 / (127 sqrt(head_dim)) as a Q31 multiplier and shift.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/int/int_impl.h"
#include "kernels/intmath.h"
#include "model/model.h"

/* The row exponent: the largest e with every |ws_b| = |floor(d_b 2^e + 1/2)| <= 32767 (computed in float64, the
 * kernels form ws from d's bits with integer operations: octet__int_block_scale). */
static int row_exponent(octet__int_mat *im, int r, const uint8_t *row) {
    float mx = 0.0f;
    for (int b = 0; b < im->n_blocks; b++) {
        float d = octet__fp16_to_fp32(octet__int_block_h(row + (size_t)b * OCTET_INT_BLOCK));
        if (!isfinite(d)) return -1;
        if (fabsf(d) > mx) mx = fabsf(d);
    }
    int e = 0;
    if (mx > 0.0f) {
        e = (int)floor(log2(32767.0 / (double)mx)); /* mx * 2^e <= 32767 */
        while (e > -100 && floor((double)mx * ldexp(1.0, e) + 0.5) > 32767.0) e--;
        while (floor((double)mx * ldexp(1.0, e + 1) + 0.5) <= 32767.0) e++;
        if (e > 120 || e < -100) return -1;
    }
    im->ws_exp[r] = (int8_t)e;
    return 0;
}

/* One row of another type dequantized and requantized to Q8_0 blocks: d = amax / 127 rounded up to fp16 (so no
 * code exceeds 127), codes rounded to nearest with that d. */
static int requant_row(const float *row, int n_blocks, uint8_t *dst) {
    for (int b = 0; b < n_blocks; b++, dst += OCTET_INT_BLOCK) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) {
            float v = row[32 * b + j];
            if (!isfinite(v)) return -1;
            if (fabsf(v) > amax) amax = fabsf(v);
        }
        uint16_t h = octet__fp32_to_fp16(amax / 127.0f);
        float d = octet__fp16_to_fp32(h);
        if (!isfinite(d)) return -1;
        if (d * 127.0f < amax) { /* rounded down: the next fp16 up */
            h++;
            d = octet__fp16_to_fp32(h);
            if (!isfinite(d)) return -1;
        }
        dst[0] = (uint8_t)(h & 255u);
        dst[1] = (uint8_t)(h >> 8);
        float id = d > 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 32; j++) {
            float v = roundf(row[32 * b + j] * id);
            dst[2 + j] = (uint8_t)(int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v);
        }
    }
    return 0;
}

static int build_mat(octet__int_mat *im, const octet__tensor *t, const char *name, octet_error *err) {
    memset(im, 0, sizeof *im);
    if (t->ne[0] % 32 || t->ne[0] <= 0 || t->ne[1] <= 0 || t->ne[0] > (1 << 18) || t->ne[1] > (1 << 24))
        return octet__err(err, OCTET_EUNSUPPORTED, "integer mode: %s: shape %lld x %lld is not supported", name,
                          (long long)t->ne[0], (long long)t->ne[1]);
    im->n_in = (int)t->ne[0];
    im->n_out = (int)t->ne[1];
    im->n_blocks = im->n_in / 32;
    im->row_bytes = (size_t)im->n_blocks * OCTET_INT_BLOCK;
    im->ws_exp = octet__malloc((size_t)im->n_out);
    float *row = NULL;
    size_t own_bytes = 0;
    if (!octet__mul_size((size_t)im->n_out, im->row_bytes, &own_bytes))
        return octet__err(err, OCTET_ENOMEM, "integer mode: %s: too large", name);
    if (t->type != OCTET_TYPE_Q8_0) {
        im->own = octet__malloc(own_bytes);
        row = octet__malloc((size_t)im->n_in * sizeof *row);
    }
    if (!im->ws_exp || (t->type != OCTET_TYPE_Q8_0 && (!im->own || !row))) {
        octet__free(row);
        return octet__err(err, OCTET_ENOMEM, "integer mode: %s: out of memory", name);
    }
    const octet__type_traits *tt = &octet__kernels_ref()[t->type];
    im->w = t->type == OCTET_TYPE_Q8_0 ? (const uint8_t *)t->data : im->own;
    int bad = 0;
    for (int r = 0; r < im->n_out && !bad; r++) {
        if (t->type != OCTET_TYPE_Q8_0) {
            tt->to_float((const uint8_t *)t->data + (size_t)r * t->row_bytes, row, im->n_in);
            bad = requant_row(row, im->n_blocks, im->own + (size_t)r * im->row_bytes) != 0;
        }
        if (!bad && row_exponent(im, r, im->w + (size_t)r * im->row_bytes)) bad = 1;
    }
    octet__free(row);
    if (bad) return octet__err(err, OCTET_EFORMAT, "integer mode: %s: non-finite or out-of-range weights", name);
    return 0;
}

/* The matrix's q8_0x16 copy for the AVX-512 VNNI kernels where they run (repack.c); the file's pages behind Q8_0
 * rows used in place are released after it, requantized rows freed where the copy holds them all. */
static int repack_mat(octet__int_mat *im, const octet_model *m, const char *name, octet_error *err) {
    if (octet__int_mat_repack(im, !im->own && octet__gguf_droppable(m->gguf)))
        return octet__err(err, OCTET_ENOMEM, "integer mode: %s: out of memory for the repacked copy", name);
    return 0;
}

static void free_mat(octet__int_mat *im) {
    octet__int_mat_repack_free(im);
    octet__free(im->ws_exp);
    octet__free(im->own);
}

/* Gains to int32 Q(*shift): the largest shift <= 30 with max |g| * 2^shift < 2^23. */
static int32_t *build_gains(const float *g, int n, int *shift) {
    int32_t *out = octet__malloc((size_t)n * sizeof *out);
    if (!out) return NULL;
    float mx = 0.0f;
    for (int i = 0; i < n; i++)
        if (isfinite(g[i]) && fabsf(g[i]) > mx) mx = fabsf(g[i]);
    int s = 30;
    while (s > -30 && (double)mx * ldexp(1.0, s) >= 8388608.0) s--;
    *shift = s;
    for (int i = 0; i < n; i++) out[i] = isfinite(g[i]) ? (int32_t)lrint((double)g[i] * ldexp(1.0, s)) : 0;
    return out;
}

static int32_t *build_bias(const float *b, int n) {
    if (!b) return NULL;
    int32_t *out = octet__malloc((size_t)n * sizeof *out);
    if (!out) return NULL;
    for (int i = 0; i < n; i++) {
        double v = (double)b[i] * 65536.0;
        out[i] = !(v == v) ? 0 : v > 2147483647.0 ? INT32_MAX : v < -2147483647.0 ? -INT32_MAX : (int32_t)lrint(v);
    }
    return out;
}

void octet__int_weights_free(octet__int_weights *w) {
    if (!w) return;
    if (w->layers) {
        for (int l = 0; l < w->n_layer; l++) {
            octet__int_layer *L = &w->layers[l];
            octet__int_mat *ms[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
            for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) free_mat(ms[i]);
            octet__free(L->attn_g);
            octet__free(L->ffn_g);
            octet__free(L->bq);
            octet__free(L->bk);
            octet__free(L->bv);
            octet__free(L->q_g);
            octet__free(L->k_g);
        }
        octet__free(w->layers);
    }
    free_mat(&w->embd);
    if (!w->output_tied) free_mat(&w->output);
    octet__free(w->out_g);
    octet__free(w->phi);
    octet__free(w);
}

int octet__int_weights_build(octet__int_weights **out, const octet_model *m, octet_error *err) {
    *out = NULL;
    const octet__hparams *hp = &m->hp;
    if (hp->n_embd % 32 || hp->n_ff % 32 || (hp->n_head * hp->head_dim) % 32 || hp->head_dim > 512 ||
        hp->head_dim % 2 || hp->n_rot > hp->head_dim)
        return octet__err(err, OCTET_EUNSUPPORTED,
                          "integer mode: n_embd %d, n_ff %d and n_head * head_dim must be multiples of 32 and "
                          "head_dim (%d) at most 512",
                          hp->n_embd, hp->n_ff, hp->head_dim);
    /* architecture features the integer pass does not have yet: refused by name rather than ignored */
    if (hp->ffn_gelu || hp->attn_softcap > 0.0f || hp->final_softcap > 0.0f || hp->n_swa || hp->embd_scale != 1.0f ||
        m->layers[0].attn_post_norm)
        return octet__err(err, OCTET_EUNSUPPORTED,
                          "integer mode: the %s architecture (GELU gating, soft-capping, post-norms "
                          "blk.N.post_attention_norm.weight, sliding-window layers) is not implemented in integer "
                          "mode yet (use float mode)",
                          hp->arch);
    if (hp->n_expert)
        return octet__err(err, OCTET_EUNSUPPORTED,
                          "integer mode: mixture-of-experts layers (blk.N.ffn_gate_inp.weight, %d experts) are not "
                          "implemented in integer mode yet (use float mode)",
                          hp->n_expert);
    octet__int_weights *w = octet__calloc(1, sizeof *w);
    if (!w) return octet__err(err, OCTET_ENOMEM, "integer mode: out of memory");
    w->n_vocab = hp->n_vocab;
    w->n_embd = hp->n_embd;
    w->n_layer = hp->n_layer;
    w->n_head = hp->n_head;
    w->n_head_kv = hp->n_head_kv;
    w->head_dim = hp->head_dim;
    w->n_ff = hp->n_ff;
    w->n_rot = hp->n_rot;
    w->rope_type = hp->rope_type;
    w->layers = octet__calloc((size_t)hp->n_layer, sizeof *w->layers);
    int rc = 0;
    if (!w->layers) rc = octet__err(err, OCTET_ENOMEM, "integer mode: out of memory");
    char name[64];
    for (int l = 0; l < hp->n_layer && !rc; l++) {
        const octet__layer *L = &m->layers[l];
        octet__int_layer *I = &w->layers[l];
        const octet__tensor *ts[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        octet__int_mat *ms[] = {&I->wq, &I->wk, &I->wv, &I->wo, &I->gate, &I->up, &I->down};
        static const char *nm[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
        for (size_t i = 0; i < 7 && !rc; i++) {
            snprintf(name, sizeof name, "blk.%d.%s", l, nm[i]);
            rc = build_mat(ms[i], ts[i], name, err);
            if (!rc) rc = repack_mat(ms[i], m, name, err);
        }
        if (rc) break;
        I->attn_g = build_gains(L->attn_norm, hp->n_embd, &I->attn_gs);
        I->ffn_g = build_gains(L->ffn_norm, hp->n_embd, &I->ffn_gs);
        I->bq = build_bias(L->bq, (int)L->wq.ne[1]);
        I->bk = build_bias(L->bk, (int)L->wk.ne[1]);
        I->bv = build_bias(L->bv, (int)L->wv.ne[1]);
        if (L->q_norm) { /* qwen3: the per-head norms run on the Q16 heads with the integer RMSNorm */
            I->q_g = build_gains(L->q_norm, hp->head_dim, &I->q_gs);
            I->k_g = build_gains(L->k_norm, hp->head_dim, &I->k_gs);
        }
        if (!I->attn_g || !I->ffn_g || (L->bq && !I->bq) || (L->bk && !I->bk) || (L->bv && !I->bv) ||
            (L->q_norm && (!I->q_g || !I->k_g)))
            rc = octet__err(err, OCTET_ENOMEM, "integer mode: out of memory");
    }
    if (!rc) rc = build_mat(&w->embd, &m->tok_embd, "token_embd", err);
    if (!rc) {
        w->output_tied = m->tied_output || m->output.data == m->tok_embd.data;
        if (w->output_tied) {
            /* the embeddings' matrix is the output's: repacked for the logits (lookups read its Q8_0 rows, or unpack
             * them from the groups when those are all there is) */
            rc = repack_mat(&w->embd, m, "token_embd", err);
            w->output = w->embd;
        } else {
            rc = build_mat(&w->output, &m->output, "output", err);
            if (!rc) rc = repack_mat(&w->output, m, "output", err);
        }
    }
    if (!rc) {
        w->out_g = build_gains(m->output_norm, hp->n_embd, &w->out_gs);
        w->phi = octet__malloc((size_t)(hp->n_rot / 2 + 1) * sizeof *w->phi);
        if (!w->out_g || !w->phi) rc = octet__err(err, OCTET_ENOMEM, "integer mode: out of memory");
    }
    if (rc) {
        octet__int_weights_free(w);
        return rc;
    }
    memcpy(w->phi, m->rope_phi, (size_t)(hp->n_rot / 2) * sizeof *w->phi);
    w->eps_q32 = (int64_t)llround((double)hp->norm_eps * 4294967296.0);
    /* the RoPE magnitude (YaRN, rope.scaling.attn_factor: float mode multiplies cos and sin by it) scales q and k,
     * so the scores by its square; rope_freqs and the scaled frequencies are in the phases (m->rope_phi) */
    double c = (double)hp->rope_mscale * (double)hp->rope_mscale / (127.0 * sqrt((double)hp->head_dim));
    int e = 0;
    double mant = frexp(c, &e); /* c = mant * 2^e, mant in [0.5, 1) */
    long long mm = llround(mant * 2147483648.0);
    w->att_e = 31 - e;
    if (mm >= 2147483648LL) { /* mant rounded up to 1.0 */
        mm = 1LL << 30;
        w->att_e -= 1;
    }
    w->att_m = (int32_t)mm;
    octet__int_rope_tables(w->rope_t1, w->rope_t2);
    *out = w;
    return 0;
}
