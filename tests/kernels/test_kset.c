/*
 * test_kset.c - every kernel set this CPU can run against the ref set, entry by entry, with memcmp / ==.
 *
 * The ref set's kernels are the specification (src/kernels/ref/); a set may only be faster, never different. For
 * each usable set (octet__kset_at) this program feeds the same inputs to the set's entry and to the ref set's
 * and requires identical bytes: conversions, activation quantizers and dots of every weight type; the F32 tile,
 * 8-row GEMV and row panels where the set has them (against the ref dot of each row and token); the float helpers;
 * and every integer-mode kernel. A set added later (AVX-512, NEON, ...) is covered without changes here.
 * Run with an argument NAME to test only that set.
 */
#include <math.h>

#include "core/core.h"
#include "kernels/intmath.h"
#include "kernels/kernels_impl.h"
#include "kernels/kset.h"
#include "test.h"

static uint64_t rng = 20261207;

static uint32_t r32(void) { return (uint32_t)t_rng_next(&rng); }
/* uniform integer in [lo, hi] */
static int64_t rint_in(int64_t lo, int64_t hi) { return lo + (int64_t)(t_rng_next(&rng) % (uint64_t)(hi - lo + 1)); }

/* n floats with a row-dependent scale and a few outliers */
static void rand_floats(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) {
        x[i] = t_rng_f(&rng) * scale;
        if (r32() % 61 == 0) x[i] *= 40.0f;
        if (r32() % 97 == 0) x[i] = 0.0f;
    }
}

static const int WTYPES[] = {OCTET_TYPE_F32,  OCTET_TYPE_F16,  OCTET_TYPE_BF16, OCTET_TYPE_Q4_0, OCTET_TYPE_Q4_1,
                             OCTET_TYPE_Q5_0, OCTET_TYPE_Q5_1, OCTET_TYPE_Q8_0, OCTET_TYPE_Q4_K, OCTET_TYPE_Q5_K,
                             OCTET_TYPE_Q6_K};
#define N_WTYPES (int)(sizeof WTYPES / sizeof WTYPES[0])
#define MAXN 1024
#define MAXTOK 9

/* per-token aux of Q8_0 activations, as the forward pass forms it (kernels/gemm.h) */
static void make_aux(const uint8_t *a, size_t a_stride, int nc, int64_t n, octet__q8_aux *aux, size_t aux_stride) {
    for (int c = 0; c < nc; c++) {
        const block_q8_0 *row = (const block_q8_0 *)(const void *)(a + (size_t)c * a_stride);
        for (int64_t b = 0; b < n / 32; b++) {
            int32_t sum = 0;
            for (int j = 0; j < 32; j++) sum += row[b].qs[j];
            aux[(size_t)c * aux_stride + (size_t)b].sum8 = 8 * sum;
            aux[(size_t)c * aux_stride + (size_t)b].d = octet__fp16_to_fp32(row[b].d);
        }
    }
}

