/*
 * test_repack.c - the load-time weight layouts (src/kernels/repack.h) and the kernels over them.
 *
 *  - the portable packer: unpacking every row of a packed group gives the source rows back byte for byte, and the
 *    packed bytes sit where repack.h says (checked element by element against the layout's formula); the
 *    AVX-512 packer writes the same bytes;
 *  - layouts: Q8_0 x16, Q4_0 x16, Q5_0 x16 (x Q8_0), Q4_1 x16, Q5_1 x16 (x Q8_1), Q4_K x16, Q5_K x16 and Q6_K x16
 *    (x Q8_K; their activation aux is unused);
 *  - the AVX-512 VNNI kernels (skipped, with a line, when the CPU lacks AVX-512 F/BW/VL/DQ or VNNI): one group of
 *    16 rows against nc = 1..9 tokens, with and without the activations' aux, must equal the reference dot of
 *    every (row, token) bit for bit (memcmp). Rows are random with the extreme codes (-128, 127 for Q8_0; 0, 15
 *    for the nibble types) sprinkled in, whole blocks of extremes, random fp16 scales including subnormal, zero
 *    and large ones; lengths from one block to 4096 + 32 * 3 elements.
 */
#include <stdlib.h>

#include "core/core.h"
#include "kernels/gemm.h"
#include "kernels/kernels_impl.h"
#include "kernels/repack.h"
#include "octet.h"
#include "test.h"

#define MAXN (4096 + 96)
#define NR 16
#define NT 9

static int have_vnni(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
}

/* a random fp16 scale: mostly normal in a model's range, sometimes subnormal, zero, negative or large */
static uint16_t rand_scale(uint64_t *s) {
    const uint64_t k = t_rng_next(s) % 16;
    const uint16_t sign = (uint16_t)(t_rng_next(s) & 1 ? 0x8000u : 0);
    if (k == 0) return sign;                                             /* +-0 */
    if (k == 1) return (uint16_t)(sign | (1 + t_rng_next(s) % 0x3ff));    /* subnormal */
    if (k == 2) return (uint16_t)(sign | (0x7800u + t_rng_next(s) % 0x3ff)); /* 2^15 .. 65504 */
    return (uint16_t)(sign | (0x1c00u + t_rng_next(s) % 0x2000u));       /* 2^-8 .. 2^0 roughly */
}

static int8_t rand_code(uint64_t *s, int mode) {
    const uint64_t r = t_rng_next(s);
    if (mode == 1) return r & 1 ? 127 : -128;                          /* all extremes */
    if (r % 8 == 0) return (r >> 8) & 1 ? 127 : -128;
    return (int8_t)(uint8_t)(r >> 16);
}

/* 16 random Q8_0 rows (row r at w + r * stride) */
static void fill_q8_0_rows(uint8_t *w, size_t stride, int64_t n, uint64_t *s) {
    for (int r = 0; r < NR; r++) {
        block_q8_0 *x = (block_q8_0 *)(void *)(w + (size_t)r * stride);
        for (int64_t b = 0; b < n / QK8_0; b++) {
            const int mode = t_rng_next(s) % 11 == 0;
            x[b].d = rand_scale(s);
            for (int k = 0; k < QK8_0; k++) x[b].qs[k] = rand_code(s, mode);
        }
    }
}

/* activations: Q8_0 codes in [-127, 127] as the quantizer makes them (a hostile -128 never reaches a kernel
 * from the forward pass, but the kernels are exact for it too: tested on some tokens) */
static void fill_act(uint8_t *a, size_t stride, int nt, int64_t n, uint64_t *s, octet__q8_aux *aux, size_t aux_stride) {
    for (int c = 0; c < nt; c++) {
        block_q8_0 *y = (block_q8_0 *)(void *)(a + (size_t)c * stride);
        for (int64_t b = 0; b < n / QK8_0; b++) {
            const int mode = t_rng_next(s) % 7 == 0;
            y[b].d = rand_scale(s);
            int32_t sum = 0;
            for (int k = 0; k < QK8_0; k++) {
                int8_t v = rand_code(s, mode);
                if (v == -128 && c % 3 != 2) v = -127;
                y[b].qs[k] = v;
                sum += v;
            }
            aux[(size_t)c * aux_stride + (size_t)b].sum8 = 8 * sum;
            aux[(size_t)c * aux_stride + (size_t)b].d = octet__fp16_to_fp32(y[b].d);
        }
    }
}

