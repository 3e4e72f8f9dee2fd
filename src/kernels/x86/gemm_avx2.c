/*
 * gemm_avx2.c - AVX2 multi-token tiles (contract in ../gemm.h): one weight row against 4 activation rows.
 *
 * Each tile is its dot kernel (quant_avx2.c, kquant_avx2.c) with the loop over tokens moved inside the loop over
 * blocks: the weight block is loaded, unpacked (nibbles, 6-bit codes, sub-block scales and their shuffles) and its
 * fp16 scale converted once, then used for the 4 tokens, each with its own accumulators. The per-element float
 * operations are those of the dot kernel in the same order (same accumulator split, same scalar products, same
 * FMAs, same final horizontal sum), so tile == dot bit for bit; tests/kernels/test_gemm.c checks it. With fewer
 * than 4 tokens the tile calls the dot kernel per token.
 *
 * Register budget: Q8_0/Q4_0 keep 2 accumulators per token (8 ymm), K-quants 1 accumulator plus a block sum per
 * token (8 ymm), leaving room for the unpacked weight and one activation vector.
 */
#include "kernels/gemm.h"
#include "kernels/kernels_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>

#define NC OCTET__GEMM_NC

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256i unpack_nibbles(const uint8_t *qs) {
    const __m128i t = _mm_loadu_si128((const __m128i *)qs);
    const __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0f));
}

static inline __m256i dot_u8s8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* ---- 32-element blocks with Q8_0 activations: acc0 takes even blocks, acc1 odd ones, the tail block acc0 ---- */
/* One weight block against the 4 tokens: the products d_w * d_a of the 4 tokens are formed in one vector
 * multiply (the same IEEE products as the dot's scalar ones) and broadcast per token. */
#define BLOCK_STEP(UNPACK, ib, ACC)                                                                                       \
    {                                                                                                            \
        const __m256i q = UNPACK(x[ib]);                                                                         \
        const __m256i u = _mm256_sign_epi8(q, q);                                                                \
        const __m128 da = _mm_cvtph_ps(_mm_setr_epi16((short)y[0][ib].d, (short)y[1][ib].d, (short)y[2][ib].d,  \
                                                      (short)y[3][ib].d, 0, 0, 0, 0));                           \
        const __m256 dd = _mm256_castps128_ps256(_mm_mul_ps(_mm_set1_ps(h2f(x[ib].d)), da));                     \
        _Pragma("GCC unroll 4") for (int c = 0; c < NC; c++) {                                                   \
            const __m256i p = dot_u8s8(u, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)y[c][ib].qs), q));  \
            ACC[c] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(dd, _mm256_set1_epi32(c)), _mm256_cvtepi32_ps(p),    \
                                     ACC[c]);                                                                    \
        }                                                                                                        \
    }

#define Q_TILE(NAME, BLOCK, UNPACK, DOT_FN)                                                                       \
    void NAME(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc) {                       \
        if (nc != NC) {                                                                                          \
            for (int c = 0; c < nc; c++) DOT_FN(n, &s[c], w, (const uint8_t *)a + (size_t)c * a_stride);          \
            return;                                                                                              \
        }                                                                                                        \
        const BLOCK *x = w;                                                                                      \
        const block_q8_0 *y[NC];                                                                                 \
        for (int c = 0; c < NC; c++) y[c] = (const block_q8_0 *)((const uint8_t *)a + (size_t)c * a_stride);     \
        const int64_t nb = n / 32;                                                                               \
        __m256 acc0[NC], acc1[NC];                                                                               \
        for (int c = 0; c < NC; c++) acc0[c] = _mm256_setzero_ps(), acc1[c] = _mm256_setzero_ps();               \
        int64_t i = 0;                                                                                           \
        for (; i + 2 <= nb; i += 2) {                                                                            \
            /* block i into acc0, then block i+1 into acc1: fewer live registers, same operations */              \
            BLOCK_STEP(UNPACK, i, acc0)                                                                                  \
            BLOCK_STEP(UNPACK, i + 1, acc1)                                                                              \
        }                                                                                                        \
        for (; i < nb; i++) BLOCK_STEP(UNPACK, i, acc0)                                                                  \
        for (int c = 0; c < NC; c++) s[c] = hsum8(_mm256_add_ps(acc0[c], acc1[c]));                              \
    }

