/*
 * draft.c - drafts for speculative decoding: the next tokens a cheap predictor expects, for the target model
 * to verify in one forward pass (include/octet.h, octet_drafter_*).
 *
 * Two predictors:
 *   - a draft model (a smaller model with the same vocabulary), run greedily in its own session, whose cache
 *     follows the history: each call keeps the longest common prefix with what it evaluated before, evaluates
 *     the rest, then proposes tokens while its greedy pick's probability stays above p_min (Leviathan et al.
 *     2023; llama.cpp's --draft-p-min plays the same role);
 *   - prompt lookup (Saxena 2023, "Prompt lookup decoding"): the most recent earlier occurrence of the
 *     history's last n tokens (n from ngram_max down to ngram_min) and the tokens that followed it.
 * A draft is only a guess: the caller accepts each token with octet_sampler_sample_draft, which keeps the
 * target's output distribution (and greedy output) exactly what it is without drafting.
 */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "octet.h"

struct octet_drafter {
    octet_drafter_params p;
    octet_session *s; /* the draft model's session, or NULL: prompt lookup */
    int32_t *seen;    /* the tokens s has evaluated, in order */
    int n_seen, cap;
    int n_vocab;
};

octet_drafter_params octet_drafter_default_params(void) {
    octet_drafter_params p = {.draft_model = NULL, .n_ctx = 0, .n_threads = 0, .exec = OCTET_EXEC_FLOAT,
                              .p_min = 0.0f, .ngram_min = 2, .ngram_max = 4};
    return p;
}

int octet_drafter_new(octet_drafter **out, const octet_model *target, const octet_drafter_params *params,
                      octet_error *err) {
    *out = NULL;
    octet_drafter_params p = params ? *params : octet_drafter_default_params();
    if (!target) return octet__err(err, OCTET_EINVAL, "drafter: no target model");
    if (p.ngram_min < 1 || p.ngram_max < p.ngram_min || p.ngram_max > 64)
        return octet__err(err, OCTET_EINVAL, "drafter: n-gram sizes %d..%d are not within 1..64", p.ngram_min,
                          p.ngram_max);
    if (!(p.p_min >= 0.0f && p.p_min <= 1.0f))
        return octet__err(err, OCTET_EINVAL, "drafter: p_min must be within 0..1");
    if (p.draft_model && octet_n_vocab(p.draft_model) != octet_n_vocab(target))
        return octet__err(err, OCTET_EINVAL,
                          "drafter: the draft model's vocabulary has %d tokens, the target's %d (they must be the same)",
                          octet_n_vocab(p.draft_model), octet_n_vocab(target));
    octet_drafter *d = octet__calloc(1, sizeof *d);
    if (!d) return octet__err(err, OCTET_ENOMEM, "drafter: out of memory");
    d->p = p;
    d->n_vocab = octet_n_vocab(target);
    if (p.draft_model) {
        octet_session_params sp = octet_session_default_params();
        sp.n_ctx = p.n_ctx;
        sp.n_threads = p.n_threads;
        sp.exec = p.exec;
        int rc = octet_session_new(&d->s, p.draft_model, &sp, err);
        if (rc) {
            octet__free(d);
            return rc;
        }
        d->cap = octet_session_n_ctx(d->s);
        d->seen = octet__malloc((size_t)d->cap * sizeof *d->seen);
        if (!d->seen) {
            octet_drafter_free(d);
            return octet__err(err, OCTET_ENOMEM, "drafter: out of memory");
        }
    }
    *out = d;
    return 0;
}

void octet_drafter_free(octet_drafter *d) {
    if (!d) return;
    octet_session_free(d->s);
    octet__free(d->seen);
    octet__free(d);
}

/* prompt lookup: the tokens after the latest earlier match of the history's last n tokens */
static int lookup(const octet_drafter *d, const int32_t *h, int n, int32_t *out, int max) {
    for (int g = d->p.ngram_max; g >= d->p.ngram_min; g--) {
        if (g >= n) continue;
        const int32_t *tail = h + n - g;
        for (int i = n - g - 1; i >= 0; i--) { /* match at h[i .. i+g), continuing at h[i+g] */
            if (memcmp(h + i, tail, (size_t)g * sizeof *h) != 0) continue;
            int k = 0;
            while (k < max && i + g + k < n) {
                out[k] = h[i + g + k];
                k++;
            }
            if (k > 0) return k;
        }
    }
    return 0;
}

/* greedy pick and its probability (softmax in double) */
static int32_t argmax_p(const float *l, int n, double *p) {
    int32_t b = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[b]) b = i;
    double z = 0.0;
    for (int i = 0; i < n; i++) z += exp((double)l[i] - (double)l[b]);
    *p = 1.0 / z;
    return b;
}

int octet_drafter_draft(octet_drafter *d, const int32_t *history, int n, int32_t *out, int max, octet_error *err) {
    if (!d || (!history && n > 0) || n < 0 || (!out && max > 0))
        return octet__err(err, OCTET_EINVAL, "drafter: bad arguments");
    if (max <= 0 || n == 0) return 0;
    if (!d->s) return lookup(d, history, n, out, max);
    /* the draft model: keep what its cache shares with the history, evaluate the rest */
    if (n + max > d->cap) max = d->cap - n;
    if (max <= 0) return 0;
    int common = 0;
    while (common < d->n_seen && common < n && d->seen[common] == history[common]) common++;
    if (common == n) common = n - 1; /* the last token's logits are needed: evaluate it again */
    octet_session_truncate(d->s, common);
    d->n_seen = common;
    int rc = octet_session_decode(d->s, history + common, n - common, common, err);
    if (rc) return -rc;
    memcpy(d->seen + common, history + common, (size_t)(n - common) * sizeof *history);
    d->n_seen = n;
    int k = 0;
    const float *l = octet_session_logits(d->s, n - common - 1);
    while (k < max) {
        double p;
        int32_t t = argmax_p(l, d->n_vocab, &p);
        if (p < (double)d->p.p_min) break;
        out[k++] = t;
        if (k == max) break;
        if ((rc = octet_session_decode(d->s, &t, 1, d->n_seen, err)) != 0) return -rc;
        d->seen[d->n_seen++] = t;
        l = octet_session_logits(d->s, 0);
    }
    return k;
}
