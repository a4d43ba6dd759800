/* Tar parsing with libarchive's read side only: tar, pax and GNU formats
 * (plus the empty archive), no libarchive filters (the stream is already
 * decompressed by extract.c and fed through archive_read_open's callback),
 * and no libarchive disk writer.  Each header becomes a struct xentry that
 * the writer can trust: path cleaned as Go's filepath.Clean does, escapes
 * and absolute paths refused, limits applied, overlay's own xattrs refused
 * before anything is written. */
#include "extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "../common/util.h"

#define PROGRESS_NS (100 * 1000 * 1000ULL)

struct tar_ctx {
	struct archive *a;
	struct xstream *s;
	const struct extract_limits *lim;
	struct err serr; /* the stream's own error, more precise than libarchive's */
	int stream_failed;
	char *path, *link; /* cleaned copies, max_name + 1 bytes each */
	struct xattr_kv *xattrs;
	size_t xattrs_cap;
	/* Progress: reported at most every PROGRESS_NS, between entries and
	 * while one entry's data is written (a large file must not look like
	 * a stalled job: the broker gives those up after job_idle_timeout). */
	void (*progress)(void *ctx, uint64_t in, uint64_t entries);
	void *progress_ctx;
	uint64_t last_progress, *entries;
};

static void tar_progress(struct tar_ctx *t);

static void tar_waiting(void *ctx)
{
	tar_progress(ctx);
}

static void tar_progress(struct tar_ctx *t)
{
	uint64_t now = now_ns_monotonic();
	if (t->progress && now - t->last_progress >= PROGRESS_NS) {
		t->last_progress = now;
		t->progress(t->progress_ctx, xstream_bytes_in(t->s), *t->entries);
	}
}

static la_ssize_t read_cb(struct archive *a, void *p, const void **buf)
{
	struct tar_ctx *t = p;
	ssize_t n = xstream_next(t->s, buf, &t->serr);
	if (n < 0) {
		t->stream_failed = 1;
		archive_set_error(a, EIO, "%s", t->serr.msg);
		return -1;
	}
	return n;
}

/* When libarchive gives up on bytes a broken compressed stream produced,
 * the stream's own error is the cause: look a few blocks ahead for it. */
static void peek_stream_error(struct tar_ctx *t)
{
	const void *buf;
	for (int i = 0; i < 4 && !t->stream_failed; i++) {
		ssize_t n = xstream_next(t->s, &buf, &t->serr);
		if (n < 0)
			t->stream_failed = 1;
		if (n <= 0)
			break;
	}
}

static int tar_fail(struct tar_ctx *t, const char *what, struct err *e)
{
	peek_stream_error(t);
	if (t->stream_failed) {
		if (e)
			*e = t->serr;
		return -1;
	}
	const char *msg = archive_error_string(t->a);
	return err_set(e, ST_INVALID_ARGUMENT, "tar: %s: %s", what, msg ? msg : "malformed archive");
}

