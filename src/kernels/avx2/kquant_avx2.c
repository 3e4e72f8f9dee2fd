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

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "kernels/avx2/util_avx2.h"

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

/* ==== K-quant 8-row panels for prompt batches ==== */
/*
 * kquant_avx2.c - row panels for Q4_K, Q5_K and Q6_K weights x Q8_K activations (prompt batches; contract in
 * ../gemm.h): 8 weight rows packed once, then multiplied with any number of tokens, each result equal bit for bit
 * to the reference dot (ref/kquant_ref.c).
 *
 * The reference, per super-block i (256 elements), forms exact integers and then one float term, added to the
 * running sum from 0.0f in super-block order with every product and sum rounded separately:
 *   Q4_K, Q5_K: dw = d*da, mw = dmin*da; sumf = sumf + (dw*(float)sumi - mw*(float)summ)
 *   Q6_K: sumf = sumf + ((d*da)*(float)sumi)
 * Here lane r of every vector is row r ("lanes = rows"): the integer sums of the 8 rows land in the 8 int32 lanes,
 * and each lane runs exactly the scalar chain of its row with _mm256_mul_ps / _mm256_sub_ps / _mm256_add_ps
 * (never fmadd).
 *
 * Panel layout, per super-block (all offsets multiples of 32; the panel is a sequence of super-blocks):
 *   Q4_K and Q5_K, 2496 bytes:
 *     [   0,   32) d[r] as float            [  32,   64) dmin[r] as float
 *     [  64,  320) SC[j], j = 0..7: lane r (int32) = sc[r][j] as two int16 (scale of sub-block j, 32 elements)
 *     [ 320,  448) MP[t], t = 0..3: lane r = (m[r][2t], m[r][2t+1]) as int16 (mins of sub-blocks 2t, 2t+1)
 *     [ 448, 2496) W[g], g = 0..63: codes of elements 4g..4g+3, row r in bytes 4r..4r+3 (0..15; Q5_K 0..31)
 *   Q6_K, 2848 bytes:
 *     [   0,   32) d[r] as float
 *     [  32,  544) SC[j], j = 0..15: lane r = scales[r][j] as two int16 (sub-block j, 16 elements)
 *     [ 544,  800) SP[t], t = 0..7: lane r = (scales[r][2t], scales[r][2t+1]) as int16
 *     [ 800, 2848) W[g], g = 0..63: as for Q4_K, the 6-bit codes q (0..63, the weight being q - 32)
 *
 * Integer part for one token, exact (Q8_K codes a in [-128, 127]):
 *   _mm256_maddubs_epi16(W[g], bcast(a[4g..4g+3])) gives per row two int16 pair sums q*a + q'*a'.
 *   Q4_K: a pair is at most 2*15*128 = 3840 in magnitude, so the 8 groups of a 32-element sub-block add up in
 *     int16 (<= 30720 < 32767) before one _mm256_madd_epi16 with SC[j]: sum_j sc[r][j]*dot_j in int32.
 *     summ[r] = sum_t madd(MP[t], bcast(bs[2t], bs[2t+1])) with bs[j] = bsums[2j] + bsums[2j+1] (|.| <= 4096).
 *     |sumi| <= 256*15*128*63 < 2^25, |summ| <= 256*128*63 < 2^21.
 *   Q6_K: a pair is at most 2*63*128 = 16128, so only 2 maddubs add up in int16 (32256); then madd with SC[j].
 *     The -32 offset: sum_j sc_j*sum_l (q - 32)*a = sum_j sc_j*sum_l q*a - 32*sum_j sc_j*bsums[j], the second
 *     sum as madd(SP[t], bcast(bsums[2t], bsums[2t+1])) (bsums consistent with qs, as every Q8_K quantizer
 *     writes them). Magnitudes: 16*128*(16*63*128) < 2^29, 32*16*128*2048 < 2^28.
 *
 * Tokens go in tiles of KP_TILE = 4 sharing each loaded weight vector (the remaining 1..3 tokens as one smaller
 * tile); a tile walks the panel super-block by super-block with its float accumulators in registers. Per group of
 * 4 elements and token the inner loop is one broadcast load, one maddubs and one int16 add.
 * Loads are unaligned (no requirement on the panel's or the activations' alignment); panel sizes are multiples of
 * 32 bytes, so a 32-byte aligned panel has aligned vectors.
 */

