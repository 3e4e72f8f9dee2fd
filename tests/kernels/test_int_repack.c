/*
 * test_int_repack.c - the integer-mode kernels on 16-row Q8_0 x16 groups (kernels/int_repack.h, AVX-512 VNNI)
 * against the portable reference dot octet__int_dot_q8_ref of every row and token, with ==: random, extreme (-128
 * and 127 weight codes, +-127 activations, the largest scales) and sparse rows, subnormal scales, row exponents
 * the largest the contract allows and smaller ones, 1..21 tokens (every tile of the kernels); the fused rescale against the scalar rescale;
 * every finite fp16 block scale with every row exponent of the contract; the activations' block data; the gather packer. Skips (passes)
 * on a CPU without AVX-512 VNNI.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/int_kernels.h"
#include "kernels/int_repack.h"
#include "kernels/kset.h"
#include "kernels/repack.h"
#include "kernels/intmath.h"
#include "test.h"

static int8_t rnd8(uint64_t *r, int lo) { return (int8_t)(lo + (int)(t_rng_next(r) % (uint64_t)(128 - lo))); }

/* floor(d * 2^e + 1/2) in float64 (clamped far outside the contract) */
static int64_t ws_naive(uint16_t h, int e) {
    double v = floor(ldexp((double)octet__fp16_to_fp32(h), e) + 0.5);
    return fabs(v) < 0x1p40 ? (int64_t)v : v > 0 ? ((int64_t)1 << 40) : -((int64_t)1 << 40);
}

static uint16_t blk_h(const uint8_t *blk) { return (uint16_t)(blk[0] | blk[1] << 8); }

/* a random finite fp16 scale: mode 0 any, 1 the largest magnitude, 2 subnormal or small */
static uint16_t rnd_h(uint64_t *r, int mode) {
    uint16_t sign = (t_rng_next(r) & 1) ? 0x8000 : 0;
    if (mode == 1) return sign | 0x7bff;
    if (mode == 2) return sign | (uint16_t)(t_rng_next(r) % 0x0c00);
    return sign | (uint16_t)(t_rng_next(r) % 0x7c00);
}

/* the largest e with every |ws| <= 32767, a third of the time a smaller one (also in the contract) */
static int row_e(uint64_t *r, const uint8_t *row, int nb) {
    int e = 60;
    for (int b = 0; b < nb; b++)
        while (e > -30 && llabs(ws_naive(blk_h(row + (size_t)b * OCTET_INT_BLOCK), e)) > 32767) e--;
    if (t_rng_next(r) % 3 == 0) e -= (int)(t_rng_next(r) % 24);
    return e;
}

/* nb Q8_0 blocks: mode 0 random, 1 extreme (-128 / 127 codes, largest scales), 2 sparse */
static void fill_row(uint64_t *r, uint8_t *row, int nb, int mode) {
    for (int b = 0; b < nb; b++) {
        uint8_t *blk = row + (size_t)b * OCTET_INT_BLOCK;
        uint16_t h = rnd_h(r, mode == 1 ? 1 : (t_rng_next(r) % 4 == 0) ? 2 : 0);
        blk[0] = (uint8_t)(h & 255u), blk[1] = (uint8_t)(h >> 8);
        for (int j = 0; j < 32; j++) {
            int8_t v = rnd8(r, -128);
            if (mode == 1) v = (t_rng_next(r) & 1) ? -128 : 127;
            if (mode == 2 && (t_rng_next(r) & 3)) v = 0;
            blk[2 + j] = (uint8_t)v;
        }
    }
}

static void aux_naive(const int8_t *a, const int16_t *as, int nb, int32_t *x) {
    for (int b = 0; b < nb; b++) {
        int v = 0;
        for (int j = 0; j < 32; j++) v += a[32 * b + j];
        x[2 * b] = (uint16_t)as[b], x[2 * b + 1] = -128 * v;
    }
}

