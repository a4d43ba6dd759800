/* The layer creation engine, run for real as root in temporary
 * directories: trees built by hand, diffed with diff_layer(), the layer
 * read back with libarchive and checked entry by entry, and applied with
 * extract_layer() onto an overlay of the parent to compare with the child
 * tree. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/util.h"
#include "worker/diff.h"
#include "worker/extract.h"
#include "run_suite.h"

static char g_root[] = "/tmp/strata-test-diff-XXXXXX";
static int g_seq;
static char g_mnt[256];
static int g_threads = 2;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static void suite_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(g_root));
}

/* Unmounts what a failed test left mounted below the root (tests run in
 * forked children: only /proc knows), then removes the tree. */
static void suite_teardown(void)
{
	FILE *f = fopen("/proc/self/mounts", "r");
	char line[1024], dev[256], mnt[512];
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "%255s %511s", dev, mnt) == 2 && !strncmp(mnt, g_root, strlen(g_root)))
			umount2(mnt, MNT_DETACH);
	if (f)
		fclose(f);
	nftw(g_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- trees ------------------------------------------------------------------ */

struct env {
	char dir[128];
	char lower[160], upper[160];
	int lfd, ufd;
};

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	ck_assert_msg(system(cmd) == 0, "command failed: %s", cmd);
}

static void env_init(struct env *v)
{
	snprintf(v->dir, sizeof v->dir, "%s/%d-%d", g_root, (int)getpid(), ++g_seq);
	snprintf(v->lower, sizeof v->lower, "%s/lower", v->dir);
	snprintf(v->upper, sizeof v->upper, "%s/upper", v->dir);
	sh("mkdir -p %s %s", v->lower, v->upper);
	v->lfd = v->ufd = -1;
}

static void env_open(struct env *v)
{
	v->lfd = open(v->lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	v->ufd = open(v->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(v->lfd, 0);
	ck_assert_int_ge(v->ufd, 0);
}

static void env_close(struct env *v)
{
	close(v->lfd);
	close(v->ufd);
}

static void xset(const char *dir, const char *name, const char *key, const char *val)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	ck_assert_msg(lsetxattr(p, key, val, strlen(val), 0) == 0, "setxattr %s %s: %s", p, key,
		      strerror(errno));
}

static void mtime(const char *dir, const char *name, time_t sec, long nsec)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
	ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* ---- running a diff and reading it back --------------------------------------- */

struct rd {
	int fd;
	struct diff_result res;
};

static int run_diff(int lfd, int ufd, int comp, int64_t sde, struct rd *r, struct err *e)
{
	r->fd = memfd_create("layer", MFD_CLOEXEC);
	ck_assert_int_ge(r->fd, 0);
	struct diff_opts o = {.compression = comp, .source_date_epoch = sde, .threads = g_threads};
	return diff_layer(lfd, ufd, r->fd, &o, &r->res, e);
}

static void diff_ok(int lfd, int ufd, int comp, int64_t sde, struct rd *r)
{
	struct err e = {0};
	ck_assert_msg(run_diff(lfd, ufd, comp, sde, r, &e) == 0, "diff: %s", e.msg);
	struct stat st;
	ck_assert_int_eq(fstat(r->fd, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, r->res.size);
	/* the digest is the output's */
	unsigned char *m = r->res.size ? mmap(NULL, r->res.size, PROT_READ, MAP_SHARED, r->fd, 0) : NULL;
	unsigned char d[32];
	EVP_Digest(m ? m : (unsigned char *)"", r->res.size, d, NULL, EVP_sha256(), NULL);
	ck_assert_mem_eq(d, r->res.digest, 32);
	if (m)
		munmap(m, r->res.size);
	if (comp == DIFF_TAR) {
		ck_assert_mem_eq(r->res.digest, r->res.diff_id, 32);
		ck_assert_uint_eq(r->res.size, r->res.uncompressed_size);
	}
}

#define MAXE 128
struct tent {
	char path[1024];
	char link[1024];
	int type; /* AE_IF* */
	mode_t perm;
	int64_t uid, gid, size, mtime;
	unsigned rmajor, rminor;
	int hardlink;
	char xattrs[512]; /* "k=v;" in order */
	char data[64];
};

static int read_tar(int fd, struct tent *out)
{
	lseek(fd, 0, SEEK_SET);
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	ck_assert_int_eq(archive_read_open_fd(a, dup(fd), 65536), ARCHIVE_OK);
	int n = 0;
	struct archive_entry *ae;
	int rc;
	while ((rc = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		ck_assert_int_lt(n, MAXE);
		struct tent *t = &out[n++];
		memset(t, 0, sizeof *t);
		snprintf(t->path, sizeof t->path, "%s", archive_entry_pathname(ae));
		t->type = (int)archive_entry_filetype(ae);
		t->perm = archive_entry_perm(ae);
		t->uid = archive_entry_uid(ae);
		t->gid = archive_entry_gid(ae);
		t->size = archive_entry_size(ae);
		t->mtime = archive_entry_mtime(ae);
		t->rmajor = archive_entry_rdevmajor(ae);
		t->rminor = archive_entry_rdevminor(ae);
		const char *un = archive_entry_uname(ae), *gn = archive_entry_gname(ae);
		ck_assert_msg((!un || !*un) && (!gn || !*gn), "`%s` has owner names", t->path);
		if (archive_entry_hardlink(ae)) {
			t->hardlink = 1;
			snprintf(t->link, sizeof t->link, "%s", archive_entry_hardlink(ae));
		} else if (archive_entry_symlink(ae)) {
			snprintf(t->link, sizeof t->link, "%s", archive_entry_symlink(ae));
		}
		const char *k;
		const void *v;
		size_t vs;
		archive_entry_xattr_reset(ae);
		while (archive_entry_xattr_next(ae, &k, &v, &vs) == ARCHIVE_OK) {
			size_t l = strlen(t->xattrs);
			snprintf(t->xattrs + l, sizeof t->xattrs - l, "%s=%.*s;", k, (int)vs,
				 (const char *)v);
		}
		ssize_t got = archive_read_data(a, t->data, sizeof t->data - 1);
		ck_assert_int_ge(got, 0);
	}
	ck_assert_int_eq(rc, ARCHIVE_EOF);
	archive_read_free(a);
	return n;
}

static const struct tent *find(const struct tent *v, int n, const char *path)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i].path, path))
			return &v[i];
	return NULL;
}

