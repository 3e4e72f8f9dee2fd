/*
 * quantize.c - octet_model_quantize: read a float GGUF model, choose a type for every tensor, convert the rows
 * on a thread pool and stream the result through the GGUF writer (temporary file + fsync + rename).
 *
 * Per-tensor policy: llama.cpp's llama_tensor_get_type / tensor_type_fallback (src/llama-quant.cpp, read for
 * the rules, not copied) restricted to the types octet writes:
 *   - only tensors that "allow quantization" change type: at least 2 dims (ggml's n_dims: trailing extents of
 *     1 do not count), name ending in "weight", not a norm ("_norm.weight"), not an expert gate
 *     ("ffn_gate_inp.weight"), not position / token-type embeddings, not the small conv/RWKV/altup tensors.
 *     Other tensors keep their type, except that 1-D float tensors (norms, biases) are stored as F32;
 *   - float targets (F32/F16/BF16): every such tensor gets the target type, nothing else;
 *   - quantized targets, base type B:
 *       output.weight (or token_embd.weight when there is no output.weight: tied embeddings): Q8_0 when the
 *       row is not a multiple of B's block, else Q6_K unless B is Q8_0;
 *       Q4_K_M / Q5_K_M: attn_v (and fused attn_qkv / attn_kv_b) number i of n, and ffn_down of layer i of
 *       n_layer, get Q6_K when use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2;
 *       Q4_K_S: attn_v i < 4 and ffn_down i < n_layer/8 get Q5_K;
 *       everything else (token_embd included, also in the K mixes) gets B;
 *     then the fallback for rows that are not a multiple of the chosen type's block: Q4_K -> Q5_0,
 *     Q5_K -> Q5_1, Q6_K -> Q8_0, and F16 when even that does not divide the row (llama.cpp stops with an
 *     error for legacy types; F16 is lossless enough and keeps the tool total).
 *   Not carried over (octet loads neither): llama.cpp's MoE rules (n_expert == 8) and the 70B attn_v bump.
 * Quantizers: the reference from_float of each type (src/kernels/ref/); Q4_0..Q8_0 are ggml's published
 * reference quantizers bit for bit, the K types octet's own search (see kquant_ref.c, q5k_ref.c).
 * Rows are split across threads in contiguous ranges; each thread converts its rows independently, so the
 * output is bit-identical for any thread count.
 */
#include "tensor/quantize.h"

#include <stdio.h>
#include <strings.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "core/threadpool.h"
#include "format/gguf_write.h"
#include "kernels/kernels.h"

/* LLAMA_FTYPE values (llama.h): F32 0 (ALL_F32), F16 1, Q4_0 2, Q4_1 3, Q8_0 7, Q5_0 8, Q5_1 9, Q4_K_S 14,
 * Q4_K_M 15, Q5_K_S 16, Q5_K_M 17, Q6_K 18, BF16 32. llama.cpp has no plain Q4_K / Q5_K ftype: those write
 * the _S value, the closest mix ("mostly" that type). */
