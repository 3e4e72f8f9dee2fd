/*
 * quant_avx2.c - AVX2+FMA+F16C twins for the 32-element block types: the Q8_0/Q8_1 activation quantizers and
 * Q4_0/Q8_0 dequantization (the dots and multi-row kernels: panel_avx2.c, panel5_avx2.c).
 * Compiled with -mavx2 -mfma -mf16c; reached only through the SIMD table (octet__use_simd()).
 *
 * The quantizers are bit-identical to the reference ones: same amax, same float d and id, the same product
 * x*id, and roundf (half away from zero) reproduced exactly as trunc(v) + (|v - trunc(v)| >= 0.5 ? sign : 0).
 */
#include "kernels/kernels_impl.h"

#include <immintrin.h>
#include <string.h>

#include "kernels/avx2/util_avx2.h"

#define h2f octet__h2f
#define hsum8 octet__hsum8
#define hsum8i octet__hsum8i
#define unpack_nibbles octet__unpack_nibbles
static inline uint16_t f2h(float f) { return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT); }

/* The dots of Q5_0, Q4_1 and Q5_1 are in panel5_avx2.c (exact, with their row panels); Q4_0/Q8_0 in
 * panel_avx2.c. */

/* ---- activation quantizers --------------------------------------------------------------------------------- */
/* roundf (half away from zero) of 8 floats of magnitude < 2^23, exactly */
static inline __m256 roundf8(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t)); /* exact */
    const __m256 one = _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ), _mm256_set1_ps(1.0f));
    return _mm256_add_ps(t, _mm256_or_ps(one, _mm256_and_ps(v, sign)));
}

/* Quantize one block of 32 floats like the reference Q8_0/Q8_1 quantizer. Returns the sum of the codes. */
static inline int quant32(const float *x, int8_t *qs, float *d_out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16),
           v3 = _mm256_loadu_ps(x + 24);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                             _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    *d_out = d;
    const __m256 vid = _mm256_set1_ps(id);
    const __m256i i0 = _mm256_cvtps_epi32(roundf8(_mm256_mul_ps(v0, vid)));
    const __m256i i1 = _mm256_cvtps_epi32(roundf8(_mm256_mul_ps(v1, vid)));
    const __m256i i2 = _mm256_cvtps_epi32(roundf8(_mm256_mul_ps(v2, vid)));
    const __m256i i3 = _mm256_cvtps_epi32(roundf8(_mm256_mul_ps(v3, vid)));
    const int sum = hsum8i(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
    /* packs interleave the 128-bit lanes; the final permute restores element order */
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    _mm256_storeu_si256((__m256i *)qs, _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    return sum;
}

void octet__from_float_q8_0_avx2(const float *src, void *dst, int64_t n) {
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        float d;
        quant32(src + i * QK8_0, y[i].qs, &d);
        y[i].d = f2h(d);
    }
}

void octet__from_float_q8_1_avx2(const float *src, void *dst, int64_t n) {
    block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        float d;
        const int sum = quant32(src + i * QK8_1, y[i].qs, &d);
        y[i].d = f2h(d);
        y[i].s = f2h((float)sum * d);
    }
}

/* ---- dequantization ---------------------------------------------------------------------------------------- */
static inline void store_i8x32(float *dst, __m256i q, float d) {
    const __m256 vd = _mm256_set1_ps(d);
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm256_storeu_ps(dst, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), vd));
    _mm256_storeu_ps(dst + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), vd));
    _mm256_storeu_ps(dst + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), vd));
    _mm256_storeu_ps(dst + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), vd));
}

void octet__to_float_q8_0_avx2(const void *src, float *dst, int64_t n) {
    const block_q8_0 *x = src;
    for (int64_t i = 0; i < n / QK8_0; i++)
        store_i8x32(dst + i * QK8_0, _mm256_loadu_si256((const __m256i *)x[i].qs), h2f(x[i].d));
}

void octet__to_float_q4_0_avx2(const void *src, float *dst, int64_t n) {
    const block_q4_0 *x = src;
    for (int64_t i = 0; i < n / QK4_0; i++)
        store_i8x32(dst + i * QK4_0, _mm256_sub_epi8(unpack_nibbles(x[i].qs), _mm256_set1_epi8(8)), h2f(x[i].d));
}
