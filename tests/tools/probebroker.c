/* probebroker: a compromised broker, for tests/integration/probe-broker.sh.
 *
 * The test installs it as stratad-broker next to copies of stratad and
 * stratad-spawner; the parent then execs it exactly as it execs the real
 * broker (fds 3..6 of broker/broker.h), and it attacks the root side, the
 * parent and the spawner, through the two ipc channels, with the project's
 * own ipc code.  Every message is well-formed (exact length, zero padding,
 * the fds its type carries) except for the one thing an attack varies:
 * ipc_recv would otherwise refuse it before the check under attack.
 *
 * It never drops privilege.  The real broker drops itself; the parent runs
 * it as root until then.  That makes no difference to these attacks: the
 * parent and the spawner judge what arrives on a channel, never who sent
 * it.  The root it keeps serves only to watch as the test would: it stops
 * a worker (SIGSTOP) to read its /proc, and does to the worker's fd 4 what
 * the worker's capabilities could.
 *
 * Attacks that get the broker killed end its generation: the parent restarts
 * the pair, and a counter in PROBE_DIR/generation says which one runs:
 *   0  the content store and the spawner's input checks, which the root
 *      side survives; last, INGEST_ABORT of containerd's own ingest
 *   1  SPAWN_INPUT of a directory       2  SPAWN_INPUT of a socket
 *   3  PUBLISH of a malformed name       4  PUBLISH of containerd's ingest,
 *                                          then SNAP_RESET of id 0
 *   5  SPAWN_INPUT of an O_PATH fd       6  SPAWN_INPUT of a write-only fd
 *      of the layer                         of the layer
 * and then it waits, idle, until the daemon stops.  When the root side lets
 * such an attack pass, the probe says so and exits: the next one runs all
 * the same.
 *
 * Environment: PROBE_DIR (results, generation, fifo-placed), PROBE_LAYER (a
 * tar file of another user's), PROBE_FOREIGN (the name of containerd's ingest
 * in progress) with PROBE_FOREIGN_DIGEST and PROBE_FOREIGN_SIZE (its data's),
 * PROBE_SNAPSHOTS (the snapshots directory, where the test planted links).
 * Results go to PROBE_DIR/results, one line each: `ok CHECK`, `FAIL CHECK:
 * WHY`, `info KEY VALUE`, `wait fifo`, `idle`; each line also goes to stdout
 * (the daemon's log) after `probebroker: generation N:`. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/parentlink.h"
#include "common/hex.h"
#include "common/status.h"
#include "common/util.h"
#include "proto/ipc.h"

#define TIMEOUT_MS     10000		   /* longer than any answer the root side owes */
#define FIFO_WAIT_MS   30000		   /* for the test to put a FIFO in place */
#define EXTRACT_TARGET 100		   /* snapshot ids: 100 + generation */
#define DESCRIBE_MAX   (IPC_MSG_MAX + 300) /* describe(): a job, for a verdict */

static struct {
	const char *dir;
	int results;
	unsigned gen;
} R = {.results = -1};

/* ---- results ----------------------------------------------------------------- */

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	char line[600];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	if (R.results >= 0)
		write_all(R.results, line, (size_t)n);
	dprintf(STDOUT_FILENO, "probebroker: generation %u: %.*s", R.gen, n, line);
}

/* `ok CHECK` when good, else `FAIL CHECK: WHY`. */
__attribute__((format(printf, 3, 4))) static void verdict(int good, const char *check, const char *fmt, ...)
{
	char why[480];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (good)
		say("ok %s", check);
	else
		say("FAIL %s: %s", check, why);
}

_Noreturn static void idle(void)
{
	for (;;)
		pause();
}

/* After an attack that should get this broker killed: wait for it, or, when
 * the root side let the attack pass, exit so that the next generation runs. */
_Noreturn static void await_kill(int refused)
{
	if (!refused)
		exit(1);
	idle();
}

static void sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
	hex_encode(md, sizeof md, out);
}

/* ---- the channels -------------------------------------------------------------- */

