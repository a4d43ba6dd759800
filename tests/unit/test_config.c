/* common/config.c's table of settings and common/args.c, derived from it:
 * the file, the flags, the argv the parent hands its children, --help, and
 * the README and systemd/stratad.conf, which must say what the table says.
 * Run from the source tree (make unit). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/args.h"
#include "common/config.h"
#include "common/sort.h"
#include "common/util.h"
#include "run_suite.h"

static int argc_of(char **v)
{
	int n = 0;
	while (v[n])
		n++;
	return n;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f, "open `%s` (run from the source tree)", path);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(f);
	fclose(m);
	return buf;
}

__attribute__((noinline)) static char *usage_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	stratad_usage(m);
	fclose(m);
	return buf;
}

/* A valid value of s other than its default. */
static char *other_value(const struct setting *s)
{
	switch (s->kind) {
	case SETTING_PATH:
	case SETTING_PATH_OR_EMPTY:
		return xasprintf("/elsewhere/%s", s->key);
	case SETTING_NAME:
	case SETTING_NAME_OR_EMPTY:
		return xasprintf("n-%s", s->key);
	case SETTING_ADDRESS_OR_EMPTY:
		return xstrdup("127.0.0.1:9");
	case SETTING_MODE:
		return xstrdup(strcmp(s->def, "0600") ? "0600" : "0666");
	case SETTING_BOOL:
		return xstrdup(strcmp(s->def, "true") ? "true" : "false");
	case SETTING_ENUM:
		return xstrdup(strcmp(s->def, s->names[0]) ? s->names[0] : s->names[1]);
	case SETTING_UINT: {
		uint64_t def;
		ck_assert_int_eq(parse_u64(s->def, &def), 0);
		return xasprintf("%llu", (unsigned long long)(def == s->hi ? s->lo : s->hi));
	}
	}
	ck_abort_msg("kind of `%s`", s->key);
	return NULL;
}

static void assert_same(const struct config *a, const struct config *b)
{
	for (size_t k = 0; k < config_nsettings; k++) {
		cleanup_free char *va = config_get(a, &config_settings[k]);
		cleanup_free char *vb = config_get(b, &config_settings[k]);
		ck_assert_msg(!strcmp(va, vb), "`%s`: `%s` became `%s`", config_settings[k].key, va, vb);
	}
}

static int parse_tenants(char **argv, struct config *c, struct tenants *t, struct stratad_args *p,
			 struct err *e)
{
	return stratad_parse(argc_of(argv), argv, c, t, p, e);
}

/* The tenants left out. */
static int parse(char **argv, struct config *c, struct stratad_args *p, struct err *e)
{
	struct tenants t;
	int rc = parse_tenants(argv, c, &t, p, e);
	tenants_free(&t);
	return rc;
}

static int by_offset(const void *a, const void *b)
{
	size_t x = config_settings[*(const size_t *)a].off, y = config_settings[*(const size_t *)b].off;
	return x < y ? -1 : x > y;
}

