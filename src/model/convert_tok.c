/*
 * convert_tok.c - a Hugging Face checkpoint's tokenizer to GGUF's tokenizer.ggml.* keys.
 *
 * Sources, in order (as llama.cpp's converter prefers them):
 *   tokenizer.model  SentencePiece ModelProto (protobuf): pieces (piece, score, type) -> tokenizer.ggml.model
 *                    "llama" with tokens, scores and token_type (SentencePiece's type numbers are GGUF's);
 *                    normalizer_spec.add_dummy_prefix -> add_space_prefix; trainer_spec unk/bos/eos/pad ids
 *                    are the last fallback for the special ids.
 *   tokenizer.json   model.type "BPE" (Hugging Face tokenizers):
 *                    - byte-level (a ByteLevel pre-tokenizer or decoder: GPT-2, Llama 3, Qwen2) -> "gpt2" with
 *                      tokens, token_type and merges; tokenizer.ggml.pre from the Split regex: the Llama 3 regex
 *                      -> "llama-bpe", the Qwen2 regex (single digits) -> "qwen2", no Split but ByteLevel with
 *                      use_regex -> "gpt-2"; any other regex is refused by name;
 *                    - SentencePiece-style (byte_fallback, U+2581 for spaces: Llama 2, TinyLlama, Mistral) ->
 *                      "llama"; <0xXX> tokens are BYTE, the unk token UNKNOWN. Scores are derived from the merge
 *                      ranks (the token made by merge k scores -(k+1), the rest 0), which makes SentencePiece's
 *                      highest-score-first merging pick the merges in BPE order. (llama.cpp writes a constant
 *                      -1000 here; ranks keep the tokenizer faithful.)
 *                    Added tokens: special -> CONTROL, others USER_DEFINED. Ids the model has but the tokenizer
 *                    does not name become "[PAD<id>]" UNUSED, as in llama.cpp.
 *   tokenizer_config.json  bos/eos/unk/pad_token (string or {"content": ...}) looked up by content,
 *                    add_bos_token, add_eos_token, chat_template (a string, or the "default" entry of a list),
 *                    added_tokens_decoder (overrides for tokenizer.model vocabularies);
 *   config.json      bos/eos/pad/unk_token_id (an integer or a list: the first) when the above give none.
 *
 * The protobuf reader is strict: varints of at most 10 bytes, lengths inside the enclosing message, group wire
 * types refused, piece types 1..6, no NUL inside a piece.
 * Reference: sentencepiece/src/sentencepiece_model.proto (field numbers), protobuf encoding documentation.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "core/core.h"
#include "core/limits.h"
#include "format/map.h"

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

static const char k_re_llama3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char k_re_qwen2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

void octet__cv_vocab_free(octet__cv_vocab *v) {
    if (!v) return;
    if (v->tokens)
        for (int64_t i = 0; i < v->n; i++) octet__free(v->tokens[i]);
    if (v->merges)
        for (int64_t i = 0; i < v->n_merges; i++) octet__free(v->merges[i]);
    octet__free(v->tokens);
    octet__free(v->scores);
    octet__free(v->types);
    octet__free(v->merges);
    octet__free(v->chat_template);
    memset(v, 0, sizeof *v);
}

/* Allocate n tokens, all "[PAD<i>]" UNUSED (score -10000 when with_scores). */
static int vocab_alloc(octet__cv_vocab *v, int64_t n, int with_scores, octet_error *err) {
    v->n = n;
    v->tokens = octet__calloc((size_t)n, sizeof *v->tokens);
    v->types = octet__calloc((size_t)n, sizeof *v->types);
    if (with_scores) v->scores = octet__calloc((size_t)n, sizeof *v->scores);
    if (!v->tokens || !v->types || (with_scores && !v->scores)) {
        v->n = v->tokens ? n : 0;
        return octet__err(err, OCTET_ENOMEM, "convert: out of memory for %" PRId64 " tokens", n);
    }
    for (int64_t i = 0; i < n; i++) {
        char b[32];
        snprintf(b, sizeof b, "[PAD%" PRId64 "]", i);
        v->tokens[i] = octet__strndup(b, strlen(b));
        if (!v->tokens[i]) return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
        v->types[i] = TT_UNUSED;
        if (with_scores) v->scores[i] = -10000.0f;
    }
    return 0;
}

