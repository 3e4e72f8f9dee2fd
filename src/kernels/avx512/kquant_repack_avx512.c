/*
 * kquant_repack_avx512.c - AVX-512 VNNI kernels over the Q5_K x16 and Q6_K x16 load-time layouts (../repack.h),
 * and their packers, equal bit for bit to the reference dots of ref/kquant_ref.c (the contract in ../gemm.h). Compiled
 * with this folder's flags (-mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni, -ffp-contract=off); reached
 * only through the avx512 kernel set, on CPUs with those extensions.
 *
 * Instructions (Intel SDM):
 *   VPDPBUSD (_mm512_dpbusd_epi32(src, a, b), AVX512_VNNI): per dword lane i, src + sum_{k<4} ZeroExtend(a.byte[4i+k])
 *     * SignExtend(b.byte[4i+k]), without saturation. a = the weights' unsigned codes (16 rows x 4 codes), b = the
 *     activation's 4 codes broadcast to every lane.
 *   VPDPWSSD (_mm512_dpwssd_epi32(src, a, b), AVX512_VNNI): per dword lane i, src + a.word[2i] * b.word[2i] +
 *     a.word[2i+1] * b.word[2i+1] (signed 16-bit products, no saturation).
 *   VPTERNLOGD (_mm512_ternarylogic_epi32(a, b, c, imm)): bit i of the result is bit (a_i << 2 | b_i << 1 | c_i) of
 *     imm; TL_AC_OR_B = 0xEC is (a & c) | b, TL_SEL = 0xE4 is (a & c) | (b & ~c) (c selects a).
 *   VPMULLD: the low 32 bits of the signed product, per lane.
 * Integer sums wrap modulo 2^32 in these instructions; every sum below is bounded well inside int32 at the end and
 * so is exact whatever the order.
 *
 * Q5_K x16 (x Q8_K). The reference per super-block (kquant_ref.c, octet__dot_q5_K_q8_K_ref):
 *   sumi = sum_j sc_j dot_j, summ = sum_j m_j (bsums[2j] + bsums[2j+1]),
 *   sumf = sumf + (dw * (float)sumi - mw * (float)summ), dw = d * y.d, mw = dmin * y.d.
 * As the Q4_K x16 kernel (repack_avx512.c) with the fifth bit: operand k of sub-block j is the nibble (low for even
 * j) of chunk 8(j/2) + k with bit j of H chunk k rotated to bit 4 (VPROLVD by 4 - j, mod 32: bit 8b + j of a dword
 * goes to bit 8b + 4, nothing crosses into the masked bit) - codes 0..31, so dot_j = 8 VPDPBUSD, exact
 * (|dot_j| <= 32 * 31 * 128); sumi += dot_j * sc_j (VPMULLD; |sumi| <= 8 * 63 * 126976 < 2^26); summ by 4 VPMADDWD
 * of the (m[2k], m[2k+1]) pairs with the activation's two sub-block sums (|.| <= 32 * 128, 16-bit). Then the same
 * float steps as the reference, lane by lane, in super-block order, no FMA.
 *
 * Q6_K x16 (x Q8_K). The reference: sumi = sum_j scales_j sum_l (q - 32) a (16 sub-blocks of 16),
 *   sumf = sumf + (d * y.d) * (float)sumi.
 * Here the codes q (0..63, unsigned) go into VPDPBUSD as they are: P_j = sum_l q a = 4 VPDPBUSD per sub-block, and
 * the offset is the activation's bsums (sums of 16 codes, written with qs by every Q8_K quantizer, as the AVX2 dot
 * of avx2/kquant_avx2.c uses them): sumi = sum_j scales_j P_j - 32 sum_j scales_j bsums_j. The second sum is 8
 * VPDPWSSD of the (-32 scales[2k], -32 scales[2k+1]) 16-bit pairs (|.| <= 4096) with the broadcast pair
 * (bsums[2k], bsums[2k+1]); the first adds VPMULLD(P_j, scales_j). |P_j| <= 16 * 63 * 128, |sumi| < 2^28.
 * Operand k of sub-block j: the low (j < 8) or high (j >= 8) nibble of chunk 4(j % 8) + k, with bits 2k, 2k+1 of
 * H chunk j shifted to bits 4, 5.
 *
 * Tokens: tiles of 8 (then 4, then the rest), as the other x16 kernels: a super-block's weight operands are built
 * once per tile and used for each of its tokens; each token has its own 16 float chains (one per row lane).
 */