static int index_of(const struct tent *v, int n, const char *path)
{
	const struct tent *t = find(v, n, path);
	return t ? (int)(t - v) : -1;
}

static const struct tent *must(const struct tent *v, int n, const char *path)
{
	const struct tent *t = find(v, n, path);
	ck_assert_msg(t != NULL, "no entry `%s` in the layer", path);
	return t;
}

/* ---- applying it back ------------------------------------------------------------ */

static void compare_trees(const char *a, const char *b);

/* extract_layer onto an empty upperdir over the lower, then the overlay of
 * both must equal the child tree. */
static void round_trip(struct env *v, struct rd *r)
{
	char up2[256], work[256];
	snprintf(up2, sizeof up2, "%s/up2", v->dir);
	snprintf(work, sizeof work, "%s/work", v->dir);
	snprintf(g_mnt, sizeof g_mnt, "%s/merged", v->dir);
	sh("rm -rf %s %s && mkdir -p %s %s %s", up2, work, up2, work, g_mnt);
	int tfd = open(up2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(tfd, 0);
	lseek(r->fd, 0, SEEK_SET);
	struct extract_result xr;
	struct err e = {0};
	ck_assert_msg(extract_layer(r->fd, tfd, &v->lfd, 1, NULL, NULL, NULL, &xr, &e) == 0, "apply: %s",
		      e.msg);
	close(tfd);
	ck_assert_mem_eq(xr.diff_id, r->res.diff_id, 32);
	ck_assert_mem_eq(xr.compressed_digest, r->res.digest, 32);
	char opts[1024];
	snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", v->lower, up2, work);
	ck_assert_msg(mount("overlay", g_mnt, "overlay", 0, opts) == 0, "mount overlay: %s", strerror(errno));
	compare_trees(g_mnt, v->upper);
	ck_assert_int_eq(umount(g_mnt), 0);
	g_mnt[0] = '\0';
}

struct tree_ent {
	char rel[512];
	struct stat st;
};

static void list_xattrs(const char *p, char *out, size_t cap)
{
	char names[4096];
	ssize_t n = llistxattr(p, names, sizeof names);
	out[0] = '\0';
	for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
		const char *k = names + off;
		if (!strncmp(k, "trusted.", 8))
			continue;
		char val[256];
		ssize_t vn = lgetxattr(p, k, val, sizeof val);
		ck_assert_int_ge(vn, 0);
		size_t l = strlen(out);
		snprintf(out + l, cap - l, "%s=%.*s;", k, (int)vn, val);
	}
}

