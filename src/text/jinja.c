/*
 * jinja.c - the Jinja engine of jinja.h: source normalisation, lexer (with whitespace control), parser to a tree,
 * and a tree-walking evaluator over a small value type. The language reference is Jinja2 3.x's documentation and
 * its lexer rules (trim_blocks / lstrip_blocks / "-" and "+" markers); value semantics are CPython's.
 *
 * Errors unwind with longjmp to octet__jinja_render: every allocation of a render is in the arena, which is
 * freed there, so unwinding leaks nothing.
 */
#include "jinja.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "text/unicode.h"

/* ---- arena and errors ------------------------------------------------------------------------------------ */
typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} chunk;

typedef struct frame frame;
typedef struct node node;

typedef struct ctx {
    jmp_buf jb;
    octet_error *err;
    int code;
    chunk *chunks;
    size_t mem, max_mem;
    size_t max_out;
    int64_t steps, max_steps;
    int depth, max_depth;
    int line;         /* line of the node being evaluated (for messages) */
    int64_t now;
    frame *globals;
} ctx;

static _Noreturn void fail(ctx *c, int code, const char *fmt, ...) OCTET__PRINTF(3, 4);
static _Noreturn void fail(ctx *c, int code, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->line > 0) octet__err(c->err, code, "chat template line %d: %s", c->line, msg);
    else octet__err(c->err, code, "chat template: %s", msg);
    c->code = code;
    longjmp(c->jb, 1);
}

static void *amalloc(ctx *c, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    chunk *h = c->chunks;
    if (!h || h->cap - h->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        if (c->mem + cap > c->max_mem) fail(c, OCTET_ERANGE, "more than %zu bytes of memory", c->max_mem);
        chunk *k = octet__malloc(sizeof *k + cap);
        if (!k) fail(c, OCTET_ENOMEM, "out of memory");
        c->mem += cap;
        k->used = 0;
        k->cap = cap;
        if (h && h->cap - h->used > 4096 && n <= 65536) { /* keep the roomy chunk in front */
            k->next = h->next;
            h->next = k;
            k->used = n;
            return k->data;
        }
        k->next = h;
        c->chunks = k;
        h = k;
    }
    void *p = h->data + h->used;
    h->used += n;
    return p;
}

static void *acopy(ctx *c, const void *p, size_t n) {
    char *q = amalloc(c, n + 1);
    if (n) memcpy(q, p, n);
    q[n] = 0;
    return q;
}

static void step(ctx *c, int64_t n) {
    c->steps += n;
    if (c->steps > c->max_steps) fail(c, OCTET_ERANGE, "more than %lld loop iterations and calls", (long long)c->max_steps);
}

/* ---- strings and buffers ------------------------------------------------------------------------------------ */
typedef struct str {
    const char *p;
    size_t n;
} str;

static str S(const char *z) { return (str){z, strlen(z)}; }
static int str_eq(str a, str b) { return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0); }
static int str_is(str a, const char *z) { return str_eq(a, S(z)); }

typedef struct buf {
    char *p;
    size_t n, cap, max;
} buf;

static void buf_put(ctx *c, buf *b, const char *s, size_t n) {
    if (n > b->max - b->n) fail(c, OCTET_ERANGE, "output longer than %zu bytes", b->max);
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = amalloc(c, cap);
        if (b->n) memcpy(q, b->p, b->n);
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void buf_puts(ctx *c, buf *b, const char *z) { buf_put(c, b, z, strlen(z)); }
static void buf_putc(ctx *c, buf *b, char ch) { buf_put(c, b, &ch, 1); }
static void buf_printf(ctx *c, buf *b, const char *fmt, ...) OCTET__PRINTF(3, 4);
static void buf_printf(ctx *c, buf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0) buf_put(c, b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}
static buf buf_new(ctx *c) { return (buf){NULL, 0, 0, c->max_out}; }
static str buf_str(buf *b) { return (str){b->p ? b->p : "", b->n}; }

/* Python's str.isspace (bidirectional class WS, B or S, or category Zs): the characters str.strip() and
 * str.split() remove when given no argument. */
static int py_space(uint32_t cp) {
    return (cp >= 9 && cp <= 13) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
           cp == 0x3000;
}

/* Decode the codepoint at s.p[*i]; malformed bytes count as one codepoint each (U+FFFD). */
static uint32_t dec(str s, size_t *i) { return octet__utf8_decode((const unsigned char *)s.p, s.n, i); }
/* Start of the codepoint ending at j (j > 0). */
static size_t prev_cp(str s, size_t j) {
    size_t k = j - 1;
    while (k > 0 && j - k < 4 && ((unsigned char)s.p[k] & 0xc0) == 0x80) k--;
    size_t t = k;
    dec(s, &t);
    return t == j ? k : j - 1;
}
static size_t cp_count(str s) {
    size_t n = 0;
    for (size_t i = 0; i < s.n; n++) dec(s, &i);
    return n;
}

/* strip whitespace (chars == NULL) or any codepoint of chars, from the left (1), the right (2) or both (3) */
static int in_chars(uint32_t cp, const str *chars) {
    if (!chars) return py_space(cp);
    for (size_t i = 0; i < chars->n;)
        if (dec(*chars, &i) == cp) return 1;
    return 0;
}
static str str_strip(str s, const str *chars, int how) {
    size_t a = 0, b = s.n;
    if (how & 1)
        while (a < b) {
            size_t i = a;
            if (!in_chars(dec(s, &i), chars)) break;
            a = i;
        }
    if (how & 2)
        while (b > a) {
            size_t k = prev_cp(s, b), i = k;
            if (!in_chars(dec(s, &i), chars)) break;
            b = k;
        }
    return (str){s.p + a, b - a};
}

/* ---- values ----------------------------------------------------------------------------------------------- */
enum { V_UNDEF, V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_LIST, V_DICT, V_NS, V_FUNC };

typedef struct val val;
typedef struct list list;
typedef struct dict dict;
typedef struct func func;
struct val {
    int t;
    int tuple; /* V_LIST: a tuple (repr with parentheses) */
    union {
        int b;
        int64_t i;
        double f;
        str s; /* V_STR; V_UNDEF: the name that was looked up (may be empty) */
        list *l;
        dict *d; /* V_DICT, V_NS */
        func *fn;
    } u;
};
struct list {
    val *v;
    size_t n, cap;
};
struct dict {
    val *k, *v;
    size_t n, cap;
};

static val UNDEF = {V_UNDEF, 0, {0}};
static val NONE = {V_NONE, 0, {0}};
static val vbool(int b) { val v = {V_BOOL, 0, {0}}; v.u.b = !!b; return v; }
static val vint(int64_t i) { val v = {V_INT, 0, {0}}; v.u.i = i; return v; }
static val vfloat(double f) { val v = {V_FLOAT, 0, {0}}; v.u.f = f; return v; }
static val vstr(str s) { val v = {V_STR, 0, {0}}; v.u.s = s; return v; }
static val vundef(str name) { val v = {V_UNDEF, 0, {0}}; v.u.s = name; return v; }

static list *list_new(ctx *c, size_t cap) {
    list *l = amalloc(c, sizeof *l);
    l->n = 0;
    l->cap = cap ? cap : 4;
    l->v = amalloc(c, l->cap * sizeof(val));
    return l;
}
static void list_push(ctx *c, list *l, val v) {
    if (l->n == l->cap) {
        val *q = amalloc(c, l->cap * 2 * sizeof(val));
        memcpy(q, l->v, l->n * sizeof(val));
        l->v = q;
        l->cap *= 2;
    }
    l->v[l->n++] = v;
}
static val vlist(list *l) { val v = {V_LIST, 0, {0}}; v.u.l = l; return v; }
static val vtuple2(ctx *c, val a, val b) {
    list *l = list_new(c, 2);
    list_push(c, l, a);
    list_push(c, l, b);
    val v = vlist(l);
    v.tuple = 1;
    return v;
}
static dict *dict_new(ctx *c, size_t cap) {
    dict *d = amalloc(c, sizeof *d);
    d->n = 0;
    d->cap = cap ? cap : 4;
    d->k = amalloc(c, d->cap * sizeof(val));
    d->v = amalloc(c, d->cap * sizeof(val));
    return d;
}
static val vdict(dict *d) { val v = {V_DICT, 0, {0}}; v.u.d = d; return v; }

static int val_eq(const val *a, const val *b);
static val *dict_find(dict *d, const val *k) {
    for (size_t i = 0; i < d->n; i++)
        if (val_eq(&d->k[i], k)) return &d->v[i];
    return NULL;
}
static val *dict_find_s(dict *d, str k) {
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].t == V_STR && str_eq(d->k[i].u.s, k)) return &d->v[i];
    return NULL;
}
static void dict_set(ctx *c, dict *d, val k, val v) {
    val *p = dict_find(d, &k);
    if (p) {
        *p = v;
        return;
    }
    if (d->n == d->cap) {
        val *k2 = amalloc(c, d->cap * 2 * sizeof(val)), *v2 = amalloc(c, d->cap * 2 * sizeof(val));
        memcpy(k2, d->k, d->n * sizeof(val));
        memcpy(v2, d->v, d->n * sizeof(val));
        d->k = k2, d->v = v2, d->cap *= 2;
    }
    d->k[d->n] = k;
    d->v[d->n++] = v;
}

/* callables */
enum { F_MACRO, F_BUILTIN, F_METHOD };
struct func {
    int kind;
    int id;     /* F_BUILTIN / F_METHOD: which */
    val self;   /* F_METHOD: the bound object */
    node *def;  /* F_MACRO: the macro (or the caller block) */
    frame *closure;
    val caller; /* F_MACRO: the caller() of a {% call %} block, or undefined */
};
static val vfunc(ctx *c, int kind, int id, val self) {
    func *f = amalloc(c, sizeof *f);
    memset(f, 0, sizeof *f);
    f->kind = kind, f->id = id, f->self = self, f->caller = UNDEF;
    val v = {V_FUNC, 0, {0}};
    v.u.fn = f;
    return v;
}

static const char *type_name(const val *v) {
    switch (v->t) {
    case V_UNDEF: return "Undefined";
    case V_NONE: return "NoneType";
    case V_BOOL: return "bool";
    case V_INT: return "int";
    case V_FLOAT: return "float";
    case V_STR: return "str";
    case V_LIST: return v->tuple ? "tuple" : "list";
    case V_DICT: return "dict";
    case V_NS: return "Namespace";
    default: return "function";
    }
}

static int truthy(const val *v) {
    switch (v->t) {
    case V_UNDEF:
    case V_NONE: return 0;
    case V_BOOL: return v->u.b;
    case V_INT: return v->u.i != 0;
    case V_FLOAT: return v->u.f != 0.0;
    case V_STR: return v->u.s.n != 0;
    case V_LIST: return v->u.l->n != 0;
    case V_DICT: return v->u.d->n != 0;
    default: return 1;
    }
}

static int is_num(const val *v) { return v->t == V_INT || v->t == V_FLOAT || v->t == V_BOOL; }
static double num_f(const val *v) {
    return v->t == V_FLOAT ? v->u.f : (double)(v->t == V_BOOL ? v->u.b : v->u.i);
}
static int64_t num_i(const val *v) { return v->t == V_BOOL ? v->u.b : v->u.i; }

/* Python ==: numbers by value (True == 1 == 1.0), strings by bytes, containers element-wise; Undefined equals
 * only Undefined; functions by identity. */
static int val_eq(const val *a, const val *b) {
    if (is_num(a) && is_num(b)) {
        if (a->t == V_FLOAT || b->t == V_FLOAT) return num_f(a) == num_f(b);
        return num_i(a) == num_i(b);
    }
    if (a->t != b->t) return 0;
    switch (a->t) {
    case V_UNDEF:
    case V_NONE: return 1;
    case V_STR: return str_eq(a->u.s, b->u.s);
    case V_LIST:
        if (a->tuple != b->tuple || a->u.l->n != b->u.l->n) return 0;
        for (size_t i = 0; i < a->u.l->n; i++)
            if (!val_eq(&a->u.l->v[i], &b->u.l->v[i])) return 0;
        return 1;
    case V_DICT:
        if (a->u.d->n != b->u.d->n) return 0;
        for (size_t i = 0; i < a->u.d->n; i++) {
            val *o = dict_find(b->u.d, &a->u.d->k[i]);
            if (!o || !val_eq(&a->u.d->v[i], o)) return 0;
        }
        return 1;
    case V_NS: return a->u.d == b->u.d;
    case V_FUNC: return a->u.fn == b->u.fn;
    }
    return 0;
}

/* Python ordering (<): numbers with numbers, strings by codepoint (= UTF-8 bytes), lists lexicographically.
 * Returns -1, 0, 1; anything else is a TypeError. */
