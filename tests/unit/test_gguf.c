/*
 * test_gguf.c - the GGUF reader: every getter, integer-width acceptance and range rejection, alignment and tensor
 * data pointers, each validation rule (expected status and a piece of the message), the file mapping in both
 * modes, the public octet_gguf_* wrappers, an allocation-failure sweep and parse speed on a 150k-token vocabulary.
 *
 * Files are written here byte by byte (a small writer following the GGUF specification, independent of the
 * reader). With arguments `--check-dir DIR` the program instead checks every file listed in DIR/manifest.tsv
 * (written by tests/tools/make_malformed.py) against its expected outcome; tests/e2e/malformed_gguf.sh uses it.
 */
#include "test.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "core/limits.h"
#include "format/gguf.h"
#include "format/map.h"

/* ---- a GGUF writer ----------------------------------------------------------------------------------- */
typedef struct buf {
    uint8_t *b;
    size_t n, cap;
} buf;

static void put(buf *w, const void *p, size_t n) {
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->n + n) cap *= 2;
        w->b = realloc(w->b, cap);
        if (!w->b) abort();
        w->cap = cap;
    }
    if (n) memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void p_u8(buf *w, uint8_t v) { put(w, &v, 1); }
static void p_u16(buf *w, uint16_t v) { uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)}; put(w, b, 2); }
static void p_u32(buf *w, uint32_t v) {
    uint8_t b[4];
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 4);
}
static void p_u64(buf *w, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 8);
}
static void p_f32(buf *w, float f) { uint32_t u; memcpy(&u, &f, 4); p_u32(w, u); }
static void p_f64(buf *w, double f) { uint64_t u; memcpy(&u, &f, 8); p_u64(w, u); }
static void p_strn(buf *w, const char *s, size_t n) { p_u64(w, n); put(w, s, n); }
static void p_str(buf *w, const char *s) { p_strn(w, s, strlen(s)); }
static void p_key(buf *w, const char *k, uint32_t t) { p_str(w, k); p_u32(w, t); }

/* the kv section and its count, and tensor infos */
typedef struct file {
    buf kv;
    uint64_t n_kv;
    buf ti;
    uint64_t n_t;
} file;

static void kv_u32(file *f, const char *k, uint32_t v) { p_key(&f->kv, k, GGUF_TYPE_UINT32); p_u32(&f->kv, v); f->n_kv++; }
static void kv_u8(file *f, const char *k, uint8_t v) { p_key(&f->kv, k, GGUF_TYPE_UINT8); p_u8(&f->kv, v); f->n_kv++; }
static void kv_i8(file *f, const char *k, int8_t v) { p_key(&f->kv, k, GGUF_TYPE_INT8); p_u8(&f->kv, (uint8_t)v); f->n_kv++; }
static void kv_u16(file *f, const char *k, uint16_t v) { p_key(&f->kv, k, GGUF_TYPE_UINT16); p_u16(&f->kv, v); f->n_kv++; }
static void kv_i16(file *f, const char *k, int16_t v) { p_key(&f->kv, k, GGUF_TYPE_INT16); p_u16(&f->kv, (uint16_t)v); f->n_kv++; }
static void kv_i32(file *f, const char *k, int32_t v) { p_key(&f->kv, k, GGUF_TYPE_INT32); p_u32(&f->kv, (uint32_t)v); f->n_kv++; }
static void kv_u64(file *f, const char *k, uint64_t v) { p_key(&f->kv, k, GGUF_TYPE_UINT64); p_u64(&f->kv, v); f->n_kv++; }
static void kv_i64(file *f, const char *k, int64_t v) { p_key(&f->kv, k, GGUF_TYPE_INT64); p_u64(&f->kv, (uint64_t)v); f->n_kv++; }
static void kv_f32(file *f, const char *k, float v) { p_key(&f->kv, k, GGUF_TYPE_FLOAT32); p_f32(&f->kv, v); f->n_kv++; }
static void kv_f64(file *f, const char *k, double v) { p_key(&f->kv, k, GGUF_TYPE_FLOAT64); p_f64(&f->kv, v); f->n_kv++; }
static void kv_bool(file *f, const char *k, uint8_t v) { p_key(&f->kv, k, GGUF_TYPE_BOOL); p_u8(&f->kv, v); f->n_kv++; }
static void kv_str(file *f, const char *k, const char *v) { p_key(&f->kv, k, GGUF_TYPE_STRING); p_str(&f->kv, v); f->n_kv++; }
/* array header; the caller writes n elements into f->kv */
static void kv_arr(file *f, const char *k, uint32_t et, uint64_t n) {
    p_key(&f->kv, k, GGUF_TYPE_ARRAY);
    p_u32(&f->kv, et);
    p_u64(&f->kv, n);
    f->n_kv++;
}
static void tensor(file *f, const char *name, int n_dims, const uint64_t *ne, uint32_t type, uint64_t offset) {
    p_str(&f->ti, name);
    p_u32(&f->ti, (uint32_t)n_dims);
    for (int d = 0; d < n_dims; d++) p_u64(&f->ti, ne[d]);
    p_u32(&f->ti, type);
    p_u64(&f->ti, offset);
    f->n_t++;
}

/* Serialise: header (counts may be overridden with ~0 meaning "as written"), kvs, infos, padding to align,
 * then data_bytes of pattern data (byte i of the data section = (i * 7 + 3) & 255). */
static buf finish(const file *f, uint32_t version, size_t align, size_t data_bytes) {
    buf w = {0};
    put(&w, "GGUF", 4);
    p_u32(&w, version);
    p_u64(&w, f->n_t);
    p_u64(&w, f->n_kv);
    put(&w, f->kv.b, f->kv.n);
    put(&w, f->ti.b, f->ti.n);
    if (f->n_t || data_bytes) {
        while (w.n % align) p_u8(&w, 0);
        for (size_t i = 0; i < data_bytes; i++) p_u8(&w, (uint8_t)(i * 7 + 3));
    }
    return w;
}

static void file_free(file *f) {
    free(f->kv.b);
    free(f->ti.b);
    memset(f, 0, sizeof *f);
}

/* Parse w; returns the status; *out set on success (caller closes). */
static int parse(const buf *w, octet__gguf **out, octet_error *err) {
    memset(err, 0, sizeof *err);
    return octet__gguf_open_memory(out, w->b, w->n, "t.gguf", err);
}

/* Expect w to be rejected with code and a message containing sub. */
static void expect_fail_at(int line, const buf *w, int code, const char *sub) {
    octet__gguf *g = NULL;
    octet_error err;
    int rc = parse(w, &g, &err);
    t_checks++;
    if (rc != code || !strstr(err.msg, sub) || g != NULL || err.code != code ||
        strncmp(err.msg, "t.gguf: ", 8) != 0) {
        t_failed++;
        fprintf(stderr, "test_gguf.c:%d: expected %d containing '%s', got %d: %s\n", line, code, sub, rc, err.msg);
    }
    octet__gguf_close(g);
}
#define expect_fail(w, code, sub) expect_fail_at(__LINE__, w, code, sub)

