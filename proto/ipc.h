/* The ipc between the parent, the spawner, the broker and the workers.
 *
 * Every channel is a SOCK_SEQPACKET socketpair: one record per message, a
 * struct ipc_hdr followed by the type's fixed body.  ipc_recv() rejects a
 * record whose length is not exactly the type's, and fds travel only on the
 * types that carry them, exactly the expected number; surplus fds are closed.
 *
 * Each end of a channel receives its own set of types (enum ipc_channel);
 * ipc_recv() takes the end it reads and rejects a type that does not
 * belong there, so every receiver checks what may arrive in one place, the
 * type table in ipc.c:
 *   ctl  broker -> parent requests (IPC_CH_PARENT), parent -> broker replies
 *        (IPC_CH_PARENT_REPLY)
 *   evt  broker -> spawner requests (IPC_CH_SPAWNER), spawner -> broker
 *        events (IPC_CH_SPAWNER_EVENT)
 *   job  one per job, worker (or publisher) -> broker (IPC_CH_JOB), and an
 *        extract worker's go-ahead, broker -> worker (IPC_CH_WORKER)
 *
 * Role and snapshot-directory numbers are those of proto/roles.h. */
#ifndef STRATA_IPC_H
#define STRATA_IPC_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"

#define IPC_MAX_LOWER	  512 /* lower snapshots a job may name (overlay chains) */
#define IPC_MSG_MAX	  256 /* text in REPLY and JOB_FAIL, NUL-terminated */
#define IPC_MAX_FDS	  1   /* fds any one message may carry */
#define IPC_MAX_ID_RANGES 5   /* uid or gid ranges of an idmapped mount */

