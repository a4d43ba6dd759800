/* stratad's command line, shared by its three binaries: stratad (the
 * parent) and stratad-broker and stratad-spawner, which the parent execs. */
#ifndef STRATA_ARGS_H
#define STRATA_ARGS_H

#include <stdio.h>

#include "../common/config.h"

#define STRATA_VERSION "0.1.0"

/* The flags that are not settings. */
struct stratad_args {
	const char *config_file; /* --config FILE */
	/* The parent starts its children with --role=broker|spawner, and the
	 * broker with --broker-uid, --broker-gid, --overlay-index-off and
	 * --metrics-fd (a metrics socket is open on BROKER_FD_METRICS). */
	const char *role, *uid, *gid;
	int index_off, metrics;
	/* --tenant=SPEC flags seen (tenant.h): the parent hands the broker
	 * the tenant table so, and refuses them from a user. */
	int tenant_flags;
};

/* Defaults, then --config FILE, then the flags; the tenants (t, which this
 * initializes and the caller frees) come from the file's sections and the
 * --tenant flags.  Returns -1 to go on, or the exit status (0 after
 * --help/--version, 2 on a usage error, said on stderr). */
int stratad_args(int argc, char **argv, struct config *c, struct tenants *t, struct stratad_args *p);
/* The same without --help and --version, and without printing. */
int stratad_parse(int argc, char **argv, struct config *c, struct tenants *t, struct stratad_args *p,
		  struct err *e);
void stratad_usage(FILE *f);
/* The effective configuration and p as flags for a process the parent execs:
 * NULL-terminated, allocated (argv_free).  With t, a --tenant=SPEC for each
 * tenant but a TENANT_DEFAULT that has no members and no limits. */
char **stratad_argv(const struct config *c, const struct tenants *t, const struct stratad_args *p);

/* An argument vector, NULL-terminated, that grows as strings are pushed. */
struct strv {
	char **v;
	size_t n, cap;
};
/* Takes ownership of s. */
void strv_push(struct strv *a, char *s);
void argv_free(char **v);

#endif
