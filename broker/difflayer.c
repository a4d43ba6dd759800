/* Writing the layer of a snapshot's changes: the native operation (the
 * client opened the output and passed its fd) behind `strata diff`.  A diff
 * worker reads the snapshot's upperdir (or, against a snapshot other than its
 * parent, both merged trees) read-only and writes the layer to that fd; the
 * broker checks the snapshots and reports the descriptor. */
#include <string.h>

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

/* The general path's chains: KEY's parents, then the left tree (NAME and its
 * parents), in one array as the diff worker takes them. */
static int diff_chains(const char *key, const char *name, uint64_t **ids, size_t *n, size_t *nleft,
		       struct err *e)
{
	cleanup_free uint64_t *right = NULL, *left = NULL;
	size_t nright = 0, nl = 0;
	struct snap_info s = {0};
	if (meta_parent_ids(broker.meta, key, &right, &nright, e) < 0)
		return -1;
	if (meta_get(broker.meta, name, &s, e) < 0)
		return err_wrap(e, "diff: parent `%s`", name);
	uint64_t left_id = s.id;
	snap_info_free(&s);
	if (meta_parent_ids(broker.meta, name, &left, &nl, e) < 0)
		return -1;
	if (nright + 1 + nl > IPC_MAX_LOWER)
		return err_set(e, ST_INVALID_ARGUMENT, "diff: %zu layers in the two trees: at most %d",
			       nright + 1 + nl, IPC_MAX_LOWER);
	*ids = xcalloc(nright + 1 + nl, sizeof **ids);
	memcpy(*ids, right, nright * sizeof **ids);
	(*ids)[nright] = left_id;
	memcpy(*ids + nright + 1, left, nl * sizeof **ids);
	*n = nright + 1 + nl;
	*nleft = 1 + nl;
	return 0;
}

void svc_diff_layer(struct call *c)
{
	Strata__V1__DiffLayerRequest *r = (Strata__V1__DiffLayerRequest *)c->req;
	struct snap_info s = {0};
	struct err e;
	int compression = layer_create_compression(r->media_type);
	if (compression < 0)
		return call_fail(c, ST_UNIMPLEMENTED, "diff: unsupported media type `%s`", r->media_type);
	if (meta_get(broker.meta, r->key, &s, &e) < 0)
		return call_fail_err(c, &e);
	uint64_t id = s.id;
	int kind = s.kind;
	int same_parent = !r->parent[0] || (s.parent && !strcmp(s.parent, r->parent));
	snap_info_free(&s);
	/* Against its own parent, a snapshot's layer is its upperdir, read
	 * alone (fast path); a view has none.  Against any other snapshot both
	 * trees are merged and walked side by side (general path). */
	if (kind == KIND_VIEW && same_parent)
		return call_fail(c, ST_FAILED_PRECONDITION, "diff: `%s` is a view: it has no changes",
				 r->key);
	cleanup_free uint64_t *lower = NULL;
	size_t nlower = 0, nleft = 0;
	if (!same_parent && diff_chains(r->key, r->parent, &lower, &nlower, &nleft, &e) < 0)
		return call_fail_err(c, &e);
	struct job_spec spec = {
	    .role = ROLE_DIFF,
	    .target = id,
	    .input_fd = c->fds[0],
	    .lower = lower,
	    .nlower = nlower,
	    .nleft = nleft,
	    .diff_compression = compression,
	    .diff_has_epoch = r->has_source_date_epoch,
	    .diff_epoch = r->source_date_epoch,
	};
	if (!job_start(&spec, NULL, diffed, c, &e))
		return call_fail_err(c, &e);
}
