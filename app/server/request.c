/*
 * request.c - JSON request bodies to parameters. Everything here comes from the network: every field is
 * type-checked and range-checked, and a bad one produces a message naming it (the HTTP layer answers 400 with
 * an OpenAI error object). Shapes follow OpenAI's API reference for /v1/completions and /v1/chat/completions
 * (https://platform.openai.com/docs/api-reference) and llama.cpp's server README for /tokenize and
 * /detokenize. Unknown fields are ignored; JSON null means "not given".
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static int fail(char *msg, size_t msg_size, const char **param, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(char *msg, size_t msg_size, const char **param, const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (msg && msg_size) vsnprintf(msg, msg_size, fmt, ap);
    va_end(ap);
    if (param) *param = name;
    return -1;
}

static char *dup_n(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* Parse the body as a JSON object. */
static json_t *load_object(const char *body, size_t len, char *msg, size_t msg_size, const char **param) {
    json_error_t jerr;
    if (param) *param = NULL;
    json_t *root = json_loadb(body ? body : "", len, 0, &jerr);
    if (!root) {
        fail(msg, msg_size, param, NULL, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
             jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        fail(msg, msg_size, param, NULL, "the request body must be a JSON object");
        return NULL;
    }
    return root;
}

/* A present, non-null member (NULL otherwise). */
static json_t *member(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return v && !json_is_null(v) ? v : NULL;
}

static int get_number(json_t *o, const char *key, double lo, double hi, float *dst, char *msg, size_t msg_size,
                      const char **param) {
    json_t *v = member(o, key);
    if (!v) return 0;
    if (!json_is_number(v)) return fail(msg, msg_size, param, key, "'%s' must be a number", key);
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo || x > hi)
        return fail(msg, msg_size, param, key, "'%s' must be between %g and %g", key, lo, hi);
    *dst = (float)x;
    return 0;
}

static int get_bool(json_t *o, const char *key, int *dst, char *msg, size_t msg_size, const char **param) {
    json_t *v = member(o, key);
    if (!v) return 0;
    if (!json_is_boolean(v)) return fail(msg, msg_size, param, key, "'%s' must be a boolean", key);
    *dst = json_is_true(v);
    return 0;
}

/* Token ids: an array of integers in 0..INT32_MAX (the vocabulary check is the model's). */
static int get_token_array(json_t *a, const char *key, int32_t **out, int *n, char *msg, size_t msg_size,
                           const char **param) {
    size_t na = json_array_size(a);
    if (na > SRV_MAX_TOKEN_IDS) return fail(msg, msg_size, param, key, "'%s' has more than %u ids", key,
                                            (unsigned)SRV_MAX_TOKEN_IDS);
    int32_t *t = malloc((na ? na : 1) * sizeof *t);
    if (!t) return fail(msg, msg_size, param, key, "out of memory");
    for (size_t i = 0; i < na; i++) {
        json_t *e = json_array_get(a, i);
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > INT32_MAX) {
            free(t);
            return fail(msg, msg_size, param, key, "'%s[%zu]' must be a token id (a non-negative integer)", key, i);
        }
        t[i] = (int32_t)json_integer_value(e);
    }
    *out = t;
    *n = (int)na;
    return 0;
}

