/*
 * test_fp16.c - fp16 / bf16 converters of src/core (octet__fp16_to_fp32 and friends), exhaustively over all 65536
 * 16-bit patterns, against an independent formula (ldexp of the IEEE fields) and hand cases; rounding checked at
 * every midpoint between adjacent halves; and the AVX2 F16 / BF16 row conversions against the portable ones.
 */
#include "test.h"

#include <float.h>

#include "core/core.h"
#include "kernels/kernels_impl.h"

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* IEEE binary16 value from its fields, in double (independent of core.c) */
static double half_value(uint16_t h) {
    const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 0) v = ldexp((double)m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexp(1024.0 + m, e - 25);
    return s ? -v : v;
}

static void test_fp16_exhaustive(void) {
    int bad_value = 0, bad_round_trip = 0, bad_mid = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = octet__fp16_to_fp32((uint16_t)h);
        const double want = half_value((uint16_t)h);
        if (isnan(want)) {
            if (!isnan(f)) bad_value++;
            if ((octet__fp32_to_fp16(f) & 0x7c00) != 0x7c00 || !(octet__fp32_to_fp16(f) & 0x3ff)) bad_round_trip++;
            continue;
        }
        if ((double)f != want || (signbit(f) != 0) != (h >> 15 != 0)) bad_value++;
        if (octet__fp32_to_fp16(f) != h) bad_round_trip++;
        /* midpoint to the next half of larger magnitude: exact in float (12 significant bits) */
        const uint16_t next = (uint16_t)(h + 1);
        if ((h & 0x7fff) < 0x7bff) {
            const float mid = (float)((want + half_value(next)) / 2);
            const uint16_t even = (h & 1) ? next : (uint16_t)h;
            if (octet__fp32_to_fp16(mid) != even) bad_mid++;
            if (octet__fp32_to_fp16(nextafterf(mid, 0.0f)) != h) bad_mid++;
            if (octet__fp32_to_fp16(nextafterf(mid, mid > 0 ? INFINITY : -INFINITY)) != next) bad_mid++;
        }
    }
    CHECKF(bad_value == 0, "%d halves decode wrong", bad_value);
    CHECKF(bad_round_trip == 0, "%d halves do not round-trip", bad_round_trip);
    CHECKF(bad_mid == 0, "%d midpoint roundings wrong", bad_mid);
}

static void test_fp16_hand(void) {
    CHECK(octet__fp32_to_fp16(1.0f) == 0x3c00);
    CHECK(octet__fp32_to_fp16(-2.0f) == 0xc000);
    CHECK(octet__fp32_to_fp16(0.5f) == 0x3800);
    CHECK(octet__fp32_to_fp16(65504.0f) == 0x7bff);
    CHECK(octet__fp32_to_fp16(65519.99f) == 0x7bff); /* below the midpoint to 65536 */
    CHECK(octet__fp32_to_fp16(65520.0f) == 0x7c00);  /* midpoint, odd mantissa: rounds up to inf */
    CHECK(octet__fp32_to_fp16(1e10f) == 0x7c00);
    CHECK(octet__fp32_to_fp16(-1e10f) == 0xfc00);
    CHECK(octet__fp32_to_fp16(INFINITY) == 0x7c00);
    CHECK(octet__fp32_to_fp16(0x1p-24f) == 0x0001);  /* smallest subnormal */
    CHECK(octet__fp32_to_fp16(0x1p-25f) == 0x0000);  /* half of it: tie to even (0) */
    CHECK(octet__fp32_to_fp16(0x1.000002p-25f) == 0x0001);
    CHECK(octet__fp32_to_fp16(0x3p-25f) == 0x0002);  /* 1.5 ulp: tie to even (2) */
    CHECK(octet__fp32_to_fp16(0x1p-14f) == 0x0400);  /* smallest normal */
    CHECK(octet__fp32_to_fp16(0x1.ff8p-15f) == 0x03ff); /* largest subnormal */
    CHECK(octet__fp32_to_fp16(0x1.ffcp-15f) == 0x0400); /* largest subnormal + half ulp rounds into normal */
    CHECK(octet__fp32_to_fp16(1e-10f) == 0x0000);
    CHECK(octet__fp32_to_fp16(-0.0f) == 0x8000);
    CHECK(octet__fp32_to_fp16(0.1f) == 0x2e66);      /* 0.0999755859375 */
    CHECK(octet__fp32_to_fp16(3.14159265f) == 0x4248);
    const uint16_t hn = octet__fp32_to_fp16(NAN);
    CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff) != 0);
    CHECK(octet__fp16_to_fp32(0x3c00) == 1.0f);
    CHECK(octet__fp16_to_fp32(0xc000) == -2.0f);
    CHECK(octet__fp16_to_fp32(0x7bff) == 65504.0f);
    CHECK(octet__fp16_to_fp32(0x0001) == 0x1p-24f);
    CHECK(octet__fp16_to_fp32(0x03ff) == 0x1.ff8p-15f);
    CHECK(isinf(octet__fp16_to_fp32(0xfc00)) && octet__fp16_to_fp32(0xfc00) < 0);
}

