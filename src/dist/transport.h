/*
 * transport.h - how pipeline stages talk: tagged byte messages between numbered ranks.
 *
 * A transport joins size ranks, 0..size-1; this process is rank. Messages are byte buffers with a tag. Between
 * one sender and one receiver, messages of one tag arrive in the order they were sent (MPI's non-overtaking
 * rule; the loopback transport keeps it too).
 *
 *   send  copies the buffer and returns: it never waits for the receiver, so two ranks that send to each other
 *         cannot deadlock, and a stage may send its output and go on computing the next micro-batch while the
 *         bytes travel (a communication thread or the loopback queue moves them).
 *   recv  hands out the oldest message from src with tag, in a buffer the caller frees with octet__free. It
 *         waits while src is alive: a peer counts as alive while anything from it (data or a heartbeat, which
 *         the MPI transport sends every OCTET__DIST_HEARTBEAT_S) arrived within timeout_s seconds. Otherwise
 *         it fails with OCTET_EIO and a message naming the silent rank, so a dead or stopped rank is reported
 *         within a bounded time, never a hang.
 *   abort ends every rank of the job (MPI_Abort); the loopback transport makes every pending and later recv
 *         fail instead, so tests can observe it.
 *
 * Two implementations: transport_local.c (threads of one process, for tests) and mpi.c (the only file that
 * includes <mpi.h>, compiled only by `make MPI=1`). Both keep received messages in the inbox below.
 */
#ifndef OCTET_DIST_TRANSPORT_H
#define OCTET_DIST_TRANSPORT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "octet.h"

#define OCTET__DIST_HEARTBEAT_S 1.0  /* seconds between heartbeats of the MPI transport */
#define OCTET__DIST_MAX_RANKS 1024   /* more stages than this would be slower than fewer: far above any use */
#define OCTET__DIST_MAX_MSG (UINT64_C(1) << 34) /* 16 GiB: a message beyond this is a corrupted header */

enum { OCTET__TAG_DATA = 1, OCTET__TAG_CTRL = 2, OCTET__TAG_HEARTBEAT = 3 };

typedef struct octet__transport octet__transport;
typedef struct octet__transport_ops {
    int (*send)(octet__transport *t, int dst, int tag, const void *buf, size_t n, octet_error *err);
    int (*recv)(octet__transport *t, int src, int tag, void **buf, size_t *n, double timeout_s, octet_error *err);
    void (*abort)(octet__transport *t, int code);
    void (*close)(octet__transport *t);
} octet__transport_ops;

/* A received message waiting in an inbox. */
typedef struct octet__msg {
    struct octet__msg *next;
    int src, tag;
    size_t n;
    void *buf;
} octet__msg;

/* The inbox of one rank: messages in arrival order, the time each peer was last heard from, and a failure
 * state (set by abort or by a broken link) that makes every recv fail with its message. */
typedef struct octet__inbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    octet__msg *head, *tail;
    int n_ranks;
    double *last_heard; /* [n_ranks], octet__dist_now() seconds */
    int failed;
    char fail_msg[256];
} octet__inbox;

struct octet__transport {
    const octet__transport_ops *ops;
    int rank, size;
    octet__inbox inbox;
};

/* Monotonic seconds. */
double octet__dist_now(void);

int octet__inbox_init(octet__inbox *q, int n_ranks, octet_error *err);
void octet__inbox_destroy(octet__inbox *q);
/* Append a message (takes ownership of buf, which must come from octet__malloc); marks src as heard from. */
void octet__inbox_put(octet__inbox *q, int src, int tag, void *buf, size_t n);
/* Mark src as alive now (heartbeats). */
void octet__inbox_heard(octet__inbox *q, int src);
/* Make every current and later take fail with msg (the first failure wins). */
void octet__inbox_fail(octet__inbox *q, const char *msg);
/* The recv contract above, for rank `self`. */
int octet__inbox_take(octet__inbox *q, int self, int src, int tag, void **buf, size_t *n, double timeout_s,
                      octet_error *err);

/* Wrappers (check arguments, then call the ops). */
int octet__send(octet__transport *t, int dst, int tag, const void *buf, size_t n, octet_error *err);
int octet__recv(octet__transport *t, int src, int tag, void **buf, size_t *n, double timeout_s, octet_error *err);
void octet__transport_abort(octet__transport *t, int code);
void octet__transport_close(octet__transport *t);

/* Loopback: n_ranks endpoints of one process (each rank runs in its own thread). eps[i] is rank i; close each
 * endpoint, in any order (the shared state goes with the last one). */
int octet__transport_local_new(octet__transport **eps, int n_ranks, octet_error *err);

/* MPI (mpi.c, only in `make MPI=1` builds): 1 when this process was started by an MPI launcher. */
int octet__mpi_launched(void);
/* Join MPI_COMM_WORLD (MPI_Init_thread from the transport's communication thread). */
int octet__transport_mpi_new(octet__transport **out, octet_error *err);

#endif
