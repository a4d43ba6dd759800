/* The spawner's check of the broker's SPAWN requests (parent/spawncheck.c):
 * a good request of every role the table lets a SPAWN name passes, and each
 * rule, broken alone, is refused.  The broker is the attacker here. */
#include <check.h>
#include <string.h>

#include "common/util.h"
#include "parent/spawncheck.h"
#include "proto/roles.h"
#include "run_suite.h"

static struct ipc_spawn s;

/* A request the spawner serves: role r with what that role needs. */
static uint32_t good(int role)
{
	memset(&s, 0, sizeof s);
	s.job_id = 9;
	s.target = 100;
	s.role = (uint32_t)role;
	s.probe_syscall = 0;
	if (role == ROLE_PROBE) {
		s.probe_role = ROLE_USAGE;
		s.probe_syscall = -1;
	}
	const struct role_info *r = role_info(role);
	return r->input != INPUT_NONE ? IPC_SPAWN_INPUT : IPC_SPAWN;
}

static void refused(uint32_t type, const char *why)
{
	const char *bad = spawn_check(type, &s, 1);
	ck_assert_msg(bad != NULL, "accepted: %s", why);
}

START_TEST(good_requests_of_every_spawned_role_pass)
{
	size_t n = 0;
	for (const struct role_info *r = role_first(); r; r = role_next(r)) {
		if (r->process != PROC_WORKER)
			continue;
		uint32_t type = good(r->role);
		const char *bad = spawn_check(type, &s, 1);
		ck_assert_msg(bad == NULL, "%s refused: %s", r->name, bad);
		n++;
	}
	ck_assert_uint_eq(n, 7);
	/* The lower layers each role may take. */
	uint32_t type = good(ROLE_EXTRACT);
	s.nlower = IPC_MAX_LOWER;
	for (uint32_t i = 0; i < IPC_MAX_LOWER; i++)
		s.lower[i] = 1000 + i;
	ck_assert_ptr_null(spawn_check(type, &s, 1));
	type = good(ROLE_DIFF);
	s.nlower = 3, s.nleft = 2, s.lower[0] = 5, s.lower[1] = 100, s.lower[2] = 7;
	s.flags = IPC_SPAWN_DIFF_RESTART;
	s.diff_compression = 2, s.diff_has_epoch = 1, s.diff_epoch = 123;
	ck_assert_ptr_null(spawn_check(type, &s, 1)); /* the left tree may hold the target */
	type = good(ROLE_MOUNT);
	s.flags = IPC_SPAWN_MOUNT_OWN | IPC_SPAWN_MOUNT_RW | IPC_SPAWN_MOUNT_IDMAP;
	s.nuid_map = s.ngid_map = 1;
	s.uid_map[0] = s.gid_map[0] = (struct ipc_id_range){0, 100000, 65536};
	ck_assert_ptr_null(spawn_check(type, &s, 1));
	type = good(ROLE_MOUNT);
	s.flags = IPC_SPAWN_MOUNT_OWN | IPC_SPAWN_MOUNT_RW | IPC_SPAWN_MOUNT_INUSE;
	ck_assert_ptr_null(spawn_check(type, &s, 1));
	type = good(ROLE_REMOVE);
	s.flags = IPC_SPAWN_DROP_FIRST;
	s.nlower = 1, s.lower[0] = 101;
	ck_assert_ptr_null(spawn_check(type, &s, 1));
	type = good(ROLE_EXTRACT);
	s.flags = IPC_SPAWN_EXTRACT_REBASE; /* no lower layer: they come at commit */
	ck_assert_ptr_null(spawn_check(type, &s, 1));
}
END_TEST

START_TEST(roles_a_spawn_may_not_name)
{
	static const uint32_t bad_roles[] = {0, ROLE_PUBLISH, ROLE_FEED, ROLE_MAX + 1, 0xffffffffu};
	for (size_t i = 0; i < ARRAY_SIZE(bad_roles); i++) {
		good(ROLE_USAGE);
		s.role = bad_roles[i];
		refused(IPC_SPAWN, "a role no SPAWN names");
		refused(IPC_SPAWN_INPUT, "a role no SPAWN names, with an fd");
	}
}
END_TEST

