/*
 * int_act_avx2.c - AVX2 twin of octet__int_swiglu_ref (src/kernels/ref/int_*_ref.c): SwiGLU of the integer-only mode,
 * 8 elements per vector, integer SIMD only (no floating-point instruction, no float type). Equal to the reference
 * bit for bit for every pair of int32 inputs (tests/kernels/test_int_act.c). Per element the reference computes,
 * with LN2 = 726817, B = 1418723, A = 375914, C = 369367187 (intmath.c) and x = 16 g in Q20:
 *   e = exp_q30(-|x|):  0 if |x| >= 32 LN2; else z = floor(|x| / LN2), r = |x| - z LN2 in [0, LN2), t = B - r,
 *                       l = ((t^2 A + 2^29) >> 30) + C, e = (l + 2^(z-1)) >> z (e = l for z = 0)
 *   d = 2^30 + e,  Q = floor((2^60 + floor(d/2)) / d),  s = g >= 0 ? Q : 2^30 - Q
 *   out = sat32(shift_round(shift_round(g s, 30) u, 16))
 * Bounds, step by step (the test checks the whole kernel on every g with |g| <= 2^22 and the division on every d):
 *
 * exp. |g| is clamped to 2^21 - 1 before |x| = 16 |g| is formed: (2^21 - 1) 16 > 32 LN2 = 23258144, and |g| >=
 * 1453634 (= 32 LN2 / 16) gives e = 0 with or without the clamp; so |x| <= 2^25 - 16 and all up to l fits 32 bits.
 *   z: z0 = ((|x| >> 9) K) >> 26 with K = floor(2^35 / LN2) = 47274; |x| >> 9 < 2^16 and K < 2^16, so the product
 *   is _mm256_mulhi_epu16's (the high 16 bits of each lane are 0 in both: lane = product >> 16). z0 never
 *   overestimates (K <= 2^35 / LN2, |x| >> 9 <= |x| / 512) and falls short of |x| / LN2 by less than 511 / LN2 +
 *   2^16 / 2^26 < 0.002, so z0 is floor(|x| / LN2) or one less; one correction (r >= LN2: z + 1, r - LN2) gives
 *   the reference's z and r exactly (its own reciprocal and correction give the floor too). z <= 46.
 *   t in (B - LN2, B] < 2^21, t^2 < 2^41: t^2 A = (t^2 mod 2^32) A + ((t^2 >> 32) A) 2^32, both products
 *   unsigned 32 x 32 -> 64 (_mm256_mul_epu32, even and odd lanes apart), (t^2 >> 32) A < 2^29, the sum < 2^60; C
 *   is added before the shift as C 2^30 (< 2^61 in all).
 *   l <= ((B^2 A + 2^29) >> 30) + C = 2^30 + 292226 < 2^31 and l + 2^(z-1) < 2^32: the rounding shift runs in
 *   unsigned 32-bit lanes, 2^(z-1) = 2^31 >> (32 - z) (0 for z = 0). The cut-off needs no test: |x| >= 32 LN2 is
 *   z >= 32, where _mm256_srlv_epi32 gives 0.
 *   So e in [0, 2^30 + 292226] and d in [2^30, 2^31 + 292226] (above 2^31 only for |x| <= 288, i.e. |g| <= 18).
 *
 * division without a division instruction, for any d in [2^30, 2^31 + 2^20): with E = d - 2^30, i = E >> 20 <=
 * 1024, f = E mod 2^20, phi = f / 2^20, A_i = 2^60 / (2^30 + i 2^20), D_i = A_i - A_(i+1), v = N / d with N = 2^60 +
 * floor(d/2), Q = floor(v):
 *   table: one gathered int32 per lane, H_i 2^12 + S_i, H_i = round(A_i / 2^12) <= 2^18, S_i = round(D_i / 2^8) <=
 *   4092 < 2^12 (every entry a constant expression of the exact integer formulas: no run-time initialization).
 *   y = H_i 2^12 - floor(S_i (f >> 5) / 2^7): S_i < 2^15 and f >> 5 < 2^15 sit in the low 16 bits of their lanes,
 *   so _mm256_madd_epi16 forms the exact product. Against the chord c = A_i - D_i phi of 2^60/d:
 *   |H_i 2^12 - A_i| <= 2^11, |S_i 2^8 - D_i| phi <= 2^7, dropping f's 5 low bits and the floor lose [0, 32); the
 *   chord lies above the convex 2^60/d by at most 2^40 (sqrt(a+1) - sqrt(a))^2 / (a (a+1)) < 2^40 / (4 a^3) <= 256
 *   (a = 1024 + i). So y - 2^60/d in [-2176, 2464), and with v - 2^60/d in [1/2 - 1/(2d), 1/2], y - v in
 *   (-2176.5, 2464): y0 = y - 2464 satisfies 0 < v - y0 < 4640.5.
 *   Newton step: rem0 = N - y0 d = (v - y0) d in (0, 4640.5 (2^31 + 2^20)) < 2^43.2 (y0 d < 2^62: mul_epu32), so
 *   rem0 >> 12 < 2^32, and c = ((rem0 >> 12) y0 + 2^47) >> 48 (product < 2^62) rounds an approximation of
 *   rem0 y0 / 2^60 = (v - y0) (y0 d / 2^60) to within 2^12 y0 / 2^60 < 2^-18; since y0 is in [v - 4640.5, v) and
 *   v - 2^60/d <= 1/2, |y0 d / 2^60 - 1| <= 4640.5 d / 2^60, so
 *     |c - (v - y0)| <= 1/2 + 4640.5^2 (2^31 + 2^20) / 2^60 + 2^-18 < 1/2 + 0.041.
 *   y1 = y0 + c is within 0.55 of v: floor(v) is y1 or y1 - 1, and it is y1 - 1 exactly when rem1 = N - y1 d < 0
 *   (|rem1| < 0.55 d, y1 d < 2^62). tests/kernels/test_int_act.c checks Q for every d of the domain.
 *
 * output. s <= 2^30 and |g| <= 2^31 (INT32_MIN's magnitude 2^31 is exact as an unsigned lane): |g| s + 2^29 <
 * 2^62, silu magnitude <= 2^31; times |u| <= 2^31: < 2^62, + 2^15, >> 16 < 2^46, clamped to 2^31 - 1 by a 64-bit
 * compare, then the sign of g u put back (a zero g or u has a zero magnitude: 0, as in the reference).
 *
 * The two 64-bit halves of a vector (even and odd 32-bit lanes) take the odd lanes down by a shuffle where only
 * _mm256_mul_epu32 reads them (it ignores the high halves) and by a shift where 64-bit sums need a zero high half;
 * the shuffles keep the shift/multiply ports, the bottleneck here, for the arithmetic.
 */
