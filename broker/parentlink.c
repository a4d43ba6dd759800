/* The broker's side of the ipc with the parent: control requests (the
 * snapshot directories, the content store); the jobs are in jobs.c. */
#include "parentlink.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../common/hex.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../proto/ipc.h"
#include "loop.h"

#define CTL_MAX_PENDING 4

/* A SNAP_CREATE or PING answered later: the parent answers requests in
 * order, so the replies pair with these first in, first out.  At most
 * CTL_MAX_PENDING are sent at a time (enough to keep the parent busy); the
 * rest wait here, unsent, so that the loop never waits for the parent. */
struct ctl_pending {
	plink_reply_fn fn;
	void *ctx;
	uint32_t type;		    /* IPC_SNAP_CREATE or IPC_PING */
	struct ipc_snap_create req; /* SNAP_CREATE's */
	int sent;
	struct ctl_pending *next;
};

static struct {
	int ctl;
	struct loop_src *ctl_src;
	struct ctl_pending *pending, **pending_tail; /* sent ones first */
	unsigned nsent, nwaiting;
} pl = {.ctl = -1};

/* ---- control requests ---------------------------------------------------- */

/* One record from the parent, waiting for it (the channel is non-blocking
 * for the event loop's sake). */
static int ctl_recv_wait(struct ipc_msg *m, struct err *e)
{
	for (;;) {
		int r = ipc_recv(pl.ctl, IPC_CH_PARENT_REPLY, m, e);
		if (r >= 0 || errno != EAGAIN)
			return r;
		struct pollfd p = {.fd = pl.ctl, .events = POLLIN};
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return err_errno(e, ST_INTERNAL, errno, "parent control channel: poll");
	}
}

static int reply_result(const struct ipc_msg *m, const char *what, struct err *e);

static int pending_send(const struct ctl_pending *p, struct err *e)
{
	return p->type == IPC_PING ? ipc_send(pl.ctl, IPC_PING, NULL, 0, NULL, 0, e)
				   : ipc_send(pl.ctl, IPC_SNAP_CREATE, &p->req, sizeof p->req, NULL, 0, e);
}

/* Sends waiting SNAP_CREATEs while fewer than CTL_MAX_PENDING are out; one
 * that cannot be sent fails (its callback runs). */
static void ctl_send_waiting(void)
{
	struct ctl_pending **pp = &pl.pending;
	while (*pp && (*pp)->sent)
		pp = &(*pp)->next;
	while (*pp && pl.nsent < CTL_MAX_PENDING) {
		struct ctl_pending *p = *pp;
		struct err e = {0};
		pl.nwaiting--;
		if (pending_send(p, &e) == 0) {
			p->sent = 1;
			pl.nsent++;
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		if (!*pp)
			pl.pending_tail = pp;
		p->fn(p->ctx, &e);
		free(p);
	}
}

/* The oldest request sent gets its reply m. */
static void ctl_dispatch(struct ipc_msg *m)
{
	struct ctl_pending *p = pl.pending;
	struct err e = {0};
	pl.pending = p->next;
	pl.nsent--;
	if (!pl.pending)
		pl.pending_tail = &pl.pending;
	int rc = reply_result(m, p->type == IPC_PING ? "ping the parent" : "create snapshot directory", &e);
	ipc_msg_close(m);
	ctl_send_waiting();
	p->fn(p->ctx, rc < 0 ? &e : NULL);
	free(p);
}

/* Replies to requests sent without waiting, as they arrive. */
static void on_ctl(void *ctx, uint32_t events)
{
	for (;;) {
		struct ipc_msg m;
		struct err e = {0};
		int r = ipc_recv(pl.ctl, IPC_CH_PARENT_REPLY, &m, &e);
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0)
			die("parent control channel: %s", r == 0 ? "closed by the parent" : e.msg);
		if (!pl.nsent) {
			log_warn("parent control channel: unexpected `%s`", ipc_type_name(m.type));
			ipc_msg_close(&m);
			continue;
		}
		ctl_dispatch(&m);
	}
}

