/*
 * float_avx2.c - AVX2+FMA+F16C twins of the float-type kernels (F32, F16, BF16 rows) and the float helpers.
 * Compiled with -mavx2 -mfma -mf16c; reached only through the SIMD table (octet__use_simd()).
 *
 * F32, F16 and BF16 rows use one chain per (row, token) shared by the dot, the tile and the 8-row GEMV (below). All differ from the reference
 * (double accumulation) only by float rounding, bounded in tests/kernels/. axpy and scale do the same
 * multiply-then-add in float as the reference (no FMA), so they are bit-identical to it.
 */
#include "kernels/kernels_impl.h"
#include "kernels/gemm.h"

#include <immintrin.h>
#include <string.h>

#include "core/core.h"

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256 load_f16x8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline __m256 load_bf16x8(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

void octet__to_float_f32_avx2(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }

void octet__to_float_f16_avx2(const void *src, float *dst, int64_t n) {
    const uint16_t *x = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16x8(x + i));
    for (; i < n; i++) dst[i] = octet__fp16_to_fp32(x[i]);
}

void octet__to_float_bf16_avx2(const void *src, float *dst, int64_t n) {
    const uint16_t *x = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_bf16x8(x + i));
    for (; i < n; i++) dst[i] = octet__bf16_to_fp32(x[i]);
}

/* One dot body for the three weight types; LOAD turns 8 weights at p into floats. */
#define DOT_BODY(LOAD, SCALAR)                                                                                   \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),                   \
           acc3 = _mm256_setzero_ps();                                                                           \
    int64_t i = 0;                                                                                               \
    for (; i + 32 <= n; i += 32) {                                                                               \
        acc0 = _mm256_fmadd_ps(LOAD(x + i), _mm256_loadu_ps(y + i), acc0);                                       \
        acc1 = _mm256_fmadd_ps(LOAD(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);                               \
        acc2 = _mm256_fmadd_ps(LOAD(x + i + 16), _mm256_loadu_ps(y + i + 16), acc2);                             \
        acc3 = _mm256_fmadd_ps(LOAD(x + i + 24), _mm256_loadu_ps(y + i + 24), acc3);                             \
    }                                                                                                            \
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(LOAD(x + i), _mm256_loadu_ps(y + i), acc0);                \
    float sum = hsum8(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));                      \
    for (; i < n; i++) sum += SCALAR(x[i]) * y[i];

static inline float id_f32(float v) { return v; }

/* ---- F32, F16 and BF16 weights x F32 activations: one arithmetic for the dot, the tile and the 8-row GEMV ----
 * dot = hsum8(acc) + the last n % 8 products one by one, where acc is ONE chain of FMAs over the 8-float groups
 * in order (weights converted to float first: exact for F16 and BF16). One chain per (row, token) lets the
 * multi-row kernels run 8 chains at once in a single linear pass over the rows (R rows x T tokens, R T = 8: R + T
 * loads per 8 FMAs), so they are bit-identical to this dot. The single-row dot itself is FMA-latency-bound; the
 * forward pass uses it only for leftover rows (n_out % 8). KIND: 0 F32, 1 F16, 2 BF16 weights. */
static inline __attribute__((always_inline)) __m256 load_w8(const uint8_t *p, const int KIND) {
    if (KIND == 1) return load_f16x8((const uint16_t *)(const void *)p);
    if (KIND == 2) return load_bf16x8((const uint16_t *)(const void *)p);
    return _mm256_loadu_ps((const float *)(const void *)p);
}
static inline __attribute__((always_inline)) float load_w1(const uint8_t *p, const int KIND) {
    uint16_t h;
    float f;
    if (KIND == 0) {
        memcpy(&f, p, 4);
        return f;
    }
    memcpy(&h, p, 2);
    return KIND == 1 ? octet__fp16_to_fp32(h) : octet__bf16_to_fp32(h);
}

