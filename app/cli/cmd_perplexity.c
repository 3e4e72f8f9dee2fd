/*
 * cmd_perplexity.c - `octet perplexity`: perplexity over non-overlapping chunks of a text, and KL divergence of
 * a model against a saved base.
 *
 * Method (as llama.cpp's llama-perplexity, so numbers compare): the whole text is tokenized once (with BOS when
 * the model adds one); it is cut into n_chunk = min(--chunks, n_tokens / n_ctx) chunks of n_ctx tokens; the
 * first token of each chunk is replaced by BOS when the model adds BOS; each chunk is evaluated from an empty
 * cache at positions 0..n_ctx-1, and only the second half is scored: the logits at j = n_ctx/2 .. n_ctx-2
 * predict token j+1. PPL = exp(mean NLL); its uncertainty is PPL * sqrt(var(NLL) / (count - 1)).
 *
 * KL divergence: `--kl-divergence-base FILE` alone evaluates the model and saves, for every scored token, the
 * full log-softmax row (float32) plus the tokens, in octet's own format (below). With `--kl-divergence` the
 * tokens are read back from FILE, the model under test is evaluated on them, and per scored token
 * KL(base || model) = sum_i p_base(i) (log p_base(i) - log p_model(i)) is computed in double. The rows are
 * stored exactly, so a model compared with itself gives exactly 0.
 *
 * Base file layout (little-endian): "OCTKLD01", uint32 n_ctx, uint32 n_vocab, uint32 n_chunk, uint32 first,
 * int32 tokens[n_chunk * n_ctx], then n_chunk * (n_ctx - 1 - first) rows of n_vocab float32 log-probabilities.
 * It is written to a temporary file and renamed.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dist.h"
#include "eval.h"

static const char KLD_MAGIC[8] = {'O', 'C', 'T', 'K', 'L', 'D', '0', '1'};

static int read_exact(FILE *f, void *p, size_t n) { return fread(p, 1, n, f) == n ? 0 : -1; }

typedef struct kld_file {
    FILE *in, *out;
    const char *in_name, *out_name;
    size_t n_vocab;
} kld_file;

static int kld_save(void *ud, const float *lp) {
    kld_file *k = ud;
    if (fwrite(lp, sizeof *lp, k->n_vocab, k->out) != k->n_vocab) {
        fprintf(stderr, "\noctet: error: writing %s failed\n", k->out_name);
        return -1;
    }
    return 0;
}

static int kld_load(void *ud, float *base) {
    kld_file *k = ud;
    if (read_exact(k->in, base, k->n_vocab * sizeof *base)) {
        fprintf(stderr, "\noctet: error: %s: truncated\n", k->in_name);
        return -1;
    }
    return 0;
}

int cmd_perplexity(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *kld_base = NULL, *exec_mode = NULL, *split = NULL;
    int n_ctx = 0, n_chunks = -1, n_threads = 0, do_kld = 0, no_mmap = 0;
    const opt opts[] = {
        {"--model", "-m", OPT_STR, &model, "FILE", "GGUF model (default: the bundled model)", 0, 0, NULL},
        {"--file", "-f", OPT_STR, &file, "FILE", "text to evaluate", 0, 0, NULL},
        {"--ctx-size", "-c", OPT_INT, &n_ctx, "N", "tokens per chunk (default: min(512, model context))", 0,
         1 << 20, NULL},
        {"--chunks", NULL, OPT_INT, &n_chunks, "N", "evaluate at most N chunks (default: all)", -1, 1 << 30, NULL},
        {"--threads", "-t", OPT_INT, &n_threads, "N", "threads (default: all CPUs)", 1, 256, NULL},
        {"--exec", NULL, OPT_STR, &exec_mode, "MODE", "float (default) or int: integer-only arithmetic", 0, 0, NULL},
        {"--kl-divergence-base", NULL, OPT_STR, &kld_base, "FILE",
         "save the model's log-probabilities to FILE (or, with --kl-divergence, read them)", 0, 0, NULL},
        {"--kl-divergence", NULL, OPT_FLAG, &do_kld, NULL,
         "compare the model against the base saved in --kl-divergence-base", 0, 0, NULL},
        {"--no-mmap", NULL, OPT_FLAG, &no_mmap, NULL, "read the model into memory instead of mapping it", 0, 0, NULL},
        {"--split", NULL, OPT_STR, &split, "N,N,..", "under mpiexec: layers per rank (default: balanced by bytes)", 0,
         0, NULL},
    };
    const cmd_spec spec = {
        "perplexity", "[-m MODEL] -f TEXT [-c CTX] [--chunks N] [--kl-divergence-base FILE [--kl-divergence]]",
        "Perplexity over non-overlapping chunks of TEXT, scoring the second half of each chunk (as llama.cpp), "
        "ending with 'Final estimate: PPL = X +/- Y'. With --kl-divergence-base the model's log-probabilities are "
        "saved; adding --kl-divergence compares a (quantized) model against them: KL divergence (mean, 99th "
        "percentile), PPL ratio and same-top-1 rate. Progress goes to stderr.",
        opts, (int)(sizeof opts / sizeof opts[0]), 0};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&spec, argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    int exec = cli_exec_mode(exec_mode);
    if (exec < 0) return EXIT_USAGE;
    if (do_kld && !kld_base) {
        fprintf(stderr, "octet perplexity: --kl-divergence needs --kl-divergence-base FILE\n");
        return EXIT_USAGE;
    }
    if (!do_kld && !file) {
        fprintf(stderr, "octet perplexity: -f TEXT is required\n");
        return EXIT_USAGE;
    }
    if (!model) model = cli_default_model();
    cli_dist cd; /* distributed run under mpiexec (dist.h): chunks flow through the stages as micro-batches */
    if (cli_dist_start(&cd)) return EXIT_ERR;

    int status = EXIT_ERR;
    char *text = NULL, *tmp = NULL;
    int32_t *toks = NULL;
    eval_stats st;
    memset(&st, 0, sizeof st);
    FILE *fin = NULL, *fout = NULL;
    octet_session *s = NULL;
    octet_error err;
    memset(&err, 0, sizeof err);
    octet_model *m = cli_open_model(model, !no_mmap, 0, cli_dist_quiet(&cd));
    if (!m) goto out;
    octet_model_info mi;
    octet_model_get_info(m, &mi);
    const int V = mi.n_vocab;
    int n_tok = 0, n_chunk = 0, first = 0;

    if (do_kld) {
        fin = fopen(kld_base, "rb");
        if (!fin) {
            fprintf(stderr, "octet: error: %s: %s\n", kld_base, strerror(errno));
            goto out;
        }
        char magic[8];
        uint32_t hdr[4];
        if (read_exact(fin, magic, 8) || memcmp(magic, KLD_MAGIC, 8) || read_exact(fin, hdr, sizeof hdr)) {
            fprintf(stderr, "octet: error: %s: not an octet KL-divergence base file (bad magic or header)\n",
                    kld_base);
            goto out;
        }
        if (hdr[0] < 4 || hdr[0] > (1u << 20) || hdr[2] == 0 || hdr[2] > (1u << 24) || hdr[3] != hdr[0] / 2) {
            fprintf(stderr, "octet: error: %s: header fields out of range (n_ctx %u, chunks %u, first %u)\n",
                    kld_base, hdr[0], hdr[2], hdr[3]);
            goto out;
        }
        if ((int)hdr[1] != V) {
            fprintf(stderr, "octet: error: %s: vocabulary of %u tokens, but the model has %d\n", kld_base, hdr[1], V);
            goto out;
        }
        if (n_ctx && n_ctx != (int)hdr[0])
            fprintf(stderr, "octet: note: -c %d ignored: the base was computed with -c %u\n", n_ctx, hdr[0]);
        n_ctx = (int)hdr[0];
        n_chunk = (int)hdr[2];
        first = (int)hdr[3];
        /* the file must hold exactly what the header announces */
        uint64_t rows = (uint64_t)n_chunk * (uint64_t)(n_ctx - 1 - first);
        uint64_t want = 8 + sizeof hdr + (uint64_t)n_chunk * (uint64_t)n_ctx * 4 + rows * (uint64_t)V * 4;
        if (fseeko(fin, 0, SEEK_END) || (uint64_t)ftello(fin) != want || fseeko(fin, 8 + (off_t)sizeof hdr, SEEK_SET)) {
            fprintf(stderr, "octet: error: %s: size does not match its header (expected %llu bytes)\n", kld_base,
                    (unsigned long long)want);
            goto out;
        }
        n_tok = n_chunk * n_ctx;
        toks = malloc((size_t)n_tok * sizeof *toks);
        if (!toks || read_exact(fin, toks, (size_t)n_tok * sizeof *toks)) {
            fprintf(stderr, "octet: error: %s: cannot read the tokens\n", kld_base);
            goto out;
        }
        for (int i = 0; i < n_tok; i++)
            if (toks[i] < 0 || toks[i] >= V) {
                fprintf(stderr, "octet: error: %s: token %d at index %d is outside the vocabulary\n", kld_base,
                        toks[i], i);
                goto out;
            }
        if (n_chunks >= 0 && n_chunks < n_chunk) n_chunk = n_chunks;
    } else {
        size_t len;
        text = cli_read_file(file, &len);
        if (!text) goto out;
        if (n_ctx == 0) n_ctx = mi.n_ctx_train < 512 ? mi.n_ctx_train : 512;
        if (n_ctx < 4) {
            fprintf(stderr, "octet perplexity: -c must be at least 4\n");
            status = EXIT_USAGE;
            goto out;
        }
        if (n_ctx > mi.n_ctx_train)
            fprintf(stderr, "octet: warning: -c %d exceeds the model's training context %d\n", n_ctx, mi.n_ctx_train);
        rc = octet_tokenize(m, text, len, 1, 0, NULL, 0, &n_tok, &err);
        if (rc && rc != OCTET_ERANGE) {
            fprintf(stderr, "octet: error: tokenize: %s\n", err.msg);
            goto out;
        }
        toks = malloc(((size_t)n_tok + 1) * sizeof *toks);
        if (!toks || octet_tokenize(m, text, len, 1, 0, toks, n_tok + 1, &n_tok, &err)) {
            fprintf(stderr, "octet: error: tokenize: %s\n", toks ? err.msg : "out of memory");
            goto out;
        }
        if (n_tok < 2 * n_ctx) {
            fprintf(stderr, "octet: error: %s gives %d tokens; a context of %d needs at least %d\n", file, n_tok,
                    n_ctx, 2 * n_ctx);
            goto out;
        }
        n_chunk = n_tok / n_ctx;
        if (n_chunks >= 0 && n_chunks < n_chunk) n_chunk = n_chunks;
        first = n_ctx / 2;
    }
    if (n_chunk <= 0) {
        fprintf(stderr, "octet: error: no chunk to evaluate\n");
        goto out;
    }

    octet_session_params sp = octet_session_default_params();
    sp.n_ctx = n_ctx;
    sp.n_batch = n_ctx;
    sp.n_threads = n_threads;
    sp.logits_all = 1;
    sp.exec = exec;
    int dr = cli_dist_pipeline(&cd, m, model, split, &sp, n_chunk < cd.size + 1 ? n_chunk : cd.size + 1);
    if (dr) { /* > 0: a later stage that served until the end */
        status = dr > 0 ? EXIT_OK : EXIT_ERR;
        goto out;
    }
    if (!cd.pl && octet_session_new(&s, m, &sp, &err)) {
        fprintf(stderr, "octet: error: %s\n", err.msg);
        goto out;
    }
    if (kld_base && !do_kld) {
        size_t tl = strlen(kld_base) + 32;
        tmp = malloc(tl);
        if (!tmp) goto out;
        snprintf(tmp, tl, "%s.tmp.%ld", kld_base, (long)getpid());
        fout = fopen(tmp, "wb");
        uint32_t hdr[4] = {(uint32_t)n_ctx, (uint32_t)V, (uint32_t)n_chunk, (uint32_t)first};
        if (!fout || fwrite(KLD_MAGIC, 1, 8, fout) != 8 || fwrite(hdr, sizeof hdr, 1, fout) != 1 ||
            fwrite(toks, sizeof *toks, (size_t)n_chunk * (size_t)n_ctx, fout) != (size_t)n_chunk * (size_t)n_ctx) {
            fprintf(stderr, "octet: error: cannot write %s\n", tmp);
            goto out;
        }
    }
    fprintf(stderr, "octet: perplexity over %d chunks of %d tokens (%d scored per chunk), %s mode\n", n_chunk, n_ctx,
            n_ctx - 1 - first, exec == OCTET_EXEC_INT ? "integer" : "float");
    kld_file kf = {fin, fout, kld_base, tmp, (size_t)V};
    eval_io io = {fout ? kld_save : NULL, do_kld ? kld_load : NULL, &kf, cd.pl};
    if (eval_chunks(s, &mi, toks, n_ctx, n_chunk, &io, &st, 1)) goto out;
    size_t count = st.count;
    double mean, unc;
    eval_mean_unc(st.nll, st.nll2, count, &mean, &unc);
    double ppl = exp(mean);
    printf("Final estimate: PPL = %.4f +/- %.5f\n", ppl, ppl * unc);
    if (do_kld) {
        double mb, ub, mk, uk;
        eval_mean_unc(st.nllb, st.nllb2, count, &mb, &ub);
        eval_mean_unc(st.kl, st.kl2, count, &mk, &uk);
        double p99 = eval_kld_percentile(&st, 0.99), med = eval_kld_percentile(&st, 0.5);
        double cov = count > 1 ? (st.nll_nllb / (double)count - mean * mb) / (double)(count - 1) : 0;
        double lr = mean - mb, lr_unc = sqrt(fmax(0.0, unc * unc + ub * ub - 2 * cov));
        double top = (double)st.same_top / (double)count;
        printf("\n====== Perplexity statistics ======\n");
        printf("Mean PPL(Q)              : %10.6f +/- %10.6f\n", ppl, ppl * unc);
        printf("Mean PPL(base)           : %10.6f +/- %10.6f\n", exp(mb), exp(mb) * ub);
        printf("Mean PPL(Q)/PPL(base)    : %10.6f +/- %10.6f\n", exp(lr), exp(lr) * lr_unc);
        printf("Mean ln(PPL(Q)/PPL(base)): %10.6f +/- %10.6f\n", lr, lr_unc);
        printf("\n====== KL divergence statistics ======\n");
        printf("Mean    KLD: %10.6f +/- %10.6f\n", mk, uk);
        printf("Maximum KLD: %10.6f\n", st.kld_vals[count - 1]);
        printf("99.0%%   KLD: %10.6f\n", p99);
        printf("Median  KLD: %10.6f\n", med);
        printf("Minimum KLD: %10.6f\n", st.kld_vals[0]);
        printf("Same top p : %7.3f +/- %5.3f %%\n", 100 * top,
               count > 1 ? 100 * sqrt(top * (1 - top) / (double)(count - 1)) : 0.0);
    }
    fflush(stdout);
    if (fout) {
        if (fflush(fout) || fsync(fileno(fout)) || fclose(fout)) {
            fout = NULL;
            fprintf(stderr, "octet: error: writing %s failed\n", tmp);
            goto out;
        }
        fout = NULL;
        if (rename(tmp, kld_base)) {
            fprintf(stderr, "octet: error: cannot rename %s to %s: %s\n", tmp, kld_base, strerror(errno));
            goto out;
        }
        fprintf(stderr, "octet: saved %zu log-probability rows to %s\n", st.count, kld_base);
    }
    status = EXIT_OK;
out:
    if (fout) fclose(fout);
    if (tmp && status != EXIT_OK) unlink(tmp);
    status = cli_dist_end(&cd, status);
    if (fin) fclose(fin);
    free(tmp);
    free(text);
    free(toks);
    eval_stats_free(&st);
    octet_session_free(s);
    octet_model_close(m);
    return status;
}
