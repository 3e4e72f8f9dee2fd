/*
 * kquant_avx2.c - AVX2+FMA+F16C twins for the super-block types: dots of Q4_K, Q5_K and Q6_K with Q8_K and the Q8_K
 * activation quantizer. Compiled with -mavx2 -mfma -mf16c; reached only through the SIMD table.
 *
 * The dots equal the reference dots (ref/kquant_ref.c) bit for bit. Per super-block i the reference forms exact
 * integers, then one float term added to the running sum in super-block order, from 0.0f, with no FMA:
 *   Q4_K, Q5_K (ref/q5k_ref.c): dw = d*da, mw = dmin*da; sumf = sumf + (dw*(float)sumi - mw*(float)summ)
 *   Q6_K: sumf = sumf + ((d*da)*(float)sumi)
 * Here the integer sums are vectorized and reduced to int32 per super-block (exact in any order), and the float
 * term is formed with the same separately rounded operations (mul, sub, add intrinsics; never fmadd).
 *
 * Q4_K x Q8_K: per 64 weights one 32-byte load of nibbles; low nibbles are sub-block 2c, high nibbles 2c+1.
 *   _mm256_maddubs_epi16(nibbles, a) gives int16 pair sums (|.| <= 2*15*128; Q5_K's 5-bit codes, with their fifth
 *   bit from qh, 2*31*128); _mm256_madd_epi16 with the
 *   sub-block scale broadcast as int16 gives int32. summ = sum_j m[j]*(bsums[2j] + bsums[2j+1]) in one
 *   _mm_madd_epi16 (|bsums[2j] + bsums[2j+1]| <= 32*128 fits int16). |sumi| <= 256*15*128*63 < 2^31.
 * Q6_K x Q8_K: 6-bit codes q (0..63) from ql/qh with masks and shifts; maddubs(q, a) is exact in int16
 *   (2*63*128 < 32767), madd with the int8 scales of the two 16-weight sub-blocks of the vector (low 128 bits:
 *   sub-block 2k, high: 2k+1). The -32 offset uses the activation's bsums (sums of 16 codes, consistent with qs
 *   as every Q8_K quantizer writes them): sum_j sc[j]*sum_l (q - 32)*a = sum_j sc[j]*sum_l q*a
 *   - 32*sum_j sc[j]*bsums[j], the second sum one madd of 16 int16 pairs. All terms are below 2^28 in magnitude.
 * Q8_K quantizer: bit-identical to the reference; _mm256_cvtps_epi32 rounds half to even under the default
 *   MXCSR mode, like nearest_int in ref/kquant_ref.c, and pack saturation is the reference's clamp.
 */
#include "kernels/kernels_impl.h"
#include "kernels/gemm.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "kernels/x86/avx2_util.h"

/* No fused multiply-add may be formed from the float operations here: clang contracts within an expression unless
 * told not to; GCC contracts only under -ffp-contract=fast, which ISO mode (-std=c11, the Makefile's) turns off. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* shuffle control broadcasting int16 element lo in the low 128 bits and element hi in the high 128 bits */
static inline __m256i bcast16(int lo, int hi) {
    return _mm256_set_m128i(_mm_set1_epi16((short)(((2 * hi + 1) << 8) | (2 * hi))),
                            _mm_set1_epi16((short)(((2 * lo + 1) << 8) | (2 * lo))));
}

/* sum of the 8 int32 lanes of v, in lane 0 */
static inline __m128i hsum8i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    return _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
}

/* Q4_K and Q5_K (the same scales, mins and nibbles; Q5_K adds a fifth bit per code from qh, QH < 0: none), one row
 * against T tokens (1..4; token c's blocks at a + c * a_stride): the row's scales and codes are unpacked once per
 * super-block and used for every token, each token's sums and float steps exactly those of its own dot. */
