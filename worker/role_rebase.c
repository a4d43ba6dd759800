/* The rebase role: once the lowers of a layer applied before they existed
 * are there (its new parent, given at commit), gives /target what the
 * lowers at /lower/N would have given the apply (worker/extract_rebase.c),
 * and removes the marks the apply left.  A worker given lower fds only
 * reads them: they are opened read-only, below a read-only bind. */
#include "extract.h"
#include "roles.h"

int role_rebase_run(int job_fd, const struct ipc_spawn *req)
{
	struct err e = {0};
	int target;
	static int lowers[IPC_MAX_LOWER];
	struct extract_limits lim; /* the walk's bounds: max_depth, max_name */
	if (role_open_layers(req, &target, lowers, &lim, &e) < 0)
		return role_send_fail(job_fd, &e);
	if (extract_rebase(target, lowers, req->nlower, &lim, &e) < 0)
		return role_send_fail(job_fd, &e);
	return ipc_send(job_fd, IPC_JOB_DONE, NULL, 0, NULL, 0, NULL) < 0 ? 1 : 0;
}
