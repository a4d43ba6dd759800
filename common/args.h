/* stratad's command line, shared by the two binaries: stratad (the parent,
 * and the broker it execs) and stratad-spawner (exec'ed by the parent). */
#ifndef STRATA_ARGS_H
#define STRATA_ARGS_H

#include "../common/config.h"

#define STRATA_VERSION "0.1.0"

struct stratad_args {
	const char *config_file, *role, *uid, *gid;
	int index_off;
};

/* Defaults, then --config FILE, then the flags.  Returns -1 to go on, or the
 * exit status (0 after --help/--version, 2 on a usage error). */
int stratad_args(int argc, char **argv, struct config *c, struct stratad_args *p);
/* The effective configuration as flags for a process the parent execs
 * (role NULL: none); NULL-terminated, allocated. */
char **stratad_argv(const struct config *c, const char *role);

#endif
