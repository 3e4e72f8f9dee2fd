/*
 * repack_avx512.c - AVX-512 VNNI kernels over the load-time weight layouts of ../repack.h, equal bit for bit to the
 * reference dots (the contract in ../gemm.h). The only files compiled with -mavx512f -mavx512bw -mavx512vl
 * -mavx512dq -mavx512vnni are in this folder; callers reach them only when the CPU has those extensions.
 *
 * Instruction used. VPDPBUSD zmm1, zmm2, zmm3/m32bcst (_mm512_dpbusd_epi32(src, a, b), AVX512_VNNI): for each of the
 * 16 dword lanes, src + sum_{k<4} ZeroExtend(a.byte[4i+k]) * SignExtend(b.byte[4i+k]), the sum formed without
 * saturation (Intel SDM, "VPDPBUSD - Multiply and Add Unsigned and Signed Bytes"). The unsigned operand is the
 * register one, so the weights (stored as w + 128 or as unsigned nibbles) are loaded into registers and the
 * activation's 4 bytes are broadcast to every lane (the compiler folds _mm512_set1_epi32 of a load into the
 * {1to16} memory form).
 *
 * Q8_0 x16 (one group of 16 rows, per 32-element block): 8 VPDPBUSD, chunk j (codes 4j..4j+3 of the 16 rows)
 * against the token's codes 4j..4j+3, leave sum_k (w_k + 128) a_k of row r in lane r. Subtracting 128 sum_k a_k
 * (= 16 * aux.sum8, aux.sum8 being 8 times the block's code sum, gemm.h) gives the exact isum_b of each row: no
 * lane overflows (|sum| <= 32 * 255 * 128 < 2^21). The 16 rows' float chains then take one vector step per block:
 *     acc = acc + (float)isum_b * (d_w * d_a)
 * exactly the reference's two roundings (no FMA: this file is compiled with -ffp-contract=off and uses separate
 * multiply and add intrinsics), in block order, each row in its own lane.
 *
 * Q4_0 x16: the same with the low and high nibbles of each of the 4 chunks as the 8 unsigned operands (codes
 * 0..15 against activation codes 4j.. and 16+4j..), isum = acc - 8 sum a = acc - aux.sum8. Q5_0 adds the 5th bits
 * (isum = acc - 2 aux.sum8), Q4_1 and Q5_1 (x Q8_1) have no offset and the reference's + m_w * s_a term; Q4_K
 * (x Q8_K) is further down (sub-block scales by VPMULLD, mins by VPMADDWD).
 *
 * Prompts: tiles of 8 tokens (8 int32 and 8 float accumulators next to the 8 weight operands, 24 of the 32
 * registers) measured 7-18% faster than tiles of 4 in one process, alternated (n = 2048 and 5632, 64-512 tokens).
 */
#include "kernels/gemm.h"
#include "kernels/repack.h"

#include <immintrin.h>
#include <string.h>

#include "kernels/avx2/util_avx2.h"
#include "kernels/kernels_impl.h"
#include "tensor/types.h"

/* ---- prefetch of the group the caller reads next ------------------------------------------------------------
 * The next group's bytes are requested in equal shares across this call's block steps (one pass over the group),
 * so a thread keeps enough lines in flight to stream from memory while it computes. */
#define pf_stream octet__pf_stream /* the avx2 set's (this set's parent's) helpers */
#define pf_init octet__pf_init
#define pf_step octet__pf_step

static inline __m512i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* 8 times the code sum of an activation block, and its scale (when the caller gives no aux) */
static inline int32_t block_sum8(const block_q8_0 *y) {
    int32_t sum = 0;
    for (int k = 0; k < QK8_0; k++) sum += y->qs[k];
    return 8 * sum;
}

static inline float block_d(const block_q8_0 *y) { return _cvtsh_ss(y->d); }