/* A one-tensor file (F32 [8, 2] at offset 0) with the given kv section. */
static buf one_tensor(file *f, uint32_t version) {
    uint64_t ne[2] = {8, 2};
    tensor(f, "w", 2, ne, 0, 0);
    return finish(f, version, 32, 64);
}

/* ---- getters ----------------------------------------------------------------------------------------- */
static void test_getters(void) {
    file f = {0};
    kv_u8(&f, "a.u8", 200);
    kv_i8(&f, "a.i8", -100);
    kv_u16(&f, "a.u16", 60000);
    kv_i16(&f, "a.i16", -30000);
    kv_u32(&f, "a.u32", 4000000000u);
    kv_i32(&f, "a.i32", -5);
    kv_u64(&f, "a.u64_small", 77);
    kv_u64(&f, "a.u64_big", 1ull << 63);
    kv_i64(&f, "a.i64", 123456789012345ll);
    kv_i64(&f, "a.i64_fits32", 4294967295ll);
    kv_f32(&f, "a.f32", 0.25f);
    kv_f64(&f, "a.f64", 1.5);
    kv_f64(&f, "a.f64_big", 1e300);
    kv_bool(&f, "a.true", 1);
    kv_bool(&f, "a.false", 0);
    kv_str(&f, "a.str", "hello \"x\"\n");
    kv_arr(&f, "a.arr_i32", GGUF_TYPE_INT32, 3);
    p_u32(&f.kv, 1); p_u32(&f.kv, (uint32_t)-2); p_u32(&f.kv, 3);
    kv_arr(&f, "a.arr_u8", GGUF_TYPE_UINT8, 4);
    for (int i = 0; i < 4; i++) p_u8(&f.kv, (uint8_t)(250 + i));
    kv_arr(&f, "a.arr_i64_big", GGUF_TYPE_INT64, 2);
    p_u64(&f.kv, 5); p_u64(&f.kv, 1ull << 40);
    kv_arr(&f, "a.arr_f32", GGUF_TYPE_FLOAT32, 2);
    p_f32(&f.kv, -1.5f); p_f32(&f.kv, 2.0f);
    kv_arr(&f, "a.arr_f64", GGUF_TYPE_FLOAT64, 2);
    p_f64(&f.kv, 0.125); p_f64(&f.kv, -3.0);
    kv_arr(&f, "a.arr_str", GGUF_TYPE_STRING, 3);
    p_str(&f.kv, "one"); p_str(&f.kv, ""); p_str(&f.kv, "three");
    kv_arr(&f, "a.nested", GGUF_TYPE_ARRAY, 2);
    p_u32(&f.kv, GGUF_TYPE_INT16); p_u64(&f.kv, 2); p_u16(&f.kv, 7); p_u16(&f.kv, (uint16_t)-7);
    p_u32(&f.kv, GGUF_TYPE_STRING); p_u64(&f.kv, 1); p_str(&f.kv, "in");
    kv_arr(&f, "a.empty", GGUF_TYPE_FLOAT64, 0);
    buf w = one_tensor(&f, 3);

    octet__gguf *g;
    octet_error err;
    CHECKF(parse(&w, &g, &err) == 0, "%s", err.msg);
    if (!g) goto done;
    CHECK(octet__gguf_version(g) == 3);
    CHECK(octet__gguf_n_kv(g) == (int64_t)f.n_kv);
    CHECK(octet__gguf_find_kv(g, "a.str") == 15);
    CHECK(octet__gguf_find_kv(g, "a.st") == -1);
    CHECK(octet__gguf_find_kv(g, "nope") == -1);
    CHECK(strcmp(octet__gguf_kv_at(g, 0)->key_z, "a.u8") == 0);
    CHECK(octet__gguf_kv_at(g, -1) == NULL && octet__gguf_kv_at(g, (int64_t)f.n_kv) == NULL);

    uint32_t u = 0;
    int64_t s = 0;
    /* any integer width whose value fits */
    CHECK(octet__gguf_get_u32(g, "a.u8", &u, &err) == 0 && u == 200);
    CHECK(octet__gguf_get_u32(g, "a.u16", &u, &err) == 0 && u == 60000);
    CHECK(octet__gguf_get_u32(g, "a.u32", &u, &err) == 0 && u == 4000000000u);
    CHECK(octet__gguf_get_u32(g, "a.u64_small", &u, &err) == 0 && u == 77);
    CHECK(octet__gguf_get_u32(g, "a.i64_fits32", &u, &err) == 0 && u == 4294967295u);
    CHECK(octet__gguf_get_u32(g, "a.true", &u, &err) == 0 && u == 1);
    CHECK(octet__gguf_get_i64(g, "a.i8", &s, &err) == 0 && s == -100);
    CHECK(octet__gguf_get_i64(g, "a.i16", &s, &err) == 0 && s == -30000);
    CHECK(octet__gguf_get_i64(g, "a.i32", &s, &err) == 0 && s == -5);
    CHECK(octet__gguf_get_i64(g, "a.i64", &s, &err) == 0 && s == 123456789012345ll);
    CHECK(octet__gguf_get_i64(g, "a.u32", &s, &err) == 0 && s == 4000000000ll);
    /* range rejection */
    u = 42;
    CHECK(octet__gguf_get_u32(g, "a.i32", &u, &err) == OCTET_EFORMAT && strstr(err.msg, "a.i32") &&
          strstr(err.msg, "negative") && u == 42);
    CHECK(octet__gguf_get_u32(g, "a.i8", &u, &err) == OCTET_EFORMAT && strstr(err.msg, "-100"));
    CHECK(octet__gguf_get_u32(g, "a.i64", &u, &err) == OCTET_EFORMAT && strstr(err.msg, "does not fit uint32"));
    CHECK(octet__gguf_get_u32(g, "a.u64_big", &u, &err) == OCTET_EFORMAT);
    CHECK(octet__gguf_get_i64(g, "a.u64_big", &s, &err) == OCTET_EFORMAT && strstr(err.msg, "does not fit int64"));
    /* wrong kinds */
    CHECK(octet__gguf_get_u32(g, "a.str", &u, &err) == OCTET_EFORMAT && strstr(err.msg, "string where an integer"));
    CHECK(octet__gguf_get_u32(g, "a.f32", &u, &err) == OCTET_EFORMAT);
    CHECK(octet__gguf_get_u32(g, "a.arr_i32", &u, &err) == OCTET_EFORMAT && strstr(err.msg, "array of int32"));
    /* absent: ENOTFOUND, err untouched */
    err.code = 12345;
    strcpy(err.msg, "sentinel");
    CHECK(octet__gguf_get_u32(g, "a.missing", &u, &err) == OCTET_ENOTFOUND && err.code == 12345 &&
          strcmp(err.msg, "sentinel") == 0);
    CHECK(octet__gguf_get_i64(g, "a.missing", &s, &err) == OCTET_ENOTFOUND);

    float fl = 0;
    CHECK(octet__gguf_get_f32(g, "a.f32", &fl, &err) == 0 && fl == 0.25f);
    CHECK(octet__gguf_get_f32(g, "a.f64", &fl, &err) == 0 && fl == 1.5f);
    CHECK(octet__gguf_get_f32(g, "a.f64_big", &fl, &err) == OCTET_EFORMAT && strstr(err.msg, "does not fit float32"));
    CHECK(octet__gguf_get_f32(g, "a.u32", &fl, &err) == OCTET_EFORMAT && strstr(err.msg, "uint32 where a float"));
    CHECK(octet__gguf_get_f32(g, "a.missing", &fl, &err) == OCTET_ENOTFOUND);

    int b = -1;
    CHECK(octet__gguf_get_bool(g, "a.true", &b, &err) == 0 && b == 1);
    CHECK(octet__gguf_get_bool(g, "a.false", &b, &err) == 0 && b == 0);
    CHECK(octet__gguf_get_bool(g, "a.u8", &b, &err) == OCTET_EFORMAT && strstr(err.msg, "not a bool"));
    CHECK(octet__gguf_get_bool(g, "a.str", &b, &err) == OCTET_EFORMAT && strstr(err.msg, "where a bool"));

    octet__str str;
    CHECK(octet__gguf_get_str(g, "a.str", &str, &err) == 0 && str.len == 10 && memcmp(str.ptr, "hello \"x\"\n", 10) == 0);
    CHECK(octet__gguf_get_str(g, "a.u8", &str, &err) == OCTET_EFORMAT && strstr(err.msg, "uint8 where a string"));
    CHECK(octet__gguf_get_str(g, "a.missing", &str, &err) == OCTET_ENOTFOUND);

    /* arrays of an exact element type */
    uint64_t n = 0;
    const void *data = NULL;
    CHECK(octet__gguf_get_arr(g, "a.arr_i32", GGUF_TYPE_INT32, &n, &data, &err) == 0 && n == 3);
    if (data) {
        int32_t v[3];
        memcpy(v, data, sizeof v); /* packed, possibly unaligned */
        CHECK(v[0] == 1 && v[1] == -2 && v[2] == 3);
    }
    CHECK(octet__gguf_get_arr(g, "a.arr_i32", GGUF_TYPE_FLOAT32, &n, &data, &err) == OCTET_EFORMAT &&
          strstr(err.msg, "array of int32 where an array of float32 was expected"));
    CHECK(octet__gguf_get_arr(g, "a.arr_i32", GGUF_TYPE_UINT32, &n, &data, &err) == OCTET_EFORMAT);
    CHECK(octet__gguf_get_arr(g, "a.arr_str", GGUF_TYPE_STRING, &n, &data, &err) == OCTET_EINVAL);
    CHECK(octet__gguf_get_arr(g, "a.u32", GGUF_TYPE_UINT32, &n, &data, &err) == OCTET_EFORMAT &&
          strstr(err.msg, "where an array was expected"));
    CHECK(octet__gguf_get_arr(g, "a.missing", GGUF_TYPE_UINT32, &n, &data, &err) == OCTET_ENOTFOUND);
    CHECK(octet__gguf_get_arr(g, "a.empty", GGUF_TYPE_FLOAT64, &n, &data, &err) == 0 && n == 0);

    octet__str *sv = NULL;
    CHECK(octet__gguf_get_str_arr(g, "a.arr_str", &sv, &n, &err) == 0 && n == 3);
    if (sv) {
        CHECK(sv[0].len == 3 && memcmp(sv[0].ptr, "one", 3) == 0);
        CHECK(sv[1].len == 0);
        CHECK(sv[2].len == 5 && memcmp(sv[2].ptr, "three", 5) == 0);
        octet__free(sv);
    }
    sv = NULL;
    CHECK(octet__gguf_get_str_arr(g, "a.arr_i32", &sv, &n, &err) == OCTET_EFORMAT && sv == NULL &&
          strstr(err.msg, "array of int32 where an array of string"));
    CHECK(octet__gguf_get_str_arr(g, "a.str", &sv, &n, &err) == OCTET_EFORMAT);

    int32_t *iv = NULL;
    CHECK(octet__gguf_get_i32_arr(g, "a.arr_u8", &iv, &n, &err) == 0 && n == 4 && iv && iv[0] == 250 && iv[3] == 253);
    octet__free(iv);
    iv = NULL;
    CHECK(octet__gguf_get_i32_arr(g, "a.arr_i32", &iv, &n, &err) == 0 && iv && iv[1] == -2);
    octet__free(iv);
    iv = NULL;
    CHECK(octet__gguf_get_i32_arr(g, "a.arr_i64_big", &iv, &n, &err) == OCTET_EFORMAT && iv == NULL &&
          strstr(err.msg, "element 1") && strstr(err.msg, "1099511627776 does not fit int32"));
    CHECK(octet__gguf_get_i32_arr(g, "a.arr_f32", &iv, &n, &err) == OCTET_EFORMAT);

    float *fv = NULL;
    CHECK(octet__gguf_get_f32_arr(g, "a.arr_f32", &fv, &n, &err) == 0 && n == 2 && fv && fv[0] == -1.5f && fv[1] == 2.0f);
    octet__free(fv);
    fv = NULL;
    CHECK(octet__gguf_get_f32_arr(g, "a.arr_f64", &fv, &n, &err) == 0 && n == 2 && fv && fv[0] == 0.125f && fv[1] == -3.0f);
    octet__free(fv);
    CHECK(octet__gguf_get_f32_arr(g, "a.arr_i32", &fv, &n, &err) == OCTET_EFORMAT);

    /* rendering */
    char rb[256];
    struct { const char *key, *want; } rv[] = {
        {"a.u8", "200"}, {"a.i8", "-100"}, {"a.i32", "-5"}, {"a.u64_big", "9223372036854775808"},
        {"a.f32", "0.25"}, {"a.true", "true"}, {"a.false", "false"}, {"a.str", "\"hello \\\"x\\\"\\n\""},
        {"a.arr_i32", "[int32 x 3] {1, -2, 3}"}, {"a.arr_str", "[string x 3] {\"one\", \"\", \"three\"}"},
        {"a.nested", "[array x 2] {[int16 x 2] {7, -7}, [string x 1] {\"in\"}}"}, {"a.empty", "[float64 x 0]"},
    };
    for (size_t i = 0; i < sizeof rv / sizeof rv[0]; i++) {
        octet__gguf_value_str(g, octet__gguf_find_kv(g, rv[i].key), rb, sizeof rb);
        CHECKF(strcmp(rb, rv[i].want) == 0, "%s rendered as '%s', want '%s'", rv[i].key, rb, rv[i].want);
    }
    /* small buffers truncate and stay terminated */
    char tiny[6];
    memset(tiny, 'Z', sizeof tiny);
    octet__gguf_value_str(g, octet__gguf_find_kv(g, "a.arr_str"), tiny, sizeof tiny);
    CHECK(tiny[5] == 0 && strlen(tiny) == 5);
    octet__gguf_value_str(g, 9999, rb, sizeof rb);
    CHECK(rb[0] == 0);
    CHECK(strcmp(octet__gguf_type_name(GGUF_TYPE_FLOAT64), "float64") == 0);
    CHECK(strcmp(octet__gguf_type_name(99), "unknown") == 0);
    octet__gguf_close(g);
done:
    free(w.b);
    file_free(&f);
}

