/*
 * kquant_ref.c - reference kernels for the 256-element super-block types Q4_K, Q6_K and the activation type Q8_K.
 *
 * Layouts (ggml's k-quants, llama.cpp PR #1684; see src/tensor/types.h and docs/kernels.md):
 *   Q4_K: 8 sub-blocks of 32; sub-block j holds weights 32j..32j+31 with 6-bit scale sc[j] and min m[j]
 *         (packed in scales[12], see octet__q4_K_scales); w = d*sc[j]*q - dmin*m[j], q in 0..15.
 *         qs[32c + l] holds weight 64c + l in its low nibble and weight 64c + 32 + l in its high nibble.
 *   Q6_K: 16 sub-blocks of 16; sub-block j holds weights 16j..16j+15 with int8 scale scales[j];
 *         w = d*scales[j]*(q - 32), q in 0..63. In each half h (weights 128h..128h+127), for l < 32:
 *         ql[64h + l]      = lo4(q[l])      | lo4(q[l + 64]) << 4
 *         ql[64h + 32 + l] = lo4(q[l + 32]) | lo4(q[l + 96]) << 4
 *         qh[32h + l]      = hi2(q[l]) | hi2(q[l + 32]) << 2 | hi2(q[l + 64]) << 4 | hi2(q[l + 96]) << 6
 *   Q8_K: float d, int8 qs[256], bsums[16] = sums of qs over groups of 16.
 *
 * Q8_K quantizer = ggml's quantize_row_q8_K_ref: max = first element of largest magnitude (signed);
 * iscale = -127/max; q = min(127, nearest_int(iscale*x)) with round-half-to-even; d = 1/iscale. (All-zero
 * block: d = 0, q = 0, and unlike ggml we also zero bsums.)
 *
 * Q4_K / Q6_K quantizers are octet's own: per sub-block a search over candidate scales (the idea of ggml's
 * make_qkx2_quants / make_qx_quants: try a few inverse scales around the range-based one, refit by least
 * squares, keep the best), then the sub-block scales are themselves quantized (6-bit / int8) and the codes
 * recomputed with the scales as stored. Unweighted squared error is minimized; measured RMSE in docs/kernels.md.
 *
 * Dots with Q8_K: per super-block exact int32 sums, then
 *   Q4_K: sumf += (dw*da) * sum_j sc[j]*dot_j - (dminw*da) * sum_j m[j]*(bsums[2j] + bsums[2j+1])
 *   Q6_K: sumf += (dw*da) * sum_j scales[j] * sum_l (q - 32)*a      (bsums are not used)
 */
#include "kernels/kernels_impl.h"

#include <math.h>
#include <string.h>

#include "core/core.h"

/* Round half to even for |v| < 2^22: adding 1.5*2^23 leaves the integer in the low mantissa bits. */
static inline int nearest_int(float v) {
    if (!(fabsf(v) < 4194303.0f)) return v > 0 ? 4194303 : (v < 0 ? -4194303 : 0);
    float t = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &t, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* ---- Q8_K ------------------------------------------------------------------------------------------------ */
void octet__to_float_q8_K_ref(const void *src, float *dst, int64_t n) {
    const block_q8_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K)
        for (int j = 0; j < QK_K; j++) dst[j] = x[i].d * (float)x[i].qs[j];
}

void octet__from_float_q8_K_ref(const float *src, void *dst, int64_t n) {
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            if (fabsf(src[j]) > amax) {
                amax = fabsf(src[j]);
                max = src[j];
            }
        }
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) {
            const int v = nearest_int(iscale * src[j]);
            y[i].qs[j] = (int8_t)clampi(v, -128, 127);
        }
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[16 * g + l];
            y[i].bsums[g] = (int16_t)sum;
        }
        y[i].d = 1.0f / iscale;
    }
}

/* ---- Q4_K ------------------------------------------------------------------------------------------------ */
void octet__to_float_q4_K_ref(const void *src, float *dst, int64_t n) {
    const block_q4_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        const float d = octet__fp16_to_fp32(x[i].d), dmin = octet__fp16_to_fp32(x[i].dmin);
        uint8_t sc[8], m[8];
        octet__q4_K_scales(x[i].scales, sc, m);
        for (int j = 0; j < 8; j++) {
            const float dl = d * (float)sc[j], ml = dmin * (float)m[j];
            for (int l = 0; l < 32; l++) {
                const uint8_t b = x[i].qs[32 * (j / 2) + l];
                const int q = (j & 1) ? (b >> 4) : (b & 15);
                dst[32 * j + l] = dl * (float)q - ml;
            }
        }
    }
}

/* Fit x[i] ~ scale*q[i] - min, q in 0..nmax, scale >= 0, min >= 0 (the offset -min is never positive, as the
 * format stores min unsigned). Tries inverse scales (nmax + r)/(max - lo) for r in rmin..rmin+nstep*rdelta,
 * each followed by a least-squares refit of (scale, offset) for the codes; keeps the smallest squared error. */
