/* The parent (root, tiny): state directories, sockets, the life cycle of the
 * broker and its spawner (which forks and reaps the workers, spawner.c), and
 * the broker's directory requests.  It parses nothing
 * but fixed-size ipc records, checks each against the permit table, and
 * never dies because of the broker: a broker that breaks the protocol is
 * killed and started afresh. */
#include "parent.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../proto/exec.h"
#include "../proto/roles.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../proto/ipc.h"
#include "../policy/policy.h"
#include "../common/args.h"
#include "content.h"
#include "ctlcheck.h"
#include "snapdir.h"
#include "spawner.h"

#define BACKOFF_MIN_MS	   100
#define BACKOFF_MAX_MS	   10000
#define BROKER_STABLE_NS   (30ull * 1000000000ull) /* lived this long: back-off resets */
#define STOP_GRACE_NS	   (5ull * 1000000000ull)
#define CTL_SEND_TIMEOUT_S 5

static struct {
	const struct config *cfg;
	const struct tenants *tenants; /* the broker's, by --tenant flags */
	char *native_addr, *snap_path;
	int snapdir; /* O_PATH fd of ROOT/snapshots */
	uid_t buid;
	gid_t bgid;
	gid_t sock_gid; /* socket_group's; root's when it is empty */
	int index_off;
	int grpc_fd, native_fd;
	int audit_fd;		  /* audit_log, opened for the broker; -1: none */
	int metrics_fd;		  /* metrics_address's listening socket; -1: none */
	int own_grpc, own_native; /* socket files we created (not systemd's) */
	int own_metrics, metrics_passed;
	int sigfd;
	/* the broker */
	pid_t broker;
	int ctl;
	int ready_seen, notified;
	uint64_t started_ns, restart_at_ns;
	unsigned backoff_ms;
	/* the broker's spawner (parent/spawner.h) */
	pid_t spawner;
	char *spawner_path, *broker_path, *worker_path;
	struct content_ingests ingests; /* those the broker has open */
	int stopping;
	int pair_killed; /* the survivor of the pair dies of our SIGKILL: no news */
	uint64_t stop_deadline_ns;
} P = {
    .snapdir = -1, .grpc_fd = -1, .native_fd = -1, .audit_fd = -1, .metrics_fd = -1, .sigfd = -1, .ctl = -1};

/* ---- the broker ----------------------------------------------------------- */

static char **broker_argv(void)
{
	char uid[16], gid[16];
	snprintf(uid, sizeof uid, "%u", (unsigned)P.buid);
	snprintf(gid, sizeof gid, "%u", (unsigned)P.bgid);
	struct stratad_args a = {
	    .role = "broker", .uid = uid, .gid = gid, .index_off = P.index_off, .metrics = P.metrics_fd >= 0};
	return stratad_argv(P.cfg, P.tenants, &a);
}

/* In the forked child: the four channel fds land on 3..6 (proto/exec.h),
 * everything else is closed, and the broker drops its privileges itself. */
/* The sanitizer build (make SANITIZE=1): the broker, the spawner and the
 * workers it forks run under seccomp policies that allow neither
 * LeakSanitizer's exit-time scan (clone, ptrace) nor a symbolizer process
 * (fork, execve). ASan's quarantine of freed blocks (256 MiB by default)
 * is cut to 16 MiB, so that the tests' bounds on the broker's memory
 * still measure the broker and not the quarantine; a use after free of a
 * block freed within the last 16 MiB of frees is still caught. Options
 * given in ASAN_OPTIONS stay, these come last. */
static void sanitize_child_env(void)
{
#ifdef STRATA_SANITIZE
	const char *old = getenv("ASAN_OPTIONS");
	char *opts = xasprintf("%s%sdetect_leaks=0:symbolize=0:quarantine_size_mb=16", old ? old : "",
			       old && *old ? ":" : "");
	if (setenv("ASAN_OPTIONS", opts, 1) < 0)
		die("setenv ASAN_OPTIONS: %m");
	free(opts);
#endif
}

