#include "space.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>

static int root_fd = -1;
static const char *root_path = "";

void space_init(int fd, const char *root)
{
	root_fd = fd;
	root_path = root;
}

int space_room(unsigned inodes, struct err *e)
{
	struct statfs sf;
	if (root_fd < 0 || fstatfs(root_fd, &sf) < 0)
		return 0;
	if (sf.f_blocks && sf.f_bavail == 0)
		return err_set(e, ST_RESOURCE_EXHAUSTED,
			       "no space left on the file system of `%s`: 0 bytes available", root_path);
	/* Some file systems (btrfs) count no inodes: they never run out. */
	if (sf.f_files && sf.f_ffree < inodes)
		return err_set(e, ST_RESOURCE_EXHAUSTED,
			       "no inodes left on the file system of `%s`: %" PRIu64
			       " available, a snapshot needs %u",
			       root_path, (uint64_t)sf.f_ffree, inodes);
	return 0;
}

int space_is_full(const struct err *e)
{
	return e->code == ST_RESOURCE_EXHAUSTED &&
	       (strstr(e->msg, strerror(ENOSPC)) || strstr(e->msg, strerror(EDQUOT)));
}

void space_explain(struct err *e, int fd, const char *path)
{
	struct statfs sf;
	if (!space_is_full(e) || fstatfs(fd >= 0 ? fd : root_fd, &sf) < 0)
		return;
	char what[160];
	if (sf.f_files && sf.f_ffree == 0)
		snprintf(what, sizeof what, "no inodes left (0 of %" PRIu64 " free)", (uint64_t)sf.f_files);
	else
		snprintf(what, sizeof what, "%" PRIu64 " bytes available",
			 (uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize);
	size_t n = strlen(e->msg);
	snprintf(e->msg + n, sizeof e->msg - n, " (the file system of `%s` has %s)", path ? path : root_path,
		 what);
}
