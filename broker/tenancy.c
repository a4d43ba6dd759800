/* Who a call acts for, and the keyspace it sees (broker/tenancy.h). */
#include "tenancy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "audit.h"
#include "broker.h"
#include "call.h"
#include "services.h"

#define MARK '\xff' /* begins and ends a tenant's prefix: never in a key */

static const struct tenants *tenants;
/* The snapshots each tenant owns (by its index in the table): counted at
 * start-up, then kept as records are created and removed. */
static uint32_t *owned;

void tenancy_init(const struct tenants *t)
{
	tenants = t;
	free(owned);
	owned = xcalloc(t->n ? t->n : 1, sizeof *owned);
}

/* The table given at start-up; until then, none configured: TENANT_DEFAULT
 * alone, which only root reaches. */
static const struct tenants *table(void)
{
	static struct tenants none;
	if (!tenants && !none.n)
		tenants_init(&none);
	return tenants ? tenants : &none;
}

size_t tenancy_index(const struct tenant *t)
{
	return (size_t)(t - table()->v);
}

size_t tenancy_ntenants(void)
{
	return table()->n;
}

const struct tenant *tenancy_tenant_at(size_t i)
{
	return &table()->v[i];
}

static int is_default(const struct tenant *t)
{
	return t == &table()->v[0];
}

const struct tenant *tenancy_admit(uid_t uid, gid_t gid, struct err *e)
{
	const struct tenant *t = tenant_of_peer(table(), uid, gid);
	if (t)
		return t;
	if (!table()->configured)
		err_set(e, ST_PERMISSION_DENIED,
			"uid %u may not use strata: only root may, as no tenant is configured (add a "
			"[tenant NAME] section with `uids = %u` to stratad.conf)",
			(unsigned)uid, (unsigned)uid);
	else
		err_set(
		    e, ST_PERMISSION_DENIED,
		    "uid %u (gid %u) is no tenant's: add it to the `uids` (or its group to the `gids`) of "
		    "a [tenant NAME] section in stratad.conf",
		    (unsigned)uid, (unsigned)gid);
	return NULL;
}

const struct tenant *tenancy_act_as(uid_t uid, const char *name, struct err *e)
{
	if (uid != 0) {
		err_set(e, ST_PERMISSION_DENIED, "only root may act as another tenant (`%.80s`)", name);
		return NULL;
	}
	const struct tenant *t = tenant_by_name(table(), name);
	if (!t)
		err_set(e, ST_NOT_FOUND, "no tenant `%.80s` in stratad.conf", name);
	return t;
}

char *tenancy_name(const struct tenant *t, const char *key)
{
	if (is_default(t))
		return xstrdup(key);
	return xasprintf("%c%s%c%s", MARK, t->name, MARK, key);
}

/* The length of name's tenant prefix ("\xff" NAME "\xff"), 0 when it has
 * none (TENANT_DEFAULT's). */
static size_t prefix_len(const char *name)
{
	if (name[0] != MARK)
		return 0;
	const char *end = strchr(name + 1, MARK);
	return end ? (size_t)(end - name) + 1 : strlen(name);
}

const char *tenancy_key(const struct tenant *t, const char *name)
{
	size_t n = prefix_len(name);
	if (is_default(t))
		return n ? NULL : name;
	size_t len = strlen(t->name);
	if (n != len + 2 || memcmp(name + 1, t->name, len))
		return NULL;
	return name + n;
}

int tenancy_owns(const struct tenant *t, const char *name)
{
	return tenancy_key(t, name) != NULL;
}

char *tenancy_walk_start(const struct tenant *t)
{
	/* The bare prefix is no snapshot's name (keys are never empty): every
	 * name of the keyspace sorts after it. */
	return is_default(t) ? NULL : xasprintf("%c%s%c", MARK, t->name, MARK);
}

/* The tenant whose keyspace holds name; NULL for a tenant no longer in
 * stratad.conf (its snapshots stay, unreachable but to root's fsck). */
static const struct tenant *owner_of(const char *name)
{
	size_t n = prefix_len(name);
	if (!n)
		return &table()->v[0];
	char tname[TENANT_NAME_MAX + 1];
	if (n < 3 || n - 2 > TENANT_NAME_MAX)
		return NULL;
	memcpy(tname, name + 1, n - 2);
	tname[n - 2] = '\0';
	return tenant_by_name(table(), tname);
}

