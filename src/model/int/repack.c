/*
 * repack.c - load-time q8_0x16 copies of the integer weight matrices (kernels/repack.h) for the AVX-512 VNNI
 * kernels (kernels/int_repack.h), built once with the integer weights (weights.c) when the CPU has AVX-512 VNNI,
 * SIMD is on and the environment variable OCTET_NO_REPACK is unset (or "0"; OCTET_NO_REPACK=1 turns it off, for
 * A/B runs). Rows 0 .. 16 n16 - 1 of a matrix are copied; a tail of n_out mod 16 rows stays with the Q8_0 rows.
 *
 * Memory: the copy is as large as the rows it holds (16 * 34 bytes per block of 16 rows), so when the rows come
 * straight from a mapped file the pages behind them are released with madvise(MADV_DONTNEED) after packing: the
 * mapping is private and read-only, so a page touched again later (an embedding lookup, the tail rows, the float
 * mode, the portable kernels) is read back from the file. RSS then holds the copy instead of the file's pages.
 * Rows requantized from another type (im->own) are freed when the groups hold them all (no tail): im->w is then NULL and every product of the matrix goes through the groups (forward_int.c,
 * mm_rows_x16, also without AVX-512: row by row unpacked), as do the embedding lookups of a tied output (x16_row).
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/int/int_impl.h"

#include <sys/mman.h>
#include <unistd.h>

#include "kernels/kset.h"

static int repack_wanted(void) {
    const char *s = getenv("OCTET_NO_REPACK");
    return !(s && *s && strcmp(s, "0") != 0);
}

/* The kernel set in use has the 16-row integer kernels (kset.h: AVX-512 VNNI on x86). */
int octet__int_repack_usable(void) {
    const octet__ikernel_table *ik = octet__ikernels();
    return ik->pack16 && ik->block_aux && ik->gemm16 && ik->gemm16_y;
}

/* The whole pages of [*from, p + n) released and *from moved past them (a page shared with other data stays). */
static void drop_pages(uintptr_t *from, const uint8_t *p, size_t n) {
    long ps = sysconf(_SC_PAGESIZE);
    const uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096u;
    const uintptr_t a = (*from + page - 1) & ~(page - 1), b = ((uintptr_t)p + n) & ~(page - 1);
    if (b > a) {
        (void)madvise((void *)a, (size_t)(b - a), MADV_DONTNEED);
        *from = b;
    }
}

int octet__int_mat_repack(octet__int_mat *im, int drop) {
    if (!octet__int_repack_usable() || !repack_wanted() || im->n_out < 16) return 0;
    const int n16 = im->n_out / 16;
    const size_t gb = octet__q8_0x16_bytes(im->n_in);
    size_t total;
    /* aligned to 2 MiB and marked for transparent huge pages: a 4 KiB page fault per 4 KiB written would cost
     * as much as the packing (the slack before the aligned start is never touched) */
    const size_t huge = (size_t)1 << 21;
    size_t bytes;
    if (!octet__mul_size((size_t)n16, gb, &bytes) || !octet__add_size(bytes, huge, &total)) return -1;
    uint8_t *mem = octet__malloc(total);
    if (!mem) return -1;
    uint8_t *x16 = mem + ((huge - ((uintptr_t)mem & (huge - 1))) & (huge - 1));
#ifdef MADV_HUGEPAGE
    if (bytes >= huge) (void)madvise(x16, bytes & ~(huge - 1), MADV_HUGEPAGE);
#endif
    /* the source released as the copy grows (every 1 MiB or so), so the two together stay near one matrix: the
     * file's pages (drop), or requantized rows that are freed afterwards (the groups hold them all): their whole
     * pages given back (MADV_DONTNEED on private anonymous memory: zero if touched again, and they are not) */
    const int own_freed = im->own && 16 * n16 == im->n_out;
    if (own_freed) drop = 1;
    const size_t gsrc = 16 * im->row_bytes;
    uintptr_t from = (uintptr_t)im->w; /* the source is released up to here */
    for (int g = 0; g < n16; g++) {
        octet__ikernels()->pack16(im->n_in, x16 + (size_t)g * gb, im->w + (size_t)g * gsrc, im->row_bytes);
        const size_t end = (size_t)(g + 1) * gsrc;
        if (drop && ((uintptr_t)im->w + end - from >= ((uintptr_t)1 << 20) || g + 1 == n16))
            drop_pages(&from, im->w, end);
    }
    im->x16_mem = mem;
    im->x16 = x16;
    im->x16_bytes = gb;
    im->n16 = n16;
    if (own_freed) { /* requantized rows: the groups hold them all */
        octet__free(im->own);
        im->own = NULL;
        im->w = NULL;
    }
    return 0;
}

void octet__int_mat_repack_free(octet__int_mat *im) {
    octet__free(im->x16_mem);
    im->x16_mem = NULL;
    im->x16 = NULL;
    im->n16 = 0;
}
