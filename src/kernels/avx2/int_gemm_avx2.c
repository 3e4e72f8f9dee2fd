/*
 * int_panel_avx2.c - multi-row integer kernels of the integer-only mode: an 8-row GEMV for generation and row
 * panels for prompt batches. Each result is the exact int64 of octet__int_dot_q8_ref for its (row, token), so
 * they are identical to the reference whatever the order of the additions (tests/kernels/test_int_dot.c).
 *
 * Per block b and row r: isum = sum_k w[k] a[k] (|isum| <= 32*128*127 < 2^19, exact int32), sc = ws[r][b] * as[b]
 * (|sc| <= 2^30, exact int32 through _mm256_madd_epi16 of the pairs (ws, sign) and (as, 0)), term = isum * sc
 * (< 2^49, exact int64 through _mm256_mul_epi32 on the even lanes and on the odd lanes shifted down); with at most
 * 2^13 blocks the sums stay below 2^62. Rows live in the 8 lanes of a vector: the even rows' int64 sums in one
 * accumulator, the odd rows' in another.
 *
 * Products of codes: |w| (unsigned) times a carrying w's sign, through _mm256_maddubs_epi16; pairs are at most
 * 2*128*127 = 32512 (weights may be -128, activations are in [-127, 127]), then _mm256_madd_epi16 with ones.
 */
#include "kernels/int_kernels.h"

#include <immintrin.h>
#include <string.h>

#include "kernels/avx2/util_avx2.h"
#include "kernels/avx2/int_gemm_avx2.h"

#define dot_s8s8 octet__dot_s8s8
#define reduce8 octet__reduce8

/* One block of the 8-row GEMV: the rows' int32 sums (lanes = rows) times sc, added to the int64 sums. */
static inline __attribute__((always_inline)) void gemv8_block(const uint8_t *w, size_t row_bytes, const int8_t *a,
                                                              int64_t b, __m256i sc, __m256i *acc_e, __m256i *acc_o) {
    const __m256i av = _mm256_loadu_si256((const __m256i *)(const void *)(a + (size_t)b * 32));
    const uint8_t *wb = w + (size_t)b * OCTET_INT_BLOCK + 2;
    __m256i p[8];
    _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++)
        p[r] = dot_s8s8(_mm256_loadu_si256((const __m256i *)(const void *)(wb + (size_t)r * row_bytes)), av);
    const __m256i isum = reduce8(p);
    *acc_e = _mm256_add_epi64(*acc_e, _mm256_mul_epi32(isum, sc));
    *acc_o = _mm256_add_epi64(*acc_o, _mm256_mul_epi32(_mm256_shuffle_epi32(isum, 0xf5), _mm256_shuffle_epi32(sc, 0xf5)));
}

