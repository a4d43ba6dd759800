/* broker/idset.h: open addressing, linear probing, a power-of-two table at
 * most 3/4 full; a deletion shifts the entries after it back (no
 * tombstones), and the table shrinks once it is 1/16 full, so that a burst
 * of removals leaves no large table behind. */
#include "idset.h"

#include <stdlib.h>

#include "../common/util.h"

#define MIN_CAP 16

/* The home slot of id: a 64-bit mix (splitmix64's finaliser), so that ids
 * handed out in sequence spread over the table. */
static size_t home(uint64_t id, size_t cap)
{
	id ^= id >> 30;
	id *= 0xbf58476d1ce4e5b9ull;
	id ^= id >> 27;
	id *= 0x94d049bb133111ebull;
	id ^= id >> 31;
	return (size_t)id & (cap - 1);
}

/* The slot holding id, or the free slot where it would go. */
static size_t find(const struct idset *s, uint64_t id)
{
	size_t i = home(id, s->cap);
	while (s->v[i] && s->v[i] != id)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static void resize(struct idset *s, size_t cap)
{
	struct idset t = {.v = xcalloc(cap, sizeof *t.v), .n = s->n, .cap = cap};
	for (size_t i = 0; i < s->cap; i++)
		if (s->v[i])
			t.v[find(&t, s->v[i])] = s->v[i];
	free(s->v);
	*s = t;
}

int idset_has(const struct idset *s, uint64_t id)
{
	return s->cap && id && s->v[find(s, id)] == id;
}

void idset_add(struct idset *s, uint64_t id)
{
	if (!id || idset_has(s, id))
		return;
	if (!s->cap)
		*s = (struct idset){.v = xcalloc(MIN_CAP, sizeof *s->v), .cap = MIN_CAP};
	else if ((s->n + 1) * 4 > s->cap * 3)
		resize(s, s->cap * 2);
	s->v[find(s, id)] = id;
	s->n++;
}

void idset_del(struct idset *s, uint64_t id)
{
	if (!idset_has(s, id))
		return;
	size_t mask = s->cap - 1, gap = find(s, id);
	s->v[gap] = 0;
	s->n--;
	/* Every entry after the gap, up to the next free slot, that may live
	 * in it (its home is not between the gap and itself) moves there. */
	for (size_t j = (gap + 1) & mask; s->v[j]; j = (j + 1) & mask)
		if (((j - home(s->v[j], s->cap)) & mask) >= ((j - gap) & mask)) {
			s->v[gap] = s->v[j];
			s->v[j] = 0;
			gap = j;
		}
	if (s->cap > MIN_CAP && s->n * 16 < s->cap)
		resize(s, s->cap / 4 < MIN_CAP ? MIN_CAP : s->cap / 4);
}

void idset_free(struct idset *s)
{
	free(s->v);
	*s = (struct idset){0};
}
