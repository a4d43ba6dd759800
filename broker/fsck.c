/* strata fsck (native NM_FSCK): the metadata against the snapshot
 * directories the parent lists (IPC_SNAP_LIST) and the mount holds, and with
 * repair, what can be fixed safely, through the paths Remove, Usage and
 * Cleanup take (no privileged operation of its own):
 *   missing-directory  a record whose snapshots/ID is gone: its content is
 *                      lost; repair removes the record (as Remove does) when
 *                      no snapshot is built on it and no mount holds it
 *   orphan-directory   snapshots/ID, new-ID or rm-ID without a record (and
 *                      not being created or removed now); repair is the
 *                      orphan sweep of Cleanup
 *   missing-parent     a record whose parent has no record or is not
 *                      committed; never repaired (its lower layers are gone),
 *                      but Remove removes it
 *   pending-usage      a note, not a disagreement: a committed snapshot whose
 *                      usage is measured when first asked for; repair
 *                      measures it now (a usage worker, as Usage does)
 *   stale-hold         a mount hold of a snapshot without a record, or of a
 *                      mount provably gone (holds.c); repair ends it
 *   unjudged-hold      a note: an attached mount's hold whose path the
 *                      daemon cannot see (holds.c says when)
 * The whole check runs in one go in the loop; the repairs then run in turn
 * (records and holds, then the sweep, then one measurement at a time) and
 * the problems go out in batches once all are done. */
#include <stdarg.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../common/util.h"
#include "broker.h"
#include "durable.h"
#include "holds.h"
#include "meta.h"
#include "mountinfo.h"
#include "parentlink.h"
#include "services.h"
#include "tenancy.h"

#define FSCK_BATCH 32 /* problems per record: 32 names of META_NAME_MAX fit NATIVE_MAX_RECORD */

typedef Strata__V1__FsckRequest FsckReq;
typedef Strata__V1__FsckResponse FsckResp;
typedef Strata__V1__FsckProblem FsckProblemMsg;

struct problem {
	const char *kind; /* a literal */
	char *name;	  /* NULL for a directory */
	char *shown;	  /* name as the report shows it (tenancy_display) */
	uint64_t id;
	uint64_t hold; /* stale-hold: the hold's id */
	int dir_kind;  /* orphan-directory: enum snapdir_kind */
	char detail[512];
	int repaired, note;
};

struct fsck {
	struct call *c;
	int repair;
	struct problem *v;
	size_t n, cap;
	uint64_t nsnaps, ndirs, nholds;
	size_t measure_next; /* repair: the next pending-usage problem to measure */
};

struct rec {
	char *name, *parent;
	uint64_t id;
	int kind;
	int64_t size;
};

struct recs {
	struct rec *v;
	size_t n, cap;
};

static struct problem *problem_add(struct fsck *f, const char *kind, const char *name, uint64_t id, int note,
				   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static struct problem *problem_add(struct fsck *f, const char *kind, const char *name, uint64_t id, int note,
				   const char *fmt, ...)
{
	f->v = xgrow(f->v, &f->cap, f->n, sizeof *f->v);
	struct problem *p = &f->v[f->n++];
	*p = (struct problem){.kind = kind, .name = name ? xstrdup(name) : NULL, .id = id, .note = note};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof p->detail, fmt, ap);
	va_end(ap);
	return p;
}

/* Appends to p's detail. */
static void problem_say(struct problem *p, const char *what)
{
	size_t len = strlen(p->detail);
	snprintf(p->detail + len, sizeof p->detail - len, "; %s", what);
}

static int collect(const struct snap_info *s, void *ctx)
{
	struct recs *r = ctx;
	r->v = xgrow(r->v, &r->cap, r->n, sizeof *r->v);
	r->v[r->n++] =
	    (struct rec){xstrdup(s->name), s->parent ? xstrdup(s->parent) : NULL, s->id, s->kind, s->size};
	return 0;
}

static void recs_free(struct recs *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].name);
		free(r->v[i].parent);
	}
	free(r->v);
}

/* Index of id in the ascending ids, or -1. */
static ssize_t id_index(const uint64_t *ids, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ids[mid] == id)
			return (ssize_t)mid;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static const char *dir_prefix(int kind)
{
	return kind == SNAPDIR_NEW ? "new-" : kind == SNAPDIR_RM ? "rm-" : "";
}

