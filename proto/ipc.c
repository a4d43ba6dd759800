#include "ipc.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/util.h"

struct ipc_type_info {
	const char *name;
	size_t len;
	size_t nfds;
	enum ipc_channel ch; /* the one channel end it arrives at */
};

/* Every type: its body, its fds, and where it may arrive.  A type arrives at
 * one end only, so a peer cannot send a request back up a reply channel or a
 * worker's record on the spawner's. */
#define T(type, body, fds, ch) [type] = {#type, body, fds, ch}
static const struct ipc_type_info ipc_types[IPC_TYPE_MAX + 1] = {
    T(IPC_READY, 0, 0, IPC_CH_PARENT),
    T(IPC_SNAP_CREATE, sizeof(struct ipc_snap_create), 0, IPC_CH_PARENT),
    T(IPC_SNAP_DROP, sizeof(struct ipc_snap_drop), 0, IPC_CH_PARENT),
    T(IPC_SNAP_LIST, 0, 0, IPC_CH_PARENT),
    T(IPC_OPEN_BLOB, sizeof(struct ipc_open_blob), 0, IPC_CH_PARENT),
    T(IPC_INGEST_OPEN, sizeof(struct ipc_ingest), 0, IPC_CH_PARENT),
    T(IPC_INGEST_ABORT, sizeof(struct ipc_ingest), 0, IPC_CH_PARENT),
    T(IPC_SNAP_RESET, sizeof(struct ipc_snap_reset), 0, IPC_CH_PARENT),
    T(IPC_PING, 0, 0, IPC_CH_PARENT),

    T(IPC_SNAP_ENTRY, sizeof(struct ipc_snap_entry), 0, IPC_CH_PARENT_REPLY),
    T(IPC_REPLY, sizeof(struct ipc_reply), 0, IPC_CH_PARENT_REPLY),
    T(IPC_BLOB, sizeof(struct ipc_blob), 1, IPC_CH_PARENT_REPLY),

    T(IPC_SPAWN, sizeof(struct ipc_spawn), 0, IPC_CH_SPAWNER),
    T(IPC_SPAWN_INPUT, sizeof(struct ipc_spawn), 1, IPC_CH_SPAWNER),
    T(IPC_PUBLISH, sizeof(struct ipc_publish), 0, IPC_CH_SPAWNER),
    T(IPC_JOB_KILL, sizeof(struct ipc_job_kill), 0, IPC_CH_SPAWNER),
    T(IPC_SPAWNER_PING, 0, 0, IPC_CH_SPAWNER),

    T(IPC_SPAWNED, sizeof(struct ipc_spawned), 1, IPC_CH_SPAWNER_EVENT),
    T(IPC_SPAWN_FAILED, sizeof(struct ipc_spawn_failed), 0, IPC_CH_SPAWNER_EVENT),
    T(IPC_JOB_EXIT, sizeof(struct ipc_job_exit), 0, IPC_CH_SPAWNER_EVENT),
    T(IPC_REMOVED, sizeof(struct ipc_job_exit), 0, IPC_CH_SPAWNER_EVENT),
    T(IPC_PONG, 0, 0, IPC_CH_SPAWNER_EVENT),

    T(IPC_JOB_USAGE, sizeof(struct ipc_job_usage), 0, IPC_CH_JOB),
    T(IPC_JOB_DONE, 0, 0, IPC_CH_JOB),
    T(IPC_JOB_FAIL, sizeof(struct ipc_job_fail), 0, IPC_CH_JOB),
    T(IPC_JOB_PROBE, sizeof(struct ipc_job_probe), 0, IPC_CH_JOB),
    T(IPC_JOB_APPLIED, sizeof(struct ipc_job_applied), 0, IPC_CH_JOB),
    T(IPC_JOB_PROGRESS, sizeof(struct ipc_job_progress), 0, IPC_CH_JOB),
    T(IPC_JOB_MOUNT, 0, 1, IPC_CH_JOB),

    T(IPC_JOB_GO, 0, 0, IPC_CH_WORKER),
};
#undef T

static const struct ipc_type_info *type_info(uint32_t type)
{
	if (type == 0 || type > IPC_TYPE_MAX || !ipc_types[type].name)
		return NULL;
	return &ipc_types[type];
}

size_t ipc_type_len(uint32_t type)
{
	const struct ipc_type_info *t = type_info(type);
	return t ? t->len : (size_t)-1;
}

size_t ipc_type_fds(uint32_t type)
{
	const struct ipc_type_info *t = type_info(type);
	return t ? t->nfds : 0;
}