enum ipc_type {
	/* ctl, broker -> parent.  Body: none.  Both listening sockets accept
	 * connections: the parent logs one line and notifies systemd.  Safe:
	 * carries nothing; accepted once per broker. */
	IPC_READY = 1,
	/* ctl, broker -> parent.  Creates snapshots/new-ID/{fs,work} and renames
	 * it to ID.  Needed because the snapshots directory is root's and the
	 * broker has no privilege.  Safe: names are built by the parent from the
	 * numbers only, every call is *at() relative to the snapshots fd without
	 * following links, and rename refuses to replace. */
	IPC_SNAP_CREATE = 2,
	/* ctl, broker -> parent.  Renames ID (or new-ID) to rm-ID so that a
	 * remove worker can delete it.  Safe: as SNAP_CREATE; it only moves a
	 * numbered entry to another numbered name inside the same directory. */
	IPC_SNAP_DROP = 3,
	/* ctl, broker -> parent.  Body: none.  Lists the snapshots directory
	 * (Cleanup, start-up): answered by SNAP_ENTRY records, then REPLY.  Safe:
	 * reveals only numeric names the broker created itself. */
	IPC_SNAP_LIST = 4,
	/* ctl, parent -> broker.  One numbered directory entry. */
	IPC_SNAP_ENTRY = 5,
	/* evt, broker -> spawner.  Forks a worker for one job.  Needed because
	 * only root can build the worker's sandbox.  Safe: the spawner checks
	 * every field against the role's row of the table (proto/roles.h,
	 * parent/spawncheck.c), the target is a number checked to exist as a directory,
	 * the worker confines itself (namespaces, pivot_root, caps, seccomp)
	 * before it reads anything, and probe jobs exist only with enable_probe. */
	IPC_SPAWN = 6,
	/* evt, spawner -> broker.  The worker of a SPAWN runs; carries 1 fd: the
	 * broker's end of the job socket.  On evt, not ctl, so that the broker
	 * never waits for a fork: SPAWN is answered asynchronously, always
	 * before that job's JOB_EXIT (same channel, in order).  For an extract
	 * job, flags say whether the target's fs had no entry when its worker
	 * was forked (IPC_SPAWNED_TARGET_EMPTY): the spawner, trusted, looked
	 * before anything of the job could write. */
	IPC_SPAWNED = 7,
	/* ctl, parent -> broker.  Outcome of a request: errnum 0 or an errno
	 * value, and a message naming the operation. */
	IPC_REPLY = 8,
	/* evt, spawner -> broker.  A worker was reaped.  The broker then reads the
	 * worker's result from the job socket (written before the exit).  It
	 * carries the worker's peak memory and CPU time for the metrics,
	 * numbers the spawner read from the kernel (wait4); and a worker
	 * killed by its seccomp filter may have reported the call it was
	 * denied: that number comes along, for the error text.  Safe: numbers
	 * only, which the broker counts and prints. */
	IPC_JOB_EXIT = 9,
	/* job, worker -> broker: the result, exactly one of these four.  The
	 * broker treats them as untrusted: a wrong type or length fails the job,
	 * never the broker. */
	IPC_JOB_USAGE = 10,
	IPC_JOB_DONE = 11, /* body: none */
	IPC_JOB_FAIL = 12,
	IPC_JOB_PROBE = 13,
	/* evt, spawner -> broker.  A SPAWN could not start its worker (target
	 * missing, too many workers, fork failed, drop failed): errno value and
	 * a message.  Safe: carries only numbers and the parent's own text. */
	IPC_SPAWN_FAILED = 14,
	/* evt, broker -> spawner.  As SPAWN, for a role that reads an input or
	 * writes an output (extract: the layer to read; diff: where to write
	 * the layer); carries 1 fd, which the worker gets as fd 4.  The fd is
	 * one a client opened itself and passed to the broker (or a blob the
	 * parent opened read-only).  Safe: the spawner accepts it only for those
	 * roles, the worker is confined before it touches it, and it gains no
	 * access the client did not already have. */
	IPC_SPAWN_INPUT = 15,
	/* job, worker -> broker.  The extract and diff roles' result: the
	 * layer's digests, sizes, entries.  Untrusted like every JOB_* record. */
	IPC_JOB_APPLIED = 16,
	/* ctl, broker -> parent.  Opens content_root/blobs/sha256/HEX read-only
	 * (the diff service's Apply reads a layer by digest).  Needed because
	 * the content directory is root's.  Safe: the parent accepts exactly 64
	 * lowercase hex digits, builds the name itself, opens it relative to
	 * the blobs directory with O_NOFOLLOW and refuses anything but a
	 * regular file; the fd is read-only.  Answered by BLOB or REPLY. */
	IPC_OPEN_BLOB = 17,
	/* ctl, parent -> broker.  The blob's size; carries 1 fd, read-only. */
	IPC_BLOB = 18,
	/* job, worker -> broker.  How far an extract job is: bytes read, entries
	 * written.  Any number may precede the result record; the broker
	 * forwards at most ten a second to the client and drops the rest, so a
	 * worker that floods gains nothing. */
	IPC_JOB_PROGRESS = 19,
	/* ctl, broker -> parent.  The diff service's Diff writes a blob into
	 * content_root the way containerd's content store does: into
	 * ingest/NAME/data (with ref, startedat, updatedat beside it), then,
	 * once written, a publisher (IPC_PUBLISH) makes it
	 * blobs/sha256/DIGEST.  Needed because the content directory is
	 * root's.  INGEST_OPEN creates the ingest, refusing one that exists
	 * (that ref is being written, by strata or by containerd), and answers
	 * BLOB with its data file open for writing, which goes to a diff
	 * worker; INGEST_ABORT removes an ingest strata created.  Safe: NAME
	 * must be exactly 64 lowercase hex digits and the parent builds every
	 * path from it itself, *at() relative to directories it opened with
	 * O_NOFOLLOW; the ref is only written into a file, never used as a
	 * name.  The parent keeps the names of the ingests it created (at
	 * most CONTENT_INGESTS_MAX, then Unavailable) and removes only those,
	 * so containerd's own ingests are out of the broker's reach; an ABORT
	 * of any other name is a violation.  When a broker dies, its ingests
	 * are removed.  The writable fd reaches no published blob: a blob is
	 * a copy the publisher made (parent/publish.h).  There is no
	 * read-only open: nothing reads an ingest back but the publisher. */
	IPC_INGEST_OPEN = 20,
	/* 21 was INGEST_COMMIT, which renamed the data file itself into
	 * blobs/sha256 after checking only its size: replaced by PUBLISH. */
	IPC_INGEST_ABORT = 22,
	/* job, worker -> broker.  The mount role's result: carries 1 fd, the
	 * snapshot as a detached mount (fsmount or open_tree clone, attached
	 * nowhere), which the broker hands to the client that asked.  Safe: the
	 * mount shows only the snapshot the broker named, with nosuid and
	 * nodev, read-only for views, and those flags are locked: the worker
	 * passed the mount through a user namespace of its own, so no holder
	 * in any namespace can clear them (worker/role_mount.c).  The broker
	 * checks the fd before passing it on (broker/mountcheck.c): the root
	 * of a mount, overlay or the snapshots' own file system, nodev and
	 * nosuid, read-only if asked.  Holding it grants exactly the access
	 * it was issued with. */
	IPC_JOB_MOUNT = 23,
	/* evt, spawner -> broker.  Body: struct ipc_job_exit (wstatus 0).  The
	 * spawner finished a remove job without a worker: the directory was the
	 * bare skeleton of a snapshot nothing was written into (rm-ID/fs,
	 * rm-ID/work/work, rm-ID/work, all empty), which it deleted with rmdir.
	 * Needed because forking a sandboxed worker to delete four empty
	 * directories costs more than the rest of a Remove.  Safe: it carries a
	 * job id only, answers a SPAWN of the broker's own, and the rmdir calls
	 * are name-safe like SNAP_DROP: fixed names under rm-ID opened with
	 * O_NOFOLLOW, and rmdir deletes nothing that has an entry in it; a tree
	 * with any content is left to a remove worker as before. */
	IPC_REMOVED = 24,
	/* evt, broker -> spawner.  Publishes ingest/NAME/data as
	 * blobs/sha256/DIGEST of SIZE bytes (the diff service's Diff, once the
	 * diff worker is done): the spawner forks a publisher, root side, that
	 * answers on its job socket like a worker (SPAWNED, then one
	 * JOB_APPLIED with the digest and size it read, or JOB_FAIL; JOB_EXIT).
	 * Needed because only root writes the content store, and containerd
	 * trusts a blob it finds there by its name: whatever is published must
	 * have been hashed by root.  Safe: NAME and DIGEST must be 64
	 * lowercase hex digits (the paths are built from them, *at() under
	 * content_root with O_NOFOLLOW); the publisher reads nothing of an
	 * ingest that lacks the mark the parent puts in the ones strata creates
	 * (content.h CONTENT_STRATA_MARK: containerd's own ingests never have
	 * it, and only root writes there); it hashes a copy it writes
	 * itself from the bytes it hashed, renames that copy only when digest
	 * and size match the request, never replaces a blob, and drops every
	 * capability and enters the `publish` policy before it reads a byte
	 * (parent/publish.h).  The broker can only get bytes it wrote
	 * published under their own digest, which is what containerd's store
	 * does for any client. */
	IPC_PUBLISH = 25,
	/* evt, broker -> spawner.  Kills the worker (or publisher, and the
	 * feeder of its input) of a job: its client went away, or it ran past
	 * job_timeout or job_idle_timeout.  Its exit is reported as ever
	 * (JOB_EXIT).  Needed because the broker cannot signal root's
	 * processes, and a worker blocked on an input that never ends (a FIFO
	 * nobody writes) would hold its slot forever.  Safe: it names a job
	 * id only, and the spawner kills nothing but a child it forked for
	 * that id; an id it does not know (the worker exited meanwhile) is
	 * ignored. */
	IPC_JOB_KILL = 26,
	/* ctl, broker -> parent.  Body: struct ipc_snap_reset.  Empties the
	 * live snapshots/ID/fs again after a layer apply into it failed: makes
	 * rm-ID (mode 0755, owner as SNAP_CREATE gives fs: parent_id's fs
	 * owner, or root) and exchanges it with ID/fs in one renameat2
	 * (RENAME_EXCHANGE), so that ID/fs is a fresh empty directory and
	 * rm-ID holds what the apply wrote, for a remove worker to delete
	 * (broker/applyfail.c).  Needed because the snapshots directory is
	 * root's and the extract worker that wrote may be dead; at every
	 * instant ID/fs exists, and a crash leaves at worst rm-ID, an orphan
	 * that start-up and Cleanup delete.  Safe: names are built by the
	 * parent from the numbers only, every call is *at() relative to the
	 * snapshots fd or to ID opened with O_NOFOLLOW|O_DIRECTORY, ID/fs
	 * must be a directory (never followed), and rm-ID must not exist
	 * (mkdir refuses to reuse one).  It deletes nothing itself, and what
	 * it hands to removal is ID/fs alone, a part of what SNAP_DROP of the
	 * same ID hands over: a broker gains no reach it did not have. */
	IPC_SNAP_RESET = 27,
	/* job, broker -> worker.  Body: none.  An extract worker may begin:
	 * it waits for this before it opens its target or reads a byte of its
	 * input.  Needed because a crash of the broker (or of the daemon) in
	 * the middle of an apply must not leave half a layer that nothing
	 * remembers: the broker first records, durably, that the apply is
	 * under way and whether the spawner found the target empty
	 * (SPAWNED's flags; broker/applyfail.c), and start-up handles a record
	 * left over like a failed apply.  The spawner's look stays where it
	 * was, right before the fork, and the worker only waits; no other
	 * process checks anything on the broker's word.  Safe: it carries
	 * nothing, it goes to a worker of the broker's own job, which already
	 * reads whatever input the broker gave it, so a broker that sends it
	 * early, late, never or malformed (the worker then exits) gains
	 * nothing; the worker receives nothing else on its job socket, and a
	 * worker never sends it (it arrives only at the worker's end). */
	IPC_JOB_GO = 28,
	/* ctl, broker -> parent (PING), answered REPLY 0; evt, broker ->
	 * spawner (SPAWNER_PING), answered PONG on evt.  Body: none.  The
	 * health check (broker/health.c) asks each whether it still serves
	 * the broker, without waiting for either: a process that does not
	 * answer in time makes the daemon NOT_SERVING.  Safe: they carry
	 * nothing, change nothing and reveal nothing but liveness.  The
	 * parent answers each as it answers every request, one at a time; the
	 * spawner queues at most one PONG, which answers every ping before it,
	 * so a broker that floods pings and reads no events grows nothing. */
	IPC_PING = 29,
	IPC_SPAWNER_PING = 30,
	IPC_PONG = 31,
	IPC_TYPE_MAX = 31,
};

