/*
 * fuzz_grammar.c - libFuzzer target for the GBNF compiler and matcher and the JSON Schema converter. The first
 * byte picks the mode: even, the rest is GBNF; odd, the rest is a JSON Schema converted to GBNF, which must then
 * compile (a converter output that does not compile is a bug, except left recursion through $ref cycles and the
 * size limits). A compiled grammar is driven over the input's own bytes, with masks over a small fixed
 * vocabulary after every step checked against brute force (each token's bytes fed to a clone). Nothing may
 * crash, hang or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "octet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const k_pieces[] = {"{", "}", "\"", "a", "ab", " ", "\xc3\xa9", "\xc3", "\xa9", "1", "[", "]",
                                       ":", ",", "true", "null", "-", ".", "e", "x", "\n", "", "\xf0\x9f\x98\x80"};
enum { NV = sizeof k_pieces / sizeof k_pieces[0] + 1 }; /* the last token is the end of generation */

static void drive(octet_grammar *g, const uint8_t *data, size_t size) {
    static octet_grammar_vocab *v;
    if (!v) {
        const char *p[NV];
        size_t l[NV];
        uint8_t eog[NV] = {0};
        for (int i = 0; i < NV - 1; i++) p[i] = k_pieces[i], l[i] = strlen(k_pieces[i]);
        p[NV - 1] = NULL;
        l[NV - 1] = 0;
        eog[NV - 1] = 1;
        if (octet_grammar_vocab_from_pieces(&v, p, l, eog, NV, NULL)) return;
    }
    uint8_t mask[NV];
    size_t steps = size < 64 ? size : 64;
    for (size_t i = 0; i < steps; i++) {
        int n = octet_grammar_mask(g, v, mask);
        if (n < 0) return;
        for (int t = 0; t < NV - 1; t++) {
            octet_grammar *c = octet_grammar_clone(g);
            if (!c) return;
            int ok = k_pieces[t][0] && octet_grammar_accept(c, k_pieces[t], strlen(k_pieces[t])) == 0;
            octet_grammar_free(c);
            if (ok != mask[t]) __builtin_trap();
        }
        if (mask[NV - 1] != octet_grammar_is_complete(g)) __builtin_trap();
        /* step: the token picked by the input byte if allowed, else the raw byte */
        int t = data[i] % NV;
        if (mask[t]) {
            if (octet_grammar_accept_token(g, v, t) != 0 && t != NV - 1) __builtin_trap();
            if (t == NV - 1) return;
        } else {
            octet_grammar_accept(g, (const char *)data + i, 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 1 << 14) return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    octet_error err;
    octet_grammar *g = NULL;
    if (data[0] & 1) {
        char *gb = NULL;
        size_t gl = 0;
        if (octet_json_schema_to_gbnf(text, len, &gb, &gl, &err) != 0) return 0;
        int rc = octet_grammar_new(&g, gb, gl, &err);
        free(gb);
        if (rc) {
            if (rc != OCTET_ENOMEM && !strstr(err.msg, "left recursion") && !strstr(err.msg, "too large") &&
                !strstr(err.msg, "repetition count") && !strstr(err.msg, "too many rules"))
                __builtin_trap();
            return 0;
        }
    } else if (octet_grammar_new(&g, text, len, &err) != 0) {
        return 0;
    }
    drive(g, data + 1, len);
    octet_grammar_free(g);
    return 0;
}
