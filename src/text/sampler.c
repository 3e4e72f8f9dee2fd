/*
 * sampler.c - next-token selection with explicit RNG state: repeat penalty over the last repeat_last_n accepted
 * tokens (llama.cpp's rule: a positive logit is divided by the penalty, a negative one multiplied), then greedy
 * when temp <= 0, else top-k, top-p (nucleus), min-p (relative to the top probability), temperature, and a draw
 * from the renormalised distribution. The RNG is xoshiro256** seeded through splitmix64, so a seed fixes the text.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/kernels.h"
#include "text/grammar.h"

#define SAMPLE_BLOCK 64 /* candidates per block sum of the draw */

struct octet_sampler {
    octet_sampler_params p;
    int n_vocab;
    uint64_t rng[4];
    int32_t *hist; /* ring of the last repeat_last_n accepted tokens */
    int n_hist, hist_pos;
    float *work;   /* [n_vocab] logits after penalties */
    int32_t *idx;  /* [n_vocab] candidate ids */
    float *prob;   /* [n_vocab] */
    double *bsum;  /* [n_vocab / SAMPLE_BLOCK + 1] block sums of prob for the draw */
    octet_grammar *grammar; /* not owned; NULL: unconstrained */
    const octet_grammar_vocab *gvocab;
};

int octet_sampler_set_grammar(octet_sampler *s, octet_grammar *g, const octet_grammar_vocab *v) {
    if (!s || (g && !v) || (g && octet__grammar_vocab_n(v) != s->n_vocab)) return OCTET_EINVAL;
    s->grammar = g;
    s->gvocab = g ? v : NULL;
    return 0;
}

octet_sampler_params octet_sampler_default_params(void) {
    octet_sampler_params p = {.temp = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .repeat_penalty = 1.0f,
                              .repeat_last_n = 64, .seed = 0};
    return p;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t *s) {
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

int octet_sampler_new(octet_sampler **out, const octet_sampler_params *params, int n_vocab, octet_error *err) {
    if (!out) return octet__err(err, OCTET_EINVAL, "sampler: NULL argument");
    *out = NULL;
    octet_sampler_params p = params ? *params : octet_sampler_default_params();
    if (n_vocab <= 0) return octet__err(err, OCTET_EINVAL, "sampler: vocabulary size %d", n_vocab);
    if (!(p.temp == p.temp) || !(p.top_p == p.top_p) || !(p.min_p == p.min_p) || !(p.repeat_penalty > 0.0f))
        return octet__err(err, OCTET_EINVAL, "sampler: temperature, top-p and min-p must be numbers and the repeat "
                                             "penalty positive");
    if (p.repeat_last_n < 0) p.repeat_last_n = 0;
    if (p.repeat_last_n > 1 << 20) p.repeat_last_n = 1 << 20;
    octet_sampler *s = octet__calloc(1, sizeof *s);
    if (!s) return octet__err(err, OCTET_ENOMEM, "sampler: out of memory");
    s->p = p;
    s->n_vocab = n_vocab;
    uint64_t x = p.seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
    s->hist = octet__calloc((size_t)(p.repeat_last_n ? p.repeat_last_n : 1), sizeof *s->hist);
    s->work = octet__malloc((size_t)n_vocab * sizeof *s->work);
    s->idx = octet__malloc((size_t)n_vocab * sizeof *s->idx);
    s->prob = octet__malloc((size_t)n_vocab * sizeof *s->prob);
    s->bsum = octet__malloc((size_t)(n_vocab / SAMPLE_BLOCK + 1) * sizeof *s->bsum);
    if (!s->hist || !s->work || !s->idx || !s->prob || !s->bsum) {
        octet_sampler_free(s);
        return octet__err(err, OCTET_ENOMEM, "sampler: out of memory");
    }
    *out = s;
    return 0;
}

void octet_sampler_free(octet_sampler *s) {
    if (!s) return;
    octet__free(s->hist);
    octet__free(s->work);
    octet__free(s->idx);
    octet__free(s->prob);
    octet__free(s->bsum);
    octet__free(s);
}

void octet_sampler_accept(octet_sampler *s, int32_t token) {
    if (s->p.repeat_last_n == 0) return;
    s->hist[s->hist_pos] = token;
    s->hist_pos = (s->hist_pos + 1) % s->p.repeat_last_n;
    if (s->n_hist < s->p.repeat_last_n) s->n_hist++;
}

/* Sort candidate ids by logit, descending; ties by id so the order is total and reproducible. */
static const float *g_sort_logits;
static int cmp_desc(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    float fx = g_sort_logits[x], fy = g_sort_logits[y];
    if (fx > fy) return -1;
    if (fx < fy) return 1;
    return (x > y) - (x < y);
}

static inline int better(const float *l, int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); }

