/* The broker: the only process that talks to clients, unprivileged and
 * confined by policy/broker.policy.
 *
 * The parent execs it as
 *   stratad-broker --role=broker [every setting as --key=value] --broker-uid=U --broker-gid=G
 *                  [--overlay-index-off] [--tenant=SPEC]...
 * (common/args.h) with the fds of proto/exec.h open and everything else
 * closed. */
#ifndef STRATA_BROKER_H
#define STRATA_BROKER_H

#include <sys/types.h>
#include "../common/config.h"
#include "../common/tenant.h"
#include "../proto/exec.h"

struct broker_opts {
	struct config cfg;
	uid_t uid; /* account to run as */
	gid_t gid;
	int overlay_index_off; /* the overlay module has the `index` parameter: add index=off */
	int metrics;	       /* a metrics socket is open on BROKER_FD_METRICS */
	/* From the --tenant flags, in numbers: the parent resolved the names
	 * (tenant_of_peer, tenant_by_name). */
	struct tenants tenants;
};

/* Never returns on success paths other than shutdown (SIGTERM): returns the exit status. */
int broker_main(const struct broker_opts *o);

/* The broker's state shared by the services. */
struct meta;
struct broker_state {
	const struct broker_opts *opts;
	struct meta *meta;
	char *snapshots_dir; /* ROOT/snapshots: only used to build mount strings */
	/* f_type of the file system that holds ROOT/snapshots, read at start
	 * while the broker is still root: a mount fd that is not an overlay is
	 * a clone of a snapshot directory on it (broker/mountcheck.c). */
	long snapshots_fs_type;
};
extern struct broker_state broker;

#endif
