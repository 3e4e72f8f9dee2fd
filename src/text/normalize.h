/*
 * normalize.h - text normalizers applied before tokenizing: the steps of a Hugging Face tokenizer.json
 * "normalizer" (a Sequence flattened), carried in GGUF as tokenizer.octet.normalizer.* (docs/tokenizer.md).
 */
#ifndef OCTET_TEXT_NORMALIZE_H
#define OCTET_TEXT_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

enum {
    OCTET__NORM_NFC = 1,
    OCTET__NORM_NFD,
    OCTET__NORM_NFKC,
    OCTET__NORM_NFKD,
    OCTET__NORM_LOWERCASE, /* per codepoint: simple lowercase mappings, U+0130 -> i + U+0307 (as Rust's
                            * char::to_lowercase, which Hugging Face's Lowercase uses) */
    OCTET__NORM_STRIP,     /* White_Space codepoints off the start (strip_left) and/or the end (strip_right) */
    OCTET__NORM_REPLACE,   /* every non-overlapping occurrence of a (left to right) by b */
    OCTET__NORM_PREPEND    /* a before a non-empty text */
};

/* One step. Strings are borrowed, not NUL-terminated. */
typedef struct octet__norm_step {
    int op;
    const char *a;
    size_t na;
    const char *b;
    size_t nb;
    int strip_left, strip_right;
} octet__norm_step;

/* Apply the steps in order to text[0..len): *out allocated (octet__free; never NULL on success), *out_len bytes.
 * Returns 0 or OCTET_ENOMEM. Malformed UTF-8 bytes pass through every step unchanged. */
int octet__normalize(const octet__norm_step *steps, int n_steps, const char *text, size_t len, char **out,
                     size_t *out_len);

/* "NFC", "NFD", "NFKC", "NFKD", "Lowercase", "Strip", "Replace", "Prepend" (tokenizer.json type names) <-> op;
 * 0 for an unknown name. */
int octet__norm_op_from_name(const char *name, size_t n);
const char *octet__norm_op_name(int op);

#endif
