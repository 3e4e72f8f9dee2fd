/*
 * mpi.c - the MPI transport: the only file of octet that includes <mpi.h>; compiled only by `make MPI=1`.
 *
 * One communication thread per process makes every MPI call (MPI_Init_thread with MPI_THREAD_FUNNELED from
 * that thread, so it is MPI's "main" thread). It
 *   - starts the Isend of each message the compute thread queued with send (send only copies and queues),
 *   - polls MPI_Improbe/MPI_Mrecv for arriving messages of any size and puts them in the inbox,
 *   - sends a zero-byte heartbeat to every other rank each OCTET__DIST_HEARTBEAT_S seconds and notes the
 *     heartbeats it receives, so a receiver can tell a slow stage (still beating) from a dead or stopped one,
 *   - calls MPI_Abort when asked, and at close waits for its sends, meets the other ranks in an MPI_Ibarrier
 *     (given up after a bounded time) and calls MPI_Finalize.
 * Thus a stage that sent its output computes the next micro-batch while MPI moves the bytes, and no rank can
 * block another by not receiving. Errors from MPI (MPI_ERRORS_RETURN) put the inbox in the failed state.
 */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "dist/transport.h"

typedef struct out_msg {
    struct out_msg *next;
    int dst, tag;
    void *buf;
    size_t n;
} out_msg;

typedef struct pending {
    MPI_Request req;
    void *buf; /* freed when the send completes (NULL for heartbeats) */
} pending;

typedef struct mpi_tr {
    octet__transport t; /* first */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    out_msg *oh, *ot;
    int started, start_rc, stop, stopped, abort_req, abort_code;
    char start_msg[256];
    pending *pend;
    int n_pend, cap_pend;
} mpi_tr;

static const char HB_BYTE = 0;

