#include "config.h"

#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* By enum log_level. */
static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
/* By enum log_format. */
static const char *const log_formats[] = {"text", "json", NULL};

#define FIELD(f) .off = offsetof(struct config, f), .size = sizeof(((struct config *)0)->f)

/* Every setting, once.  The flags, the argv of the parent's children,
 * --help and the README's synopsis (a unit test compares it) come from here. */
const struct setting config_settings[] = {
    {"root", SETTING_PATH, FIELD(root), .def = STRATA_DEFAULT_ROOT, .value_name = "DIR",
     .help = "snapshot data and metadata"},
    {"address", SETTING_PATH, FIELD(address), .def = STRATA_DEFAULT_ADDRESS, .value_name = "PATH",
     .help = "gRPC socket; the native one is PATH.fd"},
    /* Under socket activation systemd makes the sockets: strata.socket's
     * SocketGroup= and SocketMode= say these instead. */
    {"socket_group", SETTING_NAME_OR_EMPTY, FIELD(socket_group), .def = "", .value_name = "GROUP",
     .help = "the sockets' group, a name or number; none: root"},
    /* Whoever may connect may create and remove snapshots, as its tenant
     * (common/tenant.h); never an execute bit, never less than root's. */
    {"socket_mode", SETTING_MODE, FIELD(socket_mode), 0600, 0666, .def = "0660", .value_name = "MODE",
     .help = "the sockets' mode, octal"},
    {"user", SETTING_NAME, FIELD(user), .def = STRATA_DEFAULT_USER, .value_name = "NAME",
     .help = "the broker's account"},
    {"content_root", SETTING_PATH_OR_EMPTY, FIELD(content_root), .def = "", .value_name = "DIR",
     .help = "containerd's content store, for Apply by digest"},
    /* The parent opens it (append, 0640) and hands the broker the fd. */
    {"audit_log", SETTING_PATH_OR_EMPTY, FIELD(audit_log), .def = "", .value_name = "FILE",
     .help = "also append the audit trail to FILE"},
    /* The parent binds it (or systemd passes it) and the broker serves
     * HTTP GET /metrics on it (broker/metrics_http.c). */
    {"metrics_address", SETTING_ADDRESS_OR_EMPTY, FIELD(metrics_address), .def = "", .value_name = "ADDR",
     .help = "serve Prometheus metrics at a socket PATH or HOST:PORT; none: off"},
    {"log_level", SETTING_ENUM, FIELD(log_level), .names = log_levels, .def = "info", .value_name = "LEVEL",
     .help = "how much to log"},
    /* json: one object per line, for log shippers (common/log.h). */
    {"log_format", SETTING_ENUM, FIELD(log_format), .names = log_formats, .def = "text",
     .value_name = "FORMAT", .help = "log lines as text or json"},
    {"seccomp_log", SETTING_BOOL, FIELD(seccomp_log), .def = "false",
     .help = "log a denied system call, not kill its caller"},
    {"enable_probe", SETTING_BOOL, FIELD(enable_probe), .def = "false",
     .help = "allow the policy probe jobs, for tests"},
    {"max_message", SETTING_UINT, FIELD(max_message), 4096, 1u << 30, .def = "16777216",
     .value_name = "BYTES", .help = "largest gRPC or native message"},
    {"max_connections", SETTING_UINT, FIELD(max_conns), 1, 65536, .def = "1024", .value_name = "N",
     .help = "client connections at once"},
    /* containerd holds one connection, the CLI one per command: a flood from
     * one account stops at this, and never locks root's out. */
    {"max_connections_per_user", SETTING_UINT, FIELD(max_conns_per_user), 1, 65536, .def = "256",
     .value_name = "N", .help = "connections of one peer uid at once"},
    /* An idle gRPC connection is closed with a GOAWAY, after which grpc-go
     * (containerd) reconnects by itself at its next call. */
    {"idle_timeout", SETTING_UINT, FIELD(idle_timeout), 0, 7 * 86400, .def = "600", .value_name = "SECONDS",
     .help = "seconds an idle connection stays open; 0: no limit"},
    /* Bytes of gRPC requests received but not yet complete: containerd's
     * are a few KiB each.  At least twice max_message is used. */
    {"max_request_bytes", SETTING_UINT, FIELD(max_request_bytes), 1 << 20, UINT64_MAX, .def = "134217728",
     .value_name = "BYTES", .help = "request bytes being received at once; one user half"},
    {"max_jobs", SETTING_UINT, FIELD(max_jobs), 1, 1024, .def = "8", .value_name = "N",
     .help = "workers running at once"},
    {"max_queued_jobs", SETTING_UINT, FIELD(max_queued_jobs), 0, 65536, .def = "256", .value_name = "N",
     .help = "jobs waiting for a worker"},
    /* A parallel unpack applies each layer but the bottom one before its
     * lowers exist; these wait for a turn beyond this, the others never
     * (broker/jobs.c), so every unpack goes on. */
    {"max_parallel_applies", SETTING_UINT, FIELD(max_parallel_applies), 0, 1024, .def = "0",
     .value_name = "N", .help = "layers applied ahead of their lowers at once; 0: one per core"},
    /* A 2 GiB layer at 1 MB/s takes 35 minutes; a stall of a few minutes
     * (a disk flushing, a registry pausing) is no reason to give up. */
    {"job_timeout", SETTING_UINT, FIELD(job_timeout), 1, 7 * 86400, .def = "7200", .value_name = "SECONDS",
     .help = "seconds a job may run"},
    {"job_idle_timeout", SETTING_UINT, FIELD(job_idle_timeout), 1, 7 * 86400, .def = "300",
     .value_name = "SECONDS", .help = "seconds an apply or diff may move no byte"},
    /* Address space, not memory or disk: the file grows as it is used. */
    {"meta_max_bytes", SETTING_UINT, FIELD(meta_max_bytes), 1 << 20, 1ULL << 44, .def = "68719476736",
     .value_name = "BYTES", .help = "largest size of the metadata store"},
    {"extract_max_bytes", SETTING_UINT, FIELD(extract_max_bytes), 1 << 20, UINT64_MAX, .def = "68719476736",
     .value_name = "BYTES", .help = "uncompressed bytes of one layer"},
    {"extract_max_entries", SETTING_UINT, FIELD(extract_max_entries), 1, UINT64_MAX, .def = "1048576",
     .value_name = "N", .help = "tar entries of one layer"},
    {"extract_max_file", SETTING_UINT, FIELD(extract_max_file), 0, UINT64_MAX, .def = "34359738368",
     .value_name = "BYTES", .help = "bytes of one file in a layer"},
    {"extract_max_depth", SETTING_UINT, FIELD(extract_max_depth), 1, 100000, .def = "256", .value_name = "N",
     .help = "components of a path in a layer"},
    {"extract_max_name", SETTING_UINT, FIELD(extract_max_name), 255, 65535, .def = "4095",
     .value_name = "BYTES", .help = "bytes of a path or link target in a layer"},
    {"extract_max_xattr", SETTING_UINT, FIELD(extract_max_xattr), 0, 1 << 20, .def = "65536",
     .value_name = "BYTES", .help = "bytes of one xattr value in a layer"},
    {"extract_max_ratio", SETTING_UINT, FIELD(extract_max_ratio), 0, 1000000, .def = "200", .value_name = "N",
     .help = "uncompressed / compressed past 64 MiB; 0: none"},
    {"strip_caps", SETTING_BOOL, FIELD(strip_caps), .def = "false",
     .help = "drop setuid/setgid bits and security.capability"},
};
const size_t config_nsettings = ARRAY_SIZE(config_settings);

