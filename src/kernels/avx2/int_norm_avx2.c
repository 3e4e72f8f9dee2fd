/*
 * int_norm_avx2.c - AVX2 twins of the integer-only mode's RMSNorm and activation quantizer
 * (octet__int_rmsnorm_ref, octet__int_quant_row_ref in src/kernels/ref/int_*_ref.c), integer SIMD only. Same output bits for
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
 * The activation quantizer (8 blocks at a time, reciprocals without a division): its own section below.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels/int_kernels.h"
#include "kernels/intmath.h"

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

/* ---- Activation quantizer (octet__int_quant_row_ref) --------------------------------------------------------------
 *
 * The reference, per block b of 32 with amax = max |x| of the block and the row exponent sa = bitlen(max |x|) - 14
 * (-13 <= sa <= 18): d = ceil(amax 2^-sa) (sa >= 0) or amax 2^-sa (sa < 0), 0 <= d <= 2^14 (amax < 2^(sa + 14));
 * for d > 0, k = bitlen(d) + 22 (23 .. 37), r = floor((127 2^k + floor(d/2)) / d) (127 2^22 < r <= 127 2^23 <
 * 2^30) and the codes sign(x) round(|x| r 2^-s), s = k + sa, round half up on the magnitude. For sa < 0 the
 * reference multiplies x by 2^-sa first and shifts by k: (|x| r 2^-sa + 2^(k-1)) >> k equals (|x| r + 2^(s-1)) >> s
 * (both sides of the division by 2^k hold the factor 2^-sa, and k - 1 >= -sa), so one formula serves every sa.
 * Its clamp to 127 never acts: |x| <= d 2^sa, so |x| r 2^-s <= d r 2^-k <= 127 + d 2^-(k+1) < 127 + 2^-23.
 *
 * Here eight blocks at a time, integer SIMD only:
 * Pass 1: block maxima, 8 blocks into the 8 lanes of one vector (unsigned; |INT32_MIN| = 2^31), the row maximum
 *   from them; the vectors of the first QR_CAP groups are kept (longer rows recompute the rest later).
 * Then per chunk of up to QR_CAP groups: first the scales and reciprocals of all its blocks (independent chains of
 *   dependent multiplies, which the out-of-order core overlaps only when they are not interleaved with the codes),
 *   then the codes, with r and s - 1 broadcast from those arrays.
 * d per lane: (amax + 2^sa - 1) >> sa below 2^32 (amax <= 2^31, sa <= 18), or amax << -sa below 2^14.
 * r per lane without a division (recip8): d normalized to D = d 2^j in [2^14, 2^15), j = 15 - bitlen(d), so
 *   r = floor((127 2^37 + e) / D) with e = floor(d/2) 2^j < D (numerator and denominator times 2^j). Newton-Raphson
 *   for Y ~ 2^45 / D (the integer reciprocal iteration of division by invariant integers; Granlund & Montgomery,
 *   PLDI 1994, and Moller & Granlund, IEEE TC 2011, for the reciprocal and the remainder correction): a linear
 *   start 48/17 - 32/17 x (x = D 2^-15; relative error <= 1/17), one step in 32-bit lanes at scale 2^29 and two in
 *   64-bit lanes at scale 2^45. Each step y + floor(y (2^w - D y) 2^-w) is at most the exact Newton value
 *   y (2 - D y 2^-w) = (2^w / D) (1 - (1 - D y 2^-w)^2) <= 2^w / D, so from the first step on every iterate is
 *   below 2^w / D and the error terms 2^w - D y are >= 0. Bounds (every D, checked exhaustively in
 *   tests/kernels/test_int_norm.c through octet__int_quant_recip8_avx2): D y0 < 2^30, |2^29 - D y0| < 2^25,
 *   |y0 (that >> 10)| < 2^31, Y1 = y1 2^16 < 2^32, 2^45 - D Y1 < 2^37, 2^45 - D Y2 < 2^29, 0 <= 2^45 / D - Y3 < 1.27.
 *   Then q = floor(127 Y3 / 2^8) <= 127 2^37 / D <= r and r - q < (127/256) 1.27 + 1/2 + 1 < 3: the remainder
 *   127 2^37 + e - q D lies in [0, 3D) (below 2^17), so it is exact modulo 2^32 (127 2^37 = 0 mod 2^32: the
 *   remainder is e - q D in 32-bit lanes), and q plus the number of multiples of D it holds (0, 1 or 2) is r.
 * Codes (codes32): |x| r as unsigned 32 x 32 -> 64 products (< 2^61) of the even and odd lanes; t = floor(|x| r
 *   2^-(s-1)) <= 254 (above: |x| r 2^-s < 127.5), and round(|x| r 2^-s) = floor((t + 1) / 2) (floor((floor(y) + 1)
 *   / 2) = floor((y + 1) / 2) for y >= 0) = _mm256_avg_epu8(t, 0) on the bytes after unsigned packing (exact, t <=
 *   254). The sign: the signs of x packed to bytes with signed saturation (which keeps sign and nonzero-ness) and
 *   _mm256_sign_epi8 (x = 0 has code 0 anyway). 9 <= s - 1 <= 54; by _mm256_srlv_epi64 (one uop; the shift by
 *   an xmm count is two on Intel cores).
 * Rows whose block count is not a multiple of 8 run the last blocks through the reference's per-block steps (with
 * the codes kernel passed in; the groups of 8 compute their own codes, which equal every codes kernel's). */

