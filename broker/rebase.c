/* Parallel unpack (containerd 2.2's unpacker with the snapshotter's
 * "rebase" capability; `strata import`): each layer is prepared without a
 * parent, with the label containerd.io/snapshot/parent-chain-id naming the
 * chain it will sit on, applied while the layers below it are still being
 * applied, and committed onto its parent, given then (CommitSnapshotRequest
 * .parent), once that parent is committed.
 *
 * Applied before its lowers exist, such a layer cannot take from them what
 * a layer applied over them takes: the owner, mode and xattrs of the parent
 * directories it does not carry, and the lowers' xattrs of a directory
 * entry merged into such a parent.  Its extract worker (with
 * IPC_SPAWN_EXTRACT_REBASE) converts whiteouts as over lowers and marks
 * those directories in the upperdir with a trusted.* xattr; at Commit, a
 * rebase worker, confined as the extract worker is, given the new parent's
 * layers read-only, gives each marked directory what they hold and removes
 * the marks, before the record is committed: a committed snapshot never
 * carries one, and the tree equals the one a sequential unpack writes
 * (tests/integration/apply-vs-containerd.sh, parallel-import.sh).
 *
 * Safety: the rebase worker reads only its lowers (read-only binds, opened
 * read-only, resolved inside each lower) and changes only metadata of
 * directories inside its target; a layer cannot forge a mark (the extract
 * engine drops trusted.* entries), and a mark a client planted by other
 * means (a mount of its own active snapshot) only makes that client's
 * snapshot take its own parent's metadata.  Marks are trusted.* xattrs:
 * unprivileged users and containers do not see them, and diffs never write
 * trusted.* xattrs. */
#include <string.h>

#include "../common/util.h"
#include "broker.h"
#include "parentlink.h"
#include "rebase.h"
#include "services.h"

int snapshot_rebased_later(const struct snap_info *s)
{
	if (s->kind != KIND_ACTIVE || (s->parent && s->parent[0]))
		return 0;
	for (size_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i].key, LABEL_PARENT_CHAIN))
			return 1;
	return 0;
}

struct rebasing {
	uint64_t id;
	rebase_done_fn done;
	void *ctx;
};

static void rebased(void *ctx, const struct job_result *res, const struct err *e)
{
	(void)res;
	struct rebasing *rb = ctx;
	snapshot_apply_end(rb->id);
	rb->done(rb->ctx, e);
	free(rb);
}

int snapshot_rebase(const struct tenant *t, uint64_t id, const char *parent, struct job **handle,
		    rebase_done_fn done, void *ctx, struct err *e)
{
	cleanup_free uint64_t *lower = NULL;
	size_t nlower = 0;
	if (parent) {
		struct snap_info p = {0};
		if (meta_get(broker.meta, parent, &p, e) < 0)
			return err_set(e, ST_NOT_FOUND, "missing parent `%s`", parent);
		uint64_t pid = p.id;
		int pkind = p.kind;
		snap_info_free(&p);
		if (pkind != KIND_COMMITTED)
			return err_set(e, ST_FAILED_PRECONDITION, "parent `%s` is not committed", parent);
		uint64_t *up = NULL;
		size_t nup = 0;
		if (meta_parent_ids(broker.meta, parent, &up, &nup, e) < 0)
			return -1;
		if (nup + 1 > IPC_MAX_LOWER) {
			free(up);
			return err_set(e, ST_FAILED_PRECONDITION, "parent `%s` has %zu layers, more than %d",
				       parent, nup + 1, IPC_MAX_LOWER);
		}
		lower = xcalloc(nup + 1, sizeof *lower);
		lower[0] = pid;
		if (nup)
			memcpy(lower + 1, up, nup * sizeof *up);
		nlower = nup + 1;
		free(up);
	}
	struct job_spec spec = {
	    .role = ROLE_REBASE,
	    .tenant = t,
	    .target = id,
	    .lower = lower,
	    .nlower = nlower,
	    .handle = handle,
	};
	struct rebasing *rb = xcalloc(1, sizeof *rb);
	*rb = (struct rebasing){id, done, ctx};
	/* Written from now on: Remove, Diff, an apply and another Commit of
	 * the snapshot wait until rebased() (broker/snapguard.c). */
	snapshot_apply_begin(id);
	if (!job_start(&spec, NULL, rebased, rb, e)) {
		snapshot_apply_end(id);
		free(rb);
		return -1;
	}
	return 0;
}
