/*
 * rope_tab.c - load time: the two cos/sin tables of the integer RoPE (docs/integer.md, "The bridge", design
 * point 2).
 * Level 1 holds the angles 2 pi k / 2^10, level 2 the angles 2 pi k / 2^20 (k < 2^10), both in Q15 rounded to
 * nearest and clamped to +-32767 so every entry is an int16. 8 KB in all. cos and sin from core/xmath.c (IEEE
 * operations only), so the tables are the same on every machine.
 */
#include <math.h>

#include "core/xmath.h"
#include "model/int/int_impl.h"

void octet__int_rope_tables(int16_t t1[][2], int16_t t2[][2]) {
    const int n = 1 << OCTET_INT_ROPE_BITS;
    for (int k = 0; k < n; k++) {
        for (int lvl = 0; lvl < 2; lvl++) {
            /* k / 2^10 (level 1) or k / 2^20 (level 2) of a turn, as a 64-bit phase */
            const uint64_t phase = (uint64_t)k << (lvl ? 64 - 2 * OCTET_INT_ROPE_BITS : 64 - OCTET_INT_ROPE_BITS);
            double cv, sv;
            octet__xm_turn_sincos(phase, &cv, &sv);
            const double c = round(cv * 32768.0), s = round(sv * 32768.0);
            int16_t(*t)[2] = lvl ? t2 : t1;
            t[k][0] = (int16_t)(c > 32767.0 ? 32767 : c < -32767.0 ? -32767 : (int)c);
            t[k][1] = (int16_t)(s > 32767.0 ? 32767 : s < -32767.0 ? -32767 : (int)s);
        }
    }
}