static int set_token(octet__cv_vocab *v, int64_t id, const char *s, size_t len, octet_error *err) {
    char *c = octet__strndup(s, len);
    if (!c) return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
    octet__free(v->tokens[id]);
    v->tokens[id] = c;
    return 0;
}

static int64_t find_token(const octet__cv_vocab *v, const char *s) {
    for (int64_t i = 0; i < v->n; i++)
        if (strcmp(v->tokens[i], s) == 0) return i;
    return -1;
}

/* ---- protobuf (tokenizer.model) ------------------------------------------------------------------------ */

typedef struct pb {
    const uint8_t *p, *end;
} pb;

static int pb_varint(pb *b, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (b->p >= b->end) return -1;
        uint8_t c = *b->p++;
        if (i == 9 && c > 1) return -1;
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* Next field: number and wire type; for wire type 2 also the payload; 0 and 5 their value. -1 malformed. */
typedef struct pb_field {
    uint32_t num;
    int wt;
    uint64_t u;          /* varint or fixed32/64 */
    const uint8_t *data; /* wire type 2 */
    uint64_t len;
} pb_field;

static int pb_next(pb *b, pb_field *f) {
    uint64_t key;
    if (pb_varint(b, &key)) return -1;
    f->num = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    if (f->num == 0 || key >> 32) return -1;
    switch (f->wt) {
    case 0: return pb_varint(b, &f->u);
    case 1:
        if (b->end - b->p < 8) return -1;
        f->u = 0;
        for (int i = 7; i >= 0; i--) f->u = (f->u << 8) | b->p[i];
        b->p += 8;
        return 0;
    case 2:
        if (pb_varint(b, &f->len) || f->len > (uint64_t)(b->end - b->p)) return -1;
        f->data = b->p;
        b->p += f->len;
        return 0;
    case 5:
        if (b->end - b->p < 4) return -1;
        f->u = (uint64_t)b->p[0] | ((uint64_t)b->p[1] << 8) | ((uint64_t)b->p[2] << 16) | ((uint64_t)b->p[3] << 24);
        b->p += 4;
        return 0;
    default: return -1; /* 3, 4: groups (deprecated); 6, 7: invalid */
    }
}

typedef struct spm_ids {
    int64_t unk, bos, eos, pad;
    int add_dummy_prefix;
} spm_ids;

static int load_spm(octet__cv_vocab *v, const char *path, int64_t n_vocab, spm_ids *ids, octet_error *err) {
    octet__map m;
    int rc = octet__map_open(&m, path, 0, err);
    if (rc) return rc;
    if (m.size > OCTET_CV_MAX_SPM_BYTES) {
        octet__map_close(&m);
        return octet__err(err, OCTET_EFORMAT, "%s: %llu bytes (at most %u)", path, (unsigned long long)m.size,
                          OCTET_CV_MAX_SPM_BYTES);
    }
    ids->unk = 0, ids->bos = 1, ids->eos = 2, ids->pad = -1, ids->add_dummy_prefix = 1; /* proto defaults */
    int64_t n_pieces = 0;
    pb b = {m.data, m.data + m.size};
    pb_field f;
    /* pass 1: count pieces, read trainer and normalizer specs */
    while (b.p < b.end) {
        if (pb_next(&b, &f)) goto bad;
        if (f.num == 1 && f.wt == 2) {
            n_pieces++;
        } else if ((f.num == 2 || f.num == 3) && f.wt == 2) {
            pb s = {f.data, f.data + f.len};
            pb_field g;
            while (s.p < s.end) {
                if (pb_next(&s, &g)) goto bad;
                if (g.wt != 0) continue;
                int64_t iv = (int64_t)(int32_t)(uint32_t)g.u; /* int32 fields: negatives are 10-byte varints */
                if (f.num == 2 && g.num == 40) ids->unk = iv;
                else if (f.num == 2 && g.num == 41) ids->bos = iv;
                else if (f.num == 2 && g.num == 42) ids->eos = iv;
                else if (f.num == 2 && g.num == 43) ids->pad = iv;
                else if (f.num == 3 && g.num == 3) ids->add_dummy_prefix = g.u != 0;
            }
        } else if (f.num == 1 || f.num == 2 || f.num == 3) {
            goto bad;
        }
    }
    if (n_pieces == 0) {
        octet__map_close(&m);
        return octet__err(err, OCTET_EFORMAT, "%s: no pieces", path);
    }
    if (n_pieces > n_vocab) {
        octet__map_close(&m);
        return octet__err(err, OCTET_EFORMAT, "%s: %" PRId64 " pieces but the model has %" PRId64 " token embeddings",
                          path, n_pieces, n_vocab);
    }
    if ((rc = vocab_alloc(v, n_vocab, 1, err))) goto done;
    b.p = m.data;
    int64_t k = 0;
    while (b.p < b.end) {
        if (pb_next(&b, &f)) goto bad;
        if (f.num != 1) continue;
        pb s = {f.data, f.data + f.len};
        pb_field g;
        const uint8_t *piece = NULL;
        uint64_t plen = 0;
        float score = 0.0f;
        uint64_t type = TT_NORMAL;
        while (s.p < s.end) {
            if (pb_next(&s, &g)) goto bad;
            if (g.num == 1 && g.wt == 2) piece = g.data, plen = g.len;
            else if (g.num == 2 && g.wt == 5) {
                uint32_t u = (uint32_t)g.u;
                memcpy(&score, &u, 4);
            } else if (g.num == 3 && g.wt == 0) type = g.u;
            else if (g.num <= 3) goto bad;
        }
        if (!piece || plen == 0 || plen > 65535 || memchr(piece, 0, (size_t)plen)) {
            rc = octet__err(err, OCTET_EFORMAT, "%s: piece %" PRId64 ": missing, empty, too long or with a NUL byte",
                            path, k);
            goto done;
        }
        if (type < 1 || type > 6) {
            rc = octet__err(err, OCTET_EFORMAT, "%s: piece %" PRId64 ": type %" PRIu64 " is not 1..6", path, k, type);
            goto done;
        }
        if ((rc = set_token(v, k, (const char *)piece, (size_t)plen, err))) goto done;
        v->scores[k] = score;
        v->types[k] = (int32_t)type;
        k++;
    }
    rc = 0;
    goto done;
bad:
    rc = octet__err(err, OCTET_EFORMAT, "%s: malformed protobuf at byte %lld", path,
                    (long long)(b.p - m.data));
done:
    octet__map_close(&m);
    return rc;
}

/* ---- tokenizer.json ----------------------------------------------------------------------------------- */

typedef struct pre_scan {
    const char *split_regex; /* first Split pattern Regex */
    int byte_level, byte_level_regex;
    int metaspace, prepend;
} pre_scan;

static void scan_component(const json_t *j, pre_scan *s, int depth) {
    if (!j || depth > 8) return;
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) scan_component(json_array_get(j, i), s, depth + 1);
        return;
    }
    if (!json_is_object(j)) return;
    const char *ty = json_string_value(json_object_get(j, "type"));
    if (ty) {
        if (strcmp(ty, "ByteLevel") == 0) {
            s->byte_level = 1;
            json_t *ur = json_object_get(j, "use_regex");
            if (!ur || json_is_true(ur)) s->byte_level_regex = 1;
        } else if (strcmp(ty, "Split") == 0 && !s->split_regex) {
            s->split_regex = json_string_value(json_object_get(json_object_get(j, "pattern"), "Regex"));
            if (!s->split_regex) s->split_regex = "(not a regex)";
        } else if (strcmp(ty, "Metaspace") == 0) {
            s->metaspace = 1;
            const char *ps = json_string_value(json_object_get(j, "prepend_scheme"));
            if ((ps && strcmp(ps, "never") != 0) || json_is_true(json_object_get(j, "add_prefix_space"))) s->prepend = 1;
        } else if (strcmp(ty, "Prepend") == 0) {
            const char *p = json_string_value(json_object_get(j, "prepend"));
            if (p && strcmp(p, "\xe2\x96\x81") == 0) s->prepend = 1;
        }
    }
    scan_component(json_object_get(j, "pretokenizers"), s, depth + 1);
    scan_component(json_object_get(j, "normalizers"), s, depth + 1);
    scan_component(json_object_get(j, "decoders"), s, depth + 1);
}

