/* The import parser's prologue and jobs (import_parser.h).  Read top to
 * bottom, import_parser_main() is the parser's whole confinement: after
 * step 4 it can read the archive, write its records and the blob, and
 * allocate memory; it cannot open a file, connect to the daemon, start a
 * program or signal anyone (policy/import.policy). */
#include "import_parser.h"

#include <archive.h>
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "../policy/policy.h"
#include "../proto/import.h"

/* A CLI that went away cannot be told anything: exit quietly. */
static void send_record(const void *rec, size_t len)
{
	if (write(IMPORT_FD_RESULT, rec, len) != (ssize_t)len)
		_exit(3);
}

/* The job failed: close the blob's pipe first (the daemon sees its end),
 * then say why. */
__attribute__((noreturn)) static void fail(const struct err *e, int archive_fault)
{
	struct import_fail f = {
	    .type = IMPORT_FAIL, .code = e->code, .archive_fault = (uint32_t)archive_fault};
	close(IMPORT_FD_BLOB);
	snprintf(f.msg, sizeof f.msg, "%s", e->msg);
	send_record(&f, sizeof f);
	_exit(1);
}

__attribute__((noreturn)) static void setup_fail(const char *what, int errnum)
{
	struct err e;
	err_errno(&e, ST_INTERNAL, errnum, "import parser: %s", what);
	fail(&e, 0);
}

/* 1. Exactly the job's fds, at fixed numbers; stdin, stdout and stderr
 * closed (the parser prints nothing).  Before the result socket is in
 * place no record can be sent: the CLI reports the exit status. */
static void keep_fds(const struct import_job *job)
{
	int src[3] = {job->archive_fd, job->result_fd, job->kind == IMPORT_JOB_BLOB ? job->blob_fd : -1};
	int tmp[3], n = src[2] >= 0 ? 3 : 2;
	for (int i = 0; i < n; i++)
		if ((tmp[i] = fcntl(src[i], F_DUPFD, IMPORT_FD_BLOB + 1)) < 0)
			_exit(2);
	for (int i = 0; i < n; i++)
		if (dup2(tmp[i], IMPORT_FD_ARCHIVE + i) < 0)
			_exit(2);
	if (close_range(0, IMPORT_FD_ARCHIVE - 1, 0) < 0 || close_range(IMPORT_FD_ARCHIVE + n, ~0U, 0) < 0)
		_exit(2);
	log_off(); /* no stderr, and no call for it in the policy */
}

/* 2. No privilege: root becomes nobody (no supplementary groups, empty
 * bounding set); any other user keeps its ids and loses every capability
 * it had.  Nothing ambient is left to survive anything. */
static void drop_privilege(void)
{
	uid_t r, eu, s;
	capng_clear(CAPNG_SELECT_BOTH);
	if (getresuid(&r, &eu, &s) < 0)
		setup_fail("getresuid", errno);
	if (r == 0 || eu == 0 || s == 0) {
		if (capng_change_id(IMPORT_PARSER_ID, IMPORT_PARSER_ID,
				    CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING) != 0)
			setup_fail("cannot change to uid and gid 65534 (nobody)", EPERM);
	} else if (capng_apply(CAPNG_SELECT_CAPS) != 0) {
		setup_fail("cannot drop capabilities", EPERM);
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		setup_fail("clear ambient capabilities", errno);
	if (capng_get_caps_process() != 0 || capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE)
		setup_fail("capabilities remain after dropping them", EPERM);
}

/* 3. Dies with the CLI (set after the change of ids, which clears it); no
 * core dump of what it read; bounded memory; no fd beyond its own. */
static void set_limits(pid_t cli)
{
	static const struct {
		int res;
		rlim_t max;
	} limits[] = {
	    {RLIMIT_CORE, 0},
	    {RLIMIT_FSIZE, 0}, /* it writes only a pipe and a socket */
	    {RLIMIT_NOFILE, IMPORT_FD_BLOB + 1},
	    {RLIMIT_AS, STRATA_RLIMIT_AS(1ull << 30)}, /* documents are capped at 4 MiB each */
	    {RLIMIT_MEMLOCK, 0},
	    {RLIMIT_MSGQUEUE, 0},
	};
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != cli)
		_exit(3);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		setup_fail("PR_SET_DUMPABLE", errno);
	for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
		struct rlimit rl = {limits[i].max, limits[i].max};
		if (setrlimit(limits[i].res, &rl) < 0)
			setup_fail("setrlimit", errno);
	}
}

