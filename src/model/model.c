/*
 * model.c - binds a GGUF file to a Llama-family model: reads and validates hyperparameters, checks every
 * tensor's presence, shape and type against them, converts norm gains and biases to f32, computes the RoPE
 * phase increments, and builds the tokenizer from the metadata.
 *
 * Architectures: "llama" and "mistral" (adjacent-pair RoPE, llama.cpp's LLAMA_ROPE_TYPE_NORM) and "qwen2"
 * (q/k/v biases, half-split RoPE: llama.cpp's converter keeps Hugging Face's layout for it).
 * Keys follow llama.cpp's naming: "{arch}.embedding_length", "{arch}.attention.head_count", ...
 */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "core/xmath.h"
#include "model/int/int.h"
#include "model/packed.h"

octet_model_params octet_model_default_params(void) {
    octet_model_params p = {.use_mmap = 1, .use_mlock = 0};
    return p;
}

/* ---- hyperparameters ------------------------------------------------------------------------------------- */

static int get_u32_key(const octet__gguf *g, const char *arch, const char *suffix, uint32_t *out, int required,
                       uint32_t dflt, octet_error *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int rc = octet__gguf_get_u32(g, key, out, err);
    if (rc == OCTET_ENOTFOUND) {
        if (required) return octet__err(err, OCTET_EFORMAT, "missing required key %s", key);
        *out = dflt;
        return 0;
    }
    return rc;
}

static int get_f32_key(const octet__gguf *g, const char *arch, const char *suffix, float *out, float dflt,
                       octet_error *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int rc = octet__gguf_get_f32(g, key, out, err);
    if (rc == OCTET_ENOTFOUND) {
        *out = dflt;
        return 0;
    }
    return rc;
}

