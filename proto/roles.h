/* The numbers that name a job's role and a snapshot directory's kind on
 * every process boundary: the broker asks for them, the spawner and the
 * parent check them, the workers run them (proto/ipc.h carries them). */
#ifndef STRATA_ROLES_PROTO_H
#define STRATA_ROLES_PROTO_H

#include <stdint.h>

/* Worker roles; the same numbers travel in the ipc spawn request. */
enum worker_role {
	ROLE_USAGE = 1,	 /* count size and inodes of snapshots/ID/fs (read-only view) */
	ROLE_REMOVE = 2, /* delete the contents of snapshots/rm-ID without following links */
	ROLE_PROBE = 3,	 /* confine as probe_role, then try one syscall (tests, enable_probe) */
	ROLE_EXTRACT = 4,
	ROLE_DIFF = 5,
	ROLE_MOUNT = 6,
	/* root side, not a worker: hashes ingest/NAME/data into a copy and
	 * publishes it as blobs/sha256/DIGEST (parent/publish.h) */
	ROLE_PUBLISH = 7,
	/* root side, not a worker, never in a SPAWN: copies an extract job's
	 * layer file into the pipe its worker reads (parent/feed.h) */
	ROLE_FEED = 8,
};

const char *worker_role_name(int role);
int worker_role_by_name(const char *name);

/* The entries of the snapshots directory, as the parent reports them. */
enum snapdir_kind { SNAPDIR_LIVE = 1 /* ID */, SNAPDIR_NEW = 2 /* new-ID */, SNAPDIR_RM = 3 /* rm-ID */ };
struct snapdir {
	int kind;
	uint64_t id;
};

#endif
