/*
 * test_gemm.c - the multi-row and multi-token kernels (src/kernels/gemm.h) against the reference dots.
 *
 * For Q8_0, Q4_0, Q5_0 (x Q8_0), Q4_1, Q5_1 (x Q8_1) and Q4_K, Q5_K, Q6_K (x Q8_K) the reference dot is the specification and every SIMD kernel
 * must reproduce it bit for bit (memcmp):
 *   - the AVX2 single-row dot;
 *   - the 8-row GEMV (the 32-element block types) on 1..4 tokens, with and without the activations' block sums, every (row, token);
 *   - row panels: pack 8 rows, multiply with nc = 1..11 tokens (block sums given for odd nc), every (row, token).
 * Rows are random (uniform; uniform with large outliers; some all-zero blocks), lengths with odd block counts and
 * with a tail after the last 8 blocks. Weight codes a hostile file may hold (Q8_0 -128) are included. The
 * reference dot itself is checked against the float64 dot of the dequantized rows: |diff| <= (nb + 8) * 2^-23 *
 * sum_j |w_j a_j| (each block's integer sum is exact; nb float terms add at most about nb ulps of the absolute
 * sum). The F32 tile equals the F32 dot of its own table (AVX2 tile == AVX2 dot, reference tile == reference dot);
 * the F16/BF16 AVX2 tile and GEMV equal the AVX2 dot of their type.
 */
#include <stdlib.h>

#include "core/core.h"
#include "kernels/gemm.h"
#include "kernels/kernels_impl.h"
#include "octet.h"
#include "test.h"

#define MAXN 2048
#define NR 8
#define NT 11

static uint8_t *wq, *aq, *panel; /* [NR] rows, [NT] tokens, one panel */
static size_t w_stride, a_stride;

static void fill(float *x, int64_t n, float scale, int outliers, int zero_blocks, int bs, uint64_t *s) {
    for (int64_t j = 0; j < n; j++) x[j] = t_rng_f(s) * scale;
    for (int k = 0; k < outliers; k++) x[t_rng_next(s) % (uint64_t)n] = scale * 40.0f * (k & 1 ? -1.0f : 1.0f);
    if (zero_blocks)
        for (int64_t b = 0; b < n / bs; b += 3)
            for (int j = 0; j < bs; j++) x[b * bs + j] = 0.0f;
}

