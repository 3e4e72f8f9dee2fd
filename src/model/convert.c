/*
 * convert.c - a Hugging Face Llama-family checkpoint (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)
 * to a float GGUF file, natively: config.json -> hyperparameter keys, safetensors shards -> tensors (renamed,
 * q/k rows permuted for llama/mistral, converted to the output type), the tokenizer -> tokenizer.ggml.* keys
 * (convert_tok.c). docs/convert.md has the full mapping.
 *
 * What it writes follows llama.cpp's convert_hf_to_gguf.py (facts of the format, not its code):
 *   - MistralForCausalLM is written as architecture "llama", as llama.cpp does;
 *   - q_proj / k_proj rows of llama/mistral are reordered from the HF half-split RoPE layout (the first half of
 *     each head's rows rotate with the second half) to adjacent pairs, the layout ggml's normal RoPE expects:
 *     per head of head_dim rows, new row 2*i + j = old row j*head_dim/2 + i (i < head_dim/2, j in {0,1});
 *     the same as llama.cpp's permute(): reshape(n_head, 2, head_dim/2, n_in).swapaxes(1, 2). k uses
 *     num_key_value_heads. qwen2 is kept in HF layout (llama.cpp evaluates qwen2 with NEOX RoPE);
 *   - 1-D tensors (norms, biases) are always F32; matrices take --outtype;
 *   - general.file_type 0 (F32), 1 (F16) or 32 (BF16); general.quantization_version 2.
 *
 * Every tensor of the checkpoint must be used (a stray tensor means an architecture variant octet would get
 * wrong), except rotary_emb.inv_freq buffers and lm_head.weight of a model with tied embeddings.
 *
 * Output: through the streaming GGUF writer, which writes a temporary file and renames it only when complete.
 * Memory: the shards are mapped; one row of the output is converted at a time.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "core/core.h"
#include "core/limits.h"
#include "format/gguf_write.h"
#include "format/json.h"
#include "format/safetensors.h"
#include "tensor/types.h"

typedef struct hparams {
    const char *hf_arch;  /* as in config.json */
    const char *arch;     /* GGUF: "llama" or "qwen2" */
    int permute_qk, biases;
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx, head_dim;
    double eps, rope_theta, rope_scale; /* rope_scale 0: none */
    int tied;
} hparams;

typedef struct plan_tensor {
    char name[OCTET_MAX_GGUF_TENSOR_NAME_BYTES + 1];
    const octet__st_tensor *src;
    const char *src_file;
    int n_dims;
    int64_t ne[2];     /* GGUF order: ne[0] = row length */
    int type;          /* output enum octet_type */
    int64_t perm_heads;/* > 0: permute rows with this many heads */
} plan_tensor;

typedef struct conv {
    const char *dir;
    char *config_path;
    json_t *config;
    json_t *index;           /* model.safetensors.index.json or NULL */
    char *index_path;
    octet__st **shards;
    char **shard_names;      /* file names as listed */
    int n_shards;
    hparams hp;
    plan_tensor *plan;
    int n_plan, cap_plan;
} conv;

char *octet__path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = octet__malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* ---- config.json ---------------------------------------------------------------------------------------- */

static int req_i64(const json_t *c, const char *key, int64_t lo, int64_t hi, int64_t *out, const char *name,
                   octet_error *err) {
    int rc = octet__json_get_i64(c, key, lo, hi, out, name, err);
    if (rc == OCTET_ENOTFOUND) return octet__err(err, OCTET_EFORMAT, "%s: %s: missing", name, key);
    return rc;
}

static int opt_i64(const json_t *c, const char *key, int64_t lo, int64_t hi, int64_t *out, int64_t def,
                   const char *name, octet_error *err) {
    int rc = octet__json_get_i64(c, key, lo, hi, out, name, err);
    if (rc == OCTET_ENOTFOUND) {
        *out = def;
        return 0;
    }
    return rc;
}

