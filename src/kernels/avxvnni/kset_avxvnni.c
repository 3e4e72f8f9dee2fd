/*
 * kset_avxvnni.c - the avxvnni kernel set (AVX2 + FMA + F16C + AVX-VNNI, no AVX-512: Intel Alder Lake and later,
 * AMD Zen 5): the avx2 set with this folder's kernels written over the entries whose int8 products VPDPBUSD on
 * 256-bit registers forms in one instruction (kernels_avxvnni.h). Everything else stays the avx2 set's. In
 * `make intonly` the integer kernels stay the references, as in the avx2 set.
 */
#include "kernels/avxvnni/kernels_avxvnni.h"
#include "kernels/kset.h"

void octet__kset_init_avxvnni(octet__kset *ks) {
    octet__type_traits *t = ks->types;
    t[OCTET_TYPE_Q8_0].vec_dot = octet__dot_q8_0_q8_0_avxvnni;
    t[OCTET_TYPE_Q4_0].vec_dot = octet__dot_q4_0_q8_0_avxvnni;
    t[OCTET_TYPE_Q5_0].vec_dot = octet__dot_q5_0_q8_0_avxvnni;
    t[OCTET_TYPE_Q4_1].vec_dot = octet__dot_q4_1_q8_1_avxvnni;
    t[OCTET_TYPE_Q5_1].vec_dot = octet__dot_q5_1_q8_1_avxvnni;

    ks->gemv8[OCTET_TYPE_Q8_0] = octet__gemv8_q8_0_q8_0_avxvnni;
    ks->gemv8[OCTET_TYPE_Q4_0] = octet__gemv8_q4_0_q8_0_avxvnni;
    ks->gemv8[OCTET_TYPE_Q5_0] = octet__gemv8_q5_0_q8_0_avxvnni;
    ks->gemv8[OCTET_TYPE_Q4_1] = octet__gemv8_q4_1_q8_1_avxvnni;
    ks->gemv8[OCTET_TYPE_Q5_1] = octet__gemv8_q5_1_q8_1_avxvnni;

    /* Q8_0: this set's own panel (codes stored as w + 128); the Q4_0 family: the avx2 panels, this set's products */
    ks->panel[OCTET_TYPE_Q8_0] = (octet__panel_kernels){octet__panel_bytes_q8_0_avxvnni, octet__pack_q8_0_avxvnni,
                                                        octet__panel_gemm_q8_0_avxvnni};
    ks->panel[OCTET_TYPE_Q4_0].gemm = octet__panel_gemm_q4_0_avxvnni;
    ks->panel[OCTET_TYPE_Q5_0].gemm = octet__panel_gemm_q5_0_avxvnni;
    ks->panel[OCTET_TYPE_Q4_1].gemm = octet__panel_gemm_q4_1_avxvnni;
    ks->panel[OCTET_TYPE_Q5_1].gemm = octet__panel_gemm_q5_1_avxvnni;
    ks->panel[OCTET_TYPE_Q4_K].gemm = octet__panel_gemm_q4_K_avxvnni;
    ks->panel[OCTET_TYPE_Q5_K].gemm = octet__panel_gemm_q4_K_avxvnni;
    ks->panel[OCTET_TYPE_Q6_K].gemm = octet__panel_gemm_q6_K_avxvnni;

#ifndef OCTET_INTONLY
    /* integer mode: the Q8 block dots, the 8-row GEMV and the products of the avx2 panels (packer and layout kept) */
    octet__ikernel_table *ik = &ks->i;
    ik->dot = octet__int_dot_q8_avxvnni;
    ik->dot4 = octet__int_dot4_q8_avxvnni;
    ik->gemv8 = octet__int_gemv8_q8_avxvnni;
    ik->gemv8_y = octet__int_gemv8_q8_y_avxvnni;
    ik->panel = octet__int_panel_q8_avxvnni;
    ik->panel_y = octet__int_panel_q8_y_avxvnni;
#endif
}
