/* The health check: grpc.health.v1.Health/Check on the gRPC socket and
 * NM_HEALTH on the native one (`strata health`).
 *
 * SERVING means that, within HEALTH_TIMEOUT_MS of the check, the broker
 * heard from the parent (it creates and drops snapshot directories), from
 * the spawner (it starts every worker), and the metadata store took a
 * write and synced it.  Each is asked without waiting: a check never
 * blocks the loop, and one that times out says which did not answer.
 *
 * One round of questions runs at a time, and its answer serves every
 * check for HEALTH_CACHE_MS after it ends: however often clients check,
 * the parent and the spawner get one ping and the store one write per
 * HEALTH_CACHE_MS at most. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../common/util.h"
#include "broker.h"
#include "call.h"
#include "durable.h"
#include "loop.h"
#include "meta.h"
#include "parentlink.h"
#include "services.h"

#define HEALTH_TIMEOUT_MS 2000
#define HEALTH_CACHE_MS	  1000
#define HEALTH_WAITERS	  256 /* checks waiting for one round; more are answered Unavailable */

enum { PART_PARENT, PART_SPAWNER, PART_META, NPARTS };
static const char *const part_names[NPARTS] = {"the parent process", "the spawner process",
					       "the metadata store"};

typedef void (*health_answer_fn)(struct call *c, int serving, char problems[NPARTS][256], int nproblems);

static struct {
	uint64_t round_ns;	    /* the round under way began; 0: none */
	uint64_t done_ns;	    /* the last round ended */
	int out[NPARTS];	    /* a question is out, not yet answered */
	uint64_t ok_ns[NPARTS];	    /* the last good answer */
	char why[NPARTS][200];	    /* the last bad answer, if it was bad */
	int serving;		    /* the last round's outcome */
	char problems[NPARTS][256]; /* its reasons */
	int nproblems;
	struct call *waiting[HEALTH_WAITERS];
	health_answer_fn answer[HEALTH_WAITERS];
	size_t nwaiting;
	struct loop_timer *timer;
	int was_serving; /* for logging changes only */
} HS = {.was_serving = 1};

static void round_end(void)
{
	uint64_t now = now_ns_monotonic();
	HS.nproblems = 0;
	for (int p = 0; p < NPARTS; p++) {
		if (HS.ok_ns[p] >= HS.round_ns)
			continue;
		if (HS.why[p][0])
			snprintf(HS.problems[HS.nproblems++], sizeof HS.problems[0], "%s: %s", part_names[p],
				 HS.why[p]);
		else
			snprintf(HS.problems[HS.nproblems++], sizeof HS.problems[0],
				 "%s did not answer within %d ms", part_names[p], HEALTH_TIMEOUT_MS);
	}
	HS.serving = HS.nproblems == 0;
	if (HS.serving != HS.was_serving) {
		if (HS.serving)
			log_info("health: SERVING again");
		for (int i = 0; i < HS.nproblems; i++)
			log_warn("health: NOT_SERVING: %s", HS.problems[i]);
		HS.was_serving = HS.serving;
	}
	HS.round_ns = 0;
	HS.done_ns = now;
	size_t n = HS.nwaiting;
	HS.nwaiting = 0;
	for (size_t i = 0; i < n; i++)
		HS.answer[i](HS.waiting[i], HS.serving, HS.problems, HS.nproblems);
}

static void round_check(void)
{
	if (!HS.round_ns)
		return;
	for (int p = 0; p < NPARTS; p++)
		if (HS.ok_ns[p] < HS.round_ns && (HS.out[p] || !HS.why[p][0]))
			return; /* still waiting for it */
	round_end();
}

static void answered(int part, const struct err *e)
{
	HS.out[part] = 0;
	if (e) {
		snprintf(HS.why[part], sizeof HS.why[part], "%.199s", e->msg);
	} else {
		HS.why[part][0] = '\0';
		HS.ok_ns[part] = now_ns_monotonic();
	}
	round_check();
}

