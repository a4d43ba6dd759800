/* The broker's side of the ipc with the parent: synchronous control
 * requests, the job-exit event source and the job queue.  Everything a
 * worker sends is untrusted: a bad record fails its job, never the broker. */
#include "parentlink.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../proto/ipc.h"
#include "loop.h"

static const char *const role_names[] = {
    [ROLE_USAGE] = "usage", [ROLE_REMOVE] = "remove", [ROLE_PROBE] = "probe",	  [ROLE_EXTRACT] = "extract",
    [ROLE_DIFF] = "diff",   [ROLE_MOUNT] = "mount",   [ROLE_PUBLISH] = "publish", [ROLE_FEED] = "feed",
};

const char *worker_role_name(int role)
{
	if (role <= 0 || role >= (int)ARRAY_SIZE(role_names) || !role_names[role])
		return "unknown";
	return role_names[role];
}

int worker_role_by_name(const char *name)
{
	for (size_t i = 1; i < ARRAY_SIZE(role_names); i++)
		if (role_names[i] && !strcmp(role_names[i], name))
			return (int)i;
	return -1;
}

enum job_state { JOB_QUEUED = 1, JOB_SPAWNING = 2, JOB_RUNNING = 3 };

struct job {
	uint64_t id;
	struct job_spec spec;
	int input;	 /* own copy of spec.input_fd, -1 when none */
	uint64_t *lower; /* own copy of spec.lower */
	job_started_fn started;
	job_done_fn done; /* NULL once cancelled */
	void *ctx;
	int state;
	int sock; /* broker's end of the job socket; -1 when closed */
	pid_t pid;
	job_progress_fn progress;
	struct loop_src *sock_src; /* watched only for jobs that report progress */
	uint64_t last_progress_ns;
	struct ipc_msg result; /* a record read early by the progress watcher */
	int has_result;
	struct job *next;
};

#define CTL_MAX_PENDING 4

/* A SNAP_CREATE answered later: the parent answers requests in order, so
 * the replies pair with these first in, first out.  At most
 * CTL_MAX_PENDING are sent at a time (enough to keep the parent busy); the
 * rest wait here, unsent, so that the loop never waits for the parent. */
struct ctl_pending {
	plink_reply_fn fn;
	void *ctx;
	struct ipc_snap_create req;
	int sent;
	struct ctl_pending *next;
};

static struct {
	int ctl, evt;
	struct loop_src *evt_src, *ctl_src;
	struct ctl_pending *pending, **pending_tail; /* sent ones first */
	unsigned nsent, nwaiting;
	uint64_t next_job_id;
	unsigned limit, running;
	struct job *jobs; /* running and cancelled-but-running jobs */
	struct job *queue, **queue_tail;
} pl = {.ctl = -1, .evt = -1, .limit = 8};

/* ---- control requests ---------------------------------------------------- */

/* One record from the parent, waiting for it (the channel is non-blocking
 * for the event loop's sake). */
static int ctl_recv_wait(struct ipc_msg *m, struct err *e)
{
	for (;;) {
		int r = ipc_recv(pl.ctl, m, e);
		if (r >= 0 || errno != EAGAIN)
			return r;
		struct pollfd p = {.fd = pl.ctl, .events = POLLIN};
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return err_errno(e, ST_INTERNAL, errno, "parent control channel: poll");
	}
}

static int reply_result(const struct ipc_msg *m, const char *what, struct err *e);

/* Sends waiting SNAP_CREATEs while fewer than CTL_MAX_PENDING are out; one
 * that cannot be sent fails (its callback runs). */
