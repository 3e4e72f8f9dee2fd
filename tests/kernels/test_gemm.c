/*
 * test_gemm.c - the multi-token tile kernels (src/kernels/gemm.h) against their dot kernels, the reference and
 * float64.
 *
 * For Q8_0, Q4_0 (x Q8_0) and Q4_K, Q6_K (x Q8_K), random rows (uniform, and uniform with a few large
 * outliers), lengths with an odd block count, nc = 1..4 tokens:
 *   - AVX2 tile == AVX2 dot for every token, bit for bit (the property that makes a batched prompt identical to
 *     token-by-token decoding and results independent of the thread split);
 *   - reference tile == reference dot, bit for bit;
 *   - the Q4_0 4-row GEMV == the dot of each row, bit for bit (AVX2 and reference);
 *   - AVX2 tile vs the reference dot and vs the float64 dot of the dequantized rows: |diff| <= (nb + 8) * 2^-23 *
 *     sum_j |w_j a_j| (nb = blocks; each block's integer sum is exact, the float combination of nb block terms
 *     in any order errs by at most about nb ulps of the absolute sum).
 */
#include "kernels/gemm.h"
#include "kernels/kernels_impl.h"
#include "octet.h"
#include "test.h"

#define MAXN 1024

static void run_type(int type, int64_t n, int outliers, uint64_t seed) {
    const octet__type_traits *ref = octet__kernels_ref(), *simd = octet__kernels_simd();
    const octet__type_traits *wt = &ref[type], *at = &ref[wt->vec_dot_type];
    static float wf[MAXN], af[4][MAXN], wd[MAXN], ad[4][MAXN];
    static uint8_t wq[MAXN * 2], aq[4][MAXN * 2];
    const size_t a_stride = sizeof aq[0];
    uint64_t s = seed;
    for (int64_t j = 0; j < n; j++) wf[j] = t_rng_f(&s) * 0.05f;
    for (int c = 0; c < 4; c++)
        for (int64_t j = 0; j < n; j++) af[c][j] = t_rng_f(&s) * 3.0f;
    if (outliers)
        for (int k = 0; k < 6; k++) {
            wf[t_rng_next(&s) % (uint64_t)n] = 0.9f;
            af[k % 4][t_rng_next(&s) % (uint64_t)n] = -40.0f;
        }
    wt->from_float(wf, wq, n);
    wt->to_float(wq, wd, n);
    for (int c = 0; c < 4; c++) {
        at->from_float(af[c], aq[c], n);
        at->to_float(aq[c], ad[c], n);
    }
    const int64_t nb = n / wt->block_size;
    for (int nc = 1; nc <= 4; nc++) {
        float tr[4], dr[4];
        octet__gemm_fn gref = type == OCTET_TYPE_F32    ? octet__gemm_f32_f32_ref
                              : type == OCTET_TYPE_Q8_0 ? octet__gemm_q8_0_q8_0_ref
                              : type == OCTET_TYPE_Q4_0 ? octet__gemm_q4_0_q8_0_ref
                              : type == OCTET_TYPE_Q4_K ? octet__gemm_q4_K_q8_K_ref
                                                        : octet__gemm_q6_K_q8_K_ref;
        gref(n, tr, wq, aq[0], a_stride, nc);
        for (int c = 0; c < nc; c++) {
            ref[type].vec_dot(n, &dr[c], wq, aq[c]);
            CHECKF(memcmp(&tr[c], &dr[c], sizeof(float)) == 0, "%s ref tile != ref dot (n %lld nc %d c %d)",
                   wt->name, (long long)n, nc, c);
        }
        if (!simd) continue;
        float ts[4], ds[4];
        octet__gemm_fn gs = type == OCTET_TYPE_F32    ? octet__gemm_f32_f32_avx2
                            : type == OCTET_TYPE_Q8_0 ? octet__gemm_q8_0_q8_0_avx2
                            : type == OCTET_TYPE_Q4_0 ? octet__gemm_q4_0_q8_0_avx2
                            : type == OCTET_TYPE_Q4_K ? octet__gemm_q4_K_q8_K_avx2
                                                      : octet__gemm_q6_K_q8_K_avx2;
        gs(n, ts, wq, aq[0], a_stride, nc);
        for (int c = 0; c < nc; c++) {
            simd[type].vec_dot(n, &ds[c], wq, aq[c]);
            CHECKF(memcmp(&ts[c], &ds[c], sizeof(float)) == 0, "%s avx2 tile %.9g != avx2 dot %.9g (n %lld nc %d c %d)",
                   wt->name, (double)ts[c], (double)ds[c], (long long)n, nc, c);
            double exact = 0, absum = 0;
            for (int64_t j = 0; j < n; j++) {
                exact += (double)wd[j] * (double)ad[c][j];
                absum += fabs((double)wd[j] * (double)ad[c][j]);
            }
            double bound = (double)(nb + 8) * 0x1p-23 * absum;
            CHECKF(fabs((double)ts[c] - (double)dr[c]) <= bound, "%s tile vs ref dot: %g vs %g (bound %g)", wt->name,
                   (double)ts[c], (double)dr[c], bound);
            CHECKF(fabs((double)ts[c] - exact) <= bound, "%s tile vs float64: %g vs %.17g (bound %g)", wt->name,
                   (double)ts[c], exact, bound);
        }
    }
}

