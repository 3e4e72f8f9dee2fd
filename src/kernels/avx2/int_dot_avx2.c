/*
 * int_dot_avx2.c - AVX2 twins of ../ref/int_dot_ref.c (no VNNI needed). Results are exact integers, identical
 * to the references for every input the contracts allow (tests/kernels/test_int_dot.c).
 *
 * Q8 block dot: |w| as unsigned bytes times a with w's sign (_mm256_sign_epi8) through _mm256_maddubs_epi16:
 * each int16 pair sum is at most 2 * 128 * 127 = 32512, so it never saturates (activation codes are never -128).
 * Four blocks are reduced together with hadd, their int32 sums widened to int64 lanes and multiplied by the
 * int32 products of the block scales (< 2^30) with _mm256_mul_epi32 (signed 32x32 -> 64).
 */
#include <immintrin.h>

#include "kernels/int_kernels.h"
#include "kernels/avx2/util_avx2.h"
#include "kernels/intmath.h"

static inline __m256i block_sums(const uint8_t *blk, const int8_t *a) {
    const __m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2));
    const __m256i av = _mm256_loadu_si256((const __m256i *)(const void *)a);
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(av, wv));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1)); /* 8 x int32 */
}

static inline int32_t wscale(const uint8_t *blk, int e) { return octet__int_block_scale(octet__int_block_h(blk), e); }

int64_t octet__int_dot_q8_avx2(int64_t n_blocks, const uint8_t *w, int e, const int8_t *a, const int16_t *as) {
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
    for (; b < n_blocks; b++) { /* 1..3 tail blocks */
        __m256i sb = block_sums(w + (size_t)b * S, a + (size_t)b * 32);
        __m128i h = _mm_add_epi32(_mm256_castsi256_si128(sb), _mm256_extracti128_si256(sb, 1));
        h = _mm_hadd_epi32(h, h);
        h = _mm_hadd_epi32(h, h);
        r += (int64_t)_mm_cvtsi128_si32(h) * (wscale(w + (size_t)b * S, e) * (int32_t)as[b]);
    }
    return r;
}

/* One weight block against four tokens: |w| and the weight signs are computed once per block; the four 8-lane sums
 * are reduced together by two rounds of hadd, then scaled in int64 as above. */
void octet__int_dot4_q8_avx2(int64_t n_blocks, const uint8_t *w, int e, const int8_t *a, size_t a_stride,
                             const int16_t *as, size_t as_stride, int64_t out[4]) {
    const __m256i ones = _mm256_set1_epi16(1);
    const int8_t *a0 = a, *a1 = a + a_stride, *a2 = a + 2 * a_stride, *a3 = a + 3 * a_stride;
    const int16_t *s0 = as, *s1 = as + as_stride, *s2 = as + 2 * as_stride, *s3 = as + 3 * as_stride;
    __m256i acc = _mm256_setzero_si256(); /* int64 lane t: token t */
    for (int64_t b = 0; b < n_blocks; b++) {
        const uint8_t *blk = w + (size_t)b * OCTET_INT_BLOCK;
        const __m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2));
        const __m256i aw = _mm256_sign_epi8(wv, wv);
        const size_t o = (size_t)b * 32;
#define OCTET__TOK(ap)                                                                                             \
    _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(ap + o)), wv)), ones)
        __m256i t0 = OCTET__TOK(a0), t1 = OCTET__TOK(a1), t2 = OCTET__TOK(a2), t3 = OCTET__TOK(a3);
#undef OCTET__TOK
        __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(t0, t1), _mm256_hadd_epi32(t2, t3));
        __m128i sum4 = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)); /* tokens 0..3 */
        __m128i sc = _mm_mullo_epi32(_mm_set1_epi32(wscale(blk, e)), _mm_setr_epi32(s0[b], s1[b], s2[b], s3[b]));
        acc = _mm256_add_epi64(acc, _mm256_mul_epi32(_mm256_cvtepi32_epi64(sum4), _mm256_cvtepi32_epi64(sc)));
    }
    _mm256_storeu_si256((__m256i *)(void *)out, acc);
}

