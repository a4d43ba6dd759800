/* The command line shared by stratad, stratad-broker and stratad-spawner:
 * every setting of config.c's table as a flag, --config FILE, and the flags
 * the parent starts its children with. */
#include "args.h"

#include <string.h>

#include "../common/util.h"

/* The flags that are not settings, each a field of struct stratad_args. */
static const struct arg {
	const char *flag;
	size_t off;
	int is_bool; /* an int; else a const char * */
} args[] = {
    {"--config", offsetof(struct stratad_args, config_file), 0},
    {"--role", offsetof(struct stratad_args, role), 0},
    {"--broker-uid", offsetof(struct stratad_args, uid), 0},
    {"--broker-gid", offsetof(struct stratad_args, gid), 0},
    {"--overlay-index-off", offsetof(struct stratad_args, index_off), 1},
    {"--metrics-fd", offsetof(struct stratad_args, metrics), 1},
};

#define FLAG_MAX 64

/* A setting's flag: --KEY with `-` for `_`. */
static const char *flag_of(const struct setting *s, char buf[FLAG_MAX])
{
	snprintf(buf, FLAG_MAX, "--%s", s->key);
	for (char *p = buf; *p; p++)
		if (*p == '_')
			*p = '-';
	return buf;
}

/* One tenant of the table (tenant_spec); may be repeated. */
static const char tenant_flag[] = "--tenant";

/* A flag is a setting, an arg or --tenant. */
struct flag {
	const struct setting *s;
	const struct arg *a;
	int tenant;
};

/* The flag named by the first n bytes of name. */
static int flag_find(const char *name, size_t n, struct flag *f)
{
	char buf[FLAG_MAX];
	*f = (struct flag){0};
	for (size_t k = 0; k < config_nsettings && !f->s; k++)
		if (strlen(flag_of(&config_settings[k], buf)) == n && !strncmp(buf, name, n))
			f->s = &config_settings[k];
	for (size_t k = 0; k < ARRAY_SIZE(args) && !f->s && !f->a; k++)
		if (strlen(args[k].flag) == n && !strncmp(args[k].flag, name, n))
			f->a = &args[k];
	f->tenant = strlen(tenant_flag) == n && !strncmp(tenant_flag, name, n);
	return f->s || f->a || f->tenant ? 0 : -1;
}

void stratad_usage(FILE *f)
{
	char buf[FLAG_MAX];
	int w = 0;
	for (size_t k = 0; k < config_nsettings; k++) {
		const struct setting *s = &config_settings[k];
		int n = (int)strlen(flag_of(s, buf)) + (s->value_name ? 1 + (int)strlen(s->value_name) : 0);
		w = n > w ? n : w;
	}
	fprintf(f, "usage: stratad [--config FILE] [--SETTING VALUE]... [--help] [--version]\n"
		   "Serves containerd's snapshot service over gRPC on ADDRESS and the native\n"
		   "protocol on ADDRESS.fd; state lives in ROOT.  --config reads an INI file\n"
		   "whose keys, at top level or under [strata], are the flags below without\n"
		   "`--` and with `_` for `-` (max_jobs = 8); the flags win over it.  Its\n"
		   "sections [tenant NAME] name the users each tenant serves (README).\n");
	for (size_t k = 0; k < config_nsettings; k++) {
		const struct setting *s = &config_settings[k];
		char *left = s->value_name ? xasprintf("%s %s", flag_of(s, buf), s->value_name)
					   : xstrdup(flag_of(s, buf));
		fprintf(f, "  %-*s  %s", w, left, s->help);
		if (s->kind == SETTING_UINT && s->hi == UINT64_MAX)
			fprintf(f, " (%llu.., default %s)\n", (unsigned long long)s->lo, s->def);
		else if (s->kind == SETTING_UINT)
			fprintf(f, " (%llu..%llu, default %s)\n", (unsigned long long)s->lo,
				(unsigned long long)s->hi, s->def);
		else if (s->kind == SETTING_MODE)
			fprintf(f, " (%04llo..%04llo, default %s)\n", (unsigned long long)s->lo,
				(unsigned long long)s->hi, s->def);
		else if (s->kind == SETTING_ENUM) {
			fputs(" (", f);
			for (int i = 0; s->names[i]; i++)
				fprintf(f, "%s%s", i ? "|" : "", s->names[i]);
			fprintf(f, ", default %s)\n", s->def);
		} else if (s->def[0])
			fprintf(f, " (default %s)\n", s->def);
		else
			fputs(" (default none)\n", f);
		free(left);
	}
}

