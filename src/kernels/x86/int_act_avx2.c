/*
 * int_act_avx2.c - AVX2 twin of octet__int_swiglu_ref (src/model/int/intmath.c): SwiGLU of the integer-only mode,
 * 8 elements per step, integer SIMD only (no floating-point instruction, no float type). Equal to the reference
 * bit for bit for every pair of int32 inputs (tests/kernels/test_int_act.c). Per element the reference computes,
 * with LN2 = 726817, B = 1418723, A = 375914, C = 369367187 (intmath.c) and x = 16 g in Q20:
 *   e = exp_q30(-|x|):  0 if |x| >= 32 LN2; else z = floor(|x| / LN2), r = |x| - z LN2 in [0, LN2), t = B - r,
 *                       l = ((t^2 A + 2^29) >> 30) + C, e = (l + 2^(z-1)) >> z (e = l for z = 0)
 *   d = 2^30 + e,  Q = floor((2^60 + floor(d/2)) / d),  s = g >= 0 ? Q : 2^30 - Q
 *   out = sat32(shift_round(shift_round(g s, 30) u, 16))
 * Bounds, step by step (all checked by the test, the division for every d):
 *
 * exp. |g| is clamped to 2^21 before |x| = 16 |g| is formed: 2^21 * 16 = 2^25 > 32 LN2 = 23258144, and |g| >=
 * 1453634 (= 32 LN2 / 16) gives e = 0 with or without the clamp, so every step up to l fits 32 bits.
 *   z: z0 = ((|x| >> 9) * K) >> 26 with K = floor(2^35 / LN2) = 47274, (|x| >> 9) <= 2^16 and 2^16 K < 2^32 (an
 *   unsigned 32-bit product). z0 never overestimates (K <= 2^35 / LN2, |x| >> 9 <= |x| / 512) and underestimates
 *   |x| / LN2 by less than 511 / LN2 + 2^16 / 2^26 < 0.002, so z0 is floor(|x| / LN2) or one less; one correction
 *   (r >= LN2: z + 1, r - LN2) gives exactly the reference's z and r (its own reciprocal and correction also give
 *   the floor). In the cut-off region z reaches 46; its lanes are zeroed at the end.
 *   t in (B - LN2, B] < 2^21, t^2 < 2^41: t^2 A = (t^2 mod 2^32) A + ((t^2 >> 32) A) 2^32, both products
 *   unsigned 32 x 32 -> 64 (_mm256_mul_epu32, even and odd lanes apart) and the sum < 2^60.
 *   l <= ((B^2 A + 2^29) >> 30) + C = 2^30 + 292226 < 2^31, and l + 2^(z-1) < 2^32: the rounding shift runs in
 *   unsigned 32-bit lanes (_mm256_srlv_epi32; counts >= 32 give 0, only in the cut-off lanes).
 *   So e in [0, 2^30 + 292226] and d in [2^30, 2^31 + 292226] (above 2^31 only for |x| <= 288, i.e. |g| <= 18).
 *
 * division without a division instruction, for any d in [2^30, 2^31 + 2^20) (E = d - 2^30, i = E >> 20 <= 1024,
 * f = E mod 2^20), v = N / d with N = 2^60 + floor(d/2), Q = floor(v):
 *   table R[j] = round(2^40 / (1024 + j)) = round(2^60 / (2^30 + j 2^20)), j = 0..1025, every entry a constant
 *   expression of that exact integer formula (no run-time initialization); R[0] = 2^30, R[j] - R[j+1] < 2^20.
 *   y = R[i] - floor((R[i] - R[i+1]) f / 2^20): the chord of the rounded table. The chord of 2^60/d itself lies
 *   above the convex 2^60/d by at most 2^40 (sqrt(a+1) - sqrt(a))^2 / (a (a+1)) < 2^40 / (4 a^3) <= 256 (a =
 *   1024 + i >= 1024); the rounding of R moves the chord by <= 1/2, the floor adds [0, 1); and v - 2^60/d is in
 *   [1/2 - 1/(2d), 1/2]. So y - v in [-1, 257), and y0 = y - 257 satisfies 0 < v - y0 <= 258.
 *   Newton step: rem0 = N - y0 d (y0 d < 2^62: mul_epu32) in (0, 258 d] < 2^40, so rem0 >> 8 < 2^32, and
 *   c = ((rem0 >> 8) y0 + 2^51) >> 52 (product < 2^62) approximates rem0 / d = v - y0 <= 258 with
 *     |c - (v - y0)| <= 1/2 + 258 |y0 d / 2^60 - 1| + 2^8 y0 / 2^60 <= 1/2 + 258^2 * 2^-28.99 + 2^-22 < 1/2 + 2^-11
 *   (|y0 d / 2^60 - 1| <= 258 d / 2^60 since 2^60/d - 258 <= y0 <= v). So y1 = y0 + c is within 1/2 + 2^-11 of v:
 *   floor(v) is y1 or y1 - 1, and it is y1 - 1 exactly when rem1 = N - y1 d < 0 (|rem1| < 2^61, y1 d < 2^62).
 *   Q = y1 - (rem1 >> 63, logical). tests/kernels/test_int_act.c checks Q for every d of the domain.
 *
 * output. s <= 2^30 and |g| <= 2^31 (INT32_MIN's magnitude 2^31 is exact as an unsigned lane): |g| s + 2^29 <
 * 2^62, silu magnitude <= 2^31; times |u| <= 2^31: < 2^62, + 2^15, >> 16 < 2^46, clamped to 2^31 - 1 with a 64-bit
 * compare, then the signs of g and u put back (_mm256_sign_epi32: a zero g or u gives 0, as the reference does).
 */