static int val_cmp(ctx *c, const val *a, const val *b) {
    if (is_num(a) && is_num(b)) {
        if (a->t == V_FLOAT || b->t == V_FLOAT) {
            double x = num_f(a), y = num_f(b);
            return x < y ? -1 : x > y ? 1 : 0;
        }
        int64_t x = num_i(a), y = num_i(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a->t == V_STR && b->t == V_STR) {
        size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
        int r = n ? memcmp(a->u.s.p, b->u.s.p, n) : 0;
        if (r) return r < 0 ? -1 : 1;
        return a->u.s.n < b->u.s.n ? -1 : a->u.s.n > b->u.s.n ? 1 : 0;
    }
    if (a->t == V_LIST && b->t == V_LIST && a->tuple == b->tuple) {
        size_t n = a->u.l->n < b->u.l->n ? a->u.l->n : b->u.l->n;
        for (size_t i = 0; i < n; i++) {
            if (val_eq(&a->u.l->v[i], &b->u.l->v[i])) continue;
            return val_cmp(c, &a->u.l->v[i], &b->u.l->v[i]);
        }
        return a->u.l->n < b->u.l->n ? -1 : a->u.l->n > b->u.l->n ? 1 : 0;
    }
    fail(c, OCTET_EFORMAT, "'<' not supported between instances of '%s' and '%s'", type_name(a), type_name(b));
}

/* ---- Python str() and repr() --------------------------------------------------------------------------------- */
/* repr(float): the shortest digit string that reads back to x (tried from 1 to 17 significant digits), laid out
 * as CPython's float_repr: positional when -4 <= exponent < 16 ("1.0", "0.0001", "1e+16", "1e-05"). */
static void put_float(ctx *c, buf *b, double x, int json) {
    if (isnan(x)) {
        buf_puts(c, b, json ? "NaN" : "nan");
        return;
    }
    if (isinf(x)) {
        buf_puts(c, b, x < 0 ? (json ? "-Infinity" : "-inf") : (json ? "Infinity" : "inf"));
        return;
    }
    char tmp[64];
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, x);
        if (strtod(tmp, NULL) == x) break;
    }
    /* tmp: [-]d[.ddd]e[+-]XX */
    char digits[32];
    int nd = 0, neg = 0;
    const char *q = tmp;
    if (*q == '-') neg = 1, q++;
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9') digits[nd++] = *q;
    int e = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    if (neg) buf_putc(c, b, '-');
    if (e >= -4 && e < 16) {
        if (e < 0) {
            buf_puts(c, b, "0.");
            for (int i = 0; i < -e - 1; i++) buf_putc(c, b, '0');
            buf_put(c, b, digits, (size_t)nd);
        } else {
            for (int i = 0; i <= e; i++) buf_putc(c, b, i < nd ? digits[i] : '0');
            buf_putc(c, b, '.');
            if (nd > e + 1) buf_put(c, b, digits + e + 1, (size_t)(nd - e - 1));
            else buf_putc(c, b, '0');
        }
    } else {
        buf_putc(c, b, digits[0]);
        if (nd > 1) {
            buf_putc(c, b, '.');
            buf_put(c, b, digits + 1, (size_t)(nd - 1));
        }
        buf_printf(c, b, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
}

static int printable(uint32_t cp) {
    if (cp == ' ') return 1;
    if (cp < 0x20 || cp == 0x7f) return 0;
    unsigned f = octet__ucp_flags(cp) & OCTET__UCP_CLASS_MASK;
    return !(f & (OCTET__UCP_CONTROL | OCTET__UCP_SEPARATOR));
}

/* repr(str): CPython's unicode_repr (quote choice, \\xNN / \\uNNNN / \\UNNNNNNNN for what str.isprintable
 * rejects; the categories come from octet's Unicode table) */
static void put_repr_str(ctx *c, buf *b, str s) {
    int has_sq = memchr(s.p, '\'', s.n) != NULL, has_dq = memchr(s.p, '"', s.n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    buf_putc(c, b, q);
    for (size_t i = 0; i < s.n;) {
        size_t i0 = i;
        uint32_t cp = dec(s, &i);
        if (cp == (uint32_t)q || cp == '\\') {
            buf_putc(c, b, '\\');
            buf_putc(c, b, (char)cp);
        } else if (cp == '\n') buf_puts(c, b, "\\n");
        else if (cp == '\r') buf_puts(c, b, "\\r");
        else if (cp == '\t') buf_puts(c, b, "\\t");
        else if (!printable(cp)) {
            if (cp < 0x100) buf_printf(c, b, "\\x%02x", cp);
            else if (cp < 0x10000) buf_printf(c, b, "\\u%04x", cp);
            else buf_printf(c, b, "\\U%08x", cp);
        } else buf_put(c, b, s.p + i0, i - i0);
    }
    buf_putc(c, b, q);
}

static void put_str(ctx *c, buf *b, const val *v);
static void put_repr(ctx *c, buf *b, const val *v, int depth) {
    if (depth > c->max_depth) fail(c, OCTET_ERANGE, "value nested too deeply");
    switch (v->t) {
    case V_STR: put_repr_str(c, b, v->u.s); return;
    case V_UNDEF: buf_puts(c, b, "Undefined"); return;
    case V_LIST:
        buf_putc(c, b, v->tuple ? '(' : '[');
        for (size_t i = 0; i < v->u.l->n; i++) {
            if (i) buf_puts(c, b, ", ");
            put_repr(c, b, &v->u.l->v[i], depth + 1);
        }
        if (v->tuple && v->u.l->n == 1) buf_putc(c, b, ',');
        buf_putc(c, b, v->tuple ? ')' : ']');
        return;
    case V_DICT:
    case V_NS:
        if (v->t == V_NS && v->tuple == 2) { /* a loop: <LoopContext index/length> */
            val *i = dict_find_s(v->u.d, S("index")), *n = dict_find_s(v->u.d, S("length"));
            buf_printf(c, b, "<LoopContext %lld/%lld>", (long long)(i ? i->u.i : 0), (long long)(n ? n->u.i : 0));
            return;
        }
        if (v->t == V_NS) buf_puts(c, b, "<Namespace ");
        buf_putc(c, b, '{');
        for (size_t i = 0; i < v->u.d->n; i++) {
            if (i) buf_puts(c, b, ", ");
            put_repr(c, b, &v->u.d->k[i], depth + 1);
            buf_puts(c, b, ": ");
            put_repr(c, b, &v->u.d->v[i], depth + 1);
        }
        buf_putc(c, b, '}');
        if (v->t == V_NS) buf_putc(c, b, '>');
        return;
    default: put_str(c, b, v); return;
    }
}

/* str(v) as Jinja prints it ({{ v }}): Undefined prints nothing */
static void put_str(ctx *c, buf *b, const val *v) {
    switch (v->t) {
    case V_UNDEF: return;
    case V_NONE: buf_puts(c, b, "None"); return;
    case V_BOOL: buf_puts(c, b, v->u.b ? "True" : "False"); return;
    case V_INT: buf_printf(c, b, "%lld", (long long)v->u.i); return;
    case V_FLOAT: put_float(c, b, v->u.f, 0); return;
    case V_STR: buf_put(c, b, v->u.s.p, v->u.s.n); return;
    case V_FUNC: buf_puts(c, b, "<function>"); return;
    default: put_repr(c, b, v, 0); return;
    }
}

static str to_str(ctx *c, const val *v) {
    if (v->t == V_STR) return v->u.s;
    buf b = buf_new(c);
    put_str(c, &b, v);
    return buf_str(&b);
}

/* ---- JSON (transformers' tojson: json.dumps with ensure_ascii, indent, separators, sort_keys) ------------------ */
typedef struct jopts {
    int ascii;
    int indent_on;
    str indent, item_sep, key_sep;
    int sort;
} jopts;

static void json_str(ctx *c, buf *b, str s, int ascii) {
    buf_putc(c, b, '"');
    for (size_t i = 0; i < s.n;) {
        size_t i0 = i;
        uint32_t cp = dec(s, &i);
        switch (cp) {
        case '"': buf_puts(c, b, "\\\""); continue;
        case '\\': buf_puts(c, b, "\\\\"); continue;
        case '\n': buf_puts(c, b, "\\n"); continue;
        case '\r': buf_puts(c, b, "\\r"); continue;
        case '\t': buf_puts(c, b, "\\t"); continue;
        case '\b': buf_puts(c, b, "\\b"); continue;
        case '\f': buf_puts(c, b, "\\f"); continue;
        default: break;
        }
        if (cp < 0x20) buf_printf(c, b, "\\u%04x", cp);
        else if (ascii && cp >= 0x7f) {
            if (cp == 0x7f) buf_putc(c, b, 0x7f);
            else if (cp < 0x10000) buf_printf(c, b, "\\u%04x", cp);
            else {
                uint32_t u = cp - 0x10000;
                buf_printf(c, b, "\\u%04x\\u%04x", 0xd800 + (u >> 10), 0xdc00 + (u & 0x3ff));
            }
        } else buf_put(c, b, s.p + i0, i - i0);
    }
    buf_putc(c, b, '"');
}

static void json_nl(ctx *c, buf *b, const jopts *o, int level) {
    buf_putc(c, b, '\n');
    for (int i = 0; i < level; i++) buf_put(c, b, o->indent.p, o->indent.n);
}

static int key_less(ctx *c, const val *a, const val *b) { return val_cmp(c, a, b) < 0; }

static void json_val(ctx *c, buf *b, const val *v, const jopts *o, int level) {
    if (level > c->max_depth) fail(c, OCTET_ERANGE, "value nested too deeply for tojson");
    switch (v->t) {
    case V_NONE: buf_puts(c, b, "null"); return;
    case V_BOOL: buf_puts(c, b, v->u.b ? "true" : "false"); return;
    case V_INT: buf_printf(c, b, "%lld", (long long)v->u.i); return;
    case V_FLOAT: put_float(c, b, v->u.f, 1); return;
    case V_STR: json_str(c, b, v->u.s, o->ascii); return;
    case V_LIST:
        if (!v->u.l->n) {
            buf_puts(c, b, "[]");
            return;
        }
        buf_putc(c, b, '[');
        for (size_t i = 0; i < v->u.l->n; i++) {
            if (i) buf_put(c, b, o->item_sep.p, o->item_sep.n);
            if (o->indent_on) json_nl(c, b, o, level + 1);
            json_val(c, b, &v->u.l->v[i], o, level + 1);
        }
        if (o->indent_on) json_nl(c, b, o, level);
        buf_putc(c, b, ']');
        return;
    case V_DICT: {
        dict *d = v->u.d;
        if (!d->n) {
            buf_puts(c, b, "{}");
            return;
        }
        size_t *ord = amalloc(c, d->n * sizeof *ord);
        for (size_t i = 0; i < d->n; i++) ord[i] = i;
        if (o->sort) /* insertion sort: stable, and dicts in templates are small */
            for (size_t i = 1; i < d->n; i++)
                for (size_t j = i; j > 0 && key_less(c, &d->k[ord[j]], &d->k[ord[j - 1]]); j--) {
                    size_t t = ord[j];
                    ord[j] = ord[j - 1], ord[j - 1] = t;
                }
        buf_putc(c, b, '{');
        for (size_t i = 0; i < d->n; i++) {
            const val *k = &d->k[ord[i]];
            if (i) buf_put(c, b, o->item_sep.p, o->item_sep.n);
            if (o->indent_on) json_nl(c, b, o, level + 1);
            if (k->t == V_STR) json_str(c, b, k->u.s, o->ascii);
            else if (k->t == V_INT || k->t == V_BOOL || k->t == V_NONE || k->t == V_FLOAT) {
                buf bb = buf_new(c);
                json_val(c, &bb, k, o, level + 1);
                buf_putc(c, b, '"');
                buf_put(c, b, bb.p, bb.n);
                buf_putc(c, b, '"');
            } else fail(c, OCTET_EFORMAT, "tojson: keys must be str, int, float, bool or None, not %s", type_name(k));
            buf_put(c, b, o->key_sep.p, o->key_sep.n);
            json_val(c, b, &d->v[ord[i]], o, level + 1);
        }
        if (o->indent_on) json_nl(c, b, o, level);
        buf_putc(c, b, '}');
        return;
    }
    default: fail(c, OCTET_EFORMAT, "tojson: Object of type %s is not JSON serializable", type_name(v));
    }
}

/* JSON (jansson) to values */
static val from_json(ctx *c, const json_t *j, int depth) {
    if (depth > 1000) fail(c, OCTET_ERANGE, "input nested too deeply");
    switch (json_typeof(j)) {
    case JSON_NULL: return NONE;
    case JSON_TRUE: return vbool(1);
    case JSON_FALSE: return vbool(0);
    case JSON_INTEGER: return vint((int64_t)json_integer_value(j));
    case JSON_REAL: return vfloat(json_real_value(j));
    case JSON_STRING: return vstr((str){acopy(c, json_string_value(j), json_string_length(j)), json_string_length(j)});
    case JSON_ARRAY: {
        list *l = list_new(c, json_array_size(j));
        for (size_t i = 0; i < json_array_size(j); i++) list_push(c, l, from_json(c, json_array_get(j, i), depth + 1));
        return vlist(l);
    }
    case JSON_OBJECT: {
        dict *d = dict_new(c, json_object_size(j));
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)(uintptr_t)j, k, x) {
            d->k[d->n] = vstr((str){acopy(c, k, strlen(k)), strlen(k)});
            d->v[d->n++] = from_json(c, x, depth + 1);
        }
        return vdict(d);
    }
    }
    return NONE;
}

/* ---- lexer ----------------------------------------------------------------------------------------------- */
/* Jinja2 3.x lexing with HF's settings: newlines normalised (\r\n and \r become \n) and one trailing newline
 * dropped (keep_trailing_newline=False); "{%-"/"{{-"/"{#-" strip all whitespace before the tag, "-%}"/"-}}"/"-#}"
 * all whitespace after it; trim_blocks removes the newline right after "%}" or "#}" (not after "+%}");
 * lstrip_blocks removes spaces and tabs between the start of a line and "{%" or "{#" (not after "{%+"). "Start of
 * a line" includes the position right after a tag whose text ended with a newline, as Jinja's line_starting. */
enum { T_TEXT, T_VBEGIN, T_VEND, T_BBEGIN, T_BEND, T_NAME, T_STR, T_INT, T_FLOAT, T_OP, T_EOF };
typedef struct tok {
    int t, line;
    str s;
    int64_t i;
    double f;
} tok;

typedef struct lexer {
    ctx *c;
    const char *s;
    size_t n, pos;
    int line;
    tok *t;
    size_t nt, cap;
} lexer;

static void emit(lexer *L, int t, str s, int line) {
    if (L->nt == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 256;
        tok *q = amalloc(L->c, cap * sizeof *q);
        if (L->nt) memcpy(q, L->t, L->nt * sizeof *q);
        L->t = q, L->cap = cap;
    }
    tok *k = &L->t[L->nt++];
    memset(k, 0, sizeof *k);
    k->t = t, k->s = s, k->line = line;
}

static void count_lines(lexer *L, size_t a, size_t b) {
    for (size_t i = a; i < b; i++) L->line += L->s[i] == '\n';
}

/* skip Python whitespace (\s) from pos */
static size_t skip_ws(const char *s, size_t n, size_t pos) {
    str x = {s, n};
    while (pos < n) {
        size_t i = pos;
        if (!py_space(dec(x, &i))) break;
        pos = i;
    }
    return pos;
}

static int is_ident0(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'; }
static int is_ident(char ch) { return is_ident0(ch) || (ch >= '0' && ch <= '9'); }

static void lex_fail(lexer *L, const char *msg) {
    L->c->line = L->line;
    fail(L->c, OCTET_EFORMAT, "syntax error: %s", msg);
}

/* Python unicode-escape decoding of a string literal's body (Jinja decodes literals so) */
static str unescape(lexer *L, const char *p, size_t n) {
    char *o = amalloc(L->c, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\\' || i + 1 == n) {
            o[k++] = p[i];
            continue;
        }
        char e = p[++i];
        uint32_t cp = 0;
        int hex = 0;
        switch (e) {
        case 'n': o[k++] = '\n'; continue;
        case 't': o[k++] = '\t'; continue;
        case 'r': o[k++] = '\r'; continue;
        case '\\': o[k++] = '\\'; continue;
        case '\'': o[k++] = '\''; continue;
        case '"': o[k++] = '"'; continue;
        case 'a': o[k++] = '\a'; continue;
        case 'b': o[k++] = '\b'; continue;
        case 'f': o[k++] = '\f'; continue;
        case 'v': o[k++] = '\v'; continue;
        case '\n': continue;
        case 'x': hex = 2; break;
        case 'u': hex = 4; break;
        case 'U': hex = 8; break;
        default:
            if (e >= '0' && e <= '7') {
                int d = 0;
                while (d < 3 && i < n && p[i] >= '0' && p[i] <= '7') cp = cp * 8 + (uint32_t)(p[i++] - '0'), d++;
                i--;
                k += (size_t)octet__utf8_encode(cp, (unsigned char *)o + k);
                continue;
            }
            o[k++] = '\\';
            o[k++] = e;
            continue;
        }
        for (int d = 0; d < hex; d++) {
            char h = i + 1 < n ? p[++i] : 0;
            int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
            if (v < 0) lex_fail(L, "truncated \\x, \\u or \\U escape in a string");
            cp = cp * 16 + (uint32_t)v;
        }
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) lex_fail(L, "escape out of range in a string");
        k += (size_t)octet__utf8_encode(cp, (unsigned char *)o + k);
    }
    o[k] = 0;
    return (str){o, k};
}

static const char *const OPS[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "(", ")", "[",
                                  "]", "{", "}", ",", ".", ":", "|", "=", "<", ">", ";", NULL};

/* tokens inside {{ }} or {% %} up to the end delimiter; returns the position after it */
static void lex_tag(lexer *L, int block) {
    const char *s = L->s;
    size_t n = L->n;
    int bal = 0;
    for (;;) {
        size_t p0 = L->pos;
        L->pos = skip_ws(s, n, L->pos);
        count_lines(L, p0, L->pos);
        size_t p = L->pos;
        if (p >= n) lex_fail(L, block ? "missing '%}'" : "missing '}}'");
        if (bal == 0) {
            char e = block ? '%' : '}';
            int sign = (s[p] == '-' || (block && s[p] == '+')) ? s[p] : 0;
            size_t q = p + (sign ? 1 : 0);
            if (q + 1 < n && s[q] == e && s[q + 1] == '}') {
                emit(L, block ? T_BEND : T_VEND, (str){"", 0}, L->line);
                L->pos = q + 2;
                if (sign == '-') {
                    size_t a = L->pos;
                    L->pos = skip_ws(s, n, L->pos);
                    count_lines(L, a, L->pos);
                } else if (!sign && block && L->pos < n && s[L->pos] == '\n') {
                    L->pos++;
                    L->line++;
                }
                return;
            }
        }
        char ch = s[p];
        if (is_ident0(ch)) {
            size_t q = p;
            while (q < n && is_ident(s[q])) q++;
            emit(L, T_NAME, (str){s + p, q - p}, L->line);
            L->pos = q;
        } else if (ch == '\'' || ch == '"') {
            size_t q = p + 1;
            while (q < n && s[q] != ch) q += s[q] == '\\' ? 2 : 1;
            if (q >= n) lex_fail(L, "unterminated string");
            int line = L->line;
            str v = unescape(L, s + p + 1, q - p - 1);
            count_lines(L, p, q);
            /* adjacent literals concatenate, as in Python */
            if (L->nt && L->t[L->nt - 1].t == T_STR && L->t[L->nt - 1].i == 1) {
                tok *pr = &L->t[L->nt - 1];
                char *m = amalloc(L->c, pr->s.n + v.n + 1);
                memcpy(m, pr->s.p, pr->s.n);
                memcpy(m + pr->s.n, v.p, v.n);
                m[pr->s.n + v.n] = 0;
                pr->s = (str){m, pr->s.n + v.n};
            } else {
                emit(L, T_STR, v, line);
                L->t[L->nt - 1].i = 1;
            }
            L->pos = q + 1;
            continue;
        } else if (ch >= '0' && ch <= '9') {
            size_t q = p;
            int isf = 0;
            while (q < n && ((s[q] >= '0' && s[q] <= '9') || s[q] == '_')) q++;
            if (q + 1 < n && s[q] == '.' && s[q + 1] >= '0' && s[q + 1] <= '9') {
                isf = 1;
                q++;
                while (q < n && ((s[q] >= '0' && s[q] <= '9') || s[q] == '_')) q++;
            }
            if (q < n && (s[q] == 'e' || s[q] == 'E')) {
                size_t r = q + 1;
                if (r < n && (s[r] == '+' || s[r] == '-')) r++;
                if (r < n && s[r] >= '0' && s[r] <= '9') {
                    isf = 1;
                    q = r;
                    while (q < n && s[q] >= '0' && s[q] <= '9') q++;
                }
            }
            char tmp[64];
            size_t k = 0;
            for (size_t i = p; i < q && k < sizeof tmp - 1; i++)
                if (s[i] != '_') tmp[k++] = s[i];
            tmp[k] = 0;
            emit(L, isf ? T_FLOAT : T_INT, (str){s + p, q - p}, L->line);
            if (isf) L->t[L->nt - 1].f = strtod(tmp, NULL);
            else {
                errno = 0;
                long long v = strtoll(tmp, NULL, 10);
                if (errno || q - p > 30) lex_fail(L, "integer literal too large");
                L->t[L->nt - 1].i = v;
            }
            L->pos = q;
        } else {
            int found = 0;
            for (int o = 0; OPS[o]; o++) {
                size_t k = strlen(OPS[o]);
                if (p + k <= n && memcmp(s + p, OPS[o], k) == 0) {
                    if (OPS[o][0] == '(' || OPS[o][0] == '[' || OPS[o][0] == '{') bal++;
                    if ((OPS[o][0] == ')' || OPS[o][0] == ']' || OPS[o][0] == '}') && bal > 0) bal--;
                    emit(L, T_OP, (str){OPS[o], k}, L->line);
                    L->pos = p + k;
                    found = 1;
                    break;
                }
            }
            if (!found) {
                char msg[64];
                snprintf(msg, sizeof msg, "unexpected character '%c'", ch);
                lex_fail(L, msg);
            }
        }
    }
}

/* strip from the left of the text a run of spaces and tabs that reaches back to a line start */
static str lstrip_line(str d, int line_starting) {
    size_t l = d.n;
    while (l > 0 && d.p[l - 1] != '\n') l--;
    if (l == 0 && !line_starting) return d;
    str rest = {d.p + l, d.n - l};
    if (rest.n == 0) return d;
    /* Jinja 3 tests the rest with \s+ (Unicode whitespace, no newline can be left in it) */
    if (skip_ws(rest.p, rest.n, 0) != rest.n) return d;
    return (str){d.p, l};
}

