/*
 * gemm_avx2.c - Q8_0 weights (x Q8_0 activations): 8-row GEMV for generation, row panels for prompt batches, and
 * the single-row dot, all equal bit for bit to the reference dot (the contract in ../gemm.h); the unsigned-code
 * types (Q4_0, Q5_0, Q4_1, Q5_1) are in gemm_avx2.c (below), with the shared pieces in avx2_util.h.
 *
 * The reference computes, per 32-element block b, the exact integer isum_b = sum_k w_k a_k and then
 *     sumf = sumf + (float)isum_b * (d_w_b * d_a_b)          (two roundings, no fused multiply-add)
 * in block order. The integer sum may be formed in any order; the float chain is vectorized across rows (or
 * blocks, with a sequential final pass), never reordered within one row.
 *
 * Integer technique. _mm256_maddubs_epi16(u, s) multiplies unsigned bytes u by signed bytes s and adds adjacent
 * pairs into int16 (saturating); _mm256_madd_epi16(x, ones) adds adjacent int16 pairs into exact int32.
 *  - Q8_0 x Q8_0: |w| through maddubs with the activation carrying w's sign (_mm256_sign_epi8). Codes are in
 *    [-128, 127] for weights and [-127, 127] for activations, so a pair is at most 2*128*127 = 32512: no
 *    saturation, but two pairs cannot be added in int16, so every maddubs goes through madd.
 *
 * Panels ("lanes = rows"): for each block, 8 vectors W_j (j = 0..7), W_j holding codes 4j..4j+3 of the 8 rows
 * (row r in bytes 4r..4r+3), then the 8 rows' scales as float: 288 bytes per block. For one token the kernel
 * broadcasts activation bytes 4j..4j+3 to every lane, so the 8 rows' integer sums land in the 8 int32 lanes and
 * each lane's float chain is exactly the reference chain of that row.
 */
#include "kernels/gemm.h"
#include "kernels/kernels_impl.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "kernels/avx2/util_avx2.h"

#define PANEL_BLOCK_BYTES (8 * 32 + 8 * 4) /* 8 code vectors + 8 float scales */

#define h2f octet__h2f
#define hsum8i octet__hsum8i
#define bcast4 octet__bcast4
#define dot_s8s8 octet__dot_s8s8
#define reduce8 octet__reduce8

#define row_scales octet__row_scales

/* ---- single-row dots (exactly the reference) ------------------------------------------------------------ */
/* 8 blocks at a time: their integer sums reduced into 8 lanes, the 8 float terms formed as vectors, then added to
 * the running sum one by one in block order; the tail block by block. */
/* CODES(x, i): block i's 32 signed codes as bytes */
#define EXACT_DOT(NAME, BLOCK, CODES)                                                                             \
    void NAME(int64_t n, float *s, const void *w, const void *a) {                                               \
        const BLOCK *x = w;                                                                                      \
        const block_q8_0 *y = a;                                                                                 \
        const int64_t nb = n / 32;                                                                               \
        float sumf = 0.0f;                                                                                       \
        int64_t i = 0;                                                                                           \
        for (; i + 8 <= nb; i += 8) {                                                                            \
            __m256i p[8];                                                                                        \
            uint16_t dx[8], dy[8];                                                                               \
            for (int k = 0; k < 8; k++) {                                                                        \
                p[k] = dot_s8s8(CODES(x, i + k), _mm256_loadu_si256((const __m256i *)y[i + k].qs));              \
                dx[k] = x[i + k].d, dy[k] = y[i + k].d;                                                          \
            }                                                                                                    \
            const __m256 dd = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)dx)),               \
                                            _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)dy)));              \
            float v[8];                                                                                          \
            _mm256_storeu_ps(v, _mm256_mul_ps(_mm256_cvtepi32_ps(reduce8(p)), dd));                              \
            for (int k = 0; k < 8; k++) sumf += v[k];                                                            \
        }                                                                                                        \
        for (; i < nb; i++) {                                                                                    \
            const int32_t isum = hsum8i(dot_s8s8(CODES(x, i), _mm256_loadu_si256((const __m256i *)y[i].qs)));    \
            sumf += (float)isum * (h2f(x[i].d) * h2f(y[i].d));                                                   \
        }                                                                                                        \
        *s = sumf;                                                                                               \
    }
