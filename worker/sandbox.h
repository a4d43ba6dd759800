/* A worker's sandbox, built in the forked child before the role runs: fds
 * reduced to the job socket and the input, its view of the snapshots (a
 * private mount namespace whose root is the view), resource limits, then
 * the role's capabilities, no_new_privs and seccomp filter, which the root
 * side prepared before the fork (parent/prepare.h).  The view each role
 * gets is named by the role table (proto/roles.h). */
#ifndef STRATA_SANDBOX_H
#define STRATA_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "../common/config.h"
#include "../common/err.h"
#include "../policy/policy.h"
#include "../proto/ipc.h"
#include "../proto/roles.h"
#include "roles.h"

/* A role's confinement as prepared before the fork: its row, its parsed
 * policy (capabilities) and its compiled filter. */
struct sandbox_confinement {
	const struct role_info *role;
	const struct policy *policy;
	const struct policy_bpf *bpf;
};

/* The settings the worker runs with (the extract limits), as sandbox_run
 * was given them. */
const struct config *sandbox_config(void);

/* In a forked child: signals back to their defaults, the job socket on
 * WORKER_FD_JOB, input_fd (unless -1) on WORKER_FD_INPUT and report_fd
 * (unless -1) on WORKER_FD_REPORT, every other fd closed (it holds nothing
 * of the spawner's: broker channels, other jobs' sockets), and death with
 * parent_pid, which would reap it. */
void sandbox_keep_only(int job_fd, int input_fd, int report_fd, pid_t parent_pid);

/* What a worker does once confined, by role: each of the two images that
 * run workers links only the roles it runs (parent/spawner.h says which), so
 * that the spawner maps none of the layer codecs. */
typedef int (*sandbox_role_fn)(int job_fd, const struct ipc_spawn *req);

/* In a child of the spawner that has joined the shared namespaces (a fork
 * of the spawner, or stratad-worker exec'ed in one): builds the sandbox
 * around the request's view of snapshots_dir, takes conf (the confinement
 * of the request's role, or of the probed role; NULL fails the job), runs
 * the role with runs[role], exits.  A role, or a probed role, that this
 * image has no run for fails the job, so a probe is confined by the image
 * that runs its probed role.  Failures before the role runs are reported to
 * the broker as JOB_FAIL. */
_Noreturn void sandbox_run(const struct config *cfg, const struct sandbox_confinement *conf,
			   const char *snapshots_dir, int job_fd, int input_fd, int report_fd,
			   const struct ipc_spawn *req, pid_t parent_pid,
			   const sandbox_role_fn runs[ROLE_MAX + 1]);

#endif
