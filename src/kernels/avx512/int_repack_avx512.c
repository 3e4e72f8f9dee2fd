/*
 * int_repack_avx512.c - the integer-mode matrix kernels on 16-row Q8_0 x16 groups (kernels/repack.h) with
 * AVX-512 VNNI; contracts in kernels/int_kernels.h and kernels/int_repack.h.
 *
 * Per block b, for each token: 8 VPDPBUSD, one per 4-code chunk j, each multiplying the chunk's 64 bytes (row r's
 * codes 4j..4j+3 as unsigned w + 128 in dword lane r) by the token's codes 4j..4j+3 broadcast to every lane, add
 * sum_k (w_k + 128) a_k to lane r. Intel SDM, VPDPBUSD: "multiplies the individual unsigned bytes of the first
 * source operand by the corresponding signed bytes of the second source operand, producing intermediate signed word
 * results. The word results are then summed and accumulated in the destination dword element" - without
 * saturation (that is VPDPBUSDS), and each word product (w + 128) a fits (|.| <= 255 * 128). The lanes start at
 * -128 S (S the block's code sum, precomputed per token: octet__int_block_aux_avx512), so after the 8 chunks lane r holds isum_r = sum_k w_k a_k exactly (every
 * partial sum is below 32 * 255 * 128 + 128 * 32 * 128 < 2^21 in magnitude): the 16 rows' sums in 16 lanes, no
 * horizontal reduction.
 *
 * Then as the AVX2 kernels (avx2/int_gemm_avx2.c): ws_r from the 16 fp16 scales and the row exponents by integer
 * operations (block_scales16, exactly octet__int_block_scale), sc = ws * as (|sc| <= 2^30: exact int32 through
 * VPMADDWD of (ws, sign) and (as, 0)), term = isum * sc (< 2^49: exact int64 through VPMULDQ on the even lanes and
 * on the odd lanes shifted down), summed over blocks in int64 (n_blocks <= 2^13 keeps them below 2^62). Even rows'
 * sums live in one accumulator (64-bit lanes: rows 0, 2, .., 14), odd rows' in another.
 */
#include "kernels/int_repack.h"

#include <immintrin.h>
#include <string.h>

#include "kernels/int_kernels.h"
#include "kernels/repack.h"

void octet__int_block_aux_avx512(const int8_t *a, const int16_t *as, int64_t n_blocks, int32_t *aux) {
    /* the code sum: VPSADBW against zero sums 8 unsigned bytes per 64-bit lane, of the codes biased by +128
     * (XOR 0x80), the bias 32 * 128 taken off at the end */
    const __m256i bias = _mm256_set1_epi8((char)0x80), zero = _mm256_setzero_si256();
    for (int64_t b = 0; b < n_blocks; b++) {
        const __m256i v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(a + 32 * b)), bias);
        const __m256i s = _mm256_sad_epu8(v, zero);
        const __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        const int64_t u = _mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1);
        aux[2 * b] = (int32_t)(uint16_t)as[b];
        aux[2 * b + 1] = -128 * (int32_t)(u - 32 * 128);
    }
}

/* The 16 rows' block scales ws = octet__int_block_scale(h, e) (int_kernels.h) as int32 lanes, from the 16 fp16
 * words at d and nk = 40 - e[r]: the one-shift derivation of avx2/int_gemm_avx2.c (block_scales) with K = 16:
 *   x = (h << 16) without the sign,  m << K = x - (max(ex, 1) << 26) + 2^26   (the implicit 1 of normal scales)
 *   R = K - s = nk + 1 - max(ex, 1),  ws = floor((floor(+-m 2^K / 2^(R-1)) + 1) / 2)
 * R >= 1 for every e of the contract (|ws| <= 32767); a shift count R - 1 of 27 or more leaves 0 or -1 of
 * |m << K| < 2^27 (VPSRAVD counts past 31 fill with the sign), hence ws = 0, the reference's value there. */
static inline __m512i block_scales16(const uint8_t *d, __m512i nk) {
    const __m512i g16 = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)d)), 16);
    const __m512i x = _mm512_and_si512(g16, _mm512_set1_epi32(0x7fff0000));
    const __m512i exm = _mm512_max_epi32(_mm512_srli_epi32(x, 26), _mm512_set1_epi32(1));
    const __m512i m16 = _mm512_add_epi32(_mm512_sub_epi32(x, _mm512_slli_epi32(exm, 26)), _mm512_set1_epi32(1 << 26));
    const __m512i vk = _mm512_mask_sub_epi32(m16, _mm512_movepi32_mask(g16), _mm512_setzero_si512(), m16);
    const __m512i q = _mm512_srav_epi32(vk, _mm512_sub_epi32(nk, exm));
    return _mm512_srai_epi32(_mm512_add_epi32(q, _mm512_set1_epi32(1)), 1);
}

