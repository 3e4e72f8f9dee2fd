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

#include <math.h>
#include <string.h>

#include "core/core.h"

/* Round half to even for |v| < 2^22 (adding 1.5*2^23 leaves the integer in the low mantissa bits). */
static inline int nearest_int(float v) {
    if (!(fabsf(v) < 4194303.0f)) return v > 0 ? 4194303 : (v < 0 ? -4194303 : 0);
    float t = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &t, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

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

/* Fit x[i] ~ s*q[i] + o with q in 0..nmax, s >= 0, o <= 0 (the format stores the offset as an unsigned min).
 * Sweeps inverse scales (nmax - 1 + 0.1 r) / (hi - lo), r = 0..20, refits (s, o) by least squares for each
 * code assignment, re-chooses the codes for the fit and keeps the pair with the smallest squared error. */
static void fit_scale_min(const float *x, int n, int nmax, float *scale, float *min) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    if (lo > 0) lo = 0;
    if (!(hi > lo)) { /* all equal (or non-finite): w = -min reproduces a constant non-positive block */
        *scale = 0.0f;
        *min = isfinite(lo) ? -lo : 0.0f;
        return;
    }
    double best_err = INFINITY;
    float best_s = (hi - lo) / (float)nmax, best_o = lo;
    int q[32];
    for (int step = 0; step <= 20; step++) {
        const float iscale = ((float)nmax - 1.0f + 0.1f * (float)step) / (hi - lo);
        double sq = 0, sqq = 0, sx = 0, sqx = 0;
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
        if (o > 0) {
            o = 0;
            s = sqq > 0 ? sqx / sqq : 0;
        }
        if (!(s >= 0)) continue;
        double err = 0;
        for (int i = 0; i < n; i++) {
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

void octet__from_float_q5_K_ref(const float *src, void *dst, int64_t n) {
    block_q5_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        float scales[8], mins[8], max_scale = 0.0f, max_min = 0.0f;
        for (int j = 0; j < 8; j++) {
            fit_scale_min(src + 32 * j, 32, 31, &scales[j], &mins[j]);
            max_scale = scales[j] > max_scale ? scales[j] : max_scale;
            max_min = mins[j] > max_min ? mins[j] : max_min;
        }
        uint8_t ls[8], lm[8];
        const float is = max_scale > 0 ? 63.0f / max_scale : 0.0f, im = max_min > 0 ? 63.0f / max_min : 0.0f;
        for (int j = 0; j < 8; j++) {
            ls[j] = (uint8_t)clampi(nearest_int(is * scales[j]), 0, 63);
            lm[j] = (uint8_t)clampi(nearest_int(im * mins[j]), 0, 63);
        }
        y[i].d = octet__fp32_to_fp16(max_scale / 63.0f);
        y[i].dmin = octet__fp32_to_fp16(max_min / 63.0f);
        for (int j = 0; j < 4; j++) { /* the Q4_K packing, inverse of octet__q4_K_scales */
            y[i].scales[j] = (uint8_t)(ls[j] | ((ls[j + 4] >> 4) << 6));
            y[i].scales[j + 4] = (uint8_t)(lm[j] | ((lm[j + 4] >> 4) << 6));
            y[i].scales[j + 8] = (uint8_t)((ls[j + 4] & 15) | ((lm[j + 4] & 15) << 4));
        }
        const float d = octet__fp16_to_fp32(y[i].d), dmin = octet__fp16_to_fp32(y[i].dmin);
        memset(y[i].qh, 0, sizeof y[i].qh);
        memset(y[i].qs, 0, sizeof y[i].qs);
        for (int j = 0; j < 8; j++) {
            const float sc = d * (float)ls[j], m = dmin * (float)lm[j];
            for (int l = 0; l < 32; l++) {
                const int q = sc > 0 ? clampi(nearest_int((src[32 * j + l] + m) / sc), 0, 31) : 0;
                y[i].qs[32 * (j / 2) + l] |= (uint8_t)((q & 15) << (4 * (j & 1)));
                y[i].qh[l] |= (uint8_t)((q >> 4) << j);
            }
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
