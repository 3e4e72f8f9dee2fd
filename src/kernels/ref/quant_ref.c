/*
 * quant_ref.c - reference kernels for the 32-element block types Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and the
 * activation type Q8_1: dequantize, quantize, and dot with the activation type.
 *
 * Block layouts: src/tensor/types.h and docs/kernels.md. The quantizers implement ggml's published reference
 * quantizers (ggml/src/ggml-quants.c, quantize_row_{q4_0,q4_1,q5_0,q5_1,q8_0,q8_1}_ref) step for step, so
 * that a model quantized here has the same bytes as one quantized by llama.cpp's reference path:
 *   Q4_0: max = the element of largest magnitude (first one, signed); d = max / -8; id = d ? 1/d : 0;
 *         q = min(15, trunc(x*id + 8.5))                                        w = d * (q - 8)
 *   Q5_0: as Q4_0 with d = max / -16, q = min(31, trunc(x*id + 16.5))            w = d * (q - 16)
 *   Q4_1: d = (max - min) / 15, m = min; q = min(15, trunc((x - min)*id + 0.5))   w = d * q + m
 *   Q5_1: d = (max - min) / 31, m = min; q = trunc((x - min)*id + 0.5)             w = d * q + m
 *   Q8_0: amax = max |x|; d = amax / 127; q = roundf(x*id) (half away from zero)   w = d * q
 *   Q8_1: as Q8_0, and s = fp16(d * sum(q)) (the int sum, converted to float, times the float d)
 * d, m and s are stored as fp16; q is computed with the unrounded float d (ggml does the same).
 * The only departure: a non-finite x*id (inputs holding inf/NaN) yields a clamped code instead of the
 * undefined float-to-int conversion of the original.
 *
 * Dots (n a multiple of 32): per block an exact int32 sum of products of codes, then
 *   Q4_0/Q5_0/Q8_0 x Q8_0: sumf += sumi * (dw * da)
 *   Q4_1/Q5_1 x Q8_1:      sumf += sumi * (dw * da) + mw * sa     (sa = da * sum(qa) carries the min term)
 * with dw, da, mw, sa the fp16 fields widened to float, accumulated in block order in float.
 */
#include "kernels/kernels_impl.h"

#include <math.h>
#include <string.h>

#include "core/core.h"

/* float -> integer conversions of the reference quantizers; identical to the C casts for in-range values. */
static inline int trunc_code(float v) {
    if (!(v > -128.0f && v < 256.0f)) return 0; /* NaN or out of range: only non-finite inputs get here */
    return (int)v;
}
static inline int round_code(float v) {
    if (!(v > -128.0f && v < 128.0f)) return v > 0 ? 127 : (v < 0 ? -127 : 0);
    return (int)roundf(v);
}

static inline float h2f(uint16_t h) { return octet__fp16_to_fp32(h); }
static inline uint16_t f2h(float f) { return octet__fp32_to_fp16(f); }

