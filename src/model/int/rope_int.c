/*
 * rope_int.c - the RoPE bridge, per token (docs/integer.md, "The bridge"). Integer only (-mgeneral-regs-only in
 * `make intonly`).
 *
 * Phase: the caller forms phase = pos * phi_i mod 2^64 (a wrapping multiply: whole turns drop out exactly).
 * cos/sin: the phase rounded to 20 bits; its top 10 bits index table 1 (angles 2 pi k / 2^10), the next 10 bits
 * table 2 (2 pi k / 2^20); cos(a + b) = ca cb - sa sb, sin(a + b) = sa cb + ca sb, each product an int16 x int16
 * product from four int8 limb products. Measured error <= 6.4e-5 (tests/unit/test_int_rope.c).
 * Rotation (octet__int_rope_head, the explicit form): the head is scaled to int16 by a power of two, each pair
 * (a, b) -> (a c - b s, a s + b c) >> 15 with limb products; results may exceed int16 by up to sqrt 2, so they
 * are returned in int32. The forward pass does not rotate vectors: it applies the same rotation to the pair
 * products inside the score, at the distance m - n (kernels/int_kernels.h, octet__int_score_*), which makes the
 * scores exactly shift invariant. Adjacent pairs
 * (2i, 2i+1) for llama / mistral, halves (i, i + n_rot/2) for qwen2 (OCTET_ROPE_NEOX). Dimensions past n_rot
 * pass through unrotated.
 */
#include "model/int/int_impl.h"
#include "kernels/intmath.h"
#include "model/model.h"

static inline int16_t clamp16(int32_t v) { return (int16_t)(v > 32767 ? 32767 : v < -32767 ? -32767 : v); }

void octet__int_cossin(const octet__int_weights *w, uint64_t phase, int16_t *c, int16_t *s) {
    uint32_t idx = (uint32_t)((phase + ((uint64_t)1 << 43)) >> 44); /* nearest 2^-20 turn, wraps */
    const int16_t *a = w->rope_t1[idx >> OCTET_INT_ROPE_BITS];
    const int16_t *b = w->rope_t2[idx & ((1u << OCTET_INT_ROPE_BITS) - 1)];
    int32_t cc = octet__int_mul16x16_limbs(a[0], b[0]) - octet__int_mul16x16_limbs(a[1], b[1]);
    int32_t ss = octet__int_mul16x16_limbs(a[1], b[0]) + octet__int_mul16x16_limbs(a[0], b[1]);
    *c = clamp16((cc + (1 << 14)) >> 15);
    *s = clamp16((ss + (1 << 14)) >> 15);
}

void octet__int_rope_head(const octet__int_weights *w, const int32_t *v, const int16_t (*cs)[2], int32_t *out,
                          int *shift) {
    const int hd = w->head_dim, half = w->n_rot / 2;
    uint64_t mx = 0;
    for (int j = 0; j < hd; j++) {
        uint64_t a = v[j] < 0 ? (uint64_t)(-(int64_t)v[j]) : (uint64_t)v[j];
        if (a > mx) mx = a;
    }
    int sh = octet__int_bitlen(mx) - 15;
    while (octet__int_shift_round((int64_t)mx, sh) > 32767) sh++;
    *shift = sh;
    for (int j = 0; j < hd; j++) out[j] = (int32_t)octet__int_shift_round(v[j], sh);
    for (int i = 0; i < half; i++) {
        int i0 = w->rope_type == OCTET_ROPE_NORM ? 2 * i : i;
        int i1 = w->rope_type == OCTET_ROPE_NORM ? 2 * i + 1 : i + half;
        int16_t a = (int16_t)out[i0], b = (int16_t)out[i1], c = cs[i][0], s = cs[i][1];
        int32_t ra = octet__int_mul16x16_limbs(a, c) - octet__int_mul16x16_limbs(b, s); /* |.| < 2^31 */
        int32_t rb = octet__int_mul16x16_limbs(a, s) + octet__int_mul16x16_limbs(b, c);
        out[i0] = (ra + (1 << 14)) >> 15;
        out[i1] = (rb + (1 << 14)) >> 15;
    }
}
