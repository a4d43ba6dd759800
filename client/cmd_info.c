/* Commands that read or change snapshot metadata: stat, label, ls, tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../common/tenant.h"
#include "../common/util.h"

typedef Containerd__Services__Snapshots__V1__StatSnapshotRequest stat_req;
typedef Containerd__Services__Snapshots__V1__StatSnapshotResponse stat_resp;
typedef Containerd__Services__Snapshots__V1__UpdateSnapshotRequest update_req;
typedef Containerd__Services__Snapshots__V1__UpdateSnapshotResponse update_resp;

static void print_info(struct cli *cli, const snap_info_msg *i)
{
	if (cli->json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_info(&w, NULL, i);
		jw_finish(&w);
	} else {
		print_info_human(stdout, i);
	}
}

/* --format of ls and stat: compiled into *f; CLI_USAGE when it is bad. */
static int take_format(struct cli *cli, const struct cli_args *a, struct info_format *f)
{
	char msg[256];
	memset(f, 0, sizeof *f);
	if (a->format && a->quiet)
		return cli_usage(cli, "-q and --format exclude each other");
	if (a->format && info_format_parse(a->format, f, msg, sizeof msg) < 0)
		return cli_usage(cli, "%s", msg);
	return CLI_OK;
}

static int run_stat(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	struct info_format f = {0};
	int rc = cli_parse(cli, &cli_cmd_stat, argc, argv, CLI_OPT_FORMAT, 1, 1, &a);
	if (rc == CLI_OK && !a.help)
		rc = take_format(cli, &a, &f);
	if (rc == CLI_OK && !a.help) {
		stat_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
		struct err e;
		ProtobufCMessage *out;
		req.snapshotter = CLI_SNAPSHOTTER;
		req.key = a.pos[0];
		if (cli_unary(cli, NM_STAT, &req.base,
			      &containerd__services__snapshots__v1__stat_snapshot_response__descriptor, &out,
			      &e) < 0)
			rc = cli_fail(cli, a.pos[0], &e);
		else if (!out || !((stat_resp *)out)->info)
			rc = cli_fail(cli, a.pos[0], &(struct err){ST_INTERNAL, "the daemon sent no info"});
		else if (a.format)
			info_format_print(stdout, &f, ((stat_resp *)out)->info);
		else
			print_info(cli, ((stat_resp *)out)->info);
		if (out)
			protobuf_c_message_free_unpacked(out, NULL);
	}
	info_format_free(&f);
	cli_args_free(&a);
	return rc;
}

/* Update with the field mask `labels.K` for each K=V (K= removes K). */
static int update_labels(struct cli *cli, const char *key, const struct cli_args *a)
{
	Containerd__Services__Snapshots__V1__Info info = CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__INIT;
	Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
	update_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__UPDATE_SNAPSHOT_REQUEST__INIT;
	struct err e;
	ProtobufCMessage *out;
	int rc = CLI_OK;

	info.name = (char *)key;
	info.labels =
	    (void *)cli_label_entries(&containerd__services__snapshots__v1__info__labels_entry__descriptor,
				      a->labels, a->nlabels, 1, &info.n_labels);
	mask.paths = xcalloc(a->nlabels, sizeof *mask.paths);
	for (size_t i = 0; i < a->nlabels; i++)
		mask.paths[mask.n_paths++] = xasprintf("labels.%s", a->labels[i].key);
	req.snapshotter = CLI_SNAPSHOTTER;
	req.info = &info;
	req.update_mask = &mask;

	if (cli_unary(cli, NM_UPDATE, &req.base,
		      &containerd__services__snapshots__v1__update_snapshot_response__descriptor, &out,
		      &e) < 0)
		rc = cli_fail(cli, key, &e);
	else if (!out || !((update_resp *)out)->info)
		rc = cli_fail(cli, key, &(struct err){ST_INTERNAL, "the daemon sent no info"});
	else
		print_info(cli, ((update_resp *)out)->info);
	if (out)
		protobuf_c_message_free_unpacked(out, NULL);
	for (size_t i = 0; i < mask.n_paths; i++)
		free(mask.paths[i]);
	free(mask.paths);
	cli_free_entries((void **)info.labels, info.n_labels);
	return rc;
}

