/*
 * tok_spm.c - SentencePiece-style BPE over token scores ("llama" tokenizers), as llama.cpp's llm_tokenizer_spm:
 *   1. spaces become U+2581 (with one prepended when the caller asks for the space prefix), unless the model
 *      carries a tokenizer.json normalizer, which then did this (tokenizer.c applies it first);
 *   2. the text is cut into UTF-8 characters (a lead byte's announced length, clipped at the end; no validation);
 *   3. repeatedly merge the adjacent pair whose concatenation is a token with the highest score (leftmost on
 *      ties), using a priority queue with lazy invalidation;
 *   4. each final symbol is its token, or else its bytes as byte tokens <0xNN> (byte fallback).
 * A byte without a byte token becomes the unknown token (llama.cpp throws there; see docs/tokenizer.md).
 */
#include <string.h>

#include "core/core.h"
#include "text/tok_int.h"
#include "text/unicode.h"

typedef struct sym {
    size_t off; /* into the escaped text */
    size_t n;   /* bytes; 0 once merged into its left neighbour */
    int64_t prev, next;
} sym;

typedef octet__tok_bigram bigram;
typedef octet__tok_heap heap;

static int try_add(const octet__tokenizer *t, const char *buf, const sym *s, int64_t l, int64_t r, heap *h) {
    if (l < 0 || r < 0) return 0;
    size_t n = s[l].n + s[r].n; /* adjacent symbols: the pair is contiguous in buf */
    int32_t id = octet__tok_lookup(t, buf + s[l].off, n);
    if (id < 0) return 0;
    bigram b = {-(double)t->scores[id], l, r, n}; /* the highest score merges first */
    return octet__tok_heap_push(h, b);
}

int octet__spm_encode(const octet__tokenizer *t, const char *text, size_t len, int space_prefix, octet__tok_out *o) {
    static const char esc[3] = {(char)0xE2, (char)0x96, (char)0x81};
    size_t cap;
    if (!octet__add_size(len, 1, &cap) || !octet__mul_size(cap, 3, &cap)) return OCTET_ENOMEM;
    char *buf = octet__malloc(cap);
    if (!buf) return OCTET_ENOMEM;
    size_t n = 0;
    if (space_prefix) memcpy(buf, esc, 3), n = 3;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ' && !t->spm_raw) memcpy(buf + n, esc, 3), n += 3; /* raw: the normalizer did it */
        else buf[n++] = text[i];
    }
    if (n == 0) {
        octet__free(buf);
        return 0;
    }
    size_t n_sym = 0;
    for (size_t i = 0; i < n; n_sym++) {
        size_t l = octet__utf8_len((unsigned char)buf[i]);
        i += l < n - i ? l : n - i;
    }
    sym *s = octet__malloc(n_sym * sizeof *s);
    heap h = {0};
    int rc = 0;
    if (!s) {
        octet__free(buf);
        return OCTET_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; k++) {
        size_t l = octet__utf8_len((unsigned char)buf[i]);
        if (l > n - i) l = n - i;
        s[k] = (sym){i, l, (int64_t)k - 1, i + l == n ? -1 : (int64_t)k + 1};
        i += l;
    }
    for (size_t i = 1; i < n_sym && rc == 0; i++) rc = try_add(t, buf, s, (int64_t)i - 1, (int64_t)i, &h);
    while (h.n > 0 && rc == 0) {
        bigram b = octet__tok_heap_pop(&h);
        sym *L = &s[b.left], *R = &s[b.right];
        if (L->n == 0 || R->n == 0 || L->n + R->n != b.size) continue; /* stale */
        L->n += R->n;
        R->n = 0;
        L->next = R->next;
        if (R->next >= 0) s[R->next].prev = b.left;
        rc = try_add(t, buf, s, L->prev, b.left, &h);
        if (rc == 0) rc = try_add(t, buf, s, b.left, L->next, &h);
    }
    for (int64_t i = 0; i != -1 && rc == 0; i = s[i].next) {
        int32_t id = octet__tok_lookup(t, buf + s[i].off, s[i].n);
        if (id >= 0) {
            octet__tok_push(o, id);
            continue;
        }
        for (size_t j = 0; j < s[i].n; j++) {
            int32_t bt = t->byte_tok[(unsigned char)buf[s[i].off + j]];
            if (bt < 0) bt = t->unk_id;
            if (bt >= 0) octet__tok_push(o, bt);
        }
    }
    octet__free(h.a);
    octet__free(s);
    octet__free(buf);
    return rc;
}