/* Largest-magnitude element, signed; the first one wins ties (ggml: `if (amax < fabsf(v))`). */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, int n, float *mn, float *mx) {
    float lo = 3.40282347e38f, hi = -3.40282347e38f;
    for (int j = 0; j < n; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

/* ---- Q4_0 ------------------------------------------------------------------------------------------------ */
void octet__to_float_q4_0_ref(const void *src, float *dst, int64_t n) {
    const block_q4_0 *x = src;
    for (int64_t i = 0; i < n / QK4_0; i++, dst += QK4_0) {
        const float d = h2f(x[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            dst[j] = (float)((x[i].qs[j] & 15) - 8) * d;
            dst[j + QK4_0 / 2] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void octet__from_float_q4_0_ref(const float *src, void *dst, int64_t n) {
    block_q4_0 *y = dst;
    for (int64_t i = 0; i < n / QK4_0; i++, src += QK4_0) {
        const float d = signed_absmax(src, QK4_0) / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f2h(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            int q0 = trunc_code(src[j] * id + 8.5f), q1 = trunc_code(src[j + QK4_0 / 2] * id + 8.5f);
            q0 = q0 < 15 ? q0 : 15;
            q1 = q1 < 15 ? q1 : 15;
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void octet__dot_q4_0_q8_0_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        int32_t sumi = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            sumi += ((x[i].qs[j] & 15) - 8) * y[i].qs[j];
            sumi += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + QK4_0 / 2];
        }
        sumf += (float)sumi * (h2f(x[i].d) * h2f(y[i].d));
    }
    *s = sumf;
}

/* ---- Q4_1 ------------------------------------------------------------------------------------------------ */
void octet__to_float_q4_1_ref(const void *src, float *dst, int64_t n) {
    const block_q4_1 *x = src;
    for (int64_t i = 0; i < n / QK4_1; i++, dst += QK4_1) {
        const float d = h2f(x[i].d), m = h2f(x[i].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            dst[j] = (float)(x[i].qs[j] & 15) * d + m;
            dst[j + QK4_1 / 2] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

void octet__from_float_q4_1_ref(const float *src, void *dst, int64_t n) {
    block_q4_1 *y = dst;
    for (int64_t i = 0; i < n / QK4_1; i++, src += QK4_1) {
        float mn, mx;
        min_max(src, QK4_1, &mn, &mx);
        const float d = (mx - mn) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f2h(d);
        y[i].m = f2h(mn);
        for (int j = 0; j < QK4_1 / 2; j++) {
            int q0 = trunc_code((src[j] - mn) * id + 0.5f), q1 = trunc_code((src[j + QK4_1 / 2] - mn) * id + 0.5f);
            q0 = q0 < 15 ? q0 : 15;
            q1 = q1 < 15 ? q1 : 15;
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void octet__dot_q4_1_q8_1_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK4_1; i++) {
        int32_t sumi = 0;
        for (int j = 0; j < QK4_1 / 2; j++) {
            sumi += (x[i].qs[j] & 15) * y[i].qs[j];
            sumi += (x[i].qs[j] >> 4) * y[i].qs[j + QK4_1 / 2];
        }
        sumf += (float)sumi * (h2f(x[i].d) * h2f(y[i].d)) + h2f(x[i].m) * h2f(y[i].s);
    }
    *s = sumf;
}

/* ---- Q5_0 / Q5_1: bit j of the little-endian uint32 qh is the 5th bit of weight j --------------------------- */
static inline uint32_t load_qh(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | ((uint32_t)qh[1] << 8) | ((uint32_t)qh[2] << 16) | ((uint32_t)qh[3] << 24);
}
static inline void store_qh(uint8_t qh[4], uint32_t v) {
    for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(v >> (8 * k));
}
/* 5-bit code of weight j of a Q5 block */
static inline int q5_code(const uint8_t *qs, uint32_t qh, int j) {
    int nib = j < 16 ? (qs[j] & 15) : (qs[j - 16] >> 4);
    return nib | (int)(((qh >> j) & 1) << 4);
}

void octet__to_float_q5_0_ref(const void *src, float *dst, int64_t n) {
    const block_q5_0 *x = src;
    for (int64_t i = 0; i < n / QK5_0; i++, dst += QK5_0) {
        const float d = h2f(x[i].d);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < QK5_0; j++) dst[j] = (float)(q5_code(x[i].qs, qh, j) - 16) * d;
    }
}

void octet__from_float_q5_0_ref(const float *src, void *dst, int64_t n) {
    block_q5_0 *y = dst;
    for (int64_t i = 0; i < n / QK5_0; i++, src += QK5_0) {
        const float d = signed_absmax(src, QK5_0) / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f2h(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            int q0 = trunc_code(src[j] * id + 16.5f), q1 = trunc_code(src[j + QK5_0 / 2] * id + 16.5f);
            q0 = q0 < 31 ? q0 : 31;
            q1 = q1 < 31 ? q1 : 31;
            y[i].qs[j] = (uint8_t)((q0 & 15) | ((q1 & 15) << 4));
            qh |= (uint32_t)(q0 >> 4) << j;
            qh |= (uint32_t)(q1 >> 4) << (j + QK5_0 / 2);
        }
        store_qh(y[i].qh, qh);
    }
}

void octet__dot_q5_0_q8_0_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK5_0; i++) {
        const uint32_t qh = load_qh(x[i].qh);
        int32_t sumi = 0;
        for (int j = 0; j < QK5_0; j++) sumi += (q5_code(x[i].qs, qh, j) - 16) * y[i].qs[j];
        sumf += (float)sumi * (h2f(x[i].d) * h2f(y[i].d));
    }
    *s = sumf;
}

void octet__to_float_q5_1_ref(const void *src, float *dst, int64_t n) {
    const block_q5_1 *x = src;
    for (int64_t i = 0; i < n / QK5_1; i++, dst += QK5_1) {
        const float d = h2f(x[i].d), m = h2f(x[i].m);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < QK5_1; j++) dst[j] = (float)q5_code(x[i].qs, qh, j) * d + m;
    }
}

void octet__from_float_q5_1_ref(const float *src, void *dst, int64_t n) {
    block_q5_1 *y = dst;
    for (int64_t i = 0; i < n / QK5_1; i++, src += QK5_1) {
        float mn, mx;
        min_max(src, QK5_1, &mn, &mx);
        const float d = (mx - mn) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f2h(d);
        y[i].m = f2h(mn);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            /* ggml stores (uint8_t)(v + 0.5f) without a clamp; v <= 31 up to rounding, so the code fits */
            const int q0 = trunc_code((src[j] - mn) * id + 0.5f) & 31;
            const int q1 = trunc_code((src[j + QK5_1 / 2] - mn) * id + 0.5f) & 31;
            y[i].qs[j] = (uint8_t)((q0 & 15) | ((q1 & 15) << 4));
            qh |= (uint32_t)(q0 >> 4) << j;
            qh |= (uint32_t)(q1 >> 4) << (j + QK5_1 / 2);
        }
        store_qh(y[i].qh, qh);
    }
}

void octet__dot_q5_1_q8_1_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_1 *x = w;
    const block_q8_1 *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK5_1; i++) {
        const uint32_t qh = load_qh(x[i].qh);
        int32_t sumi = 0;
        for (int j = 0; j < QK5_1; j++) sumi += q5_code(x[i].qs, qh, j) * y[i].qs[j];
        sumf += (float)sumi * (h2f(x[i].d) * h2f(y[i].d)) + h2f(x[i].m) * h2f(y[i].s);
    }
    *s = sumf;
}

/* ---- Q8_0 / Q8_1 ----------------------------------------------------------------------------------------- */
void octet__to_float_q8_0_ref(const void *src, float *dst, int64_t n) {
    const block_q8_0 *x = src;
    for (int64_t i = 0; i < n / QK8_0; i++, dst += QK8_0) {
        const float d = h2f(x[i].d);
        for (int j = 0; j < QK8_0; j++) dst[j] = (float)x[i].qs[j] * d;
    }
}

static float absmax(const float *x, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; j++) amax = amax > fabsf(x[j]) ? amax : fabsf(x[j]);
    return amax;
}

void octet__from_float_q8_0_ref(const float *src, void *dst, int64_t n) {
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / QK8_0; i++, src += QK8_0) {
        const float d = absmax(src, QK8_0) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f2h(d);
        for (int j = 0; j < QK8_0; j++) y[i].qs[j] = (int8_t)round_code(src[j] * id);
    }
}

void octet__dot_q8_0_q8_0_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q8_0 *x = w;
    const block_q8_0 *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int32_t sumi = 0;
        for (int j = 0; j < QK8_0; j++) sumi += x[i].qs[j] * y[i].qs[j];
        sumf += (float)sumi * (h2f(x[i].d) * h2f(y[i].d));
    }
    *s = sumf;
}

void octet__to_float_q8_1_ref(const void *src, float *dst, int64_t n) {
    const block_q8_1 *x = src;
    for (int64_t i = 0; i < n / QK8_1; i++, dst += QK8_1) {
        const float d = h2f(x[i].d);
        for (int j = 0; j < QK8_1; j++) dst[j] = (float)x[i].qs[j] * d;
    }
}

void octet__from_float_q8_1_ref(const float *src, void *dst, int64_t n) {
    block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / QK8_1; i++, src += QK8_1) {
        const float d = absmax(src, QK8_1) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f2h(d);
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) {
            y[i].qs[j] = (int8_t)round_code(src[j] * id);
            sum += y[i].qs[j];
        }
        y[i].s = f2h((float)sum * d);
    }
}