void xpath_clean(char *p)
{
	size_t n = strlen(p), r = 0, w = 0, dotdot = 0;
	int rooted = p[0] == '/';
	if (rooted) {
		p[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (p[r] == '/') {
			r++;
		} else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
			r++;
		} else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && p[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					p[w++] = '/';
				p[w++] = '.';
				p[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				p[w++] = '/';
			while (r < n && p[r] != '/')
				p[w++] = p[r++];
		}
	}
	if (w == 0)
		p[w++] = '.';
	p[w] = '\0';
}

/* Cleans src into dst; refuses what would land outside the target. */
static int clean_inside(const char *what, const char *src, char *dst, const struct extract_limits *lim,
			struct err *e)
{
	size_t n = strlen(src);
	if (n > lim->max_name)
		return err_set(e, ST_RESOURCE_EXHAUSTED,
			       "tar: %s of %zu bytes is longer than the limit (max_name %u)", what, n,
			       lim->max_name);
	memcpy(dst, src, n + 1);
	xpath_clean(dst);
	if (dst[0] == '/')
		return err_set(e, ST_INVALID_ARGUMENT, "tar: absolute %s `%s` refused", what, src);
	if (!strcmp(dst, "..") || !strncmp(dst, "../", 3))
		return err_set(e, ST_INVALID_ARGUMENT, "tar: %s `%s` escapes the target", what, src);
	return 0;
}

static int entry_type(struct archive_entry *ent, const char *path, struct err *e)
{
	if (archive_entry_hardlink(ent))
		return XE_HARDLINK;
	switch (archive_entry_filetype(ent)) {
	case AE_IFREG:
		return XE_REG;
	case AE_IFDIR:
		return XE_DIR;
	case AE_IFLNK:
		return XE_SYMLINK;
	case AE_IFCHR:
		return XE_CHR;
	case AE_IFBLK:
		return XE_BLK;
	case AE_IFIFO:
		return XE_FIFO;
	default:
		return err_set(e, ST_INVALID_ARGUMENT, "tar: entry `%s` has an unsupported type (0%o)", path,
			       (unsigned)archive_entry_filetype(ent));
	}
}

/* containerd's boundTime: before the epoch or past what a signed 64-bit
 * nanosecond count holds becomes the epoch. */
static struct xtime bound_time(int64_t sec, long nsec)
{
	if (sec < 0 || sec > 9223372036LL || (sec == 9223372036LL && nsec > 854775807L))
		return (struct xtime){0, 0};
	return (struct xtime){sec, nsec};
}

static void entry_times(struct archive_entry *ent, struct xentry *x)
{
	int64_t ms = archive_entry_mtime_is_set(ent) ? archive_entry_mtime(ent) : 0;
	long mn = archive_entry_mtime_is_set(ent) ? archive_entry_mtime_nsec(ent) : 0;
	int64_t as = ms;
	long an = mn;
	/* latestTime(atime, mtime): an unset atime is Go's zero time, earlier. */
	if (archive_entry_atime_is_set(ent)) {
		int64_t s = archive_entry_atime(ent);
		long n = archive_entry_atime_nsec(ent);
		if (s > ms || (s == ms && n > mn)) {
			as = s;
			an = n;
		}
	}
	x->atime = bound_time(as, an);
	x->mtime = bound_time(ms, mn);
}

/* trusted.* is never applied (containerd ignores it, the overlay part is an
 * attack on the snapshotter: refused); overlay's userxattr twin too. */
static int entry_xattrs(struct tar_ctx *t, struct archive_entry *ent, struct xentry *x, struct err *e)
{
	x->nxattrs = 0;
	x->xattrs = t->xattrs;
	if (archive_entry_xattr_reset(ent) == 0)
		return 0;
	const char *name;
	const void *value;
	size_t size;
	while (archive_entry_xattr_next(ent, &name, &value, &size) == ARCHIVE_OK) {
		if (!strncmp(name, "trusted.overlay.", 16) || !strncmp(name, "user.overlay.", 13))
			return err_set(e, ST_INVALID_ARGUMENT,
				       "tar: entry `%s` carries overlay xattr `%s` (refused)", x->path, name);
		if (!strncmp(name, "trusted.", 8))
			continue;
		if (t->lim->strip_caps && !strcmp(name, "security.capability"))
			continue;
		if (size > t->lim->max_xattr)
			return err_set(
			    e, ST_RESOURCE_EXHAUSTED,
			    "tar: xattr `%s` of `%s` has %zu bytes, above the limit (max_xattr %u)", name,
			    x->path, size, t->lim->max_xattr);
		if (x->nxattrs == t->xattrs_cap) {
			t->xattrs_cap = t->xattrs_cap ? t->xattrs_cap * 2 : 8;
			t->xattrs = xrealloc(t->xattrs, t->xattrs_cap * sizeof *t->xattrs);
			x->xattrs = t->xattrs;
		}
		t->xattrs[x->nxattrs++] = (struct xattr_kv){name, value, size};
	}
	return 0;
}

static int entry_owner(struct archive_entry *ent, struct xentry *x, struct err *e)
{
	int64_t uid = archive_entry_uid(ent), gid = archive_entry_gid(ent);
	if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
		return err_set(e, ST_INVALID_ARGUMENT, "tar: entry `%s` has an invalid owner %lld:%lld",
			       x->path, (long long)uid, (long long)gid);
	x->uid = (uid_t)uid;
	x->gid = (gid_t)gid;
	return 0;
}

/* Returns 1 with *x filled, 0 for an entry containerd skips (the root
 * itself), -1 on error. */
static int entry_convert(struct tar_ctx *t, struct archive_entry *ent, struct xentry *x, struct err *e)
{
	const struct extract_limits *lim = t->lim;
	const char *raw = archive_entry_pathname(ent);
	if (!raw)
		raw = ""; /* an empty name: Go's Clean makes it ".", skipped */
	if (clean_inside("path", raw, t->path, lim, e) < 0)
		return -1;
	if (!strcmp(t->path, "."))
		return 0;
	uint32_t depth = 1;
	for (const char *c = t->path; *c; c++)
		depth += *c == '/';
	if (depth > lim->max_depth)
		return err_set(e, ST_RESOURCE_EXHAUSTED,
			       "tar: path `%.64s...` is %u deep, above the limit (max_depth %u)", t->path,
			       depth, lim->max_depth);
	*x = (struct xentry){.path = t->path};
	if ((x->type = entry_type(ent, t->path, e)) < 0)
		return -1;
	if (x->type == XE_HARDLINK) {
		if (clean_inside("hardlink target", archive_entry_hardlink(ent), t->link, lim, e) < 0)
			return -1;
		if (!strcmp(t->link, "."))
			return err_set(e, ST_INVALID_ARGUMENT, "tar: hardlink `%s` to the target's root",
				       t->path);
		x->link = t->link;
	} else if (x->type == XE_SYMLINK) {
		x->link = archive_entry_symlink(ent);
		if (!x->link)
			return err_set(e, ST_INVALID_ARGUMENT, "tar: symlink `%s` without a target", t->path);
		if (strlen(x->link) > lim->max_name)
			return err_set(e, ST_RESOURCE_EXHAUSTED,
				       "tar: symlink `%s` target is longer than the limit (max_name %u)",
				       t->path, lim->max_name);
	}
	x->mode = archive_entry_perm(ent) & 07777;
	if (lim->strip_caps && x->type != XE_DIR)
		x->mode &= ~(mode_t)06000;
	if (entry_owner(ent, x, e) < 0)
		return -1;
	if (x->type == XE_CHR || x->type == XE_BLK || x->type == XE_FIFO)
		x->rdev = makedev(archive_entry_rdevmajor(ent), archive_entry_rdevminor(ent));
	entry_times(ent, x);
	if (x->type == XE_REG) {
		int64_t size = archive_entry_size(ent);
		if (size < 0)
			return err_set(e, ST_INVALID_ARGUMENT, "tar: file `%s` has a negative size", t->path);
		if ((uint64_t)size > lim->max_file)
			return err_set(
			    e, ST_RESOURCE_EXHAUSTED,
			    "tar: file `%s` of %lld bytes is larger than the limit (max_file %llu)", t->path,
			    (long long)size, (unsigned long long)lim->max_file);
		x->size = (uint64_t)size;
	}
	return entry_xattrs(t, ent, x, e) < 0 ? -1 : 1;
}

static int data_next(void *p, const void **buf, size_t *len, uint64_t *off, struct err *e)
{
	struct tar_ctx *t = p;
	la_int64_t o;
	tar_progress(t);
	int r = archive_read_data_block(t->a, buf, len, &o);
	if (r == ARCHIVE_EOF)
		return 0;
	if (r < ARCHIVE_WARN)
		return tar_fail(t, "read file data", e);
	if (o < 0)
		return err_set(e, ST_INVALID_ARGUMENT, "tar: negative data offset");
	*off = (uint64_t)o;
	return 1;
}

static struct archive *tar_open(struct tar_ctx *t, struct err *e)
{
	struct archive *a = archive_read_new();
	if (!a) {
		err_set(e, ST_INTERNAL, "tar: out of memory");
		return NULL;
	}
	t->a = a;
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_format_empty(a) != ARCHIVE_OK ||
	    archive_read_open(a, t, NULL, read_cb, NULL) != ARCHIVE_OK) {
		tar_fail(t, "open", e);
		archive_read_free(a);
		return NULL;
	}
	return a;
}

