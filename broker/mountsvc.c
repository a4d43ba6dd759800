/* Snapshots as mount fds (native NM_MOUNT, NM_RELEASE).
 *
 * A mount worker builds the snapshot as a detached mount (worker/
 * role_mount.c) and the fd goes to the client with the reply; strata never
 * attaches it anywhere.  While a client holds it, the snapshot is "held":
 * Remove refuses with FailedPrecondition rather than wait, because a wait
 * would hang whoever removes (containerd's garbage collector, say) for as
 * long as any container runs, while a refusal says what is wrong and the
 * remover tries again later; Commit refuses while a hold is read-write, as
 * the snapshot would change after it was committed.  A hold ends when the
 * connection that asked closes (a client that dies releases what it held),
 * or, for a mount the client attached at a path (`strata mount`), when its
 * owner releases that path (`strata umount`) or the broker finds the mount
 * gone (broker/holds.c).  Holds of attached mounts are also kept in the
 * metadata and loaded at start-up: the mount outlives a restarted daemon. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "broker.h"
#include "holds.h"
#include "meta.h"
#include "mountcheck.h"
#include "parentlink.h"
#include "services.h"
#include "tenancy.h"

typedef Strata__V1__MountRequest MountReq;

struct mount_call {
	uint64_t hold;
	int kind;
	int read_only;
	size_t layers;
	int overlay; /* else a clone of one directory (a bind) */
};

/* An attached mount's hold is written to the metadata once the fd is about
 * to go out (the reply waits until it is durable), with the device of an
 * overlay: its own, while a bind's st_dev may differ from what mountinfo
 * shows (btrfs), so a bind matches any mount at its path. */
static int hold_attached(struct hold *h, const struct mount_call *mc, const struct stat *st, struct err *e)
{
	if (!h->path)
		return 0;
	h->dev = mc->overlay ? (uint64_t)st->st_dev : 0;
	return hold_save(h, e);
}

static void mounted(void *ctx, const struct job_result *res, const struct err *e)
{
	struct call *c = ctx;
	struct mount_call mc = *(struct mount_call *)c->state;
	MountReq *r = (MountReq *)c->req;
	free(c->state);
	c->state = NULL;
	struct hold **pp = hold_find(mc.hold);
	struct stat st;
	struct err se;
	if (e || !c->transport || !*pp) {
		/* Failed, or the client went away (and its hold with it). */
		if (*pp)
			hold_drop(pp);
		if (res->mount_fd >= 0)
			close(res->mount_fd);
		return e ? call_fail(c, e->code, "mount `%s`: %s", r->key, e->msg)
			 : call_fail(c, ST_CANCELLED, "mount `%s`: the client went away", r->key);
	}
	struct err ce;
	if (mount_fd_check(res->mount_fd, mc.read_only, &st, &ce) < 0) {
		hold_drop(pp);
		close(res->mount_fd);
		return call_fail(c, ce.code, "mount `%s`: %s", r->key, ce.msg);
	}
	if (hold_attached(*pp, &mc, &st, &se) < 0) {
		hold_drop(pp);
		close(res->mount_fd);
		return call_fail(c, se.code, "mount `%s`: %s", r->key, se.msg);
	}
	Strata__V1__MountResponse resp;
	strata__v1__mount_response__init(&resp);
	resp.type = mc.overlay ? "overlay" : "bind";
	resp.read_only = mc.read_only;
	resp.layers = (int64_t)mc.layers;
	resp.idmapped = r->n_uid_map > 0;
	c->reply_fd = res->mount_fd;
	call_reply(c, &resp.base);
}

/* Copies and checks one id map (1..IPC_MAX_ID_RANGES ranges). */
static int copy_map(Strata__V1__IdRange **in, size_t n, struct ipc_id_range *out, uint32_t *nout,
		    const char *which, struct err *e)
{
	if (n == 0 || n > IPC_MAX_ID_RANGES)
		return err_set(e, ST_INVALID_ARGUMENT, "mount: %s needs 1 to %d ranges, not %zu", which,
			       IPC_MAX_ID_RANGES, n);
	for (size_t i = 0; i < n; i++) {
		if (in[i]->count == 0 || (uint64_t)in[i]->inside + in[i]->count > UINT32_MAX ||
		    (uint64_t)in[i]->outside + in[i]->count > UINT32_MAX)
			return err_set(e, ST_INVALID_ARGUMENT, "mount: %s range %zu is empty or too large",
				       which, i + 1);
		out[i] = (struct ipc_id_range){in[i]->inside, in[i]->outside, in[i]->count};
	}
	*nout = (uint32_t)n;
	return 0;
}

/* An absolute path as realpath gives it: no empty, `.` or `..` component
 * and no trailing slash, so that it names the mount point as mountinfo
 * does and as Release will. */
