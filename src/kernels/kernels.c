/*
 * kernels.c - the per-type kernel tables and their dispatch.
 *
 * The reference table is a constant: the portable kernels of src/kernels/ref/. The SIMD table is a copy of it
 * with the AVX2 twins written over the rows that have one; it is built once (pthread_once) and only when the
 * CPU has AVX2+FMA+F16C, so no AVX2 instruction can run on a CPU without it. octet__kernels() looks at
 * octet__use_simd() on every call, so octet_force_portable() takes effect immediately.
 * Rows for ids octet does not implement (Q2_K, Q3_K, gaps) are zero: block_size 0.
 */
#include "kernels/kernels_impl.h"

#include <pthread.h>

#include "core/core.h"

#define ROW(id, nm, bs, ts, q, vdt, tf, ff, vd) [id] = {nm, bs, ts, q, vdt, tf, ff, vd}

static const octet__type_traits g_ref[OCTET_TYPE_COUNT] = {
    ROW(OCTET_TYPE_F32, "F32", 1, sizeof(float), 0, OCTET_TYPE_F32, octet__to_float_f32_ref,
        octet__from_float_f32_ref, octet__dot_f32_f32_ref),
    ROW(OCTET_TYPE_F16, "F16", 1, sizeof(uint16_t), 0, OCTET_TYPE_F32, octet__to_float_f16_ref,
        octet__from_float_f16_ref, octet__dot_f16_f32_ref),
    ROW(OCTET_TYPE_BF16, "BF16", 1, sizeof(uint16_t), 0, OCTET_TYPE_F32, octet__to_float_bf16_ref,
        octet__from_float_bf16_ref, octet__dot_bf16_f32_ref),
    ROW(OCTET_TYPE_Q4_0, "Q4_0", QK4_0, sizeof(block_q4_0), 1, OCTET_TYPE_Q8_0, octet__to_float_q4_0_ref,
        octet__from_float_q4_0_ref, octet__dot_q4_0_q8_0_ref),
    ROW(OCTET_TYPE_Q4_1, "Q4_1", QK4_1, sizeof(block_q4_1), 1, OCTET_TYPE_Q8_1, octet__to_float_q4_1_ref,
        octet__from_float_q4_1_ref, octet__dot_q4_1_q8_1_ref),
    ROW(OCTET_TYPE_Q5_0, "Q5_0", QK5_0, sizeof(block_q5_0), 1, OCTET_TYPE_Q8_0, octet__to_float_q5_0_ref,
        octet__from_float_q5_0_ref, octet__dot_q5_0_q8_0_ref),
    ROW(OCTET_TYPE_Q5_1, "Q5_1", QK5_1, sizeof(block_q5_1), 1, OCTET_TYPE_Q8_1, octet__to_float_q5_1_ref,
        octet__from_float_q5_1_ref, octet__dot_q5_1_q8_1_ref),
    ROW(OCTET_TYPE_Q8_0, "Q8_0", QK8_0, sizeof(block_q8_0), 1, OCTET_TYPE_Q8_0, octet__to_float_q8_0_ref,
        octet__from_float_q8_0_ref, octet__dot_q8_0_q8_0_ref),
    /* activation-only types: no vec_dot of their own */
    ROW(OCTET_TYPE_Q8_1, "Q8_1", QK8_1, sizeof(block_q8_1), 1, OCTET_TYPE_Q8_1, octet__to_float_q8_1_ref,
        octet__from_float_q8_1_ref, NULL),
    ROW(OCTET_TYPE_Q4_K, "Q4_K", QK_K, sizeof(block_q4_K), 1, OCTET_TYPE_Q8_K, octet__to_float_q4_K_ref,
        octet__from_float_q4_K_ref, octet__dot_q4_K_q8_K_ref),
    ROW(OCTET_TYPE_Q5_K, "Q5_K", QK_K, sizeof(block_q5_K), 1, OCTET_TYPE_Q8_K, octet__to_float_q5_K_ref,
        octet__from_float_q5_K_ref, octet__dot_q5_K_q8_K_ref),
    ROW(OCTET_TYPE_Q6_K, "Q6_K", QK_K, sizeof(block_q6_K), 1, OCTET_TYPE_Q8_K, octet__to_float_q6_K_ref,
        octet__from_float_q6_K_ref, octet__dot_q6_K_q8_K_ref),
    ROW(OCTET_TYPE_Q8_K, "Q8_K", QK_K, sizeof(block_q8_K), 1, OCTET_TYPE_Q8_K, octet__to_float_q8_K_ref,
        octet__from_float_q8_K_ref, NULL),
};