/* ---- tensors and alignment --------------------------------------------------------------------------- */
static void test_tensors(void) {
    /* alignment 64 stored as uint8; F32 [4, 3] (48 bytes) at 0, Q8_0 [64, 2] (136 bytes) at 64, F16 [2] at 256 */
    for (int variant = 0; variant < 2; variant++) {
        file f = {0};
        size_t align = variant ? 64 : 32;
        if (variant) kv_u8(&f, "general.alignment", 64);
        else kv_str(&f, "general.name", "default alignment");
        uint64_t a[2] = {4, 3}, b[2] = {64, 2}, c[1] = {2};
        tensor(&f, "a", 2, a, 0, 0);
        tensor(&f, "blk.0.b", 2, b, 8, align == 64 ? 64 : 64);
        tensor(&f, "c", 1, c, 1, 256);
        buf w = finish(&f, 2, align, 260);
        octet__gguf *g;
        octet_error err;
        CHECKF(parse(&w, &g, &err) == 0, "%s", err.msg);
        if (g) {
            CHECK(octet__gguf_version(g) == 2);
            CHECK(octet__gguf_alignment(g) == align);
            uint64_t d0 = octet__gguf_data_offset(g);
            CHECK(d0 % align == 0 && d0 >= w.n - 260 && d0 < w.n - 260 + align);
            CHECK(d0 == w.n - 260);
            CHECK(octet__gguf_n_tensors(g) == 3);
            const octet__gguf_tensor *t = octet__gguf_find_tensor(g, "blk.0.b");
            CHECK(t && t == octet__gguf_tensor_at(g, 1));
            if (t) {
                CHECK(t->n_dims == 2 && t->ne[0] == 64 && t->ne[1] == 2 && t->ne[2] == 1 && t->ne[3] == 1);
                CHECK(t->type == 8 && t->n_elements == 128 && t->n_bytes == 136 && t->offset == 64);
                CHECK((const uint8_t *)t->data == (const uint8_t *)octet__gguf_base(g) + d0 + 64);
                CHECK(((const uint8_t *)t->data)[0] == (uint8_t)(64 * 7 + 3));
                CHECK(strcmp(t->name_z, "blk.0.b") == 0 && t->name.len == 7);
            }
            t = octet__gguf_find_tensor(g, "a");
            CHECK(t && t->n_bytes == 48 && t->n_elements == 12 && ((const uint8_t *)t->data)[5] == 38);
            t = octet__gguf_find_tensor(g, "c");
            CHECK(t && t->n_bytes == 4 && t->n_dims == 1 && t->ne[1] == 1);
            CHECK(octet__gguf_find_tensor(g, "blk.0") == NULL && octet__gguf_find_tensor(g, "d") == NULL);
            CHECK(octet__gguf_tensor_at(g, 3) == NULL && octet__gguf_tensor_at(g, -1) == NULL);
            CHECK(octet__gguf_file_size(g) == w.n);
            octet__gguf_close(g);
        }
        free(w.b);
        file_free(&f);
    }
    /* a file with no tensors and no padding, and one with nothing at all */
    file f = {0};
    kv_u32(&f, "x", 1);
    buf w = finish(&f, 3, 32, 0);
    octet__gguf *g;
    octet_error err;
    CHECKF(parse(&w, &g, &err) == 0, "%s", err.msg);
    if (g) {
        CHECK(octet__gguf_n_tensors(g) == 0 && octet__gguf_find_tensor(g, "x") == NULL);
        CHECK(octet__gguf_data_offset(g) <= w.n);
        octet__gguf_close(g);
    }
    free(w.b);
    file_free(&f);
    w = finish(&f, 3, 32, 0);
    CHECKF(parse(&w, &g, &err) == 0, "%s", err.msg);
    if (g) {
        CHECK(octet__gguf_n_kv(g) == 0 && octet__gguf_find_kv(g, "x") == -1);
        octet__gguf_close(g);
    }
    free(w.b);
}

