/* stratad-spawner's entry: exec'ed by the parent (never by hand) with
 * --role=spawner, the effective configuration as flags and the fds of
 * parent/spawner.h.  It is the only binary that carries the layer-parsing
 * code (libarchive, the decompressors), which its workers run confined. */
#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../common/args.h"
#include "prepare.h"
#include "spawner.h"

int main(int argc, char **argv)
{
	static struct config c;
	static struct tenants t; /* none: the parent passes the broker alone its tenants */
	struct stratad_args p;
	struct err e = {0};
	int rc = stratad_args(argc, argv, &c, &t, &p);
	if (rc >= 0)
		return rc;
	if (!p.role || strcmp(p.role, "spawner"))
		return fprintf(stderr, "stratad-spawner: started by stratad only\n"), 2;
	log_init("stratad-spawner", c.log_level);
	/* Policies parsed and compiled, the workers' shared namespaces made:
	 * once here, before any worker is forked. */
	if (prepare_init(&c, &e) < 0)
		die("%s", e.msg);
	static struct spawner_args a;
	a.cfg = &c;
	a.evt = SPAWNER_FD_EVT;
	a.snapdir = SPAWNER_FD_SNAPDIR;
	a.snap_path = xasprintf("%s/snapshots", c.root);
	spawner_main(&a);
}
