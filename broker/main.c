/* The broker's prologue and loop.  Read top to bottom, broker_main() is the
 * broker's whole confinement: after step 4 it can do nothing but serve its
 * sockets, its LMDB files and its ipc channels to the parent. */
#include "broker.h"

#include <cap-ng.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../policy/policy.h"
#include "call.h"
#include "audit.h"
#include "connpool.h"
#include "durable.h"
#include "grpc.h"
#include "loop.h"
#include "metrics.h"
#include "metrics_http.h"
#include "meta.h"
#include "native.h"
#include "parentlink.h"
#include "services.h"
#include "space.h"
#include "tenancy.h"

struct broker_state broker;
static volatile sig_atomic_t stopping;

static void become_unprivileged(const struct broker_opts *o)
{
	/* No capability survives the change of ids, none is in the bounding
	 * set, none is ambient: the broker can never regain privilege. */
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_change_id((int)o->uid, (int)o->gid, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING) != 0)
		die("cannot change to uid %u gid %u", (unsigned)o->uid, (unsigned)o->gid);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
		die("cannot clear ambient capabilities: %m");
	/* Changing ids cleared the parent-death signal the parent set: without
	 * it a broker could outlive a killed parent. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() == 1)
		die("parent is gone");
	if (capng_get_caps_process() != 0 || capng_have_capabilities(CAPNG_SELECT_BOTH) != CAPNG_NONE)
		die("capabilities remain after dropping them");
}

static void on_signal(void *ctx, uint32_t events)
{
	int fd = *(int *)ctx;
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof si) == sizeof si)
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			stopping = 1;
}

static void startup_swept(void *ctx, const struct err *e)
{
	if (e)
		log_warn("start-up sweep of orphan directories: %s", e->msg);
	/* After the sweep: an rm-ID an earlier reset left is gone by now. */
	apply_recover();
}

int broker_main(const struct broker_opts *o)
{
	struct err e;
	static int sigfd;
	log_init("stratad-broker", o->cfg.log_level);
	log_set_format(o->cfg.log_format);
	/* Request and reply buffers of 128 KiB and more get pages of their own,
	 * which go back to the system when freed and which realloc moves
	 * without copying: the broker's resident memory follows what it holds
	 * (max_request_bytes), not what a burst of clients left behind.  glibc
	 * would otherwise raise this threshold up to 32 MiB by itself. */
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	broker.opts = o;
	broker.snapshots_dir = xasprintf("%s/snapshots", o->cfg.root);
	struct statfs sf;
	if (statfs(broker.snapshots_dir, &sf) < 0)
		die("statfs `%s`: %m", broker.snapshots_dir);
	broker.snapshots_fs_type = (long)sf.f_type;
	/* Kept to tell, with fstatfs, what a full ROOT ran out of: an O_PATH
	 * fd reads and writes nothing, and the broker may reach the directory
	 * by its name anyway. */
	int snapfd = open(broker.snapshots_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (snapfd < 0)
		die("open `%s`: %m", broker.snapshots_dir);
	space_init(snapfd, o->cfg.root);

	/* 1. the broker's own account, no capabilities */
	become_unprivileged(o);
	/* 2. nothing it execs (nothing: seccomp forbids exec) could gain privilege */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die("PR_SET_NO_NEW_PRIVS: %m");
	/* 3. open the metadata store while open() of new paths is still allowed */
	cleanup_free char *metadir = xasprintf("%s/meta", o->cfg.root);
	if (meta_open_sized(&broker.meta, metadir, o->cfg.meta_max_bytes, &e) < 0)
		die("%s", e.msg);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0 || loop_init() < 0)
		die("event loop: %m");
	/* The metadata committer thread starts here, unprivileged like the
	 * loop thread; the policy below covers both (seccomp's TSYNC), so the
	 * policy itself allows no thread creation. */
	if (durable_init(&e) < 0)
		die("%s", e.msg);
	/* One apply ahead of its lowers per core, unless max_parallel_applies
	 * says otherwise (read while /sys may still be opened). */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned cores = ncpu > 0 ? (unsigned)ncpu : 1;
	/* 4. the broker's seccomp policy (policy/broker.policy) */
	if (policy_confine_self("broker", o->cfg.seccomp_log, &e) < 0)
		die("%s", e.msg);

	/* Serve. */
	struct grpc_limits gl = {.max_message = o->cfg.max_message,
				 .max_connections = o->cfg.max_conns,
				 .max_streams = 128,
				 .max_per_user = o->cfg.max_conns_per_user,
				 .idle_timeout_ms = o->cfg.idle_timeout * 1000,
				 .request_bytes = o->cfg.max_request_bytes};
	struct conn_limits nl = {o->cfg.max_conns, o->cfg.max_conns_per_user, o->cfg.idle_timeout * 1000, 0};
	struct job_limits jl = {o->cfg.max_jobs, o->cfg.max_queued_jobs,
				o->cfg.max_parallel_applies ? (unsigned)o->cfg.max_parallel_applies : cores,
				o->cfg.job_timeout, o->cfg.job_idle_timeout};
	job_set_limits(&jl);
	/* Who may call, in which keyspace; and the audit file the parent
	 * opened (proto/exec.h), when there is one. */
	tenancy_init(&o->tenants);
	if (tenancy_count(broker.meta, &e) < 0)
		die("counting each tenant's snapshots: %s", e.msg);
	audit_init(o->cfg.audit_log[0] ? BROKER_FD_AUDIT : -1);
	if (!loop_add(sigfd, EPOLLIN, on_signal, &sigfd) ||
	    plink_init(BROKER_FD_CTL, BROKER_FD_EVT, &e) < 0 ||
	    grpc_server_start(BROKER_FD_GRPC, &gl, method_by_grpc_path, &e) < 0 ||
	    native_server_start(BROKER_FD_NATIVE, &nl, &e) < 0 ||
	    (o->metrics && metrics_http_start(BROKER_FD_METRICS, &e) < 0))
		die("start: %s", e.msg);
	metrics_started();
	mount_holds_load();
	/* Before anything is served: a snapshot a crash cut an apply short on
	 * is not committed meanwhile (broker/applyfail.c). */
	apply_recover_guard();
	snapshots_sweep_orphans(startup_swept, NULL);
	if (plink_ready(&e) < 0)
		die("%s", e.msg);
	loop_run(&stopping);

	log_info("stopping: %u calls in flight", call_count());
	durable_flush(NULL);
	grpc_server_stop();
	native_server_stop();
	meta_close(broker.meta);
	return 0;
}