/* No fused multiply-add may be formed from the float operations here: clang contracts within an expression unless
 * told not to; GCC contracts only under -ffp-contract=fast, which ISO mode (-std=c11, the Makefile's) turns off. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__GNUC__)
#define KP_INLINE static inline __attribute__((always_inline))
#else
#define KP_INLINE static inline
#endif

#define KP_TILE 4 /* tokens sharing one pass over the panel */

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

static inline __m256i load8i(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)(const void *)p); }
static inline __m256 load8f(const uint8_t *p) { return _mm256_loadu_ps((const float *)(const void *)p); }
static inline void store8i(uint8_t *p, __m256i v) { _mm256_storeu_si256((__m256i *)(void *)p, v); }

#define bcast4 octet__bcast4 /* 4 bytes at p (any alignment) in every 32-bit lane (avx2_util.h) */

static inline __m256 bcastf(const uint8_t *p) {
    float v;
    memcpy(&v, p, 4);
    return _mm256_set1_ps(v);
}

static inline uint16_t rd16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* c0..c7 = 32 codes of rows 0..7 (elements 32m..32m+31 of a super-block): store the 8 vectors W[8m..8m+7], W[8m+g]
 * holding elements 4g..4g+3 of the chunk for the 8 rows (a transpose of the 8x8 matrix of 4-byte groups). Named
 * vectors rather than arrays, so that every compiler keeps them in registers. */
KP_INLINE void store_transposed(uint8_t *dst, __m256i c0, __m256i c1, __m256i c2, __m256i c3, __m256i c4, __m256i c5,
                                __m256i c6, __m256i c7) {
    /* groups 0,1 / 4,5 (unpacklo) and 2,3 / 6,7 (unpackhi) of row pairs */
    const __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
    const __m256i t2 = _mm256_unpacklo_epi32(c2, c3), t3 = _mm256_unpackhi_epi32(c2, c3);
    const __m256i t4 = _mm256_unpacklo_epi32(c4, c5), t5 = _mm256_unpackhi_epi32(c4, c5);
    const __m256i t6 = _mm256_unpacklo_epi32(c6, c7), t7 = _mm256_unpackhi_epi32(c6, c7);
    /* groups g / g+4 of rows 0..3 (u0..u3) and rows 4..7 (u4..u7) */
    const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
    const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
    store8i(dst + 0 * 32, _mm256_permute2x128_si256(u0, u4, 0x20));
    store8i(dst + 1 * 32, _mm256_permute2x128_si256(u1, u5, 0x20));
    store8i(dst + 2 * 32, _mm256_permute2x128_si256(u2, u6, 0x20));
    store8i(dst + 3 * 32, _mm256_permute2x128_si256(u3, u7, 0x20));
    store8i(dst + 4 * 32, _mm256_permute2x128_si256(u0, u4, 0x31));
    store8i(dst + 5 * 32, _mm256_permute2x128_si256(u1, u5, 0x31));
    store8i(dst + 6 * 32, _mm256_permute2x128_si256(u2, u6, 0x31));
    store8i(dst + 7 * 32, _mm256_permute2x128_si256(u3, u7, 0x31));
}

/* 8 fp16 values -> 8 floats at dst */
static void store_fp16x8(uint8_t *dst, const uint16_t h[8]) {
    _mm256_storeu_ps((float *)(void *)dst, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)h)));
}

/* Per-row scale bytes -> per-sub-block vectors with the rows in the lanes. v[r] holds 16 bytes of row r, seen as
 * two halves of 8 (h = 0: bytes 0..7, h = 1: bytes 8..15). After rows_split, a[h] holds half h of rows 0, 1 | 4, 5
 * (one per 64-bit element) and b[h] of rows 2, 3 | 6, 7. pick(a, b, pat) then builds lane r from half-row r:
 * pat gives the 4 byte indices (0..7, or 0x80 for zero) of the lane's bytes, so one byte can fill both int16 of a
 * lane. _mm256_shuffle_epi8 works within 128-bit halves; index + 8 selects the second 64-bit element (0x88 still
 * has bit 7 set, so zero stays zero). */
