/* Group commit in the broker: the metadata changes of one event-loop batch
 * are committed with one sync (meta_set_group_commit), by meta's committer
 * thread while the loop goes on, and whatever must not happen before they
 * are durable (answering a client, renaming a removed snapshot's directory)
 * waits for that commit here.  One batch commits at a time: writers that
 * come meanwhile wait (durable_when_writable) and form the next. */
#ifndef STRATA_DURABLE_H
#define STRATA_DURABLE_H

#include "../common/err.h"

typedef void (*durable_fn)(void *ctx, const struct err *e);

int durable_init(struct err *e);
/* Runs fn(ctx, NULL) at once when no change is waiting or committing;
 * otherwise after the commit of the loop's batch (or of the one in flight),
 * with e set when the commit failed (the changes are lost). */
void durable_then(durable_fn fn, void *ctx);
/* Runs fn(ctx, NULL) at once when a metadata write would not wait for a
 * commit in flight; otherwise once that commit is done, in order.  For
 * handlers that write, so that the loop serves others meanwhile. */
void durable_when_writable(durable_fn fn, void *ctx);
/* Commits now, waiting, and runs what waited (also used at shutdown). */
int durable_flush(struct err *e);

#endif