/* Sends a request and receives one record back, of an expected type.  The
 * replies still owed to requests sent without waiting come first. */
static int ctl_call(uint32_t type, const void *body, size_t len, struct ipc_msg *m, struct err *e)
{
	if (pl.ctl < 0)
		return err_set(e, ST_UNAVAILABLE, "parent link is not initialised");
	while (pl.nsent) {
		int r = ctl_recv_wait(m, e);
		if (r <= 0)
			return r == 0 ? err_set(e, ST_UNAVAILABLE, "parent closed the control channel") : -1;
		ctl_dispatch(m);
	}
	if (ipc_send(pl.ctl, type, body, len, NULL, 0, e) < 0)
		return -1;
	int r = ctl_recv_wait(m, e);
	if (r == 0)
		return err_set(e, ST_UNAVAILABLE, "parent closed the control channel");
	return r < 0 ? -1 : 0;
}

/* A REPLY: 0, or the parent's error as an error object. */
static int reply_result(const struct ipc_msg *m, const char *what, struct err *e)
{
	if (m->type != IPC_REPLY) {
		err_set(e, ST_INTERNAL, "%s: unexpected `%s` from the parent", what, ipc_type_name(m->type));
		return -1;
	}
	if (m->body.reply.errnum == 0)
		return 0;
	if (m->body.reply.msg[0])
		return err_set(e, status_from_errno(m->body.reply.errnum), "%s", m->body.reply.msg);
	return err_errno(e, 0, m->body.reply.errnum, "%s", what);
}

static int ctl_simple(uint32_t type, const void *body, size_t len, const char *what, struct err *e)
{
	struct ipc_msg m;
	if (ctl_call(type, body, len, &m, e) < 0)
		return -1;
	int rc = reply_result(&m, what, e);
	ipc_msg_close(&m);
	return rc;
}

int plink_ready(struct err *e)
{
	return ctl_simple(IPC_READY, NULL, 0, "ready", e);
}

static int pending_add(struct ctl_pending *p, struct err *e)
{
	if (pl.ctl < 0) {
		free(p);
		return err_set(e, ST_UNAVAILABLE, "parent link is not initialised");
	}
	if (pl.nsent < CTL_MAX_PENDING && pl.nwaiting == 0) {
		/* Nothing waits before it: send now, and report a failure here. */
		if (pending_send(p, e) < 0) {
			free(p);
			return -1;
		}
		p->sent = 1;
		pl.nsent++;
	} else {
		pl.nwaiting++;
	}
	*pl.pending_tail = p;
	pl.pending_tail = &p->next;
	return 0;
}

int plink_snap_create(uint64_t id, uint64_t parent_id, int active, plink_reply_fn fn, void *ctx,
		      struct err *e)
{
	struct ctl_pending *p = xcalloc(1, sizeof *p);
	*p = (struct ctl_pending){.fn = fn,
				  .ctx = ctx,
				  .type = IPC_SNAP_CREATE,
				  .req = {.id = id, .parent_id = parent_id, .active = active ? 1 : 0}};
	return pending_add(p, e);
}

int plink_ping(plink_reply_fn fn, void *ctx, struct err *e)
{
	struct ctl_pending *p = xcalloc(1, sizeof *p);
	*p = (struct ctl_pending){.fn = fn, .ctx = ctx, .type = IPC_PING};
	return pending_add(p, e);
}

int plink_snap_drop(uint64_t id, int kind, struct err *e)
{
	struct ipc_snap_drop r = {.id = id, .kind = (uint32_t)kind};
	return ctl_simple(IPC_SNAP_DROP, &r, sizeof r, "drop snapshot directory", e);
}