/* The ids in use (ascending, from meta_ids) against the directories: an
 * orphan for each directory without one, and has_dir[i] for each id that
 * has its directory.  (No qsort: glibc's asks sysinfo, which the broker's
 * policy refuses.) */
static void check_dirs(struct fsck *f, const uint64_t *ids, size_t nids, const struct snapdir *dirs,
		       size_t ndirs, unsigned char *has_dir)
{
	for (size_t i = 0; i < ndirs; i++) {
		const struct snapdir *d = &dirs[i];
		ssize_t k = d->kind == SNAPDIR_LIVE ? id_index(ids, nids, d->id) : -1;
		if (k >= 0) {
			has_dir[k] = 1;
			continue;
		}
		if (snapshot_dir_busy(d->id))
			continue;
		struct problem *p = problem_add(f, "orphan-directory", NULL, d->id, 0,
						"directory snapshots/%s%llu has no record",
						dir_prefix(d->kind), (unsigned long long)d->id);
		p->dir_kind = d->kind;
	}
}

static void check_records(struct fsck *f, const struct recs *r, const uint64_t *ids, size_t nids,
			  const unsigned char *has_dir)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct rec *s = &r->v[i];
		ssize_t k = id_index(ids, nids, s->id);
		int live = k >= 0 && has_dir[k];
		if (!live)
			problem_add(f, "missing-directory", s->name, s->id, 0,
				    "%s snapshot has no directory snapshots/%llu", snap_kind_name(s->kind),
				    (unsigned long long)s->id);
		struct snap_info p = {0};
		if (s->parent) {
			int found = meta_get(broker.meta, s->parent, &p, NULL) == 0;
			if (!found || p.kind != KIND_COMMITTED)
				problem_add(f, "missing-parent", s->name, s->id, 0, "parent `%s` %s",
					    s->parent, found ? "is not committed" : "has no record");
			snap_info_free(&p);
		}
		if (live && s->kind == KIND_COMMITTED && s->size < 0)
			problem_add(f, "pending-usage", s->name, s->id, 1,
				    "usage not measured yet (measured when first asked for)");
	}
}

static void hold_where(const struct hold *h, char *buf, size_t len)
{
	if (h->path)
		snprintf(buf, len, "mount at `%s`", h->path);
	else
		snprintf(buf, len, "mount fd of pid %d", (int)h->pid);
}

/* Holds against records and, for attached mounts whose client has gone,
 * against the broker's mount table (as the start-up and Cleanup sweeps
 * judge them, holds.c). */
static void check_holds(struct fsck *f, const uint64_t *ids, size_t nids)
{
	struct mountinfo mi;
	uint64_t ns = holds_own_ns();
	int have = 0;
	char where[256];
	for (struct hold *h = hold_first(); h; h = h->next) {
		f->nholds++;
		struct problem *p = NULL;
		if (id_index(ids, nids, h->snap) < 0) {
			hold_where(h, where, sizeof where);
			p = problem_add(f, "stale-hold", NULL, h->snap, 0,
					"the %s holds snapshot %llu, which has no record", where,
					(unsigned long long)h->snap);
		} else if (h->path && !h->conn) {
			if (!have && ns && mountinfo_read(&mi, 0, NULL) == 0)
				have = 1;
			if (have && mountinfo_mounted_at(&mi, h->path, h->dev))
				continue;
			int gone = have && h->ns == ns;
			struct snap_info s = {0};
			int named = meta_get_by_id(broker.meta, h->snap, &s, NULL) == 0;
			p = problem_add(f, gone ? "stale-hold" : "unjudged-hold", named ? s.name : NULL,
					h->snap, !gone, "nothing is mounted at `%s`%s", h->path,
					gone ? "" : " here; the mount may be in another mount namespace");
			if (named)
				snap_info_free(&s);
		}
		if (p)
			p->hold = h->id;
	}
	if (have)
		mountinfo_free(&mi);
}