int config_parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
		*out = 1;
	else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
		*out = 0;
	else
		return -1;
	return 0;
}

static int set_enum(const struct setting *s, int *field, const char *value, struct err *e)
{
	char choices[128] = "";
	for (int i = 0; s->names[i]; i++) {
		if (!strcmp(value, s->names[i]))
			return *field = i, 0;
		size_t n = strlen(choices);
		snprintf(choices + n, sizeof choices - n, "%s%s", i ? ", " : "", s->names[i]);
	}
	return err_set(e, ST_INVALID_ARGUMENT, "`%s` is one of %s, not `%s`", s->key, choices, value);
}

static int set_uint(const struct setting *s, void *field, const char *value, struct err *e)
{
	uint64_t v;
	if (parse_u64(value, &v) < 0 || v < s->lo || v > s->hi)
		return err_set(e, ST_INVALID_ARGUMENT, "`%s` takes %llu..%llu, not `%s`", s->key,
			       (unsigned long long)s->lo, (unsigned long long)s->hi, value);
	if (s->size == sizeof(uint64_t)) {
		memcpy(field, &v, sizeof v);
	} else {
		uint32_t v32 = (uint32_t)v;
		memcpy(field, &v32, sizeof v32);
	}
	return 0;
}

/* Strict octal, as chmod(1) spells a mode: 660 or 0660. */
static int set_mode(const struct setting *s, uint32_t *field, const char *value, struct err *e)
{
	uint64_t v = 0;
	size_t n = strlen(value);
	int ok = n >= 1 && n <= 5 && strspn(value, "01234567") == n;
	for (size_t i = 0; ok && i < n; i++)
		v = v * 8 + (uint64_t)(value[i] - '0');
	if (!ok || v < s->lo || v > s->hi || (v & 0111))
		return err_set(e, ST_INVALID_ARGUMENT,
			       "`%s` takes octal %04llo..%04llo with no execute bit, not `%s`", s->key,
			       (unsigned long long)s->lo, (unsigned long long)s->hi, value);
	*field = (uint32_t)v;
	return 0;
}

