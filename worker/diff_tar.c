/* The tar writer: POSIX ustar headers with PAX extended headers when a
 * field does not fit (long names and link targets, sizes, ids and times
 * past the octal fields) and for xattrs (SCHILY.xattr.NAME, as Go's
 * archive/tar and libarchive read them).  What containerd's ChangeWriter
 * (Go's tar.Writer, FormatPAX) writes, made deterministic:
 *
 *  - numeric owners only (uname and gname empty), mode = permission,
 *    setuid, setgid and sticky bits, mtime in whole seconds (clamped to
 *    source_date_epoch when given), no atime or ctime;
 *  - PAX records sorted by key, the PAX header's own fields fixed;
 *  - whiteouts are empty regular files with mode 0, owner 0 and mtime 0
 *    (or source_date_epoch): containerd stamps them with the time of the
 *    diff, which only makes the digest change from run to run;
 *  - the end is two zero blocks, no padding to a 10 KiB record, as Go's
 *    tar.Writer.Close writes it.
 * Sparse files are written dense. */
#include "diff.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../common/tar_header.h"
#include "../common/util.h"

#define BLOCK	 TAR_BLOCK
#define TBUF_CAP (1u << 20) /* bytes buffered before the sink */

struct tarw {
	struct dsink *sink;
	int64_t sde;
	void (*progress)(void *ctx, uint64_t tar_bytes, uint64_t entries);
	void *progress_ctx;
	uint64_t written, last_progress_ns;
	unsigned char *buf;
	size_t len;
	uint64_t entries;
	char *pax; /* PAX records of the current entry */
	size_t pax_len, pax_cap;
};

struct tarw *tarw_new(struct dsink *sink, const struct diff_opts *o)
{
	struct tarw *t = xcalloc(1, sizeof *t);
	t->sink = sink;
	t->sde = o->source_date_epoch;
	t->progress = o->progress;
	t->progress_ctx = o->progress_ctx;
	t->last_progress_ns = now_ns_monotonic();
	t->buf = xmalloc(TBUF_CAP);
	return t;
}

void tarw_free(struct tarw *t)
{
	if (!t)
		return;
	free(t->buf);
	free(t->pax);
	free(t);
}

uint64_t tarw_entries(const struct tarw *t)
{
	return t->entries;
}

/* Hands the buffer to the sink; reports progress at most every 100 ms
 * (the buffer fills often, within a large file too). */
static int flush(struct tarw *t, struct err *e)
{
	if (t->len && dsink_write(t->sink, t->buf, t->len, e) < 0)
		return -1;
	t->written += t->len;
	t->len = 0;
	uint64_t now = t->progress ? now_ns_monotonic() : 0;
	if (t->progress && now - t->last_progress_ns >= 100000000ull) {
		t->last_progress_ns = now;
		t->progress(t->progress_ctx, t->written, t->entries);
	}
	return 0;
}

/* Room for n more bytes (n <= TBUF_CAP). */
static unsigned char *reserve(struct tarw *t, size_t n, struct err *e)
{
	if (TBUF_CAP - t->len < n && flush(t, e) < 0)
		return NULL;
	return t->buf + t->len;
}

static int put_zeros(struct tarw *t, size_t n, struct err *e)
{
	unsigned char *p = reserve(t, n, e);
	if (!p)
		return -1;
	memset(p, 0, n);
	t->len += n;
	return 0;
}

/* ---- PAX records ------------------------------------------------------------ */

/* Room for n more bytes of PAX records. */
static void pax_room(struct tarw *t, size_t n)
{
	if (t->pax_cap - t->pax_len < n) {
		t->pax_cap = (t->pax_len + n) * 2;
		t->pax = xrealloc(t->pax, t->pax_cap);
	}
}

/* The records, in key order ("SCHILY..." sorts before lowercase keys). */
static void pax_records(struct tarw *t, const struct tar_hdr *x, const struct dnode *n, int name_pax)
{
	t->pax_len = 0;
	for (size_t i = 0; i < n->nxattrs; i++) {
		char key[16 + 256];
		snprintf(key, sizeof key, "SCHILY.xattr.%s", n->xattrs[i].name);
		size_t len = tar_pax_record(NULL, 0, key, n->xattrs[i].value, n->xattrs[i].size);
		pax_room(t, len);
		t->pax_len +=
		    tar_pax_record(t->pax + t->pax_len, len, key, n->xattrs[i].value, n->xattrs[i].size);
	}
	size_t len = tar_pax_fields(NULL, 0, x, name_pax);
	pax_room(t, len);
	t->pax_len += tar_pax_fields(t->pax + t->pax_len, len, x, name_pax);
}