_Noreturn static void broker_exec(int ctl, int evt)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* Each at its number of proto/exec.h; the audit file and the metrics
	 * socket only when there are such (-1: that number stays closed). */
	int src[6] = {ctl, evt, P.grpc_fd, P.native_fd, P.audit_fd, P.metrics_fd}, staged[6];
	/* Staged above the targets first, so no source is overwritten. */
	for (int i = 0; i < 6; i++)
		if ((staged[i] = src[i] < 0 ? -1 : fcntl(src[i], F_DUPFD_CLOEXEC, 16)) < 0 && src[i] >= 0)
			die("broker: dup channel fd: %m");
	close_range(BROKER_FD_CTL, 15, 0);
	for (int i = 0; i < 6; i++)
		if (staged[i] >= 0 && dup2(staged[i], BROKER_FD_CTL + i) < 0)
			die("broker: dup2: %m");
	close_range(BROKER_FD_CTL + 6, ~0U, 0);
	char **argv = broker_argv();
	sanitize_child_env();
	execv(P.broker_path, argv);
	die("broker: exec `%s`: %m", P.broker_path);
}

/* In the forked child: the event channel lands on fd 3, the snapshots
 * directory on fd 4 and stratad-worker on fd 5 (proto/exec.h), everything
 * else is closed, and stratad-spawner is exec'ed. */
_Noreturn static void spawner_exec(int evt)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* stratad-worker opened here, once per spawner: the spawner and the
	 * workers it execs are of one installation even if the file is
	 * replaced while they run. */
	int worker = open(P.worker_path, O_RDONLY | O_CLOEXEC);
	if (worker < 0)
		die("spawner: open `%s`: %m", P.worker_path);
	int src[3] = {evt, P.snapdir, worker}, staged[3];
	for (int i = 0; i < 3; i++)
		if ((staged[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 16)) < 0)
			die("spawner: dup fd: %m");
	if (dup2(staged[0], SPAWNER_FD_EVT) < 0 || dup2(staged[1], SPAWNER_FD_SNAPDIR) < 0 ||
	    dup2(staged[2], SPAWNER_FD_WORKER) < 0)
		die("spawner: dup2: %m");
	close_range(SPAWNER_FD_WORKER + 1, ~0U, 0);
	sanitize_child_env();
	execv(P.spawner_path, stratad_argv(P.cfg, NULL, &(struct stratad_args){.role = "spawner"}));
	die("spawner: exec `%s`: %m", P.spawner_path);
}

