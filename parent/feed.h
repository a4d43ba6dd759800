/* The input of an extract worker: root side (the spawner).
 *
 * An extract worker holds CAP_CHOWN, CAP_FOWNER, CAP_FSETID, CAP_SETFCAP and
 * CAP_SYS_ADMIN and may call fchown, fchmod, fsetxattr, fremovexattr and
 * utimensat on any fd it has: were it given the layer file as the client
 * opened it (or a blob of containerd's store), a compromised worker could
 * turn that file into a setuid-root binary with file capabilities.  So it
 * gets the file in one of two forms, neither of which those calls can
 * change:
 *
 *   - A regular file, reopened read-only through a private read-only
 *     clone of its mount (feed_reopen): a bind mount of that one file,
 *     detached (in no mount namespace, reachable through this fd only),
 *     with MOUNT_ATTR_RDONLY, NOSUID, NODEV and NOEXEC.  The kernel refuses
 *     every change of an inode through a read-only mount (EROFS), whatever
 *     the caller's capabilities: chown, chmod, xattrs, times; write,
 *     truncate, fallocate and a writable shared map need a writable fd,
 *     which this one is not; a hard link across mounts is EXDEV.  What
 *     could lift the flag, mount_setattr or a remount, is a call no
 *     worker's policy allows (they would give CAP_SYS_ADMIN the host
 *     already).
 *   - An anonymous pipe, which a feeder forked by the spawner for the job
 *     fills from the file (feed_start): for a named FIFO, a file whose
 *     mount is not in the spawner's mount namespace (open_tree clones only
 *     those: a client in a container of its own, or stratad under
 *     systemd's PrivateMounts with a client outside), or any file the
 *     reopen refuses.  The feeder holds no capability and may only move
 *     bytes (policy/feed.policy); the worker's capabilities, applied to a
 *     pipe, change an inode of the pipe file system that nothing else uses.
 *     An anonymous pipe the client passed (`strata apply KEY -` in a shell
 *     pipeline) goes to the worker as it is, for the same reason.
 *
 * The reopen is made as root, so it must not read more than the client's
 * fd could: an O_PATH or write-only fd is never reopened (the feeder then
 * fails to read it, as the worker would). */
#ifndef STRATA_FEED_H
#define STRATA_FEED_H

#include <sys/types.h>

#include "../common/err.h"
#include "../common/fdkind.h"

/* A regular file's fd, reopened read-only through a detached read-only
 * clone of its mount (see above), close-on-exec: the same inode, checked.
 * -1 with e filled when it cannot be (not a regular file, not readable,
 * its mount not in this namespace or unbindable...): the caller feeds the
 * file through a pipe instead. */
int feed_reopen(int fd, struct err *e);

/* Forks a feeder that copies fd to its end into a new pipe; returns the
 * pipe's read end (close-on-exec) and sets *pid.  The feeder dies with the
 * spawner, and on a broken pipe once the worker is gone; the caller kills it
 * when the worker exits (it may be blocked on a FIFO). */
int feed_start(int fd, pid_t *pid, struct err *e);

#endif
