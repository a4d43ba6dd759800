/* The policy probe (native socket only, and only when the daemon runs with
 * enable_probe): a worker takes a role's full confinement on a snapshot's
 * directory, optionally stays alive so that tests can inspect it from outside,
 * then tries one syscall.  It proves from outside what a role may do. */
#include <seccomp.h>
#include <string.h>

#include "../common/util.h"
#include "broker.h"
#include "meta.h"
#include "parentlink.h"
#include "services.h"

static void probe_send(struct call *c, pid_t pid, int done, int64_t ret, int errnum)
{
	Strata__V1__ProbeResponse resp;
	strata__v1__probe_response__init(&resp);
	resp.pid = pid;
	resp.done = done;
	resp.ret = ret;
	resp.errno_value = errnum;
	call_send(c, &resp.base);
}

static void probe_started(void *ctx, pid_t pid)
{
	probe_send(ctx, pid, 0, 0, 0);
}

static void probe_done(void *ctx, const struct job_result *res, const struct err *e)
{
	struct call *c = ctx;
	if (e)
		return call_fail_err(c, e);
	probe_send(c, res->pid, 1, res->probe_ret, res->probe_errno);
	call_reply(c, NULL);
}

void svc_probe(struct call *c)
{
	Strata__V1__ProbeRequest *r = (Strata__V1__ProbeRequest *)c->req;
	struct snap_info s = {0};
	struct err e;
	if (!broker.opts->cfg.enable_probe)
		return call_fail(c, ST_PERMISSION_DENIED,
				 "policy probes are disabled (enable_probe = false)");
	int role = worker_role_by_name(r->role);
	/* The roles whose confinement a probe may take (the spawner refuses
	 * any other as a protocol violation). */
	if (role != ROLE_USAGE && role != ROLE_REMOVE && role != ROLE_MOUNT)
		return call_fail(c, ST_INVALID_ARGUMENT, "probe: no probe for worker role `%s`", r->role);
	int nr = -1;
	if (r->syscall[0]) {
		nr = seccomp_syscall_resolve_name(r->syscall);
		if (nr == __NR_SCMP_ERROR || nr < 0)
			return call_fail(c, ST_INVALID_ARGUMENT, "probe: unknown syscall `%s`", r->syscall);
	}
	if (meta_get(broker.meta, r->key, &s, &e) < 0)
		return call_fail_err(c, &e);
	struct job_spec spec = {
	    .role = ROLE_PROBE,
	    .tenant = c->tenant,
	    .target = s.id,
	    .probe_role = role,
	    .probe_syscall = nr,
	    .probe_hold_ms = r->hold_ms > 60000 ? 60000 : r->hold_ms,
	    .handle = &c->job,
	};
	snap_info_free(&s);
	if (!job_start(&spec, probe_started, probe_done, c, &e))
		return call_fail_err(c, &e);
}
