/* The native socket server (proto/native.h): one SOCK_SEQPACKET record per
 * request or response, fds with SCM_RIGHTS, the caller identified by
 * SO_PEERCRED.
 *
 * Every client is untrusted: a bad record earns an error status (or, when
 * it cannot be answered, a closed connection), never a broker exit.  Writes
 * never block: responses queue per connection and go out on EPOLLOUT; a
 * client that stops reading stops being read (backpressure), and one that
 * lets a reply queue grow past NATIVE_OUTQ_MAX is disconnected.
 *
 * Lifetimes: a connection may die inside any callback (a send error while a
 * handler replies), so conn_kill() only marks it, detaches its calls and
 * closes the fd; the memory goes after the current loop batch.  A call's
 * transport (struct ncall) lives from dispatch until finish or conn_kill. */
#include "native.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "call.h"
#include "connpool.h"
#include "loop.h"
#include "services.h"
#include "tenancy.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../proto/native.h"

#define NATIVE_OUTQ_MAX	    (16u << 20) /* bytes queued to one client before we give up on it */
#define NATIVE_OUTQ_HIGH    (1u << 20)	/* stop reading requests while this much is queued */
#define NATIVE_MAX_INFLIGHT 64		/* calls in flight per connection before we stop reading */
#define NATIVE_READ_BATCH   16		/* records per wake-up: one client cannot starve others */
#define NATIVE_ACCEPT_BATCH 16
#define NATIVE_SNDBUF	    (2 * (NATIVE_MAX_RECORD + 64))

struct outrec {
	struct outrec *next;
	size_t len;
	int fd;		      /* sent with the record (SCM_RIGHTS), closed once sent; -1: none */
	unsigned char data[]; /* struct native_resp + payload */
};