/* Starts a broker and its spawner, joined by the event channel. */
static int broker_start(void)
{
	int ctl[2], evt[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
		return log_err("broker: socketpair: %m"), -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, evt) < 0) {
		close(ctl[0]);
		close(ctl[1]);
		return log_err("broker: socketpair: %m"), -1;
	}
	P.ctl = ctl[0];
	pid_t spawner = fork();
	if (spawner == 0) {
		close(ctl[1]);
		close(evt[1]);
		spawner_exec(evt[0]);
	}
	pid_t pid = spawner < 0 ? -1 : fork();
	if (pid == 0)
		broker_exec(ctl[1], evt[1]);
	close(ctl[1]);
	close(evt[0]);
	close(evt[1]);
	if (spawner < 0 || pid < 0) {
		log_err("broker: fork: %m");
		if (spawner > 0)
			kill(spawner, SIGKILL), P.spawner = spawner;
		close(ctl[0]);
		P.ctl = -1;
		return -1;
	}
	/* A broker that stops reading must not stall the parent. */
	struct timeval tv = {CTL_SEND_TIMEOUT_S, 0};
	setsockopt(ctl[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	P.broker = pid;
	P.spawner = spawner;
	P.ready_seen = 0;
	P.started_ns = now_ns_monotonic();
	P.pair_killed = 0;
	log_info("broker started, pid %d, spawner pid %d", (int)pid, (int)spawner);
	return 0;
}

/* Signals the broker.  It runs as its own user, and the parent holds no
 * CAP_KILL (systemd/strata.service): once the broker has dropped to that
 * user, the parent signals it with the broker's uid as its effective uid
 * (kill(2) lets a sender whose effective uid is the target's real uid), and
 * takes uid 0 back at once.  Before the drop, the broker is root's and a
 * plain kill reaches it. */
static void signal_broker(int sig)
{
	if (P.broker <= 0 || kill(P.broker, sig) == 0 || errno != EPERM)
		return;
	if (setresuid((uid_t)-1, P.buid, (uid_t)-1) < 0)
		return log_err("signal the broker: take its uid: %m");
	if (kill(P.broker, sig) < 0)
		log_err("signal the broker (pid %d): %m", (int)P.broker);
	if (setresuid((uid_t)-1, 0, (uid_t)-1) < 0)
		die("take uid 0 back after signalling the broker: %m");
}

/* The broker broke the protocol: it is buggy or compromised. */
static void broker_reject(const char *why)
{
	log_err("broker (pid %d) violated the ipc protocol: %s; killing it", (int)P.broker, why);
	signal_broker(SIGKILL);
	if (P.ctl >= 0)
		close(P.ctl);
	P.ctl = -1;
}

static void ingests_drop_all(void);

/* The broker and its spawner live and die together: when one is gone the
 * other is stopped, and a new pair starts once both are gone. */
static void pair_gone(void)
{
	if (P.ctl >= 0)
		close(P.ctl);
	P.ctl = -1;
	ingests_drop_all();
	signal_broker(SIGKILL);
	if (P.spawner > 0)
		kill(P.spawner, SIGKILL);
	if (P.stopping || P.broker > 0 || P.spawner > 0)
		return;
	uint64_t now = now_ns_monotonic();
	if (now - P.started_ns > BROKER_STABLE_NS || P.backoff_ms == 0)
		P.backoff_ms = BACKOFF_MIN_MS;
	else if ((P.backoff_ms *= 2) > BACKOFF_MAX_MS)
		P.backoff_ms = BACKOFF_MAX_MS;
	P.restart_at_ns = now + (uint64_t)P.backoff_ms * 1000000ull;
	log_info("restarting the broker in %u ms", P.backoff_ms);
}

static void child_gone(pid_t pid, int wstatus)
{
	const char *who = pid == P.broker ? "broker" : "spawner";
	/* A spawner exits 0 when the broker's channel closes. */
	int broker_closed = pid == P.spawner && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
	int quiet = P.stopping || broker_closed;
	int sig = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
	int level = P.pair_killed && sig == SIGKILL ? LOG_DEBUG_ : quiet ? LOG_INFO_ : LOG_ERR_;
	const char *name = sig ? sigabbrev_np(sig) : NULL;
	if (sig)
		log_msg(level, "%s (pid %d) killed by signal %d (SIG%s)%s", who, (int)pid, sig,
			name ? name : "?", sig == SIGSYS ? ": it made a call its seccomp policy lacks" : "");
	else
		log_msg(level, "%s (pid %d) exited with status %d", who, (int)pid, WEXITSTATUS(wstatus));
	if (pid == P.broker)
		P.broker = 0;
	else
		P.spawner = 0;
	/* pair_gone kills the survivor, whose SIGKILL is then ours and logged
	 * at debug; but a spawner that exited 0 saw the broker's channel
	 * close: the broker is dying of its own, and how is news. */
	if (!broker_closed)
		P.pair_killed = 1;
	pair_gone();
}

/* ---- replies ---------------------------------------------------------------- */

static int send_ctl(uint32_t type, const void *body, size_t len, const int *fds, size_t nfds)
{
	struct err e = {0};
	if (ipc_send(P.ctl, type, body, len, fds, nfds, &e) < 0) {
		broker_reject(e.msg);
		return -1;
	}
	return 0;
}

static int reply(int errnum, const char *msg)
{
	struct ipc_reply r = {.errnum = errnum};
	ipc_set_text(r.msg, msg ? msg : "");
	return send_ctl(IPC_REPLY, &r, sizeof r, NULL, 0);
}

static int reply_err(const struct err *e)
{
	return reply(errno_from_status(e->code), e->msg);
}

/* ---- requests --------------------------------------------------------------- */

static int serve_ready(const struct ipc_msg *m)
{
	log_info("serving gRPC on %s and native on %s%s%s", P.cfg->address, P.native_addr,
		 P.metrics_fd >= 0 ? ", metrics on " : "",
		 P.metrics_fd < 0   ? ""
		 : P.metrics_passed ? "the socket systemd passed"
				    : P.cfg->metrics_address);
	if (!P.notified) {
		struct err e = {0};
		if (sd_notify_state("READY=1", &e) < 0)
			log_warn("%s", e.msg);
		P.notified = 1;
	}
	return reply(0, NULL);
}

/* The health check: that the parent serves at all is the answer. */
static int serve_ping(const struct ipc_msg *m)
{
	return reply(0, NULL);
}

static int serve_snap_create(const struct ipc_msg *m)
{
	const struct ipc_snap_create *r = &m->body.snap_create;
	struct err e = {0};
	if (snapdir_create(P.snapdir, r->id, r->parent_id, (int)r->active, &e) < 0)
		return reply_err(&e);
	return reply(0, NULL);
}

static int serve_snap_drop(const struct ipc_msg *m)
{
	const struct ipc_snap_drop *r = &m->body.snap_drop;
	struct err e = {0};
	if (snapdir_drop(P.snapdir, r->id, (int)r->kind, &e) < 0)
		return reply_err(&e);
	return reply(0, NULL);
}

/* An apply failed on a snapshot that was empty before (proto/ipc.h
 * IPC_SNAP_RESET): its fs is swapped for a fresh one, the old tree goes to
 * rm-ID for a remove worker. */
static int serve_snap_reset(const struct ipc_msg *m)
{
	const struct ipc_snap_reset *r = &m->body.snap_reset;
	if (r->id == 0 || r->parent_id == r->id)
		return broker_reject("SNAP_RESET with a bad id"), -1;
	struct err e = {0};
	if (snapdir_reset(P.snapdir, r->id, r->parent_id, &e) < 0)
		return reply_err(&e);
	return reply(0, NULL);
}

static int serve_open_blob(const struct ipc_msg *m)
{
	const struct ipc_open_blob *r = &m->body.open_blob;
	if (!P.cfg->content_root[0])
		return reply(ENOENT, "no content_root is configured");
	struct err e = {0};
	struct ipc_blob b = {0};
	int fd = content_open_blob(P.cfg->content_root, r->hex, &b.size, &e);
	if (fd < 0)
		return reply_err(&e);
	int rc = send_ctl(IPC_BLOB, &b, sizeof b, &fd, 1);
	close(fd);
	return rc;
}

/* INGEST_OPEN and INGEST_ABORT (parent/content.c does the work), on the
 * ingests strata created alone (proto/ipc.h). */
static int serve_ingest(const struct ipc_msg *m)
{
	const struct ipc_ingest *r = &m->body.ingest;
	if (!P.cfg->content_root[0])
		return reply(ENOENT, "no content_root is configured");
	struct err e = {0};
	const char *root = P.cfg->content_root;
	if (m->type == IPC_INGEST_ABORT) {
		if (!content_ingests_take(&P.ingests, r->name))
			return broker_reject("INGEST_ABORT of an ingest strata did not create"), -1;
		return content_ingest_abort(root, r->name, &e) < 0 ? reply_err(&e) : reply(0, NULL);
	}
	if (content_ingests_add(&P.ingests, r->name) < 0)
		return reply(EAGAIN, content_ingests_has(&P.ingests, r->name)
					 ? "content: that ref is being written"
					 : "content: too many ingests open; try again later");
	int fd = content_ingest_open(root, r->name, r->ref, &e);
	if (fd < 0) {
		content_ingests_take(&P.ingests, r->name);
		return reply_err(&e);
	}
	struct ipc_blob b = {0};
	int rc = send_ctl(IPC_BLOB, &b, sizeof b, &fd, 1);
	close(fd);
	return rc;
}

/* A broker that dies leaves its ingests unfinished: they go with it. */
static void ingests_drop_all(void)
{
	while (P.ingests.n) {
		char name[65];
		memcpy(name, P.ingests.names[P.ingests.n - 1], sizeof name);
		content_ingests_take(&P.ingests, name);
		struct err e = {0};
		if (content_ingest_abort(P.cfg->content_root, name, &e) < 0)
			log_warn("%s", e.msg);
	}
}

static int serve_snap_list(const struct ipc_msg *m)
{
	struct err e = {0};
	struct snapdir *list;
	size_t n;
	if (snapdir_list(P.snapdir, &list, &n, &e) < 0)
		return reply_err(&e);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct ipc_snap_entry en = {.id = list[i].id, .kind = (uint32_t)list[i].kind};
		rc = send_ctl(IPC_SNAP_ENTRY, &en, sizeof en, NULL, 0);
	}
	free(list);
	return rc < 0 ? -1 : reply(0, NULL);
}

