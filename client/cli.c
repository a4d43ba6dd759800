/* The CLI's plumbing shared by the commands: argument parsing, the
 * connection, error reporting, label map entries and List. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci_archive.h"
#include "../common/layer.h"
#include "../common/sort.h"
#include "../common/util.h"

void cli_print_help(const struct cli_cmd *cmd)
{
	printf("Usage: strata [--address PATH] [--json] %s%s%s\n\n%s\n", cmd->name, *cmd->synopsis ? " " : "",
	       cmd->synopsis, cmd->summary);
	if (cmd->help && *cmd->help)
		printf("\n%s", cmd->help);
}

/* One error as a JSON object on a line of stderr. */
static void json_error(const char *code, const char *msg, const char *cmd, const char *obj)
{
	struct jw w;
	jw_init(&w, stderr);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "code", code);
	jw_str(&w, "message", msg);
	if (cmd)
		jw_str(&w, "command", cmd);
	if (obj)
		jw_str(&w, "object", obj);
	jw_obj_end(&w);
	jw_finish(&w);
}

int cli_usage_error(int json, const char *cmd, const char *msg)
{
	if (json) {
		json_error("usage", msg, cmd, NULL);
		return CLI_USAGE;
	}
	fputs("strata: ", stderr);
	if (cmd)
		fprintf(stderr, "%s: ", cmd);
	out_text(stderr, msg);
	if (cmd)
		fprintf(stderr, "\nTry 'strata help %s'.\n", cmd);
	else
		fputs("\nTry 'strata --help'.\n", stderr);
	return CLI_USAGE;
}

int cli_usage(struct cli *cli, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return cli_usage_error(cli->json, cli->cmd, msg);
}

static char interrupted[1024];
static size_t interrupted_len;
static const int interrupt_sigs[3] = {SIGINT, SIGTERM, SIGHUP};

static void on_interrupt(int sig)
{
	ssize_t unused = write(STDERR_FILENO, interrupted, interrupted_len);
	(void)unused;
	_exit(128 + sig);
}

void cli_interrupt_catch(struct sigaction old[3], const char *fmt, ...)
{
	va_list ap;
	size_t n = (size_t)snprintf(interrupted, sizeof interrupted,
				    "%sstrata: ", isatty(STDERR_FILENO) ? "\r\033[K" : "");
	va_start(ap, fmt);
	vsnprintf(interrupted + n, sizeof interrupted - n - 1, fmt, ap);
	va_end(ap);
	strcat(interrupted, "\n");
	interrupted_len = strlen(interrupted);
	struct sigaction sa = {.sa_handler = on_interrupt};
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++)
		if (sigaction(interrupt_sigs[i], &sa, &old[i]) == 0 && old[i].sa_handler == SIG_IGN)
			sigaction(interrupt_sigs[i], &old[i], NULL);
}

void cli_interrupt_release(const struct sigaction old[3])
{
	for (int i = 0; i < 3; i++)
		sigaction(interrupt_sigs[i], &old[i], NULL);
}

int cli_exit_code(int status)
{
	switch (status) {
	case ST_OK:
		return CLI_OK;
	case ST_NOT_FOUND:
		return CLI_NOT_FOUND;
	case ST_UNAVAILABLE:
		return CLI_UNREACHABLE;
	case ST_PERMISSION_DENIED:
		return CLI_DENIED;
	default:
		return CLI_FAIL;
	}
}

const char *cli_status_key(int status)
{
	static const char *keys[] = {
	    "ok",	 "cancelled",	   "unknown",		"invalid_argument",   "deadline_exceeded",
	    "not_found", "already_exists", "permission_denied", "resource_exhausted", "failed_precondition",
	    "aborted",	 "out_of_range",   "unimplemented",	"internal",	      "unavailable",
	};
	return status >= 0 && status < (int)ARRAY_SIZE(keys) ? keys[status] : "unknown";
}

int cli_fail(struct cli *cli, const char *obj, const struct err *e)
{
	/* A failed connect says all there is (which socket, what to do):
	 * no command or object before it. */
	int bare = cli->connect_failed;
	if (cli->json) {
		json_error(cli_status_key(e->code), e->msg, cli->cmd, bare ? NULL : obj);
		return cli_exit_code(e->code);
	}
	fputs("strata: ", stderr);
	if (!bare) {
		fputs(cli->cmd, stderr);
		if (obj) {
			fputc(' ', stderr);
			out_text(stderr, obj);
		}
		fprintf(stderr, ": %s: ", status_name(e->code));
	}
	out_text(stderr, e->msg);
	fputc('\n', stderr);
	return cli_exit_code(e->code);
}

