/*
 * json.c - JSON parsing through jansson with octet's limits, allocation hook and error messages (see json.h).
 */
#include "json.h"

#include <errno.h>
#include <math.h>
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

/* Integers beyond json_int_t (int64): jansson refuses them ("too big integer"), but Hugging Face files carry
 * some (tokenizer_config.json's model_max_length: 1000000000000000019884624838656, i.e. 1e30 written by Python's
 * int(1e30)). RFC 8259 section 6 leaves the range of numbers to the implementation, so octet reads such a
 * literal as a real (a double, 53 bits of precision): the value is kept as a number where it is used and the
 * file parses where it is not. big_int_end scans one number at s (outside strings: in JSON a digit or '-' there
 * always starts a number) and returns its end; *big is set when it is an integer literal (no fraction, no
 * exponent) in valid syntax (no leading zero) whose value does not fit int64. */
static size_t number_end(const char *s, size_t i, size_t len, int *big) {
    size_t start = i;
    *big = 0;
    int neg = s[i] == '-';
    if (neg) i++;
    size_t d0 = i;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++;
    size_t nd = i - d0;
    if (i < len && (s[i] == '.' || s[i] == 'e' || s[i] == 'E')) { /* a real: skip the rest of it */
        while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
                           s[i] == '+' || s[i] == '-'))
            i++;
        return i;
    }
    if (nd >= 19 && s[d0] != '0') { /* INT64_MAX has 19 digits */
        static const char k_max[] = "9223372036854775807", k_min[] = "9223372036854775808";
        const char *lim = neg ? k_min : k_max;
        *big = nd > 19 || memcmp(s + d0, lim, 19) > 0;
    }
    return i > start ? i : start + 1;
}

/* A copy of buf with every big integer literal followed by ".0", or NULL (out of memory, or none found:
 * *n_big tells which). */
static char *widen_big_ints(const char *buf, size_t len, size_t *out_len, size_t *n_big) {
    *n_big = 0;
    int in_str = 0;
    for (int pass = 0; pass < 2; pass++) {
        char *o = NULL;
        size_t w = 0;
        if (pass == 1) {
            if (*n_big == 0) return NULL;
            o = octet__malloc(len + 2 * *n_big + 1);
            if (!o) return NULL;
        }
        in_str = 0;
        for (size_t i = 0; i < len;) {
            char c = buf[i];
            if (in_str) {
                size_t step = c == '\\' && i + 1 < len ? 2 : 1;
                if (c == '"') in_str = 0;
                if (o) memcpy(o + w, buf + i, step);
                w += step, i += step;
            } else if (c == '"') {
                in_str = 1;
                if (o) o[w] = c;
                w++, i++;
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                int big;
                size_t e = number_end(buf, i, len, &big);
                if (o) memcpy(o + w, buf + i, e - i);
                w += e - i, i = e;
                if (big) {
                    if (o) memcpy(o + w, ".0", 2);
                    w += 2;
                    if (pass == 0) (*n_big)++;
                }
            } else {
                if (o) o[w] = c;
                w++, i++;
            }
        }
        if (pass == 1) {
            *out_len = w;
            return o;
        }
    }
    return NULL;
}

int octet__json_parse(json_t **out, const char *buf, size_t len, size_t max_bytes, const char *name,
                      octet_error *err) {
    *out = NULL;
    if (len > max_bytes)
        return octet__err(err, OCTET_EFORMAT, "%s: %zu bytes of JSON exceed the limit of %zu", name, len, max_bytes);
    size_t n_big = 0, wlen = 0;
    char *widened = widen_big_ints(buf, len, &wlen, &n_big);
    if (n_big && !widened) return octet__err(err, OCTET_ENOMEM, "%s: out of memory parsing JSON", name);
    if (widened) buf = widened, len = wlen;
    /* Same functions every time, so setting them on each call is idempotent; trees allocated earlier are freed
     * through the same functions. */
    json_set_alloc_funcs(hook_malloc, hook_free);
    json_error_t je;
    memset(&je, 0, sizeof je);
    t_alloc_failed = 0;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    octet__free(widened);
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
    if (json_is_real(v) && fabs(json_real_value(v)) >= 9223372036854775808.0) /* a widened big integer */
        return octet__err(err, OCTET_EFORMAT, "%s: %s: %.17g is outside %lld..%lld", name, key, json_real_value(v),
                          (long long)lo, (long long)hi);
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
