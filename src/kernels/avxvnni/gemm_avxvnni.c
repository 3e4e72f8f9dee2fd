/*
 * gemm_avxvnni.c - the avxvnni twins of ../avx2/gemm_avx2.c: Q8_0, Q4_0, Q5_0 (x Q8_0), Q4_1 and Q5_1 (x Q8_1)
 * single-row dots, 8-row GEMV for generation and row panels for prompt batches, each equal bit for bit to the
 * reference dot (the contract in ../gemm.h).
 *
 * The reference computes, per 32-element block b, the exact integer isum_b and then one float term in block order,
 *     Q8_0, Q4_0, Q5_0:  sumf = sumf + (float)isum_b * (d_w * d_a)
 *     Q4_1, Q5_1:        sumf = sumf + ((float)isum_b * (d_w * d_a) + m_w * s_a)
 * every product and sum rounded separately (no FMA). What changes against the avx2 set is only how the exact
 * integer isum_b is formed: VPDPBUSD (kernels_avxvnni.h) multiplies unsigned by signed bytes and adds groups of
 * four into int32 lanes in one instruction, where AVX2 needs VPMADDUBSW (int16, saturating) + VPMADDWD + VPADDD.
 * The float chains, their vector layout (lanes = rows) and the block order are those of the avx2 kernels.
 *
 * Signed Q8_0 codes w (-128..127) are made unsigned in one of two exact ways:
 *  - w + 128 = w XOR 0x80 as the unsigned operand: sum_k (w_k + 128) a_k - 128 sum_k a_k = sum_k w_k a_k, with
 *    128 sum_k a_k = 16 aux.sum8 (gemm.h: sum8 is 8 times the activation block's code sum) or formed from the
 *    block. Used where the weights are loaded once for several products (GEMV, panels: the XOR is done once per
 *    weight vector, or at pack time).
 *  - |w| (VPSIGNB w, w: 128 for -128, as an unsigned byte) times a with w's sign (VPSIGNB a, w; exact because
 *    activation codes are never -128, kernels_impl.h). Used by the single-row dot, which has no aux.
 * No lane can overflow: |sum| <= 32 * 255 * 128 < 2^21.
 * Unsigned codes (Q4_0..Q5_1: 0..15 or 0..31) go into VPDPBUSD as they are; Q4_0 / Q5_0's offset of -8 / -16 is
 * 8 / 16 sum(a) subtracted in int32, as in the avx2 kernels.
 */
#include "kernels/avxvnni/kernels_avxvnni.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "kernels/avx2/util_avx2.h"

/* No fused multiply-add may be formed from the float operations here (-ffp-contract=off in the Makefile). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define VNNI_INLINE static inline __attribute__((always_inline))

/* acc + sum_{k<4} u[4i+k] s[4i+k] per int32 lane i (u unsigned, s signed bytes) */
VNNI_INLINE __m256i dpbusd(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_avx_epi32(acc, u, s); }

