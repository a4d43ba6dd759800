/* Who a call acts for, and the keyspace it sees (common/tenant.h says what
 * a tenant is).
 *
 * Each connection gets its tenant at accept, from its peer's credentials;
 * a peer that is no tenant's is refused (every call PermissionDenied, then
 * the connection closes).  root may act as another tenant: the native
 * socket's NM_ACT_AS, or the gRPC metadata key TENANCY_GRPC_KEY.
 *
 * Keys stay exactly what the client sent; the store holds a tenant's
 * snapshot under an internal name.  TENANT_DEFAULT's names are its keys
 * as they are, so a store made before tenants existed is containerd's
 * keyspace unchanged.  Any other tenant's names are "\xff" NAME "\xff" KEY:
 * no client can send a key that begins so (keys are UTF-8, which never
 * holds 0xff: broker/pbcheck.c), and every such name sorts after every
 * default name, so each keyspace is one range of the store.
 *
 * The services see internal names only: call.c rewrites a request's keys
 * before its handler runs (tenancy_scope), handlers turn names back into
 * keys for what they answer (tenancy_key, tenancy_info), and a status
 * message loses every tenant prefix on its way out (tenancy_strip).
 *
 * Sharing: a tenant publishes a committed snapshot to others with the label
 * TENANT_SHARE_LABEL (common/tenant.h).  A receiver reads it by its owner's
 * key, as the parent of Prepare and View and in Stat, when it has no
 * snapshot of that key itself; nothing else of it (broker/tenancy.c says
 * why that is safe). */
#ifndef STRATA_TENANCY_H
#define STRATA_TENANCY_H

#include <stddef.h>
#include <sys/types.h>
#include "../common/err.h"
#include "../common/tenant.h"
#include "meta.h"

struct call;

/* The gRPC metadata key by which root acts as a tenant. */
#define TENANCY_GRPC_KEY "strata-tenant"

/* The tenant table of stratad.conf, kept (start-up). */
void tenancy_init(const struct tenants *t);
/* A connecting peer's tenant, or NULL with PermissionDenied naming the uid
 * and the setting that would admit it. */
const struct tenant *tenancy_admit(uid_t uid, gid_t gid, struct err *e);
/* The tenant named name for a peer of uid (only root may act as another
 * tenant), or NULL with e set. */
const struct tenant *tenancy_act_as(uid_t uid, const char *name, struct err *e);

/* The internal name of t's key (allocated). */
char *tenancy_name(const struct tenant *t, const char *key);
/* The key of an internal name when it is in t's keyspace, else NULL. */
const char *tenancy_key(const struct tenant *t, const char *name);
/* Whether name is in t's keyspace. */
int tenancy_owns(const struct tenant *t, const char *name);
/* Where a walk of t's keyspace starts: the walk begins after this name
 * (NULL: at the start), and stops at the first name t does not own. */
char *tenancy_walk_start(const struct tenant *t);

/* t's index in the table, 0 .. tenancy_ntenants() - 1: for counters kept
 * per tenant (broker/jobs.c). */
size_t tenancy_index(const struct tenant *t);
size_t tenancy_ntenants(void);
const struct tenant *tenancy_tenant_at(size_t i);
/* The tenant whose keyspace holds an internal name (NULL: none's). */
const struct tenant *tenancy_owner(const char *name);

/* Snapshots per tenant, for max_snapshots: counted once from the store
 * (start-up), then kept: +1 when a record is created, -1 when removed. */
int tenancy_count(struct meta *m, struct err *e);
void tenancy_counted(const char *name, int delta);
/* ResourceExhausted naming the tenant and the setting when t owns
 * max_snapshots already. */
int tenancy_room(const struct tenant *t, struct err *e);

/* Rewrites the keys of c's request into c's tenant's keyspace, or into a
 * sharer's for the fields that may name a shared snapshot.  -1 with
 * FailedPrecondition when the call would change (or diff) a key the tenant
 * has not but another shares with it read-only. */
int tenancy_scope(struct call *c, struct err *e);
/* An internal name as a client sees it: its owner's key. */
const char *tenancy_shown(const char *name);
/* A record read for a client, its name and parent as keys: a shared
 * snapshot, and the parent of a child built on one, by the owner's key. */
void tenancy_info(struct snap_info *s);
/* Whether a snapshot `name` of kind may carry the share label with value
 * (NULL or "": the label is not set): FailedPrecondition unless it is
 * committed, InvalidArgument when the value is malformed. */
int tenancy_share_ok(const char *name, int kind, const char *value, struct err *e);
/* The value labels l give the share label (the last of them), NULL when
 * none. */
const char *tenancy_share_value(const struct label *l, size_t n);
/* e, meta_remove's refusal of `name` that has children, names how many of
 * them each tenant has when some are another tenant's. */
void tenancy_explain_children(const char *name, struct err *e);
/* An internal name as an administrator reads it: the key, followed by
 * " (tenant NAME)" unless it is TENANT_DEFAULT's (allocated). */
char *tenancy_display(const char *name);
/* msg without any tenant prefix, in place. */
void tenancy_strip(char *msg);

#endif
