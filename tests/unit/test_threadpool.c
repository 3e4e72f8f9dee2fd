/*
 * test_threadpool.c - every index runs exactly once per dispatch, for many back-to-back dispatches and several
 * pool sizes; results written by the tasks are visible to the caller when octet__pool_run returns.
 * octet__pool_run_any (work-claiming jobs, mixed with full ones): every item done exactly once, between 1 and
 * n threads took part, and a full job after it still runs every index once.
 */
#include <stdatomic.h>

#include "core/threadpool.h"
#include "test.h"

typedef struct {
    atomic_int hits[16];
    int nth_seen[16];
    long sum[16];
    int round;
} ctx_t;

static void task(void *p, int ith, int nth) {
    ctx_t *c = p;
    atomic_fetch_add(&c->hits[ith], 1);
    c->nth_seen[ith] = nth;
    long s = 0;
    for (int i = ith; i < 10000; i += nth) s += i + c->round;
    c->sum[ith] = s;
}

/* work-claiming task for octet__pool_run_any: items from a counter, each done exactly once */
typedef struct {
    atomic_int next;
    int n_items;
    atomic_int done[4096];
    atomic_int calls;
} any_t;

static void any_task(void *p, int ith, int nth) {
    any_t *c = p;
    (void)ith;
    (void)nth;
    atomic_fetch_add(&c->calls, 1);
    for (int i; (i = atomic_fetch_add(&c->next, 1)) < c->n_items;) atomic_fetch_add(&c->done[i], 1);
}

int main(void) {
    /* run_any: every item exactly once, the caller always takes part, mixed with full runs */
    for (int n = 1; n <= 3; n++) {
        octet__pool *p = NULL;
        octet_error err;
        CHECK(octet__pool_new(&p, n, &err) == 0);
        static any_t a;
        static ctx_t c2;
        int ok = 1, calls_ok = 1;
        for (int r = 0; r < 3000; r++) {
            memset(&a, 0, sizeof a);
            a.n_items = 1 + (r * 37) % 4096;
            octet__pool_run_any(p, any_task, &a);
            for (int i = 0; i < a.n_items; i++) ok &= atomic_load(&a.done[i]) == 1;
            calls_ok &= atomic_load(&a.calls) >= 1 && atomic_load(&a.calls) <= n;
            if (r % 3 == 0) {
                memset(&c2, 0, sizeof c2);
                c2.round = r;
                octet__pool_run(p, task, &c2);
                long total = 0;
                for (int i = 0; i < n; i++) total += c2.sum[i], ok &= atomic_load(&c2.hits[i]) == 1;
                ok &= total == 10000L * 9999 / 2 + 10000L * r;
            }
        }
        CHECK(ok);
        CHECK(calls_ok);
        octet__pool_free(p);
    }

    for (int n = 1; n <= 4; n++) {
        octet__pool *p = NULL;
        octet_error err;
        CHECK(octet__pool_new(&p, n, &err) == 0);
        CHECK(octet__pool_n_threads(p) == n);
        static ctx_t c;
        memset(&c, 0, sizeof c);
        int ok = 1;
        for (int r = 0; r < 2000; r++) {
            c.round = r;
            octet__pool_run(p, task, &c);
            long total = 0;
            for (int i = 0; i < n; i++) total += c.sum[i];
            ok &= total == 10000L * 9999 / 2 + 10000L * r;
        }
        CHECK(ok);
        for (int i = 0; i < n; i++) {
            CHECK(atomic_load(&c.hits[i]) == 2000);
            CHECK(c.nth_seen[i] == n);
        }
        octet__pool_free(p);
    }
    octet__pool *p = NULL;
    octet_error err;
    CHECK(octet__pool_new(&p, 100000, &err) == OCTET_EINVAL && p == NULL);
    octet__pool_free(NULL);
    TEST_MAIN_END();
}
