/*
 * test_int_act.c - the integer-mode SwiGLU: the reference octet__int_swiglu_ref against the per-element formula it
 * was moved from, and the AVX2 twin octet__int_swiglu_avx2 against the reference with exact equality (memcmp) on
 * every g in [-2^22, 2^22] (all exp inputs before the cut-off at 32 ln2, and past it) with several u, random pairs
 * over the whole int32 range, the boundaries (0, +-1, +-(2^31 - 1), INT32_MIN, |x| around every k ln2, the exp
 * cut-off, the clamp of |g|, the output saturation), every tail length, and in-place use with u = g. With u = 2^16
 * the output is silu(g) itself, so the sweep shows silu exact for every |g| <= 2^22, hence the output for any u
 * there; beyond, exp is 0 and silu is g or 0.
 * The AVX2 division (octet__int_sigdiv_avx2) is checked alone against floor((2^60 + floor(d/2)) / d) through
 * its remainder for every d of its domain [2^30, 2^31 + 2^20) in the optimized build (~1.5 s); under ASan (4x
 * slower there) for every d within 64 of a table interval's end plus a 1/64 random sample.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/int_kernels.h"
#include "kernels/intmath.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* The loop the reference was taken from (src/model/int/forward_int.c, swiglu_run), written out per element. */
static int32_t swiglu_one(int32_t gi, int32_t ui) {
    int64_t g = gi;
    int64_t sg = octet__int_sigmoid_q30(g * (1 << (OCTET_INT_FE - OCTET_INT_FX)));
    int64_t silu = octet__int_shift_round(g * sg, 30);
    return octet__int_sat32(octet__int_shift_round(silu * ui, OCTET_INT_FX));
}

/* a random int32 with a random number of significant bits (small values as often as large), either sign */
static int32_t rnd_bits(uint64_t *r) {
    const int bits = (int)(t_rng_next(r) % 33);
    const uint64_t v = bits ? t_rng_next(r) >> (64 - bits) : 0; /* < 2^bits */
    return (int32_t)(uint32_t)(t_rng_next(r) & 1 ? 0u - (uint32_t)v : (uint32_t)v);
}

/* n pairs, g and u each uniform over int32 or of random bit lengths as bits 0 and 1 of it say */
static void fill_pairs(int32_t *g, int32_t *u, size_t n, int it, uint64_t *r) {
    for (size_t i = 0; i < n; i++) {
        g[i] = it & 1 ? rnd_bits(r) : (int32_t)t_rng_next(r);
        u[i] = it & 2 ? rnd_bits(r) : (int32_t)t_rng_next(r);
    }
}

/* both kernels on copies of g (and u, or u = g when alias), n elements; 1 if they agree (and the AVX2 kernel wrote
 * nothing past n: the arrays carry guard elements) */
static int same(const int32_t *g, const int32_t *u, size_t n, int alias) {
    enum { GUARD = 9 };
    static int32_t a[(1 << 16) + GUARD], b[(1 << 16) + GUARD], ua[(1 << 16) + GUARD];
    if (n > (1 << 16)) abort();
    for (size_t i = 0; i < n + GUARD; i++) a[i] = b[i] = i < n ? g[i] : (int32_t)(0x5a5a0000u + (uint32_t)i);
    memcpy(ua, u, n * sizeof *u);
    octet__int_swiglu_ref(a, alias ? a : ua, n);
    octet__int_swiglu_avx2(b, alias ? b : ua, n);
    return memcmp(a, b, (n + GUARD) * sizeof *a) == 0;
}

/* The reference equals the loop it replaces: random pairs, the extremes, and u = g. */
static void test_ref(void) {
    enum { N = 4096 };
    static int32_t g[N], u[N], g2[N];
    uint64_t r = 1;
    long bad = 0;
    for (int it = 0; it < 64; it++) {
        fill_pairs(g, u, N, it, &r);
        g[0] = INT32_MIN, g[1] = INT32_MAX, g[2] = -INT32_MAX, g[3] = 0, u[4] = INT32_MIN, u[5] = INT32_MAX;
        memcpy(g2, g, sizeof g);
        octet__int_swiglu_ref(g2, u, N);
        for (int i = 0; i < N; i++) bad += g2[i] != swiglu_one(g[i], u[i]);
        memcpy(g2, g, sizeof g);
        octet__int_swiglu_ref(g2, g2, N);
        for (int i = 0; i < N; i++) bad += g2[i] != swiglu_one(g[i], g[i]);
    }
    CHECKF(bad == 0, "%ld reference SwiGLU results differ from the per-element formula", bad);
}

/* The division: q d <= 2^60 + floor(d/2) < (q + 1) d, i.e. q = floor((2^60 + floor(d/2)) / d). */
static long div_check(const uint32_t *d, size_t n) {
    static uint32_t q[8192];
    long bad = 0;
    octet__int_sigdiv_avx2(d, q, n);
    for (size_t j = 0; j < n; j++) {
        const uint64_t num = ((uint64_t)1 << 60) + d[j] / 2, p = (uint64_t)q[j] * d[j];
        bad += !(p <= num && num - p < d[j]);
    }
    return bad;
}

