/*
 * test_int_dot.c - the integer kernels of the integer-only mode: the portable references against a naive int64
 * computation written here, and the AVX2 twins against the references with exact equality (random and edge
 * inputs: weight code -128, activation codes +-127, the largest and subnormal scales, odd block counts, every
 * finite fp16 block scale with every row exponent of the contract, partial RoPE, every head size used by the models, the largest queries 23170; the attention axpy at its largest
 * weights).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/int_kernels.h"
#include "kernels/intmath.h"
#include "test.h"

static int8_t rnd8(uint64_t *r, int lo) { return (int8_t)(lo + (int)(t_rng_next(r) % (uint64_t)(128 - lo))); }

/* the block scale by its definition, in float64: floor(d * 2^e + 1/2) */
static int64_t ws_naive(uint16_t h, int e) {
    double v = floor(ldexp((double)octet__fp16_to_fp32(h), e) + 0.5);
    return fabs(v) < 0x1p40 ? (int64_t)v : v > 0 ? ((int64_t)1 << 40) : -((int64_t)1 << 40); /* out of range */
}

static uint16_t blk_h(const uint8_t *blk) { return (uint16_t)(blk[0] | blk[1] << 8); }

/* A random finite fp16 scale: mode 0 any exponent, 1 the largest magnitude, 2 subnormal or small */
static uint16_t rnd_h(uint64_t *r, int mode) {
    uint16_t sign = (t_rng_next(r) & 1) ? 0x8000 : 0;
    if (mode == 1) return sign | 0x7bff;
    if (mode == 2) return sign | (uint16_t)(t_rng_next(r) % 0x0c00);
    return sign | (uint16_t)(t_rng_next(r) % 0x7c00);
}

/* The largest e keeping every block's |ws| <= 32767 (the load-time rule), sometimes a smaller one (any e with the
 * bound is in the contract; smaller ones round more). */
static int row_e(uint64_t *r, const uint8_t *row, int nb) {
    int e = 60;
    for (int b = 0; b < nb; b++)
        while (e > -30 && llabs(ws_naive(blk_h(row + (size_t)b * OCTET_INT_BLOCK), e)) > 32767) e--;
    if (t_rng_next(r) % 3 == 0) e -= (int)(t_rng_next(r) % 24);
    return e;
}

/* A row of nb Q8_0 blocks: random / extreme (-128, 127) / sparse codes by mode */
static void fill_row(uint64_t *r, uint8_t *row, int nb, int mode) {
    for (int b = 0; b < nb; b++) {
        uint8_t *blk = row + (size_t)b * OCTET_INT_BLOCK;
        uint16_t h = rnd_h(r, mode == 1 ? 1 : (t_rng_next(r) % 4 == 0) ? 2 : 0);
        blk[0] = (uint8_t)(h & 255u), blk[1] = (uint8_t)(h >> 8);
        for (int j = 0; j < 32; j++) {
            int8_t v = rnd8(r, -128);
            if (mode == 1) v = (t_rng_next(r) & 1) ? -128 : 127;
            if (mode == 2 && (t_rng_next(r) & 3)) v = 0;
            blk[2 + j] = (uint8_t)v;
        }
    }
}

static int64_t dot_naive(const uint8_t *row, int nb, int e, const int8_t *a, const int16_t *as) {
    int64_t want = 0;
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = row + (size_t)b * OCTET_INT_BLOCK;
        int64_t s = 0;
        for (int j = 0; j < 32; j++) s += (int64_t)(int8_t)blk[2 + j] * a[b * 32 + j];
        want += s * ws_naive(blk_h(blk), e) * as[b];
    }
    return want;
}

/* Every finite fp16 scale and every exponent of the contract: the integer block scale equals floor(d 2^e + 1/2). */
static void test_block_scale(void) {
    long bad = 0, n = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if (((h >> 10) & 31) == 31) continue;
        for (int e = -30; e <= 64; e++) {
            int64_t want = ws_naive((uint16_t)h, e);
            if (llabs(want) > 32767) continue;
            n++;
            bad += octet__int_block_scale((uint16_t)h, e) != want;
        }
    }
    CHECKF(bad == 0, "%ld of %ld block scales differ from floor(d 2^e + 1/2)", bad, n);
}

static void test_q8_dot(int simd) {
    enum { MAXB = 300 };
    static uint8_t w[MAXB * OCTET_INT_BLOCK];
    static int8_t a[MAXB * 32];
    static int16_t as[MAXB];
    uint64_t rng = 11;
    int bad_ref = 0, bad_simd = 0;
    for (int trial = 0; trial < 3000; trial++) {
        int nb = 1 + (int)(t_rng_next(&rng) % MAXB);
        int mode = trial % 3; /* 0 random, 1 extreme codes and scales, 2 sparse */
        fill_row(&rng, w, nb, mode);
        for (int b = 0; b < nb; b++) {
            for (int j = 0; j < 32; j++)
                a[b * 32 + j] = mode == 1 ? ((t_rng_next(&rng) & 1) ? -127 : 127) : rnd8(&rng, -127);
            as[b] = mode == 1 ? 32767 : (int16_t)(t_rng_next(&rng) & 0x7fff);
        }
        int e = row_e(&rng, w, nb);
        int64_t want = dot_naive(w, nb, e, a, as);
        int64_t got = octet__int_dot_q8_ref(nb, w, e, a, as);
        if (got != want) bad_ref++;
        if (simd && octet__int_dot_q8_avx2(nb, w, e, a, as) != got) bad_simd++;
    }
    CHECKF(bad_ref == 0, "%d reference Q8 block dots differ from the naive sum", bad_ref);
    CHECKF(bad_simd == 0, "%d AVX2 Q8 block dots differ from the reference", bad_simd);
}