int main(void) {
    if (!octet__kernels_simd()) fprintf(stderr, "test_gemm: no AVX2 on this CPU; reference checks only\n");
    const int types[4] = {OCTET_TYPE_Q8_0, OCTET_TYPE_Q4_0, OCTET_TYPE_Q4_K, OCTET_TYPE_Q6_K};
    for (int t = 0; t < 4; t++) {
        const int64_t lens_q[3] = {32, 288, 1024}, lens_k[3] = {256, 768, 1024};
        for (int l = 0; l < 3; l++)
            for (int o = 0; o < 2; o++)
                run_type(types[t], types[t] == OCTET_TYPE_Q8_0 || types[t] == OCTET_TYPE_Q4_0 ? lens_q[l] : lens_k[l],
                         o, 1000u * (uint64_t)t + 10u * (uint64_t)l + (uint64_t)o);
    }
    /* F32 rows (the float path's tile): lengths with a scalar tail, an 8-wide tail and 32-wide chunks; the row
     * buffers hold 2048 bytes, so n <= 512 floats */
    {
        const int64_t lens_f[4] = {7, 37, 288, 500};
        for (int l = 0; l < 4; l++)
            for (int o = 0; o < 2; o++) run_type(OCTET_TYPE_F32, lens_f[l], o, 7000u + 10u * (uint64_t)l + (uint64_t)o);
    }
    /* Q4_0 4-row GEMV == the dot of each row (AVX2 and reference), bit for bit */
    for (int rep = 0; rep < 20; rep++) {
        enum { N = 288 };
        static float wf[4][N], af[N];
        static block_q4_0 wq[4][N / 32];
        static block_q8_0 aq[N / 32];
        uint64_t s = 99 + (uint64_t)rep;
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < N; j++) wf[r][j] = t_rng_f(&s) * (r == 2 ? 30.0f : 0.05f);
        for (int j = 0; j < N; j++) af[j] = t_rng_f(&s) * (j == 7 ? 100.0f : 2.0f);
        for (int r = 0; r < 4; r++) octet__from_float_q4_0_ref(wf[r], wq[r], N);
        octet__from_float_q8_0_ref(af, aq, N);
        float g[4], d[4];
        octet__gemv4_q4_0_q8_0_ref(N, g, wq, sizeof wq[0], aq);
        for (int r = 0; r < 4; r++) {
            octet__dot_q4_0_q8_0_ref(N, &d[r], wq[r], aq);
            CHECK(memcmp(&g[r], &d[r], sizeof(float)) == 0);
        }
        if (octet__kernels_simd()) {
            octet__gemv4_q4_0_q8_0_avx2(N, g, wq, sizeof wq[0], aq);
            for (int r = 0; r < 4; r++) {
                octet__dot_q4_0_q8_0_avx2(N, &d[r], wq[r], aq);
                CHECKF(memcmp(&g[r], &d[r], sizeof(float)) == 0, "gemv4 row %d: %.9g vs dot %.9g", r, (double)g[r],
                       (double)d[r]);
            }
        }
        CHECK(octet__gemv4(OCTET_TYPE_Q8_0) == NULL);
    }
    /* dispatch: the tile matching the table in use */
    octet_force_portable(1);
    CHECK(octet__gemm(OCTET_TYPE_Q4_0) == octet__gemm_q4_0_q8_0_ref);
    octet_force_portable(0);
    if (octet__kernels_simd()) CHECK(octet__gemm(OCTET_TYPE_Q4_K) == octet__gemm_q4_K_q8_K_avx2);
    CHECK(octet__gemm(OCTET_TYPE_F16) == NULL);
    CHECK(octet__gemm(OCTET_TYPE_F32) != NULL);
    TEST_MAIN_END();
}
