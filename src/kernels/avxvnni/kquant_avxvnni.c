/*
 * kquant_avxvnni.c - the avxvnni twins of the K-quant panel products of ../avx2/kquant_avx2.c: Q4_K, Q5_K and Q6_K
 * row panels (the avx2 layout and packers, described there) against Q8_K tokens, each result equal bit for bit to
 * the reference dot (ref/kquant_ref.c; contract in ../gemm.h). Per super-block i the reference forms exact integers
 * and then one float term, added from 0.0f in super-block order, every operation rounded separately:
 *   Q4_K, Q5_K: dw = d*da, mw = dmin*da; sumf = sumf + (dw*(float)sumi - mw*(float)summ)
 *   Q6_K:       sumf = sumf + ((d*da)*(float)sumi)
 * Lane r of every vector is row r; the float steps are the avx2 kernels' (mul, sub, add; never fmadd).
 *
 * Integer part. VPDPBUSD (kernels_avxvnni.h) adds the products of a code vector W[g] (unsigned codes 0..15, 0..31
 * or 0..63) with the token's 4 activation bytes 4g..4g+3 (broadcast, signed) into int32 lanes. A sub-block's sum
 * (Q4_K / Q5_K: 32 elements, 8 groups; Q6_K: 16 elements, 4 groups; one chain per token: two per token measured no
 * faster, the tile's 4 tokens and the next sub-block keep enough products in flight)
 * is at most 32 * 31 * 128 < 2^17 in magnitude, then multiplied by the row's sub-block scale (VPMULLD with the scale
 * as int32: the low int16 of the panel's SC[j], sign-extended) and added: |sumi| <= 256 * 63 * 128 * 63 < 2^28.
 * Where AVX2 needs a VPMADDUBSW and an int16 add per group plus VPMADDWD per run (and, for Q5_K / Q6_K, shorter
 * int16 runs), this is one VPDPBUSD per group and one VPMULLD per sub-block. The mins (Q4_K, Q5_K) and Q6_K's -32
 * offset use the activation's bsums exactly as the avx2 kernels.
 */
#include "kernels/avxvnni/kernels_avxvnni.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "kernels/avx2/util_avx2.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define KV_INLINE static inline __attribute__((always_inline))
#define KP_TILE 4 /* tokens sharing one pass over the panel */

/* the avx2 panel layouts (kquant_avx2.c) */
#define Q4K_D 0
#define Q4K_DMIN 32
#define Q4K_SC 64
#define Q4K_MP 320
#define Q4K_W 448
#define Q4K_SB_BYTES 2496
#define Q6K_D 0
#define Q6K_SC 32
#define Q6K_SP 544
#define Q6K_W 800
#define Q6K_SB_BYTES 2848
#define Q8K_D offsetof(block_q8_K, d)
#define Q8K_QS offsetof(block_q8_K, qs)
#define Q8K_BSUMS offsetof(block_q8_K, bsums)

KV_INLINE __m256i load8i(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)(const void *)p); }
KV_INLINE __m256 load8f(const uint8_t *p) { return _mm256_loadu_ps((const float *)(const void *)p); }
KV_INLINE __m256 bcastf(const uint8_t *p) {
    float v;
    memcpy(&v, p, 4);
    return _mm256_set1_ps(v);
}
KV_INLINE __m256i dpbusd(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_avx_epi32(acc, u, s); }
/* a panel scale vector (lane r: the scale as two equal int16) -> the scale as int32 */
KV_INLINE __m256i scale32(const uint8_t *p) { return _mm256_srai_epi32(_mm256_slli_epi32(load8i(p), 16), 16); }

/* Q4_K / Q5_K, one token, the end of a super-block (as kquant_avx2.c's q4k_term): summ from the mins, then
 * acc + (dw*(float)sumi - mw*(float)summ) with dw = d*da, mw = dmin*da */
KV_INLINE __m256 q4k_term(__m256 acc, __m256i isum, const uint8_t *y, const uint8_t *pb, __m256 dx, __m256 dmx) {
    const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)(const void *)(y + Q8K_BSUMS)),
                                      _mm_loadu_si128((const __m128i *)(const void *)(y + Q8K_BSUMS + 16)));
    const __m256i bb = _mm256_broadcastsi128_si256(bs);
    const __m256i summ =
        _mm256_add_epi32(_mm256_add_epi32(_mm256_madd_epi16(load8i(pb + Q4K_MP), _mm256_shuffle_epi32(bb, 0x00)),
                                          _mm256_madd_epi16(load8i(pb + Q4K_MP + 32), _mm256_shuffle_epi32(bb, 0x55))),
                         _mm256_add_epi32(_mm256_madd_epi16(load8i(pb + Q4K_MP + 64), _mm256_shuffle_epi32(bb, 0xaa)),
                                          _mm256_madd_epi16(load8i(pb + Q4K_MP + 96), _mm256_shuffle_epi32(bb, 0xff))));
    const __m256 da = bcastf(y + Q8K_D);
    const __m256 dw = _mm256_mul_ps(dx, da), mw = _mm256_mul_ps(dmx, da);
    const __m256 t =
        _mm256_sub_ps(_mm256_mul_ps(dw, _mm256_cvtepi32_ps(isum)), _mm256_mul_ps(mw, _mm256_cvtepi32_ps(summ)));
    return _mm256_add_ps(acc, t);
}

/* Q6_K, one token, the start of a super-block: -32 * sum_j sc[r][j] * bsums[j], two sub-blocks per madd */
KV_INLINE __m256i q6k_offset(const uint8_t *pb, const uint8_t *y) {
    __m256i o = _mm256_madd_epi16(load8i(pb + Q6K_SP), octet__bcast4(y + Q8K_BSUMS));
    _Pragma("GCC unroll 7") for (int t = 1; t < 8; t++) o =
        _mm256_add_epi32(o, _mm256_madd_epi16(load8i(pb + Q6K_SP + 32 * t), octet__bcast4(y + Q8K_BSUMS + 4 * t)));
    return _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(o, 5));
}