static inline __attribute__((always_inline)) void dot_k45(int64_t n, float *s, const uint8_t *xb, const uint8_t *a,
                                                          size_t a_stride, const int T, const size_t BLOCK,
                                                          const size_t QS, const int QH) {
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    __m256i shv[8]; /* one token: the shuffle controls stay in registers */
    _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) shv[j] = bcast16(j, j);
    __m128 sumf[4];
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) sumf[c] = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *x = xb + (size_t)i * BLOCK;
        /* avx2_util.h's distance, 4 KiB ahead in the row stream: the block's 3 lines written out, since GCC 12
         * drops octet__prefetch_ahead's loop when the size arrives as an inlined parameter */
        _mm_prefetch((const char *)x + OCTET_PREFETCH_AHEAD, _MM_HINT_T0);
        _mm_prefetch((const char *)x + OCTET_PREFETCH_AHEAD + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)x + OCTET_PREFETCH_AHEAD + 128, _MM_HINT_T0);
        /* unpack 6-bit scales and mins: u[0..1] = sc[0..7], u[2..3] = m[0..7] (see octet__q4_K_scales) */
        uint32_t k[3], u[4];
        memcpy(k, x + offsetof(block_q4_K, scales), 12);
        u[0] = k[0] & 0x3f3f3f3fu;
        u[1] = (k[2] & 0x0f0f0f0fu) | (((k[0] >> 6) & 0x03030303u) << 4);
        u[2] = k[1] & 0x3f3f3f3fu;
        u[3] = ((k[2] >> 4) & 0x0f0f0f0fu) | (((k[1] >> 6) & 0x03030303u) << 4);
        const __m128i sm = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)&u[2])); /* 8 mins as int16 */
        const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)&u[0])));
        const block_q8_K *y[4];
        __m256i sumi[4];
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
            y[c] = (const block_q8_K *)(const void *)(a + (size_t)c * a_stride) + i;
            sumi[c] = _mm256_setzero_si256();
        }
        const uint8_t *q4 = x + QS;
        const __m256i hb = QH < 0 ? _mm256_setzero_si256() : _mm256_loadu_si256((const __m256i *)(x + (QH < 0 ? 0 : QH)));
        /* per 64 weights: low nibbles are sub-block 2c, high nibbles 2c+1; Q5_K's fifth bits: bit 2c and 2c+1 of
         * qh, moved to bit 4 (16-bit shifts are safe after masking each byte to 0 or 1) */
        _Pragma("GCC unroll 4") for (int ch = 0; ch < 4; ch++) {
            const __m256i b = _mm256_loadu_si256((const __m256i *)(q4 + 32 * ch));
            __m256i lo = _mm256_and_si256(b, m4), hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), m4);
            if (QH >= 0) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * ch), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * ch + 1), one), 4));
            }
            /* several tokens: the controls as constants (memory operands), not 8 more live registers */
            const __m256i scl = _mm256_shuffle_epi8(sc, T == 1 ? shv[2 * ch] : bcast16(2 * ch, 2 * ch));
            const __m256i sch = _mm256_shuffle_epi8(sc, T == 1 ? shv[2 * ch + 1] : bcast16(2 * ch + 1, 2 * ch + 1));
            _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
                const int8_t *q8 = y[c]->qs + 64 * ch;
                const __m256i pl = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
                const __m256i ph = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
                sumi[c] = _mm256_add_epi32(sumi[c], _mm256_add_epi32(_mm256_madd_epi16(pl, scl), _mm256_madd_epi16(ph, sch)));
            }
        }
        uint32_t dd;
        memcpy(&dd, x, 4); /* d, dmin: the first two fields, fp16 */
        const __m128 dwm0 = _mm_cvtph_ps(_mm_cvtsi32_si128((int)dd));
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
            const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y[c]->bsums),
                                              _mm_loadu_si128((const __m128i *)(y[c]->bsums + 8)));
            const __m128i pm = _mm_madd_epi16(sm, bs); /* 4 partial sums of summ */
            /* [sumi, summ] in lanes 0, 1 -> floats, times [dw, mw] = [d, dmin] * da, then lane 0 - lane 1 */
            const __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sumi[c]), _mm256_extracti128_si256(sumi[c], 1));
            const __m128i h = _mm_hadd_epi32(s4, pm); /* [s0+s1, s2+s3, m0+m1, m2+m3] */
            const __m128 fi = _mm_cvtepi32_ps(_mm_hadd_epi32(h, h));
            const __m128 p = _mm_mul_ps(_mm_mul_ps(dwm0, _mm_set1_ps(y[c]->d)), fi);
            sumf[c] = _mm_add_ss(sumf[c], _mm_sub_ss(p, _mm_movehdup_ps(p)));
        }
    }
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) s[c] = _mm_cvtss_f32(sumf[c]);
}

