/*
 * bench_kernels.c - microbenchmark of the vec_dot kernels (and the activation quantizers): one line per kernel,
 * GB/s of weight bytes read (activation bytes for quantizers); then the multi-row kernels of kernels/gemm.h: the
 * 8-row GEMV (GB/s of weights, one token) and row panels (GMAC/s with 64 tokens, packing included). Not a test.
 *
 * Build and run (after `make`):
 *   cc -std=c11 -O2 -Iinclude -Isrc bench/bench_kernels.c build/rel/liboctet.a -lm -pthread -o build/bench_kernels
 *   build/bench_kernels [ref]
 * Rows of 4096 elements, a 16 MiB-ish weight matrix per type (larger than the caches, like token generation);
 * "ref" benchmarks the portable table instead of the SIMD one.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "kernels/gemm.h"
#include "kernels/int_kernels.h"
#include "kernels/kernels_impl.h"
#include "kernels/kset.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    const int use_ref = argc > 1 && strcmp(argv[1], "ref") == 0;
    const octet__type_traits *tab = use_ref ? octet__kernels_ref() : octet__kernels_simd();
    if (!tab) {
        printf("no AVX2: benchmarking the reference table\n");
        tab = octet__kernels_ref();
    }
    static const int types[] = {OCTET_TYPE_F32,  OCTET_TYPE_F16,  OCTET_TYPE_BF16, OCTET_TYPE_Q4_0, OCTET_TYPE_Q4_1,
                                OCTET_TYPE_Q5_0, OCTET_TYPE_Q5_1, OCTET_TYPE_Q8_0, OCTET_TYPE_Q4_K, OCTET_TYPE_Q6_K};
    const int64_t n = 4096;
    float *x = malloc((size_t)n * sizeof(float));
    uint64_t s = 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 11) * 0x1p-53 - 0.5);
    }
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const octet__type_traits *t = &tab[types[k]];
        const size_t rb = octet__row_bytes(types[k], n);
        const int rows = (int)((16u << 20) / rb) + 1;
        uint8_t *w = malloc(rb * (size_t)rows), *a = malloc(octet__row_bytes(t->vec_dot_type, n));
        for (int r = 0; r < rows; r++) octet__kernels_ref()[types[k]].from_float(x, w + rb * (size_t)r, n);
        tab[t->vec_dot_type].from_float(x, a, n);
        float sum = 0, v;
        double best = 1e30;
        for (int rep = 0; rep < (use_ref ? 2 : 8); rep++) {
            const double t0 = now();
            for (int r = 0; r < rows; r++) {
                t->vec_dot(n, &v, w + rb * (size_t)r, a);
                sum += v;
            }
            const double dt = now() - t0;
            best = dt < best ? dt : best;
        }
        printf("dot_%s_%s %.2f GB/s (%.1f ns/row, checksum %g)\n", t->name, tab[t->vec_dot_type].name,
               (double)(rb * (size_t)rows) / best * 1e-9, best / rows * 1e9, (double)sum);
        free(w);
        free(a);
    }
    /* multi-row kernels: the same 16 MiB-ish matrices, 8 rows per call */
    static const int mtypes[] = {OCTET_TYPE_Q4_0, OCTET_TYPE_Q8_0, OCTET_TYPE_Q5_0, OCTET_TYPE_Q4_1,
                                 OCTET_TYPE_Q5_1, OCTET_TYPE_Q4_K, OCTET_TYPE_Q5_K, OCTET_TYPE_Q6_K};
    for (size_t k = 0; k < sizeof mtypes / sizeof mtypes[0] && !use_ref; k++) {
        const octet__type_traits *t = &tab[mtypes[k]];
        const size_t rb = octet__row_bytes(mtypes[k], n), ab = octet__row_bytes(t->vec_dot_type, n);
        const int rows = ((int)((16u << 20) / rb) + 8) / 8 * 8, ntok = 64;
        uint8_t *w = malloc(rb * (size_t)rows), *a = malloc(ab * (size_t)ntok);
        for (int r = 0; r < rows; r++) octet__kernels_ref()[mtypes[k]].from_float(x, w + rb * (size_t)r, n);
        for (int c = 0; c < ntok; c++) tab[t->vec_dot_type].from_float(x, a + ab * (size_t)c, n);
        float out[64 * 8], sum = 0;
        octet__q8_aux *aux = NULL; /* as the forward pass gives them to the Q4_0/Q8_0 kernels */
        if (t->vec_dot_type == OCTET_TYPE_Q8_0) {
            aux = calloc((size_t)ntok * (size_t)(n / 32), sizeof *aux);
            for (int c = 0; c < ntok; c++)
                for (int64_t b = 0; b < n / 32; b++) {
                    const block_q8_0 *blk = (const block_q8_0 *)(const void *)(a + ab * (size_t)c) + b;
                    octet__q8_aux *x8 = &aux[(size_t)c * (size_t)(n / 32) + (size_t)b];
                    for (int j = 0; j < 32; j++) x8->sum8 += 8 * blk->qs[j];
                    x8->d = octet__fp16_to_fp32(blk->d);
                }
        }
        octet__gemv8_fn g8 = octet__gemv8(mtypes[k]);
        double best = 1e30;
        for (int rep = 0; g8 && rep < 8; rep++) {
            const double t0 = now();
            for (int r = 0; r < rows; r += 8) {
                g8(n, out, w + rb * (size_t)r, rb, r + 8 < rows ? w + rb * (size_t)(r + 8) : NULL, a, ab, 1, aux,
                   (size_t)(n / 32));
                sum += out[0];
            }
            const double dt = now() - t0;
            best = dt < best ? dt : best;
        }
        if (g8) printf("gemv8_%s %.2f GB/s (checksum %g)\n", t->name, (double)(rb * (size_t)rows) / best * 1e-9, (double)sum);
        if (mtypes[k] == OCTET_TYPE_Q8_0 && octet__kset_find("avx2")) { /* the integer mode's GEMV and panel, same rows */
            const int64_t nb = n / 32;
            int8_t e8[8] = {22, 22, 22, 22, 22, 22, 22, 22}, *ac = malloc((size_t)n * (size_t)ntok);
            int16_t *as = malloc((size_t)nb * (size_t)ntok * sizeof *as);
            int64_t iout[64 * 8];
            for (int64_t i = 0; i < (int64_t)n * ntok; i++) ac[i] = (int8_t)(i * 37 % 255 - 127);
            for (int64_t i = 0; i < nb * ntok; i++) as[i] = (int16_t)(1000 + i % 7000);
            int64_t isum = 0;
            best = 1e30;
            for (int rep = 0; rep < 8; rep++) {
                const double t0 = now();
                for (int r = 0; r < rows; r += 8) {
                    octet__int_gemv8_q8_avx2(nb, w + rb * (size_t)r, rb, e8, ac, as,
                                             r + 8 < rows ? w + rb * (size_t)(r + 8) : NULL, iout);
                    isum += iout[0];
                }
                const double dt = now() - t0;
                best = dt < best ? dt : best;
            }
            printf("int_gemv8_Q8_0 %.2f GB/s (checksum %lld)\n", (double)(rb * (size_t)rows) / best * 1e-9,
                   (long long)isum);
            void *ip = malloc(octet__int_panel_bytes_avx2(nb));
            best = 1e30;
            for (int rep = 0; ip && rep < 5; rep++) {
                const double t0 = now();
                for (int r = 0; r < 256; r += 8) {
                    octet__int_pack8_q8_avx2(nb, ip, w + rb * (size_t)r, rb, e8, w + rb * (size_t)(r + 8));
                    octet__int_panel_q8_avx2(nb, ip, ac, (size_t)n, as, (size_t)nb, ntok, iout);
                    isum += iout[0];
                }
                const double dt = now() - t0;
                best = dt < best ? dt : best;
            }
            printf("int_panel_Q8_0 %.1f GMAC/s (%d tokens, packing included; checksum %lld)\n",
                   256.0 * (double)n * ntok / best * 1e-9, ntok, (long long)isum);
            free(ip);
            free(ac);
            free(as);
        }
        const octet__panel_kernels *pk = octet__panel(mtypes[k]);
        void *panel = pk ? malloc(pk->bytes(n)) : NULL;
        best = 1e30;
        const int prow = 256; /* rows per panel measurement: 32 panels x 64 tokens */
        for (int rep = 0; panel && rep < 5; rep++) {
            const double t0 = now();
            for (int r = 0; r < prow; r += 8) {
                pk->pack(n, panel, w + rb * (size_t)r, rb, w + rb * (size_t)(r + 8));
                pk->gemm(n, out, 8, panel, a, ab, ntok, aux, (size_t)(n / 32));
                sum += out[0];
            }
            const double dt = now() - t0;
            best = dt < best ? dt : best;
        }
        if (panel) printf("panel_%s %.1f GMAC/s (%d tokens, packing included; checksum %g)\n", t->name,
                          (double)prow * (double)n * ntok / best * 1e-9, ntok, (double)sum);
        free(panel);
        free(aux);
        free(w);
        free(a);
    }
    static const int acts[] = {OCTET_TYPE_Q8_0, OCTET_TYPE_Q8_1, OCTET_TYPE_Q8_K};
    for (int k = 0; k < 3; k++) {
        const octet__type_traits *t = &tab[acts[k]];
        uint8_t *a = malloc(octet__row_bytes(acts[k], n));
        double best = 1e30;
        for (int rep = 0; rep < 20; rep++) {
            const double t0 = now();
            for (int r = 0; r < 100; r++) t->from_float(x, a, n);
            const double dt = (now() - t0) / 100;
            best = dt < best ? dt : best;
        }
        printf("quantize_%s %.2f GB/s of f32 (%.0f ns per 4096)\n", t->name, (double)n * 4 / best * 1e-9, best * 1e9);
        free(a);
    }
    free(x);
    return 0;
}
