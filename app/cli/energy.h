/*
 * energy.h - per-token memory traffic and energy estimate (see energy.c), shared by bench and report.
 */
#ifndef OCTET_CLI_ENERGY_H
#define OCTET_CLI_ENERGY_H

#include <stdint.h>

#include "octet.h"

enum { E_I8_ADD, E_I32_ADD, E_I8_MUL, E_I32_MUL, E_F16_ADD, E_F16_MUL, E_F32_ADD, E_F32_MUL, E_SRAM8K, E_SRAM32K,
       E_SRAM1M, E_DRAM, E_N };
extern const char *const E_NAMES[E_N];
extern double E_PJ[E_N]; /* picojoules per operation; replaced by load_energy_table */

typedef struct model_stats {
    double mat_bytes;      /* bytes of every matrix used as a product weight (output included) */
    double embd_row_bytes; /* one token_embd row */
    double vec_bytes;      /* norms and biases */
    double macs_block;     /* MACs against block-quantized weights */
    double blocks;         /* 32-element blocks in those */
    double macs_float;     /* MACs against F32/F16/BF16 weights */
    uint64_t file_bytes;
    double tensor_bytes;   /* all tensors */
    int64_t n_params;
} model_stats;

/* Replace table entries from a file of "name picojoules" lines. Prints a message and returns -1 on error. */
int load_energy_table(const char *path);
/* Weight bytes and MAC counts of a GGUF file. Prints a message and returns -1 on error. */
int model_account(const char *path, model_stats *ms);
/* Per-token operation counts at mean attention length n_past, in table order. */
void count_ops(const model_stats *ms, const octet_model_info *mi, int exec, double n_past, double ops[E_N]);

typedef struct model_cost {
    uint64_t file_bytes;
    double bits_per_weight;  /* tensor bits / parameters */
    double bytes_per_token;  /* generation: every matrix once, one embedding row, norms, K/V rows at n_past */
    double joules_compute, joules_memory;
} model_cost;
int cli_model_cost(const char *path, const octet_model_info *mi, int exec, double n_past, model_cost *out);

#endif