_Static_assert(sizeof(block_q4_K) > 128 && sizeof(block_q5_K) <= 192, "dot_k45 prefetches 3 lines per block");

void octet__dot_q4_K_q8_K_avx2(int64_t n, float *s, const void *w, const void *a) {
    dot_k45(n, s, w, a, 0, 1, sizeof(block_q4_K), offsetof(block_q4_K, qs), -1);
}

/* Q5_K: codes 0..31, pairs |.| <= 2*31*128 = 7936; |sumi| <= 256*31*128*63 < 2^31 */
void octet__dot_q5_K_q8_K_avx2(int64_t n, float *s, const void *w, const void *a) {
    dot_k45(n, s, w, a, 0, 1, sizeof(block_q5_K), offsetof(block_q5_K, qs), (int)offsetof(block_q5_K, qh));
}

/* Q6_K, one row against T tokens (1..4), as dot_k45. */
static inline __attribute__((always_inline)) void dot_q6k(int64_t n, float *s, const block_q6_K *x, const uint8_t *a,
                                                          size_t a_stride, const int T) {
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x03), m2s4 = _mm256_set1_epi8(0x30);
    const __m256i sh0 = bcast16(0, 1), sh1 = bcast16(2, 3), sh2 = bcast16(4, 5), sh3 = bcast16(6, 7);
    __m128 sumf[4];
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) sumf[c] = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        /* avx2_util.h's distance, 4 KiB ahead: the lines of the 210-byte block written out (GCC 12 drops
         * octet__prefetch_ahead's loop inside this always-inline body) */
        _mm_prefetch((const char *)(x + i) + OCTET_PREFETCH_AHEAD, _MM_HINT_T0);
        _mm_prefetch((const char *)(x + i) + OCTET_PREFETCH_AHEAD + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)(x + i) + OCTET_PREFETCH_AHEAD + 128, _MM_HINT_T0);
        _mm_prefetch((const char *)(x + i) + OCTET_PREFETCH_AHEAD + 192, _MM_HINT_T0);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        const block_q8_K *y[4];
        __m256i sumi[4];
        /* start from -32 * sum_j sc[j]*bsums[j]: 16 int16 scales against the 16 bsums in one madd */
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
            y[c] = (const block_q8_K *)(const void *)(a + (size_t)c * a_stride) + i;
            const __m256i off = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y[c]->bsums));
            sumi[c] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 5));
        }
        const __m256i sc_lo = _mm256_permute2x128_si256(sc16, sc16, 0x00); /* scales 0..7 in both halves */
        const __m256i sc_hi = _mm256_permute2x128_si256(sc16, sc16, 0x11); /* scales 8..15 */
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const __m256i sc = h ? sc_hi : sc_lo;
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h));
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h + 32));
            const __m256i hb = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * h));
            /* codes of weights 128h + 32k + l, k = 0..3; shifts on 16-bit lanes are safe after masking */
            const __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4)),
                _mm256_or_si256(_mm256_and_si256(l1, m4),
                                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m2s4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                _mm256_and_si256(_mm256_srli_epi16(hb, 2), m2s4))};
            const __m256i sk[4] = {_mm256_shuffle_epi8(sc, sh0), _mm256_shuffle_epi8(sc, sh1),
                                   _mm256_shuffle_epi8(sc, sh2), _mm256_shuffle_epi8(sc, sh3)};
            _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
                const int8_t *q8 = y[c]->qs + 128 * h;
                _Pragma("GCC unroll 4") for (int kk = 0; kk < 4; kk++) {
                    const __m256i p = _mm256_maddubs_epi16(q[kk], _mm256_loadu_si256((const __m256i *)(q8 + 32 * kk)));
                    sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(p, sk[kk]));
                }
            }
        }
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
            const __m128 dd = _mm_mul_ss(_mm_set_ss(_cvtsh_ss(x[i].d)), _mm_set_ss(y[c]->d));
            sumf[c] = _mm_add_ss(sumf[c], _mm_mul_ss(dd, _mm_cvtepi32_ps(hsum8i(sumi[c]))));
        }
    }
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) s[c] = _mm_cvtss_f32(sumf[c]);
}