#define UNPACK_Q8_0(b) _mm256_loadu_si256((const __m256i *)(b).qs)
#define UNPACK_Q4_0(b) _mm256_sub_epi8(unpack_nibbles((b).qs), _mm256_set1_epi8(8))
Q_TILE(octet__gemm_q8_0_q8_0_avx2, block_q8_0, UNPACK_Q8_0, octet__dot_q8_0_q8_0_avx2)
Q_TILE(octet__gemm_q4_0_q8_0_avx2, block_q4_0, UNPACK_Q4_0, octet__dot_q4_0_q8_0_avx2)

/* ---- Q4_0 GEMV, 4 rows x 1 token -------------------------------------------------------------------------
 * The integer part uses (q - 8) * a = q * a - 8 * a: maddubs(nibbles, a) - maddubs(8, a) in int16 (pairs at most
 * 2*15*127 and 2*8*127, so no saturation), then madd with ones: the same exact int32 per group of 4 bytes as the
 * dot's sign trick, so the per-lane float accumulation (acc0 even blocks, acc1 odd, tail into acc0) is the dot's.
 * The activation load, maddubs(8, a) and the activation's scale are shared by the 4 rows. */
void octet__gemv4_q4_0_q8_0_avx2(int64_t n, float *s, const void *w, size_t w_stride, const void *a) {
    const block_q4_0 *x[4];
    for (int r = 0; r < 4; r++) x[r] = (const block_q4_0 *)((const uint8_t *)w + (size_t)r * w_stride);
    const block_q8_0 *y = a;
    const int64_t nb = n / 32;
    const __m256i eight = _mm256_set1_epi8(8), ones = _mm256_set1_epi16(1);
    __m256 acc0[4], acc1[4];
    for (int r = 0; r < 4; r++) acc0[r] = _mm256_setzero_ps(), acc1[r] = _mm256_setzero_ps();
#define GEMV_STEP(ib, ACC)                                                                                        \
    {                                                                                                            \
        const __m256i av = _mm256_loadu_si256((const __m256i *)y[ib].qs);                                        \
        const __m256i a8 = _mm256_maddubs_epi16(eight, av);                                                      \
        const float da = h2f(y[ib].d);                                                                           \
        _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) {                                                    \
            const __m256i p = _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(unpack_nibbles(x[r][ib].qs), av), a8), \
                                                ones);                                                           \
            ACC[r] = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[r][ib].d) * da), _mm256_cvtepi32_ps(p), ACC[r]);         \
        }                                                                                                        \
    }
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        GEMV_STEP(i, acc0)
        GEMV_STEP(i + 1, acc1)
    }
    for (; i < nb; i++) GEMV_STEP(i, acc0)
#undef GEMV_STEP
    for (int r = 0; r < 4; r++) s[r] = hsum8(_mm256_add_ps(acc0[r], acc1[r]));
}

/* ---- K-quants with Q8_K activations ------------------------------------------------------------------------- */
static inline __m256i bcast16(int lo, int hi) {
    return _mm256_set_m128i(_mm_set1_epi16((short)(((2 * hi + 1) << 8) | (2 * hi))),
                            _mm_set1_epi16((short)(((2 * lo + 1) << 8) | (2 * lo))));
}