static void rec_free(struct outrec *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

/* One record; with its fd, if it has one. */
static ssize_t rec_send(int sock, const struct outrec *r)
{
	if (r->fd < 0)
		return send(sock, r->data, r->len, MSG_DONTWAIT | MSG_NOSIGNAL);
	struct iovec iov = {.iov_base = (void *)r->data, .iov_len = r->len};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
	struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &r->fd, sizeof(int));
	return sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

struct nconn;

/* The transport side of one call in flight. */
struct ncall {
	struct nconn *conn;
	struct call *call;
	uint32_t id;
	int ended; /* a status went out early (oversized reply): drop the rest */
	struct ncall *prev, *next;
};

struct nconn {
	struct conn_ref ref; /* in srv.pool */
	int fd;
	struct loop_src *src;
	uint32_t events; /* as registered with the loop */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	const struct tenant *tenant; /* NULL: no tenant's, every call but Version refused */
	struct outrec *head, **tail;
	size_t queued;
	struct ncall *calls;
	unsigned ncalls;
	int closing; /* read nothing more; close when calls and queue are done */
	int dead;    /* fd closed; memory freed after the batch */
	struct nconn *prev, *next;
};

static struct {
	int listen_fd;
	struct loop_src *src;
	struct conn_pool *pool;
	unsigned nconns;
	struct nconn *conns;
	int accept_paused; /* out of fds: resumed when a connection or call ends */
} srv = {.listen_fd = -1};

/* One receive buffer for all connections: records are handled to the end
 * (unpacked into a message) before the next recvmsg. */
static unsigned char rbuf[sizeof(struct native_req) + NATIVE_MAX_RECORD];

static void conn_flush(struct nconn *c);

static void accept_resume(void)
{
	if (srv.accept_paused && srv.src && loop_modify(srv.src, EPOLLIN) == 0)
		srv.accept_paused = 0;
}

static void conn_free(void *ctx)
{
	struct nconn *c = ctx;
	while (c->head) {
		struct outrec *r = c->head;
		c->head = r->next;
		rec_free(r);
	}
	free(c);
}

/* Ends the connection now: its calls go on without a transport (their
 * handlers still end them; nothing is sent). */
static void conn_kill(struct nconn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	while (c->calls) {
		struct ncall *nc = c->calls;
		c->calls = nc->next;
		call_detach(nc->call);
		free(nc);
	}
	c->ncalls = 0;
	conn_leave(&c->ref);
	mount_holds_owner_gone(c);
	loop_remove(c->src);
	close(c->fd);
	c->fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv.nconns--;
	accept_resume();
	loop_defer(conn_free, c);
}

/* Reads only while the client is within its limits; writes while a reply waits. */
static void conn_update(struct nconn *c)
{
	if (c->dead)
		return;
	if (c->closing && c->ncalls == 0 && !c->head) {
		conn_kill(c);
		return;
	}
	uint32_t ev = 0;
	if (!c->closing && c->ncalls < NATIVE_MAX_INFLIGHT && c->queued < NATIVE_OUTQ_HIGH)
		ev |= EPOLLIN;
	if (c->head)
		ev |= EPOLLOUT;
	if (ev != c->events && loop_modify(c->src, ev) == 0)
		c->events = ev;
}

static struct outrec *rec_new(uint32_t kind, uint32_t id, uint32_t code, size_t len)
{
	struct native_resp h = {
	    .magic = NATIVE_MAGIC, .kind = kind, .id = id, .code = code, .len = (uint32_t)len};
	struct outrec *r = xmalloc(sizeof *r + sizeof h + len);
	r->next = NULL;
	r->fd = -1;
	r->len = sizeof h + len;
	memcpy(r->data, &h, sizeof h);
	return r;
}

/* Queues r and tries to send at once.  May kill c. */
static void conn_enqueue(struct nconn *c, struct outrec *r)
{
	if (c->dead) {
		rec_free(r);
		return;
	}
	if (c->queued + r->len > NATIVE_OUTQ_MAX) {
		log_warn("native: client pid %d uid %u does not read its replies: disconnecting", (int)c->pid,
			 (unsigned)c->uid);
		rec_free(r);
		conn_kill(c);
		return;
	}
	*c->tail = r;
	c->tail = &r->next;
	c->queued += r->len;
	conn_flush(c);
}

static void conn_status(struct nconn *c, uint32_t id, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A status for a request that never became a call. */
static void conn_status(struct nconn *c, uint32_t id, int code, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : ((size_t)n >= sizeof msg ? sizeof msg - 1 : (size_t)n);
	struct outrec *r = rec_new(NATIVE_STATUS, id, (uint32_t)code, len);
	memcpy(r->data + sizeof(struct native_resp), msg, len);
	conn_enqueue(c, r);
}

static void conn_flush(struct nconn *c)
{
	while (!c->dead && c->head) {
		struct outrec *r = c->head;
		/* SOCK_SEQPACKET: a record goes out whole or not at all. */
		ssize_t n = rec_send(c->fd, r);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno != EPIPE && errno != ECONNRESET)
				log_warn("native: send to client pid %d: %m", (int)c->pid);
			conn_kill(c);
			return;
		}
		c->head = r->next;
		if (!c->head)
			c->tail = &c->head;
		c->queued -= r->len;
		rec_free(r);
	}
	if (!c->dead && c->queued < NATIVE_OUTQ_HIGH)
		for (struct ncall *nc = c->calls; nc; nc = nc->next)
			call_writable(nc->call);
	conn_update(c);
}

static void unlink_call(struct ncall *nc)
{
	struct nconn *c = nc->conn;
	if (nc->prev)
		nc->prev->next = nc->next;
	else
		c->calls = nc->next;
	if (nc->next)
		nc->next->prev = nc->prev;
	c->ncalls--;
}

/* call_ops.send: one response message as a NATIVE_DATA record. */
static void native_send(void *transport, const ProtobufCMessage *msg)
{
	struct ncall *nc = transport;
	if (nc->ended || !msg)
		return;
	size_t len = protobuf_c_message_get_packed_size(msg);
	if (len > NATIVE_MAX_RECORD) {
		/* The services batch their streams; a reply this big is a bug
		 * there, and the client gets a status instead of a cut record. */
		log_warn("native: %s of %zu bytes exceeds the record limit", msg->descriptor->name, len);
		nc->ended = 1;
		conn_status(nc->conn, nc->id, ST_RESOURCE_EXHAUSTED,
			    "reply `%s` of %zu bytes exceeds %d bytes", msg->descriptor->name, len,
			    NATIVE_MAX_RECORD);
		return; /* nc may be gone: conn_status can kill the connection */
	}
	struct outrec *r = rec_new(NATIVE_DATA, nc->id, 0, len);
	protobuf_c_message_pack(msg, r->data + sizeof(struct native_resp));
	r->fd = nc->call->reply_fd;
	nc->call->reply_fd = -1;
	conn_enqueue(nc->conn, r);
}

