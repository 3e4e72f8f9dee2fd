/*
 * test_q5k.c - the Q5_K type: a hand-packed block dequantized to hand-computed values (scales packed byte by
 * byte from the published Q4_K/Q5_K scale layout, codes laid out following ggml's 64-weight chunk walk); the
 * Q5_K x Q8_K dot (reference and AVX2) against float64 sums of the dequantized operands; the AVX2 dot at the
 * extreme codes; quantize/dequantize round-trip RMSE on Gaussian data; the quantizer's output re-read.
 */
#include "test.h"

#include "core/core.h"
#include "kernels/kernels_impl.h"

static uint64_t g_rng = 7;
static float gauss(void) {
    float u1 = 0.5f * (t_rng_f(&g_rng) + 1.0f), u2 = t_rng_f(&g_rng);
    if (u1 < 1e-12f) u1 = 1e-12f;
    return (float)(sqrt(-2.0 * log((double)u1)) * cos(3.14159265358979 * (double)u2));
}

/* sc = {1,2,3,4,33,40,50,63}, m = {0,1,2,3,17,20,62,63}, packed by hand:
 *   bytes 0..3:  sc[j] | (sc[j+4] >> 4) << 6   = 1|2<<6, 2|2<<6, 3|3<<6, 4|3<<6
 *   bytes 4..7:  m[j]  | (m[j+4] >> 4) << 6    = 0|1<<6, 1|1<<6, 2|3<<6, 3|3<<6
 *   bytes 8..11: (sc[j+4] & 15) | (m[j+4] & 15) << 4 = 1|1<<4, 8|4<<4, 2|14<<4, 15|15<<4 */
static const uint8_t k_scales[12] = {129, 130, 195, 196, 64, 65, 194, 195, 17, 72, 226, 255};
static const int k_sc[8] = {1, 2, 3, 4, 33, 40, 50, 63}, k_m[8] = {0, 1, 2, 3, 17, 20, 62, 63};

/* Lay out 256 codes (0..31) following ggml's dequantize_row_q5_K walk: chunk c covers weights 64c..64c+63;
 * weight 64c + l: low nibble of qs[32c + l], 5th bit in qh[l] bit 2c; weight 64c + 32 + l: high nibble,
 * qh[l] bit 2c+1. */
static void pack_codes(block_q5_K *b, const int q[QK_K]) {
    memset(b->qs, 0, sizeof b->qs);
    memset(b->qh, 0, sizeof b->qh);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            const int lo = q[64 * c + l], hi = q[64 * c + 32 + l];
            b->qs[32 * c + l] = (uint8_t)((lo & 15) | ((hi & 15) << 4));
            b->qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
        }
}

static void make_q8K(block_q8_K *a, float d, const int v[QK_K]) {
    a->d = d;
    for (int j = 0; j < QK_K; j++) a->qs[j] = (int8_t)v[j];
    for (int g = 0; g < 16; g++) {
        int s = 0;
        for (int l = 0; l < 16; l++) s += v[16 * g + l];
        a->bsums[g] = (int16_t)s;
    }
}

static void test_table(void) {
    const octet__type_traits *t = &octet__kernels_ref()[OCTET_TYPE_Q5_K];
    CHECK(sizeof(block_q5_K) == 176);
    CHECK(t->block_size == 256 && t->type_size == 176 && t->is_quantized);
    CHECK(t->vec_dot_type == OCTET_TYPE_Q8_K && t->vec_dot && t->to_float && t->from_float);
    CHECK(strcmp(t->name, "Q5_K") == 0);
    CHECK(octet__row_bytes(OCTET_TYPE_Q5_K, 512) == 352 && octet__row_bytes(OCTET_TYPE_Q5_K, 100) == 0);
}