static void compare_one(const char *a, const char *b, const char *rel)
{
	char pa[2048], pb[2048];
	snprintf(pa, sizeof pa, "%s/%s", a, rel);
	snprintf(pb, sizeof pb, "%s/%s", b, rel);
	struct stat sa, sb;
	ck_assert_msg(lstat(pa, &sa) == 0, "missing `%s` after the round trip", rel);
	ck_assert_int_eq(lstat(pb, &sb), 0);
	ck_assert_msg(sa.st_mode == sb.st_mode, "`%s`: mode %o != %o", rel, sa.st_mode, sb.st_mode);
	ck_assert_msg(sa.st_uid == sb.st_uid && sa.st_gid == sb.st_gid, "`%s`: owner", rel);
	if (!S_ISDIR(sa.st_mode)) {
		ck_assert_msg(sa.st_mtim.tv_sec == sb.st_mtim.tv_sec, "`%s`: mtime %ld != %ld", rel,
			      (long)sa.st_mtim.tv_sec, (long)sb.st_mtim.tv_sec);
		ck_assert_int_eq(sa.st_size, sb.st_size);
		ck_assert_int_eq(sa.st_rdev, sb.st_rdev);
	}
	if (S_ISREG(sa.st_mode)) {
		char ca[4096] = {0}, cb[4096] = {0};
		int fa = open(pa, O_RDONLY), fb = open(pb, O_RDONLY);
		ssize_t na = read(fa, ca, sizeof ca), nb = read(fb, cb, sizeof cb);
		close(fa), close(fb);
		ck_assert_msg(na == nb && !memcmp(ca, cb, (size_t)na), "`%s`: content differs", rel);
	}
	if (S_ISLNK(sa.st_mode)) {
		char la[512] = {0}, lb[512] = {0};
		ck_assert_int_ge(readlink(pa, la, sizeof la - 1), 0);
		ck_assert_int_ge(readlink(pb, lb, sizeof lb - 1), 0);
		ck_assert_str_eq(la, lb);
	}
	char xa[2048], xb[2048];
	list_xattrs(pa, xa, sizeof xa);
	list_xattrs(pb, xb, sizeof xb);
	ck_assert_msg(!strcmp(xa, xb), "`%s`: xattrs `%s` != `%s`", rel, xa, xb);
}

/* Every name of each tree exists in the other with the same metadata. */
static void compare_dir(const char *a, const char *b, const char *rel, int both_ways)
{
	char p[1024];
	snprintf(p, sizeof p, "%s/%s", a, rel);
	DIR *d = opendir(p);
	ck_assert_ptr_nonnull(d);
	for (struct dirent *de; (de = readdir(d));) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char r2[1024 + 256];
		snprintf(r2, sizeof r2, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		compare_one(a, b, r2);
		if (de->d_type == DT_DIR)
			compare_dir(a, b, r2, both_ways);
	}
	closedir(d);
}

static void compare_trees(const char *a, const char *b)
{
	compare_dir(a, b, "", 1);
	compare_dir(b, a, "", 1);
}

/* ---- tests ------------------------------------------------------------------------ */