static inline __attribute__((always_inline)) void tile_w(int64_t n, const void *w, size_t w_stride, const uint8_t *a,
                                                         size_t a_stride, const int R, const int T, float *s,
                                                         size_t s_stride, const int KIND, const int PF) {
    const size_t ES = KIND ? 2 : 4; /* weight bytes per element */
    const uint8_t *x[8];
    const float *y[4];
    _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) x[r] = (const uint8_t *)w + (size_t)r * w_stride;
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) y[c] = (const float *)(const void *)(a + (size_t)c * a_stride);
    __m256 acc[12]; /* R * T <= 12 */
    _Pragma("GCC unroll 12") for (int u = 0; u < R * T; u++) acc[u] = _mm256_setzero_ps();
    /* With 3 or 4 tokens the tile computes long enough per weight byte that the hardware prefetcher falls behind
     * on short rows; then each 64 bytes of a row also ask for the same offset in the next tile's rows (R rows on:
     * the next 8-row group after the last tile). Measured (bench: 8192 x 256 F32 rows from L3, 4 tokens):
     * 350 -> 285 us; at 2 KB rows and more it costs instead, so only for rows up to 8 KB away. */
    const int pf = PF && T >= 3 && (size_t)R * w_stride <= 8192;
    const int64_t pf_mask = (int64_t)(64 / ES) - 1;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 yv[4];
        if (pf && (i & pf_mask) == 0)
            _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) _mm_prefetch((const char *)(x[r] + (size_t)i * ES) + (size_t)R * w_stride, _MM_HINT_T0);
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) yv[c] = _mm256_loadu_ps(y[c] + i);
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {
            const __m256 wv = load_w8(x[r] + (size_t)i * ES, KIND);
            _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) acc[r * T + c] = _mm256_fmadd_ps(wv, yv[c], acc[r * T + c]);
        }
    }
    _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
            float sum = hsum8(acc[r * T + c]);
            for (int64_t j = i; j < n; j++) sum += load_w1(x[r] + (size_t)j * ES, KIND) * y[c][j];
            s[(size_t)c * s_stride + (size_t)r] = sum;
        }
}

/* One weight row against nc tokens (T = nc chains), and 8 rows against nc tokens (tiles of 8 x 1, 4 x 2, 4 x 3
 * (12 chains) or 2 x 4; s[c * 8 + r]), for each weight kind. */
#define FLOAT_KERNELS(SFX, KIND)                                                                                 \
    void octet__dot_##SFX##_f32_avx2(int64_t n, float *s, const void *w, const void *a) {                       \
        tile_w(n, w, 0, a, 0, 1, 1, s, 1, KIND, 1);                                                                 \
    }                                                                                                            \
    void octet__gemm_##SFX##_f32_avx2(int64_t n, float *s, const void *w, const void *a, size_t a_stride,       \
                                      int nc) {                                                                  \
        const uint8_t *ab = a;                                                                                   \
        switch (nc) {                                                                                            \
        case 1: tile_w(n, w, 0, ab, a_stride, 1, 1, s, 1, KIND, 1); break;                                         \
        case 2: tile_w(n, w, 0, ab, a_stride, 1, 2, s, 1, KIND, 1); break;                                         \
        case 3: tile_w(n, w, 0, ab, a_stride, 1, 3, s, 1, KIND, 1); break;                                         \
        default: tile_w(n, w, 0, ab, a_stride, 1, 4, s, 1, KIND, 1); break;                                        \
        }                                                                                                        \
    }                                                                                                            \
    void octet__gemv8_##SFX##_f32_avx2(int64_t n, float *s, const void *w, size_t w_stride, const void *pf,     \
                                       const void *a, size_t a_stride, int nc, const octet__q8_aux *aux,         \
                                       size_t aux_stride) {                                                      \
        (void)pf, (void)aux, (void)aux_stride; /* float rows: the hardware prefetcher follows them */            \
        const uint8_t *ab = a, *wb = w;                                                                          \
        switch (nc) {                                                                                            \
        case 1: tile_w(n, w, w_stride, ab, a_stride, 8, 1, s, 8, KIND, 1); break;                                  \
        case 2:                                                                                                  \
            for (int r0 = 0; r0 < 8; r0 += 4)                                                                    \
                tile_w(n, wb + (size_t)r0 * w_stride, w_stride, ab, a_stride, 4, 2, s + r0, 8, KIND, 1);           \
            break;                                                                                               \
        case 3:                                                                                                  \
            for (int r0 = 0; r0 < 8; r0 += 4)                                                                    \
                tile_w(n, wb + (size_t)r0 * w_stride, w_stride, ab, a_stride, 4, 3, s + r0, 8, KIND, 1);           \
            break;                                                                                               \
        default: /* 3 tokens in 4 x 3 tiles (12 chains), the fourth as 8 x 1 (the rows are in L1 by then) */         \
            for (int r0 = 0; r0 < 8; r0 += 4)                                                                    \
                tile_w(n, wb + (size_t)r0 * w_stride, w_stride, ab, a_stride, 4, 3, s + r0, 8, KIND, 1);           \
            tile_w(n, w, w_stride, ab + 3 * a_stride, a_stride, 8, 1, s + 24, 8, KIND, 0);                        \
            break;                                                                                               \
        }                                                                                                        \
    }
