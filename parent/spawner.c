/* The spawner's loop: SPAWN requests from the broker, checked against the
 * role table (spawncheck.c), turned into forked workers (or forked children
 * that exec stratad-worker, spawner.h); worker exits reaped and reported.
 * Everything it sends goes out on the one event channel, in order, so a
 * job's SPAWNED always precedes its JOB_EXIT. */
#include "spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../proto/roles.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../proto/ipc.h"
#include "content.h"
#include "feed.h"
#include "idmap.h"
#include "publish.h"
#include "../worker/roles.h"
#include "../worker/sandbox.h"
#include "../policy/policy.h"
#include "prepare.h"
#include "spawncheck.h"
#include "snapdir.h"

#define EXIT_VIOLATION 3

struct worker {
	pid_t pid;
	uint64_t job_id;
	int role;
	int confined;	  /* the role whose confinement it has (a probe's probed role) */
	int report;	  /* read end of its report pipe (policy/policy.c), or -1 */
	pid_t feeder;	  /* ROLE_EXTRACT: the feeder of its input pipe, until reaped; or 0 */
	uint64_t *rm_ids; /* ROLE_REMOVE: the rm-ID directories it empties */
	size_t nrm;
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
	const struct spawner_args *a;
	int sigfd;
	struct worker *workers;
	size_t nworkers, capworkers;
	struct evt_msg *pending;
	size_t npending, cappending;
	int report_w; /* in a child of fork_job: the write end of its report pipe */
} S;

_Noreturn static void finish(int status)
{
	for (size_t i = 0; i < S.nworkers; i++)
		kill(S.workers[i].pid, SIGKILL);
	while (S.nworkers && waitpid(-1, NULL, 0) > 0)
		S.nworkers--;
	_exit(status);
}

/* The broker broke the protocol: the parent sees this exit and restarts the
 * broker and a new spawner. */
_Noreturn static void violation(const char *why)
{
	log_err("broker violated the spawn protocol: %s", why);
	finish(EXIT_VIOLATION);
}

static void queue_evt(uint32_t type, const void *body, size_t len, int fd)
{
	if (S.npending == S.cappending)
		S.pending = xrealloc(S.pending, (S.cappending = S.cappending * 2 + 16) * sizeof *S.pending);
	struct evt_msg *m = &S.pending[S.npending++];
	m->type = type;
	m->len = len;
	memcpy(&m->body, body, len);
	m->fd = fd;
}

/* Sends what waits, in order, as far as the channel takes it. */
static void flush_evts(void)
{
	size_t sent = 0;
	while (sent < S.npending) {
		struct evt_msg *m = &S.pending[sent];
		struct err e = {0};
		if (ipc_send(S.a->evt, m->type, &m->body, m->len, m->fd >= 0 ? &m->fd : NULL, m->fd >= 0,
			     &e) < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				finish(0); /* the broker is gone */
			break;
		}
		if (m->fd >= 0)
			close(m->fd);
		sent++;
	}
	memmove(S.pending, S.pending + sent, (S.npending - sent) * sizeof *S.pending);
	S.npending -= sent;
}

static struct worker *worker_by_job(uint64_t job_id)
{
	for (size_t i = 0; i < S.nworkers; i++)
		if (S.workers[i].job_id == job_id)
			return &S.workers[i];
	return NULL;
}

static struct worker *worker_add(pid_t pid, uint64_t job_id, int role, int confined, int report,
				 uint64_t *rm_ids, size_t nrm)
{
	if (S.nworkers == S.capworkers)
		S.workers = xrealloc(S.workers, (S.capworkers = S.capworkers * 2 + 8) * sizeof *S.workers);
	S.workers[S.nworkers] = (struct worker){.pid = pid,
						.job_id = job_id,
						.role = role,
						.confined = confined,
						.report = report,
						.rm_ids = rm_ids,
						.nrm = nrm};
	return &S.workers[S.nworkers++];
}

