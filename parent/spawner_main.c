/* stratad-spawner's entry: exec'ed by the parent (never by hand) with
 * --role=spawner, the effective configuration as flags and the fds of
 * proto/exec.h.  The layer-parsing code (libarchive, the decompressors,
 * OpenSSL) is not in it but in stratad-worker, which it execs for the jobs
 * that run that code (parent/spawner.h). */
#include <stdio.h>
#include <string.h>
#include <fcntl.h>

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
	log_set_format(c.log_format);
	/* The policies of the roles it forks parsed and compiled, the
	 * workers' shared namespaces made: once here, before any worker is
	 * forked. */
	if (prepare_init(&c, spawner_forks, &e) < 0)
		die("%s", e.msg);
	static struct spawner_args a;
	a.cfg = &c;
	a.evt = SPAWNER_FD_EVT;
	a.snapdir = SPAWNER_FD_SNAPDIR;
	/* Kept from the workers the spawner forks, and from the image it
	 * execs: execveat needs it open only until the image is loaded. */
	a.worker = SPAWNER_FD_WORKER;
	if (fcntl(a.worker, F_SETFD, FD_CLOEXEC) < 0)
		die("stratad-spawner: no stratad-worker on fd %d: %m", SPAWNER_FD_WORKER);
	a.worker_argv = stratad_argv(&c, NULL, &(struct stratad_args){.role = "worker"});
	a.snap_path = xasprintf("%s/snapshots", c.root);
	spawner_main(&a);
}
