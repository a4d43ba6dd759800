/* containerd's snapshots v1 service: Prepare, View, Mounts, Commit, Remove,
 * Usage and Cleanup (Stat, Update and List are in snapinfo.c).
 *
 * Ordering, so that a crash at any point loses nothing committed and leaves
 * at worst an orphan directory (removed by start-up and Cleanup):
 *   create: reserve id (durable) -> parent creates snapshots/ID -> metadata
 *           record -> batch commit -> answer
 *   remove: metadata record deleted -> batch commit -> parent renames ID to
 *           rm-ID -> answer; a remove worker then deletes rm-ID
 * (durable.h: no answer and no rename before the metadata is durable).
 * A create whose batch fails to commit (a full file system) drops the
 * directory it made, so a failed Prepare leaves nothing behind.
 *
 * A full file system is an error, never a wedge: Prepare and View refuse
 * first (ResourceExhausted naming ROOT and what ran out) and create
 * nothing, while Remove and Cleanup go on: the metadata store keeps room for
 * removals (broker/meta_space.c), renames need no space, and the remove
 * worker frees it.  Cleanup returns once the removed trees are gone.
 * Metadata transactions never span a wait: the usage measured for Commit is
 * taken first, then the commit is one transaction that re-checks everything. */
#include <string.h>

#include "../common/log.h"
#include "../common/util.h"
#include "broker.h"
#include "convert.h"
#include "durable.h"
#include "idset.h"
#include "loop.h"
#include "meta.h"
#include "mounts.h"
#include "parentlink.h"
#include "rebase.h"
#include "services.h"
#include "space.h"
#include "tenancy.h"

/* Ids whose directory a remove worker is deleting, so that a sweep running
 * meanwhile does not start a second one; and ids of a Prepare or View whose
 * directory exists before its record does (the parent made it, the record
 * waits for its batch), which a sweep must not take for an orphan. */
static struct idset removing, creating;

static int removing_has(uint64_t id)
{
	return idset_has(&removing, id);
}

static void removing_add(uint64_t id)
{
	idset_add(&removing, id);
}

static void removing_del(uint64_t id)
{
	idset_del(&removing, id);
}

/* Directories waiting to be deleted, in two queues: removed snapshots
 * (their live ID is renamed to rm-ID first) and swept orphans (already
 * rm-ID).  Each queue has at most one remove job at a time, which takes
 * everything queued when it starts: the spawner deletes bare skeletons
 * itself, and one worker empties the rest of the batch.  A worker costs
 * more than emptying a small tree, so one fork should serve many Removes:
 * a removed snapshot's directory waits up to REMOVE_DELAY_MS (or until
 * REMOVE_BATCH are queued) for others to join it.  The Remove was answered
 * already; only the disk space comes back that much later.  Swept orphans
 * go at once (Cleanup waits for them). */
#define REMOVE_DELAY_MS 50
#define REMOVE_BATCH	64
struct removal {
	uint64_t id;
	void (*done)(void *ctx);
	void *ctx;
};

static struct removal_queue {
	struct removal *q;
	size_t n, cap;
	int running;
} removals[2];

struct removal_batch {
	int drop_first;
	size_t n;
	struct removal r[];
};

static void removal_kick(int drop_first);
static struct loop_timer *removal_timer;

/* Called once no removed snapshot's directory waits or is being deleted. */
static struct drained {
	void (*fn)(void *ctx);
	void *ctx;
} * drained;
static size_t ndrained;

static void removals_drained_run(void)
{
	struct removal_queue *rq = &removals[1];
	if (rq->running || rq->n)
		return;
	struct drained *d = drained;
	size_t n = ndrained;
	drained = NULL;
	ndrained = 0;
	for (size_t i = 0; i < n; i++)
		d[i].fn(d[i].ctx);
	free(d);
}

/* Runs fn(ctx) once the removed snapshots' directories queued so far are
 * deleted (or failed to be, left to the sweep), starting their job now. */
static void removals_drained(void (*fn)(void *ctx), void *ctx)
{
	drained = xrealloc(drained, (ndrained + 1) * sizeof *drained);
	drained[ndrained++] = (struct drained){fn, ctx};
	removal_kick(1);
	removals_drained_run();
}

static void removal_timer_fired(void *ctx)
{
	(void)ctx;
	removal_kick(1);
}

/* Starts the removed snapshots' batch now when it is full, else within
 * REMOVE_DELAY_MS. */