static void ctl_send_waiting(void)
{
	struct ctl_pending **pp = &pl.pending;
	while (*pp && (*pp)->sent)
		pp = &(*pp)->next;
	while (*pp && pl.nsent < CTL_MAX_PENDING) {
		struct ctl_pending *p = *pp;
		struct err e = {0};
		pl.nwaiting--;
		if (ipc_send(pl.ctl, IPC_SNAP_CREATE, &p->req, sizeof p->req, NULL, 0, &e) == 0) {
			p->sent = 1;
			pl.nsent++;
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		if (!*pp)
			pl.pending_tail = pp;
		p->fn(p->ctx, &e);
		free(p);
	}
}

/* The oldest request sent gets its reply m. */
static void ctl_dispatch(struct ipc_msg *m)
{
	struct ctl_pending *p = pl.pending;
	struct err e = {0};
	pl.pending = p->next;
	pl.nsent--;
	if (!pl.pending)
		pl.pending_tail = &pl.pending;
	int rc = reply_result(m, "create snapshot directory", &e);
	ipc_msg_close(m);
	ctl_send_waiting();
	p->fn(p->ctx, rc < 0 ? &e : NULL);
	free(p);
}

/* Replies to requests sent without waiting, as they arrive. */
static void on_ctl(void *ctx, uint32_t events)
{
	for (;;) {
		struct ipc_msg m;
		struct err e = {0};
		int r = ipc_recv(pl.ctl, &m, &e);
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0)
			die("parent control channel: %s", r == 0 ? "closed by the parent" : e.msg);
		if (!pl.nsent) {
			log_warn("parent control channel: unexpected `%s`", ipc_type_name(m.type));
			ipc_msg_close(&m);
			continue;
		}
		ctl_dispatch(&m);
	}
}

/* Sends a request and receives one record back, of an expected type.  The
 * replies still owed to requests sent without waiting come first. */
static int ctl_call(uint32_t type, const void *body, size_t len, struct ipc_msg *m, struct err *e)
{
	if (pl.ctl < 0)
		return err_set(e, ST_UNAVAILABLE, "parent link is not initialised");
	while (pl.nsent) {
		int r = ctl_recv_wait(m, e);
		if (r <= 0)
			return r == 0 ? err_set(e, ST_UNAVAILABLE, "parent closed the control channel") : -1;
		ctl_dispatch(m);
	}
	if (ipc_send(pl.ctl, type, body, len, NULL, 0, e) < 0)
		return -1;
	int r = ctl_recv_wait(m, e);
	if (r == 0)
		return err_set(e, ST_UNAVAILABLE, "parent closed the control channel");
	return r < 0 ? -1 : 0;
}

/* A REPLY: 0, or the parent's error as an error object. */
static int reply_result(const struct ipc_msg *m, const char *what, struct err *e)
{
	if (m->type != IPC_REPLY) {
		err_set(e, ST_INTERNAL, "%s: unexpected `%s` from the parent", what, ipc_type_name(m->type));
		return -1;
	}
	if (m->body.reply.errnum == 0)
		return 0;
	if (m->body.reply.msg[0])
		return err_set(e, status_from_errno(m->body.reply.errnum), "%s", m->body.reply.msg);
	return err_errno(e, 0, m->body.reply.errnum, "%s", what);
}

static int ctl_simple(uint32_t type, const void *body, size_t len, const char *what, struct err *e)
{
	struct ipc_msg m;
	if (ctl_call(type, body, len, &m, e) < 0)
		return -1;
	int rc = reply_result(&m, what, e);
	ipc_msg_close(&m);
	return rc;
}

int plink_ready(struct err *e)
{
	return ctl_simple(IPC_READY, NULL, 0, "ready", e);
}

int plink_snap_create(uint64_t id, uint64_t parent_id, int active, plink_reply_fn fn, void *ctx,
		      struct err *e)
{
	if (pl.ctl < 0)
		return err_set(e, ST_UNAVAILABLE, "parent link is not initialised");
	struct ctl_pending *p = xcalloc(1, sizeof *p);
	*p = (struct ctl_pending){
	    .fn = fn, .ctx = ctx, .req = {.id = id, .parent_id = parent_id, .active = active ? 1 : 0}};
	if (pl.nsent < CTL_MAX_PENDING && pl.nwaiting == 0) {
		/* Nothing waits before it: send now, and report a failure here. */
		if (ipc_send(pl.ctl, IPC_SNAP_CREATE, &p->req, sizeof p->req, NULL, 0, e) < 0) {
			free(p);
			return -1;
		}
		p->sent = 1;
		pl.nsent++;
	} else {
		pl.nwaiting++;
	}
	*pl.pending_tail = p;
	pl.pending_tail = &p->next;
	return 0;
}

