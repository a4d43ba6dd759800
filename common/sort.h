/* Sorting for every strata process, instead of glibc's qsort.
 *
 * glibc's qsort (2.36) is a merge sort: past 1 KiB of array it allocates a
 * buffer, and before its first such buffer it asks sysconf for the
 * machine's physical memory, a sysinfo call.  No confined process's policy
 * allows sysinfo, so a sort of 43 labels killed the broker, and a
 * directory of a few hundred names would kill a diff worker.  sort_array
 * makes no call at all: a heapsort, in place, without recursion, in
 * O(n log n) comparisons whatever the input.  It is not stable: every
 * caller compares by a total order (or equal elements are alike). */
#ifndef STRATA_SORT_H
#define STRATA_SORT_H

#include <stddef.h>

/* As qsort: n elements of size bytes at base, in ascending order of cmp. */
void sort_array(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

#endif