#include <immintrin.h>

#include "kernels/int_kernels.h"
#include "kernels/intmath.h"

#define LN2 726817
#define B_Q20 1418723
#define A_Q20 375914
#define C_Q30 369367187
#define K_Z 47274 /* floor(2^35 / LN2) */

/* T[i] = H_i 2^12 + S_i for i = 0..1024 with H_i = round(2^28 / (1024 + i)) (the reciprocal 2^60 / (2^30 + i 2^20)
 * in units of 2^12) and S_i = round(2^32 / ((1024 + i) (1025 + i))) (the drop 2^60 / (2^30 + i 2^20) - 2^60 /
 * (2^30 + (i + 1) 2^20) in units of 2^8): T[i] <= 2^30 + 4092. */
#define T_M(j) ((uint64_t)(1024 + (j)) * (uint64_t)(1025 + (j)))
#define T1(j)                                                                                                      \
    (int32_t)((((UINT64_C(1) << 28) + (1024 + (j)) / 2) / (1024 + (j))) << 12 |                                   \
              (((UINT64_C(1) << 32) + T_M(j) / 2) / T_M(j)))
#define T4(j) T1(j), T1((j) + 1), T1((j) + 2), T1((j) + 3)
#define T16(j) T4(j), T4((j) + 4), T4((j) + 8), T4((j) + 12)
#define T64(j) T16(j), T16((j) + 16), T16((j) + 32), T16((j) + 48)
#define T256(j) T64(j), T64((j) + 64), T64((j) + 128), T64((j) + 192)
static const int32_t recip_tab[1025] = {T256(0), T256(256), T256(512), T256(768), T1(1024)};
#undef T_M
#undef T1
#undef T4
#undef T16
#undef T64
#undef T256

/* the odd 32-bit lanes moved down to the even positions with zero high halves: an operand of 64-bit arithmetic */
static inline __m256i odd(__m256i v) { return _mm256_srli_epi64(v, 32); }
/* the same for an operand that only _mm256_mul_epu32 reads (high halves ignored): a shuffle */
static inline __m256i odd_m(__m256i v) { return _mm256_shuffle_epi32(v, 0xf5); }
/* 32-bit lanes from the low halves of two vectors of 64-bit lanes (even lanes from e, odd lanes from o) */
static inline __m256i join(__m256i e, __m256i o) { return _mm256_blend_epi32(e, _mm256_shuffle_epi32(o, 0xa0), 0xaa); }

