/* The walk: what changed, in tar order, as containerd 1.6's walking differ
 * (continuity's fs.Changes, archive.ChangeWriter) reports it.
 *
 * Order: depth first, each directory's entries sorted by name in byte
 * order, a directory before its contents: continuity's directoryCompare
 * order, so two runs over the same trees give the same tar.
 *
 * Fast path (no left tree): an overlay upperdir holds exactly the changes.
 * Everything in it is written; a 0/0 character device is a deletion and
 * becomes `.wh.NAME`; a directory marked opaque (trusted.overlay.opaque or
 * user.overlay.opaque = y) is written, then `.wh..wh..opq`, then its
 * contents.  Redirect and metacopy xattrs mean the upperdir does not hold
 * the whole file or directory: refused (FailedPrecondition), the caller
 * then walks the two mounted trees instead.
 *
 * General path: both trees side by side.  A name only on the left is a
 * deletion (`.wh.NAME`, nothing below it); only on the right an addition
 * (with everything below it); on both, a change when type, mode, owner,
 * device, xattrs or (for non-directories) size or mtime differ, or when the
 * mtimes may have been truncated (both whole seconds) and the content or
 * symlink target differs: continuity's sameFile, plus every xattr and the
 * directories' mtime.  A directory replaced by a file is the file (the
 * apply removes the directory); a file replaced by a directory is the
 * directory and all of its contents.
 *
 * As ChangeWriter does: the parent directories of every written entry are
 * written before it (with the right tree's metadata), sockets are skipped,
 * and hardlinks stay hardlinks: the first written name of an inode carries
 * the data, later names link to it, and unchanged names of a changed inode
 * are written as links too, right after it, since applying the new data
 * breaks their link.
 *
 * Xattrs written: all but trusted.* (overlay's and the host's, never
 * applied), user.overlay.* (overlay's in userxattr mode) and
 * security.selinux (the host's label, not the image's). */
#include "diff.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../common/sort.h"
#include "../common/util.h"

#ifndef SYS_getxattrat
#define SYS_getxattrat 464
#endif
#ifndef SYS_listxattrat
#define SYS_listxattrat 465
#endif