/* ---- Q8_0 x16 ------------------------------------------------------------------------------------------------ */
/* The packer (the same bytes as octet__pack_q8_0x16_ref): per block, chunk j is dword j of the 16 rows' codes,
 * gathered with row offsets r * w_stride (VPGATHERDD), XOR 0x80 (w + 128 as an unsigned byte); the scales are the
 * low halves of the dwords at the blocks' starts, narrowed by VPMOVDW. */
void octet__pack_q8_0x16_avx512(int64_t n, void *dst, const void *w, size_t w_stride) {
    if (w_stride > (size_t)INT32_MAX / 16) {
        octet__pack_q8_0x16_ref(n, dst, w, w_stride);
        return;
    }
    const __m512i off = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32((int32_t)w_stride));
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    uint8_t *o = dst;
    const uint8_t *x = w;
    for (int64_t b = 0; b < n / QK8_0; b++, o += OCTET__Q8X16_BLOCK, x += sizeof(block_q8_0)) {
        const __m512i d = _mm512_i32gather_epi32(off, (const void *)x, 1);
        _mm256_storeu_si256((__m256i *)(void *)o, _mm512_cvtepi32_epi16(d));
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {
            const __m512i c = _mm512_i32gather_epi32(off, (const void *)(x + 2 + 4 * j), 1);
            _mm512_storeu_si512((void *)(o + 32 + 64 * j), _mm512_xor_si512(c, flip));
        }
    }
}

/* T tokens (activation rows y[c]) against one group: a block's weights are loaded (and, for Q4_0, split into
 * nibbles) once and used for each token; each token has its own 16 float chains. Q4 selects the layout:
 *   0, Q8_0 x16: operand j (0..7) = chunk j, against activation codes 4j..4j+3; isum = acc - 16 * sum8;
 *   1, Q4_0 x16: operands 2j, 2j+1 = the low and high nibbles of chunk j (j = 0..3), against codes 4j..4j+3 and
 *                16+4j..16+4j+3; isum = acc - sum8 (8 times the code sum, the -8 offset);
 *   2, Q4_1 x16 (x Q8_1): the nibbles as for Q4_0, isum = acc (no offset), and the reference's block term
 *                (float)isum * (d_w * d_a) + m_w * s_a (s_a the activation block's fp16 d * sum);
 *   3, Q5_0 x16: as Q4_0 with bit t of the H bytes moved to bit 4 of operand t, isum = acc - 2 * sum8 (-16);
 *   4, Q5_1 x16 (x Q8_1): as Q4_1 with the 5th bits of Q5_0. */