int plink_snap_reset(uint64_t id, uint64_t parent_id, struct err *e)
{
	struct ipc_snap_reset r = {.id = id, .parent_id = parent_id};
	return ctl_simple(IPC_SNAP_RESET, &r, sizeof r, "empty snapshot directory", e);
}

/* The fd of a BLOB answer, or the REPLY's error. */
static int blob_fd(struct ipc_msg *m, const char *what, struct err *e)
{
	if (m->type != IPC_BLOB) {
		int rc = reply_result(m, what, e);
		ipc_msg_close(m);
		return rc < 0 ? -1 : err_set(e, ST_INTERNAL, "%s: the parent answered without a file", what);
	}
	return m->fds[0];
}

int plink_open_blob(const char *hex, uint64_t *size, struct err *e)
{
	struct ipc_open_blob r = {0};
	if (!hex_sha256_valid(hex))
		return err_set(e, ST_INVALID_ARGUMENT, "blob digest must have 64 lowercase hex digits");
	memcpy(r.hex, hex, SHA256_HEX_LEN);
	struct ipc_msg m;
	if (ctl_call(IPC_OPEN_BLOB, &r, sizeof r, &m, e) < 0)
		return -1;
	int fd = blob_fd(&m, "open blob", e);
	if (fd >= 0)
		*size = m.body.blob.size;
	return fd;
}

int plink_ingest_open(const char *name, const char *ref, struct err *e)
{
	struct ipc_ingest r = {0};
	if (!hex_sha256_valid(name) || strlen(ref) >= sizeof r.ref)
		return err_set(e, ST_INVALID_ARGUMENT, "ingest: bad name or a ref over %zu bytes",
			       sizeof r.ref - 1);
	memcpy(r.name, name, SHA256_HEX_LEN);
	memcpy(r.ref, ref, strlen(ref));
	struct ipc_msg m;
	if (ctl_call(IPC_INGEST_OPEN, &r, sizeof r, &m, e) < 0)
		return -1;
	return blob_fd(&m, "open ingest", e);
}

int plink_ingest_abort(const char *name, struct err *e)
{
	struct ipc_ingest r = {0};
	if (!hex_sha256_valid(name))
		return err_set(e, ST_INVALID_ARGUMENT, "ingest: bad name");
	memcpy(r.name, name, SHA256_HEX_LEN);
	return ctl_simple(IPC_INGEST_ABORT, &r, sizeof r, "abort ingest", e);
}

int plink_snap_list(struct snapdir **out, size_t *n, struct err *e)
{
	struct ipc_msg m;
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	if (ctl_call(IPC_SNAP_LIST, NULL, 0, &m, e) < 0)
		return -1;
	while (m.type == IPC_SNAP_ENTRY) {
		if (*n == cap)
			*out = xrealloc(*out, (cap = cap ? cap * 2 : 64) * sizeof **out);
		(*out)[(*n)++] = (struct snapdir){(int)m.body.snap_entry.kind, m.body.snap_entry.id};
		int r = ctl_recv_wait(&m, e);
		if (r <= 0) {
			if (r == 0)
				err_set(e, ST_UNAVAILABLE, "parent closed the control channel");
			goto fail;
		}
	}
	if (reply_result(&m, "list snapshot directories", e) == 0)
		return 0;
fail:
	ipc_msg_close(&m);
	free(*out);
	*out = NULL;
	*n = 0;
	return -1;
}

int plink_init(int ctl_fd, int evt_fd, struct err *e)
{
	pl.ctl = ctl_fd;
	pl.pending_tail = &pl.pending;
	if (set_nonblock(ctl_fd, 1) < 0)
		return err_errno(e, 0, errno, "parent control channel: set non-blocking");
	pl.ctl_src = loop_add(ctl_fd, EPOLLIN, on_ctl, NULL);
	if (!pl.ctl_src)
		return err_set(e, ST_INTERNAL, "parent control channel: cannot watch it");
	return jobs_init(evt_fd, e);
}
