/*
 * tokenizer.c - the tokenizer object: vocabulary and its hash table, BPE merge ranks, special tokens (control,
 * user-defined, unknown) and their partitioning out of the text, BOS/EOS handling, and token -> piece.
 *
 * The behaviour follows llama.cpp's llama-vocab (the reference for octet's acceptance tests), re-implemented:
 *  - special tokens are split out before any other processing, one token type at a time, longest text first;
 *    control and unknown tokens only with parse_special, user-defined tokens always;
 *  - SPM: each text fragment at the start or right after a special token gets a leading space when
 *    add_space_prefix; spaces become U+2581; symbol pairs are merged by token score;
 *  - BPE: a pre-tokenizer (chosen by tokenizer.ggml.pre) splits the text into words, bytes are mapped to GPT-2's
 *    printable alphabet, and pairs are merged by merge rank;
 *  - tokens whose text looks like an end-of-turn marker ("<|eot_id|>", "<|im_end|>", ...) are treated as control
 *    tokens and end generation, as llama.cpp does.
 * Where llama.cpp would throw or abort (a byte with no byte token, an unknown codepoint), octet degrades as
 * documented in docs/tokenizer.md. Invariant: every id stored here is in [0, n_vocab).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "text/tok_int.h"
#include "text/unicode.h"

/* ---- hashing ----------------------------------------------------------------------------------------------- */

static uint64_t hash_bytes(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}
static uint64_t hash_text(const char *s, size_t n) {
    uint64_t h = hash_bytes(0xcbf29ce484222325ull, s, n);
    return h ^ (h >> 29);
}
static uint64_t hash_pair(const char *a, size_t na, const char *b, size_t nb) {
    uint64_t h = hash_bytes(0xcbf29ce484222325ull, a, na);
    h = (h ^ 0x1ffu) * 0x100000001b3ull; /* separator outside the byte range */
    h = hash_bytes(h, b, nb);
    return h ^ (h >> 29);
}

int32_t octet__tok_lookup(const octet__tokenizer *t, const char *s, size_t n) {
    uint64_t i = hash_text(s, n) & t->hmask;
    for (;;) {
        int32_t id = t->htab[i];
        if (id < 0) return -1;
        if (octet__tok_len(t, id) == n && memcmp(octet__tok_text(t, id), s, n) == 0) return id;
        i = (i + 1) & t->hmask;
    }
}

int32_t octet__tok_merge_rank(const octet__tokenizer *t, const char *a, size_t na, const char *b, size_t nb) {
    if (!t->mtab) return -1;
    uint64_t i = hash_pair(a, na, b, nb) & t->mmask;
    for (;;) {
        int32_t r = t->mtab[i];
        if (r < 0) return -1;
        const char *m = t->mblob + t->moff[r];
        size_t ml = t->moff[r + 1] - t->moff[r], sp = t->msplit[r];
        if (sp == na && ml == na + 1 + nb && memcmp(m, a, na) == 0 && memcmp(m + na + 1, b, nb) == 0) return r;
        i = (i + 1) & t->mmask;
    }
}

static uint64_t table_size(uint64_t n) {
    uint64_t c = 16;
    while (c < 2 * n) c <<= 1;
    return c;
}

/* ---- construction ------------------------------------------------------------------------------------------- */

typedef struct pre_name {
    const char *name;
    int pre, ignore_merges, add_bos;
} pre_name;

