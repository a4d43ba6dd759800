/* What must not happen to a snapshot while it is mounted or while a layer
 * is applied to it.
 *
 * A committed snapshot never changes: it is the parent of others and, named
 * by chain ID, the layer of every image that has it.  So Commit waits (is
 * refused, FailedPrecondition, as Remove of a held snapshot is) until no
 * mount fd was issued read-write for it and no apply writes into it.  While
 * an apply writes, nothing else may use the snapshot's tree as if it were
 * whole: a second apply would interleave with it, a diff would read half a
 * layer, and Remove would delete the tree under the writing worker (which
 * then reports success for a key that is gone).  Holds are counted in
 * broker/holds.c; the applies running (or queued) per snapshot here.
 * Updating labels changes nothing on disk and is never refused. */
#include <stdio.h>

#include "../common/util.h"
#include "services.h"

static struct applying {
	uint64_t id;
	unsigned n;
} * applying;
static size_t napplying;

static struct applying *find(uint64_t id)
{
	for (size_t i = 0; i < napplying; i++)
		if (applying[i].id == id)
			return &applying[i];
	return NULL;
}

void snapshot_apply_begin(uint64_t id)
{
	struct applying *a = find(id);
	if (!a) {
		applying = xrealloc(applying, (napplying + 1) * sizeof *applying);
		a = &applying[napplying++];
		*a = (struct applying){.id = id};
	}
	a->n++;
}

void snapshot_apply_end(uint64_t id)
{
	struct applying *a = find(id);
	if (a && --a->n == 0)
		*a = applying[--napplying];
}

int snapshot_guards(void)
{
	return napplying > 0 || mount_holds(0) > 0;
}

int snapshot_guard(uint64_t id, const char *key, enum snapshot_op op, struct err *e)
{
	struct applying *a = find(id);
	unsigned jobs = a ? a->n : 0;
	unsigned holds = op == SNAP_REMOVE ? mount_holds(id) : op == SNAP_COMMIT ? mount_holds_rw(id) : 0;
	char names[320];
	if (!jobs && !holds)
		return 0;
	mount_holds_name(id, op == SNAP_COMMIT, names, sizeof names);
	char mounted[400] = "", applied[80] = "";
	if (holds)
		snprintf(mounted, sizeof mounted, "is mounted%s (%u hold%s: %s)",
			 op == SNAP_COMMIT ? " read-write" : "", holds, holds == 1 ? "" : "s", names);
	if (jobs)
		snprintf(applied, sizeof applied, "%s a layer being applied to it (%u job%s)",
			 holds ? " and has" : "has", jobs, jobs == 1 ? "" : "s");
	return err_set(e, ST_FAILED_PRECONDITION, "`%s` %s%s: %s", key, mounted, applied,
		       holds && jobs ? "unmount it and wait for the apply to end"
		       : holds	     ? "unmount it first"
				     : "wait for the apply to end");
}