/* Fast path: an upperdir made by hand as overlay makes it. */
START_TEST(upperdir_fast_path)
{
	struct env v;
	env_init(&v);
	const char *u = v.upper;
	sh("cd %s && mkdir -p d/sub opq/x && echo data > d/f && ln d/f d/g && ln -s ../d/f d/link && "
	   "echo n > opq/x/y && mkfifo d/fifo && chown 1000:2000 d/f && chmod 4751 d/f",
	   u);
	char p[512];
	snprintf(p, sizeof p, "%s/gone", u);
	ck_assert_int_eq(mknod(p, S_IFCHR, makedev(0, 0)), 0);
	snprintf(p, sizeof p, "%s/d/gone2", u);
	ck_assert_int_eq(mknod(p, S_IFCHR, makedev(0, 0)), 0);
	char p3[512];
	snprintf(p3, sizeof p3, "%s/d/gone3", u);
	ck_assert_int_eq(link(p, p3), 0); /* overlay shares one whiteout inode */
	snprintf(p, sizeof p, "%s/d/null", u);
	ck_assert_int_eq(mknod(p, S_IFCHR | 0666, makedev(1, 3)), 0);
	xset(u, "opq", "trusted.overlay.opaque", "y");
	xset(u, "d/f", "user.note", "hello");
	xset(u, "d/f", "security.strata", "s");
	xset(u, "d", "trusted.other", "no");
	char longname[300];
	memset(longname, 'n', 200);
	longname[200] = '\0';
	sh("cd %s && mkdir -p deep/%s && touch deep/%s/%s", u, longname, longname, longname);
	env_open(&v);

	struct rd r;
	diff_ok(-1, v.ufd, DIFF_TAR, -1, &r);
	struct tent t[MAXE];
	int n = read_tar(r.fd, t);
	ck_assert_uint_eq(r.res.entries, (uint64_t)n);
	const struct tent *f = must(t, n, "d/f");
	ck_assert_int_eq(f->type, AE_IFREG);
	ck_assert_uint_eq(f->perm, 04751);
	ck_assert_int_eq(f->uid, 1000);
	ck_assert_int_eq(f->gid, 2000);
	ck_assert_str_eq(f->data, "data\n");
	ck_assert_ptr_nonnull(strstr(f->xattrs, "user.note=hello;"));
	ck_assert_ptr_nonnull(strstr(f->xattrs, "security.strata=s;"));
	const struct tent *g = must(t, n, "d/g");
	ck_assert_int_eq(g->hardlink, 1);
	ck_assert_str_eq(g->link, "d/f");
	ck_assert_int_lt(index_of(t, n, "d/f"), index_of(t, n, "d/g"));
	ck_assert_str_eq(must(t, n, "d/link")->link, "../d/f");
	ck_assert_int_eq(must(t, n, "d/link")->type, AE_IFLNK);
	ck_assert_int_eq(must(t, n, "d/fifo")->type, AE_IFIFO);
	const struct tent *nul = must(t, n, "d/null");
	ck_assert_int_eq(nul->type, AE_IFCHR);
	ck_assert_uint_eq(nul->rmajor, 1);
	ck_assert_uint_eq(nul->rminor, 3);
	/* whiteouts, not devices nor hardlinks */
	ck_assert_int_eq(must(t, n, ".wh.gone")->type, AE_IFREG);
	ck_assert_int_eq(must(t, n, "d/.wh.gone2")->hardlink, 0);
	ck_assert_int_eq(must(t, n, "d/.wh.gone3")->hardlink, 0);
	ck_assert_ptr_null(find(t, n, "gone"));
	/* the opaque directory: itself, the marker, its contents; no overlay xattr */
	int io = index_of(t, n, "opq/"), im = index_of(t, n, "opq/.wh..wh..opq");
	ck_assert_int_ge(io, 0);
	ck_assert_int_eq(im, io + 1);
	ck_assert_int_gt(index_of(t, n, "opq/x/y"), im);
	ck_assert_str_eq(must(t, n, "opq/")->xattrs, "");
	ck_assert_str_eq(must(t, n, "d/")->xattrs, "");
	/* a long name through PAX */
	char lp[700];
	snprintf(lp, sizeof lp, "deep/%s/%s", longname, longname);
	ck_assert_int_eq(must(t, n, lp)->type, AE_IFREG);
	/* sorted: a directory before its contents, names in byte order */
	ck_assert_int_lt(index_of(t, n, "d/"), index_of(t, n, "d/f"));
	/* a whiteout sits where the deleted name sorts */
	ck_assert_int_lt(index_of(t, n, "deep/"), index_of(t, n, ".wh.gone"));
	ck_assert_int_lt(index_of(t, n, ".wh.gone"), index_of(t, n, "opq/"));
	ck_assert_int_lt(index_of(t, n, "deep/"), index_of(t, n, "opq/"));
	close(r.fd);

	/* An upperdir with a redirect is refused as Aborted (the caller then
	 * compares the merged trees): its content is below. */
	xset(u, "d/sub", "trusted.overlay.redirect", "/elsewhere");
	struct err e = {0};
	ck_assert_int_eq(run_diff(-1, v.ufd, DIFF_TAR, -1, &r, &e), -1);
	ck_assert_int_eq(e.code, ST_ABORTED);
	close(r.fd);
	env_close(&v);
}
END_TEST

