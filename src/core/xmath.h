/*
 * xmath.h - the few transcendental values octet's results depend on, computed the same on every machine.
 *
 * libm's cos/sin/pow are not the same function on every platform (glibc's x86-64 and aarch64 builds may round
 * differently, x87 long double has a 64-bit significand where aarch64's has 113), so values derived from them
 * can differ in their last bit between machines, and with them every logit downstream. These functions use
 * only IEEE-754 double addition, subtraction, multiplication and division (correctly rounded by definition, the
 * same on every conforming CPU; the project builds with -ffp-contract=off so no FMA is introduced), in
 * double-double arithmetic (~106-bit significand: Dekker 1971, "A floating-point technique for extending the
 * available precision"; Knuth TAOCP vol. 2, 4.2.2), and round once at the end. Results are therefore identical
 * everywhere, and accurate to well under one unit in the last place of the double (or 64-bit fixed point)
 * they return.
 */
#ifndef OCTET_CORE_XMATH_H
#define OCTET_CORE_XMATH_H

#include <stdint.h>

/* cos and sin of the angle 2 pi * phase / 2^64 (phase: a fraction of a turn in 64-bit fixed point). */
void octet__xm_turn_sincos(uint64_t phase, double *c, double *s);

/* The same angle's cos and sin rounded to float, computed in double arithmetic only (a few ulps of double,
 * far below float's; ~20 times faster): what the float forward pass rotates with. */
void octet__xm_turn_sincosf(uint64_t phase, float *c, float *s);

/* RoPE's per-position advance of pair i as a fraction of a turn in 64-bit fixed point:
 * round(2^64 * frac(theta_i / (2 pi))) with theta_i = base^(-2i / n_rot) / div (div: the linear scale times a
 * per-pair frequency factor; 1 for none). base > 1, div > 0, 0 <= i < n_rot / 2. UINT64_MAX if the rounding
 * reaches 2^64. */
uint64_t octet__xm_rope_phi(double base, int i, int n_rot, double div);

#endif
