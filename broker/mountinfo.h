/* A mount namespace's table as /proc/PID/mountinfo shows it (proc(5)): which
 * mounts are at which path, so that the broker can tell whether an attached
 * strata mount is still there (broker/mountsvc.c). */
#ifndef STRATA_MOUNTINFO_H
#define STRATA_MOUNTINFO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "../common/err.h"

struct mnt_entry {
	uint64_t id;  /* mount id: one mount of one namespace while it exists */
	uint64_t dev; /* makedev(major, minor) of its filesystem */
	char *root;   /* its root within that filesystem */
	char *point;  /* its mount point, relative to the reader's root */
};

struct mountinfo {
	struct mnt_entry *v; /* in the file's order */
	size_t n;
	char *text; /* the strings point into it */
};

/* Parses mountinfo text, which mi takes over; a line that does not parse is
 * skipped. */
void mountinfo_parse(struct mountinfo *mi, char *text);
/* Reads /proc/PID/mountinfo (PID 0: the caller's own). */
int mountinfo_read(struct mountinfo *mi, pid_t pid, struct err *e);
void mountinfo_free(struct mountinfo *mi);
/* The mount that holds path's place: the longest mount point that is path or
 * one of its ancestors (the last listed of several there); NULL if none. */
const struct mnt_entry *mountinfo_covering(const struct mountinfo *mi, const char *path);
/* Whether something is mounted at path: anything (dev 0), or a mount of
 * device dev. */
int mountinfo_mounted_at(const struct mountinfo *mi, const char *path, uint64_t dev);
/* The mount with that id, or NULL. */
const struct mnt_entry *mountinfo_by_id(const struct mountinfo *mi, uint64_t id);

#endif