#define CODES_Q8_0(x, i) _mm256_loadu_si256((const __m256i *)(x)[i].qs)
EXACT_DOT(octet__dot_q8_0_q8_0_avx2, block_q8_0, CODES_Q8_0)

/* ---- 8-row GEMV --------------------------------------------------------------------------------------------
 * Per block: the 8 rows' integer sums (lanes = elements) reduced into one vector (lanes = rows), then one vector
 * step of the 8 float chains. The 8 rows the caller reads next (pf: usually the next 8 rows, or the start of
 * its next piece of rows) are prefetched linearly while this call works, each block step requesting its share
 * of their cache lines: that
 * keeps enough requests in flight for one core to approach its memory bandwidth (one group ahead measured best;
 * two groups ahead and per-row prefetch were slower). */
#define PREFETCH_SETUP                                                                                            \
    octet__pf_stream pfs;                                                                                        \
    octet__pf_init(&pfs, pf, pf ? 8 * w_stride : 0, (size_t)nb);
#define PREFETCH_STEP octet__pf_step(&pfs);

/* T tokens (1..4) at once: the rows' codes are loaded once per block and used for each
 * token; every token keeps its own chain, computed exactly as for one token. */
static inline __attribute__((always_inline)) void gemv8_q8_0_t(int64_t n, float *s, const uint8_t *wb, size_t w_stride, const void *pf,
                                                               const uint8_t *a, size_t a_stride, const int T,
                                                               const octet__q8_aux *aux, size_t aux_stride) {
    const int64_t nb = n / QK8_0;
    __m256 acc[4];
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) acc[c] = _mm256_setzero_ps();
    PREFETCH_SETUP
    /* the rows' scales one block ahead (the gather off the block's critical path): +1.4-2.5% GB/s from DRAM, two
     * single-threaded processes side by side */
    __m256 dw_next = row_scales(wb, w_stride, 0);
    for (int64_t i = 0; i < nb; i++) {
        PREFETCH_STEP
        const size_t off = (size_t)i * sizeof(block_q8_0);
        __m256i x[8];
        _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++) x[r] = _mm256_loadu_si256((const __m256i *)(wb + (size_t)r * w_stride + off + 2));
        const __m256 dw = dw_next;
        if (i + 1 < nb) dw_next = row_scales(wb, w_stride, off + sizeof(block_q8_0));
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
            const block_q8_0 *y = (const block_q8_0 *)(a + (size_t)c * a_stride) + i;
            const __m256i av = _mm256_loadu_si256((const __m256i *)y->qs);
            __m256i p[8];
            _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++) p[r] = dot_s8s8(x[r], av);
            const __m256 dd = _mm256_mul_ps(
                dw, aux ? _mm256_broadcast_ss(&aux[(size_t)c * aux_stride + (size_t)i].d) : _mm256_set1_ps(h2f(y->d)));
            acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(_mm256_cvtepi32_ps(reduce8(p)), dd));
        }
    }
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) _mm256_storeu_ps(s + 8 * c, acc[c]);
}

#define GEMV8_DISPATCH(NAME, BODY)                                                                                \
    void NAME(int64_t n, float *s, const void *w, size_t w_stride, const void *pf, const void *a,               \
              size_t a_stride, int nc, const octet__q8_aux *aux, size_t aux_stride) {                                \
        switch (nc) {                                                                                            \
        case 1: BODY(n, s, w, w_stride, pf, a, a_stride, 1, aux, aux_stride); break;                           \
        case 2: BODY(n, s, w, w_stride, pf, a, a_stride, 2, aux, aux_stride); break;                           \
        case 3: BODY(n, s, w, w_stride, pf, a, a_stride, 3, aux, aux_stride); break;                           \
        default: BODY(n, s, w, w_stride, pf, a, a_stride, 4, aux, aux_stride); break;                          \
        }                                                                                                        \
    }
GEMV8_DISPATCH(octet__gemv8_q8_0_q8_0_avx2, gemv8_q8_0_t)

/* ---- panels ---------------------------------------------------------------------------------------------- */
size_t octet__panel_bytes_q8_0_avx2(int64_t n) { return (size_t)(n / 32) * PANEL_BLOCK_BYTES; }

#define store_transposed octet__store_transposed8_avx2

static inline void store_scales(uint8_t *dst, const uint8_t *w, size_t w_stride, size_t off) {
    _mm256_storeu_ps((float *)(void *)dst, row_scales(w, w_stride, off));
}

