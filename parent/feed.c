#include "feed.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "../proto/roles.h"
#include "../common/log.h"
#include "../common/util.h"
#include "prepare.h"

#define FEED_PIPE_SIZE (1 << 20) /* as big as an unprivileged pipe may be */
#define FEED_IN	       3	 /* the feeder's fds */
#define FEED_OUT       4

/* Copies with the kernel's splice (no copy into the feeder), falling back to
 * read and write for files that cannot splice; waits out an empty
 * non-blocking input. */
static int feed_copy(void)
{
	static char buf[1 << 16];
	int use_splice = 1;
	for (;;) {
		ssize_t n = use_splice ? splice(FEED_IN, NULL, FEED_OUT, NULL, FEED_PIPE_SIZE, SPLICE_F_MOVE)
				       : read(FEED_IN, buf, sizeof buf);
		if (n == 0)
			return 0;
		if (n > 0 && !use_splice && write_all(FEED_OUT, buf, (size_t)n) < 0)
			return 1;
		if (n >= 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno == EINVAL && use_splice) {
			use_splice = 0;
			continue;
		}
		struct pollfd p = {FEED_IN, POLLIN, 0};
		if (errno != EAGAIN || poll(&p, 1, -1) < 0)
			return 1;
	}
}

_Noreturn static void feed_run(int in, int out, pid_t parent_pid)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	int a = fcntl(in, F_DUPFD, 16), b = fcntl(out, F_DUPFD, 16);
	if (a < 0 || b < 0 || dup2(a, FEED_IN) < 0 || dup2(b, FEED_OUT) < 0 ||
	    close_range(0, FEED_IN - 1, 0) < 0 || close_range(FEED_OUT + 1, ~0U, 0) < 0)
		_exit(1);
	log_off(); /* no stderr, and no call for it in the policy */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent_pid)
		_exit(1);
	struct err e;
	if (prepare_confine(ROLE_FEED, &e) < 0)
		_exit(1);
	_exit(feed_copy());
}

int feed_start(int fd, pid_t *pid, struct err *e)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return err_errno(e, ST_INTERNAL, errno, "feed the layer: pipe");
	fcntl(p[1], F_SETPIPE_SZ, FEED_PIPE_SIZE);
	pid_t me = getpid();
	*pid = fork();
	if (*pid == 0)
		feed_run(fd, p[1], me);
	int saved = errno;
	close(p[1]);
	if (*pid < 0) {
		close(p[0]);
		return err_errno(e, ST_INTERNAL, saved, "feed the layer: fork");
	}
	return p[0];
}

int feed_reopen(int fd, struct err *e)
{
	struct stat st, st2;
	struct statvfs sv;
	if (fd_access(fd, 0, e) < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return err_set(e, ST_INVALID_ARGUMENT, "reopen the layer: not a regular file");
	cleanup_fd int tree = open_tree(fd, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		return err_errno(e, ST_INTERNAL, errno, "reopen the layer: clone its mount");
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
					      MOUNT_ATTR_NOEXEC};
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
		return err_errno(e, ST_INTERNAL, errno, "reopen the layer: make the clone read-only");
	char path[40];
	snprintf(path, sizeof path, "/proc/self/fd/%d", tree);
	cleanup_fd int ro = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (ro < 0)
		return err_errno(e, ST_INTERNAL, errno, "reopen the layer: open the clone");
	/* Where the client's fd is, as a feeder would start. */
	off_t at = lseek(fd, 0, SEEK_CUR);
	if (at < 0 || lseek(ro, at, SEEK_SET) < 0)
		return err_errno(e, ST_INTERNAL, errno, "reopen the layer: seek to where the client was");
	/* What the worker gets must be that file, on that read-only mount. */
	if (fstat(ro, &st2) < 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino ||
	    fstatvfs(ro, &sv) < 0 || !(sv.f_flag & ST_RDONLY) || !(sv.f_flag & ST_NOSUID))
		return err_set(e, ST_INTERNAL, "reopen the layer: the clone is not the file, read-only");
	return steal_fd(&ro);
}
