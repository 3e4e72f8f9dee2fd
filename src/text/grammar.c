/*
 * grammar.c - GBNF grammars compiled to a pushdown matcher over bytes, and the token mask for the sampler.
 *
 * Syntax (llama.cpp's grammars/README.md describes GBNF; this is an implementation of that description, not of
 * its code): rules `name ::= body`, names [A-Za-z0-9_-]+; a body is alternatives separated by `|`, each a
 * sequence of items; items are "strings", [classes], [^negated classes], `.` (any code point), rule names and
 * ( groups ), each optionally followed by * + ? {m} {m,} {m,n}. Comments run from # to the end of the line. A
 * rule ends at a newline outside parentheses unless the next non-blank line starts with `|`. Escapes in
 * strings and classes: \n \t \r \\ \" \[ \] \- \^ \xHH \uHHHH \UHHHHHHHH. The start rule is `root`.
 *
 * Compilation. Every terminal is a set of bytes (a 256-bit map): a string is a sequence of one-byte sets, and
 * a character class becomes one byte set for its ASCII part plus, for code points >= 0x80, alternatives of
 * byte-set sequences that encode exactly its ranges in UTF-8 (the ranges split where the encoded length or a
 * leading byte changes, RFC 3629 section 3; surrogates D800-DFFF are never matched). Groups and repetitions
 * become generated rules: x* is R ::= x R | "", x? is R ::= x | "", x{m,n} is m copies of x then n-m nested
 * optional rules. Each rule is a list of alternatives, each alternative a sequence of elements (byte set, rule
 * reference) ended by END. A rule that can reach itself before consuming a byte (directly, or through rules
 * that can be empty) is reported as left recursion with the path, since a top-down matcher would loop on it.
 *
 * Matching. A parse stack is a chain of nodes (position of the next element, parent node); node 0 is the empty
 * stack. Nodes are interned (equal stacks are equal ids) and so are sets of stacks, so the matcher's state is
 * one integer: the set of stacks whose top is a byte set, plus a flag saying the input can end here. The
 * transition (state, byte) -> state is computed once and memoised, which makes the matcher a lazily built DFA:
 * after a few tokens most steps are table look-ups. The vocabulary is a trie of the tokens' bytes kept in
 * pre-order; the mask walks it from the current state and skips every subtree whose prefix leaves the
 * language, and the resulting bitmap is memoised per state too. The tables are bounded: past a limit they are
 * rebuilt from the current state alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "text/grammar.h"

enum { EL_END = 0, EL_BYTES = 1, EL_REF = 2 };
typedef struct {
    int32_t kind, arg; /* arg: byte set index or rule id */
} gelem;

#define MAX_REPEAT 100000
#define MAX_ELEMS (1 << 22)
#define MAX_RULES (1 << 20)

/* ---- the compiled program (immutable, shared by clones) ------------------------------------------------ */
typedef struct gprog {
    int refs; /* clones share it; a grammar and its clones live in one thread or are handed over whole */
    gelem *el;
    int n_el;
    uint64_t (*bs)[4]; /* byte sets */
    int n_bs;
    int32_t *alt_off; /* rule r's alternatives start at alt_start[alt_off[r] .. alt_off[r+1]) */
    int32_t *alt_start;
    int n_rules, root;
} gprog;

static void prog_free(gprog *p) {
    if (!p || --p->refs > 0) return;
    octet__free(p->el);
    octet__free(p->bs);
    octet__free(p->alt_off);
    octet__free(p->alt_start);
    octet__free(p);
}

/* ---- the parser's rule builder --------------------------------------------------------------------------- */
typedef struct {
    gelem *e;
    int n, cap;
} evec;

typedef struct {
    char *name;
    evec *alts;
    int n_alts, cap_alts;
    int defined;
    size_t def_at, ref_at; /* text offsets of the definition and the first reference */
} brule;

typedef struct {
    const char *s;
    size_t n, i;
    brule *r;
    int n_r, cap_r;
    uint64_t (*bs)[4];
    int n_bs, cap_bs;
    long total;          /* elements so far (size guard) */
    octet_error *err;
    int failed;
    int depth;
} parser;

