/*
 * int_out_avx2.c - element-wise AVX2 twins at the edges of the integer-only pass, integer instructions only:
 *   octet__int_to_f32_bits_avx2: the IEEE single bit patterns of int32 fixed-point values (the logits, handed
 *     out as float), bit for bit octet__int_to_f32_bits (src/kernels/ref/int_*_ref.c: round to nearest, ties to even);
 *   octet__int_add_sat_avx2: the residual connection x[i] = sat32(x[i] + d[i]), bit for bit the scalar loop.
 * tests/kernels/test_int_out.c checks both against the scalar definitions on every edge value and on random ones.
 */
#include "kernels/int_kernels.h"

#include "kernels/intmath.h"

#include <immintrin.h>
#include <string.h>

/* v as float * 2^-frac, for 8 int32 lanes. For an int32 v, mag = |v| <= 2^31 (unsigned lanes: _mm256_abs_epi32
 * leaves INT32_MIN as 0x80000000 = 2^31) and e = bitlen(mag) - 1 in [0, 31] (mag > 0); with frac in [0, 96] the
 * biased exponent e - frac + 127 is in [31, 158]: every nonzero result is a normal float, no overflow, no
 * subnormal, so the two special cases of the scalar function never occur.
 *   e by a binary search on the bits (5 halvings);
 *   e <= 23: the significand is mag << (23 - e), exact;
 *   e > 23: sh = e - 23 in [1, 8], mant = (mag + 2^(sh-1) - 1 + lsb) >> sh with lsb = bit sh of mag: round to
 *     nearest, ties to even (a remainder above half carries, exactly half carries only with an odd lsb); mag +
 *     2^7 < 2^32, no wrap in unsigned lanes. A carry out of 24 bits (mant = 2^24) needs no special step:
 *     bits = (be << 23) + mant - 2^23 then holds be + 1 and a zero fraction, the scalar's mant >>= 1, e++.
 * The sign bit is or-ed in last; 0 gives 0 (+0.0f), as the scalar. */
static inline __m256i f32_bits8(__m256i v, __m256i bias) {
    const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi32(1);
    const __m256i mag = _mm256_abs_epi32(v);
    __m256i t = mag, e = zero;
    static const int steps[5] = {16, 8, 4, 2, 1};
    for (int k = 0; k < 5; k++) {
        const __m256i hi = _mm256_srli_epi32(t, steps[k]);
        const __m256i has = _mm256_xor_si256(_mm256_cmpeq_epi32(hi, zero), _mm256_set1_epi32(-1));
        t = _mm256_blendv_epi8(t, hi, has);
        e = _mm256_add_epi32(e, _mm256_and_si256(has, _mm256_set1_epi32(steps[k])));
    }
    const __m256i sh = _mm256_sub_epi32(e, _mm256_set1_epi32(23)); /* > 0: round off sh bits */
    const __m256i left = _mm256_sllv_epi32(mag, _mm256_sub_epi32(_mm256_set1_epi32(23), e)); /* 0 when sh > 0 */
    const __m256i big = _mm256_cmpgt_epi32(sh, zero);
    /* for sh <= 0 the counts below are >= 32 or negative (huge as unsigned): the shifts give 0, masked anyway */
    const __m256i lsb = _mm256_and_si256(_mm256_srlv_epi32(mag, sh), one);
    const __m256i half_m1 = _mm256_sub_epi32(_mm256_sllv_epi32(one, _mm256_sub_epi32(sh, one)), one);
    const __m256i right = _mm256_srlv_epi32(_mm256_add_epi32(mag, _mm256_add_epi32(half_m1, lsb)), sh);
    const __m256i mant = _mm256_blendv_epi8(left, right, big);
    const __m256i be = _mm256_add_epi32(e, bias); /* e - frac + 127 */
    __m256i bits = _mm256_sub_epi32(_mm256_add_epi32(_mm256_slli_epi32(be, 23), mant), _mm256_set1_epi32(1 << 23));
    bits = _mm256_andnot_si256(_mm256_cmpeq_epi32(mag, zero), bits);
    return _mm256_or_si256(bits, _mm256_and_si256(v, _mm256_set1_epi32((int)0x80000000u)));
}

void octet__int_to_f32_bits_avx2(const int32_t *v, size_t n, int frac, void *out) {
    char *o = out; /* stores by vector or memcpy: out holds floats */
    size_t i = 0;
    if (frac >= 0 && frac <= 96) {
        const __m256i bias = _mm256_set1_epi32(127 - frac);
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_si256((__m256i *)(void *)(o + 4 * i),
                                f32_bits8(_mm256_loadu_si256((const __m256i *)(const void *)(v + i)), bias));
    }
    for (; i < n; i++) {
        const uint32_t bits = octet__int_to_f32_bits(v[i], frac);
        memcpy(o + 4 * i, &bits, 4);
    }
}

/* s = x + d wraps exactly when x and d have the same sign and s the other ((x ^ s) & (d ^ s) < 0); the true sum
 * is then beyond the int32 range on x's side: 2^31 - 1 for x >= 0, -(2^31 - 1) for x < 0 (sat32's bounds, which
 * also turn a non-wrapping sum of exactly INT32_MIN into -(2^31 - 1)). */
void octet__int_add_sat_avx2(int32_t *x, const int32_t *d, size_t n) {
    const __m256i lim = _mm256_set1_epi32(INT32_MAX), nlim = _mm256_set1_epi32(-INT32_MAX);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(x + i));
        const __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(d + i));
        const __m256i s = _mm256_add_epi32(a, b);
        /* masks spread from the sign bit to the whole lane (blendv_epi8 reads every byte's top bit) */
        const __m256i wrap = _mm256_srai_epi32(_mm256_and_si256(_mm256_xor_si256(a, s), _mm256_xor_si256(b, s)), 31);
        const __m256i sat = _mm256_blendv_epi8(lim, nlim, _mm256_srai_epi32(a, 31)); /* by a's sign */
        __m256i r = _mm256_blendv_epi8(s, sat, wrap);
        r = _mm256_max_epi32(r, nlim); /* INT32_MIN -> -(2^31 - 1) */
        _mm256_storeu_si256((__m256i *)(void *)(x + i), r);
    }
    for (; i < n; i++) x[i] = octet__int_sat32((int64_t)x[i] + d[i]);
}
