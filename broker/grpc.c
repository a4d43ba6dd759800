/* gRPC server (grpc.h): nghttp2 sessions over non-blocking unix stream
 * connections, driven by the broker's loop.
 *
 * Bytes read are fed straight into nghttp2_session_mem_recv(); frames to
 * send come from nghttp2_session_mem_send() into a per-connection output
 * buffer that is written when the socket allows (EPOLLOUT only while it is
 * not empty).  Nothing here blocks, and nothing a client sends can make the
 * broker exit: protocol errors close that one connection, request errors
 * end that one stream with a gRPC status.
 *
 * A stream becomes a call when its request is complete (END_STREAM).  The
 * call's responses are queued on the stream and handed to nghttp2 by a data
 * provider that defers while the queue is empty, so a call may answer at
 * once or long after (when its worker job ends); a streaming call produces
 * its messages as nghttp2 takes them from the queue, which it does as the
 * client's flow-control window opens (call_when_writable).  Memory per connection is
 * bounded: request bytes held across its streams (conn_in_cap), response
 * bytes queued and not yet taken by nghttp2 (GRPC_OUT_CAP), and the output
 * buffer (read interest is dropped while it is above GRPC_OBUF_HIGH). */
#include "grpc.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "call.h"
#include "connpool.h"
#include "grpc_wire.h"
#include "loop.h"
#include "tenancy.h"
#include "proto/api.h"

#define GRPC_STREAM_WINDOW   (1u << 20)	  /* per-stream receive window (SETTINGS) */
#define GRPC_CONN_WINDOW     (16u << 20)  /* connection receive window */
#define GRPC_MAX_HEADER_LIST (16u << 10)  /* request header bytes per stream, as RFC 9113 counts them */
#define GRPC_OUT_CAP	     (64u << 20)  /* response bytes queued per connection */
#define GRPC_STREAM_LOW	     (256u << 10) /* a streaming call sends more while its queue is below */
#define GRPC_CONN_LOW	     (16u << 20)  /* ... and its connection's is below this */
#define GRPC_OBUF_HIGH	     (256u << 10) /* output buffered before we stop reading */
#define GRPC_READ_CHUNK	     (64u << 10)
#define GRPC_ACCEPT_BATCH    32

struct gconn;

struct gstream {
	int32_t id;
	struct gconn *conn;
	struct gstream *prev, *next;

	/* request */
	size_t header_bytes;
	char *path;
	char *act_as; /* TENANCY_GRPC_KEY: the tenant root acts as (the call takes it) */
	int is_post, ctype_ok;
	const struct method_desc *m;
	struct grpc_reader rd;
	size_t charged; /* bytes of rd counted in conn->in_buffered */
	int remote_closed;

	/* response */
	struct call *call; /* set while the call is in flight */
	int responded;	   /* response HEADERS submitted (or a Trailers-Only answer) */
	int rejected;	   /* answered before the request ended: ignore the rest */
	int finished;	   /* status known; trailers go after the queue drains */
	unsigned nsent;	   /* response messages queued */
	char code[12];
	char *message; /* percent-encoded */
	uint8_t *out;
	size_t out_off, out_len, out_cap;
};

struct gconn {
	struct conn_ref ref; /* in srv.pool */
	int fd;
	struct loop_src *src;
	uint32_t events;
	nghttp2_session *session;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	const struct tenant *tenant; /* NULL: no tenant's, every call refused */
	struct gstream *streams;
	size_t in_buffered;
	size_t out_queued;
	uint8_t *obuf;
	size_t ooff, olen, ocap;
	int closed, doomed, flush_pending;
	struct gconn *prev, *next;
};

static struct {
	int listen_fd;
	int spare_fd; /* given up to shed one connection when out of fds */
	struct loop_src *src;
	struct grpc_limits lim;
	grpc_method_lookup lookup;
	size_t conn_in_cap;
	struct conn_pool *pool;
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;
	struct gconn *conns;
	unsigned nconns;
} srv = {.listen_fd = -1, .spare_fd = -1};

