/*
 * json_schema.c - JSON Schema to GBNF (grammar.c compiles the result).
 *
 * The grammar generates a subset of the documents the schema accepts, never a superset: every keyword that
 * constrains a document is either translated or refused with OCTET_EUNSUPPORTED naming it and where it is
 * (JSON Schema 2020-12, "Validation" and "Core" vocabularies, https://json-schema.org/draft/2020-12). Choices
 * that narrow the language on purpose, so that a model cannot wander off:
 *   - objects list their properties in the schema's order; optional ones may be left out; with `properties`
 *     given, no other keys are generated even when additionalProperties allows them;
 *   - whitespace between tokens is at most 20 blanks/newlines; numbers have at most 16 integer digits, 16
 *     fraction digits and 3 exponent digits;
 *   - oneOf is generated as anyOf (a document matching two branches is not excluded);
 *   - enum and const values are generated in compact JSON.
 * Formats: date (RFC 3339 full-date; days 01-28 only, so that every generated date exists), time (partial-time with optional offset), date-time, uuid (RFC 4122
 * textual form, any version).
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "format/json.h"

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->len + n + 1) nc *= 2;
        char *q = octet__realloc_array(b->p, b->cap, nc, 1);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

typedef struct {
    json_t *doc;
    sbuf rules;
    const char **ref_key;
    int *ref_id;
    int n_refs, cap_refs;
    int n_rules;
    octet_error *err;
    int failed;
    int depth;
} conv;

#define MAX_ITEMS 10000

static int fail(conv *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(conv *c, int code, const char *fmt, ...) {
    if (c->failed) return -1;
    c->failed = 1;
    char m[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    octet__err(c->err, code, "json schema: %s", m);
    return -1;
}

/* Free what jansson allocated (json_dumps) with jansson's deallocator: octet__json_parse may have routed it to
 * octet's allocation hook. */
static void jfree(void *p) {
    json_free_t f = NULL;
    json_get_alloc_funcs(NULL, &f);
    if (f) f(p);
    else free(p);
}

/* GBNF string literal for bytes s[0..n) */
static void gbnf_lit(sbuf *b, const char *s, size_t n) {
    sb_puts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char u = (unsigned char)s[i];
        if (u == '"' || u == '\\') {
            char e[3] = {'\\', (char)u, 0};
            sb_puts(b, e);
        } else if (u < 0x20 || u == 0x7F) {
            sb_printf(b, "\\x%02X", u);
        } else {
            sb_put(b, (const char *)&u, 1);
        }
    }
    sb_puts(b, "\"");
}

/* GBNF literal of a JSON value in compact form */
static int json_lit(conv *c, sbuf *b, json_t *v) {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) return fail(c, OCTET_ENOMEM, "out of memory");
    gbnf_lit(b, s, strlen(s));
    jfree(s);
    return 0;
}

/* Keywords not listed below (annotations such as title, description, default, examples, $schema, $defs, and
 * unknown ones) do not constrain a document and are ignored. */
static const char *const k_supported[] = {"type", "properties", "required", "additionalProperties", "enum", "const",
                                          "anyOf", "oneOf", "allOf", "items", "minItems", "maxItems", "minLength",
                                          "maxLength", "format", "$ref", NULL};
static const char *const k_unsupported[] = {"pattern", "patternProperties", "minimum", "maximum", "exclusiveMinimum",
                                            "exclusiveMaximum", "multipleOf", "minProperties", "maxProperties",
                                            "propertyNames", "dependencies", "dependentRequired", "dependentSchemas",
                                            "if", "then", "else", "not", "uniqueItems", "contains", "minContains",
                                            "maxContains", "prefixItems", "additionalItems", "unevaluatedProperties",
                                            "unevaluatedItems", "$dynamicRef", "$recursiveRef", NULL};

static int in_list(const char *k, const char *const *l) {
    for (; *l; l++)
        if (strcmp(k, *l) == 0) return 1;
    return 0;
}

static int gen(conv *c, json_t *s, const char *path, sbuf *out);