static int opt_f64(const json_t *c, const char *key, double lo, double hi, double *out, double def,
                   const char *name, octet_error *err) {
    int rc = octet__json_get_f64(c, key, out, name, err);
    if (rc == OCTET_ENOTFOUND) {
        *out = def;
        return 0;
    }
    if (rc) return rc;
    if (!(*out >= lo && *out <= hi))
        return octet__err(err, OCTET_EFORMAT, "%s: %s: %g is outside %g..%g", name, key, *out, lo, hi);
    return 0;
}

static int read_config(conv *c, octet_error *err) {
    c->config_path = octet__path_join(c->dir, "config.json");
    if (!c->config_path) return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
    const char *cn = c->config_path;
    int rc = octet__json_load_file(&c->config, cn, OCTET_CV_MAX_JSON_BYTES, err);
    if (rc) return rc == OCTET_ENOTFOUND ? octet__err(err, OCTET_EIO, "%s: not found", cn) : rc;
    const json_t *j = c->config;
    if (!json_is_object(j)) return octet__err(err, OCTET_EFORMAT, "%s: expected a JSON object", cn);
    hparams *h = &c->hp;
    json_t *archs = json_object_get(j, "architectures");
    if (!archs) return octet__err(err, OCTET_EFORMAT, "%s: architectures: missing", cn);
    if (!json_is_array(archs) || json_array_size(archs) < 1 || !json_is_string(json_array_get(archs, 0)))
        return octet__err(err, OCTET_EFORMAT, "%s: architectures: expected an array of strings", cn);
    h->hf_arch = json_string_value(json_array_get(archs, 0));
    if (strcmp(h->hf_arch, "LlamaForCausalLM") == 0 || strcmp(h->hf_arch, "MistralForCausalLM") == 0) {
        h->arch = "llama";
        h->permute_qk = 1;
    } else if (strcmp(h->hf_arch, "Qwen2ForCausalLM") == 0) {
        h->arch = "qwen2";
        h->biases = 1;
    } else {
        return octet__err(err, OCTET_EUNSUPPORTED,
                          "%s: architectures: '%.64s' is not supported (LlamaForCausalLM, MistralForCausalLM, "
                          "Qwen2ForCausalLM)", cn, h->hf_arch);
    }
    if ((rc = req_i64(j, "hidden_size", 1, OCTET_MAX_EMBD, &h->n_embd, cn, err)) ||
        (rc = req_i64(j, "num_hidden_layers", 1, OCTET_MAX_LAYERS, &h->n_layer, cn, err)) ||
        (rc = req_i64(j, "num_attention_heads", 1, OCTET_MAX_HEADS, &h->n_head, cn, err)) ||
        (rc = opt_i64(j, "num_key_value_heads", 1, OCTET_MAX_HEADS, &h->n_head_kv, h->n_head, cn, err)) ||
        (rc = req_i64(j, "intermediate_size", 1, OCTET_MAX_FF, &h->n_ff, cn, err)) ||
        (rc = req_i64(j, "vocab_size", 1, OCTET_MAX_VOCAB, &h->n_vocab, cn, err)) ||
        (rc = opt_i64(j, "max_position_embeddings", 1, OCTET_MAX_CTX_TRAIN, &h->n_ctx, 2048, cn, err)) ||
        (rc = opt_f64(j, "rms_norm_eps", 1e-12, 1.0, &h->eps, 1e-6, cn, err)) ||
        (rc = opt_f64(j, "rope_theta", 1.0, 1e12, &h->rope_theta, 10000.0, cn, err)))
        return rc;
    if (h->n_embd % h->n_head)
        return octet__err(err, OCTET_EFORMAT, "%s: hidden_size %" PRId64 " is not a multiple of num_attention_heads %"
                          PRId64, cn, h->n_embd, h->n_head);
    if (h->n_head % h->n_head_kv)
        return octet__err(err, OCTET_EFORMAT, "%s: num_attention_heads %" PRId64 " is not a multiple of "
                          "num_key_value_heads %" PRId64, cn, h->n_head, h->n_head_kv);
    h->head_dim = h->n_embd / h->n_head;
    int64_t hd;
    if ((rc = opt_i64(j, "head_dim", 1, OCTET_MAX_HEAD_DIM, &hd, h->head_dim, cn, err))) return rc;
    if (hd != h->head_dim)
        return octet__err(err, OCTET_EUNSUPPORTED, "%s: head_dim %" PRId64 " differs from hidden_size / "
                          "num_attention_heads = %" PRId64 " (not supported)", cn, hd, h->head_dim);
    if (h->head_dim % 2 || h->head_dim > OCTET_MAX_HEAD_DIM)
        return octet__err(err, OCTET_EFORMAT, "%s: head dimension %" PRId64 " must be even and at most %d", cn,
                          h->head_dim, OCTET_MAX_HEAD_DIM);
    h->tied = 0;
    rc = octet__json_get_bool(j, "tie_word_embeddings", &h->tied, cn, err);
    if (rc && rc != OCTET_ENOTFOUND) return rc;
    int bias = 0;
    rc = octet__json_get_bool(j, "attention_bias", &bias, cn, err);
    if (rc && rc != OCTET_ENOTFOUND) return rc;
    if (bias && !h->biases)
        return octet__err(err, OCTET_EUNSUPPORTED, "%s: attention_bias: true is not supported for %s", cn, h->hf_arch);
    const char *act = NULL;
    rc = octet__json_get_str(j, "hidden_act", &act, cn, err);
    if (rc && rc != OCTET_ENOTFOUND) return rc;
    if (act && strcmp(act, "silu") != 0)
        return octet__err(err, OCTET_EUNSUPPORTED, "%s: hidden_act: '%.32s' is not supported (silu)", cn, act);
    json_t *rs = json_object_get(j, "rope_scaling");
    if (rs && !json_is_null(rs)) {
        if (!json_is_object(rs)) return octet__err(err, OCTET_EFORMAT, "%s: rope_scaling: expected an object", cn);
        const char *ty = NULL;
        rc = octet__json_get_str(rs, "rope_type", &ty, "config.json rope_scaling", err);
        if (rc == OCTET_ENOTFOUND) rc = octet__json_get_str(rs, "type", &ty, "config.json rope_scaling", err);
        if (rc == OCTET_ENOTFOUND) return octet__err(err, OCTET_EFORMAT, "%s: rope_scaling: type: missing", cn);
        if (rc) return rc;
        if (strcmp(ty, "linear") != 0)
            return octet__err(err, OCTET_EUNSUPPORTED, "%s: rope_scaling: type '%.32s' is not supported (linear)",
                              cn, ty);
        rc = octet__json_get_f64(rs, "factor", &h->rope_scale, "config.json rope_scaling", err);
        if (rc == OCTET_ENOTFOUND) return octet__err(err, OCTET_EFORMAT, "%s: rope_scaling: factor: missing", cn);
        if (rc) return rc;
        if (!(h->rope_scale > 0 && h->rope_scale <= 1e6))
            return octet__err(err, OCTET_EFORMAT, "%s: rope_scaling: factor %g is outside (0, 1e6]", cn,
                              h->rope_scale);
    }
    return 0;
}

