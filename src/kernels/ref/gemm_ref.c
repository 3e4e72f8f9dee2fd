/*
 * gemm_ref.c - portable twins of the multi-token tile kernels (gemm.h) and the dispatch octet__gemm().
 *
 * The reference tile is, by definition, the reference dot applied to each token: it is the specification the
 * AVX2 tiles are tested against (and the AVX2 tiles must in turn equal the AVX2 dot bit for bit).
 */
#include "kernels/gemm.h"

#include "core/core.h"
#include "kernels/kernels_impl.h"

#define REF_TILE(name, dot)                                                                                       \
    void name(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc) {                     \
        for (int c = 0; c < nc; c++) dot(n, &s[c], w, (const uint8_t *)a + (size_t)c * a_stride);                \
    }
REF_TILE(octet__gemm_f32_f32_ref, octet__dot_f32_f32_ref)
REF_TILE(octet__gemm_q8_0_q8_0_ref, octet__dot_q8_0_q8_0_ref)
REF_TILE(octet__gemm_q4_0_q8_0_ref, octet__dot_q4_0_q8_0_ref)
REF_TILE(octet__gemm_q4_K_q8_K_ref, octet__dot_q4_K_q8_K_ref)
REF_TILE(octet__gemm_q6_K_q8_K_ref, octet__dot_q6_K_q8_K_ref)

octet__gemm_fn octet__gemm(int type) {
#if defined(__x86_64__) || defined(__i386__)
    const int simd = octet__use_simd();
#else
    const int simd = 0;
#define octet__gemm_f32_f32_avx2 octet__gemm_f32_f32_ref
#define octet__gemm_q8_0_q8_0_avx2 octet__gemm_q8_0_q8_0_ref
#define octet__gemm_q4_0_q8_0_avx2 octet__gemm_q4_0_q8_0_ref
#define octet__gemm_q4_K_q8_K_avx2 octet__gemm_q4_K_q8_K_ref
#define octet__gemm_q6_K_q8_K_avx2 octet__gemm_q6_K_q8_K_ref
#endif
    switch (type) {
    case OCTET_TYPE_F32: return simd ? octet__gemm_f32_f32_avx2 : octet__gemm_f32_f32_ref;
    case OCTET_TYPE_Q8_0: return simd ? octet__gemm_q8_0_q8_0_avx2 : octet__gemm_q8_0_q8_0_ref;
    case OCTET_TYPE_Q4_0: return simd ? octet__gemm_q4_0_q8_0_avx2 : octet__gemm_q4_0_q8_0_ref;
    case OCTET_TYPE_Q4_K: return simd ? octet__gemm_q4_K_q8_K_avx2 : octet__gemm_q4_K_q8_K_ref;
    case OCTET_TYPE_Q6_K: return simd ? octet__gemm_q6_K_q8_K_avx2 : octet__gemm_q6_K_q8_K_ref;
    default: return NULL;
    }
}

void octet__gemv4_q4_0_q8_0_ref(int64_t n, float *s, const void *w, size_t w_stride, const void *a) {
    for (int r = 0; r < 4; r++) octet__dot_q4_0_q8_0_ref(n, &s[r], (const uint8_t *)w + (size_t)r * w_stride, a);
}

octet__gemv4_fn octet__gemv4(int type) {
#if defined(__x86_64__) || defined(__i386__)
    if (type == OCTET_TYPE_Q4_0) return octet__use_simd() ? octet__gemv4_q4_0_q8_0_avx2 : octet__gemv4_q4_0_q8_0_ref;
#else
    if (type == OCTET_TYPE_Q4_0) return octet__gemv4_q4_0_q8_0_ref;
#endif
    return NULL;
}
