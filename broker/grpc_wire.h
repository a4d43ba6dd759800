/* gRPC's wire format over HTTP/2, without the HTTP/2: the 5-byte message
 * prefix, the request header checks and the grpc-message percent-encoding.
 * Pure functions, so the unit tests can reach every rule without a socket. */
#ifndef STRATA_GRPC_WIRE_H
#define STRATA_GRPC_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"

#define GRPC_PREFIX_LEN 5 /* 1 byte compressed flag, 4 bytes big-endian length */

/* Assembles the one request message of a unary or server-streaming call
 * from DATA frames of any size. */
struct grpc_reader {
	uint8_t prefix[GRPC_PREFIX_LEN];
	size_t prefix_have;
	uint32_t len; /* declared length, valid once the prefix is complete */
	uint8_t *buf;
	size_t have, cap;
	int complete; /* one whole message is in buf */
};

/* Feeds n bytes.  Fails with Unimplemented for a compressed message,
 * ResourceExhausted for a length above max (before buffering any of it) and
 * InvalidArgument for a bad flag byte or a second message. */
int grpc_reader_feed(struct grpc_reader *r, const uint8_t *data, size_t n, uint32_t max, struct err *e);
/* At the end of the request stream: the message, or InvalidArgument when it
 * is missing or truncated.  buf stays owned by the reader. */
int grpc_reader_finish(struct grpc_reader *r, const uint8_t **buf, size_t *len, struct err *e);
void grpc_reader_release(struct grpc_reader *r);

void grpc_prefix_encode(uint8_t out[GRPC_PREFIX_LEN], uint32_t len);

/* content-type application/grpc, application/grpc+proto, either with
 * optional ";parameters". */
int grpc_content_type_ok(const uint8_t *v, size_t len);

/* grpc-message as the gRPC spec wants it: bytes outside 0x20..0x7e and '%'
 * become %XX.  Returns a new string. */
char *grpc_percent_encode(const char *msg);

#endif
