/* The input of an extract worker, as a pipe: root side (the spawner).
 *
 * An extract worker holds CAP_CHOWN, CAP_FOWNER, CAP_FSETID and CAP_SETFCAP
 * and may call fchown, fchmod, fsetxattr and fremovexattr on any fd it has:
 * were it given the layer file itself (a file the client opened, a blob of
 * containerd's store), a compromised worker could turn it into a setuid-root
 * binary with file capabilities.  So a worker never gets a descriptor of a
 * host file: it reads an anonymous pipe, which a feeder, forked by the
 * spawner for the job, fills from the file.  The feeder holds no capability
 * and may only move bytes (policy/feed.policy); the worker's capabilities,
 * applied to a pipe, change an inode of the pipe file system that nothing
 * else uses.  An anonymous pipe the client passed (`strata apply KEY -` in a
 * shell pipeline) goes to the worker as it is, for the same reason. */
#ifndef STRATA_FEED_H
#define STRATA_FEED_H

#include <sys/types.h>

#include "../common/err.h"
#include "../common/fdkind.h"

/* Forks a feeder that copies fd to its end into a new pipe; returns the
 * pipe's read end (close-on-exec) and sets *pid.  The feeder dies with the
 * spawner, and on a broken pipe once the worker is gone; the caller kills it
 * when the worker exits (it may be blocked on a FIFO). */
int feed_start(int fd, pid_t *pid, struct err *e);

#endif