static void test_types(const octet__kset *ref, const octet__kset *ks) {
    static float x[8][MAXN], act[MAXTOK][MAXN], y0[MAXN], y1[MAXN];
    static uint8_t w[8 * MAXN * 4], a0[MAXTOK * MAXN * 4 + 64], a1[MAXTOK * MAXN * 4 + 64];
    static uint8_t panel[1 << 20];
    static octet__q8_aux aux[MAXTOK * MAXN / 32];
    const int64_t sizes[] = {256, 512, 768, 1024};
    for (int ti = 0; ti < N_WTYPES; ti++) {
        const int type = WTYPES[ti];
        const octet__type_traits *tr = &ref->types[type], *ts = &ks->types[type];
        const int vdt = tr->vec_dot_type;
        CHECKF(ts->vec_dot_type == vdt && ts->block_size == tr->block_size, "%s %s: geometry", ks->name, tr->name);
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            const int64_t n = sizes[si];
            const size_t rb = octet__row_bytes(type, n), ab = octet__row_bytes(vdt, n);
            for (int r = 0; r < 8; r++) {
                rand_floats(x[r], n, (float)(r + 1) * 0.3f);
                tr->from_float(x[r], w + (size_t)r * rb, n);
            }
            /* a file's Q8_0 codes may be -128, which no quantizer here writes: put some in (and some 127s) */
            if (type == OCTET_TYPE_Q8_0)
                for (int r = 0; r < 8; r++)
                    for (int64_t b = 0; b < n / 32; b++) {
                        block_q8_0 *blk = (block_q8_0 *)(void *)(w + (size_t)r * rb) + b;
                        for (int k = 0; k < 32; k++)
                            if (r32() % 7 == 0) blk->qs[k] = r32() % 3 ? -128 : 127;
                    }
            /* conversions of the weights */
            tr->to_float(w, y0, n);
            ts->to_float(w, y1, n);
            CHECKF(memcmp(y0, y1, (size_t)n * sizeof(float)) == 0, "%s %s to_float n %lld", ks->name, tr->name,
                   (long long)n);
            /* activations: the set's quantizer must give the ref's bytes */
            for (int c = 0; c < MAXTOK; c++) {
                rand_floats(act[c], n, c == 3 ? 1e-3f : 2.0f);
                ref->types[vdt].from_float(act[c], a0 + (size_t)c * ab, n);
                ks->types[vdt].from_float(act[c], a1 + (size_t)c * ab, n);
            }
            CHECKF(memcmp(a0, a1, (size_t)MAXTOK * ab) == 0, "%s %s activation quantizer", ks->name,
                   ref->types[vdt].name);
            /* the reference dots */
            float want[MAXTOK][8], got;
            for (int c = 0; c < MAXTOK; c++)
                for (int r = 0; r < 8; r++) tr->vec_dot(n, &want[c][r], w + (size_t)r * rb, a0 + (size_t)c * ab);
            for (int c = 0; c < MAXTOK; c++)
                for (int r = 0; r < 8; r++) {
                    ts->vec_dot(n, &got, w + (size_t)r * rb, a0 + (size_t)c * ab);
                    CHECKF(memcmp(&got, &want[c][r], 4) == 0, "%s %s dot n %lld r %d c %d: %.9g != %.9g", ks->name,
                           tr->name, (long long)n, r, c, (double)got, (double)want[c][r]);
                }
            if (vdt == OCTET_TYPE_Q8_0) make_aux(a0, ab, MAXTOK, n, aux, (size_t)n / 32);
            /* F32 tile: one row against up to OCTET__GEMM_NC tokens */
            if (ks->gemm[type])
                for (int nc = 1; nc <= OCTET__GEMM_NC; nc++) {
                    float s[OCTET__GEMM_NC];
                    ks->gemm[type](n, s, w, a0, ab, nc);
                    for (int c = 0; c < nc; c++)
                        CHECKF(memcmp(&s[c], &want[c][0], 4) == 0, "%s %s tile nc %d c %d", ks->name, tr->name, nc, c);
                }
            /* 8-row GEMV, with and without the activation aux */
            if (ks->gemv8[type])
                for (int nc = 1; nc <= OCTET__GEMV_NC; nc++)
                    for (int ua = 0; ua < 2; ua++) {
                        float s[8 * OCTET__GEMV_NC];
                        ks->gemv8[type](n, s, w, rb, NULL, a0, ab, nc, ua && vdt == OCTET_TYPE_Q8_0 ? aux : NULL,
                                        (size_t)n / 32);
                        for (int c = 0; c < nc; c++)
                            for (int r = 0; r < 8; r++)
                                CHECKF(memcmp(&s[c * 8 + r], &want[c][r], 4) == 0, "%s %s gemv8 nc %d r %d c %d",
                                       ks->name, tr->name, nc, r, c);
                    }
            /* row panels */
            if (ks->panel[type].pack) {
                const octet__panel_kernels *pk = &ks->panel[type];
                CHECK(pk->bytes(n) <= sizeof panel);
                pk->pack(n, panel, w, rb, NULL);
                for (int nc = 1; nc <= MAXTOK; nc++)
                    for (int ua = 0; ua < 2; ua++) { /* with and without the activation aux */
                        float s[MAXTOK * 8];
                        pk->gemm(n, s, 8, panel, a0, ab, nc, ua && vdt == OCTET_TYPE_Q8_0 ? aux : NULL,
                                 (size_t)n / 32);
                        for (int c = 0; c < nc; c++)
                            for (int r = 0; r < 8; r++)
                                CHECKF(memcmp(&s[c * 8 + r], &want[c][r], 4) == 0, "%s %s panel nc %d r %d c %d aux %d",
                                       ks->name, tr->name, nc, r, c, ua);
                    }
            }
        }
    }
}

