/*
 * test_int_math.c - the integer arithmetic of the integer-only mode (src/kernels/ref/int_*_ref.c) against
 * independent references: 128-bit products, libm exp in double, float64 softmax and RMSNorm, the C compiler's
 * own int -> float conversion, direct int16 products.
 * Properties from docs/integer.md ("What it must show"): isqrt exact (exhaustive over 32-bit subsets + random
 * 64-bit); exp relative error <= 4e-3; softmax per-element error <= 1/256 + 3e-3; norms within 1 LSB of float at
 * 8-bit output with outlier channels present; limb products equal direct products (all int16 x int8 pairs,
 * sampled int16 x int16).
 */
#include "kernels/intmath.h"
#include "test.h"

__extension__ typedef __int128 i128;

static void test_isqrt(void) {
    int bad = 0;
    /* exhaustive over every n < 2^25 and every n in [2^32 - 2^23, 2^32 + 2^23) */
    for (uint64_t n = 0; n < (1u << 25); n++) {
        uint64_t r = octet__int_isqrt64(n);
        if (r * r > n || (r + 1) * (r + 1) <= n) bad++;
    }
    for (uint64_t n = (UINT64_C(1) << 32) - (1u << 23); n < (UINT64_C(1) << 32) + (1u << 23); n++) {
        uint64_t r = octet__int_isqrt64(n);
        if (r * r > n || (r + 1) * (r + 1) <= n) bad++;
    }
    CHECKF(bad == 0, "%d wrong square roots below 2^25 / around 2^32", bad);
    /* every perfect square and its neighbours for roots below 2^20, random 64-bit values, extremes */
    bad = 0;
    for (uint64_t r = 1; r < (1u << 20); r++) {
        uint64_t sq = r * r;
        if (octet__int_isqrt64(sq) != r || octet__int_isqrt64(sq - 1) != r - 1 || octet__int_isqrt64(sq + 1) != r)
            bad++;
    }
    uint64_t rng = 1;
    for (int i = 0; i < 2000000; i++) {
        uint64_t n = t_rng_next(&rng) >> (t_rng_next(&rng) & 63);
        uint64_t r = octet__int_isqrt64(n);
        i128 lo = (i128)r * r, hi = (i128)(r + 1) * (r + 1);
        if (lo > (i128)n || hi <= (i128)n) bad++;
    }
    CHECK(octet__int_isqrt64(UINT64_MAX) == 0xffffffffu);
    CHECK(octet__int_isqrt64((UINT64_C(0xffffffff)) * 0xffffffffu) == 0xffffffffu);
    CHECKF(bad == 0, "%d wrong square roots (squares / random 64-bit)", bad);
}

static void test_mulshift(void) {
    uint64_t rng = 2;
    int bad = 0;
    for (int i = 0; i < 1000000; i++) {
        int s = 1 + (int)(t_rng_next(&rng) % 62);
        int64_t a = (int64_t)(t_rng_next(&rng) >> (2 + t_rng_next(&rng) % 60)) * ((t_rng_next(&rng) & 1) ? 1 : -1);
        int32_t m = (int32_t)(t_rng_next(&rng) >> 33);
        i128 p = (i128)a * m + ((i128)1 << (s - 1));
        i128 want = p >> s; /* floor */
        if (want >= ((i128)1 << 62) || want <= -((i128)1 << 62)) continue;
        if (octet__int_mulshift(a, m, s) != (int64_t)want) bad++;
    }
    CHECKF(bad == 0, "%d mulshift results differ from the 128-bit reference", bad);
    CHECK(octet__int_mulshift(1000, 1 << 30, 0) == 1000LL << 30);
    CHECK(octet__int_mulshift(-3, 1 << 30, -2) == -3LL * (1LL << 32));
    CHECK(octet__int_mulshift(INT64_C(1) << 61, INT32_MAX, 0) == INT64_C(1) << 62); /* saturates */
    CHECK(octet__int_shift_round(5, 1) == 3 && octet__int_shift_round(-5, 1) == -3 && octet__int_shift_round(3, -2) == 12);
}