static void conn_flush(struct gconn *c);

/* ---- connection lifetime ------------------------------------------------ */

static void conn_deferred_free(void *p)
{
	free(p);
	/* The last client went away: give the heap a burst of connections
	 * grew back to the system (glibc keeps freed memory otherwise). */
	if (srv.nconns == 0)
		malloc_trim(0);
}

static void conn_deferred_flush(void *p)
{
	struct gconn *c = p;
	c->flush_pending = 0;
	if (!c->closed)
		conn_flush(c);
}

/* Submissions made outside conn_flush() (a call answering later, or from
 * inside an nghttp2 callback) are sent after the current batch. */
static void conn_schedule_flush(struct gconn *c)
{
	if (c->flush_pending || c->closed)
		return;
	c->flush_pending = 1;
	loop_defer(conn_deferred_flush, c);
}

static void stream_free(struct gstream *st)
{
	struct gconn *c = st->conn;
	if (st->call)
		call_detach(st->call);
	c->in_buffered -= st->charged;
	conn_uncharge(&c->ref, st->charged);
	c->out_queued -= st->out_len - st->out_off;
	grpc_reader_release(&st->rd);
	free(st->path);
	free(st->act_as);
	free(st->message);
	free(st->out);
	if (st->prev)
		st->prev->next = st->next;
	else
		c->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	free(st);
}

/* Never called from inside an nghttp2 callback: the session is deleted
 * here.  The struct itself is freed after the batch, because a deferred
 * flush may still name it. */
static void conn_close(struct gconn *c)
{
	if (c->closed)
		return;
	c->closed = 1;
	conn_leave(&c->ref);
	loop_remove(c->src);
	close(c->fd);
	nghttp2_session_del(c->session);
	while (c->streams)
		stream_free(c->streams);
	free(c->obuf);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv.nconns--;
	loop_defer(conn_deferred_free, c);
}

/* For problems found where the session cannot be deleted (inside
 * callbacks, inside a handler's call_send): close at the next flush. */
static void conn_doom(struct gconn *c, const char *why)
{
	if (c->doomed)
		return;
	log_warn("grpc: closing connection of pid %d: %s", (int)c->pid, why);
	c->doomed = 1;
	conn_schedule_flush(c);
}

/* ---- responses ------------------------------------------------------------ */

#define NV(n, v)                                                                                             \
	{                                                                                                    \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE               \
	}

static void stream_append(struct gstream *st, size_t n)
{
	/* What nghttp2 took goes: a long stream reuses the room of the
	 * messages it sent (a List streams far more than it holds). */
	if (st->out_off > 0) {
		memmove(st->out, st->out + st->out_off, st->out_len - st->out_off);
		st->out_len -= st->out_off;
		st->out_off = 0;
	}
	if (st->out_len + n > st->out_cap) {
		size_t cap = st->out_cap ? st->out_cap : 4096;
		while (cap < st->out_len + n)
			cap *= 2;
		st->out = xrealloc(st->out, cap);
		st->out_cap = cap;
	}
}

/* Reads the stream's response queue for nghttp2.  Deferred while empty and
 * the call is still running; at the end, trailers carry the status. */
static ssize_t stream_read_data(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
				nghttp2_data_source *src, void *user)
{
	struct gstream *st = src->ptr;
	size_t avail = st->out_len - st->out_off;
	size_t k = avail < length ? avail : length;

	if (k > 0)
		memcpy(buf, st->out + st->out_off, k);
	st->out_off += k;
	st->conn->out_queued -= k;
	if (k > 0 && st->conn->out_queued < GRPC_CONN_LOW) {
		/* The client took some: streaming calls that wait may go on. */
		for (struct gstream *o = st->conn->streams; o; o = o->next)
			if (o->call && o->out_len - o->out_off < GRPC_STREAM_LOW)
				call_writable(o->call);
	}
	if (k == avail && st->finished) {
		nghttp2_nv trailers[] = {NV("grpc-status", st->code), NV("grpc-message", st->message)};
		*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		if (nghttp2_submit_trailer(s, id, trailers, st->message[0] ? 2 : 1) != 0)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		return (ssize_t)k;
	}
	return k > 0 ? (ssize_t)k : NGHTTP2_ERR_DEFERRED;
}

