/*
 * int_kernels.h - integer dot kernels of the integer-only execution mode (src/model/int/): portable references
 * in ref/int_dot_ref.c (the specification, compiled without FP/vector registers in `make intonly`) and AVX2 twins
 * in avx2/int_dot_avx2.c. Every result is an exact integer, so the twins are bit-identical to the references
 * (tests/kernels/test_int_dot.c checks with ==).
 */
#ifndef OCTET_INT_KERNELS_H
#define OCTET_INT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Weight rows are Q8_0 blocks (34 bytes: fp16 scale d, 32 int8 codes), used in place from a Q8_0 tensor or
 * written so by the load-time requantization, with one exponent e per row. The integer scale of a block is
 *     ws = floor(d * 2^e + 1/2)                         (|ws| <= 32767: e is chosen so, per row, at load time)
 * formed from d's bits with integer operations only: d = +-m 2^k with m = 1024 + mantissa, k = exponent - 25
 * (normal) or m = mantissa, k = -24 (subnormal), so ws = v 2^s with v = +-m, s = k + e, and for s < 0 the
 * rounding floor(v 2^s + 1/2) is (v + 2^(t-1)) >> t with t = -s (arithmetic shift: floor). Infinite and NaN
 * scales never get here (rejected at load). tests/kernels/test_int_dot.c checks every finite d against the
 * float64 formula for every e of the contract. Deriving ws in the kernels instead of keeping an int16 array
 * saves the extra 2 bytes per 34 that generation would read for it. */
/* The fp16 bits of the scale of the block at blk (little-endian, any alignment). */
static inline uint16_t octet__int_block_h(const uint8_t *blk) { return (uint16_t)(blk[0] | blk[1] << 8); }

static inline int32_t octet__int_block_scale(uint16_t h, int e) {
    int32_t ex = (int32_t)((h >> 10) & 31), m = (int32_t)(h & 1023u);
    if (ex) m |= 1024;
    else ex = 1;
    int64_t v = (h & 0x8000u) ? -(int64_t)m : (int64_t)m;
    int s = ex - 25 + e;
    if (s >= 0) return (int32_t)(v * ((int64_t)1 << (s < 40 ? s : 40)));
    int t = -s < 40 ? -s : 40;
    return (int32_t)((v + ((int64_t)1 << (t - 1))) >> t);
}

/* Block dot of a weight row (Q8_0 blocks, row exponent e) and an activation row (int8 codes in blocks of 32 with
 * one int16 scale per block):
 *   returns sum_b (sum_{j<32} w_b[j] * a_b[j]) * ws_b * as[b]
 * exactly in int64. Weight codes may be -128; activation codes are in [-127, 127]; |ws|, |as| <= 32767 and
 * n_blocks <= 2^13 keep every partial sum below 2^63. */
#define OCTET_INT_BLOCK 34 /* bytes per weight block */
typedef int64_t (*octet__int_dot_fn)(int64_t n_blocks, const uint8_t *w, int e, const int8_t *a, const int16_t *as);
int64_t octet__int_dot_q8_ref(int64_t n_blocks, const uint8_t *w, int e, const int8_t *a, const int16_t *as);
int64_t octet__int_dot_q8_avx2(int64_t n_blocks, const uint8_t *w, int e, const int8_t *a, const int16_t *as);

/* The same block dot for one weight row and four activation rows (tokens) at once, so a prompt reads each
 * weight block once per four tokens: out[t] = dot(w, e, a + t * a_stride, as + t * as_stride) for t < 4, each
 * equal to the single-row result. */
typedef void (*octet__int_dot4_fn)(int64_t n_blocks, const uint8_t *w, int e, const int8_t *a, size_t a_stride,
                                   const int16_t *as, size_t as_stride, int64_t out[4]);
void octet__int_dot4_q8_ref(int64_t n_blocks, const uint8_t *w, int e, const int8_t *a, size_t a_stride,
                            const int16_t *as, size_t as_stride, int64_t out[4]);
void octet__int_dot4_q8_avx2(int64_t n_blocks, const uint8_t *w, int e, const int8_t *a, size_t a_stride,
                             const int16_t *as, size_t as_stride, int64_t out[4]);