static void where(const parser *p, size_t at, int *line, int *col) {
    int l = 1, c = 1;
    for (size_t k = 0; k < at && k < p->n; k++) {
        if (p->s[k] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)p->s[k] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static int perr_at(parser *p, size_t at, const char *fmt, const char *a) {
    if (p->failed) return -1;
    int l, c;
    where(p, at, &l, &c);
    char m[200];
    snprintf(m, sizeof m, fmt, a ? a : "");
    octet__err(p->err, OCTET_EINVAL, "grammar: line %d:%d: %s", l, c, m);
    p->failed = 1;
    return -1;
}

static int oom(parser *p) {
    if (!p->failed) octet__err(p->err, OCTET_ENOMEM, "grammar: out of memory");
    p->failed = 1;
    return -1;
}

static int grow(void **ptr, int *cap, int need, size_t size) {
    if (need <= *cap) return 0;
    int nc = *cap ? *cap * 2 : 8;
    while (nc < need) nc *= 2;
    void *q = octet__realloc_array(*ptr, (size_t)*cap, (size_t)nc, size);
    if (!q) return -1;
    *ptr = q;
    *cap = nc;
    return 0;
}

static int evec_push(parser *p, evec *v, int kind, int arg) {
    if (++p->total > MAX_ELEMS) return perr_at(p, p->i, "the grammar is too large (over %s elements)", "4194304");
    if (grow((void **)&v->e, &v->cap, v->n + 1, sizeof *v->e)) return oom(p);
    v->e[v->n].kind = kind;
    v->e[v->n].arg = arg;
    v->n++;
    return 0;
}

static int new_rule(parser *p, const char *name, size_t name_len) {
    if (p->n_r >= MAX_RULES) return perr_at(p, p->i, "too many rules%s", NULL);
    if (grow((void **)&p->r, &p->cap_r, p->n_r + 1, sizeof *p->r)) return oom(p);
    brule *r = &p->r[p->n_r];
    memset(r, 0, sizeof *r);
    r->name = octet__malloc(name_len + 1);
    if (!r->name) return oom(p);
    memcpy(r->name, name, name_len);
    r->name[name_len] = 0;
    return p->n_r++;
}

/* A generated rule named after its parent: "parent-N". */
static int gen_rule(parser *p, int parent) {
    char nm[96];
    snprintf(nm, sizeof nm, "%.60s-%d", p->r[parent].name, p->n_r);
    int r = new_rule(p, nm, strlen(nm));
    if (r >= 0) p->r[r].defined = 1;
    return r;
}

static evec *new_alt(parser *p, int rule) {
    brule *r = &p->r[rule];
    if (grow((void **)&r->alts, &r->cap_alts, r->n_alts + 1, sizeof *r->alts)) {
        oom(p);
        return NULL;
    }
    memset(&r->alts[r->n_alts], 0, sizeof *r->alts);
    return &r->alts[r->n_alts++];
}

static int find_rule(parser *p, const char *name, size_t len) {
    for (int i = 0; i < p->n_r; i++)
        if (strlen(p->r[i].name) == len && memcmp(p->r[i].name, name, len) == 0) return i;
    return -1;
}

static int byteset(parser *p, const uint64_t m[4]) {
    for (int i = 0; i < p->n_bs; i++)
        if (memcmp(p->bs[i], m, sizeof p->bs[i]) == 0) return i;
    if (grow((void **)&p->bs, &p->cap_bs, p->n_bs + 1, sizeof *p->bs)) return oom(p);
    memcpy(p->bs[p->n_bs], m, sizeof p->bs[0]);
    return p->n_bs++;
}

static int push_byte(parser *p, evec *v, unsigned lo, unsigned hi) {
    uint64_t m[4] = {0, 0, 0, 0};
    for (unsigned b = lo; b <= hi; b++) m[b >> 6] |= 1ull << (b & 63);
    int id = byteset(p, m);
    return id < 0 ? -1 : evec_push(p, v, EL_BYTES, id);
}

static int utf8_encode(uint32_t c, unsigned char *o) {
    if (c < 0x80) {
        o[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (unsigned char)(0xC0 | (c >> 6));
        o[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (c >> 12));
        o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (c >> 18));
    o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

/* Decode one UTF-8 sequence of the grammar text (RFC 3629: shortest form, no surrogates). -1 when invalid. */
static long utf8_decode(const char *s, size_t n, size_t *len) {
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) return -1;
    if (u[0] < 0x80) {
        *len = 1;
        return u[0];
    }
    int k = u[0] >= 0xF0 && u[0] <= 0xF4 ? 4 : u[0] >= 0xE0 && u[0] < 0xF0 ? 3 : u[0] >= 0xC2 && u[0] < 0xE0 ? 2 : 0;
    if (!k || (size_t)k > n) return -1;
    long c = u[0] & (0x7F >> k);
    for (int i = 1; i < k; i++) {
        if ((u[i] & 0xC0) != 0x80) return -1;
        c = (c << 6) | (u[i] & 0x3F);
    }
    static const long min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[k] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return -1;
    *len = (size_t)k;
    return c;
}

/* ---- lexical helpers ---------------------------------------------------------------------------------- */
static int at_end(parser *p) { return p->i >= p->n; }
static int ch(parser *p) { return p->i < p->n ? (unsigned char)p->s[p->i] : -1; }

/* Skip blanks and comments; newlines too when nl. */
static void skip_ws(parser *p, int nl) {
    while (!at_end(p)) {
        int c = ch(p);
        if (c == ' ' || c == '\t' || c == '\r') p->i++;
        else if (c == '\n' && nl) p->i++;
        else if (c == '#') {
            while (!at_end(p) && ch(p) != '\n') p->i++;
        } else break;
    }
}

static int is_name_char(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One character of a string or class (escapes decoded): a code point, or -1 after an error. */
static long parse_char(parser *p) {
    size_t at = p->i;
    if (at_end(p)) return perr_at(p, at, "unexpected end of the grammar%s", NULL);
    if (ch(p) == '\\') {
        p->i++;
        if (at_end(p)) return perr_at(p, at, "unexpected end after '\\'%s", NULL);
        int e = ch(p);
        p->i++;
        int nd = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
        if (nd) {
            long v = 0;
            for (int k = 0; k < nd; k++) {
                int h = hexval(ch(p));
                if (h < 0) return perr_at(p, at, "\\%s needs hexadecimal digits", e == 'x' ? "x" : e == 'u' ? "u" : "U");
                v = v * 16 + h;
                p->i++;
            }
            if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                return perr_at(p, at, "escape out of the Unicode range or a surrogate%s", NULL);
            return v;
        }
        switch (e) {
        case 'n': return '\n';
        case 't': return '\t';
        case 'r': return '\r';
        case '0': return 0;
        case '\\': case '"': case '[': case ']': case '-': case '^': case '\'': case '/': return e;
        default: {
            char b[2] = {(char)e, 0};
            return perr_at(p, at, "unknown escape '\\%s'", b);
        }
        }
    }
    size_t len;
    long c = utf8_decode(p->s + p->i, p->n - p->i, &len);
    if (c < 0) return perr_at(p, at, "invalid UTF-8 in the grammar%s", NULL);
    p->i += len;
    return c;
}

/* ---- character classes --------------------------------------------------------------------------------- */
typedef struct {
    uint32_t lo, hi;
} crange;

static int cmp_range(const void *a, const void *b) {
    const crange *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

/* Append UTF-8 byte-range sequences for code points [lo, hi] (same encoded length, hi >= lo >= 0x80) as
 * alternatives of rule. The split rule: while lo and hi differ above the low 6k bits, cut the range at a
 * multiple of 2^(6k) so that each piece is a product of byte ranges. */
static int utf8_seq(parser *p, int rule, uint32_t lo, uint32_t hi) {
    if (lo > hi) return 0;
    static const uint32_t lim[4] = {0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
    for (int k = 0; k < 3; k++)
        if (lo <= lim[k] && hi > lim[k]) {
            if (utf8_seq(p, rule, lo, lim[k])) return -1;
            return utf8_seq(p, rule, lim[k] + 1, hi);
        }
    unsigned char a[4], b[4];
    int n = utf8_encode(lo, a);
    utf8_encode(hi, b);
    for (int k = 1; k < n; k++) {
        uint32_t m = (1u << (6 * k)) - 1;
        if ((lo & ~m) != (hi & ~m)) {
            if ((lo & m) != 0) {
                if (utf8_seq(p, rule, lo, lo | m)) return -1;
                return utf8_seq(p, rule, (lo | m) + 1, hi);
            }
            if ((hi & m) != m) {
                if (utf8_seq(p, rule, lo, (hi & ~m) - 1)) return -1;
                return utf8_seq(p, rule, hi & ~m, hi);
            }
        }
    }
    evec *v = new_alt(p, rule);
    if (!v) return -1;
    for (int k = 0; k < n; k++)
        if (push_byte(p, v, a[k], b[k])) return -1;
    return 0;
}

/* Code point ranges (sorted, merged, negated when neg, surrogates removed) -> one element appended to v. */
static int emit_class(parser *p, int owner, evec *v, crange *r, int n, int neg) {
    if (n > 1) qsort(r, (size_t)n, sizeof *r, cmp_range);
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m && r[i].lo <= r[m - 1].hi + 1) {
            if (r[i].hi > r[m - 1].hi) r[m - 1].hi = r[i].hi;
        } else {
            r[m++] = r[i];
        }
    }
    crange *out = octet__malloc(((size_t)m + 3) * 2 * sizeof *out);
    if (!out) return oom(p);
    int no = 0;
    if (neg) {
        uint32_t next = 0;
        for (int i = 0; i < m; i++) {
            if (r[i].lo > next) out[no++] = (crange){next, r[i].lo - 1};
            next = r[i].hi + 1;
        }
        if (next <= 0x10FFFF) out[no++] = (crange){next, 0x10FFFF};
    } else {
        if (m) memcpy(out, r, (size_t)m * sizeof *r);
        no = m;
    }
    /* cut out the surrogates */
    int nf = 0;
    crange *fin = out + ((size_t)m + 3);
    for (int i = 0; i < no; i++) {
        crange x = out[i];
        if (x.hi < 0xD800 || x.lo > 0xDFFF) fin[nf++] = x;
        else {
            if (x.lo < 0xD800) fin[nf++] = (crange){x.lo, 0xD7FF};
            if (x.hi > 0xDFFF) fin[nf++] = (crange){0xE000, x.hi};
        }
    }
    uint64_t ascii[4] = {0, 0, 0, 0};
    int multi = 0;
    for (int i = 0; i < nf; i++) {
        for (uint32_t c = fin[i].lo; c <= fin[i].hi && c < 0x80; c++) ascii[c >> 6] |= 1ull << (c & 63);
        if (fin[i].hi >= 0x80) multi = 1;
    }
    int rc;
    if (!multi) {
        int id = byteset(p, ascii);
        rc = id < 0 ? -1 : evec_push(p, v, EL_BYTES, id);
    } else {
        int rule = gen_rule(p, owner);
        rc = rule < 0 ? -1 : 0;
        if (!rc && (ascii[0] | ascii[1])) {
            evec *a = new_alt(p, rule);
            int id = a ? byteset(p, ascii) : -1;
            rc = id < 0 ? -1 : evec_push(p, a, EL_BYTES, id);
        }
        for (int i = 0; !rc && i < nf; i++)
            if (fin[i].hi >= 0x80) rc = utf8_seq(p, rule, fin[i].lo < 0x80 ? 0x80 : fin[i].lo, fin[i].hi);
        if (!rc) rc = evec_push(p, v, EL_REF, rule);
    }
    octet__free(out);
    return rc;
}

static int parse_class(parser *p, int owner, evec *v) {
    size_t at = p->i;
    p->i++; /* [ */
    int neg = 0;
    if (ch(p) == '^') {
        neg = 1;
        p->i++;
    }
    crange *r = NULL;
    int n = 0, cap = 0;
    while (!p->failed) {
        if (at_end(p)) {
            perr_at(p, at, "unterminated character class%s", NULL);
            break;
        }
        if (ch(p) == ']') {
            p->i++;
            break;
        }
        long lo = parse_char(p), hi = lo;
        if (lo < 0) break;
        if (ch(p) == '-' && p->i + 1 < p->n && p->s[p->i + 1] != ']') {
            p->i++;
            hi = parse_char(p);
            if (hi < 0) break;
            if (hi < lo) {
                perr_at(p, at, "character range with its end before its start%s", NULL);
                break;
            }
        }
        if (grow((void **)&r, &cap, n + 1, sizeof *r)) {
            oom(p);
            break;
        }
        r[n++] = (crange){(uint32_t)lo, (uint32_t)hi};
    }
    int rc = p->failed ? -1 : emit_class(p, owner, v, r, n, neg);
    octet__free(r);
    return rc;
}

/* ---- rules, alternatives, items ------------------------------------------------------------------------- */
static int parse_alts(parser *p, int rule, int nested);

/* Wrap the elements v[from..) into a rule of one alternative when there is not exactly one; returns the one
 * element (kind, arg) in *e. */
static int single(parser *p, int owner, evec *v, int from, gelem *e) {
    if (v->n - from == 1) {
        *e = v->e[from];
        v->n = from;
        return 0;
    }
    int r = gen_rule(p, owner);
    if (r < 0) return -1;
    evec *a = new_alt(p, r);
    if (!a) return -1;
    for (int k = from; k < v->n; k++)
        if (evec_push(p, a, v->e[k].kind, v->e[k].arg)) return -1;
    v->n = from;
    e->kind = EL_REF;
    e->arg = r;
    return 0;
}

/* R ::= x R | ""  (star)  or  R ::= x next | ""  (next = -1: x alone) */
static int opt_rule(parser *p, int owner, gelem x, int next, int star) {
    int r = gen_rule(p, owner);
    if (r < 0) return -1;
    evec *a = new_alt(p, r);
    if (!a || evec_push(p, a, x.kind, x.arg)) return -1;
    if (star && evec_push(p, &p->r[r].alts[0], EL_REF, r)) return -1;
    if (!star && next >= 0 && evec_push(p, &p->r[r].alts[0], EL_REF, next)) return -1;
    if (!new_alt(p, r)) return -1;
    return r;
}

static int parse_count(parser *p, long *out) {
    size_t at = p->i;
    long v = 0;
    int nd = 0;
    while (ch(p) >= '0' && ch(p) <= '9') {
        v = v * 10 + (ch(p) - '0');
        if (v > MAX_REPEAT) return perr_at(p, at, "repetition count over %s", "100000");
        p->i++;
        nd++;
    }
    if (!nd) return perr_at(p, at, "expected a number in { }%s", NULL);
    *out = v;
    return 0;
}

static int parse_repeat(parser *p, int owner, evec *v, int from) {
    size_t at = p->i;
    int c = ch(p);
    long lo, hi; /* hi < 0: unbounded */
    if (c == '*') lo = 0, hi = -1, p->i++;
    else if (c == '+') lo = 1, hi = -1, p->i++;
    else if (c == '?') lo = 0, hi = 1, p->i++;
    else {
        p->i++;
        skip_ws(p, 0);
        if (parse_count(p, &lo)) return -1;
        skip_ws(p, 0);
        hi = lo;
        if (ch(p) == ',') {
            p->i++;
            skip_ws(p, 0);
            if (ch(p) == '}') hi = -1;
            else if (parse_count(p, &hi)) return -1;
            skip_ws(p, 0);
        }
        if (ch(p) != '}') return perr_at(p, p->i, "expected '}'%s", NULL);
        p->i++;
        if (hi >= 0 && hi < lo) return perr_at(p, at, "repetition {m,n} with n < m%s", NULL);
    }
    if (v->n == from) return perr_at(p, at, "repetition operator without an item before it%s", NULL);
    gelem x;
    if (single(p, owner, v, from, &x)) return -1;
    for (long k = 0; k < lo; k++)
        if (evec_push(p, v, x.kind, x.arg)) return -1;
    if (hi < 0) {
        int r = opt_rule(p, owner, x, -1, 1);
        return r < 0 ? -1 : evec_push(p, v, EL_REF, r);
    }
    int next = -1;
    for (long k = lo; k < hi; k++) {
        next = opt_rule(p, owner, x, next, 0);
        if (next < 0) return -1;
    }
    return next >= 0 ? evec_push(p, v, EL_REF, next) : 0;
}

/* A sequence of items into v; stops at '|', ')', end of rule (newline when not nested) or end of text. */
static int parse_seq(parser *p, int rule, evec *v, int nested) {
    for (;;) {
        skip_ws(p, nested);
        if (at_end(p) || p->failed) return p->failed ? -1 : 0;
        int c = ch(p);
        size_t at = p->i;
        int from = v->n;
        if (c == '|' || c == ')' || c == '\n') return 0;
        if (c == '"') {
            p->i++;
            for (;;) {
                if (at_end(p)) return perr_at(p, at, "unterminated string%s", NULL);
                if (ch(p) == '"') {
                    p->i++;
                    break;
                }
                long cp = parse_char(p);
                if (cp < 0) return -1;
                unsigned char b[4];
                int nb = utf8_encode((uint32_t)cp, b);
                for (int k = 0; k < nb; k++)
                    if (push_byte(p, v, b[k], b[k])) return -1;
            }
        } else if (c == '[') {
            if (parse_class(p, rule, v)) return -1;
        } else if (c == '.') {
            p->i++;
            crange all = {0, 0x10FFFF};
            if (emit_class(p, rule, v, &all, 1, 0)) return -1;
        } else if (c == '(') {
            p->i++;
            if (++p->depth > 200) return perr_at(p, at, "groups nested too deeply%s", NULL);
            int g = gen_rule(p, rule);
            if (g < 0 || parse_alts(p, g, 1)) return -1;
            p->depth--;
            skip_ws(p, 1);
            if (ch(p) != ')') return perr_at(p, at, "'(' without a matching ')'%s", NULL);
            p->i++;
            if (evec_push(p, v, EL_REF, g)) return -1;
        } else if (is_name_char(c)) {
            size_t b = p->i;
            while (is_name_char(ch(p))) p->i++;
            size_t save = p->i;
            skip_ws(p, 0);
            if (p->i + 3 <= p->n && memcmp(p->s + p->i, "::=", 3) == 0) { /* the next rule's head */
                p->i = b;
                return 0;
            }
            p->i = save;
            int r = find_rule(p, p->s + b, save - b);
            if (r < 0) {
                r = new_rule(p, p->s + b, save - b);
                if (r < 0) return -1;
                p->r[r].ref_at = b;
            }
            if (evec_push(p, v, EL_REF, r)) return -1;
        } else {
            char b[2] = {(char)c, 0};
            return perr_at(p, at, "unexpected character '%s'", c >= 0x20 && c < 0x7F ? b : "?");
        }
        /* postfix operators; a second one applies to the whole repetition before it */
        while (ch(p) == '*' || ch(p) == '+' || ch(p) == '?' || ch(p) == '{')
            if (parse_repeat(p, rule, v, from)) return -1;
    }
}

static int parse_alts(parser *p, int rule, int nested) {
    for (;;) {
        if (!new_alt(p, rule)) return -1;
        int idx = p->r[rule].n_alts - 1;
        evec tmp = {0};
        if (parse_seq(p, rule, &tmp, nested)) {
            octet__free(tmp.e);
            return -1;
        }
        p->r[rule].alts[idx] = tmp; /* the rule's alternatives may have moved while parsing */
        size_t save = p->i;
        skip_ws(p, 1);
        if (ch(p) == '|') {
            p->i++;
            skip_ws(p, 1);
            continue;
        }
        if (!nested) p->i = save;
        return 0;
    }
}

static int parse_rules(parser *p) {
    for (;;) {
        skip_ws(p, 1);
        if (at_end(p)) return 0;
        size_t at = p->i;
        if (!is_name_char(ch(p))) return perr_at(p, at, "expected a rule name%s", NULL);
        size_t b = p->i;
        while (is_name_char(ch(p))) p->i++;
        size_t e = p->i;
        skip_ws(p, 0);
        if (p->i + 3 > p->n || memcmp(p->s + p->i, "::=", 3) != 0) return perr_at(p, p->i, "expected '::='%s", NULL);
        p->i += 3;
        int r = find_rule(p, p->s + b, e - b);
        if (r >= 0 && p->r[r].defined) {
            char nm[64];
            snprintf(nm, sizeof nm, "%.*s", (int)(e - b < 60 ? e - b : 60), p->s + b);
            return perr_at(p, at, "rule '%s' is defined twice", nm);
        }
        if (r < 0 && (r = new_rule(p, p->s + b, e - b)) < 0) return -1;
        p->r[r].defined = 1;
        p->r[r].def_at = at;
        skip_ws(p, 1);
        if (parse_alts(p, r, 0)) return -1;
        skip_ws(p, 0);
        if (!at_end(p) && ch(p) != '\n') {
            if (ch(p) == ')') return perr_at(p, p->i, "')' without a matching '('%s", NULL);
            return perr_at(p, p->i, "unexpected text after the rule%s", NULL);
        }
    }
}

/* ---- checks on the rules: undefined names, left recursion ------------------------------------------------ */
static int check_rules(parser *p) {
    for (int r = 0; r < p->n_r; r++)
        if (!p->r[r].defined) return perr_at(p, p->r[r].ref_at, "undefined rule '%s'", p->r[r].name);
    int n = p->n_r;
    uint8_t *nul = octet__calloc((size_t)n, 1);
    uint8_t *color = octet__calloc((size_t)n, 1);
    int32_t *path = octet__malloc(((size_t)n * 3 + 1) * sizeof *path);
    if (!nul || !color || !path) {
        octet__free(nul);
        octet__free(color);
        octet__free(path);
        return oom(p);
    }
    /* nullable rules: fixpoint */
    for (int changed = 1; changed;) {
        changed = 0;
        for (int r = 0; r < n; r++) {
            if (nul[r]) continue;
            for (int a = 0; a < p->r[r].n_alts && !nul[r]; a++) {
                const evec *v = &p->r[r].alts[a];
                int all = 1;
                for (int k = 0; k < v->n && all; k++) all = v->e[k].kind == EL_REF && nul[v->e[k].arg];
                if (all) nul[r] = 1, changed = 1;
            }
        }
    }
    /* left recursion: a cycle in "r may start with s" (s after only nullable elements); iterative DFS, the
     * stack holds (rule, alternative, element) of the next edge to follow */
    int rc = 0;
    int32_t *st_r = path, *st_a = path + n, *st_e = path + 2 * n;
    for (int s0 = 0; s0 < n && !rc; s0++) {
        if (color[s0]) continue;
        int sp = 0;
        st_r[sp] = s0;
        st_a[sp] = 0;
        st_e[sp] = 0;
        color[s0] = 1;
        sp++;
        while (sp && !rc) {
            int r = st_r[sp - 1], a = st_a[sp - 1], e = st_e[sp - 1];
            if (a >= p->r[r].n_alts) {
                color[r] = 2;
                sp--;
                continue;
            }
            const evec *v = &p->r[r].alts[a];
            if (e >= v->n || v->e[e].kind != EL_REF || (e > 0 && !nul[v->e[e - 1].arg])) {
                st_a[sp - 1]++;
                st_e[sp - 1] = 0;
                continue;
            }
            st_e[sp - 1]++;
            int target = v->e[e].arg;
            if (color[target] == 1) {
                char msg[160];
                int len = 0, from = 0;
                while (st_r[from] != target) from++;
                for (int i = from; i < sp && len < 120; i++)
                    len += snprintf(msg + len, sizeof msg - (size_t)len, "%.30s -> ", p->r[st_r[i]].name);
                if (len < (int)sizeof msg) snprintf(msg + len, sizeof msg - (size_t)len, "%.30s", p->r[target].name);
                /* report at the user-written rule on the cycle */
                size_t at = p->r[target].def_at;
                for (int i = from; i < sp; i++)
                    if (p->r[st_r[i]].def_at) {
                        at = p->r[st_r[i]].def_at;
                        break;
                    }
                rc = perr_at(p, at, "left recursion: %s (a rule reaches itself before consuming input)", msg);
            } else if (color[target] == 0) {
                color[target] = 1;
                st_r[sp] = target;
                st_a[sp] = 0;
                st_e[sp] = 0;
                sp++;
            }
        }
    }
    octet__free(nul);
    octet__free(color);
    octet__free(path);
    return rc;
}

static void parser_free(parser *p) {
    for (int r = 0; r < p->n_r; r++) {
        for (int a = 0; a < p->r[r].n_alts; a++) octet__free(p->r[r].alts[a].e);
        octet__free(p->r[r].alts);
        octet__free(p->r[r].name);
    }
    octet__free(p->r);
    octet__free(p->bs);
}

static gprog *compile(const char *text, size_t len, octet_error *err) {
    parser p;
    memset(&p, 0, sizeof p);
    p.s = text ? text : "";
    p.n = text ? len : 0;
    p.err = err;
    gprog *g = NULL;
    if (parse_rules(&p) || check_rules(&p)) goto out;
    int root = find_rule(&p, "root", 4);
    if (root < 0) {
        perr_at(&p, 0, "no rule named 'root' (the start rule)%s", NULL);
        goto out;
    }
    g = octet__calloc(1, sizeof *g);
    if (!g) goto oom;
    g->refs = 1;
    g->n_rules = p.n_r;
    g->root = root;
    long n_el = 0, n_alt = 0;
    for (int r = 0; r < p.n_r; r++) {
        n_alt += p.r[r].n_alts;
        for (int a = 0; a < p.r[r].n_alts; a++) n_el += p.r[r].alts[a].n + 1;
    }
    g->el = octet__malloc((size_t)n_el * sizeof *g->el);
    g->alt_off = octet__malloc(((size_t)p.n_r + 1) * sizeof *g->alt_off);
    g->alt_start = octet__malloc(((size_t)n_alt + 1) * sizeof *g->alt_start);
    g->bs = octet__malloc(((size_t)p.n_bs + 1) * sizeof *g->bs);
    if (!g->el || !g->alt_off || !g->alt_start || !g->bs) goto oom;
    if (p.n_bs) memcpy(g->bs, p.bs, (size_t)p.n_bs * sizeof *g->bs);
    g->n_bs = p.n_bs;
    int ne = 0, na = 0;
    for (int r = 0; r < p.n_r; r++) {
        g->alt_off[r] = na;
        for (int a = 0; a < p.r[r].n_alts; a++) {
            g->alt_start[na++] = ne;
            const evec *v = &p.r[r].alts[a];
            for (int k = 0; k < v->n; k++) g->el[ne++] = v->e[k];
            g->el[ne].kind = EL_END;
            g->el[ne].arg = 0;
            ne++;
        }
    }
    g->alt_off[p.n_r] = na;
    g->n_el = ne;
    goto out;
oom:
    prog_free(g);
    g = NULL;
    oom(&p);
out:
    parser_free(&p);
    return g;
}

/* ---- the matcher: interned stacks and sets of stacks ------------------------------------------------------ */
typedef struct {
    uint32_t off, n, hash;
    int accepting;
    int32_t *trans;  /* [256] next set; -2 unknown, -1 dead */
    uint64_t *mask;  /* allowed tokens for mask_vocab, or NULL */
    int n_allowed;
} gset;

struct octet_grammar {
    gprog *p;
    int32_t *npos, *npar;
    uint32_t *nstamp;
    int n_nodes, cap_nodes;
    int32_t *nhash; /* open addressing: node id, 0 empty */
    int nhash_cap;
    gset *sets;
    int n_sets, cap_sets;
    int32_t *pool;
    int n_pool, cap_pool;
    int32_t *shash; /* set id + 1, 0 empty */
    int shash_cap;
    uint32_t stamp;
    int32_t *work, *out;
    int cap_work, cap_out;
    int32_t state; /* -1: dead (never after a successful accept) */
    const octet_grammar_vocab *mask_vocab;
    size_t mask_bytes;
};

#define NODE_LIMIT (1 << 21)
#define SET_LIMIT (1 << 15)
#define MASK_BYTES_LIMIT ((size_t)16 << 20)

static uint32_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (uint32_t)x;
}

static int rehash_nodes(octet_grammar *g, int cap) {
    int32_t *h = octet__calloc((size_t)cap, sizeof *h);
    if (!h) return -1;
    for (int id = 1; id < g->n_nodes; id++) {
        uint32_t k = mix(((uint64_t)(uint32_t)g->npos[id] << 32) | (uint32_t)g->npar[id]) & (uint32_t)(cap - 1);
        while (h[k]) k = (k + 1) & (uint32_t)(cap - 1);
        h[k] = id;
    }
    octet__free(g->nhash);
    g->nhash = h;
    g->nhash_cap = cap;
    return 0;
}

/* The node (pos, parent); -1 when out of memory. */
static int32_t node(octet_grammar *g, int32_t pos, int32_t par) {
    uint32_t k = mix(((uint64_t)(uint32_t)pos << 32) | (uint32_t)par) & (uint32_t)(g->nhash_cap - 1);
    for (;;) {
        int32_t id = g->nhash[k];
        if (!id) break;
        if (g->npos[id] == pos && g->npar[id] == par) return id;
        k = (k + 1) & (uint32_t)(g->nhash_cap - 1);
    }
    if (g->n_nodes + 1 > g->cap_nodes) {
        int nc = g->cap_nodes * 2;
        int32_t *a = octet__realloc_array(g->npos, (size_t)g->cap_nodes, (size_t)nc, sizeof *a);
        if (!a) return -1;
        g->npos = a;
        a = octet__realloc_array(g->npar, (size_t)g->cap_nodes, (size_t)nc, sizeof *a);
        if (!a) return -1;
        g->npar = a;
        uint32_t *s = octet__realloc_array(g->nstamp, (size_t)g->cap_nodes, (size_t)nc, sizeof *s);
        if (!s) return -1;
        memset(s + g->cap_nodes, 0, (size_t)(nc - g->cap_nodes) * sizeof *s);
        g->nstamp = s;
        g->cap_nodes = nc;
    }
    int32_t id = g->n_nodes++;
    g->npos[id] = pos;
    g->npar[id] = par;
    g->nstamp[id] = 0;
    g->nhash[k] = id;
    if ((size_t)g->n_nodes * 2 > (size_t)g->nhash_cap && rehash_nodes(g, g->nhash_cap * 2)) return -1;
    return id;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int rehash_sets(octet_grammar *g, int cap) {
    int32_t *h = octet__calloc((size_t)cap, sizeof *h);
    if (!h) return -1;
    for (int id = 0; id < g->n_sets; id++) {
        uint32_t k = g->sets[id].hash & (uint32_t)(cap - 1);
        while (h[k]) k = (k + 1) & (uint32_t)(cap - 1);
        h[k] = id + 1;
    }
    octet__free(g->shash);
    g->shash = h;
    g->shash_cap = cap;
    return 0;
}

/* The set of leaves l[0..n) (sorted, distinct) with the accepting flag; -1 when empty and not accepting (dead),
 * -3 when out of memory. */
static int32_t intern_set(octet_grammar *g, const int32_t *l, int n, int acc) {
    if (n == 0 && !acc) return -1;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)acc;
    for (int i = 0; i < n; i++) h = (h ^ (uint64_t)(uint32_t)l[i]) * 0x100000001b3ull;
    uint32_t hh = mix(h);
    uint32_t k = hh & (uint32_t)(g->shash_cap - 1);
    for (;;) {
        int32_t id = g->shash[k];
        if (!id) break;
        const gset *s = &g->sets[id - 1];
        if (s->hash == hh && s->accepting == acc && (int)s->n == n &&
            memcmp(g->pool + s->off, l, (size_t)n * sizeof *l) == 0)
            return id - 1;
        k = (k + 1) & (uint32_t)(g->shash_cap - 1);
    }
    if (grow((void **)&g->pool, &g->cap_pool, g->n_pool + n + 1, sizeof *g->pool)) return -3;
    if (grow((void **)&g->sets, &g->cap_sets, g->n_sets + 1, sizeof *g->sets)) return -3;
    gset *s = &g->sets[g->n_sets];
    memset(s, 0, sizeof *s);
    s->off = (uint32_t)g->n_pool;
    s->n = (uint32_t)n;
    s->hash = hh;
    s->accepting = acc;
    if (n) memcpy(g->pool + g->n_pool, l, (size_t)n * sizeof *l);
    g->n_pool += n;
    g->shash[k] = ++g->n_sets;
    if ((size_t)g->n_sets * 2 > (size_t)g->shash_cap && rehash_sets(g, g->shash_cap * 2)) return -3;
    return g->n_sets - 1;
}

/* Expand the nodes on the work stack (w of them) into leaves (tops that are byte sets) in g->out; returns the
 * leaf count (sorted, distinct) and sets *acc when the empty stack is reached; -1 when out of memory. */
static int expand(octet_grammar *g, int w, int *acc) {
    const gprog *p = g->p;
    if (++g->stamp == 0) { /* wrapped: clear the stamps */
        memset(g->nstamp, 0, (size_t)g->cap_nodes * sizeof *g->nstamp);
        g->stamp = 1;
    }
    int no = 0;
    *acc = 0;
    while (w > 0) {
        int32_t m = g->work[--w];
        if (m == 0) {
            *acc = 1;
            continue;
        }
        if (g->nstamp[m] == g->stamp) continue;
        g->nstamp[m] = g->stamp;
        int32_t pos = g->npos[m], par = g->npar[m];
        const gelem e = p->el[pos];
        if (e.kind == EL_BYTES) {
            if (grow((void **)&g->out, &g->cap_out, no + 1, sizeof *g->out)) return -1;
            g->out[no++] = m;
        } else if (e.kind == EL_END) {
            if (grow((void **)&g->work, &g->cap_work, w + 1, sizeof *g->work)) return -1;
            g->work[w++] = par;
        } else {
            /* the frame to return to; a reference in tail position returns straight to the caller's caller
             * (node (END, par) expands to par), so x* = R ::= x R | "" keeps the stack flat and its states
             * repeat instead of growing by one frame per repetition */
            int32_t ret = p->el[pos + 1].kind == EL_END ? par : node(g, pos + 1, par);
            if (ret < 0) return -1;
            int a0 = p->alt_off[e.arg], a1 = p->alt_off[e.arg + 1];
            if (grow((void **)&g->work, &g->cap_work, w + (a1 - a0), sizeof *g->work)) return -1;
            for (int a = a1 - 1; a >= a0; a--) {
                int32_t c = node(g, p->alt_start[a], ret);
                if (c < 0) return -1;
                g->work[w++] = c;
            }
        }
    }
    if (no > 1) qsort(g->out, (size_t)no, sizeof *g->out, cmp_i32);
    return no;
}

static int32_t initial_set(octet_grammar *g) {
    const gprog *p = g->p;
    int a0 = p->alt_off[p->root], a1 = p->alt_off[p->root + 1];
    if (grow((void **)&g->work, &g->cap_work, a1 - a0 + 1, sizeof *g->work)) return -3;
    int w = 0;
    for (int a = a1 - 1; a >= a0; a--) {
        int32_t c = node(g, p->alt_start[a], 0);
        if (c < 0) return -3;
        g->work[w++] = c;
    }
    int acc;
    int n = expand(g, w, &acc);
    if (n < 0) return -3;
    return intern_set(g, g->out, n, acc);
}

/* Next state after byte c from set id; -1 dead, -3 out of memory. */
static int32_t step(octet_grammar *g, int32_t id, unsigned c) {
    gset *s = &g->sets[id];
    if (s->trans && s->trans[c] != -2) return s->trans[c];
    if (!s->trans) {
        s->trans = octet__malloc(256 * sizeof *s->trans);
        if (!s->trans) return -3;
        for (int k = 0; k < 256; k++) s->trans[k] = -2;
    }
    const gprog *p = g->p;
    int w = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        int32_t m = g->pool[s->off + i];
        const uint64_t *bs = p->bs[p->el[g->npos[m]].arg];
        if (!((bs[c >> 6] >> (c & 63)) & 1)) continue;
        int32_t nx = p->el[g->npos[m] + 1].kind == EL_END ? g->npar[m] : node(g, g->npos[m] + 1, g->npar[m]);
        if (nx < 0 || grow((void **)&g->work, &g->cap_work, w + 1, sizeof *g->work)) return -3;
        s = &g->sets[id];
        g->work[w++] = nx;
    }
    int32_t r = -1;
    if (w) {
        int acc;
        int n = expand(g, w, &acc);
        if (n < 0) return -3;
        r = intern_set(g, g->out, n, acc);
        if (r == -3) return -3;
    }
    g->sets[id].trans[c] = r;
    return r;
}

static void tables_free(octet_grammar *g) {
    for (int i = 0; i < g->n_sets; i++) {
        octet__free(g->sets[i].trans);
        octet__free(g->sets[i].mask);
    }
    octet__free(g->sets);
    octet__free(g->pool);
    octet__free(g->shash);
    octet__free(g->npos);
    octet__free(g->npar);
    octet__free(g->nstamp);
    octet__free(g->nhash);
    octet__free(g->work);
    octet__free(g->out);
}

static int tables_init(octet_grammar *g) {
    g->cap_nodes = 1024;
    g->npos = octet__malloc((size_t)g->cap_nodes * sizeof *g->npos);
    g->npar = octet__malloc((size_t)g->cap_nodes * sizeof *g->npar);
    g->nstamp = octet__calloc((size_t)g->cap_nodes, sizeof *g->nstamp);
    g->nhash_cap = 4096;
    g->nhash = octet__calloc((size_t)g->nhash_cap, sizeof *g->nhash);
    g->shash_cap = 1024;
    g->shash = octet__calloc((size_t)g->shash_cap, sizeof *g->shash);
    if (!g->npos || !g->npar || !g->nstamp || !g->nhash || !g->shash) return -1;
    g->npos[0] = -1;
    g->npar[0] = -1;
    g->n_nodes = 1;
    return 0;
}

/* A fresh grammar over prog p whose state copies set `id` of src (src NULL or id < 0: the initial state). */
static octet_grammar *instance(gprog *p, const octet_grammar *src, int32_t id) {
    octet_grammar *g = octet__calloc(1, sizeof *g);
    if (!g) return NULL;
    g->p = p;
    p->refs++;
    if (tables_init(g)) goto fail;
    if (!src || id < 0) {
        g->state = initial_set(g);
        if (g->state < -1) goto fail;
        return g;
    }
    const gset *s = &src->sets[id];
    int32_t *leaves = octet__malloc(((size_t)s->n + 1) * sizeof *leaves);
    int32_t *chain = NULL;
    int cap_chain = 0;
    if (!leaves) goto fail;
    int ok = 1;
    for (uint32_t i = 0; i < s->n && ok; i++) {
        int len = 0;
        for (int32_t m = src->pool[s->off + i]; m != 0; m = src->npar[m]) {
            if (grow((void **)&chain, &cap_chain, len + 1, sizeof *chain)) {
                ok = 0;
                break;
            }
            chain[len++] = src->npos[m];
        }
        int32_t par = 0;
        for (int k = len - 1; k >= 0 && ok; k--) {
            par = node(g, chain[k], par);
            if (par < 0) ok = 0;
        }
        leaves[i] = par;
    }
    octet__free(chain);
    if (ok) {
        qsort(leaves, s->n, sizeof *leaves, cmp_i32);
        g->state = intern_set(g, leaves, (int)s->n, s->accepting);
        if (g->state < -1) ok = 0;
    }
    octet__free(leaves);
    if (!ok) goto fail;
    return g;
fail:
    tables_free(g);
    prog_free(g->p);
    octet__free(g);
    return NULL;
}

/* Rebuild the tables from the current state when they grew past their limits. */
static int maybe_compact(octet_grammar *g) {
    if (g->n_nodes < NODE_LIMIT && g->n_sets < SET_LIMIT && g->n_pool < NODE_LIMIT * 4) return 0;
    octet_grammar *n = instance(g->p, g, g->state);
    if (!n) return -1;
    tables_free(g);
    prog_free(g->p);
    *g = *n;
    octet__free(n);
    return 0;
}

int octet_grammar_new(octet_grammar **out, const char *gbnf, size_t len, octet_error *err) {
    if (!out) return octet__err(err, OCTET_EINVAL, "grammar: NULL argument");
    *out = NULL;
    gprog *p = compile(gbnf, len, err);
    if (!p) return err ? err->code : OCTET_EINVAL;
    octet_grammar *g = instance(p, NULL, -1);
    prog_free(p);
    if (!g) return octet__err(err, OCTET_ENOMEM, "grammar: out of memory");
    *out = g;
    return 0;
}

octet_grammar *octet_grammar_clone(const octet_grammar *g) {
    if (!g) return NULL;
    return instance(g->p, g, g->state);
}

void octet_grammar_reset(octet_grammar *g) {
    if (!g) return;
    int32_t s = initial_set(g);
    g->state = s < -1 ? -1 : s;
}

void octet_grammar_free(octet_grammar *g) {
    if (!g) return;
    tables_free(g);
    prog_free(g->p);
    octet__free(g);
}

int octet_grammar_accept(octet_grammar *g, const char *bytes, size_t n) {
    if (!g) return OCTET_EINVAL;
    if (maybe_compact(g)) return OCTET_ENOMEM;
    int32_t s = g->state;
    for (size_t i = 0; i < n; i++) {
        if (s < 0) return OCTET_EINVAL;
        s = step(g, s, (unsigned char)bytes[i]);
        if (s == -3) return OCTET_ENOMEM;
    }
    if (s < 0) return OCTET_EINVAL;
    g->state = s;
    return 0;
}

int octet_grammar_is_complete(octet_grammar *g) { return g && g->state >= 0 && g->sets[g->state].accepting; }

/* ---- the vocabulary trie and masks ------------------------------------------------------------------------ */
struct octet_grammar_vocab {
    int n_vocab;
    int n_nodes;
    uint8_t *byte;       /* node i's byte (pre-order; node i's depth in depth[i], 1-based) */
    uint16_t *depth;
    int32_t *skip;       /* index after node i's subtree */
    int32_t *tok_off;    /* tokens ending at node i: toks[tok_off[i] .. tok_off[i+1]) */
    int32_t *toks;
    int32_t *eog;        /* end-of-generation token ids */
    int n_eog;
    char **piece;        /* per token (NULL for tokens never allowed) */
    uint32_t *plen;
    int max_depth;
};

int octet__grammar_vocab_n(const octet_grammar_vocab *v) { return v->n_vocab; }

void octet_grammar_vocab_free(octet_grammar_vocab *v) {
    if (!v) return;
    if (v->piece)
        for (int i = 0; i < v->n_vocab; i++) octet__free(v->piece[i]);
    octet__free(v->piece);
    octet__free(v->plen);
    octet__free(v->byte);
    octet__free(v->depth);
    octet__free(v->skip);
    octet__free(v->tok_off);
    octet__free(v->toks);
    octet__free(v->eog);
    octet__free(v);
}

typedef struct {
    const char *p;
    uint32_t len;
    int32_t id;
} piece_ref;

/* pieces in byte order (a prefix first), ties by id: no global state, so vocabularies may be built in parallel */
static int cmp_piece(const void *a, const void *b) {
    const piece_ref *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

int octet_grammar_vocab_from_pieces(octet_grammar_vocab **out, const char *const *pieces, const size_t *lens,
                                    const uint8_t *is_eog, int n, octet_error *err) {
    if (!out || n <= 0 || !pieces || !lens) return octet__err(err, OCTET_EINVAL, "grammar vocabulary: bad arguments");
    *out = NULL;
    octet_grammar_vocab *v = octet__calloc(1, sizeof *v);
    if (!v) return octet__err(err, OCTET_ENOMEM, "grammar vocabulary: out of memory");
    v->n_vocab = n;
    v->piece = octet__calloc((size_t)n, sizeof *v->piece);
    v->plen = octet__calloc((size_t)n, sizeof *v->plen);
    v->eog = octet__malloc((size_t)n * sizeof *v->eog);
    piece_ref *order = octet__malloc((size_t)n * sizeof *order);
    size_t total = 0;
    int n_ord = 0;
    if (!v->piece || !v->plen || !v->eog || !order) goto oom;
    for (int t = 0; t < n; t++) {
        if (is_eog && is_eog[t]) {
            v->eog[v->n_eog++] = t;
            continue;
        }
        if (!pieces[t] || lens[t] == 0 || lens[t] > 65535) continue;
        v->piece[t] = octet__malloc(lens[t]);
        if (!v->piece[t]) goto oom;
        memcpy(v->piece[t], pieces[t], lens[t]);
        v->plen[t] = (uint32_t)lens[t];
        order[n_ord].p = v->piece[t];
        order[n_ord].len = v->plen[t];
        order[n_ord].id = t;
        n_ord++;
        total += lens[t];
    }
    if (n_ord > 1) qsort(order, (size_t)n_ord, sizeof *order, cmp_piece);
    size_t cap = total + 1;
    v->byte = octet__malloc(cap);
    v->depth = octet__malloc(cap * sizeof *v->depth);
    v->skip = octet__malloc(cap * sizeof *v->skip);
    v->tok_off = octet__malloc((cap + 1) * sizeof *v->tok_off);
    v->toks = octet__malloc(((size_t)n_ord + 1) * sizeof *v->toks);
    int32_t *path = octet__malloc((65536 + 1) * sizeof *path);
    if (!v->byte || !v->depth || !v->skip || !v->tok_off || !v->toks || !path) {
        octet__free(path);
        goto oom;
    }
    /* pre-order nodes from the sorted pieces: a piece shares its longest common prefix with the previous one */
    int nn = 0, sp = 0, nt = 0;
    const char *prev = NULL;
    uint32_t prev_len = 0;
    for (int k = 0; k < n_ord; k++) {
        int32_t t = order[k].id;
        const char *pc = v->piece[t];
        uint32_t pl = v->plen[t];
        uint32_t lcp = 0;
        while (prev && lcp < pl && lcp < prev_len && pc[lcp] == prev[lcp]) lcp++;
        while ((uint32_t)sp > lcp) v->skip[path[--sp]] = nn; /* close subtrees deeper than the common prefix */
        for (uint32_t d = lcp; d < pl; d++) {
            v->byte[nn] = (uint8_t)pc[d];
            v->depth[nn] = (uint16_t)(d + 1);
            v->tok_off[nn] = nt;
            path[sp++] = nn++;
        }
        if ((int)pl > v->max_depth) v->max_depth = (int)pl;
        v->toks[nt++] = t; /* node path[sp-1] ends this token; tok_off of later nodes starts after it */
        prev = pc;
        prev_len = pl;
    }
    while (sp > 0) v->skip[path[--sp]] = nn;
    v->tok_off[nn] = nt;
    octet__free(path);
    v->n_nodes = nn;
    octet__free(order);
    *out = v;
    return 0;
oom:
    octet__free(order);
    octet_grammar_vocab_free(v);
    return octet__err(err, OCTET_ENOMEM, "grammar vocabulary: out of memory");
}

int octet_grammar_vocab_new(octet_grammar_vocab **out, const octet_model *m, octet_error *err) {
    if (!out || !m) return octet__err(err, OCTET_EINVAL, "grammar vocabulary: NULL argument");
    int n = octet_n_vocab(m);
    if (n <= 0) return octet__err(err, OCTET_EINVAL, "grammar vocabulary: the model has no vocabulary");
    char **pc = octet__calloc((size_t)n, sizeof *pc);
    size_t *len = octet__calloc((size_t)n, sizeof *len);
    uint8_t *eog = octet__calloc((size_t)n, 1);
    int rc = 0;
    if (!pc || !len || !eog) {
        rc = octet__err(err, OCTET_ENOMEM, "grammar vocabulary: out of memory");
        goto out;
    }
    for (int t = 0; t < n && !rc; t++) {
        eog[t] = (uint8_t)(octet_token_is_eog(m, t) == 1);
        char buf[256];
        int k = octet_token_to_piece(m, t, 0, buf, sizeof buf);
        if (k <= 0) continue;
        if (k > (int)sizeof buf) {
            pc[t] = octet__malloc((size_t)k);
            if (!pc[t]) {
                rc = octet__err(err, OCTET_ENOMEM, "grammar vocabulary: out of memory");
                break;
            }
            k = octet_token_to_piece(m, t, 0, pc[t], (size_t)k);
        } else {
            pc[t] = octet__malloc((size_t)k);
            if (!pc[t]) {
                rc = octet__err(err, OCTET_ENOMEM, "grammar vocabulary: out of memory");
                break;
            }
            memcpy(pc[t], buf, (size_t)k);
        }
        len[t] = k > 0 ? (size_t)k : 0;
    }
    if (!rc) rc = octet_grammar_vocab_from_pieces(out, (const char *const *)pc, len, eog, n, err);
out:
    if (pc)
        for (int t = 0; t < n; t++) octet__free(pc[t]);
    octet__free(pc);
    octet__free(len);
    octet__free(eog);
    return rc;
}

static void drop_masks(octet_grammar *g) {
    for (int i = 0; i < g->n_sets; i++) {
        octet__free(g->sets[i].mask);
        g->sets[i].mask = NULL;
    }
    g->mask_bytes = 0;
}

const uint64_t *octet__grammar_allowed(octet_grammar *g, const octet_grammar_vocab *v, int *n_allowed) {
    if (n_allowed) *n_allowed = 0;
    if (!g || !v) return NULL;
    if (maybe_compact(g)) return NULL;
    if (g->mask_vocab != v) {
        drop_masks(g);
        g->mask_vocab = v;
    }
    if (g->state < 0) return NULL;
    gset *s = &g->sets[g->state];
    if (s->mask) {
        if (n_allowed) *n_allowed = s->n_allowed;
        return s->mask;
    }
    const size_t words = ((size_t)v->n_vocab + 63) / 64;
    if (g->mask_bytes + words * 8 > MASK_BYTES_LIMIT) drop_masks(g);
    uint64_t *mask = octet__calloc(words, sizeof *mask);
    int32_t *st = octet__malloc(((size_t)v->max_depth + 1) * sizeof *st);
    if (!mask || !st) {
        octet__free(mask);
        octet__free(st);
        return NULL;
    }
    const int32_t root = g->state;
    int cnt = 0;
    st[0] = root;
    for (int i = 0; i < v->n_nodes;) {
        int d = v->depth[i];
        int32_t nx = step(g, st[d - 1], v->byte[i]);
        if (nx == -3) {
            octet__free(mask);
            octet__free(st);
            return NULL;
        }
        if (nx < 0) {
            i = v->skip[i];
            continue;
        }
        st[d] = nx;
        for (int32_t k = v->tok_off[i]; k < v->tok_off[i + 1]; k++) {
            int32_t t = v->toks[k];
            mask[t >> 6] |= 1ull << (t & 63);
            cnt++;
        }
        i++;
    }
    octet__free(st);
    if (g->sets[root].accepting)
        for (int k = 0; k < v->n_eog; k++) {
            int32_t t = v->eog[k];
            mask[t >> 6] |= 1ull << (t & 63);
            cnt++;
        }
    s = &g->sets[root];
    s->mask = mask;
    s->n_allowed = cnt;
    g->mask_bytes += words * 8;
    if (n_allowed) *n_allowed = cnt;
    return mask;
}

int octet__grammar_token_ok(octet_grammar *g, const octet_grammar_vocab *v, int32_t tok) {
    if (!g || !v || tok < 0 || tok >= v->n_vocab || g->state < 0) return 0;
    if (g->mask_vocab == v && g->sets[g->state].mask) return (int)((g->sets[g->state].mask[tok >> 6] >> (tok & 63)) & 1);
    for (int k = 0; k < v->n_eog; k++)
        if (v->eog[k] == tok) return g->sets[g->state].accepting;
    if (!v->piece[tok]) return 0;
    int32_t s = g->state;
    for (uint32_t i = 0; i < v->plen[tok] && s >= 0; i++) s = step(g, s, (unsigned char)v->piece[tok][i]);
    return s >= 0;
}

int octet_grammar_mask(octet_grammar *g, const octet_grammar_vocab *v, uint8_t *allowed) {
    if (!g || !v || !allowed) return OCTET_EINVAL;
    if (g->state < 0) {
        memset(allowed, 0, (size_t)v->n_vocab);
        return 0;
    }
    int n;
    const uint64_t *m = octet__grammar_allowed(g, v, &n);
    if (!m) return OCTET_ENOMEM;
    for (int t = 0; t < v->n_vocab; t++) allowed[t] = (uint8_t)((m[t >> 6] >> (t & 63)) & 1);
    return n;
}

int octet_grammar_accept_token(octet_grammar *g, const octet_grammar_vocab *v, int32_t tok) {
    if (!g || !v) return OCTET_EINVAL;
    if (tok < 0 || tok >= v->n_vocab) return OCTET_ERANGE;
    for (int k = 0; k < v->n_eog; k++)
        if (v->eog[k] == tok) return octet_grammar_is_complete(g) ? 0 : OCTET_EINVAL;
    if (!v->piece[tok]) return OCTET_EINVAL;
    return octet_grammar_accept(g, v->piece[tok], v->plen[tok]);
}