/* The receiving end of a channel: the types each may receive are one column
 * of the type table (ipc.c). */
enum ipc_channel {
	IPC_CH_PARENT = 1,	  /* the parent's end of ctl: the broker's requests */
	IPC_CH_PARENT_REPLY = 2,  /* the broker's end of ctl: the parent's replies */
	IPC_CH_SPAWNER = 3,	  /* the spawner's end of evt: the broker's requests */
	IPC_CH_SPAWNER_EVENT = 4, /* the broker's end of evt: the spawner's events */
	IPC_CH_JOB = 5,		  /* the broker's end of a job socket: one worker's records */
	IPC_CH_WORKER = 6,	  /* a worker's end of its job socket: the broker's go-ahead */
};
#define IPC_CH_MAX IPC_CH_WORKER

struct ipc_hdr {
	uint32_t type;
	uint32_t len; /* body bytes that follow */
};

struct ipc_snap_create {
	uint64_t id;
	uint64_t parent_id; /* 0: no parent; else fs takes the owner of parent's fs */
	uint32_t active;    /* 1: also create work/ */
	uint32_t pad;
};

struct ipc_snap_drop {
	uint64_t id;
	uint32_t kind; /* SNAPDIR_LIVE or SNAPDIR_NEW */
	uint32_t pad;
};