/* 16 pairs per step: _mm256_mulhrs_epi16 is exactly rh(), adds/subs saturate like sat16(), and
 * _mm256_madd_epi16 forms the int16 x int8 products (each pair sum < 2^24). */
/* Pairs i..i+15 of a query turned by cs and dotted with the key, added to the 8 int32 lanes of acc. */
static inline __m256i score_step16(__m256i acc, const int16_t *q, const int8_t *k, const int16_t *cs, int half, int i) {
    const __m256i vqa = _mm256_loadu_si256((const __m256i *)(const void *)(q + i));
    const __m256i vqb = _mm256_loadu_si256((const __m256i *)(const void *)(q + half + i));
    const __m256i vc = _mm256_loadu_si256((const __m256i *)(const void *)(cs + i));
    const __m256i vs = _mm256_loadu_si256((const __m256i *)(const void *)(cs + half + i));
    const __m256i vka = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(k + i)));
    const __m256i vkb = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(k + half + i)));
    const __m256i ra = _mm256_subs_epi16(_mm256_mulhrs_epi16(vqa, vc), _mm256_mulhrs_epi16(vqb, vs));
    const __m256i rb = _mm256_adds_epi16(_mm256_mulhrs_epi16(vqa, vs), _mm256_mulhrs_epi16(vqb, vc));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(ra, vka));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(rb, vkb));
}

int64_t octet__int_score_avx2(const int16_t *q, const int8_t *k, const int16_t *cs, int half, int hd) {
    const int16_t *qa = q, *qb = q + half, *c = cs, *s = cs + half;
    const int8_t *ka = k, *kb = k + half;
    __m256i acc = _mm256_setzero_si256();
    int i = 0;
    for (; i + 16 <= half; i += 16) acc = score_step16(acc, q, k, cs, half, i);
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)(void *)lanes, acc);
    int64_t r = 0;
    for (int l = 0; l < 8; l++) r += lanes[l];
    for (; i < half; i++) {
        int32_t ra = ((int32_t)qa[i] * c[i] + (1 << 14)) >> 15, rb;
        rb = ((int32_t)qa[i] * s[i] + (1 << 14)) >> 15;
        ra -= ((int32_t)qb[i] * s[i] + (1 << 14)) >> 15;
        rb += ((int32_t)qb[i] * c[i] + (1 << 14)) >> 15;
        ra = ra > 32767 ? 32767 : ra < -32768 ? -32768 : ra;
        rb = rb > 32767 ? 32767 : rb < -32768 ? -32768 : rb;
        r += (int64_t)ra * ka[i] + (int64_t)rb * kb[i];
    }
    for (int j = 2 * half; j < hd; j++) r += q[j] * k[j];
    return r;
}

/* One key's 8 int32 partial sums of the rotated-query dot (the loop of octet__int_score_avx2) for half = 16 S, fully
 * unrolled with the query's 2 S vectors passed in (loaded once per call of the many-key kernel). */
static inline __attribute__((always_inline)) __m256i score_lanes(const __m256i *qa, const __m256i *qb, const int8_t *k,
                                                                  const int16_t *cs, const int S) {
    const int half = 16 * S;
    __m256i acc = _mm256_setzero_si256();
    _Pragma("GCC unroll 8") for (int t = 0; t < S; t++) {
        const __m256i vc = _mm256_loadu_si256((const __m256i *)(const void *)(cs + 16 * t));
        const __m256i vs = _mm256_loadu_si256((const __m256i *)(const void *)(cs + half + 16 * t));
        const __m256i vka = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(k + 16 * t)));
        const __m256i vkb = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(k + half + 16 * t)));
        const __m256i ra = _mm256_subs_epi16(_mm256_mulhrs_epi16(qa[t], vc), _mm256_mulhrs_epi16(qb[t], vs));
        const __m256i rb = _mm256_adds_epi16(_mm256_mulhrs_epi16(qa[t], vs), _mm256_mulhrs_epi16(qb[t], vc));
        acc = _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(ra, vka), _mm256_madd_epi16(rb, vkb)));
    }
    return acc;
}