static inline __attribute__((always_inline)) void x16_tile(int64_t nb, float *s, size_t s_stride, const uint8_t *g,
                                                             pf_stream *pfs, const uint8_t *a, size_t a_stride,
                                                             const int T, const octet__q8_aux *aux, size_t aux_stride,
                                                             const int Q4, const int AUX) {
    const size_t block = Q4 == 4   ? OCTET__Q51X16_BLOCK
                         : Q4 == 3 ? OCTET__Q50X16_BLOCK
                         : Q4 == 2 ? OCTET__Q41X16_BLOCK
                         : Q4      ? OCTET__Q4X16_BLOCK
                                   : OCTET__Q8X16_BLOCK;
    /* the first chunk; for Q5: the high-bit bytes H just before the chunks */
    const size_t base = Q4 == 4 ? 128 : Q4 == 3 ? 96 : Q4 == 2 ? 64 : 32;
    const int q81 = Q4 == 2 || Q4 == 4; /* x Q8_1, with the m * s term */
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512 acc[8];
    _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) acc[c] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = g + (size_t)i * block;
        if (pfs) pf_step(pfs);
        __m512i w[8];
        int ao[8]; /* activation code offset of operand k */
        if (Q4) {
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
                const __m512i q = _mm512_loadu_si512((const void *)(pb + base + 64 * j));
                w[2 * j] = _mm512_and_si512(q, m4);
                w[2 * j + 1] = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
                if (Q4 >= 3) { /* the 5th bits: bit t of H's bytes to bit 4 (t = operand; no bit crosses a byte) */
                    const __m512i h = _mm512_loadu_si512((const void *)(pb + base - 64));
                    const __m512i b16 = _mm512_set1_epi8(0x10);
                    const int t0 = 2 * j, t1 = 2 * j + 1;
                    const __m512i h0 = t0 <= 4 ? _mm512_slli_epi16(h, 4 - t0) : _mm512_srli_epi16(h, t0 - 4);
                    const __m512i h1 = t1 <= 4 ? _mm512_slli_epi16(h, 4 - t1) : _mm512_srli_epi16(h, t1 - 4);
                    w[2 * j] = _mm512_or_si512(w[2 * j], _mm512_and_si512(h0, b16));
                    w[2 * j + 1] = _mm512_or_si512(w[2 * j + 1], _mm512_and_si512(h1, b16));
                }
                ao[2 * j] = 4 * j;
                ao[2 * j + 1] = 16 + 4 * j;
            }
        } else {
            _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {
                w[j] = _mm512_loadu_si512((const void *)(pb + 32 + 64 * j));
                ao[j] = 4 * j;
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)pb));
        if (q81) {
            const __m512 mw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(pb + 32)));
            _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) {
                const block_q8_1 *y = (const block_q8_1 *)(const void *)(a + (size_t)c * a_stride) + i;
                __m512i p0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[0], bcast4(y->qs + ao[0]));
                __m512i p1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[1], bcast4(y->qs + ao[1]));
                _Pragma("GCC unroll 3") for (int k = 2; k < 8; k += 2) {
                    p0 = _mm512_dpbusd_epi32(p0, w[k], bcast4(y->qs + ao[k]));
                    p1 = _mm512_dpbusd_epi32(p1, w[k + 1], bcast4(y->qs + ao[k + 1]));
                }
                const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(_cvtsh_ss(y->d)));
                const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(p0, p1)), dd);
                acc[c] = _mm512_add_ps(acc[c], _mm512_add_ps(v, _mm512_mul_ps(mw, _mm512_set1_ps(_cvtsh_ss(y->s)))));
            }
            continue;
        }
        /* per token one chain of 8 VPDPBUSD (two of 4 for 1-2 tokens, whose few chains would wait on each other's
         * latency), issued operand by operand across the tokens (k outer, c inner) so that consecutive
         * instructions are independent and the chains overlap */
        __m512i p[8], p1[2];
        const int two = T <= 2;
        _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) {
            const block_q8_0 *y = (const block_q8_0 *)(const void *)(a + (size_t)c * a_stride) + i;
            p[c] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[0], bcast4(y->qs + ao[0]));
            if (two) p1[c] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[1], bcast4(y->qs + ao[1]));
        }
        _Pragma("GCC unroll 7") for (int k = two ? 2 : 1; k < 8; k++) {
            _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) {
                const block_q8_0 *y = (const block_q8_0 *)(const void *)(a + (size_t)c * a_stride) + i;
                if (two && (k & 1)) p1[c] = _mm512_dpbusd_epi32(p1[c], w[k], bcast4(y->qs + ao[k]));
                else p[c] = _mm512_dpbusd_epi32(p[c], w[k], bcast4(y->qs + ao[k]));
            }
        }
        if (two) {
            _Pragma("GCC unroll 2") for (int c = 0; c < T; c++) p[c] = _mm512_add_epi32(p[c], p1[c]);
        }
        _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) {
            const block_q8_0 *y = (const block_q8_0 *)(const void *)(a + (size_t)c * a_stride) + i;
            const octet__q8_aux *x = AUX ? aux + (size_t)c * aux_stride + (size_t)i : NULL;
            /* Q8_0: isum = sum (w + 128) a - 128 sum a, 128 sum a = 16 * sum8; Q4_0: sum q a - 8 sum a */
            const __m512i s8 = _mm512_set1_epi32(AUX ? x->sum8 : block_sum8(y));
            /* Q5_0: sum q a - 16 sum a = acc - 2 * sum8 */
            const __m512i isum = _mm512_sub_epi32(p[c], Q4 == 3 ? _mm512_slli_epi32(s8, 1)
                                                        : Q4      ? s8
                                                                  : _mm512_slli_epi32(s8, 4));
            const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(AUX ? x->d : block_d(y)));
            acc[c] = _mm512_add_ps(acc[c], _mm512_mul_ps(_mm512_cvtepi32_ps(isum), dd));
        }
    }
    _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) _mm512_storeu_ps(s + (size_t)c * s_stride, acc[c]);
}

