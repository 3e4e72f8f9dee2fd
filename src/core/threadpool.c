/*
 * threadpool.c - see threadpool.h.
 *
 * One 64-bit atomic word `job` describes the current job: generation (bits 32..63, only grows), kind (bit 17:
 * an "any" job), closed (bit 16: an any job takes no more workers) and active (bits 0..15: workers inside an any
 * job). fn and ctx are written before the generation is published (release) and read after it is seen (acquire).
 *
 * Full jobs (octet__pool_run): every worker runs fn once; `n_done` counts finished workers and is reset before
 * the generation is bumped; the dispatcher waits for n - 1. Because it waits for everyone, fn/ctx stay valid
 * for every worker of the job.
 * Any jobs (octet__pool_run_any): a worker joins only by a compare-and-swap that checks the generation and that
 * the job is still open, then reads fn/ctx; the dispatcher runs fn itself, closes the job, and waits only for
 * the workers that joined (active == 0). A worker that wakes late finds the job closed (or a newer generation)
 * and never touches it, so a descheduled thread cannot hold up a product on a busy machine.
 * The dispatcher is the only thread that calls octet__pool_run* at a time.
 */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core.h"

#define SPIN_ITERS 20000
#define JOB_ACTIVE 0xffffull
#define JOB_CLOSED (1ull << 16)
#define JOB_ANY (1ull << 17)
#define JOB_GEN(s) ((uint32_t)((s) >> 32))

struct octet__pool {
    int n;                 /* threads including the caller */
    pthread_t *threads;    /* n - 1 workers */
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    _Atomic unsigned long long job;
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
    uint32_t seen = 0; /* the generation at creation: workers exist before the first run */
    for (;;) {
        int spins = 0;
        while (JOB_GEN(atomic_load_explicit(&p->job, memory_order_acquire)) == seen && !atomic_load(&p->quit) &&
               spins < SPIN_ITERS) {
            cpu_relax(spins);
            spins++;
        }
        if (JOB_GEN(atomic_load_explicit(&p->job, memory_order_acquire)) == seen && !atomic_load(&p->quit)) {
            pthread_mutex_lock(&p->mu);
            while (JOB_GEN(atomic_load(&p->job)) == seen && !atomic_load(&p->quit))
                pthread_cond_wait(&p->work_cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit)) break;
        unsigned long long s = atomic_load_explicit(&p->job, memory_order_acquire);
        seen = JOB_GEN(s);
        if (s & JOB_ANY) {
            /* join only while this generation is open */
            int joined = 0;
            while (JOB_GEN(s) == seen && !(s & JOB_CLOSED)) {
                if (atomic_compare_exchange_weak_explicit(&p->job, &s, s + 1, memory_order_acq_rel,
                                                          memory_order_acquire)) {
                    joined = 1;
                    break;
                }
            }
            if (!joined) continue;
            p->fn(p->ctx, ith, p->n);
            atomic_fetch_sub_explicit(&p->job, 1, memory_order_acq_rel);
            continue;
        }
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
    atomic_init(&p->job, 0);
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

/* Publish a new generation of the given kind (fn/ctx already written) and wake sleepers. */
static void publish(octet__pool *p, unsigned long long kind) {
    unsigned long long s = atomic_load_explicit(&p->job, memory_order_relaxed);
    unsigned long long next = ((unsigned long long)(JOB_GEN(s) + 1u) << 32) | kind;
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->job, next, memory_order_release);
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
}

void octet__pool_run(octet__pool *p, octet__task_fn fn, void *ctx) {
    if (p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->n_done, 0);
    publish(p, 0);
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

void octet__pool_run_any(octet__pool *p, octet__task_fn fn, void *ctx) {
    if (p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    publish(p, JOB_ANY);
    fn(ctx, 0, p->n);
    atomic_fetch_or_explicit(&p->job, JOB_CLOSED, memory_order_acq_rel);
    int spins = 0;
    while (atomic_load_explicit(&p->job, memory_order_acquire) & JOB_ACTIVE) cpu_relax(spins++ < 2000 ? 0 : 2001);
}
