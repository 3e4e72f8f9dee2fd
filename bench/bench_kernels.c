/*
 * bench_kernels.c - microbenchmark of the vec_dot kernels (and the activation quantizers): one line per kernel,
 * GB/s of weight bytes read (activation bytes for quantizers). Not a test.
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

#include "kernels/kernels_impl.h"

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
