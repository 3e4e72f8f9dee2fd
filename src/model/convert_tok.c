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
#include <stdarg.h>
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
    for (int i = 0; i < v->n_norm; i++) octet__free(v->norm_arg0[i]), octet__free(v->norm_arg1[i]);
    for (int i = 0; i < v->n_notes; i++) octet__free(v->notes[i]);
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

/* Grow the vocabulary to n tokens (the new ones "[PAD<i>]" UNUSED): ids past the model's embedding rows. */
static int vocab_grow(octet__cv_vocab *v, int64_t n, octet_error *err) {
    if (n <= v->n) return 0;
    char **t = octet__realloc_array(v->tokens, (size_t)v->n, (size_t)n, sizeof *t);
    if (t) v->tokens = t;
    int32_t *ty = t ? octet__realloc_array(v->types, (size_t)v->n, (size_t)n, sizeof *ty) : NULL;
    if (ty) v->types = ty;
    float *sc = NULL;
    if (ty && v->scores && (sc = octet__realloc_array(v->scores, (size_t)v->n, (size_t)n, sizeof *sc))) v->scores = sc;
    if (!t || !ty || (v->scores && !sc)) return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
    for (int64_t i = v->n; i < n; i++) {
        char b[32];
        snprintf(b, sizeof b, "[PAD%" PRId64 "]", i);
        v->types[i] = TT_UNUSED;
        if (v->scores) v->scores[i] = -10000.0f;
        v->tokens[i] = octet__strndup(b, strlen(b));
        if (!v->tokens[i]) {
            v->n = i;
            return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
        }
    }
    v->n = n;
    return 0;
}