/* 16 random Q4_0 rows; some blocks all extremes (nibbles 0 and 15 only) */
static void fill_q4_0_rows(uint8_t *w, size_t stride, int64_t n, uint64_t *s) {
    static const uint8_t ext[4] = {0x00, 0xff, 0x0f, 0xf0};
    for (int r = 0; r < NR; r++) {
        block_q4_0 *x = (block_q4_0 *)(void *)(w + (size_t)r * stride);
        for (int64_t b = 0; b < n / QK4_0; b++) {
            const int mode = t_rng_next(s) % 9 == 0;
            x[b].d = rand_scale(s);
            for (int k = 0; k < QK4_0 / 2; k++) x[b].qs[k] = mode ? ext[t_rng_next(s) % 4] : (uint8_t)t_rng_next(s);
        }
    }
}

/* 16 random Q4_K rows: random 6-bit scale bytes (every code of the packing), nibbles, scales */
static void fill_q4_K_rows(uint8_t *w, size_t stride, int64_t n, uint64_t *s) {
    for (int r = 0; r < NR; r++) {
        block_q4_K *x = (block_q4_K *)(void *)(w + (size_t)r * stride);
        for (int64_t b = 0; b < n / QK_K; b++) {
            const int mode = t_rng_next(s) % 9 == 0;
            x[b].d = rand_scale(s);
            x[b].dmin = rand_scale(s);
            for (int k = 0; k < K_SCALE_SIZE; k++) x[b].scales[k] = mode ? 0xff : (uint8_t)t_rng_next(s);
            for (int k = 0; k < QK_K / 2; k++) x[b].qs[k] = mode ? 0xff : (uint8_t)t_rng_next(s);
        }
    }
}

/* Q8_K activations: codes in [-127, 127] (-128 on some tokens), bsums from them, d a float of any size or 0 */
static void fill_act_q8_K(uint8_t *a, size_t stride, int nt, int64_t n, uint64_t *s) {
    for (int c = 0; c < nt; c++) {
        block_q8_K *y = (block_q8_K *)(void *)(a + (size_t)c * stride);
        for (int64_t b = 0; b < n / QK_K; b++) {
            const int mode = t_rng_next(s) % 7 == 0;
            const uint64_t k = t_rng_next(s) % 8;
            y[b].d = k == 0 ? 0.0f : k == 1 ? 0x1p-140f * (float)(t_rng_next(s) % 1000) : t_rng_f(s) * 0.05f;
            for (int g = 0; g < QK_K / 16; g++) {
                int sum = 0;
                for (int l = 0; l < 16; l++) {
                    int8_t v = rand_code(s, mode);
                    if (v == -128 && c % 3 != 2) v = -127;
                    y[b].qs[16 * g + l] = v;
                    sum += v;
                }
                y[b].bsums[g] = (int16_t)sum;
            }
        }
    }
}

/* 16 random Q4_1 rows and Q8_1 activations (the kernels take s, the activation block's d * sum, as given) */
static void fill_q4_1(uint8_t *w, size_t w_stride, uint8_t *a, size_t a_stride, int64_t n, uint64_t *s) {
    for (int r = 0; r < NR; r++) {
        block_q4_1 *x = (block_q4_1 *)(void *)(w + (size_t)r * w_stride);
        for (int64_t b = 0; b < n / QK4_1; b++) {
            const int mode = t_rng_next(s) % 9 == 0;
            x[b].d = rand_scale(s);
            x[b].m = rand_scale(s);
            for (int k = 0; k < QK4_1 / 2; k++) x[b].qs[k] = mode ? 0xff : (uint8_t)t_rng_next(s);
        }
    }
    for (int c = 0; c < NT; c++) {
        block_q8_1 *y = (block_q8_1 *)(void *)(a + (size_t)c * a_stride);
        for (int64_t b = 0; b < n / QK8_1; b++) {
            const int mode = t_rng_next(s) % 7 == 0;
            y[b].d = rand_scale(s);
            y[b].s = rand_scale(s);
            for (int k = 0; k < QK8_1; k++) y[b].qs[k] = rand_code(s, mode);
        }
    }
}

