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

/* RoPE scaling keys as llama.cpp reads them for these architectures (src/llama-model.cpp, llama-context.cpp):
 *   {arch}.rope.scaling.type: "none", "linear" (the default when absent) or "yarn"; anything else is refused;
 *   {arch}.rope.scaling.factor (or the older {arch}.rope.scale_linear): the context extension factor f, the
 *     frequencies multiplied by 1/f ("none" ignores it);
 *   {arch}.rope.scaling.original_context_length: YaRN's original context (default context_length);
 *   {arch}.rope.scaling.attn_factor: a multiplier of cos and sin (default 1).
 * YaRN (Peng et al. 2023, "YaRN: Efficient Context Window Extension of Large Language Models") blends the
 * interpolated and the original frequency per pair and scales cos/sin by 1 + 0.1 ln f (f > 1); rope_init forms
 * the frequencies, hp->rope_mscale carries the magnitude. */
static int read_rope_scaling(const octet__gguf *g, octet__hparams *hp, octet_error *err) {
    const char *a = hp->arch;
    char key[128];
    int rc;
    hp->rope_scale = 1.0f;
    hp->rope_mscale = 1.0f;
    hp->rope_scaling = OCTET_ROPE_SCALING_LINEAR;
    snprintf(key, sizeof key, "%s.rope.scaling.type", a);
    octet__str st;
    rc = octet__gguf_get_str(g, key, &st, err);
    if (rc && rc != OCTET_ENOTFOUND) return rc;
    if (rc == 0) {
        if (st.len == 6 && memcmp(st.ptr, "linear", 6) == 0) hp->rope_scaling = OCTET_ROPE_SCALING_LINEAR;
        else if (st.len == 4 && memcmp(st.ptr, "none", 4) == 0) hp->rope_scaling = OCTET_ROPE_SCALING_NONE;
        else if (st.len == 4 && memcmp(st.ptr, "yarn", 4) == 0) hp->rope_scaling = OCTET_ROPE_SCALING_YARN;
        else
            return octet__err(err, OCTET_EUNSUPPORTED, "%s: scaling type '%.*s' is not supported (none, linear, yarn)",
                              key, (int)(st.len > 32 ? 32 : st.len), st.ptr);
    }
    float factor = 0.0f;
    if ((rc = get_f32_key(g, a, "rope.scaling.factor", &factor, 0.0f, err))) return rc;
    if (factor == 0.0f && (rc = get_f32_key(g, a, "rope.scale_linear", &factor, 0.0f, err))) return rc;
    if (factor != 0.0f && !(factor >= 1e-3f && factor <= 1e6f))
        return octet__err(err, OCTET_EFORMAT, "%s.rope.scaling.factor: %g is outside [1e-3, 1e6]", a, (double)factor);
    if (factor != 0.0f && hp->rope_scaling != OCTET_ROPE_SCALING_NONE) hp->rope_scale = factor;
    uint32_t orig;
    if ((rc = get_u32_key(g, a, "rope.scaling.original_context_length", &orig, 0, (uint32_t)hp->n_ctx_train, err)))
        return rc;
    if (orig < 1 || orig > OCTET_MAX_CTX_TRAIN)
        return octet__err(err, OCTET_EFORMAT, "%s.rope.scaling.original_context_length: %u is outside 1..%d", a, orig,
                          OCTET_MAX_CTX_TRAIN);
    hp->yarn_orig_ctx = (int)orig;
    float attn_factor = 1.0f;
    if ((rc = get_f32_key(g, a, "rope.scaling.attn_factor", &attn_factor, 1.0f, err))) return rc;
    if (!(attn_factor > 0.0f && attn_factor <= 1e3f))
        return octet__err(err, OCTET_EFORMAT, "%s.rope.scaling.attn_factor: %g is outside (0, 1e3]", a,
                          (double)attn_factor);
    double ms = attn_factor;
    if (hp->rope_scaling == OCTET_ROPE_SCALING_YARN && hp->rope_scale > 1.0f) ms *= 1.0 + 0.1 * log((double)hp->rope_scale);
    hp->rope_mscale = (float)ms;
    return 0;
}

