/* Who a call acts for, and the keyspace it sees (broker/tenancy.h). */
#include "tenancy.h"

#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "call.h"
#include "audit.h"
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

void tenancy_scope(struct call *c)
{
	ProtobufCMessage *req = c->req;
	switch (c->m->id) {
	case NM_PREPARE: {
		PrepareReq *r = (PrepareReq *)req;
		scope_field(c, "key", &r->key);
		scope_field(c, "parent", &r->parent);
		break;
	}
	case NM_VIEW: {
		ViewReq *r = (ViewReq *)req;
		scope_field(c, "key", &r->key);
		scope_field(c, "parent", &r->parent);
		break;
	}
	case NM_MOUNTS:
		scope_field(c, "key", &((MountsReq *)req)->key);
		break;
	case NM_COMMIT: {
		CommitReq *r = (CommitReq *)req;
		scope_field(c, "key", &r->key);
		scope_field(c, "name", &r->name);
		break;
	}
	case NM_REMOVE:
		scope_field(c, "key", &((RemoveReq *)req)->key);
		break;
	case NM_STAT:
		scope_field(c, "key", &((StatReq *)req)->key);
		break;
	case NM_UPDATE: {
		UpdateReq *r = (UpdateReq *)req;
		if (r->info)
			scope_field(c, "key", &r->info->name);
		break;
	}
	case NM_USAGE:
		scope_field(c, "key", &((UsageReq *)req)->key);
		break;
	case NM_PROBE:
		scope_field(c, "key", &((Strata__V1__ProbeRequest *)req)->key);
		break;
	case NM_APPLY_LAYER:
		scope_field(c, "key", &((Strata__V1__ApplyLayerRequest *)req)->key);
		break;
	case NM_DIFF_LAYER: {
		Strata__V1__DiffLayerRequest *r = (Strata__V1__DiffLayerRequest *)req;
		scope_field(c, "key", &r->key);
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
}

void tenancy_info(const struct tenant *t, struct snap_info *s)
{
	const char *key = tenancy_key(t, s->name);
	if (key && key != s->name)
		memmove(s->name, key, strlen(key) + 1);
	if (s->parent) {
		key = tenancy_key(t, s->parent);
		if (!key)
			s->parent[0] = '\0';
		else if (key != s->parent)
			memmove(s->parent, key, strlen(key) + 1);
	}
}

char *tenancy_display(const char *name)
{
	size_t n = prefix_len(name);
	if (!n)
		return xstrdup(name);
	return xasprintf("%s (tenant %.*s)", name + n, (int)(n > 2 ? n - 2 : 0), name + 1);
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
