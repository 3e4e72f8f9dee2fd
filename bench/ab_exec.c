/*
 * ab_exec.c - integer versus float execution of one model, measured side by side in one process.
 *
 * On a shared, noisy machine two benchmark processes run minutes apart see different machines: the spread
 * between neighbouring runs (+-3% here) is larger than the difference being measured. This program opens the
 * model once, creates a float and an integer session on it and interleaves them finely, so both see the same
 * machine state:
 *   - generation: token i of the float session, then token i of the integer session (the order swapped every
 *     token), each timed on its own, positions 0..n-1 as in llama-bench's tgN; per round the two modes' total
 *     times give one ratio;
 *   - prompts: one n_prompt batch per mode, order alternated, from an empty cache (ppN).
 * It prints each round's tokens/s and ratio, then the median ratio over the rounds (int / float: above 1 means
 * integer mode is faster). Not a test: a tool for docs/performance.md. Built by `make bench`.
 *
 *   build/rel/bench/ab_exec -m MODEL [-t 2] [-p 512] [-n 128] [-r 5]
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ab_common.h"
#include "octet.h"

static int usage(const char *argv0) {
    fprintf(stderr, "usage: %s -m MODEL [-t THREADS] [-p N_PROMPT] [-n N_GEN] [-r ROUNDS]\n", argv0);
    return 2;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int n_threads = 2, n_prompt = 512, n_gen = 128, rounds = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return usage(argv[0]);
        const char *v = argv[++i];
        int bad = 0;
        if (!strcmp(a, "-m")) path = v;
        else if (!strcmp(a, "-t")) bad = parse_int(v, 1, 256, &n_threads);
        else if (!strcmp(a, "-p")) bad = parse_int(v, 0, 1 << 16, &n_prompt);
        else if (!strcmp(a, "-n")) bad = parse_int(v, 0, 1 << 16, &n_gen);
        else if (!strcmp(a, "-r")) bad = parse_int(v, 1, 1000, &rounds);
        else return usage(argv[0]);
        if (bad) {
            fprintf(stderr, "%s: bad value '%s' for %s\n", argv[0], v, a);
            return 2;
        }
    }
    if (!path) return usage(argv[0]);
    octet_error err;
    octet_model *m;
    if (octet_model_open(&m, path, NULL, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    octet_session *s[2] = {NULL, NULL}; /* 0: float, 1: int */
    const char *name[2] = {"float", "int"};
    int rc = 1;
    const int n_tok = (n_prompt > n_gen ? n_prompt : n_gen) + 1;
    int32_t *toks = malloc((size_t)n_tok * sizeof *toks);
    double *ratio = malloc((size_t)rounds * sizeof *ratio);
    if (!toks || !ratio) goto done;
    const int n_vocab = octet_n_vocab(m);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < n_tok; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((rng >> 33) % (uint64_t)n_vocab);
    }
    for (int k = 0; k < 2; k++) {
        octet_session_params sp = octet_session_default_params();
        sp.exec = k ? OCTET_EXEC_INT : OCTET_EXEC_FLOAT;
        sp.n_threads = n_threads;
        sp.n_ctx = n_tok + 1;
        sp.n_batch = n_prompt > 0 ? n_prompt : 1;
        if (octet_session_new(&s[k], m, &sp, &err) != 0) {
            fprintf(stderr, "%s session: %s\n", name[k], err.msg);
            goto done;
        }
        /* warm-up: the integer cache, page-in of the weights, first-touch of the scratch */
        if (octet_session_decode(s[k], toks, n_prompt > 0 ? n_prompt : 1, 0, &err) != 0) goto fail;
    }
    printf("ab_exec: %s, %d threads, %d rounds, modes interleaved (int / float > 1: integer mode faster)\n", path,
           n_threads, rounds);
    if (n_prompt > 0) {
        for (int r = 0; r < rounds; r++) {
            double t[2];
            for (int j = 0; j < 2; j++) {
                const int k = (r + j) % 2;
                octet_session_truncate(s[k], 0);
                const double t0 = now();
                if (octet_session_decode(s[k], toks, n_prompt, 0, &err) != 0) goto fail;
                t[k] = now() - t0;
            }
            ratio[r] = t[0] / t[1];
            printf("pp%d round %d: float %.2f t/s, int %.2f t/s, int/float %.4f\n", n_prompt, r + 1,
                   n_prompt / t[0], n_prompt / t[1], ratio[r]);
        }
        printf("pp%d: median int/float %.4f over %d rounds\n", n_prompt, median(ratio, rounds), rounds);
    }
    if (n_gen > 0) {
        for (int r = 0; r < rounds; r++) {
            double t[2] = {0, 0};
            octet_session_truncate(s[0], 0);
            octet_session_truncate(s[1], 0);
            for (int i = 0; i < n_gen; i++)
                for (int j = 0; j < 2; j++) {
                    const int k = (i + j) % 2;
                    const double t0 = now();
                    if (octet_session_decode(s[k], toks + i, 1, i, &err) != 0) goto fail;
                    t[k] += now() - t0;
                }
            ratio[r] = t[0] / t[1];
            printf("tg%d round %d: float %.2f t/s, int %.2f t/s, int/float %.4f\n", n_gen, r + 1, n_gen / t[0],
                   n_gen / t[1], ratio[r]);
        }
        printf("tg%d: median int/float %.4f over %d rounds\n", n_gen, median(ratio, rounds), rounds);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "decode: %s\n", err.msg);
done:
    octet_session_free(s[0]);
    octet_session_free(s[1]);
    octet_model_close(m);
    free(toks);
    free(ratio);
    return rc;
}
