/*
 * test_kernels.c - the kernel tables, hand-built blocks of every type, known-answer quantizer outputs, and every
 * AVX2 kernel against its reference (skipped, not failed, on a CPU without AVX2+FMA+F16C).
 *
 * Oracles: bytes written by hand with values worked out from the published formats; a float64 dot of the
 * dequantized rows; the reference kernels. Bounds (also in docs/kernels.md):
 *   - quantizers and dequantizers: AVX2 bit-identical to the reference;
 *   - dots with unit scales and small codes (every partial sum an integer below 2^24): AVX2 == reference ==
 *     the exact integer dot;
 *   - dots in general: |avx2 - ref| <= 1e-5 * M and |ref - dot64| <= 1e-5 * M, where M = sum_i |a_i| * (|d q_i| +
 *     |min_i|) (= sum |w_i a_i| for types without a min); for Q4_1/Q5_1 the Q8_1 field s = fp16(d*sum q) adds
 *     up to 2^-11 * sum_blocks |m s| against dot64.
 */
#include "test.h"

#include <float.h>

#include "core/core.h"
#include "kernels/kernels_impl.h"
#include "kernels/kset.h"

static uint64_t g_rng = 12345;
static float rnd(void) { return t_rng_f(&g_rng); }
static float gauss(void) {
    float u1 = 0.5f * (rnd() + 1.0f), u2 = rnd();
    if (u1 < 1e-12f) u1 = 1e-12f;
    return (float)(sqrt(-2.0 * log((double)u1)) * cos(3.14159265358979 * (double)u2));
}
static uint16_t h(float f) { return octet__fp32_to_fp16(f); }
static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static const int k_weight_types[] = {OCTET_TYPE_F32,  OCTET_TYPE_F16,  OCTET_TYPE_BF16, OCTET_TYPE_Q4_0,
                                     OCTET_TYPE_Q4_1, OCTET_TYPE_Q5_0, OCTET_TYPE_Q5_1, OCTET_TYPE_Q8_0,
                                     OCTET_TYPE_Q4_K, OCTET_TYPE_Q6_K};
#define N_WEIGHT_TYPES (int)(sizeof k_weight_types / sizeof k_weight_types[0])

/* ---- tables ---------------------------------------------------------------------------------------------- */
static void test_tables(void) {
    const octet__type_traits *r = octet__kernels_ref();
    CHECK(r[OCTET_TYPE_Q4_0].block_size == 32 && r[OCTET_TYPE_Q4_0].type_size == 18);
    CHECK(r[OCTET_TYPE_Q4_1].type_size == 20 && r[OCTET_TYPE_Q5_0].type_size == 22);
    CHECK(r[OCTET_TYPE_Q5_1].type_size == 24 && r[OCTET_TYPE_Q8_0].type_size == 34);
    CHECK(r[OCTET_TYPE_Q8_1].type_size == 36 && r[OCTET_TYPE_Q4_K].type_size == 144);
    CHECK(r[OCTET_TYPE_Q6_K].type_size == 210 && r[OCTET_TYPE_Q8_K].type_size == 292);
    CHECK(r[OCTET_TYPE_Q4_K].block_size == 256 && r[OCTET_TYPE_F16].block_size == 1);
    CHECK(r[OCTET_TYPE_Q4_0].vec_dot_type == OCTET_TYPE_Q8_0 && r[OCTET_TYPE_Q5_0].vec_dot_type == OCTET_TYPE_Q8_0);
    CHECK(r[OCTET_TYPE_Q4_1].vec_dot_type == OCTET_TYPE_Q8_1 && r[OCTET_TYPE_Q5_1].vec_dot_type == OCTET_TYPE_Q8_1);
    CHECK(r[OCTET_TYPE_Q4_K].vec_dot_type == OCTET_TYPE_Q8_K && r[OCTET_TYPE_Q6_K].vec_dot_type == OCTET_TYPE_Q8_K);
    CHECK(r[OCTET_TYPE_BF16].vec_dot_type == OCTET_TYPE_F32 && r[OCTET_TYPE_Q8_0].vec_dot_type == OCTET_TYPE_Q8_0);
    CHECK(r[OCTET_TYPE_Q2_K].block_size == 0 && r[OCTET_TYPE_Q3_K].block_size == 0);
    CHECK(r[OCTET_TYPE_Q5_K].type_size == 176 && r[20].block_size == 0);
    CHECK(octet__type(OCTET_TYPE_Q3_K) == NULL && octet__type(-1) == NULL && octet__type(999) == NULL);
    CHECK(octet__type(OCTET_TYPE_Q6_K) != NULL && strcmp(octet__type(OCTET_TYPE_Q6_K)->name, "Q6_K") == 0);
    CHECK(octet__row_bytes(OCTET_TYPE_Q4_0, 64) == 36);
    CHECK(octet__row_bytes(OCTET_TYPE_Q4_0, 33) == 0);
    CHECK(octet__row_bytes(OCTET_TYPE_Q4_K, 512) == 288);
    CHECK(octet__row_bytes(OCTET_TYPE_F32, 3) == 12);
    CHECK(octet__row_bytes(OCTET_TYPE_Q3_K, 256) == 0);
    CHECK(octet__row_bytes(OCTET_TYPE_F32, INT64_MAX) == 0); /* overflow */
    for (int k = 0; k < N_WEIGHT_TYPES; k++) {
        const octet__type_traits *t = &r[k_weight_types[k]];
        CHECKF(t->to_float && t->from_float && t->vec_dot, "%s row incomplete", t->name);
    }
    /* dispatch follows octet_force_portable */
    octet_force_portable(1);
    CHECK(octet__kernels() == octet__kernels_ref() && octet__fkernels() == octet__fkernels_ref());
    octet_force_portable(0); /* the best set this CPU runs (kset.h) */
    int best = 0;
    while (octet__kset_at(best + 1)) best++;
    CHECK(octet__kernels() == octet__kset_at(best)->types);
    if (octet__kernels_simd()) CHECK(octet__kernels_simd()[OCTET_TYPE_Q4_0].vec_dot == octet__dot_q4_0_q8_0_avx2);
}

