/*
 * normalize.c - Unicode normalization forms (UAX #15) over the generated UCD tables, and the normalizer
 * pipelines of Hugging Face tokenizer.json files (NFC, NFD, NFKC, NFKD, Lowercase, Strip, Replace, Prepend),
 * applied to each text fragment before tokenizing (tokenizer.c).
 *
 * Forms, as UAX #15 section 3 and the Unicode Standard chapter 3.11 define them:
 *   decomposition: each codepoint replaced by its full canonical (NFD, NFC) or compatibility (NFKD, NFKC)
 *     decomposition (precomputed recursively by tools/gen_unicode.py; Hangul syllables algorithmically, 3.12);
 *   canonical ordering: within each run of codepoints of non-zero Canonical_Combining_Class, a stable sort by
 *     class (D108-D109);
 *   canonical composition (NFC, NFKC; D117): each codepoint C after the last starter S composes with S when a
 *     primary composite S+C exists and C is not blocked from S (nothing between them, or the codepoint before C
 *     has a class lower than C's and not 0); Hangul L+V and LV+T compose algorithmically.
 * Checked against the UCD's NormalizationTest.txt (tests/unit/test_normalize.c).
 *
 * Text steps work on UTF-8. Unicode steps act on well-formed UTF-8 only: bytes that are not part of a
 * well-formed sequence (Unicode 3.9 D92: no overlongs, no surrogates, nothing past U+10FFFF) pass through
 * unchanged, so a byte-level tokenizer still sees them.
 */
#include <pthread.h>
#include <string.h>

#include "core/core.h"
#include "text/normalize.h"
#include "text/unicode.h"

enum {
    S_BASE = 0xAC00, L_BASE = 0x1100, V_BASE = 0x1161, T_BASE = 0x11A7,
    L_COUNT = 19, V_COUNT = 21, T_COUNT = 28, N_COUNT = V_COUNT * T_COUNT, S_COUNT = L_COUNT * N_COUNT
};

int octet__ucd_ccc(uint32_t cp) {
    if (cp < 0x300) return 0; /* the first codepoint with a non-zero class is U+0300 */
    int lo = 0, hi = octet__ucd_n_ccc - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        uint32_t c = octet__ucd_ccc_tab[mid] >> 8;
        if (c == cp) return (int)(octet__ucd_ccc_tab[mid] & 0xFF);
        if (c < cp) lo = mid + 1;
        else hi = mid - 1;
    }
    return 0;
}

uint32_t octet__ucd_lower_of(uint32_t cp) {
    if (cp < 128) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    int lo = 0, hi = octet__ucd_n_lower - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        uint32_t c = octet__ucd_lower[mid][0];
        if (c == cp) return octet__ucd_lower[mid][1];
        if (c < cp) lo = mid + 1;
        else hi = mid - 1;
    }
    return cp;
}

static const octet__ucd_decomp_row *decomp_row(uint32_t cp) {
    if (cp < 0xA0) return NULL; /* the first decomposable codepoint is U+00A0 */
    int lo = 0, hi = octet__ucd_n_decomp - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        uint32_t c = octet__ucd_decomp[mid].cp;
        if (c == cp) return &octet__ucd_decomp[mid];
        if (c < cp) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

static uint32_t compose_pair(uint32_t a, uint32_t b) {
    if (a - L_BASE < L_COUNT && b - V_BASE < V_COUNT) /* Hangul L + V */
        return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
    if (a - S_BASE < S_COUNT && (a - S_BASE) % T_COUNT == 0 && b - T_BASE - 1 < T_COUNT - 1) /* LV + T */
        return a + (b - T_BASE);
    int lo = 0, hi = octet__ucd_n_comp - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const uint32_t *e = octet__ucd_comp[mid];
        if (e[0] == a && e[1] == b) return e[2];
        if (e[0] < a || (e[0] == a && e[1] < b)) lo = mid + 1;
        else hi = mid - 1;
    }
    return 0;
}

/* "Inert" codepoints: a starter (class 0) with no decomposition of either kind that is never the second of a
 * primary composite (nor a Hangul V or T jamo). Nothing before an inert codepoint can reorder or compose across
 * it, so text splits into independent chunks right before each one, and a chunk that is one inert codepoint is
 * its own normal form in every form. One bit per codepoint (136 KiB), built once from the tables. */
