/*
 * gguf_public.c - the public octet_gguf_* inspection API. An octet_gguf is the internal octet__gguf itself
 * (pointer-converted by octet__gguf_as_public / octet__gguf_from_public), so a model can hand out its reader
 * without a second object.
 */
#include <string.h>

#include "gguf.h"

#include "core/core.h"
#include "kernels/kernels.h"

#define IN(g) octet__gguf_from_public(g)

int octet_gguf_open(octet_gguf **out, const char *path, octet_error *err) {
    if (!out) return octet__err(err, OCTET_EINVAL, "octet_gguf_open: out is NULL");
    octet__gguf *g;
    int rc = octet__gguf_open(&g, path, 1, err);
    *out = rc ? NULL : (octet_gguf *)(void *)g;
    return rc;
}

void octet_gguf_close(octet_gguf *g) { octet__gguf_close((octet__gguf *)(void *)g); }

uint32_t octet_gguf_version(const octet_gguf *g) { return octet__gguf_version(IN(g)); }
int64_t octet_gguf_n_kv(const octet_gguf *g) { return octet__gguf_n_kv(IN(g)); }
int64_t octet_gguf_n_tensors(const octet_gguf *g) { return octet__gguf_n_tensors(IN(g)); }

const char *octet_gguf_key(const octet_gguf *g, int64_t i) {
    const octet__gguf_kv *kv = octet__gguf_kv_at(IN(g), i);
    return kv ? kv->key_z : NULL;
}

void octet_gguf_value_str(const octet_gguf *g, int64_t i, char *buf, size_t buf_size) {
    octet__gguf_value_str(IN(g), i, buf, buf_size);
}

int octet_gguf_tensor_info(const octet_gguf *g, int64_t i, octet_tensor_info *out) {
    const octet__gguf_tensor *t = octet__gguf_tensor_at(IN(g), i);
    if (!t || !out) return OCTET_EINVAL;
    const octet__type_traits *tr = octet__type(t->type);
    out->name = t->name_z;
    out->n_dims = t->n_dims;
    for (int d = 0; d < 4; d++) out->ne[d] = t->ne[d];
    out->type = t->type;
    out->type_name = tr && tr->name ? tr->name : "unknown";
    out->offset = octet__gguf_data_offset(IN(g)) + t->offset;
    out->n_bytes = t->n_bytes;
    return 0;
}

int64_t octet_gguf_get_str(const octet_gguf *g, const char *key, char *buf, size_t buf_size) {
    octet__str s;
    int rc = octet__gguf_get_str(IN(g), key, &s, NULL);
    if (rc) return rc;
    if (buf && buf_size) {
        size_t n = s.len < buf_size - 1 ? (size_t)s.len : buf_size - 1;
        memcpy(buf, s.ptr, n);
        buf[n] = 0;
    }
    return (int64_t)s.len;
}