/* AUX: the activation blocks' aux is given (the forward pass always gives it for Q8_0 activations) */
#define TILE_CASE(K, Q4)                                                                                          \
    case K:                                                                                                       \
        if (ax) x16_tile(nb, s + (size_t)c0 * s_stride, s_stride, g, pfp, ab, a_stride, K, ax, aux_stride, Q4, 1); \
        else x16_tile(nb, s + (size_t)c0 * s_stride, s_stride, g, pfp, ab, a_stride, K, ax, aux_stride, Q4, 0);   \
        break;

/* nc tokens in tiles of 8, then 4, then the rest */
#define X16_GEMM(NAME, BYTES, Q4)                                                                                 \
    void NAME(int64_t n, float *s, size_t s_stride, const void *group, const void *pf, const void *a,             \
              size_t a_stride, int nc, const octet__q8_aux *aux, size_t aux_stride) {                             \
        const int64_t nb = n / QK8_0;                                                                             \
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
            const octet__q8_aux *ax = aux ? aux + (size_t)c0 * aux_stride : NULL;                                 \
            switch (k) {                                                                                          \
                TILE_CASE(1, Q4)                                                                                  \
                TILE_CASE(2, Q4)                                                                                  \
                TILE_CASE(3, Q4)                                                                                  \
                TILE_CASE(4, Q4)                                                                                  \
                TILE_CASE(8, Q4)                                                                                  \
            }                                                                                                     \
            pfp = NULL; /* the next group is requested during the first pass only */                              \
            c0 += k;                                                                                              \
        }                                                                                                         \
    }
X16_GEMM(octet__gemm_q8_0x16_avx512, octet__q8_0x16_bytes, 0)
X16_GEMM(octet__gemm_q4_0x16_avx512, octet__q4_0x16_bytes, 1)
X16_GEMM(octet__gemm_q4_1x16_avx512, octet__q4_1x16_bytes, 2)
X16_GEMM(octet__gemm_q5_0x16_avx512, octet__q5_0x16_bytes, 3)
X16_GEMM(octet__gemm_q5_1x16_avx512, octet__q5_1x16_bytes, 4)

/* ---- Q4_0 x16 packer: chunk j is dword j of the 16 rows' nibble bytes (as octet__pack_q4_0x16_ref) ------------ */
void octet__pack_q4_0x16_avx512(int64_t n, void *dst, const void *w, size_t w_stride) {
    if (w_stride > (size_t)INT32_MAX / 16) {
        octet__pack_q4_0x16_ref(n, dst, w, w_stride);
        return;
    }
    const __m512i off = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32((int32_t)w_stride));
    uint8_t *o = dst;
    const uint8_t *x = w;
    for (int64_t b = 0; b < n / QK4_0; b++, o += OCTET__Q4X16_BLOCK, x += sizeof(block_q4_0)) {
        const __m512i d = _mm512_i32gather_epi32(off, (const void *)x, 1);
        _mm256_storeu_si256((__m256i *)(void *)o, _mm512_cvtepi32_epi16(d));
        _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++)
            _mm512_storeu_si512((void *)(o + 32 + 64 * j), _mm512_i32gather_epi32(off, (const void *)(x + 2 + 4 * j), 1));
    }
}

