/*
 * types.h - tensor element types and quantized block layouts, byte-compatible with GGUF / ggml.
 *
 * Layouts (ggml's published block formats; "d" scales are IEEE fp16 stored as uint16_t):
 *   Q4_0  32 weights: d, qs[16]       w = d * ((nibble) - 8); low nibbles hold weights 0..15, high 16..31
 *   Q4_1  32 weights: d, m, qs[16]    w = d * nibble + m
 *   Q5_0  32 weights: d, qh[4], qs[16] 5th bit of weight j in bit j of qh (little-endian uint32); w = d*(q - 16)
 *   Q5_1  32 weights: d, m, qh[4], qs[16]  w = d * q + m
 *   Q8_0  32 weights: d, qs[32] int8  w = d * q
 *   Q8_1  32 weights: d, s = d * sum(qs), qs[32]   (activation type for Q4_1 / Q5_1 dots)
 *   Q4_K  256 weights: d, dmin, scales[12] (8 pairs of 6-bit scale/min packed), qs[128]
 *         super-block of 8 sub-blocks of 32: w = d * sc * q - dmin * m
 *   Q5_K  256 weights: d, dmin, scales[12] (as Q4_K), qh[32], qs[128]; codes q in 0..31,
 *         w = d * sc * q - dmin * m; low 4 bits as Q4_K's nibbles, 5th bit of weight 32j + l in bit j of qh[l]
 *   Q6_K  256 weights: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] int8, d
 *         16 sub-blocks of 16: w = d * scale * (q - 32)
 *   Q8_K  256 weights: float d, qs[256] int8, bsums[16] int16 (sums of 16-groups); activation type for K dots
 */
#ifndef OCTET_TYPES_H
#define OCTET_TYPES_H

#include <assert.h>
#include <stdint.h>

/* GGML type ids as stored in GGUF tensor infos. */
enum octet_type {
    OCTET_TYPE_F32 = 0,
    OCTET_TYPE_F16 = 1,
    OCTET_TYPE_Q4_0 = 2,
    OCTET_TYPE_Q4_1 = 3,
    OCTET_TYPE_Q5_0 = 6,
    OCTET_TYPE_Q5_1 = 7,
    OCTET_TYPE_Q8_0 = 8,
    OCTET_TYPE_Q8_1 = 9,
    OCTET_TYPE_Q2_K = 10,
    OCTET_TYPE_Q3_K = 11,
    OCTET_TYPE_Q4_K = 12,
    OCTET_TYPE_Q5_K = 13,
    OCTET_TYPE_Q6_K = 14,
    OCTET_TYPE_Q8_K = 15,
    OCTET_TYPE_BF16 = 30,
    OCTET_TYPE_COUNT = 40 /* table size; ids above are not GGML types octet knows */
};

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256
#define K_SCALE_SIZE 12

typedef struct { uint16_t d; uint8_t qs[QK4_0 / 2]; } block_q4_0;
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 size");
typedef struct { uint16_t d, m; uint8_t qs[QK4_1 / 2]; } block_q4_1;
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 size");
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } block_q5_0;
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 size");
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; } block_q5_1;
static_assert(sizeof(block_q5_1) == 24, "block_q5_1 size");
typedef struct { uint16_t d; int8_t qs[QK8_0]; } block_q8_0;
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");
typedef struct { uint16_t d, s; int8_t qs[QK8_1]; } block_q8_1;
static_assert(sizeof(block_q8_1) == 36, "block_q8_1 size");
typedef struct { uint16_t d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } block_q4_K;
static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;
static_assert(sizeof(block_q5_K) == 176, "block_q5_K size");
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; } block_q6_K;
static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } block_q8_K;
static_assert(sizeof(block_q8_K) == 292, "block_q8_K size");

#endif
