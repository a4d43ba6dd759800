/* The extraction engine, run for real as root in temporary directories:
 * layers are built in memory with libarchive's write side, applied with
 * extract_layer(), and the resulting trees checked.  Every hostile layer
 * also checks that a canary next to the target is untouched. */
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/util.h"
#include "worker/extract.h"
#include "run_suite.h"

static char g_root[] = "/tmp/strata-test-extract-XXXXXX";
static int g_seq;

/* ---- fixture: root/N/{target,lower0,lower1,canary} ------------------------ */

struct env {
	char dir[128];
	int target, lower[2];
	struct stat canary;
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static void suite_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(g_root));
}

static void suite_teardown(void)
{
	nftw(g_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int open_dir(const char *base, const char *name)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", base, name);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static void env_init(struct env *v)
{
	snprintf(v->dir, sizeof v->dir, "%s/%d-%d", g_root, (int)getpid(), ++g_seq);
	ck_assert_int_eq(mkdir(v->dir, 0755), 0);
	v->target = open_dir(v->dir, "target");
	v->lower[0] = open_dir(v->dir, "lower0");
	v->lower[1] = open_dir(v->dir, "lower1");
	char p[256];
	snprintf(p, sizeof p, "%s/canary", v->dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0640);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "canary\n", 7), 7);
	struct timespec ts[2] = {{1000, 0}, {1000, 0}};
	futimens(fd, ts);
	close(fd);
	ck_assert_int_eq(lstat(p, &v->canary), 0);
}

/* Nothing next to the target changed: the canary, and no new names. */
static void env_check_canary(struct env *v)
{
	char p[256];
	snprintf(p, sizeof p, "%s/canary", v->dir);
	struct stat st;
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_uint_eq(st.st_ino, v->canary.st_ino);
	ck_assert_uint_eq(st.st_mode, v->canary.st_mode);
	ck_assert_uint_eq(st.st_uid, v->canary.st_uid);
	ck_assert_uint_eq(st.st_nlink, 1);
	ck_assert_int_eq(st.st_size, 7);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1000);
	ck_assert_int_eq(getxattr(p, "user.evil", NULL, 0), -1);
	char buf[16] = {0};
	int fd = open(p, O_RDONLY);
	ck_assert_int_eq(read(fd, buf, sizeof buf), 7);
	close(fd);
	ck_assert_str_eq(buf, "canary\n");
	int n = 0;
	DIR *d = opendir(v->dir);
	for (struct dirent *de; (de = readdir(d));)
		n += de->d_name[0] != '.';
	closedir(d);
	ck_assert_int_eq(n, 4); /* target, lower0, lower1, canary */
	snprintf(p, sizeof p, "%s/lower0", v->dir);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_uint_eq(st.st_mode, S_IFDIR | 0755);
}

/* ---- building layers -------------------------------------------------- */

struct tb {
	struct archive *a;
	int fd;
};

static void tb_init(struct tb *t, int format)
{
	t->fd = memfd_create("layer", MFD_CLOEXEC);
	ck_assert_int_ge(t->fd, 0);
	t->a = archive_write_new();
	ck_assert_int_eq(format ? archive_write_set_format(t->a, format) : archive_write_set_format_pax(t->a),
			 ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open_fd(t->a, t->fd), ARCHIVE_OK);
}

static struct archive_entry *ent(const char *path, mode_t mode, int uid, int gid, time_t mtime)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_copy_pathname(e, path);
	archive_entry_set_mode(e, mode);
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, gid);
	archive_entry_set_mtime(e, mtime, 500);
	return e;
}

static void put(struct tb *t, struct archive_entry *e, const char *data)
{
	size_t n = data ? strlen(data) : 0;
	if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e))
		archive_entry_set_size(e, (la_int64_t)n);
	ck_assert_int_ge(archive_write_header(t->a, e), ARCHIVE_WARN); /* WARN: charset in the C locale */
	if (n)
		ck_assert_int_eq(archive_write_data(t->a, data, n), (la_ssize_t)n);
	archive_entry_free(e);
}

static void put_file(struct tb *t, const char *path, mode_t perm, const char *data)
{
	put(t, ent(path, AE_IFREG | perm, 0, 0, 1600000000), data);
}

static void put_dir(struct tb *t, const char *path, mode_t perm)
{
	put(t, ent(path, AE_IFDIR | perm, 0, 0, 1500000000), NULL);
}

static void put_link(struct tb *t, const char *path, const char *target, int hard, mode_t perm)
{
	struct archive_entry *e = ent(path, (hard ? AE_IFREG : AE_IFLNK) | perm, 0, 0, 1600000000);
	if (hard)
		archive_entry_copy_hardlink(e, target);
	else
		archive_entry_copy_symlink(e, target);
	put(t, e, NULL);
}

/* Closes the archive; the layer fd, rewound. */
static int tb_done(struct tb *t)
{
	ck_assert_int_eq(archive_write_close(t->a), ARCHIVE_OK);
	archive_write_free(t->a);
	lseek(t->fd, 0, SEEK_SET);
	return t->fd;
}

static void sha256_fd(int fd, unsigned char out[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	char buf[65536];
	ssize_t n;
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		EVP_DigestUpdate(c, buf, (size_t)n);
	EVP_DigestFinal_ex(c, out, NULL);
	EVP_MD_CTX_free(c);
	lseek(fd, 0, SEEK_SET);
}

/* Runs `cmd < layer` into a new memfd (compression with the real tools). */
static int filter_fd(int in, const char *cmd)
{
	int out = memfd_create("z", MFD_CLOEXEC);
	char line[256];
	lseek(in, 0, SEEK_SET);
	snprintf(line, sizeof line, "(%s) </proc/%d/fd/%d >/proc/%d/fd/%d", cmd, getpid(), in, getpid(), out);
	ck_assert_int_eq(system(line), 0);
	lseek(out, 0, SEEK_SET);
	return out;
}

static int apply_lim(struct env *v, int fd, const struct extract_limits *lim, struct extract_result *res,
		     struct err *e)
{
	struct extract_result r;
	return extract_layer(fd, v->target, v->lower, 2, lim, NULL, NULL, res ? res : &r, e);
}

static int apply(struct env *v, int fd, struct err *e)
{
	return apply_lim(v, fd, NULL, NULL, e);
}

static void must_apply(struct env *v, int fd)
{
	struct err e = {0};
	int rc = apply(v, fd, &e);
	ck_assert_msg(rc == 0, "apply failed: %s", e.msg);
}

/* Applies the layer fd (from its start) to a new env without lowers, in
 * the calling thread only or with the pool. */
static void apply_alone(struct env *v, int fd, int single)
{
	env_init(v);
	struct extract_limits lim;
	extract_limits_default(&lim);
	lim.single_thread = single;
	struct extract_result r;
	struct err e = {0};
	lseek(fd, 0, SEEK_SET);
	ck_assert_msg(extract_layer(fd, v->target, NULL, 0, &lim, NULL, NULL, &r, &e) == 0, "%s", e.msg);
}

static void must_fail(struct env *v, int fd, int code, const char *needle)
{
	struct err e = {0};
	ck_assert_int_eq(apply(v, fd, &e), -1);
	ck_assert_msg(e.code == code, "code %d, want %d: %s", e.code, code, e.msg);
	ck_assert_msg(strstr(e.msg, needle), "message `%s` lacks `%s`", e.msg, needle);
	env_check_canary(v);
}

static struct stat lst(struct env *v, const char *path)
{
	struct stat st;
	ck_assert_msg(fstatat(v->target, path, &st, AT_SYMLINK_NOFOLLOW) == 0, "lstat %s: %m", path);
	return st;
}

static int exists(struct env *v, const char *path)
{
	struct stat st;
	return fstatat(v->target, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void file_is(struct env *v, const char *path, const char *want)
{
	char buf[256] = {0};
	int fd = openat(v->target, path, O_RDONLY | O_NOFOLLOW);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, buf, sizeof buf - 1), (ssize_t)strlen(want));
	close(fd);
	ck_assert_str_eq(buf, want);
}

static ssize_t xattr_of(struct env *v, const char *path, const char *name, char *buf, size_t n)
{
	char p[512];
	snprintf(p, sizeof p, "%s/target/%s", v->dir, path);
	return lgetxattr(p, name, buf, n);
}

/* The names of path's xattrs, sorted as the file system lists them. */
static ssize_t xattr_list(struct env *v, const char *path, char *buf, size_t n)
{
	char p[512];
	snprintf(p, sizeof p, "%s/target/%s", v->dir, path);
	return llistxattr(p, buf, n);
}

/* ---- entry types, metadata, digests ---------------------------------------- */

static int every_type_layer(void)
{
	struct tb t;
	tb_init(&t, 0);
	put(&t, ent("d/", AE_IFDIR | 0750, 7, 8, 1500000000), NULL);
	put(&t, ent("d/f", AE_IFREG | 0640, 1000, 1001, 1600000000), "hello\n");
	put(&t, ent("d/suid", AE_IFREG | 04755, 0, 0, 1600000000), "x");
	put_link(&t, "d/sym", "f", 0, 0777);
	struct archive_entry *e = ent("d/hard", AE_IFREG | 0640, 1000, 1001, 1600000000);
	archive_entry_copy_hardlink(e, "d/f"); /* the link's owner lands on the shared inode */
	put(&t, e, NULL);
	e = ent("d/null", AE_IFCHR | 0666, 0, 0, 1600000000);
	archive_entry_set_rdev(e, makedev(1, 3));
	put(&t, e, NULL);
	e = ent("d/blk", AE_IFBLK | 0660, 0, 6, 1600000000);
	archive_entry_set_rdev(e, makedev(8, 0));
	put(&t, e, NULL);
	put(&t, ent("d/fifo", AE_IFIFO | 0600, 3, 4, 1600000000), NULL);
	return tb_done(&t);
}

static void check_every_type(struct env *v)
{
	struct stat st = lst(v, "d");
	ck_assert_uint_eq(st.st_mode, S_IFDIR | 0750);
	ck_assert_uint_eq(st.st_uid, 7);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1500000000); /* directories' times last */
	ck_assert_int_eq(st.st_mtim.tv_nsec, 500);
	st = lst(v, "d/f");
	ck_assert_uint_eq(st.st_mode, S_IFREG | 0640);
	ck_assert_uint_eq(st.st_uid, 1000);
	ck_assert_uint_eq(st.st_gid, 1001);
	ck_assert_uint_eq(st.st_nlink, 2);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1600000000);
	ck_assert_int_eq(st.st_atim.tv_sec, 1600000000); /* atime = max(atime, mtime) */
	ck_assert_uint_eq(lst(v, "d/hard").st_ino, st.st_ino);
	file_is(v, "d/f", "hello\n");
	ck_assert_uint_eq(lst(v, "d/suid").st_mode, S_IFREG | 04755);
	ck_assert(S_ISLNK(lst(v, "d/sym").st_mode));
	char buf[16] = {0};
	ck_assert_int_eq(readlinkat(v->target, "d/sym", buf, sizeof buf), 1);
	st = lst(v, "d/null");
	ck_assert_uint_eq(st.st_mode, S_IFCHR | 0666);
	ck_assert_uint_eq(st.st_rdev, makedev(1, 3));
	st = lst(v, "d/blk");
	ck_assert_uint_eq(st.st_mode, S_IFBLK | 0660);
	ck_assert_uint_eq(st.st_gid, 6);
	ck_assert_uint_eq(st.st_rdev, makedev(8, 0));
	st = lst(v, "d/fifo");
	ck_assert_uint_eq(st.st_mode, S_IFIFO | 0600);
	ck_assert_uint_eq(st.st_uid, 3);
}

