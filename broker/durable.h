/* Group commit in the broker: the metadata changes of one event-loop batch
 * are committed with one sync (meta_set_group_commit), and whatever must not
 * happen before they are durable (answering a client, renaming a removed
 * snapshot's directory) waits for that commit here. */
#ifndef STRATA_DURABLE_H
#define STRATA_DURABLE_H

#include "../common/err.h"

typedef void (*durable_fn)(void *ctx, const struct err *e);

void durable_init(void);
/* Runs fn(ctx, NULL) at once when no change is waiting; otherwise after the
 * batch commit, with e set when the commit failed (the changes are lost). */
void durable_then(durable_fn fn, void *ctx);
/* Commits now and runs what waited (also used at shutdown). */
void durable_flush(void);

#endif