static int read_hparams(octet_model *m, octet_error *err) {
    const octet__gguf *g = m->gguf;
    octet__hparams *hp = &m->hp;
    octet__str arch;
    int rc = octet__gguf_get_str(g, "general.architecture", &arch, err);
    if (rc == OCTET_ENOTFOUND) return octet__err(err, OCTET_EFORMAT, "missing required key general.architecture");
    if (rc) return rc;
    if (arch.len >= sizeof hp->arch) return octet__err(err, OCTET_EUNSUPPORTED, "general.architecture: too long");
    memcpy(hp->arch, arch.ptr, arch.len);
    hp->arch[arch.len] = 0;
    if (strcmp(hp->arch, "llama") != 0 && strcmp(hp->arch, "mistral") != 0 && strcmp(hp->arch, "qwen2") != 0)
        return octet__err(err, OCTET_EUNSUPPORTED,
                          "general.architecture: '%s' is not supported (supported: llama, mistral, qwen2)", hp->arch);
    hp->rope_type = strcmp(hp->arch, "qwen2") == 0 ? OCTET_ROPE_NEOX : OCTET_ROPE_NORM;

    uint32_t v, n_embd, n_layer, n_ff, n_head, n_head_kv, n_ctx;
    const char *a = hp->arch;
    if ((rc = get_u32_key(g, a, "embedding_length", &n_embd, 1, 0, err))) return rc;
    if ((rc = get_u32_key(g, a, "block_count", &n_layer, 1, 0, err))) return rc;
    if ((rc = get_u32_key(g, a, "feed_forward_length", &n_ff, 1, 0, err))) return rc;
    if ((rc = get_u32_key(g, a, "attention.head_count", &n_head, 1, 0, err))) return rc;
    if ((rc = get_u32_key(g, a, "attention.head_count_kv", &n_head_kv, 0, n_head, err))) return rc;
    if ((rc = get_u32_key(g, a, "context_length", &n_ctx, 0, 2048, err))) return rc;
#define RANGE(name, val, lo, hi)                                                                                   \
    if ((val) < (lo) || (val) > (hi))                                                                              \
        return octet__err(err, OCTET_EFORMAT, "%s.%s: %u is outside %u..%u", a, name, (unsigned)(val),            \
                          (unsigned)(lo), (unsigned)(hi));
    RANGE("embedding_length", n_embd, 1, OCTET_MAX_EMBD);
    RANGE("block_count", n_layer, 1, OCTET_MAX_LAYERS);
    RANGE("feed_forward_length", n_ff, 1, OCTET_MAX_FF);
    RANGE("attention.head_count", n_head, 1, OCTET_MAX_HEADS);
    RANGE("attention.head_count_kv", n_head_kv, 1, n_head);
    RANGE("context_length", n_ctx, 1, OCTET_MAX_CTX_TRAIN);
    if (n_head % n_head_kv)
        return octet__err(err, OCTET_EFORMAT, "%s.attention.head_count %u is not a multiple of head_count_kv %u", a,
                          n_head, n_head_kv);
    uint32_t head_dim = n_embd / n_head;
    if ((rc = get_u32_key(g, a, "attention.key_length", &v, 0, head_dim, err))) return rc;
    head_dim = v;
    if ((rc = get_u32_key(g, a, "attention.value_length", &v, 0, head_dim, err))) return rc;
    if (v != head_dim)
        return octet__err(err, OCTET_EUNSUPPORTED, "%s.attention.value_length %u differs from key_length %u", a, v,
                          head_dim);
    RANGE("attention.key_length", head_dim, 2, OCTET_MAX_HEAD_DIM);
    if (head_dim % 2) return octet__err(err, OCTET_EFORMAT, "%s: head dimension %u is odd", a, head_dim);
    uint32_t n_rot;
    if ((rc = get_u32_key(g, a, "rope.dimension_count", &n_rot, 0, head_dim, err))) return rc;
    if (n_rot == 0 || n_rot > head_dim || n_rot % 2)
        return octet__err(err, OCTET_EFORMAT, "%s.rope.dimension_count: %u must be even and in 2..%u", a, n_rot,
                          head_dim);
    hp->n_embd = (int)n_embd;
    hp->n_layer = (int)n_layer;
    hp->n_ff = (int)n_ff;
    hp->n_head = (int)n_head;
    hp->n_head_kv = (int)n_head_kv;
    hp->head_dim = (int)head_dim;
    hp->n_rot = (int)n_rot;
    hp->n_ctx_train = (int)n_ctx;
#undef RANGE

    if ((rc = get_f32_key(g, a, "attention.layer_norm_rms_epsilon", &hp->norm_eps, 1e-5f, err))) return rc;
    if (!(hp->norm_eps >= 0.0f && hp->norm_eps < 1.0f))
        return octet__err(err, OCTET_EFORMAT, "%s.attention.layer_norm_rms_epsilon: %g is outside [0, 1)", a,
                          (double)hp->norm_eps);
    if ((rc = get_f32_key(g, a, "rope.freq_base", &hp->rope_base, 10000.0f, err))) return rc;
    if (!(hp->rope_base > 1.0f && hp->rope_base < 1e12f))
        return octet__err(err, OCTET_EFORMAT, "%s.rope.freq_base: %g is outside (1, 1e12)", a, (double)hp->rope_base);
    hp->rope_scale = 1.0f;
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", a);
    octet__str st;
    rc = octet__gguf_get_str(g, key, &st, err);
    if (rc && rc != OCTET_ENOTFOUND) return rc;
    int scaling_linear = 0;
    if (rc == 0) {
        if (st.len == 6 && memcmp(st.ptr, "linear", 6) == 0) scaling_linear = 1;
        else if (!(st.len == 4 && memcmp(st.ptr, "none", 4) == 0))
            return octet__err(err, OCTET_EUNSUPPORTED, "%s: scaling type '%.*s' is not supported (linear, none)", key,
                              (int)(st.len > 32 ? 32 : st.len), st.ptr);
    }
    float factor = 1.0f;
    if ((rc = get_f32_key(g, a, "rope.scaling.factor", &factor, 1.0f, err))) return rc;
    if (scaling_linear || (rc == 0 && factor != 1.0f && factor > 0.0f)) {
        /* llama.cpp applies rope.scaling.factor as linear scaling unless the type says otherwise */
        if (!(factor >= 1e-3f && factor <= 1e6f))
            return octet__err(err, OCTET_EFORMAT, "%s.rope.scaling.factor: %g is outside [1e-3, 1e6]", a,
                              (double)factor);
        hp->rope_scale = factor;
    }
    return 0;
}

/* ---- tensors ------------------------------------------------------------------------------------------- */