/* A named rule for expression text e (so that repetitions apply to one element). Returns its number. */
static int add_rule(conv *c, const char *body) {
    int id = c->n_rules++;
    sb_printf(&c->rules, "r%d ::= ", id);
    sb_puts(&c->rules, body);
    sb_puts(&c->rules, "\n");
    return id;
}

/* gen into a fresh rule; *id gets its number */
static int gen_rule(conv *c, json_t *s, const char *path, int *id) {
    sbuf e = {0};
    int rc = gen(c, s, path, &e);
    if (!rc && e.oom) rc = fail(c, OCTET_ENOMEM, "out of memory");
    if (!rc) *id = add_rule(c, e.p ? e.p : "\"\"");
    octet__free(e.p);
    return rc;
}

/* Resolve a JSON pointer fragment ("#", "#/a/b", with ~0 ~1 escapes) within the document. */
static json_t *resolve(conv *c, const char *ref) {
    if (ref[0] != '#') return NULL;
    json_t *v = c->doc;
    const char *p = ref + 1;
    while (*p == '/') {
        p++;
        char seg[256];
        size_t n = 0;
        while (*p && *p != '/') {
            char ch = *p++;
            if (ch == '~' && *p == '0') ch = '~', p++;
            else if (ch == '~' && *p == '1') ch = '/', p++;
            if (n + 1 >= sizeof seg) return NULL;
            seg[n++] = ch;
        }
        seg[n] = 0;
        if (json_is_object(v)) v = json_object_get(v, seg);
        else if (json_is_array(v)) {
            char *end;
            long i = strtol(seg, &end, 10);
            if (*end || end == seg || i < 0) return NULL;
            v = json_array_get(v, (size_t)i);
        } else return NULL;
        if (!v) return NULL;
    }
    return *p ? NULL : v;
}

static int gen_ref(conv *c, const char *ref, const char *path, sbuf *out) {
    for (int i = 0; i < c->n_refs; i++)
        if (strcmp(c->ref_key[i], ref) == 0) {
            sb_printf(out, "r%d", c->ref_id[i]);
            return 0;
        }
    json_t *t = resolve(c, ref);
    if (!t) return fail(c, OCTET_EUNSUPPORTED, "$ref \"%.100s\" at %.200s: only references within the document "
                                               "(#, #/definitions/..., #/$defs/...) that resolve are supported", ref, path);
    if (c->n_refs >= c->cap_refs) {
        int nc = c->cap_refs ? c->cap_refs * 2 : 8;
        const char **k = octet__realloc_array(c->ref_key, (size_t)c->cap_refs, (size_t)nc, sizeof *k);
        if (!k) return fail(c, OCTET_ENOMEM, "out of memory");
        c->ref_key = k;
        int *d = octet__realloc_array(c->ref_id, (size_t)c->cap_refs, (size_t)nc, sizeof *d);
        if (!d) return fail(c, OCTET_ENOMEM, "out of memory");
        c->ref_id = d;
        c->cap_refs = nc;
    }
    /* reserve the rule number first, so that a recursive reference finds it */
    int id = c->n_rules++;
    c->ref_key[c->n_refs] = ref;
    c->ref_id[c->n_refs] = id;
    c->n_refs++;
    sbuf e = {0};
    int rc = gen(c, t, ref, &e);
    if (!rc && e.oom) rc = fail(c, OCTET_ENOMEM, "out of memory");
    if (!rc) {
        sb_printf(&c->rules, "r%d ::= ", id);
        sb_puts(&c->rules, e.p ? e.p : "\"\"");
        sb_puts(&c->rules, "\n");
        sb_printf(out, "r%d", id);
    }
    octet__free(e.p);
    return rc;
}

static int get_count(conv *c, json_t *s, const char *key, const char *path, long *out) {
    json_t *v = json_object_get(s, key);
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return fail(c, OCTET_EINVAL, "'%s' at %.200s must be a non-negative integer", key, path);
    if (json_integer_value(v) > MAX_ITEMS)
        return fail(c, OCTET_EUNSUPPORTED, "'%s' at %.200s is over %d", key, path, MAX_ITEMS);
    *out = (long)json_integer_value(v);
    return 0;
}