enum { QR_CAP = 64 }; /* groups of 8 blocks whose maxima pass 1 keeps: rows of up to 16384 values */

/* max |x| of 32 values, per lane */
static inline __m256i bmax1(const int32_t *x) {
    return _mm256_max_epu32(_mm256_max_epu32(_mm256_abs_epi32(load8(x)), _mm256_abs_epi32(load8(x + 8))),
                            _mm256_max_epu32(_mm256_abs_epi32(load8(x + 16)), _mm256_abs_epi32(load8(x + 24))));
}

/* lanes (a, b, c, d) of each 128-bit half: the maxima of that half of a, b, c, d */
static inline __m256i hmax4x(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i ab = _mm256_max_epu32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
    const __m256i cd = _mm256_max_epu32(_mm256_unpacklo_epi32(c, d), _mm256_unpackhi_epi32(c, d));
    return _mm256_max_epu32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd));
}

/* max |x| of the 8 blocks of 32 at x, block b in lane b */
static inline __attribute__((always_inline)) __m256i blockmax8(const int32_t *x) {
    const __m256i lo = hmax4x(bmax1(x), bmax1(x + 32), bmax1(x + 64), bmax1(x + 96));
    const __m256i hi = hmax4x(bmax1(x + 128), bmax1(x + 160), bmax1(x + 192), bmax1(x + 224));
    return _mm256_max_epu32(_mm256_permute2x128_si256(lo, hi, 0x20), _mm256_permute2x128_si256(lo, hi, 0x31));
}

/* two 64-bit Newton steps for Y ~ 2^45 / D from Y1 <= 2^45 / D, then q = floor(127 Y / 2^8); D < 2^15 in the low
 * dword of each 64-bit lane, Y1 < 2^32 in the whole lane */
static inline __m256i newton64(__m256i D, __m256i Y) {
    const __m256i w45 = _mm256_set1_epi64x(INT64_C(1) << 45);
    const __m256i e2 = _mm256_srli_epi64(_mm256_sub_epi64(w45, _mm256_mul_epu32(D, Y)), 6); /* < 2^31 */
    Y = _mm256_add_epi64(Y, _mm256_srli_epi64(_mm256_mul_epu32(Y, e2), 39));
    const __m256i e3 = _mm256_sub_epi64(w45, _mm256_mul_epu32(D, Y)); /* < 2^29 */
    Y = _mm256_add_epi64(Y, _mm256_srli_epi64(_mm256_mul_epu32(Y, e3), 45));
    return _mm256_srli_epi64(_mm256_mul_epu32(Y, _mm256_set1_epi64x(127)), 8);
}

/* lanes with z < lim shifted left by sh, and sh added to j */
static inline void norm_step(__m256i *z, __m256i *j, int sh, int lim) {
    const __m256i c = _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(lim), *z), _mm256_set1_epi32(sh));
    *z = _mm256_sllv_epi32(*z, c);
    *j = _mm256_add_epi32(*j, c);
}

