/*
 * repack_avx2.c - the avx2 set's kernel over the load-time Q4_0 x16 layout of ../repack.h (the twin of
 * ref/repack_ref.c's packer; the avx512 set has its own kernels over the same bytes), equal bit for bit to the
 * reference dot (the contract in ../gemm.h).
 *
 * Why a layout for AVX2. On the file's rows, the avx2 set's 8-row Q4_0 GEMV (gemm_avx2.c) spends most of its
 * instructions on the layout, not on products: per block it merges pairs of rows into one vector, reduces the 8
 * rows' int16 partial sums horizontally (hadd) and gathers the 8 rows' scales from 8 places. In the x16 layout a
 * 32-byte half of a chunk already holds 4 nibble bytes of each of 8 rows (rows 0..7 in bytes 0..31, rows 8..15 in
 * 32..63; row r at bytes 4(r mod 8)..+3) and the 16 rows' fp16 scales are contiguous, so with one activation's 4
 * codes broadcast to every 32-bit lane each multiply-add lands row r's products in lane r:
 *
 *   VPMADDUBSW (_mm256_maddubs_epi16(u, s)): unsigned bytes u times signed bytes s, adjacent pairs added into
 *   int16 with signed saturation (Intel SDM, "PMADDUBSW"). With u the nibble codes (0..15) and s activation codes
 *   (Q8_0: -127..127) a pair is at most 2 * 15 * 127 = 3810 in magnitude, so the 8 maddubs of a block (low and
 *   high nibbles of the 4 chunks) add up in int16 exactly (8 * 3810 = 30480 < 32767) and never saturate;
 *   VPMADDWD with ones (_mm256_madd_epi16(x, 1)) then adds the two int16 of each lane into an exact int32:
 *   sum_k q_k a_k of the row. The -8 offset is 8 sum_k a_k = aux.sum8 (or formed here without aux), so
 *   isum = that - sum8, exact.
 *
 * The float chain of each row is then the reference's, one vector step per block for 8 rows in 8 lanes:
 *     acc = acc + (float)isum * (d_w * d_a)
 * with separate multiply and add (this file is compiled with -ffp-contract=off), in block order. Rows 0..7 and
 * 8..15 are two passes over the group (16 ymm registers do not hold both halves' operands); the second pass reads
 * the group from the cache. Prompts: tiles of up to 3 tokens per pass (the 8 operands, 3 accumulators and the
 * temporaries fill the 16 registers).
 */
#include "kernels/gemm.h"
#include "kernels/repack.h"

#include <immintrin.h>
#include <string.h>

#include "kernels/avx2/util_avx2.h"
#include "kernels/kernels_impl.h"
#include "tensor/types.h"

/* No fused multiply-add may be formed from the float operations here. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- the packer (the same bytes as octet__pack_q4_0x16_ref): per block the 16 rows' d, then dword j of each
 * row's 16 nibble bytes to chunk j at 4r ------------------------------------------------------------------------ */
void octet__pack_q4_0x16_avx2(int64_t n, void *dst, const void *w, size_t w_stride) {
    uint8_t *o = dst;
    const uint8_t *x = w;
    for (int64_t b = 0; b < n / QK4_0; b++, o += OCTET__Q4X16_BLOCK, x += sizeof(block_q4_0)) {
        for (int r = 0; r < 16; r++) {
            const uint8_t *xr = x + (size_t)r * w_stride;
            memcpy(o + 2 * r, xr, 2);
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) memcpy(o + 32 + 64 * j + 4 * r, xr + 2 + 4 * j, 4);
        }
    }
}