/* x{lo,hi} in GBNF (hi < 0: unbounded) */
static void rep(sbuf *out, const char *x, long lo, long hi) {
    if (hi < 0) {
        if (lo == 0) sb_printf(out, "%s*", x);
        else if (lo == 1) sb_printf(out, "%s+", x);
        else sb_printf(out, "%s{%ld,}", x, lo);
    } else if (lo == hi) {
        if (lo == 1) sb_puts(out, x);
        else if (lo > 0) sb_printf(out, "%s{%ld}", x, lo);
    } else {
        sb_printf(out, "%s{%ld,%ld}", x, lo, hi);
    }
}

static int gen_string(conv *c, json_t *s, const char *path, sbuf *out) {
    long lo = 0, hi = -1;
    if (get_count(c, s, "minLength", path, &lo) || get_count(c, s, "maxLength", path, &hi)) return -1;
    json_t *f = json_object_get(s, "format");
    if (f) {
        if (!json_is_string(f)) return fail(c, OCTET_EINVAL, "'format' at %.200s must be a string", path);
        if (json_object_get(s, "minLength") || json_object_get(s, "maxLength"))
            return fail(c, OCTET_EUNSUPPORTED, "'format' together with minLength/maxLength at %.200s", path);
        const char *fs = json_string_value(f);
        if (strcmp(fs, "date") == 0) sb_puts(out, "\"\\\"\" date \"\\\"\"");
        else if (strcmp(fs, "time") == 0) sb_puts(out, "\"\\\"\" time \"\\\"\"");
        else if (strcmp(fs, "date-time") == 0) sb_puts(out, "\"\\\"\" date \"T\" time \"\\\"\"");
        else if (strcmp(fs, "uuid") == 0) sb_puts(out, "\"\\\"\" uuid \"\\\"\"");
        else
            return fail(c, OCTET_EUNSUPPORTED, "'format': \"%.60s\" at %.200s (supported: date, time, date-time, uuid)",
                        fs, path);
        return 0;
    }
    if (hi >= 0 && hi < lo) return fail(c, OCTET_EINVAL, "maxLength < minLength at %.200s", path);
    sb_puts(out, "\"\\\"\" ");
    rep(out, "char", lo, hi);
    sb_puts(out, " \"\\\"\"");
    return 0;
}

static int gen_array(conv *c, json_t *s, const char *path, sbuf *out) {
    long lo = 0, hi = -1;
    if (get_count(c, s, "minItems", path, &lo) || get_count(c, s, "maxItems", path, &hi)) return -1;
    if (hi >= 0 && hi < lo) return fail(c, OCTET_EINVAL, "maxItems < minItems at %.200s", path);
    json_t *it = json_object_get(s, "items");
    char x[32] = "value";
    if (it) {
        if (json_is_array(it))
            return fail(c, OCTET_EUNSUPPORTED, "'items' as an array (tuple validation) at %.200s", path);
        char sub[256];
        snprintf(sub, sizeof sub, "%.200s/items", path);
        int id;
        if (gen_rule(c, it, sub, &id)) return -1;
        snprintf(x, sizeof x, "r%d", id);
    }
    if (hi == 0) {
        sb_puts(out, "\"[\" ws \"]\"");
        return 0;
    }
    char more[32]; /* the rule "," ws X ws */
    int mid = c->n_rules++;
    snprintf(more, sizeof more, "r%d", mid);
    sb_printf(&c->rules, "%s ::= \",\" ws %s ws\n", more, x);
    if (lo == 0) {
        sb_printf(out, "\"[\" ws ( %s ws ", x);
        rep(out, more, 0, hi < 0 ? -1 : hi - 1);
        sb_puts(out, " )? \"]\"");
    } else {
        sb_printf(out, "\"[\" ws %s ws ", x);
        rep(out, more, lo - 1, hi < 0 ? -1 : hi - 1);
        sb_puts(out, " \"]\"");
    }
    return 0;
}

