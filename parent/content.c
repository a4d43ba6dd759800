#include "content.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/hex.h"
#include "../common/util.h"

/* containerd's files of an ingest, and the copy a publisher writes
 * (parent/publish.c). */
static const char *const ingest_files[] = {
    "data", "ref", "startedat", "updatedat", CONTENT_PUBLISH_COPY, CONTENT_STRATA_MARK};

/* root/sub (created 0700 or mode when missing, if create), as an O_PATH
 * directory fd. */
static int open_dir(const char *root, const char *sub, int create, mode_t mode, struct err *e)
{
	cleanup_fd int top = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		return err_errno(e, ST_INTERNAL, errno, "content: open `%s`", root);
	int dir = top;
	char part[64];
	for (const char *p = sub; *p;) {
		size_t n = strcspn(p, "/");
		snprintf(part, sizeof part, "%.*s", (int)n, p);
		if (create && mkdirat(dir, part, mode) < 0 && errno != EEXIST)
			return err_errno(e, ST_INTERNAL, errno, "content: create `%s/%s`", root, sub);
		int next = openat(dir, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dir != top)
			close(dir);
		if (next < 0)
			return err_errno(e, ST_INTERNAL, errno, "content: open `%s/%s`", root, sub);
		dir = next;
		p += n + (p[n] == '/');
	}
	return dir;
}

int content_open_blob(const char *root, const char *hex, uint64_t *size, struct err *e)
{
	cleanup_fd int dir = open_dir(root, "blobs/sha256", 0, 0, e);
	if (dir < 0)
		return -1;
	int fd = openat(dir, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_errno(e, errno == ENOENT ? ST_NOT_FOUND : ST_INTERNAL, errno,
				 "content: open blob `%s`", hex);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, ST_INVALID_ARGUMENT, "content: blob `%s` is not a regular file", hex);
	}
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	*size = (uint64_t)st.st_size;
	return fd;
}

/* A time as Go's time.Time.MarshalBinary writes it (version 1: seconds
 * since year 1, nanoseconds, offset -1 for UTC), the format of containerd's
 * startedat and updatedat files. */
static size_t go_time(unsigned char out[15])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t sec = (uint64_t)ts.tv_sec + 62135596800ull;
	uint32_t nsec = (uint32_t)ts.tv_nsec;
	out[0] = 1;
	for (int i = 0; i < 8; i++)
		out[1 + i] = (unsigned char)(sec >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[9 + i] = (unsigned char)(nsec >> (24 - 8 * i));
	out[13] = out[14] = 0xff;
	return 15;
}

static int write_small(int dir, const char *name, const void *buf, size_t len, struct err *e)
{
	cleanup_fd int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, buf, len) < 0)
		return err_errno(e, ST_INTERNAL, errno, "content: write ingest `%s`", name);
	return 0;
}

int content_ingest_open(const char *root, const char *name, const char *ref, struct err *e)
{
	cleanup_fd int ingest = open_dir(root, "ingest", 1, 0700, e);
	if (ingest < 0)
		return -1;
	if (mkdirat(ingest, name, 0700) < 0)
		return err_errno(
		    e, errno == EEXIST ? ST_UNAVAILABLE : ST_INTERNAL, errno,
		    errno == EEXIST ? "content: ref `%s` is locked" : "content: create ingest for `%s`", ref);
	cleanup_fd int dir = openat(ingest, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	unsigned char t[15];
	size_t tl = go_time(t);
	if (dir < 0 || write_small(dir, CONTENT_STRATA_MARK, "", 0, e) < 0 ||
	    write_small(dir, "ref", ref, strlen(ref), e) < 0 || write_small(dir, "startedat", t, tl, e) < 0 ||
	    write_small(dir, "updatedat", t, tl, e) < 0)
		goto fail;
	int fd = openat(dir, "data", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd >= 0)
		return fd;
	err_errno(e, ST_INTERNAL, errno, "content: create ingest data for `%s`", ref);
fail:
	content_ingest_abort(root, name, NULL);
	return -1;
}

int content_ingest_abort(const char *root, const char *name, struct err *e)
{
	struct err ignored;
	cleanup_fd int ingest = open_dir(root, "ingest", 0, 0, e ? e : &ignored);
	if (ingest < 0)
		return e ? -1 : 0;
	cleanup_fd int dir = openat(ingest, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(ingest_files); i++)
		unlinkat(dir, ingest_files[i], 0);
	if (unlinkat(ingest, name, AT_REMOVEDIR) < 0 && errno != ENOENT && e)
		return err_errno(e, ST_INTERNAL, errno, "content: remove ingest `%s`", name);
	return 0;
}

int content_ingests_sweep(const char *root, struct err *e)
{
	struct err ignored;
	cleanup_fd int ingest = open_dir(root, "ingest", 0, 0, &ignored);
	if (ingest < 0)
		return 0; /* no ingest directory: nothing left over */
	int fd = openat(ingest, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return err_errno(e, ST_INTERNAL, errno, "content: list `%s/ingest`", root);
	}
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (hex_sha256_valid(de->d_name) && content_ingest_is_strata(ingest, de->d_name) &&
		    content_ingest_abort(root, de->d_name, NULL) == 0)
			n++;
	closedir(d);
	return n;
}

int content_ingest_is_strata(int ingest_dir, const char *name)
{
	cleanup_fd int dir = openat(ingest_dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	return dir >= 0 && fstatat(dir, CONTENT_STRATA_MARK, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode) && st.st_uid == 0;
}

int content_ingests_add(struct content_ingests *t, const char *name)
{
	if (t->n == CONTENT_INGESTS_MAX || content_ingests_has(t, name))
		return -1;
	memcpy(t->names[t->n++], name, 65);
	return 0;
}

int content_ingests_has(const struct content_ingests *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!memcmp(t->names[i], name, 65))
			return 1;
	return 0;
}

int content_ingests_take(struct content_ingests *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!memcmp(t->names[i], name, 65)) {
			memcpy(t->names[i], t->names[--t->n], 65);
			return 1;
		}
	return 0;
}
