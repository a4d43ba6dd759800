/* Worker sandboxes: the parent prepares every role's confinement once at
 * start (policies parsed, filters compiled), then each forked worker only
 * applies it (see sandbox_run) and runs its role. */
#ifndef STRATA_SANDBOX_H
#define STRATA_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "../common/config.h"
#include "../common/err.h"
#include "../proto/ipc.h"
#include "roles.h"

/* Parses and compiles the policies of every worker role; cfg (kept) gives
 * the roles their settings (the extract limits). */
int sandbox_init(const struct config *cfg, struct err *e);
const struct config *sandbox_config(void);

/* The role table: usage, remove and probe; NULL for others. */
const struct role_def *sandbox_role(int role);
/* The role whose confinement a request runs under (probe: probe_role). */
const struct role_def *sandbox_confinement(const struct ipc_spawn *req);

/* Name of a target below the snapshots directory: "ID/fs" or "rm-ID". */
void sandbox_target_name(const struct ipc_spawn *req, char *buf, size_t len);

/* In a forked child: signals back to their defaults, the job socket on
 * WORKER_FD_JOB and input_fd (unless -1) on WORKER_FD_INPUT, every other fd
 * closed (it holds nothing of the spawner's: broker channels, other jobs'
 * sockets), and death with parent_pid, which would reap it. */
void sandbox_keep_only(int job_fd, int input_fd, pid_t parent_pid);

/* Takes role's capabilities, no_new_privs and its seccomp filter, as
 * prepared by sandbox_init (the publisher's confinement). */
int sandbox_confine(int role, struct err *e);

/* In a freshly forked child of the (single-threaded) parent: builds the
 * sandbox around snapshots_dir/<target>, runs the role, exits.  Failures
 * before the role runs are reported to the broker as JOB_FAIL. */
_Noreturn void sandbox_run(const char *snapshots_dir, int job_fd, int input_fd, const struct ipc_spawn *req,
			   pid_t parent_pid);

#endif
