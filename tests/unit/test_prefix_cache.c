/*
 * test_prefix_cache.c - prompt caching through the public API is exact. `octet serve` keeps each slot's KV cache
 * and reuses the longest common token prefix with the next request (app/server/sched.c); that is only correct if
 * evaluating a prompt in pieces over a kept cache gives the very logits of one fresh evaluation. For each
 * execution mode (float, integer) on the bundled model (or $OCTET_TEST_MODEL), compared with memcmp:
 *  - fresh: A+B decoded in one call on a new session;
 *  - kept: A decoded, then B appended (the cache holds A);
 *  - truncated: A+C decoded, the cache cut back to |A| (octet_session_truncate), then B decoded: what a slot does
 *    when the next request shares only a prefix with the previous one;
 *  - truncated to 0 and everything evaluated again (cache_prompt off), and the server's 128-token prefill chunks;
 *  - a few greedy steps after each, so the cache contents (not only the last logits) agree;
 *  - the final hidden states (after the output norm, what embeddings pool) from octet_session_decode_stage, fresh
 *    and over a kept cache, in float mode.
 */
#include "octet.h"
#include "test.h"

static octet_session *mk(const octet_model *m, int exec, int n_ctx, int n_batch) {
    octet_session_params p = octet_session_default_params();
    p.exec = exec;
    p.n_threads = 2;
    p.n_ctx = n_ctx;
    p.n_batch = n_batch;
    octet_session *s = NULL;
    octet_error err;
    int rc = octet_session_new(&s, m, &p, &err);
    CHECKF(rc == 0, "%s", err.msg);
    return s;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* Decode toks in pieces of at most `chunk` tokens from position n_past, then `steps` greedy tokens; the logits of
 * every step go to out (steps + 1 rows of V). */
static void run(octet_session *s, const int32_t *toks, int n, int chunk, int steps, float *out, int V) {
    octet_error err;
    int at = octet_session_n_past(s), c = 0;
    for (int i = at; i < n; i += chunk) {
        c = n - i < chunk ? n - i : chunk;
        CHECKF(octet_session_decode(s, toks + i, c, i, &err) == 0, "%s", err.msg);
    }
    const float *lg = c ? octet_session_logits(s, c - 1) : NULL;
    CHECK(lg != NULL);
    if (!lg) return;
    memcpy(out, lg, (size_t)V * sizeof *out);
    for (int k = 0; k < steps; k++) {
        int32_t t = argmax(out + (size_t)k * V, V);
        int64_t pos = octet_session_n_past(s);
        CHECKF(octet_session_decode(s, &t, 1, pos, &err) == 0, "%s", err.msg);
        memcpy(out + (size_t)(k + 1) * V, octet_session_logits(s, 0), (size_t)V * sizeof *out);
    }
}

int main(void) {
    const char *path = getenv("OCTET_TEST_MODEL");
    if (!path) path = "models/octet-kjv.gguf";
    octet_model *m = NULL;
    octet_error err;
    if (octet_model_open(&m, path, NULL, &err) != 0) {
        printf("SKIP: cannot open %s: %s\n", path, err.msg);
        return 0;
    }
    const int V = octet_n_vocab(m);
    const char *ta = "In the beginning God created the heaven and the earth. And the earth was without form, and void; "
                     "and darkness was upon the face of the deep.";
    const char *tb = " And the Spirit of God moved upon the face of the waters. And God said, Let there be light: and "
                     "there was light. And God saw the light, that it was good: and God divided the light from the "
                     "darkness. And God called the light Day, and the darkness he called Night.";
    const char *tc = " Blessed are the meek: for they shall inherit the earth.";
    int32_t ab[512], ac[512];
    int na = 0, nab = 0, nac = 0, nb = 0, nc = 0;
    int32_t tmp[512];
    CHECK(octet_tokenize(m, ta, strlen(ta), 1, 0, ab, 512, &na, &err) == 0);
    memcpy(ac, ab, (size_t)na * sizeof *ab);
    CHECK(octet_tokenize(m, tb, strlen(tb), 0, 0, tmp, 512, &nb, &err) == 0);
    memcpy(ab + na, tmp, (size_t)nb * sizeof *tmp);
    CHECK(octet_tokenize(m, tc, strlen(tc), 0, 0, tmp, 512, &nc, &err) == 0);
    memcpy(ac + na, tmp, (size_t)nc * sizeof *tmp);
    nab = na + nb;
    nac = na + nc;
    CHECK(na > 20 && nb > 40 && nc > 5);
    const int steps = 6, n_ctx = 256;
    CHECK(nab + steps < n_ctx && nac < n_ctx);
    float *ref = malloc((size_t)(steps + 1) * V * sizeof *ref), *got = malloc((size_t)(steps + 1) * V * sizeof *got);
    const size_t bytes = (size_t)(steps + 1) * V * sizeof *ref;

    for (int exec = OCTET_EXEC_FLOAT; exec <= OCTET_EXEC_INT; exec++) {
        const char *mode = exec == OCTET_EXEC_FLOAT ? "float" : "int";
        octet_session *fresh = mk(m, exec, n_ctx, 512), *s = mk(m, exec, n_ctx, 512);
        if (!fresh || !s) break;
        run(fresh, ab, nab, nab, steps, ref, V);

        /* kept: A, then B */
        run(s, ab, na, na, 0, got, V);
        run(s, ab, nab, nab, steps, got, V);
        CHECKF(memcmp(ref, got, bytes) == 0, "%s: A then B differs from A+B", mode);

        /* truncated: A+C, back to |A|, then B (and once more from a cache holding A+B+steps) */
        for (int rep = 0; rep < 2; rep++) {
            if (rep == 0) {
                octet_session_truncate(s, 0);
                run(s, ac, nac, nac, 2, got, V);
            }
            octet_session_truncate(s, na);
            CHECK(octet_session_n_past(s) == na);
            run(s, ab, nab, nab, steps, got, V);
            CHECKF(memcmp(ref, got, bytes) == 0, "%s: A+C cut to A, then B differs from A+B (rep %d)", mode, rep);
        }
        /* the whole prompt cached but its last token re-evaluated (the server needs its logits) */
        octet_session_truncate(s, nab - 1);
        run(s, ab, nab, nab, steps, got, V);
        CHECKF(memcmp(ref, got, bytes) == 0, "%s: last token re-evaluated differs", mode);
        /* cache_prompt off: everything again; and the server's 128-token chunks, and one token at a time */
        int chunks[3] = {nab, 128, 1};
        for (int k = 0; k < 3; k++) {
            octet_session_truncate(s, 0);
            run(s, ab, nab, chunks[k], steps, got, V);
            CHECKF(memcmp(ref, got, bytes) == 0, "%s: chunks of %d differ from one call", mode, chunks[k]);
        }
        octet_session_free(fresh);
        octet_session_free(s);
    }

    /* final hidden states (embeddings' input) over a kept cache equal those of a fresh evaluation */
    {
        octet_model_info mi;
        octet_model_get_info(m, &mi);
        const int E = mi.n_embd;
        float *h1 = calloc((size_t)nab * E, sizeof *h1), *h2 = calloc((size_t)nab * E, sizeof *h2);
        octet_session *fresh = mk(m, OCTET_EXEC_FLOAT, n_ctx, 512), *s = mk(m, OCTET_EXEC_FLOAT, n_ctx, 512);
        CHECKF(octet_session_decode_stage(fresh, ab, NULL, nab, 0, h1, &err) == 0, "%s", err.msg);
        memcpy(ref, octet_session_logits(fresh, nab - 1), (size_t)V * sizeof *ref);
        CHECK(octet_session_decode_stage(s, ac, NULL, nac, 0, h2, &err) == 0);
        octet_session_truncate(s, na);
        CHECK(octet_session_decode_stage(s, ab + na, NULL, nb, na, h2 + (size_t)na * E, &err) == 0);
        CHECK(memcmp(ref, octet_session_logits(s, nb - 1), (size_t)V * sizeof *ref) == 0);
        octet_session_truncate(s, 0);
        CHECK(octet_session_decode_stage(s, ab, NULL, na, 0, h2, &err) == 0);
        CHECK(memcmp(h1, h2, (size_t)nab * E * sizeof *h1) == 0);
        /* not the raw residual stream: each row has the output norm's RMS scale (rows differ from each other) */
        double ss = 0;
        for (int i = 0; i < E; i++) ss += (double)h1[i] * (double)h1[i];
        CHECK(ss > 0 && isfinite(ss));
        CHECK(memcmp(h1, h1 + E, (size_t)E * sizeof *h1) != 0);
        /* integer mode has no float hidden states to give */
        octet_session *si = mk(m, OCTET_EXEC_INT, n_ctx, 512);
        CHECK(octet_session_decode_stage(si, ab, NULL, na, 0, h2, &err) == OCTET_EUNSUPPORTED);
        octet_session_free(si);
        octet_session_free(fresh);
        octet_session_free(s);
        free(h1);
        free(h2);
    }
    free(ref);
    free(got);
    octet_model_close(m);
    TEST_MAIN_END();
}
