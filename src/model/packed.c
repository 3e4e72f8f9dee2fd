/*
 * packed.c - the model's repacked weight matrices (see packed.h): built under a process-wide mutex by
 * octet__repack_prepare (called by octet_session_new for float sessions), read without locking by the forward
 * pass, freed by octet_model_close. model->packed is written once, under the lock (atomically: a session that
 * did not prepare may look at it concurrently); an entry's data pointer is published with release order once its
 * bytes are complete and never changes until the model is closed.
 *
 * Memory: the copies of one prepare call live in one anonymous mapping (an "arena", 2 MiB aligned, transparent
 * huge pages requested), not in octet__malloc blocks: 4 KiB first-touch faults over a gigabyte cost seconds on a
 * virtual machine, 2 MiB pages a few hundred faults. The source rows are faulted in a piece at a time in one
 * call (MADV_POPULATE_READ) and given back after the piece is packed, so the peak is the copies plus a few pieces.
 */
#include "model/packed.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/core.h"
#include "format/gguf.h"
#include "kernels/gemm.h"
#include "kernels/kset.h"

/* ---- layouts by weight type: the kernel set's (kset.h), NULL where it has none ---------------------------- */
typedef octet__repack_kernels pack_kind;

static const pack_kind *kind_of(int type) {
    if (type < 0 || type >= OCTET_TYPE_COUNT) return NULL;
    const octet__repack_kernels *k = &octet__kset_active()->repack[type];
    return k->pack && k->gemm ? k : NULL;
}

/* ---- the model's entries ------------------------------------------------------------------------------------ */
#define PER_LAYER 7 /* wq, wk, wv, wo, w_gate, w_up, w_down */

typedef struct entry {
    atomic_uintptr_t data; /* the groups (64-byte aligned, in an arena) once complete, else 0 */
    size_t group_bytes;
    int64_t groups;
    const pack_kind *kind;
} entry;

typedef struct arena {
    struct arena *next;
    void *base;
    size_t bytes;
} arena;

typedef struct packed_cache {
    arena *arenas;
    int n; /* 1 + PER_LAYER * n_layer: the output matrix, then each layer's */
    entry e[];
} packed_cache;

#define HUGE_PAGE ((size_t)2 << 20)

/* An anonymous read-write mapping of bytes (rounded up to 2 MiB), 2 MiB aligned, with huge pages requested. */
static arena *arena_new(size_t bytes) {
    arena *a = octet__calloc(1, sizeof *a);
    if (!a) return NULL;
    if (!octet__add_size(bytes, HUGE_PAGE - 1, &bytes)) goto fail;
    bytes &= ~(HUGE_PAGE - 1);
    size_t span;
    if (!octet__add_size(bytes, HUGE_PAGE, &span)) goto fail;
    uint8_t *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) goto fail;
    uint8_t *b = (uint8_t *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (b > p) munmap(p, (size_t)(b - p));
    if (b + bytes < p + span) munmap(b + bytes, (size_t)(p + span - (b + bytes)));
#ifdef MADV_HUGEPAGE
    (void)madvise(b, bytes, MADV_HUGEPAGE); /* a hint: without THP the copies still work, on 4 KiB pages */
#endif
    a->base = b;
    a->bytes = bytes;
    return a;
fail:
    octet__free(a);
    return NULL;
}

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const octet__tensor *layer_tensor(const octet__layer *L, int k) {
    switch (k) {
    case 0: return &L->wq;
    case 1: return &L->wk;
    case 2: return &L->wv;
    case 3: return &L->wo;
    case 4: return &L->w_gate;
    case 5: return &L->w_up;
    default: return &L->w_down;
    }
}

/* the matrix of entry i */
static const octet__tensor *tensor_at(const octet_model *m, int i) {
    return i ? layer_tensor(&m->layers[(i - 1) / PER_LAYER], (i - 1) % PER_LAYER) : &m->output;
}

