/*
 * test_xmath.c - the reproducible transcendental values of src/core/xmath.c:
 *   exact values where the real result is a double (0, 1/8, 1/4, 1/2, 3/4 turn: 1, 0, sqrt(1/2) rounded);
 *   exact symmetries (a quarter turn more rotates (c, s) to (-s, c); the opposite phase negates sin);
 *   agreement with libm's long double cosl/sinl within 2 units in the last place of the double where |value| >
 *   1e-3 (cosl's own angle is only good to 2^-64 relative, which is about 1.4 ulp of a value near 1e-3);
 *   the float path equal to the double-double result rounded to float, on 200,000 random phases;
 *   RoPE phases equal to values computed independently with 60-digit decimal arithmetic (Python's decimal:
 *   2^64 / (2 pi) = 2935890503282001226.496..., 2^64 10000^(-1/32) / (2 pi) = 2201607287645322119.818...,
 *   2^64 500000^(-34/128) / (2 pi 8) = 11242449870376313.650...), and within 1 of powl's everywhere.
 */
#include <math.h>

#include "core/xmath.h"
#include "test.h"

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static double ulps(double a, double ref) { return fabs(a - ref) / (nextafter(fabs(ref), INFINITY) - fabs(ref)); }

int main(void) {
    double c, s;
    octet__xm_turn_sincos(0, &c, &s);
    CHECK(c == 1.0 && s == 0.0 && !signbit(s));
    octet__xm_turn_sincos(UINT64_C(1) << 61, &c, &s);
    CHECK(c == sqrt(0.5) && s == sqrt(0.5));
    octet__xm_turn_sincos(UINT64_C(1) << 62, &c, &s);
    CHECK(c == 0.0 && !signbit(c) && s == 1.0);
    octet__xm_turn_sincos(UINT64_C(1) << 63, &c, &s);
    CHECK(c == -1.0 && s == 0.0 && !signbit(s));
    octet__xm_turn_sincos(UINT64_C(3) << 62, &c, &s);
    CHECK(c == 0.0 && s == -1.0);
    octet__xm_turn_sincos(UINT64_C(0x2AAAAAAAAAAAAAAB), &c, &s); /* 1/6 turn: cos = 1/2 */
    CHECK(c == 0.5 && ulps(s, sqrt(0.75)) <= 1);

    int sym_bad = 0, far = 0, fbad = 0;
    double worst = 0;
    for (int k = 0; k < 200000; k++) {
        uint64_t p = next();
        double c1, s1, c2, s2;
        octet__xm_turn_sincos(p, &c1, &s1);
        octet__xm_turn_sincos(p + (UINT64_C(1) << 62), &c2, &s2);
        sym_bad += !(c2 == -s1 + 0.0 && s2 == c1 + 0.0);
        octet__xm_turn_sincos(0 - p, &c2, &s2);
        sym_bad += !(c2 == c1 && s2 == -s1 + 0.0);
        long double a = (long double)p * 0x1p-64L * 6.283185307179586476925286766559L;
        double cr = (double)cosl(a), sr = (double)sinl(a);
        if (fabs(cr) > 1e-3 && ulps(c1, cr) > worst) worst = ulps(c1, cr);
        if (fabs(sr) > 1e-3 && ulps(s1, sr) > worst) worst = ulps(s1, sr);
        float cf, sf;
        octet__xm_turn_sincosf(p, &cf, &sf);
        fbad += !(cf == (float)c1 && sf == (float)s1);
    }
    far = worst > 2.0;
    CHECKF(!sym_bad, "%d symmetry failures", sym_bad);
    CHECKF(!far, "max %.1f ulps from cosl/sinl", worst);
    CHECKF(!fbad, "%d float results differ from the double-double ones rounded", fbad);

    CHECK(octet__xm_rope_phi(10000.0, 0, 64, 1.0) == UINT64_C(2935890503282001226));
    CHECK(octet__xm_rope_phi(10000.0, 1, 64, 1.0) == UINT64_C(2201607287645322120));
    CHECK(octet__xm_rope_phi(500000.0, 17, 128, 8.0) == UINT64_C(11242449870376314));
    long long maxd = 0;
    const double bases[] = {10000.0, 500000.0, 1000000.0, 1e7, 1.5};
    for (int b = 0; b < 5; b++)
        for (int n_rot = 32; n_rot <= 256; n_rot *= 2)
            for (int i = 0; i < n_rot / 2; i++)
                for (int d = 0; d < 3; d++) {
                    const double div = d == 0 ? 1.0 : d == 1 ? 4.0 : 0.37;
                    uint64_t a = octet__xm_rope_phi(bases[b], i, n_rot, div);
                    long double t = powl((long double)bases[b], -2.0L * i / n_rot) / div /
                                    6.283185307179586476925286766559L;
                    t -= floorl(t);
                    uint64_t r = (uint64_t)(t * 18446744073709551616.0L + 0.5L);
                    long long dd = (long long)(a - r);
                    if (dd < 0) dd = -dd;
                    if (dd > maxd) maxd = dd;
                }
    CHECKF(maxd <= 1, "phi differs from powl's by %lld", maxd);
    TEST_MAIN_END();
}
