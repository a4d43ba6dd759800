/* stratad's entry: the parent by default; the broker when the parent execs
 * it with --role=broker.  The spawner is a binary of its own
 * (stratad-spawner, worker/spawner_main.c), so that neither the parent nor
 * the broker maps the layer-parsing libraries the workers use. */
#include <stdio.h>
#include <string.h>

#include "../broker/broker.h"
#include "../common/config.h"
#include "../common/log.h"
#include "../common/util.h"
#include "args.h"
#include "parent.h"

static int run_broker(const struct config *c, const struct stratad_args *p)
{
	static struct broker_opts o;
	uint64_t uid, gid;
	if (!p->uid || !p->gid || parse_u64(p->uid, &uid) < 0 || parse_u64(p->gid, &gid) < 0 || uid == 0 ||
	    uid > 0xfffffffe || gid > 0xfffffffe)
		return fprintf(stderr, "stratad: --role=broker needs --broker-uid and --broker-gid\n"), 2;
	o.cfg = *c;
	o.uid = (uid_t)uid;
	o.gid = (gid_t)gid;
	o.overlay_index_off = p->index_off;
	return broker_main(&o);
}

int main(int argc, char **argv)
{
	struct config c;
	struct stratad_args p;
	int rc = stratad_args(argc, argv, &c, &p);
	if (rc >= 0)
		return rc;
	if (p.role && strcmp(p.role, "broker"))
		return fprintf(stderr, "stratad: unknown role `%s`\n", p.role), 2;
	if (p.role)
		return run_broker(&c, &p);
	log_init("stratad", c.log_level);
	rc = parent_main(&c);
	config_free(&c);
	return rc;
}
