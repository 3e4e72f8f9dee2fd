/*
 * kernels.c - the reference type table, the chain of kernel sets (kset.h) and the one place that chooses among
 * them. The ref set is the portable kernels of src/kernels/ref/; every other set is its parent's table with its
 * own kernels written over the entries it implements (src/kernels/NAME/kset_NAME.c), built once (pthread_once) and
 * only when the CPU can run it, so no instruction of a set runs on a CPU without it.
 * Rows for ids octet does not implement (Q2_K, Q3_K, gaps) are zero: block_size 0.
 */
#include "kernels/kernels_impl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/intmath.h"
#include "kernels/kset.h"

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

/* ---- kernel sets (kset.h) -------------------------------------------------------------------------------- */

void octet__kset_init_ref(octet__kset *ks) {
    memcpy(ks->types, g_ref, sizeof g_ref);
    ks->gemm[OCTET_TYPE_F32] = octet__gemm_f32_f32_ref;
    ks->f = (octet__fkernel_table){octet__fdot_f32_ref, octet__faxpy_f32_ref, octet__fscale_f32_ref,
                                   octet__fscores_f32_ref, octet__fwsum_f32_ref, octet__fexp_f32_ref};
    octet__ikernel_table *ik = &ks->i;
    ik->dot = octet__int_dot_q8_ref;
    ik->dot4 = octet__int_dot4_q8_ref;
    ik->gemv8 = octet__int_gemv8_q8_ref;
    ik->gemv8_y = octet__int_gemv8_q8_y_ref;
    ik->panel_bytes = octet__int_panel_bytes_ref;
    ik->pack8 = octet__int_pack8_q8_ref;
    ik->panel = octet__int_panel_q8_ref;
    ik->panel_y = octet__int_panel_q8_y_ref;
    ik->rescale8 = octet__int_rescale8_ref;
    ik->score = octet__int_score_ref;
    ik->scores = octet__int_scores_ref;
    ik->qscale = octet__int_qscale_ref;
    ik->vweights = octet__int_vweights_ref;
    ik->wsum = octet__int_wsum_s8_ref;
    ik->qhead = octet__int_qhead_ref;
    ik->rescale32 = octet__int_rescale32_ref;
    ik->codes = octet__int_codes_ref;
    ik->quant_row = octet__int_quant_row_ref;
    ik->rmsnorm = octet__int_rmsnorm_ref;
    ik->swiglu = octet__int_swiglu_ref;
    ik->softmax = octet__int_softmax_q30_ref;
    ik->to_f32 = octet__int_to_f32_bits_ref;
    ik->add_sat = octet__int_add_sat_ref;
}

/* The tree of sets: each entry's parent comes before it; usable() tells whether the CPU (and OS) can run it; rank
 * orders the sets by speed: the usable set of highest rank is the default. avxvnni and avx512 are both children of
 * avx2 (a CPU may have either without the other: Alder Lake has AVX-VNNI and no AVX-512, Cascade Lake AVX-512 VNNI
 * and no AVX-VNNI); where both run, avx512 (16-lane VNNI over repacked weights) is the faster. */
typedef struct set_def {
    const char *name, *parent, *what;
    int rank;
    bool (*usable)(const octet__cpu *c);
    void (*init)(octet__kset *ks);
} set_def;

static bool always(const octet__cpu *c) {
    (void)c;
    return true;
}
#if defined(__x86_64__)
static bool has_avx2(const octet__cpu *c) { return c->avx2 && c->fma && c->f16c; }
static bool has_avxvnni(const octet__cpu *c) { return has_avx2(c) && c->avxvnni; }
static bool has_avx512(const octet__cpu *c) {
    return has_avx2(c) && c->avx512f && c->avx512bw && c->avx512vl && c->avx512dq && c->avx512vnni;
}
#endif

static const set_def g_defs[] = {
    {"ref", NULL, "portable C", 0, always, octet__kset_init_ref},
#if defined(__x86_64__)
    {"avx2", "ref", "AVX2, FMA, F16C", 1, has_avx2, octet__kset_init_avx2},
    {"avxvnni", "avx2", "AVX2, FMA, F16C and AVX-VNNI", 2, has_avxvnni, octet__kset_init_avxvnni},
    {"avx512", "avx2", "AVX-512 F/BW/VL/DQ and VNNI", 3, has_avx512, octet__kset_init_avx512},
#endif
};
#define N_DEFS (sizeof g_defs / sizeof g_defs[0])

static octet__kset g_sets[N_DEFS];
static const octet__kset *g_usable[N_DEFS + 1]; /* usable sets in g_defs order, NULL-terminated */
static const octet__kset *g_best;                /* the usable set of highest rank */
static const octet__kset *_Atomic g_active;
static pthread_once_t g_sets_once = PTHREAD_ONCE_INIT;