/* 1 with *m, 0 when the peer hung up, -1 on timeout or a refused record. */
static int recv_within(int fd, enum ipc_channel ch, struct ipc_msg *m, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	int n;
	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	memset(m, 0, sizeof *m);
	if (n <= 0)
		return -1;
	struct err e = {0};
	return ipc_recv(fd, ch, m, &e);
}

static int send_msg(int fd, uint32_t type, const void *body, size_t len, int pass_fd)
{
	struct err e = {0};
	if (ipc_send(fd, type, body, len, pass_fd >= 0 ? &pass_fd : NULL, pass_fd >= 0, &e) == 0)
		return 0;
	say("FAIL send-%s: %s", ipc_type_name(type), e.msg);
	return -1;
}

/* A ctl request and the parent's answer (1), or 0 when it hung up. */
static int ctl_call(uint32_t type, const void *body, size_t len, struct ipc_msg *m)
{
	if (send_msg(BROKER_FD_CTL, type, body, len, -1) < 0)
		return -1;
	return recv_within(BROKER_FD_CTL, IPC_CH_PARENT_REPLY, m, TIMEOUT_MS);
}

/* REPLY's errnum for a request that is answered by REPLY alone; -1000 when
 * some other answer (or none) came. */
static int ctl_errnum(uint32_t type, const void *body, size_t len)
{
	struct ipc_msg m;
	int r = ctl_call(type, body, len, &m);
	int rc = r == 1 && m.type == IPC_REPLY ? m.body.reply.errnum : -1000;
	ipc_msg_close(&m);
	return rc;
}

static int snap_create(uint64_t id)
{
	struct ipc_snap_create c = {.id = id, .active = 1};
	int rc = ctl_errnum(IPC_SNAP_CREATE, &c, sizeof c);
	if (rc != 0)
		say("FAIL snap-create: snapshot %llu: errnum %d", (unsigned long long)id, rc);
	return rc;
}

static void ingest_body(struct ipc_ingest *b, const char *name, const char *ref)
{
	memset(b, 0, sizeof *b);
	snprintf(b->name, sizeof b->name, "%s", name);
	snprintf(b->ref, sizeof b->ref, "%s", ref);
}

/* INGEST_OPEN: the data fd (BLOB), or -1 with the REPLY's errnum in *errnum
 * (-1000: no answer). */
static int ingest_open(const char *name, const char *ref, int *errnum)
{
	struct ipc_ingest b;
	struct ipc_msg m;
	ingest_body(&b, name, ref);
	int r = ctl_call(IPC_INGEST_OPEN, &b, sizeof b, &m);
	*errnum = r == 1 && m.type == IPC_REPLY ? m.body.reply.errnum : -1000;
	if (r == 1 && m.type == IPC_BLOB)
		return m.fds[0];
	ipc_msg_close(&m);
	return -1;
}

static int ingest_abort(const char *name)
{
	struct ipc_ingest b;
	ingest_body(&b, name, "");
	return ctl_errnum(IPC_INGEST_ABORT, &b, sizeof b);
}

/* ---- jobs on the event channel ------------------------------------------------------ */

struct job {
	uint64_t id;
	pid_t pid;
	int sock;	       /* the broker's end of the job socket (SPAWNED) */
	struct ipc_msg result; /* the result record; type 0 when none came */
	int exited, wstatus;
	char why[200]; /* what went astray, or "" */
};

static uint64_t evt_job_id(const struct ipc_msg *m)
{
	switch (m->type) {
	case IPC_SPAWNED:
		return m->body.spawned.job_id;
	case IPC_SPAWN_FAILED:
		return m->body.spawn_failed.job_id;
	case IPC_JOB_EXIT:
	case IPC_REMOVED:
		return m->body.job_exit.job_id;
	}
	return 0;
}

/* The next event must be `type` for this job. */
static int job_event(struct job *j, uint32_t type, struct ipc_msg *m)
{
	int r = recv_within(BROKER_FD_EVT, IPC_CH_SPAWNER_EVENT, m, TIMEOUT_MS);
	if (r == 1 && m->type == type && evt_job_id(m) == j->id)
		return 0;
	if (!j->why[0])
		snprintf(j->why, sizeof j->why, "wanted %s of job %llu, got %s", ipc_type_name(type),
			 (unsigned long long)j->id,
			 r == 1	  ? ipc_type_name(m->type)
			 : r == 0 ? "the spawner hanging up"
				  : "nothing in time");
	ipc_msg_close(m);
	return -1;
}

