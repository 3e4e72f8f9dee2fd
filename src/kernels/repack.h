/*
 * repack.h - weight layouts rewritten at load time for the int8 dot-product instructions of a kernel set.
 *
 * The file's tensors stay mapped and remain the source of truth; a repacked copy of a matrix is built once from
 * them. The layouts below are defined here, with portable packers in ref/repack_ref.c (the specification the
 * kernels of every set read).
 *
 * Q8_0 x16 ("q8_0x16"): the rows of a Q8_0 matrix in groups of 16. Per 32-element block b of the group:
 *   bytes 0..31     the 16 rows' fp16 scales d (row r at bytes 2r, 2r + 1, little-endian)
 *   bytes 32..543   8 chunks of 64 bytes; chunk j holds codes 4j..4j+3 of row r at bytes 4r..4r+3 of the chunk,
 *                   each stored as the unsigned byte w + 128 (w XOR 0x80)
 * 544 bytes per block, exactly the 16 rows' 16 * 34 bytes. With one activation's codes 4j..4j+3 broadcast to
 * every 32-bit lane, one u8 x s8 four-way multiply-accumulate (x86 VPDPBUSD) adds sum_k (w_k + 128) a_k into
 * lane r for all 16 rows at once, and sum_k w_k a_k = that - 128 sum_k a_k (exact integers). A 256-bit kernel
 * reads the two 32-byte halves of a chunk as rows 0..7 and 8..15.
 *
 * Q4_0 x16 ("q4_0x16"): the rows of a Q4_0 matrix in groups of 16. Per 32-element block b of the group:
 *   bytes 0..31     the 16 rows' fp16 scales d (row r at bytes 2r, 2r + 1, little-endian)
 *   bytes 32..287   4 chunks of 64 bytes; chunk j holds bytes 4j..4j+3 of row r's 16 nibble bytes (qs) at bytes
 *                   4r..4r+3 of the chunk, unchanged: their low nibbles are codes 4j..4j+3 (elements 4j..4j+3),
 *                   their high nibbles codes 16+4j..16+4j+3
 * 288 bytes per block, exactly the 16 rows' 16 * 18 bytes. The nibbles q (0..15, the weight being q - 8) are used
 * as unsigned bytes: sum_k (q_k - 8) a_k = sum_k q_k a_k - 8 sum_k a_k.
 *
 * Q4_K x16 ("q4_Kx16"): the rows of a Q4_K matrix in groups of 16. Per 256-element super-block of the group:
 *   bytes 0..31       the 16 rows' fp16 d (row r at 2r), bytes 32..63 their fp16 dmin
 *   bytes 64..191     the 6-bit sub-block scales, unpacked to bytes: sc[j] of row r at 64 + 16j + r (j < 8)
 *   bytes 192..319    the 6-bit mins, unpacked to bytes in pairs: m[2k + e] of row r at 192 + 32k + 2r + e
 *                     (k < 4, e < 2): zero-extended to 16 bits, lane r holds (m[2k], m[2k+1]) for one
 *                     16-bit multiply-add with the activation's two sub-block sums
 *   bytes 320..2367   32 chunks of 64 bytes; chunk q holds bytes 4q..4q+3 of row r's 128 nibble bytes (qs) at
 *                     bytes 4r..4r+3: with q = 8p + k, their low nibbles are codes 4k..4k+3 of sub-block 2p, the
 *                     high nibbles codes 4k..4k+3 of sub-block 2p+1
 * 2368 bytes per super-block, 64 more than the 16 rows' 16 * 144 (the scales and mins are unpacked from 6 bits).
 *
 * Q4_1 x16 ("q4_1x16"): as Q4_0 x16 with the 16 rows' fp16 m after their d: per block, bytes 0..31 d, 32..63 m,
 * 64..319 the 4 nibble chunks (320 bytes, exactly 16 * 20). The nibbles are the codes (w = d q + m).
 *
 * Q5_0 x16 / Q5_1 x16: as Q4_0 x16 / Q4_1 x16 with, just before the chunks, 64 bytes H of the codes' 5th bits
 * (qh): byte 4r + k holds in bit t = 2j + h the 5th bit of element 16h + 4j + k of row r - the high bit of the
 * byte at position 4r + k of chunk j's low (h = 0) or high (h = 1) nibbles, so one shift and mask per operand
 * places it at bit 4. Q5_0: 352 bytes per block (d, H, chunks), Q5_1: 384 (d, m, H, chunks), exactly 16 * 22 and
 * 16 * 24. Codes 0..31; Q5_0's weight is q - 16.
 */