static void stream_submit_headers(struct gstream *st)
{
	nghttp2_nv hdrs[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
	nghttp2_data_provider prd = {.source.ptr = st, .read_callback = stream_read_data};
	st->responded = 1;
	if (nghttp2_submit_response(st->conn->session, st->id, hdrs, ARRAY_SIZE(hdrs), &prd) != 0)
		conn_doom(st->conn, "cannot submit response headers");
}

/* Ends the stream with a status: Trailers-Only when nothing was sent yet,
 * otherwise trailers after the queued messages. */
static void stream_finish_status(struct gstream *st, const char *http_status, int code, const char *msg)
{
	cleanup_free char *enc = grpc_percent_encode(msg);
	struct gconn *c = st->conn;

	snprintf(st->code, sizeof st->code, "%d", code);
	if (!st->responded) {
		nghttp2_nv hdrs[] = {NV(":status", http_status), NV("content-type", "application/grpc"),
				     NV("grpc-status", st->code), NV("grpc-message", enc)};
		st->responded = 1;
		if (nghttp2_submit_headers(c->session, NGHTTP2_FLAG_END_STREAM, st->id, NULL, hdrs,
					   enc[0] ? 4 : 3, NULL) != 0)
			conn_doom(c, "cannot submit response status");
	} else {
		st->finished = 1;
		st->message = steal_pointer(&enc);
		nghttp2_session_resume_data(c->session, st->id);
	}
	conn_schedule_flush(c);
}

/* Answers a stream whose request is refused before it reaches a handler.
 * If the client is still sending, on_frame_send resets the stream once the
 * answer is out, so it stops. */
static void stream_reject(struct gstream *st, const char *http_status, int code, const char *msg)
{
	st->rejected = 1;
	grpc_reader_release(&st->rd);
	st->conn->in_buffered -= st->charged;
	conn_uncharge(&st->conn->ref, st->charged);
	st->charged = 0;
	log_debug("grpc: stream %d of pid %d: %s: %s", st->id, (int)st->conn->pid, status_name(code), msg);
	stream_finish_status(st, http_status, code, msg);
}

/* call_ops.send: one length-prefixed message on the stream's queue. */
static void grpc_call_send(void *transport, const ProtobufCMessage *msg)
{
	struct gstream *st = transport;
	struct gconn *c = st->conn;
	size_t n = protobuf_c_message_get_packed_size(msg);

	if (c->doomed)
		return;
	if (n > UINT32_MAX || c->out_queued + n > GRPC_OUT_CAP) {
		conn_doom(c, "client does not read its responses");
		return;
	}
	stream_append(st, GRPC_PREFIX_LEN + n);
	grpc_prefix_encode(st->out + st->out_len, (uint32_t)n);
	protobuf_c_message_pack(msg, st->out + st->out_len + GRPC_PREFIX_LEN);
	st->out_len += GRPC_PREFIX_LEN + n;
	st->nsent++;
	c->out_queued += GRPC_PREFIX_LEN + n;
	if (!st->responded)
		stream_submit_headers(st);
	else
		nghttp2_session_resume_data(c->session, st->id);
	conn_schedule_flush(c);
}

/* call_ops.finish: the call is over and freed by call.c; forget it.
 * Handlers end unary calls whose response is google.protobuf.Empty with
 * call_reply(c, NULL), but a gRPC client expects exactly one message on
 * success: send the empty encoding, which decodes as Empty (or as any
 * message with every field at its default). */
static void grpc_call_finish(void *transport, int code, const char *msg)
{
	struct gstream *st = transport;
	static const ProtobufCMessage empty_msg =
	    PROTOBUF_C_MESSAGE_INIT(&google__protobuf__empty__descriptor);
	if (code == ST_OK && st->nsent == 0 && st->m && !st->m->streaming)
		grpc_call_send(st, &empty_msg);
	st->call = NULL;
	conn_touch(&st->conn->ref);
	stream_finish_status(st, "200", code, msg ? msg : "");
}

static int grpc_call_can_send(void *transport)
{
	struct gstream *st = transport;
	return !st->conn->doomed && st->out_len - st->out_off < GRPC_STREAM_LOW &&
	       st->conn->out_queued < GRPC_CONN_LOW;
}

static const struct call_ops grpc_call_ops = {
    .send = grpc_call_send, .finish = grpc_call_finish, .can_send = grpc_call_can_send};

/* ---- requests ------------------------------------------------------------ */

static struct gstream *stream_of(nghttp2_session *s, int32_t id)
{
	return nghttp2_session_get_stream_user_data(s, id);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	struct gconn *c = user;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct gstream *st = xcalloc(1, sizeof *st);
	st->id = f->hd.stream_id;
	st->conn = c;
	st->next = c->streams;
	if (c->streams)
		c->streams->prev = st;
	c->streams = st;
	nghttp2_session_set_stream_user_data(s, st->id, st);
	return 0;
}

static int header_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && !memcmp(name, want, len);
}

