/* The second half of a layer unpacked before its lowers exist (a parallel
 * unpack): once they do, the directories that the apply made as parents
 * take their metadata from them, as a sequential apply would have given it
 * (worker/extract_write.c marks those directories, xw_rebase_dir reads and
 * removes a mark).
 *
 * Depth-first over the target's directories, never following a link:
 * every directory is opened by name below its parent with O_NOFOLLOW |
 * O_DIRECTORY, so a symlink, or a name swapped for one, is never entered.
 * The lowers are only read (xw_rebase_dir opens them with RESOLVE_IN_ROOT).
 * One fd and one getdents buffer per level, the levels bounded by
 * lim->max_depth. */
#include "extract.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"

#define DENTS_BUF 8192

struct rebase_walk {
	struct xwriter *w;
	const struct extract_limits *lim;
	char *path; /* the directory's path below the target, max_name + 1 bytes */
};

static int walk(struct rebase_walk *r, int fd, size_t len, uint32_t depth, struct err *e)
{
	if (len && xw_rebase_dir(r->w, fd, r->path, e) < 0)
		return -1;
	if (depth >= r->lim->max_depth)
		return err_set(e, ST_RESOURCE_EXHAUSTED,
			       "rebase: `%s` is deeper than %u components (extract_max_depth)", r->path,
			       r->lim->max_depth);
	cleanup_free char *buf = xmalloc(DENTS_BUF);
	ssize_t n;
	while ((n = getdents64(fd, buf, DENTS_BUF)) > 0) {
		for (ssize_t off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			off += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			struct stat st;
			if (d->d_type == DT_UNKNOWN &&
			    fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
				d->d_type = DT_DIR;
			if (d->d_type != DT_DIR)
				continue;
			size_t nl = strlen(d->d_name);
			if (len + !!len + nl > r->lim->max_name)
				return err_set(
				    e, ST_RESOURCE_EXHAUSTED,
				    "rebase: a path below `%s` is longer than %u bytes (extract_max_name)",
				    r->path, r->lim->max_name);
			int sub = openat(fd, d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				return err_errno(e, ST_INTERNAL, errno, "rebase: open directory `%s/%s`",
						 r->path, d->d_name);
			if (len)
				r->path[len] = '/';
			memcpy(r->path + len + !!len, d->d_name, nl + 1);
			int rc = walk(r, sub, len + !!len + nl, depth + 1, e);
			close(sub);
			r->path[len] = '\0';
			if (rc < 0)
				return -1;
		}
	}
	if (n < 0)
		return err_errno(e, ST_INTERNAL, errno, "rebase: read directory `%s`", len ? r->path : "/");
	return 0;
}

int extract_rebase(int target_fd, const int *lower_fds, size_t nlower, const struct extract_limits *lim,
		   struct err *e)
{
	struct extract_limits def;
	if (!lim) {
		extract_limits_default(&def);
		lim = &def;
	}
	int fd = openat(target_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, ST_INTERNAL, errno, "rebase: open the target");
	struct rebase_walk r = {xw_new(target_fd, lower_fds, nlower, lim), lim,
				xcalloc(1, (size_t)lim->max_name + 1)};
	int rc = walk(&r, fd, 0, 0, e);
	close(fd);
	free(r.path);
	xw_free(r.w);
	return rc;
}