static void lex(lexer *L) {
    const char *s = L->s;
    size_t n = L->n;
    int line_starting = 1;
    while (L->pos < n) {
        size_t k = L->pos;
        for (;;) {
            const char *q = memchr(s + k, '{', n - k);
            if (!q) {
                k = n;
                break;
            }
            k = (size_t)(q - s);
            if (k + 1 < n && (s[k + 1] == '{' || s[k + 1] == '%' || s[k + 1] == '#')) break;
            k++;
        }
        str data = {s + L->pos, k - L->pos};
        int dline = L->line;
        if (k >= n) {
            if (data.n) emit(L, T_TEXT, data, dline);
            count_lines(L, L->pos, n);
            L->pos = n;
            break;
        }
        char kind = s[k + 1];
        size_t p = k + 2;
        int sign = 0;
        if (p < n && (s[p] == '-' || s[p] == '+')) sign = s[p++];
        /* {% raw %} ... {% endraw %} */
        int raw = 0;
        if (kind == '%') {
            size_t r = skip_ws(s, n, p);
            if (r + 3 <= n && memcmp(s + r, "raw", 3) == 0) {
                size_t e = skip_ws(s, n, r + 3);
                if (e + 1 < n && s[e] == '%' && s[e + 1] == '}') raw = 1, p = e + 2, sign = sign == '-' ? '-' : sign;
                else if (e + 2 < n && s[e] == '-' && s[e + 1] == '%' && s[e + 2] == '}') raw = 2, p = e + 3;
            }
        }
        if (sign == '-') data = str_strip(data, NULL, 2);
        else if (sign != '+' && kind != '{') data = lstrip_line(data, line_starting);
        if (data.n) emit(L, T_TEXT, data, dline);
        count_lines(L, L->pos, p);
        L->pos = p;
        if (raw) {
            if (raw == 2) {
                size_t a = L->pos;
                L->pos = skip_ws(s, n, L->pos);
                count_lines(L, a, L->pos);
            } else if (L->pos < n && s[L->pos] == '\n') L->pos++, L->line++;
            /* find {%[-+]? endraw [-+]?%} */
            size_t b = L->pos;
            for (;;) {
                const char *q = b < n ? memchr(s + b, '{', n - b) : NULL;
                if (!q) lex_fail(L, "missing '{% endraw %}'");
                size_t t = (size_t)(q - s);
                if (t + 1 < n && s[t + 1] == '%') {
                    size_t u = t + 2;
                    int sg = 0;
                    if (u < n && (s[u] == '-' || s[u] == '+')) sg = s[u++];
                    u = skip_ws(s, n, u);
                    if (u + 6 <= n && memcmp(s + u, "endraw", 6) == 0) {
                        size_t e = skip_ws(s, n, u + 6);
                        int esg = 0;
                        if (e < n && (s[e] == '-' || s[e] == '+')) esg = s[e++];
                        if (e + 1 < n && s[e] == '%' && s[e + 1] == '}') {
                            str body = {s + L->pos, t - L->pos};
                            if (sg == '-') body = str_strip(body, NULL, 2);
                            if (body.n) emit(L, T_TEXT, body, L->line);
                            count_lines(L, L->pos, e + 2);
                            L->pos = e + 2;
                            if (esg == '-') {
                                size_t a = L->pos;
                                L->pos = skip_ws(s, n, L->pos);
                                count_lines(L, a, L->pos);
                            } else if (!esg && L->pos < n && s[L->pos] == '\n') L->pos++, L->line++;
                            break;
                        }
                    }
                }
                b = t + 1;
            }
        } else if (kind == '#') {
            const char *q = NULL;
            for (size_t b = p; b + 1 < n; b++)
                if (s[b] == '#' && s[b + 1] == '}') {
                    q = s + b;
                    break;
                }
            if (!q) lex_fail(L, "missing '#}'");
            size_t e = (size_t)(q - s);
            int esg = e > p && (s[e - 1] == '-' || s[e - 1] == '+') ? s[e - 1] : 0;
            count_lines(L, L->pos, e + 2);
            L->pos = e + 2;
            if (esg == '-') {
                size_t a = L->pos;
                L->pos = skip_ws(s, n, L->pos);
                count_lines(L, a, L->pos);
            } else if (!esg && L->pos < n && s[L->pos] == '\n') L->pos++, L->line++;
        } else {
            emit(L, kind == '%' ? T_BBEGIN : T_VBEGIN, (str){"", 0}, L->line);
            lex_tag(L, kind == '%');
        }
        line_starting = L->pos > 0 && s[L->pos - 1] == '\n';
    }
    emit(L, T_EOF, (str){"", 0}, L->line);
}

/* ---- parser ------------------------------------------------------------------------------------------------ */
enum {
    /* statements */
    N_TEXT, N_OUT, N_IF, N_FOR, N_SET, N_SETBLOCK, N_MACRO, N_CALLBLOCK, N_FILTERBLOCK, N_BREAK, N_CONTINUE, N_BODY,
    /* expressions */
    N_LIT, N_NAME, N_ATTR, N_ITEM, N_SLICE, N_CALL, N_FILTER, N_TEST, N_NEG, N_POS, N_NOT, N_BIN, N_AND, N_OR,
    N_COND, N_LIST, N_TUPLE, N_DICT, N_CONCAT, N_HOLE
};
/* N_BIN / compare operators */
enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FDIV, OP_MOD, OP_POW, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN };

struct node {
    int k, line, op;
    node *a, *b, *c, *d;
    node **l1; /* body, positional arguments, items, dict keys */
    int n1;
    node **l2; /* else body, keyword values, dict values, parameter defaults */
    int n2;
    str name;
    str *names; /* keyword names, parameter names */
    val lit;
};

typedef struct parser {
    ctx *c;
    tok *t;
    size_t i;
    int depth;
} parser;

typedef struct nvec {
    node **v;
    int n, cap;
} nvec;
static void nv_push(ctx *c, nvec *v, node *x) {
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 4;
        node **q = amalloc(c, (size_t)cap * sizeof *q);
        if (v->n) memcpy(q, v->v, (size_t)v->n * sizeof *q);
        v->v = q, v->cap = cap;
    }
    v->v[v->n++] = x;
}

static tok *cur(parser *P) { return &P->t[P->i]; }
static _Noreturn void perr(parser *P, const char *fmt, ...) OCTET__PRINTF(2, 3);
static _Noreturn void perr(parser *P, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    P->c->line = cur(P)->line;
    fail(P->c, OCTET_EFORMAT, "syntax error: %s", msg);
}
static node *mk(parser *P, int k) {
    node *x = amalloc(P->c, sizeof *x);
    memset(x, 0, sizeof *x);
    x->k = k;
    x->line = cur(P)->line;
    return x;
}
static int is_op(parser *P, const char *op) { return cur(P)->t == T_OP && str_is(cur(P)->s, op); }
static int is_name(parser *P, const char *nm) { return cur(P)->t == T_NAME && str_is(cur(P)->s, nm); }
static int accept_op(parser *P, const char *op) {
    if (!is_op(P, op)) return 0;
    P->i++;
    return 1;
}
static int accept_name(parser *P, const char *nm) {
    if (!is_name(P, nm)) return 0;
    P->i++;
    return 1;
}
static const char *tok_desc(tok *t, char *b, size_t n) {
    switch (t->t) {
    case T_EOF: return "end of template";
    case T_BEND: return "end of statement block";
    case T_VEND: return "end of print statement";
    default: snprintf(b, n, "'%.*s'", (int)(t->s.n > 40 ? 40 : t->s.n), t->s.p); return b;
    }
}
static void expect_op(parser *P, const char *op) {
    char b[64];
    if (!accept_op(P, op)) perr(P, "expected '%s', found %s", op, tok_desc(cur(P), b, sizeof b));
}
static str expect_ident(parser *P) {
    char b[64];
    if (cur(P)->t != T_NAME) perr(P, "expected a name, found %s", tok_desc(cur(P), b, sizeof b));
    return P->t[P->i++].s;
}
static void deeper(parser *P) {
    if (++P->depth > P->c->max_depth) perr(P, "nested too deeply");
}

static node *p_expr(parser *P);
static node *p_or(parser *P);
static node *p_unary(parser *P, int with_filter);

static void p_args(parser *P, node *x) {
    /* "(" already consumed: positional and keyword arguments, ")" */
    nvec pos = {0}, kwv = {0};
    str *kwn = NULL;
    int nkw = 0, capkw = 0;
    while (!accept_op(P, ")")) {
        if (pos.n || nkw) expect_op(P, ",");
        if (accept_op(P, ")")) break;
        if (cur(P)->t == T_NAME && P->t[P->i + 1].t == T_OP && str_is(P->t[P->i + 1].s, "=")) {
            str k = P->t[P->i].s;
            P->i += 2;
            if (nkw == capkw) {
                capkw = capkw ? capkw * 2 : 4;
                str *q = amalloc(P->c, (size_t)capkw * sizeof *q);
                if (nkw) memcpy(q, kwn, (size_t)nkw * sizeof *q);
                kwn = q;
            }
            kwn[nkw++] = k;
            nv_push(P->c, &kwv, p_expr(P));
        } else {
            if (nkw) perr(P, "positional argument after a keyword argument");
            nv_push(P->c, &pos, p_expr(P));
        }
    }
    x->l1 = pos.v, x->n1 = pos.n, x->l2 = kwv.v, x->n2 = kwv.n, x->names = kwn;
}

static node *p_primary(parser *P) {
    tok *t = cur(P);
    char b[64];
    node *x;
    deeper(P);
    switch (t->t) {
    case T_NAME:
        if (str_is(t->s, "true") || str_is(t->s, "True")) x = mk(P, N_LIT), x->lit = vbool(1);
        else if (str_is(t->s, "false") || str_is(t->s, "False")) x = mk(P, N_LIT), x->lit = vbool(0);
        else if (str_is(t->s, "none") || str_is(t->s, "None")) x = mk(P, N_LIT), x->lit = NONE;
        else x = mk(P, N_NAME), x->name = t->s;
        P->i++;
        break;
    case T_STR: x = mk(P, N_LIT), x->lit = vstr(t->s), P->i++; break;
    case T_INT: x = mk(P, N_LIT), x->lit = vint(t->i), P->i++; break;
    case T_FLOAT: x = mk(P, N_LIT), x->lit = vfloat(t->f), P->i++; break;
    case T_OP:
        if (accept_op(P, "(")) {
            if (accept_op(P, ")")) {
                x = mk(P, N_TUPLE);
                break;
            }
            node *e = p_expr(P);
            if (is_op(P, ",")) {
                nvec v = {0};
                nv_push(P->c, &v, e);
                while (accept_op(P, ",")) {
                    if (is_op(P, ")")) break;
                    nv_push(P->c, &v, p_expr(P));
                }
                x = mk(P, N_TUPLE);
                x->l1 = v.v, x->n1 = v.n;
            } else x = e;
            expect_op(P, ")");
            break;
        }
        if (accept_op(P, "[")) {
            nvec v = {0};
            x = mk(P, N_LIST);
            while (!accept_op(P, "]")) {
                if (v.n) expect_op(P, ",");
                if (accept_op(P, "]")) break;
                nv_push(P->c, &v, p_expr(P));
            }
            x->l1 = v.v, x->n1 = v.n;
            break;
        }
        if (accept_op(P, "{")) {
            nvec k = {0}, v = {0};
            x = mk(P, N_DICT);
            while (!accept_op(P, "}")) {
                if (k.n) expect_op(P, ",");
                if (accept_op(P, "}")) break;
                nv_push(P->c, &k, p_expr(P));
                expect_op(P, ":");
                nv_push(P->c, &v, p_expr(P));
            }
            x->l1 = k.v, x->n1 = k.n, x->l2 = v.v, x->n2 = v.n;
            break;
        }
        /* fall through */
    default: perr(P, "unexpected %s", tok_desc(t, b, sizeof b));
    }
    P->depth--;
    return x;
}

static node *p_postfix(parser *P, node *x) {
    for (;;) {
        if (is_op(P, ".")) {
            P->i++;
            node *y = mk(P, N_ATTR);
            y->a = x;
            if (cur(P)->t == T_INT) { /* foo.0 is foo[0] */
                y->k = N_ITEM;
                y->b = mk(P, N_LIT);
                y->b->lit = vint(cur(P)->i);
                P->i++;
            } else y->name = expect_ident(P);
            x = y;
        } else if (is_op(P, "[")) {
            P->i++;
            node *s[3] = {NULL, NULL, NULL};
            int slice = 0, k = 0;
            for (;;) {
                if (is_op(P, ":")) {
                    P->i++;
                    slice = 1;
                    if (++k > 2) perr(P, "too many ':' in a subscript");
                    continue;
                }
                if (is_op(P, "]")) break;
                if (s[k]) perr(P, "expected ']'");
                s[k] = p_expr(P);
            }
            expect_op(P, "]");
            node *y = mk(P, slice ? N_SLICE : N_ITEM);
            y->a = x;
            if (slice) y->b = s[0], y->c = s[1], y->d = s[2];
            else {
                if (!s[0]) perr(P, "empty subscript");
                y->b = s[0];
            }
            x = y;
        } else if (is_op(P, "(")) {
            P->i++;
            node *y = mk(P, N_CALL);
            y->a = x;
            p_args(P, y);
            x = y;
        } else return x;
    }
}

static int starts_expr(parser *P) {
    tok *t = cur(P);
    if (t->t == T_NAME)
        return !(str_is(t->s, "else") || str_is(t->s, "or") || str_is(t->s, "and") || str_is(t->s, "if") ||
                 str_is(t->s, "in") || str_is(t->s, "is"));
    if (t->t == T_STR || t->t == T_INT || t->t == T_FLOAT) return 1;
    return t->t == T_OP && (str_is(t->s, "(") || str_is(t->s, "[") || str_is(t->s, "{") || str_is(t->s, "-"));
}

static node *p_filter_expr(parser *P, node *x) {
    for (;;) {
        if (accept_op(P, "|")) {
            node *y = mk(P, N_FILTER);
            y->a = x;
            y->name = expect_ident(P);
            if (accept_op(P, "(")) p_args(P, y);
            x = y;
        } else if (accept_name(P, "is")) {
            node *y = mk(P, N_TEST);
            y->a = x;
            if (accept_name(P, "not")) y->op = 1;
            y->name = expect_ident(P);
            if (accept_op(P, "(")) p_args(P, y);
            else if (starts_expr(P) && !is_op(P, "-")) {
                /* one bare argument: "is divisibleby 3", "is sameas none" */
                nvec v = {0};
                nv_push(P->c, &v, p_postfix(P, p_primary(P)));
                y->l1 = v.v, y->n1 = v.n;
            }
            x = y;
        } else if (is_op(P, "(")) {
            P->i++;
            node *y = mk(P, N_CALL);
            y->a = x;
            p_args(P, y);
            x = y;
        } else return x;
    }
}

static node *p_unary(parser *P, int with_filter) {
    node *x;
    deeper(P);
    if (accept_op(P, "-")) {
        x = mk(P, N_NEG);
        x->a = p_unary(P, 0);
    } else if (accept_op(P, "+")) {
        x = mk(P, N_POS);
        x->a = p_unary(P, 0);
    } else x = p_primary(P);
    x = p_postfix(P, x);
    if (with_filter) x = p_filter_expr(P, x);
    P->depth--;
    return x;
}

static node *bin(parser *P, int op, node *a, node *b) {
    node *x = mk(P, N_BIN);
    x->op = op, x->a = a, x->b = b;
    return x;
}

static node *p_pow(parser *P) {
    node *x = p_unary(P, 1);
    while (accept_op(P, "**")) x = bin(P, OP_POW, x, p_unary(P, 1));
    return x;
}
static node *p_math2(parser *P) {
    node *x = p_pow(P);
    for (;;) {
        if (accept_op(P, "*")) x = bin(P, OP_MUL, x, p_pow(P));
        else if (accept_op(P, "/")) x = bin(P, OP_DIV, x, p_pow(P));
        else if (accept_op(P, "//")) x = bin(P, OP_FDIV, x, p_pow(P));
        else if (accept_op(P, "%")) x = bin(P, OP_MOD, x, p_pow(P));
        else return x;
    }
}
static node *p_concat(parser *P) {
    node *x = p_math2(P);
    if (!is_op(P, "~")) return x;
    nvec v = {0};
    nv_push(P->c, &v, x);
    while (accept_op(P, "~")) nv_push(P->c, &v, p_math2(P));
    node *y = mk(P, N_CONCAT);
    y->l1 = v.v, y->n1 = v.n;
    return y;
}
static node *p_math1(parser *P) {
    node *x = p_concat(P);
    for (;;) {
        if (accept_op(P, "+")) x = bin(P, OP_ADD, x, p_concat(P));
        else if (accept_op(P, "-")) x = bin(P, OP_SUB, x, p_concat(P));
        else return x;
    }
}
static node *p_compare(parser *P) {
    node *x = p_math1(P), *res = NULL;
    for (;;) {
        int op;
        if (accept_op(P, "==")) op = OP_EQ;
        else if (accept_op(P, "!=")) op = OP_NE;
        else if (accept_op(P, "<")) op = OP_LT;
        else if (accept_op(P, "<=")) op = OP_LE;
        else if (accept_op(P, ">")) op = OP_GT;
        else if (accept_op(P, ">=")) op = OP_GE;
        else if (accept_name(P, "in")) op = OP_IN;
        else if (is_name(P, "not") && P->t[P->i + 1].t == T_NAME && str_is(P->t[P->i + 1].s, "in")) {
            P->i += 2;
            op = OP_NOTIN;
        } else break;
        node *y = p_math1(P);
        node *cmp = bin(P, op, x, y);
        if (res) { /* a < b < c: (a < b) and (b < c); the middle operand is evaluated twice (no side effects) */
            node *and = mk(P, N_AND);
            and->a = res, and->b = cmp;
            res = and;
        } else res = cmp;
        x = y;
    }
    return res ? res : x;
}
static node *p_not(parser *P) {
    if (accept_name(P, "not")) {
        deeper(P);
        node *x = mk(P, N_NOT);
        x->a = p_not(P);
        P->depth--;
        return x;
    }
    return p_compare(P);
}
static node *p_and(parser *P) {
    node *x = p_not(P);
    while (accept_name(P, "and")) {
        node *y = mk(P, N_AND);
        y->a = x, y->b = p_not(P);
        x = y;
    }
    return x;
}
static node *p_or(parser *P) {
    node *x = p_and(P);
    while (accept_name(P, "or")) {
        node *y = mk(P, N_OR);
        y->a = x, y->b = p_and(P);
        x = y;
    }
    return x;
}
static node *p_expr(parser *P) {
    deeper(P);
    node *x = p_or(P);
    while (accept_name(P, "if")) {
        node *y = mk(P, N_COND);
        y->b = x;
        y->a = p_or(P);
        if (accept_name(P, "else")) y->c = p_expr(P);
        x = y;
    }
    P->depth--;
    return x;
}
/* expression, or a tuple without parentheses ("a, b") */
static node *p_tuple(parser *P) {
    node *x = p_expr(P);
    if (!is_op(P, ",")) return x;
    nvec v = {0};
    nv_push(P->c, &v, x);
    while (accept_op(P, ",")) {
        if (cur(P)->t == T_BEND || cur(P)->t == T_VEND) break;
        nv_push(P->c, &v, p_expr(P));
    }
    node *y = mk(P, N_TUPLE);
    y->l1 = v.v, y->n1 = v.n;
    return y;
}

