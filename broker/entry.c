/* stratad-broker's entry: exec'ed by the parent (never by hand) with
 * --role=broker, the effective configuration as flags, the broker's ids
 * and the fds of broker/broker.h.  A binary of its own, so that the parent,
 * which stays root, never maps the client-facing libraries (nghttp2,
 * protobuf-c, LMDB) it has no use for. */
#include <stdio.h>
#include <string.h>

#include "../common/config.h"
#include "../common/util.h"
#include "../common/args.h"
#include "broker.h"

int main(int argc, char **argv)
{
	static struct config c;
	static struct tenants t;
	static struct broker_opts o;
	struct stratad_args p;
	uint64_t uid, gid;
	int rc = stratad_args(argc, argv, &c, &t, &p);
	if (rc >= 0)
		return rc;
	if (!p.role || strcmp(p.role, "broker"))
		return fprintf(stderr, "stratad-broker: started by stratad only\n"), 2;
	if (!p.uid || !p.gid || parse_u64(p.uid, &uid) < 0 || parse_u64(p.gid, &gid) < 0 || uid == 0 ||
	    uid > 0xfffffffe || gid > 0xfffffffe)
		return fprintf(stderr, "stratad-broker: --role=broker needs --broker-uid and --broker-gid\n"),
		       2;
	o.cfg = c;
	o.tenants = t;
	o.uid = (uid_t)uid;
	o.gid = (gid_t)gid;
	o.overlay_index_off = p.index_off;
	o.metrics = p.metrics;
	return broker_main(&o);
}