static void fit_scale_min(const float *x, int n, int nmax, float *scale, float *min) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    if (lo > 0) lo = 0;
    if (hi <= lo) { /* constant block, or all zero: w = -min reproduces it */
        *scale = 0.0f;
        *min = -lo;
        return;
    }
    double best_err = INFINITY;
    float best_s = (hi - lo) / (float)nmax, best_o = lo;
    for (int step = 0; step <= 20; step++) {
        const float iscale = ((float)nmax - 1.0f + 0.1f * (float)step) / (hi - lo);
        double sq = 0, sqq = 0, sx = 0, sqx = 0;
        int q[QK_K];
        for (int i = 0; i < n; i++) {
            q[i] = clampi(nearest_int(iscale * (x[i] - lo)), 0, nmax);
            sq += q[i];
            sqq += (double)q[i] * q[i];
            sx += (double)x[i];
            sqx += (double)q[i] * (double)x[i];
        }
        const double det = n * sqq - sq * sq;
        if (det <= 0) continue;
        double s = (n * sqx - sq * sx) / det, o = (sqq * sx - sq * sqx) / det;
        if (o > 0) { /* offset must be <= 0: refit the scale alone */
            o = 0;
            s = sqq > 0 ? sqx / sqq : 0;
        }
        if (s < 0) continue;
        double err = 0;
        for (int i = 0; i < n; i++) {
            /* codes re-chosen for the fitted scale, as the final requantization will do */
            const int qq = s > 0 ? clampi(nearest_int((float)(((double)x[i] - o) / s)), 0, nmax) : 0;
            const double e = s * qq + o - (double)x[i];
            err += e * e;
        }
        if (err < best_err) {
            best_err = err;
            best_s = (float)s;
            best_o = (float)o;
        }
    }
    *scale = best_s;
    *min = -best_o;
}

/* One super-block of Q4_K or Q5_K (codes 0..nmax = 15 or 31): fit the 8 sub-block (scale, min) pairs,
 * quantize them to 6 bits against d = max scale / 63 and dmin = max min / 63, pack them (the inverse of
 * octet__q4_K_scales), and compute every code against the scales as stored. */
void octet__kq_quantize_superblock(const float *src, int nmax, uint16_t *d_out, uint16_t *dmin_out,
                                   uint8_t scales[K_SCALE_SIZE], uint8_t q[QK_K]) {
    float sc_f[8], mn_f[8], max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; j++) {
        fit_scale_min(src + 32 * j, 32, nmax, &sc_f[j], &mn_f[j]);
        max_scale = sc_f[j] > max_scale ? sc_f[j] : max_scale;
        max_min = mn_f[j] > max_min ? mn_f[j] : max_min;
    }
    uint8_t ls[8], lm[8];
    const float is = max_scale > 0 ? 63.0f / max_scale : 0.0f, im = max_min > 0 ? 63.0f / max_min : 0.0f;
    for (int j = 0; j < 8; j++) {
        ls[j] = (uint8_t)clampi(nearest_int(is * sc_f[j]), 0, 63);
        lm[j] = (uint8_t)clampi(nearest_int(im * mn_f[j]), 0, 63);
    }
    *d_out = octet__fp32_to_fp16(max_scale / 63.0f);
    *dmin_out = octet__fp32_to_fp16(max_min / 63.0f);
    for (int j = 0; j < 4; j++) {
        scales[j] = (uint8_t)(ls[j] | ((ls[j + 4] >> 4) << 6));
        scales[j + 4] = (uint8_t)(lm[j] | ((lm[j + 4] >> 4) << 6));
        scales[j + 8] = (uint8_t)((ls[j + 4] & 15) | ((lm[j + 4] & 15) << 4));
    }
    const float d = octet__fp16_to_fp32(*d_out), dmin = octet__fp16_to_fp32(*dmin_out);
    for (int j = 0; j < 8; j++) {
        const float sc = d * (float)ls[j], m = dmin * (float)lm[j];
        for (int l = 0; l < 32; l++)
            q[32 * j + l] = sc > 0 ? (uint8_t)clampi(nearest_int((src[32 * j + l] + m) / sc), 0, nmax) : 0;
    }
}

void octet__from_float_q4_K_ref(const float *src, void *dst, int64_t n) {
    block_q4_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        uint8_t q[QK_K];
        octet__kq_quantize_superblock(src, 15, &y[i].d, &y[i].dmin, y[i].scales, q);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) y[i].qs[32 * c + l] = (uint8_t)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
    }
}

