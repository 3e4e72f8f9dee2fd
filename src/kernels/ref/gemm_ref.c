/*
 * gemm_ref.c - the portable F32 tile and the dispatch of the multi-row / multi-token kernels (gemm.h).
 *
 * The reference F32 tile is, by definition, the reference dot applied to each token. The quantized types have no
 * portable GEMV or panel kernels: their specification is the reference dot itself (callers then use vec_dot per
 * row and token), and the AVX2 kernels returned here are tested to equal it bit for bit.
 */
#include "kernels/gemm.h"

#include "core/core.h"
#include "kernels/kernels_impl.h"

void octet__gemm_f32_f32_ref(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc) {
    for (int c = 0; c < nc; c++) octet__dot_f32_f32_ref(n, &s[c], w, (const uint8_t *)a + (size_t)c * a_stride);
}

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_X86 1
#endif

octet__gemm_fn octet__gemm(int type) {
#ifdef HAVE_X86
    if (octet__use_simd() && octet__kernels_simd()) {
        if (type == OCTET_TYPE_F32) return octet__gemm_f32_f32_avx2;
        if (type == OCTET_TYPE_F16) return octet__gemm_f16_f32_avx2;
        if (type == OCTET_TYPE_BF16) return octet__gemm_bf16_f32_avx2;
        if (type == OCTET_TYPE_Q5_K) return octet__gemm_q5_K_avx2;
        if (type == OCTET_TYPE_Q6_K) return octet__gemm_q6_K_avx2;
        return NULL;
    }
#endif
    return type == OCTET_TYPE_F32 ? octet__gemm_f32_f32_ref : NULL;
}

octet__gemv8_fn octet__gemv8(int type) {
#ifdef HAVE_X86
    if (octet__use_simd() && octet__kernels_simd()) {
        if (type == OCTET_TYPE_Q4_0) return octet__gemv8_q4_0_q8_0_avx2;
        if (type == OCTET_TYPE_Q8_0) return octet__gemv8_q8_0_q8_0_avx2;
        if (type == OCTET_TYPE_Q5_0) return octet__gemv8_q5_0_q8_0_avx2;
        if (type == OCTET_TYPE_Q4_1) return octet__gemv8_q4_1_q8_1_avx2;
        if (type == OCTET_TYPE_Q5_1) return octet__gemv8_q5_1_q8_1_avx2;
        if (type == OCTET_TYPE_F32) return octet__gemv8_f32_f32_avx2;
        if (type == OCTET_TYPE_F16) return octet__gemv8_f16_f32_avx2;
        if (type == OCTET_TYPE_BF16) return octet__gemv8_bf16_f32_avx2;
    }
#endif
    (void)type;
    return NULL;
}

#ifdef HAVE_X86
/* name, panel size, pack, product */
#define PANEL(NAME, BYTES, PACK, GEMM) static const octet__panel_kernels g_panel_##NAME = {BYTES, PACK, GEMM};
PANEL(q4_0, octet__panel_bytes_q4_0, octet__pack_q4_0, octet__panel_gemm_q4_0_avx2)
PANEL(q8_0, octet__panel_bytes_q8_0, octet__pack_q8_0, octet__panel_gemm_q8_0_avx2)
PANEL(q5_0, octet__panel_bytes_q4_0, octet__pack_q5_0, octet__panel_gemm_q5_0_avx2)
PANEL(q4_1, octet__panel_bytes_q4_1, octet__pack_q4_1, octet__panel_gemm_q4_1_avx2)
PANEL(q5_1, octet__panel_bytes_q4_1, octet__pack_q5_1, octet__panel_gemm_q5_1_avx2)
PANEL(f32, octet__panel_bytes_float, octet__pack_f32, octet__panel_gemm_float_avx2)
PANEL(f16, octet__panel_bytes_float, octet__pack_f16, octet__panel_gemm_float_avx2)
PANEL(bf16, octet__panel_bytes_float, octet__pack_bf16, octet__panel_gemm_float_avx2)
PANEL(q4_K, octet__panel_bytes_q4_K, octet__pack_q4_K, octet__panel_gemm_q4_K_avx2)
PANEL(q5_K, octet__panel_bytes_q4_K, octet__pack_q5_K, octet__panel_gemm_q5_K_avx2)
PANEL(q6_K, octet__panel_bytes_q6_K, octet__pack_q6_K, octet__panel_gemm_q6_K_avx2)
#undef PANEL
#endif

const octet__panel_kernels *octet__panel(int type) {
#ifdef HAVE_X86
    if (octet__use_simd() && octet__kernels_simd()) {
        switch (type) {
        case OCTET_TYPE_F32: return &g_panel_f32;
        case OCTET_TYPE_F16: return &g_panel_f16;
        case OCTET_TYPE_BF16: return &g_panel_bf16;
        case OCTET_TYPE_Q4_0: return &g_panel_q4_0;
        case OCTET_TYPE_Q8_0: return &g_panel_q8_0;
        case OCTET_TYPE_Q5_0: return &g_panel_q5_0;
        case OCTET_TYPE_Q4_1: return &g_panel_q4_1;
        case OCTET_TYPE_Q5_1: return &g_panel_q5_1;
        case OCTET_TYPE_Q4_K: return &g_panel_q4_K;
        case OCTET_TYPE_Q5_K: return &g_panel_q5_K;
        case OCTET_TYPE_Q6_K: return &g_panel_q6_K;
        default: break;
        }
    }
#endif
    (void)type;
    return NULL;
}