/* Message content: a string, or an array of parts {"type": "text", "text": str} concatenated. */
static int get_content(json_t *c, size_t idx, char **out, char *msg, size_t msg_size, const char **param) {
    if (!c) {
        *out = dup_n("", 0);
    } else if (json_is_string(c)) {
        *out = dup_n(json_string_value(c), json_string_length(c));
    } else if (json_is_array(c)) {
        srv_buf b = {0};
        b.max = SRV_MAX_BODY_BYTES;
        for (size_t i = 0; i < json_array_size(c); i++) {
            json_t *part = json_array_get(c, i);
            json_t *type = json_is_object(part) ? json_object_get(part, "type") : NULL;
            json_t *text = json_is_object(part) ? json_object_get(part, "text") : NULL;
            if (!json_is_string(type) || strcmp(json_string_value(type), "text") != 0 || !json_is_string(text)) {
                srv_buf_free(&b);
                return fail(msg, msg_size, param, "messages",
                            "messages[%zu].content[%zu] must be {\"type\": \"text\", \"text\": string}", idx, i);
            }
            srv_buf_put(&b, json_string_value(text), json_string_length(text));
        }
        srv_buf_put(&b, "", 0);
        if (b.oom) {
            srv_buf_free(&b);
            return fail(msg, msg_size, param, "messages", "out of memory");
        }
        *out = b.p ? b.p : dup_n("", 0);
    } else {
        return fail(msg, msg_size, param, "messages", "messages[%zu].content must be a string or an array of parts",
                    idx);
    }
    if (!*out) return fail(msg, msg_size, param, "messages", "out of memory");
    return 0;
}

void srv_request_free(srv_request *r) {
    if (!r) return;
    free(r->model);
    free(r->prompt);
    free(r->prompt_tokens);
    for (int i = 0; i < r->n_msgs; i++) {
        free(r->msgs[i].role);
        free(r->msgs[i].content);
    }
    free(r->msgs);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    octet_grammar_free(r->grammar);
    memset(r, 0, sizeof *r);
}

/* ---- issue 19 items 3-4: prompt caching, logprobs, echo (llama.cpp's cache_prompt; OpenAI's logprobs,
 * top_logprobs and echo: chat takes logprobs as a boolean with top_logprobs 0..20, completions the legacy integer
 * logprobs 0..5 meaning "and this many alternatives") ---------------------------------------------------------- */
static int parse_cache_logprobs(srv_request *r, json_t *o, char *msg, size_t msg_size, const char **param) {
    json_t *v;
    if (get_bool(o, "cache_prompt", &r->cache_prompt, msg, msg_size, param)) return -1;
    if (r->kind == SRV_REQ_CHAT) {
        if (get_bool(o, "logprobs", &r->logprobs, msg, msg_size, param)) return -1;
        if ((v = member(o, "top_logprobs"))) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > SRV_MAX_TOP_LOGPROBS)
                return fail(msg, msg_size, param, "top_logprobs", "'top_logprobs' must be an integer between 0 and %d",
                            SRV_MAX_TOP_LOGPROBS);
            if (!r->logprobs)
                return fail(msg, msg_size, param, "top_logprobs", "'top_logprobs' needs 'logprobs': true");
            r->top_logprobs = (int)json_integer_value(v);
        }
        if (member(o, "echo")) return fail(msg, msg_size, param, "echo", "'echo' is for /v1/completions only");
    } else {
        if ((v = member(o, "logprobs"))) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > SRV_MAX_LEGACY_LOGPROBS)
                return fail(msg, msg_size, param, "logprobs", "'logprobs' must be an integer between 0 and %d",
                            SRV_MAX_LEGACY_LOGPROBS);
            r->logprobs = 1;
            r->top_logprobs = (int)json_integer_value(v);
        }
        if (get_bool(o, "echo", &r->echo, msg, msg_size, param)) return -1;
    }
    return 0;
}

/* /v1/embeddings (OpenAI's API reference: input is a string, an array of strings, an array of token ids or an
 * array of such arrays; encoding_format "float" or "base64"; dimensions is not supported). */
void srv_embed_request_free(srv_embed_request *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) {
        if (r->texts) free(r->texts[i]);
        if (r->toks) free(r->toks[i]);
    }
    free(r->texts);
    free(r->lens);
    free(r->toks);
    free(r->n_toks);
    free(r->model);
    memset(r, 0, sizeof *r);
}

