#include "idmap.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/util.h"

static int ranges_valid(const struct ipc_id_range *r, uint32_t n)
{
	if (n == 0 || n > IPC_MAX_ID_RANGES)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		if (r[i].count == 0 || (uint64_t)r[i].inside + r[i].count > UINT32_MAX ||
		    (uint64_t)r[i].outside + r[i].count > UINT32_MAX)
			return 0;
	return 1;
}

int idmap_valid(const struct ipc_spawn *s)
{
	return ranges_valid(s->uid_map, s->nuid_map) && ranges_valid(s->gid_map, s->ngid_map);
}

static int write_map(pid_t pid, const char *which, const struct ipc_id_range *r, uint32_t n, struct err *e)
{
	char path[64], text[IPC_MAX_ID_RANGES * 36 + 1];
	size_t len = 0;
	for (uint32_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "%u %u %u\n", r[i].inside,
					r[i].outside, r[i].count);
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, which);
	cleanup_fd int fd = open(path, O_WRONLY | O_CLOEXEC);
	/* The map is written in one write(), as the kernel requires. */
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		return err_errno(e, errno == EINVAL || errno == EPERM ? ST_INVALID_ARGUMENT : ST_INTERNAL,
				 errno, "idmap: write %s", which);
	return 0;
}

int idmap_userns(const struct ipc_spawn *s, struct err *e)
{
	int ready[2], done[2];
	if (pipe2(ready, O_CLOEXEC) < 0)
		return err_errno(e, ST_INTERNAL, errno, "idmap: pipe");
	if (pipe2(done, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		return err_errno(e, ST_INTERNAL, errno, "idmap: pipe");
	}
	pid_t self = getpid(), pid = fork();
	if (pid == 0) {
		/* Holds the namespace until the spawner has its fd; never
		 * outlives the spawner. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != self)
			_exit(1);
		close(ready[0]);
		close(done[1]); /* so that the spawner's close is seen as end of file */
		char c = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
		if (write(ready[1], &c, 1) != 1 || c != 'y')
			_exit(1);
		(void)!read(done[0], &c, 1);
		_exit(0);
	}
	close(ready[1]);
	close(done[0]);
	char c = 'n';
	int fd = -1;
	if (pid < 0 || read(ready[0], &c, 1) != 1 || c != 'y')
		err_errno(e, ST_INTERNAL, pid < 0 ? errno : EPERM, "idmap: new user namespace");
	else if (write_map(pid, "uid_map", s->uid_map, s->nuid_map, e) == 0 &&
		 write_map(pid, "gid_map", s->gid_map, s->ngid_map, e) == 0) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			err_errno(e, ST_INTERNAL, errno, "idmap: open `%s`", path);
	}
	close(ready[0]);
	close(done[1]); /* the child's read returns: it exits */
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return fd;
}