int config_split_hostport(const char *v, char *host, size_t hostlen, unsigned *port)
{
	const char *colon = strrchr(v, ':');
	if (!colon || !colon[1] || strlen(colon + 1) > 5 ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	unsigned long p = strtoul(colon + 1, NULL, 10);
	const char *h = v;
	size_t n = (size_t)(colon - v);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	} else if (memchr(h, ':', n) || memchr(h, '[', n) || memchr(h, ']', n)) {
		return -1; /* an IPv6 host goes in brackets */
	}
	if (!n || n >= hostlen || p < 1 || p > 65535 || memchr(h, '/', n) || memchr(h, ' ', n))
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	*port = (unsigned)p;
	return 0;
}

static int setting_set(struct config *c, const struct setting *s, const char *value, struct err *e)
{
	void *field = (char *)c + s->off;
	switch (s->kind) {
	case SETTING_PATH:
	case SETTING_PATH_OR_EMPTY:
		if (value[0] != '/' && !(s->kind == SETTING_PATH_OR_EMPTY && !value[0]))
			return err_set(e, ST_INVALID_ARGUMENT, "`%s` must be an absolute path%s, not `%s`",
				       s->key, s->kind == SETTING_PATH_OR_EMPTY ? " or empty" : "", value);
		break;
	case SETTING_NAME:
		if (!value[0])
			return err_set(e, ST_INVALID_ARGUMENT, "`%s` must not be empty", s->key);
		break;
	case SETTING_NAME_OR_EMPTY:
		break;
	case SETTING_ADDRESS_OR_EMPTY: {
		char host[256];
		unsigned port;
		if (value[0] && value[0] != '/' && config_split_hostport(value, host, sizeof host, &port) < 0)
			return err_set(
			    e, ST_INVALID_ARGUMENT,
			    "`%s` must be an absolute socket path, HOST:PORT or [HOST]:PORT, not `%s`",
			    s->key, value);
		break;
	}
	case SETTING_BOOL:
		if (config_parse_bool(value, field) < 0)
			return err_set(e, ST_INVALID_ARGUMENT, "`%s` takes true or false, not `%s`", s->key,
				       value);
		return 0;
	case SETTING_ENUM:
		return set_enum(s, field, value, e);
	case SETTING_UINT:
		return set_uint(s, field, value, e);
	case SETTING_MODE:
		return set_mode(s, field, value, e);
	}
	/* A path or a name, checked above. */
	char **str = field;
	free(*str);
	*str = xstrdup(value);
	return 0;
}

int config_set(struct config *c, const char *key, const char *value, struct err *e)
{
	for (size_t k = 0; k < config_nsettings; k++)
		if (!strcmp(key, config_settings[k].key))
			return setting_set(c, &config_settings[k], value, e);
	return err_set(e, ST_INVALID_ARGUMENT, "unknown setting `%s`", key);
}

char *config_get(const struct config *c, const struct setting *s)
{
	const void *field = (const char *)c + s->off;
	int i;
	switch (s->kind) {
	case SETTING_BOOL:
		memcpy(&i, field, sizeof i);
		return xstrdup(i ? "true" : "false");
	case SETTING_ENUM: {
		int n = 0;
		memcpy(&i, field, sizeof i);
		while (s->names[n])
			n++;
		/* Out of range (never, when set from the table): a number,
		 * which whoever parses it refuses. */
		return i >= 0 && i < n ? xstrdup(s->names[i]) : xasprintf("%d", i);
	}
	case SETTING_UINT:
		if (s->size == sizeof(uint64_t)) {
			uint64_t v;
			memcpy(&v, field, sizeof v);
			return xasprintf("%llu", (unsigned long long)v);
		} else {
			uint32_t v;
			memcpy(&v, field, sizeof v);
			return xasprintf("%u", v);
		}
	case SETTING_MODE: {
		uint32_t v;
		memcpy(&v, field, sizeof v);
		return xasprintf("%04llo", (unsigned long long)v);
	}
	default:
		return xstrdup(*(char *const *)field);
	}
}

