/*
 * cmd_report.c - `octet report`: the price of intelligence for every quantization of a float model.
 *
 * The float model (F32/F16/BF16 GGUF) is quantized to every supported type into a temporary folder. Each
 * variant is evaluated on the text exactly as `octet perplexity` does (eval.c: chunks of -c tokens, second half
 * scored) and compared with the float model's log-probabilities kept in memory (mean KL divergence, same top-1
 * rate), then timed generating -n tokens (tokens/s, median of --reps runs). Bytes read per token and the
 * estimated joules per token (compute and memory, docs/energy.md) come from energy.c, the same
 * accounting `octet bench` prints. The result is one Markdown table, rows ordered by file size, and an SVG plot
 * of perplexity against file size whose path is printed.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "energy.h"
#include "eval.h"

typedef struct row {
    const char *type;
    char path[4096];
    double file_mb, bpw, ppl, ppl_unc, dppl, kld, top1, tok_s, bytes_tok, j_compute, j_memory;
    int ok;
} row;

/* base log-probabilities kept in memory: rows x n_vocab floats */
typedef struct mem_rows {
    float *data;
    size_t n_vocab, n_rows, cursor;
} mem_rows;

static int mem_save(void *ud, const float *lp) {
    mem_rows *m = ud;
    if (m->cursor >= m->n_rows) return -1;
    memcpy(m->data + m->cursor * m->n_vocab, lp, m->n_vocab * sizeof *lp);
    m->cursor++;
    return 0;
}

static int mem_load(void *ud, float *base) {
    mem_rows *m = ud;
    if (m->cursor >= m->n_rows) return -1;
    memcpy(base, m->data + m->cursor * m->n_vocab, m->n_vocab * sizeof *base);
    m->cursor++;
    return 0;
}

static uint64_t file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Generation speed: a short prompt, then n_gen greedy-free single-token decodes; median over reps. */
static double gen_speed(octet_session *s, int n_vocab, int n_gen, int reps) {
    double sp[16];
    if (reps > 16) reps = 16;
    octet_error err;
    for (int r = 0; r < reps; r++) {
        octet_session_truncate(s, 0);
        int32_t t = 1 % n_vocab;
        if (octet_session_decode(s, &t, 1, 0, &err)) return 0;
        double t0 = cli_now_ms();
        for (int i = 0; i < n_gen; i++) {
            t = (int32_t)((i * 7919 + 13) % n_vocab);
            if (octet_session_decode(s, &t, 1, i + 1, &err)) return 0;
        }
        sp[r] = n_gen / ((cli_now_ms() - t0) / 1e3);
    }
    qsort(sp, (size_t)reps, sizeof sp[0], cmp_dbl);
    return sp[reps / 2];
}

static void write_svg(const char *path, const row *rows, int n, const char *title) {
    double xmin = 1e30, xmax = 0, ymin = 1e30, ymax = 0;
    for (int i = 0; i < n; i++) {
        if (!rows[i].ok) continue;
        xmin = fmin(xmin, rows[i].file_mb), xmax = fmax(xmax, rows[i].file_mb);
        ymin = fmin(ymin, rows[i].ppl), ymax = fmax(ymax, rows[i].ppl);
    }
    if (xmax <= xmin) xmax = xmin + 1;
    if (ymax <= ymin) ymax = ymin + 1;
    double xpad = (xmax - xmin) * 0.08, ypad = (ymax - ymin) * 0.12;
    xmin -= xpad, xmax += xpad, ymin -= ypad, ymax += ypad;
    const double W = 720, H = 480, L = 80, R = 30, T = 50, B = 60;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "octet report: cannot write %s: %s\n", tmp, strerror(errno));
        return;
    }
