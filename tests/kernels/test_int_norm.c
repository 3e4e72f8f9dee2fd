/*
 * test_int_norm.c - the integer-only mode's RMSNorm and activation quantizer: the AVX2 twins
 * (avx2/int_norm_avx2.c) against the references (src/kernels/ref/int_*_ref.c) with exact equality (memcmp) on random
 * rows of the model widths (64, 256, 2048, 5632), every length 1..40 (vector tails) and rows long enough that
 * the AVX2 RMSNorm falls back to the scalar loop; extreme values (+-(2^31 - 1), INT32_MIN, all zeros, one
 * nonzero, values so small that nothing is pre-shifted); gains and epsilons as weights.c forms them and edge
 * ones (every final shift s2 from negative to past 62); in-place use. The max-|x| kernel against a naive max.
 * And the reference RMSNorm against float64 within an error bound derived from its arithmetic.
 * The activation quantizer: the AVX2 kernel's division-free block reciprocals against the reference's division for
 * every block scale 1..2^14; whole rows (memcmp of codes, scales and exponent) of the model widths, random block
 * counts (a tail of blocks after the last group of 8: the reference's per-block steps), rows longer than the
 * 64 groups whose block maxima the kernel keeps, and rows built block by block: every row exponent -13..18, block
 * scales at the edges (1, 2^14, 127 2^j with exact rounding ties) and random, zero blocks, INT32_MIN as the row
 * maximum, and in each block values on both sides of code boundaries.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/int_kernels.h"
#include "kernels/intmath.h"
#include "test.h"

static int32_t *alloc32(int n) { /* exactly n elements, so ASan sees any read past the row */
    int32_t *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p) abort();
    return p;
}

/* a random int32 of up to `bits` significant bits (1..31), random sign */
static int32_t rnd_bits(uint64_t *r, int bits) {
    int32_t v = (int32_t)(t_rng_next(r) >> (64 - bits));
    return (t_rng_next(r) & 1) ? -v : v;
}

static int32_t rnd_any(uint64_t *r) { return (int32_t)(uint32_t)t_rng_next(r); } /* INT32_MIN included */

/* Rows by mode: 0 random with a row magnitude (1..31 bits) and outlier channels; 1 extremes (+-(2^31 - 1),
 * INT32_MIN) among random values; 2 all zeros; 3 one nonzero of random magnitude; 4 tiny (|x| <= 3: no
 * pre-shift); 5 any int32; 6 one value repeated (with its sign varying); 7 whole zero blocks of 32 among random */
enum { NMODES = 8 };
static void fill_x(uint64_t *r, int32_t *x, int n, int mode) {
    const int bits = 1 + (int)(t_rng_next(r) % 31);
    switch (mode) {
    case 0:
        for (int j = 0; j < n; j++) {
            x[j] = rnd_bits(r, bits);
            if (t_rng_next(r) % 97 == 0) x[j] = rnd_bits(r, bits + 6 < 31 ? bits + 6 : 31);
        }
        break;
    case 1:
        for (int j = 0; j < n; j++) {
            uint64_t k = t_rng_next(r) % 4;
            x[j] = k == 0 ? INT32_MAX : k == 1 ? -INT32_MAX : k == 2 ? INT32_MIN : rnd_bits(r, bits);
        }
        break;
    case 2: memset(x, 0, (size_t)n * sizeof *x); break;
    case 3: {
        memset(x, 0, (size_t)n * sizeof *x);
        const uint64_t k = t_rng_next(r) % 4;
        x[t_rng_next(r) % (uint64_t)n] = k == 0 ? INT32_MIN : k == 1 ? INT32_MAX : k == 2 ? 1 : rnd_bits(r, bits);
        break;
    }
    case 4:
        for (int j = 0; j < n; j++) x[j] = (int32_t)(t_rng_next(r) % 7) - 3;
        break;
    case 5:
        for (int j = 0; j < n; j++) x[j] = rnd_any(r);
        break;
    case 6: {
        const int32_t v = t_rng_next(r) % 3 == 0 ? INT32_MIN : rnd_bits(r, bits);
        for (int j = 0; j < n; j++) x[j] = (t_rng_next(r) & 1) && v != INT32_MIN ? -v : v;
        break;
    }
    default:
        for (int j = 0; j < n; j++) x[j] = ((j / 32) % 3 == 1) ? 0 : rnd_bits(r, bits);
        break;
    }
}

