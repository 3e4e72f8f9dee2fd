/*
 * int_norm_ref.c - the integer-only mode's RMSNorm and activation quantizer (contracts in ../intmath.h; the AVX2
 * twins are ../avx2/int_norm_avx2.c). Integer operations only.
 */
#include "kernels/intmath.h"

#include <string.h>

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

void octet__int_rmsnorm_ref(int32_t *out, const int32_t *x, const int32_t *g, int g_shift, int n, int64_t eps_q32) {
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

void octet__int_quant_row_ref(const int32_t *x, int n, int8_t *q, int16_t *sc, int *sa_out, octet__int_codes_fn codes) {
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