/* tokenizer.ggml.pre values (llama.cpp's list) for the pre-tokenizers implemented here. */
static const pre_name k_pre_names[] = {
    {"default", OCTET__PRE_DEFAULT, 0, 0},
    {"llama3", OCTET__PRE_LLAMA3, 1, 1},        {"llama-v3", OCTET__PRE_LLAMA3, 1, 1},
    {"llama-bpe", OCTET__PRE_LLAMA3, 1, 1},     {"falcon3", OCTET__PRE_LLAMA3, 1, 1},
    {"dbrx", OCTET__PRE_LLAMA3, 0, 0},          {"smaug-bpe", OCTET__PRE_LLAMA3, 0, 0},
    {"chatglm-bpe", OCTET__PRE_LLAMA3, 0, 0},
    {"gpt-2", OCTET__PRE_GPT2, 0, 0},           {"phi-2", OCTET__PRE_GPT2, 0, 0},
    {"jina-es", OCTET__PRE_GPT2, 0, 0},         {"jina-de", OCTET__PRE_GPT2, 0, 0},
    {"gigachat", OCTET__PRE_GPT2, 0, 0},        {"jina-v1-en", OCTET__PRE_GPT2, 0, 0},
    {"jina-v2-es", OCTET__PRE_GPT2, 0, 0},      {"jina-v2-de", OCTET__PRE_GPT2, 0, 0},
    {"jina-v2-code", OCTET__PRE_GPT2, 0, 0},    {"roberta-bpe", OCTET__PRE_GPT2, 0, 0},
    {"mpt", OCTET__PRE_GPT2, 0, 0},             {"olmo", OCTET__PRE_GPT2, 0, 0},
    {"jais", OCTET__PRE_GPT2, 0, 0},
    {"qwen2", OCTET__PRE_QWEN2, 0, 0},          {"stablelm2", OCTET__PRE_QWEN2, 0, 0},
    {"megrez", OCTET__PRE_QWEN2, 0, 0},
    {"starcoder", OCTET__PRE_STARCODER, 0, 0},  {"refact", OCTET__PRE_STARCODER, 0, 0},
    {"command-r", OCTET__PRE_STARCODER, 0, 0},  {"smollm", OCTET__PRE_STARCODER, 0, 0},
    {"codeshell", OCTET__PRE_STARCODER, 0, 0},  {"exaone", OCTET__PRE_STARCODER, 0, 0},
    {"minerva-7b", OCTET__PRE_STARCODER, 0, 0},
    {"falcon", OCTET__PRE_FALCON, 0, 0},
};

/* Texts llama.cpp treats as end-of-generation (and therefore control) tokens. */
static const char *const k_eog_texts[] = {"<|eot_id|>",    "<|im_end|>", "<|end|>", "<end_of_turn>",
                                          "<|endoftext|>", "<|eom_id|>", "<EOT>"};
/* Texts llama.cpp recognises as end-of-turn / fill-in-the-middle tokens (forced to control). The first group
 * gives eot_id when the file has none; "fim_eog" ones also end generation. */
static const char *const k_eot_texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                          "<EOT>", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"};
static const char *const k_fim_texts[] = {
    "<|fim_prefix|>", "<fim-prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>",
    "<|fim_suffix|>", "<fim-suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "hole\xef\xbd\x9c>", "<SUF>",
    "<|fim_middle|>", "<fim-middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>",
    "<|eom_id|>"};
static const char *const k_fim_eog_texts[] = {"<|fim_pad|>", "<fim-pad>", "<PAD>", "<|fim_repo|>", "<|repo_name|>",
                                              "<fim-repo>", "<REPO>", "<|file_sep|>"};

static int32_t lookup_cstr(const octet__tokenizer *t, const char *s) { return octet__tok_lookup(t, s, strlen(s)); }