static uint8_t *wq, *aq, *grp, *back;
static octet__q8_aux *auxv;

static void test_q8_0_pack(int64_t n, uint64_t seed) {
    const size_t w_stride = octet__row_bytes(OCTET_TYPE_Q8_0, MAXN) + 6; /* not a multiple of the block size */
    uint64_t s = seed;
    fill_q8_0_rows(wq, w_stride, n, &s);
    octet__pack_q8_0x16_ref(n, grp, wq, w_stride);
    const uint8_t *g = grp;
    int bad = 0;
    for (int64_t b = 0; b < n / QK8_0; b++, g += OCTET__Q8X16_BLOCK)
        for (int r = 0; r < NR; r++) {
            const block_q8_0 *x = (const block_q8_0 *)(const void *)(wq + (size_t)r * w_stride) + b;
            bad |= (g[2 * r] | g[2 * r + 1] << 8) != x->d;
            for (int k = 0; k < QK8_0; k++) bad |= g[32 + 64 * (k / 4) + 4 * r + k % 4] != (uint8_t)(x->qs[k] + 128);
        }
    CHECKF(!bad, "q8_0x16 layout, n=%lld", (long long)n);
    for (int r = 0; r < NR; r++) {
        octet__unpack_q8_0x16_ref(n, back, grp, r);
        CHECKF(!memcmp(back, wq + (size_t)r * w_stride, octet__row_bytes(OCTET_TYPE_Q8_0, n)), "unpack row %d", r);
    }
    if (have_vnni()) { /* the AVX-512 packer: the same bytes */
        memset(back, 0x5a, octet__q8_0x16_bytes(n));
        octet__pack_q8_0x16_avx512(n, back, wq, w_stride);
        CHECKF(!memcmp(back, grp, octet__q8_0x16_bytes(n)), "q8_0x16 AVX-512 packer, n=%lld", (long long)n);
    }
}

/* one group x nc tokens through kern against the reference dot of every (row, token) */
static void check_kernel(const char *name, octet__gemm_x16_kernel *kern, octet__vec_dot_fn dot, int64_t n,
                         const uint8_t *w, size_t w_stride, size_t a_stride, size_t aux_stride) {
    static float ref[NT][NR], got[NT][NR + 3];
    for (int c = 0; c < NT; c++)
        for (int r = 0; r < NR; r++) dot(n, &ref[c][r], w + (size_t)r * w_stride, aq + (size_t)c * a_stride);
    for (int with_aux = 0; with_aux < 2; with_aux++)
        for (int nc = 1; nc <= NT; nc++) {
            memset(got, 0xff, sizeof got);
            /* pf: the group itself (any readable group-sized range) every other call */
            kern(n, &got[0][0], NR + 3, grp, nc % 2 ? grp : NULL, aq, a_stride, nc, with_aux ? auxv : NULL,
                 aux_stride);
            int bad = 0;
            for (int c = 0; c < nc; c++) bad |= memcmp(got[c], ref[c], sizeof ref[c]) != 0;
            for (int c = nc; c < NT; c++) bad |= got[c][0] == got[c][0]; /* untouched (NaN pattern) */
            CHECKF(!bad, "%s n=%lld nc=%d aux=%d", name, (long long)n, nc, with_aux);
            if (bad)
                for (int c = 0; c < nc; c++)
                    for (int r = 0; r < NR; r++)
                        if (memcmp(&got[c][r], &ref[c][r], sizeof(float)) != 0) {
                            fprintf(stderr, "  token %d row %d: got %a want %a\n", c, r, (double)got[c][r],
                                    (double)ref[c][r]);
                            c = nc;
                            break;
                        }
        }
}

