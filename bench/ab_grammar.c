/*
 * ab_grammar.c - the cost of constrained decoding, measured side by side in one process: generation of n tokens
 * without a grammar and with a JSON grammar on two sessions, interleaved token by token (the order swapped every
 * token), each token timed on its own, so both see the same machine state. The constrained run uses a JSON Schema whose language never
 * ends (an array of objects without maxItems), so both runs produce exactly n tokens: the same length, the
 * same model work, the difference is the grammar (masks, transitions, accepting tokens). The schema (-s, default
 * an object with strings, an integer, an enum, a date and a bounded array) describes one item; the grammar is
 * root ::= "[" item ("," item)* with no closing bracket, so it never completes, and end-of-generation tokens
 * are masked in the unconstrained run. Each constrained round starts from a fresh grammar (cold caches
 * included). The time in sampling plus grammar calls (sample and accept) is reported too.
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
    "{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\",\"maxLength\":24},\"age\":{\"type\":\"integer\"},"
    "\"tribe\":{\"enum\":[\"Judah\",\"Levi\",\"Benjamin\"]},\"born\":{\"type\":\"string\",\"format\":\"date\"},"
    "\"sons\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":12},\"maxItems\":3}},"
    "\"required\":[\"name\",\"age\"],\"additionalProperties\":false}";

static int usage(const char *argv0) {
    fprintf(stderr, "usage: %s [-m MODEL] [-t THREADS] [-n N_GEN] [-r ROUNDS] [--temp X] [-s SCHEMA]\n", argv0);
    return 2;
}

typedef struct {
    octet_session *s;
    octet_sampler *smp;
    octet_grammar *g; /* NULL: unconstrained */
    const float *logits;
    int pos;
    double t, ts;     /* seconds in all, seconds in sampling + grammar */
    double cs;        /* CPU seconds of this thread in sampling + grammar */
    size_t tl;
    char text[1 << 14];
} gen;

/* this thread's CPU seconds: sampling and the grammar run on the calling thread only, so their CPU time is
 * what they cost, not counting the time the shared machine took the core away */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* one token of generation (sample, grammar, decode), timed */
static int step_one(gen *x, const octet_grammar_vocab *v, const octet_model *m, float *lbuf) {
    octet_error err;
    double a = now(), ca = cpu_now();
    const int nv = octet_n_vocab(m);
    memcpy(lbuf, x->logits, (size_t)nv * sizeof *lbuf); /* both runs: no end of generation */
    for (int t = 0; t < nv; t++)
        if (octet_token_is_eog(m, t)) lbuf[t] = -1e30f;
    int32_t tok = octet_sampler_sample(x->smp, lbuf);
    if (tok < 0 || (x->g && octet_grammar_accept_token(x->g, v, tok))) return -1;
    octet_sampler_accept(x->smp, tok);
    double b = now(), cb = cpu_now();
    if (octet_session_decode(x->s, &tok, 1, x->pos++, &err)) return -1;
    x->logits = octet_session_logits(x->s, 0);
    double c = now();
    x->ts += b - a;
    x->cs += cb - ca;
    x->t += c - a;
    char piece[128];
    int k = octet_token_to_piece(m, tok, 0, piece, sizeof piece);
    if (k > 0 && k < (int)sizeof piece && x->tl + (size_t)k + 1 < sizeof x->text) {
        memcpy(x->text + x->tl, piece, (size_t)k);
        x->tl += (size_t)k;
        x->text[x->tl] = 0;
    }
    return 0;
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
    char *item = NULL;
    size_t il = 0;
    if (octet_json_schema_to_gbnf(schema, strlen(schema), &item, &il, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    static const char head[] = "root ::= \"[\" item (\",\" item)*\n";
    size_t gl = strlen(head) + il;
    char *gbnf = malloc(gl + 1);
    if (!gbnf) return 1;
    memcpy(gbnf, head, strlen(head));
    memcpy(gbnf + strlen(head), item, il + 1);
    memcpy(gbnf + strlen(head), "item", 4); /* the converter's "root ::= ..." becomes "item ::= ..." */
    free(item);
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
    double *tps[2], *share[2], ratio[1000], us_g[1000];
    for (int k = 0; k < 2; k++) {
        tps[k] = calloc((size_t)rounds, sizeof *tps[k]);
        share[k] = calloc((size_t)rounds, sizeof *share[k]);
    }
    float *lbuf = malloc((size_t)octet_n_vocab(m) * sizeof *lbuf);
    octet_session *s2 = NULL;
    if (!lbuf || octet_session_new(&s2, m, &sp, &err)) return 1;
    static gen x[2];
    printf("model %s, %d tokens per run, temp %.2f, %d threads; unconstrained and grammar interleaved token by "
           "token\n", path, n_gen, (double)temp, n_threads);
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
            memset(&x[k], 0, sizeof x[k]);
            x[k].s = k ? s2 : s;
            octet_sampler_params pp = octet_sampler_default_params();
            pp.temp = temp;
            pp.seed = (uint64_t)r + 1;
            if (octet_sampler_new(&x[k].smp, &pp, octet_n_vocab(m), &err)) return 1;
            if (k && (octet_grammar_new(&x[k].g, gbnf, gl, &err) || octet_sampler_set_grammar(x[k].smp, x[k].g, v))) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            octet_session_truncate(x[k].s, 0);
            if (octet_session_decode(x[k].s, prompt, n_prompt, 0, &err)) return 1;
            x[k].logits = octet_session_logits(x[k].s, n_prompt - 1);
            x[k].pos = n_prompt;
        }
        for (int i = 0; i < n_gen; i++)
            for (int k = 0; k < 2; k++)
                if (step_one(&x[(k + i) & 1], v, m, lbuf)) {
                    fprintf(stderr, "generation failed at token %d\n", i);
                    return 1;
                }
        for (int k = 0; k < 2; k++) {
            tps[k][r] = n_gen / x[k].t;
            share[k][r] = x[k].ts / x[k].t;
        }
        ratio[r] = tps[1][r] / tps[0][r];
        us_g[r] = 1e6 * (x[1].cs - x[0].cs) / n_gen; /* the grammar's own CPU time per token */
        if (r == 0) printf("constrained text (round 1): %.300s%s\n", x[1].text, x[1].tl > 300 ? "..." : "");
        printf("round %d: unconstrained %.1f tok/s (sampling %.2f%%), grammar %.1f tok/s (sampling+grammar %.2f%%), "
               "ratio %.3f, grammar %.1f us/token\n", r + 1, tps[0][r], 100 * share[0][r], tps[1][r], 100 * share[1][r],
               ratio[r], us_g[r]);
        for (int k = 0; k < 2; k++) {
            octet_grammar_free(x[k].g);
            octet_sampler_free(x[k].smp);
        }
    }
    double mr = median(ratio, rounds);
    printf("median: unconstrained %.1f tok/s, grammar %.1f tok/s; median ratio grammar/unconstrained %.3f "
           "(cost %.1f%%); sampling share %.2f%% -> %.2f%% with the grammar; grammar %.1f us/token of CPU time "
           "(sampling with the mask and accepting, minus sampling without)\n", median(tps[0], rounds), median(tps[1], rounds), mr,
           100 * (1 - mr), 100 * median(share[0], rounds), 100 * median(share[1], rounds), median(us_g, rounds));
    octet_session_free(s2);
    free(gbnf);
    free(lbuf);
    octet_grammar_vocab_free(v);
    octet_session_free(s);
    octet_model_close(m);
    return 0;
}