int plink_snap_drop(uint64_t id, int kind, struct err *e)
{
	struct ipc_snap_drop r = {.id = id, .kind = (uint32_t)kind};
	return ctl_simple(IPC_SNAP_DROP, &r, sizeof r, "drop snapshot directory", e);
}

/* The fd of a BLOB answer, or the REPLY's error. */
static int blob_fd(struct ipc_msg *m, const char *what, struct err *e)
{
	if (m->type != IPC_BLOB) {
		int rc = reply_result(m, what, e);
		ipc_msg_close(m);
		return rc < 0 ? -1 : err_set(e, ST_INTERNAL, "%s: the parent answered without a file", what);
	}
	return m->fds[0];
}

int plink_open_blob(const char *hex, uint64_t *size, struct err *e)
{
	struct ipc_open_blob r = {0};
	if (strlen(hex) != 64)
		return err_set(e, ST_INVALID_ARGUMENT, "blob digest must have 64 hex digits");
	memcpy(r.hex, hex, 64);
	struct ipc_msg m;
	if (ctl_call(IPC_OPEN_BLOB, &r, sizeof r, &m, e) < 0)
		return -1;
	int fd = blob_fd(&m, "open blob", e);
	if (fd >= 0)
		*size = m.body.blob.size;
	return fd;
}

int plink_ingest_open(const char *name, const char *ref, struct err *e)
{
	struct ipc_ingest r = {0};
	if (strlen(name) != 64 || strlen(ref) >= sizeof r.ref)
		return err_set(e, ST_INVALID_ARGUMENT, "ingest: bad name or a ref over %zu bytes",
			       sizeof r.ref - 1);
	memcpy(r.name, name, 64);
	memcpy(r.ref, ref, strlen(ref));
	struct ipc_msg m;
	if (ctl_call(IPC_INGEST_OPEN, &r, sizeof r, &m, e) < 0)
		return -1;
	return blob_fd(&m, "open ingest", e);
}

int plink_ingest_abort(const char *name, struct err *e)
{
	struct ipc_ingest r = {0};
	if (strlen(name) != 64)
		return err_set(e, ST_INVALID_ARGUMENT, "ingest: bad name");
	memcpy(r.name, name, 64);
	return ctl_simple(IPC_INGEST_ABORT, &r, sizeof r, "abort ingest", e);
}

int plink_snap_list(struct snapdir **out, size_t *n, struct err *e)
{
	struct ipc_msg m;
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	if (ctl_call(IPC_SNAP_LIST, NULL, 0, &m, e) < 0)
		return -1;
	while (m.type == IPC_SNAP_ENTRY) {
		if (*n == cap)
			*out = xrealloc(*out, (cap = cap ? cap * 2 : 64) * sizeof **out);
		(*out)[(*n)++] = (struct snapdir){(int)m.body.snap_entry.kind, m.body.snap_entry.id};
		int r = ctl_recv_wait(&m, e);
		if (r <= 0) {
			if (r == 0)
				err_set(e, ST_UNAVAILABLE, "parent closed the control channel");
			goto fail;
		}
	}
	if (reply_result(&m, "list snapshot directories", e) == 0)
		return 0;
fail:
	ipc_msg_close(&m);
	free(*out);
	*out = NULL;
	*n = 0;
	return -1;
}

/* ---- jobs ----------------------------------------------------------------- */

static void job_free(struct job *j)
{
	if (j->sock_src)
		loop_remove(j->sock_src);
	if (j->has_result)
		ipc_msg_close(&j->result);
	if (j->sock >= 0)
		close(j->sock);
	if (j->input >= 0)
		close(j->input);
	free(j->lower);
	free(j);
}

