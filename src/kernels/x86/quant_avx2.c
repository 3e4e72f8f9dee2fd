/*
 * quant_avx2.c - AVX2+FMA+F16C twins for the 32-element block types: dots of Q4_0/Q5_0/Q8_0 with Q8_0 and of
 * Q4_1/Q5_1 with Q8_1, the Q8_0/Q8_1 activation quantizers, and Q4_0/Q8_0 dequantization.
 * Compiled with -mavx2 -mfma -mf16c; reached only through the SIMD table (octet__use_simd()).
 *
 * Integer technique: products of codes go through _mm256_maddubs_epi16 (unsigned byte x signed byte, adjacent
 * pairs summed to int16) and _mm256_madd_epi16 with ones (to int32). When both sides are signed, the weight's
 * sign is moved onto the activation (|w| * sign(w)*a, _mm256_sign_epi8), exact because activation codes are in
 * [-127, 127] (kernels_impl.h). No int16 sum can saturate: |pair| <= 2*128*127 < 32767. Per block the 8 int32
 * lanes are exact; they are converted to float and multiplied by the block's scale with FMA into 8 float
 * accumulators, so only the float combination differs from the reference (bounded in tests/kernels/).
 *
 * The quantizers are bit-identical to the reference ones: same amax, same float d and id, the same product
 * x*id, and roundf (half away from zero) reproduced exactly as trunc(v) + (|v - trunc(v)| >= 0.5 ? sign : 0).
 */
#include "kernels/kernels_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>

#include "kernels/x86/avx2_util.h"

#define h2f octet__h2f
#define hsum8 octet__hsum8
#define hsum8i octet__hsum8i
#define unpack_nibbles octet__unpack_nibbles
static inline uint16_t f2h(float f) { return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT); }

/* The 32 bits of qh (little-endian) -> 32 bytes, 0xff where bit k is set. */
static inline __m256i bits_to_bytes(const uint8_t qh[4]) {
    uint32_t v;
    memcpy(&v, qh, 4);
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)v),
                                               _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2,
                                                                2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201ll);
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

/* sum of u[k]*s[k] over groups of 4 bytes -> 8 int32; u unsigned (<= 128), s signed */
static inline __m256i dot_u8s8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
#define dot_s8s8 octet__dot_s8s8 /* the same for two signed operands (avx2_util.h) */

/* ---- dots with Q8_0 (Q8_0 and Q4_0 weights: panel_avx2.c) ------------------------------------------------ */
void octet__dot_q5_0_q8_0_avx2(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK5_0;
    const __m256i hi = _mm256_set1_epi8((char)0xf0);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        octet__prefetch_ahead(x + i, sizeof x[i]);
        /* code - 16 = nibble when the 5th bit is set, nibble | 0xf0 (= nibble - 16 as int8) when it is not */
        const __m256i q = _mm256_or_si256(unpack_nibbles(x[i].qs), _mm256_andnot_si256(bits_to_bytes(x[i].qh), hi));
        const __m256i p = dot_s8s8(q, _mm256_loadu_si256((const __m256i *)y[i].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d)), _mm256_cvtepi32_ps(p), acc);
    }
    *s = hsum8(acc);
}

/* ---- dots with Q8_1 ------------------------------------------------------------------------------------- */
void octet__dot_q4_1_q8_1_avx2(int64_t n, float *s, const void *w, const void *a) {
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    const int64_t nb = n / QK4_1;
    __m256 acc = _mm256_setzero_ps();
    float summ = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        octet__prefetch_ahead(x + i, sizeof x[i]);
        const __m256i p = dot_u8s8(unpack_nibbles(x[i].qs), _mm256_loadu_si256((const __m256i *)y[i].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d)), _mm256_cvtepi32_ps(p), acc);
        summ += h2f(x[i].m) * h2f(y[i].s);
    }
    *s = hsum8(acc) + summ;
}

void octet__dot_q5_1_q8_1_avx2(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_1 *x = w;
    const block_q8_1 *y = a;
    const int64_t nb = n / QK5_1;
    const __m256i b4 = _mm256_set1_epi8(0x10);
    __m256 acc = _mm256_setzero_ps();
    float summ = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        octet__prefetch_ahead(x + i, sizeof x[i]);
        const __m256i q = _mm256_or_si256(unpack_nibbles(x[i].qs), _mm256_and_si256(bits_to_bytes(x[i].qh), b4));
        const __m256i p = dot_u8s8(q, _mm256_loadu_si256((const __m256i *)y[i].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d)), _mm256_cvtepi32_ps(p), acc);
        summ += h2f(x[i].m) * h2f(y[i].s);
    }
    *s = hsum8(acc) + summ;
}

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
#endif
