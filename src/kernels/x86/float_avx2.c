/*
 * float_avx2.c - AVX2+FMA+F16C twins of the float-type kernels (F32, F16, BF16 rows) and the float helpers.
 * Compiled with -mavx2 -mfma -mf16c; reached only through the SIMD table (octet__use_simd()).
 *
 * Dots keep 4 x 8 float accumulators (32 independent FMA chains), then reduce; they differ from the reference
 * (double accumulation) only by float rounding, bounded in tests/kernels/. axpy and scale do the same
 * multiply-then-add in float as the reference (no FMA), so they are bit-identical to it.
 */
#include "kernels/kernels_impl.h"
#include "kernels/gemm.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>

#include "core/core.h"

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256 load_f16x8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline __m256 load_bf16x8(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

void octet__to_float_f32_avx2(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }

void octet__to_float_f16_avx2(const void *src, float *dst, int64_t n) {
    const uint16_t *x = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16x8(x + i));
    for (; i < n; i++) dst[i] = octet__fp16_to_fp32(x[i]);
}

void octet__to_float_bf16_avx2(const void *src, float *dst, int64_t n) {
    const uint16_t *x = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_bf16x8(x + i));
    for (; i < n; i++) dst[i] = octet__bf16_to_fp32(x[i]);
}

/* One dot body for the three weight types; LOAD turns 8 weights at p into floats. */
#define DOT_BODY(LOAD, SCALAR)                                                                                   \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),                   \
           acc3 = _mm256_setzero_ps();                                                                           \
    int64_t i = 0;                                                                                               \
    for (; i + 32 <= n; i += 32) {                                                                               \
        acc0 = _mm256_fmadd_ps(LOAD(x + i), _mm256_loadu_ps(y + i), acc0);                                       \
        acc1 = _mm256_fmadd_ps(LOAD(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);                               \
        acc2 = _mm256_fmadd_ps(LOAD(x + i + 16), _mm256_loadu_ps(y + i + 16), acc2);                             \
        acc3 = _mm256_fmadd_ps(LOAD(x + i + 24), _mm256_loadu_ps(y + i + 24), acc3);                             \
    }                                                                                                            \
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(LOAD(x + i), _mm256_loadu_ps(y + i), acc0);                \
    float sum = hsum8(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));                      \
    for (; i < n; i++) sum += SCALAR(x[i]) * y[i];

static inline float id_f32(float v) { return v; }

void octet__dot_f32_f32_avx2(int64_t n, float *s, const void *w, const void *a) {
    const float *x = w, *y = a;
    DOT_BODY(_mm256_loadu_ps, id_f32)
    *s = sum;
}

/* Two tokens against one F32 weight row: each token's arithmetic is exactly DOT_BODY's (same four accumulator
 * chains, same FMAs in the same order, same reduction and scalar tail), only the weight loads are shared. */
static void dot2_f32(int64_t n, const float *x, const float *y0, const float *y1, float *s0, float *s1) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256 w0 = _mm256_loadu_ps(x + i), w1 = _mm256_loadu_ps(x + i + 8), w2 = _mm256_loadu_ps(x + i + 16),
                     w3 = _mm256_loadu_ps(x + i + 24);
        a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(y0 + i), a0);
        a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(y0 + i + 8), a1);
        a2 = _mm256_fmadd_ps(w2, _mm256_loadu_ps(y0 + i + 16), a2);
        a3 = _mm256_fmadd_ps(w3, _mm256_loadu_ps(y0 + i + 24), a3);
        b0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(y1 + i), b0);
        b1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(y1 + i + 8), b1);
        b2 = _mm256_fmadd_ps(w2, _mm256_loadu_ps(y1 + i + 16), b2);
        b3 = _mm256_fmadd_ps(w3, _mm256_loadu_ps(y1 + i + 24), b3);
    }
    for (; i + 8 <= n; i += 8) {
        const __m256 w0 = _mm256_loadu_ps(x + i);
        a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(y0 + i), a0);
        b0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(y1 + i), b0);
    }
    float sa = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    float sb = hsum8(_mm256_add_ps(_mm256_add_ps(b0, b1), _mm256_add_ps(b2, b3)));
    for (; i < n; i++) {
        sa += x[i] * y0[i];
        sb += x[i] * y1[i];
    }
    *s0 = sa;
    *s1 = sb;
}

void octet__gemm_f32_f32_avx2(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc) {
    const float *x = w;
    const uint8_t *ab = a;
    int c = 0;
    for (; c + 2 <= nc; c += 2)
        dot2_f32(n, x, (const float *)(ab + (size_t)c * a_stride), (const float *)(ab + (size_t)(c + 1) * a_stride),
                 &s[c], &s[c + 1]);
    if (c < nc) octet__dot_f32_f32_avx2(n, &s[c], w, ab + (size_t)c * a_stride);
}

void octet__dot_f16_f32_avx2(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w;
    const float *y = a;
    DOT_BODY(load_f16x8, octet__fp16_to_fp32)
    *s = sum;
}

void octet__dot_bf16_f32_avx2(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w;
    const float *y = a;
    DOT_BODY(load_bf16x8, octet__bf16_to_fp32)
    *s = sum;
}

float octet__fdot_f32_avx2(const float *x, const float *y, int64_t n) {
    DOT_BODY(_mm256_loadu_ps, id_f32)
    return sum;
}

void octet__faxpy_f32_avx2(float *y, float a, const float *x, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, _mm256_loadu_ps(x + i))));
    for (; i < n; i++) y[i] += a * x[i];
}

void octet__fscale_f32_avx2(float *y, float a, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), va));
    for (; i < n; i++) y[i] *= a;
}
#endif
