/*
 * pipeline.h - internals of pipeline parallelism (pipeline.c), visible to tests.
 *
 * The public side (octet_dist_*, octet_pipeline_*) is declared in include/octet.h; docs/distributed.md
 * describes the protocol and the cost model.
 */
#ifndef OCTET_DIST_PIPELINE_H
#define OCTET_DIST_PIPELINE_H

#include <stdint.h>

#include "dist/transport.h"
#include "octet.h"

struct octet_dist {
    octet__transport *t;
};

/* A world over an existing transport (tests use loopback endpoints). The dist takes ownership of t. */
int octet__dist_wrap(octet_dist **out, octet__transport *t, octet_error *err);

/* Split n_layer layers into n_stages contiguous, non-empty stages that minimise the largest stage cost, where
 * a stage costs the bytes of its layers plus last_extra for the last stage (the output matrix). bounds gets
 * n_stages + 1 entries: stage s runs layers [bounds[s], bounds[s+1]). Ties go to the earliest split. */
int octet__pipeline_partition(const uint64_t *layer_bytes, int n_layer, uint64_t last_extra, int n_stages,
                              int *bounds, octet_error *err);
/* Parse "10,12,10" (layers per stage) into bounds; the counts must be positive, n_stages of them, summing to
 * n_layer. */
int octet__pipeline_parse_split(const char *split, int n_layer, int n_stages, int *bounds, octet_error *err);
/* Fingerprint of a model file: FNV-1a 64 over the GGUF header bytes (metadata and tensor table, up to the
 * first tensor's data) and the file size. Equal files give equal fingerprints on every machine. */
int octet__model_fingerprint(const char *path, uint64_t *hash, uint64_t *file_bytes, octet_error *err);

#endif
