/* gRPC server over HTTP/2 (nghttp2) on a listening unix stream socket.
 *
 * Every request becomes a struct call (call.h); the method is found by the
 * :path header, through the lookup the server is started with.  Unknown paths get Unimplemented; messages
 * larger than the configured limit get ResourceExhausted; a client that breaks the protocol loses its own
 * connection and nobody else notices. */
#ifndef STRATA_GRPC_H
#define STRATA_GRPC_H

#include <stdint.h>
#include "../common/err.h"

struct grpc_limits {
	uint32_t max_message;	  /* bytes of one request message */
	uint32_t max_connections; /* connections open at once (connpool.h: past it, the idlest closes) */
	uint32_t max_streams;	  /* concurrent streams per connection (SETTINGS) */
	uint32_t max_per_user;	  /* connections of one peer uid at once; 0: no limit */
	uint32_t idle_timeout_ms; /* a connection with nothing in flight closes after it; 0: never */
	uint64_t request_bytes;	  /* request bytes buffered across connections; 0: no budget */
};

struct method_desc;
/* The method of a request's :path, NULL when there is none: the broker
 * passes method_by_grpc_path (call.h); a test, its own methods. */
typedef const struct method_desc *(*grpc_method_lookup)(const char *path);

int grpc_server_start(int listen_fd, const struct grpc_limits *l, grpc_method_lookup lookup, struct err *e);
/* Closes every connection; calls in flight are detached. */
void grpc_server_stop(void);
unsigned grpc_connection_count(void);

#endif
