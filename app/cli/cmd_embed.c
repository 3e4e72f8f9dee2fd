/*
 * cmd_embed.c - `octet embed`: the embedding of a text, as /v1/embeddings of `octet serve` computes it: the text
 * tokenized with BOS, evaluated from an empty cache, the final hidden state of every token after the output norm
 * (octet_session_decode_stage's hidden_out on the last stage) averaged over the tokens in double precision, and the
 * mean L2-normalised. For Llama-family decoders this mean-pooled state is a generic sentence vector, not a trained
 * embedding head (docs/server.md). Output: one JSON array of n_embd numbers (%.9g: float32 values round-trip).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_embed(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL;
    int n_threads = 0, no_mmap = 0;
    const opt opts[] = {
        {"--model", "-m", OPT_STR, &model, "FILE", "GGUF model (default: the bundled model)", 0, 0, NULL},
        {"--prompt", "-p", OPT_STR, &prompt, "TEXT", "the text to embed", 0, 0, NULL},
        {"--threads", "-t", OPT_INT, &n_threads, "N", "threads (default: all CPUs)", 1, 256, NULL},
        {"--no-mmap", NULL, OPT_FLAG, &no_mmap, NULL, "read the model into memory instead of mapping it", 0, 0, NULL},
    };
    const cmd_spec spec = {"embed", "[-m MODEL] -p TEXT",
                           "Print the embedding of TEXT: the mean of the final hidden states (after the output norm) "
                           "over its tokens, L2-normalised, as a JSON array; the same numbers as /v1/embeddings.",
                           opts, (int)(sizeof opts / sizeof opts[0]), 0};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&spec, argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (!prompt || !*prompt) {
        fprintf(stderr, "octet embed: -p TEXT is required\n");
        return EXIT_USAGE;
    }
    if (!model) model = cli_default_model();
    int status = EXIT_ERR;
    octet_session *s = NULL;
    int32_t *ids = NULL;
    float *hid = NULL;
    double *acc = NULL;
    octet_error err;
    memset(&err, 0, sizeof err);
    octet_model *m = cli_open_model(model, !no_mmap, 0, 1);
    if (!m) goto done;
    octet_model_info mi;
    octet_model_get_info(m, &mi);
    const int E = mi.n_embd, chunk = 128;
    size_t len = strlen(prompt);
    int n = 0;
    octet_tokenize(m, prompt, len, 1, 0, NULL, 0, &n, &err);
    ids = malloc(((size_t)n + 1) * sizeof *ids);
    hid = malloc((size_t)chunk * (size_t)E * sizeof *hid);
    acc = calloc((size_t)E, sizeof *acc);
    if (!ids || !hid || !acc) {
        fprintf(stderr, "octet: error: out of memory\n");
        goto done;
    }
    if (octet_tokenize(m, prompt, len, 1, 0, ids, n + 1, &n, &err)) {
        fprintf(stderr, "octet: error: tokenize: %s\n", err.msg);
        goto done;
    }
    octet_session_params sp = octet_session_default_params();
    sp.n_ctx = n;
    sp.n_threads = n_threads;
    if (octet_session_new(&s, m, &sp, &err)) {
        fprintf(stderr, "octet: error: %s\n", err.msg);
        goto done;
    }
    for (int at = 0; at < n; at += chunk) {
        int c = n - at < chunk ? n - at : chunk;
        if (octet_session_decode_stage(s, ids + at, NULL, c, at, hid, &err)) {
            fprintf(stderr, "octet: error: %s\n", err.msg);
            goto done;
        }
        for (int t = 0; t < c; t++)
            for (int e = 0; e < E; e++) acc[e] += (double)hid[(size_t)t * (size_t)E + e];
    }
    double ss = 0;
    for (int e = 0; e < E; e++) {
        acc[e] /= (double)n;
        ss += acc[e] * acc[e];
    }
    double inv = ss > 0 ? 1.0 / sqrt(ss) : 0;
    putchar('[');
    for (int e = 0; e < E; e++) printf("%s%.9g", e ? "," : "", (double)(float)(acc[e] * inv));
    printf("]\n");
    status = EXIT_OK;
done:
    free(ids);
    free(hid);
    free(acc);
    octet_session_free(s);
    octet_model_close(m);
    return status;
}