static void test_div(void) {
    static uint32_t d[8192];
    const uint64_t lo = (uint64_t)1 << 30, hi = ((uint64_t)1 << 31) + ((uint64_t)1 << 20); /* [lo, hi) */
    long bad = 0, n = 0;
    size_t k = 0;
    /* every d within 64 of an end of a table interval [2^30 + i 2^20, 2^30 + (i+1) 2^20) */
    for (uint64_t i = 0; i <= 1025; i++)
        for (int64_t o = -64; o < 64; o++) {
            const int64_t v = (int64_t)(lo + (i << 20)) + o;
            if (v < (int64_t)lo || v >= (int64_t)hi) continue;
            d[k++] = (uint32_t)v;
            if (k == 8192) bad += div_check(d, k), n += (long)k, k = 0;
        }
    bad += div_check(d, k), n += (long)k, k = 0;
    for (size_t m = 1; m < 8; m++) bad += div_check(d + 100, m), n += (long)m; /* the helper's short tails */
    if (!SANITIZED) { /* all of them */
        for (uint64_t v = lo; v < hi; v += 8192) {
            const size_t m = hi - v < 8192 ? (size_t)(hi - v) : 8192;
            for (size_t j = 0; j < m; j++) d[j] = (uint32_t)(v + j);
            bad += div_check(d, m), n += (long)m;
        }
    } else {
        uint64_t r = 5;
        for (int it = 0; it < 2048; it++) {
            for (size_t j = 0; j < 8192; j++) d[j] = (uint32_t)(lo + t_rng_next(&r) % (hi - lo));
            bad += div_check(d, 8192), n += 8192;
        }
    }
    CHECKF(bad == 0, "%ld of %ld AVX2 divisions differ from floor((2^60 + floor(d/2)) / d)", bad, n);
}

/* Every g in [-2^22, 2^22] (|x| = 16 |g| up to 2^26, the cut-off at |g| = 1453634) with u = 2^16 (the output is
 * silu itself), u = 1, u = -(2^31 - 1) and u random. */
static void test_small_g(void) {
    enum { N = 1 << 16 };
    static int32_t g[N], u[N];
    uint64_t r = 2;
    long bad = 0;
    const int32_t us[] = {1 << 16, 1, -INT32_MAX, 0};
    for (int k = 0; k < 4; k++)
        for (int64_t g0 = -(INT64_C(1) << 22); g0 <= (INT64_C(1) << 22); g0 += N) {
            const size_t n = (INT64_C(1) << 22) + 1 - g0 < N ? (size_t)((INT64_C(1) << 22) + 1 - g0) : N;
            for (size_t i = 0; i < n; i++) {
                g[i] = (int32_t)(g0 + (int64_t)i);
                u[i] = k < 3 ? us[k] : (int32_t)t_rng_next(&r);
            }
            bad += !same(g, u, n, 0);
        }
    CHECKF(bad == 0, "%ld blocks of g in [-2^22, 2^22] differ between the AVX2 kernel and the reference", bad);
}

/* random pairs: uniform over int32, and with random bit lengths (small and large magnitudes mixed) */
static void test_random(void) {
    enum { N = 1 << 16 };
    static int32_t g[N], u[N];
    uint64_t r = 3;
    long bad = 0;
    for (int it = 0; it < 32; it++) {
        fill_pairs(g, u, N, it, &r);
        bad += !same(g, u, N, 0);
    }
    CHECKF(bad == 0, "%ld random blocks differ between the AVX2 kernel and the reference", bad);
}

/* Boundaries, each g against each u: 0, +-1, the extremes, |g| around 18 (d above 2^31 up to there), 16 |g|
 * around every k ln2 (k = 0..33: the z steps, the exp cut-off at k = 32) and around the kernel's clamp of |g| at
 * 2^21 - 1; u from 0 to the extremes; then u chosen so |silu u| lands on the saturation threshold. */
