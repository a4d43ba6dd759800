/* common/tenant.c: the tenant table, a peer's tenant, and the spec by which
 * the parent hands each tenant to the broker. */
#include <check.h>
#include <string.h>

#include "common/tenant.h"
#include "common/util.h"
#include "run_suite.h"

/* A table: ci (uid 1001 and 1003, group 100), web (group 200 and uid 1003,
 * which ci matches first by uid), and limits for the default tenant. */
static void example(struct tenants *t)
{
	struct err e = {0};
	tenants_init(t);
	ck_assert_msg(tenant_parse_spec(t, "ci:uids=1001,1003:gids=100:max_snapshots=10", &e) == 0, "%s",
		      e.msg);
	ck_assert_msg(tenant_parse_spec(t, "web:gids=200:uids=1003", &e) == 0, "%s", e.msg);
	ck_assert_msg(tenant_parse_spec(t, "containerd:max_jobs=4:max_queued_jobs=5", &e) == 0, "%s", e.msg);
}

START_TEST(init_holds_the_default)
{
	struct tenants t;
	tenants_init(&t);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_str_eq(t.v[0].name, TENANT_DEFAULT);
	ck_assert_uint_eq(t.v[0].nuids + t.v[0].ngids, 0);
	ck_assert_uint_eq(t.v[0].max_snapshots + t.v[0].max_jobs + t.v[0].max_queued_jobs, 0);
	ck_assert_int_eq(t.configured, 0);
	ck_assert_ptr_eq(tenant_by_name(&t, TENANT_DEFAULT), &t.v[0]);
	ck_assert_ptr_null(tenant_by_name(&t, "ci"));
	tenants_free(&t);
}
END_TEST

START_TEST(names)
{
	static const char *const good[] = {"a", "0", "ci", "team-a.b_c", "9lives"};
	static const char *const bad[] = {"", "CI", "-a", ".a", "_a", "a b", "a:b", "é", "a/b"};
	struct err e = {0};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		ck_assert_msg(tenant_name_check(good[i], &e) == 0, "%s", e.msg);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_msg(tenant_name_check(bad[i], &e) == -1, "`%s` taken", bad[i]);
		cleanup_free char *want = xasprintf("bad tenant name `%s`", bad[i]);
		ck_assert_msg(!strncmp(e.msg, want, strlen(want)), "%s", e.msg);
		ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
	}
	char longest[TENANT_NAME_MAX + 2];
	memset(longest, 'a', sizeof longest);
	longest[TENANT_NAME_MAX] = '\0';
	ck_assert_int_eq(tenant_name_check(longest, &e), 0);
	longest[TENANT_NAME_MAX] = 'a';
	longest[TENANT_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(tenant_name_check(longest, &e), -1);
}
END_TEST

START_TEST(peers)
{
	struct tenants t;
	example(&t);
	ck_assert_int_eq(t.configured, 1);
	ck_assert_str_eq(tenant_of_peer(&t, 1001, 5)->name, "ci");
	/* uid before gid, then the first tenant: 1003 is ci's though its
	 * group is web's. */
	ck_assert_str_eq(tenant_of_peer(&t, 1003, 200)->name, "ci");
	ck_assert_str_eq(tenant_of_peer(&t, 1002, 200)->name, "web");
	ck_assert_str_eq(tenant_of_peer(&t, 1002, 100)->name, "ci");
	ck_assert_ptr_null(tenant_of_peer(&t, 1002, 300));
	/* root is the default tenant, whatever its group. */
	ck_assert_str_eq(tenant_of_peer(&t, 0, 200)->name, TENANT_DEFAULT);
	tenants_free(&t);

	/* No tenant: nobody but root. */
	tenants_init(&t);
	ck_assert_ptr_null(tenant_of_peer(&t, 1001, 0));
	ck_assert_ptr_null(tenant_of_peer(&t, 1001, 100));
	ck_assert_ptr_eq(tenant_of_peer(&t, 0, 0), &t.v[0]);
	/* Unconfigured is nobody but root even with members (set by hand:
	 * tenant_set would have set configured). */
	uid_t uid = 1001;
	t.v[0].uids = &uid;
	t.v[0].nuids = 1;
	ck_assert_ptr_null(tenant_of_peer(&t, 1001, 100));
	t.configured = 1;
	ck_assert_ptr_eq(tenant_of_peer(&t, 1001, 100), &t.v[0]);
	t.v[0].uids = NULL;
	t.v[0].nuids = 0;
	tenants_free(&t);
}
END_TEST

/* Members of the default tenant alone also admit non-root peers; limits
 * alone do not. */