/* Gains as weights.c's build_gains makes them from float gains near 1 (the largest shift keeping max |g| below
 * 2^23), or edge ones: any int32 with a random shift, extremes, zeros. Returns g_shift. */
static int fill_g(uint64_t *r, int32_t *g, int n, int mode) {
    if (mode == 0) {
        double gf[8192], mx = 0.0;
        const double spread = ldexp(1.0, -(int)(t_rng_next(r) % 8)), base = ldexp(1.0, (int)(t_rng_next(r) % 12) - 6);
        int m = n < 8192 ? n : 8192;
        for (int j = 0; j < m; j++) {
            gf[j] = base * (1.0 + spread * (double)t_rng_f(r));
            if (fabs(gf[j]) > mx) mx = fabs(gf[j]);
        }
        int s = 30;
        while (s > -30 && mx * ldexp(1.0, s) >= 8388608.0) s--;
        for (int j = 0; j < n; j++) g[j] = (int32_t)lrint(gf[j % m] * ldexp(1.0, s));
        return s;
    }
    for (int j = 0; j < n; j++) {
        const uint64_t k = t_rng_next(r) % 8;
        g[j] = mode == 1 ? rnd_any(r) : k == 0 ? INT32_MIN : k == 1 ? INT32_MAX : k == 2 ? 0 : rnd_bits(r, 23);
    }
    static const int gss[] = {-30, -12, -9, -8, -7, 0, 8, 20, 23, 30, 38, 46, 54, 55, 60};
    return gss[t_rng_next(r) % (sizeof gss / sizeof gss[0])];
}

/* eps in Q32 as weights.c forms it (llround(eps 2^32)) for the usual epsilons, and edge ones */
static int64_t pick_eps(uint64_t *r) {
    static const int64_t e[] = {42950 /* 1e-5 */, 4295 /* 1e-6 */, 43 /* 1e-8 */, 429 /* 1e-7 */, 0, 1,
                                INT64_C(1) << 32 /* 1.0 */, INT64_C(1) << 40};
    const uint64_t k = t_rng_next(r) % 10;
    return k < 8 ? e[k] : (int64_t)(t_rng_next(r) >> (14 + t_rng_next(r) % 40));
}

/* Does the AVX2 RMSNorm take its scalar fallback for this row (the kernel's condition, from the shared steps)? */
static int takes_fallback(const int32_t *x, int n, int g_shift, int64_t eps_q32) {
    uint64_t mx = 0, ss = 0;
    for (int j = 0; j < n; j++) {
        uint64_t a = x[j] < 0 ? (uint64_t)(-(int64_t)x[j]) : (uint64_t)x[j];
        if (a > mx) mx = a;
    }
    const int sh = octet__int_rms_shift(mx, n);
    for (int j = 0; j < n; j++) {
        int64_t v = octet__int_shift_round(x[j], sh);
        ss += (uint64_t)(v * v);
    }
    int s1;
    const int64_t inv = octet__int_rms_inv(ss, sh, n, eps_q32, &s1);
    const int s2 = 24 + g_shift - OCTET_INT_FX;
    return s2 < 0 || s2 > 62 || ((mx * (uint64_t)inv + ((uint64_t)1 << (s1 - 1))) >> s1) >> 32;
}

/* One row through both: the AVX2 result out of place and in place equals the reference (out of place and in
 * place). Returns the number of mismatches (0..3). */
static int rms_row(const int32_t *x, const int32_t *g, int gs, int n, int64_t eps, int simd) {
    int32_t *want = alloc32(n), *got = alloc32(n), *inpl = alloc32(n);
    int bad = 0;
    octet__int_rmsnorm_ref(want, x, g, gs, n, eps);
    memcpy(inpl, x, (size_t)n * sizeof *x);
    octet__int_rmsnorm_ref(inpl, inpl, g, gs, n, eps);
    bad += memcmp(want, inpl, (size_t)n * sizeof *x) != 0;
    if (simd) {
        octet__int_rmsnorm_avx2(got, x, g, gs, n, eps);
        bad += memcmp(want, got, (size_t)n * sizeof *x) != 0;
        memcpy(inpl, x, (size_t)n * sizeof *x);
        octet__int_rmsnorm_avx2(inpl, inpl, g, gs, n, eps);
        bad += memcmp(want, inpl, (size_t)n * sizeof *x) != 0;
    }
    free(want), free(got), free(inpl);
    return bad;
}