/* gemma2 / gemma3, as llama.cpp reads them (src/models/gemma2.cpp, gemma3.cpp): embeddings times sqrt(n_embd)
 * (in float), post-attention and post-FFN norms, GELU-tanh gating, the query scale 1 / sqrt(head_dim) except for
 * the 27B models (46 / 62 layers: 1 / sqrt(n_embd / n_head), Gemma's query_pre_attn_scalar); gemma2: attention
 * soft-capping {arch}.attn_logit_softcapping (default 50), final {arch}.final_logit_softcapping (default 30),
 * sliding window {arch}.attention.sliding_window (default 4096) on the layers il % period < period - 1
 * ({arch}.attention.sliding_window_pattern, default 2), RoPE base of those {arch}.rope.freq_base_swa (default the
 * global one, same scaling); gemma3: no attention soft-capping, final soft-capping only when the key is there,
 * sliding window only when the key is there (pattern default 6), their RoPE base {arch}.rope.freq_base_swa
 * (default 10000) without scaling. YaRN is refused for these (llama.cpp does not apply it to the local layers). */
static int read_gemma_hparams(const octet__gguf *g, octet__hparams *hp, octet_error *err) {
    const char *a = hp->arch;
    const int g2 = strcmp(a, "gemma2") == 0;
    int rc;
    char key[128];
    hp->embd_scale = sqrtf((float)hp->n_embd);
    hp->ffn_gelu = 1;
    if (hp->rope_scaling == OCTET_ROPE_SCALING_YARN)
        return octet__err(err, OCTET_EUNSUPPORTED, "%s.rope.scaling.type: yarn is not supported for %s", a, a);
    if (hp->n_layer == (g2 ? 46 : 62)) hp->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
    else hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    if (g2 && (rc = get_f32_key(g, a, "attn_logit_softcapping", &hp->attn_softcap, 50.0f, err))) return rc;
    if ((rc = get_f32_key(g, a, "final_logit_softcapping", &hp->final_softcap, g2 ? 30.0f : 0.0f, err))) return rc;
    if (!(hp->attn_softcap >= 0.0f && hp->attn_softcap < 1e6f) || !(hp->final_softcap >= 0.0f && hp->final_softcap < 1e6f))
        return octet__err(err, OCTET_EFORMAT, "%s: soft-capping values %g / %g out of range", a,
                          (double)hp->attn_softcap, (double)hp->final_softcap);
    uint32_t n_swa, period;
    snprintf(key, sizeof key, "%s.attention.sliding_window", a);
    rc = octet__gguf_get_u32(g, key, &n_swa, err);
    if (rc && rc != OCTET_ENOTFOUND) return rc;
    const int have_swa = rc == 0;
    if (!have_swa) n_swa = g2 ? 4096 : 0;
    if ((rc = get_u32_key(g, a, "attention.sliding_window_pattern", &period, 0, g2 ? 2 : 6, err))) return rc;
    if (n_swa > 0 && (g2 || have_swa)) {
        if (period < 1 || period > OCTET_MAX_LAYERS)
            return octet__err(err, OCTET_EFORMAT, "%s.attention.sliding_window_pattern: %u is out of range", a, period);
        hp->n_swa = (int)n_swa;
        hp->swa_period = (int)period;
        float base = g2 ? hp->rope_base : 10000.0f;
        if ((rc = get_f32_key(g, a, "rope.freq_base_swa", &hp->rope_base_swa, base, err))) return rc;
        if (!(hp->rope_base_swa > 1.0f && hp->rope_base_swa < 1e12f))
            return octet__err(err, OCTET_EFORMAT, "%s.rope.freq_base_swa: %g is outside (1, 1e12)", a,
                              (double)hp->rope_base_swa);
        hp->rope_scale_swa = g2 ? hp->rope_scale : 1.0f;
    }
    return 0;
}

