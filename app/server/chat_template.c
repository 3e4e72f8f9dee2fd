/*
 * chat_template.c - chat prompt formats, and the byte buffer and UTF-8 helpers the server shares.
 *
 * A GGUF model may carry tokenizer.chat_template, a Jinja program. octet does not run Jinja: it recognises the
 * common families by marker substrings and renders them with fixed code (the layouts below are those of the
 * published templates):
 *
 *   ChatML  (Qwen2, many fine-tunes)   "<|im_start|>" ROLE "\n" TEXT "<|im_end|>\n" ... "<|im_start|>assistant\n"
 *   Llama 3                            "<|start_header_id|>" ROLE "<|end_header_id|>\n\n" TEXT "<|eot_id|>" ...
 *                                      "<|start_header_id|>assistant<|end_header_id|>\n\n"
 *   Llama 2 / Mistral                  "[INST] <<SYS>>\nSYSTEM\n<</SYS>>\n\nUSER [/INST] ANSWER </s><s>[INST] ..."
 *   Zephyr / TinyLlama                 "<|system|>\n" TEXT EOS "\n<|user|>\n" TEXT EOS "\n" ... "<|assistant|>\n"
 *
 * Fallback, for models without a template (such as the bundled KJV model) or with an unrecognised one: plain
 * text, "SYSTEM\n\nUser: TEXT\nAssistant: TEXT\n...Assistant:", with "\nUser:" as an implied stop string.
 * The BOS token is never written here: the tokenizer adds it.
 */
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* ---- byte buffer ---------------------------------------------------------------------------------------- */
void srv_buf_put(srv_buf *b, const char *s, size_t n) {
    if (b->oom) return;
    size_t max = b->max ? b->max : ((size_t)-1) / 4;
    if (n > max - b->len) {
        b->oom = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void srv_buf_puts(srv_buf *b, const char *s) { srv_buf_put(b, s, strlen(s)); }

void srv_buf_free(srv_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF) ---------------------------------- */
static int seq_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) return 2;
    if (c >= 0xe0 && c <= 0xef) return 3;
    if (c >= 0xf0 && c <= 0xf4) return 4;
    return 0;
}

/* Can p[0..n) begin a valid sequence (n <= its length)? */
static int prefix_ok(const unsigned char *p, int n) {
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if (n >= 2) {
        if (p[0] == 0xe0 && p[1] < 0xa0) return 0;
        if (p[0] == 0xed && p[1] > 0x9f) return 0;
        if (p[0] == 0xf0 && p[1] < 0x90) return 0;
        if (p[0] == 0xf4 && p[1] > 0x8f) return 0;
    }
    return 1;
}

static const char REPL[] = "\xef\xbf\xbd";

void srv_utf8_put(srv_utf8 *u, srv_buf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (u->n_pend == 0) {
            int need = seq_len(c);
            if (need == 1) srv_buf_put(b, (const char *)&c, 1);
            else if (need == 0) srv_buf_put(b, REPL, 3);
            else u->pend[u->n_pend++] = c;
            continue;
        }
        u->pend[u->n_pend] = c;
        if (!prefix_ok(u->pend, u->n_pend + 1)) {
            srv_buf_put(b, REPL, 3); /* the pending prefix is invalid; reconsider c on its own */
            u->n_pend = 0;
            i--;
            continue;
        }
        if (++u->n_pend == seq_len(u->pend[0])) {
            srv_buf_put(b, (const char *)u->pend, (size_t)u->n_pend);
            u->n_pend = 0;
        }
    }
}

void srv_utf8_flush(srv_utf8 *u, srv_buf *b) {
    if (u->n_pend) srv_buf_put(b, REPL, 3);
    u->n_pend = 0;
}

/* ---- templates ---------------------------------------------------------------------------------------------- */
srv_tmpl srv_tmpl_detect(const char *tmpl, int (*has_token)(void *ud, const char *s), void *ud) {
    if (tmpl && *tmpl) {
        if (strstr(tmpl, "<|im_start|>")) return SRV_TMPL_CHATML;
        if (strstr(tmpl, "<|start_header_id|>")) return SRV_TMPL_LLAMA3;
        if (strstr(tmpl, "<|user|>") || strstr(tmpl, "<|assistant|>")) return SRV_TMPL_ZEPHYR;
        if (strstr(tmpl, "[INST]")) return SRV_TMPL_LLAMA2;
    }
    /* The template text may be missing or cut short; the vocabulary's control tokens tell the same story. */
    if (has_token && tmpl && *tmpl) {
        if (has_token(ud, "<|im_start|>")) return SRV_TMPL_CHATML;
        if (has_token(ud, "<|start_header_id|>")) return SRV_TMPL_LLAMA3;
        if (has_token(ud, "<|user|>")) return SRV_TMPL_ZEPHYR;
        if (has_token(ud, "[INST]")) return SRV_TMPL_LLAMA2;
    }
    return SRV_TMPL_PLAIN;
}

