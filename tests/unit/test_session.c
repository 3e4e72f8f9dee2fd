/*
 * test_session.c - session behaviour on the bundled model (models/octet-kjv.gguf, or $OCTET_TEST_MODEL):
 *  - a prompt evaluated as one batch gives the same last-token logits (within float rounding of the batched
 *    matrix product order, which is identical here: bit-equal) as the same prompt fed token by token;
 *  - octet_session_decode_batch over several sessions gives bit-identical logits to decoding each alone, in float
 *    and integer mode;
 *  - logits do not depend on the thread count (bit-identical for 1 and 2 threads);
 *  - a sequence placed at position 1000 gives the same logits as at 0 (relative positions), within 1e-3 std;
 *  - bad tokens, a full context and bad parameters give errors, not crashes.
 */
#include "octet.h"
#include "test.h"

static double stdev(const float *x, int n) {
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += (double)x[i];
    m /= n;
    for (int i = 0; i < n; i++) v += ((double)x[i] - m) * ((double)x[i] - m);
    return sqrt(v / n);
}

static octet_session *mk(const octet_model *m, int n_threads, int n_ctx, int n_batch) {
    octet_session_params p = octet_session_default_params();
    p.n_threads = n_threads;
    p.n_ctx = n_ctx;
    p.n_batch = n_batch;
    octet_session *s = NULL;
    octet_error err;
    int rc = octet_session_new(&s, m, &p, &err);
    CHECKF(rc == 0, "%s", err.msg);
    return s;
}