/* A publisher (IPC_PUBLISH) rather than a worker. */
static int job_send_publish(struct job *j, struct err *e)
{
	struct ipc_publish p = {.job_id = j->id, .size = j->spec.publish_size};
	memcpy(p.name, j->spec.publish_name, sizeof p.name);
	memcpy(p.digest, j->spec.publish_digest, sizeof p.digest);
	return ipc_send(pl.evt, IPC_PUBLISH, &p, sizeof p, NULL, 0, e);
}

/* SPAWN, or SPAWN_INPUT with the job's input fd (then closed here: the
 * spawner has its own copy). */
static int job_send_spawn(struct job *j, struct err *e)
{
	struct ipc_spawn *s = xcalloc(1, sizeof *s);
	s->job_id = j->id;
	s->role = (uint32_t)j->spec.role;
	s->target = j->spec.target;
	if (j->spec.drop_first)
		s->flags |= IPC_SPAWN_DROP_FIRST;
	s->diff_compression = (uint32_t)j->spec.diff_compression;
	s->diff_has_epoch = j->spec.diff_has_epoch ? 1 : 0;
	s->diff_epoch = j->spec.diff_epoch;
	s->nlower = (uint32_t)j->spec.nlower;
	s->nleft = (uint32_t)j->spec.nleft;
	s->flags |= j->spec.mount_flags | (j->spec.diff_restart ? IPC_SPAWN_DIFF_RESTART : 0);
	s->nuid_map = j->spec.nuid_map;
	s->ngid_map = j->spec.ngid_map;
	memcpy(s->uid_map, j->spec.uid_map, sizeof s->uid_map);
	memcpy(s->gid_map, j->spec.gid_map, sizeof s->gid_map);
	for (size_t i = 0; i < j->spec.nlower; i++)
		s->lower[i] = j->lower[i];
	if (j->spec.role == ROLE_PROBE) {
		s->probe_role = (uint32_t)j->spec.probe_role;
		s->probe_syscall = j->spec.probe_syscall;
		s->probe_hold_ms = j->spec.probe_hold_ms;
	}
	int rc = ipc_send(pl.evt, j->input >= 0 ? IPC_SPAWN_INPUT : IPC_SPAWN, s, sizeof *s,
			  j->input >= 0 ? &j->input : NULL, j->input >= 0, e);
	free(s);
	if (rc == 0 && j->input >= 0) {
		close(j->input);
		j->input = -1;
	}
	return rc;
}

/* Asks the spawner for the worker, on the event channel; it answers there
 * (SPAWNED or SPAWN_FAILED), so the broker never waits for a fork.  The
 * channel is non-blocking: a full channel fails this job, not the broker. */
static int job_spawn(struct job *j, struct err *e)
{
	int rc = pl.evt < 0			? err_set(e, ST_UNAVAILABLE, "parent link is not initialised")
		 : j->spec.role == ROLE_PUBLISH ? job_send_publish(j, e)
						: job_send_spawn(j, e);
	if (rc < 0)
		return err_wrap(e, "start %s worker", worker_role_name(j->spec.role));
	j->state = JOB_SPAWNING;
	j->next = pl.jobs;
	pl.jobs = j;
	pl.running++;
	return 0;
}

static void job_fail_async(struct job *j, const struct err *e)
{
	struct job_result res = {.mount_fd = -1};
	if (j->done)
		j->done(j->ctx, &res, e);
	job_free(j);
}

/* Starts queued jobs while there is room. */
static void start_queued(void)
{
	while (pl.queue && pl.running < pl.limit) {
		struct job *j = pl.queue;
		pl.queue = j->next;
		if (!pl.queue)
			pl.queue_tail = &pl.queue;
		j->next = NULL;
		struct err e = {0};
		if (j->done == NULL)
			job_free(j);
		else if (job_spawn(j, &e) < 0)
			job_fail_async(j, &e);
	}
}