/* ---- hand-built blocks -------------------------------------------------------------------------------------- */
/* dequantize with the reference and, when present, the SIMD to_float; compare both with want */
static void check_dequant(int type, const void *blk, const float *want, int n, const char *what) {
    float got[256];
    int bad = 0;
    octet__kernels_ref()[type].to_float(blk, got, n);
    for (int i = 0; i < n; i++)
        if (got[i] != want[i]) {
            if (bad++ < 3) fprintf(stderr, "%s[%d]: got %g want %g\n", what, i, (double)got[i], (double)want[i]);
        }
    CHECKF(bad == 0, "%s: %d values wrong", what, bad);
    const octet__type_traits *s = octet__kernels_simd();
    if (s && s[type].to_float != octet__kernels_ref()[type].to_float) {
        float got2[256];
        s[type].to_float(blk, got2, n);
        CHECKF(memcmp(got, got2, (size_t)n * sizeof(float)) == 0, "%s: AVX2 dequantization differs", what);
    }
}

static void test_hand_blocks(void) {
    float want[256];
    {   /* F32, F16, BF16 */
        const uint8_t f32[4] = {0x00, 0x00, 0xc0, 0x3f}; /* 1.5f little-endian */
        want[0] = 1.5f;
        check_dequant(OCTET_TYPE_F32, f32, want, 1, "F32");
        const uint8_t f16[8] = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0xff, 0x7b}; /* 1, -2, 2^-24, 65504 */
        const float wf16[4] = {1.0f, -2.0f, 0x1p-24f, 65504.0f};
        check_dequant(OCTET_TYPE_F16, f16, wf16, 4, "F16");
        const uint8_t bf16[4] = {0x80, 0x3f, 0x49, 0x40}; /* 1.0, 3.140625 */
        const float wbf[2] = {1.0f, 3.140625f};
        check_dequant(OCTET_TYPE_BF16, bf16, wbf, 2, "BF16");
    }
    {   /* Q4_0: d = 0.5 (fp16 0x3800); byte j = j | (15 - j) << 4 -> w[j] = 0.5 (j - 8), w[16+j] = 0.5 (7 - j) */
        uint8_t b[18] = {0x00, 0x38};
        for (int j = 0; j < 16; j++) b[2 + j] = (uint8_t)(j | ((15 - j) << 4));
        for (int j = 0; j < 16; j++) {
            want[j] = 0.5f * (float)(j - 8);
            want[16 + j] = 0.5f * (float)(7 - j);
        }
        check_dequant(OCTET_TYPE_Q4_0, b, want, 32, "Q4_0");
    }
    {   /* Q4_1: d = 1 (0x3c00), m = -1 (0xbc00); byte j = j | j << 4 -> w[j] = w[16+j] = j - 1 */
        uint8_t b[20] = {0x00, 0x3c, 0x00, 0xbc};
        for (int j = 0; j < 16; j++) b[4 + j] = (uint8_t)(j * 0x11);
        for (int j = 0; j < 16; j++) want[j] = want[16 + j] = (float)(j - 1);
        check_dequant(OCTET_TYPE_Q4_1, b, want, 32, "Q4_1");
    }
    {   /* Q5_0: d = 2 (0x4000); qh = 0xaaaaaaaa (odd weights have the 5th bit); nibbles 0x5 low, 0xa high
         * -> w[j] = 2 * ((5 + 16*(j odd)) - 16) for j < 16, 2 * ((10 + 16*(j odd)) - 16) for j >= 16 */
        uint8_t b[22] = {0x00, 0x40, 0xaa, 0xaa, 0xaa, 0xaa};
        for (int j = 0; j < 16; j++) b[6 + j] = 0xa5;
        for (int j = 0; j < 32; j++) want[j] = 2.0f * (float)((j < 16 ? 5 : 10) + 16 * (j & 1) - 16);
        check_dequant(OCTET_TYPE_Q5_0, b, want, 32, "Q5_0");
    }
    {   /* Q5_1: d = 0.25 (0x3400), m = 3 (0x4200); qh bytes 0xff,0x00,0x0f,0xf0; nibbles j & 15 (low), 15 (high) */
        uint8_t b[24] = {0x00, 0x34, 0x00, 0x42, 0xff, 0x00, 0x0f, 0xf0};
        for (int j = 0; j < 16; j++) b[8 + j] = (uint8_t)(j | 0xf0);
        const uint32_t qh = 0xf00f00ffu;
        for (int j = 0; j < 32; j++) {
            const int nib = j < 16 ? j : 15;
            want[j] = 0.25f * (float)(nib + 16 * (int)((qh >> j) & 1)) + 3.0f;
        }
        check_dequant(OCTET_TYPE_Q5_1, b, want, 32, "Q5_1");
    }
    {   /* Q8_0: d = 0.25; q[j] = j - 16 */
        uint8_t b[34] = {0x00, 0x34};
        for (int j = 0; j < 32; j++) {
            b[2 + j] = (uint8_t)(int8_t)(j - 16);
            want[j] = 0.25f * (float)(j - 16);
        }
        check_dequant(OCTET_TYPE_Q8_0, b, want, 32, "Q8_0");
        /* Q8_1: the same with s in front of the codes */
        uint8_t c[36] = {0x00, 0x34, 0x00, 0xd8}; /* s = -8*... any value; not used by dequantization */
        memcpy(c + 4, b + 2, 32);
        check_dequant(OCTET_TYPE_Q8_1, c, want, 32, "Q8_1");
    }
    {   /* Q4_K: d = 1, dmin = 0.5; sc = {1,2,3,4,33,40,50,63}, m = {0,1,2,3,17,20,62,63} packed by hand:
         * bytes 0-3: sc[j] | (sc[j+4] >> 4) << 6; 4-7: m[j] | (m[j+4] >> 4) << 6; 8-11: lo4(sc[j+4]) | lo4(m[j+4]) << 4 */
        static const int sc[8] = {1, 2, 3, 4, 33, 40, 50, 63}, m[8] = {0, 1, 2, 3, 17, 20, 62, 63};
        uint8_t b[144] = {0x00, 0x3c, 0x00, 0x38, 0x81, 0x82, 0xc3, 0xc4, 0x40, 0x41, 0xc2, 0xc3, 0x11, 0x48, 0xe2, 0xff};
        for (int k = 0; k < 128; k++) b[16 + k] = (uint8_t)((k & 15) | ((15 - (k & 15)) << 4));
        for (int e = 0; e < 256; e++) {
            const int p = e % 64, q = p < 32 ? (p & 15) : 15 - ((p - 32) & 15);
            want[e] = 1.0f * (float)sc[e / 32] * (float)q - 0.5f * (float)m[e / 32];
        }
        check_dequant(OCTET_TYPE_Q4_K, b, want, 256, "Q4_K");
        uint8_t usc[8], um[8];
        octet__q4_K_scales(b + 4, usc, um);
        int ok = 1;
        for (int j = 0; j < 8; j++) ok &= usc[j] == sc[j] && um[j] == m[j];
        CHECK(ok);
    }
    {   /* Q6_K: per half h, ql[64h+l] = (l&15) | ((l+1)&15) << 4, ql[64h+32+l] = ((l+2)&15) | ((l+3)&15) << 4,
         * qh = 0xe4 (hi2 = 0,1,2,3 for the four 32-groups), scales[j] = j - 8, d = 0.5 (0x3800).
         * code of weight 128h + 32g + l: lo4 = (l + {0,2,1,3}[g]) & 15, | g << 4 */
        uint8_t b[210];
        for (int hh = 0; hh < 2; hh++)
            for (int l = 0; l < 32; l++) {
                b[64 * hh + l] = (uint8_t)((l & 15) | (((l + 1) & 15) << 4));
                b[64 * hh + 32 + l] = (uint8_t)(((l + 2) & 15) | (((l + 3) & 15) << 4));
                b[128 + 32 * hh + l] = 0xe4;
            }
        for (int j = 0; j < 16; j++) b[192 + j] = (uint8_t)(int8_t)(j - 8);
        b[208] = 0x00;
        b[209] = 0x38;
        static const int add[4] = {0, 2, 1, 3};
        for (int e = 0; e < 256; e++) {
            const int p = e % 128, g = p / 32, l = p % 32, q = ((l + add[g]) & 15) | (g << 4);
            want[e] = 0.5f * (float)(e / 16 - 8) * (float)(q - 32);
        }
        check_dequant(OCTET_TYPE_Q6_K, b, want, 256, "Q6_K");
    }
    {   /* Q8_K: d = -0.5f (float), q[j] = j - 128 */
        static block_q8_K b;
        const float d = -0.5f;
        memcpy(&b.d, &d, 4);
        for (int j = 0; j < 256; j++) {
            b.qs[j] = (int8_t)(j - 128);
            want[j] = -0.5f * (float)(j - 128);
        }
        check_dequant(OCTET_TYPE_Q8_K, &b, want, 256, "Q8_K");
    }
}