void octet__pack_q8_0_avx2(int64_t n, void *panel, const void *w, size_t w_stride, const void *pf) {
    const uint8_t *wb = w;
    uint8_t *dst = panel;
    const int64_t nb = n / 32;
    PREFETCH_SETUP
    for (int64_t i = 0; i < nb; i++, dst += PANEL_BLOCK_BYTES) {
        PREFETCH_STEP
        const size_t off = (size_t)i * sizeof(block_q8_0);
        __m256i c[8];
        _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++)
            c[r] = _mm256_loadu_si256((const __m256i *)(const void *)(wb + (size_t)r * w_stride + off + 2));
        store_transposed(dst, c);
        store_scales(dst + 256, wb, w_stride, off);
    }
}

/* One block of the panel against T tokens: signed codes; |w| through maddubs with the activation carrying w's sign,
 * each maddubs through madd (a pair is up to 2*128*127 = 32512). */
#define PANEL_STEP(T)                                                                                             \
    do {                                                                                                       \
        const uint8_t *pb = (const uint8_t *)panel + (size_t)i * PANEL_BLOCK_BYTES;                           \
        __m256i isum[T];                                                                                       \
        for (int c = 0; c < T; c++) isum[c] = _mm256_setzero_si256();                                          \
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {                                                  \
            const __m256i wj = _mm256_loadu_si256((const __m256i *)(pb + 32 * j));                            \
            const __m256i uj = _mm256_sign_epi8(wj, wj);                                                       \
            _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {                                              \
                const __m256i av = bcast4(y[c][i].qs + 4 * j);                                                 \
                const __m256i p = _mm256_maddubs_epi16(uj, _mm256_sign_epi8(av, wj));                          \
                isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(p, ones));                               \
                __asm__("" : "+x"(isum[c]));                                                                   \
            }                                                                                                  \
        }                                                                                                      \
        const __m256 dw = _mm256_loadu_ps((const float *)(const void *)(pb + 256));                            \
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {                                                  \
            const __m256 dd = _mm256_mul_ps(dw, sa[c] ? _mm256_broadcast_ss(&sa[c][i].d)                       \
                                                      : _mm256_set1_ps(h2f(y[c][i].d)));                       \
            acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(_mm256_cvtepi32_ps(isum[c]), dd));                    \
        }                                                                                                      \
    } while (0)

#define PANEL_GEMM(NAME)                                                                                      \
    void NAME(int64_t n, float *s, size_t s_stride, const void *panel, const void *a, size_t a_stride, int nc,  \
              const octet__q8_aux *aux, size_t aux_stride) {                                                         \
        const int64_t nb = n / 32;                                                                             \
        const __m256i ones = _mm256_set1_epi16(1);                                                             \
        int c0 = 0;                                                                                            \
        for (; c0 + 4 <= nc; c0 += 4) {                                                                        \
            const block_q8_0 *y[4];                                                                            \
            const octet__q8_aux *sa[4];                                                                              \
            __m256 acc[4];                                                                                     \
            for (int c = 0; c < 4; c++) {                                                                      \
                y[c] = (const block_q8_0 *)((const uint8_t *)a + (size_t)(c0 + c) * a_stride);                 \
                sa[c] = aux ? aux + (size_t)(c0 + c) * aux_stride : NULL;                                   \
                acc[c] = _mm256_setzero_ps();                                                                  \
            }                                                                                                  \
            for (int64_t i = 0; i < nb; i++) PANEL_STEP(4);                                                \
            for (int c = 0; c < 4; c++) _mm256_storeu_ps(s + (size_t)(c0 + c) * s_stride, acc[c]);             \
        }                                                                                                      \
        for (; c0 < nc; c0++) {                                                                                \
            const block_q8_0 *y[1] = {(const block_q8_0 *)((const uint8_t *)a + (size_t)c0 * a_stride)};      \
            const octet__q8_aux *sa[1] = {aux ? aux + (size_t)c0 * aux_stride : NULL};                            \
            __m256 acc[1] = {_mm256_setzero_ps()};                                                             \
            for (int64_t i = 0; i < nb; i++) PANEL_STEP(1);                                                \
            _mm256_storeu_ps(s + (size_t)c0 * s_stride, acc[0]);                                               \
        }                                                                                                      \
    }

PANEL_GEMM(octet__panel_gemm_q8_0_avx2)

