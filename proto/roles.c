#include "roles.h"

#include <stdio.h>
#include <string.h>

#include "ipc.h"

/* The one table of roles (roles.h says who reads which column). */
static const struct role_info roles[ROLE_MAX + 1] = {
    /* Counts size and inodes of snapshots/ID/fs, read-only. */
    [ROLE_USAGE] = {ROLE_USAGE, "usage", PROC_WORKER, 1, 1, VIEW_FS, 1, INPUT_NONE, LOWERS_NONE, 0,
		    IPC_JOB_USAGE},
    /* Deletes a batch of rm-ID directories without following links;
     * lower[] names the batch's other snapshots. */
    [ROLE_REMOVE] = {ROLE_REMOVE, "remove", PROC_WORKER, 1, 1, VIEW_RM, 0, INPUT_NONE, LOWERS_ANY,
		     IPC_SPAWN_DROP_FIRST, IPC_JOB_DONE},
    /* Takes a probed role's confinement, then tries one syscall (tests;
     * only with enable_probe). */
    [ROLE_PROBE] = {ROLE_PROBE, "probe", PROC_WORKER, 0, 0, VIEW_NONE, 0, INPUT_NONE, LOWERS_NONE, 0,
		    IPC_JOB_PROBE},
    /* Applies the layer on its input to /target; lower[] gives the
     * metadata of parent directories a layer does not carry. */
    [ROLE_EXTRACT] = {ROLE_EXTRACT, "extract", PROC_WORKER, 1, 0, VIEW_LAYERS, 0, INPUT_LAYER, LOWERS_ANY,
		      IPC_SPAWN_EXTRACT_REBASE | IPC_SPAWN_EXTRACT_NO_DIGEST, IPC_JOB_APPLIED},
    /* Writes the layer of a snapshot's upperdir (its fs, read-only) to its
     * output; on the general path (nleft > 0) it compares two merged trees
     * instead (worker/sandbox.c). */
    [ROLE_DIFF] = {ROLE_DIFF, "diff", PROC_WORKER, 1, 0, VIEW_FS, 1, INPUT_OUTPUT, LOWERS_TREES,
		   IPC_SPAWN_DIFF_RESTART, IPC_JOB_APPLIED},
    /* Builds a snapshot's mount (overlay of lower[], or its fs alone) and
     * sends it back as a detached mount fd. */
    [ROLE_MOUNT] = {ROLE_MOUNT, "mount", PROC_WORKER, 1, 1, VIEW_MOUNT, 0, INPUT_NONE, LOWERS_ANY,
		    IPC_SPAWN_MOUNT_RW | IPC_SPAWN_MOUNT_IDMAP | IPC_SPAWN_MOUNT_OWN | IPC_SPAWN_MOUNT_INUSE,
		    IPC_JOB_MOUNT},
    /* Hashes ingest/NAME/data into a copy and publishes it as
     * blobs/sha256/DIGEST (parent/publish.h); asked for by IPC_PUBLISH. */
    [ROLE_PUBLISH] = {ROLE_PUBLISH, "publish", PROC_ROOT_SIDE, 1, 0, VIEW_NONE, 0, INPUT_NONE, LOWERS_NONE, 0,
		      IPC_JOB_APPLIED},
    /* Copies an extract job's layer file into the pipe its worker reads
     * (parent/feed.h); sends no result. */
    [ROLE_FEED] = {ROLE_FEED, "feed", PROC_ROOT_SIDE, 1, 0, VIEW_NONE, 0, INPUT_NONE, LOWERS_NONE, 0, 0},
    /* Gives /target, applied before its lowers existed (IPC_SPAWN_EXTRACT_
     * REBASE), what lower[] (its new parent's layers) would have given it,
     * before it is committed onto them. */
    [ROLE_REBASE] = {ROLE_REBASE, "rebase", PROC_WORKER, 1, 0, VIEW_LAYERS, 0, INPUT_NONE, LOWERS_ANY, 0,
		     IPC_JOB_DONE},
};

const struct role_info *role_info(int role)
{
	if (role <= 0 || role > ROLE_MAX || !roles[role].name)
		return NULL;
	return &roles[role];
}

const struct role_info *role_first(void)
{
	return role_info(1);
}

const struct role_info *role_next(const struct role_info *r)
{
	for (int i = r->role + 1; i <= ROLE_MAX; i++)
		if (roles[i].name)
			return &roles[i];
	return NULL;
}

const char *worker_role_name(int role)
{
	const struct role_info *r = role_info(role);
	return r ? r->name : "unknown";
}

int worker_role_by_name(const char *name)
{
	for (const struct role_info *r = role_first(); r; r = role_next(r))
		if (!strcmp(r->name, name))
			return r->role;
	return -1;
}

uint32_t role_result(int role, uint32_t flags)
{
	const struct role_info *r = role_info(role);
	if (!r)
		return 0;
	if (role == ROLE_MOUNT && (flags & IPC_SPAWN_MOUNT_INUSE))
		return IPC_JOB_DONE;
	return r->result;
}

const struct role_info *role_confinement(const struct ipc_spawn *req)
{
	const struct role_info *r = role_info((int)req->role);
	if (r && r->role == ROLE_PROBE) {
		r = role_info((int)req->probe_role);
		return r && r->probed ? r : NULL;
	}
	return r && r->has_policy ? r : NULL;
}

void role_target_name(const struct ipc_spawn *req, char *buf, size_t len)
{
	/* A probe works on a live snapshot's fs directory whatever role it
	 * takes (rm-ID exists only while a removal runs). */
	if (req->role == ROLE_REMOVE)
		snprintf(buf, len, "rm-%llu", (unsigned long long)req->target);
	else
		snprintf(buf, len, "%llu/fs", (unsigned long long)req->target);
}