/* Find a tensor and check its shape (ne1 == 0 for a vector). Absent and optional: *out zeroed, 0 returned. */
static int bind(const octet_model *m, const char *name, int64_t ne0, int64_t ne1, int optional, octet__tensor *out,
                octet_error *err) {
    memset(out, 0, sizeof *out);
    const octet__gguf_tensor *t = octet__gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (optional) return 0;
        return octet__err(err, OCTET_EFORMAT, "tensor %s: missing", name);
    }
    if (m->bound) m->bound[t - octet__gguf_tensor_at(m->gguf, 0)] = 1;
    int want_dims = ne1 ? 2 : 1;
    int64_t got1 = t->n_dims >= 2 ? t->ne[1] : 1;
    int extra = (t->n_dims >= 3 && t->ne[2] != 1) || (t->n_dims >= 4 && t->ne[3] != 1);
    if (t->ne[0] != ne0 || got1 != (ne1 ? ne1 : 1) || extra)
        return octet__err(err, OCTET_EFORMAT, "tensor %s: shape [%lld, %lld] but the hyperparameters need [%lld, %lld]",
                          name, (long long)t->ne[0], (long long)got1, (long long)ne0, (long long)(ne1 ? ne1 : 1));
    (void)want_dims;
    const octet__type_traits *tt = octet__type(t->type);
    if (!tt || !tt->block_size || tt->type_size == 0 || !tt->vec_dot || t->type == OCTET_TYPE_Q8_K ||
        t->type == OCTET_TYPE_Q8_1)
        return octet__err(err, OCTET_EUNSUPPORTED, "tensor %s: type %d is not supported", name, t->type);
    out->data = t->data;
    out->type = t->type;
    out->ne[0] = ne0;
    out->ne[1] = ne1 ? ne1 : 1;
    out->row_bytes = octet__row_bytes(t->type, ne0);
    if (!out->row_bytes)
        return octet__err(err, OCTET_EFORMAT, "tensor %s: row of %lld is not a multiple of the %s block size", name,
                          (long long)ne0, tt->name);
    return 0;
}

/* Bind a vector and convert it to f32 into dst (n floats). */
static int bind_vec(const octet_model *m, const char *name, int64_t n, int optional, float *dst, const float **out,
                    octet_error *err) {
    octet__tensor t;
    int rc = bind(m, name, n, 0, optional, &t, err);
    if (rc) return rc;
    if (!t.data) {
        *out = NULL;
        return 0;
    }
    octet__kernels_ref()[t.type].to_float(t.data, dst, n);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(dst[i])) return octet__err(err, OCTET_EFORMAT, "tensor %s: element %lld is not finite", name, (long long)i);
    *out = dst;
    return 0;
}

/* Every tensor of the file must be consumed: one the model does not use (Llama 3's rope_freqs.weight, an MoE
 * router, a Gemma post-norm) would otherwise be ignored and the model run wrong without a word. */
static int check_consumed(const octet_model *m, octet_error *err) {
    for (int64_t i = 0; i < octet__gguf_n_tensors(m->gguf); i++)
        if (!m->bound[i])
            return octet__err(err, OCTET_EUNSUPPORTED,
                              "tensor %s: present in the file but not used by octet's %s model (refusing to run "
                              "without it)",
                              octet__gguf_tensor_at(m->gguf, i)->name_z, m->hp.arch);
    return 0;
}

static int bind_tensors_all(octet_model *m, octet_error *err);

static int bind_tensors(octet_model *m, octet_error *err) {
    int64_t n = octet__gguf_n_tensors(m->gguf);
    m->bound = octet__calloc(n > 0 ? (size_t)n : 1, 1);
    if (!m->bound) return octet__err(err, OCTET_ENOMEM, "model: out of memory");
    int rc = bind_tensors_all(m, err);
    if (rc == 0) rc = check_consumed(m, err);
    octet__free(m->bound);
    m->bound = NULL;
    return rc;
}

