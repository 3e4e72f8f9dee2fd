/*
 * kernels_impl.h - private to src/kernels/ and tests/kernels/: every reference kernel (ref/, the specification)
 * and its AVX2 twin (avx2/), declared so kernels.c can build the tables and the tests can call both sides.
 *
 * Conventions shared by all kernels:
 *   - n is the number of elements and is a multiple of the type's block size (callers check; the kernels do not).
 *   - Quantized dots accumulate the integer part of each block exactly in int32 and combine blocks in float.
 *   - Activation int8 codes are in [-127, 127]: every activation quantizer here produces that range, and the
 *     AVX2 dots rely on it (the _mm256_sign_epi8 trick is exact only when the activation is not -128).
 *     Weight codes may take every value a file can hold.
 *   - Non-finite inputs to a quantizer give defined but unspecified codes (never undefined behaviour).
 */
#ifndef OCTET_KERNELS_IMPL_H
#define OCTET_KERNELS_IMPL_H

#include "kernels.h"

#define OCTET__KDECL(sfx)                                                                                        \
    void octet__to_float_f32_##sfx(const void *src, float *dst, int64_t n);                                      \
    void octet__to_float_f16_##sfx(const void *src, float *dst, int64_t n);                                      \
    void octet__to_float_bf16_##sfx(const void *src, float *dst, int64_t n);                                     \
    void octet__to_float_q4_0_##sfx(const void *src, float *dst, int64_t n);                                     \
    void octet__to_float_q8_0_##sfx(const void *src, float *dst, int64_t n);                                     \
    void octet__from_float_q8_0_##sfx(const float *src, void *dst, int64_t n);                                   \
    void octet__from_float_q8_1_##sfx(const float *src, void *dst, int64_t n);                                   \
    void octet__from_float_q8_K_##sfx(const float *src, void *dst, int64_t n);                                   \
    void octet__dot_f32_f32_##sfx(int64_t n, float *s, const void *w, const void *a);                            \
    void octet__dot_f16_f32_##sfx(int64_t n, float *s, const void *w, const void *a);                            \
    void octet__dot_bf16_f32_##sfx(int64_t n, float *s, const void *w, const void *a);                           \
    void octet__dot_q4_0_q8_0_##sfx(int64_t n, float *s, const void *w, const void *a);                          \
    void octet__dot_q4_1_q8_1_##sfx(int64_t n, float *s, const void *w, const void *a);                          \
    void octet__dot_q5_0_q8_0_##sfx(int64_t n, float *s, const void *w, const void *a);                          \
    void octet__dot_q5_1_q8_1_##sfx(int64_t n, float *s, const void *w, const void *a);                          \
    void octet__dot_q8_0_q8_0_##sfx(int64_t n, float *s, const void *w, const void *a);                          \
    void octet__dot_q4_K_q8_K_##sfx(int64_t n, float *s, const void *w, const void *a);                          \
    void octet__dot_q6_K_q8_K_##sfx(int64_t n, float *s, const void *w, const void *a);                          \
    float octet__fdot_f32_##sfx(const float *a, const float *b, int64_t n);                                      \
    void octet__faxpy_f32_##sfx(float *y, float a, const float *x, int64_t n);                                   \
    void octet__fscale_f32_##sfx(float *y, float a, int64_t n);                                                  \
    void octet__fscores_f32_##sfx(float *out, const float *q, const float *k, size_t stride, int64_t n, int64_t hd,  \
                                  float scale);                                                                  \
    void octet__fwsum_f32_##sfx(float *out, const float *p, float inv, const float *v, size_t stride, int64_t n,    \
                                int64_t hd);                                                                     \
    void octet__fexp_f32_##sfx(float *y, const float *x, int64_t n, float m, float s);

/* the avx512 set's attention helpers (avx512/float_avx512.c) */
void octet__fscores_f32_avx512(float *out, const float *q, const float *k, size_t stride, int64_t n, int64_t hd,
                               float scale);
void octet__fwsum_f32_avx512(float *out, const float *p, float inv, const float *v, size_t stride, int64_t n,
                             int64_t hd);

/* exp_f32's constants (both tables). The algorithm is Cephes' single-precision expf (S. L. Moshier, Cephes Math
 * Library, expf.c): n = round(x log2 e) by adding 1.5 2^23; r = x - n ln2 in two parts (Cody-Waite: the high
 * part has few bits, so n C1 is exact); e^r by its degree-7 minimax polynomial on [-ln2/2, ln2/2]; times 2^n
 * built in the exponent field. Separate multiplies and adds (no FMA), so the AVX2 lanes round as the scalar
 * code does. Relative error about 2 ulp (tests/kernels/test_kernels.c bounds it against double exp). */