static inline void rows_split(const __m128i v[8], __m256i a[2], __m256i b[2]) {
    const __m256i r04 = _mm256_set_m128i(v[4], v[0]), r15 = _mm256_set_m128i(v[5], v[1]);
    const __m256i r26 = _mm256_set_m128i(v[6], v[2]), r37 = _mm256_set_m128i(v[7], v[3]);
    a[0] = _mm256_unpacklo_epi64(r04, r15), a[1] = _mm256_unpackhi_epi64(r04, r15);
    b[0] = _mm256_unpacklo_epi64(r26, r37), b[1] = _mm256_unpackhi_epi64(r26, r37);
}

static inline __m256i pick(__m256i a, __m256i b, uint32_t pat) {
    const int p0 = (int)pat, p1 = (int)(pat + 0x08080808u), z = (int)0x80808080u;
    return _mm256_or_si256(_mm256_shuffle_epi8(a, _mm256_setr_epi32(p0, p1, z, z, p0, p1, z, z)),
                           _mm256_shuffle_epi8(b, _mm256_setr_epi32(z, z, p0, p1, z, z, p0, p1)));
}

/* byte indices of a lane: (b0, b1, b2, b3) */
#define PAT(b0, b1, b2, b3) ((uint32_t)(b0) | (uint32_t)(b1) << 8 | (uint32_t)(b2) << 16 | (uint32_t)(b3) << 24)
#define ZB 0x80u

/* ---- packing ------------------------------------------------------------------------------------------------- */
size_t octet__panel_bytes_q4_K_avx2(int64_t n) { return (size_t)(n / QK_K) * Q4K_SB_BYTES; } /* Q5_K too */
size_t octet__panel_bytes_q6_K_avx2(int64_t n) { return (size_t)(n / QK_K) * Q6K_SB_BYTES; }

/* Q4_K and Q5_K share the panel layout: the 6-bit scales and mins as Q4_K's, codes 0..15 or 0..31. A Q5_K code's
 * fifth bit (bit j of qh[l] for sub-block j) goes in above the nibble; QH < 0: none (Q4_K). */
KP_INLINE void pack_k45(int64_t n, void *panel, const void *w, size_t w_stride, const void *pf, const size_t BLOCK,
                        const size_t QS, const int QH) {
    const uint8_t *wb = w;
    uint8_t *dst = panel;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m1 = _mm256_set1_epi8(0x01);
    /* the caller's next 8 rows (pf) are prefetched linearly while these are packed */
    const int64_t nb = n / QK_K;
    octet__pf_stream pfs;
    octet__pf_init(&pfs, pf, pf ? 8 * w_stride : 0, (size_t)nb);
    for (int64_t i = 0; i < nb; i++, dst += Q4K_SB_BYTES) {
        octet__pf_step(&pfs);
        const size_t off = (size_t)i * BLOCK;
        uint16_t d[8], dmin[8];
        __m128i v[8]; /* row r: sc[0..7], m[0..7] */
        for (int r = 0; r < 8; r++) {
            const uint8_t *b = wb + (size_t)r * w_stride + off;
            d[r] = rd16(b + offsetof(block_q4_K, d));
            dmin[r] = rd16(b + offsetof(block_q4_K, dmin));
            /* the 6-bit scales and mins, 4 bytes at a time (octet__q4_K_scales) */
            uint32_t k[3];
            memcpy(k, b + offsetof(block_q4_K, scales), 12);
            const uint32_t s0 = k[0] & 0x3f3f3f3fu, s1 = (k[2] & 0x0f0f0f0fu) | (((k[0] >> 6) & 0x03030303u) << 4);
            const uint32_t m0 = k[1] & 0x3f3f3f3fu,
                           m1w = ((k[2] >> 4) & 0x0f0f0f0fu) | (((k[1] >> 6) & 0x03030303u) << 4);
            v[r] = _mm_setr_epi32((int)s0, (int)s1, (int)m0, (int)m1w);
        }
        store_fp16x8(dst + Q4K_D, d);
        store_fp16x8(dst + Q4K_DMIN, dmin);
        __m256i a[2], bb[2];
        rows_split(v, a, bb);
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) store8i(dst + Q4K_SC + 32 * j, pick(a[0], bb[0], PAT(j, ZB, j, ZB)));
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++) store8i(dst + Q4K_MP + 32 * t, pick(a[1], bb[1], PAT(2 * t, ZB, 2 * t + 1, ZB)));
        /* qs[32c + l]: low nibble = element 64c + l (sub-block 2c), high nibble = element 64c + 32 + l; one
         * sub-block (8 vectors) at a time keeps the transpose in registers. The qh bit: shifts of 16-bit lanes are
         * safe after masking to bit 0 of each byte. */
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            const uint8_t *q = wb + off + QS + 32 * (j / 2);
            const uint8_t *qh = wb + off + (QH < 0 ? 0 : (size_t)QH);
            const int sh = 4 * (j % 2);