static void apply_every_type(const char *compress, int single_thread)
{
	struct env v;
	env_init(&v);
	int tar = every_type_layer();
	unsigned char want[32], wantc[32];
	sha256_fd(tar, want);
	struct stat tst;
	fstat(tar, &tst);
	int in = compress ? filter_fd(tar, compress) : tar;
	sha256_fd(in, wantc);
	struct extract_limits lim;
	extract_limits_default(&lim);
	lim.single_thread = single_thread;
	struct extract_result res;
	struct err e = {0};
	ck_assert_msg(apply_lim(&v, in, &lim, &res, &e) == 0, "%s", e.msg);
	check_every_type(&v);
	ck_assert_mem_eq(res.diff_id, want, 32);
	ck_assert_mem_eq(res.compressed_digest, wantc, 32);
	ck_assert_uint_eq(res.uncompressed_size, (uint64_t)tst.st_size);
	ck_assert_uint_eq(res.entries, 8);
	env_check_canary(&v);
}

START_TEST(every_type_plain)
{
	apply_every_type(NULL, 0);
}
END_TEST

START_TEST(every_type_gzip)
{
	apply_every_type("gzip -c", 0);
}
END_TEST

START_TEST(every_type_zstd)
{
	apply_every_type("zstd -q -c", 0);
}
END_TEST

START_TEST(every_type_single_thread)
{
	apply_every_type("gzip -1 -c", 1);
}
END_TEST

/* Without the compressed digest: the diff ID all the same, the digest zero. */
START_TEST(no_digest_keeps_the_diff_id)
{
	static const char *filters[] = {"zstd -q -c", NULL};
	for (int i = 0; i < 2; i++) {
		struct env v;
		env_init(&v);
		int tar = every_type_layer();
		unsigned char want[32], zero[32] = {0};
		sha256_fd(tar, want);
		int in = filters[i] ? filter_fd(tar, filters[i]) : tar;
		struct extract_limits lim;
		extract_limits_default(&lim);
		lim.no_digest = 1;
		struct extract_result res;
		struct err e = {0};
		ck_assert_msg(apply_lim(&v, in, &lim, &res, &e) == 0, "%s", e.msg);
		check_every_type(&v);
		ck_assert_mem_eq(res.diff_id, want, 32);
		/* an uncompressed layer's digest is its diff ID, which costs nothing */
		ck_assert_mem_eq(res.compressed_digest, filters[i] ? zero : want, 32);
	}
}
END_TEST

/* diff_id counts bytes after the tar end; several gzip members are one stream. */
START_TEST(trailing_bytes_and_gzip_members)
{
	struct env v;
	env_init(&v);
	struct tb t;
	tb_init(&t, 0);
	put_file(&t, "a", 0644, "a");
	int tar = tb_done(&t);
	lseek(tar, 0, SEEK_END);
	ck_assert_int_eq(write(tar, "junk after the end", 18), 18);
	unsigned char want[32];
	sha256_fd(tar, want);
	int gz = filter_fd(tar, "(dd bs=1000 count=1 status=none | gzip -c; cat | gzip -c)");
	struct extract_result res;
	struct err e = {0};
	ck_assert_msg(apply_lim(&v, gz, NULL, &res, &e) == 0, "%s", e.msg);
	ck_assert_mem_eq(res.diff_id, want, 32);
	file_is(&v, "a", "a");
}
END_TEST

START_TEST(empty_layer)
{
	struct env v;
	env_init(&v);
	int fd = memfd_create("empty", 0);
	unsigned char want[32];
	sha256_fd(fd, want);
	struct extract_result res;
	struct err e = {0};
	ck_assert_msg(apply_lim(&v, fd, NULL, &res, &e) == 0, "%s", e.msg);
	ck_assert_mem_eq(res.diff_id, want, 32);
	ck_assert_uint_eq(res.entries, 0);
}
END_TEST

/* ---- overlay semantics -------------------------------------------------- */

START_TEST(whiteouts_and_opaque_over_lower)
{
	struct env v;
	env_init(&v);
	ck_assert_int_eq(mkdirat(v.lower[0], "etc", 0700), 0);
	ck_assert_int_eq(fchownat(v.lower[0], "etc", 5, 6, 0), 0);
	ck_assert_int_eq(mkdirat(v.lower[0], "usr", 0755), 0);
	struct tb t;
	tb_init(&t, 0);
	put(&t, ent("etc/.wh.passwd", AE_IFREG | 0644, 9, 10, 1600000000), NULL);
	put_dir(&t, "usr/", 0755);
	put_file(&t, "usr/.wh..wh..opq", 0644, NULL);
	put_file(&t, "usr/new", 0644, "n");
	must_apply(&v, tb_done(&t));
	struct stat st = lst(&v, "etc/passwd");
	ck_assert_uint_eq(st.st_mode, S_IFCHR);
	ck_assert_uint_eq(st.st_rdev, makedev(0, 0));
	ck_assert_uint_eq(st.st_uid, 9); /* owned as the entry says */
	ck_assert_uint_eq(st.st_gid, 10);
	ck_assert(!exists(&v, "etc/.wh.passwd"));
	st = lst(&v, "etc"); /* inherited from the lower */
	ck_assert_uint_eq(st.st_mode, S_IFDIR | 0700);
	ck_assert_uint_eq(st.st_uid, 5);
	char buf[4];
	ck_assert_int_eq(xattr_of(&v, "usr", "trusted.overlay.opaque", buf, sizeof buf), 1);
	ck_assert_int_eq(buf[0], 'y');
	ck_assert(!exists(&v, "usr/.wh..wh..opq"));
	file_is(&v, "usr/new", "n");
	env_check_canary(&v);
}
END_TEST

