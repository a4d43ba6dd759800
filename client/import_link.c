/* The CLI's side of the import parser (import_link.h): fork a parser per
 * job, check every record it sends (proto/import.h), reap it and say how it
 * ended when it did not end well. */
#include "import_link.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "import_parser.h"
#include "oci_json.h"
#include "../common/layer.h"
#include "../common/util.h"
#include "../proto/import.h"

/* `-`: standard input as the archive.  A regular file (`< FILE`) is used
 * as it is; a pipe is copied, unread, into an unnamed temporary file first,
 * as a parser seeks in the archive and reads it more than once. */
static int open_stdin(struct import_parser *p, struct err *e)
{
	struct stat st;
	if (fstat(STDIN_FILENO, &st) < 0)
		return err_errno(e, ST_INVALID_ARGUMENT, errno, "image archive on standard input");
	if (S_ISREG(st.st_mode)) {
		p->archive_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
		return p->archive_fd < 0 ? err_errno(e, ST_INTERNAL, errno, "dup standard input") : 0;
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode))
		return err_set(e, ST_INVALID_ARGUMENT,
			       "standard input is not a file or a pipe: give the image archive with `< FILE` "
			       "or a pipe");
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/var/tmp";
	cleanup_fd int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_errno(e, ST_INTERNAL, errno,
				 "temporary file in `%s` for the archive on standard input", dir);
	char buf[65536];
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno(e, ST_INVALID_ARGUMENT, errno, "read the archive on standard input");
		if (n == 0)
			break;
		if (write_all(fd, buf, (size_t)n) < 0)
			return err_errno(e, 0, errno, "copy the archive on standard input into `%s`", dir);
	}
	p->archive_fd = steal_fd(&fd);
	return 0;
}

int import_parser_open(struct import_parser *p, const char *path, struct err *e)
{
	memset(p, 0, sizeof *p);
	p->path = path;
	struct stat st;
	if (strcmp(path, "-") == 0) {
		p->path = "standard input";
		if (open_stdin(p, e) < 0)
			return -1;
	} else {
		/* O_NONBLOCK: a FIFO is refused below instead of waiting for a
		 * writer (it changes nothing for a regular file). */
		p->archive_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	}
	if (p->archive_fd < 0)
		return err_errno(e, 0, errno, "open image archive `%s`", path);
	if (fstat(p->archive_fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(steal_fd(&p->archive_fd));
		return err_set(e, ST_INVALID_ARGUMENT,
			       "image archive `%s` is not a regular file (import reads it more than once)",
			       path);
	}
	struct policy *pol = policy_for_role("import", e);
	int rc = pol ? policy_compile(pol, 0, &p->filter, e) : -1;
	policy_free(pol);
	if (rc < 0)
		close(steal_fd(&p->archive_fd));
	return rc;
}

void import_parser_close(struct import_parser *p)
{
	if (p->archive_fd >= 0)
		close(steal_fd(&p->archive_fd));
	policy_bpf_free(&p->filter);
}

/* Forks a parser for job; *sock gets the CLI's end of its result socket. */
static pid_t spawn(struct import_parser *p, struct import_job *job, int *sock, struct err *e)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return err_errno(e, ST_INTERNAL, errno, "socketpair for the import parser");
	job->archive_fd = p->archive_fd;
	job->result_fd = sv[1];
	job->path = p->path;
	job->filter = &p->filter;
	job->cli = getpid();
	/* The parser's jansson must not seed itself (oci_json.h). */
	oci_json_seed();
	pid_t pid = fork();
	if (pid == 0)
		import_parser_main(job);
	int errnum = errno;
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return err_errno(e, ST_INTERNAL, errnum, "fork the import parser");
	}
	*sock = sv[0];
	return pid;
}

/* ---- records ----------------------------------------------------------------- */

/* How a job's stream of records ended. */
enum outcome {
	OUT_OK,	    /* the whole result, then the end of the stream */
	OUT_FAILED, /* an IMPORT_FAIL record: *e is the parser's error */
	OUT_EARLY,  /* the stream ended before the result */
	OUT_BROKEN, /* a malformed or unexpected record: *e says which */
};

static const size_t record_len[] = {
    [IMPORT_IMAGE] = sizeof(struct import_image),
    [IMPORT_LAYER] = sizeof(struct import_layer),
    [IMPORT_BLOB] = sizeof(struct import_blob),
    [IMPORT_FAIL] = sizeof(struct import_fail),
};

