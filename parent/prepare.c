#include "prepare.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../policy/policy.h"
#include "../proto/roles.h"
#include "../worker/roles.h"

/* Each role's confinement, indexed by role; policy NULL for a role without
 * one (the probe takes its probed role's) or prepared elsewhere.  Prepared
 * in the spawner before any fork, so every child inherits them read-only
 * and compiles nothing; stratad-worker prepares its job's one role before
 * it reads the job's input. */
static struct prepared {
	struct policy *policy;
	struct policy_bpf bpf;
	struct sandbox_confinement conf;
} prepared[ROLE_MAX + 1];

/* One set of empty network, IPC and UTS namespaces, made once and joined by
 * every worker.  A fresh network namespace per worker cost more CPU than the
 * rest of a worker's set-up (creating and tearing down its loopback device),
 * and sharing these three gives a worker nothing: no policy allows socket(),
 * the System V IPC or POSIX message queue calls or sethostname, and the
 * loopback device is down.  The mount namespace, which holds a worker's
 * view, stays private.
 *
 * The network namespace is required.  The IPC and UTS ones are made where
 * the daemon may make them; systemd/strata.service does not let it
 * (RestrictNamespaces= leaves out ipc and uts, as each type it admits counts
 * against the unit's exposure), and gives the whole service namespaces of
 * its own instead (PrivateIPC=, ProtectHostname=).  There the workers share
 * the service's: the only calls that reach them are ones no worker policy
 * allows (tests/unit/test_policy.c). */
static int shared_ns[3] = {-1, -1, -1};
static const struct {
	int type;
	const char *name;
	int required;
} shared_ns_kinds[3] = {{CLONE_NEWNET, "net", 1}, {CLONE_NEWIPC, "ipc", 0}, {CLONE_NEWUTS, "uts", 0}};

/* In the child that holds them: makes each kind, one by one; returns a byte
 * with bit i set for each made, 0 when a required one failed. */
static char unshare_each(void)
{
	char made = 0;
	for (int i = 0; i < 3; i++) {
		if (unshare(shared_ns_kinds[i].type) == 0)
			made |= (char)(1 << i);
		else if (shared_ns_kinds[i].required || errno != EPERM)
			return 0;
	}
	return made;
}

static int make_shared_namespaces(struct err *e)
{
	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0)
		return err_errno(e, ST_INTERNAL, errno, "worker namespaces: pipe");
	pid_t self = getpid(), pid = fork();
	if (pid == 0) {
		/* Holds the new namespaces until the parent has opened them, and
		 * never outlives it: a parent killed before it reaps this child
		 * must not leave it paused forever. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != self)
			_exit(1);
		close(ready[0]);
		char made = unshare_each();
		if (write(ready[1], &made, 1) != 1 || !made)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	char made = 0;
	int rc = 0;
	if (pid < 0 || read(ready[0], &made, 1) != 1 || !made)
		rc = err_errno(e, ST_INTERNAL, pid < 0 ? errno : EPERM, "worker namespaces: unshare");
	for (int i = 0; rc == 0 && i < 3; i++) {
		char path[64];
		if (!(made & (1 << i))) {
			log_info(
			    "workers share the daemon's %s namespace: it may not make one (no worker policy "
			    "reaches it)",
			    shared_ns_kinds[i].name);
			continue;
		}
		snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, shared_ns_kinds[i].name);
		if ((shared_ns[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			rc = err_errno(e, ST_INTERNAL, errno, "worker namespaces: open `%s`", path);
	}
	close(ready[0]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return rc;
}

/* Runs before the job socket is in place (the namespace fds are closed with
 * everything else right after), so a failure can only exit. */
void prepare_join_namespaces(void)
{
	for (int i = 0; i < 3; i++)
		if (shared_ns[i] >= 0 && setns(shared_ns[i], shared_ns_kinds[i].type) < 0)
			_exit(1);
}

int prepare_role(const struct config *cfg, int role, struct err *e)
{
	const struct role_info *r = role_info(role);
	if (!r || !r->has_policy)
		return err_set(e, ST_INTERNAL, "role %d has no policy", role);
	struct prepared *p = &prepared[r->role];
	p->policy = policy_for_role(r->name, e);
	/* Every worker and the publisher have the spawner's report pipe on
	 * WORKER_FD_REPORT; the feeder has none, and dies of SIGSYS unheard. */
	int report = role == ROLE_FEED ? -1 : WORKER_FD_REPORT;
	if (!p->policy || policy_compile_reporting(p->policy, cfg->seccomp_log, report, &p->bpf, e) < 0)
		return -1;
	p->conf = (struct sandbox_confinement){.role = r, .policy = p->policy, .bpf = &p->bpf};
	return 0;
}

int prepare_init(const struct config *cfg, int (*prepared_here)(int role), struct err *e)
{
	if (make_shared_namespaces(e) < 0)
		return -1;
	for (const struct role_info *r = role_first(); r; r = role_next(r))
		if (r->has_policy && prepared_here(r->role) && prepare_role(cfg, r->role, e) < 0)
			return -1;
	return 0;
}

const struct sandbox_confinement *prepare_confinement(int role)
{
	if (role <= 0 || role > ROLE_MAX || !prepared[role].policy)
		return NULL;
	return &prepared[role].conf;
}

int prepare_confine(int role, struct err *e)
{
	const struct sandbox_confinement *c = prepare_confinement(role);
	if (!c)
		return err_set(e, ST_INTERNAL, "no confinement prepared for role %d", role);
	return policy_enter(c->policy, c->bpf, e);
}
