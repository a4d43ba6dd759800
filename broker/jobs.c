/* The broker's jobs: the queue, the spawner's event channel (SPAWNED,
 * SPAWN_FAILED, JOB_EXIT, REMOVED), each job's result socket, and the bounds
 * on a job: max_jobs running, max_queued_jobs waiting, job_timeout and
 * job_idle_timeout, and cancellation when its caller goes away.  Everything
 * a worker sends is untrusted: a bad record fails its job, never the
 * broker. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/status.h"
#include "../common/util.h"
#include "../policy/policy.h"
#include "../proto/ipc.h"
#include "broker.h"
#include "durable.h"
#include "loop.h"
#include "metrics.h"
#include "meta.h"
#include "parentlink.h"
#include "services.h"
#include "space.h"
#include "tenancy.h"

enum job_state { JOB_QUEUED = 1, JOB_SPAWNING = 2, JOB_RUNNING = 3 };

struct job {
	uint64_t id;
	struct job_spec spec;
	int input;	 /* own copy of spec.input_fd, -1 when none */
	uint64_t *lower; /* own copy of spec.lower */
	job_started_fn started;
	job_done_fn done;
	void *ctx;
	int state;
	int sock; /* broker's end of the job socket; -1 when closed */
	pid_t pid;
	job_progress_fn progress;
	struct loop_src *sock_src;	  /* watched only for jobs that report progress */
	uint64_t last_progress_ns;	  /* the last progress forwarded to the caller */
	uint64_t started_ns, active_ns;	  /* sent to the spawner; its last progress that moved */
	uint64_t last_read, last_entries; /* that progress */
	struct err aborted;		  /* code ST_OK, or why the job was given up */
	int kill_sent;			  /* the spawner was asked to kill its worker */
	uint32_t spawned_flags;		  /* IPC_SPAWNED_*, from the spawner */
	int go_sent;			  /* ROLE_EXTRACT: JOB_GO sent, the worker may write */
	struct ipc_msg result;		  /* a record read early by the progress watcher */
	int has_result;
	struct job *next;
};

static struct {
	int evt;
	struct loop_src *evt_src;
	uint64_t next_job_id;
	struct job_limits lim;
	unsigned running, queued;
	unsigned ahead;	  /* running applies of layers whose lowers come at commit */
	struct job *jobs; /* spawning and running jobs */
	struct job *queue, **queue_tail;
	struct loop_timer *tick; /* armed while jobs run: checks their deadlines */
} pl = {.evt = -1, .lim = {.max_jobs = 8, .max_ahead = 8}};

#define JOB_TICK_MS 1000

/* ---- counts, per tenant -------------------------------------------------- */

/* Jobs running and waiting per tenant, by tenancy_index (sized at first use:
 * the table is fixed once the broker serves), and when each last had a job
 * started (a count of starts: 0, never). */
static unsigned *tenant_running, *tenant_queued;
static uint64_t *tenant_served, starts;

static unsigned *tenant_count(unsigned **v, const struct job *j)
{
	if (!j->spec.tenant)
		return NULL;
	if (!*v)
		*v = xcalloc(tenancy_ntenants(), sizeof **v);
	return &(*v)[tenancy_index(j->spec.tenant)];
}

/* An apply of a layer ahead of its lowers (a parallel unpack's), which
 * max_parallel_applies bounds: never the bottom layer of an unpack nor a
 * layer applied over its lowers, so an unpack always goes on. */
static int is_ahead(const struct job *j)
{
	return j->spec.role == ROLE_EXTRACT && j->spec.extract_rebase;
}

static int ahead_busy(const struct job *j)
{
	return is_ahead(j) && pl.ahead >= pl.lim.max_ahead;
}

static void count_running(const struct job *j, int delta)
{
	unsigned *n = tenant_count(&tenant_running, j);
	pl.running += (unsigned)delta;
	if (is_ahead(j))
		pl.ahead += (unsigned)delta;
	if (n)
		*n += (unsigned)delta;
	if (n && delta > 0) {
		if (!tenant_served)
			tenant_served = xcalloc(tenancy_ntenants(), sizeof *tenant_served);
		tenant_served[tenancy_index(j->spec.tenant)] = ++starts;
	}
}

/* When j's tenant last had a job started; 0 for the daemon's own jobs and
 * for a tenant never served. */
