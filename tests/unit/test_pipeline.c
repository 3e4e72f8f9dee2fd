/*
 * test_pipeline.c - pipeline parallelism over the loopback transport (src/dist), independent of MPI:
 *  - partitioning by bytes against hand-worked cases, and --split parsing (good and bad strings);
 *  - loopback messages: order per (sender, tag), tags kept apart, silence timeout, abort;
 *  - 1, 2 and 3 stages (balanced and uneven splits) give logits bit-identical to one session, for a prompt
 *    with logits for every token and for greedy generation token by token (same tokens);
 *  - three sequences in flight at once (micro-batches, resets between rounds) each equal their one-session run;
 *  - ranks that opened different model files, or a rank that never answers, fail at start on every rank with
 *    a message naming the cause; integer mode is refused.
 * The models are synthesized into temporary files (random weights, 5 layers) so the test needs no download.
 */
#include <pthread.h>
#include <unistd.h>

#include "dist/pipeline.h"
#include "model/synth.h"
#include "octet.h"
#include "test.h"

#define MAXR 3
#define NP 12 /* prompt tokens */
#define NG 6  /* generated tokens */
#define NSEQ 3

typedef struct job {
    octet__transport *t;
    const char *path;
    const char *split;
    int n_seq, exec;
    double timeout_s;
    int silent; /* this rank never joins (timeout test) */
    /* rank 0 results */
    float *prompt_logits; /* [NP][V] */
    int32_t gen[NG];
    float *seq_logits;    /* [NSEQ][V] last-token logits of three sequences, round 2 */
    int rc_new, rc_run;
    char msg[512];
} job;

