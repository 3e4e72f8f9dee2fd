/*
 * test_int_out.c - the integer pass's element-wise edges in AVX2 (avx2/int_out_avx2.c) against their scalar
 * definitions, exact equality: the int32 -> float bit patterns (octet__int_to_f32_bits, itself checked against
 * the compiler's conversion in tests/unit/test_int_math.c) on every power of two and its neighbours, ties at
 * every rounding position, extremes (INT32_MIN, +-(2^31 - 1), 0) and random values of every magnitude, for
 * several fractional bit counts including the scalar-only ones and tails of every length; the saturating
 * residual add on overflowing and non-overflowing pairs, INT32_MIN included.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/int_kernels.h"
#include "kernels/intmath.h"
#include "test.h"

#if defined(__x86_64__)
enum { N = 4096 };

static int32_t special(uint64_t *r, int i) {
    const int k = i % 32;
    const uint32_t p = UINT32_C(1) << k; /* 2^31 wraps to INT32_MIN below */
    uint32_t v;
    switch ((i / 32) % 8) {
    case 0: v = p; break;
    case 1: v = p - 1; break;
    case 2: v = p + 1; break;
    case 3: v = 0u - p; break;
    case 4: v = k > 1 ? p + (p >> 1) : p; break;           /* exactly half past the kept bits when k > 24 */
    case 5: v = k > 1 ? p + (p >> 1) + (p >> 2) : 7; break; /* ties with the other lsb */
    case 6: v = (uint32_t)t_rng_next(r); break;
    default: v = (uint32_t)(t_rng_next(r) >> (33 + t_rng_next(r) % 31)); v = (i & 1) ? 0u - v : v; break;
    }
    return (int32_t)v;
}

static void test_f32_bits(void) {
    static int32_t v[N];
    static uint32_t got[N];
    uint64_t r = 11;
    int bad = 0, checked = 0;
    const int fracs[] = {0, 1, 16, 23, 31, 64, 96, 97, -1, 120};
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < N; i++) v[i] = special(&r, i + round * 7);
        v[0] = 0, v[1] = INT32_MIN, v[2] = INT32_MAX, v[3] = -INT32_MAX, v[4] = 1, v[5] = -1;
        for (size_t f = 0; f < sizeof fracs / sizeof fracs[0]; f++) {
            const size_t n = round < 32 ? (size_t)round : N; /* every tail length, then whole rows */
            memset(got, 0xa5, sizeof got);
            octet__int_to_f32_bits_avx2(v, n, fracs[f], got);
            for (size_t i = 0; i < n; i++, checked++) bad += got[i] != octet__int_to_f32_bits(v[i], fracs[f]);
            bad += n < N && got[n] != 0xa5a5a5a5u; /* nothing written past n */
        }
    }
    CHECKF(bad == 0, "%d of %d float bit patterns differ from octet__int_to_f32_bits", bad, checked);
}

static void test_add_sat(void) {
    static int32_t x[N], d[N], want[N];
    uint64_t r = 12;
    int bad = 0;
    const int32_t edge[] = {INT32_MIN, -INT32_MAX, -INT32_MAX + 1, -(1 << 30), -1, 0, 1, 1 << 30, INT32_MAX - 1,
                            INT32_MAX};
    const int ne = (int)(sizeof edge / sizeof edge[0]);
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < N; i++) {
            if (i < ne * ne) {
                x[i] = edge[i / ne], d[i] = edge[i % ne];
            } else {
                int bits = 1 + (int)(t_rng_next(&r) % 31);
                x[i] = (int32_t)(t_rng_next(&r) >> (64 - bits)) * ((t_rng_next(&r) & 1) ? -1 : 1);
                d[i] = (int32_t)(uint32_t)t_rng_next(&r) >> (t_rng_next(&r) % 32);
            }
            want[i] = octet__int_sat32((int64_t)x[i] + d[i]);
        }
        const size_t n = round < 32 ? (size_t)round + ne * ne : N;
        octet__int_add_sat_avx2(x, d, n);
        for (size_t i = 0; i < n; i++) bad += x[i] != want[i];
    }
    CHECKF(bad == 0, "%d saturating sums differ", bad);
}
#endif

int main(void) {
#if defined(__x86_64__)
    const octet__cpu *c = octet__cpu_features();
    if (c->avx2 && c->fma && c->f16c) {
        test_f32_bits();
        test_add_sat();
    } else {
        printf("no AVX2: nothing to check\n");
    }
#endif
    TEST_MAIN_END();
}
