/* The kinds of fd a layer travels in (a client's `strata apply` input or
 * `strata diff` output, a blob of containerd's store): a regular file or a
 * pipe.  The broker refuses anything else from a client with
 * InvalidArgument; the spawner, which gives a file to an extract worker
 * only reopened read-only or through a pipe (parent/feed.h), treats
 * anything else as a violation. */
#ifndef STRATA_FDKIND_H
#define STRATA_FDKIND_H

#include "err.h"

enum fd_kind {
	FD_PIPE = 1, /* an anonymous pipe (the pipe file system): no host file behind it */
	FD_FILE = 2, /* a regular file or a named FIFO: an inode of a host file system */
};

/* The kind of fd, or -1 with an InvalidArgument error that names what it is
 * (a directory, a socket, a device, an event fd...). */
int fd_kind(int fd, struct err *e);

/* 0 when fd is open for reading (for_write 0) or writing (for_write 1),
 * else -1 with an InvalidArgument error: an O_PATH fd can do neither, and
 * the daemon reads a client's layer with its own rights only through an fd
 * the client could read (parent/feed.h). */
int fd_access(int fd, int for_write, struct err *e);

#endif
