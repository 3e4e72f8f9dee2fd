/*
 * test_sampler.c - the sampler against hand-computed expectations: greedy is the argmax; equal seeds give equal
 * draws; top-k 1 is greedy; draw frequencies match the softmax of logits / temp (chi-square bound); top-p and
 * min-p remove exactly the tokens their definitions remove; the repeat penalty follows llama.cpp's rule;
 * speculative decoding's draft draw keeps the distribution and accepts a draft with its probability.
 */
#include "octet.h"
#include "test.h"

static const float *g_big;
static int by_logit_desc(const void *a, const void *b) {
    float x = g_big[*(const int *)a], y = g_big[*(const int *)b];
    return (x < y) - (x > y);
}

static octet_sampler *mk(float temp, int top_k, float top_p, float min_p, float rp, uint64_t seed, int n) {
    octet_sampler_params p = octet_sampler_default_params();
    p.temp = temp;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.repeat_penalty = rp;
    p.seed = seed;
    octet_sampler *s = NULL;
    octet_error err;
    int rc = octet_sampler_new(&s, &p, n, &err);
    CHECK(rc == 0);
    return s;
}

int main(void) {
    enum { N = 6 };
    const float logits[N] = {1.0f, 3.0f, 2.0f, -1.0f, 2.5f, 0.0f};

    /* greedy */
    octet_sampler *s = mk(0.0f, 40, 0.95f, 0.05f, 1.0f, 1, N);
    CHECK(octet_sampler_sample(s, logits) == 1);
    octet_sampler_free(s);

    /* top-k 1 at any temperature is greedy */
    s = mk(1.5f, 1, 1.0f, 0.0f, 1.0f, 7, N);
    for (int i = 0; i < 100; i++) CHECK(octet_sampler_sample(s, logits) == 1);
    octet_sampler_free(s);

    /* same seed, same draws; different seed, different sequence */
    octet_sampler *a = mk(1.0f, 0, 1.0f, 0.0f, 1.0f, 42, N), *b = mk(1.0f, 0, 1.0f, 0.0f, 1.0f, 42, N),
                  *c = mk(1.0f, 0, 1.0f, 0.0f, 1.0f, 43, N);
    int same = 1, diff = 0;
    for (int i = 0; i < 200; i++) {
        int x = octet_sampler_sample(a, logits), y = octet_sampler_sample(b, logits), z = octet_sampler_sample(c, logits);
        same &= x == y;
        diff |= x != z;
    }
    CHECK(same);
    CHECK(diff);
    octet_sampler_free(a);
    octet_sampler_free(b);
    octet_sampler_free(c);

    /* frequencies at temp 0.7 against softmax(logits / 0.7): chi-square with 5 dof, 99.99% quantile 25.7 */
    {
        const float T = 0.7f;
        double p[N], z = 0;
        for (int i = 0; i < N; i++) z += p[i] = exp((double)logits[i] / (double)T);
        for (int i = 0; i < N; i++) p[i] /= z;
        s = mk(T, 0, 1.0f, 0.0f, 1.0f, 123, N);
        int cnt[N] = {0};
        const int draws = 200000;
        for (int i = 0; i < draws; i++) cnt[octet_sampler_sample(s, logits)]++;
        double chi = 0;
        for (int i = 0; i < N; i++) chi += (cnt[i] - draws * p[i]) * (cnt[i] - draws * p[i]) / (draws * p[i]);
        CHECKF(chi < 25.7, "chi-square %.2f", chi);
        octet_sampler_free(s);
    }

    /* speculative decoding's draw (octet_sampler_sample_draft): with a draft d, the token is still distributed as
     * softmax(logits / T), the draft is accepted with probability p(d), and rejection never returns d; with top-k
     * 3 the same against the renormalised top 3, and a draft outside them is never accepted; greedy accepts
     * exactly the argmax. Chi-square bounds as above (99.99% quantiles: 5 dof 25.7, 2 dof 18.4). */
    {
        const float T = 0.7f;
        double p[N], z = 0;
        for (int i = 0; i < N; i++) z += p[i] = exp((double)logits[i] / (double)T);
        for (int i = 0; i < N; i++) p[i] /= z;
        for (int d = 0; d < N; d += 2) {
            s = mk(T, 0, 1.0f, 0.0f, 1.0f, 99 + (uint64_t)d, N);
            int cnt[N] = {0}, n_acc = 0, bad = 0;
            const int draws = 200000;
            for (int i = 0; i < draws; i++) {
                int acc = -1;
                int32_t x = octet_sampler_sample_draft(s, logits, d, &acc);
                cnt[x]++;
                n_acc += acc == 1;
                bad += (acc == 1) != (x == d) || acc < 0;
            }
            double chi = 0;
            for (int i = 0; i < N; i++) chi += (cnt[i] - draws * p[i]) * (cnt[i] - draws * p[i]) / (draws * p[i]);
            CHECKF(chi < 25.7, "draft %d: chi-square %.2f", d, chi);
            CHECKF(!bad, "draft %d: %d draws where accepted disagrees with the token", d, bad);
            const double sd = sqrt(draws * p[d] * (1 - p[d]));
            CHECKF(fabs(n_acc - draws * p[d]) < 5 * sd, "draft %d accepted %d times, expected %.0f", d, n_acc,
                   draws * p[d]);
            octet_sampler_free(s);
        }
        /* top-k 3 keeps tokens 1, 4, 2 (logits 3, 2.5, 2) */
        double q[3] = {exp(3.0 / (double)T), exp(2.5 / (double)T), exp(2.0 / (double)T)}, zq = q[0] + q[1] + q[2];
        const int ids[3] = {1, 4, 2};
        s = mk(T, 3, 1.0f, 0.0f, 1.0f, 77, N);
        int cnt[N] = {0}, n_acc = 0;
        for (int i = 0; i < 100000; i++) {
            int acc;
            cnt[octet_sampler_sample_draft(s, logits, 4, &acc)]++;
            n_acc += acc;
        }
        double chi = 0;
        for (int i = 0; i < 3; i++) {
            double e = 100000 * q[i] / zq;
            chi += (cnt[ids[i]] - e) * (cnt[ids[i]] - e) / e;
        }
        CHECKF(chi < 18.4 && cnt[0] + cnt[3] + cnt[5] == 0, "top-k 3 with a draft: chi-square %.2f", chi);
        CHECK(fabs(n_acc - 100000 * q[1] / zq) < 5 * sqrt(100000 * q[1] / zq * (1 - q[1] / zq)));
        int acc = 1;
        for (int i = 0; i < 1000 && acc != 2; i++) {
            int a1;
            octet_sampler_sample_draft(s, logits, 3, &a1); /* outside the top 3 */
            if (a1) acc = 2;
        }
        CHECK(acc == 1);
        octet_sampler_free(s);
        s = mk(0.0f, 0, 1.0f, 0.0f, 1.0f, 1, N);
        int a0 = -1, a1 = -1;
        CHECK(octet_sampler_sample_draft(s, logits, 1, &a1) == 1 && a1 == 1);
        CHECK(octet_sampler_sample_draft(s, logits, 4, &a0) == 1 && a0 == 0);
        octet_sampler_free(s);
    }

    /* top-p: probabilities at temp 1 sorted: 1 (3.0), 4 (2.5), 2 (2.0), 0 (1.0), 5 (0.0), 3 (-1.0).
     * p = [0.459, 0.279, 0.169, 0.062, 0.023, 0.008] (e^l / 43.74); cumulative 0.459, 0.738:
     * top-p 0.6 keeps {1, 4}. */
    {
        s = mk(1.0f, 0, 0.6f, 0.0f, 1.0f, 5, N);
        int seen[N] = {0};
        for (int i = 0; i < 5000; i++) seen[octet_sampler_sample(s, logits)]++;
        CHECK(seen[1] > 0 && seen[4] > 0);
        CHECK(seen[0] == 0 && seen[2] == 0 && seen[3] == 0 && seen[5] == 0);
        octet_sampler_free(s);
    }
    /* min-p 0.3: keep tokens with p >= 0.3 * p_max: exp(l - 3) >= 0.3 <=> l >= 3 + ln 0.3 = 1.796: {1, 4, 2} */
    {
        s = mk(1.0f, 0, 1.0f, 0.3f, 1.0f, 9, N);
        int seen[N] = {0};
        for (int i = 0; i < 5000; i++) seen[octet_sampler_sample(s, logits)]++;
        CHECK(seen[1] > 0 && seen[4] > 0 && seen[2] > 0);
        CHECK(seen[0] == 0 && seen[3] == 0 && seen[5] == 0);
        octet_sampler_free(s);
    }
    /* repeat penalty 2: token 1's logit 3 -> 1.5, below token 4 (2.5) and 2 (2.0): greedy picks 4 */
    {
        s = mk(0.0f, 0, 1.0f, 0.0f, 2.0f, 1, N);
        octet_sampler_accept(s, 1);
        CHECK(octet_sampler_sample(s, logits) == 4);
        /* a negative logit is multiplied: token 3 stays last; penalising 4 as well leaves 2 on top */
        octet_sampler_accept(s, 4);
        octet_sampler_accept(s, 3);
        CHECK(octet_sampler_sample(s, logits) == 2);
        octet_sampler_free(s);
    }
    /* NaN logits never win */
    {
        float l2[N] = {NAN, 1.0f, NAN, 0.5f, NAN, NAN};
        s = mk(0.0f, 0, 1.0f, 0.0f, 1.0f, 1, N);
        CHECK(octet_sampler_sample(s, l2) == 1);
        octet_sampler_free(s);
    }
    /* a large vocabulary with top-k off: top-p and min-p keep exactly the sets their definitions give (the sampler
     * sorts only a growing head of the distribution; the expected sets here come from a full sort) */
    {
        enum { NV = 3000 };
        static float big[NV];
        static int order[NV];
        uint64_t rng = 99;
        for (int i = 0; i < NV; i++) big[i] = 4.0f * t_rng_f(&rng), order[i] = i;
        g_big = big;
        qsort(order, NV, sizeof order[0], by_logit_desc); /* test-side reference order */
        double z = 0;
        for (int i = 0; i < NV; i++) z += exp((double)big[i] - (double)big[order[0]]);
        for (int pass = 0; pass < 2; pass++) {
            float top_p = pass == 0 ? 0.3f : 1.0f, min_p = pass == 0 ? 0.0f : 0.5f;
            static char allowed[NV];
            memset(allowed, 0, sizeof allowed);
            double cum = 0;
            int n_allowed = 0;
            for (int i = 0; i < NV; i++) {
                double p = exp((double)big[order[i]] - (double)big[order[0]]);
                if (pass == 0 && cum / z >= (double)top_p) break;
                if (pass == 1 && p < (double)min_p) break;
                cum += p;
                allowed[order[i]] = 1;
                n_allowed++;
            }
            s = mk(1.0f, 0, top_p, min_p, 1.0f, 17 + (uint64_t)pass, NV);
            int bad = 0, distinct = 0;
            static char seen[NV];
            memset(seen, 0, sizeof seen);
            for (int i = 0; i < 2000; i++) {
                int t = octet_sampler_sample(s, big);
                bad += !allowed[t];
                distinct += !seen[t];
                seen[t] = 1;
            }
            CHECKF(bad == 0, "pass %d: %d draws outside the %d allowed tokens", pass, bad, n_allowed);
            CHECKF(distinct > n_allowed / 2, "pass %d: only %d of %d allowed tokens drawn", pass, distinct, n_allowed);
            octet_sampler_free(s);
        }
    }
    /* the whole vocabulary (top-k, top-p and min-p off), drawn through block sums: frequencies of 10 groups of
     * 100 ids against softmax(logits / 0.9) computed here in double (chi-square, 9 dof, 99.99% quantile 33.7);
     * ids with a -inf logit (every 7th, some at the blocks' edges) are never drawn */
    {
        enum { NV = 1000, G = 10 };
        static float lg[NV];
        uint64_t rng = 5;
        double pg[G] = {0}, z = 0;
        for (int i = 0; i < NV; i++) {
            lg[i] = i % 7 == 0 ? -INFINITY : 3.0f * t_rng_f(&rng) + (i == 641 ? 6.0f : 0.0f);
            const double w = i % 7 == 0 ? 0.0 : exp((double)lg[i] / 0.9);
            pg[i / (NV / G)] += w;
            z += w;
        }
        s = mk(0.9f, 0, 1.0f, 0.0f, 1.0f, 31, NV);
        int cnt[G] = {0}, bad = 0;
        const int draws = 200000;
        for (int i = 0; i < draws; i++) {
            int t = octet_sampler_sample(s, lg);
            bad += t < 0 || t >= NV || t % 7 == 0;
            if (t >= 0 && t < NV) cnt[t / (NV / G)]++;
        }
        double chi = 0;
        for (int g = 0; g < G; g++) {
            const double e = draws * pg[g] / z;
            chi += (cnt[g] - e) * (cnt[g] - e) / e;
        }
        CHECKF(bad == 0, "%d draws of a -inf token", bad);
        CHECKF(chi < 33.7, "whole-vocabulary draw: chi-square %.2f", chi);
        /* an infinite logit outweighs the rest; all -inf gives a token, not a crash */
        lg[333] = INFINITY;
        CHECK(octet_sampler_sample(s, lg) == 333);
        for (int i = 0; i < NV; i++) lg[i] = -INFINITY;
        const int t = octet_sampler_sample(s, lg);
        CHECK(t >= 0 && t < NV);
        octet_sampler_free(s);
    }
    /* bad parameters are rejected */
    {
        octet_sampler_params p = octet_sampler_default_params();
        p.repeat_penalty = 0.0f;
        octet_sampler *bad = NULL;
        octet_error err;
        CHECK(octet_sampler_new(&bad, &p, N, &err) == OCTET_EINVAL && bad == NULL);
        CHECK(octet_sampler_new(&bad, NULL, 0, &err) == OCTET_EINVAL);
    }
    TEST_MAIN_END();
}