/* The 8 rows' int64 sums: acc_e holds rows 0, 2, 4, 6 and acc_o rows 1, 3, 5, 7 in their 64-bit lanes. */
static inline __attribute__((always_inline)) void gemv8_sums(int64_t n_blocks, const uint8_t *w, size_t row_bytes,
                                                             const int8_t e[8], const int8_t *a, const int16_t *as,
                                                             const uint8_t *pf, __m256i *acc_e_out,
                                                             __m256i *acc_o_out) {
    __m256i acc_e = _mm256_setzero_si256(), acc_o = _mm256_setzero_si256();
    /* the caller's next 8 rows are prefetched linearly, a share of their lines per block */
    octet__pf_stream pfs;
    octet__pf_init(&pfs, pf, pf ? 8 * row_bytes : 0, (size_t)n_blocks);
    const __m256i idx = row_offsets(row_bytes), nk = row_nk(e);
    int64_t b = 0;
    const __m256i e32 = row_e32(e);
    if (n_blocks >= 2 && _mm256_testz_si256(_mm256_cmpgt_epi32(e32, _mm256_set1_epi32(28)), _mm256_set1_epi32(-1))) {
        /* two blocks' scales at once (block_scales2), one pair ahead; the activation scales of a pair from one
         * dword, each block's half selected by a mask so that madd gives ws * as */
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
        /* one block at a time, the block scales one block ahead (gather and derivation off the block's critical
         * path): +3% GB/s from DRAM, two single-threaded processes side by side */
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

void octet__int_gemv8_q8_avx2(int64_t n_blocks, const uint8_t *w, size_t row_bytes, const int8_t e[8],
                              const int8_t *a, const int16_t *as, const uint8_t *pf, int64_t out[8]) {
    __m256i acc_e, acc_o;
    gemv8_sums(n_blocks, w, row_bytes, e, a, as, pf, &acc_e, &acc_o);
    store_rows(out, acc_e, acc_o);
}

/* The sums rescaled in registers (rescale_store). */
void octet__int_gemv8_q8_y_avx2(int64_t n_blocks, const uint8_t *w, size_t row_bytes, const int8_t e[8],
                                const int8_t *a, const int16_t *as, const uint8_t *pf, int base, int32_t m,
                                const int32_t *bias, int32_t y[8]) {
    __m256i acc_e, acc_o;
    gemv8_sums(n_blocks, w, row_bytes, e, a, as, pf, &acc_e, &acc_o);
    const rescale_rows rr = rescale_setup(e, m, bias);
    rescale_store(&rr, base, acc_e, acc_o, y);
}

size_t octet__int_panel_bytes_avx2(int64_t n_blocks) { return (size_t)n_blocks * IPANEL_BLOCK_BYTES; }

void octet__int_pack8_q8_avx2(int64_t n_blocks, void *panel, const uint8_t *w, size_t row_bytes, const int8_t e[8],
                         const uint8_t *pf) {
    uint8_t *dst = panel;
    const __m256i idx = row_offsets(row_bytes), nk = row_nk(e);
    /* the caller's next 8 rows are prefetched linearly while these are packed */
    octet__pf_stream pfs;
    octet__pf_init(&pfs, pf, pf ? 8 * row_bytes : 0, (size_t)n_blocks);
    for (int64_t b = 0; b < n_blocks; b++, dst += IPANEL_BLOCK_BYTES) {
        octet__pf_step(&pfs);
        __m256i c[8], t[8], u[8];
        _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++)
            c[r] = _mm256_loadu_si256(
                (const __m256i *)(const void *)(w + (size_t)r * row_bytes + (size_t)b * OCTET_INT_BLOCK + 2));
        /* 8x8 transpose of 4-byte groups: vector j = codes 4j..4j+3 of rows 0..7 */
        _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) {
            t[2 * k] = _mm256_unpacklo_epi32(c[2 * k], c[2 * k + 1]);
            t[2 * k + 1] = _mm256_unpackhi_epi32(c[2 * k], c[2 * k + 1]);
        }
        _Pragma("GCC unroll 2") for (int k = 0; k < 2; k++) {
            u[4 * k + 0] = _mm256_unpacklo_epi64(t[4 * k + 0], t[4 * k + 2]);
            u[4 * k + 1] = _mm256_unpackhi_epi64(t[4 * k + 0], t[4 * k + 2]);
            u[4 * k + 2] = _mm256_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]);
            u[4 * k + 3] = _mm256_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]);
        }
        _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
            _mm256_storeu_si256((__m256i *)(void *)(dst + 32 * j), _mm256_permute2x128_si256(u[j], u[4 + j], 0x20));
            _mm256_storeu_si256((__m256i *)(void *)(dst + 32 * (j + 4)),
                                _mm256_permute2x128_si256(u[j], u[4 + j], 0x31));
        }
        _mm256_storeu_si256((__m256i *)(void *)(dst + 256), gather_scales(w, idx, b, nk));
    }
}

/* One block of the panel against T tokens. */
#define IPANEL_STEP(T)                                                                                            \
    do {                                                                                                       \
        const uint8_t *pb = (const uint8_t *)panel + (size_t)b * IPANEL_BLOCK_BYTES;                          \
        __m256i isum[T];                                                                                       \
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) isum[c] = _mm256_setzero_si256();                  \
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {                                                  \
            const __m256i wj = _mm256_loadu_si256((const __m256i *)(const void *)(pb + 32 * j));              \
            const __m256i uj = _mm256_sign_epi8(wj, wj);                                                       \
            _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) {                                              \
                int32_t a4;                                                                                    \
                memcpy(&a4, ap[c] + (size_t)b * 32 + 4 * j, 4);                                                \
                const __m256i p = _mm256_maddubs_epi16(uj, _mm256_sign_epi8(_mm256_set1_epi32(a4), wj));       \
                isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(p, ones));                               \
                __asm__("" : "+x"(isum[c]));                                                                   \
            }                                                                                                  \
        }                                                                                                      \
        const __m256i ws32 = _mm256_loadu_si256((const __m256i *)(const void *)(pb + 256));                   \
        _Pragma("GCC unroll 4") for (int c = 0; c < T; c++) scale_add(isum[c], ws32, sp[c][b], &acc_e[c], &acc_o[c]); \
    } while (0)

