/* Connection limits of one front door (connpool.h).
 *
 * The pool keeps its connections in one list, least recently active first:
 * the idle one to close first is the first that is not busy, and the
 * sweep for the idle timeout stops at the first connection that is not due.
 * A busy connection found on the way counts as active now (it has work in
 * flight), so each sweep looks at each connection at most once. */
#include "connpool.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "../common/log.h"
#include "../common/util.h"
#include "loop.h"

#define LOG_EVERY_MS 1000 /* a flood of refusals makes one line a second */

struct conn_user {
	uid_t uid;
	unsigned n;
	size_t charged;
	struct conn_user *next;
};

struct conn_pool {
	const char *door;
	struct conn_limits lim;
	const struct conn_pool_ops *ops;
	struct conn_ref *head, *tail;
	unsigned n;
	struct conn_user *users;
	size_t charged;
	struct loop_timer *timer;
	struct {
		uint64_t refused_conns, refused_bytes, evicted, timed_out;
	} st;
	uint64_t last_log_ms;
	uint64_t unlogged;
};

static uint64_t now_ms(void)
{
	return now_ns_monotonic() / 1000000u;
}

/* One line with the totals, unless one went out less than a second ago
 * (then it is counted, and the next line says how many were not logged). */
static void pool_log(struct conn_pool *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pool_log(struct conn_pool *p, const char *fmt, ...)
{
	uint64_t now = now_ms();
	if (p->last_log_ms && now - p->last_log_ms < LOG_EVERY_MS) {
		p->unlogged++;
		return;
	}
	char msg[256], more[64] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (p->unlogged)
		snprintf(more, sizeof more, "; %" PRIu64 " more not logged", p->unlogged);
	log_warn("%s: %s (so far: %" PRIu64 " connections refused, %" PRIu64 " requests refused for buffer "
		 "space, %" PRIu64 " idle connections closed to make room, %" PRIu64 " for idle_timeout%s)",
		 p->door, msg, p->st.refused_conns, p->st.refused_bytes, p->st.evicted, p->st.timed_out,
		 more);
	p->last_log_ms = now;
	p->unlogged = 0;
}

static void list_unlink(struct conn_pool *p, struct conn_ref *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		p->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		p->tail = r->prev;
	r->prev = r->next = NULL;
}

static void list_append(struct conn_pool *p, struct conn_ref *r)
{
	r->prev = p->tail;
	r->next = NULL;
	if (p->tail)
		p->tail->next = r;
	else
		p->head = r;
	p->tail = r;
}

static struct conn_user *user_of(struct conn_pool *p, uid_t uid, int create)
{
	for (struct conn_user *u = p->users; u; u = u->next)
		if (u->uid == uid)
			return u;
	if (!create)
		return NULL;
	struct conn_user *u = xcalloc(1, sizeof *u);
	u->uid = uid;
	u->next = p->users;
	p->users = u;
	return u;
}

static void user_put(struct conn_pool *p, struct conn_user *u)
{
	if (u->n > 0)
		return;
	for (struct conn_user **pp = &p->users; *pp; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			free(u);
			return;
		}
	}
}

void conn_leave(struct conn_ref *r)
{
	struct conn_pool *p = r->pool;
	if (!p)
		return;
	conn_uncharge(r, r->charged);
	list_unlink(p, r);
	p->n--;
	r->user->n--;
	user_put(p, r->user);
	r->user = NULL;
	r->pool = NULL;
}

void conn_touch(struct conn_ref *r)
{
	struct conn_pool *p = r->pool;
	if (!p)
		return;
	r->active_ms = now_ms();
	if (p->tail != r) {
		list_unlink(p, r);
		list_append(p, r);
	}
}

/* Lets go of an idle connection and has its door close it. */
static void pool_close(struct conn_pool *p, struct conn_ref *r, const char *why)
{
	pool_log(p, "closed an idle connection of uid %u (pid %d) %s", (unsigned)r->uid, (int)r->pid, why);
	conn_leave(r);
	p->ops->close(r, why);
}

/* Closes the connection idle longest (of uid, when for_uid), if any is. */
static int evict_idlest(struct conn_pool *p, int for_uid, uid_t uid)
{
	for (struct conn_ref *r = p->head; r; r = r->next) {
		if ((for_uid && r->uid != uid) || p->ops->busy(r))
			continue;
		p->st.evicted++;
		pool_close(p, r, "to make room for a new connection");
		return 0;
	}
	return -1;
}

