/*
 * gemm.h - multi-token dot kernels ("GEMM tiles") for prompt batches: one weight row against up to
 * OCTET__GEMM_NC activation rows per call, so the weight block is loaded and unpacked once and reused across the
 * tokens.
 *
 * Contract: s[c] = dot(w, a + c * a_stride) for c < nc (1 <= nc <= OCTET__GEMM_NC), n a multiple of the block
 * size; a holds activations in the weight type's vec_dot_type (Q8_0 for Q4_0/Q8_0, Q8_K for Q4_K/Q6_K).
 * Each s[c] is computed with exactly the arithmetic of the same table's vec_dot (AVX2 tile == AVX2 dot, ref tile
 * == ref dot): every float operation on every element is the same, in the same order, only the weight unpacking
 * is shared. So a prompt evaluated as a batch gives bit-identical results to one token at a time, and results do
 * not depend on how rows and tokens are split across threads (tests/kernels/test_gemm.c checks both).
 */
#ifndef OCTET_GEMM_H
#define OCTET_GEMM_H

#include <stddef.h>
#include <stdint.h>

#define OCTET__GEMM_NC 4

typedef void (*octet__gemm_fn)(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc);

/* Multi-row GEMV for one token: s[r] = dot(w + r * w_stride, a) for r < 4, with exactly the arithmetic of the
 * same table's vec_dot (tests/kernels/test_gemm.c checks it bit for bit). */
typedef void (*octet__gemv4_fn)(int64_t n, float *s, const void *w, size_t w_stride, const void *a);
/* The 4-row GEMV matching octet__kernels()[type].vec_dot, or NULL (callers use vec_dot per row). */
octet__gemv4_fn octet__gemv4(int type);
void octet__gemv4_q4_0_q8_0_ref(int64_t n, float *s, const void *w, size_t w_stride, const void *a);
void octet__gemv4_q4_0_q8_0_avx2(int64_t n, float *s, const void *w, size_t w_stride, const void *a);

/* The tile kernel matching octet__kernels()[type].vec_dot (SIMD or reference, following octet__use_simd()),
 * or NULL when the type has none (callers then use vec_dot per token). */
octet__gemm_fn octet__gemm(int type);

void octet__gemm_f32_f32_ref(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc);
void octet__gemm_f32_f32_avx2(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc);
void octet__gemm_q8_0_q8_0_ref(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc);
void octet__gemm_q4_0_q8_0_ref(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc);
void octet__gemm_q4_K_q8_K_ref(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc);
void octet__gemm_q6_K_q8_K_ref(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc);
void octet__gemm_q8_0_q8_0_avx2(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc);
void octet__gemm_q4_0_q8_0_avx2(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc);
void octet__gemm_q4_K_q8_K_avx2(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc);
void octet__gemm_q6_K_q8_K_avx2(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc);

#endif