struct job *job_start(const struct job_spec *spec, job_started_fn started, job_done_fn done, void *ctx,
		      struct err *e)
{
	if (!pl.queue_tail)
		pl.queue_tail = &pl.queue;
	if (spec->nlower > IPC_MAX_LOWER) {
		err_set(e, ST_INVALID_ARGUMENT, "%zu lower layers: at most %d", spec->nlower, IPC_MAX_LOWER);
		return NULL;
	}
	int input = -1;
	if ((spec->role == ROLE_EXTRACT || spec->role == ROLE_DIFF) &&
	    (input = fcntl(spec->input_fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		err_errno(e, ST_INTERNAL, errno, "start %s worker: duplicate its input",
			  worker_role_name(spec->role));
		return NULL;
	}
	struct job *j = xcalloc(1, sizeof *j);
	*j = (struct job){.id = ++pl.next_job_id,
			  .spec = *spec,
			  .started = started,
			  .done = done,
			  .ctx = ctx,
			  .state = JOB_QUEUED,
			  .sock = -1,
			  .input = input};
	if (spec->nlower) {
		j->lower = xcalloc(spec->nlower, sizeof *j->lower);
		memcpy(j->lower, spec->lower, spec->nlower * sizeof *j->lower);
	}
	j->spec.lower = NULL;
	if (pl.running >= pl.limit || pl.queue) {
		*pl.queue_tail = j;
		pl.queue_tail = &j->next;
		return j;
	}
	if (job_spawn(j, e) < 0) {
		job_free(j);
		return NULL;
	}
	return j;
}

void job_cancel(struct job *j)
{
	if (j->state == JOB_QUEUED) {
		/* Forgotten now; start_queued() frees it when it comes up. */
		j->done = NULL;
		return;
	}
	/* Running: the worker sees its socket close; the job entry stays until
	 * its exit is reported so that the limit keeps counting it. */
	j->done = NULL;
	if (j->sock_src) {
		loop_remove(j->sock_src);
		j->sock_src = NULL;
	}
	if (j->sock >= 0) {
		close(j->sock);
		j->sock = -1;
	}
}

void job_set_limit(unsigned max_jobs)
{
	pl.limit = max_jobs ? max_jobs : 1;
	if (pl.queue_tail)
		start_queued();
}

unsigned job_count(void)
{
	unsigned n = pl.running;
	for (struct job *j = pl.queue; j; j = j->next)
		if (j->done)
			n++;
	return n;
}

/* ---- job exits ------------------------------------------------------------ */

static const char *job_role_name(const struct job *j)
{
	return worker_role_name(j->spec.role == ROLE_PROBE ? j->spec.probe_role : j->spec.role);
}

/* Turns the worker's exit status and its result record into the outcome. */
static int job_outcome(struct job *j, int wstatus, struct job_result *res, struct err *e)
{
	const char *role = job_role_name(j);
	struct ipc_msg m = {0};
	struct err rerr = {0};
	int got;
	if (j->has_result) {
		m = j->result;
		j->has_result = 0;
		got = 1;
	} else {
		do
			got = j->sock >= 0 ? ipc_recv(j->sock, &m, &rerr) : 0;
		while (got > 0 && m.type == IPC_JOB_PROGRESS);
	}
	if (got > 0 && m.type == IPC_JOB_FAIL) {
		int code = m.body.job_fail.code;
		if (code <= ST_OK || code > ST_UNAVAILABLE)
			code = ST_INTERNAL;
		return err_set(e, code, "%s", m.body.job_fail.msg);
	}
	if (WIFSIGNALED(wstatus)) {
		int sig = WTERMSIG(wstatus);
		if (sig == SIGSYS)
			return err_set(e, ST_INTERNAL,
				       "worker killed by seccomp policy violation (SIGSYS) in role `%s`",
				       role);
		return err_set(e, ST_INTERNAL, "worker in role `%s` killed by signal SIG%s", role,
			       sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
	}
	if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
		return err_set(e, ST_INTERNAL, "worker in role `%s` exited with status %d", role,
			       WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
	if (got < 0)
		return err_set(e, ST_INTERNAL, "worker in role `%s` sent a bad result: %s", role, rerr.msg);
	if (got == 0)
		return err_set(e, ST_INTERNAL, "worker in role `%s` exited without a result", role);
	/* Each role has exactly one kind of success record. */
	uint32_t expected =
	    j->spec.role == ROLE_USAGE	 ? IPC_JOB_USAGE
	    : j->spec.role == ROLE_PROBE ? IPC_JOB_PROBE
	    : j->spec.role == ROLE_EXTRACT || j->spec.role == ROLE_DIFF || j->spec.role == ROLE_PUBLISH
		? IPC_JOB_APPLIED
	    : j->spec.role == ROLE_MOUNT ? IPC_JOB_MOUNT
					 : IPC_JOB_DONE;
	if (m.type == expected) {
		if (m.type == IPC_JOB_USAGE) {
			res->size = m.body.job_usage.size;
			res->inodes = m.body.job_usage.inodes;
		} else if (m.type == IPC_JOB_PROBE) {
			res->probe_ret = m.body.job_probe.ret;
			res->probe_errno = m.body.job_probe.errnum;
		} else if (m.type == IPC_JOB_APPLIED) {
			res->applied = m.body.job_applied;
		} else if (m.type == IPC_JOB_MOUNT) {
			res->mount_fd = m.fds[0];
		}
		return 0;
	}
	ipc_msg_close(&m);
	return err_set(e, ST_INTERNAL, "worker in role `%s` sent an unexpected `%s` result", role,
		       ipc_type_name(m.type));
}

static struct job **job_find(uint64_t job_id)
{
	struct job **pp = &pl.jobs;
	while (*pp && (*pp)->id != job_id)
		pp = &(*pp)->next;
	return pp;
}

/* Progress records while the job runs; the first other record is kept for
 * job_outcome(). */
static void on_job_sock(void *ctx, uint32_t events)
{
	struct job *j = ctx;
	while (!j->has_result && j->sock >= 0) {
		struct ipc_msg m;
		struct err e = {0};
		int r = ipc_recv(j->sock, &m, &e);
		if (r <= 0) {
			if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
				loop_remove(j->sock_src);
				j->sock_src = NULL;
			}
			return;
		}
		if (m.type != IPC_JOB_PROGRESS) {
			j->result = m;
			j->has_result = 1;
			loop_remove(j->sock_src);
			j->sock_src = NULL;
			return;
		}
		uint64_t now = now_ns_monotonic();
		if (j->done && j->progress && now - j->last_progress_ns >= 100000000ull) {
			j->last_progress_ns = now;
			j->progress(j->ctx, m.body.job_progress.read, m.body.job_progress.entries);
		}
	}
}

void job_on_progress(struct job *j, job_progress_fn fn)
{
	j->progress = fn;
}

static void job_spawned(const struct ipc_spawned *sp, int sock)
{
	struct job *j = *job_find(sp->job_id);
	if (!j || j->state != JOB_SPAWNING) {
		log_warn("worker for unknown job %llu", (unsigned long long)sp->job_id);
		close(sock);
		return;
	}
	j->pid = sp->pid;
	j->state = JOB_RUNNING;
	if (!j->done) {
		/* Cancelled meanwhile: the worker sees its socket close. */
		close(sock);
		return;
	}
	j->sock = sock;
	set_nonblock(j->sock, 1);
	/* Read as the worker writes, progress wanted or not: a worker whose
	 * progress records nobody reads would fill the socket and block. */
	j->sock_src = loop_add(j->sock, EPOLLIN, on_job_sock, j);
	if (j->started)
		j->started(j->ctx, j->pid);
}

static void job_spawn_failed(const struct ipc_spawn_failed *f)
{
	struct job **pp = job_find(f->job_id), *j = *pp;
	if (!j || j->state != JOB_SPAWNING) {
		log_warn("failure of unknown job %llu", (unsigned long long)f->job_id);
		return;
	}
	*pp = j->next;
	pl.running--;
	struct err e;
	if (f->msg[0])
		err_set(&e, status_from_errno(f->errnum), "start %s worker: %s",
			worker_role_name(j->spec.role), f->msg);
	else
		err_errno(&e, 0, f->errnum, "start %s worker", worker_role_name(j->spec.role));
	job_fail_async(j, &e);
	start_queued();
}

static void job_exited(uint64_t job_id, int wstatus)
{
	struct job **pp = job_find(job_id), *j = *pp;
	if (!j) {
		log_warn("exit of unknown job %llu", (unsigned long long)job_id);
		return;
	}
	*pp = j->next;
	pl.running--;
	struct job_result res = {.pid = j->pid, .mount_fd = -1};
	struct err e = {0};
	int rc = j->done ? job_outcome(j, wstatus, &res, &e) : 0;
	job_done_fn done = j->done;
	void *ctx = j->ctx;
	job_free(j);
	start_queued();
	if (done)
		done(ctx, &res, rc < 0 ? &e : NULL);
}

/* The spawner deleted a remove job's directory itself (it was empty,
 * proto/ipc.h IPC_REMOVED): the job is done without a worker. */
static void job_removed(uint64_t job_id)
{
	struct job **pp = job_find(job_id), *j = *pp;
	if (!j || j->state != JOB_SPAWNING || j->spec.role != ROLE_REMOVE) {
		log_warn("removal of unknown job %llu", (unsigned long long)job_id);
		return;
	}
	*pp = j->next;
	pl.running--;
	struct job_result res = {.mount_fd = -1};
	job_done_fn done = j->done;
	void *ctx = j->ctx;
	job_free(j);
	start_queued();
	if (done)
		done(ctx, &res, NULL);
}

static void on_evt(void *ctx, uint32_t events)
{
	for (;;) {
		struct ipc_msg m;
		struct err e = {0};
		int r = ipc_recv(pl.evt, &m, &e);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r == 0) {
			/* The parent is gone: no worker can start or be reaped, and
			 * a new parent will start its own broker. */
			log_err("parent event channel closed: the parent is gone; exiting");
			_exit(1);
		}
		if (r < 0) {
			log_err("parent event channel: %s", e.msg);
			continue;
		}
		if (m.type == IPC_JOB_EXIT) {
			job_exited(m.body.job_exit.job_id, m.body.job_exit.wstatus);
		} else if (m.type == IPC_SPAWNED) {
			job_spawned(&m.body.spawned, m.fds[0]);
		} else if (m.type == IPC_SPAWN_FAILED) {
			job_spawn_failed(&m.body.spawn_failed);
		} else if (m.type == IPC_REMOVED) {
			job_removed(m.body.job_exit.job_id);
		} else {
			log_err("parent event channel: unexpected `%s`", ipc_type_name(m.type));
			ipc_msg_close(&m);
		}
	}
}

int plink_init(int ctl_fd, int evt_fd, struct err *e)
{
	pl.ctl = ctl_fd;
	pl.evt = evt_fd;
	pl.queue_tail = &pl.queue;
	pl.pending_tail = &pl.pending;
	if (set_nonblock(ctl_fd, 1) < 0)
		return err_errno(e, 0, errno, "parent control channel: set non-blocking");
	pl.ctl_src = loop_add(ctl_fd, EPOLLIN, on_ctl, NULL);
	if (!pl.ctl_src)
		return err_set(e, ST_INTERNAL, "parent control channel: cannot watch it");
	if (set_nonblock(evt_fd, 1) < 0)
		return err_errno(e, 0, errno, "parent event channel: set non-blocking");
	pl.evt_src = loop_add(evt_fd, EPOLLIN, on_evt, NULL);
	if (!pl.evt_src)
		return err_set(e, ST_INTERNAL, "parent event channel: cannot watch it");
	return 0;
}
