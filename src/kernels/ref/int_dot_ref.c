/*
 * int_dot_ref.c - portable integer dot kernels of the integer-only mode: the specification the AVX2 twins in
 * ../avx2/int_dot_avx2.c must match bit for bit. Integer arithmetic only: `make intonly` compiles this file with
 * -mgeneral-regs-only.
 */
#include "kernels/int_kernels.h"
#include "kernels/intmath.h"

int64_t octet__int_dot_q8_ref(int64_t n_blocks, const uint8_t *w, int e, const int8_t *a, const int16_t *as) {
    int64_t acc = 0;
    for (int64_t b = 0; b < n_blocks; b++) {
        const uint8_t *blk = w + (size_t)b * OCTET_INT_BLOCK;
        const int8_t *wb = (const int8_t *)(blk + 2), *ab = a + (size_t)b * 32;
        int32_t s = 0; /* |s| <= 32 * 128 * 127 < 2^19 */
        for (int j = 0; j < 32; j++) s += (int32_t)wb[j] * (int32_t)ab[j];
        const int32_t ws = octet__int_block_scale(octet__int_block_h(blk), e);
        acc += (int64_t)s * (ws * (int32_t)as[b]);
    }
    return acc;
}

void octet__int_dot4_q8_ref(int64_t n_blocks, const uint8_t *w, int e, const int8_t *a, size_t a_stride,
                            const int16_t *as, size_t as_stride, int64_t out[4]) {
    for (int t = 0; t < 4; t++)
        out[t] = octet__int_dot_q8_ref(n_blocks, w, e, a + (size_t)t * a_stride, as + (size_t)t * as_stride);
}

/* int16 x int8 product from two 8-bit products: q = q_hi * 256 + q_lo, q_hi signed, q_lo unsigned */
static inline int32_t mul_limbs(int16_t q, int8_t k) {
    int32_t qh = (int32_t)q >> 8, ql = (int32_t)((uint16_t)q & 255u);
    return qh * k * 256 + ql * k;
}

static inline int32_t rh(int32_t a, int32_t b) { return (a * b + (1 << 14)) >> 15; }
static inline int32_t sat16(int32_t v) { return v > 32767 ? 32767 : v < -32768 ? -32768 : v; }

int64_t octet__int_score_ref(const int16_t *q, const int8_t *k, const int16_t *cs, int half, int hd) {
    const int16_t *qa = q, *qb = q + half, *c = cs, *s = cs + half;
    const int8_t *ka = k, *kb = k + half;
    int64_t r = 0;
    for (int i = 0; i < half; i++) {
        int16_t ra = (int16_t)sat16(rh(qa[i], c[i]) - rh(qb[i], s[i])); /* q turned by the angle */
        int16_t rb = (int16_t)sat16(rh(qa[i], s[i]) + rh(qb[i], c[i]));
        r += mul_limbs(ra, ka[i]) + mul_limbs(rb, kb[i]);
    }
    for (int j = 2 * half; j < hd; j++) r += mul_limbs(q[j], k[j]);
    return r;
}

void octet__int_scores_ref(const int16_t *q, const int8_t *k, size_t kstride, const int16_t *const *cs, int n,
                           int half, int hd, int64_t *out) {
    for (int j = 0; j < n; j++) out[j] = octet__int_score_ref(q, k + (size_t)j * kstride, cs[j], half, hd);
}

void octet__int_axpy_s8_ref(int32_t *y, int32_t w, const int8_t *x, int n) {
    for (int j = 0; j < n; j++) y[j] += w * x[j];
}

void octet__int_wsum_s8_ref(int32_t *out, const int32_t *w, const int8_t *v, size_t stride, int n, int hd) {
    for (int d = 0; d < hd; d++) out[d] = 0;
    for (int j = 0; j < n; j++) octet__int_axpy_s8_ref(out, w[j], v + (size_t)j * stride, hd);
}

void octet__int_codes_ref(const int32_t *x, int n, int64_t r, int s, int8_t *q) {
    for (int j = 0; j < n; j++) {
        const int64_t v = (int64_t)x[j] * r;
        const int64_t m = v >> 63, mag = (v ^ m) - m; /* |v| */
        int64_t c = (mag + ((int64_t)1 << (s - 1))) >> s;
        if (c > 127) c = 127;
        q[j] = (int8_t)((c ^ m) - m);
    }
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
