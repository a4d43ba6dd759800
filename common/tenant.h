/* Tenants: who may use the daemon, and in which keyspace.
 *
 * stratad.conf names them in sections `[tenant NAME]` with `uids = alice,
 * 1002` and `gids = builders` (names or numbers, comma-separated; a peer
 * matches by its uid, or else by its primary gid) and the tenant's limits.
 * The parent reads the file and resolves every name to a number (the broker
 * cannot read the user database), and hands the table to the broker as one
 * `--tenant=SPEC` flag per tenant (tenant_spec / tenant_parse_spec); the
 * parent refuses that flag from a user, the file being the one place that
 * names tenants.
 *
 * root (uid 0) is the administrator: it may act as any tenant, and acts as
 * TENANT_DEFAULT unless it names another.  TENANT_DEFAULT always exists (a
 * section of that name only sets its limits), and owns every snapshot made
 * before tenants existed.  With no tenant section at all, only root may
 * connect, as the sockets' mode (0660 root:root) already says. */
#ifndef STRATA_TENANT_H
#define STRATA_TENANT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "err.h"

#define TENANT_DEFAULT	"containerd"
#define TENANT_NAME_MAX 64 /* [a-z0-9][a-z0-9._-]*: part of internal keys */

struct tenant {
	char *name;
	uid_t *uids;
	size_t nuids;
	gid_t *gids;
	size_t ngids;
	/* Limits; 0: none.  Snapshots the tenant owns, its jobs running at
	 * once, its jobs waiting in the queue. */
	uint32_t max_snapshots, max_jobs, max_queued_jobs;
};

struct tenants {
	struct tenant *v; /* v[0] is TENANT_DEFAULT */
	size_t n;
	int configured; /* a [tenant NAME] section exists: non-root peers may match */
};

/* A table holding TENANT_DEFAULT alone, with no limits. */
void tenants_init(struct tenants *t);
void tenants_free(struct tenants *t);
/* The tenant named name, NULL when none. */
const struct tenant *tenant_by_name(const struct tenants *t, const char *name);
/* A non-root peer's tenant: the first whose uids hold uid, else the first
 * whose gids hold gid; NULL when none (the peer is refused).  root's is
 * TENANT_DEFAULT. */
const struct tenant *tenant_of_peer(const struct tenants *t, uid_t uid, gid_t gid);

/* Sharing: a tenant publishes one of its committed snapshots to others by
 * the label TENANT_SHARE_LABEL, whose value is TENANT_SHARE_ALL or tenant
 * names, comma-separated, without spaces ("bob,ci").  A name need not be in
 * the table (a tenant may be configured later).  The broker resolves a
 * receiver's keys against it (broker/tenancy.c). */
#define TENANT_SHARE_LABEL "strata.io/shared-with"
#define TENANT_SHARE_ALL   "*"

/* 0 when value is a share label's value as above, else InvalidArgument
 * saying what is wrong with it. */
int tenant_share_check(const char *value, struct err *e);
/* Whether a share label's value names tenant name (or all).  A malformed
 * value names nobody: a label written before it was checked shares
 * nothing. */
int tenant_share_includes(const char *value, const char *name);

/* Building the table: the configuration file's sections (common/config.c)
 * and the broker's --tenant flags. */

/* 0 when name is 1..TENANT_NAME_MAX bytes of [a-z0-9][a-z0-9._-]*. */
int tenant_name_check(const char *name, struct err *e);
/* Adds a tenant with no members and no limits; a bad name, or one the table
 * holds (TENANT_DEFAULT included), is an error. */
int tenants_add(struct tenants *t, const char *name, struct err *e);
/* Sets one key of the tenant named name: `uids` or `gids` (a list, which
 * replaces the tenant's: comma-separated, spaces allowed, decimal ids or,
 * when names is set, user or group names resolved now) or a limit
 * (`max_snapshots`, `max_jobs`, `max_queued_jobs`: decimal, 0 for none). */
int tenant_set(struct tenants *t, const char *name, const char *key, const char *value, int names,
	       struct err *e);
/* One tenant as `NAME:uids=1000,1002:gids=100:max_snapshots=0:max_jobs=0:
 * max_queued_jobs=0` (numbers only, every field); allocated. */
char *tenant_spec(const struct tenant *t);
/* Takes a spec back: adds the tenant or, for TENANT_DEFAULT, sets v[0]'s
 * fields.  Fields may come in any order or be left out. */
int tenant_parse_spec(struct tenants *t, const char *spec, struct err *e);

#endif
