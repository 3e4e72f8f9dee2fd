/*
 * tok_int.h - private to src/text/: the tokenizer object shared by tokenizer.c (vocabulary, special tokens,
 * dispatch, pieces), tok_spm.c (SentencePiece-style merging) and tok_bpe.c (pre-tokenizers and byte-level BPE).
 */
#ifndef OCTET_TEXT_TOK_INT_H
#define OCTET_TEXT_TOK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"

/* Pre-tokenizer families (tokenizer.ggml.pre names map onto these; see tokenizer.c and docs/tokenizer.md). */
enum {
    OCTET__PRE_DEFAULT = 0, /* llama.cpp's "default": punctuation runs, GPT-2, \p{N}+, [0-9]{3} splits */
    OCTET__PRE_GPT2,        /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
    OCTET__PRE_LLAMA3,      /* (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|... */
    OCTET__PRE_QWEN2,       /* as LLAMA3 with \p{N} (single digits) */
    OCTET__PRE_STARCODER,   /* \p{N} split, then GPT-2 */
    OCTET__PRE_FALCON       /* [\p{P}$+<=>^~|`]+ split, GPT-2, [0-9]{3} split */
};

/* Growable output: ids beyond n_max are counted, not stored, so callers learn the size they need. */
typedef struct octet__tok_out {
    int32_t *ids;
    int64_t n_max;
    int64_t n;
} octet__tok_out;

static inline void octet__tok_push(octet__tok_out *o, int32_t id) {
    if (o->n < o->n_max) o->ids[o->n] = id;
    o->n++;
}

struct octet__tokenizer {
    int kind;
    int32_t n_vocab;
    char *blob;        /* all token texts, back to back */
    size_t *off;       /* n_vocab + 1 offsets into blob */
    float *scores;     /* n_vocab */
    uint8_t *type;     /* OCTET_TOKEN_* after llama.cpp's control-token overrides */
    uint8_t *eog;      /* 1 for end-of-generation tokens */
    uint32_t hmask;    /* token hash table: text -> id, open addressing, -1 empty */
    int32_t *htab;

    /* BPE merges: "left right" pairs, rank = index. */
    int64_t n_merges;
    char *mblob;
    size_t *moff;      /* n_merges + 1 */
    uint32_t *msplit;  /* length of the left part; the right part starts after the space */
    uint64_t mmask;
    int32_t *mtab;     /* merge hash table: rank, -1 empty */

    int pre;
    int ignore_merges; /* llama-3 style: a pre-token that is itself a token is not merged */
    int32_t bos_id, eos_id, unk_id, pad_id, eot_id;
    int add_bos, add_eos, add_space_prefix;
    int add_prefix_space;  /* BPE: HF ByteLevel's add_prefix_space */
    int spm_raw;           /* SPM: no built-in space escaping (the normalizer does it) */
    octet__norm_step *norm; /* n_norm steps; their strings point into norm_blob */
    int n_norm;
    char *norm_blob;
    int32_t *special;  /* control, user-defined and unknown tokens, longest text first */
    int32_t n_special;
    int32_t byte_tok[256]; /* SPM byte fallback: <0xNN> (or the single-byte token), -1 when absent */
    unsigned char byte_enc[256][2]; /* BPE: UTF-8 of the alphabet codepoint for each byte */
    unsigned char byte_enc_len[256];
};

static inline const char *octet__tok_text(const octet__tokenizer *t, int32_t id) { return t->blob + t->off[id]; }
static inline size_t octet__tok_len(const octet__tokenizer *t, int32_t id) { return t->off[id + 1] - t->off[id]; }

/* Token id whose text is exactly s[0..n), or -1. */
int32_t octet__tok_lookup(const octet__tokenizer *t, const char *s, size_t n);
/* Rank of the merge (a[0..na), b[0..nb)), or -1. */
int32_t octet__tok_merge_rank(const octet__tokenizer *t, const char *a, size_t na, const char *b, size_t nb);

/* Tokenize one fragment of raw text (no special tokens inside). Return 0 or OCTET_ENOMEM. */
int octet__spm_encode(const octet__tokenizer *t, const char *text, size_t len, int space_prefix, octet__tok_out *o);
int octet__bpe_encode(const octet__tokenizer *t, const char *text, size_t len, octet__tok_out *o);

/* Pre-tokenize n codepoints for pre type `pre`: fills *out_lens (allocated, caller frees with octet__free)
 * with the word lengths in codepoints, *n_out of them. Exposed for tests. */
int octet__pretokenize(int pre, const uint32_t *cps, size_t n, uint32_t **out_lens, size_t *n_out);

/* A candidate merge of adjacent symbols left and right (size bytes together), and the priority queue both
 * tokenizers merge from: the smallest key first (SPM: minus the merged piece's score; BPE: the merge rank), the
 * leftmost pair on ties. Keys are doubles, exact for float scores and int32 ranks. */
typedef struct octet__tok_bigram {
    double key;
    int64_t left, right;
    size_t size;
} octet__tok_bigram;
typedef struct octet__tok_heap {
    octet__tok_bigram *a;
    size_t n, cap;
} octet__tok_heap;
int octet__tok_heap_push(octet__tok_heap *h, octet__tok_bigram b); /* 0 or OCTET_ENOMEM */
octet__tok_bigram octet__tok_heap_pop(octet__tok_heap *h);         /* h->n > 0 */

#endif
