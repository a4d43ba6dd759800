/* The roles of strata's jobs, once: what each is, the numbers that name it
 * on every process boundary, and the snapshot-directory kinds.  The broker
 * asks for a role, the spawner checks a request against its row
 * (parent/spawncheck.c), the root side compiles the policy it names
 * (parent/prepare.c), the worker builds the view it names
 * (worker/sandbox.c), the broker expects the result it names
 * (broker/jobs.c), and the policy tests walk it (tests/unit/test_policy.c).
 * A role's capabilities and syscalls are in policy/NAME.policy, each with
 * its reason. */
#ifndef STRATA_ROLES_PROTO_H
#define STRATA_ROLES_PROTO_H

#include <stddef.h>
#include <stdint.h>

struct ipc_spawn;

/* The role numbers; the same numbers travel in the ipc spawn request. */
enum worker_role {
	ROLE_USAGE = 1,
	ROLE_REMOVE = 2,
	ROLE_PROBE = 3,
	ROLE_EXTRACT = 4,
	ROLE_DIFF = 5,
	ROLE_MOUNT = 6,
	ROLE_PUBLISH = 7,
	ROLE_FEED = 8,
	ROLE_REBASE = 9,
	ROLE_MAX = 9,
};

/* Who runs a role, and how it is asked for. */
enum role_process {
	/* A worker the spawner forks for a SPAWN (or SPAWN_INPUT). */
	PROC_WORKER = 1,
	/* Root side, forked by the spawner for another message (publish:
	 * IPC_PUBLISH) or for a worker's sake (feed: an extract job's file
	 * input); never named in a SPAWN. */
	PROC_ROOT_SIDE = 2,
};

/* The directory tree a worker sees as / (worker/sandbox.c). */
enum role_view {
	VIEW_NONE = 0,	 /* no view of its own (root side; the probe takes its probed role's) */
	VIEW_FS = 1,	 /* snapshots/ID/fs */
	VIEW_RM = 2,	 /* a tmpfs with the batch's snapshots/rm-ID at /0, /1, ... */
	VIEW_LAYERS = 3, /* a tmpfs with /target (snapshots/ID/fs) and /lower/N */
	VIEW_MOUNT = 4,	 /* a tmpfs with /snap (snapshots/ID), /lower/N, /out, /empty */
};

/* The fd a SPAWN_INPUT carries for a role (the worker's fd 4). */
enum role_input {
	INPUT_NONE = 0,	  /* a plain SPAWN */
	INPUT_LAYER = 1,  /* the layer to read: a regular file (fed through a pipe) or a pipe */
	INPUT_OUTPUT = 2, /* where the layer goes: a regular file or a pipe */
};

/* The lower layers (ipc_spawn.lower[]) a role may be given. */
enum role_lowers {
	LOWERS_NONE = 0,
	LOWERS_ANY = 1,	  /* up to IPC_MAX_LOWER */
	LOWERS_TREES = 2, /* diff: only on the general path, the two trees (nleft > 0) */
};

struct role_info {
	int role;	  /* enum worker_role */
	const char *name; /* messages, and the policy file policy/NAME.policy */
	int process;	  /* enum role_process */
	int has_policy;	  /* confined by policy/NAME.policy (the probe takes its target's) */
	int probed;	  /* a probe may take this role's confinement (enable_probe) */
	int view;	  /* enum role_view */
	int readonly;	  /* the view is mounted read-only */
	int input;	  /* enum role_input */
	int lowers;	  /* enum role_lowers */
	uint32_t flags;	  /* the IPC_SPAWN_* flags a request of this role may carry */
	uint32_t result;  /* the one IPC_JOB_* record that means success */
};

/* The row of a role, or NULL for a number no role has. */
const struct role_info *role_info(int role);
/* The rows, in role order: for (r = role_first(); r; r = role_next(r)). */
const struct role_info *role_first(void);
const struct role_info *role_next(const struct role_info *r);

const char *worker_role_name(int role);
int worker_role_by_name(const char *name);

/* The success record a job of this role and these IPC_SPAWN_* flags ends
 * with: the row's result, except a mount worker's in-use probe
 * (IPC_SPAWN_MOUNT_INUSE), which builds no mount and answers JOB_DONE. */
uint32_t role_result(int role, uint32_t flags);

/* The role whose confinement a request runs under: its own, or a probe's
 * probe_role.  NULL when there is none. */
const struct role_info *role_confinement(const struct ipc_spawn *req);

/* The directory below the snapshots directory that a request's target
 * names: "ID/fs", or "rm-ID" for a remove job. */
void role_target_name(const struct ipc_spawn *req, char *buf, size_t len);

/* The entries of the snapshots directory, as the parent reports them. */
enum snapdir_kind { SNAPDIR_LIVE = 1 /* ID */, SNAPDIR_NEW = 2 /* new-ID */, SNAPDIR_RM = 3 /* rm-ID */ };
struct snapdir {
	int kind;
	uint64_t id;
};

#endif