/* load-time layouts: 16 rows packed, every token against the ref dot of each row */
static void test_repack(const octet__kset *ref, const octet__kset *ks) {
    static float x[MAXN], act[MAXN];
    static uint8_t w[16 * MAXN * 4], a[MAXTOK * MAXN * 4], group[16 * MAXN * 4 + 4096], group_ref[16 * MAXN * 4 + 4096];
    static octet__q8_aux aux[MAXTOK * MAXN / 32];
    static float s[MAXTOK * 16];
    for (int type = 0; type < OCTET_TYPE_COUNT; type++) {
        const octet__repack_kernels *rk = &ks->repack[type];
        if (!rk->pack) continue;
        const octet__type_traits *tr = &ref->types[type];
        const int vdt = tr->vec_dot_type;
        for (int64_t n = 256; n <= MAXN; n += 768) {
            const size_t rb = octet__row_bytes(type, n), ab = octet__row_bytes(vdt, n);
            for (int r = 0; r < 16; r++) {
                rand_floats(x, n, 0.1f + 0.2f * (float)r);
                tr->from_float(x, w + (size_t)r * rb, n);
            }
            for (int c = 0; c < MAXTOK; c++) {
                rand_floats(act, n, 1.0f + (float)c);
                ref->types[vdt].from_float(act, a + (size_t)c * ab, n);
            }
            if (vdt == OCTET_TYPE_Q8_0) make_aux(a, ab, MAXTOK, n, aux, (size_t)n / 32);
            CHECK(rk->group_bytes(n) <= sizeof group);
            rk->pack(n, group, w, rb);
            /* the set's packer writes the layout's bytes (repack.h), as its portable packer does */
            void (*ref_pack)(int64_t, void *, const void *, size_t) =
                type == OCTET_TYPE_Q8_0   ? octet__pack_q8_0x16_ref
                : type == OCTET_TYPE_Q4_0 ? octet__pack_q4_0x16_ref
                : type == OCTET_TYPE_Q4_1 ? octet__pack_q4_1x16_ref
                : type == OCTET_TYPE_Q5_0 ? octet__pack_q5_0x16_ref
                : type == OCTET_TYPE_Q5_1 ? octet__pack_q5_1x16_ref
                : type == OCTET_TYPE_Q4_K ? octet__pack_q4_Kx16_ref
                : type == OCTET_TYPE_Q5_K ? octet__pack_q5_Kx16_ref
                : type == OCTET_TYPE_Q6_K ? octet__pack_q6_Kx16_ref
                                          : NULL;
            CHECKF(ref_pack != NULL, "%s %s: a layout without a portable packer", ks->name, tr->name);
            if (ref_pack) {
                ref_pack(n, group_ref, w, rb);
                CHECKF(memcmp(group, group_ref, rk->group_bytes(n)) == 0, "%s %s packer n %lld", ks->name, tr->name,
                       (long long)n);
            }
            /* tiles of every size the kernels have (1..8 tokens and beyond); nc 2 without aux */
            for (int nc = 1; nc <= MAXTOK; nc += nc < 9 ? 1 : 4) {
                const int use_aux = vdt == OCTET_TYPE_Q8_0 && nc != 2;
                rk->gemm(n, s, 16, group, NULL, a, ab, nc, use_aux ? aux : NULL, (size_t)n / 32);
                for (int c = 0; c < nc; c++)
                    for (int r = 0; r < 16; r++) {
                        float want;
                        tr->vec_dot(n, &want, w + (size_t)r * rb, a + (size_t)c * ab);
                        CHECKF(memcmp(&want, &s[c * 16 + r], 4) == 0, "%s %s repacked n %lld nc %d r %d c %d",
                               ks->name, tr->name, (long long)n, nc, r, c);
                    }
            }
        }
    }
}

