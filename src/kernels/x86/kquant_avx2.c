/*
 * kquant_avx2.c - AVX2+FMA+F16C twins for the super-block types: dots of Q4_K and Q6_K with Q8_K and the Q8_K
 * activation quantizer. Compiled with -mavx2 -mfma -mf16c; reached only through the SIMD table.
 *
 * Q4_K x Q8_K: per 64 weights one 32-byte load of nibbles; low nibbles are sub-block 2c, high nibbles 2c+1.
 *   _mm256_maddubs_epi16(nibbles, a) gives int16 pair sums (|.| <= 2*15*128); _mm256_madd_epi16 with the
 *   sub-block scale broadcast as int16 gives int32. The min term uses the activation's bsums:
 *   sum_j m[j]*(bsums[2j] + bsums[2j+1]) in one _mm_madd_epi16. The whole super-block sum is exact int32
 *   (|sumi| <= 256*15*128*63 < 2^31), then scaled by d*da in float.
 * Q6_K x Q8_K: 6-bit codes q (0..63) from ql/qh with masks and shifts; (q - 32)*a is computed as
 *   maddubs(q, a) - maddubs(32, a) (both int16 exact: 2*63*128 < 32767), then madd with the int8 scales of the
 *   two 16-weight sub-blocks of the vector (low 128 bits: sub-block 2k, high: 2k+1). Exact int32 per block.
 * Q8_K quantizer: bit-identical to the reference; _mm256_cvtps_epi32 rounds half to even under the default
 *   MXCSR mode, like nearest_int in ref/kquant_ref.c, and pack saturation is the reference's clamp.
 */
#include "kernels/kernels_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* shuffle control broadcasting int16 element lo in the low 128 bits and element hi in the high 128 bits */
static inline __m256i bcast16(int lo, int hi) {
    return _mm256_set_m128i(_mm_set1_epi16((short)(((2 * hi + 1) << 8) | (2 * hi))),
                            _mm_set1_epi16((short)(((2 * lo + 1) << 8) | (2 * lo))));
}

void octet__dot_q4_K_q8_K_avx2(int64_t n, float *s, const void *w, const void *a) {
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i sh0 = bcast16(0, 0), sh1 = bcast16(1, 1), sh2 = bcast16(2, 2), sh3 = bcast16(3, 3),
                  sh4 = bcast16(4, 4), sh5 = bcast16(5, 5), sh6 = bcast16(6, 6), sh7 = bcast16(7, 7);
    __m256 acc = _mm256_setzero_ps();
    float accm = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        /* unpack 6-bit scales and mins: u[0..1] = sc[0..7], u[2..3] = m[0..7] (see octet__q4_K_scales) */
        uint32_t k[3], u[4];
        memcpy(k, x[i].scales, 12);
        u[0] = k[0] & 0x3f3f3f3fu;
        u[1] = (k[2] & 0x0f0f0f0fu) | (((k[0] >> 6) & 0x03030303u) << 4);
        u[2] = k[1] & 0x3f3f3f3fu;
        u[3] = ((k[2] >> 4) & 0x0f0f0f0fu) | (((k[1] >> 6) & 0x03030303u) << 4);
        const __m128i sm = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)&u[2])); /* 8 mins as int16 */
        const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y[i].bsums),
                                          _mm_loadu_si128((const __m128i *)(y[i].bsums + 8)));
        __m128i pm = _mm_madd_epi16(sm, bs);
        pm = _mm_add_epi32(pm, _mm_shuffle_epi32(pm, 0x4e));
        pm = _mm_add_epi32(pm, _mm_shuffle_epi32(pm, 0xb1));
        const int32_t summ = _mm_cvtsi128_si32(pm);

        const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)&u[0])));
        const uint8_t *q4 = x[i].qs;
        const int8_t *q8 = y[i].qs;
#define Q4K_STEP(c, shl, shh)                                                                                    \
        {                                                                                                        \
            const __m256i b = _mm256_loadu_si256((const __m256i *)(q4 + 32 * (c)));                              \
            const __m256i pl = _mm256_maddubs_epi16(_mm256_and_si256(b, m4),                                     \
                                                    _mm256_loadu_si256((const __m256i *)(q8 + 64 * (c))));        \
            const __m256i ph = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4),               \
                                                    _mm256_loadu_si256((const __m256i *)(q8 + 64 * (c) + 32)));   \
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(_mm256_madd_epi16(pl, _mm256_shuffle_epi8(sc, shl)),  \
                                                           _mm256_madd_epi16(ph, _mm256_shuffle_epi8(sc, shh)))); \
        }
        __m256i sumi = _mm256_setzero_si256();
        Q4K_STEP(0, sh0, sh1)
        Q4K_STEP(1, sh2, sh3)
        Q4K_STEP(2, sh4, sh5)
        Q4K_STEP(3, sh6, sh7)
#undef Q4K_STEP
        const float da = y[i].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(x[i].d) * da), _mm256_cvtepi32_ps(sumi), acc);
        accm += _cvtsh_ss(x[i].dmin) * da * (float)summ;
    }
    *s = hsum8(acc) - accm;
}

void octet__dot_q6_K_q8_K_avx2(int64_t n, float *s, const void *w, const void *a) {
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x03), m2s4 = _mm256_set1_epi8(0x30),
                  m32 = _mm256_set1_epi8(32);
    const __m256i sh0 = bcast16(0, 1), sh1 = bcast16(2, 3), sh2 = bcast16(4, 5), sh3 = bcast16(6, 7);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        __m256i sumi = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i sc = _mm256_broadcastsi128_si256(
                _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(x[i].scales + 8 * h))));
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h));
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h + 32));
            const __m256i hb = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * h));
            /* codes of weights 128h + 32k + l, k = 0..3; shifts on 16-bit lanes are safe after masking */
            const __m256i q0 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
            const __m256i q1 = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
            const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m2s4));
            const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                               _mm256_and_si256(_mm256_srli_epi16(hb, 2), m2s4));
            const int8_t *q8 = y[i].qs + 128 * h;
#define Q6K_STEP(q, k, shk)                                                                                      \
            {                                                                                                    \
                const __m256i av = _mm256_loadu_si256((const __m256i *)(q8 + 32 * (k)));                         \
                const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, av), _mm256_maddubs_epi16(m32, av));  \
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_shuffle_epi8(sc, shk)));               \
            }
            Q6K_STEP(q0, 0, sh0)
            Q6K_STEP(q1, 1, sh1)
            Q6K_STEP(q2, 2, sh2)
            Q6K_STEP(q3, 3, sh3)
#undef Q6K_STEP
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum8(acc);
}

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