void octet__gemm_q4_K_q8_K_avx2(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc) {
    if (nc != NC) {
        for (int c = 0; c < nc; c++) octet__dot_q4_K_q8_K_avx2(n, &s[c], w, (const uint8_t *)a + (size_t)c * a_stride);
        return;
    }
    const block_q4_K *x = w;
    const block_q8_K *y[NC];
    for (int c = 0; c < NC; c++) y[c] = (const block_q8_K *)((const uint8_t *)a + (size_t)c * a_stride);
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc[NC];
    float accm[NC];
    for (int c = 0; c < NC; c++) acc[c] = _mm256_setzero_ps(), accm[c] = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        uint32_t k[3], u[4];
        memcpy(k, x[i].scales, 12);
        u[0] = k[0] & 0x3f3f3f3fu;
        u[1] = (k[2] & 0x0f0f0f0fu) | (((k[0] >> 6) & 0x03030303u) << 4);
        u[2] = k[1] & 0x3f3f3f3fu;
        u[3] = ((k[2] >> 4) & 0x0f0f0f0fu) | (((k[1] >> 6) & 0x03030303u) << 4);
        const __m128i sm = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)&u[2]));
        const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)&u[0])));
        const float dx = h2f(x[i].d), dmx = h2f(x[i].dmin);
        __m256i sumi[NC];
        for (int c = 0; c < NC; c++) sumi[c] = _mm256_setzero_si256();
        /* sub-block pairs (2j, 2j+1): low and high nibbles of 32 bytes, with their scales as int16 */
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m256i b = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
            const __m256i lo = _mm256_and_si256(b, m4), hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), m4);
            const __m256i sl = _mm256_shuffle_epi8(sc, bcast16(2 * j, 2 * j));
            const __m256i sh = _mm256_shuffle_epi8(sc, bcast16(2 * j + 1, 2 * j + 1));
#pragma GCC unroll 4
            for (int c = 0; c < NC; c++) {
                const int8_t *q8 = y[c][i].qs + 64 * j;
                const __m256i pl = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
                const __m256i ph = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
                sumi[c] = _mm256_add_epi32(sumi[c], _mm256_add_epi32(_mm256_madd_epi16(pl, sl), _mm256_madd_epi16(ph, sh)));
            }
        }
        for (int c = 0; c < NC; c++) {
            const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y[c][i].bsums),
                                              _mm_loadu_si128((const __m128i *)(y[c][i].bsums + 8)));
            __m128i pm = _mm_madd_epi16(sm, bs);
            pm = _mm_add_epi32(pm, _mm_shuffle_epi32(pm, 0x4e));
            pm = _mm_add_epi32(pm, _mm_shuffle_epi32(pm, 0xb1));
            const int32_t summ = _mm_cvtsi128_si32(pm);
            const float da = y[c][i].d;
            acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(dx * da), _mm256_cvtepi32_ps(sumi[c]), acc[c]);
            accm[c] += dmx * da * (float)summ;
        }
    }
    for (int c = 0; c < NC; c++) s[c] = hsum8(acc[c]) - accm[c];
}

void octet__gemm_q6_K_q8_K_avx2(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc) {
    if (nc != NC) {
        for (int c = 0; c < nc; c++) octet__dot_q6_K_q8_K_avx2(n, &s[c], w, (const uint8_t *)a + (size_t)c * a_stride);
        return;
    }
    const block_q6_K *x = w;
    const block_q8_K *y[NC];
    for (int c = 0; c < NC; c++) y[c] = (const block_q8_K *)((const uint8_t *)a + (size_t)c * a_stride);
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x03), m2s4 = _mm256_set1_epi8(0x30),
                  m32 = _mm256_set1_epi8(32);
    __m256 acc[NC];
    for (int c = 0; c < NC; c++) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        __m256i sumi[NC];
        for (int c = 0; c < NC; c++) sumi[c] = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i sc = _mm256_broadcastsi128_si256(
                _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(x[i].scales + 8 * h))));
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h));
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h + 32));
            const __m256i hb = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * h));
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m2s4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_and_si256(_mm256_srli_epi16(hb, 2), m2s4));
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                const __m256i sk = _mm256_shuffle_epi8(sc, bcast16(2 * k, 2 * k + 1));
#pragma GCC unroll 4
                for (int c = 0; c < NC; c++) {
                    const __m256i av = _mm256_loadu_si256((const __m256i *)(y[c][i].qs + 128 * h + 32 * k));
                    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], av), _mm256_maddubs_epi16(m32, av));
                    sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(p, sk));
                }
            }
        }
        const float dx = h2f(x[i].d);
        for (int c = 0; c < NC; c++)
            acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(dx * y[c][i].d), _mm256_cvtepi32_ps(sumi[c]), acc[c]);
    }
    for (int c = 0; c < NC; c++) s[c] = hsum8(acc[c]);
}
#endif