#include <immintrin.h>

#include "kernels/int_kernels.h"
#include "model/int/intmath.h"

#define LN2 726817
#define B_Q20 1418723
#define A_Q20 375914
#define C_Q30 369367187
#define K_Z 47274 /* floor(2^35 / LN2) */

/* R[j] = round(2^40 / (1024 + j)): 2^40 / m is never a half, so floor((2^40 + floor(m/2)) / m) is the rounding */
#define R1(j) (int32_t)((((uint64_t)1 << 40) + (uint64_t)(1024 + (j)) / 2) / (uint64_t)(1024 + (j)))
#define R4(j) R1(j), R1((j) + 1), R1((j) + 2), R1((j) + 3)
#define R16(j) R4(j), R4((j) + 4), R4((j) + 8), R4((j) + 12)
#define R64(j) R16(j), R16((j) + 16), R16((j) + 32), R16((j) + 48)
#define R256(j) R64(j), R64((j) + 64), R64((j) + 128), R64((j) + 192)
static const int32_t recip_tab[1026] = {R256(0), R256(256), R256(512), R256(768), R1(1024), R1(1025)};
#undef R1
#undef R4
#undef R16
#undef R64
#undef R256

/* the odd 32-bit lanes moved to the even positions (high halves zero): the operand for mul_epu32 and 64-bit ops */
static inline __m256i odd(__m256i v) { return _mm256_srli_epi64(v, 32); }
/* 32-bit lanes from the low halves of two vectors of 64-bit lanes (even lanes from e, odd lanes from o) */
static inline __m256i join(__m256i e, __m256i o) { return _mm256_blend_epi32(e, _mm256_slli_epi64(o, 32), 0xaa); }

/* round(t^2 A / 2^30) for t < 2^21 in the low half of each 64-bit lane (< 2^30 in the low half, high half 0) */
static inline __m256i exp_poly(__m256i t) {
    const __m256i a = _mm256_set1_epi64x(A_Q20);
    const __m256i tt = _mm256_mul_epu32(t, t); /* < 2^41 */
    const __m256i s = _mm256_add_epi64(_mm256_mul_epu32(tt, a), _mm256_slli_epi64(_mm256_mul_epu32(odd(tt), a), 32));
    return _mm256_srli_epi64(_mm256_add_epi64(s, _mm256_set1_epi64x(INT64_C(1) << 29)), 30);
}

/* The Newton step and the final correction on the low halves of 64-bit lanes: y0 (0 < v - y0 <= 258), d, and
 * hd = floor(d/2) with a zero high half. Returns floor(v) in the low halves (high halves unspecified). */
static inline __m256i div_finish(__m256i y0, __m256i d, __m256i hd) {
    const __m256i n = _mm256_add_epi64(hd, _mm256_set1_epi64x(INT64_C(1) << 60));
    const __m256i rem0 = _mm256_sub_epi64(n, _mm256_mul_epu32(y0, d)); /* (0, 2^40) */
    const __m256i p = _mm256_mul_epu32(_mm256_srli_epi64(rem0, 8), y0);
    const __m256i c = _mm256_srli_epi64(_mm256_add_epi64(p, _mm256_set1_epi64x(INT64_C(1) << 51)), 52); /* <= 259 */
    const __m256i y1 = _mm256_add_epi32(y0, c);                         /* low halves: y0 + c < 2^31 */
    const __m256i rem1 = _mm256_sub_epi64(n, _mm256_mul_epu32(y1, d)); /* |rem1| < d */
    return _mm256_sub_epi32(y1, _mm256_srli_epi64(rem1, 63));
}

