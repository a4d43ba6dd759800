#include "feed.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
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
