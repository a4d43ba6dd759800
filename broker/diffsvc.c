/* containerd's diff v1 service.
 *
 * Apply: the layer is read by digest from the content directory in
 * containerd's layout (content_root/blobs/sha256/HEX), opened read-only by the
 * parent after the digest is validated, and applied by an extract worker.
 * The mounts must be exactly the mounts strata issued for one of its active
 * snapshots: strata never mounts (or writes to) what a client describes, it
 * maps the mounts back to the snapshot and extracts into that.
 *
 * Diff: not implemented yet (Unimplemented, which containerd's proxy treats
 * as "use another differ"). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/layer.h"
#include "../common/util.h"
#include "broker.h"
#include "meta.h"
#include "mounts.h"
#include "parentlink.h"
#include "services.h"

typedef Containerd__Services__Diff__V1__ApplyRequest ApplyReq;

/* The snapshot id a strata mount names: bind source or overlay upperdir. */
static uint64_t mount_snapshot_id(const MountMsg *m)
{
	const char *dir = broker.snapshots_dir, *path = NULL;
	if (!strcmp(m->type, "bind"))
		path = m->source;
	for (size_t i = 0; !path && i < m->n_options; i++)
		if (!strncmp(m->options[i], "upperdir=", 9))
			path = m->options[i] + 9;
	size_t n = strlen(dir);
	if (!path || strncmp(path, dir, n) || path[n] != '/')
		return 0;
	uint64_t id = 0;
	const char *p = path + n + 1;
	for (; *p >= '0' && *p <= '9' && id < UINT64_MAX / 10; p++)
		id = id * 10 + (uint64_t)(*p - '0');
	return strcmp(p, "/fs") ? 0 : id;
}

static int mounts_equal(const MountMsg *a, const struct mount_spec *b)
{
	if (strcmp(a->type, b->type) || strcmp(a->source, b->source) || a->n_options != b->nopts)
		return 0;
	for (size_t i = 0; i < b->nopts; i++)
		if (strcmp(a->options[i], b->opts[i]))
			return 0;
	return 1;
}

/* The active snapshot the mounts were issued for, or InvalidArgument. */
static int snapshot_of_mounts(MountMsg *const *mounts, size_t n, struct snap_info *s, struct err *e)
{
	uint64_t id = n == 1 ? mount_snapshot_id(mounts[0]) : 0;
	struct mount_spec spec;
	if (id == 0 || meta_get_by_id(broker.meta, id, s, NULL) < 0)
		return err_set(e, ST_INVALID_ARGUMENT, "apply: the mounts are not mounts strata issued");
	int ok = s->kind == KIND_ACTIVE && snapshot_mounts(s->name, s, &spec, NULL) == 1;
	if (ok) {
		ok = mounts_equal(mounts[0], &spec);
		mounts_free(&spec, 1);
	}
	if (!ok) {
		snap_info_free(s);
		return err_set(e, ST_INVALID_ARGUMENT,
			       "apply: the mounts are not the mounts of an active strata snapshot");
	}
	return 0;
}

struct diff_apply {
	char digest[DIGEST_LEN + 1];
	int64_t size;
};

static void diff_applied(void *ctx, const struct job_result *res, const struct err *e)
{
	struct call *c = ctx;
	struct diff_apply da = *(struct diff_apply *)c->state;
	free(c->state);
	c->state = NULL;
	if (e)
		return call_fail(c, e->code, "apply %s: %s", da.digest, e->msg);
	char got[DIGEST_LEN + 1], diff_id[DIGEST_LEN + 1];
	digest_format(got, res->applied.digest);
	digest_format(diff_id, res->applied.diff_id);
	if (strcmp(got, da.digest) || (da.size > 0 && (uint64_t)da.size != res->applied.compressed_size))
		return call_fail(c, ST_FAILED_PRECONDITION, "apply: blob %s has digest %s and size %llu",
				 da.digest, got, (unsigned long long)res->applied.compressed_size);
	Containerd__Types__Descriptor applied;
	containerd__types__descriptor__init(&applied);
	applied.media_type = "application/vnd.oci.image.layer.v1.tar";
	applied.digest = diff_id;
	applied.size = (int64_t)res->applied.uncompressed_size;
	Containerd__Services__Diff__V1__ApplyResponse resp;
	containerd__services__diff__v1__apply_response__init(&resp);
	resp.applied = &applied;
	call_reply(c, &resp.base);
}

void svc_apply(struct call *c)
{
	ApplyReq *r = (ApplyReq *)c->req;
	struct snap_info s = {0};
	struct err e;
	if (!r->diff || !digest_valid(r->diff->digest))
		return call_fail(c, ST_INVALID_ARGUMENT, "apply: the descriptor needs a sha256 digest");
	if (!layer_media_type_known(r->diff->media_type))
		return call_fail(c, ST_UNIMPLEMENTED, "unsupported diff media type: %s: not implemented",
				 r->diff->media_type);
	if (snapshot_of_mounts(r->mounts, r->n_mounts, &s, &e) < 0)
		return call_fail_err(c, &e);
	uint64_t id = s.id;
	cleanup_free uint64_t *lower = NULL;
	size_t nlower = 0;
	int rc = meta_parent_ids(broker.meta, s.name, &lower, &nlower, &e);
	snap_info_free(&s);
	if (rc < 0)
		return call_fail_err(c, &e);
	uint64_t size;
	int blob = plink_open_blob(r->diff->digest + 7, &size, &e);
	if (blob < 0)
		return call_fail(c, e.code, "apply: content %s: %s", r->diff->digest, e.msg);
	struct diff_apply *da = xcalloc(1, sizeof *da);
	snprintf(da->digest, sizeof da->digest, "%s", r->diff->digest);
	da->size = r->diff->size;
	c->state = da;
	struct job_spec spec = {
	    .role = ROLE_EXTRACT, .target = id, .input_fd = blob, .lower = lower, .nlower = nlower};
	struct job *j = job_start(&spec, NULL, diff_applied, c, &e);
	close(blob);
	if (!j) {
		free(c->state);
		c->state = NULL;
		return call_fail_err(c, &e);
	}
}

void svc_diff(struct call *c)
{
	call_fail(c, ST_UNIMPLEMENTED, "diff service: Diff is not implemented yet");
}
