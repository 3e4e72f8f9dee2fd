/*
 * convert.h - internals of the Hugging Face checkpoint -> GGUF converter (convert.c: config and weights;
 * convert_tok.c: tokenizer.json / tokenizer.model / tokenizer_config.json -> tokenizer.ggml.* keys).
 * docs/convert.md describes the mapping.
 */
#ifndef OCTET_CONVERT_H
#define OCTET_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "format/json.h"
#include "octet.h"

/* The tokenizer as GGUF wants it. Every array is owned (octet__free via octet__cv_vocab_free). */
typedef struct octet__cv_vocab {
    const char *model;   /* "llama" (SentencePiece-style) or "gpt2" (byte-level BPE); static */
    const char *pre;     /* tokenizer.ggml.pre for gpt2, else NULL; static */
    int64_t n;           /* tokens (== the model's vocabulary) */
    char **tokens;       /* n NUL-terminated strings */
    float *scores;       /* n, or NULL (gpt2) */
    int32_t *types;      /* n: 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte */
    int64_t n_merges;
    char **merges;       /* "left right" */
    int64_t bos, eos, unk, pad; /* -1 when absent */
    int add_bos, add_eos;       /* -1 when not stated */
    int add_space_prefix;       /* -1 when not stated */
    char *chat_template;        /* or NULL */
} octet__cv_vocab;

/* Load the tokenizer of the checkpoint in dir for a model of n_vocab tokens (the embedding's rows). config is
 * config.json (for *_token_id fallbacks). Errors name the file and the field. */
int octet__cv_vocab_load(octet__cv_vocab *v, const char *dir, int64_t n_vocab, const json_t *config,
                         octet_error *err);
void octet__cv_vocab_free(octet__cv_vocab *v);

/* dir + "/" + name, allocated (octet__free), or NULL when out of memory. */
char *octet__path_join(const char *dir, const char *name);

/* A file's bytes limit for the JSON files of a checkpoint: tokenizer.json of 256k-token vocabularies with
 * their merges are ~20 MB; 512 MiB leaves room and still bounds memory. */
#define OCTET_CV_MAX_JSON_BYTES (512u << 20)
/* tokenizer.model: 256k SentencePiece pieces are ~5 MB. */
#define OCTET_CV_MAX_SPM_BYTES (256u << 20)

#endif
