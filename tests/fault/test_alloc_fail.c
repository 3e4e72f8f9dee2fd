/*
 * test_alloc_fail.c - fault injection: fail the Nth allocation, for every N, over model load (GGUF parse,
 * tensor binding, tokenizer), session creation, tokenization and a decode step, sampler creation. Each failure
 * must come back as an error status with a message (never a crash), and nothing may leak: the hook counts
 * live allocations, which must return to zero after the objects are freed (the ASan build also runs
 * LeakSanitizer at exit).
 */
#include <stdatomic.h>
#include <unistd.h>

#include "octet.h"
#include "test.h"

static atomic_long g_count, g_live;
static long g_fail_at = -1;

static void *h_malloc(size_t n, void *ud) {
    (void)ud;
    long k = atomic_fetch_add(&g_count, 1) + 1;
    if (k == g_fail_at) return NULL;
    void *p = malloc(n);
    if (p) atomic_fetch_add(&g_live, 1);
    return p;
}
static void *h_calloc(size_t n, size_t s, void *ud) {
    (void)ud;
    long k = atomic_fetch_add(&g_count, 1) + 1;
    if (k == g_fail_at) return NULL;
    void *p = calloc(n, s);
    if (p) atomic_fetch_add(&g_live, 1);
    return p;
}
static void h_free(void *p, void *ud) {
    (void)ud;
    if (p) atomic_fetch_sub(&g_live, 1);
    free(p);
}

/* One full run; returns 0 when everything succeeded, else the failing status. */
static int run_once(const char *path, octet_error *err) {
    octet_model *m = NULL;
    octet_session *s = NULL;
    octet_sampler *smp = NULL;
    int rc = octet_model_open(&m, path, NULL, err);
    if (rc) return rc;
    octet_session_params sp = octet_session_default_params();
    sp.n_ctx = 32;
    sp.n_batch = 8;
    sp.n_threads = 2;
    rc = octet_session_new(&s, m, &sp, err);
    if (rc == 0) {
        int32_t toks[16];
        int n = 0;
        rc = octet_tokenize(m, "And God said", 12, 1, 0, toks, 16, &n, err);
        if (rc == 0) rc = octet_session_decode(s, toks, n, 0, err);
        if (rc == 0) rc = octet_sampler_new(&smp, NULL, octet_n_vocab(m), err);
        if (rc == 0) {
            int32_t t = octet_sampler_sample(smp, octet_session_logits(s, n - 1));
            rc = octet_session_decode(s, &t, 1, n, err);
        }
    }
    octet_sampler_free(smp);
    octet_session_free(s);
    octet_model_close(m);
    return rc;
}

int main(void) {
    const char *path = getenv("OCTET_TEST_MODEL");
    if (!path) path = "models/octet-kjv.gguf";
    octet_alloc_hooks hooks = {h_malloc, h_calloc, h_free, NULL};
    octet_set_alloc_hooks(&hooks);
    octet_error err;
    /* count the allocations of a successful run */
    g_fail_at = -1;
    atomic_store(&g_count, 0);
    int rc = run_once(path, &err);
    CHECKF(rc == 0, "clean run failed: %s", err.msg);
    long total = atomic_load(&g_count);
    CHECK(atomic_load(&g_live) == 0);
    CHECK(total > 10);
    int n_fail = 0, n_bad = 0;
    for (long k = 1; k <= total; k++) {
        g_fail_at = k;
        atomic_store(&g_count, 0);
        memset(&err, 0, sizeof err);
        rc = run_once(path, &err);
        if (rc != 0) {
            n_fail++;
            if (err.msg[0] == 0 || err.code != rc) n_bad++;
        }
        if (atomic_load(&g_live) != 0) {
            CHECKF(0, "allocation %ld failed: %ld blocks leaked", k, atomic_load(&g_live));
            atomic_store(&g_live, 0);
        }
    }
    CHECKF(n_fail == total, "%d of %ld injected failures were reported", n_fail, total);
    CHECKF(n_bad == 0, "%d failures without a message or with a mismatched code", n_bad);
    printf("fault injection: %ld allocation sites, %d failures reported, %d without message\n", total, n_fail, n_bad);

    /* a quantize run: every failure reported, nothing leaked, no output file left behind */
    char out[256];
    snprintf(out, sizeof out, "/tmp/octet-fault-%ld.gguf", (long)getpid());
    octet_quantize_params qp = octet_quantize_default_params();
    qp.type = "Q4_K_M";
    qp.n_threads = 2;
    g_fail_at = -1;
    atomic_store(&g_count, 0);
    rc = octet_model_quantize(path, out, &qp, NULL, &err);
    CHECKF(rc == 0, "clean quantize failed: %s", err.msg);
    long qtotal = atomic_load(&g_count);
    CHECK(atomic_load(&g_live) == 0);
    unlink(out);
    int q_fail = 0, q_left = 0;
    for (long k = 1; k <= qtotal; k++) {
        g_fail_at = k;
        atomic_store(&g_count, 0);
        memset(&err, 0, sizeof err);
        rc = octet_model_quantize(path, out, &qp, NULL, &err);
        if (rc != 0) {
            q_fail++;
            if (access(out, F_OK) == 0) q_left++;
            CHECKF(err.msg[0] != 0, "quantize allocation %ld failed without a message", k);
        } else {
            printf("quantize allocation %ld of %ld: failure not reported\n", k, qtotal);
        }
        unlink(out);
        if (atomic_load(&g_live) != 0) {
            CHECKF(0, "quantize allocation %ld failed: %ld blocks leaked", k, atomic_load(&g_live));
            atomic_store(&g_live, 0);
        }
    }
    CHECKF(q_fail == qtotal, "%d of %ld injected quantize failures were reported", q_fail, qtotal);
    CHECKF(q_left == 0, "%d failed quantize runs left an output file", q_left);
    printf("fault injection, quantize: %ld allocation sites, %d failures reported\n", qtotal, q_fail);
    octet_set_alloc_hooks(NULL);
    TEST_MAIN_END();
}