struct ipc_snap_reset {
	uint64_t id;
	uint64_t parent_id; /* 0: no parent; else the fresh fs takes the owner of parent's fs */
};

struct ipc_snap_entry {
	uint64_t id;
	uint32_t kind; /* SNAPDIR_LIVE, SNAPDIR_NEW or SNAPDIR_RM */
	uint32_t pad;
};

struct ipc_spawn {
	uint64_t job_id; /* non-zero, chosen by the broker, unique among running jobs */
	uint64_t target; /* snapshot id */
	uint32_t role;
	uint32_t probe_role;	   /* ROLE_PROBE only */
	int32_t probe_syscall;	   /* ROLE_PROBE only; -1: none */
	uint32_t probe_hold_ms;	   /* ROLE_PROBE only */
	uint32_t nlower;	   /* entries of lower[] in use */
	uint32_t flags;		   /* IPC_SPAWN_* */
	uint32_t diff_compression; /* ROLE_DIFF: 0 tar, 1 gzip, 2 zstd */
	uint32_t diff_has_epoch;   /* ROLE_DIFF: clamp entry times to diff_epoch */
	/* ROLE_DIFF against a snapshot other than the target's parent (the
	 * general path): the last nleft entries of lower[] are the left tree,
	 * that snapshot first and then its parents; the entries before them are
	 * the target's parents.  0: the target's upperdir alone (fast path). */
	uint32_t nleft;
	uint32_t pad;
	int64_t diff_epoch;
	/* ROLE_MOUNT with IPC_SPAWN_MOUNT_IDMAP: the user namespace's maps,
	 * which the spawner creates and passes to the worker as fd 4. */
	uint32_t nuid_map, ngid_map;
	struct ipc_id_range {
		uint32_t inside, outside, count;
	} uid_map[IPC_MAX_ID_RANGES], gid_map[IPC_MAX_ID_RANGES];
	uint64_t lower[IPC_MAX_LOWER]; /* parent snapshots, nearest first (extract, diff, mount) */
};