/* Multi-row forms of the block dot (ref/int_gemm_ref.c: by definition per row and token; avx2/int_gemm_avx2.c), each result equal to the reference dot of
 * its row and token. Row r's blocks start at w + r * row_bytes, its exponent is e[r]. pf: the 8 * row_bytes bytes
 * the caller reads next (the next group of rows), prefetched while these are computed; NULL for none.
 * 8-row GEMV for one token: out[r] for r < 8. */
void octet__int_gemv8_q8_ref(int64_t n_blocks, const uint8_t *w, size_t row_bytes, const int8_t e[8], const int8_t *a,
                             const int16_t *as, const uint8_t *pf, int64_t out[8]);
void octet__int_gemv8_q8_avx2(int64_t n_blocks, const uint8_t *w, size_t row_bytes, const int8_t e[8],
                              const int8_t *a, const int16_t *as, const uint8_t *pf, int64_t out[8]);
/* The same with the output rescale of octet__int_rescale8_avx2 done in registers: y[r] = sat32(mulshift(out[r], m,
 * base + e[r]) + bias[r]) (bias may be NULL), for callers that checked every base + e[r] is in [32, 62]. */
void octet__int_gemv8_q8_y_ref(int64_t n_blocks, const uint8_t *w, size_t row_bytes, const int8_t e[8],
                               const int8_t *a, const int16_t *as, const uint8_t *pf, int base, int32_t m,
                               const int32_t *bias, int32_t y[8]);
void octet__int_gemv8_q8_y_avx2(int64_t n_blocks, const uint8_t *w, size_t row_bytes, const int8_t e[8],
                                const int8_t *a, const int16_t *as, const uint8_t *pf, int base, int32_t m, const int32_t *bias,
                                int32_t y[8]);
/* Row panels for prompt batches: pack 8 rows once (codes with the rows in the lanes of each vector, scales as
 * int32), then out[c * 8 + r] for nc tokens (token c's codes at a + c * a_stride, scales at as + c * as_stride). */
size_t octet__int_panel_bytes_ref(int64_t n_blocks); /* the panels of each set have their own layout and size */
void octet__int_pack8_q8_ref(int64_t n_blocks, void *panel, const uint8_t *w, size_t row_bytes, const int8_t e[8],
                             const uint8_t *pf);
void octet__int_panel_q8_ref(int64_t n_blocks, const void *panel, const int8_t *a, size_t a_stride, const int16_t *as,
                             size_t as_stride, int nc, int64_t *out);
void octet__int_panel_q8_y_ref(int64_t n_blocks, const void *panel, const int8_t *a, size_t a_stride,
                               const int16_t *as, size_t as_stride, int nc, const int8_t e[8], const int *base,
                               int32_t m, const int32_t *bias, int32_t *y, size_t y_stride);
size_t octet__int_panel_bytes_avx2(int64_t n_blocks);
void octet__int_pack8_q8_avx2(int64_t n_blocks, void *panel, const uint8_t *w, size_t row_bytes, const int8_t e[8],
                         const uint8_t *pf);
void octet__int_panel_q8_avx2(int64_t n_blocks, const void *panel, const int8_t *a, size_t a_stride,
                              const int16_t *as, size_t as_stride, int nc, int64_t *out);
/* The same with the output rescale done in registers: y[c * y_stride + r] = sat32(mulshift(out[c * 8 + r], m,
 * base[c] + e[r]) + bias[r]) (bias may be NULL), for callers that checked every base[c] + e[r] is in [32, 62]. */
void octet__int_panel_q8_y_avx2(int64_t n_blocks, const void *panel, const int8_t *a, size_t a_stride,
                                const int16_t *as, size_t as_stride, int nc, const int8_t e[8], const int *base,
                                int32_t m, const int32_t *bias, int32_t *y, size_t y_stride);

