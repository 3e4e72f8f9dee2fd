/*
 * gguf_write.h - a streaming GGUF v3 writer (the layout is described at the top of gguf.c and in docs/gguf.md).
 *
 * Use: new -> set/copy key-values and add tensor infos (any order between the two) -> begin_data (writes the
 * header) -> write_data with every tensor's bytes, in the order the tensors were added -> finish. Nothing
 * reaches the destination path until finish: the data goes to an unnamed O_TMPFILE in the destination's folder
 * (so a killed process leaves nothing behind), and finish fsyncs it, links it as "<path>.tmp.<pid>" and renames
 * that over path, then fsyncs the folder. Where O_TMPFILE is unavailable a named temporary file
 * ("<path>.tmp.XXXXXX") is used instead; octet__gguf_writer_free on a writer that has not finished removes it, so
 * an error (or an interrupted caller that frees the writer) never leaves a partial output.
 *
 * Keys: setting a key that is already present replaces its value in place (its position is kept), so a caller
 * may copy every key of an input and then override a few. Tensor data offsets are assigned in add order, each
 * aligned to the writer's alignment (general.alignment: written automatically when it is not 32).
 * Every size is overflow-checked; names and keys are bounded by src/core/limits.h.
 */
#ifndef OCTET_GGUF_WRITE_H
#define OCTET_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "format/gguf.h"
#include "octet.h"

typedef struct octet__gguf_writer octet__gguf_writer;

/* Create the temporary file next to path. alignment: 0 means 32; otherwise a power of two in 8..65536.
 * Errors: OCTET_EINVAL (bad alignment), OCTET_EIO (the folder is not writable), OCTET_ENOMEM. */
int octet__gguf_writer_new(octet__gguf_writer **out, const char *path, uint32_t alignment, octet_error *err);
/* Removes the temporary file unless finish succeeded. Accepts NULL. */
void octet__gguf_writer_free(octet__gguf_writer *w);
/* The temporary file's path (for tests and messages); NULL after finish. */
const char *octet__gguf_writer_tmp_path(const octet__gguf_writer *w);

/* Key-values (before begin_data). Keys are NUL-terminated UTF-8, 1..OCTET_MAX_GGUF_KEY_BYTES bytes. */
int octet__gguf_writer_copy_kv(octet__gguf_writer *w, const octet__gguf *g, int64_t i, octet_error *err);
int octet__gguf_writer_set_u32(octet__gguf_writer *w, const char *key, uint32_t v, octet_error *err);
int octet__gguf_writer_set_i32(octet__gguf_writer *w, const char *key, int32_t v, octet_error *err);
int octet__gguf_writer_set_u64(octet__gguf_writer *w, const char *key, uint64_t v, octet_error *err);
int octet__gguf_writer_set_f32(octet__gguf_writer *w, const char *key, float v, octet_error *err);
int octet__gguf_writer_set_bool(octet__gguf_writer *w, const char *key, int v, octet_error *err);
int octet__gguf_writer_set_str(octet__gguf_writer *w, const char *key, const char *s, size_t len,
                               octet_error *err);
/* A scalar value of any non-string, non-array type given as its little-endian bytes (1, 2, 4 or 8). */
int octet__gguf_writer_set_scalar(octet__gguf_writer *w, const char *key, int vtype, const void *bytes,
                                  octet_error *err);
/* An array of n fixed-size elements (elem_type not STRING or ARRAY), packed little-endian. */
int octet__gguf_writer_set_arr(octet__gguf_writer *w, const char *key, int elem_type, const void *data,
                               uint64_t n, octet_error *err);
/* An array of n strings (lens[i] bytes each; lens NULL: NUL-terminated). */
int octet__gguf_writer_set_str_arr(octet__gguf_writer *w, const char *key, const char *const *strs,
                                   const uint64_t *lens, uint64_t n, octet_error *err);

/* A tensor info (before begin_data): 1..4 dims, every ne >= 1, ne[0] a multiple of the type's block size.
 * Names are unique, 1..OCTET_MAX_GGUF_TENSOR_NAME_BYTES bytes. *n_bytes (optional) gets its data size. */
int octet__gguf_writer_add_tensor(octet__gguf_writer *w, const char *name, int n_dims, const int64_t *ne, int type,
                                  uint64_t *n_bytes, octet_error *err);

/* Write the header and the padding before the data section. */
int octet__gguf_writer_begin_data(octet__gguf_writer *w, octet_error *err);
/* Append n bytes of tensor data. The bytes go to the current tensor (the first added one whose data is not
 * complete); a call may not cross the end of a tensor. Padding between tensors is written automatically. */
int octet__gguf_writer_write_data(octet__gguf_writer *w, const void *data, size_t n, octet_error *err);
/* Check that every tensor is complete, flush, fsync, rename to the destination, fsync the folder. */
int octet__gguf_writer_finish(octet__gguf_writer *w, octet_error *err);
/* Bytes written to the file so far (header included). */
uint64_t octet__gguf_writer_bytes_written(const octet__gguf_writer *w);

#endif