/* A lower and an upper with every kind of change. */
static void build_pair(struct env *v)
{
	const char *l = v->lower, *u = v->upper;
	sh("cd %s && mkdir -p keep/deep del ren/in meta dir2file && echo a > keep/deep/same && "
	   "echo same > keep/sz && echo 1 > del/x && echo r > ren/in/f && echo m > meta/mode && "
	   "echo m > meta/own && echo m > meta/xa && echo m > meta/time && echo d > dir2file/c && "
	   "echo f > file2dir && echo h > hl && ln hl hl2 && ln -s t sym && mkdir recreated && "
	   "echo old > recreated/old && echo z > zfile && mkdir -p lk/x && echo L > lk/x/ref && echo Z > zz",
	   l);
	mtime(l, "zz", 1234, 5); /* same size: a time of its own tells it apart */
	sh("cp -a %s/. %s/", l, u);
	/* same size and whole-second times, other bytes: only the content tells */
	sh("cd %s && echo diff > keep/sz", u);
	mtime(l, "keep/sz", 1000, 0);
	mtime(u, "keep/sz", 1000, 0);
	sh("cd %s && rm -r del && mv ren moved && chmod 0600 meta/mode && chown 7:8 meta/own && "
	   "rm -r dir2file && echo now-file > dir2file && rm file2dir && mkdir -p file2dir/n && "
	   "echo in > file2dir/n/f && echo H > hl && ln -sf t2 sym && rm -r recreated && mkdir recreated && "
	   "echo new > recreated/new && echo added > keep/deep/added && rm zfile && rm zz && ln lk/x/ref zz",
	   u);
	xset(u, "meta/xa", "user.k", "v");
	mtime(u, "meta/time", 5000, 0);
}

START_TEST(two_trees_general_path)
{
	struct env v;
	env_init(&v);
	build_pair(&v);
	env_open(&v);
	struct rd r;
	diff_ok(v.lfd, v.ufd, DIFF_TAR, -1, &r);
	struct tent t[MAXE];
	int n = read_tar(r.fd, t);
	ck_assert_int_eq(must(t, n, ".wh.del")->type, AE_IFREG);
	ck_assert_ptr_null(find(t, n, "del/x"));
	ck_assert_ptr_nonnull(find(t, n, ".wh.ren"));
	ck_assert_str_eq(must(t, n, "moved/in/f")->data, "r\n");
	ck_assert_ptr_nonnull(find(t, n, "moved/"));
	ck_assert_str_eq(must(t, n, "keep/sz")->data, "diff\n");
	ck_assert_ptr_null(find(t, n, "keep/deep/same"));
	ck_assert_ptr_nonnull(find(t, n, "keep/deep/added"));
	/* parents of a change come first, even unchanged ones */
	ck_assert_int_lt(index_of(t, n, "keep/"), index_of(t, n, "keep/deep/"));
	ck_assert_int_lt(index_of(t, n, "keep/deep/"), index_of(t, n, "keep/deep/added"));
	ck_assert_uint_eq(must(t, n, "meta/mode")->perm, 0600);
	ck_assert_int_eq(must(t, n, "meta/own")->uid, 7);
	ck_assert_int_eq(must(t, n, "meta/own")->gid, 8);
	ck_assert_str_eq(must(t, n, "meta/xa")->xattrs, "user.k=v;");
	ck_assert_int_eq(must(t, n, "meta/time")->mtime, 5000);
	ck_assert_int_eq(must(t, n, "dir2file")->type, AE_IFREG);
	ck_assert_ptr_null(find(t, n, ".wh.dir2file"));
	ck_assert_int_eq(must(t, n, "file2dir/")->type, AE_IFDIR);
	ck_assert_ptr_nonnull(find(t, n, "file2dir/n/f"));
	ck_assert_str_eq(must(t, n, "sym")->link, "t2");
	/* a changed hardlinked file: its other name becomes a link to it */
	ck_assert_str_eq(must(t, n, "hl")->data, "H\n");
	ck_assert_int_eq(must(t, n, "hl2")->hardlink, 1);
	ck_assert_str_eq(must(t, n, "hl2")->link, "hl");
	ck_assert_ptr_nonnull(find(t, n, "recreated/.wh.old"));
	ck_assert_ptr_nonnull(find(t, n, "recreated/new"));
	ck_assert_ptr_nonnull(find(t, n, ".wh.zfile"));
	/* an unchanged name linked to a changed one, seen first: written as a
	 * link after the data, its unchanged parents before it */
	ck_assert_str_eq(must(t, n, "zz")->data, "L\n");
	ck_assert_int_eq(must(t, n, "lk/x/ref")->hardlink, 1);
	ck_assert_str_eq(must(t, n, "lk/x/ref")->link, "zz");
	ck_assert_int_lt(index_of(t, n, "zz"), index_of(t, n, "lk/x/"));
	ck_assert_int_lt(index_of(t, n, "lk/"), index_of(t, n, "lk/x/"));
	ck_assert_int_lt(index_of(t, n, "lk/x/"), index_of(t, n, "lk/x/ref"));
	close(r.fd);
	env_close(&v);
}
END_TEST

