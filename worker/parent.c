/* The parent (root, tiny): state directories, sockets, the broker's life
 * cycle, the broker's requests and the workers' exits.  It parses nothing
 * but fixed-size ipc records, checks each against the permit table, and
 * never dies because of the broker: a broker that breaks the protocol is
 * killed and started afresh. */
#include "parent.h"

#include <errno.h>
#include <fcntl.h>
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

#include "../broker/broker.h"
#include "../broker/parentlink.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../proto/ipc.h"
#include "sandbox.h"
#include "snapdir.h"

#define BACKOFF_MIN_MS	   100
#define BACKOFF_MAX_MS	   10000
#define BROKER_STABLE_NS   (30ull * 1000000000ull) /* lived this long: back-off resets */
#define STOP_GRACE_NS	   (5ull * 1000000000ull)
#define CTL_SEND_TIMEOUT_S 5
#define PROBE_MAX_HOLD_MS  600000

struct worker {
	pid_t pid;
	uint64_t job_id;
	int role;
	uint64_t target;
	unsigned gen; /* broker generation that asked for it */
};

/* A message waiting for room on the event channel (SPAWNED keeps its fd). */
struct evt_msg {
	uint32_t type;
	size_t len;
	union {
		struct ipc_job_exit job_exit;
		struct ipc_spawned spawned;
		struct ipc_spawn_failed spawn_failed;
	} body;
	int fd;
};

static struct {
	const struct config *cfg;
	char *native_addr, *snap_path;
	int snapdir; /* O_PATH fd of ROOT/snapshots */
	uid_t buid;
	gid_t bgid;
	int index_off;
	int grpc_fd, native_fd;
	int own_grpc, own_native; /* socket files we created (not systemd's) */
	int sigfd;
	/* the broker */
	pid_t broker;
	int ctl, evt;
	unsigned gen;
	int ready_seen, notified;
	uint64_t started_ns, restart_at_ns;
	unsigned backoff_ms;
	/* workers and their exits not yet delivered */
	struct worker *workers;
	size_t nworkers, capworkers;
	struct evt_msg *pending;
	size_t npending, cappending;
	int stopping;
	uint64_t stop_deadline_ns;
} P = {.snapdir = -1, .grpc_fd = -1, .native_fd = -1, .sigfd = -1, .ctl = -1, .evt = -1};

/* Forgets what was waiting for a broker that is gone. */
static void evts_drop(void)
{
	for (size_t i = 0; i < P.npending; i++)
		if (P.pending[i].fd >= 0)
			close(P.pending[i].fd);
	P.npending = 0;
}

/* ---- the broker ----------------------------------------------------------- */

static char **broker_argv(void)
{
	static const char *levels[] = {"error", "warn", "info", "debug"};
	const struct config *c = P.cfg;
	char **v = xcalloc(20, sizeof *v);
	int n = 0;
	v[n++] = xstrdup("stratad");
	v[n++] = xstrdup("--role=broker");
	v[n++] = xasprintf("--broker-uid=%u", (unsigned)P.buid);
	v[n++] = xasprintf("--broker-gid=%u", (unsigned)P.bgid);
	if (P.index_off)
		v[n++] = xstrdup("--overlay-index-off");
	v[n++] = xasprintf("--root=%s", c->root);
	v[n++] = xasprintf("--address=%s", c->address);
	v[n++] = xasprintf("--user=%s", c->user);
	v[n++] = xasprintf("--content-root=%s", c->content_root);
	v[n++] = xasprintf("--log-level=%s", levels[c->log_level & 3]);
	if (c->seccomp_log)
		v[n++] = xstrdup("--seccomp-log");
	if (c->enable_probe)
		v[n++] = xstrdup("--enable-probe");
	v[n++] = xasprintf("--max-message=%u", c->max_message);
	v[n++] = xasprintf("--max-connections=%u", c->max_conns);
	v[n++] = xasprintf("--max-jobs=%u", c->max_jobs);
	return v;
}

/* In the forked child: the four channel fds land on 3..6 (broker/broker.h),
 * everything else is closed, and the broker drops its privileges itself. */