static int bind_tensors_all(octet_model *m, octet_error *err) {
    const octet__hparams *hp = &m->hp;
    const octet__gguf_tensor *te = octet__gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!te) return octet__err(err, OCTET_EFORMAT, "tensor token_embd.weight: missing");
    if (te->n_dims < 2 || te->ne[1] < 1 || te->ne[1] > OCTET_MAX_VOCAB)
        return octet__err(err, OCTET_EFORMAT, "tensor token_embd.weight: needs 2 dims with 1..%d rows",
                          OCTET_MAX_VOCAB);
    m->hp.n_vocab = (int)te->ne[1];
    int rc;
    const int64_t E = hp->n_embd, Q = (int64_t)hp->n_head * hp->head_dim, KV = (int64_t)hp->n_head_kv * hp->head_dim;
    const int64_t F = hp->n_ff, V = hp->n_vocab;
    if ((rc = bind(m, "token_embd.weight", E, V, 0, &m->tok_embd, err))) return rc;
    if ((rc = bind(m, "output.weight", E, V, 1, &m->output, err))) return rc;
    m->tied_output = m->output.data == NULL;
    if (m->tied_output) m->output = m->tok_embd;

    /* f32 store: output_norm + per layer (2 norms + 3 biases) */
    size_t per_layer = (size_t)(2 * E + Q + 2 * KV), total;
    if (!octet__mul_size(per_layer, (size_t)hp->n_layer, &total) || !octet__add_size(total, (size_t)E, &total))
        return octet__err(err, OCTET_EFORMAT, "model: size overflow");
    m->f32_store = octet__malloc(total * sizeof(float));
    m->layers = octet__calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->f32_store || !m->layers) return octet__err(err, OCTET_ENOMEM, "model: out of memory for %zu floats", total);
    float *f = m->f32_store;
    if ((rc = bind_vec(m, "output_norm.weight", E, 0, f, &m->output_norm, err))) return rc;
    f += E;
    char name[96];
    for (int l = 0; l < hp->n_layer; l++) {
        octet__layer *L = &m->layers[l];
#define NAME(s) (snprintf(name, sizeof name, "blk.%d.%s", l, s), name)
        if ((rc = bind_vec(m, NAME("attn_norm.weight"), E, 0, f, &L->attn_norm, err))) return rc;
        f += E;
        if ((rc = bind_vec(m, NAME("ffn_norm.weight"), E, 0, f, &L->ffn_norm, err))) return rc;
        f += E;
        if ((rc = bind_vec(m, NAME("attn_q.bias"), Q, 1, f, &L->bq, err))) return rc;
        f += Q;
        if ((rc = bind_vec(m, NAME("attn_k.bias"), KV, 1, f, &L->bk, err))) return rc;
        f += KV;
        if ((rc = bind_vec(m, NAME("attn_v.bias"), KV, 1, f, &L->bv, err))) return rc;
        f += KV;
        if ((rc = bind(m, NAME("attn_q.weight"), E, Q, 0, &L->wq, err))) return rc;
        if ((rc = bind(m, NAME("attn_k.weight"), E, KV, 0, &L->wk, err))) return rc;
        if ((rc = bind(m, NAME("attn_v.weight"), E, KV, 0, &L->wv, err))) return rc;
        if ((rc = bind(m, NAME("attn_output.weight"), Q, E, 0, &L->wo, err))) return rc;
        if ((rc = bind(m, NAME("ffn_gate.weight"), E, F, 0, &L->w_gate, err))) return rc;
        if ((rc = bind(m, NAME("ffn_up.weight"), E, F, 0, &L->w_up, err))) return rc;
        if ((rc = bind(m, NAME("ffn_down.weight"), F, E, 0, &L->w_down, err))) return rc;
#undef NAME
    }
    /* statistics: parameters, bytes, dominant type */
    uint64_t by_type[OCTET_TYPE_COUNT] = {0};
    for (int64_t i = 0; i < octet__gguf_n_tensors(m->gguf); i++) {
        const octet__gguf_tensor *t = octet__gguf_tensor_at(m->gguf, i);
        m->n_params += t->n_elements;
        m->weight_bytes += t->n_bytes;
        if (t->type >= 0 && t->type < OCTET_TYPE_COUNT && t->n_dims >= 2) by_type[t->type] += t->n_bytes;
    }
    int best = 0;
    for (int t = 0; t < OCTET_TYPE_COUNT; t++)
        if (by_type[t] > by_type[best]) best = t;
    m->file_type = best;
    return 0;
}

/* ---- RoPE phases ---------------------------------------------------------------------------------------- */

/* phi_i = round(theta_i / (2 pi) * 2^64) with theta_i = base^(-2i/n_rot) / scale: the angle advanced per position,
 * as a fraction of a turn in 64-bit fixed point. The phase at position p is p * phi_i mod 2^64 (exact, wrapping);
 * see docs/integer.md, "The bridge", design point 1. Computed in double-double arithmetic from IEEE operations
 * only (core/xmath.c), so every machine gets the same 64 bits. */