/* assignment target: NAME, NAME.attr (set only), or names separated by commas (optionally parenthesised) */
static node *p_target(parser *P, int allow_attr) {
    int paren = accept_op(P, "(");
    nvec v = {0};
    for (;;) {
        node *x = mk(P, N_NAME);
        x->name = expect_ident(P);
        if (allow_attr && !paren && accept_op(P, ".")) {
            node *y = mk(P, N_ATTR);
            y->a = x;
            y->name = expect_ident(P);
            x = y;
        }
        nv_push(P->c, &v, x);
        if (!accept_op(P, ",")) break;
        if (!(cur(P)->t == T_NAME) || is_name(P, "in")) break;
    }
    if (paren) expect_op(P, ")");
    if (v.n == 1 && !paren) return v.v[0];
    node *t = mk(P, N_TUPLE);
    t->l1 = v.v, t->n1 = v.n;
    return t;
}

static void expect_end(parser *P) {
    char b[64];
    if (cur(P)->t != T_BEND) perr(P, "expected end of statement block, found %s", tok_desc(cur(P), b, sizeof b));
    P->i++;
}

static node *p_body(parser *P, const char *const *stops, str *which);

static node *p_stmt(parser *P) {
    char b[64];
    tok *t = cur(P);
    if (t->t != T_NAME) perr(P, "expected a statement name, found %s", tok_desc(t, b, sizeof b));
    str nm = t->s;
    node *x;
    deeper(P);
    if (str_is(nm, "if") || str_is(nm, "elif")) {
        P->i++;
        x = mk(P, N_IF);
        x->a = p_tuple(P);
        expect_end(P);
        static const char *const st[] = {"elif", "else", "endif", NULL};
        str w;
        node *body = p_body(P, st, &w);
        x->l1 = body->l1, x->n1 = body->n1;
        if (str_is(w, "elif")) {
            node *e = p_stmt(P); /* consumes through endif */
            x->l2 = amalloc(P->c, sizeof(node *));
            x->l2[0] = e, x->n2 = 1;
        } else {
            if (str_is(w, "else")) {
                P->i++;
                expect_end(P);
                static const char *const st2[] = {"endif", NULL};
                node *eb = p_body(P, st2, &w);
                x->l2 = eb->l1, x->n2 = eb->n1;
            }
            P->i++; /* endif */
            expect_end(P);
        }
    } else if (str_is(nm, "for")) {
        P->i++;
        x = mk(P, N_FOR);
        x->a = p_target(P, 0);
        if (!accept_name(P, "in")) perr(P, "expected 'in' in a for loop");
        /* the iterable: an expression without the inline-if (its "if" is the loop filter) */
        x->b = p_or(P);
        if (is_op(P, ",")) {
            nvec v = {0};
            nv_push(P->c, &v, x->b);
            while (accept_op(P, ",")) {
                if (cur(P)->t == T_BEND || is_name(P, "if")) break;
                nv_push(P->c, &v, p_or(P));
            }
            node *tu = mk(P, N_TUPLE);
            tu->l1 = v.v, tu->n1 = v.n;
            x->b = tu;
        }
        if (accept_name(P, "if")) x->c = p_expr(P);
        if (accept_name(P, "recursive")) perr(P, "recursive loops are not supported");
        expect_end(P);
        static const char *const st[] = {"else", "endfor", NULL};
        str w;
        node *body = p_body(P, st, &w);
        x->l1 = body->l1, x->n1 = body->n1;
        if (str_is(w, "else")) {
            P->i++;
            expect_end(P);
            static const char *const st2[] = {"endfor", NULL};
            node *eb = p_body(P, st2, &w);
            x->l2 = eb->l1, x->n2 = eb->n1;
        }
        P->i++;
        expect_end(P);
    } else if (str_is(nm, "set")) {
        P->i++;
        node *tg = p_target(P, 1);
        if (accept_op(P, "=")) {
            x = mk(P, N_SET);
            x->a = tg;
            x->b = p_tuple(P);
            expect_end(P);
        } else {
            x = mk(P, N_SETBLOCK);
            x->a = tg;
            if (tg->k != N_NAME && tg->k != N_ATTR) perr(P, "a block set assigns one name");
            if (is_op(P, "|")) { /* {% set x | filter %}: the filters applied to a hole filled with the body */
                node *h = mk(P, N_HOLE);
                x->c = p_filter_expr(P, h);
            }
            expect_end(P);
            static const char *const st[] = {"endset", NULL};
            str w;
            node *body = p_body(P, st, &w);
            x->l1 = body->l1, x->n1 = body->n1;
            P->i++;
            expect_end(P);
        }
    } else if (str_is(nm, "macro")) {
        P->i++;
        x = mk(P, N_MACRO);
        x->name = expect_ident(P);
        expect_op(P, "(");
        nvec defs = {0};
        int np = 0, cap = 0;
        while (!accept_op(P, ")")) {
            if (np) expect_op(P, ",");
            if (accept_op(P, ")")) break;
            if (np == cap) {
                cap = cap ? cap * 2 : 4;
                str *q = amalloc(P->c, (size_t)cap * sizeof *q);
                if (np) memcpy(q, x->names, (size_t)np * sizeof *q);
                x->names = q;
            }
            x->names[np++] = expect_ident(P);
            nv_push(P->c, &defs, accept_op(P, "=") ? p_expr(P) : NULL);
        }
        x->l2 = defs.v, x->n2 = np;
        expect_end(P);
        static const char *const st[] = {"endmacro", NULL};
        str w;
        node *body = p_body(P, st, &w);
        x->l1 = body->l1, x->n1 = body->n1;
        P->i++;
        if (cur(P)->t == T_NAME) P->i++; /* {% endmacro name %} */
        expect_end(P);
    } else if (str_is(nm, "call")) {
        P->i++;
        x = mk(P, N_CALLBLOCK);
        nvec defs = {0};
        int np = 0, cap = 0;
        if (accept_op(P, "(")) {
            while (!accept_op(P, ")")) {
                if (np) expect_op(P, ",");
                if (accept_op(P, ")")) break;
                if (np == cap) {
                    cap = cap ? cap * 2 : 4;
                    str *q = amalloc(P->c, (size_t)cap * sizeof *q);
                    if (np) memcpy(q, x->names, (size_t)np * sizeof *q);
                    x->names = q;
                }
                x->names[np++] = expect_ident(P);
                nv_push(P->c, &defs, accept_op(P, "=") ? p_expr(P) : NULL);
            }
        }
        x->l2 = defs.v, x->n2 = np;
        x->a = p_expr(P);
        if (x->a->k != N_CALL) perr(P, "expected a call after 'call'");
        expect_end(P);
        static const char *const st[] = {"endcall", NULL};
        str w;
        node *body = p_body(P, st, &w);
        x->l1 = body->l1, x->n1 = body->n1;
        P->i++;
        expect_end(P);
    } else if (str_is(nm, "filter")) {
        P->i++;
        x = mk(P, N_FILTERBLOCK);
        node *h = mk(P, N_HOLE);
        /* the first filter has no leading "|" */
        node *f = mk(P, N_FILTER);
        f->a = h;
        f->name = expect_ident(P);
        if (accept_op(P, "(")) p_args(P, f);
        x->c = p_filter_expr(P, f);
        expect_end(P);
        static const char *const st[] = {"endfilter", NULL};
        str w;
        node *body = p_body(P, st, &w);
        x->l1 = body->l1, x->n1 = body->n1;
        P->i++;
        expect_end(P);
    } else if (str_is(nm, "generation")) {
        /* transformers' AssistantTracker: {% generation %} marks assistant text; rendering is the body */
        P->i++;
        expect_end(P);
        static const char *const st[] = {"endgeneration", NULL};
        str w;
        x = p_body(P, st, &w);
        P->i++;
        expect_end(P);
    } else if (str_is(nm, "break") || str_is(nm, "continue")) {
        P->i++;
        x = mk(P, str_is(nm, "break") ? N_BREAK : N_CONTINUE);
        expect_end(P);
    } else {
        perr(P, "unknown statement '%.*s'", (int)(nm.n > 40 ? 40 : nm.n), nm.p);
    }
    P->depth--;
    return x;
}

/* Statements until {% STOP %} for one of stops (left unconsumed: P->i at the stop name, *which set), or the end
 * of the template when stops is NULL. */
static node *p_body(parser *P, const char *const *stops, str *which) {
    nvec v = {0};
    node *body = mk(P, N_BODY);
    int line0 = cur(P)->line;
    for (;;) {
        tok *t = cur(P);
        if (t->t == T_EOF) {
            if (stops) {
                P->c->line = line0;
                fail(P->c, OCTET_EFORMAT, "syntax error: block opened here is never closed (expected '%s')", stops[0]);
            }
            break;
        }
        if (t->t == T_TEXT) {
            node *x = mk(P, N_TEXT);
            x->name = t->s;
            nv_push(P->c, &v, x);
            P->i++;
        } else if (t->t == T_VBEGIN) {
            P->i++;
            node *x = mk(P, N_OUT);
            x->a = p_tuple(P);
            char b[64];
            if (cur(P)->t != T_VEND) perr(P, "expected '}}', found %s", tok_desc(cur(P), b, sizeof b));
            P->i++;
            nv_push(P->c, &v, x);
        } else if (t->t == T_BBEGIN) {
            P->i++;
            tok *nt = cur(P);
            if (nt->t == T_NAME && stops) {
                for (int s = 0; stops[s]; s++)
                    if (str_is(nt->s, stops[s])) {
                        *which = nt->s;
                        body->l1 = v.v, body->n1 = v.n;
                        return body;
                    }
            }
            if (nt->t == T_NAME && (str_is(nt->s, "endif") || str_is(nt->s, "endfor") || str_is(nt->s, "else") ||
                                    str_is(nt->s, "elif") || str_is(nt->s, "endmacro") || str_is(nt->s, "endset") ||
                                    str_is(nt->s, "endcall") || str_is(nt->s, "endfilter") ||
                                    str_is(nt->s, "endgeneration")))
                perr(P, "unexpected '%.*s'", (int)nt->s.n, nt->s.p);
            nv_push(P->c, &v, p_stmt(P));
        } else {
            perr(P, "unexpected token");
        }
    }
    body->l1 = v.v, body->n1 = v.n;
    return body;
}

/* ---- evaluation ---------------------------------------------------------------------------------------------- */
struct frame {
    frame *parent;
    dict *vars;
};

typedef struct args {
    val *pos;
    int np;
    str *kn;
    val *kv;
    int nk;
} args;

typedef struct rt {
    ctx *c;
    int flow; /* 1: break, 2: continue pending */
    val hole; /* the body text of {% filter %} / {% set x | f %} */
} rt;

static frame *frame_new(ctx *c, frame *parent) {
    frame *f = amalloc(c, sizeof *f);
    f->parent = parent;
    f->vars = dict_new(c, 4);
    return f;
}
static void frame_set(ctx *c, frame *f, str name, val v) { dict_set(c, f->vars, vstr(name), v); }
static val *lookup(frame *f, str name) {
    for (; f; f = f->parent) {
        val *v = dict_find_s(f->vars, name);
        if (v) return v;
    }
    return NULL;
}

static _Noreturn void undef_fail(ctx *c, const val *v) {
    if (v->u.s.n) fail(c, OCTET_EFORMAT, "'%.*s' is undefined", (int)(v->u.s.n > 60 ? 60 : v->u.s.n), v->u.s.p);
    fail(c, OCTET_EFORMAT, "undefined value used");
}

static val eval(rt *R, frame *f, node *x);
static void exec_body(rt *R, frame *f, node **l, int n, buf *out);
static val call_value(rt *R, frame *f, val fn, args *a, val caller);

/* positional i or keyword name */
static int arg_get(const args *a, int i, const char *name, val *out) {
    if (i >= 0 && i < a->np) {
        *out = a->pos[i];
        return 1;
    }
    for (int k = 0; k < a->nk; k++)
        if (str_is(a->kn[k], name)) {
            *out = a->kv[k];
            return 1;
        }
    return 0;
}
static void args_max(ctx *c, const args *a, int max_pos, const char *what) {
    if (a->np > max_pos) fail(c, OCTET_EFORMAT, "%s: too many arguments", what);
}

static str need_str(ctx *c, const val *v, const char *what) {
    if (v->t == V_UNDEF) undef_fail(c, v);
    if (v->t != V_STR) fail(c, OCTET_EFORMAT, "%s: expected a string, not %s", what, type_name(v));
    return v->u.s;
}
static int64_t need_int(ctx *c, const val *v, const char *what) {
    if (v->t == V_UNDEF) undef_fail(c, v);
    if (v->t != V_INT && v->t != V_BOOL) fail(c, OCTET_EFORMAT, "%s: expected an integer, not %s", what, type_name(v));
    return num_i(v);
}

/* iteration: list items, dict keys, string codepoints; Undefined is empty */
static list *iter_list(ctx *c, const val *v, const char *what) {
    switch (v->t) {
    case V_UNDEF: return list_new(c, 1);
    case V_LIST: return v->u.l;
    case V_DICT: {
        list *l = list_new(c, v->u.d->n);
        for (size_t i = 0; i < v->u.d->n; i++) list_push(c, l, v->u.d->k[i]);
        return l;
    }
    case V_STR: {
        list *l = list_new(c, v->u.s.n);
        for (size_t i = 0; i < v->u.s.n;) {
            size_t i0 = i;
            dec(v->u.s, &i);
            list_push(c, l, vstr((str){v->u.s.p + i0, i - i0}));
        }
        return l;
    }
    default: fail(c, OCTET_EFORMAT, "%s: '%s' object is not iterable", what, type_name(v));
    }
}

static int64_t length(ctx *c, const val *v) {
    switch (v->t) {
    case V_UNDEF: return 0;
    case V_STR: return (int64_t)cp_count(v->u.s);
    case V_LIST: return (int64_t)v->u.l->n;
    case V_DICT: return (int64_t)v->u.d->n;
    default: fail(c, OCTET_EFORMAT, "object of type '%s' has no len()", type_name(v));
    }
}

/* methods reachable by attribute */
enum {
    M_UNSAFE, M_ITEMS, M_KEYS, M_VALUES, M_GET, M_STRIP, M_LSTRIP, M_RSTRIP, M_SPLIT, M_RSPLIT, M_STARTSWITH,
    M_ENDSWITH, M_UPPER, M_LOWER, M_TITLE, M_CAPITALIZE, M_REPLACE, M_FIND, M_RFIND, M_COUNT, M_JOIN, M_SPLITLINES,
    M_ISDIGIT, M_ISALPHA, M_ISSPACE, M_ISALNUM, M_ISLOWER, M_ISUPPER, M_INDEX, M_CYCLE
};
static const struct {
    const char *name;
    int id, on; /* on: 1 str, 2 dict, 4 list */
} METHODS[] = {
    {"items", M_ITEMS, 2}, {"keys", M_KEYS, 2}, {"values", M_VALUES, 2}, {"get", M_GET, 2},
    {"pop", M_UNSAFE, 6}, {"update", M_UNSAFE, 2}, {"setdefault", M_UNSAFE, 2}, {"clear", M_UNSAFE, 6},
    {"popitem", M_UNSAFE, 2}, {"append", M_UNSAFE, 4}, {"extend", M_UNSAFE, 4}, {"insert", M_UNSAFE, 4},
    {"remove", M_UNSAFE, 4}, {"sort", M_UNSAFE, 4}, {"reverse", M_UNSAFE, 4},
    {"strip", M_STRIP, 1}, {"lstrip", M_LSTRIP, 1}, {"rstrip", M_RSTRIP, 1}, {"split", M_SPLIT, 1},
    {"rsplit", M_RSPLIT, 1}, {"startswith", M_STARTSWITH, 1}, {"endswith", M_ENDSWITH, 1}, {"upper", M_UPPER, 1},
    {"lower", M_LOWER, 1}, {"title", M_TITLE, 1}, {"capitalize", M_CAPITALIZE, 1}, {"replace", M_REPLACE, 1},
    {"find", M_FIND, 1}, {"rfind", M_RFIND, 1}, {"count", M_COUNT, 5}, {"join", M_JOIN, 1},
    {"splitlines", M_SPLITLINES, 1}, {"isdigit", M_ISDIGIT, 1}, {"isalpha", M_ISALPHA, 1}, {"isspace", M_ISSPACE, 1},
    {"isalnum", M_ISALNUM, 1}, {"islower", M_ISLOWER, 1}, {"isupper", M_ISUPPER, 1}, {"index", M_INDEX, 4},
};

static val get_attr(rt *R, const val *obj, str name) {
    ctx *c = R->c;
    if (obj->t == V_UNDEF) undef_fail(c, obj);
    int on = obj->t == V_STR ? 1 : obj->t == V_DICT ? 2 : obj->t == V_LIST ? 4 : 0;
    if (obj->t == V_LIST && obj->tuple && !str_is(name, "index") && !str_is(name, "count")) on = 0;
    for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
        if ((METHODS[i].on & on) && str_is(name, METHODS[i].name)) {
            val m = vfunc(c, F_METHOD, METHODS[i].id, *obj);
            m.u.fn->def = NULL;
            if (METHODS[i].id == M_UNSAFE) m.u.fn->self = vstr(name), m.u.fn->closure = NULL;
            return m;
        }
    if (obj->t == V_DICT || obj->t == V_NS) {
        val *v = dict_find_s(obj->u.d, name);
        if (v) return *v;
    }
    return vundef(name);
}