/* The gather packer against the reference packer, byte for byte (row strides with and without padding). */
static void test_pack(void) {
    enum { MAXB = 40 };
    static uint8_t w[16 * (MAXB * OCTET_INT_BLOCK + 6)];
    static uint8_t g0[MAXB * OCTET__Q8X16_BLOCK], g1[MAXB * OCTET__Q8X16_BLOCK + 1];
    uint64_t r = 9;
    int bad = 0;
    for (int trial = 0; trial < 100; trial++) {
        const int nb = 1 + trial % MAXB;
        const size_t stride = (size_t)nb * OCTET_INT_BLOCK + 2 * (size_t)(trial % 4); /* block_q8_0 alignment (2) */
        for (size_t i = 0; i < sizeof w; i++) w[i] = (uint8_t)t_rng_next(&r);
        memset(g1, 0x5a, sizeof g1);
        octet__pack_q8_0x16_ref(32 * (int64_t)nb, g0, w, stride);
        octet__pack_q8_0x16_avx512(32 * (int64_t)nb, g1, w, stride);
        bad += memcmp(g0, g1, (size_t)nb * OCTET__Q8X16_BLOCK) != 0;
        bad += g1[(size_t)nb * OCTET__Q8X16_BLOCK] != 0x5a; /* nothing written past the group */
    }
    CHECKF(bad == 0, "%d packed groups differ from the reference packer", bad);
}

/* The activations' block data (scales, code sums), random and at the extremes. */
static void test_block_aux(void) {
    enum { NB = 40 };
    static int8_t a[NB * 32];
    int16_t as[NB];
    int32_t want[2 * NB], got[2 * NB];
    uint64_t r = 5;
    int bad = 0;
    for (int trial = 0; trial < 200; trial++) {
        for (int j = 0; j < NB * 32; j++)
            a[j] = trial % 3 == 0 ? (int8_t)-127 : trial % 3 == 1 ? (int8_t)127 : rnd8(&r, -128);
        if (trial % 5 == 4) a[7] = -128;
        for (int b = 0; b < NB; b++) as[b] = (int16_t)t_rng_next(&r);
        as[0] = -32767, as[1] = 32767, as[2] = -1;
        const int nb = 1 + trial % NB;
        aux_naive(a, as, nb, want);
        octet__int_block_aux_avx512(a, as, nb, got);
        for (int b = 0; b < 2 * nb; b++) bad += got[b] != want[b];
    }
    CHECKF(bad == 0, "%d block data differ", bad);
}

/* 16 rows packed as one group, 1..9 tokens, against the reference dot per (row, token) and the scalar rescale. */
static void test_gemm16(void) {
    enum { MAXB = 70, NT = 21 };
    static uint8_t w[16 * MAXB * OCTET_INT_BLOCK];
    static uint8_t grp[MAXB * OCTET__Q8X16_BLOCK];
    static int8_t a[NT * (MAXB * 32 + 8)];
    static int16_t as[NT * (MAXB + 3)];
    static int32_t aux[NT * (2 * MAXB + 5)];
    static int64_t out[NT * 16];
    uint64_t rng = 77;
    long bad = 0, n = 0, bad_y = 0, n_y = 0;
    for (int trial = 0; trial < 600; trial++) {
        const int nb = 1 + (int)(t_rng_next(&rng) % MAXB), mode = trial % 3, nc = 1 + (trial / 3) % NT;
        const size_t row_bytes = (size_t)nb * OCTET_INT_BLOCK, a_stride = (size_t)nb * 32 + 8, as_stride = (size_t)nb + 3;
        int8_t e[16];
        for (int r = 0; r < 16; r++) {
            fill_row(&rng, w + (size_t)r * row_bytes, nb, (trial / 3) % 5 == 4 ? (r % 3) : mode);
            e[r] = (int8_t)row_e(&rng, w + (size_t)r * row_bytes, nb);
        }
        octet__pack_q8_0x16_ref(32 * (int64_t)nb, grp, w, row_bytes);
        for (int c = 0; c < nc; c++) {
            int8_t *ac = a + (size_t)c * a_stride;
            for (int j = 0; j < nb * 32; j++)
                ac[j] = mode == 1 ? ((t_rng_next(&rng) & 1) ? -127 : 127) : (c == 2 && trial % 4 == 0) ? 127 : rnd8(&rng, -127);
            for (int b = 0; b < nb; b++)
                as[(size_t)c * as_stride + (size_t)b] =
                    mode == 1 ? 32767 : (t_rng_next(&rng) % 8 == 0) ? -32767 : (int16_t)(t_rng_next(&rng) & 0x7fff);
            octet__int_block_aux_avx512(ac, as + (size_t)c * as_stride, nb, aux + (size_t)c * (2 * (size_t)nb + 5));
        }
        int64_t want[NT][16];
        for (int c = 0; c < nc; c++)
            for (int r = 0; r < 16; r++)
                want[c][r] = octet__int_dot_q8_ref(nb, w + (size_t)r * row_bytes, e[r], a + (size_t)c * a_stride,
                                                   as + (size_t)c * as_stride);
        const size_t aux_stride = 2 * (size_t)nb + 5;
        octet__int_gemm16_q8x16_avx512(nb, grp, e, a, a_stride, aux, aux_stride, nc, out);
        for (int c = 0; c < nc; c++)
            for (int r = 0; r < 16; r++, n++) bad += out[c * 16 + r] != want[c][r];
        /* fused: a shift base per token with every base + e[r] in [32, 62], a multiplier, a bias or none */
        int emin = 127, emax = -128;
        for (int r = 0; r < 16; r++) emin = e[r] < emin ? e[r] : emin, emax = e[r] > emax ? e[r] : emax;
        if (emax - emin > 30) continue;
        int base[NT];
        int32_t bias[16], y[NT * 19];
        const int32_t m = trial % 3 ? 1082196484 : (int32_t)(t_rng_next(&rng) >> 33);
        for (int c = 0; c < nc; c++) base[c] = 32 - emin + (int)(t_rng_next(&rng) % (uint64_t)(31 - (emax - emin)));
        for (int r = 0; r < 16; r++)
            bias[r] = trial % 4 == 1 ? (r & 1 ? INT32_MAX : -INT32_MAX) : (int32_t)(t_rng_next(&rng) >> 32);
        const int use_bias = trial & 1;
        octet__int_gemm16_q8x16_y_avx512(nb, grp, e, a, a_stride, aux, aux_stride, nc, base, m,
                                         use_bias ? bias : NULL, y, 19);
        for (int c = 0; c < nc; c++)
            for (int r = 0; r < 16; r++, n_y++)
                bad_y += y[c * 19 + r] != octet__int_sat32(octet__int_mulshift(want[c][r], m, base[c] + e[r]) +
                                                          (use_bias ? bias[r] : 0));
    }
    CHECKF(bad == 0, "%ld of %ld 16-row results differ from the reference dot", bad, n);
    CHECKF(bad_y == 0 && n_y > 5000, "%ld of %ld rescaled 16-row outputs differ from the scalar rescale", bad_y, n_y);
}