/* Record a feature that was not carried over (printed by the converter). */
static void note(octet__cv_vocab *v, const char *fmt, ...) {
    if (v->n_notes >= OCTET_CV_MAX_NOTES) {
        v->n_notes_dropped++;
        return;
    }
    char b[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    char *c = octet__strndup(b, strlen(b));
    if (c) v->notes[v->n_notes++] = c;
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
    if ((rc = vocab_alloc(v, n_pieces > n_vocab ? n_pieces : n_vocab, 1, err))) goto done;
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

/* Every component type of tokenizer.json is either carried into GGUF, known to make no difference to the ids,
 * or refused (normalizers, pre-tokenizers, model options that change the ids) or reported as a note (what only
 * concerns decoding, offsets or post-processing). Component semantics: Hugging Face tokenizers'
 * tokenizers/src/{normalizers,pre_tokenizers,processors,decoders}/ and the tokenizer.json they serialize. */

#define U2581 "\xe2\x96\x81"

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static int add_norm(octet__cv_vocab *v, const char *op, const char *a0, const char *a1, const char *tn,
                    octet_error *err) {
    if (v->n_norm >= OCTET_CV_MAX_NORM)
        return octet__err(err, OCTET_EUNSUPPORTED, "%s: normalizer: more than %d steps", tn, OCTET_CV_MAX_NORM);
    char *x = octet__strndup(a0, strlen(a0)), *y = octet__strndup(a1, strlen(a1));
    if (!x || !y) {
        octet__free(x), octet__free(y);
        return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
    }
    v->norm_op[v->n_norm] = op;
    v->norm_arg0[v->n_norm] = x;
    v->norm_arg1[v->n_norm] = y;
    v->n_norm++;
    return 0;
}

static int parse_normalizer(octet__cv_vocab *v, const json_t *j, const char *tn, int depth, octet_error *err) {
    if (!j || json_is_null(j)) return 0;
    const char *ty = json_is_object(j) ? jstr(j, "type") : NULL;
    if (!ty || depth > 8) return octet__err(err, OCTET_EFORMAT, "%s: normalizer: expected an object with a type", tn);
    if (strcmp(ty, "Sequence") == 0) {
        const json_t *a = json_object_get(j, "normalizers");
        if (!json_is_array(a)) return octet__err(err, OCTET_EFORMAT, "%s: normalizer Sequence: no normalizers list", tn);
        for (size_t i = 0; i < json_array_size(a); i++) {
            int rc = parse_normalizer(v, json_array_get(a, i), tn, depth + 1, err);
            if (rc) return rc;
        }
        return 0;
    }
    static const char *const plain[] = {"NFC", "NFD", "NFKC", "NFKD", "Lowercase"};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        if (strcmp(ty, plain[i]) == 0) return add_norm(v, plain[i], "", "", tn, err);
    if (strcmp(ty, "Strip") == 0) {
        const json_t *l = json_object_get(j, "strip_left"), *r = json_object_get(j, "strip_right");
        return add_norm(v, "Strip", json_is_true(l) ? "1" : "0", json_is_true(r) ? "1" : "0", tn, err);
    }
    if (strcmp(ty, "Prepend") == 0) {
        const char *p = jstr(j, "prepend");
        if (!p) return octet__err(err, OCTET_EFORMAT, "%s: normalizer Prepend: no prepend string", tn);
        return add_norm(v, "Prepend", p, "", tn, err);
    }
    if (strcmp(ty, "Replace") == 0) {
        const json_t *pat = json_object_get(j, "pattern");
        const char *c = jstr(j, "content"), *ps = jstr(pat, "String");
        if (jstr(pat, "Regex"))
            return octet__err(err, OCTET_EUNSUPPORTED, "%s: normalizer Replace with the Regex pattern '%.80s' is not "
                              "supported (string patterns are)", tn, jstr(pat, "Regex"));
        if (!ps || !c) return octet__err(err, OCTET_EFORMAT, "%s: normalizer Replace: needs pattern.String and content", tn);
        return add_norm(v, "Replace", ps, c, tn, err);
    }
    return octet__err(err, OCTET_EUNSUPPORTED, "%s: normalizer: type '%.40s' is not supported (NFC, NFD, NFKC, NFKD, "
                      "Lowercase, Strip, Replace, Prepend, Sequence)", tn, ty);
}

typedef struct pre_info {
    const char *split_regex;  /* Split with a Regex pattern */
    const char *split_string; /* Split with a String pattern */
    int byte_level, bl_use_regex, bl_add_prefix;
    int metaspace, ms_prepend, ms_first, ms_split;
} pre_info;

static int parse_pre(pre_info *pi, const json_t *j, const char *tn, int depth, octet_error *err) {
    if (!j || json_is_null(j)) return 0;
    const char *ty = json_is_object(j) ? jstr(j, "type") : NULL;
    if (!ty || depth > 8) return octet__err(err, OCTET_EFORMAT, "%s: pre_tokenizer: expected an object with a type", tn);
    if (strcmp(ty, "Sequence") == 0) {
        const json_t *a = json_object_get(j, "pretokenizers");
        if (!json_is_array(a)) return octet__err(err, OCTET_EFORMAT, "%s: pre_tokenizer Sequence: no pretokenizers", tn);
        for (size_t i = 0; i < json_array_size(a); i++) {
            int rc = parse_pre(pi, json_array_get(a, i), tn, depth + 1, err);
            if (rc) return rc;
        }
        return 0;
    }
    if (strcmp(ty, "Split") == 0) {
        const json_t *pat = json_object_get(j, "pattern");
        const char *re = jstr(pat, "Regex"), *str = jstr(pat, "String"), *beh = jstr(j, "behavior");
        if ((!re && !str) || (re && pi->split_regex) || (str && pi->split_string))
            return octet__err(err, OCTET_EUNSUPPORTED, "%s: pre_tokenizer Split: one Regex or String pattern is "
                              "supported", tn);
        if (re && ((beh && strcmp(beh, "Isolated") != 0) || json_is_true(json_object_get(j, "invert"))))
            return octet__err(err, OCTET_EUNSUPPORTED, "%s: pre_tokenizer Split: behavior '%.20s'%s is not supported "
                              "(Isolated)", tn, beh ? beh : "?", json_is_true(json_object_get(j, "invert")) ? " inverted" : "");
        if (re) pi->split_regex = re;
        else pi->split_string = str;
        return 0;
    }
    if (strcmp(ty, "ByteLevel") == 0) {
        const json_t *ur = json_object_get(j, "use_regex"), *ap = json_object_get(j, "add_prefix_space");
        pi->byte_level = 1;
        pi->bl_use_regex = !ur || json_is_true(ur);  /* defaults of ByteLevel::new: both true */
        pi->bl_add_prefix = !ap || json_is_true(ap);
        return 0;
    }
    if (strcmp(ty, "Metaspace") == 0) {
        const char *rep = jstr(j, "replacement"), *ps = jstr(j, "prepend_scheme");
        if (rep && strcmp(rep, U2581) != 0)
            return octet__err(err, OCTET_EUNSUPPORTED, "%s: pre_tokenizer Metaspace: replacement '%.16s' is not "
                              "supported (U+2581)", tn, rep);
        pi->metaspace = 1;
        pi->ms_prepend = ps ? strcmp(ps, "never") != 0 : json_is_true(json_object_get(j, "add_prefix_space"));
        pi->ms_first = ps && strcmp(ps, "first") == 0;
        pi->ms_split = !json_is_false(json_object_get(j, "split"));
        return 0;
    }
    return octet__err(err, OCTET_EUNSUPPORTED, "%s: pre_tokenizer: type '%.40s' is not supported (Split with the "
                      "Llama 3 or Qwen2 regex, ByteLevel, Metaspace, Sequence)", tn, ty);
}

/* Decoders: what octet's pieces do by tokenizer type (byte-level alphabet, U+2581 -> space, <0xNN> bytes);
 * anything else is a note. */
static void scan_decoder(octet__cv_vocab *v, const json_t *j, int depth) {
    const char *ty = json_is_object(j) ? jstr(j, "type") : NULL;
    if (!ty || depth > 8) return;
    if (strcmp(ty, "Sequence") == 0) {
        const json_t *a = json_object_get(j, "decoders");
        for (size_t i = 0; i < json_array_size(a); i++) scan_decoder(v, json_array_get(a, i), depth + 1);
    } else if (strcmp(ty, "Strip") == 0) {
        note(v, "decoder Strip (start %lld, stop %lld): decoded pieces keep the characters it would remove",
             (long long)json_integer_value(json_object_get(j, "start")),
             (long long)json_integer_value(json_object_get(j, "stop")));
    } else if (strcmp(ty, "Replace") == 0) {
        const char *ps = jstr(json_object_get(j, "pattern"), "String"), *c = jstr(j, "content");
        if (!ps || !c || strcmp(ps, U2581) != 0 || strcmp(c, " ") != 0)
            note(v, "decoder Replace other than U+2581 -> space: not applied to decoded pieces");
    } else if (strcmp(ty, "ByteLevel") != 0 && strcmp(ty, "ByteFallback") != 0 && strcmp(ty, "Fuse") != 0 &&
               strcmp(ty, "Metaspace") != 0) {
        note(v, "decoder %.40s: not applied to decoded pieces", ty);
    }
}

/* Post-processors: a TemplateProcessing "single" template [SpecialToken X, Sequence A, SpecialToken Y] gives
 * BOS X / EOS Y (used when tokenizer_config.json states no add_bos_token / add_eos_token); ByteLevel only
 * trims offsets. */
typedef struct post_info {
    int present;
    const char *bos, *eos;
} post_info;

static void scan_post(octet__cv_vocab *v, const json_t *j, post_info *pi, int depth) {
    const char *ty = json_is_object(j) ? jstr(j, "type") : NULL;
    if (!ty || depth > 8) return;
    pi->present = 1;
    if (strcmp(ty, "Sequence") == 0) {
        const json_t *a = json_object_get(j, "processors");
        for (size_t i = 0; i < json_array_size(a); i++) scan_post(v, json_array_get(a, i), pi, depth + 1);
    } else if (strcmp(ty, "TemplateProcessing") == 0) {
        const json_t *single = json_object_get(j, "single");
        size_t n = json_array_size(single), seq = n;
        for (size_t i = 0; i < n; i++)
            if (json_object_get(json_array_get(single, i), "Sequence")) seq = i;
        const char *first = seq >= 1 ? jstr(json_object_get(json_array_get(single, 0), "SpecialToken"), "id") : NULL;
        const char *last = seq + 1 < n ? jstr(json_object_get(json_array_get(single, n - 1), "SpecialToken"), "id")
                                       : NULL;
        if (seq == n || seq > 1 || n - seq > 2) {
            note(v, "post_processor TemplateProcessing: a single-sequence template other than [BOS] A [EOS] is not "
                 "carried");
        } else {
            pi->bos = first;
            pi->eos = last;
        }
        if (json_array_size(json_object_get(j, "pair")) > 0)
            note(v, "post_processor TemplateProcessing: the pair template (two sequences) is not carried");
    } else if (strcmp(ty, "ByteLevel") != 0) {
        note(v, "post_processor %.40s: not carried (BOS/EOS come from tokenizer_config.json)", ty);
    }
}

static int is_byte_token(const char *s) {
    return strlen(s) == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>' &&
           strchr("0123456789ABCDEF", s[3]) && strchr("0123456789ABCDEF", s[4]) && s[3] && s[4];
}

static int load_hf_json(octet__cv_vocab *v, const json_t *tj, const char *tn, int64_t n_vocab, post_info *post,
                        octet_error *err) {
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
    const char *cs = jstr(model, "continuing_subword_prefix"), *ew = jstr(model, "end_of_word_suffix");
    if ((cs && cs[0]) || (ew && ew[0]))
        return octet__err(err, OCTET_EUNSUPPORTED, "%s: model: continuing_subword_prefix / end_of_word_suffix "
                          "('%.16s' / '%.16s') are not supported", tn, cs ? cs : "", ew ? ew : "");
    if (json_is_number(json_object_get(model, "dropout")) && json_number_value(json_object_get(model, "dropout")) > 0)
        note(v, "model.dropout %g: BPE dropout (random merges at training time) not applied",
             json_number_value(json_object_get(model, "dropout")));

    int rc = parse_normalizer(v, json_object_get(tj, "normalizer"), tn, 0, err);
    if (rc) return rc;
    pre_info ps;
    memset(&ps, 0, sizeof ps);
    if ((rc = parse_pre(&ps, json_object_get(tj, "pre_tokenizer"), tn, 0, err))) return rc;
    const json_t *dec = json_object_get(tj, "decoder");
    if (dec && !json_is_null(dec)) scan_decoder(v, dec, 0);
    scan_post(v, json_object_get(tj, "post_processor"), post, 0);
    for (const char *k = "truncation"; k; k = strcmp(k, "truncation") == 0 ? "padding" : NULL) {
        const json_t *x = json_object_get(tj, k);
        if (x && !json_is_null(x)) note(v, "%s settings: not carried (octet neither truncates nor pads)", k);
    }
    int dec_byte_level = dec && strcmp(jstr(dec, "type") ? jstr(dec, "type") : "", "ByteLevel") == 0;
    int byte_fallback = json_is_true(json_object_get(model, "byte_fallback"));
    int norm_space = 0, norm_prefix = 0; /* the normalizer turns spaces into U+2581 / prepends U+2581 */
    for (int i = 0; i < v->n_norm; i++) {
        if (strcmp(v->norm_op[i], "Replace") == 0 && strcmp(v->norm_arg0[i], " ") == 0) norm_space = 1;
        if (strcmp(v->norm_op[i], "Prepend") == 0 && strcmp(v->norm_arg0[i], U2581) == 0) norm_prefix = 1;
    }
    int spm_style = 0;
    if (ps.byte_level || (dec_byte_level && !ps.metaspace)) {
        v->model = "gpt2";
        if (ps.metaspace || ps.split_string)
            return octet__err(err, OCTET_EUNSUPPORTED, "%s: pre_tokenizer: %s with byte-level BPE is not supported",
                              tn, ps.metaspace ? "Metaspace" : "Split on a string");
        if (ps.split_regex) {
            if (strcmp(ps.split_regex, k_re_llama3) == 0) v->pre = "llama-bpe";
            else if (strcmp(ps.split_regex, k_re_qwen2) == 0) v->pre = "qwen2";
            else
                return octet__err(err, OCTET_EUNSUPPORTED,
                                  "%s: pre_tokenizer: the Split regex '%.120s' is not one octet knows (Llama 3, "
                                  "Qwen2, or GPT-2's ByteLevel)", tn, ps.split_regex);
            if (ps.byte_level && ps.bl_use_regex)
                return octet__err(err, OCTET_EUNSUPPORTED, "%s: pre_tokenizer: a Split regex followed by ByteLevel "
                                  "with use_regex (two regex passes) is not supported", tn);
        } else if (ps.byte_level && ps.bl_use_regex) {
            v->pre = "gpt-2";
        } else {
            return octet__err(err, OCTET_EUNSUPPORTED, "%s: pre_tokenizer: ByteLevel without a regex is not supported",
                              tn);
        }
        if (ps.byte_level) v->add_prefix_space = ps.bl_add_prefix;
        const json_t *im = json_object_get(model, "ignore_merges");
        if (json_is_boolean(im)) v->ignore_merges = json_is_true(im);
    } else if (byte_fallback || ps.metaspace || norm_space || norm_prefix) {
        v->model = "llama";
        spm_style = 1;
        if (ps.split_regex)
            return octet__err(err, OCTET_EUNSUPPORTED, "%s: pre_tokenizer: a Split regex with SentencePiece-style BPE "
                              "is not supported", tn);
        if (ps.split_string && !(norm_space && strcmp(ps.split_string, " ") == 0))
            return octet__err(err, OCTET_EUNSUPPORTED, "%s: pre_tokenizer: Split on '%.16s' is not supported (only "
                              "on ' ' after a normalizer that replaces every ' ', where it splits nothing)", tn,
                              ps.split_string);
        if (ps.metaspace && v->n_norm > 0)
            return octet__err(err, OCTET_EUNSUPPORTED, "%s: a normalizer together with a Metaspace pre-tokenizer is "
                              "not supported", tn);
        if (ps.metaspace) { /* octet's built-in SentencePiece space handling: U+2581 for spaces, prefix by flag */
            v->add_space_prefix = ps.ms_prepend;
            if (ps.ms_first)
                note(v, "pre_tokenizer Metaspace prepend_scheme 'first': the prefix is added after special tokens too");
            if (ps.ms_prepend)
                note(v, "pre_tokenizer Metaspace: the prefix is added even to text that starts with a space");
            if (ps.ms_split)
                note(v, "pre_tokenizer Metaspace split: words are not merged separately (merges may cross U+2581)");
        } else {
            v->add_space_prefix = norm_prefix; /* for readers that ignore tokenizer.octet.normalizer.* */
            if (!norm_space)
                note(v, "SentencePiece-style BPE without a space normalizer: octet turns spaces into U+2581 anyway");
        }
    } else {
        return octet__err(err, OCTET_EUNSUPPORTED,
                          "%s: neither byte-level BPE nor SentencePiece-style BPE (no ByteLevel, byte_fallback, "
                          "Metaspace or U+2581 normalizer)", tn);
    }
    if (json_is_true(json_object_get(model, "fuse_unk")) && !byte_fallback)
        note(v, "model.fuse_unk: consecutive unknown tokens are not fused");

    /* the vocabulary holds every id the file names, past the embedding rows when needed */
    int64_t max_id = -1;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)(uintptr_t)vocab, key, val) {
        if (json_is_integer(val) && json_integer_value(val) > max_id) max_id = json_integer_value(val);
    }
    for (size_t i = 0; added && i < json_array_size(added); i++) {
        const json_t *jid = json_object_get(json_array_get(added, i), "id");
        if (json_is_integer(jid) && json_integer_value(jid) > max_id) max_id = json_integer_value(jid);
    }
    if (max_id >= (int64_t)OCTET_MAX_VOCAB)
        return octet__err(err, OCTET_EFORMAT, "%s: token id %" PRId64 " is beyond %u", tn, max_id,
                          (unsigned)OCTET_MAX_VOCAB);
    int64_t n = max_id + 1 > n_vocab ? max_id + 1 : n_vocab;
    if (n > n_vocab)
        octet__log(OCTET_LOG_INFO, "convert: %s names ids up to %" PRId64 ", the model has %" PRId64
                   " embedding rows: the vocabulary has %" PRId64 " tokens", tn, max_id, n_vocab, n);
    rc = vocab_alloc(v, n, spm_style, err);
    if (rc) return rc;
    unsigned char *seen = octet__calloc((size_t)n, 1);
    if (!seen) return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    json_object_foreach((json_t *)(uintptr_t)vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0) {
            rc = octet__err(err, OCTET_EFORMAT, "%s: model.vocab: '%.64s': id is not an integer in 0..%" PRId64, tn,
                            key, n - 1);
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
    int n_strip = 0, n_single = 0, n_normed = 0;
    const char *ex_strip = NULL, *ex_single = NULL, *ex_normed = NULL;
    for (size_t i = 0; added && i < json_array_size(added); i++) {
        const json_t *a = json_array_get(added, i);
        const json_t *jid = json_object_get(a, "id");
        const char *content = json_string_value(json_object_get(a, "content"));
        if (!json_is_integer(jid) || !content || !content[0] || json_integer_value(jid) < 0) {
            rc = octet__err(err, OCTET_EFORMAT, "%s: added_tokens[%zu]: needs an id in 0..%" PRId64
                            " and a non-empty content", tn, i, n - 1);
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
        int special = json_is_true(json_object_get(a, "special"));
        v->types[id] = special ? TT_CONTROL : TT_USER;
        if (spm_style && unk && strcmp(content, unk) == 0) v->types[id] = TT_UNKNOWN; /* <unk> is listed as added */
        if (spm_style) v->scores[id] = 0.0f;
        if (json_is_true(json_object_get(a, "lstrip")) || json_is_true(json_object_get(a, "rstrip")))
            n_strip++, ex_strip = ex_strip ? ex_strip : v->tokens[id];
        if (json_is_true(json_object_get(a, "single_word"))) n_single++, ex_single = ex_single ? ex_single : v->tokens[id];
        if (!special && v->n_norm > 0 && json_is_true(json_object_get(a, "normalized")))
            n_normed++, ex_normed = ex_normed ? ex_normed : v->tokens[id];
    }
    if (n_strip)
        note(v, "added_tokens: lstrip/rstrip of %d token(s) (e.g. '%.40s'): spaces next to them are not absorbed",
             n_strip, ex_strip);
    if (n_single) note(v, "added_tokens: single_word of %d token(s) (e.g. '%.40s'): matched inside words too", n_single, ex_single);
    if (n_normed)
        note(v, "added_tokens: normalized=true on %d token(s) (e.g. '%.40s'): matched in the text before "
             "normalization", n_normed, ex_normed);
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

/* tokenizer_config.json keys: carried (bos/eos/unk/pad_token, add_bos/eos_token, chat_template,
 * added_tokens_decoder), without effect on the ids or carried through tokenizer.json (the rest of the list), or
 * reported. */
static void config_notes(octet__cv_vocab *v, const json_t *tc) {
    static const char *const used[] = {"bos_token", "eos_token", "unk_token", "pad_token", "add_bos_token",
                                       "add_eos_token", "chat_template", "added_tokens_decoder"};
    static const char *const inert[] = {
        "tokenizer_class", "processor_class", "model_input_names", "padding_side", "truncation_side",
        "additional_special_tokens", "extra_special_tokens", "sp_model_kwargs", "use_default_system_prompt",
        "spaces_between_special_tokens", "errors", "boi_token", "eoi_token", "image_token", "mask_token",
        "sep_token", "cls_token", "auto_map", "name_or_path", "added_tokens", "vocab_file", "merges_file",
        "tokenizer_file", "special_tokens_map_file", "use_fast", "do_basic_tokenize", "never_split",
        "tokenize_chinese_chars", "strip_accents", "vocab_size"};
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)(uintptr_t)tc, k, x) {
        int known = 0;
        for (size_t i = 0; i < sizeof used / sizeof *used && !known; i++) known = strcmp(k, used[i]) == 0;
        for (size_t i = 0; i < sizeof inert / sizeof *inert && !known; i++) known = strcmp(k, inert[i]) == 0;
        if (known) continue;
        if (strcmp(k, "model_max_length") == 0) {
            if (json_is_number(x))
                note(v, "tokenizer_config.json: model_max_length %.17g not used (the context length comes from "
                     "config.json)", json_number_value(x));
        } else if (strcmp(k, "clean_up_tokenization_spaces") == 0 || strcmp(k, "split_special_tokens") == 0 ||
                   strcmp(k, "add_prefix_space") == 0 || strcmp(k, "do_lower_case") == 0) {
            if (json_is_true(x)) note(v, "tokenizer_config.json: %s true not carried", k);
        } else if (strcmp(k, "legacy") == 0) {
            note(v, "tokenizer_config.json: legacy %s concerns the slow Python tokenizer; octet follows tokenizer.json",
                 json_is_true(x) ? "true" : "false");
        } else {
            note(v, "tokenizer_config.json: %.60s not used", k);
        }
    }
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
            if (id >= (long long)OCTET_MAX_VOCAB) {
                octet__err(err, OCTET_EFORMAT, "%s: added_tokens_decoder: id %lld is beyond %u", p, id,
                           (unsigned)OCTET_MAX_VOCAB);
                goto done;
            }
            if ((rc = vocab_grow(v, id + 1, err)) || (rc = set_token(v, id, content, strlen(content), err))) goto done;
            rc = OCTET_EFORMAT;
            v->types[id] = json_is_true(json_object_get(a, "special")) ? TT_CONTROL : TT_USER;
        }
    }
    config_notes(v, tc);
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