static val get_item(rt *R, const val *obj, const val *key) {
    ctx *c = R->c;
    if (obj->t == V_UNDEF) undef_fail(c, obj);
    if (obj->t == V_DICT) {
        val *v = dict_find(obj->u.d, key);
        if (v) return *v;
    } else if (obj->t == V_LIST && (key->t == V_INT || key->t == V_BOOL)) {
        int64_t i = num_i(key), n = (int64_t)obj->u.l->n;
        if (i < 0) i += n;
        if (i >= 0 && i < n) return obj->u.l->v[i];
        return vundef((str){"", 0});
    } else if (obj->t == V_STR && (key->t == V_INT || key->t == V_BOOL)) {
        int64_t i = num_i(key), n = (int64_t)cp_count(obj->u.s);
        if (i < 0) i += n;
        if (i >= 0 && i < n) {
            size_t p = 0;
            for (int64_t k = 0; k < i; k++) dec(obj->u.s, &p);
            size_t q = p;
            dec(obj->u.s, &q);
            return vstr((str){obj->u.s.p + p, q - p});
        }
        return vundef((str){"", 0});
    }
    if (key->t == V_STR) return get_attr(R, obj, key->u.s);
    return vundef((str){"", 0});
}

/* Python slice indices for length n (PySlice_AdjustIndices) */
static void slice_idx(ctx *c, int64_t n, const val *a, const val *b, const val *s, int64_t *start, int64_t *stop,
                      int64_t *st) {
    int64_t step = s && s->t != V_NONE ? need_int(c, s, "slice step") : 1;
    if (step == 0) fail(c, OCTET_EFORMAT, "slice step cannot be zero");
    int64_t lo, hi;
    if (step > 0) lo = 0, hi = n;
    else lo = -1, hi = n - 1;
    int64_t x = step > 0 ? lo : hi, y = step > 0 ? hi : lo;
    if (a && a->t != V_NONE) {
        x = need_int(c, a, "slice start");
        if (x < 0) x = x + n < lo ? lo : x + n;
        else if (x > hi) x = hi;
    }
    if (b && b->t != V_NONE) {
        y = need_int(c, b, "slice stop");
        if (y < 0) y = y + n < lo ? lo : y + n;
        else if (y > hi) y = hi;
    }
    *start = x, *stop = y, *st = step;
}

static val do_slice(rt *R, const val *obj, const val *a, const val *b, const val *s) {
    ctx *c = R->c;
    if (obj->t == V_UNDEF) undef_fail(c, obj);
    list *src;
    if (obj->t == V_STR) src = iter_list(c, obj, "slice");
    else if (obj->t == V_LIST) src = obj->u.l;
    else fail(c, OCTET_EFORMAT, "'%s' object is not subscriptable", type_name(obj));
    int64_t x, y, st;
    slice_idx(c, (int64_t)src->n, a, b, s, &x, &y, &st);
    list *l = list_new(c, 4);
    for (int64_t i = x; st > 0 ? i < y : i > y; i += st) list_push(c, l, src->v[i]);
    if (obj->t == V_STR) {
        buf bb = buf_new(c);
        for (size_t i = 0; i < l->n; i++) buf_put(c, &bb, l->v[i].u.s.p, l->v[i].u.s.n);
        return vstr(buf_str(&bb));
    }
    val r = vlist(l);
    r.tuple = obj->tuple;
    return r;
}

static int64_t ck(ctx *c, int ovf, const int64_t *r) {
    if (ovf) fail(c, OCTET_ERANGE, "integer overflow");
    return *r;
}

static val arith(rt *R, int op, val a, val b) {
    ctx *c = R->c;
    if (a.t == V_UNDEF) undef_fail(c, &a);
    if (b.t == V_UNDEF) undef_fail(c, &b);
    if (is_num(&a) && is_num(&b)) {
        int fl = a.t == V_FLOAT || b.t == V_FLOAT;
        int64_t x = num_i(&a), y = num_i(&b), r;
        double p = num_f(&a), q = num_f(&b);
        switch (op) {
        case OP_ADD: return fl ? vfloat(p + q) : vint(ck(c, __builtin_add_overflow(x, y, &r), &r));
        case OP_SUB: return fl ? vfloat(p - q) : vint(ck(c, __builtin_sub_overflow(x, y, &r), &r));
        case OP_MUL: return fl ? vfloat(p * q) : vint(ck(c, __builtin_mul_overflow(x, y, &r), &r));
        case OP_DIV:
            if (q == 0.0) fail(c, OCTET_EFORMAT, "division by zero");
            if (!fl) return vfloat((double)x / (double)y); /* Python: correctly rounded int / int (exact below 2^53) */
            return vfloat(p / q);
        case OP_FDIV:
        case OP_MOD:
            if (q == 0.0) fail(c, OCTET_EFORMAT, "integer division or modulo by zero");
            if (!fl) {
                if (x == INT64_MIN && y == -1) fail(c, OCTET_ERANGE, "integer overflow");
                int64_t d = x / y, m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) d--, m += y;
                return vint(op == OP_FDIV ? d : m);
            } else {
                /* CPython's float_divmod */
                double m = fmod(p, q), d = (p - m) / q;
                if (m != 0.0) {
                    if ((q < 0) != (m < 0)) m += q, d -= 1.0;
                } else m = copysign(0.0, q);
                if (op == OP_MOD) return vfloat(m);
                double fd;
                if (d != 0.0) {
                    fd = floor(d);
                    if (d - fd > 0.5) fd += 1.0;
                } else fd = copysign(0.0, p / q);
                return vfloat(fd);
            }
        case OP_POW:
            if (!fl && y >= 0) {
                int64_t r2 = 1, base = x;
                for (int64_t e = y; e > 0; e >>= 1) {
                    if ((e & 1) && __builtin_mul_overflow(r2, base, &r2)) fail(c, OCTET_ERANGE, "integer overflow");
                    if (e > 1 && __builtin_mul_overflow(base, base, &base)) fail(c, OCTET_ERANGE, "integer overflow");
                }
                return vint(r2);
            }
            if (p == 0.0 && q < 0) fail(c, OCTET_EFORMAT, "0.0 cannot be raised to a negative power");
            return vfloat(pow(p, q));
        }
    }
    if (op == OP_ADD && a.t == V_STR && b.t == V_STR) {
        buf bb = buf_new(c);
        buf_put(c, &bb, a.u.s.p, a.u.s.n);
        buf_put(c, &bb, b.u.s.p, b.u.s.n);
        return vstr(buf_str(&bb));
    }
    if (op == OP_ADD && a.t == V_LIST && b.t == V_LIST && a.tuple == b.tuple) {
        list *l = list_new(c, a.u.l->n + b.u.l->n);
        for (size_t i = 0; i < a.u.l->n; i++) list_push(c, l, a.u.l->v[i]);
        for (size_t i = 0; i < b.u.l->n; i++) list_push(c, l, b.u.l->v[i]);
        val r = vlist(l);
        r.tuple = a.tuple;
        return r;
    }
    if (op == OP_MUL && ((a.t == V_STR || a.t == V_LIST) && (b.t == V_INT || b.t == V_BOOL))) {
        int64_t k = num_i(&b);
        if (a.t == V_STR) {
            buf bb = buf_new(c);
            for (int64_t i = 0; i < k; i++) buf_put(c, &bb, a.u.s.p, a.u.s.n);
            return vstr(buf_str(&bb));
        }
        list *l = list_new(c, 4);
        for (int64_t i = 0; i < k; i++) {
            step(c, 1);
            for (size_t j = 0; j < a.u.l->n; j++) list_push(c, l, a.u.l->v[j]);
        }
        val r = vlist(l);
        r.tuple = a.tuple;
        return r;
    }
    if (op == OP_MUL && (b.t == V_STR || b.t == V_LIST) && (a.t == V_INT || a.t == V_BOOL)) return arith(R, op, b, a);
    static const char *const names[] = {"+", "-", "*", "/", "//", "%", "**"};
    fail(c, OCTET_EFORMAT, "unsupported operand type(s) for %s: '%s' and '%s'", names[op], type_name(&a),
         type_name(&b));
}

static int contains(rt *R, const val *item, const val *cont) {
    ctx *c = R->c;
    switch (cont->t) {
    case V_UNDEF: return 0;
    case V_STR:
        if (item->t != V_STR)
            fail(c, OCTET_EFORMAT, "'in <string>' requires string as left operand, not %s", type_name(item));
        if (item->u.s.n == 0) return 1;
        for (size_t i = 0; i + item->u.s.n <= cont->u.s.n; i++)
            if (memcmp(cont->u.s.p + i, item->u.s.p, item->u.s.n) == 0) return 1;
        return 0;
    case V_LIST:
        for (size_t i = 0; i < cont->u.l->n; i++)
            if (val_eq(item, &cont->u.l->v[i])) return 1;
        return 0;
    case V_DICT: return dict_find(cont->u.d, item) != NULL;
    default: fail(c, OCTET_EFORMAT, "argument of type '%s' is not iterable", type_name(cont));
    }
}

static val compare(rt *R, int op, val a, val b) {
    ctx *c = R->c;
    switch (op) {
    case OP_EQ: return vbool(val_eq(&a, &b));
    case OP_NE: return vbool(!val_eq(&a, &b));
    case OP_IN: return vbool(contains(R, &a, &b));
    case OP_NOTIN: return vbool(!contains(R, &a, &b));
    default: break;
    }
    if (a.t == V_UNDEF) undef_fail(c, &a);
    if (b.t == V_UNDEF) undef_fail(c, &b);
    if ((is_num(&a) && isnan(num_f(&a))) || (is_num(&b) && isnan(num_f(&b)))) return vbool(0);
    int r = val_cmp(c, &a, &b);
    switch (op) {
    case OP_LT: return vbool(r < 0);
    case OP_LE: return vbool(r <= 0);
    case OP_GT: return vbool(r > 0);
    default: return vbool(r >= 0);
    }
}

static void eval_args(rt *R, frame *f, node *x, args *a) {
    a->np = x->n1;
    a->pos = x->n1 ? amalloc(R->c, (size_t)x->n1 * sizeof(val)) : NULL;
    for (int i = 0; i < x->n1; i++) a->pos[i] = eval(R, f, x->l1[i]);
    a->nk = x->n2;
    a->kn = x->names;
    a->kv = x->n2 ? amalloc(R->c, (size_t)x->n2 * sizeof(val)) : NULL;
    for (int i = 0; i < x->n2; i++) a->kv[i] = eval(R, f, x->l2[i]);
}

/* ---- strings: Python str methods ------------------------------------------------------------------------------ */
/* Case mapping is ASCII only (documented): chat templates apply it to role names and ASCII keywords. */
static str map_case(ctx *c, str s, int mode) { /* 0 lower, 1 upper */
    char *o = acopy(c, s.p, s.n);
    for (size_t i = 0; i < s.n; i++) {
        char ch = o[i];
        if (mode == 0 && ch >= 'A' && ch <= 'Z') o[i] = (char)(ch + 32);
        if (mode == 1 && ch >= 'a' && ch <= 'z') o[i] = (char)(ch - 32);
    }
    return (str){o, s.n};
}
static int is_lower_c(char ch) { return ch >= 'a' && ch <= 'z'; }
static int is_upper_c(char ch) { return ch >= 'A' && ch <= 'Z'; }
/* Python str.title: a letter after a cased letter is lowered, any other letter raised */
static str py_title(ctx *c, str s) {
    char *o = acopy(c, s.p, s.n);
    int prev_cased = 0;
    for (size_t i = 0; i < s.n; i++) {
        char ch = o[i];
        if (is_lower_c(ch) || is_upper_c(ch)) {
            o[i] = (char)(prev_cased ? (is_upper_c(ch) ? ch + 32 : ch) : (is_lower_c(ch) ? ch - 32 : ch));
            prev_cased = 1;
        } else prev_cased = 0;
    }
    return (str){o, s.n};
}
/* first codepoint upper, the rest lower */
static str py_capitalize(ctx *c, str s) {
    str l = map_case(c, s, 0);
    char *o = (char *)(uintptr_t)l.p;
    if (l.n && is_lower_c(o[0])) o[0] = (char)(o[0] - 32);
    return l;
}
/* Jinja's title filter: words start after runs of "-", whitespace, "(", "{", "[", "<" */
static str jinja_title(ctx *c, str s) {
    char *o = acopy(c, s.p, s.n);
    int start = 1;
    for (size_t i = 0; i < s.n;) {
        size_t i0 = i;
        uint32_t cp = dec(s, &i);
        if (cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || py_space(cp)) {
            start = 1;
            continue;
        }
        if (i - i0 == 1) {
            char ch = o[i0];
            if (start && is_lower_c(ch)) o[i0] = (char)(ch - 32);
            if (!start && is_upper_c(ch)) o[i0] = (char)(ch + 32);
        }
        start = 0;
    }
    return (str){o, s.n};
}

static size_t find_sub(str s, str sub, size_t from) {
    if (sub.n == 0) return from <= s.n ? from : (size_t)-1;
    for (size_t i = from; i + sub.n <= s.n; i++)
        if (memcmp(s.p + i, sub.p, sub.n) == 0) return i;
    return (size_t)-1;
}
static size_t rfind_sub(str s, str sub) {
    if (sub.n > s.n) return (size_t)-1;
    for (size_t i = s.n - sub.n + 1; i-- > 0;)
        if (memcmp(s.p + i, sub.p, sub.n) == 0) return i;
    return (size_t)-1;
}

static str py_replace(ctx *c, str s, str old, str new_, int64_t count) {
    buf b = buf_new(c);
    if (old.n == 0) { /* inserted before every codepoint and at the end */
        int64_t k = 0;
        for (size_t i = 0; i <= s.n;) {
            if (count < 0 || k < count) buf_put(c, &b, new_.p, new_.n), k++;
            if (i == s.n) break;
            size_t i0 = i;
            dec(s, &i);
            buf_put(c, &b, s.p + i0, i - i0);
        }
        return buf_str(&b);
    }
    size_t i = 0;
    int64_t k = 0;
    while (count < 0 || k < count) {
        size_t j = find_sub(s, old, i);
        if (j == (size_t)-1) break;
        buf_put(c, &b, s.p + i, j - i);
        buf_put(c, &b, new_.p, new_.n);
        i = j + old.n;
        k++;
    }
    buf_put(c, &b, s.p + i, s.n - i);
    return buf_str(&b);
}

static val py_split(ctx *c, str s, const val *sepv, int64_t maxsplit, int right) {
    list *l = list_new(c, 4);
    if (!sepv || sepv->t == V_NONE) {
        /* runs of whitespace; empty strings never produced */
        if (!right) {
            size_t i = 0;
            int64_t k = 0;
            for (;;) {
                while (i < s.n) {
                    size_t j = i;
                    if (!py_space(dec(s, &j))) break;
                    i = j;
                }
                if (i >= s.n) break;
                if (maxsplit >= 0 && k >= maxsplit) {
                    str rest = str_strip((str){s.p + i, s.n - i}, NULL, 2);
                    list_push(c, l, vstr(rest));
                    break;
                }
                size_t a = i;
                while (i < s.n) {
                    size_t j = i;
                    if (py_space(dec(s, &j))) break;
                    i = j;
                }
                list_push(c, l, vstr((str){s.p + a, i - a}));
                k++;
            }
        } else {
            size_t e = s.n;
            int64_t k = 0;
            list *r = list_new(c, 4);
            for (;;) {
                while (e > 0) {
                    size_t p = prev_cp(s, e), j = p;
                    if (!py_space(dec(s, &j))) break;
                    e = p;
                }
                if (e == 0) break;
                if (maxsplit >= 0 && k >= maxsplit) {
                    list_push(c, r, vstr(str_strip((str){s.p, e}, NULL, 1)));
                    break;
                }
                size_t b = e;
                while (b > 0) {
                    size_t p = prev_cp(s, b), j = p;
                    if (py_space(dec(s, &j))) break;
                    b = p;
                }
                list_push(c, r, vstr((str){s.p + b, e - b}));
                e = b;
                k++;
            }
            for (size_t i = r->n; i-- > 0;) list_push(c, l, r->v[i]);
        }
        return vlist(l);
    }
    str sep = need_str(c, sepv, "split");
    if (sep.n == 0) fail(c, OCTET_EFORMAT, "split: empty separator");
    if (!right) {
        size_t i = 0;
        int64_t k = 0;
        for (;;) {
            size_t j = (maxsplit >= 0 && k >= maxsplit) ? (size_t)-1 : find_sub(s, sep, i);
            if (j == (size_t)-1) {
                list_push(c, l, vstr((str){s.p + i, s.n - i}));
                break;
            }
            list_push(c, l, vstr((str){s.p + i, j - i}));
            i = j + sep.n;
            k++;
        }
    } else {
        list *r = list_new(c, 4);
        size_t e = s.n;
        int64_t k = 0;
        for (;;) {
            size_t j = (maxsplit >= 0 && k >= maxsplit) ? (size_t)-1 : rfind_sub((str){s.p, e}, sep);
            if (j == (size_t)-1) {
                list_push(c, r, vstr((str){s.p, e}));
                break;
            }
            list_push(c, r, vstr((str){s.p + j + sep.n, e - j - sep.n}));
            e = j;
            k++;
        }
        for (size_t i = r->n; i-- > 0;) list_push(c, l, r->v[i]);
    }
    return vlist(l);
}

/* Python str.splitlines line boundaries */
static int line_break(str s, size_t i, size_t *len) {
    size_t j = i;
    uint32_t cp = dec(s, &j);
    if (cp == '\r' && j < s.n && s.p[j] == '\n') j++;
    *len = j - i;
    return cp == '\n' || cp == '\r' || cp == 0x0b || cp == 0x0c || cp == 0x1c || cp == 0x1d || cp == 0x1e ||
           cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}
static list *py_splitlines(ctx *c, str s) {
    list *l = list_new(c, 4);
    size_t a = 0, i = 0;
    while (i < s.n) {
        size_t k;
        if (line_break(s, i, &k)) {
            list_push(c, l, vstr((str){s.p + a, i - a}));
            i += k;
            a = i;
        } else dec(s, &i);
    }
    if (a < s.n) list_push(c, l, vstr((str){s.p + a, s.n - a}));
    return l;
}

