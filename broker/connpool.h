/* The connections of one front door (grpc.c, native.c) and what they may
 * hold: how many at once, how many per peer uid (SO_PEERCRED), how long one
 * with nothing in flight stays open, and how many request bytes all of them
 * may buffer.
 *
 * A connection that would pass a limit first makes room by closing the
 * connection of that uid (per-uid limit) or of anyone (door limit) that has
 * been idle longest, if one is idle: a client that floods a door with idle
 * connections only ever closes its own or other idle ones, and a working
 * client is served at once.  Only when every connection is busy is the new
 * one refused.  Every refusal and every close for idleness is counted and
 * logged (at most one line a second per door, with the totals so far). */
#ifndef STRATA_CONNPOOL_H
#define STRATA_CONNPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "../common/err.h"

struct conn_limits {
	uint32_t max_connections; /* at once; 0: no limit */
	uint32_t max_per_user;	  /* at once per peer uid; 0: no limit */
	uint32_t idle_timeout_ms; /* closes a connection idle this long; 0: never */
	uint64_t request_bytes;	  /* buffered request bytes, all connections; one uid half; 0: none */
};

struct conn_pool;
struct conn_user;

/* Embedded in each connection of a pool. */
struct conn_ref {
	struct conn_pool *pool;
	struct conn_user *user;
	uid_t uid;
	pid_t pid;
	uint64_t active_ms;	      /* last byte read, or last call ended */
	size_t charged;		      /* request bytes it buffers */
	struct conn_ref *prev, *next; /* the pool's list, least recently active first */
};

struct conn_pool_ops {
	/* Whether the connection has something in flight (a call, a reply
	 * not yet sent, a mount hold): such a connection is never idle. */
	int (*busy)(struct conn_ref *r);
	/* Closes it now (the pool has let go of it already). */
	void (*close)(struct conn_ref *r, const char *why);
};

struct conn_pool *conn_pool_new(const char *door, const struct conn_limits *l,
				const struct conn_pool_ops *ops);
/* Admits a new connection of uid, making room if need be; -1 when it is
 * refused (logged, counted): the caller closes its fd. */
int conn_admit(struct conn_pool *p, struct conn_ref *r, uid_t uid, pid_t pid);
/* The connection closed; what it had charged is given back. */
void conn_leave(struct conn_ref *r);
/* Something happened on it: its idle time starts again. */
void conn_touch(struct conn_ref *r);
/* n more request bytes buffered: ResourceExhausted (logged, counted) when
 * that passes the pool's budget or the uid's half of it. */
int conn_charge(struct conn_ref *r, size_t n, struct err *e);

/* What the pools counted, for the metrics: the first max pools made. */
#define CONN_POOLS_MAX 4
struct conn_pool_stats {
	const char *door;
	unsigned open;
	uint64_t refused_conns; /* max_connections, max_connections_per_user */
	uint64_t refused_bytes; /* requests refused at max_request_bytes */
	uint64_t evicted;	/* idle connections closed to make room */
	uint64_t timed_out;	/* idle connections closed at idle_timeout */
};
size_t conn_pool_stats(struct conn_pool_stats *out, size_t max);
void conn_uncharge(struct conn_ref *r, size_t n);

#endif