/* The block-scale derivation for every finite fp16 scale and every exponent of the contract: one-block rows whose
 * only nonzero code and activation are 1 (at a position that moves from group to group), so each result is ws;
 * the 16 rows of a group carry 16 (h, e) pairs. */
static void test_scales(void) {
    static uint8_t w[16 * OCTET_INT_BLOCK];
    static uint8_t grp[OCTET__Q8X16_BLOCK];
    int8_t a[32];
    int32_t aux[2] = {1, 0};
    int8_t e[16];
    int64_t want[16], out[16];
    long bad = 0, n = 0;
    int k = 0, pos = 0;
    memset(a, 0, sizeof a);
    for (uint32_t h = 0; h < 65536; h++) {
        if (((h >> 10) & 31) == 31) continue;
        for (int ex = -30; ex <= 64; ex++) {
            const int64_t v = ws_naive((uint16_t)h, ex);
            if (llabs(v) > 32767) continue;
            uint8_t *row = w + (size_t)k * OCTET_INT_BLOCK;
            memset(row, 0, OCTET_INT_BLOCK);
            row[0] = (uint8_t)(h & 255u), row[1] = (uint8_t)(h >> 8), row[2 + pos] = 1;
            e[k] = (int8_t)ex, want[k] = v;
            if (++k < 16) continue;
            k = 0, n += 16;
            memset(a, 0, sizeof a);
            a[pos] = 1;
            aux[1] = -128;
            octet__pack_q8_0x16_ref(32, grp, w, OCTET_INT_BLOCK);
            octet__int_gemm16_q8x16_avx512(1, grp, e, a, 32, aux, 2, 1, out);
            for (int r = 0; r < 16; r++) bad += out[r] != want[r];
            pos = (pos + 1) % 32;
        }
    }
    CHECKF(bad == 0, "%ld of %ld block scales differ from floor(d 2^e + 1/2)", bad, n);
}

int main(void) {
    if (!(octet__kset_find("avx512") != NULL)) {
        printf("%s: skipped (no AVX-512 VNNI on this CPU)\n", __FILE__);
        TEST_MAIN_END();
    }
    test_pack();
    test_block_aux();
    test_gemm16();
    test_scales();
    TEST_MAIN_END();
}
