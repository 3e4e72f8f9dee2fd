/*
 * gguf_write.c - the streaming GGUF v3 writer (contract in gguf_write.h).
 *
 * Bytes written (little-endian, GGUF v3; the same layout gguf.c reads):
 *   "GGUF" u32 3, u64 n_tensors, u64 n_kv
 *   n_kv x       { u64 len, key bytes, u32 type, value }   value: scalar bytes | u64 len + bytes (STRING)
 *                                                           | u32 elem type, u64 n, elements (ARRAY)
 *   n_tensors x  { u64 len, name bytes, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset }
 *   zero padding to the alignment, then each tensor's data at its offset (multiples of the alignment, relative
 *   to the start of the data section), zero padding between tensors and after the last one.
 *
 * Key-values are kept encoded (type tag + value bytes) in owned buffers until begin_data, so a key copied from
 * a reader is reproduced byte for byte, whatever its type (arrays of strings or of arrays included).
 * The header is written through a stdio buffer; tensor data in the caller's chunks.
 */
#include "format/gguf_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "core/limits.h"
#include "kernels/kernels.h"

typedef struct wkv {
    char *key;       /* NUL-terminated, owned */
    size_t key_len;
    uint8_t *val;    /* u32 type tag + value bytes, owned */
    size_t val_len;
} wkv;

typedef struct wtensor {
    char *name;
    size_t name_len;
    int n_dims;
    int64_t ne[4];
    int type;
    uint64_t offset;  /* relative to the data section */
    uint64_t n_bytes;
} wtensor;

struct octet__gguf_writer {
    char *path;       /* destination */
    char *tmp;        /* temporary file name (NULL once renamed) */
    int anon;         /* the data lives in an unnamed O_TMPFILE until finish links it as tmp: a killed process
                         leaves nothing behind */
    FILE *f;
    uint32_t alignment;
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    uint64_t data_bytes; /* data section size so far (aligned end of the last added tensor) */
    int in_data;         /* begin_data done */
    size_t cur;          /* tensor being written */
    uint64_t cur_done;   /* its bytes written */
    uint64_t written;    /* bytes in the file */
    int failed;          /* an I/O error happened: every later call fails */
};