static void test_exp_softmax(void) {
    double worst = 0.0;
    for (int64_t x = 0; x >= -10 * (INT64_C(1) << 20); x -= 37) {
        double e = octet__int_exp_q30(x) * 0x1p-30, want = exp((double)x * 0x1p-20);
        double rel = fabs(e - want) / want;
        if (rel > worst) worst = rel;
    }
    printf("exp: max relative error %.3e on [-10, 0]\n", worst);
    CHECKF(worst <= 4e-3, "exp relative error %.3e > 4e-3", worst);
    CHECK(octet__int_exp_q30(-40 * (INT64_C(1) << 20)) == 0);
    CHECK(octet__int_exp_q30(INT64_MIN / 2) == 0);

    double sworst = 0.0;
    for (int x = -200; x <= 200; x++) {
        double s = octet__int_sigmoid_q30((int64_t)x * 65536) * 0x1p-30, want = 1.0 / (1.0 + exp(-(double)x / 16));
        if (fabs(s - want) > sworst) sworst = fabs(s - want);
    }
    printf("sigmoid: max absolute error %.3e on [-12.5, 12.5]\n", sworst);
    CHECKF(sworst <= 2e-3, "sigmoid error %.3e", sworst);

    uint64_t rng = 3;
    double pworst = 0.0;
    int64_t s[300];
    int32_t p[300];
    for (int trial = 0; trial < 300; trial++) {
        int n = 1 + (int)(t_rng_next(&rng) % 300);
        double spread = 1.0 + (double)(trial % 20); /* scores up to +-20 */
        double mx = -1e300, sum = 0.0;
        for (int j = 0; j < n; j++) {
            s[j] = (int64_t)((double)t_rng_f(&rng) * spread * 1048576.0);
            if ((double)s[j] > mx) mx = (double)s[j];
        }
        for (int j = 0; j < n; j++) sum += exp(((double)s[j] - mx) * 0x1p-20);
        octet__int_softmax_q30_ref(s, p, n);
        for (int j = 0; j < n; j++) {
            double want = exp(((double)s[j] - mx) * 0x1p-20) / sum, err = fabs(p[j] * 0x1p-30 - want);
            if (err > pworst) pworst = err;
        }
    }
    printf("softmax: max per-element error %.3e\n", pworst);
    CHECKF(pworst <= 1.0 / 256 + 3e-3, "softmax error %.3e", pworst);
    /* one key: probability 1 whatever the score */
    s[0] = -(INT64_C(1) << 40);
    octet__int_softmax_q30_ref(s, p, 1);
    CHECK(p[0] >= (1 << 30) - 2 && p[0] <= (1 << 30) + 2);
}

static void test_limbs(void) {
    int bad = 0;
    for (int a = -32768; a <= 32767; a++)
        for (int b = -128; b <= 127; b++)
            if (octet__int_mul16x8_limbs((int16_t)a, (int8_t)b) != a * b) bad++;
    CHECKF(bad == 0, "%d int16 x int8 limb products differ", bad);
    bad = 0;
    uint64_t rng = 4;
    for (int i = 0; i < 5000000; i++) {
        int16_t a = (int16_t)t_rng_next(&rng), b = (int16_t)t_rng_next(&rng);
        if (octet__int_mul16x16_limbs(a, b) != (int32_t)a * b) bad++;
    }
    const int16_t edge[] = {-32768, -32767, -257, -256, -255, -129, -128, -1, 0, 1, 127, 128, 255, 256, 32767};
    for (size_t i = 0; i < sizeof edge / 2; i++)
        for (size_t j = 0; j < sizeof edge / 2; j++)
            if (octet__int_mul16x16_limbs(edge[i], edge[j]) != (int32_t)edge[i] * edge[j]) bad++;
    CHECKF(bad == 0, "%d int16 x int16 limb products differ", bad);
}