static void spawn_failed(uint64_t job_id, int errnum, const char *msg);
static struct worker *fork_worker(const struct ipc_spawn *s, int input_fd, uint32_t spawned_flags,
				  uint64_t *rm_ids, size_t nrm);

/* A remove job: the target and lower[] are one batch of snapshots.  Each is
 * renamed to rm-ID first (DROP_FIRST), and a bare skeleton is deleted here
 * with four rmdir calls (snapdir_remove_empty); one remove worker empties
 * the rest, each rm-ID at /N of its view, and they are rmdir'ed when it
 * exits.  A snapshot that cannot be dropped stays an orphan for Cleanup:
 * the others go on. */
static void serve_remove(const struct ipc_spawn *s)
{
	static struct ipc_spawn w;
	size_t n = 0, total = 1 + (size_t)s->nlower;
	uint64_t *left = xcalloc(total, sizeof *left);
	for (size_t i = 0; i < total; i++) {
		uint64_t id = i == 0 ? s->target : s->lower[i - 1];
		struct err e = {0};
		int rc =
		    (s->flags & IPC_SPAWN_DROP_FIRST) ? snapdir_drop(S.a->snapdir, id, SNAPDIR_LIVE, &e) : 0;
		if (rc == 0)
			rc = snapdir_remove_empty(S.a->snapdir, id, &e);
		if (rc < 0)
			log_warn("%s", e.msg);
		if (rc == 0)
			left[n++] = id;
	}
	if (n == 0) {
		free(left);
		struct ipc_job_exit x = {.job_id = s->job_id};
		return queue_evt(IPC_REMOVED, &x, sizeof x, -1);
	}
	if (S.nworkers >= S.a->cfg->max_jobs) {
		free(left);
		return spawn_failed(s->job_id, EAGAIN, "start worker: too many workers running");
	}
	w = *s;
	w.flags = 0;
	w.target = left[0];
	w.nlower = (uint32_t)(n - 1);
	memcpy(w.lower, left + 1, (n - 1) * sizeof *left);
	fork_worker(&w, -1, 0, left, n);
}

static void spawn_failed(uint64_t job_id, int errnum, const char *msg)
{
	struct ipc_spawn_failed f = {.job_id = job_id, .errnum = errnum};
	ipc_set_text(f.msg, msg);
	queue_evt(IPC_SPAWN_FAILED, &f, sizeof f, -1);
}