_Noreturn static void broker_exec(int ctl, int evt)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	int src[4] = {ctl, evt, P.grpc_fd, P.native_fd}, staged[4];
	/* Staged above the targets first, so no source is overwritten. */
	for (int i = 0; i < 4; i++)
		if ((staged[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 16)) < 0)
			die("broker: dup channel fd: %m");
	for (int i = 0; i < 4; i++)
		if (dup2(staged[i], BROKER_FD_CTL + i) < 0)
			die("broker: dup2: %m");
	close_range(BROKER_FD_NATIVE + 1, ~0U, 0);
	char **argv = broker_argv();
	execv("/proc/self/exe", argv);
	die("broker: exec /proc/self/exe: %m");
}

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
	pid_t pid = fork();
	if (pid == 0)
		broker_exec(ctl[1], evt[1]);
	close(ctl[1]);
	close(evt[1]);
	if (pid < 0) {
		close(ctl[0]);
		close(evt[0]);
		return log_err("broker: fork: %m"), -1;
	}
	/* A broker that stops reading must not stall the parent. */
	struct timeval tv = {CTL_SEND_TIMEOUT_S, 0};
	setsockopt(ctl[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	set_nonblock(evt[0], 1);
	P.broker = pid;
	P.ctl = ctl[0];
	P.evt = evt[0];
	P.gen++;
	P.ready_seen = 0;
	evts_drop();
	P.started_ns = now_ns_monotonic();
	log_debug("broker started, pid %d", (int)pid);
	return 0;
}

/* The broker broke the protocol: it is buggy or compromised. */
static void broker_reject(const char *why)
{
	log_err("broker (pid %d) violated the ipc protocol: %s; killing it", (int)P.broker, why);
	if (P.broker > 0)
		kill(P.broker, SIGKILL);
	if (P.ctl >= 0)
		close(P.ctl);
	P.ctl = -1;
}

static void broker_gone(int wstatus)
{
	if (WIFSIGNALED(wstatus))
		log_msg(P.stopping ? LOG_INFO_ : LOG_ERR_, "broker (pid %d) killed by signal %d",
			(int)P.broker, WTERMSIG(wstatus));
	else
		log_msg(P.stopping ? LOG_INFO_ : LOG_ERR_, "broker (pid %d) exited with status %d",
			(int)P.broker, WEXITSTATUS(wstatus));
	P.broker = 0;
	if (P.ctl >= 0)
		close(P.ctl);
	if (P.evt >= 0)
		close(P.evt);
	P.ctl = P.evt = -1;
	evts_drop();
	/* Its jobs have nobody to report to. */
	for (size_t i = 0; i < P.nworkers; i++)
		kill(P.workers[i].pid, SIGKILL);
	if (P.stopping)
		return;
	uint64_t now = now_ns_monotonic();
	if (now - P.started_ns > BROKER_STABLE_NS || P.backoff_ms == 0)
		P.backoff_ms = BACKOFF_MIN_MS;
	else if ((P.backoff_ms *= 2) > BACKOFF_MAX_MS)
		P.backoff_ms = BACKOFF_MAX_MS;
	P.restart_at_ns = now + (uint64_t)P.backoff_ms * 1000000ull;
	log_info("restarting the broker in %u ms", P.backoff_ms);
}

/* ---- replies ---------------------------------------------------------------- */

/* The broker turns errno back into a status (status_from_errno). */
static int errno_from_status(int code)
{
	switch (code) {
	case ST_NOT_FOUND:
		return ENOENT;
	case ST_ALREADY_EXISTS:
		return EEXIST;
	case ST_INVALID_ARGUMENT:
		return EINVAL;
	case ST_PERMISSION_DENIED:
		return EACCES;
	case ST_RESOURCE_EXHAUSTED:
		return ENOSPC;
	case ST_FAILED_PRECONDITION:
		return ENOTEMPTY;
	case ST_UNIMPLEMENTED:
		return ENOSYS;
	default:
		return EIO;
	}
}

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
	log_info("serving gRPC on %s and native on %s", P.cfg->address, P.native_addr);
	if (!P.notified) {
		struct err e = {0};
		if (sd_notify_state("READY=1", &e) < 0)
			log_warn("%s", e.msg);
		P.notified = 1;
	}
	return reply(0, NULL);
}