/* Keys j0 + idx[u] for u < 8 (indices may repeat: the tail's padding), their lane sums reduced together (hadd tree:
 * lane u of the result is key u's sum), widened to int64 into o[0..8). */
static inline __attribute__((always_inline)) void scores8(const __m256i *qa, const __m256i *qb, const int8_t *k,
                                                          size_t kstride, const int16_t *const *cs, const int idx[8],
                                                          int64_t *o, const int S) {
    __m256i a[8];
    _Pragma("GCC unroll 8") for (int u = 0; u < 8; u++)
        a[u] = score_lanes(qa, qb, k + (size_t)idx[u] * kstride, cs[idx[u]], S);
    const __m256i r = octet__reduce8(a);
    _mm256_storeu_si256((__m256i *)(void *)o, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(r)));
    _mm256_storeu_si256((__m256i *)(void *)(o + 4), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(r, 1)));
}

static inline __attribute__((always_inline)) void scores_s(const int16_t *q, const int8_t *k, size_t kstride,
                                                           const int16_t *const *cs, int n, int64_t *out, const int S) {
    __m256i qa[8], qb[8];
    _Pragma("GCC unroll 8") for (int t = 0; t < S; t++) {
        qa[t] = _mm256_loadu_si256((const __m256i *)(const void *)(q + 16 * t));
        qb[t] = _mm256_loadu_si256((const __m256i *)(const void *)(q + 16 * S + 16 * t));
    }
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        const int idx[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        scores8(qa, qb, k + (size_t)j * kstride, kstride, cs + j, idx, out + j, S);
    }
    if (j < n) { /* the last 1..7 keys as eight, the last one repeated; only theirs kept */
        int idx[8];
        int64_t o[8];
        for (int u = 0; u < 8; u++) idx[u] = j + u < n ? u : n - 1 - j;
        scores8(qa, qb, k + (size_t)j * kstride, kstride, cs + j, idx, o, S);
        for (int u = 0; j + u < n; u++) out[j + u] = o[u];
    }
}

/* Eight keys per step, the last n mod 8 as eight with the last key repeated. The int32 sums are exact: |R| <= hd *
 * 32767 * 128 < 2^31 for hd <= 256. Each half = 16 S has its own fully unrolled copy; other shapes (partial RoPE,
 * half not a multiple of 16, hd > 256) go key by key through the one-key kernel. */
void octet__int_scores_avx2(const int16_t *q, const int8_t *k, size_t kstride, const int16_t *const *cs, int n,
                            int half, int hd, int64_t *out) {
    if (hd == 2 * half && half % 16 == 0 && hd <= 256) {
        switch (half / 16) {
        case 1: scores_s(q, k, kstride, cs, n, out, 1); return;
        case 2: scores_s(q, k, kstride, cs, n, out, 2); return;
        case 3: scores_s(q, k, kstride, cs, n, out, 3); return;
        case 4: scores_s(q, k, kstride, cs, n, out, 4); return;
        case 5: scores_s(q, k, kstride, cs, n, out, 5); return;
        case 6: scores_s(q, k, kstride, cs, n, out, 6); return;
        case 7: scores_s(q, k, kstride, cs, n, out, 7); return;
        default: scores_s(q, k, kstride, cs, n, out, 8); return;
        }
    }
    for (int j = 0; j < n; j++) out[j] = octet__int_score_avx2(q, k + (size_t)j * kstride, cs[j], half, hd);
}

/* Four keys per vector: sc * ksc (|sc| < 2^31 fits the signed 32 x 32 -> 64 product), then the fixed-point product
 * of avx2_util.h; a group with a shift outside [32, 62] goes through the reference. */