/* Header names arrive lowercased and validated by nghttp2.  Trailers from
 * the client and headers we do not use (grpc-timeout, te, user-agent...)
 * are ignored. */
static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t namelen,
		     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
	struct gstream *st = stream_of(s, f->hd.stream_id);
	if (!st || f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	st->header_bytes += namelen + valuelen + 32;
	if (st->header_bytes > GRPC_MAX_HEADER_LIST)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets this stream only */
	if (header_is(name, namelen, ":method"))
		st->is_post = valuelen == 4 && !memcmp(value, "POST", 4);
	else if (header_is(name, namelen, ":path") && !st->path)
		st->path = xstrdup((const char *)value); /* nghttp2 NUL-terminates */
	else if (header_is(name, namelen, "content-type"))
		st->ctype_ok = grpc_content_type_ok(value, valuelen);
	else if (header_is(name, namelen, TENANCY_GRPC_KEY) && !st->act_as) {
		st->act_as = xmalloc(valuelen + 1);
		memcpy(st->act_as, value, valuelen);
		st->act_as[valuelen] = '\0';
	}
	return 0;
}

static void stream_check_request(struct gstream *st)
{
	char msg[ERR_MSG_MAX];
	if (!st->is_post) {
		stream_reject(st, "405", ST_UNIMPLEMENTED, "gRPC requires method POST");
		return;
	}
	if (!st->ctype_ok) {
		stream_reject(st, "415", ST_UNKNOWN, "content-type is not application/grpc");
		return;
	}
	st->m = st->path ? srv.lookup(st->path) : NULL;
	if (!st->m) {
		snprintf(msg, sizeof msg, "unknown method %s", st->path ? st->path : "(none)");
		stream_reject(st, "200", ST_UNIMPLEMENTED, msg);
	}
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
			 void *user)
{
	struct gconn *c = user;
	struct gstream *st = stream_of(s, id);
	struct err e;

	if (!st || st->rejected || !st->m)
		return 0;
	if (c->in_buffered + len > srv.conn_in_cap) {
		snprintf(e.msg, sizeof e.msg, "connection holds more than %zu bytes of requests",
			 srv.conn_in_cap);
		stream_reject(st, "200", ST_RESOURCE_EXHAUSTED, e.msg);
		return 0;
	}
	if (conn_charge(&c->ref, len, &e) < 0) {
		stream_reject(st, "200", e.code, e.msg);
		return 0;
	}
	if (grpc_reader_feed(&st->rd, data, len, srv.lim.max_message, &e) < 0) {
		conn_uncharge(&c->ref, len);
		stream_reject(st, "200", e.code, e.msg);
		return 0;
	}
	st->charged += len;
	c->in_buffered += len;
	return 0;
}