static int serve_snap_create(const struct ipc_msg *m)
{
	const struct ipc_snap_create *r = &m->body.snap_create;
	if (r->id == 0 || r->active > 1 || r->pad || r->parent_id == r->id)
		return broker_reject("SNAP_CREATE with a bad id or flag"), -1;
	struct err e = {0};
	if (snapdir_create(P.snapdir, r->id, r->parent_id, (int)r->active, &e) < 0)
		return reply_err(&e);
	return reply(0, NULL);
}

static int serve_snap_drop(const struct ipc_msg *m)
{
	const struct ipc_snap_drop *r = &m->body.snap_drop;
	if (r->id == 0 || (r->kind != SNAPDIR_LIVE && r->kind != SNAPDIR_NEW) || r->pad)
		return broker_reject("SNAP_DROP with a bad id or kind"), -1;
	struct err e = {0};
	if (snapdir_drop(P.snapdir, r->id, (int)r->kind, &e) < 0)
		return reply_err(&e);
	return reply(0, NULL);
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

static struct worker *worker_by_job(uint64_t job_id)
{
	for (size_t i = 0; i < P.nworkers; i++)
		if (P.workers[i].job_id == job_id)
			return &P.workers[i];
	return NULL;
}

/* Everything a SPAWN may say; the rest is a protocol violation. */
static const char *spawn_invalid(const struct ipc_spawn *s)
{
	if (s->job_id == 0 || worker_by_job(s->job_id))
		return "SPAWN with a zero or duplicate job id";
	if (s->target == 0 || s->nlower > IPC_MAX_LOWER)
		return "SPAWN with a bad target or lower count";
	if ((s->flags & ~IPC_SPAWN_DROP_FIRST) ||
	    ((s->flags & IPC_SPAWN_DROP_FIRST) && s->role != ROLE_REMOVE))
		return "SPAWN with bad flags";
	if (s->role == ROLE_PROBE) {
		if (!P.cfg->enable_probe)
			return "SPAWN of a probe without enable_probe";
		if (s->probe_role != ROLE_USAGE && s->probe_role != ROLE_REMOVE)
			return "SPAWN of a probe for an unknown role";
		if (s->probe_syscall < -1 || s->probe_syscall > 4095 || s->probe_hold_ms > PROBE_MAX_HOLD_MS)
			return "SPAWN of a probe with a bad syscall or hold time";
	} else if (s->role == ROLE_USAGE || s->role == ROLE_REMOVE) {
		if (s->probe_role || s->probe_syscall || s->probe_hold_ms)
			return "SPAWN with probe fields for a non-probe role";
	} else {
		return "SPAWN of an unknown role";
	}
	/* usage and remove read no lower layers */
	if (s->nlower != 0)
		return "SPAWN with lower layers for a role that takes none";
	return NULL;
}

static void queue_evt(uint32_t type, const void *body, size_t len, int fd);

/* SPAWN is answered on the event channel, never on ctl: SPAWNED with the
 * broker's end of the job socket, or SPAWN_FAILED. */
static int spawn_failed(uint64_t job_id, int errnum, const char *msg)
{
	struct ipc_spawn_failed f = {.job_id = job_id, .errnum = errnum};
	ipc_set_text(f.msg, msg);
	queue_evt(IPC_SPAWN_FAILED, &f, sizeof f, -1);
	return 0;
}

static int serve_spawn(const struct ipc_msg *m)
{
	const struct ipc_spawn *s = &m->body.spawn;
	const char *bad = spawn_invalid(s);
	if (bad)
		return broker_reject(bad), -1;
	if (P.nworkers >= P.cfg->max_jobs)
		return spawn_failed(s->job_id, EAGAIN, "start worker: too many workers running");
	struct err e = {0};
	if ((s->flags & IPC_SPAWN_DROP_FIRST) && snapdir_drop(P.snapdir, s->target, SNAPDIR_LIVE, &e) < 0)
		return spawn_failed(s->job_id, errno_from_status(e.code), e.msg);
	char name[64];
	sandbox_target_name(s, name, sizeof name);
	if (snapdir_check_target(P.snapdir, name, &e) < 0)
		return spawn_failed(s->job_id, errno_from_status(e.code), e.msg);
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return spawn_failed(s->job_id, errno, "start worker: socketpair");
	pid_t me = getpid(), pid = fork();
	if (pid == 0)
		sandbox_run(P.snap_path, sp[1], s, me);
	int saved = errno;
	close(sp[1]);
	if (pid < 0) {
		close(sp[0]);
		return spawn_failed(s->job_id, saved, "start worker: fork");
	}
	if (P.nworkers == P.capworkers)
		P.workers = xrealloc(P.workers, (P.capworkers = P.capworkers * 2 + 8) * sizeof *P.workers);
	P.workers[P.nworkers++] = (struct worker){pid, s->job_id, (int)s->role, s->target, P.gen};
	log_debug("worker %d: job %llu, role %s, target %llu", (int)pid, (unsigned long long)s->job_id,
		  worker_role_name((int)s->role), (unsigned long long)s->target);
	struct ipc_spawned r = {.job_id = s->job_id, .pid = pid};
	queue_evt(IPC_SPAWNED, &r, sizeof r, sp[0]);
	return 0;
}

/* The permit table: what the broker may ask, and how often.  Lengths and fd
 * counts are checked by ipc_recv; anything else is a violation. */
static const struct permit {
	uint32_t type;
	int once; /* per broker */
	int (*serve)(const struct ipc_msg *m);
} permits[] = {
    {IPC_READY, 1, serve_ready},	 {IPC_SNAP_CREATE, 0, serve_snap_create},
    {IPC_SNAP_DROP, 0, serve_snap_drop}, {IPC_SNAP_LIST, 0, serve_snap_list},
    {IPC_SPAWN, 0, serve_spawn},
};

static void serve_ctl(void)
{
	struct ipc_msg m;
	struct err e = {0};
	int r = ipc_recv(P.ctl, &m, &e);
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
	p->serve(&m);
}

/* ---- workers ---------------------------------------------------------------- */

static void queue_evt(uint32_t type, const void *body, size_t len, int fd)
{
	if (P.npending == P.cappending)
		P.pending = xrealloc(P.pending, (P.cappending = P.cappending * 2 + 16) * sizeof *P.pending);
	struct evt_msg *m = &P.pending[P.npending++];
	m->type = type;
	m->len = len;
	memcpy(&m->body, body, len);
	m->fd = fd;
}

static void queue_exit(uint64_t job_id, int wstatus)
{
	struct ipc_job_exit x = {.job_id = job_id, .wstatus = wstatus};
	queue_evt(IPC_JOB_EXIT, &x, sizeof x, -1);
}

/* Sends what waits on the event channel, in order, as far as it takes it. */
static void flush_evts(void)
{
	size_t sent = 0;
	while (sent < P.npending && P.evt >= 0) {
		struct evt_msg *m = &P.pending[sent];
		struct err e = {0};
		if (ipc_send(P.evt, m->type, &m->body, m->len, m->fd >= 0 ? &m->fd : NULL, m->fd >= 0, &e) <
		    0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				broker_reject(e.msg);
			break;
		}
		if (m->fd >= 0)
			close(m->fd);
		sent++;
	}
	memmove(P.pending, P.pending + sent, (P.npending - sent) * sizeof *P.pending);
	P.npending -= sent;
}

static void worker_gone(size_t i, int wstatus)
{
	struct worker w = P.workers[i];
	P.workers[i] = P.workers[--P.nworkers];
	/* rm-ID goes before the broker hears of the exit, so that it sees
	 * the directory gone once the job is done. */
	if (w.role == ROLE_REMOVE && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
		struct err e = {0};
		if (snapdir_remove_rm(P.snapdir, w.target, &e) < 0)
			log_warn("%s", e.msg);
	}
	if (w.gen == P.gen && P.broker)
		queue_exit(w.job_id, wstatus);
}

static void reap(void)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == P.broker) {
			broker_gone(st);
			continue;
		}
		for (size_t i = 0; i < P.nworkers; i++)
			if (P.workers[i].pid == pid) {
				worker_gone(i, st);
				break;
			}
	}
}

