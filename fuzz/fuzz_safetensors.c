/*
 * fuzz_safetensors.c - libFuzzer target over the safetensors reader (octet__st_open_memory).
 *
 * Every input must either be rejected with a non-empty message and no object, or be accepted; accepted files
 * are then checked against the reader's promises: tensors tile the data section in order, each one's bytes are
 * inside the input and match its shape and dtype, and each is found by name. Every byte of every tensor is
 * read, so a pointer outside the buffer is caught by ASan. Sanitizers catch the rest.
 *
 * Build and run: make fuzz && build/fuzz/fuzz_safetensors fuzz/corpus/safetensors -max_total_time=120
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "format/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    octet__st *st = NULL;
    octet_error err;
    memset(&err, 0, sizeof err);
    int rc = octet__st_open_memory(&st, data, size, "fuzz.safetensors", &err);
    if (rc) {
        if (st || !err.msg[0]) __builtin_trap();
        return 0;
    }
    uint64_t prev_end = 0;
    volatile uint8_t sink = 0;
    for (int64_t i = 0; i < octet__st_n_tensors(st); i++) {
        const octet__st_tensor *t = octet__st_tensor_at(st, i);
        uint64_t n = t->end - t->begin;
        if (t->begin != prev_end || t->end < t->begin) __builtin_trap();
        if (n != t->n_elements * octet__st_dtype_size(t->dtype)) __builtin_trap();
        if ((const uint8_t *)t->data < data || (const uint8_t *)t->data + n > data + size) __builtin_trap();
        if (octet__st_find(st, t->name) != t) __builtin_trap();
        for (uint64_t k = 0; k < n; k++) sink ^= ((const uint8_t *)t->data)[k];
        prev_end = t->end;
    }
    (void)sink;
    octet__st_close(st);
    return 0;
}
