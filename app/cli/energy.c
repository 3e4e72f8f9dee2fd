/*
 * energy.c - per-token accounting shared by `octet bench` and `octet report`: bytes a token reads from memory
 * and the operations it executes by kind and width, weighted by a per-operation energy table
 * (docs/energy.md: the table, its source and what is counted; also the top of cmd_bench.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "energy.h"

/* ---- energy table ----------------------------------------------------------------------------------------- */
const char *const E_NAMES[E_N] = {"int8_add", "int32_add", "int8_mul", "int32_mul", "f16_add",
                                         "f16_mul", "f32_add", "f32_mul", "sram8k_read64", "sram32k_read64",
                                         "sram1m_read64", "dram_access64"};
/* picojoules, Horowitz ISSCC 2014 (45 nm); DRAM: the middle of the quoted 1300..2600 range */
double E_PJ[E_N] = {0.03, 0.1, 0.2, 3.1, 0.4, 1.1, 0.9, 3.7, 10, 20, 100, 1950};

int load_energy_table(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "octet bench: cannot open energy table %s\n", path);
        return -1;
    }
    char line[256];
    int ln = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        char name[64];
        double v;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#' || *p == '\n' || *p == 0) continue;
        if (sscanf(p, "%63s %lf", name, &v) != 2 || !(v >= 0)) {
            fprintf(stderr, "octet bench: %s:%d: expected 'operation picojoules'\n", path, ln);
            fclose(f);
            return -1;
        }
        int k = 0;
        while (k < E_N && strcmp(E_NAMES[k], name) != 0) k++;
        if (k == E_N) {
            fprintf(stderr, "octet bench: %s:%d: unknown operation '%s' (known:", path, ln, name);
            for (int j = 0; j < E_N; j++) fprintf(stderr, " %s", E_NAMES[j]);
            fprintf(stderr, ")\n");
            fclose(f);
            return -1;
        }
        E_PJ[k] = v;
    }
    fclose(f);
    return 0;
}

/* ---- model accounting -------------------------------------------------------------------------------------- */


static int is_float_type(int t) { return t == 0 || t == 1 || t == 30; }

int model_account(const char *path, model_stats *ms) {
    memset(ms, 0, sizeof *ms);
    octet_gguf *g = NULL;
    octet_error err;
    memset(&err, 0, sizeof err);
    if (octet_gguf_open(&g, path, &err)) {
        fprintf(stderr, "octet bench: %s\n", err.msg);
        return -1;
    }
    int has_output = 0;
    octet_tensor_info embd;
    memset(&embd, 0, sizeof embd);
    for (int64_t i = 0; i < octet_gguf_n_tensors(g); i++) {
        octet_tensor_info ti;
        if (octet_gguf_tensor_info(g, i, &ti)) continue;
        int64_t n = 1;
        for (int d = 0; d < ti.n_dims; d++) n *= ti.ne[d];
        ms->n_params += n;
        ms->tensor_bytes += (double)ti.n_bytes;
        if (strcmp(ti.name, "token_embd.weight") == 0) {
            embd = ti;
            ms->embd_row_bytes = (double)ti.n_bytes / (double)(ti.ne[1] > 0 ? ti.ne[1] : 1);
            continue;
        }
        if (strcmp(ti.name, "output.weight") == 0) has_output = 1;
        if (ti.n_dims < 2 || ti.ne[1] == 1) {
            ms->vec_bytes += (double)ti.n_bytes;
            continue;
        }
        ms->mat_bytes += (double)ti.n_bytes;
        if (is_float_type(ti.type)) ms->macs_float += (double)n;
        else ms->macs_block += (double)n, ms->blocks += (double)n / 32.0;
    }
    if (!has_output && embd.name) { /* tied output: the embedding is also the output matrix */
        double n = (double)embd.ne[0] * (double)embd.ne[1];
        ms->mat_bytes += (double)embd.n_bytes;
        if (is_float_type(embd.type)) ms->macs_float += n;
        else ms->macs_block += n, ms->blocks += n / 32.0;
    }
    octet_gguf_close(g);
    FILE *f = fopen(path, "rb");
    if (f) {
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        ms->file_bytes = sz > 0 ? (uint64_t)sz : 0;
        fclose(f);
    }
    return 0;
}

/* Per-token operation counts (see the top comment) at mean attention length n_past, in energy-table order. */
void count_ops(const model_stats *ms, const octet_model_info *mi, int exec, double n_past, double ops[E_N]) {
    memset(ops, 0, sizeof(double) * E_N);
    const double E = mi->n_embd, L = mi->n_layer, H = mi->n_head, hd = mi->head_dim, KV = mi->n_head_kv * hd;
    const double F = mi->n_ff, Q = H * hd;
    /* matrix products */
    ops[E_I8_MUL] += ms->macs_block;
    ops[E_I32_ADD] += ms->macs_block;
    if (exec == OCTET_EXEC_INT) {
        ops[E_I32_MUL] += ms->blocks;
        ops[E_I32_ADD] += ms->blocks;
    } else {
        ops[E_F32_MUL] += 2 * ms->blocks;
        ops[E_F32_ADD] += ms->blocks;
    }
    ops[E_F32_MUL] += ms->macs_float;
    ops[E_F32_ADD] += ms->macs_float;
    /* attention: scores and weighted sum */
    double att = 2 * H * hd * n_past * L;
    if (exec == OCTET_EXEC_INT) ops[E_I8_MUL] += att, ops[E_I32_ADD] += att;
    else ops[E_F32_MUL] += att, ops[E_F32_ADD] += att;
    /* element-wise, per layer: 2 rmsnorms (square+add, scale, gain: 3 mul 1 add per element), RoPE on Q and K
     * (4 mul 2 add per pair), softmax (max, exp ~ 10 ops, sum, scale per score), SiLU and gating (~12 ops per
     * element), 2 residual adds; plus the final norm. */
    double mul = L * (2 * 3 * E + 2 * (Q + KV) + H * n_past * 6 + F * 6) + 3 * E;
    double add = L * (2 * E + (Q + KV) + H * n_past * 6 + F * 6 + 2 * E) + E;
    if (exec == OCTET_EXEC_INT) ops[E_I32_MUL] += mul, ops[E_I32_ADD] += add;
    else ops[E_F32_MUL] += mul, ops[E_F32_ADD] += add;
}


int cli_model_cost(const char *path, const octet_model_info *mi, int exec, double n_past, model_cost *out) {
    memset(out, 0, sizeof *out);
    model_stats ms;
    if (model_account(path, &ms)) return -1;
    double kv = 2.0 * mi->n_layer * (double)mi->n_head_kv * mi->head_dim * n_past * 4.0;
    out->file_bytes = ms.file_bytes;
    out->bits_per_weight = ms.n_params > 0 ? 8.0 * ms.tensor_bytes / (double)ms.n_params : 0;
    out->bytes_per_token = ms.mat_bytes + ms.embd_row_bytes + ms.vec_bytes + kv;
    double ops[E_N];
    count_ops(&ms, mi, exec, n_past, ops);
    double pj = 0;
    for (int k = 0; k < E_N; k++)
        if (k != E_DRAM) pj += ops[k] * E_PJ[k];
    out->joules_compute = pj * 1e-12;
    out->joules_memory = out->bytes_per_token / 8.0 * E_PJ[E_DRAM] * 1e-12;
    return 0;
}