#include "kernels/gemm.h"
#include "kernels/repack.h"

#include <immintrin.h>
#include <string.h>

#include "kernels/avx2/util_avx2.h"
#include "kernels/kernels_impl.h"
#include "tensor/types.h"

#define pf_stream octet__pf_stream /* the avx2 set's (this set's parent's) prefetch helpers */
#define pf_init octet__pf_init
#define pf_step octet__pf_step

#define TL_AC_OR_B 0xEC /* (a & c) | b */
#define TL_SEL 0xE4     /* (a & c) | (b & ~c) */

static inline __m512i bcast4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

static inline __m512i load64(const uint8_t *p) { return _mm512_loadu_si512((const void *)p); }

/* The 8 sub-block sums of a Q8_K block (pairs of bsums), as 16-bit values, two per dword (as in repack_avx512.c's
 * Q4_K kernel): dword k = (bsums[4k] + bsums[4k+1], bsums[4k+2] + bsums[4k+3]) */
static inline __m128i subblock_sums(const block_q8_K *y) {
    const __m256i bs = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(const void *)y->bsums),
                                         _mm256_set1_epi16(1));
    return _mm256_cvtepi32_epi16(bs);
}

/* ---- Q5_K x16 -------------------------------------------------------------------------------------------------- */
static inline __attribute__((always_inline)) void q5kx16_tile(int64_t nb, float *s, size_t s_stride,
                                                                const uint8_t *g, pf_stream *pfs, const uint8_t *a,
                                                                size_t a_stride, const int T) {
    const __m512i m4 = _mm512_set1_epi8(0x0f), b4 = _mm512_set1_epi8(0x10);
    __m512 acc[8];
    _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) acc[c] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = g + (size_t)i * OCTET__Q5KX16_BLOCK;
        if (pfs) pf_step(pfs);
        const block_q8_K *y[8];
        _Pragma("GCC unroll 8") for (int c = 0; c < T; c++)
            y[c] = (const block_q8_K *)(const void *)(a + (size_t)c * a_stride) + i;
        __m512i sumi[8];
        _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) sumi[c] = _mm512_setzero_si512();
        for (int j = 0; j < 8; j++) { /* sub-block j: nibbles (j odd: high) of chunks 8(j/2)..8(j/2)+7, bit j of H */
            const uint8_t *ch = pb + 320 + 512 * (j / 2), *hp = pb + 2368;
            const __m512i rot = _mm512_set1_epi32((4 - j) & 31);
            __m512i w[8];
            _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {
                const __m512i q = load64(ch + 64 * k);
                const __m512i h = _mm512_and_si512(_mm512_rolv_epi32(load64(hp + 64 * k), rot), b4);
                w[k] = _mm512_ternarylogic_epi32(j & 1 ? _mm512_srli_epi16(q, 4) : q, h, m4, TL_AC_OR_B);
            }
            const __m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(pb + 64 + 16 * j)));
            _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) {
                const int8_t *q8 = y[c]->qs + 32 * j;
                __m512i p0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[0], bcast4(q8));
                __m512i p1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[1], bcast4(q8 + 4));
                _Pragma("GCC unroll 3") for (int k = 2; k < 8; k += 2) {
                    p0 = _mm512_dpbusd_epi32(p0, w[k], bcast4(q8 + 4 * k));
                    p1 = _mm512_dpbusd_epi32(p1, w[k + 1], bcast4(q8 + 4 * k + 4));
                }
                sumi[c] = _mm512_add_epi32(sumi[c], _mm512_mullo_epi32(_mm512_add_epi32(p0, p1), sc));
            }
        }
        /* per token: the mins' term t2 = mw * (float)summ (formed after the sub-blocks: fewer live registers), then
         * the reference's step acc + (dw * (float)sumi - t2) */
        __m512i mp[4];
        _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)
            mp[k] = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(pb + 192 + 32 * k)));
        const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(pb + 32)));
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)pb));
        _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) {
            const __m128i b16 = subblock_sums(y[c]);
            __m512i summ = _mm512_madd_epi16(mp[0], _mm512_broadcastd_epi32(b16));
            summ = _mm512_add_epi32(summ, _mm512_madd_epi16(mp[1], _mm512_broadcastd_epi32(_mm_srli_si128(b16, 4))));
            summ = _mm512_add_epi32(summ, _mm512_madd_epi16(mp[2], _mm512_broadcastd_epi32(_mm_srli_si128(b16, 8))));
            summ = _mm512_add_epi32(summ, _mm512_madd_epi16(mp[3], _mm512_broadcastd_epi32(_mm_srli_si128(b16, 12))));
            const __m512 mw = _mm512_mul_ps(dmin, _mm512_set1_ps(y[c]->d));
            const __m512 t2 = _mm512_mul_ps(mw, _mm512_cvtepi32_ps(summ));
            const __m512 dw = _mm512_mul_ps(d, _mm512_set1_ps(y[c]->d));
            const __m512 t1 = _mm512_mul_ps(dw, _mm512_cvtepi32_ps(sumi[c]));
            acc[c] = _mm512_add_ps(acc[c], _mm512_sub_ps(t1, t2));
        }
    }
    _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) _mm512_storeu_ps(s + (size_t)c * s_stride, acc[c]);
}