typedef struct len_id {
    size_t len;
    int32_t id;
} len_id;
static int cmp_len_id(const void *pa, const void *pb) {
    const len_id *a = pa, *b = pb;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

void octet__tokenizer_free(octet__tokenizer *t) {
    if (!t) return;
    octet__free(t->blob);
    octet__free(t->off);
    octet__free(t->scores);
    octet__free(t->type);
    octet__free(t->eog);
    octet__free(t->htab);
    octet__free(t->mblob);
    octet__free(t->moff);
    octet__free(t->msplit);
    octet__free(t->mtab);
    octet__free(t->special);
    octet__free(t->norm);
    octet__free(t->norm_blob);
    octet__free(t);
}

static int build_vocab(octet__tokenizer *t, const octet__tokenizer_desc *d, octet_error *err) {
    int32_t n = t->n_vocab;
    size_t total = 0;
    char empty_buf[32];
    for (int32_t i = 0; i < n; i++) {
        size_t l = d->token_lens[i];
        if (l == 0) l = (size_t)snprintf(empty_buf, sizeof empty_buf, "[EMPTY_%d]", (int)i);
        else if (!d->tokens[i]) return octet__err(err, OCTET_EINVAL, "tokenizer: tokens[%d] is NULL", (int)i);
        if (!octet__add_size(total, l, &total)) return octet__err(err, OCTET_ERANGE, "tokenizer: tokens: too large");
    }
    t->blob = octet__malloc(total ? total : 1);
    t->off = octet__malloc(((size_t)n + 1) * sizeof *t->off);
    t->scores = octet__malloc((size_t)n * sizeof *t->scores);
    t->type = octet__malloc((size_t)n);
    t->eog = octet__calloc((size_t)n, 1);
    uint64_t cap = table_size((uint64_t)n);
    t->htab = octet__malloc((size_t)cap * sizeof *t->htab);
    if (!t->blob || !t->off || !t->scores || !t->type || !t->eog || !t->htab)
        return octet__err(err, OCTET_ENOMEM, "tokenizer: out of memory for %d tokens", (int)n);
    t->hmask = (uint32_t)(cap - 1);
    memset(t->htab, 0xff, (size_t)cap * sizeof *t->htab);
    size_t pos = 0;
    for (int32_t i = 0; i < n; i++) {
        t->off[i] = pos;
        if (d->token_lens[i] == 0) {
            int k = snprintf(empty_buf, sizeof empty_buf, "[EMPTY_%d]", (int)i);
            memcpy(t->blob + pos, empty_buf, (size_t)k);
            pos += (size_t)k;
        } else {
            memcpy(t->blob + pos, d->tokens[i], d->token_lens[i]);
            pos += d->token_lens[i];
        }
        t->scores[i] = d->scores ? d->scores[i] : 0.0f;
        int ty = d->token_types ? d->token_types[i] : OCTET_TOKEN_NORMAL;
        t->type[i] = (uint8_t)((ty >= OCTET_TOKEN_NORMAL && ty <= OCTET_TOKEN_BYTE) ? ty : OCTET_TOKEN_UNDEFINED);
    }
    t->off[n] = pos;
    for (int32_t i = 0; i < n; i++) { /* later duplicates win, as in llama.cpp's token_to_id map */
        const char *s = octet__tok_text(t, i);
        size_t l = octet__tok_len(t, i);
        uint64_t h = hash_text(s, l) & t->hmask;
        for (;;) {
            int32_t id = t->htab[h];
            if (id < 0 || (octet__tok_len(t, id) == l && memcmp(octet__tok_text(t, id), s, l) == 0)) {
                t->htab[h] = i;
                break;
            }
            h = (h + 1) & t->hmask;
        }
    }
    return 0;
}

static int build_merges(octet__tokenizer *t, const octet__tokenizer_desc *d, octet_error *err) {
    int64_t n = d->n_merges;
    if (n <= 0) return 0;
    if (n >= INT32_MAX) return octet__err(err, OCTET_ERANGE, "tokenizer: merges: %lld entries", (long long)n);
    size_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!d->merges[i] && d->merge_lens[i]) return octet__err(err, OCTET_EINVAL, "tokenizer: merges[%lld] is NULL",
                                                                  (long long)i);
        if (!octet__add_size(total, d->merge_lens[i], &total))
            return octet__err(err, OCTET_ERANGE, "tokenizer: merges: too large");
    }
    uint64_t cap = table_size((uint64_t)n);
    t->mblob = octet__malloc(total ? total : 1);
    t->moff = octet__malloc(((size_t)n + 1) * sizeof *t->moff);
    t->msplit = octet__malloc((size_t)n * sizeof *t->msplit);
    t->mtab = octet__malloc((size_t)cap * sizeof *t->mtab);
    if (!t->mblob || !t->moff || !t->msplit || !t->mtab)
        return octet__err(err, OCTET_ENOMEM, "tokenizer: out of memory for %lld merges", (long long)n);
    t->mmask = cap - 1;
    memset(t->mtab, 0xff, (size_t)cap * sizeof *t->mtab);
    t->n_merges = n;
    size_t pos = 0;
    for (int64_t i = 0; i < n; i++) {
        size_t l = d->merge_lens[i];
        t->moff[i] = pos;
        if (l) memcpy(t->mblob + pos, d->merges[i], l);
        const char *m = t->mblob + pos;
        pos += l;
        /* split at the first space after the first byte ("a b"); entries without one can never match */
        const char *sp = l > 1 ? memchr(m + 1, ' ', l - 1) : NULL;
        if (!sp || (size_t)(sp - m) > UINT32_MAX) {
            t->msplit[i] = UINT32_MAX;
            continue;
        }
        size_t na = (size_t)(sp - m);
        t->msplit[i] = (uint32_t)na;
        uint64_t h = hash_pair(m, na, sp + 1, l - na - 1) & t->mmask;
        for (;;) { /* the first occurrence keeps its rank */
            int32_t r = t->mtab[h];
            if (r < 0) {
                t->mtab[h] = (int32_t)i;
                break;
            }
            const char *o = t->mblob + t->moff[r];
            size_t ol = t->moff[r + 1] - t->moff[r];
            if (t->msplit[r] == na && ol == l && memcmp(o, m, l) == 0) break;
            h = (h + 1) & t->mmask;
        }
    }
    t->moff[n] = pos;
    return 0;
}