static void serve_spawn(uint32_t type, const struct ipc_spawn *s, int input_fd)
{
	const char *bad = worker_by_job(s->job_id) ? "SPAWN with a zero or duplicate job id"
						   : spawn_check(type, s, S.a->cfg->enable_probe);
	if (bad)
		violation(bad);
	if (s->role == ROLE_REMOVE)
		return serve_remove(s);
	struct err e = {0};
	/* The kinds of fd a role takes: a regular file or a pipe.  The broker
	 * refuses anything else from a client, so another kind here is the
	 * broker's doing. */
	int kind = input_fd >= 0 ? fd_kind(input_fd, &e) : 0;
	if (kind < 0)
		violation("SPAWN_INPUT of an fd that is neither a regular file nor a pipe");
	/* The broker also refuses a client's fd that cannot be read (an
	 * apply's layer) or written (a diff's output).  Another here is its
	 * doing, and reopened read-only as root (feed_reopen), an O_PATH or
	 * write-only fd would give a worker what the client could not read. */
	if (kind > 0 && fd_access(input_fd, s->role == ROLE_DIFF, &e) < 0)
		violation(
		    "SPAWN_INPUT of an fd not open for reading (an extract's layer) or writing (a diff's "
		    "output)");
	if (S.nworkers >= S.a->cfg->max_jobs)
		return spawn_failed(s->job_id, EAGAIN, "start worker: too many workers running");
	char name[64];
	role_target_name(s, name, sizeof name);
	if (snapdir_check_target(S.a->snapdir, name, &e) < 0)
		return spawn_failed(s->job_id, errno_from_status(e.code), e.msg);
	for (uint32_t i = 0; i < s->nlower; i++) {
		snprintf(name, sizeof name, "%llu/fs", (unsigned long long)s->lower[i]);
		if (snapdir_check_target(S.a->snapdir, name, &e) < 0)
			return spawn_failed(s->job_id, errno_from_status(e.code), e.msg);
	}
	/* A diff's second attempt (its fast path gave up) starts on an empty
	 * output: the spawner empties the one fd the client gave for the layer,
	 * so that the diff policy needs no call that changes a file.  Only a
	 * regular file can be emptied; a pipe cannot take the layer twice. */
	struct stat st;
	if ((s->flags & IPC_SPAWN_DIFF_RESTART) &&
	    (fstat(input_fd, &st) < 0 || !S_ISREG(st.st_mode) || ftruncate(input_fd, 0) < 0 ||
	     lseek(input_fd, 0, SEEK_SET) < 0))
		return spawn_failed(s->job_id, ENOTEMPTY,
				    "diff: the upperdir has overlay redirects and the layer went to a pipe: "
				    "compare the trees instead (strata diff KEY --parent PARENT)");
	/* An idmapped mount's user namespace: made here, as root, and given
	 * to the mount worker as its fd 4. */
	cleanup_fd int userns = -1;
	if ((s->flags & IPC_SPAWN_MOUNT_IDMAP) && (input_fd = userns = idmap_userns(s, &e)) < 0)
		return spawn_failed(s->job_id, errno_from_status(e.code), e.msg);
	/* An extract worker never gets the layer file as the client opened
	 * it: a read-only reopen of it, or a pipe a feeder fills
	 * (parent/feed.h). */
	pid_t feeder = 0;
	cleanup_fd int fed = -1;
	if (s->role == ROLE_EXTRACT && kind == FD_FILE) {
		struct err re = {0};
		if ((fed = feed_reopen(input_fd, &re)) >= 0) {
			input_fd = fed;
			log_debug("job %llu: the layer is a file, reopened read-only",
				  (unsigned long long)s->job_id);
		} else if ((input_fd = fed = feed_start(input_fd, &feeder, &e)) < 0) {
			return spawn_failed(s->job_id, errno_from_status(e.code), e.msg);
		} else {
			log_debug("feeder %d: job %llu, the layer is a file (%s)", (int)feeder,
				  (unsigned long long)s->job_id, re.msg);
		}
	}
	/* Whether the target is empty, looked at before the worker exists:
	 * a failed apply into an empty target is undone (IPC_SNAP_RESET),
	 * one into a target with content only marked. */
	uint32_t flags = 0;
	if (s->role == ROLE_EXTRACT && snapdir_fs_empty(S.a->snapdir, s->target, &e) == 1)
		flags |= IPC_SPAWNED_TARGET_EMPTY;
	struct worker *w = fork_worker(s, input_fd, flags, NULL, 0);
	if (w)
		w->feeder = feeder;
	else if (feeder > 0)
		kill(feeder, SIGKILL);
}

/* Forks the process of a job: child(job socket, this pid, arg) runs in it
 * and never returns, with S.report_w the write end of its report pipe.  On
 * success queues SPAWNED (with the broker's end of the job socket) and
 * returns the pid, *report the pipe's read end (non-blocking); else queues
 * SPAWN_FAILED and returns -1. */