static int prefix_match(ctx *c, str s, const val *p, int end) {
    if (p->t == V_LIST && p->tuple) {
        for (size_t i = 0; i < p->u.l->n; i++)
            if (prefix_match(c, s, &p->u.l->v[i], end)) return 1;
        return 0;
    }
    str x = need_str(c, p, end ? "endswith" : "startswith");
    if (x.n > s.n) return 0;
    return memcmp(end ? s.p + s.n - x.n : s.p, x.p, x.n) == 0;
}

/* str.isdigit / isalpha / isspace / isalnum on the Unicode classes octet has (N, L, White_Space) */
static int str_class(str s, int which) {
    if (!s.n) return 0;
    for (size_t i = 0; i < s.n;) {
        uint32_t cp = dec(s, &i);
        unsigned f = octet__ucp_flags(cp);
        int ok = which == 0 ? (cp >= '0' && cp <= '9') || (f & OCTET__UCP_NUMBER)
                 : which == 1 ? !!(f & OCTET__UCP_LETTER)
                 : which == 2 ? py_space(cp)
                              : !!(f & (OCTET__UCP_LETTER | OCTET__UCP_NUMBER));
        if (!ok) return 0;
    }
    return 1;
}
static int str_cased(str s, int upper) {
    int any = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (upper ? is_lower_c(s.p[i]) : is_upper_c(s.p[i])) return 0;
        if (is_lower_c(s.p[i]) || is_upper_c(s.p[i])) any = 1;
    }
    return any;
}

static val call_method(rt *R, func *fn, args *a) {
    ctx *c = R->c;
    val self = fn->self, x;
    int id = fn->id;
    if (id == M_UNSAFE)
        fail(c, OCTET_EFORMAT, "access to attribute '%.*s' is unsafe (the sandbox forbids changing a value)",
             (int)self.u.s.n, self.u.s.p);
    if (id == M_CYCLE) {
        if (a->np == 0) fail(c, OCTET_EFORMAT, "loop.cycle: no items given");
        return a->pos[self.u.i % a->np];
    }
    if (self.t == V_DICT) {
        dict *d = self.u.d;
        switch (id) {
        case M_ITEMS: {
            list *l = list_new(c, d->n);
            for (size_t i = 0; i < d->n; i++) list_push(c, l, vtuple2(c, d->k[i], d->v[i]));
            return vlist(l);
        }
        case M_KEYS:
        case M_VALUES: {
            list *l = list_new(c, d->n);
            for (size_t i = 0; i < d->n; i++) list_push(c, l, id == M_KEYS ? d->k[i] : d->v[i]);
            return vlist(l);
        }
        case M_GET: {
            if (!arg_get(a, 0, "key", &x)) fail(c, OCTET_EFORMAT, "get: missing the key");
            val *v = dict_find(d, &x);
            if (v) return *v;
            val dflt;
            return arg_get(a, 1, "default", &dflt) ? dflt : NONE;
        }
        default: break;
        }
    }
    if (self.t == V_LIST) {
        if (!arg_get(a, 0, "value", &x)) fail(c, OCTET_EFORMAT, "list method: missing the argument");
        int64_t k = 0;
        for (size_t i = 0; i < self.u.l->n; i++)
            if (val_eq(&self.u.l->v[i], &x)) {
                if (id == M_INDEX) return vint((int64_t)i);
                k++;
            }
        if (id == M_INDEX) fail(c, OCTET_EFORMAT, "list.index(x): x not in list");
        return vint(k);
    }
    str s = self.u.s;
    switch (id) {
    case M_STRIP:
    case M_LSTRIP:
    case M_RSTRIP: {
        int how = id == M_STRIP ? 3 : id == M_LSTRIP ? 1 : 2;
        if (arg_get(a, 0, "chars", &x) && x.t != V_NONE) {
            str ch = need_str(c, &x, "strip");
            return vstr(str_strip(s, &ch, how));
        }
        return vstr(str_strip(s, NULL, how));
    }
    case M_SPLIT:
    case M_RSPLIT: {
        val sep = NONE, ms;
        arg_get(a, 0, "sep", &sep);
        int64_t m = arg_get(a, 1, "maxsplit", &ms) ? need_int(c, &ms, "split") : -1;
        return py_split(c, s, &sep, m, id == M_RSPLIT);
    }
    case M_STARTSWITH:
    case M_ENDSWITH:
        if (!arg_get(a, 0, "prefix", &x)) fail(c, OCTET_EFORMAT, "startswith/endswith: missing the argument");
        if (a->np > 1) fail(c, OCTET_EFORMAT, "startswith/endswith: start and end are not supported");
        return vbool(prefix_match(c, s, &x, id == M_ENDSWITH));
    case M_UPPER: return vstr(map_case(c, s, 1));
    case M_LOWER: return vstr(map_case(c, s, 0));
    case M_TITLE: return vstr(py_title(c, s));
    case M_CAPITALIZE: return vstr(py_capitalize(c, s));
    case M_REPLACE: {
        val o, nw, cnt;
        if (!arg_get(a, 0, "old", &o) || !arg_get(a, 1, "new", &nw)) fail(c, OCTET_EFORMAT, "replace: missing arguments");
        int64_t k = arg_get(a, 2, "count", &cnt) ? need_int(c, &cnt, "replace") : -1;
        return vstr(py_replace(c, s, need_str(c, &o, "replace"), need_str(c, &nw, "replace"), k));
    }
    case M_FIND:
    case M_RFIND:
    case M_COUNT: {
        if (!arg_get(a, 0, "sub", &x)) fail(c, OCTET_EFORMAT, "find/count: missing the argument");
        str sub = need_str(c, &x, "find");
        if (id == M_COUNT) {
            if (sub.n == 0) return vint((int64_t)cp_count(s) + 1);
            int64_t k = 0;
            for (size_t i = find_sub(s, sub, 0); i != (size_t)-1; i = find_sub(s, sub, i + sub.n)) k++;
            return vint(k);
        }
        size_t i = id == M_FIND ? find_sub(s, sub, 0) : rfind_sub(s, sub);
        return vint(i == (size_t)-1 ? -1 : (int64_t)cp_count((str){s.p, i}));
    }
    case M_JOIN: {
        if (!arg_get(a, 0, "iterable", &x)) fail(c, OCTET_EFORMAT, "join: missing the argument");
        list *l = iter_list(c, &x, "join");
        buf b = buf_new(c);
        for (size_t i = 0; i < l->n; i++) {
            if (i) buf_put(c, &b, s.p, s.n);
            str e = need_str(c, &l->v[i], "join");
            buf_put(c, &b, e.p, e.n);
        }
        return vstr(buf_str(&b));
    }
    case M_SPLITLINES: return vlist(py_splitlines(c, s));
    case M_ISDIGIT: return vbool(str_class(s, 0));
    case M_ISALPHA: return vbool(str_class(s, 1));
    case M_ISSPACE: return vbool(str_class(s, 2));
    case M_ISALNUM: return vbool(str_class(s, 3));
    case M_ISLOWER: return vbool(str_cased(s, 0));
    case M_ISUPPER: return vbool(str_cased(s, 1));
    default: break;
    }
    fail(c, OCTET_EFORMAT, "unsupported method");
}

/* ---- sorting (stable merge sort on keys) -------------------------------------------------------------------- */
static void msort(ctx *c, val *v, val *k, size_t n, int rev, val *tv, val *tk) {
    if (n < 2) return;
    size_t h = n / 2;
    msort(c, v, k, h, rev, tv, tk);
    msort(c, v + h, k + h, n - h, rev, tv, tk);
    size_t i = 0, j = h, o = 0;
    while (i < h && j < n) {
        int r = val_cmp(c, &k[j], &k[i]);
        if (rev ? r > 0 : r < 0) tv[o] = v[j], tk[o++] = k[j++];
        else tv[o] = v[i], tk[o++] = k[i++];
    }
    while (i < h) tv[o] = v[i], tk[o++] = k[i++];
    while (j < n) tv[o] = v[j], tk[o++] = k[j++];
    memcpy(v, tv, n * sizeof *v);
    memcpy(k, tk, n * sizeof *k);
}
static void sort_vals(ctx *c, val *v, val *k, size_t n, int rev) {
    step(c, (int64_t)n);
    val *tv = amalloc(c, (n + 1) * sizeof *tv), *tk = amalloc(c, (n + 1) * sizeof *tk);
    msort(c, v, k, n, rev, tv, tk);
}
/* the sort key: an attribute path ("a.b" or "0"), lowered when not case sensitive */
static val attr_path(rt *R, val v, str path) {
    size_t i = 0;
    while (i <= path.n) {
        size_t j = i;
        while (j < path.n && path.p[j] != '.') j++;
        str part = {path.p + i, j - i};
        int isnum = part.n > 0;
        int64_t idx = 0;
        for (size_t k = 0; k < part.n; k++) {
            if (part.p[k] < '0' || part.p[k] > '9' || k > 15) isnum = 0;
            else idx = idx * 10 + (part.p[k] - '0');
        }
        if (v.t == V_UNDEF) return v;
        if (isnum) {
            val key = vint(idx);
            v = get_item(R, &v, &key);
        } else {
            val key = vstr(part);
            v = get_item(R, &v, &key);
        }
        i = j + 1;
    }
    return v;
}
static val sort_key(rt *R, val v, int case_sensitive, const val *attr) {
    if (attr && attr->t != V_NONE) v = attr_path(R, v, need_str(R->c, attr, "attribute"));
    if (!case_sensitive && v.t == V_STR) v = vstr(map_case(R->c, v.u.s, 0));
    return v;
}

/* ---- tests --------------------------------------------------------------------------------------------------- */
static const char *const TESTS[] = {"defined", "undefined", "none", "boolean", "true", "false", "integer", "float",
                                    "number", "string", "mapping", "iterable", "sequence", "callable", "sameas",
                                    "odd", "even", "divisibleby", "lower", "upper", "eq", "equalto", "==", "ne", "!=",
                                    "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in",
                                    "escaped", NULL};

static int run_test(rt *R, str name, val x, args *a) {
    ctx *c = R->c;
    val y;
    int has = arg_get(a, 0, "other", &y);
#define IS(s) str_is(name, s)
    if (IS("defined")) return x.t != V_UNDEF;
    if (IS("undefined")) return x.t == V_UNDEF;
    if (IS("none")) return x.t == V_NONE;
    if (IS("boolean")) return x.t == V_BOOL;
    if (IS("true")) return x.t == V_BOOL && x.u.b;
    if (IS("false")) return x.t == V_BOOL && !x.u.b;
    if (IS("integer")) return x.t == V_INT;
    if (IS("float")) return x.t == V_FLOAT;
    if (IS("number")) return is_num(&x);
    if (IS("string")) return x.t == V_STR;
    if (IS("mapping")) return x.t == V_DICT;
    if (IS("iterable")) return x.t == V_STR || x.t == V_LIST || x.t == V_DICT || x.t == V_UNDEF;
    if (IS("sequence")) return x.t == V_STR || x.t == V_LIST || x.t == V_DICT || x.t == V_UNDEF;
    if (IS("callable")) return x.t == V_FUNC;
    if (IS("escaped")) return 0;
    if (IS("lower") || IS("upper")) return x.t == V_STR && str_cased(x.u.s, IS("upper"));
    if (IS("odd") || IS("even")) {
        int64_t v = need_int(c, &x, "odd/even");
        return (int)((v % 2 != 0) == IS("odd"));
    }
    if (!has) fail(c, OCTET_EFORMAT, "test '%.*s' needs an argument", (int)name.n, name.p);
    if (IS("divisibleby")) {
        int64_t d = need_int(c, &y, "divisibleby"), v = need_int(c, &x, "divisibleby");
        if (d == 0) fail(c, OCTET_EFORMAT, "integer division or modulo by zero");
        return d == -1 || v % d == 0;
    }
    if (IS("sameas")) {
        if (x.t != y.t) return 0;
        if (x.t == V_NONE || x.t == V_UNDEF) return 1;
        if (x.t == V_BOOL) return x.u.b == y.u.b;
        if (x.t == V_LIST) return x.u.l == y.u.l;
        if (x.t == V_DICT || x.t == V_NS) return x.u.d == y.u.d;
        return val_eq(&x, &y);
    }
    if (IS("eq") || IS("equalto") || IS("==")) return compare(R, OP_EQ, x, y).u.b;
    if (IS("ne") || IS("!=")) return compare(R, OP_NE, x, y).u.b;
    if (IS("lt") || IS("lessthan") || IS("<")) return compare(R, OP_LT, x, y).u.b;
    if (IS("le") || IS("<=")) return compare(R, OP_LE, x, y).u.b;
    if (IS("gt") || IS("greaterthan") || IS(">")) return compare(R, OP_GT, x, y).u.b;
    if (IS("ge") || IS(">=")) return compare(R, OP_GE, x, y).u.b;
    if (IS("in")) return contains(R, &x, &y);
#undef IS
    fail(c, OCTET_EFORMAT, "no test named '%.*s'", (int)name.n, name.p);
}

/* ---- filters ------------------------------------------------------------------------------------------------- */
static const char *const FILTERS[] = {"abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape",
                                      "first", "float", "indent", "int", "items", "join", "last", "length", "list",
                                      "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse",
                                      "round", "safe", "select", "selectattr", "sort", "string", "sum", "title",
                                      "tojson", "trim", "unique", "upper", "wordcount", "center", "batch", NULL};

static val apply_filter(rt *R, frame *f, str name, val x, args *a);

/* select/reject/selectattr/rejectattr: the test named by args[first] (none: truthiness) on each item */
static val select_items(rt *R, frame *f, val x, args *a, int by_attr, int keep) {
    ctx *c = R->c;
    list *src = iter_list(c, &x, "select");
    int k = 0;
    val attr = NONE, tn;
    if (by_attr) {
        if (a->np < 1) fail(c, OCTET_EFORMAT, "selectattr/rejectattr: missing the attribute");
        attr = a->pos[k++];
    }
    int has_test = a->np > k;
    str test = {"", 0};
    if (has_test) {
        tn = a->pos[k++];
        test = need_str(c, &tn, "select: test name");
        int known = 0;
        for (int i = 0; TESTS[i]; i++) known |= str_is(test, TESTS[i]);
        if (!known) fail(c, OCTET_EFORMAT, "no test named '%.*s'", (int)test.n, test.p);
    }
    args ta = {a->pos ? a->pos + k : NULL, a->np - k, a->kn, a->kv, a->nk};
    list *l = list_new(c, src->n);
    for (size_t i = 0; i < src->n; i++) {
        step(c, 1);
        val v = src->v[i];
        if (by_attr) v = attr_path(R, v, need_str(c, &attr, "attribute"));
        int r = has_test ? run_test(R, test, v, &ta) : truthy(&v);
        if (r == keep) list_push(c, l, src->v[i]);
    }
    (void)f;
    return vlist(l);
}

static val do_int(ctx *c, val x, val dflt, int base) {
    switch (x.t) {
    case V_INT: return x;
    case V_BOOL: return vint(x.u.b);
    case V_FLOAT:
        if (isnan(x.u.f) || isinf(x.u.f) || fabs(x.u.f) >= 9.2e18) return dflt;
        return vint((int64_t)x.u.f);
    case V_STR: {
        str s = str_strip(x.u.s, NULL, 3);
        char tmp[80];
        size_t k = 0;
        for (size_t i = 0; i < s.n && k < sizeof tmp - 1; i++)
            if (s.p[i] != '_') tmp[k++] = s.p[i];
        tmp[k] = 0;
        if (s.n == 0 || s.n >= sizeof tmp) return dflt;
        char *end;
        errno = 0;
        long long v = strtoll(tmp, &end, base);
        if (*end == 0 && !errno && !(tmp[0] == '+' && tmp[1] == '-')) return vint(v);
        errno = 0;
        double d = strtod(tmp, &end);
        if (*end == 0 && !errno && !isnan(d) && fabs(d) < 9.2e18 && (tmp[0] < 'a' || tmp[0] > 'z')) return vint((int64_t)d);
        (void)c;
        return dflt;
    }
    default: return dflt;
    }
}
static val do_float(ctx *c, val x, val dflt) {
    switch (x.t) {
    case V_INT:
    case V_BOOL: return vfloat((double)num_i(&x));
    case V_FLOAT: return x;
    case V_STR: {
        str s = str_strip(x.u.s, NULL, 3);
        char tmp[80];
        if (s.n == 0 || s.n >= sizeof tmp) return dflt;
        size_t k = 0;
        for (size_t i = 0; i < s.n; i++)
            if (s.p[i] != '_') tmp[k++] = s.p[i];
        tmp[k] = 0;
        if ((tmp[0] == '0' && (tmp[1] == 'x' || tmp[1] == 'X')) ||
            ((tmp[0] == '-' || tmp[0] == '+') && tmp[1] == '0' && (tmp[2] == 'x' || tmp[2] == 'X')))
            return dflt; /* C reads hexadecimal floats, Python does not */
        char *end;
        double d = strtod(tmp, &end);
        (void)c;
        return *end == 0 ? vfloat(d) : dflt;
    }
    default: return dflt;
    }
}