/* ---- every validation rule --------------------------------------------------------------------------- */
static void test_header_rules(void) {
    file f = {0};
    kv_u32(&f, "k", 1);
    buf w = one_tensor(&f, 3);
    octet__gguf *g;
    octet_error err;
    CHECKF(parse(&w, &g, &err) == 0, "%s", err.msg);
    octet__gguf_close(g);

    buf c = {0};
    put(&c, w.b, w.n);
    c.n = 23;
    expect_fail(&c, OCTET_EFORMAT, "smaller than the 24-byte GGUF header");
    c.n = w.n;
    c.b[0] = 'X';
    expect_fail(&c, OCTET_EFORMAT, "magic: bytes 58 47 55 46 are not \"GGUF\"");
    memcpy(c.b, "tjgg", 4);
    expect_fail(&c, OCTET_EUNSUPPORTED, "legacy");
    memcpy(c.b, "GGUF", 4);
    uint32_t versions[] = {0, 1, 4, 0x03000000u};
    int codes[] = {OCTET_EFORMAT, OCTET_EUNSUPPORTED, OCTET_EUNSUPPORTED, OCTET_EUNSUPPORTED};
    const char *subs[] = {"version: 0 is not", "version 1 (32-bit counts)", "version: 4 is newer", "big-endian"};
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) c.b[4 + j] = (uint8_t)(versions[i] >> (8 * j));
        expect_fail(&c, codes[i], subs[i]);
    }
    memcpy(c.b + 4, w.b + 4, 4);
    /* counts: n_tensors at 8, n_kv at 16 */
    uint64_t big[] = {1ull << 63, ~0ull, OCTET_MAX_GGUF_TENSORS + 1ull};
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 8; j++) c.b[8 + j] = (uint8_t)(big[i] >> (8 * j));
        expect_fail(&c, OCTET_EFORMAT, "n_tensors: ");
        expect_fail(&c, OCTET_EFORMAT, "exceeds the limit of 65536");
    }
    memcpy(c.b + 8, w.b + 8, 8);
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 8; j++) c.b[16 + j] = (uint8_t)(big[i] >> (8 * j));
        expect_fail(&c, OCTET_EFORMAT, "n_kv: ");
    }
    /* within the limit but more than the file can hold */
    c.b[16] = 100; for (int j = 1; j < 8; j++) c.b[16 + j] = 0;
    expect_fail(&c, OCTET_EFORMAT, "n_kv: 100 pairs need at least 1400 bytes");
    memcpy(c.b + 16, w.b + 16, 8);
    c.b[8] = 50;
    expect_fail(&c, OCTET_EFORMAT, "n_tensors: 50 tensor infos");
    free(c.b);
    free(w.b);
    file_free(&f);
}