int ipc_type_on(uint32_t type, enum ipc_channel ch)
{
	const struct ipc_type_info *t = type_info(type);
	return t && t->ch == ch;
}

const char *ipc_type_name(uint32_t type)
{
	const struct ipc_type_info *t = type_info(type);
	return t ? t->name + 4 /* skip "IPC_" */ : "unknown";
}

int ipc_zeroed(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

void ipc_set_text(char dst[IPC_MSG_MAX], const char *src)
{
	memset(dst, 0, IPC_MSG_MAX);
	strncpy(dst, src, IPC_MSG_MAX - 1);
}

int ipc_send(int fd, uint32_t type, const void *body, size_t len, const int *fds, size_t nfds, struct err *e)
{
	const struct ipc_type_info *t = type_info(type);
	if (!t || t->len != len || t->nfds != nfds)
		return err_set(e, ST_INTERNAL, "ipc: send `%s`: wrong body length or fd count",
			       ipc_type_name(type));
	struct ipc_hdr h = {.type = type, .len = (uint32_t)len};
	struct iovec iov[2] = {{&h, sizeof h}, {(void *)body, len}};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
	} cm;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	if (nfds) {
		memset(&cm, 0, sizeof cm);
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ssize_t n;
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int saved = errno;
		err_errno(e, ST_UNAVAILABLE, saved, "ipc: send `%s`", ipc_type_name(type));
		errno = saved;
		return -1;
	}
	if ((size_t)n != sizeof h + len)
		return err_set(e, ST_UNAVAILABLE, "ipc: send `%s`: short write", ipc_type_name(type));
	return 0;
}

/* Takes every fd out of the control data, so that none leaks whatever the
 * verdict on the message is. */
static size_t take_fds(struct msghdr *mh, int *out, size_t max, int *surplus)
{
	size_t n = 0;
	*surplus = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
			if (n < max)
				out[n++] = f;
			else {
				close(f);
				*surplus = 1;
			}
		}
	}
	return n;
}

void ipc_msg_close(struct ipc_msg *m)
{
	for (size_t i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

int ipc_recv(int fd, enum ipc_channel ch, struct ipc_msg *m, struct err *e)
{
	struct {
		struct ipc_hdr h;
		union ipc_body b;
		char extra[1]; /* a longer record shows up as MSG_TRUNC or a long read */
	} rec;
	/* Room for more fds than any type carries, so that a surplus is seen
	 * (and closed) rather than silently truncated. */
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} cm;
	struct iovec iov = {&rec, sizeof rec};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
	memset(m, 0, sizeof *m);
	ssize_t n;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int saved = errno;
		err_errno(e, ST_UNAVAILABLE, saved, "ipc: receive");
		errno = saved;
		return -1;
	}
	int surplus;
	m->nfds = take_fds(&mh, m->fds, IPC_MAX_FDS, &surplus);
	if (n == 0 && m->nfds == 0)
		return 0;
	const struct ipc_type_info *t = NULL;
	const char *why = NULL;
	if (mh.msg_flags & MSG_CTRUNC)
		why = "control data truncated";
	else if (mh.msg_flags & MSG_TRUNC)
		why = "record too long";
	else if ((size_t)n < sizeof rec.h)
		why = "record shorter than its header";
	else if (!(t = type_info(rec.h.type)))
		why = "unknown type";
	else if (t->ch != ch)
		why = "not a type this end of the channel receives";
	else if (rec.h.len != t->len || (size_t)n != sizeof rec.h + t->len)
		why = "wrong length for its type";
	else if (surplus || m->nfds != t->nfds)
		why = "wrong number of fds for its type";
	if (why) {
		err_set(e, ST_INTERNAL, "ipc: receive `%s`: %s",
			n >= (ssize_t)sizeof rec.h ? ipc_type_name(rec.h.type) : "?", why);
		ipc_msg_close(m);
		errno = EPROTO;
		return -1;
	}
	m->type = rec.h.type;
	memcpy(&m->body, &rec.b, t->len);
	/* Text from a less trusted peer is used as a C string: terminate it. */
	if (m->type == IPC_REPLY)
		m->body.reply.msg[IPC_MSG_MAX - 1] = '\0';
	else if (m->type == IPC_JOB_FAIL)
		m->body.job_fail.msg[IPC_MSG_MAX - 1] = '\0';
	else if (m->type == IPC_SPAWN_FAILED)
		m->body.spawn_failed.msg[IPC_MSG_MAX - 1] = '\0';
	return 1;
}