static int parse_embed_fields(srv_embed_request *r, json_t *o, char *msg, size_t msg_size, const char **param) {
    json_t *v = member(o, "model");
    if (v) {
        if (!json_is_string(v)) return fail(msg, msg_size, param, "model", "'model' must be a string");
        if (!(r->model = dup_n(json_string_value(v), json_string_length(v))))
            return fail(msg, msg_size, param, "model", "out of memory");
    }
    if ((v = member(o, "encoding_format"))) {
        if (!json_is_string(v) ||
            (strcmp(json_string_value(v), "float") != 0 && strcmp(json_string_value(v), "base64") != 0))
            return fail(msg, msg_size, param, "encoding_format", "'encoding_format' must be \"float\" or \"base64\"");
        r->base64 = strcmp(json_string_value(v), "base64") == 0;
    }
    if (member(o, "dimensions"))
        return fail(msg, msg_size, param, "dimensions", "'dimensions' is not supported (the model's size is used)");
    json_t *in = member(o, "input");
    if (!in) return fail(msg, msg_size, param, "input", "'input' is required");
    /* one input (a string, or a flat token array) or an array of inputs */
    int single = json_is_string(in) || (json_is_array(in) && json_array_size(in) > 0 &&
                                        json_is_integer(json_array_get(in, 0)));
    size_t n = single ? 1 : (json_is_array(in) ? json_array_size(in) : 0);
    if (!json_is_string(in) && !json_is_array(in))
        return fail(msg, msg_size, param, "input", "'input' must be a string, an array of strings or token ids");
    if (n == 0) return fail(msg, msg_size, param, "input", "'input' must not be empty");
    if (n > SRV_MAX_EMBED_INPUTS)
        return fail(msg, msg_size, param, "input", "at most %d inputs per request", SRV_MAX_EMBED_INPUTS);
    r->texts = calloc(n, sizeof *r->texts);
    r->lens = calloc(n, sizeof *r->lens);
    r->toks = calloc(n, sizeof *r->toks);
    r->n_toks = calloc(n, sizeof *r->n_toks);
    if (!r->texts || !r->lens || !r->toks || !r->n_toks) return fail(msg, msg_size, param, "input", "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *e = single ? in : json_array_get(in, i);
        r->n = (int)i + 1;
        if (json_is_string(e)) {
            if (json_string_length(e) == 0)
                return fail(msg, msg_size, param, "input", "input[%zu] is an empty string", i);
            r->lens[i] = json_string_length(e);
            if (!(r->texts[i] = dup_n(json_string_value(e), r->lens[i])))
                return fail(msg, msg_size, param, "input", "out of memory");
        } else if (json_is_array(e) && json_array_size(e) > 0) {
            if (get_token_array(e, "input", &r->toks[i], &r->n_toks[i], msg, msg_size, param)) return -1;
        } else {
            return fail(msg, msg_size, param, "input",
                        "input[%zu] must be a non-empty string or a non-empty array of token ids", i);
        }
    }
    return 0;
}

int srv_parse_embeddings(srv_embed_request *r, const char *body, size_t len, char *msg, size_t msg_size,
                         const char **param) {
    memset(r, 0, sizeof *r);
    json_t *o = load_object(body, len, msg, msg_size, param);
    if (!o) return -1;
    int rc = parse_embed_fields(r, o, msg, msg_size, param);
    json_decref(o);
    if (rc) srv_embed_request_free(r);
    return rc;
}
/* ---- end of issue 19 items 3-4 ---------------------------------------------------------------------------- */
/* Compile GBNF text, or a JSON Schema (serialised from schema) to GBNF first, into r->grammar; a grammar error or
 * an unsupported schema keyword is a 400 naming it (field: the request member it came from). */