/* call_ops.finish: the NATIVE_STATUS record; the call is forgotten. */
static void native_finish(void *transport, int code, const char *msg)
{
	struct ncall *nc = transport;
	struct nconn *c = nc->conn;
	unlink_call(nc);
	conn_touch(&c->ref);
	if (!nc->ended) {
		size_t len = msg ? strnlen(msg, NATIVE_MAX_RECORD) : 0;
		struct outrec *r = rec_new(NATIVE_STATUS, nc->id, (uint32_t)code, len);
		memcpy(r->data + sizeof(struct native_resp), msg ? msg : "", len);
		conn_enqueue(c, r);
	} else {
		conn_update(c);
	}
	free(nc);
	accept_resume();
}

static int native_can_send(void *transport)
{
	struct ncall *nc = transport;
	return !nc->conn->dead && nc->conn->queued < NATIVE_OUTQ_HIGH;
}

static const struct call_ops native_ops = {
    .send = native_send, .finish = native_finish, .can_send = native_can_send};

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

const struct method_desc *native_request_decode(const struct native_req *h, const unsigned char *payload,
						size_t n, size_t nfds, int surplus, ProtobufCMessage **req,
						struct err *e)
{
	if (h->len != n) {
		err_set(e, ST_INVALID_ARGUMENT, "record length %u does not match its %zu payload bytes",
			h->len, n);
		return NULL;
	}
	const struct method_desc *m = method_by_id(h->method);
	if (!m) {
		err_set(e, ST_UNIMPLEMENTED, "unknown method %u", h->method);
		return NULL;
	}
	/* Exactly the fds the method takes: a stray fd is a confused client,
	 * and closing it at once keeps the broker's fd table ours. */
	if (surplus || nfds != (size_t)m->nfds) {
		err_set(e, ST_INVALID_ARGUMENT, "`%s` takes %d fds, got %s%zu", m->req->name, m->nfds,
			surplus ? "more than " : "", nfds);
		return NULL;
	}
	*req = method_unpack(m, payload, n, e);
	return *req ? m : NULL;
}

/* Turns one well-framed record (n payload bytes) into a call.  Owns fds. */
static void handle_request(struct nconn *c, const struct native_req *h, const unsigned char *payload,
			   size_t n, int *fds, size_t nfds, int surplus)
{
	ProtobufCMessage *req;
	struct err e = {0};
	const struct method_desc *m = native_request_decode(h, payload, n, nfds, surplus, &req, &e);
	if (!m) {
		close_fds(fds, nfds);
		conn_status(c, h->id, e.code, "%s", e.msg);
		return;
	}
	struct ncall *nc = xcalloc(1, sizeof *nc);
	nc->conn = c;
	nc->id = h->id;
	nc->next = c->calls;
	if (c->calls)
		c->calls->prev = nc;
	c->calls = nc;
	c->ncalls++;
	nc->call = call_new(m, req, &native_ops, nc);
	nc->call->peer_uid = c->uid;
	nc->call->peer_gid = c->gid;
	nc->call->peer_pid = c->pid;
	nc->call->tenant = c->tenant;
	nc->call->conn_tenant = &c->tenant;
	nc->call->owner = c;
	for (size_t i = 0; i < nfds; i++)
		nc->call->fds[i] = fds[i];
	/* May answer (and free nc) before it returns, or even kill c. */
	call_dispatch(nc->call);
}

/* Collects SCM_RIGHTS fds; beyond NATIVE_MAX_FDS they are closed and *surplus set. */
static size_t take_fds(struct msghdr *mh, int *fds, int *surplus)
{
	size_t n = 0;
	*surplus = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
			if (n < NATIVE_MAX_FDS) {
				fds[n++] = fd;
			} else {
				close(fd);
				*surplus = 1;
			}
		}
	}
	return n;
}

/* Reads and handles one record.  Returns 0 to go on, 1 when there is
 * nothing more to read now (or the connection stopped reading). */
