/* containerd's snapshots v1 service: Stat, Update and List. */
#include <string.h>

#include "../common/util.h"
#include "broker.h"
#include "convert.h"
#include "filter.h"
#include "meta.h"
#include "services.h"
#include "tenancy.h"

void svc_stat(struct call *c)
{
	StatReq *r = (StatReq *)c->req;
	struct snap_info s = {0};
	struct err e;
	if (meta_get(broker.meta, r->key, &s, &e) < 0)
		return call_fail_err(c, &e);
	tenancy_info(&s);
	Containerd__Services__Snapshots__V1__StatSnapshotResponse resp;
	containerd__services__snapshots__v1__stat_snapshot_response__init(&resp);
	resp.info = info_msg_new(&s);
	snap_info_free(&s);
	call_reply(c, &resp.base);
	info_msg_free(resp.info);
}

/* The value an Update gives the share label, as meta_update applies the
 * paths (none: every label replaced); "" when it removes the label, NULL
 * when it leaves it as it is. */
static const char *update_share_value(const struct snap_info *in, const char *const *paths, size_t npaths)
{
	const char *given = tenancy_share_value(in->labels, in->nlabels);
	if (npaths == 0)
		return given ? given : "";
	const char *v = NULL;
	for (size_t i = 0; i < npaths; i++) {
		const char *p = paths[i] ? paths[i] : "";
		if (!strcmp(p, "labels") || (!strncmp(p, "labels.", 7) && !strcmp(p + 7, TENANT_SHARE_LABEL)))
			v = given ? given : "";
	}
	return v;
}

/* An Update that sets the share label: on a committed snapshot only, with
 * a well-formed value.  The loop runs one call at a time, so the kind read
 * here is the one meta_update finds (a name is committed or not for life). */
static int update_share_ok(const struct snap_info *in, const char *const *paths, size_t npaths, struct err *e)
{
	const char *v = update_share_value(in, paths, npaths);
	struct snap_info s = {0};
	if (!v || !*v || meta_get(broker.meta, in->name, &s, NULL) < 0)
		return 0; /* nothing to check, or meta_update says NotFound */
	int kind = s.kind;
	snap_info_free(&s);
	return tenancy_share_ok(in->name, kind, v, e);
}

void svc_update(struct call *c)
{
	UpdateReq *r = (UpdateReq *)c->req;
	struct snap_info in = {0}, out = {0};
	struct err e;
	if (!r->info || !r->info->name || !r->info->name[0])
		return call_fail(c, ST_INVALID_ARGUMENT, "update: snapshot name must not be empty");
	in.name = r->info->name;
	in.nlabels = r->info->n_labels;
	in.labels = labels_from_entries((void *const *)r->info->labels, r->info->n_labels);
	size_t npaths = r->update_mask ? r->update_mask->n_paths : 0;
	const char *const *paths = r->update_mask ? (const char *const *)r->update_mask->paths : NULL;
	int rc = update_share_ok(&in, paths, npaths, &e);
	if (rc == 0)
		rc = meta_update(broker.meta, &in, paths, npaths, &out, &e);
	labels_free(in.labels, in.nlabels);
	if (rc < 0)
		return call_fail_err(c, &e);
	Containerd__Services__Snapshots__V1__UpdateSnapshotResponse resp;
	containerd__services__snapshots__v1__update_snapshot_response__init(&resp);
	tenancy_info(&out);
	resp.info = info_msg_new(&out);
	snap_info_free(&out);
	call_reply(c, &resp.base);
	info_msg_free(resp.info);
}

/* List sends batches: at most LIST_BATCH infos or about LIST_BATCH_BYTES of
 * message each, so that one batch always fits a native record.  It walks in
 * steps, each in a read transaction of its own: a step ends when the client
 * has not taken what was sent (the call waits until it has: a List of any
 * size costs the broker a batch or two, and lasts as long as the client takes
 * to read it), or after LIST_STEP records (other clients are served in
 * between).  Like a walk of containerd's, each snapshot is seen once; one
 * created or removed while the List runs may be in it or not. */