static int set_grammar(srv_request *r, const char *gbnf, size_t len, json_t *schema, const char *field, char *msg,
                       size_t msg_size, const char **param) {
    octet_error err;
    memset(&err, 0, sizeof err);
    char *text = NULL;
    int rc = 0;
    if (schema) {
        char *js = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!js) return fail(msg, msg_size, param, field, "out of memory");
        rc = octet_json_schema_to_gbnf(js, strlen(js), &text, &len, &err);
        free(js);
        gbnf = text;
    }
    if (!rc) rc = octet_grammar_new(&r->grammar, gbnf, len, &err);
    free(text);
    if (rc == OCTET_ENOMEM) return fail(msg, msg_size, param, field, "out of memory");
    if (rc) return fail(msg, msg_size, param, field, "'%s': %s", field, err.msg);
    return 0;
}

/* Constrained output: llama.cpp's `grammar` (GBNF text) and `json_schema` (a schema), OpenAI's `response_format`
 * ({"type": "text"}, {"type": "json_object"} (llama.cpp also reads a "schema" member there) or {"type":
 * "json_schema", "json_schema": {"name": ..., "schema": {...}, "strict": bool}}). At most one of them. With
 * strict false the schema is still enforced (a subset of what OpenAI promises). */
static int parse_constraint(srv_request *r, json_t *o, char *msg, size_t msg_size, const char **param) {
    json_t *g = member(o, "grammar"), *js = member(o, "json_schema"), *rf = member(o, "response_format");
    if (rf) {
        json_t *t = json_is_object(rf) ? json_object_get(rf, "type") : NULL;
        if (!json_is_string(t))
            return fail(msg, msg_size, param, "response_format",
                        "'response_format' must be an object with a string 'type'");
        const char *ts = json_string_value(t);
        if (strcmp(ts, "text") == 0) rf = NULL;
        else if (strcmp(ts, "json_object") != 0 && strcmp(ts, "json_schema") != 0)
            return fail(msg, msg_size, param, "response_format",
                        "'response_format.type' must be \"text\", \"json_object\" or \"json_schema\"");
    }
    if (!!g + !!js + !!rf > 1)
        return fail(msg, msg_size, param, "response_format",
                    "give only one of 'grammar', 'json_schema' and 'response_format'");
    if (g) {
        if (!json_is_string(g)) return fail(msg, msg_size, param, "grammar", "'grammar' must be a string (GBNF)");
        return set_grammar(r, json_string_value(g), json_string_length(g), NULL, "grammar", msg, msg_size, param);
    }
    if (js) {
        if (!json_is_object(js) && !json_is_boolean(js))
            return fail(msg, msg_size, param, "json_schema", "'json_schema' must be a JSON Schema object");
        return set_grammar(r, NULL, 0, js, "json_schema", msg, msg_size, param);
    }
    if (!rf) return 0;
    const char *ts = json_string_value(json_object_get(rf, "type"));
    json_t *schema = NULL, *any_object = NULL;
    if (strcmp(ts, "json_object") == 0) {
        schema = member(rf, "schema");
        if (!schema) schema = any_object = json_pack("{s:s}", "type", "object");
        if (!schema) return fail(msg, msg_size, param, "response_format", "out of memory");
    } else {
        json_t *d = member(rf, "json_schema");
        if (!json_is_object(d))
            return fail(msg, msg_size, param, "response_format",
                        "'response_format.json_schema' must be an object with a 'schema'");
        json_t *strict = member(d, "strict");
        if (strict && !json_is_boolean(strict))
            return fail(msg, msg_size, param, "response_format", "'response_format.json_schema.strict' must be a boolean");
        schema = member(d, "schema");
        if (!schema || (!json_is_object(schema) && !json_is_boolean(schema)))
            return fail(msg, msg_size, param, "response_format",
                        "'response_format.json_schema.schema' must be a JSON Schema object");
    }
    int rc = set_grammar(r, NULL, 0, schema, "response_format", msg, msg_size, param);
    json_decref(any_object);
    return rc;
}