/* Put the k largest logits' ids, sorted descending, at idx[0..k); k <= 0 or k >= n: all n ids sorted. For
 * small k an insertion into a sorted window of k: each id is compared with the window's last entry first, so
 * the scan is about n comparisons. */
static int select_top(const float *l, int32_t *idx, int n, int k) {
    if (k <= 0 || k >= n) {
        for (int i = 0; i < n; i++) idx[i] = i;
        g_sort_logits = l;
        qsort(idx, (size_t)n, sizeof *idx, cmp_desc);
        return n;
    }
    int m = 0;
    for (int32_t id = 0; id < n; id++) {
        if (m == k && !better(l, id, idx[k - 1])) continue;
        int j = m < k ? m++ : k - 1;
        while (j > 0 && better(l, id, idx[j - 1])) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = id;
    }
    return m;
}

/* prob[0..k) = exp((l[idx[i]] - mx) * inv_t), or of l itself in id order when idx is NULL. */
static void exp_candidates(octet_sampler *s, const float *l, const int32_t *idx, int k, float mx, float inv_t) {
    const octet__fkernel_table *fk = octet__fkernels();
    if (!idx) {
        fk->exp_f32(s->prob, l, k, mx, inv_t);
        return;
    }
    for (int i = 0; i < k; i++) s->prob[i] = l[idx[i]];
    fk->exp_f32(s->prob, s->prob, k, mx, inv_t);
}

/* Sum of prob[0..k) in blocks of SAMPLE_BLOCK (each block in four double chains, then the blocks in order):
 * the block sums are kept for the draw, which walks blocks first and one block's entries last. */
static double block_sums(octet_sampler *s, int k) {
    double total = 0.0;
    for (int b = 0; b * SAMPLE_BLOCK < k; b++) {
        const int i0 = b * SAMPLE_BLOCK, i1 = i0 + SAMPLE_BLOCK < k ? i0 + SAMPLE_BLOCK : k;
        double c[4] = {0, 0, 0, 0};
        int i = i0;
        for (; i + 4 <= i1; i += 4)
            for (int u = 0; u < 4; u++) c[u] += (double)s->prob[i + u];
        for (; i < i1; i++) c[0] += (double)s->prob[i];
        s->bsum[b] = (c[0] + c[1]) + (c[2] + c[3]);
        total += s->bsum[b];
    }
    return total;
}

/* The candidate whose share of the total holds r = u * total (u uniform in [0, 1)). The walk adds whole blocks
 * while r lies beyond them, in the order block_sums added them, then the entries of the block that holds r; if
 * rounding leaves r past the entries (within a few ulps of the block's end) or past every block, the last
 * candidate there with nonzero weight is taken. */
static int draw(octet_sampler *s, int k, double total) {
    const double r = (double)(xoshiro_next(s->rng) >> 11) * 0x1p-53 * total;
    double cum = 0.0;
    int b = 0, nb = (k + SAMPLE_BLOCK - 1) / SAMPLE_BLOCK;
    while (b < nb - 1 && !(r < cum + s->bsum[b])) cum += s->bsum[b++];
    const int i0 = b * SAMPLE_BLOCK, i1 = i0 + SAMPLE_BLOCK < k ? i0 + SAMPLE_BLOCK : k;
    int last = -1;
    for (int i = i0; i < i1; i++) {
        if (s->prob[i] > 0.0f) last = i;
        cum += (double)s->prob[i];
        if (r < cum && s->prob[i] > 0.0f) return i;
    }
    if (last >= 0) return last;
    for (int i = i0 - 1; i >= 0; i--) /* the block has no weight at all (only after rounding): look back */
        if (s->prob[i] > 0.0f) return i;
    return 0;
}

