/* The usage role: size and inode count of a snapshot's upper directory,
 * counted as containerd's fs.DiskUsage does (fs/du_unix.go): every distinct
 * (dev, ino) once, st_blocks * 512 bytes each, the root included.  Links
 * are never followed: the walk is fd-relative with O_NOFOLLOW and
 * AT_SYMLINK_NOFOLLOW, inside a read-only view. */
#include "roles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/util.h"

struct inode_set {
	struct ino_key {
		uint64_t dev, ino; /* ino 0 never occurs on Linux: marks a free slot */
	} * slots;
	size_t cap, n;
};

static size_t ino_hash(uint64_t dev, uint64_t ino, size_t cap)
{
	uint64_t h = (ino * 0x9e3779b97f4a7c15ull) ^ (dev + 0x632be59bd9b4e019ull);
	h ^= h >> 29;
	return (size_t)h & (cap - 1);
}

/* Returns 1 when the inode is new. */
static int inode_set_add(struct inode_set *s, uint64_t dev, uint64_t ino)
{
	if (ino == 0)
		ino = ~0ull;
	if ((s->n + 1) * 2 > s->cap) {
		struct inode_set bigger = {xcalloc(s->cap ? s->cap * 2 : 1024, sizeof(struct ino_key)),
					   s->cap ? s->cap * 2 : 1024, 0};
		for (size_t i = 0; i < s->cap; i++)
			if (s->slots[i].ino)
				inode_set_add(&bigger, s->slots[i].dev, s->slots[i].ino);
		free(s->slots);
		*s = bigger;
	}
	for (size_t i = ino_hash(dev, ino, s->cap);; i = (i + 1) & (s->cap - 1)) {
		if (!s->slots[i].ino) {
			s->slots[i] = (struct ino_key){dev, ino};
			s->n++;
			return 1;
		}
		if (s->slots[i].dev == dev && s->slots[i].ino == ino)
			return 0;
	}
}

struct usage {
	struct inode_set seen;
	int64_t size;
};

static void usage_add(struct usage *u, const struct stat *st)
{
	if (inode_set_add(&u->seen, (uint64_t)st->st_dev, (uint64_t)st->st_ino))
		u->size += (int64_t)st->st_blocks * 512;
}

/* One open directory per level of the walk. */
struct level {
	DIR *dir;
};

static int open_dir(int parent, const char *name, DIR **out, struct err *e)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, 0, errno, "usage: open directory `%s`", name);
	*out = fdopendir(fd);
	if (!*out) {
		close(fd);
		return err_errno(e, 0, errno, "usage: read directory `%s`", name);
	}
	return 0;
}

static int walk(int top, struct usage *u, struct err *e)
{
	struct level *stack = NULL;
	size_t depth = 0, cap = 0;
	int rc = 0;
	DIR *root;
	if (open_dir(top, ".", &root, e) < 0)
		return -1;
	stack = xrealloc(stack, (cap = 64) * sizeof *stack);
	stack[depth++].dir = root;
	while (depth > 0 && rc == 0) {
		DIR *d = stack[depth - 1].dir;
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno)
				rc = err_errno(e, 0, errno, "usage: read directory");
			closedir(d);
			depth--;
			continue;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = err_errno(e, 0, errno, "usage: stat `%s`", de->d_name);
			break;
		}
		usage_add(u, &st);
		if (!S_ISDIR(st.st_mode))
			continue;
		DIR *sub;
		if (open_dir(dirfd(d), de->d_name, &sub, e) < 0) {
			rc = -1;
			break;
		}
		if (depth == cap)
			stack = xrealloc(stack, (cap *= 2) * sizeof *stack);
		stack[depth++].dir = sub;
	}
	while (depth > 0)
		closedir(stack[--depth].dir);
	free(stack);
	return rc;
}

int role_usage_count(int top, int64_t *size, int64_t *inodes, struct err *e)
{
	struct usage u = {{NULL, 0, 0}, 0};
	struct stat st;
	if (fstatat(top, ".", &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_errno(e, 0, errno, "usage: stat the snapshot root");
	usage_add(&u, &st);
	int rc = walk(top, &u, e);
	*size = u.size;
	*inodes = (int64_t)u.seen.n;
	free(u.seen.slots);
	return rc;
}

int role_usage_run(int job_fd, const struct ipc_spawn *req)
{
	struct err e = {0};
	struct ipc_job_usage r = {0};
	if (role_usage_count(AT_FDCWD, &r.size, &r.inodes, &e) < 0)
		return role_send_fail(job_fd, &e);
	if (ipc_send(job_fd, IPC_JOB_USAGE, &r, sizeof r, NULL, 0, &e) < 0)
		return 1;
	return 0;
}