/* Row panels of the float types for prompt batches: the 8 rows converted to F32 once (exact), then tiles of 4 rows x
 * 3 tokens (12 chains: 4 weight and 3 activation loads per 12 FMAs) over the batch, 2 or 1 leftover tokens as 4 x 2
 * or 8 x 1 tiles. Each result is the same single chain as the type's dot, so equal to it bit for bit. */
size_t octet__panel_bytes_float_avx2(int64_t n) { return (size_t)n * 8 * sizeof(float); }

#define FLOAT_PACK(SFX, KIND)                                                                                    \
    void octet__pack_##SFX##_avx2(int64_t n, void *panel, const void *w, size_t w_stride, const void *pf) {            \
        float *dst = panel;                                                                                      \
        (void)pf;                                                                                                \
        const size_t ES = KIND ? 2 : 4;                                                                          \
        for (int r = 0; r < 8; r++) {                                                                            \
            const uint8_t *x = (const uint8_t *)w + (size_t)r * w_stride;                                        \
            float *d = dst + (size_t)r * (size_t)n;                                                              \
            int64_t i = 0;                                                                                       \
            for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, load_w8(x + (size_t)i * ES, KIND));               \
            for (; i < n; i++) d[i] = load_w1(x + (size_t)i * ES, KIND);                                         \
        }                                                                                                        \
    }
FLOAT_PACK(f32, 0)
FLOAT_PACK(f16, 1)
FLOAT_PACK(bf16, 2)

void octet__panel_gemm_float_avx2(int64_t n, float *s, size_t s_stride, const void *panel, const void *a,
                                  size_t a_stride, int nc, const octet__q8_aux *aux, size_t aux_stride) {
    (void)aux, (void)aux_stride;
    const uint8_t *ab = a;
    const float *p = panel;
    const size_t ps = (size_t)n * sizeof(float), half = (size_t)n * 4;
    int c0 = 0;
    for (; c0 + 3 <= nc; c0 += 3) {
        const uint8_t *ac = ab + (size_t)c0 * a_stride;
        float *sc = s + (size_t)c0 * s_stride;
        tile_w(n, p, ps, ac, a_stride, 4, 3, sc, s_stride, 0, 0);
        tile_w(n, p + half, ps, ac, a_stride, 4, 3, sc + 4, s_stride, 0, 0);
    }
    const uint8_t *ac = ab + (size_t)c0 * a_stride;
    float *sc = s + (size_t)c0 * s_stride;
    if (nc - c0 == 2) {
        tile_w(n, p, ps, ac, a_stride, 4, 2, sc, s_stride, 0, 0);
        tile_w(n, p + half, ps, ac, a_stride, 4, 2, sc + 4, s_stride, 0, 0);
    } else if (nc - c0 == 1) {
        tile_w(n, p, ps, ac, a_stride, 8, 1, sc, s_stride, 0, 0);
    }
}

