/* The diff role: writes the layer of its view (a snapshot's fs, read-only,
 * as /) to WORKER_FD_INPUT: overlay whiteout devices and opaque directories
 * become .wh. entries (worker/diff.h does the work).  It can read the tree
 * and write to that one fd; its policy has no call that creates, changes or
 * removes a file. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "diff.h"
#include "roles.h"

int role_diff_run(int job_fd, const struct ipc_spawn *req)
{
	struct err e = {0};
	int upper = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (upper < 0) {
		err_errno(&e, ST_INTERNAL, errno, "diff: open `/`");
		return role_send_fail(job_fd, &e);
	}
	struct diff_opts o = {
	    .compression = (int)req->diff_compression,
	    .source_date_epoch = req->diff_has_epoch ? req->diff_epoch : -1,
	    .threads = 2,
	};
	struct diff_result res;
	if (diff_layer(-1, upper, WORKER_FD_INPUT, &o, &res, &e) < 0)
		return role_send_fail(job_fd, &e);
	return role_send_layer(job_fd, res.diff_id, res.digest, res.size, res.uncompressed_size, res.entries);
}