static void test_q4_0_pack(int64_t n, uint64_t seed) {
    const size_t w_stride = octet__row_bytes(OCTET_TYPE_Q4_0, MAXN) + 2;
    uint64_t s = seed;
    fill_q4_0_rows(wq, w_stride, n, &s);
    octet__pack_q4_0x16_ref(n, grp, wq, w_stride);
    const uint8_t *g = grp;
    int bad = 0;
    for (int64_t b = 0; b < n / QK4_0; b++, g += OCTET__Q4X16_BLOCK)
        for (int r = 0; r < NR; r++) {
            const block_q4_0 *x = (const block_q4_0 *)(const void *)(wq + (size_t)r * w_stride) + b;
            bad |= (g[2 * r] | g[2 * r + 1] << 8) != x->d;
            for (int k = 0; k < QK4_0; k++) { /* element k's nibble where repack.h puts it */
                const int j = k % 16 / 4, e = k % 4, hi = k >= 16;
                const int q = hi ? g[32 + 64 * j + 4 * r + e] >> 4 : g[32 + 64 * j + 4 * r + e] & 15;
                bad |= q != (hi ? x->qs[k - 16] >> 4 : x->qs[k] & 15);
            }
        }
    CHECKF(!bad, "q4_0x16 layout, n=%lld", (long long)n);
    for (int r = 0; r < NR; r++) {
        octet__unpack_q4_0x16_ref(n, back, grp, r);
        CHECKF(!memcmp(back, wq + (size_t)r * w_stride, octet__row_bytes(OCTET_TYPE_Q4_0, n)), "q4_0 unpack row %d", r);
    }
    if (have_vnni()) {
        memset(back, 0x5a, octet__q4_0x16_bytes(n));
        octet__pack_q4_0x16_avx512(n, back, wq, w_stride);
        CHECKF(!memcmp(back, grp, octet__q4_0x16_bytes(n)), "q4_0x16 AVX-512 packer, n=%lld", (long long)n);
    }
}

static void test_q4_0_kernel(int64_t n, uint64_t seed) {
    const size_t w_stride = octet__row_bytes(OCTET_TYPE_Q4_0, MAXN) + 2;
    const size_t a_stride = octet__row_bytes(OCTET_TYPE_Q8_0, MAXN) + 2, aux_stride = MAXN / QK8_0 + 1;
    uint64_t s = seed;
    fill_q4_0_rows(wq, w_stride, n, &s);
    fill_act(aq, a_stride, NT, n, &s, auxv, aux_stride);
    octet__pack_q4_0x16_ref(n, grp, wq, w_stride);
    check_kernel("q4_0x16", octet__gemm_q4_0x16_avx512, octet__dot_q4_0_q8_0_ref, n, wq, w_stride, a_stride,
                 aux_stride);
}

static void test_q4_K(int64_t n, uint64_t seed) {
    const size_t w_stride = octet__row_bytes(OCTET_TYPE_Q4_K, 4096) + 4;
    const size_t a_stride = octet__row_bytes(OCTET_TYPE_Q8_K, 4096) + 4;
    uint64_t s = seed;
    fill_q4_K_rows(wq, w_stride, n, &s);
    octet__pack_q4_Kx16_ref(n, grp, wq, w_stride);
    const uint8_t *g = grp;
    int bad = 0;
    for (int64_t b = 0; b < n / QK_K; b++, g += OCTET__Q4KX16_BLOCK)
        for (int r = 0; r < NR; r++) {
            const block_q4_K *x = (const block_q4_K *)(const void *)(wq + (size_t)r * w_stride) + b;
            uint8_t sc[8], m[8];
            octet__q4_K_scales(x->scales, sc, m);
            bad |= (g[2 * r] | g[2 * r + 1] << 8) != x->d || (g[32 + 2 * r] | g[33 + 2 * r] << 8) != x->dmin;
            for (int j = 0; j < 8; j++) bad |= g[64 + 16 * j + r] != sc[j] || g[192 + 32 * (j / 2) + 2 * r + j % 2] != m[j];
            for (int e = 0; e < QK_K; e++) { /* element e = 64c + 32h + l: sub-block j = 2c + h, code l */
                const int j = e / 32, l = e % 32, q = 8 * (j / 2) + l / 4;
                const uint8_t byte = g[320 + 64 * q + 4 * r + l % 4];
                bad |= (j & 1 ? byte >> 4 : byte & 15) != (j & 1 ? x->qs[32 * (j / 2) + l] >> 4 : x->qs[32 * (j / 2) + l] & 15);
            }
        }
    CHECKF(!bad, "q4_Kx16 layout, n=%lld", (long long)n);
    if (!have_vnni()) return;
    memset(back, 0x5a, octet__q4_Kx16_bytes(n));
    octet__pack_q4_Kx16_avx512(n, back, wq, w_stride);
    CHECKF(!memcmp(back, grp, octet__q4_Kx16_bytes(n)), "q4_Kx16 AVX-512 packer, n=%lld", (long long)n);
    fill_act_q8_K(aq, a_stride, NT, n, &s);
    check_kernel("q4_Kx16", octet__gemm_q4_Kx16_avx512, octet__dot_q4_K_q8_K_ref, n, wq, w_stride, a_stride, 0);
}