/* ==== the unsigned-code types: Q4_0, Q5_0, Q4_1, Q5_1 ==== */
/*
 * gemm_avx2.c (below) - the unsigned-nibble block types, Q4_0, Q5_0 (x Q8_0), Q4_1 and Q5_1 (x Q8_1): single-row dots,
 * the 8-row GEMV and row panels for prompt batches, each equal bit for bit to the reference dot (ref/quant_ref.c;
 * the contract in ../gemm.h). Q8_0's signed codes have their own kernels in gemm_avx2.c.
 *
 * The references, per 32-element block b with the exact integer sum isum_b, add one float term in block order:
 *   Q4_0, Q5_0: sumf = sumf + (float)isum_b * (d_w * d_a)    (isum over (q - 8) a, q in 0..15; (q - 16) a, 0..31)
 *   Q4_1, Q5_1: sumf = sumf + ((float)isum_b * (d_w * d_a) + m_w * s_a)  (isum over q a; s_a = d_a sum(a) of Q8_1)
 * every product and sum rounded separately (no FMA).
 *
 * Integer part: codes stay unsigned (0..15, or 0..31 with the fifth bit from qh) and go straight into maddubs with
 * the signed activation: a pair is at most 2*31*128 = 7936, so 4 groups (16 elements) add up in int16 (31744)
 * before a madd; the 4-bit types' pairs (2*15*128) allow all 8 groups. The -8 / -16 offset of Q4_0 / Q5_0 is
 * 8 or 16 sum(a) subtracted in int32 (from the activation aux, or formed per block).
 *
 * 8-row GEMV for generation (below). Dots: 8 blocks at a time, their integer sums reduced into 8 lanes and the 8 float terms formed as vectors, then
 * added to the running sum one by one; the tail block by block. Panels: 8 code vectors with the rows in the lanes,
 * then the 8 scales as floats, plus, for the _1 types, the 8 mins as floats: 288 / 320 bytes per block.
 */

/* No fused multiply-add may be formed from the float operations here (see kgemm_avx2.c). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define P5_INLINE static inline __attribute__((always_inline))

/* the 32 unsigned codes of a block: nibbles (element l and 16 + l in byte l) and, with qh, the fifth bit */
P5_INLINE __m256i codes(const uint8_t *qs, const uint8_t *qh) {
    const __m256i q = octet__unpack_nibbles(qs);
    return qh ? _mm256_or_si256(q, _mm256_and_si256(octet__bits_to_bytes(qh), _mm256_set1_epi8(0x10))) : q;
}

/* exact int32 lanes of sum_k q_k a_k for unsigned codes q (<= 31) and signed a: pairs <= 7936, 4 groups of
 * 4 in int16 and then madd would also do; one madd per maddubs is the simplest exact form for the dots */
P5_INLINE __m256i dot_u8s8(__m256i q, __m256i a) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(q, a), _mm256_set1_epi16(1));
}

/* ---- single-row dots ---------------------------------------------------------------------------------------- */
/* BLOCK: the weight block type; QH: offset of qh in it (or -1); MIN: offset of the min m (or -1, Q5_0). Q5_0's
 * activation is Q8_0 (d, qs at 2), the _1 types' Q8_1 (d, s, qs at 4). */
