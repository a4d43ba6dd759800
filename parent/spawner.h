/* The spawner: a second root process, forked by the parent for each broker,
 * that forks and reaps that broker's workers.  A fork takes milliseconds
 * here; in a process of its own it never delays the parent's directory
 * operations, which the broker waits for.
 *
 * Two images run jobs.  The spawner's own forks run the roles that need
 * nothing but libc: usage, remove and mount (and the feeder), so that the
 * snapshot calls that wait for them pay a fork and no exec.  The roles that
 * parse or write layers, extract and diff, and the publisher, which hashes
 * with OpenSSL, run in stratad-worker, which a forked child of the spawner
 * execs: only that binary links libarchive, the decompressors and
 * libcrypto, and the spawner, which lives as long as its broker, maps none
 * of them.  A probe runs in the image of the role it probes. */
#ifndef STRATA_SPAWNER_H
#define STRATA_SPAWNER_H

#include <stdint.h>
#include <sys/types.h>
#include "../common/config.h"
#include "../proto/ipc.h"

/* stratad-spawner is exec'ed with the fds of proto/exec.h. */
#include "../proto/exec.h"

struct spawner_args {
	const struct config *cfg;
	int evt;	    /* the broker's event channel: SPAWN in; SPAWNED, SPAWN_FAILED, JOB_EXIT out */
	int snapdir;	    /* O_PATH fd of ROOT/snapshots */
	int worker;	    /* stratad-worker, opened by the parent before the spawner's exec */
	char **worker_argv; /* its command line: the configuration, --role=worker */
	const char *snap_path;
};

/* stratad-worker is exec'ed with the job socket on WORKER_FD_JOB, the
 * job's input (or nothing) on WORKER_FD_INPUT and a pipe on WORKER_FD_SPEC
 * that holds one struct worker_job, then its end: what the forked child
 * had in memory, written by it before the exec, from the spawner's checked
 * request.  Every other fd is closed, and the child has joined the shared
 * namespaces. */
#define WORKER_FD_SPEC 5

enum worker_job_kind { WORKER_JOB_SPAWN = 1, WORKER_JOB_PUBLISH = 2 };
struct worker_job {
	uint32_t kind;	    /* enum worker_job_kind */
	int32_t spawner;    /* the pid that reaps it: it dies with it */
	uint32_t has_input; /* WORKER_FD_INPUT holds the job's input */
	uint32_t pad;
	union {
		struct ipc_spawn spawn;	    /* WORKER_JOB_SPAWN: a worker, for sandbox_run */
		struct ipc_publish publish; /* WORKER_JOB_PUBLISH: a publisher, for publish_run */
	} req;
};

/* Whether the spawner runs the role in a fork of its own (the feeder, and
 * the workers of spawner.c's forked_runs), whose confinement it prepares
 * before it forks; the other roles' run in stratad-worker. */
int spawner_forks(int role);

/* Never returns.  Exits when the broker's channel closes (killing its
 * workers first), with status 3 when the broker broke the protocol. */
_Noreturn void spawner_main(const struct spawner_args *a);

#endif