static void run_type(int type, int64_t n, int variant, uint64_t seed) {
    const octet__type_traits *ref = octet__kernels_ref(), *simd = octet__kernels_simd();
    const octet__type_traits *wt = &ref[type], *at = &ref[wt->vec_dot_type];
    static float wf[MAXN], af[MAXN], wd[MAXN], ad[MAXN];
    uint64_t s = seed;
    for (int r = 0; r < NR; r++) {
        fill(wf, n, 0.05f, variant == 1 ? 4 : 0, variant == 2 && r % 2, wt->block_size, &s);
        wt->from_float(wf, wq + (size_t)r * w_stride, n);
    }
    if (type == OCTET_TYPE_Q8_0 && variant == 2) /* codes only a hand-made file holds */
        for (int r = 0; r < NR; r++) ((block_q8_0 *)(void *)(wq + (size_t)r * w_stride))[1].qs[r] = -128;
    for (int c = 0; c < NT; c++) {
        fill(af, n, 3.0f, variant == 1 ? 3 : 0, variant == 2 && c % 3 == 1, wt->block_size, &s);
        at->from_float(af, aq + (size_t)c * a_stride, n);
    }
    const int64_t nb = n / wt->block_size;
    static float dref[NR][NT];
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NT; c++) ref[type].vec_dot(n, &dref[r][c], wq + (size_t)r * w_stride, aq + (size_t)c * a_stride);
    /* the specification against float64 */
    for (int r = 0; r < NR; r += 3) {
        wt->to_float(wq + (size_t)r * w_stride, wd, n);
        for (int c = 0; c < NT; c += 4) {
            at->to_float(aq + (size_t)c * a_stride, ad, n);
            double exact = 0, absum = 0;
            for (int64_t j = 0; j < n; j++) {
                exact += (double)wd[j] * (double)ad[j];
                absum += fabs((double)wd[j] * (double)ad[j]);
            }
            /* Q4_K/Q5_K: w = d sc q - dmin m, and the reference rounds the two terms apart, so their sizes (not
             * just |w|) bound the rounding: add sum |dmin m a| twice (|d sc q a| <= |w a| + |dmin m a|) */
            if (type == OCTET_TYPE_Q4_K || type == OCTET_TYPE_Q5_K)
                for (int64_t b = 0; b < nb; b++) {
                    const uint8_t *blk = wq + (size_t)r * w_stride + (size_t)b * wt->type_size;
                    uint8_t sc[8], mn[8];
                    uint16_t hmin;
                    memcpy(&hmin, blk + 2, 2); /* d, dmin, scales[12]: the same prefix in both types */
                    octet__q4_K_scales(blk + 4, sc, mn);
                    for (int j = 0; j < 256; j++)
                        absum += 2.0 * fabs((double)octet__fp16_to_fp32(hmin) * mn[j / 32] * (double)ad[256 * b + j]);
                }
            double bound = (double)(nb + 8) * 0x1p-23 * absum;
            /* Q4_1/Q5_1: the reference uses Q8_1's s = d sum(q) as stored, in fp16 (half an ulp: 2^-11 relative),
             * for the min term m s, where the float64 dot has the exact sum */
            if (type == OCTET_TYPE_Q4_1 || type == OCTET_TYPE_Q5_1)
                for (int64_t b = 0; b < nb; b++) {
                    const block_q8_1 *yb = (const block_q8_1 *)(const void *)(aq + (size_t)c * a_stride) + b;
                    uint16_t hm;
                    memcpy(&hm, wq + (size_t)r * w_stride + (size_t)b * wt->type_size + 2, 2); /* m after d */
                    bound += fabs((double)octet__fp16_to_fp32(hm)) *
                             (fabs((double)octet__fp16_to_fp32(yb->s)) * 0x1p-11 + 0x1p-24);
                }
            CHECKF(fabs((double)dref[r][c] - exact) <= bound, "%s ref dot vs float64: %g vs %.17g (bound %g)",
                   wt->name, (double)dref[r][c], exact, bound);
        }
    }
    if (!simd) return;
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NT; c++) {
            float v;
            simd[type].vec_dot(n, &v, wq + (size_t)r * w_stride, aq + (size_t)c * a_stride);
            CHECKF(memcmp(&v, &dref[r][c], sizeof v) == 0, "%s avx2 dot %.9g != ref %.9g (n %lld var %d r %d c %d)",
                   wt->name, (double)v, (double)dref[r][c], (long long)n, variant, r, c);
        }
    octet__gemv8_fn g8 = octet__gemv8(type);
    if (type < OCTET_TYPE_Q4_K) CHECK(g8 != NULL); /* every 32-element block type */
    static octet__q8_aux aux[NT][MAXN / 32]; /* code sums and scales of the activation blocks (Q8_0 rows) */
    if (wt->vec_dot_type == OCTET_TYPE_Q8_0)
        for (int c = 0; c < NT; c++)
            for (int64_t b = 0; b < n / 32; b++) {
                const block_q8_0 *blk = (const block_q8_0 *)(const void *)(aq + (size_t)c * a_stride) + b;
                aux[c][b].sum8 = 0;
                for (int j = 0; j < 32; j++) aux[c][b].sum8 += 8 * blk->qs[j];
                aux[c][b].d = octet__fp16_to_fp32(blk->d);
            }
    for (int sums = 0; g8 && sums < 2; sums++) /* with and without the block sums given */
        for (int nc = 1; nc <= OCTET__GEMV_NC; nc++)
            for (int c0 = 0; c0 + nc <= NT; c0 += nc) {
                float v[OCTET__GEMV_NC * NR];
                g8(n, v, wq, w_stride, NULL, aq + (size_t)c0 * a_stride, a_stride, nc, sums ? aux[c0] : NULL, MAXN / 32);
                for (int c = 0; c < nc; c++)
                    for (int r = 0; r < NR; r++)
                        CHECKF(memcmp(&v[c * NR + r], &dref[r][c0 + c], sizeof(float)) == 0,
                               "%s gemv8 %.9g != ref %.9g (n %lld nc %d sums %d r %d c %d)", wt->name,
                               (double)v[c * NR + r], (double)dref[r][c0 + c], (long long)n, nc, sums, r, c0 + c);
            }
    /* the Q5_K/Q6_K 1-row tile of up to 4 tokens */
    octet__gemm_fn gm = octet__gemm(type);
    if (type == OCTET_TYPE_Q5_K || type == OCTET_TYPE_Q6_K) CHECK(gm != NULL);
    for (int nc = 1; gm && nc <= OCTET__GEMM_NC; nc++)
        for (int r = 0; r < NR; r++) {
            float v[OCTET__GEMM_NC];
            gm(n, v, wq + (size_t)r * w_stride, aq + (size_t)(r % 3) * a_stride, a_stride, nc);
            for (int c = 0; c < nc; c++)
                CHECKF(memcmp(&v[c], &dref[r][r % 3 + c], sizeof(float)) == 0, "%s 1-row tile %.9g != ref %.9g (n %lld nc %d r %d c %d)",
                       wt->name, (double)v[c], (double)dref[r][r % 3 + c], (long long)n, nc, r, r % 3 + c);
        }
    const octet__panel_kernels *pk = octet__panel(type);
    CHECK(pk != NULL);
    if (!pk) return;
    CHECK(pk->bytes(n) <= (size_t)MAXN * 8 * 4 && pk->bytes(n) % 32 == 0);
    pk->pack(n, panel, wq, w_stride, NULL);
    for (int nc = 1; nc <= NT; nc++) {
        static float out[NT][NR + 3];
        memset(out, 0xff, sizeof out);
        pk->gemm(n, &out[0][0], NR + 3, panel, aq, a_stride, nc, nc % 2 ? &aux[0][0] : NULL, MAXN / 32);
        for (int c = 0; c < nc; c++) {
            for (int r = 0; r < NR; r++)
                CHECKF(memcmp(&out[c][r], &dref[r][c], sizeof(float)) == 0,
                       "%s panel %.9g != ref %.9g (n %lld var %d nc %d r %d c %d)", wt->name, (double)out[c][r],
                       (double)dref[r][c], (long long)n, variant, nc, r, c);
            uint32_t pad;
            memcpy(&pad, &out[c][NR], 4);
            CHECK(pad == 0xffffffffu); /* nothing written past the 8 rows */
        }
    }
}