/* The matmul output rescale of 8 consecutive outputs (rows r of one token):
 *   out[r] = clamp(floor((acc[r] * m + 2^(s_r - 1)) / 2^s_r) + bias[r], -(2^31 - 1), 2^31 - 1),  s_r = base + e[r]
 * (bias may be NULL: 0), which is octet__int_sat32(octet__int_mulshift(acc, m, s) + bias) of src/kernels/intmath.h
 * for 32 <= s <= 62, 0 <= m < 2^31 and |acc| < 2^62. Returns 0 without writing when some s_r is outside [32, 62]
 * (the caller uses the scalar form). AVX2 (avx2/int_gemm_avx2.c); tests/kernels/test_int_dot.c checks it against
 * the scalar form. */
int octet__int_rescale8_ref(const int64_t acc[8], const int8_t e[8], int base, int32_t m, const int32_t *bias,
                            int32_t out[8]);
int octet__int_rescale8_avx2(const int64_t acc[8], const int8_t e[8], int base, int32_t m, const int32_t *bias,
                             int32_t out[8]);

/* RoPE-relative attention score of one query head and one cached key head, both unrotated, in the "halves"
 * layout (pair i is (x[i], x[half + i]), i < half = n_rot / 2; elements 2 half .. hd pass unrotated). The query
 * pair is turned by the angle (m - n) theta_i, whose Q15 cos/sin are cs[0..half) and cs[half..2 half), with
 * rounded Q15 products (rh(a, b) = (a b + 2^14) >> 15, the _mm256_mulhrs_epi16 rounding) and saturating int16
 * adds, then dotted with the int8 key:
 *   qa' = sat16(rh(qa, c) - rh(qb, s)),  qb' = sat16(rh(qa, s) + rh(qb, c))
 *   R = sum_i qa'_i ka_i + qb'_i kb_i + sum_{j >= 2 half} q[j] k[j]
 * This is q rotated to its position m dotted with k rotated to n, and it depends on m - n only, bit for bit.
 * |q| <= 23170 (so a rotated pair stays in int16), k in [-127, 127], hd <= 512; exact integer result. */
typedef int64_t (*octet__int_score_fn)(const int16_t *q, const int8_t *k, const int16_t *cs, int half, int hd);
int64_t octet__int_score_ref(const int16_t *q, const int8_t *k, const int16_t *cs, int half, int hd);
int64_t octet__int_score_avx2(const int16_t *q, const int8_t *k, const int16_t *cs, int half, int hd);

/* The scores of one query head against n cached keys at once: out[j] = octet__int_score(q, k + j * kstride,
 * cs[j], half, hd) for j < n (each key's cos/sin table by pointer: its distance m - n_j varies), the same exact
 * integers as the one-key kernel. The AVX2 twin reduces eight keys' sums together. */
typedef void (*octet__int_scores_fn)(const int16_t *q, const int8_t *k, size_t kstride, const int16_t *const *cs,
                                     int n, int half, int hd, int64_t *out);
void octet__int_scores_ref(const int16_t *q, const int8_t *k, size_t kstride, const int16_t *const *cs, int n,
                           int half, int hd, int64_t *out);
void octet__int_scores_avx2(const int16_t *q, const int8_t *k, size_t kstride, const int16_t *const *cs, int n,
                            int half, int hd, int64_t *out);

/* The scores' rescale to Q20 in place: sc[j] = octet__int_mulshift(sc[j] * ksc[j], m, base - ksh[j]) (intmath.h)
 * for j < n, with |sc[j]| < 2^31, 0 <= ksc[j] <= 2^14, 0 <= m < 2^31. The AVX2 twin does four keys per vector
 * where every shift is in [32, 62] (the usual case) and the rest through the reference. */
typedef void (*octet__int_qscale_fn)(int64_t *sc, const int16_t *ksc, const int8_t *ksh, int n, int32_t m, int base);
void octet__int_qscale_ref(int64_t *sc, const int16_t *ksc, const int8_t *ksh, int n, int32_t m, int base);
void octet__int_qscale_avx2(int64_t *sc, const int16_t *ksc, const int8_t *ksh, int n, int32_t m, int base);

/* Probabilities times value scales in place: p[j] = round(p[j] * vsc[j] * 2^-(base - vsh[j])) (half up; 0 when the
 * shift exceeds 62) for j < n, with 0 <= p[j] < 2^31, 0 <= vsc[j] <= 2^14 and base - vsh[j] >= 14 (so every result
 * is below 2^31). */
