/* stratad's entry: the parent.  The broker and the spawner are binaries of
 * their own, installed next to it (stratad-broker, broker/entry.c;
 * stratad-spawner, parent/spawner_main.c), so that each process maps only
 * the libraries it uses: the parent neither the client-facing ones nor the
 * layer-parsing ones the workers run. */
#include <stdio.h>
#include <string.h>

#include "../common/config.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../common/args.h"
#include "parent.h"

int main(int argc, char **argv)
{
	struct config c;
	struct tenants t;
	struct stratad_args p;
	int rc = stratad_args(argc, argv, &c, &t, &p);
	if (rc >= 0)
		return rc;
	if (p.role)
		return fprintf(stderr, "stratad: --role=%s is for stratad's own processes\n", p.role), 2;
	/* The spec is how the parent passes the table on, in numbers; users
	 * name tenants in the file, where names are resolved. */
	if (p.tenant_flags)
		return fprintf(stderr, "stratad: --tenant is for stratad's own processes: name tenants in "
				       "[tenant NAME] sections of the --config file\n"),
		       2;
	log_init("stratad", c.log_level);
	log_set_format(c.log_format);
	rc = parent_main(&c, &t);
	tenants_free(&t);
	config_free(&c);
	return rc;
}