/* ---- shards ---------------------------------------------------------------------------------------------- */

static int valid_shard_name(const char *s) {
    if (!s[0] || strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) return 0;
    size_t n = strlen(s);
    return n > 12 && strcmp(s + n - 12, ".safetensors") == 0;
}

static int add_shard(conv *c, const char *fname, octet_error *err) {
    for (int i = 0; i < c->n_shards; i++)
        if (strcmp(c->shard_names[i], fname) == 0) return 0;
    if (c->n_shards >= 100000) return octet__err(err, OCTET_EFORMAT, "%s: too many shards", c->index_path);
    octet__st **s2 = octet__realloc_array(c->shards, (size_t)c->n_shards, (size_t)c->n_shards + 1, sizeof *s2);
    if (!s2) return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
    c->shards = s2;
    char **n2 = octet__realloc_array(c->shard_names, (size_t)c->n_shards, (size_t)c->n_shards + 1, sizeof *n2);
    if (!n2) return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
    c->shard_names = n2;
    c->shards[c->n_shards] = NULL;
    c->shard_names[c->n_shards] = octet__strndup(fname, strlen(fname));
    if (!c->shard_names[c->n_shards]) return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
    c->n_shards++;
    char *p = octet__path_join(c->dir, fname);
    if (!p) return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
    int rc = octet__st_open(&c->shards[c->n_shards - 1], p, 1, err);
    octet__free(p);
    return rc;
}

