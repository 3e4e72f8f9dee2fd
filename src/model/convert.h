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

#define OCTET_CV_MAX_NORM 32
#define OCTET_CV_MAX_EOG 16
#define OCTET_CV_MAX_NOTES 48

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
    /* tokenizer.json's normalizer, a Sequence flattened (tokenizer.octet.normalizer.*): op names as
     * tokenizer.json spells them (NFC, NFD, NFKC, NFKD, Lowercase, Strip, Replace, Prepend) and two arguments
     * each (Replace: pattern, content; Prepend: prefix; Strip: "1"/"0" for left, right; else ""). */
    int n_norm;
    const char *norm_op[OCTET_CV_MAX_NORM];
    char *norm_arg0[OCTET_CV_MAX_NORM], *norm_arg1[OCTET_CV_MAX_NORM];
    int add_prefix_space;       /* byte-level: ByteLevel pre-tokenizer's add_prefix_space; -1 when absent */
    int ignore_merges;          /* byte-level: model.ignore_merges; -1 when absent */
    int64_t eog[OCTET_CV_MAX_EOG]; /* end-of-generation ids (generation_config.json, config.json eos lists) */
    int n_eog;
    /* what was not carried over, one line each (logged by octet__cv_vocab_load as warnings) */
    char *notes[OCTET_CV_MAX_NOTES];
    int n_notes, n_notes_dropped;
} octet__cv_vocab;

/* Load the tokenizer of the checkpoint in dir for a model of n_vocab tokens (the embedding's rows; the
 * vocabulary grows past it when the tokenizer names higher ids, v->n says how many). config is config.json (for
 * *_token_id fallbacks and eos lists); generation_config.json is read from dir when present. Errors name the
 * file and the field; an unknown normalizer or pre-tokenizer type is an error (OCTET_EUNSUPPORTED). */
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
