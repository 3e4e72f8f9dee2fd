/*
 * ab_repack.c - execution with and without the load-time repacked weights (float mode: model/packed.h; with
 * --exec int, the integer weights' q8_0x16 copies: model/int/repack.c), side by side in one process (the method of ab_exec.c: on a shared machine, runs minutes apart see different machines).
 *
 * The model is opened twice: the first copy's session is created with OCTET_NO_REPACK=1 (the AVX2 kernels on the
 * file's rows), the second's without (repacked where the CPU allows). Then, interleaved:
 *   - generation: token i of one, then token i of the other (the order swapped every token), each timed on its
 *     own, positions 0..n-1 as in llama-bench's tgN; per round the two totals give one ratio;
 *   - prompts: one n_prompt batch per copy, order alternated, from an empty cache (ppN).
 * It prints each round's tokens/s and ratio, then the medians over the rounds (repack / plain: above 1 means the
 * repacked weights are faster). Not a test: a measuring tool. Built by `make bench`.
 *
 *   build/rel/bench/ab_repack -m MODEL [-t 2] [-p 512] [-n 128] [-r 5]
 */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ab_common.h"
#include "octet.h"

static int usage(const char *argv0) {
    fprintf(stderr, "usage: %s -m MODEL [-t THREADS] [-p N_PROMPT] [-n N_GEN] [-r ROUNDS] [--exec float|int]\n", argv0);
    return 2;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int n_threads = 2, n_prompt = 512, n_gen = 128, rounds = 5, exec_int = 0;
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
        else if (!strcmp(a, "--exec") && (!strcmp(v, "float") || !strcmp(v, "int"))) exec_int = !strcmp(v, "int");
        else return usage(argv[0]);
        if (bad) {
            fprintf(stderr, "%s: bad value '%s' for %s\n", argv[0], v, a);
            return 2;
        }
    }
    if (!path) return usage(argv[0]);
    octet_error err;
    octet_model *mm[2] = {NULL, NULL}; /* 0: plain, 1: repacked */
    for (int k = 0; k < 2; k++)
        if (octet_model_open(&mm[k], path, NULL, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            octet_model_close(mm[0]);
            return 1;
        }
    octet_model *m = mm[0];
    octet_session *s[2] = {NULL, NULL};
    const char *name[2] = {"plain", "repack"};
    double *tps[2] = {malloc((size_t)rounds * sizeof(double)), malloc((size_t)rounds * sizeof(double))};
    int rc = 1;
    const int n_tok = (n_prompt > n_gen ? n_prompt : n_gen) + 1;
    int32_t *toks = malloc((size_t)n_tok * sizeof *toks);
    double *ratio = malloc((size_t)rounds * sizeof *ratio);
    if (!toks || !ratio || !tps[0] || !tps[1]) goto done;
    const int n_vocab = octet_n_vocab(m);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < n_tok; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((rng >> 33) % (uint64_t)n_vocab);
    }
    for (int k = 0; k < 2; k++) {
        octet_session_params sp = octet_session_default_params();
        sp.exec = exec_int ? OCTET_EXEC_INT : OCTET_EXEC_FLOAT;
        if (k == 0) setenv("OCTET_NO_REPACK", "1", 1);
        else unsetenv("OCTET_NO_REPACK");
        sp.n_threads = n_threads;
        sp.n_ctx = n_tok + 1;
        sp.n_batch = n_prompt > 0 ? n_prompt : 1;
        const double tc = now();
        if (octet_session_new(&s[k], mm[k], &sp, &err) != 0) {
            fprintf(stderr, "%s session: %s\n", name[k], err.msg);
            goto done;
        }
        printf("%s session created in %.3f s\n", name[k], now() - tc);
        /* warm-up: page-in of the weights, first-touch of the scratch */
        if (octet_session_decode(s[k], toks, n_prompt > 0 ? n_prompt : 1, 0, &err) != 0) goto fail;
    }
    printf("ab_repack: %s, %s mode, %d threads, %d rounds, interleaved (repack / plain > 1: repacked faster)\n", path, exec_int ? "integer" : "float",
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
            tps[0][r] = n_prompt / t[0], tps[1][r] = n_prompt / t[1];
            printf("pp%d round %d: plain %.2f t/s, repack %.2f t/s, repack/plain %.4f\n", n_prompt, r + 1,
                   n_prompt / t[0], n_prompt / t[1], ratio[r]);
        }
        printf("pp%d: median plain %.2f t/s, repack %.2f t/s, ratio repack/plain %.4f over %d rounds\n", n_prompt,
               median(tps[0], rounds), median(tps[1], rounds), median(ratio, rounds), rounds);
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
            tps[0][r] = n_gen / t[0], tps[1][r] = n_gen / t[1];
            printf("tg%d round %d: plain %.2f t/s, repack %.2f t/s, repack/plain %.4f\n", n_gen, r + 1, n_gen / t[0],
                   n_gen / t[1], ratio[r]);
        }
        printf("tg%d: median plain %.2f t/s, repack %.2f t/s, ratio repack/plain %.4f over %d rounds\n", n_gen,
               median(tps[0], rounds), median(tps[1], rounds), median(ratio, rounds), rounds);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "decode: %s\n", err.msg);
done:
    octet_session_free(s[0]);
    octet_session_free(s[1]);
    octet_model_close(mm[0]);
    octet_model_close(mm[1]);
    free(toks);
    free(ratio);
    free(tps[0]);
    free(tps[1]);
    return rc;
}
