/* strata: the command-line client of stratad's native socket.
 *
 *   strata [--address PATH] [--tenant NAME] [--json] COMMAND [ARGS...]
 *
 * Global options may appear anywhere before `--`; the command parses the
 * rest (cli.c).  Exit codes tell the class of error (cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../common/args.h"
#include "../common/config.h"
#include "../common/util.h"

static const struct cli_cmd *const commands[] = {
    &cli_cmd_prepare, &cli_cmd_view,   &cli_cmd_mounts,	 &cli_cmd_commit, &cli_cmd_rm,	    &cli_cmd_stat,
    &cli_cmd_ls,      &cli_cmd_usage,  &cli_cmd_label,	 &cli_cmd_share,  &cli_cmd_tree,    &cli_cmd_cleanup,
    &cli_cmd_apply,   &cli_cmd_import, &cli_cmd_diff,	 &cli_cmd_export, &cli_cmd_mount,   &cli_cmd_umount,
    &cli_cmd_fsck,    &cli_cmd_debug,  &cli_cmd_version, &cli_cmd_health, &cli_cmd_metrics,
};

/* `help` is no entry of the table (main() runs it): this is its help. */
static const struct cli_cmd cmd_help = {
    .name = "help",
    .synopsis = "[COMMAND]",
    .summary = "this tool's help, or COMMAND's usage (as `strata COMMAND --help`)",
    .help = "",
};

static const struct cli_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static void print_tool_help(FILE *f)
{
	fprintf(f,
		"Usage: strata [--address PATH] [--tenant NAME] [--json] COMMAND [ARGS...]\n\n"
		"Manage stratad's snapshots through its native socket (ADDRESS.fd).\n\n"
		"Options (anywhere before `--`):\n"
		"  --address PATH  daemon address (default $STRATA_ADDRESS, else %s);\n"
		"                  the CLI uses its native socket PATH.fd (PATH itself when\n"
		"                  it ends in .fd)\n"
		"  --tenant NAME   act as tenant NAME (root only; default $STRATA_TENANT,\n"
		"                  else root acts as `containerd`, anyone else as its own)\n"
		"  --json          print one JSON document on stdout (keys in snake_case);\n"
		"                  errors are one JSON object a line on stderr:\n"
		"                  {\"code\":\"not_found\",\"message\",\"command\",\"object\"}\n"
		"  -h, --help      this help; `strata COMMAND --help` for a command\n"
		"  --version       the client's version (`strata version`: the daemon's too)\n\n"
		"Commands:\n",
		STRATA_DEFAULT_ADDRESS);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "  help     `strata help COMMAND`: a command's usage\n\n"
		   "Exit status:\n"
		   "  0  success\n"
		   "  1  a call failed (the message names the status, e.g. FailedPrecondition)\n"
		   "  2  usage error (unknown command or option, bad arguments, a bad filter)\n"
		   "  3  not found (NotFound: no such snapshot, tenant or file)\n"
		   "  4  the daemon is unreachable or unavailable (not running, socket gone)\n"
		   "  5  permission denied (the socket, or PermissionDenied from the daemon)\n"
		   "  130  interrupted (Ctrl-C: 128 + the signal)\n"
		   "(`strata fsck` keeps 1 for disagreements and 2 for its other errors.)\n");
}

/* --json, given anywhere before `--`: errors found before the command
 * runs are JSON too. */
static int wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			return 1;
	return 0;
}

/* Takes the global options out of argv (in place); returns the new argc or
 * -1 after a usage message. */
static int take_globals(struct cli *cli, int argc, char **argv, int *help, int *version)
{
	int out = 1, options_done = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (options_done) {
			argv[out++] = argv[i];
		} else if (strcmp(arg, "--") == 0) {
			options_done = 1; /* the command sees it too: its arguments end there */
			argv[out++] = argv[i];
		} else if (strcmp(arg, "--json") == 0) {
			cli->json = 1;
		} else if (strcmp(arg, "--address") == 0) {
			if (i + 1 >= argc)
				return cli_usage_error(cli->json, NULL, "--address needs a value"), -1;
			cli->address = argv[++i];
		} else if (strncmp(arg, "--address=", 10) == 0) {
			cli->address = arg + 10;
		} else if (strcmp(arg, "--tenant") == 0) {
			if (i + 1 >= argc)
				return cli_usage_error(cli->json, NULL, "--tenant needs a value"), -1;
			cli->tenant = argv[++i];
		} else if (strncmp(arg, "--tenant=", 9) == 0) {
			cli->tenant = arg + 9;
		} else if (out == 1 && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
			*help = 1; /* before the command: the tool's help */
		} else if (out == 1 && strcmp(arg, "--version") == 0) {
			*version = 1;
		} else {
			argv[out++] = argv[i];
		}
	}
	argv[out] = NULL;
	return out;
}

static int run_help(struct cli *cli, int argc, char **argv)
{
	cli->cmd = "help";
	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		cli_print_help(&cmd_help);
		return CLI_OK;
	}
	if (argc > 2)
		return cli_usage(cli, "too many arguments (usage: strata help [COMMAND])");
	if (argc < 2) {
		print_tool_help(stdout);
		return CLI_OK;
	}
	const struct cli_cmd *cmd = strcmp(argv[1], "help") == 0 ? &cmd_help : find_command(argv[1]);
	if (!cmd)
		return cli_usage(cli, "unknown command `%s`", argv[1]);
	cli_print_help(cmd);
	return CLI_OK;
}

int main(int argc, char **argv)
{
	struct cli cli = {.conn = {.fd = -1}};
	int help = 0, version = 0;
	cli.address = getenv("STRATA_ADDRESS");
	if (!cli.address || !*cli.address)
		cli.address = STRATA_DEFAULT_ADDRESS;
	cli.tenant = getenv("STRATA_TENANT");
	if (cli.tenant && !*cli.tenant)
		cli.tenant = NULL;

	cli.json = wants_json(argc, argv);
	argc = take_globals(&cli, argc, argv, &help, &version);
	if (argc < 0)
		return CLI_USAGE;
	if (help) {
		print_tool_help(stdout);
		return CLI_OK;
	}
	if (version) {
		printf(cli.json ? "{\"client\":{\"version\":\"%s\"}}\n" : "strata %s\n", STRATA_VERSION);
		return CLI_OK;
	}
	if (argc < 2 && cli.json)
		return cli_usage_error(1, NULL, "no command given (`strata --help` lists them)");
	if (argc < 2) {
		print_tool_help(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "help") == 0)
		return run_help(&cli, argc - 1, argv + 1);
	const struct cli_cmd *cmd = find_command(argv[1]);
	if (!cmd) {
		char msg[128];
		snprintf(msg, sizeof msg, "unknown command `%.80s`", argv[1]);
		return cli_usage_error(cli.json, NULL, msg);
	}
	cli.cmd = cmd->name;
	int rc = cmd->run(&cli, argc - 1, argv + 1);
	client_close(&cli.conn);
	if (fflush(stdout) != 0 && rc == CLI_OK) {
		perror("strata: write to stdout");
		rc = CLI_FAIL;
	}
	return rc;
}
