/*
 * transport_local.c - the loopback transport: n ranks inside one process, one thread each (tests).
 *
 * Every endpoint owns an inbox; send copies the buffer straight into the destination's inbox, so it never
 * waits. abort fails every endpoint's inbox ("aborted by rank r"), which is what a test can observe instead of
 * the process ending. Nothing sends heartbeats here: a rank that stops sending is declared dead after the
 * receiver's timeout, which is how the timeout path is tested. The shared hub is freed with the last endpoint.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "dist/transport.h"

typedef struct hub hub;
typedef struct local_ep {
    octet__transport t; /* first: the ops receive a pointer to it */
    hub *h;
} local_ep;

struct hub {
    pthread_mutex_t mu;
    int n, n_open;
    local_ep *eps; /* [n] */
};

static int local_send(octet__transport *t, int dst, int tag, const void *buf, size_t n, octet_error *err) {
    local_ep *e = (local_ep *)t;
    void *copy = octet__malloc(n ? n : 1);
    if (!copy) return octet__err(err, OCTET_ENOMEM, "transport: out of memory sending %zu bytes", n);
    if (n) memcpy(copy, buf, n);
    octet__inbox_put(&e->h->eps[dst].t.inbox, t->rank, tag, copy, n);
    return 0;
}

static int local_recv(octet__transport *t, int src, int tag, void **buf, size_t *n, double timeout_s,
                      octet_error *err) {
    return octet__inbox_take(&t->inbox, t->rank, src, tag, buf, n, timeout_s, err);
}

static void local_abort(octet__transport *t, int code) {
    local_ep *e = (local_ep *)t;
    char msg[96];
    snprintf(msg, sizeof msg, "the job was aborted by rank %d (code %d)", t->rank, code);
    for (int i = 0; i < e->h->n; i++) octet__inbox_fail(&e->h->eps[i].t.inbox, msg);
}

static void local_close(octet__transport *t) {
    local_ep *e = (local_ep *)t;
    hub *h = e->h;
    pthread_mutex_lock(&h->mu);
    int last = --h->n_open == 0;
    pthread_mutex_unlock(&h->mu);
    if (!last) return;
    for (int i = 0; i < h->n; i++) octet__inbox_destroy(&h->eps[i].t.inbox);
    pthread_mutex_destroy(&h->mu);
    octet__free(h->eps);
    octet__free(h);
}

static const octet__transport_ops local_ops = {local_send, local_recv, local_abort, local_close};

int octet__transport_local_new(octet__transport **eps, int n_ranks, octet_error *err) {
    if (!eps || n_ranks < 1 || n_ranks > OCTET__DIST_MAX_RANKS)
        return octet__err(err, OCTET_EINVAL, "transport_local: bad arguments");
    hub *h = octet__calloc(1, sizeof *h);
    local_ep *all = h ? octet__calloc((size_t)n_ranks, sizeof *all) : NULL;
    if (!all) {
        octet__free(h);
        return octet__err(err, OCTET_ENOMEM, "transport_local: out of memory");
    }
    h->eps = all;
    h->n = n_ranks;
    for (int i = 0; i < n_ranks; i++) {
        int rc = octet__inbox_init(&all[i].t.inbox, n_ranks, err);
        if (rc) {
            for (int j = 0; j < i; j++) octet__inbox_destroy(&all[j].t.inbox);
            octet__free(all);
            octet__free(h);
            return rc;
        }
        all[i].t.ops = &local_ops;
        all[i].t.rank = i;
        all[i].t.size = n_ranks;
        all[i].h = h;
    }
    pthread_mutex_init(&h->mu, NULL);
    h->n_open = n_ranks;
    for (int i = 0; i < n_ranks; i++) eps[i] = &all[i].t;
    return 0;
}