/* ROLE_REMOVE only: first rename the live snapshots/ID to rm-ID (as
 * SNAP_DROP), then start the worker that deletes it; one message instead of
 * two round trips when a snapshot is removed. */
#define IPC_SPAWN_DROP_FIRST 1u
/* ROLE_MOUNT: an active snapshot, mounted read-write with its upperdir and
 * workdir (else read-only: a view's parents, or the active one read-only). */
#define IPC_SPAWN_MOUNT_RW 2u
/* ROLE_MOUNT: idmapped by the maps in uid_map and gid_map. */
#define IPC_SPAWN_MOUNT_IDMAP 4u
/* ROLE_MOUNT: the target's own fs is the top layer (an active snapshot),
 * read-only unless MOUNT_RW; without it, a view: its parents only. */
#define IPC_SPAWN_MOUNT_OWN 8u
/* ROLE_MOUNT, with MOUNT_OWN|MOUNT_RW and no lower layer: builds no mount,
 * but asks the kernel whether an overlay (a mount fd strata issued, still
 * open somewhere) uses the target's upperdir: answered JOB_DONE when none
 * does, JOB_FAIL FailedPrecondition when one does (before a Commit). */
#define IPC_SPAWN_MOUNT_INUSE 32u
/* ROLE_DIFF: a second attempt on the general path after the fast path gave
 * up (an upperdir with overlay redirects): the spawner empties the output
 * first, which it can only when that is a regular file. */
#define IPC_SPAWN_DIFF_RESTART 16u
/* ROLE_EXTRACT, with no lower layer: the layer's lowers come at commit (a
 * parallel unpack): whiteouts and opaque markers convert as over lowers,
 * and the parents it makes are left for a ROLE_REBASE job. */
#define IPC_SPAWN_EXTRACT_REBASE 64u
/* ROLE_EXTRACT: the compressed stream's digest is not wanted; the result's
 * digest is all zero.  Safe: the broker sets it only for a native apply
 * that neither gives an expected digest nor will show one, so no check
 * depends on the skipped hash (gRPC Apply and import always verify). */
#define IPC_SPAWN_EXTRACT_NO_DIGEST 128u

struct ipc_spawn_failed {
	uint64_t job_id;
	int32_t errnum;
	uint32_t pad;
	char msg[IPC_MSG_MAX];
};

struct ipc_job_applied {
	unsigned char diff_id[32]; /* sha256 of the uncompressed stream */
	unsigned char digest[32];  /* sha256 of the bytes read */
	uint64_t compressed_size;
	uint64_t uncompressed_size;
	uint64_t entries;
};

struct ipc_job_progress {
	uint64_t read;
	uint64_t entries;
};

struct ipc_open_blob {
	char hex[65]; /* 64 lowercase hex digits and a NUL */
	char pad[7];
};

struct ipc_blob {
	uint64_t size;
};

struct ipc_ingest {
	char name[65]; /* the ingest: 64 lowercase hex digits (sha256 of the ref) */
	char pad[7];
	char ref[IPC_MSG_MAX]; /* INGEST_OPEN: the ref, as text */
};