/* ---- known-answer quantizer outputs (ggml reference semantics) ------------------------------------------------- */
static void test_quantizer_known_answers(void) {
    float x[256];
    {   /* Q4_0 of x[j] = j - 16: max = -16 (first largest magnitude) -> d = 2, id = 0.5,
         * q[j] = min(15, trunc((j - 16)/2 + 8.5)) = min(15, (j + 1) / 2) */
        block_q4_0 b;
        for (int j = 0; j < 32; j++) x[j] = (float)(j - 16);
        octet__from_float_q4_0_ref(x, &b, 32);
        CHECK(b.d == 0x4000);
        int ok = 1;
        for (int j = 0; j < 16; j++) {
            const int q0 = (j + 1) / 2, q1 = (j + 17) / 2 < 15 ? (j + 17) / 2 : 15;
            ok &= b.qs[j] == (uint8_t)(q0 | (q1 << 4));
        }
        CHECK(ok);
        /* sign of the scale follows the first element of largest magnitude: +16 first -> d = -2 */
        x[0] = 16.0f;
        x[31] = -16.0f;
        octet__from_float_q4_0_ref(x, &b, 32);
        CHECK(b.d == 0xc000);
    }
    {   /* Q4_1 of x[j] = j: min 0, d = 31/15, q = trunc(j * 15/31 + 0.5) (no ties) */
        block_q4_1 b;
        for (int j = 0; j < 32; j++) x[j] = (float)j;
        octet__from_float_q4_1_ref(x, &b, 32);
        CHECK(b.m == 0 && b.d == h(31.0f / 15.0f));
        int ok = 1;
        for (int j = 0; j < 16; j++) {
            const int q0 = (int)floor(j * 15.0 / 31.0 + 0.5), q1 = (int)floor((j + 16) * 15.0 / 31.0 + 0.5);
            ok &= b.qs[j] == (uint8_t)(q0 | (q1 << 4));
        }
        CHECK(ok);
    }
    /* Q8_0 / Q8_1 / Q8_K: amax 127 makes d = 1 and id = 1 (Q8_K: iscale = -1), so codes are roundings of x:
     * roundf for Q8_0/Q8_1 (half away from zero), nearest-even for Q8_K. */
    static const float xs[8] = {127.0f, 0.5f, 2.5f, -2.5f, -0.5f, 1.5f, 0.49999997f, -126.5f};
    static const int8_t want80[8] = {127, 1, 3, -3, -1, 2, 0, -127};
    static const int8_t want8k[8] = {-127, 0, -2, 2, 0, -2, 0, 126};
    for (int j = 0; j < 256; j++) x[j] = j < 8 ? xs[j] : (float)((j % 7) - 3);
    const octet__type_traits *s = octet__kernels_simd();
    for (int pass = 0; pass < (s ? 2 : 1); pass++) {
        block_q8_0 b0[8];
        block_q8_1 b1[8];
        block_q8_K bk;
        (pass ? s : octet__kernels_ref())[OCTET_TYPE_Q8_0].from_float(x, b0, 256);
        (pass ? s : octet__kernels_ref())[OCTET_TYPE_Q8_1].from_float(x, b1, 256);
        (pass ? s : octet__kernels_ref())[OCTET_TYPE_Q8_K].from_float(x, &bk, 256);
        CHECKF(b0[0].d == 0x3c00 && memcmp(b0[0].qs, want80, 8) == 0, "Q8_0 known answer (%s)", pass ? "avx2" : "ref");
        int sum = 0;
        for (int j = 0; j < 32; j++) sum += b1[0].qs[j];
        CHECKF(b1[0].d == 0x3c00 && memcmp(b1[0].qs, want80, 8) == 0 && b1[0].s == h((float)sum),
               "Q8_1 known answer (%s)", pass ? "avx2" : "ref");
        CHECKF(bk.d == -1.0f && memcmp(bk.qs, want8k, 8) == 0, "Q8_K known answer (%s)", pass ? "avx2" : "ref");
        int bs = 0;
        for (int j = 16; j < 32; j++) bs += bk.qs[j];
        CHECK(bk.bsums[1] == bs);
    }
}