static int gen_object(conv *c, json_t *s, const char *path, sbuf *out) {
    json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required");
    json_t *addl = json_object_get(s, "additionalProperties");
    if (props && !json_is_object(props)) return fail(c, OCTET_EINVAL, "'properties' at %.200s must be an object", path);
    if (req && !json_is_array(req)) return fail(c, OCTET_EINVAL, "'required' at %.200s must be an array", path);
    if (addl && !json_is_boolean(addl) && !json_is_object(addl))
        return fail(c, OCTET_EINVAL, "'additionalProperties' at %.200s must be a boolean or a schema", path);
    for (size_t i = 0; req && i < json_array_size(req); i++)
        if (!json_is_string(json_array_get(req, i)))
            return fail(c, OCTET_EINVAL, "'required' at %.200s must hold strings", path);
    /* the keys: properties in order, then required names that properties does not list (any value) */
    size_t n_props = props ? json_object_size(props) : 0;
    size_t n_keys = n_props + (req ? json_array_size(req) : 0);
    if (n_keys == 0) {
        if (json_is_false(addl)) sb_puts(out, "\"{\" ws \"}\"");
        else if (json_is_object(addl)) {
            char sub[256];
            snprintf(sub, sizeof sub, "%.200s/additionalProperties", path);
            int id;
            if (gen_rule(c, addl, sub, &id)) return -1;
            char kv[64];
            snprintf(kv, sizeof kv, "string ws \":\" ws r%d ws", id);
            int k = add_rule(c, kv);
            sb_printf(out, "\"{\" ws ( r%d ( \",\" ws r%d )* )? \"}\"", k, k);
        } else sb_puts(out, "object");
        return 0;
    }
    const char **names = octet__calloc(n_keys, sizeof *names);
    int *kv = octet__calloc(n_keys, sizeof *kv);
    uint8_t *required = octet__calloc(n_keys, 1);
    int rc = 0;
    size_t nk = 0;
    if (!names || !kv || !required) {
        rc = fail(c, OCTET_ENOMEM, "out of memory");
        goto out;
    }
    const char *key;
    json_t *ps;
    json_object_foreach(props, key, ps) {
        names[nk] = key;
        char sub[300];
        snprintf(sub, sizeof sub, "%.200s/properties/%.60s", path, key);
        sbuf e = {0};
        json_t *ks = json_string(key);
        char *kj = ks ? json_dumps(ks, JSON_ENCODE_ANY) : NULL;
        json_decref(ks);
        if (!kj) {
            octet__free(e.p);
            rc = fail(c, OCTET_ENOMEM, "out of memory");
            goto out;
        }
        gbnf_lit(&e, kj, strlen(kj));
        jfree(kj);
        sb_puts(&e, " ws \":\" ws ");
        if (gen(c, ps, sub, &e)) {
            octet__free(e.p);
            rc = -1;
            goto out;
        }
        sb_puts(&e, " ws");
        if (e.oom) {
            octet__free(e.p);
            rc = fail(c, OCTET_ENOMEM, "out of memory");
            goto out;
        }
        kv[nk] = add_rule(c, e.p);
        octet__free(e.p);
        nk++;
    }
    for (size_t i = 0; req && i < json_array_size(req); i++) {
        const char *r = json_string_value(json_array_get(req, i));
        size_t j = 0;
        while (j < nk && strcmp(names[j], r) != 0) j++;
        if (j < nk) {
            required[j] = 1;
            continue;
        }
        /* a required key that properties does not describe: any value */
        names[nk] = r;
        required[nk] = 1;
        sbuf e = {0};
        json_t *ks = json_string(r);
        char *kj = ks ? json_dumps(ks, JSON_ENCODE_ANY) : NULL;
        json_decref(ks);
        if (!kj) {
            rc = fail(c, OCTET_ENOMEM, "out of memory");
            goto out;
        }
        gbnf_lit(&e, kj, strlen(kj));
        jfree(kj);
        sb_puts(&e, " ws \":\" ws value ws");
        kv[nk] = add_rule(c, e.oom ? "\"\"" : e.p);
        octet__free(e.p);
        nk++;
    }
    /* F_i: the keys from i on, none written yet; L_i: from i on, after a key (each preceded by ","). Built from
     * the end: F_i = kv_i L_{i+1} (required) or kv_i L_{i+1} | F_{i+1} (optional); L_i = "," ws kv_i L_{i+1}
     * or ( "," ws kv_i )? L_{i+1}; F_n = L_n = "". */
    int next_f = -1, next_l = -1;
    for (size_t ii = nk; ii-- > 0;) {
        char body[200];
        char lref[16] = "", fref[16] = "";
        if (next_l >= 0) snprintf(lref, sizeof lref, " r%d", next_l);
        if (next_f >= 0) snprintf(fref, sizeof fref, "r%d", next_f);
        if (required[ii]) snprintf(body, sizeof body, "\",\" ws r%d%s", kv[ii], lref);
        else snprintf(body, sizeof body, "( \",\" ws r%d )?%s", kv[ii], lref);
        int l = add_rule(c, body);
        if (required[ii]) snprintf(body, sizeof body, "r%d%s", kv[ii], lref);
        else snprintf(body, sizeof body, "r%d%s | %s", kv[ii], lref, next_f >= 0 ? fref : "\"\"");
        next_f = add_rule(c, body);
        next_l = l;
    }
    sb_printf(out, "\"{\" ws r%d \"}\"", next_f);
out:
    octet__free(names);
    octet__free(kv);
    octet__free(required);
    return rc;
}