START_TEST(table_is_consistent)
{
	for (size_t k = 0; k < config_nsettings; k++) {
		const struct setting *s = &config_settings[k];
		ck_assert_msg(s->help && s->help[0] && s->def, "`%s` has help and a default", s->key);
		for (size_t j = 0; j < k; j++)
			ck_assert_msg(strcmp(s->key, config_settings[j].key), "`%s` twice", s->key);
		switch (s->kind) {
		case SETTING_PATH:
		case SETTING_PATH_OR_EMPTY:
		case SETTING_NAME:
		case SETTING_NAME_OR_EMPTY:
		case SETTING_ADDRESS_OR_EMPTY:
			ck_assert_uint_eq(s->size, sizeof(char *));
			break;
		case SETTING_MODE:
			ck_assert_uint_eq(s->size, sizeof(uint32_t));
			ck_assert_msg(s->lo <= s->hi && s->hi <= 0777, "`%s` range", s->key);
			break;
		case SETTING_BOOL:
			ck_assert_uint_eq(s->size, sizeof(int));
			ck_assert_ptr_null(s->value_name);
			break;
		case SETTING_ENUM:
			ck_assert_uint_eq(s->size, sizeof(int));
			ck_assert_msg(s->names && s->names[0] && s->names[1], "`%s` has names", s->key);
			break;
		case SETTING_UINT:
			ck_assert_msg(s->size == 4 || s->size == 8, "`%s` is 32 or 64 bits", s->key);
			ck_assert_msg(s->lo <= s->hi && (s->size == 8 || s->hi <= UINT32_MAX), "`%s` range",
				      s->key);
			break;
		}
		ck_assert_msg(s->kind == SETTING_BOOL || s->value_name, "`%s` names its value", s->key);
	}
	/* The settings' fields tile struct config, which has no padding: a
	 * field that is no setting (never passed to the children) shows as a
	 * gap or a size that does not add up. */
	size_t order[64], end = 0;
	ck_assert_uint_le(config_nsettings, ARRAY_SIZE(order));
	for (size_t k = 0; k < config_nsettings; k++)
		order[k] = k;
	sort_array(order, config_nsettings, sizeof order[0], by_offset);
	for (size_t k = 0; k < config_nsettings; k++) {
		const struct setting *s = &config_settings[order[k]];
		ck_assert_msg(s->off == end, "`%s` at %zu, the field before it ends at %zu", s->key, s->off,
			      end);
		end += s->size;
	}
	ck_assert_uint_eq(end, sizeof(struct config));
}
END_TEST

START_TEST(defaults)
{
	struct config c;
	config_defaults(&c);
	ck_assert_str_eq(c.root, "/var/lib/strata");
	ck_assert_str_eq(c.address, "/run/strata/strata.sock");
	ck_assert_str_eq(c.user, "strata");
	ck_assert_str_eq(c.content_root, "");
	ck_assert_int_eq(c.log_level, 2);
	ck_assert_int_eq(c.seccomp_log + c.enable_probe + c.strip_caps, 0);
	ck_assert_uint_eq(c.max_message, 16u << 20);
	ck_assert_uint_eq(c.max_conns, 1024);
	ck_assert_uint_eq(c.max_jobs, 8);
	ck_assert_uint_eq(c.max_queued_jobs, 256);
	ck_assert_uint_eq(c.job_timeout, 7200);
	ck_assert_uint_eq(c.job_idle_timeout, 300);
	ck_assert_uint_eq(c.extract_max_bytes, 64ULL << 30);
	ck_assert_uint_eq(c.extract_max_entries, 1 << 20);
	ck_assert_uint_eq(c.extract_max_file, 32ULL << 30);
	ck_assert_uint_eq(c.extract_max_depth, 256);
	ck_assert_uint_eq(c.extract_max_name, 4095);
	ck_assert_uint_eq(c.extract_max_xattr, 65536);
	ck_assert_uint_eq(c.extract_max_ratio, 200);
	ck_assert_str_eq(c.socket_group, "");
	ck_assert_uint_eq(c.socket_mode, 0660);
	config_free(&c);
}
END_TEST

/* Every setting changed from its default, and every flag that is not a
 * setting: config -> argv -> parse gives the same config and flags. */
