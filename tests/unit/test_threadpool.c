/*
 * test_threadpool.c - every index runs exactly once per dispatch, for many back-to-back dispatches and several
 * pool sizes; results written by the tasks are visible to the caller when octet__pool_run returns.
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

int main(void) {
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