struct xattr_args_k {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

struct xlist {
	struct dxattr *v;
	size_t n;
};

/* A directory on the way down: written at most once, when it changed or
 * when something below it is written. */
struct frame {
	char *path;
	struct stat st;
	struct xlist xa;
	int emitted;
};

/* An inode with more than one name in the right tree. */
struct link {
	dev_t dev;
	ino_t ino;
	char *src; /* its first written name, or NULL */
	char **refs;
	size_t nrefs, refcap;
	struct link *next;
};

#define LINK_BUCKETS 4096
#define DIRSET_MIN   1024

struct dwalk {
	struct tarw *t;
	int fast, upper_root;
	int xattrat; /* listxattrat/getxattrat exist (kernel 6.13) */
	struct frame *stack;
	size_t depth, cap;
	struct link *links[LINK_BUCKETS];
	char **dirset; /* written directories, open addressing */
	size_t dirset_n, dirset_cap;
	char *path; /* the current entry's path */
	size_t path_len, path_cap;
	unsigned char *cmp; /* 2 x CMP_BUF for comparing contents */
};

#define CMP_BUF 65536

int dwalk_no_xattrat;

/* ---- small pieces --------------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static int dirset_has(struct dwalk *w, const char *p)
{
	if (!w->dirset_cap)
		return 0;
	for (size_t i = hash_str(p) & (w->dirset_cap - 1);; i = (i + 1) & (w->dirset_cap - 1)) {
		if (!w->dirset[i])
			return 0;
		if (!strcmp(w->dirset[i], p))
			return 1;
	}
}

static void dirset_add(struct dwalk *w, const char *p)
{
	if ((w->dirset_n + 1) * 2 > w->dirset_cap) {
		size_t ncap = w->dirset_cap ? w->dirset_cap * 2 : DIRSET_MIN;
		char **old = w->dirset;
		size_t ocap = w->dirset_cap;
		w->dirset = xcalloc(ncap, sizeof *w->dirset);
		w->dirset_cap = ncap;
		w->dirset_n = 0;
		for (size_t i = 0; i < ocap; i++)
			if (old[i]) {
				size_t j = hash_str(old[i]) & (ncap - 1);
				while (w->dirset[j])
					j = (j + 1) & (ncap - 1);
				w->dirset[j] = old[i];
				w->dirset_n++;
			}
		free(old);
	}
	size_t j = hash_str(p) & (w->dirset_cap - 1);
	while (w->dirset[j]) {
		if (!strcmp(w->dirset[j], p))
			return;
		j = (j + 1) & (w->dirset_cap - 1);
	}
	w->dirset[j] = xstrdup(p);
	w->dirset_n++;
}

static void xlist_free(struct xlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	free(l->v);
	*l = (struct xlist){0};
}

static int xlist_equal(const struct xlist *a, const struct xlist *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, b->v[i].name) || a->v[i].size != b->v[i].size ||
		    memcmp(a->v[i].value, b->v[i].value, a->v[i].size))
			return 0;
	return 1;
}

static int cmp_xattr(const void *a, const void *b)
{
	return strcmp(((const struct dxattr *)a)->name, ((const struct dxattr *)b)->name);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void path_push(struct dwalk *w, const char *name, size_t *saved)
{
	size_t n = strlen(name);
	*saved = w->path_len;
	if (w->path_cap < w->path_len + n + 2) {
		w->path_cap = (w->path_len + n + 2) * 2;
		w->path = xrealloc(w->path, w->path_cap);
	}
	if (w->path_len)
		w->path[w->path_len++] = '/';
	memcpy(w->path + w->path_len, name, n + 1);
	w->path_len += n;
}

static void path_pop(struct dwalk *w, size_t saved)
{
	w->path_len = saved;
	w->path[saved] = '\0';
}

/* ---- reading one entry ----------------------------------------------------------- */

/* The names in directory fd, sorted, without "." and "..". */
static int list_dir(int fd, const char *path, char ***out, size_t *n, struct err *e)
{
	char buf[32768];
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	for (;;) {
		ssize_t got = getdents64(fd, buf, sizeof buf);
		if (got < 0) {
			for (size_t i = 0; i < *n; i++)
				free(v[i]);
			free(v);
			return err_errno(e, ST_INTERNAL, errno, "read directory `%s`", *path ? path : ".");
		}
		if (got == 0)
			break;
		for (ssize_t off = 0; off < got;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			off += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			if (*n == cap) {
				cap = cap ? cap * 2 : 16;
				v = xrealloc(v, cap * sizeof *v);
			}
			v[(*n)++] = xstrdup(d->d_name);
		}
	}
	if (*n)
		sort_array(v, *n, sizeof *v, cmp_name);
	*out = v;
	return 0;
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* listxattr/getxattr on (dirfd, name) without following it: the *xattrat
 * calls when the kernel has them, else through fd (regular files and
 * directories; other types then have no xattrs we can read). */
static ssize_t x_list(struct dwalk *w, int dirfd, const char *name, int fd, char *buf, size_t size)
{
	if (fd >= 0)
		return flistxattr(fd, buf, size);
	if (w->xattrat) {
		ssize_t n = syscall(SYS_listxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, buf, size);
		if (n >= 0 || errno != ENOSYS)
			return n;
		w->xattrat = 0;
	}
	errno = ENOTSUP;
	return -1;
}

static ssize_t x_get(struct dwalk *w, int dirfd, const char *name, int fd, const char *key, void *buf,
		     size_t size)
{
	if (fd >= 0)
		return fgetxattr(fd, key, buf, size);
	struct xattr_args_k a = {.value = (uint64_t)(uintptr_t)buf, .size = (uint32_t)size};
	return syscall(SYS_getxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, key, &a, sizeof a);
}

static int keep_xattr(const char *k)
{
	return strncmp(k, "trusted.", 8) && strncmp(k, "user.overlay.", 13) && strcmp(k, "security.selinux");
}

/* The entry's xattrs, filtered and sorted; *opaque set for an overlay
 * opaque directory; overlay redirect/metacopy refused on the fast path. */
static int read_xattrs(struct dwalk *w, int dirfd, const char *name, int fd, struct xlist *out, int *opaque,
		       struct err *e)
{
	*out = (struct xlist){0};
	ssize_t n;
	cleanup_free char *list = NULL;
	for (;;) {
		n = x_list(w, dirfd, name, fd, NULL, 0);
		if (n <= 0)
			break;
		list = xrealloc(list, (size_t)n);
		n = x_list(w, dirfd, name, fd, list, (size_t)n);
		if (n >= 0 || errno != ERANGE)
			break;
	}
	if (n < 0 && (errno == ENOTSUP || errno == EOPNOTSUPP))
		return 0;
	if (n < 0)
		return err_errno(e, ST_INTERNAL, errno, "list xattrs of `%s`", w->path);
	size_t cap = 0;
	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(list + off) + 1) {
		const char *k = list + off;
		if (w->fast && (strstr(k, "overlay.redirect") || strstr(k, "overlay.metacopy")) &&
		    (!strncmp(k, "trusted.", 8) || !strncmp(k, "user.", 5)))
			return err_set(e, ST_ABORTED,
				       "upperdir entry `%s` has `%s`: its content is in a lower layer",
				       w->path, k);
		int is_opq = !strcmp(k, "trusted.overlay.opaque") || !strcmp(k, "user.overlay.opaque");
		if (!is_opq && !keep_xattr(k))
			continue;
		void *val = NULL;
		ssize_t vn;
		for (;;) {
			vn = x_get(w, dirfd, name, fd, k, NULL, 0);
			if (vn < 0)
				break;
			val = xrealloc(val, (size_t)vn + 1);
			vn = x_get(w, dirfd, name, fd, k, val, (size_t)vn);
			if (vn >= 0 || errno != ERANGE)
				break;
		}
		if (vn < 0 && errno == ENODATA) {
			free(val);
			continue; /* removed meanwhile */
		}
		if (vn < 0) {
			free(val);
			xlist_free(out);
			return err_errno(e, ST_INTERNAL, errno, "get xattr `%s` of `%s`", k, w->path);
		}
		if (is_opq) {
			if (opaque && vn == 1 && *(char *)val == 'y')
				*opaque = 1;
			free(val);
			continue;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 4;
			out->v = xrealloc(out->v, cap * sizeof *out->v);
		}
		out->v[out->n++] = (struct dxattr){xstrdup(k), val, (size_t)vn};
	}
	if (out->n > 1)
		sort_array(out->v, out->n, sizeof *out->v, cmp_xattr);
	return 0;
}

/* xattrs of (dirfd, name): through an fd for regular files and
 * directories when the kernel lacks the *xattrat calls. */
static int entry_xattrs(struct dwalk *w, int dirfd, const char *name, const struct stat *st,
			struct xlist *out, struct err *e)
{
	cleanup_fd int fd = -1;
	if (!w->xattrat && (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))) {
		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			return err_errno(e, ST_INTERNAL, errno, "open `%s`", w->path);
	}
	return read_xattrs(w, dirfd, name, fd, out, NULL, e);
}

