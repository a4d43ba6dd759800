/* debug probe ROLE SYSCALL KEY [--hold MS]: asks the daemon (run with
 * enable_probe) to start a worker confined as ROLE, its view built on
 * snapshot KEY, that tries SYSCALL.  The
 * pid is printed (and flushed) as soon as the worker runs, so that a test can
 * inspect the confined process from outside while it holds. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "../common/util.h"

struct probe_result {
	struct cli *cli;
	int32_t pid;
	int done;
	int64_t ret;
	int32_t errno_value;
};

static int on_probe(const ProtobufCMessage *msg, struct client_record *r, void *ctx, struct err *e)
{
	const Strata__V1__ProbeResponse *p = (const Strata__V1__ProbeResponse *)msg;
	struct probe_result *res = ctx;
	if (p->pid > 0 && res->pid == 0) {
		res->pid = p->pid;
		if (!res->cli->json) {
			printf("pid %d\n", (int)p->pid);
			fflush(stdout);
		}
	}
	if (p->done) {
		res->done = 1;
		res->ret = p->ret;
		res->errno_value = p->errno_value;
	}
	return 0;
}

static void print_result(struct cli *cli, const struct probe_result *res)
{
	if (cli->json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_int(&w, "pid", res->pid);
		jw_bool(&w, "done", res->done);
		jw_int(&w, "ret", res->ret);
		jw_int(&w, "errno_value", res->errno_value);
		jw_obj_end(&w);
		jw_finish(&w);
	} else {
		printf("ret %lld errno %d\n", (long long)res->ret, (int)res->errno_value);
	}
}

static int probe(struct cli *cli, const struct cli_args *a)
{
	Strata__V1__ProbeRequest req = STRATA__V1__PROBE_REQUEST__INIT;
	struct probe_result res = {.cli = cli};
	struct err e;
	req.role = a->pos[1];
	req.syscall = a->pos[2];
	req.key = a->pos[3];
	req.hold_ms = a->hold_ms;
	cleanup_free char *what = xasprintf("probe %s %s", a->pos[1], a->pos[2]);
	if (cli_connect(cli, &e) < 0 ||
	    client_call(&cli->conn, NM_PROBE, &req.base, NULL, 0, &strata__v1__probe_response__descriptor,
			on_probe, &res, &e) < 0)
		return cli_fail(cli, what, &e);
	if (!res.done)
		return cli_fail(cli, what, &(struct err){ST_INTERNAL, "the probe ended without a result"});
	print_result(cli, &res);
	return CLI_OK;
}

static int run_debug(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_parse(cli, &cli_cmd_debug, argc, argv, CLI_OPT_HOLD, 1, 4, &a);
	if (rc == CLI_OK && !a.help) {
		if (strcmp(a.pos[0], "probe") != 0)
			rc = cli_usage(cli, "unknown debug command `%s`", a.pos[0]);
		else if (a.npos != 4)
			rc = cli_usage(cli, "usage: strata debug %s", cli_cmd_debug.synopsis);
		else
			rc = probe(cli, &a);
	}
	cli_args_free(&a);
	return rc;
}

const struct cli_cmd cli_cmd_debug = {
    .name = "debug",
    .synopsis = "probe ROLE SYSCALL KEY [--hold MS]",
    .summary = "policy probe: try SYSCALL in a worker confined as ROLE",
    .help = "The worker's view is built on snapshot KEY's directory.  Needs a daemon\n"
	    "started with enable_probe.  Prints `pid N` as soon as the worker runs (it\n"
	    "waits MS milliseconds, confined, before the attempt), then `ret R errno E`.\n"
	    "A worker killed by its policy ends with an error status (exit 1).\n"
	    "--json: {\"pid\",\"done\",\"ret\",\"errno_value\"} at the end.\n",
    .run = run_debug,
};
