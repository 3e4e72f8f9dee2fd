/*
 * kset.h - kernel sets: every kernel of one instruction set in one table, chosen in one place.
 *
 * A set is a name, its parent's name and one table of function pointers: per weight type the conversions and
 * dots (octet__type_traits), the multi-row kernels of gemm.h (F32 tile, 8-row GEMV, row panels), the float helpers
 * of the forward pass, and the integer-only mode's kernels. A set starts as a copy of its parent and overrides
 * what it implements, so each set's folder under src/kernels/ holds only its own kernels and one init function:
 *
 *     x86:  ref -> avx2 -> avxvnni   (avxvnni: AVX2 + AVX-VNNI, 256-bit VPDPBUSD, for CPUs without AVX-512)
 *                       -> avx512    (avx512: AVX-512 F/BW/VL/DQ + VNNI; Cascade Lake has it without AVX-VNNI)
 *     arm:  ref -> neon -> dotprod -> i8mm
 *
 * Every kernel of every set reproduces its reference (ref/, the specification) bit for bit, so logits do not
 * depend on the set (tests/kernels/test_kset.c checks every entry of every set the CPU can run against ref).
 * The set in use is chosen once, at the first call, from the CPU's features: the usable set of highest rank
 * (kernels.c: avx512 > avxvnni > avx2 > ref); OCTET_ISA=NAME (or octet_set_isa(), the CLI's --isa) forces another
 * usable one, OCTET_PORTABLE=1 = ref.
 * The model layer reaches kernels only through these tables and never names an instruction set.
 */
#ifndef OCTET_KSET_H
#define OCTET_KSET_H

#include "kernels/gemm.h"
#include "kernels/int_kernels.h"
#include "kernels/kernels.h"
#include "kernels/repack.h"

/* Integer-mode kernels (contracts in int_kernels.h and intmath.h). The multi-row ones (gemv8 .. rescale8) may be
 * NULL in a set: the integer pass then uses dot4/dot per row. */
typedef struct octet__ikernel_table {
    octet__int_dot_fn dot;
    octet__int_dot4_fn dot4;
    void (*gemv8)(int64_t n_blocks, const uint8_t *w, size_t row_bytes, const int8_t e[8], const int8_t *a,
                  const int16_t *as, const uint8_t *pf, int64_t out[8]);
    void (*gemv8_y)(int64_t n_blocks, const uint8_t *w, size_t row_bytes, const int8_t e[8], const int8_t *a,
                    const int16_t *as, const uint8_t *pf, int base, int32_t m, const int32_t *bias, int32_t y[8]);
    size_t (*panel_bytes)(int64_t n_blocks);
    void (*pack8)(int64_t n_blocks, void *panel, const uint8_t *w, size_t row_bytes, const int8_t e[8],
                  const uint8_t *pf);
    void (*panel)(int64_t n_blocks, const void *panel, const int8_t *a, size_t a_stride, const int16_t *as,
                  size_t as_stride, int nc, int64_t *out);
    void (*panel_y)(int64_t n_blocks, const void *panel, const int8_t *a, size_t a_stride, const int16_t *as,
                    size_t as_stride, int nc, const int8_t e[8], const int *base, int32_t m, const int32_t *bias,
                    int32_t *y, size_t y_stride);
    int (*rescale8)(const int64_t acc[8], const int8_t e[8], int base, int32_t m, const int32_t *bias,
                    int32_t out[8]);
    octet__int_score_fn score;
    octet__int_scores_fn scores;
    octet__int_qscale_fn qscale;
    octet__int_vweights_fn vweights;
    octet__int_wsum_fn wsum;
    octet__int_qhead_fn qhead;
    octet__int_rescale32_fn rescale32;
    octet__int_codes_fn codes;
    octet__int_quant_row_fn quant_row;
    octet__int_rmsnorm_fn rmsnorm;
    octet__int_swiglu_fn swiglu;
    octet__int_softmax_fn softmax;
    void (*to_f32)(const int32_t *v, size_t n, int frac, void *out);
    void (*add_sat)(int32_t *x, const int32_t *d, size_t n);
    /* 16-row groups of the q8_0x16 layout (repack.h, int_repack.h for the contracts); NULL: the set has none, and
     * the integer weights are used as Q8_0 rows */
    void (*pack16)(int64_t n, void *dst, const void *w, size_t w_stride);
    void (*block_aux)(const int8_t *a, const int16_t *as, int64_t n_blocks, int32_t *aux);
    void (*gemm16)(int64_t n_blocks, const void *group, const int8_t e[16], const int8_t *a, size_t a_stride,
                   const int32_t *aux, size_t aux_stride, int nc, int64_t *out);
    void (*gemm16_y)(int64_t n_blocks, const void *group, const int8_t e[16], const int8_t *a, size_t a_stride,
                     const int32_t *aux, size_t aux_stride, int nc, const int *base, int32_t m, const int32_t *bias,
                     int32_t *y, size_t y_stride);
} octet__ikernel_table;

/* A load-time weight layout of the set (repack.h): one group of 16 rows of n elements is group_bytes(n) bytes,
 * written by pack from the file's rows and multiplied by gemm (bit for bit the reference dot). */
typedef struct octet__repack_kernels {
    size_t (*group_bytes)(int64_t n);
    void (*pack)(int64_t n, void *dst, const void *w, size_t w_stride);
    octet__gemm_x16_kernel *gemm;
} octet__repack_kernels;

typedef struct octet__kset {
    const char *name;   /* "ref", "avx2", "avxvnni", "avx512", ... */
    const char *parent; /* the set it starts from (NULL for ref) */
    const char *what;   /* the instructions it needs, for messages */
    octet__type_traits types[OCTET_TYPE_COUNT];
    octet__gemm_fn gemm[OCTET_TYPE_COUNT];            /* NULL: none */
    octet__gemv8_fn gemv8[OCTET_TYPE_COUNT];          /* NULL: none */
    octet__panel_kernels panel[OCTET_TYPE_COUNT];     /* pack NULL: none */
    octet__repack_kernels repack[OCTET_TYPE_COUNT];   /* pack NULL: the type is used as the file stores it */
    octet__fkernel_table f;
    octet__ikernel_table i;
} octet__kset;

/* The set in use (chosen at the first call). */
const octet__kset *octet__kset_active(void);
/* The sets this CPU can run, from ref (index 0) to the best; NULL past the last. */
const octet__kset *octet__kset_at(int i);
/* The integer kernels of the set in use. */
const octet__ikernel_table *octet__ikernels(void);
/* A usable set by name, or NULL. */
const octet__kset *octet__kset_find(const char *name);

/* Each set's overrides, in its own folder (src/kernels/NAME/kset_NAME.c), compiled with its own flags. */
void octet__kset_init_ref(octet__kset *ks);
void octet__kset_init_avx2(octet__kset *ks);
void octet__kset_init_avxvnni(octet__kset *ks);
void octet__kset_init_avx512(octet__kset *ks);

#endif
