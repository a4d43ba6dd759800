/* The command line shared by stratad and stratad-spawner: every setting of
 * struct config as a flag, the internal role flags, --config FILE. */
#include "args.h"

#include <stdio.h>
#include <string.h>

#include "../common/util.h"

static const struct flag {
	const char *flag;
	const char *key; /* config key; NULL: handled here */
	int is_bool;
} flags[] = {
    {"--config", NULL, 0},
    {"--root", "root", 0},
    {"--address", "address", 0},
    {"--user", "user", 0},
    {"--content-root", "content_root", 0},
    {"--log-level", "log_level", 0},
    {"--seccomp-log", "seccomp_log", 1},
    {"--enable-probe", "enable_probe", 1},
    {"--max-message", "max_message", 0},
    {"--max-connections", "max_connections", 0},
    {"--max-jobs", "max_jobs", 0},
    {"--max-queued-jobs", "max_queued_jobs", 0},
    {"--job-timeout", "job_timeout", 0},
    {"--job-idle-timeout", "job_idle_timeout", 0},
    {"--extract-max-bytes", "extract_max_bytes", 0},
    {"--extract-max-entries", "extract_max_entries", 0},
    {"--extract-max-file", "extract_max_file", 0},
    {"--extract-max-depth", "extract_max_depth", 0},
    {"--extract-max-name", "extract_max_name", 0},
    {"--extract-max-xattr", "extract_max_xattr", 0},
    {"--extract-max-ratio", "extract_max_ratio", 0},
    {"--strip-caps", "strip_caps", 1},
    /* internal: the parent starts the broker with these */
    {"--role", NULL, 0},
    {"--broker-uid", NULL, 0},
    {"--broker-gid", NULL, 0},
    {"--overlay-index-off", NULL, 1},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: stratad [--config FILE] [--root DIR] [--address PATH] [--user NAME]\n"
		"               [--content-root DIR] [--log-level error|warn|info|debug] [--seccomp-log]\n"
		"               [--enable-probe] [--max-message N] [--max-connections N] [--max-jobs N]\n"
		"               [--max-queued-jobs N] [--job-timeout SECONDS] [--job-idle-timeout SECONDS]\n"
		"               [--extract-max-bytes N] [--extract-max-entries N] [--extract-max-file N]\n"
		"               [--extract-max-depth N] [--extract-max-name N] [--extract-max-xattr N]\n"
		"               [--extract-max-ratio N] [--strip-caps]\n"
		"               [--help] [--version]\n"
		"Serves containerd's snapshot service over gRPC on ADDRESS (default %s)\n"
		"and the native protocol on ADDRESS.fd; state lives in ROOT (default %s).\n",
		STRATA_DEFAULT_ADDRESS, STRATA_DEFAULT_ROOT);
}

/* One flag at argv[*i]: `--flag VALUE`, `--flag=VALUE`, or a bare boolean. */
static int parse_flag(int argc, char **argv, int *i, const struct flag **out, const char **value)
{
	const char *arg = argv[*i], *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
	for (size_t k = 0; k < ARRAY_SIZE(flags); k++) {
		if (strlen(flags[k].flag) != n || strncmp(flags[k].flag, arg, n))
			continue;
		*out = &flags[k];
		if (eq)
			*value = eq + 1;
		else if (flags[k].is_bool)
			*value = "true";
		else if (*i + 1 < argc)
			*value = argv[++*i];
		else
			return fprintf(stderr, "stratad: %s needs a value\n", flags[k].flag), -1;
		return 0;
	}
	return fprintf(stderr, "stratad: unknown option `%s` (see --help)\n", arg), -1;
}

/* Pass 1 (apply == 0) finds --config and the internal flags; pass 2 applies
 * the settings over the file's, so that flags win. */
static int parse_args(int argc, char **argv, struct config *c, struct stratad_args *p, int apply)
{
	for (int i = 1; i < argc; i++) {
		const struct flag *f;
		const char *v;
		if (parse_flag(argc, argv, &i, &f, &v) < 0)
			return -1;
		if (!f->key) {
			if (!strcmp(f->flag, "--config"))
				p->config_file = v;
			else if (!strcmp(f->flag, "--role"))
				p->role = v;
			else if (!strcmp(f->flag, "--broker-uid"))
				p->uid = v;
			else if (!strcmp(f->flag, "--broker-gid"))
				p->gid = v;
			else
				p->index_off = 1;
			continue;
		}
		struct err e = {0};
		if (apply && config_set(c, f->key, v, &e) < 0)
			return fprintf(stderr, "stratad: %s: %s\n", f->flag, e.msg), -1;
	}
	return 0;
}

int stratad_args(int argc, char **argv, struct config *c, struct stratad_args *p)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return usage(stdout), 0;
		if (!strcmp(argv[i], "--version"))
			return puts("stratad " STRATA_VERSION), 0;
	}
	struct err e = {0};
	memset(p, 0, sizeof *p);
	config_defaults(c);
	if (parse_args(argc, argv, c, p, 0) < 0)
		return 2;
	if (p->config_file && config_load_file(c, p->config_file, &e) < 0)
		return fprintf(stderr, "stratad: %s\n", e.msg), 2;
	if (parse_args(argc, argv, c, p, 1) < 0)
		return 2;
	return -1;
}

char **stratad_argv(const struct config *c, const char *role)
{
	static const char *levels[] = {"error", "warn", "info", "debug"};
	char **v = xcalloc(32, sizeof *v);
	int n = 0;
	v[n++] = xstrdup(role ? "stratad" : "stratad");
	if (role)
		v[n++] = xasprintf("--role=%s", role);
	v[n++] = xasprintf("--root=%s", c->root);
	v[n++] = xasprintf("--address=%s", c->address);
	v[n++] = xasprintf("--user=%s", c->user);
	v[n++] = xasprintf("--content-root=%s", c->content_root);
	v[n++] = xasprintf("--log-level=%s", levels[c->log_level & 3]);
	if (c->seccomp_log)
		v[n++] = xstrdup("--seccomp-log");
	if (c->enable_probe)
		v[n++] = xstrdup("--enable-probe");
	if (c->strip_caps)
		v[n++] = xstrdup("--strip-caps");
	v[n++] = xasprintf("--max-message=%u", c->max_message);
	v[n++] = xasprintf("--max-connections=%u", c->max_conns);
	v[n++] = xasprintf("--max-jobs=%u", c->max_jobs);
	v[n++] = xasprintf("--max-queued-jobs=%u", c->max_queued_jobs);
	v[n++] = xasprintf("--job-timeout=%u", c->job_timeout);
	v[n++] = xasprintf("--job-idle-timeout=%u", c->job_idle_timeout);
	v[n++] = xasprintf("--extract-max-bytes=%llu", (unsigned long long)c->extract_max_bytes);
	v[n++] = xasprintf("--extract-max-entries=%llu", (unsigned long long)c->extract_max_entries);
	v[n++] = xasprintf("--extract-max-file=%llu", (unsigned long long)c->extract_max_file);
	v[n++] = xasprintf("--extract-max-depth=%u", c->extract_max_depth);
	v[n++] = xasprintf("--extract-max-name=%u", c->extract_max_name);
	v[n++] = xasprintf("--extract-max-xattr=%u", c->extract_max_xattr);
	v[n++] = xasprintf("--extract-max-ratio=%u", c->extract_max_ratio);
	return v;
}
