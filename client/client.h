/* A small client of the native socket (proto/native.h): connect to
 * ADDRESS.fd, send request records (with fds), receive data records and the
 * final status.  Used by the strata CLI, by tests and by other tools.
 *
 * Several calls may be in flight on one connection: client_send() and
 * client_recv() work record by record; client_call() is the synchronous
 * convenience for one call at a time. */
#ifndef STRATA_CLIENT_H
#define STRATA_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "../common/err.h"
#include "../proto/native.h"

struct client {
	int fd;
	uint32_t next_id;
};

/* One record from the broker.  payload is NUL-terminated (len excludes it);
 * fds[] holds the fds that came with it (-1 when absent), owned by the
 * record until stolen (set the slot to -1). */
struct client_record {
	uint32_t kind; /* enum native_kind */
	uint32_t id;
	uint32_t code; /* NATIVE_STATUS only */
	uint8_t *payload;
	size_t len;
	int fds[NATIVE_MAX_FDS];
	size_t nfds;
};

/* Connects to the native socket at path.  Failure: Unavailable, errno
 * from connect(). */
int client_connect(struct client *c, const char *path, struct err *e);
void client_close(struct client *c);

/* Sends one request record; *id (when not NULL) gets the call id that the
 * broker echoes.  Requests over NATIVE_MAX_RECORD: InvalidArgument. */
int client_send(struct client *c, uint32_t method, const ProtobufCMessage *req, const int *fds, size_t nfds,
		uint32_t *id, struct err *e);
/* Receives the next record (blocking).  Connection closed, truncated or
 * malformed records: Unavailable. */
int client_recv(struct client *c, struct client_record *r, struct err *e);
void client_record_free(struct client_record *r);

/* Called for each data record of a call with the unpacked message; msg and
 * r are freed after it returns (steal r->fds[i] to keep an fd).  Return -1
 * (with *e set) to stop waiting for the call. */
typedef int (*client_data_fn)(const ProtobufCMessage *msg, struct client_record *r, void *ctx, struct err *e);

/* Sends req on method and waits for its status, passing each data record
 * (unpacked as resp) to fn (may be NULL: data is dropped).  A non-OK status
 * becomes *e with its code and text; returns -1.  Records of other calls on
 * the same connection are dropped. */
int client_call(struct client *c, uint32_t method, const ProtobufCMessage *req, const int *fds, size_t nfds,
		const ProtobufCMessageDescriptor *resp, client_data_fn fn, void *ctx, struct err *e);
/* Unary call: *out gets the last data message (NULL when the broker sent
 * none); free it with protobuf_c_message_free_unpacked(*out, NULL). */
int client_unary(struct client *c, uint32_t method, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *resp, ProtobufCMessage **out, struct err *e);

/* Streaming call: every data message, in order, in a new array *msgs (free
 * with client_free_msgs()). */
int client_collect(struct client *c, uint32_t method, const ProtobufCMessage *req,
		   const ProtobufCMessageDescriptor *resp, ProtobufCMessage ***msgs, size_t *n,
		   struct err *e);
void client_free_msgs(ProtobufCMessage **msgs, size_t n);

#endif