/* The request is complete: decode it and hand it to the method. */
static void stream_end_request(struct gstream *st)
{
	struct gconn *c = st->conn;
	const uint8_t *buf;
	size_t len;
	struct err e;

	st->remote_closed = 1;
	if (st->rejected || !st->m)
		return;
	if (grpc_reader_finish(&st->rd, &buf, &len, &e) < 0) {
		stream_reject(st, "200", e.code, e.msg);
		return;
	}
	ProtobufCMessage *req = method_unpack(st->m, buf, len, &e);
	grpc_reader_release(&st->rd);
	c->in_buffered -= st->charged;
	conn_uncharge(&c->ref, st->charged);
	st->charged = 0;
	if (!req) {
		stream_reject(st, "200", e.code, e.msg);
		return;
	}
	st->call = call_new(st->m, req, &grpc_call_ops, st);
	st->call->peer_uid = c->uid;
	st->call->peer_gid = c->gid;
	st->call->peer_pid = c->pid;
	st->call->tenant = c->tenant;
	st->call->act_as = st->act_as;
	st->act_as = NULL;
	call_dispatch(st->call);
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	struct gstream *st = stream_of(s, f->hd.stream_id);
	if (!st || (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA))
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		stream_check_request(st);
	if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
		stream_end_request(st);
	return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	struct gstream *st = stream_of(s, f->hd.stream_id);
	if (st && st->rejected && !st->remote_closed && (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
	    (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA))
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
	return 0;
}

/* Reset by the client, or done: a call still in flight is detached and
 * ends unheard. */
static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *user)
{
	struct gstream *st = stream_of(s, id);
	if (st)
		stream_free(st);
	return 0;
}

static int on_error(nghttp2_session *s, int lib_error_code, const char *msg, size_t len, void *user)
{
	struct gconn *c = user;
	log_debug("grpc: pid %d: %.*s", (int)c->pid, (int)len, msg);
	return 0;
}

/* ---- socket I/O ------------------------------------------------------------ */

static void obuf_append(struct gconn *c, const uint8_t *data, size_t n)
{
	if (c->ooff > 0 && c->ooff == c->olen)
		c->ooff = c->olen = 0;
	if (c->olen + n > c->ocap) {
		size_t cap = c->ocap ? c->ocap : 16384;
		while (cap < c->olen + n)
			cap *= 2;
		c->obuf = xrealloc(c->obuf, cap);
		c->ocap = cap;
	}
	memcpy(c->obuf + c->olen, data, n);
	c->olen += n;
}

static void conn_update_events(struct gconn *c)
{
	uint32_t want = 0;
	if (nghttp2_session_want_read(c->session) && c->olen - c->ooff < GRPC_OBUF_HIGH)
		want |= EPOLLIN;
	if (c->ooff < c->olen)
		want |= EPOLLOUT;
	if (want != c->events && loop_modify(c->src, want) == 0)
		c->events = want;
}

/* Moves frames from nghttp2 to the socket until either runs dry. */
static void conn_flush(struct gconn *c)
{
	if (c->closed)
		return;
	if (c->doomed) {
		conn_close(c);
		return;
	}
	for (;;) {
		while (c->olen - c->ooff < GRPC_OBUF_HIGH) {
			const uint8_t *data;
			ssize_t n = nghttp2_session_mem_send(c->session, &data);
			if (n < 0) {
				log_info("grpc: pid %d: %s", (int)c->pid, nghttp2_strerror((int)n));
				conn_close(c);
				return;
			}
			if (n == 0)
				break;
			obuf_append(c, data, (size_t)n);
		}
		if (c->ooff == c->olen)
			break;
		ssize_t w = send(c->fd, c->obuf + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w < 0) {
			log_debug("grpc: pid %d: send: %m", (int)c->pid);
			conn_close(c);
			return;
		}
		c->ooff += (size_t)w;
	}
	/* GOAWAY exchanged and every stream done: nothing more to say. */
	if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session) &&
	    c->ooff == c->olen) {
		conn_close(c);
		return;
	}
	conn_update_events(c);
}