typedef void (*octet__int_vweights_fn)(int32_t *p, const int16_t *vsc, const int8_t *vsh, int n, int base);
void octet__int_vweights_ref(int32_t *p, const int16_t *vsc, const int8_t *vsh, int n, int base);
void octet__int_vweights_avx2(int32_t *p, const int16_t *vsc, const int8_t *vsh, int n, int base);

/* y[j] += w * x[j] for n elements in int32; the caller keeps every sum within int32 (attention: w <= 2^23 with
 * sum_j w_j <= 2^23 + n, |x| <= 127). */
typedef void (*octet__int_axpy_fn)(int32_t *y, int32_t w, const int8_t *x, int n);
void octet__int_axpy_s8_ref(int32_t *y, int32_t w, const int8_t *x, int n);
void octet__int_axpy_s8_avx2(int32_t *y, int32_t w, const int8_t *x, int n);
/* out[d] = sum_j w[j] * v[j * stride + d] for d < hd, j < n: the attention's weighted sum of int8 values in one
 * call (what out = 0 and then axpy per key give), under the same bound on the sums, for weights in [-2^30, 2^30)
 * (attention: 0 <= w <= 2^23). The AVX2 twin takes two keys per step through _mm256_madd_epi16 (avx2/int_dot_avx2.c:
 * each weight split in 15 low bits and the rest, exact modulo 2^32, so exact where the sum fits int32). */
typedef void (*octet__int_wsum_fn)(int32_t *out, const int32_t *w, const int8_t *v, size_t stride, int n, int hd);
void octet__int_wsum_s8_ref(int32_t *out, const int32_t *w, const int8_t *v, size_t stride, int n, int hd);
void octet__int_wsum_s8_avx2(int32_t *out, const int32_t *w, const int8_t *v, size_t stride, int n, int hd);

/* The attention output rescale: out[j] = octet__int_sat32(octet__int_mulshift(acc[j], m, s)) (intmath.h) for j < n,
 * any int32 acc, 0 <= m < 2^31 and any s the scalar form takes. The AVX2 twin does 8 per vector for s in [32, 62]
 * (where the result is exact in int64 and below 2^30 in magnitude) and calls the reference otherwise. */
typedef void (*octet__int_rescale32_fn)(int32_t *out, const int32_t *acc, int n, int32_t m, int s);
void octet__int_rescale32_ref(int32_t *out, const int32_t *acc, int n, int32_t m, int s);
void octet__int_rescale32_avx2(int32_t *out, const int32_t *acc, int n, int32_t m, int s);

/* One query head to int16 with one power-of-two scale, in the halves layout of the keys: with qmax = max_j |v[j]|
 * (j < hd) the shift is sh = bitlen(qmax) - 15, plus 1 while octet__int_shift_round(qmax, sh) > 23170 (at most once:
 * a pair turned by any angle then stays in int16), and with r(x) = octet__int_shift_round(x, sh) (half away from
 * zero; a left shift for sh < 0)
 *   pairs (adjacent-pair RoPE): out[i] = r(v[2 i]), out[half + i] = r(v[2 i + 1]) for i < half,
 *   otherwise out[i] = r(v[i]) for i < 2 half;  out[j] = r(v[j]) for 2 half <= j < hd.
 * Returns sh (in [-15, 18] for any int32 v). hd <= 512, 2 half <= hd. */
typedef int (*octet__int_qhead_fn)(const int32_t *v, int hd, int half, int pairs, int16_t *out);
int octet__int_qhead_ref(const int32_t *v, int hd, int half, int pairs, int16_t *out);
int octet__int_qhead_avx2(const int32_t *v, int hd, int half, int pairs, int16_t *out);

/* Activation codes by a fixed-point reciprocal: q[j] = clamp(round(x[j] * r * 2^-s), -127, 127) with round half
 * away from zero (octet__int_shift_round), for 1 <= s <= 62, 0 < r < 2^30 and any int32 x (|x r| < 2^61). The
 * activation quantizer's inner loop (src/kernels/intmath.c, octet__int_quant_codes for sa >= 0). */
