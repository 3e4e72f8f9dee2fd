/*
 * test_normalize.c - Unicode normalization (src/text/normalize.c) against the UCD's own conformance file:
 * tests/data/normalization_test.txt holds NormalizationTest.txt's cases (written by tools/gen_unicode.py from
 * the same UCD as the tables) as "c1;c2;c3;c4;c5". Its invariants (the header of NormalizationTest.txt):
 *   c2 == NFC(c1) == NFC(c2) == NFC(c3),   c4 == NFC(c4) == NFC(c5)
 *   c3 == NFD(c1) == NFD(c2) == NFD(c3),   c5 == NFD(c4) == NFD(c5)
 *   c4 == NFKC(c1..c5),                     c5 == NFKD(c1..c5)
 * Then the tokenizer.json normalizer steps on UTF-8 (Replace, Prepend, Strip, Lowercase, Sequence order,
 * malformed bytes passed through).
 */
#include "test.h"

#include "core/core.h"
#include "text/normalize.h"
#include "text/unicode.h"

static size_t parse_seq(const char *s, const char *end, uint32_t *out, size_t cap) {
    size_t n = 0;
    while (s < end) {
        char *e;
        unsigned long v = strtoul(s, &e, 16);
        if (e == s) break;
        if (n < cap) out[n++] = (uint32_t)v;
        s = e;
        while (s < end && *s == ' ') s++;
    }
    return n;
}