void octet__int_qscale_avx2(int64_t *sc, const int16_t *ksc, const int8_t *ksh, int n, int32_t m, int base) {
    const __m256i vm = _mm256_set1_epi64x(m), vb = _mm256_set1_epi64x(base);
    const __m256i lo = _mm256_set1_epi64x(32), hi = _mm256_set1_epi64x(62);
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        int64_t k4;
        int32_t e4;
        memcpy(&k4, ksc + j, 8);
        memcpy(&e4, ksh + j, 4);
        const __m256i s = _mm256_sub_epi64(vb, _mm256_cvtepi8_epi64(_mm_cvtsi32_si128(e4)));
        const __m256i bad = _mm256_or_si256(_mm256_cmpgt_epi64(lo, s), _mm256_cmpgt_epi64(s, hi));
        if (!_mm256_testz_si256(bad, bad)) {
            octet__int_qscale_ref(sc + j, ksc + j, ksh + j, 4, m, base);
            continue;
        }
        const __m256i a = _mm256_mul_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(sc + j)),
                                           _mm256_cvtepi16_epi64(_mm_cvtsi64_si128(k4)));
        _mm256_storeu_si256((__m256i *)(void *)(sc + j), octet__mulshift4(a, vm, s));
    }
    if (j < n) octet__int_qscale_ref(sc + j, ksc + j, ksh + j, n - j, m, base);
}

/* Eight keys per step: p * vsc < 2^45 as unsigned 32 x 32 -> 64 products of the even and odd lanes, the rounding
 * and shift per lane (a count of 64 or more gives 0, as the reference's shift beyond 62 does; at 63 the sum is
 * below 2^63 and gives 0 as well). */
void octet__int_vweights_avx2(int32_t *p, const int16_t *vsc, const int8_t *vsh, int n, int base) {
    const __m256i vb = _mm256_set1_epi32(base), one = _mm256_set1_epi64x(1);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        int64_t e8;
        memcpy(&e8, vsh + j, 8);
        const __m256i s = _mm256_sub_epi32(vb, _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(e8)));
        const __m256i pv = _mm256_loadu_si256((const __m256i *)(const void *)(p + j));
        const __m256i w = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(vsc + j)));
        const __m256i se = _mm256_and_si256(s, _mm256_set1_epi64x(0xffffffff)), so = _mm256_srli_epi64(s, 32);
        __m256i e = _mm256_mul_epu32(pv, w), o = _mm256_mul_epu32(_mm256_srli_epi64(pv, 32), _mm256_srli_epi64(w, 32));
        e = _mm256_srlv_epi64(_mm256_add_epi64(e, _mm256_sllv_epi64(one, _mm256_sub_epi64(se, one))), se);
        o = _mm256_srlv_epi64(_mm256_add_epi64(o, _mm256_sllv_epi64(one, _mm256_sub_epi64(so, one))), so);
        _mm256_storeu_si256((__m256i *)(void *)(p + j), _mm256_or_si256(e, _mm256_slli_epi64(o, 32)));
    }
    if (j < n) octet__int_vweights_ref(p + j, vsc + j, vsh + j, n - j, base);
}

void octet__int_axpy_s8_avx2(int32_t *y, int32_t w, const int8_t *x, int n) {
    const __m256i vw = _mm256_set1_epi32(w);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256i xv = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(x + j)));
        __m256i yv = _mm256_loadu_si256((const __m256i *)(const void *)(y + j));
        _mm256_storeu_si256((__m256i *)(void *)(y + j), _mm256_add_epi32(yv, _mm256_mullo_epi32(vw, xv)));
    }
    for (; j < n; j++) y[j] += w * x[j];
}

/* Activation codes, 8 at a time: |x| times r as unsigned 32 x 32 -> 64 products (even and odd lanes), rounded and
 * shifted, clamped to 127, the sign put back, packed to bytes. */
void octet__int_codes_avx2(const int32_t *x, int n, int64_t r, int s, int8_t *q) {
    const __m256i vr = _mm256_set1_epi64x(r), half = _mm256_set1_epi64x((int64_t)1 << (s - 1));
    const __m256i c127 = _mm256_set1_epi64x(127);
    const __m128i sh = _mm_cvtsi32_si128(s);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)(x + j));
        const __m256i ax = _mm256_abs_epi32(xv); /* |INT32_MIN| = 2^31 as unsigned: still exact below */
        __m256i pe = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epu32(ax, vr), half), sh);
        __m256i po = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(ax, 32), vr), half), sh);
        /* magnitudes above 127 (up to 2^61 >> s) saturate: compared as 64-bit, then the low dwords kept */
        pe = _mm256_blendv_epi8(pe, c127, _mm256_cmpgt_epi64(pe, c127));
        po = _mm256_blendv_epi8(po, c127, _mm256_cmpgt_epi64(po, c127));
        __m256i c = _mm256_or_si256(pe, _mm256_slli_epi64(po, 32)); /* lanes in order, each 0..127 */
        c = _mm256_sign_epi32(c, xv);                               /* negated where x < 0 */
        const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
        _mm_storel_epi64((__m128i *)(void *)(q + j), _mm_packs_epi16(w16, w16));
    }
    if (j < n) octet__int_codes_ref(x + j, n - j, r, s, q + j);
}

