/*
 * core.c - error messages, the allocation hook, logging, CPU detection and half-precision conversions.
 */
#include "core.h"

#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *octet_strerror(int code) {
    switch (code) {
    case OCTET_OK: return "success";
    case OCTET_ENOMEM: return "out of memory";
    case OCTET_EIO: return "input/output error";
    case OCTET_EFORMAT: return "malformed file";
    case OCTET_EINVAL: return "invalid argument";
    case OCTET_EUNSUPPORTED: return "unsupported";
    case OCTET_ERANGE: return "out of range";
    case OCTET_ENOTFOUND: return "not found";
    case OCTET_EINTERNAL: return "internal error";
    default: return "unknown error";
    }
}

int octet__err(octet_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int octet__err_prefix(octet_error *err, const char *fmt, ...) {
    if (!err) return 0;
    char prefix[128], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = 0;
    size_t np = strlen(prefix);
    if (np > sizeof err->msg - 3) np = sizeof err->msg - 3;
    memcpy(err->msg, prefix, np);
    memcpy(err->msg + np, ": ", 2);
    size_t room = sizeof err->msg - np - 3, no = strlen(old);
    if (no > room) no = room;
    memcpy(err->msg + np + 2, old, no);
    err->msg[np + 2 + no] = 0;
    return err->code;
}

/* ---- allocation ---------------------------------------------------------------------------------------- */
static octet_alloc_hooks g_hooks;
static bool g_have_hooks;

void octet_set_alloc_hooks(const octet_alloc_hooks *hooks) {
    if (hooks) {
        g_hooks = *hooks;
        g_have_hooks = true;
    } else {
        g_have_hooks = false;
    }
}

void *octet__malloc(size_t n) {
    if (n == 0) n = 1;
    return g_have_hooks ? g_hooks.malloc_fn(n, g_hooks.ud) : malloc(n);
}

void *octet__calloc(size_t n, size_t size) {
    if (n == 0 || size == 0) n = size = 1;
    return g_have_hooks ? g_hooks.calloc_fn(n, size, g_hooks.ud) : calloc(n, size);
}

void octet__free(void *p) {
    if (!p) return;
    if (g_have_hooks) g_hooks.free_fn(p, g_hooks.ud);
    else free(p);
}

void *octet__realloc_array(void *p, size_t old_n, size_t n, size_t size) {
    size_t bytes, old_bytes;
    if (!octet__mul_size(n, size, &bytes) || !octet__mul_size(old_n, size, &old_bytes)) return NULL;
    void *q = octet__malloc(bytes);
    if (!q) return NULL;
    if (p && old_bytes) memcpy(q, p, old_bytes < bytes ? old_bytes : bytes);
    octet__free(p);
    return q;
}

char *octet__strndup(const char *s, size_t n) {
    char *d = octet__malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

/* ---- logging ------------------------------------------------------------------------------------------ */
static octet_log_fn g_log;
static void *g_log_ud;

void octet_set_log(octet_log_fn fn, void *ud) {
    g_log = fn;
    g_log_ud = ud;
}

void octet__log(int level, const char *fmt, ...) {
    if (!g_log) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_log(level, buf, g_log_ud);
}

/* ---- CPU detection ------------------------------------------------------------------------------------
 * x86: CPUID (Intel SDM vol. 2A, "CPUID"): leaf 1 ECX bit 12 FMA, 27 OSXSAVE, 28 AVX, 29 F16C; leaf 7.0 EBX bit 5
 * AVX2, 16 AVX512F, 17 AVX512DQ, 30 AVX512BW, 31 AVX512VL, ECX bit 11 AVX512_VNNI; leaf 7.1 EAX bit 4 AVX-VNNI.
 * A vector state is usable only when the OS saves it: XGETBV(0) bits 1-2 (SSE, AVX) and, for AVX-512, 5-7
 * (opmask, upper ZMM halves, ZMM16-31).
 * aarch64 Linux: getauxval(AT_HWCAP) bit 1 ASIMD, 20 ASIMDDP (dotprod); AT_HWCAP2 bit 13 I8MM (the kernel's
 * uapi asm/hwcap.h). */
#if defined(__x86_64__)
static void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
static void detect(octet__cpu *c) {
    unsigned r[4];
    cpuid(0, 0, r);
    const unsigned max_leaf = r[0];
    cpuid(1, 0, r);
    const bool osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1;
    c->fma = (r[2] >> 12) & 1;
    c->f16c = (r[2] >> 29) & 1;
    unsigned xcr0 = 0;
    if (osxsave) {
        unsigned hi;
        __asm__ volatile("xgetbv" : "=a"(xcr0), "=d"(hi) : "c"(0));
    }
    const bool os_avx = (xcr0 & 6) == 6, os_avx512 = (xcr0 & 0xe6) == 0xe6;
    if (!avx || !os_avx) {
        c->fma = c->f16c = false;
        return;
    }
    if (max_leaf < 7) return;
    cpuid(7, 0, r);
    const unsigned max_sub = r[0];
    c->avx2 = (r[1] >> 5) & 1;
    if (os_avx512) {
        c->avx512f = (r[1] >> 16) & 1;
        c->avx512dq = (r[1] >> 17) & 1;
        c->avx512bw = (r[1] >> 30) & 1;
        c->avx512vl = (r[1] >> 31) & 1;
        c->avx512vnni = (r[2] >> 11) & 1;
    }
    if (max_sub >= 1) {
        cpuid(7, 1, r);
        c->avxvnni = (r[0] >> 4) & 1;
    }
}
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
static void detect(octet__cpu *c) {
    const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    c->neon = (hw >> 1) & 1;
    c->dotprod = (hw >> 20) & 1;
    c->i8mm = (hw2 >> 13) & 1;
}
#else
static void detect(octet__cpu *c) { (void)c; }
#endif

static octet__cpu g_cpu;
static pthread_once_t g_cpu_once = PTHREAD_ONCE_INIT;
static void detect_once(void) { detect(&g_cpu); }

const octet__cpu *octet__cpu_features(void) {
    pthread_once(&g_cpu_once, detect_once);
    return &g_cpu;
}

/* ---- half precision ----------------------------------------------------------------------------------- */
static inline uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float octet__fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0) {
        if (man == 0) return u2f(sign);
        /* subnormal: man * 2^-24 */
        float v = (float)man * u2f(0x33800000u); /* 2^-24 */
        return sign ? -v : v;
    }
    if (exp == 31) return u2f(sign | 0x7f800000u | (man << 13));
    return u2f(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t octet__fp32_to_fp16(float f) {
    uint32_t x = f2u(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0)); /* inf / nan */
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);                                 /* overflow */
    if (ax < 0x38800000u) {                                                                   /* subnormal */
        if (ax < 0x33000000u) return (uint16_t)sign; /* below half the smallest subnormal */
        uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ((ax >> 13) - (112u << 10));
    uint32_t rem = ax & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
    return (uint16_t)(sign | r);
}

float octet__bf16_to_fp32(uint16_t h) { return u2f((uint32_t)h << 16); }

uint16_t octet__fp32_to_bf16(float f) {
    uint32_t x = f2u(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet nan */
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}