/* Copy the normalizer steps (strings into one blob). */
static int build_norm(octet__tokenizer *t, const octet__tokenizer_desc *d, octet_error *err) {
    if (d->n_norm <= 0) return 0;
    if (!d->norm) return octet__err(err, OCTET_EINVAL, "tokenizer: normalizer steps are NULL");
    size_t total = 1;
    for (int i = 0; i < d->n_norm; i++) {
        const octet__norm_step *st = &d->norm[i];
        if (st->op < OCTET__NORM_NFC || st->op > OCTET__NORM_PREPEND || (st->na && !st->a) || (st->nb && !st->b))
            return octet__err(err, OCTET_EINVAL, "tokenizer: normalizer step %d is invalid", i);
        if (!octet__add_size(total, st->na, &total) || !octet__add_size(total, st->nb, &total))
            return octet__err(err, OCTET_ERANGE, "tokenizer: normalizer: too large");
    }
    t->norm = octet__malloc((size_t)d->n_norm * sizeof *t->norm);
    t->norm_blob = octet__malloc(total);
    if (!t->norm || !t->norm_blob) return octet__err(err, OCTET_ENOMEM, "tokenizer: out of memory");
    size_t at = 0;
    for (int i = 0; i < d->n_norm; i++) {
        octet__norm_step st = d->norm[i];
        if (st.na) memcpy(t->norm_blob + at, st.a, st.na);
        st.a = t->norm_blob + at, at += st.na;
        if (st.nb) memcpy(t->norm_blob + at, st.b, st.nb);
        st.b = t->norm_blob + at, at += st.nb;
        t->norm[i] = st;
    }
    t->n_norm = d->n_norm;
    t->spm_raw = t->kind == OCTET_TOKENIZER_SPM;
    return 0;
}

static void build_specials_and_eog(octet__tokenizer *t) {
    int32_t n = t->n_vocab;
    if (t->eot_id < 0) {
        for (size_t k = 0; k < sizeof k_eot_texts / sizeof *k_eot_texts && t->eot_id < 0; k++) {
            int32_t id = lookup_cstr(t, k_eot_texts[k]);
            if (id >= 0) t->eot_id = id, t->type[id] = OCTET_TOKEN_CONTROL;
        }
    }
    for (size_t k = 0; k < sizeof k_fim_texts / sizeof *k_fim_texts; k++) {
        int32_t id = lookup_cstr(t, k_fim_texts[k]);
        if (id >= 0) t->type[id] = OCTET_TOKEN_CONTROL;
    }
    int32_t eom = lookup_cstr(t, "<|eom_id|>");
    for (size_t k = 0; k < sizeof k_fim_eog_texts / sizeof *k_fim_eog_texts; k++) {
        int32_t id = lookup_cstr(t, k_fim_eog_texts[k]);
        if (id >= 0) t->type[id] = OCTET_TOKEN_CONTROL, t->eog[id] = 1;
    }
    for (size_t k = 0; k < sizeof k_eog_texts / sizeof *k_eog_texts; k++) {
        int32_t id = lookup_cstr(t, k_eog_texts[k]);
        if (id >= 0) t->type[id] = OCTET_TOKEN_CONTROL, t->eog[id] = 1;
    }
    if (t->eos_id >= 0) t->eog[t->eos_id] = 1;
    if (t->eot_id >= 0) t->eog[t->eot_id] = 1;
    if (eom >= 0) t->eog[eom] = 1;
    (void)n;
}