static int open_shards(conv *c, octet_error *err) {
    c->index_path = octet__path_join(c->dir, "model.safetensors.index.json");
    if (!c->index_path) return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
    int rc = octet__json_load_file(&c->index, c->index_path, OCTET_CV_MAX_JSON_BYTES, err);
    if (rc == OCTET_ENOTFOUND) {
        char *p = octet__path_join(c->dir, "model.safetensors");
        if (!p) return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
        FILE *f = fopen(p, "rb");
        octet__free(p);
        if (!f)
            return octet__err(err, OCTET_EIO, "%s: neither model.safetensors.index.json nor model.safetensors found",
                              c->dir);
        fclose(f);
        return add_shard(c, "model.safetensors", err);
    }
    if (rc) return rc;
    json_t *wm = json_object_get(c->index, "weight_map");
    if (!wm) return octet__err(err, OCTET_EFORMAT, "%s: weight_map: missing", c->index_path);
    if (!json_is_object(wm)) return octet__err(err, OCTET_EFORMAT, "%s: weight_map: expected an object", c->index_path);
    const char *k;
    json_t *v;
    json_object_foreach(wm, k, v) {
        if (!json_is_string(v) || !valid_shard_name(json_string_value(v)))
            return octet__err(err, OCTET_EFORMAT,
                              "%s: weight_map: '%.128s': expected a file name ending in .safetensors, in the folder",
                              c->index_path, k);
        if ((rc = add_shard(c, json_string_value(v), err))) return rc;
    }
    if (c->n_shards == 0) return octet__err(err, OCTET_EFORMAT, "%s: weight_map is empty", c->index_path);
    /* every tensor of every shard must be listed in the index for the shard it is in */
    for (int s = 0; s < c->n_shards; s++)
        for (int64_t i = 0; i < octet__st_n_tensors(c->shards[s]); i++) {
            const octet__st_tensor *t = octet__st_tensor_at(c->shards[s], i);
            json_t *e = json_object_get(wm, t->name);
            if (!e || strcmp(json_string_value(e), c->shard_names[s]) != 0)
                return octet__err(err, OCTET_EFORMAT, "%s: tensor '%.128s' of %s is not listed for that file",
                                  c->index_path, t->name, c->shard_names[s]);
        }
    return 0;
}

/* The tensor named hf in the checkpoint, or NULL (shard file name in *file). */
static const octet__st_tensor *find_src(const conv *c, const char *hf, const char **file) {
    int s = 0;
    if (c->index) {
        json_t *e = json_object_get(json_object_get(c->index, "weight_map"), hf);
        if (!e) return NULL;
        for (s = 0; s < c->n_shards; s++)
            if (strcmp(c->shard_names[s], json_string_value(e)) == 0) break;
        if (s == c->n_shards) return NULL;
    }
    *file = c->shard_names[s];
    return octet__st_find(c->shards[s], hf);
}

/* ---- the tensor plan ----------------------------------------------------------------------------------- */

