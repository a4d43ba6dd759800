/* The spawner's check of a SPAWN or SPAWN_INPUT from the broker: every
 * field against the role table (proto/roles.h) and the flags' rules; and of
 * a PUBLISH: the names the publisher builds paths from.  The broker is
 * untrusted here; anything this refuses is a protocol violation and ends
 * the broker. */
#ifndef STRATA_SPAWNCHECK_H
#define STRATA_SPAWNCHECK_H

#include <stdint.h>
#include "../proto/ipc.h"

/* The longest a probe may stay alive confined before its syscall. */
#define PROBE_MAX_HOLD_MS 600000

/* NULL when the request is one the spawner may serve (enable_probe: probe
 * jobs are allowed), else what is wrong with it.  The job id's uniqueness
 * among running jobs is the spawner's to check. */
const char *spawn_check(uint32_t type, const struct ipc_spawn *s, int enable_probe);
/* The same for a PUBLISH: NULL when the spawner may serve it. */
const char *publish_check(const struct ipc_publish *p);

#endif
