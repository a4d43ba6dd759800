/* A snapshot as a mount fd: the daemon's mount worker builds the snapshot's
 * filesystem, detached (attached nowhere, nosuid and nodev), and the fd
 * comes back over the connection.
 *
 * A program works through the fd as a directory fd (openat relative to it)
 * without any privilege; attaching it somewhere (move_mount) needs
 * CAP_SYS_ADMIN in the mount namespace of the target, which is what
 * `strata mount` does.
 *
 * Holding the fd grants exactly the access it was issued with.  Its flags
 * (read-only for views, nosuid, nodev) are locked by the kernel (the mount
 * worker passes the mount through a user namespace of its own first):
 * whoever holds the fd, in whatever user or mount namespace, gets EPERM
 * from mount_setattr or a remount that would clear them, and clones keep
 * them.  A holder that attaches the mount in a namespace of its own gains
 * nothing it could not already do through the fd. */
#ifndef STRATA_PUBLIC_MOUNTFD_H
#define STRATA_PUBLIC_MOUNTFD_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The daemon takes at most this many uid (and gid) ranges. */
#define STRATA_IDMAP_MAX_RANGES 5

/* One range of a user namespace's map, as in /proc/PID/uid_map: ids
 * inside..inside+count-1 of the namespace are outside.. in the initial one.
 * An idmapped mount shows a file owned on disk by id `inside + k` as owned
 * by `outside + k` (and creates files the other way round). */
struct strata_id_range {
	uint32_t inside, outside, count;
};

struct strata_idmap {
	struct strata_id_range uids[STRATA_IDMAP_MAX_RANGES], gids[STRATA_IDMAP_MAX_RANGES];
	size_t nuids, ngids;
};

struct strata_mount_opts {
	int read_only;			  /* read-only even for an active snapshot */
	const struct strata_idmap *idmap; /* NULL: not idmapped */
	/* NULL (library use): the daemon holds the snapshot mounted while the
	 * connection stays open.  An absolute path (strata mount): the hold
	 * lasts until strata_mount_release() names the same path. */
	const char *attach_path;
};

struct strata_mount_info {
	char type[16]; /* "overlay" or "bind" */
	int read_only;
	int64_t layers;
	int idmapped;
};

/* Asks for snapshot key (active or view) as a detached mount and returns
 * its fd (O_CLOEXEC); o may be NULL (read-write for an active snapshot, not
 * idmapped), info (may be NULL) says what was built.  While c stays
 * connected, the daemon refuses to remove the snapshot (FailedPrecondition).
 * Errors: the daemon's status (NotFound, FailedPrecondition for a
 * committed snapshot, InvalidArgument...), Internal when the reply carries
 * no fd or something that is not a directory. */
int strata_mount_fd(struct strata_client *c, const char *key, const struct strata_mount_opts *o,
		    struct strata_mount_info *info, struct strata_error *e);

/* Ends the hold taken by a strata_mount_fd() with attach_path set; *key
 * (when key is not NULL) gets the snapshot's name (free() it). */
int strata_mount_release(struct strata_client *c, const char *attach_path, char **key,
			 struct strata_error *e);

/* Parses `uids=I:O:C[;I:O:C...],gids=I:O:C[;...]` (both parts, either order,
 * 1..STRATA_IDMAP_MAX_RANGES ranges each, count >= 1, no range reaching
 * 2^32-1).  Failure: InvalidArgument naming the bad part. */
int strata_idmap_parse(const char *spec, struct strata_idmap *m, struct strata_error *e);

#ifdef __cplusplus
}
#endif

#endif
