/*
 * synth.c - random-weight GGUF models of real shapes (contract in synth.h).
 *
 * Tensors are written in llama.cpp's order (token_embd, output_norm, output, then per block attn_norm, q, k, v,
 * output, ffn_norm, gate, up, down) through the streaming GGUF writer, a chunk of rows at a time: the thread
 * pool fills each row from its own generator (seeded by seed, tensor index and row index, so the bytes do not
 * depend on the thread count) and quantizes it with the kernel table's from_float.
 */
#include "model/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "core/threadpool.h"
#include "format/gguf_write.h"
#include "kernels/kernels.h"
#include "kernels/kernels_impl.h"

#define CHUNK_ROWS 256

static const octet__synth_shape SHAPES[] = {
    {"tinyllama-1.1b", 2048, 22, 32, 4, 5632, 32000, 2048, NULL, 0, 0.0f, 0.0f, 0, {0}, 0, 0, 0, 0, 0, 0.0f, 0},
    {"llama-7b", 4096, 32, 32, 32, 11008, 32000, 4096, NULL, 0, 0.0f, 0.0f, 0, {0}, 0, 0, 0, 0, 0, 0.0f, 0},
    {"smollm-135m", 576, 30, 9, 3, 1536, 49152, 2048, NULL, 0, 0.0f, 0.0f, 0, {0}, 0, 0, 0, 0, 0, 0.0f, 0},
    {"test-tiny", 256, 2, 4, 2, 512, 512, 512, NULL, 0, 0.0f, 0.0f, 0, {0}, 0, 0, 0, 0, 0, 0.0f, 0},
    /* Llama 3.2 1B (meta-llama/Llama-3.2-1B config.json): tied embeddings, RoPE base 5e5 with the llama3 frequency
     * factors (factor 32, low 1, high 4, original context 8192) */
    {"llama-3.2-1b", 2048, 16, 32, 8, 8192, 128256, 131072, "llama", 64, 500000.0f, 1e-5f, 1, {32.0f, 1.0f, 4.0f, 8192.0f},
     0, 0, 0, 0, 0, 0.0f, 0},
    /* Qwen3 0.6B (Qwen/Qwen3-0.6B config.json): head_dim 128 (q is 2048 wide for a 1024 model), q/k norms */
    {"qwen3-0.6b", 1024, 28, 16, 8, 3072, 151936, 40960, "qwen3", 128, 1000000.0f, 1e-6f, 1, {0}, 0, 0, 0, 0, 0, 0.0f, 0},
    /* Qwen3-30B-A3B (Qwen/Qwen3-30B-A3B config.json): 128 experts of 768 rows, 8 used; `-layers:N` keeps N of 48 */
    {"qwen3-30b-a3b", 2048, 48, 32, 4, 6144, 151936, 40960, "qwen3moe", 128, 1000000.0f, 1e-6f, 0, {0}, 128, 8, 768,
     0, 0, 0.0f, 0},
    /* Gemma 3 1B (google/gemma-3-1b-pt config.json): head_dim 256, sliding window 512 on 5 of every 6 layers with
     * RoPE base 1e4 there, 1e6 on the others; tied */
    {"gemma-3-1b", 1152, 26, 4, 1, 6912, 262144, 32768, "gemma3", 256, 1000000.0f, 1e-6f, 1, {0}, 0, 0, 0, 512, 6,
     10000.0f, 0},
    /* Phi-3.5-mini (microsoft/Phi-3.5-mini-instruct config.json): fused qkv and gate+up, LongRoPE over an original
     * context of 4096 (synthetic factors); `-layers:N` keeps N of 32 */
    {"phi-3.5-mini", 3072, 32, 32, 32, 8192, 32064, 131072, "phi3", 0, 10000.0f, 1e-5f, 0, {0}, 0, 0, 0, 0, 0, 0.0f,
     4096},
};

const char *octet__synth_shape_names(void) {
    return "tinyllama-1.1b, llama-7b, llama-7b-layers:N, smollm-135m, llama-3.2-1b, qwen3-0.6b, "
           "qwen3-30b-a3b-layers:N, gemma-3-1b, phi-3.5-mini-layers:N, test-tiny";
}