static void on_parent(void *ctx, const struct err *e)
{
	answered(PART_PARENT, e);
}

static void on_spawner(void *ctx)
{
	answered(PART_SPAWNER, NULL);
}

static void on_meta(void *ctx, const struct err *e)
{
	answered(PART_META, e);
}

static void on_timeout(void *ctx)
{
	if (HS.round_ns)
		round_end();
}

static void ask(int part)
{
	struct err e = {0};
	int rc = 0;
	if (HS.out[part])
		return; /* asked before and not answered yet: that answer will do */
	HS.why[part][0] = '\0';
	HS.out[part] = 1;
	if (part == PART_PARENT) {
		rc = plink_ping(on_parent, NULL, &e);
	} else if (part == PART_SPAWNER) {
		rc = jobs_ping(on_spawner, NULL, &e);
	} else {
		int64_t sec;
		int32_t nsec;
		now_realtime(&sec, &nsec);
		rc = meta_health_mark(broker.meta, sec, &e);
		if (rc == 0)
			durable_then(on_meta, NULL); /* after the sync of the batch it joined */
	}
	if (rc < 0) {
		HS.out[part] = 0;
		snprintf(HS.why[part], sizeof HS.why[part], "%.199s", e.msg);
	}
}

static void health_wait(struct call *c, health_answer_fn fn)
{
	uint64_t now = now_ns_monotonic();
	if (!HS.round_ns && HS.done_ns && now - HS.done_ns < (uint64_t)HEALTH_CACHE_MS * 1000000)
		return fn(c, HS.serving, HS.problems, HS.nproblems);
	if (HS.nwaiting == HEALTH_WAITERS)
		return call_fail(c, ST_UNAVAILABLE, "health: %d checks are waiting already", HEALTH_WAITERS);
	HS.waiting[HS.nwaiting] = c;
	HS.answer[HS.nwaiting++] = fn;
	if (HS.round_ns)
		return;
	if (!HS.timer && !(HS.timer = loop_timer_new(on_timeout, NULL)))
		return (void)(HS.nwaiting--, call_fail(c, ST_INTERNAL, "health: cannot make a timer"));
	HS.round_ns = now;
	loop_timer_arm(HS.timer, HEALTH_TIMEOUT_MS);
	for (int p = 0; p < NPARTS; p++)
		ask(p);
	round_check(); /* everything may have failed at once */
}

/* The services the check names: the whole daemon (""), or one it serves. */
static int known_service(const char *s)
{
	return !s[0] || !strcmp(s, "containerd.services.snapshots.v1.Snapshots") ||
	       !strcmp(s, "containerd.services.diff.v1.Diff");
}

static void answer_grpc(struct call *c, int serving, char problems[NPARTS][256], int nproblems)
{
	Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	r.status = serving ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
			   : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
	call_reply(c, &r.base);
}

void svc_health_check(struct call *c)
{
	const Grpc__Health__V1__HealthCheckRequest *r = (const void *)c->req;
	if (!known_service(r->service))
		return call_fail(c, ST_NOT_FOUND, "unknown service `%s`", r->service);
	health_wait(c, answer_grpc);
}

static void answer_native(struct call *c, int serving, char problems[NPARTS][256], int nproblems)
{
	Strata__V1__HealthResponse r = STRATA__V1__HEALTH_RESPONSE__INIT;
	char *p[NPARTS];
	for (int i = 0; i < nproblems; i++)
		p[i] = problems[i];
	r.status = serving ? "SERVING" : "NOT_SERVING";
	r.problems = p;
	r.n_problems = (size_t)nproblems;
	call_reply(c, &r.base);
}

void svc_health(struct call *c)
{
	const Strata__V1__HealthRequest *r = (const void *)c->req;
	if (!known_service(r->service))
		return call_fail(c, ST_NOT_FOUND, "unknown service `%s`", r->service);
	health_wait(c, answer_native);
}