static int text_ok(const char *s, size_t cap)
{
	return memchr(s, 0, cap) != NULL;
}

static int broken(const char *path, const char *why, struct err *e)
{
	err_set(e, ST_INTERNAL, "the parser of image archive `%s` sent a malformed record (%s)", path, why);
	return OUT_BROKEN;
}

/* The next record: 1 with *r of a known type and exactly its length, or 0
 * when the stream of records is over, *outcome saying how: OUT_EARLY at its
 * end, OUT_FAILED after an IMPORT_FAIL record (its error in *e),
 * OUT_BROKEN. */
static int next_record(int sock, const char *path, union import_record *r, int *outcome, struct err *e)
{
	ssize_t n;
	memset(r, 0, sizeof *r);
	do /* MSG_TRUNC: the real length, even of a record too long for r */
		n = recv(sock, r, sizeof *r, MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		err_errno(e, ST_INTERNAL, errno, "receive from the parser of image archive `%s`", path);
		*outcome = OUT_BROKEN;
	} else if (n == 0) {
		*outcome = OUT_EARLY;
	} else if (r->type == 0 || r->type >= ARRAY_SIZE(record_len) || (size_t)n != record_len[r->type]) {
		*outcome = broken(path, "unknown type or wrong length", e);
	} else if (r->type != IMPORT_FAIL) {
		return 1;
	} else if (!text_ok(r->fail.msg, sizeof r->fail.msg)) {
		*outcome = broken(path, "unterminated error text", e);
	} else {
		int code =
		    r->fail.code > ST_OK && r->fail.code <= ST_UNAVAILABLE ? r->fail.code : ST_INTERNAL;
		err_set(e, code, "%s", r->fail.msg);
		*outcome = OUT_FAILED;
	}
	return 0;
}

/* The end of the stream must follow a complete result. */
static int expect_end(int sock, const char *path, struct err *e)
{
	union import_record r;
	int outcome;
	if (next_record(sock, path, &r, &outcome, e))
		return broken(path, "a record after the result", e);
	return outcome == OUT_EARLY ? OUT_OK : outcome;
}

/* ---- reaping ----------------------------------------------------------------- */

/* Reaps pid; 0 when it exited with status 0.  Otherwise -1, with *e saying
 * how it ended unless `explained` (its error is already in *e). */
static int reap(pid_t pid, const char *path, int explained, struct err *e)
{
	int st, sig;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return err_errno(e, ST_INTERNAL, errno, "wait for the parser of image archive `%s`",
					 path);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (explained)
		return -1;
	if (!WIFSIGNALED(st))
		return err_set(e, ST_INTERNAL, "the parser of image archive `%s` exited with status %d", path,
			       WEXITSTATUS(st));
	if ((sig = WTERMSIG(st)) == SIGSYS)
		return err_set(e, ST_INTERNAL,
			       "the parser of image archive `%s` was killed by SIGSYS: it made a system call "
			       "its seccomp policy (import.policy) forbids",
			       path);
	return err_set(e, ST_INTERNAL, "the parser of image archive `%s` was killed by signal %d (%s)", path,
		       sig, strsignal(sig));
}

/* Ends a job: a parser that broke the protocol is killed; then it is
 * reaped, and the outcome and its exit become one result. */
static int finish(pid_t pid, const char *path, int outcome, struct err *e)
{
	if (outcome == OUT_BROKEN)
		kill(pid, SIGKILL);
	int rc = reap(pid, path, outcome == OUT_FAILED || outcome == OUT_BROKEN, e);
	if (outcome == OUT_OK || rc < 0)
		return rc;
	if (outcome == OUT_EARLY)
		return err_set(e, ST_INTERNAL, "the parser of image archive `%s` ended without a result",
			       path);
	return -1;
}

/* ---- image jobs ---------------------------------------------------------------- */

static int image_record(const struct import_image *m, const char *path, struct oci_image *img, struct err *e)
{
	if (!text_ok(m->manifest_digest, sizeof m->manifest_digest) ||
	    !text_ok(m->config_digest, sizeof m->config_digest) || !text_ok(m->os, sizeof m->os) ||
	    !text_ok(m->arch, sizeof m->arch) || !text_ok(m->variant, sizeof m->variant))
		return broken(path, "unterminated text in the image", e);
	if (!digest_valid(m->manifest_digest) || !digest_valid(m->config_digest))
		return broken(path, "an invalid digest in the image", e);
	if (m->nlayers == 0 || m->nlayers > IMPORT_MAX_LAYERS)
		return broken(path, "no layers, or too many", e);
	img->manifest_digest = xstrdup(m->manifest_digest);
	img->config_digest = xstrdup(m->config_digest);
	snprintf(img->platform.os, sizeof img->platform.os, "%s", m->os);
	snprintf(img->platform.arch, sizeof img->platform.arch, "%s", m->arch);
	snprintf(img->platform.variant, sizeof img->platform.variant, "%s", m->variant);
	img->layers = xcalloc(m->nlayers, sizeof *img->layers);
	return OUT_OK;
}