START_TEST(unchanged_tree_is_an_empty_tar)
{
	struct env v;
	env_init(&v);
	sh("cd %s && mkdir -p a/b && echo x > a/b/f && ln -s f a/l && ln a/b/f a/h", v.lower);
	sh("cp -a %s/. %s/", v.lower, v.upper);
	env_open(&v);
	struct rd r;
	diff_ok(v.lfd, v.ufd, DIFF_TAR, -1, &r);
	ck_assert_uint_eq(r.res.entries, 0);
	ck_assert_uint_eq(r.res.size, 1024); /* two zero blocks, as Go's tar.Writer.Close */
	unsigned char buf[1024], zero[1024] = {0};
	ck_assert_int_eq(pread(r.fd, buf, sizeof buf, 0), 1024);
	ck_assert_mem_eq(buf, zero, 1024);
	close(r.fd);
	/* compressed: still only those bytes inside */
	diff_ok(v.lfd, v.ufd, DIFF_GZIP, -1, &r);
	ck_assert_uint_eq(r.res.uncompressed_size, 1024);
	ck_assert_int_eq(read_tar(r.fd, (struct tent[MAXE]){0}), 0);
	close(r.fd);
	env_close(&v);
}
END_TEST

START_TEST(deterministic_and_clamped)
{
	struct env v;
	env_init(&v);
	build_pair(&v);
	env_open(&v);
	for (int c = DIFF_TAR; c <= DIFF_ZSTD; c++) {
		struct rd a, b;
		diff_ok(v.lfd, v.ufd, c, -1, &a);
		g_threads = 1; /* one thread or several: the same bytes */
		diff_ok(v.lfd, v.ufd, c, -1, &b);
		g_threads = 2;
		ck_assert_mem_eq(a.res.digest, b.res.digest, 32);
		ck_assert_mem_eq(a.res.diff_id, b.res.diff_id, 32);
		close(a.fd);
		close(b.fd);
	}
	struct rd r;
	diff_ok(v.lfd, v.ufd, DIFF_GZIP, 3000, &r);
	struct tent t[MAXE];
	int n = read_tar(r.fd, t);
	for (int i = 0; i < n; i++)
		ck_assert_int_le(t[i].mtime, 3000);
	ck_assert_int_eq(must(t, n, ".wh.del")->mtime, 3000);
	ck_assert_int_eq(must(t, n, "keep/sz")->mtime, 1000); /* older times stay */
	close(r.fd);
	env_close(&v);
}
END_TEST

START_TEST(round_trip_through_extract)
{
	/* _i 1: as on a kernel without listxattrat/getxattrat */
	dwalk_no_xattrat = _i;
	for (int c = DIFF_TAR; c <= DIFF_ZSTD; c++) {
		struct env v;
		env_init(&v);
		build_pair(&v);
		xset(v.upper, "keep", "user.dir", "x");
		env_open(&v);
		struct rd r;
		diff_ok(v.lfd, v.ufd, c, -1, &r);
		round_trip(&v, &r);
		close(r.fd);
		env_close(&v);
	}
}
END_TEST

/* A big file: several gzip blocks and zstd jobs, the same bytes back. */
START_TEST(large_file_round_trip)
{
	struct env v;
	env_init(&v);
	sh("cd %s && head -c 3000000 /dev/urandom > rnd && yes strata | head -c 5000000 > txt && "
	   "truncate -s 20M sparse && echo tail >> sparse",
	   v.upper);
	env_open(&v);
	for (int c = DIFF_GZIP; c <= DIFF_ZSTD; c++) {
		struct rd r;
		diff_ok(v.lfd, v.ufd, c, -1, &r);
		ck_assert_uint_gt(r.res.uncompressed_size, 28000000);
		ck_assert_uint_lt(r.res.size, 4000000);
		round_trip(&v, &r);
		close(r.fd);
	}
	env_close(&v);
}
END_TEST

static Suite *diff_suite(void)
{
	Suite *s = suite_create("diff");
	TCase *tc = tcase_create("engine");
	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, upperdir_fast_path);
	tcase_add_test(tc, two_trees_general_path);
	tcase_add_test(tc, unchanged_tree_is_an_empty_tar);
	tcase_add_test(tc, deterministic_and_clamped);
	tcase_add_loop_test(tc, round_trip_through_extract, 0, 2);
	tcase_add_test(tc, large_file_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(diff_suite());
}
