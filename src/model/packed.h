/*
 * packed.h - the model's load-time repacked weights (layouts in src/kernels/repack.h): for each weight
 * matrix whose type has a layout for the kernels this CPU runs (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K with AVX-512 VNNI; Q4_0 with AVX2), a copy of its rows in
 * groups of 16, built once per model by the first float session that needs it, shared read-only by every later
 * session, freed by octet_model_close.
 *
 * The mapped file stays the source of truth: after a matrix is packed its source pages are given back to the
 * kernel (madvise, only for an mmapped, unlocked file) and fault in again if anything reads them (the integer
 * mode's weights, a tied token embedding). Rows beyond the last multiple of 16 are not packed (the forward pass
 * computes them from the file as before). Results are bit-identical either way (the kernels equal the reference
 * dot), so this is only about speed and memory; OCTET_NO_REPACK=1 in the environment turns it off (A/B runs).
 */
#ifndef OCTET_MODEL_PACKED_H
#define OCTET_MODEL_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "kernels/repack.h"
#include "model/model.h"

/* A packed matrix: group g (rows 16g..16g+15) at data + g * group_bytes, groups = ne[1] / 16. */
typedef struct octet__packed {
    const uint8_t *data;
    size_t group_bytes;
    int64_t groups;
    octet__gemm_x16_kernel *gemm; /* the kernel over the layout */
} octet__packed;

/* Pack the matrices of layers [l0, l1) (and the output matrix when l1 is the last layer) that are not packed yet,
 * in parallel on pool. Does nothing when repacking does not apply (CPU, SIMD forced off, OCTET_NO_REPACK, a file
 * read into memory or locked, no matrix of a type with a layout). Thread-safe. 0, or OCTET_ENOMEM when the
 * copies cannot be allocated (nothing of this call is then packed; the model stays usable). */
int octet__repack_prepare(const octet_model *m, int l0, int l1, octet__pool *pool, octet_error *err);
/* 1 and *out when t (a matrix of m: &m->output or one in m->layers) is packed and its kernel usable now (SIMD not
 * forced off since), else 0. */
int octet__repack_find(const octet_model *m, const octet__tensor *t, octet__packed *out);
/* Free the packed copies (octet_model_close). */
void octet__repack_release(octet_model *m);

#endif