/* ---- random rows ------------------------------------------------------------------------------------------- */
/* fp16 scale fields (offsets within a block) per type; -1 terminated */
static const int *scale_offsets(int type, size_t *stride) {
    static const int d0[] = {0, -1}, dm[] = {0, 2, -1}, q6[] = {208, -1}, none[] = {-1};
    *stride = octet__kernels_ref()[type].type_size;
    switch (type) {
    case OCTET_TYPE_Q4_0: case OCTET_TYPE_Q5_0: case OCTET_TYPE_Q8_0: return d0;
    case OCTET_TYPE_Q4_1: case OCTET_TYPE_Q5_1: case OCTET_TYPE_Q4_K: return dm;
    case OCTET_TYPE_Q6_K: return q6;
    default: return none;
    }
}

/* Fill a weight row: random code bytes, scale fields = fp16(mag * u), u uniform in [-1,1) (or exactly `mag` when
 * fixed). Float types get mag * gaussian values. */
static void fill_weights(int type, uint8_t *w, int64_t n, float mag, int fixed) {
    const octet__type_traits *t = &octet__kernels_ref()[type];
    const size_t bytes = octet__row_bytes(type, n);
    if (type == OCTET_TYPE_F32 || type == OCTET_TYPE_F16 || type == OCTET_TYPE_BF16) {
        float *tmp = malloc((size_t)n * sizeof(float));
        for (int64_t i = 0; i < n; i++) tmp[i] = fixed ? mag : mag * gauss();
        t->from_float(tmp, w, n);
        free(tmp);
        return;
    }
    for (size_t i = 0; i < bytes; i++) w[i] = (uint8_t)t_rng_next(&g_rng);
    size_t stride;
    const int *off = scale_offsets(type, &stride);
    for (size_t b = 0; b < bytes / stride; b++)
        for (int k = 0; off[k] >= 0; k++) {
            const uint16_t v = h(fixed ? mag : mag * rnd());
            memcpy(w + b * stride + off[k], &v, 2);
        }
}

