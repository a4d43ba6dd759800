/* The remove role: deletes everything inside a batch of snapshots/rm-ID
 * directories (at /0, /1, ... of its view) without following links:
 * unlinkat() never follows, and a directory is entered only with
 * O_NOFOLLOW|O_DIRECTORY relative to its parent's fd.  Nothing is chmod'ed:
 * CAP_DAC_OVERRIDE and CAP_FOWNER let the worker delete in unwritable and
 * sticky directories.  The spawner removes the then empty rm-ID directories
 * itself when the worker exits. */
#include "roles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/util.h"

struct level {
	DIR *dir;
	char *name;  /* name in the parent directory; NULL for the root */
	int removed; /* entries removed during the current pass */
};

static int push_dir(struct level **stack, size_t *depth, size_t *cap, int parent, const char *name,
		    struct err *e)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, 0, errno, "remove: open directory `%s`", name);
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return err_errno(e, 0, errno, "remove: read directory `%s`", name);
	}
	if (*depth == *cap)
		*stack = xrealloc(*stack, (*cap = *cap ? *cap * 2 : 64) * sizeof **stack);
	(*stack)[(*depth)++] = (struct level){d, parent == AT_FDCWD ? NULL : xstrdup(name), 0};
	return 0;
}

/* Removes one entry, or descends into it when it is a directory. */
static int remove_entry(struct level **stack, size_t *depth, size_t *cap, struct err *e)
{
	struct level *l = &(*stack)[*depth - 1];
	errno = 0;
	struct dirent *de = readdir(l->dir);
	if (!de)
		return errno ? err_errno(e, 0, errno, "remove: read directory `%s`", l->name ? l->name : "/")
			     : 1;
	if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
		return 0;
	if (unlinkat(dirfd(l->dir), de->d_name, 0) == 0 || errno == ENOENT) {
		l->removed++;
		return 0;
	}
	if (errno != EISDIR)
		return err_errno(e, 0, errno, "remove: unlink `%s`", de->d_name);
	return push_dir(stack, depth, cap, dirfd(l->dir), de->d_name, e);
}

/* A directory whose pass removed nothing is empty: entries deleted while
 * reading may hide others, so any removal means another pass. */
static int finish_dir(struct level *stack, size_t *depth, struct err *e)
{
	struct level *l = &stack[*depth - 1];
	if (l->removed) {
		l->removed = 0;
		rewinddir(l->dir);
		return 0;
	}
	closedir(l->dir);
	(*depth)--;
	if (!l->name)
		return 0;
	struct level *parent = &stack[*depth - 1];
	int rc = 0;
	if (unlinkat(dirfd(parent->dir), l->name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = err_errno(e, 0, errno, "remove: rmdir `%s`", l->name);
	parent->removed++;
	free(l->name);
	return rc;
}

int role_remove_tree(int top, struct err *e)
{
	struct level *stack = NULL;
	size_t depth = 0, cap = 0;
	int rc = push_dir(&stack, &depth, &cap, top, ".", e);
	if (rc == 0 && top != AT_FDCWD) {
		/* The root keeps its name NULL whatever fd it came from. */
		free(stack[0].name);
		stack[0].name = NULL;
	}
	while (rc == 0 && depth > 0) {
		rc = remove_entry(&stack, &depth, &cap, e);
		if (rc == 1)
			rc = finish_dir(stack, &depth, e);
	}
	while (depth > 0) {
		depth--;
		closedir(stack[depth].dir);
		free(stack[depth].name);
	}
	free(stack);
	return rc < 0 ? -1 : 0;
}

int role_remove_run(int job_fd, const struct ipc_spawn *req)
{
	struct err first = {0};
	int failed = 0;
	/* One tree that cannot be deleted does not keep the others. */
	for (uint32_t i = 0; i <= req->nlower; i++) {
		struct err e = {0};
		char at[16];
		snprintf(at, sizeof at, "%u", i);
		int fd = openat(AT_FDCWD, at, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int rc =
		    fd < 0 ? err_errno(&e, 0, errno, "remove: open `/%s`", at) : role_remove_tree(fd, &e);
		if (fd >= 0)
			close(fd);
		if (rc < 0 && !failed++)
			first = e;
	}
	if (failed)
		return role_send_fail(job_fd, &first);
	if (ipc_send(job_fd, IPC_JOB_DONE, NULL, 0, NULL, 0, &first) < 0)
		return 1;
	return 0;
}
