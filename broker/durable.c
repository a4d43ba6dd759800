#include "durable.h"

#include <errno.h>
#include <stdlib.h>

#include "../common/log.h"
#include "../common/util.h"
#include "broker.h"
#include "loop.h"
#include "meta.h"
#include "metrics.h"

struct waiter {
	durable_fn fn;
	void *ctx;
};

struct waiters {
	struct waiter *v;
	size_t n, cap;
};

static void waiters_add(struct waiters *w, durable_fn fn, void *ctx)
{
	w->v = xgrow(w->v, &w->cap, w->n, sizeof *w->v);
	w->v[w->n++] = (struct waiter){fn, ctx};
}

/* Runs and empties w (a waiter may add to any list meanwhile). */
static void waiters_run(struct waiters *w, const struct err *e)
{
	struct waiters run = *w;
	*w = (struct waiters){0};
	for (size_t i = 0; i < run.n; i++)
		run.v[i].fn(run.v[i].ctx, e);
	free(run.v);
}

/* current: changes in the batch the loop writes into; inflight: changes in
 * the batch being committed (seq); parked: writers waiting for a batch. */
static struct waiters current, inflight, parked;
static uint64_t inflight_seq;
static uint64_t inflight_ns; /* when it was handed to the committer */

/* The batch being committed is done: its waiters learn the outcome. */
static void inflight_finished(void)
{
	struct err e = {0};
	int rc = meta_commit_done(broker.meta, inflight_seq, &e);
	if (rc == 0)
		return;
	if (rc < 0)
		log_err("%s", e.msg);
	else
		metrics_meta_commit(now_ns_monotonic() - inflight_ns);
	inflight_seq = 0;
	waiters_run(&inflight, rc < 0 ? &e : NULL);
}

static void on_committed(void *ctx, uint32_t events)
{
	(void)ctx;
	meta_commit_drain(broker.meta);
	if (inflight_seq)
		inflight_finished();
	/* Writers parked during the commit go now, in order; their changes
	 * form the next batch. */
	if (!inflight_seq)
		waiters_run(&parked, NULL);
}

/* Hands the loop's batch to the committer (at most one commit at a time). */
static void commit_async(void *ctx)
{
	(void)ctx;
	if (!meta_pending(broker.meta)) {
		/* The batch this was deferred for went already: with an earlier
		 * call (a batch opened, durable_flush committed it, and another
		 * opened before either call ran), or with durable_flush, which
		 * ran its waiters. */
		waiters_run(&current, NULL);
		return;
	}
	if (inflight_seq)
		inflight_finished();
	if (inflight_seq) {
		/* The loop took a batch while one still commits, which the
		 * committer does not allow: commit both, waiting, rather than
		 * leave anyone waiting for a batch nobody commits. */
		log_err("metadata: a batch was open while another committed");
		durable_flush(NULL);
		return;
	}
	inflight_seq = meta_flush_async(broker.meta);
	inflight_ns = now_ns_monotonic();
	inflight = current;
	current = (struct waiters){0};
}

/* A batch began: commit it once the current batch of events is handled. */
static void batch_opened(void *ctx)
{
	(void)ctx;
	loop_defer(commit_async, NULL);
}

int durable_init(struct err *e)
{
	if (meta_set_group_commit(broker.meta, batch_opened, NULL, e) < 0)
		return -1;
	if (!loop_add(meta_commit_fd(broker.meta), EPOLLIN, on_committed, NULL))
		return err_errno(e, ST_INTERNAL, errno, "watch the metadata committer");
	return 0;
}

void durable_then(durable_fn fn, void *ctx)
{
	if (meta_pending(broker.meta))
		waiters_add(&current, fn, ctx);
	else if (inflight_seq)
		/* What the caller changed earlier, or read, may be in the batch
		 * being committed: after it, then. */
		waiters_add(&inflight, fn, ctx);
	else
		fn(ctx, NULL);
}

void durable_when_writable(durable_fn fn, void *ctx)
{
	if (!parked.n && meta_writable(broker.meta)) {
		fn(ctx, NULL);
		return;
	}
	waiters_add(&parked, fn, ctx);
}

int durable_flush(struct err *e)
{
	int ret = 0;
	/* Writers parked for the commit in flight run after it, and their
	 * changes make one more batch. */
	for (int round = 0; round < 2; round++) {
		struct err fe = {0};
		int rc = meta_flush(broker.meta, &fe); /* waits for a commit in flight too */
		if (inflight_seq)
			inflight_finished();
		if (rc < 0) {
			log_err("%s", fe.msg);
			if (e && ret == 0)
				*e = fe;
			ret = -1;
		}
		waiters_run(&current, rc < 0 ? &fe : NULL);
		if (!parked.n)
			break;
		waiters_run(&parked, NULL);
	}
	return ret;
}
