/* parent/snapdir.c: the parent's and spawner's name-safe operations on the
 * snapshots directory.  Above all snapdir_remove_empty, which deletes a
 * removed snapshot without a worker only when it is the bare skeleton, and
 * must neither follow a link nor delete anything that has content. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parent/snapdir.h"
#include "run_suite.h"

static char root[] = "/tmp/strata-test-snapdir-XXXXXX";
static int dfd = -1;

static void setup(void)
{
	strcpy(root, "/tmp/strata-test-snapdir-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	char p[256];
	snprintf(p, sizeof p, "%s/snapshots", root);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	struct err e = {0};
	dfd = snapdir_open(p, &e);
	ck_assert_msg(dfd >= 0, "%s", e.msg);
}

static void teardown(void)
{
	char cmd[128];
	close(dfd);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
}

static int exists(const char *rel)
{
	char p[256];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", root, rel);
	return lstat(p, &st) == 0;
}

static void make(const char *rel)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	ck_assert_msg(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
}

static void touch(const char *rel)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

/* An active snapshot created, used by overlayfs (work/work), and dropped. */
static void active_dropped(uint64_t id)
{
	struct err e = {0};
	char p[64];
	ck_assert_msg(snapdir_create(dfd, id, 0, 1, &e) == 0, "%s", e.msg);
	snprintf(p, sizeof p, "snapshots/%llu/work/work", (unsigned long long)id);
	make(p);
	ck_assert_msg(snapdir_drop(dfd, id, SNAPDIR_LIVE, &e) == 0, "%s", e.msg);
}

START_TEST(empty_active_is_removed)
{
	struct err e = {0};
	active_dropped(7);
	ck_assert(exists("snapshots/rm-7/work/work"));
	ck_assert_int_eq(snapdir_remove_empty(dfd, 7, &e), 1);
	ck_assert(!exists("snapshots/rm-7"));
}
END_TEST

START_TEST(empty_view_is_removed)
{
	struct err e = {0};
	ck_assert_msg(snapdir_create(dfd, 8, 0, 0, &e) == 0, "%s", e.msg);
	ck_assert(!exists("snapshots/8/work"));
	ck_assert_int_eq(snapdir_drop(dfd, 8, SNAPDIR_LIVE, &e), 0);
	ck_assert_int_eq(snapdir_remove_empty(dfd, 8, &e), 1);
	ck_assert(!exists("snapshots/rm-8"));
}
END_TEST

START_TEST(content_is_left_for_a_worker)
{
	struct err e = {0};
	active_dropped(9);
	make("snapshots/rm-9/fs/etc");
	touch("snapshots/rm-9/fs/etc/passwd");
	ck_assert_int_eq(snapdir_remove_empty(dfd, 9, &e), 0);
	ck_assert(exists("snapshots/rm-9/fs/etc/passwd"));
	/* What a failed worker left keeps rm-ID; an emptied one goes. */
	ck_assert_int_eq(snapdir_remove_rm(dfd, 9, &e), 0);
	ck_assert(exists("snapshots/rm-9"));
	/* Overlayfs' leftovers in work (an index, a whiteout in flight) too. */
	active_dropped(10);
	touch("snapshots/rm-10/work/work/#1");
	ck_assert_int_eq(snapdir_remove_empty(dfd, 10, &e), 0);
	ck_assert(exists("snapshots/rm-10/work/work/#1"));
}
END_TEST

START_TEST(links_are_not_followed)
{
	struct err e = {0};
	/* A tree elsewhere that a link might lead to: its empty directories
	 * named like the skeleton must survive. */
	make("victim");
	make("victim/work");
	make("victim/fs");
	char p[256], t[256];
	make("snapshots/rm-11");
	snprintf(t, sizeof t, "%s/victim", root);
	snprintf(p, sizeof p, "%s/snapshots/rm-11/work", root);
	ck_assert_int_eq(symlink(t, p), 0);
	make("snapshots/rm-11/fs");
	ck_assert_int_eq(snapdir_remove_empty(dfd, 11, &e), 0);
	ck_assert(exists("victim/work"));
	ck_assert(exists("snapshots/rm-11/work"));
	/* fs a link. */
	make("snapshots/rm-14");
	snprintf(t, sizeof t, "%s/victim/fs", root);
	snprintf(p, sizeof p, "%s/snapshots/rm-14/fs", root);
	ck_assert_int_eq(symlink(t, p), 0);
	ck_assert_int_eq(snapdir_remove_empty(dfd, 14, &e), 0);
	ck_assert(exists("victim/fs"));
	/* rm-ID itself a link. */
	snprintf(t, sizeof t, "%s/victim", root);
	snprintf(p, sizeof p, "%s/snapshots/rm-12", root);
	ck_assert_int_eq(symlink(t, p), 0);
	ck_assert_int_eq(snapdir_remove_empty(dfd, 12, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "rm-12"));
	ck_assert(exists("victim/fs"));
	ck_assert(exists("snapshots/rm-12"));
}
END_TEST

/* A failed apply's reset: ID/fs becomes a fresh directory with the owner
 * of its parent's fs and mode 0755, whatever the layer did to the old one,
 * which is rm-ID now; and the fs is tested empty or not by name alone. */
START_TEST(reset_swaps_fs_for_a_fresh_one)
{
	struct err e = {0};
	char p[256];
	ck_assert_msg(snapdir_create(dfd, 20, 0, 0, &e) == 0, "%s", e.msg);
	snprintf(p, sizeof p, "%s/snapshots/20/fs", root);
	ck_assert_int_eq(chown(p, 1234, 1234), 0);
	ck_assert_msg(snapdir_create(dfd, 21, 20, 1, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(snapdir_fs_empty(dfd, 21, &e), 1);
	make("snapshots/21/fs/etc");
	touch("snapshots/21/fs/etc/passwd");
	snprintf(p, sizeof p, "%s/snapshots/21/fs", root);
	ck_assert_int_eq(chmod(p, 0700), 0);
	ck_assert_int_eq(snapdir_fs_empty(dfd, 21, &e), 0);
	ck_assert_msg(snapdir_reset(dfd, 21, 20, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(snapdir_fs_empty(dfd, 21, &e), 1);
	ck_assert(exists("snapshots/rm-21/etc/passwd"));
	ck_assert(exists("snapshots/21/work"));
	struct stat st;
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_uid, 1234);
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	/* rm-21 still waits for its worker: a second reset is refused. */
	ck_assert_int_eq(snapdir_reset(dfd, 21, 20, &e), -1);
	ck_assert_int_eq(snapdir_fs_empty(dfd, 22, &e), -1);
}
END_TEST

START_TEST(missing_is_not_removed)
{
	/* No rm-ID at all: nothing to report as done. */
	struct err e = {0};
	ck_assert_int_eq(snapdir_remove_empty(dfd, 13, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "rm-13"));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("snapdir");
	TCase *tc = tcase_create("remove_empty");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, empty_active_is_removed);
	tcase_add_test(tc, empty_view_is_removed);
	tcase_add_test(tc, content_is_left_for_a_worker);
	tcase_add_test(tc, links_are_not_followed);
	tcase_add_test(tc, missing_is_not_removed);
	tcase_add_test(tc, reset_swaps_fs_for_a_fresh_one);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