#define NIB(r) _mm256_and_si256(_mm256_srli_epi16(load8i(q + (size_t)(r) * w_stride), sh), m4)
#define CODES(r)                                                                                                  \
    (QH < 0 ? NIB(r)                                                                                              \
            : _mm256_or_si256(NIB(r), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(                       \
                                                              load8i(qh + (size_t)(r) * w_stride), j), m1), 4)))
            store_transposed(dst + Q4K_W + 256 * j, CODES(0), CODES(1), CODES(2), CODES(3), CODES(4), CODES(5),
                             CODES(6), CODES(7));
#undef CODES
#undef NIB
        }
    }
}

void octet__pack_q4_K_avx2(int64_t n, void *panel, const void *w, size_t w_stride, const void *pf) {
    pack_k45(n, panel, w, w_stride, pf, sizeof(block_q4_K), offsetof(block_q4_K, qs), -1);
}

void octet__pack_q5_K_avx2(int64_t n, void *panel, const void *w, size_t w_stride, const void *pf) {
    pack_k45(n, panel, w, w_stride, pf, sizeof(block_q5_K), offsetof(block_q5_K, qs), (int)offsetof(block_q5_K, qh));
}

void octet__pack_q6_K_avx2(int64_t n, void *panel, const void *w, size_t w_stride, const void *pf) {
    const uint8_t *wb = w;
    uint8_t *dst = panel;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x03);
    /* the caller's next 8 rows (pf) are prefetched linearly while these are packed */
    const int64_t nb = n / QK_K;
    octet__pf_stream pfs;
    octet__pf_init(&pfs, pf, pf ? 8 * w_stride : 0, (size_t)nb);
    for (int64_t i = 0; i < nb; i++, dst += Q6K_SB_BYTES) {
        octet__pf_step(&pfs);
        const size_t off = (size_t)i * sizeof(block_q6_K);
        uint16_t d[8];
        __m128i v[8]; /* row r: scales[0..15] */
        for (int r = 0; r < 8; r++) {
            const uint8_t *b = wb + (size_t)r * w_stride + off;
            d[r] = rd16(b + offsetof(block_q6_K, d));
            v[r] = _mm_loadu_si128((const __m128i *)(const void *)(b + offsetof(block_q6_K, scales)));
        }
        store_fp16x8(dst + Q6K_D, d);
        /* int8 scales to int16: the byte into the high byte of each int16, then an arithmetic shift by 8 */
        __m256i a[2], bb[2];
        rows_split(v, a, bb);
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            store8i(dst + Q6K_SC + 32 * j,
                    _mm256_srai_epi16(pick(a[j / 8], bb[j / 8], PAT(ZB, j % 8, ZB, j % 8)), 8));
#pragma GCC unroll 8
        for (int t = 0; t < 8; t++)
            store8i(dst + Q6K_SP + 32 * t,
                    _mm256_srai_epi16(pick(a[t / 4], bb[t / 4], PAT(ZB, 2 * (t % 4), ZB, 2 * (t % 4) + 1)), 8));
        /* codes of elements 32m + l (l < 32, m = 4h + k) from ql (low 4 bits) and qh (high 2), see
         * ref/kquant_ref.c; shifts on 16-bit lanes are safe after masking */
#pragma GCC unroll 8
        for (int m = 0; m < 8; m++) {
            const int h = m / 4, k = m % 4;
            const uint8_t *ql = wb + off + offsetof(block_q6_K, ql) + 64 * h + 32 * (k % 2);
            const uint8_t *qh = wb + off + offsetof(block_q6_K, qh) + 32 * h;
            const int shl = 4 * (k / 2), shh = 2 * k;
#define CODES(r)                                                                                                  \
    _mm256_or_si256(                                                                                              \
        _mm256_and_si256(_mm256_srli_epi16(load8i(ql + (size_t)(r) * w_stride), shl), m4),                        \
        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(load8i(qh + (size_t)(r) * w_stride), shh), m2), 4))
            store_transposed(dst + Q6K_W + 256 * m, CODES(0), CODES(1), CODES(2), CODES(3), CODES(4), CODES(5),
                             CODES(6), CODES(7));