static int run_label(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_parse(cli, &cli_cmd_label, argc, argv, 0, 2, -1, &a);
	if (rc == CLI_OK && !a.help) {
		/* The K=V words are positional here: move them into a.labels. */
		a.labels = xcalloc((size_t)a.npos, sizeof *a.labels);
		for (int i = 1; i < a.npos && rc == CLI_OK; i++) {
			if (cli_split_label(a.pos[i], &a.labels[a.nlabels]) < 0)
				rc = cli_usage(cli, "`%s` is not KEY=VALUE (KEY= removes KEY)", a.pos[i]);
			else
				a.nlabels++;
		}
		if (rc == CLI_OK)
			rc = update_labels(cli, a.pos[0], &a);
	}
	cli_args_free(&a);
	return rc;
}

/* share NAME TENANT... | --all | --none: the label TENANT_SHARE_LABEL set
 * (or removed) by Update, as `label` would; the daemon checks the value. */
static int run_share(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int all = 0, none = 0, n = 0, rc;
	cleanup_free char *value = NULL;
	/* --all and --none take no value: cli_parse does not know them. */
	cleanup_free char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			while (i < argc)
				rest[n++] = argv[i++];
		else if (i > 0 && !strcmp(argv[i], "--all"))
			all = 1;
		else if (i > 0 && !strcmp(argv[i], "--none"))
			none = 1;
		else
			rest[n++] = argv[i];
	}
	rc = cli_parse(cli, &cli_cmd_share, n, rest, 0, 1, -1, &a);
	if (rc != CLI_OK || a.help)
		goto out;
	if (all + none + (a.npos > 1) != 1) {
		rc = cli_usage(cli, "name the tenants, or --all, or --none (usage: strata share %s)",
			       cli_cmd_share.synopsis);
		goto out;
	}
	value = xstrdup(all ? TENANT_SHARE_ALL : "");
	for (int i = 1; i < a.npos; i++) {
		char *v = xasprintf("%s%s%s", value, i > 1 ? "," : "", a.pos[i]);
		free(value);
		value = v;
	}
	struct cli_label label = {TENANT_SHARE_LABEL, value};
	struct cli_args update = {.labels = &label, .nlabels = 1};
	rc = update_labels(cli, a.pos[0], &update);
out:
	cli_args_free(&a);
	return rc;
}

/* A field no snapshot has or a kind that does not exist would list
 * nothing, without saying why (the daemon refuses syntax errors itself). */
static int check_filters(const struct cli_args *a, struct err *e)
{
	for (int i = 0; i < a->npos; i++)
		if (cli_check_filter(a->pos[i], e->msg, sizeof e->msg) < 0)
			return -1;
	return 0;
}

