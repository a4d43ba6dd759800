/* mount_fd_check (broker/mountcheck.c): what a compromised mount worker
 * could send instead of a snapshot's mount is refused: a directory that is
 * not a mount's root, other file systems (proc, tmpfs), mounts without nodev
 * or nosuid, a writable mount for a read-only request.  Overlay with the
 * right flags, and a clone of a directory of the snapshots' file system,
 * pass.  Needs root (the new mount API); the mounts are detached, and the
 * test runs in a mount namespace of its own. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/mountcheck.h"
#include "run_suite.h"

static char dir[] = "/tmp/strata-mountcheck-XXXXXX";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	struct statfs sf;
	ck_assert_int_eq(statfs(dir, &sf), 0);
	broker.snapshots_fs_type = (long)sf.f_type;
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/strata-mountcheck-XXXXXX");
}

/* A detached mount of a new file system of type fstype with attrs. */
static int new_fs(const char *fstype, uint64_t attrs)
{
	int fs = fsopen(fstype, FSOPEN_CLOEXEC);
	ck_assert_msg(fs >= 0, "fsopen %s: %s", fstype, strerror(errno));
	ck_assert_int_eq(fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0), 0);
	int mnt = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned)attrs);
	ck_assert_int_ge(mnt, 0);
	close(fs);
	return mnt;
}

/* A detached clone of path with attrs. */
static int clone_of(const char *path, uint64_t attrs)
{
	int t = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	ck_assert_int_ge(t, 0);
	struct mount_attr a = {.attr_set = attrs};
	ck_assert_int_eq(mount_setattr(t, "", AT_EMPTY_PATH, &a, sizeof a), 0);
	return t;
}

/* A read-only overlay of two directories under the test's directory. */
static int overlay_of_two(uint64_t attrs)
{
	char a[256], b[256];
	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(b, sizeof b, "%s/b", dir);
	ck_assert_int_eq(mkdir(a, 0755), 0);
	ck_assert_int_eq(mkdir(b, 0755), 0);
	int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	ck_assert_int_ge(fs, 0);
	ck_assert_int_eq(fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", a, 0), 0);
	ck_assert_int_eq(fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", b, 0), 0);
	ck_assert_int_eq(fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0), 0);
	int mnt = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned)attrs);
	ck_assert_int_ge(mnt, 0);
	close(fs);
	return mnt;
}

static const uint64_t safe = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID;

#define CHECK_REFUSED(fd, ro, what)                                                                          \
	do {                                                                                                 \
		struct err e = {0};                                                                          \
		struct stat st_;                                                                             \
		ck_assert_int_eq(mount_fd_check((fd), (ro), &st_, &e), -1);                                  \
		ck_assert_msg(strstr(e.msg, (what)) != NULL, "message `%s` lacks `%s`", e.msg, (what));      \
	} while (0)

START_TEST(the_right_mounts_pass)
{
	struct err e = {0};
	struct stat st;
	int ov = overlay_of_two(safe | MOUNT_ATTR_RDONLY);
	ck_assert_msg(mount_fd_check(ov, 1, &st, &e) == 0, "%s", e.msg);
	ck_assert_msg(mount_fd_check(ov, 0, &st, &e) == 0, "%s", e.msg);
	int cl = clone_of(dir, safe);
	ck_assert_msg(mount_fd_check(cl, 0, &st, &e) == 0, "%s", e.msg);
}
END_TEST

START_TEST(other_file_systems_are_refused)
{
	/* Another file system than the one the test's directory is on. */
	const char *other = broker.snapshots_fs_type == TMPFS_MAGIC ? "ramfs" : "tmpfs";
	CHECK_REFUSED(new_fs(other, safe | MOUNT_ATTR_RDONLY), 1, "file system of type");
	CHECK_REFUSED(clone_of("/proc", safe | MOUNT_ATTR_RDONLY), 1, "file system of type");
}
END_TEST

START_TEST(missing_flags_are_refused)
{
	CHECK_REFUSED(clone_of(dir, MOUNT_ATTR_NOSUID), 0, "lacks nodev");
	CHECK_REFUSED(clone_of(dir, MOUNT_ATTR_NODEV), 0, "lacks nodev");
	CHECK_REFUSED(clone_of(dir, safe), 1, "or read-only");
	CHECK_REFUSED(overlay_of_two(MOUNT_ATTR_NODEV | MOUNT_ATTR_RDONLY), 1, "lacks nodev");
}
END_TEST

START_TEST(a_plain_directory_or_file_is_refused)
{
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_REFUSED(d, 0, "not the root of a mount");
	int f = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
	CHECK_REFUSED(f, 0, "not a directory");
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	CHECK_REFUSED(p[0], 0, "not a directory");
}
END_TEST

/* The test process in a mount namespace of its own, so that nothing it does
 * with mounts reaches the host's. */
static void private_ns(void)
{
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
}

static Suite *suite(void)
{
	Suite *s = suite_create("mountcheck");
	TCase *tc = tcase_create("mount_fd_check");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_unchecked_fixture(tc, private_ns, NULL);
	tcase_add_test(tc, the_right_mounts_pass);
	tcase_add_test(tc, other_file_systems_are_refused);
	tcase_add_test(tc, missing_flags_are_refused);
	tcase_add_test(tc, a_plain_directory_or_file_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