const struct tenant *tenancy_owner(const char *name)
{
	return owner_of(name);
}

/* ---- sharing -------------------------------------------------------------------
 *
 * A receiver names a shared snapshot by its owner's key, and only where it
 * reads it: as the parent of Prepare and View, and in Stat.  There a key
 * the receiver has no snapshot of resolves to another tenant's committed
 * snapshot of that key whose TENANT_SHARE_LABEL names the receiver; every
 * other field stays in the caller's keyspace, so a receiver can never
 * remove, relabel, commit, apply to or diff another tenant's snapshot.
 *
 * Why this is safe for both sides:
 *   - the receiver's own snapshot always wins: an owner cannot shadow a key
 *     the receiver has, and so cannot slip its content under the
 *     receiver's builds (containerd prepares on a parent only once it has
 *     committed it itself, so its own is there);
 *   - a key that is not shared with the receiver resolves to its own name,
 *     whose NotFound is the very message of a key that does not exist:
 *     nothing unshared leaks;
 *   - the owner keeps every right on its snapshot but one: it cannot remove
 *     it while another tenant's snapshot builds on it (meta_remove refuses
 *     any snapshot with children), as the children's lower layers are its
 *     directory.  Unsharing stops new children only.
 * The resolution is made before the handler runs; a share or unshare in
 * between (a Prepare waits for its directory) counts as made just after:
 * the child of a Prepare that resolved while the share stood is kept, as
 * every child made before an unshare is. */

/* The value of s's TENANT_SHARE_LABEL, NULL when it has none. */
static const char *share_label(const struct snap_info *s)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i].key, TENANT_SHARE_LABEL))
			return s->labels[i].value;
	return NULL;
}

/* The first tenant but t, in table order, whose committed snapshot `key`
 * is shared with t; NULL when none. */
static const struct tenant *sharer(const struct tenant *t, const char *key)
{
	for (size_t i = 0; i < table()->n; i++) {
		const struct tenant *o = &table()->v[i];
		if (o == t)
			continue;
		cleanup_free char *name = tenancy_name(o, key);
		struct snap_info s = {0};
		if (meta_get(broker.meta, name, &s, NULL) < 0)
			continue;
		int shared = s.kind == KIND_COMMITTED && tenant_share_includes(share_label(&s), t->name);
		snap_info_free(&s);
		if (shared)
			return o;
	}
	return NULL;
}

/* Whether t has no snapshot `key` of its own (an error reading counts as
 * having one: the handler meets the error itself). */
static int own_missing(const struct tenant *t, const char *key)
{
	cleanup_free char *name = tenancy_name(t, key);
	struct snap_info s = {0};
	struct err e;
	if (meta_get(broker.meta, name, &s, &e) == 0) {
		snap_info_free(&s);
		return 0;
	}
	return e.code == ST_NOT_FOUND;
}

int tenancy_share_ok(const char *name, int kind, const char *value, struct err *e)
{
	if (!value || !*value)
		return 0;
	if (kind != KIND_COMMITTED)
		return err_set(e, ST_FAILED_PRECONDITION,
			       "label %s: `%s` is %s: only a committed snapshot may be shared",
			       TENANT_SHARE_LABEL, name, snap_kind_name(kind));
	return tenant_share_check(value, e);
}

const char *tenancy_share_value(const struct label *l, size_t n)
{
	const char *v = NULL;
	for (size_t i = 0; i < n; i++)
		if (l[i].key && !strcmp(l[i].key, TENANT_SHARE_LABEL))
			v = l[i].value ? l[i].value : ""; /* the last one counts, as in the store */
	return v;
}

struct child_count {
	size_t *per; /* by table index; per[n]: tenants no longer in the table */
	size_t total;
};

static void count_child(const char *name, void *ctx)
{
	struct child_count *cc = ctx;
	const struct tenant *o = owner_of(name);
	cc->per[o ? tenancy_index(o) : table()->n]++;
	cc->total++;
}

