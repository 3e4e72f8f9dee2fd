/*
 * q5k_ref.c - reference kernels for Q5_K, the 5-bit super-block type (ggml's k-quants, llama.cpp PR #1684).
 *
 * Layout (176 bytes per 256 weights, src/tensor/types.h): fp16 d, fp16 dmin, scales[12] holding 8 six-bit
 * scales sc[j] and 8 six-bit mins m[j] packed exactly as Q4_K's (octet__q4_K_scales), qh[32], qs[128].
 * Sub-block j holds weights 32j..32j+31; weight e = 32j + l has the code
 *     q = lo4 | (bit j of qh[l]) << 4,   lo4 = low nibble of qs[32(j/2) + l] for even j, high nibble for odd j
 * and the value w = d*sc[j]*q - dmin*m[j], q in 0..31. (ggml's dequantize_row_q5_K walks the same bits as
 * 64-weight chunks c with masks u1 = 1 << 2c, u2 = 2 << 2c.)
 *
 * Quantizer (octet's own, the same shape as Q4_K's in kquant_ref.c): per sub-block a least-squares fit of
 * (scale, offset <= 0) over a small sweep of candidate inverse scales, keeping the smallest squared error;
 * then the 8 scales and 8 mins are quantized to 6 bits against d = max scale / 63, dmin = max min / 63 and
 * every code is recomputed against the scales as stored. Unweighted; RMSE bounds in tests/kernels/test_q5k.c.
 *
 * Dot with Q8_K: per super-block exact int32 sums,
 *     sumf += d*da * sum_j sc[j]*sum_l q*a  -  dmin*da * sum_j m[j]*(bsums[2j] + bsums[2j+1])
 */
#include "kernels/kernels_impl.h"

#include <string.h>

#include "core/core.h"

static inline int q5_code(const block_q5_K *b, int e) {
    const int j = e / 32, l = e % 32;
    const uint8_t lo = b->qs[32 * (j / 2) + l];
    return ((j & 1) ? (lo >> 4) : (lo & 15)) | (((b->qh[l] >> j) & 1) << 4);
}

void octet__to_float_q5_K_ref(const void *src, float *dst, int64_t n) {
    const block_q5_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        const float d = octet__fp16_to_fp32(x[i].d), dmin = octet__fp16_to_fp32(x[i].dmin);
        uint8_t sc[8], m[8];
        octet__q4_K_scales(x[i].scales, sc, m);
        for (int e = 0; e < QK_K; e++)
            dst[e] = d * (float)sc[e / 32] * (float)q5_code(&x[i], e) - dmin * (float)m[e / 32];
    }
}

/* The quantizer shares its scale fit and packing with Q4_K (octet__kq_quantize_superblock, kquant_ref.c); only
 * the code layout differs: low nibbles as Q4_K's, the fifth bit of sub-block j's codes in bit j of qh. */
void octet__from_float_q5_K_ref(const float *src, void *dst, int64_t n) {
    block_q5_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        uint8_t q[QK_K];
        octet__kq_quantize_superblock(src, 31, &y[i].d, &y[i].dmin, y[i].scales, q);
        memset(y[i].qh, 0, sizeof y[i].qh);
        memset(y[i].qs, 0, sizeof y[i].qs);
        for (int j = 0; j < 8; j++)
            for (int l = 0; l < 32; l++) {
                const int c = q[32 * j + l];
                y[i].qs[32 * (j / 2) + l] |= (uint8_t)((c & 15) << (4 * (j & 1)));
                y[i].qh[l] |= (uint8_t)((c >> 4) << j);
            }
    }
}

void octet__dot_q5_K_q8_K_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q5_K *x = w;
    const block_q8_K *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], m[8];
        octet__q4_K_scales(x[i].scales, sc, m);
        int32_t sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            int32_t dot = 0;
            for (int l = 0; l < 32; l++) dot += q5_code(&x[i], 32 * j + l) * y[i].qs[32 * j + l];
            sumi += sc[j] * dot;
            summ += m[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        }
        const float dw = octet__fp16_to_fp32(x[i].d) * y[i].d, mw = octet__fp16_to_fp32(x[i].dmin) * y[i].d;
        sumf += dw * (float)sumi - mw * (float)summ;
    }
    *s = sumf;
}
