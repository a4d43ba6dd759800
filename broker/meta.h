/* Snapshot metadata in LMDB (ROOT/meta), with containerd's semantics
 * (snapshots/storage/bolt.go): names, kinds, parents, labels, times, usage
 * measured at commit, a parent index and never-reused numeric ids.
 *
 * Every function that changes anything is exactly one write transaction and
 * never waits for anything but LMDB.  Error codes follow containerd's
 * errdefs: NotFound, AlreadyExists, FailedPrecondition, InvalidArgument. */
#ifndef STRATA_META_H
#define STRATA_META_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"

/* Limits checked on every write (InvalidArgument).  Names: strata's own
 * bound, keeps records and messages small.  Label size: containerd's
 * labels.Validate (key + value).  Label count and total: strata's own
 * bounds (containerd has none), against a client filling the store through
 * one snapshot, and so that every snapshot's Info, with the longest name
 * and parent, fits one native record (NATIVE_MAX_RECORD, 192 KiB): one
 * snapshot too large for a record would make every unfiltered List fail. */
#define META_NAME_MAX	      4096
#define META_LABEL_MAX	      4096
#define META_LABELS_MAX	      1024
#define META_LABELS_BYTES_MAX (128 * 1024) /* the sum of every key and value */

/* Same numbers as containerd.services.snapshots.v1.Kind. */
enum snap_kind { KIND_UNKNOWN = 0, KIND_VIEW = 1, KIND_ACTIVE = 2, KIND_COMMITTED = 3 };

struct label {
	char *key;
	char *value;
};

struct snap_info {
	char *name;
	char *parent; /* NULL when none */
	int kind;     /* enum snap_kind */
	uint64_t id;
	int64_t created_sec;
	int32_t created_nsec;
	int64_t updated_sec;
	int32_t updated_nsec;
	size_t nlabels;
	struct label *labels; /* sorted by key, no duplicates, no empty values */
	int64_t size;	      /* usage measured at commit (committed only) */
	int64_t inodes;
};

void snap_info_free(struct snap_info *s); /* frees members, not s */
const char *snap_kind_name(int kind);	  /* "active", "view", "committed" */

struct meta;

/* The largest the store may grow (meta_max_bytes): a map of address space,
 * not of memory or disk. */
#define META_MAX_BYTES_DEFAULT (64ULL << 30)
int meta_open(struct meta **out, const char *dir, struct err *e);
/* Whatever the size, the store keeps room to remove snapshots when it or
 * its file system is full: changes that add to it are refused first, with
 * ResourceExhausted naming the file system or meta_max_bytes
 * (broker/meta_space.c). */
int meta_open_sized(struct meta **out, const char *dir, uint64_t max_bytes, struct err *e);
/* Whether a change that adds about `need` bytes to the store may begin:
 * ResourceExhausted, naming the file system or meta_max_bytes and what ran
 * out, when it would eat into the room kept for removals.  Create, commit
 * and update check it themselves. */
int meta_room(struct meta *m, uint64_t need, struct err *e);
/* The store's pages in use (up to its last page, free ones included) and
 * its largest size (meta_max_bytes), in bytes, for the metrics. */
void meta_size(struct meta *m, uint64_t *used, uint64_t *max);
/* Writes the time into the store's info (a health check): a change like
 * any other, durable once its batch commits (durable_then). */
int meta_health_mark(struct meta *m, int64_t sec, struct err *e);
void meta_close(struct meta *m);

/* Group commit: from now on write operations join a batch transaction,
 * committed with one sync by a committer thread (started here; see meta_txn.c).
 * batch_opened(ctx) is called when a batch begins, so that the caller
 * schedules its commit. */
int meta_set_group_commit(struct meta *m, void (*batch_opened)(void *ctx), void *ctx, struct err *e);
/* Whether changes are waiting to be committed. */
int meta_pending(const struct meta *m);
/* Whether a write would start at once: false while a batch commits and no
 * new one is ready (the write would wait for it). */
int meta_writable(const struct meta *m);
/* Readable (an eventfd) when a commit finished. */
int meta_commit_fd(const struct meta *m);
/* Hands the batch to the committer and returns its sequence number (0:
 * nothing to commit).  Until it is done, writes wait. */
uint64_t meta_flush_async(struct meta *m);
/* Whether commit seq is done: 1 when it is, 0 when not yet, -1 with e when
 * it failed (every change in it is lost). */
int meta_commit_done(struct meta *m, uint64_t seq, struct err *e);
/* Empties meta_commit_fd() before the caller looks at the commits. */
void meta_commit_drain(struct meta *m);
/* Commits the batch, waits until it and every batch handed before it are
 * durable; on failure every change in it is lost. */
int meta_flush(struct meta *m, struct err *e);

/* NotFound when absent. */
int meta_get(struct meta *m, const char *name, struct snap_info *out, struct err *e);
/* The snapshot with numeric id `id`: NotFound when none has it. */
int meta_get_by_id(struct meta *m, uint64_t id, struct snap_info *out, struct err *e);

/* Mount holds of attached mounts (`strata mount`), which outlive the broker,
 * keyed by the path the mount is attached at (broker/mountsvc.c says what
 * each field is for).  Put replaces the record of the same path. */