static pid_t fork_job(uint64_t job_id, uint32_t spawned_flags,
		      void (*child)(int job_fd, pid_t parent, const void *arg), const void *arg, int *report)
{
	int sp[2], rp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		spawn_failed(job_id, errno, "start worker: socketpair");
		return -1;
	}
	if (pipe2(rp, O_CLOEXEC) < 0) {
		close(sp[0]);
		close(sp[1]);
		spawn_failed(job_id, errno, "start worker: pipe");
		return -1;
	}
	S.report_w = rp[1];
	pid_t me = getpid(), pid = fork();
	if (pid == 0) {
		child(sp[1], me, arg); /* never returns */
		_exit(127);
	}
	int saved = errno;
	close(sp[1]);
	close(rp[1]);
	if (pid < 0 || set_nonblock(rp[0], 1) < 0) {
		close(sp[0]);
		close(rp[0]);
		if (pid > 0)
			kill(pid, SIGKILL);
		spawn_failed(job_id, saved, "start worker: fork");
		return -1;
	}
	*report = rp[0];
	struct ipc_spawned r = {.job_id = job_id, .pid = pid, .flags = spawned_flags};
	queue_evt(IPC_SPAWNED, &r, sizeof r, sp[0]);
	return pid;
}

/* The roles a fork of the spawner runs: none of them links more than libc
 * and the kernel's calls.  The others run in stratad-worker (spawner.h). */
static const sandbox_role_fn forked_runs[ROLE_MAX + 1] = {
    [ROLE_USAGE] = role_usage_run,
    [ROLE_REMOVE] = role_remove_run,
    [ROLE_MOUNT] = role_mount_run,
    [ROLE_PROBE] = role_probe_run,
};

int spawner_forks(int role)
{
	return role == ROLE_FEED || (role > 0 && role <= ROLE_MAX && forked_runs[role]);
}

/* A worker's process: its sandbox (fork_job's child). */
struct worker_child {
	const struct ipc_spawn *s;
	int input_fd;
};
_Noreturn static void worker_child(int job_fd, pid_t parent, const void *arg)
{
	const struct worker_child *w = arg;
	const struct role_info *conf = role_confinement(w->s);
	prepare_join_namespaces();
	sandbox_run(S.a->cfg, conf ? prepare_confinement(conf->role) : NULL, S.a->snap_path, job_fd,
		    w->input_fd, S.report_w, w->s, parent, forked_runs);
}

/* The image could not be started: the job fails as a sandbox step would. */
_Noreturn static void exec_fail(int job_fd, const char *what)
{
	struct err e;
	err_errno(&e, ST_INTERNAL, errno, "worker sandbox: %s", what);
	role_send_fail(job_fd, &e);
	_exit(1);
}

/* Where the child keeps the image until the exec closes it. */
#define WORKER_FD_IMAGE (WORKER_FD_REPORT + 1)

/* stratad-worker's process (fork_job's child): the job written to a memfd,
 * the fds where spawner.h puts them, every other fd closed, then the image
 * the spawner was given, with the spawner's environment (the parent starts
 * it without the variables that would change a confined process's calls).
 * The image is loaded and its libraries' constructors run before the child
 * reads any untrusted byte, as the spawner's own did; it then builds the
 * same sandbox as a fork would, and its address space, its stack canary and
 * its layout are its own, not a copy of the spawner's. */