static void test_kv_rules(void) {
    file f;
    buf w;
#define KV_CASE(setup, code, sub)                                                                                    \
    do {                                                                                                             \
        memset(&f, 0, sizeof f);                                                                                     \
        setup;                                                                                                       \
        w = one_tensor(&f, 3);                                                                                       \
        expect_fail(&w, code, sub);                                                                                  \
        free(w.b);                                                                                                   \
        file_free(&f);                                                                                               \
    } while (0)
    /* key length beyond the file, beyond the key limit; empty and non-ASCII keys */
    KV_CASE((p_u64(&f.kv, 1ull << 62), f.n_kv = 1), OCTET_EFORMAT, "kv[0]: key: string length 4611686018427387904 exceeds the limit");
    KV_CASE((p_u64(&f.kv, 60000), put(&f.kv, "k", 1), f.n_kv = 1), OCTET_EFORMAT, "kv[0]: key: string length 60000 exceeds the");
    KV_CASE((p_key(&f.kv, "", 4), p_u32(&f.kv, 1), f.n_kv = 1), OCTET_EFORMAT, "kv[0]: key: empty key");
    KV_CASE((kv_u32(&f, "a\tb", 1)), OCTET_EFORMAT, "byte 0x09 at position 1 is not printable");
    KV_CASE((kv_u32(&f, "caf\xc3\xa9", 1)), OCTET_EFORMAT, "byte 0xc3");
    /* duplicates */
    KV_CASE((kv_u32(&f, "a", 1), kv_u32(&f, "b", 1), kv_str(&f, "a", "x")), OCTET_EFORMAT,
            "kv[2] 'a': duplicate key (first defined at kv[0])");
    /* unknown value types */
    KV_CASE((p_key(&f.kv, "t", 13), p_u8(&f.kv, 0), f.n_kv = 1), OCTET_EFORMAT, "kv[0] 't': value type: 13 is not a GGUF value type");
    KV_CASE((p_key(&f.kv, "t", 0xffffffffu), p_u8(&f.kv, 0), f.n_kv = 1), OCTET_EFORMAT, "4294967295 is not a GGUF value type");
    /* string value longer than what is left, and longer than the string limit */
    KV_CASE((p_key(&f.kv, "s", GGUF_TYPE_STRING), p_u64(&f.kv, 1000), f.n_kv = 1), OCTET_EFORMAT,
            "kv[0] 's': value: string length 1000 exceeds the");
    KV_CASE((p_key(&f.kv, "s", GGUF_TYPE_STRING), p_u64(&f.kv, OCTET_MAX_GGUF_STRING_BYTES + 1ull), f.n_kv = 1),
            OCTET_EFORMAT, "exceeds the limit of 1048576 bytes");
    /* bool other than 0/1, scalar and in an array */
    KV_CASE((kv_bool(&f, "b", 2)), OCTET_EFORMAT, "kv[0] 'b': value: bool value 2 is neither 0 nor 1");
    KV_CASE((kv_arr(&f, "b", GGUF_TYPE_BOOL, 3), p_u8(&f.kv, 1), p_u8(&f.kv, 0), p_u8(&f.kv, 255)), OCTET_EFORMAT,
            "element 2: bool value 255");
    /* arrays: element type, count limit, count x size beyond the file, nesting */
    KV_CASE((kv_arr(&f, "a", 13, 0)), OCTET_EFORMAT, "array element type 13 is not a GGUF value type");
    KV_CASE((kv_arr(&f, "a", GGUF_TYPE_UINT8, OCTET_MAX_GGUF_ARRAY_ELEMENTS + 1)), OCTET_EFORMAT,
            "array of 268435457 elements exceeds the limit");
    KV_CASE((kv_arr(&f, "a", GGUF_TYPE_UINT64, 1ull << 60)), OCTET_EFORMAT, "exceeds the limit");
    KV_CASE((kv_arr(&f, "a", GGUF_TYPE_UINT64, 1000)), OCTET_EFORMAT, "1000 elements of uint64 need 8000 bytes");
    KV_CASE((kv_arr(&f, "a", GGUF_TYPE_STRING, 100000)), OCTET_EFORMAT, "100000 strings need at least 800000 bytes");
    KV_CASE((kv_arr(&f, "a", GGUF_TYPE_ARRAY, 100000)), OCTET_EFORMAT, "100000 nested arrays need at least");
    KV_CASE((kv_arr(&f, "a", GGUF_TYPE_STRING, 2), p_str(&f.kv, "ok"), p_u64(&f.kv, ~0ull)), OCTET_EFORMAT,
            "kv[0] 'a': value: element 1: string length 18446744073709551615 exceeds the limit");
    /* depth: 4 levels are fine (checked below), 5 are not */
    KV_CASE((kv_arr(&f, "a", GGUF_TYPE_ARRAY, 1), p_u32(&f.kv, GGUF_TYPE_ARRAY), p_u64(&f.kv, 1),
             p_u32(&f.kv, GGUF_TYPE_ARRAY), p_u64(&f.kv, 1), p_u32(&f.kv, GGUF_TYPE_ARRAY), p_u64(&f.kv, 1),
             p_u32(&f.kv, GGUF_TYPE_UINT8), p_u64(&f.kv, 0)),
            OCTET_EFORMAT, "arrays nested deeper than 4 levels");
    /* truncated inside a value */
    KV_CASE((p_key(&f.kv, "x", GGUF_TYPE_UINT64), p_u32(&f.kv, 0), f.n_kv = 1, f.n_t = 0), OCTET_EFORMAT, "");
    /* general.alignment */
    KV_CASE((kv_u32(&f, "general.alignment", 0)), OCTET_EFORMAT, "'general.alignment': alignment 0 is not a power of two");
    KV_CASE((kv_u32(&f, "general.alignment", 3)), OCTET_EFORMAT, "alignment 3 is not a power of two");
    KV_CASE((kv_u64(&f, "general.alignment", 96)), OCTET_EFORMAT, "alignment 96 is not a power of two");
    KV_CASE((kv_i8(&f, "general.alignment", -32)), OCTET_EFORMAT, "alignment -32 is negative");
    KV_CASE((kv_u64(&f, "general.alignment", 1ull << 17)), OCTET_EFORMAT, "alignment 131072 exceeds the limit");
    KV_CASE((kv_str(&f, "general.alignment", "32")), OCTET_EFORMAT, "type string is not an integer");
    KV_CASE((kv_f32(&f, "general.alignment", 32.0f)), OCTET_EFORMAT, "type float32 is not an integer");
    KV_CASE((kv_bool(&f, "general.alignment", 1)), OCTET_EFORMAT, "type bool is not an integer");
#undef KV_CASE

    /* a truncated value: the exact message */
    memset(&f, 0, sizeof f);
    p_key(&f.kv, "x", GGUF_TYPE_UINT64);
    p_u32(&f.kv, 0);
    f.n_kv = 1;
    w = finish(&f, 3, 32, 0);
    w.b[16] = 1; /* n_kv stays 1; the file is 24 + 13 + 4 bytes: just enough for the header bound */
    expect_fail(&w, OCTET_EFORMAT, "kv[0] 'x': value: truncated: needs 8 bytes at offset 37 but the file ends at 41");
    free(w.b);
    file_free(&f);

    /* depth 4 accepted; alignment 1 and 65536 accepted */
    memset(&f, 0, sizeof f);
    kv_arr(&f, "a", GGUF_TYPE_ARRAY, 1);
    p_u32(&f.kv, GGUF_TYPE_ARRAY); p_u64(&f.kv, 1);
    p_u32(&f.kv, GGUF_TYPE_ARRAY); p_u64(&f.kv, 2);
    p_u32(&f.kv, GGUF_TYPE_UINT8); p_u64(&f.kv, 1); p_u8(&f.kv, 9);
    p_u32(&f.kv, GGUF_TYPE_STRING); p_u64(&f.kv, 0);
    kv_u32(&f, "general.alignment", 1);
    w = one_tensor(&f, 3);
    octet__gguf *g;
    octet_error err;
    CHECKF(parse(&w, &g, &err) == 0, "%s", err.msg);
    if (g) {
        CHECK(octet__gguf_alignment(g) == 1);
        char rb[128];
        octet__gguf_value_str(g, 0, rb, sizeof rb);
        CHECKF(strcmp(rb, "[array x 1] {[array x 1] {[array x 2] {[uint8 x 1] {9}, [string x 0]}}}") == 0, "%s", rb);
        octet__gguf_close(g);
    }
    free(w.b);
    file_free(&f);
}