void config_defaults(struct config *c)
{
	struct err e = {0};
	memset(c, 0, sizeof *c);
	for (size_t k = 0; k < config_nsettings; k++)
		if (setting_set(c, &config_settings[k], config_settings[k].def, &e) < 0)
			die("the default of %s", e.msg);
}

struct ini_ctx {
	struct config *c;
	struct tenants *t;
	FILE *f;
	struct err *e;
	int line;	  /* the line inih parses */
	int failed;	  /* e says why; inih reads no further line */
	int default_seen; /* [tenant containerd] */
};

/* The tenant a section `[tenant NAME]` names, NULL for another section. */
static const char *tenant_of_section(const char *section)
{
	static const char prefix[] = "tenant ";
	return strncmp(section, prefix, sizeof prefix - 1) ? NULL : section + sizeof prefix - 1;
}

/* Called by the reader for a line inih takes as a section header.  A
 * tenant's section makes the tenant, even with no key in it, and a second
 * one of the same name is an error: inih only calls the handler for keys,
 * so the header is caught here, as the line passes through the reader. */
static int section_header(struct ini_ctx *ctx, const char *line)
{
	const char *end = strchr(line, ']');
	if (!end)
		return 0; /* inih reports it */
	cleanup_free char *section = xasprintf("%.*s", (int)(end - line - 1), line + 1);
	const char *name = tenant_of_section(section);
	if (!name)
		return 0;
	if (strcmp(name, TENANT_DEFAULT))
		return tenants_add(ctx->t, name, ctx->e);
	if (ctx->default_seen++)
		return err_set(ctx->e, ST_ALREADY_EXISTS, "tenant `%s` twice", name);
	return 0;
}

/* inih's line reader: fgets, counting lines, and seeing section headers as
 * inih does (after leading blanks, and a UTF-8 BOM on the first line).  A
 * failure ends the file there, so that ctx->line is where it failed. */
static char *config_ini_reader(char *str, int num, void *user)
{
	struct ini_ctx *ctx = user;
	if (ctx->failed || !fgets(str, num, ctx->f))
		return NULL;
	ctx->line++;
	const char *p = str;
	if (ctx->line == 1 && !strncmp(p, "\xEF\xBB\xBF", 3))
		p += 3;
	p += strspn(p, " \t\r\n\f\v");
	if (*p == '[' && section_header(ctx, p) < 0)
		ctx->failed = 1;
	return str;
}

static int config_ini_line(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *ctx = user;
	const char *tenant = tenant_of_section(section);
	int rc;
	if (ctx->failed)
		return 0;
	if (!section[0] || !strcmp(section, "strata"))
		rc = config_set(ctx->c, name, value, ctx->e);
	else if (tenant)
		rc = tenant_set(ctx->t, tenant, name, value, 1, ctx->e) < 0
			 ? err_wrap(ctx->e, "[tenant %s]", tenant)
			 : 0;
	else
		rc = err_set(ctx->e, ST_INVALID_ARGUMENT, "unknown section `[%s]`", section);
	if (rc < 0)
		ctx->failed = 1;
	return rc < 0 ? 0 : 1;
}

int config_load_file(struct config *c, struct tenants *t, const char *path, struct err *e)
{
	struct ini_ctx ctx = {.c = c, .t = t, .e = e};
	ctx.f = fopen(path, "re");
	if (!ctx.f)
		return err_set(e, ST_NOT_FOUND, "config `%s`: cannot open", path);
	int r = ini_parse_stream(config_ini_reader, &ctx, config_ini_line, &ctx);
	fclose(ctx.f);
	if (ctx.failed)
		return err_wrap(e, "config `%s` line %d", path, ctx.line);
	if (r != 0)
		return err_set(e, ST_INVALID_ARGUMENT, "config `%s`: syntax error on line %d", path, r);
	return 0;
}

void config_free(struct config *c)
{
	for (size_t k = 0; k < config_nsettings; k++) {
		enum setting_kind kind = config_settings[k].kind;
		if (kind == SETTING_PATH || kind == SETTING_PATH_OR_EMPTY || kind == SETTING_NAME ||
		    kind == SETTING_NAME_OR_EMPTY || kind == SETTING_ADDRESS_OR_EMPTY)
			free(*(char **)((char *)c + config_settings[k].off));
	}
	memset(c, 0, sizeof *c);
}

char *config_native_address(const struct config *c)
{
	return xasprintf("%s.fd", c->address);
}
