/*
 * gguf.c - the GGUF reader (versions 2 and 3, little-endian), with every field validated before use.
 *
 * Byte layout accepted (all integers little-endian; docs/gguf.md has the full table and every rule):
 *
 *   header   "GGUF" | u32 version (2 or 3) | u64 n_tensors | u64 n_kv
 *   kv x n   string key | u32 value type | value
 *   string   u64 length | length bytes (no terminator)
 *   value    u8 i8 u16 i16 u32 i32 f32 bool(1 byte) string array u64 i64 f64   (type ids 0..12)
 *   array    u32 element type | u64 count | count elements (arrays of arrays nest)
 *   tensor   string name | u32 n_dims | n_dims x u64 ne | u32 ggml type | u64 offset (from the data section)
 *   padding  to general.alignment (default 32) from the start of the file
 *   data     the tensor bytes
 *
 * Reference: the GGUF specification, ggml docs/gguf.md (github.com/ggml-org/ggml/blob/master/docs/gguf.md).
 *
 * Invariants after a successful parse: every string, value and tensor lies inside the buffer; keys are unique,
 * non-empty printable ASCII; tensor names are unique, non-empty, without NUL; each tensor's bytes are inside the
 * data section, aligned, and overlap no other tensor. The parse is one pass over the metadata (the only work
 * that is not O(1) per byte read is sorting tensors by offset), and lookups by key or name go through hash
 * tables, so a 150k-entry vocabulary costs one walk.
 *
 * Ownership: the octet__gguf owns the mapping (when opened from a path), the kv and tensor arrays, the
 * NUL-terminated copies of keys and names, and the hash tables. A buffer given to octet__gguf_open_memory is
 * borrowed.
 */
#include "gguf.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/limits.h"
#include "kernels/kernels.h"
#include "map.h"

#define GGUF_DEFAULT_ALIGNMENT 32u
/* Smallest possible encodings, used to bound counts by the bytes left before walking them. */
#define GGUF_HEADER_BYTES 24u      /* magic, version, n_tensors, n_kv */
#define GGUF_MIN_KV_BYTES 14u      /* u64 key length, a 1-byte key, u32 type, a 1-byte value */
#define GGUF_MIN_TENSOR_BYTES 33u  /* u64 name length, 1-byte name, u32 n_dims, one u64 ne, u32 type, u64 offset */
#define GGUF_MIN_ARRAY_BYTES 12u   /* u32 element type, u64 count */

struct octet__gguf {
    octet__map map;         /* the file when opened from a path */
    const uint8_t *data;    /* the whole file */
    uint64_t size;
    char *path;             /* owned copy, for messages */
    uint32_t version;
    size_t alignment;
    uint64_t data_offset;   /* start of the data section from the start of the file */
    int64_t n_kv, n_tensors;
    octet__gguf_kv *kv;
    octet__gguf_tensor *tensors;
    uint32_t *kv_hash;      /* open addressing: slot holds index + 1, 0 = empty */
    size_t kv_hash_cap;     /* power of two */
    uint32_t *t_hash;
    size_t t_hash_cap;
    int mem_locked;         /* open_memory buffer locked by octet__gguf_mlock */
};

/* ---- little-endian loads (no alignment assumed) -------------------------------------------------------- */
static uint16_t le16(const uint8_t *b) { return (uint16_t)(b[0] | (b[1] << 8)); }
static uint32_t le32(const uint8_t *b) {
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}
static uint64_t le64(const uint8_t *b) { return (uint64_t)le32(b) | ((uint64_t)le32(b + 4) << 32); }

static const uint8_t vtype_size[GGUF_TYPE_COUNT] = {
    [GGUF_TYPE_UINT8] = 1, [GGUF_TYPE_INT8] = 1,    [GGUF_TYPE_UINT16] = 2,  [GGUF_TYPE_INT16] = 2,
    [GGUF_TYPE_UINT32] = 4, [GGUF_TYPE_INT32] = 4,  [GGUF_TYPE_FLOAT32] = 4, [GGUF_TYPE_BOOL] = 1,
    [GGUF_TYPE_STRING] = 0, [GGUF_TYPE_ARRAY] = 0,  [GGUF_TYPE_UINT64] = 8,  [GGUF_TYPE_INT64] = 8,
    [GGUF_TYPE_FLOAT64] = 8,
};

static const char *const vtype_names[GGUF_TYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64",
    "float64",
};

const char *octet__gguf_type_name(int vtype) {
    return vtype >= 0 && vtype < GGUF_TYPE_COUNT ? vtype_names[vtype] : "unknown";
}

static int is_int_type(int t) {
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16:
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_BOOL:
        return 1;
    default:
        return 0;
    }
}

/* An integer value as sign and magnitude: neg != 0 means the value is -(int64)(mag). b holds the value bytes. */
typedef struct ival {
    int neg;
    uint64_t u; /* value when !neg */
    int64_t s;  /* value when neg (and also when !neg and it fits) */
} ival;

static ival read_int(int t, const uint8_t *b) {
    ival v = {0, 0, 0};
    int64_t s = 0;
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_BOOL: v.u = b[0]; break;
    case GGUF_TYPE_UINT16: v.u = le16(b); break;
    case GGUF_TYPE_UINT32: v.u = le32(b); break;
    case GGUF_TYPE_UINT64: v.u = le64(b); break;
    case GGUF_TYPE_INT8: s = (int8_t)b[0]; goto sgn;
    case GGUF_TYPE_INT16: s = (int16_t)le16(b); goto sgn;
    case GGUF_TYPE_INT32: s = (int32_t)le32(b); goto sgn;
    case GGUF_TYPE_INT64: s = (int64_t)le64(b); goto sgn;
    default: break;
    }
    v.s = v.u <= (uint64_t)INT64_MAX ? (int64_t)v.u : INT64_MAX;
    return v;
sgn:
    v.s = s;
    v.neg = s < 0;
    v.u = s < 0 ? 0 : (uint64_t)s;
    return v;
}