START_TEST(configured_by_members)
{
	struct tenants t;
	struct err e = {0};
	tenants_init(&t);
	ck_assert_int_eq(tenant_parse_spec(&t, "containerd:uids=:gids=:max_jobs=2", &e), 0);
	ck_assert_int_eq(t.configured, 0);
	ck_assert_ptr_null(tenant_of_peer(&t, 1001, 100));
	ck_assert_int_eq(tenant_parse_spec(&t, "containerd:gids=100", &e), 0);
	ck_assert_int_eq(t.configured, 1);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_uint_eq(t.v[0].max_jobs, 2);
	ck_assert_ptr_eq(tenant_of_peer(&t, 1001, 100), &t.v[0]);
	tenants_free(&t);
}
END_TEST

START_TEST(spec_round_trips)
{
	struct tenants t, back;
	struct err e = {0};
	example(&t);
	ck_assert_uint_eq(t.n, 3);
	cleanup_free char *ci = tenant_spec(&t.v[1]);
	ck_assert_str_eq(ci, "ci:uids=1001,1003:gids=100:max_snapshots=10:max_jobs=0:max_queued_jobs=0");
	cleanup_free char *def = tenant_spec(&t.v[0]);
	ck_assert_str_eq(def, "containerd:uids=:gids=:max_snapshots=0:max_jobs=4:max_queued_jobs=5");
	tenants_init(&back);
	for (size_t i = 0; i < t.n; i++) {
		cleanup_free char *spec = tenant_spec(&t.v[i]);
		ck_assert_msg(tenant_parse_spec(&back, spec, &e) == 0, "%s", e.msg);
	}
	ck_assert_uint_eq(back.n, t.n);
	ck_assert_int_eq(back.configured, 1);
	for (size_t i = 0; i < t.n; i++) {
		cleanup_free char *a = tenant_spec(&t.v[i]);
		cleanup_free char *b = tenant_spec(&back.v[i]);
		ck_assert_str_eq(a, b);
	}
	ck_assert_uint_eq(back.v[2].gids[0], 200);
	ck_assert_uint_eq(back.v[2].uids[0], 1003);
	tenants_free(&back);
	tenants_free(&t);
}
END_TEST

START_TEST(spec_errors)
{
	static const struct {
		const char *spec, *msg;
	} bad[] = {
	    {"Ci:uids=1", "tenant spec `Ci:uids=1`: bad tenant name `Ci`"},
	    {"ci:uids=1:x", "tenant spec `ci:uids=1:x`: `x` is no KEY=VALUE"},
	    {"ci:color=red", "tenant spec `ci:color=red`: unknown key `color`"},
	    {"ci:uids=alice", "tenant spec `ci:uids=alice`: `uids`: uid `alice` is no number"},
	    {"ci:gids=1,,2", "tenant spec `ci:gids=1,,2`: `gids`: an empty item in `1,,2`"},
	    {"ci:uids=4294967295", "tenant spec `ci:uids=4294967295`: `uids`: bad uid `4294967295`"},
	    {"ci:max_jobs=-1", "tenant spec `ci:max_jobs=-1`: `max_jobs` takes 0..4294967295"},
	    {"ci:max_jobs=4294967296", "tenant spec `ci:max_jobs=4294967296`: `max_jobs` takes"},
	    {"ci:max_snapshots=01", "tenant spec `ci:max_snapshots=01`: `max_snapshots` takes"},
	};
	struct err e = {0};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct tenants t;
		tenants_init(&t);
		ck_assert_msg(tenant_parse_spec(&t, bad[i].spec, &e) == -1, "`%s` taken", bad[i].spec);
		ck_assert_msg(!strncmp(e.msg, bad[i].msg, strlen(bad[i].msg)), "`%s`: %s", bad[i].spec,
			      e.msg);
		tenants_free(&t);
	}
	/* A tenant twice; TENANT_DEFAULT is only filled again. */
	struct tenants t;
	tenants_init(&t);
	ck_assert_int_eq(tenant_parse_spec(&t, "ci:uids=1", &e), 0);
	ck_assert_int_eq(tenant_parse_spec(&t, "ci:uids=2", &e), -1);
	ck_assert_str_eq(e.msg, "tenant spec `ci:uids=2`: tenant `ci` twice");
	ck_assert_int_eq(tenant_parse_spec(&t, "containerd:max_jobs=1", &e), 0);
	ck_assert_int_eq(tenant_parse_spec(&t, "containerd:max_jobs=2", &e), 0);
	ck_assert_uint_eq(t.n, 2);
	ck_assert_uint_eq(t.v[0].max_jobs, 2);
	ck_assert_int_eq(tenants_add(&t, TENANT_DEFAULT, &e), -1);
	tenants_free(&t);
}
END_TEST