/* ---- Q4_1 x16 packer: d and m of the 16 rows, then the nibble chunks as for Q4_0 ---------------------------- */
void octet__pack_q4_1x16_avx512(int64_t n, void *dst, const void *w, size_t w_stride) {
    if (w_stride > (size_t)INT32_MAX / 16) {
        octet__pack_q4_1x16_ref(n, dst, w, w_stride);
        return;
    }
    const __m512i off = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32((int32_t)w_stride));
    uint8_t *o = dst;
    const uint8_t *x = w;
    for (int64_t b = 0; b < n / QK4_1; b++, o += OCTET__Q41X16_BLOCK, x += sizeof(block_q4_1)) {
        const __m512i dm = _mm512_i32gather_epi32(off, (const void *)x, 1);
        _mm256_storeu_si256((__m256i *)(void *)o, _mm512_cvtepi32_epi16(dm));
        _mm256_storeu_si256((__m256i *)(void *)(o + 32), _mm512_cvtepi32_epi16(_mm512_srli_epi32(dm, 16)));
        _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++)
            _mm512_storeu_si512((void *)(o + 64 + 64 * j), _mm512_i32gather_epi32(off, (const void *)(x + 4 + 4 * j), 1));
    }
}

/* ---- Q5_0 / Q5_1 x16 packers: scales (and m), the high-bit bytes H (row by row), the nibble chunks --------- */
static inline void pack_q5_h(uint8_t *h, uint32_t qh, int r) {
    for (int k = 0; k < 4; k++) {
        uint8_t v = 0;
        for (int t = 0; t < 8; t++) v |= (uint8_t)(((qh >> (16 * (t & 1) + 4 * (t >> 1) + k)) & 1u) << t);
        h[4 * r + k] = v;
    }
}

#define PACK_Q5(NAME, BLOCK, BYTES, M, REF)                                                                      \
    void NAME(int64_t n, void *dst, const void *w, size_t w_stride) {                                           \
        if (w_stride > (size_t)INT32_MAX / 16) {                                                                \
            REF(n, dst, w, w_stride);                                                                           \
            return;                                                                                             \
        }                                                                                                       \
        const __m512i off = _mm512_mullo_epi32(                                                                 \
            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32((int32_t)w_stride)); \
        const size_t hb = M ? 64 : 32, qso = M ? 8 : 6; /* H in the group; qs in the block */                  \
        uint8_t *o = dst;                                                                                       \
        const uint8_t *x = w;                                                                                   \
        for (int64_t b = 0; b < n / 32; b++, o += BYTES, x += sizeof(BLOCK)) {                                  \
            const __m512i dm = _mm512_i32gather_epi32(off, (const void *)x, 1);                                 \
            _mm256_storeu_si256((__m256i *)(void *)o, _mm512_cvtepi32_epi16(dm));                               \
            if (M) _mm256_storeu_si256((__m256i *)(void *)(o + 32), _mm512_cvtepi32_epi16(_mm512_srli_epi32(dm, 16))); \
            for (int r = 0; r < 16; r++) {                                                                      \
                const BLOCK *xr = (const BLOCK *)(const void *)(x + (size_t)r * w_stride);                      \
                pack_q5_h(o + hb, (uint32_t)xr->qh[0] | (uint32_t)xr->qh[1] << 8 | (uint32_t)xr->qh[2] << 16 |   \
                                      (uint32_t)xr->qh[3] << 24, r);                                             \
            }                                                                                                   \
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) _mm512_storeu_si512(                            \
                (void *)(o + hb + 64 + 64 * j), _mm512_i32gather_epi32(off, (const void *)(x + qso + 4 * j), 1)); \
        }                                                                                                       \
    }
