/*
 * json.h - JSON for the files octet reads besides GGUF (safetensors headers, Hugging Face config.json,
 * tokenizer.json, tokenizer_config.json), on top of Debian's libjansson (libjansson-dev).
 *
 * Why jansson rather than a parser of our own: it is small, strict (RFC 8259: no comments, no trailing commas,
 * rejects invalid UTF-8 and NUL inside strings unless asked), bounds nesting depth (2048 levels), detects integer
 * overflow instead of wrapping, is fuzzed continuously by OSS-Fuzz, and is packaged by Debian. What this wrapper
 * adds: a byte limit before parsing, duplicate keys refused (JSON_REJECT_DUPLICATES), trailing garbage refused,
 * integers beyond int64 read as reals instead of refused (json.c: Hugging Face's model_max_length of 1e30),
 * jansson's allocations routed through octet's hook (so allocation-failure tests cover it), and typed getters
 * whose messages name the file and the key.
 *
 * jansson's allocator is process-wide: octet__json_parse installs functions that call octet__malloc/octet__free,
 * which with no octet hook set are malloc/free, so trees made elsewhere in the process (app/server) stay
 * compatible.
 *
 * Trees are jansson's json_t (reference counted): octet__json_parse hands out one reference, released with
 * json_decref. Borrowed pointers (json_object_get, octet__json_get_str) live as long as the tree.
 */
#ifndef OCTET_JSON_H
#define OCTET_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "octet.h"

/* Parse len bytes (need not be NUL-terminated). name is used in messages ("config.json: line 3 column 7: ...").
 * Errors: OCTET_EFORMAT (malformed, duplicate key, more than max_bytes), OCTET_ENOMEM. */
int octet__json_parse(json_t **out, const char *buf, size_t len, size_t max_bytes, const char *name,
                      octet_error *err);
/* Read and parse a whole file. OCTET_EIO when it cannot be read, OCTET_ENOTFOUND when it does not exist
 * (err filled too, so callers that require the file can pass the message on). */
int octet__json_load_file(json_t **out, const char *path, size_t max_bytes, octet_error *err);

/* Typed getters on an object. They return 0, OCTET_ENOTFOUND when key is absent or null (err untouched), or
 * OCTET_EFORMAT when the value has the wrong type or is out of range; messages read "NAME: KEY: reason".
 * get_i64 accepts only JSON integers (an integer literal beyond int64, read as a real, is reported out of range); get_f64 accepts integers and reals; get_str returns a borrowed
 * NUL-terminated string (JSON strings with NUL are refused by the parser). */
int octet__json_get_i64(const json_t *obj, const char *key, int64_t lo, int64_t hi, int64_t *out, const char *name,
                        octet_error *err);
int octet__json_get_f64(const json_t *obj, const char *key, double *out, const char *name, octet_error *err);
int octet__json_get_bool(const json_t *obj, const char *key, int *out, const char *name, octet_error *err);
int octet__json_get_str(const json_t *obj, const char *key, const char **out, const char *name, octet_error *err);

/* "object", "array", "string", "integer", "real", "true", "false", "null" */
const char *octet__json_type_name(const json_t *v);

#endif