#undef CODES
        }
    }
}

/* Q4_K, one token, the end of a super-block: summ from the mins, then acc + (dw*(float)sumi - mw*(float)summ) with
 * dw = d*da, mw = dmin*da, lane by lane (the reference's operations, each rounded). */
KP_INLINE __m256 q4k_term(__m256 acc, __m256i isum, const uint8_t *y, __m256i mp0, __m256i mp1, __m256i mp2,
                          __m256i mp3, __m256 dx, __m256 dmx) {
    /* bs[j] = bsums[2j] + bsums[2j+1] as 8 int16, in both 128-bit halves; then pairs (bs[2t], bs[2t+1]) */
    const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)(const void *)(y + Q8K_BSUMS)),
                                      _mm_loadu_si128((const __m128i *)(const void *)(y + Q8K_BSUMS + 16)));
    const __m256i bb = _mm256_broadcastsi128_si256(bs);
    const __m256i summ = _mm256_add_epi32(_mm256_add_epi32(_mm256_madd_epi16(mp0, _mm256_shuffle_epi32(bb, 0x00)),
                                                           _mm256_madd_epi16(mp1, _mm256_shuffle_epi32(bb, 0x55))),
                                          _mm256_add_epi32(_mm256_madd_epi16(mp2, _mm256_shuffle_epi32(bb, 0xaa)),
                                                           _mm256_madd_epi16(mp3, _mm256_shuffle_epi32(bb, 0xff))));
    const __m256 da = bcastf(y + Q8K_D);
    const __m256 dw = _mm256_mul_ps(dx, da), mw = _mm256_mul_ps(dmx, da);
    const __m256 t =
        _mm256_sub_ps(_mm256_mul_ps(dw, _mm256_cvtepi32_ps(isum)), _mm256_mul_ps(mw, _mm256_cvtepi32_ps(summ)));
    return _mm256_add_ps(acc, t);
}

/* Q6_K, one token, the start of a super-block: -32 * sum_j sc[r][j] * bsums[j], two sub-blocks per madd. */
KP_INLINE __m256i q6k_offset(const uint8_t *pb, const uint8_t *y) {
    __m256i o = _mm256_madd_epi16(load8i(pb + Q6K_SP), bcast4(y + Q8K_BSUMS));
#pragma GCC unroll 7
    for (int t = 1; t < 8; t++)
        o = _mm256_add_epi32(o, _mm256_madd_epi16(load8i(pb + Q6K_SP + 32 * t), bcast4(y + Q8K_BSUMS + 4 * t)));
    return _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(o, 5));
}

