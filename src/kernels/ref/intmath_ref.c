/*
 * intmath_ref.c - scalar helpers of the integer-only mode shared by its reference kernels (contracts in
 * ../intmath.h): bit length, exact integer square root, int8-limb products. Integer operations only: `make intonly`
 * compiles the ref/ integer files with -mgeneral-regs-only, so any floating point here fails the build.
 */
#include "kernels/intmath.h"

int octet__int_bitlen(uint64_t v) { return v ? 64 - __builtin_clzll(v) : 0; }

uint64_t octet__int_isqrt64(uint64_t n) {
    uint64_t res = 0, bit = (uint64_t)1 << 62;
    while (bit > n) bit >>= 2;
    while (bit) {
        if (n >= res + bit) {
            n -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    return res;
}

int32_t octet__int_mul16x8_limbs(int16_t a, int8_t b) {
    int32_t ah = (int32_t)a >> 8, al = (int32_t)((uint16_t)a & 255u); /* a = ah * 256 + al */
    return ah * b * 256 + al * b;
}

int32_t octet__int_mul16x16_limbs(int16_t a, int16_t b) {
    int32_t ah = (int32_t)a >> 8, al = (int32_t)((uint16_t)a & 255u);
    int32_t bh = (int32_t)b >> 8, bl = (int32_t)((uint16_t)b & 255u);
    return ah * bh * 65536 + (ah * bl + al * bh) * 256 + al * bl;
}
