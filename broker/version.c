/* strata version: the daemon's version and the features it serves
 * (NM_VERSION).  It reads only the settings the broker started with and
 * names no snapshot, so any peer that could connect may ask it, admitted
 * as a tenant or not (call_dispatch lets it through). */
#include <string.h>

#include "../common/args.h"
#include "../common/util.h"
#include "broker.h"
#include "call.h"
#include "services.h"

void svc_version(struct call *c)
{
	const struct broker_opts *o = broker.opts;
	/* Sorted; the conditional ones follow the settings. */
	const char *features[8];
	size_t n = 0;
	if (o && o->cfg.audit_log[0])
		features[n++] = "audit";
	if (o && o->cfg.content_root[0])
		features[n++] = "diff_service"; /* containerd's Diff and Apply need the content store */
	features[n++] = "fsck";
	features[n++] = "idmap"; /* strata mount --idmap, kernel permitting */
	features[n++] = "mount_fd";
	features[n++] = "parallel_unpack";
	if (o && o->cfg.enable_probe)
		features[n++] = "probe";
	if (o && o->tenants.configured)
		features[n++] = "tenants";
	Strata__V1__VersionResponse resp;
	strata__v1__version_response__init(&resp);
	resp.version = STRATA_VERSION;
	resp.features = (char **)features;
	resp.n_features = n;
	resp.tenant = (char *)(c->tenant ? c->tenant->name : "");
	call_reply(c, &resp.base);
}