/* The permit table: what the broker may ask, and how often.  Lengths and fd
 * counts are checked by ipc_recv, the bodies by ctl_check (ctlcheck.c), and
 * the servers get only requests that passed both; anything else is a
 * violation. */
static const struct permit {
	uint32_t type;
	int once; /* per broker */
	int (*serve)(const struct ipc_msg *m);
} permits[] = {
    {IPC_READY, 1, serve_ready},	 {IPC_SNAP_CREATE, 0, serve_snap_create},
    {IPC_SNAP_DROP, 0, serve_snap_drop}, {IPC_SNAP_LIST, 0, serve_snap_list},
    {IPC_OPEN_BLOB, 0, serve_open_blob}, {IPC_INGEST_OPEN, 0, serve_ingest},
    {IPC_INGEST_ABORT, 0, serve_ingest}, {IPC_SNAP_RESET, 0, serve_snap_reset},
    {IPC_PING, 0, serve_ping},
};

static void serve_ctl(void)
{
	struct ipc_msg m;
	struct err e = {0};
	int r = ipc_recv(P.ctl, IPC_CH_PARENT, &m, &e);
	if (r == 0) {
		/* The broker is going away; its exit is reaped from SIGCHLD. */
		close(P.ctl);
		P.ctl = -1;
		return;
	}
	if (r < 0)
		return broker_reject(e.msg);
	const struct permit *p = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(permits); i++)
		if (permits[i].type == m.type)
			p = &permits[i];
	if (!p) {
		ipc_msg_close(&m);
		return broker_reject("request type not permitted");
	}
	if (p->once && P.ready_seen)
		return broker_reject("READY sent twice");
	if (p->once)
		P.ready_seen = 1;
	const char *bad = ctl_check(&m);
	if (bad)
		return broker_reject(bad);
	p->serve(&m);
}

