/* containerd's diff v1 service.
 *
 * Apply: the layer is read by digest from the content directory in
 * containerd's layout (content_root/blobs/sha256/HEX), opened read-only by the
 * parent after the digest is validated, and applied by an extract worker.
 * The mounts must be exactly the mounts strata issued for one of its active
 * snapshots: strata never mounts (or writes to) what a client describes, it
 * maps the mounts back to the snapshot and extracts into that.
 *
 * Diff: the left and right mounts must be mounts strata issued (an active
 * snapshot's, a view's, or a bind of one of its directories); they name two
 * trees of strata layers.  A diff worker writes the layer of their
 * difference into the content directory's ingest (opened by the parent);
 * a publisher, root side, hashes a copy of it that only it can write and
 * renames that copy to blobs/sha256/HEX if it has the digest and size the
 * diff worker reported (parent/publish.h).  The descriptor carries the request's
 * labels and containerd.io/uncompressed as annotations. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/hex.h"
#include "../common/layer.h"
#include "../common/sha256.h"
#include "../common/util.h"
#include "broker.h"
#include "meta.h"
#include "mounts.h"
#include "parentlink.h"
#include "rebase.h"
#include "services.h"
#include "tenancy.h"

typedef Containerd__Services__Diff__V1__ApplyRequest ApplyReq;

/* The snapshot id of a path ROOT/snapshots/ID/fs, or 0. */
static uint64_t path_snapshot_id(const char *path, size_t len)
{
	const char *dir = broker.snapshots_dir;
	size_t n = strlen(dir);
	if (len <= n || strncmp(path, dir, n) || path[n] != '/')
		return 0;
	uint64_t id = 0;
	const char *p = path + n + 1, *end = path + len;
	for (; p < end && *p >= '0' && *p <= '9' && id < UINT64_MAX / 10; p++)
		id = id * 10 + (uint64_t)(*p - '0');
	return end - p == 3 && !strncmp(p, "/fs", 3) ? id : 0;
}