static void conn_read(struct gconn *c)
{
	static uint8_t buf[GRPC_READ_CHUNK];
	ssize_t n = read(c->fd, buf, sizeof buf);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		if (n < 0)
			log_debug("grpc: pid %d: read: %m", (int)c->pid);
		conn_close(c);
		return;
	}
	conn_touch(&c->ref);
	ssize_t r = nghttp2_session_mem_recv(c->session, buf, (size_t)n);
	if (r < 0) {
		/* Garbage, a broken preface, a flood: this connection only.  Try
		 * to get the GOAWAY nghttp2 queued out, then close. */
		log_info("grpc: closing connection of pid %d: %s", (int)c->pid, nghttp2_strerror((int)r));
		const uint8_t *data;
		ssize_t k = nghttp2_session_mem_send(c->session, &data);
		if (k > 0)
			(void)!send(c->fd, data, (size_t)k, MSG_NOSIGNAL | MSG_DONTWAIT);
		conn_close(c);
	}
}

static void conn_event(void *ctx, uint32_t events)
{
	struct gconn *c = ctx;
	if (events & EPOLLIN)
		conn_read(c);
	else if (events & (EPOLLHUP | EPOLLERR))
		conn_close(c);
	conn_flush(c); /* a no-op once closed */
}

/* ---- accepting ------------------------------------------------------------ */

/* Busy: a call in flight, or a response not yet out. */
static int conn_busy(struct conn_ref *r)
{
	struct gconn *c = (struct gconn *)r;
	if (c->ooff < c->olen || c->out_queued > 0)
		return 1;
	for (struct gstream *st = c->streams; st; st = st->next)
		if (st->call || (st->responded && !st->remote_closed) || st->out_off < st->out_len)
			return 1;
	return 0;
}

/* An idle connection closed by the pool: a GOAWAY first, so that grpc-go
 * (containerd) knows that the streams it may have just sent were not
 * processed and retries them on a new connection. */
static void conn_pool_close(struct conn_ref *r, const char *why)
{
	struct gconn *c = (struct gconn *)r;
	const uint8_t *data;
	log_debug("grpc: closing connection of pid %d: %s", (int)c->pid, why);
	if (nghttp2_session_terminate_session(c->session, NGHTTP2_NO_ERROR) == 0) {
		ssize_t k;
		while ((k = nghttp2_session_mem_send(c->session, &data)) > 0)
			if (send(c->fd, data, (size_t)k, MSG_NOSIGNAL | MSG_DONTWAIT) != k)
				break;
	}
	conn_close(c);
}

static const struct conn_pool_ops grpc_pool_ops = {.busy = conn_busy, .close = conn_pool_close};

/* 1: refused by the pool's limits (logged there). */
static int conn_open(int fd)
{
	struct gconn *c = xcalloc(1, sizeof *c);
	struct ucred cred;
	socklen_t len = sizeof cred;

	c->fd = fd;
	c->uid = (uid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		c->uid = cred.uid;
		c->gid = cred.gid;
		c->pid = cred.pid;
		c->tenant = tenancy_admit(cred.uid, cred.gid, NULL);
	}
	nghttp2_settings_entry settings[] = {
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, srv.lim.max_streams},
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, GRPC_STREAM_WINDOW},
	    {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, GRPC_MAX_HEADER_LIST},
	};
	if (conn_admit(srv.pool, &c->ref, c->uid, c->pid) < 0) {
		free(c);
		return 1;
	}
	if (nghttp2_session_server_new2(&c->session, srv.cbs, c, srv.opt) != 0) {
		conn_leave(&c->ref);
		free(c);
		return -1;
	}
	if (nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, ARRAY_SIZE(settings)) != 0 ||
	    nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, GRPC_CONN_WINDOW) != 0 ||
	    !(c->src = loop_add(fd, EPOLLIN, conn_event, c))) {
		conn_leave(&c->ref);
		nghttp2_session_del(c->session);
		free(c);
		return -1;
	}
	c->events = EPOLLIN;
	c->next = srv.conns;
	if (srv.conns)
		srv.conns->prev = c;
	srv.conns = c;
	srv.nconns++;
	conn_flush(c); /* our SETTINGS */
	return 0;
}

