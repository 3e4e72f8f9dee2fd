/*
 * test_convert.c - octet_convert_hf on a tiny checkpoint written here (config.json, model.safetensors,
 * tokenizer.json or tokenizer.model, tokenizer_config.json): the output read back with the GGUF reader
 * (names, shapes, the q/k row permutation computed by hand, tokenizer keys), then every allocation failed in
 * turn: each failure is reported as OCTET_ENOMEM, leaves no output and no temporary file, and leaks nothing
 * (ASan build).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "format/gguf.h"
#include "test.h"

enum { E = 4, V = 8, FF = 4 };

static char g_dir[256];

static void put(const char *name, const void *data, size_t n) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}
static void put_s(const char *name, const char *s) { put(name, s, strlen(s)); }

/* Tensor k's values are k*100 + i (row-major, HF layout), so the permutation is visible in the output. */
static const char *k_names[] = {
    "model.embed_tokens.weight", "model.layers.0.input_layernorm.weight", "model.layers.0.self_attn.q_proj.weight",
    "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.weight",
    "model.layers.0.self_attn.o_proj.weight", "model.layers.0.post_attention_layernorm.weight",
    "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
    "model.norm.weight"};
static const int k_rows[] = {V, E, E, E, E, E, E, FF, FF, E, E};
static const int k_cols[] = {E, 0, E, E, E, E, 0, E, E, FF, 0};
#define N_T (int)(sizeof k_names / sizeof k_names[0])

static void write_checkpoint(int spm) {
    char hdr[4096];
    size_t o = 0, off = 0;
    o += (size_t)snprintf(hdr + o, sizeof hdr - o, "{");
    float data[1024];
    size_t nd = 0;
    for (int k = 0; k < N_T; k++) {
        int n = k_rows[k] * (k_cols[k] ? k_cols[k] : 1);
        for (int i = 0; i < n; i++) data[nd++] = (float)(k * 100 + i);
        if (k_cols[k])
            o += (size_t)snprintf(hdr + o, sizeof hdr - o, "%s\"%s\": {\"dtype\": \"F32\", \"shape\": [%d, %d], "
                                  "\"data_offsets\": [%zu, %zu]}", k ? ", " : "", k_names[k], k_rows[k], k_cols[k],
                                  off, off + (size_t)n * 4);
        else
            o += (size_t)snprintf(hdr + o, sizeof hdr - o, "%s\"%s\": {\"dtype\": \"F32\", \"shape\": [%d], "
                                  "\"data_offsets\": [%zu, %zu]}", k ? ", " : "", k_names[k], k_rows[k], off,
                                  off + (size_t)n * 4);
        off += (size_t)n * 4;
    }
    o += (size_t)snprintf(hdr + o, sizeof hdr - o, "}");
    size_t total = 8 + o + off;
    uint8_t *file = malloc(total);
    for (int i = 0; i < 8; i++) file[i] = (uint8_t)((uint64_t)o >> (8 * i));
    memcpy(file + 8, hdr, o);
    memcpy(file + 8 + o, data, off); /* little-endian host */
    put("model.safetensors", file, total);
    free(file);
    put_s("config.json", "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 4, \"intermediate_size\": 4, "
                         "\"num_attention_heads\": 1, \"num_key_value_heads\": 1, \"num_hidden_layers\": 1, "
                         "\"vocab_size\": 8, \"tie_word_embeddings\": true, \"rms_norm_eps\": 1e-05, "
                         "\"rope_theta\": 10000.0, \"eos_token_id\": [2, 3]}");
    put_s("tokenizer_config.json", "{\"bos_token\": \"<s>\", \"add_bos_token\": true, \"chat_template\": \"T\"}");
    char p[512];
    snprintf(p, sizeof p, "%s/tokenizer.json", g_dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/tokenizer.model", g_dir);
    unlink(p);
    if (!spm) {
        put_s("tokenizer.json",
              "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ab\": 3}, "
              "\"merges\": [\"a b\"]}, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": true}, "
              "\"added_tokens\": [{\"id\": 4, \"content\": \"<s>\", \"special\": true}]}");
    } else {
        /* ModelProto { pieces: {piece, score (fixed32), type} x 5 } written by hand:
         * field 1 (LEN) = 0x0a; SentencePiece: piece 0x0a, score 0x15, type 0x18 */
        static const uint8_t pb[] = {
            0x0a, 0x0e, 0x0a, 0x05, '<', 'u', 'n', 'k', '>', 0x15, 0x00, 0x00, 0x00, 0x00, 0x18, 0x02,
            0x0a, 0x0c, 0x0a, 0x03, '<', 's', '>', 0x15, 0x00, 0x00, 0x00, 0x00, 0x18, 0x03,
            0x0a, 0x0d, 0x0a, 0x04, '<', '/', 's', '>', 0x15, 0x00, 0x00, 0x00, 0x00, 0x18, 0x03,
            0x0a, 0x08, 0x0a, 0x01, 'a', 0x15, 0x00, 0x00, 0x80, 0xbf,          /* "a" score -1, type default */
            0x0a, 0x0a, 0x0a, 0x03, 0xe2, 0x96, 0x81, 0x15, 0x00, 0x00, 0x00, 0xc0, /* U+2581 score -2 */
        };
        put("tokenizer.model", pb, sizeof pb);
    }
}

