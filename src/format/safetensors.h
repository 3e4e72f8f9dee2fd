/*
 * safetensors.h - strict reader of the safetensors format (Hugging Face) over a read-only mapping or a caller's
 * buffer. The byte layout accepted and every validation rule are documented at the top of safetensors.c.
 *
 * Ownership: the octet__st owns the mapping (when opened from a path), the tensor array and the name copies.
 * Tensor data pointers point into the mapping and live until octet__st_close.
 */
#ifndef OCTET_SAFETENSORS_H
#define OCTET_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "octet.h"

/* Bounds (why): the header is at most 100,000,000 bytes, the limit of the reference implementation
 * (safetensors' MAX_HEADER_SIZE), so no real file exceeds it; 8 dimensions cover every tensor in use (GGUF takes
 * 4); one extent at most 2^40 as in GGUF (limits.h), so the product of two extents cannot overflow before the
 * checked element count sees it; 2^20 tensors in one file is ~1000x a 405B Llama shard. */
#define OCTET_ST_MAX_HEADER_BYTES 100000000ull
#define OCTET_ST_MAX_DIMS 8
#define OCTET_ST_MAX_DIM (1ll << 40)
#define OCTET_ST_MAX_TENSORS (1 << 20)

/* The dtypes octet converts. Others in the format (F64, I8..I64, U8..U64, BOOL, F8_*) are refused by name. */
enum octet__st_dtype { OCTET_ST_F32 = 0, OCTET_ST_F16 = 1, OCTET_ST_BF16 = 2 };

typedef struct octet__st_tensor {
    char *name;                      /* NUL-terminated (owned) */
    int dtype;                       /* enum octet__st_dtype */
    int n_dims;                      /* 0 for a scalar */
    int64_t shape[OCTET_ST_MAX_DIMS];/* outermost first, as in the file (row-major: shape[n_dims-1] is contiguous) */
    uint64_t n_elements;
    uint64_t begin, end;             /* data_offsets, relative to the data section */
    const void *data;                /* begin bytes into the data section; end - begin bytes */
} octet__st_tensor;

typedef struct octet__st octet__st;

/* Open and validate path (mapped when use_mmap, else read). Errors: OCTET_EIO, OCTET_EFORMAT (the message names
 * the file, the tensor or field, and the reason), OCTET_EUNSUPPORTED (a dtype octet does not convert),
 * OCTET_ENOMEM. */
int octet__st_open(octet__st **out, const char *path, int use_mmap, octet_error *err);
/* Parse a caller's buffer (borrowed: it must outlive the result). name is used in messages. */
int octet__st_open_memory(octet__st **out, const void *data, size_t size, const char *name, octet_error *err);
void octet__st_close(octet__st *st);

const char *octet__st_path(const octet__st *st);
int64_t octet__st_n_tensors(const octet__st *st);
/* Tensors in file order of their data (ascending begin). */
const octet__st_tensor *octet__st_tensor_at(const octet__st *st, int64_t i);
/* By name (binary search), or NULL. */
const octet__st_tensor *octet__st_find(const octet__st *st, const char *name);
/* Bytes per element of a dtype, and its name. */
size_t octet__st_dtype_size(int dtype);
const char *octet__st_dtype_name(int dtype);

#endif
