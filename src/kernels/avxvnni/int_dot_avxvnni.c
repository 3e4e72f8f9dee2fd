/*
 * int_dot_avxvnni.c - the avxvnni twins of the Q8 block dots of ../avx2/int_dot_avx2.c (integer mode): exact
 * integers, identical to the references (../ref/int_dot_ref.c) for every input the contracts allow.
 *
 * Block products: |w| as unsigned bytes (VPSIGNB w, w: 128 for -128) times a carrying w's sign (VPSIGNB a, w;
 * exact since activation codes are never -128) through VPDPBUSD (kernels_avxvnni.h), which adds each group of four
 * products into an int32 lane without the int16 step of the avx2 kernels (|lane| <= 4 * 128 * 127). The block
 * sums are then scaled in int64 exactly as in the avx2 kernels: four blocks (or four tokens) reduced together by
 * VPHADDD, widened, and multiplied by the int32 products of the block scales with VPMULDQ.
 */
#include "kernels/avxvnni/kernels_avxvnni.h"

#include <immintrin.h>

#include "kernels/avx2/util_avx2.h"
#include "kernels/intmath.h"

/* 8 int32 lanes of block w's codes (at blk + 2) dotted with a's 32 codes */
static inline __m256i block_sums(const uint8_t *blk, const int8_t *a) {
    const __m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2));
    const __m256i av = _mm256_loadu_si256((const __m256i *)(const void *)a);
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(wv, wv), _mm256_sign_epi8(av, wv));
}

static inline int32_t wscale(const uint8_t *blk, int e) { return octet__int_block_scale(octet__int_block_h(blk), e); }

int64_t octet__int_dot_q8_avxvnni(int64_t n_blocks, const uint8_t *w, int e, const int8_t *a, const int16_t *as) {
    __m256i acc = _mm256_setzero_si256();
    int64_t b = 0;
    const size_t S = OCTET_INT_BLOCK;
    for (; b + 4 <= n_blocks; b += 4) {
        const uint8_t *wb = w + (size_t)b * S;
        const int8_t *ab = a + (size_t)b * 32;
        __m256i s0 = block_sums(wb, ab), s1 = block_sums(wb + S, ab + 32);
        __m256i s2 = block_sums(wb + 2 * S, ab + 64), s3 = block_sums(wb + 3 * S, ab + 96);
        __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
        __m128i sum4 = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)); /* blocks b..b+3 */
        __m128i wsc = _mm_setr_epi32(wscale(wb, e), wscale(wb + S, e), wscale(wb + 2 * S, e), wscale(wb + 3 * S, e));
        __m128i asc = _mm_cvtepi16_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(as + b)));
        __m128i sc = _mm_mullo_epi32(wsc, asc);
        acc = _mm256_add_epi64(acc, _mm256_mul_epi32(_mm256_cvtepi32_epi64(sum4), _mm256_cvtepi32_epi64(sc)));
    }
    int64_t lanes[4];
    _mm256_storeu_si256((__m256i *)(void *)lanes, acc);
    int64_t r = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for (; b < n_blocks; b++) /* 1..3 tail blocks */
        r += (int64_t)octet__hsum8i(block_sums(w + (size_t)b * S, a + (size_t)b * 32)) *
             (wscale(w + (size_t)b * S, e) * (int32_t)as[b]);
    return r;
}

/* One weight block against four tokens: |w| once per block, each token's codes with w's sign. */
void octet__int_dot4_q8_avxvnni(int64_t n_blocks, const uint8_t *w, int e, const int8_t *a, size_t a_stride,
                                const int16_t *as, size_t as_stride, int64_t out[4]) {
    const int8_t *a0 = a, *a1 = a + a_stride, *a2 = a + 2 * a_stride, *a3 = a + 3 * a_stride;
    const int16_t *s0 = as, *s1 = as + as_stride, *s2 = as + 2 * as_stride, *s3 = as + 3 * as_stride;
    __m256i acc = _mm256_setzero_si256(); /* int64 lane t: token t */
    for (int64_t b = 0; b < n_blocks; b++) {
        const uint8_t *blk = w + (size_t)b * OCTET_INT_BLOCK;
        const __m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2));
        const __m256i aw = _mm256_sign_epi8(wv, wv);
        const size_t o = (size_t)b * 32;
#define OCTET__TOK(ap)                                                                                             \
    _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), aw,                                                            \
                            _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(ap + o)), wv))
        __m256i t0 = OCTET__TOK(a0), t1 = OCTET__TOK(a1), t2 = OCTET__TOK(a2), t3 = OCTET__TOK(a3);
#undef OCTET__TOK
        __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(t0, t1), _mm256_hadd_epi32(t2, t3));
        __m128i sum4 = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)); /* tokens 0..3 */
        __m128i sc = _mm_mullo_epi32(_mm_set1_epi32(wscale(blk, e)), _mm_setr_epi32(s0[b], s1[b], s2[b], s3[b]));
        acc = _mm256_add_epi64(acc, _mm256_mul_epi32(_mm256_cvtepi32_epi64(sum4), _mm256_cvtepi32_epi64(sc)));
    }
    _mm256_storeu_si256((__m256i *)(void *)out, acc);
}