/* The weighted sum, two keys per step: the bytes of keys j and j + 1 interleaved and widened to int16 pairs
 * (v_j[d], v_j+1[d]), so _mm256_madd_epi16 against the pair (w_j, w_j+1) gives 8 outputs of both keys in one
 * instruction (mullo_epi32, 2 uops and 10 cycles' latency per 8 outputs of one key, is avoided). A weight w in
 * [-2^30, 2^30) is split as w = 2^15 wh + wl with wl = w mod 2^15 in [0, 2^15) and wh = w >> 15 in [-2^15, 2^15),
 * both int16; each madd sums two products of magnitude at most 2^15 * 128 = 2^22 (no overflow), and the lanes sum
 *   lo[d] = sum_j wl_j v_j[d],  hi[d] = sum_j wh_j v_j[d],  out[d] = 2^15 hi[d] + lo[d]
 * with wrapping int32 adds and shift: every step is exact modulo 2^32, so out is exact wherever the true sum fits
 * int32 (the contract). The pairs' (wl, wl') and (wh, wh') words are packed once per chunk of keys into pl / ph;
 * each pass over the keys then covers V vectors of 8 outputs (8 V dimensions) with 2 V accumulators. */
#define WSUM_PAIRS 64 /* key pairs per chunk */
static inline __attribute__((always_inline)) void wsum_pass(int32_t *out, const uint32_t *pl, const uint32_t *ph,
                                                            int np, int single, const int8_t *v, size_t stride,
                                                            int first, const int V) {
    __m256i lo[4], hi[4];
    _Pragma("GCC unroll 4") for (int u = 0; u < V; u++) lo[u] = hi[u] = _mm256_setzero_si256();
    for (int p = 0; p < np + single; p++) {
        const __m256i wl = _mm256_set1_epi32((int32_t)pl[p]), wh = _mm256_set1_epi32((int32_t)ph[p]);
        const int8_t *x0 = v + (size_t)(2 * p) * stride, *x1 = x0 + stride;
        __m256i c[4];
        if (p < np) {
            if (V == 1) {
                c[0] = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(const void *)x0),
                                                              _mm_loadl_epi64((const __m128i *)(const void *)x1)));
            } else {
                _Pragma("GCC unroll 2") for (int u = 0; u < V; u += 2) {
                    const __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(x0 + 8 * u));
                    const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(x1 + 8 * u));
                    c[u] = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(a, b));
                    c[u + 1] = _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(a, b));
                }
            }
        } else { /* the odd last key, paired with zeros (its partner weight is 0 as well) */
            _Pragma("GCC unroll 4") for (int u = 0; u < V; u++) c[u] = _mm256_cvtepi8_epi16(
                _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(const void *)(x0 + 8 * u)), _mm_setzero_si128()));
        }
        _Pragma("GCC unroll 4") for (int u = 0; u < V; u++) {
            lo[u] = _mm256_add_epi32(lo[u], _mm256_madd_epi16(c[u], wl));
            hi[u] = _mm256_add_epi32(hi[u], _mm256_madd_epi16(c[u], wh));
        }
    }
    _Pragma("GCC unroll 4") for (int u = 0; u < V; u++) {
        __m256i r = _mm256_add_epi32(_mm256_slli_epi32(hi[u], 15), lo[u]);
        if (!first) r = _mm256_add_epi32(r, _mm256_loadu_si256((const __m256i *)(const void *)(out + 8 * u)));
        _mm256_storeu_si256((__m256i *)(void *)(out + 8 * u), r);
    }
}

