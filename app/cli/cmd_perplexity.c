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

static const char KLD_MAGIC[8] = {'O', 'C', 'T', 'K', 'L', 'D', '0', '1'};

/* log-softmax of row (n floats) into out (double accumulation of the sum, as llama.cpp). */
static void log_softmax(const float *row, int n, float *out) {
    float mx = row[0];
    for (int i = 1; i < n; i++)
        if (row[i] > mx) mx = row[i];
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)expf(row[i] - mx);
    float lse = (float)log(sum);
    for (int i = 0; i < n; i++) out[i] = row[i] - mx - lse;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, size_t n, double f) {
    if (n == 0) return 0.0;
    double p = f * (double)(n - 1);
    size_t i = (size_t)p;
    double frac = p - (double)i;
    return i + 1 < n ? (1 - frac) * sorted[i] + frac * sorted[i + 1] : sorted[n - 1];
}

/* mean and standard error of a sum of count values with sum of squares sum2 */
static void mean_unc(double sum, double sum2, size_t count, double *mean, double *unc) {
    *mean = count ? sum / (double)count : 0.0;
    double var = count ? sum2 / (double)count - *mean * *mean : 0.0;
    *unc = (var > 0 && count > 1) ? sqrt(var / (double)(count - 1)) : 0.0;
}

static int read_exact(FILE *f, void *p, size_t n) { return fread(p, 1, n, f) == n ? 0 : -1; }

int cmd_perplexity(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *kld_base = NULL, *exec_mode = NULL;
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

    int status = EXIT_ERR;
    char *text = NULL, *tmp = NULL;
    int32_t *toks = NULL;
    float *lp = NULL, *base_row = NULL;
    double *kld_vals = NULL;
    FILE *fin = NULL, *fout = NULL;
    octet_session *s = NULL;
    octet_error err;
    memset(&err, 0, sizeof err);
    octet_model *m = cli_open_model(model, !no_mmap, 0, 0);
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
    if (octet_session_new(&s, m, &sp, &err)) {
        fprintf(stderr, "octet: error: %s\n", err.msg);
        goto out;
    }
    const int n_score = n_ctx - 1 - first;
    lp = malloc((size_t)V * sizeof *lp);
    base_row = malloc((size_t)V * sizeof *base_row);
    kld_vals = do_kld ? malloc((size_t)n_chunk * (size_t)n_score * sizeof *kld_vals) : NULL;
    if (!lp || !base_row || (do_kld && !kld_vals)) {
        fprintf(stderr, "octet: error: out of memory\n");
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
            n_score, exec == OCTET_EXEC_INT ? "integer" : "float");
    int32_t *chunk = malloc((size_t)n_ctx * sizeof *chunk);
    if (!chunk) goto out;
    double nll = 0, nll2 = 0, nllb = 0, nllb2 = 0, nll_nllb = 0, kl = 0, kl2 = 0;
    size_t count = 0, same_top = 0;
    double t0 = cli_now_ms();
    for (int c = 0; c < n_chunk; c++) {
        memcpy(chunk, toks + (size_t)c * (size_t)n_ctx, (size_t)n_ctx * sizeof *chunk);
        if (mi.add_bos && mi.bos_id >= 0) chunk[0] = mi.bos_id;
        octet_session_truncate(s, 0);
        if (octet_session_decode(s, chunk, n_ctx, 0, &err)) {
            fprintf(stderr, "\noctet: error: %s\n", err.msg);
            free(chunk);
            goto out;
        }
        for (int j = first; j < n_ctx - 1; j++) {
            const float *row = octet_session_logits(s, j);
            int next = toks[(size_t)c * (size_t)n_ctx + (size_t)j + 1];
            log_softmax(row, V, lp);
            double v = -(double)lp[next];
            nll += v;
            nll2 += v * v;
            if (fout && fwrite(lp, sizeof *lp, (size_t)V, fout) != (size_t)V) {
                fprintf(stderr, "\noctet: error: writing %s failed\n", tmp);
                free(chunk);
                goto out;
            }
            if (do_kld) {
                if (read_exact(fin, base_row, (size_t)V * sizeof *base_row)) {
                    fprintf(stderr, "\noctet: error: %s: truncated\n", kld_base);
                    free(chunk);
                    goto out;
                }
                double vb = -(double)base_row[next], d = 0;
                nllb += vb;
                nllb2 += vb * vb;
                nll_nllb += v * vb;
                for (int i = 0; i < V; i++) {
                    if (base_row[i] != base_row[i]) continue;
                    double pb = exp((double)base_row[i]);
                    if (pb > 0) d += pb * ((double)base_row[i] - (double)lp[i]);
                }
                kld_vals[count] = d;
                kl += d;
                kl2 += d * d;
                same_top += argmax(base_row, V) == argmax(row, V);
            }
            count++;
        }
        double el = cli_now_ms() - t0;
        fprintf(stderr, "[%d]%.4f,", c + 1, exp(nll / (double)count));
        if (c == 0)
            fprintf(stderr, " (%.2f s per chunk, ETA %.1f s) ", el / 1e3, el / 1e3 * (n_chunk - 1));
        fflush(stderr);
    }
    free(chunk);
    fprintf(stderr, "\n");
    double mean, unc;
    mean_unc(nll, nll2, count, &mean, &unc);
    double ppl = exp(mean);
    printf("Final estimate: PPL = %.4f +/- %.5f\n", ppl, ppl * unc);
    if (do_kld) {
        double mb, ub, mk, uk;
        mean_unc(nllb, nllb2, count, &mb, &ub);
        mean_unc(kl, kl2, count, &mk, &uk);
        qsort(kld_vals, count, sizeof *kld_vals, cmp_double);
        double cov = count > 1 ? (nll_nllb / (double)count - mean * mb) / (double)(count - 1) : 0;
        double lr = mean - mb, lr_unc = sqrt(fmax(0.0, unc * unc + ub * ub - 2 * cov));
        double top = (double)same_top / (double)count;
        printf("\n====== Perplexity statistics ======\n");
        printf("Mean PPL(Q)              : %10.6f +/- %10.6f\n", ppl, ppl * unc);
        printf("Mean PPL(base)           : %10.6f +/- %10.6f\n", exp(mb), exp(mb) * ub);
        printf("Mean PPL(Q)/PPL(base)    : %10.6f +/- %10.6f\n", exp(lr), exp(lr) * lr_unc);
        printf("Mean ln(PPL(Q)/PPL(base)): %10.6f +/- %10.6f\n", lr, lr_unc);
        printf("\n====== KL divergence statistics ======\n");
        printf("Mean    KLD: %10.6f +/- %10.6f\n", mk, uk);
        printf("Maximum KLD: %10.6f\n", kld_vals[count - 1]);
        printf("99.0%%   KLD: %10.6f\n", percentile(kld_vals, count, 0.99));
        printf("Median  KLD: %10.6f\n", percentile(kld_vals, count, 0.5));
        printf("Minimum KLD: %10.6f\n", kld_vals[0]);
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
        fprintf(stderr, "octet: saved %zu log-probability rows to %s\n", count, kld_base);
    }
    status = EXIT_OK;
out:
    if (fout) fclose(fout);
    if (tmp && status != EXIT_OK) unlink(tmp);
    if (fin) fclose(fin);
    free(tmp);
    free(text);
    free(toks);
    free(lp);
    free(base_row);
    free(kld_vals);
    octet_session_free(s);
    octet_model_close(m);
    return status;
}
