/*
 * cmd_synth.c - `octet synth`: write a random-weight GGUF model of a real shape (TinyLlama-1.1B, Llama-7B with
 * N layers, SmolLM-135M, ...) in one weight type, for speed measurements without downloading a model. The file
 * is an ordinary llama GGUF with a minimal SentencePiece vocabulary, so llama.cpp reads the same file.
 *
 * The generator lives in the library (src/model/synth.c: it needs the kernel table's quantizers and the GGUF
 * writer, which are internal), so this command includes its internal header.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_synth(int argc, char **argv) {
    const char *shape = NULL, *type = "Q8_0", *out = NULL;
    int n_threads = 0;
    int64_t seed = 1;
    const opt opts[] = {
        {"--shape", NULL, OPT_STR, &shape, "NAME",
         "tinyllama-1.1b, llama-7b, llama-7b-layers:N, smollm-135m, llama-3.2-1b, qwen3-0.6b, "
         "qwen3-30b-a3b-layers:N, gemma-3-1b, phi-3.5-mini-layers:N or test-tiny", 0, 0, NULL},
        {"--type", NULL, OPT_STR, &type, "TYPE", "weight type: Q8_0 (default) Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K F16 "
         "BF16 F32", 0, 0, NULL},
        {"--output", "-o", OPT_STR, &out, "FILE", "GGUF file to write", 0, 0, NULL},
        {"--threads", "-t", OPT_INT, &n_threads, "N", "threads (default: all CPUs)", 1, 256, NULL},
        {"--seed", NULL, OPT_I64, &seed, "N", "random seed (default 1)", 0, 0, NULL},
    };
    const cmd_spec spec = {"synth", "--shape NAME [--type TYPE] -o FILE",
                           "Write a random-weight GGUF model of a real model's shape (weights uniform with standard "
                           "deviation 0.02, norms 1, a minimal llama tokenizer) for speed work.",
                           opts, (int)(sizeof opts / sizeof opts[0]), 0};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&spec, argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (!shape || !out) {
        fprintf(stderr, "octet synth: --shape and -o are required\n");
        return EXIT_USAGE;
    }
    octet_error err;
    memset(&err, 0, sizeof err);
    double t0 = cli_now_ms();
    uint64_t bytes = 0;
    rc = octet_synth_model(out, shape, type, n_threads, (uint64_t)seed, &bytes, &err);
    if (rc) {
        fprintf(stderr, "octet: error: %s\n", err.msg[0] ? err.msg : octet_strerror(rc));
        return rc == OCTET_EINVAL ? EXIT_USAGE : EXIT_ERR;
    }
    fprintf(stderr, "octet synth: wrote %s (%s, %s, %.1f MiB) in %.1f s\n", out, shape, type,
            (double)bytes / 1048576.0, (cli_now_ms() - t0) / 1000.0);
    return EXIT_OK;
}
