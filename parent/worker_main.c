/* stratad-worker's entry: exec'ed by the spawner (never by hand) with
 * --role=worker, the effective configuration as flags and the fds of
 * parent/spawner.h, in a child of the spawner that has joined the workers'
 * shared namespaces.  The image of the roles that parse or write layers
 * (extract, diff, a probe of either) and of the publisher: the only daemon
 * binary that links libarchive, the decompressors and libcrypto.
 *
 * It runs as root with the spawner's capabilities until it confines
 * itself, so before that it reads nothing but its command line and the job
 * the spawner wrote (a checked request, from the spawner's memory); the
 * job's input and output are touched only by the role, confined. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/args.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../proto/roles.h"
#include "../worker/diff.h"
#include "../worker/extract.h"
#include "../worker/roles.h"
#include "../worker/sandbox.h"
#include "prepare.h"
#include "publish.h"
#include "spawner.h"

/* The worker roles this image runs: those the spawner does not fork. */
static const sandbox_role_fn runs[ROLE_MAX + 1] = {
    [ROLE_EXTRACT] = role_extract_run,
    [ROLE_DIFF] = role_diff_run,
    [ROLE_PROBE] = role_probe_run,
    [ROLE_REBASE] = role_rebase_run,
};

/* Before the job is known: the broker hears of the failure on the job
 * socket, as of any sandbox step's. */
_Noreturn static void fail(struct err *e)
{
	role_send_fail(WORKER_FD_JOB, e);
	_exit(1);
}

/* The job: exactly one struct worker_job, then the end of the memfd. */
static void read_job(struct worker_job *j)
{
	struct err e = {0};
	char extra;
	ssize_t n = pread(WORKER_FD_SPEC, j, sizeof *j, 0);
	if (n != (ssize_t)sizeof *j || pread(WORKER_FD_SPEC, &extra, 1, sizeof *j) != 0) {
		err_errno(&e, ST_INTERNAL, n < 0 ? errno : EPROTO, "stratad-worker: no job on fd %d",
			  WORKER_FD_SPEC);
		fail(&e);
	}
	close(WORKER_FD_SPEC);
}

int main(int argc, char **argv)
{
	static struct config c;
	static struct tenants t;
	static struct worker_job j;
	struct stratad_args p;
	struct err e = {0};
	int rc = stratad_args(argc, argv, &c, &t, &p);
	if (rc >= 0)
		return rc;
	if (!p.role || strcmp(p.role, "worker"))
		return fprintf(stderr, "stratad-worker: started by stratad-spawner only\n"), 2;
	log_init("stratad-worker", c.log_level);
	log_set_format(c.log_format);
	read_job(&j);
	if (j.kind == WORKER_JOB_PUBLISH) {
		if (prepare_role(&c, ROLE_PUBLISH, &e) < 0)
			fail(&e);
		publish_run(c.content_root, WORKER_FD_JOB, &j.req.publish, (pid_t)j.spawner);
	}
	const struct role_info *r = role_confinement(&j.req.spawn);
	if (j.kind != WORKER_JOB_SPAWN || !r || !runs[r->role]) {
		err_set(&e, ST_INTERNAL, "stratad-worker: not a job of its roles");
		fail(&e);
	}
	if (prepare_role(&c, r->role, &e) < 0)
		fail(&e);
	sandbox_run(&c, prepare_confinement(r->role), xasprintf("%s/snapshots", c.root), WORKER_FD_JOB,
		    j.has_input ? WORKER_FD_INPUT : -1, WORKER_FD_REPORT, &j.req.spawn, (pid_t)j.spawner,
		    runs);
}
