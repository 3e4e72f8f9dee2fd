/*
 * int_impl.h - private to src/model/int/: the integer weights a model gets once (model->int_cache) and the
 * split between load-time files (float allowed: weights.c, rope_tab.c, int.c) and per-token files (integer
 * only, compiled with -mgeneral-regs-only in `make intonly`: forward_int.c, intmath.c, rope_int.c).
 *
 * Every number the per-token path needs is an integer here: weight codes, block scales, gains, biases,
 * epsilon, attention multiplier, RoPE phase increments and cos/sin tables.
 */
#ifndef OCTET_INT_IMPL_H
#define OCTET_INT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "kernels/int_kernels.h"
#include "octet.h"

/* An int8 weight matrix in Q8_0 blocks of 32 along the input (kernels/int_kernels.h):
 * w[r][b] = codes * ws(d[r][b], ws_exp[r]) * 2^-ws_exp[r]. The blocks are the mapped Q8_0 tensor or own. */
typedef struct octet__int_mat {
    int n_in, n_out, n_blocks;
    const uint8_t *w;   /* row r at w + r * row_bytes: n_blocks blocks of OCTET_INT_BLOCK bytes; NULL when only
                           the x16 groups hold the rows (repack.c) */
    size_t row_bytes;
    int8_t *ws_exp;     /* [n_out]: fraction bits of the row's scales */
    uint8_t *own;       /* requantized blocks when the tensor was not Q8_0, else NULL */
    const uint8_t *x16; /* rows 0 .. 16 n16 - 1 also as q8_0x16 groups (kernels/repack.h), group g at
                           x16 + g * x16_bytes, for the AVX-512 VNNI kernels (repack.c); NULL when not built */
    size_t x16_bytes;
    int n16;
    void *x16_mem;      /* the allocation behind x16 */
} octet__int_mat;

typedef struct octet__int_layer {
    octet__int_mat wq, wk, wv, wo, gate, up, down;
    int32_t *attn_g, *ffn_g; /* [n_embd] gains in Q(attn_gs / ffn_gs) */
    int attn_gs, ffn_gs;
    int32_t *bq, *bk, *bv;   /* Q16 biases or NULL */
    int32_t *q_g, *k_g;      /* qwen3: [head_dim] per-head q / k norm gains in Q(q_gs / k_gs), or NULL */
    int q_gs, k_gs;
} octet__int_layer;

#define OCTET_INT_ROPE_BITS 10 /* each cos/sin table level has 2^10 entries */

typedef struct octet__int_weights {
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_rot, rope_type;
    octet__int_layer *layers;
    octet__int_mat embd, output; /* output aliases embd's storage when tied (output_tied) */
    int output_tied;
    int32_t *out_g;
    int out_gs;
    int64_t eps_q32;             /* RMSNorm epsilon in Q32 */
    int32_t att_m;               /* 1 / (127 sqrt(head_dim)) = att_m * 2^-att_e, att_m in [2^30, 2^31) */
    int att_e;
    uint64_t *phi;               /* [n_rot / 2] phase increments (copy of model->rope_phi) */
    int16_t rope_t1[1 << OCTET_INT_ROPE_BITS][2]; /* cos, sin of 2 pi k / 2^10 in Q15 (clamped to 32767) */
    int16_t rope_t2[1 << OCTET_INT_ROPE_BITS][2]; /* cos, sin of 2 pi k / 2^20 in Q15 */
} octet__int_weights;

/* repack.c (load time): the matrix's q8_0x16 copy when the CPU has AVX-512 VNNI, SIMD is on and OCTET_NO_REPACK is
 * not set (else nothing); the source rows' pages are released afterwards when drop (a droppable file mapping), the
 * requantized rows (own) freed when the groups hold every row. Returns 0, or -1 when out of memory. repack_free
 * releases it. */
int octet__int_mat_repack(octet__int_mat *im, int drop);
void octet__int_mat_repack_free(octet__int_mat *im);
/* 1 when integer sessions may use the q8_0x16 copies (the CPU has AVX-512 VNNI and SIMD is on). */
int octet__int_repack_usable(void);

/* weights.c (load time): build / free the integer weights of a model. */
int octet__int_weights_build(octet__int_weights **out, const octet_model *m, octet_error *err);
void octet__int_weights_free(octet__int_weights *w);
/* int.c: the model's integer weights, built on first use under a lock (model->int_cache). */
int octet__int_weights_get(const octet__int_weights **out, const octet_model *m, octet_error *err);

/* rope_tab.c (load time): fill the two cos/sin tables. */
void octet__int_rope_tables(int16_t t1[][2], int16_t t2[][2]);

/* rope_int.c (per token) */
/* cos, sin in Q15 of the angle 2 pi phase / 2^64: top 10 bits and next 10 bits of the rounded phase index the
 * two tables, combined by the angle-addition formula with int16 limb products. */
void octet__int_cossin(const octet__int_weights *w, uint64_t phase, int16_t *c, int16_t *s);
/* Rotate one head (head_dim values, Q16 int32) at the given cos/sin pairs (n_rot / 2 of them): the head is
 * scaled to int16 with a power-of-two shift, rotated with int16 x Q15 limb products and returned in int32
 * (a rotated value can exceed int16 by sqrt 2): real value out[j] * 2^(*shift - 16). The forward pass applies
 * the rotation inside the scores instead (octet__int_score_*); this explicit form is the bridge's rotation,
 * tested against extended precision in tests/unit/test_int_rope.c. */
void octet__int_rope_head(const octet__int_weights *w, const int32_t *v, const int16_t (*cs)[2], int32_t *out,
                          int *shift);

#endif
