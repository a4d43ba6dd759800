#include "config.h"

#include <ini.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	c->root = xstrdup(STRATA_DEFAULT_ROOT);
	c->address = xstrdup(STRATA_DEFAULT_ADDRESS);
	c->user = xstrdup(STRATA_DEFAULT_USER);
	c->content_root = xstrdup("");
	c->log_level = LOG_INFO_;
	c->max_message = 16u << 20;
	c->max_conns = 1024;
	c->max_jobs = 8;
	c->max_queued_jobs = 256;
	/* A 2 GiB layer at 1 MB/s takes 35 minutes; a stall of a few minutes
	 * (a disk flushing, a registry pausing) is no reason to give up. */
	c->job_timeout = 7200;
	c->job_idle_timeout = 300;
	c->extract_max_bytes = 64ULL << 30;
	c->extract_max_entries = 1 << 20;
	c->extract_max_file = 32ULL << 30;
	c->extract_max_depth = 256;
	c->extract_max_name = 4095;
	c->extract_max_xattr = 65536;
	c->extract_max_ratio = 200;
}

/* The extract limits: key, field, range. */
static const struct {
	const char *key;
	size_t off, size;
	uint64_t lo, hi;
} extract_keys[] = {
    {"extract_max_bytes", offsetof(struct config, extract_max_bytes), 8, 1 << 20, UINT64_MAX},
    {"extract_max_entries", offsetof(struct config, extract_max_entries), 8, 1, UINT64_MAX},
    {"extract_max_file", offsetof(struct config, extract_max_file), 8, 0, UINT64_MAX},
    {"extract_max_depth", offsetof(struct config, extract_max_depth), 4, 1, 100000},
    {"extract_max_name", offsetof(struct config, extract_max_name), 4, 255, 65535},
    {"extract_max_xattr", offsetof(struct config, extract_max_xattr), 4, 0, 1 << 20},
    {"extract_max_ratio", offsetof(struct config, extract_max_ratio), 4, 0, 1000000},
};

static int set_extract_limit(struct config *c, size_t k, const char *value, struct err *e)
{
	uint64_t v;
	if (parse_u64(value, &v) < 0 || v < extract_keys[k].lo || v > extract_keys[k].hi)
		return err_set(e, ST_INVALID_ARGUMENT, "`%s` takes %llu..%llu, not `%s`", extract_keys[k].key,
			       (unsigned long long)extract_keys[k].lo, (unsigned long long)extract_keys[k].hi,
			       value);
	char *field = (char *)c + extract_keys[k].off;
	if (extract_keys[k].size == 8) {
		memcpy(field, &v, 8);
	} else {
		uint32_t v32 = (uint32_t)v;
		memcpy(field, &v32, 4);
	}
	return 0;
}

static int parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
		*out = 1;
	else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
		*out = 0;
	else
		return -1;
	return 0;
}

