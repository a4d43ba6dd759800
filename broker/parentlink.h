/* The broker's side of the ipc with the privileged processes.
 *
 * Requests on the control channel (fd 3) go to the parent and are
 * synchronous: it answers each at once (it only does fixed, name-safe
 * directory operations).  Jobs go to the spawner on the event channel (fd 4)
 * and are asynchronous: it answers SPAWNED (or SPAWN_FAILED) and, when the
 * worker is reaped, JOB_EXIT; the broker then reads the worker's single
 * result record from the job's socket and calls `done`. */
#ifndef STRATA_PARENTLINK_H
#define STRATA_PARENTLINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "../common/err.h"
#include "../proto/ipc.h"
#include "../proto/roles.h"

/* Takes over the two channel fds and registers the event channel. */
int plink_init(int ctl_fd, int evt_fd, struct err *e);
/* The event channel's part of plink_init (jobs.c). */
int jobs_init(int evt_fd, struct err *e);
/* Tells the parent both sockets accept connections (it logs and notifies systemd). */
int plink_ready(struct err *e);

/* mkdir snapshots/new-ID/{fs[,work]}; fs takes parent's owner when parent_id != 0;
 * then rename to snapshots/ID.  Does not wait: fn(ctx, NULL or the error)
 * runs from the event loop when the parent has done it (or from a later
 * control call that needs the channel first). */
typedef void (*plink_reply_fn)(void *ctx, const struct err *e);
int plink_snap_create(uint64_t id, uint64_t parent_id, int active, plink_reply_fn fn, void *ctx,
		      struct err *e);

/* Renames snapshots/ID (or new-ID when kind is SNAPDIR_NEW) to rm-ID. */
int plink_snap_drop(uint64_t id, int kind, struct err *e);
/* The health check: fn(ctx, NULL) once the parent answered a PING (in
 * order with the SNAP_CREATEs sent without waiting). */
int plink_ping(plink_reply_fn fn, void *ctx, struct err *e);
/* The health check: fn(ctx) once the spawner answered a SPAWNER_PING; one
 * at a time. */
int jobs_ping(void (*fn)(void *ctx), void *ctx, struct err *e);
/* Swaps the live snapshots/ID/fs for a fresh empty one (its owner from
 * parent_id's fs, or root's) and leaves the old tree as rm-ID, for a remove
 * job (proto/ipc.h IPC_SNAP_RESET). */
int plink_snap_reset(uint64_t id, uint64_t parent_id, struct err *e);
/* Lists the snapshots directory; other names are ignored. Caller frees *out. */
int plink_snap_list(struct snapdir **out, size_t *n, struct err *e);

/* Opens content_root/blobs/sha256/HEX read-only (in the parent); returns the
 * fd and its size.  NotFound when there is no such blob. */
int plink_open_blob(const char *hex, uint64_t *size, struct err *e);
/* The content store's ingest of a new blob (IPC_INGEST_*): name is 64 hex
 * digits.  open creates it and returns its data file's fd, for writing;
 * abort removes it (a job of role ROLE_PUBLISH publishes it in between). */
int plink_ingest_open(const char *name, const char *ref, struct err *e);
int plink_ingest_abort(const char *name, struct err *e);

