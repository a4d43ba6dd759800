/* Disk space of the file systems strata writes to, in errors: a call that
 * fails because one is full says which (ROOT, or the content store) and
 * what ran out, bytes or inodes (broker/meta_space.c keeps the metadata's
 * own room). */
#ifndef STRATA_SPACE_H
#define STRATA_SPACE_H

#include "../common/err.h"

/* fd: ROOT/snapshots (O_PATH), kept for fstatfs; root: ROOT, for messages. */
void space_init(int fd, const char *root);
/* ResourceExhausted, naming ROOT and what ran out, unless its file system
 * has a byte and `inodes` inodes available. */
int space_room(unsigned inodes, struct err *e);
/* Whether e is an error of a full file system (ENOSPC, EDQUOT). */
int space_is_full(const struct err *e);
/* When e is, appends what the file system of fd (-1: ROOT's) has left,
 * naming it by `path` (NULL: ROOT). */
void space_explain(struct err *e, int fd, const char *path);

#endif
