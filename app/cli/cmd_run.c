/*
 * cmd_run.c - `octet run`: tokenize a prompt, evaluate it as one batch, then sample and stream tokens.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "dist.h"

int cmd_run(int argc, char **argv) {
    const char *exec_mode = NULL;
    const char *model = NULL, *prompt = NULL, *file = NULL, *split = NULL;
    int n_predict = 128, n_threads = 0, n_ctx = 0, n_batch = 512, no_mmap = 0, mlock = 0, ignore_eos = 0;
    int no_display_prompt = 0, seed_given = 0, lookup = 0, n_draft = 8;
    const char *draft_path = NULL;
    float draft_p_min = 0.0f;
    const char *grammar = NULL, *grammar_file = NULL, *json_schema = NULL, *json_schema_file = NULL;
    uint64_t seed = 0;
    octet_sampler_params sp = octet_sampler_default_params();
    const opt opts[] = {
        {"--model", "-m", OPT_STR, &model, "FILE", "GGUF model (default: the bundled model)", 0, 0, NULL},
        {"--prompt", "-p", OPT_STR, &prompt, "TEXT", "prompt to continue", 0, 0, NULL},
        {"--file", "-f", OPT_STR, &file, "FILE", "read the prompt from a file", 0, 0, NULL},
        {"--n-predict", "-n", OPT_INT, &n_predict, "N", "tokens to generate (default 128; -1: until end or full)", -1,
         1 << 24, NULL},
        {"--exec", NULL, OPT_STR, &exec_mode, "MODE", "float (default) or int: integer-only arithmetic", 0, 0, NULL},
        {"--threads", "-t", OPT_INT, &n_threads, "N", "threads (default: all CPUs)", 1, 256, NULL},
        {"--ctx-size", "-c", OPT_INT, &n_ctx, "N", "context size (default: min(model context, 4096))", 0, 1 << 20,
         NULL},
        {"--batch-size", "-b", OPT_INT, &n_batch, "N", "prompt tokens per forward pass (default 512)", 1, 65536, NULL},
        {"--temp", NULL, OPT_FLOAT, &sp.temp, "X", "temperature (default 0.8; 0: greedy)", 0, 100, NULL},
        {"--top-k", NULL, OPT_INT, &sp.top_k, "K", "keep the K most likely tokens (default 40; 0: off)", 0, 1 << 30,
         NULL},
        {"--top-p", NULL, OPT_FLOAT, &sp.top_p, "P", "nucleus sampling (default 0.95; 1: off)", 0, 1, NULL},
        {"--min-p", NULL, OPT_FLOAT, &sp.min_p, "P", "drop tokens below P x the top probability (default 0.05)", 0, 1,
         NULL},
        {"--repeat-penalty", NULL, OPT_FLOAT, &sp.repeat_penalty, "X", "penalise repeated tokens (default 1.0: off)",
         0.01, 100, NULL},
        {"--repeat-last-n", NULL, OPT_INT, &sp.repeat_last_n, "N", "window for the repeat penalty (default 64)", 0,
         1 << 20, NULL},
        {"--seed", "-s", OPT_U64, &seed, "N", "random seed (default: from the clock, printed)", 0, 0, &seed_given},
        {"--grammar", NULL, OPT_STR, &grammar, "TEXT", "constrain the output to a GBNF grammar (start rule: root)", 0,
         0, NULL},
        {"--grammar-file", NULL, OPT_STR, &grammar_file, "FILE", "read the GBNF grammar from a file", 0, 0, NULL},
        {"--json-schema", "-j", OPT_STR, &json_schema, "JSON", "constrain the output to JSON valid under a schema "
         "('{}': any JSON value)", 0, 0, NULL},
        {"--json-schema-file", NULL, OPT_STR, &json_schema_file, "FILE", "read the JSON Schema from a file", 0, 0,
         NULL},
        {"--ignore-eos", NULL, OPT_FLAG, &ignore_eos, NULL, "keep generating after an end-of-text token", 0, 0, NULL},
        {"--no-display-prompt", NULL, OPT_FLAG, &no_display_prompt, NULL, "print only the generated text", 0, 0,
         NULL},
        {"--no-mmap", NULL, OPT_FLAG, &no_mmap, NULL, "read the model into memory instead of mapping it", 0, 0, NULL},
        {"--mlock", NULL, OPT_FLAG, &mlock, NULL, "lock the model in RAM", 0, 0, NULL},
        {"--draft-model", "-md", OPT_STR, &draft_path, "FILE",
         "speculative decoding: a smaller model with the same vocabulary drafts tokens the model verifies in one pass "
         "(the same text at --temp 0, the same distribution otherwise)", 0, 0, NULL},
        {"--lookup", NULL, OPT_FLAG, &lookup, NULL,
         "speculative decoding with prompt-lookup drafts (the tokens that followed the last n-gram's earlier "
         "occurrence) instead of a draft model", 0, 0, NULL},
        {"--draft-max", NULL, OPT_INT, &n_draft, "N", "tokens drafted per pass (default 8)", 1, 64, NULL},
        {"--draft-p-min", NULL, OPT_FLOAT, &draft_p_min, "P",
         "the draft model drafts while its pick has at least this probability (default 0: always --draft-max)", 0, 1, NULL},
        {"--split", NULL, OPT_STR, &split, "N,N,..", "under mpiexec: layers per rank (default: balanced by bytes)", 0,
         0, NULL},
    };
    const cmd_spec spec = {"run", "[-m MODEL] -p PROMPT [options]",
                           "Continue PROMPT with the model; text goes to stdout, load information and timings to "
                           "stderr.",
                           opts, (int)(sizeof opts / sizeof opts[0]), 0};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&spec, argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    int exec = cli_exec_mode(exec_mode);
    if (exec < 0) return EXIT_USAGE;
    if (prompt && file) {
        fprintf(stderr, "octet run: give either -p or -f, not both\n");
        return EXIT_USAGE;
    }
    if (!!grammar + !!grammar_file + !!json_schema + !!json_schema_file > 1) {
        fprintf(stderr, "octet run: give one of --grammar, --grammar-file, --json-schema, --json-schema-file\n");
        return EXIT_USAGE;
    }
    /* the grammar first: a mistake in it is a usage error reported before the model loads */
    octet_grammar *gram = NULL;
    octet_grammar_vocab *gvocab = NULL;
    if (grammar || grammar_file || json_schema || json_schema_file) {
        const char *src = grammar ? grammar : json_schema;
        size_t src_len = src ? strlen(src) : 0;
        char *ftext = NULL;
        if (grammar_file || json_schema_file) {
            ftext = cli_read_file(grammar_file ? grammar_file : json_schema_file, &src_len);
            if (!ftext) return EXIT_ERR;
            src = ftext;
        }
        char *gbnf = NULL;
        octet_error gerr;
        memset(&gerr, 0, sizeof gerr);
        int grc = 0;
        if (json_schema || json_schema_file) {
            grc = octet_json_schema_to_gbnf(src, src_len, &gbnf, &src_len, &gerr);
            src = gbnf;
        }
        if (!grc) grc = octet_grammar_new(&gram, src, src_len, &gerr);
        free(gbnf);
        free(ftext);
        if (grc) {
            fprintf(stderr, "octet run: %s\n", gerr.msg);
            return grc == OCTET_ENOMEM ? EXIT_ERR : EXIT_USAGE;
        }
    }
    char *file_text = NULL;
    size_t prompt_len = 0;
    if (file) {
        file_text = cli_read_file(file, &prompt_len);
        if (!file_text) {
            octet_grammar_free(gram);
            return EXIT_ERR;
        }
        prompt = file_text;
    } else {
        if (!prompt) prompt = "";
        prompt_len = strlen(prompt);
    }
    if (!seed_given) seed = (uint64_t)time(NULL);
    sp.seed = seed;
    if (!model) model = cli_default_model();
    const int spec_on = draft_path || lookup;
    if (draft_path && lookup) {
        fprintf(stderr, "octet run: give either --draft-model or --lookup, not both\n");
        free(file_text);
        return EXIT_USAGE;
    }
    if (spec_on && (grammar || grammar_file || json_schema || json_schema_file)) {
        fprintf(stderr, "octet run: speculative decoding does not take a grammar or JSON schema yet\n");
        free(file_text);
        return EXIT_USAGE;
    }
    if (spec_on && n_draft + 1 > n_batch) {
        fprintf(stderr, "octet run: --draft-max %d needs a batch size of at least %d (-b)\n", n_draft, n_draft + 1);
        free(file_text);
        return EXIT_USAGE;
    }
    cli_dist cd; /* distributed run under mpiexec (dist.h); otherwise inert */
    if (cli_dist_start(&cd)) {
        octet_grammar_free(gram);
        free(file_text);
        return EXIT_ERR;
    }

    int status = EXIT_ERR;
    octet_model *m = NULL;
    octet_session *s = NULL;
    octet_sampler *smp = NULL;
    octet_model *dm = NULL;
    octet_drafter *drafter = NULL;
    int32_t *toks = NULL;
    octet_error err;
    memset(&err, 0, sizeof err);

    m = cli_open_model(model, !no_mmap, mlock, cli_dist_quiet(&cd));
    if (!m) goto out;
    octet_model_info mi;
    octet_model_get_info(m, &mi);
    octet_session_params ssp = octet_session_default_params();
    ssp.n_ctx = n_ctx;
    ssp.n_threads = n_threads;
    ssp.exec = exec;
    ssp.n_batch = n_batch;
    if (spec_on) ssp.n_logits = n_draft + 1; /* the pending token's and every draft's logits */
    int dr = cli_dist_pipeline(&cd, m, model, split, &ssp, 1);
    if (dr) { /* > 0: a later stage that served until the end */
        status = dr > 0 ? EXIT_OK : EXIT_ERR;
        goto out;
    }
    if (!cd.pl && octet_session_new(&s, m, &ssp, &err)) {
        fprintf(stderr, "octet: error: %s\n", err.msg);
        goto out;
    }
    if (spec_on) {
        if (cd.pl) {
            fprintf(stderr, "octet: error: speculative decoding does not run as a distributed pipeline yet\n");
            goto out;
        }
        octet_drafter_params dp = octet_drafter_default_params();
        if (draft_path) {
            if (!(dm = cli_open_model(draft_path, !no_mmap, 0, 0))) goto out;
            dp.draft_model = dm;
            dp.n_ctx = octet_session_n_ctx(s);
            dp.n_threads = 1; /* the caller alone: a second pool would spin against the target's workers */
            dp.exec = exec;
            dp.p_min = draft_p_min;
        }
        if (octet_drafter_new(&drafter, m, &dp, &err)) {
            fprintf(stderr, "octet: error: %s\n", err.msg);
            goto out;
        }
    }
    int ctx = cli_n_ctx(&cd, s);
    int n_tok = 0;
    if (octet_tokenize(m, prompt, prompt_len, 1, 0, NULL, 0, &n_tok, &err) && err.code != OCTET_ERANGE) {
        fprintf(stderr, "octet: error: tokenize: %s\n", err.msg);
        goto out;
    }
    toks = malloc(((size_t)n_tok + 1) * sizeof *toks);
    if (!toks || octet_tokenize(m, prompt, prompt_len, 1, 0, toks, n_tok + 1, &n_tok, &err)) {
        fprintf(stderr, "octet: error: tokenize: %s\n", toks ? err.msg : "out of memory");
        goto out;
    }
    if (n_tok == 0) {
        fprintf(stderr, "octet run: the prompt is empty and the model adds no BOS token; give -p TEXT\n");
        status = EXIT_USAGE;
        goto out;
    }
    if (n_tok >= ctx) {
        fprintf(stderr, "octet: error: the prompt has %d tokens but the context holds %d (use -c)\n", n_tok, ctx);
        goto out;
    }
    if (octet_sampler_new(&smp, &sp, octet_n_vocab(m), &err)) {
        fprintf(stderr, "octet: error: %s\n", err.msg);
        goto out;
    }
    if (gram) {
        if (octet_grammar_vocab_new(&gvocab, m, &err) || octet_sampler_set_grammar(smp, gram, gvocab)) {
            fprintf(stderr, "octet: error: %s\n", gvocab ? "the grammar's vocabulary does not match" : err.msg);
            goto out;
        }
    }
    char thr[16];
    if (n_threads) snprintf(thr, sizeof thr, "%d", n_threads);
    else snprintf(thr, sizeof thr, "all CPUs");
    fprintf(stderr, "octet: prompt %d tokens, context %d, threads %s, seed %llu, temp %.2f, exec %s\n", n_tok, ctx, thr,
            (unsigned long long)seed, (double)sp.temp, exec == OCTET_EXEC_INT ? "int" : "float");
    utf8_out out = {stdout, {0}, 0};
    if (!no_display_prompt) {
        fwrite(prompt, 1, prompt_len, stdout);
        fflush(stdout);
    }
    for (int i = 0; i < n_tok; i++) octet_sampler_accept(smp, toks[i]);

    double t0 = cli_now_ms();
    if (cli_decode(&cd, s, toks, n_tok, 0, &err)) {
        fprintf(stderr, "\noctet: error: %s\n", err.msg);
        goto out;
    }
    double t_prompt = cli_now_ms() - t0;
    int n_gen = 0;
    double t1 = cli_now_ms();
    char piece[256];
    cli_spec_stats sst;
    if (spec_on) {
        if (cli_spec_generate(m, s, smp, drafter, n_draft, toks, n_tok, n_predict, ignore_eos, &out, &sst, &err)) goto out;
        n_gen = sst.n_gen;
    }
    const float *logits = spec_on ? NULL : cli_logits(&cd, s, n_tok - 1);
    while (!spec_on && (n_predict < 0 || n_gen < n_predict)) {
        int32_t tok = octet_sampler_sample(smp, logits);
        if (tok < 0) {
            fprintf(stderr, "\noctet: error: no token of the vocabulary can continue the grammar\n");
            goto out;
        }
        if ((!ignore_eos || gram) && octet_token_is_eog(m, tok)) break;
        if (gram && octet_grammar_accept_token(gram, gvocab, tok)) {
            fprintf(stderr, "\noctet: error: the grammar refused token %d\n", (int)tok);
            goto out;
        }
        octet_sampler_accept(smp, tok);
        int n = octet_token_to_piece(m, tok, 0, piece, sizeof piece);
        if (n > 0) utf8_write(&out, piece, (size_t)(n < (int)sizeof piece ? n : (int)sizeof piece));
        fflush(stdout);
        n_gen++;
        if (cli_n_past(&cd, s) >= ctx) {
            fprintf(stderr, "\noctet: context full (%d tokens)\n", ctx);
            break;
        }
        if (n_predict >= 0 && n_gen >= n_predict) break;
        if (cli_decode(&cd, s, &tok, 1, cli_n_past(&cd, s), &err)) {
            fprintf(stderr, "\noctet: error: %s\n", err.msg);
            goto out;
        }
        logits = cli_logits(&cd, s, 0);
    }
    double t_gen = cli_now_ms() - t1;
    utf8_flush(&out);
    printf("\n");
    fflush(stdout);
    fprintf(stderr, "octet: prompt eval time = %10.2f ms / %5d tokens (%8.2f ms per token, %9.2f tokens per second)\n",
            t_prompt, n_tok, t_prompt / n_tok, 1e3 * n_tok / t_prompt);
    if (n_gen > 0)
        fprintf(stderr,
                "octet:        eval time = %10.2f ms / %5d tokens (%8.2f ms per token, %9.2f tokens per second)\n",
                t_gen, n_gen, t_gen / n_gen, 1e3 * n_gen / t_gen);
    if (spec_on)
        fprintf(stderr, "octet: drafts (%s): %d passes, %d tokens drafted, %d accepted (%.1f%%), %.2f tokens per pass\n",
                draft_path ? "draft model" : "prompt lookup", sst.n_passes, sst.n_drafted, sst.n_accepted,
                sst.n_drafted ? 100.0 * sst.n_accepted / sst.n_drafted : 0.0,
                sst.n_passes ? (double)(n_gen - 1) / sst.n_passes : 0.0);
    if (gram && !octet_grammar_is_complete(gram))
        fprintf(stderr, "octet: warning: the output is incomplete under the grammar (stopped by -n or the context)\n");
    status = EXIT_OK;
out:
    octet_drafter_free(drafter);
    octet_model_close(dm);
    status = cli_dist_end(&cd, status);
    free(toks);
    free(file_text);
    octet_sampler_free(smp);
    octet_grammar_free(gram);
    octet_grammar_vocab_free(gvocab);
    octet_session_free(s);
    octet_model_close(m);
    return status;
}