static int rope_init(octet_model *m, octet_error *err) {
    int half = m->hp.n_rot / 2;
    m->rope_phi = octet__malloc((size_t)half * sizeof *m->rope_phi);
    if (!m->rope_phi) return octet__err(err, OCTET_ENOMEM, "rope: out of memory");
    for (int i = 0; i < half; i++)
        m->rope_phi[i] = octet__xm_rope_phi((double)m->hp.rope_base, i, m->hp.n_rot, (double)m->hp.rope_scale);
    return 0;
}

/* ---- tokenizer ----------------------------------------------------------------------------------------- */

static int get_id(const octet__gguf *g, const char *key, int32_t *out, int n_vocab, octet_error *err) {
    uint32_t v;
    int rc = octet__gguf_get_u32(g, key, &v, err);
    if (rc == OCTET_ENOTFOUND) {
        *out = -1;
        return 0;
    }
    if (rc) return rc;
    if (v >= (uint32_t)n_vocab) {
        *out = -1; /* some converters write ids past the vocabulary for absent tokens: ignore, as llama.cpp warns */
        octet__log(OCTET_LOG_WARN, "%s: id %u is outside the vocabulary of %d tokens; ignored", key, v, n_vocab);
        return 0;
    }
    *out = (int32_t)v;
    return 0;
}

/* octet's tokenizer keys (written by octet convert, docs/tokenizer.md): tokenizer.octet.normalizer.{type,arg0,
 * arg1} (one entry per step), add_prefix_space, ignore_merges, eog_token_ids. An unknown step type is an error:
 * tokenizing without it would give other ids than the model was trained on. */
typedef struct norm_keys {
    octet__str *type, *arg0, *arg1;
    octet__norm_step *steps;
    int32_t *eog;
} norm_keys;

static int read_octet_tok_keys(const octet__gguf *g, octet__tokenizer_desc *d, norm_keys *nk, octet_error *err) {
    uint64_t n = 0, n0 = 0, n1 = 0, ne = 0;
    int rc = octet__gguf_get_str_arr(g, "tokenizer.octet.normalizer.type", &nk->type, &n, err);
    if (rc && rc != OCTET_ENOTFOUND) return rc;
    if (rc == 0 && n > 0) {
        if ((rc = octet__gguf_get_str_arr(g, "tokenizer.octet.normalizer.arg0", &nk->arg0, &n0, err)) ||
            (rc = octet__gguf_get_str_arr(g, "tokenizer.octet.normalizer.arg1", &nk->arg1, &n1, err)))
            return rc == OCTET_ENOTFOUND ? octet__err(err, OCTET_EFORMAT, "tokenizer.octet.normalizer: arg0/arg1 "
                                                      "missing") : rc;
        if (n0 != n || n1 != n || n > 64)
            return octet__err(err, OCTET_EFORMAT, "tokenizer.octet.normalizer: %llu types, %llu arg0, %llu arg1 "
                              "(equal counts, at most 64)", (unsigned long long)n, (unsigned long long)n0,
                              (unsigned long long)n1);
        nk->steps = octet__calloc((size_t)n, sizeof *nk->steps);
        if (!nk->steps) return octet__err(err, OCTET_ENOMEM, "tokenizer: out of memory");
        for (uint64_t i = 0; i < n; i++) {
            octet__norm_step *st = &nk->steps[i];
            st->op = octet__norm_op_from_name(nk->type[i].ptr, (size_t)nk->type[i].len);
            if (!st->op)
                return octet__err(err, OCTET_EUNSUPPORTED, "tokenizer.octet.normalizer.type[%llu]: '%.*s' is not "
                                  "supported", (unsigned long long)i, (int)(nk->type[i].len > 40 ? 40 : nk->type[i].len),
                                  nk->type[i].ptr);
            st->a = nk->arg0[i].ptr, st->na = (size_t)nk->arg0[i].len;
            st->b = nk->arg1[i].ptr, st->nb = (size_t)nk->arg1[i].len;
            if (st->op == OCTET__NORM_STRIP) {
                st->strip_left = st->na == 1 && st->a[0] == '1';
                st->strip_right = st->nb == 1 && st->b[0] == '1';
            }
        }
        d->n_norm = (int)n;
        d->norm = nk->steps;
    }
    int b;
    d->add_prefix_space = -1;
    rc = octet__gguf_get_bool(g, "tokenizer.octet.add_prefix_space", &b, err);
    if (rc == 0) d->add_prefix_space = b;
    else if (rc != OCTET_ENOTFOUND) return rc;
    d->ignore_merges = 0;
    rc = octet__gguf_get_bool(g, "tokenizer.octet.ignore_merges", &b, err);
    if (rc == 0) d->ignore_merges = b ? 2 : 1;
    else if (rc != OCTET_ENOTFOUND) return rc;
    rc = octet__gguf_get_i32_arr(g, "tokenizer.octet.eog_token_ids", &nk->eog, &ne, err);
    if (rc && rc != OCTET_ENOTFOUND) return rc;
    if (rc == 0) {
        if (ne > 1024) return octet__err(err, OCTET_EFORMAT, "tokenizer.octet.eog_token_ids: %llu ids",
                                         (unsigned long long)ne);
        d->n_eog = (int)ne;
        d->eog_ids = nk->eog;
    }
    return 0;
}

