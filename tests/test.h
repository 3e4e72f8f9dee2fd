/*
 * test.h - a minimal test harness. Each test program runs its TEST functions and prints one line per failure
 * and a summary "ok N / failed N"; the exit status is non-zero on any failure. tests/run.sh aggregates.
 */
#ifndef OCTET_TEST_H
#define OCTET_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_checks, t_failed;

#define CHECK(cond)                                                                                                \
    do {                                                                                                           \
        t_checks++;                                                                                                \
        if (!(cond)) {                                                                                             \
            t_failed++;                                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                               \
        }                                                                                                          \
    } while (0)

#define CHECKF(cond, ...)                                                                                          \
    do {                                                                                                           \
        t_checks++;                                                                                                \
        if (!(cond)) {                                                                                             \
            t_failed++;                                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);                               \
            fprintf(stderr, __VA_ARGS__);                                                                          \
            fputc('\n', stderr);                                                                               \
        }                                                                                                          \
    } while (0)

/* Deterministic RNG for tests (splitmix64). */
static inline uint64_t t_rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* uniform in [-1, 1) */
static inline float t_rng_f(uint64_t *s) { return (float)((double)(t_rng_next(s) >> 11) * 0x1p-52 - 1.0); }

#define TEST_MAIN_END()                                                                                            \
    do {                                                                                                           \
        printf("%s: %d checks, %d failed\n", __FILE__, t_checks, t_failed);                                        \
        return t_failed ? 1 : 0;                                                                                   \
    } while (0)

#endif