/* four tokens at once equal four single dots (random rows, extreme codes) */
static void test_q8_dot4(int simd) {
    enum { MAXB = 40 };
    static uint8_t w[MAXB * OCTET_INT_BLOCK];
    static int8_t a[4 * (MAXB * 32 + 64)];
    static int16_t as[4 * (MAXB + 2)];
    uint64_t rng = 14;
    int bad_ref = 0, bad_simd = 0;
    for (int trial = 0; trial < 2000; trial++) {
        int nb = 1 + (int)(t_rng_next(&rng) % MAXB);
        size_t a_stride = (size_t)nb * 32 + (trial % 3) * 32, as_stride = (size_t)nb + (size_t)(trial % 3);
        int ext = trial % 5 == 0;
        fill_row(&rng, w, nb, ext ? 1 : 0);
        for (size_t j = 0; j < sizeof a; j++) a[j] = ext ? ((j & 2) ? 127 : -127) : rnd8(&rng, -127);
        for (size_t b = 0; b < sizeof as / sizeof as[0]; b++) as[b] = ext ? 16384 : (int16_t)(t_rng_next(&rng) & 0x7fff);
        int e = row_e(&rng, w, nb);
        int64_t want[4], got[4], got2[4];
        for (int t = 0; t < 4; t++)
            want[t] = octet__int_dot_q8_ref(nb, w, e, a + (size_t)t * a_stride, as + (size_t)t * as_stride);
        octet__int_dot4_q8_ref(nb, w, e, a, a_stride, as, as_stride, got);
        if (simd) octet__int_dot4_q8_avx2(nb, w, e, a, a_stride, as, as_stride, got2);
        for (int t = 0; t < 4; t++) {
            if (got[t] != want[t]) bad_ref++;
            if (simd && got2[t] != want[t]) bad_simd++;
        }
    }
    CHECKF(bad_ref == 0, "%d reference four-token dots differ from single dots", bad_ref);
    CHECKF(bad_simd == 0, "%d AVX2 four-token dots differ from the reference", bad_simd);
}

static void test_score(int simd) {
    static int16_t q[512], cs[512];
    static int8_t k[512];
    uint64_t rng = 12;
    int bad_ref = 0, bad_simd = 0;
    const int hds[] = {32, 64, 80, 96, 128, 256, 512};
    for (int trial = 0; trial < 20000; trial++) {
        int hd = hds[trial % 7];
        int n_rot = (trial % 5 == 0) ? hd / 2 : hd, half = n_rot / 2;
        if (trial % 11 == 0) half = 3; /* tail-only pair loop */
        int ext = trial % 4 == 1;
        for (int j = 0; j < hd; j++) {
            q[j] = ext ? ((j & 1) ? 23170 : -23170) : (int16_t)(t_rng_next(&rng) % 46341 - 23170);
            k[j] = ext ? ((j & 2) ? 127 : -127) : rnd8(&rng, -127);
        }
        for (int i = 0; i < half; i++) {
            cs[i] = ext ? 32767 : (int16_t)(t_rng_next(&rng) % 65535 - 32767);
            cs[half + i] = ext ? -32767 : (int16_t)(t_rng_next(&rng) % 65535 - 32767);
        }
        /* naive: turn each query pair with rounded Q15 products, saturate, dot with the key */
        int64_t want = 0;
        for (int i = 0; i < half; i++) {
            int64_t qa = q[i], qb = q[half + i], c = cs[i], sn = cs[half + i];
            int64_t ra = (int64_t)floor((double)(qa * c) / 32768.0 + 0.5) - (int64_t)floor((double)(qb * sn) / 32768.0 + 0.5);
            int64_t rb = (int64_t)floor((double)(qa * sn) / 32768.0 + 0.5) + (int64_t)floor((double)(qb * c) / 32768.0 + 0.5);
            ra = ra > 32767 ? 32767 : ra < -32768 ? -32768 : ra;
            rb = rb > 32767 ? 32767 : rb < -32768 ? -32768 : rb;
            want += ra * k[i] + rb * k[half + i];
        }
        for (int j = 2 * half; j < hd; j++) want += (int64_t)q[j] * k[j];
        int64_t got = octet__int_score_ref(q, k, cs, half, hd);
        if (got != want) bad_ref++;
        if (simd && octet__int_score_avx2(q, k, cs, half, hd) != got) bad_simd++;
    }
    CHECKF(bad_ref == 0, "%d reference scores differ from the naive sum", bad_ref);
    CHECKF(bad_simd == 0, "%d AVX2 scores differ from the reference", bad_simd);
}

/* The many-key scores: the reference equals the one-key reference per key; the AVX2 kernel (eight keys reduced
 * together where half is a multiple of 16, the one-key kernel elsewhere and for the last keys) equals the
 * reference, with keys at a stride, each key's own cos/sin row, 0..41 keys, head sizes on and off the fast path,
 * partial RoPE and the extreme queries and keys. */
static void test_scores(int simd) {
    static int16_t q[256], tab[7][512];
    static int8_t k[41 * 300];
    static int64_t o1[41], o2[41];
    const int16_t *cs[41];
    const int hds[] = {64, 128, 256, 32, 80, 96, 48};
    uint64_t r = 31;
    long bad_ref = 0, bad_simd = 0;
    for (int it = 0; it < 3000; it++) {
        const int hd = hds[it % 7], n = (int)(t_rng_next(&r) % 42), ext = it % 9 == 4;
        const int half = it % 10 == 3 ? hd / 4 : hd / 2; /* partial RoPE now and then */
        const size_t stride = (size_t)hd + (size_t)(t_rng_next(&r) % 3) * 16;
        for (int j = 0; j < hd; j++) q[j] = ext ? ((j & 1) ? 23170 : -23170) : (int16_t)(t_rng_next(&r) % 46341 - 23170);
        for (size_t i = 0; i < (size_t)n * stride; i++) k[i] = ext ? ((i & 2) ? 127 : -127) : rnd8(&r, -127);
        for (int t = 0; t < 7; t++)
            for (int i = 0; i < 2 * half; i++) tab[t][i] = ext ? (i < half ? 32767 : -32767) : (int16_t)(t_rng_next(&r) % 65535 - 32767);
        for (int j = 0; j < n; j++) cs[j] = tab[t_rng_next(&r) % 7];
        octet__int_scores_ref(q, k, stride, cs, n, half, hd, o1);
        for (int j = 0; j < n; j++) bad_ref += o1[j] != octet__int_score_ref(q, k + (size_t)j * stride, cs[j], half, hd);
        if (!simd) continue;
        octet__int_scores_avx2(q, k, stride, cs, n, half, hd, o2);
        bad_simd += memcmp(o1, o2, (size_t)n * sizeof *o1) != 0;
    }
    CHECKF(bad_ref == 0, "%ld many-key scores differ from the one-key reference", bad_ref);
    CHECKF(bad_simd == 0, "%ld AVX2 many-key score rows differ from the reference", bad_simd);
}