PACK_Q5(octet__pack_q5_0x16_avx512, block_q5_0, OCTET__Q50X16_BLOCK, 0, octet__pack_q5_0x16_ref)
PACK_Q5(octet__pack_q5_1x16_avx512, block_q5_1, OCTET__Q51X16_BLOCK, 1, octet__pack_q5_1x16_ref)

/* ---- Q4_K x16 (x Q8_K) -----------------------------------------------------------------------------------------
 * The reference per super-block: sumi = sum_j sc_j dot_j (dot_j the integer dot of sub-block j's 32 codes),
 * summ = sum_j m_j (bsums[2j] + bsums[2j+1]), then sumf = sumf + (dw * (float)sumi - mw * (float)summ) with
 * dw = d * y.d and mw = dmin * y.d (kquant_ref.c). Here, per super-block and token, in the 16 row lanes:
 *   dot_j: 8 VPDPBUSD (the nibbles of chunks 8p..8p+7, low for j = 2p, high for j = 2p+1) - exact int32;
 *   sumi += dot_j * sc_j (VPMULLD; |sumi| <= 8 * 63 * 32 * 15 * 128 < 2^31);
 *   summ: 4 VPMADDWD of the (m[2k], m[2k+1]) 16-bit pairs with the activation's two sub-block sums of codes
 *         (each at most 32 * 128 in magnitude, so a 16-bit value), exact;
 * then the same float steps as the reference, lane by lane. */
static inline __attribute__((always_inline)) void q4kx16_tile(int64_t nb, float *s, size_t s_stride,
                                                                const uint8_t *g, pf_stream *pfs, const uint8_t *a,
                                                                size_t a_stride, const int T) {
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512 acc[8];
    _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) acc[c] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *pb = g + (size_t)i * OCTET__Q4KX16_BLOCK;
        if (pfs) pf_step(pfs);
        const block_q8_K *y[8];
        _Pragma("GCC unroll 8") for (int c = 0; c < T; c++)
            y[c] = (const block_q8_K *)(const void *)(a + (size_t)c * a_stride) + i;
        /* the mins' term of each token, formed first: t2 = mw * (float)summ */
        __m512 t2[8];
        {
            __m512i mp[4];
            _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)
                mp[k] = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(pb + 192 + 32 * k)));
            const __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(pb + 32)));
            _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) {
                /* the 8 sub-block sums (pairs of bsums) as 16-bit values, two per dword */
                const __m256i bs = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(const void *)y[c]->bsums),
                                                     _mm256_set1_epi16(1));
                const __m128i b16 = _mm256_cvtepi32_epi16(bs);
                __m512i summ = _mm512_madd_epi16(mp[0], _mm512_broadcastd_epi32(b16));
                summ = _mm512_add_epi32(summ, _mm512_madd_epi16(mp[1], _mm512_broadcastd_epi32(_mm_srli_si128(b16, 4))));
                summ = _mm512_add_epi32(summ, _mm512_madd_epi16(mp[2], _mm512_broadcastd_epi32(_mm_srli_si128(b16, 8))));
                summ = _mm512_add_epi32(summ, _mm512_madd_epi16(mp[3], _mm512_broadcastd_epi32(_mm_srli_si128(b16, 12))));
                const __m512 mw = _mm512_mul_ps(dmin, _mm512_set1_ps(y[c]->d));
                t2[c] = _mm512_mul_ps(mw, _mm512_cvtepi32_ps(summ));
            }
        }
        __m512i sumi[8];
        _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) sumi[c] = _mm512_setzero_si512();
        for (int j = 0; j < 8; j++) { /* sub-block j: nibbles (j odd: high) of chunks 8(j/2)..8(j/2)+7 */
            const uint8_t *ch = pb + 320 + 512 * (j / 2);
            __m512i w[8];
            _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {
                const __m512i q = _mm512_loadu_si512((const void *)(ch + 64 * k));
                w[k] = _mm512_and_si512(j & 1 ? _mm512_srli_epi16(q, 4) : q, m4);
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
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)pb));
        _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) {
            const __m512 dw = _mm512_mul_ps(d, _mm512_set1_ps(y[c]->d));
            const __m512 t1 = _mm512_mul_ps(dw, _mm512_cvtepi32_ps(sumi[c]));
            acc[c] = _mm512_add_ps(acc[c], _mm512_sub_ps(t1, t2[c]));
        }
    }
    _Pragma("GCC unroll 8") for (int c = 0; c < T; c++) _mm512_storeu_ps(s + (size_t)c * s_stride, acc[c]);
}

