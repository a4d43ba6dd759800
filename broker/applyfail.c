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
 * wrote nothing: the target is as it was, and nothing is done.
 *
 * A crash of the broker, or of the whole daemon, in the middle of an apply
 * leaves no caller to hear of it and no memory of what the spawner saw, so
 * that is written down before the worker may write: when the spawner
 * reports the worker forked (SPAWNED, with its look at the target), the
 * broker records in the metadata that an apply is under way on the
 * snapshot and whether the target was empty (meta_applying_put), and only
 * once that record is durable (broker/durable.h) does it tell the worker to
 * begin (JOB_GO, broker/jobs.c): the extract worker waits for it before it
 * opens its target or reads its input.  The record goes when the apply
 * ended: after a success, before its caller hears of it (a record that
 * cannot be deleted fails the apply, as a success whose record outlived it
 * would be undone at the next start); after a failure, once the target is
 * emptied or marked.  At start-up every record left over is an apply that
 * a crash cut short (its worker died with the spawner): the snapshot is
 * guarded as if the apply still ran, so that Commit, Remove, Diff and
 * another apply wait, and once the start-up sweep has deleted the orphan
 * directories (an rm-ID of an earlier reset among them) it is handled as a
 * failed apply whose worker ran, with the veto of holds and `written` as
 * ever, and logged.
 *
 * Why the spawner's look and a go-ahead, rather than asking the parent
 * whether the target is empty before the SPAWN: the look must be made by a
 * trusted process, after anything else of the apply could have written and
 * before the worker can; the spawner's, right before the fork, is already
 * that, and the worker (which has read nothing yet, so nothing can have
 * subverted it) only waits.  A separate look before the SPAWN would be
 * older than the fork by the time the job waited in the queue, and another
 * request on the parent's channel. */
#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "../common/util.h"
#include "broker.h"
#include "meta.h"
#include "parentlink.h"
#include "services.h"

int apply_record(uint64_t id, int target_empty, struct err *e)
{
	return meta_applying_put(broker.meta, id, target_empty ? META_APPLYING_EMPTY : 0, e);
}

int apply_succeeded(uint64_t id, struct err *e)
{
	return meta_applying_del(broker.meta, id, e);
}

/* The failure is handled: the record goes, and the caller hears of it.  A
 * record that stays is handled again at the next start, which empties or
 * marks the target once more: what was just done. */
static void undone(uint64_t id, apply_undone_fn done, void *ctx, const char *note)
{
	struct err e = {0};
	if (meta_applying_del(broker.meta, id, &e) < 0)
		log_warn("snapshot %llu: %s", (unsigned long long)id, e.msg);
	done(ctx, note);
}

struct undo {
	uint64_t id;
	apply_undone_fn done;
	void *ctx;
};

static void emptied(void *ctx)
{
	struct undo u = *(struct undo *)ctx;
	free(ctx);
	undone(u.id, u.done, u.ctx, "; the snapshot is empty again");
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
		return undone(id, done, ctx, "");
	}
	if (res->target_empty && !mount_holds(id) && !meta_written(broker.meta, id)) {
		uint64_t parent;
		if (parent_of(id, &parent, &e) == 0 && plink_snap_reset(id, parent, &e) == 0) {
			log_info("apply to `%s` (snapshot %llu) failed: %s; emptying it again", key, n, why);
			struct undo *u = xmalloc(sizeof *u);
			*u = (struct undo){id, done, ctx};
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
	undone(id, done, ctx, "; the snapshot had content before: it is marked failed, remove it");
}

/* ---- applies a crash cut short ---------------------------------------------- */

struct cut_short {
	uint64_t id;
	uint32_t flags;
};
static struct cut_short *cut;
static size_t ncut;

static void add_cut(uint64_t id, uint32_t flags, void *ctx)
{
	cut = xrealloc(cut, (ncut + 1) * sizeof *cut);
	cut[ncut++] = (struct cut_short){id, flags};
}

void apply_recover_guard(void)
{
	struct err e = {0};
	if (meta_applying_walk(broker.meta, add_cut, NULL, &e) < 0)
		log_err("applies under way when the broker stopped: %s", e.msg);
	for (size_t i = 0; i < ncut; i++)
		snapshot_apply_begin(cut[i].id);
}

struct recovering {
	uint64_t id;
	char *key;
};

static void recovered(void *ctx, const char *note)
{
	struct recovering *r = ctx;
	log_info("apply to `%s` (snapshot %llu) cut short by a crash: handled%s", r->key,
		 (unsigned long long)r->id, note);
	snapshot_apply_end(r->id);
	free(r->key);
	free(r);
}

void apply_recover(void)
{
	for (size_t i = 0; i < ncut; i++) {
		uint64_t id = cut[i].id;
		struct snap_info s = {0};
		struct err e = {0};
		if (meta_get_by_id(broker.meta, id, &s, &e) < 0 || s.kind != KIND_ACTIVE) {
			/* Gone, or no longer written to: nothing to undo. */
			log_info("snapshot %llu: an apply was under way when the broker stopped; %s",
				 (unsigned long long)id, e.code ? e.msg : "it is no longer active");
			snap_info_free(&s);
			snapshot_apply_end(id);
			if (meta_applying_del(broker.meta, id, &e) < 0)
				log_warn("snapshot %llu: %s", (unsigned long long)id, e.msg);
			continue;
		}
		/* Its worker may have run: it died with the spawner. */
		struct job_result res = {
		    .mount_fd = -1, .ran = 1, .target_empty = !!(cut[i].flags & META_APPLYING_EMPTY)};
		struct recovering *r = xmalloc(sizeof *r);
		*r = (struct recovering){id, s.name};
		apply_failed(id, s.name, &res, "it was under way when the broker stopped", recovered, r);
		s.name = NULL;
		snap_info_free(&s);
	}
	free(cut);
	cut = NULL;
	ncut = 0;
}
