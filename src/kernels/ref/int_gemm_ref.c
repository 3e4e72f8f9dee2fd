/*
 * int_gemm_ref.c - the portable multi-row integer kernels (contracts in ../int_kernels.h): by definition the
 * reference block dot of each row and token, and the scalar rescale of intmath.h. The ref set uses them, so the
 * integer pass runs one matmul path whatever the set; every set's twins (avx2/int_gemm_avx2.c, ...) equal them.
 * Integer operations only (compiled with -mgeneral-regs-only in `make intonly`).
 */
#include <string.h>

#include "kernels/int_kernels.h"
#include "kernels/intmath.h"

static inline int32_t rescale1(int64_t acc, int32_t m, int s, const int32_t *bias, int r) {
    return octet__int_sat32(octet__int_mulshift(acc, m, s) + (bias ? bias[r] : 0));
}

void octet__int_gemv8_q8_ref(int64_t n_blocks, const uint8_t *w, size_t row_bytes, const int8_t e[8], const int8_t *a,
                             const int16_t *as, const uint8_t *pf, int64_t out[8]) {
    (void)pf;
    for (int r = 0; r < 8; r++) out[r] = octet__int_dot_q8_ref(n_blocks, w + (size_t)r * row_bytes, e[r], a, as);
}

void octet__int_gemv8_q8_y_ref(int64_t n_blocks, const uint8_t *w, size_t row_bytes, const int8_t e[8],
                               const int8_t *a, const int16_t *as, const uint8_t *pf, int base, int32_t m,
                               const int32_t *bias, int32_t y[8]) {
    int64_t acc[8];
    octet__int_gemv8_q8_ref(n_blocks, w, row_bytes, e, a, as, pf, acc);
    for (int r = 0; r < 8; r++) y[r] = rescale1(acc[r], m, base + e[r], bias, r);
}

/* The reference panel is the 8 rows' blocks one after the other, then their 8 exponents. */
size_t octet__int_panel_bytes_ref(int64_t n_blocks) { return (size_t)n_blocks * OCTET_INT_BLOCK * 8 + 8; }

void octet__int_pack8_q8_ref(int64_t n_blocks, void *panel, const uint8_t *w, size_t row_bytes, const int8_t e[8],
                             const uint8_t *pf) {
    (void)pf;
    uint8_t *p = panel;
    const size_t rb = (size_t)n_blocks * OCTET_INT_BLOCK;
    for (int r = 0; r < 8; r++) memcpy(p + (size_t)r * rb, w + (size_t)r * row_bytes, rb);
    memcpy(p + 8 * rb, e, 8);
}

void octet__int_panel_q8_ref(int64_t n_blocks, const void *panel, const int8_t *a, size_t a_stride, const int16_t *as,
                             size_t as_stride, int nc, int64_t *out) {
    const uint8_t *p = panel;
    const size_t rb = (size_t)n_blocks * OCTET_INT_BLOCK;
    const int8_t *e = (const int8_t *)(p + 8 * rb);
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < 8; r++)
            out[c * 8 + r] = octet__int_dot_q8_ref(n_blocks, p + (size_t)r * rb, e[r], a + (size_t)c * a_stride,
                                                   as + (size_t)c * as_stride);
}

void octet__int_panel_q8_y_ref(int64_t n_blocks, const void *panel, const int8_t *a, size_t a_stride,
                               const int16_t *as, size_t as_stride, int nc, const int8_t e[8], const int *base,
                               int32_t m, const int32_t *bias, int32_t *y, size_t y_stride) {
    const uint8_t *p = panel;
    const size_t rb = (size_t)n_blocks * OCTET_INT_BLOCK;
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < 8; r++) {
            const int64_t acc = octet__int_dot_q8_ref(n_blocks, p + (size_t)r * rb, e[r], a + (size_t)c * a_stride,
                                                      as + (size_t)c * as_stride);
            y[(size_t)c * y_stride + (size_t)r] = rescale1(acc, m, base[c] + e[r], bias, r);
        }
}

int octet__int_rescale8_ref(const int64_t acc[8], const int8_t e[8], int base, int32_t m, const int32_t *bias,
                            int32_t out[8]) {
    for (int r = 0; r < 8; r++)
        if (base + e[r] < 32 || base + e[r] > 62) return 0;
    for (int r = 0; r < 8; r++) out[r] = rescale1(acc[r], m, base + e[r], bias, r);
    return 1;
}
