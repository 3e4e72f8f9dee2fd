/*
 * dist.c - the world of ranks a process belongs to (octet_dist_*): MPI_COMM_WORLD when this is an MPI build
 * started by an MPI launcher, otherwise a world of one (a loopback transport with a single rank).
 *
 * This file decides which transport to use; the stubs below stand in for mpi.c in builds without MPI, so the
 * normal build neither needs MPI nor changes behaviour.
 */
#include "core/core.h"
#include "dist/pipeline.h"

#ifndef OCTET_MPI
int octet__mpi_launched(void) { return 0; }
int octet__transport_mpi_new(octet__transport **out, octet_error *err) {
    *out = NULL;
    return octet__err(err, OCTET_EUNSUPPORTED, "this octet was built without MPI (build it with make MPI=1)");
}
#endif

int octet_dist_available(void) {
#ifdef OCTET_MPI
    return 1;
#else
    return 0;
#endif
}

int octet_dist_launched(void) { return octet_dist_available() && octet__mpi_launched(); }

int octet__dist_wrap(octet_dist **out, octet__transport *t, octet_error *err) {
    if (!out || !t) return octet__err(err, OCTET_EINVAL, "dist: NULL argument");
    *out = octet__calloc(1, sizeof **out);
    if (!*out) {
        octet__transport_close(t);
        return octet__err(err, OCTET_ENOMEM, "dist: out of memory");
    }
    (*out)->t = t;
    return 0;
}

int octet_dist_open(octet_dist **out, octet_error *err) {
    if (!out) return octet__err(err, OCTET_EINVAL, "octet_dist_open: out is NULL");
    *out = NULL;
    octet__transport *t = NULL;
    int rc = octet_dist_launched() ? octet__transport_mpi_new(&t, err) : octet__transport_local_new(&t, 1, err);
    if (rc) return rc;
    return octet__dist_wrap(out, t, err);
}

int octet_dist_rank(const octet_dist *d) { return d ? d->t->rank : 0; }
int octet_dist_size(const octet_dist *d) { return d ? d->t->size : 1; }

void octet_dist_abort(octet_dist *d, int code) {
    if (d) octet__transport_abort(d->t, code);
}

void octet_dist_close(octet_dist *d) {
    if (!d) return;
    octet__transport_close(d->t);
    octet__free(d);
}