static void test_float_helpers(const octet__kset *ref, const octet__kset *ks) {
    static float q[512], k[64 * 520], p[64], o0[520], o1[520], e0[700], e1[700];
    const int64_t hds[] = {8, 32, 64, 72, 128, 131};
    for (size_t hi = 0; hi < sizeof hds / sizeof hds[0]; hi++) {
        const int64_t hd = hds[hi];
        const size_t stride = (size_t)hd + 8;
        rand_floats(q, hd, 3.0f);
        rand_floats(k, 64 * (int64_t)stride, 2.0f);
        for (int j = 0; j < 64; j++) p[j] = fabsf(t_rng_f(&rng));
        const float a = ref->f.dot_f32(q, k, hd), b = ks->f.dot_f32(q, k, hd);
        CHECKF(memcmp(&a, &b, 4) == 0, "%s fdot hd %lld", ks->name, (long long)hd);
        for (int nk = 63; nk <= 64; nk++) { /* an odd and an even key count */
            ref->f.scores_f32(o0, q, k, stride, nk, hd, 0.125f);
            ks->f.scores_f32(o1, q, k, stride, nk, hd, 0.125f);
            CHECKF(memcmp(o0, o1, (size_t)nk * 4) == 0, "%s scores hd %lld keys %d", ks->name, (long long)hd, nk);
        }
        ref->f.wsum_f32(o0, p, 0.03f, k, stride, 64, hd);
        ks->f.wsum_f32(o1, p, 0.03f, k, stride, 64, hd);
        CHECKF(memcmp(o0, o1, (size_t)hd * 4) == 0, "%s wsum hd %lld", ks->name, (long long)hd);
        memcpy(o0, k, (size_t)hd * 4), memcpy(o1, k, (size_t)hd * 4);
        ref->f.axpy_f32(o0, 0.7f, q, hd), ks->f.axpy_f32(o1, 0.7f, q, hd);
        ref->f.scale_f32(o0, -1.3f, hd), ks->f.scale_f32(o1, -1.3f, hd);
        CHECKF(memcmp(o0, o1, (size_t)hd * 4) == 0, "%s axpy/scale hd %lld", ks->name, (long long)hd);
    }
    for (int i = 0; i < 700; i++) e0[i] = t_rng_f(&rng) * 120.0f;
    e0[5] = -INFINITY, e0[6] = NAN, e0[7] = 88.5f;
    ref->f.exp_f32(e1, e0, 700, 3.0f, 0.9f);
    float e2[700];
    ks->f.exp_f32(e2, e0, 700, 3.0f, 0.9f);
    CHECKF(memcmp(e1, e2, sizeof e2) == 0, "%s exp", ks->name);
}

/* A Q8_0 weight row of nb blocks with fp16 scales of magnitude ~2^-k and the largest exponent e with |ws| <= 32767. */
static int int_row(uint8_t *row, int nb) {
    double dmax = 0;
    const int k = (int)rint_in(4, 14);
    for (int b = 0; b < nb; b++) {
        const float d = ldexpf(0.5f + 0.5f * fabsf(t_rng_f(&rng)), -k) * (r32() & 1 ? 1.0f : -1.0f);
        const uint16_t h = octet__fp32_to_fp16(d);
        row[b * 34] = (uint8_t)(h & 255), row[b * 34 + 1] = (uint8_t)(h >> 8);
        const double dd = fabs((double)octet__fp16_to_fp32(h));
        dmax = dd > dmax ? dd : dmax;
        for (int j = 0; j < 32; j++) row[b * 34 + 2 + j] = (uint8_t)(r32() % 7 == 0 ? 0x80 : r32());
    }
    int e = 0;
    while (dmax * ldexp(1.0, e + 1) + 0.5 < 32767.0 && e < 40) e++;
    return e;
}