/* r = floor((127 2^k + floor(d/2)) / d) and k = bitlen(d) + 22 for 8 lanes d in [1, 2^14] (see above) */
static inline __attribute__((always_inline)) __m256i recip8(__m256i d, __m256i *k) {
    __m256i z = d, j = _mm256_setzero_si256();
    norm_step(&z, &j, 8, 1 << 7); /* z < 2^7: times 2^8, so z in [2^7, 2^15) */
    norm_step(&z, &j, 4, 1 << 11); /* [2^11, 2^15) */
    norm_step(&z, &j, 2, 1 << 13); /* [2^13, 2^15) */
    norm_step(&z, &j, 1, 1 << 14); /* [2^14, 2^15) */
    const __m256i D = z, e = _mm256_sllv_epi32(_mm256_srli_epi32(d, 1), j);
    /* y0 = 2^14 (48/17 - 32/17 D 2^-15) ~ 2^29 / D, in 32-bit lanes; one Newton step at scale 2^29 */
    const __m256i y0 = _mm256_sub_epi32(_mm256_set1_epi32(46261),
                                        _mm256_srli_epi32(_mm256_mullo_epi32(D, _mm256_set1_epi32(241)), 8));
    const __m256i e1 = _mm256_sub_epi32(_mm256_set1_epi32(1 << 29), _mm256_mullo_epi32(D, y0));
    const __m256i y1 =
        _mm256_add_epi32(y0, _mm256_srai_epi32(_mm256_mullo_epi32(y0, _mm256_srai_epi32(e1, 10)), 19));
    const __m256i Y1 = _mm256_slli_epi32(y1, 16); /* ~ 2^45 / D, < 2^32 */
    const __m256i qe = newton64(D, _mm256_and_si256(Y1, _mm256_set1_epi64x(0xffffffff)));
    const __m256i qo = newton64(_mm256_srli_epi64(D, 32), _mm256_srli_epi64(Y1, 32));
    __m256i q = _mm256_or_si256(qe, _mm256_slli_epi64(qo, 32));
    /* remainder 127 2^37 + e - q D in [0, 3D): q + 1 per multiple of D in it */
    const __m256i rem = _mm256_sub_epi32(e, _mm256_mullo_epi32(q, D)), one = _mm256_set1_epi32(1);
    q = _mm256_sub_epi32(q, _mm256_cmpgt_epi32(rem, _mm256_sub_epi32(D, one)));
    q = _mm256_sub_epi32(q, _mm256_cmpgt_epi32(rem, _mm256_sub_epi32(_mm256_add_epi32(D, D), one)));
    *k = _mm256_sub_epi32(_mm256_set1_epi32(37), j);
    return q;
}

void octet__int_quant_recip8_avx2(const int32_t *d, int32_t *r, int32_t *k) {
    __m256i kv;
    _mm256_storeu_si256((__m256i *)(void *)r, recip8(load8(d), &kv));
    _mm256_storeu_si256((__m256i *)(void *)k, kv);
}

/* floor(|x| r 2^-c) for 8 values (< 2^8 here), in the lanes of x */
static inline __m256i halfcodes8(__m256i xv, __m256i vr, __m256i c) {
    const __m256i ax = _mm256_abs_epi32(xv);
    const __m256i te = _mm256_srlv_epi64(_mm256_mul_epu32(ax, vr), c);
    const __m256i to = _mm256_srlv_epi64(_mm256_mul_epu32(_mm256_srli_epi64(ax, 32), vr), c);
    return _mm256_or_si256(te, _mm256_shuffle_epi32(to, 0xb1)); /* te, to < 2^8: to into the odd dwords */
}

/* the codes of 32 values for r < 2^30 (all lanes) and the shift s - 1 (see above) */
static inline __attribute__((always_inline)) void codes32(const int32_t *x, __m256i vr, __m256i c, int8_t *q) {
    const __m256i x0 = load8(x), x1 = load8(x + 8), x2 = load8(x + 16), x3 = load8(x + 24);
    const __m256i t0 = halfcodes8(x0, vr, c), t1 = halfcodes8(x1, vr, c);
    const __m256i t2 = halfcodes8(x2, vr, c), t3 = halfcodes8(x3, vr, c);
    /* bytes of each 128-bit half: values 0-3 of t0, t1, t2, t3, then 4-7 (the permute puts them in order) */
    const __m256i u = _mm256_packus_epi16(_mm256_packus_epi32(t0, t1), _mm256_packus_epi32(t2, t3));
    const __m256i sg = _mm256_packs_epi16(_mm256_packs_epi32(x0, x1), _mm256_packs_epi32(x2, x3));
    const __m256i cq = _mm256_sign_epi8(_mm256_avg_epu8(u, _mm256_setzero_si256()), sg);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    _mm256_storeu_si256((__m256i *)(void *)q, _mm256_permutevar8x32_epi32(cq, order));
}