void octet__int_wsum_s8_avx2(int32_t *out, const int32_t *w, const int8_t *v, size_t stride, int n, int hd) {
    const int hd8 = hd & ~7;
    uint32_t pl[WSUM_PAIRS], ph[WSUM_PAIRS];
    for (int d = hd8; d < hd; d++) out[d] = 0;
    if (n <= 0)
        for (int d = 0; d < hd8; d++) out[d] = 0;
    for (int j0 = 0; j0 < n; j0 += 2 * WSUM_PAIRS) {
        const int m = n - j0 < 2 * WSUM_PAIRS ? n - j0 : 2 * WSUM_PAIRS, np = m / 2, single = m & 1;
        const int32_t *wj = w + j0;
        int p = 0;
        /* 16 weights -> 8 pairs: the low and high parts fit int16, so packs is exact; packs orders the 16 words
         * 0..3, 8..11 | 4..7, 12..15 and the 64-bit permute puts them in order */
        for (; p + 8 <= np; p += 8) {
            const __m256i wa = _mm256_loadu_si256((const __m256i *)(const void *)(wj + 2 * p));
            const __m256i wb = _mm256_loadu_si256((const __m256i *)(const void *)(wj + 2 * p + 8));
            const __m256i m15 = _mm256_set1_epi32(0x7fff);
            const __m256i l = _mm256_packs_epi32(_mm256_and_si256(wa, m15), _mm256_and_si256(wb, m15));
            const __m256i h = _mm256_packs_epi32(_mm256_srai_epi32(wa, 15), _mm256_srai_epi32(wb, 15));
            _mm256_storeu_si256((__m256i *)(void *)(pl + p), _mm256_permute4x64_epi64(l, 0xd8));
            _mm256_storeu_si256((__m256i *)(void *)(ph + p), _mm256_permute4x64_epi64(h, 0xd8));
        }
        for (; p < np + single; p++) {
            const int32_t w0 = wj[2 * p], w1 = p < np ? wj[2 * p + 1] : 0;
            pl[p] = ((uint32_t)w0 & 0x7fffu) | ((uint32_t)w1 & 0x7fffu) << 16;
            ph[p] = ((uint32_t)(w0 >> 15) & 0xffffu) | (uint32_t)(w1 >> 15) << 16;
        }
        const int8_t *vj = v + (size_t)j0 * stride;
        const int first = j0 == 0;
        int d = 0;
        for (; d + 32 <= hd; d += 32) wsum_pass(out + d, pl, ph, np, single, vj + d, stride, first, 4);
        if (d + 16 <= hd) wsum_pass(out + d, pl, ph, np, single, vj + d, stride, first, 2), d += 16;
        if (d + 8 <= hd) wsum_pass(out + d, pl, ph, np, single, vj + d, stride, first, 1), d += 8;
        for (int j = 0; d < hd && j < m; j++) /* the last hd mod 8 dimensions key by key */
            octet__int_axpy_s8_ref(out + d, wj[j], vj + (size_t)j * stride + d, hd - d);
    }
}
#undef WSUM_PAIRS

/* 8 outputs per vector for 32 <= s <= 62: p = acc m is exact in int64 (|p| <= 2^31 (2^31 - 1) < 2^62, the signed
 * 32 x 32 -> 64 product of the even lanes and of the odd lanes moved down), and with the offset 2^62 the sum
 * p + 2^62 + 2^(s-1) is in (0, 2^64): a logical shift by s gives floor((p + 2^(s-1)) / 2^s) + 2^(62-s), the rescale
 * of octet__int_mulshift plus a constant. That result has magnitude at most 2^30 (s >= 32), so it needs no clamp,
 * and its low 32 bits minus 2^(62-s) (mod 2^32) are it exactly. */
