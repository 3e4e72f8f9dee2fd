/*
 * xmath.c - reproducible transcendental values in double-double arithmetic (see xmath.h).
 *
 * A double-double x = hi + lo with |lo| <= ulp(hi)/2. The error-free transformations (two_sum: Knuth;
 * two_prod by Dekker's splitting, no FMA) and the add/mul/div formulas follow the usual double-double
 * algorithms (Dekker 1971; Hida, Li and Bailey 2001, "Algorithms for quad-double precision floating point
 * arithmetic"). exp and log reduce their argument exactly and sum Taylor series far past 106 bits; sin and cos
 * take an exact integer reduction of the turn to an eighth (the phase is an integer) and then Taylor series.
 */
#include "core/xmath.h"

#include <float.h>
#include <math.h>

#if FLT_EVAL_METHOD != 0
#error "xmath.c needs double arithmetic evaluated in double (SSE2/NEON, not x87)"
#endif

typedef struct {
    double hi, lo;
} dd;

static dd two_sum(double a, double b) {
    double s = a + b, bb = s - a;
    return (dd){s, (a - (s - bb)) + (b - bb)};
}
static dd quick_two_sum(double a, double b) { /* |a| >= |b| */
    double s = a + b;
    return (dd){s, b - (s - a)};
}
static void split(double a, double *h, double *l) { /* a = h + l, each with at most 26 significant bits */
    double t = 134217729.0 * a;                   /* 2^27 + 1 */
    *h = t - (t - a);
    *l = a - *h;
}
static dd two_prod(double a, double b) {
    double p = a * b, ah, al, bh, bl;
    split(a, &ah, &al);
    split(b, &bh, &bl);
    return (dd){p, ((ah * bh - p) + ah * bl + al * bh) + al * bl};
}
static dd dd_add(dd a, dd b) {
    dd s = two_sum(a.hi, b.hi), t = two_sum(a.lo, b.lo);
    s.lo += t.hi;
    s = quick_two_sum(s.hi, s.lo);
    s.lo += t.lo;
    return quick_two_sum(s.hi, s.lo);
}
static dd dd_neg(dd a) { return (dd){-a.hi, -a.lo}; }
static dd dd_mul(dd a, dd b) {
    dd p = two_prod(a.hi, b.hi);
    p.lo += a.hi * b.lo + a.lo * b.hi;
    return quick_two_sum(p.hi, p.lo);
}
static dd dd_mul_d(dd a, double b) {
    dd p = two_prod(a.hi, b);
    p.lo += a.lo * b;
    return quick_two_sum(p.hi, p.lo);
}
static dd dd_div(dd a, dd b) { /* three quotient digits: long division */
    double q1 = a.hi / b.hi;
    dd r = dd_add(a, dd_neg(dd_mul_d(b, q1)));
    double q2 = r.hi / b.hi;
    r = dd_add(r, dd_neg(dd_mul_d(b, q2)));
    double q3 = r.hi / b.hi;
    return dd_add(quick_two_sum(q1, q2), (dd){q3, 0.0});
}
static dd dd_scale(dd a, double p2) { return (dd){a.hi * p2, a.lo * p2}; } /* p2 a power of two: exact */
static dd dd_d(double a) { return (dd){a, 0.0}; }

/* 2 pi and ln 2 to double-double precision (the leading 106 bits of the published constants) */
static const dd TWO_PI = {0x1.921fb54442d18p+2, 0x1.1a62633145c07p-52};
static const dd LN2 = {0x1.62e42fefa39efp-1, 0x1.abc9e3b39803fp-56};

/* exp(x) for |x| < 700: x = k ln2 + r, |r| <= ln2/2, exp(r) = (exp(r / 2^10))^(2^10) */
static dd dd_exp(dd x) {
    double kf = x.hi / LN2.hi;
    kf = kf >= 0 ? (double)(int64_t)(kf + 0.5) : -(double)(int64_t)(0.5 - kf);
    dd r = dd_scale(dd_add(x, dd_neg(dd_mul_d(LN2, kf))), 1.0 / 1024.0);
    dd sum = dd_d(1.0), term = dd_d(1.0);
    for (int n = 1; n <= 20; n++) { /* |r| < 3.4e-4: the 20th term is far below 2^-106 */
        term = dd_div(dd_mul(term, r), dd_d((double)n));
        sum = dd_add(sum, term);
    }
    for (int i = 0; i < 10; i++) sum = dd_mul(sum, sum);
    int k = (int)kf; /* times 2^k, exactly, in steps that stay normal */
    double p = k >= 0 ? 2.0 : 0.5;
    for (int i = k >= 0 ? k : -k; i > 0; i--) sum = dd_scale(sum, p);
    return sum;
}

/* ln(a) for a double a > 0: a = 2^e m with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m - 1)/(m + 1)) */
static dd dd_log(double a) {
    int e = 0;
    while (a >= 1.4142135623730951) a *= 0.5, e++; /* exact */
    while (a < 0.7071067811865476) a *= 2.0, e--;
    dd z = dd_div(dd_add(dd_d(a), dd_d(-1.0)), dd_add(dd_d(a), dd_d(1.0))); /* |z| < 0.172 */
    dd z2 = dd_mul(z, z), pw = z, sum = z;
    for (int n = 3; n <= 89; n += 2) { /* 0.172^89 < 2^-220 */
        pw = dd_mul(pw, z2);
        sum = dd_add(sum, dd_div(pw, dd_d((double)n)));
    }
    return dd_add(dd_scale(sum, 2.0), dd_mul_d(LN2, (double)e));
}