static val apply_filter(rt *R, frame *f, str name, val x, args *a) {
    ctx *c = R->c;
    val p0, p1, p2;
#define IS(s) str_is(name, s)
    if (IS("default") || IS("d")) {
        val dflt = vstr((str){"", 0}), b;
        arg_get(a, 0, "default_value", &dflt);
        int boolean = arg_get(a, 1, "boolean", &b) && truthy(&b);
        if (x.t == V_UNDEF || (boolean && !truthy(&x))) return dflt;
        return x;
    }
    if (IS("length") || IS("count")) return vint(length(c, &x));
    if (IS("string")) return vstr(to_str(c, &x));
    if (IS("safe")) return x.t == V_STR ? x : vstr(to_str(c, &x));
    if (IS("list")) {
        list *s = iter_list(c, &x, "list"), *l = list_new(c, s->n);
        for (size_t i = 0; i < s->n; i++) list_push(c, l, s->v[i]);
        return vlist(l);
    }
    if (IS("items")) {
        if (x.t == V_UNDEF) return vlist(list_new(c, 1));
        if (x.t != V_DICT) fail(c, OCTET_EFORMAT, "items: can only get item pairs from a mapping");
        list *l = list_new(c, x.u.d->n);
        for (size_t i = 0; i < x.u.d->n; i++) list_push(c, l, vtuple2(c, x.u.d->k[i], x.u.d->v[i]));
        return vlist(l);
    }
    if (IS("dictsort")) {
        if (x.t != V_DICT) fail(c, OCTET_EFORMAT, "dictsort: expected a mapping");
        val cs = vbool(0), by = vstr(S("key")), rev = vbool(0);
        arg_get(a, 0, "case_sensitive", &cs);
        arg_get(a, 1, "by", &by);
        arg_get(a, 2, "reverse", &rev);
        str bys = need_str(c, &by, "dictsort");
        int pos = str_is(bys, "key") ? 0 : str_is(bys, "value") ? 1 : -1;
        if (pos < 0) fail(c, OCTET_EFORMAT, "dictsort: you can only sort by either \"key\" or \"value\"");
        size_t n = x.u.d->n;
        val *v = amalloc(c, (n + 1) * sizeof *v), *k = amalloc(c, (n + 1) * sizeof *k);
        for (size_t i = 0; i < n; i++) {
            v[i] = vtuple2(c, x.u.d->k[i], x.u.d->v[i]);
            k[i] = sort_key(R, pos ? x.u.d->v[i] : x.u.d->k[i], truthy(&cs), NULL);
        }
        sort_vals(c, v, k, n, truthy(&rev));
        list *l = list_new(c, n);
        for (size_t i = 0; i < n; i++) list_push(c, l, v[i]);
        return vlist(l);
    }
    if (IS("tojson")) {
        jopts o = {0, 0, {"", 0}, {", ", 2}, {": ", 2}, 0};
        if (arg_get(a, 0, "ensure_ascii", &p0)) o.ascii = truthy(&p0);
        if (arg_get(a, 1, "indent", &p1) && p1.t != V_NONE) {
            o.indent_on = 1;
            o.item_sep = S(",");
            if (p1.t == V_STR) o.indent = p1.u.s;
            else {
                int64_t w = need_int(c, &p1, "tojson indent");
                if (w < 0) w = 0;
                if (w > 64) fail(c, OCTET_EFORMAT, "tojson: indent %lld too large", (long long)w);
                char *sp = amalloc(c, (size_t)w + 1);
                memset(sp, ' ', (size_t)w);
                o.indent = (str){sp, (size_t)w};
            }
        }
        if (arg_get(a, 2, "separators", &p2) && p2.t != V_NONE) {
            if (p2.t != V_LIST || p2.u.l->n != 2) fail(c, OCTET_EFORMAT, "tojson: separators must be a pair");
            o.item_sep = need_str(c, &p2.u.l->v[0], "tojson separators");
            o.key_sep = need_str(c, &p2.u.l->v[1], "tojson separators");
        }
        val sk;
        if (arg_get(a, 3, "sort_keys", &sk)) o.sort = truthy(&sk);
        args_max(c, a, 4, "tojson");
        buf b = buf_new(c);
        json_val(c, &b, &x, &o, 0);
        return vstr(buf_str(&b));
    }
    if (IS("first")) {
        if (x.t == V_LIST) return x.u.l->n ? x.u.l->v[0] : vundef((str){"", 0});
        list *l = iter_list(c, &x, "first");
        return l->n ? l->v[0] : vundef((str){"", 0});
    }
    if (IS("last")) {
        if (x.t == V_DICT) fail(c, OCTET_EFORMAT, "last: 'dict' object is not reversible");
        list *l = iter_list(c, &x, "last");
        return l->n ? l->v[l->n - 1] : vundef((str){"", 0});
    }
    if (IS("join")) {
        val sep = vstr((str){"", 0}), at = NONE;
        arg_get(a, 0, "d", &sep);
        arg_get(a, 1, "attribute", &at);
        str sp = to_str(c, &sep);
        list *l = iter_list(c, &x, "join");
        buf b = buf_new(c);
        for (size_t i = 0; i < l->n; i++) {
            if (i) buf_put(c, &b, sp.p, sp.n);
            val e = l->v[i];
            if (at.t != V_NONE) e = attr_path(R, e, need_str(c, &at, "join attribute"));
            put_str(c, &b, &e);
        }
        return vstr(buf_str(&b));
    }
    if (IS("upper") || IS("lower")) return vstr(map_case(c, to_str(c, &x), IS("upper")));
    if (IS("title")) return vstr(jinja_title(c, to_str(c, &x)));
    if (IS("capitalize")) return vstr(py_capitalize(c, to_str(c, &x)));
    if (IS("trim")) {
        str s = to_str(c, &x);
        if (arg_get(a, 0, "chars", &p0) && p0.t != V_NONE) {
            str ch = need_str(c, &p0, "trim");
            return vstr(str_strip(s, &ch, 3));
        }
        return vstr(str_strip(s, NULL, 3));
    }
    if (IS("replace")) {
        if (!arg_get(a, 0, "old", &p0) || !arg_get(a, 1, "new", &p1)) fail(c, OCTET_EFORMAT, "replace: missing arguments");
        int64_t k = arg_get(a, 2, "count", &p2) && p2.t != V_NONE ? need_int(c, &p2, "replace") : -1;
        return vstr(py_replace(c, to_str(c, &x), to_str(c, &p0), to_str(c, &p1), k));
    }
    if (IS("int")) {
        val dflt = vint(0), b = vint(10);
        arg_get(a, 0, "default", &dflt);
        arg_get(a, 1, "base", &b);
        int64_t base = need_int(c, &b, "int base");
        if (base < 2 || base > 36) fail(c, OCTET_EFORMAT, "int: base must be in 2..36");
        return do_int(c, x, dflt, (int)base);
    }
    if (IS("float")) {
        val dflt = vfloat(0.0);
        arg_get(a, 0, "default", &dflt);
        return do_float(c, x, dflt);
    }
    if (IS("abs")) {
        if (x.t == V_INT) {
            if (x.u.i == INT64_MIN) fail(c, OCTET_ERANGE, "integer overflow");
            return vint(x.u.i < 0 ? -x.u.i : x.u.i);
        }
        if (x.t == V_BOOL) return vint(x.u.b);
        if (x.t == V_FLOAT) return vfloat(fabs(x.u.f));
        if (x.t == V_UNDEF) undef_fail(c, &x);
        fail(c, OCTET_EFORMAT, "bad operand type for abs(): '%s'", type_name(&x));
    }
    if (IS("round")) {
        val pr = vint(0), m = vstr(S("common"));
        arg_get(a, 0, "precision", &pr);
        arg_get(a, 1, "method", &m);
        int64_t prec = need_int(c, &pr, "round precision");
        str ms = need_str(c, &m, "round method");
        if (x.t == V_UNDEF) undef_fail(c, &x);
        if (!is_num(&x)) fail(c, OCTET_EFORMAT, "round: expected a number, not %s", type_name(&x));
        if (prec < -20 || prec > 20) fail(c, OCTET_EFORMAT, "round: precision out of range");
        if (str_is(ms, "common")) {
            if (x.t != V_FLOAT) {
                if (prec >= 0) return vint(num_i(&x));
                fail(c, OCTET_EFORMAT, "round: negative precision on an integer is not supported");
            }
            if (prec < 0 || isnan(x.u.f) || isinf(x.u.f)) {
                double p10 = pow(10.0, (double)-prec);
                return vfloat(nearbyint(x.u.f / p10) * p10);
            }
            char tmp[400];
            snprintf(tmp, sizeof tmp, "%.*f", (int)prec, x.u.f); /* exact decimal, ties to even: as Python */
            return vfloat(strtod(tmp, NULL));
        }
        if (!str_is(ms, "ceil") && !str_is(ms, "floor"))
            fail(c, OCTET_EFORMAT, "round: method must be 'common', 'ceil' or 'floor'");
        double p10 = pow(10.0, (double)prec), v = num_f(&x) * p10;
        return vfloat((str_is(ms, "ceil") ? ceil(v) : floor(v)) / p10);
    }
    if (IS("reverse")) {
        if (x.t == V_STR) {
            list *l = iter_list(c, &x, "reverse");
            buf b = buf_new(c);
            for (size_t i = l->n; i-- > 0;) buf_put(c, &b, l->v[i].u.s.p, l->v[i].u.s.n);
            return vstr(buf_str(&b));
        }
        list *s = iter_list(c, &x, "reverse"), *l = list_new(c, s->n);
        for (size_t i = s->n; i-- > 0;) list_push(c, l, s->v[i]);
        return vlist(l);
    }
    if (IS("sort") || IS("unique") || IS("min") || IS("max")) {
        val rev = vbool(0), cs = vbool(0), at = NONE;
        int uniq = IS("unique"), mm = IS("min") || IS("max");
        if (IS("sort")) {
            arg_get(a, 0, "reverse", &rev);
            arg_get(a, 1, "case_sensitive", &cs);
            arg_get(a, 2, "attribute", &at);
        } else {
            arg_get(a, 0, "case_sensitive", &cs);
            arg_get(a, 1, "attribute", &at);
        }
        list *s = iter_list(c, &x, "sort");
        size_t n = s->n;
        val *v = amalloc(c, (n + 1) * sizeof *v), *k = amalloc(c, (n + 1) * sizeof *k);
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            step(c, 1);
            val key = sort_key(R, s->v[i], truthy(&cs), &at);
            if (uniq) {
                int seen = 0;
                for (size_t j = 0; j < m && !seen; j++) seen = val_eq(&k[j], &key);
                if (seen) continue;
            }
            v[m] = s->v[i], k[m++] = key;
        }
        if (mm) {
            if (!m) return vundef((str){"", 0});
            size_t best = 0;
            for (size_t i = 1; i < m; i++) {
                int r = val_cmp(c, &k[i], &k[best]);
                if (IS("min") ? r < 0 : r > 0) best = i;
            }
            return v[best];
        }
        if (!uniq) sort_vals(c, v, k, m, truthy(&rev));
        list *l = list_new(c, m);
        for (size_t i = 0; i < m; i++) list_push(c, l, v[i]);
        return vlist(l);
    }
    if (IS("sum")) {
        val at = NONE, acc = vint(0);
        arg_get(a, 0, "attribute", &at);
        arg_get(a, 1, "start", &acc);
        list *s = iter_list(c, &x, "sum");
        for (size_t i = 0; i < s->n; i++) {
            val e = s->v[i];
            if (at.t != V_NONE) e = attr_path(R, e, need_str(c, &at, "sum attribute"));
            acc = arith(R, OP_ADD, acc, e);
        }
        return acc;
    }
    if (IS("map")) {
        list *s = iter_list(c, &x, "map"), *l = list_new(c, s->n);
        val at;
        if (arg_get(a, -1, "attribute", &at)) {
            val dflt = UNDEF;
            int has_d = arg_get(a, -1, "default", &dflt);
            str path = need_str(c, &at, "map attribute");
            for (size_t i = 0; i < s->n; i++) {
                step(c, 1);
                val e = attr_path(R, s->v[i], path);
                list_push(c, l, (e.t == V_UNDEF && has_d) ? dflt : e);
            }
            return vlist(l);
        }
        if (a->np < 1) fail(c, OCTET_EFORMAT, "map: missing the filter name or attribute=");
        str fname = need_str(c, &a->pos[0], "map filter");
        int known = 0;
        for (int i = 0; FILTERS[i]; i++) known |= str_is(fname, FILTERS[i]);
        if (!known) fail(c, OCTET_EFORMAT, "no filter named '%.*s'", (int)fname.n, fname.p);
        args fa = {a->pos + 1, a->np - 1, a->kn, a->kv, a->nk};
        for (size_t i = 0; i < s->n; i++) {
            step(c, 1);
            list_push(c, l, apply_filter(R, f, fname, s->v[i], &fa));
        }
        return vlist(l);
    }
    if (IS("select")) return select_items(R, f, x, a, 0, 1);
    if (IS("reject")) return select_items(R, f, x, a, 0, 0);
    if (IS("selectattr")) return select_items(R, f, x, a, 1, 1);
    if (IS("rejectattr")) return select_items(R, f, x, a, 1, 0);
    if (IS("attr")) {
        if (!arg_get(a, 0, "name", &p0)) fail(c, OCTET_EFORMAT, "attr: missing the name");
        if (x.t == V_UNDEF) undef_fail(c, &x);
        return get_attr(R, &x, need_str(c, &p0, "attr"));
    }
    if (IS("indent")) {
        val w = vint(4), first = vbool(0), blank = vbool(0);
        arg_get(a, 0, "width", &w);
        arg_get(a, 1, "first", &first);
        arg_get(a, 2, "blank", &blank);
        str ind;
        if (w.t == V_STR) ind = w.u.s;
        else {
            int64_t n = need_int(c, &w, "indent width");
            if (n < 0) n = 0;
            if (n > 256) fail(c, OCTET_EFORMAT, "indent: width too large");
            char *sp = amalloc(c, (size_t)n + 1);
            memset(sp, ' ', (size_t)n);
            ind = (str){sp, (size_t)n};
        }
        buf src = buf_new(c);
        str s0 = to_str(c, &x);
        buf_put(c, &src, s0.p, s0.n);
        buf_putc(c, &src, '\n');
        list *lines = py_splitlines(c, buf_str(&src));
        buf b = buf_new(c);
        if (truthy(&first)) buf_put(c, &b, ind.p, ind.n);
        for (size_t i = 0; i < lines->n; i++) {
            str ln = lines->v[i].u.s;
            if (i) {
                buf_putc(c, &b, '\n');
                if (truthy(&blank) || ln.n) buf_put(c, &b, ind.p, ind.n);
            }
            buf_put(c, &b, ln.p, ln.n);
        }
        return vstr(buf_str(&b));
    }
    if (IS("e") || IS("escape")) {
        str s = to_str(c, &x);
        buf b = buf_new(c);
        for (size_t i = 0; i < s.n; i++) {
            switch (s.p[i]) {
            case '&': buf_puts(c, &b, "&amp;"); break;
            case '<': buf_puts(c, &b, "&lt;"); break;
            case '>': buf_puts(c, &b, "&gt;"); break;
            case '"': buf_puts(c, &b, "&#34;"); break;
            case '\'': buf_puts(c, &b, "&#39;"); break;
            default: buf_putc(c, &b, s.p[i]);
            }
        }
        return vstr(buf_str(&b));
    }
    if (IS("wordcount")) {
        val l = py_split(c, to_str(c, &x), NULL, -1, 0);
        return vint((int64_t)l.u.l->n);
    }
    if (IS("center")) {
        val w = vint(80);
        arg_get(a, 0, "width", &w);
        str s = to_str(c, &x);
        int64_t width = need_int(c, &w, "center"), n = (int64_t)cp_count(s);
        if (width > 100000) fail(c, OCTET_EFORMAT, "center: width too large");
        if (width <= n) return vstr(s);
        int64_t pad = width - n, left = pad / 2 + (pad & width & 1);
        buf b = buf_new(c);
        for (int64_t i = 0; i < left; i++) buf_putc(c, &b, ' ');
        buf_put(c, &b, s.p, s.n);
        for (int64_t i = 0; i < pad - left; i++) buf_putc(c, &b, ' ');
        return vstr(buf_str(&b));
    }
    if (IS("batch")) {
        val sz, fill = NONE;
        if (!arg_get(a, 0, "linecount", &sz)) fail(c, OCTET_EFORMAT, "batch: missing the size");
        int has_fill = arg_get(a, 1, "fill_with", &fill) && fill.t != V_NONE;
        int64_t n = need_int(c, &sz, "batch");
        if (n <= 0) fail(c, OCTET_EFORMAT, "batch: size must be positive");
        list *s = iter_list(c, &x, "batch"), *l = list_new(c, 4), *cur_l = NULL;
        for (size_t i = 0; i < s->n; i++) {
            if (!cur_l || (int64_t)cur_l->n == n) {
                cur_l = list_new(c, (size_t)(n < 64 ? n : 64));
                list_push(c, l, vlist(cur_l));
            }
            list_push(c, cur_l, s->v[i]);
        }
        if (has_fill && cur_l)
            while ((int64_t)cur_l->n < n) list_push(c, cur_l, fill);
        return vlist(l);
    }
#undef IS
    fail(c, OCTET_EFORMAT, "no filter named '%.*s'", (int)name.n, name.p);
}

/* ---- globals and calls --------------------------------------------------------------------------------------- */
enum { B_RANGE, B_NAMESPACE, B_RAISE, B_STRFTIME, B_DICT };
static const char *const BUILTINS[] = {"range", "namespace", "raise_exception", "strftime_now", "dict", NULL};

static val call_builtin(rt *R, int id, args *a) {
    ctx *c = R->c;
    switch (id) {
    case B_RANGE: {
        int64_t lo = 0, hi, st = 1;
        if (a->np == 1) hi = need_int(c, &a->pos[0], "range");
        else if (a->np == 2 || a->np == 3) {
            lo = need_int(c, &a->pos[0], "range"), hi = need_int(c, &a->pos[1], "range");
            if (a->np == 3) st = need_int(c, &a->pos[2], "range");
        } else fail(c, OCTET_EFORMAT, "range expected 1 to 3 arguments");
        if (st == 0) fail(c, OCTET_EFORMAT, "range() arg 3 must not be zero");
        list *l = list_new(c, 4);
        for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) {
            step(c, 1);
            list_push(c, l, vint(i));
            if ((st > 0 && i > INT64_MAX - st) || (st < 0 && i < INT64_MIN - st)) break;
        }
        return vlist(l);
    }
    case B_NAMESPACE:
    case B_DICT: {
        dict *d = dict_new(c, 4);
        if (a->np > 1) fail(c, OCTET_EFORMAT, "namespace/dict: at most one positional argument");
        if (a->np == 1) {
            if (a->pos[0].t != V_DICT) fail(c, OCTET_EFORMAT, "namespace/dict: expected a mapping");
            for (size_t i = 0; i < a->pos[0].u.d->n; i++) dict_set(c, d, a->pos[0].u.d->k[i], a->pos[0].u.d->v[i]);
        }
        for (int i = 0; i < a->nk; i++) dict_set(c, d, vstr(a->kn[i]), a->kv[i]);
        val v = vdict(d);
        if (id == B_NAMESPACE) v.t = V_NS;
        return v;
    }
    case B_RAISE: {
        str m = a->np ? to_str(c, &a->pos[0]) : (str){"", 0};
        fail(c, OCTET_EFORMAT, "raise_exception: %.*s", (int)(m.n > 300 ? 300 : m.n), m.p);
    }
    case B_STRFTIME: {
        if (a->np != 1) fail(c, OCTET_EFORMAT, "strftime_now expects one argument");
        str fmt = need_str(c, &a->pos[0], "strftime_now");
        time_t t = c->now ? (time_t)c->now : time(NULL);
        struct tm tm;
        if (!localtime_r(&t, &tm)) fail(c, OCTET_EFORMAT, "strftime_now: no local time");
        char *z = acopy(c, fmt.p, fmt.n);
        char out[512];
        size_t k = fmt.n && fmt.n < 200 ? strftime(out, sizeof out, z, &tm) : 0;
        if (fmt.n && !k) fail(c, OCTET_EFORMAT, "strftime_now: format too long or empty result");
        return vstr((str){acopy(c, out, k), k});
    }
    }
    fail(c, OCTET_EFORMAT, "unknown function");
}

