/* The writer: puts each checked tar entry into the upperdir as containerd's
 * applyNaive + createTarFile + OverlayConvertWhiteout do, with the file
 * system calls of a careful program instead of path strings:
 *
 *  - every operation is relative to a directory fd; parents are opened with
 *    openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
 *    RESOLVE_NO_XDEV), so the kernel refuses any path that leaves the target
 *    or crosses a symlink (containerd would resolve such a symlink inside
 *    the root; we refuse the entry: no real layer needs it);
 *  - the last component is never followed: O_NOFOLLOW, AT_SYMLINK_NOFOLLOW,
 *    unlinkat, linkat without AT_SYMLINK_FOLLOW (a hardlink to a symlink
 *    links the symlink), chmod never on a symlink;
 *  - metadata in containerd's order: create, chown, xattrs, chmod (after
 *    chown, which clears setuid and security.capability), times; chown
 *    and chmod left out where a new entry already is as they would make it;
 *    directories' times once more at the end, as containerd does.
 *
 * Lower layers are only read, with RESOLVE_IN_ROOT: the kernel resolves
 * their symlinks inside each lower, as containerd's fs.RootPath does. */
#include "extract.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef SYS_setxattrat
#define SYS_setxattrat 463
#endif

#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_MARKER	".wh..wh..opq"
#define DIRTIMES_MAX	(16u << 20) /* bytes of the directory-times log */
#define PARENT_MARK	"trusted.strata.parent"

struct setxattr_args {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

/* Directories' times, applied at the end; front-coded against the previous
 * path (tar order keeps neighbours alike), so 100k directories fit in a few
 * MiB. Record: prefix, suffix length, times, suffix bytes. */
struct dirtime_rec {
	uint32_t prefix, suffix;
	struct xtime atime, mtime;
};

struct xwriter {
	int target; /* borrowed */
	const int *lowers;
	size_t nlower;
	const struct extract_limits *lim;
	char *pbuf, *lbuf, *prev; /* max_name + 1 bytes each */
	char *cache_path;	  /* the parent resolved last, and its fd */
	int cache_fd;
	_Atomic unsigned *gen; /* shared with other writers of the target, or NULL */
	unsigned cache_gen;    /* *gen when cache_fd was opened */
	unsigned char *log;
	size_t log_len, log_cap;
	int no_fchmodat2, no_setxattrat;
};

void xw_share_gen(struct xwriter *w, _Atomic unsigned *gen)
{
	w->gen = gen;
}

struct xwriter *xw_new(int target_fd, const int *lower_fds, size_t nlower, const struct extract_limits *lim)
{
	struct xwriter *w = xcalloc(1, sizeof *w);
	w->target = target_fd;
	w->lowers = lower_fds;
	w->nlower = nlower;
	w->lim = lim;
	w->pbuf = xmalloc((size_t)lim->max_name + 1);
	w->lbuf = xmalloc((size_t)lim->max_name + 1);
	w->prev = xcalloc(1, (size_t)lim->max_name + 1);
	w->cache_path = xcalloc(1, (size_t)lim->max_name + 1);
	w->cache_fd = -1;
	return w;
}

static void cache_drop(struct xwriter *w)
{
	if (w->cache_fd >= 0)
		close(w->cache_fd);
	w->cache_fd = -1;
	w->cache_path[0] = '\0';
}

void xw_free(struct xwriter *w)
{
	if (!w)
		return;
	cache_drop(w);
	free(w->pbuf);
	free(w->lbuf);
	free(w->prev);
	free(w->cache_path);
	free(w->log);
	free(w);
}

/* ---- opening paths -------------------------------------------------------- */

/* path below dirfd, no symlink anywhere, never above dirfd. */
static int open_beneath(int dirfd, const char *path, int flags)
{
	/* No O_NOFOLLOW: RESOLVE_NO_SYMLINKS refuses a trailing symlink with
	 * ELOOP too, where O_NOFOLLOW|O_DIRECTORY would say ENOTDIR. */
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
	if (fd >= 0 || errno != ENOSYS)
		return fd;
	/* Before Linux 5.6: one component at a time, none followed (the cleaned
	 * path has no "." or ".." components). */
	char buf[PATH_MAX];
	if (strlen(path) >= sizeof buf)
		return errno = ENAMETOOLONG, -1;
	strcpy(buf, path);
	int cur = dirfd;
	char *save = NULL;
	for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int last = *save == '\0';
		int fd2 = openat(cur, c,
				 last ? flags | O_CLOEXEC | O_NOFOLLOW
				      : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cur != dirfd)
			close(cur);
		if (fd2 < 0)
			return -1;
		cur = fd2;
	}
	return cur == dirfd ? openat(dirfd, ".", flags | O_CLOEXEC) : cur;
}