static void pool_sweep(void *ctx)
{
	struct conn_pool *p = ctx;
	uint64_t now = now_ms(), timeout = p->lim.idle_timeout_ms;
	while (p->head && p->head->active_ms + timeout <= now) {
		struct conn_ref *r = p->head;
		if (p->ops->busy(r)) {
			conn_touch(r);
			continue;
		}
		p->st.timed_out++;
		pool_close(p, r, "idle for longer than idle_timeout");
	}
	if (p->head)
		loop_timer_arm(p->timer, (unsigned)(p->head->active_ms + timeout - now));
}

int conn_admit(struct conn_pool *p, struct conn_ref *r, uid_t uid, pid_t pid)
{
	struct conn_user *u = user_of(p, uid, 0);
	const char *limit = NULL;
	if (p->lim.max_per_user && u && u->n >= p->lim.max_per_user && evict_idlest(p, 1, uid) < 0)
		limit = "max_connections_per_user";
	else if (p->lim.max_connections && p->n >= p->lim.max_connections && evict_idlest(p, 0, uid) < 0)
		limit = "max_connections";
	if (limit) {
		p->st.refused_conns++;
		pool_log(p, "refused a connection of uid %u (pid %d): %s reached, every connection busy",
			 (unsigned)uid, (int)pid, limit);
		return -1;
	}
	u = user_of(p, uid, 1); /* an eviction may have freed the entry */
	r->pool = p;
	r->user = u;
	r->uid = uid;
	r->pid = pid;
	r->charged = 0;
	r->active_ms = now_ms();
	list_append(p, r);
	p->n++;
	u->n++;
	if (p->timer)
		loop_timer_arm(p->timer, p->lim.idle_timeout_ms);
	return 0;
}

int conn_charge(struct conn_ref *r, size_t n, struct err *e)
{
	struct conn_pool *p = r->pool;
	uint64_t budget = p ? p->lim.request_bytes : 0;
	if (!budget)
		return 0;
	const char *what = NULL;
	if (p->charged + n > budget)
		what = "all connections would buffer more than max_request_bytes";
	else if (r->user->charged + n > budget / 2)
		what = "one user would buffer more than half of max_request_bytes";
	if (what) {
		p->st.refused_bytes++;
		pool_log(p, "refused a request of uid %u (pid %d): %s", (unsigned)r->uid, (int)r->pid, what);
		return err_set(e, ST_RESOURCE_EXHAUSTED, "requests being received: %s (%" PRIu64 " bytes)",
			       what, budget);
	}
	p->charged += n;
	r->user->charged += n;
	r->charged += n;
	return 0;
}

void conn_uncharge(struct conn_ref *r, size_t n)
{
	struct conn_pool *p = r->pool;
	if (!p || !p->lim.request_bytes)
		return;
	p->charged -= n;
	r->user->charged -= n;
	r->charged -= n;
}

/* Every pool made, for the metrics (one per front door). */
static struct conn_pool *pools[CONN_POOLS_MAX];
static size_t npools;

size_t conn_pool_stats(struct conn_pool_stats *out, size_t max)
{
	size_t n = 0;
	for (; n < npools && n < max; n++)
		out[n] = (struct conn_pool_stats){.door = pools[n]->door,
						  .open = pools[n]->n,
						  .refused_conns = pools[n]->st.refused_conns,
						  .refused_bytes = pools[n]->st.refused_bytes,
						  .evicted = pools[n]->st.evicted,
						  .timed_out = pools[n]->st.timed_out};
	return n;
}

struct conn_pool *conn_pool_new(const char *door, const struct conn_limits *l,
				const struct conn_pool_ops *ops)
{
	struct conn_pool *p = xcalloc(1, sizeof *p);
	p->door = door;
	p->lim = *l;
	p->ops = ops;
	if (l->idle_timeout_ms && !(p->timer = loop_timer_new(pool_sweep, p))) {
		log_err("%s: cannot make the idle timer: %m", door);
		free(p);
		return NULL;
	}
	if (npools < CONN_POOLS_MAX)
		pools[npools++] = p;
	return p;
}
