/*
 * map.h - a read-only view of a whole file: mmap(2) when asked, otherwise the file read into one heap block
 * (aligned to 4096 bytes, so offsets aligned in the file are aligned in memory as they would be in a mapping).
 *
 * The view owns what it maps or allocates; octet__map_close releases it (and unlocks it when locked).
 */
#ifndef OCTET_MAP_H
#define OCTET_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "octet.h"

typedef struct octet__map {
    const uint8_t *data; /* size bytes, read-only; never NULL after a successful open (empty file: a static byte) */
    uint64_t size;
    int mapped;          /* 1: data is an mmap of the file */
    void *heap;          /* the heap block behind data when !mapped (owned) */
    int locked;          /* mlock succeeded on [data, data + size) */
} octet__map;

/* Map (use_mmap != 0) or read path. Errors: OCTET_EIO (open/stat/read/mmap failed, not a regular file),
 * OCTET_ENOMEM (read mode: the copy cannot be allocated). On error *m is zeroed. */
int octet__map_open(octet__map *m, const char *path, int use_mmap, octet_error *err);
/* Lock the view in RAM (mlock). OCTET_EIO with the reason (typically RLIMIT_MEMLOCK) on failure. */
int octet__map_lock(octet__map *m, octet_error *err);
/* Release; accepts a zeroed map. */
void octet__map_close(octet__map *m);

/* Give back the pages wholly inside [p, p + n) of a mapped, unlocked view (madvise MADV_DONTNEED): they are read
 * again from the file when next touched, so the view's contents do not change. Returns 1 when released, 0 when
 * the view is not an mmap (a heap copy must keep its bytes), is locked, or madvise refused. */
int octet__map_drop(const octet__map *m, const void *p, size_t n);
/* 1 when octet__map_drop can release pages of this view (an mmap, not locked). */
int octet__map_droppable(const octet__map *m);
/* Map the pages of [p, p + n) of a mapped view in one call (madvise MADV_POPULATE_READ, Linux 5.14+) instead of
 * a page fault per few pages when they are first read; a no-op where unsupported. */
void octet__map_prefault(const octet__map *m, const void *p, size_t n);

/* mlock / munlock of an arbitrary read-only range (rounded out to pages). */
int octet__mem_lock(const void *p, size_t n, const char *name, octet_error *err);
void octet__mem_unlock(const void *p, size_t n);

#endif