static int is_byte_token(const char *s) {
    return strlen(s) == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>' &&
           strchr("0123456789ABCDEF", s[3]) && strchr("0123456789ABCDEF", s[4]) && s[3] && s[4];
}

static int load_hf_json(octet__cv_vocab *v, const json_t *tj, const char *tn, int64_t n_vocab, octet_error *err) {
    if (!json_is_object(tj)) return octet__err(err, OCTET_EFORMAT, "%s: expected a JSON object", tn);
    const json_t *model = json_object_get(tj, "model");
    if (!json_is_object(model)) return octet__err(err, OCTET_EFORMAT, "%s: model: missing or not an object", tn);
    const char *mt = json_string_value(json_object_get(model, "type"));
    if (!mt || strcmp(mt, "BPE") != 0)
        return octet__err(err, OCTET_EUNSUPPORTED, "%s: model.type: '%.32s' is not supported (BPE)", tn,
                          mt ? mt : "(missing)");
    const json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_object(vocab)) return octet__err(err, OCTET_EFORMAT, "%s: model.vocab: missing or not an object", tn);
    const json_t *merges = json_object_get(model, "merges");
    if (merges && !json_is_array(merges))
        return octet__err(err, OCTET_EFORMAT, "%s: model.merges: expected an array", tn);
    const json_t *added = json_object_get(tj, "added_tokens");
    if (added && !json_is_null(added) && !json_is_array(added))
        return octet__err(err, OCTET_EFORMAT, "%s: added_tokens: expected an array", tn);

    pre_scan ps;
    memset(&ps, 0, sizeof ps);
    scan_component(json_object_get(tj, "pre_tokenizer"), &ps, 0);
    scan_component(json_object_get(tj, "normalizer"), &ps, 0);
    scan_component(json_object_get(tj, "decoder"), &ps, 0);
    int byte_fallback = json_is_true(json_object_get(model, "byte_fallback"));
    int spm_style = 0;
    if (ps.byte_level) {
        v->model = "gpt2";
        if (ps.split_regex) {
            if (strcmp(ps.split_regex, k_re_llama3) == 0) v->pre = "llama-bpe";
            else if (strcmp(ps.split_regex, k_re_qwen2) == 0) v->pre = "qwen2";
            else
                return octet__err(err, OCTET_EUNSUPPORTED,
                                  "%s: pre_tokenizer: the Split regex '%.120s' is not one octet knows (Llama 3, "
                                  "Qwen2, or GPT-2's ByteLevel)", tn, ps.split_regex);
        } else if (ps.byte_level_regex) {
            v->pre = "gpt-2";
        } else {
            return octet__err(err, OCTET_EUNSUPPORTED, "%s: pre_tokenizer: ByteLevel without a regex is not supported",
                              tn);
        }
    } else if (byte_fallback || ps.metaspace || ps.prepend) {
        v->model = "llama";
        spm_style = 1;
        v->add_space_prefix = ps.prepend;
    } else {
        return octet__err(err, OCTET_EUNSUPPORTED,
                          "%s: neither byte-level BPE nor SentencePiece-style BPE (no ByteLevel, byte_fallback or "
                          "Metaspace)", tn);
    }
    int rc = vocab_alloc(v, n_vocab, spm_style, err);
    if (rc) return rc;
    unsigned char *seen = octet__calloc((size_t)n_vocab, 1);
    if (!seen) return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)(uintptr_t)vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= n_vocab) {
            rc = octet__err(err, OCTET_EFORMAT, "%s: model.vocab: '%.64s': id is not an integer in 0..%" PRId64, tn,
                            key, n_vocab - 1);
            goto done;
        }
        int64_t id = json_integer_value(val);
        if (seen[id]) {
            rc = octet__err(err, OCTET_EFORMAT, "%s: model.vocab: id %" PRId64 " is used twice", tn, id);
            goto done;
        }
        seen[id] = 1;
        if (!key[0]) {
            rc = octet__err(err, OCTET_EFORMAT, "%s: model.vocab: empty token", tn);
            goto done;
        }
        if ((rc = set_token(v, id, key, strlen(key), err))) goto done;
        v->types[id] = TT_NORMAL;
        if (spm_style) {
            v->scores[id] = 0.0f;
            if (is_byte_token(key)) v->types[id] = TT_BYTE;
            else if (unk && strcmp(key, unk) == 0) v->types[id] = TT_UNKNOWN;
        }
    }
    for (size_t i = 0; added && i < json_array_size(added); i++) {
        const json_t *a = json_array_get(added, i);
        const json_t *jid = json_object_get(a, "id");
        const char *content = json_string_value(json_object_get(a, "content"));
        if (!json_is_integer(jid) || !content || !content[0] || json_integer_value(jid) < 0 ||
            json_integer_value(jid) >= n_vocab) {
            rc = octet__err(err, OCTET_EFORMAT, "%s: added_tokens[%zu]: needs an id in 0..%" PRId64
                            " and a non-empty content", tn, i, n_vocab - 1);
            goto done;
        }
        int64_t id = json_integer_value(jid);
        if (seen[id] && strcmp(v->tokens[id], content) != 0) {
            rc = octet__err(err, OCTET_EFORMAT, "%s: added_tokens[%zu]: id %" PRId64 " is already '%.64s'", tn, i, id,
                            v->tokens[id]);
            goto done;
        }
        seen[id] = 1;
        if ((rc = set_token(v, id, content, strlen(content), err))) goto done;
        v->types[id] = json_is_true(json_object_get(a, "special")) ? TT_CONTROL : TT_USER;
        if (spm_style && unk && strcmp(content, unk) == 0) v->types[id] = TT_UNKNOWN; /* <unk> is listed as added */
        if (spm_style) v->scores[id] = 0.0f;
    }
    size_t nm = merges ? json_array_size(merges) : 0;
    if (!spm_style) {
        v->merges = octet__calloc(nm ? nm : 1, sizeof *v->merges);
        if (!v->merges) {
            rc = octet__err(err, OCTET_ENOMEM, "convert: out of memory for %zu merges", nm);
            goto done;
        }
    }
    for (size_t i = 0; i < nm; i++) {
        const json_t *mj = json_array_get(merges, i);
        const char *l = NULL, *r = NULL, *sp = NULL;
        size_t ll = 0, rl = 0;
        if (json_is_string(mj)) {
            l = json_string_value(mj);
            sp = strchr(l + (l[0] == ' '), ' '); /* "a b": the first space after the first character */
            if (sp) ll = (size_t)(sp - l), r = sp + 1, rl = strlen(r);
        } else if (json_is_array(mj) && json_array_size(mj) == 2 && json_is_string(json_array_get(mj, 0)) &&
                   json_is_string(json_array_get(mj, 1))) {
            l = json_string_value(json_array_get(mj, 0)), ll = strlen(l);
            r = json_string_value(json_array_get(mj, 1)), rl = strlen(r);
        }
        if (!l || !r || !ll || !rl) {
            rc = octet__err(err, OCTET_EFORMAT, "%s: model.merges[%zu]: expected \"left right\" or [left, right]", tn, i);
            goto done;
        }
        char *joined = octet__malloc(ll + rl + 2);
        if (!joined) {
            rc = octet__err(err, OCTET_ENOMEM, "convert: out of memory");
            goto done;
        }
        if (spm_style) { /* score the token this merge makes */
            memcpy(joined, l, ll);
            memcpy(joined + ll, r, rl);
            joined[ll + rl] = 0;
            const json_t *id = json_object_get(vocab, joined);
            if (json_is_integer(id) && v->scores[json_integer_value(id)] == 0.0f)
                v->scores[json_integer_value(id)] = -(float)(i + 1);
            octet__free(joined);
        } else {
            memcpy(joined, l, ll);
            joined[ll] = ' ';
            memcpy(joined + ll + 1, r, rl);
            joined[ll + rl + 1] = 0;
            v->merges[v->n_merges++] = joined;
        }
    }
    rc = 0;