static int path_canonical(const char *p)
{
	if (p[0] != '/' || strlen(p) >= 4096)
		return 0;
	for (const char *s = p; p[1] && *s;) {
		const char *name = s + 1;
		size_t n = strcspn(name, "/");
		if (n == 0 || (n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.'))
			return 0;
		s = name + n;
	}
	return 1;
}

/* The request's id maps into spec, and its attach path checked. */
static int mount_request(const MountReq *r, struct job_spec *spec, struct err *e)
{
	if ((r->n_uid_map > 0) != (r->n_gid_map > 0))
		return err_set(e, ST_INVALID_ARGUMENT, "mount: an id map needs both uid and gid ranges");
	if (r->n_uid_map &&
	    (copy_map(r->uid_map, r->n_uid_map, spec->uid_map, &spec->nuid_map, "uid map", e) < 0 ||
	     copy_map(r->gid_map, r->n_gid_map, spec->gid_map, &spec->ngid_map, "gid map", e) < 0))
		return -1;
	if (r->attach_path[0] && !path_canonical(r->attach_path))
		return err_set(
		    e, ST_INVALID_ARGUMENT,
		    "mount: the attach path must be absolute and canonical (as realpath gives it)");
	if (r->attach_path[0] && *hold_at(r->attach_path))
		return err_set(e, ST_ALREADY_EXISTS, "mount: `%s` already holds a strata mount",
			       r->attach_path);
	return 0;
}

void svc_mount(struct call *c)
{
	MountReq *r = (MountReq *)c->req;
	struct snap_info s = {0};
	struct err e = {0};
	struct job_spec spec = {.role = ROLE_MOUNT, .tenant = c->tenant, .handle = &c->job};
	if (mount_request(r, &spec, &e) < 0)
		return call_fail_err(c, &e);
	if (meta_get(broker.meta, r->key, &s, &e) < 0)
		return call_fail_err(c, &e);
	int kind = s.kind;
	spec.target = s.id;
	snap_info_free(&s);
	if (kind == KIND_COMMITTED)
		return call_fail(c, ST_FAILED_PRECONDITION,
				 "mount: `%s` is committed: mount a view of it (strata view KEY %s)", r->key,
				 r->key);
	cleanup_free uint64_t *parents = NULL;
	size_t np = 0;
	if (meta_parent_ids(broker.meta, r->key, &parents, &np, &e) < 0)
		return call_fail_err(c, &e);
	int read_only = kind == KIND_VIEW || r->read_only;
	spec.lower = parents;
	spec.nlower = np;
	if (kind == KIND_ACTIVE)
		spec.mount_flags |= IPC_SPAWN_MOUNT_OWN | (read_only ? 0 : IPC_SPAWN_MOUNT_RW);
	if (r->n_uid_map)
		spec.mount_flags |= IPC_SPAWN_MOUNT_IDMAP;
	/* A read-write fd may outlive every hold (its client keeps it after
	 * closing the connection): Commit then asks the kernel whether an
	 * overlay still uses the snapshot's upperdir (snapshots.c). */
	if ((spec.mount_flags & IPC_SPAWN_MOUNT_RW) && meta_written_put(broker.meta, spec.target, &e) < 0)
		return call_fail_err(c, &e);
	/* Held from now on, so that a Remove or Commit racing the worker is
	 * refused.  An attached mount's hold outlives the connection; whether
	 * the broker would see the mount at its path is judged now, while the
	 * client's mount table can be read (broker/holds.c). */
	const char *path = r->attach_path[0] ? r->attach_path : NULL;
	struct hold *h =
	    hold_add(&(struct hold){.snap = spec.target,
				    .conn = c->owner,
				    .uid = c->peer_uid,
				    .pid = c->peer_pid,
				    .rw = kind == KIND_ACTIVE && !read_only,
				    .path = (char *)path,
				    .ns = path ? holds_client_shares_view(c->peer_pid, path) : 0});
	struct mount_call *mc = xcalloc(1, sizeof *mc);
	*mc = (struct mount_call){.hold = h->id,
				  .kind = kind,
				  .read_only = read_only,
				  .layers = np + (kind == KIND_ACTIVE ? 1 : 0),
				  /* one layer is a bind, but a read-write one an overlay
				   * over an empty layer (worker/role_mount.c) */
				  .overlay = np + (kind == KIND_ACTIVE ? 1 : 0) > 1 ||
					     (spec.mount_flags & IPC_SPAWN_MOUNT_RW)};
	c->state = mc;
	if (!job_start(&spec, NULL, mounted, c, &e)) {
		free(c->state);
		c->state = NULL;
		hold_drop(hold_find(mc->hold));
		call_fail_err(c, &e);
	}
}

/* An attached mount's hold ends when its owner or root says so, mounted or
 * not: only they know whether they still need it. */
void svc_release(struct call *c)
{
	Strata__V1__ReleaseRequest *r = (Strata__V1__ReleaseRequest *)c->req;
	struct hold **pp = hold_at(r->attach_path);
	if (!*pp)
		return call_fail(c, ST_NOT_FOUND, "release: no strata mount is held at `%s`", r->attach_path);
	if (c->peer_uid != 0 && c->peer_uid != (*pp)->uid)
		return call_fail(
		    c, ST_PERMISSION_DENIED,
		    "release: the strata mount at `%s` is held by uid %u: only it or root may release it",
		    r->attach_path, (unsigned)(*pp)->uid);
	struct snap_info s = {0};
	char *key = meta_get_by_id(broker.meta, (*pp)->snap, &s, NULL) == 0 ? xstrdup(s.name) : xstrdup("");
	snap_info_free(&s);
	tenancy_strip(key); /* the key as its tenant named it */
	hold_drop(pp);
	Strata__V1__ReleaseResponse resp;
	strata__v1__release_response__init(&resp);
	resp.key = key;
	call_reply(c, &resp.base);
	free(key);
}