/* Activation row for vec_dot_type `at`, quantized from floats x by the reference quantizer. */
static void make_act(int at, const float *x, uint8_t *a, int64_t n) { octet__kernels_ref()[at].from_float(x, a, n); }

/* Activation row of unit scale with codes uniform in [-cmax, cmax] (bsums / s consistent). */
static void make_act_unit(int at, uint8_t *a, int64_t n, int cmax) {
    for (int64_t b = 0; b < n / 32; b++) {
        int8_t q[32];
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            q[j] = (int8_t)((int)(t_rng_next(&g_rng) % (uint64_t)(2 * cmax + 1)) - cmax);
            sum += q[j];
        }
        if (at == OCTET_TYPE_Q8_0) {
            block_q8_0 *y = (block_q8_0 *)a + b;
            y->d = 0x3c00;
            memcpy(y->qs, q, 32);
        } else if (at == OCTET_TYPE_Q8_1) {
            block_q8_1 *y = (block_q8_1 *)a + b;
            y->d = 0x3c00;
            y->s = h((float)sum); /* exact: |sum| <= 2048 for cmax <= 64 */
            memcpy(y->qs, q, 32);
        } else if (at == OCTET_TYPE_Q8_K) {
            block_q8_K *y = (block_q8_K *)a + b / 8;
            y->d = 1.0f;
            memcpy(y->qs + 32 * (b % 8), q, 32);
            for (int g = 0; g < 2; g++) {
                int bs = 0;
                for (int l = 0; l < 16; l++) bs += q[16 * g + l];
                y->bsums[2 * (b % 8) + g] = (int16_t)bs;
            }
        }
    }
}

/* a dequantized copy of row w with the fp16 field at offset `zero_off` of every block set to 0 */
static void dequant_zeroing(int type, const uint8_t *w, int64_t n, int zero_off, float *out) {
    const size_t bytes = octet__row_bytes(type, n), stride = octet__kernels_ref()[type].type_size;
    uint8_t *c = malloc(bytes);
    memcpy(c, w, bytes);
    if (zero_off >= 0)
        for (size_t b = 0; b < bytes / stride; b++) memset(c + b * stride + zero_off, 0, 2);
    octet__kernels_ref()[type].to_float(c, out, n);
    free(c);
}

static int g_dot_cases;

/* Check ref and AVX2 dots of weight row w (type) and activation row a against each other and against float64. */
static void check_dot(int type, const uint8_t *w, const uint8_t *a, int64_t n, int exact, const char *what) {
    const octet__type_traits *r = &octet__kernels_ref()[type];
    const int at = r->vec_dot_type;
    float *wf = malloc((size_t)n * sizeof(float)), *af = malloc((size_t)n * sizeof(float));
    float *wd = malloc((size_t)n * sizeof(float)), *wm = malloc((size_t)n * sizeof(float));
    r->to_float(w, wf, n);
    octet__kernels_ref()[at].to_float(a, af, n);
    const int has_min = type == OCTET_TYPE_Q4_1 || type == OCTET_TYPE_Q5_1 || type == OCTET_TYPE_Q4_K;
    if (has_min) {
        dequant_zeroing(type, w, n, 2, wd); /* scale part only */
        dequant_zeroing(type, w, n, 0, wm); /* min part only */
    }
    double dot64 = 0, M = 0, smin = 0;
    for (int64_t i = 0; i < n; i++) {
        dot64 += (double)wf[i] * (double)af[i];
        M += fabs((double)af[i]) * (has_min ? fabs((double)wd[i]) + fabs((double)wm[i]) : fabs((double)wf[i]));
    }
    if (at == OCTET_TYPE_Q8_1)
        for (int64_t b = 0; b < n / 32; b++) {
            uint16_t m, s;
            memcpy(&m, w + (size_t)b * r->type_size + 2, 2);
            memcpy(&s, a + (size_t)b * sizeof(block_q8_1) + 2, 2);
            smin += fabs((double)octet__fp16_to_fp32(m) * (double)octet__fp16_to_fp32(s));
        }
    float ref;
    r->vec_dot(n, &ref, w, a);
    const double tol = 1e-5 * M + 1e-30, tol64 = tol + 0x1p-11 * smin;
    g_dot_cases++;
    CHECKF(fabs((double)ref - dot64) <= tol64, "%s: ref %.9g vs dot64 %.9g (tol %.3g)", what, (double)ref, dot64, tol64);
    if (exact) CHECKF((double)ref == dot64, "%s: ref %.9g != exact %.9g", what, (double)ref, dot64);
    const octet__type_traits *s = octet__kernels_simd();
    if (s) {
        float simd;
        s[type].vec_dot(n, &simd, w, a);
        CHECKF(fabs((double)simd - (double)ref) <= tol, "%s: avx2 %.9g vs ref %.9g (tol %.3g)", what, (double)simd,
               (double)ref, tol);
        if (exact) CHECKF(simd == ref, "%s: avx2 %.9g != ref %.9g", what, (double)simd, (double)ref);
    }
    free(wf);
    free(af);
    free(wd);
    free(wm);
}