static int32_t sample_logits(octet_sampler *s, float *l, int32_t draft, int *accepted);

/* The sampler's pick from logits. With a grammar: the disallowed tokens' logits become -inf before penalties,
 * truncation and the draw, so every filter works on the constrained distribution. For greedy decoding the argmax
 * is tried first (one token's bytes through the grammar, usually a few memoised table look-ups) and the whole
 * mask computed only when it is refused; the result is the same argmax over the allowed tokens.
 * With a draft token (draft >= 0), the draw that speculative decoding needs for a drafted token (Leviathan,
 * Kalman and Matias 2023, "Fast inference from transformers via speculative decoding", with a deterministic
 * draft: its distribution is all on the drafted token): *accepted = 1 with probability p(draft) under the
 * sampler's distribution p, and then the draft is returned; otherwise a token drawn from p with the draft removed
 * (renormalised). Either way the returned token is distributed as p. Greedy: accepted exactly when the draft is
 * the greedy pick. A draft the grammar refuses has probability 0. */
static int32_t sample(octet_sampler *s, const float *logits, int32_t draft, int *accepted) {
    const int n = s->n_vocab;
    *accepted = 0;
    float *l = s->work;
    memcpy(l, logits, (size_t)n * sizeof *l);
    if (!s->grammar) return sample_logits(s, l, draft, accepted);
    if (s->p.temp <= 0.0f) {
        int32_t t = sample_logits(s, l, draft, accepted);
        if (octet__grammar_token_ok(s->grammar, s->gvocab, t)) return t;
        *accepted = 0;
        memcpy(l, logits, (size_t)n * sizeof *l);
    }
    int n_ok = 0;
    const uint64_t *m = octet__grammar_allowed(s->grammar, s->gvocab, &n_ok);
    if (!m || n_ok == 0) return -1;
    for (int w = 0; w < (n + 63) / 64; w++) {
        uint64_t bits = m[w];
        if (bits == ~0ull) continue;
        for (int i = w * 64; i < n && i < w * 64 + 64; i++)
            if (!((bits >> (i & 63)) & 1)) l[i] = -INFINITY;
    }
    int32_t t = sample_logits(s, l, draft, accepted);
    if (t >= 0 && t < n && ((m[t >> 6] >> (t & 63)) & 1)) return t;
    *accepted = 0;
    for (int i = 0; i < n; i++) /* every allowed logit was -inf or NaN: the first allowed token */
        if ((m[i >> 6] >> (i & 63)) & 1) return i;
    return -1;
}