/* rows 8h..8h+7 of one group against T tokens (activation rows a + c * a_stride, Q8_0 blocks) */
static inline __attribute__((always_inline)) void half_tile(int64_t nb, float *s, size_t s_stride, const uint8_t *g,
                                                              const int h, octet__pf_stream *pfs, const uint8_t *a,
                                                              size_t a_stride, const int T, const octet__q8_aux *aux,
                                                              size_t aux_stride) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256 acc[3];
    _Pragma("GCC unroll 3") for (int c = 0; c < T; c++) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = g + (size_t)i * OCTET__Q4X16_BLOCK;
        if (pfs) octet__pf_step(pfs);
        __m256i w[8]; /* operand 2j: low nibbles of chunk j (codes 4j..4j+3), 2j+1: high (16+4j..16+4j+3) */
        _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(pb + 32 + 64 * j + 32 * h));
            w[2 * j] = _mm256_and_si256(q, m4);
            w[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(pb + 16 * h)));
        _Pragma("GCC unroll 3") for (int c = 0; c < T; c++) {
            const block_q8_0 *y = (const block_q8_0 *)(const void *)(a + (size_t)c * a_stride) + i;
            const octet__q8_aux *x = aux ? aux + (size_t)c * aux_stride + (size_t)i : NULL;
            __m256i p = _mm256_maddubs_epi16(w[0], octet__bcast4(y->qs));
            p = _mm256_add_epi16(p, _mm256_maddubs_epi16(w[1], octet__bcast4(y->qs + 16)));
            _Pragma("GCC unroll 3") for (int j = 1; j < 4; j++) {
                p = _mm256_add_epi16(p, _mm256_maddubs_epi16(w[2 * j], octet__bcast4(y->qs + 4 * j)));
                p = _mm256_add_epi16(p, _mm256_maddubs_epi16(w[2 * j + 1], octet__bcast4(y->qs + 16 + 4 * j)));
            }
            int32_t sum8;
            float da;
            if (x) {
                sum8 = x->sum8;
                da = x->d;
            } else {
                int32_t sum = 0;
                for (int k = 0; k < QK8_0; k++) sum += y->qs[k];
                sum8 = 8 * sum;
                da = _cvtsh_ss(y->d);
            }
            const __m256i isum = _mm256_sub_epi32(_mm256_madd_epi16(p, ones), _mm256_set1_epi32(sum8));
            const __m256 dd = _mm256_mul_ps(dw, _mm256_set1_ps(da));
            acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), dd));
        }
    }
    _Pragma("GCC unroll 3") for (int c = 0; c < T; c++) _mm256_storeu_ps(s + (size_t)c * s_stride + 8 * h, acc[c]);
}

void octet__gemm_q4_0x16_avx2(int64_t n, float *s, size_t s_stride, const void *group, const void *pf, const void *a,
                              size_t a_stride, int nc, const octet__q8_aux *aux, size_t aux_stride) {
    const int64_t nb = n / QK4_0;
    const uint8_t *g = group;
    octet__pf_stream pfs;
    octet__pf_stream *pfp = NULL;
    if (pf) { /* the next group, requested across both halves' block steps of the first tile */
        octet__pf_init(&pfs, pf, octet__q4_0x16_bytes(n), 2 * (size_t)nb);
        pfp = &pfs;
    }
    for (int c0 = 0; c0 < nc;) {
        const int k = nc - c0 >= 3 ? 3 : nc - c0;
        const uint8_t *ab = (const uint8_t *)a + (size_t)c0 * a_stride;
        const octet__q8_aux *ax = aux ? aux + (size_t)c0 * aux_stride : NULL;
        float *sc = s + (size_t)c0 * s_stride;
        for (int h = 0; h < 2; h++) {
            switch (k) {
            case 1: half_tile(nb, sc, s_stride, g, h, pfp, ab, a_stride, 1, ax, aux_stride); break;
            case 2: half_tile(nb, sc, s_stride, g, h, pfp, ab, a_stride, 2, ax, aux_stride); break;
            default: half_tile(nb, sc, s_stride, g, h, pfp, ab, a_stride, 3, ax, aux_stride); break;
            }
        }
        pfp = NULL;
        c0 += k;
    }
}
