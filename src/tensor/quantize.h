/*
 * quantize.h - the model quantizer behind octet_model_quantize (include/octet.h): the target "mixes" (a base
 * tensor type plus llama.cpp's per-tensor rules), the per-tensor type policy, and the conversion loop.
 * The policy is exposed so tests and tools can see which type each tensor gets without writing a file.
 */
#ifndef OCTET_QUANTIZE_H
#define OCTET_QUANTIZE_H

#include <stdint.h>

#include "format/gguf.h"
#include "octet.h"

/* Rule sets (llama.cpp's llama_tensor_get_type for the matching LLAMA_FTYPE, see quantize.c). */
enum octet__qrules {
    OCTET_QRULES_FLOAT = 0, /* F32/F16/BF16: weights converted, no per-tensor rules */
    OCTET_QRULES_PLAIN,     /* quantized base type; output (or tied embeddings) at Q6_K unless base is Q8_0 */
    OCTET_QRULES_K_S,       /* PLAIN + llama.cpp's Q4_K_S bumps (attn_v first 4, ffn_down first 1/8 at Q5_K) */
    OCTET_QRULES_K_M,       /* PLAIN + attn_v and ffn_down at Q6_K on use_more_bits layers */
};

typedef struct octet__qmix {
    const char *name;  /* "Q4_K_M" */
    int ftype;         /* llama.cpp's LLAMA_FTYPE value, written as general.file_type */
    int base;          /* enum octet_type */
    int rules;         /* enum octet__qrules */
    const char *desc;
} octet__qmix;

/* The mix named name (case-insensitive), or NULL. */
const octet__qmix *octet__qmix_find(const char *name);
/* Mix i of the table (NULL past the end). */
const octet__qmix *octet__qmix_at(int i);

/* The output type of every tensor of g under mix (types[i] for tensor i, an enum octet_type), and the number
 * of tensors that fell back to another type because their rows are not a multiple of the type's block.
 * Pure function of the tensor names, shapes and types and the key <arch>.block_count. */
int octet__quantize_plan(const octet__gguf *g, const octet__qmix *mix, int *types, int64_t *n_fallback,
                         octet_error *err);

#endif
