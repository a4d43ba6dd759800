/* Writing the layer of a snapshot's changes: the native operation (the
 * client opened the output and passed its fd) behind `strata diff`.  A diff
 * worker reads the snapshot's upperdir read-only and writes the layer to that
 * fd; the broker checks the snapshot and reports the descriptor. */
#include <string.h>

#include "../common/layer.h"
#include "../common/util.h"
#include "broker.h"
#include "meta.h"
#include "parentlink.h"
#include "services.h"

static const struct {
	const char *media_type;
	int compression;
} diff_types[] = {
    {"application/vnd.oci.image.layer.v1.tar", 0},
    {"application/vnd.oci.image.layer.v1.tar+gzip", 1},
    {"application/vnd.oci.image.layer.v1.tar+zstd", 2},
};

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
	resp.media_type = r->media_type[0] ? r->media_type : (char *)diff_types[1].media_type;
	resp.digest = digest;
	resp.size = (int64_t)res->applied.compressed_size;
	resp.diff_id = diff_id;
	resp.uncompressed_size = (int64_t)res->applied.uncompressed_size;
	resp.entries = (int64_t)res->applied.entries;
	call_reply(c, &resp.base);
}

void svc_diff_layer(struct call *c)
{
	Strata__V1__DiffLayerRequest *r = (Strata__V1__DiffLayerRequest *)c->req;
	struct snap_info s = {0};
	struct err e;
	int compression = -1;
	const char *mt = r->media_type[0] ? r->media_type : diff_types[1].media_type;
	for (size_t i = 0; i < ARRAY_SIZE(diff_types); i++)
		if (!strcmp(mt, diff_types[i].media_type))
			compression = diff_types[i].compression;
	if (compression < 0)
		return call_fail(c, ST_UNIMPLEMENTED, "diff: unsupported media type `%s`", mt);
	if (meta_get(broker.meta, r->key, &s, &e) < 0)
		return call_fail_err(c, &e);
	uint64_t id = s.id;
	int kind = s.kind;
	int same_parent = !r->parent[0] || (s.parent && !strcmp(s.parent, r->parent));
	snap_info_free(&s);
	if (r->parent[0] && meta_get(broker.meta, r->parent, &s, &e) < 0)
		return call_fail(c, e.code, "diff: parent `%s`: %s", r->parent, e.msg);
	if (r->parent[0])
		snap_info_free(&s);
	if (kind == KIND_VIEW)
		return call_fail(c, ST_FAILED_PRECONDITION, "diff: `%s` is a view: it has no changes",
				 r->key);
	/* The layer of a snapshot against its own parent is its upperdir; two
	 * arbitrary snapshots walked side by side come next. */
	if (!same_parent)
		return call_fail(c, ST_UNIMPLEMENTED, "diff: against a snapshot other than `%s`'s parent",
				 r->key);
	struct job_spec spec = {
	    .role = ROLE_DIFF,
	    .target = id,
	    .input_fd = c->fds[0],
	    .diff_compression = compression,
	    .diff_has_epoch = r->has_source_date_epoch,
	    .diff_epoch = r->source_date_epoch,
	};
	if (!job_start(&spec, NULL, diffed, c, &e))
		return call_fail_err(c, &e);
}
