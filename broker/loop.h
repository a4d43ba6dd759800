/* The broker's event loop: one epoll set, one thread.  Sources are owned by
 * the loop; loop_remove() marks one dead and frees it after the current
 * batch of events, so a callback may remove any source, itself included. */
#ifndef STRATA_LOOP_H
#define STRATA_LOOP_H

#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop_src;
typedef void (*loop_fn)(void *ctx, uint32_t events);

int loop_init(void);
struct loop_src *loop_add(int fd, uint32_t events, loop_fn fn, void *ctx);
int loop_modify(struct loop_src *s, uint32_t events);
/* Stops watching (does not close the fd). */
void loop_remove(struct loop_src *s);
/* Runs fn(ctx) once, after the current batch of events. */
void loop_defer(void (*fn)(void *), void *ctx);
/* A one-shot timer (a timerfd in the loop): fn(ctx) runs once, ms
 * milliseconds after loop_timer_arm(); arming an armed timer keeps the
 * earlier deadline. */
struct loop_timer;
struct loop_timer *loop_timer_new(void (*fn)(void *), void *ctx);
int loop_timer_arm(struct loop_timer *t, unsigned ms);
/* Runs until *stop becomes non-zero (checked between batches). */
int loop_run(volatile sig_atomic_t *stop);

#endif