START_TEST(ids_and_counts)
{
	good(ROLE_USAGE);
	s.job_id = 0;
	refused(IPC_SPAWN, "job id 0");
	good(ROLE_USAGE);
	s.target = 0;
	refused(IPC_SPAWN, "target 0");
	uint32_t type = good(ROLE_EXTRACT);
	s.nlower = IPC_MAX_LOWER + 1;
	refused(type, "more lower layers than a request holds");
	good(ROLE_USAGE);
	s.pad = 1;
	refused(IPC_SPAWN, "padding not zero");
	type = good(ROLE_EXTRACT);
	s.nlower = 2, s.lower[0] = 5, s.lower[1] = 0;
	refused(type, "lower layer 0");
	s.lower[1] = s.target;
	refused(type, "the target as its own parent");
}
END_TEST

START_TEST(inputs_match_the_role)
{
	for (const struct role_info *r = role_first(); r; r = role_next(r)) {
		if (r->process != PROC_WORKER)
			continue;
		uint32_t type = good(r->role);
		refused(type == IPC_SPAWN ? IPC_SPAWN_INPUT : IPC_SPAWN, r->name);
	}
}
END_TEST

START_TEST(flags_belong_to_their_role)
{
	static const uint32_t all[] = {IPC_SPAWN_DROP_FIRST,
				       IPC_SPAWN_MOUNT_RW,
				       IPC_SPAWN_MOUNT_IDMAP,
				       IPC_SPAWN_MOUNT_OWN,
				       IPC_SPAWN_DIFF_RESTART,
				       IPC_SPAWN_MOUNT_INUSE,
				       IPC_SPAWN_EXTRACT_REBASE,
				       1u << 7,
				       1u << 31};
	for (const struct role_info *r = role_first(); r; r = role_next(r)) {
		if (r->process != PROC_WORKER)
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
			if (r->flags & all[i])
				continue;
			uint32_t type = good(r->role);
			s.flags = all[i];
			refused(type, r->name);
		}
	}
	/* The flags' own rules. */
	uint32_t type = good(ROLE_MOUNT);
	s.flags = IPC_SPAWN_MOUNT_RW;
	refused(type, "MOUNT_RW without MOUNT_OWN");
	s.flags = IPC_SPAWN_MOUNT_OWN | IPC_SPAWN_MOUNT_INUSE;
	refused(type, "MOUNT_INUSE without MOUNT_RW");
	s.flags = IPC_SPAWN_MOUNT_OWN | IPC_SPAWN_MOUNT_RW | IPC_SPAWN_MOUNT_INUSE;
	s.nlower = 1, s.lower[0] = 5;
	refused(type, "MOUNT_INUSE with a lower layer");
	good(ROLE_MOUNT);
	s.flags = IPC_SPAWN_MOUNT_OWN | IPC_SPAWN_MOUNT_RW | IPC_SPAWN_MOUNT_INUSE | IPC_SPAWN_MOUNT_IDMAP;
	s.nuid_map = s.ngid_map = 1;
	s.uid_map[0] = s.gid_map[0] = (struct ipc_id_range){0, 100000, 65536};
	refused(type, "MOUNT_INUSE idmapped");
	type = good(ROLE_DIFF);
	s.flags = IPC_SPAWN_DIFF_RESTART;
	refused(type, "DIFF_RESTART on the fast path");
	type = good(ROLE_EXTRACT);
	s.flags = IPC_SPAWN_EXTRACT_REBASE;
	s.nlower = 1, s.lower[0] = 5;
	refused(type, "EXTRACT_REBASE with a lower layer");
}
END_TEST