static int build_special_list(octet__tokenizer *t, octet_error *err) {
    int32_t n = t->n_vocab, k = 0;
    for (int32_t i = 0; i < n; i++) {
        int ty = t->type[i];
        k += ty == OCTET_TOKEN_CONTROL || ty == OCTET_TOKEN_USER_DEFINED || ty == OCTET_TOKEN_UNKNOWN;
    }
    if (k == 0) return 0;
    len_id *tmp = octet__malloc((size_t)k * sizeof *tmp);
    t->special = octet__malloc((size_t)k * sizeof *t->special);
    if (!tmp || !t->special) {
        octet__free(tmp);
        return octet__err(err, OCTET_ENOMEM, "tokenizer: out of memory for special tokens");
    }
    k = 0;
    for (int32_t i = 0; i < n; i++) {
        int ty = t->type[i];
        if (ty == OCTET_TOKEN_CONTROL || ty == OCTET_TOKEN_USER_DEFINED || ty == OCTET_TOKEN_UNKNOWN)
            tmp[k].len = octet__tok_len(t, i), tmp[k].id = i, k++;
    }
    qsort(tmp, (size_t)k, sizeof *tmp, cmp_len_id);
    for (int32_t i = 0; i < k; i++) t->special[i] = tmp[i].id;
    t->n_special = k;
    octet__free(tmp);
    return 0;
}

int octet__tokenizer_new(octet__tokenizer **out, const octet__tokenizer_desc *d, octet_error *err) {
    if (!out) return octet__err(err, OCTET_EINVAL, "tokenizer: out is NULL");
    *out = NULL;
    if (!d) return octet__err(err, OCTET_EINVAL, "tokenizer: desc is NULL");
    if (d->kind != OCTET_TOKENIZER_SPM && d->kind != OCTET_TOKENIZER_BPE)
        return octet__err(err, OCTET_EUNSUPPORTED, "tokenizer: kind %d is not supported", d->kind);
    if (d->n_vocab <= 0 || d->n_vocab >= INT32_MAX)
        return octet__err(err, OCTET_EFORMAT, "tokenizer.ggml.tokens: %lld tokens", (long long)d->n_vocab);
    if (!d->tokens || !d->token_lens) return octet__err(err, OCTET_EINVAL, "tokenizer: tokens are NULL");
    if (d->n_merges < 0 || (d->n_merges > 0 && (!d->merges || !d->merge_lens)))
        return octet__err(err, OCTET_EINVAL, "tokenizer: merges are NULL");

    octet__tokenizer *t = octet__calloc(1, sizeof *t);
    if (!t) return octet__err(err, OCTET_ENOMEM, "tokenizer: out of memory");
    t->kind = d->kind;
    t->n_vocab = (int32_t)d->n_vocab;
    int rc;

    /* pre-tokenizer and the per-type defaults llama.cpp applies before reading the optional keys */
    int def_add_bos = d->kind == OCTET_TOKENIZER_SPM, def_space = d->kind == OCTET_TOKENIZER_SPM;
    int32_t def_bos = d->kind == OCTET_TOKENIZER_SPM ? 1 : 11, def_eos = d->kind == OCTET_TOKENIZER_SPM ? 2 : 11;
    int32_t def_unk = d->kind == OCTET_TOKENIZER_SPM ? 0 : -1;
    if (d->kind == OCTET_TOKENIZER_BPE) {
        const char *pre = d->pre && d->pre[0] ? d->pre : "default";
        const pre_name *pn = NULL;
        for (size_t k = 0; k < sizeof k_pre_names / sizeof *k_pre_names; k++)
            if (strcmp(pre, k_pre_names[k].name) == 0) pn = &k_pre_names[k];
        if (!pn) {
            octet__tokenizer_free(t);
            return octet__err(err, OCTET_EUNSUPPORTED, "tokenizer.ggml.pre: '%.64s' is not supported", pre);
        }
        t->pre = pn->pre;
        t->ignore_merges = pn->ignore_merges;
        def_add_bos = pn->add_bos;
        if (strcmp(pre, "chatglm-bpe") == 0) def_bos = -1;
    }
    /* ids: -1 (absent) or out of range falls back to the type's default, as llama.cpp does */
#define PICK_ID(v, def) ((v) >= 0 && (v) < t->n_vocab ? (v) : ((def) >= 0 && (def) < t->n_vocab ? (def) : -1))
    t->bos_id = PICK_ID(d->bos_id, def_bos);
    t->eos_id = PICK_ID(d->eos_id, def_eos);
    t->unk_id = PICK_ID(d->unk_id, def_unk);
    t->pad_id = PICK_ID(d->pad_id, -1);
    t->eot_id = PICK_ID(d->eot_id, -1);
#undef PICK_ID
    t->add_bos = d->add_bos < 0 ? def_add_bos : d->add_bos != 0;
    t->add_eos = d->add_eos < 0 ? 0 : d->add_eos != 0;
    t->add_space_prefix = d->add_space_prefix < 0 ? def_space : d->add_space_prefix != 0;

    if (d->ignore_merges == 1 || d->ignore_merges == 2) t->ignore_merges = d->ignore_merges == 2;
    t->add_prefix_space = d->add_prefix_space > 0;
    if ((rc = build_vocab(t, d, err)) || (rc = build_merges(t, d, err)) || (rc = build_norm(t, d, err))) {
        octet__tokenizer_free(t);
        return rc;
    }
    build_specials_and_eog(t);
    for (int i = 0; i < d->n_eog; i++)
        if (d->eog_ids && d->eog_ids[i] >= 0 && d->eog_ids[i] < t->n_vocab) t->eog[d->eog_ids[i]] = 1;
    if ((rc = build_special_list(t, err))) {
        octet__tokenizer_free(t);
        return rc;
    }
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        char one = (char)b;
        int32_t id = octet__tok_lookup(t, name, 6);
        t->byte_tok[b] = id >= 0 ? id : octet__tok_lookup(t, &one, 1);
        unsigned char enc[4];
        int k = octet__utf8_encode(octet__byte_to_ucp((unsigned char)b), enc);
        memcpy(t->byte_enc[b], enc, (size_t)k); /* codepoints < U+0144: at most 2 bytes */
        t->byte_enc_len[b] = (unsigned char)k;
    }
    *out = t;
    return 0;
}