static void test_hand_block(void) {
    block_q5_K b;
    b.d = 0x3c00;    /* 1.0 */
    b.dmin = 0x3800; /* 0.5 */
    memcpy(b.scales, k_scales, 12);
    int q[QK_K];
    for (int e = 0; e < QK_K; e++) q[e] = (e * 7 + 3) % 32;
    q[5] = 31;
    q[200] = 0;
    pack_codes(&b, q);
    uint8_t sc[8], m[8];
    octet__q4_K_scales(b.scales, sc, m);
    for (int j = 0; j < 8; j++) CHECKF(sc[j] == k_sc[j] && m[j] == k_m[j], "scale %d: %d %d", j, sc[j], m[j]);
    float out[QK_K];
    octet__to_float_q5_K_ref(&b, out, QK_K);
    int bad = 0;
    for (int e = 0; e < QK_K; e++) {
        const double want = 1.0 * k_sc[e / 32] * q[e] - 0.5 * k_m[e / 32];
        if ((double)out[e] != want) bad++;
    }
    CHECKF(bad == 0, "%d of 256 dequantized values differ from the hand-computed ones", bad);
    CHECK(out[5] == 31.0f && out[200] == -31.0f); /* 1*1*31 - 0; sub-block 6: 0 - 0.5*62 */

    /* dot with a hand-built Q8_K: exact in float64 (small integers times powers of two) */
    int v[QK_K];
    for (int e = 0; e < QK_K; e++) v[e] = ((e * 37) % 255) - 127;
    block_q8_K a;
    make_q8K(&a, 0.25f, v);
    double want = 0;
    for (int e = 0; e < QK_K; e++) want += (double)out[e] * 0.25 * v[e];
    float got = 0;
    octet__dot_q5_K_q8_K_ref(QK_K, &got, &b, &a);
    CHECKF(fabs((double)got - want) <= 1e-6 * fabs(want) + 1e-3, "ref dot %g want %g", (double)got, want);
    const octet__type_traits *simd = octet__kernels_simd();
    if (simd) {
        float g2 = 0;
        simd[OCTET_TYPE_Q5_K].vec_dot(QK_K, &g2, &b, &a);
        CHECKF(fabs((double)g2 - want) <= 1e-6 * fabs(want) + 1e-3, "avx2 dot %g want %g", (double)g2, want);
    }
}

/* Every code 31 with scale 63 and activations +-127: the largest int16 pair sums and int32 block sums. */
static void test_extremes(void) {
    const octet__type_traits *simd = octet__kernels_simd();
    block_q5_K b[2];
    int q[QK_K], v[QK_K];
    for (int e = 0; e < QK_K; e++) q[e] = 31;
    for (int k = 0; k < 2; k++) {
        b[k].d = 0x3c00;
        b[k].dmin = 0x3c00;
        memset(b[k].scales, 0xff, 12); /* every scale and min 63 */
        pack_codes(&b[k], q);
    }
    block_q8_K a[2];
    for (int e = 0; e < QK_K; e++) v[e] = 127;
    make_q8K(&a[0], 1.0f, v);
    for (int e = 0; e < QK_K; e++) v[e] = e % 2 ? -127 : 127;
    make_q8K(&a[1], 1.0f, v);
    /* block 0: 256 * (63*31 - 63) * 127; block 1: alternating signs cancel to 0 */
    const double want = 256.0 * (63.0 * 31.0 - 63.0) * 127.0;
    float got = 0;
    octet__dot_q5_K_q8_K_ref(2 * QK_K, &got, b, a);
    CHECKF((double)got == want, "ref extreme dot %.1f want %.1f", (double)got, want);
    if (simd) {
        float g2 = 0;
        simd[OCTET_TYPE_Q5_K].vec_dot(2 * QK_K, &g2, b, a);
        CHECKF((double)g2 == want, "avx2 extreme dot %.1f want %.1f", (double)g2, want);
    }
}

enum { ROW = 4096, ROWS = 32 };