int octet__synth_shape_parse(const char *s, octet__synth_shape *out, octet_error *err) {
    if (!s) return octet__err(err, OCTET_EINVAL, "synth: no shape given");
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++)
        if (strcmp(s, SHAPES[i].name) == 0) {
            *out = SHAPES[i];
            return 0;
        }
    static const char *const layered[] = {"llama-7b", "qwen3-30b-a3b", "phi-3.5-mini"};
    for (size_t k = 0; k < sizeof layered / sizeof layered[0]; k++) {
        char pfx[64];
        snprintf(pfx, sizeof pfx, "%s-layers:", layered[k]);
        if (strncmp(s, pfx, strlen(pfx)) != 0) continue;
        const octet__synth_shape *base = NULL;
        for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++)
            if (strcmp(SHAPES[i].name, layered[k]) == 0) base = &SHAPES[i];
        char *end = NULL;
        long n = strtol(s + strlen(pfx), &end, 10);
        if (!base || !end || *end || n < 1 || n > base->n_layer)
            return octet__err(err, OCTET_EINVAL, "synth: shape '%s': N must be 1..%d", s, base ? base->n_layer : 0);
        *out = *base;
        out->n_layer = (int)n;
        snprintf(out->name, sizeof out->name, "%.40s%ld", pfx, n);
        return 0;
    }
    return octet__err(err, OCTET_EINVAL, "synth: unknown shape '%s' (known: %s)", s, octet__synth_shape_names());
}

/* splitmix64 for seeding, xorshift64* for the stream */
static uint64_t splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct fill_task {
    const octet__type_traits *tt;
    int type;
    int64_t n_in, row0, n_rows;
    uint64_t seed;
    float *scratch; /* [nth][n_in] */
    uint8_t *out;   /* [n_rows][row_bytes] */
    size_t row_bytes;
    float amp;      /* uniform in [-amp, amp] */
    int ones;       /* norm weights: all 1 */
} fill_task;

static void fill_rows(void *ctx, int ith, int nth) {
    fill_task *t = ctx;
    float *x = t->scratch + (size_t)ith * (size_t)t->n_in;
    for (int64_t r = ith; r < t->n_rows; r += nth) {
        uint64_t st = splitmix(t->seed ^ splitmix((uint64_t)(t->row0 + r))) | 1;
        for (int64_t i = 0; i < t->n_in; i++) {
            if (t->ones) {
                x[i] = 1.0f;
                continue;
            }
            st ^= st >> 12, st ^= st << 25, st ^= st >> 27;
            uint64_t v = st * 0x2545f4914f6cdd1dull;
            float u = (float)(v >> 40) * (1.0f / 16777216.0f); /* [0, 1) */
            x[i] = (2.0f * u - 1.0f) * t->amp;
        }
        uint8_t *dst = t->out + (size_t)r * t->row_bytes;
        if (t->type == OCTET_TYPE_F32)
            memcpy(dst, x, (size_t)t->n_in * sizeof(float));
        else
            t->tt->from_float(x, dst, t->n_in);
    }
}

static int type_by_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < OCTET_TYPE_COUNT; i++) {
        const octet__type_traits *t = octet__type(i);
        if (t && t->block_size && t->from_float && strcasecmp(t->name, name) == 0) return i;
    }
    return -1;
}

/* llama.cpp's general.file_type values (LLAMA_FTYPE_*) for the pure types */
static uint32_t file_type_of(int type) {
    switch (type) {
    case OCTET_TYPE_F32: return 0;
    case OCTET_TYPE_F16: return 1;
    case OCTET_TYPE_Q4_0: return 2;
    case OCTET_TYPE_Q4_1: return 3;
    case OCTET_TYPE_Q8_0: return 7;
    case OCTET_TYPE_Q5_0: return 8;
    case OCTET_TYPE_Q5_1: return 9;
    case OCTET_TYPE_Q4_K: return 15;
    case OCTET_TYPE_Q5_K: return 17;
    case OCTET_TYPE_Q6_K: return 18;
    case OCTET_TYPE_BF16: return 32;
    default: return 0;
    }
}