int cli_split_label(const char *s, struct cli_label *l)
{
	const char *eq = strchr(s, '=');
	if (!eq || eq == s)
		return -1;
	l->key = xasprintf("%.*s", (int)(eq - s), s);
	l->value = eq + 1;
	return 0;
}

static int add_label(struct cli *cli, struct cli_args *a, const char *s)
{
	struct cli_label l;
	if (cli_split_label(s, &l) < 0)
		return cli_usage(cli, "label `%s` is not KEY=VALUE", s);
	a->labels = xrealloc(a->labels, (a->nlabels + 1) * sizeof *a->labels);
	a->labels[a->nlabels++] = l;
	return CLI_OK;
}

static int set_hold(struct cli *cli, struct cli_args *a, const char *s)
{
	uint64_t v;
	if (parse_u64(s, &v) < 0 || v > UINT32_MAX)
		return cli_usage(cli, "--hold `%s` is not a number of milliseconds", s);
	a->hold_ms = (uint32_t)v;
	return CLI_OK;
}

static int set_digest(struct cli *cli, struct cli_args *a, const char *s)
{
	if (!digest_valid(s))
		return cli_usage(cli, "--digest `%s` is not sha256: and 64 lowercase hex digits", s);
	a->digest = s;
	return CLI_OK;
}

static int set_platform(struct cli *cli, struct cli_args *a, const char *s)
{
	a->platform = s;
	return CLI_OK;
}

static int set_name(struct cli *cli, struct cli_args *a, const char *s)
{
	if (!*s || strpbrk(s, " \t\n"))
		return cli_usage(cli, "--name `%s` is not an image reference", s);
	a->name = s;
	return CLI_OK;
}

static int set_format(struct cli *cli, struct cli_args *a, const char *s)
{
	a->format = s;
	return CLI_OK;
}

static int set_jobs(struct cli *cli, struct cli_args *a, const char *s)
{
	uint64_t v;
	if (parse_u64(s, &v) < 0 || v < 1 || v > 1024)
		return cli_usage(cli, "--jobs `%s` is not a number from 1 to 1024", s);
	a->jobs = (unsigned)v;
	return CLI_OK;
}

/* Handles option argv[*i] (and its value); CLI_USAGE when not one of opts. */
static int parse_option(struct cli *cli, unsigned opts, int argc, char **argv, int *i, struct cli_args *a)
{
	const char *arg = argv[*i];
	static const struct {
		const char *name;
		unsigned opt;
		int (*set)(struct cli *, struct cli_args *, const char *);
	} table[] = {{"--label", CLI_OPT_LABEL, add_label},    {"--hold", CLI_OPT_HOLD, set_hold},
		     {"--digest", CLI_OPT_DIGEST, set_digest}, {"--platform", CLI_OPT_PLATFORM, set_platform},
		     {"--name", CLI_OPT_NAME, set_name},       {"--jobs", CLI_OPT_JOBS, set_jobs},
		     {"--format", CLI_OPT_FORMAT, set_format}};
	for (size_t t = 0; t < ARRAY_SIZE(table); t++) {
		size_t n = strlen(table[t].name);
		if (!(opts & table[t].opt) || strncmp(arg, table[t].name, n) != 0)
			continue;
		if (arg[n] == '=')
			return table[t].set(cli, a, arg + n + 1);
		if (arg[n] != 0)
			continue;
		if (*i + 1 >= argc)
			return cli_usage(cli, "%s needs a value", table[t].name);
		return table[t].set(cli, a, argv[++*i]);
	}
	return cli_usage(cli, "unknown option `%s`", arg);
}

int cli_parse(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv, unsigned opts, int min,
	      int max, struct cli_args *a)
{
	int options_done = 0;
	memset(a, 0, sizeof *a);
	a->pos = xcalloc((size_t)argc, sizeof *a->pos);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (options_done || arg[0] != '-' || arg[1] == 0) {
			a->pos[a->npos++] = argv[i];
		} else if (strcmp(arg, "--") == 0) {
			options_done = 1;
		} else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			cli_print_help(cmd);
			a->help = 1;
			return CLI_OK;
		} else if ((opts & CLI_OPT_QUIET) &&
			   (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0)) {
			a->quiet = 1;
		} else if (parse_option(cli, opts, argc, argv, &i, a) != CLI_OK) {
			return CLI_USAGE;
		}
	}
	if (a->npos < min)
		return cli_usage(cli, "missing arguments (usage: strata %s %s)", cmd->name, cmd->synopsis);
	if (max >= 0 && a->npos > max)
		return cli_usage(cli, "too many arguments (usage: strata %s %s)", cmd->name, cmd->synopsis);
	return CLI_OK;
}

