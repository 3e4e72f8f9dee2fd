/*
 * avx2_util.h - small AVX2 helpers shared by the x86 kernel files (included only by files compiled with
 * -mavx2 -mfma -mf16c). All static inline; integer helpers are exact.
 */
#ifndef OCTET_AVX2_UTIL_H
#define OCTET_AVX2_UTIL_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

static inline float octet__h2f(uint16_t h) { return _cvtsh_ss(h); }

/* sum of 8 float lanes: (lo + hi) then pairs, the order every AVX2 float dot here uses */
static inline float octet__hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int32_t octet__hsum8i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* floor((a * m + 2^(s-1)) / 2^s) in 4 int64 lanes (octet__int_mulshift of src/kernels/intmath.h for
 * 32 <= s <= 62), for |a| < 2^62 and 0 <= m < 2^31 in every lane (m in the low dword): a * m as hi * 2^32 + lo
 * with hi = (a >> 32) * m (signed 32 x 32) and lo = (a mod 2^32) * m (unsigned), the rounding 2^(s-1) added to lo,
 * its carry to hi, then hi >> (s - 32) arithmetically (AVX2 has no 64-bit arithmetic shift: through the sign,
 * x >> k = ~(~x >>> k) for x < 0). */
static inline __m256i octet__mulshift4(__m256i a, __m256i m, __m256i s) {
    const __m256i one = _mm256_set1_epi64x(1), zero = _mm256_setzero_si256();
    const __m256i lo = _mm256_add_epi64(_mm256_mul_epu32(a, m), _mm256_sllv_epi64(one, _mm256_sub_epi64(s, one)));
    const __m256i hi = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), m), _mm256_srli_epi64(lo, 32));
    const __m256i sg = _mm256_cmpgt_epi64(zero, hi);
    return _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(hi, sg), _mm256_sub_epi64(s, _mm256_set1_epi64x(32))),
                            sg);
}

/* 4 bytes at p broadcast to all 8 int32 lanes */
static inline __m256i octet__bcast4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* 16 bytes of packed nibbles -> 32 bytes: low nibbles (codes 0..15) then high nibbles (16..31). */
static inline __m256i octet__unpack_nibbles(const uint8_t *qs) {
    const __m128i t = _mm_loadu_si128((const __m128i *)(const void *)qs);
    const __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0f));
}

/* Exact int32 lanes of sum_k w_k a_k over groups of 4 bytes, for signed w (>= -128) and a (> -128): |w| through
 * maddubs with a carrying w's sign; a pair is at most 2*128*127 = 32512, so nothing saturates. */
static inline __m256i octet__dot_s8s8(__m256i w, __m256i a) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w)),
                             _mm256_set1_epi16(1));
}

/* Reduce 8 vectors of 8 int32 to one vector of their 8 totals, in order. */
static inline __m256i octet__reduce8(const __m256i p[8]) {
    const __m256i h01 = _mm256_hadd_epi32(p[0], p[1]), h23 = _mm256_hadd_epi32(p[2], p[3]);
    const __m256i h45 = _mm256_hadd_epi32(p[4], p[5]), h67 = _mm256_hadd_epi32(p[6], p[7]);
    const __m256i x = _mm256_hadd_epi32(h01, h23), y = _mm256_hadd_epi32(h45, h67);
    return _mm256_add_epi32(_mm256_permute2x128_si256(x, y, 0x20), _mm256_permute2x128_si256(x, y, 0x31));
}

/* The 32 bits of qh (little-endian) -> 32 bytes, 0xff where bit k is set (Q5_0/Q5_1's fifth bits). */
static inline __m256i octet__bits_to_bytes(const uint8_t qh[4]) {
    uint32_t v;
    memcpy(&v, qh, 4);
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)v),
                                               _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2,
                                                                2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201ll);
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

/* The 8 rows' fp16 values at byte offset off of each row, as floats: one gather of the 4 bytes there (inside the
 * row: a scale and what follows it), then the low halves packed together. Cheaper than 8 lane inserts, which all
 * compete for the one shuffle port. */
static inline __m256 octet__row_scales(const uint8_t *w, size_t w_stride, size_t off) {
    const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)w_stride));
    const __m256i g = _mm256_i32gather_epi32((const int *)(const void *)(w + off), idx, 1);
    const __m256i p = _mm256_shuffle_epi8(g, _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1,
                                                              0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1));
    return _mm256_cvtph_ps(_mm256_castsi256_si128(_mm256_permute4x64_epi64(p, 0x08)));
}

/* c[r] = the 32 codes of row r's block: transpose the 8x8 matrix of 4-byte groups and store it as 8 vectors, vector
 * j holding codes 4j..4j+3 of rows 0..7 (row r in bytes 4r..4r+3). */
static inline void octet__store_transposed8_avx2(uint8_t *dst, const __m256i c[8]) {
    __m256i t[8], u[8];
    _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) {
        t[2 * k] = _mm256_unpacklo_epi32(c[2 * k], c[2 * k + 1]);
        t[2 * k + 1] = _mm256_unpackhi_epi32(c[2 * k], c[2 * k + 1]);
    }
    _Pragma("GCC unroll 2") for (int k = 0; k < 2; k++) {
        u[4 * k + 0] = _mm256_unpacklo_epi64(t[4 * k + 0], t[4 * k + 2]); /* groups 0 / 4 of rows 4k..4k+3 */
        u[4 * k + 1] = _mm256_unpackhi_epi64(t[4 * k + 0], t[4 * k + 2]); /* groups 1 / 5 */
        u[4 * k + 2] = _mm256_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]); /* groups 2 / 6 */
        u[4 * k + 3] = _mm256_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]); /* groups 3 / 7 */
    }
    _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
        _mm256_storeu_si256((__m256i *)(void *)(dst + 32 * j), _mm256_permute2x128_si256(u[j], u[4 + j], 0x20));
        _mm256_storeu_si256((__m256i *)(void *)(dst + 32 * (j + 4)), _mm256_permute2x128_si256(u[j], u[4 + j], 0x31));
    }
}

/* Generation reads weight rows one after another; a software prefetch a few KiB ahead in that stream (which runs on
 * into the next rows) keeps enough cache-line requests in flight for a core to approach the memory bandwidth, which
 * the hardware prefetcher alone does not (docs/performance.md). Called once per block of `bytes` bytes at p: the
 * lines of the block OCTET_PREFETCH_AHEAD bytes further on. */
#define OCTET_PREFETCH_AHEAD 4096
static inline void octet__prefetch_ahead(const void *p, size_t bytes) {
    const char *q = (const char *)p + OCTET_PREFETCH_AHEAD;
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(q + o, _MM_HINT_T0);
}

/* Linear software prefetch of a region spread evenly over a loop of `steps` iterations (the next rows while a kernel
 * works on these): each step requests its share of the region's cache lines, with no division in the loop. */
typedef struct octet__pf_stream {
    const char *p;
    size_t q, r, err, steps;
} octet__pf_stream;

static inline void octet__pf_init(octet__pf_stream *s, const void *base, size_t bytes, size_t steps) {
    const size_t lines = (bytes + 63) / 64;
    s->p = (const char *)base;
    s->steps = steps ? steps : 1;
    s->q = lines / s->steps;
    s->r = lines % s->steps;
    s->err = 0;
}

static inline void octet__pf_step(octet__pf_stream *s) {
    size_t k = s->q;
    s->err += s->r;
    if (s->err >= s->steps) {
        s->err -= s->steps;
        k++;
    }
    for (size_t j = 0; j < k; j++, s->p += 64) _mm_prefetch(s->p, _MM_HINT_T0);
}

#endif
