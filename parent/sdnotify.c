/* systemd's socket activation and readiness notification, by hand: both
 * are a few lines of protocol (sd_listen_fds(3), sd_notify(3)). */
#include "parent.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"

#define SD_LISTEN_FDS_START 3

/* Whether fd is a unix socket bound to path. */
static int bound_to(int fd, const char *path)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof sa;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.sun_family != AF_UNIX ||
	    len <= offsetof(struct sockaddr_un, sun_path))
		return 0;
	size_t n = strnlen(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path));
	return n == strlen(path) && !memcmp(sa.sun_path, path, n);
}

int sd_listen_fds_take(const char *grpc_path, int *grpc_fd, int *native_fd, int *metrics_fd, struct err *e)
{
	uint64_t pid, n;
	const char *spid = getenv("LISTEN_PID"), *sn = getenv("LISTEN_FDS");
	*grpc_fd = *native_fd = *metrics_fd = -1;
	if (!spid || !sn || parse_u64(spid, &pid) < 0 || pid != (uint64_t)getpid())
		return 0;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (parse_u64(sn, &n) < 0 || n > 16)
		return err_set(e, ST_INVALID_ARGUMENT, "socket activation: bad LISTEN_FDS `%s`", sn);
	int taken = 0, other = -1;
	for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + (int)n; fd++) {
		int type = 0;
		socklen_t len = sizeof type;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
			return err_errno(e, 0, errno, "socket activation: fd %d is not a socket", fd);
		/* Streams: the one bound to `address` is gRPC, another one the
		 * metrics; a lone stream socket is gRPC wherever it is. */
		int *slot = type == SOCK_SEQPACKET		      ? native_fd
			    : type != SOCK_STREAM		      ? NULL
			    : bound_to(fd, grpc_path) && *grpc_fd < 0 ? grpc_fd
								      : &other;
		if (!slot || *slot >= 0)
			return err_set(e, ST_INVALID_ARGUMENT,
				       "socket activation: unexpected socket on fd %d (one stream socket at "
				       "`%s`, one SOCK_SEQPACKET, one more stream socket for the metrics)",
				       fd, grpc_path);
		set_cloexec(fd, 1);
		*slot = fd;
		taken++;
	}
	if (*grpc_fd < 0) {
		*grpc_fd = other;
		other = -1;
	}
	*metrics_fd = other;
	return taken;
}

int sd_notify_state(const char *state, struct err *e)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !path[0])
		return 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof sa.sun_path)
		return err_set(e, ST_INVALID_ARGUMENT, "NOTIFY_SOCKET `%s` is not usable", path);
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	cleanup_fd int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_errno(e, 0, errno, "notify systemd: socket");
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
		return err_errno(e, 0, errno, "notify systemd `%s`", path);
	return 0;
}