/* Names in lists are the file's, resolved in the parent (names = 1). */
START_TEST(lists_take_names_and_spaces)
{
	struct tenants t;
	struct err e = {0};
	tenants_init(&t);
	ck_assert_int_eq(tenants_add(&t, "ci", &e), 0);
	ck_assert_msg(tenant_set(&t, "ci", "uids", " root , 1002,daemon ", 1, &e) == 0, "%s", e.msg);
	ck_assert_msg(tenant_set(&t, "ci", "gids", "daemon,\troot", 1, &e) == 0, "%s", e.msg);
	const struct tenant *ci = tenant_by_name(&t, "ci");
	ck_assert_uint_eq(ci->nuids, 3);
	ck_assert_uint_eq(ci->uids[0], 0);
	ck_assert_uint_eq(ci->uids[1], 1002);
	ck_assert_uint_eq(ci->uids[2], 1); /* daemon on Debian */
	ck_assert_uint_eq(ci->ngids, 2);
	ck_assert_uint_eq(ci->gids[0], 1);
	ck_assert_uint_eq(ci->gids[1], 0);
	/* A list replaces the one before; an empty one is none. */
	ck_assert_int_eq(tenant_set(&t, "ci", "uids", "7", 1, &e), 0);
	ck_assert_uint_eq(ci->nuids, 1);
	ck_assert_int_eq(tenant_set(&t, "ci", "gids", "  ", 1, &e), 0);
	ck_assert_uint_eq(ci->ngids, 0);

	ck_assert_int_eq(tenant_set(&t, "ci", "uids", "1, strata-no-such-user", 1, &e), -1);
	ck_assert_str_eq(e.msg, "`uids`: unknown user `strata-no-such-user`");
	ck_assert_int_eq(tenant_set(&t, "ci", "gids", "strata-no-such-group", 1, &e), -1);
	ck_assert_str_eq(e.msg, "`gids`: unknown group `strata-no-such-group`");
	/* A failed list leaves the one before. */
	ck_assert_uint_eq(ci->nuids, 1);
	ck_assert_int_eq(tenant_set(&t, "web", "uids", "1", 1, &e), -1);
	ck_assert_str_eq(e.msg, "no tenant `web`");
	tenants_free(&t);
}
END_TEST

START_TEST(share_values)
{
	static const char *const good[] = {"*", "bob", "bob,ci", "a,b.c,d-e_f", "containerd"};
	static const char *const bad[] = {"",	 ",",	  "bob,",  ",bob", "bob,,ci", "bob, ci", " bob",
					  "Bob", "*,bob", "bob,*", "**",   "bob ci",  "a/b"};
	struct err e = {0};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		ck_assert_msg(tenant_share_check(good[i], &e) == 0, "`%s`: %s", good[i], e.msg);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		e.code = ST_OK;
		ck_assert_msg(tenant_share_check(bad[i], &e) < 0, "`%s` taken", bad[i]);
		ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
		ck_assert_msg(strstr(e.msg, TENANT_SHARE_LABEL) != NULL, "%s", e.msg);
	}
	char longname[TENANT_NAME_MAX + 2];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	ck_assert_int_lt(tenant_share_check(longname, &e), 0);
	longname[TENANT_NAME_MAX] = '\0';
	ck_assert_int_eq(tenant_share_check(longname, &e), 0);
}
END_TEST

START_TEST(share_names_whom)
{
	ck_assert(tenant_share_includes("*", "bob"));
	ck_assert(tenant_share_includes("*", TENANT_DEFAULT));
	ck_assert(tenant_share_includes("bob", "bob"));
	ck_assert(tenant_share_includes("ci,bob", "bob"));
	ck_assert(tenant_share_includes("bob,ci", "ci"));
	/* Whole names only, never a prefix or a part. */
	ck_assert(!tenant_share_includes("bobby", "bob"));
	ck_assert(!tenant_share_includes("bob", "bobby"));
	ck_assert(!tenant_share_includes("ci,bob", "ci,b"));
	ck_assert(!tenant_share_includes("alice", "bob"));
	/* A malformed value names nobody, not even the names in it. */
	ck_assert(!tenant_share_includes("bob,", "bob"));
	ck_assert(!tenant_share_includes("bob, ci", "bob"));
	ck_assert(!tenant_share_includes("*,bob", "bob"));
	ck_assert(!tenant_share_includes("", "bob"));
	ck_assert(!tenant_share_includes(NULL, "bob"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tenant");
	TCase *tc = tcase_create("tenant");
	tcase_add_test(tc, init_holds_the_default);
	tcase_add_test(tc, names);
	tcase_add_test(tc, peers);
	tcase_add_test(tc, configured_by_members);
	tcase_add_test(tc, spec_round_trips);
	tcase_add_test(tc, spec_errors);
	tcase_add_test(tc, lists_take_names_and_spaces);
	tcase_add_test(tc, share_values);
	tcase_add_test(tc, share_names_whom);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
