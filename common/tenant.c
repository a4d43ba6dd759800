/* The tenant table (tenant.h): built by the parent from stratad.conf, where
 * user and group names are resolved, and by the broker from the numbers the
 * parent hands it as --tenant flags. */
#include "tenant.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* The largest id a list may hold: (uid_t)-1 means "no change" to chown. */
#define ID_MAX 0xfffffffeu

/* One parser fills both lists: glibc's uid_t and gid_t are one type. */
_Static_assert(_Generic((gid_t *)0, uid_t * : 1, default : 0), "gid_t is uid_t");

void tenants_init(struct tenants *t)
{
	t->v = xcalloc(1, sizeof *t->v);
	t->v[0].name = xstrdup(TENANT_DEFAULT);
	t->n = 1;
	t->configured = 0;
}

void tenants_free(struct tenants *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].uids);
		free(t->v[i].gids);
	}
	free(t->v);
	memset(t, 0, sizeof *t);
}

static struct tenant *find(const struct tenants *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].name, name))
			return &t->v[i];
	return NULL;
}

const struct tenant *tenant_by_name(const struct tenants *t, const char *name)
{
	return find(t, name);
}

const struct tenant *tenant_of_peer(const struct tenants *t, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return &t->v[0];
	/* With no tenant configured only root is served, as before tenants. */
	if (!t->configured)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		for (size_t k = 0; k < t->v[i].nuids; k++)
			if (t->v[i].uids[k] == uid)
				return &t->v[i];
	for (size_t i = 0; i < t->n; i++)
		for (size_t k = 0; k < t->v[i].ngids; k++)
			if (t->v[i].gids[k] == gid)
				return &t->v[i];
	return NULL;
}

int tenant_name_check(const char *name, struct err *e)
{
	size_t n = strlen(name);
	int ok = n >= 1 && n <= TENANT_NAME_MAX;
	for (size_t i = 0; ok && i < n; i++) {
		char ch = name[i];
		ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		     (i > 0 && (ch == '.' || ch == '_' || ch == '-'));
	}
	if (!ok)
		return err_set(e, ST_INVALID_ARGUMENT,
			       "bad tenant name `%s`: 1 to %d of a-z 0-9 . _ -, the first a letter or digit",
			       name, TENANT_NAME_MAX);
	return 0;
}