done:
    octet__free(seen);
    return rc;
}

/* ---- special tokens --------------------------------------------------------------------------------------- */

static int token_from_config(const json_t *tc, const char *key, const octet__cv_vocab *v, int64_t *id,
                             const char *name, octet_error *err) {
    const json_t *t = json_object_get(tc, key);
    if (!t || json_is_null(t)) return 0;
    const char *s = json_is_string(t) ? json_string_value(t) : json_string_value(json_object_get(t, "content"));
    if (!s) return octet__err(err, OCTET_EFORMAT, "%s: %s: expected a string or {\"content\": ...}", name, key);
    int64_t i = find_token(v, s);
    if (i < 0) return octet__err(err, OCTET_EFORMAT, "%s: %s: '%.64s' is not in the vocabulary", name, key, s);
    *id = i;
    return 0;
}

static int id_from_model_config(const json_t *cfg, const char *key, int64_t n, int64_t *id, octet_error *err) {
    const json_t *t = json_object_get(cfg, key);
    if (!t || json_is_null(t)) return 0;
    if (json_is_array(t) && json_array_size(t) > 0) t = json_array_get(t, 0);
    if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) >= n)
        return octet__err(err, OCTET_EFORMAT, "config.json: %s: expected a token id in 0..%" PRId64, key, n - 1);
    *id = json_integer_value(t);
    return 0;
}