START_TEST(parents_from_nearest_lower)
{
	struct env v;
	env_init(&v);
	/* a: both lowers, nearest wins; b: only the farther; c: a file in the
	 * nearest hides the farther's directory (defaults); s: a symlink in the
	 * lower resolved inside that lower, as fs.RootPath does. */
	ck_assert_int_eq(mkdirat(v.lower[0], "a", 0711), 0);
	ck_assert_int_eq(fchownat(v.lower[0], "a", 11, 12, 0), 0);
	ck_assert_int_eq(fsetxattr(v.lower[0], "user.x", "1", 1, 0), 0); /* on lower0 itself: not copied */
	int a = openat(v.lower[0], "a", O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(fsetxattr(a, "user.kept", "v", 1, 0), 0);
	ck_assert_int_eq(fsetxattr(a, "trusted.skipped", "v", 1, 0), 0);
	struct timespec ts[2] = {{111, 0}, {222, 0}};
	futimens(a, ts);
	close(a);
	ck_assert_int_eq(mkdirat(v.lower[1], "a", 0700), 0);
	ck_assert_int_eq(mkdirat(v.lower[1], "b", 01701), 0);
	ck_assert_int_eq(fchmodat(v.lower[1], "b", 01701, 0), 0);
	close(openat(v.lower[0], "c", O_CREAT | O_WRONLY, 0600));
	ck_assert_int_eq(mkdirat(v.lower[1], "c", 0700), 0);
	ck_assert_int_eq(mkdirat(v.lower[0], "real", 0750), 0);
	ck_assert_int_eq(symlinkat("/real", v.lower[0], "s"), 0);
	struct tb t;
	tb_init(&t, 0);
	put_file(&t, "a/x/f", 0644, "f");
	put_file(&t, "b/f", 0644, "f");
	put_file(&t, "c/f", 0644, "f");
	put_file(&t, "s/f", 0644, "f");
	must_apply(&v, tb_done(&t));
	struct stat st = lst(&v, "a");
	ck_assert_uint_eq(st.st_mode, S_IFDIR | 0711);
	ck_assert_uint_eq(st.st_uid, 11);
	ck_assert_uint_eq(st.st_gid, 12);
	ck_assert_int_eq(st.st_atim.tv_sec, 111);
	char buf[8];
	ck_assert_int_eq(xattr_of(&v, "a", "user.kept", buf, sizeof buf), 1);
	ck_assert_int_eq(xattr_of(&v, "a", "trusted.skipped", buf, sizeof buf), -1);
	ck_assert_uint_eq(lst(&v, "a/x").st_mode, S_IFDIR | 0755);
	ck_assert_uint_eq(lst(&v, "b").st_mode, S_IFDIR | 01701);
	ck_assert_uint_eq(lst(&v, "c").st_mode, S_IFDIR | 0755);
	ck_assert_uint_eq(lst(&v, "s").st_mode, S_IFDIR | 0750);
	env_check_canary(&v);
}
END_TEST

/* A directory entry for a directory a lower has is made afresh, as
 * containerd makes it in the upperdir: the entry's owner, mode and xattrs
 * only, which hide the lower's in the overlay. A directory the layer made
 * as a parent first (its child came before it) keeps what it inherited. */
START_TEST(dir_entry_over_lower_is_its_own)
{
	struct env v;
	env_init(&v);
	const char *dirs[] = {"d", "e"};
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(mkdirat(v.lower[0], dirs[i], 0700), 0);
		ck_assert_int_eq(fchownat(v.lower[0], dirs[i], 5, 6, 0), 0);
		int fd = openat(v.lower[0], dirs[i], O_RDONLY | O_DIRECTORY);
		ck_assert_int_eq(fsetxattr(fd, "user.low", "l", 1, 0), 0);
		ck_assert_int_eq(fsetxattr(fd, "user.over", "l", 1, 0), 0);
		close(fd);
	}
	struct tb t;
	tb_init(&t, 0);
	struct archive_entry *d = ent("d/", AE_IFDIR | 0751, 1, 2, 1600000000);
	archive_entry_xattr_add_entry(d, "user.over", "u", 1);
	put(&t, d, NULL);
	put_file(&t, "e/child", 0644, "c");
	put_dir(&t, "e/", 0750);
	must_apply(&v, tb_done(&t));
	struct stat st = lst(&v, "d");
	ck_assert_uint_eq(st.st_mode, S_IFDIR | 0751);
	ck_assert_uint_eq(st.st_uid, 1);
	char buf[8];
	ck_assert_int_eq(xattr_of(&v, "d", "user.low", buf, sizeof buf), -1);
	ck_assert_int_eq(xattr_of(&v, "d", "user.over", buf, sizeof buf), 1);
	ck_assert_int_eq(buf[0], 'u');
	st = lst(&v, "e");
	ck_assert_uint_eq(st.st_mode, S_IFDIR | 0750);
	ck_assert_uint_eq(st.st_uid, 0); /* the entry's owner */
	ck_assert_int_eq(xattr_of(&v, "e", "user.low", buf, sizeof buf), 1);
	env_check_canary(&v);
}
END_TEST

/* The lowers of rebase_equals_apply_over_lowers: directories with owners,
 * modes and xattrs, one a file in the nearer lower. */
static void rebase_lowers(struct env *v)
{
	static const struct {
		int lower;
		const char *path;
		mode_t mode;
		const char *xattr;
	} dirs[] = {
	    {0, "a", 0711, "user.a"}, {1, "a", 0700, "user.far"},     {1, "b", 0750, "user.b"},
	    {1, "b/c", 02770, NULL},  {0, "late", 0701, "user.late"}, {0, "q", 0750, "user.q"},
	    {0, "d", 0700, "user.d"},
	};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		int l = v->lower[dirs[i].lower];
		ck_assert_int_eq(mkdirat(l, dirs[i].path, 0700), 0);
		ck_assert_int_eq(fchownat(l, dirs[i].path, 10 + (int)i, 20 + (int)i, 0), 0);
		ck_assert_int_eq(fchmodat(l, dirs[i].path, dirs[i].mode, 0), 0);
		int fd = openat(l, dirs[i].path, O_RDONLY | O_DIRECTORY);
		if (dirs[i].xattr)
			ck_assert_int_eq(fsetxattr(fd, dirs[i].xattr, "v", 1, 0), 0);
		struct timespec ts[2] = {{100, 0}, {200 + (time_t)i, 0}};
		futimens(fd, ts);
		close(fd);
	}
	close(openat(v->lower[0], "f", O_CREAT | O_WRONLY, 0600));
	ck_assert_int_eq(mkdirat(v->lower[1], "f", 0700), 0);
}

static int rebase_layer(void)
{
	struct tb t;
	tb_init(&t, 0);
	put_file(&t, "a/x/f", 0644, "f");	    /* parents through two levels */
	put_file(&t, "b/c/f", 0644, "f");	    /* b only in the farther lower */
	put_file(&t, "f/g", 0644, "g");		    /* the nearer has a file: defaults */
	put_file(&t, "late/child", 0644, "c");	    /* a parent first, */
	put_dir(&t, "late/", 0755);		    /* then its entry */
	put_file(&t, "q/.wh..wh..opq", 0644, NULL); /* an opaque parent: nothing written in it */
	put_file(&t, "d/.wh.gone", 0644, NULL);	    /* a whiteout in a parent */
	return tb_done(&t);
}

static void same_dir(struct env *a, struct env *b, const char *path)
{
	struct stat sa = lst(a, path), sb = lst(b, path);
	ck_assert_msg(sa.st_mode == sb.st_mode, "%s: mode %o, rebased %o", path, sa.st_mode, sb.st_mode);
	ck_assert_msg(sa.st_uid == sb.st_uid && sa.st_gid == sb.st_gid, "%s: owner", path);
	if (!strcmp(path, "q"))
		ck_assert_int_eq(sb.st_mtim.tv_sec, sa.st_mtim.tv_sec); /* the lower's */
	char la[256] = {0}, lb[256] = {0};
	ssize_t na = xattr_list(a, path, la, sizeof la), nb = xattr_list(b, path, lb, sizeof lb);
	ck_assert_msg(na == nb, "%s: xattr names differ", path);
	for (char *k = la; k < la + na; k += strlen(k) + 1) { /* the same set, in any order */
		char va[64] = {0}, vb[64] = {0};
		ssize_t ra = xattr_of(a, path, k, va, sizeof va), rb = xattr_of(b, path, k, vb, sizeof vb);
		ck_assert_msg(ra >= 0 && ra == rb && !memcmp(va, vb, (size_t)ra), "%s: xattr %s", path, k);
	}
}

START_TEST(rebase_equals_apply_over_lowers)
{
	struct env seq, par;
	env_init(&seq);
	env_init(&par);
	rebase_lowers(&seq);
	rebase_lowers(&par);
	must_apply(&seq, rebase_layer());
	struct extract_limits lim;
	extract_limits_default(&lim);
	lim.rebase = 1;
	struct extract_result res;
	struct err e = {0};
	ck_assert_msg(extract_layer(rebase_layer(), par.target, NULL, 0, &lim, NULL, NULL, &res, &e) == 0,
		      "%s", e.msg);
	char buf[4];
	ck_assert_int_eq(xattr_of(&par, "a/x", "trusted.strata.parent", buf, sizeof buf), 1);
	ck_assert_int_eq(xattr_of(&par, "late", "trusted.strata.parent", buf, sizeof buf), 1);
	ck_assert_int_eq(buf[0], 'x');
	ck_assert(S_ISCHR(lst(&par, "d/gone").st_mode)); /* converted, as over lowers */
	ck_assert_msg(extract_rebase(par.target, par.lower, 2, &lim, &e) == 0, "%s", e.msg);
	const char *dirs[] = {"a", "a/x", "b", "b/c", "f", "late", "q", "d"};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		same_dir(&seq, &par, dirs[i]);
		ck_assert_int_eq(xattr_of(&par, dirs[i], "trusted.strata.parent", buf, sizeof buf), -1);
	}
	env_check_canary(&par);
}
END_TEST

START_TEST(hardlink_chains)
{
	struct env v;
	env_init(&v);
	struct tb t;
	tb_init(&t, 0);
	put_file(&t, "f", 0600, "data");
	put_link(&t, "l1", "f", 1, 0600);
	put_link(&t, "sub/l2", "l1", 1, 0640);
	put_link(&t, "l3", "./sub/../sub/l2", 1, 0644); /* `..` that stays inside: cleaned */
	must_apply(&v, tb_done(&t));
	struct stat st = lst(&v, "f");
	ck_assert_uint_eq(st.st_nlink, 4);
	ck_assert_uint_eq(lst(&v, "sub/l2").st_ino, st.st_ino);
	ck_assert_uint_eq(lst(&v, "l3").st_ino, st.st_ino);
	ck_assert_uint_eq(st.st_mode, S_IFREG | 0644); /* the last link's mode, as containerd */
	file_is(&v, "l3", "data");
}
END_TEST