#define K_TILE_CASE(K) \
    case K: q4kx16_tile(nb, s + (size_t)c0 * s_stride, s_stride, g, pfp, ab, a_stride, K); break;

void octet__gemm_q4_Kx16_avx512(int64_t n, float *s, size_t s_stride, const void *group, const void *pf,
                                const void *a, size_t a_stride, int nc, const octet__q8_aux *aux, size_t aux_stride) {
    (void)aux, (void)aux_stride;
    const int64_t nb = n / QK_K;
    const uint8_t *g = group;
    pf_stream pfs;
    pf_stream *pfp = NULL;
    if (pf) {
        pf_init(&pfs, pf, octet__q4_Kx16_bytes(n), (size_t)nb);
        pfp = &pfs;
    }
    for (int c0 = 0; c0 < nc;) {
        const int k = nc - c0 >= 8 ? 8 : nc - c0 < 4 ? nc - c0 : 4;
        const uint8_t *ab = (const uint8_t *)a + (size_t)c0 * a_stride;
        switch (k) {
            K_TILE_CASE(1)
            K_TILE_CASE(2)
            K_TILE_CASE(3)
            K_TILE_CASE(4)
        default: q4kx16_tile(nb, s + (size_t)c0 * s_stride, s_stride, g, pfp, ab, a_stride, 8); break;
        }
        pfp = NULL;
        c0 += k;
    }
}

/* Q4_K x16 packer: the codes by gathers (chunk q = dword q of the 16 rows' qs), d and dmin from one gathered dword
 * per row, the 6-bit scales and mins unpacked row by row as the reference does */
void octet__pack_q4_Kx16_avx512(int64_t n, void *dst, const void *w, size_t w_stride) {
    if (w_stride > (size_t)INT32_MAX / 16) {
        octet__pack_q4_Kx16_ref(n, dst, w, w_stride);
        return;
    }
    const __m512i off = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32((int32_t)w_stride));
    uint8_t *o = dst;
    const uint8_t *x = w;
    for (int64_t b = 0; b < n / QK_K; b++, o += OCTET__Q4KX16_BLOCK, x += sizeof(block_q4_K)) {
        const __m512i dd = _mm512_i32gather_epi32(off, (const void *)x, 1);
        _mm256_storeu_si256((__m256i *)(void *)o, _mm512_cvtepi32_epi16(dd));
        _mm256_storeu_si256((__m256i *)(void *)(o + 32), _mm512_cvtepi32_epi16(_mm512_srli_epi32(dd, 16)));
        for (int r = 0; r < 16; r++) {
            const block_q4_K *xr = (const block_q4_K *)(const void *)(x + (size_t)r * w_stride);
            uint8_t sc[8], m[8];
            octet__q4_K_scales(xr->scales, sc, m);
            for (int j = 0; j < 8; j++) {
                o[64 + 16 * j + r] = sc[j];
                o[192 + 32 * (j / 2) + 2 * r + j % 2] = m[j];
            }
        }
        _Pragma("GCC unroll 8") for (int q = 0; q < 32; q++)
            _mm512_storeu_si512((void *)(o + 320 + 64 * q),
                                _mm512_i32gather_epi32(off, (const void *)(x + 16 + 4 * q), 1));
    }
}
