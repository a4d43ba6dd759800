/* Snapshots as mount fds (native NM_MOUNT, NM_RELEASE).
 *
 * A mount worker builds the snapshot as a detached mount (worker/
 * role_mount.c) and the fd goes to the client with the reply; strata never
 * attaches it anywhere.  While a client holds it, the snapshot is "held":
 * Remove refuses with FailedPrecondition rather than wait, because a wait
 * would hang whoever removes (containerd's garbage collector, say) for as
 * long as any container runs, while a refusal says what is wrong and the
 * remover tries again later.  A hold ends when the connection that asked
 * closes (a client that dies releases what it held), or, for a mount the
 * client attached at a path (`strata mount`), when Release names that path
 * (`strata umount`).  Holds of attached mounts are also kept in the
 * metadata and loaded at start-up: the mount outlives a restarted daemon. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "broker.h"
#include "meta.h"
#include "mountcheck.h"
#include "parentlink.h"
#include "services.h"

typedef Strata__V1__MountRequest MountReq;

struct hold {
	uint64_t id;   /* unique, so a call can find its pending hold again */
	uint64_t snap; /* snapshot id */
	void *owner;   /* the native connection; NULL for an attached mount */
	char *path;    /* attached mounts: where */
	struct hold *next;
};

static struct hold *holds;
static uint64_t next_hold;

unsigned mount_holds(uint64_t snapshot_id)
{
	unsigned n = 0;
	for (struct hold *h = holds; h; h = h->next)
		n += h->snap == snapshot_id || snapshot_id == 0;
	return n;
}

/* Ends a hold; an attached mount's also in the metadata. */
static void hold_drop(struct hold **pp)
{
	struct hold *h = *pp;
	struct err e;
	*pp = h->next;
	if (h->path && meta_hold_del(broker.meta, h->path, &e) < 0)
		log_warn("mount hold at `%s`: %s", h->path, e.msg);
	free(h->path);
	free(h);
}

static struct hold *hold_add(uint64_t snap, void *owner, const char *path)
{
	struct hold *h = xcalloc(1, sizeof *h);
	*h = (struct hold){.id = ++next_hold,
			   .snap = snap,
			   .owner = owner,
			   .path = path ? xstrdup(path) : NULL,
			   .next = holds};
	holds = h;
	return h;
}

static void hold_loaded(const char *path, uint64_t id, void *ctx)
{
	(void)ctx;
	hold_add(id, NULL, path);
}

void mount_holds_load(void)
{
	struct err e;
	if (meta_holds_walk(broker.meta, hold_loaded, NULL, &e) < 0)
		log_warn("mount holds: %s", e.msg);
	else if (holds)
		log_info("mount holds: %u attached mounts still held", mount_holds(0));
}

static struct hold **hold_find(uint64_t id)
{
	struct hold **pp = &holds;
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

void mount_holds_owner_gone(void *owner)
{
	for (struct hold **pp = &holds; *pp;)
		if ((*pp)->owner == owner && !(*pp)->path)
			hold_drop(pp);
		else
			pp = &(*pp)->next;
}

struct mount_call {
	uint64_t hold;
	int kind;
	int read_only;
	size_t layers;
};

static void mounted(void *ctx, const struct job_result *res, const struct err *e)
{
	struct call *c = ctx;
	struct mount_call mc = *(struct mount_call *)c->state;
	MountReq *r = (MountReq *)c->req;
	free(c->state);
	c->state = NULL;
	struct hold **pp = hold_find(mc.hold);
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
	if (mount_fd_check(res->mount_fd, mc.read_only, &ce) < 0) {
		hold_drop(pp);
		close(res->mount_fd);
		return call_fail(c, ce.code, "mount `%s`: %s", r->key, ce.msg);
	}
	Strata__V1__MountResponse resp;
	strata__v1__mount_response__init(&resp);
	resp.type = mc.layers > 1 ? "overlay" : "bind";
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

static int path_held(const char *path)
{
	for (struct hold *h = holds; h; h = h->next)
		if (h->path && !strcmp(h->path, path))
			return 1;
	return 0;
}

void svc_mount(struct call *c)
{
	MountReq *r = (MountReq *)c->req;
	struct snap_info s = {0};
	struct err e = {0};
	struct job_spec spec = {.role = ROLE_MOUNT};
	if ((r->n_uid_map > 0) != (r->n_gid_map > 0))
		return call_fail(c, ST_INVALID_ARGUMENT, "mount: an id map needs both uid and gid ranges");
	if (r->n_uid_map &&
	    (copy_map(r->uid_map, r->n_uid_map, spec.uid_map, &spec.nuid_map, "uid map", &e) < 0 ||
	     copy_map(r->gid_map, r->n_gid_map, spec.gid_map, &spec.ngid_map, "gid map", &e) < 0))
		return call_fail_err(c, &e);
	if (r->attach_path[0] && (r->attach_path[0] != '/' || strlen(r->attach_path) >= 4096))
		return call_fail(c, ST_INVALID_ARGUMENT, "mount: the attach path must be absolute");
	if (r->attach_path[0] && path_held(r->attach_path))
		return call_fail(c, ST_ALREADY_EXISTS, "mount: `%s` already holds a strata mount",
				 r->attach_path);
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
	/* Held from now on, so that a Remove racing the worker is refused; an
	 * attached mount's hold is kept in the metadata, as the mount outlives
	 * the broker. */
	const char *path = r->attach_path[0] ? r->attach_path : NULL;
	if (path && meta_hold_put(broker.meta, path, spec.target, &e) < 0)
		return call_fail_err(c, &e);
	struct hold *h = hold_add(spec.target, path ? NULL : c->owner, path);
	struct mount_call *mc = xcalloc(1, sizeof *mc);
	*mc = (struct mount_call){.hold = h->id,
				  .kind = kind,
				  .read_only = read_only,
				  .layers = np + (kind == KIND_ACTIVE ? 1 : 0)};
	c->state = mc;
	if (!job_start(&spec, NULL, mounted, c, &e)) {
		free(c->state);
		c->state = NULL;
		hold_drop(hold_find(mc->hold));
		call_fail_err(c, &e);
	}
}

void svc_release(struct call *c)
{
	Strata__V1__ReleaseRequest *r = (Strata__V1__ReleaseRequest *)c->req;
	struct hold **pp = &holds;
	while (*pp && !((*pp)->path && !strcmp((*pp)->path, r->attach_path)))
		pp = &(*pp)->next;
	if (!*pp)
		return call_fail(c, ST_NOT_FOUND, "release: no strata mount is held at `%s`", r->attach_path);
	struct snap_info s = {0};
	char *key = meta_get_by_id(broker.meta, (*pp)->snap, &s, NULL) == 0 ? xstrdup(s.name) : xstrdup("");
	snap_info_free(&s);
	hold_drop(pp);
	Strata__V1__ReleaseResponse resp;
	strata__v1__release_response__init(&resp);
	resp.key = key;
	call_reply(c, &resp.base);
	free(key);
}