#ifndef OCTET_REPACK_H
#define OCTET_REPACK_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/gemm.h"

#define OCTET__Q8X16_ROWS 16
#define OCTET__Q8X16_BLOCK 544 /* bytes per 32-element block of a group */
#define OCTET__Q4X16_BLOCK 288

/* Bytes of one group of 16 rows of n elements (n a multiple of 32). */
static inline size_t octet__q8_0x16_bytes(int64_t n) { return (size_t)(n / 32) * OCTET__Q8X16_BLOCK; }
/* Pack 16 Q8_0 rows (row r at w + r * w_stride, n elements each) into one group at dst. */
void octet__pack_q8_0x16_ref(int64_t n, void *dst, const void *w, size_t w_stride);
/* Row r (< 16) of a group back as Q8_0 blocks (the inverse, for tests). */
void octet__unpack_q8_0x16_ref(int64_t n, void *row, const void *group, int r);
/* The same three for Q4_0 x16. */
static inline size_t octet__q4_0x16_bytes(int64_t n) { return (size_t)(n / 32) * OCTET__Q4X16_BLOCK; }
void octet__pack_q4_0x16_ref(int64_t n, void *dst, const void *w, size_t w_stride);
void octet__unpack_q4_0x16_ref(int64_t n, void *row, const void *group, int r);
#define OCTET__Q41X16_BLOCK 320
static inline size_t octet__q4_1x16_bytes(int64_t n) { return (size_t)(n / 32) * OCTET__Q41X16_BLOCK; }
void octet__pack_q4_1x16_ref(int64_t n, void *dst, const void *w, size_t w_stride);
#define OCTET__Q50X16_BLOCK 352
#define OCTET__Q51X16_BLOCK 384
static inline size_t octet__q5_0x16_bytes(int64_t n) { return (size_t)(n / 32) * OCTET__Q50X16_BLOCK; }
static inline size_t octet__q5_1x16_bytes(int64_t n) { return (size_t)(n / 32) * OCTET__Q51X16_BLOCK; }
void octet__pack_q5_0x16_ref(int64_t n, void *dst, const void *w, size_t w_stride);
void octet__pack_q5_1x16_ref(int64_t n, void *dst, const void *w, size_t w_stride);
#define OCTET__Q4KX16_BLOCK 2368
static inline size_t octet__q4_Kx16_bytes(int64_t n) { return (size_t)(n / 256) * OCTET__Q4KX16_BLOCK; }
void octet__pack_q4_Kx16_ref(int64_t n, void *dst, const void *w, size_t w_stride);

/* ---- kernels over the layouts (src/kernels/avx512/) ----------------------------------------------------------
 * One group of 16 rows against nc >= 1 activation rows (token c at a + c * a_stride, Q8_0 blocks):
 *   s[c * s_stride + r] = reference dot(row r, token c)   for r < 16, c < nc,
 * bit for bit. aux as in gemm.h (may be NULL). pf (may be NULL): the group the caller reads next (one group's
 * bytes), prefetched while this one is computed. Only for CPUs with AVX-512 F/BW/VL/DQ and VNNI. */
typedef void octet__gemm_x16_kernel(int64_t n, float *s, size_t s_stride, const void *group, const void *pf,
                                    const void *a, size_t a_stride, int nc, const octet__q8_aux *aux,
                                    size_t aux_stride);
octet__gemm_x16_kernel octet__gemm_q8_0x16_avx512;
octet__gemm_x16_kernel octet__gemm_q4_0x16_avx512;
/* Q4_1 x16 against Q8_1 activations, Q4_K x16 against Q8_K (aux unused by both) */
octet__gemm_x16_kernel octet__gemm_q4_1x16_avx512;
/* Q5_0 x16 against Q8_0 (aux as for Q4_0), Q5_1 x16 against Q8_1 (aux unused) */
octet__gemm_x16_kernel octet__gemm_q5_0x16_avx512;
octet__gemm_x16_kernel octet__gemm_q5_1x16_avx512;
octet__gemm_x16_kernel octet__gemm_q4_Kx16_avx512;
/* The packers' AVX-512 twins (the same bytes; the gathers read the 16 rows in place) */
void octet__pack_q8_0x16_avx512(int64_t n, void *dst, const void *w, size_t w_stride);
void octet__pack_q4_0x16_avx512(int64_t n, void *dst, const void *w, size_t w_stride);
void octet__pack_q4_Kx16_avx512(int64_t n, void *dst, const void *w, size_t w_stride);
void octet__pack_q4_1x16_avx512(int64_t n, void *dst, const void *w, size_t w_stride);
void octet__pack_q5_0x16_avx512(int64_t n, void *dst, const void *w, size_t w_stride);
void octet__pack_q5_1x16_avx512(int64_t n, void *dst, const void *w, size_t w_stride);