static int same(const uint32_t *a, size_t na, const uint32_t *b, size_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

static void test_conformance(void) {
    FILE *f = fopen("tests/data/normalization_test.txt", "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[4096];
    int cases = 0, bad = 0, utf8_bad = 0;
    static const int forms[4] = {OCTET__NFC, OCTET__NFD, OCTET__NFKC, OCTET__NFKD};
    /* expected column (0-based) of form f applied to column c */
    static const int want[4][5] = {{1, 1, 1, 3, 3}, {2, 2, 2, 4, 4}, {3, 3, 3, 3, 3}, {4, 4, 4, 4, 4}};
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        uint32_t col[5][64];
        size_t n[5];
        const char *p = line;
        for (int c = 0; c < 5; c++) {
            const char *e = strchr(p, c < 4 ? ';' : '\n');
            if (!e) e = p + strlen(p);
            n[c] = parse_seq(p, e, col[c], 64);
            p = *e ? e + 1 : e;
        }
        cases++;
        for (int fi = 0; fi < 4; fi++)
            for (int c = 0; c < 5; c++) {
                uint32_t *o;
                size_t no;
                if (octet__unorm(forms[fi], col[c], n[c], &o, &no) != 0) {
                    bad++;
                    continue;
                }
                int w = want[fi][c];
                if (!same(o, no, col[w], n[w])) {
                    if (bad < 10) fprintf(stderr, "form %d of column %d of: %s", fi, c + 1, line);
                    bad++;
                }
                octet__free(o);
            }
        /* the UTF-8 path (octet__normalize: ASCII fast path, chunks split before inert codepoints) on the whole
         * line's columns joined, against octet__unorm on the joined codepoints */
        uint32_t all[5 * 64 + 8];
        size_t na = 0;
        char u8[5 * 64 * 4 + 32];
        size_t nu = 0;
        for (int c = 0; c < 5; c++) {
            for (size_t k = 0; k < n[c]; k++) {
                all[na++] = col[c][k];
                nu += (size_t)octet__utf8_encode(col[c][k], (unsigned char *)u8 + nu);
            }
            all[na++] = 'x';
            u8[nu++] = 'x';
        }
        for (int fi = 0; fi < 4; fi++) {
            uint32_t *o;
            size_t no;
            char *p8;
            size_t n8;
            octet__norm_step st = {OCTET__NORM_NFC + fi, "", 0, "", 0, 0, 0};
            if (octet__unorm(forms[fi], all, na, &o, &no) || octet__normalize(&st, 1, u8, nu, &p8, &n8)) {
                utf8_bad++;
                continue;
            }
            char w8[sizeof u8 * 5];
            size_t nw = 0;
            for (size_t k = 0; k < no && nw + 4 < sizeof w8; k++) nw += (size_t)octet__utf8_encode(o[k], (unsigned char *)w8 + nw);
            if (n8 != nw || memcmp(p8, w8, nw) != 0) utf8_bad++;
            octet__free(o);
            octet__free(p8);
        }
    }
    fclose(f);
    CHECKF(cases > 5000, "%d cases", cases);
    CHECKF(utf8_bad == 0, "%d cases differ through the UTF-8 path", utf8_bad);
    CHECKF(bad == 0, "%d of %d cases x 20 differ", bad, cases);
    printf("normalization: %d conformance cases (UCD %s), %d mismatches\n", cases, octet__ucd_version, bad);
    CHECK(strcmp(octet__ucd_version, "16.0.0") >= 0);
}

static int norm_eq(const octet__norm_step *st, int n, const char *in, const char *want) {
    char *o;
    size_t no;
    if (octet__normalize(st, n, in, strlen(in), &o, &no) != 0) return 0;
    int ok = no == strlen(want) && memcmp(o, want, no) == 0;
    if (!ok) fprintf(stderr, "normalize '%s': got '%.*s', want '%s'\n", in, (int)no, o, want);
    octet__free(o);
    return ok;
}

#define STEP(op, a, b) {op, a, sizeof(a) - 1, b, sizeof(b) - 1, 0, 0}

static void test_steps(void) {
    const octet__norm_step llama2[2] = {STEP(OCTET__NORM_PREPEND, "\xe2\x96\x81", ""),
                                        STEP(OCTET__NORM_REPLACE, " ", "\xe2\x96\x81")};
    CHECK(norm_eq(llama2, 2, "a b  c", "\xe2\x96\x81" "a\xe2\x96\x81" "b\xe2\x96\x81\xe2\x96\x81" "c"));
    CHECK(norm_eq(llama2, 2, "", "")); /* Prepend leaves empty text empty */
    const octet__norm_step rep[1] = {STEP(OCTET__NORM_REPLACE, "aa", "b")};
    CHECK(norm_eq(rep, 1, "aaaaa", "bba")); /* non-overlapping, left to right */
    octet__norm_step strip = STEP(OCTET__NORM_STRIP, "", "");
    strip.strip_left = 1;
    CHECK(norm_eq(&strip, 1, " \t\xe3\x80\x80x y \n", "x y \n")); /* U+3000 is White_Space */
    strip.strip_right = 1;
    CHECK(norm_eq(&strip, 1, " \t\xe3\x80\x80x y \n", "x y"));
    CHECK(norm_eq(&strip, 1, "   ", ""));
    const octet__norm_step low[1] = {STEP(OCTET__NORM_LOWERCASE, "", "")};
    CHECK(norm_eq(low, 1, "ABC \xc3\x84\xce\xa3\xc4\xb0", "abc \xc3\xa4\xcf\x83i\xcc\x87")); /* Ä Σ İ */
    const octet__norm_step nfc[1] = {STEP(OCTET__NORM_NFC, "", "")};
    CHECK(norm_eq(nfc, 1, "e\xcc\x81 \xe1\x84\x80\xe1\x85\xa1", "\xc3\xa9 \xea\xb0\x80")); /* e+acute, Hangul L+V */
    /* malformed bytes (a lone continuation byte, a surrogate, an overlong NUL) pass through, the rest is normalized */
    CHECK(norm_eq(nfc, 1, "\x80" "e\xcc\x81\xed\xa0\x80\xc0\x80" "A\xcc\x8a", "\x80\xc3\xa9\xed\xa0\x80\xc0\x80\xc3\x85"));
    const octet__norm_step nfkc[1] = {STEP(OCTET__NORM_NFKC, "", "")};
    CHECK(norm_eq(nfkc, 1, "\xef\xac\x81 \xe2\x91\xa0 \xef\xbc\xa1", "fi 1 A")); /* ligature fi, circled 1, fullwidth A */
    const octet__norm_step seq[2] = {STEP(OCTET__NORM_NFKD, "", ""), STEP(OCTET__NORM_LOWERCASE, "", "")};
    CHECK(norm_eq(seq, 2, "\xc3\x89", "e\xcc\x81"));
    CHECK(octet__norm_op_from_name("NFKC", 4) == OCTET__NORM_NFKC && octet__norm_op_from_name("Precompiled", 11) == 0);
}

/* Random strings over codepoints that reorder, compose, decompose or stay inert: the UTF-8 path (chunked) equals
 * octet__unorm on the whole string, for every form. */
static void test_random_chunks(void) {
    static const uint32_t pool[] = {'a', 'e', 'o', 'A', ' ', 0x300, 0x301, 0x308, 0x323, 0x327, 0x31B, 0x345, 0x5B0,
                                    0x93C, 0x3099, 0x309A, 0x304B, 0x30AB, 0x1100, 0x1161, 0x11A8, 0xAC00, 0xAC01,
                                    0xC5, 0xE9, 0x212B, 0x1E0A, 0xFB01, 0xFF76, 0x1F1, 0x3B1, 0x1F00, 0x4E00, 0x1F600,
                                    0x0F73, 0x0F71, 0x0F72, 0x11131, 0x11127, 0x1D15F, 0x1D165, 0x05D0, 0x0627, 0x0653};
    uint64_t rng = 7;
    int bad = 0;
    for (int it = 0; it < 3000; it++) {
        uint32_t cps[40];
        size_t n = 1 + t_rng_next(&rng) % 40, nu = 0;
        char u8[40 * 4];
        for (size_t k = 0; k < n; k++) {
            cps[k] = pool[t_rng_next(&rng) % (sizeof pool / sizeof *pool)];
            nu += (size_t)octet__utf8_encode(cps[k], (unsigned char *)u8 + nu);
        }
        for (int fi = 0; fi < 4; fi++) {
            uint32_t *o;
            size_t no, n8, nw = 0;
            char *p8, w8[40 * 18 * 4];
            octet__norm_step st = {OCTET__NORM_NFC + fi, "", 0, "", 0, 0, 0};
            if (octet__unorm(OCTET__NFC + fi, cps, n, &o, &no) || octet__normalize(&st, 1, u8, nu, &p8, &n8)) {
                bad++;
                continue;
            }
            for (size_t k = 0; k < no; k++) nw += (size_t)octet__utf8_encode(o[k], (unsigned char *)w8 + nw);
            if (n8 != nw || memcmp(p8, w8, nw) != 0) bad++;
            octet__free(o);
            octet__free(p8);
        }
    }
    CHECKF(bad == 0, "%d random strings differ between the chunked UTF-8 path and whole-string normalization", bad);
}

int main(void) {
    test_conformance();
    test_random_chunks();
    test_steps();
    TEST_MAIN_END();
}
