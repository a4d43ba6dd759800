/* One RPC in flight, independent of the front door it came through.
 *
 * A transport (gRPC in grpc.c, the native socket in native.c) turns bytes into
 * a request message, creates a call and hands it to the method's handler.  The
 * handler answers at once or later (when a worker job ends) with call_reply()
 * or call_fail(); a streaming method sends any number of call_send() first.
 * call_reply()/call_fail() end the call and free it.  If the client goes away
 * first, the transport calls call_detach(): the handler still ends the call,
 * and nothing is sent. */
#ifndef STRATA_CALL_H
#define STRATA_CALL_H

#include <protobuf-c/protobuf-c.h>
#include <sys/types.h>
#include "../common/err.h"
#include "../proto/native.h"

struct call;

struct call_ops {
	/* Sends one response message on the call's stream. */
	void (*send)(void *transport, const ProtobufCMessage *msg);
	/* Ends the stream with a status; the transport forgets the call. */
	void (*finish)(void *transport, int code, const char *msg);
	/* Whether the client took the messages sent so far (into its window,
	 * its socket): until then a streaming handler sends no more, and the
	 * transport calls call_writable() once it did. */
	int (*can_send)(void *transport);
};

struct method_desc {
	uint32_t id;	       /* enum native_method: the native socket's method id */
	const char *grpc_path; /* "/containerd.services.snapshots.v1.Snapshots/Prepare"; NULL: native only */
	const ProtobufCMessageDescriptor *req;
	const ProtobufCMessageDescriptor *resp;
	int streaming; /* server-streaming (List) */
	int nfds;      /* fds the native request must carry (0: none accepted) */
	void (*handler)(struct call *c);
	const char *name; /* for the audit trail and the log */
	int changes;	  /* may change something: every call of it is audited */
};

struct call {
	const struct method_desc *m;
	ProtobufCMessage *req; /* unpacked request, freed with the call */
	const struct call_ops *ops;
	void *transport; /* NULL once the client went away */
	uid_t peer_uid;	 /* SO_PEERCRED of the connection */
	gid_t peer_gid;
	pid_t peer_pid;
	/* Whom the call acts for (broker/tenancy.h): the connection's tenant,
	 * NULL when its peer is no tenant's (the call is refused); act_as, a
	 * tenant root names for this call only (gRPC metadata), else NULL. */
	const struct tenant *tenant;
	char *act_as;
	/* native only: the connection's tenant, which NM_ACT_AS changes */
	const struct tenant **conn_tenant;
	char *audit_args;	 /* the request's keys as the client sent them (audit.h) */
	int fds[NATIVE_MAX_FDS]; /* native only: received fds, -1 when absent; closed with the call */
	void *state;		 /* handler's own state while the call waits */
	/* native only: an fd the next data record carries (NM_MOUNT's mount),
	 * owned by the call until sent; -1 when none */
	int reply_fd;
	void *owner; /* native only: the connection, for what it holds beyond the call (mount holds) */
	/* The job working for the call now, if any (job_spec.handle keeps it
	 * current): given up when the client goes away. */
	struct job *job;
	uint64_t started_ns;		     /* now_ns_monotonic() when the request was complete */
	void (*on_writable)(struct call *c); /* call_when_writable(), waiting */
	int writable_queued;		     /* on_writable is deferred to run */
};

const struct method_desc *method_by_grpc_path(const char *path);
const struct method_desc *method_by_id(uint32_t id);
/* The method table, for counters kept per method (broker/metrics.c);
 * method_index() of a method not in it is method_count(). */
size_t method_count(void);
size_t method_index(const struct method_desc *m);
const struct method_desc *method_at(size_t i);

/* The request of method m from its wire bytes: NULL with InvalidArgument
 * when it does not decode, or when a string in it is not valid UTF-8 or
 * holds a NUL (pbcheck.h), which the char * protobuf-c returns would hide. */
ProtobufCMessage *method_unpack(const struct method_desc *m, const uint8_t *buf, size_t len, struct err *e);

/* Takes ownership of req. */
struct call *call_new(const struct method_desc *m, ProtobufCMessage *req, const struct call_ops *ops,
		      void *transport);
/* Runs the method's handler. */
void call_dispatch(struct call *c);
void call_send(struct call *c, const ProtobufCMessage *msg);
/* Whether the client took what was sent so far (always, once it went away:
 * sends are dropped then). */
int call_can_send(struct call *c);
/* Flow control for streaming handlers, which produce their messages as the
 * client takes them, so that a reply of any size costs the broker only what
 * is in flight.  call_when_writable() runs fn(c) once (after the current
 * loop batch) when the transport takes more messages, at once if it does
 * now, or when the client went away (c->transport is NULL then, and the
 * handler ends the call).  Transports call call_writable() when it drained. */
void call_when_writable(struct call *c, void (*fn)(struct call *c));
void call_writable(struct call *c);
/* Ends the call with OK and an optional final message (unary response). */
void call_reply(struct call *c, const ProtobufCMessage *resp);
void call_fail(struct call *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void call_fail_err(struct call *c, const struct err *e);
/* The client went away: nothing more is sent, and the call's job (if any)
 * is given up (Cancelled), its worker killed; the handler still ends the
 * call, from the job's `done`. */
void call_detach(struct call *c);
/* Number of calls alive (for tests and shutdown). */
unsigned call_count(void);

#endif
