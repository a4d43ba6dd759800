/* libstrata-client: a program's connection to the strata daemon, over its
 * native socket (ADDRESS.fd), for what needs file descriptors: applying a
 * layer from an fd, writing a snapshot's layer to an fd, and snapshots as
 * mount fds (strata/mountfd.h).  Build with
 *   cc prog.c $(pkg-config --cflags --libs strata-client)
 *
 * Every call that can fail takes `struct strata_error *` last (NULL: not
 * wanted), returns -1 on failure and fills it: a gRPC status code (as
 * containerd's errdefs read it) and a message naming the operation and the
 * object.  A connection carries one call at a time: give each thread its
 * own, or lock around each call. */
#ifndef STRATA_PUBLIC_CLIENT_H
#define STRATA_PUBLIC_CLIENT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* gRPC status codes. */
enum strata_status {
	STRATA_OK = 0,
	STRATA_CANCELLED = 1,
	STRATA_UNKNOWN = 2,
	STRATA_INVALID_ARGUMENT = 3,
	STRATA_DEADLINE_EXCEEDED = 4,
	STRATA_NOT_FOUND = 5,
	STRATA_ALREADY_EXISTS = 6,
	STRATA_PERMISSION_DENIED = 7,
	STRATA_RESOURCE_EXHAUSTED = 8,
	STRATA_FAILED_PRECONDITION = 9,
	STRATA_ABORTED = 10,
	STRATA_OUT_OF_RANGE = 11,
	STRATA_UNIMPLEMENTED = 12,
	STRATA_INTERNAL = 13,
	STRATA_UNAVAILABLE = 14,
};

struct strata_error {
	int code;	   /* enum strata_status */
	char message[480]; /* NUL-terminated, one line */
};

/* The code's gRPC name ("NotFound"), "Unknown" for a code out of range. */
const char *strata_status_name(int code);
/* The library's version ("0.1.0"). */
const char *strata_client_version(void);

/* A connection (opaque). */
struct strata_client;

/* Connects to the daemon at address (stratad's --address, its gRPC socket:
 * the library dials ADDRESS.fd); NULL: $STRATA_ADDRESS, else
 * /run/strata/strata.sock.  The daemon knows the caller by the uid that
 * connects.  Failure (NULL): Unavailable, InvalidArgument. */
struct strata_client *strata_connect(const char *address, struct strata_error *e);
/* Closes the connection (NULL: nothing): the daemon's holds of mount fds
 * taken on it without attach_path end, and a call it was running stops. */
void strata_disconnect(struct strata_client *c);

/* What an apply read or a diff wrote.  Digests are "sha256:HEX". */
struct strata_layer {
	char media_type[128];	   /* diff: the layer's OCI media type; apply: "" */
	char digest[80];	   /* of the layer's bytes as read or written ("" when not computed) */
	int64_t size;		   /* the layer's bytes */
	char diff_id[80];	   /* of the uncompressed tar */
	int64_t uncompressed_size; /* its bytes */
	int64_t entries;	   /* its tar entries */
};

struct strata_apply_opts {
	/* Fail the apply unless the layer's bytes have this digest; NULL: none. */
	const char *expected_digest;
	/* Without expected_digest: skip hashing the layer's bytes (the result's
	 * digest is ""), which costs about as much as decompressing it. */
	int no_digest;
};

/* Applies the layer read from layer_fd (tar, gzip or zstd; a file, a pipe
 * or a socket) to active snapshot key; o may be NULL, out (may be NULL)
 * gets the result.  The daemon reads the fd; it stays the caller's: a
 * writer feeding a pipe sees EPIPE when the daemon gives up only once every
 * copy of its read end is closed, this one included.  A failed apply
 * leaves an empty snapshot empty (README: The CLI). */
int strata_apply_layer(struct strata_client *c, const char *key, int layer_fd,
		       const struct strata_apply_opts *o, struct strata_layer *out, struct strata_error *e);

struct strata_diff_opts {
	/* Compare with this committed snapshot; NULL: key's parent. */
	const char *parent;
	/* An OCI layer media type (...tar, ...tar+gzip, ...tar+zstd); NULL: tar+gzip. */
	const char *media_type;
	/* Clamp entry times to source_date_epoch (seconds since the epoch). */
	int has_source_date_epoch;
	int64_t source_date_epoch;
};

/* Writes the layer of snapshot key's changes to out_fd (a file, a pipe or a
 * socket; it stays the caller's); o may be NULL, out (may be NULL) gets
 * what was written.  On failure, what the fd got is no layer. */
int strata_diff_layer(struct strata_client *c, const char *key, int out_fd, const struct strata_diff_opts *o,
		      struct strata_layer *out, struct strata_error *e);

#ifdef __cplusplus
}
#endif

#endif
