/*
 * fuzz_jinja.c - libFuzzer target over the chat-template engine (src/text/jinja.c).
 *
 * The input is a template, rendered with a fixed set of variables (messages with tool calls, tools, numbers,
 * strings with non-ASCII text) under small limits. Every input must either render (a NUL-terminated output of
 * the reported length, within the output limit) or fail with a non-empty message and no output; sanitizers catch
 * the rest. An input holding a NUL byte splits in two: the template, and a JSON object used as the variables.
 *
 * Build and run: make fuzz && build/fuzz/fuzz_jinja fuzz/corpus/jinja -max_total_time=120
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "format/json.h"
#include "text/jinja.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char VARS[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \" sys \"}, {\"role\": \"user\", \"content\": "
    "\"h\\u00e9llo\\u00a0\"}, {\"role\": \"assistant\", \"content\": \"<think>\\nr\\n</think>\\n\\nans\", "
    "\"tool_calls\": [{\"function\": {\"name\": \"f\", \"arguments\": {\"a\": 1, \"b\": [true, null, 2.5]}}}]}], "
    "\"tools\": [{\"name\": \"t1\", \"x\": 3}, {\"name\": \"t2\"}], \"n\": 7, \"f\": 2.5, \"s\": \"Hello World\", "
    "\"d\": {\"b\": 2, \"a\": 1}, \"l\": [3, 1, 2], \"z\": null, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\", "
    "\"add_generation_prompt\": true}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static json_t *vars;
    octet_error err;
    if (!vars && octet__json_parse(&vars, VARS, strlen(VARS), 1 << 20, "vars", &err)) __builtin_trap();
    const char *src = (const char *)data;
    size_t len = size;
    json_t *own = NULL;
    const uint8_t *nul = memchr(data, 0, size);
    if (nul) {
        len = (size_t)(nul - data);
        size_t jl = size - len - 1;
        if (octet__json_parse(&own, (const char *)nul + 1, jl, 1 << 16, "fuzz vars", &err) == 0 &&
            !json_is_object(own)) {
            json_decref(own);
            own = NULL;
        }
    }
    octet__jinja_opts o = {0};
    o.max_output = 1 << 16;
    o.max_memory = 32 << 20;
    o.max_steps = 20000;
    o.max_depth = 100;
    o.now = 1700000000;
    char *out = NULL;
    size_t n = 0;
    memset(&err, 0, sizeof err);
    int rc = octet__jinja_render(src, len, own ? own : vars, &o, &out, &n, &err);
    if (rc == 0) {
        if (!out || strlen(out) > n || out[n] != 0 || n > o.max_output) __builtin_trap();
    } else {
        if (out || !err.msg[0]) __builtin_trap();
    }
    octet__free(out);
    if (own) json_decref(own);
    return 0;
}
