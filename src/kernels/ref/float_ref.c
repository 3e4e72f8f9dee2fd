/*
 * float_ref.c - reference kernels for the float types F32, F16 (IEEE binary16) and BF16 (upper half of an IEEE
 * binary32), and the float helpers of the forward pass (dot, axpy, scale).
 *
 * Dots of a float-type weight row with an F32 activation row accumulate in double, in element order: this is the
 * specification the AVX2 twins (float accumulation in 32 lanes) are measured against.
 */
#include "kernels/kernels_impl.h"

#include <string.h>

#include "core/core.h"

void octet__to_float_f32_ref(const void *src, float *dst, int64_t n) {
    const float *x = src;
    for (int64_t i = 0; i < n; i++) dst[i] = x[i];
}

void octet__from_float_f32_ref(const float *src, void *dst, int64_t n) {
    float *y = dst;
    for (int64_t i = 0; i < n; i++) y[i] = src[i];
}

void octet__to_float_f16_ref(const void *src, float *dst, int64_t n) {
    const uint16_t *x = src;
    for (int64_t i = 0; i < n; i++) dst[i] = octet__fp16_to_fp32(x[i]);
}

void octet__from_float_f16_ref(const float *src, void *dst, int64_t n) {
    uint16_t *y = dst;
    for (int64_t i = 0; i < n; i++) y[i] = octet__fp32_to_fp16(src[i]);
}

void octet__to_float_bf16_ref(const void *src, float *dst, int64_t n) {
    const uint16_t *x = src;
    for (int64_t i = 0; i < n; i++) dst[i] = octet__bf16_to_fp32(x[i]);
}

void octet__from_float_bf16_ref(const float *src, void *dst, int64_t n) {
    uint16_t *y = dst;
    for (int64_t i = 0; i < n; i++) y[i] = octet__fp32_to_bf16(src[i]);
}

void octet__dot_f32_f32_ref(int64_t n, float *s, const void *w, const void *a) {
    const float *x = w, *y = a;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)x[i] * (double)y[i];
    *s = (float)sum;
}

void octet__dot_f16_f32_ref(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w;
    const float *y = a;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)octet__fp16_to_fp32(x[i]) * (double)y[i];
    *s = (float)sum;
}

void octet__dot_bf16_f32_ref(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w;
    const float *y = a;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)octet__bf16_to_fp32(x[i]) * (double)y[i];
    *s = (float)sum;
}

float octet__fdot_f32_ref(const float *a, const float *b, int64_t n) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)a[i] * (double)b[i];
    return (float)sum;
}

void octet__faxpy_f32_ref(float *y, float a, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

void octet__fscores_f32_ref(float *out, const float *q, const float *k, size_t stride, int64_t n, int64_t hd,
                            float scale) {
    for (int64_t j = 0; j < n; j++) out[j] = octet__fdot_f32_ref(q, k + (size_t)j * stride, hd) * scale;
}

void octet__fwsum_f32_ref(float *out, const float *p, float inv, const float *v, size_t stride, int64_t n,
                          int64_t hd) {
    for (int64_t i = 0; i < hd; i++) out[i] = 0.0f;
    for (int64_t j = 0; j < n; j++) octet__faxpy_f32_ref(out, p[j] * inv, v + (size_t)j * stride, hd);
}

void octet__fscale_f32_ref(float *y, float a, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] *= a;
}

/* Cephes expf (constants and reference in kernels_impl.h); the AVX2 twin does the same operations per lane. */
static float exp_one(float x) {
    if (!(x >= OCTET__EXP_LO)) return 0.0f; /* also -inf and NaN */
    if (x > OCTET__EXP_HI) x = OCTET__EXP_HI;
    const float n = (x * OCTET__EXP_LOG2E + OCTET__EXP_ROUND) - OCTET__EXP_ROUND;
    float r = x - n * OCTET__EXP_C1;
    r = r - n * OCTET__EXP_C2;
    float p = OCTET__EXP_P0;
    p = p * r + OCTET__EXP_P1;
    p = p * r + OCTET__EXP_P2;
    p = p * r + OCTET__EXP_P3;
    p = p * r + OCTET__EXP_P4;
    p = p * r + OCTET__EXP_P5;
    p = (p * r * r + r) + 1.0f;
    const uint32_t bits = (uint32_t)((int32_t)n + 127) << 23; /* n in [-126, 127]: a normal power of two */
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return p * two_n;
}

void octet__fexp_f32_ref(float *y, const float *x, int64_t n, float m, float s) {
    for (int64_t i = 0; i < n; i++) y[i] = exp_one((x[i] - m) * s);
}
