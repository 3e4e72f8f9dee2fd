/*
 * panel_avx2.c - Q8_0 weights (x Q8_0 activations): 8-row GEMV for generation, row panels for prompt batches, and
 * the single-row dot, all equal bit for bit to the reference dot (the contract in ../gemm.h); the unsigned-code
 * types (Q4_0, Q5_0, Q4_1, Q5_1) are in panel5_avx2.c, with the shared pieces in avx2_util.h.
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

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>

#include "kernels/x86/avx2_util.h"

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
size_t octet__panel_bytes_q8_0(int64_t n) { return (size_t)(n / 32) * PANEL_BLOCK_BYTES; }

#define store_transposed octet__store_transposed8

static inline void store_scales(uint8_t *dst, const uint8_t *w, size_t w_stride, size_t off) {
    _mm256_storeu_ps((float *)(void *)dst, row_scales(w, w_stride, off));
}

void octet__pack_q8_0(int64_t n, void *panel, const void *w, size_t w_stride, const void *pf) {
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
#endif
