/*
 * ab_isa.c - two kernel sets (src/kernels/kset.h) on one model, side by side in one process (the method of
 * ab_exec.c: on a shared machine, runs minutes apart see different machines).
 *
 * The model is opened twice (a set may build load-time copies of the weights, model/packed.h), and a session is
 * created on each with its set in use (octet_set_isa); the set is selected again before every decode call, since
 * the float pass looks its kernels up per call. Then, interleaved:
 *   - generation: token i with set A, then token i with set B (the order swapped every token), each timed on its
 *     own, positions 0..n-1 as in llama-bench's tgN; per round the two totals give one ratio;
 *   - prompts: one n_prompt batch per set, order alternated, from an empty cache (ppN).
 * Every set computes the same bits, so the two sessions' last logits must be equal: checked after each test (a
 * difference is reported and makes the exit status 1). It prints each round's tokens/s and ratio, then the medians
 * over the rounds (B / A: above 1 means set B is faster). Not a test: a measuring tool. Built by `make bench`.
 *
 *   build/rel/bench/ab_isa -m MODEL [--isa A,B (default avx2,avxvnni)] [-t 2] [-p 512] [-n 128] [-r 5]
 *                          [--exec float|int]
 */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ab_common.h"
#include "octet.h"

static int usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s -m MODEL [--isa A,B] [-t THREADS] [-p N_PROMPT] [-n N_GEN] [-r ROUNDS] [--exec float|int]\n",
            argv0);
    return 2;
}

static const char *g_isa[2];

/* decode with set k in use */
static int decode(octet_session *s, int k, const int32_t *toks, int n, int64_t pos, octet_error *err) {
    if (octet_set_isa(g_isa[k], err) != 0) return -1;
    return octet_session_decode(s, toks, n, pos, err);
}

/* 1 when the two sessions' logits of token i of their last decode are byte-identical */
static int same_logits(octet_session *const s[2], int i, int n_vocab) {
    const float *a = octet_session_logits(s[0], i), *b = octet_session_logits(s[1], i);
    return a && b && memcmp(a, b, (size_t)n_vocab * sizeof(float)) == 0;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    static char isa_buf[64] = "avx2,avxvnni";
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
        else if (!strcmp(a, "--isa") && strlen(v) < sizeof isa_buf && strchr(v, ',')) strcpy(isa_buf, v);
        else return usage(argv[0]);
        if (bad) {
            fprintf(stderr, "%s: bad value '%s' for %s\n", argv[0], v, a);
            return 2;
        }
    }
    if (!path) return usage(argv[0]);
    char *comma = strchr(isa_buf, ',');
    *comma = '\0';
    g_isa[0] = isa_buf, g_isa[1] = comma + 1;
    octet_error err;
    for (int k = 0; k < 2; k++)
        if (octet_set_isa(g_isa[k], &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 2;
        }
    octet_model *mm[2] = {NULL, NULL};
    octet_session *s[2] = {NULL, NULL};
    double *tps[2] = {malloc((size_t)rounds * sizeof(double)), malloc((size_t)rounds * sizeof(double))};
    int rc = 1, differ = 0;
    const int n_tok = (n_prompt > n_gen ? n_prompt : n_gen) + 1;
    int32_t *toks = malloc((size_t)n_tok * sizeof *toks);
    double *ratio = malloc((size_t)rounds * sizeof *ratio);
    if (!toks || !ratio || !tps[0] || !tps[1]) goto done;
    for (int k = 0; k < 2; k++) {
        octet_set_isa(g_isa[k], &err);
        if (octet_model_open(&mm[k], path, NULL, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            goto done;
        }
    }
    const int n_vocab = octet_n_vocab(mm[0]);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < n_tok; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((rng >> 33) % (uint64_t)n_vocab);
    }
    for (int k = 0; k < 2; k++) {
        octet_session_params sp = octet_session_default_params();
        sp.exec = exec_int ? OCTET_EXEC_INT : OCTET_EXEC_FLOAT;
        sp.n_threads = n_threads;
        sp.n_ctx = n_tok + 1;
        sp.n_batch = n_prompt > 0 ? n_prompt : 1;
        octet_set_isa(g_isa[k], &err);
        const double tc = now();
        if (octet_session_new(&s[k], mm[k], &sp, &err) != 0) {
            fprintf(stderr, "%s session: %s\n", g_isa[k], err.msg);
            goto done;
        }
        printf("%s session created in %.3f s\n", g_isa[k], now() - tc);
        /* warm-up: page-in of the weights, first-touch of the scratch */
        if (decode(s[k], k, toks, n_prompt > 0 ? n_prompt : 1, 0, &err) != 0) goto fail;
    }
    printf("ab_isa: %s, %s mode, %d threads, %d rounds, interleaved (%s / %s > 1: %s faster)\n", path,
           exec_int ? "integer" : "float", n_threads, rounds, g_isa[1], g_isa[0], g_isa[1]);
    if (n_prompt > 0) {
        for (int r = 0; r < rounds; r++) {
            double t[2];
            for (int j = 0; j < 2; j++) {
                const int k = (r + j) % 2;
                octet_session_truncate(s[k], 0);
                const double t0 = now();
                if (decode(s[k], k, toks, n_prompt, 0, &err) != 0) goto fail;
                t[k] = now() - t0;
            }
            if (!same_logits(s, n_prompt - 1, n_vocab)) differ = 1;
            ratio[r] = t[0] / t[1];
            tps[0][r] = n_prompt / t[0], tps[1][r] = n_prompt / t[1];
            printf("pp%d round %d: %s %.2f t/s, %s %.2f t/s, ratio %.4f\n", n_prompt, r + 1, g_isa[0],
                   n_prompt / t[0], g_isa[1], n_prompt / t[1], ratio[r]);
        }
        printf("pp%d: median %s %.2f t/s, %s %.2f t/s, ratio %s/%s %.4f over %d rounds\n", n_prompt, g_isa[0],
               median(tps[0], rounds), g_isa[1], median(tps[1], rounds), g_isa[1], g_isa[0], median(ratio, rounds),
               rounds);
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
                    if (decode(s[k], k, toks + i, 1, i, &err) != 0) goto fail;
                    t[k] += now() - t0;
                }
            if (!same_logits(s, 0, n_vocab)) differ = 1;
            ratio[r] = t[0] / t[1];
            tps[0][r] = n_gen / t[0], tps[1][r] = n_gen / t[1];
            printf("tg%d round %d: %s %.2f t/s, %s %.2f t/s, ratio %.4f\n", n_gen, r + 1, g_isa[0], n_gen / t[0],
                   g_isa[1], n_gen / t[1], ratio[r]);
        }
        printf("tg%d: median %s %.2f t/s, %s %.2f t/s, ratio %s/%s %.4f over %d rounds\n", n_gen, g_isa[0],
               median(tps[0], rounds), g_isa[1], median(tps[1], rounds), g_isa[1], g_isa[0], median(ratio, rounds),
               rounds);
    }
    if (differ) fprintf(stderr, "ab_isa: the two sets' logits differ (every set must compute the same bits)\n");
    rc = differ;
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
