/* Commands for operators: `strata metrics` prints the daemon's Prometheus
 * exposition (native NM_METRICS, as HTTP GET /metrics on metrics_address
 * serves it), `strata health` its health check (NM_HEALTH, as
 * grpc.health.v1 Check answers on the gRPC socket). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int run_metrics(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_parse(cli, &cli_cmd_metrics, argc, argv, 0, 0, 0, &a);
	if (rc != CLI_OK || a.help) {
		cli_args_free(&a);
		return rc;
	}
	cli_args_free(&a);
	if (cli->json)
		return cli_usage(cli, "metrics: the exposition is text; --json does not apply");
	Strata__V1__MetricsRequest req = STRATA__V1__METRICS_REQUEST__INIT;
	ProtobufCMessage **msgs = NULL;
	size_t n = 0;
	struct err e;
	if (cli_connect(cli, &e) < 0 ||
	    client_collect(&cli->conn, NM_METRICS, &req.base, &strata__v1__metrics_response__descriptor,
			   &msgs, &n, &e) < 0)
		return cli_fail(cli, NULL, &e);
	for (size_t i = 0; i < n; i++) {
		const Strata__V1__MetricsResponse *r = (const void *)msgs[i];
		fwrite(r->text.data, 1, r->text.len, stdout);
	}
	client_free_msgs(msgs, n);
	return CLI_OK;
}

const struct cli_cmd cli_cmd_metrics = {
    .name = "metrics",
    .synopsis = "",
    .summary = "print the daemon's metrics (Prometheus text format)",
    .help = "Prints what HTTP GET /metrics on stratad's metrics_address serves: the\n"
	    "Prometheus text exposition (version 0.0.4) of the calls, jobs, workers,\n"
	    "snapshots and metadata store.  For root and the default tenant's users only.\n",
    .run = run_metrics,
};

static int run_health(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_parse(cli, &cli_cmd_health, argc, argv, 0, 0, 1, &a);
	if (rc != CLI_OK || a.help) {
		cli_args_free(&a);
		return rc;
	}
	Strata__V1__HealthRequest req = STRATA__V1__HEALTH_REQUEST__INIT;
	ProtobufCMessage *out;
	struct err e;
	req.service = a.npos ? a.pos[0] : "";
	rc = cli_unary(cli, NM_HEALTH, &req.base, &strata__v1__health_response__descriptor, &out, &e);
	if (rc < 0) {
		rc = cli_fail(cli, NULL, &e);
		cli_args_free(&a);
		return rc;
	}
	const Strata__V1__HealthResponse *r = (const void *)out;
	int serving = !strcmp(r->status, "SERVING");
	if (cli->json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "status", r->status);
		jw_arr_begin(&w, "problems");
		for (size_t i = 0; i < r->n_problems; i++)
			jw_str(&w, NULL, r->problems[i]);
		jw_arr_end(&w);
		jw_obj_end(&w);
		jw_finish(&w);
	} else {
		printf("%s\n", r->status);
		for (size_t i = 0; i < r->n_problems; i++) {
			fputs("  ", stdout);
			out_text(stdout, r->problems[i]);
			fputc('\n', stdout);
		}
	}
	protobuf_c_message_free_unpacked(out, NULL);
	cli_args_free(&a);
	return serving ? CLI_OK : CLI_FAIL;
}

const struct cli_cmd cli_cmd_health = {
    .name = "health",
    .synopsis = "[SERVICE]",
    .summary = "check that the daemon serves (SERVING or NOT_SERVING)",
    .help = "Asks the daemon what grpc.health.v1.Health/Check answers on its gRPC socket:\n"
	    "SERVING when the broker reached the parent and the spawner and the metadata\n"
	    "store took a write, within 2 s; else NOT_SERVING, with what failed.  SERVICE:\n"
	    "containerd.services.snapshots.v1.Snapshots or containerd.services.diff.v1.Diff\n"
	    "(default: the whole daemon).  Exit 0 SERVING, 1 NOT_SERVING or a failed call.\n",
    .run = run_health,
};
