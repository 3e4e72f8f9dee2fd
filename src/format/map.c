/*
 * map.c - read-only file views (see map.h). POSIX only: open, fstat, mmap, read, mlock.
 */
#include "map.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

#define MAP_HEAP_ALIGN 4096u

static const uint8_t empty_file[1];

int octet__map_open(octet__map *m, const char *path, int use_mmap, octet_error *err) {
    memset(m, 0, sizeof *m);
    if (!path) return octet__err(err, OCTET_EINVAL, "map: path is NULL");
    int fd;
    do fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return octet__err(err, OCTET_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return octet__err(err, OCTET_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return octet__err(err, OCTET_EIO, "%s: not a regular file", path);
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)SIZE_MAX - MAP_HEAP_ALIGN) {
        close(fd);
        return octet__err(err, OCTET_EIO, "%s: file size %lld does not fit in memory", path, (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size;
    if (size == 0) {
        close(fd);
        m->data = empty_file;
        return 0;
    }
    if (use_mmap) {
        void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        int e = errno;
        close(fd);
        if (p == MAP_FAILED) return octet__err(err, OCTET_EIO, "%s: mmap of %zu bytes failed: %s", path, size, strerror(e));
        m->data = p;
        m->size = size;
        m->mapped = 1;
        return 0;
    }
    void *heap = octet__malloc(size + MAP_HEAP_ALIGN);
    if (!heap) {
        close(fd);
        return octet__err(err, OCTET_ENOMEM, "%s: cannot allocate %zu bytes to read the file", path, size);
    }
    uint8_t *buf = (uint8_t *)heap + ((MAP_HEAP_ALIGN - ((uintptr_t)heap % MAP_HEAP_ALIGN)) % MAP_HEAP_ALIGN);
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            close(fd);
            octet__free(heap);
            if (r == 0)
                return octet__err(err, OCTET_EIO, "%s: file shrank while reading (%zu of %zu bytes)", path, got, size);
            return octet__err(err, OCTET_EIO, "%s: read failed at byte %zu: %s", path, got, strerror(e));
        }
        got += (size_t)r;
    }
    close(fd);
    m->data = buf;
    m->size = size;
    m->heap = heap;
    return 0;
}

static void page_range(const void *p, size_t n, uintptr_t *start, size_t *len) {
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096u;
    uintptr_t a = (uintptr_t)p & ~(page - 1);
    uintptr_t b = (uintptr_t)p + n;
    *start = a;
    *len = (size_t)(b - a);
}

int octet__mem_lock(const void *p, size_t n, const char *name, octet_error *err) {
    if (n == 0) return 0;
    uintptr_t a;
    size_t len;
    page_range(p, n, &a, &len);
    if (mlock((const void *)a, len) != 0) {
        int e = errno;
        return octet__err(err, OCTET_EIO, "%s: mlock of %zu bytes failed: %s%s", name ? name : "memory", n,
                          strerror(e), e == ENOMEM || e == EPERM ? " (raise RLIMIT_MEMLOCK: ulimit -l)" : "");
    }
    return 0;
}

void octet__mem_unlock(const void *p, size_t n) {
    if (n == 0) return;
    uintptr_t a;
    size_t len;
    page_range(p, n, &a, &len);
    munlock((const void *)a, len);
}

int octet__map_lock(octet__map *m, octet_error *err) {
    if (m->locked || m->size == 0) return 0;
    int rc = octet__mem_lock(m->data, (size_t)m->size, "map", err);
    if (rc == 0) m->locked = 1;
    return rc;
}

int octet__map_droppable(const octet__map *m) { return m->mapped && !m->locked; }

int octet__map_drop(const octet__map *m, const void *p, size_t n) {
    if (!octet__map_droppable(m) || n == 0) return 0;
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096u;
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), b = ((uintptr_t)p + n) & ~(page - 1);
    const uintptr_t lo = (uintptr_t)m->data, hi = lo + (uintptr_t)m->size;
    if ((uintptr_t)p < lo || (uintptr_t)p + n > hi || b <= a) return 0;
    /* MADV_DONTNEED on a private, never written file mapping drops the process's page table entries only: the
     * next read faults the file's bytes back in (madvise(2)). */
    return madvise((void *)a, (size_t)(b - a), MADV_DONTNEED) == 0;
}

void octet__map_prefault(const octet__map *m, const void *p, size_t n) {
#ifdef MADV_POPULATE_READ
    if (!m->mapped || n == 0) return;
    uintptr_t a;
    size_t len;
    page_range(p, n, &a, &len);
    const uintptr_t lo = (uintptr_t)m->data, hi = lo + (uintptr_t)m->size;
    if ((uintptr_t)p < lo || (uintptr_t)p + n > hi) return;
    (void)madvise((void *)a, len, MADV_POPULATE_READ);
#else
    (void)m, (void)p, (void)n;
#endif
}

void octet__map_close(octet__map *m) {
    if (!m) return;
    if (m->locked) octet__mem_unlock(m->data, (size_t)m->size);
    if (m->mapped) munmap((void *)(uintptr_t)m->data, (size_t)m->size);
    octet__free(m->heap);
    memset(m, 0, sizeof *m);
}
