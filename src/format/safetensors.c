/*
 * safetensors.c - the safetensors reader, with every field validated before use.
 *
 * Byte layout accepted (reference: github.com/huggingface/safetensors, README "Format"):
 *
 *   u64 N        little-endian length of the header; 2 <= N <= 100,000,000 and 8 + N <= file size
 *   N bytes      UTF-8 JSON object, starting with '{' (trailing spaces allowed, as the writer pads with 0x20):
 *                  "__metadata__": {"key": "string value", ...}                      optional, string values only
 *                  "NAME": {"dtype": "F32"|"F16"|"BF16", "shape": [d0, d1, ...], "data_offsets": [begin, end]}
 *   data         the rest of the file; offsets are relative to its start (byte 8 + N)
 *
 * Rules, each reported with the file name, the tensor name and the reason:
 *   - the JSON is well formed, has no duplicate keys, and each entry has exactly the three keys above;
 *   - dtype is one of F32, F16, BF16; the format's other dtypes (F64, I8..I64, U8..U64, BOOL, F8_E4M3, F8_E5M2)
 *     are refused as unsupported, anything else as unknown;
 *   - shape has at most 8 non-negative integer extents, each at most 2^40; the element count is computed with
 *     overflow checks;
 *   - data_offsets are two integers with 0 <= begin <= end <= data size, and end - begin equals
 *     elements x dtype size (checked multiplication);
 *   - taken in order of begin, the tensors tile the data section exactly: the first begins at 0, each begins
 *     where the previous ended, the last ends at the end of the file. So no two tensors overlap and there are no
 *     holes, as the reference implementation requires (its "InvalidOffset" and "MetadataIncompleteBuffer").
 *
 * The reader does not require data to be aligned: tensors are read with memcpy-style loads by their users.
 */
#include "safetensors.h"

#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "json.h"
#include "map.h"

struct octet__st {
    octet__map map;
    const uint8_t *data;     /* whole file */
    uint64_t size;
    char *path;
    int64_t n;
    octet__st_tensor *t;     /* ascending begin */
    const octet__st_tensor **by_name; /* into t, names ascending (strcmp) */
};

typedef struct dtype_info {
    const char *name;
    int dtype; /* -1: known to the format, not supported */
    size_t size;
} dtype_info;

static const dtype_info k_dtypes[] = {
    {"F32", OCTET_ST_F32, 4}, {"F16", OCTET_ST_F16, 2}, {"BF16", OCTET_ST_BF16, 2},
    {"F64", -1, 8},  {"I64", -1, 8}, {"U64", -1, 8}, {"I32", -1, 4}, {"U32", -1, 4}, {"I16", -1, 2},
    {"U16", -1, 2},  {"I8", -1, 1},  {"U8", -1, 1},  {"BOOL", -1, 1}, {"F8_E4M3", -1, 1}, {"F8_E5M2", -1, 1},
};

size_t octet__st_dtype_size(int dtype) { return dtype == OCTET_ST_F32 ? 4 : (dtype == OCTET_ST_F16 || dtype == OCTET_ST_BF16) ? 2 : 0; }
const char *octet__st_dtype_name(int dtype) {
    return dtype == OCTET_ST_F32 ? "F32" : dtype == OCTET_ST_F16 ? "F16" : dtype == OCTET_ST_BF16 ? "BF16" : "?";
}