void octet__dot_q4_K_q8_K_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], m[8];
        octet__q4_K_scales(x[i].scales, sc, m);
        int32_t sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            int32_t dot = 0;
            for (int l = 0; l < 32; l++) {
                const uint8_t b = x[i].qs[32 * (j / 2) + l];
                dot += ((j & 1) ? (b >> 4) : (b & 15)) * y[i].qs[32 * j + l];
            }
            sumi += sc[j] * dot;
            summ += m[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        }
        const float dw = octet__fp16_to_fp32(x[i].d) * y[i].d, mw = octet__fp16_to_fp32(x[i].dmin) * y[i].d;
        sumf += dw * (float)sumi - mw * (float)summ;
    }
    *s = sumf;
}

/* ---- Q6_K ------------------------------------------------------------------------------------------------ */
static inline int q6_code(const block_q6_K *b, int e) {
    const int h = e / 128, p = e % 128, g = p / 32, l = p % 32;
    const uint8_t lo = b->ql[64 * h + 32 * (g & 1) + l];
    const int lo4 = (g < 2) ? (lo & 15) : (lo >> 4);
    const int hi2 = (b->qh[32 * h + l] >> (2 * g)) & 3;
    return lo4 | (hi2 << 4);
}

void octet__to_float_q6_K_ref(const void *src, float *dst, int64_t n) {
    const block_q6_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K) {
        const float d = octet__fp16_to_fp32(x[i].d);
        for (int e = 0; e < QK_K; e++) dst[e] = d * (float)x[i].scales[e / 16] * (float)(q6_code(&x[i], e) - 32);
    }
}

/* Best scale for x ~ scale*q, q in -32..31 (a signed scale lets the code range's extra negative value serve the
 * element of largest magnitude): try iscale = -(32 + 0.1 r)/max for r in -9..9, keep the least-squares scale
 * with the largest (sum x q)^2 / sum q^2, i.e. the smallest squared error. */
static float fit_scale_q6(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < 1e-30f) return 0.0f;
    double best = -1.0, best_scale = 0.0;
    for (int r = -9; r <= 9; r++) {
        const float iscale = -(32.0f + 0.1f * (float)r) / max;
        double sxq = 0, sqq = 0;
        for (int i = 0; i < n; i++) {
            const int q = clampi(nearest_int(iscale * x[i]), -32, 31);
            sxq += (double)x[i] * q;
            sqq += (double)q * q;
        }
        if (sqq > 0 && sxq * sxq / sqq > best) {
            best = sxq * sxq / sqq;
            best_scale = sxq / sqq;
        }
    }
    return (float)best_scale;
}

void octet__from_float_q6_K_ref(const float *src, void *dst, int64_t n) {
    block_q6_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        float scales[16], amax = 0.0f, max_scale = 0.0f;
        for (int j = 0; j < 16; j++) {
            scales[j] = fit_scale_q6(src + 16 * j, 16);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        uint8_t q[QK_K];
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            memset(q, 32, sizeof q);
        } else {
            const float iscale = -128.0f / max_scale;
            y[i].d = octet__fp32_to_fp16(1.0f / iscale);
            const float d = octet__fp16_to_fp32(y[i].d);
            for (int j = 0; j < 16; j++) {
                y[i].scales[j] = (int8_t)clampi(nearest_int(iscale * scales[j]), -128, 127);
                const float sc = d * (float)y[i].scales[j];
                for (int l = 0; l < 16; l++)
                    q[16 * j + l] =
                        (uint8_t)(sc != 0.0f ? clampi(nearest_int(src[16 * j + l] / sc), -32, 31) + 32 : 32);
            }
        }
        for (int h = 0; h < 2; h++) {
            const uint8_t *qq = q + 128 * h;
            for (int l = 0; l < 32; l++) {
                y[i].ql[64 * h + l] = (uint8_t)((qq[l] & 15) | ((qq[l + 64] & 15) << 4));
                y[i].ql[64 * h + 32 + l] = (uint8_t)((qq[l + 32] & 15) | ((qq[l + 96] & 15) << 4));
                y[i].qh[32 * h + l] = (uint8_t)((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) | ((qq[l + 64] >> 4) << 4) |
                                                ((qq[l + 96] >> 4) << 6));
            }
        }
    }
}

void octet__dot_q6_K_q8_K_ref(int64_t n, float *s, const void *w, const void *a) {
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32_t sumi = 0;
        for (int j = 0; j < 16; j++) {
            int32_t dot = 0;
            for (int l = 0; l < 16; l++) dot += (q6_code(&x[i], 16 * j + l) - 32) * y[i].qs[16 * j + l];
            sumi += x[i].scales[j] * dot;
        }
        sumf += octet__fp16_to_fp32(x[i].d) * y[i].d * (float)sumi;
    }
    *s = sumf;
}

/* ==== Q5_K ==== */
/*
 * Q5_K, the reference kernels, the 5-bit super-block type (ggml's k-quants, llama.cpp PR #1684).
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