static int gen_typed(conv *c, json_t *s, const char *type, const char *path, sbuf *out) {
    if (strcmp(type, "string") == 0) return gen_string(c, s, path, out);
    if (strcmp(type, "object") == 0) return gen_object(c, s, path, out);
    if (strcmp(type, "array") == 0) return gen_array(c, s, path, out);
    if (strcmp(type, "number") == 0) sb_puts(out, "number");
    else if (strcmp(type, "integer") == 0) sb_puts(out, "integer");
    else if (strcmp(type, "boolean") == 0) sb_puts(out, "( \"true\" | \"false\" )");
    else if (strcmp(type, "null") == 0) sb_puts(out, "\"null\"");
    else return fail(c, OCTET_EINVAL, "unknown type \"%.40s\" at %.200s", type, path);
    return 0;
}

static int type_matches(json_t *v, const char *t) {
    if (strcmp(t, "string") == 0) return json_is_string(v);
    if (strcmp(t, "object") == 0) return json_is_object(v);
    if (strcmp(t, "array") == 0) return json_is_array(v);
    if (strcmp(t, "number") == 0) return json_is_number(v);
    if (strcmp(t, "integer") == 0)
        return json_is_integer(v) || (json_is_real(v) && json_real_value(v) == (double)(long long)json_real_value(v));
    if (strcmp(t, "boolean") == 0) return json_is_boolean(v);
    if (strcmp(t, "null") == 0) return json_is_null(v);
    return 0;
}

static int type_ok(json_t *v, json_t *type) {
    if (!type) return 1;
    if (json_is_string(type)) return type_matches(v, json_string_value(type));
    for (size_t i = 0; i < json_array_size(type); i++)
        if (json_is_string(json_array_get(type, i)) && type_matches(v, json_string_value(json_array_get(type, i))))
            return 1;
    return 0;
}