START_TEST(long_pax_names_and_xattrs)
{
	struct env v;
	env_init(&v);
	char path[400];
	strcpy(path, "long");
	while (strlen(path) < 300)
		strcat(path, "/abcdefghijklmnopqrstuvwxyz0123456789");
	strcat(path, "/caf\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac"); /* UTF-8, kept as bytes */
	struct tb t;
	tb_init(&t, 0);
	struct archive_entry *e = ent(path, AE_IFREG | 0644, 0, 0, 1600000000);
	archive_entry_xattr_add_entry(e, "user.mime", "text/plain", 10);
	archive_entry_xattr_add_entry(
	    e, "security.capability",
	    "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
	archive_entry_xattr_add_entry(e, "trusted.ignored", "x", 1); /* containerd ignores trusted.* */
	put(&t, e, "long");
	int fd = tb_done(&t);
	must_apply(&v, fd);
	file_is(&v, path, "long");
	char buf[32];
	ck_assert_int_eq(xattr_of(&v, path, "user.mime", buf, sizeof buf), 10);
	ck_assert_int_eq(xattr_of(&v, path, "security.capability", buf, sizeof buf), 20);
	ck_assert_int_eq(xattr_of(&v, path, "trusted.ignored", buf, sizeof buf), -1);

	/* strip_caps: no capability xattr, no setuid bit */
	struct env v2;
	env_init(&v2);
	struct tb t2;
	tb_init(&t2, 0);
	e = ent("ping", AE_IFREG | 04755, 0, 0, 1600000000);
	archive_entry_xattr_add_entry(
	    e, "security.capability",
	    "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
	put(&t2, e, "p");
	struct extract_limits lim;
	extract_limits_default(&lim);
	lim.strip_caps = 1;
	struct err er = {0};
	ck_assert_msg(apply_lim(&v2, tb_done(&t2), &lim, NULL, &er) == 0, "%s", er.msg);
	ck_assert_uint_eq(lst(&v2, "ping").st_mode, S_IFREG | 0755);
	ck_assert_int_eq(xattr_of(&v2, "ping", "security.capability", buf, sizeof buf), -1);
}
END_TEST

START_TEST(replacing_entries)
{
	struct env v;
	env_init(&v);
	struct tb t;
	tb_init(&t, 0);
	put_file(&t, "a", 0644, "file");
	put_dir(&t, "a", 0700); /* file -> dir */
	put_dir(&t, "b", 0755);
	put_file(&t, "b/c/d/e", 0644, "deep");
	put_file(&t, "b", 0600, "now a file"); /* non-empty dir -> file */
	put_dir(&t, "m", 0755);
	put_file(&t, "m/keep", 0644, "k");
	put(&t, ent("m", AE_IFDIR | 0711, 3, 3, 1400000000), NULL); /* dir over dir: merged */
	put_file(&t, "s", 0644, "x");
	put_link(&t, "s", "/etc/passwd", 0, 0777); /* file -> symlink */
	must_apply(&v, tb_done(&t));
	ck_assert_uint_eq(lst(&v, "a").st_mode, S_IFDIR | 0700);
	file_is(&v, "b", "now a file");
	struct stat st = lst(&v, "m");
	ck_assert_uint_eq(st.st_mode, S_IFDIR | 0711);
	ck_assert_uint_eq(st.st_uid, 3);
	ck_assert_int_eq(st.st_mtim.tv_sec, 1400000000); /* the last header's times */
	file_is(&v, "m/keep", "k");
	ck_assert(S_ISLNK(lst(&v, "s").st_mode));
	env_check_canary(&v);
}
END_TEST

/* chown and chmod are skipped only where they would change nothing: a
 * setgid parent gives new entries its group and new directories S_ISGID,
 * a default ACL masks the mode an entry is created with, and an entry's
 * own ACL changes its mode after it is created. */
START_TEST(owners_and_modes_as_the_entries_say)
{
	/* ACL_USER_OBJ rwx, ACL_GROUP_OBJ r-x, ACL_MASK r-x, ACL_OTHER r-x */
	static const unsigned char acl[] = {
	    2,	  0,	0,    0, 1, 0, 7,    0,	   0xff, 0xff, 0xff, 0xff, 4, 0, 5,    0,    0xff, 0xff,
	    0xff, 0xff, 0x10, 0, 5, 0, 0xff, 0xff, 0xff, 0xff, 0x20, 0,	   5, 0, 0xff, 0xff, 0xff, 0xff};
	struct tb t;
	struct archive_entry *e;
	tb_init(&t, 0);
	put(&t, ent("g/", AE_IFDIR | 02775, 0, 5, 1500000000), NULL);
	put(&t, ent("g/f", AE_IFREG | 0644, 0, 0, 1600000000), "f");
	put(&t, ent("g/h", AE_IFREG | 0644, 0, 5, 1600000000), "h");
	put(&t, ent("g/sub/", AE_IFDIR | 0755, 0, 0, 1500000000), NULL);
	put(&t, ent("g/sub5/", AE_IFDIR | 0755, 0, 5, 1500000000), NULL);
	e = ent("g/sym", AE_IFLNK | 0777, 0, 0, 1600000000);
	archive_entry_copy_symlink(e, "f");
	put(&t, e, NULL);
	put(&t, ent("a/", AE_IFDIR | 0755, 0, 0, 1500000000), NULL);
	put(&t, ent("a/f1", AE_IFREG | 0644, 0, 0, 1600000000), "1");
	put(&t, ent("a/", AE_IFDIR | 02755, 0, 5, 1500000000), NULL);
	put(&t, ent("a/f2", AE_IFREG | 0644, 0, 0, 1600000000), "2");
	e = ent("acl/", AE_IFDIR | 0755, 0, 0, 1500000000);
	archive_entry_xattr_add_entry(e, "system.posix_acl_default", acl, sizeof acl);
	put(&t, e, NULL);
	put(&t, ent("acl/f", AE_IFREG | 0777, 0, 0, 1600000000), "x");
	put(&t, ent("acl/d/", AE_IFDIR | 0777, 0, 0, 1500000000), NULL);
	e = ent("own", AE_IFREG | 0777, 0, 0, 1600000000);
	archive_entry_xattr_add_entry(e, "system.posix_acl_access", acl, sizeof acl);
	put(&t, e, "o");
	int fd = tb_done(&t);
	for (int single = 0; single < 2; single++) {
		struct env v;
		apply_alone(&v, fd, single);
		ck_assert_uint_eq(lst(&v, "g").st_mode, S_IFDIR | 02775);
		ck_assert_uint_eq(lst(&v, "g/f").st_gid, 0);
		ck_assert_uint_eq(lst(&v, "g/h").st_gid, 5);
		struct stat st = lst(&v, "g/sub");
		ck_assert_uint_eq(st.st_mode, S_IFDIR | 0755);
		ck_assert_uint_eq(st.st_gid, 0);
		st = lst(&v, "g/sub5");
		ck_assert_uint_eq(st.st_mode, S_IFDIR | 0755);
		ck_assert_uint_eq(st.st_gid, 5);
		ck_assert_uint_eq(lst(&v, "g/sym").st_gid, 0);
		ck_assert_uint_eq(lst(&v, "a").st_mode, S_IFDIR | 02755);
		ck_assert_uint_eq(lst(&v, "a/f1").st_gid, 0);
		ck_assert_uint_eq(lst(&v, "a/f2").st_gid, 0);
		char buf[64];
		ck_assert_int_eq(xattr_of(&v, "acl", "system.posix_acl_default", buf, sizeof buf),
				 (ssize_t)sizeof acl);
		ck_assert_uint_eq(lst(&v, "acl/f").st_mode, S_IFREG | 0777);
		ck_assert_uint_eq(lst(&v, "acl/d").st_mode, S_IFDIR | 0777);
		ck_assert_uint_eq(lst(&v, "own").st_mode, S_IFREG | 0777);
		env_check_canary(&v);
	}
	close(fd);
}
END_TEST

START_TEST(sparse_file_has_holes)
{
	struct env v;
	env_init(&v);
	struct tb t;
	tb_init(&t, 0);
	struct archive_entry *e = ent("sparse", AE_IFREG | 0644, 0, 0, 1600000000);
	archive_entry_set_size(e, 64 << 20);
	archive_entry_sparse_add_entry(e, 0, 4096);
	archive_entry_sparse_add_entry(e, 32 << 20, 4096);
	ck_assert_int_eq(archive_write_header(t.a, e), ARCHIVE_OK);
	/* the writer takes the logical contents and drops the holes */
	char *blk = xcalloc(1, 1 << 20);
	for (int i = 0; i < 64; i++) {
		memset(blk, 0, 4096);
		if (i == 0)
			memset(blk, 'A', 4096);
		if (i == 32)
			memset(blk, 'B', 4096);
		ck_assert_int_eq(archive_write_data(t.a, blk, 1 << 20), 1 << 20);
	}
	free(blk);
	archive_entry_free(e);
	must_apply(&v, tb_done(&t));
	struct stat st = lst(&v, "sparse");
	ck_assert_int_eq(st.st_size, 64 << 20);
	ck_assert_int_lt(st.st_blocks * 512, 1 << 20); /* holes, not 64 MiB of zeros */
	int fd = openat(v.target, "sparse", O_RDONLY);
	char c;
	ck_assert_int_eq(pread(fd, &c, 1, 100), 1);
	ck_assert_int_eq(c, 'A');
	ck_assert_int_eq(pread(fd, &c, 1, (32 << 20) + 5), 1);
	ck_assert_int_eq(c, 'B');
	ck_assert_int_eq(pread(fd, &c, 1, 16 << 20), 1);
	ck_assert_int_eq(c, 0);
	close(fd);
}
END_TEST

/* ---- limits ------------------------------------------------------------- */

/* ---- the writer pool: the result of applying in order ------------------- */

/* Random layers over a small name space, so that entries collide: files
 * small and large (queued to the pool's threads or written in order),
 * directories, symlinks, hardlinks, whiteouts, opaque markers, over lowers
 * whose directories the layer's parents inherit.  Applied once in the
 * calling thread alone and once with the pool, the two must both fail or
 * give the same tree. */
static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*s >> 33);
}