static void test_q4_1(int64_t n, uint64_t seed) {
    const size_t w_stride = octet__row_bytes(OCTET_TYPE_Q4_1, MAXN) + 2;
    const size_t a_stride = octet__row_bytes(OCTET_TYPE_Q8_1, MAXN) + 2;
    uint64_t s = seed;
    fill_q4_1(wq, w_stride, aq, a_stride, n, &s);
    octet__pack_q4_1x16_ref(n, grp, wq, w_stride);
    const uint8_t *g = grp;
    int bad = 0;
    for (int64_t b = 0; b < n / QK4_1; b++, g += OCTET__Q41X16_BLOCK)
        for (int r = 0; r < NR; r++) {
            const block_q4_1 *x = (const block_q4_1 *)(const void *)(wq + (size_t)r * w_stride) + b;
            bad |= (g[2 * r] | g[2 * r + 1] << 8) != x->d || (g[32 + 2 * r] | g[33 + 2 * r] << 8) != x->m;
            for (int i = 0; i < QK4_1 / 2; i++) bad |= g[64 + 64 * (i / 4) + 4 * r + i % 4] != x->qs[i];
        }
    CHECKF(!bad, "q4_1x16 layout, n=%lld", (long long)n);
    if (!have_vnni()) return;
    memset(back, 0x5a, octet__q4_1x16_bytes(n));
    octet__pack_q4_1x16_avx512(n, back, wq, w_stride);
    CHECKF(!memcmp(back, grp, octet__q4_1x16_bytes(n)), "q4_1x16 AVX-512 packer, n=%lld", (long long)n);
    check_kernel("q4_1x16", octet__gemm_q4_1x16_avx512, octet__dot_q4_1_q8_1_ref, n, wq, w_stride, a_stride, 0);
}