/* The multi-row kernels on exactly-sized buffers (8 rows of n elements, nc activation rows, one panel), so that
 * under AddressSanitizer any read past a row, an activation row or the panel is reported. */
static void run_exact(int type, int64_t n) {
    const octet__type_traits *ref = octet__kernels_ref();
    const octet__type_traits *wt = &ref[type], *at = &ref[wt->vec_dot_type];
    const size_t rb = octet__row_bytes(type, n), ab = octet__row_bytes(wt->vec_dot_type, n);
    const int nc = 5;
    uint8_t *w = malloc(8 * rb), *a = malloc((size_t)nc * ab);
    float *x = malloc((size_t)n * sizeof *x);
    CHECK(w && a && x);
    if (!w || !a || !x) return;
    uint64_t s = 77 + (uint64_t)n;
    for (int r = 0; r < 8; r++) {
        for (int64_t j = 0; j < n; j++) x[j] = t_rng_f(&s) * 0.1f;
        wt->from_float(x, w + (size_t)r * rb, n);
    }
    for (int c = 0; c < nc; c++) {
        for (int64_t j = 0; j < n; j++) x[j] = t_rng_f(&s);
        at->from_float(x, a + (size_t)c * ab, n);
    }
    float want[8][5], out[5 * 8];
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < nc; c++) ref[type].vec_dot(n, &want[r][c], w + (size_t)r * rb, a + (size_t)c * ab);
    octet__gemv8_fn g8 = octet__gemv8(type);
    if (g8)
        for (int k = 1; k <= 4; k++) {
            g8(n, out, w, rb, NULL, a, ab, k, NULL, 0);
            for (int c = 0; c < k; c++)
                for (int r = 0; r < 8; r++) CHECK(memcmp(&out[c * 8 + r], &want[r][c], sizeof(float)) == 0);
        }
    octet__gemm_fn gm = octet__gemm(type);
    if (gm) {
        gm(n, out, w + 7 * rb, a + ab, ab, 4);
        for (int c = 0; c < 4; c++) CHECK(memcmp(&out[c], &want[7][1 + c], sizeof(float)) == 0);
    }
    const octet__panel_kernels *pk = octet__panel(type);
    void *pan = pk ? malloc(pk->bytes(n)) : NULL;
    if (pan) {
        pk->pack(n, pan, w, rb, NULL);
        pk->gemm(n, out, 8, pan, a, ab, nc, NULL, 0);
        for (int c = 0; c < nc; c++)
            for (int r = 0; r < 8; r++) CHECK(memcmp(&out[c * 8 + r], &want[r][c], sizeof(float)) == 0);
    }
    free(pan);
    free(w);
    free(a);
    free(x);
}