/* Out of fds: level-triggered epoll would report the pending connection
 * forever.  Give back the spare fd, accept and drop one, take it again. */
static void shed_connection(void)
{
	log_warn("grpc: out of file descriptors, dropping a connection");
	if (srv.spare_fd < 0)
		return;
	close(srv.spare_fd);
	int fd = accept4(srv.listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		close(fd);
	srv.spare_fd = fcntl(srv.listen_fd, F_DUPFD_CLOEXEC, 0);
}

static void server_accept(void *ctx, uint32_t events)
{
	for (int i = 0; i < GRPC_ACCEPT_BATCH; i++) {
		int fd = accept4(srv.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE)
				shed_connection();
			else if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("grpc: accept: %m");
			return;
		}
		int rc = conn_open(fd);
		if (rc < 0)
			log_warn("grpc: cannot set up a connection");
		if (rc != 0)
			close(fd);
	}
}

/* ---- server ------------------------------------------------------------ */

int grpc_server_start(int listen_fd, const struct grpc_limits *l, grpc_method_lookup lookup, struct err *e)
{
	nghttp2_session_callbacks *cbs;

	if (set_nonblock(listen_fd, 1) < 0)
		return err_errno(e, ST_INTERNAL, errno, "grpc: set `O_NONBLOCK` on the listening socket");
	if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&srv.opt) != 0)
		return err_set(e, ST_INTERNAL, "grpc: nghttp2 setup failed");
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	nghttp2_session_callbacks_set_error_callback2(cbs, on_error);
	srv.cbs = cbs;
	srv.lim = *l;
	srv.lookup = lookup;
	if (srv.lim.max_streams == 0)
		srv.lim.max_streams = 128;
	srv.conn_in_cap = 2 * (size_t)srv.lim.max_message;
	if (srv.conn_in_cap < (32u << 20))
		srv.conn_in_cap = 32u << 20;
	/* One user's half of the budget takes at least one whole message. */
	struct conn_limits cl = {srv.lim.max_connections, srv.lim.max_per_user, srv.lim.idle_timeout_ms,
				 srv.lim.request_bytes};
	if (cl.request_bytes && cl.request_bytes < 2 * (uint64_t)srv.lim.max_message)
		cl.request_bytes = 2 * (uint64_t)srv.lim.max_message;
	srv.pool = conn_pool_new("grpc", &cl, &grpc_pool_ops);
	if (!srv.pool)
		return err_set(e, ST_INTERNAL, "grpc: cannot set up the connection limits");
	srv.listen_fd = listen_fd;
	srv.spare_fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 0);
	srv.src = loop_add(listen_fd, EPOLLIN, server_accept, NULL);
	if (!srv.src)
		return err_errno(e, ST_INTERNAL, errno, "grpc: watch the listening socket");
	return 0;
}

void grpc_server_stop(void)
{
	if (srv.src) {
		loop_remove(srv.src);
		srv.src = NULL;
	}
	while (srv.conns)
		conn_close(srv.conns);
	if (srv.spare_fd >= 0) {
		close(srv.spare_fd);
		srv.spare_fd = -1;
	}
}

unsigned grpc_connection_count(void)
{
	return srv.nconns;
}
