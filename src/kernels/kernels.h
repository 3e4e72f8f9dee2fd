/*
 * kernels.h - the per-type kernel table. One row per tensor type: block geometry, conversions to and from
 * float, and the dot product of a weight row with an activation row quantized to the row's vec_dot_type.
 *
 * The table in use belongs to the kernel set chosen for this CPU (kset.h); the ref set's rows are the portable
 * kernels (src/kernels/ref/, the specification) and every other set reproduces them bit for bit.
 */
#ifndef OCTET_KERNELS_H
#define OCTET_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../tensor/types.h"

/* n is a multiple of the type's block_size in every call. */
typedef void (*octet__to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*octet__from_float_fn)(const float *src, void *dst, int64_t n); /* reference quantizer */
/* *s = sum_j w[j] * a[j] for n elements; w in this type, a in vec_dot_type. */
typedef void (*octet__vec_dot_fn)(int64_t n, float *s, const void *w, const void *a);

typedef struct octet__type_traits {
    const char *name;     /* "Q4_K" */
    int block_size;       /* elements per block; 0: the type is unknown/unsupported */
    size_t type_size;     /* bytes per block */
    int is_quantized;
    int vec_dot_type;     /* type activations are converted to for vec_dot (F32, Q8_0, Q8_1 or Q8_K) */
    octet__to_float_fn to_float;
    octet__from_float_fn from_float;
    octet__vec_dot_fn vec_dot;
} octet__type_traits;

/* The table in use (SIMD rows when available). Index by enum octet_type; check block_size != 0. */
const octet__type_traits *octet__kernels(void);
/* The portable reference table, always available (tests compare against it). */
const octet__type_traits *octet__kernels_ref(void);
/* NULL when type is outside the table or unknown. */
const octet__type_traits *octet__type(int type);
/* Bytes of a row of n elements; 0 when n is not a multiple of the block size or type is unknown. */
size_t octet__row_bytes(int type, int64_t n);

/* Float helpers used by the forward pass (reference + AVX2 twins behind one pointer each). */
typedef struct octet__fkernel_table {
    float (*dot_f32)(const float *a, const float *b, int64_t n);
    void (*axpy_f32)(float *y, float a, const float *x, int64_t n); /* y += a * x */
    void (*scale_f32)(float *y, float a, int64_t n);                 /* y *= a */
    /* attention over n keys / values hd floats each, rows stride floats apart; each result exactly what the calls
     * in the comments give (so batch == sequential whichever is used), without a call per key:
     * out[j] = dot_f32(q, k + j * stride, hd) * scale */
    void (*scores_f32)(float *out, const float *q, const float *k, size_t stride, int64_t n, int64_t hd, float scale);
    /* out = 0, then for j < n: axpy_f32(out, p[j] * inv, v + j * stride, hd) */
    void (*wsum_f32)(float *out, const float *p, float inv, const float *v, size_t stride, int64_t n, int64_t hd);
    /* y[i] = exp((x[i] - m) * s) by the single-precision algorithm in float_ref.c (y may be x): 0 where that
     * argument is below -87.33654 (under FLT_MIN), -inf or NaN; arguments above 88 count as 88. Bit-identical in
     * both tables. */
    void (*exp_f32)(float *y, const float *x, int64_t n, float m, float s);
} octet__fkernel_table;
const octet__fkernel_table *octet__fkernels(void);

#endif