START_TEST(argv_round_trips)
{
	struct config c, back;
	struct stratad_args p = {.role = "broker", .uid = "1000", .gid = "1001", .index_off = 1}, pb;
	struct err e = {0};
	config_defaults(&c);
	for (size_t k = 0; k < config_nsettings; k++) {
		const struct setting *s = &config_settings[k];
		cleanup_free char *v = other_value(s);
		ck_assert_msg(config_set(&c, s->key, v, &e) == 0, "%s", e.msg);
		cleanup_free char *got = config_get(&c, s);
		ck_assert_str_eq(got, v);
		ck_assert_str_ne(got, s->def);
	}
	char **argv = stratad_argv(&c, NULL, &p);
	ck_assert_str_eq(argv[0], "stratad");
	ck_assert_str_eq(argv[1], "--role=broker"); /* tests find the broker by it */
	ck_assert_int_eq(argc_of(argv), 1 + 4 + (int)config_nsettings);
	ck_assert_msg(parse(argv, &back, &pb, &e) == 0, "%s", e.msg);
	assert_same(&c, &back);
	ck_assert_str_eq(pb.role, "broker");
	ck_assert_str_eq(pb.uid, "1000");
	ck_assert_str_eq(pb.gid, "1001");
	ck_assert_int_eq(pb.index_off, 1);
	ck_assert_ptr_null(pb.config_file);
	argv_free(argv);
	config_free(&back);

	/* Defaults, and nothing but the role. */
	config_free(&c);
	config_defaults(&c);
	argv = stratad_argv(&c, NULL, &(struct stratad_args){.role = "spawner"});
	ck_assert_int_eq(argc_of(argv), 1 + 1 + (int)config_nsettings);
	ck_assert_msg(parse(argv, &back, &pb, &e) == 0, "%s", e.msg);
	assert_same(&c, &back);
	ck_assert_str_eq(pb.role, "spawner");
	ck_assert_ptr_null(pb.uid);
	ck_assert_int_eq(pb.index_off, 0);
	argv_free(argv);
	config_free(&back);
	config_free(&c);
}
END_TEST

START_TEST(argv_has_no_fixed_length)
{
	struct strv a = {0};
	for (int i = 0; i < 1000; i++)
		strv_push(&a, xasprintf("--arg-%d", i));
	ck_assert_int_eq(argc_of(a.v), 1000);
	ck_assert_str_eq(a.v[0], "--arg-0");
	ck_assert_str_eq(a.v[999], "--arg-999");
	argv_free(a.v);
}
END_TEST