static void test_tensor_rules(void) {
    file f;
    buf w;
    /* each case: a kv section with the default alignment, one or two tensor infos, data_bytes of data */
#define T_CASE(setup, data_bytes, code, sub)                                                                        \
    do {                                                                                                            \
        memset(&f, 0, sizeof f);                                                                                    \
        kv_u32(&f, "k", 1);                                                                                         \
        setup;                                                                                                      \
        w = finish(&f, 3, 32, data_bytes);                                                                          \
        expect_fail(&w, code, sub);                                                                                 \
        free(w.b);                                                                                                  \
        file_free(&f);                                                                                              \
    } while (0)
    uint64_t ne1[1] = {8}, ne2[2] = {32, 4}, ne5[5] = {8, 1, 1, 1, 1};
    uint64_t zero[2] = {8, 0}, huge[1] = {(1ull << 40) + 1}, max[1] = {~0ull};
    uint64_t ovf[3] = {1ull << 40, 1ull << 22, 4}, bytes_ovf[2] = {1ull << 40, 1ull << 22};
    uint64_t odd_row[2] = {48, 2}, big_f32[2] = {1ull << 40, 1ull << 20};
    T_CASE(tensor(&f, "w", 0, ne1, 0, 0), 64, OCTET_EFORMAT, "tensor[0] 'w': n_dims: 0 is outside 1..4");
    T_CASE(tensor(&f, "w", 5, ne5, 0, 0), 64, OCTET_EFORMAT, "n_dims: 5 is outside 1..4");
    T_CASE(tensor(&f, "w", 2, zero, 0, 0), 64, OCTET_EFORMAT, "tensor[0] 'w': ne[1]: dimension is 0");
    T_CASE(tensor(&f, "w", 1, huge, 0, 0), 64, OCTET_EFORMAT, "ne[0]: dimension 1099511627777 exceeds the limit");
    T_CASE(tensor(&f, "w", 1, max, 0, 0), 64, OCTET_EFORMAT, "exceeds the limit");
    T_CASE(tensor(&f, "w", 3, ovf, 0, 0), 64, OCTET_EFORMAT, "ne[2]: element count overflows int64");
    T_CASE(tensor(&f, "w", 2, bytes_ovf, 0, 0), 64, OCTET_EFORMAT, "tensor[0] 'w': byte size overflows int64");
    T_CASE(tensor(&f, "w", 2, big_f32, 0, 0), 64, OCTET_EFORMAT, "ends beyond the data section of 64 bytes");
    T_CASE(tensor(&f, "w", 1, ne1, 40, 0), 64, OCTET_EFORMAT, "type: 40 is not a GGML type id");
    T_CASE(tensor(&f, "w", 1, ne1, 0xffffffffu, 0), 64, OCTET_EFORMAT, "4294967295 is not a GGML type id");
    T_CASE(tensor(&f, "w", 1, ne1, 4, 0), 64, OCTET_EUNSUPPORTED, "type: GGML type id 4 is not supported");
    T_CASE(tensor(&f, "w", 2, odd_row, 8, 0), 256, OCTET_EFORMAT, "ne[0]: row length 48 is not a multiple of the Q8_0 block size 32");
    T_CASE(tensor(&f, "w", 1, ne1, 0, 16), 64, OCTET_EFORMAT, "offset: 16 is not a multiple of the alignment 32");
    T_CASE(tensor(&f, "w", 1, ne1, 0, 1ull << 63), 64, OCTET_EFORMAT, "ends beyond the data section");
    T_CASE(tensor(&f, "w", 1, ne1, 0, ~0ull - 31), 64, OCTET_EFORMAT, "ends beyond the data section");
    T_CASE(tensor(&f, "w", 1, ne1, 0, 64), 64, OCTET_EFORMAT, "offset: data [64, +32) ends beyond the data section of 64");
    T_CASE(tensor(&f, "w", 2, ne2, 0, 0), 511, OCTET_EFORMAT, "[0, +512) ends beyond the data section of 511 bytes");
    /* tensor infos present, file ends before the data section starts (padding cut off) */
    memset(&f, 0, sizeof f);
    kv_u32(&f, "k", 1);
    tensor(&f, "w", 1, ne1, 0, 0);
    w = finish(&f, 3, 32, 64);
    CHECK((24 + f.kv.n + f.ti.n) % 32 != 0);
    w.n = 24 + f.kv.n + f.ti.n;
    expect_fail(&w, OCTET_EFORMAT, "data section: starts at offset 96 (after padding to 32) beyond the end of the file");
    free(w.b);
    file_free(&f);
    T_CASE((tensor(&f, "a", 1, ne1, 0, 0), tensor(&f, "b", 2, ne2, 0, 0)), 1024, OCTET_EFORMAT,
           "tensor[1] 'b': offset: data at 0 overlaps tensor[0] 'a' [0, +32)");
    T_CASE((tensor(&f, "a", 2, ne2, 0, 0), tensor(&f, "b", 1, ne1, 0, 480)), 1024, OCTET_EFORMAT,
           "tensor[1] 'b': offset: data at 480 overlaps tensor[0] 'a'");
    T_CASE((tensor(&f, "a", 1, ne1, 0, 0), tensor(&f, "a", 1, ne1, 0, 32)), 64, OCTET_EFORMAT,
           "tensor[1] 'a': duplicate tensor name (first at tensor[0])");
    T_CASE(tensor(&f, "", 1, ne1, 0, 0), 64, OCTET_EFORMAT, "tensor[0]: name: empty tensor name");
    T_CASE(tensor(&f, "0123456789012345678901234567890123456789012345678901234567890123456789", 1, ne1, 0, 0), 64,
           OCTET_EFORMAT, "tensor[0]: name: string length 70 exceeds the limit of 64 bytes");
    T_CASE((p_strn(&f.ti, "a\0b", 3), p_u32(&f.ti, 1), p_u64(&f.ti, 8), p_u32(&f.ti, 0), p_u64(&f.ti, 0), f.n_t = 1),
           64, OCTET_EFORMAT, "name: contains a NUL byte");
    T_CASE((p_u64(&f.ti, 1ull << 62), f.n_t = 1, put(&f.ti, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 32)), 0,
           OCTET_EFORMAT, "tensor[0]: name: string length 4611686018427387904 exceeds the limit of 64");
#undef T_CASE
    /* 64-byte names are accepted; tensors sharing no bytes but adjacent are accepted */
    memset(&f, 0, sizeof f);
    tensor(&f, "0123456789012345678901234567890123456789012345678901234567890123", 1, ne1, 0, 0);
    tensor(&f, "b", 1, ne1, 0, 32);
    w = finish(&f, 3, 32, 64);
    octet__gguf *g;
    octet_error err;
    CHECKF(parse(&w, &g, &err) == 0, "%s", err.msg);
    octet__gguf_close(g);
    free(w.b);
    file_free(&f);
    /* NULL buffer */
    CHECK(octet__gguf_open_memory(&g, NULL, 10, "x", &err) == OCTET_EINVAL && g == NULL);
    CHECK(octet__gguf_open_memory(&g, NULL, 0, NULL, &err) == OCTET_EFORMAT && strstr(err.msg, "memory: header"));
}

