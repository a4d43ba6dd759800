/* The services behind both front doors: containerd's snapshots v1 and diff v1,
 * plus strata's own native operations.  Each handler receives a call whose
 * request is already unpacked and ends it with call_reply() or call_fail(). */
#ifndef STRATA_SERVICES_H
#define STRATA_SERVICES_H

#include "call.h"
#include "meta.h"
#include "../proto/api.h"

/* Short names for containerd's generated types. */
typedef Containerd__Services__Snapshots__V1__PrepareSnapshotRequest PrepareReq;
typedef Containerd__Services__Snapshots__V1__ViewSnapshotRequest ViewReq;
typedef Containerd__Services__Snapshots__V1__MountsRequest MountsReq;
typedef Containerd__Services__Snapshots__V1__CommitSnapshotRequest CommitReq;
typedef Containerd__Services__Snapshots__V1__RemoveSnapshotRequest RemoveReq;
typedef Containerd__Services__Snapshots__V1__StatSnapshotRequest StatReq;
typedef Containerd__Services__Snapshots__V1__UpdateSnapshotRequest UpdateReq;
typedef Containerd__Services__Snapshots__V1__ListSnapshotsRequest ListReq;
typedef Containerd__Services__Snapshots__V1__UsageRequest UsageReq;
typedef Containerd__Services__Snapshots__V1__CleanupRequest CleanupReq;
typedef Containerd__Services__Snapshots__V1__Info SnapInfoMsg;
typedef Containerd__Types__Mount MountMsg;

void svc_prepare(struct call *c);
void svc_view(struct call *c);
void svc_mounts(struct call *c);
void svc_commit(struct call *c);
void svc_remove(struct call *c);
void svc_stat(struct call *c);
void svc_update(struct call *c);
void svc_list(struct call *c);
void svc_usage(struct call *c);
void svc_cleanup(struct call *c);
void svc_apply(struct call *c);
void svc_diff(struct call *c);
void svc_probe(struct call *c);
void svc_apply_layer(struct call *c);
void svc_diff_layer(struct call *c);
void svc_mount(struct call *c);
/* The health check (broker/health.c): grpc.health.v1 Check, and NM_HEALTH. */
void svc_health_check(struct call *c);
void svc_health(struct call *c);
/* NM_METRICS: the Prometheus exposition (broker/metrics.c). */
void svc_metrics(struct call *c);

struct job_spec;
struct job_result;
/* Diff jobs (broker/diffjob.c).  Trees are layer ids, topmost first.  Fast
 * path when right is one layer on top of left. */
int diff_trees_fast(const uint64_t *right, size_t nr, const uint64_t *left, size_t nl);
/* Starts the diff job of right against left, base giving the role's options
 * and the output fd; done(ctx) gets its outcome, progress(ctx) its progress
 * records (may be NULL).  When the fast path gives up on an upperdir with
 * overlay redirects, the job runs once more on the general path. */
int diff_job_start(const struct job_spec *base, const uint64_t *right, size_t nr, const uint64_t *left,
		   size_t nl, void (*done)(void *ctx, const struct job_result *res, const struct err *e),
		   void (*progress)(void *ctx, uint64_t tar_bytes, uint64_t entries), void *ctx,
		   struct err *e);
void svc_release(struct call *c);
/* strata fsck (broker/fsck.c). */
void svc_fsck(struct call *c);
/* strata --tenant: root's native connection acts as a tenant (broker/tenancy.c). */
void svc_act_as(struct call *c);
/* strata version (broker/version.c). */
void svc_version(struct call *c);

/* Mount holds (broker/holds.c): snapshots handed out as mount fds.  A
 * held snapshot cannot be removed, nor committed while a hold is
 * read-write.  Id 0: the holds of all snapshots. */
unsigned mount_holds(uint64_t snapshot_id);
unsigned mount_holds_rw(uint64_t snapshot_id);
/* Names snapshot_id's holds (read-write ones only with rw_only) for a
 * message: "at `/mnt/x`, a mount fd of pid 42". */
void mount_holds_name(uint64_t snapshot_id, int rw_only, char *buf, size_t len);
/* The connection owner closed: the holds it had without a path end; those
 * of attached mounts stay, to be judged by mount_holds_sweep(). */
void mount_holds_owner_gone(void *owner);
/* The holds a connection owns: while it has one, it is never idle. */
unsigned mount_holds_of(const void *owner);
/* At start-up: the holds of attached mounts, from the metadata, swept. */
void mount_holds_load(void);
/* Ends the holds of attached mounts that are provably gone (start-up and
 * Cleanup; `when` names which in the log); returns how many ended. */
unsigned mount_holds_sweep(const char *when);

/* What must wait while a snapshot is mounted or written (broker/snapguard.c).
 * An apply writes into its snapshot from the moment its job is started (or
 * queued) until the job's end is reported. */
void snapshot_apply_begin(uint64_t snapshot_id);
void snapshot_apply_end(uint64_t snapshot_id);
enum snapshot_op {
	SNAP_REMOVE, /* refused while mounted or applied to */
	SNAP_COMMIT, /* refused while mounted read-write or applied to */
	SNAP_APPLY,  /* refused while applied to */
	SNAP_DIFF,   /* refused while applied to */
};
/* Whether any snapshot is held or applied to (0: nothing to look up). */
int snapshot_guards(void);
/* FailedPrecondition naming what is in the way of op on snapshot id (named
 * key in the message), or 0. */
int snapshot_guard(uint64_t id, const char *key, enum snapshot_op op, struct err *e);

/* The mounts strata issues for snapshot `key` (whose record is s); returns
 * how many (1). */
struct mount_spec;
int snapshot_mounts(const char *key, const struct snap_info *s, struct mount_spec *m, struct err *e);

/* Deletes snapshots/rm-ID (with drop_first, renames the live snapshots/ID
 * to rm-ID first) in the background; done(ctx) runs when it is gone (or
 * failed: the directory stays an orphan for the next sweep). */
void remove_dir_async(uint64_t id, int drop_first, void (*done)(void *ctx), void *ctx);

/* A layer apply into snapshot id (named key) failed (why), after its job
 * ended with res: an empty target is emptied again, one that had content
 * is marked failed (broker/applyfail.c).  done(ctx, note) runs then, note
 * saying which for the caller's message; the apply's guard ends there. */
typedef void (*apply_undone_fn)(void *ctx, const char *note);
void apply_failed(uint64_t id, const char *key, const struct job_result *res, const char *why,
		  apply_undone_fn done, void *ctx);

/* An extract worker of snapshot id was forked (the spawner found its target
 * empty or not): the apply is recorded as under way, before the worker may
 * write (broker/jobs.c sends its go-ahead once this is durable). */
int apply_record(uint64_t id, int target_empty, struct err *e);
/* An apply into id succeeded: its record goes, before the caller hears of
 * it; on failure the caller fails the apply (apply_failed). */
int apply_succeeded(uint64_t id, struct err *e);
/* Start-up: the snapshots an apply was under way on when the broker stopped
 * are guarded as applied to (first, before anything is served), then each
 * is handled as a failed apply (after the orphan sweep). */
void apply_recover_guard(void);
void apply_recover(void);

/* Removes snapshot directories that no metadata points at (start-up and Cleanup). */
void snapshots_sweep_orphans(void (*done)(void *ctx, const struct err *e), void *ctx);
/* Whether snapshot id's directory is being created or removed now: neither
 * an orphan nor a missing directory. */
int snapshot_dir_busy(uint64_t id);

#endif