/* ---- start and stop --------------------------------------------------------- */

static void begin_stop(void)
{
	if (P.stopping)
		return;
	P.stopping = 1;
	P.stop_deadline_ns = now_ns_monotonic() + STOP_GRACE_NS;
	log_info("stopping");
	if (P.broker > 0)
		kill(P.broker, SIGTERM);
	for (size_t i = 0; i < P.nworkers; i++)
		kill(P.workers[i].pid, SIGKILL);
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
	else if (!P.broker)
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
		kill(P.broker, SIGKILL);
		P.stop_deadline_ns = now + STOP_GRACE_NS;
	} else if (!P.stopping && !P.broker && now >= P.restart_at_ns) {
		if (broker_start() < 0)
			P.restart_at_ns = now + (uint64_t)BACKOFF_MAX_MS * 1000000ull;
	}
}

static int run_loop(void)
{
	while (!(P.stopping && !P.broker && P.nworkers == 0)) {
		struct pollfd fds[3] = {
		    {P.sigfd, POLLIN, 0}, {P.ctl, POLLIN, 0}, {P.evt, P.npending ? POLLOUT : 0, 0}};
		int n = poll(fds, 3, poll_timeout_ms());
		if (n < 0 && errno != EINTR)
			return log_err("poll: %m"), 1;
		if (n > 0 && fds[0].revents)
			on_signals();
		if (n > 0 && fds[1].revents && P.ctl == fds[1].fd && P.ctl >= 0)
			serve_ctl();
		if (P.npending)
			flush_evts();
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
	log_info("stopped");
	return rc;
}

/* ---- setup ------------------------------------------------------------------ */

/* Creates a directory (and missing parents, 0711) or checks the existing one
 * is a real directory; then sets its mode and owner. */
static int ensure_dir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	char *p = xstrdup(path);
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0711) < 0 && errno != EEXIST) {
			log_err("mkdir `%s`: %m", p);
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return log_err("mkdir `%s`: %m", path), -1;
	cleanup_fd int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return log_err("open `%s`: %m (not a directory?)", path), -1;
	if (fchmod(fd, mode) < 0 || fchown(fd, uid, gid) < 0)
		return log_err("set mode and owner of `%s`: %m", path), -1;
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
	if (chmod(path, 0660) < 0 || listen(fd, 128) < 0)
		goto fail;
	return fd;
fail:
	log_err("listen on `%s`: %m", path);
	close(fd);
	return -1;
}