/* ---- files, mapping, public API ---------------------------------------------------------------------- */
static void test_files(void) {
    file f = {0};
    kv_str(&f, "general.name", "files");
    uint64_t ne[2] = {32, 3};
    tensor(&f, "q", 2, ne, 8, 0);      /* Q8_0, 3 rows x 34 bytes = 102 */
    tensor(&f, "n", 1, ne, 0, 128);    /* F32 [32] = 128 bytes */
    buf w = finish(&f, 3, 32, 256);
    char path[] = "/tmp/octet_test_gguf_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) goto out;
    CHECK(write(fd, w.b, w.n) == (ssize_t)w.n);
    close(fd);
    for (int mm = 0; mm < 2; mm++) {
        octet__gguf *g;
        octet_error err;
        CHECKF(octet__gguf_open(&g, path, mm, &err) == 0, "%s", err.msg);
        if (!g) continue;
        CHECK(strcmp(octet__gguf_path(g), path) == 0);
        CHECK(octet__gguf_file_size(g) == w.n);
        CHECK(memcmp(octet__gguf_base(g), w.b, w.n) == 0);
        CHECK((uintptr_t)octet__gguf_base(g) % 4096 == 0); /* mapping or 4096-aligned heap copy */
        const octet__gguf_tensor *t = octet__gguf_find_tensor(g, "n");
        CHECK(t && ((uintptr_t)t->data % 32) == 0 && memcmp(t->data, w.b + octet__gguf_data_offset(g) + 128, 128) == 0);
        int rc = octet__gguf_mlock(g, &err);
        CHECKF(rc == 0 || (rc == OCTET_EIO && strstr(err.msg, "mlock")), "%d %s", rc, err.msg);
        CHECK(octet__gguf_mlock(g, &err) == rc || rc != 0);
        octet__gguf_close(g);
    }
    /* public API */
    octet_gguf *pg;
    octet_error err;
    CHECKF(octet_gguf_open(&pg, path, &err) == 0, "%s", err.msg);
    if (pg) {
        CHECK(octet_gguf_version(pg) == 3 && octet_gguf_n_kv(pg) == 1 && octet_gguf_n_tensors(pg) == 2);
        CHECK(strcmp(octet_gguf_key(pg, 0), "general.name") == 0 && octet_gguf_key(pg, 1) == NULL);
        char rb[64];
        octet_gguf_value_str(pg, 0, rb, sizeof rb);
        CHECK(strcmp(rb, "\"files\"") == 0);
        octet_tensor_info ti;
        CHECK(octet_gguf_tensor_info(pg, 0, &ti) == 0);
        const octet__gguf *ig = octet__gguf_from_public(pg);
        CHECK(strcmp(ti.name, "q") == 0 && ti.n_dims == 2 && ti.ne[0] == 32 && ti.ne[1] == 3 && ti.ne[2] == 1);
        CHECK(ti.type == 8 && strcmp(ti.type_name, "Q8_0") == 0 && ti.n_bytes == 102);
        CHECK(ti.offset == octet__gguf_data_offset(ig) && ti.offset == w.n - 256);
        CHECK(octet_gguf_tensor_info(pg, 1, &ti) == 0 && ti.offset == w.n - 128 && strcmp(ti.type_name, "F32") == 0);
        CHECK(octet_gguf_tensor_info(pg, 2, &ti) == OCTET_EINVAL);
        CHECK(octet__gguf_as_public(ig) == pg);
        octet_gguf_close(pg);
    }
    octet_gguf_close(NULL);
    octet__gguf_close(NULL);
    /* I/O errors */
    octet__gguf *g;
    CHECK(octet__gguf_open(&g, "/nonexistent/x.gguf", 1, &err) == OCTET_EIO && g == NULL &&
          strstr(err.msg, "/nonexistent/x.gguf: cannot open"));
    CHECK(octet__gguf_open(&g, "/tmp", 0, &err) == OCTET_EIO && strstr(err.msg, "not a regular file"));
    CHECK(octet_gguf_open(&pg, "/nonexistent/x.gguf", &err) == OCTET_EIO && pg == NULL);
    /* an empty file maps to a format error, not an I/O error */
    FILE *fp = fopen(path, "wb");
    if (fp) fclose(fp);
    CHECK(octet__gguf_open(&g, path, 1, &err) == OCTET_EFORMAT && strstr(err.msg, "file is 0 bytes"));
    CHECK(octet__gguf_open(&g, path, 0, &err) == OCTET_EFORMAT);
    unlink(path);
out:
    free(w.b);
    file_free(&f);
}

/* ---- allocation failures: fail the Nth allocation, for every N until open succeeds ------------------- */
static long fail_at, n_alloc;
static void *h_malloc(size_t n, void *ud) { (void)ud; return n_alloc++ == fail_at ? NULL : malloc(n); }
static void *h_calloc(size_t n, size_t s, void *ud) { (void)ud; return n_alloc++ == fail_at ? NULL : calloc(n, s); }
static void h_free(void *p, void *ud) { (void)ud; free(p); }