/* l = ((t^2 A + 2^29) >> 30) + C for t < 2^21 in the low half of each 64-bit lane (high halves ignored); l < 2^31
 * in the low half, high half 0 */
static inline __m256i exp_poly(__m256i t) {
    const __m256i a = _mm256_set1_epi64x(A_Q20);
    const __m256i tt = _mm256_mul_epu32(t, t); /* < 2^41 */
    /* ((tt >> 32) A) 2^32: the product < 2^29, so the byte shift of the 128-bit lane is the 64-bit shift */
    const __m256i hi = _mm256_bslli_epi128(_mm256_mul_epu32(odd_m(tt), a), 4);
    const __m256i s = _mm256_add_epi64(_mm256_mul_epu32(tt, a), hi);
    return _mm256_srli_epi64(_mm256_add_epi64(s, _mm256_set1_epi64x((INT64_C(1) << 29) + ((int64_t)C_Q30 << 30))), 30);
}

/* The Newton step and the final correction on the low halves of 64-bit lanes: y0 (0 < v - y0 < 4640.5) and d with
 * the high halves ignored, hd = floor(d/2) with a zero high half. Returns floor(v) in the low halves. */
static inline __m256i div_finish(__m256i y0, __m256i d, __m256i hd) {
    const __m256i n = _mm256_add_epi64(hd, _mm256_set1_epi64x(INT64_C(1) << 60));
    const __m256i rem0 = _mm256_sub_epi64(n, _mm256_mul_epu32(y0, d)); /* (0, 2^43.2) */
    const __m256i p = _mm256_mul_epu32(_mm256_srli_epi64(rem0, 12), y0);
    const __m256i c = _mm256_srli_epi64(_mm256_add_epi64(p, _mm256_set1_epi64x(INT64_C(1) << 47)), 48); /* < 2^13 */
    const __m256i y1 = _mm256_add_epi32(y0, c);                         /* low halves: y0 + c < 2^31 */
    const __m256i rem1 = _mm256_sub_epi64(n, _mm256_mul_epu32(y1, d)); /* |rem1| < d */
    return _mm256_sub_epi32(y1, _mm256_srli_epi64(rem1, 63)); /* y1 - 1 where rem1 < 0 */
}

/* Q = floor((2^60 + floor(d/2)) / d), d = 2^30 + e, for e in [0, 2^30 + 2^20) in each 32-bit lane */
static inline __m256i sig_div(__m256i e) {
    const __m256i d = _mm256_add_epi32(e, _mm256_set1_epi32(1 << 30)); /* < 2^32 as unsigned */
    const __m256i tab = _mm256_i32gather_epi32(recip_tab, _mm256_srli_epi32(e, 20), 4);
    const __m256i f5 = _mm256_and_si256(_mm256_srli_epi32(e, 5), _mm256_set1_epi32((1 << 15) - 1)); /* f >> 5 */
    const __m256i sl = _mm256_and_si256(tab, _mm256_set1_epi32(4095));                            /* S_i */
    const __m256i step = _mm256_srli_epi32(_mm256_madd_epi16(sl, f5), 7);
    const __m256i y0 = _mm256_sub_epi32(_mm256_sub_epi32(_mm256_andnot_si256(_mm256_set1_epi32(4095), tab), step),
                                        _mm256_set1_epi32(2464));
    const __m256i hd = _mm256_srli_epi32(d, 1);
    const __m256i lo = _mm256_set1_epi64x(0xffffffff);
    return join(div_finish(y0, d, _mm256_and_si256(hd, lo)), div_finish(odd_m(y0), odd_m(d), odd(hd)));
}

static inline __m256i sig_div_d(const uint32_t *d) {
    const __m256i dv = _mm256_loadu_si256((const __m256i *)(const void *)d);
    return sig_div(_mm256_sub_epi32(dv, _mm256_set1_epi32(1 << 30)));
}

void octet__int_sigdiv_avx2(const uint32_t *d, uint32_t *q, size_t n) {
    size_t j = 0;
    for (; j + 8 <= n; j += 8) _mm256_storeu_si256((__m256i *)(void *)(q + j), sig_div_d(d + j));
    if (j == n) return;
    uint32_t db[8], qb[8]; /* the tail padded with d = 2^30 */
    for (size_t k = 0; k < 8; k++) db[k] = j + k < n ? d[j + k] : 1u << 30;
    _mm256_storeu_si256((__m256i *)(void *)qb, sig_div_d(db));
    for (size_t k = 0; j + k < n; k++) q[j + k] = qb[k];
}

