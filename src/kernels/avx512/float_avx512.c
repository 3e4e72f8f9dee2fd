/*
 * float_avx512.c - the avx512 set's attention helpers (the twins of ref/float_ref.c's fscores and fwsum), equal bit
 * for bit to the reference (the contract in ../kernels.h: each result exactly what the per-key calls give).
 *
 * scores: out[j] = fdot(q, k_j, hd) * scale, where the reference dot keeps 4 x 8 fused multiply-add chains,
 * acc[g][l] over elements i + 8g + l (i in steps of 32), then t[l] = (acc[0][l] + acc[1][l]) + (acc[2][l] +
 * acc[3][l]) and sum = ((t0 + t4) + (t2 + t6)) + ((t1 + t5) + (t3 + t7)). Here one 512-bit vector holds 16
 * consecutive elements of one key, i.e. the chains g = 0, 1 (or 2, 3) of that key side by side, so each FMA
 * (VFMADD231PS: one rounding, as fmaf) advances 16 chains and a key costs hd / 16 loads and FMAs. Two keys are
 * reduced together: VSHUFF32X4 gathers [acc0 of key j | acc0 of key j+1] and [acc1 | acc1] (and 2, 3), one add
 * each, one more for t, then the three levels of the 8-lane sum within each 256-bit half by lane swaps (128-bit
 * halves, then 64-bit, then 32-bit pairs: the reference's order), and one multiply by scale. Head sizes that are
 * not a multiple of 32 (the reference's 8-element tail and scalar tail) and a last odd key go to the avx2 set's
 * kernel, which is the same arithmetic.
 *
 * wsum: out = 0, then out = out + (p[j] * inv) * v_j for j in order (separate multiply and add: this file is
 * compiled with -ffp-contract=off) - the avx2 kernel's loop on 16 lanes per register, the output kept in
 * registers for head sizes up to 128.
 */
#include <immintrin.h>

#include "kernels/kernels_impl.h"

void octet__fscores_f32_avx512(float *out, const float *q, const float *k, size_t stride, int64_t n_keys, int64_t hd,
                               float scale) {
    if (hd % 32 != 0 || hd > 256) {
        octet__fscores_f32_avx2(out, q, k, stride, n_keys, hd, scale);
        return;
    }
    const int nq = (int)(hd / 16);
    __m512 qv[16];
    for (int u = 0; u < nq; u++) qv[u] = _mm512_loadu_ps(q + 16 * u);
    const __m512 vs = _mm512_set1_ps(scale);
    int64_t j = 0;
    for (; j + 2 <= n_keys; j += 2) {
        const float *ka = k + (size_t)j * stride, *kb = ka + stride;
        __m512 a01 = _mm512_setzero_ps(), a23 = _mm512_setzero_ps();
        __m512 b01 = _mm512_setzero_ps(), b23 = _mm512_setzero_ps();
        for (int u = 0; u < nq; u += 2) { /* elements 16u..16u+15: chains g = 0, 1; 16u+16..: g = 2, 3 */
            a01 = _mm512_fmadd_ps(qv[u], _mm512_loadu_ps(ka + 16 * u), a01);
            a23 = _mm512_fmadd_ps(qv[u + 1], _mm512_loadu_ps(ka + 16 * u + 16), a23);
            b01 = _mm512_fmadd_ps(qv[u], _mm512_loadu_ps(kb + 16 * u), b01);
            b23 = _mm512_fmadd_ps(qv[u + 1], _mm512_loadu_ps(kb + 16 * u + 16), b23);
        }
        /* [acc_g of key j | acc_g of key j+1] for g = 0..3 (128-bit lanes 0,1 = g even, 2,3 = g odd) */
        const __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(a01, b01, _MM_SHUFFLE(1, 0, 1, 0)),
                                         _mm512_shuffle_f32x4(a01, b01, _MM_SHUFFLE(3, 2, 3, 2)));
        const __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(a23, b23, _MM_SHUFFLE(1, 0, 1, 0)),
                                         _mm512_shuffle_f32x4(a23, b23, _MM_SHUFFLE(3, 2, 3, 2)));
        __m512 t = _mm512_add_ps(s01, s23);
        t = _mm512_add_ps(t, _mm512_shuffle_f32x4(t, t, _MM_SHUFFLE(2, 3, 0, 1))); /* t_l + t_{l+4} */
        t = _mm512_add_ps(t, _mm512_permute_ps(t, _MM_SHUFFLE(1, 0, 3, 2)));       /* + the pair two lanes on */
        t = _mm512_add_ps(t, _mm512_permute_ps(t, _MM_SHUFFLE(2, 3, 0, 1)));       /* + the next lane */
        t = _mm512_mul_ps(t, vs);
        out[j] = _mm512_cvtss_f32(t);
        out[j + 1] = _mm_cvtss_f32(_mm512_extractf32x4_ps(t, 2));
    }
    if (j < n_keys) octet__fscores_f32_avx2(out + j, q, k + (size_t)j * stride, stride, n_keys - j, hd, scale);
}

void octet__fwsum_f32_avx512(float *out, const float *p, float inv, const float *v, size_t stride, int64_t n,
                             int64_t hd) {
    if (hd % 16 != 0 || hd > 128) {
        octet__fwsum_f32_avx2(out, p, inv, v, stride, n, hd);
        return;
    }
    __m512 o[8];
    const int nv = (int)(hd / 16);
    _Pragma("GCC unroll 8") for (int u = 0; u < 8; u++) o[u] = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j++) {
        const float *x = v + (size_t)j * stride;
        const __m512 va = _mm512_set1_ps(p[j] * inv);
        _Pragma("GCC unroll 8") for (int u = 0; u < 8; u++) if (u < nv) o[u] =
            _mm512_add_ps(o[u], _mm512_mul_ps(va, _mm512_loadu_ps(x + 16 * u)));
    }
    for (int u = 0; u < nv; u++) _mm512_storeu_ps(out + 16 * u, o[u]);
}