void tenancy_explain_children(const char *name, struct err *e)
{
	struct snap_info s = {0};
	struct err me;
	if (meta_get(broker.meta, name, &s, &me) < 0)
		return;
	uint64_t id = s.id;
	snap_info_free(&s);
	const struct tenant *owner = owner_of(name);
	size_t n = table()->n;
	cleanup_free size_t *per = xcalloc(n + 1, sizeof *per);
	struct child_count cc = {per, 0};
	if (meta_children(broker.meta, id, count_child, &cc, &me) < 0 || !cc.total)
		return;
	/* Children of the owner's own only: the message stays containerd's. */
	if (owner && per[tenancy_index(owner)] == cc.total)
		return;
	char list[ERR_MSG_MAX] = "";
	size_t len = 0;
	for (size_t i = 0; i <= n && len < sizeof list; i++) {
		if (!per[i])
			continue;
		int w = snprintf(list + len, sizeof list - len, "%s%zu of %s%s", len ? ", " : "", per[i],
				 i < n ? "tenant " : "tenants no longer configured",
				 i < n ? table()->v[i].name : "");
		len += w > 0 ? (size_t)w : 0;
	}
	err_set(e, ST_FAILED_PRECONDITION, "cannot remove snapshot with child: %zu %s (%s)", cc.total,
		cc.total == 1 ? "child" : "children", list);
}

/* ---- scoping a request ----------------------------------------------------------- */

/* *s, the request's field, is noted for the audit line and becomes the
 * internal name of the key it held (protobuf-c strings are malloc'd: it
 * frees them with the message). */
static void scope_field(struct call *c, const char *field, char **s)
{
	audit_arg(c, field, *s);
	if (!*s || !**s || is_default(c->tenant))
		return; /* "" stays "": a missing key is refused as before */
	char *name = tenancy_name(c->tenant, *s);
	free(*s);
	*s = name;
}

/* Whether another tenant may share anything: with TENANT_DEFAULT alone,
 * calls cost no look-up for it. */
static int shares_possible(void)
{
	return table()->n > 1;
}

/* A field the call only reads: the caller's own snapshot, else one shared
 * with it (see above). */
static void scope_read(struct call *c, const char *field, char **s)
{
	const struct tenant *o;
	if (shares_possible() && *s && **s && own_missing(c->tenant, *s) && (o = sharer(c->tenant, *s))) {
		audit_arg(c, field, *s);
		char *name = tenancy_name(o, *s);
		free(*s);
		*s = name;
		return;
	}
	scope_field(c, field, s);
}

/* A field the call changes (or reads as the caller's own): the caller's
 * keyspace only.  When the caller has no such key but one is shared with
 * it, the call is refused with FailedPrecondition saying so rather than the
 * handler's NotFound; this picks the message only, never the snapshot. */
static void scope_own(struct call *c, const char *field, char **s, int *rc, struct err *e)
{
	const struct tenant *o;
	if (*rc == 0 && shares_possible() && *s && **s && own_missing(c->tenant, *s) &&
	    (o = sharer(c->tenant, *s)))
		*rc = err_set(e, ST_FAILED_PRECONDITION, "`%s` is %s's, shared with you read-only", *s,
			      o->name);
	scope_field(c, field, s);
}