/* Q5_0 (x Q8_0, with aux) and Q5_1 (x Q8_1): random blocks (qh included; all-ones blocks for the extremes) */
static void test_q5(int type, int64_t n, uint64_t seed) {
    const int m1 = type == OCTET_TYPE_Q5_1;
    const size_t bs = m1 ? sizeof(block_q5_1) : sizeof(block_q5_0);
    const size_t w_stride = octet__row_bytes(type, MAXN) + 2;
    const size_t a_stride = octet__row_bytes(m1 ? OCTET_TYPE_Q8_1 : OCTET_TYPE_Q8_0, MAXN) + 2, aux_stride = MAXN / 32 + 1;
    uint64_t s = seed;
    for (int r = 0; r < NR; r++)
        for (int64_t b = 0; b < n / 32; b++) {
            uint8_t *x = wq + (size_t)r * w_stride + (size_t)b * bs;
            const int mode = t_rng_next(&s) % 9 == 0;
            for (size_t k = 0; k < bs; k++) x[k] = mode ? 0xff : (uint8_t)t_rng_next(&s);
            const uint16_t d = rand_scale(&s), mm = rand_scale(&s);
            memcpy(x, &d, 2);
            if (m1) memcpy(x + 2, &mm, 2);
        }
    if (m1) {
        for (int c = 0; c < NT; c++)
            for (int64_t b = 0; b < n / 32; b++) {
                block_q8_1 *y = (block_q8_1 *)(void *)(aq + (size_t)c * a_stride) + b;
                y->d = rand_scale(&s);
                y->s = rand_scale(&s);
                for (int k = 0; k < 32; k++) y->qs[k] = rand_code(&s, 0);
            }
    } else {
        fill_act(aq, a_stride, NT, n, &s, auxv, aux_stride);
    }
    uint8_t *ref = malloc(octet__q5_1x16_bytes(n));
    if (!ref) return;
    (m1 ? octet__pack_q5_1x16_ref : octet__pack_q5_0x16_ref)(n, ref, wq, w_stride);
    /* the layout: each element's 5-bit code where repack.h puts it */
    const size_t blk = m1 ? OCTET__Q51X16_BLOCK : OCTET__Q50X16_BLOCK, hb = m1 ? 64 : 32;
    int bad = 0;
    for (int64_t b = 0; b < n / 32; b++)
        for (int r = 0; r < NR; r++) {
            const uint8_t *x = wq + (size_t)r * w_stride + (size_t)b * bs, *g = ref + (size_t)b * blk;
            const uint8_t *qh = x + (m1 ? 4 : 2), *qs = x + (m1 ? 8 : 6);
            bad |= g[2 * r] != x[0] || g[2 * r + 1] != x[1] || (m1 && (g[32 + 2 * r] != x[2] || g[33 + 2 * r] != x[3]));
            for (int e = 0; e < 32; e++) {
                const int h = e / 16, j = e % 16 / 4, k = e % 4;
                const int want = (h ? qs[e - 16] >> 4 : qs[e] & 15) | ((qh[e / 8] >> (e % 8)) & 1) << 4;
                const uint8_t byte = g[hb + 64 + 64 * j + 4 * r + k];
                const int got = (h ? byte >> 4 : byte & 15) | ((g[hb + 4 * r + k] >> (2 * j + h)) & 1) << 4;
                bad |= got != want;
            }
        }
    CHECKF(!bad, "%s x16 layout, n=%lld", m1 ? "q5_1" : "q5_0", (long long)n);
    if (have_vnni()) {
        (m1 ? octet__pack_q5_1x16_avx512 : octet__pack_q5_0x16_avx512)(n, grp, wq, w_stride);
        CHECKF(!memcmp(grp, ref, (m1 ? octet__q5_1x16_bytes : octet__q5_0x16_bytes)(n)), "%s x16 AVX-512 packer",
               m1 ? "q5_1" : "q5_0");
        memcpy(grp, ref, (m1 ? octet__q5_1x16_bytes : octet__q5_0x16_bytes)(n));
        check_kernel(m1 ? "q5_1x16" : "q5_0x16", m1 ? octet__gemm_q5_1x16_avx512 : octet__gemm_q5_0x16_avx512,
                     m1 ? octet__dot_q5_1_q8_1_ref : octet__dot_q5_0_q8_0_ref, n, wq, w_stride, a_stride, aux_stride);
    }
    free(ref);
}

/* Q5_K x16 and Q6_K x16 (x Q8_K): 16 random rows (every byte pattern is a valid block: codes, 6-bit scales and
 * mins, Q6_K's int8 scales -128..127; some blocks all 0xff - the largest codes - and, for Q6_K, some with every
 * code 0 and every scale -128, the largest |(q - 32) * scale|), fp16 scales from rand_scale. The layout is checked
 * element by element against the codes decoded here from the block formats (not through the packers' code), the
 * AVX-512 packer must write the portable packer's bytes, the kernel must equal the reference dot. */
static int q5_K_code(const block_q5_K *x, int e) {
    const int j = e / 32, l = e % 32, b = x->qs[32 * (j / 2) + l];
    return (j & 1 ? b >> 4 : b & 15) | ((x->qh[l] >> j) & 1) << 4;
}