/* ---- children ----------------------------------------------------------------- */

static void reap(void)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if (pid == P.broker || pid == P.spawner)
			child_gone(pid, st);
}

/* ---- start and stop --------------------------------------------------------- */

static void begin_stop(void)
{
	if (P.stopping)
		return;
	P.stopping = 1;
	P.stop_deadline_ns = now_ns_monotonic() + STOP_GRACE_NS;
	log_info("stopping");
	/* The spawner ends (killing the workers) when the broker's channel
	 * closes. */
	signal_broker(SIGTERM);
}

static void on_signals(void)
{
	struct signalfd_siginfo si;
	while (read(P.sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD)
			reap();
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			begin_stop();
	}
	reap(); /* SIGCHLDs coalesce */
}

static int poll_timeout_ms(void)
{
	uint64_t now = now_ns_monotonic(), at;
	if (P.stopping)
		at = P.stop_deadline_ns;
	else if (!P.broker && !P.spawner)
		at = P.restart_at_ns;
	else
		return -1;
	return at <= now ? 0 : (int)((at - now) / 1000000ull) + 1;
}

static void on_timer(void)
{
	uint64_t now = now_ns_monotonic();
	if (P.stopping && P.broker > 0 && now >= P.stop_deadline_ns) {
		log_warn("broker did not stop in time; killing it");
		signal_broker(SIGKILL);
		P.stop_deadline_ns = now + STOP_GRACE_NS;
	} else if (!P.stopping && !P.broker && !P.spawner && now >= P.restart_at_ns) {
		if (broker_start() < 0)
			P.restart_at_ns = now + (uint64_t)BACKOFF_MAX_MS * 1000000ull;
	}
}