static int layer_record(const struct import_layer *r, const char *path, struct oci_image *img, struct err *e)
{
	if (!text_ok(r->digest, sizeof r->digest) || !text_ok(r->diff_id, sizeof r->diff_id) ||
	    !text_ok(r->media_type, sizeof r->media_type))
		return broken(path, "unterminated text in a layer", e);
	if (r->index != img->nlayers || !digest_valid(r->digest) || !digest_valid(r->diff_id) ||
	    r->size < 0 || !layer_media_type_known(r->media_type))
		return broken(path, "a layer out of order, or with an invalid digest, size or media type", e);
	struct oci_layer *l = &img->layers[img->nlayers++];
	l->digest = xstrdup(r->digest);
	l->size = r->size;
	l->media_type = xstrdup(r->media_type);
	l->diff_id = xstrdup(r->diff_id);
	return OUT_OK;
}

/* IMPORT_IMAGE, then exactly as many IMPORT_LAYER as it announced. */
static int receive_image(int sock, const char *path, struct oci_image *img, struct err *e)
{
	union import_record r;
	uint32_t want = 0;
	int outcome;
	while (next_record(sock, path, &r, &outcome, e)) {
		if (r.type == IMPORT_IMAGE && !img->layers) {
			outcome = image_record(&r.image, path, img, e);
			want = r.image.nlayers;
		} else if (r.type == IMPORT_LAYER && img->layers) {
			outcome = layer_record(&r.layer, path, img, e);
		} else {
			outcome = broken(path, "a record out of place", e);
		}
		if (outcome != OUT_OK)
			return outcome;
		if (img->nlayers == want)
			return expect_end(sock, path, e);
	}
	return outcome;
}

int import_read_image(struct import_parser *p, const struct oci_platform *want, struct oci_image *img,
		      struct err *e)
{
	struct import_job job = {.kind = IMPORT_JOB_IMAGE, .blob_fd = -1, .want = want};
	int sock;
	memset(img, 0, sizeof *img);
	pid_t pid = spawn(p, &job, &sock, e);
	if (pid < 0)
		return -1;
	int outcome = receive_image(sock, p->path, img, e);
	close(sock);
	int rc = finish(pid, p->path, outcome, e);
	if (rc < 0)
		oci_image_free(img);
	return rc;
}

/* ---- blob jobs ----------------------------------------------------------------- */

int import_blob_start(struct import_parser *p, const struct oci_layer *l, int *rfd, struct import_blob_job *j,
		      struct err *e)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_errno(e, ST_INTERNAL, errno, "pipe for blob `%s`", l->digest);
	struct import_job job = {
	    .kind = IMPORT_JOB_BLOB, .blob_fd = fds[1], .digest = l->digest, .size = l->size};
	j->pid = spawn(p, &job, &j->sock, e);
	close(fds[1]); /* the parser holds the only write end: its exit is EOF */
	if (j->pid < 0) {
		close(fds[0]);
		return -1;
	}
	j->path = p->path;
	j->layer = l;
	*rfd = fds[0];
	return 0;
}

static int receive_blob(struct import_blob_job *j, int *archive_fault, struct err *e)
{
	union import_record r;
	int outcome;
	if (!next_record(j->sock, j->path, &r, &outcome, e)) {
		if (outcome == OUT_FAILED)
			*archive_fault = r.fail.archive_fault != 0;
		return outcome;
	}
	if (r.type != IMPORT_BLOB)
		return broken(j->path, "a record out of place", e);
	if (r.blob.bytes != j->layer->size)
		return broken(j->path, "a blob of another size", e);
	return expect_end(j->sock, j->path, e);
}

int import_blob_finish(struct import_blob_job *j, int *archive_fault, struct err *e)
{
	*archive_fault = 1;
	int outcome = receive_blob(j, archive_fault, e);
	close(steal_fd(&j->sock));
	return finish(j->pid, j->path, outcome, e);
}
