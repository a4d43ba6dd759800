/* One record sent on a unix socket as any peer may send it: with nfds
 * copies of fd as SCM_RIGHTS (none when nfds is 0), whatever its bytes say.
 * The unit tests and fuzzers send with it what strata's own senders never
 * would: unknown types, lengths that lie, fds where none belong. */
#ifndef STRATA_TESTS_RAWSEND_H
#define STRATA_TESTS_RAWSEND_H

#include <string.h>
#include <sys/socket.h>

#define RAWSEND_MAX_FDS 4

/* sendmsg's result; nfds above RAWSEND_MAX_FDS is -1 and sends nothing. */
static inline ssize_t raw_send(int sock, const void *rec, size_t len, int fd, size_t nfds)
{
	struct iovec iov = {(void *)rec, len};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * RAWSEND_MAX_FDS)];
	} cm;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds > RAWSEND_MAX_FDS)
		return -1;
	if (nfds) {
		memset(&cm, 0, sizeof cm);
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		for (size_t i = 0; i < nfds; i++)
			memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL);
}

#endif