/* The many-key scores on long rows (up to 300 keys, so every tail length after the eight-key steps) for the head
 * sizes of the fully unrolled copies (half = 16 .. 128) and the extreme queries, keys and cos/sin. */
static void test_scores_long(int simd) {
    enum { NK = 300 };
    static int16_t q[256], tab[5][256];
    static int8_t k[NK * 256];
    static int64_t o1[NK], o2[NK];
    static const int16_t *cs[NK];
    uint64_t r = 313;
    long bad = 0;
    if (!simd) return;
    for (int it = 0; it < 160; it++) {
        const int hd = 32 * (1 + it % 8), half = hd / 2, n = it < 80 ? 1 + it % 40 : 1 + (int)(t_rng_next(&r) % NK);
        const int ext = it % 5 == 2;
        for (int j = 0; j < hd; j++) q[j] = ext ? ((j & 1) ? 23170 : -23170) : (int16_t)(t_rng_next(&r) % 46341 - 23170);
        for (size_t i = 0; i < (size_t)n * (size_t)hd; i++) k[i] = ext ? ((i & 2) ? 127 : -127) : rnd8(&r, -127);
        for (int t = 0; t < 5; t++)
            for (int i = 0; i < 2 * half; i++)
                tab[t][i] = ext ? (i < half ? 32767 : -32767) : (int16_t)(t_rng_next(&r) % 65535 - 32767);
        for (int j = 0; j < n; j++) cs[j] = tab[t_rng_next(&r) % 5];
        octet__int_scores_ref(q, k, (size_t)hd, cs, n, half, hd, o1);
        octet__int_scores_avx2(q, k, (size_t)hd, cs, n, half, hd, o2);
        bad += memcmp(o1, o2, (size_t)n * sizeof *o1) != 0;
    }
    CHECKF(bad == 0, "%ld AVX2 long score rows differ from the reference", bad);
}

__extension__ typedef __int128 i128; /* GCC and Clang on 64-bit targets */

/* floor((a m + 2^(s-1)) / 2^s) through a 128-bit product: the rescale's definition for 1 <= s <= 126 */
static int64_t mulshift_wide(int64_t a, int32_t m, int s) {
    i128 v = (i128)a * m + ((i128)1 << (s - 1));
    return (int64_t)(v >> s); /* arithmetic: floor */
}

/* The score rescale: the reference against the 128-bit definition (shifts 32..100: no saturation for these
 * magnitudes), the AVX2 kernel against the reference with shifts inside and outside its [32, 62] vector range
 * (groups declined to the reference), and the vweights kernel: the reference against round half up of p vsc
 * 2^-s in 128 bits (0 beyond 62), the AVX2 one against the reference. */
static void test_attn_scale(int simd) {
    static int64_t sc[45], s1[45], s2[45];
    static int16_t ksc[45];
    static int8_t ksh[45];
    static int32_t p[45], p1[45], p2[45];
    uint64_t r = 5150;
    long bad_ref = 0, bad_simd = 0, n_out = 0;
    for (int it = 0; it < 20000; it++) {
        const int n = 1 + (int)(t_rng_next(&r) % 45);
        const int32_t m = it % 3 ? (int32_t)(t_rng_next(&r) >> 33) : INT32_MAX;
        const int wide = it % 4 == 0, base = 60 + (int)(t_rng_next(&r) % 20);
        for (int j = 0; j < n; j++) {
            const int bits = (int)(t_rng_next(&r) % 32);
            int64_t v = (int64_t)(t_rng_next(&r) >> (64 - (bits ? bits : 1)));
            if (it % 7 == 0) v = INT32_MAX;
            sc[j] = t_rng_next(&r) & 1 ? -v : v;
            ksc[j] = it % 5 == 0 ? 16384 : (int16_t)(t_rng_next(&r) % 16385);
            /* shift base - ksh: inside [32, 62] unless wide (then 20..100) */
            const int sh = wide ? 20 + (int)(t_rng_next(&r) % 81) : 32 + (int)(t_rng_next(&r) % 31);
            ksh[j] = (int8_t)(base - sh);
        }
        memcpy(s1, sc, sizeof sc);
        octet__int_qscale_ref(s1, ksc, ksh, n, m, base);
        for (int j = 0; j < n; j++, n_out++) {
            const int sh = base - ksh[j];
            if (sh >= 32) bad_ref += s1[j] != mulshift_wide(sc[j] * ksc[j], m, sh);
        }
        if (simd) {
            memcpy(s2, sc, sizeof sc);
            octet__int_qscale_avx2(s2, ksc, ksh, n, m, base);
            bad_simd += memcmp(s1, s2, (size_t)n * sizeof *s1) != 0;
        }
        /* vweights: p < 2^31, vsc <= 2^14, shifts 14..80 */
        const int vb = 100;
        for (int j = 0; j < n; j++) {
            p[j] = it % 6 == 0 ? INT32_MAX : (int32_t)(t_rng_next(&r) >> (33 + t_rng_next(&r) % 31));
            ksh[j] = (int8_t)(vb - 14 - (int)(t_rng_next(&r) % 67));
        }
        memcpy(p1, p, sizeof p);
        octet__int_vweights_ref(p1, ksc, ksh, n, vb);
        for (int j = 0; j < n; j++) {
            const int sh = vb - ksh[j];
            const int64_t want = sh > 62 ? 0 : (int64_t)(((i128)p[j] * ksc[j] + ((i128)1 << (sh - 1))) >> sh);
            bad_ref += p1[j] != want;
        }
        if (simd) {
            memcpy(p2, p, sizeof p);
            octet__int_vweights_avx2(p2, ksc, ksh, n, vb);
            bad_simd += memcmp(p1, p2, (size_t)n * sizeof *p1) != 0;
        }
    }
    CHECKF(bad_ref == 0, "%ld of %ld attention rescales differ from the 128-bit definition", bad_ref, n_out);
    CHECKF(bad_simd == 0, "%ld AVX2 attention rescale rows differ from the reference", bad_simd);
}

