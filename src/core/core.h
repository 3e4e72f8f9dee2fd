/*
 * core.h - internals shared by every layer: error reporting, the allocation hook, checked size arithmetic,
 * logging and CPU feature detection. Nothing here prints or exits.
 */
#ifndef OCTET_CORE_H
#define OCTET_CORE_H

#include "octet.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define OCTET__PRINTF(a, b) __attribute__((format(printf, a, b)))
#define OCTET__UNUSED __attribute__((unused))
#else
#define OCTET__PRINTF(a, b)
#define OCTET__UNUSED
#endif

/* Fill err (may be NULL) with code and a formatted message; returns code so callers can `return octet__err(...)`. */
int octet__err(octet_error *err, int code, const char *fmt, ...) OCTET__PRINTF(3, 4);
/* Prefix an existing message: "prefix: old message". */
int octet__err_prefix(octet_error *err, const char *fmt, ...) OCTET__PRINTF(2, 3);

/* Allocation through the hook (see octet_set_alloc_hooks). octet__free accepts NULL. */
void *octet__malloc(size_t n);
void *octet__calloc(size_t n, size_t size);
void *octet__realloc_array(void *p, size_t old_n, size_t n, size_t size); /* via malloc+copy+free */
void octet__free(void *p);
char *octet__strndup(const char *s, size_t n);

/* Checked arithmetic: return false on overflow (result untouched). */
static inline bool octet__mul_u64(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static inline bool octet__add_u64(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_add_overflow(a, b, r); }
static inline bool octet__mul_size(size_t a, size_t b, size_t *r) { return !__builtin_mul_overflow(a, b, r); }
static inline bool octet__add_size(size_t a, size_t b, size_t *r) { return !__builtin_add_overflow(a, b, r); }
static inline bool octet__mul_i64(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }

void octet__log(int level, const char *fmt, ...) OCTET__PRINTF(2, 3);

/* CPU features (usable ones: the OS saves the state), detected once. The kernel sets (src/kernels/kset.h) are
 * chosen from these. */
typedef struct octet__cpu {
    bool avx2, fma, f16c, avx512f, avx512dq, avx512bw, avx512vl, avx512vnni, avxvnni; /* x86-64 */
    bool neon, dotprod, i8mm;                                                      /* aarch64 */
} octet__cpu;
const octet__cpu *octet__cpu_features(void);

/* fp16 / bf16 conversions (portable, exact; IEEE binary16 round-to-nearest-even). */
float octet__fp16_to_fp32(uint16_t h);
uint16_t octet__fp32_to_fp16(float f);
float octet__bf16_to_fp32(uint16_t h);
uint16_t octet__fp32_to_bf16(float f);

#endif
