/*
 * gemm.h - multi-row and multi-token kernels for the matrix products of the forward pass.
 *
 * The specification of every quantized product is its reference dot (src/kernels/ref/): per block b an exact
 * integer sum isum_b, then one float term per block, v_b = (float)isum_b * (d_w * d_a) (K-quants: the formula of
 * their reference dot), added in block order: acc = acc + v_b, from 0.0f, with no fused multiply-add. Every
 * kernel here for Q8_0, Q4_0, Q5_0, Q4_1, Q5_1, Q4_K, Q5_K and Q6_K reproduces that scalar chain exactly, whatever it vectorizes over
 * (blocks, rows or tokens) - so SIMD == reference bit for bit, a prompt evaluated as a batch equals one token at
 * a time, and results do not depend on the thread split. tests/kernels/test_gemm.c checks all of it with memcmp.
 *
 * The integer part is exact in any order; what the kernels vectorize is the float chain across *rows* (8 rows in
 * the 8 lanes of a vector, each lane its own chain) or across tokens, never within one chain.
 */
#ifndef OCTET_GEMM_H
#define OCTET_GEMM_H

#include <stddef.h>
#include <stdint.h>

/* ---- F32 tile: one weight row against up to OCTET__GEMM_NC activation rows --------------------------------
 * s[c] = dot(w, a + c * a_stride) for c < nc, with exactly the arithmetic of the same table's F32 vec_dot. */
#define OCTET__GEMM_NC 4
typedef void octet__gemm_kernel(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc);
typedef octet__gemm_kernel *octet__gemm_fn;
/* The set in use's tile for the type (matching its vec_dot), else NULL. */
octet__gemm_fn octet__gemm(int type);
octet__gemm_kernel octet__gemm_f32_f32_ref, octet__gemm_f32_f32_avx2;
/* F16 and BF16 rows: AVX2 only, equal to the SIMD table's dot of those types (one FMA chain per row and token) */
octet__gemm_kernel octet__gemm_f16_f32_avx2, octet__gemm_bf16_f32_avx2;
/* Q5_K, Q6_K rows x Q8_K activations: AVX2 only (avx2/kquant_avx2.c), equal to the reference dot */
octet__gemm_kernel octet__gemm_q5_K_avx2, octet__gemm_q6_K_avx2;

/* ---- 8-row GEMV (generation: one token; small batches: up to 4) --------------------------------------------
 * s[c * 8 + r] = dot(w + r * w_stride, a + c * a_stride) for r < 8, c < nc (1 <= nc <= OCTET__GEMV_NC), equal bit
 * for bit to the reference dot of each row and token. The rows are read once for the nc tokens. pf (may be NULL):
 * the 8 rows the caller reads next (8 * w_stride bytes), prefetched while these are computed. */
#define OCTET__GEMV_ROWS 8
#define OCTET__GEMV_NC 4
/* Per Q8_0 activation block, formed once when the row is quantized: 8 times the sum of its 32 codes (Q4_0's -8
 * offset) and its fp16 scale as a float, both broadcast straight from memory by the kernels. */
typedef struct octet__q8_aux {
    int32_t sum8;
    float d;
} octet__q8_aux;
/* aux (may be NULL): aux[c * aux_stride + b] describes token c's block b; without it the kernels form the same
 * values from the blocks per call. */
typedef void octet__gemv8_kernel(int64_t n, float *s, const void *w, size_t w_stride, const void *pf, const void *a,
                                 size_t a_stride, int nc, const octet__q8_aux *aux, size_t aux_stride);
typedef octet__gemv8_kernel *octet__gemv8_fn;
/* The set in use's GEMV for the type; NULL when it has none (callers use vec_dot per row). */
octet__gemv8_fn octet__gemv8(int type);
octet__gemv8_kernel octet__gemv8_q4_0_q8_0_avx2;
octet__gemv8_kernel octet__gemv8_q8_0_q8_0_avx2;
/* Q4_0 is with these (src/kernels/avx2/gemm_avx2.c): Q5_0 (aux as for Q4_0), Q4_1 and Q5_1 (x Q8_1, aux unused) */
octet__gemv8_kernel octet__gemv8_q5_0_q8_0_avx2;
octet__gemv8_kernel octet__gemv8_q4_1_q8_1_avx2;
octet__gemv8_kernel octet__gemv8_q5_1_q8_1_avx2;
/* F32 rows x F32 activations (aux unused): equal bit for bit to octet__dot_f32_f32_avx2, the SIMD table's dot
 * (the portable reference dot accumulates in double, so there is no reference twin to match). */