static inline __m512i row_e32(const int8_t e[16]) {
    return _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)e));
}

static inline __m512i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* T tokens (T <= 4) against the group: acc_e[c] / acc_o[c] the even / odd rows' int64 sums of token c. */
static inline __attribute__((always_inline)) void tile(int64_t n_blocks, const uint8_t *grp, __m512i nk,
                                                       const int8_t *a, size_t a_stride, const int32_t *aux,
                                                       size_t aux_stride, int T, __m512i *acc_e, __m512i *acc_o) {
    _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) acc_e[c] = acc_o[c] = _mm512_setzero_si512();
    for (int64_t b = 0; b < n_blocks; b++) {
        const uint8_t *pb = grp + (size_t)b * OCTET__Q8X16_BLOCK;
        const __m512i ws = block_scales16(pb, nk);
        __m512i w[8];
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++)
            w[j] = _mm512_loadu_si512((const void *)(pb + 32 + 64 * j));
        _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) {
            const int8_t *ab = a + (size_t)c * a_stride + (size_t)b * 32;
            const int32_t *xb = aux + (size_t)c * aux_stride + 2 * (size_t)b;
            __m512i isum = _mm512_set1_epi32(xb[1]);
            if (T >= 3) {
                _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) isum = _mm512_dpbusd_epi32(isum, w[j], bcast4(ab + 4 * j));
            } else {
                /* two chains of 4: one or two tokens alone would wait on one chain of 8 latencies */
                __m512i s1 = _mm512_setzero_si512();
                _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
                    isum = _mm512_dpbusd_epi32(isum, w[2 * j], bcast4(ab + 8 * j));
                    s1 = _mm512_dpbusd_epi32(s1, w[2 * j + 1], bcast4(ab + 8 * j + 4));
                }
                isum = _mm512_add_epi32(isum, s1);
            }
            const __m512i sc = _mm512_madd_epi16(ws, _mm512_set1_epi32(xb[0]));
            acc_e[c] = _mm512_add_epi64(acc_e[c], _mm512_mul_epi32(isum, sc));
            acc_o[c] = _mm512_add_epi64(acc_o[c], _mm512_mul_epi32(_mm512_srli_epi64(isum, 32), _mm512_srli_epi64(sc, 32)));
        }
    }
}

/* rows 0..15 in order from the even / odd rows' sums */
static inline void store_rows(int64_t *out, __m512i acc_e, __m512i acc_o) {
    const __m512i lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), hi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    _mm512_storeu_si512((void *)out, _mm512_permutex2var_epi64(acc_e, lo, acc_o));
    _mm512_storeu_si512((void *)(out + 8), _mm512_permutex2var_epi64(acc_e, hi, acc_o));
}

/* floor((a * m + 2^(s-1)) / 2^s) in 8 int64 lanes (octet__int_mulshift of src/kernels/intmath.h for
 * 32 <= s <= 62, |a| < 2^62, 0 <= m < 2^31): a * m = hi * 2^32 + lo with hi = (a >> 32) * m (signed) and
 * lo = (a mod 2^32) * m (unsigned), the rounding added to lo and its carry to hi, then hi >> (s - 32) (the low
 * 32 bits of lo cannot carry past 2^s for s >= 32). */
static inline __m512i mulshift8(__m512i a, __m512i m, __m512i s) {
    const __m512i one = _mm512_set1_epi64(1);
    const __m512i lo = _mm512_add_epi64(_mm512_mul_epu32(a, m), _mm512_sllv_epi64(one, _mm512_sub_epi64(s, one)));
    const __m512i hi = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), m), _mm512_srli_epi64(lo, 32));
    return _mm512_srav_epi64(hi, _mm512_sub_epi64(s, _mm512_set1_epi64(32)));
}

/* the rows' parts of the rescale: exponents, biases in the even / odd split (sign-extended; 0 without), m */
typedef struct {
    __m512i e32, b_e, b_o, vm;
} rescale_rows;

static inline rescale_rows rescale_setup(const int8_t e[16], int32_t m, const int32_t *bias) {
    rescale_rows rr;
    rr.e32 = row_e32(e);
    rr.b_e = rr.b_o = _mm512_setzero_si512();
    if (bias) {
        const __m512i b = _mm512_loadu_si512((const void *)bias);
        rr.b_e = _mm512_srai_epi64(_mm512_slli_epi64(b, 32), 32);
        rr.b_o = _mm512_srai_epi64(b, 32);
    }
    rr.vm = _mm512_set1_epi64(m);
    return rr;
}

