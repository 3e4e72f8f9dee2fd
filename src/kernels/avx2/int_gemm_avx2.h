/*
 * int_gemm_avx2.h - the pieces of the integer-mode 8-row GEMV and row panels (int_gemm_avx2.c) that do not depend
 * on how the int8 products are formed: the 8 rows' block scales, the int64 scaling of the block sums (even and odd
 * rows in separate accumulators), the stores and the output rescale. Shared with the avxvnni set's twins
 * (../avxvnni/int_gemm_avxvnni.c), which form the products by VPDPBUSD. Included only by files compiled with
 * AVX2; all static inline.
 */
#ifndef OCTET_INT_GEMM_AVX2_H
#define OCTET_INT_GEMM_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/avx2/util_avx2.h"
#include "kernels/int_kernels.h"

#define IPANEL_BLOCK_BYTES (8 * 32 + 8 * 4) /* 8 code vectors (lanes = rows), 8 int32 weight scales */

/* sc = ws32 * as per lane (< 2^30: exact int32 through _mm256_madd_epi16 of the pairs (ws, sign) and (as, 0));
 * ws32 holds int16 scales sign-extended to int32. */
static inline __m256i scale_of(__m256i ws32, int16_t as) {
    return _mm256_madd_epi16(ws32, _mm256_set1_epi32((int32_t)(uint16_t)as));
}

/* acc_e/acc_o += isum * sc for the even / odd lanes; the odd lanes brought down by shuffles (_mm256_mul_epi32 reads
 * the low halves only), which run beside the multiplies instead of on the shift port. */
static inline void scale_add(__m256i isum, __m256i ws32, int16_t as, __m256i *acc_e, __m256i *acc_o) {
    const __m256i sc = scale_of(ws32, as);
    *acc_e = _mm256_add_epi64(*acc_e, _mm256_mul_epi32(isum, sc));
    *acc_o = _mm256_add_epi64(*acc_o, _mm256_mul_epi32(_mm256_shuffle_epi32(isum, 0xf5), _mm256_shuffle_epi32(sc, 0xf5)));
}

/* acc_e holds rows 0, 2, 4, 6 and acc_o rows 1, 3, 5, 7: two vector stores in row order (the rescale reads them
 * back as vectors, which a store of scalars could not forward) */
static inline void store_rows(int64_t out[8], __m256i acc_e, __m256i acc_o) {
    const __m256i lo = _mm256_unpacklo_epi64(acc_e, acc_o), hi = _mm256_unpackhi_epi64(acc_e, acc_o);
    _mm256_storeu_si256((__m256i *)(void *)out, _mm256_permute2x128_si256(lo, hi, 0x20));
    _mm256_storeu_si256((__m256i *)(void *)(out + 4), _mm256_permute2x128_si256(lo, hi, 0x31));
}

/* The 8 rows' block scales ws = octet__int_block_scale(h, e) (int_kernels.h) as int32 lanes, from g (lane r: the
 * dword at row r's block, low half the fp16 scale h) and nk1 = 40 - e per row, in one rounding shift for both
 * signs of the exponent s = max(ex, 1) - 25 + e, with K = 16:
 *   x = (h << 16) without the sign,  m << K = x - (max(ex, 1) << 26) + 2^26   (the implicit 1 of normal scales)
 *   R = K - s = nk1 + 1 - max(ex, 1),  ws = floor((+-m 2^K + 2^(R-1)) / 2^R) = floor((floor(+-m 2^K / 2^(R-1)) + 1) / 2)
 * (nested floors by arithmetic shifts: the rounding add needs no variable shift). R >= 1 for every e of the
 * contract (|ws| <= 32767). For s >= 0 this is exactly m << s; for s < 0 it is floor(v 2^s + 1/2); a shift count
 * R - 1 of 27 or more leaves 0 or -1 of |m << K| < 2^27 (counts past 31 fill with the sign), hence ws = 0, the
 * reference's value there. */
static inline __m256i block_scales(__m256i g, __m256i nk1) {
    const __m256i g16 = _mm256_slli_epi32(g, 16);
    const __m256i x = _mm256_and_si256(g16, _mm256_set1_epi32(0x7fff0000));
    const __m256i exm = _mm256_max_epi32(_mm256_srli_epi32(x, 26), _mm256_set1_epi32(1));
    const __m256i m16 = _mm256_add_epi32(_mm256_sub_epi32(x, _mm256_slli_epi32(exm, 26)), _mm256_set1_epi32(1 << 26));
    const __m256i vk = _mm256_sign_epi32(m16, g16);
    const __m256i q = _mm256_srav_epi32(vk, _mm256_sub_epi32(nk1, exm));
    return _mm256_srai_epi32(_mm256_add_epi32(q, _mm256_set1_epi32(1)), 1);
}

/* the 8 rows' exponents e[r] as int32 lanes */
static inline __m256i row_e32(const int8_t e[8]) {
    int64_t e8;
    memcpy(&e8, e, 8);
    return _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(e8));
}

/* 40 - e for the 8 rows (see block_scales) */
static inline __m256i row_nk(const int8_t e[8]) { return _mm256_sub_epi32(_mm256_set1_epi32(40), row_e32(e)); }

/* lane r: r * row_bytes, the gather offsets of the 8 rows */
static inline __m256i row_offsets(size_t row_bytes) {
    return _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)row_bytes));
}

static inline __m256i gather_scales(const uint8_t *w, __m256i idx, int64_t b, __m256i nk) {
    const __m256i g = _mm256_i32gather_epi32((const int *)(const void *)(w + (size_t)b * OCTET_INT_BLOCK), idx, 1);
    return block_scales(g, nk);
}