static void q6_K_codes(const block_q6_K *x, int q[QK_K]) { /* the inverse of the packing in ref/kquant_ref.c */
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const int a = x->ql[64 * h + l], b = x->ql[64 * h + 32 + l], c = x->qh[32 * h + l];
            q[128 * h + l] = (a & 15) | (c & 3) << 4;
            q[128 * h + l + 32] = (b & 15) | ((c >> 2) & 3) << 4;
            q[128 * h + l + 64] = (a >> 4) | ((c >> 4) & 3) << 4;
            q[128 * h + l + 96] = (b >> 4) | ((c >> 6) & 3) << 4;
        }
}

static void test_kx16(int type, int64_t n, uint64_t seed) {
    const int q6 = type == OCTET_TYPE_Q6_K;
    const size_t bs = q6 ? sizeof(block_q6_K) : sizeof(block_q5_K), blk = q6 ? OCTET__Q6KX16_BLOCK : OCTET__Q5KX16_BLOCK;
    const size_t w_stride = octet__row_bytes(type, 4096) + 6, a_stride = octet__row_bytes(OCTET_TYPE_Q8_K, 4096) + 4;
    const size_t gbytes = q6 ? octet__q6_Kx16_bytes(n) : octet__q5_Kx16_bytes(n);
    const char *name = q6 ? "q6_Kx16" : "q5_Kx16";
    uint64_t s = seed;
    for (int r = 0; r < NR; r++)
        for (int64_t b = 0; b < n / QK_K; b++) {
            uint8_t *x = wq + (size_t)r * w_stride + (size_t)b * bs;
            const uint64_t mode = t_rng_next(&s) % 9;
            for (size_t k = 0; k < bs; k++) x[k] = mode == 0 ? 0xff : (uint8_t)t_rng_next(&s);
            if (q6 && mode == 1) {
                memset(x, 0, bs);
                memset(((block_q6_K *)(void *)x)->scales, 0x80, QK_K / 16);
            }
            const uint16_t d = rand_scale(&s), dmin = rand_scale(&s);
            if (q6) {
                ((block_q6_K *)(void *)x)->d = d;
            } else {
                ((block_q5_K *)(void *)x)->d = d;
                ((block_q5_K *)(void *)x)->dmin = dmin;
            }
        }
    fill_act_q8_K(aq, a_stride, NT, n, &s);
    (q6 ? octet__pack_q6_Kx16_ref : octet__pack_q5_Kx16_ref)(n, back, wq, w_stride);
    int bad = 0;
    for (int64_t b = 0; b < n / QK_K; b++)
        for (int r = 0; r < NR; r++) {
            const uint8_t *g = back + (size_t)b * blk;
            if (q6) {
                const block_q6_K *x = (const block_q6_K *)(const void *)(wq + (size_t)r * w_stride) + b;
                int q[QK_K];
                q6_K_codes(x, q);
                bad |= (g[2 * r] | g[2 * r + 1] << 8) != x->d;
                for (int j = 0; j < 16; j++) bad |= (int8_t)g[32 + 32 * (j / 2) + 2 * r + j % 2] != x->scales[j];
                for (int e = 0; e < QK_K; e++) { /* low 4 bits: chunk (e % 128) / 4, high nibble for e >= 128 */
                    const uint8_t lo = g[288 + 64 * ((e % 128) / 4) + 4 * r + e % 4];
                    const uint8_t hi = g[2336 + 64 * (e / 16) + 4 * r + e % 4];
                    bad |= ((e >= 128 ? lo >> 4 : lo & 15) | ((hi >> (2 * (e % 16 / 4))) & 3) << 4) != q[e];
                }
            } else {
                const block_q5_K *x = (const block_q5_K *)(const void *)(wq + (size_t)r * w_stride) + b;
                uint8_t sc[8], m[8];
                octet__q4_K_scales(x->scales, sc, m);
                bad |= (g[2 * r] | g[2 * r + 1] << 8) != x->d || (g[32 + 2 * r] | g[33 + 2 * r] << 8) != x->dmin;
                for (int j = 0; j < 8; j++)
                    bad |= g[64 + 16 * j + r] != sc[j] || g[192 + 32 * (j / 2) + 2 * r + j % 2] != m[j];
                for (int e = 0; e < QK_K; e++) { /* e = 32j + l: nibble chunk 8(j/2) + l/4, H chunk l/4, bit j */
                    const int j = e / 32, l = e % 32;
                    const uint8_t lo = g[320 + 64 * (8 * (j / 2) + l / 4) + 4 * r + l % 4];
                    const uint8_t hi = g[2368 + 64 * (l / 4) + 4 * r + l % 4];
                    bad |= ((j & 1 ? lo >> 4 : lo & 15) | ((hi >> j) & 1) << 4) != q5_K_code(x, e);
                }
            }
        }
    CHECKF(!bad, "%s layout, n=%lld", name, (long long)n);
    if (!have_vnni()) return;
    memset(grp, 0x5a, gbytes);
    (q6 ? octet__pack_q6_Kx16_avx512 : octet__pack_q5_Kx16_avx512)(n, grp, wq, w_stride);
    CHECKF(!memcmp(grp, back, gbytes), "%s AVX-512 packer, n=%lld", name, (long long)n);
    check_kernel(name, q6 ? octet__gemm_q6_Kx16_avx512 : octet__gemm_q5_Kx16_avx512,
                 q6 ? octet__dot_q6_K_q8_K_ref : octet__dot_q5_K_q8_K_ref, n, wq, w_stride, a_stride, 0);
}