P5_INLINE void dot5(int64_t n, float *s, const uint8_t *x, const uint8_t *y, const size_t BLOCK, const int QH,
                    const int MIN) {
    const size_t YB = MIN < 0 ? sizeof(block_q8_0) : sizeof(block_q8_1), YQ = MIN < 0 ? 2 : 4;
    const size_t QS = BLOCK - 16;
    const int OFF = QH < 0 ? 8 : 16; /* Q4_0 / Q5_0 code offset */
    const int64_t nb = n / 32;
    float sumf = 0.0f;
    int64_t i = 0;
    _Static_assert(8 * sizeof(block_q5_1) <= 192, "dot5 prefetches 3 lines per 8 blocks");
    for (; i + 8 <= nb; i += 8) {
        /* 4 KiB ahead in the row stream (avx2_util.h's distance), the 8 blocks' lines written out: GCC 12 drops
         * octet__prefetch_ahead's loop when the size is an inlined parameter */
        const char *pf = (const char *)(x + (size_t)i * BLOCK) + OCTET_PREFETCH_AHEAD;
        _mm_prefetch(pf, _MM_HINT_T0);
        _mm_prefetch(pf + 64, _MM_HINT_T0);
        _mm_prefetch(pf + 128, _MM_HINT_T0);
        __m256i p[8];
        uint16_t dx[8], dy[8], mx[8], sy[8];
        _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {
            const uint8_t *xb = x + (size_t)(i + k) * BLOCK, *yb = y + (size_t)(i + k) * YB;
            const __m256i q = codes(xb + QS, QH < 0 ? NULL : xb + QH);
            const __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(yb + YQ));
            p[k] = MIN < 0 ? octet__dot_s8s8(_mm256_sub_epi8(q, _mm256_set1_epi8(OFF)), a) : dot_u8s8(q, a);
            memcpy(&dx[k], xb, 2);
            memcpy(&dy[k], yb, 2);
            if (MIN >= 0) {
                memcpy(&mx[k], xb + MIN, 2);
                memcpy(&sy[k], yb + 2, 2);
            }
        }
        const __m256 dd = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)dx)),
                                        _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)dy)));
        __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(octet__reduce8(p)), dd);
        if (MIN >= 0)
            t = _mm256_add_ps(t, _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)mx)),
                                               _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)sy))));
        float v[8];
        _mm256_storeu_ps(v, t);
        for (int k = 0; k < 8; k++) sumf += v[k];
    }
    for (; i < nb; i++) {
        const uint8_t *xb = x + (size_t)i * BLOCK, *yb = y + (size_t)i * YB;
        const __m256i q = codes(xb + QS, QH < 0 ? NULL : xb + QH);
        const __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(yb + YQ));
        const int32_t isum = octet__hsum8i(MIN < 0 ? octet__dot_s8s8(_mm256_sub_epi8(q, _mm256_set1_epi8(OFF)), a)
                                                   : dot_u8s8(q, a));
        uint16_t h[4];
        memcpy(&h[0], xb, 2);
        memcpy(&h[1], yb, 2);
        if (MIN < 0) {
            sumf += (float)isum * (octet__h2f(h[0]) * octet__h2f(h[1]));
        } else {
            memcpy(&h[2], xb + MIN, 2);
            memcpy(&h[3], yb + 2, 2);
            sumf += (float)isum * (octet__h2f(h[0]) * octet__h2f(h[1])) + octet__h2f(h[2]) * octet__h2f(h[3]);
        }
    }
    *s = sumf;
}

void octet__dot_q4_0_q8_0_avx2(int64_t n, float *s, const void *w, const void *a) {
    dot5(n, s, w, a, sizeof(block_q4_0), -1, -1);
}
void octet__dot_q5_0_q8_0_avx2(int64_t n, float *s, const void *w, const void *a) {
    dot5(n, s, w, a, sizeof(block_q5_0), (int)offsetof(block_q5_0, qh), -1);
}
void octet__dot_q4_1_q8_1_avx2(int64_t n, float *s, const void *w, const void *a) {
    dot5(n, s, w, a, sizeof(block_q4_1), -1, (int)offsetof(block_q4_1, m));
}
void octet__dot_q5_1_q8_1_avx2(int64_t n, float *s, const void *w, const void *a) {
    dot5(n, s, w, a, sizeof(block_q5_1), (int)offsetof(block_q5_1, qh), (int)offsetof(block_q5_1, m));
}

/* OFF sum(a) of Q8_0 activation block y (OFF = 8 for Q4_0, 16 for Q5_0): from aux's 8 sum(a) when given, else
 * formed here */