static void test_dots(void) {
    if (!octet__kernels_simd()) printf("skip: AVX2 dot comparisons (CPU lacks AVX2/FMA/F16C); reference checked\n");
    char what[128];
    for (int k = 0; k < N_WEIGHT_TYPES; k++) {
        const int type = k_weight_types[k];
        const octet__type_traits *r = &octet__kernels_ref()[type];
        const int at = r->vec_dot_type, bs = r->block_size == 1 ? 32 : r->block_size;
        /* element counts: one block, odd block counts (unroll tails), many blocks; float types also odd n */
        const int64_t counts[] = {bs, 3 * bs, 7 * bs, 4096, r->block_size == 1 ? 37 : 8 * bs, r->block_size == 1 ? 1 : bs};
        for (int c = 0; c < 6; c++) {
            const int64_t n = counts[c];
            uint8_t *w = malloc(octet__row_bytes(type, n) + 1), *a = malloc(octet__row_bytes(at, n) + 1);
            float *x = malloc((size_t)n * sizeof(float));
            /* random weights and gaussian activations, scales of three magnitudes */
            static const float mags[3] = {0.02f, 3000.0f, 1e-4f};
            for (int m = 0; m < 3; m++) {
                fill_weights(type, w, n, mags[m], 0);
                for (int64_t i = 0; i < n; i++) x[i] = gauss() * (m == 1 ? 100.0f : 1.0f);
                make_act(at, x, a, n);
                snprintf(what, sizeof what, "%s n=%lld random mag=%g", r->name, (long long)n, (double)mags[m]);
                check_dot(type, w, a, n, 0, what);
            }
            /* zeros */
            memset(x, 0, (size_t)n * sizeof(float));
            fill_weights(type, w, n, 0.0f, 1);
            make_act(at, x, a, n);
            snprintf(what, sizeof what, "%s n=%lld zeros", r->name, (long long)n);
            check_dot(type, w, a, n, 1, what);
            /* all-equal activations */
            for (int64_t i = 0; i < n; i++) x[i] = 0.75f;
            fill_weights(type, w, n, 0.1f, 0);
            make_act(at, x, a, n);
            snprintf(what, sizeof what, "%s n=%lld equal", r->name, (long long)n);
            check_dot(type, w, a, n, 0, what);
            if (r->is_quantized && n <= 2048) {
                /* unit scales, small codes: every partial sum is an integer below 2^24 -> exact everywhere */
                const int cmax = type == OCTET_TYPE_Q6_K ? 16 : (type == OCTET_TYPE_Q4_K ? 60 : 63);
                fill_weights(type, w, n, 1.0f, 1);
                make_act_unit(at, a, n, cmax);
                snprintf(what, sizeof what, "%s n=%lld unit-scale exact", r->name, (long long)n);
                check_dot(type, w, a, n, 1, what);
                /* extreme codes: every weight byte 0xff or 0x00 (all codes at their max or min), activations
                 * at +-127 (+-63 for Q8_1, whose s must stay exact) with the worst sign patterns */
                for (int pat = 0; pat < 4; pat++) {
                    fill_weights(type, w, n, 1.0f, 1);
                    size_t stride;
                    const int *off = scale_offsets(type, &stride);
                    for (size_t b = 0; b < octet__row_bytes(type, n) / stride; b++) {
                        uint8_t save[4][2];
                        int no = 0;
                        for (; off[no] >= 0; no++) memcpy(save[no], w + b * stride + off[no], 2);
                        memset(w + b * stride, (pat & 1) ? 0xff : 0x00, stride);
                        if (type == OCTET_TYPE_Q4_K) memset(w + b * stride + 4, 0xff, 12); /* sc = m = 63 */
                        if (type == OCTET_TYPE_Q6_K) memset(w + b * stride + 192, (pat & 1) ? 0x80 : 0x7f, 16);
                        for (int q = 0; q < no; q++) memcpy(w + b * stride + off[q], save[q], 2);
                    }
                    make_act_unit(at, a, n, 1);
                    const int cm = at == OCTET_TYPE_Q8_1 ? 63 : 127;
                    /* rewrite codes to +-cm keeping the unit scale; recompute s / bsums */
                    for (int64_t i = 0; i < n; i++) x[i] = (float)(((pat & 2) ? (i & 1) : 0) ? -cm : cm);
                    if (at == OCTET_TYPE_Q8_K) {
                        for (int64_t i = 0; i < n; i++) x[i] = (pat & 2) && (i & 1) ? -127.0f : 127.0f;
                        make_act(at, x, a, n); /* max = 127 -> d = -1, codes -+127 */
                    } else {
                        make_act(at, x, a, n); /* amax = cm -> d = cm/127, codes +-127 */
                    }
                    snprintf(what, sizeof what, "%s n=%lld extreme pattern %d", r->name, (long long)n, pat);
                    check_dot(type, w, a, n, 0, what);
                }
            }
            free(w);
            free(a);
            free(x);
        }
    }
    /* a weight code of -128 (Q8_0 from a file) times activations of +-127 */
    {
        block_q8_0 wq[2], aq[2];
        for (int b = 0; b < 2; b++) {
            wq[b].d = aq[b].d = 0x3c00;
            for (int j = 0; j < 32; j++) {
                wq[b].qs[j] = -128;
                aq[b].qs[j] = (int8_t)((j & 1) ? -127 : 127);
            }
        }
        aq[1].qs[0] = -127;
        check_dot(OCTET_TYPE_Q8_0, (uint8_t *)wq, (uint8_t *)aq, 64, 1, "Q8_0 code -128");
    }
}

