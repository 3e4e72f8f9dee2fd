/*
 * rope_tab.c - load time: the two cos/sin tables of the integer RoPE (docs/integer.md, "The bridge", design
 * point 2).
 * Level 1 holds the angles 2 pi k / 2^10, level 2 the angles 2 pi k / 2^20 (k < 2^10), both in Q15 rounded to
 * nearest and clamped to +-32767 so every entry is an int16. 8 KB in all.
 */
#include <math.h>

#include "model/int/int_impl.h"

void octet__int_rope_tables(int16_t t1[][2], int16_t t2[][2]) {
    const long double two_pi = 6.283185307179586476925286766559L;
    const int n = 1 << OCTET_INT_ROPE_BITS;
    for (int k = 0; k < n; k++) {
        for (int lvl = 0; lvl < 2; lvl++) {
            long double a = two_pi * (long double)k / (lvl ? (long double)n * (long double)n : (long double)n);
            long double c = roundl(cosl(a) * 32768.0L), s = roundl(sinl(a) * 32768.0L);
            int16_t(*t)[2] = lvl ? t2 : t1;
            t[k][0] = (int16_t)(c > 32767.0L ? 32767 : c < -32767.0L ? -32767 : (int)c);
            t[k][1] = (int16_t)(s > 32767.0L ? 32767 : s < -32767.0L ? -32767 : (int)s);
        }
    }
}
