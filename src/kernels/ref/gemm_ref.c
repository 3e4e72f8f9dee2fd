/*
 * gemm_ref.c - the portable F32 tile (gemm.h). The reference F32 tile is, by definition, the reference dot applied
 * to each token. The quantized types have no portable GEMV or panel kernels: their specification is the reference
 * dot itself (the ref set leaves those entries NULL and callers use vec_dot per row and token), and every set's
 * multi-row kernels are tested to equal it bit for bit.
 */
#include "kernels/gemm.h"

#include "kernels/kernels_impl.h"

void octet__gemm_f32_f32_ref(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc) {
    for (int c = 0; c < nc; c++) octet__dot_f32_f32_ref(n, &s[c], w, (const uint8_t *)a + (size_t)c * a_stride);
}