/* sin and cos of a in [0, pi/4] */
static void dd_sincos_small(dd a, dd *c, dd *s) {
    dd a2 = dd_mul(a, a), ts = a, tc = dd_d(1.0);
    *s = a;
    *c = tc;
    for (int n = 1; n <= 16; n++) { /* (pi/4)^33 / 33! < 2^-150 */
        ts = dd_neg(dd_div(dd_mul(ts, a2), dd_d((double)((2 * n) * (2 * n + 1)))));
        tc = dd_neg(dd_div(dd_mul(tc, a2), dd_d((double)((2 * n - 1) * (2 * n)))));
        *s = dd_add(*s, ts);
        *c = dd_add(*c, tc);
    }
}

/* (cos, sin) of x plus q quarter turns, from cv = cos x, sv = sin x (no negative zeros) */
static void quarter(uint64_t q, double cv, double sv, double *c, double *s) {
    switch (q) {
    case 0: *c = cv, *s = sv; break;
    case 1: *c = -sv, *s = cv; break;
    case 2: *c = -cv, *s = -sv; break;
    default: *c = sv, *s = -cv; break;
    }
    *c += 0.0;
    *s += 0.0;
}

/* n! as a double (exact for n <= 18; 19! = 121645100408832000 is exact too: 2^8 * an odd 50-bit number) */
static double fact(int n) {
    double f = 1.0;
    for (int k = 2; k <= n; k++) f *= k;
    return f;
}

/* angle of f / 2^64 turns for f < 2^62, as a double-double (f split so each part converts exactly) */
static dd turn_angle(uint64_t f) {
    dd x = dd_add(dd_d((double)(f & ~(uint64_t)0xFFF)), dd_d((double)(f & 0xFFF)));
    return dd_mul(dd_scale(x, 0x1p-64), TWO_PI);
}

void octet__xm_turn_sincos(uint64_t phase, double *c, double *s) {
    const uint64_t q = phase >> 62, f = phase & ((UINT64_C(1) << 62) - 1), eighth = UINT64_C(1) << 61;
    dd cc, ss;
    if (f <= eighth) {
        dd_sincos_small(turn_angle(f), &cc, &ss);
    } else { /* sin(pi/2 - x) = cos x */
        dd_sincos_small(turn_angle((UINT64_C(1) << 62) - f), &ss, &cc);
    }
    quarter(q, cc.hi + cc.lo, ss.hi + ss.lo, c, s); /* the double nearest the double-double */
}

void octet__xm_turn_sincosf(uint64_t phase, float *c, float *s) {
    const uint64_t q = phase >> 62, f = phase & ((UINT64_C(1) << 62) - 1), eighth = UINT64_C(1) << 61;
    const int flip = f > eighth;
    const double a = (double)(flip ? (UINT64_C(1) << 62) - f : f) * 0x1p-64 * 0x1.921fb54442d18p+2; /* [0, pi/4] */
    const double a2 = a * a;
    double sp = 1.0 / 6402373705728000.0, cp = 1.0 / 355687428096000.0; /* 1/19!, 1/18!: Horner from the top */
    for (int n = 17; n >= 3; n -= 2) sp = 1.0 / fact(n) - a2 * sp;
    for (int n = 16; n >= 2; n -= 2) cp = 1.0 / fact(n) - a2 * cp;
    double sv = a * (1.0 - a2 * sp), cv = 1.0 - a2 * cp;
    double cr, sr;
    quarter(q, flip ? sv : cv, flip ? cv : sv, &cr, &sr);
    *c = (float)cr;
    *s = (float)sr;
}

uint64_t octet__xm_rope_phi(double base, int i, int n_rot, double div) {
    dd x = dd_div(dd_mul_d(dd_log(base), -2.0 * (double)i), dd_d((double)n_rot)); /* ln theta_i * div */
    dd turns = dd_div(dd_exp(x), dd_mul_d(TWO_PI, div));
    if (!(turns.hi < 0x1p100)) return 0; /* a nonsensical frequency (div ~ 0 or not finite): no rotation */
    double w = floor(turns.hi); /* whole turns (turns >= 1 only when div < 1/(2 pi)); floor is exact */
    turns = dd_add(turns, dd_d(-w));
    if (turns.hi < 0.0) turns = dd_add(turns, dd_d(1.0)); /* hi was a whole number and lo negative */
    dd fx = dd_scale(turns, 0x1p64);
    double h = (double)(int64_t)(fx.hi * 0x1p-11) * 0x1p11; /* integer part in two exact pieces */
    dd rem = dd_add(fx, dd_d(-h));                           /* < 2^11 + 1 */
    double rr = rem.hi + rem.lo;
    int64_t low = (int64_t)(rr + 0.5);
    if (rr + 0.5 < (double)low) low--; /* floor for negatives */
    if (h >= 0x1p64) return UINT64_MAX;
    uint64_t u = (uint64_t)h, v = u + (uint64_t)low;
    if (low > 0 && v < u) return UINT64_MAX; /* reached 2^64 */
    return v;
}