#define PX(x) (L + ((x) - xmin) / (xmax - xmin) * (W - L - R))
#define PY(y) (H - B - ((y) - ymin) / (ymax - ymin) * (H - T - B))
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H);
    fprintf(f, "<text x=\"%.0f\" y=\"28\" font-size=\"16\" text-anchor=\"middle\">Perplexity against file size: %s</text>\n",
            W / 2, title);
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L, H - B, W - R, H - B);
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L, T, L, H - B);
    for (int k = 0; k <= 5; k++) {
        double xv = xmin + (xmax - xmin) * k / 5, yv = ymin + (ymax - ymin) * k / 5;
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.2f</text>\n", PX(xv), H - B + 18, xv);
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", L - 6, PY(yv) + 4, yv);
        fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, PY(yv), W - R, PY(yv));
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">file size (MB)</text>\n", (L + W - R) / 2, H - 18);
    fprintf(f, "<text x=\"18\" y=\"%.0f\" transform=\"rotate(-90 18 %.0f)\" text-anchor=\"middle\">perplexity</text>\n",
            (T + H - B) / 2, (T + H - B) / 2);
    for (int i = 0; i < n; i++) {
        if (!rows[i].ok) continue;
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#1f5fbf\"/>\n", PX(rows[i].file_mb), PY(rows[i].ppl));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", PX(rows[i].file_mb) + 6, PY(rows[i].ppl) - 6,
                rows[i].type);
    }
    fprintf(f, "</svg>\n");
#undef PX
#undef PY
    if (fclose(f) || rename(tmp, path)) {
        fprintf(stderr, "octet report: cannot write %s\n", path);
        unlink(tmp);
    }
}

