/*
 * intmath.c - the integer arithmetic of the integer-only mode (contracts in intmath.h). Integer operations only:
 * `make intonly` compiles this file with -mgeneral-regs-only, so any floating point here fails the build.
 *
 * Constants are written as integers with their derivation:
 *   LN2_Q20  = round(ln 2 * 2^20)          = 726817
 *   B_Q20    = round(1.353 * 2^20)         = 1418723     I-BERT (Kim et al. 2021, "I-BERT: Integer-only BERT
 *   A_Q20    = round(0.3585 * 2^20)        = 375914      Quantization", sec. 3.4): exp(p) ~ 0.3585 (p + 1.353)^2
 *   C_Q30    = round(0.344 * 2^30)         = 369367187   + 0.344 for p in (-ln 2, 0]
 */
#include "model/int/intmath.h"

#include <string.h>

#define LN2_Q20 INT64_C(726817)
#define B_Q20 INT64_C(1418723)
#define A_Q20 INT64_C(375914)
#define C_Q30 INT64_C(369367187)
#define INV_LN2_Q40 INT64_C(1512776) /* floor(2^40 / 726817): never overestimates z */

int octet__int_bitlen(uint64_t v) { return v ? 64 - __builtin_clzll(v) : 0; }

uint64_t octet__int_isqrt64(uint64_t n) {
    uint64_t res = 0, bit = (uint64_t)1 << 62;
    while (bit > n) bit >>= 2;
    while (bit) {
        if (n >= res + bit) {
            n -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    return res;
}

int32_t octet__int_exp_q30(int64_t x) {
    if (x > 0) x = 0;
    if (x <= -32 * LN2_Q20) return 0;
    /* z = floor(-x / ln2) by a reciprocal (2^40 / LN2_Q20 rounded down) and one correction step */
    int64_t z = (-x * INV_LN2_Q40) >> 40;
    int64_t p = x + z * LN2_Q20;
    if (p <= -LN2_Q20) {
        z++;
        p += LN2_Q20;
    }                                        /* p in (-ln2, 0] in Q20, z <= 31 */
    int64_t t = p + B_Q20;                   /* (0.66, 1.353] in Q20, < 2^21 */
    int64_t l = ((t * t) * A_Q20 + (INT64_C(1) << 29)) >> 30; /* Q40 * Q20 -> Q30 */
    l += C_Q30;
    return (int32_t)(z ? (l + (INT64_C(1) << (z - 1))) >> z : l);
}

int32_t octet__int_sigmoid_q30(int64_t x) {
    int64_t ax = x < 0 ? -x : x;
    int64_t d = (INT64_C(1) << 30) + octet__int_exp_q30(-ax); /* (1 + e^-|x|) in Q30 */
    int64_t sp = ((INT64_C(1) << 60) + d / 2) / d;          /* sigmoid(|x|) in Q30 */
    return (int32_t)(x >= 0 ? sp : (INT64_C(1) << 30) - sp);
}

void octet__int_swiglu_ref(int32_t *g, const int32_t *u, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int64_t gi = g[i];
        int64_t sg = octet__int_sigmoid_q30(gi * (1 << (OCTET_INT_FE - OCTET_INT_FX)));
        int64_t silu = octet__int_shift_round(gi * sg, 30); /* Q16 */
        g[i] = octet__int_sat32(octet__int_shift_round(silu * u[i], OCTET_INT_FX));
    }
}

void octet__int_softmax_q30(const int64_t *s, int32_t *p, int n) {
    if (n <= 0) return;
    int64_t mx = s[0];
    for (int j = 1; j < n; j++)
        if (s[j] > mx) mx = s[j];
    int64_t sum = 0;
    for (int j = 0; j < n; j++) {
        p[j] = octet__int_exp_q30(s[j] - mx);
        sum += p[j];
    }
    /* sum >= exp(0) ~ 2^30, so inv <= 2^31 and p * inv < 2^62 */
    int64_t inv = ((INT64_C(1) << 61) + sum / 2) / sum;
    for (int j = 0; j < n; j++) p[j] = (int32_t)(((int64_t)p[j] * inv + (INT64_C(1) << 30)) >> 31);
}

void octet__int_qscale_ref(int64_t *sc, const int16_t *ksc, const int8_t *ksh, int n, int32_t m, int base) {
    for (int j = 0; j < n; j++) sc[j] = octet__int_mulshift(sc[j] * ksc[j], m, base - ksh[j]);
}

void octet__int_vweights_ref(int32_t *p, const int16_t *vsc, const int8_t *vsh, int n, int base) {
    for (int j = 0; j < n; j++) p[j] = (int32_t)octet__int_shift_round((int64_t)p[j] * vsc[j], base - vsh[j]);
}

void octet__int_rescale32_ref(int32_t *out, const int32_t *acc, int n, int32_t m, int s) {
    for (int j = 0; j < n; j++) out[j] = octet__int_sat32(octet__int_mulshift(acc[j], m, s));
}

int octet__int_qhead_shift(uint64_t qmax) {
    /* qmax 2^-sh in [2^14, 2^15): rounded at most 2^15, and one more shift brings it to at most 2^14 <= 23170 */
    int sh = octet__int_bitlen(qmax) - 15;
    while (octet__int_shift_round((int64_t)qmax, sh) > 23170) sh++;
    return sh;
}

int octet__int_qhead_ref(const int32_t *v, int hd, int half, int pairs, int16_t *out) {
    uint64_t qmax = 0;
    for (int j = 0; j < hd; j++) {
        uint64_t a = v[j] < 0 ? (uint64_t)-(int64_t)v[j] : (uint64_t)v[j];
        qmax = a > qmax ? a : qmax;
    }
    const int sh = octet__int_qhead_shift(qmax);
    if (pairs) {
        for (int i = 0; i < half; i++) {
            out[i] = (int16_t)octet__int_shift_round(v[2 * i], sh);
            out[half + i] = (int16_t)octet__int_shift_round(v[2 * i + 1], sh);
        }
    } else {
        for (int i = 0; i < 2 * half; i++) out[i] = (int16_t)octet__int_shift_round(v[i], sh);
    }
    for (int j = 2 * half; j < hd; j++) out[j] = (int16_t)octet__int_shift_round(v[j], sh);
    return sh;
}

int octet__int_rms_shift(uint64_t mx, int n) {
    /* keep n * (x >> sh)^2 below 2^62 */
    int sh = octet__int_bitlen(mx) - (62 - octet__int_bitlen((uint64_t)n)) / 2;
    return sh < 0 ? 0 : sh;
}

int64_t octet__int_rms_inv(uint64_t ss, int sh, int n, int64_t eps_q32, int *s1) {
    /* mean square in units of 2^(2 sh - 32), plus eps in the same units */
    uint64_t v = ss / (uint64_t)n + (uint64_t)octet__int_shift_round(eps_q32, 2 * sh);
    if (v == 0) v = 1;
    int k = 62 - octet__int_bitlen(v); /* even k with v << k in [2^60, 2^62) */
    if (k & 1) k--;
    uint64_t r = octet__int_isqrt64(v << k);          /* [2^30, 2^31): rms = r * 2^(-k/2 + sh - 16) */
    int64_t inv = (int64_t)(((uint64_t)1 << 61) + r / 2) / (int64_t)r; /* (2^30, 2^31] */
    *s1 = 37 - k / 2 + sh;                             /* x * inv * 2^-s1 = x / rms in Q24 */
    return inv;
}

void octet__int_rms_scale(int32_t *out, const int32_t *x, const int32_t *g, int n, int64_t inv, int s1, int s2) {
    for (int j = 0; j < n; j++) {
        int64_t u = octet__int_shift_round((int64_t)x[j] * inv, s1);
        out[j] = octet__int_sat32(octet__int_shift_round(u * g[j], s2));
    }
}

void octet__int_rmsnorm(int32_t *out, const int32_t *x, const int32_t *g, int g_shift, int n, int64_t eps_q32) {
    uint64_t mx = 0;
    for (int j = 0; j < n; j++) {
        uint64_t a = x[j] < 0 ? (uint64_t)(-(int64_t)x[j]) : (uint64_t)x[j];
        if (a > mx) mx = a;
    }
    int sh = octet__int_rms_shift(mx, n);
    uint64_t ss = 0;
    for (int j = 0; j < n; j++) {
        int64_t v = octet__int_shift_round(x[j], sh);
        ss += (uint64_t)(v * v);
    }
    int s1;
    int64_t inv = octet__int_rms_inv(ss, sh, n, eps_q32, &s1);
    octet__int_rms_scale(out, x, g, n, inv, s1, 24 + g_shift - OCTET_INT_FX);
}

void octet__int_quant_row(const int32_t *x, int n, int8_t *q, int16_t *sc, int *sa_out, octet__int_codes_fn codes) {
    uint64_t mx = 0;
    for (int j = 0; j < n; j++) {
        uint64_t a = x[j] < 0 ? (uint64_t)(-(int64_t)x[j]) : (uint64_t)x[j];
        if (a > mx) mx = a;
    }
    int nb = n / 32;
    if (mx == 0) {
        memset(q, 0, (size_t)n);
        memset(sc, 0, (size_t)nb * sizeof *sc);
        *sa_out = 0;
        return;
    }
    int sa = octet__int_bitlen(mx) - 14;
    *sa_out = sa;
    for (int b = 0; b < nb; b++) {
        const int32_t *xb = x + 32 * b;
        int8_t *qb = q + 32 * b;
        int64_t amax = 0;
        for (int j = 0; j < 32; j++) {
            int64_t a = xb[j] < 0 ? -(int64_t)xb[j] : xb[j];
            if (a > amax) amax = a;
        }
        int64_t d = sa >= 0 ? (amax + (INT64_C(1) << sa) - 1) >> sa : amax * (INT64_C(1) << -sa); /* <= 2^14 */
        sc[b] = (int16_t)d;
        if (d == 0) {
            memset(qb, 0, 32);
            continue;
        }
        octet__int_quant_codes_k(xb, 32, d, sa, qb, codes);
    }
}

void octet__int_quant_codes(const int32_t *x, int n, int64_t den, int sa, int8_t *q) {
    octet__int_quant_codes_k(x, n, den, sa, q, NULL);
}

void octet__int_quant_codes_k(const int32_t *x, int n, int64_t den, int sa, int8_t *q, octet__int_codes_fn codes) {
    /* value = x * 2^-sa against den; R < 2^30 and |value * R| < 2^62 for den <= 2^32, |x| <= den * 2^sa */
    int k = octet__int_bitlen((uint64_t)den) + 22;
    int64_t r = ((INT64_C(127) << k) + den / 2) / den;
    if (sa >= 0 && k + sa <= 62) { /* round(x r 2^-(k + sa)), clamped: the codes kernels' contract */
        (codes ? codes : octet__int_codes_ref)(x, n, r, k + sa, q);
        return;
    }
    for (int j = 0; j < n; j++) {
        int64_t v = (int64_t)x[j];
        if (sa < 0) v *= INT64_C(1) << -sa;
        int64_t c = octet__int_shift_round(v * r, k + (sa > 0 ? sa : 0));
        q[j] = (int8_t)(c > 127 ? 127 : c < -127 ? -127 : c);
    }
}

int32_t octet__int_mul16x8_limbs(int16_t a, int8_t b) {
    int32_t ah = (int32_t)a >> 8, al = (int32_t)((uint16_t)a & 255u); /* a = ah * 256 + al */
    return ah * b * 256 + al * b;
}

int32_t octet__int_mul16x16_limbs(int16_t a, int16_t b) {
    int32_t ah = (int32_t)a >> 8, al = (int32_t)((uint16_t)a & 255u);
    int32_t bh = (int32_t)b >> 8, bl = (int32_t)((uint16_t)b & 255u);
    return ah * bh * 65536 + (ah * bl + al * bh) * 256 + al * bl;
}

uint32_t octet__int_to_f32_bits(int64_t v, int frac) {
    uint32_t sign = v < 0 ? 0x80000000u : 0u;
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (!mag) return sign;
    int e = octet__int_bitlen(mag) - 1; /* mag in [2^e, 2^(e+1)) */
    uint64_t mant;
    if (e > 23) {
        int sh = e - 23;
        uint64_t rem = mag & (((uint64_t)1 << sh) - 1), half = (uint64_t)1 << (sh - 1);
        mant = mag >> sh;
        if (rem > half || (rem == half && (mant & 1))) mant++;
        if (mant == ((uint64_t)1 << 24)) {
            mant >>= 1;
            e++;
        }
    } else {
        mant = mag << (23 - e);
    }
    int be = e - frac + 127;
    if (be >= 255) return sign | 0x7f800000u;
    if (be <= 0) return sign; /* below 2^-126: not reachable from Q16 values */
    return sign | (uint32_t)be << 23 | (uint32_t)(mant & 0x7fffffu);
}
