/*
 * fuzz_tokenizer.c - libFuzzer target over the tokenizers.
 *
 * The first input byte picks the case; the rest is text (or, for the last case, a vocabulary):
 *   0-3: SPM with byte fallback, special parsing off/on, BOS off/on. For valid UTF-8 without U+2581 the pieces
 *        must concatenate back to " " + text;
 *   4-7: byte-level BPE with pre-tokenizer gpt-2, llama-bpe, qwen2, default. Every id is in range and every
 *        piece converts; for text without special tokens the pieces concatenate back to the text when it is
 *        valid UTF-8 (the byte alphabet covers every byte);
 *   8+:  a vocabulary built from the input (NUL-separated tokens, every second one also a merge "a b"), then
 *        the input tokenized with it: construction either fails cleanly or gives a usable tokenizer.
 * Build and run: make fuzz && build/fuzz/fuzz_tokenizer fuzz/corpus/tokenizer -max_total_time=120
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "text/tokenizer.h"
#include "text/unicode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NV_MAX = 600 };
static char *g_tok[NV_MAX];
static size_t g_len[NV_MAX];
static float g_score[NV_MAX];
static int32_t g_type[NV_MAX];
static int g_n;

static void add(const char *s, size_t n, float score, int type) {
    g_tok[g_n] = malloc(n ? n : 1);
    memcpy(g_tok[g_n], s, n);
    g_len[g_n] = n, g_score[g_n] = score, g_type[g_n] = type;
    g_n++;
}

static octet__tokenizer *spm, *bpe[4];

static void init(void) {
    static const char *pieces[] = {"\xe2\x96\x81", "a", "b", "\xe2\x96\x81" "a", "ab", "e", "th", "the",
                                   "\xe2\x96\x81the", "\xe2\x96\x81\xe2\x96\x81", "\n", "1", "12"};
    add("<unk>", 5, 0, OCTET_TOKEN_UNKNOWN);
    add("<s>", 3, 0, OCTET_TOKEN_CONTROL);
    add("</s>", 4, 0, OCTET_TOKEN_CONTROL);
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        add(name, 6, 0, OCTET_TOKEN_BYTE);
    }
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) add(pieces[i], strlen(pieces[i]), -(float)i, 1);
    add("<user>", 6, 0, OCTET_TOKEN_USER_DEFINED);
    octet__tokenizer_desc d;
    memset(&d, 0, sizeof d);
    d.kind = OCTET_TOKENIZER_SPM;
    d.n_vocab = g_n;
    d.tokens = (const char *const *)g_tok;
    d.token_lens = g_len;
    d.scores = g_score;
    d.token_types = g_type;
    d.bos_id = d.eos_id = d.unk_id = d.pad_id = d.eot_id = -1;
    d.add_bos = d.add_eos = d.add_space_prefix = -1;
    if (octet__tokenizer_new(&spm, &d, NULL)) __builtin_trap();

    int base = g_n;
    for (int b = 0; b < 256; b++) {
        unsigned char u[4];
        int k = octet__utf8_encode(octet__byte_to_ucp((unsigned char)b), u);
        add((const char *)u, (size_t)k, 0, 1);
    }
    static const char *merges[] = {"t h", "th e", "\xc4\xa0 t", "\xc4\xa0t he", "h e", "1 2", "\xc4\xa0 \xc4\xa0"};
    static const char *merged[] = {"th", "the", "\xc4\xa0t", "\xc4\xa0the", "he", "12", "\xc4\xa0\xc4\xa0"};
    size_t mlen[7];
    for (int i = 0; i < 7; i++) add(merged[i], strlen(merged[i]), 0, 1), mlen[i] = strlen(merges[i]);
    add("<|endoftext|>", 13, 0, OCTET_TOKEN_CONTROL);
    static const char *pres[4] = {"gpt-2", "llama-bpe", "qwen2", "default"};
    for (int p = 0; p < 4; p++) {
        memset(&d, 0, sizeof d);
        d.kind = OCTET_TOKENIZER_BPE;
        d.n_vocab = g_n - base;
        d.tokens = (const char *const *)g_tok + base;
        d.token_lens = g_len + base;
        d.token_types = g_type + base;
        d.n_merges = 7;
        d.merges = merges;
        d.merge_lens = mlen;
        d.pre = pres[p];
        d.bos_id = d.eos_id = d.unk_id = d.pad_id = d.eot_id = -1;
        d.add_bos = d.add_eos = d.add_space_prefix = -1;
        if (octet__tokenizer_new(&bpe[p], &d, NULL)) __builtin_trap();
    }
}

static int valid_utf8(const uint8_t *s, size_t n) {
    for (size_t off = 0; off < n;) {
        size_t o0 = off;
        uint32_t cp = octet__utf8_decode(s, n, &off);
        if (cp == 0xFFFD && !(off - o0 == 3 && s[o0] == 0xEF)) return 0;
        unsigned char enc[4]; /* reject overlong forms: they do not re-encode to themselves */
        if ((size_t)octet__utf8_encode(cp, enc) != off - o0 || memcmp(enc, s + o0, off - o0) != 0) return 0;
    }
    return 1;
}

