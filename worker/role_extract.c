/* The extract role: applies the layer on WORKER_FD_INPUT to /target, with the
 * lower layers at /lower/N for the metadata of parent directories the layer
 * does not carry (worker/extract.h does the work), once the broker says it
 * may.  With IPC_SPAWN_EXTRACT_REBASE the lowers come at commit, and a
 * rebase job gives the target what they would have (role_rebase.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "extract.h"
#include "roles.h"
#include "sandbox.h"

static void report_progress(void *ctx, uint64_t in, uint64_t entries)
{
	struct ipc_job_progress p = {.read = in, .entries = entries};
	ipc_send(*(int *)ctx, IPC_JOB_PROGRESS, &p, sizeof p, NULL, 0, NULL);
}

/* The broker's go-ahead (proto/ipc.h JOB_GO): it has recorded, durably,
 * that this apply is under way.  Anything else, or the broker gone, ends
 * the job before it touched its target or its input. */
static int wait_go(int job_fd)
{
	struct ipc_msg m;
	struct err e = {0};
	int r = ipc_recv(job_fd, IPC_CH_WORKER, &m, &e);
	if (r == 1 && m.type == IPC_JOB_GO)
		return 0;
	if (r == 1)
		ipc_msg_close(&m);
	return -1;
}

int role_open_layers(const struct ipc_spawn *req, int *target, int *lowers, struct extract_limits *lim,
		     struct err *e)
{
	const struct config *c = sandbox_config();
	extract_limits_default(lim);
	lim->max_bytes = c->extract_max_bytes;
	lim->max_entries = c->extract_max_entries;
	lim->max_file = c->extract_max_file;
	lim->max_depth = c->extract_max_depth;
	lim->max_name = c->extract_max_name;
	lim->max_xattr = c->extract_max_xattr;
	lim->max_ratio = c->extract_max_ratio;
	lim->strip_caps = c->strip_caps;
	lim->rebase = (req->flags & IPC_SPAWN_EXTRACT_REBASE) != 0;
	lim->no_digest = (req->flags & IPC_SPAWN_EXTRACT_NO_DIGEST) != 0;
	const char *role = worker_role_name((int)req->role);
	if ((*target = open("/target", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return err_errno(e, ST_INTERNAL, errno, "%s: open `/target`", role);
	for (uint32_t i = 0; i < req->nlower; i++) {
		char path[32];
		snprintf(path, sizeof path, "/lower/%u", i);
		if ((lowers[i] = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			return err_errno(e, ST_INTERNAL, errno, "%s: open `%s`", role, path);
	}
	return 0;
}

int role_extract_run(int job_fd, const struct ipc_spawn *req)
{
	struct err e = {0};
	if (wait_go(job_fd) < 0)
		return 1;
	int target;
	static int lowers[IPC_MAX_LOWER];
	struct extract_limits lim;
	if (role_open_layers(req, &target, lowers, &lim, &e) < 0)
		return role_send_fail(job_fd, &e);
	struct extract_result res;
	if (extract_layer(WORKER_FD_INPUT, target, lowers, req->nlower, &lim, report_progress, &job_fd, &res,
			  &e) < 0)
		return role_send_fail(job_fd, &e);
	return role_send_layer(job_fd, res.diff_id, res.compressed_digest, res.compressed_size,
			       res.uncompressed_size, res.entries);
}
