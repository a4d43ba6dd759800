/* Calls in flight and the method table shared by both front doors. */
#include "call.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/util.h"
#include "audit.h"
#include "durable.h"
#include "metrics.h"
#include "loop.h"
#include "parentlink.h"
#include "pbcheck.h"
#include "services.h"
#include "tenancy.h"

#define SNAP  "/containerd.services.snapshots.v1.Snapshots/"
#define DIFF  "/containerd.services.diff.v1.Diff/"
#define D(x)  &containerd__services__snapshots__v1__##x##__descriptor
#define EMPTY &google__protobuf__empty__descriptor

/* Each method: its native id and gRPC path, its messages, streaming, the
 * fds a native request carries, its handler, its name, and whether it may
 * change something (audit.h). */
static const struct method_desc methods[] = {
    {NM_PREPARE, SNAP "Prepare", D(prepare_snapshot_request), D(prepare_snapshot_response), 0, 0, svc_prepare,
     "Prepare", 1},
    {NM_VIEW, SNAP "View", D(view_snapshot_request), D(view_snapshot_response), 0, 0, svc_view, "View", 1},
    {NM_MOUNTS, SNAP "Mounts", D(mounts_request), D(mounts_response), 0, 0, svc_mounts, "Mounts", 0},
    {NM_COMMIT, SNAP "Commit", D(commit_snapshot_request), EMPTY, 0, 0, svc_commit, "Commit", 1},
    {NM_REMOVE, SNAP "Remove", D(remove_snapshot_request), EMPTY, 0, 0, svc_remove, "Remove", 1},
    {NM_STAT, SNAP "Stat", D(stat_snapshot_request), D(stat_snapshot_response), 0, 0, svc_stat, "Stat", 0},
    {NM_UPDATE, SNAP "Update", D(update_snapshot_request), D(update_snapshot_response), 0, 0, svc_update,
     "Update", 1},
    {NM_LIST, SNAP "List", D(list_snapshots_request), D(list_snapshots_response), 1, 0, svc_list, "List", 0},
    {NM_USAGE, SNAP "Usage", D(usage_request), D(usage_response), 0, 0, svc_usage, "Usage", 0},
    {NM_CLEANUP, SNAP "Cleanup", D(cleanup_request), EMPTY, 0, 0, svc_cleanup, "Cleanup", 1},
    {NM_APPLY, DIFF "Apply", &containerd__services__diff__v1__apply_request__descriptor,
     &containerd__services__diff__v1__apply_response__descriptor, 0, 0, svc_apply, "Apply", 1},
    {NM_DIFF, DIFF "Diff", &containerd__services__diff__v1__diff_request__descriptor,
     &containerd__services__diff__v1__diff_response__descriptor, 0, 0, svc_diff, "Diff", 1},
    {NM_PROBE, NULL, &strata__v1__probe_request__descriptor, &strata__v1__probe_response__descriptor, 1, 0,
     svc_probe, "Probe", 0},
    {NM_APPLY_LAYER, NULL, &strata__v1__apply_layer_request__descriptor,
     &strata__v1__apply_layer_response__descriptor, 1, 1, svc_apply_layer, "ApplyLayer", 1},
    {NM_DIFF_LAYER, NULL, &strata__v1__diff_layer_request__descriptor,
     &strata__v1__diff_layer_response__descriptor, 1, 1, svc_diff_layer, "DiffLayer", 1},
    {NM_MOUNT, NULL, &strata__v1__mount_request__descriptor, &strata__v1__mount_response__descriptor, 0, 0,
     svc_mount, "Mount", 1},
    {NM_RELEASE, NULL, &strata__v1__release_request__descriptor, &strata__v1__release_response__descriptor, 0,
     0, svc_release, "Release", 1},
    {NM_FSCK, NULL, &strata__v1__fsck_request__descriptor, &strata__v1__fsck_response__descriptor, 1, 0,
     svc_fsck, "Fsck", 1},
    {NM_ACT_AS, NULL, &strata__v1__act_as_request__descriptor, &strata__v1__act_as_response__descriptor, 0, 0,
     svc_act_as, "ActAs", 1},
    {NM_VERSION, NULL, &strata__v1__version_request__descriptor, &strata__v1__version_response__descriptor, 0,
     0, svc_version, "Version", 0},
    {NM_METRICS, NULL, &strata__v1__metrics_request__descriptor, &strata__v1__metrics_response__descriptor, 1,
     0, svc_metrics, "Metrics", 0},
    {NM_HEALTH, NULL, &strata__v1__health_request__descriptor, &strata__v1__health_response__descriptor, 0, 0,
     svc_health, "Health", 0},
    /* gRPC only (no native id): the standard health check. */
    {0, "/grpc.health.v1.Health/Check", &grpc__health__v1__health_check_request__descriptor,
     &grpc__health__v1__health_check_response__descriptor, 0, 0, svc_health_check, "Check", 0},
};

static unsigned calls_alive;

size_t method_count(void)
{
	return ARRAY_SIZE(methods);
}

size_t method_index(const struct method_desc *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		if (m == &methods[i])
			return i;
	return ARRAY_SIZE(methods);
}

const struct method_desc *method_at(size_t i)
{
	return &methods[i];
}

const struct method_desc *method_by_grpc_path(const char *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		if (methods[i].grpc_path && !strcmp(methods[i].grpc_path, path))
			return &methods[i];
	return NULL;
}

const struct method_desc *method_by_id(uint32_t id)
{
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		if (methods[i].id && methods[i].id == id) /* 0: gRPC only */
			return &methods[i];
	return NULL;
}

