/*
 * test_safetensors.c - the safetensors reader (src/format/safetensors.c) and the JSON wrapper (json.c) on
 * hand-built files: a valid file read back field by field, then one file per validation rule, each checked for
 * its status code and for a message that names the file, the tensor and the reason; random byte damage of a
 * valid file (never a crash); every allocation failed in turn.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "format/json.h"
#include "format/safetensors.h"
#include "test.h"

typedef struct buf {
    uint8_t *b;
    size_t n;
} buf;

/* 8-byte little-endian header length | header | data_len bytes (value i & 0xff at data byte i). */
static buf make_st(const char *header, size_t data_len) {
    size_t hl = strlen(header);
    buf r;
    r.n = 8 + hl + data_len;
    r.b = malloc(r.n ? r.n : 1);
    for (int i = 0; i < 8; i++) r.b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(r.b + 8, header, hl);
    for (size_t i = 0; i < data_len; i++) r.b[8 + hl + i] = (uint8_t)i;
    return r;
}

static int open_buf(const buf *b, octet_error *err) {
    octet__st *st = NULL;
    memset(err, 0, sizeof *err);
    int rc = octet__st_open_memory(&st, b->b, b->n, "t.safetensors", err);
    if (rc == 0) CHECK(st != NULL);
    else CHECK(st == NULL);
    octet__st_close(st);
    return rc;
}

static void test_valid(void) {
    const char *h = "{\"__metadata__\": {\"format\": \"pt\"}, "
                    "\"b.weight\": {\"dtype\": \"BF16\", \"shape\": [4], \"data_offsets\": [24, 32]}, "
                    "\"a.weight\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}, "
                    "\"c.empty\": {\"dtype\": \"F16\", \"shape\": [0, 5], \"data_offsets\": [32, 32]}, "
                    "\"d.half\": {\"dtype\": \"F16\", \"shape\": [], \"data_offsets\": [32, 34]}}   ";
    buf b = make_st(h, 34);
    octet__st *st;
    octet_error err;
    int rc = octet__st_open_memory(&st, b.b, b.n, "t.safetensors", &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc == 0) {
        CHECK(octet__st_n_tensors(st) == 4);
        const octet__st_tensor *a = octet__st_find(st, "a.weight"), *bw = octet__st_find(st, "b.weight");
        const octet__st_tensor *c = octet__st_find(st, "c.empty"), *d = octet__st_find(st, "d.half");
        CHECK(a && bw && c && d && !octet__st_find(st, "__metadata__") && !octet__st_find(st, "a"));
        if (a && bw && c && d) {
            CHECK(a->dtype == OCTET_ST_F32 && a->n_dims == 2 && a->shape[0] == 2 && a->shape[1] == 3);
            CHECK(a->n_elements == 6 && a->begin == 0 && a->end == 24);
            size_t hl = strlen(h);
            CHECK((const uint8_t *)a->data == b.b + 8 + hl && (const uint8_t *)bw->data == b.b + 8 + hl + 24);
            CHECK(bw->dtype == OCTET_ST_BF16 && bw->n_elements == 4 && ((const uint8_t *)bw->data)[0] == 24);
            CHECK(c->n_elements == 0 && c->begin == 32 && c->end == 32);
            CHECK(d->n_dims == 0 && d->n_elements == 1); /* a scalar: the empty product */
        }
        /* tensor_at walks in data order */
        CHECK(octet__st_tensor_at(st, 0) == a && octet__st_tensor_at(st, 1) == bw && !octet__st_tensor_at(st, 4));
        CHECK(octet__st_dtype_size(OCTET_ST_F32) == 4 && octet__st_dtype_size(OCTET_ST_BF16) == 2);
        octet__st_close(st);
    }
    free(b.b);
    buf e = make_st("{}", 0); /* no tensors at all is a valid (empty) file */
    CHECK(open_buf(&e, &err) == 0);
    free(e.b);
}

typedef struct bad_case {
    const char *header;
    size_t data_len;
    int code;
    const char *want; /* substring of the message */
} bad_case;