static const octet__fkernel_table g_fref = {octet__fdot_f32_ref, octet__faxpy_f32_ref, octet__fscale_f32_ref,
                                            octet__fscores_f32_ref, octet__fwsum_f32_ref, octet__fexp_f32_ref};

#if defined(__x86_64__) || defined(__i386__)
#define OCTET__HAVE_X86 1
static octet__type_traits g_simd[OCTET_TYPE_COUNT];
static const octet__fkernel_table g_fsimd = {octet__fdot_f32_avx2, octet__faxpy_f32_avx2, octet__fscale_f32_avx2,
                                             octet__fscores_f32_avx2, octet__fwsum_f32_avx2,
                                             octet__fexp_f32_avx2};
static pthread_once_t g_simd_once = PTHREAD_ONCE_INIT;

static void build_simd(void) {
    for (int t = 0; t < OCTET_TYPE_COUNT; t++) g_simd[t] = g_ref[t];
    g_simd[OCTET_TYPE_F32].to_float = octet__to_float_f32_avx2;
    g_simd[OCTET_TYPE_F32].vec_dot = octet__dot_f32_f32_avx2;
    g_simd[OCTET_TYPE_F16].to_float = octet__to_float_f16_avx2;
    g_simd[OCTET_TYPE_F16].vec_dot = octet__dot_f16_f32_avx2;
    g_simd[OCTET_TYPE_BF16].to_float = octet__to_float_bf16_avx2;
    g_simd[OCTET_TYPE_BF16].vec_dot = octet__dot_bf16_f32_avx2;
    g_simd[OCTET_TYPE_Q4_0].to_float = octet__to_float_q4_0_avx2;
    g_simd[OCTET_TYPE_Q4_0].vec_dot = octet__dot_q4_0_q8_0_avx2;
    g_simd[OCTET_TYPE_Q4_1].vec_dot = octet__dot_q4_1_q8_1_avx2;
    g_simd[OCTET_TYPE_Q5_0].vec_dot = octet__dot_q5_0_q8_0_avx2;
    g_simd[OCTET_TYPE_Q5_1].vec_dot = octet__dot_q5_1_q8_1_avx2;
    g_simd[OCTET_TYPE_Q8_0].to_float = octet__to_float_q8_0_avx2;
    g_simd[OCTET_TYPE_Q8_0].from_float = octet__from_float_q8_0_avx2;
    g_simd[OCTET_TYPE_Q8_0].vec_dot = octet__dot_q8_0_q8_0_avx2;
    g_simd[OCTET_TYPE_Q8_1].from_float = octet__from_float_q8_1_avx2;
    g_simd[OCTET_TYPE_Q4_K].vec_dot = octet__dot_q4_K_q8_K_avx2;
    g_simd[OCTET_TYPE_Q5_K].vec_dot = octet__dot_q5_K_q8_K_avx2;
    g_simd[OCTET_TYPE_Q6_K].vec_dot = octet__dot_q6_K_q8_K_avx2;
    g_simd[OCTET_TYPE_Q8_K].from_float = octet__from_float_q8_K_avx2;
}

static bool cpu_has_avx2(void) {
    const octet__cpu *c = octet__cpu_features();
    return c->avx2 && c->fma && c->f16c;
}
#endif

const octet__type_traits *octet__kernels_ref(void) { return g_ref; }

const octet__type_traits *octet__kernels_simd(void) {
#ifdef OCTET__HAVE_X86
    if (cpu_has_avx2()) {
        pthread_once(&g_simd_once, build_simd);
        return g_simd;
    }
#endif
    return NULL;
}

const octet__type_traits *octet__kernels(void) {
    if (octet__use_simd()) {
        const octet__type_traits *t = octet__kernels_simd();
        if (t) return t;
    }
    return g_ref;
}

const octet__type_traits *octet__type(int type) {
    if (type < 0 || type >= OCTET_TYPE_COUNT) return NULL;
    const octet__type_traits *t = &octet__kernels()[type];
    return t->block_size ? t : NULL;
}

size_t octet__row_bytes(int type, int64_t n) {
    const octet__type_traits *t = octet__type(type);
    if (!t || n < 0 || n % t->block_size) return 0;
    size_t bytes;
    if (!octet__mul_size((size_t)(n / t->block_size), t->type_size, &bytes)) return 0;
    return bytes;
}

const octet__fkernel_table *octet__fkernels_ref(void) { return &g_fref; }

const octet__fkernel_table *octet__fkernels_simd(void) {
#ifdef OCTET__HAVE_X86
    if (cpu_has_avx2()) return &g_fsimd;
#endif
    return NULL;
}

const octet__fkernel_table *octet__fkernels(void) {
    const octet__fkernel_table *f = octet__use_simd() ? octet__fkernels_simd() : NULL;
    return f ? f : &g_fref;
}
