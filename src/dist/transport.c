/*
 * transport.c - the inbox shared by the transports (see transport.h) and the argument-checking wrappers.
 *
 * The inbox is a mutex-protected FIFO of received messages; a taker scans for the oldest message with the
 * wanted source and tag, so messages of other tags or senders wait their turn. It also records when each peer
 * was last heard from, which is what recv's timeout measures: silence, not total waiting time, so a slow but
 * live stage (whose transport keeps sending heartbeats) is waited for, and a dead one is not.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "dist/transport.h"

double octet__dist_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int octet__inbox_init(octet__inbox *q, int n_ranks, octet_error *err) {
    memset(q, 0, sizeof *q);
    if (n_ranks < 1 || n_ranks > OCTET__DIST_MAX_RANKS)
        return octet__err(err, OCTET_EINVAL, "transport: %d ranks is outside 1..%d", n_ranks, OCTET__DIST_MAX_RANKS);
    q->last_heard = octet__calloc((size_t)n_ranks, sizeof *q->last_heard);
    if (!q->last_heard) return octet__err(err, OCTET_ENOMEM, "transport: out of memory");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    q->n_ranks = n_ranks;
    double now = octet__dist_now();
    for (int i = 0; i < n_ranks; i++) q->last_heard[i] = now;
    return 0;
}

void octet__inbox_destroy(octet__inbox *q) {
    if (!q->last_heard) return;
    for (octet__msg *m = q->head, *nx; m; m = nx) {
        nx = m->next;
        octet__free(m->buf);
        octet__free(m);
    }
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    octet__free(q->last_heard);
    memset(q, 0, sizeof *q);
}

void octet__inbox_put(octet__inbox *q, int src, int tag, void *buf, size_t n) {
    octet__msg *m = octet__calloc(1, sizeof *m);
    pthread_mutex_lock(&q->mu);
    if (src >= 0 && src < q->n_ranks) q->last_heard[src] = octet__dist_now();
    if (!m) {
        octet__free(buf);
        if (!q->failed) {
            q->failed = 1;
            snprintf(q->fail_msg, sizeof q->fail_msg, "transport: out of memory receiving from rank %d", src);
        }
    } else {
        m->src = src;
        m->tag = tag;
        m->buf = buf;
        m->n = n;
        if (q->tail) q->tail->next = m;
        else q->head = m;
        q->tail = m;
    }
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

void octet__inbox_heard(octet__inbox *q, int src) {
    pthread_mutex_lock(&q->mu);
    if (src >= 0 && src < q->n_ranks) q->last_heard[src] = octet__dist_now();
    pthread_mutex_unlock(&q->mu);
}

void octet__inbox_fail(octet__inbox *q, const char *msg) {
    pthread_mutex_lock(&q->mu);
    if (!q->failed) {
        q->failed = 1;
        snprintf(q->fail_msg, sizeof q->fail_msg, "%s", msg);
    }
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

int octet__inbox_take(octet__inbox *q, int self, int src, int tag, void **buf, size_t *n, double timeout_s,
                      octet_error *err) {
    int rc = 0;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        if (q->failed) {
            rc = octet__err(err, OCTET_EIO, "rank %d: %s", self, q->fail_msg);
            break;
        }
        octet__msg *prev = NULL, *m = q->head;
        while (m && !(m->src == src && m->tag == tag)) {
            prev = m;
            m = m->next;
        }
        if (m) {
            if (prev) prev->next = m->next;
            else q->head = m->next;
            if (q->tail == m) q->tail = prev;
            *buf = m->buf;
            *n = m->n;
            octet__free(m);
            break;
        }
        double now = octet__dist_now(), silent = now - q->last_heard[src];
        if (silent > timeout_s) {
            rc = octet__err(err, OCTET_EIO,
                            "rank %d: rank %d stopped answering: nothing received from it for %.1f s (timeout %.1f s)",
                            self, src, silent, timeout_s);
            break;
        }
        /* wake at least every 0.2 s to re-check the silence */
        double wait = timeout_s - silent + 0.01;
        if (wait > 0.2) wait = 0.2;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long ns = ts.tv_nsec + (long)(wait * 1e9);
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        int e = pthread_cond_timedwait(&q->cv, &q->mu, &ts);
        (void)e; /* ETIMEDOUT or a wake-up: both loop back */
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int octet__send(octet__transport *t, int dst, int tag, const void *buf, size_t n, octet_error *err) {
    if (!t || dst < 0 || dst >= t->size || dst == t->rank || (n && !buf))
        return octet__err(err, OCTET_EINVAL, "transport: send to rank %d: bad arguments", dst);
    if ((uint64_t)n > OCTET__DIST_MAX_MSG)
        return octet__err(err, OCTET_ERANGE, "transport: message of %zu bytes exceeds the limit", n);
    return t->ops->send(t, dst, tag, buf, n, err);
}

int octet__recv(octet__transport *t, int src, int tag, void **buf, size_t *n, double timeout_s, octet_error *err) {
    if (!t || src < 0 || src >= t->size || src == t->rank || !buf || !n || !(timeout_s > 0))
        return octet__err(err, OCTET_EINVAL, "transport: recv from rank %d: bad arguments", src);
    *buf = NULL;
    *n = 0;
    return t->ops->recv(t, src, tag, buf, n, timeout_s, err);
}

void octet__transport_abort(octet__transport *t, int code) {
    if (t) t->ops->abort(t, code);
}

void octet__transport_close(octet__transport *t) {
    if (t) t->ops->close(t);
}