/* |g| s + 2^29 >> 30, times |u|, + 2^15 >> 16 (operands in the low halves of 64-bit lanes, high halves ignored):
 * the magnitude in the low half, or all ones (both halves) where it exceeds 2^31 - 1 (the caller masks the joined
 * lanes with 2^31 - 1: the clamp) */
static inline __m256i out_mag(__m256i ag, __m256i s, __m256i au) {
    const __m256i silu = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epu32(ag, s), _mm256_set1_epi64x(1 << 29)), 30);
    const __m256i m = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epu32(silu, au), _mm256_set1_epi64x(1 << 15)), 16);
    return _mm256_or_si256(m, _mm256_cmpgt_epi64(m, _mm256_set1_epi64x(INT32_MAX)));
}

/* V vectors of 8 elements, each step written for all V before the next: one vector's chain is long (a gather and
 * ten dependent multiplies) and independent vectors side by side keep the out-of-order window busy (measured on
 * a 5632 x 64 row: 4 vectors take ~30% less time than 1, 2 vectors ~12% less). */
/* e[k] = exp_q30(-ax[k]) of the reference for ax in [0, 2^25) in each 32-bit lane (0 from 32 LN2 up), V vectors
 * side by side */
static inline __attribute__((always_inline)) void exp_vecs(const __m256i *ax, __m256i *e, const int V) {
    const __m256i ln2 = _mm256_set1_epi32(LN2);
    __m256i z[4];
    _Pragma("GCC unroll 4") for (int k = 0; k < V; k++)
        z[k] = _mm256_srli_epi32(_mm256_mulhi_epu16(_mm256_srli_epi32(ax[k], 9), _mm256_set1_epi32(K_Z)), 10);
    _Pragma("GCC unroll 4") for (int k = 0; k < V; k++) {
        __m256i r = _mm256_sub_epi32(ax[k], _mm256_mullo_epi32(z[k], ln2));
        const __m256i over = _mm256_cmpgt_epi32(r, _mm256_set1_epi32(LN2 - 1));
        z[k] = _mm256_sub_epi32(z[k], over);
        r = _mm256_sub_epi32(r, _mm256_and_si256(over, ln2));
        const __m256i t = _mm256_sub_epi32(_mm256_set1_epi32(B_Q20), r);
        e[k] = join(exp_poly(t), exp_poly(odd_m(t))); /* l */
    }
    /* (l + 2^(z-1)) >> z, 0 in the cut-off lanes (z >= 32) */
    _Pragma("GCC unroll 4") for (int k = 0; k < V; k++) {
        const __m256i sh = _mm256_sub_epi32(_mm256_set1_epi32(32), z[k]);
        const __m256i half = _mm256_srlv_epi32(_mm256_set1_epi32(INT32_MIN), sh); /* 2^(z-1), 0 for z = 0 */
        e[k] = _mm256_srlv_epi32(_mm256_add_epi32(e[k], half), z[k]);
    }
}

static inline __attribute__((always_inline)) void swiglu_vecs(int32_t *g, const int32_t *u, const int V) {
    __m256i gv[4], ag[4], ax[4], e[4];
    _Pragma("GCC unroll 4") for (int k = 0; k < V; k++) {
        gv[k] = _mm256_loadu_si256((const __m256i *)(const void *)(g + 8 * k));
        ag[k] = _mm256_abs_epi32(gv[k]); /* unsigned: 2^31 for INT32_MIN */
        ax[k] = _mm256_slli_epi32(_mm256_min_epu32(ag[k], _mm256_set1_epi32((1 << 21) - 1)), 4); /* |x| */
    }
    exp_vecs(ax, e, V);
    _Pragma("GCC unroll 4") for (int k = 0; k < V; k++) e[k] = sig_div(e[k]); /* sigmoid(|x|) in Q30 */
    _Pragma("GCC unroll 4") for (int k = 0; k < V; k++) {
        const __m256i uv = _mm256_loadu_si256((const __m256i *)(const void *)(u + 8 * k));
        const __m256i s = _mm256_blendv_epi8(e[k], _mm256_sub_epi32(_mm256_set1_epi32(1 << 30), e[k]),
                                             _mm256_srai_epi32(gv[k], 31)); /* sigmoid(x) */
        const __m256i au = _mm256_abs_epi32(uv);
        __m256i o = join(out_mag(ag[k], s, au), out_mag(odd_m(ag[k]), odd_m(s), odd_m(au)));
        o = _mm256_and_si256(o, _mm256_set1_epi32(INT32_MAX));
        const __m256i m = _mm256_srai_epi32(_mm256_xor_si256(gv[k], uv), 31); /* -1 where g u < 0 */
        _mm256_storeu_si256((__m256i *)(void *)(g + 8 * k), _mm256_sub_epi32(_mm256_xor_si256(o, m), m));
    }
}

