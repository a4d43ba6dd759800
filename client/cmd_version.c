/* version: the client's version, and the daemon's with the features it
 * serves (NM_VERSION).  The client's comes first, so that it is printed
 * even when the daemon cannot be reached. */
#include <stdio.h>

#include "cli.h"
#include "../common/args.h"
#include "../common/util.h"

typedef Strata__V1__VersionRequest version_req;
typedef Strata__V1__VersionResponse version_resp;

static void print_human(const char *path, const version_resp *r)
{
	printf("daemon:   stratad %s at ", r->version);
	out_text(stdout, path);
	fputs("\nfeatures:", stdout);
	for (size_t i = 0; i < r->n_features; i++) {
		fputc(' ', stdout);
		out_text(stdout, r->features[i]);
	}
	if (r->n_features == 0)
		fputs(" -", stdout);
	fputs("\ntenant:   ", stdout);
	out_text(stdout, *r->tenant ? r->tenant : "- (no tenant's: every other call is refused)");
	fputc('\n', stdout);
}

static void print_json(const char *path, const version_resp *r)
{
	struct jw w;
	jw_init(&w, stdout);
	jw_obj_begin(&w, NULL);
	jw_obj_begin(&w, "client");
	jw_str(&w, "version", STRATA_VERSION);
	jw_obj_end(&w);
	if (r) {
		jw_obj_begin(&w, "daemon");
		jw_str(&w, "version", r->version);
		jw_str(&w, "address", path);
		jw_arr_begin(&w, "features");
		for (size_t i = 0; i < r->n_features; i++)
			jw_str(&w, NULL, r->features[i]);
		jw_arr_end(&w);
		jw_str(&w, "tenant", r->tenant);
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
	jw_finish(&w);
}

static int run_version(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_parse(cli, &cli_cmd_version, argc, argv, 0, 0, 0, &a);
	int help = a.help;
	cli_args_free(&a);
	if (rc != CLI_OK || help)
		return rc;
	version_req req = STRATA__V1__VERSION_REQUEST__INIT;
	ProtobufCMessage *out = NULL;
	struct err e;
	cleanup_free char *path = cli_native_path(cli->address);
	if (!cli->json)
		printf("client:   strata %s\n", STRATA_VERSION);
	fflush(stdout); /* before any error on stderr */
	if (cli_unary(cli, NM_VERSION, &req.base, &strata__v1__version_response__descriptor, &out, &e) < 0) {
		if (cli->json)
			print_json(path, NULL);
		return cli_fail(cli, NULL, &e);
	}
	if (!out) {
		rc = cli_fail(cli, NULL, &(struct err){ST_INTERNAL, "the daemon sent no version"});
	} else if (cli->json) {
		print_json(path, (const version_resp *)out);
	} else {
		print_human(path, (const version_resp *)out);
	}
	if (out)
		protobuf_c_message_free_unpacked(out, NULL);
	return rc;
}

const struct cli_cmd cli_cmd_version = {
    .name = "version",
    .synopsis = "",
    .summary = "the client's version, and the daemon's with the features it serves",
    .help = "Prints `client: strata VERSION`, then asks the daemon (any peer that can\n"
	    "connect may) for its version, the features it serves and the caller's tenant:\n"
	    "  audit            calls are written to audit_log\n"
	    "  diff_service     containerd's Diff and Apply (content_root is set)\n"
	    "  fsck             strata fsck\n"
	    "  idmap            strata mount --idmap\n"
	    "  mount_fd         strata mount, and mount fds for library clients\n"
	    "  parallel_unpack  layers applied before their parents are committed\n"
	    "  probe            strata debug probe (enable_probe)\n"
	    "  tenants          [tenant NAME] sections are configured\n"
	    "When the daemon cannot be reached, the client's line is printed and the\n"
	    "error, and the exit status is 4.  `strata --version` prints the client's only.\n"
	    "--json: {\"client\":{\"version\"},\"daemon\":{\"version\",\"address\",\"features\":[...],\n"
	    "\"tenant\"}}\n",
    .run = run_version,
};