/* A tile of T tokens (1..KP_TILE): token c's super-block i at ya + c * a_stride + i * sizeof(block_q8_K), its 8
 * results at s + c * s_stride. Q4_K and Q5_K share the layout (codes 0..15 or 0..31). */
KV_INLINE void k45_tokens(const int T, int64_t nb, float *s, size_t s_stride, const uint8_t *panel, const uint8_t *ya,
                          size_t a_stride) {
    __m256 acc[KP_TILE];
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = panel + (size_t)i * Q4K_SB_BYTES;
        const uint8_t *y[KP_TILE];
        __m256i isum[KP_TILE];
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
            y[c] = ya + (size_t)c * a_stride + (size_t)i * sizeof(block_q8_K);
            isum[c] = _mm256_setzero_si256();
        }
        for (int j = 0; j < 8; j++) { /* sub-block j: groups 8j..8j+7, activation bytes 32j..32j+31 */
            const uint8_t *wj = pb + Q4K_W + 256 * j;
            const size_t aj = Q8K_QS + 32 * (size_t)j;
            __m256i p[KP_TILE];
            _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) p[c] = _mm256_setzero_si256();
            _Pragma("GCC unroll 8") for (int g = 0; g < 8; g++) {
                const __m256i wv = load8i(wj + 32 * g);
                _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) p[c] =
                    dpbusd(p[c], wv, octet__bcast4(y[c] + aj + 4 * (size_t)g));
            }
            const __m256i sc = scale32(pb + Q4K_SC + 32 * j);
            _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) isum[c] =
                _mm256_add_epi32(isum[c], _mm256_mullo_epi32(p[c], sc));
        }
        const __m256 dx = load8f(pb + Q4K_D), dmx = load8f(pb + Q4K_DMIN);
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) acc[c] = q4k_term(acc[c], isum[c], y[c], pb, dx, dmx);
    }
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) _mm256_storeu_ps(s + (size_t)c * s_stride, acc[c]);
}

KV_INLINE void q6k_tokens(const int T, int64_t nb, float *s, size_t s_stride, const uint8_t *panel, const uint8_t *ya,
                          size_t a_stride) {
    __m256 acc[KP_TILE];
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = panel + (size_t)i * Q6K_SB_BYTES;
        const uint8_t *y[KP_TILE];
        __m256i isum[KP_TILE];
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
            y[c] = ya + (size_t)c * a_stride + (size_t)i * sizeof(block_q8_K);
            isum[c] = q6k_offset(pb, y[c]); /* start from -32 * sum_j sc_j * bsums[j] */
        }
        for (int j = 0; j < 16; j++) { /* sub-block j: groups 4j..4j+3, activation bytes 16j..16j+15 */
            const uint8_t *wj = pb + Q6K_W + 128 * j;
            const size_t aj = Q8K_QS + 16 * (size_t)j;
            __m256i p[KP_TILE];
            _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) p[c] = _mm256_setzero_si256();
            _Pragma("GCC unroll 4") for (int g = 0; g < 4; g++) {
                const __m256i wv = load8i(wj + 32 * g);
                _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) p[c] =
                    dpbusd(p[c], wv, octet__bcast4(y[c] + aj + 4 * (size_t)g));
            }
            const __m256i sc = scale32(pb + Q6K_SC + 32 * j);
            _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) isum[c] =
                _mm256_add_epi32(isum[c], _mm256_mullo_epi32(p[c], sc));
        }
        const __m256 dx = load8f(pb + Q6K_D);
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) acc[c] =
            _mm256_add_ps(acc[c], _mm256_mul_ps(_mm256_mul_ps(dx, bcastf(y[c] + Q8K_D)), _mm256_cvtepi32_ps(isum[c])));
    }
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) _mm256_storeu_ps(s + (size_t)c * s_stride, acc[c]);
}

/* Whole tiles of KP_TILE tokens, then the remaining 1..3 tokens as one smaller tile (Q8_K rows carry their own
 * block sums: aux unused). */
#define KV_GEMM(NAME, TOKENS)                                                                                    \
    void NAME(int64_t n, float *s, size_t s_stride, const void *panel, const void *a, size_t a_stride, int nc,  \
              const octet__q8_aux *aux, size_t aux_stride) {                                                    \
        (void)aux;                                                                                             \
        (void)aux_stride;                                                                                      \
        const int64_t nb = n / QK_K;                                                                           \
        const uint8_t *ya = a;                                                                                 \
        int c0 = 0;                                                                                            \
        for (; c0 + KP_TILE <= nc; c0 += KP_TILE)                                                              \
            TOKENS(KP_TILE, nb, s + (size_t)c0 * s_stride, s_stride, panel, ya + (size_t)c0 * a_stride, a_stride); \
        float *sr = s + (size_t)c0 * s_stride;                                                                 \
        const uint8_t *yr = ya + (size_t)c0 * a_stride;                                                        \
        switch (nc - c0) {                                                                                     \
        case 3: TOKENS(3, nb, sr, s_stride, panel, yr, a_stride); break;                                       \
        case 2: TOKENS(2, nb, sr, s_stride, panel, yr, a_stride); break;                                       \
        case 1: TOKENS(1, nb, sr, s_stride, panel, yr, a_stride); break;                                       \
        default: break;                                                                                        \
        }                                                                                                      \
    }

KV_GEMM(octet__panel_gemm_q4_K_avxvnni, k45_tokens)
KV_GEMM(octet__panel_gemm_q6_K_avxvnni, q6k_tokens)