/* exact int32 lanes of sum_k w_k a_k over groups of 4 bytes, signed w (>= -128) and a (> -128) */
VNNI_INLINE __m256i dot_s8s8(__m256i w, __m256i a) {
    return dpbusd(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}

/* the sum of the 32 codes at p (signed bytes), exact */
VNNI_INLINE int32_t code_sum(const void *p) {
    const __m256i v = _mm256_loadu_si256((const __m256i *)p);
    return octet__hsum8i(dpbusd(_mm256_setzero_si256(), _mm256_set1_epi8(1), v));
}

/* 128 sum(a) of a Q8_0 activation block: from its aux when given (16 sum8), else from its codes */
VNNI_INLINE int32_t sum128(const octet__q8_aux *ax, const block_q8_0 *y) {
    return ax ? 16 * ax->sum8 : 128 * code_sum(y->qs);
}

/* ==== Q8_0 ==== */

/* ---- single-row dot: 8 blocks at a time, their integer sums reduced into 8 lanes and the 8 float terms formed as
 * vectors, then added to the running sum one by one in block order; the tail block by block (as the avx2 dot) */
void octet__dot_q8_0_q8_0_avxvnni(int64_t n, float *s, const void *w, const void *a) {
    const block_q8_0 *x = w, *y = a;
    const int64_t nb = n / 32;
    float sumf = 0.0f;
    int64_t i = 0;
    for (; i + 8 <= nb; i += 8) {
        __m256i p[8];
        uint16_t dx[8], dy[8];
        _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {
            p[k] = dot_s8s8(_mm256_loadu_si256((const __m256i *)(const void *)x[i + k].qs),
                            _mm256_loadu_si256((const __m256i *)(const void *)y[i + k].qs));
            dx[k] = x[i + k].d, dy[k] = y[i + k].d;
        }
        const __m256 dd = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)dx)),
                                        _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)dy)));
        float v[8];
        _mm256_storeu_ps(v, _mm256_mul_ps(_mm256_cvtepi32_ps(octet__reduce8(p)), dd));
        for (int k = 0; k < 8; k++) sumf += v[k];
    }
    for (; i < nb; i++) {
        const int32_t isum = octet__hsum8i(dot_s8s8(_mm256_loadu_si256((const __m256i *)(const void *)x[i].qs),
                                                    _mm256_loadu_si256((const __m256i *)(const void *)y[i].qs)));
        sumf += (float)isum * (octet__h2f(x[i].d) * octet__h2f(y[i].d));
    }
    *s = sumf;
}

/* ---- 8-row GEMV: T tokens (1..4); per block the 8 rows' codes are loaded and flipped to w + 128 once, then for
 * each token 8 VPDPBUSD, the 8 rows' sums reduced into one vector (lanes = rows), 128 sum(a) subtracted, and one
 * vector step of the 8 rows' float chains. The caller's next 8 rows (pf) are prefetched linearly, and the rows'
 * scales gathered one block ahead, as in the avx2 kernel. */
VNNI_INLINE void gemv8_q8_0_t(int64_t n, float *s, const uint8_t *wb, size_t w_stride, const void *pf,
                              const uint8_t *a, size_t a_stride, const int T, const octet__q8_aux *aux,
                              size_t aux_stride) {
    const int64_t nb = n / QK8_0;
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    __m256 acc[4];
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) acc[c] = _mm256_setzero_ps();
    octet__pf_stream pfs;
    octet__pf_init(&pfs, pf, pf ? 8 * w_stride : 0, (size_t)nb);
    __m256 dw_next = octet__row_scales(wb, w_stride, 0);
    for (int64_t i = 0; i < nb; i++) {
        octet__pf_step(&pfs);
        const size_t off = (size_t)i * sizeof(block_q8_0);
        __m256i x[8];
        _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++) x[r] = _mm256_xor_si256(
            _mm256_loadu_si256((const __m256i *)(const void *)(wb + (size_t)r * w_stride + off + 2)), flip);
        const __m256 dw = dw_next;
        if (i + 1 < nb) dw_next = octet__row_scales(wb, w_stride, off + sizeof(block_q8_0));
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
            const block_q8_0 *y = (const block_q8_0 *)(const void *)(a + (size_t)c * a_stride) + i;
            const octet__q8_aux *ax = aux ? aux + (size_t)c * aux_stride + (size_t)i : NULL;
            const __m256i av = _mm256_loadu_si256((const __m256i *)(const void *)y->qs);
            __m256i p[8];
            _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++) p[r] = dpbusd(_mm256_setzero_si256(), x[r], av);
            const __m256i isum = _mm256_sub_epi32(octet__reduce8(p), _mm256_set1_epi32(sum128(ax, y)));
            const __m256 dd = _mm256_mul_ps(dw, ax ? _mm256_broadcast_ss(&ax->d) : _mm256_set1_ps(octet__h2f(y->d)));
            acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), dd));
        }
    }
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) _mm256_storeu_ps(s + 8 * c, acc[c]);
}