static int load_tokenizer(octet_model *m, octet_error *err) {
    const octet__gguf *g = m->gguf;
    octet__str model;
    int rc = octet__gguf_get_str(g, "tokenizer.ggml.model", &model, err);
    if (rc == OCTET_ENOTFOUND) return octet__err(err, OCTET_EFORMAT, "missing required key tokenizer.ggml.model");
    if (rc) return rc;
    octet__tokenizer_desc d;
    memset(&d, 0, sizeof d);
    if (model.len == 5 && memcmp(model.ptr, "llama", 5) == 0) d.kind = OCTET_TOKENIZER_SPM;
    else if (model.len == 4 && memcmp(model.ptr, "gpt2", 4) == 0) d.kind = OCTET_TOKENIZER_BPE;
    else
        return octet__err(err, OCTET_EUNSUPPORTED, "tokenizer.ggml.model: '%.*s' is not supported (llama, gpt2)",
                          (int)(model.len > 32 ? 32 : model.len), model.ptr);
    snprintf(m->tok_model, sizeof m->tok_model, "%.*s", (int)model.len, model.ptr);

    octet__str *tokens = NULL, *merges = NULL;
    uint64_t n_tokens = 0, n_merges = 0, n_scores = 0, n_types = 0;
    float *scores = NULL;
    int32_t *types = NULL;
    const char **tok_ptrs = NULL, **merge_ptrs = NULL;
    size_t *tok_lens = NULL, *merge_lens = NULL;
    char pre[64] = "default";
    norm_keys nk;
    memset(&nk, 0, sizeof nk);

    rc = octet__gguf_get_str_arr(g, "tokenizer.ggml.tokens", &tokens, &n_tokens, err);
    if (rc == OCTET_ENOTFOUND) rc = octet__err(err, OCTET_EFORMAT, "missing required key tokenizer.ggml.tokens");
    if (rc) goto done;
    /* More tokens than embedding rows happens in real vocabularies (Gemma 3 1B: 262144 rows, <image_soft_token> at
     * id 262144 for the multimodal siblings): the tokenizer keeps every id, decoding refuses ids past the rows. */
    if (n_tokens == 0 || n_tokens > (uint64_t)INT32_MAX - 1) {
        rc = octet__err(err, OCTET_EFORMAT, "tokenizer.ggml.tokens: %llu tokens", (unsigned long long)n_tokens);
        goto done;
    }
    if (n_tokens > (uint64_t)m->hp.n_vocab)
        octet__log(OCTET_LOG_INFO, "tokenizer.ggml.tokens: %llu tokens, token_embd.weight has %d rows: ids from %d on "
                   "can be tokenized but not decoded", (unsigned long long)n_tokens, m->hp.n_vocab, m->hp.n_vocab);
    rc = octet__gguf_get_f32_arr(g, "tokenizer.ggml.scores", &scores, &n_scores, err);
    if (rc && rc != OCTET_ENOTFOUND) goto done;
    if (rc == 0 && n_scores != n_tokens) {
        rc = octet__err(err, OCTET_EFORMAT, "tokenizer.ggml.scores: %llu entries for %llu tokens",
                        (unsigned long long)n_scores, (unsigned long long)n_tokens);
        goto done;
    }
    rc = octet__gguf_get_i32_arr(g, "tokenizer.ggml.token_type", &types, &n_types, err);
    if (rc && rc != OCTET_ENOTFOUND) goto done;
    if (rc == 0 && n_types != n_tokens) {
        rc = octet__err(err, OCTET_EFORMAT, "tokenizer.ggml.token_type: %llu entries for %llu tokens",
                        (unsigned long long)n_types, (unsigned long long)n_tokens);
        goto done;
    }
    if (d.kind == OCTET_TOKENIZER_BPE) {
        rc = octet__gguf_get_str_arr(g, "tokenizer.ggml.merges", &merges, &n_merges, err);
        if (rc == OCTET_ENOTFOUND) rc = octet__err(err, OCTET_EFORMAT, "missing required key tokenizer.ggml.merges");
        if (rc) goto done;
    }
    octet__str pre_s;
    rc = octet__gguf_get_str(g, "tokenizer.ggml.pre", &pre_s, err);
    if (rc && rc != OCTET_ENOTFOUND) goto done;
    if (rc == 0) snprintf(pre, sizeof pre, "%.*s", (int)(pre_s.len > 60 ? 60 : pre_s.len), pre_s.ptr);
    snprintf(m->tok_pre, sizeof m->tok_pre, "%.31s", pre);

    tok_ptrs = octet__malloc((size_t)n_tokens * sizeof *tok_ptrs);
    tok_lens = octet__malloc((size_t)n_tokens * sizeof *tok_lens);
    if (n_merges) {
        merge_ptrs = octet__malloc((size_t)n_merges * sizeof *merge_ptrs);
        merge_lens = octet__malloc((size_t)n_merges * sizeof *merge_lens);
    }
    if (!tok_ptrs || !tok_lens || (n_merges && (!merge_ptrs || !merge_lens))) {
        rc = octet__err(err, OCTET_ENOMEM, "tokenizer: out of memory");
        goto done;
    }
    for (uint64_t i = 0; i < n_tokens; i++) tok_ptrs[i] = tokens[i].ptr, tok_lens[i] = (size_t)tokens[i].len;
    for (uint64_t i = 0; i < n_merges; i++) merge_ptrs[i] = merges[i].ptr, merge_lens[i] = (size_t)merges[i].len;

    d.n_vocab = (int64_t)n_tokens;
    d.tokens = tok_ptrs;
    d.token_lens = tok_lens;
    d.scores = scores;
    d.token_types = types;
    d.n_merges = (int64_t)n_merges;
    d.merges = merge_ptrs;
    d.merge_lens = merge_lens;
    d.pre = pre;
    int nv = (int)n_tokens;
    if ((rc = get_id(g, "tokenizer.ggml.bos_token_id", &d.bos_id, nv, err))) goto done;
    if ((rc = get_id(g, "tokenizer.ggml.eos_token_id", &d.eos_id, nv, err))) goto done;
    if ((rc = get_id(g, "tokenizer.ggml.unknown_token_id", &d.unk_id, nv, err))) goto done;
    if ((rc = get_id(g, "tokenizer.ggml.padding_token_id", &d.pad_id, nv, err))) goto done;
    if ((rc = get_id(g, "tokenizer.ggml.eot_token_id", &d.eot_id, nv, err))) goto done;
    int b;
    d.add_bos = -1; /* absent: the tokenizer applies llama.cpp's per-type default */
    rc = octet__gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, err);
    if (rc == 0) d.add_bos = b;
    else if (rc != OCTET_ENOTFOUND) goto done;
    d.add_eos = -1;
    rc = octet__gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b, err);
    if (rc == 0) d.add_eos = b;
    else if (rc != OCTET_ENOTFOUND) goto done;
    d.add_space_prefix = -1;
    rc = octet__gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &b, err);
    if (rc == 0) d.add_space_prefix = b;
    else if (rc != OCTET_ENOTFOUND) goto done;
    if ((rc = read_octet_tok_keys(g, &d, &nk, err))) goto done;
    rc = octet__tokenizer_new(&m->tok, &d, err);
    if (rc == 0) {
        m->bos_id = octet__tokenizer_bos_id(m->tok);
        m->eos_id = octet__tokenizer_eos_id(m->tok);
        m->add_bos = octet__tokenizer_add_bos(m->tok);
    }
