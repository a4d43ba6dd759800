/* strata: the command-line client of stratad's native socket.
 *
 *   strata [--address PATH] [--tenant NAME] [--json] COMMAND [ARGS...]
 *
 * Global options may appear anywhere before `--`; the command parses the
 * rest (cli.c).  Exit 0 on success, 1 when a call failed, 2 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../common/config.h"
#include "../common/util.h"

static const struct cli_cmd *const commands[] = {
    &cli_cmd_prepare, &cli_cmd_view,   &cli_cmd_mounts, &cli_cmd_commit,  &cli_cmd_rm,	  &cli_cmd_stat,
    &cli_cmd_ls,      &cli_cmd_usage,  &cli_cmd_label,	&cli_cmd_share,	  &cli_cmd_tree,  &cli_cmd_cleanup,
    &cli_cmd_apply,   &cli_cmd_import, &cli_cmd_diff,	&cli_cmd_export,  &cli_cmd_mount, &cli_cmd_umount,
    &cli_cmd_fsck,    &cli_cmd_debug,  &cli_cmd_health, &cli_cmd_metrics,
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
		"  --address PATH  daemon address (default $STRATA_ADDRESS, else %s)\n"
		"  --tenant NAME   act as tenant NAME (root only; default $STRATA_TENANT,\n"
		"                  else root acts as `containerd`, anyone else as its own)\n"
		"  --json          print one JSON document on stdout\n"
		"  -h, --help      this help; `strata COMMAND --help` for a command\n\n"
		"Commands:\n",
		STRATA_DEFAULT_ADDRESS);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "  help     `strata help COMMAND`: a command's usage\n\n"
		   "Exit status: 0 success, 1 a call failed, 2 usage error.\n");
}

/* Takes the global options out of argv (in place); returns the new argc or
 * -1 after a usage message. */
static int take_globals(struct cli *cli, int argc, char **argv, int *help)
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
			if (i + 1 >= argc) {
				fprintf(stderr, "strata: --address needs a value\n");
				return -1;
			}
			cli->address = argv[++i];
		} else if (strncmp(arg, "--address=", 10) == 0) {
			cli->address = arg + 10;
		} else if (strcmp(arg, "--tenant") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "strata: --tenant needs a value\n");
				return -1;
			}
			cli->tenant = argv[++i];
		} else if (strncmp(arg, "--tenant=", 9) == 0) {
			cli->tenant = arg + 9;
		} else if (out == 1 && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
			*help = 1; /* before the command: the tool's help */
		} else {
			argv[out++] = argv[i];
		}
	}
	argv[out] = NULL;
	return out;
}

static int run_help(int argc, char **argv)
{
	if (argc < 2) {
		print_tool_help(stdout);
		return CLI_OK;
	}
	const struct cli_cmd *cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, "strata: help: unknown command `%s`\n", argv[1]);
		return CLI_USAGE;
	}
	cli_print_help(cmd);
	return CLI_OK;
}

int main(int argc, char **argv)
{
	struct cli cli = {.conn = {.fd = -1}};
	int help = 0;
	cli.address = getenv("STRATA_ADDRESS");
	if (!cli.address || !*cli.address)
		cli.address = STRATA_DEFAULT_ADDRESS;
	cli.tenant = getenv("STRATA_TENANT");
	if (cli.tenant && !*cli.tenant)
		cli.tenant = NULL;

	argc = take_globals(&cli, argc, argv, &help);
	if (argc < 0)
		return CLI_USAGE;
	if (help) {
		print_tool_help(stdout);
		return CLI_OK;
	}
	if (argc < 2) {
		print_tool_help(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "help") == 0)
		return run_help(argc - 1, argv + 1);
	const struct cli_cmd *cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, "strata: unknown command `%s`\nTry 'strata --help'.\n", argv[1]);
		return CLI_USAGE;
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