static void test_axpy(int simd) {
    static int32_t y0[600], y1[600], y2[600];
    static int8_t x[600];
    uint64_t rng = 13;
    int bad_ref = 0, bad_simd = 0;
    for (int trial = 0; trial < 5000; trial++) {
        int n = 1 + (int)(t_rng_next(&rng) % 600);
        int32_t w = (int32_t)(t_rng_next(&rng) % (1u << 24)) - (1 << 23);
        if (trial % 7 == 0) w = 1 << 23;
        for (int j = 0; j < n; j++) {
            x[j] = trial % 7 == 0 ? -127 : rnd8(&rng, -127);
            y0[j] = y1[j] = y2[j] = (int32_t)(t_rng_next(&rng) % (1u << 30)) - (1 << 29);
        }
        octet__int_axpy_s8_ref(y1, w, x, n);
        if (simd) octet__int_axpy_s8_avx2(y2, w, x, n);
        for (int j = 0; j < n; j++) {
            if ((int64_t)y1[j] != (int64_t)y0[j] + (int64_t)w * x[j]) bad_ref++;
            if (simd && y2[j] != y1[j]) bad_simd++;
        }
    }
    CHECKF(bad_ref == 0, "%d reference axpy results wrong", bad_ref);
    CHECKF(bad_simd == 0, "%d AVX2 axpy results differ from the reference", bad_simd);
}

/* 8-row GEMV and row panels equal the reference dot of every (row, token): random and extreme codes and scales,
 * rows not aligned (2 bytes apart from the block size), 1..12 tokens. */
static void test_q8_multirow(void) {
    enum { MAXB = 70, NT = 12 };
    static uint8_t w[8 * (MAXB * OCTET_INT_BLOCK + 2)];
    static int8_t a[NT * (MAXB * 32 + 8)];
    static int16_t as[NT * (MAXB + 3)];
    static uint8_t panel[MAXB * 288];
    static int64_t out[NT * 8];
    uint64_t rng = 21;
    int bad_gemv = 0, bad_panel = 0, bad_fused = 0, n_fused = 0, bad_pfused = 0, n_pfused = 0;
    for (int trial = 0; trial < 300; trial++) {
        int nb = 1 + (int)(t_rng_next(&rng) % MAXB), mode = trial % 3;
        size_t row_bytes = (size_t)nb * OCTET_INT_BLOCK + 2 * (size_t)(trial & 1), a_stride = (size_t)nb * 32 + 8;
        size_t as_stride = (size_t)nb + 3;
        int8_t e[8];
        for (int r = 0; r < 8; r++) {
            fill_row(&rng, w + (size_t)r * row_bytes, nb, mode);
            e[r] = (int8_t)row_e(&rng, w + (size_t)r * row_bytes, nb);
        }
        for (int c = 0; c < NT; c++)
            for (int b = 0; b < nb; b++) {
                for (int j = 0; j < 32; j++)
                    a[(size_t)c * a_stride + (size_t)b * 32 + (size_t)j] =
                        mode == 1 ? ((t_rng_next(&rng) & 1) ? -127 : 127) : rnd8(&rng, -127);
                as[(size_t)c * as_stride + (size_t)b] = mode == 1 ? 32767 : (int16_t)(t_rng_next(&rng) & 0x7fff);
            }
        int64_t want[NT][8];
        for (int c = 0; c < NT; c++)
            for (int r = 0; r < 8; r++)
                want[c][r] = octet__int_dot_q8_ref(nb, w + (size_t)r * row_bytes, e[r], a + (size_t)c * a_stride,
                                                   as + (size_t)c * as_stride);
        int emin = 127, emax = -128;
        for (int r = 0; r < 8; r++) emin = e[r] < emin ? e[r] : emin, emax = e[r] > emax ? e[r] : emax;
        for (int c = 0; c < NT; c++) {
            int64_t g[8];
            octet__int_gemv8_q8_avx2(nb, w, row_bytes, e, a + (size_t)c * a_stride, as + (size_t)c * as_stride, NULL, g);
            for (int r = 0; r < 8; r++) bad_gemv += g[r] != want[c][r];
            /* the fused rescale: base so that every shift is in [32, 62], a multiplier, a bias or none */
            if (emax - emin > 30) continue;
            const int base = 32 - emin + (int)(t_rng_next(&rng) % (uint64_t)(31 - (emax - emin)));
            const int32_t m = c % 3 ? 1082196484 : (int32_t)(t_rng_next(&rng) >> 33);
            int32_t bias[8], y[8];
            for (int r = 0; r < 8; r++)
                bias[r] = c % 4 == 1 ? (r & 1 ? INT32_MAX : -INT32_MAX) : (int32_t)(t_rng_next(&rng) >> 32);
            const int use_bias = c & 1;
            octet__int_gemv8_q8_y_avx2(nb, w, row_bytes, e, a + (size_t)c * a_stride, as + (size_t)c * as_stride,
                                       NULL, base, m, use_bias ? bias : NULL, y);
            for (int r = 0; r < 8; r++, n_fused++)
                bad_fused += y[r] != octet__int_sat32(octet__int_mulshift(want[c][r], m, base + e[r]) +
                                                      (use_bias ? bias[r] : 0));
        }
        CHECK(octet__int_panel_bytes_avx2(nb) <= sizeof panel);
        octet__int_pack8_q8_avx2(nb, panel, w, row_bytes, e, NULL);
        int nc = 1 + trial % NT;
        octet__int_panel_q8_avx2(nb, panel, a, a_stride, as, as_stride, nc, out);
        for (int c = 0; c < nc; c++)
            for (int r = 0; r < 8; r++) bad_panel += out[c * 8 + r] != want[c][r];
        /* the panel with the rescale in registers: a shift base per token so that every shift is in [32, 62] */
        if (emax - emin > 30) continue;
        int base[NT];
        int32_t bias[8], y[NT * 11];
        const int32_t m = trial % 3 ? 1082196484 : (int32_t)(t_rng_next(&rng) >> 33);
        for (int c = 0; c < nc; c++) base[c] = 32 - emin + (int)(t_rng_next(&rng) % (uint64_t)(31 - (emax - emin)));
        for (int r = 0; r < 8; r++)
            bias[r] = trial % 4 == 1 ? (r & 1 ? INT32_MAX : -INT32_MAX) : (int32_t)(t_rng_next(&rng) >> 32);
        const int use_bias = trial & 1;
        octet__int_panel_q8_y_avx2(nb, panel, a, a_stride, as, as_stride, nc, e, base, m, use_bias ? bias : NULL, y, 11);
        for (int c = 0; c < nc; c++)
            for (int r = 0; r < 8; r++, n_pfused++)
                bad_pfused += y[c * 11 + r] != octet__int_sat32(octet__int_mulshift(want[c][r], m, base[c] + e[r]) +
                                                               (use_bias ? bias[r] : 0));
    }
    CHECKF(bad_gemv == 0, "%d 8-row GEMV results differ from the reference dot", bad_gemv);
    CHECKF(bad_fused == 0 && n_fused > 10000, "%d of %d GEMV outputs rescaled in registers differ from the scalar rescale",
           bad_fused, n_fused);
    CHECKF(bad_panel == 0, "%d panel results differ from the reference dot", bad_panel);
    CHECKF(bad_pfused == 0 && n_pfused > 500, "%d of %d panel outputs rescaled in registers differ from the scalar rescale",
           bad_pfused, n_pfused);
}