static int job_spawned(struct job *j)
{
	struct ipc_msg m;
	j->sock = -1;
	if (job_event(j, IPC_SPAWNED, &m) < 0)
		return -1;
	j->pid = m.body.spawned.pid;
	j->sock = m.fds[0];
	return 0;
}

/* The worker's result record (progress skipped); a job that owes it past
 * the timeout is killed, as the real broker would. */
static void job_result(struct job *j)
{
	for (;;) {
		int r = recv_within(j->sock, IPC_CH_JOB, &j->result, TIMEOUT_MS);
		if (r == 1 && j->result.type == IPC_JOB_PROGRESS)
			continue;
		if (r != 1) {
			struct ipc_job_kill k = {.job_id = j->id};
			snprintf(j->why, sizeof j->why, "no result record (%s)",
				 r == 0 ? "hung up" : "timeout");
			send_msg(BROKER_FD_EVT, IPC_JOB_KILL, &k, sizeof k, -1);
		}
		return;
	}
}

static void job_finish(struct job *j)
{
	struct ipc_msg m;
	job_result(j);
	close(j->sock);
	j->sock = -1;
	if (job_event(j, IPC_JOB_EXIT, &m) == 0) {
		j->exited = 1;
		j->wstatus = m.body.job_exit.wstatus;
	}
}

static void describe(const struct job *j, char *buf, size_t len)
{
	const struct ipc_msg *r = &j->result;
	snprintf(buf, len, "result %s code %d `%s`, exited %d status %#x%s%s",
		 r->type ? ipc_type_name(r->type) : "none",
		 r->type == IPC_JOB_FAIL ? r->body.job_fail.code : 0,
		 r->type == IPC_JOB_FAIL ? r->body.job_fail.msg : "", j->exited, j->wstatus,
		 j->why[0] ? "; " : "", j->why);
}

static void publish(struct job *j, const char *name, const char *digest, uint64_t size)
{
	struct ipc_publish p;
	memset(&p, 0, sizeof p);
	p.job_id = j->id;
	p.size = size;
	snprintf(p.name, sizeof p.name, "%s", name);
	snprintf(p.digest, sizeof p.digest, "%s", digest);
	if (send_msg(BROKER_FD_EVT, IPC_PUBLISH, &p, sizeof p, -1) < 0 || job_spawned(j) < 0)
		return;
	job_finish(j);
}

static void job_kill(uint64_t id)
{
	struct ipc_job_kill k = {.job_id = id};
	send_msg(BROKER_FD_EVT, IPC_JOB_KILL, &k, sizeof k, -1);
}

static int applied_as(const struct job *j, const char *digest, uint64_t size)
{
	char got[65];
	if (j->result.type != IPC_JOB_APPLIED)
		return 0;
	hex_encode(j->result.body.job_applied.digest, 32, got);
	return !strcmp(got, digest) && j->result.body.job_applied.compressed_size == size;
}

static int failed_with(const struct job *j, int code, const char *text)
{
	return j->result.type == IPC_JOB_FAIL && j->result.body.job_fail.code == code &&
	       strstr(j->result.body.job_fail.msg, text) && j->exited;
}

/* ---- generation 0: the content store --------------------------------------------------- */

/* A blob is published only under the digest of the bytes root read, from a
 * copy no fd the broker holds can write; JOB_KILL of an id the spawner does
 * not know is ignored. */