static void bind_target(rt *R, frame *f, node *t, val v) {
    ctx *c = R->c;
    if (t->k == N_NAME) {
        frame_set(c, f, t->name, v);
        return;
    }
    if (t->k == N_ATTR) {
        val *ns = lookup(f, t->a->name);
        if (!ns || ns->t != V_NS || ns->tuple == 2)
            fail(c, OCTET_EFORMAT, "cannot assign attribute on non-namespace object");
        dict_set(c, ns->u.d, vstr(t->name), v);
        return;
    }
    /* tuple unpacking */
    list *l = iter_list(c, &v, "unpack");
    if ((int)l->n != t->n1)
        fail(c, OCTET_EFORMAT, "cannot unpack %zu values into %d names", l->n, t->n1);
    for (int i = 0; i < t->n1; i++) bind_target(R, f, t->l1[i], l->v[i]);
}

/* a macro (or a {% call %} block's caller) invoked with a */
static val call_macro(rt *R, func *fn, args *a, val caller) {
    ctx *c = R->c;
    node *m = fn->def;
    if (++c->depth > c->max_depth) fail(c, OCTET_ERANGE, "macro calls nested deeper than %d", c->max_depth);
    step(c, 1);
    frame *f = frame_new(c, fn->closure);
    list *varargs = list_new(c, 1);
    dict *kwargs = dict_new(c, 1);
    int *given = amalloc(c, ((size_t)m->n2 + 1) * sizeof *given);
    memset(given, 0, ((size_t)m->n2 + 1) * sizeof *given);
    for (int i = 0; i < a->np; i++) {
        if (i < m->n2) {
            frame_set(c, f, m->names[i], a->pos[i]);
            given[i] = 1;
        } else list_push(c, varargs, a->pos[i]);
    }
    for (int k = 0; k < a->nk; k++) {
        int found = 0;
        for (int i = 0; i < m->n2; i++)
            if (str_eq(a->kn[k], m->names[i])) {
                if (given[i]) fail(c, OCTET_EFORMAT, "macro got multiple values for argument '%.*s'", (int)m->names[i].n, m->names[i].p);
                frame_set(c, f, m->names[i], a->kv[k]);
                given[i] = found = 1;
            }
        if (!found) dict_set(c, kwargs, vstr(a->kn[k]), a->kv[k]);
    }
    for (int i = 0; i < m->n2; i++)
        if (!given[i]) {
            if (m->l2[i]) frame_set(c, f, m->names[i], eval(R, f, m->l2[i]));
            else frame_set(c, f, m->names[i], vundef(m->names[i]));
        }
    frame_set(c, f, S("varargs"), vlist(varargs));
    frame_set(c, f, S("kwargs"), vdict(kwargs));
    if (caller.t != V_UNDEF) frame_set(c, f, S("caller"), caller);
    buf out = buf_new(c);
    int flow = R->flow;
    R->flow = 0;
    exec_body(R, f, m->l1, m->n1, &out);
    R->flow = flow;
    c->depth--;
    return vstr(buf_str(&out));
}

static val call_value(rt *R, frame *f, val fn, args *a, val caller) {
    ctx *c = R->c;
    if (fn.t == V_UNDEF) undef_fail(c, &fn);
    if (fn.t != V_FUNC) fail(c, OCTET_EFORMAT, "'%s' object is not callable", type_name(&fn));
    func *p = fn.u.fn;
    (void)f;
    switch (p->kind) {
    case F_MACRO: return call_macro(R, p, a, caller);
    case F_BUILTIN: return call_builtin(R, p->id, a);
    default: return call_method(R, p, a);
    }
}

static val eval(rt *R, frame *f, node *x) {
    ctx *c = R->c;
    int line = c->line;
    c->line = x->line;
    if (++c->depth > c->max_depth + 64) fail(c, OCTET_ERANGE, "expression nested too deeply");
    val r;
    switch (x->k) {
    case N_LIT: r = x->lit; break;
    case N_HOLE: r = R->hole; break;
    case N_NAME: {
        val *v = lookup(f, x->name);
        if (v) r = *v;
        else {
            r = vundef(x->name);
            for (int i = 0; BUILTINS[i]; i++)
                if (str_is(x->name, BUILTINS[i])) r = vfunc(c, F_BUILTIN, i, UNDEF);
        }
        break;
    }
    case N_ATTR: {
        val o = eval(R, f, x->a);
        r = get_attr(R, &o, x->name);
        break;
    }
    case N_ITEM: {
        val o = eval(R, f, x->a), k = eval(R, f, x->b);
        r = get_item(R, &o, &k);
        break;
    }
    case N_SLICE: {
        val o = eval(R, f, x->a), a = NONE, b = NONE, s = NONE;
        if (x->b) a = eval(R, f, x->b);
        if (x->c) b = eval(R, f, x->c);
        if (x->d) s = eval(R, f, x->d);
        r = do_slice(R, &o, &a, &b, &s);
        break;
    }
    case N_CALL: {
        val fn = eval(R, f, x->a);
        args a;
        eval_args(R, f, x, &a);
        c->line = x->line;
        r = call_value(R, f, fn, &a, UNDEF);
        break;
    }
    case N_FILTER: {
        val v = eval(R, f, x->a);
        args a;
        eval_args(R, f, x, &a);
        c->line = x->line;
        r = apply_filter(R, f, x->name, v, &a);
        break;
    }
    case N_TEST: {
        val v = eval(R, f, x->a);
        args a;
        eval_args(R, f, x, &a);
        c->line = x->line;
        r = vbool(run_test(R, x->name, v, &a) != x->op);
        break;
    }
    case N_NEG:
    case N_POS: {
        val v = eval(R, f, x->a);
        if (v.t == V_UNDEF) undef_fail(c, &v);
        if (!is_num(&v)) fail(c, OCTET_EFORMAT, "bad operand type for unary %c: '%s'", x->k == N_NEG ? '-' : '+', type_name(&v));
        if (x->k == N_POS) r = v.t == V_BOOL ? vint(v.u.b) : v;
        else if (v.t == V_FLOAT) r = vfloat(-v.u.f);
        else {
            if (num_i(&v) == INT64_MIN) fail(c, OCTET_ERANGE, "integer overflow");
            r = vint(-num_i(&v));
        }
        break;
    }
    case N_NOT: {
        val v = eval(R, f, x->a);
        r = vbool(!truthy(&v));
        break;
    }
    case N_AND: {
        r = eval(R, f, x->a);
        if (truthy(&r)) r = eval(R, f, x->b);
        break;
    }
    case N_OR: {
        r = eval(R, f, x->a);
        if (!truthy(&r)) r = eval(R, f, x->b);
        break;
    }
    case N_BIN: {
        val a = eval(R, f, x->a), b = eval(R, f, x->b);
        c->line = x->line;
        r = x->op >= OP_EQ ? compare(R, x->op, a, b) : arith(R, x->op, a, b);
        break;
    }
    case N_CONCAT: {
        buf b = buf_new(c);
        for (int i = 0; i < x->n1; i++) {
            val v = eval(R, f, x->l1[i]);
            put_str(c, &b, &v);
        }
        r = vstr(buf_str(&b));
        break;
    }
    case N_COND: {
        val cond = eval(R, f, x->a);
        if (truthy(&cond)) r = eval(R, f, x->b);
        else r = x->c ? eval(R, f, x->c) : vundef((str){"", 0});
        break;
    }
    case N_LIST:
    case N_TUPLE: {
        list *l = list_new(c, (size_t)x->n1);
        for (int i = 0; i < x->n1; i++) list_push(c, l, eval(R, f, x->l1[i]));
        r = vlist(l);
        r.tuple = x->k == N_TUPLE;
        break;
    }
    case N_DICT: {
        dict *d = dict_new(c, (size_t)x->n1);
        for (int i = 0; i < x->n1; i++) {
            val k = eval(R, f, x->l1[i]);
            if (k.t == V_LIST && !k.tuple) fail(c, OCTET_EFORMAT, "unhashable type: 'list'");
            if (k.t == V_DICT || k.t == V_NS) fail(c, OCTET_EFORMAT, "unhashable type: 'dict'");
            dict_set(c, d, k, eval(R, f, x->l2[i]));
        }
        r = vdict(d);
        break;
    }
    default: fail(c, OCTET_EINTERNAL, "bad expression node");
    }
    c->depth--;
    c->line = line;
    return r;
}

static void exec_for(rt *R, frame *f, node *x, buf *out) {
    ctx *c = R->c;
    val it = eval(R, f, x->b);
    c->line = x->line;
    list *items = iter_list(c, &it, "for");
    if (x->c) { /* the loop filter: items for which the condition holds (loop.length counts these) */
        list *kept = list_new(c, items->n);
        for (size_t i = 0; i < items->n; i++) {
            step(c, 1);
            frame *g = frame_new(c, f);
            bind_target(R, g, x->a, items->v[i]);
            val cond = eval(R, g, x->c);
            if (truthy(&cond)) list_push(c, kept, items->v[i]);
        }
        items = kept;
    }
    size_t n = items->n;
    for (size_t i = 0; i < n; i++) {
        step(c, 1);
        frame *g = frame_new(c, f);
        dict *lp = dict_new(c, 12);
        dict_set(c, lp, vstr(S("index")), vint((int64_t)i + 1));
        dict_set(c, lp, vstr(S("index0")), vint((int64_t)i));
        dict_set(c, lp, vstr(S("revindex")), vint((int64_t)(n - i)));
        dict_set(c, lp, vstr(S("revindex0")), vint((int64_t)(n - i - 1)));
        dict_set(c, lp, vstr(S("first")), vbool(i == 0));
        dict_set(c, lp, vstr(S("last")), vbool(i == n - 1));
        dict_set(c, lp, vstr(S("length")), vint((int64_t)n));
        dict_set(c, lp, vstr(S("depth")), vint(1));
        dict_set(c, lp, vstr(S("depth0")), vint(0));
        dict_set(c, lp, vstr(S("previtem")), i ? items->v[i - 1] : vundef(S("previtem")));
        dict_set(c, lp, vstr(S("nextitem")), i + 1 < n ? items->v[i + 1] : vundef(S("nextitem")));
        dict_set(c, lp, vstr(S("cycle")), vfunc(c, F_METHOD, M_CYCLE, vint((int64_t)i)));
        val lv = vdict(lp);
        lv.t = V_NS; /* attribute access only, no dict methods */
        lv.tuple = 2; /* marks the loop object: not assignable, printed as Jinja's LoopContext */
        frame_set(c, g, S("loop"), lv);
        bind_target(R, g, x->a, items->v[i]);
        exec_body(R, g, x->l1, x->n1, out);
        if (R->flow == 1) {
            R->flow = 0;
            break;
        }
        R->flow = 0;
    }
    if (n == 0) exec_body(R, f, x->l2, x->n2, out);
}

static void exec_stmt(rt *R, frame *f, node *x, buf *out) {
    ctx *c = R->c;
    c->line = x->line;
    switch (x->k) {
    case N_TEXT: buf_put(c, out, x->name.p, x->name.n); break;
    case N_OUT: {
        val v = eval(R, f, x->a);
        put_str(c, out, &v);
        break;
    }
    case N_BODY: exec_body(R, f, x->l1, x->n1, out); break;
    case N_IF: {
        val cond = eval(R, f, x->a);
        if (truthy(&cond)) exec_body(R, f, x->l1, x->n1, out);
        else exec_body(R, f, x->l2, x->n2, out);
        break;
    }
    case N_FOR: exec_for(R, f, x, out); break;
    case N_SET: {
        val v = eval(R, f, x->b);
        c->line = x->line;
        bind_target(R, f, x->a, v);
        break;
    }
    case N_SETBLOCK:
    case N_FILTERBLOCK: {
        buf b = buf_new(c);
        exec_body(R, f, x->l1, x->n1, &b);
        val v = vstr(buf_str(&b));
        if (x->c) {
            val saved = R->hole;
            R->hole = v;
            v = eval(R, f, x->c);
            R->hole = saved;
        }
        if (x->k == N_SETBLOCK) bind_target(R, f, x->a, v);
        else put_str(c, out, &v);
        break;
    }
    case N_MACRO: {
        val m = vfunc(c, F_MACRO, 0, UNDEF);
        m.u.fn->def = x;
        m.u.fn->closure = f;
        frame_set(c, f, x->name, m);
        break;
    }
    case N_CALLBLOCK: {
        val caller = vfunc(c, F_MACRO, 0, UNDEF);
        caller.u.fn->def = x;
        caller.u.fn->closure = f;
        node *call = x->a;
        val fn = eval(R, f, call->a);
        args a;
        eval_args(R, f, call, &a);
        c->line = x->line;
        val v = call_value(R, f, fn, &a, caller);
        put_str(c, out, &v);
        break;
    }
    case N_BREAK: R->flow = 1; break;
    case N_CONTINUE: R->flow = 2; break;
    default: fail(c, OCTET_EINTERNAL, "bad statement node");
    }
}

static void exec_body(rt *R, frame *f, node **l, int n, buf *out) {
    ctx *c = R->c;
    if (++c->depth > c->max_depth + 64) fail(c, OCTET_ERANGE, "statements nested too deeply");
    for (int i = 0; i < n && !R->flow; i++) exec_stmt(R, f, l[i], out);
    c->depth--;
}

/* unknown filters and tests are errors when the template is compiled, as in Jinja */
static void check_names(ctx *c, node *x, int depth) {
    if (!x) return;
    if (depth > 100000) return;
    if (x->k == N_FILTER || x->k == N_TEST) {
        const char *const *tab = x->k == N_FILTER ? FILTERS : TESTS;
        int ok = 0;
        for (int i = 0; tab[i]; i++) ok |= str_is(x->name, tab[i]);
        if (!ok) {
            c->line = x->line;
            fail(c, OCTET_EFORMAT, "no %s named '%.*s'", x->k == N_FILTER ? "filter" : "test",
                 (int)(x->name.n > 40 ? 40 : x->name.n), x->name.p);
        }
    }
    check_names(c, x->a, depth + 1);
    check_names(c, x->b, depth + 1);
    check_names(c, x->c, depth + 1);
    check_names(c, x->d, depth + 1);
    for (int i = 0; i < x->n1; i++) check_names(c, x->l1[i], depth + 1);
    for (int i = 0; i < x->n2; i++) check_names(c, x->l2[i], depth + 1);
}

/* ---- entry point ----------------------------------------------------------------------------------------------- */
static void free_chunks(ctx *c) {
    for (chunk *k = c->chunks; k;) {
        chunk *nx = k->next;
        octet__free(k);
        k = nx;
    }
    c->chunks = NULL;
}

int octet__jinja_render(const char *src, size_t len, const json_t *vars, const octet__jinja_opts *opts, char **out,
                        size_t *out_len, octet_error *err) {
    *out = NULL;
    if (out_len) *out_len = 0;
    ctx *c = octet__calloc(1, sizeof *c);
    if (!c) return octet__err(err, OCTET_ENOMEM, "chat template: out of memory");
    c->err = err;
    c->max_out = opts && opts->max_output ? opts->max_output : (size_t)8 << 20;
    c->max_mem = opts && opts->max_memory ? opts->max_memory : (size_t)128 << 20;
    c->max_steps = opts && opts->max_steps ? opts->max_steps : 10000000;
    c->max_depth = opts && opts->max_depth ? opts->max_depth : 200;
    c->now = opts ? opts->now : 0;
    volatile int rc = 0;
    if (setjmp(c->jb)) {
        rc = c->code ? c->code : OCTET_EFORMAT;
        free_chunks(c);
        octet__free(c);
        return rc;
    }
    /* newlines: \r\n and \r become \n; one trailing newline is dropped */
    char *s = amalloc(c, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else s[n++] = src[i];
    }
    if (n && s[n - 1] == '\n') n--;
    s[n] = 0;
    lexer L = {c, s, n, 0, 1, NULL, 0, 0};
    lex(&L);
    parser P = {c, L.t, 0, 0};
    node *root = p_body(&P, NULL, NULL);
    check_names(c, root, 0);
    c->line = 0;
    frame *g = frame_new(c, NULL);
    if (vars) {
        if (!json_is_object(vars)) fail(c, OCTET_EINVAL, "the variables must be a JSON object");
        val v = from_json(c, vars, 0);
        for (size_t i = 0; i < v.u.d->n; i++) dict_set(c, g->vars, v.u.d->k[i], v.u.d->v[i]);
    }
    rt R = {c, 0, UNDEF};
    buf o = buf_new(c);
    exec_body(&R, frame_new(c, g), root->l1, root->n1, &o);
    char *res = octet__malloc(o.n + 1);
    if (!res) fail(c, OCTET_ENOMEM, "out of memory");
    if (o.n) memcpy(res, o.p, o.n);
    res[o.n] = 0;
    *out = res;
    if (out_len) *out_len = o.n;
    free_chunks(c);
    octet__free(c);
    return 0;
}
