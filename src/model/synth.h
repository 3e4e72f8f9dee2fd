/*
 * synth.h - random-weight GGUF models of real Llama shapes, for speed work without downloading anything.
 *
 * A synthesized file is an ordinary llama-architecture (or qwen3) GGUF (readable by octet and by llama.cpp): every
 * 2-D weight (token_embd, output, attention and FFN matrices) in the requested type, norms in F32 (all ones),
 * weights drawn uniformly with standard deviation 0.02 from a fixed-seed generator (the same file for the same
 * arguments, whatever the thread count), and a minimal SentencePiece ("llama") vocabulary: <unk>, <s>, </s>,
 * the 256 byte tokens <0x00>..<0xFF>, then filler pieces up to n_vocab.
 */
#ifndef OCTET_SYNTH_H
#define OCTET_SYNTH_H

#include <stdint.h>

#include "octet.h"

typedef struct octet__synth_shape {
    char name[64];
    int n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    /* later shapes (0 / NULL: llama, head_dim n_embd / n_head, RoPE base 1e4, eps 1e-5, untied, no factors) */
    const char *arch;      /* "llama" or "qwen3" (per-head q/k norms, all ones) */
    int head_dim;
    float rope_base, norm_eps;
    int tied;              /* no output.weight: the logits use token_embd */
    float llama3[4];       /* factor, low_freq_factor, high_freq_factor, original context: rope_freqs.weight */
    int n_expert, n_expert_used, n_ff_exp; /* qwen3moe: experts (ffn_*_exps stacks, the router) */
    int n_swa, swa_period; /* gemma3: sliding window and layer pattern; rope_base_swa for those layers */
    float rope_base_swa;
    int longrope_orig;     /* phi3: original context of the LongRoPE factors (rope_factors_long / _short) */
} octet__synth_shape;

/* Parse a shape name: tinyllama-1.1b, llama-7b, llama-7b-layers:N, smollm-135m, llama-3.2-1b, qwen3-0.6b,
 * qwen3-30b-a3b-layers:N, gemma-3-1b, phi-3.5-mini-layers:N, test-tiny.
 * Errors: OCTET_EINVAL (unknown name or bad N). */
int octet__synth_shape_parse(const char *s, octet__synth_shape *out, octet_error *err);
/* The list of shape names, for help text. */
const char *octet__synth_shape_names(void);

/* Write the model to path (through the GGUF writer: a temporary file renamed once complete). type_name: a GGML
 * weight type octet can quantize to (F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K). n_threads 0: all
 * CPUs. *bytes_out (optional) gets the file size. Errors: OCTET_EINVAL (type), OCTET_EIO, OCTET_ENOMEM. */
int octet__synth_write(const char *path, const octet__synth_shape *shape, const char *type_name, int n_threads,
                       uint64_t seed, uint64_t *bytes_out, octet_error *err);

#endif
