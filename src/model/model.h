/*
 * model.h - internals of a bound model: hyperparameters, tensor views into the mapped GGUF file, the
 * tokenizer, and the RoPE phase increments. Built once by octet_model_open (model.c), read-only afterwards,
 * so any number of sessions may share it.
 */
#ifndef OCTET_MODEL_H
#define OCTET_MODEL_H

#include <stdint.h>

#include "core/core.h"
#include "format/gguf.h"
#include "kernels/kernels.h"
#include "text/tokenizer.h"

/* A weight matrix or vector: a view into the mapping (owns nothing). Matrices are row-major with ne[0]
 * elements per row (the input dimension) and ne[1] rows (the output dimension). */
typedef struct octet__tensor {
    const void *data;
    int type;
    int64_t ne[2];
    size_t row_bytes;
} octet__tensor;

typedef struct octet__layer {
    const float *attn_norm; /* [n_embd], converted to f32 at load (owned by the model) */
    octet__tensor wq;       /* [n_embd] -> [n_head * head_dim] */
    octet__tensor wk;       /* [n_embd] -> [n_head_kv * head_dim] */
    octet__tensor wv;       /* [n_embd] -> [n_head_kv * head_dim] */
    octet__tensor wo;       /* [n_head * head_dim] -> [n_embd] */
    const float *bq, *bk, *bv; /* qwen2 biases or NULL */
    const float *ffn_norm;  /* [n_embd] */
    octet__tensor w_gate;   /* [n_embd] -> [n_ff] */
    octet__tensor w_up;     /* [n_embd] -> [n_ff] */
    octet__tensor w_down;   /* [n_ff] -> [n_embd] */
    /* qwen3 / qwen3moe: per-head RMSNorm gains of q and k, applied before RoPE ([head_dim] each), or NULL */
    const float *q_norm, *k_norm;
    /* Mixture of experts (Mixtral layout in llama files, qwen3moe), or data == NULL (w_gate.. are used then):
     * gate_inp [n_embd] -> [n_expert] (the router); the expert stacks hold n_expert matrices one after another,
     * expert e's at data + e * ne[1] * row_bytes: gate/up [n_embd] -> [n_ff_exp], down [n_ff_exp] -> [n_embd]. */
    octet__tensor gate_inp, gate_exps, up_exps, down_exps;
    /* gemma2 / gemma3: RMSNorm gains of the attention's and the FFN's outputs before their residual adds, or NULL */
    const float *attn_post_norm, *ffn_post_norm;
    int swa; /* 1: sliding-window layer (hp->n_swa keys; RoPE from model->rope_phi_swa when set) */
} octet__layer;

enum { OCTET_ROPE_SCALING_NONE = 0, OCTET_ROPE_SCALING_LINEAR = 1, OCTET_ROPE_SCALING_YARN = 2 };
enum { OCTET_ROPE_NORM = 0 /* adjacent pairs (2i, 2i+1) */, OCTET_ROPE_NEOX = 1 /* halves (i, i + n_rot/2) */ };

typedef struct octet__hparams {
    char arch[32];
    int n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_rot;
    float norm_eps;
    float rope_base, rope_scale; /* linear scale factor: positions divided by it */
    int rope_type;
    int rope_scaling;            /* OCTET_ROPE_SCALING_*: how rope_init forms the per-pair frequencies */
    float rope_mscale;           /* cos/sin multiplier (YaRN magnitude scaling, rope.scaling.attn_factor); 1 = none */
    int yarn_orig_ctx;           /* rope.scaling.original_context_length (default context_length) */
    int n_expert, n_expert_used, n_ff_exp; /* mixture of experts (0 when dense); n_ff_exp: rows of an expert */
    int qk_norm;                 /* 1: qwen3-style per-head q/k RMSNorm */
    int fused_gate_up;           /* 1: phi3's ffn_up holds gate and up (w_gate, w_up are views of it) */
    /* gemma2 / gemma3 (defaults leave the Llama block unchanged) */
    float embd_scale;            /* token embeddings multiplied by it (sqrt(n_embd) for gemma), 1 = none */
    float attn_scale;            /* q.k multiplier: 1 / sqrt(head_dim), or gemma's query scale */
    float attn_softcap;          /* scores -> c tanh(scores / c) when > 0 (gemma2) */
    float final_softcap;         /* logits -> c tanh(logits / c) when > 0 */
    int ffn_gelu;                /* 1: GELU (tanh approximation) gating instead of SiLU */
    int n_swa, swa_period;       /* sliding window (keys at distance < n_swa; 0 = none) on layers il % period < period - 1 */
    float rope_base_swa, rope_scale_swa; /* RoPE of the swa layers (model->rope_phi_swa) */
} octet__hparams;

struct octet_model {
    octet__gguf *gguf;
    octet__hparams hp;
    octet__tensor tok_embd;   /* [n_embd] x n_vocab rows */
    octet__tensor output;     /* [n_embd] -> [n_vocab]; equals tok_embd when tied */
    int tied_output;
    const float *output_norm; /* [n_embd] */
    octet__layer *layers;
    float *f32_store;         /* backing store of the converted norms and biases */
    uint64_t *rope_phi;       /* [n_rot/2]: frequency as a 64-bit fraction of a turn per position */
    uint64_t *rope_phi_swa;   /* [n_rot/2] for the sliding-window layers when their RoPE differs, else NULL */
    uint64_t *rope_phi_long;  /* [n_rot/2] phi3 LongRoPE: with rope_factors_long, for sessions whose context exceeds
                               * hp.yarn_orig_ctx (rope_phi then holds the short factors' phases), else NULL */
    const float *rope_long, *rope_short; /* [n_rot/2] phi3's rope_factors_long / _short, or NULL; in f32_store */
    const float *rope_freqs;  /* [n_rot/2] Llama 3 frequency divisors (rope_freqs.weight) or NULL; in f32_store */
    octet__tokenizer *tok;
    int32_t bos_id, eos_id;   /* -1 when absent */
    int add_bos;
    uint64_t n_params, weight_bytes;
    int file_type;            /* dominant weight type */
    char name[128];
    char tok_model[16], tok_pre[32];
    uint8_t *bound;           /* while binding: [n_tensors] 1 once a tensor is used (every one must be) */
    void *int_cache;          /* integer-mode weights, built once on first use (src/model/int/), or NULL */
    void *packed;             /* repacked weight matrices (model/packed.c), built by the first float session, or NULL */
};

#endif