/* Q = floor((2^60 + floor(d/2)) / d), d = 2^30 + e, for e in [0, 2^30 + 2^20) in each 32-bit lane */
static inline __m256i sig_div(__m256i e) {
    const __m256i d = _mm256_add_epi32(e, _mm256_set1_epi32(1 << 30)); /* < 2^32 as unsigned */
    const __m256i i = _mm256_srli_epi32(e, 20), f = _mm256_and_si256(e, _mm256_set1_epi32((1 << 20) - 1));
    const __m256i r0 = _mm256_i32gather_epi32(recip_tab, i, 4);
    const __m256i r1 = _mm256_i32gather_epi32(recip_tab + 1, i, 4);
    const __m256i dr = _mm256_sub_epi32(r0, r1); /* < 2^20 */
    /* floor(dr f / 2^20), dr f < 2^40: even lanes shifted down by 20, odd lanes' quotient lands in the high half */
    const __m256i step = _mm256_blend_epi32(_mm256_srli_epi64(_mm256_mul_epu32(dr, f), 20),
                                            _mm256_slli_epi64(_mm256_mul_epu32(odd(dr), odd(f)), 12), 0xaa);
    const __m256i y0 = _mm256_sub_epi32(_mm256_sub_epi32(r0, _mm256_set1_epi32(257)), step);
    const __m256i hd = _mm256_srli_epi32(d, 1);
    const __m256i lo = _mm256_set1_epi64x(0xffffffff);
    return join(div_finish(y0, d, _mm256_and_si256(hd, lo)), div_finish(odd(y0), odd(d), odd(hd)));
}

void octet__int_sigdiv_avx2(const uint32_t *d, uint32_t *q, size_t n) {
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256i dv = _mm256_loadu_si256((const __m256i *)(const void *)(d + j));
        const __m256i qv = sig_div(_mm256_sub_epi32(dv, _mm256_set1_epi32(1 << 30)));
        _mm256_storeu_si256((__m256i *)(void *)(q + j), qv);
    }
    for (; j < n; j++) q[j] = (uint32_t)((((uint64_t)1 << 60) + d[j] / 2) / d[j]);
}

/* |g| s + 2^29 >> 30, times |u|, + 2^15 >> 16, clamped to 2^31 - 1: magnitudes in the low halves of 64-bit lanes */
static inline __m256i out_mag(__m256i ag, __m256i s, __m256i au) {
    const __m256i mx = _mm256_set1_epi64x(INT32_MAX);
    const __m256i silu = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epu32(ag, s), _mm256_set1_epi64x(1 << 29)), 30);
    const __m256i m = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epu32(silu, au), _mm256_set1_epi64x(1 << 15)), 16);
    return _mm256_blendv_epi8(m, mx, _mm256_cmpgt_epi64(m, mx));
}

void octet__int_swiglu_avx2(int32_t *g, const int32_t *u, size_t n) {
    const __m256i ln2 = _mm256_set1_epi32(LN2);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256i gv = _mm256_loadu_si256((const __m256i *)(const void *)(g + j));
        const __m256i uv = _mm256_loadu_si256((const __m256i *)(const void *)(u + j));
        const __m256i ag = _mm256_abs_epi32(gv); /* unsigned: 2^31 for INT32_MIN */
        const __m256i ax = _mm256_slli_epi32(_mm256_min_epu32(ag, _mm256_set1_epi32(1 << 21)), 4); /* <= 2^25 */
        /* z = floor(|x| / LN2), r = |x| - z LN2 */
        __m256i z = _mm256_srli_epi32(_mm256_mullo_epi32(_mm256_srli_epi32(ax, 9), _mm256_set1_epi32(K_Z)), 26);
        __m256i r = _mm256_sub_epi32(ax, _mm256_mullo_epi32(z, ln2));
        const __m256i over = _mm256_cmpgt_epi32(r, _mm256_set1_epi32(LN2 - 1));
        z = _mm256_sub_epi32(z, over);
        r = _mm256_sub_epi32(r, _mm256_and_si256(over, ln2));
        const __m256i t = _mm256_sub_epi32(_mm256_set1_epi32(B_Q20), r);
        const __m256i l = _mm256_add_epi32(join(exp_poly(t), exp_poly(odd(t))), _mm256_set1_epi32(C_Q30));
        const __m256i half = _mm256_srli_epi32(_mm256_sllv_epi32(_mm256_set1_epi32(1), z), 1); /* 2^(z-1), 0 */
        __m256i e = _mm256_srlv_epi32(_mm256_add_epi32(l, half), z);
        e = _mm256_andnot_si256(_mm256_cmpgt_epi32(ax, _mm256_set1_epi32(32 * LN2 - 1)), e); /* exp cut-off */
        /* sigmoid(|x|) in Q30, then sigmoid(x) */
        const __m256i q = sig_div(e);
        const __m256i s = _mm256_blendv_epi8(q, _mm256_sub_epi32(_mm256_set1_epi32(1 << 30), q), _mm256_srai_epi32(gv, 31));
        const __m256i au = _mm256_abs_epi32(uv);
        __m256i o = join(out_mag(ag, s, au), out_mag(odd(ag), odd(s), odd(au)));
        o = _mm256_sign_epi32(_mm256_sign_epi32(o, gv), uv);
        _mm256_storeu_si256((__m256i *)(void *)(g + j), o);
    }
    if (j < n) octet__int_swiglu_ref(g + j, u + j, n - j);
}
