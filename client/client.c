/* The native socket's client side: one SOCK_SEQPACKET record per message,
 * fds with SCM_RIGHTS (see proto/native.h). */
#include "client.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/util.h"

/* Records approach the default socket buffer size; ask for room for two so
 * that a maximal record never fails with EMSGSIZE (best effort: capped by
 * net.core.wmem_max). */
#define CLIENT_SNDBUF (2 * (NATIVE_MAX_RECORD + 64))

int client_connect(struct client *c, const char *path, struct err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	c->fd = -1;
	c->next_id = 1;
	if (strlen(path) >= sizeof sa.sun_path)
		return err_set(e, ST_INVALID_ARGUMENT, "connect `%s`: path too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);

	cleanup_fd int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_errno(e, ST_UNAVAILABLE, errno, "socket for `%s`", path);
	int sz = CLIENT_SNDBUF;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	while (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		if (errno != EINTR) {
			int errnum = errno;
			err_errno(e, ST_UNAVAILABLE, errnum, "connect `%s`", path);
			errno = errnum; /* for callers that explain it */
			return -1;
		}
	}
	c->fd = steal_fd(&fd);
	return 0;
}

void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int send_record(int fd, const void *buf, size_t len, const int *fds, size_t nfds, struct err *e)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * NATIVE_MAX_FDS)];
	} ctl;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds > 0) {
		memset(&ctl, 0, sizeof ctl);
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	while (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR)
			return err_errno(e, ST_UNAVAILABLE, errno, "send to the native socket");
	}
	return 0;
}

int client_send(struct client *c, uint32_t method, const ProtobufCMessage *req, const int *fds, size_t nfds,
		uint32_t *id, struct err *e)
{
	if (nfds > NATIVE_MAX_FDS)
		return err_set(e, ST_INVALID_ARGUMENT, "request carries %zu fds (at most %d)", nfds,
			       NATIVE_MAX_FDS);
	size_t plen = req ? protobuf_c_message_get_packed_size(req) : 0;
	if (plen > NATIVE_MAX_RECORD)
		return err_set(e, ST_INVALID_ARGUMENT, "request of %zu bytes exceeds the native limit of %d",
			       plen, NATIVE_MAX_RECORD);
	struct native_req h = {
	    .magic = NATIVE_MAGIC, .method = method, .id = c->next_id++, .len = (uint32_t)plen};
	if (c->next_id == 0)
		c->next_id = 1;
	cleanup_free uint8_t *buf = xmalloc(sizeof h + plen);
	memcpy(buf, &h, sizeof h);
	if (req)
		protobuf_c_message_pack(req, buf + sizeof h);
	if (send_record(c->fd, buf, sizeof h + plen, fds, nfds, e) < 0)
		return -1;
	if (id)
		*id = h.id;
	return 0;
}

/* Moves the SCM_RIGHTS fds of mh into r; fds beyond NATIVE_MAX_FDS are closed. */
static void take_fds(struct msghdr *mh, struct client_record *r)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
			if (r->nfds < NATIVE_MAX_FDS)
				r->fds[r->nfds++] = fd;
			else
				close(fd);
		}
	}
}

int client_recv(struct client *c, struct client_record *r, struct err *e)
{
	struct native_resp h;
	size_t cap = sizeof h + NATIVE_MAX_RECORD;
	cleanup_free uint8_t *buf = xmalloc(cap);
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * NATIVE_MAX_FDS)];
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl};
	memset(r, 0, sizeof *r);
	for (size_t i = 0; i < NATIVE_MAX_FDS; i++)
		r->fds[i] = -1;

	ssize_t n;
	while ((n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC)) < 0) {
		if (errno != EINTR)
			return err_errno(e, ST_UNAVAILABLE, errno, "receive from the native socket");
	}
	take_fds(&mh, r);
	if (n == 0) {
		client_record_free(r);
		return err_set(e, ST_UNAVAILABLE, "native socket closed by the daemon");
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		client_record_free(r);
		return err_set(e, ST_UNAVAILABLE, "truncated record from the native socket");
	}
	if ((size_t)n < sizeof h) {
		client_record_free(r);
		return err_set(e, ST_UNAVAILABLE, "short record (%zd bytes) from the native socket", n);
	}
	memcpy(&h, buf, sizeof h);
	if (h.magic != NATIVE_MAGIC || h.len != (size_t)n - sizeof h ||
	    (h.kind != NATIVE_DATA && h.kind != NATIVE_STATUS)) {
		client_record_free(r);
		return err_set(e, ST_UNAVAILABLE, "malformed record from the native socket");
	}
	r->kind = h.kind;
	r->id = h.id;
	r->code = h.code;
	r->len = h.len;
	r->payload = xmalloc(h.len + 1);
	memcpy(r->payload, buf + sizeof h, h.len);
	r->payload[h.len] = 0;
	return 0;
}

