/*
 * test_roundtrip.c - quantize -> dequantize round trips with the reference quantizers on Gaussian data
 * (N(0,1), 64 rows of 4096), RMSE relative to the data's standard deviation, against the bounds stated in
 * docs/kernels.md. The bounds carry about 20% margin over the values measured when they were set (printed).
 * Also: a row the format represents exactly comes back exactly (Q8_0 / Q4_0 / Q5_0 / Q6_K).
 */
#include "test.h"

#include "core/core.h"
#include "kernels/kernels_impl.h"

static uint64_t g_rng = 99;
static float gauss(void) {
    float u1 = 0.5f * (t_rng_f(&g_rng) + 1.0f), u2 = t_rng_f(&g_rng);
    if (u1 < 1e-12f) u1 = 1e-12f;
    return (float)(sqrt(-2.0 * log((double)u1)) * cos(3.14159265358979 * (double)u2));
}

enum { ROW = 4096, ROWS = 64, N = ROW * ROWS };

static double rel_rmse(int type, const float *x, float *y, uint8_t *q) {
    const octet__type_traits *t = &octet__kernels_ref()[type];
    for (int r = 0; r < ROWS; r++) {
        t->from_float(x + (size_t)r * ROW, q, ROW);
        t->to_float(q, y + (size_t)r * ROW, ROW);
    }
    double se = 0, ss = 0, mean = 0;
    for (int i = 0; i < N; i++) mean += (double)x[i];
    mean /= N;
    for (int i = 0; i < N; i++) {
        se += ((double)y[i] - (double)x[i]) * ((double)y[i] - (double)x[i]);
        ss += ((double)x[i] - mean) * ((double)x[i] - mean);
    }
    return sqrt(se / ss);
}

int main(void) {
    static const struct { int type; double bound; } cases[] = {
        {OCTET_TYPE_F16, 0.00025},  {OCTET_TYPE_BF16, 0.0020}, {OCTET_TYPE_Q8_0, 0.0065},
        {OCTET_TYPE_Q8_1, 0.0065},  {OCTET_TYPE_Q8_K, 0.0085}, {OCTET_TYPE_Q4_0, 0.105},
        {OCTET_TYPE_Q4_1, 0.095},   {OCTET_TYPE_Q5_0, 0.052},  {OCTET_TYPE_Q5_1, 0.046},
        {OCTET_TYPE_Q4_K, 0.086},   {OCTET_TYPE_Q6_K, 0.021},
    };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    uint8_t *q = malloc(ROW * 4);
    for (int i = 0; i < N; i++) x[i] = gauss();
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const double e = rel_rmse(cases[k].type, x, y, q);
        printf("%-5s rmse/std = %.5f (bound %.5f)\n", octet__kernels_ref()[cases[k].type].name, e, cases[k].bound);
        CHECKF(e < cases[k].bound, "%s rmse/std %.5f >= %.5f", octet__kernels_ref()[cases[k].type].name, e,
               cases[k].bound);
    }
    /* rows the format represents exactly: codes k times a power-of-two step, with each block's (sub-block's)
     * first element the one of largest magnitude, so the reference scale is exactly the step */
    static const struct { int type, period, kmin, kmax; float step; } ex[] = {
        {OCTET_TYPE_Q8_0, 32, -127, 127, 0.125f}, {OCTET_TYPE_Q4_0, 32, -8, 7, 0.25f},
        {OCTET_TYPE_Q5_0, 32, -16, 15, 0.25f},    {OCTET_TYPE_Q6_K, 16, -32, 31, 0.125f},
    };
    for (int k = 0; k < 4; k++) {
        const octet__type_traits *t = &octet__kernels_ref()[ex[k].type];
        const int span = ex[k].kmax - ex[k].kmin + 1;
        for (int i = 0; i < QK_K; i++) {
            const int kk = i % ex[k].period == 0 ? (ex[k].type == OCTET_TYPE_Q8_0 ? 127 : ex[k].kmin)
                                                 : ex[k].kmin + (i * 7) % span;
            x[i] = (float)kk * ex[k].step;
        }
        t->from_float(x, q, QK_K);
        t->to_float(q, y, QK_K);
        int bad = 0;
        for (int i = 0; i < QK_K; i++) bad += y[i] != x[i];
        CHECKF(bad == 0, "%s: %d values of a representable row do not come back exactly", t->name, bad);
    }
    free(x);
    free(y);
    free(q);
    TEST_MAIN_END();
}