static int run_ls(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	struct cli_infos l;
	struct info_format f = {0};
	struct err e;
	int rc = cli_parse(cli, &cli_cmd_ls, argc, argv, CLI_OPT_QUIET | CLI_OPT_FORMAT, 0, -1, &a);
	if (rc != CLI_OK || a.help || (rc = take_format(cli, &a, &f)) != CLI_OK)
		goto out;
	if (check_filters(&a, &e) < 0) {
		rc = cli_usage(cli, "bad filter: %s", e.msg);
		goto out;
	}
	if (cli_list(cli, a.pos, (size_t)a.npos, &l, &e) < 0) {
		/* The filters are all the request says: the daemon refusing
		 * them (a regular expression past its limits) is a usage error. */
		if (e.code == ST_INVALID_ARGUMENT && !cli->connect_failed)
			rc = cli_usage(cli, "bad filter: %s", e.msg);
		else
			rc = cli_fail(cli, NULL, &e);
		goto out;
	}
	if (a.quiet) {
		for (size_t i = 0; i < l.n; i++) {
			out_text(stdout, l.v[i]->name);
			fputc('\n', stdout);
		}
	} else if (a.format) {
		for (size_t i = 0; i < l.n; i++)
			info_format_print(stdout, &f, l.v[i]);
	} else if (cli->json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_arr_begin(&w, "info");
		for (size_t i = 0; i < l.n; i++)
			jw_info(&w, NULL, l.v[i]);
		jw_arr_end(&w);
		jw_obj_end(&w);
		jw_finish(&w);
	} else {
		int wn = 4, wp = 6;
		for (size_t i = 0; i < l.n; i++) {
			if (out_text_width(l.v[i]->name) > wn)
				wn = out_text_width(l.v[i]->name);
			if (out_text_width(l.v[i]->parent) > wp)
				wp = out_text_width(l.v[i]->parent);
		}
		printf("%-*s  %-*s  %s\n", wn, "NAME", wp, "PARENT", "KIND");
		for (size_t i = 0; i < l.n; i++) {
			const char *p = l.v[i]->parent;
			out_text(stdout, l.v[i]->name);
			printf("%*s  ", wn - out_text_width(l.v[i]->name), "");
			out_text(stdout, *p ? p : "-");
			printf("%*s  %s\n", wp - out_text_width(*p ? p : "-"), "", kind_name(l.v[i]->kind));
		}
	}
	cli_infos_free(&l);
out:
	info_format_free(&f);
	cli_args_free(&a);
	return rc;
}

/* The forest as index lists: kids[first[i] .. first[i+1]) are i's children
 * (sorted by name, as l->v is); parentless or orphaned nodes are roots. */
struct forest {
	size_t *parent; /* index, or SIZE_MAX for a root */
	size_t *first;
	size_t *kids;
};

static size_t find_name(const struct cli_infos *l, const char *name)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l->v[mid]->name, name);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

static void forest_build(const struct cli_infos *l, struct forest *f)
{
	size_t n = l->n;
	f->parent = xcalloc(n, sizeof *f->parent);
	f->first = xcalloc(n + 1, sizeof *f->first);
	f->kids = xcalloc(n, sizeof *f->kids);
	for (size_t i = 0; i < n; i++) {
		f->parent[i] = *l->v[i]->parent ? find_name(l, l->v[i]->parent) : SIZE_MAX;
		if (f->parent[i] != SIZE_MAX)
			f->first[f->parent[i] + 1]++;
	}
	for (size_t i = 0; i < n; i++)
		f->first[i + 1] += f->first[i];
	cleanup_free size_t *fill = xcalloc(n, sizeof *fill);
	for (size_t i = 0; i < n; i++) {
		size_t p = f->parent[i];
		if (p != SIZE_MAX)
			f->kids[f->first[p] + fill[p]++] = i;
	}
}

static void forest_free(struct forest *f)
{
	free(f->parent);
	free(f->first);
	free(f->kids);
}

static void tree_print(const struct cli_infos *l, const struct forest *f, size_t i, int depth, struct jw *w)
{
	if (w) {
		jw_obj_begin(w, NULL);
		jw_str(w, "name", l->v[i]->name);
		jw_str(w, "kind", kind_name(l->v[i]->kind));
		jw_arr_begin(w, "children");
	} else {
		printf("%*s", 2 * depth, "");
		out_text(stdout, l->v[i]->name);
		printf(" (%s)\n", kind_name(l->v[i]->kind));
	}
	for (size_t k = f->first[i]; k < f->first[i + 1]; k++)
		tree_print(l, f, f->kids[k], depth + 1, w);
	if (w) {
		jw_arr_end(w);
		jw_obj_end(w);
	}
}