/* Per-architecture keys: mixture of experts ({arch}.expert_count, expert_used_count, expert_feed_forward_length,
 * as llama.cpp names them) and the qwen3 q/k norms. */
static int read_arch_hparams(const octet__gguf *g, octet__hparams *hp, octet_error *err) {
    const char *a = hp->arch;
    uint32_t ne, nu, ffe;
    int rc;
    if ((rc = get_u32_key(g, a, "expert_count", &ne, 0, 0, err))) return rc;
    if ((rc = get_u32_key(g, a, "expert_used_count", &nu, 0, 0, err))) return rc;
    if ((rc = get_u32_key(g, a, "expert_feed_forward_length", &ffe, 0, 0, err))) return rc;
    int moe_arch = strcmp(a, "qwen3moe") == 0, moe_ok = moe_arch || strcmp(a, "llama") == 0;
    if (ne > 0 && !moe_ok)
        return octet__err(err, OCTET_EUNSUPPORTED, "%s.expert_count: %u experts, but octet's %s model has none", a, ne,
                          a);
    if (moe_arch && ne == 0) return octet__err(err, OCTET_EFORMAT, "%s.expert_count: missing or 0", a);
    uint32_t groups;
    if ((rc = get_u32_key(g, a, "expert_group_count", &groups, 0, 0, err))) return rc;
    if (groups > 1) /* DeepSeek-V3-style group-limited routing: not this routing rule */
        return octet__err(err, OCTET_EUNSUPPORTED, "%s.expert_group_count: %u expert groups are not supported", a,
                          groups);
    if (ne > 0) {
        if (ne > 4096 || nu < 1 || nu > ne)
            return octet__err(err, OCTET_EFORMAT, "%s: expert_count %u / expert_used_count %u are out of range", a, ne,
                              nu);
        if (ffe == 0) ffe = moe_arch ? (uint32_t)hp->n_ff / nu : (uint32_t)hp->n_ff; /* llama.cpp's defaults */
        if (ffe < 1 || ffe > OCTET_MAX_FF)
            return octet__err(err, OCTET_EFORMAT, "%s.expert_feed_forward_length: %u is outside 1..%d", a, ffe,
                              OCTET_MAX_FF);
        if (!moe_arch && ffe != (uint32_t)hp->n_ff)
            return octet__err(err, OCTET_EUNSUPPORTED, "%s.expert_feed_forward_length %u differs from "
                              "feed_forward_length %d (llama.cpp's llama model sizes experts by the latter)", a, ffe,
                              hp->n_ff);
        hp->n_expert = (int)ne;
        hp->n_expert_used = (int)nu;
        hp->n_ff_exp = (int)ffe;
    }
    hp->qk_norm = strncmp(a, "qwen3", 5) == 0 || strcmp(a, "gemma3") == 0;
    hp->fused_gate_up = strcmp(a, "phi3") == 0;
    hp->embd_scale = 1.0f;
    hp->attn_scale = (float)(1.0 / sqrt((double)hp->head_dim));
    hp->rope_base_swa = hp->rope_base;
    hp->rope_scale_swa = hp->rope_scale;
    if (strncmp(a, "gemma", 5) == 0) return read_gemma_hparams(g, hp, err);
    return 0;
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
    static const char *const archs[] = {"llama", "mistral", "qwen2", "qwen3", "qwen3moe", "phi3", "gemma2", "gemma3"};
    int known = 0;
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) known |= strcmp(hp->arch, archs[i]) == 0;
    if (!known)
        return octet__err(err, OCTET_EUNSUPPORTED,
                          "general.architecture: '%s' is not supported (supported: llama, mistral, qwen2, qwen3, "
                          "qwen3moe, phi3, gemma2, gemma3)",
                          hp->arch);
    /* llama.cpp's rope types: NORM (adjacent pairs) for llama / mistral, NEOX (halves) for the qwen family, whose
     * converter keeps Hugging Face's layout */
    hp->rope_type = strncmp(hp->arch, "qwen", 4) == 0 || strcmp(hp->arch, "phi3") == 0 || strncmp(hp->arch, "gemma", 5) == 0
                        ? OCTET_ROPE_NEOX
                        : OCTET_ROPE_NORM;

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
    if ((rc = read_rope_scaling(g, hp, err))) return rc;
    return read_arch_hparams(g, hp, err);
}

