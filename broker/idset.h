/* Sets of snapshot ids: the directories in flight (being removed, or made
 * before their record).  A build farm's garbage collection removes
 * thousands of snapshots at once, and the broker looks each one up as it
 * is queued, as its batch ends and as a Cleanup sweeps every directory: a
 * hashed set keeps each of those O(1), so that no step of the broker's one
 * loop grows with the square of the removals queued. */
#ifndef STRATA_IDSET_H
#define STRATA_IDSET_H

#include <stddef.h>
#include <stdint.h>

/* Zeroed: the empty set.  Ids are never 0 (0 marks a free slot). */
struct idset {
	uint64_t *v; /* cap slots, open addressing with linear probing */
	size_t n, cap;
};

int idset_has(const struct idset *s, uint64_t id);
void idset_add(struct idset *s, uint64_t id);
void idset_del(struct idset *s, uint64_t id);
void idset_free(struct idset *s);

#endif