static int grow(void **p, size_t *cap, size_t n, size_t size) {
    if (n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *q = octet__realloc_array(*p, *cap, nc, size);
    if (!q) return OCTET_ENOMEM;
    *p = q;
    *cap = nc;
    return 0;
}

int octet__gguf_writer_new(octet__gguf_writer **out, const char *path, uint32_t alignment, octet_error *err) {
    *out = NULL;
    if (!path || !*path) return octet__err(err, OCTET_EINVAL, "gguf writer: empty output path");
    if (alignment == 0) alignment = 32;
    if ((alignment & (alignment - 1)) != 0 || alignment > OCTET_MAX_GGUF_ALIGNMENT)
        return octet__err(err, OCTET_EINVAL, "%s: alignment %u is not a power of two up to %u", path, alignment,
                          OCTET_MAX_GGUF_ALIGNMENT);
    octet__gguf_writer *w = octet__calloc(1, sizeof *w);
    size_t pl = strlen(path);
    if (!w || !(w->path = octet__strndup(path, pl)) || !(w->tmp = octet__malloc(pl + 16))) {
        octet__gguf_writer_free(w);
        return octet__err(err, OCTET_ENOMEM, "%s: out of memory", path);
    }
    memcpy(w->tmp, path, pl);
    memcpy(w->tmp + pl, ".tmp.XXXXXX", 12);
    w->alignment = alignment;
    int fd = -1;
#ifdef O_TMPFILE
    {
        /* an unnamed file in the destination folder (same file system, so the final rename is atomic) */
        const char *slash = strrchr(path, '/');
        char *dir = slash ? octet__strndup(path, slash == path ? 1 : (size_t)(slash - path)) : NULL;
        if (slash && !dir) {
            octet__gguf_writer_free(w);
            return octet__err(err, OCTET_ENOMEM, "%s: out of memory", path);
        }
        fd = open(dir ? dir : ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
        octet__free(dir);
        if (fd >= 0) {
            w->anon = 1;
            snprintf(w->tmp + pl, 16, ".tmp.%ld", (long)getpid() % 1000000);
        }
    }
#endif
    if (fd < 0) fd = mkstemp(w->tmp);
    if (fd < 0) {
        int e = errno;
        octet__free(w->tmp);
        w->tmp = NULL;
        octet__gguf_writer_free(w);
        return octet__err(err, OCTET_EIO, "%s: cannot create a temporary file next to it: %s", path, strerror(e));
    }
    if (!w->anon) fchmod(fd, 0644); /* mkstemp makes 0600; a model file is normally world-readable */
    w->f = fdopen(fd, "wb");
    if (!w->f) {
        close(fd);
        octet__gguf_writer_free(w);
        return octet__err(err, OCTET_EIO, "%s: fdopen failed", path);
    }
    setvbuf(w->f, NULL, _IOFBF, 1 << 20);
    *out = w;
    return 0;
}

void octet__gguf_writer_free(octet__gguf_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    if (w->tmp && !w->anon) unlink(w->tmp);
    for (size_t i = 0; i < w->n_kv; i++) {
        octet__free(w->kv[i].key);
        octet__free(w->kv[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++) octet__free(w->t[i].name);
    octet__free(w->kv);
    octet__free(w->t);
    octet__free(w->tmp);
    octet__free(w->path);
    octet__free(w);
}

const char *octet__gguf_writer_tmp_path(const octet__gguf_writer *w) { return w && !w->anon ? w->tmp : NULL; }
uint64_t octet__gguf_writer_bytes_written(const octet__gguf_writer *w) { return w ? w->written : 0; }

/* ---- key-values -------------------------------------------------------------------------------------------- */

static int check_open(octet__gguf_writer *w, const char *what, octet_error *err) {
    if (w->failed) return octet__err(err, OCTET_EIO, "%s: an earlier write failed", w->path);
    if (w->in_data) return octet__err(err, OCTET_EINVAL, "%s: %s after begin_data", w->path, what);
    return 0;
}

/* Take ownership of val (val_len bytes, starting with the type tag) for key; replaces an existing key. */
static int put_kv(octet__gguf_writer *w, const char *key, size_t key_len, uint8_t *val, size_t val_len,
                  octet_error *err) {
    int rc = check_open(w, "setting a key", err);
    if (!rc && (key_len == 0 || key_len > OCTET_MAX_GGUF_KEY_BYTES))
        rc = octet__err(err, OCTET_EINVAL, "%s: key of %zu bytes (1..%d allowed)", w->path, key_len,
                        OCTET_MAX_GGUF_KEY_BYTES);
    if (rc) {
        octet__free(val);
        return rc;
    }
    for (size_t i = 0; i < w->n_kv; i++)
        if (w->kv[i].key_len == key_len && memcmp(w->kv[i].key, key, key_len) == 0) {
            octet__free(w->kv[i].val);
            w->kv[i].val = val;
            w->kv[i].val_len = val_len;
            return 0;
        }
    char *k = NULL;
    if (w->n_kv >= OCTET_MAX_GGUF_KV) {
        octet__free(val);
        return octet__err(err, OCTET_EINVAL, "%s: more than %d keys", w->path, OCTET_MAX_GGUF_KV);
    }
    if (grow((void **)&w->kv, &w->cap_kv, w->n_kv, sizeof *w->kv) || !(k = octet__malloc(key_len + 1))) {
        octet__free(val);
        return octet__err(err, OCTET_ENOMEM, "%s: out of memory", w->path);
    }
    memcpy(k, key, key_len); /* verbatim, even with an embedded NUL from a copied key */
    k[key_len] = 0;
    w->kv[w->n_kv++] = (wkv){k, key_len, val, val_len};
    return 0;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static size_t scalar_size(int vtype) {
    switch (vtype) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

/* A buffer of hdr_len header bytes followed by body_len bytes; NULL on overflow or OOM. */
static uint8_t *alloc_val(size_t hdr_len, size_t body_len, size_t *total) {
    if (!octet__add_size(hdr_len, body_len, total)) return NULL;
    return octet__malloc(*total ? *total : 1);
}

int octet__gguf_writer_copy_kv(octet__gguf_writer *w, const octet__gguf *g, int64_t i, octet_error *err) {
    const octet__gguf_kv *kv = octet__gguf_kv_at(g, i);
    if (!kv) return octet__err(err, OCTET_EINVAL, "%s: key index %lld out of range", w->path, (long long)i);
    const size_t hdr = kv->type == GGUF_TYPE_ARRAY ? 16 : 4;
    size_t total;
    if (kv->value_bytes > SIZE_MAX) return octet__err(err, OCTET_ERANGE, "%s: value too large", w->path);
    uint8_t *v = alloc_val(hdr, (size_t)kv->value_bytes, &total);
    if (!v) return octet__err(err, OCTET_ENOMEM, "%s: out of memory copying key %s", w->path, kv->key_z);
    put_u32(v, (uint32_t)kv->type);
    if (kv->type == GGUF_TYPE_ARRAY) {
        put_u32(v + 4, (uint32_t)kv->arr_type);
        put_u64(v + 8, kv->arr_n);
    }
    if (kv->value_bytes) memcpy(v + hdr, kv->value, (size_t)kv->value_bytes);
    return put_kv(w, kv->key.ptr, (size_t)kv->key.len, v, total, err);
}

int octet__gguf_writer_set_scalar(octet__gguf_writer *w, const char *key, int vtype, const void *bytes,
                                  octet_error *err) {
    const size_t n = scalar_size(vtype);
    if (!n) return octet__err(err, OCTET_EINVAL, "%s: key %s: type %d is not a scalar type", w->path, key, vtype);
    uint8_t *v = octet__malloc(4 + n);
    if (!v) return octet__err(err, OCTET_ENOMEM, "%s: out of memory", w->path);
    put_u32(v, (uint32_t)vtype);
    memcpy(v + 4, bytes, n); /* callers pass host values; octet targets little-endian hosts only */
    return put_kv(w, key, strlen(key), v, 4 + n, err);
}

int octet__gguf_writer_set_u32(octet__gguf_writer *w, const char *key, uint32_t v, octet_error *err) {
    return octet__gguf_writer_set_scalar(w, key, GGUF_TYPE_UINT32, &v, err);
}
int octet__gguf_writer_set_i32(octet__gguf_writer *w, const char *key, int32_t v, octet_error *err) {
    return octet__gguf_writer_set_scalar(w, key, GGUF_TYPE_INT32, &v, err);
}
int octet__gguf_writer_set_u64(octet__gguf_writer *w, const char *key, uint64_t v, octet_error *err) {
    return octet__gguf_writer_set_scalar(w, key, GGUF_TYPE_UINT64, &v, err);
}
int octet__gguf_writer_set_f32(octet__gguf_writer *w, const char *key, float v, octet_error *err) {
    return octet__gguf_writer_set_scalar(w, key, GGUF_TYPE_FLOAT32, &v, err);
}
int octet__gguf_writer_set_bool(octet__gguf_writer *w, const char *key, int v, octet_error *err) {
    const uint8_t b = v ? 1 : 0;
    return octet__gguf_writer_set_scalar(w, key, GGUF_TYPE_BOOL, &b, err);
}

int octet__gguf_writer_set_str(octet__gguf_writer *w, const char *key, const char *s, size_t len,
                               octet_error *err) {
    if (len > OCTET_MAX_GGUF_STRING_BYTES)
        return octet__err(err, OCTET_EINVAL, "%s: key %s: string of %zu bytes exceeds %u", w->path, key, len,
                          OCTET_MAX_GGUF_STRING_BYTES);
    size_t total;
    uint8_t *v = alloc_val(12, len, &total);
    if (!v) return octet__err(err, OCTET_ENOMEM, "%s: out of memory", w->path);
    put_u32(v, GGUF_TYPE_STRING);
    put_u64(v + 4, len);
    if (len) memcpy(v + 12, s, len);
    return put_kv(w, key, strlen(key), v, total, err);
}

int octet__gguf_writer_set_arr(octet__gguf_writer *w, const char *key, int elem_type, const void *data,
                               uint64_t n, octet_error *err) {
    const size_t es = scalar_size(elem_type);
    if (!es) return octet__err(err, OCTET_EINVAL, "%s: key %s: element type %d is not fixed-size", w->path, key,
                               elem_type);
    if (n > OCTET_MAX_GGUF_ARRAY_ELEMENTS)
        return octet__err(err, OCTET_EINVAL, "%s: key %s: %llu elements exceed the limit", w->path, key,
                          (unsigned long long)n);
    size_t body, total;
    if (!octet__mul_size((size_t)n, es, &body)) return octet__err(err, OCTET_ERANGE, "%s: array too large", w->path);
    uint8_t *v = alloc_val(16, body, &total);
    if (!v) return octet__err(err, OCTET_ENOMEM, "%s: out of memory", w->path);
    put_u32(v, GGUF_TYPE_ARRAY);
    put_u32(v + 4, (uint32_t)elem_type);
    put_u64(v + 8, n);
    if (body) memcpy(v + 16, data, body);
    return put_kv(w, key, strlen(key), v, total, err);
}

int octet__gguf_writer_set_str_arr(octet__gguf_writer *w, const char *key, const char *const *strs,
                                   const uint64_t *lens, uint64_t n, octet_error *err) {
    if (n > OCTET_MAX_GGUF_ARRAY_ELEMENTS)
        return octet__err(err, OCTET_EINVAL, "%s: key %s: %llu elements exceed the limit", w->path, key,
                          (unsigned long long)n);
    size_t body = 0;
    for (uint64_t i = 0; i < n; i++) {
        const uint64_t l = lens ? lens[i] : strlen(strs[i]);
        if (l > OCTET_MAX_GGUF_STRING_BYTES)
            return octet__err(err, OCTET_EINVAL, "%s: key %s: string %llu too long", w->path, key,
                              (unsigned long long)i);
        if (!octet__add_size(body, 8 + (size_t)l, &body))
            return octet__err(err, OCTET_ERANGE, "%s: array too large", w->path);
    }
    size_t total;
    uint8_t *v = alloc_val(16, body, &total);
    if (!v) return octet__err(err, OCTET_ENOMEM, "%s: out of memory", w->path);
    put_u32(v, GGUF_TYPE_ARRAY);
    put_u32(v + 4, GGUF_TYPE_STRING);
    put_u64(v + 8, n);
    uint8_t *p = v + 16;
    for (uint64_t i = 0; i < n; i++) {
        const size_t l = (size_t)(lens ? lens[i] : strlen(strs[i]));
        put_u64(p, l);
        if (l) memcpy(p + 8, strs[i], l);
        p += 8 + l;
    }
    return put_kv(w, key, strlen(key), v, total, err);
}

/* ---- tensors ------------------------------------------------------------------------------------------------ */

int octet__gguf_writer_add_tensor(octet__gguf_writer *w, const char *name, int n_dims, const int64_t *ne, int type,
                                  uint64_t *n_bytes, octet_error *err) {
    int rc = check_open(w, "adding a tensor", err);
    if (rc) return rc;
    const size_t nl = name ? strlen(name) : 0;
    if (nl == 0 || nl > OCTET_MAX_GGUF_TENSOR_NAME_BYTES)
        return octet__err(err, OCTET_EINVAL, "%s: tensor name of %zu bytes (1..%d allowed)", w->path, nl,
                          OCTET_MAX_GGUF_TENSOR_NAME_BYTES);
    if (n_dims < 1 || n_dims > OCTET_MAX_GGUF_DIMS)
        return octet__err(err, OCTET_EINVAL, "%s: tensor %s: %d dims (1..%d allowed)", w->path, name, n_dims,
                          OCTET_MAX_GGUF_DIMS);
    const octet__type_traits *tt = octet__type(type);
    if (!tt) return octet__err(err, OCTET_EUNSUPPORTED, "%s: tensor %s: unknown type %d", w->path, name, type);
    uint64_t n_el = 1;
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] < 1 || ne[d] > OCTET_MAX_GGUF_DIM || !octet__mul_u64(n_el, (uint64_t)ne[d], &n_el))
            return octet__err(err, OCTET_EINVAL, "%s: tensor %s: dimension %d = %lld out of range", w->path, name,
                              d, (long long)ne[d]);
    }
    if (ne[0] % tt->block_size)
        return octet__err(err, OCTET_EINVAL, "%s: tensor %s: row of %lld is not a multiple of %s's block of %d",
                          w->path, name, (long long)ne[0], tt->name, tt->block_size);
    uint64_t bytes, end, aligned;
    if (!octet__mul_u64(n_el / (uint64_t)tt->block_size, tt->type_size, &bytes) ||
        !octet__add_u64(w->data_bytes, bytes, &end) || !octet__add_u64(end, w->alignment - 1, &aligned))
        return octet__err(err, OCTET_ERANGE, "%s: tensor %s: size overflows", w->path, name);
    if (w->n_t >= OCTET_MAX_GGUF_TENSORS)
        return octet__err(err, OCTET_EINVAL, "%s: more than %d tensors", w->path, OCTET_MAX_GGUF_TENSORS);
    for (size_t i = 0; i < w->n_t; i++)
        if (w->t[i].name_len == nl && memcmp(w->t[i].name, name, nl) == 0)
            return octet__err(err, OCTET_EINVAL, "%s: duplicate tensor name %s", w->path, name);
    char *nm = NULL;
    if (grow((void **)&w->t, &w->cap_t, w->n_t, sizeof *w->t) || !(nm = octet__strndup(name, nl)))
        return octet__err(err, OCTET_ENOMEM, "%s: out of memory", w->path);
    wtensor *t = &w->t[w->n_t++];
    memset(t, 0, sizeof *t);
    t->name = nm;
    t->name_len = nl;
    t->n_dims = n_dims;
    for (int d = 0; d < 4; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->type = type;
    t->offset = w->data_bytes;
    t->n_bytes = bytes;
    w->data_bytes = aligned / w->alignment * w->alignment;
    if (n_bytes) *n_bytes = bytes;
    return 0;
}

/* ---- output -------------------------------------------------------------------------------------------------- */

static int wr(octet__gguf_writer *w, const void *p, size_t n, octet_error *err) {
    if (n && fwrite(p, 1, n, w->f) != n) {
        int e = errno;
        w->failed = 1;
        return octet__err(err, OCTET_EIO, "%s: write failed: %s", w->tmp, strerror(e));
    }
    w->written += n;
    return 0;
}

static int wr_u32(octet__gguf_writer *w, uint32_t v, octet_error *err) {
    uint8_t b[4];
    put_u32(b, v);
    return wr(w, b, 4, err);
}
static int wr_u64(octet__gguf_writer *w, uint64_t v, octet_error *err) {
    uint8_t b[8];
    put_u64(b, v);
    return wr(w, b, 8, err);
}

static int wr_zeros(octet__gguf_writer *w, uint64_t n, octet_error *err) {
    static const uint8_t z[256];
    while (n) {
        const size_t k = n < sizeof z ? (size_t)n : sizeof z;
        int rc = wr(w, z, k, err);
        if (rc) return rc;
        n -= k;
    }
    return 0;
}

/* The integer value of an encoded key (any integer type), or -1 when it is not a non-negative integer. */
static int64_t kv_int(const wkv *kv) {
    uint32_t type = 0;
    for (int i = 0; i < 4; i++) type |= (uint32_t)kv->val[i] << (8 * i);
    const size_t n = scalar_size((int)type);
    if (!n || type == GGUF_TYPE_FLOAT32 || type == GGUF_TYPE_FLOAT64 || type == GGUF_TYPE_BOOL) return -1;
    uint64_t u = 0;
    for (size_t i = 0; i < n; i++) u |= (uint64_t)kv->val[4 + i] << (8 * i);
    const int is_signed = type == GGUF_TYPE_INT8 || type == GGUF_TYPE_INT16 || type == GGUF_TYPE_INT32 ||
                          type == GGUF_TYPE_INT64;
    if (is_signed && (u >> (8 * n - 1)) & 1) return -1;
    return u > (uint64_t)INT64_MAX ? -1 : (int64_t)u;
}

int octet__gguf_writer_begin_data(octet__gguf_writer *w, octet_error *err) {
    int rc = check_open(w, "begin_data", err);
    if (rc) return rc;
    int have_align = 0;
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, "general.alignment") == 0) {
            have_align = 1;
            if (kv_int(&w->kv[i]) != (int64_t)w->alignment)
                return octet__err(err, OCTET_EINVAL, "%s: general.alignment does not match the writer's %u",
                                  w->path, w->alignment);
        }
    if (!have_align && w->alignment != 32) {
        rc = octet__gguf_writer_set_u32(w, "general.alignment", w->alignment, err);
        if (rc) return rc;
    }
    static const uint8_t magic[4] = {'G', 'G', 'U', 'F'};
    rc = wr(w, magic, 4, err);
    if (!rc) rc = wr_u32(w, 3, err);
    if (!rc) rc = wr_u64(w, w->n_t, err);
    if (!rc) rc = wr_u64(w, w->n_kv, err);
    for (size_t i = 0; !rc && i < w->n_kv; i++) {
        rc = wr_u64(w, w->kv[i].key_len, err);
        if (!rc) rc = wr(w, w->kv[i].key, w->kv[i].key_len, err);
        if (!rc) rc = wr(w, w->kv[i].val, w->kv[i].val_len, err);
    }
    for (size_t i = 0; !rc && i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        rc = wr_u64(w, t->name_len, err);
        if (!rc) rc = wr(w, t->name, t->name_len, err);
        if (!rc) rc = wr_u32(w, (uint32_t)t->n_dims, err);
        for (int d = 0; !rc && d < t->n_dims; d++) rc = wr_u64(w, (uint64_t)t->ne[d], err);
        if (!rc) rc = wr_u32(w, (uint32_t)t->type, err);
        if (!rc) rc = wr_u64(w, t->offset, err);
    }
    if (!rc) rc = wr_zeros(w, (w->alignment - w->written % w->alignment) % w->alignment, err);
    if (rc) return rc;
    w->in_data = 1;
    w->cur = 0;
    w->cur_done = 0;
    return 0;
}

/* Move past completed (or empty) tensors, writing the padding after each. */
static int advance(octet__gguf_writer *w, octet_error *err) {
    while (w->cur < w->n_t && w->cur_done == w->t[w->cur].n_bytes) {
        const wtensor *t = &w->t[w->cur];
        const uint64_t end = t->offset + t->n_bytes;
        const uint64_t next = w->cur + 1 < w->n_t ? w->t[w->cur + 1].offset : w->data_bytes;
        int rc = wr_zeros(w, next - end, err);
        if (rc) return rc;
        w->cur++;
        w->cur_done = 0;
    }
    return 0;
}

int octet__gguf_writer_write_data(octet__gguf_writer *w, const void *data, size_t n, octet_error *err) {
    if (w->failed) return octet__err(err, OCTET_EIO, "%s: an earlier write failed", w->path);
    if (!w->in_data) return octet__err(err, OCTET_EINVAL, "%s: write_data before begin_data", w->path);
    if (n == 0) return 0;
    if (w->cur >= w->n_t) return octet__err(err, OCTET_EINVAL, "%s: data past the last tensor", w->path);
    const wtensor *t = &w->t[w->cur];
    if (n > t->n_bytes - w->cur_done)
        return octet__err(err, OCTET_EINVAL, "%s: tensor %s: %zu bytes given, %llu left", w->path, t->name, n,
                          (unsigned long long)(t->n_bytes - w->cur_done));
    int rc = wr(w, data, n, err);
    if (rc) return rc;
    w->cur_done += n;
    return advance(w, err);
}

int octet__gguf_writer_finish(octet__gguf_writer *w, octet_error *err) {
    if (w->failed) return octet__err(err, OCTET_EIO, "%s: an earlier write failed", w->path);
    if (!w->in_data) {
        int rc = octet__gguf_writer_begin_data(w, err);
        if (rc) return rc;
    }
    int rc = advance(w, err); /* tensors with no bytes left (none, normally) */
    if (rc) return rc;
    if (w->cur < w->n_t)
        return octet__err(err, OCTET_EINVAL, "%s: tensor %s: only %llu of %llu bytes written", w->path,
                          w->t[w->cur].name, (unsigned long long)w->cur_done,
                          (unsigned long long)w->t[w->cur].n_bytes);
    if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0) {
        int e = errno;
        w->failed = 1;
        return octet__err(err, OCTET_EIO, "%s: flush failed: %s", w->tmp, strerror(e));
    }
    if (w->anon) {
        /* give the unnamed file its temporary name, then rename it over the destination */
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fileno(w->f));
        unlink(w->tmp); /* a leftover of an earlier process with the same id */
        if (linkat(AT_FDCWD, proc, AT_FDCWD, w->tmp, AT_SYMLINK_FOLLOW) != 0) {
            int e = errno;
            w->failed = 1;
            return octet__err(err, OCTET_EIO, "%s: cannot link the temporary file: %s", w->path, strerror(e));
        }
        w->anon = 0; /* named now: free() removes it if anything below fails */
    }
    FILE *f = w->f;
    w->f = NULL;
    if (fclose(f) != 0) {
        int e = errno;
        w->failed = 1;
        return octet__err(err, OCTET_EIO, "%s: close failed: %s", w->tmp, strerror(e));
    }
    if (rename(w->tmp, w->path) != 0) {
        int e = errno;
        w->failed = 1;
        return octet__err(err, OCTET_EIO, "%s: cannot rename %s: %s", w->path, w->tmp, strerror(e));
    }
    octet__free(w->tmp);
    w->tmp = NULL;
    /* make the rename durable: fsync the folder (best effort: some file systems refuse; no allocation here, the
     * output is already complete) */
    char dir[4096];
    const char *slash = strrchr(w->path, '/');
    size_t dl = slash ? (slash == w->path ? 1 : (size_t)(slash - w->path)) : 1;
    if (dl < sizeof dir) {
        memcpy(dir, slash ? w->path : ".", dl);
        dir[dl] = 0;
        int dfd = open(dir, O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    return 0;
}