void octet__int_swiglu_avx2(int32_t *g, const int32_t *u, size_t n) {
    size_t j = 0;
    for (; j + 32 <= n; j += 32) swiglu_vecs(g + j, u + j, 4);
    for (; j + 8 <= n; j += 8) swiglu_vecs(g + j, u + j, 1);
    if (j < n) octet__int_swiglu_ref(g + j, u + j, n - j);
}

/* Softmax (octet__int_softmax_q30_ref's contract and bits): the maximum over int64 lanes; mx - s clamped to 2^25 - 1
 * (>= 32 LN2, where exp is 0 either way) so the arguments fit the 32-bit lanes of exp_vecs; the sum of the exps in
 * int64 lanes; the normalization p inv (p <= 2^30 + 292226, inv <= 2^31: < 2^62) as unsigned 32 x 32 -> 64
 * products of the even and odd lanes. The last n mod 8 keys through the reference's exp. */
void octet__int_softmax_q30_avx2(const int64_t *s, int32_t *p, int n) {
    if (n < 8) {
        octet__int_softmax_q30_ref(s, p, n);
        return;
    }
    __m256i vmx = _mm256_loadu_si256((const __m256i *)(const void *)s);
    int j = 4;
    for (; j + 4 <= n; j += 4) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(s + j));
        vmx = _mm256_blendv_epi8(vmx, v, _mm256_cmpgt_epi64(v, vmx));
    }
    int64_t m4[4];
    _mm256_storeu_si256((__m256i *)(void *)m4, vmx);
    int64_t mx = m4[0];
    for (int k = 1; k < 4; k++) mx = m4[k] > mx ? m4[k] : mx;
    for (; j < n; j++) mx = s[j] > mx ? s[j] : mx;

    const __m256i vm = _mm256_set1_epi64x(mx), cut = _mm256_set1_epi64x((1 << 25) - 1);
    const __m256i lo_idx = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    __m256i vsum = _mm256_setzero_si256();
    for (j = 0; j + 8 <= n; j += 8) {
        __m256i x0 = _mm256_sub_epi64(vm, _mm256_loadu_si256((const __m256i *)(const void *)(s + j)));
        __m256i x1 = _mm256_sub_epi64(vm, _mm256_loadu_si256((const __m256i *)(const void *)(s + j + 4)));
        x0 = _mm256_blendv_epi8(x0, cut, _mm256_cmpgt_epi64(x0, cut));
        x1 = _mm256_blendv_epi8(x1, cut, _mm256_cmpgt_epi64(x1, cut));
        /* the low dwords of x0's and x1's lanes, in order */
        const __m256i ax = _mm256_permute2x128_si256(_mm256_permutevar8x32_epi32(x0, lo_idx),
                                                     _mm256_permutevar8x32_epi32(x1, lo_idx), 0x20);
        __m256i e;
        exp_vecs(&ax, &e, 1);
        _mm256_storeu_si256((__m256i *)(void *)(p + j), e);
        vsum = _mm256_add_epi64(vsum, _mm256_add_epi64(_mm256_cvtepu32_epi64(_mm256_castsi256_si128(e)),
                                                       _mm256_cvtepu32_epi64(_mm256_extracti128_si256(e, 1))));
    }
    int64_t s4[4];
    _mm256_storeu_si256((__m256i *)(void *)s4, vsum);
    int64_t sum = s4[0] + s4[1] + s4[2] + s4[3];
    for (int k = j; k < n; k++) {
        p[k] = octet__int_exp_q30(s[k] - mx);
        sum += p[k];
    }
    /* sum >= exp(0) ~ 2^30, so inv <= 2^31 and p * inv < 2^62 */
    const int64_t inv = ((INT64_C(1) << 61) + sum / 2) / sum;
    const __m256i vi = _mm256_set1_epi64x(inv), rnd = _mm256_set1_epi64x(INT64_C(1) << 30);
    for (j = 0; j + 8 <= n; j += 8) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + j));
        const __m256i pe = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epu32(v, vi), rnd), 31);
        const __m256i po = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epu32(odd_m(v), vi), rnd), 31);
        _mm256_storeu_si256((__m256i *)(void *)(p + j), join(pe, po));
    }
    for (; j < n; j++) p[j] = (int32_t)(((int64_t)p[j] * inv + (INT64_C(1) << 30)) >> 31);
}
