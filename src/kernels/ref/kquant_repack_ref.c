/*
 * kquant_repack_ref.c - the portable packers of the Q5_K x16 and Q6_K x16 load-time layouts (defined in
 * ../repack.h), the specification the AVX-512 packers (avx512/kquant_repack_avx512.c) reproduce byte for byte.
 * Written element by element from the formats (src/tensor/types.h, ref/kquant_ref.c): each code is read the way
 * the reference dot reads it and stored where repack.h puts it.
 */
#include "kernels/repack.h"

#include "kernels/kernels_impl.h"
#include "tensor/types.h"

/* ---- Q5_K x16 ---------------------------------------------------------------------------------------------- */
void octet__pack_q5_Kx16_ref(int64_t n, void *dst, const void *w, size_t w_stride) {
    uint8_t *o = dst;
    for (int64_t b = 0; b < n / QK_K; b++, o += OCTET__Q5KX16_BLOCK) {
        for (int r = 0; r < OCTET__Q8X16_ROWS; r++) {
            const block_q5_K *x = (const block_q5_K *)(const void *)((const uint8_t *)w + (size_t)r * w_stride) + b;
            uint8_t sc[8], m[8];
            octet__q4_K_scales(x->scales, sc, m);
            o[2 * r] = (uint8_t)(x->d & 0xff);
            o[2 * r + 1] = (uint8_t)(x->d >> 8);
            o[32 + 2 * r] = (uint8_t)(x->dmin & 0xff);
            o[32 + 2 * r + 1] = (uint8_t)(x->dmin >> 8);
            for (int j = 0; j < 8; j++) {
                o[64 + 16 * j + r] = sc[j];
                o[192 + 32 * (j / 2) + 2 * r + j % 2] = m[j];
            }
            for (int i = 0; i < QK_K / 2; i++) o[320 + 64 * (i / 4) + 4 * r + i % 4] = x->qs[i];
            for (int i = 0; i < QK_K / 8; i++) o[2368 + 64 * (i / 4) + 4 * r + i % 4] = x->qh[i];
        }
    }
}

/* ---- Q6_K x16 ---------------------------------------------------------------------------------------------- */
/* the 6-bit code (0..63) of element e of a Q6_K block: in half h = e / 128, with p = e % 128, g = p / 32,
 * l = p % 32, the low 4 bits are the low (g < 2) or high (g >= 2) nibble of ql[64h + 32(g & 1) + l] and the top
 * 2 bits are bits 2g, 2g+1 of qh[32h + l] (the layout in ref/kquant_ref.c) */
static int q6_code(const block_q6_K *x, int e) {
    const int h = e / 128, p = e % 128, g = p / 32, l = p % 32;
    const uint8_t lo = x->ql[64 * h + 32 * (g & 1) + l];
    return (g < 2 ? lo & 15 : lo >> 4) | ((x->qh[32 * h + l] >> (2 * g)) & 3) << 4;
}

void octet__pack_q6_Kx16_ref(int64_t n, void *dst, const void *w, size_t w_stride) {
    uint8_t *o = dst;
    for (int64_t b = 0; b < n / QK_K; b++, o += OCTET__Q6KX16_BLOCK) {
        for (int r = 0; r < OCTET__Q8X16_ROWS; r++) {
            const block_q6_K *x = (const block_q6_K *)(const void *)((const uint8_t *)w + (size_t)r * w_stride) + b;
            o[2 * r] = (uint8_t)(x->d & 0xff);
            o[2 * r + 1] = (uint8_t)(x->d >> 8);
            for (int j = 0; j < 16; j++) o[32 + 32 * (j / 2) + 2 * r + j % 2] = (uint8_t)x->scales[j];
            for (int q = 0; q < 32; q++)
                for (int e = 0; e < 4; e++)
                    o[288 + 64 * q + 4 * r + e] =
                        (uint8_t)((q6_code(x, 4 * q + e) & 15) | (q6_code(x, 128 + 4 * q + e) & 15) << 4);
            for (int j = 0; j < 16; j++)
                for (int e = 0; e < 4; e++) {
                    int v = 0;
                    for (int k = 0; k < 4; k++) v |= (q6_code(x, 16 * j + 4 * k + e) >> 4) << (2 * k);
                    o[2336 + 64 * j + 4 * r + e] = (uint8_t)v;
                }
        }
    }
}
