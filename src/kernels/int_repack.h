/*
 * int_repack.h - integer-mode kernels on the load-time Q8_0 x16 layout (kernels/repack.h): 16 weight rows per group,
 * for CPUs with AVX-512 VNNI (avx512/int_repack_avx512.c). Every result is the exact integer of the reference block
 * dot octet__int_dot_q8_ref (kernels/int_kernels.h) of its row and token, or its rescale, so these are bit-identical
 * to the portable path (tests/kernels/test_int_repack.c checks with ==).
 *
 * The weight codes of a group are stored as w + 128 (unsigned), so VPDPBUSD (u8 x s8, four products summed into a
 * 32-bit lane) gives sum_k (w_k + 128) a_k = isum + 128 S with S = sum_k a_k the block's activation code sum; the
 * kernels take -128 S per block precomputed with the block's scale (octet__int_block_aux_avx512: one pass over a
 * token's codes, instead of once per group of 16 rows) and start each block's lanes at -128 S, so the lanes end at
 * isum exactly.
 */
#ifndef OCTET_INT_REPACK_H
#define OCTET_INT_REPACK_H

#include <stddef.h>
#include <stdint.h>

/* (The packer is repack.h's octet__pack_q8_0x16_avx512; the avx512 kernel set, kset.h, carries all of these.) */

/* A token's block data for the kernels below, two int32 per block b < n_blocks: aux[2 b] = as[b] as an unsigned
 * 16-bit value (the multiplier of VPMADDWD), aux[2 b + 1] = -128 sum_{j<32} a[32 b + j]. */
void octet__int_block_aux_avx512(const int8_t *a, const int16_t *as, int64_t n_blocks, int32_t *aux);

/* One group of 16 rows (q8_0x16 layout, n_blocks blocks of OCTET__Q8X16_BLOCK bytes at group; row r's exponent
 * e[r]) against nc tokens: token c's codes at a + c * a_stride, its block data (octet__int_block_aux_avx512 of its
 * codes and block scales as) at aux + c * aux_stride. Activation codes in [-127, 127], the contract of
 * octet__int_dot_q8_ref for the rest.
 *   out[c * 16 + r] = octet__int_dot_q8_ref(row r, e[r], token c's codes, as)                   (int64) */
void octet__int_gemm16_q8x16_avx512(int64_t n_blocks, const void *group, const int8_t e[16], const int8_t *a,
                                    size_t a_stride, const int32_t *aux, size_t aux_stride, int nc, int64_t *out);
/* The same with the output rescale of octet__int_panel_q8_y_avx2 (int_kernels.h) in registers:
 *   y[c * y_stride + r] = sat32(mulshift(out[c * 16 + r], m, base[c] + e[r]) + bias[r])  (bias may be NULL)
 * for callers that checked every base[c] + e[r] is in [32, 62] (0 <= m < 2^31). */
void octet__int_gemm16_q8x16_y_avx512(int64_t n_blocks, const void *group, const int8_t e[16], const int8_t *a,
                                      size_t a_stride, const int32_t *aux, size_t aux_stride, int nc,
                                      const int *base, int32_t m, const int32_t *bias, int32_t *y, size_t y_stride);

/* ---- attention (avx512/int_attn_avx512.c) ---------------------------------------------------------------- */
/* octet__int_scores (int_kernels.h: the contract, octet__int_scores_ref the reference) sixteen keys at a time with
 * AVX-512 BW + VNNI, for hd = 2 half, half a multiple of 32, hd <= 256; other shapes through the AVX2 kernel. */
void octet__int_scores_avx512(const int16_t *q, const int8_t *k, size_t kstride, const int16_t *const *cs, int n,
                              int half, int hd, int64_t *out);

#endif