static void test_f32_bits(void) {
    uint64_t rng = 5;
    int bad = 0;
    for (int i = 0; i < 2000000; i++) {
        int64_t v = (int64_t)(t_rng_next(&rng) >> (11 + t_rng_next(&rng) % 53)) * ((i & 1) ? -1 : 1);
        int frac = (int)(t_rng_next(&rng) % 40);
        float want = (float)ldexp((double)v, -frac); /* exact double, one rounding to float */
        uint32_t wb;
        memcpy(&wb, &want, 4);
        if (octet__int_to_f32_bits(v, frac) != wb) bad++;
    }
    CHECKF(bad == 0, "%d int -> float conversions differ from the compiler's", bad);
}

/* RMSNorm then 8-bit block quantization against float64 with the same two steps. */
static void test_rmsnorm(void) {
    enum { N = 512 };
    int32_t x[N], g[N], y[N];
    int8_t q[N];
    int16_t sc[N / 32];
    uint64_t rng = 6;
    int worst = 0;
    for (int trial = 0; trial < 200; trial++) {
        double scale = ldexp(1.0, (int)(t_rng_next(&rng) % 24) - 8); /* 2^-8 .. 2^15 in Q16 units */
        int gs = 20;
        for (int j = 0; j < N; j++) {
            double v = (double)t_rng_f(&rng) * scale;
            if (j % 97 == 5) v *= 60.0; /* outlier channels */
            x[j] = (int32_t)fmax(fmin(v * 65536.0, 2147483647.0), -2147483647.0);
            g[j] = (int32_t)((0.25 + 2.0 * fabs((double)t_rng_f(&rng))) * (1 << gs));
        }
        int64_t eps_q32 = 43; /* 1e-8 */
        octet__int_rmsnorm_ref(y, x, g, gs, N, eps_q32);
        int sa;
        octet__int_quant_row_ref(y, N, q, sc, &sa, NULL);
        double ss = 0.0, yf[N];
        for (int j = 0; j < N; j++) ss += (double)x[j] * x[j];
        double inv = 1.0 / sqrt(ss / N + (double)eps_q32 * 0x1p-32 * 65536.0 * 65536.0);
        for (int j = 0; j < N; j++) yf[j] = x[j] * inv * g[j] / (double)(1 << gs);
        for (int b = 0; b < N / 32; b++) {
            double amax = 0.0;
            for (int j = 0; j < 32; j++) amax = fmax(amax, fabs(yf[32 * b + j]));
            for (int j = 0; j < 32; j++) {
                int want = amax > 0 ? (int)lround(yf[32 * b + j] * 127.0 / amax) : 0;
                int d = abs(want - q[32 * b + j]);
                if (d > worst) worst = d;
            }
        }
    }
    printf("rmsnorm + 8-bit quantization: max difference to float64 %d LSB\n", worst);
    CHECKF(worst <= 1, "rmsnorm codes differ by %d LSB", worst);
}

static void test_quant_row(void) {
    int32_t x[64];
    int8_t q[64];
    int16_t sc[2];
    int sa;
    for (int j = 0; j < 64; j++) x[j] = j < 32 ? (j - 16) * 1000 : -(j - 32) * 3;
    octet__int_quant_row_ref(x, 64, q, sc, &sa, NULL);
    /* block 0: amax 16000; M = 16000 has 14 bits, so sa = 0 and the codes are round(x * 127 / 16000) */
    CHECK(sa == 0 && sc[0] == 16000 && sc[1] == 93);
    CHECK(q[0] == -127 && q[16] == 0 && q[17] == 8 && q[63] == -127 && q[33] == -4);
    memset(x, 0, sizeof x);
    octet__int_quant_row_ref(x, 64, q, sc, &sa, NULL);
    CHECK(sa == 0 && sc[0] == 0 && q[5] == 0);
    x[3] = INT32_MIN + 1;
    x[40] = INT32_MAX;
    octet__int_quant_row_ref(x, 64, q, sc, &sa, NULL);
    CHECK(q[3] == -127 && q[40] == 127 && sc[0] <= 16384);
}

int main(void) {
    test_isqrt();
    test_mulshift();
    test_exp_softmax();
    test_limbs();
    test_f32_bits();
    test_rmsnorm();
    test_quant_row();
    TEST_MAIN_END();
}
