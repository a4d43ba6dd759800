/* Mounts as containerd's overlayfs snapshotter returns them. */
#include <check.h>
#include <string.h>

#include "broker/meta.h"
#include "broker/mounts.h"
#include "common/util.h"
#include "run_suite.h"

static const struct mount_opts mo = {.snapshots_dir = "/r/snapshots", .index_off = 1};

static void assert_opts(const struct mount_spec *m, const char *const *want, size_t n)
{
	ck_assert_uint_eq(m->nopts, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(m->opts[i], want[i]);
}

START_TEST(active_without_parent_is_rw_bind)
{
	struct mount_spec m;
	ck_assert_uint_eq(mounts_build(&mo, KIND_ACTIVE, 7, NULL, 0, &m), 1);
	ck_assert_str_eq(m.type, "bind");
	ck_assert_str_eq(m.source, "/r/snapshots/7/fs");
	assert_opts(&m, (const char *[]){"rw", "rbind"}, 2);
	mounts_free(&m, 1);
}
END_TEST

START_TEST(view_without_parent_is_ro_bind)
{
	struct mount_spec m;
	mounts_build(&mo, KIND_VIEW, 8, NULL, 0, &m);
	ck_assert_str_eq(m.type, "bind");
	assert_opts(&m, (const char *[]){"ro", "rbind"}, 2);
	mounts_free(&m, 1);
}
END_TEST

START_TEST(view_of_one_parent_binds_the_parent)
{
	struct mount_spec m;
	uint64_t parents[] = {3};
	mounts_build(&mo, KIND_VIEW, 9, parents, 1, &m);
	ck_assert_str_eq(m.type, "bind");
	ck_assert_str_eq(m.source, "/r/snapshots/3/fs");
	assert_opts(&m, (const char *[]){"ro", "rbind"}, 2);
	mounts_free(&m, 1);
}
END_TEST

START_TEST(active_with_parents_is_overlay_nearest_first)
{
	struct mount_spec m;
	uint64_t parents[] = {5, 2, 1};
	mounts_build(&mo, KIND_ACTIVE, 6, parents, 3, &m);
	ck_assert_str_eq(m.type, "overlay");
	ck_assert_str_eq(m.source, "overlay");
	assert_opts(&m,
		    (const char *[]){"index=off", "workdir=/r/snapshots/6/work", "upperdir=/r/snapshots/6/fs",
				     "lowerdir=/r/snapshots/5/fs:/r/snapshots/2/fs:/r/snapshots/1/fs"},
		    4);
	mounts_free(&m, 1);
}
END_TEST

START_TEST(view_of_several_is_readonly_overlay)
{
	struct mount_spec m;
	struct mount_opts plain = {.snapshots_dir = "/r/snapshots", .index_off = 0, .userxattr = 1};
	uint64_t parents[] = {4, 1};
	mounts_build(&plain, KIND_VIEW, 10, parents, 2, &m);
	ck_assert_str_eq(m.type, "overlay");
	assert_opts(&m, (const char *[]){"userxattr", "lowerdir=/r/snapshots/4/fs:/r/snapshots/1/fs"}, 2);
	mounts_free(&m, 1);
}
END_TEST

START_TEST(deep_chain_lists_every_layer)
{
	struct mount_spec m;
	uint64_t parents[128];
	for (int i = 0; i < 128; i++)
		parents[i] = 128 - (uint64_t)i;
	mounts_build(&mo, KIND_ACTIVE, 1000, parents, 128, &m);
	const char *low = m.opts[m.nopts - 1];
	ck_assert(strncmp(low, "lowerdir=/r/snapshots/128/fs:", 29) == 0);
	size_t colons = 0;
	for (const char *p = low; *p; p++)
		colons += *p == ':';
	ck_assert_uint_eq(colons, 127);
	ck_assert_str_eq(low + strlen(low) - 18, ":/r/snapshots/1/fs");
	mounts_free(&m, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mounts");
	TCase *tc = tcase_create("build");
	tcase_add_test(tc, active_without_parent_is_rw_bind);
	tcase_add_test(tc, view_without_parent_is_ro_bind);
	tcase_add_test(tc, view_of_one_parent_binds_the_parent);
	tcase_add_test(tc, active_with_parents_is_overlay_nearest_first);
	tcase_add_test(tc, view_of_several_is_readonly_overlay);
	tcase_add_test(tc, deep_chain_lists_every_layer);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
