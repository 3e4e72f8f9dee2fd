/*
 * test_int_repack_session.c - integer-mode logits with the load-time q8_0x16 copies of the AVX-512 VNNI kernels
 * (src/model/int/repack.c) equal those without them, byte for byte: the same model opened with OCTET_NO_REPACK=1
 * and without, a batch of 6 tokens (logits of every token) and the same tokens one at a time; then sessions with
 * the portable kernels forced on, where matrices held only by their groups (requantized rows freed) are read
 * through them row by row. Q8_0 (rows in place, file pages released), F32 and Q4_K (requantized) tiny models. On a
 * CPU without AVX-512 VNNI no copies are built and the comparisons hold trivially (said on stdout).
 */
#include <stdlib.h>
#include <unistd.h>

#include "kernels/int_repack.h"
#include "kernels/kset.h"
#include "model/synth.h"
#include "octet.h"
#include "test.h"

enum { NT = 6 };

/* The logits of NT tokens decoded as one batch (out[0 .. NT)) and one at a time (out[NT .. 2 NT)). */
static int logits(octet_model *m, float *out, int nv) {
    static const int32_t toks[NT] = {1, 17, 42, 99, 5, 63};
    octet_session_params sp = octet_session_default_params();
    sp.exec = OCTET_EXEC_INT;
    sp.n_threads = 2;
    sp.n_ctx = 32;
    sp.n_batch = 8;
    sp.logits_all = 1;
    octet_session *s = NULL;
    octet_error err;
    if (octet_session_new(&s, m, &sp, &err) != 0) {
        fprintf(stderr, "session: %s\n", err.msg);
        return -1;
    }
    int rc = octet_session_decode(s, toks, NT, 0, &err);
    for (int i = 0; !rc && i < NT; i++) {
        const float *l = octet_session_logits(s, i);
        if (!l) rc = -1;
        else memcpy(out + (size_t)i * (size_t)nv, l, (size_t)nv * sizeof *l);
    }
    octet_session_truncate(s, 0);
    for (int i = 0; !rc && i < NT; i++) {
        rc = octet_session_decode(s, toks + i, 1, i, &err);
        const float *l = rc ? NULL : octet_session_logits(s, 0);
        if (!l) rc = -1;
        else memcpy(out + (size_t)(NT + i) * (size_t)nv, l, (size_t)nv * sizeof *l);
    }
    octet_session_free(s);
    return rc;
}

static void run(const char *path, const char *type) {
    octet_model *off = NULL, *on = NULL;
    octet_error err;
    CHECKF(octet_model_open(&off, path, NULL, &err) == 0, "%s", err.msg);
    CHECKF(octet_model_open(&on, path, NULL, &err) == 0, "%s", err.msg);
    if (!off || !on) {
        octet_model_close(off);
        octet_model_close(on);
        return;
    }
    const int nv = octet_n_vocab(on);
    const size_t n = (size_t)2 * NT * (size_t)nv;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c), *d = malloc(n * sizeof *d);
    CHECK(a && b && c && d);
    if (a && b && c && d) {
        setenv("OCTET_NO_REPACK", "1", 1); /* read when the model's integer weights are built: the first session */
        CHECK(logits(off, a, nv) == 0);
        unsetenv("OCTET_NO_REPACK");
        CHECK(logits(on, b, nv) == 0);
        CHECKF(memcmp(a, b, n * sizeof *a) == 0, "%s: logits with the q8_0x16 copies differ from those without", type);
        CHECKF(memcmp(a, a + (size_t)NT * (size_t)nv, (size_t)NT * (size_t)nv * sizeof *a) == 0,
               "%s: batch and token-by-token logits differ", type);
        /* the same weights (copies built) with the portable kernels: matrices held only by their groups row by row */
        octet_force_portable(1);
        CHECK(logits(on, c, nv) == 0);
        CHECK(logits(off, d, nv) == 0);
        octet_force_portable(0);
        CHECKF(memcmp(a, c, n * sizeof *a) == 0, "%s: portable logits through the q8_0x16 copies differ", type);
        CHECKF(memcmp(a, d, n * sizeof *a) == 0, "%s: portable logits differ", type);
    }
    free(a), free(b), free(c), free(d);
    octet_model_close(off);
    octet_model_close(on);
}

int main(void) {
    if (!(octet__kset_find("avx512") != NULL)) printf("%s: no AVX-512 VNNI: no q8_0x16 copies are built here\n", __FILE__);
    char dir[] = "/tmp/octet_int_repack_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    const char *types[3] = {"Q8_0", "F32", "Q4_K"};
    for (int t = 0; t < 3; t++) {
        char path[128];
        snprintf(path, sizeof path, "%s/tiny-%s.gguf", dir, types[t]);
        octet__synth_shape sh;
        octet_error err;
        CHECK(octet__synth_shape_parse("test-tiny", &sh, &err) == 0);
        CHECKF(octet__synth_write(path, &sh, types[t], 2, 7, NULL, &err) == 0, "%s", err.msg);
        run(path, types[t]);
        unlink(path);
    }
    rmdir(dir);
    TEST_MAIN_END();
}