static void test_rules(void) {
#define T1(dt, shape, offs) "{\"t\": {\"dtype\": \"" dt "\", \"shape\": " shape ", \"data_offsets\": " offs "}}"
    static const bad_case cases[] = {
        {"[]", 0, OCTET_EFORMAT, "does not start with '{'"},
        {"{\"t\": 1,}", 0, OCTET_EFORMAT, "invalid JSON"},
        {"{} x", 0, OCTET_EFORMAT, "invalid JSON"},
        {"{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, "
         "\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8, OCTET_EFORMAT, "duplicate"},
        {"{\"t\": [1]}", 0, OCTET_EFORMAT, "tensor 't': expected an object"},
        {"{\"t\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4, OCTET_EFORMAT, "missing field 'dtype'"},
        {"{\"t\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4, OCTET_EFORMAT, "missing field 'shape'"},
        {"{\"t\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4, OCTET_EFORMAT, "missing field 'data_offsets'"},
        {"{\"t\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4], \"x\": 1}}", 4, OCTET_EFORMAT,
         "unexpected field 'x'"},
        {T1("F33", "[1]", "[0, 4]"), 4, OCTET_EFORMAT, "tensor 't': unknown dtype 'F33'"},
        {T1("I64", "[1]", "[0, 8]"), 8, OCTET_EUNSUPPORTED, "dtype I64 is not supported"},
        {T1("F8_E4M3", "[1]", "[0, 1]"), 1, OCTET_EUNSUPPORTED, "dtype F8_E4M3 is not supported"},
        {"{\"t\": {\"dtype\": 3, \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, OCTET_EFORMAT, "dtype: expected a string"},
        {T1("F32", "4", "[0, 16]"), 16, OCTET_EFORMAT, "shape: expected an array"},
        {T1("F32", "[-1]", "[0, 4]"), 4, OCTET_EFORMAT, "shape[0]"},
        {T1("F32", "[1.5]", "[0, 4]"), 4, OCTET_EFORMAT, "shape[0]"},
        {T1("F32", "[1099511627777]", "[0, 4]"), 4, OCTET_EFORMAT, "shape[0]"},
        {T1("F32", "[1,1,1,1,1,1,1,1,1]", "[0, 4]"), 4, OCTET_EFORMAT, "9 dimensions"},
        {T1("F32", "[1099511627776, 1099511627776]", "[0, 4]"), 4, OCTET_EFORMAT, "element count overflows"},
        {T1("F32", "[1048576, 1048576, 1048576, 16777216]", "[0, 4]"), 4, OCTET_EFORMAT, "overflows"},
        {T1("F32", "[1]", "[0]"), 4, OCTET_EFORMAT, "data_offsets: expected [begin, end]"},
        {T1("F32", "[1]", "[0, 4, 8]"), 8, OCTET_EFORMAT, "data_offsets: expected [begin, end]"},
        {T1("F32", "[1]", "[-4, 0]"), 4, OCTET_EFORMAT, "negative offset"},
        {T1("F32", "[1]", "[4, 0]"), 4, OCTET_EFORMAT, "begin 4 > end 0"},
        {T1("F32", "[1]", "[0, 4]"), 3, OCTET_EFORMAT, "end 4 is beyond the data section (3 bytes)"},
        {T1("F32", "[1]", "[0, 99999999999999999999]"), 4, OCTET_EFORMAT, "data_offsets: expected [begin, end] integers"}, /* beyond int64: read as a real */
        {T1("F32", "[2]", "[0, 4]"), 4, OCTET_EFORMAT, "span 4 bytes but shape x F32 needs 8"},
        {T1("F16", "[3]", "[0, 4]"), 4, OCTET_EFORMAT, "needs 6"},
        {T1("F32", "[1]", "[4, 8]"), 8, OCTET_EFORMAT, "leaving a hole"},
        {T1("F32", "[1]", "[0, 4]"), 8, OCTET_EFORMAT, "tensors cover 4 bytes but the data section has 8"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
         "\"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8, OCTET_EFORMAT, "overlap"},
        {"{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
         "\"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8, OCTET_EFORMAT, "overlap"},
        {"{\"__metadata__\": {\"format\": 1}}", 0, OCTET_EFORMAT, "__metadata__: 'format': expected a string"},
        {"{\"__metadata__\": []}", 0, OCTET_EFORMAT, "__metadata__: expected an object"},
        {"{\"\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, OCTET_EFORMAT, "empty name"},
        {"{\"t\\u0000x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, OCTET_EFORMAT,
         "invalid JSON"}, /* NUL inside a name */
        {"{\"\xff\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, OCTET_EFORMAT,
         "invalid JSON"}, /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b = make_st(cases[i].header, cases[i].data_len);
        octet_error err;
        int rc = open_buf(&b, &err);
        CHECKF(rc == cases[i].code && strstr(err.msg, "t.safetensors") && strstr(err.msg, cases[i].want),
               "case %zu: rc %d, message '%s', want '%s'", i, rc, err.msg, cases[i].want);
        free(b.b);
    }
}

static void test_header_length(void) {
    octet_error err;
    uint8_t small[5] = {0};
    buf b = {small, sizeof small};
    CHECK(open_buf(&b, &err) == OCTET_EFORMAT && strstr(err.msg, "too short"));
    buf v = make_st("{}", 0);
    v.b[0] = 200; /* header length beyond the file */
    CHECK(open_buf(&v, &err) == OCTET_EFORMAT && strstr(err.msg, "goes beyond the end of the file"));
    memset(v.b, 0xff, 8); /* 2^64 - 1 */
    CHECK(open_buf(&v, &err) == OCTET_EFORMAT && strstr(err.msg, "outside 2..100000000"));
    memset(v.b, 0, 8);
    v.b[0] = 1;
    CHECK(open_buf(&v, &err) == OCTET_EFORMAT && strstr(err.msg, "outside 2.."));
    v.b[0] = 0x01, v.b[3] = 0x10; /* 268435457 > 100,000,000 */
    CHECK(open_buf(&v, &err) == OCTET_EFORMAT && strstr(err.msg, "outside 2.."));
    free(v.b);
}

/* Flip random bytes of a valid file: the reader must answer (any status) without a sanitizer report, and on
 * success every tensor must lie inside the buffer. */
static void test_damage(void) {
    const char *h = "{\"x\": {\"dtype\": \"F16\", \"shape\": [2, 2], \"data_offsets\": [0, 8]}, "
                    "\"y\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [8, 20]}}";
    buf v = make_st(h, 20);
    uint64_t rng = 7;
    int accepted = 0;
    for (int it = 0; it < 3000; it++) {
        buf d = {malloc(v.n), v.n};
        memcpy(d.b, v.b, v.n);
        int nflip = 1 + (int)(t_rng_next(&rng) % 3);
        for (int k = 0; k < nflip; k++) d.b[t_rng_next(&rng) % d.n] = (uint8_t)t_rng_next(&rng);
        if (t_rng_next(&rng) % 4 == 0) d.n = (size_t)(t_rng_next(&rng) % (v.n + 1));
        octet__st *st;
        octet_error err;
        if (octet__st_open_memory(&st, d.b, d.n, "d", &err) == 0) {
            accepted++;
            for (int64_t i = 0; i < octet__st_n_tensors(st); i++) {
                const octet__st_tensor *t = octet__st_tensor_at(st, i);
                CHECK((const uint8_t *)t->data >= d.b && (const uint8_t *)t->data + (t->end - t->begin) <= d.b + d.n);
            }
            octet__st_close(st);
        } else {
            CHECK(err.msg[0] != 0);
        }
        free(d.b);
    }
    CHECK(accepted > 0); /* some flips land in data bytes or spaces */
    free(v.b);
}

static void test_json(void) {
    json_t *j;
    octet_error err;
    const char *s = "{\"i\": 5, \"r\": 2.5, \"s\": \"x\", \"b\": true, \"n\": null, \"big\": 9223372036854775807}";
    CHECK(octet__json_parse(&j, s, strlen(s), 1 << 20, "c.json", &err) == 0);
    int64_t i;
    double r;
    const char *str;
    int b;
    CHECK(octet__json_get_i64(j, "i", 0, 10, &i, "c.json", &err) == 0 && i == 5);
    CHECK(octet__json_get_i64(j, "i", 6, 10, &i, "c.json", &err) == OCTET_EFORMAT && strstr(err.msg, "c.json: i: 5 is outside 6..10"));
    CHECK(octet__json_get_i64(j, "r", 0, 10, &i, "c.json", &err) == OCTET_EFORMAT && strstr(err.msg, "expected an integer, found real"));
    CHECK(octet__json_get_i64(j, "n", 0, 10, &i, "c.json", &err) == OCTET_ENOTFOUND); /* null counts as absent */
    CHECK(octet__json_get_i64(j, "zz", 0, 10, &i, "c.json", &err) == OCTET_ENOTFOUND);
    CHECK(octet__json_get_i64(j, "big", 0, INT64_MAX, &i, "c.json", &err) == 0 && i == INT64_MAX);
    CHECK(octet__json_get_f64(j, "i", &r, "c.json", &err) == 0 && r == 5.0);
    CHECK(octet__json_get_f64(j, "s", &r, "c.json", &err) == OCTET_EFORMAT && strstr(err.msg, "found string"));
    CHECK(octet__json_get_str(j, "s", &str, "c.json", &err) == 0 && strcmp(str, "x") == 0);
    CHECK(octet__json_get_bool(j, "b", &b, "c.json", &err) == 0 && b == 1);
    CHECK(octet__json_get_bool(j, "i", &b, "c.json", &err) == OCTET_EFORMAT);
    json_decref(j);
    CHECK(octet__json_parse(&j, s, strlen(s), 10, "c.json", &err) == OCTET_EFORMAT && strstr(err.msg, "exceed the limit"));
    /* integers beyond int64 (tokenizer_config.json's model_max_length) parse, as reals; strings and reals that
     * look alike are left alone; INT64_MIN/MAX stay integers */
    const char *too_big = "{\"a\": 1000000000000000019884624838656, \"b\": -99999999999999999999, "
                          "\"s\": \"12345678901234567890\\\" 99999999999999999999\", \"r\": 1.5e300, "
                          "\"l\": [9223372036854775808, -9223372036854775808, 9223372036854775807]}";
    CHECK(octet__json_parse(&j, too_big, strlen(too_big), 1 << 20, "c.json", &err) == 0);
    if (j) {
        CHECK(json_is_real(json_object_get(j, "a")) && json_real_value(json_object_get(j, "a")) == 1e30);
        CHECK(json_is_real(json_object_get(j, "b")) && json_real_value(json_object_get(j, "b")) == -1e20);
        CHECK(strcmp(json_string_value(json_object_get(j, "s")), "12345678901234567890\" 99999999999999999999") == 0);
        CHECK(json_real_value(json_object_get(j, "r")) == 1.5e300);
        const json_t *l = json_object_get(j, "l");
        CHECK(json_is_real(json_array_get(l, 0)) && json_real_value(json_array_get(l, 0)) == 9223372036854775808.0);
        CHECK(json_is_integer(json_array_get(l, 1)) && json_integer_value(json_array_get(l, 1)) == INT64_MIN);
        CHECK(json_is_integer(json_array_get(l, 2)) && json_integer_value(json_array_get(l, 2)) == INT64_MAX);
        CHECK(octet__json_get_i64(j, "a", 0, INT64_MAX, &i, "c.json", &err) == OCTET_EFORMAT &&
              strstr(err.msg, "c.json: a: 1e+30 is outside 0..") != NULL);
        CHECK(octet__json_get_f64(j, "a", &r, "c.json", &err) == 0 && r == 1e30);
        json_decref(j);
    }
    const char *bad_num = "{\"a\": 012345678901234567890}"; /* a leading zero stays invalid */
    CHECK(octet__json_parse(&j, bad_num, strlen(bad_num), 1 << 20, "c.json", &err) == OCTET_EFORMAT);
    /* nesting far beyond jansson's depth limit (2048) is refused, not a stack overflow */
    size_t depth = 100000;
    char *deep = malloc(depth + 1);
    memset(deep, '[', depth);
    deep[depth] = 0;
    CHECK(octet__json_parse(&j, deep, depth, 1 << 20, "deep.json", &err) == OCTET_EFORMAT && strstr(err.msg, "deep.json"));
    free(deep);
}

/* ---- allocation failures ------------------------------------------------------------------------------ */
static long fail_at, n_alloc;
static void *h_malloc(size_t n, void *ud) { (void)ud; return n_alloc++ == fail_at ? NULL : malloc(n); }
static void *h_calloc(size_t n, size_t s, void *ud) { (void)ud; return n_alloc++ == fail_at ? NULL : calloc(n, s); }
static void h_free(void *p, void *ud) { (void)ud; free(p); }

static void test_alloc_failures(void) {
    buf v = make_st("{\"__metadata__\": {\"a\": \"b\"}, \"x\": {\"dtype\": \"F16\", \"shape\": [2, 2], "
                    "\"data_offsets\": [0, 8]}, \"y\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [8, 20]}}",
                    20);
    octet_alloc_hooks hooks = {h_malloc, h_calloc, h_free, NULL};
    int ok = 0, enomem = 0, other = 0;
    for (fail_at = 0; fail_at < 500 && !ok; fail_at++) {
        n_alloc = 0;
        octet_set_alloc_hooks(&hooks);
        octet__st *st;
        octet_error err;
        int rc = octet__st_open_memory(&st, v.b, v.n, "a.safetensors", &err);
        octet_set_alloc_hooks(NULL);
        if (rc == 0) {
            ok = 1;
            CHECK(octet__st_n_tensors(st) == 2);
            octet__st_close(st);
        } else if (rc == OCTET_ENOMEM && st == NULL && strstr(err.msg, "a.safetensors")) {
            enomem++;
        } else {
            other++;
            fprintf(stderr, "fail_at %ld: rc %d %s\n", fail_at, rc, err.msg);
        }
    }
    CHECK(ok && other == 0);
    CHECKF(enomem >= 10, "%d allocation failures seen", enomem); /* jansson's own allocations included */
    free(v.b);
}

int main(void) {
    test_valid();
    test_rules();
    test_header_length();
    test_damage();
    test_json();
    test_alloc_failures();
    TEST_MAIN_END();
}