/* The check; 0, or -1 with e when the metadata or the list cannot be read. */
static int fsck_scan(struct fsck *f, struct err *e)
{
	cleanup_free struct snapdir *dirs = NULL;
	cleanup_free uint64_t *ids = NULL;
	cleanup_free unsigned char *has_dir = NULL;
	size_t ndirs = 0, nids = 0;
	struct recs r = {0};
	/* The list first: waiting for the parent, it may run the callbacks of
	 * directories created meanwhile, which write their records. */
	if (plink_snap_list(&dirs, &ndirs, e) < 0 || meta_ids(broker.meta, &ids, &nids, e) < 0)
		return -1;
	if (meta_walk(broker.meta, collect, &r, e) < 0) {
		recs_free(&r);
		return -1;
	}
	has_dir = xcalloc(nids + 1, 1);
	f->nsnaps = r.n;
	f->ndirs = ndirs;
	check_dirs(f, ids, nids, dirs, ndirs, has_dir);
	check_records(f, &r, ids, nids, has_dir);
	check_holds(f, ids, nids);
	recs_free(&r);
	return 0;
}

/* ---- repairs ------------------------------------------------------------------ */

/* A record whose directory is gone, as Remove removes it: refused while
 * snapshots are built on it (meta_remove) or a mount holds it.  Returns 1
 * when removed; the last attempt (last) says why not. */
static int repair_record(struct problem *p, int last)
{
	uint64_t id;
	int kind;
	struct err e;
	char msg[ERR_MSG_MAX + 32];
	if ((snapshot_guards() && snapshot_guard(p->id, p->name, SNAP_REMOVE, &e) < 0) ||
	    meta_remove(broker.meta, p->name, &id, &kind, &e) < 0) {
		if (last) {
			snprintf(msg, sizeof msg, "not repaired: %s", e.msg);
			problem_say(p, msg);
		}
		return 0;
	}
	tenancy_counted(p->name, -1);
	p->repaired = 1;
	problem_say(p, "record removed");
	return 1;
}

static void repair_holds(struct fsck *f)
{
	int swept = 0;
	for (size_t i = 0; i < f->n; i++) {
		struct problem *p = &f->v[i];
		if (strcmp(p->kind, "stale-hold"))
			continue;
		struct hold **pp = hold_find(p->hold);
		if (*pp && !p->name) {
			hold_drop(pp); /* its snapshot has no record */
		} else if (*pp && !swept) {
			mount_holds_sweep("fsck");
			swept = 1;
		}
		if (!*hold_find(p->hold)) {
			p->repaired = 1;
			problem_say(p, "hold ended");
		}
	}
}

static void fsck_finish(struct fsck *f);

static void measure_next(struct fsck *f);

static void measured(void *ctx, const struct job_result *res, const struct err *je)
{
	struct fsck *f = ctx;
	struct problem *p = &f->v[f->measure_next++];
	struct err e;
	char msg[ERR_MSG_MAX + 32];
	if (je) {
		snprintf(msg, sizeof msg, "not measured: %s", je->msg);
		problem_say(p, msg);
	} else if (meta_set_usage(broker.meta, p->name, p->id, res->size, res->inodes, &e) < 0) {
		snprintf(msg, sizeof msg, "not recorded: %s", e.msg);
		problem_say(p, msg);
	} else {
		p->repaired = 1;
		snprintf(msg, sizeof msg, "measured: %lld bytes, %lld inodes", (long long)res->size,
			 (long long)res->inodes);
		problem_say(p, msg);
	}
	measure_next(f);
}

/* One usage worker at a time: a store full of unmeasured layers must not
 * fill the job queue that clients need. */
static void measure_next(struct fsck *f)
{
	while (f->measure_next < f->n && strcmp(f->v[f->measure_next].kind, "pending-usage"))
		f->measure_next++;
	if (f->measure_next == f->n || !f->c->transport)
		return fsck_finish(f); /* done, or nobody waits for the rest */
	struct problem *p = &f->v[f->measure_next];
	struct job_spec spec = {.role = ROLE_USAGE, .target = p->id, .handle = &f->c->job};
	struct err e;
	if (!job_start(&spec, NULL, measured, f, &e))
		measured(f, NULL, &e);
}