static int run_loop(void)
{
	while (!(P.stopping && !P.broker && !P.spawner)) {
		struct pollfd fds[2] = {{P.sigfd, POLLIN, 0}, {P.ctl, POLLIN, 0}};
		int n = poll(fds, 2, poll_timeout_ms());
		if (n < 0 && errno != EINTR)
			return log_err("poll: %m"), 1;
		if (n > 0 && fds[0].revents)
			on_signals();
		if (n > 0 && fds[1].revents && P.ctl == fds[1].fd && P.ctl >= 0)
			serve_ctl();
		on_timer();
	}
	return 0;
}

static int run(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	P.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (P.sigfd < 0)
		return log_err("signalfd: %m"), 1;
	if (broker_start() < 0)
		return 1;
	int rc = run_loop();
	if (P.own_grpc)
		unlink(P.cfg->address);
	if (P.own_native)
		unlink(P.native_addr);
	if (P.own_metrics)
		unlink(P.cfg->metrics_address);
	log_info("stopped");
	return rc;
}

/* ---- setup ------------------------------------------------------------------ */

/* Creates path 0711 root:root, whatever group and setgid bit its parent
 * would give it: 1 when it made it, 0 when something was there already (left
 * exactly as it is), -1 on error. */
static int mkdir_root(const char *path)
{
	if (mkdir(path, 0711) < 0)
		return errno == EEXIST ? 0 : (log_err("mkdir `%s`: %m", path), -1);
	cleanup_fd int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchmod(fd, 0711) < 0 || fchown(fd, 0, 0) < 0)
		return log_err("set mode and owner of `%s`: %m", path), -1;
	return 1;
}

/* Creates the missing parents of path, 0711 root. */
static int make_parents(const char *path)
{
	cleanup_free char *p = xstrdup(path);
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir_root(p) < 0)
			return -1;
		*s = '/';
	}
	return 0;
}

/* Creates a directory (and missing parents, 0711) or checks the existing one
 * is a real directory; then sets its mode and owner. */
static int ensure_dir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	if (make_parents(path) < 0)
		return -1;
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return log_err("mkdir `%s`: %m", path), -1;
	cleanup_fd int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return log_err("open `%s`: %m (not a directory?)", path), -1;
	if (fchmod(fd, mode) < 0 || fchown(fd, uid, gid) < 0)
		return log_err("set mode and owner of `%s`: %m", path), -1;
	return 0;
}

/* The socket's directory belongs to whoever made it: an existing one (/run,
 * or /tmp with its sticky bit) is used as it is, never chmodded or chowned.
 * Only a missing one is strata's: created 0711 root, so clients reach the
 * socket, whose own mode admits them, and list nothing. */
static int ensure_sockdir(const char *path)
{
	struct stat st;
	int made = make_parents(path) < 0 ? -1 : mkdir_root(path);
	if (made < 0)
		return -1;
	if (!made && (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)))
		return log_err("socket directory `%s` is not a directory", path), -1;
	return 0;
}

static int resolve_user(void)
{
	errno = 0;
	struct passwd *pw = getpwnam(P.cfg->user);
	if (!pw)
		return log_err("broker user `%s` does not exist (create it, e.g. systemd/ensure-user.sh)",
			       P.cfg->user),
		       -1;
	if (pw->pw_uid == 0)
		return log_err("broker user `%s` must not be root", P.cfg->user), -1;
	P.buid = pw->pw_uid;
	P.bgid = pw->pw_gid;
	return 0;
}

/* socket_group as a number: a name from the group database, or decimal. */
static int resolve_socket_group(void)
{
	const char *g = P.cfg->socket_group;
	uint64_t v;
	P.sock_gid = 0;
	if (!g[0])
		return 0;
	if (parse_u64(g, &v) == 0 && v <= 0xfffffffe)
		return P.sock_gid = (gid_t)v, 0;
	struct group *gr = getgrnam(g);
	if (!gr)
		return log_err("socket_group `%s` does not exist", g), -1;
	P.sock_gid = gr->gr_gid;
	return 0;
}

/* A tenant's users connect to the sockets as themselves: with the mode and
 * group root alone has, they are refused before the broker sees them. */