static void test_rmsnorm_exact(int simd) {
    static const int widths[] = {64, 256, 2048, 5632};
    uint64_t r = 2024;
    long bad = 0, rows = 0, fallback = 0, simd_path = 0;
    for (int it = 0; it < 6000; it++) {
        const int n = it < 2400 ? widths[it % 4] : 1 + (it - 2400) % 40;
        int32_t *x = alloc32(n), *g = alloc32(n);
        fill_x(&r, x, n, it % NMODES);
        const int gs = fill_g(&r, g, n, (it / NMODES) % 4 == 3 ? 1 + (int)(t_rng_next(&r) % 2) : 0);
        const int64_t eps = pick_eps(&r);
        bad += rms_row(x, g, gs, n, eps, simd);
        rows++;
        if (takes_fallback(x, n, gs, eps)) fallback++;
        else simd_path++;
        free(x), free(g);
    }
    /* long rows: one spike among small values has |x| / rms near sqrt(n), so |u| passes 2^32 (the fallback) */
    static const int longs[] = {65536, 70000, 100003, 131072};
    long long_fallback = 0;
    for (int it = 0; it < 24; it++) {
        const int n = longs[it % 4];
        int32_t *x = alloc32(n), *g = alloc32(n);
        fill_x(&r, x, n, it % 3 == 0 ? 3 : it % 3 == 1 ? 0 : 4);
        if (it % 3 == 0) { /* a single spike, so large that the pre-shift and the sum of squares are exercised */
            memset(x, 0, (size_t)n * sizeof *x);
            x[t_rng_next(&r) % (uint64_t)n] = it % 2 ? INT32_MIN : 12345678;
        }
        const int gs = fill_g(&r, g, n, 0);
        const int64_t eps = it % 2 ? 0 : 42950;
        bad += rms_row(x, g, gs, n, eps, simd);
        rows++;
        long_fallback += takes_fallback(x, n, gs, eps);
        free(x), free(g);
    }
    /* the largest |u| at a width: one spike x with x^2 just below 2 n and eps 0, so the floored mean square is 1
     * instead of almost 2 and |u| = x 2^24 ~ sqrt(2 n) 2^24 (below 2^32 up to n = 2^15, then the fallback) */
    static const int spikes[] = {2048, 5632, 16384, 32767, 32768, 40000};
    for (int it = 0; it < 6; it++) {
        const int n = spikes[it];
        int32_t *x = alloc32(n), *g = alloc32(n);
        memset(x, 0, (size_t)n * sizeof *x);
        x[n / 3] = (int32_t)octet__int_isqrt64((uint64_t)(2 * n - 1)) * (it % 2 ? -1 : 1);
        const int gs = fill_g(&r, g, n, 0);
        bad += rms_row(x, g, gs, n, 0, simd);
        rows++;
        long_fallback += takes_fallback(x, n, gs, 0);
        free(x), free(g);
    }
    printf("rmsnorm: %ld rows (%ld on the AVX2 path, %ld + %ld long with the scalar fallback)\n", rows, simd_path,
           fallback, long_fallback);
    CHECKF(bad == 0, "%ld RMSNorm rows differ (AVX2 vs reference, in place vs out of place)", bad);
    CHECKF(simd_path > 5000 && fallback > 100 && long_fallback >= 4, "paths not all covered: %ld %ld %ld", simd_path,
           fallback, long_fallback);
}

