/*
 * q5k_avx2.c - AVX2 twin of the Q5_K x Q8_K dot (reference: ref/q5k_ref.c). Compiled with -mavx2 -mfma -mf16c;
 * reached only through the SIMD table.
 *
 * Per 64-weight chunk c one 32-byte load of qs: low nibbles are sub-block 2c, high nibbles 2c+1; the 5th bits
 * come from the 32 bytes of qh, bit 2c for the low sub-block and 2c+1 for the high one, moved to bit 4 with a
 * mask and a 16-bit shift (safe: each byte holds 0 or 1 before the shift). _mm256_maddubs_epi16(q, a) gives
 * exact int16 pair sums (|.| <= 2*31*127 < 32767), _mm256_madd_epi16 with the sub-block scale gives int32.
 * The super-block sum is exact int32 (|sumi| <= 256*31*127*63 < 2^31); the min term uses the activation
 * bsums as in the reference. Only the float combination of blocks differs from the reference (FMA, lane order).
 */
#include "kernels/kernels_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "kernels/x86/avx2_util.h"
#include <string.h>

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

void octet__dot_q5_K_q8_K_avx2(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_K *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    float accm = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        octet__prefetch_ahead(x + i, sizeof x[i]);
        uint8_t sc[8], m[8];
        octet__q4_K_scales(x[i].scales, sc, m);
        int32_t summ = 0;
        for (int j = 0; j < 8; j++) summ += m[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        const __m256i hb = _mm256_loadu_si256((const __m256i *)x[i].qh);
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i b = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * c));
            const __m256i hl = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * c), one), 4);
            const __m256i hh = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * c + 1), one), 4);
            const __m256i ql = _mm256_or_si256(_mm256_and_si256(b, m4), hl);
            const __m256i qh = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4), hh);
            const __m256i pl =
                _mm256_maddubs_epi16(ql, _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * c)));
            const __m256i ph =
                _mm256_maddubs_epi16(qh, _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * c + 32)));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(pl, _mm256_set1_epi16((short)sc[2 * c])));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(ph, _mm256_set1_epi16((short)sc[2 * c + 1])));
        }
        const float da = y[i].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(x[i].d) * da), _mm256_cvtepi32_ps(sumi), acc);
        accm += _cvtsh_ss(x[i].dmin) * da * (float)summ;
    }
    *s = hsum8(acc) - accm;
}
#endif
