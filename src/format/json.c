/*
 * json.c - JSON parsing through jansson with octet's limits, allocation hook and error messages (see json.h).
 */
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "map.h"

/* jansson does not always report a failed allocation as json_error_out_of_memory (it often surfaces as a parse
 * error at line -1, found by the allocation-failure test), so the hook records failures itself. */
static _Thread_local int t_alloc_failed;
static void *hook_malloc(size_t n) {
    void *p = octet__malloc(n);
    if (!p) t_alloc_failed = 1;
    return p;
}
static void hook_free(void *p) { octet__free(p); }

const char *octet__json_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "real";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

int octet__json_parse(json_t **out, const char *buf, size_t len, size_t max_bytes, const char *name,
                      octet_error *err) {
    *out = NULL;
    if (len > max_bytes)
        return octet__err(err, OCTET_EFORMAT, "%s: %zu bytes of JSON exceed the limit of %zu", name, len, max_bytes);
    /* Same functions every time, so setting them on each call is idempotent; trees allocated earlier are freed
     * through the same functions. */
    json_set_alloc_funcs(hook_malloc, hook_free);
    json_error_t je;
    memset(&je, 0, sizeof je);
    t_alloc_failed = 0;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (root && t_alloc_failed) { /* jansson recovered from a failure: treat the result as untrustworthy */
        json_decref(root);
        root = NULL;
    }
    if (!root) {
        if (t_alloc_failed || json_error_code(&je) == json_error_out_of_memory)
            return octet__err(err, OCTET_ENOMEM, "%s: out of memory parsing JSON", name);
        return octet__err(err, OCTET_EFORMAT, "%s: line %d column %d: invalid JSON: %.200s", name, je.line,
                          je.column, je.text);
    }
    *out = root;
    return 0;
}

int octet__json_load_file(json_t **out, const char *path, size_t max_bytes, octet_error *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return octet__err(err, e == ENOENT ? OCTET_ENOTFOUND : OCTET_EIO, "%s: cannot open: %s", path, strerror(e));
    }
    octet__map m;
    fclose(f);
    int rc = octet__map_open(&m, path, 0, err);
    if (rc) return rc;
    rc = octet__json_parse(out, (const char *)m.data, (size_t)m.size, max_bytes, path, err);
    octet__map_close(&m);
    return rc;
}

static json_t *member(const json_t *obj, const char *key) {
    if (!obj || !json_is_object(obj)) return NULL;
    json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v) ? v : NULL;
}

int octet__json_get_i64(const json_t *obj, const char *key, int64_t lo, int64_t hi, int64_t *out, const char *name,
                        octet_error *err) {
    json_t *v = member(obj, key);
    if (!v) return OCTET_ENOTFOUND;
    if (!json_is_integer(v))
        return octet__err(err, OCTET_EFORMAT, "%s: %s: expected an integer, found %s", name, key,
                          octet__json_type_name(v));
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return octet__err(err, OCTET_EFORMAT, "%s: %s: %lld is outside %lld..%lld", name, key, (long long)x,
                          (long long)lo, (long long)hi);
    *out = (int64_t)x;
    return 0;
}

int octet__json_get_f64(const json_t *obj, const char *key, double *out, const char *name, octet_error *err) {
    json_t *v = member(obj, key);
    if (!v) return OCTET_ENOTFOUND;
    if (!json_is_number(v))
        return octet__err(err, OCTET_EFORMAT, "%s: %s: expected a number, found %s", name, key,
                          octet__json_type_name(v));
    *out = json_number_value(v);
    return 0;
}

int octet__json_get_bool(const json_t *obj, const char *key, int *out, const char *name, octet_error *err) {
    json_t *v = member(obj, key);
    if (!v) return OCTET_ENOTFOUND;
    if (!json_is_boolean(v))
        return octet__err(err, OCTET_EFORMAT, "%s: %s: expected true or false, found %s", name, key,
                          octet__json_type_name(v));
    *out = json_is_true(v);
    return 0;
}

int octet__json_get_str(const json_t *obj, const char *key, const char **out, const char *name, octet_error *err) {
    json_t *v = member(obj, key);
    if (!v) return OCTET_ENOTFOUND;
    if (!json_is_string(v))
        return octet__err(err, OCTET_EFORMAT, "%s: %s: expected a string, found %s", name, key,
                          octet__json_type_name(v));
    *out = json_string_value(v);
    return 0;
}
