/*
 * int_kernels.h - integer dot kernels of the integer-only execution mode (src/model/int/): portable references
 * in ref/int_dot_ref.c (the specification, compiled without FP/vector registers in `make intonly`) and AVX2 twins
 * in x86/int_dot_avx2.c. Every result is an exact integer, so the twins are bit-identical to the references
 * (tests/kernels/test_int_dot.c checks with ==).
 */
#ifndef OCTET_INT_KERNELS_H
#define OCTET_INT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Block dot of a weight row and an activation row, both int8 in blocks of 32 with one int16 scale per block:
 *   returns sum_b (sum_{j<32} w_b[j] * a_b[j]) * ws[b] * as[b]
 * exactly in int64. Weight block b starts at w + b * w_stride bytes (34: Q8_0 blocks read in place, past their
 * fp16 scale; 32: packed rows). Weight codes may be -128; activation codes are in [-127, 127]; |ws|, |as| <= 32767
 * and n_blocks <= 2^13 keep every partial sum below 2^63. */
typedef int64_t (*octet__int_dot_fn)(int64_t n_blocks, const int8_t *w, size_t w_stride, const int16_t *ws,
                                     const int8_t *a, const int16_t *as);
int64_t octet__int_dot_q8_ref(int64_t n_blocks, const int8_t *w, size_t w_stride, const int16_t *ws,
                              const int8_t *a, const int16_t *as);
int64_t octet__int_dot_q8_avx2(int64_t n_blocks, const int8_t *w, size_t w_stride, const int16_t *ws,
                               const int8_t *a, const int16_t *as);

/* RoPE-relative attention score of one query head and one cached key head, both unrotated, in the "halves"
 * layout (pair i is (x[i], x[half + i]), i < half = n_rot / 2; elements n_rot .. hd pass unrotated):
 *   R = sum_{i<half} c[i] (qa ka + qb kb) + s[i] (qa kb - qb ka)  +  32768 sum_{j >= 2 half} q[j] k[j]
 * with (c, s) = cs[0..half), cs[half..2 half) the Q15 cos/sin of the angle (m - n) theta_i. This equals the dot
 * product of q rotated to its position m and k rotated to n, times 2^15, with no rounding inside, so a score
 * depends on m - n only, bit for bit. q is int16, k int8 in [-127, 127]; the int16 x int8 products are built from
 * int8 limbs q = q_hi * 256 + q_lo in the reference. Exact in int64 for hd <= 512. */
typedef int64_t (*octet__int_score_fn)(const int16_t *q, const int8_t *k, const int16_t *cs, int half, int hd);
int64_t octet__int_score_ref(const int16_t *q, const int8_t *k, const int16_t *cs, int half, int hd);
int64_t octet__int_score_avx2(const int16_t *q, const int8_t *k, const int16_t *cs, int half, int hd);

/* y[j] += w * x[j] for n elements in int32; the caller keeps every sum within int32 (attention: w <= 2^23 with
 * sum_j w_j <= 2^23 + n, |x| <= 127). */
typedef void (*octet__int_axpy_fn)(int32_t *y, int32_t w, const int8_t *x, int n);
void octet__int_axpy_s8_ref(int32_t *y, int32_t w, const int8_t *x, int n);
void octet__int_axpy_s8_avx2(int32_t *y, int32_t w, const int8_t *x, int n);

#endif