FLOAT_KERNELS(f32, 0)
FLOAT_KERNELS(f16, 1)
FLOAT_KERNELS(bf16, 2)

float octet__fdot_f32_avx2(const float *x, const float *y, int64_t n) {
    DOT_BODY(_mm256_loadu_ps, id_f32)
    return sum;
}

void octet__faxpy_f32_avx2(float *y, float a, const float *x, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, _mm256_loadu_ps(x + i))));
    for (; i < n; i++) y[i] += a * x[i];
}

/* The attention loops with fdot's and faxpy's arithmetic inlined (head sizes are small, so a call per key cost
 * as much as its arithmetic). */
void octet__fscores_f32_avx2(float *out, const float *q, const float *k, size_t stride, int64_t n_keys, int64_t hd,
                             float scale) {
    const float *x = q;
    const int64_t n = hd;
    for (int64_t j = 0; j < n_keys; j++) {
        const float *y = k + (size_t)j * stride;
        DOT_BODY(_mm256_loadu_ps, id_f32)
        out[j] = sum * scale;
    }
}

void octet__fwsum_f32_avx2(float *out, const float *p, float inv, const float *v, size_t stride, int64_t n,
                           int64_t hd) {
    if (hd % 8 == 0 && hd <= 64) { /* the output in registers across all keys */
        __m256 o[8];
        const int nv = (int)(hd / 8);
        for (int u = 0; u < 8; u++) o[u] = _mm256_setzero_ps();
        for (int64_t j = 0; j < n; j++) {
            const float *x = v + (size_t)j * stride;
            const __m256 va = _mm256_set1_ps(p[j] * inv);
            _Pragma("GCC unroll 8") for (int u = 0; u < 8; u++) if (u < nv) o[u] =
                _mm256_add_ps(o[u], _mm256_mul_ps(va, _mm256_loadu_ps(x + 8 * u)));
        }
        for (int u = 0; u < nv; u++) _mm256_storeu_ps(out + 8 * u, o[u]);
        return;
    }
    memset(out, 0, (size_t)hd * sizeof *out);
    for (int64_t j = 0; j < n; j++) octet__faxpy_f32_avx2(out, p[j] * inv, v + (size_t)j * stride, hd);
}

/* exp_f32: the reference's operations (float_ref.c) on 8 lanes, so each lane rounds as the scalar code does. */
static inline __m256 exp8(__m256 x) {
    const __m256 ok = _mm256_cmp_ps(x, _mm256_set1_ps(OCTET__EXP_LO), _CMP_GE_OQ); /* false for NaN too */
    x = _mm256_min_ps(x, _mm256_set1_ps(OCTET__EXP_HI));
    const __m256 rnd = _mm256_set1_ps(OCTET__EXP_ROUND);
    const __m256 n = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(OCTET__EXP_LOG2E)), rnd), rnd);
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(OCTET__EXP_C1)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(OCTET__EXP_C2)));
    __m256 p = _mm256_set1_ps(OCTET__EXP_P0);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(OCTET__EXP_P1));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(OCTET__EXP_P2));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(OCTET__EXP_P3));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(OCTET__EXP_P4));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(OCTET__EXP_P5));
    p = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, r), r), r), _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), ok);
}

void octet__fexp_f32_avx2(float *y, const float *x, int64_t n, float m, float s) {
    const __m256 vm = _mm256_set1_ps(m), vs = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vs)));
    if (i < n) { /* the tail through the same lanes */
        float buf[8] = {0};
        memcpy(buf, x + i, (size_t)(n - i) * sizeof *buf);
        _mm256_storeu_ps(buf, exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(buf), vm), vs)));
        memcpy(y + i, buf, (size_t)(n - i) * sizeof *buf);
    }
}

void octet__fscale_f32_avx2(float *y, float a, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), va));
    for (; i < n; i++) y[i] *= a;
}
