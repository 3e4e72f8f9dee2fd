/*
 * gguf.h - internal GGUF reader (v2 and v3) over a read-only mapping (or a caller's memory buffer, for fuzzing).
 * The byte layout accepted and every validation rule are documented at the top of gguf.c.
 *
 * All pointers handed out point into the mapping or into arrays owned by the octet__gguf; they live until
 * octet__gguf_close. Strings from the file are length-counted views (octet__str), not NUL-terminated, except
 * where a function says otherwise.
 */
#ifndef OCTET_GGUF_H
#define OCTET_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "octet.h"

enum octet__gguf_vtype {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT
};

typedef struct octet__str {
    const char *ptr;
    uint64_t len;
} octet__str;

typedef struct octet__gguf_kv {
    octet__str key;
    char *key_z;          /* NUL-terminated copy of the key (owned) */
    int type;             /* enum octet__gguf_vtype */
    int arr_type;         /* element type when type == ARRAY */
    uint64_t arr_n;       /* element count when type == ARRAY */
    const uint8_t *value; /* start of the value's bytes in the file (after the type tag; for arrays after the
                             element type and count) */
    uint64_t value_bytes; /* total bytes of the value from `value` */
} octet__gguf_kv;

typedef struct octet__gguf_tensor {
    octet__str name;
    char *name_z;       /* NUL-terminated copy (owned) */
    int n_dims;
    int64_t ne[4];      /* unused dims are 1 */
    int type;           /* enum octet_type */
    uint64_t offset;    /* relative to the data section, as stored */
    uint64_t n_elements;
    uint64_t n_bytes;
    const void *data;   /* inside the mapping */
} octet__gguf_tensor;

typedef struct octet__gguf octet__gguf;

/* Open and validate path. use_mmap 0 reads the file into memory instead of mapping it. */
int octet__gguf_open(octet__gguf **out, const char *path, int use_mmap, octet_error *err);
/* Parse a caller's buffer (not copied: it must outlive the result). name is used in messages. */
int octet__gguf_open_memory(octet__gguf **out, const void *data, size_t size, const char *name, octet_error *err);
void octet__gguf_close(octet__gguf *g);

uint32_t octet__gguf_version(const octet__gguf *g);
const char *octet__gguf_path(const octet__gguf *g);
size_t octet__gguf_alignment(const octet__gguf *g);
uint64_t octet__gguf_file_size(const octet__gguf *g);
/* Mapping base and size (for madvise / mlock). */
const void *octet__gguf_base(const octet__gguf *g);
int octet__gguf_mlock(octet__gguf *g, octet_error *err);
/* Release the pages wholly inside [p, p + n) of a file opened with mmap (octet__map_drop); 0 and nothing done
 * for files read into memory, locked files and buffers. The bytes stay readable (they fault back in). */
int octet__gguf_drop_pages(const octet__gguf *g, const void *p, size_t n);
/* 1 when octet__gguf_drop_pages can release pages (the file is mmapped and not locked). */
int octet__gguf_pages_droppable(const octet__gguf *g);
/* Fault in [p, p + n) of a mapped file in one call (octet__map_prefault); nothing otherwise. */
void octet__gguf_prefault(const octet__gguf *g, const void *p, size_t n);
/* 1 when the view is an mmap of the file and not locked: its pages may be released with madvise(MADV_DONTNEED)
 * (read-only and private, so they are read back from the file when touched again). */
int octet__gguf_droppable(const octet__gguf *g);
/* Start of the data section (tensor offsets are relative to it), from the start of the file. */
uint64_t octet__gguf_data_offset(const octet__gguf *g);

/* The public handle is the internal object itself (gguf_public.c): these convert without allocating. */
static inline const octet_gguf *octet__gguf_as_public(const octet__gguf *g) { return (const octet_gguf *)(const void *)g; }
static inline const octet__gguf *octet__gguf_from_public(const octet_gguf *g) { return (const octet__gguf *)(const void *)g; }

int64_t octet__gguf_n_kv(const octet__gguf *g);
const octet__gguf_kv *octet__gguf_kv_at(const octet__gguf *g, int64_t i);
/* Index of key, or -1. */
int64_t octet__gguf_find_kv(const octet__gguf *g, const char *key);

/* Typed getters. Return 0, OCTET_ENOTFOUND when the key is absent (err untouched), or OCTET_EFORMAT when the
 * value has the wrong type or does not fit (message names the key). Integer getters accept any integer type
 * (and bool) whose value fits the destination. Float getter accepts FLOAT32 and FLOAT64. */
int octet__gguf_get_u32(const octet__gguf *g, const char *key, uint32_t *out, octet_error *err);
int octet__gguf_get_i64(const octet__gguf *g, const char *key, int64_t *out, octet_error *err);
int octet__gguf_get_f32(const octet__gguf *g, const char *key, float *out, octet_error *err);
int octet__gguf_get_bool(const octet__gguf *g, const char *key, int *out, octet_error *err);
int octet__gguf_get_str(const octet__gguf *g, const char *key, octet__str *out, octet_error *err);

/* Arrays. get_arr checks that key is an array whose elements are of elem_type (any integer width is NOT
 * converted here: the caller names the exact type), returning the count and a pointer to packed elements.
 * Not for STRING or ARRAY element types. */
int octet__gguf_get_arr(const octet__gguf *g, const char *key, int elem_type, uint64_t *n, const void **data,
                        octet_error *err);
/* An array of strings as a freshly allocated array of views (caller frees with octet__free). */
int octet__gguf_get_str_arr(const octet__gguf *g, const char *key, octet__str **out, uint64_t *n,
                            octet_error *err);
/* An integer array of any integer element width converted to int32 (range-checked). Caller frees. */
int octet__gguf_get_i32_arr(const octet__gguf *g, const char *key, int32_t **out, uint64_t *n, octet_error *err);
/* A FLOAT32 (or FLOAT64) array converted to float. Caller frees. */
int octet__gguf_get_f32_arr(const octet__gguf *g, const char *key, float **out, uint64_t *n, octet_error *err);

/* Render a value for humans (arrays: type, count and the first few elements). Always NUL-terminates. */
void octet__gguf_value_str(const octet__gguf *g, int64_t i, char *buf, size_t buf_size);

int64_t octet__gguf_n_tensors(const octet__gguf *g);
const octet__gguf_tensor *octet__gguf_tensor_at(const octet__gguf *g, int64_t i);
const octet__gguf_tensor *octet__gguf_find_tensor(const octet__gguf *g, const char *name);

const char *octet__gguf_type_name(int vtype);

#endif
