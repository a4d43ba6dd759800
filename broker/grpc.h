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
	uint32_t max_connections; /* connections open at once; more are accepted and closed */
	uint32_t max_streams;	  /* concurrent streams per connection (SETTINGS) */
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