/* The sweep is done: the orphans still listed were not removed. */
static void swept(void *ctx, const struct err *se)
{
	struct fsck *f = ctx;
	cleanup_free struct snapdir *dirs = NULL;
	size_t ndirs = 0;
	struct err e;
	int listed = se == NULL && plink_snap_list(&dirs, &ndirs, &e) == 0;
	for (size_t i = 0; i < f->n; i++) {
		struct problem *p = &f->v[i];
		if (strcmp(p->kind, "orphan-directory"))
			continue;
		int left = !listed;
		for (size_t k = 0; listed && k < ndirs; k++)
			left |= dirs[k].id == p->id &&
				(dirs[k].kind == p->dir_kind || dirs[k].kind == SNAPDIR_RM);
		p->repaired = !left;
		problem_say(p, left ? "not removed (the daemon's log says why)" : "directory removed");
	}
	f->measure_next = 0;
	measure_next(f);
}

static void fsck_repair(struct fsck *f)
{
	int orphans = 0, progress = 1;
	/* A record is removed only once no other is built on it: passes until
	 * one removes nothing more. */
	while (progress) {
		progress = 0;
		for (size_t i = 0; i < f->n; i++)
			if (!strcmp(f->v[i].kind, "missing-directory") && !f->v[i].repaired)
				progress |= repair_record(&f->v[i], 0);
	}
	for (size_t i = 0; i < f->n; i++) {
		if (!strcmp(f->v[i].kind, "missing-directory") && !f->v[i].repaired)
			repair_record(&f->v[i], 1);
		orphans |= !strcmp(f->v[i].kind, "orphan-directory");
	}
	repair_holds(f);
	if (orphans)
		return snapshots_sweep_orphans(swept, f);
	measure_next(f);
}

static void fsck_repair_writable(void *ctx, const struct err *unused)
{
	fsck_repair(ctx);
}

/* ---- the reply ---------------------------------------------------------------- */

static void fsck_free(struct fsck *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].name);
		free(f->v[i].shown);
	}
	free(f->v);
	free(f);
}

static void fsck_finish(struct fsck *f)
{
	FsckProblemMsg msgs[FSCK_BATCH], *ptrs[FSCK_BATCH];
	FsckResp resp;
	size_t k = 0;
	for (size_t i = 0; i <= f->n; i++) {
		if (k == FSCK_BATCH || (i == f->n && k)) {
			strata__v1__fsck_response__init(&resp);
			resp.problems = ptrs;
			resp.n_problems = k;
			call_send(f->c, &resp.base);
			k = 0;
		}
		if (i == f->n)
			break;
		struct problem *p = &f->v[i];
		strata__v1__fsck_problem__init(&msgs[k]);
		msgs[k].kind = (char *)p->kind;
		p->shown = p->name ? tenancy_display(p->name) : NULL;
		tenancy_strip(p->detail);
		msgs[k].name = p->shown ? p->shown : "";
		msgs[k].id = p->id;
		msgs[k].detail = (char *)p->detail;
		msgs[k].repaired = p->repaired;
		msgs[k].note = p->note;
		ptrs[k] = &msgs[k];
		k++;
	}
	strata__v1__fsck_response__init(&resp);
	resp.done = 1;
	resp.snapshots = f->nsnaps;
	resp.directories = f->ndirs;
	resp.holds = f->nholds;
	unsigned left = 0;
	for (size_t i = 0; i < f->n; i++)
		left += !f->v[i].note && !f->v[i].repaired;
	log_info("fsck%s: %zu findings, %u disagreements left", f->repair ? " --repair" : "", f->n, left);
	call_reply(f->c, &resp.base);
	fsck_free(f);
}

void svc_fsck(struct call *c)
{
	FsckReq *r = (FsckReq *)c->req;
	/* It reads and repairs every tenant's snapshots. */
	if (c->peer_uid != 0)
		return call_fail(c, ST_PERMISSION_DENIED, "fsck: only root may check the store");
	struct fsck *f = xcalloc(1, sizeof *f);
	struct err e;
	f->c = c;
	f->repair = r->repair;
	if (fsck_scan(f, &e) < 0) {
		fsck_free(f);
		return call_fail_err(c, &e);
	}
	if (!f->repair)
		return fsck_finish(f);
	/* Repairs write metadata: when no commit is in flight, so that the
	 * loop serves others meanwhile. */
	durable_when_writable(fsck_repair_writable, f);
}