static void test_roundtrip_and_dots(void) {
    const octet__type_traits *r = octet__kernels_ref(), *simd = octet__kernels_simd();
    float *x = malloc(sizeof(float) * ROW), *y = malloc(sizeof(float) * ROW), *act = malloc(sizeof(float) * ROW),
          *adq = malloc(sizeof(float) * ROW);
    block_q5_K *qw = malloc(sizeof(block_q5_K) * (ROW / QK_K));
    block_q8_K *qa = malloc(sizeof(block_q8_K) * (ROW / QK_K));
    double se = 0, ss = 0, worst_ref = 0, worst_simd = 0;
    int exact_int = 1;
    for (int row = 0; row < ROWS; row++) {
        const float scale = row % 4 == 3 ? 1e-3f : 1.0f; /* small-magnitude rows too */
        for (int i = 0; i < ROW; i++) x[i] = gauss() * scale + (row % 5 == 4 ? 0.7f * scale : 0.0f);
        r[OCTET_TYPE_Q5_K].from_float(x, qw, ROW);
        r[OCTET_TYPE_Q5_K].to_float(qw, y, ROW);
        for (int i = 0; i < ROW; i++) {
            se += ((double)y[i] - (double)x[i]) * ((double)y[i] - (double)x[i]) / ((double)scale * (double)scale);
            ss += 1.0;
        }
        /* dot: float64 sum of the dequantized operands is the exact value of the quantized dot */
        for (int i = 0; i < ROW; i++) act[i] = gauss();
        r[OCTET_TYPE_Q8_K].from_float(act, qa, ROW);
        r[OCTET_TYPE_Q8_K].to_float(qa, adq, ROW);
        double exact = 0, mag = 0;
        for (int i = 0; i < ROW; i++) {
            exact += (double)y[i] * (double)adq[i];
            mag += fabs((double)y[i] * (double)adq[i]);
        }
        float d_ref = 0, d_simd = 0;
        r[OCTET_TYPE_Q5_K].vec_dot(ROW, &d_ref, qw, qa);
        worst_ref = fmax(worst_ref, fabs((double)d_ref - exact) / mag);
        if (simd) {
            simd[OCTET_TYPE_Q5_K].vec_dot(ROW, &d_simd, qw, qa);
            worst_simd = fmax(worst_simd, fabs((double)d_simd - exact) / mag);
            /* one block: the integer parts are exact in both, only float rounding of two products differs */
            float b1 = 0, b2 = 0;
            r[OCTET_TYPE_Q5_K].vec_dot(QK_K, &b1, qw, qa);
            simd[OCTET_TYPE_Q5_K].vec_dot(QK_K, &b2, qw, qa);
            if (fabs((double)b1 - (double)b2) > 1e-6 * fabs((double)b1) + 1e-6 * mag / 16.0) exact_int = 0;
        }
    }
    const double rmse = sqrt(se / ss);
    printf("Q5_K rmse/std = %.5f (bound 0.043); dot error / sum|terms|: ref %.2e, avx2 %.2e (bound 1e-5)\n", rmse,
           worst_ref, worst_simd);
    CHECKF(rmse < 0.043, "Q5_K round-trip rmse/std %.5f", rmse);
    CHECKF(worst_ref < 1e-5, "ref dot error %.3g", worst_ref);
    CHECKF(worst_simd < 1e-5, "avx2 dot error %.3g", worst_simd);
    CHECK(exact_int);

    /* all-zero and constant rows */
    for (int i = 0; i < ROW; i++) x[i] = 0.0f;
    r[OCTET_TYPE_Q5_K].from_float(x, qw, ROW);
    r[OCTET_TYPE_Q5_K].to_float(qw, y, ROW);
    int bad = 0;
    for (int i = 0; i < ROW; i++) bad += y[i] != 0.0f;
    CHECKF(bad == 0, "zero row: %d non-zero values", bad);
    for (int i = 0; i < ROW; i++) x[i] = -0.375f;
    r[OCTET_TYPE_Q5_K].from_float(x, qw, ROW);
    r[OCTET_TYPE_Q5_K].to_float(qw, y, ROW);
    double emax = 0;
    for (int i = 0; i < ROW; i++) emax = fmax(emax, fabs((double)y[i] + 0.375));
    CHECKF(emax < 0.375 / 1000, "constant row: max error %g", emax);
    free(x);
    free(y);
    free(act);
    free(adq);
    free(qw);
    free(qa);
}

int main(void) {
    test_table();
    test_hand_block();
    test_extremes();
    test_roundtrip_and_dots();
    TEST_MAIN_END();
}