typedef struct tdesc {
    char name[64];
    int64_t ne0, ne1; /* ne1 == 1 for vectors */
    int64_t ne2;      /* > 1: a stack of ne2 matrices (experts), else 0 */
    int type;
    const float *values; /* F32 vector written as given (rope_freqs), else NULL */
} tdesc;

static const char *shape_arch(const octet__synth_shape *sh) { return sh->arch ? sh->arch : "llama"; }
static int shape_head_dim(const octet__synth_shape *sh) { return sh->head_dim ? sh->head_dim : sh->n_embd / sh->n_head; }

/* rope_freqs.weight for a Hugging Face rope_scaling of type llama3 (what llama.cpp's converter writes): per pair,
 * the divisor of its frequency: 1 where the wavelength 2 pi / theta is below original / high_freq_factor, factor
 * where it is above original / low_freq_factor, 1 / ((1 - smooth) / factor + smooth) between, with
 * smooth = (original / wavelength - low) / (high - low). */
static void llama3_factors(const octet__synth_shape *sh, float *out) {
    const int hd = shape_head_dim(sh);
    const double factor = sh->llama3[0], low = sh->llama3[1], high = sh->llama3[2], orig = sh->llama3[3];
    const double base = sh->rope_base > 0.0f ? (double)sh->rope_base : 10000.0;
    for (int i = 0; i < hd / 2; i++) {
        double wavelen = 6.283185307179586 * pow(base, 2.0 * i / hd);
        double f;
        if (wavelen < orig / high) f = 1.0;
        else if (wavelen > orig / low) f = factor;
        else {
            double smooth = (orig / wavelen - low) / (high - low);
            f = 1.0 / ((1.0 - smooth) / factor + smooth);
        }
        out[i] = (float)f;
    }
}