#define META_HOLD_RW 1u /* flags: the mount was issued read-write */
struct meta_hold {
	const char *path;
	uint64_t id; /* snapshot */
	uint32_t uid;
	uint32_t flags;
	uint64_t dev; /* device of the mount's root; 0: not known */
	uint64_t ns;  /* the broker mount namespace that judges it; 0: none */
};
int meta_hold_put(struct meta *m, const struct meta_hold *h, struct err *e);
int meta_hold_del(struct meta *m, const char *path, struct err *e);
typedef void (*meta_hold_fn)(const struct meta_hold *h, void *ctx);
int meta_holds_walk(struct meta *m, meta_hold_fn fn, void *ctx, struct err *e);
/* Snapshots a read-write mount fd was ever issued for (broker/mountsvc.c):
 * such a snapshot is committed only once no overlay uses its upperdir any
 * more, which the kernel alone can tell (a client may keep the fd after its
 * hold ended).  Kept until it is committed. */
int meta_written_put(struct meta *m, uint64_t id, struct err *e);
int meta_written_del(struct meta *m, uint64_t id, struct err *e);
/* 1 when id is marked (or the store cannot tell), else 0. */
int meta_written(struct meta *m, uint64_t id);
/* Snapshots a layer apply failed on while they had content (broker/
 * applyfail.c): their tree is part old, part layer, so Commit refuses them
 * until they are removed; a later apply that succeeds keeps the mark.  Ids
 * are never reused, so a mark needs no deleting. */
int meta_failed_put(struct meta *m, uint64_t id, struct err *e);
/* 1 when id is marked (or the store cannot tell), else 0. */
int meta_failed(struct meta *m, uint64_t id);
/* Snapshots a layer apply is under way on (broker/applyfail.c): put before
 * its worker may write, deleted once the apply ended and its failure, if it
 * failed, was handled.  A record left over is an apply a crash cut short,
 * handled at start-up like a failed one.  Put replaces the flags. */
#define META_APPLYING_EMPTY 1u /* the target had no entry before the apply */
int meta_applying_put(struct meta *m, uint64_t id, uint32_t flags, struct err *e);
int meta_applying_del(struct meta *m, uint64_t id, struct err *e);
typedef void (*meta_applying_fn)(uint64_t id, uint32_t flags, void *ctx);
int meta_applying_walk(struct meta *m, meta_applying_fn fn, void *ctx, struct err *e);
/* Ids of name's ancestors, nearest first (not name's own). */
int meta_parent_ids(struct meta *m, const char *name, uint64_t **ids, size_t *n, struct err *e);
/* Calls fn with the name of each child of the snapshot with id `id` (the
 * snapshots whose parent it is), in id order. */
int meta_children(struct meta *m, uint64_t id, void (*fn)(const char *name, void *ctx), void *ctx,
		  struct err *e);
/* Calls fn for every snapshot, in name order; fn returns non-zero to stop. */
typedef int (*meta_walk_fn)(const struct snap_info *s, void *ctx);
int meta_walk(struct meta *m, meta_walk_fn fn, void *ctx, struct err *e);
/* The same, starting past the snapshot named after (which need not exist
 * any more), each call in a transaction of its own: a walk in steps. */
int meta_walk_after(struct meta *m, const char *after, meta_walk_fn fn, void *ctx, struct err *e);
/* All ids in use, ascending. */
int meta_ids(struct meta *m, uint64_t **ids, size_t *n, struct err *e);

/* Hands out a new id.  Ids are reserved in blocks, each reservation its own
 * durable transaction, so an id is never reused even if the snapshot that
 * was to have it is never created. */
/* Returns 1 when the id comes from a block reserved just now, in the batch
 * (group commit): the caller commits the batch (meta_flush) before it makes
 * anything with the id, and calls meta_forget_ids() when that fails. */
int meta_next_id(struct meta *m, uint64_t *id, struct err *e);
/* Forgets the ids reserved but not handed out (their reservation was lost). */
void meta_forget_ids(struct meta *m);
/* Creates an active or view snapshot record with in->id, in->labels.  Checks
 * as containerd does: kind (InvalidArgument), parent exists (NotFound) and is
 * committed (InvalidArgument), name free (AlreadyExists).  Fills *out with
 * the stored record when out is not NULL. */
int meta_create(struct meta *m, const struct snap_info *in, struct snap_info *out, struct err *e);
/* Commits active `key` as `name` with the given labels and usage (containerd's
 * CommitActive): name taken -> AlreadyExists, key missing -> NotFound, key not
 * active -> FailedPrecondition.  The id stays; the key is gone afterwards. */
int meta_commit(struct meta *m, const char *key, const char *name, const struct label *labels, size_t nlabels,
		int64_t size, int64_t inodes, struct err *e);
/* The same with a parent given at commit (the "rebase" capability, as
 * containerd's CommitActive with WithParent): a key prepared without a
 * parent takes committed snapshot `parent` (missing -> NotFound, not
 * committed -> FailedPrecondition); one prepared with another parent is
 * InvalidArgument; NULL or its own parent change nothing. */
int meta_commit_onto(struct meta *m, const char *key, const char *name, const char *parent,
		     const struct label *labels, size_t nlabels, int64_t size, int64_t inodes, struct err *e);
/* Records the usage measured for committed snapshot `name` with `id`, if it
 * is still there and still waiting for it (size < 0); otherwise nothing. */
int meta_set_usage(struct meta *m, const char *name, uint64_t id, int64_t size, int64_t inodes,
		   struct err *e);
/* Removes `name`: NotFound, or FailedPrecondition when it has children.
 * Returns its id and kind. */
int meta_remove(struct meta *m, const char *name, uint64_t *id, int *kind, struct err *e);
/* containerd's UpdateInfo: paths "labels" and "labels.KEY" (none: replace all
 * labels); any other path -> InvalidArgument.  Fills *out. */
int meta_update(struct meta *m, const struct snap_info *in, const char *const *paths, size_t npaths,
		struct snap_info *out, struct err *e);

#endif