/* Q6_K, one token, groups g, g+1 of a sub-block (codes w0, w1, activation bytes at a): isum + madd(pair sums, sc) */
KP_INLINE __m256i q6k_pair(__m256i isum, __m256i w0, __m256i w1, __m256i sc, const uint8_t *a) {
    const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(w0, bcast4(a)), _mm256_maddubs_epi16(w1, bcast4(a + 4)));
    return _mm256_add_epi32(isum, _mm256_madd_epi16(p, sc));
}

/* ---- products -------------------------------------------------------------------------------------------------
 * A tile of T tokens (T <= KP_TILE, a compile-time constant after inlining): token c's super-block i at
 * ya + c * a_stride + i * sizeof(block_q8_K), its 8 results at s + c * s_stride.
 * KP_EACH(T, X) expands X(0) .. X(T-1) as straight-line code with constant indices rather than a loop (which a
 * compiler may leave rolled, keeping the per-token vectors in memory); dead calls vanish as T is a constant. */
#define KP_EACH(T, X)                                                                                            \
    do {                                                                                                         \
        X(0);                                                                                                    \
        if ((T) > 1) X(1);                                                                                       \
        if ((T) > 2) X(2);                                                                                       \
        if ((T) > 3) X(3);                                                                                       \
    } while (0)
_Static_assert(KP_TILE <= 4, "KP_EACH expands at most 4 tokens");

/* Q4_K and Q5_K (FIVE): Q5_K's pairs reach 2*31*128 = 7936, so its 8 groups of a sub-block add up in int16 as two
 * halves of 4 (<= 31744), each through its own madd with the scales. */
KP_INLINE void k45_tokens(const int T, const int FIVE, int64_t nb, float *s, size_t s_stride, const uint8_t *panel,
                          const uint8_t *ya, size_t a_stride) {
    __m256 acc[KP_TILE];
    __m256i isum[KP_TILE], p[KP_TILE];
    const uint8_t *y[KP_TILE];
#define ZERO_ACC(c) acc[c] = _mm256_setzero_ps()
    KP_EACH(T, ZERO_ACC);
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = panel + (size_t)i * Q4K_SB_BYTES;
        const size_t off = (size_t)i * sizeof(block_q8_K);
#define START(c) (y[c] = ya + (size_t)(c) * a_stride + off, isum[c] = _mm256_setzero_si256())
        KP_EACH(T, START);
        for (int j = 0; j < 8; j++) { /* sub-block j: groups 8j..8j+7, activation bytes 32j..32j+31 */
            const __m256i sc = load8i(pb + Q4K_SC + 32 * j);
            const int G = FIVE ? 4 : 8; /* groups per int16 run */
            for (int g0 = 0; g0 < 8; g0 += G) {
                const uint8_t *wj = pb + Q4K_W + 256 * j + 32 * g0;
                const size_t aj = Q8K_QS + 32 * (size_t)j + 4 * (size_t)g0;
                __m256i wv = load8i(wj);
#define FIRST(c) p[c] = _mm256_maddubs_epi16(wv, bcast4(y[c] + aj))
#define NEXT(c) p[c] = _mm256_add_epi16(p[c], _mm256_maddubs_epi16(wv, bcast4(y[c] + aj + 4 * (size_t)g)))
                KP_EACH(T, FIRST);
                /* one token: unrolled; a tile: rolled (unrolled, GCC reassociates the int16 sums of the tile into
                 * trees that keep every product live, and spills) */
                if (T == 1) {
#pragma GCC unroll 7
                    for (int g = 1; g < G; g++) {
                        wv = load8i(wj + 32 * g);
                        KP_EACH(T, NEXT);
                    }
                } else {
#pragma GCC unroll 1
                    for (int g = 1; g < G; g++) {
                        wv = load8i(wj + 32 * g);
                        KP_EACH(T, NEXT);
                    }
                }
#define SCALE(c) isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(p[c], sc))
                KP_EACH(T, SCALE);
            }
        }
        const __m256i mp0 = load8i(pb + Q4K_MP), mp1 = load8i(pb + Q4K_MP + 32), mp2 = load8i(pb + Q4K_MP + 64),
                      mp3 = load8i(pb + Q4K_MP + 96);
        const __m256 dx = load8f(pb + Q4K_D), dmx = load8f(pb + Q4K_DMIN);
#define FINISH(c) acc[c] = q4k_term(acc[c], isum[c], y[c], mp0, mp1, mp2, mp3, dx, dmx)
        KP_EACH(T, FINISH);
    }