static void removal_schedule(void)
{
	struct removal_queue *rq = &removals[1];
	if (rq->running || rq->n == 0)
		return;
	if (rq->n < REMOVE_BATCH && !removal_timer)
		removal_timer = loop_timer_new(removal_timer_fired, NULL);
	if (rq->n >= REMOVE_BATCH || !removal_timer || loop_timer_arm(removal_timer, REMOVE_DELAY_MS) < 0)
		removal_kick(1);
}

static void removal_batch_done(void *ctx, const struct job_result *res, const struct err *e)
{
	struct removal_batch *b = ctx;
	if (e)
		log_warn("removing %zu snapshot director%s (rm-%llu%s): %s", b->n, b->n == 1 ? "y" : "ies",
			 (unsigned long long)b->r[0].id, b->n == 1 ? "" : ", ...", e->msg);
	for (size_t i = 0; i < b->n; i++) {
		removing_del(b->r[i].id);
		if (b->r[i].done)
			b->r[i].done(b->r[i].ctx);
	}
	int drop_first = b->drop_first;
	free(b);
	removals[drop_first].running = 0;
	if (drop_first) {
		if (ndrained)
			removal_kick(1);
		removal_schedule();
		removals_drained_run();
	} else {
		removal_kick(0);
	}
}

/* Starts a remove job for what is queued, unless one runs. */
static void removal_kick(int drop_first)
{
	struct removal_queue *rq = &removals[drop_first];
	if (rq->running || rq->n == 0)
		return;
	size_t n = rq->n < IPC_MAX_LOWER + 1 ? rq->n : IPC_MAX_LOWER + 1;
	struct removal_batch *b = xcalloc(1, sizeof *b + n * sizeof b->r[0]);
	uint64_t ids[IPC_MAX_LOWER + 1];
	b->drop_first = drop_first;
	b->n = n;
	memcpy(b->r, rq->q, n * sizeof b->r[0]);
	memmove(rq->q, rq->q + n, (rq->n - n) * sizeof rq->q[0]);
	rq->n -= n;
	for (size_t i = 0; i < n; i++)
		ids[i] = b->r[i].id;
	struct job_spec spec = {.role = ROLE_REMOVE,
				.target = ids[0],
				.lower = ids + 1,
				.nlower = n - 1,
				.drop_first = drop_first};
	struct err e;
	rq->running = 1;
	if (!job_start(&spec, NULL, removal_batch_done, b, &e))
		removal_batch_done(b, NULL, &e);
}

void remove_dir_async(uint64_t id, int drop_first, void (*done)(void *), void *ctx)
{
	struct removal_queue *rq = &removals[drop_first ? 1 : 0];
	removing_add(id);
	if (rq->n == rq->cap)
		rq->q = xrealloc(rq->q, (rq->cap = rq->cap * 2 + 16) * sizeof *rq->q);
	rq->q[rq->n++] = (struct removal){id, done, ctx};
	if (drop_first)
		removal_schedule();
	else
		removal_kick(0);
}

/* ---- Prepare / View ---------------------------------------------------------- */

int snapshot_mounts(const char *key, const struct snap_info *s, struct mount_spec *m, struct err *e)
{
	cleanup_free uint64_t *parents = NULL;
	size_t nparents = 0;
	if (meta_parent_ids(broker.meta, key, &parents, &nparents, e) < 0)
		return -1;
	struct mount_opts mo = {
	    .snapshots_dir = broker.snapshots_dir,
	    .index_off = broker.opts->overlay_index_off,
	};
	return (int)mounts_build(&mo, s->kind, s->id, parents, nparents, m);
}

static void reply_mounts(struct call *c, const struct mount_spec *m, size_t n)
{
	/* Prepare, View and Mounts responses have the same layout: repeated Mount mounts = 1. */
	Containerd__Services__Snapshots__V1__MountsResponse resp;
	containerd__services__snapshots__v1__mounts_response__init(&resp);
	resp.base.descriptor = c->m->resp;
	resp.n_mounts = n;
	resp.mounts = mount_msgs_new(m, n);
	call_reply(c, &resp.base);
	mount_msgs_free(resp.mounts, n);
}

/* A Prepare or View between asking the parent for the directory and
 * writing the record, then until the record is durable. */
struct create {
	int kind;
	uint64_t id;
	struct snap_info out;
};

