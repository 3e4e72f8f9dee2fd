/*
 * int_norm_avx2.c - AVX2 twins of the integer-only mode's RMSNorm and activation quantizer
 * (octet__int_rmsnorm, octet__int_quant_row in src/model/int/intmath.c), integer SIMD only. Same output bits for
 * every input (tests/kernels/test_int_norm.c). The scalar middle of the RMSNorm (pre-shift, isqrt, reciprocal) is
 * the reference's own functions; the passes over the row are vectorized:
 *
 * max |x|: _mm256_abs_epi32 gives |INT32_MIN| = 2^31 as the unsigned 0x80000000, so unsigned maxima are exact.
 * Sum of squares: round(|x| 2^-sh) in unsigned 32-bit lanes (|x| + 2^(sh-1) <= 2^31 + 2^16: sh <= 17 for any
 *   int n, intmath.h), squared by _mm256_mul_epu32 (even and odd lanes, <= 2^62 each) and summed in uint64
 *   lanes: the reference's uint64 sum, and wrapping addition would not depend on the order anyway.
 * Final scaling, on magnitudes with the sign put back at the end (shift_round rounds half away from zero, i.e.
 *   on the magnitude, and sat32 is symmetric): |u| = (|x| inv + 2^(s1-1)) >> s1 with |x| inv <= 2^31 * 2^31 by
 *   _mm256_mul_epu32; then |u g| by a second 32 x 32 -> 64 product, which needs |u| < 2^32 (|g| <= 2^31 always).
 *   u is largest where |x| is, so the row takes this path when round(max|x| inv 2^-s1) < 2^32. |x| / rms <=
 *   sqrt(n), and the floor of the mean square can make the rms up to sqrt(2) smaller (mean square in [1, 2) units
 *   of 2^(2 sh - 32)), so |u| <= ~sqrt(2 n) 2^24: every row of up to about 2^15 elements (every model width) takes
 *   it. Then |u g| < 2^63, the rounding add stays below 2^64 and the clamp compares values below 2^63 as
 *   signed. Rows beyond it, and shifts s2 outside [0, 62] (g_shift
 *   outside [-8, 54]), run the reference's scalar loop (octet__int_rms_scale).
 * Tails (n not a multiple of 8) run the reference's scalar formulas on the last elements.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/int_kernels.h"
#include "model/int/intmath.h"

static inline __m256i load8(const int32_t *p) { return _mm256_loadu_si256((const __m256i *)(const void *)p); }

static inline uint32_t hmax8u(__m256i v) {
    __m128i m = _mm_max_epu32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, 0x4e));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, 0xb1));
    return (uint32_t)_mm_cvtsi128_si32(m);
}

static inline uint64_t abs64(int32_t v) { return v < 0 ? (uint64_t)(-(int64_t)v) : (uint64_t)v; }

uint64_t octet__int_maxabs32_avx2(const int32_t *x, int n) {
    __m256i m0 = _mm256_setzero_si256(), m1 = _mm256_setzero_si256();
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        m0 = _mm256_max_epu32(m0, _mm256_abs_epi32(load8(x + j)));
        m1 = _mm256_max_epu32(m1, _mm256_abs_epi32(load8(x + j + 8)));
    }
    if (j + 8 <= n) {
        m0 = _mm256_max_epu32(m0, _mm256_abs_epi32(load8(x + j)));
        j += 8;
    }
    uint64_t mx = hmax8u(_mm256_max_epu32(m0, m1));
    for (; j < n; j++)
        if (abs64(x[j]) > mx) mx = abs64(x[j]);
    return mx;
}

/* sum_j round(x_j 2^-sh)^2 in uint64 (0 <= sh <= 17) */
static uint64_t sumsq(const int32_t *x, int n, int sh) {
    const __m256i half = _mm256_set1_epi32(sh > 0 ? 1 << (sh - 1) : 0);
    const __m128i vs = _mm_cvtsi32_si128(sh);
    __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256i m = _mm256_srl_epi32(_mm256_add_epi32(_mm256_abs_epi32(load8(x + j)), half), vs);
        const __m256i mo = _mm256_srli_epi64(m, 32);
        a0 = _mm256_add_epi64(a0, _mm256_mul_epu32(m, m));
        a1 = _mm256_add_epi64(a1, _mm256_mul_epu32(mo, mo));
    }
    uint64_t l[4];
    _mm256_storeu_si256((__m256i *)(void *)l, _mm256_add_epi64(a0, a1));
    uint64_t ss = l[0] + l[1] + l[2] + l[3];
    for (; j < n; j++) {
        const int64_t v = octet__int_shift_round(x[j], sh);
        ss += (uint64_t)(v * v);
    }
    return ss;
}