/* Sample from l (the sampler's work buffer, a copy of the logits; modified); the draft draw as above. */
static int32_t sample_logits(octet_sampler *s, float *l, int32_t draft, int *accepted) {
    const int n = s->n_vocab;
    *accepted = 0;
    int nan = 0;
    for (int i = 0; i < n; i++) nan |= l[i] != l[i];
    if (nan)
        for (int i = 0; i < n; i++)
            if (l[i] != l[i]) l[i] = -INFINITY; /* NaN never wins */
    if (s->p.repeat_penalty != 1.0f) {
        for (int i = 0; i < s->n_hist; i++) {
            int32_t t = s->hist[i];
            if (t < 0 || t >= n) continue;
            /* penalise each distinct token once */
            int seen = 0;
            for (int j = 0; j < i; j++) seen |= s->hist[j] == t;
            if (seen) continue;
            l[t] = l[t] > 0 ? l[t] / s->p.repeat_penalty : l[t] * s->p.repeat_penalty;
        }
    }
    if (s->p.temp <= 0.0f) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (l[i] > l[best]) best = i;
        *accepted = best == draft;
        return best;
    }
    /* the maximum in 8 independent running maxima (the order does not change a maximum) */
    float m8[8];
    for (int u = 0; u < 8; u++) m8[u] = -INFINITY;
    int i8 = 0;
    for (; i8 + 8 <= n; i8 += 8)
        for (int u = 0; u < 8; u++) m8[u] = l[i8 + u] > m8[u] ? l[i8 + u] : m8[u];
    float mxl = m8[0];
    for (int u = 1; u < 8; u++) mxl = m8[u] > mxl ? m8[u] : mxl;
    for (; i8 < n; i8++) mxl = l[i8] > mxl ? l[i8] : mxl;
    if (mxl == INFINITY) /* an infinite logit outweighs every finite one */
        for (int i = 0;; i++)
            if (l[i] == INFINITY) {
                *accepted = i == draft;
                return i;
            }
    if (mxl == -INFINITY) mxl = 0.0f; /* every logit -inf or NaN: all weights 0, the draw takes token 0 */
    /* Candidates, in the order the draw walks them. With top-k: the k best, sorted. With top-k off and no other
     * filter: every token, by id (no sort needed). Otherwise a sorted head of the distribution grown (64, 256,
     * ... tokens, each an O(n) selection) until it holds the top-p mass or reaches below the min-p cut, so a large
     * vocabulary is not sorted for every token; top-p is measured against the mass of the whole vocabulary.
     * Weights are exp((logit - max) / temp) from the kernel table's exp (src/kernels: about 1 ulp), sums in
     * double. */
    int k;
    const int32_t *idx = s->idx;
    double sum = 0.0;
    if (s->p.top_k > 0 && s->p.top_k < n) {
        k = select_top(l, s->idx, n, s->p.top_k);
        exp_candidates(s, l, s->idx, k, mxl, 1.0f);
        for (int i = 0; i < k; i++) sum += (double)s->prob[i];
    } else if (s->p.top_p >= 1.0f && s->p.min_p <= 0.0f) {
        idx = NULL;
        k = n;
    } else {
        exp_candidates(s, l, NULL, n, mxl, 1.0f); /* temperature 1: where top-p and min-p look */
        sum = block_sums(s, n);
        for (int kk = 64;; kk *= 4) {
            k = select_top(l, s->idx, n, kk >= n / 2 ? 0 : kk);
            exp_candidates(s, l, s->idx, k, mxl, 1.0f);
            double cum = 0.0;
            for (int i = 0; i < k; i++) cum += (double)s->prob[i];
            if (k == n || (s->p.top_p < 1.0f && cum / sum >= (double)s->p.top_p) ||
                (s->p.min_p > 0.0f && s->prob[k - 1] < s->p.min_p * s->prob[0]))
                break;
        }
    }
    if (idx && s->p.top_p < 1.0f) {
        double cum = 0.0;
        int keep = k;
        for (int i = 0; i < k; i++) {
            cum += (double)s->prob[i] / sum;
            if (cum >= (double)s->p.top_p) {
                keep = i + 1;
                break;
            }
        }
        k = keep;
    }
    if (idx && s->p.min_p > 0.0f) {
        int keep = 1;
        while (keep < k && s->prob[keep] >= s->p.min_p * s->prob[0]) keep++;
        k = keep;
    }
    exp_candidates(s, l, idx, k, mxl, 1.0f / s->p.temp);
    double total = block_sums(s, k);
    if (draft >= 0 && draft < n) {
        int j = -1; /* the draft among the candidates */
        if (!idx) j = draft;
        else
            for (int c = 0; c < k && j < 0; c++)
                if (idx[c] == draft) j = c;
        if (j >= 0 && s->prob[j] > 0.0f) {
            const double u = (double)(xoshiro_next(s->rng) >> 11) * 0x1p-53;
            if (u * total < (double)s->prob[j]) {
                *accepted = 1;
                return draft;
            }
            s->prob[j] = 0.0f; /* rejected: the rest of p, renormalised by the draw */
            total = block_sums(s, k);
        }
    }
    const int i = draw(s, k, total);
    return idx ? idx[i] : i;
}

int32_t octet_sampler_sample(octet_sampler *s, const float *logits) {
    int accepted;
    return sample(s, logits, -1, &accepted);
}

int32_t octet_sampler_sample_draft(octet_sampler *s, const float *logits, int32_t draft, int *accepted) {
    int acc;
    int32_t t = sample(s, logits, draft, &acc);
    if (accepted) *accepted = acc;
    return t;
}