int octet__mpi_launched(void) {
    const char *vars[] = {"PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

static void mpi_fail(mpi_tr *m, const char *what, int code) {
    char es[MPI_MAX_ERROR_STRING];
    int len = 0;
    es[0] = 0;
    MPI_Error_string(code, es, &len);
    char msg[256];
    snprintf(msg, sizeof msg, "MPI: %s failed: %s", what, es);
    octet__inbox_fail(&m->t.inbox, msg);
}

static int add_pending(mpi_tr *m, MPI_Request r, void *buf) {
    if (m->n_pend == m->cap_pend) {
        int cap = m->cap_pend ? 2 * m->cap_pend : 16;
        pending *p = octet__malloc((size_t)cap * sizeof *p);
        if (!p) return -1;
        if (m->n_pend) memcpy(p, m->pend, (size_t)m->n_pend * sizeof *p);
        octet__free(m->pend);
        m->pend = p;
        m->cap_pend = cap;
    }
    m->pend[m->n_pend].req = r;
    m->pend[m->n_pend].buf = buf;
    m->n_pend++;
    return 0;
}

static void isend(mpi_tr *m, int dst, int tag, void *buf, size_t n) {
    MPI_Request r;
    int rc = MPI_Isend(n ? buf : (void *)(uintptr_t)&HB_BYTE, (int)n, MPI_BYTE, dst, tag, MPI_COMM_WORLD, &r);
    if (rc != MPI_SUCCESS) {
        octet__free(buf);
        mpi_fail(m, "MPI_Isend", rc);
        return;
    }
    if (add_pending(m, r, buf)) {
        MPI_Wait(&r, MPI_STATUS_IGNORE);
        octet__free(buf);
    }
}

/* One round of progress; returns 1 when something happened. */
static int progress(mpi_tr *m, int beat, double *last_beat) {
    int act = 0;
    pthread_mutex_lock(&m->mu);
    out_msg *q = m->oh;
    m->oh = m->ot = NULL;
    pthread_mutex_unlock(&m->mu);
    while (q) {
        out_msg *nx = q->next;
        isend(m, q->dst, q->tag, q->buf, q->n);
        octet__free(q);
        q = nx;
        act = 1;
    }
    for (int i = 0; i < m->n_pend;) {
        int done = 0;
        int rc = MPI_Test(&m->pend[i].req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) {
            mpi_fail(m, "MPI_Test", rc);
            done = 1;
        }
        if (done) {
            octet__free(m->pend[i].buf);
            m->pend[i] = m->pend[--m->n_pend];
            act = 1;
        } else {
            i++;
        }
    }
    for (;;) {
        int flag = 0;
        MPI_Message msg;
        MPI_Status st;
        int rc = MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &msg, &st);
        if (rc != MPI_SUCCESS) {
            mpi_fail(m, "MPI_Improbe", rc);
            break;
        }
        if (!flag) break;
        act = 1;
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        void *buf = octet__malloc(count > 0 ? (size_t)count : 1);
        char sink;
        rc = MPI_Mrecv(buf ? buf : &sink, buf ? count : 0, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS || !buf) {
            octet__free(buf);
            if (rc != MPI_SUCCESS) mpi_fail(m, "MPI_Mrecv", rc);
            else octet__inbox_fail(&m->t.inbox, "MPI: out of memory receiving a message");
            continue;
        }
        if (st.MPI_TAG == OCTET__TAG_HEARTBEAT) {
            octet__free(buf);
            octet__inbox_heard(&m->t.inbox, st.MPI_SOURCE);
        } else {
            octet__inbox_put(&m->t.inbox, st.MPI_SOURCE, st.MPI_TAG, buf, (size_t)count);
        }
    }
    double now = octet__dist_now();
    if (beat && now - *last_beat >= OCTET__DIST_HEARTBEAT_S) {
        *last_beat = now;
        for (int r = 0; r < m->t.size; r++)
            if (r != m->t.rank) isend(m, r, OCTET__TAG_HEARTBEAT, NULL, 0);
    }
    return act;
}

static void idle_sleep(int idle) {
    /* yield first, then back off to 0.5 ms: a token's hop waits at most that long for the poller */
    if (idle < 20) {
        sched_yield();
        return;
    }
    long us = idle < 100 ? 50 : 500;
    struct timespec ts = {0, us * 1000L};
    nanosleep(&ts, NULL);
}

static void *comm_main(void *arg) {
    mpi_tr *m = arg;
    int prov = 0, rank = 0, size = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &prov);
    if (rc == MPI_SUCCESS) MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(MPI_COMM_WORLD, &size);
    octet_error e;
    int irc = rc == MPI_SUCCESS ? octet__inbox_init(&m->t.inbox, size, &e) : OCTET_EIO;
    pthread_mutex_lock(&m->mu);
    m->t.rank = rank;
    m->t.size = size;
    m->started = 1;
    m->start_rc = irc;
    if (rc != MPI_SUCCESS) snprintf(m->start_msg, sizeof m->start_msg, "MPI_Init_thread failed (code %d)", rc);
    else if (irc) snprintf(m->start_msg, sizeof m->start_msg, "%.200s", e.msg);
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    if (rc != MPI_SUCCESS) return NULL;
    if (irc) {
        MPI_Abort(MPI_COMM_WORLD, 1);
        return NULL;
    }
    double last_beat = 0;
    int idle = 0;
    for (;;) {
        pthread_mutex_lock(&m->mu);
        int ab = m->abort_req, code = m->abort_code, stop = m->stop && !m->oh;
        pthread_mutex_unlock(&m->mu);
        if (ab) MPI_Abort(MPI_COMM_WORLD, code);
        if (stop && m->n_pend == 0) break;
        if (progress(m, !stop, &last_beat)) idle = 0;
        else idle_sleep(++idle);
    }
    /* every rank got here through a clean close: meet, then finalize (a peer that never comes is given up) */
    MPI_Request br;
    int done = 0;
    double t0 = octet__dist_now();
    if (MPI_Ibarrier(MPI_COMM_WORLD, &br) == MPI_SUCCESS) {
        while (!done && octet__dist_now() - t0 < 30.0) {
            if (MPI_Test(&br, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) break;
            if (!done) {
                progress(m, 0, &last_beat);
                idle_sleep(100);
            }
        }
    }
    if (!done) MPI_Abort(MPI_COMM_WORLD, 1);
    progress(m, 0, &last_beat); /* drain heartbeats that arrived meanwhile */
    MPI_Finalize();
    pthread_mutex_lock(&m->mu);
    m->stopped = 1;
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

static int mpi_send(octet__transport *t, int dst, int tag, const void *buf, size_t n, octet_error *err) {
    mpi_tr *m = (mpi_tr *)t;
    if (n > (size_t)INT_MAX)
        return octet__err(err, OCTET_ERANGE, "MPI: message of %zu bytes exceeds the 2 GiB per message limit", n);
    out_msg *o = octet__calloc(1, sizeof *o);
    void *copy = o ? octet__malloc(n ? n : 1) : NULL;
    if (!copy) {
        octet__free(o);
        return octet__err(err, OCTET_ENOMEM, "MPI: out of memory sending %zu bytes", n);
    }
    if (n) memcpy(copy, buf, n);
    o->dst = dst;
    o->tag = tag;
    o->buf = copy;
    o->n = n;
    pthread_mutex_lock(&m->mu);
    if (m->ot) m->ot->next = o;
    else m->oh = o;
    m->ot = o;
    pthread_mutex_unlock(&m->mu);
    return 0;
}

static int mpi_recv(octet__transport *t, int src, int tag, void **buf, size_t *n, double timeout_s,
                    octet_error *err) {
    return octet__inbox_take(&t->inbox, t->rank, src, tag, buf, n, timeout_s, err);
}

static void mpi_abort(octet__transport *t, int code) {
    mpi_tr *m = (mpi_tr *)t;
    /* let the launcher forward this process's last output (the error message) before MPI_Abort ends us all */
    struct timespec pause = {0, 300000000L};
    nanosleep(&pause, NULL);
    pthread_mutex_lock(&m->mu);
    m->abort_req = 1;
    m->abort_code = code;
    pthread_mutex_unlock(&m->mu);
    /* the communication thread calls MPI_Abort within a millisecond; if MPI cannot end us, end ourselves */
    for (int i = 0; i < 100; i++) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    _exit(code ? code : 1);
}

static void mpi_close(octet__transport *t) {
    mpi_tr *m = (mpi_tr *)t;
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->th, NULL);
    for (out_msg *o = m->oh, *nx; o; o = nx) {
        nx = o->next;
        octet__free(o->buf);
        octet__free(o);
    }
    octet__free(m->pend);
    octet__inbox_destroy(&m->t.inbox);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    octet__free(m);
}

static const octet__transport_ops mpi_ops = {mpi_send, mpi_recv, mpi_abort, mpi_close};

int octet__transport_mpi_new(octet__transport **out, octet_error *err) {
    *out = NULL;
    mpi_tr *m = octet__calloc(1, sizeof *m);
    if (!m) return octet__err(err, OCTET_ENOMEM, "MPI: out of memory");
    m->t.ops = &mpi_ops;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    if (pthread_create(&m->th, NULL, comm_main, m)) {
        pthread_cond_destroy(&m->cv);
        pthread_mutex_destroy(&m->mu);
        octet__free(m);
        return octet__err(err, OCTET_EIO, "MPI: cannot start the communication thread");
    }
    pthread_mutex_lock(&m->mu);
    while (!m->started) pthread_cond_wait(&m->cv, &m->mu);
    int rc = m->start_rc;
    pthread_mutex_unlock(&m->mu);
    if (rc) {
        pthread_join(m->th, NULL);
        octet__err(err, OCTET_EIO, "%s", m->start_msg);
        pthread_cond_destroy(&m->cv);
        pthread_mutex_destroy(&m->mu);
        octet__free(m);
        return OCTET_EIO;
    }
    *out = &m->t;
    return 0;
}
