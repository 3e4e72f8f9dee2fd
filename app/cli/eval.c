/*
 * eval.c - see eval.h.
 */
#include "eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* log-softmax of row (n floats) into out, the sum accumulated in double */
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

void eval_mean_unc(double sum, double sum2, size_t count, double *mean, double *unc) {
    *mean = count ? sum / (double)count : 0.0;
    double var = count ? sum2 / (double)count - *mean * *mean : 0.0;
    *unc = (var > 0 && count > 1) ? sqrt(var / (double)(count - 1)) : 0.0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double eval_kld_percentile(eval_stats *st, double f) {
    size_t n = st->count;
    if (!st->kld_vals || n == 0) return 0.0;
    qsort(st->kld_vals, n, sizeof *st->kld_vals, cmp_double);
    double p = f * (double)(n - 1);
    size_t i = (size_t)p;
    double frac = p - (double)i;
    return i + 1 < n ? (1 - frac) * st->kld_vals[i] + frac * st->kld_vals[i + 1] : st->kld_vals[n - 1];
}

void eval_stats_free(eval_stats *st) {
    free(st->kld_vals);
    st->kld_vals = NULL;
}

int eval_chunks(octet_session *s, const octet_model_info *mi, const int32_t *toks, int n_ctx, int n_chunk,
                const eval_io *io, eval_stats *st, int progress) {
    const int V = mi->n_vocab, first = n_ctx / 2;
    const int compare = io && io->load;
    int status = -1;
    octet_error err;
    memset(&err, 0, sizeof err);
    float *lp = malloc((size_t)V * sizeof *lp), *base = compare ? malloc((size_t)V * sizeof *base) : NULL;
    int32_t *chunk = malloc((size_t)n_ctx * sizeof *chunk);
    size_t need = st->count + (size_t)n_chunk * (size_t)(n_ctx - 1 - first);
    if (compare && need > st->kld_cap) {
        double *nv = realloc(st->kld_vals, need * sizeof *nv);
        if (nv) {
            st->kld_vals = nv;
            st->kld_cap = need;
        } else {
            free(lp);
            lp = NULL;
        }
    }
    if (!lp || !chunk || (compare && !base)) {
        fprintf(stderr, "octet: error: out of memory\n");
        goto out;
    }
    double t0 = cli_now_ms();
    octet_pipeline *pl = io ? io->pl : NULL;
    const int n_seq = pl ? octet_pipeline_n_seq(pl) : 1;
    int submitted = 0; /* pipeline: chunks sent into the stages; chunk c uses sequence c % n_seq */
    for (int c = 0; c < n_chunk; c++) {
        int rc = 0;
        if (pl) { /* keep n_seq chunks in flight, so every stage has work */
            for (; !rc && submitted < n_chunk && submitted < c + n_seq; submitted++) {
                memcpy(chunk, toks + (size_t)submitted * (size_t)n_ctx, (size_t)n_ctx * sizeof *chunk);
                if (mi->add_bos && mi->bos_id >= 0) chunk[0] = mi->bos_id;
                rc = octet_pipeline_submit(pl, submitted % n_seq, chunk, n_ctx, 0, 1, &err);
            }
            if (!rc) rc = octet_pipeline_wait(pl, NULL, &err);
        } else {
            memcpy(chunk, toks + (size_t)c * (size_t)n_ctx, (size_t)n_ctx * sizeof *chunk);
            if (mi->add_bos && mi->bos_id >= 0) chunk[0] = mi->bos_id;
            octet_session_truncate(s, 0);
            rc = octet_session_decode(s, chunk, n_ctx, 0, &err);
        }
        if (rc) {
            fprintf(stderr, "\noctet: error: %s\n", err.msg);
            goto out;
        }
        for (int j = first; j < n_ctx - 1; j++) {
            const float *row = pl ? octet_pipeline_logits(pl, c % n_seq, j) : octet_session_logits(s, j);
            int next = toks[(size_t)c * (size_t)n_ctx + (size_t)j + 1];
            log_softmax(row, V, lp);
            double v = -(double)lp[next];
            st->nll += v;
            st->nll2 += v * v;
            if (io && io->save && io->save(io->ud, lp)) goto out;
            if (compare) {
                if (io->load(io->ud, base)) goto out;
                double vb = -(double)base[next], d = 0;
                st->nllb += vb;
                st->nllb2 += vb * vb;
                st->nll_nllb += v * vb;
                for (int i = 0; i < V; i++) {
                    if (base[i] != base[i]) continue;
                    double pb = exp((double)base[i]);
                    if (pb > 0) d += pb * ((double)base[i] - (double)lp[i]);
                }
                st->kld_vals[st->count] = d;
                st->kl += d;
                st->kl2 += d * d;
                st->same_top += argmax(base, V) == argmax(row, V);
            }
            st->count++;
        }
        if (progress) {
            double el = cli_now_ms() - t0;
            fprintf(stderr, "[%d]%.4f,", c + 1, exp(st->nll / (double)st->count));
            if (c == 0) fprintf(stderr, " (%.2f s per chunk, ETA %.1f s) ", el / 1e3, el / 1e3 * (n_chunk - 1));
            fflush(stderr);
        }
    }
    if (progress) fprintf(stderr, "\n");
    status = 0;
out:
    free(lp);
    free(base);
    free(chunk);
    return status;
}
