/* Applying a layer to an active snapshot: the native operation (the client
 * opened the layer and passed its fd) behind `strata apply` and `strata
 * import`.  The layer is read and written by an extract worker; the broker
 * only checks the snapshot, hands the fd on and reports the digests. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/fdkind.h"
#include "../common/layer.h"
#include "../common/util.h"
#include "broker.h"
#include "meta.h"
#include "parentlink.h"
#include "rebase.h"
#include "services.h"

/* What an apply holds while it runs: its snapshot (broker/snapguard.c) and,
 * once it failed, what its caller will hear. */
struct applying {
	uint64_t id;
	int code;
	char msg[ERR_MSG_MAX];
};

/* The target is as it was, or marked (broker/applyfail.c): the guard ends
 * and the caller hears of the failure. */
static void apply_undone(void *ctx, const char *note)
{
	struct call *c = ctx;
	struct applying *a = c->state;
	c->state = NULL;
	snapshot_apply_end(a->id);
	call_fail(c, a->code, "%s%s", a->msg, note);
	free(a);
}

static void apply_failing(struct call *c, const struct job_result *res, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void apply_failing(struct call *c, const struct job_result *res, int code, const char *fmt, ...)
{
	Strata__V1__ApplyLayerRequest *r = (Strata__V1__ApplyLayerRequest *)c->req;
	struct applying *a = c->state;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->msg, sizeof a->msg, fmt, ap);
	va_end(ap);
	a->code = code;
	apply_failed(a->id, r->key, res, a->msg, apply_undone, c);
}

static void applied(void *ctx, const struct job_result *res, const struct err *e)
{
	struct call *c = ctx;
	Strata__V1__ApplyLayerRequest *r = (Strata__V1__ApplyLayerRequest *)c->req;
	if (e)
		return apply_failing(c, res, e->code, "apply to `%s`: %s", r->key, e->msg);
	char diff_id[DIGEST_LEN + 1], digest[DIGEST_LEN + 1] = "";
	digest_format(diff_id, res->applied.diff_id);
	if (!r->no_digest || r->expected_digest[0])
		digest_format(digest, res->applied.digest);
	/* The layer is written by now: one with another digest failed like
	 * any other (broker/applyfail.c). */
	if (r->expected_digest[0] && strcmp(r->expected_digest, digest))
		return apply_failing(c, res, ST_FAILED_PRECONDITION,
				     "apply to `%s`: layer digest %s, expected %s", r->key, digest,
				     r->expected_digest);
	struct applying *a = c->state;
	struct err de = {0};
	if (apply_succeeded(a->id, &de) < 0)
		return apply_failing(c, res, de.code, "apply to `%s`: %s", r->key, de.msg);
	c->state = NULL;
	snapshot_apply_end(a->id);
	free(a);
	Strata__V1__ApplyLayerResponse resp;
	strata__v1__apply_layer_response__init(&resp);
	resp.done = 1;
	resp.diff_id = diff_id;
	resp.digest = digest;
	resp.compressed_size = (int64_t)res->applied.compressed_size;
	resp.uncompressed_size = (int64_t)res->applied.uncompressed_size;
	resp.entries = (int64_t)res->applied.entries;
	resp.read = resp.compressed_size;
	call_reply(c, &resp.base);
}

static void progress(void *ctx, uint64_t read, uint64_t entries)
{
	Strata__V1__ApplyLayerResponse resp;
	strata__v1__apply_layer_response__init(&resp);
	resp.read = (int64_t)read;
	resp.entries = (int64_t)entries;
	call_send(ctx, &resp.base);
}

void svc_apply_layer(struct call *c)
{
	Strata__V1__ApplyLayerRequest *r = (Strata__V1__ApplyLayerRequest *)c->req;
	struct snap_info s = {0};
	struct err e;
	if (fd_kind(c->fds[0], &e) < 0 || fd_access(c->fds[0], 0, &e) < 0)
		return call_fail(c, e.code, "apply to `%s`: %s", r->key, e.msg);
	if (meta_get(broker.meta, r->key, &s, &e) < 0)
		return call_fail_err(c, &e);
	uint64_t id = s.id;
	int kind = s.kind, rebase = snapshot_rebased_later(&s);
	snap_info_free(&s);
	if (kind != KIND_ACTIVE)
		return call_fail(c, ST_FAILED_PRECONDITION, "apply: snapshot `%s` is not active", r->key);
	if (snapshot_guard(id, r->key, SNAP_APPLY, &e) < 0)
		return call_fail(c, e.code, "apply: %s", e.msg);
	cleanup_free uint64_t *lower = NULL;
	size_t nlower = 0;
	if (meta_parent_ids(broker.meta, r->key, &lower, &nlower, &e) < 0)
		return call_fail_err(c, &e);
	struct job_spec spec = {
	    .role = ROLE_EXTRACT,
	    .tenant = c->tenant,
	    .target = id,
	    .input_fd = c->fds[0],
	    .lower = lower,
	    .nlower = nlower,
	    .extract_rebase = rebase,
	    .extract_no_digest = r->no_digest && !r->expected_digest[0],
	    .handle = &c->job,
	};
	/* Written from now on: Commit, Remove, Diff and other applies of the
	 * snapshot wait until the job's end is reported (applied()). */
	struct applying *a = xcalloc(1, sizeof *a);
	a->id = id;
	c->state = a;
	snapshot_apply_begin(id);
	struct job *j = job_start(&spec, NULL, applied, c, &e);
	if (!j) {
		snapshot_apply_end(id);
		free(c->state);
		c->state = NULL;
		return call_fail_err(c, &e);
	}
	job_on_progress(j, progress);
}