/* The fields Prepare and View requests share. */
struct create_req {
	const char *key, *parent; /* parent NULL when empty */
	void *const *labels;
	size_t nlabels;
};

static struct create_req create_req_of(const struct call *c)
{
	if (c->m->id == NM_VIEW) {
		const ViewReq *v = (const ViewReq *)c->req;
		return (struct create_req){v->key, v->parent[0] ? v->parent : NULL, (void *const *)v->labels,
					   v->n_labels};
	}
	const PrepareReq *p = (const PrepareReq *)c->req;
	return (struct create_req){p->key, p->parent[0] ? p->parent : NULL, (void *const *)p->labels,
				   p->n_labels};
}

static void prepare_or_view_reply(struct call *c, const struct snap_info *s)
{
	struct mount_spec m;
	struct err e;
	int n = snapshot_mounts(s->name, s, &m, &e);
	if (n < 0)
		return call_fail_err(c, &e);
	reply_mounts(c, &m, (size_t)n);
	mounts_free(&m, (size_t)n);
}

/* The record's batch is committed, or failed to be: then the record is
 * lost with it, and the directory goes too. */
static void create_durable(void *ctx, const struct err *de)
{
	struct call *c = ctx;
	struct create *cr = c->state;
	c->state = NULL;
	idset_del(&creating, cr->id);
	if (de) {
		remove_dir_async(cr->id, 1, NULL, NULL);
		call_fail(c, de->code, "creating snapshot `%s`: %s", cr->out.name, de->msg);
	} else {
		prepare_or_view_reply(c, &cr->out);
	}
	snap_info_free(&cr->out);
	free(cr);
}

/* The directory exists: the record, then, once it is durable, the mounts.
 * Between the two, a crash leaves only a directory without a record, which
 * start-up and Cleanup remove. */
static void create_record(void *ctx, const struct err *unused)
{
	struct call *c = ctx;
	struct create *cr = c->state;
	struct create_req r = create_req_of(c);
	struct snap_info in = {
	    .kind = cr->kind, .name = (char *)r.key, .parent = (char *)r.parent, .id = cr->id};
	struct err e;
	in.labels = labels_from_entries(r.labels, r.nlabels);
	in.nlabels = r.nlabels;
	/* The tenant's limit, checked again where the count changes: other
	 * Prepares may have taken the room since this one began. */
	int rc = tenancy_room(c->tenant, &e);
	if (rc == 0 && (rc = meta_create(broker.meta, &in, &cr->out, &e)) == 0)
		tenancy_counted(in.name, 1);
	labels_free(in.labels, in.nlabels);
	if (rc < 0) {
		/* The directory has no metadata: hand it to a remove worker now. */
		idset_del(&creating, cr->id);
		remove_dir_async(cr->id, 1, NULL, NULL);
		free(cr);
		c->state = NULL;
		return call_fail_err(c, &e);
	}
	durable_then(create_durable, c);
}

/* The parent made the directory (or could not): the record is written when
 * no commit is in flight, so that the loop serves others meanwhile. */
static void dir_created(void *ctx, const struct err *de)
{
	struct call *c = ctx;
	if (de) {
		struct create_req r = create_req_of(c);
		struct err e = *de;
		idset_del(&creating, ((struct create *)c->state)->id);
		free(c->state);
		c->state = NULL;
		space_explain(&e, -1, NULL);
		return call_fail(c, e.code, "creating snapshot directory for `%s`: %s", r.key, e.msg);
	}
	durable_when_writable(create_record, c);
}

/* Checks what the metadata would refuse, then asks the parent for the
 * directory without waiting: the broker serves other calls meanwhile. */