START_TEST(id_maps)
{
	uint32_t type = good(ROLE_MOUNT);
	s.nuid_map = 1;
	s.uid_map[0] = (struct ipc_id_range){0, 100000, 1};
	refused(type, "a map without MOUNT_IDMAP");
	struct ipc_id_range ok = {0, 100000, 65536};
	const struct {
		uint32_t nu, ng;
		struct ipc_id_range r;
		const char *why;
	} cases[] = {
	    {0, 1, {0, 1, 1}, "no uid range"},
	    {1, 0, {0, 1, 1}, "no gid range"},
	    {IPC_MAX_ID_RANGES + 1, 1, {0, 1, 1}, "too many ranges"},
	    {1, 1, {0, 1, 0}, "an empty range"},
	    {1, 1, {0xffffff00u, 1, 0x1000}, "a range past the last id inside"},
	    {1, 1, {0, 0xffffff00u, 0x1000}, "a range past the last id outside"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		good(ROLE_MOUNT);
		s.flags = IPC_SPAWN_MOUNT_IDMAP;
		s.nuid_map = cases[i].nu, s.ngid_map = cases[i].ng;
		for (uint32_t k = 0; k < IPC_MAX_ID_RANGES; k++)
			s.uid_map[k] = s.gid_map[k] = ok;
		s.uid_map[0] = cases[i].r;
		if (cases[i].nu == 1 && cases[i].ng == 1)
			s.gid_map[0] = cases[i].r;
		refused(type, cases[i].why);
	}
}
END_TEST

START_TEST(probes)
{
	good(ROLE_PROBE);
	ck_assert_ptr_nonnull(spawn_check(IPC_SPAWN, &s, 0)); /* enable_probe off */
	for (const struct role_info *r = role_first(); r; r = role_next(r)) {
		good(ROLE_PROBE);
		s.probe_role = (uint32_t)r->role;
		const char *bad = spawn_check(IPC_SPAWN, &s, 1);
		ck_assert_msg((bad == NULL) == (r->probed != 0), "probe of %s: %s", r->name,
			      bad ? bad : "accepted");
	}
	good(ROLE_PROBE);
	s.probe_role = 0;
	refused(IPC_SPAWN, "probe of no role");
	good(ROLE_PROBE);
	s.probe_syscall = -2;
	refused(IPC_SPAWN, "syscall -2");
	s.probe_syscall = 4096;
	refused(IPC_SPAWN, "syscall 4096");
	good(ROLE_PROBE);
	s.probe_hold_ms = PROBE_MAX_HOLD_MS + 1;
	refused(IPC_SPAWN, "a hold past the limit");
	good(ROLE_PROBE);
	s.nlower = 1, s.lower[0] = 5;
	refused(IPC_SPAWN, "a probe with a lower layer");
	/* Probe fields on another role. */
	good(ROLE_USAGE);
	s.probe_role = ROLE_USAGE;
	refused(IPC_SPAWN, "probe_role on usage");
	good(ROLE_USAGE);
	s.probe_syscall = 1;
	refused(IPC_SPAWN, "probe_syscall on usage");
	good(ROLE_USAGE);
	s.probe_hold_ms = 1;
	refused(IPC_SPAWN, "probe_hold_ms on usage");
}
END_TEST

START_TEST(lower_layers_and_trees)
{
	for (const struct role_info *r = role_first(); r; r = role_next(r)) {
		if (r->process != PROC_WORKER || r->lowers != LOWERS_NONE)
			continue;
		uint32_t type = good(r->role);
		s.nlower = 1, s.lower[0] = 5;
		refused(type, r->name);
	}
	uint32_t type = good(ROLE_DIFF);
	s.nlower = 1, s.lower[0] = 5;
	refused(type, "diff lowers without a left tree");
	s.nleft = 2;
	refused(type, "a left tree longer than the lowers");
	s.nlower = 2, s.nleft = 1, s.lower[0] = s.target, s.lower[1] = 7;
	refused(type, "the target among its own parents");
	type = good(ROLE_EXTRACT);
	s.nlower = 1, s.nleft = 1, s.lower[0] = 5;
	refused(type, "a left tree for extract");
}
END_TEST

START_TEST(diff_options)
{
	for (const struct role_info *r = role_first(); r; r = role_next(r)) {
		if (r->process != PROC_WORKER || r->role == ROLE_DIFF)
			continue;
		uint32_t type = good(r->role);
		s.diff_compression = 1;
		refused(type, r->name);
		good(r->role);
		s.diff_has_epoch = 1;
		refused(type, r->name);
		good(r->role);
		s.diff_epoch = 1;
		refused(type, r->name);
	}
	uint32_t type = good(ROLE_DIFF);
	s.diff_compression = 3;
	refused(type, "compression 3");
	good(ROLE_DIFF);
	s.diff_has_epoch = 2;
	refused(type, "has_epoch 2");
}
END_TEST

/* What the other processes read of the table agrees with it. */
START_TEST(role_table_answers)
{
	ck_assert_uint_eq(role_result(ROLE_MOUNT, 0), IPC_JOB_MOUNT);
	ck_assert_uint_eq(role_result(ROLE_MOUNT, IPC_SPAWN_MOUNT_INUSE), IPC_JOB_DONE);
	ck_assert_uint_eq(role_result(ROLE_USAGE, 0), IPC_JOB_USAGE);
	ck_assert_uint_eq(role_result(0, 0), 0);
	for (const struct role_info *r = role_first(); r; r = role_next(r)) {
		ck_assert_int_eq(worker_role_by_name(r->name), r->role);
		ck_assert_ptr_eq(role_info(r->role), r);
		/* Every role but the feeder ends with exactly one success record
		 * that arrives on a job socket. */
		ck_assert_msg(r->role == ROLE_FEED || ipc_type_on(r->result, IPC_CH_JOB), "%s", r->name);
	}
	ck_assert_ptr_null(role_info(0));
	ck_assert_ptr_null(role_info(ROLE_MAX + 1));
	ck_assert_str_eq(worker_role_name(77), "unknown");
	good(ROLE_PROBE);
	s.probe_role = ROLE_MOUNT;
	ck_assert_ptr_eq(role_confinement(&s), role_info(ROLE_MOUNT));
	s.probe_role = ROLE_EXTRACT;
	ck_assert_ptr_null(role_confinement(&s));
	good(ROLE_REMOVE);
	char name[64];
	role_target_name(&s, name, sizeof name);
	ck_assert_str_eq(name, "rm-100");
	good(ROLE_PROBE);
	s.probe_role = ROLE_REMOVE;
	role_target_name(&s, name, sizeof name);
	ck_assert_str_eq(name, "100/fs");
}
END_TEST

/* A PUBLISH names an ingest and a digest the publisher builds paths from. */
START_TEST(publish_names)
{
	struct ipc_publish p = {.job_id = 3, .size = 10};
	memset(p.name, 'a', 64);
	memset(p.digest, '0', 64);
	ck_assert_ptr_null(publish_check(&p));
	p.job_id = 0;
	ck_assert_ptr_nonnull(publish_check(&p));
	p.job_id = 3;
	p.name[63] = 'A';
	ck_assert_ptr_nonnull(publish_check(&p));
	p.name[63] = 'a';
	p.digest[64] = '0'; /* 65 digits, no NUL */
	ck_assert_ptr_nonnull(publish_check(&p));
	p.digest[64] = '\0';
	p.pad[5] = 1;
	ck_assert_ptr_nonnull(publish_check(&p));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("spawncheck");
	TCase *tc = tcase_create("spawn");
	tcase_add_test(tc, good_requests_of_every_spawned_role_pass);
	tcase_add_test(tc, roles_a_spawn_may_not_name);
	tcase_add_test(tc, ids_and_counts);
	tcase_add_test(tc, inputs_match_the_role);
	tcase_add_test(tc, flags_belong_to_their_role);
	tcase_add_test(tc, id_maps);
	tcase_add_test(tc, probes);
	tcase_add_test(tc, lower_layers_and_trees);
	tcase_add_test(tc, diff_options);
	tcase_add_test(tc, role_table_answers);
	tcase_add_test(tc, publish_names);
	suite_add_tcase(su, tc);
	return run_suite(su);
}