P5_INLINE int32_t sum_off(const octet__q8_aux *sa, const uint8_t *y, const int OFF) {
    if (sa) return OFF / 8 * sa->sum8;
    const __m256i p = _mm256_maddubs_epi16(_mm256_set1_epi8((char)OFF), _mm256_loadu_si256((const __m256i *)(const void *)(y + 2)));
    return octet__hsum8i(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

/* ---- 8-row GEMV (generation: 1..4 tokens) ------------------------------------------------------------------
 * As Q4_0's (gemm_avx2.c): rows r and r+1 in the two 128-bit lanes of a vector (low nibbles: elements 0..15,
 * high: 16..31, with the fifth bits moved in from qh), the activation halves broadcast to both lanes, then an
 * int16 tree. 5-bit codes: one int16 level (8 products, <= 8*31*128 = 31744), the next in int32; 4-bit: two int16
 * levels (16*15*127 = 30480: Q8_1 codes are in [-127, 127]). Per block one vector step of the 8 rows' float
 * chains. The caller's next 8 rows (pf) are prefetched linearly, as for Q8_0. */
P5_INLINE void gemv5(int64_t n, float *s, const uint8_t *wb, size_t w_stride, const void *pf, const uint8_t *a,
                     size_t a_stride, const int T, const octet__q8_aux *aux, size_t aux_stride, const size_t BLOCK,
                     const int QH, const int MIN) {
    const size_t YB = MIN < 0 ? sizeof(block_q8_0) : sizeof(block_q8_1), YQ = MIN < 0 ? 2 : 4, QS = BLOCK - 16;
    const int64_t nb = n / 32;
    const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10), ones = _mm256_set1_epi16(1);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256 acc[4];
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) acc[c] = _mm256_setzero_ps();
    octet__pf_stream pfs;
    octet__pf_init(&pfs, pf, pf ? 8 * w_stride : 0, (size_t)nb);
    for (int64_t i = 0; i < nb; i++) {
        octet__pf_step(&pfs);
        const size_t off = (size_t)i * BLOCK;
        __m256i lo[4], hi[4];
        _Pragma("GCC unroll 4") for (int r = 0; r < 8; r += 2) {
            const uint8_t *x0 = wb + (size_t)r * w_stride + off, *x1 = x0 + w_stride;
            const __m256i b = _mm256_loadu2_m128i((const __m128i *)(const void *)(x1 + QS),
                                                  (const __m128i *)(const void *)(x0 + QS));
            lo[r / 2] = _mm256_and_si256(b, m4);
            hi[r / 2] = _mm256_and_si256(_mm256_srli_epi16(b, 4), m4);
            if (QH >= 0) {
                const __m256i h0 = _mm256_and_si256(octet__bits_to_bytes(x0 + QH), b4);
                const __m256i h1 = _mm256_and_si256(octet__bits_to_bytes(x1 + QH), b4);
                lo[r / 2] = _mm256_or_si256(lo[r / 2], _mm256_permute2x128_si256(h0, h1, 0x20));
                hi[r / 2] = _mm256_or_si256(hi[r / 2], _mm256_permute2x128_si256(h0, h1, 0x31));
            }
        }
        const __m256 dw = octet__row_scales(wb, w_stride, off);
        const __m256 mw = MIN >= 0 ? octet__row_scales(wb, w_stride, off + (size_t)(MIN < 0 ? 0 : MIN)) : dw;
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
            const uint8_t *y = a + (size_t)c * a_stride + (size_t)i * YB;
            const __m256i alo = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(y + YQ)));
            const __m256i ahi =
                _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(y + YQ + 16)));
            __m256i q[4]; /* [row r: 8 int16 | row r+1: 8 int16] */
            _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)
                q[k] = _mm256_add_epi16(_mm256_maddubs_epi16(lo[k], alo), _mm256_maddubs_epi16(hi[k], ahi));
            __m256i isum;
            if (QH >= 0)
                isum = _mm256_hadd_epi32(_mm256_madd_epi16(_mm256_hadd_epi16(q[0], q[1]), ones),
                                         _mm256_madd_epi16(_mm256_hadd_epi16(q[2], q[3]), ones));
            else
                isum = _mm256_madd_epi16(
                    _mm256_hadd_epi16(_mm256_hadd_epi16(q[0], q[1]), _mm256_hadd_epi16(q[2], q[3])), ones);
            const octet__q8_aux *ax = MIN < 0 && aux ? aux + (size_t)c * aux_stride + (size_t)i : NULL;
            if (MIN < 0) isum = _mm256_sub_epi32(isum, _mm256_set1_epi32(sum_off(ax, y, QH < 0 ? 8 : 16)));
            /* [r0 r2 r4 r6 | r1 r3 r5 r7] -> rows in order */
            isum = _mm256_permutevar8x32_epi32(isum, order);
            uint16_t h[2]; /* d, and s for Q8_1, read only when needed */
            if (!ax) memcpy(&h[0], y, 2);
            if (MIN >= 0) memcpy(&h[1], y + 2, 2);
            const __m256 da = ax ? _mm256_broadcast_ss(&ax->d) : _mm256_set1_ps(octet__h2f(h[0]));
            __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, da));
            if (MIN >= 0) t = _mm256_add_ps(t, _mm256_mul_ps(mw, _mm256_set1_ps(octet__h2f(h[1]))));
            acc[c] = _mm256_add_ps(acc[c], t);
        }
    }
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) _mm256_storeu_ps(s + 8 * c, acc[c]);
}

