/*
 * ab_grammar.c - the cost of constrained decoding, measured side by side in one process: generation of n tokens
 * without a grammar and with a JSON grammar, interleaved round by round (the order swapped every round) on one
 * session, so both see the same machine state. The constrained run uses a JSON Schema whose language never
 * ends (an array of objects without maxItems), so both runs produce exactly n tokens: the same length, the
 * same model work, the difference is the grammar (masks, transitions, accepting tokens). Each constrained round
 * starts from a fresh grammar (cold caches included). Time inside the grammar calls (the sampler's masked
 * sample minus nothing: measured as sample + accept) is reported too.
 *
 *   build/rel/bench/ab_grammar [-m MODEL] [-t THREADS] [-n N_GEN] [-r ROUNDS] [--temp X] [-s SCHEMA_JSON]
 *
 * Prints each round's tokens/s, then medians and the ratio constrained / unconstrained. Not a test: a tool for
 * docs/grammar.md. Built by `make bench` (or make build/rel/bench/ab_grammar).
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ab_common.h"
#include "octet.h"

static const char k_schema[] =
    "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\",\"maxLength\":24},\"age\":{\"type\":\"integer\"},"
    "\"tribe\":{\"enum\":[\"Judah\",\"Levi\",\"Benjamin\"]},\"born\":{\"type\":\"string\",\"format\":\"date\"},"
    "\"sons\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":12},\"maxItems\":3}},"
    "\"required\":[\"name\",\"age\"],\"additionalProperties\":false}}";

static int usage(const char *argv0) {
    fprintf(stderr, "usage: %s [-m MODEL] [-t THREADS] [-n N_GEN] [-r ROUNDS] [--temp X] [-s SCHEMA]\n", argv0);
    return 2;
}

/* one generation of n tokens after the prompt; g NULL: unconstrained. Returns seconds, or -1. *t_gram gets the
 * seconds spent in sampling + grammar bookkeeping. */
static double run(octet_session *s, octet_sampler *smp, octet_grammar *g, const octet_grammar_vocab *v,
                  const int32_t *prompt, int n_prompt, int n, const octet_model *m, double *t_samp, char *text,
                  size_t text_cap) {
    octet_error err;
    octet_session_truncate(s, 0);
    if (octet_session_decode(s, prompt, n_prompt, 0, &err)) return -1;
    if (octet_sampler_set_grammar(smp, g, v)) return -1;
    const float *logits = octet_session_logits(s, n_prompt - 1);
    double t0 = now(), ts = 0;
    size_t tl = 0;
    for (int i = 0; i < n; i++) {
        double a = now();
        int32_t tok = octet_sampler_sample(smp, logits);
        if (tok < 0 || octet_token_is_eog(m, tok)) {
            fprintf(stderr, "stopped early at %d (token %d)\n", i, tok);
            return -1;
        }
        if (g && octet_grammar_accept_token(g, v, tok)) return -1;
        octet_sampler_accept(smp, tok);
        ts += now() - a;
        char piece[128];
        int k = octet_token_to_piece(m, tok, 0, piece, sizeof piece);
        if (k > 0 && k < (int)sizeof piece && tl + (size_t)k + 1 < text_cap) {
            memcpy(text + tl, piece, (size_t)k);
            tl += (size_t)k;
            text[tl] = 0;
        }
        if (octet_session_decode(s, &tok, 1, n_prompt + i, &err)) return -1;
        logits = octet_session_logits(s, 0);
    }
    *t_samp = ts;
    return now() - t0;
}

int main(int argc, char **argv) {
    const char *path = "models/octet-kjv.gguf", *schema = k_schema;
    int n_threads = 2, n_gen = 200, rounds = 7;
    float temp = 0.8f;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return usage(argv[0]);
        const char *v = argv[++i];
        int bad = 0;
        if (!strcmp(a, "-m")) path = v;
        else if (!strcmp(a, "-t")) bad = parse_int(v, 1, 256, &n_threads);
        else if (!strcmp(a, "-n")) bad = parse_int(v, 1, 1 << 16, &n_gen);
        else if (!strcmp(a, "-r")) bad = parse_int(v, 1, 1000, &rounds);
        else if (!strcmp(a, "--temp")) temp = (float)atof(v);
        else if (!strcmp(a, "-s")) schema = v;
        else return usage(argv[0]);
        if (bad) {
            fprintf(stderr, "%s: bad value '%s' for %s\n", argv[0], v, a);
            return 2;
        }
    }
    octet_error err;
    octet_model *m = NULL;
    if (octet_model_open(&m, path, NULL, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char *gbnf = NULL;
    size_t gl = 0;
    if (octet_json_schema_to_gbnf(schema, strlen(schema), &gbnf, &gl, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    octet_grammar_vocab *v = NULL;
    octet_session *s = NULL;
    octet_session_params sp = octet_session_default_params();
    sp.n_threads = n_threads;
    sp.n_ctx = n_gen + 16;
    if (octet_grammar_vocab_new(&v, m, &err) || octet_session_new(&s, m, &sp, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int32_t prompt[16];
    int n_prompt = 0;
    if (octet_tokenize(m, "And God said", 12, 1, 0, prompt, 16, &n_prompt, &err)) return 1;
    double *tps[2], *share = calloc((size_t)rounds, sizeof *share);
    tps[0] = calloc((size_t)rounds, sizeof *tps[0]);
    tps[1] = calloc((size_t)rounds, sizeof *tps[1]);
    static char text[1 << 16];
    printf("model %s, %d tokens per run, temp %.2f, %d threads\n", path, n_gen, (double)temp, n_threads);
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
            int mode = (k + r) & 1; /* 0: unconstrained, 1: grammar; the order alternates */
            octet_sampler_params pp = octet_sampler_default_params();
            pp.temp = temp;
            pp.seed = (uint64_t)r + 1;
            octet_sampler *smp = NULL;
            octet_grammar *g = NULL;
            if (octet_sampler_new(&smp, &pp, octet_n_vocab(m), &err)) return 1;
            if (mode && octet_grammar_new(&g, gbnf, gl, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            double ts = 0;
            double t = run(s, smp, g, v, prompt, n_prompt, n_gen, m, &ts, text, sizeof text);
            if (t < 0) return 1;
            tps[mode][r] = n_gen / t;
            if (mode) share[r] = ts / t;
            if (mode && r == 0) printf("constrained text (round 1): %.300s%s\n", text, strlen(text) > 300 ? "..." : "");
            octet_grammar_free(g);
            octet_sampler_free(smp);
        }
        printf("round %d: unconstrained %.1f tok/s, grammar %.1f tok/s, ratio %.3f, sampling+grammar %.1f%% of "
               "the constrained time\n", r + 1, tps[0][r], tps[1][r], tps[1][r] / tps[0][r], 100 * share[r]);
    }
    double ratio[1000];
    for (int r = 0; r < rounds; r++) ratio[r] = tps[1][r] / tps[0][r];
    double mu = median(tps[0], rounds), mg = median(tps[1], rounds), mr = median(ratio, rounds);
    printf("median: unconstrained %.1f tok/s, grammar %.1f tok/s; median ratio grammar/unconstrained %.3f "
           "(cost %.1f%%); median sampling+grammar share %.1f%%\n", mu, mg, mr, 100 * (1 - mr),
           100 * median(share, rounds));
    free(gbnf);
    octet_grammar_vocab_free(v);
    octet_session_free(s);
    octet_model_close(m);
    return 0;
}
