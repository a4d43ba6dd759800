/* Reading a mount table (broker/mountinfo.c), as the broker does to judge
 * whether an attached strata mount is gone (broker/holds.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "broker/mountinfo.h"
#include "common/util.h"
#include "run_suite.h"

/* A table like the broker's under systemd: its own /tmp (PrivateTmp, a bind
 * with another root), a strata overlay under a path with a space, two mounts
 * stacked at one point, and lines that do not parse. */
static const char table[] =
    "27 1 254:0 / / rw,relatime master:1 - ext4 /dev/vda rw\n"
    "40 27 254:0 /tmp/systemd-private-x/tmp /tmp rw,relatime master:1 - ext4 /dev/vda rw\n"
    "41 27 0:52 / /mnt/a\\040b rw,nosuid,nodev - overlay overlay rw,lowerdir=...\n"
    "42 27 0:53 / /mnt/st rw - tmpfs tmpfs rw\n"
    "43 42 254:0 /var/lib/strata/snapshots/5/fs /mnt/st rw - ext4 /dev/vda rw\n"
    "44 27 0:54 / /tmp/x rw - tmpfs tmpfs rw\n"
    "garbage line\n"
    "45 27 zz / /bad rw - tmpfs tmpfs rw\n"
    "46 27 0:55 / /mnt/back\\134slash rw - tmpfs tmpfs rw";

static void parse(struct mountinfo *mi)
{
	mountinfo_parse(mi, xstrdup(table));
}

START_TEST(parses_fields_and_skips_bad_lines)
{
	struct mountinfo mi;
	parse(&mi);
	ck_assert_uint_eq(mi.n, 7);
	ck_assert_uint_eq(mi.v[0].id, 27);
	ck_assert_uint_eq(mi.v[0].dev, makedev(254, 0));
	ck_assert_str_eq(mi.v[1].root, "/tmp/systemd-private-x/tmp");
	ck_assert_str_eq(mi.v[1].point, "/tmp");
	ck_assert_str_eq(mi.v[2].point, "/mnt/a b");
	ck_assert_str_eq(mi.v[6].point, "/mnt/back\\slash");
	ck_assert_ptr_null(mountinfo_by_id(&mi, 45));
	ck_assert_str_eq(mountinfo_by_id(&mi, 43)->root, "/var/lib/strata/snapshots/5/fs");
	mountinfo_free(&mi);
}
END_TEST

START_TEST(covering_is_the_deepest_whole_component_prefix)
{
	struct mountinfo mi;
	parse(&mi);
	ck_assert_uint_eq(mountinfo_covering(&mi, "/tmp/y")->id, 40);
	ck_assert_uint_eq(mountinfo_covering(&mi, "/tmp")->id, 40);
	ck_assert_uint_eq(mountinfo_covering(&mi, "/tmpx/y")->id, 27);
	ck_assert_uint_eq(mountinfo_covering(&mi, "/mnt/a b/c")->id, 41);
	ck_assert_uint_eq(mountinfo_covering(&mi, "/mnt/a")->id, 27);
	/* Of two at one point, the one listed last (on top). */
	ck_assert_uint_eq(mountinfo_covering(&mi, "/mnt/st/d")->id, 43);
	ck_assert_uint_eq(mountinfo_covering(&mi, "/")->id, 27);
	mountinfo_free(&mi);
}
END_TEST

START_TEST(mounted_at_matches_whole_paths_and_devices)
{
	struct mountinfo mi;
	parse(&mi);
	ck_assert(mountinfo_mounted_at(&mi, "/mnt/a b", 0));
	ck_assert(mountinfo_mounted_at(&mi, "/mnt/a b", makedev(0, 52)));
	ck_assert(!mountinfo_mounted_at(&mi, "/mnt/a b", makedev(0, 99)));
	ck_assert(!mountinfo_mounted_at(&mi, "/mnt/a", 0));
	ck_assert(!mountinfo_mounted_at(&mi, "/mnt/a b/c", 0));
	/* Hidden under the reader's own /tmp, still listed. */
	ck_assert(mountinfo_mounted_at(&mi, "/tmp/x", makedev(0, 54)));
	ck_assert(mountinfo_mounted_at(&mi, "/mnt/st", makedev(254, 0)));
	mountinfo_free(&mi);
}
END_TEST

START_TEST(reads_its_own_table)
{
	struct mountinfo mi;
	struct err e = {0};
	struct stat st;
	ck_assert_int_eq(mountinfo_read(&mi, 0, &e), 0);
	ck_assert_uint_gt(mi.n, 0);
	ck_assert_int_eq(stat("/", &st), 0);
	/* The root's mount is listed at "/" (its device may differ from
	 * st_dev on some file systems, so only the path is checked). */
	ck_assert(mountinfo_mounted_at(&mi, "/", 0));
	mountinfo_free(&mi);
	ck_assert_int_eq(mountinfo_read(&mi, getpid(), &e), 0);
	ck_assert_uint_gt(mi.n, 0);
	mountinfo_free(&mi);
	ck_assert_int_lt(mountinfo_read(&mi, 0x7ffffff0, &e), 0);
	ck_assert_int_eq(e.code, ST_NOT_FOUND);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mountinfo");
	TCase *tc = tcase_create("table");
	tcase_add_test(tc, parses_fields_and_skips_bad_lines);
	tcase_add_test(tc, covering_is_the_deepest_whole_component_prefix);
	tcase_add_test(tc, mounted_at_matches_whole_paths_and_devices);
	tcase_add_test(tc, reads_its_own_table);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