static int gen(conv *c, json_t *s, const char *path, sbuf *out) {
    if (c->failed) return -1;
    if (json_is_true(s)) {
        sb_puts(out, "value");
        return 0;
    }
    if (json_is_false(s)) return fail(c, OCTET_EUNSUPPORTED, "the schema 'false' at %.200s accepts nothing", path);
    if (!json_is_object(s)) return fail(c, OCTET_EINVAL, "the schema at %.200s must be an object or a boolean", path);
    if (++c->depth > 256) return fail(c, OCTET_EUNSUPPORTED, "schema nested too deeply at %.200s", path);
    const char *key;
    json_t *v;
    int constraining = 0; /* supported keywords besides $ref/anyOf/oneOf/allOf/enum/const */
    json_object_foreach(s, key, v) {
        if (in_list(key, k_unsupported)) {
            if (strcmp(key, "uniqueItems") == 0 && json_is_false(v)) continue;
            return fail(c, OCTET_EUNSUPPORTED, "unsupported keyword '%s' at %.200s", key, path);
        }
        if (in_list(key, k_supported) && strcmp(key, "$ref") && strcmp(key, "anyOf") && strcmp(key, "oneOf") &&
            strcmp(key, "allOf") && strcmp(key, "enum") && strcmp(key, "const"))
            constraining++;
    }
    json_t *ref = json_object_get(s, "$ref"), *any = json_object_get(s, "anyOf");
    json_t *one = json_object_get(s, "oneOf"), *all = json_object_get(s, "allOf");
    json_t *en = json_object_get(s, "enum"), *cn = json_object_get(s, "const");
    json_t *type = json_object_get(s, "type");
    int combos = !!ref + !!any + !!one + !!all;
    if (combos > 1 || (combos && (constraining || en || cn)))
        return fail(c, OCTET_EUNSUPPORTED, "%s together with other constraining keywords at %.200s",
                    ref ? "$ref" : any ? "anyOf" : one ? "oneOf" : "allOf", path);
    int rc = 0;
    if (ref) {
        if (!json_is_string(ref)) rc = fail(c, OCTET_EINVAL, "'$ref' at %.200s must be a string", path);
        else rc = gen_ref(c, json_string_value(ref), path, out);
    } else if (any || one) {
        json_t *a = any ? any : one;
        const char *nm = any ? "anyOf" : "oneOf";
        if (!json_is_array(a) || json_array_size(a) == 0)
            rc = fail(c, OCTET_EINVAL, "'%s' at %.200s must be a non-empty array", nm, path);
        sb_puts(out, "( ");
        for (size_t i = 0; !rc && i < json_array_size(a); i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%.200s/%s/%zu", path, nm, i);
            if (i) sb_puts(out, " | ");
            rc = gen(c, json_array_get(a, i), sub, out);
        }
        sb_puts(out, " )");
    } else if (all) {
        if (!json_is_array(all) || json_array_size(all) != 1)
            rc = fail(c, OCTET_EUNSUPPORTED, "'allOf' at %.200s: only one schema is supported", path);
        else {
            char sub[256];
            snprintf(sub, sizeof sub, "%.200s/allOf/0", path);
            rc = gen(c, json_array_get(all, 0), sub, out);
        }
    } else if (en || cn) {
        if (en && cn) rc = fail(c, OCTET_EUNSUPPORTED, "enum together with const at %.200s", path);
        else if (en && (!json_is_array(en) || json_array_size(en) == 0))
            rc = fail(c, OCTET_EINVAL, "'enum' at %.200s must be a non-empty array", path);
        else if (constraining > (type ? 1 : 0))
            rc = fail(c, OCTET_EUNSUPPORTED, "%s together with keywords other than type at %.200s",
                      en ? "enum" : "const", path);
        else {
            size_t n = en ? json_array_size(en) : 1;
            int k = 0;
            sb_puts(out, "( ");
            for (size_t i = 0; !rc && i < n; i++) {
                json_t *x = en ? json_array_get(en, i) : cn;
                if (!type_ok(x, type)) continue;
                if (k++) sb_puts(out, " | ");
                rc = json_lit(c, out, x);
            }
            sb_puts(out, " )");
            if (!rc && k == 0)
                rc = fail(c, OCTET_EUNSUPPORTED, "no %s value at %.200s has the schema's type", en ? "enum" : "const",
                          path);
        }
    } else if (type) {
        if (json_is_string(type)) rc = gen_typed(c, s, json_string_value(type), path, out);
        else if (json_is_array(type) && json_array_size(type) > 0) {
            sb_puts(out, "( ");
            for (size_t i = 0; !rc && i < json_array_size(type); i++) {
                json_t *t = json_array_get(type, i);
                if (!json_is_string(t)) rc = fail(c, OCTET_EINVAL, "'type' at %.200s must hold strings", path);
                else {
                    if (i) sb_puts(out, " | ");
                    rc = gen_typed(c, s, json_string_value(t), path, out);
                }
            }
            sb_puts(out, " )");
        } else rc = fail(c, OCTET_EINVAL, "'type' at %.200s must be a string or a non-empty array", path);
    } else if (json_object_get(s, "properties") || json_object_get(s, "required") ||
               json_object_get(s, "additionalProperties")) {
        rc = gen_object(c, s, path, out);
    } else if (json_object_get(s, "items") || json_object_get(s, "minItems") || json_object_get(s, "maxItems")) {
        rc = gen_array(c, s, path, out);
    } else if (json_object_get(s, "minLength") || json_object_get(s, "maxLength") || json_object_get(s, "format")) {
        rc = gen_string(c, s, path, out);
    } else {
        sb_puts(out, "value");
    }
    c->depth--;
    return rc;
}

