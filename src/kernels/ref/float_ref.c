/*
 * float_ref.c - reference kernels for the float types F32, F16 (IEEE binary16) and BF16 (upper half of an IEEE
 * binary32), and the float helpers of the forward pass (dot, axpy, scale).
 *
 * Dots of a float-type weight row with an F32 activation row accumulate in double, in element order: this is the
 * specification the AVX2 twins (float accumulation in 32 lanes) are measured against.
 */
#include "kernels/kernels_impl.h"

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