static const octet__qmix k_mixes[] = {
    {"Q8_0", 7, OCTET_TYPE_Q8_0, OCTET_QRULES_PLAIN, "8.5 bits per weight, nearly lossless"},
    {"Q6_K", 18, OCTET_TYPE_Q6_K, OCTET_QRULES_PLAIN, "6.56 bpw k-quant"},
    {"Q5_K_M", 17, OCTET_TYPE_Q5_K, OCTET_QRULES_K_M, "Q5_K, attn_v/ffn_down at Q6_K on half the layers"},
    {"Q5_K_S", 16, OCTET_TYPE_Q5_K, OCTET_QRULES_PLAIN, "Q5_K (output Q6_K)"},
    {"Q5_K", 16, OCTET_TYPE_Q5_K, OCTET_QRULES_PLAIN, "5.5 bpw k-quant (same as Q5_K_S)"},
    {"Q5_1", 9, OCTET_TYPE_Q5_1, OCTET_QRULES_PLAIN, "6 bpw, scale and minimum per 32"},
    {"Q5_0", 8, OCTET_TYPE_Q5_0, OCTET_QRULES_PLAIN, "5.5 bpw, scale per 32"},
    {"Q4_K_M", 15, OCTET_TYPE_Q4_K, OCTET_QRULES_K_M, "Q4_K, attn_v/ffn_down at Q6_K on half the layers"},
    {"Q4_K_S", 14, OCTET_TYPE_Q4_K, OCTET_QRULES_K_S, "Q4_K, first attn_v/ffn_down layers at Q5_K"},
    {"Q4_K", 14, OCTET_TYPE_Q4_K, OCTET_QRULES_PLAIN, "4.5 bpw k-quant, no per-layer bumps (output Q6_K)"},
    {"Q4_1", 3, OCTET_TYPE_Q4_1, OCTET_QRULES_PLAIN, "5 bpw, scale and minimum per 32"},
    {"Q4_0", 2, OCTET_TYPE_Q4_0, OCTET_QRULES_PLAIN, "4.5 bpw, scale per 32"},
    {"F32", 0, OCTET_TYPE_F32, OCTET_QRULES_FLOAT, "32-bit float"},
    {"F16", 1, OCTET_TYPE_F16, OCTET_QRULES_FLOAT, "IEEE half"},
    {"BF16", 32, OCTET_TYPE_BF16, OCTET_QRULES_FLOAT, "bfloat16"},
};
#define N_MIXES (int)(sizeof k_mixes / sizeof k_mixes[0])

const octet__qmix *octet__qmix_at(int i) { return i >= 0 && i < N_MIXES ? &k_mixes[i] : NULL; }

const octet__qmix *octet__qmix_find(const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < N_MIXES; i++)
        if (strcasecmp(name, k_mixes[i].name) == 0) return &k_mixes[i];
    return NULL;
}

const char *octet_quantize_type_name(int i, const char **desc) {
    const octet__qmix *m = octet__qmix_at(i);
    if (desc) *desc = m ? m->desc : NULL;
    return m ? m->name : NULL;
}

octet_quantize_params octet_quantize_default_params(void) {
    octet_quantize_params p;
    memset(&p, 0, sizeof p);
    return p;
}

/* ---- policy --------------------------------------------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* ggml_n_dims: 1 + the index of the last extent > 1. */
static int n_dims_eff(const octet__gguf_tensor *t) {
    for (int d = 3; d >= 1; d--)
        if (t->ne[d] > 1) return d + 1;
    return 1;
}

static int is_float_type(int type) {
    return type == OCTET_TYPE_F32 || type == OCTET_TYPE_F16 || type == OCTET_TYPE_BF16;
}