static void test_q8_0_kernel(int64_t n, uint64_t seed) {
    const size_t w_stride = octet__row_bytes(OCTET_TYPE_Q8_0, MAXN) + 6;
    const size_t a_stride = octet__row_bytes(OCTET_TYPE_Q8_0, MAXN) + 2, aux_stride = MAXN / QK8_0 + 1;
    uint64_t s = seed;
    fill_q8_0_rows(wq, w_stride, n, &s);
    fill_act(aq, a_stride, NT, n, &s, auxv, aux_stride);
    octet__pack_q8_0x16_ref(n, grp, wq, w_stride);
    check_kernel("q8_0x16", octet__gemm_q8_0x16_avx512, octet__dot_q8_0_q8_0_ref, n, wq, w_stride, a_stride,
                 aux_stride);
}

int main(void) {
    wq = malloc((size_t)NR * (octet__row_bytes(OCTET_TYPE_Q8_0, MAXN) + 64));
    aq = malloc((size_t)NT * (octet__row_bytes(OCTET_TYPE_Q8_K, 4096) + 64));
    grp = malloc(octet__q8_0x16_bytes(MAXN) + 64);
    back = malloc(octet__q8_0x16_bytes(MAXN));
    auxv = malloc((size_t)NT * (MAXN / QK8_0 + 1) * sizeof *auxv);
    if (!wq || !aq || !grp || !back || !auxv) return 1;
    static const int64_t ns[] = {32, 64, 96, 160, 256, 1024, 2048 + 32, 4096, 4096 + 96};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) test_q8_0_pack(ns[i], 100 + i);
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) test_q4_0_pack(ns[i], 200 + i);
    if (have_vnni()) {
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            for (uint64_t k = 0; k < 3; k++) {
                test_q8_0_kernel(ns[i], 1000 * i + k);
                test_q4_0_kernel(ns[i], 5000 * i + k);
            }
    }
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (uint64_t k = 0; k < 2; k++) {
            test_q4_1(ns[i], 9000 * i + k);
            test_q5(OCTET_TYPE_Q5_0, ns[i], 11000 * i + k);
            test_q5(OCTET_TYPE_Q5_1, ns[i], 13000 * i + k);
        }
    static const int64_t nk[] = {256, 512, 768, 2048, 4096};
    for (size_t i = 0; i < sizeof nk / sizeof nk[0]; i++)
        for (uint64_t k = 0; k < 3; k++) {
            test_q4_K(nk[i], 7000 * i + k);
            test_kx16(OCTET_TYPE_Q5_K, nk[i], 15000 * i + k);
            test_kx16(OCTET_TYPE_Q6_K, nk[i], 17000 * i + k);
        }
    if (!have_vnni()) {
        printf("test_repack: the CPU lacks AVX-512 VNNI; the AVX-512 kernels are not tested\n");
    }
    free(wq);
    free(aq);
    free(grp);
    free(back);
    free(auxv);
    TEST_MAIN_END();
}