static uint32_t g_busy[0x110000 / 32]; /* bit set: not inert */
static pthread_once_t g_busy_once = PTHREAD_ONCE_INIT;
static void set_busy(uint32_t cp) { g_busy[cp >> 5] |= 1u << (cp & 31); }
static void build_busy(void) {
    for (int i = 0; i < octet__ucd_n_ccc; i++) set_busy(octet__ucd_ccc_tab[i] >> 8);
    for (int i = 0; i < octet__ucd_n_decomp; i++) set_busy(octet__ucd_decomp[i].cp);
    for (int i = 0; i < octet__ucd_n_comp; i++) set_busy(octet__ucd_comp[i][1]);
    for (uint32_t c = S_BASE; c < S_BASE + S_COUNT; c++) set_busy(c);
    for (uint32_t c = V_BASE; c < V_BASE + V_COUNT; c++) set_busy(c);
    for (uint32_t c = T_BASE + 1; c < T_BASE + T_COUNT; c++) set_busy(c);
}
static inline int inert(uint32_t cp) { return cp < 0x110000 && !(g_busy[cp >> 5] >> (cp & 31) & 1); }

typedef struct cpbuf {
    uint32_t *p;
    size_t n, cap;
} cpbuf;

static int cp_push(cpbuf *b, uint32_t c) {
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        uint32_t *np = octet__realloc_array(b->p, b->n, nc, sizeof *np);
        if (!np) return OCTET_ENOMEM;
        b->p = np, b->cap = nc;
    }
    b->p[b->n++] = c;
    return 0;
}

int octet__unorm(int form, const uint32_t *in, size_t n, uint32_t **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    int compat = form == OCTET__NFKC || form == OCTET__NFKD;
    int compose = form == OCTET__NFC || form == OCTET__NFKC;
    cpbuf b = {0};
    size_t cap0;
    if (!octet__add_size(n, n / 2 + 16, &cap0)) return OCTET_ENOMEM;
    b.p = octet__malloc(cap0 * sizeof *b.p);
    if (!b.p) return OCTET_ENOMEM;
    b.cap = cap0;
    for (size_t i = 0; i < n; i++) { /* decomposition */
        uint32_t c = in[i];
        int rc = 0;
        if (c - S_BASE < S_COUNT) {
            uint32_t s = c - S_BASE;
            rc = cp_push(&b, L_BASE + s / N_COUNT);
            if (!rc) rc = cp_push(&b, V_BASE + (s % N_COUNT) / T_COUNT);
            if (!rc && s % T_COUNT) rc = cp_push(&b, T_BASE + s % T_COUNT);
        } else {
            const octet__ucd_decomp_row *r = decomp_row(c);
            size_t off = 0, len = 0;
            if (r && compat) off = r->compat_off, len = r->compat_len;
            else if (r) off = r->canon_off, len = r->canon_len;
            if (len == 0) rc = cp_push(&b, c);
            for (size_t k = 0; k < len && !rc; k++) rc = cp_push(&b, octet__ucd_decomp_pool[off + k]);
        }
        if (rc) {
            octet__free(b.p);
            return rc;
        }
    }
    uint32_t *d = b.p;
    size_t m = b.n;
    for (size_t i = 0; i < m;) { /* canonical ordering: insertion sort of each run of non-starters */
        if (octet__ucd_ccc(d[i]) == 0) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < m && octet__ucd_ccc(d[j]) != 0) j++;
        for (size_t k = i + 1; k < j; k++) {
            uint32_t c = d[k];
            int cc = octet__ucd_ccc(c);
            size_t q = k;
            while (q > i && octet__ucd_ccc(d[q - 1]) > cc) d[q] = d[q - 1], q--;
            d[q] = c;
        }
        i = j;
    }
    if (compose && m > 0) {
        size_t w = 0;
        int64_t st = -1;  /* index in d (output) of the last starter */
        int last_cc = -1; /* class of the last codepoint written after the starter; -1: none */
        for (size_t i = 0; i < m; i++) {
            uint32_t c = d[i];
            int cc = octet__ucd_ccc(c);
            if (st >= 0 && (last_cc == -1 || (last_cc != 0 && last_cc < cc))) {
                uint32_t k = compose_pair(d[st], c);
                if (k) {
                    d[st] = k;
                    continue;
                }
            }
            if (cc == 0) {
                st = (int64_t)w;
                last_cc = -1;
            } else {
                last_cc = cc;
            }
            d[w++] = c;
        }
        m = w;
    }
    *out = d;
    *n_out = m;
    return 0;
}