static inline __m512i sat8(__m512i v) {
    return _mm512_max_epi64(_mm512_min_epi64(v, _mm512_set1_epi64(INT32_MAX)), _mm512_set1_epi64(-INT32_MAX));
}

/* y[r] = sat32(mulshift(sum_r, m, base + e[r]) + bias[r]) for the 16 rows */
static inline void rescale_store(const rescale_rows *rr, int base, __m512i acc_e, __m512i acc_o, int32_t *y) {
    const __m512i s32 = _mm512_add_epi32(_mm512_set1_epi32(base), rr->e32); /* in [32, 62]: positive */
    const __m512i s_e = _mm512_and_si512(s32, _mm512_set1_epi64(0xffffffff)), s_o = _mm512_srli_epi64(s32, 32);
    const __m512i v_e = sat8(_mm512_add_epi64(mulshift8(acc_e, rr->vm, s_e), rr->b_e));
    const __m512i v_o = sat8(_mm512_add_epi64(mulshift8(acc_o, rr->vm, s_o), rr->b_o));
    _mm512_storeu_si512((void *)y, _mm512_mask_blend_epi32(0xaaaa, v_e, _mm512_slli_epi64(v_o, 32)));
}

#define TILE 8 /* tokens per pass over a group's blocks in prompts (6 measured the same) */

/* Tiles of TILE tokens, then of 4, then the rest as one tile of 1..3. Each token's sums go to out (rr NULL) or, rescaled, to
 * y + c * y_stride. */
static inline __attribute__((always_inline)) void run(int64_t n_blocks, const void *group, const int8_t e[16],
                                                      const int8_t *a, size_t a_stride, const int32_t *aux,
                                                      size_t aux_stride, int nc, int64_t *out,
                                                      const rescale_rows *rr, const int *base, int32_t *y,
                                                      size_t y_stride) {
    const uint8_t *grp = group;
    const __m512i nk = _mm512_sub_epi32(_mm512_set1_epi32(40), row_e32(e));
    for (int c0 = 0; c0 < nc;) {
        const int T = nc - c0 >= TILE ? TILE : nc - c0 >= 4 ? 4 : nc - c0;
        const int8_t *ac = a + (size_t)c0 * a_stride;
        const int32_t *xc = aux + (size_t)c0 * aux_stride;
        __m512i acc_e[TILE], acc_o[TILE];
        switch (T) {
        case TILE: tile(n_blocks, grp, nk, ac, a_stride, xc, aux_stride, TILE, acc_e, acc_o); break;
        case 4: tile(n_blocks, grp, nk, ac, a_stride, xc, aux_stride, 4, acc_e, acc_o); break;
        case 3: tile(n_blocks, grp, nk, ac, a_stride, xc, aux_stride, 3, acc_e, acc_o); break;
        case 2: tile(n_blocks, grp, nk, ac, a_stride, xc, aux_stride, 2, acc_e, acc_o); break;
        default: tile(n_blocks, grp, nk, ac, a_stride, xc, aux_stride, 1, acc_e, acc_o); break;
        }
        for (int c = 0; c < T; c++) {
            if (rr) rescale_store(rr, base[c0 + c], acc_e[c], acc_o[c], y + (size_t)(c0 + c) * y_stride);
            else store_rows(out + (size_t)(c0 + c) * 16, acc_e[c], acc_o[c]);
        }
        c0 += T;
    }
}

void octet__int_gemm16_q8x16_avx512(int64_t n_blocks, const void *group, const int8_t e[16], const int8_t *a,
                                    size_t a_stride, const int32_t *aux, size_t aux_stride, int nc, int64_t *out) {
    run(n_blocks, group, e, a, a_stride, aux, aux_stride, nc, out, NULL, NULL, NULL, 0);
}

void octet__int_gemm16_q8x16_y_avx512(int64_t n_blocks, const void *group, const int8_t e[16], const int8_t *a,
                                      size_t a_stride, const int32_t *aux, size_t aux_stride, int nc,
                                      const int *base, int32_t m, const int32_t *bias, int32_t *y, size_t y_stride) {
    const rescale_rows rr = rescale_setup(e, m, bias);
    run(n_blocks, group, e, a, a_stride, aux, aux_stride, nc, NULL, &rr, base, y, y_stride);
}
