/* The diff role: writes the layer of its view to WORKER_FD_INPUT (worker/
 * diff.h does the work).  Fast path: the view is a snapshot's fs (its
 * upperdir), read-only, as /; overlay whiteout devices and opaque
 * directories become .wh. entries.  General path: the view has two merged,
 * read-only trees, /left and /right, walked side by side.  It can read the tree
 * and write to that one fd; its policy has no call that creates, changes or
 * removes a file. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "diff.h"
#include "roles.h"

/* Progress records for the client's terminal; the broker drops any beyond
 * ten a second. */
static void report_progress(void *ctx, uint64_t tar_bytes, uint64_t entries)
{
	struct ipc_job_progress p = {.read = tar_bytes, .entries = entries};
	ipc_send(*(int *)ctx, IPC_JOB_PROGRESS, &p, sizeof p, NULL, 0, NULL);
}

int role_diff_run(int job_fd, const struct ipc_spawn *req)
{
	struct err e = {0};
	/* The general path's view has both trees; the fast path's / is the
	 * target's upperdir. */
	const char *upper_path = req->nleft ? "/right" : "/";
	int upper = open(upper_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int lower = req->nleft ? open("/left", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (upper < 0 || (req->nleft && lower < 0)) {
		err_errno(&e, ST_INTERNAL, errno, "diff: open the view's trees");
		return role_send_fail(job_fd, &e);
	}
	struct diff_opts o = {
	    .compression = (int)req->diff_compression,
	    .source_date_epoch = req->diff_has_epoch ? req->diff_epoch : -1,
	    .threads = 2,
	    .progress = report_progress,
	    .progress_ctx = &job_fd,
	};
	struct diff_result res;
	if (diff_layer(lower, upper, WORKER_FD_INPUT, &o, &res, &e) < 0)
		return role_send_fail(job_fd, &e);
	return role_send_layer(job_fd, res.diff_id, res.digest, res.size, res.uncompressed_size, res.entries);
}
