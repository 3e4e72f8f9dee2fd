/*
 * fuzz_gguf.c - libFuzzer target over the GGUF reader (octet__gguf_open_memory).
 *
 * Every input must either be rejected with a non-empty message and no object, or be accepted; accepted files
 * are then walked through every reader (getters of every kind on every key, rendering, tensor bytes) so that
 * anything the validator let through is also safe to use. Sanitizers catch the rest.
 *
 * Files the reader accepts are then bound as a model (octet_model_open: hyperparameters, tensor shapes and
 * types, tokenizer construction), through a memfd so the public path-based API sees exactly these bytes; a model
 * that binds is tokenized and decoded for a few tokens.
 *
 * Build and run: make fuzz && build/fuzz/fuzz_gguf fuzz/corpus/gguf -max_total_time=120
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/core.h"
#include "format/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const octet__gguf *g) {
    octet_error err;
    char buf[300];
    for (int64_t i = 0; i < octet__gguf_n_kv(g); i++) {
        const octet__gguf_kv *kv = octet__gguf_kv_at(g, i);
        if (octet__gguf_find_kv(g, kv->key_z) != i) __builtin_trap(); /* keys are unique and findable */
        octet__gguf_value_str(g, i, buf, sizeof buf);
        octet__gguf_value_str(g, i, buf, 7);
        uint32_t u;
        int64_t s;
        float f;
        int b;
        octet__str str;
        octet__gguf_get_u32(g, kv->key_z, &u, &err);
        octet__gguf_get_i64(g, kv->key_z, &s, &err);
        octet__gguf_get_f32(g, kv->key_z, &f, &err);
        octet__gguf_get_bool(g, kv->key_z, &b, &err);
        if (octet__gguf_get_str(g, kv->key_z, &str, &err) == 0 && str.len) {
            volatile char c = str.ptr[str.len - 1];
            (void)c;
        }
        uint64_t n;
        const void *p;
        if (kv->type == GGUF_TYPE_ARRAY && kv->arr_type != GGUF_TYPE_STRING && kv->arr_type != GGUF_TYPE_ARRAY &&
            octet__gguf_get_arr(g, kv->key_z, kv->arr_type, &n, &p, &err) == 0 && n) {
            volatile uint8_t c = ((const uint8_t *)p)[kv->value_bytes - 1];
            (void)c;
        }
        octet__str *sv;
        int32_t *iv;
        float *fv;
        if (octet__gguf_get_str_arr(g, kv->key_z, &sv, &n, &err) == 0) {
            for (uint64_t j = 0; j < n; j++)
                if (sv[j].len) {
                    volatile char c = sv[j].ptr[sv[j].len - 1];
                    (void)c;
                }
            octet__free(sv);
        }
        if (octet__gguf_get_i32_arr(g, kv->key_z, &iv, &n, &err) == 0) octet__free(iv);
        if (octet__gguf_get_f32_arr(g, kv->key_z, &fv, &n, &err) == 0) octet__free(fv);
    }
    for (int64_t i = 0; i < octet__gguf_n_tensors(g); i++) {
        const octet__gguf_tensor *t = octet__gguf_tensor_at(g, i);
        if (octet__gguf_find_tensor(g, t->name_z) != t) __builtin_trap();
        const volatile uint8_t *p = t->data;
        uint8_t x = p[0];
        x ^= p[t->n_bytes - 1];
        (void)x;
    }
}

/* Bind the bytes as a model through the public API; a model that binds gets a short tokenize + decode. */
static void bind_model(const uint8_t *data, size_t size) {
    int fd = memfd_create("fuzz-model", 0);
    if (fd < 0) return;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    octet_model *m = NULL;
    octet_error err;
    memset(&err, 0, sizeof err);
    int rc = octet_model_open(&m, path, NULL, &err);
    if (rc != 0) {
        if (m != NULL || err.msg[0] == 0) __builtin_trap(); /* a rejection always says why */
    } else {
        int32_t toks[16];
        int n = 0;
        if (octet_tokenize(m, "Hi there\n", 9, 1, 1, toks, 16, &n, &err) == 0 && n > 0) {
            octet_session_params sp = octet_session_default_params();
            sp.n_ctx = 16;
            sp.n_batch = 16;
            sp.n_threads = 1;
            octet_session *s = NULL;
            if (octet_session_new(&s, m, &sp, &err) == 0) {
                octet_session_decode(s, toks, n, 0, &err);
                octet_session_free(s);
            }
        }
        octet_model_close(m);
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    octet__gguf *g = NULL;
    octet_error err;
    memset(&err, 0, sizeof err);
    int rc = octet__gguf_open_memory(&g, data, size, "fuzz", &err);
    if (rc != 0) {
        if (g != NULL || err.code != rc || strncmp(err.msg, "fuzz: ", 6) != 0 || strlen(err.msg) < 10)
            __builtin_trap(); /* every rejection names the file and gives a reason */
        return 0;
    }
    exercise(g);
    octet__gguf_close(g);
    bind_model(data, size);
    return 0;
}