static int dir_entries(const char *d) {
    DIR *dp = opendir(d);
    int n = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (dp) closedir(dp);
    return n;
}

static void check_output(const char *out, int spm) {
    octet__gguf *g;
    octet_error err;
    int rc = octet__gguf_open(&g, out, 0, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc) return;
    CHECK(octet__gguf_n_tensors(g) == N_T); /* tied: no output.weight */
    const octet__gguf_tensor *q = octet__gguf_find_tensor(g, "blk.0.attn_q.weight");
    const octet__gguf_tensor *v = octet__gguf_find_tensor(g, "blk.0.attn_v.weight");
    CHECK(q && v && q->type == 1 && q->ne[0] == E && q->ne[1] == E);
    if (q) {
        /* one head of dim 4: output rows (0, 1, 2, 3) come from input rows (0, 2, 1, 3) */
        static const int from[4] = {0, 2, 1, 3};
        const uint16_t *h = q->data;
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++)
                CHECKF(octet__fp16_to_fp32(h[r * 4 + c]) == (float)(200 + from[r] * 4 + c), "q[%d][%d]", r, c);
    }
    if (v) CHECK(octet__fp16_to_fp32(((const uint16_t *)v->data)[5]) == 405.0f); /* v is not permuted */
    const octet__gguf_tensor *n = octet__gguf_find_tensor(g, "output_norm.weight");
    CHECK(n && n->type == 0 && ((const float *)n->data)[3] == 1003.0f);
    octet__str s;
    CHECK(octet__gguf_get_str(g, "tokenizer.ggml.model", &s, &err) == 0 &&
          s.len == (spm ? 5u : 4u) && memcmp(s.ptr, spm ? "llama" : "gpt2", s.len) == 0);
    uint32_t u;
    CHECK(octet__gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &u, &err) == 0 && u == (spm ? 1u : 4u));
    CHECK(octet__gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &u, &err) == 0 && u == 2); /* first of the list */
    CHECK(octet__gguf_get_u32(g, "general.file_type", &u, &err) == 0 && u == 1);
    octet__str *toks;
    uint64_t nt;
    if (octet__gguf_get_str_arr(g, "tokenizer.ggml.tokens", &toks, &nt, &err) == 0) {
        CHECK(nt == V);
        CHECK(toks[V - 1].len == 6 && memcmp(toks[V - 1].ptr, "[PAD7]", 6) == 0);
        octet__free(toks);
    } else {
        CHECK(0);
    }
    octet__gguf_close(g);
}

static long fail_at = -1, n_alloc;
static void *h_malloc(size_t n, void *ud) { (void)ud; return n_alloc++ == fail_at ? NULL : malloc(n); }
static void *h_calloc(size_t n, size_t s, void *ud) { (void)ud; return n_alloc++ == fail_at ? NULL : calloc(n, s); }
static void h_free(void *p, void *ud) { (void)ud; free(p); }

static void run(int spm) {
    write_checkpoint(spm);
    char outdir[300], out[400];
    snprintf(outdir, sizeof outdir, "%s/out", g_dir);
    mkdir(outdir, 0755);
    snprintf(out, sizeof out, "%s/m.gguf", outdir);
    octet_error err;
    int rc = octet_convert_hf(g_dir, out, 1, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc == 0) check_output(out, spm);
    unlink(out);
    /* every allocation failed in turn */
    octet_alloc_hooks hooks = {h_malloc, h_calloc, h_free, NULL};
    int ok = 0, enomem = 0, other = 0;
    for (fail_at = 0; fail_at < 5000 && !ok; fail_at++) {
        n_alloc = 0;
        octet_set_alloc_hooks(&hooks);
        rc = octet_convert_hf(g_dir, out, 1, &err);
        octet_set_alloc_hooks(NULL);
        if (rc == 0) {
            ok = 1;
        } else if (rc == OCTET_ENOMEM) {
            enomem++;
            CHECKF(dir_entries(outdir) == 0, "fail_at %ld: files left in the output folder", fail_at);
        } else {
            other++;
            fprintf(stderr, "fail_at %ld: rc %d: %s\n", fail_at, rc, err.msg);
        }
    }
    CHECKF(ok && other == 0, "spm %d: ok %d, other %d", spm, ok, other);
    CHECKF(enomem >= 30, "spm %d: %d allocation failures seen", spm, enomem);
    unlink(out);
    rmdir(outdir);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "%s/octet-test-convert-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    run(0);
    run(1);
    const char *files[] = {"model.safetensors", "config.json", "tokenizer_config.json", "tokenizer.json",
                           "tokenizer.model"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", g_dir, files[i]);
        unlink(p);
    }
    rmdir(g_dir);
    TEST_MAIN_END();
}