static int load_tokenizer_config(octet__cv_vocab *v, const char *dir, int spm, octet_error *err) {
    char *p = octet__path_join(dir, "tokenizer_config.json");
    if (!p) return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
    json_t *tc = NULL;
    int rc = octet__json_load_file(&tc, p, OCTET_CV_MAX_JSON_BYTES, err);
    if (rc == OCTET_ENOTFOUND) {
        octet__free(p);
        return 0;
    }
    if (rc) goto done;
    rc = OCTET_EFORMAT;
    if (!json_is_object(tc)) {
        octet__err(err, OCTET_EFORMAT, "%s: expected a JSON object", p);
        goto done;
    }
    /* added_tokens_decoder: {"id": {"content": ..., "special": bool}} (tokenizer.model vocabularies) */
    const json_t *atd = json_object_get(tc, "added_tokens_decoder");
    if (spm && json_is_object(atd)) {
        const char *k;
        json_t *a;
        json_object_foreach((json_t *)(uintptr_t)atd, k, a) {
            char *end;
            long long id = strtoll(k, &end, 10);
            const char *content = json_string_value(json_object_get(a, "content"));
            if (*end || end == k || id < 0 || !content || !content[0]) {
                octet__err(err, OCTET_EFORMAT, "%s: added_tokens_decoder: '%.32s': bad id or content", p, k);
                goto done;
            }
            if (id >= v->n) continue;
            if ((rc = set_token(v, id, content, strlen(content), err))) goto done;
            rc = OCTET_EFORMAT;
            v->types[id] = json_is_true(json_object_get(a, "special")) ? TT_CONTROL : TT_USER;
        }
    }
    if (token_from_config(tc, "bos_token", v, &v->bos, p, err) || token_from_config(tc, "eos_token", v, &v->eos, p, err) ||
        token_from_config(tc, "unk_token", v, &v->unk, p, err) || token_from_config(tc, "pad_token", v, &v->pad, p, err))
        goto done;
    int b;
    int r = octet__json_get_bool(tc, "add_bos_token", &b, p, err);
    if (r == 0) v->add_bos = b;
    else if (r != OCTET_ENOTFOUND) { rc = r; goto done; }
    r = octet__json_get_bool(tc, "add_eos_token", &b, p, err);
    if (r == 0) v->add_eos = b;
    else if (r != OCTET_ENOTFOUND) { rc = r; goto done; }
    const json_t *ct = json_object_get(tc, "chat_template");
    const char *tmpl = NULL;
    if (json_is_string(ct)) {
        tmpl = json_string_value(ct);
    } else if (json_is_array(ct)) {
        for (size_t i = 0; i < json_array_size(ct); i++) {
            const json_t *e = json_array_get(ct, i);
            const char *nm = json_string_value(json_object_get(e, "name"));
            if (nm && strcmp(nm, "default") == 0) tmpl = json_string_value(json_object_get(e, "template"));
        }
    } else if (ct && !json_is_null(ct)) {
        octet__err(err, OCTET_EFORMAT, "%s: chat_template: expected a string or a list", p);
        goto done;
    }
    if (tmpl) {
        if (strlen(tmpl) > OCTET_MAX_GGUF_STRING_BYTES) {
            octet__err(err, OCTET_EFORMAT, "%s: chat_template: longer than %u bytes", p, OCTET_MAX_GGUF_STRING_BYTES);
            goto done;
        }
        v->chat_template = octet__strndup(tmpl, strlen(tmpl));
        if (!v->chat_template) {
            rc = octet__err(err, OCTET_ENOMEM, "convert: out of memory");
            goto done;
        }
    }
    rc = 0;
done:
    if (tc) json_decref(tc);
    octet__free(p);
    return rc;
}

