/* The parent's check of the broker's requests (parent/ctlcheck.c): a good
 * body of every type passes, and each rule, broken alone, is refused.  The
 * broker is the attacker here. */
#include <check.h>
#include <string.h>

#include "parent/ctlcheck.h"
#include "proto/roles.h"
#include "run_suite.h"

static struct ipc_msg m;

/* A request the parent serves, of type t. */
static void good(uint32_t t)
{
	memset(&m, 0, sizeof m);
	m.type = t;
	switch (t) {
	case IPC_SNAP_CREATE:
		m.body.snap_create = (struct ipc_snap_create){.id = 7, .parent_id = 3, .active = 1};
		break;
	case IPC_SNAP_DROP:
		m.body.snap_drop = (struct ipc_snap_drop){.id = 7, .kind = SNAPDIR_NEW};
		break;
	case IPC_OPEN_BLOB:
		memset(m.body.open_blob.hex, 'f', 64);
		break;
	case IPC_INGEST_OPEN:
	case IPC_INGEST_ABORT:
		memset(m.body.ingest.name, '9', 64);
		if (t == IPC_INGEST_OPEN)
			strcpy(m.body.ingest.ref, "strata-diff-1");
		break;
	}
}

static void refused(const char *why)
{
	ck_assert_msg(ctl_check(&m) != NULL, "accepted: %s", why);
}

START_TEST(good_requests_pass)
{
	static const uint32_t types[] = {IPC_READY,	IPC_SNAP_CREATE, IPC_SNAP_DROP,	  IPC_SNAP_LIST,
					 IPC_OPEN_BLOB, IPC_INGEST_OPEN, IPC_INGEST_ABORT};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		good(types[i]);
		ck_assert_msg(ipc_type_on(types[i], IPC_CH_PARENT), "%s", ipc_type_name(types[i]));
		ck_assert_msg(ctl_check(&m) == NULL, "%s refused", ipc_type_name(types[i]));
	}
	good(IPC_SNAP_CREATE);
	m.body.snap_create.parent_id = 0;
	m.body.snap_create.active = 0;
	ck_assert_ptr_null(ctl_check(&m));
	good(IPC_SNAP_DROP);
	m.body.snap_drop.kind = SNAPDIR_LIVE;
	ck_assert_ptr_null(ctl_check(&m));
}
END_TEST

START_TEST(snapshot_directories)
{
	good(IPC_SNAP_CREATE);
	m.body.snap_create.id = 0;
	refused("create id 0");
	good(IPC_SNAP_CREATE);
	m.body.snap_create.active = 2;
	refused("create active 2");
	good(IPC_SNAP_CREATE);
	m.body.snap_create.pad = 1;
	refused("create pad");
	good(IPC_SNAP_CREATE);
	m.body.snap_create.parent_id = 7;
	refused("create its own parent");
	good(IPC_SNAP_DROP);
	m.body.snap_drop.id = 0;
	refused("drop id 0");
	good(IPC_SNAP_DROP);
	m.body.snap_drop.kind = SNAPDIR_RM;
	refused("drop of rm-ID");
	good(IPC_SNAP_DROP);
	m.body.snap_drop.pad = 1;
	refused("drop pad");
}
END_TEST

START_TEST(content_names)
{
	good(IPC_OPEN_BLOB);
	m.body.open_blob.hex[10] = 'F';
	refused("blob digest in upper case");
	good(IPC_OPEN_BLOB);
	m.body.open_blob.hex[64] = 'f';
	refused("blob digest of 65 digits");
	good(IPC_INGEST_OPEN);
	m.body.ingest.name[0] = '/';
	refused("ingest name with a slash");
	good(IPC_INGEST_OPEN);
	memset(m.body.ingest.ref, 'r', sizeof m.body.ingest.ref);
	refused("ref without its NUL");
	good(IPC_INGEST_OPEN);
	m.body.ingest.pad[6] = 1;
	refused("ingest pad");
	good(IPC_INGEST_ABORT);
	m.body.ingest.ref[0] = 'r';
	refused("abort with a ref");
}
END_TEST

int main(void)
{
	Suite *su = suite_create("ctlcheck");
	TCase *tc = tcase_create("ctl");
	tcase_add_test(tc, good_requests_pass);
	tcase_add_test(tc, snapshot_directories);
	tcase_add_test(tc, content_names);
	suite_add_tcase(su, tc);
	return run_suite(su);
}
