/* gRPC server over HTTP/2 (nghttp2) on a listening unix stream socket.
 *
 * Every request becomes a struct call (call.h); the method is found by the
 * :path header.  Unknown paths get Unimplemented; messages larger than the
 * configured limit get ResourceExhausted; a client that breaks the protocol
 * loses its own connection and nobody else notices. */
#ifndef STRATA_GRPC_H
#define STRATA_GRPC_H

#include <stdint.h>
#include "../common/err.h"

struct grpc_limits {
	uint32_t max_message;	  /* bytes of one request message */
	uint32_t max_connections; /* connections open at once; more are accepted and closed */
	uint32_t max_streams;	  /* concurrent streams per connection (SETTINGS) */
};

int grpc_server_start(int listen_fd, const struct grpc_limits *l, struct err *e);
/* Closes every connection; calls in flight are detached. */
void grpc_server_stop(void);
unsigned grpc_connection_count(void);

#endif