done:
    octet__free(tokens);
    octet__free(merges);
    octet__free(scores);
    octet__free(types);
    octet__free(tok_ptrs);
    octet__free(tok_lens);
    octet__free(merge_ptrs);
    octet__free(merge_lens);
    octet__free(nk.type);
    octet__free(nk.arg0);
    octet__free(nk.arg1);
    octet__free(nk.steps);
    octet__free(nk.eog);
    return rc;
}

/* ---- public -------------------------------------------------------------------------------------------- */

int octet_model_open(octet_model **out, const char *path, const octet_model_params *params, octet_error *err) {
    if (!out || !path) return octet__err(err, OCTET_EINVAL, "octet_model_open: NULL argument");
    *out = NULL;
    octet_model_params p = params ? *params : octet_model_default_params();
    octet_model *m = octet__calloc(1, sizeof *m);
    if (!m) return octet__err(err, OCTET_ENOMEM, "%s: out of memory", path);
    int rc = octet__gguf_open(&m->gguf, path, p.use_mmap, err);
    if (rc == 0 && p.use_mlock) rc = octet__gguf_mlock(m->gguf, err);
    if (rc == 0) rc = read_hparams(m, err);
    if (rc == 0) rc = bind_tensors(m, err);
    if (rc == 0) rc = rope_init(m, err);
    if (rc == 0) rc = load_tokenizer(m, err);
    if (rc == 0) {
        octet__str name;
        if (octet__gguf_get_str(m->gguf, "general.name", &name, NULL) == 0)
            snprintf(m->name, sizeof m->name, "%.*s", (int)(name.len > 120 ? 120 : name.len), name.ptr);
    }
    if (rc) {
        /* make sure the message names the file */
        if (err && strncmp(err->msg, path, strlen(path)) != 0) octet__err_prefix(err, "%s", path);
        octet_model_close(m);
        return rc;
    }
    *out = m;
    return 0;
}

