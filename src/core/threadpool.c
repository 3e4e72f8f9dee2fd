/*
 * threadpool.c - see threadpool.h. Invariants: `gen` only grows, and is written under `mu`; a worker that saw
 * generation g runs the job of g+1 exactly once; `n_done` counts workers finished with the current job and is
 * reset before gen is bumped. The dispatcher is the only thread that calls octet__pool_run at a time.
 */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core.h"

#define SPIN_ITERS 20000

struct octet__pool {
    int n;                 /* threads including the caller */
    pthread_t *threads;    /* n - 1 workers */
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    atomic_uint gen;
    atomic_int n_done;
    atomic_int quit;
    octet__task_fn fn;
    void *ctx;
};

typedef struct { octet__pool *p; int ith; } worker_arg;

/* Spin politely: pause for a while, then yield the CPU so that more threads than cores (or a busy machine)
 * do not starve the thread that holds the work. */
static inline void cpu_relax(int spins) {
    if (spins > 2000) {
        sched_yield();
        return;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker_main(void *arg) {
    octet__pool *p = ((worker_arg *)arg)->p;
    int ith = ((worker_arg *)arg)->ith;
    octet__free(arg);
    unsigned seen = 0; /* the generation at creation: workers exist before the first run */
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&p->gen, memory_order_acquire) == seen && !atomic_load(&p->quit) &&
               spins < SPIN_ITERS) {
            cpu_relax(spins);
            spins++;
        }
        if (atomic_load_explicit(&p->gen, memory_order_acquire) == seen && !atomic_load(&p->quit)) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->quit)) pthread_cond_wait(&p->work_cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit)) break;
        seen = atomic_load_explicit(&p->gen, memory_order_acquire);
        p->fn(p->ctx, ith, p->n);
        if (atomic_fetch_add_explicit(&p->n_done, 1, memory_order_acq_rel) + 1 == p->n - 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_broadcast(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

int octet__n_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

int octet__pool_new(octet__pool **out, int n_threads, octet_error *err) {
    *out = NULL;
    if (n_threads <= 0) n_threads = octet__n_cpus();
    if (n_threads > 256) return octet__err(err, OCTET_EINVAL, "threads: %d is more than the limit of 256", n_threads);
    octet__pool *p = octet__calloc(1, sizeof *p);
    if (!p) return octet__err(err, OCTET_ENOMEM, "thread pool: out of memory");
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->n_done, 0);
    atomic_init(&p->quit, 0);
    if (n_threads > 1) {
        p->threads = octet__calloc((size_t)n_threads - 1, sizeof *p->threads);
        if (!p->threads) {
            octet__pool_free(p);
            return octet__err(err, OCTET_ENOMEM, "thread pool: out of memory");
        }
        for (int i = 1; i < n_threads; i++) {
            worker_arg *a = octet__malloc(sizeof *a);
            if (!a || (a->p = p, a->ith = i, pthread_create(&p->threads[i - 1], NULL, worker_main, a) != 0)) {
                octet__free(a);
                p->n = i; /* workers 1..i-1 exist */
                octet__pool_free(p);
                return octet__err(err, OCTET_ENOMEM, "thread pool: cannot start thread %d", i);
            }
        }
    }
    *out = p;
    return 0;
}

void octet__pool_free(octet__pool *p) {
    if (!p) return;
    if (p->threads) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->quit, 1);
        pthread_cond_broadcast(&p->work_cv);
        pthread_mutex_unlock(&p->mu);
        for (int i = 1; i < p->n; i++) pthread_join(p->threads[i - 1], NULL);
        octet__free(p->threads);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    octet__free(p);
}

int octet__pool_n_threads(const octet__pool *p) { return p->n; }

void octet__pool_run(octet__pool *p, octet__task_fn fn, void *ctx) {
    if (p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->n_done, 0);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    int spins = 0;
    while (atomic_load_explicit(&p->n_done, memory_order_acquire) < p->n - 1 && spins < SPIN_ITERS) {
        cpu_relax(spins);
        spins++;
    }
    if (atomic_load_explicit(&p->n_done, memory_order_acquire) < p->n - 1) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->n_done) < p->n - 1) pthread_cond_wait(&p->done_cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
