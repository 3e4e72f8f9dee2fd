/*
 * test_int_attn_avx512.c - the AVX-512 VNNI attention scores (kernels/int_repack.h) against the reference
 * octet__int_scores_ref with ==: random and extreme queries (|q| <= 23170, the contract), keys (+-127) and cos/sin
 * tables (+-32767), one table per key, every head size of the fast path (half 32, 64, 96, 128) and the shapes it
 * hands to the AVX2 kernel (half 16, partial RoPE), 1..70 keys (full steps of sixteen and every tail). Skips
 * (passes) on a CPU without AVX-512 VNNI.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/int_kernels.h"
#include "kernels/int_repack.h"
#include "kernels/kset.h"
#include "test.h"

static int16_t rnd16(uint64_t *r, int lim) { return (int16_t)((int)(t_rng_next(r) % (uint64_t)(2 * lim + 1)) - lim); }

static void test_scores(void) {
    enum { MAXN = 70, MAXHD = 256 };
    static int16_t q[MAXHD];
    static int8_t k[MAXN * (MAXHD + 8)];
    static int16_t tabs[MAXN][MAXHD];
    const int16_t *cs[MAXN];
    int64_t want[MAXN], got[MAXN];
    static const int shapes[][2] = {{32, 64}, {64, 128}, {96, 192}, {128, 256}, {16, 32}, {32, 80}, {24, 64}, {64, 96}};
    uint64_t r = 31;
    long bad = 0, n_all = 0;
    for (int trial = 0; trial < 800; trial++) {
        const int half = shapes[trial % 8][0], hd = shapes[trial % 8][1], n = 1 + (trial / 8) % MAXN;
        const int mode = (trial / 3) % 3; /* 0 random, 1 extreme, 2 small */
        const size_t kstride = (size_t)hd + (size_t)(trial % 5) * 2;
        for (int i = 0; i < hd; i++)
            q[i] = mode == 1 ? ((t_rng_next(&r) & 1) ? 23170 : -23170) : rnd16(&r, mode == 2 ? 300 : 23170);
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < hd; i++)
                k[(size_t)j * kstride + (size_t)i] =
                    (int8_t)(mode == 1 ? ((t_rng_next(&r) & 1) ? 127 : -127) : rnd16(&r, 127));
            for (int i = 0; i < 2 * half; i++)
                tabs[j][i] = mode == 1 ? ((t_rng_next(&r) & 1) ? 32767 : -32767) : rnd16(&r, 32767);
            cs[j] = tabs[j];
        }
        octet__int_scores_ref(q, k, kstride, cs, n, half, hd, want);
        memset(got, 0x55, sizeof got);
        octet__int_scores_avx512(q, k, kstride, cs, n, half, hd, got);
        for (int j = 0; j < n; j++, n_all++) bad += got[j] != want[j];
    }
    CHECKF(bad == 0, "%ld of %ld AVX-512 scores differ from the reference", bad, n_all);
}

int main(void) {
    if (!(octet__kset_find("avx512") != NULL)) {
        printf("%s: skipped (no AVX-512 VNNI on this CPU)\n", __FILE__);
        TEST_MAIN_END();
    }
    test_scores();
    TEST_MAIN_END();
}