/* A directory (a, b, c, d; one or two deep) or, with leaf, a name in one
 * (f to k). */
static void random_path(uint64_t *s, char *out, int leaf)
{
	static const char *dirs[] = {"a", "b", "c", "d"}, *leaves[] = {"f", "g", "h", "i", "j", "k"};
	strcpy(out, dirs[rnd(s) % 4]);
	if (rnd(s) % 2) {
		strcat(out, "/");
		strcat(out, dirs[rnd(s) % 4]);
	}
	if (leaf) {
		strcat(out, "/");
		strcat(out, leaves[rnd(s) % 6]);
	}
}

static char g_data[320 * 1024 + 1];

/* naive: for a target without lowers, where whiteouts remove (trees too). */
static int random_layer(uint64_t seed, int naive)
{
	uint64_t s = seed;
	struct tb t;
	tb_init(&t, 0);
	char path[64], other[96], files[300][64];
	size_t nfiles = 0;
	static const mode_t modes[] = {0644, 0755, 0600, 04755, 0700};
	for (int i = 0; i < 300; i++) {
		uint32_t kind = rnd(&s) % 100;
		/* now and then a file or link where directories are */
		random_path(&s, path, rnd(&s) % 400 != 0);
		mode_t mode = modes[rnd(&s) % 5];
		int uid = (int)(rnd(&s) % 3);
		if (kind < 65) {
			uint32_t k = rnd(&s) % 100;
			size_t n = k < 70 ? rnd(&s) % 4096 : k < 95 ? rnd(&s) % 65536 : 300 * 1024;
			for (size_t j = 0; j < n; j++)
				g_data[j] = (char)('a' + rnd(&s) % 26);
			g_data[n] = '\0';
			struct archive_entry *e = ent(path, AE_IFREG | mode, uid, uid, 1600000000 + i);
			if (kind < 8)
				archive_entry_xattr_add_entry(e, "user.k", path, strlen(path));
			put(&t, e, g_data);
			strcpy(files[nfiles++], path);
		} else if (kind < 80) {
			random_path(&s, path, 0);
			put(&t, ent(path, AE_IFDIR | (mode & 0777), uid, uid, 1500000000 + i), NULL);
		} else if (kind < 87) {
			random_path(&s, other, 1);
			struct archive_entry *e = ent(path, AE_IFLNK | 0777, uid, uid, 1600000000 + i);
			archive_entry_copy_symlink(e, other);
			put(&t, e, NULL);
		} else if (kind < (naive ? 92 : 96)) {
			const char *to =
			    nfiles ? files[nfiles - 1 - rnd(&s) % (nfiles < 8 ? nfiles : 8)] : path;
			if (strcmp(to, path)) /* a link to itself fails, rightly; rarely, please */
				put_link(&t, path, to, 1, mode);
		} else if (kind < (naive ? 99 : 98)) {
			/* mostly names nothing else uses: a whiteout over an entry
			 * of the layer fails (mknod), as in containerd */
			char *slash = strrchr(path, '/');
			char x[16];
			snprintf(x, sizeof x, "x%d", i);
			const char *victim = slash ? slash + 1 : path;
			if (naive && rnd(&s) % 2) { /* a directory, maybe not empty */
				random_path(&s, path, 0);
				slash = strrchr(path, '/');
				victim = slash ? slash + 1 : path;
			} else if (!naive && rnd(&s) % 8) {
				victim = x;
			}
			snprintf(other, sizeof other, "%.*s.wh.%s", slash ? (int)(slash - path + 1) : 0, path,
				 victim);
			put(&t, ent(other, AE_IFREG | 0644, 0, 0, 1600000000), NULL);
		} else {
			random_path(&s, path, 0);
			snprintf(other, sizeof other, "%s/.wh..wh..opq", path);
			put(&t, ent(other, AE_IFREG | 0644, 0, 0, 1600000000), NULL);
		}
	}
	return tb_done(&t);
}

/* lower0 has a/ and b/c/ with an owner, mode and xattr of their own. */
static void random_lowers(struct env *v)
{
	ck_assert_int_eq(mkdirat(v->lower[0], "a", 0700), 0);
	ck_assert_int_eq(mkdirat(v->lower[0], "b", 0750), 0);
	ck_assert_int_eq(mkdirat(v->lower[0], "b/c", 0711), 0);
	ck_assert_int_eq(fchownat(v->lower[0], "b/c", 7, 8, 0), 0);
	int fd = openat(v->lower[0], "a", O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(fsetxattr(fd, "user.lower", "0", 1, 0), 0);
	close(fd);
}

static int g_cmp_b = -1;
static size_t g_cmp_n;

static int same_entry(const char *p, const struct stat *a, int flag, struct FTW *f)
{
	(void)flag, (void)f;
	if (!strcmp(p, "."))
		return 0;
	g_cmp_n++;
	struct stat b;
	ck_assert_msg(fstatat(g_cmp_b, p, &b, AT_SYMLINK_NOFOLLOW) == 0, "`%s` missing with the pool", p);
	ck_assert_msg(a->st_mode == b.st_mode && a->st_uid == b.st_uid && a->st_gid == b.st_gid &&
			  a->st_nlink == b.st_nlink && a->st_rdev == b.st_rdev &&
			  (S_ISDIR(a->st_mode) || a->st_size == b.st_size),
		      "`%s` differs: mode %o/%o uid %u/%u nlink %lu/%lu size %lld/%lld", p, a->st_mode,
		      b.st_mode, a->st_uid, b.st_uid, (unsigned long)a->st_nlink, (unsigned long)b.st_nlink,
		      (long long)a->st_size, (long long)b.st_size);
	/* directories the layer does not carry and whiteouts get the apply's
	 * time */
	if (!S_ISDIR(a->st_mode) && !(S_ISCHR(a->st_mode) && !a->st_rdev))
		ck_assert_msg(a->st_mtim.tv_sec == b.st_mtim.tv_sec, "`%s`: mtime differs", p);
	char la[65536], lb[65536];
	if (S_ISLNK(a->st_mode)) {
		ssize_t na = readlink(p, la, sizeof la), nb = readlinkat(g_cmp_b, p, lb, sizeof lb);
		ck_assert_msg(na == nb && !memcmp(la, lb, (size_t)na), "`%s`: link target differs", p);
		return 0;
	}
	ssize_t na = llistxattr(p, la, sizeof la);
	for (ssize_t off = 0; off < na; off += (ssize_t)strlen(la + off) + 1) {
		char va[256], vb[256], pb[4096];
		snprintf(pb, sizeof pb, "/proc/self/fd/%d/%s", g_cmp_b, p);
		ssize_t x = lgetxattr(p, la + off, va, sizeof va), y = lgetxattr(pb, la + off, vb, sizeof vb);
		ck_assert_msg(x == y && (x < 0 || !memcmp(va, vb, (size_t)x)), "`%s`: xattr %s differs", p,
			      la + off);
	}
	ck_assert_int_eq(na, llistxattr(p, lb, sizeof lb) >= 0 ? na : -2);
	if (S_ISREG(a->st_mode) && a->st_size) {
		int fa = open(p, O_RDONLY), fb = openat(g_cmp_b, p, O_RDONLY);
		ck_assert_msg(fa >= 0 && fb >= 0, "`%s`: open", p);
		for (ssize_t ra, rb; (ra = read(fa, la, sizeof la)) > 0;) {
			rb = read(fb, lb, sizeof lb);
			ck_assert_msg(ra == rb && !memcmp(la, lb, (size_t)ra), "`%s`: content differs", p);
		}
		close(fa);
		close(fb);
	}
	return 0;
}

static size_t count_one;
static int count_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	count_one += strcmp(p, ".") != 0;
	return 0;
}

