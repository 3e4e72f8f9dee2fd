/*
 * int_attn_avx512.c - the attention scores of the integer mode (octet__int_scores, kernels/int_kernels.h) with
 * AVX-512 BW + VNNI: sixteen keys per step, 32 query pairs per vector.
 *
 * Per key and pair i (the contract in int_kernels.h): the query pair turned by the key's angle with rounded Q15
 * products and saturating adds, ra = sat16(rh(qa, c) - rh(qb, s)), rb = sat16(rh(qa, s) + rh(qb, c)) (VPMULHRSW is
 * rh, "(a * b + 2^14) >> 15" per Intel's SDM; VPSUBSW / VPADDSW saturate to int16), then dotted with the int8 key
 * widened to int16 by VPDPWSSD: "multiply groups of 2 pairs of signed words, summing the two products and the
 * dword accumulator" without saturation (that is VPDPWSSDS). Every partial sum is below hd * 32768 * 127 < 2^31
 * for hd <= 256 (|ra|, |rb| <= 32768, |k| <= 127), so the int32 lanes are exact, and the sixteen keys' lanes are
 * reduced together (reduce16) and widened to int64.
 */
#include "kernels/int_repack.h"

#include <immintrin.h>

#include "kernels/int_kernels.h"

/* 16 vectors of 16 int32 lanes -> lane u = sum of the lanes of v[u] (pairwise unpacks and 128-bit lane shuffles) */
static inline __m512i reduce16(const __m512i v[16]) {
    __m512i t[8], u[4];
    for (int i = 0; i < 8; i++) /* keys 2i, 2i+1 alternate within each 128-bit lane */
        t[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 4; i++) /* keys 4i..4i+3 in order within each 128-bit lane */
        u[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(t[2 * i], t[2 * i + 1]), _mm512_unpackhi_epi64(t[2 * i], t[2 * i + 1]));
    /* 128-bit lanes (0, 2 | 0, 2) + (1, 3 | 1, 3): lanes 0, 1 hold keys 0..3 (two halves), 2, 3 keys 4..7 */
    const __m512i w01 = _mm512_add_epi32(_mm512_shuffle_i32x4(u[0], u[1], 0x88), _mm512_shuffle_i32x4(u[0], u[1], 0xdd));
    const __m512i w23 = _mm512_add_epi32(_mm512_shuffle_i32x4(u[2], u[3], 0x88), _mm512_shuffle_i32x4(u[2], u[3], 0xdd));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(w01, w23, 0x88), _mm512_shuffle_i32x4(w01, w23, 0xdd));
}

/* one key's 16 int32 partial sums for half = 32 S */
static inline __attribute__((always_inline)) __m512i key_lanes(const __m512i *qa, const __m512i *qb, const int8_t *k,
                                                               const int16_t *cs, const int S) {
    const int half = 32 * S;
    __m512i acc = _mm512_setzero_si512();
    _Pragma("GCC unroll 4") for (int t = 0; t < S; t++) {
        const __m512i vc = _mm512_loadu_si512((const void *)(cs + 32 * t));
        const __m512i vs = _mm512_loadu_si512((const void *)(cs + half + 32 * t));
        const __m512i vka = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(k + 32 * t)));
        const __m512i vkb = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(k + half + 32 * t)));
        const __m512i ra = _mm512_subs_epi16(_mm512_mulhrs_epi16(qa[t], vc), _mm512_mulhrs_epi16(qb[t], vs));
        const __m512i rb = _mm512_adds_epi16(_mm512_mulhrs_epi16(qa[t], vs), _mm512_mulhrs_epi16(qb[t], vc));
        acc = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(acc, ra, vka), rb, vkb);
    }
    return acc;
}

/* keys idx[u] (u < 16; indices may repeat: the tail's padding) -> o[0..16) */
static inline __attribute__((always_inline)) void scores16(const __m512i *qa, const __m512i *qb, const int8_t *k,
                                                           size_t kstride, const int16_t *const *cs, const int idx[16],
                                                           int64_t *o, const int S) {
    __m512i a[16];
    _Pragma("GCC unroll 16") for (int u = 0; u < 16; u++)
        a[u] = key_lanes(qa, qb, k + (size_t)idx[u] * kstride, cs[idx[u]], S);
    const __m512i r = reduce16(a);
    _mm512_storeu_si512((void *)o, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(r)));
    _mm512_storeu_si512((void *)(o + 8), _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(r, 1)));
}

static inline __attribute__((always_inline)) void scores_s(const int16_t *q, const int8_t *k, size_t kstride,
                                                           const int16_t *const *cs, int n, int64_t *out, const int S) {
    __m512i qa[4], qb[4];
    _Pragma("GCC unroll 4") for (int t = 0; t < S; t++) {
        qa[t] = _mm512_loadu_si512((const void *)(q + 32 * t));
        qb[t] = _mm512_loadu_si512((const void *)(q + 32 * S + 32 * t));
    }
    static const int seq[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    int j = 0;
    for (; j + 16 <= n; j += 16) scores16(qa, qb, k + (size_t)j * kstride, kstride, cs + j, seq, out + j, S);
    if (j < n) { /* the last 1..15 keys as sixteen, the last one repeated; only theirs kept */
        int idx[16];
        int64_t o[16];
        for (int u = 0; u < 16; u++) idx[u] = j + u < n ? u : n - 1 - j;
        scores16(qa, qb, k + (size_t)j * kstride, kstride, cs + j, idx, o, S);
        for (int u = 0; j + u < n; u++) out[j + u] = o[u];
    }
}

void octet__int_scores_avx512(const int16_t *q, const int8_t *k, size_t kstride, const int16_t *const *cs, int n,
                              int half, int hd, int64_t *out) {
    if (hd == 2 * half && half % 32 == 0 && hd <= 256) {
        switch (half / 32) {
        case 1: scores_s(q, k, kstride, cs, n, out, 1); return;
        case 2: scores_s(q, k, kstride, cs, n, out, 2); return;
        case 3: scores_s(q, k, kstride, cs, n, out, 3); return;
        default: scores_s(q, k, kstride, cs, n, out, 4); return;
        }
    }
    octet__int_scores_avx2(q, k, kstride, cs, n, half, hd, out); /* other shapes: the AVX2 kernel */
}