octet__gemv8_kernel octet__gemv8_f32_f32_avx2;
octet__gemv8_kernel octet__gemv8_f16_f32_avx2;
octet__gemv8_kernel octet__gemv8_bf16_f32_avx2;

/* ---- row panels (prompt batches) ----------------------------------------------------------------------------
 * pack() rewrites 8 weight rows of n elements (row r at w + r * w_stride) into a panel: codes unpacked to bytes
 * with the 8 rows in the lanes of each vector, scales converted to float (pf as for the GEMV). gemm() then multiplies the panel with
 * nc >= 1 activation rows (token c at a + c * a_stride, in the type's vec_dot_type):
 *   s[c * s_stride + r] = dot(row r, token c)   for r < 8, c < nc,
 * equal bit for bit to the reference dot. A panel is packed once per 8 rows and reused for every token of the
 * batch, so unpacking is amortized and the inner loop is multiply-adds on bytes. */
#define OCTET__PANEL_ROWS 8
typedef size_t octet__panel_bytes_kernel(int64_t n);
typedef void octet__pack_kernel(int64_t n, void *panel, const void *w, size_t w_stride, const void *pf);
typedef void octet__panel_gemm_kernel(int64_t n, float *s, size_t s_stride, const void *panel, const void *a,
                                      size_t a_stride, int nc, const octet__q8_aux *aux, size_t aux_stride);
typedef struct octet__panel_kernels {
    octet__panel_bytes_kernel *bytes; /* panel size for rows of n elements (n a multiple of the block size) */
    octet__pack_kernel *pack;
    /* aux as for the GEMV (may be NULL; Q4_0, Q5_0 and Q8_0 use it, the Q8_1 and Q8_K types ignore it) */
    octet__panel_gemm_kernel *gemm;
} octet__panel_kernels;
/* The set in use's panel kernels for the type, or NULL. Panels are 32-byte aligned when the buffer is. */
const octet__panel_kernels *octet__panel(int type);

/* Q8_0 (x Q8_0): src/kernels/avx2/gemm_avx2.c */
octet__panel_bytes_kernel octet__panel_bytes_q8_0_avx2;
octet__pack_kernel octet__pack_q8_0_avx2;
octet__panel_gemm_kernel octet__panel_gemm_q8_0_avx2;
/* Q4_0, Q5_0 (x Q8_0), Q4_1, Q5_1 (x Q8_1): src/kernels/avx2/gemm_avx2.c (Q5_0 panels have Q4_0's size, Q5_1
 * panels Q4_1's) */
octet__panel_bytes_kernel octet__panel_bytes_q4_0_avx2;
octet__panel_bytes_kernel octet__panel_bytes_q4_1_avx2;
octet__pack_kernel octet__pack_q4_0_avx2;
octet__pack_kernel octet__pack_q5_0_avx2;
octet__pack_kernel octet__pack_q4_1_avx2;
octet__pack_kernel octet__pack_q5_1_avx2;
octet__panel_gemm_kernel octet__panel_gemm_q4_0_avx2;
octet__panel_gemm_kernel octet__panel_gemm_q5_0_avx2;
octet__panel_gemm_kernel octet__panel_gemm_q4_1_avx2;
octet__panel_gemm_kernel octet__panel_gemm_q5_1_avx2;
/* F32, F16, BF16 (x F32): src/kernels/avx2/float_avx2.c; the panel holds the 8 rows as F32 */
octet__panel_bytes_kernel octet__panel_bytes_float_avx2;
octet__pack_kernel octet__pack_f32_avx2;
octet__pack_kernel octet__pack_f16_avx2;
octet__pack_kernel octet__pack_bf16_avx2;
octet__panel_gemm_kernel octet__panel_gemm_float_avx2;
/* Q4_K, Q5_K, Q6_K (x Q8_K): src/kernels/avx2/kgemm_avx2.c (Q5_K panels have Q4_K's size) */
octet__panel_bytes_kernel octet__panel_bytes_q4_K_avx2;
octet__panel_bytes_kernel octet__panel_bytes_q6_K_avx2;
octet__pack_kernel octet__pack_q4_K_avx2;
octet__pack_kernel octet__pack_q5_K_avx2;
octet__pack_kernel octet__pack_q6_K_avx2;
octet__panel_gemm_kernel octet__panel_gemm_q4_K_avx2;
octet__panel_gemm_kernel octet__panel_gemm_q5_K_avx2;
octet__panel_gemm_kernel octet__panel_gemm_q6_K_avx2;

#endif
