/* The table of mount holds (broker/holds.c), shared by the mount service
 * (broker/mountsvc.c).  What other services ask of it is in services.h. */
#ifndef STRATA_HOLDS_H
#define STRATA_HOLDS_H

#include <stdint.h>
#include <sys/types.h>
#include "../common/err.h"

struct hold {
	uint64_t id;   /* unique, so a call can find its pending hold again */
	uint64_t snap; /* snapshot id */
	void *conn;    /* the native connection that took it, while that is open */
	uid_t uid;     /* who took it (SO_PEERCRED): they or root release it */
	pid_t pid;     /* their pid, for messages */
	int rw;	       /* issued read-write: the snapshot can change through it */
	char *path;    /* an attached mount's: where, absolute and canonical */
	uint64_t dev;  /* an attached overlay's device (its own); 0: any */
	uint64_t ns;   /* the broker namespace whose mountinfo judges it; 0: none */
	struct hold *next;
};

/* Adds a copy of h (path copied too) with a new id. */
struct hold *hold_add(const struct hold *h);
/* The first hold (the rest follow through next), or NULL. */
struct hold *hold_first(void);
/* The link to the hold with that id, or to the NULL at the end. */
struct hold **hold_find(uint64_t id);
/* The link to the hold of an attached mount at path, or to the NULL at the end. */
struct hold **hold_at(const char *path);
/* Ends a hold; an attached mount's also in the metadata. */
void hold_drop(struct hold **pp);
/* Writes an attached mount's hold to the metadata. */
int hold_save(const struct hold *h, struct err *e);
/* The broker's own mount namespace, as an id for hold->ns (0: unknown). */
uint64_t holds_own_ns(void);
/* Whether a mount that client pid attaches at path shows at path in the
 * broker's own mountinfo: the broker's namespace id when it provably does,
 * else 0. */
uint64_t holds_client_shares_view(pid_t pid, const char *path);

#endif