static void add_eog(octet__cv_vocab *v, int64_t id) {
    for (int i = 0; i < v->n_eog; i++)
        if (v->eog[i] == id) return;
    if (v->n_eog < OCTET_CV_MAX_EOG) v->eog[v->n_eog++] = id;
    else note(v, "end-of-generation id %" PRId64 ": more than %d, dropped", id, OCTET_CV_MAX_EOG);
}

/* eos_token_id of config.json or generation_config.json: an id or a list of ids, all end generation. */
static int eog_from(octet__cv_vocab *v, const json_t *j, const char *name, octet_error *err) {
    const json_t *t = json_object_get(j, "eos_token_id");
    if (!t || json_is_null(t)) return 0;
    size_t n = json_is_array(t) ? json_array_size(t) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(t) ? json_array_get(t, i) : t;
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) >= v->n)
            return octet__err(err, OCTET_EFORMAT, "%s: eos_token_id: expected token ids in 0..%" PRId64, name,
                              v->n - 1);
        add_eog(v, json_integer_value(e));
    }
    return 0;
}

static int load_generation_config(octet__cv_vocab *v, const char *dir, octet_error *err) {
    char *p = octet__path_join(dir, "generation_config.json");
    if (!p) return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
    json_t *g = NULL;
    int rc = octet__json_load_file(&g, p, OCTET_CV_MAX_JSON_BYTES, err);
    if (rc == OCTET_ENOTFOUND) rc = 0;
    else if (rc == 0 && !json_is_object(g)) rc = octet__err(err, OCTET_EFORMAT, "%s: expected a JSON object", p);
    else if (rc == 0) rc = eog_from(v, g, p, err);
    if (rc == 0 && g) { /* sampling defaults are per request in octet */
        static const char *const sampling[] = {"temperature", "top_p", "top_k", "min_p", "repetition_penalty",
                                               "do_sample", "max_new_tokens", "max_length"};
        for (size_t i = 0; i < sizeof sampling / sizeof *sampling; i++)
            if (json_object_get(g, sampling[i]))
                note(v, "generation_config.json: %s not carried (sampling settings are per request)", sampling[i]);
    }
    if (g) json_decref(g);
    octet__free(p);
    return rc;
}