int tenant_share_check(const char *value, struct err *e)
{
	if (!strcmp(value, TENANT_SHARE_ALL))
		return 0;
	if (!*value)
		return err_set(e, ST_INVALID_ARGUMENT,
			       "label %s: empty (remove the label to share with nobody)", TENANT_SHARE_LABEL);
	for (const char *p = value;;) {
		size_t n = strcspn(p, ",");
		char name[TENANT_NAME_MAX + 1];
		struct err ne;
		if (n == 0 || n > TENANT_NAME_MAX)
			return err_set(e, ST_INVALID_ARGUMENT,
				       "label %s: `%.200s` is not `*` or tenant names separated by commas",
				       TENANT_SHARE_LABEL, value);
		memcpy(name, p, n);
		name[n] = '\0';
		if (tenant_name_check(name, &ne) < 0)
			return err_set(e, ST_INVALID_ARGUMENT, "label %s: %s", TENANT_SHARE_LABEL, ne.msg);
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

int tenant_share_includes(const char *value, const char *name)
{
	if (!value || tenant_share_check(value, &(struct err){0}) < 0)
		return 0;
	if (!strcmp(value, TENANT_SHARE_ALL))
		return 1;
	size_t len = strlen(name);
	for (const char *p = value;; p++) {
		size_t n = strcspn(p, ",");
		if (n == len && !memcmp(p, name, len))
			return 1;
		p += n;
		if (!*p)
			return 0;
	}
}

int tenants_add(struct tenants *t, const char *name, struct err *e)
{
	if (tenant_name_check(name, e) < 0)
		return -1;
	if (find(t, name))
		return err_set(e, ST_ALREADY_EXISTS, "tenant `%s` twice", name);
	t->v = xrealloc(t->v, (t->n + 1) * sizeof *t->v);
	t->v[t->n++] = (struct tenant){.name = xstrdup(name)};
	/* A tenant of its own: non-root peers may now be served. */
	t->configured = 1;
	return 0;
}

/* A user or group name as a number, from the user database. */
static int resolve_name(const char *name, int group, uid_t *id, struct err *e)
{
	long max = sysconf(group ? _SC_GETGR_R_SIZE_MAX : _SC_GETPW_R_SIZE_MAX);
	size_t size = max > 0 ? (size_t)max : 16384;
	for (;;) {
		cleanup_free char *buf = xmalloc(size);
		int rc;
		if (group) {
			struct group gr, *res = NULL;
			rc = getgrnam_r(name, &gr, buf, size, &res);
			if (rc == 0 && res)
				return *id = res->gr_gid, 0;
		} else {
			struct passwd pw, *res = NULL;
			rc = getpwnam_r(name, &pw, buf, size, &res);
			if (rc == 0 && res)
				return *id = res->pw_uid, 0;
		}
		if (rc == ERANGE && size < (1u << 24)) {
			size *= 2;
			continue;
		}
		if (rc != 0 && rc != ENOENT && rc != ESRCH)
			return err_errno(e, ST_INVALID_ARGUMENT, rc, "look up %s `%s`",
					 group ? "group" : "user", name);
		return err_set(e, ST_INVALID_ARGUMENT, "unknown %s `%s`", group ? "group" : "user", name);
	}
}

/* One item of a list: a decimal id or, when names is set, a name. */
static int parse_id(const char *item, int group, int names, uid_t *id, struct err *e)
{
	uint64_t v;
	if (item[0] >= '0' && item[0] <= '9') {
		if (parse_u64(item, &v) < 0 || v > ID_MAX)
			return err_set(e, ST_INVALID_ARGUMENT, "bad %s `%s`: 0..%u", group ? "gid" : "uid",
				       item, ID_MAX);
		return *id = (uid_t)v, 0;
	}
	if (!names)
		return err_set(e, ST_INVALID_ARGUMENT, "%s `%s` is no number", group ? "gid" : "uid", item);
	return resolve_name(item, group, id, e);
}

/* `1000, alice,1002` as ids; an empty value is an empty list. */
static int parse_ids(const char *value, int group, int names, uid_t **ids, size_t *n, struct err *e)
{
	cleanup_free char *copy = xstrdup(value);
	*ids = NULL;
	*n = 0;
	char *p = copy;
	p += strspn(p, " \t");
	if (!*p)
		return 0;
	for (char *item = p, *end; item; item = end) {
		end = strchr(item, ',');
		if (end)
			*end++ = '\0';
		item += strspn(item, " \t");
		for (size_t len = strlen(item); len && (item[len - 1] == ' ' || item[len - 1] == '\t'); len--)
			item[len - 1] = '\0';
		uid_t id = 0;
		int rc = item[0] ? parse_id(item, group, names, &id, e)
				 : err_set(e, ST_INVALID_ARGUMENT, "an empty item in `%s`", value);
		if (rc < 0) {
			free(*ids);
			*ids = NULL;
			*n = 0;
			return -1;
		}
		*ids = xrealloc(*ids, (*n + 1) * sizeof **ids);
		(*ids)[(*n)++] = id;
	}
	return 0;
}

/* The limits, by key. */
static uint32_t *limit_of(struct tenant *tn, const char *key)
{
	if (!strcmp(key, "max_snapshots"))
		return &tn->max_snapshots;
	if (!strcmp(key, "max_jobs"))
		return &tn->max_jobs;
	if (!strcmp(key, "max_queued_jobs"))
		return &tn->max_queued_jobs;
	return NULL;
}

int tenant_set(struct tenants *t, const char *name, const char *key, const char *value, int names,
	       struct err *e)
{
	struct tenant *tn = find(t, name);
	if (!tn)
		return err_set(e, ST_NOT_FOUND, "no tenant `%s`", name);
	uint32_t *limit = limit_of(tn, key);
	if (limit) {
		uint64_t v;
		if (parse_u64(value, &v) < 0 || v > UINT32_MAX)
			return err_set(e, ST_INVALID_ARGUMENT, "`%s` takes 0..%u (0: no limit), not `%s`",
				       key, UINT32_MAX, value);
		*limit = (uint32_t)v;
		return 0;
	}
	int group = !strcmp(key, "gids");
	if (!group && strcmp(key, "uids"))
		return err_set(e, ST_INVALID_ARGUMENT,
			       "unknown key `%s` (uids, gids, max_snapshots, max_jobs, max_queued_jobs)",
			       key);
	uid_t *ids;
	size_t n;
	if (parse_ids(value, group, names, &ids, &n, e) < 0)
		return err_wrap(e, "`%s`", key);
	uid_t **list = group ? &tn->gids : &tn->uids;
	free(*list);
	*list = ids;
	*(group ? &tn->ngids : &tn->nuids) = n;
	/* Members, even of TENANT_DEFAULT: non-root peers may be served. */
	if (n)
		t->configured = 1;
	return 0;
}

/* `:uids=1000,1002`, into the stream. */
static void put_ids(FILE *f, const char *key, const uid_t *ids, size_t n)
{
	fprintf(f, ":%s=", key);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%u", i ? "," : "", (unsigned)ids[i]);
}

char *tenant_spec(const struct tenant *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		die("open_memstream: %m");
	fputs(t->name, f);
	put_ids(f, "uids", t->uids, t->nuids);
	put_ids(f, "gids", t->gids, t->ngids);
	fprintf(f, ":max_snapshots=%u:max_jobs=%u:max_queued_jobs=%u", t->max_snapshots, t->max_jobs,
		t->max_queued_jobs);
	if (fclose(f) != 0)
		die("open_memstream: %m");
	return buf;
}

int tenant_parse_spec(struct tenants *t, const char *spec, struct err *e)
{
	cleanup_free char *copy = xstrdup(spec);
	char *fields = copy, *name = strsep(&fields, ":");
	if (strcmp(name, TENANT_DEFAULT) && tenants_add(t, name, e) < 0)
		return err_wrap(e, "tenant spec `%s`", spec);
	for (char *field; (field = strsep(&fields, ":"));) {
		char *eq = strchr(field, '=');
		if (!eq)
			return err_set(e, ST_INVALID_ARGUMENT, "tenant spec `%s`: `%s` is no KEY=VALUE", spec,
				       field);
		*eq = '\0';
		if (tenant_set(t, name, field, eq + 1, 0, e) < 0)
			return err_wrap(e, "tenant spec `%s`", spec);
	}
	return 0;
}
