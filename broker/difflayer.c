/* Writing the layer of a snapshot's changes: the native operation (the
 * client opened the output and passed its fd) behind `strata diff`.  A diff
 * worker reads the snapshot's upperdir (or, against a snapshot other than its
 * parent, both merged trees) read-only and writes the layer to that fd; the
 * broker checks the snapshots and reports the descriptor. */
#include <string.h>

#include "../common/fdkind.h"
#include "../common/layer.h"
#include "../common/util.h"
#include "broker.h"
#include "meta.h"
#include "parentlink.h"
#include "services.h"

static void diffed(void *ctx, const struct job_result *res, const struct err *e)
{
	struct call *c = ctx;
	Strata__V1__DiffLayerRequest *r = (Strata__V1__DiffLayerRequest *)c->req;
	if (e)
		return call_fail(c, e->code, "diff `%s`: %s", r->key, e->msg);
	char digest[DIGEST_LEN + 1], diff_id[DIGEST_LEN + 1];
	digest_format(digest, res->applied.digest);
	digest_format(diff_id, res->applied.diff_id);
	Strata__V1__DiffLayerResponse resp;
	strata__v1__diff_layer_response__init(&resp);
	resp.done = 1;
	resp.media_type = r->media_type[0] ? r->media_type : (char *)LAYER_MEDIA_GZIP;
	resp.digest = digest;
	resp.size = (int64_t)res->applied.compressed_size;
	resp.diff_id = diff_id;
	resp.uncompressed_size = (int64_t)res->applied.uncompressed_size;
	resp.entries = (int64_t)res->applied.entries;
	call_reply(c, &resp.base);
}

/* A progress record: the tar bytes and entries written so far. */
static void diff_progress(void *ctx, uint64_t tar_bytes, uint64_t entries)
{
	Strata__V1__DiffLayerResponse resp;
	strata__v1__diff_layer_response__init(&resp);
	resp.uncompressed_size = (int64_t)tar_bytes;
	resp.entries = (int64_t)entries;
	call_send(ctx, &resp.base);
}

/* The tree of snapshot name: its own layer, then its parents'. */
static int snapshot_tree(const char *name, uint64_t **ids, size_t *n, int *kind, struct err *e)
{
	struct snap_info s = {0};
	cleanup_free uint64_t *parents = NULL;
	size_t np = 0;
	if (meta_get(broker.meta, name, &s, e) < 0)
		return -1;
	uint64_t id = s.id;
	if (kind)
		*kind = s.kind;
	snap_info_free(&s);
	if (meta_parent_ids(broker.meta, name, &parents, &np, e) < 0)
		return -1;
	*ids = xcalloc(np + 1, sizeof **ids);
	(*ids)[0] = id;
	memcpy(*ids + 1, parents, np * sizeof *parents);
	*n = np + 1;
	return 0;
}

void svc_diff_layer(struct call *c)
{
	Strata__V1__DiffLayerRequest *r = (Strata__V1__DiffLayerRequest *)c->req;
	struct err e;
	int compression = layer_create_compression(r->media_type);
	if (compression < 0)
		return call_fail(c, ST_UNIMPLEMENTED, "diff: unsupported media type `%s`", r->media_type);
	if (fd_kind(c->fds[0], &e) < 0 || fd_access(c->fds[0], 1, &e) < 0)
		return call_fail(c, e.code, "diff `%s`: the output: %s", r->key, e.msg);
	cleanup_free uint64_t *right = NULL, *left = NULL;
	size_t nr = 0, nl = 0;
	int kind;
	if (snapshot_tree(r->key, &right, &nr, &kind, &e) < 0)
		return call_fail_err(c, &e);
	if (r->parent[0] && snapshot_tree(r->parent, &left, &nl, NULL, &e) < 0)
		return call_fail(c, e.code, "diff: parent `%s`: %s", r->parent, e.msg);
	struct job_spec spec = {
	    .role = ROLE_DIFF,
	    .tenant = c->tenant,
	    .input_fd = c->fds[0],
	    .diff_compression = compression,
	    .diff_has_epoch = r->has_source_date_epoch,
	    .diff_epoch = r->source_date_epoch,
	    .handle = &c->job,
	};
	/* Without --parent: against KEY's own parents. */
	if (!r->parent[0]) {
		left = xcalloc(nr, sizeof *left);
		memcpy(left, right + 1, (nr - 1) * sizeof *left);
		nl = nr - 1;
	}
	/* Not of a tree a layer is being applied to (broker/snapguard.c). */
	for (size_t i = 0; i < nr + nl; i++) {
		uint64_t id = i < nr ? right[i] : left[i - nr];
		const char *key = i == 0 ? r->key : i == nr && r->parent[0] ? r->parent : "a parent";
		if (snapshot_guard(id, key, SNAP_DIFF, &e) < 0)
			return call_fail(c, e.code, "diff: %s", e.msg);
	}
	/* A view's own layer is empty: against its parent it has no changes. */
	if (kind == KIND_VIEW && diff_trees_fast(right, nr, left, nl))
		return call_fail(c, ST_FAILED_PRECONDITION, "diff: `%s` is a view: it has no changes",
				 r->key);
	if (diff_job_start(&spec, right, nr, left, nl, diffed, diff_progress, c, &e) < 0)
		return call_fail_err(c, &e);
}