static void prepare_or_view(struct call *c, int kind)
{
	struct create_req r = create_req_of(c);
	struct snap_info p = {0};
	uint64_t parent_id = 0, id;
	struct err e;
	if (!r.key || !r.key[0])
		return call_fail(c, ST_INVALID_ARGUMENT, "snapshot key must not be empty");
	struct label *l = labels_from_entries(r.labels, r.nlabels);
	int shareable = tenancy_share_ok(r.key, kind, tenancy_share_value(l, r.nlabels), &e);
	labels_free(l, r.nlabels);
	if (shareable < 0)
		return call_fail_err(c, &e);
	if (meta_get(broker.meta, r.key, &p, NULL) == 0) {
		snap_info_free(&p);
		return call_fail(c, ST_ALREADY_EXISTS, "snapshot %s: already exists", r.key);
	}
	if (r.parent) {
		if (meta_get(broker.meta, r.parent, &p, &e) < 0)
			return call_fail(c, ST_NOT_FOUND, "missing parent %s: not found", r.parent);
		parent_id = p.id;
		int pkind = p.kind;
		snap_info_free(&p);
		if (pkind != KIND_COMMITTED)
			return call_fail(c, ST_INVALID_ARGUMENT, "parent %s is not committed snapshot",
					 r.parent);
	}
	/* On a full file system nothing is made: the store's room first (it
	 * keeps some for removals), then ROOT's (a directory and its fs and
	 * work take three inodes). */
	if (tenancy_room(c->tenant, &e) < 0)
		return call_fail_err(c, &e);
	if (meta_room(broker.meta, 0, &e) < 0 || space_room(3, &e) < 0)
		return call_fail(c, e.code, "creating snapshot `%s`: %s", r.key, e.msg);
	int fresh = meta_next_id(broker.meta, &id, &e);
	if (fresh < 0)
		return call_fail_err(c, &e);
	/* A block of ids reserved just now is made durable before a directory
	 * takes one of them (a crash must not hand them out again). */
	if (fresh && durable_flush(&e) < 0) {
		meta_forget_ids(broker.meta);
		return call_fail(c, e.code, "reserving snapshot ids: %s", e.msg);
	}
	struct create *cr = xcalloc(1, sizeof *cr);
	cr->kind = kind;
	cr->id = id;
	c->state = cr;
	idset_add(&creating, id);
	if (plink_snap_create(id, parent_id, kind == KIND_ACTIVE, dir_created, c, &e) < 0) {
		idset_del(&creating, id);
		free(c->state);
		c->state = NULL;
		return call_fail(c, e.code, "creating snapshot directory for `%s`: %s", r.key, e.msg);
	}
}

void svc_prepare(struct call *c)
{
	prepare_or_view(c, KIND_ACTIVE);
}

void svc_view(struct call *c)
{
	prepare_or_view(c, KIND_VIEW);
}

void svc_mounts(struct call *c)
{
	MountsReq *r = (MountsReq *)c->req;
	struct snap_info s = {0};
	struct mount_spec m;
	struct err e;
	if (meta_get(broker.meta, r->key, &s, &e) < 0)
		return call_fail(c, e.code, "failed to get active mount: %s", e.msg);
	if (s.kind != KIND_ACTIVE && s.kind != KIND_VIEW) {
		call_fail(c, ST_FAILED_PRECONDITION,
			  "failed to get active mount: requested snapshot %s not active or view", r->key);
		snap_info_free(&s);
		return;
	}
	int n = snapshot_mounts(r->key, &s, &m, &e);
	snap_info_free(&s);
	if (n < 0)
		return call_fail_err(c, &e);
	reply_mounts(c, &m, (size_t)n);
	mounts_free(&m, (size_t)n);
}

/* ---- Commit and usage measurement ------------------------------------------------ */

/* containerd measures a snapshot's usage at commit.  strata commits at once
 * and measures in a usage worker when the usage is first asked for (the
 * committed tree no longer changes): the record says "pending" (-1) until
 * the measurement is stored, and a Usage call on a pending snapshot starts
 * the measurement (or joins the one running) and waits for it.  Most
 * committed layers (image layers, build steps) are never asked: a commit
 * costs no worker. */
struct measure {
	uint64_t id;
	char *name;
	struct call **waiters;
	size_t nwaiters;
	struct measure *next;
};
static struct measure *measures;

static void reply_usage(struct call *c, int64_t size, int64_t inodes)
{
	Containerd__Services__Snapshots__V1__UsageResponse resp;
	containerd__services__snapshots__v1__usage_response__init(&resp);
	resp.size = size;
	resp.inodes = inodes;
	call_reply(c, &resp.base);
}

static void measure_done(void *ctx, const struct job_result *res, const struct err *je)
{
	struct measure *ms = ctx, **pp = &measures;
	struct err e;
	while (*pp != ms)
		pp = &(*pp)->next;
	*pp = ms->next;
	if (je)
		log_warn("measuring usage of `%s`: %s", ms->name, je->msg);
	else if (meta_set_usage(broker.meta, ms->name, ms->id, res->size, res->inodes, &e) < 0)
		log_warn("recording usage of `%s`: %s", ms->name, e.msg);
	for (size_t i = 0; i < ms->nwaiters; i++) {
		if (je)
			call_fail_err(ms->waiters[i], je);
		else
			reply_usage(ms->waiters[i], res->size, res->inodes);
	}
	free(ms->waiters);
	free(ms->name);
	free(ms);
}