/* Tokenize, check every id, and return the concatenated pieces (caller frees) in *out. */
static size_t run(const octet__tokenizer *t, const uint8_t *s, size_t n, int bos, int special, char **out) {
    int need = 0;
    int rc = octet__tokenize(t, (const char *)s, n, bos, special, NULL, 0, &need, NULL);
    if (rc != 0 && rc != OCTET_ERANGE) __builtin_trap();
    int32_t *ids = malloc(((size_t)need + 1) * sizeof *ids);
    int got = -1;
    if (octet__tokenize(t, (const char *)s, n, bos, special, ids, need, &got, NULL) || got != need) __builtin_trap();
    size_t cap = 16 * (size_t)need + 16, w = 0;
    char *buf = malloc(cap);
    for (int i = 0; i < got; i++) {
        if (ids[i] < 0 || ids[i] >= octet__tokenizer_n_vocab(t)) __builtin_trap();
        int k = octet__token_to_piece(t, ids[i], special, buf + w, cap - w);
        if (k < 0) __builtin_trap();
        if ((size_t)k > cap - w) { /* a long piece: grow and ask again */
            cap = 2 * (cap + (size_t)k);
            buf = realloc(buf, cap);
            if (octet__token_to_piece(t, ids[i], special, buf + w, cap - w) != k) __builtin_trap();
        }
        w += (size_t)k;
    }
    free(ids);
    *out = buf;
    return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!spm) init();
    if (size == 0) return 0;
    int mode = data[0];
    const uint8_t *s = data + 1;
    size_t n = size - 1;
    char *dec = NULL;
    if (mode < 4) {
        size_t w = run(spm, s, n, mode & 1, mode >> 1, &dec);
        int has_special = memmem(s, n, "<user>", 6) || ((mode >> 1) && (memmem(s, n, "<s>", 3) ||
                          memmem(s, n, "</s>", 4) || memmem(s, n, "<unk>", 5)));
        if (n && valid_utf8(s, n) && !memmem(s, n, "\xe2\x96\x81", 3) && !has_special)
        {
            size_t pre = (mode & 1) && (mode >> 1) ? 3 : 0; /* BOS prints as "<s>" when special */
            if (w != pre + n + 1 || memcmp(dec, "<s>", pre) != 0 || dec[pre] != ' ' ||
                memcmp(dec + pre + 1, s, n) != 0)
                __builtin_trap();
        }
    } else if (mode < 8) {
        size_t w = run(bpe[mode - 4], s, n, 0, 0, &dec); /* no BOS: absent ids default to 11 */
        if (valid_utf8(s, n) && (w != n || memcmp(dec, s, n) != 0)) __builtin_trap();
    } else {
        /* vocabulary from the input: NUL-separated tokens */
        const char *toks[64], *mg[64];
        size_t lens[64], mlens[64];
        int nt = 0, nm = 0;
        size_t start = 0;
        for (size_t i = 0; i <= n && nt < 64; i++) {
            if (i == n || s[i] == 0) {
                toks[nt] = (const char *)s + start, lens[nt] = i - start, nt++;
                if (nt % 2 == 0) mg[nm] = toks[nt - 1], mlens[nm] = lens[nt - 1], nm++;
                start = i + 1;
            }
        }
        int32_t types[64];
        for (int i = 0; i < nt; i++) types[i] = (int32_t)(((unsigned char)(lens[i] ? toks[i][0] : 0)) % 8);
        octet__tokenizer_desc d;
        memset(&d, 0, sizeof d);
        d.kind = (mode & 1) ? OCTET_TOKENIZER_BPE : OCTET_TOKENIZER_SPM;
        d.n_vocab = nt;
        d.tokens = toks;
        d.token_lens = lens;
        d.token_types = types;
        d.n_merges = nm;
        d.merges = mg;
        d.merge_lens = mlens;
        d.pre = (mode & 2) ? "llama-bpe" : "default";
        d.bos_id = (int32_t)(mode % 5) - 1;
        d.eos_id = d.unk_id = d.pad_id = d.eot_id = -1;
        d.add_bos = d.add_eos = d.add_space_prefix = -1;
        octet__tokenizer *t = NULL;
        octet_error err;
        if (octet__tokenizer_new(&t, &d, &err) == 0) {
            run(t, s, n, 1, 1, &dec);
            octet__tokenizer_free(t);
        } else if (t || !err.msg[0]) {
            __builtin_trap();
        }
    }
    free(dec);
    return 0;
}
