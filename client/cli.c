/* The CLI's plumbing shared by the commands: argument parsing, the
 * connection, error reporting, label map entries and List. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int cli_usage(struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "strata: %s: ", cli->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'strata help %s'.\n", cli->cmd);
	return CLI_USAGE;
}

int cli_fail(struct cli *cli, const char *obj, const struct err *e)
{
	fprintf(stderr, "strata: %s", cli->cmd);
	if (obj) {
		fputc(' ', stderr);
		out_text(stderr, obj);
	}
	fprintf(stderr, ": %s: ", status_name(e->code));
	out_text(stderr, e->msg);
	fputc('\n', stderr);
	return CLI_FAIL;
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
		     {"--name", CLI_OPT_NAME, set_name},       {"--jobs", CLI_OPT_JOBS, set_jobs}};
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

int cli_connect(struct cli *cli, struct err *e)
{
	if (cli->conn.fd >= 0)
		return 0;
	cleanup_free char *path = xasprintf("%s.fd", cli->address);
	if (client_connect(&cli->conn, path, e) < 0)
		return -1;
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