/* the reference's steps for one block (the blocks after the last whole group of 8) */
static void quant_block(const int32_t *xb, int sa, int8_t *qb, int16_t *scb, octet__int_codes_fn codes) {
    const int64_t amax = (int64_t)hmax8u(bmax1(xb));
    const int64_t d = sa >= 0 ? (amax + (INT64_C(1) << sa) - 1) >> sa : amax * (INT64_C(1) << -sa); /* <= 2^14 */
    *scb = (int16_t)d;
    if (d == 0) {
        memset(qb, 0, 32);
        return;
    }
    octet__int_quant_codes_k(xb, 32, d, sa, qb, codes);
}

void octet__int_quant_row_avx2(const int32_t *x, int n, int8_t *q, int16_t *sc, int *sa_out,
                               octet__int_codes_fn codes) {
    const int nb = n / 32, ng = nb / 8;
    int32_t rk[QR_CAP][8]; /* pass 1: the block maxima (as uint32), then the reciprocals */
    int64_t sk[QR_CAP][8]; /* the shifts s - 1 */
    __m256i vm = _mm256_setzero_si256();
    for (int g = 0; g < ng; g++) {
        const __m256i m = blockmax8(x + 256 * g);
        vm = _mm256_max_epu32(vm, m);
        if (g < QR_CAP) _mm256_storeu_si256((__m256i *)(void *)rk[g], m);
    }
    uint64_t mx = hmax8u(vm);
    const uint64_t mt = octet__int_maxabs32_avx2(x + 256 * ng, n - 256 * ng);
    if (mt > mx) mx = mt;
    if (mx == 0) {
        memset(q, 0, (size_t)n);
        memset(sc, 0, (size_t)nb * sizeof *sc);
        *sa_out = 0;
        return;
    }
    const int sa = octet__int_bitlen(mx) - 14;
    *sa_out = sa;
    const __m256i bias = _mm256_set1_epi32(sa > 0 ? (1 << sa) - 1 : 0), one = _mm256_set1_epi32(1);
    const __m256i sam1 = _mm256_set1_epi32(sa - 1);
    const __m128i cr = _mm_cvtsi32_si128(sa > 0 ? sa : 0), cl = _mm_cvtsi32_si128(sa < 0 ? -sa : 0);
    for (int g0 = 0; g0 < ng; g0 += QR_CAP) {
        const int gn = ng - g0 < QR_CAP ? ng - g0 : QR_CAP;
        /* the chunk's scales and reciprocals first: independent chains, overlapped by the out-of-order core */
        for (int g = 0; g < gn; g++) {
            const __m256i m = g0 == 0 ? _mm256_loadu_si256((const __m256i *)(const void *)rk[g])
                                      : blockmax8(x + 256 * (g0 + g));
            const __m256i d = _mm256_sll_epi32(_mm256_srl_epi32(_mm256_add_epi32(m, bias), cr), cl); /* <= 2^14 */
            _mm_storeu_si128((__m128i *)(void *)(sc + 8 * (g0 + g)),
                             _mm_packs_epi32(_mm256_castsi256_si128(d), _mm256_extracti128_si256(d, 1)));
            __m256i k;
            /* d = 0 (an all-zero block) takes d = 1's r: its codes are 0 for any r */
            _mm256_storeu_si256((__m256i *)(void *)rk[g], recip8(_mm256_max_epu32(d, one), &k));
            k = _mm256_add_epi32(k, sam1);
            _mm256_storeu_si256((__m256i *)(void *)sk[g], _mm256_cvtepi32_epi64(_mm256_castsi256_si128(k)));
            _mm256_storeu_si256((__m256i *)(void *)(sk[g] + 4),
                                _mm256_cvtepi32_epi64(_mm256_extracti128_si256(k, 1)));
        }
        for (int g = 0; g < gn; g++) {
            const int32_t *xg = x + 256 * (g0 + g);
            int8_t *qg = q + 256 * (g0 + g);
            _Pragma("GCC unroll 8") for (int b = 0; b < 8; b++)
                codes32(xg + 32 * b, _mm256_set1_epi32(rk[g][b]), _mm256_set1_epi64x(sk[g][b]), qg + 32 * b);
        }
    }
    for (int b = 8 * ng; b < nb; b++) quant_block(x + 32 * b, sa, q + 32 * b, sc + b, codes);
}
