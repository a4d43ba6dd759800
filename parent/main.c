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
	struct stratad_args p;
	int rc = stratad_args(argc, argv, &c, &p);
	if (rc >= 0)
		return rc;
	if (p.role)
		return fprintf(stderr, "stratad: --role=%s is for stratad's own processes\n", p.role), 2;
	log_init("stratad", c.log_level);
	rc = parent_main(&c);
	config_free(&c);
	return rc;
}