/* F32: the 2-token tile equals the dot of its own table. */
static void run_f32(int64_t n, uint64_t seed) {
    static float w[8][512 + 3], a[4][512];
    uint64_t s = seed;
    for (int r = 0; r < 8; r++)
        for (int64_t j = 0; j < n; j++) w[r][j] = t_rng_f(&s);
    for (int c = 0; c < 4; c++)
        for (int64_t j = 0; j < n; j++) a[c][j] = t_rng_f(&s) * 2.0f;
    for (int nc = 1; nc <= 4; nc++) {
        float t[4], d[4];
        octet__gemm_f32_f32_ref(n, t, w[0], a, sizeof a[0], nc);
        for (int c = 0; c < nc; c++) {
            octet__dot_f32_f32_ref(n, &d[c], w[0], a[c]);
            CHECK(memcmp(&t[c], &d[c], sizeof(float)) == 0);
        }
        if (!octet__kernels_simd()) continue;
        octet__gemm_f32_f32_avx2(n, t, w[0], a, sizeof a[0], nc);
        for (int c = 0; c < nc; c++) {
            octet__dot_f32_f32_avx2(n, &d[c], w[0], a[c]);
            CHECKF(memcmp(&t[c], &d[c], sizeof(float)) == 0, "f32 tile != dot (n %lld nc %d)", (long long)n, nc);
        }
        /* 8-row GEMV: rows 515 floats apart (not 32-byte aligned), each result equal to the AVX2 dot */
        float g[4 * 8];
        octet__gemv8_f32_f32_avx2(n, g, w, sizeof w[0], NULL, a, sizeof a[0], nc, NULL, 0);
        for (int c = 0; c < nc; c++)
            for (int r = 0; r < 8; r++) {
                float want;
                octet__dot_f32_f32_avx2(n, &want, w[r], a[c]);
                CHECKF(memcmp(&g[c * 8 + r], &want, sizeof(float)) == 0, "f32 gemv8 %.9g != dot %.9g (n %lld nc %d r %d c %d)",
                       (double)g[c * 8 + r], (double)want, (long long)n, nc, r, c);
            }
    }
}