static double read_float(int t, const uint8_t *b) {
    if (t == GGUF_TYPE_FLOAT32) {
        uint32_t u = le32(b);
        float f;
        memcpy(&f, &u, 4);
        return (double)f;
    }
    uint64_t u = le64(b);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* ---- hashing (FNV-1a) ---------------------------------------------------------------------------------- */
static uint64_t hash_bytes(const char *p, uint64_t n) {
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static size_t hash_cap_for(int64_t n) {
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap <<= 1;
    return cap;
}

static int str_eq(octet__str a, const char *p, uint64_t n) { return a.len == n && memcmp(a.ptr, p, n) == 0; }

/* Find (p, n) among `names` through `table`; returns the index or -1. When insert_idx >= 0 and the name is
 * absent, inserts insert_idx. */
static int64_t hash_find(uint32_t *table, size_t cap, const octet__str *names, size_t stride, const char *p,
                         uint64_t n, int64_t insert_idx) {
    size_t mask = cap - 1;
    size_t i = (size_t)hash_bytes(p, n) & mask;
    for (;;) {
        uint32_t slot = table[i];
        if (slot == 0) {
            if (insert_idx >= 0) table[i] = (uint32_t)insert_idx + 1;
            return -1;
        }
        const octet__str *s = (const octet__str *)(const void *)((const char *)names + (size_t)(slot - 1) * stride);
        if (str_eq(*s, p, n)) return (int64_t)slot - 1;
        i = (i + 1) & mask;
    }
}

/* ---- the parser ---------------------------------------------------------------------------------------- */
typedef struct parser {
    const uint8_t *p;
    uint64_t size, pos;
    const char *name;   /* file name for messages */
    octet_error *err;
    char field[160];    /* where we are, e.g. "kv[3] 'general.name'" */
} parser;

/* "name: field: what: reason" (empty parts skipped). */
static int fail(parser *ps, int code, const char *what, const char *fmt, ...) OCTET__PRINTF(4, 5);
static int fail(parser *ps, int code, const char *what, const char *fmt, ...) {
    char reason[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return octet__err(ps->err, code, "%s: %s%s%s%s%s", ps->name, ps->field, ps->field[0] ? ": " : "",
                      what ? what : "", what ? ": " : "", reason);
}

static uint64_t left(const parser *ps) { return ps->size - ps->pos; }

static int need(parser *ps, uint64_t n, const char *what) {
    if (n > left(ps))
        return fail(ps, OCTET_EFORMAT, what,
                    "truncated: needs %" PRIu64 " bytes at offset %" PRIu64 " but the file ends at %" PRIu64, n,
                    ps->pos, ps->size);
    return 0;
}

static int rd_u32(parser *ps, uint32_t *v, const char *what) {
    int rc = need(ps, 4, what);
    if (rc) return rc;
    *v = le32(ps->p + ps->pos);
    ps->pos += 4;
    return 0;
}

static int rd_u64(parser *ps, uint64_t *v, const char *what) {
    int rc = need(ps, 8, what);
    if (rc) return rc;
    *v = le64(ps->p + ps->pos);
    ps->pos += 8;
    return 0;
}

/* A string of at most max bytes. idx >= 0 names an array element in messages. */
static int rd_str(parser *ps, octet__str *out, uint64_t max, const char *what, int64_t idx) {
    if (left(ps) < 8) {
        if (idx >= 0)
            return fail(ps, OCTET_EFORMAT, what, "element %" PRId64 ": string length truncated at offset %" PRIu64
                        " (file ends at %" PRIu64 ")", idx, ps->pos, ps->size);
        return need(ps, 8, what);
    }
    uint64_t n = le64(ps->p + ps->pos);
    ps->pos += 8;
    if (n > max || n > left(ps)) {
        char el[40] = "";
        if (idx >= 0) snprintf(el, sizeof el, "element %" PRId64 ": ", idx);
        if (n > max)
            return fail(ps, OCTET_EFORMAT, what, "%sstring length %" PRIu64 " exceeds the limit of %" PRIu64 " bytes",
                        el, n, max);
        return fail(ps, OCTET_EFORMAT, what, "%sstring length %" PRIu64 " exceeds the %" PRIu64
                    " bytes left in the file at offset %" PRIu64, el, n, left(ps), ps->pos);
    }
    out->ptr = (const char *)(ps->p + ps->pos);
    out->len = n;
    ps->pos += n;
    return 0;
}

static int walk_array(parser *ps, int depth, const char *what, int *et_out, uint64_t *n_out, uint64_t *data_pos);

/* Validate and step over `count` elements of type t (t is a known type). */
static int walk_elems(parser *ps, int t, uint64_t count, int depth, const char *what) {
    uint64_t sz = vtype_size[t];
    if (sz && depth == 0) { /* a scalar */
        int rc = need(ps, sz, what);
        if (rc) return rc;
    }
    if (sz) {
        uint64_t bytes;
        if (!octet__mul_u64(count, sz, &bytes) || bytes > left(ps))
            return fail(ps, OCTET_EFORMAT, what, "%" PRIu64 " elements of %s need %" PRIu64 " bytes but %" PRIu64
                        " are left in the file at offset %" PRIu64, count, vtype_names[t], count * sz, left(ps),
                        ps->pos);
        if (t == GGUF_TYPE_BOOL) {
            for (uint64_t i = 0; i < count; i++) {
                uint8_t b = ps->p[ps->pos + i];
                if (b > 1) {
                    char el[40] = "";
                    if (count != 1 || depth > 0) snprintf(el, sizeof el, "element %" PRIu64 ": ", i);
                    return fail(ps, OCTET_EFORMAT, what, "%sbool value %u is neither 0 nor 1", el, b);
                }
            }
        }
        ps->pos += bytes;
        return 0;
    }
    if (t == GGUF_TYPE_STRING) {
        /* every string needs its 8-byte length: reject absurd counts before walking */
        if (count > left(ps) / 8)
            return fail(ps, OCTET_EFORMAT, what, "%" PRIu64 " strings need at least %" PRIu64 " bytes but %" PRIu64
                        " are left in the file at offset %" PRIu64, count, count * 8, left(ps), ps->pos);
        for (uint64_t i = 0; i < count; i++) {
            octet__str s;
            int rc = rd_str(ps, &s, OCTET_MAX_GGUF_STRING_BYTES, what, depth > 0 ? (int64_t)i : -1);
            if (rc) return rc;
        }
        return 0;
    }
    /* arrays of arrays */
    if (count > left(ps) / GGUF_MIN_ARRAY_BYTES)
        return fail(ps, OCTET_EFORMAT, what, "%" PRIu64 " nested arrays need at least %" PRIu64 " bytes but %" PRIu64
                    " are left in the file at offset %" PRIu64, count, count * GGUF_MIN_ARRAY_BYTES, left(ps), ps->pos);
    for (uint64_t i = 0; i < count; i++) {
        int et;
        uint64_t n, dp;
        int rc = walk_array(ps, depth + 1, what, &et, &n, &dp);
        if (rc) return rc;
    }
    return 0;
}

/* An array header (element type, count) and its elements. depth 1 is an array directly in a kv. */
static int walk_array(parser *ps, int depth, const char *what, int *et_out, uint64_t *n_out, uint64_t *data_pos) {
    if (depth > OCTET_MAX_GGUF_ARRAY_DEPTH)
        return fail(ps, OCTET_EFORMAT, what, "arrays nested deeper than %d levels (at offset %" PRIu64 ")",
                    OCTET_MAX_GGUF_ARRAY_DEPTH, ps->pos);
    uint32_t et;
    uint64_t n;
    int rc = rd_u32(ps, &et, what);
    if (rc) return rc;
    if (et >= GGUF_TYPE_COUNT)
        return fail(ps, OCTET_EFORMAT, what, "array element type %" PRIu32 " is not a GGUF value type (0..12)", et);
    if ((rc = rd_u64(ps, &n, what))) return rc;
    if (n > OCTET_MAX_GGUF_ARRAY_ELEMENTS)
        return fail(ps, OCTET_EFORMAT, what, "array of %" PRIu64 " elements exceeds the limit of %llu", n,
                    (unsigned long long)OCTET_MAX_GGUF_ARRAY_ELEMENTS);
    *et_out = (int)et;
    *n_out = n;
    *data_pos = ps->pos;
    return walk_elems(ps, (int)et, n, depth, what);
}

static int check_key(parser *ps, octet__str k) {
    if (k.len == 0) return fail(ps, OCTET_EFORMAT, "key", "empty key");
    for (uint64_t i = 0; i < k.len; i++) {
        uint8_t c = (uint8_t)k.ptr[i];
        if (c < 0x20 || c > 0x7e)
            return fail(ps, OCTET_EFORMAT, "key", "byte 0x%02x at position %" PRIu64
                        " is not printable ASCII (GGUF keys are ASCII)", c, i);
    }
    return 0;
}

static int parse_kvs(octet__gguf *g, parser *ps) {
    g->kv_hash_cap = hash_cap_for(g->n_kv);
    g->kv = octet__calloc(g->n_kv ? (size_t)g->n_kv : 1, sizeof *g->kv);
    g->kv_hash = octet__calloc(g->kv_hash_cap, sizeof *g->kv_hash);
    if (!g->kv || !g->kv_hash) return fail(ps, OCTET_ENOMEM, NULL, "cannot allocate the key table (%" PRId64 " keys)", g->n_kv);
    for (int64_t i = 0; i < g->n_kv; i++) {
        octet__gguf_kv *kv = &g->kv[i];
        snprintf(ps->field, sizeof ps->field, "kv[%" PRId64 "]", i);
        int rc = rd_str(ps, &kv->key, OCTET_MAX_GGUF_KEY_BYTES, "key", -1);
        if (rc) return rc;
        if ((rc = check_key(ps, kv->key))) return rc;
        int kl = kv->key.len > 96 ? 96 : (int)kv->key.len;
        snprintf(ps->field, sizeof ps->field, "kv[%" PRId64 "] '%.*s%s'", i, kl, kv->key.ptr,
                 kv->key.len > 96 ? "..." : "");
        int64_t prev = hash_find(g->kv_hash, g->kv_hash_cap, &g->kv[0].key, sizeof *g->kv, kv->key.ptr, kv->key.len, i);
        if (prev >= 0) return fail(ps, OCTET_EFORMAT, NULL, "duplicate key (first defined at kv[%" PRId64 "])", prev);
        kv->key_z = octet__strndup(kv->key.ptr, (size_t)kv->key.len);
        if (!kv->key_z) return fail(ps, OCTET_ENOMEM, NULL, "cannot allocate the key");
        uint32_t t;
        if ((rc = rd_u32(ps, &t, "value type"))) return rc;
        if (t >= GGUF_TYPE_COUNT)
            return fail(ps, OCTET_EFORMAT, "value type", "%" PRIu32 " is not a GGUF value type (0..12)", t);
        kv->type = (int)t;
        kv->arr_type = -1;
        uint64_t start = ps->pos;
        if (t == GGUF_TYPE_ARRAY) {
            int et;
            uint64_t n, dp;
            if ((rc = walk_array(ps, 1, "value", &et, &n, &dp))) return rc;
            kv->arr_type = et;
            kv->arr_n = n;
            start = dp;
        } else if ((rc = walk_elems(ps, (int)t, 1, 0, "value"))) {
            return rc;
        }
        kv->value = ps->p + start;
        kv->value_bytes = ps->pos - start;
    }
    ps->field[0] = 0;
    return 0;
}

static int parse_alignment(octet__gguf *g, parser *ps) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t i = octet__gguf_find_kv(g, "general.alignment");
    if (i < 0) return 0;
    const octet__gguf_kv *kv = &g->kv[i];
    snprintf(ps->field, sizeof ps->field, "kv[%" PRId64 "] 'general.alignment'", i);
    if (!is_int_type(kv->type) || kv->type == GGUF_TYPE_BOOL)
        return fail(ps, OCTET_EFORMAT, NULL, "type %s is not an integer", vtype_names[kv->type]);
    ival v = read_int(kv->type, kv->value);
    if (v.neg) return fail(ps, OCTET_EFORMAT, NULL, "alignment %" PRId64 " is negative", v.s);
    if (v.u == 0 || (v.u & (v.u - 1)) != 0)
        return fail(ps, OCTET_EFORMAT, NULL, "alignment %" PRIu64 " is not a power of two", v.u);
    if (v.u > OCTET_MAX_GGUF_ALIGNMENT)
        return fail(ps, OCTET_EFORMAT, NULL, "alignment %" PRIu64 " exceeds the limit of %u", v.u,
                    OCTET_MAX_GGUF_ALIGNMENT);
    g->alignment = (size_t)v.u;
    ps->field[0] = 0;
    return 0;
}

static int parse_tensor(octet__gguf *g, parser *ps, int64_t i) {
    octet__gguf_tensor *t = &g->tensors[i];
    snprintf(ps->field, sizeof ps->field, "tensor[%" PRId64 "]", i);
    int rc = rd_str(ps, &t->name, OCTET_MAX_GGUF_TENSOR_NAME_BYTES, "name", -1);
    if (rc) return rc;
    if (t->name.len == 0) return fail(ps, OCTET_EFORMAT, "name", "empty tensor name");
    if (memchr(t->name.ptr, 0, (size_t)t->name.len)) return fail(ps, OCTET_EFORMAT, "name", "contains a NUL byte");
    snprintf(ps->field, sizeof ps->field, "tensor[%" PRId64 "] '%.*s'", i, (int)t->name.len, t->name.ptr);
    int64_t prev = hash_find(g->t_hash, g->t_hash_cap, &g->tensors[0].name, sizeof *g->tensors, t->name.ptr,
                             t->name.len, i);
    if (prev >= 0) return fail(ps, OCTET_EFORMAT, NULL, "duplicate tensor name (first at tensor[%" PRId64 "])", prev);
    t->name_z = octet__strndup(t->name.ptr, (size_t)t->name.len);
    if (!t->name_z) return fail(ps, OCTET_ENOMEM, NULL, "cannot allocate the name");

    uint32_t nd;
    if ((rc = rd_u32(ps, &nd, "n_dims"))) return rc;
    if (nd < 1 || nd > OCTET_MAX_GGUF_DIMS)
        return fail(ps, OCTET_EFORMAT, "n_dims", "%" PRIu32 " is outside 1..%d", nd, OCTET_MAX_GGUF_DIMS);
    t->n_dims = (int)nd;
    uint64_t n_el = 1;
    for (int d = 0; d < 4; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
        char what[16];
        snprintf(what, sizeof what, "ne[%" PRIu32 "]", d);
        uint64_t ne;
        if ((rc = rd_u64(ps, &ne, what))) return rc;
        if (ne == 0) return fail(ps, OCTET_EFORMAT, what, "dimension is 0");
        if (ne > (uint64_t)OCTET_MAX_GGUF_DIM)
            return fail(ps, OCTET_EFORMAT, what, "dimension %" PRIu64 " exceeds the limit of %lld", ne,
                        (long long)OCTET_MAX_GGUF_DIM);
        t->ne[d] = (int64_t)ne;
        if (!octet__mul_u64(n_el, ne, &n_el) || n_el > (uint64_t)INT64_MAX)
            return fail(ps, OCTET_EFORMAT, what, "element count overflows int64");
    }
    t->n_elements = n_el;

    uint32_t type;
    if ((rc = rd_u32(ps, &type, "type"))) return rc;
    t->type = (int)type;
    const octet__type_traits *tr = type < OCTET_TYPE_COUNT ? octet__type((int)type) : NULL;
    if (type >= OCTET_TYPE_COUNT) return fail(ps, OCTET_EFORMAT, "type", "%" PRIu32 " is not a GGML type id", type);
    if (!tr || tr->block_size <= 0 || tr->type_size == 0)
        return fail(ps, OCTET_EUNSUPPORTED, "type", "GGML type id %" PRIu32 " is not supported by octet", type);
    if ((uint64_t)t->ne[0] % (uint64_t)tr->block_size != 0)
        return fail(ps, OCTET_EFORMAT, "ne[0]", "row length %" PRId64 " is not a multiple of the %s block size %d",
                    t->ne[0], tr->name ? tr->name : "type", tr->block_size);
    uint64_t row_bytes, n_bytes;
    if (!octet__mul_u64((uint64_t)t->ne[0] / (uint64_t)tr->block_size, tr->type_size, &row_bytes) ||
        !octet__mul_u64(row_bytes, n_el / (uint64_t)t->ne[0], &n_bytes) || n_bytes > (uint64_t)INT64_MAX)
        return fail(ps, OCTET_EFORMAT, NULL, "byte size overflows int64");
    t->n_bytes = n_bytes;

    if ((rc = rd_u64(ps, &t->offset, "offset"))) return rc;
    if (t->offset % g->alignment != 0)
        return fail(ps, OCTET_EFORMAT, "offset", "%" PRIu64 " is not a multiple of the alignment %zu", t->offset,
                    g->alignment);
    return 0;
}

static int cmp_by_offset(const void *a, const void *b) {
    const octet__gguf_tensor *x = *(const octet__gguf_tensor *const *)a, *y = *(const octet__gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int parse_tensors(octet__gguf *g, parser *ps) {
    g->t_hash_cap = hash_cap_for(g->n_tensors);
    g->tensors = octet__calloc(g->n_tensors ? (size_t)g->n_tensors : 1, sizeof *g->tensors);
    g->t_hash = octet__calloc(g->t_hash_cap, sizeof *g->t_hash);
    if (!g->tensors || !g->t_hash)
        return fail(ps, OCTET_ENOMEM, NULL, "cannot allocate the tensor table (%" PRId64 " tensors)", g->n_tensors);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        int rc = parse_tensor(g, ps, i);
        if (rc) return rc;
    }
    ps->field[0] = 0;

    /* the data section starts at the next multiple of the alignment */
    uint64_t a = g->alignment, start;
    if (!octet__add_u64(ps->pos, a - 1, &start)) start = UINT64_MAX;
    start = start / a * a;
    if (g->n_tensors == 0) {
        g->data_offset = start < ps->size ? start : ps->size;
        return 0;
    }
    if (start > ps->size)
        return fail(ps, OCTET_EFORMAT, "data section", "starts at offset %" PRIu64 " (after padding to %zu) beyond "
                    "the end of the file at %" PRIu64, start, g->alignment, ps->size);
    g->data_offset = start;
    uint64_t data_size = ps->size - start;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        octet__gguf_tensor *t = &g->tensors[i];
        uint64_t end;
        if (!octet__add_u64(t->offset, t->n_bytes, &end) || end > data_size) {
            snprintf(ps->field, sizeof ps->field, "tensor[%" PRId64 "] '%s'", i, t->name_z);
            return fail(ps, OCTET_EFORMAT, "offset", "data [%" PRIu64 ", +%" PRIu64 ") ends beyond the data section "
                        "of %" PRIu64 " bytes", t->offset, t->n_bytes, data_size);
        }
        t->data = ps->p + start + t->offset;
    }
    /* no two tensors may share bytes */
    const octet__gguf_tensor **order = octet__malloc((size_t)g->n_tensors * sizeof *order);
    if (!order) return fail(ps, OCTET_ENOMEM, NULL, "cannot allocate the tensor order");
    for (int64_t i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    qsort(order, (size_t)g->n_tensors, sizeof *order, cmp_by_offset);
    for (int64_t i = 1; i < g->n_tensors; i++) {
        const octet__gguf_tensor *p = order[i - 1], *q = order[i];
        if (p->offset + p->n_bytes > q->offset) {
            snprintf(ps->field, sizeof ps->field, "tensor[%td] '%s'", q - g->tensors, q->name_z);
            int rc = fail(ps, OCTET_EFORMAT, "offset", "data at %" PRIu64 " overlaps tensor[%td] '%s' [%" PRIu64
                          ", +%" PRIu64 ")", q->offset, p - g->tensors, p->name_z, p->offset, p->n_bytes);
            octet__free(order);
            return rc;
        }
    }
    octet__free(order);
    return 0;
}

static int parse_header(octet__gguf *g, parser *ps) {
    if (ps->size < GGUF_HEADER_BYTES)
        return fail(ps, OCTET_EFORMAT, "header", "file is %" PRIu64 " bytes, smaller than the %u-byte GGUF header",
                    ps->size, GGUF_HEADER_BYTES);
    const uint8_t *b = ps->p;
    if (memcmp(b, "GGUF", 4) != 0) {
        if (memcmp(b, "lmgg", 4) == 0 || memcmp(b, "fmgg", 4) == 0 || memcmp(b, "tjgg", 4) == 0)
            return fail(ps, OCTET_EUNSUPPORTED, "magic", "legacy GGML/GGMF/GGJT file; convert it to GGUF");
        return fail(ps, OCTET_EFORMAT, "magic", "bytes %02x %02x %02x %02x are not \"GGUF\"", b[0], b[1], b[2], b[3]);
    }
    uint32_t v = le32(b + 4);
    if (v == 0x01000000u || v == 0x02000000u || v == 0x03000000u)
        return fail(ps, OCTET_EUNSUPPORTED, "version", "big-endian GGUF (version %u byte-swapped) is not supported",
                    v >> 24);
    if (v == 1)
        return fail(ps, OCTET_EUNSUPPORTED, "version", "GGUF version 1 (32-bit counts) is not supported; "
                    "re-convert the model");
    if (v == 0) return fail(ps, OCTET_EFORMAT, "version", "0 is not a GGUF version");
    if (v > 3) return fail(ps, OCTET_EUNSUPPORTED, "version", "%" PRIu32 " is newer than the supported 2 and 3", v);
    g->version = v;
    uint64_t nt = le64(b + 8), nkv = le64(b + 16);
    ps->pos = GGUF_HEADER_BYTES;
    uint64_t rest = left(ps);
    if (nt > OCTET_MAX_GGUF_TENSORS)
        return fail(ps, OCTET_EFORMAT, "n_tensors", "%" PRIu64 " exceeds the limit of %d", nt, OCTET_MAX_GGUF_TENSORS);
    if (nkv > OCTET_MAX_GGUF_KV)
        return fail(ps, OCTET_EFORMAT, "n_kv", "%" PRIu64 " exceeds the limit of %d", nkv, OCTET_MAX_GGUF_KV);
    /* both bounded by 2^16, so the products below cannot overflow */
    if (nkv * GGUF_MIN_KV_BYTES > rest)
        return fail(ps, OCTET_EFORMAT, "n_kv", "%" PRIu64 " pairs need at least %" PRIu64 " bytes but the file has "
                    "%" PRIu64 " after the header", nkv, nkv * GGUF_MIN_KV_BYTES, rest);
    if (nkv * GGUF_MIN_KV_BYTES + nt * GGUF_MIN_TENSOR_BYTES > rest)
        return fail(ps, OCTET_EFORMAT, "n_tensors", "%" PRIu64 " tensor infos and %" PRIu64 " pairs need at least "
                    "%" PRIu64 " bytes but the file has %" PRIu64 " after the header", nt, nkv,
                    nkv * GGUF_MIN_KV_BYTES + nt * GGUF_MIN_TENSOR_BYTES, rest);
    g->n_tensors = (int64_t)nt;
    g->n_kv = (int64_t)nkv;
    return 0;
}

static int parse(octet__gguf *g, const char *name, octet_error *err) {
    parser ps = {.p = g->data, .size = g->size, .pos = 0, .name = name, .err = err, .field = ""};
    int rc = parse_header(g, &ps);
    if (!rc) rc = parse_kvs(g, &ps);
    if (!rc) rc = parse_alignment(g, &ps);
    if (!rc) rc = parse_tensors(g, &ps);
    return rc;
}

static int gguf_new(octet__gguf **out, const char *name, octet_error *err) {
    octet__gguf *g = octet__calloc(1, sizeof *g);
    if (!g) return octet__err(err, OCTET_ENOMEM, "%s: cannot allocate the GGUF reader", name);
    g->path = octet__strndup(name, strlen(name));
    if (!g->path) {
        octet__free(g);
        return octet__err(err, OCTET_ENOMEM, "%s: cannot allocate the GGUF reader", name);
    }
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    *out = g;
    return 0;
}

int octet__gguf_open(octet__gguf **out, const char *path, int use_mmap, octet_error *err) {
    *out = NULL;
    if (!path) return octet__err(err, OCTET_EINVAL, "gguf: path is NULL");
    octet__gguf *g;
    int rc = gguf_new(&g, path, err);
    if (rc) return rc;
    if ((rc = octet__map_open(&g->map, path, use_mmap, err))) {
        octet__gguf_close(g);
        return rc;
    }
    g->data = g->map.data;
    g->size = g->map.size;
    if ((rc = parse(g, path, err))) {
        octet__gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int octet__gguf_open_memory(octet__gguf **out, const void *data, size_t size, const char *name, octet_error *err) {
    static const uint8_t empty[1];
    *out = NULL;
    if (!name) name = "memory";
    if (!data && size) return octet__err(err, OCTET_EINVAL, "%s: buffer is NULL", name);
    octet__gguf *g;
    int rc = gguf_new(&g, name, err);
    if (rc) return rc;
    g->data = data ? data : empty;
    g->size = size;
    if ((rc = parse(g, name, err))) {
        octet__gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

void octet__gguf_close(octet__gguf *g) {
    if (!g) return;
    if (g->kv)
        for (int64_t i = 0; i < g->n_kv; i++) octet__free(g->kv[i].key_z);
    if (g->tensors)
        for (int64_t i = 0; i < g->n_tensors; i++) octet__free(g->tensors[i].name_z);
    if (g->mem_locked) octet__mem_unlock(g->data, (size_t)g->size);
    octet__free(g->kv);
    octet__free(g->tensors);
    octet__free(g->kv_hash);
    octet__free(g->t_hash);
    octet__map_close(&g->map);
    octet__free(g->path);
    octet__free(g);
}

/* ---- accessors ----------------------------------------------------------------------------------------- */
uint32_t octet__gguf_version(const octet__gguf *g) { return g->version; }
const char *octet__gguf_path(const octet__gguf *g) { return g->path; }
size_t octet__gguf_alignment(const octet__gguf *g) { return g->alignment; }
uint64_t octet__gguf_file_size(const octet__gguf *g) { return g->size; }
const void *octet__gguf_base(const octet__gguf *g) { return g->data; }
int octet__gguf_droppable(const octet__gguf *g) { return g && g->map.mapped && !g->map.locked; }
uint64_t octet__gguf_data_offset(const octet__gguf *g) { return g->data_offset; }

int octet__gguf_mlock(octet__gguf *g, octet_error *err) {
    if (g->map.data) return octet__map_lock(&g->map, err);
    if (g->mem_locked) return 0;
    int rc = octet__mem_lock(g->data, (size_t)g->size, g->path, err);
    if (!rc) g->mem_locked = 1;
    return rc;
}

int octet__gguf_drop_pages(const octet__gguf *g, const void *p, size_t n) {
    return g->map.data ? octet__map_drop(&g->map, p, n) : 0;
}
int octet__gguf_pages_droppable(const octet__gguf *g) { return g->map.data && octet__map_droppable(&g->map); }
void octet__gguf_prefault(const octet__gguf *g, const void *p, size_t n) {
    if (g->map.data) octet__map_prefault(&g->map, p, n);
}

int64_t octet__gguf_n_kv(const octet__gguf *g) { return g->n_kv; }
const octet__gguf_kv *octet__gguf_kv_at(const octet__gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? &g->kv[i] : NULL;
}

int64_t octet__gguf_find_kv(const octet__gguf *g, const char *key) {
    if (!key || !g->kv_hash) return -1;
    return hash_find(g->kv_hash, g->kv_hash_cap, &g->kv[0].key, sizeof *g->kv, key, strlen(key), -1);
}

int64_t octet__gguf_n_tensors(const octet__gguf *g) { return g->n_tensors; }
const octet__gguf_tensor *octet__gguf_tensor_at(const octet__gguf *g, int64_t i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const octet__gguf_tensor *octet__gguf_find_tensor(const octet__gguf *g, const char *name) {
    if (!name || !g->t_hash) return NULL;
    int64_t i = hash_find(g->t_hash, g->t_hash_cap, &g->tensors[0].name, sizeof *g->tensors, name, strlen(name), -1);
    return i >= 0 ? &g->tensors[i] : NULL;
}

/* ---- typed getters ------------------------------------------------------------------------------------- */
static const octet__gguf_kv *lookup(const octet__gguf *g, const char *key) {
    int64_t i = octet__gguf_find_kv(g, key);
    return i >= 0 ? &g->kv[i] : NULL;
}

static int wrong_type(const octet__gguf *g, const octet__gguf_kv *kv, const char *expected, octet_error *err) {
    if (kv->type == GGUF_TYPE_ARRAY)
        return octet__err(err, OCTET_EFORMAT, "%s: key '%s': array of %s where %s was expected", g->path, kv->key_z,
                          octet__gguf_type_name(kv->arr_type), expected);
    return octet__err(err, OCTET_EFORMAT, "%s: key '%s': %s where %s was expected", g->path, kv->key_z,
                      vtype_names[kv->type], expected);
}

static int get_int(const octet__gguf *g, const char *key, ival *v, const octet__gguf_kv **kvp, octet_error *err) {
    const octet__gguf_kv *kv = lookup(g, key);
    if (!kv) return OCTET_ENOTFOUND;
    if (!is_int_type(kv->type)) return wrong_type(g, kv, "an integer", err);
    *v = read_int(kv->type, kv->value);
    *kvp = kv;
    return 0;
}

int octet__gguf_get_u32(const octet__gguf *g, const char *key, uint32_t *out, octet_error *err) {
    ival v;
    const octet__gguf_kv *kv;
    int rc = get_int(g, key, &v, &kv, err);
    if (rc) return rc;
    if (v.neg) return octet__err(err, OCTET_EFORMAT, "%s: key '%s': value %" PRId64 " is negative where uint32 was "
                                 "expected", g->path, kv->key_z, v.s);
    if (v.u > UINT32_MAX) return octet__err(err, OCTET_EFORMAT, "%s: key '%s': value %" PRIu64 " does not fit uint32",
                                           g->path, kv->key_z, v.u);
    *out = (uint32_t)v.u;
    return 0;
}

int octet__gguf_get_i64(const octet__gguf *g, const char *key, int64_t *out, octet_error *err) {
    ival v;
    const octet__gguf_kv *kv;
    int rc = get_int(g, key, &v, &kv, err);
    if (rc) return rc;
    if (!v.neg && v.u > (uint64_t)INT64_MAX)
        return octet__err(err, OCTET_EFORMAT, "%s: key '%s': value %" PRIu64 " does not fit int64", g->path, kv->key_z,
                          v.u);
    *out = v.s;
    return 0;
}

int octet__gguf_get_f32(const octet__gguf *g, const char *key, float *out, octet_error *err) {
    const octet__gguf_kv *kv = lookup(g, key);
    if (!kv) return OCTET_ENOTFOUND;
    if (kv->type != GGUF_TYPE_FLOAT32 && kv->type != GGUF_TYPE_FLOAT64) return wrong_type(g, kv, "a float", err);
    double d = read_float(kv->type, kv->value);
    if (isfinite(d) && fabs(d) > (double)FLT_MAX)
        return octet__err(err, OCTET_EFORMAT, "%s: key '%s': value %g does not fit float32", g->path, kv->key_z, d);
    *out = (float)d;
    return 0;
}

int octet__gguf_get_bool(const octet__gguf *g, const char *key, int *out, octet_error *err) {
    ival v;
    const octet__gguf_kv *kv;
    int rc = get_int(g, key, &v, &kv, err);
    if (rc == OCTET_EFORMAT) return wrong_type(g, kv = lookup(g, key), "a bool", err);
    if (rc) return rc;
    if (v.neg || v.u > 1)
        return octet__err(err, OCTET_EFORMAT, "%s: key '%s': %s value %" PRId64 " is not a bool (0 or 1)", g->path,
                          kv->key_z, vtype_names[kv->type], v.s);
    *out = (int)v.u;
    return 0;
}

int octet__gguf_get_str(const octet__gguf *g, const char *key, octet__str *out, octet_error *err) {
    const octet__gguf_kv *kv = lookup(g, key);
    if (!kv) return OCTET_ENOTFOUND;
    if (kv->type != GGUF_TYPE_STRING) return wrong_type(g, kv, "a string", err);
    out->len = le64(kv->value);
    out->ptr = (const char *)kv->value + 8;
    return 0;
}

static int get_array(const octet__gguf *g, const char *key, const octet__gguf_kv **kvp, octet_error *err) {
    const octet__gguf_kv *kv = lookup(g, key);
    if (!kv) return OCTET_ENOTFOUND;
    if (kv->type != GGUF_TYPE_ARRAY)
        return octet__err(err, OCTET_EFORMAT, "%s: key '%s': %s where an array was expected", g->path, kv->key_z,
                          vtype_names[kv->type]);
    *kvp = kv;
    return 0;
}

static int wrong_elem(const octet__gguf *g, const octet__gguf_kv *kv, const char *expected, octet_error *err) {
    return octet__err(err, OCTET_EFORMAT, "%s: key '%s': array of %s where an array of %s was expected", g->path,
                      kv->key_z, vtype_names[kv->arr_type], expected);
}

int octet__gguf_get_arr(const octet__gguf *g, const char *key, int elem_type, uint64_t *n, const void **data,
                        octet_error *err) {
    if (elem_type < 0 || elem_type >= GGUF_TYPE_COUNT || elem_type == GGUF_TYPE_STRING || elem_type == GGUF_TYPE_ARRAY)
        return octet__err(err, OCTET_EINVAL, "gguf_get_arr: element type %d is not a fixed-size type", elem_type);
    const octet__gguf_kv *kv;
    int rc = get_array(g, key, &kv, err);
    if (rc) return rc;
    if (kv->arr_type != elem_type) return wrong_elem(g, kv, vtype_names[elem_type], err);
    *n = kv->arr_n;
    *data = kv->value;
    return 0;
}

int octet__gguf_get_str_arr(const octet__gguf *g, const char *key, octet__str **out, uint64_t *n, octet_error *err) {
    const octet__gguf_kv *kv;
    int rc = get_array(g, key, &kv, err);
    if (rc) return rc;
    if (kv->arr_type != GGUF_TYPE_STRING) return wrong_elem(g, kv, "string", err);
    octet__str *v = octet__malloc((size_t)(kv->arr_n ? kv->arr_n : 1) * sizeof *v);
    if (!v) return octet__err(err, OCTET_ENOMEM, "%s: key '%s': cannot allocate %" PRIu64 " string views", g->path,
                              kv->key_z, kv->arr_n);
    const uint8_t *p = kv->value; /* validated at open: every length fits */
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        v[i].len = le64(p);
        v[i].ptr = (const char *)p + 8;
        p += 8 + v[i].len;
    }
    *out = v;
    *n = kv->arr_n;
    return 0;
}

int octet__gguf_get_i32_arr(const octet__gguf *g, const char *key, int32_t **out, uint64_t *n, octet_error *err) {
    const octet__gguf_kv *kv;
    int rc = get_array(g, key, &kv, err);
    if (rc) return rc;
    if (!is_int_type(kv->arr_type)) return wrong_elem(g, kv, "integers", err);
    int32_t *v = octet__malloc((size_t)(kv->arr_n ? kv->arr_n : 1) * sizeof *v);
    if (!v) return octet__err(err, OCTET_ENOMEM, "%s: key '%s': cannot allocate %" PRIu64 " integers", g->path,
                              kv->key_z, kv->arr_n);
    size_t sz = vtype_size[kv->arr_type];
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        ival x = read_int(kv->arr_type, kv->value + i * sz);
        if ((x.neg && x.s < INT32_MIN) || (!x.neg && x.u > INT32_MAX)) {
            octet__free(v);
            return octet__err(err, OCTET_EFORMAT, "%s: key '%s': element %" PRIu64 ": value %s%" PRIu64
                              " does not fit int32", g->path, kv->key_z, i, x.neg ? "-" : "",
                              x.neg ? (uint64_t)0 - (uint64_t)x.s : x.u);
        }
        v[i] = (int32_t)(x.neg ? x.s : (int64_t)x.u);
    }
    *out = v;
    *n = kv->arr_n;
    return 0;
}

int octet__gguf_get_f32_arr(const octet__gguf *g, const char *key, float **out, uint64_t *n, octet_error *err) {
    const octet__gguf_kv *kv;
    int rc = get_array(g, key, &kv, err);
    if (rc) return rc;
    if (kv->arr_type != GGUF_TYPE_FLOAT32 && kv->arr_type != GGUF_TYPE_FLOAT64) return wrong_elem(g, kv, "float32", err);
    float *v = octet__malloc((size_t)(kv->arr_n ? kv->arr_n : 1) * sizeof *v);
    if (!v) return octet__err(err, OCTET_ENOMEM, "%s: key '%s': cannot allocate %" PRIu64 " floats", g->path,
                              kv->key_z, kv->arr_n);
    size_t sz = vtype_size[kv->arr_type];
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        double d = read_float(kv->arr_type, kv->value + i * sz);
        if (isfinite(d) && fabs(d) > (double)FLT_MAX) {
            octet__free(v);
            return octet__err(err, OCTET_EFORMAT, "%s: key '%s': element %" PRIu64 ": value %g does not fit float32",
                              g->path, kv->key_z, i, d);
        }
        v[i] = (float)d;
    }
    *out = v;
    *n = kv->arr_n;
    return 0;
}

/* ---- rendering values for humans ----------------------------------------------------------------------- */
typedef struct sbuf {
    char *buf;
    size_t cap, len; /* len < cap always; buf[len] == 0 */
    int full;
} sbuf;

static void sb_put(sbuf *sb, const char *s, size_t n) {
    if (sb->full) return;
    size_t room = sb->cap - 1 - sb->len;
    if (n > room) {
        n = room;
        sb->full = 1;
    }
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = 0;
}

static void sb_printf(sbuf *sb, const char *fmt, ...) OCTET__PRINTF(2, 3);
static void sb_printf(sbuf *sb, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_put(sb, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void sb_quoted(sbuf *sb, const char *p, uint64_t n, uint64_t max) {
    sb_put(sb, "\"", 1);
    for (uint64_t i = 0; i < n && i < max && !sb->full; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(sb, e, 2);
        } else if (c == '\n') {
            sb_put(sb, "\\n", 2);
        } else if (c < 0x20 || c == 0x7f) {
            sb_printf(sb, "\\x%02x", c);
        } else {
            sb_put(sb, (const char *)&c, 1);
        }
    }
    sb_put(sb, n > max ? "\"..." : "\"", n > max ? 4 : 1);
}

#define RENDER_ELEMS 8

/* Render one value of type t at p (validated bytes); returns the bytes it occupies. */
static uint64_t render(sbuf *sb, int t, const uint8_t *p, int depth);

static uint64_t render_array(sbuf *sb, int et, uint64_t n, const uint8_t *p, int depth) {
    sb_printf(sb, "[%s x %" PRIu64 "]", vtype_names[et], n);
    uint64_t off = 0;
    if (n) sb_put(sb, " {", 2);
    for (uint64_t i = 0; i < n; i++) {
        if (i < RENDER_ELEMS && !sb->full) {
            if (i) sb_put(sb, ", ", 2);
            off += render(sb, et, p + off, depth + 1);
        } else if (vtype_size[et]) {
            off += (n - i) * vtype_size[et];
            break;
        } else {
            off += render(NULL, et, p + off, depth + 1); /* measure only */
        }
    }
    if (n > RENDER_ELEMS) sb_put(sb, ", ...", 5);
    if (n) sb_put(sb, "}", 1);
    return off;
}

static uint64_t render(sbuf *sb, int t, const uint8_t *p, int depth) {
    switch (t) {
    case GGUF_TYPE_STRING: {
        uint64_t n = le64(p);
        if (sb) sb_quoted(sb, (const char *)p + 8, n, depth ? 64 : 256);
        return 8 + n;
    }
    case GGUF_TYPE_ARRAY: {
        int et = (int)le32(p);
        uint64_t n = le64(p + 4);
        if (sb) return 12 + render_array(sb, et, n, p + 12, depth);
        uint64_t off = 12;
        if (vtype_size[et]) return off + n * vtype_size[et];
        for (uint64_t i = 0; i < n; i++) off += render(NULL, et, p + off, depth + 1);
        return off;
    }
    case GGUF_TYPE_FLOAT32: case GGUF_TYPE_FLOAT64:
        if (sb) sb_printf(sb, "%.9g", read_float(t, p));
        return vtype_size[t];
    case GGUF_TYPE_BOOL:
        if (sb) sb_printf(sb, "%s", p[0] ? "true" : "false");
        return 1;
    default: {
        if (sb) {
            ival v = read_int(t, p);
            if (v.neg) sb_printf(sb, "%" PRId64, v.s);
            else sb_printf(sb, "%" PRIu64, v.u);
        }
        return vtype_size[t];
    }
    }
}

void octet__gguf_value_str(const octet__gguf *g, int64_t i, char *buf, size_t buf_size) {
    if (!buf || buf_size == 0) return;
    buf[0] = 0;
    const octet__gguf_kv *kv = octet__gguf_kv_at(g, i);
    if (!kv) return;
    sbuf sb = {buf, buf_size, 0, 0};
    if (kv->type == GGUF_TYPE_ARRAY) render_array(&sb, kv->arr_type, kv->arr_n, kv->value, 1);
    else render(&sb, kv->type, kv->value, 0);
}