/* Reference RMSNorm against float64. The exact value is y = x g 2^-gs 2^16 / sqrt(ms + eps_q32), ms = mean(x^2)
 * (x in Q16, so ms and eps_q32 are both in units of 2^-32). The integer arithmetic differs from it by
 *   - the mean square plus eps, in units of 2^-32, with P = 2^(2 sh): the pre-shift rounding of each x when
 *     sh > 0 (|(x/2^sh)^2 - round(x/2^sh)^2| <= |x| 2^-sh + 1/4 in units of P), the floor of the division by n (P),
 *     the rounding of eps (P/2) and the replacement of 0 by 1 (P): in all E <= sum_j(|x_j| 2^sh + P/4) / n + 3 P
 *     (only 3 P when sh = 0), so the rms is off by a relative sqrt(1 + E / (ms + eps)) - 1 <= E / (ms + eps);
 *   - the isqrt (the floor of a value >= 2^30) and the reciprocal (rounded, >= 2^30): 2^-30 relative each;
 *   - u rounded to Q24 (half of its unit), which the product by g turns into 0.5 |g| 2^-s2 in Q16;
 *   - the final rounding to Q16: 0.5.
 * So |out - y| <= |y| (E / (ms + eps) + 2^-28) + 0.5 |g| 2^-s2 + 0.5 (+ 2^-20 for float64's own rounding), with y
 * clamped to +-(2^31 - 1) like out. Every output is checked against that bound. Rows of realistic scale
 * (rms >= 2^-6; eps 1e-5 or 1e-6) are also held to 1 LSB plus 2^-20 relative; tinier rows are not: the floor of
 * ss / n in units of 2^-32 costs up to 1 / (ms + eps) relative, e.g. 0.5% at rms ~ 2^-13.5 with eps 1e-8. */
static void test_rmsnorm_float(void) {
    static const int widths[] = {64, 256, 2048, 5632, 7, 33};
    uint64_t r = 77;
    long bad = 0, bad_real = 0, n_real = 0;
    double worst_ratio = 0.0, worst_real = 0.0;
    for (int it = 0; it < 1500; it++) {
        const int n = widths[it % 6];
        int32_t *x = alloc32(n), *g = alloc32(n), *out = alloc32(n);
        static const int modes[] = {0, 0, 0, 1, 3, 4, 5, 6};
        fill_x(&r, x, n, modes[it % 8]);
        const int gs = fill_g(&r, g, n, 0);
        const int64_t eps = (it % 3 == 0) ? 42950 : (it % 3 == 1) ? 4295 : 43;
        octet__int_rmsnorm_ref(out, x, g, gs, n, eps);
        uint64_t mx = 0;
        double ms = 0.0, sa = 0.0;
        for (int j = 0; j < n; j++) {
            ms += (double)x[j] * (double)x[j];
            sa += fabs((double)x[j]);
            if ((uint64_t)fabs((double)x[j]) > mx) mx = (uint64_t)fabs((double)x[j]);
        }
        ms /= n;
        const int sh = octet__int_rms_shift(mx, n);
        const double P = ldexp(1.0, 2 * sh);
        const double E = (sh ? (sa * ldexp(1.0, sh) + n * P / 4) / n : 0.0) + 3 * P;
        const double rel = E / (ms + (double)eps) + 0x1p-28, s2 = 24 + gs - 16;
        const double inv = 65536.0 / sqrt(ms + (double)eps);
        const int real = ms >= 0x1p20 && eps >= 4295;
        n_real += real;
        for (int j = 0; j < n; j++) {
            double y = (double)x[j] * inv * ldexp((double)g[j], -gs);
            y = fmax(fmin(y, 2147483647.0), -2147483647.0);
            const double err = fabs((double)out[j] - y);
            const double tol = fabs(y) * rel + 0.5 * fabs((double)g[j]) * ldexp(1.0, -(int)s2) + 0.5 + 0x1p-20;
            bad += err > tol;
            if (err / tol > worst_ratio) worst_ratio = err / tol;
            if (real) {
                const double tr = 1.0 + fabs(y) * 0x1p-20;
                bad_real += err > tr;
                if (err / tr > worst_real) worst_real = err / tr;
            }
        }
        free(x), free(g), free(out);
    }
    printf("rmsnorm vs float64: largest error %.3f of the bound; %ld rows of realistic scale: %.3f of 1 LSB + 2^-20 "
           "relative\n", worst_ratio, n_real, worst_real);
    CHECKF(bad == 0, "%ld RMSNorm outputs outside the float64 error bound", bad);
    CHECKF(bad_real == 0 && n_real > 300, "%ld outputs of %ld realistic rows off by more than 1 LSB + 2^-20 relative",
           bad_real, n_real);
}