#define P5_GEMV(NAME, BLOCK, QH, MIN)                                                                            \
    void NAME(int64_t n, float *s, const void *w, size_t w_stride, const void *pf, const void *a,             \
              size_t a_stride, int nc, const octet__q8_aux *aux, size_t aux_stride) {                          \
        switch (nc) {                                                                                          \
        case 1: gemv5(n, s, w, w_stride, pf, a, a_stride, 1, aux, aux_stride, BLOCK, QH, MIN); break;          \
        case 2: gemv5(n, s, w, w_stride, pf, a, a_stride, 2, aux, aux_stride, BLOCK, QH, MIN); break;          \
        case 3: gemv5(n, s, w, w_stride, pf, a, a_stride, 3, aux, aux_stride, BLOCK, QH, MIN); break;          \
        default: gemv5(n, s, w, w_stride, pf, a, a_stride, 4, aux, aux_stride, BLOCK, QH, MIN); break;         \
        }                                                                                                      \
    }
P5_GEMV(octet__gemv8_q4_0_q8_0_avx2, sizeof(block_q4_0), -1, -1)
P5_GEMV(octet__gemv8_q5_0_q8_0_avx2, sizeof(block_q5_0), (int)offsetof(block_q5_0, qh), -1)
P5_GEMV(octet__gemv8_q4_1_q8_1_avx2, sizeof(block_q4_1), -1, (int)offsetof(block_q4_1, m))
P5_GEMV(octet__gemv8_q5_1_q8_1_avx2, sizeof(block_q5_1), (int)offsetof(block_q5_1, qh), (int)offsetof(block_q5_1, m))

/* ---- panels --------------------------------------------------------------------------------------------------- */
#define P5_CODES 256 /* 8 code vectors, then the scales at 256 and (the _1 types) the mins at 288 */

size_t octet__panel_bytes_q4_0_avx2(int64_t n) { return (size_t)(n / 32) * 288; }
size_t octet__panel_bytes_q4_1_avx2(int64_t n) { return (size_t)(n / 32) * 320; }

P5_INLINE void pack5(int64_t n, void *panel, const void *w, size_t w_stride, const void *pf, const size_t BLOCK,
                     const int QH, const int MIN) {
    const uint8_t *wb = w;
    uint8_t *dst = panel;
    const size_t PB = MIN < 0 ? 288 : 320, QS = BLOCK - 16;
    const int64_t nb = n / 32;
    /* the caller's next 8 rows (pf) are prefetched linearly while these are packed */
    octet__pf_stream pfs;
    octet__pf_init(&pfs, pf, pf ? 8 * w_stride : 0, (size_t)nb);
    for (int64_t i = 0; i < nb; i++, dst += PB) {
        octet__pf_step(&pfs);
        const size_t off = (size_t)i * BLOCK;
        __m256i c[8];
        _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++) {
            const uint8_t *b = wb + (size_t)r * w_stride + off;
            c[r] = codes(b + QS, QH < 0 ? NULL : b + QH);
        }
        octet__store_transposed8_avx2(dst, c);
        _mm256_storeu_ps((float *)(void *)(dst + P5_CODES), octet__row_scales(wb, w_stride, off));
        if (MIN >= 0)
            _mm256_storeu_ps((float *)(void *)(dst + P5_CODES + 32), octet__row_scales(wb, w_stride, off + (size_t)MIN));
    }
}

void octet__pack_q4_0_avx2(int64_t n, void *panel, const void *w, size_t w_stride, const void *pf) {
    pack5(n, panel, w, w_stride, pf, sizeof(block_q4_0), -1, -1);
}
void octet__pack_q5_0_avx2(int64_t n, void *panel, const void *w, size_t w_stride, const void *pf) {
    pack5(n, panel, w, w_stride, pf, sizeof(block_q5_0), (int)offsetof(block_q5_0, qh), -1);
}
void octet__pack_q4_1_avx2(int64_t n, void *panel, const void *w, size_t w_stride, const void *pf) {
    pack5(n, panel, w, w_stride, pf, sizeof(block_q4_1), -1, (int)offsetof(block_q4_1, m));
}
void octet__pack_q5_1_avx2(int64_t n, void *panel, const void *w, size_t w_stride, const void *pf) {
    pack5(n, panel, w, w_stride, pf, sizeof(block_q5_1), (int)offsetof(block_q5_1, qh), (int)offsetof(block_q5_1, m));
}