struct ipc_publish {
	uint64_t job_id; /* as a SPAWN's */
	char name[65];	 /* the ingest: 64 lowercase hex digits */
	char digest[65]; /* the blob's sha256: 64 lowercase hex digits */
	char pad[6];
	uint64_t size; /* the bytes the blob must have */
};

struct ipc_job_kill {
	uint64_t job_id;
};

struct ipc_spawned {
	uint64_t job_id;
	int32_t pid;
	uint32_t flags; /* IPC_SPAWNED_* */
};

/* ROLE_EXTRACT: snapshots/ID/fs had no entry when the worker was forked. */
#define IPC_SPAWNED_TARGET_EMPTY 1u

struct ipc_reply {
	int32_t errnum; /* 0: success */
	uint32_t pad;
	char msg[IPC_MSG_MAX];
};

struct ipc_job_exit {
	uint64_t job_id;
	int32_t wstatus; /* as from waitpid */
	/* 1: the worker, killed by SIGSYS, reported the call its filter denied
	 * (policy/policy.c); numbers the broker only prints, as the worker's
	 * word. */
	uint32_t denied;
	int32_t denied_nr;     /* that call's number */
	uint32_t denied_arch;  /* and its AUDIT_ARCH_* */
	uint64_t peak_rss_kib; /* the worker's, from wait4's rusage (0: no worker) */
	uint64_t cpu_us;       /* its user and system time */
};

struct ipc_job_usage {
	int64_t size;
	int64_t inodes;
};

struct ipc_job_fail {
	int32_t code; /* enum status_code */
	uint32_t pad;
	char msg[IPC_MSG_MAX];
};

struct ipc_job_probe {
	int64_t ret;
	int32_t errnum;
	uint32_t pad;
};

union ipc_body {
	struct ipc_snap_create snap_create;
	struct ipc_snap_drop snap_drop;
	struct ipc_snap_reset snap_reset;
	struct ipc_snap_entry snap_entry;
	struct ipc_spawn spawn;
	struct ipc_spawned spawned;
	struct ipc_spawn_failed spawn_failed;
	struct ipc_reply reply;
	struct ipc_job_exit job_exit;
	struct ipc_job_usage job_usage;
	struct ipc_job_fail job_fail;
	struct ipc_job_probe job_probe;
	struct ipc_job_applied job_applied;
	struct ipc_open_blob open_blob;
	struct ipc_job_progress job_progress;
	struct ipc_blob blob;
	struct ipc_ingest ingest;
	struct ipc_publish publish;
	struct ipc_job_kill job_kill;
};

/* One received message.  fds[] holds exactly ipc_type_fds(type) fds, owned
 * by the receiver. */
struct ipc_msg {
	uint32_t type;
	union ipc_body body;
	int fds[IPC_MAX_FDS];
	size_t nfds;
};

/* Body length of a type, or (size_t)-1 for an unknown type. */
size_t ipc_type_len(uint32_t type);
/* fds a type carries. */
size_t ipc_type_fds(uint32_t type);
const char *ipc_type_name(uint32_t type);

/* Sends one record; len and nfds must match the type.  EAGAIN leaves errno
 * set (non-blocking sockets). */
int ipc_send(int fd, uint32_t type, const void *body, size_t len, const int *fds, size_t nfds, struct err *e);
/* Receives one record at channel end ch.  Returns 1 with *m filled, 0 at
 * end of stream, -1 on error (unknown type, a type that does not arrive at
 * ch, wrong length, wrong fd count, truncation: every fd received is
 * closed).  errno is EAGAIN when a non-blocking socket is empty. */
int ipc_recv(int fd, enum ipc_channel ch, struct ipc_msg *m, struct err *e);
/* Whether a type arrives at channel end ch. */
int ipc_type_on(uint32_t type, enum ipc_channel ch);
/* Closes the fds of a message still held. */
void ipc_msg_close(struct ipc_msg *m);

/* Copies text into a fixed message field, always NUL-terminated. */
void ipc_set_text(char dst[IPC_MSG_MAX], const char *src);
/* 1 when the n bytes at p are all zero (a message's padding must be). */
int ipc_zeroed(const void *p, size_t n);

#endif