void cli_args_free(struct cli_args *a)
{
	for (size_t i = 0; i < a->nlabels; i++)
		free((char *)a->labels[i].key);
	free(a->labels);
	free(a->pos);
	memset(a, 0, sizeof *a);
}

char *cli_native_path(const char *address)
{
	size_t n = strlen(address);
	if (n > 3 && strcmp(address + n - 3, ".fd") == 0)
		return xstrdup(address);
	return xasprintf("%s.fd", address);
}

/* Says why the daemon at path cannot be reached, and what to do. */
static int connect_error(const char *path, int errnum, struct err *e)
{
	switch (errnum) {
	case ENOENT:
	case ECONNREFUSED:
		/* No socket, or one nothing listens on (a daemon that stopped). */
		return err_set(e, ST_UNAVAILABLE,
			       "cannot connect to stratad at `%s`: %s: is it running? (start it with "
			       "`systemctl start strata` or `stratad --config FILE`; --address or "
			       "$STRATA_ADDRESS names another daemon)",
			       path, strerror(errnum));
	case EACCES:
	case EPERM:
		return err_set(e, ST_PERMISSION_DENIED,
			       "cannot connect to stratad at `%s`: %s: only root and the members of the "
			       "daemon's socket_group (stratad.conf) may connect",
			       path, strerror(errnum));
	default:
		return err_set(e, ST_UNAVAILABLE, "cannot connect to stratad at `%s`: %s", path,
			       strerror(errnum));
	}
}

int cli_connect(struct cli *cli, struct err *e)
{
	if (cli->conn.fd >= 0)
		return 0;
	cleanup_free char *path = cli_native_path(cli->address);
	cli->connect_failed = 0;
	if (client_connect(&cli->conn, path, e) < 0) {
		int errnum = errno;
		if (e->code != ST_UNAVAILABLE) /* not a connect(): e.g. a path too long */
			return -1;
		cli->connect_failed = 1;
		return connect_error(path, errnum, e);
	}
	if (!cli->tenant)
		return 0;
	/* Every call on this connection acts as the tenant (root only). */
	Strata__V1__ActAsRequest req = STRATA__V1__ACT_AS_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	req.tenant = (char *)cli->tenant;
	int rc = client_unary(&cli->conn, NM_ACT_AS, &req.base, &strata__v1__act_as_response__descriptor,
			      &resp, e);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	if (rc < 0) {
		client_close(&cli->conn);
		return err_wrap(e, "--tenant %s", cli->tenant);
	}
	return 0;
}

void **cli_label_entries(const ProtobufCMessageDescriptor *d, const struct cli_label *l, size_t n,
			 int skip_empty, size_t *count)
{
	/* Every generated LabelsEntry is {base, key, value}: set the two
	 * fields through the descriptor rather than per request type. */
	const ProtobufCFieldDescriptor *fk = protobuf_c_message_descriptor_get_field_by_name(d, "key");
	const ProtobufCFieldDescriptor *fv = protobuf_c_message_descriptor_get_field_by_name(d, "value");
	void **v = xcalloc(n ? n : 1, sizeof *v);
	*count = 0;
	for (size_t i = 0; i < n; i++) {
		if (skip_empty && !*l[i].value)
			continue;
		char *m = xmalloc(d->sizeof_message);
		protobuf_c_message_init(d, m);
		*(const char **)(m + fk->offset) = l[i].key;
		*(const char **)(m + fv->offset) = l[i].value;
		v[(*count)++] = m;
	}
	return v;
}

void cli_free_entries(void **entries, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(entries[i]);
	free(entries);
}

int cli_unary(struct cli *cli, uint32_t method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp, ProtobufCMessage **out, struct err *e)
{
	*out = NULL;
	if (cli_connect(cli, e) < 0)
		return -1;
	return client_unary(&cli->conn, method, req, resp, out, e);
}

/* The end of the quoted text that starts at s (a quote), escapes skipped. */
static const char *skip_quoted(const char *s)
{
	char q = *s++;
	while (*s && *s != q)
		s += (*s == '\\' && s[1]) ? 2 : 1;
	return *s ? s + 1 : s;
}

/* Quotes as broker/filter.c reads them: `"` anywhere, `/` and `|` (for
 * regular expressions) only where a value starts. */
static int is_quote(char c)
{
	return c == '"' || c == '/' || c == '|';
}

/* The next position after p in filter: past a quoted run when one starts. */
static const char *filter_next(const char *filter, const char *p)
{
	const char *q = p;
	if (*p == '"')
		return skip_quoted(p);
	if (*p != '/' && *p != '|')
		return p + 1;
	while (q > filter && (q[-1] == ' ' || q[-1] == '\t'))
		q--;
	return q - filter >= 2 && q[-1] == '=' && strchr("=!~", q[-2]) ? skip_quoted(p) : p + 1;
}

