/*
 * int_act_ref.c - the integer-only mode's exp, sigmoid, SwiGLU and softmax (contracts in ../intmath.h and
 * ../int_kernels.h; the AVX2 twins are ../avx2/int_act_avx2.c). Integer operations only.
 *
 * Constants are written as integers with their derivation:
 *   LN2_Q20  = round(ln 2 * 2^20)          = 726817
 *   B_Q20    = round(1.353 * 2^20)         = 1418723     I-BERT (Kim et al. 2021, "I-BERT: Integer-only BERT
 *   A_Q20    = round(0.3585 * 2^20)        = 375914      Quantization", sec. 3.4): exp(p) ~ 0.3585 (p + 1.353)^2
 *   C_Q30    = round(0.344 * 2^30)         = 369367187   + 0.344 for p in (-ln 2, 0]
 */
#include "kernels/intmath.h"


#define LN2_Q20 INT64_C(726817)
#define B_Q20 INT64_C(1418723)
#define A_Q20 INT64_C(375914)
#define C_Q30 INT64_C(369367187)
#define INV_LN2_Q40 INT64_C(1512776) /* floor(2^40 / 726817): never overestimates z */

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

void octet__int_softmax_q30_ref(const int64_t *s, int32_t *p, int n) {
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
