/* The worker roles: what a worker does once its sandbox is in place.
 *
 * Each role runs confined (private namespaces, its target directory as /,
 * its caps, its seccomp filter), with the job socket on WORKER_FD_JOB, and
 * sends exactly one result record on it (ipc JOB_*). */
#ifndef STRATA_ROLES_H
#define STRATA_ROLES_H

#include <stdint.h>
#include "../common/err.h"
#include "../proto/ipc.h"

#define WORKER_FD_JOB	3
#define WORKER_FD_INPUT 4 /* extract: the layer to read; diff: where to write it */
/* The write end of a pipe the spawner reads after reaping the worker: where
 * the worker's SIGSYS handler reports the call its filter denied
 * (policy/policy.c), the one write the worker makes to it. */
#define WORKER_FD_REPORT 6

/* usage: size and inodes as containerd's fs.DiskUsage counts them. */
int role_usage_count(int top, int64_t *size, int64_t *inodes, struct err *e);
int role_usage_run(int job_fd, const struct ipc_spawn *req);

/* remove: deletes everything below dirfd, never following a link. */
int role_remove_tree(int top, struct err *e);
int role_remove_run(int job_fd, const struct ipc_spawn *req);

/* The layers view (VIEW_LAYERS): /target read-write, /lower/N read-only,
 * opened as directories (lowers: req->nlower fds); lim: the configured
 * layer limits and the request's IPC_SPAWN_EXTRACT_REBASE. */
struct extract_limits;
int role_open_layers(const struct ipc_spawn *req, int *target, int *lowers, struct extract_limits *lim,
		     struct err *e);

/* extract: applies the layer on WORKER_FD_INPUT to /target. */
int role_extract_run(int job_fd, const struct ipc_spawn *req);

/* rebase: gives /target what its new lowers would have given its apply. */
int role_rebase_run(int job_fd, const struct ipc_spawn *req);

/* diff: writes the layer of / (a snapshot's fs, read-only) to WORKER_FD_INPUT. */
int role_diff_run(int job_fd, const struct ipc_spawn *req);

/* mount: the snapshot as a detached mount, sent back as IPC_JOB_MOUNT. */
int role_mount_run(int job_fd, const struct ipc_spawn *req);

/* probe: waits hold_ms (or until the broker hangs up), tries one syscall. */
int role_probe_run(int job_fd, const struct ipc_spawn *req);

/* Sends the JOB_APPLIED record of a layer read (extract) or written (diff):
 * its uncompressed digest (diff ID), the digest and size of the stream, the
 * uncompressed size and the entries.  Returns the exit status. */
int role_send_layer(int job_fd, const unsigned char diff_id[32], const unsigned char digest[32],
		    uint64_t size, uint64_t uncompressed_size, uint64_t entries);
/* Sends JOB_FAIL carrying e's code and message; returns 1 (the exit status). */
int role_send_fail(int job_fd, const struct err *e);

#endif