/* Two blocks' scales at once in 16-bit lanes (dword lane r: low half ws of block b, high half ws of block b + 1),
 * from the two gathers g0, g1 (low halves: the fp16 words) and ej = e[r] - 14 in both halves. With m the
 * significand (implicit 1 for normal h), ex' = max(ex, 1) and j = ex' + e - 14, ws = floor(+-m 2^(j - 11) + 1/2):
 *   a = +-m << 4 (|a| <= 32752),  b = 2^j for 0 <= j <= 14, -32768 for j = 15, 0 for j < 0,
 *   ws = sign(mulhrs(a, b), b)
 * _mm256_mulhrs_epi16 is floor(a b / 2^15 + 1/2), the reference's rounding for both signs; for j = 15 it gives -a
 * exactly and the sign step undoes the negation; for j < 0, |m 2^(j - 11)| < 1/2 and ws = 0. b is looked up by
 * byte (vpshufb gives 0 for an index with its top bit set, which covers j < 0 and the other byte). Valid when
 * j <= 15 for every block: by the contract (|ws| <= 32767, so k = j - 11 <= 4 for normal scales) whenever
 * e[r] <= 28 (subnormal scales: j = e - 13). */
static inline __m256i block_scales2(__m256i g0, __m256i g1, __m256i ej) {
    const __m256i h = _mm256_blend_epi16(g0, _mm256_slli_epi32(g1, 16), 0xaa);
    const __m256i x = _mm256_and_si256(h, _mm256_set1_epi16(0x7fff));
    const __m256i exm = _mm256_max_epi16(_mm256_srli_epi16(x, 10), _mm256_set1_epi16(1));
    const __m256i m = _mm256_add_epi16(_mm256_sub_epi16(x, _mm256_slli_epi16(exm, 10)), _mm256_set1_epi16(0x400));
    const __m256i a = _mm256_sign_epi16(_mm256_slli_epi16(m, 4), h);
    const __m256i j = _mm256_add_epi16(exm, ej);
    const __m256i tab_lo = _mm256_setr_epi8(1, 2, 4, 8, 16, 32, 64, (char)128, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16,
                                            32, 64, (char)128, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i tab_hi = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, (char)128, 0, 0, 0, 0, 0,
                                            0, 0, 0, 1, 2, 4, 8, 16, 32, 64, (char)128);
    const __m256i lo = _mm256_shuffle_epi8(tab_lo, _mm256_or_si256(j, _mm256_set1_epi16((short)0xff00)));
    const __m256i hi = _mm256_shuffle_epi8(tab_hi, _mm256_or_si256(_mm256_slli_epi16(j, 8), _mm256_set1_epi16(0x00ff)));
    const __m256i b = _mm256_or_si256(lo, hi);
    return _mm256_sign_epi16(_mm256_mulhrs_epi16(a, b), b);
}

static inline __m256i gather_raw(const uint8_t *w, __m256i idx, int64_t b) {
    return _mm256_i32gather_epi32((const int *)(const void *)(w + (size_t)b * OCTET_INT_BLOCK), idx, 1);
}

/* 4 lanes of the rescale (int_kernels.h): the fixed-point product of avx2_util.h, the bias, int32 saturation. */
static inline __m256i rescale4(__m256i a, __m256i s, __m256i m, __m256i bias) {
    __m256i v = _mm256_add_epi64(octet__mulshift4(a, m, s), bias);
    const __m256i mx = _mm256_set1_epi64x(INT32_MAX), mn = _mm256_set1_epi64x(-INT32_MAX);
    v = _mm256_blendv_epi8(v, mx, _mm256_cmpgt_epi64(v, mx));
    return _mm256_blendv_epi8(v, mn, _mm256_cmpgt_epi64(mn, v));
}


/* The per-row parts of the output rescale (int_kernels.h) in the even/odd 64-bit lane split of the accumulators:
 * the exponents e[r] (sign-extended), the biases (sign-extended; zero without), the multiplier. */
typedef struct {
    __m256i e32, b_e, b_o, vm;
} rescale_rows;

static inline rescale_rows rescale_setup(const int8_t e[8], int32_t m, const int32_t *bias) {
    rescale_rows rr;
    rr.e32 = row_e32(e);
    rr.b_e = rr.b_o = _mm256_setzero_si256();
    if (bias) {
        const __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)bias), sg = _mm256_srai_epi32(b, 31);
        rr.b_e = _mm256_blend_epi32(b, _mm256_shuffle_epi32(sg, 0xa0), 0xaa); /* high half: the sign of the low */
        rr.b_o = _mm256_blend_epi32(_mm256_shuffle_epi32(b, 0xf5), sg, 0xaa);
    }
    rr.vm = _mm256_set1_epi64x(m);
    return rr;
}

/* y[r] = sat32(mulshift(sum_r, m, base + e[r]) + bias[r]) from the even rows' and odd rows' 64-bit sums, the low
 * halves joined in row order. */
static inline void rescale_store(const rescale_rows *rr, int base, __m256i acc_e, __m256i acc_o, int32_t y[8]) {
    const __m256i s32 = _mm256_add_epi32(_mm256_set1_epi32(base), rr->e32);
    const __m256i s_e = _mm256_and_si256(s32, _mm256_set1_epi64x(0xffffffff)), s_o = _mm256_srli_epi64(s32, 32);
    const __m256i v_e = rescale4(acc_e, s_e, rr->vm, rr->b_e), v_o = rescale4(acc_o, s_o, rr->vm, rr->b_o);
    _mm256_storeu_si256((__m256i *)(void *)y, _mm256_blend_epi32(v_e, _mm256_slli_epi64(v_o, 32), 0xaa));
}

#endif