/* ---- tensors ------------------------------------------------------------------------------------------- */

/* Find a tensor and check its shape (ne1 == 0 for a vector; ne2 > 1 for a stack of ne2 matrices, the experts of
 * a mixture). Absent and optional: *out zeroed, 0 returned. */
static int bind3(const octet_model *m, const char *name, int64_t ne0, int64_t ne1, int64_t ne2, int optional,
                 octet__tensor *out, octet_error *err) {
    memset(out, 0, sizeof *out);
    const octet__gguf_tensor *t = octet__gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (optional) return 0;
        return octet__err(err, OCTET_EFORMAT, "tensor %s: missing", name);
    }
    if (m->bound) m->bound[t - octet__gguf_tensor_at(m->gguf, 0)] = 1;
    int64_t got1 = t->n_dims >= 2 ? t->ne[1] : 1, got2 = t->n_dims >= 3 ? t->ne[2] : 1;
    int extra = t->n_dims >= 4 && t->ne[3] != 1;
    if (t->ne[0] != ne0 || got1 != (ne1 ? ne1 : 1) || got2 != ne2 || extra) {
        if (ne2 > 1)
            return octet__err(err, OCTET_EFORMAT,
                              "tensor %s: shape [%lld, %lld, %lld] but the hyperparameters need [%lld, %lld, %lld]",
                              name, (long long)t->ne[0], (long long)got1, (long long)got2, (long long)ne0,
                              (long long)ne1, (long long)ne2);
        return octet__err(err, OCTET_EFORMAT, "tensor %s: shape [%lld, %lld] but the hyperparameters need [%lld, %lld]",
                          name, (long long)t->ne[0], (long long)got1, (long long)ne0, (long long)(ne1 ? ne1 : 1));
    }
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

static int bind(const octet_model *m, const char *name, int64_t ne0, int64_t ne1, int optional, octet__tensor *out,
                octet_error *err) {
    return bind3(m, name, ne0, ne1, 1, optional, out, err);
}