static void check_sockets_admit_tenants(void)
{
	if (P.tenants->n > 1 && P.cfg->socket_mode == 0660 && !P.cfg->socket_group[0])
		log_warn("tenants are configured but the sockets stay 0660 root:root, which their users "
			 "cannot connect to: set socket_group (a group of theirs) or socket_mode = 0666 "
			 "(with socket activation, strata.socket's SocketGroup= or SocketMode=)");
}

/* Overlay's `index` parameter exists once the module is loaded; the broker
 * then adds index=off to its mounts as containerd does. */
static void check_overlay_index(void)
{
	static const char param[] = "/sys/module/overlay/parameters/index";
	if (access(param, F_OK) < 0) {
		pid_t pid = fork();
		if (pid == 0) {
			execl("/sbin/modprobe", "modprobe", "-q", "overlay", (char *)NULL);
			_exit(127);
		}
		int st;
		if (pid > 0)
			waitpid(pid, &st, 0);
	}
	P.index_off = access(param, F_OK) == 0;
	if (!P.index_off)
		log_warn("overlay module has no `index` parameter (not loaded?)");
}

/* Whether something accepts connections on a socket path. */
static int socket_in_use(const char *path, int type)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
	cleanup_fd int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	return fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
}

static int bind_listener(const char *path, int type, int *own)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return log_err("socket path `%s` is too long", path), -1;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_err("socket: %m"), -1;
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	if (rc < 0 && errno == EADDRINUSE) {
		/* Remove a stale socket file, never a live socket or another file. */
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && !socket_in_use(path, type) &&
		    unlink(path) == 0)
			rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
		else
			errno = EADDRINUSE;
	}
	if (rc < 0)
		goto fail;
	*own = 1;
	/* The group first: until the mode is set, the umask leaves the
	 * socket writable by root alone.  lchown: the path is one we just
	 * bound, but the directory may be another's (/tmp). */
	if (lchown(path, (uid_t)-1, P.sock_gid) < 0 || chmod(path, (mode_t)P.cfg->socket_mode) < 0 ||
	    listen(fd, 128) < 0)
		goto fail;
	return fd;
fail:
	log_err("listen on `%s`: %m", path);
	close(fd);
	return -1;
}

/* metrics_address: a unix socket path (group and mode as the others), or
 * HOST:PORT on TCP.  Under systemd's PrivateNetwork= a TCP port bound here
 * is in the service's own network namespace: list it in strata.socket
 * instead, which binds it in the host's. */
static int bind_metrics(const char *addr)
{
	if (addr[0] == '/')
		return bind_listener(addr, SOCK_STREAM, &P.own_metrics);
	char host[256], port[8];
	unsigned p;
	if (config_split_hostport(addr, host, sizeof host, &p) < 0)
		return log_err("metrics_address `%s` is not HOST:PORT", addr), -1;
	snprintf(port, sizeof port, "%u", p);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc)
		return log_err("metrics_address `%s`: %s", addr, gai_strerror(rc)), -1;
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0) {
		log_err("metrics_address `%s`: %m", addr);
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* stratad-spawner, stratad-broker and stratad-worker live next to stratad. */
static int find_helpers(void)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return log_err("readlink /proc/self/exe: %m"), -1;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	*slash = '\0';
	P.spawner_path = xasprintf("%s/stratad-spawner", self);
	P.broker_path = xasprintf("%s/stratad-broker", self);
	P.worker_path = xasprintf("%s/stratad-worker", self);
	const char *const paths[] = {P.spawner_path, P.broker_path, P.worker_path};
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (access(paths[i], X_OK) < 0)
			return log_err("`%s`: %m (it is installed next to stratad)", paths[i]), -1;
	return 0;
}

/* The spawner compiles the policy of every role of the table
 * (parent/prepare.c); a broken one should stop the daemon now, not the
 * spawner at each restart. */