struct exec_child {
	const struct worker_job *job;
	int input_fd;
};
_Noreturn static void exec_child(int job_fd, pid_t parent, const void *arg)
{
	const struct exec_child *x = arg;
	prepare_join_namespaces();
	int spec = memfd_create("worker-job", MFD_CLOEXEC);
	if (spec < 0 || write_all(spec, x->job, sizeof *x->job) < 0 || lseek(spec, 0, SEEK_SET) != 0)
		exec_fail(job_fd, "write the job for stratad-worker");
	/* Staged above the targets first, so no source is overwritten (fd 4
	 * and 5 are the spawner's snapshots directory and image); the image
	 * stays close-on-exec. */
	int job = fcntl(job_fd, F_DUPFD_CLOEXEC, 16);
	int input = x->input_fd >= 0 ? fcntl(x->input_fd, F_DUPFD_CLOEXEC, 16) : -1;
	int sp = fcntl(spec, F_DUPFD_CLOEXEC, 16);
	int report = fcntl(S.report_w, F_DUPFD_CLOEXEC, 16);
	int image = fcntl(S.a->worker, F_DUPFD_CLOEXEC, 16);
	if (job < 0 || (x->input_fd >= 0 && input < 0) || sp < 0 || report < 0 || image < 0)
		exec_fail(job_fd, "stage the fds of stratad-worker");
	if (dup2(job, WORKER_FD_JOB) < 0 || dup2(sp, WORKER_FD_SPEC) < 0 ||
	    dup2(report, WORKER_FD_REPORT) < 0 || dup3(image, WORKER_FD_IMAGE, O_CLOEXEC) < 0)
		exec_fail(job, "place the fds of stratad-worker");
	if (input >= 0 ? dup2(input, WORKER_FD_INPUT) < 0 : close(WORKER_FD_INPUT) < 0 && errno != EBADF)
		exec_fail(job, "place the input of stratad-worker");
	if (close_range(WORKER_FD_IMAGE + 1, ~0U, 0) < 0)
		exec_fail(WORKER_FD_JOB, "close_range");
	execveat(WORKER_FD_IMAGE, "", S.a->worker_argv, environ, AT_EMPTY_PATH);
	exec_fail(WORKER_FD_JOB, "exec stratad-worker");
}

/* Starts the job in stratad-worker; as fork_job.  input_fd: the job's
 * input, or -1. */
static pid_t exec_job(const struct worker_job *job, uint64_t job_id, uint32_t spawned_flags, int input_fd,
		      int *report)
{
	struct exec_child x = {job, input_fd};
	return fork_job(job_id, spawned_flags, exec_child, &x, report);
}

/* Forks the worker of s (input_fd its fd 4, or -1), or starts it in
 * stratad-worker when its role runs there; rm_ids (owned from here) are a
 * remove worker's rm-ID directories.  Returns the worker, or NULL when it
 * could not start (SPAWN_FAILED is queued). */
static struct worker *fork_worker(const struct ipc_spawn *s, int input_fd, uint32_t spawned_flags,
				  uint64_t *rm_ids, size_t nrm)
{
	static struct worker_job job;
	const struct role_info *conf = role_confinement(s);
	struct worker_child w = {s, input_fd};
	pid_t pid;
	int report = -1;
	if (conf && !forked_runs[conf->role]) {
		job = (struct worker_job){
		    .kind = WORKER_JOB_SPAWN, .spawner = (int32_t)getpid(), .has_input = input_fd >= 0};
		job.req.spawn = *s;
		pid = exec_job(&job, s->job_id, spawned_flags, input_fd, &report);
	} else {
		pid = fork_job(s->job_id, spawned_flags, worker_child, &w, &report);
	}
	if (pid < 0) {
		free(rm_ids);
		return NULL;
	}
	log_debug("worker %d: job %llu, role %s, target %llu", (int)pid, (unsigned long long)s->job_id,
		  worker_role_name((int)s->role), (unsigned long long)s->target);
	return worker_add(pid, s->job_id, (int)s->role, conf ? conf->role : (int)s->role, report, rm_ids,
			  nrm);
}

/* A Diff's blob: a publisher, started in stratad-worker (it hashes with
 * OpenSSL) and reaped as a worker is, hashes and publishes it
 * (parent/publish.h). */
static void serve_publish(const struct ipc_publish *p)
{
	const char *bad =
	    worker_by_job(p->job_id) ? "PUBLISH with a zero or duplicate job id" : publish_check(p);
	if (bad)
		violation(bad);
	if (!S.a->cfg->content_root[0])
		return spawn_failed(p->job_id, ENOENT, "no content_root is configured");
	if (S.nworkers >= S.a->cfg->max_jobs)
		return spawn_failed(p->job_id, EAGAIN, "start worker: too many workers running");
	static struct worker_job job;
	job = (struct worker_job){.kind = WORKER_JOB_PUBLISH, .spawner = (int32_t)getpid()};
	job.req.publish = *p;
	int report = -1;
	pid_t pid = exec_job(&job, p->job_id, 0, -1, &report);
	if (pid > 0)
		worker_add(pid, p->job_id, ROLE_PUBLISH, ROLE_PUBLISH, report, NULL, 0);
}