static void test_alloc_failures(void) {
    file f = {0};
    kv_str(&f, "a", "x");
    kv_arr(&f, "b", GGUF_TYPE_STRING, 1);
    p_str(&f.kv, "y");
    uint64_t ne[1] = {8};
    tensor(&f, "t1", 1, ne, 0, 0);
    tensor(&f, "t2", 1, ne, 0, 32);
    buf w = finish(&f, 3, 32, 64);
    octet_alloc_hooks hooks = {h_malloc, h_calloc, h_free, NULL};
    int ok = 0, enomem = 0, other = 0;
    for (fail_at = 0; fail_at < 100 && !ok; fail_at++) {
        n_alloc = 0;
        octet_set_alloc_hooks(&hooks);
        octet__gguf *g;
        octet_error err;
        int rc = octet__gguf_open_memory(&g, w.b, w.n, "t.gguf", &err);
        if (rc == 0) {
            octet__str *sv;
            uint64_t n;
            rc = octet__gguf_get_str_arr(g, "b", &sv, &n, &err);
            if (rc == 0) { ok = 1; octet__free(sv); }
            else if (rc == OCTET_ENOMEM) enomem++;
            else other++;
            octet__gguf_close(g);
        } else if (rc == OCTET_ENOMEM && g == NULL && strstr(err.msg, "t.gguf")) {
            enomem++;
        } else {
            other++;
        }
        octet_set_alloc_hooks(NULL);
    }
    CHECK(ok && other == 0);
    CHECKF(enomem >= 8, "%d allocation failures seen", enomem); /* path, 2 tables x 2, 2 keys, 2 names, views */
    free(w.b);
    file_free(&f);
}

/* ---- speed: a 150k-token vocabulary, and 65536 keys through the duplicate check --------------------- */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_speed(void) {
    file f = {0};
    const uint64_t n_tok = 150000;
    kv_arr(&f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, n_tok);
    char s[32];
    for (uint64_t i = 0; i < n_tok; i++) {
        int n = snprintf(s, sizeof s, "tok%llu", (unsigned long long)i);
        p_strn(&f.kv, s, (size_t)n);
    }
    kv_arr(&f, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, n_tok);
    for (uint64_t i = 0; i < n_tok; i++) p_f32(&f.kv, -(float)i);
    buf w = finish(&f, 3, 32, 0);
    double t0 = now();
    octet__gguf *g;
    octet_error err;
    CHECKF(parse(&w, &g, &err) == 0, "%s", err.msg);
    double t1 = now();
    if (g) {
        octet__str *sv;
        uint64_t n;
        CHECK(octet__gguf_get_str_arr(g, "tokenizer.ggml.tokens", &sv, &n, &err) == 0 && n == n_tok);
        if (n == n_tok) CHECK(sv[149999].len == 9 && memcmp(sv[149999].ptr, "tok149999", 9) == 0);
        octet__free(sv);
        octet__gguf_close(g);
    }
    double t2 = now();
    printf("150k-token vocabulary: open %.2f ms, open + string views %.2f ms\n", (t1 - t0) * 1e3, (t2 - t0) * 1e3);
    /* generous bound (sanitizer builds on a shared machine): a quadratic walk would take seconds */
    printf("150k-token vocabulary: %.3f s (reported, not asserted)\n", t2 - t0);
    free(w.b);
    file_free(&f);

    memset(&f, 0, sizeof f);
    for (int i = 0; i < OCTET_MAX_GGUF_KV; i++) {
        snprintf(s, sizeof s, "key.%d", i);
        kv_u8(&f, s, (uint8_t)i);
    }
    w = finish(&f, 3, 32, 0);
    t0 = now();
    CHECKF(parse(&w, &g, &err) == 0, "%s", err.msg);
    t1 = now();
    if (g) {
        CHECK(octet__gguf_find_kv(g, "key.65535") == 65535 && octet__gguf_find_kv(g, "key.0") == 0);
        octet__gguf_close(g);
    }
    printf("65536 keys: open %.2f ms\n", (t1 - t0) * 1e3);
    printf("65536 keys: %.3f s (reported, not asserted)\n", t1 - t0);
    /* one key more than the limit */
    kv_u8(&f, "key.extra", 1);
    free(w.b);
    w = finish(&f, 3, 32, 0);
    expect_fail(&w, OCTET_EFORMAT, "n_kv: 65537 exceeds the limit of 65536");
    free(w.b);
    file_free(&f);
}

/* ---- manifest mode: check the files made by tests/tools/make_malformed.py ---------------------------- */
static int check_dir(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    FILE *mf = fopen(path, "r");
    if (!mf) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return 2;
    }
    char line[4096];
    int n = 0, bad = 0;
    while (fgets(line, sizeof line, mf)) {
        line[strcspn(line, "\n")] = 0;
        char *name = strtok(line, "\t"), *mode = strtok(NULL, "\t"), *code = strtok(NULL, "\t"),
             *pat = strtok(NULL, "\t");
        if (!name || !mode) continue;
        if (code && strcmp(code, "format") && strcmp(code, "unsupported")) { pat = code; code = NULL; }
        snprintf(path, sizeof path, "%s/%s", dir, name);
        octet__gguf *g = NULL;
        octet_error err;
        memset(&err, 0, sizeof err);
        int rc = octet__gguf_open(&g, path, n & 1, &err);
        n++;
        int ok = 1;
        if (!strcmp(mode, "ok") || !strcmp(mode, "gguf_ok")) {
            ok = rc == 0;
        } else if (!strcmp(mode, "fail")) {
            int want = code && !strcmp(code, "unsupported") ? OCTET_EUNSUPPORTED : OCTET_EFORMAT;
            ok = rc == want && g == NULL && err.msg[0] && strncmp(err.msg, path, strlen(path)) == 0;
            if (ok && pat && pat[0]) {
                ok = 0;
                for (char *alt = strtok(pat, "|"); alt && !ok; alt = strtok(NULL, "|")) ok = strstr(err.msg, alt) != NULL;
            }
        } else { /* any */
            ok = rc == 0 || ((rc == OCTET_EFORMAT || rc == OCTET_EUNSUPPORTED) && err.msg[0]);
        }
        if (!ok) {
            bad++;
            fprintf(stderr, "%s (%s): status %d: %s\n", name, mode, rc, err.msg);
        }
        if (g) {
            /* exercise every reader on accepted files */
            char rb[512];
            for (int64_t i = 0; i < octet__gguf_n_kv(g); i++) {
                octet__gguf_value_str(g, i, rb, sizeof rb);
                const octet__gguf_kv *kv = octet__gguf_kv_at(g, i);
                octet__str *sv;
                int32_t *iv;
                float *fv;
                uint64_t cnt;
                if (octet__gguf_get_str_arr(g, kv->key_z, &sv, &cnt, &err) == 0) octet__free(sv);
                if (octet__gguf_get_i32_arr(g, kv->key_z, &iv, &cnt, &err) == 0) octet__free(iv);
                if (octet__gguf_get_f32_arr(g, kv->key_z, &fv, &cnt, &err) == 0) octet__free(fv);
            }
            uint64_t sum = 0;
            for (int64_t i = 0; i < octet__gguf_n_tensors(g); i++) {
                const octet__gguf_tensor *t = octet__gguf_tensor_at(g, i);
                const uint8_t *p = t->data;
                sum += p[0] + p[t->n_bytes - 1];
            }
            (void)sum;
            octet__gguf_close(g);
        }
    }
    fclose(mf);
    printf("%s: %d files, %d unexpected\n", dir, n, bad);
    return bad ? 1 : (n ? 0 : 2);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--check-dir")) return check_dir(argv[2]);
    test_getters();
    test_tensors();
    test_header_rules();
    test_kv_rules();
    test_tensor_rules();
    test_files();
    test_alloc_failures();
    test_speed();
    TEST_MAIN_END();
}