struct job_spec {
	int role;
	/* Whose job it is: its tenant's max_jobs and max_queued_jobs apply, and
	 * the queue serves tenants in turn (broker/jobs.c); NULL for the
	 * daemon's own (removals, measuring after a commit). */
	const struct tenant *tenant;
	uint64_t target;	/* snapshot id */
	int probe_role;		/* ROLE_PROBE: whose confinement to take */
	int probe_syscall;	/* ROLE_PROBE: syscall number, -1 for none */
	uint32_t probe_hold_ms; /* ROLE_PROBE: stay alive (confined) this long first */
	int drop_first;		/* ROLE_REMOVE: rename the live ID to rm-ID first */
	int input_fd;		/* ROLE_EXTRACT: the layer; ROLE_DIFF: its output (job_start copies it) */
	const uint64_t *lower;	/* ROLE_EXTRACT, ROLE_DIFF: lower snapshot ids, nearest first (copied) */
	size_t nlower;
	size_t nleft;	      /* ROLE_DIFF general path: the last nleft of lower[] are the left tree */
	int diff_restart;     /* ROLE_DIFF: IPC_SPAWN_DIFF_RESTART (a second attempt) */
	int diff_compression; /* ROLE_DIFF: 0 tar, 1 gzip, 2 zstd */
	int diff_has_epoch;   /* ROLE_DIFF: clamp entry times to diff_epoch */
	int64_t diff_epoch;
	/* ROLE_PUBLISH: the ingest, and the digest (64 hex digits) and size
	 * its blob must have */
	char publish_name[65], publish_digest[65];
	uint64_t publish_size;
	uint32_t mount_flags;  /* ROLE_MOUNT: IPC_SPAWN_MOUNT_* */
	int extract_rebase;    /* ROLE_EXTRACT: IPC_SPAWN_EXTRACT_REBASE (the lowers come at commit) */
	int extract_no_digest; /* ROLE_EXTRACT: IPC_SPAWN_EXTRACT_NO_DIGEST */
	/* Optional: kept pointing at the job while it exists (NULL after),
	 * so that its caller can give it up (struct call's job). */
	struct job **handle;
	uint32_t nuid_map, ngid_map; /* ROLE_MOUNT with IPC_SPAWN_MOUNT_IDMAP */
	struct ipc_id_range uid_map[IPC_MAX_ID_RANGES], gid_map[IPC_MAX_ID_RANGES];
};

struct job_result {
	pid_t pid;
	int64_t size;	   /* ROLE_USAGE */
	int64_t inodes;	   /* ROLE_USAGE */
	int64_t probe_ret; /* ROLE_PROBE: syscall's return value */
	int probe_errno;
	struct ipc_job_applied applied; /* ROLE_EXTRACT, ROLE_DIFF, ROLE_PUBLISH */
	int mount_fd; /* ROLE_MOUNT: the detached mount, owned by the done callback; else -1 */
	/* a worker was forked (for ROLE_EXTRACT: and told it may begin,
	 * JOB_GO): it may have written into its target */
	int ran;
	/* ROLE_EXTRACT: the spawner found the target's fs empty right before
	 * it forked the worker (IPC_SPAWNED_TARGET_EMPTY) */
	int target_empty;
};

struct job;
/* e is NULL on success.  A worker killed by SIGSYS fails with a message that
 * names the seccomp policy violation; other deaths name the signal or status. */
typedef void (*job_done_fn)(void *ctx, const struct job_result *res, const struct err *e);
/* Optional: called once the worker runs, with its pid. */
typedef void (*job_started_fn)(void *ctx, pid_t pid);

/* Optional: progress of an extract job (bytes read, entries written), at
 * most ten times a second. */
typedef void (*job_progress_fn)(void *ctx, uint64_t read, uint64_t entries);

/* Starts (or queues, past max_jobs) a job; ResourceExhausted when
 * max_queued_jobs wait already. */
struct job *job_start(const struct job_spec *spec, job_started_fn started, job_done_fn done, void *ctx,
		      struct err *e);
/* Gives a job up (its caller went away, or it ran past a deadline): a
 * queued job's `done` runs from the loop with this error; a running job's
 * worker is killed, and `done` runs with this error once it has exited, so
 * that nothing it did is still under way when its caller hears of it.  A
 * second call changes nothing. */
void job_abort(struct job *j, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
struct job_limits {
	unsigned max_jobs, max_queued; /* running at once; waiting */
	unsigned max_ahead;	       /* applies ahead of their lowers running at once */
	uint32_t timeout_s, idle_s;    /* job_timeout, job_idle_timeout */
};
void job_set_limits(const struct job_limits *l);
/* Asks for progress reports of a job (call right after job_start). */
void job_on_progress(struct job *j, job_progress_fn fn);
unsigned job_count(void);
/* Jobs running (or being started), and waiting for a worker. */
unsigned job_running(void);
unsigned job_queued(void);

#endif