/* ---- Q6_K x16 -------------------------------------------------------------------------------------------------- */
/* bits 2k, 2k+1 of each byte of h to bits 4, 5 (16-bit shifts: the bits a shift moves across a byte boundary land
 * outside bits 4, 5 of the receiving byte and are masked off by the caller) */
static inline __m512i hi2_to_4(__m512i h, const int k) {
    return k == 0 ? _mm512_slli_epi16(h, 4) : k == 1 ? _mm512_slli_epi16(h, 2) : k == 2 ? h : _mm512_srli_epi16(h, 2);
}

static inline __attribute__((always_inline)) void q6kx16_tile(int64_t nb, float *s, size_t s_stride,
                                                                const uint8_t *g, pf_stream *pfs, const uint8_t *a,
                                                                size_t a_stride, const int T) {
    const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30), n32 = _mm512_set1_epi16(-32);
    __m512 acc[8];
    _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) acc[c] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = g + (size_t)i * OCTET__Q6KX16_BLOCK;
        if (pfs) pf_step(pfs);
        const block_q8_K *y[8];
        _Pragma("GCC unroll 8") for (int c = 0; c < T; c++)
            y[c] = (const block_q8_K *)(const void *)(a + (size_t)c * a_stride) + i;
        /* the -32 offset first: sumi = sum_k (-32 sc[2k]) bsums[2k] + (-32 sc[2k+1]) bsums[2k+1] */
        __m512i sumi[8];
        _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) sumi[c] = _mm512_setzero_si512();
        _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {
            const __m512i ns = _mm512_mullo_epi16(
                _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(pb + 32 + 32 * k))), n32);
            _Pragma("GCC unroll 8") for (int c = 0; c < T; c++)
                sumi[c] = _mm512_dpwssd_epi32(sumi[c], ns, bcast4(y[c]->bsums + 2 * k));
        }
        for (int jj = 0; jj < 8; jj++) { /* sub-blocks jj (low nibbles) and jj + 8 (high nibbles) */
            const uint8_t *ch = pb + 288 + 256 * jj;
            const __m512i hl = load64(pb + 2336 + 64 * jj), hh = load64(pb + 2336 + 64 * (jj + 8));
            __m512i w[8];
            _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) {
                const __m512i q = load64(ch + 64 * k);
                w[k] = _mm512_ternarylogic_epi32(q, _mm512_and_si512(hi2_to_4(hl, k), m30), m4, TL_AC_OR_B);
                w[4 + k] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(q, 4), _mm512_and_si512(hi2_to_4(hh, k), m30),
                                                     m4, TL_AC_OR_B);
            }
            /* the scales of sub-blocks jj and jj + 8, sign-extended from their 16-bit pair lanes */
            const __m512i pl = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(pb + 32 + 32 * (jj / 2))));
            const __m512i ph = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(pb + 32 + 32 * (4 + jj / 2))));
            const __m512i sl = jj & 1 ? _mm512_srai_epi32(pl, 16) : _mm512_srai_epi32(_mm512_slli_epi32(pl, 16), 16);
            const __m512i sh = jj & 1 ? _mm512_srai_epi32(ph, 16) : _mm512_srai_epi32(_mm512_slli_epi32(ph, 16), 16);
            _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) {
                const int8_t *q8 = y[c]->qs + 16 * jj;
                __m512i p0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[0], bcast4(q8));
                __m512i p1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[4], bcast4(q8 + 128));
                _Pragma("GCC unroll 3") for (int k = 1; k < 4; k++) {
                    p0 = _mm512_dpbusd_epi32(p0, w[k], bcast4(q8 + 4 * k));
                    p1 = _mm512_dpbusd_epi32(p1, w[4 + k], bcast4(q8 + 128 + 4 * k));
                }
                sumi[c] = _mm512_add_epi32(sumi[c],
                                           _mm512_add_epi32(_mm512_mullo_epi32(p0, sl), _mm512_mullo_epi32(p1, sh)));
            }
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)pb));
        _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) {
            const __m512 dd = _mm512_mul_ps(d, _mm512_set1_ps(y[c]->d));
            acc[c] = _mm512_add_ps(acc[c], _mm512_mul_ps(dd, _mm512_cvtepi32_ps(sumi[c])));
        }
    }
    _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) _mm512_storeu_ps(s + (size_t)c * s_stride, acc[c]);
}