int main(void) {
    const char *path = getenv("OCTET_TEST_MODEL");
    if (!path) path = "models/octet-kjv.gguf";
    octet_model *m = NULL;
    octet_error err;
    if (octet_model_open(&m, path, NULL, &err) != 0) {
        fprintf(stderr, "cannot open %s: %s\n", path, err.msg);
        return 1;
    }
    const int V = octet_n_vocab(m);
    int32_t toks[64];
    int n = 0;
    const char *text = "And God said, Let there be light: and there was light.";
    CHECK(octet_tokenize(m, text, strlen(text), 1, 0, toks, 64, &n, &err) == 0);
    CHECK(n > 5);

    /* batch prompt vs token by token */
    float *a = malloc((size_t)V * sizeof *a), *b = malloc((size_t)V * sizeof *b);
    octet_session *s1 = mk(m, 1, 128, 64), *s2 = mk(m, 2, 128, 64);
    CHECK(octet_session_decode(s1, toks, n, 0, &err) == 0);
    memcpy(a, octet_session_logits(s1, n - 1), (size_t)V * sizeof *a);
    for (int i = 0; i < n; i++) CHECK(octet_session_decode(s2, &toks[i], 1, i, &err) == 0);
    memcpy(b, octet_session_logits(s2, 0), (size_t)V * sizeof *b);
    double sd = stdev(a, V), md = 0;
    for (int i = 0; i < V; i++) md = fmax(md, fabs((double)a[i] - (double)b[i]));
    CHECKF(md <= 1e-4 * sd, "batch vs sequential: max diff %g, std %g", md, sd);

    /* threads: same prompt with 1 and 2 threads, batch mode, bit-identical */
    octet_session *s3 = mk(m, 2, 128, 64);
    CHECK(octet_session_decode(s3, toks, n, 0, &err) == 0);
    CHECK(memcmp(a, octet_session_logits(s3, n - 1), (size_t)V * sizeof *a) == 0);

    /* relative positions: the same tokens at position 1000 */
    octet_session *s4 = mk(m, 1, 128, 64);
    CHECK(octet_session_decode(s4, toks, n, 1000, &err) == 0);
    const float *c = octet_session_logits(s4, n - 1);
    md = 0;
    for (int i = 0; i < V; i++) md = fmax(md, fabs((double)a[i] - (double)c[i]));
    CHECKF(md <= 1e-3 * sd, "pos 1000 vs 0: max diff %g, std %g", md, sd);

    /* decode_batch: sessions with different prompts, positions and contexts vs each alone, in both modes; 18
     * sessions, more than one integer-mode pass takes (OCTET__INT_BATCH = 16), so the passes are split */
    for (int ex = 0; ex < 2; ex++) {
        enum { K = 18 };
        octet_session *solo[K], *bat[K];
        int lens[K];
        int64_t base[K];
        for (int k = 0; k < K; k++) {
            octet_session_params p = octet_session_default_params();
            p.exec = ex ? OCTET_EXEC_INT : OCTET_EXEC_FLOAT;
            p.n_ctx = 64 + 16 * (k % 3);
            p.n_batch = 32;
            p.n_threads = 1;
            CHECKF(octet_session_new(&solo[k], m, &p, &err) == 0, "%s", err.msg);
            p.n_threads = 2;
            CHECKF(octet_session_new(&bat[k], m, &p, &err) == 0, "%s", err.msg);
            lens[k] = k % 3 == 0 ? n : k % 3 == 1 ? n - 2 : 3;
            base[k] = k % 3 == 0 ? 0 : k % 3 == 1 ? 7 + k : 100000 + 1000 * k;
            CHECK(octet_session_decode(solo[k], toks, lens[k], base[k], &err) == 0);
            CHECK(octet_session_decode(bat[k], toks, lens[k], base[k], &err) == 0);
        }
        for (int step = 0; step < 3; step++) {
            int32_t next[K];
            int64_t pos[K];
            for (int k = 0; k < K; k++) {
                next[k] = (int32_t)((step * 7 + k * 13 + 5) % V);
                pos[k] = base[k] + octet_session_n_past(solo[k]);
                CHECK(octet_session_decode(solo[k], &next[k], 1, pos[k], &err) == 0);
            }
            CHECKF(octet_session_decode_batch(bat, next, pos, K, &err) == 0, "%s", err.msg);
            for (int k = 0; k < K; k++) {
                CHECK(octet_session_n_past(bat[k]) == octet_session_n_past(solo[k]));
                CHECKF(memcmp(octet_session_logits(solo[k], 0), octet_session_logits(bat[k], 0),
                              (size_t)V * sizeof(float)) == 0, "%s step %d session %d", ex ? "int" : "float", step, k);
            }
        }
        /* the same session twice is refused */
        octet_session *dup[2] = {bat[0], bat[0]};
        int32_t t2[2] = {1, 1};
        int64_t p2[2] = {0, 0};
        CHECK(octet_session_decode_batch(dup, t2, p2, 2, &err) == OCTET_EINVAL);
        for (int k = 0; k < K; k++) {
            octet_session_free(solo[k]);
            octet_session_free(bat[k]);
        }
    }

    /* pipeline stages: layers split in two (and three) sessions give bit-identical logits to one session */
    {
        octet_model_info mi;
        octet_model_get_info(m, &mi);
        const int L = mi.n_layer, E = mi.n_embd;
        float *h1 = malloc((size_t)n * (size_t)E * sizeof *h1), *h2 = malloc((size_t)n * (size_t)E * sizeof *h2);
        for (int split = 1; split < L; split++) {
            octet_session_params p1 = octet_session_default_params(), p2 = p1;
            p1.n_ctx = p2.n_ctx = 128;
            p1.n_batch = p2.n_batch = 64;
            p1.layer_begin = 0;
            p1.layer_end = split;
            p2.layer_begin = split;
            p2.layer_end = L;
            octet_session *a1 = NULL, *a2 = NULL;
            CHECK(octet_session_new(&a1, m, &p1, &err) == 0);
            CHECK(octet_session_new(&a2, m, &p2, &err) == 0);
            CHECK(octet_session_decode(a1, toks, n, 0, &err) == OCTET_EINVAL); /* a stage needs decode_stage */
            CHECK(octet_session_decode_stage(a1, toks, NULL, n, 0, h1, &err) == 0);
            CHECK(octet_session_decode_stage(a2, NULL, h1, n, 0, NULL, &err) == 0);
            CHECKF(memcmp(octet_session_logits(a2, n - 1), a, (size_t)V * sizeof *a) == 0, "split at %d", split);
            /* a following token through both stages matches the one-session decode */
            int32_t nx = toks[1];
            CHECK(octet_session_decode_stage(a1, &nx, NULL, 1, n, h2, &err) == 0);
            CHECK(octet_session_decode_stage(a2, NULL, h2, 1, n, NULL, &err) == 0);
            CHECK(octet_session_decode(s1, &nx, 1, n, &err) == 0);
            CHECK(memcmp(octet_session_logits(a2, 0), octet_session_logits(s1, 0), (size_t)V * sizeof *a) == 0);
            octet_session_truncate(s1, n);
            octet_session_free(a1);
            octet_session_free(a2);
        }
        octet_session_params bad = octet_session_default_params();
        bad.layer_begin = 2;
        bad.layer_end = 1;
        octet_session *x = NULL;
        CHECK(octet_session_new(&x, m, &bad, &err) == OCTET_EINVAL && x == NULL);
        free(h1);
        free(h2);
    }

    /* errors */
    int32_t bad = V;
    CHECK(octet_session_decode(s4, &bad, 1, 0, &err) == OCTET_ERANGE);
    bad = -1;
    CHECK(octet_session_decode(s4, &bad, 1, 0, &err) == OCTET_ERANGE);
    octet_session *small = mk(m, 1, 4, 4);
    CHECK(octet_session_decode(small, toks, 5, 0, &err) == OCTET_ERANGE);
    CHECK(octet_session_decode(small, toks, 4, 0, &err) == 0);
    CHECK(octet_session_decode(small, toks, 1, 4, &err) == OCTET_ERANGE);
    octet_session_truncate(small, 2);
    CHECK(octet_session_n_past(small) == 2);
    CHECK(octet_session_decode(small, toks, 2, 2, &err) == 0);
    CHECK(octet_session_decode(small, toks, 1, -5, &err) == OCTET_ERANGE);
    octet_session_params p = octet_session_default_params();
    p.exec = 7;
    octet_session *x = NULL;
    CHECK(octet_session_new(&x, m, &p, &err) == OCTET_EINVAL && x == NULL);

    octet_session_free(small);
    octet_session_free(s1);
    octet_session_free(s2);
    octet_session_free(s3);
    octet_session_free(s4);
    free(a);
    free(b);
    octet_model_close(m);
    TEST_MAIN_END();
}
