/*
 * int_out_ref.c - the integer pass's edges: the logits' IEEE binary32 bits built with integer operations, and the
 * saturating residual add (contracts in ../intmath.h and ../int_kernels.h; AVX2 twins in ../avx2/int_out_avx2.c).
 */
#include "kernels/intmath.h"

#include <string.h>

uint32_t octet__int_to_f32_bits(int64_t v, int frac) {
    uint32_t sign = v < 0 ? 0x80000000u : 0u;
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (!mag) return sign;
    int e = octet__int_bitlen(mag) - 1; /* mag in [2^e, 2^(e+1)) */
    uint64_t mant;
    if (e > 23) {
        int sh = e - 23;
        uint64_t rem = mag & (((uint64_t)1 << sh) - 1), half = (uint64_t)1 << (sh - 1);
        mant = mag >> sh;
        if (rem > half || (rem == half && (mant & 1))) mant++;
        if (mant == ((uint64_t)1 << 24)) {
            mant >>= 1;
            e++;
        }
    } else {
        mant = mag << (23 - e);
    }
    int be = e - frac + 127;
    if (be >= 255) return sign | 0x7f800000u;
    if (be <= 0) return sign; /* below 2^-126: not reachable from Q16 values */
    return sign | (uint32_t)be << 23 | (uint32_t)(mant & 0x7fffffu);
}

void octet__int_to_f32_bits_ref(const int32_t *v, size_t n, int frac, void *out) {
    for (size_t i = 0; i < n; i++) {
        const uint32_t bits = octet__int_to_f32_bits(v[i], frac);
        memcpy((char *)out + i * sizeof bits, &bits, sizeof bits);
    }
}

void octet__int_add_sat_ref(int32_t *x, const int32_t *d, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = octet__int_sat32((int64_t)x[i] + d[i]);
}
