/*
 * tokenizer.h - tokenizers built from GGUF tokenizer metadata (plain arrays, so this layer does not depend on
 * the file format): "llama" (SentencePiece-style BPE over scores with byte fallback) and "gpt2" (byte-level
 * BPE with ranked merges and a pre-tokenizer selected by tokenizer.ggml.pre).
 */
#ifndef OCTET_TOKENIZER_H
#define OCTET_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "octet.h"
#include "text/normalize.h"

/* tokenizer.ggml.token_type values */
enum {
    OCTET_TOKEN_UNDEFINED = 0,
    OCTET_TOKEN_NORMAL = 1,
    OCTET_TOKEN_UNKNOWN = 2,
    OCTET_TOKEN_CONTROL = 3,
    OCTET_TOKEN_USER_DEFINED = 4,
    OCTET_TOKEN_UNUSED = 5,
    OCTET_TOKEN_BYTE = 6
};

enum { OCTET_TOKENIZER_SPM = 1, OCTET_TOKENIZER_BPE = 2 };

/* What the model binding hands over. Arrays are borrowed for the duration of octet__tokenizer_new only;
 * the tokenizer copies what it keeps. Strings are not NUL-terminated. */
typedef struct octet__tokenizer_desc {
    int kind;                 /* OCTET_TOKENIZER_SPM or OCTET_TOKENIZER_BPE */
    int64_t n_vocab;
    const char *const *tokens; /* n_vocab pointers */
    const size_t *token_lens;
    const float *scores;      /* may be NULL (BPE) */
    const int32_t *token_types; /* may be NULL: all NORMAL */
    int64_t n_merges;         /* BPE: "a b" strings, rank = index */
    const char *const *merges;
    const size_t *merge_lens;
    const char *pre;          /* tokenizer.ggml.pre, may be NULL ("default") */
    int32_t bos_id, eos_id, unk_id, pad_id, eot_id; /* -1 when absent */
    int add_bos;              /* tokenizer.ggml.add_bos_token (or the type's default) */
    int add_eos;
    int add_space_prefix;     /* SPM: tokenizer.ggml.add_space_prefix (default 1) */
    /* tokenizer.octet.* (docs/tokenizer.md). With normalizer steps, an SPM tokenizer leaves spaces and the
     * prefix to them (no built-in U+2581 escaping). */
    int n_norm;
    const octet__norm_step *norm; /* n_norm steps, strings borrowed */
    int add_prefix_space;         /* BPE: ' ' before a fragment that does not start with one; -1 absent (0) */
    int ignore_merges;            /* BPE: 0 the pre-tokenizer's default (also when the desc is zeroed), 1 off, 2 on */
    int n_eog;
    const int32_t *eog_ids;       /* extra end-of-generation ids */
} octet__tokenizer_desc;

typedef struct octet__tokenizer octet__tokenizer;

int octet__tokenizer_new(octet__tokenizer **out, const octet__tokenizer_desc *desc, octet_error *err);
void octet__tokenizer_free(octet__tokenizer *t);

/* Same contract as octet_tokenize (include/octet.h). */
int octet__tokenize(const octet__tokenizer *t, const char *text, size_t len, int add_bos, int parse_special,
                    int32_t *out, int n_max, int *n_out, octet_error *err);
/* Same contract as octet_token_to_piece. */
int octet__token_to_piece(const octet__tokenizer *t, int32_t id, int special, char *buf, size_t buf_size);
int octet__token_is_eog(const octet__tokenizer *t, int32_t id);
int octet__tokenizer_n_vocab(const octet__tokenizer *t);

/* The effective special ids and BOS policy after llama.cpp's per-type defaults (desc ids of -1 fall back to
 * SPM bos 1 / eos 2 / unk 0, BPE bos = eos = 11 when inside the vocabulary; desc add_bos, add_eos and
 * add_space_prefix of -1 mean "key absent": SPM adds BOS and the space prefix, BPE adds BOS only for the
 * llama-3 pre-tokenizers). */
int32_t octet__tokenizer_bos_id(const octet__tokenizer *t);
int32_t octet__tokenizer_eos_id(const octet__tokenizer *t);
int octet__tokenizer_add_bos(const octet__tokenizer *t);

#endif