/* ---- tokenize ---------------------------------------------------------------------------------------------- */

typedef struct frag {
    size_t off, len;
    int32_t token; /* -1: raw text */
} frag;

/* Split the special tokens out of text: llama.cpp's tokenizer_st_partition. Each special token in turn (longest
 * first) splits every remaining raw fragment at each of its occurrences. */
static int partition(const octet__tokenizer *t, const char *text, size_t len, int parse_special, frag **out,
                     size_t *n_out) {
    size_t cap = 16, n = 1;
    frag *f = octet__malloc(cap * sizeof *f);
    if (!f) return OCTET_ENOMEM;
    f[0] = (frag){0, len, -1};
    for (int32_t s = 0; s < t->n_special; s++) {
        int32_t id = t->special[s];
        int ty = t->type[id];
        if (!parse_special && (ty == OCTET_TOKEN_CONTROL || ty == OCTET_TOKEN_UNKNOWN)) continue;
        const char *st = octet__tok_text(t, id);
        size_t sl = octet__tok_len(t, id);
        /* count occurrences first so the new list is sized once */
        size_t extra = 0;
        for (size_t i = 0; i < n; i++) {
            if (f[i].token >= 0 || f[i].len < sl) continue;
            const char *p = text + f[i].off, *end = p + f[i].len;
            while ((size_t)(end - p) >= sl && (p = memmem(p, (size_t)(end - p), st, sl)) != NULL) extra += 2, p += sl;
        }
        if (!extra) continue;
        size_t ncap = n + extra;
        frag *g = octet__malloc(ncap * sizeof *g);
        if (!g) {
            octet__free(f);
            return OCTET_ENOMEM;
        }
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            if (f[i].token >= 0 || f[i].len < sl) {
                g[m++] = f[i];
                continue;
            }
            size_t base = f[i].off, end = f[i].off + f[i].len;
            for (;;) {
                const char *p = end - base >= sl ? memmem(text + base, end - base, st, sl) : NULL;
                if (!p) {
                    if (end > base) g[m++] = (frag){base, end - base, -1};
                    break;
                }
                size_t at = (size_t)(p - text);
                if (at > base) g[m++] = (frag){base, at - base, -1};
                g[m++] = (frag){at, sl, id};
                base = at + sl;
            }
        }
        octet__free(f);
        f = g;
        n = m;
        cap = ncap;
    }
    (void)cap;
    *out = f;
    *n_out = n;
    return 0;
}