START_TEST(pool_equals_sequential)
{
	int both_ok = 0, both_failed = 0;
	for (uint64_t seed = 1; seed <= 40; seed++) {
		struct env seq, par;
		env_init(&seq);
		env_init(&par);
		random_lowers(&seq);
		random_lowers(&par);
		int naive = seed % 2; /* no lowers: whiteouts remove */
		int layer = random_layer(seed, naive);
		struct extract_limits lim;
		extract_limits_default(&lim);
		lim.single_thread = 1;
		struct err es = {0}, ep = {0};
		struct extract_result r;
		int rs =
		    extract_layer(layer, seq.target, seq.lower, naive ? 0 : 2, &lim, NULL, NULL, &r, &es);
		lseek(layer, 0, SEEK_SET);
		lim.single_thread = 0;
		int rp =
		    extract_layer(layer, par.target, par.lower, naive ? 0 : 2, &lim, NULL, NULL, &r, &ep);
		close(layer);
		ck_assert_msg(rs == rp, "seed %llu: in order %d (%s), with the pool %d (%s)",
			      (unsigned long long)seed, rs, es.msg, rp, ep.msg);
		if (rs < 0) {
			both_failed++;
			continue;
		}
		both_ok++;
		int cwd = open(".", O_RDONLY | O_DIRECTORY);
		ck_assert_int_eq(fchdir(seq.target), 0);
		g_cmp_b = par.target;
		g_cmp_n = count_one = 0;
		nftw(".", same_entry, 16, FTW_PHYS);
		ck_assert_int_eq(fchdir(par.target), 0);
		nftw(".", count_entry, 16, FTW_PHYS);
		ck_assert_int_eq(fchdir(cwd), 0);
		close(cwd);
		ck_assert_msg(g_cmp_n == count_one, "seed %llu: %zu entries in order, %zu with the pool",
			      (unsigned long long)seed, g_cmp_n, count_one);
		ck_assert_uint_gt(g_cmp_n, 5);
	}
	/* The generator must give both kinds, or the test proves little. */
	ck_assert_int_gt(both_ok, 5);
	ck_assert_int_gt(both_failed, 0);
}
END_TEST

/* a's tree equals b's, entry by entry (same_entry), and has more than
 * `min` entries. */
static void trees_equal(int a, int b, size_t min)
{
	int cwd = open(".", O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(fchdir(a), 0);
	g_cmp_b = b;
	g_cmp_n = count_one = 0;
	nftw(".", same_entry, 16, FTW_PHYS);
	ck_assert_int_eq(fchdir(b), 0);
	nftw(".", count_entry, 16, FTW_PHYS);
	ck_assert_int_eq(fchdir(cwd), 0);
	close(cwd);
	ck_assert_msg(g_cmp_n == count_one, "%zu entries against %zu", g_cmp_n, count_one);
	ck_assert_uint_gt(g_cmp_n, min);
}

/* in, from where it is, to out: 0, or -1. */
static int copy_fd(int in, int out)
{
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write_all(out, buf, (size_t)n) < 0)
			return -1;
	return n < 0 ? -1 : 0;
}

/* A layer of several mapping windows: small files, and files that cross
 * the windows' boundaries. */
static int windows_layer(void)
{
	struct tb t;
	tb_init(&t, 0);
	put_dir(&t, "d", 0755);
	char name[64];
	size_t big = (3u << 20) + 1000;
	char *data = xmalloc(big + 1);
	uint32_t x = 12345;
	for (size_t i = 0; i < big; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (char)('a' + (x >> 16) % 26);
	}
	data[big] = '\0';
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof name, "d/f%03d", i);
		data[(size_t)i * 37 + 100] = '\0';
		put_file(&t, name, 0644, data + i);
		data[(size_t)i * 37 + 100] = 'q';
	}
	put_file(&t, "d/big", 0600, data);
	data[(900u << 10) + 7] = '\0';
	put_file(&t, "d/mid", 0644, data + 3);
	free(data);
	return tb_done(&t);
}

/* A layer read from a file, from a file at another offset, or from a pipe
 * gives the same tree, diff ID, digest and sizes, plain and compressed. */
START_TEST(file_offset_and_pipe_agree)
{
	static const char *filters[] = {NULL, "gzip -c", "zstd -q -c"};
	/* a file from its start; from offset 512 (garbage before); a pipe */
	enum { FROM_START, FROM_512, PIPE };
	static const int modes[] = {FROM_START, FROM_512, PIPE};
	int tar = windows_layer();
	unsigned char want[32], wantc[32];
	sha256_fd(tar, want);
	struct stat tst, cst;
	fstat(tar, &tst);
	for (size_t f = 0; f < ARRAY_SIZE(filters); f++) {
		int in = filters[f] ? filter_fd(tar, filters[f]) : tar;
		sha256_fd(in, wantc);
		fstat(in, &cst);
		struct env first = {0};
		for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
			struct env v;
			env_init(&v);
			struct extract_limits lim;
			extract_limits_default(&lim);
			int fd = in;
			pid_t child = -1;
			if (modes[m] == FROM_512) {
				/* the same bytes after 512 of garbage, read from 512 */
				fd = memfd_create("offset", MFD_CLOEXEC);
				char junk[512];
				memset(junk, 0x5a, sizeof junk);
				ck_assert_int_eq(write(fd, junk, sizeof junk), 512);
				lseek(in, 0, SEEK_SET);
				ck_assert_int_eq(copy_fd(in, fd), 0);
				lseek(fd, 512, SEEK_SET);
			} else if (modes[m] == PIPE) {
				int p[2];
				ck_assert_int_eq(pipe(p), 0);
				child = fork();
				if (child == 0) {
					close(p[0]);
					lseek(in, 0, SEEK_SET);
					_exit(copy_fd(in, p[1]) == 0 ? 0 : 1);
				}
				close(p[1]);
				fd = p[0];
			} else {
				lseek(in, 0, SEEK_SET);
			}
			struct extract_result res;
			struct err e = {0};
			ck_assert_msg(extract_layer(fd, v.target, NULL, 0, &lim, NULL, NULL, &res, &e) == 0,
				      "%s, mode %zu: %s", filters[f] ? filters[f] : "plain", m, e.msg);
			if (child > 0) {
				int status;
				ck_assert_int_eq(waitpid(child, &status, 0), child);
				ck_assert_int_eq(status, 0);
			}
			if (fd != in)
				close(fd);
			ck_assert_msg(!memcmp(res.diff_id, want, 32), "%s, mode %zu: diff ID",
				      filters[f] ? filters[f] : "plain", m);
			ck_assert_msg(!memcmp(res.compressed_digest, wantc, 32), "%s, mode %zu: digest",
				      filters[f] ? filters[f] : "plain", m);
			ck_assert_uint_eq(res.uncompressed_size, (uint64_t)tst.st_size);
			ck_assert_uint_eq(res.compressed_size, (uint64_t)cst.st_size);
			ck_assert_uint_eq(res.entries, 303);
			if (m == 0)
				first = v;
			else
				trees_equal(first.target, v.target, 300);
		}
		if (in != tar)
			close(in);
	}
}
END_TEST

/* Writer jobs write small files from the stream's blocks in place, and a
 * block they pin is not refilled until they are done.  Through a pipe that
 * a client fills a kilobyte at a time, every block is that small: the
 * first files' jobs pin blocks, and the next file's data runs through the
 * whole ring of blocks before its own job is queued.  The jobs queued
 * before must have been started (not left for a batch of more jobs), or the
 * apply waits forever for blocks they hold. */
START_TEST(jobs_pinning_blocks_of_a_trickling_pipe)
{
	struct tb t;
	tb_init(&t, 0);
	put_dir(&t, "d", 0755);
	size_t big = 100 * 1024;
	char *data = xmalloc(big + 1);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)('a' + i % 23);
	data[big] = '\0';
	put_file(&t, "d/a", 0644, "the first small file");
	put_file(&t, "d/b", 0644, "the second small file");
	put_file(&t, "d/c", 0644, data);
	put_file(&t, "d/e", 0644, "a small file after");
	free(data);
	int tar = tb_done(&t);
	unsigned char want[32];
	sha256_fd(tar, want);

	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t child = fork();
	if (child == 0) {
		/* a kilobyte, then nothing until the reader took it */
		close(p[0]);
		char buf[1024];
		ssize_t n;
		lseek(tar, 0, SEEK_SET);
		while ((n = read(tar, buf, sizeof buf)) > 0) {
			if (write_all(p[1], buf, (size_t)n) < 0)
				_exit(1);
			int left;
			while (ioctl(p[1], FIONREAD, &left) == 0 && left > 0)
				usleep(50);
		}
		_exit(n == 0 ? 0 : 1);
	}
	close(p[1]);
	struct env v;
	env_init(&v);
	struct extract_limits lim;
	extract_limits_default(&lim);
	struct extract_result res;
	struct err e = {0};
	ck_assert_msg(extract_layer(p[0], v.target, NULL, 0, &lim, NULL, NULL, &res, &e) == 0, "%s", e.msg);
	close(p[0]);
	int status;
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_int_eq(status, 0);
	ck_assert(!memcmp(res.diff_id, want, 32));
	ck_assert_uint_eq(res.entries, 5);
	char got[64] = {0};
	int fd = openat(v.target, "d/b", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, got, sizeof got - 1), 21);
	close(fd);
	ck_assert_str_eq(got, "the second small file");
	struct stat st;
	ck_assert_int_eq(fstatat(v.target, "d/c", &st, 0), 0);
	ck_assert_int_eq(st.st_size, (off_t)big);
	close(tar);
}
END_TEST

/* A pseudo file system's file ends before its size (sysfs says 4096 for a
 * line): that is no file that shrank, and the error says that what it
 * holds is no tar. */