/* The vector block-scale decoding of the GEMV and the panel packing, for every finite fp16 scale and every
 * exponent of the contract: rows whose only nonzero code and activation are 1, so each result is ws. One-block
 * rows take the one-block path; two-block rows (the scale in block 0, then in block 1, the other block's codes
 * zero) take the GEMV's two-block 16-bit path where every e <= 28, both halves of its pair. */
static void test_multirow_scales(void) {
    enum { RB = 2 * OCTET_INT_BLOCK };
    static uint8_t w[8 * RB];
    static int8_t a[64];
    static uint8_t panel[2 * 288];
    const int16_t as[2] = {1, 1};
    a[0] = 1, a[32] = 1;
    long bad_gemv = 0, bad_panel = 0, bad_pair = 0, n = 0;
    int8_t e[8];
    uint16_t hs[8];
    int64_t want[8];
    int k = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if (((h >> 10) & 31) == 31) continue;
        for (int ex = -30; ex <= 64; ex++) {
            int64_t v = ws_naive((uint16_t)h, ex);
            if (llabs(v) > 32767) continue;
            hs[k] = (uint16_t)h, e[k] = (int8_t)ex, want[k] = v;
            if (++k < 8) continue;
            k = 0, n += 8;
            int64_t g[8], p[8];
            memset(w, 0, sizeof w);
            for (int r = 0; r < 8; r++) {
                uint8_t *row = w + (size_t)r * OCTET_INT_BLOCK;
                row[0] = (uint8_t)(hs[r] & 255u), row[1] = (uint8_t)(hs[r] >> 8), row[2] = 1;
            }
            octet__int_gemv8_q8_avx2(1, w, OCTET_INT_BLOCK, e, a, as, NULL, g);
            octet__int_pack8_q8_avx2(1, panel, w, OCTET_INT_BLOCK, e, NULL);
            octet__int_panel_q8_avx2(1, panel, a, 32, as, 1, 1, p);
            for (int r = 0; r < 8; r++) bad_gemv += g[r] != want[r], bad_panel += p[r] != want[r];
            for (int blk = 0; blk < 2; blk++) {
                memset(w, 0, sizeof w);
                for (int r = 0; r < 8; r++) {
                    uint8_t *row = w + (size_t)r * RB;
                    row[blk * OCTET_INT_BLOCK] = (uint8_t)(hs[r] & 255u);
                    row[blk * OCTET_INT_BLOCK + 1] = (uint8_t)(hs[r] >> 8);
                    row[blk * OCTET_INT_BLOCK + 2] = 1;
                }
                octet__int_gemv8_q8_avx2(2, w, RB, e, a, as, NULL, g);
                for (int r = 0; r < 8; r++) bad_pair += g[r] != want[r];
            }
        }
    }
    CHECKF(bad_gemv == 0, "%ld of %ld GEMV block scales differ from floor(d 2^e + 1/2)", bad_gemv, n);
    CHECKF(bad_panel == 0, "%ld of %ld panel block scales differ from floor(d 2^e + 1/2)", bad_panel, n);
    CHECKF(bad_pair == 0, "%ld of %ld two-block GEMV scales differ from floor(d 2^e + 1/2)", bad_pair, 2 * n);
}