/* the entry index of t, or -1 */
static int index_of(const octet_model *m, const octet__tensor *t) {
    if (t == &m->output) return 0;
    if (!m->layers) return -1;
    const uintptr_t p = (uintptr_t)t, b = (uintptr_t)m->layers;
    if (p < b || p >= b + (uintptr_t)m->hp.n_layer * sizeof(octet__layer)) return -1;
    const int l = (int)((p - b) / sizeof(octet__layer));
    for (int k = 0; k < PER_LAYER; k++)
        if (layer_tensor(&m->layers[l], k) == t) return 1 + PER_LAYER * l + k;
    return -1;
}

/* ---- packing ------------------------------------------------------------------------------------------------- */
typedef struct pack_task {
    const octet_model *m;
    const octet__tensor *t;
    const pack_kind *kind;
    uint8_t *dst;
    size_t group_bytes;
    octet__claim groups;
} pack_task;

#define PACK_CHUNK 32 /* groups per claimed piece (512 rows, 1-3 MB of a TinyLlama-sized model) */

static void pack_run(void *ctx, int ith, int nth) {
    pack_task *k = ctx;
    (void)ith;
    (void)nth;
    const octet__tensor *t = k->t;
    const size_t rows16 = 16 * t->row_bytes;
    for (int64_t g0, g1; octet__claim_next(&k->groups, &g0, &g1);) {
        const uint8_t *src = (const uint8_t *)t->data + (size_t)g0 * rows16;
        octet__gguf_prefault(k->m->gguf, src, (size_t)(g1 - g0) * rows16);
        for (int64_t g = g0; g < g1; g++)
            k->kind->pack(t->ne[0], k->dst + (size_t)g * k->group_bytes, src + (size_t)(g - g0) * rows16,
                          t->row_bytes);
        /* the source rows of this piece are no longer needed in memory (pages wholly inside only) */
        octet__gguf_drop_pages(k->m->gguf, src, (size_t)(g1 - g0) * rows16);
    }
}

/* Bytes of t's packed copy rounded up to 64 (0: t is not packed: no layout, fewer than 16 rows, already packed). */
static size_t packed_bytes(const octet__tensor *t, const entry *e) {
    const pack_kind *kind = kind_of(t->type);
    if (!kind || !t->data || t->ne[1] < 16 || atomic_load_explicit(&e->data, memory_order_relaxed)) return 0;
    size_t bytes;
    if (!octet__mul_size(kind->group_bytes(t->ne[0]), (size_t)(t->ne[1] / 16), &bytes) ||
        !octet__add_size(bytes, 63, &bytes))
        return 0;
    return bytes & ~(size_t)63;
}

/* Pack t into e at dst (under g_lock). */
static void pack_tensor(const octet_model *m, const octet__tensor *t, entry *e, uint8_t *dst, octet__pool *pool) {
    const pack_kind *kind = kind_of(t->type);
    const int64_t groups = t->ne[1] / 16;
    const size_t gb = kind->group_bytes(t->ne[0]);
    pack_task k = {.m = m, .t = t, .kind = kind, .dst = dst, .group_bytes = gb};
    octet__claim_init(&k.groups, groups, PACK_CHUNK);
    octet__pool_run_any(pool, pack_run, &k);
    /* the pages across piece boundaries */
    octet__gguf_drop_pages(m->gguf, t->data, (size_t)groups * 16 * t->row_bytes);
    e->group_bytes = gb;
    e->groups = groups;
    e->kind = kind;
    atomic_store_explicit(&e->data, (uintptr_t)dst, memory_order_release);
}

static int repack_wanted(const octet_model *m) {
    const char *v = getenv("OCTET_NO_REPACK");
    if (v && *v && strcmp(v, "0") != 0) return 0;
    /* only a mapped, unlocked file gives its pages back; a copy next to a file read into memory (or locked there)
     * would double the weights' memory */
    if (!m->gguf || !octet__gguf_pages_droppable(m->gguf)) return 0;
    return 1;
}