const char *srv_tmpl_name(srv_tmpl t) {
    switch (t) {
    case SRV_TMPL_CHATML: return "chatml";
    case SRV_TMPL_LLAMA3: return "llama3";
    case SRV_TMPL_LLAMA2: return "llama2";
    case SRV_TMPL_ZEPHYR: return "zephyr";
    default: return "plain";
    }
}

const char *srv_tmpl_stop(srv_tmpl t) { return t == SRV_TMPL_PLAIN ? "\nUser:" : NULL; }

/* Text without leading and trailing ASCII white space (the Llama templates trim message contents). */
static void put_trimmed(srv_buf *out, const char *s) {
    size_t n = strlen(s);
    while (n && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    srv_buf_put(out, s, n);
}

static void apply_llama2(const srv_message *msgs, int n, const char *eos, srv_buf *out) {
    const char *sys = NULL;
    int first_user = 1;
    for (int i = 0; i < n; i++) {
        const char *role = msgs[i].role;
        if (strcmp(role, "system") == 0) {
            sys = msgs[i].content; /* folded into the next user turn */
        } else if (strcmp(role, "assistant") == 0) {
            srv_buf_puts(out, " ");
            put_trimmed(out, msgs[i].content);
            srv_buf_puts(out, " ");
            srv_buf_puts(out, eos);
        } else {
            if (!first_user) srv_buf_puts(out, "<s>");
            first_user = 0;
            srv_buf_puts(out, "[INST] ");
            if (sys) {
                srv_buf_puts(out, "<<SYS>>\n");
                put_trimmed(out, sys);
                srv_buf_puts(out, "\n<</SYS>>\n\n");
                sys = NULL;
            }
            put_trimmed(out, msgs[i].content);
            srv_buf_puts(out, " [/INST]");
        }
    }
}

void srv_tmpl_apply(srv_tmpl t, const srv_message *msgs, int n, const char *eos, srv_buf *out) {
    if (!eos) eos = "";
    switch (t) {
    case SRV_TMPL_CHATML:
        for (int i = 0; i < n; i++) {
            srv_buf_puts(out, "<|im_start|>");
            srv_buf_puts(out, msgs[i].role);
            srv_buf_puts(out, "\n");
            srv_buf_puts(out, msgs[i].content);
            srv_buf_puts(out, "<|im_end|>\n");
        }
        srv_buf_puts(out, "<|im_start|>assistant\n");
        break;
    case SRV_TMPL_LLAMA3:
        for (int i = 0; i < n; i++) {
            srv_buf_puts(out, "<|start_header_id|>");
            srv_buf_puts(out, msgs[i].role);
            srv_buf_puts(out, "<|end_header_id|>\n\n");
            put_trimmed(out, msgs[i].content);
            srv_buf_puts(out, "<|eot_id|>");
        }
        srv_buf_puts(out, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case SRV_TMPL_ZEPHYR:
        for (int i = 0; i < n; i++) {
            srv_buf_puts(out, "<|");
            srv_buf_puts(out, msgs[i].role);
            srv_buf_puts(out, "|>\n");
            srv_buf_puts(out, msgs[i].content);
            srv_buf_puts(out, eos);
            srv_buf_puts(out, "\n");
        }
        srv_buf_puts(out, "<|assistant|>\n");
        break;
    case SRV_TMPL_LLAMA2:
        apply_llama2(msgs, n, eos, out);
        break;
    default:
        for (int i = 0; i < n; i++) {
            const char *role = msgs[i].role;
            if (strcmp(role, "system") == 0) {
                srv_buf_puts(out, msgs[i].content);
                srv_buf_puts(out, "\n\n");
                continue;
            }
            srv_buf_puts(out, strcmp(role, "assistant") == 0 ? "Assistant: " : "User: ");
            srv_buf_puts(out, msgs[i].content);
            srv_buf_puts(out, "\n");
        }
        srv_buf_puts(out, "Assistant:");
        break;
    }
}
