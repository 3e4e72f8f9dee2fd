/*
 * test_noalloc.c - decoding allocates nothing: after a warm-up, octet_session_decode (single tokens and a prompt
 * batch) makes no call to the allocation hook, in float and integer mode (when integer mode is available), with
 * 1 and 2 threads. The model is a random-weight test-tiny GGUF written by the synthesizer (src/model/synth.c)
 * in Q8_0 and Q4_K. As a control, the counting hook does see the allocations of a new session.
 */
#include <stdatomic.h>
#include <unistd.h>

#include "model/synth.h"
#include "octet.h"
#include "test.h"

static atomic_long n_alloc, n_free;

static void *h_malloc(size_t n, void *ud) {
    (void)ud;
    atomic_fetch_add(&n_alloc, 1);
    return malloc(n);
}
static void *h_calloc(size_t n, size_t size, void *ud) {
    (void)ud;
    atomic_fetch_add(&n_alloc, 1);
    return calloc(n, size);
}
static void h_free(void *p, void *ud) {
    (void)ud;
    if (p) atomic_fetch_add(&n_free, 1);
    free(p);
}

static void run(const char *path, int exec, int n_threads) {
    octet_model *m = NULL;
    octet_error err;
    CHECKF(octet_model_open(&m, path, NULL, &err) == 0, "%s", err.msg);
    if (!m) return;
    octet_session_params sp = octet_session_default_params();
    sp.exec = exec;
    sp.n_threads = n_threads;
    sp.n_ctx = 64;
    sp.n_batch = 16;
    octet_session *s = NULL;
    /* control: creating a session goes through the hook */
    atomic_store(&n_alloc, 0);
    int rc = octet_session_new(&s, m, &sp, &err);
    if (rc && exec == OCTET_EXEC_INT) {
        fprintf(stderr, "test_noalloc: integer mode not available (%s); skipped\n", err.msg);
        octet_model_close(m);
        return;
    }
    CHECKF(rc == 0, "%s", err.msg);
    CHECK(atomic_load(&n_alloc) > 0);
    int32_t toks[16];
    for (int i = 0; i < 16; i++) toks[i] = 3 + (i * 37) % 200;
    /* warm-up: a prompt and two tokens */
    CHECK(octet_session_decode(s, toks, 8, 0, &err) == 0);
    CHECK(octet_session_decode(s, toks + 8, 1, 8, &err) == 0);
    CHECK(octet_session_decode(s, toks + 9, 1, 9, &err) == 0);
    atomic_store(&n_alloc, 0);
    atomic_store(&n_free, 0);
    for (int i = 0; i < 6; i++) CHECK(octet_session_decode(s, toks + i, 1, 10 + i, &err) == 0);
    CHECK(octet_session_decode(s, toks, 5, 16, &err) == 0);
    CHECKF(atomic_load(&n_alloc) == 0 && atomic_load(&n_free) == 0,
           "exec %d threads %d: %ld allocations, %ld frees during decode", exec, n_threads, atomic_load(&n_alloc),
           atomic_load(&n_free));
    CHECK(octet_session_logits(s, 4) != NULL);
    octet_session_free(s);
    octet_model_close(m);
}

int main(void) {
    char dir[] = "/tmp/octet_noalloc_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    const char *types[2] = {"Q8_0", "Q4_K"};
    octet_alloc_hooks h = {h_malloc, h_calloc, h_free, NULL};
    octet_set_alloc_hooks(&h);
    for (int t = 0; t < 2; t++) {
        char path[128];
        snprintf(path, sizeof path, "%s/tiny-%s.gguf", dir, types[t]);
        octet__synth_shape sh;
        octet_error err;
        CHECK(octet__synth_shape_parse("test-tiny", &sh, &err) == 0);
        CHECKF(octet__synth_write(path, &sh, types[t], 2, 7, NULL, &err) == 0, "%s", err.msg);
        for (int nth = 1; nth <= 2; nth++) {
            run(path, OCTET_EXEC_FLOAT, nth);
            run(path, OCTET_EXEC_INT, nth);
        }
        unlink(path);
    }
    octet_set_alloc_hooks(NULL);
    rmdir(dir);
    TEST_MAIN_END();
}