/* ---- writing ----------------------------------------------------------------------- */

static int write_dir(struct dwalk *w, const char *path, const struct stat *st, const struct xlist *xa,
		     struct err *e)
{
	struct dnode n = {.path = path, .st = st, .xattrs = xa->v, .nxattrs = xa->n, .fd = -1};
	if (tarw_entry(w->t, &n, e) < 0)
		return -1;
	dirset_add(w, path);
	return 0;
}

/* The directories on the way down that are not written yet. */
static int ensure_parents(struct dwalk *w, struct err *e)
{
	for (size_t i = 0; i < w->depth; i++) {
		struct frame *f = &w->stack[i];
		if (f->emitted)
			continue;
		if (write_dir(w, f->path, &f->st, &f->xa, e) < 0)
			return -1;
		f->emitted = 1;
	}
	return 0;
}

/* The parents of a name written out of walk order (a hardlink written
 * after its data): those not written yet, read again from the right tree
 * one component at a time with O_NOFOLLOW (plain openat: a seccomp policy
 * can check its flags, not openat2's). */
static int ensure_parents_of(struct dwalk *w, const char *path, struct err *e)
{
	cleanup_free char *p = xstrdup(path);
	cleanup_fd int dir = -1;
	const char *base = p;
	for (char *s = strchr(p, '/'); s; base = s + 1, s = strchr(s + 1, '/')) {
		*s = '\0';
		int fd = openat(dir >= 0 ? dir : w->upper_root, base,
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return err_errno(e, ST_INTERNAL, errno, "open directory `%s`", p);
		if (dir >= 0)
			close(dir);
		dir = fd;
		if (!dirset_has(w, p)) {
			struct stat st;
			struct xlist xa = {0};
			if (fstat(dir, &st) < 0)
				return err_errno(e, ST_INTERNAL, errno, "stat directory `%s`", p);
			if (read_xattrs(w, -1, NULL, dir, &xa, NULL, e) < 0)
				return -1;
			int rc = write_dir(w, p, &st, &xa, e);
			xlist_free(&xa);
			if (rc < 0)
				return -1;
			for (size_t i = 0; i < w->depth; i++)
				if (!strcmp(w->stack[i].path, p))
					w->stack[i].emitted = 1;
		}
		*s = '/';
	}
	return 0;
}

/* `.wh.NAME` for the deleted entry at w->path. */
static int write_whiteout(struct dwalk *w, struct err *e)
{
	if (ensure_parents(w, e) < 0)
		return -1;
	const char *slash = strrchr(w->path, '/');
	cleanup_free char *p = slash ? xasprintf("%.*s/.wh.%s", (int)(slash - w->path), w->path, slash + 1)
				     : xasprintf(".wh.%s", w->path);
	struct dnode n = {.path = p, .kind = DN_WHITEOUT, .fd = -1};
	return tarw_entry(w->t, &n, e);
}

static struct link *link_find(struct dwalk *w, const struct stat *st)
{
	size_t b = (size_t)((st->st_ino * 31 + st->st_dev) % LINK_BUCKETS);
	for (struct link *l = w->links[b]; l; l = l->next)
		if (l->ino == st->st_ino && l->dev == st->st_dev)
			return l;
	struct link *l = xcalloc(1, sizeof *l);
	l->dev = st->st_dev;
	l->ino = st->st_ino;
	l->next = w->links[b];
	w->links[b] = l;
	return l;
}

/* One non-directory entry of the right tree (dirfd, name) at w->path. */
static int write_entry(struct dwalk *w, int dirfd, const char *name, const struct stat *st,
		       const struct xlist *xa, int unmodified, struct err *e)
{
	if (S_ISSOCK(st->st_mode))
		return 0;
	struct link *l = NULL;
	if (st->st_nlink > 1) {
		l = link_find(w, st);
		if (!l->src && unmodified) {
			l->refs = xgrow(l->refs, &l->refcap, l->nrefs, sizeof *l->refs);
			l->refs[l->nrefs++] = xstrdup(w->path);
			return 0;
		}
	} else if (unmodified) {
		return 0;
	}
	if (ensure_parents(w, e) < 0)
		return -1;
	struct dnode n = {.path = w->path, .st = st, .xattrs = xa->v, .nxattrs = xa->n, .fd = -1};
	if (l && l->src) {
		n.kind = DN_HARDLINK;
		n.link = l->src;
		return tarw_entry(w->t, &n, e);
	}
	char target[4097];
	cleanup_fd int fd = -1;
	if (S_ISLNK(st->st_mode)) {
		ssize_t k = readlinkat(dirfd, name, target, sizeof target - 1);
		if (k < 0)
			return err_errno(e, ST_INTERNAL, errno, "read symlink `%s`", w->path);
		target[k] = '\0';
		n.link = target;
	} else if (S_ISREG(st->st_mode) && st->st_size > 0) {
		struct stat fst;
		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0 || fstat(fd, &fst) < 0)
			return err_errno(e, ST_INTERNAL, errno, "open `%s`", w->path);
		if (fst.st_ino != st->st_ino || fst.st_dev != st->st_dev || fst.st_size != st->st_size)
			return err_set(e, ST_FAILED_PRECONDITION, "file `%s` changed while it was read",
				       w->path);
		n.fd = fd;
	}
	if (tarw_entry(w->t, &n, e) < 0)
		return -1;
	if (!l)
		return 0;
	l->src = xstrdup(w->path);
	/* Unchanged names seen before: links to the new data, right after it. */
	for (size_t i = 0; i < l->nrefs; i++) {
		if (ensure_parents_of(w, l->refs[i], e) < 0)
			return -1;
		struct dnode r = {
		    .path = l->refs[i], .kind = DN_HARDLINK, .st = st, .link = l->src, .fd = -1};
		if (tarw_entry(w->t, &r, e) < 0)
			return -1;
		free(l->refs[i]);
	}
	free(l->refs);
	l->refs = NULL;
	l->nrefs = 0;
	return 0;
}