int octet__cv_vocab_load(octet__cv_vocab *v, const char *dir, int64_t n_vocab, const json_t *config,
                         octet_error *err) {
    memset(v, 0, sizeof *v);
    v->bos = v->eos = v->unk = v->pad = -1;
    v->add_bos = v->add_eos = v->add_space_prefix = v->add_prefix_space = v->ignore_merges = -1;
    post_info post = {0, NULL, NULL};
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
        rc = load_hf_json(v, tj, jp, n_vocab, &post, err);
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
    if (post.present && v->add_bos < 0) { /* tokenizer.json's post-processor decides what HF adds */
        v->add_bos = post.bos != NULL;
        if (post.bos && v->bos < 0) v->bos = find_token(v, post.bos);
    }
    if (post.present && v->add_eos < 0) {
        v->add_eos = post.eos != NULL;
        if (post.eos && v->eos < 0) v->eos = find_token(v, post.eos);
    }
    if (config && (rc = eog_from(v, config, "config.json", err))) goto done;
    if ((rc = load_generation_config(v, dir, err))) goto done;
    if (v->n_eog > 0 && v->eos >= 0) add_eog(v, v->eos);
    if (v->unk < 0 && spm)
        for (int64_t i = 0; i < v->n; i++)
            if (v->types[i] == TT_UNKNOWN) {
                v->unk = i;
                break;
            }
    for (int i = 0; i < v->n_notes; i++) octet__log(OCTET_LOG_WARN, "convert: not carried over: %s", v->notes[i]);
    if (v->n_notes_dropped) octet__log(OCTET_LOG_WARN, "convert: not carried over: %d more", v->n_notes_dropped);
    rc = 0;
done:
    octet__free(mp);
    octet__free(jp);
    if (rc) octet__cv_vocab_free(v);
    return rc;
}