static int allows_quantization(const octet__gguf_tensor *t) {
    const char *n = t->name_z;
    if (n_dims_eff(t) < 2 || !ends_with(n, "weight")) return 0;
    static const char *const never[] = {"_norm.weight", "ffn_gate_inp.weight", "altup", "laurel",
                                        "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight",
                                        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
                                        "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (strstr(n, never[i])) return 0;
    return strcmp(n, "position_embd.weight") != 0 && strcmp(n, "token_types.weight") != 0;
}

static int is_attn_v(const char *n) {
    return strstr(n, "attn_v.weight") || strstr(n, "attn_qkv.weight") || strstr(n, "attn_kv_b.weight");
}

static int use_more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static int block_of(int type) {
    const octet__type_traits *t = octet__type(type);
    return t ? t->block_size : 0;
}

/* llama.cpp's tensor_type_fallback, with F16 as the last resort for every type. */
static int fallback(int type, int64_t ne0, int64_t *n_fallback) {
    if (ne0 % block_of(type) == 0) return type;
    int r = type == OCTET_TYPE_Q4_K ? OCTET_TYPE_Q5_0
          : type == OCTET_TYPE_Q5_K ? OCTET_TYPE_Q5_1
          : type == OCTET_TYPE_Q6_K ? OCTET_TYPE_Q8_0
                                    : OCTET_TYPE_F16;
    if (ne0 % block_of(r)) r = OCTET_TYPE_F16;
    (*n_fallback)++;
    return r;
}

int octet__quantize_plan(const octet__gguf *g, const octet__qmix *mix, int *types, int64_t *n_fallback,
                         octet_error *err) {
    const int64_t n = octet__gguf_n_tensors(g);
    int64_t n_attn_v = 0, n_ffn_down = 0, i_attn_v = 0, i_ffn_down = 0, nf = 0;
    int has_output = 0;
    for (int64_t i = 0; i < n; i++) {
        const char *nm = octet__gguf_tensor_at(g, i)->name_z;
        n_attn_v += is_attn_v(nm) != 0;
        n_ffn_down += strstr(nm, "ffn_down") != NULL;
        has_output |= strcmp(nm, "output.weight") == 0;
    }
    /* llama.cpp counts ffn_down layers by the model's n_layer (<arch>.block_count) */
    int64_t n_layer = n_ffn_down;
    octet__str arch;
    if (octet__gguf_get_str(g, "general.architecture", &arch, NULL) == 0 && arch.len < 64) {
        char key[96];
        snprintf(key, sizeof key, "%.*s.block_count", (int)arch.len, arch.ptr);
        int64_t bc;
        if (octet__gguf_get_i64(g, key, &bc, NULL) == 0 && bc > 0) n_layer = bc;
    }
    for (int64_t i = 0; i < n; i++) {
        const octet__gguf_tensor *t = octet__gguf_tensor_at(g, i);
        const char *nm = t->name_z;
        if (!allows_quantization(t)) {
            types[i] = n_dims_eff(t) == 1 && is_float_type(t->type) ? OCTET_TYPE_F32 : t->type;
            continue;
        }
        int ty = mix->base;
        if (mix->rules != OCTET_QRULES_FLOAT) {
            if (strcmp(nm, "output.weight") == 0 || (!has_output && strcmp(nm, "token_embd.weight") == 0)) {
                if (t->ne[0] % block_of(mix->base)) ty = OCTET_TYPE_Q8_0;
                else if (mix->base != OCTET_TYPE_Q8_0) ty = OCTET_TYPE_Q6_K;
            } else if (is_attn_v(nm)) {
                if (mix->rules == OCTET_QRULES_K_M && use_more_bits(i_attn_v, n_attn_v)) ty = OCTET_TYPE_Q6_K;
                else if (mix->rules == OCTET_QRULES_K_S && i_attn_v < 4) ty = OCTET_TYPE_Q5_K;
                i_attn_v++;
            } else if (strstr(nm, "ffn_down")) {
                if (mix->rules == OCTET_QRULES_K_M && use_more_bits(i_ffn_down, n_layer)) ty = OCTET_TYPE_Q6_K;
                else if (mix->rules == OCTET_QRULES_K_S && i_ffn_down < n_layer / 8) ty = OCTET_TYPE_Q5_K;
                i_ffn_down++;
            }
        }
        const int before = ty;
        ty = fallback(ty, t->ne[0], &nf);
        if (ty != before)
            octet__log(OCTET_LOG_WARN, "quantize: %s: row of %lld is not a multiple of %d: %s instead of %s", nm,
                       (long long)t->ne[0], block_of(before), octet__type(ty)->name, octet__type(before)->name);
        types[i] = ty;
    }
    if (n_fallback) *n_fallback = nf;
    (void)err;
    return 0;
}

/* ---- conversion ------------------------------------------------------------------------------------------------ */

typedef struct conv_job {
    const octet__type_traits *src, *dst;
    const uint8_t *in;  /* first row of the chunk */
    uint8_t *out;
    size_t row_in, row_out;
    int64_t ne0, n_rows;
    float *scratch;     /* ne0 floats per thread */
} conv_job;

static void conv_task(void *ctx, int ith, int nth) {
    const conv_job *j = ctx;
    const int64_t r0 = j->n_rows * ith / nth, r1 = j->n_rows * (ith + 1) / nth;
    float *f = j->scratch + (size_t)ith * (size_t)j->ne0;
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *src = j->in + (size_t)r * j->row_in;
        uint8_t *dst = j->out + (size_t)r * j->row_out;
        if (j->src == &octet__kernels_ref()[OCTET_TYPE_F32]) {
            j->dst->from_float((const float *)(const void *)src, dst, j->ne0);
        } else {
            j->src->to_float(src, f, j->ne0);
            j->dst->from_float(f, dst, j->ne0);
        }
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Output bytes per chunk: large enough to keep the threads busy, small enough for prompt progress/cancel. */
#define CHUNK_BYTES ((size_t)4 << 20)

int octet_model_quantize(const char *in, const char *out, const octet_quantize_params *params,
                         octet_quantize_stats *stats, octet_error *err) {
    const double t0 = now_s();
    if (!in || !out || !params)
        return octet__err(err, OCTET_EINVAL, "quantize: input, output and params are required");
    const octet__qmix *mix = octet__qmix_find(params->type);
    if (!mix)
        return octet__err(err, OCTET_EINVAL, "quantize: unknown type '%s'", params->type ? params->type : "(null)");
    octet__gguf *g = NULL;
    octet__gguf_writer *w = NULL;
    octet__pool *pool = NULL;
    int *types = NULL;
    uint8_t *buf = NULL;
    float *scratch = NULL;
    octet_quantize_stats st;
    memset(&st, 0, sizeof st);
    st.ftype = mix->ftype;

    int rc = octet__gguf_open(&g, in, 1, err);
    if (rc) goto done;
    const int64_t n = octet__gguf_n_tensors(g);
    st.n_tensors = n;
    const octet__type_traits *ref = octet__kernels_ref();
    for (int64_t i = 0; i < n; i++) {
        const octet__gguf_tensor *t = octet__gguf_tensor_at(g, i);
        if (!octet__type(t->type) || !ref[t->type].to_float) {
            rc = octet__err(err, OCTET_EUNSUPPORTED, "%s: tensor %s: type %d cannot be converted", in, t->name_z,
                            t->type);
            goto done;
        }
        if (!is_float_type(t->type) && !params->allow_requantize) {
            rc = octet__err(err, OCTET_EUNSUPPORTED,
                            "%s: tensor %s is already quantized (%s); quantize from the F32/F16/BF16 model, or "
                            "allow requantizing (quality suffers twice)",
                            in, t->name_z, ref[t->type].name);
            goto done;
        }
    }
    types = octet__calloc((size_t)(n ? n : 1), sizeof *types);
    if (!types) {
        rc = octet__err(err, OCTET_ENOMEM, "quantize: out of memory");
        goto done;
    }
    rc = octet__quantize_plan(g, mix, types, &st.n_fallback, err);
    if (rc) goto done;

    rc = octet__gguf_writer_new(&w, out, (uint32_t)octet__gguf_alignment(g), err);
    for (int64_t i = 0; !rc && i < octet__gguf_n_kv(g); i++) rc = octet__gguf_writer_copy_kv(w, g, i, err);
    if (!rc) rc = octet__gguf_writer_set_u32(w, "general.quantization_version", 2, err);
    if (!rc) rc = octet__gguf_writer_set_u32(w, "general.file_type", (uint32_t)mix->ftype, err);
    int64_t max_ne0 = 1;
    size_t max_chunk = 1;
    for (int64_t i = 0; !rc && i < n; i++) {
        const octet__gguf_tensor *t = octet__gguf_tensor_at(g, i);
        uint64_t nb;
        rc = octet__gguf_writer_add_tensor(w, t->name_z, t->n_dims, t->ne, types[i], &nb, err);
        if (rc) break;
        st.n_elements += t->n_elements;
        st.tensor_bytes_in += t->n_bytes;
        st.tensor_bytes_out += nb;
        st.n_converted += types[i] != t->type;
        if (types[i] != t->type) {
            const size_t row_out = octet__row_bytes(types[i], t->ne[0]);
            size_t rows = row_out ? CHUNK_BYTES / row_out : 1;
            if (rows < 1) rows = 1;
            if ((uint64_t)rows > t->n_elements / (uint64_t)t->ne[0]) rows = (size_t)(t->n_elements / (uint64_t)t->ne[0]);
            size_t bytes;
            if (!octet__mul_size(rows, row_out, &bytes)) {
                rc = octet__err(err, OCTET_ERANGE, "%s: tensor %s: row too large", in, t->name_z);
                break;
            }
            max_chunk = bytes > max_chunk ? bytes : max_chunk;
            max_ne0 = t->ne[0] > max_ne0 ? t->ne[0] : max_ne0;
        }
    }
    if (!rc) rc = octet__pool_new(&pool, params->n_threads > 0 ? params->n_threads : octet__n_cpus(), err);
    if (rc) goto done;
    const int nth = octet__pool_n_threads(pool);
    size_t scratch_n;
    if (!octet__mul_size((size_t)max_ne0, (size_t)nth, &scratch_n) ||
        !(scratch = octet__malloc(scratch_n * sizeof(float))) || !(buf = octet__malloc(max_chunk))) {
        rc = octet__err(err, OCTET_ENOMEM, "quantize: out of memory for the conversion buffers");
        goto done;
    }
    rc = octet__gguf_writer_begin_data(w, err);
    for (int64_t i = 0; !rc && i < n; i++) {
        const octet__gguf_tensor *t = octet__gguf_tensor_at(g, i);
        const uint64_t n_rows = t->n_elements / (uint64_t)t->ne[0];
        octet_quantize_progress pr = {i, n, t->name_z, ref[t->type].name, ref[types[i]].name, 0, n_rows, 0, 0};
        if (types[i] == t->type) { /* same type: the bytes verbatim */
            rc = octet__gguf_writer_write_data(w, t->data, (size_t)t->n_bytes, err);
            pr.rows_done = n_rows;
        } else {
            conv_job j = {&ref[t->type], &ref[types[i]], NULL, buf, octet__row_bytes(t->type, t->ne[0]),
                          octet__row_bytes(types[i], t->ne[0]), t->ne[0], 0, scratch};
            size_t chunk_rows = CHUNK_BYTES / j.row_out;
            if (chunk_rows < 1) chunk_rows = 1;
            for (uint64_t r = 0; !rc && r < n_rows; r += chunk_rows) {
                j.n_rows = (int64_t)(n_rows - r < chunk_rows ? n_rows - r : chunk_rows);
                j.in = (const uint8_t *)t->data + (size_t)r * j.row_in;
                octet__pool_run(pool, conv_task, &j);
                rc = octet__gguf_writer_write_data(w, buf, (size_t)j.n_rows * j.row_out, err);
                pr.rows_done = r + (uint64_t)j.n_rows;
                if (!rc && pr.rows_done < n_rows && params->progress) {
                    pr.bytes_written = octet__gguf_writer_bytes_written(w);
                    if (params->progress(&pr, params->progress_ud))
                        rc = octet__err(err, OCTET_EINVAL, "quantize: cancelled");
                }
            }
        }
        if (!rc && params->progress) {
            pr.bytes_written = octet__gguf_writer_bytes_written(w);
            pr.tensor_done = 1;
            if (params->progress(&pr, params->progress_ud)) rc = octet__err(err, OCTET_EINVAL, "quantize: cancelled");
        }
    }
    if (!rc) {
        st.file_bytes_out = octet__gguf_writer_bytes_written(w);
        rc = octet__gguf_writer_finish(w, err);
    }
    st.file_bytes_in = octet__gguf_file_size(g);
done:
    octet__gguf_writer_free(w); /* removes the temporary file unless finish succeeded */
    octet__pool_free(pool);
    octet__free(buf);
    octet__free(scratch);
    octet__free(types);
    octet__gguf_close(g);
    st.seconds = now_s() - t0;
    if (stats) *stats = st;
    return rc;
}
