/*
 * int_gemm_avxvnni.c - the avxvnni twins of the integer-mode 8-row GEMV and row panels of ../avx2/int_gemm_avx2.c:
 * each result is the exact int64 of octet__int_dot_q8_ref for its (row, token), identical to the reference.
 *
 * Only the products of codes change: |w| (unsigned) times a carrying w's sign through VPDPBUSD
 * (kernels_avxvnni.h), one instruction per 32 products where AVX2 needs VPMADDUBSW + VPMADDWD + VPADDD. The block
 * scales, the int64 scaling of the block sums (even and odd rows in separate accumulators), the stores and the
 * output rescale are the avx2 kernels' (../avx2/int_gemm_avx2.h), and so is the panel layout (the avx2 packer).
 */
#include "kernels/avxvnni/kernels_avxvnni.h"

#include <immintrin.h>
#include <string.h>

#include "kernels/avx2/int_gemm_avx2.h"
#include "kernels/avx2/util_avx2.h"

#define VNNI_INLINE static inline __attribute__((always_inline))

/* exact int32 lanes of sum_k w_k a_k over groups of 4 bytes, signed w (>= -128) and a (> -128) */
VNNI_INLINE __m256i dot_s8s8(__m256i w, __m256i a) {
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}

/* One block of the 8-row GEMV: the rows' int32 sums (lanes = rows) times sc, added to the int64 sums. */
VNNI_INLINE void gemv8_block(const uint8_t *w, size_t row_bytes, const int8_t *a, int64_t b, __m256i sc,
                             __m256i *acc_e, __m256i *acc_o) {
    const __m256i av = _mm256_loadu_si256((const __m256i *)(const void *)(a + (size_t)b * 32));
    const uint8_t *wb = w + (size_t)b * OCTET_INT_BLOCK + 2;
    __m256i p[8];
    _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++)
        p[r] = dot_s8s8(_mm256_loadu_si256((const __m256i *)(const void *)(wb + (size_t)r * row_bytes)), av);
    const __m256i isum = octet__reduce8(p);
    *acc_e = _mm256_add_epi64(*acc_e, _mm256_mul_epi32(isum, sc));
    *acc_o = _mm256_add_epi64(*acc_o,
                              _mm256_mul_epi32(_mm256_shuffle_epi32(isum, 0xf5), _mm256_shuffle_epi32(sc, 0xf5)));
}

/* The 8 rows' int64 sums (acc_e: rows 0, 2, 4, 6; acc_o: rows 1, 3, 5, 7), the block loop of the avx2 kernel:
 * two blocks' scales at once (block_scales2) one pair ahead where every e[r] <= 28, else one block at a time with
 * the scales one block ahead; the caller's next 8 rows prefetched linearly. */
VNNI_INLINE void gemv8_sums(int64_t n_blocks, const uint8_t *w, size_t row_bytes, const int8_t e[8], const int8_t *a,
                            const int16_t *as, const uint8_t *pf, __m256i *acc_e_out, __m256i *acc_o_out) {
    __m256i acc_e = _mm256_setzero_si256(), acc_o = _mm256_setzero_si256();
    octet__pf_stream pfs;
    octet__pf_init(&pfs, pf, pf ? 8 * row_bytes : 0, (size_t)n_blocks);
    const __m256i idx = row_offsets(row_bytes), nk = row_nk(e);
    int64_t b = 0;
    const __m256i e32 = row_e32(e);
    if (n_blocks >= 2 && _mm256_testz_si256(_mm256_cmpgt_epi32(e32, _mm256_set1_epi32(28)), _mm256_set1_epi32(-1))) {
        const __m256i ejl = _mm256_and_si256(_mm256_sub_epi32(e32, _mm256_set1_epi32(14)), _mm256_set1_epi32(0xffff));
        const __m256i ej = _mm256_or_si256(ejl, _mm256_slli_epi32(ejl, 16));
        const __m256i mlo = _mm256_set1_epi32(0xffff), mhi = _mm256_set1_epi32((int)0xffff0000u);
        __m256i ws_next = block_scales2(gather_raw(w, idx, 0), gather_raw(w, idx, 1), ej);
        for (; b + 1 < n_blocks; b += 2) {
            const __m256i ws = ws_next;
            if (b + 3 < n_blocks) ws_next = block_scales2(gather_raw(w, idx, b + 2), gather_raw(w, idx, b + 3), ej);
            int32_t as2;
            memcpy(&as2, as + b, 4);
            const __m256i asv = _mm256_set1_epi32(as2);
            octet__pf_step(&pfs);
            gemv8_block(w, row_bytes, a, b, _mm256_madd_epi16(ws, _mm256_and_si256(asv, mlo)), &acc_e, &acc_o);
            octet__pf_step(&pfs);
            gemv8_block(w, row_bytes, a, b + 1, _mm256_madd_epi16(ws, _mm256_and_si256(asv, mhi)), &acc_e, &acc_o);
        }
    }
    if (b < n_blocks) {
        __m256i sc_next = scale_of(gather_scales(w, idx, b, nk), as[b]);
        for (; b < n_blocks; b++) {
            octet__pf_step(&pfs);
            const __m256i sc = sc_next;
            if (b + 1 < n_blocks) sc_next = scale_of(gather_scales(w, idx, b + 1, nk), as[b + 1]);
            gemv8_block(w, row_bytes, a, b, sc, &acc_e, &acc_o);
        }
    }
    *acc_e_out = acc_e;
    *acc_o_out = acc_o;
}