/* Starts measuring committed snapshot `name` (or joins the measurement
 * running for it). */
static struct measure *measure_start(uint64_t id, const char *name, struct err *e)
{
	for (struct measure *ms = measures; ms; ms = ms->next)
		if (ms->id == id)
			return ms;
	struct measure *ms = xcalloc(1, sizeof *ms);
	ms->id = id;
	ms->name = xstrdup(name);
	struct job_spec spec = {.role = ROLE_USAGE, .target = id};
	if (!job_start(&spec, NULL, measure_done, ms, e)) {
		free(ms->name);
		free(ms);
		return NULL;
	}
	ms->next = measures;
	measures = ms;
	return ms;
}

/* Commits r->key, whose snapshot (id; 0 when it is not there, for
 * meta_commit to report) passed its guards.  After a probe the mark of its
 * read-write mount goes with it. */
static void commit_record(struct call *c, uint64_t id, int probed)
{
	CommitReq *r = (CommitReq *)c->req;
	struct err e;
	struct label *l = labels_from_entries((void *const *)r->labels, r->n_labels);
	int rc = meta_commit_onto(broker.meta, r->key, r->name, r->parent, l, r->n_labels, -1, -1, &e);
	labels_free(l, r->n_labels);
	if (rc == 0 && probed)
		rc = meta_written_del(broker.meta, id, &e);
	if (rc < 0)
		return call_fail(c, e.code, "failed to commit snapshot: %s", e.msg);
	call_reply(c, NULL);
}

/* Nothing may change a snapshot once it is committed (broker/snapguard.c):
 * refused while it has read-write holds or an apply writes into it.  Nor
 * may a half layer become one: a snapshot a layer apply failed on while it
 * had content is refused until it is removed (broker/applyfail.c). */
static int commit_refused(struct call *c, const struct snap_info *s)
{
	CommitReq *r = (CommitReq *)c->req;
	struct err e;
	if (snapshot_guards() && snapshot_guard(s->id, r->key, SNAP_COMMIT, &e) < 0) {
		call_fail(c, e.code, "failed to commit snapshot: %s", e.msg);
		return 1;
	}
	if (s->kind == KIND_ACTIVE && meta_failed(broker.meta, s->id)) {
		call_fail(c, ST_FAILED_PRECONDITION,
			  "failed to commit snapshot: `%s`: a layer apply failed on it; remove it", r->key);
		return 1;
	}
	return 0;
}

static void commit_go(struct call *c, uint64_t id, int probe);

/* After a job (the probe, or the rebase worker), once writes may start
 * again (this runs from a job's end, not from the dispatcher): the snapshot
 * is looked at afresh.  After the probe it is committed; after the rebase,
 * probed first if it needs to be. */
static void commit_again(struct call *c, int probed)
{
	CommitReq *r = (CommitReq *)c->req;
	struct snap_info s = {0};
	if (meta_get(broker.meta, r->key, &s, NULL) < 0)
		return commit_record(c, 0, 0);
	uint64_t id = s.id;
	int refused = commit_refused(c, &s), probe = s.kind == KIND_ACTIVE && meta_written(broker.meta, id);
	snap_info_free(&s);
	if (refused)
		return;
	if (probed)
		return commit_record(c, id, 1);
	commit_go(c, id, probe);
}

static void commit_writable(void *ctx, const struct err *unused)
{
	commit_again(ctx, 1);
}

/* The kernel's answer: no overlay uses the upperdir, or one does (a
 * read-write mount fd is still open somewhere). */
static void commit_probed(void *ctx, const struct job_result *res, const struct err *e)
{
	struct call *c = ctx;
	CommitReq *r = (CommitReq *)c->req;
	if (e)
		return call_fail(c, e->code, "failed to commit snapshot: `%s`: %s", r->key, e->msg);
	durable_when_writable(commit_writable, c);
}

/* The snapshot passed its guards: committed now, or once a mount worker
 * found no overlay using its upperdir. */