int octet__repack_prepare(const octet_model *m, int l0, int l1, octet__pool *pool, octet_error *err) {
    if (!m || !m->layers || l0 < 0 || l1 > m->hp.n_layer || l0 >= l1) return 0;
    if (!repack_wanted(m)) return 0;
    /* the matrices of the range (entries i0..i1-1, and the output's, entry 0, for the last layer) */
    const int i0 = 1 + PER_LAYER * l0, i1 = 1 + PER_LAYER * l1, first = l1 == m->hp.n_layer ? i0 - 1 : i0;
    int any = 0;
    for (int j = first; j < i1; j++) {
        const octet__tensor *t = tensor_at(m, j < i0 ? 0 : j);
        any |= kind_of(t->type) && t->data && t->ne[1] >= 16;
    }
    if (!any) return 0; /* nothing to pack (other types, or no kernels for this CPU) */
    int rc = 0;
    pthread_mutex_lock(&g_lock);
    packed_cache *c = __atomic_load_n(&m->packed, __ATOMIC_ACQUIRE);
    if (!c) {
        const int n = 1 + PER_LAYER * m->hp.n_layer;
        c = octet__calloc(1, sizeof *c + (size_t)n * sizeof(entry));
        if (c) {
            c->n = n;
            for (int i = 0; i < n; i++) atomic_init(&c->e[i].data, 0);
            /* the one late write to the model, see the top comment */
            __atomic_store_n(&((octet_model *)(uintptr_t)m)->packed, c, __ATOMIC_RELEASE);
        } else {
            rc = octet__err(err, OCTET_ENOMEM, "repacked weights: out of memory (OCTET_NO_REPACK=1 goes without)");
        }
    }
    if (c) { /* the matrices not packed yet, in one arena */
        size_t total = 0, b;
        int ok = 1;
        for (int j = first; j < i1; j++) {
            const int i = j < i0 ? 0 : j;
            if ((b = packed_bytes(tensor_at(m, i), &c->e[i]))) ok &= octet__add_size(total, b, &total);
        }
        arena *a = ok && total ? arena_new(total) : NULL;
        if (a) {
            a->next = c->arenas;
            c->arenas = a;
            uint8_t *dst = a->base;
            for (int j = first; j < i1; j++) {
                const int i = j < i0 ? 0 : j;
                const octet__tensor *t = tensor_at(m, i);
                if ((b = packed_bytes(t, &c->e[i]))) {
                    pack_tensor(m, t, &c->e[i], dst, pool);
                    dst += b;
                }
            }
        } else if (total || !ok) {
            rc = octet__err(err, OCTET_ENOMEM,
                            "repacked weights: cannot map %zu bytes for the copies (OCTET_NO_REPACK=1 goes without)", total);
        }
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

int octet__repack_find(const octet_model *m, const octet__tensor *t, octet__packed *out) {
    const packed_cache *c = __atomic_load_n(&m->packed, __ATOMIC_ACQUIRE);
    if (!c) return 0;
    const int i = index_of(m, t);
    if (i < 0) return 0;
    const uintptr_t d = atomic_load_explicit(&((entry *)(uintptr_t)&c->e[i])->data, memory_order_acquire);
    if (!d || !kind_of(t->type)) return 0;
    out->data = (const uint8_t *)d;
    out->group_bytes = c->e[i].group_bytes;
    out->groups = c->e[i].groups;
    out->gemm = c->e[i].kind->gemm;
    return 1;
}

void octet__repack_release(octet_model *m) {
    if (!m) return;
    pthread_mutex_lock(&g_lock);
    packed_cache *c = m->packed;
    for (arena *a = c ? c->arenas : NULL, *next; a; a = next) {
        next = a->next;
        munmap(a->base, a->bytes);
        octet__free(a);
    }
    octet__free(c);
    m->packed = NULL;
    pthread_mutex_unlock(&g_lock);
}