/* ---- the avx2 set's (src/kernels/avx2/repack_avx2.c): Q4_0 x16 through 256-bit maddubs, rows 0..7 and 8..15 of a
 * group in two passes; the same contract as above (aux may be NULL), for CPUs with AVX2, FMA and F16C */
octet__gemm_x16_kernel octet__gemm_q4_0x16_avx2;
void octet__pack_q4_0x16_avx2(int64_t n, void *dst, const void *w, size_t w_stride);
/* ==== Q5_K x16, Q6_K x16 (the 5- and 6-bit super-block types; packers in ref/kquant_repack_ref.c and
 * avx512/kquant_repack_avx512.c, kernels in avx512/kquant_repack_avx512.c) ==================================
 *
 * Q5_K x16 ("q5_Kx16"): the rows of a Q5_K matrix in groups of 16. Per 256-element super-block of the group:
 *   bytes 0..2367     the Q4_K x16 layout above, built from the Q5_K rows' d, dmin, scales and nibbles (qs):
 *                     chunk q = 8p + k of the nibbles holds the low 4 bits of codes 4k..4k+3 of sub-blocks 2p
 *                     (low nibbles) and 2p+1 (high nibbles)
 *   bytes 2368..2879  8 chunks H of 64 bytes; chunk k holds bytes 4k..4k+3 of row r's qh at bytes 4r..4r+3,
 *                     unchanged: bit j of byte 4r + e is the 5th bit of element 32j + 4k + e (sub-block j's
 *                     code 4k + e), so one shift by 4 - j and a mask place it at bit 4 of the operand
 * 2880 bytes per super-block, 64 more than the 16 rows' 16 * 176 (Q4_K's unpacked scales and mins).
 *
 * Q6_K x16 ("q6_Kx16"): the rows of a Q6_K matrix in groups of 16. Per 256-element super-block of the group:
 *   bytes 0..31       the 16 rows' fp16 d (row r at 2r)
 *   bytes 32..287     the int8 sub-block scales in pairs: scales[2k + e] of row r at 32 + 32k + 2r + e (k < 8,
 *                     e < 2): sign-extended to 16 bits, lane r holds (scales[2k], scales[2k+1])
 *   bytes 288..2335   32 chunks of 64 bytes; chunk q, byte 4r + e: the low 4 bits of row r's code of element
 *                     4q + e in the low nibble, of element 128 + 4q + e in the high nibble (sub-blocks q/4 and
 *                     8 + q/4)
 *   bytes 2336..3359  16 chunks H of 64 bytes; chunk j (sub-block j), byte 4r + e: bits 2k, 2k+1 hold the top 2
 *                     bits of row r's code of element 16j + 4k + e (k < 4)
 * 3360 bytes per super-block, exactly the 16 rows' 16 * 210. Codes 0..63, the weight being d * scales[j] * (q - 32).
 */
#define OCTET__Q5KX16_BLOCK 2880
#define OCTET__Q6KX16_BLOCK 3360
static inline size_t octet__q5_Kx16_bytes(int64_t n) { return (size_t)(n / 256) * OCTET__Q5KX16_BLOCK; }
static inline size_t octet__q6_Kx16_bytes(int64_t n) { return (size_t)(n / 256) * OCTET__Q6KX16_BLOCK; }
void octet__pack_q5_Kx16_ref(int64_t n, void *dst, const void *w, size_t w_stride);
void octet__pack_q6_Kx16_ref(int64_t n, void *dst, const void *w, size_t w_stride);
/* the kernels (the contract of octet__gemm_x16_kernel above; x Q8_K activations, aux unused) and the packers'
 * AVX-512 twins (the same bytes) */
octet__gemm_x16_kernel octet__gemm_q5_Kx16_avx512;
octet__gemm_x16_kernel octet__gemm_q6_Kx16_avx512;
void octet__pack_q5_Kx16_avx512(int64_t n, void *dst, const void *w, size_t w_stride);
void octet__pack_q6_Kx16_avx512(int64_t n, void *dst, const void *w, size_t w_stride);
/* ==== end of Q5_K x16, Q6_K x16 ============================================================================= */

#endif