static int parent_setup(void)
{
	const struct config *c = P.cfg;
	if (geteuid() != 0)
		return log_err("stratad must start as root (it drops privileges per process)"), -1;
	if (resolve_user() < 0)
		return -1;
	char *meta = xasprintf("%s/meta", c->root), *sockdir = xstrdup(c->address);
	*strrchr(sockdir, '/') = '\0';
	int rc = ensure_dir(c->root, 0711, 0, 0) < 0 || ensure_dir(P.snap_path, 0700, 0, 0) < 0 ||
			 ensure_dir(meta, 0700, P.buid, P.bgid) < 0 ||
			 (sockdir[0] && ensure_dir(sockdir, 0711, 0, 0) < 0)
		     ? -1
		     : 0;
	free(meta);
	free(sockdir);
	if (rc < 0)
		return -1;
	struct err e = {0};
	if ((P.snapdir = snapdir_open(P.snap_path, &e)) < 0 || sandbox_init(c->seccomp_log, &e) < 0 ||
	    sd_listen_fds_take(&P.grpc_fd, &P.native_fd, &e) < 0)
		return log_err("%s", e.msg), -1;
	check_overlay_index();
	if (P.grpc_fd < 0 && (P.grpc_fd = bind_listener(c->address, SOCK_STREAM, &P.own_grpc)) < 0)
		return -1;
	if (P.native_fd < 0 &&
	    (P.native_fd = bind_listener(P.native_addr, SOCK_SEQPACKET, &P.own_native)) < 0)
		return -1;
	return 0;
}

int parent_main(const struct config *cfg)
{
	P.cfg = cfg;
	P.native_addr = config_native_address(cfg);
	P.snap_path = xasprintf("%s/snapshots", cfg->root);
	umask(022);
	if (parent_setup() < 0)
		return 1;
	return run();
}