static int run_tree(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	struct cli_infos l;
	struct forest f;
	struct jw w;
	struct err e;
	int rc = cli_parse(cli, &cli_cmd_tree, argc, argv, 0, 0, 0, &a);
	if (rc != CLI_OK || a.help)
		goto out;
	if (cli_list(cli, NULL, 0, &l, &e) < 0) {
		rc = cli_fail(cli, NULL, &e);
		goto out;
	}
	forest_build(&l, &f);
	if (cli->json) {
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_arr_begin(&w, "tree");
	}
	for (size_t i = 0; i < l.n; i++)
		if (f.parent[i] == SIZE_MAX)
			tree_print(&l, &f, i, 0, cli->json ? &w : NULL);
	if (cli->json) {
		jw_arr_end(&w);
		jw_obj_end(&w);
		jw_finish(&w);
	}
	forest_free(&f);
	cli_infos_free(&l);
out:
	cli_args_free(&a);
	return rc;
}

const struct cli_cmd cli_cmd_stat = {
    .name = "stat",
    .synopsis = "KEY [--format TEMPLATE]",
    .summary = "show a snapshot's name, parent, kind, times and labels",
    .help = "--json: the Info message with containerd's field names: {\"name\",\"parent\",\n"
	    "\"kind\":\"active\"|\"view\"|\"committed\",\"created_at\",\"updated_at\" (RFC "
	    "3339),\"labels\":{}}\n"
	    "--format TEMPLATE: as `strata ls --format`.\n",
    .run = run_stat,
};

const struct cli_cmd cli_cmd_label = {
    .name = "label",
    .synopsis = "KEY K=V...",
    .summary = "set labels (K= removes label K); prints the updated snapshot",
    .help = "Sends Update with the field mask `labels.K` for each K, so other labels stay.\n"
	    "--json: the updated Info, as `stat --json`.\n",
    .run = run_label,
};

const struct cli_cmd cli_cmd_share = {
    .name = "share",
    .synopsis = "NAME TENANT... | NAME --all | NAME --none",
    .summary = "share committed snapshot NAME read-only with tenants, all, or none",
    .help = "Sets the label " TENANT_SHARE_LABEL " of NAME to the TENANTs, comma-separated, or\n"
	    "`*` with --all; --none removes it.  Prints the updated snapshot, as `label`.\n"
	    "A tenant it is shared with, having no NAME of its own, may name it as the\n"
	    "parent of prepare and view, and stat it; nothing else.  Unsharing stops new\n"
	    "children; those made before keep it, and it cannot be removed while any\n"
	    "tenant's snapshot builds on it.  Only a committed snapshot may be shared.\n",
    .run = run_share,
};

const struct cli_cmd cli_cmd_ls = {
    .name = "ls",
    .synopsis = "[-q] [--format TEMPLATE] [FILTER...]",
    .summary = "list snapshots (table NAME PARENT KIND)",
    .help = "FILTERs are containerd filter expressions (e.g. 'parent==base'), passed\n"
	    "to List as they are; one the daemon refuses is a usage error (exit 2).\n"
	    "-q, --quiet: the names only, one per line.\n"
	    "--format TEMPLATE: one line per snapshot from a Go-style template, as in\n"
	    "docker, nerdctl and podman: {{.Name}} {{.Parent}} {{.Kind}} {{.Created}}\n"
	    "{{.Updated}} {{.Labels}} (K=V,...), {{json .}} or {{json .Labels}}; \\t and\n"
	    "\\n in the text are a tab and a newline.  E.g. --format '{{.Name}}\\t{{.Kind}}'.\n"
	    "--json: {\"info\":[Info...]} (ListSnapshotsResponse's shape, each Info as\n"
	    "`stat --json`), sorted by name.\n",
    .run = run_ls,
};

const struct cli_cmd cli_cmd_tree = {
    .name = "tree",
    .synopsis = "",
    .summary = "show the snapshot forest, children indented under their parent",
    .help = "--json: {\"tree\":[{\"name\",\"kind\",\"children\":[...]}]}\n"
	    "(For the names alone, `strata ls -q`.)\n",
    .run = run_tree,
};