START_TEST(a_pseudo_file_is_no_shrunk_layer)
{
	static const char *files[] = {"/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/profiling",
				      "/sys/power/state", "/sys/kernel/uevent_seqnum"};
	int fd = -1;
	for (size_t i = 0; i < ARRAY_SIZE(files) && fd < 0; i++)
		fd = open(files[i], O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "no sysfs file to read");
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert(S_ISREG(st.st_mode) && st.st_size > 0);
	char line[8192];
	ck_assert_int_lt(pread(fd, line, sizeof line, 0), st.st_size);
	struct env v;
	env_init(&v);
	struct extract_result res;
	struct err e = {0};
	ck_assert_int_eq(extract_layer(fd, v.target, NULL, 0, NULL, NULL, NULL, &res, &e), -1);
	ck_assert_msg(e.code == ST_INVALID_ARGUMENT && !strstr(e.msg, "shrank"), "%d: %s", e.code, e.msg);
	close(fd);
}
END_TEST

/* Truncates the layer file (ctx) at the first progress report, which comes
 * after the first read: the rest of the apply reads a file that shrank. */
static void truncate_at_first_report(void *ctx, uint64_t in, uint64_t entries)
{
	int *fd = ctx;
	if (*fd >= 0)
		ck_assert_int_eq(ftruncate(*fd, 200 << 10), 0);
	*fd = -1;
}

/* A layer file truncated while it is read (another process rewrote it)
 * fails the apply with Aborted, saying so, plain and compressed, in one
 * thread and in the pipeline; not as a corrupt layer. */
START_TEST(a_layer_file_that_shrinks_fails_saying_so)
{
	static const char *filters[] = {NULL, "gzip -1 -c", "zstd -q -1 -c"};
	int tar = windows_layer();
	for (size_t f = 0; f < ARRAY_SIZE(filters); f++) {
		for (int single = 0; single < 2; single++) {
			lseek(tar, 0, SEEK_SET);
			int in = filters[f] ? filter_fd(tar, filters[f]) : memfd_create("plain", MFD_CLOEXEC);
			if (!filters[f])
				ck_assert_int_eq(copy_fd(tar, in), 0);
			struct stat st;
			ck_assert_int_eq(fstat(in, &st), 0);
			ck_assert_int_gt(st.st_size, 400 << 10);
			lseek(in, 0, SEEK_SET);
			struct env v;
			env_init(&v);
			struct extract_limits lim;
			extract_limits_default(&lim);
			lim.single_thread = single;
			struct extract_result res;
			struct err e = {0};
			int victim = in;
			ck_assert_int_eq(extract_layer(in, v.target, NULL, 0, &lim, truncate_at_first_report,
						       &victim, &res, &e),
					 -1);
			ck_assert_msg(e.code == ST_ABORTED && strstr(e.msg, "shrank"),
				      "%s, single %d: %d: %s", filters[f] ? filters[f] : "plain", single,
				      e.code, e.msg);
			close(in);
		}
	}
	close(tar);
}
END_TEST

/* A parent the writer resolved before is removed (a whiteout without
 * lowers, a file over a directory), then comes again: entries below it go
 * into the new one, not into the removed one. */
START_TEST(removed_parent_comes_again)
{
	struct tb t;
	tb_init(&t, 0);
	put_file(&t, "d/f", 0644, "1");
	put_file(&t, ".wh.d", 0644, NULL);
	put_file(&t, "d/g", 0644, "2");
	put_file(&t, "e/f", 0644, "3");
	put_file(&t, "e", 0644, "4");
	put_dir(&t, "e", 0755);
	put_file(&t, "e/g", 0644, "5");
	int fd = tb_done(&t);
	for (int single = 0; single < 2; single++) {
		struct env v;
		apply_alone(&v, fd, single);
		ck_assert_int_eq(exists(&v, "d/f"), 0);
		file_is(&v, "d/g", "2");
		ck_assert_int_eq(exists(&v, "e/f"), 0);
		file_is(&v, "e/g", "5");
	}
	close(fd);
}
END_TEST

static void must_fail_lim(struct env *v, int fd, const struct extract_limits *lim, int code,
			  const char *needle)
{
	struct err e = {0};
	ck_assert_int_eq(apply_lim(v, fd, lim, NULL, &e), -1);
	ck_assert_msg(e.code == code, "code %d, want %d: %s", e.code, code, e.msg);
	ck_assert_msg(strstr(e.msg, needle), "message `%s` lacks `%s`", e.msg, needle);
	env_check_canary(v);
}

START_TEST(limits_are_named)
{
	struct extract_limits lim;
	struct tb t;
	struct env v;
	struct archive_entry *e;

	env_init(&v);
	extract_limits_default(&lim);
	lim.max_entries = 3;
	tb_init(&t, 0);
	for (int i = 0; i < 10; i++) {
		char n[16];
		snprintf(n, sizeof n, "f%d", i);
		put_file(&t, n, 0644, "x");
	}
	must_fail_lim(&v, tb_done(&t), &lim, ST_RESOURCE_EXHAUSTED, "max_entries");

	extract_limits_default(&lim);
	lim.max_file = 10;
	tb_init(&t, 0);
	put_file(&t, "big", 0644, "more than ten bytes");
	must_fail_lim(&v, tb_done(&t), &lim, ST_RESOURCE_EXHAUSTED, "max_file");

	extract_limits_default(&lim);
	lim.max_name = 20;
	tb_init(&t, 0);
	put_file(&t, "a-name-longer-than-twenty", 0644, "x");
	must_fail_lim(&v, tb_done(&t), &lim, ST_RESOURCE_EXHAUSTED, "max_name");

	extract_limits_default(&lim);
	lim.max_xattr = 4;
	tb_init(&t, 0);
	e = ent("x", AE_IFREG | 0644, 0, 0, 1);
	archive_entry_xattr_add_entry(e, "user.big", "0123456789", 10);
	put(&t, e, "x");
	must_fail_lim(&v, tb_done(&t), &lim, ST_RESOURCE_EXHAUSTED, "max_xattr");

	/* a gzip bomb: 64 MiB of zeros in a few KiB */
	extract_limits_default(&lim);
	lim.max_bytes = 1 << 20;
	int zeros = memfd_create("zeros", 0);
	ck_assert_int_eq(ftruncate(zeros, 64 << 20), 0);
	int gz = filter_fd(zeros, "gzip -9 -c");
	struct stat st;
	fstat(gz, &st);
	ck_assert_int_lt(st.st_size, 200000);
	must_fail_lim(&v, gz, &lim, ST_RESOURCE_EXHAUSTED, "max_bytes");
}
END_TEST

START_TEST(deep_tree_refused)
{
	struct env v;
	env_init(&v);
	char *path = xmalloc(5000 * 2 + 8);
	path[0] = '\0';
	for (int i = 0; i < 5000; i++)
		strcat(path, "d/");
	strcat(path, "f");
	struct extract_limits lim;
	extract_limits_default(&lim);
	lim.max_name = 20000;
	struct tb t;
	tb_init(&t, 0);
	put_file(&t, path, 0644, "deep");
	must_fail_lim(&v, tb_done(&t), &lim, ST_RESOURCE_EXHAUSTED, "max_depth");
	free(path);
	ck_assert(!exists(&v, "d"));
}
END_TEST

/* A 3000-deep directory tree replaced by a file: removed with bounded fds. */
START_TEST(deep_tree_replaced)
{
	struct env v;
	env_init(&v);
	int fd = dup(v.target);
	ck_assert_int_eq(mkdirat(fd, "top", 0755), 0);
	int cur = openat(fd, "top", O_RDONLY | O_DIRECTORY);
	close(fd);
	for (int i = 0; i < 3000; i++) {
		ck_assert_int_eq(mkdirat(cur, "d", 0755), 0);
		close(openat(cur, "f", O_CREAT | O_WRONLY, 0644));
		int next = openat(cur, "d", O_RDONLY | O_DIRECTORY);
		close(cur);
		cur = next;
	}
	close(cur);
	struct tb t;
	tb_init(&t, 0);
	put_file(&t, "top", 0644, "flat");
	must_apply(&v, tb_done(&t));
	file_is(&v, "top", "flat");
}
END_TEST

/* ---- hostile layers ------------------------------------------------------ */

static int one_file(const char *path)
{
	struct tb t;
	tb_init(&t, 0);
	put_file(&t, path, 0644, "evil");
	return tb_done(&t);
}

START_TEST(hostile_paths)
{
	struct env v;
	env_init(&v);
	must_fail(&v, one_file("../canary"), ST_INVALID_ARGUMENT, "escapes");
	must_fail(&v, one_file("a/../../canary"), ST_INVALID_ARGUMENT, "escapes");
	must_fail(&v, one_file("/canary"), ST_INVALID_ARGUMENT, "absolute");
	must_apply(&v, one_file("a/../inside")); /* `..` that stays inside, as containerd cleans it */
	file_is(&v, "inside", "evil");
	ck_assert(!exists(&v, "a"));
	must_apply(&v, one_file("./")); /* the root itself: skipped */
}
END_TEST