void octet__dot_q6_K_q8_K_avx2(int64_t n, float *s, const void *w, const void *a) { dot_q6k(n, s, w, a, 0, 1); }

/* One row against nc <= 4 tokens (the small batches of the server's slots): equal to nc dots, the row read once.
 * Q5_K and Q6_K only: for Q4_K, packing a panel from 3 tokens measured faster (4 sequences decoded together:
 * 72 against 66 tokens/s), for Q5_K and Q6_K this (61 against 48, 67 against 55). */
#define K_GEMM(NAME, CALL)                                                                                       \
    void NAME(int64_t n, float *s, const void *w, const void *a, size_t a_stride, int nc) {                     \
        switch (nc) {                                                                                            \
        case 1: CALL(1); break;                                                                                  \
        case 2: CALL(2); break;                                                                                  \
        case 3: CALL(3); break;                                                                                  \
        default: CALL(4); break;                                                                                 \
        }                                                                                                        \
    }
#define CALL_Q5K(T) dot_k45(n, s, w, a, a_stride, T, sizeof(block_q5_K), offsetof(block_q5_K, qs), (int)offsetof(block_q5_K, qh))
#define CALL_Q6K(T) dot_q6k(n, s, w, a, a_stride, T)
K_GEMM(octet__gemm_q5_K_avx2, CALL_Q5K)
K_GEMM(octet__gemm_q6_K_avx2, CALL_Q6K)

void octet__from_float_q8_K_avx2(const float *src, void *dst, int64_t n) {
    block_q8_K *y = dst;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float *x = src + i * QK_K;
        __m256 m = _mm256_setzero_ps();
        for (int k = 0; k < QK_K; k += 8) m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)), m);
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        /* the reference takes the sign of the first element of largest magnitude */
        float max = amax;
        const __m256 vamax = _mm256_set1_ps(amax);
        for (int k = 0; k < QK_K; k += 8) {
            const int mask = _mm256_movemask_ps(
                _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)), vamax, _CMP_EQ_OQ));
            if (mask) {
                max = x[k + __builtin_ctz((unsigned)mask)];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const __m256 vis = _mm256_set1_ps(iscale);
        const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        const __m256i ones8 = _mm256_set1_epi8(1);
        const __m256i ones16 = _mm256_set1_epi16(1);
        for (int k = 0; k < QK_K; k += 32) {
            const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k), vis));
            const __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 8), vis));
            const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 16), vis));
            const __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 24), vis));
            __m256i q = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
            q = _mm256_permutevar8x32_epi32(q, perm);
            _mm256_storeu_si256((__m256i *)(y[i].qs + k), q);
            /* sums of the two 16-code groups: bytes -> int16 pairs (sign via maddubs(1, q)) -> int32 quads */
            __m256i g = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16);
            g = _mm256_hadd_epi32(g, g);
            g = _mm256_hadd_epi32(g, g);
            y[i].bsums[k / 16] = (int16_t)_mm256_extract_epi32(g, 0);
            y[i].bsums[k / 16 + 1] = (int16_t)_mm256_extract_epi32(g, 4);
        }
        y[i].d = 1.0f / iscale;
    }
}
#endif