void octet__gemv8_q8_0_q8_0_avxvnni(int64_t n, float *s, const void *w, size_t w_stride, const void *pf,
                                    const void *a, size_t a_stride, int nc, const octet__q8_aux *aux,
                                    size_t aux_stride) {
    switch (nc) {
    case 1: gemv8_q8_0_t(n, s, w, w_stride, pf, a, a_stride, 1, aux, aux_stride); break;
    case 2: gemv8_q8_0_t(n, s, w, w_stride, pf, a, a_stride, 2, aux, aux_stride); break;
    case 3: gemv8_q8_0_t(n, s, w, w_stride, pf, a, a_stride, 3, aux, aux_stride); break;
    default: gemv8_q8_0_t(n, s, w, w_stride, pf, a, a_stride, 4, aux, aux_stride); break;
    }
}

/* ---- panels: per block 8 vectors W_j (j < 8) of codes 4j..4j+3 of the 8 rows (row r in bytes 4r..4r+3), each
 * code stored as w + 128, then the 8 rows' scales as float: 288 bytes per block, the avx2 panel's size ---- */
#define Q8_PANEL_BLOCK 288

size_t octet__panel_bytes_q8_0_avxvnni(int64_t n) { return (size_t)(n / 32) * Q8_PANEL_BLOCK; }

void octet__pack_q8_0_avxvnni(int64_t n, void *panel, const void *w, size_t w_stride, const void *pf) {
    const uint8_t *wb = w;
    uint8_t *dst = panel;
    const int64_t nb = n / 32;
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    octet__pf_stream pfs; /* the caller's next 8 rows, prefetched linearly while these are packed */
    octet__pf_init(&pfs, pf, pf ? 8 * w_stride : 0, (size_t)nb);
    for (int64_t i = 0; i < nb; i++, dst += Q8_PANEL_BLOCK) {
        octet__pf_step(&pfs);
        const size_t off = (size_t)i * sizeof(block_q8_0);
        __m256i c[8];
        _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++) c[r] = _mm256_xor_si256(
            _mm256_loadu_si256((const __m256i *)(const void *)(wb + (size_t)r * w_stride + off + 2)), flip);
        octet__store_transposed8_avx2(dst, c);
        _mm256_storeu_ps((float *)(void *)(dst + 256), octet__row_scales(wb, w_stride, off));
    }
}

/* T tokens (1..4) against the whole panel. Per block and token: 8 VPDPBUSD (W_j against the token's codes
 * 4j..4j+3 broadcast to every lane) in two independent chains (even and odd j: more products in flight than one
 * chain per token allows), 128 sum(a) subtracted, one vector step of the 8 rows' float chains. */
VNNI_INLINE void q8_panel_tokens(const int T, int64_t nb, float *s, size_t s_stride, const uint8_t *panel,
                                 const uint8_t *ya, size_t a_stride, const octet__q8_aux *aux, size_t aux_stride) {
    __m256 acc[4];
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = panel + (size_t)i * Q8_PANEL_BLOCK;
        __m256i p0[4], p1[4];
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) p0[c] = p1[c] = _mm256_setzero_si256();
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {
            const __m256i wj = _mm256_loadu_si256((const __m256i *)(const void *)(pb + 32 * j));
            _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
                const block_q8_0 *y = (const block_q8_0 *)(const void *)(ya + (size_t)c * a_stride) + i;
                const __m256i av = octet__bcast4(y->qs + 4 * j);
                if (j & 1) p1[c] = dpbusd(p1[c], wj, av);
                else p0[c] = dpbusd(p0[c], wj, av);
            }
        }
        const __m256 dw = _mm256_loadu_ps((const float *)(const void *)(pb + 256));
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
            const block_q8_0 *y = (const block_q8_0 *)(const void *)(ya + (size_t)c * a_stride) + i;
            const octet__q8_aux *ax = aux ? aux + (size_t)c * aux_stride + (size_t)i : NULL;
            const __m256i isum = _mm256_sub_epi32(_mm256_add_epi32(p0[c], p1[c]), _mm256_set1_epi32(sum128(ax, y)));
            const __m256 dd = _mm256_mul_ps(dw, ax ? _mm256_broadcast_ss(&ax->d) : _mm256_set1_ps(octet__h2f(y->d)));
            acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), dd));
        }
    }
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) _mm256_storeu_ps(s + (size_t)c * s_stride, acc[c]);
}