static int write_kv(octet__gguf_writer *w, const octet__synth_shape *sh, int type, octet_error *err) {
    int rc;
    const char *arch = shape_arch(sh);
    char key[96];
#define S(k, v) if ((rc = octet__gguf_writer_set_str(w, k, v, strlen(v), err))) return rc
#define U(k, v) if ((rc = octet__gguf_writer_set_u32(w, k, (uint32_t)(v), err))) return rc
#define K(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)
    S("general.architecture", arch);
    char name[96];
    /* llama.cpp's vocabulary loader gives names containing "phi-3" Phi-3's special tokens, absent here */
    snprintf(name, sizeof name, "octet-synth %s%s", strncmp(sh->name, "phi-3", 5) == 0 ? "phi-three" : "",
             strncmp(sh->name, "phi-3", 5) == 0 ? sh->name + 5 : sh->name);
    S("general.name", name);
    U("general.file_type", file_type_of(type));
    U("general.quantization_version", 2);
    U(K("context_length"), sh->n_ctx);
    U(K("embedding_length"), sh->n_embd);
    U(K("block_count"), sh->n_layer);
    U(K("feed_forward_length"), sh->n_ff);
    U(K("rope.dimension_count"), shape_head_dim(sh));
    if (sh->head_dim) {
        U(K("attention.key_length"), sh->head_dim);
        U(K("attention.value_length"), sh->head_dim);
    }
    if (sh->n_expert) {
        U(K("expert_count"), sh->n_expert);
        U(K("expert_used_count"), sh->n_expert_used);
        U(K("expert_feed_forward_length"), sh->n_ff_exp);
    }
    if (sh->n_swa) {
        U(K("attention.sliding_window"), sh->n_swa);
        U(K("attention.sliding_window_pattern"), sh->swa_period);
        if ((rc = octet__gguf_writer_set_f32(w, K("rope.freq_base_swa"), sh->rope_base_swa, err))) return rc;
    }
    if (sh->longrope_orig) { /* as llama.cpp's converter: attn_factor sqrt(1 + ln(s) / ln(original)), s = ctx / orig */
        U(K("rope.scaling.original_context_length"), sh->longrope_orig);
        const double sc = (double)sh->n_ctx / sh->longrope_orig;
        if ((rc = octet__gguf_writer_set_f32(w, K("rope.scaling.attn_factor"),
                                             (float)(sc > 1.0 ? sqrt(1.0 + log(sc) / log((double)sh->longrope_orig)) : 1.0),
                                             err)))
            return rc;
    }
    U(K("attention.head_count"), sh->n_head);
    U(K("attention.head_count_kv"), sh->n_head_kv);
    U(K("vocab_size"), sh->n_vocab);
    if ((rc = octet__gguf_writer_set_f32(w, K("attention.layer_norm_rms_epsilon"),
                                         sh->norm_eps > 0.0f ? sh->norm_eps : 1e-5f, err)))
        return rc;
    if ((rc = octet__gguf_writer_set_f32(w, K("rope.freq_base"), sh->rope_base > 0.0f ? sh->rope_base : 10000.0f,
                                         err)))
        return rc;
    S("tokenizer.ggml.model", "llama");
    U("tokenizer.ggml.bos_token_id", 1);
    U("tokenizer.ggml.eos_token_id", 2);
    U("tokenizer.ggml.unknown_token_id", 0);
    if ((rc = octet__gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", 1, err))) return rc;
    if ((rc = octet__gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", 0, err))) return rc;
#undef S
#undef U
#undef K
    /* vocabulary: <unk> <s> </s>, 256 byte tokens, then "▁" + a decimal filler (unique, ordinary pieces) */
    const int nv = sh->n_vocab;
    char **strs = octet__calloc((size_t)nv, sizeof *strs);
    float *scores = octet__calloc((size_t)nv, sizeof *scores);
    int32_t *types = octet__calloc((size_t)nv, sizeof *types);
    char *pool = octet__malloc((size_t)nv * 16);
    if (!strs || !scores || !types || !pool) {
        rc = octet__err(err, OCTET_ENOMEM, "synth: out of memory for the vocabulary");
        goto done;
    }
    for (int i = 0; i < nv; i++) {
        char *p = pool + (size_t)i * 16;
        if (i == 0) snprintf(p, 16, "<unk>");
        else if (i == 1) snprintf(p, 16, "<s>");
        else if (i == 2) snprintf(p, 16, "</s>");
        else if (i < 259) snprintf(p, 16, "<0x%02X>", i - 3);
        else snprintf(p, 16, "\xe2\x96\x81%d", i - 259);
        strs[i] = p;
        scores[i] = i < 259 ? 0.0f : -(float)(i - 259);
        types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1; /* unknown, control, byte, normal */
    }
    if ((rc = octet__gguf_writer_set_str_arr(w, "tokenizer.ggml.tokens", (const char *const *)strs, NULL,
                                             (uint64_t)nv, err)))
        goto done;
    if ((rc = octet__gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, (uint64_t)nv, err)))
        goto done;
    rc = octet__gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, (uint64_t)nv, err);
done:
    octet__free(strs);
    octet__free(scores);
    octet__free(types);
    octet__free(pool);
    return rc;
}

int octet__synth_write(const char *path, const octet__synth_shape *sh, const char *type_name, int n_threads,
                       uint64_t seed, uint64_t *bytes_out, octet_error *err) {
    int type = type_by_name(type_name);
    if (type < 0 || type == OCTET_TYPE_Q8_1 || type == OCTET_TYPE_Q8_K)
        return octet__err(err, OCTET_EINVAL, "synth: type '%s' is not a weight type octet can write",
                          type_name ? type_name : "(null)");
    const octet__type_traits *tt = octet__type(type);
    const int64_t E = sh->n_embd, F = sh->n_ff, V = sh->n_vocab, hd = shape_head_dim(sh);
    const int64_t KV = hd * sh->n_head_kv, Q = hd * sh->n_head;
    const int qk_norm = strcmp(shape_arch(sh), "qwen3") == 0;
    const char *arch = shape_arch(sh);
    const int gemma = strncmp(arch, "gemma", 5) == 0, phi3 = strcmp(arch, "phi3") == 0;
    const int qk = qk_norm || strcmp(arch, "qwen3moe") == 0 || strcmp(arch, "gemma3") == 0;
    float rope_freqs[512], rope_long[512], rope_short[512];
    if (hd / 2 > 512) return octet__err(err, OCTET_EINVAL, "synth: head dimension %lld too large", (long long)hd);
    if (sh->llama3[0] > 0.0f) llama3_factors(sh, rope_freqs);
    for (int64_t i = 0; i < hd / 2; i++) { /* LongRoPE-like factors: short near 1, long growing to ~50 */
        rope_short[i] = 1.0f + 0.1f * (float)i / (float)(hd / 2);
        rope_long[i] = (float)exp(log(50.0) * (double)i / (double)(hd / 2));
    }
    if ((!sh->head_dim && E % sh->n_head) || E % tt->block_size || F % tt->block_size || Q % tt->block_size)
        return octet__err(err, OCTET_EINVAL, "synth: %s rows (%lld, %lld) are not multiples of the %s block (%d)",
                          sh->name, (long long)E, (long long)F, tt->name, tt->block_size);
    /* tensor list */
    size_t n_t = 6 + (size_t)sh->n_layer * 13;
    tdesc *td = octet__calloc(n_t, sizeof *td);
    if (!td) return octet__err(err, OCTET_ENOMEM, "synth: out of memory");
    size_t k = 0;
#define T(nm, a, b, ty) (snprintf(td[k].name, sizeof td[k].name, "%s", nm), td[k].ne0 = a, td[k].ne1 = b, \
                         td[k].type = ty, k++)
    T("token_embd.weight", E, V, type);
    T("output_norm.weight", E, 1, OCTET_TYPE_F32);
    if (!sh->tied) T("output.weight", E, V, type);
    if (sh->llama3[0] > 0.0f) {
        T("rope_freqs.weight", hd / 2, 1, OCTET_TYPE_F32);
        td[k - 1].values = rope_freqs;
    }
    if (sh->longrope_orig) {
        T("rope_factors_long.weight", hd / 2, 1, OCTET_TYPE_F32);
        td[k - 1].values = rope_long;
        T("rope_factors_short.weight", hd / 2, 1, OCTET_TYPE_F32);
        td[k - 1].values = rope_short;
    }
    for (int l = 0; l < sh->n_layer; l++) {
        char nm[64];
#define L(s, a, b, ty) (snprintf(nm, sizeof nm, "blk.%d.%s", l, s), T(nm, a, b, ty))
        L("attn_norm.weight", E, 1, OCTET_TYPE_F32);
        if (phi3) {
            L("attn_qkv.weight", E, Q + 2 * KV, type);
        } else {
            L("attn_q.weight", E, Q, type);
            L("attn_k.weight", E, KV, type);
            L("attn_v.weight", E, KV, type);
        }
        L("attn_output.weight", Q, E, type);
        if (qk) {
            L("attn_q_norm.weight", hd, 1, OCTET_TYPE_F32);
            L("attn_k_norm.weight", hd, 1, OCTET_TYPE_F32);
        }
        if (gemma) {
            L("post_attention_norm.weight", E, 1, OCTET_TYPE_F32);
            L("post_ffw_norm.weight", E, 1, OCTET_TYPE_F32);
        }
        L("ffn_norm.weight", E, 1, OCTET_TYPE_F32);
        if (sh->n_expert) {
            const int64_t FE = sh->n_ff_exp, X = sh->n_expert;
            L("ffn_gate_inp.weight", E, X, OCTET_TYPE_F32);
            L("ffn_gate_exps.weight", E, FE, type);
            td[k - 1].ne2 = X;
            L("ffn_up_exps.weight", E, FE, type);
            td[k - 1].ne2 = X;
            L("ffn_down_exps.weight", FE, E, type);
            td[k - 1].ne2 = X;
        } else if (phi3) {
            L("ffn_up.weight", E, 2 * F, type);
            L("ffn_down.weight", F, E, type);
        } else {
            L("ffn_gate.weight", E, F, type);
            L("ffn_up.weight", E, F, type);
            L("ffn_down.weight", F, E, type);
        }
#undef L
    }
#undef T
    n_t = k;
    octet__gguf_writer *w = NULL;
    octet__pool *pool = NULL;
    float *scratch = NULL;
    uint8_t *buf = NULL;
    int rc = octet__gguf_writer_new(&w, path, 0, err);
    if (rc) goto out;
    if ((rc = write_kv(w, sh, type, err))) goto out;
    for (size_t i = 0; i < n_t; i++) {
        int64_t ne[3] = {td[i].ne0, td[i].ne1, td[i].ne2};
        const int nd = td[i].ne2 > 1 ? 3 : td[i].ne1 > 1 ? 2 : 1;
        if ((rc = octet__gguf_writer_add_tensor(w, td[i].name, nd, ne, td[i].type, NULL, err)))
            goto out;
    }
    if ((rc = octet__gguf_writer_begin_data(w, err))) goto out;
    if ((rc = octet__pool_new(&pool, n_threads, err))) goto out;
    const int nth = octet__pool_n_threads(pool);
    int64_t max_in = E > F ? E : F;
    if (Q > max_in) max_in = Q;
    if (sh->n_ff_exp > max_in) max_in = sh->n_ff_exp;
    const size_t max_row = octet__row_bytes(OCTET_TYPE_F32, max_in) > octet__row_bytes(type, max_in)
                               ? octet__row_bytes(OCTET_TYPE_F32, max_in)
                               : octet__row_bytes(type, max_in);
    scratch = octet__malloc((size_t)nth * (size_t)max_in * sizeof(float));
    buf = octet__malloc((size_t)CHUNK_ROWS * max_row);
    if (!scratch || !buf) {
        rc = octet__err(err, OCTET_ENOMEM, "synth: out of memory for row buffers");
        goto out;
    }
    for (size_t i = 0; i < n_t; i++) {
        if (td[i].values) {
            if ((rc = octet__gguf_writer_write_data(w, td[i].values, (size_t)td[i].ne0 * sizeof(float), err))) goto out;
            continue;
        }
        fill_task t = {.tt = octet__type(td[i].type), .type = td[i].type, .n_in = td[i].ne0,
                       .seed = splitmix(seed + 0x1000 * (uint64_t)(i + 1)), .scratch = scratch, .out = buf,
                       .row_bytes = octet__row_bytes(td[i].type, td[i].ne0), .amp = 0.02f * 1.7320508f,
                       .ones = td[i].ne1 == 1};
        const int64_t rows = td[i].ne1 * (td[i].ne2 > 1 ? td[i].ne2 : 1); /* a stack: its matrices' rows in turn */
        for (int64_t r0 = 0; r0 < rows; r0 += CHUNK_ROWS) {
            t.row0 = r0;
            t.n_rows = rows - r0 < CHUNK_ROWS ? rows - r0 : CHUNK_ROWS;
            octet__pool_run(pool, fill_rows, &t);
            if ((rc = octet__gguf_writer_write_data(w, buf, (size_t)t.n_rows * t.row_bytes, err))) goto out;
        }
    }
    if (bytes_out) *bytes_out = octet__gguf_writer_bytes_written(w);
    rc = octet__gguf_writer_finish(w, err);
out:
    octet__gguf_writer_free(w);
    octet__pool_free(pool);
    octet__free(scratch);
    octet__free(buf);
    octet__free(td);
    return rc;
}

int octet_synth_model(const char *path, const char *shape, const char *type, int n_threads, uint64_t seed,
                      uint64_t *bytes_out, octet_error *err) {
    if (!path || !shape || !type) return octet__err(err, OCTET_EINVAL, "synth: NULL argument");
    octet__synth_shape sh;
    int rc = octet__synth_shape_parse(shape, &sh, err);
    if (rc) return rc;
    return octet__synth_write(path, &sh, type, n_threads, seed, bytes_out, err);
}

const char *octet_synth_shape_names(void) { return octet__synth_shape_names(); }