START_TEST(flag_forms)
{
	struct config c;
	struct stratad_args p;
	struct err e = {0};
	char *argv[] = {"stratad",
			"--max-jobs",
			"3",
			"--max-queued-jobs=4",
			"--strip-caps",
			"--seccomp-log=false",
			"--log-level",
			"debug",
			"--overlay-index-off",
			NULL};
	ck_assert_msg(parse(argv, &c, &p, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(c.max_jobs, 3);
	ck_assert_uint_eq(c.max_queued_jobs, 4);
	ck_assert_int_eq(c.strip_caps, 1);
	ck_assert_int_eq(c.seccomp_log, 0);
	ck_assert_int_eq(c.log_level, 3);
	ck_assert_int_eq(p.index_off, 1);
	config_free(&c);

	char *last[] = {"stratad", "--max-jobs", NULL};
	ck_assert_int_eq(parse(last, &c, &p, &e), -1);
	ck_assert_str_eq(e.msg, "--max-jobs needs a value");
	config_free(&c);
}
END_TEST

START_TEST(unknown_rejected)
{
	struct config c;
	struct stratad_args p;
	struct err e = {0};
	char *argv[] = {"stratad", "--root=/r", "--no-such-flag=1", NULL};
	ck_assert_int_eq(parse(argv, &c, &p, &e), -1);
	ck_assert_str_eq(e.msg, "unknown option `--no-such-flag=1` (see --help)");
	config_free(&c);
	/* A key is no flag: --max_jobs is not --max-jobs. */
	char *key[] = {"stratad", "--max_jobs=2", NULL};
	ck_assert_int_eq(parse(key, &c, &p, &e), -1);
	ck_assert_str_eq(e.msg, "unknown option `--max_jobs=2` (see --help)");

	ck_assert_int_eq(config_set(&c, "no_such_key", "1", &e), -1);
	ck_assert_str_eq(e.msg, "unknown setting `no_such_key`");
	ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
	config_free(&c);
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(config_file)
{
	char dir[] = "/tmp/strata-config-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	cleanup_free char *path = xasprintf("%s/stratad.conf", dir);
	struct config c;
	struct stratad_args p;
	struct err e = {0};

	/* Top level and [strata]; the flags win over the file. */
	write_file(path, "max_jobs = 5\n[strata]\nmax_connections = 7\nstrip_caps = yes\n");
	char *argv[] = {"stratad", "--max-jobs=6", "--config", path, NULL};
	ck_assert_msg(parse(argv, &c, &p, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(c.max_jobs, 6);
	ck_assert_uint_eq(c.max_conns, 7);
	ck_assert_int_eq(c.strip_caps, 1);
	config_free(&c);

	write_file(path, "max_jobs = 5\nno_such_key = 1\n");
	ck_assert_int_eq(parse(argv, &c, &p, &e), -1);
	cleanup_free char *want = xasprintf("config `%s` line 2: unknown setting `no_such_key`", path);
	ck_assert_str_eq(e.msg, want);
	config_free(&c);

	write_file(path, "[other]\nmax_jobs = 5\n");
	ck_assert_int_eq(parse(argv, &c, &p, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "unknown section `[other]`"));
	config_free(&c);

	write_file(path, "max_jobs = 0\n");
	ck_assert_int_eq(parse(argv, &c, &p, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "`max_jobs` takes 1..1024, not `0`"));
	config_free(&c);

	unlink(path);
	rmdir(dir);
}
END_TEST

/* A file of text, loaded into c and t from defaults; *path names the file
 * (gone by the return) for the messages. */
static int load_text(const char *text, struct config *c, struct tenants *t, char **path, struct err *e)
{
	char dir[] = "/tmp/strata-config-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	free(*path);
	*path = xasprintf("%s/stratad.conf", dir);
	write_file(*path, text);
	config_defaults(c);
	tenants_init(t);
	int rc = config_load_file(c, t, *path, e);
	unlink(*path);
	rmdir(dir);
	return rc;
}

START_TEST(tenant_sections)
{
	struct config c;
	struct tenants t;
	struct err e = {0};
	cleanup_free char *path = NULL;
	ck_assert_msg(load_text("max_jobs = 5\n"
				"[tenant ci]\n"
				"uids = 1001, root ,1002\n"
				"gids = root,daemon\n"
				"max_snapshots = 100\n"
				"max_jobs = 2\n"
				"max_queued_jobs = 0\n"
				"[strata]\n"
				"max_connections = 7\n"
				"[tenant containerd]\n"
				"max_queued_jobs = 9\n"
				"[tenant idle]\n"
				"  [tenant web.b-2]\n"
				"gids = 200\n",
				&c, &t, &path, &e) == 0,
		      "%s", e.msg);
	/* The settings around the sections are untouched by them. */
	ck_assert_uint_eq(c.max_jobs, 5);
	ck_assert_uint_eq(c.max_conns, 7);
	ck_assert_uint_eq(t.n, 4);
	ck_assert_int_eq(t.configured, 1);
	const struct tenant *ci = tenant_by_name(&t, "ci");
	ck_assert_ptr_eq(ci, &t.v[1]);
	ck_assert_uint_eq(ci->nuids, 3);
	ck_assert_uint_eq(ci->uids[0], 1001);
	ck_assert_uint_eq(ci->uids[1], 0);
	ck_assert_uint_eq(ci->uids[2], 1002);
	ck_assert_uint_eq(ci->ngids, 2);
	ck_assert_uint_eq(ci->gids[0], 0);
	ck_assert_uint_eq(ci->gids[1], 1); /* daemon on Debian */
	ck_assert_uint_eq(ci->max_snapshots, 100);
	ck_assert_uint_eq(ci->max_jobs, 2);
	ck_assert_uint_eq(ci->max_queued_jobs, 0);
	ck_assert_uint_eq(t.v[0].max_queued_jobs, 9);
	ck_assert_uint_eq(t.v[0].nuids + t.v[0].ngids, 0);
	/* A section without keys still makes its tenant. */
	const struct tenant *idle = tenant_by_name(&t, "idle");
	ck_assert_ptr_nonnull(idle);
	ck_assert_uint_eq(idle->nuids + idle->ngids + idle->max_jobs, 0);
	ck_assert_uint_eq(tenant_by_name(&t, "web.b-2")->gids[0], 200);
	tenants_free(&t);
	config_free(&c);

	/* The default tenant's section alone, without members: still only
	 * root is served. */
	ck_assert_msg(load_text("[tenant containerd]\nmax_jobs = 3\n", &c, &t, &path, &e) == 0, "%s", e.msg);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_uint_eq(t.v[0].max_jobs, 3);
	ck_assert_int_eq(t.configured, 0);
	tenants_free(&t);
	config_free(&c);
}
END_TEST

START_TEST(tenant_section_errors)
{
	static const struct {
		const char *text, *msg; /* the message after "config `PATH` " */
	} bad[] = {
	    {"[tenant ci]\nuids = 1\ncolor = red\n", "line 3: [tenant ci]: unknown key `color` (uids, gids, "
						     "max_snapshots, max_jobs, max_queued_jobs)"},
	    {"max_jobs = 2\n[tenant CI]\nuids = 1\n", "line 2: bad tenant name `CI`"},
	    {"[tenant ]\nuids = 1\n", "line 1: bad tenant name ``"},
	    {"[tenant a b]\n", "line 1: bad tenant name `a b`"},
	    {"[tenant ci]\nuids = 1, strata-no-such-user\n",
	     "line 2: [tenant ci]: `uids`: unknown user `strata-no-such-user`"},
	    {"[tenant ci]\ngids = strata-no-such-group\n",
	     "line 2: [tenant ci]: `gids`: unknown group `strata-no-such-group`"},
	    {"[tenant ci]\nuids = 1\n[tenant ci]\ngids = 2\n", "line 3: tenant `ci` twice"},
	    {"[tenant ci]\n[strata]\nmax_jobs = 1\n[tenant ci]\n", "line 4: tenant `ci` twice"},
	    {"[tenant containerd]\nmax_jobs = 1\n[tenant containerd]\n", "line 3: tenant `containerd` twice"},
	    {"[tenant ci]\nmax_jobs = two\n",
	     "line 2: [tenant ci]: `max_jobs` takes 0..4294967295 (0: no limit), not `two`"},
	    {"[tenant ci]\nmax_snapshots = 4294967296\n",
	     "line 2: [tenant ci]: `max_snapshots` takes 0..4294967295"},
	    {"[tenant ci]\nuids = 1,,2\n", "line 2: [tenant ci]: `uids`: an empty item in `1,,2`"},
	    {"[tenant ci]\ngids = -1\n", "line 2: [tenant ci]: `gids`: unknown group `-1`"},
	    {"[tenants ci]\nuids = 1\n", "line 2: unknown section `[tenants ci]`"},
	    {"socket_mode = 0700\n",
	     "line 1: `socket_mode` takes octal 0600..0666 with no execute bit, not `0700`"},
	};
	struct config c;
	struct tenants t;
	struct err e = {0};
	cleanup_free char *path = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_msg(load_text(bad[i].text, &c, &t, &path, &e) == -1, "taken: %s", bad[i].text);
		cleanup_free char *want = xasprintf("config `%s` %s", path, bad[i].msg);
		ck_assert_msg(!strncmp(e.msg, want, strlen(want)), "%s\nnot %s", e.msg, want);
		ck_assert_int_ne(e.code, ST_OK);
		tenants_free(&t);
		config_free(&c);
	}
}
END_TEST

START_TEST(socket_settings)
{
	static const char *const good[][2] = {
	    {"0600", "0600"}, {"660", "0660"}, {"0644", "0644"}, {"0666", "0666"}, {"00640", "0640"}};
	/* Execute bits within the range too: 0601, 0610, 0645. */
	static const char *const bad[] = {"0",	  "0500", "0601", "0610", "0645", "0667",  "0670",  "0700",
					  "0777", "1660", "0860", "",	  "rw",	  "0x1b4", "-0660", "000660"};
	const struct setting *mode = NULL;
	struct config c;
	struct err e = {0};
	config_defaults(&c);
	for (size_t k = 0; k < config_nsettings; k++)
		if (!strcmp(config_settings[k].key, "socket_mode"))
			mode = &config_settings[k];
	ck_assert_ptr_nonnull(mode);
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		ck_assert_msg(config_set(&c, "socket_mode", good[i][0], &e) == 0, "%s", e.msg);
		cleanup_free char *v = config_get(&c, mode);
		ck_assert_str_eq(v, good[i][1]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_msg(config_set(&c, "socket_mode", bad[i], &e) == -1, "`%s` taken", bad[i]);
		cleanup_free char *want =
		    xasprintf("`socket_mode` takes octal 0600..0666 with no execute bit, not `%s`", bad[i]);
		ck_assert_str_eq(e.msg, want);
		ck_assert_uint_eq(c.socket_mode, 0640);
	}
	ck_assert_int_eq(config_set(&c, "socket_group", "builders", &e), 0);
	ck_assert_str_eq(c.socket_group, "builders");
	ck_assert_int_eq(config_set(&c, "socket_group", "", &e), 0);
	ck_assert_str_eq(c.socket_group, "");
	config_free(&c);
}
END_TEST

/* The broker's argv carries the tenants, as --tenant flags, and parsing it
 * gives the table back; the spawner's carries none. */
START_TEST(argv_carries_tenants)
{
	struct config c, back;
	struct tenants t, tb;
	struct stratad_args pb;
	struct err e = {0};
	cleanup_free char *path = NULL;
	ck_assert_msg(load_text("[tenant ci]\nuids = 1001,root\ngids = daemon\nmax_jobs = 2\n"
				"[tenant containerd]\nmax_snapshots = 50\n"
				"[tenant web]\n",
				&c, &t, &path, &e) == 0,
		      "%s", e.msg);
	char **argv = stratad_argv(&c, &t, &(struct stratad_args){.role = "broker"});
	int n = argc_of(argv);
	ck_assert_int_eq(n, 1 + 1 + (int)config_nsettings + 3);
	ck_assert_str_eq(argv[n - 3],
			 "--tenant=containerd:uids=:gids=:max_snapshots=50:max_jobs=0:max_queued_jobs=0");
	ck_assert_str_eq(argv[n - 2],
			 "--tenant=ci:uids=1001,0:gids=1:max_snapshots=0:max_jobs=2:max_queued_jobs=0");
	ck_assert_str_eq(argv[n - 1],
			 "--tenant=web:uids=:gids=:max_snapshots=0:max_jobs=0:max_queued_jobs=0");
	ck_assert_msg(parse_tenants(argv, &back, &tb, &pb, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(pb.tenant_flags, 3);
	ck_assert_uint_eq(tb.n, t.n);
	ck_assert_int_eq(tb.configured, t.configured);
	for (size_t i = 0; i < t.n; i++) {
		cleanup_free char *a = tenant_spec(&t.v[i]);
		cleanup_free char *b = tenant_spec(&tb.v[i]);
		ck_assert_str_eq(a, b);
	}
	argv_free(argv);
	tenants_free(&tb);
	config_free(&back);

	argv = stratad_argv(&c, NULL, &(struct stratad_args){.role = "spawner"});
	ck_assert_int_eq(argc_of(argv), 1 + 1 + (int)config_nsettings);
	argv_free(argv);
	tenants_free(&t);
	config_free(&c);

	/* The default tenant alone, as it starts, needs no flag. */
	tenants_init(&t);
	config_defaults(&c);
	argv = stratad_argv(&c, &t, &(struct stratad_args){.role = "broker"});
	ck_assert_int_eq(argc_of(argv), 1 + 1 + (int)config_nsettings);
	argv_free(argv);
	tenants_free(&t);
	config_free(&c);

	char *bad[] = {"stratad", "--tenant", "ci:uids=alice", NULL};
	ck_assert_int_eq(parse_tenants(bad, &c, &t, &pb, &e), -1);
	ck_assert_str_eq(e.msg, "--tenant: tenant spec `ci:uids=alice`: `uids`: uid `alice` is no number");
	tenants_free(&t);
	config_free(&c);
}
END_TEST

START_TEST(values_out_of_range_rejected)
{
	struct config c;
	struct err e = {0};
	config_defaults(&c);
	for (size_t k = 0; k < config_nsettings; k++) {
		const struct setting *s = &config_settings[k];
		if (s->kind != SETTING_UINT)
			continue;
		cleanup_free char *before = config_get(&c, s);
		cleanup_free char *want = xasprintf("`%s` takes %llu..%llu, not `", s->key,
						    (unsigned long long)s->lo, (unsigned long long)s->hi);
		char bad[3][32];
		int n = 0;
		if (s->lo > 0)
			snprintf(bad[n++], sizeof bad[0], "%llu", (unsigned long long)s->lo - 1);
		snprintf(bad[n++], sizeof bad[0], s->hi < UINT64_MAX ? "%llu" : "%llu0",
			 (unsigned long long)s->hi + (s->hi < UINT64_MAX));
		snprintf(bad[n++], sizeof bad[0], "-1");
		for (int i = 0; i < n; i++) {
			ck_assert_msg(config_set(&c, s->key, bad[i], &e) == -1, "`%s` took `%s`", s->key,
				      bad[i]);
			ck_assert_msg(!strncmp(e.msg, want, strlen(want)), "%s", e.msg);
			cleanup_free char *after = config_get(&c, s);
			ck_assert_str_eq(after, before);
		}
	}
	ck_assert_int_eq(config_set(&c, "log_level", "loud", &e), -1);
	ck_assert_str_eq(e.msg, "`log_level` is one of error, warn, info, debug, not `loud`");
	ck_assert_int_eq(config_set(&c, "strip_caps", "maybe", &e), -1);
	ck_assert_str_eq(e.msg, "`strip_caps` takes true or false, not `maybe`");
	ck_assert_int_eq(config_set(&c, "root", "relative", &e), -1);
	ck_assert_str_eq(e.msg, "`root` must be an absolute path, not `relative`");
	ck_assert_int_eq(config_set(&c, "root", "", &e), -1);
	ck_assert_int_eq(config_set(&c, "content_root", "", &e), 0);
	ck_assert_int_eq(config_set(&c, "content_root", "relative", &e), -1);
	ck_assert_int_eq(config_set(&c, "user", "", &e), -1);
	ck_assert_str_eq(e.msg, "`user` must not be empty");
	ck_assert_int_eq(config_set(&c, "socket_group", "", &e), 0);
	config_free(&c);
}
END_TEST

START_TEST(help_names_every_setting)
{
	cleanup_free char *help = usage_text();
	for (size_t k = 0; k < config_nsettings; k++) {
		const struct setting *s = &config_settings[k];
		char flag[64];
		snprintf(flag, sizeof flag, "  --%s", s->key);
		for (char *q = flag; *q; q++)
			if (*q == '_')
				*q = '-';
		const char *line = strstr(help, flag);
		ck_assert_msg(line, "--help names %s", flag);
		const char *eol = strchr(line, '\n');
		ck_assert_ptr_nonnull(eol);
		cleanup_free char *l = xasprintf("%.*s", (int)(eol - line), line);
		ck_assert_msg(strstr(l, s->help), "`%s` has its help: %s", s->key, l);
		cleanup_free char *def = xasprintf("default %s)", s->def[0] ? s->def : "none");
		ck_assert_msg(strstr(l, def), "`%s` says its default: %s", s->key, l);
	}
}
END_TEST

START_TEST(readme_shows_the_help)
{
	cleanup_free char *readme = slurp("README.md");
	cleanup_free char *help = usage_text();
	ck_assert_msg(strstr(readme, help), "README.md's daemon synopsis is `stratad --help`:\n%s", help);
}
END_TEST

/* The shipped file says the defaults, in the settings it sets and in those
 * it shows commented out; where a default is none it may show an example. */
START_TEST(shipped_conf_says_the_defaults)
{
	const char *path = "systemd/stratad.conf";
	struct config c, def;
	struct tenants t, example;
	struct err e = {0};
	config_defaults(&c);
	config_defaults(&def);
	tenants_init(&t);
	tenants_init(&example);
	ck_assert_msg(config_load_file(&c, &t, path, &e) == 0, "%s", e.msg);
	assert_same(&def, &c);
	/* Tenants are shown, not made. */
	ck_assert_uint_eq(t.n, 1);
	ck_assert_int_eq(t.configured, 0);
	cleanup_free char *text = slurp(path);
	int shown = 0;
	char tenant[64] = "";
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char key[64], value[256];
		if (sscanf(line, "#[tenant %63[a-z0-9._-]]", tenant) == 1) {
			ck_assert_msg(tenants_add(&example, tenant, &e) == 0, "%s", e.msg);
			continue;
		}
		if (sscanf(line, "#%63[a-z_] = %255s", key, value) != 2)
			continue;
		/* A tenant's example keys come last; its names (a group
		 * this machine may lack) are left unresolved. */
		if (tenant[0]) {
			int rc = tenant_set(&example, tenant, key, value, 0, &e);
			ck_assert_msg(rc == 0 || strstr(e.msg, "is no number"), "%s", e.msg);
			continue;
		}
		ck_assert_msg(config_set(&c, key, value, &e) == 0, "%s", e.msg);
		for (size_t k = 0; k < config_nsettings; k++)
			if (!strcmp(config_settings[k].key, key) && !config_settings[k].def[0])
				ck_assert_int_eq(config_set(&c, key, "", &e), 0);
		shown++;
	}
	ck_assert_int_gt(shown, 0);
	ck_assert_msg(tenant[0], "the file shows a tenant");
	assert_same(&def, &c);
	tenants_free(&example);
	tenants_free(&t);
	config_free(&c);
	config_free(&def);
}
END_TEST

/* metrics_address: a socket path, HOST:PORT or [V6]:PORT; nothing else. */
START_TEST(metrics_address_forms)
{
	static const char *const good[] = {"",
					   "/run/strata/metrics.sock",
					   "127.0.0.1:9101",
					   "localhost:1",
					   "[::1]:65535",
					   "[fe80::1%eth0]:9101"};
	static const char *const bad[] = {"metrics.sock", "127.0.0.1",	 "127.0.0.1:",	    ":9101",
					  "::1:9101",	  "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:9x",
					  "[]:9101",	  "a b:1",	 "127.0.0.1:123456"};
	struct config c;
	struct err e = {0};
	config_defaults(&c);
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		ck_assert_msg(config_set(&c, "metrics_address", good[i], &e) == 0, "`%s`: %s", good[i],
			      e.msg);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(config_set(&c, "metrics_address", bad[i], &e) < 0, "`%s` taken", bad[i]);
	char host[64];
	unsigned port;
	ck_assert_int_eq(config_split_hostport("[::1]:9101", host, sizeof host, &port), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_uint_eq(port, 9101);
	config_free(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("settings");
	tcase_add_test(tc, table_is_consistent);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, argv_round_trips);
	tcase_add_test(tc, argv_has_no_fixed_length);
	tcase_add_test(tc, flag_forms);
	tcase_add_test(tc, unknown_rejected);
	tcase_add_test(tc, config_file);
	tcase_add_test(tc, tenant_sections);
	tcase_add_test(tc, tenant_section_errors);
	tcase_add_test(tc, socket_settings);
	tcase_add_test(tc, argv_carries_tenants);
	tcase_add_test(tc, values_out_of_range_rejected);
	tcase_add_test(tc, help_names_every_setting);
	tcase_add_test(tc, readme_shows_the_help);
	tcase_add_test(tc, shipped_conf_says_the_defaults);
	tcase_add_test(tc, metrics_address_forms);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