/* nc tokens in tiles of 8, then 4, then the rest; the next group is prefetched during the first tile only */
#define KX16_CASE(TILE, K) \
    case K: TILE(nb, s + (size_t)c0 * s_stride, s_stride, g, pfp, ab, a_stride, K); break;
#define KX16_GEMM(NAME, TILE, BYTES)                                                                              \
    void NAME(int64_t n, float *s, size_t s_stride, const void *group, const void *pf, const void *a,             \
              size_t a_stride, int nc, const octet__q8_aux *aux, size_t aux_stride) {                             \
        (void)aux, (void)aux_stride;                                                                              \
        const int64_t nb = n / QK_K;                                                                              \
        const uint8_t *g = group;                                                                                 \
        pf_stream pfs;                                                                                            \
        pf_stream *pfp = NULL;                                                                                    \
        if (pf) {                                                                                                 \
            pf_init(&pfs, pf, BYTES(n), (size_t)nb);                                                              \
            pfp = &pfs;                                                                                           \
        }                                                                                                         \
        for (int c0 = 0; c0 < nc;) {                                                                              \
            const int k = nc - c0 >= 8 ? 8 : nc - c0 < 4 ? nc - c0 : 4;                                           \
            const uint8_t *ab = (const uint8_t *)a + (size_t)c0 * a_stride;                                       \
            switch (k) {                                                                                          \
                KX16_CASE(TILE, 1)                                                                                \
                KX16_CASE(TILE, 2)                                                                                \
                KX16_CASE(TILE, 3)                                                                                \
                KX16_CASE(TILE, 4)                                                                                \
            default: TILE(nb, s + (size_t)c0 * s_stride, s_stride, g, pfp, ab, a_stride, 8); break;               \
            }                                                                                                     \
            pfp = NULL;                                                                                           \
            c0 += k;                                                                                              \
        }                                                                                                         \
    }
KX16_GEMM(octet__gemm_q5_Kx16_avx512, q5kx16_tile, octet__q5_Kx16_bytes)
KX16_GEMM(octet__gemm_q6_Kx16_avx512, q6kx16_tile, octet__q6_Kx16_bytes)

/* ---- packers: the bytes of the ref packers (ref/kquant_repack_ref.c), the 16 rows read by gathers -------------
 * VPGATHERDD with offsets r * w_stride (scale 1) loads dword t of row r's block into lane r; every gathered dword
 * lies inside its block (Q6_K's fp16 d, the block's last 2 bytes, is read as the high half of bytes 206..209). */
static inline __m512i row_offsets(size_t w_stride) {
    return _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                              _mm512_set1_epi32((int32_t)w_stride));
}

static inline __m512i gather(__m512i off, const uint8_t *p) { return _mm512_i32gather_epi32(off, (const void *)p, 1); }

void octet__pack_q5_Kx16_avx512(int64_t n, void *dst, const void *w, size_t w_stride) {
    if (w_stride > (size_t)INT32_MAX / 16) {
        octet__pack_q5_Kx16_ref(n, dst, w, w_stride);
        return;
    }
    const __m512i off = row_offsets(w_stride);
    uint8_t *o = dst;
    const uint8_t *x = w;
    for (int64_t b = 0; b < n / QK_K; b++, o += OCTET__Q5KX16_BLOCK, x += sizeof(block_q5_K)) {
        const __m512i dd = gather(off, x);
        _mm256_storeu_si256((__m256i *)(void *)o, _mm512_cvtepi32_epi16(dd));
        _mm256_storeu_si256((__m256i *)(void *)(o + 32), _mm512_cvtepi32_epi16(_mm512_srli_epi32(dd, 16)));
        for (int r = 0; r < 16; r++) {
            const block_q5_K *xr = (const block_q5_K *)(const void *)(x + (size_t)r * w_stride);
            uint8_t sc[8], m[8];
            octet__q4_K_scales(xr->scales, sc, m);
            for (int j = 0; j < 8; j++) {
                o[64 + 16 * j + r] = sc[j];
                o[192 + 32 * (j / 2) + 2 * r + j % 2] = m[j];
            }
        }
        _Pragma("GCC unroll 8") for (int q = 0; q < 32; q++)
            _mm512_storeu_si512((void *)(o + 320 + 64 * q), gather(off, x + offsetof(block_q5_K, qs) + 4 * q));
        _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++)
            _mm512_storeu_si512((void *)(o + 2368 + 64 * k), gather(off, x + offsetof(block_q5_K, qh) + 4 * k));
    }
}