/* ---- comparing --------------------------------------------------------------------- */

static int same_bytes(struct dwalk *w, int lfd, int ufd, const char *name, int *same, struct err *e)
{
	const char *path = w->path;
	cleanup_fd int a = openat(lfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	cleanup_fd int b = openat(ufd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (a < 0 || b < 0)
		return err_errno(e, ST_INTERNAL, errno, "open `%s` to compare", path);
	if (!w->cmp)
		w->cmp = xmalloc(2 * CMP_BUF);
	unsigned char *ba = w->cmp, *bb = w->cmp + CMP_BUF;
	*same = 0;
	for (;;) {
		ssize_t na = read_full(a, ba, CMP_BUF), nb = read_full(b, bb, CMP_BUF);
		if (na < 0 || nb < 0)
			return err_errno(e, ST_INTERNAL, errno, "read `%s` to compare", path);
		if (na != nb || memcmp(ba, bb, (size_t)na))
			return 0;
		if (na == 0) {
			*same = 1;
			return 0;
		}
	}
}

static int same_link(int lfd, int ufd, const char *name, const char *path, int *same, struct err *e)
{
	char a[4097], b[4097];
	ssize_t na = readlinkat(lfd, name, a, sizeof a), nb = readlinkat(ufd, name, b, sizeof b);
	if (na < 0 || nb < 0)
		return err_errno(e, ST_INTERNAL, errno, "read symlink `%s` to compare", path);
	*same = na == nb && !memcmp(a, b, (size_t)na);
	return 0;
}

/* continuity's sameFile for a non-directory, plus every xattr and the
 * symlink target. */
static int same_entry(struct dwalk *w, int lfd, int ufd, const char *name, const struct stat *ls,
		      const struct stat *us, const struct xlist *lx, const struct xlist *ux, int *same,
		      struct err *e)
{
	*same = 0;
	if (ls->st_dev == us->st_dev && ls->st_ino == us->st_ino) {
		*same = 1;
		return 0;
	}
	if (ls->st_mode != us->st_mode || ls->st_uid != us->st_uid || ls->st_gid != us->st_gid ||
	    ls->st_rdev != us->st_rdev || !xlist_equal(lx, ux) || ls->st_size != us->st_size ||
	    ls->st_mtim.tv_sec != us->st_mtim.tv_sec || ls->st_mtim.tv_nsec != us->st_mtim.tv_nsec)
		return 0;
	if (S_ISLNK(us->st_mode))
		return same_link(lfd, ufd, name, w->path, same, e);
	/* Whole-second times on both sides may come from a tar: only the
	 * bytes tell. */
	if (S_ISREG(us->st_mode) && us->st_size > 0 && us->st_mtim.tv_nsec == 0)
		return same_bytes(w, lfd, ufd, name, same, e);
	*same = 1;
	return 0;
}

static int same_dir(const struct stat *ls, const struct stat *us, const struct xlist *lx,
		    const struct xlist *ux)
{
	return ls->st_mode == us->st_mode && ls->st_uid == us->st_uid && ls->st_gid == us->st_gid &&
	       ls->st_mtim.tv_sec == us->st_mtim.tv_sec && ls->st_mtim.tv_nsec == us->st_mtim.tv_nsec &&
	       xlist_equal(lx, ux);
}

/* ---- the walk ---------------------------------------------------------------------- */

static int walk_dir(struct dwalk *w, int lfd, int ufd, struct err *e);

static int opaque_marker(struct dwalk *w, struct err *e)
{
	cleanup_free char *p = xasprintf("%s/.wh..wh..opq", w->path);
	struct dnode n = {.path = p, .kind = DN_WHITEOUT, .fd = -1};
	return tarw_entry(w->t, &n, e);
}

/* A directory of the right tree at w->path; ls: the left entry or NULL. */
static int walk_subdir(struct dwalk *w, int lfd, int ufd, const char *name, const struct stat *ls,
		       const struct stat *us, struct err *e)
{
	cleanup_fd int ud = openat(ufd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_fd int ld = -1;
	if (ud < 0)
		return err_errno(e, ST_INTERNAL, errno, "open directory `%s`", w->path);
	struct frame f = {.st = *us};
	int opaque = 0, changed = 1, rc = -1;
	if (read_xattrs(w, ufd, name, ud, &f.xa, &opaque, e) < 0)
		return -1;
	if (ls && S_ISDIR(ls->st_mode)) {
		struct xlist lx = {0};
		ld = openat(lfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (ld < 0 || read_xattrs(w, lfd, name, ld, &lx, NULL, e) < 0) {
			if (ld < 0)
				err_errno(e, ST_INTERNAL, errno, "open directory `%s`", w->path);
			xlist_free(&f.xa);
			return -1;
		}
		changed = !same_dir(ls, us, &lx, &f.xa);
		xlist_free(&lx);
	}
	f.path = xstrdup(w->path);
	if (w->depth == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->stack = xrealloc(w->stack, w->cap * sizeof *w->stack);
	}
	w->stack[w->depth++] = f;
	if (changed && ensure_parents(w, e) < 0)
		goto out;
	if (w->fast && opaque && opaque_marker(w, e) < 0)
		goto out;
	rc = walk_dir(w, ld, ud, e);
out:
	w->depth--;
	free(w->stack[w->depth].path);
	xlist_free(&w->stack[w->depth].xa);
	return rc;
}

/* One name of the right tree; ls: the same name in the left tree, or NULL. */
static int walk_entry(struct dwalk *w, int lfd, int ufd, const char *name, const struct stat *ls,
		      struct err *e)
{
	struct stat us;
	if (fstatat(ufd, name, &us, AT_SYMLINK_NOFOLLOW) < 0)
		return err_errno(e, ST_INTERNAL, errno, "stat `%s`", w->path);
	if (w->fast && S_ISCHR(us.st_mode) && us.st_rdev == makedev(0, 0))
		return write_whiteout(w, e);
	if (S_ISDIR(us.st_mode))
		return walk_subdir(w, lfd, ufd, name, ls, &us, e);
	struct xlist ux = {0}, lx = {0};
	int same = 0, rc = entry_xattrs(w, ufd, name, &us, &ux, e);
	if (rc == 0 && ls && !S_ISDIR(ls->st_mode) && (rc = entry_xattrs(w, lfd, name, ls, &lx, e)) == 0)
		rc = same_entry(w, lfd, ufd, name, ls, &us, &lx, &ux, &same, e);
	if (rc == 0)
		rc = write_entry(w, ufd, name, &us, &ux, same, e);
	xlist_free(&ux);
	xlist_free(&lx);
	return rc;
}

/* Both directories' names merged in byte order; lfd -1: no left side. */
static int walk_dir(struct dwalk *w, int lfd, int ufd, struct err *e)
{
	char **ln = NULL, **un = NULL;
	size_t nl = 0, nu = 0, i = 0, j = 0;
	int rc = list_dir(ufd, w->path, &un, &nu, e);
	if (rc == 0 && lfd >= 0)
		rc = list_dir(lfd, w->path, &ln, &nl, e);
	while (rc == 0 && (i < nl || j < nu)) {
		int c = i < nl && j < nu ? strcmp(ln[i], un[j]) : i < nl ? -1 : 1;
		size_t saved;
		path_push(w, c < 0 ? ln[i] : un[j], &saved);
		if (c < 0) {
			rc = write_whiteout(w, e);
			i++;
		} else if (c > 0) {
			rc = walk_entry(w, -1, ufd, un[j], NULL, e);
			j++;
		} else {
			struct stat ls;
			if (fstatat(lfd, ln[i], &ls, AT_SYMLINK_NOFOLLOW) < 0)
				rc = err_errno(e, ST_INTERNAL, errno, "stat `%s` in the parent", w->path);
			else
				rc = walk_entry(w, lfd, ufd, un[j], &ls, e);
			i++, j++;
		}
		path_pop(w, saved);
	}
	names_free(ln, nl);
	names_free(un, nu);
	return rc;
}

static void dwalk_free(struct dwalk *w)
{
	for (size_t b = 0; b < LINK_BUCKETS; b++)
		for (struct link *l = w->links[b], *next; l; l = next) {
			next = l->next;
			free(l->src);
			names_free(l->refs, l->nrefs);
			free(l);
		}
	for (size_t i = 0; i < w->dirset_cap; i++)
		free(w->dirset[i]);
	free(w->dirset);
	free(w->stack);
	free(w->path);
	free(w->cmp);
	free(w);
}

int dwalk_run(int lower_fd, int upper_fd, struct tarw *t, struct err *e)
{
	/* Own fds: listing moves a directory fd's offset. */
	cleanup_fd int u = openat(upper_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_fd int l = lower_fd >= 0 ? openat(lower_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (u < 0 || (lower_fd >= 0 && l < 0))
		return err_errno(e, ST_INVALID_ARGUMENT, errno, "diff: open the trees");
	struct dwalk *w = xcalloc(1, sizeof *w);
	w->t = t;
	w->fast = lower_fd < 0;
	w->upper_root = u;
	w->path = xcalloc(1, 64);
	w->path_cap = 64;
	w->xattrat = !dwalk_no_xattrat &&
		     !(syscall(SYS_listxattrat, u, ".", AT_SYMLINK_NOFOLLOW, NULL, 0) < 0 && errno == ENOSYS);
	int rc = walk_dir(w, l, u, e);
	dwalk_free(w);
	return rc;
}

int diff_layer(int lower_fd, int upper_fd, int out_fd, const struct diff_opts *o, struct diff_result *res,
	       struct err *e)
{
	if (upper_fd < 0 || out_fd < 0 || !o || !res)
		return err_set(e, ST_INVALID_ARGUMENT, "diff: bad arguments");
	memset(res, 0, sizeof *res);
	struct dsink *s = NULL;
	struct tarw *t = NULL;
	int rc = dsink_new(&s, out_fd, o, e);
	if (rc == 0) {
		t = tarw_new(s, o);
		rc = dwalk_run(lower_fd, upper_fd, t, e);
	}
	if (rc == 0)
		rc = tarw_finish(t, e);
	if (rc == 0)
		rc = dsink_finish(s, res, e);
	if (t)
		res->entries = tarw_entries(t);
	tarw_free(t);
	dsink_free(s);
	return rc;
}