/* Rows [r0, r0 + n) of a bound matrix, as a matrix of its own (fused q/k/v, fused gate/up). */
static octet__tensor row_view(const octet__tensor *t, int64_t r0, int64_t n) {
    octet__tensor v = *t;
    v.data = (const uint8_t *)t->data + (size_t)r0 * t->row_bytes;
    v.ne[1] = n;
    return v;
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
    /* gemma2 always ties the output to the embeddings (llama.cpp's loader never reads an output.weight for it: one in
     * the file is left unused, and refused below as llama.cpp refuses it) */
    if (strcmp(hp->arch, "gemma2") != 0 && (rc = bind(m, "output.weight", E, V, 1, &m->output, err))) return rc;
    m->tied_output = m->output.data == NULL;
    if (m->tied_output) m->output = m->tok_embd;

    /* f32 store: output_norm, rope_freqs + per layer (2 norms + 3 biases + the q/k norms) */
    const int64_t HD = hp->head_dim, R2 = hp->n_rot / 2;
    size_t per_layer = (size_t)(4 * E + Q + 2 * KV + 2 * HD), total;
    if (!octet__mul_size(per_layer, (size_t)hp->n_layer, &total) || !octet__add_size(total, (size_t)(E + 3 * R2), &total))
        return octet__err(err, OCTET_EFORMAT, "model: size overflow");
    m->f32_store = octet__malloc(total * sizeof(float));
    m->layers = octet__calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->f32_store || !m->layers) return octet__err(err, OCTET_ENOMEM, "model: out of memory for %zu floats", total);
    float *f = m->f32_store;
    if ((rc = bind_vec(m, "output_norm.weight", E, 0, f, &m->output_norm, err))) return rc;
    f += E;
    /* Llama 3.x: one frequency divisor per rotated pair (llama.cpp's LLM_TENSOR_ROPE_FREQS, llama architecture) */
    if (strcmp(hp->arch, "llama") == 0 || strcmp(hp->arch, "mistral") == 0) {
        if ((rc = bind_vec(m, "rope_freqs.weight", R2, 1, f, &m->rope_freqs, err))) return rc;
        for (int64_t i = 0; m->rope_freqs && i < R2; i++)
            if (!(m->rope_freqs[i] > 0.0f))
                return octet__err(err, OCTET_EFORMAT, "tensor rope_freqs.weight: element %lld is %g, not positive",
                                  (long long)i, (double)m->rope_freqs[i]);
    }
    f += R2;
    if (strcmp(hp->arch, "phi3") == 0) {
        /* LongRoPE (Phi-3.5, Phi-4-mini): per-pair frequency divisors for contexts up to the original length (short)
         * and beyond (long); llama.cpp picks them by the context size (llama_model::get_rope_factors) */
        if ((rc = bind_vec(m, "rope_factors_long.weight", R2, 1, f, &m->rope_long, err))) return rc;
        if ((rc = bind_vec(m, "rope_factors_short.weight", R2, 1, f + R2, &m->rope_short, err))) return rc;
        if (!m->rope_long != !m->rope_short)
            return octet__err(err, OCTET_EFORMAT, "tensor %s: present without %s", m->rope_long ?
                              "rope_factors_long.weight" : "rope_factors_short.weight", m->rope_long ?
                              "rope_factors_short.weight" : "rope_factors_long.weight");
        for (int64_t i = 0; m->rope_long && i < R2; i++)
            if (!(m->rope_long[i] > 0.0f) || !(m->rope_short[i] > 0.0f))
                return octet__err(err, OCTET_EFORMAT, "rope_factors_long / _short: element %lld is not positive",
                                  (long long)i);
    }
    f += 2 * R2;
    char name[96];
    for (int l = 0; l < hp->n_layer; l++) {
        octet__layer *L = &m->layers[l];
#define NAME(s) (snprintf(name, sizeof name, "blk.%d.%s", l, s), name)
        if ((rc = bind_vec(m, NAME("attn_norm.weight"), E, 0, f, &L->attn_norm, err))) return rc;
        f += E;
        if ((rc = bind_vec(m, NAME("ffn_norm.weight"), E, 0, f, &L->ffn_norm, err))) return rc;
        f += E;
        if (octet__gguf_find_tensor(m->gguf, NAME("attn_qkv.weight"))) {
            /* fused q, k, v (phi3, and any architecture in llama.cpp's create_tensor_qkv): rows of q, then k, then v */
            octet__tensor qkv;
            if ((rc = bind(m, name, E, Q + 2 * KV, 0, &qkv, err))) return rc;
            L->wq = row_view(&qkv, 0, Q);
            L->wk = row_view(&qkv, Q, KV);
            L->wv = row_view(&qkv, Q + KV, KV);
            const float *b;
            if ((rc = bind_vec(m, NAME("attn_qkv.bias"), Q + 2 * KV, 1, f, &b, err))) return rc;
            if (b) L->bq = f, L->bk = f + Q, L->bv = f + Q + KV;
            f += Q + 2 * KV;
        } else {
            if ((rc = bind_vec(m, NAME("attn_q.bias"), Q, 1, f, &L->bq, err))) return rc;
            f += Q;
            if ((rc = bind_vec(m, NAME("attn_k.bias"), KV, 1, f, &L->bk, err))) return rc;
            f += KV;
            if ((rc = bind_vec(m, NAME("attn_v.bias"), KV, 1, f, &L->bv, err))) return rc;
            f += KV;
            if ((rc = bind(m, NAME("attn_q.weight"), E, Q, 0, &L->wq, err))) return rc;
            if ((rc = bind(m, NAME("attn_k.weight"), E, KV, 0, &L->wk, err))) return rc;
            if ((rc = bind(m, NAME("attn_v.weight"), E, KV, 0, &L->wv, err))) return rc;
        }
        if ((rc = bind(m, NAME("attn_output.weight"), Q, E, 0, &L->wo, err))) return rc;
        if (hp->qk_norm) {
            if ((rc = bind_vec(m, NAME("attn_q_norm.weight"), HD, 0, f, &L->q_norm, err))) return rc;
            if ((rc = bind_vec(m, NAME("attn_k_norm.weight"), HD, 0, f + HD, &L->k_norm, err))) return rc;
        }
        f += 2 * HD;
        if (strncmp(hp->arch, "gemma", 5) == 0) {
            if ((rc = bind_vec(m, NAME("post_attention_norm.weight"), E, 0, f, &L->attn_post_norm, err))) return rc;
            if ((rc = bind_vec(m, NAME("post_ffw_norm.weight"), E, 0, f + E, &L->ffn_post_norm, err))) return rc;
        }
        f += 2 * E;
        L->swa = hp->n_swa > 0 && l % hp->swa_period < hp->swa_period - 1;
        if (hp->n_expert) {
            const int64_t X = hp->n_expert, FE = hp->n_ff_exp;
            if ((rc = bind(m, NAME("ffn_gate_inp.weight"), E, X, 0, &L->gate_inp, err))) return rc;
            if ((rc = bind3(m, NAME("ffn_gate_exps.weight"), E, FE, X, 0, &L->gate_exps, err))) return rc;
            if ((rc = bind3(m, NAME("ffn_up_exps.weight"), E, FE, X, 0, &L->up_exps, err))) return rc;
            if ((rc = bind3(m, NAME("ffn_down_exps.weight"), FE, E, X, 0, &L->down_exps, err))) return rc;
            continue;
        }
        if (hp->fused_gate_up) {
            /* phi3: ffn_up holds the gate's rows then the up projection's (llama.cpp's LLM_FFN_SWIGLU: silu of the
             * first half times the second) */
            octet__tensor gu;
            if ((rc = bind(m, NAME("ffn_up.weight"), E, 2 * F, 0, &gu, err))) return rc;
            L->w_gate = row_view(&gu, 0, F);
            L->w_up = row_view(&gu, F, F);
        } else {
            if ((rc = bind(m, NAME("ffn_gate.weight"), E, F, 0, &L->w_gate, err))) return rc;
            if ((rc = bind(m, NAME("ffn_up.weight"), E, F, 0, &L->w_up, err))) return rc;
        }
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

/* YaRN's correction range (Peng et al. 2023, section 3.2; ggml_rope_yarn_corr_dims in llama.cpp): the pair index at
 * which a frequency turns `rot` times over the original context, n_rot ln(n_ctx_orig / (2 pi rot)) / (2 ln base).
 * Computed in float as llama.cpp does, so the floor / ceil land on the same pairs. */
static float yarn_corr_dim(int n_rot, int n_ctx_orig, float rot, float base) {
    return (float)n_rot * logf((float)n_ctx_orig / (rot * 2.0f * 3.14159265358979323846f)) / (2.0f * logf(base));
}

/* The angle per position of rotated pair i, in radians, is base^(-2i/n_rot) / div_i with
 *   div_i = ff_i * scale                                   ff_i: rope_freqs.weight (Llama 3.x), else 1
 *   yarn:   ff_i / ((1 - r_i) / scale + r_i),  r_i = 1 - clamp((i - lo) / max(0.001, hi - lo), 0, 1)
 *           with lo = max(0, floor(corr(32))), hi = min(n_rot - 1, ceil(corr(1))) (beta_fast 32, beta_slow 1:
 *           llama.cpp's defaults for these architectures): pairs below lo keep their frequency, pairs above hi are
 *           interpolated, a linear ramp between.
 * This is llama.cpp's ggml rope (rope_yarn with ext_factor 1 for yarn, 0 otherwise; the factors divide theta before
 * it), evaluated here once per pair instead of per position in float. Returns div_i and the base (in *base). */
static double rope_div(const octet_model *m, int i, int swa, const float *factors, double *base) {
    const octet__hparams *hp = &m->hp;
    if (swa) { /* the sliding-window layers of gemma: their own base and linear scale, no factors (model.c) */
        *base = (double)hp->rope_base_swa;
        return (double)hp->rope_scale_swa;
    }
    *base = (double)hp->rope_base;
    const double ff = factors ? (double)factors[i] : 1.0, scale = (double)hp->rope_scale;
    if (hp->rope_scaling != OCTET_ROPE_SCALING_YARN) return ff * scale; /* exact: two floats' product */
    float lo = floorf(yarn_corr_dim(hp->n_rot, hp->yarn_orig_ctx, 32.0f, hp->rope_base));
    float hi = ceilf(yarn_corr_dim(hp->n_rot, hp->yarn_orig_ctx, 1.0f, hp->rope_base));
    if (lo < 0.0f) lo = 0.0f;
    if (hi > (float)(hp->n_rot - 1)) hi = (float)(hp->n_rot - 1);
    float y = ((float)i - lo) / (hi - lo > 0.001f ? hi - lo : 0.001f);
    float ramp = 1.0f - (y < 0.0f ? 0.0f : y > 1.0f ? 1.0f : y);
    return ff / ((1.0 - (double)ramp) / scale + (double)ramp);
}

/* phi_i = round(theta_i / (2 pi) * 2^64), theta_i = base^(-2i/n_rot) / div_i (rope_div): the angle advanced per
 * position, as a fraction of a turn in 64-bit fixed point. The phase at position p is p * phi_i mod 2^64 (exact,
 * wrapping); see docs/integer.md, "The bridge", design point 1. Computed in double-double arithmetic from IEEE
 * operations only (core/xmath.c), so every machine gets the same 64 bits. Both execution modes take their angles
 * from these, so frequency factors and scaling reach the integer mode's tables too. */
static void rope_phases(const octet_model *m, uint64_t *phi, int swa, const float *factors) {
    for (int i = 0; i < m->hp.n_rot / 2; i++) {
        double base;
        const double div = rope_div(m, i, swa, factors, &base);
        phi[i] = octet__xm_rope_phi(base, i, m->hp.n_rot, div);
    }
}

static int rope_init(octet_model *m, octet_error *err) {
    const octet__hparams *hp = &m->hp;
    int half = hp->n_rot / 2;
    m->rope_phi = octet__malloc((size_t)half * sizeof *m->rope_phi);
    if (!m->rope_phi) return octet__err(err, OCTET_ENOMEM, "rope: out of memory");
    rope_phases(m, m->rope_phi, 0, m->rope_freqs ? m->rope_freqs : m->rope_short);
    if (m->rope_long) {
        m->rope_phi_long = octet__malloc((size_t)half * sizeof *m->rope_phi_long);
        if (!m->rope_phi_long) return octet__err(err, OCTET_ENOMEM, "rope: out of memory");
        rope_phases(m, m->rope_phi_long, 0, m->rope_long);
    }
    if (hp->n_swa && (hp->rope_base_swa != hp->rope_base || hp->rope_scale_swa != hp->rope_scale || m->rope_freqs ||
                      hp->rope_scaling == OCTET_ROPE_SCALING_YARN)) {
        m->rope_phi_swa = octet__malloc((size_t)half * sizeof *m->rope_phi_swa);
        if (!m->rope_phi_swa) return octet__err(err, OCTET_ENOMEM, "rope: out of memory");
        rope_phases(m, m->rope_phi_swa, 1, NULL);
    }
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
    octet__free(m->rope_phi_swa);
    octet__free(m->rope_phi_long);
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
