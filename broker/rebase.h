/* Layers applied before their lowers exist, committed onto them (a parallel
 * unpack); broker/rebase.c says how and why it is safe. */
#ifndef STRATA_REBASE_H
#define STRATA_REBASE_H

#include "meta.h"
#include "parentlink.h"
#include "tenancy.h"

/* The label containerd's unpacker puts on the extraction snapshot of every
 * layer but the first: the chain ID of its parent. */
#define LABEL_PARENT_CHAIN "containerd.io/snapshot/parent-chain-id"

/* Whether s is an active snapshot without a parent that will get one at
 * commit (it carries LABEL_PARENT_CHAIN): its layer is applied with
 * IPC_SPAWN_EXTRACT_REBASE, and its Commit runs snapshot_rebase first. */
int snapshot_rebased_later(const struct snap_info *s);

/* e is NULL when the rebase worker is done. */
typedef void (*rebase_done_fn)(void *ctx, const struct err *e);
/* Starts the rebase worker of active snapshot id onto committed snapshot
 * parent (NULL: no parent, the marks only go); done runs when it ends.
 * Fails with NotFound or FailedPrecondition for a parent that is missing
 * or not committed. */
int snapshot_rebase(const struct tenant *t, uint64_t id, const char *parent, struct job **handle,
		    rebase_done_fn done, void *ctx, struct err *e);

#endif