START_TEST(hostile_symlink_escape)
{
	struct env v;
	env_init(&v);
	struct tb t;
	tb_init(&t, 0);
	put_link(&t, "evil", "..", 0, 0777);
	put_file(&t, "evil/canary", 0644, "owned");
	must_fail(&v, tb_done(&t), ST_INVALID_ARGUMENT, "symlink");

	tb_init(&t, 0);
	put_link(&t, "abs", "/", 0, 0777);
	put_dir(&t, "abs/tmp", 0777);
	must_fail(&v, tb_done(&t), ST_INVALID_ARGUMENT, "symlink");

	/* a symlink at the entry's own name is replaced, never written through */
	char p[256];
	snprintf(p, sizeof p, "%s/canary", v.dir);
	ck_assert_int_eq(symlinkat(p, v.target, "link"), 0);
	tb_init(&t, 0);
	put_file(&t, "link", 0600, "replaced");
	must_apply(&v, tb_done(&t));
	file_is(&v, "link", "replaced");
	env_check_canary(&v);
}
END_TEST

START_TEST(hostile_hardlinks)
{
	struct env v;
	env_init(&v);
	struct tb t;
	tb_init(&t, 0);
	put_link(&t, "h", "../canary", 1, 0777);
	must_fail(&v, tb_done(&t), ST_INVALID_ARGUMENT, "escapes");

	tb_init(&t, 0);
	put_link(&t, "h", "/canary", 1, 0777);
	must_fail(&v, tb_done(&t), ST_INVALID_ARGUMENT, "absolute");

	/* hardlink to a symlink that points at the canary, with mode bits:
	 * links the symlink itself, chmods nothing */
	char p[256];
	snprintf(p, sizeof p, "%s/canary", v.dir);
	tb_init(&t, 0);
	put_link(&t, "s", p, 0, 0777);
	put_link(&t, "h", "s", 1, 06777);
	put_link(&t, "h2", "../canary", 0, 0777);
	put_link(&t, "h3", "h2", 1, 04777);
	must_apply(&v, tb_done(&t));
	ck_assert(S_ISLNK(lst(&v, "h").st_mode));
	ck_assert_uint_eq(lst(&v, "h").st_ino, lst(&v, "s").st_ino);
	ck_assert(S_ISLNK(lst(&v, "h3").st_mode));
	env_check_canary(&v);

	/* through a symlinked directory */
	tb_init(&t, 0);
	put_link(&t, "up", "..", 0, 0777);
	put_link(&t, "h4", "up/canary", 1, 0777);
	must_fail(&v, tb_done(&t), ST_INVALID_ARGUMENT, "hardlink");

	tb_init(&t, 0);
	put_link(&t, "h5", "missing", 1, 0644);
	must_fail(&v, tb_done(&t), ST_INVALID_ARGUMENT, "hardlink");

	tb_init(&t, 0);
	put_dir(&t, "dir", 0755);
	put_link(&t, "h6", "dir", 1, 0644);
	must_fail(&v, tb_done(&t), ST_INVALID_ARGUMENT, "directory");
}
END_TEST

START_TEST(hostile_whiteouts)
{
	struct env v;
	env_init(&v);
	must_fail(&v, one_file(".wh.."), ST_INVALID_ARGUMENT, "whiteout");
	must_fail(&v, one_file("a/.wh..."), ST_INVALID_ARGUMENT, "whiteout");
	must_fail(&v, one_file("../.wh.canary"), ST_INVALID_ARGUMENT, "escapes");
	must_fail(&v, one_file("/.wh.canary"), ST_INVALID_ARGUMENT, "absolute");
	/* opaque at the root: as containerd, the xattr on the target itself */
	must_apply(&v, one_file(".wh..wh..opq"));
	char buf[4];
	ck_assert_int_eq(fgetxattr(v.target, "trusted.overlay.opaque", buf, sizeof buf), 1);
	env_check_canary(&v);
}
END_TEST

START_TEST(hostile_overlay_xattrs)
{
	struct env v;
	env_init(&v);
	const char *names[] = {"trusted.overlay.opaque", "trusted.overlay.redirect", "user.overlay.origin"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct tb t;
		tb_init(&t, 0);
		struct archive_entry *e = ent("d", AE_IFDIR | 0755, 0, 0, 1);
		archive_entry_xattr_add_entry(e, names[i], "y", 1);
		put(&t, e, NULL);
		must_fail(&v, tb_done(&t), ST_INVALID_ARGUMENT, "overlay xattr");
		ck_assert(!exists(&v, "d"));
	}
}
END_TEST

START_TEST(hostile_streams)
{
	struct env v;
	env_init(&v);
	struct tb t;
	tb_init(&t, 0);
	char big[20000];
	uint32_t seed = 42;
	for (size_t i = 0; i < sizeof big - 1; i++) { /* printable, incompressible enough */
		seed = seed * 1103515245 + 12345;
		big[i] = (char)('!' + (seed >> 16) % 90);
	}
	big[sizeof big - 1] = '\0';
	put_file(&t, "f", 0644, big);
	put_file(&t, "g", 0644, "g");
	int tar = tb_done(&t);
	struct stat st;
	fstat(tar, &st);

	int cut = filter_fd(tar, "head -c 9000");
	must_fail(&v, cut, ST_INVALID_ARGUMENT, "tar");
	int gz = filter_fd(tar, "gzip -c | head -c 200");
	must_fail(&v, gz, ST_INVALID_ARGUMENT, "gzip");
	int zs = filter_fd(tar, "zstd -q -c | head -c 60");
	must_fail(&v, zs, ST_INVALID_ARGUMENT, "zstd");
	int bad = filter_fd(tar, "gzip -c | head -c 100; head -c 500 /dev/urandom");
	must_fail(&v, bad, ST_INVALID_ARGUMENT, ""); /* gzip or tar: whichever notices first */
	int garbage = filter_fd(tar, "head -c 4096 /dev/urandom | tr '\\037\\050\\102\\375\\004' 'aaaaa'");
	must_fail(&v, garbage, ST_INVALID_ARGUMENT, "tar");
	int xz = filter_fd(tar, "xz -c");
	must_fail(&v, xz, ST_UNIMPLEMENTED, "xz");
	int bz = filter_fd(tar, "printf 'BZh91AY'");
	must_fail(&v, bz, ST_UNIMPLEMENTED, "bzip2");
}
END_TEST

START_TEST(hostile_devices_kept_as_containerd)
{
	struct env v;
	env_init(&v);
	struct tb t;
	tb_init(&t, 0);
	struct archive_entry *e = ent("mem", AE_IFCHR | 0666, 0, 0, 1);
	archive_entry_set_rdev(e, makedev(1, 1));
	put(&t, e, NULL);
	must_apply(&v, tb_done(&t));
	ck_assert_uint_eq(lst(&v, "mem").st_rdev, makedev(1, 1));
	env_check_canary(&v);
}
END_TEST

static void count_progress(void *ctx, uint64_t in, uint64_t entries)
{
	(void)in;
	*(uint64_t *)ctx = entries;
}

START_TEST(progress_reports_the_end)
{
	struct env v;
	env_init(&v);
	uint64_t seen = 0;
	struct extract_result res;
	struct err e = {0};
	ck_assert_int_eq(
	    extract_layer(every_type_layer(), v.target, NULL, 0, NULL, count_progress, &seen, &res, &e), 0);
	ck_assert_uint_eq(seen, 8);
}
END_TEST

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_extract: needs root (chown, mknod, trusted xattrs); skipped\n");
		return 0;
	}
	Suite *s = suite_create("extract");
	TCase *tc = tcase_create("apply");
	tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_type_plain);
	tcase_add_test(tc, every_type_gzip);
	tcase_add_test(tc, every_type_zstd);
	tcase_add_test(tc, every_type_single_thread);
	tcase_add_test(tc, no_digest_keeps_the_diff_id);
	tcase_add_test(tc, trailing_bytes_and_gzip_members);
	tcase_add_test(tc, empty_layer);
	tcase_add_test(tc, whiteouts_and_opaque_over_lower);
	tcase_add_test(tc, parents_from_nearest_lower);
	tcase_add_test(tc, dir_entry_over_lower_is_its_own);
	tcase_add_test(tc, rebase_equals_apply_over_lowers);
	tcase_add_test(tc, hardlink_chains);
	tcase_add_test(tc, long_pax_names_and_xattrs);
	tcase_add_test(tc, replacing_entries);
	tcase_add_test(tc, owners_and_modes_as_the_entries_say);
	tcase_add_test(tc, sparse_file_has_holes);
	tcase_add_test(tc, pool_equals_sequential);
	tcase_add_test(tc, file_offset_and_pipe_agree);
	tcase_add_test(tc, a_pseudo_file_is_no_shrunk_layer);
	tcase_add_test(tc, a_layer_file_that_shrinks_fails_saying_so);
	tcase_add_test(tc, jobs_pinning_blocks_of_a_trickling_pipe);
	tcase_add_test(tc, removed_parent_comes_again);
	tcase_add_test(tc, limits_are_named);
	tcase_add_test(tc, deep_tree_refused);
	tcase_add_test(tc, deep_tree_replaced);
	tcase_add_test(tc, hostile_paths);
	tcase_add_test(tc, hostile_symlink_escape);
	tcase_add_test(tc, hostile_hardlinks);
	tcase_add_test(tc, hostile_whiteouts);
	tcase_add_test(tc, hostile_overlay_xattrs);
	tcase_add_test(tc, hostile_streams);
	tcase_add_test(tc, hostile_devices_kept_as_containerd);
	tcase_add_test(tc, progress_reports_the_end);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
