/* The broker's event loop (loop.h): level-triggered epoll, one thread.
 *
 * A callback may remove any source, itself included, and other sources may
 * still have events in the same batch: loop_remove() only unregisters the
 * fd and marks the source dead; dead sources are skipped for the rest of
 * the batch and freed after it, once nothing can point at them. */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"

#define LOOP_BATCH 64

struct loop_src {
	int fd;
	int dead;
	loop_fn fn;
	void *ctx;
	struct loop_src *next_dead;
};

struct loop_deferred {
	void (*fn)(void *);
	void *ctx;
	struct loop_deferred *next;
};

static int epfd = -1;
static struct loop_src *dead_list;
static struct loop_deferred *defer_head, *defer_tail;

int loop_init(void)
{
	if (epfd >= 0)
		return 0;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	return epfd < 0 ? -1 : 0;
}

struct loop_src *loop_add(int fd, uint32_t events, loop_fn fn, void *ctx)
{
	struct loop_src *s = xcalloc(1, sizeof *s);
	s->fd = fd;
	s->fn = fn;
	s->ctx = ctx;
	struct epoll_event ev = {.events = events, .data.ptr = s};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int saved = errno;
		free(s);
		errno = saved;
		return NULL;
	}
	return s;
}

struct loop_timer {
	int fd;
	int armed;
	void (*fn)(void *);
	void *ctx;
};

static void on_timer(void *ctx, uint32_t events)
{
	struct loop_timer *t = ctx;
	uint64_t expirations;
	if (read(t->fd, &expirations, sizeof expirations) != (ssize_t)sizeof expirations)
		return;
	t->armed = 0;
	t->fn(t->ctx);
}

struct loop_timer *loop_timer_new(void (*fn)(void *), void *ctx)
{
	struct loop_timer *t = xcalloc(1, sizeof *t);
	t->fn = fn;
	t->ctx = ctx;
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->fd < 0 || !loop_add(t->fd, EPOLLIN, on_timer, t)) {
		int saved = errno;
		if (t->fd >= 0)
			close(t->fd);
		free(t);
		errno = saved;
		return NULL;
	}
	return t;
}

int loop_timer_arm(struct loop_timer *t, unsigned ms)
{
	if (t->armed)
		return 0;
	struct itimerspec its = {.it_value = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L}};
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(t->fd, 0, &its, NULL) < 0)
		return -1;
	t->armed = 1;
	return 0;
}

int loop_modify(struct loop_src *s, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = s};
	if (s->dead) {
		errno = EBADF;
		return -1;
	}
	return epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev);
}

void loop_remove(struct loop_src *s)
{
	if (!s || s->dead)
		return;
	/* Fails harmlessly (EBADF) when the owner closed the fd first: closing
	 * the last reference already took it out of the epoll set. */
	epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
	s->dead = 1;
	s->next_dead = dead_list;
	dead_list = s;
}

void loop_defer(void (*fn)(void *), void *ctx)
{
	struct loop_deferred *d = xmalloc(sizeof *d);
	d->fn = fn;
	d->ctx = ctx;
	d->next = NULL;
	if (defer_tail)
		defer_tail->next = d;
	else
		defer_head = d;
	defer_tail = d;
}

/* Runs the functions deferred so far, in order.  Ones they defer in turn
 * wait for the next round, so a function that keeps re-deferring itself
 * cannot starve the fds. */
static void run_deferred(void)
{
	struct loop_deferred *d = defer_head;
	defer_head = defer_tail = NULL;
	while (d) {
		struct loop_deferred *next = d->next;
		d->fn(d->ctx);
		free(d);
		d = next;
	}
}

static void free_dead(void)
{
	while (dead_list) {
		struct loop_src *s = dead_list;
		dead_list = s->next_dead;
		free(s);
	}
}

int loop_run(volatile sig_atomic_t *stop)
{
	struct epoll_event evs[LOOP_BATCH];

	while (!*stop) {
		int n = epoll_wait(epfd, evs, LOOP_BATCH, defer_head ? 0 : -1);
		if (n < 0 && errno != EINTR) {
			log_err("loop: epoll_wait: %m");
			return -1;
		}
		for (int i = 0; i < n; i++) {
			struct loop_src *s = evs[i].data.ptr;
			if (!s->dead)
				s->fn(s->ctx, evs[i].events);
		}
		run_deferred();
		free_dead();
	}
	return 0;
}