static int parent_error(const char *path, int errnum, struct err *e)
{
	if (errnum == ELOOP)
		return err_set(e, ST_INVALID_ARGUMENT,
			       "entry `%s`: its directory path traverses a symlink (refused)", path);
	if (errnum == ENOTDIR)
		return err_set(e, ST_INVALID_ARGUMENT, "entry `%s`: a parent is not a directory", path);
	if (errnum == EXDEV)
		return err_set(e, ST_INVALID_ARGUMENT, "entry `%s`: path leaves the target", path);
	return err_errno(e, ST_INTERNAL, errnum, "entry `%s`: open parent directory", path);
}

/* ---- metadata helpers ---------------------------------------------------- */

/* fchmodat2(AT_SYMLINK_NOFOLLOW) never follows; before Linux 6.6 the
 * callers' guarantee holds instead: they chmod only what they just created
 * or lstat'ed as a non-symlink, and nothing else writes the target. */
static int chmod_at(struct xwriter *w, int pfd, const char *base, mode_t mode)
{
	if (!w->no_fchmodat2) {
		if (syscall(SYS_fchmodat2, pfd, base, mode, AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		if (errno != ENOSYS)
			return -1;
		w->no_fchmodat2 = 1;
	}
	return fchmodat(pfd, base, mode, 0);
}

static int setxattr_at(struct xwriter *w, int pfd, const char *base, const struct xattr_kv *kv)
{
	if (!w->no_setxattrat) {
		struct setxattr_args args = {(uint64_t)(uintptr_t)kv->value, (uint32_t)kv->size, 0};
		if (syscall(SYS_setxattrat, pfd, base, AT_SYMLINK_NOFOLLOW, kv->name, &args, sizeof args) ==
		    0)
			return 0;
		if (errno != ENOSYS)
			return -1;
		w->no_setxattrat = 1;
	}
	/* Before Linux 6.13: lsetxattr relative to the parent as cwd. */
	int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0)
		return -1;
	int rc = fchdir(pfd) == 0 ? lsetxattr(base, kv->name, kv->value, kv->size, 0) : -1;
	int saved = errno;
	if (fchdir(cwd) < 0)
		die("extract: cannot return to the working directory");
	close(cwd);
	errno = saved;
	return rc;
}

/* Sets the entry's xattrs on fd (when >= 0) or on pfd/base; failures
 * containerd ignores are ignored (ENOTSUP; user.* on what cannot have it). */
static int apply_xattrs(struct xwriter *w, int fd, int pfd, const char *base, const struct xentry *x,
			struct err *e)
{
	for (size_t i = 0; i < x->nxattrs; i++) {
		const struct xattr_kv *kv = &x->xattrs[i];
		int rc =
		    fd >= 0 ? fsetxattr(fd, kv->name, kv->value, kv->size, 0) : setxattr_at(w, pfd, base, kv);
		if (rc == 0 || errno == ENOTSUP)
			continue;
		if (errno == EPERM && !strncmp(kv->name, "user.", 5) && x->type != XE_REG &&
		    x->type != XE_DIR)
			continue;
		int code = (errno == EINVAL || errno == ERANGE || errno == E2BIG) ? ST_INVALID_ARGUMENT : 0;
		return err_errno(e, code, errno, "setxattr `%s` on `%s`", kv->name, x->path);
	}
	return 0;
}

static int set_owner(int pfd, const char *base, const struct xentry *x, struct err *e)
{
	if (fchownat(pfd, base, x->uid, x->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return err_errno(e, ST_INTERNAL, errno, "chown `%s` to %u:%u", x->path, x->uid, x->gid);
	return 0;
}

/* What chown and chmod would change on an entry just created, as st (its
 * fstat right after creation) shows it: chown nothing when it already has
 * the entry's owner (the kernel gives it this process's ids, or a setgid
 * parent's group; a new entry has no setuid bit or capability for chown to
 * clear); chmod nothing when it has the entry's mode (umask 0: the bits it
 * was made with, unless a setgid parent, a default ACL or a setuid bit
 * says otherwise) and the entry carries no ACL of its own, which the
 * xattrs set after this would change the mode with. */
static int owner_is(const struct stat *st, const struct xentry *x)
{
	return st->st_uid == x->uid && st->st_gid == x->gid;
}

static int mode_is(const struct stat *st, const struct xentry *x)
{
	for (size_t i = 0; i < x->nxattrs; i++)
		if (!strncmp(x->xattrs[i].name, "system.posix_acl_", 17))
			return 0;
	return (st->st_mode & 07777) == x->mode;
}

static int set_times(int pfd, const char *base, const struct xentry *x, struct err *e)
{
	struct timespec ts[2] = {{x->atime.sec, x->atime.nsec}, {x->mtime.sec, x->mtime.nsec}};
	if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return err_errno(e, ST_INTERNAL, errno, "set times of `%s`", x->path);
	return 0;
}

/* ---- removal --------------------------------------------------------------- */

/* Empties the directory fd refers to as far as it can without descending;
 * returns 1 with child set when a non-empty subdirectory must be entered,
 * 0 when empty, -1 on error. */
static int empty_step(int fd, char *child, struct err *e)
{
	char buf[8192];
	for (;;) {
		int seen = 0;
		if (lseek(fd, 0, SEEK_SET) < 0)
			return err_errno(e, ST_INTERNAL, errno, "remove: rewind directory");
		ssize_t n;
		while ((n = getdents64(fd, buf, sizeof buf)) > 0) {
			for (ssize_t off = 0; off < n;) {
				struct dirent64 *d = (struct dirent64 *)(buf + off);
				off += d->d_reclen;
				if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
					continue;
				seen = 1;
				if (unlinkat(fd, d->d_name, 0) == 0 || errno == ENOENT)
					continue;
				if (errno != EISDIR)
					return err_errno(e, ST_INTERNAL, errno, "remove `%s`", d->d_name);
				if (unlinkat(fd, d->d_name, AT_REMOVEDIR) == 0 || errno == ENOENT)
					continue;
				if (errno != ENOTEMPTY && errno != EEXIST)
					return err_errno(e, ST_INTERNAL, errno, "remove directory `%s`",
							 d->d_name);
				strcpy(child, d->d_name);
				return 1;
			}
		}
		if (n < 0)
			return err_errno(e, ST_INTERNAL, errno, "remove: read directory");
		if (!seen)
			return 0;
	}
}

/* Depth-first with two fds at most: down by name (O_NOFOLLOW), back up by
 * "..", which stays inside the tree being removed since we came down. */
int xw_remove(int dirfd, const char *name, struct err *e)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return err_errno(e, ST_INTERNAL, errno, "remove `%s`", name);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;
	if (errno != ENOTEMPTY && errno != EEXIST)
		return err_errno(e, ST_INTERNAL, errno, "remove directory `%s`", name);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, ST_INTERNAL, errno, "remove: open directory `%s`", name);
	char child[256];
	size_t depth = 0;
	int rc;
	while ((rc = empty_step(fd, child, e)) >= 0) {
		int next;
		if (rc == 1) {
			next = openat(fd, child, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			depth++;
		} else if (depth > 0) {
			next = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			depth--;
		} else {
			break;
		}
		close(fd);
		if ((fd = next) < 0) {
			rc = err_errno(e, ST_INTERNAL, errno, "remove: open directory below `%s`", name);
			break;
		}
	}
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		return -1;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return err_errno(e, ST_INTERNAL, errno, "remove directory `%s`", name);
	return 0;
}

/* victim (a path below the target) was removed: a parent cached at or
 * below it is gone, here and in other writers of the target. */
static void removed(struct xwriter *w, const char *victim)
{
	size_t n = strlen(victim);
	if (!strncmp(w->cache_path, victim, n) && (w->cache_path[n] == '/' || !w->cache_path[n]))
		cache_drop(w);
	if (w->gen)
		atomic_fetch_add(w->gen, 1);
}

/* containerd removes whatever is at the path unless both are directories. */
static int replace(struct xwriter *w, int pfd, const char *base, const struct xentry *x, struct err *e)
{
	int rc = xw_remove(pfd, base, e);
	removed(w, x->path);
	return rc < 0 ? err_wrap(e, "replace `%s`", x->path) : 0;
}

/* ---- parent directories ------------------------------------------------- */

static int copy_xattrs(int dst, int src, const char *path, struct err *e)
{
	ssize_t n = flistxattr(src, NULL, 0);
	if (n <= 0)
		return 0; /* none, or the lower cannot list them: containerd ignores both */
	cleanup_free char *names = xmalloc((size_t)n);
	cleanup_free char *val = xmalloc(65536);
	if ((n = flistxattr(src, names, (size_t)n)) < 0)
		return 0;
	for (char *k = names; k < names + n; k += strlen(k) + 1) {
		if (!strncmp(k, "trusted.", 8))
			continue;
		ssize_t vn = fgetxattr(src, k, val, 65536);
		if (vn < 0)
			continue; /* ENODATA, ENOTSUP: skipped by containerd too */
		if (fsetxattr(dst, k, val, (size_t)vn, XATTR_CREATE) < 0 && errno != ENOTSUP &&
		    errno != EEXIST)
			return err_errno(e, ST_INTERNAL, errno, "copy xattr `%s` to `%s`", k, path);
	}
	return 0;
}

/* The directory rel of the nearest lower that has something at rel, read
 * only; -1 when none has, or the nearest has a non-directory there. */
static int lower_dir(struct xwriter *w, const char *rel)
{
	for (size_t i = 0; i < w->nlower; i++) {
		struct open_how how = {
		    .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
		};
		int lfd = (int)syscall(SYS_openat2, w->lowers[i], rel, &how, sizeof how);
		if (lfd < 0 && errno == ENOSYS)
			lfd = open_beneath(w->lowers[i], rel, O_RDONLY | O_DIRECTORY);
		if (lfd >= 0 || errno != ENOENT)
			return lfd;
	}
	return -1;
}

/* containerd's mkparent + copyDirInfo + copyUpXAttrs: a directory the layer
 * does not carry takes owner, mode, times and xattrs (but trusted.*) from
 * the nearest lower that has it as a directory; a non-directory there
 * stops the search (0755, root). */
static int inherit(struct xwriter *w, int fd, const char *rel, struct err *e)
{
	int lfd = lower_dir(w, rel);
	if (lfd < 0)
		return 0;
	struct stat st;
	int rc = fstat(lfd, &st);
	if (rc == 0 && (fchown(fd, st.st_uid, st.st_gid) < 0 || fchmod(fd, st.st_mode & 07777) < 0 ||
			futimens(fd, (struct timespec[]){st.st_atim, st.st_mtim}) < 0))
		rc = err_errno(e, ST_INTERNAL, errno, "copy lower directory's metadata to `%s`", rel);
	else if (rc < 0)
		rc = err_errno(e, ST_INTERNAL, errno, "stat lower directory `%s`", rel);
	if (rc == 0)
		rc = copy_xattrs(fd, lfd, rel, e);
	close(lfd);
	return rc;
}

/* A parent directory just made: inherit now, or, when the lowers come at
 * commit (lim->rebase), mark it for xw_rebase_dir.  The mark is a trusted.*
 * xattr: a layer cannot set one (extract_tar.c drops trusted.* entries),
 * unprivileged users and containers do not see it, diffs never write it,
 * and xw_rebase_dir removes it before the snapshot is committed. */
static int parent_made(struct xwriter *w, int fd, const char *rel, struct err *e)
{
	if (!w->lim->rebase)
		return inherit(w, fd, rel, e);
	if (fsetxattr(fd, PARENT_MARK, "p", 1, 0) < 0)
		return err_errno(e, ST_INTERNAL, errno, "mark parent directory `%s`", rel);
	return 0;
}

/* A directory entry merged into a marked parent: it keeps the entry's
 * owner and mode, and takes only the lower's xattrs it does not have. */
static int parent_merged(struct xwriter *w, int pfd, const char *base, const struct xentry *x, struct err *e)
{
	if (!w->lim->rebase)
		return 0;
	cleanup_fd int fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, ST_INTERNAL, errno, "open directory `%s`", x->path);
	if (fsetxattr(fd, PARENT_MARK, "x", 1, XATTR_REPLACE) < 0 && errno != ENODATA)
		return err_errno(e, ST_INTERNAL, errno, "mark directory `%s`", x->path);
	return 0;
}

/* 1 when the directory fd has no entry, 0 when it has, -1 on error; leaves
 * the fd at its start. */
static int dir_is_empty(int fd)
{
	char buf[1024];
	ssize_t n;
	int empty = 1;
	while (empty && (n = getdents64(fd, buf, sizeof buf)) > 0)
		for (ssize_t off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			off += d->d_reclen;
			if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
				empty = 0;
		}
	if (empty && n < 0)
		return -1;
	return lseek(fd, 0, SEEK_SET) < 0 ? -1 : empty;
}

/* What make_parents and create_dir would have taken from the lowers, once
 * they are there: fd is the directory rel of the target.  An unmarked
 * directory is left as it is. */
int xw_rebase_dir(struct xwriter *w, int fd, const char *rel, struct err *e)
{
	char mark[2];
	ssize_t n = fgetxattr(fd, PARENT_MARK, mark, sizeof mark);
	if (n < 0 && (errno == ENODATA || errno == ENOTSUP))
		return 0;
	if (n != 1 || (mark[0] != 'p' && mark[0] != 'x'))
		return err_errno(e, ST_INTERNAL, n < 0 ? errno : EINVAL, "read the mark of `%s`", rel);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return err_errno(e, ST_INTERNAL, errno, "stat `%s`", rel);
	int rc = 0;
	if (mark[0] == 'p') {
		/* As over the lowers: the lower's times, then anything written in
		 * the directory since it was made (it was made empty) set its
		 * mtime; an opaque marker writes nothing in it. */
		int empty = dir_is_empty(fd);
		if (empty < 0)
			return err_errno(e, ST_INTERNAL, errno, "read directory `%s`", rel);
		rc = inherit(w, fd, rel, e);
		if (rc == 0 && !empty && futimens(fd, (struct timespec[]){{0, UTIME_OMIT}, st.st_mtim}) < 0)
			rc = err_errno(e, ST_INTERNAL, errno, "set times of `%s`", rel);
	} else {
		int lfd = lower_dir(w, rel);
		if (lfd >= 0) {
			rc = copy_xattrs(fd, lfd, rel, e);
			close(lfd);
		}
	}
	if (rc == 0 && fremovexattr(fd, PARENT_MARK) < 0)
		rc = err_errno(e, ST_INTERNAL, errno, "unmark `%s`", rel);
	return rc;
}

/* Walks parent below the target, creating what is missing as mkparent does. */
static int make_parents(struct xwriter *w, char *parent, const char *path, struct err *e)
{
	int cur = w->target;
	for (char *c = parent;;) {
		char *slash = strchr(c, '/');
		if (slash)
			*slash = '\0';
		int fd = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			if (mkdirat(cur, c, 0755) < 0 && errno != EEXIST)
				fd = err_errno(e, ST_INTERNAL, errno, "create parent directory `%s`", parent);
			else if ((fd = openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
				fd = parent_error(path, errno, e);
			else if (fchmod(fd, 0755) < 0) {
				err_errno(e, ST_INTERNAL, errno, "chmod parent directory `%s`", parent);
				close(fd);
				fd = -1;
			} else if (parent_made(w, fd, parent, e) < 0) {
				close(fd);
				fd = -1;
			}
		} else if (fd < 0) {
			int saved = errno;
			struct stat st;
			if (saved == ENOTDIR && fstatat(cur, c, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				saved = ELOOP;
			fd = parent_error(path, saved, e);
		}
		if (cur != w->target)
			close(cur);
		if (slash)
			*slash = '/';
		if (fd < 0)
			return -1;
		cur = fd;
		if (!slash)
			return cur;
		c = slash + 1;
	}
}

/* The parent directory of path (parent is path's directory part, mutable),
 * borrowed: valid until the next call. */
static int resolve_parent(struct xwriter *w, char *parent, const char *path, struct err *e)
{
	if (!*parent)
		return w->target;
	unsigned gen = w->gen ? atomic_load(w->gen) : 0;
	if (w->cache_fd >= 0 && gen == w->cache_gen && !strcmp(parent, w->cache_path))
		return w->cache_fd;
	cache_drop(w);
	w->cache_gen = gen;
	int fd = open_beneath(w->target, parent, O_PATH | O_DIRECTORY);
	if (fd < 0 && errno == ENOENT)
		fd = make_parents(w, parent, path, e);
	else if (fd < 0)
		return parent_error(path, errno, e);
	if (fd < 0)
		return -1;
	strcpy(w->cache_path, parent);
	w->cache_fd = fd;
	return fd;
}

/* ---- whiteouts ------------------------------------------------------------- */

static int set_opaque(int pfd, const struct xentry *x, struct err *e)
{
	int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, ST_INTERNAL, errno, "opaque marker `%s`: open directory", x->path);
	int rc = fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0);
	int saved = errno;
	close(fd);
	if (rc < 0)
		return err_errno(e, ST_INTERNAL, saved, "opaque marker `%s`: set trusted.overlay.opaque",
				 x->path);
	return 0;
}

/* `.wh.NAME` becomes a 0/0 character device NAME owned as the entry says;
 * a NAME that is empty, "." or ".." is refused (containerd's
 * validateWhiteout); one that exists already fails as mknod does there. */
static int whiteout(int pfd, const char *name, const struct xentry *x, struct err *e)
{
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return err_set(e, ST_INVALID_ARGUMENT, "invalid whiteout `%s`", x->path);
	if (mknodat(pfd, name, S_IFCHR, makedev(0, 0)) < 0) {
		int code = errno == EEXIST ? ST_INVALID_ARGUMENT : ST_INTERNAL;
		return err_errno(e, code, errno, "whiteout `%s`: create device `%s`", x->path, name);
	}
	if (fchownat(pfd, name, x->uid, x->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return err_errno(e, ST_INTERNAL, errno, "whiteout `%s`: chown", x->path);
	return 0;
}

/* The bind-mount apply's whiteout: the name is validated as for overlay,
 * then whatever is there is removed (nothing there is fine). */
static int naive_whiteout(struct xwriter *w, int pfd, const char *name, const struct xentry *x, struct err *e)
{
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return err_set(e, ST_INVALID_ARGUMENT, "invalid whiteout `%s`", x->path);
	int rc = xw_remove(pfd, name, e);
	size_t dir = strlen(x->path) - strlen(name) - 4; /* x->path is DIR.wh.NAME */
	memcpy(w->lbuf, x->path, dir);
	strcpy(w->lbuf + dir, name);
	removed(w, w->lbuf);
	return rc < 0 ? err_wrap(e, "whiteout `%s`", x->path) : 0;
}

/* ---- entries --------------------------------------------------------------- */

static int write_data(int fd, const struct xentry *x, struct xdata *data, struct err *e)
{
	const void *buf;
	size_t len;
	uint64_t off, pos = 0;
	int r;
	while ((r = data->next(data->ctx, &buf, &len, &off, e)) > 0) {
		if (off < pos || off > x->size || len > x->size - off)
			return err_set(e, ST_INVALID_ARGUMENT, "file `%s`: data outside its size", x->path);
		if (off != pos && lseek(fd, (off_t)off, SEEK_SET) < 0) /* a hole */
			return err_errno(e, ST_INTERNAL, errno, "file `%s`: seek", x->path);
		if (write_all(fd, buf, len) < 0)
			return err_errno(e, 0, errno, "write `%s`", x->path);
		pos = off + len;
	}
	if (r < 0)
		return -1;
	if (pos < x->size && ftruncate(fd, (off_t)x->size) < 0) /* a trailing hole */
		return err_errno(e, 0, errno, "file `%s`: extend to %llu bytes", x->path,
				 (unsigned long long)x->size);
	return 0;
}

static int create_file(struct xwriter *w, int pfd, const char *base, const struct xentry *x,
		       struct xdata *data, struct err *e)
{
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	cleanup_fd int fd = openat(pfd, base, flags, x->mode & 0777);
	if (fd < 0 && errno == EEXIST) {
		if (replace(w, pfd, base, x, e) < 0)
			return -1;
		fd = openat(pfd, base, flags, x->mode & 0777);
	}
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return err_errno(e, ST_INTERNAL, errno, "create file `%s`", x->path);
	if (write_data(fd, x, data, e) < 0)
		return -1;
	if (!owner_is(&st, x) && fchown(fd, x->uid, x->gid) < 0)
		return err_errno(e, ST_INTERNAL, errno, "chown `%s` to %u:%u", x->path, x->uid, x->gid);
	if (apply_xattrs(w, fd, -1, NULL, x, e) < 0)
		return -1;
	if (!mode_is(&st, x) && fchmod(fd, x->mode) < 0)
		return err_errno(e, ST_INTERNAL, errno, "chmod `%s`", x->path);
	struct timespec ts[2] = {{x->atime.sec, x->atime.nsec}, {x->mtime.sec, x->mtime.nsec}};
	if (futimens(fd, ts) < 0)
		return err_errno(e, ST_INTERNAL, errno, "set times of `%s`", x->path);
	return 0;
}

static int dirtime_add(struct xwriter *w, const struct xentry *x, struct err *e)
{
	size_t plen = strlen(w->prev), n = strlen(x->path), k = 0;
	while (k < plen && k < n && w->prev[k] == x->path[k])
		k++;
	struct dirtime_rec r = {(uint32_t)k, (uint32_t)(n - k), x->atime, x->mtime};
	size_t need = sizeof r + (n - k);
	if (w->log_len + need > DIRTIMES_MAX)
		return err_set(e, ST_RESOURCE_EXHAUSTED,
			       "too many directories: their times need more than %u MiB (entry `%s`)",
			       DIRTIMES_MAX >> 20, x->path);
	if (w->log_len + need > w->log_cap) {
		w->log_cap = w->log_cap ? w->log_cap * 2 : 64 * 1024;
		if (w->log_cap > DIRTIMES_MAX)
			w->log_cap = DIRTIMES_MAX;
		w->log = xrealloc(w->log, w->log_cap);
	}
	memcpy(w->log + w->log_len, &r, sizeof r);
	memcpy(w->log + w->log_len + sizeof r, x->path + k, n - k);
	w->log_len += need;
	memcpy(w->prev, x->path, n + 1);
	return 0;
}

static int create_dir(struct xwriter *w, int pfd, const char *base, const struct xentry *x, struct err *e)
{
	struct stat st;
	int made = 1; /* by this call: st says what chown and chmod would change */
	if (mkdirat(pfd, base, x->mode & 0777) < 0) {
		if (errno != EEXIST)
			return err_errno(e, ST_INTERNAL, errno, "create directory `%s`", x->path);
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return err_errno(e, ST_INTERNAL, errno, "stat `%s`", x->path);
		if (!S_ISDIR(st.st_mode)) { /* a directory over a directory is merged */
			if (replace(w, pfd, base, x, e) < 0)
				return -1;
			if (mkdirat(pfd, base, x->mode & 0777) < 0)
				return err_errno(e, ST_INTERNAL, errno, "create directory `%s`", x->path);
		} else if (parent_merged(w, pfd, base, x, e) < 0) {
			return -1;
		} else {
			made = 0;
		}
	}
	if (made && fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_errno(e, ST_INTERNAL, errno, "stat `%s`", x->path);
	if (!(made && owner_is(&st, x)) && set_owner(pfd, base, x, e) < 0)
		return -1;
	if (x->nxattrs) {
		cleanup_fd int fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return err_errno(e, ST_INTERNAL, errno, "open directory `%s`", x->path);
		if (apply_xattrs(w, fd, -1, NULL, x, e) < 0)
			return -1;
	}
	if (!(made && mode_is(&st, x)) && chmod_at(w, pfd, base, x->mode) < 0)
		return err_errno(e, ST_INTERNAL, errno, "chmod `%s`", x->path);
	return dirtime_add(w, x, e);
}

/* Symlinks, devices, fifos: created by one call, then owner, xattrs, mode
 * (never on a symlink), times. */
static int create_node(struct xwriter *w, int pfd, const char *base, const struct xentry *x, struct err *e)
{
	static const mode_t fmt[] = {[XE_CHR] = S_IFCHR, [XE_BLK] = S_IFBLK, [XE_FIFO] = S_IFIFO};
	for (int retry = 0;; retry++) {
		int rc = x->type == XE_SYMLINK ? symlinkat(x->link, pfd, base)
					       : mknodat(pfd, base, fmt[x->type] | (x->mode & 0777), x->rdev);
		if (rc == 0)
			break;
		if (errno != EEXIST || retry)
			return err_errno(e, ST_INTERNAL, errno, "create `%s`", x->path);
		if (replace(w, pfd, base, x, e) < 0)
			return -1;
	}
	if (set_owner(pfd, base, x, e) < 0 || apply_xattrs(w, -1, pfd, base, x, e) < 0)
		return -1;
	if (x->type != XE_SYMLINK && (x->mode & 07000) && chmod_at(w, pfd, base, x->mode) < 0)
		return err_errno(e, ST_INTERNAL, errno, "chmod `%s`", x->path);
	return set_times(pfd, base, x, e);
}

/* A hardlink names an earlier non-directory of this layer; the link gets
 * the entry's owner, xattrs, mode (unless it is a symlink) and times, as
 * containerd's Lchown/setxattr/lchmod/chtimes after os.Link give it. */
static int create_hardlink(struct xwriter *w, int pfd, const char *base, const struct xentry *x,
			   struct err *e)
{
	strcpy(w->lbuf, x->link);
	char *slash = strrchr(w->lbuf, '/');
	const char *lbase = slash ? slash + 1 : w->lbuf;
	cleanup_fd int lfd = -1;
	if (slash) {
		*slash = '\0';
		if ((lfd = open_beneath(w->target, w->lbuf, O_PATH | O_DIRECTORY)) < 0)
			return err_errno(e, errno == EMFILE || errno == ENOMEM ? 0 : ST_INVALID_ARGUMENT,
					 errno, "hardlink `%s` to `%s`: open the target's directory", x->path,
					 x->link);
	}
	int ldir = slash ? lfd : w->target;
	struct stat st;
	if (fstatat(ldir, lbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_errno(e, ST_INVALID_ARGUMENT, errno, "hardlink `%s` to `%s`", x->path, x->link);
	if (S_ISDIR(st.st_mode))
		return err_set(e, ST_INVALID_ARGUMENT, "hardlink `%s` to directory `%s` refused", x->path,
			       x->link);
	for (int retry = 0;; retry++) {
		if (linkat(ldir, lbase, pfd, base, 0) == 0)
			break;
		if (errno != EEXIST || retry)
			return err_errno(e, errno == ENOENT ? ST_INVALID_ARGUMENT : 0, errno,
					 "hardlink `%s` to `%s`", x->path, x->link);
		if (replace(w, pfd, base, x, e) < 0)
			return -1;
	}
	if (set_owner(pfd, base, x, e) < 0 || apply_xattrs(w, -1, pfd, base, x, e) < 0)
		return -1;
	if (!S_ISLNK(st.st_mode) && chmod_at(w, pfd, base, x->mode) < 0)
		return err_errno(e, ST_INTERNAL, errno, "chmod `%s`", x->path);
	return set_times(pfd, base, x, e);
}

int xw_entry(struct xwriter *w, const struct xentry *x, struct xdata *data, struct err *e)
{
	strcpy(w->pbuf, x->path);
	char *slash = strrchr(w->pbuf, '/');
	const char *base = x->path + (slash ? slash - w->pbuf + 1 : 0);
	if (slash)
		*slash = '\0';
	else
		w->pbuf[0] = '\0';
	int pfd = resolve_parent(w, w->pbuf, x->path, e);
	if (pfd < 0)
		return -1;
	/* With no lower layer, containerd hands the snapshot out as a bind mount
	 * and applies without the overlay converter: a whiteout removes what
	 * this apply put at the name, and an opaque marker has nothing below
	 * it to hide.  A layer whose lowers come at commit has them. */
	int overlay = w->nlower || w->lim->rebase;
	if (!strcmp(base, OPAQUE_MARKER))
		return overlay ? set_opaque(pfd, x, e) : 0;
	if (!strncmp(base, WHITEOUT_PREFIX, 4))
		return overlay ? whiteout(pfd, base + 4, x, e) : naive_whiteout(w, pfd, base + 4, x, e);
	switch (x->type) {
	case XE_REG:
		return create_file(w, pfd, base, x, data, e);
	case XE_DIR:
		return create_dir(w, pfd, base, x, e);
	case XE_HARDLINK:
		return create_hardlink(w, pfd, base, x, e);
	case XE_SYMLINK:
	case XE_CHR:
	case XE_BLK:
	case XE_FIFO:
		return create_node(w, pfd, base, x, e);
	default:
		return err_set(e, ST_INTERNAL, "entry `%s`: unknown type %d", x->path, x->type);
	}
}

/* Directory times last, in tar order (a later record for the same path
 * wins), on whatever is at the path now, never through a symlink; a path
 * that is gone is skipped. */
int xw_finish(struct xwriter *w, struct err *e)
{
	char *path = w->pbuf;
	int pfd = -1;
	w->lbuf[0] = '\0'; /* the directory pfd refers to */
	size_t off = 0;
	int rc = 0;
	while (off < w->log_len && rc == 0) {
		struct dirtime_rec r;
		memcpy(&r, w->log + off, sizeof r);
		memcpy(path + r.prefix, w->log + off + sizeof r, r.suffix);
		path[r.prefix + r.suffix] = '\0';
		off += sizeof r + r.suffix;
		char *slash = strrchr(path, '/');
		const char *base = slash ? slash + 1 : path;
		int dir = w->target;
		if (slash) {
			*slash = '\0';
			if (pfd < 0 || strcmp(path, w->lbuf)) {
				if (pfd >= 0)
					close(pfd);
				pfd = open_beneath(w->target, path, O_PATH | O_DIRECTORY);
				strcpy(w->lbuf, path);
			}
			dir = pfd;
		}
		struct timespec ts[2] = {{r.atime.sec, r.atime.nsec}, {r.mtime.sec, r.mtime.nsec}};
		if (dir >= 0 && utimensat(dir, base, ts, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
			rc = err_errno(e, ST_INTERNAL, errno, "set times of directory `%s/%s`", path, base);
		if (slash)
			*slash = '/';
	}
	if (pfd >= 0)
		close(pfd);
	return rc;
}