int octet__cv_vocab_load(octet__cv_vocab *v, const char *dir, int64_t n_vocab, const json_t *config,
                         octet_error *err) {
    memset(v, 0, sizeof *v);
    v->bos = v->eos = v->unk = v->pad = -1;
    v->add_bos = v->add_eos = v->add_space_prefix = -1;
    spm_ids ids = {-1, -1, -1, -1, -1};
    int spm = 0, from_model = 0, rc;
    char *mp = octet__path_join(dir, "tokenizer.model");
    char *jp = octet__path_join(dir, "tokenizer.json");
    if (!mp || !jp) {
        rc = octet__err(err, OCTET_ENOMEM, "convert: out of memory");
        goto done;
    }
    FILE *f = fopen(mp, "rb");
    if (f) {
        fclose(f);
        spm = from_model = 1;
        v->model = "llama";
        if ((rc = load_spm(v, mp, n_vocab, &ids, err))) goto done;
        v->add_space_prefix = ids.add_dummy_prefix;
    } else {
        json_t *tj = NULL;
        rc = octet__json_load_file(&tj, jp, OCTET_CV_MAX_JSON_BYTES, err);
        if (rc == OCTET_ENOTFOUND) {
            rc = octet__err(err, OCTET_EIO, "%s: neither tokenizer.model nor tokenizer.json found", dir);
            goto done;
        }
        if (rc) goto done;
        rc = load_hf_json(v, tj, jp, n_vocab, err);
        json_decref(tj);
        if (rc) goto done;
        spm = v->scores != NULL;
    }
    if ((rc = load_tokenizer_config(v, dir, spm, err))) goto done;
    if ((v->bos < 0 && (rc = id_from_model_config(config, "bos_token_id", v->n, &v->bos, err))) ||
        (v->eos < 0 && (rc = id_from_model_config(config, "eos_token_id", v->n, &v->eos, err))) ||
        (v->pad < 0 && (rc = id_from_model_config(config, "pad_token_id", v->n, &v->pad, err))))
        goto done;
    if (from_model) { /* trainer_spec ids of tokenizer.model, last */
        if (v->bos < 0 && ids.bos >= 0 && ids.bos < v->n) v->bos = ids.bos;
        if (v->eos < 0 && ids.eos >= 0 && ids.eos < v->n) v->eos = ids.eos;
        if (v->unk < 0 && ids.unk >= 0 && ids.unk < v->n) v->unk = ids.unk;
        if (v->pad < 0 && ids.pad >= 0 && ids.pad < v->n) v->pad = ids.pad;
    }
    if (v->unk < 0 && spm)
        for (int64_t i = 0; i < v->n; i++)
            if (v->types[i] == TT_UNKNOWN) {
                v->unk = i;
                break;
            }
    rc = 0;
done:
    octet__free(mp);
    octet__free(jp);
    if (rc) octet__cv_vocab_free(v);
    return rc;
}
