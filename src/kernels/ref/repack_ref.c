/*
 * repack_ref.c - the portable packers of the load-time weight layouts (the layouts are defined in ../repack.h).
 */
#include "kernels/repack.h"

#include <string.h>

#include "kernels/kernels_impl.h"
#include "tensor/types.h"

void octet__pack_q8_0x16_ref(int64_t n, void *dst, const void *w, size_t w_stride) {
    uint8_t *o = dst;
    for (int64_t b = 0; b < n / QK8_0; b++, o += OCTET__Q8X16_BLOCK) {
        for (int r = 0; r < OCTET__Q8X16_ROWS; r++) {
            const block_q8_0 *x = (const block_q8_0 *)(const void *)((const uint8_t *)w + (size_t)r * w_stride) + b;
            o[2 * r] = (uint8_t)(x->d & 0xff);
            o[2 * r + 1] = (uint8_t)(x->d >> 8);
            for (int k = 0; k < QK8_0; k++)
                o[32 + 64 * (k / 4) + 4 * r + k % 4] = (uint8_t)((uint8_t)x->qs[k] ^ 0x80u);
        }
    }
}

void octet__unpack_q8_0x16_ref(int64_t n, void *row, const void *group, int r) {
    const uint8_t *g = group;
    block_q8_0 *x = row;
    for (int64_t b = 0; b < n / QK8_0; b++, g += OCTET__Q8X16_BLOCK) {
        x[b].d = (uint16_t)(g[2 * r] | g[2 * r + 1] << 8);
        for (int k = 0; k < QK8_0; k++) x[b].qs[k] = (int8_t)(g[32 + 64 * (k / 4) + 4 * r + k % 4] ^ 0x80u);
    }
}

void octet__pack_q4_0x16_ref(int64_t n, void *dst, const void *w, size_t w_stride) {
    uint8_t *o = dst;
    for (int64_t b = 0; b < n / QK4_0; b++, o += OCTET__Q4X16_BLOCK) {
        for (int r = 0; r < OCTET__Q8X16_ROWS; r++) {
            const block_q4_0 *x = (const block_q4_0 *)(const void *)((const uint8_t *)w + (size_t)r * w_stride) + b;
            o[2 * r] = (uint8_t)(x->d & 0xff);
            o[2 * r + 1] = (uint8_t)(x->d >> 8);
            for (int i = 0; i < QK4_0 / 2; i++) o[32 + 64 * (i / 4) + 4 * r + i % 4] = x->qs[i];
        }
    }
}

void octet__unpack_q4_0x16_ref(int64_t n, void *row, const void *group, int r) {
    const uint8_t *g = group;
    block_q4_0 *x = row;
    for (int64_t b = 0; b < n / QK4_0; b++, g += OCTET__Q4X16_BLOCK) {
        x[b].d = (uint16_t)(g[2 * r] | g[2 * r + 1] << 8);
        for (int i = 0; i < QK4_0 / 2; i++) x[b].qs[i] = g[32 + 64 * (i / 4) + 4 * r + i % 4];
    }
}

void octet__pack_q4_Kx16_ref(int64_t n, void *dst, const void *w, size_t w_stride) {
    uint8_t *o = dst;
    for (int64_t b = 0; b < n / QK_K; b++, o += OCTET__Q4KX16_BLOCK) {
        for (int r = 0; r < OCTET__Q8X16_ROWS; r++) {
            const block_q4_K *x = (const block_q4_K *)(const void *)((const uint8_t *)w + (size_t)r * w_stride) + b;
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
        }
    }
}

void octet__pack_q4_1x16_ref(int64_t n, void *dst, const void *w, size_t w_stride) {
    uint8_t *o = dst;
    for (int64_t b = 0; b < n / QK4_1; b++, o += OCTET__Q41X16_BLOCK) {
        for (int r = 0; r < OCTET__Q8X16_ROWS; r++) {
            const block_q4_1 *x = (const block_q4_1 *)(const void *)((const uint8_t *)w + (size_t)r * w_stride) + b;
            o[2 * r] = (uint8_t)(x->d & 0xff);
            o[2 * r + 1] = (uint8_t)(x->d >> 8);
            o[32 + 2 * r] = (uint8_t)(x->m & 0xff);
            o[32 + 2 * r + 1] = (uint8_t)(x->m >> 8);
            for (int i = 0; i < QK4_1 / 2; i++) o[64 + 64 * (i / 4) + 4 * r + i % 4] = x->qs[i];
        }
    }
}

/* Q5_0 / Q5_1 x16: H byte 4r + k, bit 2j + h = bit 16h + 4j + k of the row's qh (little-endian) */
static void pack_q5_ref(int64_t n, void *dst, const void *w, size_t w_stride, int has_m) {
    const size_t bs = has_m ? sizeof(block_q5_1) : sizeof(block_q5_0), blk = has_m ? OCTET__Q51X16_BLOCK : OCTET__Q50X16_BLOCK;
    const size_t hb = has_m ? 64 : 32, qso = has_m ? 8 : 6, qho = has_m ? 4 : 2;
    uint8_t *o = dst;
    for (int64_t b = 0; b < n / 32; b++, o += blk) {
        for (int r = 0; r < OCTET__Q8X16_ROWS; r++) {
            const uint8_t *x = (const uint8_t *)w + (size_t)r * w_stride + (size_t)b * bs;
            o[2 * r] = x[0];
            o[2 * r + 1] = x[1];
            if (has_m) o[32 + 2 * r] = x[2], o[32 + 2 * r + 1] = x[3];
            const uint32_t qh = (uint32_t)x[qho] | (uint32_t)x[qho + 1] << 8 | (uint32_t)x[qho + 2] << 16 |
                                (uint32_t)x[qho + 3] << 24;
            for (int k = 0; k < 4; k++) {
                uint8_t v = 0;
                for (int j = 0; j < 4; j++)
                    for (int h = 0; h < 2; h++) v |= (uint8_t)(((qh >> (16 * h + 4 * j + k)) & 1u) << (2 * j + h));
                o[hb + 4 * r + k] = v;
            }
            for (int i = 0; i < 16; i++) o[hb + 64 + 64 * (i / 4) + 4 * r + i % 4] = x[qso + i];
        }
    }
}

void octet__pack_q5_0x16_ref(int64_t n, void *dst, const void *w, size_t w_stride) { pack_q5_ref(n, dst, w, w_stride, 0); }
void octet__pack_q5_1x16_ref(int64_t n, void *dst, const void *w, size_t w_stride) { pack_q5_ref(n, dst, w, w_stride, 1); }