static int parse_u32_range(const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
	uint64_t n;
	if (parse_u64(v, &n) < 0 || n < lo || n > hi)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

static void replace(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

int config_set(struct config *c, const char *key, const char *value, struct err *e)
{
	static const char *levels[] = {"error", "warn", "info", "debug"};
	int ok = 0;
	if (!strcmp(key, "root") || !strcmp(key, "address") || !strcmp(key, "content_root")) {
		if (value[0] != '/' && !(value[0] == '\0' && !strcmp(key, "content_root")))
			return err_set(e, ST_INVALID_ARGUMENT, "`%s` must be an absolute path, not `%s`", key,
				       value);
		replace(!strcmp(key, "root")	  ? &c->root
			: !strcmp(key, "address") ? &c->address
						  : &c->content_root,
			value);
	} else if (!strcmp(key, "user")) {
		if (!value[0])
			return err_set(e, ST_INVALID_ARGUMENT, "`user` must not be empty");
		replace(&c->user, value);
	} else if (!strcmp(key, "log_level")) {
		ok = -1;
		for (int i = 0; i < 4; i++)
			if (!strcmp(value, levels[i])) {
				c->log_level = i;
				ok = 0;
			}
		if (ok < 0)
			return err_set(e, ST_INVALID_ARGUMENT,
				       "`log_level` is one of error, warn, info, debug, not `%s`", value);
	} else if (!strncmp(key, "extract_", 8)) {
		for (size_t k = 0; k < sizeof extract_keys / sizeof extract_keys[0]; k++)
			if (!strcmp(key, extract_keys[k].key))
				return set_extract_limit(c, k, value, e);
		return err_set(e, ST_INVALID_ARGUMENT, "unknown setting `%s`", key);
	} else if (!strcmp(key, "strip_caps")) {
		if (parse_bool(value, &c->strip_caps) < 0)
			return err_set(e, ST_INVALID_ARGUMENT, "`strip_caps` takes true or false, not `%s`",
				       value);
	} else if (!strcmp(key, "seccomp_log") || !strcmp(key, "enable_probe")) {
		if (parse_bool(value, !strcmp(key, "seccomp_log") ? &c->seccomp_log : &c->enable_probe) < 0)
			return err_set(e, ST_INVALID_ARGUMENT, "`%s` takes true or false, not `%s`", key,
				       value);
	} else if (!strcmp(key, "max_message")) {
		if (parse_u32_range(value, 4096, 1u << 30, &c->max_message) < 0)
			return err_set(e, ST_INVALID_ARGUMENT, "`max_message` takes 4096..1073741824 bytes");
	} else if (!strcmp(key, "max_connections")) {
		if (parse_u32_range(value, 1, 65536, &c->max_conns) < 0)
			return err_set(e, ST_INVALID_ARGUMENT, "`max_connections` takes 1..65536");
	} else if (!strcmp(key, "max_jobs")) {
		if (parse_u32_range(value, 1, 1024, &c->max_jobs) < 0)
			return err_set(e, ST_INVALID_ARGUMENT, "`max_jobs` takes 1..1024");
	} else if (!strcmp(key, "max_queued_jobs")) {
		if (parse_u32_range(value, 0, 65536, &c->max_queued_jobs) < 0)
			return err_set(e, ST_INVALID_ARGUMENT, "`max_queued_jobs` takes 0..65536");
	} else if (!strcmp(key, "job_timeout") || !strcmp(key, "job_idle_timeout")) {
		uint32_t *v = !strcmp(key, "job_timeout") ? &c->job_timeout : &c->job_idle_timeout;
		if (parse_u32_range(value, 1, 7 * 86400, v) < 0)
			return err_set(e, ST_INVALID_ARGUMENT, "`%s` takes 1..604800 seconds", key);
	} else {
		return err_set(e, ST_INVALID_ARGUMENT, "unknown setting `%s`", key);
	}
	return 0;
}

struct ini_ctx {
	struct config *c;
	struct err *e;
	int failed;
};

static int config_ini_line(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *ctx = user;
	if (ctx->failed)
		return 0;
	if (section[0] && strcmp(section, "strata")) {
		err_set(ctx->e, ST_INVALID_ARGUMENT, "unknown section `[%s]`", section);
		ctx->failed = 1;
		return 0;
	}
	if (config_set(ctx->c, name, value, ctx->e) < 0) {
		ctx->failed = 1;
		return 0;
	}
	return 1;
}

int config_load_file(struct config *c, const char *path, struct err *e)
{
	struct ini_ctx ctx = {c, e, 0};
	int r = ini_parse(path, config_ini_line, &ctx);
	if (ctx.failed)
		return err_wrap(e, "config `%s` line %d", path, r);
	if (r == -1)
		return err_set(e, ST_NOT_FOUND, "config `%s`: cannot open", path);
	if (r != 0)
		return err_set(e, ST_INVALID_ARGUMENT, "config `%s`: syntax error on line %d", path, r);
	return 0;
}

void config_free(struct config *c)
{
	free(c->root);
	free(c->address);
	free(c->user);
	free(c->content_root);
	memset(c, 0, sizeof *c);
}

char *config_native_address(const struct config *c)
{
	return xasprintf("%s.fd", c->address);
}