static int parse_fields(srv_request *r, json_t *o, char *msg, size_t msg_size, const char **param) {
    json_t *v;
    if ((v = member(o, "model"))) {
        if (!json_is_string(v)) return fail(msg, msg_size, param, "model", "'model' must be a string");
        if (!(r->model = dup_n(json_string_value(v), json_string_length(v))))
            return fail(msg, msg_size, param, "model", "out of memory");
    }
    if (r->kind == SRV_REQ_COMPLETION) {
        v = member(o, "prompt");
        if (!v) return fail(msg, msg_size, param, "prompt", "'prompt' is required");
        if (json_is_array(v) && json_array_size(v) == 1 && json_is_string(json_array_get(v, 0)))
            v = json_array_get(v, 0); /* ["text"] */
        if (json_is_string(v)) {
            r->prompt_len = json_string_length(v);
            if (!(r->prompt = dup_n(json_string_value(v), r->prompt_len)))
                return fail(msg, msg_size, param, "prompt", "out of memory");
        } else if (json_is_array(v) && json_array_size(v) > 0 && json_is_integer(json_array_get(v, 0))) {
            if (get_token_array(v, "prompt", &r->prompt_tokens, &r->n_prompt_tokens, msg, msg_size, param))
                return -1;
        } else if (json_is_array(v) && json_array_size(v) > 1 && json_is_string(json_array_get(v, 0))) {
            return fail(msg, msg_size, param, "prompt", "only one prompt per request is supported");
        } else {
            return fail(msg, msg_size, param, "prompt", "'prompt' must be a string or an array of token ids");
        }
    } else {
        v = member(o, "messages");
        if (!v) return fail(msg, msg_size, param, "messages", "'messages' is required");
        if (!json_is_array(v) || json_array_size(v) == 0)
            return fail(msg, msg_size, param, "messages", "'messages' must be a non-empty array");
        size_t n = json_array_size(v);
        if (n > SRV_MAX_MESSAGES)
            return fail(msg, msg_size, param, "messages", "more than %d messages", SRV_MAX_MESSAGES);
        r->msgs = calloc(n, sizeof *r->msgs);
        if (!r->msgs) return fail(msg, msg_size, param, "messages", "out of memory");
        for (size_t i = 0; i < n; i++) {
            json_t *m = json_array_get(v, i);
            if (!json_is_object(m)) return fail(msg, msg_size, param, "messages", "messages[%zu] must be an object", i);
            json_t *role = json_object_get(m, "role");
            if (!json_is_string(role))
                return fail(msg, msg_size, param, "messages", "messages[%zu].role must be a string", i);
            r->n_msgs = (int)i + 1; /* so that free releases what is filled */
            if (!(r->msgs[i].role = dup_n(json_string_value(role), json_string_length(role))))
                return fail(msg, msg_size, param, "messages", "out of memory");
            if (get_content(member(m, "content"), i, &r->msgs[i].content, msg, msg_size, param)) return -1;
        }
    }
    json_t *mt = member(o, "max_tokens");
    if (!mt && r->kind == SRV_REQ_CHAT) mt = member(o, "max_completion_tokens");
    if (mt) {
        const char *name = member(o, "max_tokens") ? "max_tokens" : "max_completion_tokens";
        if (!json_is_integer(mt)) return fail(msg, msg_size, param, name, "'%s' must be an integer", name);
        json_int_t x = json_integer_value(mt);
        if (x < 0 || x > SRV_MAX_TOKENS)
            return fail(msg, msg_size, param, name, "'%s' must be between 0 and %d", name, SRV_MAX_TOKENS);
        r->max_tokens = (int)x;
    }
    if (get_number(o, "temperature", 0, 100, &r->temperature, msg, msg_size, param)) return -1;
    if (get_number(o, "top_p", 0, 1, &r->top_p, msg, msg_size, param)) return -1;
    if ((v = member(o, "seed"))) {
        if (!json_is_integer(v)) return fail(msg, msg_size, param, "seed", "'seed' must be an integer");
        r->seed = (uint64_t)json_integer_value(v);
        r->seed_given = 1;
    }
    if ((v = member(o, "n"))) {
        if (!json_is_integer(v) || json_integer_value(v) != 1)
            return fail(msg, msg_size, param, "n", "'n' must be 1 (one choice per request)");
    }
    if ((v = member(o, "stop"))) {
        json_t *one[1] = {v};
        json_t **items = one;
        size_t n = 1;
        if (json_is_array(v)) {
            n = json_array_size(v);
            if (n > SRV_MAX_STOP)
                return fail(msg, msg_size, param, "stop", "at most %d stop sequences", SRV_MAX_STOP);
            items = NULL;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *s = items ? items[i] : json_array_get(v, i);
            if (!json_is_string(s))
                return fail(msg, msg_size, param, "stop", "'stop' must be a string or an array of strings");
            size_t sl = json_string_length(s);
            if (sl == 0) continue; /* an empty stop string would stop before the first token */
            if (sl > SRV_MAX_STOP_BYTES)
                return fail(msg, msg_size, param, "stop", "stop sequences are limited to %d bytes", SRV_MAX_STOP_BYTES);
            if (!(r->stop[r->n_stop] = dup_n(json_string_value(s), sl)))
                return fail(msg, msg_size, param, "stop", "out of memory");
            r->n_stop++;
        }
    }
    if (get_bool(o, "stream", &r->stream, msg, msg_size, param)) return -1;
    if (get_bool(o, "ignore_eos", &r->ignore_eos, msg, msg_size, param)) return -1;
    if ((v = member(o, "stream_options"))) {
        if (!json_is_object(v))
            return fail(msg, msg_size, param, "stream_options", "'stream_options' must be an object");
        if (get_bool(v, "include_usage", &r->include_usage, msg, msg_size, param)) return -1;
    }
    if (parse_cache_logprobs(r, o, msg, msg_size, param)) return -1;
    return parse_constraint(r, o, msg, msg_size, param);
}

