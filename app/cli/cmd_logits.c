/*
 * cmd_logits.c - `octet logits`: evaluate token ids as one sequence whose first token sits at position --pos0
 * and write float32 little-endian logits, one row of n_vocab values per token. External checks rely on this
 * contract. The file is written to a temporary name in the same folder and renamed, so it is never partial.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dist.h"

int cmd_logits(int argc, char **argv) {
    const char *exec_mode = NULL;
    const char *model = NULL, *tokens = NULL, *out = NULL, *prompt = NULL, *split = NULL;
    int64_t pos0 = 0;
    int n_threads = 0, no_mmap = 0, n_ctx = 0;
    const opt opts[] = {
        {"--model", "-m", OPT_STR, &model, "FILE", "GGUF model (default: the bundled model)", 0, 0, NULL},
        {"--tokens", NULL, OPT_STR, &tokens, "IDS", "comma-separated token ids, e.g. 1,450,3186", 0, 0, NULL},
        {"--prompt", "-p", OPT_STR, &prompt, "TEXT", "tokenize TEXT (with BOS) instead of --tokens", 0, 0, NULL},
        {"--pos0", NULL, OPT_I64, &pos0, "P", "position of the first token (default 0)", 0, 4.0e18, NULL},
        {"--output", "-o", OPT_STR, &out, "FILE", "output file (float32 little-endian, n_tokens x n_vocab)", 0, 0,
         NULL},
        {"--ctx", "-c", OPT_INT, &n_ctx, "N",
         "context size of the session (default: the token count; Phi-3's long RoPE factors apply above the "
         "original context)", 1, 1 << 20, NULL},
        {"--exec", NULL, OPT_STR, &exec_mode, "MODE", "float (default) or int: integer-only arithmetic", 0, 0, NULL},
        {"--threads", "-t", OPT_INT, &n_threads, "N", "threads (default: all CPUs)", 1, 256, NULL},
        {"--no-mmap", NULL, OPT_FLAG, &no_mmap, NULL, "read the model into memory instead of mapping it", 0, 0, NULL},
        {"--split", NULL, OPT_STR, &split, "N,N,..", "under mpiexec: layers per rank (default: balanced by bytes)", 0,
         0, NULL},
    };
    const cmd_spec spec = {"logits", "[-m MODEL] --tokens 1,2,3 [--pos0 P] -o FILE",
                           "Evaluate the tokens as one sequence at positions P..P+n-1 (nothing before them in the "
                           "cache) and write their logits: float32 little-endian, one row of n_vocab per token.",
                           opts, (int)(sizeof opts / sizeof opts[0]), 0};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&spec, argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    int exec = cli_exec_mode(exec_mode);
    if (exec < 0) return EXIT_USAGE;
    if (!out) {
        fprintf(stderr, "octet logits: -o FILE is required\n");
        return EXIT_USAGE;
    }
    if ((tokens != NULL) == (prompt != NULL)) {
        fprintf(stderr, "octet logits: give --tokens IDS or -p TEXT\n");
        return EXIT_USAGE;
    }
    int32_t *ids = NULL;
    int n = 0;
    if (tokens && cli_parse_tokens(tokens, &ids, &n)) return EXIT_USAGE;
    if (!model) model = cli_default_model();
    cli_dist cd; /* distributed run under mpiexec (dist.h); otherwise inert */
    if (cli_dist_start(&cd)) {
        free(ids);
        return EXIT_ERR;
    }

    int status = EXIT_ERR;
    octet_session *s = NULL;
    FILE *f = NULL;
    char *tmp = NULL;
    octet_error err;
    memset(&err, 0, sizeof err);
    octet_model *m = cli_open_model(model, !no_mmap, 0, 1);
    if (!m) goto done;
    if (prompt) {
        size_t len = strlen(prompt);
        rc = octet_tokenize(m, prompt, len, 1, 0, NULL, 0, &n, &err);
        ids = malloc(((size_t)n + 1) * sizeof *ids);
        if (!ids || octet_tokenize(m, prompt, len, 1, 0, ids, n + 1, &n, &err)) {
            fprintf(stderr, "octet: error: tokenize: %s\n", ids ? err.msg : "out of memory");
            goto done;
        }
        if (n == 0) {
            fprintf(stderr, "octet logits: the prompt gives no tokens\n");
            status = EXIT_USAGE;
            goto done;
        }
    }
    int n_vocab = octet_n_vocab(m);
    for (int i = 0; i < n; i++)
        if (ids[i] >= n_vocab) {
            fprintf(stderr, "octet: error: token %d (index %d) is outside the vocabulary of %d\n", ids[i], i, n_vocab);
            goto done;
        }
    octet_session_params sp = octet_session_default_params();
    sp.n_ctx = n_ctx > n ? n_ctx : n;
    sp.n_batch = n;
    sp.n_threads = n_threads;
    sp.exec = exec;
    sp.logits_all = 1;
    int dr = cli_dist_pipeline(&cd, m, model, split, &sp, 1);
    if (dr) { /* > 0: a later stage that served until the end */
        status = dr > 0 ? EXIT_OK : EXIT_ERR;
        goto done;
    }
    if ((!cd.pl && octet_session_new(&s, m, &sp, &err)) || cli_decode(&cd, s, ids, n, pos0, &err)) {
        fprintf(stderr, "octet: error: %s\n", err.msg);
        goto done;
    }
    size_t tl = strlen(out) + 32;
    tmp = malloc(tl);
    if (!tmp) goto done;
    snprintf(tmp, tl, "%s.tmp.%ld", out, (long)getpid());
    f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "octet: error: cannot create %s\n", tmp);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (fwrite(cli_logits(&cd, s, i), sizeof(float), (size_t)n_vocab, f) != (size_t)n_vocab) {
            fprintf(stderr, "octet: error: writing %s failed\n", tmp);
            goto done;
        }
    }
    if (fflush(f) || fsync(fileno(f)) || fclose(f)) {
        f = NULL;
        fprintf(stderr, "octet: error: writing %s failed\n", tmp);
        goto done;
    }
    f = NULL;
    if (rename(tmp, out)) {
        fprintf(stderr, "octet: error: cannot rename %s to %s\n", tmp, out);
        goto done;
    }
    fprintf(stderr, "octet: wrote %d x %d logits to %s\n", n, n_vocab, out);
    status = EXIT_OK;
done:
    if (f) fclose(f);
    if (status != EXIT_OK && tmp) unlink(tmp);
    status = cli_dist_end(&cd, status);
    free(tmp);
    free(ids);
    octet_session_free(s);
    octet_model_close(m);
    return status;
}