/* One flag at argv[*i]: `--flag VALUE`, `--flag=VALUE`, or a bare boolean. */
static int flag_next(int argc, char **argv, int *i, struct flag *f, const char **value, struct err *e)
{
	const char *arg = argv[*i], *eq = strchr(arg, '=');
	if (flag_find(arg, eq ? (size_t)(eq - arg) : strlen(arg), f) < 0)
		return err_set(e, ST_INVALID_ARGUMENT, "unknown option `%s` (see --help)", arg);
	if (eq)
		*value = eq + 1;
	else if (f->s ? f->s->kind == SETTING_BOOL : f->a && f->a->is_bool)
		*value = "true";
	else if (*i + 1 < argc)
		*value = argv[++*i];
	else
		return err_set(e, ST_INVALID_ARGUMENT, "%s needs a value", arg);
	return 0;
}

static int arg_set(struct stratad_args *p, const struct arg *a, const char *value, struct err *e)
{
	char *field = (char *)p + a->off;
	if (!a->is_bool)
		return memcpy(field, &value, sizeof value), 0;
	if (config_parse_bool(value, (int *)field) < 0)
		return err_set(e, ST_INVALID_ARGUMENT, "%s takes true or false, not `%s`", a->flag, value);
	return 0;
}

/* Pass 1 (apply == 0) finds --config and the flags that are not settings;
 * pass 2 applies the settings over the file's, so that flags win, and adds
 * the --tenant ones after the file's. */
static int parse_pass(int argc, char **argv, struct config *c, struct tenants *t, struct stratad_args *p,
		      int apply, struct err *e)
{
	char buf[FLAG_MAX];
	for (int i = 1; i < argc; i++) {
		struct flag f;
		const char *v = NULL;
		if (flag_next(argc, argv, &i, &f, &v, e) < 0)
			return -1;
		if (f.a && !apply && arg_set(p, f.a, v, e) < 0)
			return -1;
		if (f.s && apply && config_set(c, f.s->key, v, e) < 0)
			return err_wrap(e, "%s", flag_of(f.s, buf));
		if (f.tenant && !apply)
			p->tenant_flags++;
		if (f.tenant && apply && tenant_parse_spec(t, v, e) < 0)
			return err_wrap(e, "%s", tenant_flag);
	}
	return 0;
}

int stratad_parse(int argc, char **argv, struct config *c, struct tenants *t, struct stratad_args *p,
		  struct err *e)
{
	memset(p, 0, sizeof *p);
	config_defaults(c);
	tenants_init(t);
	if (parse_pass(argc, argv, c, t, p, 0, e) < 0)
		return -1;
	if (p->config_file && config_load_file(c, t, p->config_file, e) < 0)
		return -1;
	return parse_pass(argc, argv, c, t, p, 1, e);
}

int stratad_args(int argc, char **argv, struct config *c, struct tenants *t, struct stratad_args *p)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return stratad_usage(stdout), 0;
		if (!strcmp(argv[i], "--version"))
			return puts("stratad " STRATA_VERSION), 0;
	}
	struct err e = {0};
	if (stratad_parse(argc, argv, c, t, p, &e) < 0)
		return fprintf(stderr, "stratad: %s\n", e.msg), 2;
	return -1;
}

void strv_push(struct strv *a, char *s)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? 2 * a->cap : 32;
		a->v = xrealloc(a->v, a->cap * sizeof *a->v);
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

void argv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

char **stratad_argv(const struct config *c, const struct tenants *t, const struct stratad_args *p)
{
	struct strv a = {0};
	char buf[FLAG_MAX];
	strv_push(&a, xstrdup("stratad"));
	for (size_t k = 0; k < ARRAY_SIZE(args); k++) {
		const char *field = (const char *)p + args[k].off;
		const char *s;
		int on;
		if (args[k].is_bool) {
			memcpy(&on, field, sizeof on);
			if (on)
				strv_push(&a, xstrdup(args[k].flag));
		} else {
			memcpy(&s, field, sizeof s);
			if (s)
				strv_push(&a, xasprintf("%s=%s", args[k].flag, s));
		}
	}
	for (size_t k = 0; k < config_nsettings; k++) {
		cleanup_free char *v = config_get(c, &config_settings[k]);
		strv_push(&a, xasprintf("%s=%s", flag_of(&config_settings[k], buf), v));
	}
	for (size_t k = 0; t && k < t->n; k++) {
		const struct tenant *tn = &t->v[k];
		/* TENANT_DEFAULT is there anyway; it needs a flag only to
		 * carry members or limits. */
		if (k == 0 && !tn->nuids && !tn->ngids && !tn->max_snapshots && !tn->max_jobs &&
		    !tn->max_queued_jobs)
			continue;
		cleanup_free char *spec = tenant_spec(tn);
		strv_push(&a, xasprintf("%s=%s", tenant_flag, spec));
	}
	return a.v;
}