/* F16 / BF16 rows: the AVX2 tile and 8-row GEMV equal the AVX2 dot of the type (one FMA chain per row and token),
 * with rows 515 elements apart (not 32-byte aligned) and every length class (tails of n % 8). */
static void run_f16(int type, int64_t n, uint64_t seed) {
    static uint16_t w[8][512 + 3];
    static float a[4][512];
    const octet__type_traits *simd = octet__kernels_simd();
    if (!simd) return;
    uint64_t s = seed;
    for (int r = 0; r < 8; r++)
        for (int64_t j = 0; j < n; j++) {
            const float v = t_rng_f(&s);
            w[r][j] = type == OCTET_TYPE_F16 ? octet__fp32_to_fp16(v) : octet__fp32_to_bf16(v);
        }
    for (int c = 0; c < 4; c++)
        for (int64_t j = 0; j < n; j++) a[c][j] = t_rng_f(&s) * 2.0f;
    octet__gemm_fn gm = octet__gemm(type);
    octet__gemv8_fn g8 = octet__gemv8(type);
    CHECK(gm != NULL && g8 != NULL);
    if (!gm || !g8) return;
    for (int nc = 1; nc <= 4; nc++) {
        float t[4], g[4 * 8];
        gm(n, t, w[0], a, sizeof a[0], nc);
        g8(n, g, w, sizeof w[0], NULL, a, sizeof a[0], nc, NULL, 0);
        for (int c = 0; c < nc; c++) {
            float d;
            simd[type].vec_dot(n, &d, w[0], a[c]);
            CHECKF(memcmp(&t[c], &d, sizeof(float)) == 0, "%s tile != dot (n %lld nc %d)", simd[type].name,
                   (long long)n, nc);
            for (int r = 0; r < 8; r++) {
                simd[type].vec_dot(n, &d, w[r], a[c]);
                CHECKF(memcmp(&g[c * 8 + r], &d, sizeof(float)) == 0, "%s gemv8 != dot (n %lld nc %d r %d c %d)",
                       simd[type].name, (long long)n, nc, r, c);
            }
        }
    }
}

/* Float-type row panels (rows converted to F32, tiles of 4 rows x 3 tokens): every (row, token) of nc = 1..11
 * tokens equals the AVX2 dot of the type, nothing is written past the 8 rows, and the panel fits its size. */
static void run_float_panel(int type, int64_t n, uint64_t seed) {
    static uint8_t w[8][(512 + 3) * 4];
    static float a[NT][512], out[NT][NR + 3];
    const octet__type_traits *simd = octet__kernels_simd();
    if (!simd) return;
    const size_t es = type == OCTET_TYPE_F32 ? 4 : 2;
    uint64_t s = seed;
    for (int r = 0; r < 8; r++)
        for (int64_t j = 0; j < n; j++) {
            const float v = t_rng_f(&s);
            const uint16_t h = type == OCTET_TYPE_F16 ? octet__fp32_to_fp16(v) : octet__fp32_to_bf16(v);
            if (es == 4) memcpy(&w[r][4 * j], &v, 4);
            else memcpy(&w[r][2 * j], &h, 2);
        }
    for (int c = 0; c < NT; c++)
        for (int64_t j = 0; j < n; j++) a[c][j] = t_rng_f(&s) * 2.0f;
    const octet__panel_kernels *pk = octet__panel(type);
    CHECK(pk != NULL);
    if (!pk) return;
    CHECK(pk->bytes(n) <= (size_t)MAXN * 8 * 4);
    pk->pack(n, panel, w, sizeof w[0], NULL);
    for (int nc = 1; nc <= NT; nc++) {
        memset(out, 0xff, sizeof out);
        pk->gemm(n, &out[0][0], NR + 3, panel, a, sizeof a[0], nc, NULL, 0);
        for (int c = 0; c < nc; c++) {
            for (int r = 0; r < NR; r++) {
                float d;
                simd[type].vec_dot(n, &d, w[r], a[c]);
                CHECKF(memcmp(&out[c][r], &d, sizeof d) == 0, "%s panel %.9g != dot %.9g (n %lld nc %d r %d c %d)",
                       simd[type].name, (double)out[c][r], (double)d, (long long)n, nc, r, c);
            }
            uint32_t pad;
            memcpy(&pad, &out[c][NR], 4);
            CHECK(pad == 0xffffffffu);
        }
    }
}