static void attack_publish(void)
{
	static const char data[] = "strata probe: bytes the broker wrote\n";
	const size_t len = sizeof data - 1;
	char name[65], right[65], wrong[65], why[DESCRIBE_MAX];
	int errnum;
	sha256_hex("probe-ref-blob", strlen("probe-ref-blob"), name);
	sha256_hex(data, len, right);
	sha256_hex("other bytes", strlen("other bytes"), wrong);
	say("info blob %s", right);
	say("info wrong %s", wrong);
	int fd = ingest_open(name, "probe-ref-blob", &errnum);
	if (fd < 0 || write_all(fd, data, len) < 0)
		return say("FAIL ingest-open: errnum %d, %s", errnum, strerror(errno));
	struct job w = {.id = 11}, r = {.id = 12};
	publish(&w, name, wrong, len);
	describe(&w, why, sizeof why);
	verdict(failed_with(&w, ST_FAILED_PRECONDITION, wrong), "publish-wrong-digest-fails", "%s", why);
	job_kill(w.id);		      /* exited meanwhile */
	job_kill(0x7e57000000000001); /* never was */
	publish(&r, name, right, len);
	describe(&r, why, sizeof why);
	verdict(r.pid > 0, "job-kill-unknown-ignored", "the next request: %s", why);
	verdict(applied_as(&r, right, len) && r.exited && r.wstatus == 0, "publish-right-digest", "%s", why);
	/* The broker still holds the ingest's data fd: rewrite it. */
	int rewritten = pwrite(fd, "EVIL", 4, 0) == 4 && ftruncate(fd, 2) == 0;
	verdict(rewritten, "rewrite-ingest-after-publish", "%s", strerror(errno));
	close(fd);
	errnum = ingest_abort(name);
	verdict(errnum == 0, "abort-own-ingest", "errnum %d", errnum);
	ipc_msg_close(&w.result);
	ipc_msg_close(&r.result);
}

/* Waits for the test to create PROBE_DIR/NAME. */
static int wait_file(const char *name, int ms)
{
	cleanup_free char *path = xasprintf("%s/%s", R.dir, name);
	for (int waited = 0; waited < ms; waited += 50) {
		if (access(path, F_OK) == 0)
			return 0;
		usleep(50 * 1000);
	}
	return -1;
}

/* A FIFO at an ingest's data path (the test puts it there: no broker
 * could) must not stall the publisher: refused at once.  The digest is the
 * empty string's, so that only the type check can refuse it (a non-blocking
 * read of a FIFO without a writer ends at once, empty). */
static void attack_fifo(void)
{
	char name[65], empty[65], why[DESCRIBE_MAX];
	int errnum;
	sha256_hex("probe-ref-fifo", strlen("probe-ref-fifo"), name);
	sha256_hex("", 0, empty);
	int fd = ingest_open(name, "probe-ref-fifo", &errnum);
	if (fd < 0)
		return say("FAIL ingest-open: errnum %d", errnum);
	close(fd);
	say("info fifo-ingest %s", name);
	say("wait fifo");
	if (wait_file("fifo-placed", FIFO_WAIT_MS) < 0)
		return say("FAIL publish-fifo-refused: the test placed no FIFO");
	struct job j = {.id = 13};
	uint64_t t0 = now_ns_monotonic();
	publish(&j, name, empty, 0);
	uint64_t ms = (now_ns_monotonic() - t0) / 1000000;
	describe(&j, why, sizeof why);
	verdict(failed_with(&j, ST_FAILED_PRECONDITION, "no regular data file") && ms < 5000,
		"publish-fifo-refused", "after %llu ms: %s", (unsigned long long)ms, why);
	errnum = ingest_abort(name);
	verdict(errnum == 0, "abort-own-fifo-ingest", "errnum %d", errnum);
	ipc_msg_close(&j.result);
}

/* containerd's own ingest in progress cannot be taken over. */
static void attack_open_foreign(void)
{
	int errnum, fd = ingest_open(getenv("PROBE_FOREIGN"), "probe-ref-takeover", &errnum);
	verdict(fd < 0 && errnum == EAGAIN, "ingest-open-foreign-refused", "fd %d, errnum %d", fd, errnum);
	if (fd >= 0)
		close(fd);
}

/* ---- generation 0: a layer in another user's file ------------------------------------------ */

static int status_has(pid_t pid, const char *line)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read_full(fd, buf, sizeof buf - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strstr(buf, line) != NULL;
}

/* Waits until the worker runs under its seccomp filter (it has closed every
 * fd it was not given by then, and not yet read its input, which takes a
 * while here: the layer is thousands of entries) and stops it. */
