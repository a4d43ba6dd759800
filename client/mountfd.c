/* The client side of mount fds: NM_MOUNT, whose data record carries the
 * detached mount, NM_RELEASE, and the --idmap syntax shared by `strata
 * mount` and the tests' tools. */
#include "mountfd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/util.h"
#include "../proto/api.h"

typedef Strata__V1__MountRequest mount_req;
typedef Strata__V1__MountResponse mount_resp;
typedef Strata__V1__IdRange id_range_msg;

struct mount_call {
	int fd; /* the mount, once received */
	struct strata_mount_info info;
};

/* The one data record of the call: the response and exactly one fd. */
static int on_mount(const ProtobufCMessage *msg, struct client_record *r, void *ctx, struct err *e)
{
	const mount_resp *m = (const mount_resp *)msg;
	struct mount_call *c = ctx;
	if (c->fd >= 0)
		return err_set(e, ST_INTERNAL, "the daemon sent a second mount record");
	if (r->nfds != 1)
		return err_set(e, ST_INTERNAL, "the daemon's mount record carries %zu fds, not 1", r->nfds);
	c->fd = steal_fd(&r->fds[0]);
	snprintf(c->info.type, sizeof c->info.type, "%s", m->type);
	c->info.read_only = m->read_only;
	c->info.layers = m->layers;
	c->info.idmapped = m->idmapped;
	return 0;
}

/* Message ranges pointing into storage (no allocation to free). */
static id_range_msg **ranges_msg(const struct strata_id_range *r, size_t n, id_range_msg *store,
				 id_range_msg **ptrs)
{
	for (size_t i = 0; i < n; i++) {
		strata__v1__id_range__init(&store[i]);
		store[i].inside = r[i].inside;
		store[i].outside = r[i].outside;
		store[i].count = r[i].count;
		ptrs[i] = &store[i];
	}
	return ptrs;
}

/* The fd is used as a directory fd (openat relative to it): make sure the
 * daemon handed over one, whatever else it got wrong. */
static int check_mount_fd(int fd, const char *key, struct err *e)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return err_errno(e, ST_INTERNAL, errno, "mount `%s`: fstat of the received fd", key);
	if (!S_ISDIR(st.st_mode))
		return err_set(e, ST_INTERNAL, "mount `%s`: the received fd is not a directory", key);
	return 0;
}

int mountfd_get(struct client *c, const char *key, const struct strata_mount_opts *o,
		struct strata_mount_info *info, struct err *e)
{
	id_range_msg ustore[STRATA_IDMAP_MAX_RANGES], gstore[STRATA_IDMAP_MAX_RANGES];
	id_range_msg *uptr[STRATA_IDMAP_MAX_RANGES], *gptr[STRATA_IDMAP_MAX_RANGES];
	mount_req req = STRATA__V1__MOUNT_REQUEST__INIT;
	struct mount_call call = {.fd = -1};
	req.key = (char *)key;
	req.read_only = o && o->read_only;
	req.attach_path = (char *)(o && o->attach_path ? o->attach_path : "");
	if (o && o->idmap) {
		const struct strata_idmap *m = o->idmap;
		if (m->nuids > STRATA_IDMAP_MAX_RANGES || m->ngids > STRATA_IDMAP_MAX_RANGES)
			return err_set(e, ST_INVALID_ARGUMENT, "mount `%s`: more than %d id ranges", key,
				       STRATA_IDMAP_MAX_RANGES);
		req.uid_map = ranges_msg(m->uids, m->nuids, ustore, uptr);
		req.n_uid_map = m->nuids;
		req.gid_map = ranges_msg(m->gids, m->ngids, gstore, gptr);
		req.n_gid_map = m->ngids;
	}
	if (client_call(c, NM_MOUNT, &req.base, NULL, 0, &strata__v1__mount_response__descriptor, on_mount,
			&call, e) < 0)
		goto fail;
	if (call.fd < 0) {
		err_set(e, ST_INTERNAL, "mount `%s`: the daemon answered without a mount fd", key);
		goto fail;
	}
	if (check_mount_fd(call.fd, key, e) < 0)
		goto fail;
	if (info)
		*info = call.info;
	return call.fd;
fail:
	if (call.fd >= 0)
		close(call.fd);
	return -1;
}

