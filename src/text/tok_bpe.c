/*
 * tok_bpe.c - byte-level BPE ("gpt2" tokenizers), as llama.cpp's llm_tokenizer_bpe:
 *   1. the text is decoded to codepoints (malformed bytes become U+FFFD, one per byte);
 *   2. a pre-tokenizer cuts it into words. The scanners below mirror llama.cpp's hand-written matchers for the
 *      GPT-2 and Llama-3 regexes and the splits its std::regex fallback produces for the other patterns (a
 *      run of a character class, each character of a class, groups of three ASCII digits), each applied to
 *      every piece the previous stage produced;
 *   3. each word's UTF-8 bytes are mapped to GPT-2's printable byte alphabet;
 *   4. adjacent symbols (characters of that alphabet) are merged, lowest merge rank first (leftmost on ties),
 *      with a priority queue and lazy invalidation; a word that is itself a token skips merging for the
 *      llama-3 pre-tokenizers (llama.cpp's ignore_merges);
 *   5. each final symbol is its token; a symbol with no token contributes the tokens of its single bytes, if any.
 */
#include <string.h>

#include "core/core.h"
#include "text/tok_int.h"
#include "text/unicode.h"

/* ---- pre-tokenizers ---------------------------------------------------------------------------------------- */

#define OOR 0xFFFFFFFFu /* "no codepoint": outside the current piece */

typedef struct scan {
    const uint32_t *cp;
    const uint16_t *fl;
    size_t ini, end;  /* current piece [ini, end) */
    size_t prev_end;
    uint32_t *out;    /* word lengths */
    size_t n_out;
} scan;

static inline uint32_t C(const scan *s, size_t p) { return p >= s->ini && p < s->end ? s->cp[p] : OOR; }
static inline unsigned F(const scan *s, size_t p) { return p >= s->ini && p < s->end ? s->fl[p] : 0u; }
static inline void add(scan *s, size_t end) {
    if (end > s->prev_end) s->out[s->n_out++] = (uint32_t)(end - s->prev_end);
    s->prev_end = end;
}
static inline uint32_t ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

enum { SP = OCTET__UCP_SPACE, LT = OCTET__UCP_LETTER, NB = OCTET__UCP_NUMBER };