/* out = sat32(round(round(x inv 2^-s1) g 2^-s2)) for 8 elements; |u| < 2^32, 1 <= s1 <= 62, 0 <= s2 <= 62 */
static inline __m256i scale8(__m256i xv, __m256i gv, __m256i vinv, __m256i h1, __m128i c1, __m256i h2, __m128i c2,
                             __m256i lim) {
    const __m256i ax = _mm256_abs_epi32(xv), ag = _mm256_abs_epi32(gv);
    const __m256i ue = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epu32(ax, vinv), h1), c1);
    const __m256i uo = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(ax, 32), vinv), h1), c1);
    __m256i pe = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epu32(ue, ag), h2), c2);
    __m256i po = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epu32(uo, _mm256_srli_epi64(ag, 32)), h2), c2);
    pe = _mm256_blendv_epi8(pe, lim, _mm256_cmpgt_epi64(pe, lim)); /* sat32: magnitudes above 2^31 - 1 */
    po = _mm256_blendv_epi8(po, lim, _mm256_cmpgt_epi64(po, lim));
    const __m256i c = _mm256_or_si256(pe, _mm256_slli_epi64(po, 32)); /* lanes in order, each <= 2^31 - 1 */
    /* the sign of x g; | 1 keeps the sign operand nonzero (the magnitude is already 0 where x or g is) */
    return _mm256_sign_epi32(c, _mm256_or_si256(_mm256_xor_si256(xv, gv), _mm256_set1_epi32(1)));
}

void octet__int_rmsnorm_avx2(int32_t *out, const int32_t *x, const int32_t *g, int g_shift, int n, int64_t eps_q32) {
    const uint64_t mx = octet__int_maxabs32_avx2(x, n);
    const int sh = octet__int_rms_shift(mx, n);
    int s1;
    const int64_t inv = octet__int_rms_inv(sumsq(x, n, sh), sh, n, eps_q32, &s1);
    const int s2 = 24 + g_shift - OCTET_INT_FX;
    /* the largest |u| (mx * inv <= 2^62) */
    if (s1 < 1 || s1 > 62 || s2 < 0 || s2 > 62 || ((mx * (uint64_t)inv + ((uint64_t)1 << (s1 - 1))) >> s1) >> 32) {
        octet__int_rms_scale(out, x, g, n, inv, s1, s2);
        return;
    }
    const __m256i vinv = _mm256_set1_epi64x(inv), h1 = _mm256_set1_epi64x(INT64_C(1) << (s1 - 1));
    const __m256i h2 = _mm256_set1_epi64x(s2 > 0 ? INT64_C(1) << (s2 - 1) : 0);
    const __m256i lim = _mm256_set1_epi64x(INT32_MAX);
    const __m128i c1 = _mm_cvtsi32_si128(s1), c2 = _mm_cvtsi32_si128(s2);
    int j = 0;
    for (; j + 8 <= n; j += 8)
        _mm256_storeu_si256((__m256i *)(void *)(out + j), scale8(load8(x + j), load8(g + j), vinv, h1, c1, h2, c2, lim));
    if (j < n) octet__int_rms_scale(out + j, x + j, g + j, n - j, inv, s1, s2);
}

/* octet__int_quant_row with the row's and each block's max |x| by the kernel above; the rest as there. */
void octet__int_quant_row_avx2(const int32_t *x, int n, int8_t *q, int16_t *sc, int *sa_out, octet__int_codes_fn codes) {
    const uint64_t mx = octet__int_maxabs32_avx2(x, n);
    const int nb = n / 32;
    if (mx == 0) {
        memset(q, 0, (size_t)n);
        memset(sc, 0, (size_t)nb * sizeof *sc);
        *sa_out = 0;
        return;
    }
    const int sa = octet__int_bitlen(mx) - 14;
    *sa_out = sa;
    for (int b = 0; b < nb; b++) {
        const int32_t *xb = x + 32 * b;
        int8_t *qb = q + 32 * b;
        const __m256i m = _mm256_max_epu32(
            _mm256_max_epu32(_mm256_abs_epi32(load8(xb)), _mm256_abs_epi32(load8(xb + 8))),
            _mm256_max_epu32(_mm256_abs_epi32(load8(xb + 16)), _mm256_abs_epi32(load8(xb + 24))));
        const int64_t amax = (int64_t)hmax8u(m);
        const int64_t d = sa >= 0 ? (amax + (INT64_C(1) << sa) - 1) >> sa : amax * (INT64_C(1) << -sa); /* <= 2^14 */
        sc[b] = (int16_t)d;
        if (d == 0) {
            memset(qb, 0, 32);
            continue;
        }
        octet__int_quant_codes_k(xb, 32, d, sa, qb, codes);
    }
}