static void test_int(const octet__ikernel_table *R, const octet__ikernel_table *K, const char *name) {
    enum { NB = 24, N = NB * 32, NT = 9 };
    static uint8_t w[8 * NB * 34];
    static int8_t a[NT * N];
    static int16_t as[NT * NB];
    static uint8_t pan0[1 << 16], pan1[1 << 16];
    int8_t e[8];
    for (int r = 0; r < 8; r++) e[r] = (int8_t)int_row(w + (size_t)r * NB * 34, NB);
    for (int i = 0; i < NT * N; i++) a[i] = (int8_t)rint_in(-127, 127);
    for (int i = 0; i < NT * NB; i++) as[i] = (int16_t)rint_in(1, 16384);
    const size_t rb = NB * 34;
    for (int r = 0; r < 8; r++) {
        CHECKF(R->dot(NB, w + r * rb, e[r], a, as) == K->dot(NB, w + r * rb, e[r], a, as), "%s int dot", name);
        int64_t o0[4], o1[4];
        R->dot4(NB, w + r * rb, e[r], a, N, as, NB, o0);
        K->dot4(NB, w + r * rb, e[r], a, N, as, NB, o1);
        CHECKF(memcmp(o0, o1, sizeof o0) == 0, "%s int dot4", name);
    }
    /* multi-row kernels: against the ref dot of each row and token */
    const int32_t m = 1082196484;
    int64_t want[NT][8];
    for (int c = 0; c < NT; c++)
        for (int r = 0; r < 8; r++) want[c][r] = R->dot(NB, w + r * rb, e[r], a + c * N, as + c * NB);
    int32_t bias[8];
    for (int r = 0; r < 8; r++) bias[r] = (int32_t)rint_in(-100000, 100000);
    if (K->gemv8) {
        for (int c = 0; c < NT; c++) {
            int64_t out[8];
            K->gemv8(NB, w, rb, e, a + c * N, as + c * NB, NULL, out);
            CHECKF(memcmp(out, want[c], sizeof out) == 0, "%s int gemv8 c %d", name, c);
            int32_t y0[8], y1[8];
            const int base = 32 - (int)rint_in(-20, 0) - e[0] + 0;
            int ok = 1;
            for (int r = 0; r < 8; r++) ok &= base + e[r] >= 32 && base + e[r] <= 62;
            if (ok) {
                K->gemv8_y(NB, w, rb, e, a + c * N, as + c * NB, NULL, base, m, bias, y1);
                R->gemv8_y(NB, w, rb, e, a + c * N, as + c * NB, NULL, base, m, bias, y0);
                CHECKF(memcmp(y0, y1, sizeof y0) == 0, "%s int gemv8_y c %d", name, c);
            }
            const int b2 = (int)rint_in(20, 70) - e[c % 8];
            const int r0 = R->rescale8(want[c], e, b2, m, c & 1 ? bias : NULL, y0);
            const int r1 = K->rescale8(want[c], e, b2, m, c & 1 ? bias : NULL, y1);
            CHECKF(r0 == r1 && (!r0 || memcmp(y0, y1, sizeof y0) == 0), "%s int rescale8 base %d", name, b2);
        }
    }
    if (K->pack8) {
        CHECK(K->panel_bytes(NB) <= sizeof pan1);
        K->pack8(NB, pan1, w, rb, e, NULL);
        R->pack8(NB, pan0, w, rb, e, NULL);
        for (int nc = 1; nc <= NT; nc++) {
            int64_t out[NT * 8];
            K->panel(NB, pan1, a, N, as, NB, nc, out);
            for (int c = 0; c < nc; c++)
                CHECKF(memcmp(out + 8 * c, want[c], 8 * sizeof(int64_t)) == 0, "%s int panel nc %d c %d", name, nc, c);
            int base[NT];
            int emax = e[0], emin = e[0];
            for (int r = 1; r < 8; r++) emax = e[r] > emax ? e[r] : emax, emin = e[r] < emin ? e[r] : emin;
            for (int c = 0; c < nc; c++) base[c] = (int)rint_in(32 - emin, 62 - emax);
            int32_t y0[NT * 8], y1[NT * 8];
            R->panel_y(NB, pan0, a, N, as, NB, nc, e, base, m, bias, y0, 8);
            K->panel_y(NB, pan1, a, N, as, NB, nc, e, base, m, bias, y1, 8);
            CHECKF(memcmp(y0, y1, (size_t)nc * 8 * 4) == 0, "%s int panel_y nc %d", name, nc);
        }
    }
    /* 16-row groups (q8_0x16): the packer against the portable one, the products against the ref dot */
    if (K->gemm16) {
        enum { R16 = 16 };
        static uint8_t w16[R16 * NB * 34], g0[NB * 544], g1[NB * 544];
        int8_t e16[R16];
        static int32_t aux16[NT * NB * 2];
        for (int r = 0; r < R16; r++) e16[r] = (int8_t)int_row(w16 + (size_t)r * rb, NB);
        octet__pack_q8_0x16_ref(N, g0, w16, rb);
        K->pack16(N, g1, w16, rb);
        CHECKF(memcmp(g0, g1, sizeof g0) == 0, "%s int pack16", name);
        for (int c = 0; c < NT; c++) K->block_aux(a + c * N, as + c * NB, NB, aux16 + c * NB * 2);
        int64_t out[NT * R16], w64[NT][R16];
        for (int c = 0; c < NT; c++)
            for (int r = 0; r < R16; r++) w64[c][r] = R->dot(NB, w16 + r * rb, e16[r], a + c * N, as + c * NB);
        for (int nc = 1; nc <= NT; nc += 2) {
            K->gemm16(NB, g1, e16, a, N, aux16, NB * 2, nc, out);
            for (int c = 0; c < nc; c++)
                CHECKF(memcmp(out + R16 * c, w64[c], sizeof w64[c]) == 0, "%s int gemm16 nc %d c %d", name, nc, c);
            int base[NT], emin = e16[0], emax = e16[0];
            for (int r = 1; r < R16; r++) emax = e16[r] > emax ? e16[r] : emax, emin = e16[r] < emin ? e16[r] : emin;
            for (int c = 0; c < nc; c++) base[c] = (int)rint_in(32 - emin, 62 - emax);
            int32_t y[NT * R16], bias16[R16];
            for (int r = 0; r < R16; r++) bias16[r] = (int32_t)rint_in(-1000, 1000);
            K->gemm16_y(NB, g1, e16, a, N, aux16, NB * 2, nc, base, m, bias16, y, R16);
            for (int c = 0; c < nc; c++)
                for (int r = 0; r < R16; r++)
                    CHECKF(y[c * R16 + r] == octet__int_sat32(octet__int_mulshift(w64[c][r], m, base[c] + e16[r]) +
                                                             bias16[r]),
                           "%s int gemm16_y nc %d c %d r %d", name, nc, c, r);
        }
    }
    /* attention kernels */
    enum { HD = 128, HALF = 48, NK = 37 };
    static int16_t q[HD], cs[NK][2 * HALF];
    static int8_t kc[NK * HD];
    const int16_t *csp[NK];
    for (int i = 0; i < HD; i++) q[i] = (int16_t)rint_in(-23170, 23170);
    for (int i = 0; i < NK * HD; i++) kc[i] = (int8_t)rint_in(-127, 127);
    for (int j = 0; j < NK; j++) {
        for (int i = 0; i < HALF; i++) {
            const double ang = (double)(j * 7 + i) * 0.37;
            cs[j][i] = (int16_t)lrint(cos(ang) * 32767.0), cs[j][HALF + i] = (int16_t)lrint(sin(ang) * 32767.0);
        }
        csp[j] = cs[j];
    }
    CHECKF(R->score(q, kc, cs[3], HALF, HD) == K->score(q, kc, cs[3], HALF, HD), "%s int score", name);
    int64_t s0[NK], s1[NK];
    R->scores(q, kc, HD, csp, NK, HALF, HD, s0);
    K->scores(q, kc, HD, csp, NK, HALF, HD, s1);
    CHECKF(memcmp(s0, s1, sizeof s0) == 0, "%s int scores", name);
    int16_t ksc[NK];
    int8_t ksh[NK];
    for (int j = 0; j < NK; j++) ksc[j] = (int16_t)rint_in(0, 16384), ksh[j] = (int8_t)rint_in(-12, 12), s1[j] = s0[j];
    R->qscale(s0, ksc, ksh, NK, m, 44);
    K->qscale(s1, ksc, ksh, NK, m, 44);
    CHECKF(memcmp(s0, s1, sizeof s0) == 0, "%s int qscale", name);
    int32_t p0[NK], p1[NK];
    for (int j = 0; j < NK; j++) s0[j] = rint_in(-(INT64_C(16) << 20), INT64_C(4) << 20); /* scores in Q20 */
    R->softmax(s0, p0, NK);
    K->softmax(s0, p1, NK);
    CHECKF(memcmp(p0, p1, sizeof p0) == 0, "%s int softmax", name);
    for (int j = 0; j < NK; j++) ksh[j] = (int8_t)rint_in(-8, 8);
    memcpy(p1, p0, sizeof p0);
    R->vweights(p0, ksc, ksh, NK, 30), K->vweights(p1, ksc, ksh, NK, 30); /* base - vsh >= 14 */
    CHECKF(memcmp(p0, p1, sizeof p0) == 0, "%s int vweights", name);
    int32_t acc0[HD], acc1[HD], wv[NK];
    for (int j = 0; j < NK; j++) wv[j] = (int32_t)rint_in(0, (1 << 23) / NK);
    R->wsum(acc0, wv, kc, HD, NK, HD), K->wsum(acc1, wv, kc, HD, NK, HD);
    CHECKF(memcmp(acc0, acc1, sizeof acc0) == 0, "%s int wsum", name);
    int32_t o0[HD], o1[HD];
    R->rescale32(o0, acc0, HD, m, 40), K->rescale32(o1, acc0, HD, m, 40);
    CHECKF(memcmp(o0, o1, sizeof o0) == 0, "%s int rescale32", name);
    R->rescale32(o0, acc0, HD, m, 20), K->rescale32(o1, acc0, HD, m, 20);
    CHECKF(memcmp(o0, o1, sizeof o0) == 0, "%s int rescale32 (small shift)", name);
    int32_t v32[HD];
    int16_t h0[HD], h1[HD];
    for (int pairs = 0; pairs < 2; pairs++) {
        for (int i = 0; i < HD; i++) v32[i] = (int32_t)r32();
        const int a0 = R->qhead(v32, HD, HALF, pairs, h0), a1 = K->qhead(v32, HD, HALF, pairs, h1);
        CHECKF(a0 == a1 && memcmp(h0, h1, sizeof h0) == 0, "%s int qhead pairs %d", name, pairs);
    }
    /* norms, quantizer, activations, edges */
    enum { NE = 512 };
    static int32_t x[NE], g[NE], n0[NE], n1[NE];
    static int8_t c0[NE], c1[NE];
    int16_t sc0[NE / 32], sc1[NE / 32];
    for (int i = 0; i < NE; i++) x[i] = (int32_t)rint_in(-(1 << 24), 1 << 24), g[i] = (int32_t)rint_in(0, 1 << 17);
    x[7] = INT32_MIN + 1;
    R->rmsnorm(n0, x, g, 16, NE, 42950), K->rmsnorm(n1, x, g, 16, NE, 42950);
    CHECKF(memcmp(n0, n1, sizeof n0) == 0, "%s int rmsnorm", name);
    R->codes(x, NE, 123456789, 40, c0), K->codes(x, NE, 123456789, 40, c1);
    CHECKF(memcmp(c0, c1, sizeof c0) == 0, "%s int codes", name);
    int sa0, sa1;
    R->quant_row(x, NE, c0, sc0, &sa0, R->codes), K->quant_row(x, NE, c1, sc1, &sa1, K->codes);
    CHECKF(sa0 == sa1 && !memcmp(c0, c1, sizeof c0) && !memcmp(sc0, sc1, sizeof sc0), "%s int quant_row", name);
    for (int i = 0; i < NE; i++) n0[i] = n1[i] = (int32_t)rint_in(-(10 << 16), 10 << 16); /* gate in Q16 */
    R->swiglu(n0, g, NE), K->swiglu(n1, g, NE);
    CHECKF(memcmp(n0, n1, sizeof n0) == 0, "%s int swiglu", name);
    uint32_t f0[NE], f1[NE];
    R->to_f32(x, NE, 16, f0), K->to_f32(x, NE, 16, f1);
    CHECKF(memcmp(f0, f1, sizeof f0) == 0, "%s int to_f32", name);
    memcpy(n0, x, sizeof x), memcpy(n1, x, sizeof x);
    R->add_sat(n0, g, NE), K->add_sat(n1, g, NE);
    CHECKF(memcmp(n0, n1, sizeof n0) == 0, "%s int add_sat", name);
}

