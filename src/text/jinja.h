/*
 * jinja.h - a Jinja template engine for chat templates (tokenizer.chat_template), rendering as Hugging Face
 * transformers does: Jinja2's ImmutableSandboxedEnvironment with trim_blocks=True, lstrip_blocks=True, the
 * loopcontrols extension (break/continue), {% generation %} blocks (AssistantTracker, rendered as plain body),
 * the default Undefined, and transformers' globals raise_exception(msg) and strftime_now(fmt) and its tojson
 * filter (json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)).
 *
 * Python semantics are the reference (Jinja2 3.x on CPython): str() of values (None, True/False, float repr,
 * list and dict repr), Python str methods (strip with Unicode whitespace, split, ...), integer/float arithmetic.
 * What is not implemented is an error naming the template line, never a silent difference. docs/chat_templates.md
 * lists the subset and the places where @huggingface/jinja (the JS port) differs.
 *
 * Everything a render allocates lives in one arena with a byte limit, so no input can exhaust memory; output
 * size, loop iterations and call depth are bounded too. Errors come back as OCTET_EFORMAT (syntax error, runtime
 * error, raise_exception: the message names the template line) or OCTET_ERANGE (a limit).
 */
#ifndef OCTET_TEXT_JINJA_H
#define OCTET_TEXT_JINJA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "octet.h"

typedef struct octet__jinja_opts {
    size_t max_output;   /* bytes of output (default 8 MiB) */
    size_t max_memory;   /* bytes of arena (parse tree, values; default 128 MiB) */
    int64_t max_steps;   /* loop iterations + macro calls + filter items (default 10 million) */
    int max_depth;       /* nesting of expressions, statements and macro calls (default 200) */
    int64_t now;         /* strftime_now's time (seconds since the epoch, local time); 0: the clock */
} octet__jinja_opts;

/* Render template src[0..len) with the variables of the JSON object vars (NULL: none). *out receives a
 * NUL-terminated string from octet__malloc (free with octet__free), *out_len its length. opts may be NULL. */
int octet__jinja_render(const char *src, size_t len, const json_t *vars, const octet__jinja_opts *opts, char **out,
                        size_t *out_len, octet_error *err);

#endif