void octet__pack_q6_Kx16_avx512(int64_t n, void *dst, const void *w, size_t w_stride) {
    if (w_stride > (size_t)INT32_MAX / 16) {
        octet__pack_q6_Kx16_ref(n, dst, w, w_stride);
        return;
    }
    const __m512i off = row_offsets(w_stride);
    const __m512i m4 = _mm512_set1_epi8(0x0f), m3 = _mm512_set1_epi8(0x03);
    uint8_t *o = dst;
    const uint8_t *x = w;
    for (int64_t b = 0; b < n / QK_K; b++, o += OCTET__Q6KX16_BLOCK, x += sizeof(block_q6_K)) {
        const uint8_t *ql = x + offsetof(block_q6_K, ql), *qh = x + offsetof(block_q6_K, qh);
        const uint8_t *sc = x + offsetof(block_q6_K, scales);
        /* d: the high half of the dword at bytes 206..209 (scales[14], scales[15], d) */
        _mm256_storeu_si256((__m256i *)(void *)o,
                            _mm512_cvtepi32_epi16(_mm512_srli_epi32(gather(off, x + offsetof(block_q6_K, d) - 2), 16)));
        /* scales: dword t of the 16 rows = (scales[4t..4t+3]); its two halves are the pairs 2t and 2t + 1 */
        _Pragma("GCC unroll 4") for (int t = 0; t < 4; t++) {
            const __m512i v = gather(off, sc + 4 * t);
            _mm256_storeu_si256((__m256i *)(void *)(o + 32 + 64 * t), _mm512_cvtepi32_epi16(v));
            _mm256_storeu_si256((__m256i *)(void *)(o + 64 + 64 * t), _mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16)));
        }
        /* nibbles: for q < 16, A = ql[4q..4q+3] holds the low 4 bits of elements 4q + e (low nibbles) and 64 + 4q + e
         * (high), B = ql[64 + 4q..] those of 128 + 4q + e and 192 + 4q + e: chunk q = (A low, B low), chunk q + 16 =
         * (A high, B high) */
        _Pragma("GCC unroll 4") for (int q = 0; q < 16; q++) {
            const __m512i A = gather(off, ql + 4 * q), B = gather(off, ql + 64 + 4 * q);
            _mm512_storeu_si512((void *)(o + 288 + 64 * q), _mm512_ternarylogic_epi32(A, _mm512_slli_epi16(B, 4), m4, TL_SEL));
            _mm512_storeu_si512((void *)(o + 288 + 64 * (q + 16)),
                                _mm512_ternarylogic_epi32(_mm512_srli_epi16(A, 4), B, m4, TL_SEL));
        }
        /* top bits: element 16j + 4k + e (half h = j / 8, g = (j % 8) / 2) has them at bits 2g, 2g+1 of
         * qh[32h + 16(j % 2) + 4k + e]; G[k] = those dwords of the 16 rows serve the 4 chunks j of one (h, j % 2) */
        for (int h = 0; h < 2; h++)
            for (int half = 0; half < 2; half++) {
                __m512i G[4];
                _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) G[k] = gather(off, qh + 32 * h + 16 * half + 4 * k);
                _Pragma("GCC unroll 4") for (int gg = 0; gg < 4; gg++) {
                    const __m128i sh = _mm_cvtsi32_si128(2 * gg);
                    __m512i v = _mm512_setzero_si512();
                    _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)
                        v = _mm512_or_si512(v, _mm512_slli_epi32(_mm512_and_si512(_mm512_srl_epi32(G[k], sh), m3), 2 * k));
                    const int j = 8 * h + 2 * gg + half;
                    _mm512_storeu_si512((void *)(o + 2336 + 64 * j), v);
                }
            }
    }
}
