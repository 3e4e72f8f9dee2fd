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

/* The AVX2 kernels by weight type (designated initializers: absent types are NULL). */
#ifdef HAVE_X86
static octet__gemm_fn const g_gemm[OCTET_TYPE_COUNT] = {
    [OCTET_TYPE_F32] = octet__gemm_f32_f32_avx2, [OCTET_TYPE_F16] = octet__gemm_f16_f32_avx2,
    [OCTET_TYPE_BF16] = octet__gemm_bf16_f32_avx2, [OCTET_TYPE_Q5_K] = octet__gemm_q5_K_avx2,
    [OCTET_TYPE_Q6_K] = octet__gemm_q6_K_avx2,
};
static octet__gemv8_fn const g_gemv8[OCTET_TYPE_COUNT] = {
    [OCTET_TYPE_Q4_0] = octet__gemv8_q4_0_q8_0_avx2, [OCTET_TYPE_Q8_0] = octet__gemv8_q8_0_q8_0_avx2,
    [OCTET_TYPE_Q5_0] = octet__gemv8_q5_0_q8_0_avx2, [OCTET_TYPE_Q4_1] = octet__gemv8_q4_1_q8_1_avx2,
    [OCTET_TYPE_Q5_1] = octet__gemv8_q5_1_q8_1_avx2, [OCTET_TYPE_F32] = octet__gemv8_f32_f32_avx2,
    [OCTET_TYPE_F16] = octet__gemv8_f16_f32_avx2, [OCTET_TYPE_BF16] = octet__gemv8_bf16_f32_avx2,
};
/* panel size, pack, product */
#define PANEL(T, BYTES, PACK, GEMM) [OCTET_TYPE_##T] = {BYTES, PACK, GEMM}
static const octet__panel_kernels g_panel[OCTET_TYPE_COUNT] = {
    PANEL(Q4_0, octet__panel_bytes_q4_0, octet__pack_q4_0, octet__panel_gemm_q4_0_avx2),
    PANEL(Q8_0, octet__panel_bytes_q8_0, octet__pack_q8_0, octet__panel_gemm_q8_0_avx2),
    PANEL(Q5_0, octet__panel_bytes_q4_0, octet__pack_q5_0, octet__panel_gemm_q5_0_avx2),
    PANEL(Q4_1, octet__panel_bytes_q4_1, octet__pack_q4_1, octet__panel_gemm_q4_1_avx2),
    PANEL(Q5_1, octet__panel_bytes_q4_1, octet__pack_q5_1, octet__panel_gemm_q5_1_avx2),
    PANEL(F32, octet__panel_bytes_float, octet__pack_f32, octet__panel_gemm_float_avx2),
    PANEL(F16, octet__panel_bytes_float, octet__pack_f16, octet__panel_gemm_float_avx2),
    PANEL(BF16, octet__panel_bytes_float, octet__pack_bf16, octet__panel_gemm_float_avx2),
    PANEL(Q4_K, octet__panel_bytes_q4_K, octet__pack_q4_K, octet__panel_gemm_q4_K_avx2),
    PANEL(Q5_K, octet__panel_bytes_q4_K, octet__pack_q5_K, octet__panel_gemm_q5_K_avx2),
    PANEL(Q6_K, octet__panel_bytes_q6_K, octet__pack_q6_K, octet__panel_gemm_q6_K_avx2),
};
#undef PANEL

/* the AVX2 tables apply: SIMD on and the type within the tables */
static int simd_type(int type) {
    return octet__use_simd() && octet__kernels_simd() && type >= 0 && type < OCTET_TYPE_COUNT;
}
#endif

octet__gemm_fn octet__gemm(int type) {
#ifdef HAVE_X86
    if (octet__use_simd() && octet__kernels_simd()) return simd_type(type) ? g_gemm[type] : NULL;
#endif
    return type == OCTET_TYPE_F32 ? octet__gemm_f32_f32_ref : NULL;
}

octet__gemv8_fn octet__gemv8(int type) {
#ifdef HAVE_X86
    if (simd_type(type)) return g_gemv8[type];
#endif
    (void)type;
    return NULL;
}

const octet__panel_kernels *octet__panel(int type) {
#ifdef HAVE_X86
    if (simd_type(type) && g_panel[type].pack) return &g_panel[type];
#endif
    (void)type;
    return NULL;
}