static void test_maxabs(int simd) {
    if (!simd) return;
    uint64_t r = 5;
    long bad = 0;
    for (int it = 0; it < 20000; it++) {
        const int n = it < 10000 ? it % 72 : (it % 3 == 0 ? 2048 : it % 3 == 1 ? 5632 : 1 + (int)(t_rng_next(&r) % 3000));
        int32_t *x = alloc32(n);
        const int bits = 1 + (int)(t_rng_next(&r) % 31);
        for (int j = 0; j < n; j++) x[j] = rnd_bits(&r, bits);
        if (n && it % 4 == 0) x[t_rng_next(&r) % (uint64_t)n] = INT32_MIN; /* any position: vector body or tail */
        if (n && it % 4 == 1) x[t_rng_next(&r) % (uint64_t)n] = (t_rng_next(&r) & 1) ? INT32_MAX : -INT32_MAX;
        if (n && it % 4 == 2) x[n - 1] = INT32_MIN; /* the last element */
        if (it % 16 == 3) memset(x, 0, (size_t)n * sizeof *x);
        uint64_t want = 0;
        for (int j = 0; j < n; j++) {
            uint64_t a = (uint64_t)llabs((long long)x[j]);
            if (a > want) want = a;
        }
        bad += octet__int_maxabs32_avx2(x, n) != want;
        free(x);
    }
    CHECKF(bad == 0, "%ld max |x| results differ from the naive maximum", bad);
}

/* One row through the reference (with NULL and the reference codes kernel) and, with simd, the AVX2 quantizer with
 * each codes kernel (codes, scales and exponent compared; outputs pre-filled with garbage). Returns mismatches. */
static int quant_row_check(const int32_t *x, int n, int simd, int16_t *sc_out, int *sa_out) {
    const int nb = n / 32;
    int8_t *q1 = malloc((size_t)n), *q2 = malloc((size_t)n);
    int16_t *s1 = malloc((size_t)nb * sizeof *s1), *s2 = malloc((size_t)nb * sizeof *s2);
    if (!q1 || !q2 || !s1 || !s2) abort();
    int sa1 = 99, sa2 = -99, bad = 0;
    octet__int_quant_row_ref(x, n, q1, s1, &sa1, NULL);
    octet__int_quant_row_ref(x, n, q2, s2, &sa2, octet__int_codes_ref); /* explicit reference codes: the same */
    bad += sa1 != sa2 || memcmp(q1, q2, (size_t)n) || memcmp(s1, s2, (size_t)nb * sizeof *s1);
    if (simd) {
        for (int k = 0; k < 3; k++) {
            octet__int_codes_fn cf = k == 0 ? NULL : k == 1 ? octet__int_codes_ref : octet__int_codes_avx2;
            memset(q2, 0x55, (size_t)n), memset(s2, 0x55, (size_t)nb * sizeof *s2), sa2 = -99;
            octet__int_quant_row_avx2(x, n, q2, s2, &sa2, cf);
            bad += sa1 != sa2 || memcmp(q1, q2, (size_t)n) || memcmp(s1, s2, (size_t)nb * sizeof *s1);
        }
    }
    if (sc_out) memcpy(sc_out, s1, (size_t)nb * sizeof *s1);
    if (sa_out) *sa_out = sa1;
    free(q1), free(q2), free(s1), free(s2);
    return bad;
}