/* A job the broker gave up on (proto/ipc.h IPC_JOB_KILL).  Its exit is
 * reaped and reported as any other; a job already gone is no error. */
static void serve_kill(uint64_t job_id)
{
	struct worker *w = worker_by_job(job_id);
	if (!w)
		return;
	log_debug("job %llu: killing its worker %d", (unsigned long long)job_id, (int)w->pid);
	kill(w->pid, SIGKILL);
	if (w->feeder > 0)
		kill(w->feeder, SIGKILL);
}

static void serve_spawn_msg(const struct ipc_msg *m)
{
	serve_spawn(m->type, &m->body.spawn, m->nfds ? m->fds[0] : -1);
}

static void serve_publish_msg(const struct ipc_msg *m)
{
	serve_publish(&m->body.publish);
}

static void serve_kill_msg(const struct ipc_msg *m)
{
	serve_kill(m->body.job_kill.job_id);
}

/* The health check: one PONG queued at most, which answers every ping the
 * broker sent before it (proto/ipc.h). */
static void serve_ping_msg(const struct ipc_msg *m)
{
	for (size_t i = 0; i < S.npending; i++)
		if (S.pending[i].type == IPC_PONG)
			return;
	static const char none;
	queue_evt(IPC_PONG, &none, 0, -1);
}

/* What the broker may ask of the spawner: ipc_recv admits only the types
 * of this end of the channel (proto/ipc.c), and each has its server here. */
static const struct {
	uint32_t type;
	void (*serve)(const struct ipc_msg *m);
} servers[] = {
    {IPC_SPAWN, serve_spawn_msg},   {IPC_SPAWN_INPUT, serve_spawn_msg}, {IPC_PUBLISH, serve_publish_msg},
    {IPC_JOB_KILL, serve_kill_msg}, {IPC_SPAWNER_PING, serve_ping_msg},
};

static void serve_requests(void)
{
	for (;;) {
		struct ipc_msg m;
		struct err e = {0};
		int r = ipc_recv(S.a->evt, IPC_CH_SPAWNER, &m, &e);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* The broker is gone (a broker that exits with records unread
		 * resets the channel), and so are its jobs. */
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			finish(0);
		if (r < 0)
			violation(e.msg);
		size_t i = 0;
		while (i < ARRAY_SIZE(servers) && servers[i].type != m.type)
			i++;
		if (i == ARRAY_SIZE(servers)) {
			ipc_msg_close(&m);
			violation("request type not permitted on the spawn channel");
		}
		servers[i].serve(&m);
		/* A worker holds its own copy of an input now. */
		ipc_msg_close(&m);
	}
}

/* A worker killed by its seccomp filter: the call it reported, if it did
 * (policy/policy.c), is logged and goes to the broker with the exit.  The
 * report is the worker's own word, eight bytes read once: its number is
 * only printed and resolved to a name, never acted on. */