#define STORE(c) _mm256_storeu_ps(s + (size_t)(c) * s_stride, acc[c])
    KP_EACH(T, STORE);
#undef ZERO_ACC
#undef START
#undef FIRST
#undef NEXT
#undef SCALE
#undef FINISH
#undef STORE
}

KP_INLINE void q6k_tokens(const int T, int64_t nb, float *s, size_t s_stride, const uint8_t *panel,
                          const uint8_t *ya, size_t a_stride) {
    __m256 acc[KP_TILE];
    __m256i isum[KP_TILE];
    const uint8_t *y[KP_TILE];
#define ZERO_ACC(c) acc[c] = _mm256_setzero_ps()
    KP_EACH(T, ZERO_ACC);
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = panel + (size_t)i * Q6K_SB_BYTES;
        const size_t off = (size_t)i * sizeof(block_q8_K);
        /* start from -32 * sum_j sc_j * bsums[j] */
#define START(c) (y[c] = ya + (size_t)(c) * a_stride + off, isum[c] = q6k_offset(pb, y[c]))
        KP_EACH(T, START);
        for (int j = 0; j < 16; j++) { /* sub-block j: groups 4j..4j+3, activation bytes 16j..16j+15 */
            const uint8_t *wj = pb + Q6K_W + 128 * j;
            const __m256i sc = load8i(pb + Q6K_SC + 32 * j);
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) { /* groups 4j+2h, 4j+2h+1: activation bytes 16j+8h..16j+8h+7 */
                const __m256i w0 = load8i(wj + 64 * h), w1 = load8i(wj + 64 * h + 32);
                const size_t ah = Q8K_QS + 16 * (size_t)j + 8 * (size_t)h;
#define PAIR(c) isum[c] = q6k_pair(isum[c], w0, w1, sc, y[c] + ah)
                KP_EACH(T, PAIR);
            }
        }
        const __m256 dx = load8f(pb + Q6K_D);
#define FINISH(c) acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(_mm256_mul_ps(dx, bcastf(y[c] + Q8K_D)), \
                                                               _mm256_cvtepi32_ps(isum[c]))) /* (d*da)*sumi */
        KP_EACH(T, FINISH);
    }
#define STORE(c) _mm256_storeu_ps(s + (size_t)(c) * s_stride, acc[c])
    KP_EACH(T, STORE);
#undef ZERO_ACC
#undef START
#undef PAIR
#undef FINISH
#undef STORE
}

/* Whole tiles of KP_TILE tokens, then the remaining 1..3 tokens as one smaller tile. */
#define KP_GEMM(NAME, TOKENS)                                                                                    \
    void NAME(int64_t n, float *s, size_t s_stride, const void *panel, const void *a, size_t a_stride, int nc,  \
              const octet__q8_aux *aux, size_t aux_stride) {                                                         \
        (void)aux; /* Q8_K rows carry their own block sums (bsums) */                                         \
        (void)aux_stride;                                                                                     \
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

KP_INLINE void q4k_tokens(const int T, int64_t nb, float *s, size_t s_stride, const uint8_t *panel, const uint8_t *ya,
                          size_t a_stride) {
    k45_tokens(T, 0, nb, s, s_stride, panel, ya, a_stride);
}
KP_INLINE void q5k_tokens(const int T, int64_t nb, float *s, size_t s_stride, const uint8_t *panel, const uint8_t *ya,
                          size_t a_stride) {
    k45_tokens(T, 1, nb, s, s_stride, panel, ya, a_stride);
}

KP_GEMM(octet__panel_gemm_q4_K_avx2, q4k_tokens)
KP_GEMM(octet__panel_gemm_q5_K_avx2, q5k_tokens)
KP_GEMM(octet__panel_gemm_q6_K_avx2, q6k_tokens)
