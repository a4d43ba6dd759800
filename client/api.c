/* libstrata-client's public API (include/strata/): the CLI's own client
 * (client.c, mountfd.c) behind an opaque connection, with errors copied
 * out as struct strata_error.  Only the names in client/libstrata-client.map
 * are exported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "mountfd.h"
#include "../include/strata/client.h"
#include "../include/strata/mountfd.h"
#include "../common/args.h"
#include "../common/config.h"
#include "../common/util.h"
#include "../proto/api.h"

/* The public header spells out common/status.h's codes (both run 0..14). */
_Static_assert((int)STRATA_NOT_FOUND == (int)ST_NOT_FOUND && (int)STRATA_UNAVAILABLE == (int)ST_UNAVAILABLE,
	       "status codes");
_Static_assert(sizeof(((struct strata_error *)0)->message) == ERR_MSG_MAX, "error message size");

struct strata_client {
	struct client conn;
};

/* Returns -1, having copied *in to *out (when wanted). */
static int failed(const struct err *in, struct strata_error *out)
{
	if (out) {
		out->code = in->code;
		snprintf(out->message, sizeof out->message, "%s", in->msg);
	}
	return -1;
}

const char *strata_status_name(int code)
{
	return status_name(code);
}

const char *strata_client_version(void)
{
	return STRATA_VERSION;
}

struct strata_client *strata_connect(const char *address, struct strata_error *e)
{
	struct err err;
	if (!address || !*address)
		address = getenv("STRATA_ADDRESS");
	if (!address || !*address)
		address = STRATA_DEFAULT_ADDRESS;
	struct strata_client *c = xmalloc(sizeof *c);
	cleanup_free char *path = xasprintf("%s.fd", address);
	if (client_connect(&c->conn, path, &err) < 0) {
		free(c);
		failed(&err, e);
		return NULL;
	}
	return c;
}

void strata_disconnect(struct strata_client *c)
{
	if (!c)
		return;
	client_close(&c->conn);
	free(c);
}

/* Copies a daemon's string into a result field; one that does not fit is
 * no digest or media type strata makes. */
static int copy_field(char *dst, size_t size, const char *src, const char *what, struct err *e)
{
	if (strlen(src) >= size)
		return err_set(e, ST_INTERNAL, "the daemon's %s is %zu bytes long", what, strlen(src));
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

struct layer_call {
	struct strata_layer out;
	int done;
};

/* The result record of an apply or a diff (the first; progress records
 * come before it). */
static int layer_done(struct layer_call *c, const char *media_type, const char *digest, int64_t size,
		      const char *diff_id, int64_t uncompressed_size, int64_t entries, struct err *e)
{
	if (c->done)
		return 0;
	c->done = 1;
	c->out.size = size;
	c->out.uncompressed_size = uncompressed_size;
	c->out.entries = entries;
	if (copy_field(c->out.media_type, sizeof c->out.media_type, media_type, "media type", e) < 0 ||
	    copy_field(c->out.digest, sizeof c->out.digest, digest, "digest", e) < 0 ||
	    copy_field(c->out.diff_id, sizeof c->out.diff_id, diff_id, "diff ID", e) < 0)
		return -1;
	return 0;
}

static int on_applied(const ProtobufCMessage *msg, struct client_record *r, void *ctx, struct err *e)
{
	const Strata__V1__ApplyLayerResponse *m = (const Strata__V1__ApplyLayerResponse *)msg;
	(void)r;
	return m->done ? layer_done(ctx, "", m->digest, m->compressed_size, m->diff_id, m->uncompressed_size,
				    m->entries, e)
		       : 0;
}

static int on_diffed(const ProtobufCMessage *msg, struct client_record *r, void *ctx, struct err *e)
{
	const Strata__V1__DiffLayerResponse *m = (const Strata__V1__DiffLayerResponse *)msg;
	(void)r;
	return m->done ? layer_done(ctx, m->media_type, m->digest, m->size, m->diff_id, m->uncompressed_size,
				    m->entries, e)
		       : 0;
}

/* Sends req with fd on method and waits for its result (what: "apply to",
 * "diff of"). */
static int layer_call(struct strata_client *c, uint32_t method, const ProtobufCMessage *req, int fd,
		      const ProtobufCMessageDescriptor *resp, client_data_fn fn, const char *what,
		      const char *key, struct strata_layer *out, struct strata_error *e)
{
	struct layer_call call = {.done = 0};
	struct err err;
	if (client_call(&c->conn, method, req, &fd, 1, resp, fn, &call, &err) < 0)
		return failed(&err, e);
	if (!call.done) {
		err_set(&err, ST_INTERNAL, "%s `%s`: the daemon sent no result", what, key);
		return failed(&err, e);
	}
	if (out)
		*out = call.out;
	return 0;
}

int strata_apply_layer(struct strata_client *c, const char *key, int layer_fd,
		       const struct strata_apply_opts *o, struct strata_layer *out, struct strata_error *e)
{
	Strata__V1__ApplyLayerRequest req = STRATA__V1__APPLY_LAYER_REQUEST__INIT;
	req.key = (char *)key;
	req.expected_digest = (char *)(o && o->expected_digest ? o->expected_digest : "");
	req.no_digest = o && o->no_digest && !*req.expected_digest;
	return layer_call(c, NM_APPLY_LAYER, &req.base, layer_fd,
			  &strata__v1__apply_layer_response__descriptor, on_applied, "apply to", key, out, e);
}

int strata_diff_layer(struct strata_client *c, const char *key, int out_fd, const struct strata_diff_opts *o,
		      struct strata_layer *out, struct strata_error *e)
{
	Strata__V1__DiffLayerRequest req = STRATA__V1__DIFF_LAYER_REQUEST__INIT;
	req.key = (char *)key;
	req.parent = (char *)(o && o->parent ? o->parent : "");
	req.media_type = (char *)(o && o->media_type ? o->media_type : "");
	req.has_source_date_epoch = o && o->has_source_date_epoch;
	req.source_date_epoch = o ? o->source_date_epoch : 0;
	return layer_call(c, NM_DIFF_LAYER, &req.base, out_fd, &strata__v1__diff_layer_response__descriptor,
			  on_diffed, "diff of", key, out, e);
}

int strata_mount_fd(struct strata_client *c, const char *key, const struct strata_mount_opts *o,
		    struct strata_mount_info *info, struct strata_error *e)
{
	struct err err;
	int fd = mountfd_get(&c->conn, key, o, info, &err);
	return fd < 0 ? failed(&err, e) : fd;
}

int strata_mount_release(struct strata_client *c, const char *attach_path, char **key, struct strata_error *e)
{
	struct err err;
	return mountfd_release(&c->conn, attach_path, key, &err) < 0 ? failed(&err, e) : 0;
}

int strata_idmap_parse(const char *spec, struct strata_idmap *m, struct strata_error *e)
{
	struct err err;
	return mountfd_idmap_parse(spec, m, &err) < 0 ? failed(&err, e) : 0;
}
