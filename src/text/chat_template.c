/*
 * chat_template.c - the public chat-template entry points (include/octet.h): the variables of a
 * chat-completions request body handed to the Jinja engine (jinja.h) as transformers' apply_chat_template does,
 * and the model's tokenizer.chat_template.
 */
#include <string.h>

#include "core/core.h"
#include "format/gguf.h"
#include "format/json.h"
#include "model/model.h"
#include "text/jinja.h"

#define MAX_BODY_BYTES ((size_t)64 << 20)

static int set_str(json_t *o, const char *k, const char *v) {
    if (!v) v = "";
    json_t *s = json_stringn_nocheck(v, strlen(v)); /* a token's text need not be valid UTF-8 */
    return s ? json_object_set_new(o, k, s) : -1;
}

int octet_chat_template_apply(const char *tmpl, size_t tmpl_len, const char *body_json, size_t body_len,
                              const char *bos_token, const char *eos_token, int add_generation_prompt, char **out,
                              size_t *out_len, octet_error *err) {
    *out = NULL;
    if (out_len) *out_len = 0;
    if (!tmpl) return octet__err(err, OCTET_EINVAL, "chat template: no template");
    json_t *body = NULL;
    int rc = 0;
    if (body_json && body_len) {
        rc = octet__json_parse(&body, body_json, body_len, MAX_BODY_BYTES, "request body", err);
        if (rc) return rc;
        if (!json_is_object(body)) {
            json_decref(body);
            return octet__err(err, OCTET_EFORMAT, "request body: expected a JSON object");
        }
    }
    json_t *vars = json_object();
    if (!vars) {
        json_decref(body);
        return octet__err(err, OCTET_ENOMEM, "chat template: out of memory");
    }
    int bad = set_str(vars, "bos_token", bos_token) | set_str(vars, "eos_token", eos_token) |
              json_object_set_new(vars, "tools", json_null());
    if (body) {
        bad |= json_object_update(vars, body);
        json_t *kw = json_object_get(body, "chat_template_kwargs");
        if (kw && json_is_object(kw)) bad |= json_object_update(vars, kw);
    }
    bad |= json_object_set_new(vars, "add_generation_prompt", json_boolean(add_generation_prompt));
    if (bad) rc = octet__err(err, OCTET_ENOMEM, "chat template: out of memory");
    else rc = octet__jinja_render(tmpl, tmpl_len, vars, NULL, out, out_len, err);
    json_decref(vars);
    json_decref(body);
    return rc;
}

void octet_chat_template_free(char *s) { octet__free(s); }

const char *octet_model_chat_template(const octet_model *m, size_t *len) {
    octet__str s;
    octet_error err;
    *len = 0;
    if (!m || octet__gguf_get_str(m->gguf, "tokenizer.chat_template", &s, &err)) return NULL;
    *len = s.len;
    return s.ptr;
}