static int on_release(const ProtobufCMessage *msg, struct client_record *r, void *ctx, struct err *e)
{
	char **key = ctx;
	(void)r;
	(void)e;
	if (key && !*key)
		*key = xstrdup(((const Strata__V1__ReleaseResponse *)msg)->key);
	return 0;
}

int mountfd_release(struct client *c, const char *attach_path, char **key, struct err *e)
{
	Strata__V1__ReleaseRequest req = STRATA__V1__RELEASE_REQUEST__INIT;
	char *name = NULL;
	req.attach_path = (char *)attach_path;
	if (client_call(c, NM_RELEASE, &req.base, NULL, 0, &strata__v1__release_response__descriptor,
			on_release, &name, e) < 0) {
		free(name);
		return -1;
	}
	if (key)
		*key = name ? name : xstrdup("");
	else
		free(name);
	return 0;
}

/* ---- --idmap syntax ---- */

/* "I:O:C" with strict decimal numbers. */
static int parse_range(const char *s, struct strata_id_range *r)
{
	uint64_t v[3];
	const char *p = s;
	for (int i = 0; i < 3; i++) {
		const char *end = strchr(p, i < 2 ? ':' : '\0');
		if (!end || end == p || end - p > 10)
			return -1;
		char num[11];
		memcpy(num, p, (size_t)(end - p));
		num[end - p] = 0;
		if (parse_u64(num, &v[i]) < 0 || v[i] > UINT32_MAX)
			return -1;
		p = end + 1;
	}
	/* Ids run below 2^32-1, which is (uid_t)-1, never a valid id. */
	if (v[2] == 0 || v[0] + v[2] > UINT32_MAX || v[1] + v[2] > UINT32_MAX)
		return -1;
	*r = (struct strata_id_range){(uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2]};
	return 0;
}

/* The ranges of one part (after `uids=`), separated by ';'. */
static int parse_ranges(const char *what, char *s, struct strata_id_range *out, size_t *n, struct err *e)
{
	char *save = NULL;
	*n = 0;
	if (!*s)
		return err_set(e, ST_INVALID_ARGUMENT, "--idmap: `%s=` names no range", what);
	for (char *tok = strtok_r(s, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		if (*n == STRATA_IDMAP_MAX_RANGES)
			return err_set(e, ST_INVALID_ARGUMENT, "--idmap: more than %d %s ranges",
				       STRATA_IDMAP_MAX_RANGES, what);
		if (parse_range(tok, &out[*n]) < 0)
			return err_set(
			    e, ST_INVALID_ARGUMENT,
			    "--idmap: %s range `%s` is not INSIDE:OUTSIDE:COUNT (ids below 2^32-1, count "
			    ">= 1)",
			    what, tok);
		(*n)++;
	}
	return 0;
}

int mountfd_idmap_parse(const char *spec, struct strata_idmap *m, struct err *e)
{
	cleanup_free char *copy = xstrdup(spec);
	char *save = NULL;
	int seen_u = 0, seen_g = 0;
	memset(m, 0, sizeof *m);
	for (char *part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
		if (strncmp(part, "uids=", 5) == 0 && !seen_u) {
			seen_u = 1;
			if (parse_ranges("uids", part + 5, m->uids, &m->nuids, e) < 0)
				return -1;
		} else if (strncmp(part, "gids=", 5) == 0 && !seen_g) {
			seen_g = 1;
			if (parse_ranges("gids", part + 5, m->gids, &m->ngids, e) < 0)
				return -1;
		} else {
			return err_set(e, ST_INVALID_ARGUMENT,
				       "--idmap: `%s` is not uids=... or gids=... (each once)", part);
		}
	}
	if (!seen_u || !seen_g)
		return err_set(e, ST_INVALID_ARGUMENT, "--idmap `%s` needs both uids=... and gids=...", spec);
	return 0;
}