void client_record_free(struct client_record *r)
{
	free(r->payload);
	r->payload = NULL;
	for (size_t i = 0; i < NATIVE_MAX_FDS; i++) {
		if (r->fds[i] >= 0)
			close(r->fds[i]);
		r->fds[i] = -1;
	}
	r->nfds = 0;
}

/* A status record ends the call: OK, or *e from its code and text. */
static int status_to_err(const struct client_record *r, struct err *e)
{
	if (r->code == ST_OK)
		return 0;
	/* The text is the daemon's: print it as data, never as a format. */
	return err_set(e, (int)r->code, "%s", (const char *)r->payload);
}

typedef int (*record_fn)(struct client_record *r, void *ctx, struct err *e);

/* Waits for call id's status record, handing its data records to fn. */
static int await_call(struct client *c, uint32_t id, record_fn fn, void *ctx, struct err *e)
{
	for (;;) {
		struct client_record r;
		if (client_recv(c, &r, e) < 0)
			return -1;
		int rc = 0, done = 0;
		if (r.id != id)
			; /* another call's record: not ours to handle */
		else if (r.kind == NATIVE_STATUS) {
			rc = status_to_err(&r, e);
			done = 1;
		} else
			rc = fn(&r, ctx, e);
		client_record_free(&r);
		if (rc < 0 || done)
			return rc;
	}
}

struct deliver_ctx {
	const ProtobufCMessageDescriptor *resp;
	client_data_fn fn;
	void *ctx;
};

static int deliver(struct client_record *r, void *ctx, struct err *e)
{
	struct deliver_ctx *d = ctx;
	if (!d->fn)
		return 0;
	ProtobufCMessage *msg = protobuf_c_message_unpack(d->resp, NULL, r->len, r->payload);
	if (!msg)
		return err_set(e, ST_INTERNAL, "cannot decode `%s` from the daemon", d->resp->name);
	int rc = d->fn(msg, r, d->ctx, e);
	protobuf_c_message_free_unpacked(msg, NULL);
	return rc;
}

int client_call(struct client *c, uint32_t method, const ProtobufCMessage *req, const int *fds, size_t nfds,
		const ProtobufCMessageDescriptor *resp, client_data_fn fn, void *ctx, struct err *e)
{
	uint32_t id;
	struct deliver_ctx d = {.resp = resp, .fn = fn, .ctx = ctx};
	if (client_send(c, method, req, fds, nfds, &id, e) < 0)
		return -1;
	return await_call(c, id, deliver, &d, e);
}

struct unary_ctx {
	const ProtobufCMessageDescriptor *resp;
	ProtobufCMessage *last;
};

static int keep_last(struct client_record *r, void *ctx, struct err *e)
{
	struct unary_ctx *u = ctx;
	ProtobufCMessage *msg = protobuf_c_message_unpack(u->resp, NULL, r->len, r->payload);
	if (!msg)
		return err_set(e, ST_INTERNAL, "cannot decode `%s` from the daemon", u->resp->name);
	if (u->last)
		protobuf_c_message_free_unpacked(u->last, NULL);
	u->last = msg;
	return 0;
}

int client_unary(struct client *c, uint32_t method, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *resp, ProtobufCMessage **out, struct err *e)
{
	uint32_t id;
	struct unary_ctx u = {.resp = resp};
	*out = NULL;
	if (client_send(c, method, req, NULL, 0, &id, e) < 0)
		return -1;
	if (await_call(c, id, keep_last, &u, e) < 0) {
		if (u.last)
			protobuf_c_message_free_unpacked(u.last, NULL);
		return -1;
	}
	*out = u.last;
	return 0;
}

struct collect_ctx {
	const ProtobufCMessageDescriptor *resp;
	ProtobufCMessage **v;
	size_t n, cap;
};

static int keep_all(struct client_record *r, void *ctx, struct err *e)
{
	struct collect_ctx *k = ctx;
	ProtobufCMessage *msg = protobuf_c_message_unpack(k->resp, NULL, r->len, r->payload);
	if (!msg)
		return err_set(e, ST_INTERNAL, "cannot decode `%s` from the daemon", k->resp->name);
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 8;
		k->v = xrealloc(k->v, k->cap * sizeof *k->v);
	}
	k->v[k->n++] = msg;
	return 0;
}

int client_collect(struct client *c, uint32_t method, const ProtobufCMessage *req,
		   const ProtobufCMessageDescriptor *resp, ProtobufCMessage ***msgs, size_t *n, struct err *e)
{
	uint32_t id;
	struct collect_ctx k = {.resp = resp};
	*msgs = NULL;
	*n = 0;
	if (client_send(c, method, req, NULL, 0, &id, e) < 0)
		return -1;
	if (await_call(c, id, keep_all, &k, e) < 0) {
		client_free_msgs(k.v, k.n);
		return -1;
	}
	*msgs = k.v;
	*n = k.n;
	return 0;
}

void client_free_msgs(ProtobufCMessage **msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		protobuf_c_message_free_unpacked(msgs[i], NULL);
	free(msgs);
}