static void test_quant_row_exact(int simd) {
    uint64_t r = 31;
    long bad = 0, neg_sa = 0, pos_sa = 0, tails = 0, longs = 0;
    for (int it = 0; it < 6000; it++) {
        /* the model widths (64 and 176 blocks: whole groups of 8), random block counts (most with a tail), and
         * every 100th row longer than the kernel's 64 kept groups (16384 values) */
        const int nb = it % 100 == 99 ? 512 + 8 * (int)(t_rng_next(&r) % 70) + (int)(t_rng_next(&r) % 8)
                     : it % 3 == 0 ? 64 : it % 3 == 1 ? 176 : 1 + (int)(t_rng_next(&r) % 50), n = 32 * nb;
        int32_t *x = alloc32(n);
        fill_x(&r, x, n, it % NMODES);
        int sa = 0;
        bad += quant_row_check(x, n, simd, NULL, &sa);
        neg_sa += sa < 0, pos_sa += sa > 0, tails += nb % 8 != 0, longs += nb > 512;
        free(x);
    }
    printf("quant_row: 6000 rows (%ld with a negative row exponent, %ld positive; %ld with a tail of blocks, %ld "
           "longer than 16384)\n", neg_sa, pos_sa, tails, longs);
    CHECKF(bad == 0, "%ld quantized rows differ (AVX2 vs reference)", bad);
    CHECKF(neg_sa > 100 && pos_sa > 100 && tails > 1000 && longs >= 50,
           "rows not covered: %ld negative, %ld positive exponents, %ld tails, %ld long", neg_sa, pos_sa, tails, longs);
}

/* The reference's reciprocal and shift for block scale d > 0 at row exponent sa (octet__int_quant_codes_k; for
 * sa < 0 its codes equal round(|x| r 2^-s) as well, int_norm_avx2.c). */
static void quant_rs(int64_t d, int sa, int64_t *r, int *s) {
    const int k = octet__int_bitlen((uint64_t)d) + 22;
    *r = ((INT64_C(127) << k) + d / 2) / d;
    *s = k + sa;
}

/* The kernel's division-free reciprocals for every reachable block scale d in [1, 2^14] (the row maximum M has
 * bitlen(M) = sa + 14, so d <= ceil((2^(sa+14) - 1) 2^-sa) = 2^14: 2^14 + 1 cannot occur). */
static void test_quant_recip(int simd) {
    if (!simd) return;
    long bad = 0;
    for (int d0 = 1; d0 <= 16384; d0 += 8) {
        int32_t d[8], rv[8], kv[8];
        for (int i = 0; i < 8; i++) d[i] = d0 + i <= 16384 ? d0 + i : 16384 - i; /* the last group: 16384 and below */
        octet__int_quant_recip8_avx2(d, rv, kv);
        for (int i = 0; i < 8; i++) {
            int64_t rr;
            int ss;
            quant_rs(d[i], 0, &rr, &ss);
            bad += rv[i] != rr || kv[i] != ss;
        }
    }
    CHECKF(bad == 0, "%ld block reciprocals differ from the reference's division", bad);
}

/* A row built block by block for row exponent sa (-13..18): block 0 holds the row maximum M (2^(sa+14) - 1, or
 * INT32_MIN for sa = 18; for sa >= 1 its scale is 2^14), the others a chosen scale: an edge one (1, 2, 127 2^j:
 * r = 2^29 and exact ties at |x| = (2c + 1) 2^(sa-1), 2^13, 2^13 + 1, 2^14 - 1, 2^14), a random one or 0 (a zero
 * block); each block's largest |x| gives that scale (for sa < 0 the scale is a multiple of 2^-sa), and its other
 * values sit on both sides of code boundaries: |x| = ceil((2c + 1) 2^(s-1) / r) (code c + 1, exactly a tie when r
 * divides it) and one less (code c). Counts in cnt: [0] ties, [1] blocks with scale 1, [2] with scale 2^14. */
