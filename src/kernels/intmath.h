/*
 * intmath.h - integer arithmetic of the integer-only mode (intmath.c): fixed-point rescaling, exact integer square
 * root, exp / sigmoid (I-BERT), softmax, RMSNorm, activation quantization, int8-limb products, and the exact
 * int -> IEEE binary32 conversion used only to hand logits out. No floating point: `make intonly` compiles
 * intmath.c with -mgeneral-regs-only.
 *
 * Fixed-point conventions (Qn: real = integer * 2^-n):
 *   residual stream, matmul outputs, norm outputs, attention outputs, logits: int32 Q16 (OCTET_INT_FX)
 *   exp / softmax inputs: Q20 (OCTET_INT_FE); exp outputs, probabilities, sigmoid: Q30
 */
#ifndef OCTET_INTMATH_H
#define OCTET_INTMATH_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/int_kernels.h"

#define OCTET_INT_FX 16 /* fraction bits of the residual stream and every int32 activation */
#define OCTET_INT_FE 20 /* fraction bits of exp arguments (scores) */

static inline int32_t octet__int_sat32(int64_t v) {
    return v > INT32_MAX ? INT32_MAX : v < -INT32_MAX ? -INT32_MAX : (int32_t)v;
}

/* round(a * 2^-s) (half away from zero for s > 0); s < 0 shifts left, saturating to +-(2^62). */
static inline int64_t octet__int_shift_round(int64_t a, int s) {
    if (s == 0) return a;
    if (s > 0) {
        if (s > 62) return 0;
        /* branch-free half-away-from-zero: the sign of a is data, and a mispredicted branch costs more than this */
        int64_t m = a >> 63, mag = (a ^ m) - m;
        int64_t r = (mag + (INT64_C(1) << (s - 1))) >> s;
        return (r ^ m) - m;
    }
    if (s < -62) s = -62;
    int64_t lim = (INT64_C(1) << 62) >> -s;
    if (a > lim) return INT64_C(1) << 62;
    if (a < -lim) return -(INT64_C(1) << 62);
    return a * (INT64_C(1) << -s);
}

/* round(a * m * 2^-s) (half up): the gemmlowp-style rescale by a fixed-point multiplier m (0 <= m < 2^31) and
 * shift s (any s in [-30, 126]), computed exactly with 32-bit halves (no 128-bit type); |a| < 2^62. Saturates
 * to +-(2^62) when the result would not fit. */
static inline int64_t octet__int_mulshift(int64_t a, int32_t m, int s) {
    if (s > 62) {
        a = octet__int_shift_round(a, s - 62);
        s = 62;
    }
    if (s < -30) s = -30;
    /* a * m = hi * 2^32 + lo with hi = (a >> 32) * m, lo = (a mod 2^32) * m; |hi| < 2^61, lo < 2^63 */
    int64_t hi = (a >> 32) * (int64_t)m;
    uint64_t lo = ((uint64_t)a & 0xffffffffu) * (uint64_t)(uint32_t)m;
    if (s > 0) lo += (uint64_t)1 << (s - 1);
    hi += (int64_t)(lo >> 32);
    lo &= 0xffffffffu;
    /* now a * m + round = hi * 2^32 + lo with 0 <= lo < 2^32: floor division by 2^s */
    if (s >= 32) return hi >> (s - 32);
    int up = 32 - s; /* 1 .. 62 */
    int64_t lim = INT64_C(1) << (62 - up);
    if (hi >= lim) return INT64_C(1) << 62;
    if (hi < -lim) return -(INT64_C(1) << 62);
    int64_t low = s >= 0 ? (int64_t)(lo >> s) : (int64_t)(lo << -s);
    return hi * (INT64_C(1) << up) + low;
}

/* int8 codes of x[0..n) for the scale den * 2^sa (den > 0, den * 2^sa >= max |x|): q = x * 127 / (den * 2^sa)
 * rounded, through one reciprocal R = round(127 * 2^k / den) per call instead of a division per element
 * (deterministic; differs from exact rounding only within 2^-21 of a half). */
void octet__int_quant_codes(const int32_t *x, int n, int64_t den, int sa, int8_t *q);
/* The same with the inner loop by a codes kernel (int_kernels.h; NULL: the reference), where it applies (sa >= 0):
 * equal results. */
void octet__int_quant_codes_k(const int32_t *x, int n, int64_t den, int sa, int8_t *q, octet__int_codes_fn codes);

/* floor(sqrt(n)), exact for every uint64 (bit-by-bit method, no division). */
uint64_t octet__int_isqrt64(uint64_t n);
/* Number of significant bits of v (0 for 0). */
int octet__int_bitlen(uint64_t v);
/* exp(x) for x <= 0 given in Q20, result in Q30 (I-BERT: x = -z ln2 + p, exp(p) ~ 0.3585 (p + 1.353)^2 + 0.344,
 * then >> z); relative error <= 3.2e-3. x > 0 is treated as 0. */