#define LIST_BATCH	 100
#define LIST_BATCH_BYTES (64 * 1024)
#define LIST_STEP	 1000

struct list_state {
	struct call *c;
	struct filter *f;
	int too_costly; /* matching the filter ran out of steps */
	Containerd__Services__Snapshots__V1__ListSnapshotsResponse resp;
	SnapInfoMsg *batch[LIST_BATCH];
	size_t bytes;
	char *after;   /* the last snapshot read: the next step starts past it */
	unsigned read; /* records read in this step */
	int paused;    /* the step ended before the last record */
};

static void list_flush(struct list_state *ls)
{
	if (ls->resp.n_info == 0)
		return;
	call_send(ls->c, &ls->resp.base);
	for (size_t i = 0; i < ls->resp.n_info; i++)
		info_msg_free(ls->batch[i]);
	ls->resp.n_info = 0;
	ls->bytes = 0;
}

static int list_one(const struct snap_info *rec, void *ctx)
{
	struct list_state *ls = ctx;
	int sent = 0;
	/* The tenant's keyspace is one range: past its end, the List is done. */
	const char *key = tenancy_key(ls->c->tenant, rec->name);
	if (!key) {
		ls->paused = 0;
		return 1;
	}
	free(ls->after);
	ls->after = xstrdup(rec->name);
	/* Filters and the client see keys, not the store's names. */
	struct snap_info s = *rec;
	s.name = (char *)key;
	s.parent = rec->parent ? (char *)tenancy_shown(rec->parent) : NULL;
	int match = ls->f ? filter_match(ls->f, filter_snapshot_field, &s) : 1;
	if (match < 0)
		return ls->too_costly = 1; /* stops the walk */
	if (match) {
		SnapInfoMsg *m = info_msg_new(&s);
		size_t sz = protobuf_c_message_get_packed_size(&m->base) + 8;
		if (ls->resp.n_info == LIST_BATCH || ls->bytes + sz > LIST_BATCH_BYTES) {
			list_flush(ls);
			sent = 1;
		}
		ls->batch[ls->resp.n_info++] = m;
		ls->bytes += sz;
	}
	ls->paused = ++ls->read >= LIST_STEP || (sent && !call_can_send(ls->c));
	return ls->paused;
}

static void list_end(struct list_state *ls)
{
	for (size_t i = 0; i < ls->resp.n_info; i++)
		info_msg_free(ls->batch[i]);
	filter_free(ls->f);
	free(ls->after);
	free(ls);
}

static void list_step(struct call *c)
{
	struct list_state *ls = c->state;
	struct err e;
	if (!c->transport) {
		list_end(ls);
		return call_fail(c, ST_CANCELLED, "list: the client went away");
	}
	ls->read = 0;
	ls->paused = 0;
	int rc = meta_walk_after(broker.meta, ls->after, list_one, ls, &e);
	if (rc == 0 && ls->too_costly)
		rc = err_set(&e, ST_RESOURCE_EXHAUSTED,
			     "filters: matching took more than %llu steps over the snapshots listed; "
			     "narrow them",
			     FILTER_STEPS);
	if (rc < 0) {
		list_end(ls);
		return call_fail_err(c, &e);
	}
	if (ls->paused)
		return call_when_writable(c, list_step);
	list_flush(ls);
	list_end(ls);
	call_reply(c, NULL);
}

void svc_list(struct call *c)
{
	ListReq *r = (ListReq *)c->req;
	struct filter *f = NULL;
	struct err e;
	if (r->n_filters && filter_parse((const char *const *)r->filters, r->n_filters, &f, &e) < 0)
		return call_fail_err(c, &e);
	struct list_state *ls = xcalloc(1, sizeof *ls);
	ls->c = c;
	ls->f = f;
	ls->after = tenancy_walk_start(c->tenant);
	containerd__services__snapshots__v1__list_snapshots_response__init(&ls->resp);
	ls->resp.info = ls->batch;
	c->state = ls;
	list_step(c);
}
