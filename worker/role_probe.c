/* The probe role (only when the daemon runs with enable_probe): a worker
 * confined exactly as probe_role (same view, caps and filter; see
 * sandbox.c) stays alive hold_ms so that tests can look at it from outside,
 * then tries one syscall with zero arguments.  A forbidden syscall kills it
 * (SIGSYS), which the broker reports as a seccomp policy violation. */
#include "roles.h"

#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int role_probe_run(int job_fd, const struct ipc_spawn *req)
{
	struct err e = {0};
	/* The wait ends early when the broker closes the job socket (cancel). */
	struct pollfd pfd = {.fd = job_fd, .events = POLLIN};
	struct timespec hold = {req->probe_hold_ms / 1000, (long)(req->probe_hold_ms % 1000) * 1000000L};
	if (req->probe_hold_ms && ppoll(&pfd, 1, &hold, NULL) > 0)
		return 0;
	struct ipc_job_probe r = {0};
	if (req->probe_syscall >= 0) {
		errno = 0;
		r.ret = syscall(req->probe_syscall, 0L, 0L, 0L, 0L, 0L, 0L);
		r.errnum = r.ret < 0 ? errno : 0;
	}
	if (ipc_send(job_fd, IPC_JOB_PROBE, &r, sizeof r, NULL, 0, &e) < 0)
		return 1;
	return 0;
}