#define OCTET__EXP_LO -87.33654f /* ln FLT_MIN: below, the result is 0 */
#define OCTET__EXP_HI 88.0f      /* above, as at 88 (2^n stays finite) */
#define OCTET__EXP_LOG2E 1.44269504088896341f
#define OCTET__EXP_ROUND 12582912.0f /* 1.5 * 2^23 */
#define OCTET__EXP_C1 0.693359375f
#define OCTET__EXP_C2 -2.12194440e-4f
#define OCTET__EXP_P0 1.9875691500e-4f
#define OCTET__EXP_P1 1.3981999507e-3f
#define OCTET__EXP_P2 8.3334519073e-3f
#define OCTET__EXP_P3 4.1665795894e-2f
#define OCTET__EXP_P4 1.6666665459e-1f
#define OCTET__EXP_P5 5.0000001201e-1f

/* Kernels that exist in both flavours (reference "_ref", AVX2 "_avx2"). */
OCTET__KDECL(ref)
OCTET__KDECL(avx2)

/* Reference-only kernels (conversions that are not on the per-token path). */
void octet__from_float_f32_ref(const float *src, void *dst, int64_t n);
void octet__from_float_f16_ref(const float *src, void *dst, int64_t n);
void octet__from_float_bf16_ref(const float *src, void *dst, int64_t n);
void octet__to_float_q4_1_ref(const void *src, float *dst, int64_t n);
void octet__to_float_q5_0_ref(const void *src, float *dst, int64_t n);
void octet__to_float_q5_1_ref(const void *src, float *dst, int64_t n);
void octet__to_float_q8_1_ref(const void *src, float *dst, int64_t n);
void octet__to_float_q4_K_ref(const void *src, float *dst, int64_t n);
void octet__to_float_q6_K_ref(const void *src, float *dst, int64_t n);
void octet__to_float_q8_K_ref(const void *src, float *dst, int64_t n);
void octet__from_float_q4_0_ref(const float *src, void *dst, int64_t n);
void octet__from_float_q4_1_ref(const float *src, void *dst, int64_t n);
void octet__from_float_q5_0_ref(const float *src, void *dst, int64_t n);
void octet__from_float_q5_1_ref(const float *src, void *dst, int64_t n);
void octet__from_float_q4_K_ref(const float *src, void *dst, int64_t n);
void octet__from_float_q6_K_ref(const float *src, void *dst, int64_t n);

/* Q5_K (src/kernels/ref/kquant_ref.c and avx2/kquant_avx2.c, beside Q4_K's). */
void octet__to_float_q5_K_ref(const void *src, float *dst, int64_t n);
void octet__from_float_q5_K_ref(const float *src, void *dst, int64_t n);
void octet__dot_q5_K_q8_K_ref(int64_t n, float *s, const void *w, const void *a);
void octet__dot_q5_K_q8_K_avx2(int64_t n, float *s, const void *w, const void *a);

/* Unpack the 8 six-bit scales and 8 six-bit mins of a Q4_K block (ggml's get_scale_min_k4 layout):
 *   j < 4:  sc[j] = s[j] & 63,                            m[j] = s[j+4] & 63
 *   j >= 4: sc[j] = (s[j+4] & 15) | ((s[j-4] >> 6) << 4), m[j] = (s[j+4] >> 4) | ((s[j] >> 6) << 4) */
static inline void octet__q4_K_scales(const uint8_t s[K_SCALE_SIZE], uint8_t sc[8], uint8_t m[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        m[j] = s[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s[j + 8] & 15) | ((s[j] >> 6) << 4));
        m[j + 4] = (uint8_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
}

/* Tables for tests: the avx2 set's when the CPU can run it (whatever set is in use), else NULL; the ref float
 * helpers. Every set's tables: kset.h. */
const octet__type_traits *octet__kernels_simd(void);
const octet__fkernel_table *octet__fkernels_ref(void);
const octet__fkernel_table *octet__fkernels_simd(void);

/* Q4_K / Q5_K quantizer core shared by both (kquant_ref.c): d, dmin, packed 6-bit scales and codes 0..nmax. */
void octet__kq_quantize_superblock(const float *src, int nmax, uint16_t *d_out, uint16_t *dmin_out,
                                   uint8_t scales[K_SCALE_SIZE], uint8_t q[QK_K]);

#endif