/* 's|'t|'re|'ve|'m|'ll|'d at pos (case-folded when fold): returns the match length or 0. */
static size_t contraction(const scan *s, size_t pos, int fold) {
    if (C(s, pos) != '\'' || pos + 1 >= s->end) return 0;
    uint32_t a = C(s, pos + 1);
    if (fold) a = ascii_lower(a); /* no non-ASCII codepoint lower-cases to one of these letters */
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (pos + 2 < s->end) {
        uint32_t b = C(s, pos + 2);
        if (fold) b = ascii_lower(b);
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
    return 0;
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static void piece_gpt2(scan *s) {
    for (size_t pos = s->ini; pos < s->end;) {
        uint32_t cpt = C(s, pos);
        unsigned fl = F(s, pos);
        size_t k = contraction(s, pos, 0);
        if (k) {
            pos += k;
            add(s, pos);
            continue;
        }
        unsigned f2 = cpt == ' ' ? F(s, pos + 1) : fl;
        if (f2 & LT) {
            pos += cpt == ' ';
            while (f2 & LT) f2 = F(s, ++pos);
            add(s, pos);
            continue;
        }
        if (f2 & NB) {
            pos += cpt == ' ';
            while (f2 & NB) f2 = F(s, ++pos);
            add(s, pos);
            continue;
        }
        if (!(f2 & (SP | LT | NB)) && f2) {
            pos += cpt == ' ';
            while (!(f2 & (SP | LT | NB)) && f2) f2 = F(s, ++pos);
            add(s, pos);
            continue;
        }
        size_t nws = 0;
        while (F(s, pos + nws) & SP) nws++;
        if (nws > 1 && C(s, pos + nws) != OOR) { /* \s+(?!\S): leave the last space to the next word */
            pos += nws - 1;
            add(s, pos);
            continue;
        }
        if (nws > 0) {
            pos += nws;
            add(s, pos);
            continue;
        }
        add(s, ++pos);
    }
}

/* Llama 3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 * \s*[\r\n]+|\s+(?!\S)|\s+  (Qwen2: max_digits = 1). */
static void piece_llama3(scan *s, size_t max_digits) {
    for (size_t pos = s->ini; pos < s->end;) {
        uint32_t cpt = C(s, pos);
        unsigned fl = F(s, pos);
        size_t k = contraction(s, pos, 1);
        if (k) {
            pos += k;
            add(s, pos);
            continue;
        }
        if (!(cpt == '\r' || cpt == '\n' || (fl & NB))) {
            if ((fl & LT) || (F(s, pos + 1) & LT)) {
                pos++;
                while (F(s, pos) & LT) pos++;
                add(s, pos);
                continue;
            }
        }
        if (fl & NB) {
            size_t ini = pos;
            while (F(s, pos) & NB) {
                if (++pos - ini >= max_digits) {
                    add(s, pos);
                    ini = pos;
                }
            }
            add(s, pos);
            continue;
        }
        unsigned f2 = cpt == ' ' ? F(s, pos + 1) : fl;
        if (!(f2 & (SP | LT | NB)) && fl) {
            pos += cpt == ' ';
            while (!(f2 & (SP | LT | NB)) && f2) f2 = F(s, ++pos);
            uint32_t c2 = C(s, pos);
            while (c2 == '\r' || c2 == '\n') c2 = C(s, ++pos);
            add(s, pos);
            continue;
        }
        size_t nws = 0, last_rn = 0;
        while (F(s, pos + nws) & SP) {
            uint32_t c2 = C(s, pos + nws);
            if (c2 == '\r' || c2 == '\n') last_rn = pos + nws + 1;
            nws++;
        }
        if (last_rn > 0) { /* \s*[\r\n]+ */
            pos = last_rn;
            add(s, pos);
            continue;
        }
        if (nws > 1 && C(s, pos + nws) != OOR) {
            pos += nws - 1;
            add(s, pos);
            continue;
        }
        if (nws > 0) {
            pos += nws;
            add(s, pos);
            continue;
        }
        add(s, ++pos);
    }
}

/* Class predicates as llama.cpp's std::regex fallback sees them: ASCII codepoints by their own value, others
 * by their category unless they are whitespace. */
static int is_ascii_punct(uint32_t c, int with_backtick) {
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x5F) ||
           (c >= 0x7B && c <= 0x7E) || (with_backtick && c == 0x60);
}
static int cls_punct(uint32_t c, unsigned fl, int bt) {
    return c < 128 ? is_ascii_punct(c, bt) : !(fl & SP) && (fl & OCTET__UCP_CLASS_MASK) == OCTET__UCP_PUNCT;
}
static int cls_number(uint32_t c, unsigned fl) {
    return c < 128 ? c >= '0' && c <= '9' : !(fl & SP) && (fl & OCTET__UCP_CLASS_MASK) == OCTET__UCP_NUMBER;
}

enum { CLS_PUNCT, CLS_PUNCT_BT, CLS_NUMBER };
static int cls(int which, uint32_t c, unsigned fl) {
    return which == CLS_NUMBER ? cls_number(c, fl) : cls_punct(c, fl, which == CLS_PUNCT_BT);
}

/* [class]+ : runs of the class and the gaps between them. */
static void piece_runs(scan *s, int which) {
    size_t pos = s->ini;
    while (pos < s->end) {
        if (cls(which, s->cp[pos], s->fl[pos])) {
            add(s, pos);
            while (pos < s->end && cls(which, s->cp[pos], s->fl[pos])) pos++;
            add(s, pos);
        } else {
            pos++;
        }
    }
    add(s, s->end);
}

/* [class] : each character of the class alone. */
static void piece_each(scan *s, int which) {
    for (size_t pos = s->ini; pos < s->end; pos++) {
        if (cls(which, s->cp[pos], s->fl[pos])) {
            add(s, pos);
            add(s, pos + 1);
        }
    }
    add(s, s->end);
}

/* [0-9][0-9][0-9] : leftmost groups of three ASCII digits. */
static void piece_digit3(scan *s) {
    size_t pos = s->ini;
    while (pos < s->end) {
        if (pos + 3 <= s->end && s->cp[pos] - '0' < 10u && s->cp[pos + 1] - '0' < 10u && s->cp[pos + 2] - '0' < 10u) {
            add(s, pos);
            add(s, pos + 3);
            pos += 3;
        } else {
            pos++;
        }
    }
    add(s, s->end);
}

enum { ST_GPT2, ST_LLAMA3, ST_QWEN2, ST_RUNS_PUNCT, ST_RUNS_PUNCT_BT, ST_RUNS_NUMBER, ST_EACH_NUMBER, ST_DIGIT3 };

int octet__pretokenize(int pre, const uint32_t *cps, size_t n, uint32_t **out_lens, size_t *n_out) {
    *out_lens = NULL;
    *n_out = 0;
    if (n == 0) return 0;
    if (n > UINT32_MAX) return OCTET_ERANGE;
    static const int st_default[] = {ST_RUNS_PUNCT, ST_GPT2, ST_RUNS_NUMBER, ST_DIGIT3, -1};
    static const int st_gpt2[] = {ST_GPT2, -1}, st_llama3[] = {ST_LLAMA3, -1}, st_qwen2[] = {ST_QWEN2, -1};
    static const int st_starcoder[] = {ST_EACH_NUMBER, ST_GPT2, -1};
    static const int st_falcon[] = {ST_RUNS_PUNCT_BT, ST_GPT2, ST_DIGIT3, -1};
    const int *stages = pre == OCTET__PRE_GPT2        ? st_gpt2
                        : pre == OCTET__PRE_LLAMA3    ? st_llama3
                        : pre == OCTET__PRE_QWEN2     ? st_qwen2
                        : pre == OCTET__PRE_STARCODER ? st_starcoder
                        : pre == OCTET__PRE_FALCON    ? st_falcon
                                                      : st_default;
    uint16_t *fl = octet__malloc(n * sizeof *fl);
    uint32_t *a = octet__malloc(n * sizeof *a), *b = octet__malloc(n * sizeof *b);
    if (!fl || !a || !b) {
        octet__free(fl), octet__free(a), octet__free(b);
        return OCTET_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) fl[i] = (uint16_t)octet__ucp_flags(cps[i]);
    a[0] = (uint32_t)n;
    size_t na = 1;
    for (const int *st = stages; *st >= 0; st++) {
        scan s = {cps, fl, 0, 0, 0, b, 0};
        size_t start = 0;
        for (size_t i = 0; i < na; i++) {
            s.ini = s.prev_end = start;
            s.end = start + a[i];
            switch (*st) {
            case ST_GPT2: piece_gpt2(&s); break;
            case ST_LLAMA3: piece_llama3(&s, 3); break;
            case ST_QWEN2: piece_llama3(&s, 1); break;
            case ST_RUNS_PUNCT: piece_runs(&s, CLS_PUNCT); break;
            case ST_RUNS_PUNCT_BT: piece_runs(&s, CLS_PUNCT_BT); break;
            case ST_RUNS_NUMBER: piece_runs(&s, CLS_NUMBER); break;
            case ST_EACH_NUMBER: piece_each(&s, CLS_NUMBER); break;
            default: piece_digit3(&s); break;
            }
            start = s.end;
        }
        uint32_t *tmp = a;
        a = b, b = tmp;
        na = s.n_out;
    }
    octet__free(fl);
    octet__free(b);
    *out_lens = a;
    *n_out = na;
    return 0;
}

/* ---- merging ----------------------------------------------------------------------------------------------- */

typedef struct sym {
    size_t off, n;
    int64_t prev, next;
} sym;

typedef octet__tok_bigram bigram;
typedef octet__tok_heap heap;

static int try_add(const octet__tokenizer *t, const char *w, const sym *s, int64_t l, int64_t r, heap *h) {
    if (l < 0 || r < 0) return 0;
    int32_t rank = octet__tok_merge_rank(t, w + s[l].off, s[l].n, w + s[r].off, s[r].n);
    if (rank < 0) return 0;
    bigram b = {(double)rank, l, r, s[l].n + s[r].n}; /* the lowest rank merges first */
    return octet__tok_heap_push(h, b);
}

typedef struct work {
    char *w;
    size_t w_cap;
    sym *s;
    size_t s_cap;
    heap h;
} work;

static int encode_word(const octet__tokenizer *t, work *wk, size_t wl, octet__tok_out *o) {
    const char *w = wk->w;
    if (t->ignore_merges) {
        int32_t id = octet__tok_lookup(t, w, wl);
        if (id >= 0) {
            octet__tok_push(o, id);
            return 0;
        }
    }
    size_t ns = 0;
    for (size_t i = 0; i < wl; ns++) {
        size_t l = octet__utf8_len((unsigned char)w[i]);
        i += l < wl - i ? l : wl - i;
    }
    if (ns > wk->s_cap) {
        sym *nsym = octet__realloc_array(wk->s, 0, ns, sizeof *nsym);
        if (!nsym) return OCTET_ENOMEM;
        wk->s = nsym, wk->s_cap = ns;
    }
    sym *s = wk->s;
    size_t k = 0;
    for (size_t i = 0; i < wl; k++) {
        size_t l = octet__utf8_len((unsigned char)w[i]);
        if (l > wl - i) l = wl - i;
        s[k] = (sym){i, l, (int64_t)k - 1, i + l == wl ? -1 : (int64_t)k + 1};
        i += l;
    }
    heap *h = &wk->h;
    h->n = 0;
    int rc = 0;
    for (size_t i = 1; i < ns && rc == 0; i++) rc = try_add(t, w, s, (int64_t)i - 1, (int64_t)i, h);
    while (h->n > 0 && rc == 0) {
        bigram b = octet__tok_heap_pop(h);
        sym *L = &s[b.left], *R = &s[b.right];
        /* both symbols only grow, so unchanged sizes mean the pair still spells the merged text */
        if (L->n == 0 || R->n == 0 || L->n + R->n != b.size) continue;
        L->n += R->n;
        R->n = 0;
        L->next = R->next;
        if (R->next >= 0) s[R->next].prev = b.left;
        rc = try_add(t, w, s, L->prev, b.left, h);
        if (rc == 0) rc = try_add(t, w, s, b.left, L->next, h);
    }
    if (rc) return rc;
    for (size_t i = 0; i < ns; i++) {
        if (s[i].n == 0) continue;
        int32_t id = octet__tok_lookup(t, w + s[i].off, s[i].n);
        if (id >= 0) {
            octet__tok_push(o, id);
            continue;
        }
        for (size_t j = 0; j < s[i].n; j++) {
            int32_t bt = octet__tok_lookup(t, w + s[i].off + j, 1);
            if (bt >= 0) octet__tok_push(o, bt);
        }
    }
    return 0;
}

int octet__bpe_encode(const octet__tokenizer *t, const char *text, size_t len, octet__tok_out *o) {
    if (len == 0) return 0;
    uint32_t *cps = octet__malloc(len * sizeof *cps);
    if (!cps) return OCTET_ENOMEM;
    size_t n = 0;
    for (size_t off = 0; off < len;) cps[n++] = octet__utf8_decode((const unsigned char *)text, len, &off);
    uint32_t *lens = NULL;
    size_t nw = 0;
    int rc = octet__pretokenize(t->pre, cps, n, &lens, &nw);
    work wk = {0};
    size_t start = 0;
    for (size_t i = 0; i < nw && rc == 0; i++) {
        size_t need;
        if (!octet__mul_size(lens[i], 8, &need)) { /* 4 UTF-8 bytes per codepoint, 2 per byte in the alphabet */
            rc = OCTET_ENOMEM;
            break;
        }
        if (need > wk.w_cap) {
            char *nb = octet__realloc_array(wk.w, 0, need, 1);
            if (!nb) {
                rc = OCTET_ENOMEM;
                break;
            }
            wk.w = nb, wk.w_cap = need;
        }
        size_t wl = 0;
        for (size_t j = start; j < start + lens[i]; j++) {
            unsigned char u[4];
            int k = octet__utf8_encode(cps[j], u);
            for (int e = 0; e < k; e++) {
                memcpy(wk.w + wl, t->byte_enc[u[e]], t->byte_enc_len[u[e]]);
                wl += t->byte_enc_len[u[e]];
            }
        }
        start += lens[i];
        rc = encode_word(t, &wk, wl, o);
    }
    octet__free(wk.w);
    octet__free(wk.s);
    octet__free(wk.h.a);
    octet__free(lens);
    octet__free(cps);
    return rc;
}