static const char k_common[] =
    "ws ::= \" \"?\n"
    "value ::= object | array | string | number | \"true\" | \"false\" | \"null\"\n"
    "object ::= \"{\" ws ( string ws \":\" ws value ws ( \",\" ws string ws \":\" ws value ws )* )? \"}\"\n"
    "array ::= \"[\" ws ( value ws ( \",\" ws value ws )* )? \"]\"\n"
    "string ::= \"\\\"\" char* \"\\\"\"\n"
    "char ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4} )\n"
    "integer ::= \"-\"? ( \"0\" | [1-9] [0-9]{0,15} )\n"
    "number ::= integer ( \".\" [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?\n"
    "date ::= [0-9]{4} \"-\" ( \"0\" [1-9] | \"1\" [0-2] ) \"-\" ( \"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8] )\n"
    "time ::= ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{1,9} )? "
    "( \"Z\" | [+-] ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )?\n"
    "uuid ::= hex{8} \"-\" hex{4} \"-\" hex{4} \"-\" hex{4} \"-\" hex{12}\n"
    "hex ::= [0-9a-fA-F]\n";

int octet_json_schema_to_gbnf(const char *schema, size_t len, char **gbnf, size_t *gbnf_len, octet_error *err) {
    if (!gbnf) return octet__err(err, OCTET_EINVAL, "json schema: NULL argument");
    *gbnf = NULL;
    if (gbnf_len) *gbnf_len = 0;
    json_t *doc = NULL;
    if (schema && len) {
        int rc = octet__json_parse(&doc, schema, len, (size_t)16 << 20, "json schema", err);
        if (rc) return rc;
    } else {
        doc = json_object();
        if (!doc) return octet__err(err, OCTET_ENOMEM, "json schema: out of memory");
    }
    conv c;
    memset(&c, 0, sizeof c);
    c.doc = doc;
    c.err = err;
    sbuf root = {0};
    sb_puts(&root, "root ::= ws ");
    int rc = gen(&c, doc, "#", &root);
    sb_puts(&root, " ws\n");
    sbuf all = {0};
    if (!rc) {
        sb_put(&all, root.p, root.len);
        if (c.rules.p) sb_put(&all, c.rules.p, c.rules.len);
        sb_puts(&all, k_common);
        if (root.oom || c.rules.oom || all.oom) rc = fail(&c, OCTET_ENOMEM, "out of memory");
    }
    octet__free(root.p);
    octet__free(c.rules.p);
    octet__free(c.ref_key);
    octet__free(c.ref_id);
    json_decref(doc);
    if (rc) {
        octet__free(all.p);
        return err && err->code ? err->code : OCTET_EINVAL;
    }
    *gbnf = all.p;
    if (gbnf_len) *gbnf_len = all.len;
    return 0;
}
