/*
 * fuzz_server_request.c - libFuzzer target for the server's request parsing (app/server/request.c): the first
 * byte picks the endpoint (completion, chat, tokenize, detokenize), the rest is the body. Parsed chat requests
 * are also rendered in every chat format, and completion prompts checked for consistency, so the formatting code
 * sees fuzzed messages too. Built by `make fuzz` (links only request.c, chat_template.c and jansson).
 *   build/fuzz/fuzz_server_request fuzz/corpus/server -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int which = data[0] & 3;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char msg[256];
    const char *param = NULL;
    if (which <= 1) {
        srv_request r;
        if (srv_parse_request(&r, which ? SRV_REQ_CHAT : SRV_REQ_COMPLETION, body, len, msg, sizeof msg, &param) ==
            0) {
            if (r.kind == SRV_REQ_CHAT) {
                if (r.n_msgs < 1) __builtin_trap();
                for (int t = SRV_TMPL_PLAIN; t <= SRV_TMPL_ZEPHYR; t++) {
                    srv_buf b = {0};
                    srv_tmpl_apply((srv_tmpl)t, r.msgs, r.n_msgs, "</s>", &b);
                    srv_buf_free(&b);
                }
            } else if (!r.prompt == !r.prompt_tokens) {
                __builtin_trap(); /* exactly one prompt form */
            }
            if (r.n_stop < 0 || r.n_stop > SRV_MAX_STOP || r.max_tokens > SRV_MAX_TOKENS) __builtin_trap();
            if (r.top_logprobs < 0 || r.top_logprobs > SRV_MAX_TOP_LOGPROBS) __builtin_trap();
            for (int i = 0; i < r.n_stop; i++)
                if (!r.stop[i][0] || strlen(r.stop[i]) > SRV_MAX_STOP_BYTES) __builtin_trap();
        } else if (!memchr(msg, 0, sizeof msg)) {
            __builtin_trap();
        }
        srv_request_free(&r);
    } else if (which == 2) {
        char *content;
        size_t n;
        int add;
        if (srv_parse_tokenize(body, len, &content, &n, &add, msg, sizeof msg, &param) == 0) free(content);
        srv_embed_request e; /* the same bodies as /v1/embeddings */
        if (srv_parse_embeddings(&e, body, len, msg, sizeof msg, &param) == 0) {
            if (e.n < 1 || e.n > SRV_MAX_EMBED_INPUTS) __builtin_trap();
            for (int i = 0; i < e.n; i++)
                if (!e.texts[i] == !e.toks[i]) __builtin_trap(); /* exactly one form per input */
            srv_embed_request_free(&e);
        }
    } else {
        int32_t *t;
        int n;
        if (srv_parse_detokenize(body, len, &t, &n, msg, sizeof msg, &param) == 0) {
            for (int i = 0; i < n; i++)
                if (t[i] < 0) __builtin_trap();
            free(t);
        }
    }
    /* the UTF-8 sanitiser never emits invalid UTF-8: jansson must accept its output as a string */
    srv_buf b = {0};
    srv_utf8 u = {{0}, 0};
    srv_utf8_put(&u, &b, body, len);
    srv_utf8_flush(&u, &b);
    if (b.p && !b.oom) {
        for (size_t i = 0; i < b.len; i++)
            if (!b.p[i]) b.p[i] = ' ';
        json_t *s = json_stringn(b.p, b.len);
        if (!s) __builtin_trap();
        json_decref(s);
    }
    srv_buf_free(&b);
    return 0;
}