/* ---- UTF-8 ------------------------------------------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at s[i] (Unicode 3.9 table 3-7), its codepoint in *cp; 0 when the
 * bytes there are not one. */
static size_t utf8_strict(const unsigned char *s, size_t n, size_t i, uint32_t *cp) {
    unsigned c = s[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return 0;
    if (n - i < len) return 0;
    for (size_t k = 1; k < len; k++) {
        unsigned b = s[i + k];
        if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return 0;
        v = (v << 6) | (b & 0x3F);
    }
    *cp = v;
    return len;
}

typedef struct bytebuf {
    char *p;
    size_t n, cap;
} bytebuf;

static int put_bytes(bytebuf *b, const void *s, size_t n) {
    size_t need;
    if (!octet__add_size(b->n, n, &need)) return OCTET_ENOMEM;
    if (need > b->cap) {
        size_t nc = b->cap ? b->cap : 64;
        while (nc < need) {
            if (!octet__mul_size(nc, 2, &nc)) return OCTET_ENOMEM;
        }
        char *np = octet__realloc_array(b->p, b->n, nc, 1);
        if (!np) return OCTET_ENOMEM;
        b->p = np, b->cap = nc;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

static int put_cp(bytebuf *b, uint32_t cp) {
    unsigned char u[4];
    int k = octet__utf8_encode(cp, u);
    return put_bytes(b, u, (size_t)k);
}

/* Room for n more bytes, allocated once (large buffers are costly to grow: each copy faults in new pages). */
static int reserve(bytebuf *b, size_t n) {
    size_t need;
    if (!octet__add_size(b->n, n, &need)) return OCTET_ENOMEM;
    if (need <= b->cap) return 0;
    char *np = octet__realloc_array(b->p, b->n, need, 1);
    if (!np) return OCTET_ENOMEM;
    b->p = np, b->cap = need;
    return 0;
}

/* Apply a Unicode form to the well-formed runs of s, copying other bytes. */
static int step_form(int form, const char *s, size_t n, bytebuf *o) {
    const unsigned char *u = (const unsigned char *)s;
    /* below U+0300 (NFC) / U+00C0 (NFD) every codepoint is its own normal form; for all forms ASCII is */
    unsigned lim = form == OCTET__NFC ? 0xCCu : form == OCTET__NFD ? 0xC3u : 0x80u; /* U+0300 is CC 80, U+00C0 C3 80 */
    size_t q = 0;
    while (q < n && u[q] < lim) q++;
    if (q == n) return put_bytes(o, s, n);
    pthread_once(&g_busy_once, build_busy);
    cpbuf run = {0};
    int rc = reserve(o, n + n / 4 + 16);
    if (rc) return rc;
    run.p = octet__malloc((n + 1) * sizeof *run.p); /* a run has at most one codepoint per byte */
    if (!run.p) return OCTET_ENOMEM;
    run.cap = n + 1;
    size_t i = 0;
    while (i < n && rc == 0) {
        uint32_t cp;
        size_t l = utf8_strict(u, n, i, &cp);
        if (l) {
            rc = cp_push(&run, cp);
            i += l;
            if (rc || i < n) continue;
        }
        if (run.n) { /* flush the run before a malformed byte or at the end, chunk by chunk */
            for (size_t a = 0; a < run.n && rc == 0;) {
                size_t b = a + 1;
                while (b < run.n && !inert(run.p[b])) b++; /* a chunk ends before the next inert codepoint */
                if (b == a + 1 && inert(run.p[a])) {
                    rc = put_cp(o, run.p[a]);
                } else {
                    uint32_t *nf;
                    size_t nn;
                    rc = octet__unorm(form, run.p + a, b - a, &nf, &nn);
                    for (size_t k = 0; k < nn && rc == 0; k++) rc = put_cp(o, nf[k]);
                    octet__free(nf);
                }
                a = b;
            }
            run.n = 0;
        }
        if (!l && rc == 0) rc = put_bytes(o, s + i++, 1);
    }
    octet__free(run.p);
    return rc;
}

static int step_lower(const char *s, size_t n, bytebuf *o) {
    const unsigned char *u = (const unsigned char *)s;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        uint32_t cp;
        size_t l = utf8_strict(u, n, i, &cp);
        if (!l) {
            rc = put_bytes(o, s + i++, 1);
            continue;
        }
        i += l;
        if (cp == 0x130) { /* SpecialCasing.txt: the one unconditional lowercase of more than one codepoint */
            rc = put_cp(o, 0x69);
            if (!rc) rc = put_cp(o, 0x307);
        } else {
            rc = put_cp(o, octet__ucd_lower_of(cp));
        }
    }
    return rc;
}

static int is_ws_at(const unsigned char *u, size_t n, size_t i, size_t *len) {
    uint32_t cp;
    size_t l = utf8_strict(u, n, i, &cp);
    *len = l;
    return l && (octet__ucp_flags(cp) & OCTET__UCP_SPACE);
}

static int step_strip(const octet__norm_step *st, const char *s, size_t n, bytebuf *o) {
    const unsigned char *u = (const unsigned char *)s;
    size_t a = 0, b = n, l;
    if (st->strip_left)
        while (a < n && is_ws_at(u, n, a, &l)) a += l;
    if (st->strip_right) {
        size_t keep = a; /* end of the last non-whitespace sequence */
        for (size_t i = a; i < n;) {
            if (is_ws_at(u, n, i, &l)) {
                i += l;
            } else {
                i += l ? l : 1;
                keep = i;
            }
        }
        b = keep;
    }
    return put_bytes(o, s + a, b - a);
}

static int step_replace(const octet__norm_step *st, const char *s, size_t n, bytebuf *o) {
    if (st->na == 0) return put_bytes(o, s, n);
    size_t i = 0;
    int rc = 0;
    while (rc == 0) {
        const char *p = n - i >= st->na ? memmem(s + i, n - i, st->a, st->na) : NULL;
        if (!p) return put_bytes(o, s + i, n - i);
        size_t at = (size_t)(p - s);
        rc = put_bytes(o, s + i, at - i);
        if (!rc) rc = put_bytes(o, st->b, st->nb);
        i = at + st->na;
    }
    return rc;
}

int octet__normalize(const octet__norm_step *steps, int n_steps, const char *text, size_t len, char **out,
                     size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    bytebuf cur = {0};
    int rc = put_bytes(&cur, text, len);
    for (int k = 0; k < n_steps && rc == 0; k++) {
        const octet__norm_step *st = &steps[k];
        bytebuf nx = {0};
        if ((rc = reserve(&nx, cur.n + 16))) break; /* most steps keep the length */
        switch (st->op) {
        case OCTET__NORM_NFC: rc = step_form(OCTET__NFC, cur.p, cur.n, &nx); break;
        case OCTET__NORM_NFD: rc = step_form(OCTET__NFD, cur.p, cur.n, &nx); break;
        case OCTET__NORM_NFKC: rc = step_form(OCTET__NFKC, cur.p, cur.n, &nx); break;
        case OCTET__NORM_NFKD: rc = step_form(OCTET__NFKD, cur.p, cur.n, &nx); break;
        case OCTET__NORM_LOWERCASE: rc = step_lower(cur.p, cur.n, &nx); break;
        case OCTET__NORM_STRIP: rc = step_strip(st, cur.p, cur.n, &nx); break;
        case OCTET__NORM_REPLACE: rc = step_replace(st, cur.p, cur.n, &nx); break;
        case OCTET__NORM_PREPEND: /* Hugging Face's Prepend leaves an empty string empty */
            if (cur.n) rc = put_bytes(&nx, st->a, st->na);
            if (!rc) rc = put_bytes(&nx, cur.p, cur.n);
            break;
        default: rc = put_bytes(&nx, cur.p, cur.n); break;
        }
        octet__free(cur.p);
        cur = nx;
    }
    if (rc) {
        octet__free(cur.p);
        return rc;
    }
    if (!cur.p && !(cur.p = octet__malloc(1))) return OCTET_ENOMEM; /* an empty result is still allocated */
    *out = cur.p;
    *out_len = cur.n;
    return 0;
}

static const char *const k_op_names[] = {NULL,        "NFC",   "NFD",     "NFKC",   "NFKD",
                                         "Lowercase", "Strip", "Replace", "Prepend"};

int octet__norm_op_from_name(const char *name, size_t n) {
    for (int i = 1; i < (int)(sizeof k_op_names / sizeof *k_op_names); i++)
        if (strlen(k_op_names[i]) == n && memcmp(k_op_names[i], name, n) == 0) return i;
    return 0;
}

const char *octet__norm_op_name(int op) {
    return op > 0 && op < (int)(sizeof k_op_names / sizeof *k_op_names) ? k_op_names[op] : "?";
}