static uint64_t served_at(const struct job *j)
{
	return j->spec.tenant && tenant_served ? tenant_served[tenancy_index(j->spec.tenant)] : 0;
}

static void count_queued(const struct job *j, int delta)
{
	unsigned *n = tenant_count(&tenant_queued, j);
	pl.queued += (unsigned)delta;
	if (n)
		*n += (unsigned)delta;
}

/* Whether j's tenant runs as many jobs as it may (max_jobs of its section). */
static int tenant_busy(const struct job *j)
{
	const unsigned *n = tenant_count(&tenant_running, j);
	return n && j->spec.tenant->max_jobs && *n >= j->spec.tenant->max_jobs;
}

/* ---- jobs ----------------------------------------------------------------- */

/* The role a job is counted and named under: a probe's worker is confined
 * as the role it probes. */
static int job_metric_role(const struct job *j)
{
	return j->spec.role == ROLE_PROBE ? (int)j->spec.probe_role : (int)j->spec.role;
}

static uint64_t job_age_ns(const struct job *j)
{
	return j->started_ns ? now_ns_monotonic() - j->started_ns : 0;
}

/* How a job that ran ended (rc: job_outcome's), for the metrics. */
static enum job_outcome job_outcome_kind(const struct job *j, int rc, int wstatus)
{
	if (j->aborted.code == ST_DEADLINE_EXCEEDED)
		return JO_TIMEOUT;
	if (j->aborted.code == ST_CANCELLED)
		return JO_CANCELLED;
	if (rc == 0 && !j->aborted.code)
		return JO_OK;
	if (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGSYS)
		return JO_SECCOMP;
	if (WIFSIGNALED(wstatus) && !j->kill_sent)
		return JO_KILLED;
	return JO_FAILED;
}

static void job_free(struct job *j)
{
	if (j->spec.handle && *j->spec.handle == j)
		*j->spec.handle = NULL;
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
	s->flags |= j->spec.mount_flags | (j->spec.diff_restart ? IPC_SPAWN_DIFF_RESTART : 0) |
		    (j->spec.extract_rebase ? IPC_SPAWN_EXTRACT_REBASE : 0) |
		    (j->spec.extract_no_digest ? IPC_SPAWN_EXTRACT_NO_DIGEST : 0);
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
	j->started_ns = j->active_ns = now_ns_monotonic();
	j->next = pl.jobs;
	pl.jobs = j;
	count_running(j, 1);
	loop_timer_arm(pl.tick, JOB_TICK_MS);
	return 0;
}

/* Every failed job is logged at info, with its role, its snapshot's key
 * (as stored: in its tenant's keyspace), the status and the reason; the
 * caller's error says the same to the client. */
static void job_log_failure(const struct job *j, const struct err *e)
{
	struct snap_info s = {0};
	char job[24], snap[24];
	int named =
	    j->spec.target && broker.meta && meta_get_by_id(broker.meta, j->spec.target, &s, NULL) == 0;
	snprintf(job, sizeof job, "%llu", (unsigned long long)j->id);
	snprintf(snap, sizeof snap, "%llu", (unsigned long long)j->spec.target);
	struct log_field f[] = {{"job", job},
				{"job_role", worker_role_name(j->spec.role)},
				{"status", status_name(e->code)},
				{"snapshot", snap},
				{"key", s.name}};
	size_t n = ARRAY_SIZE(f) - (named ? 0 : 1) - (j->spec.target ? 0 : 1);
	log_fields(LOG_INFO_, f, n, "job failed: %s", e->msg);
	if (named)
		snap_info_free(&s);
}

static void job_fail_async(struct job *j, const struct err *e)
{
	job_log_failure(j, e);
	struct job_result res = {.mount_fd = -1};
	job_done_fn done = j->done;
	void *ctx = j->ctx;
	job_free(j);
	done(ctx, &res, e);
}

/* Takes j out of the queue. */
static void queue_unlink(struct job *j)
{
	struct job **pp = &pl.queue;
	while (*pp && *pp != j)
		pp = &(*pp)->next;
	if (!*pp)
		return;
	*pp = j->next;
	if (pl.queue_tail == &j->next)
		pl.queue_tail = pp;
	j->next = NULL;
	count_queued(j, -1);
}