int main(int argc, char **argv) {
    const octet__kset *ref = octet__kset_at(0);
    CHECK(ref && strcmp(ref->name, "ref") == 0);
    /* the chain: every set's parent is usable and comes before it */
    for (int i = 1; octet__kset_at(i); i++) {
        const octet__kset *ks = octet__kset_at(i);
        int found = 0;
        for (int j = 0; j < i; j++) found |= strcmp(octet__kset_at(j)->name, ks->parent) == 0;
        CHECKF(found, "set %s: parent %s is not before it", ks->name, ks->parent);
    }
    /* octet_set_isa takes usable names only, and octet_kernel_isa reports the choice */
    octet_error err;
    CHECK(octet_set_isa("no-such-set", &err) == OCTET_EINVAL && strstr(err.msg, "ref"));
    for (int i = 0; octet__kset_at(i); i++) {
        CHECK(octet_set_isa(octet__kset_at(i)->name, &err) == 0);
        CHECK(strcmp(octet_kernel_isa(), octet__kset_at(i)->name) == 0 && octet__kset_active() == octet__kset_at(i));
    }
#if defined(__x86_64__)
    /* x86: the sets the CPU's features allow are the usable ones, and the default is the best of them (avx512 >
     * avxvnni > avx2 > ref: avxvnni and avx512 are both children of avx2, either may be present alone) */
    {
        const octet__cpu *cf = octet__cpu_features();
        const int a2 = cf->avx2 && cf->fma && cf->f16c, vn = a2 && cf->avxvnni;
        const int a5 = a2 && cf->avx512f && cf->avx512bw && cf->avx512vl && cf->avx512dq && cf->avx512vnni;
        CHECK(!!octet__kset_find("avx2") == a2 && !!octet__kset_find("avxvnni") == vn &&
              !!octet__kset_find("avx512") == a5);
        if (vn) CHECK(strcmp(octet__kset_find("avxvnni")->parent, "avx2") == 0);
        if (a5) CHECK(strcmp(octet__kset_find("avx512")->parent, "avx2") == 0);
        octet_force_portable(0);
        const char *best = a5 ? "avx512" : vn ? "avxvnni" : a2 ? "avx2" : "ref";
        CHECKF(strcmp(octet_kernel_isa(), best) == 0, "default set %s, want %s", octet_kernel_isa(), best);
    }
#endif
    int tested = 0;
    for (int i = 0; octet__kset_at(i); i++) {
        const octet__kset *ks = octet__kset_at(i);
        if (argc > 1 && strcmp(argv[1], ks->name) != 0) continue;
        tested++;
        test_types(ref, ks);
        test_repack(ref, ks);
        test_float_helpers(ref, ks);
        test_int(&ref->i, &ks->i, ks->name);
        printf("set %s (parent %s): checked against ref\n", ks->name, ks->parent ? ks->parent : "-");
    }
    CHECK(tested > 0);
    TEST_MAIN_END();
}