static int catch_worker(pid_t pid)
{
	uint64_t end = now_ns_monotonic() + TIMEOUT_MS * 1000000ull;
	int r;
	while ((r = status_has(pid, "\nSeccomp:\t2\n")) == 0 && now_ns_monotonic() < end)
		usleep(100);
	if (r != 1 || kill(pid, SIGSTOP) < 0)
		return -1;
	while ((r = status_has(pid, "\nState:\tT")) == 0 && now_ns_monotonic() < end)
		usleep(100);
	return r == 1 ? 0 : -1;
}

/* The worker's fd other than 4 that is the layer file itself, or -1. */
static int fd_of_file(pid_t pid, const struct stat *file, int *nfds)
{
	char dir[64], path[64 + 256];
	struct stat st;
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	int found = -1;
	*nfds = 0;
	for (struct dirent *de; d && (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		(*nfds)++;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && st.st_dev == file->st_dev && st.st_ino == file->st_ino &&
		    atoi(de->d_name) != 4)
			found = atoi(de->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

/* Each call, from `what`, a worker's capabilities could make on its fd:
 * those that succeeded go into `done`. */
static void try_call(char *done, size_t cap, const char *what, int ok)
{
	if (ok)
		snprintf(done + strlen(done), cap - strlen(done), " %s", what);
}

/* The worker's fd 4 must be the layer's file reopened read-only through a
 * read-only, nosuid mount (parent/feed.h), and it must hold no other fd of
 * the file.  What the worker's capabilities (CAP_CHOWN, CAP_FOWNER,
 * CAP_FSETID, CAP_SETFCAP, CAP_SYS_ADMIN) would let it do to that fd is done
 * here, as root, to the very open file (pidfd_getfd), and through its
 * /proc path; every call must fail, and the test checks that the file is as
 * it was. */
static void inspect_worker(pid_t pid, const struct stat *layer)
{
	char fd4[64];
	struct stat st;
	struct statvfs sv;
	int nfds;
	snprintf(fd4, sizeof fd4, "/proc/%d/fd/4", (int)pid);
	int same = stat(fd4, &st) == 0 && st.st_dev == layer->st_dev && st.st_ino == layer->st_ino;
	int ro = statvfs(fd4, &sv) == 0 && (sv.f_flag & ST_RDONLY) && (sv.f_flag & ST_NOSUID);
	verdict(same && ro, "extract-worker-input-read-only",
		"its fd 4 is %sthe layer, on a mount with flags %#lx", same ? "" : "not ",
		(unsigned long)sv.f_flag);
	int held = fd_of_file(pid, layer, &nfds);
	verdict(held < 0 && nfds > 0, "extract-worker-holds-no-other-layer-fd",
		"its fd %d is the layer (%d fds)", held, nfds);
	static const unsigned char cap[20] = {1, 0, 0, 2, 0x20};
	char done[256] = "";
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int fd = pidfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pidfd, 4, 0) : -1;
	if (fd < 0) {
		say("FAIL extract-worker-input-changes-nothing: pidfd_getfd of its fd 4: %s",
		    strerror(errno));
	} else {
		int fl = fcntl(fd, F_GETFL);
		try_call(done, sizeof done, "opened-for-writing", fl < 0 || (fl & O_ACCMODE) != O_RDONLY);
		try_call(done, sizeof done, "fchown", fchown(fd, 0, 0) == 0);
		try_call(done, sizeof done, "fchmod", fchmod(fd, 04755) == 0);
		try_call(done, sizeof done, "fsetxattr",
			 fsetxattr(fd, "security.capability", cap, sizeof cap, 0) == 0);
		try_call(done, sizeof done, "futimens", futimens(fd, NULL) == 0);
		try_call(done, sizeof done, "write", write(fd, "x", 1) >= 0);
		try_call(done, sizeof done, "ftruncate", ftruncate(fd, 1) == 0);
		try_call(done, sizeof done, "fallocate", fallocate(fd, 0, 0, 1 << 20) == 0);
		void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		try_call(done, sizeof done, "mmap-shared-writable", m != MAP_FAILED);
		if (m != MAP_FAILED)
			munmap(m, 4096);
		close(fd);
		verdict(!done[0], "extract-worker-input-changes-nothing", "these succeeded on its fd 4:%s",
			done);
	}
	if (pidfd >= 0)
		close(pidfd);
	if (chown(fd4, 0, 0) < 0 || chmod(fd4, 04755) < 0)
		say("info chown or chmod of the worker's fd 4: %s", strerror(errno));
	setxattr(fd4, "security.capability", cap, sizeof cap, 0);
}

/* SPAWN_INPUT for an extract job with a regular file owned by uid 65534. */
static void attack_input_file(void)
{
	char why[DESCRIBE_MAX];
	struct stat st;
	cleanup_fd int layer = open(getenv("PROBE_LAYER"), O_RDONLY | O_CLOEXEC);
	if (layer < 0 || fstat(layer, &st) < 0)
		return say("FAIL extract-from-file: open the layer: %s", strerror(errno));
	uint64_t target = EXTRACT_TARGET + R.gen;
	if (snap_create(target) != 0)
		return;
	say("info extract-target %llu", (unsigned long long)target);
	struct ipc_spawn s = {.job_id = 14, .target = target, .role = ROLE_EXTRACT};
	struct job j = {.id = s.job_id};
	if (send_msg(BROKER_FD_EVT, IPC_SPAWN_INPUT, &s, sizeof s, layer) < 0 || job_spawned(&j) < 0)
		return say("FAIL extract-from-file: %s", j.why);
	if (catch_worker(j.pid) == 0)
		inspect_worker(j.pid, &st);
	else
		say("FAIL extract-worker-caught: worker %d was not seen confined", (int)j.pid);
	/* It waits for this before it reads its input (proto/ipc.h JOB_GO). */
	if (ipc_send(j.sock, IPC_JOB_GO, NULL, 0, NULL, 0, NULL) < 0)
		say("FAIL extract-from-file: send JOB_GO: %s", strerror(errno));
	kill(j.pid, SIGCONT);
	job_finish(&j);
	describe(&j, why, sizeof why);
	verdict(j.result.type == IPC_JOB_APPLIED && j.exited && j.wstatus == 0, "extract-from-file", "%s",
		why);
	ipc_msg_close(&j.result);
}

/* SNAP_RESET (an apply failed on an empty snapshot) swaps a live
 * snapshots/ID/fs for a fresh directory and hands the old one over as
 * rm-ID: nothing a SNAP_DROP of the same id could not.  The test planted
 * 301 as a link out of the snapshots directory, 302/fs as one, 303 beside
 * an rm-303 that exists, and a marker in 305/fs; it checks that the parent
 * followed none and swapped nothing it refused. */
static void attack_reset(void)
{
	struct ipc_snap_reset r = {.id = 300};
	int errnum = snap_create(300) == 0 ? ctl_errnum(IPC_SNAP_RESET, &r, sizeof r) : -1;
	verdict(errnum == 0, "reset-own-snapshot", "errnum %d", errnum);
	r.id = 301;
	errnum = ctl_errnum(IPC_SNAP_RESET, &r, sizeof r);
	verdict(errnum > 0, "reset-link-refused", "errnum %d", errnum);
	r.id = 302;
	errnum = ctl_errnum(IPC_SNAP_RESET, &r, sizeof r);
	verdict(errnum > 0, "reset-fs-link-refused", "errnum %d", errnum);
	r.id = 303;
	errnum = ctl_errnum(IPC_SNAP_RESET, &r, sizeof r);
	verdict(errnum == EEXIST, "reset-over-rm-refused", "errnum %d", errnum);
	/* Its parent's fs a link: the owner cannot be taken, nothing swapped. */
	r = (struct ipc_snap_reset){.id = 305, .parent_id = 302};
	if (snap_create(305) == 0) {
		cleanup_free char *marker = xasprintf("%s/305/fs/marker", getenv("PROBE_SNAPSHOTS"));
		close(open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	}
	errnum = ctl_errnum(IPC_SNAP_RESET, &r, sizeof r);
	verdict(errnum > 0, "reset-bad-parent-refused", "errnum %d", errnum);
}

/* Last: the parent kills a broker that aborts an ingest it did not create;
 * a reply means it did not. */
_Noreturn static void attack_abort_foreign(void)
{
	struct ipc_ingest b;
	struct ipc_msg m;
	ingest_body(&b, getenv("PROBE_FOREIGN"), "");
	say("info sending INGEST_ABORT of containerd's ingest");
	int r = ctl_call(IPC_INGEST_ABORT, &b, sizeof b, &m);
	verdict(r == 0, "abort-foreign-kills-broker", "the parent answered %s (errnum %d)",
		r == 1 ? ipc_type_name(m.type) : "nothing", r == 1 ? m.body.reply.errnum : 0);
	await_kill(r == 0);
}

/* ---- generations 1..4: one violation each ---------------------------------------------------- */

/* SNAP_RESET of id 0 (no snapshot's): the parent kills the broker. */
_Noreturn static void attack_reset_zero(void)
{
	struct ipc_snap_reset r = {.id = 0};
	struct ipc_msg m;
	int got = ctl_call(IPC_SNAP_RESET, &r, sizeof r, &m);
	verdict(got == 0, "reset-zero-kills-broker", "the parent answered %s",
		got == 1 ? ipc_type_name(m.type) : "nothing");
	await_kill(got == 0);
}

/* SPAWN_INPUT of an extract job with an fd that is neither a regular file
 * nor a pipe, or one not open for reading: the spawner hangs up (exits 3);
 * nothing is extracted. */
_Noreturn static void attack_input_kind(const char *kind, int fd)
{
	uint64_t target = EXTRACT_TARGET + R.gen;
	char check[64];
	snprintf(check, sizeof check, "spawn-input-%s-violation", kind);
	if (fd < 0 || snap_create(target) != 0)
		say("FAIL %s: no fd or no target: %s", check, strerror(errno));
	say("info %s-target %llu", kind, (unsigned long long)target);
	struct ipc_spawn s = {.job_id = 21, .target = target, .role = ROLE_EXTRACT};
	struct ipc_msg m;
	send_msg(BROKER_FD_EVT, IPC_SPAWN_INPUT, &s, sizeof s, fd);
	int r = recv_within(BROKER_FD_EVT, IPC_CH_SPAWNER_EVENT, &m, TIMEOUT_MS);
	verdict(r == 0, check, "the spawner answered %s", r == 1 ? ipc_type_name(m.type) : "nothing in time");
	await_kill(r == 0);
}

static int a_socket(void)
{
	int sp[2];
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 ? -1 : sp[0];
}

/* PUBLISH whose name is no ingest's but a path: the spawner hangs up. */
_Noreturn static void attack_publish_malformed(void)
{
	char digest[65];
	struct ipc_publish p;
	struct ipc_msg m;
	sha256_hex("", 0, digest);
	memset(&p, 0, sizeof p);
	p.job_id = 31;
	/* 64 characters, as a name has, but a way out of ingest/. */
	snprintf(p.name, sizeof p.name, "../blobs/sha256/%.48s", digest);
	memcpy(p.digest, digest, sizeof p.digest);
	say("info traversal %.48s", digest);
	send_msg(BROKER_FD_EVT, IPC_PUBLISH, &p, sizeof p, -1);
	int r = recv_within(BROKER_FD_EVT, IPC_CH_SPAWNER_EVENT, &m, TIMEOUT_MS);
	verdict(r == 0, "publish-malformed-violation", "the spawner answered %s",
		r == 1 ? ipc_type_name(m.type) : "nothing in time");
	await_kill(r == 0);
}

/* The digest and size a failed publish reports it read; else the test's. */
static void foreign_digest(const char *told, char digest[65], uint64_t *size)
{
	unsigned long long n;
	if (sscanf(told, "publish: the ingest has %llu bytes of digest sha256:%64[0-9a-f]", &n, digest) ==
		2 &&
	    strlen(digest) == 64) {
		*size = n;
		return;
	}
	snprintf(digest, 65, "%s", getenv("PROBE_FOREIGN_DIGEST"));
	if (parse_u64(getenv("PROBE_FOREIGN_SIZE"), size) < 0)
		say("FAIL foreign-size: PROBE_FOREIGN_SIZE is no number");
}

/* containerd's own ingest in progress, published by a broker that never
 * wrote it nor knows its bytes: ipc.h promises that containerd's ingests are
 * out of the broker's reach, and that a broker gets only bytes it wrote
 * published.  A first PUBLISH with a wrong digest must not tell the broker
 * what the ingest holds (a failed publish reports the digest and size it
 * read); the second asks for those (or, when none were told, for the
 * digest the test computed) and must publish nothing.  A spawner that
 * takes either for a violation refuses it too. */
static void attack_publish_foreign(void)
{
	const char *name = getenv("PROBE_FOREIGN");
	char empty[65], digest[65], why[DESCRIBE_MAX];
	uint64_t size = 0;
	struct job probe = {.id = 41}, take = {.id = 42};
	sha256_hex("", 0, empty);
	publish(&probe, name, empty, 0);
	describe(&probe, why, sizeof why);
	const char *told = probe.result.type == IPC_JOB_FAIL ? probe.result.body.job_fail.msg : "";
	verdict(!strstr(told, getenv("PROBE_FOREIGN_DIGEST")), "publish-foreign-unread", "%s", why);
	if (strstr(probe.why, "hanging up")) /* taken for a violation */
		return say("ok publish-foreign-refused");
	foreign_digest(told, digest, &size);
	publish(&take, name, digest, size);
	describe(&take, why, sizeof why);
	verdict(take.result.type != IPC_JOB_APPLIED, "publish-foreign-refused", "%s", why);
	ipc_msg_close(&probe.result);
	ipc_msg_close(&take.result);
}

/* ---- the prologue ------------------------------------------------------------------------- */

/* This generation's number; the next one finds it plus one. */
static unsigned next_generation(void)
{
	cleanup_free char *path = xasprintf("%s/generation", R.dir);
	char buf[24] = "";
	uint64_t g = 0;
	cleanup_fd int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (n > 0) {
		buf[strcspn(buf, "\n")] = '\0';
		parse_u64(buf, &g);
	}
	int len = snprintf(buf, sizeof buf, "%llu\n", (unsigned long long)g + 1);
	if (fd < 0 || pwrite(fd, buf, (size_t)len, 0) != len)
		say("FAIL generation: cannot count generations in `%s`", path);
	return (unsigned)g;
}

int main(int argc, char **argv)
{
	R.dir = getenv("PROBE_DIR");
	if (!R.dir || !getenv("PROBE_LAYER") || !getenv("PROBE_FOREIGN") || !getenv("PROBE_FOREIGN_DIGEST") ||
	    !getenv("PROBE_FOREIGN_SIZE") || !getenv("PROBE_SNAPSHOTS"))
		return fprintf(stderr, "probebroker: PROBE_* is not set (see tests/tools/probebroker.c)\n"),
		       2;
	cleanup_free char *results = xasprintf("%s/results", R.dir);
	R.results = open(results, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	R.gen = next_generation();
	say("started, pid %d", (int)getpid());
	int ready = ctl_errnum(IPC_READY, NULL, 0);
	if (ready != 0)
		say("FAIL ready: errnum %d", ready);
	switch (R.gen) {
	case 0:
		attack_publish();
		attack_fifo();
		attack_open_foreign();
		attack_input_file();
		attack_reset();
		attack_abort_foreign();
	case 1:
		attack_input_kind("dir", open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	case 2:
		attack_input_kind("socket", a_socket());
	case 3:
		attack_publish_malformed();
	case 4:
		attack_publish_foreign();
		attack_reset_zero();
	case 5:
		/* Reopened read-only as root, either would let the worker read
		 * what the fd cannot. */
		attack_input_kind("opath", open(getenv("PROBE_LAYER"), O_PATH | O_CLOEXEC));
	case 6:
		attack_input_kind("wronly", open(getenv("PROBE_LAYER"), O_WRONLY | O_APPEND | O_CLOEXEC));
	}
	say("idle");
	idle();
}