/* The panel against nc tokens, 4 at a time, then one at a time. Each token's sums go either to out (int64, rr NULL)
 * or, rescaled in registers, to y + c * y_stride (base[c] the token's shift base). */
static inline __attribute__((always_inline)) void panel_run(int64_t n_blocks, const void *panel, const int8_t *a,
                                                            size_t a_stride, const int16_t *as, size_t as_stride,
                                                            int nc, int64_t *out, const rescale_rows *rr,
                                                            const int *base, int32_t *y, size_t y_stride) {
    const __m256i ones = _mm256_set1_epi16(1);
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
        for (int64_t b = 0; b < n_blocks; b++) IPANEL_STEP(4);
        _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) {
            if (rr)
                rescale_store(rr, base[c0 + c], acc_e[c], acc_o[c], y + (size_t)(c0 + c) * y_stride);
            else
                store_rows(out + (size_t)(c0 + c) * 8, acc_e[c], acc_o[c]);
        }
    }
    for (; c0 < nc; c0++) {
        const int8_t *ap[1] = {a + (size_t)c0 * a_stride};
        const int16_t *sp[1] = {as + (size_t)c0 * as_stride};
        __m256i acc_e[1] = {_mm256_setzero_si256()}, acc_o[1] = {_mm256_setzero_si256()};
        for (int64_t b = 0; b < n_blocks; b++) IPANEL_STEP(1);
        if (rr)
            rescale_store(rr, base[c0], acc_e[0], acc_o[0], y + (size_t)c0 * y_stride);
        else
            store_rows(out + (size_t)c0 * 8, acc_e[0], acc_o[0]);
    }
}

void octet__int_panel_q8_avx2(int64_t n_blocks, const void *panel, const int8_t *a, size_t a_stride,
                              const int16_t *as, size_t as_stride, int nc, int64_t *out) {
    panel_run(n_blocks, panel, a, a_stride, as, as_stride, nc, out, NULL, NULL, NULL, 0);
}

void octet__int_panel_q8_y_avx2(int64_t n_blocks, const void *panel, const int8_t *a, size_t a_stride,
                                const int16_t *as, size_t as_stride, int nc, const int8_t e[8], const int *base,
                                int32_t m, const int32_t *bias, int32_t *y, size_t y_stride) {
    const rescale_rows rr = rescale_setup(e, m, bias);
    panel_run(n_blocks, panel, a, a_stride, as, as_stride, nc, NULL, &rr, base, y, y_stride);
}

int octet__int_rescale8_avx2(const int64_t acc[8], const int8_t e[8], int base, int32_t m, const int32_t *bias,
                             int32_t out[8]) {
    const __m256i s32 = _mm256_add_epi32(_mm256_set1_epi32(base), row_e32(e));
    /* every s in [32, 62] */
    const __m256i bad = _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(32), s32),
                                        _mm256_cmpgt_epi32(s32, _mm256_set1_epi32(62)));
    if (!_mm256_testz_si256(bad, bad)) return 0;
    const __m256i vm = _mm256_set1_epi64x(m);
    __m256i b0 = _mm256_setzero_si256(), b1 = b0;
    if (bias) {
        const __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)bias);
        b0 = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(b));
        b1 = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(b, 1));
    }
    const __m256i v0 = rescale4(_mm256_loadu_si256((const __m256i *)(const void *)acc),
                                _mm256_cvtepi32_epi64(_mm256_castsi256_si128(s32)), vm, b0);
    const __m256i v1 = rescale4(_mm256_loadu_si256((const __m256i *)(const void *)(acc + 4)),
                                _mm256_cvtepi32_epi64(_mm256_extracti128_si256(s32, 1)), vm, b1);
    /* the low 32 bits of each 64-bit lane, in order */
    const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    const __m128i o0 = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v0, idx));
    const __m128i o1 = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v1, idx));
    _mm256_storeu_si256((__m256i *)(void *)out, _mm256_set_m128i(o1, o0));
    return 1;
}