void octet__panel_gemm_q8_0_avxvnni(int64_t n, float *s, size_t s_stride, const void *panel, const void *a,
                                    size_t a_stride, int nc, const octet__q8_aux *aux, size_t aux_stride) {
    const int64_t nb = n / 32;
    const uint8_t *ya = a;
    int c0 = 0;
    for (; c0 + 4 <= nc; c0 += 4)
        q8_panel_tokens(4, nb, s + (size_t)c0 * s_stride, s_stride, panel, ya + (size_t)c0 * a_stride, a_stride,
                        aux ? aux + (size_t)c0 * aux_stride : NULL, aux_stride);
    for (; c0 < nc; c0++)
        q8_panel_tokens(1, nb, s + (size_t)c0 * s_stride, s_stride, panel, ya + (size_t)c0 * a_stride, a_stride,
                        aux ? aux + (size_t)c0 * aux_stride : NULL, aux_stride);
}

/* ==== the unsigned-code types: Q4_0, Q5_0 (x Q8_0), Q4_1, Q5_1 (x Q8_1) ====
 * BLOCK: the weight block type's size; QH: offset of qh in it (or -1); MIN: offset of the min m (or -1: the _0
 * types). Q4_0 / Q5_0's activation is Q8_0 (d, qs at 2), the _1 types' Q8_1 (d, s, qs at 4). */

/* the 32 unsigned codes of a block: nibbles (element l and 16 + l in byte l) and, with qh, the fifth bit */
VNNI_INLINE __m256i codes(const uint8_t *qs, const uint8_t *qh) {
    const __m256i q = octet__unpack_nibbles(qs);
    return qh ? _mm256_or_si256(q, _mm256_and_si256(octet__bits_to_bytes(qh), _mm256_set1_epi8(0x10))) : q;
}

/* ---- single-row dots: as the avx2 ones (8 blocks at a time, then block by block); the integer part of a _0 type
 * is sum q a - OFF sum a, both by VPDPBUSD (OFF as the unsigned operand) */
VNNI_INLINE __m256i block_isum(__m256i q, __m256i a, const int OFF, const int MIN) {
    const __m256i z = _mm256_setzero_si256();
    return MIN < 0 ? _mm256_sub_epi32(dpbusd(z, q, a), dpbusd(z, _mm256_set1_epi8((char)OFF), a)) : dpbusd(z, q, a);
}