static void fill_quant_edges(uint64_t *r, int32_t *x, int nb, int sa, long *cnt) {
    const uint64_t M = sa == 18 ? UINT64_C(1) << 31 : (UINT64_C(1) << (sa + 14)) - 1;
    static const int64_t edge[] = {1, 2, 127, 254, 508, 1016, 2032, 4064, 8128, 16256, 8192, 8193, 16383, 16384};
    for (int b = 0; b < nb; b++) {
        int32_t *xb = x + 32 * b;
        uint64_t amax;
        if (b == 0) {
            amax = M;
        } else {
            const uint64_t k = t_rng_next(r) % 8;
            if (k == 0) {
                memset(xb, 0, 32 * sizeof *xb);
                continue;
            }
            const int64_t d = k < 5 ? edge[t_rng_next(r) % (sizeof edge / sizeof edge[0])]
                                    : 1 + (int64_t)(t_rng_next(r) % 16384);
            if (sa >= 0) { /* the largest amax with ceil(amax 2^-sa) = d, or less by up to 2^sa - 1 */
                amax = ((uint64_t)d << sa) - (t_rng_next(r) & 1 ? t_rng_next(r) % (UINT64_C(1) << sa) : 0);
            } else {
                amax = (uint64_t)d >> -sa;
                if (amax == 0) amax = 1;
            }
            if (amax > M) amax = M;
        }
        const int64_t d = sa >= 0 ? (int64_t)((amax + (UINT64_C(1) << sa) - 1) >> sa) : (int64_t)(amax << -sa);
        cnt[1] += d == 1, cnt[2] += d == 16384;
        int64_t rr;
        int s;
        quant_rs(d, sa, &rr, &s);
        for (int j = 0; j < 32; j += 2) {
            const int64_t c = (int64_t)(t_rng_next(r) % 127), t = (2 * c + 1) * (INT64_C(1) << (s - 1));
            const int64_t a = (t + rr - 1) / rr; /* the smallest |x| with code c + 1 */
            const int neg = (int)(t_rng_next(r) & 1);
            for (int i = 0; i < 2; i++) {
                const int64_t v = (uint64_t)(a - i) <= amax ? a - i : (int64_t)(t_rng_next(r) % (amax + 1));
                xb[j + i] = (int32_t)(neg ? -v : v); /* v <= 2^31 - 1 here unless v = amax = 2^31 */
                if (neg && v == INT64_C(1) << 31) xb[j + i] = INT32_MIN;
                cnt[0] += i == 0 && v == a && a * rr == t;
            }
        }
        const int pos = (int)(t_rng_next(r) % 32); /* the block's largest |x|, INT32_MIN when it is 2^31 */
        const int64_t sv = (t_rng_next(r) & 1) ? -(int64_t)amax : (int64_t)amax;
        xb[pos] = amax == UINT64_C(1) << 31 ? INT32_MIN : (int32_t)sv;
    }
}

static void test_quant_row_edges(int simd) {
    uint64_t r = 4242;
    long bad = 0, cnt[3] = {0, 0, 0}, sa_seen[32] = {0}, rows = 0, min_rows = 0;
    static const int nbs[] = {64, 176, 8, 1, 13, 530};
    for (int it = 0; it < 32 * 36; it++) {
        const int sa = -13 + it % 32, nb = nbs[(it / 32) % 6], n = 32 * nb;
        int32_t *x = alloc32(n);
        fill_quant_edges(&r, x, nb, sa, cnt);
        int got = 99;
        bad += quant_row_check(x, n, simd, NULL, &got);
        bad += got != sa; /* the construction's row exponent */
        sa_seen[(got + 13) & 31]++, rows++, min_rows += sa == 18;
        free(x);
    }
    long all_sa = 1;
    for (int i = 0; i < 32; i++) all_sa &= sa_seen[i] > 0;
    printf("quant_row edges: %ld rows, every row exponent -13..18: %s; %ld exact ties, %ld blocks of scale 1, %ld "
           "of scale 2^14, %ld rows with INT32_MIN as the maximum\n", rows, all_sa ? "yes" : "no", cnt[0], cnt[1],
           cnt[2], min_rows);
    CHECKF(bad == 0, "%ld edge rows differ (AVX2 vs reference) or have an unexpected row exponent", bad);
    CHECKF(all_sa && cnt[0] > 1000 && cnt[1] > 100 && cnt[2] > 100 && min_rows > 10,
           "edges not covered: ties %ld, scale 1 %ld, scale 2^14 %ld, INT32_MIN rows %ld", cnt[0], cnt[1], cnt[2],
           min_rows);
}

int main(void) {
    const octet__cpu *c = octet__cpu_features();
    int simd = c->avx2 && c->fma && c->f16c;
    if (!simd) printf("no AVX2: only the reference functions are checked\n");
    test_maxabs(simd);
    test_rmsnorm_exact(simd);
    test_rmsnorm_float();
    test_quant_recip(simd);
    test_quant_row_exact(simd);
    test_quant_row_edges(simd);
    TEST_MAIN_END();
}
