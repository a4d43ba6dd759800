/* The spawner: a second root process, forked by the parent for each broker,
 * that forks and reaps that broker's workers.  A fork takes milliseconds
 * here; in a process of its own it never delays the parent's directory
 * operations, which the broker waits for. */
#ifndef STRATA_SPAWNER_H
#define STRATA_SPAWNER_H

#include <stdint.h>
#include "../common/config.h"

/* stratad-spawner is exec'ed with the fds of proto/exec.h. */
#include "../proto/exec.h"

struct spawner_args {
	const struct config *cfg;
	int evt;     /* the broker's event channel: SPAWN in; SPAWNED, SPAWN_FAILED, JOB_EXIT out */
	int snapdir; /* O_PATH fd of ROOT/snapshots */
	const char *snap_path;
};

/* Never returns.  Exits when the broker's channel closes (killing its
 * workers first), with status 3 when the broker broke the protocol. */
_Noreturn void spawner_main(const struct spawner_args *a);

#endif
