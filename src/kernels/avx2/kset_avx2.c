/*
 * kset_avx2.c - the avx2 kernel set (AVX2 + FMA + F16C): the ref set with the AVX2 twins of this folder written
 * over the entries they implement. In `make intonly` the integer kernels stay the references (that build proves
 * the integer pass needs no vector unit).
 */
#include "kernels/kernels_impl.h"
#include "kernels/kset.h"

void octet__kset_init_avx2(octet__kset *ks) {
    octet__type_traits *t = ks->types;
    t[OCTET_TYPE_F32].to_float = octet__to_float_f32_avx2;
    t[OCTET_TYPE_F32].vec_dot = octet__dot_f32_f32_avx2;
    t[OCTET_TYPE_F16].to_float = octet__to_float_f16_avx2;
    t[OCTET_TYPE_F16].vec_dot = octet__dot_f16_f32_avx2;
    t[OCTET_TYPE_BF16].to_float = octet__to_float_bf16_avx2;
    t[OCTET_TYPE_BF16].vec_dot = octet__dot_bf16_f32_avx2;
    t[OCTET_TYPE_Q4_0].to_float = octet__to_float_q4_0_avx2;
    t[OCTET_TYPE_Q4_0].vec_dot = octet__dot_q4_0_q8_0_avx2;
    t[OCTET_TYPE_Q4_1].vec_dot = octet__dot_q4_1_q8_1_avx2;
    t[OCTET_TYPE_Q5_0].vec_dot = octet__dot_q5_0_q8_0_avx2;
    t[OCTET_TYPE_Q5_1].vec_dot = octet__dot_q5_1_q8_1_avx2;
    t[OCTET_TYPE_Q8_0].to_float = octet__to_float_q8_0_avx2;
    t[OCTET_TYPE_Q8_0].from_float = octet__from_float_q8_0_avx2;
    t[OCTET_TYPE_Q8_0].vec_dot = octet__dot_q8_0_q8_0_avx2;
    t[OCTET_TYPE_Q8_1].from_float = octet__from_float_q8_1_avx2;
    t[OCTET_TYPE_Q4_K].vec_dot = octet__dot_q4_K_q8_K_avx2;
    t[OCTET_TYPE_Q5_K].vec_dot = octet__dot_q5_K_q8_K_avx2;
    t[OCTET_TYPE_Q6_K].vec_dot = octet__dot_q6_K_q8_K_avx2;
    t[OCTET_TYPE_Q8_K].from_float = octet__from_float_q8_K_avx2;

    ks->gemm[OCTET_TYPE_F32] = octet__gemm_f32_f32_avx2;
    ks->gemm[OCTET_TYPE_F16] = octet__gemm_f16_f32_avx2;
    ks->gemm[OCTET_TYPE_BF16] = octet__gemm_bf16_f32_avx2;
    ks->gemm[OCTET_TYPE_Q5_K] = octet__gemm_q5_K_avx2;
    ks->gemm[OCTET_TYPE_Q6_K] = octet__gemm_q6_K_avx2;

    ks->gemv8[OCTET_TYPE_Q4_0] = octet__gemv8_q4_0_q8_0_avx2;
    ks->gemv8[OCTET_TYPE_Q8_0] = octet__gemv8_q8_0_q8_0_avx2;
    ks->gemv8[OCTET_TYPE_Q5_0] = octet__gemv8_q5_0_q8_0_avx2;
    ks->gemv8[OCTET_TYPE_Q4_1] = octet__gemv8_q4_1_q8_1_avx2;
    ks->gemv8[OCTET_TYPE_Q5_1] = octet__gemv8_q5_1_q8_1_avx2;
    ks->gemv8[OCTET_TYPE_F32] = octet__gemv8_f32_f32_avx2;
    ks->gemv8[OCTET_TYPE_F16] = octet__gemv8_f16_f32_avx2;
    ks->gemv8[OCTET_TYPE_BF16] = octet__gemv8_bf16_f32_avx2;

#define PANEL(T, BYTES, PACK, GEMM) ks->panel[OCTET_TYPE_##T] = (octet__panel_kernels){BYTES, PACK, GEMM}
    PANEL(Q4_0, octet__panel_bytes_q4_0_avx2, octet__pack_q4_0_avx2, octet__panel_gemm_q4_0_avx2);
    PANEL(Q8_0, octet__panel_bytes_q8_0_avx2, octet__pack_q8_0_avx2, octet__panel_gemm_q8_0_avx2);
    PANEL(Q5_0, octet__panel_bytes_q4_0_avx2, octet__pack_q5_0_avx2, octet__panel_gemm_q5_0_avx2);
    PANEL(Q4_1, octet__panel_bytes_q4_1_avx2, octet__pack_q4_1_avx2, octet__panel_gemm_q4_1_avx2);
    PANEL(Q5_1, octet__panel_bytes_q4_1_avx2, octet__pack_q5_1_avx2, octet__panel_gemm_q5_1_avx2);
    PANEL(F32, octet__panel_bytes_float_avx2, octet__pack_f32_avx2, octet__panel_gemm_float_avx2);
    PANEL(F16, octet__panel_bytes_float_avx2, octet__pack_f16_avx2, octet__panel_gemm_float_avx2);
    PANEL(BF16, octet__panel_bytes_float_avx2, octet__pack_bf16_avx2, octet__panel_gemm_float_avx2);
    PANEL(Q4_K, octet__panel_bytes_q4_K_avx2, octet__pack_q4_K_avx2, octet__panel_gemm_q4_K_avx2);
    PANEL(Q5_K, octet__panel_bytes_q4_K_avx2, octet__pack_q5_K_avx2, octet__panel_gemm_q5_K_avx2);
    PANEL(Q6_K, octet__panel_bytes_q6_K_avx2, octet__pack_q6_K_avx2, octet__panel_gemm_q6_K_avx2);
#undef PANEL

    /* Q4_0 matrices repacked at load into the x16 layout (../repack.h; the avx512 set replaces the kernel) */
    ks->repack[OCTET_TYPE_Q4_0] =
        (octet__repack_kernels){octet__q4_0x16_bytes, octet__pack_q4_0x16_avx2, octet__gemm_q4_0x16_avx2};

    ks->f = (octet__fkernel_table){octet__fdot_f32_avx2, octet__faxpy_f32_avx2, octet__fscale_f32_avx2,
                                   octet__fscores_f32_avx2, octet__fwsum_f32_avx2, octet__fexp_f32_avx2};

#ifndef OCTET_INTONLY
    octet__ikernel_table *ik = &ks->i;
    ik->dot = octet__int_dot_q8_avx2;
    ik->dot4 = octet__int_dot4_q8_avx2;
    ik->gemv8 = octet__int_gemv8_q8_avx2;
    ik->gemv8_y = octet__int_gemv8_q8_y_avx2;
    ik->panel_bytes = octet__int_panel_bytes_avx2;
    ik->pack8 = octet__int_pack8_q8_avx2;
    ik->panel = octet__int_panel_q8_avx2;
    ik->panel_y = octet__int_panel_q8_y_avx2;
    ik->rescale8 = octet__int_rescale8_avx2;
    ik->score = octet__int_score_avx2;
    ik->scores = octet__int_scores_avx2;
    ik->qscale = octet__int_qscale_avx2;
    ik->vweights = octet__int_vweights_avx2;
    ik->wsum = octet__int_wsum_s8_avx2;
    ik->qhead = octet__int_qhead_avx2;
    ik->rescale32 = octet__int_rescale32_avx2;
    ik->codes = octet__int_codes_avx2;
    ik->quant_row = octet__int_quant_row_avx2;
    ik->rmsnorm = octet__int_rmsnorm_avx2;
    ik->swiglu = octet__int_swiglu_avx2;
    ik->softmax = octet__int_softmax_q30_avx2;
    ik->to_f32 = octet__int_to_f32_bits_avx2;
    ik->add_sat = octet__int_add_sat_avx2;
#endif
}