static int plan_add(conv *c, const char *gname, const char *hf, int n_dims, int64_t rows, int64_t cols,
                    int outtype, int64_t perm_heads, int required, octet_error *err) {
    const char *file = NULL;
    const octet__st_tensor *t = find_src(c, hf, &file);
    if (!t) {
        if (!required) return 0;
        return octet__err(err, OCTET_EFORMAT, "%s: tensor '%s' is missing from the checkpoint",
                          c->index ? c->index_path : c->shard_names[0], hf);
    }
    /* HF shape: [rows, cols] for matrices, [rows] for vectors */
    if (t->n_dims != n_dims || t->shape[0] != rows || (n_dims == 2 && t->shape[1] != cols)) {
        char got[96] = "", want[64];
        size_t o = 0;
        for (int d = 0; d < t->n_dims && o < sizeof got - 24; d++)
            o += (size_t)snprintf(got + o, sizeof got - o, "%s%" PRId64, d ? ", " : "", t->shape[d]);
        if (n_dims == 2) snprintf(want, sizeof want, "%" PRId64 ", %" PRId64, rows, cols);
        else snprintf(want, sizeof want, "%" PRId64, rows);
        return octet__err(err, OCTET_EFORMAT, "%s: tensor '%s': shape [%s], config.json implies [%s]", file, hf, got,
                          want);
    }
    if (c->n_plan == c->cap_plan) {
        int nc = c->cap_plan ? c->cap_plan * 2 : 64;
        plan_tensor *p = octet__realloc_array(c->plan, (size_t)c->cap_plan, (size_t)nc, sizeof *p);
        if (!p) return octet__err(err, OCTET_ENOMEM, "convert: out of memory");
        c->plan = p;
        c->cap_plan = nc;
    }
    plan_tensor *p = &c->plan[c->n_plan++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", gname);
    p->src = t;
    p->src_file = file;
    p->n_dims = n_dims;
    p->ne[0] = n_dims == 2 ? cols : rows;
    p->ne[1] = n_dims == 2 ? rows : 1;
    p->type = n_dims == 1 ? OCTET_TYPE_F32 : outtype;
    p->perm_heads = perm_heads;
    return 0;
}

static int build_plan(conv *c, int outtype, octet_error *err) {
    const hparams *h = &c->hp;
    const int64_t E = h->n_embd, F = h->n_ff, V = h->n_vocab, qd = h->n_head * h->head_dim,
                  kd = h->n_head_kv * h->head_dim;
    int rc;
    if ((rc = plan_add(c, "token_embd.weight", "model.embed_tokens.weight", 2, V, E, outtype, 0, 1, err))) return rc;
    for (int64_t l = 0; l < h->n_layer; l++) {
        char g[80], s[96];
#define ADD(gsuf, hsuf, nd, r, co, perm, req)                                                                     \
    do {                                                                                                       \
        snprintf(g, sizeof g, "blk.%" PRId64 ".%s", l, gsuf);                                                  \
        snprintf(s, sizeof s, "model.layers.%" PRId64 ".%s", l, hsuf);                                         \
        if ((rc = plan_add(c, g, s, nd, r, co, outtype, perm, req, err))) return rc;                           \
    } while (0)
        ADD("attn_norm.weight", "input_layernorm.weight", 1, E, 0, 0, 1);
        ADD("attn_q.weight", "self_attn.q_proj.weight", 2, qd, E, h->permute_qk ? h->n_head : 0, 1);
        ADD("attn_k.weight", "self_attn.k_proj.weight", 2, kd, E, h->permute_qk ? h->n_head_kv : 0, 1);
        ADD("attn_v.weight", "self_attn.v_proj.weight", 2, kd, E, 0, 1);
        if (h->biases) {
            ADD("attn_q.bias", "self_attn.q_proj.bias", 1, qd, 0, 0, 1);
            ADD("attn_k.bias", "self_attn.k_proj.bias", 1, kd, 0, 0, 1);
            ADD("attn_v.bias", "self_attn.v_proj.bias", 1, kd, 0, 0, 1);
        }
        ADD("attn_output.weight", "self_attn.o_proj.weight", 2, E, qd, 0, 1);
        ADD("ffn_norm.weight", "post_attention_layernorm.weight", 1, E, 0, 0, 1);
        ADD("ffn_gate.weight", "mlp.gate_proj.weight", 2, F, E, 0, 1);
        ADD("ffn_up.weight", "mlp.up_proj.weight", 2, F, E, 0, 1);
        ADD("ffn_down.weight", "mlp.down_proj.weight", 2, E, F, 0, 1);
#undef ADD
    }
    if ((rc = plan_add(c, "output_norm.weight", "model.norm.weight", 1, E, 0, outtype, 0, 1, err))) return rc;
    if (!h->tied && (rc = plan_add(c, "output.weight", "lm_head.weight", 2, V, E, outtype, 0, 1, err))) return rc;
    /* everything in the checkpoint must have been used */
    for (int s = 0; s < c->n_shards; s++)
        for (int64_t i = 0; i < octet__st_n_tensors(c->shards[s]); i++) {
            const octet__st_tensor *t = octet__st_tensor_at(c->shards[s], i);
            int used = 0;
            for (int k = 0; k < c->n_plan && !used; k++) used = c->plan[k].src == t;
            size_t nl = strlen(t->name);
            if (used || (nl >= 21 && strcmp(t->name + nl - 21, "rotary_emb.inv_freq") == 0) ||
                (h->tied && strcmp(t->name, "lm_head.weight") == 0))
                continue;
            return octet__err(err, OCTET_EUNSUPPORTED, "%s: tensor '%.128s' has no place in a %s model", c->shard_names[s],
                              t->name, h->hf_arch);
        }
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------------------- */

static float load_elem(const uint8_t *p, int dtype) {
    switch (dtype) {
    case OCTET_ST_F32: {
        uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case OCTET_ST_F16: return octet__fp16_to_fp32((uint16_t)(p[0] | (p[1] << 8)));
    default: return octet__bf16_to_fp32((uint16_t)(p[0] | (p[1] << 8)));
    }
}

static void store_elem(uint8_t *p, int type, float f) {
    if (type == OCTET_TYPE_F32) {
        memcpy(p, &f, 4); /* little-endian host (x86-64, arm64) as the GGUF file */
    } else {
        uint16_t h = type == OCTET_TYPE_F16 ? octet__fp32_to_fp16(f) : octet__fp32_to_bf16(f);
        p[0] = (uint8_t)h;
        p[1] = (uint8_t)(h >> 8);
    }
}

static size_t out_elem_size(int type) { return type == OCTET_TYPE_F32 ? 4 : 2; }

static int write_tensor(octet__gguf_writer *w, const plan_tensor *p, uint8_t *row, octet_error *err) {
    /* rows of the HF tensor: ne[1] rows of ne[0] for a matrix; a vector is one row */
    int64_t n_rows = p->ne[1], row_len = p->ne[0];
    size_t ssz = octet__st_dtype_size(p->src->dtype), osz = out_elem_size(p->type);
    const uint8_t *base = p->src->data;
    int64_t hd = p->perm_heads ? n_rows / p->perm_heads : 0;
    for (int64_t r = 0; r < n_rows; r++) {
        int64_t sr = r;
        if (p->perm_heads) { /* output row h*hd + 2i + j comes from input row h*hd + j*hd/2 + i */
            int64_t head = r / hd, k = r % hd, i = k / 2, j = k % 2;
            sr = head * hd + j * (hd / 2) + i;
        }
        const uint8_t *src = base + (size_t)sr * (size_t)row_len * ssz;
        for (int64_t e = 0; e < row_len; e++) store_elem(row + (size_t)e * osz, p->type, load_elem(src + (size_t)e * ssz, p->src->dtype));
        int rc = octet__gguf_writer_write_data(w, row, (size_t)row_len * osz, err);
        if (rc) return rc;
    }
    return 0;
}

static int write_vocab(octet__gguf_writer *w, const octet__cv_vocab *v, octet_error *err) {
    int rc;
    if ((rc = octet__gguf_writer_set_str(w, "tokenizer.ggml.model", v->model, strlen(v->model), err))) return rc;
    if (v->pre && (rc = octet__gguf_writer_set_str(w, "tokenizer.ggml.pre", v->pre, strlen(v->pre), err))) return rc;
    if ((rc = octet__gguf_writer_set_str_arr(w, "tokenizer.ggml.tokens", (const char *const *)v->tokens, NULL,
                                             (uint64_t)v->n, err)))
        return rc;
    if (v->scores && (rc = octet__gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, v->scores,
                                                      (uint64_t)v->n, err)))
        return rc;
    if ((rc = octet__gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, v->types, (uint64_t)v->n,
                                         err)))
        return rc;
    if (v->merges && (rc = octet__gguf_writer_set_str_arr(w, "tokenizer.ggml.merges", (const char *const *)v->merges,
                                                          NULL, (uint64_t)v->n_merges, err)))
        return rc;
    static const char *const idk[4] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                       "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"};
    const int64_t ids[4] = {v->bos, v->eos, v->unk, v->pad};
    for (int i = 0; i < 4; i++)
        if (ids[i] >= 0 && (rc = octet__gguf_writer_set_u32(w, idk[i], (uint32_t)ids[i], err))) return rc;
    if (v->add_bos >= 0 && (rc = octet__gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos, err)))
        return rc;
    if (v->add_eos >= 0 && (rc = octet__gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", v->add_eos, err)))
        return rc;
    if (v->add_space_prefix >= 0 &&
        (rc = octet__gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", v->add_space_prefix, err)))
        return rc;
    if (v->chat_template && (rc = octet__gguf_writer_set_str(w, "tokenizer.chat_template", v->chat_template,
                                                             strlen(v->chat_template), err)))
        return rc;
    /* octet's own keys (docs/tokenizer.md): the normalizer steps, byte-level options, end-of-generation ids */
    if (v->n_norm > 0 &&
        ((rc = octet__gguf_writer_set_str_arr(w, "tokenizer.octet.normalizer.type", v->norm_op, NULL,
                                              (uint64_t)v->n_norm, err)) ||
         (rc = octet__gguf_writer_set_str_arr(w, "tokenizer.octet.normalizer.arg0",
                                              (const char *const *)v->norm_arg0, NULL, (uint64_t)v->n_norm, err)) ||
         (rc = octet__gguf_writer_set_str_arr(w, "tokenizer.octet.normalizer.arg1",
                                              (const char *const *)v->norm_arg1, NULL, (uint64_t)v->n_norm, err))))
        return rc;
    if (v->add_prefix_space >= 0 &&
        (rc = octet__gguf_writer_set_bool(w, "tokenizer.octet.add_prefix_space", v->add_prefix_space, err)))
        return rc;
    if (v->ignore_merges >= 0 &&
        (rc = octet__gguf_writer_set_bool(w, "tokenizer.octet.ignore_merges", v->ignore_merges, err)))
        return rc;
    if (v->n_eog > 0) {
        int32_t eog[OCTET_CV_MAX_EOG];
        for (int i = 0; i < v->n_eog; i++) eog[i] = (int32_t)v->eog[i];
        if ((rc = octet__gguf_writer_set_arr(w, "tokenizer.octet.eog_token_ids", GGUF_TYPE_INT32, eog,
                                             (uint64_t)v->n_eog, err)))
            return rc;
    }
    return 0;
}

static int write_hparams(octet__gguf_writer *w, const conv *c, int outtype, octet_error *err) {
    const hparams *h = &c->hp;
    char k[128];
    int rc;
    /* general.name: the folder's last component ("models/Llama-2-7b-hf/" -> "Llama-2-7b-hf") */
    size_t end = strlen(c->dir);
    while (end > 1 && c->dir[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && c->dir[start - 1] != '/') start--;
    if ((rc = octet__gguf_writer_set_str(w, "general.architecture", h->arch, strlen(h->arch), err)) ||
        (rc = octet__gguf_writer_set_str(w, "general.name", c->dir + start, end - start, err)))
        return rc;
#define KEY(suffix) (snprintf(k, sizeof k, "%s.%s", h->arch, suffix), k)
    if ((rc = octet__gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)h->n_ctx, err)) ||
        (rc = octet__gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)h->n_embd, err)) ||
        (rc = octet__gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)h->n_layer, err)) ||
        (rc = octet__gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)h->n_ff, err)) ||
        (rc = octet__gguf_writer_set_u32(w, KEY("rope.dimension_count"), (uint32_t)h->head_dim, err)) ||
        (rc = octet__gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)h->n_head, err)) ||
        (rc = octet__gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)h->n_head_kv, err)) ||
        (rc = octet__gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), (float)h->eps, err)) ||
        (rc = octet__gguf_writer_set_f32(w, KEY("rope.freq_base"), (float)h->rope_theta, err)) ||
        (rc = octet__gguf_writer_set_u32(w, KEY("vocab_size"), (uint32_t)h->n_vocab, err)))
        return rc;
    if (h->rope_scale > 0 &&
        ((rc = octet__gguf_writer_set_str(w, KEY("rope.scaling.type"), "linear", 6, err)) ||
         (rc = octet__gguf_writer_set_f32(w, KEY("rope.scaling.factor"), (float)h->rope_scale, err))))
        return rc;