static void commit_go(struct call *c, uint64_t id, int probe)
{
	struct err e;
	if (!probe)
		return commit_record(c, id, 0);
	/* A read-write mount fd was issued for it: whatever strata's holds
	 * say, the fd may still be open.  A mount worker asks the kernel. */
	struct job_spec spec = {
	    .role = ROLE_MOUNT,
	    .tenant = c->tenant,
	    .target = id,
	    .mount_flags = IPC_SPAWN_MOUNT_OWN | IPC_SPAWN_MOUNT_RW | IPC_SPAWN_MOUNT_INUSE,
	    .handle = &c->job,
	};
	if (!job_start(&spec, NULL, commit_probed, c, &e))
		return call_fail(c, e.code, "failed to commit snapshot: %s", e.msg);
}

static void commit_rebased_writable(void *ctx, const struct err *unused)
{
	commit_again(ctx, 0);
}

static void commit_rebased(void *ctx, const struct err *e)
{
	struct call *c = ctx;
	CommitReq *r = (CommitReq *)c->req;
	if (e)
		return call_fail(c, e->code, "failed to commit snapshot: `%s`: rebase: %s", r->key, e->msg);
	durable_when_writable(commit_rebased_writable, c);
}

void svc_commit(struct call *c)
{
	CommitReq *r = (CommitReq *)c->req;
	struct err e;
	struct snap_info s = {0};
	if (!r->name || !r->name[0])
		return call_fail(c, ST_INVALID_ARGUMENT, "committed snapshot name must not be empty");
	struct label *l = labels_from_entries((void *const *)r->labels, r->n_labels);
	int shareable = tenancy_share_ok(r->name, KIND_COMMITTED, tenancy_share_value(l, r->n_labels), &e);
	labels_free(l, r->n_labels);
	if (shareable < 0)
		return call_fail_err(c, &e);
	if (meta_get(broker.meta, r->key, &s, NULL) < 0)
		return commit_record(c, 0, 0);
	uint64_t id = s.id;
	int refused = commit_refused(c, &s), probe = s.kind == KIND_ACTIVE && meta_written(broker.meta, id);
	/* Applied before its lowers existed (broker/rebase.c): the rebase
	 * worker gives it what they would have, before the record changes. */
	int rebase = !refused && snapshot_rebased_later(&s);
	snap_info_free(&s);
	if (refused)
		return;
	if (rebase) {
		const char *parent = r->parent && r->parent[0] ? r->parent : NULL;
		if (snapshot_rebase(c->tenant, id, parent, &c->job, commit_rebased, c, &e) < 0)
			return call_fail(c, e.code, "failed to commit snapshot: `%s`: %s", r->key, e.msg);
		return;
	}
	commit_go(c, id, probe);
}

/* ---- Remove ------------------------------------------------------------------ */

static void remove_durable(void *ctx, const struct err *de)
{
	struct call *c = ctx;
	uint64_t id = *(uint64_t *)c->state;
	free(c->state);
	c->state = NULL;
	if (de) {
		removing_del(id);
		return call_fail(c, de->code, "failed to remove: %s", de->msg);
	}
	/* The metadata is durably gone: from here on the call succeeds.  The
	 * parent renames the directory to rm-ID and a worker deletes it in the
	 * background, as containerd's snapshotter does with asynchronous
	 * removal; one that cannot be dropped or deleted stays an orphan for
	 * Cleanup. */
	remove_dir_async(id, 1, NULL, NULL);
	call_reply(c, NULL);
}

void svc_remove(struct call *c)
{
	RemoveReq *r = (RemoveReq *)c->req;
	uint64_t id;
	int kind;
	struct err e;
	struct snap_info s = {0};
	/* A snapshot a client holds as a mount fd, or that a layer is being
	 * applied to, stays (broker/snapguard.c). */
	if (snapshot_guards() && meta_get(broker.meta, r->key, &s, NULL) == 0) {
		int rc = snapshot_guard(s.id, r->key, SNAP_REMOVE, &e);
		snap_info_free(&s);
		if (rc < 0)
			return call_fail(c, e.code, "failed to remove: %s", e.msg);
	}
	if (meta_remove(broker.meta, r->key, &id, &kind, &e) < 0) {
		/* Children of other tenants, built on a shared snapshot: say
		 * whose, for the owner to ask them. */
		if (e.code == ST_FAILED_PRECONDITION)
			tenancy_explain_children(r->key, &e);
		return call_fail(c, e.code, "failed to remove: %s", e.msg);
	}
	tenancy_counted(r->key, -1);
	/* Until the rename, no sweep may take the directory for an orphan. */
	removing_add(id);
	c->state = xmalloc(sizeof id);
	*(uint64_t *)c->state = id;
	durable_then(remove_durable, c);
}

