/*
 * limits.h - every hard bound octet applies to its input, each with the reason for its value.
 *
 * A bound here is a promise to the reader of the code: sizes derived from input never exceed it, so products of
 * two bounded quantities fit in 64 bits and no loop over input runs longer than the file is large. Raising a
 * bound is a one-line change; check the reason first.
 */
#ifndef OCTET_LIMITS_H
#define OCTET_LIMITS_H

/* ---- GGUF (src/format/gguf.c) ------------------------------------------------------------------------- */

/* Tensors in one file: a 405B Llama has about 1,140; 64Ki leaves room for MoE models with many experts. */
#define OCTET_MAX_GGUF_TENSORS 65536
/* Key/value pairs in one file: real models carry 20 to 60; 64Ki keeps the key table small. */
#define OCTET_MAX_GGUF_KV 65536
/* Bytes in a key: the GGUF specification caps keys at 2^16 - 1 bytes. */
#define OCTET_MAX_GGUF_KEY_BYTES 65535
/* Bytes in a tensor name: the GGUF specification says "at most 64 bytes" (ggml's GGML_MAX_NAME). */
#define OCTET_MAX_GGUF_TENSOR_NAME_BYTES 64
/* Bytes in one string value: chat templates, the longest strings in published models, are tens of KiB. */
#define OCTET_MAX_GGUF_STRING_BYTES (1u << 20)
/* Elements in one array: vocabularies have up to ~256Ki tokens and merges lists ~1Mi; 2^28 also keeps
 * count * element size (at most 8 bytes) far below 2^64. */
#define OCTET_MAX_GGUF_ARRAY_ELEMENTS (1ull << 28)
/* Arrays nested in arrays: no known key uses more than 2 levels; 4 bounds the walker's recursion. */
#define OCTET_MAX_GGUF_ARRAY_DEPTH 4
/* Dimensions per tensor: ggml's GGML_MAX_DIMS. */
#define OCTET_MAX_GGUF_DIMS 4
/* One dimension's extent: 2^40 is ~1000x the largest real dimension (vocab x embd rows), and the product of
 * two such values cannot overflow int64 before the element-count check sees it. */
#define OCTET_MAX_GGUF_DIM (1ll << 40)
/* general.alignment: 64 KiB is the largest page size in use (arm64 64K pages); more buys nothing. */
#define OCTET_MAX_GGUF_ALIGNMENT 65536u

/* ---- model hyperparameters (src/model/model.c) ---------------------------------------------------------- */

/* Embedding width: the largest published decoders use 16,384 to 25,600; 65,536 leaves room. */
#define OCTET_MAX_EMBD 65536
/* Layers: 405B Llama has 126. */
#define OCTET_MAX_LAYERS 1024
/* Feed-forward width: 53,248 in 405B Llama. */
#define OCTET_MAX_FF 262144
/* Attention heads: 128 in 405B Llama. */
#define OCTET_MAX_HEADS 1024
/* Head dimension: 256 is the largest in the Llama family; scratch per head is sized by it. */
#define OCTET_MAX_HEAD_DIM 1024
/* Trained context length as declared by the file (only reported and used for the default -c). */
#define OCTET_MAX_CTX_TRAIN (1 << 24)
/* Vocabulary: 256K (Gemma) is the largest in use; logits buffers are n_vocab floats per token. */
#define OCTET_MAX_VOCAB (1 << 20)
/* KV cache slots per session: 1Mi tokens; the cache is n_layer * n_ctx * kv_dim * 8 bytes, checked. */
#define OCTET_MAX_CTX (1 << 20)
/* Tokens in one forward pass: bounds the activation scratch. */
#define OCTET_MAX_BATCH 65536

#endif