int octet__tokenize(const octet__tokenizer *t, const char *text, size_t len, int add_bos, int parse_special,
                    int32_t *out, int n_max, int *n_out, octet_error *err) {
    if (n_out) *n_out = 0;
    if (!t) return octet__err(err, OCTET_EINVAL, "tokenize: tokenizer is NULL");
    if (!text && len) return octet__err(err, OCTET_EINVAL, "tokenize: text is NULL");
    if (n_max < 0 || (!out && n_max > 0)) return octet__err(err, OCTET_EINVAL, "tokenize: bad output buffer");
    octet__tok_out o = {out, n_max, 0};
    frag *f = NULL;
    size_t nf = 0;
    if (len > 0 && partition(t, text, len, parse_special, &f, &nf))
        return octet__err(err, OCTET_ENOMEM, "tokenize: out of memory");
    int rc = 0;
    if (add_bos && t->add_bos && t->bos_id >= 0) octet__tok_push(&o, t->bos_id);
    int prev_special = 1; /* SPM: a fragment at the start or after a special token gets the space prefix */
    for (size_t i = 0; i < nf && rc == 0; i++) {
        if (f[i].token >= 0) {
            octet__tok_push(&o, f[i].token);
            prev_special = 1;
            continue;
        }
        const char *ft = text + f[i].off;
        size_t fl = f[i].len;
        char *nt = NULL; /* the fragment after the normalizer (and ByteLevel's add_prefix_space) */
        if (t->n_norm > 0 && (rc = octet__normalize(t->norm, t->n_norm, ft, fl, &nt, &fl)) == 0) ft = nt;
        if (rc == 0 && t->kind == OCTET_TOKENIZER_BPE && t->add_prefix_space && fl > 0 && ft[0] != ' ') {
            char *p = octet__malloc(fl + 1);
            if (!p) {
                rc = OCTET_ENOMEM;
            } else {
                p[0] = ' ';
                memcpy(p + 1, ft, fl);
                octet__free(nt);
                ft = nt = p, fl++;
            }
        }
        if (rc == 0 && t->kind == OCTET_TOKENIZER_SPM)
            rc = octet__spm_encode(t, ft, fl, !t->spm_raw && t->add_space_prefix && prev_special, &o);
        else if (rc == 0)
            rc = octet__bpe_encode(t, ft, fl, &o);
        octet__free(nt);
        prev_special = 0;
    }
    octet__free(f);
    if (rc) return octet__err(err, rc, "tokenize: out of memory");
    if (add_bos && t->add_eos && t->eos_id >= 0) octet__tok_push(&o, t->eos_id);
    if (o.n > INT_MAX) return octet__err(err, OCTET_ERANGE, "tokenize: text needs more than INT_MAX tokens");
    if (n_out) *n_out = (int)o.n;
    if (o.n > n_max)
        return octet__err(err, OCTET_ERANGE, "tokenize: text needs %lld tokens, buffer holds %d", (long long)o.n,
                          n_max);
    return 0;
}

/* ---- pieces ------------------------------------------------------------------------------------------------ */

/* Copy n bytes into buf (at most buf_size), return n. */
static int put(char *buf, size_t buf_size, size_t at, const void *s, size_t n) {
    if (at < buf_size) memcpy(buf + at, s, n < buf_size - at ? n : buf_size - at);
    return 0;
}