static int check_policies(struct err *e)
{
	for (const struct role_info *r = role_first(); r; r = role_next(r)) {
		if (!r->has_policy)
			continue;
		struct policy *p = policy_for_role(r->name, e);
		struct policy_bpf b = {0};
		int rc = p && policy_compile(p, P.cfg->seccomp_log, &b, e) == 0 ? 0 : -1;
		policy_bpf_free(&b);
		policy_free(p);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Variables by which glibc, in a confined process, would make a call its
 * policy lacks: GLIBC_TUNABLES and the MALLOC_* variables glibc reads as
 * tunables (glibc.malloc.hugetlb=1 has malloc advise huge pages with
 * madvise; a low arena_test has a thread's first allocation ask for the
 * CPUs with sched_getaffinity), and GCONV_PATH (iconv, which libarchive
 * opens for a layer's pax headers, then calls getcwd).  The broker and the
 * spawner, and so every worker and helper, start without them; the parent
 * keeps what its own glibc read at its start. */
static void drop_glibc_environment(void)
{
	static const char *const vars[] = {
	    "GLIBC_TUNABLES",	      "MALLOC_CHECK_",	  "MALLOC_TOP_PAD_",  "MALLOC_PERTURB_",
	    "MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_", "MALLOC_ARENA_MAX", "MALLOC_ARENA_TEST",
	    "MALLOC_TRIM_THRESHOLD_", "GCONV_PATH",
	};
	for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
		unsetenv(vars[i]);
}

static int parent_setup(void)
{
	const struct config *c = P.cfg;
	if (geteuid() != 0)
		return log_err("stratad must start as root (it drops privileges per process)"), -1;
	drop_glibc_environment();
	if (resolve_user() < 0 || resolve_socket_group() < 0)
		return -1;
	check_sockets_admit_tenants();
	char *meta = xasprintf("%s/meta", c->root), *sockdir = xstrdup(c->address);
	*strrchr(sockdir, '/') = '\0';
	int rc = ensure_dir(c->root, 0711, 0, 0) < 0 || ensure_dir(P.snap_path, 0700, 0, 0) < 0 ||
			 ensure_dir(meta, 0700, P.buid, P.bgid) < 0 ||
			 (sockdir[0] && ensure_sockdir(sockdir) < 0)
		     ? -1
		     : 0;
	free(meta);
	free(sockdir);
	if (rc < 0)
		return -1;
	struct err e = {0};
	if ((P.snapdir = snapdir_open(P.snap_path, &e)) < 0 || find_helpers() < 0 || check_policies(&e) < 0 ||
	    sd_listen_fds_take(c->address, &P.grpc_fd, &P.native_fd, &P.metrics_fd, &e) < 0)
		return log_err("%s", e.msg), -1;
	check_overlay_index();
	/* Ingests of a daemon that died are strata's to remove: no broker
	 * runs yet, so none is in use (one stratad per content_root, as one
	 * containerd per root). */
	int swept = c->content_root[0] ? content_ingests_sweep(c->content_root, &e) : 0;
	if (swept < 0)
		log_warn("%s", e.msg);
	else if (swept > 0)
		log_info("removed %d ingests left over in `%s`", swept, c->content_root);
	/* Appended to by the broker, which cannot open it (its own account,
	 * its policy): root's file, not the broker's to truncate or read. */
	if (c->audit_log[0] &&
	    (P.audit_fd = open(c->audit_log, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640)) <
		0)
		return log_err("audit_log `%s`: %m", c->audit_log), -1;
	if (P.grpc_fd < 0 && (P.grpc_fd = bind_listener(c->address, SOCK_STREAM, &P.own_grpc)) < 0)
		return -1;
	if (P.native_fd < 0 &&
	    (P.native_fd = bind_listener(P.native_addr, SOCK_SEQPACKET, &P.own_native)) < 0)
		return -1;
	/* A metrics socket systemd passed is served whatever metrics_address
	 * says: strata.socket is where the admin chose it. */
	P.metrics_passed = P.metrics_fd >= 0;
	if (P.metrics_fd < 0 && c->metrics_address[0] &&
	    (P.metrics_fd = bind_metrics(c->metrics_address)) < 0)
		return -1;
	return 0;
}

int parent_main(const struct config *cfg, const struct tenants *tenants)
{
	P.cfg = cfg;
	P.tenants = tenants;
	P.native_addr = config_native_address(cfg);
	P.snap_path = xasprintf("%s/snapshots", cfg->root);
	umask(022);
	if (parent_setup() < 0)
		return 1;
	return run();
}