int srv_parse_request(srv_request *r, srv_req_kind kind, const char *body, size_t len, char *msg, size_t msg_size,
                      const char **param) {
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->max_tokens = -1;
    r->temperature = 1.0f;
    r->top_p = 1.0f;
    r->cache_prompt = 1;
    json_t *o = load_object(body, len, msg, msg_size, param);
    if (!o) return -1;
    int rc = parse_fields(r, o, msg, msg_size, param);
    json_decref(o);
    if (rc) srv_request_free(r);
    return rc;
}

int srv_parse_tokenize(const char *body, size_t len, char **content, size_t *content_len, int *add_special,
                       char *msg, size_t msg_size, const char **param) {
    *content = NULL;
    *content_len = 0;
    *add_special = 0;
    json_t *o = load_object(body, len, msg, msg_size, param);
    if (!o) return -1;
    int rc = 0;
    json_t *c = member(o, "content");
    if (!c || !json_is_string(c)) {
        rc = fail(msg, msg_size, param, "content", "'content' must be a string");
    } else if (get_bool(o, "add_special", add_special, msg, msg_size, param)) {
        rc = -1;
    } else {
        *content_len = json_string_length(c);
        *content = dup_n(json_string_value(c), *content_len);
        if (!*content) rc = fail(msg, msg_size, param, "content", "out of memory");
    }
    json_decref(o);
    return rc;
}

int srv_parse_detokenize(const char *body, size_t len, int32_t **tokens, int *n, char *msg, size_t msg_size,
                         const char **param) {
    *tokens = NULL;
    *n = 0;
    json_t *o = load_object(body, len, msg, msg_size, param);
    if (!o) return -1;
    int rc;
    json_t *t = member(o, "tokens");
    if (!t || !json_is_array(t)) rc = fail(msg, msg_size, param, "tokens", "'tokens' must be an array of token ids");
    else rc = get_token_array(t, "tokens", tokens, n, msg, msg_size, param);
    json_decref(o);
    return rc;
}