/* The 8-output rescale against octet__int_sat32(octet__int_mulshift(acc, m, s) + bias): accumulators of every
 * magnitude up to 2^62 - 1 (both signs, exact halves), every s in [32, 62], with and without a bias (including
 * the int32 extremes, so the clamp is reached); an s outside [32, 62] makes it decline. */
static void test_rescale8(void) {
    uint64_t r = 4242;
    long bad = 0, n = 0;
    for (int it = 0; it < 200000; it++) {
        int64_t acc[8];
        int8_t e[8];
        int32_t bias[8], out[8];
        const int base = 37 - (int)(t_rng_next(&r) % 40); /* 37 - asa */
        for (int k = 0; k < 8; k++) {
            const int bits = (int)(t_rng_next(&r) % 63);
            int64_t v = (int64_t)(t_rng_next(&r) >> (64 - (bits ? bits : 1)));
            if (it % 7 == 0) v = (INT64_C(1) << 62) - 1;
            if (it % 11 == 0) v = (int64_t)1 << (t_rng_next(&r) % 62); /* exact powers: rounding halves */
            acc[k] = (t_rng_next(&r) & 1) ? -v : v;
            const int s = 32 + (int)(t_rng_next(&r) % 31);
            e[k] = (int8_t)(s - base);
            bias[k] = it % 5 == 0 ? (int32_t)(t_rng_next(&r) | 1) : (int32_t)(t_rng_next(&r) % 2001) - 1000;
            if (it % 13 == 0) bias[k] = k & 1 ? INT32_MAX : -INT32_MAX;
        }
        const int32_t m = it % 3 ? 1082196484 : (int32_t)(t_rng_next(&r) >> 33);
        const int use_bias = it & 1;
        if (!octet__int_rescale8_avx2(acc, e, base, m, use_bias ? bias : NULL, out)) {
            bad++;
            continue;
        }
        for (int k = 0; k < 8; k++, n++) {
            const int32_t want =
                octet__int_sat32(octet__int_mulshift(acc[k], m, base + e[k]) + (use_bias ? bias[k] : 0));
            bad += out[k] != want;
        }
    }
    CHECKF(bad == 0, "rescale8: %ld of %ld outputs differ from the scalar rescale", bad, n);
    int64_t acc[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int8_t e[8] = {0, 0, 0, 0, 0, 0, 0, 31};
    int32_t out[8] = {7, 7, 7, 7, 7, 7, 7, 7};
    CHECK(octet__int_rescale8_avx2(acc, e, 32, 5, NULL, out) == 0 && out[0] == 7); /* s = 63: declined */
    e[7] = -1;
    CHECK(octet__int_rescale8_avx2(acc, e, 32, 5, NULL, out) == 0); /* s = 31: declined */
}

/* The activation-codes kernel against its reference: x over the whole int32 range (INT32_MIN, 0, +-1 included),
 * r below 2^30, every shift 1..62, lengths with a tail after the last 8; and the reference against the
 * definition, round half away from zero of x r 2^-s clamped to +-127, written here with the rounding bit. */
static void test_codes(int simd) {
    uint64_t r = 777;
    long bad_ref = 0, bad_simd = 0;
    int32_t x[45];
    int8_t q1[45], q2[45];
    for (int it = 0; it < 20000; it++) {
        const int n = 1 + (int)(t_rng_next(&r) % 45), s = 1 + it % 62;
        const int64_t rr = 1 + (int64_t)(t_rng_next(&r) >> 34);
        for (int j = 0; j < n; j++) {
            const int bits = (int)(t_rng_next(&r) % 32);
            int32_t v = (int32_t)(t_rng_next(&r) >> (64 - (bits ? bits : 1)));
            x[j] = t_rng_next(&r) & 1 ? -v : v;
        }
        if (it % 9 == 0) x[0] = INT32_MIN, x[n - 1] = INT32_MAX;
        if (it % 10 == 0) x[n / 2] = 0;
        octet__int_codes_ref(x, n, rr, s, q1);
        for (int j = 0; j < n; j++) {
            const int64_t v = (int64_t)x[j] * rr, mag = v < 0 ? -v : v;
            int64_t c = (mag >> s) + ((mag >> (s - 1)) & 1); /* half away from zero on the magnitude */
            if (c > 127) c = 127;
            bad_ref += q1[j] != (int8_t)(v < 0 ? -c : c);
        }
        if (!simd) continue;
        octet__int_codes_avx2(x, n, rr, s, q2);
        bad_simd += memcmp(q1, q2, (size_t)n) != 0;
    }
    CHECKF(bad_ref == 0, "%ld reference codes differ from the definition", bad_ref);
    CHECKF(bad_simd == 0, "%ld AVX2 code rows differ from the reference", bad_simd);
}

/* The attention's weighted value sum: the AVX2 kernel (in registers up to head size 64) and the reference equal
 * zeroing and one reference axpy per key, for head sizes on and off the register path, 1..60 keys, weights up
 * to 2^23 with their sum within 2^23 + n (the contract) and values +-127 (the largest sums). */
static void test_wsum(int simd) {
    static int8_t v[60 * 140];
    static int32_t w[60], o1[136], o2[136], o3[136];
    const int hds[] = {8, 32, 48, 64, 80, 128, 7};
    uint64_t r = 99;
    long bad = 0;
    for (int it = 0; it < 700; it++) {
        const int hd = hds[it % 7], n = 1 + (int)(t_rng_next(&r) % 60);
        const size_t stride = (size_t)hd + 5;
        int64_t left = (INT64_C(1) << 23) + n;
        for (int j = 0; j < n; j++) {
            w[j] = (int32_t)(t_rng_next(&r) % (uint64_t)(left / 2 + 1));
            left -= w[j];
        }
        for (size_t i = 0; i < (size_t)n * stride; i++) v[i] = it % 5 == 0 ? 127 : rnd8(&r, -127);
        memset(o3, 0, sizeof o3);
        for (int j = 0; j < n; j++) octet__int_axpy_s8_ref(o3, w[j], v + (size_t)j * stride, hd);
        octet__int_wsum_s8_ref(o1, w, v, stride, n, hd);
        bad += memcmp(o1, o3, (size_t)hd * sizeof *o1) != 0;
        if (!simd) continue;
        octet__int_wsum_s8_avx2(o2, w, v, stride, n, hd);
        bad += memcmp(o2, o3, (size_t)hd * sizeof *o2) != 0;
    }
    CHECKF(bad == 0, "%ld weighted value sums differ from the per-key axpy", bad);
}

/* The weighted sum at the edges of the AVX2 kernel's contract (two keys per madd, weights split at bit 15, packed
 * in chunks of 128 keys): head sizes 64, 128 and odd ones (every remainder mod 8 and mod 32), 1..40 keys and long
 * rows up to 700 keys (several chunks, odd counts), values -128 and +-127, weights near -2^30 and 2^30 - 1 with
 * values that keep every sum in int32, weights 2^23 and 2^15 +- 1 (the split's edges), zero weights. */
static void test_wsum_edges(int simd) {
    enum { NK = 700, HD = 136 };
    static int8_t v[NK * (HD + 3)];
    static int32_t w[NK], o1[HD], o2[HD], o3[HD];
    const int hds[] = {64, 128, 7, 13, 72, 100, 24, 40, 1, 136};
    uint64_t r = 4711;
    long bad_ref = 0, bad_simd = 0;
    for (int it = 0; it < 1200; it++) {
        const int hd = hds[it % 10], mode = (it / 10) % 6;
        const int n = it < 600 ? 1 + (it / 60) * 4 + it % 4 : 1 + (int)(t_rng_next(&r) % NK);
        const size_t stride = (size_t)hd + (size_t)(it % 3);
        for (size_t i = 0; i < (size_t)n * stride; i++) {
            int8_t x = rnd8(&r, -128);
            if (mode == 1) x = (int8_t)((i & 1) ? 127 : -128);
            if (mode == 2) x = (int8_t)((i / stride / 2) & 1 ? -1 : 1); /* keys +1, +1, -1, -1, ...: see below */
            v[i] = x;
        }
        int64_t left = (INT64_C(1) << 23) + n;
        for (int j = 0; j < n; j++) {
            int32_t x;
            switch (mode) {
            case 0: /* the attention's: nonnegative, summing to at most 2^23 + n */
                x = (int32_t)(t_rng_next(&r) % (uint64_t)(left / 2 + 1));
                left -= x;
                break;
            case 1: /* the split's edges with the largest values: |sum| <= (2^23 + 39 (2^15 + 1)) 128 < 2^31 */
                x = j == 0 ? 1 << 23 : j < 40 ? (int32_t)(t_rng_next(&r) % 3) - 1 + (1 << 15) : 0;
                if (j & 1) x = -x;
                break;
            case 2: /* near the ends of [-2^30, 2^30), weights +, -, +, - on keys +1, +1, -1, -1: the products
                     * alternate in sign, so every partial sum stays within 2^30 */
                x = j & 1 ? -(1 << 30) + (int32_t)(t_rng_next(&r) % 4) : (1 << 30) - 1 - (int32_t)(t_rng_next(&r) % 4);
                break;
            case 3: x = 0; break;
            default: /* small signed weights */
                x = (int32_t)(t_rng_next(&r) % 200001) - 100000;
                break;
            }
            w[j] = x;
        }
        if (mode == 2 && (n & 1)) w[n - 1] = (int32_t)(t_rng_next(&r) % 1000);
        memset(o3, 0, sizeof o3);
        for (int j = 0; j < n; j++) octet__int_axpy_s8_ref(o3, w[j], v + (size_t)j * stride, hd);
        octet__int_wsum_s8_ref(o1, w, v, stride, n, hd);
        bad_ref += memcmp(o1, o3, (size_t)hd * sizeof *o1) != 0;
        if (!simd) continue;
        for (int d = 0; d < HD; d++) o2[d] = 0x5a5a5a5a; /* the kernel writes every output */
        octet__int_wsum_s8_avx2(o2, w, v, stride, n, hd);
        bad_simd += memcmp(o2, o1, (size_t)hd * sizeof *o2) != 0;
    }
    CHECKF(bad_ref == 0, "%ld reference weighted sums differ from the per-key axpy", bad_ref);
    CHECKF(bad_simd == 0, "%ld AVX2 weighted sums at the contract's edges differ from the reference", bad_simd);
}

/* The attention output rescale: the reference against the 128-bit definition clamped to +-(2^31 - 1) for shifts 1..62
 * (the scalar form's range without its pre-shift), and the AVX2 kernel against the reference for every shift from
 * -30 to 126 (vector lanes for 32..62, the reference elsewhere), accumulators over all of int32 (INT32_MIN, INT32_MAX,
 * 0, exact halves), multipliers 0, 1, 2^31 - 1 and random, 1..45 outputs. */
static void test_rescale32(int simd) {
    static int32_t acc[45], o1[45], o2[45];
    uint64_t r = 8080;
    long bad_ref = 0, bad_simd = 0, n_vec = 0;
    for (int it = 0; it < 40000; it++) {
        const int n = 1 + (int)(t_rng_next(&r) % 45), s = -30 + it % 157;
        int32_t m = (int32_t)(t_rng_next(&r) >> 33);
        if (it % 7 == 0) m = INT32_MAX;
        if (it % 11 == 0) m = 1082196484; /* the attention's 2^37 / 127 */
        if (it % 13 == 0) m = (int32_t)(t_rng_next(&r) % 2);
        for (int j = 0; j < n; j++) {
            const int bits = (int)(t_rng_next(&r) % 33);
            int64_t x = bits ? (int64_t)(t_rng_next(&r) >> (64 - bits)) : 0;
            if (x > INT32_MAX) x = INT32_MAX;
            if (it % 17 == 0) x = (int64_t)1 << (t_rng_next(&r) % 31); /* exact halves after the multiply by 1 */
            acc[j] = (int32_t)(t_rng_next(&r) & 1 ? -x : x);
        }
        if (it % 5 == 0) acc[0] = INT32_MIN, acc[n - 1] = INT32_MAX;
        octet__int_rescale32_ref(o1, acc, n, m, s);
        if (s >= 1 && s <= 62)
            for (int j = 0; j < n; j++) bad_ref += o1[j] != octet__int_sat32(mulshift_wide(acc[j], m, s));
        if (!simd) continue;
        octet__int_rescale32_avx2(o2, acc, n, m, s);
        bad_simd += memcmp(o1, o2, (size_t)n * sizeof *o1) != 0;
        n_vec += s >= 32 && s <= 62 && n >= 8;
    }
    CHECKF(bad_ref == 0, "%ld reference output rescales differ from the 128-bit definition", bad_ref);
    CHECKF(bad_simd == 0 && (!simd || n_vec > 1000), "%ld AVX2 output rescale rows differ from the reference", bad_simd);
}

/* The query head to int16: the reference against the definition written here (the halves permutation, then
 * max, shift, one correction, round half away from zero), and the AVX2 kernel against the reference (out and
 * shift): both layouts, full and partial RoPE, odd halves and head sizes (vector and scalar tails), magnitudes of
 * every bit length (all zero, INT32_MIN, INT32_MAX, maxima that round above 23170 and need the correction). */
static int64_t round_ref(int64_t a, int s) { /* half away from zero, a left shift for s <= 0 */
    if (s <= 0) return a * ((int64_t)1 << -s);
    const int64_t mag = a < 0 ? -a : a, q = (mag + ((int64_t)1 << (s - 1))) >> s;
    return a < 0 ? -q : q;
}

static void test_qhead(int simd) {
    static int32_t v[512], h[512];
    static int16_t o1[512], o2[512], want[512];
    const int hds[] = {64, 128, 80, 13, 7, 32, 96, 256, 512, 48};
    uint64_t r = 2323;
    long bad_ref = 0, bad_simd = 0;
    for (int it = 0; it < 20000; it++) {
        const int hd = hds[it % 10], pairs = (it / 10) & 1;
        int half = hd / 2;
        if (it % 7 == 3) half = hd / 4;
        if (it % 11 == 5) half = (int)(t_rng_next(&r) % (uint64_t)(hd / 2 + 1));
        const int bits = (int)(t_rng_next(&r) % 33);
        for (int j = 0; j < hd; j++) {
            int64_t x = bits ? (int64_t)(t_rng_next(&r) >> (64 - bits)) : 0;
            if (x > INT32_MAX) x = INT32_MAX;
            v[j] = (int32_t)(t_rng_next(&r) & 1 ? -x : x);
        }
        if (it % 13 == 0) v[t_rng_next(&r) % (uint64_t)hd] = INT32_MIN;
        if (it % 17 == 0) v[t_rng_next(&r) % (uint64_t)hd] = INT32_MAX;
        if (it % 19 == 0) { /* a maximum that rounds to above 23170 at the first shift: 23171..32767 times 2^k */
            const int k = (int)(t_rng_next(&r) % 17);
            v[t_rng_next(&r) % (uint64_t)hd] = (int32_t)((23171 + (int64_t)(t_rng_next(&r) % 9597)) << k) * (it & 1 ? -1 : 1);
        }
        /* the definition */
        for (int i = 0; i < hd; i++) h[i] = v[i];
        if (pairs)
            for (int i = 0; i < half; i++) h[i] = v[2 * i], h[half + i] = v[2 * i + 1];
        int64_t qmax = 0;
        for (int j = 0; j < hd; j++) qmax = llabs((int64_t)h[j]) > qmax ? llabs((int64_t)h[j]) : qmax;
        int sh = -15; /* bit length - 15, then one more if the rounded maximum exceeds 23170 */
        while (qmax >> (sh + 15)) sh++;
        if (round_ref(qmax, sh) > 23170) sh++;
        for (int j = 0; j < hd; j++) want[j] = (int16_t)round_ref(h[j], sh);
        const int s1 = octet__int_qhead_ref(v, hd, half, pairs, o1);
        bad_ref += s1 != sh || memcmp(o1, want, (size_t)hd * sizeof *o1) != 0;
        if (!simd) continue;
        const int s2 = octet__int_qhead_avx2(v, hd, half, pairs, o2);
        bad_simd += s2 != s1 || memcmp(o1, o2, (size_t)hd * sizeof *o1) != 0;
    }
    CHECKF(bad_ref == 0, "%ld reference query heads differ from the definition", bad_ref);
    CHECKF(bad_simd == 0, "%ld AVX2 query heads differ from the reference", bad_simd);
}

int main(void) {
    const octet__cpu *c = octet__cpu_features();
    int simd = c->avx2 && c->fma && c->f16c;
    if (!simd) printf("no AVX2: only the reference kernels are checked\n");
    test_block_scale();
    if (simd) test_rescale8();
    test_codes(simd);
    test_wsum(simd);
    test_wsum_edges(simd);
    test_rescale32(simd);
    test_qhead(simd);
    test_q8_dot(simd);
    test_q8_dot4(simd);
    test_score(simd);
    test_scores(simd);
    test_scores_long(simd);
    test_attn_scale(simd);
    test_axpy(simd);
    if (simd) test_q8_multirow();
    if (simd) test_multirow_scales();
    TEST_MAIN_END();
}