int main(void) {
    if (!octet__kernels_simd()) fprintf(stderr, "test_gemm: no AVX2 on this CPU; reference checks only\n");
    w_stride = octet__row_bytes(OCTET_TYPE_Q8_0, MAXN) + 6; /* rows not 32-byte aligned, like real ones */
    a_stride = octet__row_bytes(OCTET_TYPE_Q8_K, MAXN) + 12; /* Q8_K blocks hold a float: 4-byte aligned */
    wq = malloc(NR * w_stride);
    aq = malloc(NT * a_stride);
    panel = aligned_alloc(64, (size_t)MAXN * 8 * 4);
    CHECK(wq && aq && panel);
    enum { NTYPES = 8 };
    const int types[NTYPES] = {OCTET_TYPE_Q8_0, OCTET_TYPE_Q4_0, OCTET_TYPE_Q5_0, OCTET_TYPE_Q4_1,
                               OCTET_TYPE_Q5_1, OCTET_TYPE_Q4_K, OCTET_TYPE_Q5_K, OCTET_TYPE_Q6_K};
    for (int t = 0; t < NTYPES; t++) {
        const int k = types[t] >= OCTET_TYPE_Q4_K;
        const int64_t lens_q[4] = {32, 288, 544, 2048}, lens_k[4] = {256, 768, 1280, 2048};
        for (int l = 0; l < 4; l++)
            for (int v = 0; v < 3; v++)
                run_type(types[t], k ? lens_k[l] : lens_q[l], v, 1000u * (uint64_t)t + 10u * (uint64_t)l + (uint64_t)v);
    }
    if (octet__kernels_simd())
        for (int t = 0; t < NTYPES; t++) {
            const int k = types[t] >= OCTET_TYPE_Q4_K;
            run_exact(types[t], k ? 256 : 32);
            run_exact(types[t], k ? 768 : 288);
        }
    const int64_t lens_f[8] = {7, 8, 37, 64, 256, 288, 500, 512};
    for (int l = 0; l < 8; l++) run_f32(lens_f[l], 7000u + (uint64_t)l);
    for (int l = 0; l < 8; l++) {
        run_f16(OCTET_TYPE_F16, lens_f[l], 8000u + (uint64_t)l);
        run_f16(OCTET_TYPE_BF16, lens_f[l], 9000u + (uint64_t)l);
        run_float_panel(OCTET_TYPE_F32, lens_f[l], 9500u + (uint64_t)l);
        run_float_panel(OCTET_TYPE_F16, lens_f[l], 9600u + (uint64_t)l);
        run_float_panel(OCTET_TYPE_BF16, lens_f[l], 9700u + (uint64_t)l);
    }
    /* dispatch follows octet_force_portable */
    octet_force_portable(1);
    CHECK(octet__gemm(OCTET_TYPE_F32) == octet__gemm_f32_f32_ref);
    CHECK(octet__gemv8(OCTET_TYPE_Q4_0) == NULL && octet__panel(OCTET_TYPE_Q4_K) == NULL);
    octet_force_portable(0);
    CHECK(octet__gemm(OCTET_TYPE_Q8_0) == NULL && octet__panel(OCTET_TYPE_Q8_1) == NULL);
    CHECK(octet__gemm(OCTET_TYPE_F16) == (octet__kernels_simd() ? octet__gemm_f16_f32_avx2 : NULL));
    free(wq);
    free(aq);
    free(panel);
    TEST_MAIN_END();
}