/* ---- the jobs (confined) --------------------------------------------------- */

static void run_image(const struct import_job *job)
{
	struct oci_archive ar = {.fd = IMPORT_FD_ARCHIVE, .path = job->path};
	struct oci_image img;
	struct err e;
	if (oci_read_image(&ar, job->want, &img, &e) < 0)
		fail(&e, 1);
	if (img.nlayers > IMPORT_MAX_LAYERS) {
		err_set(&e, ST_INVALID_ARGUMENT, "manifest `%s` in `%s` has %zu layers, more than %d",
			img.manifest_digest, job->path, img.nlayers, IMPORT_MAX_LAYERS);
		fail(&e, 1);
	}
	struct import_image m = {.type = IMPORT_IMAGE, .nlayers = (uint32_t)img.nlayers};
	snprintf(m.manifest_digest, sizeof m.manifest_digest, "%s", img.manifest_digest);
	snprintf(m.config_digest, sizeof m.config_digest, "%s", img.config_digest);
	snprintf(m.os, sizeof m.os, "%s", img.platform.os);
	snprintf(m.arch, sizeof m.arch, "%s", img.platform.arch);
	snprintf(m.variant, sizeof m.variant, "%s", img.platform.variant);
	send_record(&m, sizeof m);
	for (size_t i = 0; i < img.nlayers; i++) {
		const struct oci_layer *l = &img.layers[i];
		struct import_layer r = {.type = IMPORT_LAYER, .index = (uint32_t)i, .size = l->size};
		snprintf(r.digest, sizeof r.digest, "%s", l->digest);
		snprintf(r.diff_id, sizeof r.diff_id, "%s", l->diff_id);
		snprintf(r.media_type, sizeof r.media_type, "%s", l->media_type);
		send_record(&r, sizeof r);
	}
}

static void run_blob(const struct import_job *job)
{
	static char buf[256 * 1024];
	struct oci_archive ar = {.fd = IMPORT_FD_ARCHIVE, .path = job->path};
	struct archive *a;
	struct err e;
	int64_t n = 0;
	la_ssize_t r;
	if (oci_blob_open(&ar, job->digest, job->size, &a, &e) < 0)
		fail(&e, 1);
	while ((r = archive_read_data(a, buf, sizeof buf)) > 0) {
		if (write_all(IMPORT_FD_BLOB, buf, (size_t)r) < 0) {
			err_errno(&e, 0, errno, "send blob `%s` to the daemon", job->digest);
			fail(&e, 0);
		}
		n += r;
	}
	if (r < 0) {
		err_set(&e, ST_INVALID_ARGUMENT, "read blob `%s` in `%s`: %s", job->digest, job->path,
			archive_error_string(a));
		fail(&e, 1);
	}
	if (n != job->size) {
		err_set(&e, ST_INVALID_ARGUMENT, "blob `%s` in `%s` ended after %lld of %lld bytes",
			job->digest, job->path, (long long)n, (long long)job->size);
		fail(&e, 1);
	}
	close(IMPORT_FD_BLOB); /* EOF for the daemon, before the record */
	struct import_blob b = {.type = IMPORT_BLOB, .bytes = n};
	send_record(&b, sizeof b);
}

void import_parser_main(const struct import_job *job)
{
	struct err e;
	/* 1. the job's fds only */
	keep_fds(job);
	/* A write into a pipe the daemon closed is an error to report (EPIPE). */
	signal(SIGPIPE, SIG_IGN);
	/* iconv, which libarchive opens for pax headers, would call getcwd
	 * (not in the policy) to resolve a user's GCONV_PATH. */
	unsetenv("GCONV_PATH");
	/* 2. no privilege */
	drop_privilege();
	/* 3. tied to the CLI, bounded */
	set_limits(job->cli);
	/* 4. nothing it could exec would gain privilege (seccomp forbids exec
	 * anyway), and the import policy's filter */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		setup_fail("PR_SET_NO_NEW_PRIVS", errno);
	if (policy_load_bpf(job->filter, &e) < 0)
		fail(&e, 0);
	if (job->kind == IMPORT_JOB_IMAGE)
		run_image(job);
	else
		run_blob(job);
	_exit(0);
}