int xtar_apply(struct xstream *s, struct xpool *p, const struct extract_limits *lim,
	       void (*progress)(void *ctx, uint64_t in, uint64_t entries), void *ctx, uint64_t *entries,
	       struct err *e)
{
	struct tar_ctx t = {.s = s,
			    .lim = lim,
			    .progress = progress,
			    .progress_ctx = ctx,
			    .last_progress = now_ns_monotonic(),
			    .entries = entries};
	xstream_on_wait(s, tar_waiting, &t);
	t.path = xmalloc((size_t)lim->max_name + 1);
	t.link = xmalloc((size_t)lim->max_name + 1);
	struct archive *a = tar_open(&t, e);
	int rc = a ? 0 : -1;
	while (rc == 0) {
		struct archive_entry *ent;
		int r = archive_read_next_header(a, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			rc = tar_fail(&t, "read header", e);
			break;
		}
		if (++*entries > lim->max_entries) {
			rc = err_set(e, ST_RESOURCE_EXHAUSTED,
				     "tar: more entries than the limit (max_entries %llu)",
				     (unsigned long long)lim->max_entries);
			break;
		}
		struct xentry x;
		int ok = entry_convert(&t, ent, &x, e);
		if (ok < 0) {
			rc = -1;
			break;
		}
		struct xdata data = {data_next, &t};
		if (ok > 0 && xpool_entry(p, &x, &data, e) < 0)
			rc = -1;
		tar_progress(&t);
	}
	if (a)
		archive_read_free(a);
	free(t.path);
	free(t.link);
	free(t.xattrs);
	xstream_on_wait(s, NULL, NULL); /* t goes now */
	return rc;
}