static octet_session_params sess_params(int exec) {
    octet_session_params sp = octet_session_default_params();
    sp.n_ctx = 64;
    sp.n_batch = 32;
    sp.n_threads = 1;
    sp.logits_all = 1;
    sp.exec = exec;
    return sp;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

static void prompt_of(int32_t *toks, int seq) {
    for (int i = 0; i < NP; i++) toks[i] = (int32_t)(3 + (i * 37 + seq * 101) % 290);
}

static void *rank_main(void *arg) {
    job *j = arg;
    octet_error err;
    memset(&err, 0, sizeof err);
    if (j->silent) return NULL;
    octet_model *m = NULL;
    octet_dist *d = NULL;
    octet_pipeline *pl = NULL;
    if (octet_model_open(&m, j->path, NULL, &err) || octet__dist_wrap(&d, j->t, &err)) {
        j->rc_new = -100;
        snprintf(j->msg, sizeof j->msg, "%s", err.msg);
        octet_model_close(m);
        return NULL;
    }
    octet_pipeline_params pp = octet_pipeline_default_params();
    pp.session = sess_params(j->exec);
    pp.split = j->split;
    pp.n_seq = j->n_seq;
    pp.timeout_s = j->timeout_s;
    j->rc_new = octet_pipeline_new(&pl, d, m, j->path, &pp, &err);
    if (j->rc_new) {
        snprintf(j->msg, sizeof j->msg, "%s", err.msg);
        goto done;
    }
    if (j->t->rank != 0) {
        j->rc_run = octet_pipeline_serve(pl, &err);
        if (j->rc_run) snprintf(j->msg, sizeof j->msg, "%s", err.msg);
        goto done;
    }
    const int V = octet_n_vocab(m);
    int32_t toks[NP];
    prompt_of(toks, 0);
    int rc = octet_pipeline_decode(pl, 0, toks, NP, 0, &err);
    for (int i = 0; !rc && i < NP; i++) memcpy(j->prompt_logits + (size_t)i * V, octet_pipeline_logits(pl, 0, i), (size_t)V * 4);
    int32_t tok = (int32_t)argmax(octet_pipeline_logits(pl, 0, NP - 1), V);
    for (int g = 0; !rc && g < NG; g++) {
        j->gen[g] = tok;
        rc = octet_pipeline_decode(pl, 0, &tok, 1, octet_pipeline_n_past(pl, 0), &err);
        if (!rc) tok = (int32_t)argmax(octet_pipeline_logits(pl, 0, 0), V);
    }
    /* micro-batches: two rounds of NSEQ sequences in flight, the second after resets */
    for (int round = 0; !rc && round < 2 && j->n_seq >= NSEQ; round++) {
        for (int s = 0; !rc && s < NSEQ; s++) {
            int32_t t2[NP];
            prompt_of(t2, s + round);
            rc = octet_pipeline_submit(pl, s, t2, NP, 0, 1, &err);
        }
        for (int s = 0; !rc && s < NSEQ; s++) {
            int got = -1;
            rc = octet_pipeline_wait(pl, &got, &err);
            CHECK(rc || got == s);
            if (!rc && round == 1) memcpy(j->seq_logits + (size_t)s * V, octet_pipeline_logits(pl, s, NP - 1), (size_t)V * 4);
        }
    }
    if (!rc) rc = octet_pipeline_finish(pl, &err);
    j->rc_run = rc;
    if (rc) snprintf(j->msg, sizeof j->msg, "%s", err.msg);
done:
    octet_pipeline_free(pl);
    octet_dist_close(d);
    octet_model_close(m);
    return NULL;
}

/* Run n ranks in threads; jobs[r] describe each. */
static void run_ranks(job *jobs, int n) {
    octet__transport *eps[MAXR];
    octet_error err;
    CHECK(octet__transport_local_new(eps, n, &err) == 0);
    pthread_t th[MAXR];
    for (int r = 0; r < n; r++) {
        jobs[r].t = eps[r];
        pthread_create(&th[r], NULL, rank_main, &jobs[r]);
    }
    for (int r = 0; r < n; r++) pthread_join(th[r], NULL);
    for (int r = 0; r < n; r++)
        if (jobs[r].silent) octet__transport_close(eps[r]);
}

static void test_partition(void) {
    octet_error err;
    int b[8];
    const uint64_t eq[4] = {1, 1, 1, 1};
    CHECK(octet__pipeline_partition(eq, 4, 0, 2, b, &err) == 0 && b[0] == 0 && b[1] == 2 && b[2] == 4);
    /* an output matrix of 2 layers' bytes on the last stage: 3 | 1 costs max(3, 1 + 2) = 3 < max(2, 2 + 2) */
    CHECK(octet__pipeline_partition(eq, 4, 2, 2, b, &err) == 0 && b[1] == 3 && b[2] == 4);
    const uint64_t heavy[6] = {5, 1, 1, 1, 1, 1};
    CHECK(octet__pipeline_partition(heavy, 6, 0, 2, b, &err) == 0 && b[1] == 1 && b[2] == 6);
    CHECK(octet__pipeline_partition(heavy, 6, 0, 3, b, &err) == 0 && b[1] == 1 && b[3] == 6); /* ties after */
    const uint64_t mix[7] = {4, 1, 1, 1, 1, 2, 2}; /* the only split with largest stage 4: 4 | 1 1 1 1 | 2 2 */
    CHECK(octet__pipeline_partition(mix, 7, 0, 3, b, &err) == 0 && b[1] == 1 && b[2] == 5 && b[3] == 7);
    CHECK(octet__pipeline_partition(eq, 4, 0, 4, b, &err) == 0 && b[1] == 1 && b[2] == 2 && b[3] == 3);
    CHECK(octet__pipeline_partition(eq, 4, 0, 5, b, &err) == OCTET_EINVAL);
    CHECK(octet__pipeline_parse_split(" 2, 3", 5, 2, b, &err) == 0 && b[0] == 0 && b[1] == 2 && b[2] == 5);
    CHECK(octet__pipeline_parse_split("1,1,3", 5, 3, b, &err) == 0 && b[1] == 1 && b[2] == 2 && b[3] == 5);
    CHECK(octet__pipeline_parse_split("2,2", 5, 2, b, &err) == OCTET_EINVAL && strstr(err.msg, "sum"));
    CHECK(octet__pipeline_parse_split("0,5", 5, 2, b, &err) == OCTET_EINVAL);
    CHECK(octet__pipeline_parse_split("1,1,3", 5, 2, b, &err) == OCTET_EINVAL);
    CHECK(octet__pipeline_parse_split("4", 5, 2, b, &err) == OCTET_EINVAL);
    CHECK(octet__pipeline_parse_split("2;3", 5, 2, b, &err) == OCTET_EINVAL);
    CHECK(octet__pipeline_parse_split("x", 5, 2, b, &err) == OCTET_EINVAL);
}

static void test_transport(void) {
    octet__transport *e[2];
    octet_error err;
    CHECK(octet__transport_local_new(e, 2, &err) == 0);
    CHECK(octet__send(e[0], 1, OCTET__TAG_DATA, "a", 1, &err) == 0);
    CHECK(octet__send(e[0], 1, OCTET__TAG_CTRL, "c", 1, &err) == 0);
    CHECK(octet__send(e[0], 1, OCTET__TAG_DATA, "b", 1, &err) == 0);
    void *p;
    size_t n;
    CHECK(octet__recv(e[1], 0, OCTET__TAG_CTRL, &p, &n, 1.0, &err) == 0 && n == 1 && *(char *)p == 'c');
    free(p); /* the test library allocates with the C allocator (no hooks set) */
    CHECK(octet__recv(e[1], 0, OCTET__TAG_DATA, &p, &n, 1.0, &err) == 0 && *(char *)p == 'a');
    free(p);
    CHECK(octet__recv(e[1], 0, OCTET__TAG_DATA, &p, &n, 1.0, &err) == 0 && *(char *)p == 'b');
    free(p);
    CHECK(octet__send(e[0], 0, OCTET__TAG_DATA, "x", 1, &err) == OCTET_EINVAL); /* to itself */
    double t0 = octet__dist_now();
    CHECK(octet__recv(e[1], 0, OCTET__TAG_DATA, &p, &n, 0.3, &err) == OCTET_EIO && strstr(err.msg, "stopped answering"));
    double dt = octet__dist_now() - t0;
    CHECKF(dt >= 0.25 && dt < 2.0, "timeout after %.2f s", dt);
    octet__transport_abort(e[0], 3);
    CHECK(octet__recv(e[1], 0, OCTET__TAG_DATA, &p, &n, 5.0, &err) == OCTET_EIO && strstr(err.msg, "aborted by rank 0"));
    octet__transport_close(e[0]);
    octet__transport_close(e[1]);
}

int main(void) {
    test_partition();
    test_transport();

    char pa[64], pb[64];
    snprintf(pa, sizeof pa, "/tmp/octet_test_pipeline_a_%ld.gguf", (long)getpid());
    snprintf(pb, sizeof pb, "/tmp/octet_test_pipeline_b_%ld.gguf", (long)getpid());
    octet__synth_shape sh = {"test-pipeline", 64, 5, 4, 2, 128, 300, 64, NULL, 0, 0.0f, 0.0f, 0, {0}, 0, 0, 0, 0, 0, 0.0f, 0};
    octet_error err;
    CHECKF(octet__synth_write(pa, &sh, "F32", 1, 7, NULL, &err) == 0, "%s", err.msg);
    CHECKF(octet__synth_write(pb, &sh, "F32", 1, 8, NULL, &err) == 0, "%s", err.msg); /* same shape, other weights */

    /* reference: one session */
    octet_model *m = NULL;
    CHECK(octet_model_open(&m, pa, NULL, &err) == 0);
    if (!m) return 1;
    const int V = octet_n_vocab(m);
    float *ref = malloc((size_t)NP * V * 4), *ref_seq = malloc((size_t)NSEQ * V * 4);
    int32_t ref_gen[NG], toks[NP];
    octet_session_params sp = sess_params(OCTET_EXEC_FLOAT);
    octet_session *s = NULL;
    CHECK(octet_session_new(&s, m, &sp, &err) == 0);
    prompt_of(toks, 0);
    CHECK(octet_session_decode(s, toks, NP, 0, &err) == 0);
    memcpy(ref, octet_session_logits(s, 0), (size_t)NP * V * 4);
    int32_t tok = (int32_t)argmax(octet_session_logits(s, NP - 1), V);
    for (int g = 0; g < NG; g++) {
        ref_gen[g] = tok;
        CHECK(octet_session_decode(s, &tok, 1, octet_session_n_past(s), &err) == 0);
        tok = (int32_t)argmax(octet_session_logits(s, 0), V);
    }
    for (int q = 0; q < NSEQ; q++) {
        octet_session_truncate(s, 0);
        prompt_of(toks, q + 1);
        CHECK(octet_session_decode(s, toks, NP, 0, &err) == 0);
        memcpy(ref_seq + (size_t)q * V, octet_session_logits(s, NP - 1), (size_t)V * 4);
    }
    octet_session_free(s);
    octet_model_close(m);

    /* 1, 2, 3 stages, balanced and uneven: bit-identical */
    const struct { int n; const char *split; } cases[] = {{1, NULL}, {2, NULL}, {3, NULL}, {2, "4,1"}, {3, "1,3,1"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        job jobs[MAXR];
        memset(jobs, 0, sizeof jobs);
        float *pl_logits = calloc((size_t)NP * V, 4), *sq = calloc((size_t)NSEQ * V, 4);
        for (int r = 0; r < cases[c].n; r++) {
            jobs[r].path = pa;
            jobs[r].split = cases[c].split;
            jobs[r].n_seq = NSEQ;
            jobs[r].timeout_s = 20;
            jobs[r].prompt_logits = pl_logits;
            jobs[r].seq_logits = sq;
        }
        run_ranks(jobs, cases[c].n);
        for (int r = 0; r < cases[c].n; r++)
            CHECKF(jobs[r].rc_new == 0 && jobs[r].rc_run == 0, "%d ranks, split %s, rank %d: %s", cases[c].n,
                   cases[c].split ? cases[c].split : "auto", r, jobs[r].msg);
        CHECKF(memcmp(pl_logits, ref, (size_t)NP * V * 4) == 0, "%d stages: prompt logits differ", cases[c].n);
        CHECKF(memcmp(jobs[0].gen, ref_gen, sizeof ref_gen) == 0, "%d stages: greedy tokens differ", cases[c].n);
        CHECKF(memcmp(sq, ref_seq, (size_t)NSEQ * V * 4) == 0, "%d stages: micro-batch logits differ", cases[c].n);
        free(pl_logits);
        free(sq);
    }

    /* a rank with another model file (same shape, other weights): refused at start on every rank */
    {
        job jobs[2];
        memset(jobs, 0, sizeof jobs);
        float *buf = calloc((size_t)NP * V, 4), *sq = calloc((size_t)NSEQ * V, 4);
        for (int r = 0; r < 2; r++) {
            jobs[r].path = r == 1 ? pb : pa;
            jobs[r].n_seq = 1;
            jobs[r].timeout_s = 20;
            jobs[r].prompt_logits = buf;
            jobs[r].seq_logits = sq;
        }
        run_ranks(jobs, 2);
        CHECKF(jobs[0].rc_new == OCTET_EINVAL && strstr(jobs[0].msg, "rank 1 has a different model file"), "%s",
               jobs[0].msg);
        CHECKF(jobs[1].rc_new == OCTET_EINVAL && strstr(jobs[1].msg, "different model file"), "%s", jobs[1].msg);
        /* a different split on one rank is refused too */
        memset(jobs, 0, sizeof jobs);
        for (int r = 0; r < 2; r++) {
            jobs[r].path = pa;
            jobs[r].split = r ? "2,3" : "3,2";
            jobs[r].n_seq = 1;
            jobs[r].timeout_s = 20;
            jobs[r].prompt_logits = buf;
            jobs[r].seq_logits = sq;
        }
        run_ranks(jobs, 2);
        CHECKF(jobs[0].rc_new == OCTET_EINVAL && strstr(jobs[0].msg, "layer split"), "%s", jobs[0].msg);
        /* a rank that never joins: rank 0 reports it within its timeout */
        memset(jobs, 0, sizeof jobs);
        for (int r = 0; r < 2; r++) {
            jobs[r].path = pa;
            jobs[r].n_seq = 1;
            jobs[r].timeout_s = 0.5;
            jobs[r].silent = r == 1;
        }
        double t0 = octet__dist_now();
        run_ranks(jobs, 2);
        double dt = octet__dist_now() - t0;
        CHECKF(jobs[0].rc_new == OCTET_EIO && strstr(jobs[0].msg, "rank 1 stopped answering"), "%s", jobs[0].msg);
        CHECKF(dt < 5.0, "the silent rank was noticed after %.1f s", dt);
        /* integer mode cannot be split yet */
        memset(jobs, 0, sizeof jobs);
        jobs[0].path = pa;
        jobs[0].n_seq = 1;
        jobs[0].exec = OCTET_EXEC_INT;
        jobs[0].timeout_s = 5;
        run_ranks(jobs, 1);
        CHECKF(jobs[0].rc_new == OCTET_EUNSUPPORTED && strstr(jobs[0].msg, "integer"), "%s", jobs[0].msg);
        free(buf);
        free(sq);
    }
    free(ref);
    free(ref_seq);
    unlink(pa);
    unlink(pb);
    TEST_MAIN_END();
}
