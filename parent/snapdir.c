#include "snapdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"

#define NAME_MAX_LEN 32 /* "rm-" + 20 digits + "/work" */

static void id_name(char *buf, const char *prefix, uint64_t id, const char *suffix)
{
	snprintf(buf, NAME_MAX_LEN, "%s%llu%s", prefix, (unsigned long long)id, suffix);
}

int snapdir_open(const char *snapshots_dir, struct err *e)
{
	int fd = open(snapshots_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, 0, errno, "open `%s`", snapshots_dir);
	return fd;
}

/* Undoes a half-made new-ID: only the entries this code made, all empty. */
static void remove_new(int dfd, uint64_t id)
{
	char n[NAME_MAX_LEN];
	id_name(n, "new-", id, "/work");
	unlinkat(dfd, n, AT_REMOVEDIR);
	id_name(n, "new-", id, "/fs");
	unlinkat(dfd, n, AT_REMOVEDIR);
	id_name(n, "new-", id, "");
	unlinkat(dfd, n, AT_REMOVEDIR);
}

static int make_dir(int dfd, const char *name, mode_t mode, struct err *e)
{
	if (mkdirat(dfd, name, mode) < 0)
		return err_errno(e, 0, errno, "mkdir `snapshots/%s`", name);
	/* The mode must not depend on the umask the daemon was started with. */
	if (fchmodat(dfd, name, mode, 0) < 0)
		return err_errno(e, 0, errno, "chmod `snapshots/%s`", name);
	return 0;
}

/* containerd gives a new upper directory the owner of its parent's, so that
 * a container running as a non-root user keeps writing its root directory.
 * n names the new directory (new-ID/fs, or rm-ID for a reset). */
