/* What a failed layer apply leaves in its target: nothing, or a mark.
 *
 * An apply fails for many causes: a hostile or corrupt entry, a limit
 * (extract_max_*), a decompression error, a full disk, a digest that does
 * not match, its client gone (Ctrl-C, a closed connection: broker/jobs.c
 * cancels the job), its worker killed.  By then the worker may have written
 * part of the layer.  The caller hears of the failure only once one of two
 * things is done, by the root side and the broker alone (the worker may be
 * dead):
 *   - the target was empty before (the case of every unpack: Prepare,
 *     Apply, Commit): it is empty again.  The parent swaps its fs for a
 *     fresh empty directory (IPC_SNAP_RESET, with the owner and mode
 *     Prepare gave it) and a remove job deletes the old tree;
 *   - it had content: what the layer wrote cannot be told from what was
 *     there, so the snapshot is marked failed (meta_failed_put, in the
 *     metadata): Commit refuses it until it is removed.  A later apply that
 *     succeeds keeps the mark, as the tree is still mixed.
 *
 * "Empty before" is what the spawner saw in the target right before it
 * forked the worker (IPC_SPAWNED_TARGET_EMPTY), not what the metadata
 * says.  The metadata knows of strata's applies and mount fds, but not of
 * files written through the mounts containerd or a client built itself from
 * Mounts (as root, outside strata): a snapshot that never saw an apply may
 * hold a container's files, and emptying it would destroy data nobody asked
 * to lose.  The spawner is trusted and looks before anything of the job can
 * write, so neither the layer nor the worker can make it lie.  What may
 * change the tree beside the worker meanwhile is known from the metadata
 * and vetoes the emptying: a mount hold of the snapshot (a client has it
 * mounted; it may have written since the look, and its mount would keep
 * the old tree) or a read-write mount fd ever issued for it (`written`: the
 * fd may still be open).  Then it counts as having had content.  A job
 * whose worker never ran (cancelled while queued, or it could not start)
 * wrote nothing: the target is as it was, and nothing is done. */
#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "../common/util.h"
#include "broker.h"
#include "meta.h"
#include "parentlink.h"
#include "services.h"

struct undo {
	apply_undone_fn done;
	void *ctx;
};

static void emptied(void *ctx)
{
	struct undo u = *(struct undo *)ctx;
	free(ctx);
	u.done(u.ctx, "; the snapshot is empty again");
}

/* The id of the snapshot's parent, 0 when it has none. */
static int parent_of(uint64_t id, uint64_t *parent, struct err *e)
{
	struct snap_info s = {0};
	cleanup_free uint64_t *ids = NULL;
	size_t n = 0;
	if (meta_get_by_id(broker.meta, id, &s, e) < 0)
		return -1;
	int rc = meta_parent_ids(broker.meta, s.name, &ids, &n, e);
	snap_info_free(&s);
	*parent = rc == 0 && n ? ids[0] : 0;
	return rc;
}

void apply_failed(uint64_t id, const char *key, const struct job_result *res, const char *why,
		  apply_undone_fn done, void *ctx)
{
	unsigned long long n = (unsigned long long)id;
	struct err e = {0};
	if (!res->ran) {
		log_info("apply to `%s` (snapshot %llu) failed before its worker ran: %s", key, n, why);
		return done(ctx, "");
	}
	if (res->target_empty && !mount_holds(id) && !meta_written(broker.meta, id)) {
		uint64_t parent;
		if (parent_of(id, &parent, &e) == 0 && plink_snap_reset(id, parent, &e) == 0) {
			log_info("apply to `%s` (snapshot %llu) failed: %s; emptying it again", key, n, why);
			struct undo *u = xmalloc(sizeof *u);
			*u = (struct undo){done, ctx};
			/* The old tree is rm-ID now: deleted (or, failing that, left
			 * to Cleanup) before the caller hears of the failure. */
			return remove_dir_async(id, 0, emptied, u);
		}
		log_warn("apply to `%s` (snapshot %llu): cannot empty it again: %s", key, n, e.msg);
	}
	if (meta_failed_put(broker.meta, id, &e) < 0)
		log_err("apply to `%s` (snapshot %llu): cannot mark it failed: %s", key, n, e.msg);
	log_info("apply to `%s` (snapshot %llu) failed: %s; it had content before: marked failed", key, n,
		 why);
	done(ctx, "; the snapshot had content before: it is marked failed, remove it");
}