static void build_sets(void) {
    const octet__cpu *c = octet__cpu_features();
    int nu = 0, best_rank = -1;
    for (size_t i = 0; i < N_DEFS; i++) {
        const set_def *d = &g_defs[i];
        if (!d->usable(c)) continue;
        if (d->rank > best_rank) best_rank = d->rank, g_best = &g_sets[i];
        octet__kset *ks = &g_sets[i];
        for (size_t p = 0; d->parent && p < i; p++) /* start as the parent (already built: it comes first) */
            if (!strcmp(g_defs[p].name, d->parent)) *ks = g_sets[p];
        d->init(ks);
        ks->name = d->name;
        ks->parent = d->parent;
        ks->what = d->what;
        g_usable[nu++] = ks;
    }
    /* the environment's choice, else the best; an unusable name is reported once and ignored */
    const octet__kset *pick = g_best;
    const char *env = getenv("OCTET_ISA"), *portable = getenv("OCTET_PORTABLE");
    if (portable && *portable && strcmp(portable, "0") != 0) pick = g_usable[0];
    if (env && *env) { /* (looked up here: octet__kset_find would re-enter this pthread_once) */
        const octet__kset *f = NULL;
        for (int i = 0; i < nu; i++)
            if (!strcmp(g_usable[i]->name, env)) f = g_usable[i];
        if (f) pick = f;
        else octet__log(OCTET_LOG_WARN, "OCTET_ISA=%s: not a kernel set this CPU can run; using %s", env, pick->name);
    }
    g_active = pick;
}

const octet__kset *octet__kset_at(int i) {
    pthread_once(&g_sets_once, build_sets);
    return i >= 0 && (size_t)i < N_DEFS ? g_usable[i] : NULL;
}

const octet__kset *octet__kset_find(const char *name) {
    for (int i = 0; name && octet__kset_at(i); i++)
        if (!strcmp(octet__kset_at(i)->name, name)) return octet__kset_at(i);
    return NULL;
}

const octet__kset *octet__kset_active(void) {
    pthread_once(&g_sets_once, build_sets);
    return g_active;
}

const char *octet_kernel_isa(void) { return octet__kset_active()->name; }
const char *octet_isa_name(int i) {
    const octet__kset *ks = octet__kset_at(i);
    return ks ? ks->name : NULL;
}

int octet_set_isa(const char *name, octet_error *err) {
    const octet__kset *ks = octet__kset_find(name);
    if (!ks) {
        char list[128] = "";
        for (int i = 0; octet__kset_at(i); i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", octet__kset_at(i)->name);
        int known = 0;
        for (size_t i = 0; name && i < N_DEFS; i++) known |= !strcmp(g_defs[i].name, name);
        return octet__err(err, OCTET_EINVAL, "kernel set '%s' %s; this CPU can run: %s", name ? name : "(null)",
                          known ? "needs instructions this CPU does not have" : "does not exist", list);
    }
    g_active = ks;
    return 0;
}

void octet_force_portable(int on) {
    g_active = octet__kset_at(0); /* (builds the sets) */
    if (!on) g_active = g_best;
}

/* ---- the type table and the helpers over it ------------------------------------------------------------------ */

const octet__type_traits *octet__kernels_ref(void) { return octet__kset_at(0)->types; }
const octet__type_traits *octet__kernels(void) { return octet__kset_active()->types; }

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

const octet__fkernel_table *octet__fkernels(void) { return &octet__kset_active()->f; }
const octet__fkernel_table *octet__fkernels_ref(void) { return &octet__kset_at(0)->f; }
const octet__ikernel_table *octet__ikernels(void) { return &octet__kset_active()->i; }

octet__gemm_fn octet__gemm(int type) {
    return type >= 0 && type < OCTET_TYPE_COUNT ? octet__kset_active()->gemm[type] : NULL;
}

octet__gemv8_fn octet__gemv8(int type) {
    return type >= 0 && type < OCTET_TYPE_COUNT ? octet__kset_active()->gemv8[type] : NULL;
}

const octet__panel_kernels *octet__panel(int type) {
    if (type < 0 || type >= OCTET_TYPE_COUNT) return NULL;
    const octet__panel_kernels *p = &octet__kset_active()->panel[type];
    return p->pack ? p : NULL;
}

/* For the tests that check the AVX2 kernels by name: the avx2 set's tables when the CPU can run it. */
const octet__type_traits *octet__kernels_simd(void) {
    const octet__kset *ks = octet__kset_find("avx2");
    return ks ? ks->types : NULL;
}

const octet__fkernel_table *octet__fkernels_simd(void) {
    const octet__kset *ks = octet__kset_find("avx2");
    return ks ? &ks->f : NULL;
}