/* ---- activation quantizers and dequantizers: AVX2 bit-identical ------------------------------------------------ */
static void test_quantizers_simd(void) {
    const octet__type_traits *s = octet__kernels_simd();
    if (!s) {
        printf("skip: AVX2 quantizers (CPU lacks AVX2/FMA/F16C)\n");
        return;
    }
    static const int types[] = {OCTET_TYPE_Q8_0, OCTET_TYPE_Q8_1, OCTET_TYPE_Q8_K};
    enum { N = 4096 };
    static float x[N];
    static uint8_t qa[N * 4], qb[N * 4];
    for (int kind = 0; kind < 8; kind++) {
        for (int i = 0; i < N; i++) {
            switch (kind) {
            case 0: x[i] = gauss(); break;
            case 1: x[i] = 0.0f; break;
            case 2: x[i] = -3.25f; break;                           /* all equal */
            case 3: x[i] = gauss() * 1e30f; break;                  /* huge */
            case 4: x[i] = gauss() * 1e-30f; break;                 /* tiny */
            case 5: x[i] = (float)((int)(t_rng_next(&g_rng) % 255) - 127) * 0.5f; break; /* many .5 ties */
            case 6: x[i] = (i % 32 == 5) ? 1000.0f : gauss(); break; /* outliers */
            default: x[i] = (i & 1) ? 2.0f : -2.0f; break;          /* ties in the max with both signs */
            }
        }
        for (int k = 0; k < 3; k++) {
            const int t = types[k];
            const size_t bytes = octet__row_bytes(t, N);
            memset(qa, 0x55, bytes);
            memset(qb, 0xaa, bytes);
            octet__kernels_ref()[t].from_float(x, qa, N);
            s[t].from_float(x, qb, N);
            CHECKF(memcmp(qa, qb, bytes) == 0, "%s quantizer: AVX2 differs from reference (input kind %d)",
                   s[t].name, kind);
        }
    }
    /* dequantizers with SIMD twins */
    static float fa[N], fb[N];
    static const int dt[] = {OCTET_TYPE_Q4_0, OCTET_TYPE_Q8_0, OCTET_TYPE_F16, OCTET_TYPE_BF16, OCTET_TYPE_F32};
    for (int k = 0; k < 5; k++) {
        fill_weights(dt[k], qa, N, 0.5f, 0);
        octet__kernels_ref()[dt[k]].to_float(qa, fa, N);
        s[dt[k]].to_float(qa, fb, N);
        int bad = 0;
        for (int i = 0; i < N; i++) bad += f2u(fa[i]) != f2u(fb[i]);
        CHECKF(bad == 0, "%s to_float: %d AVX2 values differ", s[dt[k]].name, bad);
    }
}

/* ---- float helpers ------------------------------------------------------------------------------------------ */
static void test_fkernels(void) {
    const octet__fkernel_table *r = octet__fkernels_ref(), *s = octet__fkernels_simd();
    float y0[3] = {1, 2, 3};
    const float xx[3] = {4, 5, 6};
    CHECK(r->dot_f32(y0, xx, 3) == 32.0f);
    r->axpy_f32(y0, 2.0f, xx, 3);
    CHECK(y0[0] == 9.0f && y0[1] == 12.0f && y0[2] == 15.0f);
    r->scale_f32(y0, 0.5f, 3);
    CHECK(y0[0] == 4.5f && y0[1] == 6.0f && y0[2] == 7.5f);
    if (!s) {
        printf("skip: AVX2 float helpers\n");
        return;
    }
    static float a[1031], b[1031], c1[1031], c2[1031];
    const int ns[] = {0, 1, 7, 8, 33, 1031};
    for (int k = 0; k < 6; k++) {
        const int n = ns[k];
        double mag = 0;
        for (int i = 0; i < n; i++) {
            a[i] = gauss();
            b[i] = gauss();
            c1[i] = c2[i] = gauss();
            mag += fabs((double)a[i] * (double)b[i]);
        }
        const float dr = r->dot_f32(a, b, n), ds = s->dot_f32(a, b, n);
        CHECKF(fabs((double)dr - (double)ds) <= 1e-6 * mag + 1e-30, "dot_f32 n=%d: %g vs %g", n, (double)dr, (double)ds);
        r->axpy_f32(c1, 0.37f, a, n);
        s->axpy_f32(c2, 0.37f, a, n);
        CHECKF(memcmp(c1, c2, (size_t)n * sizeof(float)) == 0, "axpy_f32 n=%d not bit-identical", n);
        r->scale_f32(c1, -1.7f, n);
        s->scale_f32(c2, -1.7f, n);
        CHECKF(memcmp(c1, c2, (size_t)n * sizeof(float)) == 0, "scale_f32 n=%d not bit-identical", n);
    }
    /* the attention loops equal their per-key dot / axpy calls bit for bit, in both tables (head sizes with and
     * without the in-register path, keys 1..40, rows 3 floats apart from one another beyond the head) */
    static float kv[40 * 260], q[256], o1[256], o2[256], sc1[40], sc2[40], pr[40];
    const int hds[] = {8, 32, 48, 64, 80, 128, 7};
    for (int h = 0; h < 7; h++) {
        const int hd = hds[h], nk = 1 + 13 * h % 40;
        const size_t stride = (size_t)hd + 3;
        for (int i = 0; i < hd; i++) q[i] = gauss();
        for (size_t i = 0; i < (size_t)nk * stride; i++) kv[i] = gauss();
        for (int j = 0; j < nk; j++) pr[j] = (float)(j + 1) / (float)nk;
        const octet__fkernel_table *tabs[2] = {r, s};
        for (int t = 0; t < 2; t++) {
            const octet__fkernel_table *f = tabs[t];
            f->scores_f32(sc1, q, kv, stride, nk, hd, 0.125f);
            for (int j = 0; j < nk; j++) sc2[j] = f->dot_f32(q, kv + (size_t)j * stride, hd) * 0.125f;
            CHECKF(memcmp(sc1, sc2, (size_t)nk * sizeof(float)) == 0, "scores_f32 hd=%d table %d != dot_f32", hd, t);
            f->wsum_f32(o1, pr, 0.5f, kv, stride, nk, hd);
            memset(o2, 0, sizeof o2);
            for (int j = 0; j < nk; j++) f->axpy_f32(o2, pr[j] * 0.5f, kv + (size_t)j * stride, hd);
            CHECKF(memcmp(o1, o2, (size_t)hd * sizeof(float)) == 0, "wsum_f32 hd=%d table %d != axpy_f32", hd, t);
        }
    }
}