static uint64_t le64(const uint8_t *b) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static int cmp_begin(const void *a, const void *b) {
    const octet__st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    /* zero-sized tensors share a begin with their neighbour: order them first, by end */
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_name_ptr(const void *a, const void *b) {
    return strcmp((*(const octet__st_tensor *const *)a)->name, (*(const octet__st_tensor *const *)b)->name);
}

void octet__st_close(octet__st *st) {
    if (!st) return;
    for (int64_t i = 0; i < st->n; i++) octet__free(st->t[i].name);
    octet__free(st->t);
    octet__free(st->by_name);
    octet__free(st->path);
    octet__map_close(&st->map);
    octet__free(st);
}

static int parse_entry(octet__st_tensor *t, const char *key, json_t *v, uint64_t data_size, const char *fname,
                       octet_error *err) {
    if (!json_is_object(v))
        return octet__err(err, OCTET_EFORMAT, "%s: tensor '%.128s': expected an object, found %s", fname, key,
                          octet__json_type_name(v));
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
            return octet__err(err, OCTET_EFORMAT, "%s: tensor '%.128s': unexpected field '%.64s'", fname, key, k);
    }
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"), *jo = json_object_get(v, "data_offsets");
    if (!jd || !js || !jo)
        return octet__err(err, OCTET_EFORMAT, "%s: tensor '%.128s': missing field '%s'", fname, key,
                          !jd ? "dtype" : !js ? "shape" : "data_offsets");
    if (!json_is_string(jd))
        return octet__err(err, OCTET_EFORMAT, "%s: tensor '%.128s': dtype: expected a string", fname, key);
    const char *ds = json_string_value(jd);
    const dtype_info *di = NULL;
    for (size_t i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++)
        if (strcmp(ds, k_dtypes[i].name) == 0) di = &k_dtypes[i];
    if (!di) return octet__err(err, OCTET_EFORMAT, "%s: tensor '%.128s': unknown dtype '%.32s'", fname, key, ds);
    if (di->dtype < 0)
        return octet__err(err, OCTET_EUNSUPPORTED,
                          "%s: tensor '%.128s': dtype %s is not supported (octet converts F32, F16 and BF16)", fname,
                          key, ds);
    t->dtype = di->dtype;
    if (!json_is_array(js))
        return octet__err(err, OCTET_EFORMAT, "%s: tensor '%.128s': shape: expected an array", fname, key);
    size_t nd = json_array_size(js);
    if (nd > OCTET_ST_MAX_DIMS)
        return octet__err(err, OCTET_EFORMAT, "%s: tensor '%.128s': shape: %zu dimensions (at most %d)", fname, key,
                          nd, OCTET_ST_MAX_DIMS);
    t->n_dims = (int)nd;
    uint64_t ne = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > OCTET_ST_MAX_DIM)
            return octet__err(err, OCTET_EFORMAT,
                              "%s: tensor '%.128s': shape[%zu]: expected an integer in 0..2^40", fname, key, i);
        t->shape[i] = (int64_t)json_integer_value(d);
        if (!octet__mul_u64(ne, (uint64_t)t->shape[i], &ne))
            return octet__err(err, OCTET_EFORMAT, "%s: tensor '%.128s': shape: element count overflows", fname, key);
    }
    t->n_elements = ne;
    uint64_t bytes;
    if (!octet__mul_u64(ne, di->size, &bytes))
        return octet__err(err, OCTET_EFORMAT, "%s: tensor '%.128s': shape: byte size overflows", fname, key);
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
        !json_is_integer(json_array_get(jo, 1)))
        return octet__err(err, OCTET_EFORMAT, "%s: tensor '%.128s': data_offsets: expected [begin, end] integers",
                          fname, key);
    json_int_t b = json_integer_value(json_array_get(jo, 0)), e = json_integer_value(json_array_get(jo, 1));
    if (b < 0 || e < 0)
        return octet__err(err, OCTET_EFORMAT, "%s: tensor '%.128s': data_offsets: negative offset", fname, key);
    if (b > e)
        return octet__err(err, OCTET_EFORMAT, "%s: tensor '%.128s': data_offsets: begin %lld > end %lld", fname, key,
                          (long long)b, (long long)e);
    if ((uint64_t)e > data_size)
        return octet__err(err, OCTET_EFORMAT,
                          "%s: tensor '%.128s': data_offsets: end %lld is beyond the data section (%llu bytes)",
                          fname, key, (long long)e, (unsigned long long)data_size);
    t->begin = (uint64_t)b;
    t->end = (uint64_t)e;
    if (t->end - t->begin != bytes)
        return octet__err(err, OCTET_EFORMAT,
                          "%s: tensor '%.128s': data_offsets span %llu bytes but shape x %s needs %llu", fname, key,
                          (unsigned long long)(t->end - t->begin), ds, (unsigned long long)bytes);
    return 0;
}

static int check_metadata(json_t *v, const char *fname, octet_error *err) {
    if (!json_is_object(v))
        return octet__err(err, OCTET_EFORMAT, "%s: __metadata__: expected an object, found %s", fname,
                          octet__json_type_name(v));
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        if (!json_is_string(x))
            return octet__err(err, OCTET_EFORMAT, "%s: __metadata__: '%.64s': expected a string, found %s", fname, k,
                              octet__json_type_name(x));
    }
    return 0;
}