static void test_bounds(void) {
    enum { MAXG = 512, MAXU = 32 };
    static int32_t gs[MAXG], g[MAXG * MAXU], u[MAXG * MAXU];
    static const int32_t us[] = {0,      1,      -1,     2,         -2,         32767,     32768,    -32768,
                                 65535,  65536,  -65536, 65537,     1 << 30,    -(1 << 30), INT32_MAX, -INT32_MAX,
                                 INT32_MIN, 3,   12345,  -987654321, 1 << 20,   -(1 << 24)};
    const int nu = (int)(sizeof us / sizeof us[0]);
    int ng = 0;
    const int32_t fixed[] = {0, 1, -1, 2, -2, 17, -17, 18, -18, 19, -19, INT32_MAX, -INT32_MAX, INT32_MIN,
                             INT32_MAX - 1, INT32_MIN + 2, 1 << 21, -(1 << 21), (1 << 21) + 1, -(1 << 21) - 1,
                             (1 << 21) - 1, -(1 << 21) + 1, 1 << 30, -(1 << 30)};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) gs[ng++] = fixed[i];
    for (int64_t k = 0; k <= 33; k++)
        for (int64_t o = -2; o <= 2; o++) {
            const int64_t a = k * 726817 / 16 + o; /* 16 a - k ln2 in [-47, 32] */
            if (a < 0) continue;
            gs[ng++] = (int32_t)a, gs[ng++] = (int32_t)-a;
        }
    long bad = 0;
    size_t n = 0;
    for (int i = 0; i < ng; i++)
        for (int j = 0; j < nu; j++) g[n] = gs[i], u[n] = us[j], n++;
    bad += !same(g, u, n, 0);
    bad += !same(g, g, n, 1);
    /* the saturation threshold: silu from u = 2^16, then |u| = floor((2^47 - 2^15) / |silu|) + {-1, 0, 1} */
    uint64_t r = 4;
    n = 0;
    while (n + 3 <= (size_t)MAXG * MAXU) {
        const int32_t g0 = rnd_bits(&r), one = 1 << 16;
        int32_t s = g0;
        octet__int_swiglu_ref(&s, &one, 1); /* silu(g0) */
        const int64_t m = s < 0 ? -(int64_t)s : s;
        if (m == 0) continue;
        const int64_t thr = ((INT64_C(1) << 47) - (INT64_C(1) << 15)) / m; /* (m |u| + 2^15) >> 16 reaches 2^31 */
        for (int o = -1; o <= 1; o++) {
            const int64_t uu = thr + o > INT32_MAX ? INT32_MAX : thr + o;
            g[n] = g0, u[n] = (int32_t)(t_rng_next(&r) & 1 ? -uu : uu);
            n++;
        }
    }
    bad += !same(g, u, n, 0);
    CHECKF(bad == 0, "%ld boundary blocks differ between the AVX2 kernel and the reference", bad);
}

/* every length 0..40 (tails 0..7 after 0..5 full vectors) at offsets 0..3, u separate and u = g */
static void test_tails(void) {
    static int32_t g[48], u[48];
    uint64_t r = 6;
    long bad = 0;
    for (int n = 0; n <= 40; n++)
        for (int off = 0; off < 4; off++) {
            for (int i = 0; i < 48; i++) g[i] = rnd_bits(&r), u[i] = rnd_bits(&r);
            bad += !same(g + off, u + off, (size_t)n, 0);
            bad += !same(g + off, u + off, (size_t)n, 1);
        }
    CHECKF(bad == 0, "%ld short rows differ between the AVX2 kernel and the reference", bad);
}

/* The softmax: the AVX2 twin against octet__int_softmax_q30_ref with memcmp (and no write past n), on score rows of
 * 1..300 keys: Q20 scores of real spread, rows where most keys are far below the maximum (past the exp cut-off at
 * 32 ln2, and beyond the 2^25 clamp), all equal, the maximum first, last or repeated, magnitudes up to 2^44; the
 * reference's probabilities sum to 2^30 within the rounding of n terms. */
static void test_softmax(int simd) {
    enum { N = 300, GUARD = 5 };
    static int64_t sc[N];
    static int32_t p1[N + GUARD], p2[N + GUARD];
    uint64_t r = 2024;
    long bad = 0, bad_sum = 0;
    for (int it = 0; it < 6000; it++) {
        const int n = 1 + (int)(t_rng_next(&r) % N), mode = it % 6;
        const int64_t base = (int64_t)(t_rng_next(&r) >> 20) - (INT64_C(1) << 43);
        for (int j = 0; j < n; j++) {
            int64_t v = (int64_t)(t_rng_next(&r) % (UINT64_C(1) << (mode == 1 ? 26 : 23))); /* up to ~64 in Q20 */
            if (mode == 2 && t_rng_next(&r) % 4) v += INT64_C(1) << (25 + t_rng_next(&r) % 18); /* far below */
            if (mode == 3) v = 0;
            sc[j] = base - v;
        }
        if (mode == 4) sc[n - 1] = base + (INT64_C(1) << 24);
        if (mode == 5) sc[0] = sc[n / 2] = base + 7;
        for (int j = 0; j < n + GUARD; j++) p1[j] = p2[j] = -7;
        octet__int_softmax_q30_ref(sc, p1, n);
        int64_t sum = 0;
        for (int j = 0; j < n; j++) sum += p1[j];
        bad_sum += sum < (INT64_C(1) << 30) - n || sum > (INT64_C(1) << 30) + n;
        if (!simd) continue;
        octet__int_softmax_q30_avx2(sc, p2, n);
        bad += memcmp(p1, p2, sizeof p1) != 0;
    }
    CHECKF(bad_sum == 0, "%ld reference softmax rows do not sum to 2^30 +- n", bad_sum);
    CHECKF(bad == 0, "%ld AVX2 softmax rows differ from the reference", bad);
}

int main(void) {
    test_ref();
    const octet__cpu *c = octet__cpu_features();
    test_softmax(c->avx2);
    if (!c->avx2) {
        printf("no AVX2: only the reference is checked\n");
        TEST_MAIN_END();
    }
    test_div();
    test_small_g();
    test_random();
    test_bounds();
    test_tails();
    TEST_MAIN_END();
}