int32_t octet__int_exp_q30(int64_t x_q20);
/* sigmoid(x) for x in Q20, result in Q30, from exp(-|x|) and one division. */
int32_t octet__int_sigmoid_q30(int64_t x_q20);
/* SwiGLU in place, the integer mode's reference (the AVX2 twin octet__int_swiglu_avx2 in kernels/int_kernels.h
 * equals it bit for bit): for i < n, with g[i], u[i] int32 in Q16 (any int32 value, INT32_MIN included) and x =
 * g[i] * 2^(FE - FX) in Q20,
 *   s    = octet__int_sigmoid_q30(x)                               sigmoid(g) in Q30, 0 <= s <= 2^30
 *   silu = octet__int_shift_round(g[i] * s, 30)                    Q16, |silu| <= 2^31 (exact in int64)
 *   g[i] = octet__int_sat32(octet__int_shift_round(silu * u[i], 16))   |silu * u| <= 2^62 (exact in int64)
 * u is the up projection; u may be g itself (each element is read before it is written). */
void octet__int_swiglu_ref(int32_t *g, const int32_t *u, size_t n);
/* p[0..n) = softmax(s[0..n)) in Q30 (sum ~ 2^30) for scores s in Q20 (int64: any magnitude). */
void octet__int_softmax_q30_ref(const int64_t *s, int32_t *p, int n);

/* RMSNorm: out[j] = x[j] / sqrt(mean(x^2) + eps) * g[j], x and out in Q16, g in Q(g_shift), eps_q32 = eps in
 * Q32. Sum of squares in int64 (pre-shifted when needed), exact integer sqrt, one fixed-point reciprocal. */
void octet__int_rmsnorm_ref(int32_t *out, const int32_t *x, const int32_t *g, int g_shift, int n, int64_t eps_q32);
/* Its scalar steps, shared with the AVX2 twin (kernels/int_kernels.h) so both compute the same numbers. For a row
 * of n >= 1 values with mx = max |x| (<= 2^31): the pre-shift sh = octet__int_rms_shift(mx, n) (0 .. 17) keeps
 * n * round(x 2^-sh)^2 below 2^62; from ss = sum_j round(x_j 2^-sh)^2 (round: octet__int_shift_round),
 * inv = octet__int_rms_inv(ss, sh, n, eps_q32, &s1) is in (2^30, 2^31] with s1 in [7 + sh, 37 + sh] (for
 * 0 <= eps_q32 < 2^61, when the mean square plus eps is below 2^62), and u = round(x inv 2^-s1) is x / rms in
 * Q24; octet__int_rms_scale writes out[j] = sat32(round(u_j g_j 2^-s2)) with s2 = 24 + g_shift - 16. */
int octet__int_rms_shift(uint64_t mx, int n);
int64_t octet__int_rms_inv(uint64_t ss, int sh, int n, int64_t eps_q32, int *s1);
void octet__int_rms_scale(int32_t *out, const int32_t *x, const int32_t *g, int n, int64_t inv, int s1, int s2);

/* The query head shift of octet__int_qhead_ref (kernels/int_kernels.h) from max |q| (<= 2^31), shared with the AVX2
 * twin: bitlen(qmax) - 15, plus 1 while shift_round(qmax, sh) > 23170. */
int octet__int_qhead_shift(uint64_t qmax);

/* Quantize an int32 row (n a multiple of 32) to int8 blocks of 32: an integer max pass finds the row maximum M,
 * sets the row exponent *sa = bitlen(M) - 14, each block gets scale sc[b] = ceil(amax_b * 2^-sa) (<= 2^14) and
 * codes q = round(x * 127 / (sc[b] * 2^sa)) in [-127, 127]; so x ~ q * sc[b] * 2^sa / 127. codes: the kernel for
 * the codes' inner loop (NULL: the reference; every kernel gives the same codes). */
void octet__int_quant_row_ref(const int32_t *x, int n, int8_t *q, int16_t *sc, int *sa, octet__int_codes_fn codes);

/* int16 x int8 and int16 x int16 products built from int8 limbs (a = a_hi * 256 + a_lo, a_lo unsigned): 2 and 4
 * 8-bit products, equal to the direct product for every pair (tests/unit/test_int_math.c). */
int32_t octet__int_mul16x8_limbs(int16_t a, int8_t b);
int32_t octet__int_mul16x16_limbs(int16_t a, int16_t b);

/* IEEE binary32 bit pattern of v * 2^-frac, rounded to nearest even, built with integer operations only. */
uint32_t octet__int_to_f32_bits(int64_t v, int frac);

#endif
