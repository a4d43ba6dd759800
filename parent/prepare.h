/* What the root side prepares, once, before it forks any confined process:
 * the policy of every role it forks parsed and its seccomp filter compiled
 * (a freshly forked child must not allocate or parse), and the empty
 * namespaces the workers share.  The spawner forks; the child joins the
 * namespaces and takes its role's confinement from here (worker/sandbox.h
 * for a worker, parent/publish.h and parent/feed.h for the root-side
 * roles).  stratad-worker, exec'ed in such a child, prepares the one role
 * it runs the same way, before it reads the job's input. */
#ifndef STRATA_PREPARE_H
#define STRATA_PREPARE_H

#include "../common/config.h"
#include "../common/err.h"
#include "../worker/sandbox.h"

/* Parses and compiles the policy of every role of the table that has one
 * (proto/roles.h) and for which prepared_here(role) is true (the spawner's:
 * those it forks), and makes the shared namespaces.  cfg is kept: workers
 * read their settings from it (the extract limits). */
int prepare_init(const struct config *cfg, int (*prepared_here)(int role), struct err *e);

/* Parses and compiles one role's policy (stratad-worker: its job's). */
int prepare_role(const struct config *cfg, int role, struct err *e);

/* The prepared confinement of a role, or NULL when it has none. */
const struct sandbox_confinement *prepare_confinement(int role);

/* In a forked child, first: joins the shared namespaces.  Exits on failure
 * (nothing can be reported yet). */
void prepare_join_namespaces(void);

/* In a forked root-side child (publisher, feeder): takes the role's
 * capabilities, no_new_privs and its seccomp filter. */
int prepare_confine(int role, struct err *e);

#endif