/* The queued job to start next: of the tenants below their max_jobs, the
 * one running fewest jobs now, and of those the one served least recently
 * (the daemon's own work counts as neither running nor served), and its
 * oldest job: tenants take turns.  So one tenant that queued hundreds of
 * jobs delays another's single job by at most the end of one running job.
 * NULL when every waiting job's tenant is at its limit (or is an apply
 * ahead of its lowers, and max_parallel_applies of them run). */
static struct job *queue_next(void)
{
	struct job *best = NULL;
	unsigned best_running = 0;
	uint64_t best_served = 0;
	for (struct job *j = pl.queue; j; j = j->next) {
		if (tenant_busy(j) || ahead_busy(j))
			continue;
		const unsigned *n = tenant_count(&tenant_running, j);
		unsigned running = n ? *n : 0;
		uint64_t served = served_at(j);
		if (!best || running < best_running || (running == best_running && served < best_served)) {
			best = j;
			best_running = running;
			best_served = served;
		}
	}
	return best;
}

/* Starts queued jobs while there is room. */
static void start_queued(void)
{
	struct job *j;
	while (pl.running < pl.lim.max_jobs && (j = queue_next())) {
		queue_unlink(j);
		struct err e = {0};
		if (job_spawn(j, &e) < 0)
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
	const struct role_info *r = role_info(spec->role);
	int input = -1;
	if (r && r->input != INPUT_NONE && (input = fcntl(spec->input_fd, F_DUPFD_CLOEXEC, 0)) < 0) {
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
	const struct tenant *t = spec->tenant;
	const unsigned *tq = tenant_count(&tenant_queued, j);
	if (pl.running >= pl.lim.max_jobs || pl.queue || tenant_busy(j) || ahead_busy(j)) {
		if (pl.queued >= pl.lim.max_queued) {
			metrics_job(job_metric_role(j), JO_REFUSED, 0);
			job_free(j);
			err_set(e, ST_RESOURCE_EXHAUSTED,
				"%u jobs are running and %u waiting: no room for another (max_jobs, "
				"max_queued_jobs)",
				pl.running, pl.queued);
			return NULL;
		}
		if (tq && t->max_queued_jobs && *tq >= t->max_queued_jobs) {
			err_set(e, ST_RESOURCE_EXHAUSTED,
				"tenant `%s` has %u jobs waiting, its limit (max_queued_jobs of [tenant %s])",
				t->name, *tq, t->name);
			metrics_job(job_metric_role(j), JO_REFUSED, 0);
			job_free(j);
			return NULL;
		}
		*pl.queue_tail = j;
		pl.queue_tail = &j->next;
		count_queued(j, 1);
		/* Room for it now, perhaps, ahead of others' (queue_next). */
		start_queued();
	} else if (job_spawn(j, e) < 0) {
		job_free(j);
		return NULL;
	}
	if (j->spec.handle)
		*j->spec.handle = j;
	return j;
}

/* Asks the spawner to kill j's worker.  A full channel (the spawner busy)
 * leaves it to the next tick to ask again. */
static void job_send_kill(struct job *j)
{
	struct ipc_job_kill k = {.job_id = j->id};
	struct err e = {0};
	if (ipc_send(pl.evt, IPC_JOB_KILL, &k, sizeof k, NULL, 0, &e) == 0)
		j->kill_sent = 1;
	else
		log_warn("job %llu: cannot ask the spawner to kill its worker yet: %s",
			 (unsigned long long)j->id, e.msg);
}

/* A queued job given up: its caller hears of it from the loop, not from
 * inside job_abort's caller. */
static void abort_queued_later(void *ctx)
{
	struct job *j = ctx;
	metrics_job(job_metric_role(j), job_outcome_kind(j, -1, 0), 0);
	job_fail_async(j, &j->aborted);
}

void job_abort(struct job *j, int code, const char *fmt, ...)
{
	if (j->aborted.code)
		return;
	va_list ap;
	va_start(ap, fmt);
	j->aborted.code = code;
	vsnprintf(j->aborted.msg, sizeof j->aborted.msg, fmt, ap);
	va_end(ap);
	log_info("job %llu (%s): %s", (unsigned long long)j->id, worker_role_name(j->spec.role),
		 j->aborted.msg);
	if (j->state == JOB_QUEUED) {
		queue_unlink(j);
		if (j->spec.handle && *j->spec.handle == j)
			*j->spec.handle = NULL;
		loop_defer(abort_queued_later, j);
		return;
	}
	/* Spawning or running: the spawner kills the worker (after forking it,
	 * if the SPAWN is still ahead of this on the channel), and its exit,
	 * reported as ever, ends the job with this error.  Until then it holds
	 * its slot: its worker may still be writing. */
	job_send_kill(j);
}

/* Jobs past their deadlines are given up (DeadlineExceeded).  Every job has
 * job_timeout; the ones that stream a layer (apply reads it, diff writes
 * it) also job_idle_timeout, counted from their last progress record:
 * their workers report at least every 100 ms while bytes move. */
static void job_tick(void *unused)
{
	uint64_t now = now_ns_monotonic(), s = 1000000000ull;
	for (struct job *j = pl.jobs; j; j = j->next) {
		const struct role_info *r = role_info(j->spec.role);
		int streams = r && r->input != INPUT_NONE;
		if (j->aborted.code) {
			if (!j->kill_sent)
				job_send_kill(j);
			continue;
		}
		if (now - j->started_ns >= pl.lim.timeout_s * s)
			job_abort(j, ST_DEADLINE_EXCEEDED, "ran longer than job_timeout (%u s): stopped",
				  pl.lim.timeout_s);
		else if (streams && now - j->active_ns >= pl.lim.idle_s * s)
			job_abort(j, ST_DEADLINE_EXCEEDED,
				  "moved no byte of the layer for job_idle_timeout (%u s): stopped",
				  pl.lim.idle_s);
	}
	if (pl.jobs)
		loop_timer_arm(pl.tick, JOB_TICK_MS);
}

void job_set_limits(const struct job_limits *l)
{
	pl.lim = *l;
	if (!pl.lim.max_jobs)
		pl.lim.max_jobs = 1;
	if (!pl.lim.max_ahead)
		pl.lim.max_ahead = 1;
	if (pl.queue_tail)
		start_queued();
}

unsigned job_count(void)
{
	return pl.running + pl.queued;
}

unsigned job_running(void)
{
	return pl.running;
}

unsigned job_queued(void)
{
	return pl.queued;
}

/* ---- job exits ------------------------------------------------------------ */

static const char *job_role_name(const struct job *j)
{
	return worker_role_name(job_metric_role(j));
}

/* A worker that ran out of space says so; this adds which file system and
 * what it has left: ROOT for an extract worker's snapshot, the content
 * store (or else the output the client gave) for a diff worker's layer. */
static void job_explain_full(const struct job *j, struct err *e)
{
	const char *store = broker.opts ? broker.opts->cfg.content_root : NULL;
	struct stat out, cs;
	if (j->spec.role == ROLE_EXTRACT)
		space_explain(e, -1, NULL);
	else if (j->spec.role == ROLE_DIFF && j->input >= 0)
		space_explain(e, j->input,
			      store && store[0] && fstat(j->input, &out) == 0 && stat(store, &cs) == 0 &&
				      out.st_dev == cs.st_dev
				  ? store
				  : "the diff's output");
}

/* Turns the worker's exit status and its result record into the outcome. */
static int job_outcome(struct job *j, const struct ipc_job_exit *x, struct job_result *res, struct err *e)
{
	int wstatus = x->wstatus;
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
			got = j->sock >= 0 ? ipc_recv(j->sock, IPC_CH_JOB, &m, &rerr) : 0;
		while (got > 0 && m.type == IPC_JOB_PROGRESS);
	}
	if (got > 0 && m.type == IPC_JOB_FAIL) {
		int code = m.body.job_fail.code;
		if (code <= ST_OK || code > ST_UNAVAILABLE)
			code = ST_INTERNAL;
		err_set(e, code, "%s", m.body.job_fail.msg);
		job_explain_full(j, e);
		return -1;
	}
	if (WIFSIGNALED(wstatus)) {
		int sig = WTERMSIG(wstatus);
		char name[64];
		if (sig == SIGSYS && x->denied)
			return err_set(e, ST_INTERNAL,
				       "worker killed by seccomp policy violation (SIGSYS) in role `%s`: it "
				       "called %s (syscall %d)",
				       role,
				       policy_syscall_name(x->denied_nr, x->denied_arch, name, sizeof name),
				       (int)x->denied_nr);
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
	/* Each role has exactly one kind of success record (proto/roles.h). */
	if (m.type == role_result(j->spec.role, j->spec.mount_flags)) {
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
		int r = ipc_recv(j->sock, IPC_CH_JOB, &m, &e);
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
		/* Idle is counted from the last record that moved: a worker that
		 * repeats itself gains no time. */
		if (m.body.job_progress.read != j->last_read ||
		    m.body.job_progress.entries != j->last_entries) {
			j->last_read = m.body.job_progress.read;
			j->last_entries = m.body.job_progress.entries;
			j->active_ns = now;
		}
		if (j->progress && now - j->last_progress_ns >= 100000000ull) {
			j->last_progress_ns = now;
			j->progress(j->ctx, m.body.job_progress.read, m.body.job_progress.entries);
		}
	}
}

void job_on_progress(struct job *j, job_progress_fn fn)
{
	j->progress = fn;
}

/* An extract job's record is durable (or could not be written): its worker,
 * waiting since it was forked, may begin (proto/ipc.h JOB_GO).  The job
 * may have ended or been given up meanwhile. */
static void job_go(void *ctx, const struct err *e)
{
	uint64_t id = *(uint64_t *)ctx;
	free(ctx);
	struct job *j = *job_find(id);
	struct err se = {0};
	if (!j || j->state != JOB_RUNNING || j->aborted.code)
		return;
	if (e)
		return job_abort(j, e->code, "cannot record the apply: %s", e->msg);
	if (ipc_send(j->sock, IPC_JOB_GO, NULL, 0, NULL, 0, &se) < 0)
		return job_abort(j, ST_INTERNAL, "cannot start the worker: %s", se.msg);
	j->go_sent = 1;
}

/* An extract worker writes only once the apply is recorded as under way,
 * with whether the spawner found the target empty, and that record is
 * durable: a crash from then on leaves a record that start-up handles
 * (broker/applyfail.c). */
static void job_record_apply(struct job *j)
{
	struct err e = {0};
	if (apply_record(j->spec.target, !!(j->spawned_flags & IPC_SPAWNED_TARGET_EMPTY), &e) < 0)
		return job_abort(j, e.code, "cannot record the apply: %s", e.msg);
	uint64_t *id = xmalloc(sizeof *id);
	*id = j->id;
	durable_then(job_go, id);
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
	j->spawned_flags = sp->flags;
	j->state = JOB_RUNNING;
	j->sock = sock;
	set_nonblock(j->sock, 1);
	/* Read as the worker writes, progress wanted or not: a worker whose
	 * progress records nobody reads would fill the socket and block. */
	j->sock_src = loop_add(j->sock, EPOLLIN, on_job_sock, j);
	if (j->spec.role == ROLE_EXTRACT)
		job_record_apply(j);
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
	count_running(j, -1);
	/* Given up meanwhile: that is what its caller hears. */
	struct err e = j->aborted;
	if (!e.code && f->msg[0])
		err_set(&e, status_from_errno(f->errnum), "start %s worker: %s",
			worker_role_name(j->spec.role), f->msg);
	else if (!e.code)
		err_errno(&e, 0, f->errnum, "start %s worker", worker_role_name(j->spec.role));
	metrics_job(job_metric_role(j), j->aborted.code == ST_CANCELLED ? JO_CANCELLED : JO_SPAWN_FAILED,
		    job_age_ns(j));
	job_fail_async(j, &e);
	start_queued();
}

static void job_exited(const struct ipc_job_exit *x)
{
	struct job **pp = job_find(x->job_id), *j = *pp;
	if (!j) {
		log_warn("exit of unknown job %llu", (unsigned long long)x->job_id);
		return;
	}
	*pp = j->next;
	count_running(j, -1);
	struct job_result res = {.pid = j->pid,
				 .mount_fd = -1,
				 .ran = j->spec.role != ROLE_EXTRACT || j->go_sent,
				 .target_empty = !!(j->spawned_flags & IPC_SPAWNED_TARGET_EMPTY)};
	struct err e = {0};
	int rc = job_outcome(j, x, &res, &e);
	int role = job_metric_role(j);
	metrics_job(role, job_outcome_kind(j, rc, x->wstatus), job_age_ns(j));
	metrics_worker(role, x->peak_rss_kib * 1024, x->cpu_us);
	if (rc == 0 && j->spec.role == ROLE_EXTRACT)
		metrics_layer_bytes(ROLE_EXTRACT, res.applied.compressed_size, res.applied.uncompressed_size);
	else if (rc == 0 && j->spec.role == ROLE_DIFF)
		metrics_layer_bytes(ROLE_DIFF, res.applied.uncompressed_size, res.applied.compressed_size);
	if (j->aborted.code) {
		/* Given up: whatever the worker managed is not the answer. */
		if (rc == 0 && res.mount_fd >= 0)
			close(steal_fd(&res.mount_fd));
		e = j->aborted;
		rc = -1;
	}
	if (rc < 0)
		job_log_failure(j, &e);
	job_done_fn done = j->done;
	void *ctx = j->ctx;
	job_free(j);
	start_queued();
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
	count_running(j, -1);
	metrics_job(ROLE_REMOVE, JO_OK, job_age_ns(j));
	struct job_result res = {.mount_fd = -1};
	job_done_fn done = j->done;
	void *ctx = j->ctx;
	job_free(j);
	start_queued();
	done(ctx, &res, NULL);
}

static void on_spawned(struct ipc_msg *m)
{
	job_spawned(&m->body.spawned, m->fds[0]);
	m->nfds = 0; /* the job owns its socket now */
}

static void on_spawn_failed(struct ipc_msg *m)
{
	job_spawn_failed(&m->body.spawn_failed);
}

static void on_job_exit(struct ipc_msg *m)
{
	job_exited(&m->body.job_exit);
}

/* The spawner's PONG answers the health check's ping (one out at a time:
 * broker/health.c asks again only once answered). */
static void (*pong_fn)(void *ctx);
static void *pong_ctx;

int jobs_ping(void (*fn)(void *ctx), void *ctx, struct err *e)
{
	if (ipc_send(pl.evt, IPC_SPAWNER_PING, NULL, 0, NULL, 0, e) < 0)
		return -1;
	pong_fn = fn;
	pong_ctx = ctx;
	return 0;
}

static void on_pong(struct ipc_msg *m)
{
	void (*fn)(void *ctx) = pong_fn;
	pong_fn = NULL;
	if (fn)
		fn(pong_ctx);
}

static void on_removed(struct ipc_msg *m)
{
	job_removed(m->body.job_exit.job_id);
}

/* The spawner's events: ipc_recv admits only the types of this end of the
 * channel (proto/ipc.c), and each has its handler here. */
static const struct {
	uint32_t type;
	void (*handle)(struct ipc_msg *m);
} evt_handlers[] = {
    {IPC_SPAWNED, on_spawned},	 {IPC_SPAWN_FAILED, on_spawn_failed},
    {IPC_JOB_EXIT, on_job_exit}, {IPC_REMOVED, on_removed},
    {IPC_PONG, on_pong},
};

static void on_evt(void *ctx, uint32_t events)
{
	for (;;) {
		struct ipc_msg m;
		struct err e = {0};
		int r = ipc_recv(pl.evt, IPC_CH_SPAWNER_EVENT, &m, &e);
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
		size_t i = 0;
		while (i < ARRAY_SIZE(evt_handlers) && evt_handlers[i].type != m.type)
			i++;
		if (i < ARRAY_SIZE(evt_handlers))
			evt_handlers[i].handle(&m);
		else
			log_err("parent event channel: unexpected `%s`", ipc_type_name(m.type));
		ipc_msg_close(&m);
	}
}

int jobs_init(int evt_fd, struct err *e)
{
	pl.evt = evt_fd;
	pl.queue_tail = &pl.queue;
	if (!(pl.tick = loop_timer_new(job_tick, NULL)))
		return err_set(e, ST_INTERNAL, "jobs: cannot make their timer");
	if (set_nonblock(evt_fd, 1) < 0)
		return err_errno(e, 0, errno, "parent event channel: set non-blocking");
	pl.evt_src = loop_add(evt_fd, EPOLLIN, on_evt, NULL);
	if (!pl.evt_src)
		return err_set(e, ST_INTERNAL, "parent event channel: cannot watch it");
	return 0;
}