int cmd_report(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *types_arg = NULL, *plot = NULL, *keep = NULL;
    int n_ctx = 0, n_chunks = 20, n_threads = 0, n_gen = 32, reps = 3;
    const opt opts[] = {
        {"--model", "-m", OPT_STR, &model, "FILE", "float GGUF model (F32, F16 or BF16)", 0, 0, NULL},
        {"--file", "-f", OPT_STR, &file, "FILE", "text for perplexity and KL divergence", 0, 0, NULL},
        {"--ctx-size", "-c", OPT_INT, &n_ctx, "N", "tokens per chunk (default: min(512, model context))", 0, 1 << 20,
         NULL},
        {"--chunks", NULL, OPT_INT, &n_chunks, "N", "chunks to evaluate (default 20)", 1, 1 << 20, NULL},
        {"--types", NULL, OPT_STR, &types_arg, "LIST",
         "comma list of types (default: F16,Q8_0,Q6_K,Q5_K_M,Q5_1,Q5_0,Q4_K_M,Q4_1,Q4_0)", 0, 0, NULL},
        {"--threads", "-t", OPT_INT, &n_threads, "N", "threads (default: all CPUs)", 1, 256, NULL},
        {"--n-gen", "-n", OPT_INT, &n_gen, "N", "tokens generated for the speed column (default 32)", 1, 4096, NULL},
        {"--reps", "-r", OPT_INT, &reps, "N", "speed repetitions, median taken (default 3)", 1, 16, NULL},
        {"--plot", NULL, OPT_STR, &plot, "FILE", "SVG plot path (default: octet-report.svg)", 0, 0, NULL},
        {"--keep", NULL, OPT_STR, &keep, "DIR", "keep the quantized files in DIR instead of a temporary folder", 0, 0,
         NULL},
    };
    const cmd_spec spec = {"report", "-m MODEL_F32.gguf -f TEXT [options]",
                           "Quantize the float model to every supported type and print a Markdown table: file MB, "
                           "bits per weight, PPL, delta PPL %, mean KLD, same top-1 %, generation tokens/s, bytes "
                           "read per token and estimated joules per token (compute + memory); write an SVG plot of "
                           "PPL against file size.",
                           opts, (int)(sizeof opts / sizeof opts[0]), 0};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&spec, argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (!file) {
        fprintf(stderr, "octet report: -f TEXT is required\n");
        return EXIT_USAGE;
    }
    if (!model) model = cli_default_model();
    if (!plot) plot = "octet-report.svg";
    char types_buf[512];
    snprintf(types_buf, sizeof types_buf, "%s", types_arg ? types_arg : "F16,Q8_0,Q6_K,Q5_K_M,Q5_1,Q5_0,Q4_K_M,Q4_1,Q4_0");

    int status = EXIT_ERR;
    row rows[32];
    int n_rows = 0;
    char dir[4096] = "";
    int made_dir = 0;
    char *text = NULL;
    int32_t *toks = NULL;
    mem_rows base = {0};
    octet_error err;
    memset(&err, 0, sizeof err);

    octet_model *m = cli_open_model(model, 1, 0, 0);
    if (!m) return EXIT_ERR;
    octet_model_info mi;
    octet_model_get_info(m, &mi);
    if (strcmp(mi.file_type, "F32") && strcmp(mi.file_type, "F16") && strcmp(mi.file_type, "BF16")) {
        fprintf(stderr, "octet report: %s is %s; give a float (F32, F16 or BF16) model\n", model, mi.file_type);
        octet_model_close(m);
        return EXIT_ERR;
    }
    size_t len;
    text = cli_read_file(file, &len);
    if (!text) goto out;
    if (n_ctx == 0) n_ctx = mi.n_ctx_train < 512 ? mi.n_ctx_train : 512;
    int n_tok = 0;
    rc = octet_tokenize(m, text, len, 1, 0, NULL, 0, &n_tok, &err);
    toks = malloc(((size_t)n_tok + 1) * sizeof *toks);
    if (!toks || octet_tokenize(m, text, len, 1, 0, toks, n_tok + 1, &n_tok, &err)) {
        fprintf(stderr, "octet: error: tokenize: %s\n", toks ? err.msg : "out of memory");
        goto out;
    }
    int n_chunk = n_tok / n_ctx < n_chunks ? n_tok / n_ctx : n_chunks;
    if (n_chunk < 1) {
        fprintf(stderr, "octet: error: %s gives %d tokens, fewer than one chunk of %d\n", file, n_tok, n_ctx);
        goto out;
    }
    base.n_vocab = (size_t)mi.n_vocab;
    base.n_rows = (size_t)n_chunk * (size_t)(n_ctx - 1 - n_ctx / 2);
    if (base.n_rows * base.n_vocab > ((size_t)1 << 28)) {
        fprintf(stderr, "octet report: %d chunks x %d tokens x %d vocabulary is more than 1 GiB of base "
                        "log-probabilities; use fewer --chunks or a smaller -c\n", n_chunk, n_ctx, mi.n_vocab);
        goto out;
    }
    base.data = malloc(base.n_rows * base.n_vocab * sizeof *base.data);
    if (!base.data) {
        fprintf(stderr, "octet: error: out of memory for the base log-probabilities\n");
        goto out;
    }
    if (keep) {
        snprintf(dir, sizeof dir, "%s", keep);
        if (mkdir(dir, 0755) && errno != EEXIST) {
            fprintf(stderr, "octet report: cannot create %s: %s\n", dir, strerror(errno));
            goto out;
        }
    } else {
        const char *td = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/octet-report-XXXXXX", td && *td ? td : "/tmp");
        if (!mkdtemp(dir)) {
            fprintf(stderr, "octet report: cannot create a temporary folder: %s\n", strerror(errno));
            goto out;
        }
        made_dir = 1;
    }
    octet_model_close(m);
    m = NULL;

    /* the float model first: its row is the base of every comparison */
    rows[n_rows].type = mi.file_type;
    snprintf(rows[n_rows].path, sizeof rows[n_rows].path, "%s", model);
    n_rows++;
    for (char *save = NULL, *t = strtok_r(types_buf, ",", &save); t && n_rows < 32; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, mi.file_type) == 0) continue;
        rows[n_rows].type = t;
        int k = snprintf(rows[n_rows].path, sizeof rows[n_rows].path, "%s/%s.gguf", dir, t);
        if (k < 0 || k >= (int)sizeof rows[n_rows].path) {
            fprintf(stderr, "octet report: the folder name %s is too long\n", dir);
            goto out;
        }
        n_rows++;
    }
    fprintf(stderr, "octet report: %d variants, %d chunks of %d tokens, files in %s\n", n_rows, n_chunk, n_ctx, dir);
    for (int i = 0; i < n_rows; i++) {
        row *r = &rows[i];
        if (i > 0) {
            octet_quantize_params qp = octet_quantize_default_params();
            qp.type = r->type;
            qp.n_threads = n_threads;
            if (octet_model_quantize(model, r->path, &qp, NULL, &err)) {
                fprintf(stderr, "octet report: %s: %s\n", r->type, err.msg);
                continue;
            }
        }
        octet_model *q = cli_open_model(r->path, 1, 0, 1);
        if (!q) continue;
        octet_session_params sp = octet_session_default_params();
        sp.n_ctx = n_ctx;
        sp.n_batch = n_ctx;
        sp.n_threads = n_threads;
        sp.logits_all = 1;
        octet_session *s = NULL;
        if (octet_session_new(&s, q, &sp, &err)) {
            fprintf(stderr, "octet report: %s: %s\n", r->type, err.msg);
            octet_model_close(q);
            continue;
        }
        eval_stats st;
        memset(&st, 0, sizeof st);
        base.cursor = 0;
        eval_io io = {i == 0 ? mem_save : NULL, i == 0 ? NULL : mem_load, &base, NULL};
        fprintf(stderr, "octet report: %-7s evaluating ... ", r->type);
        if (eval_chunks(s, &mi, toks, n_ctx, n_chunk, &io, &st, 0) == 0) {
            double mean, unc;
            eval_mean_unc(st.nll, st.nll2, st.count, &mean, &unc);
            r->ppl = exp(mean);
            r->ppl_unc = r->ppl * unc;
            r->kld = i == 0 ? 0.0 : st.kl / (double)st.count;
            r->top1 = i == 0 ? 100.0 : 100.0 * (double)st.same_top / (double)st.count;
            r->tok_s = gen_speed(s, mi.n_vocab, n_gen, reps);
            model_cost mc;
            if (cli_model_cost(r->path, &mi, OCTET_EXEC_FLOAT, n_gen / 2.0 + 1, &mc) == 0) {
                r->file_mb = (double)mc.file_bytes / 1e6;
                r->bpw = mc.bits_per_weight;
                r->bytes_tok = mc.bytes_per_token;
                r->j_compute = mc.joules_compute;
                r->j_memory = mc.joules_memory;
            } else {
                r->file_mb = (double)file_size(r->path) / 1e6;
            }
            r->ok = 1;
            fprintf(stderr, "PPL %.4f, %.1f tok/s\n", r->ppl, r->tok_s);
        }
        eval_stats_free(&st);
        octet_session_free(s);
        octet_model_close(q);
    }
    if (!rows[0].ok) {
        fprintf(stderr, "octet report: the float model could not be evaluated\n");
        goto out;
    }
    for (int i = 0; i < n_rows; i++) rows[i].dppl = 100.0 * (rows[i].ppl / rows[0].ppl - 1.0);
    /* rows by file size, largest first */
    for (int i = 1; i < n_rows; i++)
        for (int j = i; j > 0 && rows[j].file_mb > rows[j - 1].file_mb; j--) {
            row t = rows[j];
            rows[j] = rows[j - 1];
            rows[j - 1] = t;
        }
    printf("## octet report: %s\n\n", model);
    printf("Text: %s, %d chunks of %d tokens (%d scored). Speed: %d generated tokens, %s threads, median of %d. "
           "Energy: estimated per energy.md (Horowitz 2014 table).\n\n",
           file, n_chunk, n_ctx, n_chunk * (n_ctx - 1 - n_ctx / 2), n_gen, n_threads ? "given" : "all", reps);
    printf("| type | file MB | bits/weight | PPL | dPPL %% | mean KLD | same top-1 %% | tokens/s | MB read/token | "
           "mJ/token compute | mJ/token memory |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < n_rows; i++) {
        const row *r = &rows[i];
        if (!r->ok) {
            printf("| %s | failed | | | | | | | | | |\n", r->type);
            continue;
        }
        printf("| %s | %.2f | %.2f | %.4f | %+.2f | %.5f | %.2f | %.1f | %.3f | %.4f | %.4f |\n", r->type, r->file_mb,
               r->bpw, r->ppl, r->dppl, r->kld, r->top1, r->tok_s, r->bytes_tok / 1e6, r->j_compute * 1e3,
               r->j_memory * 1e3);
    }
    write_svg(plot, rows, n_rows, mi.name[0] ? mi.name : model);
    printf("\nPlot: %s\n", plot);
    status = EXIT_OK;
out:
    if (made_dir) {
        for (int i = 1; i < n_rows; i++) unlink(rows[i].path);
        rmdir(dir);
    }
    free(base.data);
    free(text);
    free(toks);
    octet_model_close(m);
    return status;
}