void octet__int_gemv8_q8_avxvnni(int64_t n_blocks, const uint8_t *w, size_t row_bytes, const int8_t e[8],
                                 const int8_t *a, const int16_t *as, const uint8_t *pf, int64_t out[8]) {
    __m256i acc_e, acc_o;
    gemv8_sums(n_blocks, w, row_bytes, e, a, as, pf, &acc_e, &acc_o);
    store_rows(out, acc_e, acc_o);
}

void octet__int_gemv8_q8_y_avxvnni(int64_t n_blocks, const uint8_t *w, size_t row_bytes, const int8_t e[8],
                                   const int8_t *a, const int16_t *as, const uint8_t *pf, int base, int32_t m,
                                   const int32_t *bias, int32_t y[8]) {
    __m256i acc_e, acc_o;
    gemv8_sums(n_blocks, w, row_bytes, e, a, as, pf, &acc_e, &acc_o);
    const rescale_rows rr = rescale_setup(e, m, bias);
    rescale_store(&rr, base, acc_e, acc_o, y);
}

/* One block of the avx2 panel (8 code vectors W_j, then the 8 rows' int32 scales) against T tokens: |W_j| once per
 * j, then per token VPDPBUSD with the token's codes 4j..4j+3 broadcast and carrying W_j's signs, in two chains
 * (even and odd j) so that more products are in flight than one chain per token allows. */
VNNI_INLINE void ipanel_step(const int T, const uint8_t *pb, const int8_t *const *ap, const int16_t *const *sp,
                             int64_t b, __m256i *acc_e, __m256i *acc_o) {
    __m256i p0[4], p1[4];
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) p0[c] = p1[c] = _mm256_setzero_si256();
    _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {
        const __m256i wj = _mm256_loadu_si256((const __m256i *)(const void *)(pb + 32 * j));
        const __m256i uj = _mm256_sign_epi8(wj, wj);
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {
            const __m256i av = _mm256_sign_epi8(octet__bcast4(ap[c] + (size_t)b * 32 + 4 * j), wj);
            if (j & 1) p1[c] = _mm256_dpbusd_avx_epi32(p1[c], uj, av);
            else p0[c] = _mm256_dpbusd_avx_epi32(p0[c], uj, av);
        }
    }
    const __m256i ws32 = _mm256_loadu_si256((const __m256i *)(const void *)(pb + 256));
    _Pragma("GCC unroll 4") for (int c = 0; c < T; c++)
        scale_add(_mm256_add_epi32(p0[c], p1[c]), ws32, sp[c][b], &acc_e[c], &acc_o[c]);
}

/* The panel against nc tokens, 4 at a time, then one at a time; each token's sums to out (int64, rr NULL) or,
 * rescaled in registers, to y + c * y_stride (base[c] the token's shift base). */
VNNI_INLINE void panel_run(int64_t n_blocks, const void *panel, const int8_t *a, size_t a_stride, const int16_t *as,
                           size_t as_stride, int nc, int64_t *out, const rescale_rows *rr, const int *base, int32_t *y,
                           size_t y_stride) {
    const uint8_t *pnl = panel;
    int c0 = 0;
    for (; c0 + 4 <= nc; c0 += 4) {
        const int8_t *ap[4];
        const int16_t *sp[4];
        __m256i acc_e[4], acc_o[4];
        _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) {
            ap[c] = a + (size_t)(c0 + c) * a_stride;
            sp[c] = as + (size_t)(c0 + c) * as_stride;
            acc_e[c] = acc_o[c] = _mm256_setzero_si256();
        }
        for (int64_t b = 0; b < n_blocks; b++)
            ipanel_step(4, pnl + (size_t)b * IPANEL_BLOCK_BYTES, ap, sp, b, acc_e, acc_o);
        _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) {
            if (rr) rescale_store(rr, base[c0 + c], acc_e[c], acc_o[c], y + (size_t)(c0 + c) * y_stride);
            else store_rows(out + (size_t)(c0 + c) * 8, acc_e[c], acc_o[c]);
        }
    }
    for (; c0 < nc; c0++) {
        const int8_t *ap[1] = {a + (size_t)c0 * a_stride};
        const int16_t *sp[1] = {as + (size_t)c0 * as_stride};
        __m256i acc_e[1] = {_mm256_setzero_si256()}, acc_o[1] = {_mm256_setzero_si256()};
        for (int64_t b = 0; b < n_blocks; b++)
            ipanel_step(1, pnl + (size_t)b * IPANEL_BLOCK_BYTES, ap, sp, b, acc_e, acc_o);
        if (rr) rescale_store(rr, base[c0], acc_e[0], acc_o[0], y + (size_t)c0 * y_stride);
        else store_rows(out + (size_t)c0 * 8, acc_e[0], acc_o[0]);
    }
}

void octet__int_panel_q8_avxvnni(int64_t n_blocks, const void *panel, const int8_t *a, size_t a_stride,
                                 const int16_t *as, size_t as_stride, int nc, int64_t *out) {
    panel_run(n_blocks, panel, a, a_stride, as, as_stride, nc, out, NULL, NULL, NULL, 0);
}

void octet__int_panel_q8_y_avxvnni(int64_t n_blocks, const void *panel, const int8_t *a, size_t a_stride,
                                   const int16_t *as, size_t as_stride, int nc, const int8_t e[8], const int *base,
                                   int32_t m, const int32_t *bias, int32_t *y, size_t y_stride) {
    const rescale_rows rr = rescale_setup(e, m, bias);
    panel_run(n_blocks, panel, a, a_stride, as, as_stride, nc, NULL, &rr, base, y, y_stride);
}