static int conn_read_one(struct nconn *c)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * NATIVE_MAX_FDS)];
	} ctl;
	struct iovec iov = {.iov_base = rbuf, .iov_len = sizeof rbuf};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl};
	int fds[NATIVE_MAX_FDS], surplus;
	struct native_req h;

	ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			log_debug("native: receive from client pid %d: %m", (int)c->pid);
			conn_kill(c);
		}
		return 1;
	}
	size_t nfds = take_fds(&mh, fds, &surplus);
	if ((mh.msg_flags & MSG_CTRUNC) || n == 0 || (size_t)n < sizeof h) {
		/* More fds than a record may carry, end of input, or not even a
		 * header: nothing to answer to.  Pending calls still finish. */
		close_fds(fds, nfds);
		if (n != 0)
			log_debug("native: bad record from client pid %d: closing", (int)c->pid);
		c->closing = 1;
		conn_update(c);
		return 1;
	}
	memcpy(&h, rbuf, sizeof h);
	if (h.magic != NATIVE_MAGIC) {
		close_fds(fds, nfds);
		log_debug("native: client pid %d does not speak the protocol: closing", (int)c->pid);
		conn_kill(c);
		return 1;
	}
	if (mh.msg_flags & MSG_TRUNC) {
		close_fds(fds, nfds);
		conn_status(c, h.id, ST_RESOURCE_EXHAUSTED, "record exceeds %d bytes", NATIVE_MAX_RECORD);
		c->closing = 1;
		conn_update(c);
		return 1;
	}
	conn_touch(&c->ref);
	handle_request(c, &h, rbuf + sizeof h, (size_t)n - sizeof h, fds, nfds, surplus);
	return 0;
}

static void on_conn(void *ctx, uint32_t events)
{
	struct nconn *c = ctx;
	if (events & (EPOLLERR | EPOLLHUP)) {
		/* The peer is gone: nobody to answer. */
		conn_kill(c);
		return;
	}
	if (events & EPOLLOUT)
		conn_flush(c);
	for (int i = 0; i < NATIVE_READ_BATCH; i++) {
		if (c->dead || !(c->events & EPOLLIN) || conn_read_one(c))
			break;
	}
	conn_update(c);
}

/* Busy: a call in flight, a reply not yet sent, or a mount hold that ends
 * with the connection. */
static int conn_busy(struct conn_ref *r)
{
	struct nconn *c = (struct nconn *)r;
	return c->ncalls > 0 || c->head || mount_holds_of(c) > 0;
}

static void conn_pool_close(struct conn_ref *r, const char *why)
{
	struct nconn *c = (struct nconn *)r;
	log_debug("native: closing the connection of pid %d: %s", (int)c->pid, why);
	conn_kill(c);
}

static const struct conn_pool_ops native_pool_ops = {.busy = conn_busy, .close = conn_pool_close};

static void conn_new(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("native: SO_PEERCRED: %m");
		close(fd);
		return;
	}
	int sz = NATIVE_SNDBUF;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz); /* best effort: wmem_max caps it */

	struct nconn *c = xcalloc(1, sizeof *c);
	if (conn_admit(srv.pool, &c->ref, cred.uid, cred.pid) < 0) {
		close(fd);
		free(c);
		return;
	}
	c->fd = fd;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	c->tenant = tenancy_admit(cred.uid, cred.gid, NULL);
	c->tail = &c->head;
	c->events = EPOLLIN;
	c->src = loop_add(fd, c->events, on_conn, c);
	if (!c->src) {
		log_warn("native: watch connection: %m");
		conn_leave(&c->ref);
		close(fd);
		free(c);
		return;
	}
	c->next = srv.conns;
	if (srv.conns)
		srv.conns->prev = c;
	srv.conns = c;
	srv.nconns++;
	log_debug("native: connection from pid %d uid %u", (int)c->pid, (unsigned)c->uid);
}

static void on_accept(void *ctx, uint32_t events)
{
	for (int i = 0; i < NATIVE_ACCEPT_BATCH; i++) {
		int fd = accept4(srv.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* Level-triggered: pause, or we would spin on the same error. */
				log_warn("native: accept: %m; pausing until a connection or call ends");
				if (loop_modify(srv.src, 0) == 0)
					srv.accept_paused = 1;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				log_warn("native: accept: %m");
			}
			return;
		}
		conn_new(fd);
	}
}

int native_server_start(int listen_fd, const struct conn_limits *l, struct err *e)
{
	if (set_nonblock(listen_fd, 1) < 0)
		return err_errno(e, ST_INTERNAL, errno, "set the native socket non-blocking");
	srv.listen_fd = listen_fd;
	srv.pool = conn_pool_new("native", l, &native_pool_ops);
	if (!srv.pool)
		return err_set(e, ST_INTERNAL, "native: cannot set up the connection limits");
	srv.src = loop_add(listen_fd, EPOLLIN, on_accept, NULL);
	if (!srv.src)
		return err_errno(e, ST_INTERNAL, errno, "watch the native socket");
	return 0;
}

void native_server_stop(void)
{
	while (srv.conns)
		conn_kill(srv.conns);
	if (srv.src)
		loop_remove(srv.src);
	srv.src = NULL;
	if (srv.listen_fd >= 0)
		close(srv.listen_fd);
	srv.listen_fd = -1;
}