/* [a, b) without surrounding spaces and, when quoted, without its quotes. */
static void trim(const char **a, const char **b)
{
	while (*a < *b && (**a == ' ' || **a == '\t'))
		++*a;
	while (*b > *a && ((*b)[-1] == ' ' || (*b)[-1] == '\t'))
		--*b;
	if (*b - *a >= 2 && is_quote(**a) && (*b)[-1] == **a) {
		++*a;
		--*b;
	}
}

static int span_is(const char *a, const char *b, const char *word)
{
	return (size_t)(b - a) == strlen(word) && strncmp(a, word, (size_t)(b - a)) == 0;
}

/* One selector [s, end): FIELD[.MORE] [OP VALUE]. */
static int check_selector(const char *s, const char *end, char *err, size_t errlen)
{
	const char *op = s;
	while (op < end && !(op + 1 < end && (op[0] == '=' || op[0] == '!' || op[0] == '~') && op[1] == '='))
		op = *op == '"' ? skip_quoted(op) : op + 1;
	if (op > end)
		op = end;
	const char *f = s, *fend = op, *dot;
	trim(&f, &fend);
	if (f == fend)
		return 0; /* empty: the daemon judges the syntax */
	/* The first component, up to a dot outside quotes. */
	dot = f;
	while (dot < fend && *dot != '.')
		dot = *dot == '"' ? skip_quoted(dot) : dot + 1;
	if (dot > fend)
		dot = fend;
	const char *c = f, *cend = dot;
	trim(&c, &cend);
	int more = dot < fend;
	int ok = span_is(c, cend, "labels")
		     ? more
		     : !more && (span_is(c, cend, "name") || span_is(c, cend, "parent") ||
				 span_is(c, cend, "kind"));
	if (!ok) {
		snprintf(err, errlen,
			 "no snapshot has the field `%.*s` (fields: name, parent, kind, labels.KEY)",
			 (int)(fend - f > 80 ? 80 : fend - f), f);
		return -1;
	}
	if (span_is(c, cend, "kind") && op < end && op[0] != '~') {
		const char *v = op + 2, *vend = end;
		trim(&v, &vend);
		if (!span_is(v, vend, "active") && !span_is(v, vend, "view") &&
		    !span_is(v, vend, "committed")) {
			snprintf(err, errlen, "kind `%.*s` is none of active, view, committed",
				 (int)(vend - v > 80 ? 80 : vend - v), v);
			return -1;
		}
	}
	return 0;
}

int cli_check_filter(const char *filter, char *err, size_t errlen)
{
	const char *s = filter, *p = filter;
	for (;;) {
		if (*p == 0 || *p == ',') {
			if (check_selector(s, p, err, errlen) < 0)
				return -1;
			if (*p == 0)
				return 0;
			s = ++p;
		} else {
			p = filter_next(filter, p);
		}
	}
}

static int by_name(const void *a, const void *b)
{
	const snap_info_msg *x = *(snap_info_msg *const *)a, *y = *(snap_info_msg *const *)b;
	return strcmp(x->name, y->name);
}

int cli_list(struct cli *cli, char **filters, size_t nfilters, struct cli_infos *out, struct err *e)
{
	Containerd__Services__Snapshots__V1__ListSnapshotsRequest req =
	    CONTAINERD__SERVICES__SNAPSHOTS__V1__LIST_SNAPSHOTS_REQUEST__INIT;
	req.snapshotter = CLI_SNAPSHOTTER;
	req.filters = filters;
	req.n_filters = nfilters;
	memset(out, 0, sizeof *out);
	if (cli_connect(cli, e) < 0)
		return -1;
	if (client_collect(&cli->conn, NM_LIST, &req.base,
			   &containerd__services__snapshots__v1__list_snapshots_response__descriptor,
			   &out->batches, &out->nbatches, e) < 0)
		return -1;
	for (size_t b = 0; b < out->nbatches; b++) {
		Containerd__Services__Snapshots__V1__ListSnapshotsResponse *r = (void *)out->batches[b];
		out->v = xrealloc(out->v, (out->n + r->n_info) * sizeof *out->v);
		for (size_t i = 0; i < r->n_info; i++)
			out->v[out->n++] = r->info[i];
	}
	if (out->n)
		sort_array(out->v, out->n, sizeof *out->v, by_name);
	return 0;
}

void cli_infos_free(struct cli_infos *l)
{
	free(l->v);
	client_free_msgs(l->batches, l->nbatches);
	memset(l, 0, sizeof *l);
}
