/*
 * float_ref.c - reference kernels for the float types F32, F16 (IEEE binary16) and BF16 (upper half of an IEEE
 * binary32), and the float helpers of the forward pass (dot, axpy, scale).
 *
 * The dots' lane order is the specification (below); every set's twins equal it bit for bit.
 */
#include "kernels/kernels_impl.h"

#include <math.h>
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

/* The float dots' specification: element i goes to lane i mod 8 (over whole groups of 8), each lane one chain of
 * fused multiply-adds (fmaf: one rounding, as the FMA instructions of every set), from 0; the lanes summed as
 * ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)); then the last n mod 8 products added one by one (a multiply
 * and an add, two roundings). fdot first runs 32 lanes (4 groups of 8, group g taking elements 32k + 8g + l), adds
 * the remaining whole groups of 8 into group 0, and sums the groups as (g0 + g1) + (g2 + g3) lane by lane before
 * the same 8-lane sum. Every set's float dots reproduce these orders, so float logits are the same on all. */
static float sum8(const float l[8]) {
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

#define FDOT8(W)                                                                                                 \
    float acc[8] = {0};                                                                                          \
    int64_t i = 0;                                                                                               \
    for (; i + 8 <= n; i += 8)                                                                                   \
        for (int l = 0; l < 8; l++) acc[l] = fmaf(W(i + l), y[i + l], acc[l]);                                  \
    float sum = sum8(acc);                                                                                       \
    for (; i < n; i++) sum += W(i) * y[i];                                                                       \
    *s = sum;

void octet__dot_f32_f32_ref(int64_t n, float *s, const void *w, const void *a) {
    const float *x = w, *y = a;
#define W_F32(j) x[j]
    FDOT8(W_F32)
}

void octet__dot_f16_f32_ref(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w;
    const float *y = a;
#define W_F16(j) octet__fp16_to_fp32(x[j])
    FDOT8(W_F16)
}

void octet__dot_bf16_f32_ref(int64_t n, float *s, const void *w, const void *a) {
    const uint16_t *x = w;
    const float *y = a;
#define W_BF16(j) octet__bf16_to_fp32(x[j])
    FDOT8(W_BF16)
}

float octet__fdot_f32_ref(const float *x, const float *y, int64_t n) {
    float acc[4][8] = {{0}};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 8; l++) acc[g][l] = fmaf(x[i + 8 * g + l], y[i + 8 * g + l], acc[g][l]);
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[0][l] = fmaf(x[i + l], y[i + l], acc[0][l]);
    float t[8];
    for (int l = 0; l < 8; l++) t[l] = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
    float sum = sum8(t);
    for (; i < n; i++) sum += x[i] * y[i];
    return sum;
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
