#include "publish.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../proto/roles.h"
#include "../common/hex.h"
#include "../common/layer.h"
#include "../common/sha256.h"
#include "../common/util.h"
#include "content.h"
#include "../worker/roles.h"
#include "../worker/sandbox.h"
#include "prepare.h"

#define PUBLISH_BUF (1u << 20)

static int open_dir_at(int dir, const char *path, struct err *e)
{
	int fd = openat(dir, path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, errno == ENOENT ? ST_NOT_FOUND : ST_INTERNAL, errno, "publish: open `%s`",
				 path);
	return fd;
}

void publish_close(struct publish *p)
{
	int *fds[] = {&p->ingest, &p->blobs, &p->data, &p->copy};
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

/* blobs/sha256 under top, made as containerd's store makes it when missing. */
static int open_blobs(int top, struct err *e)
{
	mkdirat(top, "blobs", 0755);
	cleanup_fd int blobs = open_dir_at(top, "blobs", e);
	if (blobs < 0)
		return -1;
	mkdirat(blobs, "sha256", 0755);
	return open_dir_at(blobs, "sha256", e);
}

static int open_files(struct publish *p, const char *root, const char *name, struct err *e)
{
	cleanup_fd int top = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		return err_errno(e, ST_INTERNAL, errno, "publish: open `%s`", root);
	cleanup_fd int ingests = open_dir_at(top, "ingest", e);
	if (ingests < 0 || (p->ingest = open_dir_at(ingests, name, e)) < 0)
		return -1;
	/* Strata's own ingest, or nothing is read or made (content.h). */
	if (!content_ingest_is_strata(ingests, name))
		return err_set(e, ST_FAILED_PRECONDITION, "publish: ingest `%s` is not one strata created",
			       name);
	if ((p->blobs = open_blobs(top, e)) < 0)
		return -1;
	p->data = openat(p->ingest, "data", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (p->data < 0 || fstat(p->data, &st) < 0 || !S_ISREG(st.st_mode))
		return err_set(e, ST_FAILED_PRECONDITION, "publish: ingest `%s` has no regular data file",
			       name);
	p->copy = openat(p->ingest, CONTENT_PUBLISH_COPY,
			 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (p->copy < 0)
		return err_errno(e, ST_INTERNAL, errno, "publish: create the copy of ingest `%s`", name);
	return 0;
}

int publish_open(struct publish *p, const char *root, const char *name, const char *digest, uint64_t size,
		 struct err *e)
{
	*p = (struct publish){.ingest = -1, .blobs = -1, .data = -1, .copy = -1, .size = size};
	if (!hex_sha256_valid(name) || !hex_sha256_valid(digest))
		return err_set(e, ST_INVALID_ARGUMENT, "publish: a malformed ingest name or digest");
	memcpy(p->digest, digest, sizeof p->digest);
	if (open_files(p, root, name, e) < 0) {
		publish_close(p);
		return -1;
	}
	return 0;
}

/* Reads data to its end (or one byte past the size asked for), hashing it
 * and writing the same bytes into the copy. */
static int copy_and_hash(struct publish *p, unsigned char md[32], uint64_t *total, struct err *e)
{
	static unsigned char buf[PUBLISH_BUF];
	struct sha256_ctx c;
	sha256_init(&c);
	*total = 0;
	for (;;) {
		ssize_t n = read(p->data, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno(e, ST_INTERNAL, errno, "publish: read the ingest");
		if (n == 0)
			break;
		sha256_update(&c, buf, (size_t)n);
		*total += (uint64_t)n;
		if (write_all(p->copy, buf, (size_t)n) < 0)
			return err_errno(e, ST_INTERNAL, errno, "publish: write the copy");
		/* More than was asked for: a mismatch whatever follows. */
		if (*total > p->size)
			break;
	}
	sha256_final(&c, md);
	return 0;
}

int publish_finish(struct publish *p, unsigned char got[32], uint64_t *got_size, struct err *e)
{
	char digest[DIGEST_LEN + 1]; /* "sha256:HEX" */
	int rc = copy_and_hash(p, got, got_size, e);
	digest_format(digest, got);
	if (rc == 0 && (*got_size != p->size || strcmp(digest + 7, p->digest)))
		rc = err_set(e, ST_FAILED_PRECONDITION,
			     "publish: the ingest has %llu bytes of digest %s, not %llu bytes of sha256:%s",
			     (unsigned long long)*got_size, digest, (unsigned long long)p->size, p->digest);
	if (rc == 0 && fsync(p->copy) < 0)
		rc = err_errno(e, ST_INTERNAL, errno, "publish: sync the copy");
	if (rc == 0 && renameat2(p->ingest, CONTENT_PUBLISH_COPY, p->blobs, p->digest, RENAME_NOREPLACE) == 0)
		return 0;
	int exists = rc == 0 && errno == EEXIST;
	if (rc == 0 && !exists)
		rc = err_errno(e, ST_INTERNAL, errno, "publish: rename into blobs/sha256/%s", p->digest);
	unlinkat(p->ingest, CONTENT_PUBLISH_COPY, 0);
	return exists ? 1 : rc;
}

_Noreturn void publish_run(const char *root, int job_fd, const struct ipc_publish *req, pid_t parent_pid)
{
	sandbox_keep_only(job_fd, -1, WORKER_FD_REPORT, parent_pid);
	struct publish p;
	struct err e = {0};
	unsigned char got[32];
	uint64_t got_size = 0;
	if (publish_open(&p, root, req->name, req->digest, req->size, &e) < 0 ||
	    prepare_confine(ROLE_PUBLISH, &e) < 0 || publish_finish(&p, got, &got_size, &e) < 0)
		_exit(role_send_fail(WORKER_FD_JOB, &e));
	_exit(role_send_layer(WORKER_FD_JOB, got, got, got_size, got_size, 0));
}
