/* broker/durable.c over a real metadata store, its committer thread and the
 * broker's event loop: nothing waiting for durability runs before the
 * commit of its batch (or of the batch already committing), writers parked
 * during a commit run after it in order, and what was answered is in the
 * store after a reopen. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/durable.h"
#include "broker/loop.h"
#include "broker/meta.h"
#include "common/util.h"
#include "run_suite.h"

/* One base directory for the run, made and removed by the unchecked
 * fixture in the runner process, so that it goes even when a test fails;
 * each test's store is a directory in it. */
static char base[] = "/tmp/strata-test-durable-XXXXXX";

static void base_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(base));
}

static void base_teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "test_durable: could not remove %s\n", base);
}

/* A fresh store directory under base (allocated). */
static char *store_dir(const char *name)
{
	char *d = xasprintf("%s/%s", base, name);
	ck_assert_int_eq(mkdir(d, 0700), 0);
	return d;
}
static volatile sig_atomic_t stop;
static char order[16];
static size_t norder;
static int sync_calls; /* callbacks that ran inside the call that registered them */
static int in_register;

static void note(char c)
{
	if (norder < sizeof order - 1)
		order[norder++] = c;
	if (in_register)
		sync_calls++;
}

static void create(const char *name)
{
	struct err e = {0};
	struct snap_info in = {.name = (char *)name, .kind = KIND_ACTIVE};
	ck_assert_int_ge(meta_next_id(broker.meta, &in.id, &e), 0);
	ck_assert_msg(meta_create(broker.meta, &in, NULL, &e) == 0, "%s", e.msg);
}

static void on_a(void *ctx, const struct err *e)
{
	ck_assert_ptr_null(e);
	note('a');
}

static void on_b(void *ctx, const struct err *e)
{
	ck_assert_ptr_null(e);
	note('b');
}

/* A writer parked while a batch commits: its change makes the next one. */
static void on_w(void *ctx, const struct err *e)
{
	ck_assert_ptr_null(e);
	note('w');
	create("w");
	in_register = 1;
	durable_then(on_b, NULL);
	in_register = 0;
}

static void on_last(void *ctx, const struct err *e)
{
	ck_assert_ptr_null(e);
	note('z');
	stop = 1;
}

/* Runs after the batch holding "a" was handed to the committer. */
static void while_committing(void *ctx)
{
	/* Nothing may be answered before that commit: not even a call that
	 * changed nothing itself (it may have read "a"). */
	ck_assert_int_eq(meta_pending(broker.meta), 0);
	in_register = 1;
	durable_then(on_a, NULL);
	in_register = 0;
	/* Runs at once if the commit is already done, else after it. */
	durable_when_writable(on_w, NULL);
}

static void first(void *ctx)
{
	create("a");
	in_register = 1;
	durable_then(on_a, NULL);
	in_register = 0;
	ck_assert_int_eq(meta_pending(broker.meta), 1);
	/* After the commit hand-over deferred by the batch's opening. */
	loop_defer(while_committing, NULL);
}

/* Everything committed by now: runs at once or after the last commit. */
static void finish(void *ctx)
{
	durable_then(on_last, NULL);
}

static void timeout(void *ctx)
{
	stop = 2;
}

START_TEST(waiters_run_after_their_commit)
{
	struct err e = {0};
	cleanup_free char *dir = store_dir("commit");
	ck_assert_int_eq(meta_open(&broker.meta, dir, &e), 0);
	ck_assert_int_eq(loop_init(), 0);
	ck_assert_msg(durable_init(&e) == 0, "%s", e.msg);
	struct loop_timer *t = loop_timer_new(timeout, NULL);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(loop_timer_arm(t, 10000), 0);
	struct loop_timer *f = loop_timer_new(finish, NULL);
	ck_assert_int_eq(loop_timer_arm(f, 200), 0);
	loop_defer(first, NULL);
	loop_run(&stop);
	ck_assert_msg(stop == 1, "timed out; ran `%s`", order);
	ck_assert_int_eq(sync_calls, 0);
	/* a's two waiters, then the writer's waiter and the last one; the
	 * writer ran before a's commit was seen or after it. */
	ck_assert_msg(!strcmp(order, "aawbz") || !strcmp(order, "waabz"), "ran `%s`", order);
	ck_assert_int_eq(durable_flush(&e), 0);
	meta_close(broker.meta);
	ck_assert_int_eq(meta_open(&broker.meta, dir, &e), 0);
	struct snap_info s;
	ck_assert_int_eq(meta_get(broker.meta, "a", &s, &e), 0);
	snap_info_free(&s);
	ck_assert_int_eq(meta_get(broker.meta, "w", &s, &e), 0);
	snap_info_free(&s);
	meta_close(broker.meta);
}
END_TEST

/* A flush between two batches (Prepare makes a block of ids durable at
 * once): each batch's deferred hand-over finds its own batch or none, and
 * none commits in the loop. */
static void on_q(void *ctx, const struct err *e)
{
	ck_assert_ptr_null(e);
	note('q');
	stop = 1;
}

static void after_handover(void *ctx)
{
	/* q's batch was handed to the committer, and nobody waited for it. */
	ck_assert_int_eq(meta_pending(broker.meta), 0);
	ck_assert_msg(norder == 0, "ran `%s` before q's commit was seen", order);
}

static void flush_between(void *ctx)
{
	struct err e = {0};
	create("p"); /* a batch opens: its hand-over is deferred */
	ck_assert_int_eq(durable_flush(&e), 0);
	create("q"); /* the next opens: another hand-over deferred */
	durable_then(on_q, NULL);
	loop_defer(after_handover, NULL);
}

START_TEST(a_flush_between_batches)
{
	struct err e = {0};
	cleanup_free char *d = store_dir("flush");
	ck_assert_int_eq(meta_open(&broker.meta, d, &e), 0);
	ck_assert_int_eq(loop_init(), 0);
	ck_assert_msg(durable_init(&e) == 0, "%s", e.msg);
	struct loop_timer *t = loop_timer_new(timeout, NULL);
	ck_assert_int_eq(loop_timer_arm(t, 10000), 0);
	loop_defer(flush_between, NULL);
	loop_run(&stop);
	ck_assert_msg(stop == 1, "timed out; ran `%s`", order);
	ck_assert_str_eq(order, "q");
	meta_close(broker.meta);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("durable");
	TCase *tc = tcase_create("group commit");
	tcase_set_timeout(tc, 30);
	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_test(tc, waiters_run_after_their_commit);
	tcase_add_test(tc, a_flush_between_batches);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