static int parse(octet__st *st, octet_error *err) {
    const char *fname = st->path;
    if (st->size < 8)
        return octet__err(err, OCTET_EFORMAT, "%s: %llu bytes: too short for the 8-byte header length", fname,
                          (unsigned long long)st->size);
    uint64_t hlen = le64(st->data);
    if (hlen < 2 || hlen > OCTET_ST_MAX_HEADER_BYTES)
        return octet__err(err, OCTET_EFORMAT, "%s: header length %llu is outside 2..%llu", fname,
                          (unsigned long long)hlen, OCTET_ST_MAX_HEADER_BYTES);
    if (hlen > st->size - 8)
        return octet__err(err, OCTET_EFORMAT, "%s: header length %llu goes beyond the end of the file (%llu bytes)",
                          fname, (unsigned long long)hlen, (unsigned long long)st->size);
    const char *h = (const char *)st->data + 8;
    if (h[0] != '{') return octet__err(err, OCTET_EFORMAT, "%s: header does not start with '{'", fname);
    uint64_t data_size = st->size - 8 - hlen;
    json_t *root = NULL;
    int rc = octet__json_parse(&root, h, (size_t)hlen, (size_t)OCTET_ST_MAX_HEADER_BYTES, fname, err);
    if (rc) return rc;
    if (!json_is_object(root)) {
        json_decref(root);
        return octet__err(err, OCTET_EFORMAT, "%s: header: expected a JSON object", fname);
    }
    size_t n = json_object_size(root);
    if (json_object_get(root, "__metadata__")) n--;
    if (n > OCTET_ST_MAX_TENSORS) {
        json_decref(root);
        return octet__err(err, OCTET_EFORMAT, "%s: %zu tensors (at most %d)", fname, n, OCTET_ST_MAX_TENSORS);
    }
    st->t = octet__calloc(n ? n : 1, sizeof *st->t);
    st->by_name = octet__calloc(n ? n : 1, sizeof *st->by_name);
    if (!st->t || !st->by_name) {
        json_decref(root);
        return octet__err(err, OCTET_ENOMEM, "%s: out of memory for %zu tensors", fname, n);
    }
    const char *key;
    json_t *v;
    rc = 0;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            rc = check_metadata(v, fname, err);
        } else if (key[0] == 0) {
            rc = octet__err(err, OCTET_EFORMAT, "%s: a tensor has an empty name", fname);
        } else if (strlen(key) > 65535) {
            rc = octet__err(err, OCTET_EFORMAT, "%s: a tensor name is longer than 65535 bytes", fname);
        } else {
            octet__st_tensor *t = &st->t[st->n];
            rc = parse_entry(t, key, v, data_size, fname, err);
            if (!rc) {
                t->name = octet__strndup(key, strlen(key));
                if (!t->name) rc = octet__err(err, OCTET_ENOMEM, "%s: out of memory", fname);
                else st->n++;
            }
        }
        if (rc) break;
    }
    json_decref(root);
    if (rc) return rc;

    /* tile check: sorted by begin, each tensor starts where the previous one ended */
    qsort(st->t, (size_t)st->n, sizeof *st->t, cmp_begin);
    uint64_t pos = 0;
    for (int64_t i = 0; i < st->n; i++) {
        octet__st_tensor *t = &st->t[i];
        if (t->begin < pos)
            return octet__err(err, OCTET_EFORMAT, "%s: tensor '%.128s': bytes %llu..%llu overlap tensor '%.128s'",
                              fname, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                              st->t[i - 1].name);
        if (t->begin > pos)
            return octet__err(err, OCTET_EFORMAT,
                              "%s: tensor '%.128s': begins at %llu, leaving a hole after byte %llu of the data section",
                              fname, t->name, (unsigned long long)t->begin, (unsigned long long)pos);
        pos = t->end;
        t->data = st->data + 8 + hlen + t->begin;
    }
    if (pos != data_size)
        return octet__err(err, OCTET_EFORMAT, "%s: tensors cover %llu bytes but the data section has %llu", fname,
                          (unsigned long long)pos, (unsigned long long)data_size);
    for (int64_t i = 0; i < st->n; i++) st->by_name[i] = &st->t[i];
    qsort(st->by_name, (size_t)st->n, sizeof *st->by_name, cmp_name_ptr);
    return 0;
}

static int finish_open(octet__st **out, octet__st *st, octet_error *err) {
    int rc = parse(st, err);
    if (rc) {
        octet__st_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

int octet__st_open(octet__st **out, const char *path, int use_mmap, octet_error *err) {
    *out = NULL;
    octet__st *st = octet__calloc(1, sizeof *st);
    if (!st) return octet__err(err, OCTET_ENOMEM, "%s: out of memory", path);
    st->path = octet__strndup(path, strlen(path));
    if (!st->path) {
        octet__free(st);
        return octet__err(err, OCTET_ENOMEM, "%s: out of memory", path);
    }
    int rc = octet__map_open(&st->map, path, use_mmap, err);
    if (rc) {
        octet__st_close(st);
        return rc;
    }
    st->data = st->map.data;
    st->size = st->map.size;
    return finish_open(out, st, err);
}

int octet__st_open_memory(octet__st **out, const void *data, size_t size, const char *name, octet_error *err) {
    *out = NULL;
    if (!name) name = "(memory)";
    octet__st *st = octet__calloc(1, sizeof *st);
    if (!st) return octet__err(err, OCTET_ENOMEM, "%s: out of memory", name);
    st->path = octet__strndup(name, strlen(name));
    if (!st->path) {
        octet__free(st);
        return octet__err(err, OCTET_ENOMEM, "%s: out of memory", name);
    }
    st->data = data;
    st->size = size;
    return finish_open(out, st, err);
}

const char *octet__st_path(const octet__st *st) { return st->path; }
int64_t octet__st_n_tensors(const octet__st *st) { return st->n; }
const octet__st_tensor *octet__st_tensor_at(const octet__st *st, int64_t i) {
    return i >= 0 && i < st->n ? &st->t[i] : NULL;
}

const octet__st_tensor *octet__st_find(const octet__st *st, const char *name) {
    int64_t lo = 0, hi = st->n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->by_name[mid]->name, name);
        if (c == 0) return st->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}