/* bf16: value = upper 16 bits of a binary32; round to nearest even on the dropped 16 bits */
static void test_bf16(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = octet__bf16_to_fp32((uint16_t)h);
        if (f2u(f) != h << 16) bad++;
        if (!isnan(f) && octet__fp32_to_bf16(f) != h) bad++;
        if (isnan(f) && !isnan(octet__bf16_to_fp32(octet__fp32_to_bf16(f)))) bad++;
    }
    CHECKF(bad == 0, "%d bf16 patterns wrong", bad);
    /* rounding against a double reference on random floats */
    uint64_t rng = 7;
    int bad_r = 0;
    for (int i = 0; i < 200000; i++) {
        const uint32_t u = (uint32_t)t_rng_next(&rng);
        const float f = u2f(u);
        if (isnan(f) || isinf(f)) continue;
        const uint16_t got = octet__fp32_to_bf16(f);
        const float lo = u2f(u & 0xffff0000u), hi = u2f((u & 0xffff0000u) + 0x10000u);
        const double dl = fabs((double)f - (double)lo), dh = fabs((double)hi - (double)f);
        uint16_t want = (uint16_t)(u >> 16);
        if (dh < dl || (dh == dl && (want & 1))) want = (uint16_t)(want + 1);
        if (got != want) bad_r++;
    }
    CHECKF(bad_r == 0, "%d bf16 roundings wrong", bad_r);
    CHECK(octet__fp32_to_bf16(1.0f) == 0x3f80);
    CHECK(octet__fp32_to_bf16(1.0f + 0x1p-8f) == 0x3f80);     /* tie, even stays */
    CHECK(octet__fp32_to_bf16(1.0f + 0x3p-8f) == 0x3f82);     /* tie, odd rounds up */
    CHECK(octet__fp32_to_bf16(1.0f + 0x1.2p-8f) == 0x3f81);   /* above the tie */
    CHECK(octet__fp32_to_bf16(3.14159265f) == 0x4049);
    CHECK(octet__fp32_to_bf16(FLT_MAX) == 0x7f80);            /* rounds to inf */
    CHECK(octet__fp32_to_bf16(-0.0f) == 0x8000);
    CHECK(isnan(octet__bf16_to_fp32(octet__fp32_to_bf16(NAN))));
}

static void test_simd_conversions(void) {
    if (!octet__kernels_simd()) {
        printf("skip: AVX2 conversions (CPU lacks AVX2/FMA/F16C)\n");
        return;
    }
    static uint16_t all[65536 + 5];
    static float a[65536 + 5], b[65536 + 5];
    for (uint32_t h = 0; h < 65536 + 5; h++) all[h] = (uint16_t)(h * 40503u + 3); /* covers every pattern */
    int bad = 0;
    octet__to_float_f16_ref(all, a, 65536 + 5);
    octet__to_float_f16_avx2(all, b, 65536 + 5);
    for (int i = 0; i < 65536 + 5; i++)
        if (isnan(a[i]) ? !isnan(b[i]) : f2u(a[i]) != f2u(b[i])) bad++;
    octet__to_float_bf16_ref(all, a, 65536 + 5);
    octet__to_float_bf16_avx2(all, b, 65536 + 5);
    for (int i = 0; i < 65536 + 5; i++)
        if (f2u(a[i]) != f2u(b[i])) bad++;
    CHECKF(bad == 0, "%d AVX2 conversions differ", bad);
}

int main(void) {
    test_fp16_exhaustive();
    test_fp16_hand();
    test_bf16();
    test_simd_conversions();
    TEST_MAIN_END();
}