static int put_pax(struct tarw *t, const char *name, struct err *e)
{
	unsigned char *h = reserve(t, BLOCK, e);
	if (!h)
		return -1;
	tar_pax_header_fill((char *)h, name, t->pax_len);
	t->len += BLOCK;
	for (size_t off = 0; off < t->pax_len;) {
		size_t chunk = t->pax_len - off < TBUF_CAP / 2 ? t->pax_len - off : TBUF_CAP / 2;
		unsigned char *d = reserve(t, chunk, e);
		if (!d)
			return -1;
		memcpy(d, t->pax + off, chunk);
		t->len += chunk;
		off += chunk;
	}
	return put_zeros(t, (BLOCK - t->pax_len % BLOCK) % BLOCK, e);
}

static int put_data(struct tarw *t, const struct dnode *n, uint64_t size, struct err *e)
{
	uint64_t left = size;
	while (left) {
		if (TBUF_CAP == t->len && flush(t, e) < 0)
			return -1;
		size_t want = TBUF_CAP - t->len;
		if (want > left)
			want = (size_t)left;
		ssize_t r = read(n->fd, t->buf + t->len, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_errno(e, ST_INTERNAL, errno, "read `%s`", n->path);
		if (r == 0)
			return err_set(e, ST_FAILED_PRECONDITION, "file `%s` shrank while it was read",
				       n->path);
		t->len += (size_t)r;
		left -= (uint64_t)r;
	}
	return put_zeros(t, (BLOCK - size % BLOCK) % BLOCK, e);
}

static void hdr_from_node(struct tarw *t, const struct dnode *n, struct tar_hdr *x, char *name, size_t cap)
{
	*x = (struct tar_hdr){.name = name};
	if (n->kind == DN_WHITEOUT) {
		snprintf(name, cap, "%s", n->path);
		x->type = '0';
		x->mtime = t->sde >= 0 ? t->sde : 0;
		return;
	}
	const struct stat *st = n->st;
	int dir = S_ISDIR(st->st_mode) && n->kind == DN_ENTRY;
	snprintf(name, cap, "%s%s", n->path, dir ? "/" : "");
	x->mode = st->st_mode & 07777;
	x->uid = st->st_uid;
	x->gid = st->st_gid;
	x->mtime = st->st_mtim.tv_sec;
	if (t->sde >= 0 && x->mtime > t->sde)
		x->mtime = t->sde;
	x->link = n->link;
	if (n->kind == DN_HARDLINK) {
		x->type = '1';
		return;
	}
	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		x->type = '0';
		x->size = (uint64_t)st->st_size;
		break;
	case S_IFDIR:
		x->type = '5';
		break;
	case S_IFLNK:
		x->type = '2';
		break;
	case S_IFCHR:
	case S_IFBLK:
		x->type = S_ISCHR(st->st_mode) ? '3' : '4';
		x->major = major(st->st_rdev);
		x->minor = minor(st->st_rdev);
		break;
	default:
		x->type = '6';
		break;
	}
}

int tarw_entry(struct tarw *t, const struct dnode *n, struct err *e)
{
	size_t cap = strlen(n->path) + 2;
	cleanup_free char *name = xmalloc(cap);
	struct tar_hdr x;
	hdr_from_node(t, n, &x, name, cap);
	for (size_t i = 0; i < n->nxattrs; i++)
		if (strchr(n->xattrs[i].name, '=') || strlen(n->xattrs[i].name) > 255)
			return err_set(e, ST_FAILED_PRECONDITION, "xattr `%s` of `%s` cannot be a PAX record",
				       n->xattrs[i].name, n->path);
	int name_pax = 0;
	unsigned char hb[BLOCK];
	tar_header_fill((char *)hb, &x, &name_pax);
	pax_records(t, &x, n, name_pax);
	if (t->pax_len && put_pax(t, name, e) < 0)
		return -1;
	unsigned char *h = reserve(t, BLOCK, e);
	if (!h)
		return -1;
	memcpy(h, hb, BLOCK);
	t->len += BLOCK;
	t->entries++;
	if (x.type == '0' && x.size)
		return put_data(t, n, x.size, e);
	return 0;
}

int tarw_finish(struct tarw *t, struct err *e)
{
	if (put_zeros(t, 2 * BLOCK, e) < 0)
		return -1;
	return flush(t, e);
}