/* The snapshot id a strata mount names: bind source or overlay upperdir. */
static uint64_t mount_snapshot_id(const MountMsg *m)
{
	const char *path = NULL;
	if (!strcmp(m->type, "bind"))
		path = m->source;
	for (size_t i = 0; !path && i < m->n_options; i++)
		if (!strncmp(m->options[i], "upperdir=", 9))
			path = m->options[i] + 9;
	return path ? path_snapshot_id(path, strlen(path)) : 0;
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

/* The active snapshot of tenant t the mounts were issued for, or
 * InvalidArgument (another tenant's snapshot is as unknown as none). */
static int snapshot_of_mounts(const struct tenant *t, MountMsg *const *mounts, size_t n, struct snap_info *s,
			      struct err *e)
{
	uint64_t id = n == 1 ? mount_snapshot_id(mounts[0]) : 0;
	struct mount_spec spec;
	if (id == 0 || meta_get_by_id(broker.meta, id, s, NULL) < 0)
		return err_set(e, ST_INVALID_ARGUMENT, "apply: the mounts are not mounts strata issued");
	if (!tenancy_owns(t, s->name)) {
		snap_info_free(s);
		return err_set(e, ST_INVALID_ARGUMENT, "apply: the mounts are not mounts strata issued");
	}
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
	uint64_t target; /* the snapshot written (broker/snapguard.c) */
	char *key;	 /* its name, for the log */
	int code;	 /* once failed: what the caller will hear */
	char msg[ERR_MSG_MAX];
};

static void diff_apply_free(struct call *c)
{
	struct diff_apply *da = c->state;
	c->state = NULL;
	snapshot_apply_end(da->target);
	free(da->key);
	free(da);
}

/* The target is as it was, or marked (broker/applyfail.c). */
static void diff_apply_undone(void *ctx, const char *note)
{
	struct call *c = ctx;
	struct diff_apply *da = c->state;
	int code = da->code;
	char msg[ERR_MSG_MAX];
	snprintf(msg, sizeof msg, "%s", da->msg);
	diff_apply_free(c);
	call_fail(c, code, "%s%s", msg, note);
}

static void diff_applied(void *ctx, const struct job_result *res, const struct err *e)
{
	struct call *c = ctx;
	struct diff_apply *da = c->state;
	char got[DIGEST_LEN + 1], diff_id[DIGEST_LEN + 1];
	digest_format(got, res->applied.digest);
	digest_format(diff_id, res->applied.diff_id);
	if (e) {
		da->code = e->code;
		snprintf(da->msg, sizeof da->msg, "apply %s: %.400s", da->digest, e->msg);
	} else if (strcmp(got, da->digest) ||
		   (da->size > 0 && (uint64_t)da->size != res->applied.compressed_size)) {
		/* Written by now: failed like any other (broker/applyfail.c). */
		da->code = ST_FAILED_PRECONDITION;
		snprintf(da->msg, sizeof da->msg, "apply: blob %s has digest %s and size %llu", da->digest,
			 got, (unsigned long long)res->applied.compressed_size);
	}
	struct err de = {0};
	if (!da->code && apply_succeeded(da->target, &de) < 0) {
		da->code = de.code;
		snprintf(da->msg, sizeof da->msg, "apply %s: %.400s", da->digest, de.msg);
	}
	if (da->code)
		return apply_failed(da->target, da->key, res, da->msg, diff_apply_undone, c);
	diff_apply_free(c);
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
	if (snapshot_of_mounts(c->tenant, r->mounts, r->n_mounts, &s, &e) < 0)
		return call_fail_err(c, &e);
	uint64_t id = s.id;
	int rebase = snapshot_rebased_later(&s);
	cleanup_free uint64_t *lower = NULL;
	size_t nlower = 0;
	int rc = meta_parent_ids(broker.meta, s.name, &lower, &nlower, &e);
	if (rc == 0 && (rc = snapshot_guard(id, s.name, SNAP_APPLY, &e)) < 0)
		err_wrap(&e, "apply");
	cleanup_free char *key = xstrdup(s.name);
	snap_info_free(&s);
	if (rc < 0)
		return call_fail_err(c, &e);
	uint64_t size;
	int blob = plink_open_blob(r->diff->digest + 7, &size, &e);
	if (blob < 0)
		return call_fail(c, e.code, "apply: content %s: %s", r->diff->digest, e.msg);
	struct diff_apply *da = xcalloc(1, sizeof *da);
	da->key = steal_pointer(&key);
	snprintf(da->digest, sizeof da->digest, "%s", r->diff->digest);
	da->size = r->diff->size;
	da->target = id;
	c->state = da;
	struct job_spec spec = {
	    .role = ROLE_EXTRACT,
	    .tenant = c->tenant,
	    .target = id,
	    .input_fd = blob,
	    .lower = lower,
	    .nlower = nlower,
	    .extract_rebase = rebase,
	    .handle = &c->job,
	};
	/* Written from now on, until diff_applied(). */
	snapshot_apply_begin(id);
	struct job *j = job_start(&spec, NULL, diff_applied, c, &e);
	close(blob);
	if (!j) {
		diff_apply_free(c);
		return call_fail_err(c, &e);
	}
}

/* ---- Diff ------------------------------------------------------------------ */

typedef Containerd__Services__Diff__V1__DiffRequest DiffReq;

/* The ids of lowerdir=A:B:... (all strata layer paths), or 0 entries. */
static size_t lowerdir_ids(const char *opt, uint64_t **ids)
{
	size_t n = 1, k = 0;
	for (const char *p = opt; *p; p++)
		n += *p == ':';
	*ids = xcalloc(n, sizeof **ids);
	for (const char *p = opt;; k++) {
		size_t len = strcspn(p, ":");
		if (((*ids)[k] = path_snapshot_id(p, len)) == 0)
			return 0;
		if (!p[len])
			return k + 1;
		p += len + 1;
	}
}

/* A bind strata issued: one snapshot's fs, "ro" or "rw", "rbind". */
static int bind_tree(const MountMsg *m, uint64_t **ids, size_t *nids)
{
	struct snap_info s = {0};
	uint64_t id = mount_snapshot_id(m);
	if (!id || m->n_options != 2 || strcmp(m->options[1], "rbind") ||
	    (strcmp(m->options[0], "ro") && strcmp(m->options[0], "rw")) ||
	    meta_get_by_id(broker.meta, id, &s, NULL) < 0)
		return -1;
	snap_info_free(&s);
	*ids = xcalloc(1, sizeof **ids);
	(*ids)[0] = id;
	*nids = 1;
	return 0;
}

/* An overlay strata issued: an active snapshot's (upperdir, its parents as
 * lowerdir) or a view's (lowerdir: a snapshot and its parents).  The chain
 * must be the metadata's and the options exactly those strata builds. */
static int overlay_tree(const MountMsg *m, uint64_t **ids, size_t *nids)
{
	uint64_t upper = mount_snapshot_id(m);
	cleanup_free uint64_t *lower = NULL, *parents = NULL;
	size_t nlower = 0, np = 0;
	for (size_t i = 0; i < m->n_options && !lower; i++)
		if (!strncmp(m->options[i], "lowerdir=", 9) &&
		    !(nlower = lowerdir_ids(m->options[i] + 9, &lower)))
			return -1;
	uint64_t top = upper ? upper : nlower ? lower[0] : 0;
	struct snap_info s = {0};
	if (!top || !nlower || meta_get_by_id(broker.meta, top, &s, NULL) < 0)
		return -1;
	int ok = meta_parent_ids(broker.meta, s.name, &parents, &np, NULL) == 0 &&
		 (upper ? s.kind == KIND_ACTIVE && np == nlower : np + 1 == nlower) &&
		 !memcmp(parents, upper ? lower : lower + 1, np * sizeof *parents);
	snap_info_free(&s);
	if (ok) {
		struct mount_opts mo = {.snapshots_dir = broker.snapshots_dir,
					.index_off = broker.opts->overlay_index_off};
		struct mount_spec want;
		mounts_build(&mo, upper ? KIND_ACTIVE : KIND_VIEW, top, lower, nlower, &want);
		ok = mounts_equal(m, &want);
		mounts_free(&want, 1);
	}
	if (!ok)
		return -1;
	*nids = nlower + (upper ? 1 : 0);
	*ids = xcalloc(*nids, sizeof **ids);
	(*ids)[0] = upper;
	memcpy(*ids + (upper ? 1 : 0), lower, nlower * sizeof *lower);
	return 0;
}

/* The layers (topmost first) of the tree that a mount strata issued shows.
 * Anything else is InvalidArgument: the diff worker reads only strata's own
 * snapshot directories. */
/* Whether the topmost snapshot of a tree (its lower layers are its parents)
 * is tenant t's. */
static int tree_owned(const struct tenant *t, const uint64_t *ids, size_t n)
{
	struct snap_info s = {0};
	size_t i = 0;
	while (i < n && !ids[i])
		i++; /* a view's tree has no upper layer */
	if (i == n || meta_get_by_id(broker.meta, ids[i], &s, NULL) < 0)
		return 0;
	int owned = tenancy_owns(t, s.name);
	snap_info_free(&s);
	return owned;
}

/* The layers (topmost first) of the tree that a mount strata issued for
 * tenant t shows.  Anything else is InvalidArgument, another tenant's
 * tree as much as a stranger's: the diff worker reads only strata's own
 * snapshot directories, and only the caller's. */
static int tree_of_mounts(const struct tenant *t, MountMsg *const *mounts, size_t n, const char *side,
			  uint64_t **ids, size_t *nids, struct err *e)
{
	const MountMsg *m = n == 1 ? mounts[0] : NULL;
	*ids = NULL;
	if (m && ((!strcmp(m->type, "bind") && bind_tree(m, ids, nids) == 0) ||
		  (!strcmp(m->type, "overlay") && overlay_tree(m, ids, nids) == 0))) {
		if (tree_owned(t, *ids, *nids))
			return 0;
		free(*ids);
		*ids = NULL;
	}
	return err_set(e, ST_INVALID_ARGUMENT, "diff: the %s mounts are not mounts strata issued", side);
}

/* A Diff reads whole trees: none of their layers may be half applied
 * (broker/snapguard.c). */
static int trees_guard(const uint64_t *left, size_t nl, const uint64_t *right, size_t nr, struct err *e)
{
	for (size_t i = 0; i < nl + nr && snapshot_guards(); i++) {
		uint64_t id = i < nl ? left[i] : right[i - nl];
		struct snap_info s = {0};
		/* The name only for the message. */
		if (!id || snapshot_guard(id, "", SNAP_DIFF, NULL) == 0 ||
		    meta_get_by_id(broker.meta, id, &s, NULL) < 0)
			continue;
		int rc = snapshot_guard(id, s.name, SNAP_DIFF, e);
		snap_info_free(&s);
		if (rc < 0)
			return err_wrap(e, "diff");
	}
	return 0;
}

/* One Diff in flight: a diff worker writes into the content store's ingest,
 * and a publisher makes a blob of it. */
struct diff_make {
	char name[65]; /* the ingest: hex sha256 of the ref */
	char ref[IPC_MSG_MAX];
	int compression;
	struct ipc_job_applied made;
};

static void diff_make_end(struct call *c, const struct err *e)
{
	struct diff_make *d = c->state;
	c->state = NULL;
	/* Published or not, the ingest is done with. */
	plink_ingest_abort(d->name, NULL);
	if (e) {
		call_fail(c, e->code, "diff %s: %s", d->ref, e->msg);
		free(d);
		return;
	}
	DiffReq *r = (DiffReq *)c->req;
	char digest[DIGEST_LEN + 1], diff_id[DIGEST_LEN + 1];
	digest_format(digest, d->made.digest);
	digest_format(diff_id, d->made.diff_id);
	/* The labels containerd's walking differ puts on the blob; with no
	 * metadata of its own beside the files, strata returns them as the
	 * descriptor's annotations. */
	size_t nann = r->n_labels + (d->compression ? 1 : 0);
	Containerd__Types__Descriptor__AnnotationsEntry *ann = xcalloc(nann + 1, sizeof *ann);
	Containerd__Types__Descriptor__AnnotationsEntry **annp = xcalloc(nann + 1, sizeof *annp);
	for (size_t i = 0; i < nann; i++) {
		containerd__types__descriptor__annotations_entry__init(&ann[i]);
		annp[i] = &ann[i];
		ann[i].key = i < r->n_labels ? r->labels[i]->key : "containerd.io/uncompressed";
		ann[i].value = i < r->n_labels ? r->labels[i]->value : diff_id;
	}
	Containerd__Types__Descriptor desc;
	containerd__types__descriptor__init(&desc);
	desc.media_type = r->media_type[0] ? r->media_type : LAYER_MEDIA_GZIP;
	desc.digest = digest;
	desc.size = (int64_t)d->made.compressed_size;
	desc.n_annotations = nann;
	desc.annotations = annp;
	Containerd__Services__Diff__V1__DiffResponse resp;
	containerd__services__diff__v1__diff_response__init(&resp);
	resp.diff = &desc;
	call_reply(c, &resp.base);
	free(annp);
	free(ann);
	free(d);
}

/* The publisher hashed its own copy of the ingest and, when it was what the
 * diff worker said it wrote, published it (or found the blob there). */
static void diff_published(void *ctx, const struct job_result *res, const struct err *e)
{
	struct call *c = ctx;
	struct diff_make *d = c->state;
	struct err ce = {0};
	if (e)
		return diff_make_end(c, e);
	/* The publisher compared them already; a second look costs nothing. */
	if (memcmp(res->applied.digest, d->made.digest, 32) ||
	    res->applied.compressed_size != d->made.compressed_size) {
		err_set(&ce, ST_INTERNAL, "the publisher read %llu bytes, not what the diff worker reported",
			(unsigned long long)res->applied.compressed_size);
		return diff_make_end(c, &ce);
	}
	diff_make_end(c, NULL);
}

static void diff_made(void *ctx, const struct job_result *res, const struct err *e)
{
	struct call *c = ctx;
	struct diff_make *d = c->state;
	struct err pe = {0};
	char digest[DIGEST_LEN + 1];
	if (e)
		return diff_make_end(c, e);
	d->made = res->applied;
	digest_format(digest, d->made.digest);
	struct job_spec spec = {.role = ROLE_PUBLISH,
				.tenant = c->tenant,
				.publish_size = d->made.compressed_size,
				.handle = &c->job};
	memcpy(spec.publish_name, d->name, sizeof spec.publish_name);
	memcpy(spec.publish_digest, digest + 7, sizeof spec.publish_digest);
	if (!job_start(&spec, NULL, diff_published, c, &pe))
		diff_make_end(c, &pe);
}

/* The ref names the ingest as in containerd's store (sha256 of the ref); a
 * Diff without one gets a unique ref of its own. */
static void ingest_name(struct diff_make *d, const char *ref)
{
	static uint64_t seq;
	if (ref && ref[0])
		snprintf(d->ref, sizeof d->ref, "%s", ref);
	else
		snprintf(d->ref, sizeof d->ref, "strata-diff-%d-%llu", (int)getpid(),
			 (unsigned long long)++seq);
	unsigned char h[32];
	sha256(d->ref, strlen(d->ref), h);
	hex_encode(h, sizeof h, d->name);
}

void svc_diff(struct call *c)
{
	DiffReq *r = (DiffReq *)c->req;
	struct err e = {0};
	int compression = layer_create_compression(r->media_type);
	if (compression < 0)
		return call_fail(c, ST_UNIMPLEMENTED, "unsupported diff media type: %s: not implemented",
				 r->media_type);
	if (r->ref && strlen(r->ref) >= IPC_MSG_MAX)
		return call_fail(c, ST_INVALID_ARGUMENT, "diff: a ref of %zu bytes: at most %d",
				 strlen(r->ref), IPC_MSG_MAX - 1);
	cleanup_free uint64_t *left = NULL, *right = NULL;
	size_t nl = 0, nr = 0;
	if (tree_of_mounts(c->tenant, r->left, r->n_left, "left", &left, &nl, &e) < 0 ||
	    tree_of_mounts(c->tenant, r->right, r->n_right, "right", &right, &nr, &e) < 0 ||
	    trees_guard(left, nl, right, nr, &e) < 0)
		return call_fail_err(c, &e);
	struct diff_make *d = xcalloc(1, sizeof *d);
	ingest_name(d, r->ref);
	d->compression = compression;
	int out = plink_ingest_open(d->name, d->ref, &e);
	if (out < 0) {
		free(d);
		return call_fail(c, e.code, "diff %s: %s", r->ref ? r->ref : "", e.msg);
	}
	c->state = d;
	struct job_spec spec = {.role = ROLE_DIFF,
				.tenant = c->tenant,
				.diff_compression = compression,
				.input_fd = out,
				.handle = &c->job};
	int rc = diff_job_start(&spec, right, nr, left, nl, diff_made, NULL, c, &e);
	close(out);
	if (rc < 0)
		diff_make_end(c, &e);
}