int tenancy_scope(struct call *c, struct err *e)
{
	ProtobufCMessage *req = c->req;
	int rc = 0;
	switch (c->m->id) {
	case NM_PREPARE: {
		PrepareReq *r = (PrepareReq *)req;
		scope_field(c, "key", &r->key);
		scope_read(c, "parent", &r->parent);
		break;
	}
	case NM_VIEW: {
		ViewReq *r = (ViewReq *)req;
		scope_field(c, "key", &r->key);
		scope_read(c, "parent", &r->parent);
		break;
	}
	case NM_MOUNTS:
		scope_field(c, "key", &((MountsReq *)req)->key);
		break;
	case NM_COMMIT: {
		CommitReq *r = (CommitReq *)req;
		scope_own(c, "key", &r->key, &rc, e);
		/* A name of the caller's own: committing it makes the caller's
		 * snapshot, which wins over a shared one of that key. */
		scope_field(c, "name", &r->name);
		/* A parent given at commit is read as Prepare's. */
		scope_read(c, "parent", &r->parent);
		break;
	}
	case NM_REMOVE:
		scope_own(c, "key", &((RemoveReq *)req)->key, &rc, e);
		break;
	case NM_STAT:
		scope_read(c, "key", &((StatReq *)req)->key);
		break;
	case NM_UPDATE: {
		UpdateReq *r = (UpdateReq *)req;
		if (r->info)
			scope_own(c, "key", &r->info->name, &rc, e);
		break;
	}
	case NM_USAGE:
		scope_field(c, "key", &((UsageReq *)req)->key);
		break;
	case NM_PROBE:
		scope_field(c, "key", &((Strata__V1__ProbeRequest *)req)->key);
		break;
	case NM_APPLY_LAYER:
		scope_own(c, "key", &((Strata__V1__ApplyLayerRequest *)req)->key, &rc, e);
		break;
	case NM_DIFF_LAYER: {
		Strata__V1__DiffLayerRequest *r = (Strata__V1__DiffLayerRequest *)req;
		scope_own(c, "key", &r->key, &rc, e);
		scope_field(c, "parent", &r->parent);
		break;
	}
	case NM_MOUNT:
		scope_field(c, "key", &((Strata__V1__MountRequest *)req)->key);
		break;
	case NM_RELEASE:
		audit_arg(c, "path", ((Strata__V1__ReleaseRequest *)req)->attach_path);
		break;
	case NM_ACT_AS:
		audit_arg(c, "as", ((Strata__V1__ActAsRequest *)req)->tenant);
		break;
	default:
		/* List, Cleanup, Apply, Diff, Release and Fsck name no key: their
		 * handlers keep to the tenant themselves. */
		break;
	}
	return rc;
}

const char *tenancy_shown(const char *name)
{
	return name + prefix_len(name);
}

void tenancy_info(struct snap_info *s)
{
	const char *key = tenancy_shown(s->name);
	if (key != s->name)
		memmove(s->name, key, strlen(key) + 1);
	if (s->parent && (key = tenancy_shown(s->parent)) != s->parent)
		memmove(s->parent, key, strlen(key) + 1);
}

char *tenancy_display(const char *name)
{
	size_t n = prefix_len(name);
	if (!n)
		return xstrdup(name);
	return xasprintf("%s (tenant %.*s)", name + n, (int)(n > 2 ? n - 2 : 0), name + 1);
}

static uint32_t *owned_by(const char *name)
{
	const struct tenant *t = owner_of(name);
	return t && owned ? &owned[t - table()->v] : NULL;
}

static int count_one(const struct snap_info *s, void *ctx)
{
	uint32_t *n = owned_by(s->name);
	if (n)
		++*n;
	return 0;
}

int tenancy_count(struct meta *m, struct err *e)
{
	if (!owned)
		tenancy_init(table());
	return meta_walk(m, count_one, NULL, e);
}

void tenancy_counted(const char *name, int delta)
{
	uint32_t *n = owned_by(name);
	if (n && (delta > 0 || *n > 0))
		*n += (uint32_t)delta;
}

int tenancy_room(const struct tenant *t, struct err *e)
{
	uint32_t n = owned ? owned[t - table()->v] : 0;
	if (!t->max_snapshots || n < t->max_snapshots)
		return 0;
	return err_set(e, ST_RESOURCE_EXHAUSTED,
		       "tenant `%s` has %u snapshots, its limit (max_snapshots of [tenant %s]): remove "
		       "some first",
		       t->name, (unsigned)n, t->name);
}

void tenancy_strip(char *msg)
{
	char *out = msg;
	for (char *p = msg; *p;) {
		size_t n = prefix_len(p);
		if (n) {
			p += n;
			continue;
		}
		*out++ = *p++;
	}
	*out = '\0';
}

void svc_act_as(struct call *c)
{
	Strata__V1__ActAsRequest *r = (Strata__V1__ActAsRequest *)c->req;
	struct err e = {0};
	if (!c->conn_tenant)
		return call_fail(c, ST_UNIMPLEMENTED, "act as: gRPC clients send the metadata key `%s`",
				 TENANCY_GRPC_KEY);
	const struct tenant *t = tenancy_act_as(c->peer_uid, r->tenant ? r->tenant : "", &e);
	if (!t)
		return call_fail_err(c, &e);
	*c->conn_tenant = t; /* the calls that follow; those in flight keep theirs */
	Strata__V1__ActAsResponse resp;
	strata__v1__act_as_response__init(&resp);
	resp.tenant = t->name;
	call_reply(c, &resp.base);
}