void octet_model_close(octet_model *m) {
    if (!m) return;
    octet__int_model_release(m);
    octet__repack_release(m);
    octet__tokenizer_free(m->tok);
    octet__free(m->rope_phi);
    octet__free(m->layers);
    octet__free(m->f32_store);
    octet__gguf_close(m->gguf);
    octet__free(m);
}

void octet_model_get_info(const octet_model *m, octet_model_info *o) {
    memset(o, 0, sizeof *o);
    const octet__hparams *hp = &m->hp;
    snprintf(o->arch, sizeof o->arch, "%s", hp->arch);
    snprintf(o->name, sizeof o->name, "%s", m->name);
    o->n_vocab = hp->n_vocab;
    o->n_ctx_train = hp->n_ctx_train;
    o->n_embd = hp->n_embd;
    o->n_layer = hp->n_layer;
    o->n_head = hp->n_head;
    o->n_head_kv = hp->n_head_kv;
    o->head_dim = hp->head_dim;
    o->n_ff = hp->n_ff;
    o->rope_freq_base = hp->rope_base;
    o->rope_scale = hp->rope_scale;
    o->norm_eps = hp->norm_eps;
    o->tied_output = m->tied_output;
    o->qkv_bias = m->layers[0].bq != NULL;
    o->n_params = m->n_params;
    o->weight_bytes = m->weight_bytes;
    const octet__type_traits *t = octet__type(m->file_type);
    o->file_type = t && t->name ? t->name : "?";
    snprintf(o->tokenizer, sizeof o->tokenizer, "%s", m->tok_model);
    snprintf(o->tokenizer_pre, sizeof o->tokenizer_pre, "%s", m->tok_pre);
    o->bos_id = m->bos_id;
    o->eos_id = m->eos_id;
    o->add_bos = m->add_bos;
}

int octet_tokenize(const octet_model *m, const char *text, size_t len, int add_bos, int parse_special,
                   int32_t *out, int n_max, int *n_out, octet_error *err) {
    return octet__tokenize(m->tok, text, len, add_bos, parse_special, out, n_max, n_out, err);
}

int octet_token_to_piece(const octet_model *m, int32_t id, int special, char *buf, size_t buf_size) {
    return octet__token_to_piece(m->tok, id, special, buf, buf_size);
}

int octet_token_is_eog(const octet_model *m, int32_t id) { return octet__token_is_eog(m->tok, id); }

int octet_n_vocab(const octet_model *m) { return m->hp.n_vocab; }