typedef void (*octet__int_codes_fn)(const int32_t *x, int n, int64_t r, int s, int8_t *q);
void octet__int_codes_ref(const int32_t *x, int n, int64_t r, int s, int8_t *q);
void octet__int_codes_avx2(const int32_t *x, int n, int64_t r, int s, int8_t *q);

/* ---- RMSNorm and activation quantization (avx2/int_norm_avx2.c) ------------------------------------------- */
/* AVX2 twins of octet__int_rmsnorm_ref and octet__int_quant_row_ref (src/kernels/intmath.h, the references): same
 * arguments and contracts, the same output bits for every input (tests/kernels/test_int_norm.c); out may equal x. */
typedef void (*octet__int_rmsnorm_fn)(int32_t *out, const int32_t *x, const int32_t *g, int g_shift, int n,
                                      int64_t eps_q32);
void octet__int_rmsnorm_avx2(int32_t *out, const int32_t *x, const int32_t *g, int g_shift, int n, int64_t eps_q32);
typedef void (*octet__int_quant_row_fn)(const int32_t *x, int n, int8_t *q, int16_t *sc, int *sa,
                                        octet__int_codes_fn codes);
void octet__int_quant_row_avx2(const int32_t *x, int n, int8_t *q, int16_t *sc, int *sa, octet__int_codes_fn codes);
/* The AVX2 quantizer's per-block reciprocals, exposed for the exhaustive test: for 8 scales d[i] in [1, 2^14],
 * k[i] = bitlen(d[i]) + 22 and r[i] = ((127 << k[i]) + d[i] / 2) / d[i], as octet__int_quant_codes_k forms them. */
void octet__int_quant_recip8_avx2(const int32_t *d, int32_t *r, int32_t *k);
/* max_j |x[j]| for any int32 x (|INT32_MIN| = 2^31), 0 for n <= 0. */
uint64_t octet__int_maxabs32_avx2(const int32_t *x, int n);

/* ---- SwiGLU (avx2/int_act_avx2.c) ------------------------------------------------------------------------ */
/* SwiGLU in place: g[i] = silu(g[i]) * u[i] for i < n, bit for bit octet__int_swiglu_ref (src/kernels/intmath.h,
 * the contract: any int32 g and u, Q16, u may be g), 8 elements per step with integer AVX2 only
 * (avx2/int_act_avx2.c, the error bounds there); a tail of n mod 8 goes through the reference. */
typedef void (*octet__int_swiglu_fn)(int32_t *g, const int32_t *u, size_t n);
void octet__int_swiglu_avx2(int32_t *g, const int32_t *u, size_t n);
/* Softmax in Q30 of Q20 scores: bit for bit octet__int_softmax_q30_ref (src/kernels/intmath.h, its contract),
 * 8 keys per vector with the exp of the SwiGLU kernel (avx2/int_act_avx2.c). */
typedef void (*octet__int_softmax_fn)(const int64_t *s, int32_t *p, int n);
void octet__int_softmax_q30_avx2(const int64_t *s, int32_t *p, int n);
/* Its division, exposed for tests/kernels/test_int_act.c: q[j] = floor((2^60 + floor(d/2)) / d) for every
 * d[j] in [2^30, 2^31 + 2^20) (the sigmoid's 1 + exp in Q30 goes up to 2^31 + 292226). */
void octet__int_sigdiv_avx2(const uint32_t *d, uint32_t *q, size_t n);

/* ---- the pass's edges (avx2/int_out_avx2.c) --------------------------------------------------------------- */
/* The 4-byte words at out (floats, for the caller) set to octet__int_to_f32_bits(v[i], frac) (src/model/int/
 * intmath.h), 8 at a time for frac in [0, 96], the scalar function otherwise and for the tail. */
void octet__int_to_f32_bits_ref(const int32_t *v, size_t n, int frac, void *out);
void octet__int_to_f32_bits_avx2(const int32_t *v, size_t n, int frac, void *out);
/* x[i] = octet__int_sat32((int64_t)x[i] + d[i]) for i < n (the residual connection). */
void octet__int_add_sat_ref(int32_t *x, const int32_t *d, size_t n);
void octet__int_add_sat_avx2(int32_t *x, const int32_t *d, size_t n);

#endif
