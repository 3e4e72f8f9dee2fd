/*
 * ab_common.h - the helpers shared by the interleaved A/B tools (ab_exec.c, ab_repack.c): a monotonic clock, the
 * median of a sample and a bounded integer parser for their flags.
 */
#ifndef OCTET_BENCH_AB_COMMON_H
#define OCTET_BENCH_AB_COMMON_H

#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* the median of v[0..n) (sorts v) */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* *out = s as a decimal integer in [lo, hi]; -1 (nothing written) otherwise */
static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

#endif