/* exp_f32 against double exp over a sweep of float bit patterns (every 257th float from -90 to 90, and the
 * specials), with a shift and a scale applied first; the AVX2 table gives the reference's bits exactly, for
 * every length 1..40 (the tail lanes) and in place. */
static void test_fexp(void) {
    const octet__fkernel_table *r = octet__fkernels_ref(), *s = octet__fkernels_simd();
    enum { CH = 4096 };
    static float x[CH], y1[CH], y2[CH];
    double worst = 0;
    long n_checked = 0, n_diff = 0;
    int nx = 0;
    const uint32_t top = 0x42b40000u; /* 90.0f */
    for (uint32_t b = 0;; b += 257) { /* both signs: b and b | sign bit */
        int last = b > top;
        float v;
        uint32_t bb = b > top ? top : b;
        for (int sign = 0; sign < 2; sign++) {
            uint32_t u = bb | (sign ? 0x80000000u : 0);
            memcpy(&v, &u, sizeof v);
            x[nx++] = v;
        }
        if (nx >= CH - 8 || last) {
            if (last) { /* the specials and the edges */
                const float sp[] = {-INFINITY, INFINITY, NAN, OCTET__EXP_LO, nextafterf(OCTET__EXP_LO, 0.0f),
                                    nextafterf(OCTET__EXP_LO, -100.0f), 88.0f, 88.5f};
                for (int i = 0; i < 8; i++) x[nx++] = sp[i];
            }
            r->exp_f32(y1, x, nx, 0.0f, 1.0f);
            if (s) {
                s->exp_f32(y2, x, nx, 0.0f, 1.0f);
                for (int i = 0; i < nx; i++) n_diff += memcmp(&y1[i], &y2[i], sizeof(float)) != 0;
            }
            for (int i = 0; i < nx; i++) {
                const double a = (double)x[i];
                double want;
                if (!(a >= (double)OCTET__EXP_LO)) want = 0.0;
                else want = exp(a > 88.0 ? 88.0 : a);
                const double e = fabs((double)y1[i] - want);
                CHECKF(e <= 3e-7 * want + 1e-45, "exp(%.9g) = %.9g, want %.9g", a, (double)y1[i], want);
                if (want > (double)FLT_MIN && e / want > worst) worst = e / want;
                n_checked++;
            }
            nx = 0;
        }
        if (last) break;
    }
    CHECKF(n_diff == 0, "exp_f32: %ld of %ld AVX2 results differ from the reference", n_diff, n_checked);
    printf("exp_f32: %ld arguments, worst relative error %.3g\n", n_checked, worst);
    /* shift and scale, every length (tails), in place */
    for (int n = 1; n <= 40; n++) {
        for (int i = 0; i < n; i++) x[i] = (float)(i * 7 % 13) - 6.5f;
        r->exp_f32(y1, x, n, 2.25f, 0.8f);
        for (int i = 0; i < n; i++) {
            const double want = exp(((double)x[i] - 2.25) * 0.8);
            CHECKF(fabs((double)y1[i] - want) <= 4e-7 * want, "exp_f32 shifted n=%d i=%d", n, i);
        }
        if (!s) continue;
        memcpy(y2, x, (size_t)n * sizeof(float));
        s->exp_f32(y2, y2, n, 2.25f, 0.8f);
        CHECKF(memcmp(y1, y2, (size_t)n * sizeof(float)) == 0, "exp_f32 n=%d in place: AVX2 != reference", n);
    }
}

int main(void) {
    test_tables();
    test_fexp();
    test_hand_blocks();
    test_quantizer_known_answers();
    test_quantizers_simd();
    test_dots();
    test_fkernels();
    printf("%d dot cases\n", g_dot_cases);
    TEST_MAIN_END();
}