#undef KEY
    uint32_t ft = outtype == OCTET_TYPE_F32 ? 0 : outtype == OCTET_TYPE_F16 ? 1 : 32; /* llama_ftype */
    if ((rc = octet__gguf_writer_set_u32(w, "general.file_type", ft, err)) ||
        (rc = octet__gguf_writer_set_u32(w, "general.quantization_version", 2, err)))
        return rc;
    return 0;
}

static void conv_free(conv *c) {
    for (int i = 0; i < c->n_shards; i++) {
        octet__st_close(c->shards[i]);
        octet__free(c->shard_names[i]);
    }
    octet__free(c->shards);
    octet__free(c->shard_names);
    octet__free(c->plan);
    if (c->config) json_decref(c->config);
    if (c->index) json_decref(c->index);
    octet__free(c->config_path);
    octet__free(c->index_path);
}

int octet_convert_hf(const char *dir, const char *out, int outtype, octet_error *err) {
    if (!dir || !out) return octet__err(err, OCTET_EINVAL, "convert: dir and out are required");
    if (outtype != OCTET_TYPE_F32 && outtype != OCTET_TYPE_F16 && outtype != OCTET_TYPE_BF16)
        return octet__err(err, OCTET_EINVAL, "convert: output type %d is not F32, F16 or BF16", outtype);
    conv c;
    memset(&c, 0, sizeof c);
    c.dir = dir;
    octet__cv_vocab v;
    memset(&v, 0, sizeof v);
    octet__gguf_writer *w = NULL;
    uint8_t *row = NULL;
    int rc;
    if ((rc = read_config(&c, err)) || (rc = open_shards(&c, err)) || (rc = build_plan(&c, outtype, err)) ||
        (rc = octet__cv_vocab_load(&v, dir, c.hp.n_vocab, c.config, err)))
        goto done;
    size_t max_row = 1;
    for (int i = 0; i < c.n_plan; i++)
        if ((size_t)c.plan[i].ne[0] > max_row) max_row = (size_t)c.plan[i].ne[0];
    row = octet__malloc(max_row * 4);
    if (!row) {
        rc = octet__err(err, OCTET_ENOMEM, "convert: out of memory for a row of %zu values", max_row);
        goto done;
    }
    if ((rc = octet__gguf_writer_new(&w, out, 0, err)) || (rc = write_hparams(w, &c, outtype, err)) ||
        (rc = write_vocab(w, &v, err)))
        goto done;
    for (int i = 0; i < c.n_plan; i++) {
        const plan_tensor *p = &c.plan[i];
        if ((rc = octet__gguf_writer_add_tensor(w, p->name, p->n_dims, p->ne, p->type, NULL, err))) goto done;
    }
    if ((rc = octet__gguf_writer_begin_data(w, err))) goto done;
    for (int i = 0; i < c.n_plan; i++) {
        octet__log(OCTET_LOG_INFO, "convert: [%d/%d] %-28s <- %s (%s, %s)", i + 1, c.n_plan, c.plan[i].name,
                   c.plan[i].src->name, octet__st_dtype_name(c.plan[i].src->dtype),
                   c.plan[i].perm_heads ? "q/k rows permuted" : "as is");
        if ((rc = write_tensor(w, &c.plan[i], row, err))) goto done;
    }
    rc = octet__gguf_writer_finish(w, err);
done:
    octet__gguf_writer_free(w);
    octet__free(row);
    octet__cv_vocab_free(&v);
    conv_free(&c);
    return rc;
}
