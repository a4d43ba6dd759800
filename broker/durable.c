#include "durable.h"

#include "../common/log.h"
#include "../common/util.h"
#include "broker.h"
#include "loop.h"
#include "meta.h"

struct waiter {
	durable_fn fn;
	void *ctx;
};

static struct waiter *waiters;
static size_t nwaiters, capwaiters;

static void flush_deferred(void *ctx)
{
	(void)ctx;
	durable_flush();
}

/* A batch began: commit it once the current batch of events is handled. */
static void batch_opened(void *ctx)
{
	(void)ctx;
	loop_defer(flush_deferred, NULL);
}

void durable_init(void)
{
	meta_set_group_commit(broker.meta, batch_opened, NULL);
}

void durable_then(durable_fn fn, void *ctx)
{
	if (!meta_pending(broker.meta)) {
		fn(ctx, NULL);
		return;
	}
	if (nwaiters == capwaiters)
		waiters = xrealloc(waiters, (capwaiters = capwaiters * 2 + 16) * sizeof *waiters);
	waiters[nwaiters++] = (struct waiter){fn, ctx};
}

void durable_flush(void)
{
	struct err e = {0};
	int rc = meta_flush(broker.meta, &e);
	if (rc < 0)
		log_err("%s", e.msg);
	/* Waiters may add waiters (they run with nothing pending, so at once). */
	struct waiter *w = steal_pointer(&waiters);
	size_t n = nwaiters;
	nwaiters = capwaiters = 0;
	for (size_t i = 0; i < n; i++)
		w[i].fn(w[i].ctx, rc < 0 ? &e : NULL);
	free(w);
}
