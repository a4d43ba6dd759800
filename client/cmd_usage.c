/* usage [KEY]: disk usage of one snapshot, or of every snapshot and the
 * total (List, then Usage for each). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef Containerd__Services__Snapshots__V1__UsageRequest usage_req;
typedef Containerd__Services__Snapshots__V1__UsageResponse usage_resp;

static int usage_of(struct cli *cli, const char *key, int64_t *size, int64_t *inodes, struct err *e)
{
	usage_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__USAGE_REQUEST__INIT;
	ProtobufCMessage *out;
	req.snapshotter = CLI_SNAPSHOTTER;
	req.key = (char *)key;
	if (cli_unary(cli, NM_USAGE, &req.base,
		      &containerd__services__snapshots__v1__usage_response__descriptor, &out, e) < 0)
		return -1;
	*size = out ? ((usage_resp *)out)->size : 0;
	*inodes = out ? ((usage_resp *)out)->inodes : 0;
	if (out)
		protobuf_c_message_free_unpacked(out, NULL);
	return 0;
}

static int usage_one(struct cli *cli, const char *key)
{
	struct err e;
	int64_t size, inodes;
	char human[32];
	if (usage_of(cli, key, &size, &inodes, &e) < 0)
		return cli_fail(cli, key, &e);
	if (cli->json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "name", key);
		jw_int(&w, "size", size);
		jw_int(&w, "inodes", inodes);
		jw_obj_end(&w);
		jw_finish(&w);
	} else {
		format_size(human, sizeof human, size);
		printf("size:   %s (%lld bytes)\ninodes: %lld\n", human, (long long)size, (long long)inodes);
	}
	return CLI_OK;
}

static void row(const char *name, int width, int64_t size, int64_t inodes)
{
	char human[32];
	format_size(human, sizeof human, size);
	out_text(stdout, name);
	printf("%*s  %10s  %10lld\n", width - out_text_width(name), "", human, (long long)inodes);
}

static int usage_all(struct cli *cli, int quiet)
{
	struct cli_infos l;
	struct err e;
	struct jw w;
	int rc = CLI_OK, width = 5;
	int64_t total_size = 0, total_inodes = 0;
	if (cli_list(cli, NULL, 0, &l, &e) < 0)
		return cli_fail(cli, NULL, &e);
	if (quiet) { /* the keys, as `ls -q`: no Usage call */
		for (size_t i = 0; i < l.n; i++) {
			out_text(stdout, l.v[i]->name);
			fputc('\n', stdout);
		}
		cli_infos_free(&l);
		return CLI_OK;
	}
	for (size_t i = 0; i < l.n; i++)
		if (out_text_width(l.v[i]->name) > width)
			width = out_text_width(l.v[i]->name);
	if (cli->json) {
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_arr_begin(&w, "usage");
	} else {
		printf("%-*s  %10s  %10s\n", width, "NAME", "SIZE", "INODES");
	}
	for (size_t i = 0; i < l.n; i++) {
		int64_t size, inodes;
		const char *name = l.v[i]->name;
		if (usage_of(cli, name, &size, &inodes, &e) < 0) {
			if (e.code != ST_NOT_FOUND) /* NotFound: removed since List */
				rc = cli_fail(cli, name, &e);
			continue;
		}
		total_size += size;
		total_inodes += inodes;
		if (cli->json) {
			jw_obj_begin(&w, NULL);
			jw_str(&w, "name", name);
			jw_int(&w, "size", size);
			jw_int(&w, "inodes", inodes);
			jw_obj_end(&w);
		} else {
			row(name, width, size, inodes);
		}
	}
	if (cli->json) {
		jw_arr_end(&w);
		jw_obj_begin(&w, "total");
		jw_int(&w, "size", total_size);
		jw_int(&w, "inodes", total_inodes);
		jw_obj_end(&w);
		jw_obj_end(&w);
		jw_finish(&w);
	} else {
		row("TOTAL", width, total_size, total_inodes);
	}
	cli_infos_free(&l);
	return rc;
}

static int run_usage(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_parse(cli, &cli_cmd_usage, argc, argv, CLI_OPT_QUIET, 0, 1, &a);
	if (rc == CLI_OK && !a.help && a.quiet && a.npos)
		rc = cli_usage(cli, "-q lists every snapshot's key: give no KEY");
	else if (rc == CLI_OK && !a.help)
		rc = a.npos ? usage_one(cli, a.pos[0]) : usage_all(cli, a.quiet);
	cli_args_free(&a);
	return rc;
}

const struct cli_cmd cli_cmd_usage = {
    .name = "usage",
    .synopsis = "[-q] [KEY]",
    .summary = "disk usage (size, inodes) of KEY, or of every snapshot and the total",
    .help = "Committed snapshots report the usage measured at commit; active ones are\n"
	    "measured now.  -q, --quiet: the keys of the table only, one per line.  --json: "
	    "{\"name\",\"size\",\"inodes\"} for KEY, else\n"
	    "{\"usage\":[{\"name\",\"size\",\"inodes\"}...],\"total\":{\"size\",\"inodes\"}}.\n",
    .run = run_usage,
};