ProtobufCMessage *method_unpack(const struct method_desc *m, const uint8_t *buf, size_t len, struct err *e)
{
	if (pb_check_strings(m->req, buf, len, e) < 0)
		return NULL;
	ProtobufCMessage *req = protobuf_c_message_unpack(m->req, NULL, len, buf);
	if (!req)
		err_set(e, ST_INVALID_ARGUMENT, "cannot decode `%s`", m->req->name);
	return req;
}

struct call *call_new(const struct method_desc *m, ProtobufCMessage *req, const struct call_ops *ops,
		      void *transport)
{
	struct call *c = xcalloc(1, sizeof *c);
	c->m = m;
	c->req = req;
	c->ops = ops;
	c->transport = transport;
	c->peer_uid = (uid_t)-1;
	c->reply_fd = -1;
	c->started_ns = now_ns_monotonic();
	for (size_t i = 0; i < ARRAY_SIZE(c->fds); i++)
		c->fds[i] = -1;
	calls_alive++;
	return c;
}

static void dispatch_writer(void *ctx, const struct err *unused)
{
	struct call *c = ctx;
	c->m->handler(c);
}

void call_dispatch(struct call *c)
{
	/* Whom it acts for first: a peer that is no tenant's is refused, and
	 * the handler sees its tenant's keyspace only. */
	struct err e = {0};
	if (!c->tenant && !(c->tenant = tenancy_admit(c->peer_uid, c->peer_gid, &e)) &&
	    c->m->id != NM_VERSION)
		return call_fail_err(c, &e);
	/* Version reads the settings only and names no snapshot: whoever
	 * could connect may ask it (the socket's mode and group are the gate). */
	if (c->m->id == NM_VERSION)
		return c->m->handler(c);
	if (c->act_as && !(c->tenant = tenancy_act_as(c->peer_uid, c->act_as, &e)))
		return call_fail_err(c, &e);
	if (tenancy_scope(c, &e) < 0)
		return call_fail_err(c, &e);
	/* Handlers that write metadata at once wait for a commit in flight
	 * outside the handler, so that the loop serves reads meanwhile (a
	 * write inside would wait in the loop for it). */
	uint32_t id = c->m->id;
	if (id == NM_COMMIT || id == NM_REMOVE || id == NM_UPDATE)
		durable_when_writable(dispatch_writer, c);
	else
		c->m->handler(c);
}

static void call_free(struct call *c)
{
	if (c->req)
		protobuf_c_message_free_unpacked(c->req, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(c->fds); i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
	if (c->reply_fd >= 0)
		close(c->reply_fd);
	free(c->act_as);
	free(c->audit_args);
	calls_alive--;
	free(c);
}

void call_send(struct call *c, const ProtobufCMessage *msg)
{
	if (c->transport)
		c->ops->send(c->transport, msg);
}

static void writable_run(void *ctx)
{
	struct call *c = ctx;
	void (*fn)(struct call *) = c->on_writable;
	c->writable_queued = 0;
	c->on_writable = NULL;
	if (fn)
		fn(c);
}

void call_writable(struct call *c)
{
	if (!c->on_writable || c->writable_queued)
		return;
	c->writable_queued = 1;
	loop_defer(writable_run, c);
}

int call_can_send(struct call *c)
{
	return !c->transport || !c->ops->can_send || c->ops->can_send(c->transport);
}

void call_when_writable(struct call *c, void (*fn)(struct call *c))
{
	c->on_writable = fn;
	if (call_can_send(c))
		call_writable(c);
}

struct call_end_state {
	struct call *c;
	int code;
	char msg[ERR_MSG_MAX];
};

static void call_end_durable(void *ctx, const struct err *e)
{
	struct call_end_state *s = ctx;
	struct call *c = s->c;
	if (e && s->code == ST_OK) {
		/* What this call did (or read) was lost with the batch. */
		s->code = e->code == ST_OK ? ST_INTERNAL : e->code;
		snprintf(s->msg, sizeof s->msg, "%s", e->msg);
	}
	metrics_call(c->m, s->code, now_ns_monotonic() - c->started_ns);
	if (c->transport)
		c->ops->finish(c->transport, s->code, s->msg);
	call_free(c);
	free(s);
}

/* No call is answered before the metadata changes made so far are durable
 * (those of the loop's batch and of the batch committing): a client never
 * hears "done" of a change a crash could still undo, nor reads one. */
static void call_end(struct call *c, int code, const char *msg)
{
	struct call_end_state *s = xmalloc(sizeof *s);
	s->c = c;
	s->code = code;
	snprintf(s->msg, sizeof s->msg, "%s", msg);
	tenancy_strip(s->msg); /* names in it are the client's keys */
	audit_end(c, code, s->msg);
	durable_then(call_end_durable, s);
}

void call_reply(struct call *c, const ProtobufCMessage *resp)
{
	if (resp)
		call_send(c, resp);
	call_end(c, ST_OK, "");
}

void call_fail(struct call *c, int code, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	call_end(c, code == ST_OK ? ST_UNKNOWN : code, msg);
}

void call_fail_err(struct call *c, const struct err *e)
{
	call_end(c, e->code == ST_OK ? ST_UNKNOWN : e->code, e->msg);
}

void call_detach(struct call *c)
{
	c->transport = NULL;
	call_writable(c);
	if (c->job)
		job_abort(c->job, ST_CANCELLED, "the client went away");
}

unsigned call_count(void)
{
	return calls_alive;
}