/* ---- Usage ------------------------------------------------------------------- */

static void usage_measured(void *ctx, const struct job_result *res, const struct err *e)
{
	if (e)
		return call_fail_err(ctx, e);
	reply_usage(ctx, res->size, res->inodes);
}

void svc_usage(struct call *c)
{
	UsageReq *r = (UsageReq *)c->req;
	struct snap_info s = {0};
	struct err e;
	if (meta_get(broker.meta, r->key, &s, &e) < 0)
		return call_fail_err(c, &e);
	int kind = s.kind;
	uint64_t id = s.id;
	int64_t size = s.size, inodes = s.inodes;
	snap_info_free(&s);
	if (kind == KIND_COMMITTED && size < 0) {
		struct measure *ms = measure_start(id, r->key, &e);
		if (!ms)
			return call_fail_err(c, &e);
		ms->waiters = xrealloc(ms->waiters, (ms->nwaiters + 1) * sizeof *ms->waiters);
		ms->waiters[ms->nwaiters++] = c;
		return;
	}
	if (kind != KIND_ACTIVE)
		return reply_usage(c, size, inodes);
	struct job_spec spec = {.role = ROLE_USAGE, .tenant = c->tenant, .target = id, .handle = &c->job};
	if (!job_start(&spec, NULL, usage_measured, c, &e))
		return call_fail_err(c, &e);
}

/* ---- Cleanup and orphan sweep -------------------------------------------------- */

struct sweep {
	unsigned pending;
	void (*done)(void *ctx, const struct err *e);
	void *ctx;
};

static void sweep_one_done(void *ctx)
{
	struct sweep *sw = ctx;
	if (--sw->pending == 0) {
		sw->done(sw->ctx, NULL);
		free(sw);
	}
}

static int id_in(const uint64_t *ids, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ids[mid] == id)
			return 1;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void snapshots_sweep_orphans(void (*done)(void *ctx, const struct err *e), void *ctx)
{
	cleanup_free struct snapdir *dirs = NULL;
	cleanup_free uint64_t *ids = NULL;
	size_t ndirs = 0, nids = 0;
	struct err e;
	/* The list first: waiting for the parent, it may run the callbacks
	 * of directories created meanwhile, which write their records. */
	if (plink_snap_list(&dirs, &ndirs, &e) < 0 || meta_ids(broker.meta, &ids, &nids, &e) < 0)
		return done(ctx, &e);
	struct sweep *sw = xcalloc(1, sizeof *sw);
	sw->done = done;
	sw->ctx = ctx;
	sw->pending = 1; /* held until every removal is started */
	for (size_t i = 0; i < ndirs; i++) {
		const struct snapdir *d = &dirs[i];
		if (removing_has(d->id) || idset_has(&creating, d->id) ||
		    (d->kind == SNAPDIR_LIVE && id_in(ids, nids, d->id)))
			continue;
		if (d->kind != SNAPDIR_RM && plink_snap_drop(d->id, d->kind, &e) < 0) {
			log_warn("cleanup: %s", e.msg);
			continue;
		}
		log_info("cleanup: removing orphan snapshot directory %llu", (unsigned long long)d->id);
		sw->pending++;
		remove_dir_async(d->id, 0, sweep_one_done, sw);
	}
	sweep_one_done(sw);
}

int snapshot_dir_busy(uint64_t id)
{
	return removing_has(id) || idset_has(&creating, id);
}

static void cleanup_done(void *ctx, const struct err *e)
{
	if (e)
		return call_fail_err(ctx, e);
	call_reply(ctx, NULL);
}

static void cleanup_sweep(void *ctx)
{
	snapshots_sweep_orphans(cleanup_done, ctx);
}

/* containerd's garbage collector calls Cleanup after its removals: the
 * holds of mounts that are gone end first (broker/holds.c), then the
 * removed snapshots' directories are deleted (so that the space is back
 * when Cleanup answers), then orphan directories go. */
void svc_cleanup(struct call *c)
{
	mount_holds_sweep("cleanup");
	removals_drained(cleanup_sweep, c);
}