static void worker_denied(const struct worker *w, struct ipc_job_exit *x)
{
	struct policy_denied d;
	char name[64], nr[16], pid[16], job[24];
	if (w->report >= 0 && read(w->report, &d, sizeof d) == (ssize_t)sizeof d) {
		x->denied = 1;
		x->denied_nr = d.nr;
		x->denied_arch = d.arch;
	}
	snprintf(pid, sizeof pid, "%d", (int)w->pid);
	snprintf(job, sizeof job, "%llu", (unsigned long long)w->job_id);
	if (!x->denied) {
		struct log_field f[] = {
		    {"worker", pid}, {"job", job}, {"job_role", worker_role_name(w->confined)}};
		log_fields(LOG_ERR_, f, ARRAY_SIZE(f),
			   "worker killed by seccomp (SIGSYS) without saying which call");
		return;
	}
	policy_syscall_name(d.nr, d.arch, name, sizeof name);
	snprintf(nr, sizeof nr, "%d", (int)d.nr);
	struct log_field f[] = {{"worker", pid},
				{"job", job},
				{"job_role", worker_role_name(w->confined)},
				{"syscall", name},
				{"nr", nr}};
	log_fields(LOG_ERR_, f, ARRAY_SIZE(f),
		   "worker killed by seccomp: it called %s (syscall %d), which the %s policy does not allow",
		   name, (int)d.nr, worker_role_name(w->confined));
}

static void worker_gone(size_t i, int wstatus, const struct rusage *ru)
{
	struct worker w = S.workers[i];
	S.workers[i] = S.workers[--S.nworkers];
	/* A feeder outlives its worker only when it waits on its input (a
	 * FIFO nobody writes): nothing reads what it would copy. */
	if (w.feeder > 0)
		kill(w.feeder, SIGKILL);
	/* rm-ID goes before the broker hears of the exit, so that it sees
	 * the directory gone once the job is done.  Whatever the worker's
	 * status: it may have emptied some of its batch, and rmdir deletes
	 * only an empty directory. */
	for (size_t k = 0; k < w.nrm; k++) {
		struct err e = {0};
		if (snapdir_remove_rm(S.a->snapdir, w.rm_ids[k], &e) < 0)
			log_warn("%s", e.msg);
	}
	free(w.rm_ids);
	struct ipc_job_exit x = {.job_id = w.job_id,
				 .wstatus = wstatus,
				 .peak_rss_kib = (uint64_t)(ru->ru_maxrss > 0 ? ru->ru_maxrss : 0),
				 .cpu_us = (uint64_t)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000u +
					   (uint64_t)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec)};
	if (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGSYS)
		worker_denied(&w, &x);
	if (w.report >= 0)
		close(w.report);
	queue_evt(IPC_JOB_EXIT, &x, sizeof x, -1);
}

static void reap(void)
{
	struct signalfd_siginfo si;
	while (read(S.sigfd, &si, sizeof si) == (ssize_t)sizeof si)
		if (si.ssi_signo == SIGTERM)
			finish(0);
	int st;
	pid_t pid;
	struct rusage ru;
	while ((pid = wait4(-1, &st, WNOHANG, &ru)) > 0)
		for (size_t i = 0; i < S.nworkers; i++) {
			/* A feeder reaped: its pid is no longer its to kill. */
			if (S.workers[i].feeder == pid)
				S.workers[i].feeder = 0;
			if (S.workers[i].pid == pid) {
				log_debug(
				    "worker %d (%s) exited: status %#x, peak resident %ld KiB, cpu %ld ms",
				    (int)pid, worker_role_name(S.workers[i].role), st, ru.ru_maxrss,
				    (long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
					(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000);
				worker_gone(i, st, &ru);
				break;
			}
		}
}

void spawner_main(const struct spawner_args *a)
{
	S.a = a;
	log_init("stratad-spawner", a->cfg->log_level);
	log_set_format(a->cfg->log_format);
	/* The parent's death ends the spawner, and with it every worker. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		_exit(1);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	S.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (S.sigfd < 0 || set_nonblock(a->evt, 1) < 0)
		_exit(1);
	for (;;) {
		struct pollfd fds[2] = {{S.sigfd, POLLIN, 0},
					{a->evt, POLLIN | (S.npending ? POLLOUT : 0), 0}};
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			finish(1);
		if (fds[0].revents)
			reap();
		if (fds[1].revents & (POLLIN | POLLHUP | POLLERR))
			serve_requests();
		if (S.npending)
			flush_evts();
	}
}
