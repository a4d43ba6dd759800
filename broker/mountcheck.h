/* The broker's check of a mount fd a mount worker sent (mountcheck.c). */
#ifndef STRATA_MOUNTCHECK_H
#define STRATA_MOUNTCHECK_H

#include <sys/stat.h>

#include "../common/err.h"

/* 0 when fd is the root of a mount of overlay or of the snapshots' file
 * system, with nodev and nosuid, and read-only if read_only (and *st its
 * fstat); else an ST_INTERNAL error that says what is wrong. */
int mount_fd_check(int fd, int read_only, struct stat *st, struct err *e);

#endif