/* T tokens (1..4) against the whole panel: token c's blocks at ya + c * a_stride, results at s + c * s_stride.
 * FIVE: 5-bit codes (int16 runs of 4 groups); MIN: a _1 type (Q8_1 activations, the min term). */
P5_INLINE void tokens5(const int T, const int FIVE, const int MIN, int64_t nb, float *s, size_t s_stride,
                       const uint8_t *panel, const uint8_t *ya, size_t a_stride, const octet__q8_aux *aux,
                       size_t aux_stride) {
    const size_t PB = MIN ? 320 : 288, YB = MIN ? sizeof(block_q8_1) : sizeof(block_q8_0), YQ = MIN ? 4 : 2;
    const int G = FIVE ? 4 : 8;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4];
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = panel + (size_t)i * PB;
        __m256i isum[4];
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) isum[c] = _mm256_setzero_si256();
        _Pragma("GCC unroll 2") for (int g0 = 0; g0 < 8; g0 += G) {
            __m256i p[4];
            _Pragma("GCC unroll 8") for (int g = g0; g < g0 + G; g++) {
                const __m256i wg = _mm256_loadu_si256((const __m256i *)(const void *)(pb + 32 * g));
                _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
                    const __m256i m = _mm256_maddubs_epi16(wg, octet__bcast4(ya + (size_t)c * a_stride + (size_t)i * YB + YQ + 4 * (size_t)g));
                    p[c] = g == g0 ? m : _mm256_add_epi16(p[c], m);
                }
            }
            _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(p[c], ones));
        }
        const __m256 dw = _mm256_loadu_ps((const float *)(const void *)(pb + P5_CODES));
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
            const uint8_t *y = ya + (size_t)c * a_stride + (size_t)i * YB;
            uint16_t h[2];
            memcpy(h, y, 4); /* d, and s for Q8_1 */
            __m256i is = isum[c];
            if (!MIN) is = _mm256_sub_epi32(is, _mm256_set1_epi32(sum_off(aux ? aux + (size_t)c * aux_stride + (size_t)i : NULL, y, FIVE ? 16 : 8)));
            const __m256 da = !MIN && aux ? _mm256_broadcast_ss(&aux[(size_t)c * aux_stride + (size_t)i].d)
                                          : _mm256_set1_ps(octet__h2f(h[0]));
            __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(is), _mm256_mul_ps(dw, da));
            if (MIN)
                t = _mm256_add_ps(t, _mm256_mul_ps(_mm256_loadu_ps((const float *)(const void *)(pb + P5_CODES + 32)),
                                                   _mm256_set1_ps(octet__h2f(h[1]))));
            acc[c] = _mm256_add_ps(acc[c], t);
        }
    }
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) _mm256_storeu_ps(s + (size_t)c * s_stride, acc[c]);
}

#define P5_GEMM(NAME, FIVE, MIN)                                                                                 \
    void NAME(int64_t n, float *s, size_t s_stride, const void *panel, const void *a, size_t a_stride, int nc,  \
              const octet__q8_aux *aux, size_t aux_stride) {                                                    \
        const int64_t nb = n / 32;                                                                             \
        const uint8_t *ya = a;                                                                                 \
        const octet__q8_aux *x = MIN ? NULL : aux; /* Q8_1 rows carry their own sums */                        \
        int c0 = 0;                                                                                            \
        for (; c0 + 4 <= nc; c0 += 4)                                                                          \
            tokens5(4, FIVE, MIN, nb, s + (size_t)c0 * s_stride, s_stride, panel, ya + (size_t)c0 * a_stride,   \
                    a_stride, x ? x + (size_t)c0 * aux_stride : NULL, aux_stride);                             \
        for (; c0 < nc; c0++)                                                                                  \
            tokens5(1, FIVE, MIN, nb, s + (size_t)c0 * s_stride, s_stride, panel, ya + (size_t)c0 * a_stride,   \
                    a_stride, x ? x + (size_t)c0 * aux_stride : NULL, aux_stride);                             \
    }
P5_GEMM(octet__panel_gemm_q4_0_avx2, 0, 0)
P5_GEMM(octet__panel_gemm_q5_0_avx2, 1, 0)
P5_GEMM(octet__panel_gemm_q4_1_avx2, 0, 1)
P5_GEMM(octet__panel_gemm_q5_1_avx2, 1, 1)
