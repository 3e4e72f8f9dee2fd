/*
 * kset_avx512.c - the avx512 kernel set (AVX-512 F/BW/VL/DQ + VNNI): the avx2 set with this folder's kernels
 * written over it. Its int8 dot-product instruction (VPDPBUSD) works on weights repacked at load (../repack.h):
 * Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K matrices in groups of 16 rows, one group serving generation and prompts alike.
 */
#include "kernels/int_repack.h"
#include "kernels/kernels_impl.h"
#include "kernels/kset.h"

void octet__kset_init_avx512(octet__kset *ks) {
    ks->repack[OCTET_TYPE_Q8_0] =
        (octet__repack_kernels){octet__q8_0x16_bytes, octet__pack_q8_0x16_avx512, octet__gemm_q8_0x16_avx512};
    ks->repack[OCTET_TYPE_Q4_0] =
        (octet__repack_kernels){octet__q4_0x16_bytes, octet__pack_q4_0x16_avx512, octet__gemm_q4_0x16_avx512};
    ks->repack[OCTET_TYPE_Q4_1] =
        (octet__repack_kernels){octet__q4_1x16_bytes, octet__pack_q4_1x16_avx512, octet__gemm_q4_1x16_avx512};
    ks->repack[OCTET_TYPE_Q5_0] =
        (octet__repack_kernels){octet__q5_0x16_bytes, octet__pack_q5_0x16_avx512, octet__gemm_q5_0x16_avx512};
    ks->repack[OCTET_TYPE_Q5_1] =
        (octet__repack_kernels){octet__q5_1x16_bytes, octet__pack_q5_1x16_avx512, octet__gemm_q5_1x16_avx512};
    ks->repack[OCTET_TYPE_Q4_K] =
        (octet__repack_kernels){octet__q4_Kx16_bytes, octet__pack_q4_Kx16_avx512, octet__gemm_q4_Kx16_avx512};
    /* float attention: scores two keys and the weighted sum sixteen lanes at a time */
    ks->f.scores_f32 = octet__fscores_f32_avx512;
    ks->f.wsum_f32 = octet__fwsum_f32_avx512;
    /* Q5_K and Q6_K (kquant_repack_avx512.c) */
    ks->repack[OCTET_TYPE_Q5_K] =
        (octet__repack_kernels){octet__q5_Kx16_bytes, octet__pack_q5_Kx16_avx512, octet__gemm_q5_Kx16_avx512};
    ks->repack[OCTET_TYPE_Q6_K] =
        (octet__repack_kernels){octet__q6_Kx16_bytes, octet__pack_q6_Kx16_avx512, octet__gemm_q6_Kx16_avx512};
#ifndef OCTET_INTONLY
    /* integer mode: its Q8 weights in the same q8_0x16 groups, and attention scores sixteen keys at a time */
    octet__ikernel_table *ik = &ks->i;
    ik->pack16 = octet__pack_q8_0x16_avx512;
    ik->block_aux = octet__int_block_aux_avx512;
    ik->gemm16 = octet__int_gemm16_q8x16_avx512;
    ik->gemm16_y = octet__int_gemm16_q8x16_y_avx512;
    ik->scores = octet__int_scores_avx512;
#endif
}