VNNI_INLINE void dot5(int64_t n, float *s, const uint8_t *x, const uint8_t *y, const size_t BLOCK, const int QH,
                      const int MIN) {
    const size_t YB = MIN < 0 ? sizeof(block_q8_0) : sizeof(block_q8_1), YQ = MIN < 0 ? 2 : 4;
    const size_t QS = BLOCK - 16;
    const int OFF = QH < 0 ? 8 : 16; /* Q4_0 / Q5_0 code offset */
    const int64_t nb = n / 32;
    float sumf = 0.0f;
    int64_t i = 0;
    _Static_assert(8 * sizeof(block_q5_1) <= 192, "dot5 prefetches 3 lines per 8 blocks");
    for (; i + 8 <= nb; i += 8) {
        /* 4 KiB ahead in the row stream (util_avx2.h's distance), as the avx2 dot */
        const char *pf = (const char *)(x + (size_t)i * BLOCK) + OCTET_PREFETCH_AHEAD;
        _mm_prefetch(pf, _MM_HINT_T0);
        _mm_prefetch(pf + 64, _MM_HINT_T0);
        _mm_prefetch(pf + 128, _MM_HINT_T0);
        __m256i p[8];
        uint16_t dx[8], dy[8], mx[8], sy[8];
        _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {
            const uint8_t *xb = x + (size_t)(i + k) * BLOCK, *yb = y + (size_t)(i + k) * YB;
            const __m256i q = codes(xb + QS, QH < 0 ? NULL : xb + QH);
            p[k] = block_isum(q, _mm256_loadu_si256((const __m256i *)(const void *)(yb + YQ)), OFF, MIN);
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
        const int32_t isum =
            octet__hsum8i(block_isum(q, _mm256_loadu_si256((const __m256i *)(const void *)(yb + YQ)), OFF, MIN));
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

void octet__dot_q4_0_q8_0_avxvnni(int64_t n, float *s, const void *w, const void *a) {
    dot5(n, s, w, a, sizeof(block_q4_0), -1, -1);
}
void octet__dot_q5_0_q8_0_avxvnni(int64_t n, float *s, const void *w, const void *a) {
    dot5(n, s, w, a, sizeof(block_q5_0), (int)offsetof(block_q5_0, qh), -1);
}
void octet__dot_q4_1_q8_1_avxvnni(int64_t n, float *s, const void *w, const void *a) {
    dot5(n, s, w, a, sizeof(block_q4_1), -1, (int)offsetof(block_q4_1, m));
}
void octet__dot_q5_1_q8_1_avxvnni(int64_t n, float *s, const void *w, const void *a) {
    dot5(n, s, w, a, sizeof(block_q5_1), (int)offsetof(block_q5_1, qh), (int)offsetof(block_q5_1, m));
}

/* OFF sum(a) of Q8_0 activation block y (OFF = 8 for Q4_0, 16 for Q5_0): from aux's 8 sum(a) when given, else
 * formed here */
VNNI_INLINE int32_t sum_off(const octet__q8_aux *sa, const uint8_t *y, const int OFF) {
    return sa ? OFF / 8 * sa->sum8 : OFF * code_sum(y + 2);
}

/* ---- 8-row GEMV (generation: 1..4 tokens) ------------------------------------------------------------------
 * As the avx2 kernel: rows r and r+1 in the two 128-bit lanes of a vector (low nibbles: elements 0..15, high:
 * 16..31, with the fifth bits moved in from qh), the activation halves broadcast to both lanes. Two VPDPBUSD per
 * row pair leave [row r: 4 partial sums | row r+1: 4 partial sums]; three rounds of VPHADDD give the 8 rows'
 * sums in the order [r0 r2 r4 r6 | r1 r3 r5 r7], permuted to row order. Per block one vector step of the 8 rows'
 * float chains. The caller's next 8 rows (pf) are prefetched linearly. */
VNNI_INLINE void gemv5(int64_t n, float *s, const uint8_t *wb, size_t w_stride, const void *pf, const uint8_t *a,
                       size_t a_stride, const int T, const octet__q8_aux *aux, size_t aux_stride, const size_t BLOCK,
                       const int QH, const int MIN) {
    const size_t YB = MIN < 0 ? sizeof(block_q8_0) : sizeof(block_q8_1), YQ = MIN < 0 ? 2 : 4, QS = BLOCK - 16;
    const int64_t nb = n / 32;
    const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10);
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
            __m256i q[4]; /* [row 2k: 4 int32 | row 2k+1: 4 int32] */
            _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)
                q[k] = dpbusd(dpbusd(_mm256_setzero_si256(), lo[k], alo), hi[k], ahi);
            __m256i isum = _mm256_hadd_epi32(_mm256_hadd_epi32(q[0], q[1]), _mm256_hadd_epi32(q[2], q[3]));
            const octet__q8_aux *ax = MIN < 0 && aux ? aux + (size_t)c * aux_stride + (size_t)i : NULL;
            if (MIN < 0) isum = _mm256_sub_epi32(isum, _mm256_set1_epi32(sum_off(ax, y, QH < 0 ? 8 : 16)));
            isum = _mm256_permutevar8x32_epi32(isum, order); /* [r0 r2 r4 r6 | r1 r3 r5 r7] -> rows in order */
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
P5_GEMV(octet__gemv8_q4_0_q8_0_avxvnni, sizeof(block_q4_0), -1, -1)
P5_GEMV(octet__gemv8_q5_0_q8_0_avxvnni, sizeof(block_q5_0), (int)offsetof(block_q5_0, qh), -1)
P5_GEMV(octet__gemv8_q4_1_q8_1_avxvnni, sizeof(block_q4_1), -1, (int)offsetof(block_q4_1, m))
P5_GEMV(octet__gemv8_q5_1_q8_1_avxvnni, sizeof(block_q5_1), (int)offsetof(block_q5_1, qh), (int)offsetof(block_q5_1, m))

/* ---- panels: the avx2 panels (octet__pack_q4_0_avx2 ..: 8 unsigned code vectors with the rows in the lanes, then
 * the 8 scales as floats at byte 256 and, for the _1 types, the 8 mins at 288; 288 / 320 bytes per block) ---- */
#define P5_CODES 256

/* T tokens (1..4) against the whole panel: token c's blocks at ya + c * a_stride, results at s + c * s_stride.
 * FIVE: 5-bit codes (Q5_0's offset is 16); MIN: a _1 type (Q8_1 activations, the min term). Per block and token
 * 8 VPDPBUSD in two chains (even and odd code vectors). */
VNNI_INLINE void tokens5(const int T, const int FIVE, const int MIN, int64_t nb, float *s, size_t s_stride,
                         const uint8_t *panel, const uint8_t *ya, size_t a_stride, const octet__q8_aux *aux,
                         size_t aux_stride) {
    const size_t PB = MIN ? 320 : 288, YB = MIN ? sizeof(block_q8_1) : sizeof(block_q8_0), YQ = MIN ? 4 : 2;
    __m256 acc[4];
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = panel + (size_t)i * PB;
        __m256i p0[4], p1[4];
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) p0[c] = p1[c] = _mm256_setzero_si256();
        _Pragma("GCC unroll 8") for (int g = 0; g < 8; g++) {
            const __m256i wg = _mm256_loadu_si256((const __m256i *)(const void *)(pb + 32 * g));
            _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
                const __m256i av = octet__bcast4(ya + (size_t)c * a_stride + (size_t)i * YB + YQ + 4 * (size_t)g);
                if (g & 1) p1[c] = dpbusd(p1[c], wg, av);
                else p0[c] = dpbusd(p0[c], wg, av);
            }
        }
        const __m256 dw = _mm256_loadu_ps((const float *)(const void *)(pb + P5_CODES));
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
            const uint8_t *y = ya + (size_t)c * a_stride + (size_t)i * YB;
            const octet__q8_aux *ax = !MIN && aux ? aux + (size_t)c * aux_stride + (size_t)i : NULL;
            uint16_t h[2];
            memcpy(h, y, 4); /* d, and s for Q8_1 */
            __m256i is = _mm256_add_epi32(p0[c], p1[c]);
            if (!MIN) is = _mm256_sub_epi32(is, _mm256_set1_epi32(sum_off(ax, y, FIVE ? 16 : 8)));
            const __m256 da = ax ? _mm256_broadcast_ss(&ax->d) : _mm256_set1_ps(octet__h2f(h[0]));
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
P5_GEMM(octet__panel_gemm_q4_0_avxvnni, 0, 0)
P5_GEMM(octet__panel_gemm_q5_0_avxvnni, 1, 0)
P5_GEMM(octet__panel_gemm_q4_1_avxvnni, 0, 1)
P5_GEMM(octet__panel_gemm_q5_1_avxvnni, 1, 1)