int octet__token_to_piece(const octet__tokenizer *t, int32_t id, int special, char *buf, size_t buf_size) {
    if (!t || id < 0 || id >= t->n_vocab) return OCTET_ERANGE;
    if (!buf) buf_size = 0;
    int ty = t->type[id];
    const char *s = octet__tok_text(t, id);
    size_t n = octet__tok_len(t, id), w = 0;
    if (ty == OCTET_TOKEN_CONTROL || ty == OCTET_TOKEN_UNKNOWN) {
        if (!special) return 0;
        put(buf, buf_size, 0, s, n);
        return n > INT_MAX ? INT_MAX : (int)n;
    }
    if (ty == OCTET_TOKEN_USER_DEFINED) {
        put(buf, buf_size, 0, s, n);
        return n > INT_MAX ? INT_MAX : (int)n;
    }
    if (t->kind == OCTET_TOKENIZER_SPM) {
        if (ty == OCTET_TOKEN_BYTE) { /* "<0xNN>": up to two hex digits from offset 3, like strtol */
            unsigned v = 0;
            for (size_t k = 3; k < 5 && k < n; k++) {
                char c = s[k];
                int dv = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
                if (dv < 0) break;
                v = v * 16 + (unsigned)dv;
            }
            unsigned char b = (unsigned char)v;
            put(buf, buf_size, 0, &b, 1);
            return 1;
        }
        if (ty != OCTET_TOKEN_NORMAL) return 0;
        for (size_t k = 0; k < n;) { /* U+2581 -> space */
            if (n - k >= 3 && (unsigned char)s[k] == 0xE2 && (unsigned char)s[k + 1] == 0x96 &&
                (unsigned char)s[k + 2] == 0x81) {
                put(buf, buf_size, w++, " ", 1);
                k += 3;
            } else {
                put(buf, buf_size, w++, s + k, 1);
                k++;
            }
        }
        return w > INT_MAX ? INT_MAX : (int)w;
    }
    if (ty != OCTET_TOKEN_NORMAL) return 0;
    for (size_t k = 0; k < n;) { /* byte-level alphabet -> bytes */
        size_t k0 = k;
        uint32_t cp = octet__utf8_decode((const unsigned char *)s, n, &k);
        int b = octet__ucp_to_byte(cp);
        if (b >= 0) {
            unsigned char c = (unsigned char)b;
            put(buf, buf_size, w++, &c, 1);
        } else { /* llama.cpp's marker for a codepoint outside the alphabet */
            unsigned char enc[4];
            int ne = octet__utf8_encode(cp, enc);
            char tmp[16];
            put(buf, buf_size, w, "[UNK_BYTE_0x", 12), w += 12;
            for (int e = 0; e < ne; e++) {
                snprintf(tmp, sizeof tmp, "%02x", enc[e]);
                put(buf, buf_size, w, tmp, 2), w += 2;
            }
            put(buf, buf_size, w, s, n), w += n;
            put(buf, buf_size, w, "]", 1), w += 1;
        }
        (void)k0;
    }
    return w > INT_MAX ? INT_MAX : (int)w;
}

int octet__token_is_eog(const octet__tokenizer *t, int32_t id) {
    return t && id >= 0 && id < t->n_vocab && t->eog[id];
}

int octet__tokenizer_n_vocab(const octet__tokenizer *t) { return t ? t->n_vocab : 0; }

int32_t octet__tokenizer_bos_id(const octet__tokenizer *t) { return t ? t->bos_id : -1; }
int32_t octet__tokenizer_eos_id(const octet__tokenizer *t) { return t ? t->eos_id : -1; }
int octet__tokenizer_add_bos(const octet__tokenizer *t) { return t ? t->add_bos : 0; }

/* ---- the merge queue shared by tok_spm.c and tok_bpe.c ----------------------------------------------------- */

static int bigram_before(const octet__tok_bigram *x, const octet__tok_bigram *y) {
    return x->key < y->key || (x->key == y->key && x->left < y->left);
}

int octet__tok_heap_push(octet__tok_heap *h, octet__tok_bigram b) {
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 64;
        octet__tok_bigram *na = octet__realloc_array(h->a, h->n, nc, sizeof *na);
        if (!na) return OCTET_ENOMEM;
        h->a = na, h->cap = nc;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bigram_before(&b, &h->a[p])) break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = b;
    return 0;
}

octet__tok_bigram octet__tok_heap_pop(octet__tok_heap *h) {
    octet__tok_bigram top = h->a[0], last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && bigram_before(&h->a[c + 1], &h->a[c])) c++;
        if (!bigram_before(&h->a[c], &last)) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n) h->a[i] = last;
    return top;
}