void octet__int_rescale32_avx2(int32_t *out, const int32_t *acc, int n, int32_t m, int s) {
    int j = 0;
    if (s >= 32 && s <= 62) {
        const __m256i vm = _mm256_set1_epi64x(m);
        const __m256i bias = _mm256_set1_epi64x((int64_t)((UINT64_C(1) << 62) + (UINT64_C(1) << (s - 1))));
        const __m256i off = _mm256_set1_epi32((int32_t)(UINT32_C(1) << (62 - s)));
        const __m128i cnt = _mm_cvtsi32_si128(s);
        for (; j + 8 <= n; j += 8) {
            const __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(acc + j));
            const __m256i pe = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epi32(a, vm), bias), cnt);
            const __m256i ao = _mm256_srli_epi64(a, 32);
            const __m256i po = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epi32(ao, vm), bias), cnt);
            const __m256i r = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xaa);
            _mm256_storeu_si256((__m256i *)(void *)(out + j), _mm256_sub_epi32(r, off));
        }
    }
    if (j < n) octet__int_rescale32_ref(out + j, acc + j, n - j, m, s);
}

/* r(x) = octet__int_shift_round(x, sh) in 8 lanes for sh > 0: the magnitude (|INT32_MIN| = 2^31 as unsigned) plus
 * 2^(sh-1) stays below 2^32 (sh <= 18), shifted logically, the sign put back (0 stays 0). */
static inline __m256i qround_pos(__m256i x, __m256i rnd, __m128i cnt) {
    return _mm256_sign_epi32(_mm256_srl_epi32(_mm256_add_epi32(_mm256_abs_epi32(x), rnd), cnt), x);
}

/* The query head: max |v| by the vector pass of int_norm_avx2.c, the shift by the shared scalar steps, then 8 or 16
 * values per step. For sh <= 0, r(x) = x 2^-sh is a plain left shift: |x| 2^-sh <= qmax 2^-sh <= 23170, no
 * saturation. Every result is at most 23170 in magnitude, so the packs to int16 are exact. Adjacent pairs: 16
 * values v[2i .. 2i + 16) packed (in-lane order 0..3, 8..11 | 4..7, 12..15), put in order by a 64-bit permute,
 * the evens gathered to the low 8 bytes of each 128-bit lane and the odds to the high ones, and a second permute
 * leaves r(v[2i + 2k]) (k < 8) in the low half (out + i) and r(v[2i + 2k + 1]) in the high half (out + half + i). */
int octet__int_qhead_avx2(const int32_t *v, int hd, int half, int pairs, int16_t *out) {
    const int sh = octet__int_qhead_shift(octet__int_maxabs32_avx2(v, hd));
    const __m256i rnd = _mm256_set1_epi32(sh > 0 ? (int32_t)(UINT32_C(1) << (sh - 1)) : 0);
    const __m128i cnt = _mm_cvtsi32_si128(sh > 0 ? sh : -sh);
#define OCTET__QR(x) (sh > 0 ? qround_pos((x), rnd, cnt) : _mm256_sll_epi32((x), cnt))
    int i = 0, j = 0;
    if (pairs) {
        const __m256i evod = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15,
                                              0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
        for (; i + 8 <= half; i += 8) {
            const __m256i a = OCTET__QR(_mm256_loadu_si256((const __m256i *)(const void *)(v + 2 * i)));
            const __m256i b = OCTET__QR(_mm256_loadu_si256((const __m256i *)(const void *)(v + 2 * i + 8)));
            const __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xd8);
            const __m256i e = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(p, evod), 0xd8);
            _mm_storeu_si128((__m128i *)(void *)(out + i), _mm256_castsi256_si128(e));
            _mm_storeu_si128((__m128i *)(void *)(out + half + i), _mm256_extracti128_si256(e, 1));
        }
        for (; i < half; i++) {
            out[i] = (int16_t)octet__int_shift_round(v[2 * i], sh);
            out[half + i] = (int16_t)octet__int_shift_round(v[2 * i + 1], sh);
        }
        j = 2 * half;
    }
    for (; j + 8 <= hd; j += 8) {
        const __m256i r = OCTET__QR(_mm256_loadu_si256((const __m256i *)(const void *)(v + j)));
        const __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storeu_si128((__m128i *)(void *)(out + j), p);
    }
#undef OCTET__QR
    for (; j < hd; j++) out[j] = (int16_t)octet__int_shift_round(v[j], sh);
    return sh;
}