static int inherit_owner(int dfd, const char *n, uint64_t parent_id, struct err *e)
{
	char pn[NAME_MAX_LEN];
	struct stat st;
	id_name(pn, "", parent_id, "/fs");
	if (fstatat(dfd, pn, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_errno(e, 0, errno, "stat parent `snapshots/%s`", pn);
	if (!S_ISDIR(st.st_mode))
		return err_set(e, ST_FAILED_PRECONDITION, "parent `snapshots/%s` is not a directory", pn);
	if (fchownat(dfd, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return err_errno(e, 0, errno, "chown `snapshots/%s`", n);
	return 0;
}

int snapdir_create(int dfd, uint64_t id, uint64_t parent_id, int active, struct err *e)
{
	char nw[NAME_MAX_LEN], sub[NAME_MAX_LEN], live[NAME_MAX_LEN];
	if (id == 0)
		return err_set(e, ST_INVALID_ARGUMENT, "snapshot id 0");
	id_name(nw, "new-", id, "");
	id_name(live, "", id, "");
	if (make_dir(dfd, nw, 0700, e) < 0)
		return -1;
	int rc = 0;
	id_name(sub, "new-", id, "/fs");
	rc = make_dir(dfd, sub, 0755, e);
	if (rc == 0 && active) {
		id_name(sub, "new-", id, "/work");
		rc = make_dir(dfd, sub, 0711, e);
	}
	id_name(sub, "new-", id, "/fs");
	if (rc == 0 && parent_id)
		rc = inherit_owner(dfd, sub, parent_id, e);
	if (rc == 0 && renameat2(dfd, nw, dfd, live, RENAME_NOREPLACE) < 0)
		rc = err_errno(e, 0, errno, "rename `snapshots/%s` to `snapshots/%s`", nw, live);
	if (rc < 0)
		remove_new(dfd, id);
	return rc;
}

int snapdir_drop(int dfd, uint64_t id, int kind, struct err *e)
{
	char from[NAME_MAX_LEN], to[NAME_MAX_LEN];
	if (id == 0 || (kind != SNAPDIR_LIVE && kind != SNAPDIR_NEW))
		return err_set(e, ST_INVALID_ARGUMENT, "drop snapshot directory: bad id or kind");
	id_name(from, kind == SNAPDIR_NEW ? "new-" : "", id, "");
	id_name(to, "rm-", id, "");
	if (renameat2(dfd, from, dfd, to, RENAME_NOREPLACE) < 0)
		return err_errno(e, 0, errno, "rename `snapshots/%s` to `snapshots/%s`", from, to);
	return 0;
}

int snapdir_reset(int dfd, uint64_t id, uint64_t parent_id, struct err *e)
{
	char live[NAME_MAX_LEN], rm[NAME_MAX_LEN];
	struct stat st;
	if (id == 0 || parent_id == id)
		return err_set(e, ST_INVALID_ARGUMENT, "reset snapshot directory: bad id");
	id_name(live, "", id, "");
	id_name(rm, "rm-", id, "");
	/* ID itself is never followed, and its fs must be a directory: the
	 * exchange moves exactly that entry, whatever it holds. */
	cleanup_fd int top = openat(dfd, live, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top < 0)
		return err_errno(e, 0, errno == ELOOP ? ENOTDIR : errno, "open `snapshots/%s`", live);
	if (fstatat(top, "fs", &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_errno(e, 0, errno, "stat `snapshots/%s/fs`", live);
	if (!S_ISDIR(st.st_mode))
		return err_set(e, ST_FAILED_PRECONDITION, "`snapshots/%s/fs` is not a directory", live);
	if (make_dir(dfd, rm, 0755, e) < 0)
		return -1;
	int rc = parent_id ? inherit_owner(dfd, rm, parent_id, e) : 0;
	if (rc == 0 && renameat2(dfd, rm, top, "fs", RENAME_EXCHANGE) < 0)
		rc = err_errno(e, 0, errno, "exchange `snapshots/%s` and `snapshots/%s/fs`", rm, live);
	if (rc < 0)
		unlinkat(dfd, rm, AT_REMOVEDIR); /* the empty one made here */
	return rc;
}

int snapdir_fs_empty(int dfd, uint64_t id, struct err *e)
{
	char live[NAME_MAX_LEN];
	id_name(live, "", id, "");
	cleanup_fd int top = openat(dfd, live, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int fd = top < 0 ? -1 : openat(top, "fs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		return err_errno(e, 0, saved, "read `snapshots/%s/fs`", live);
	}
	/* Only whether a name other than . and .. is there: nothing of an
	 * entry is looked at. */
	struct dirent *de;
	int empty = 1;
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

/* Accepts exactly "N", "new-N", "rm-N" with N canonical decimal, non-zero. */
static int parse_entry(const char *name, struct snapdir *out)
{
	uint64_t id;
	int kind = SNAPDIR_LIVE;
	if (!strncmp(name, "new-", 4)) {
		kind = SNAPDIR_NEW;
		name += 4;
	} else if (!strncmp(name, "rm-", 3)) {
		kind = SNAPDIR_RM;
		name += 3;
	}
	if (parse_u64(name, &id) < 0 || id == 0)
		return -1;
	out->kind = kind;
	out->id = id;
	return 0;
}

int snapdir_list(int dfd, struct snapdir **out, size_t *n, struct err *e)
{
	*out = NULL;
	*n = 0;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return err_errno(e, 0, errno, "read `snapshots`");
	}
	size_t cap = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		struct snapdir s;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (parse_entry(de->d_name, &s) < 0)
			continue;
		if (*n == cap)
			*out = xrealloc(*out, (cap = cap ? cap * 2 : 64) * sizeof **out);
		(*out)[(*n)++] = s;
	}
	int saved = errno;
	closedir(d);
	if (saved) {
		free(*out);
		*out = NULL;
		*n = 0;
		return err_errno(e, 0, saved, "read `snapshots`");
	}
	return 0;
}

/* rmdir NAME under DFD; a missing entry counts as removed. */
static int rmdir_gone(int dfd, const char *name)
{
	return unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT;
}

int snapdir_remove_empty(int dfd, uint64_t id, struct err *e)
{
	char n[NAME_MAX_LEN];
	id_name(n, "rm-", id, "");
	/* Each level is opened without following links, so every rmdir is
	 * relative to a directory strata made: nothing resolves through a name
	 * a workload could have planted. */
	cleanup_fd int top = openat(dfd, n, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top < 0)
		return err_errno(e, 0, errno == ELOOP ? ENOTDIR : errno, "open `snapshots/%s`", n);
	if (!rmdir_gone(top, "fs"))
		return 0;
	cleanup_fd int work = openat(top, "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (work < 0 && errno != ENOENT)
		return 0;
	if (work >= 0 && (!rmdir_gone(work, "work") || !rmdir_gone(top, "work")))
		return 0;
	return rmdir_gone(dfd, n);
}

int snapdir_remove_rm(int dfd, uint64_t id, struct err *e)
{
	char n[NAME_MAX_LEN];
	id_name(n, "rm-", id, "");
	if (unlinkat(dfd, n, AT_REMOVEDIR) == 0)
		return 1;
	if (errno == ENOTEMPTY || errno == EEXIST)
		return 0;
	return err_errno(e, 0, errno, "rmdir `snapshots/%s`", n);
}

int snapdir_check_target(int dfd, const char *name, struct err *e)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_errno(e, 0, errno, "stat `snapshots/%s`", name);
	if (!S_ISDIR(st.st_mode))
		return err_set(e, ST_FAILED_PRECONDITION, "`snapshots/%s` is not a directory", name);
	return 0;
}
