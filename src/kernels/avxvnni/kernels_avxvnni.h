/*
 * kernels_avxvnni.h - the kernels of the avxvnni set (AVX2 + AVX-VNNI: VEX-encoded VPDPBUSD on 256-bit registers),
 * each the twin of the avx2 kernel of the same name with _avxvnni for _avx2 (contracts in ../gemm.h,
 * ../kernels_impl.h and ../int_kernels.h), equal bit for bit to the reference. Only this folder is compiled with
 * -mavxvnni; kset_avxvnni.c puts these in the set's table, which is built only on CPUs with AVX-VNNI.
 *
 * Instruction. VPDPBUSD ymm1, ymm2, ymm3/m256 (VEX.256, CPUID.(EAX=07H,ECX=01H):EAX.AVX-VNNI[bit 4];
 * _mm256_dpbusd_avx_epi32(src, a, b)): for each of the 8 dword lanes i,
 *     src.dword[i] + sum_{k<4} ZeroExtend(a.byte[4i+k]) * SignExtend(b.byte[4i+k])
 * with the sum formed without saturation (wrapping only past 32 bits) (Intel SDM vol. 2C, "VPDPBUSD - Multiply and
 * Add Unsigned and Signed Bytes"). It does in one instruction what AVX2 does with VPMADDUBSW + VPMADDWD + VPADDD,
 * and it has no int16 intermediate that could saturate.
 */
#ifndef OCTET_KERNELS_AVXVNNI_H
#define OCTET_KERNELS_AVXVNNI_H

#include "kernels/gemm.h"
#include "kernels/int_kernels.h"
#include "kernels/kernels_impl.h"

/* single-row dots (the type table's vec_dot) */
void octet__dot_q8_0_q8_0_avxvnni(int64_t n, float *s, const void *w, const void *a);
void octet__dot_q4_0_q8_0_avxvnni(int64_t n, float *s, const void *w, const void *a);
void octet__dot_q5_0_q8_0_avxvnni(int64_t n, float *s, const void *w, const void *a);
void octet__dot_q4_1_q8_1_avxvnni(int64_t n, float *s, const void *w, const void *a);
void octet__dot_q5_1_q8_1_avxvnni(int64_t n, float *s, const void *w, const void *a);

/* 8-row GEMV */
octet__gemv8_kernel octet__gemv8_q8_0_q8_0_avxvnni;
octet__gemv8_kernel octet__gemv8_q4_0_q8_0_avxvnni;
octet__gemv8_kernel octet__gemv8_q5_0_q8_0_avxvnni;
octet__gemv8_kernel octet__gemv8_q4_1_q8_1_avxvnni;
octet__gemv8_kernel octet__gemv8_q5_1_q8_1_avxvnni;

/* Row panels. Q8_0's panel is the avx2 layout (288 bytes per block) with each code stored as the unsigned byte
 * w + 128 (w XOR 0x80), the operand VPDPBUSD multiplies as unsigned; the Q4_0 family's panels are the avx2 ones
 * (their codes are unsigned already), so the avx2 packers are kept and only the products are this set's. */
octet__panel_bytes_kernel octet__panel_bytes_q8_0_avxvnni;
octet__pack_kernel octet__pack_q8_0_avxvnni;
octet__panel_gemm_kernel octet__panel_gemm_q8_0_avxvnni;
octet__panel_gemm_kernel octet__panel_gemm_q4_0_avxvnni;
octet__panel_gemm_kernel octet__panel_gemm_q5_0_avxvnni;
octet__panel_gemm_kernel octet__panel_gemm_q4_1_avxvnni;
octet__panel_gemm_kernel octet__panel_gemm_q5_1_avxvnni;
/* K-quants (kquant_avxvnni.c), on the avx2 panels: Q4_K's product serves Q5_K's panels too (the same layout, codes
 * 0..15 or 0..31) */
octet__panel_gemm_kernel octet__panel_gemm_q4_K_avxvnni;
octet__panel_gemm_kernel octet__panel_gemm_q6_K_avxvnni;

/* integer mode: the Q8 block dots (int_dot_avxvnni.c), the 8-row GEMV and the row panels (int_gemm_avxvnni.c) */
int64_t octet__int_dot_q8_avxvnni(int64_t n_blocks, const uint8_t *w, int e, const int8_t *a, const int16_t *as);
void octet__int_dot4_q8_avxvnni(int64_t n_blocks, const uint8_t *w, int e, const int8_t *a, size_t a_stride,
                                const int16_t *as, size_t as_stride, int64_t out[4]);
void octet__int_gemv8_q8_avxvnni(int64_t n_blocks, const uint8_t *w, size_t row_bytes, const int8_t e[8],
                                 const int8_t *a, const int16_t *as, const uint8_t *pf, int64_t out[8]);
void octet__int_gemv8_q8_y_avxvnni(int64_t n_blocks, const uint8_t *w, size_t row_bytes, const int8_t e[8],
                                   const int8_t *a, const int16_t *as, const uint8_t *pf, int base, int32_t m,
                                   const int32_t *bias, int32_t y[8]);
void octet__int_panel_q8_avxvnni(int64_t n_blocks, const void *panel, const int8_t *a, size_t a_stride,
                                 const int16_t *as, size_t as_stride, int nc, int64_t *out);
void octet__int_panel_q8_y_avxvnni(int64_t n_blocks, const void *panel, const int8_t *a, size_t a_stride,
                                   const int16_t *as, size_t as_stride, int nc, const int8_t e[8], const int *base,
                                   int32_t m, const int32_t *bias, int32_t *y, size_t y_stride);

#endif
