/* The strata CLI's shared pieces: the command table entry, argument
 * parsing, the connection and the error/exit conventions.
 *
 * Exit codes tell the class of error (`strata --help` and the README list
 * them): 0 success, 1 a call failed, 2 usage error, 3 not found, 4 the
 * daemon is unreachable (or unavailable), 5 permission denied. */
#ifndef STRATA_CLIENT_CLI_H
#define STRATA_CLIENT_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include "client.h"
#include "output.h"

#define CLI_OK		0
#define CLI_FAIL	1
#define CLI_USAGE	2
#define CLI_NOT_FOUND	3
#define CLI_UNREACHABLE 4
#define CLI_DENIED	5

/* The snapshotter name put in every request. */
#define CLI_SNAPSHOTTER "strata"

struct cli {
	const char *address; /* gRPC address; the native socket is ADDRESS.fd (ADDRESS when it ends so) */
	const char *tenant;  /* --tenant: root acts as this tenant; NULL: its own */
	int json;
	const char *cmd;    /* command name, for messages */
	struct client conn; /* fd -1 until cli_connect() */
	int connect_failed; /* the last cli_connect() failed: its message stands alone */
	int interrupt_said; /* the command has its own Ctrl-C message (cli_interrupt_catch) */
};

struct cli_cmd {
	const char *name;
	const char *synopsis; /* arguments after the name */
	const char *summary;  /* one line, for `strata --help` */
	const char *help;     /* the rest of `strata help NAME` */
	int (*run)(struct cli *cli, int argc, char **argv);
};

/* Options a command accepts besides -h/--help. */
enum {
	CLI_OPT_LABEL = 1,
	CLI_OPT_HOLD = 2,
	CLI_OPT_DIGEST = 4,
	CLI_OPT_PLATFORM = 8,
	CLI_OPT_NAME = 16,
	CLI_OPT_JOBS = 32,
	CLI_OPT_QUIET = 64,   /* -q, --quiet: keys only, one per line */
	CLI_OPT_FORMAT = 128, /* --format TEMPLATE (output.h) */
};

struct cli_label {
	const char *key;
	const char *value; /* "" for `K=` */
};

struct cli_args {
	char **pos; /* positional arguments (pointers into argv) */
	int npos;
	struct cli_label *labels;
	size_t nlabels;
	uint32_t hold_ms;
	const char *digest;   /* --digest sha256:HEX (checked), or NULL */
	const char *platform; /* --platform OS/ARCH[/VARIANT] (unchecked), or NULL */
	const char *name;     /* --name REF (non-empty, no whitespace), or NULL */
	unsigned jobs;	      /* --jobs N (1..1024), or 0 */
	int quiet;	      /* -q, --quiet */
	const char *format;   /* --format TEMPLATE (checked by the command), or NULL */
	int help;	      /* -h/--help was given: help printed, exit 0 */
};

/* Parses argv[1..] (argv[0] is the command word): options in `opts`
 * anywhere, `--` ends options.  Checks min <= positional <= max (max < 0:
 * unbounded).  Returns CLI_OK, or CLI_USAGE after printing the error. */
int cli_parse(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv, unsigned opts, int min,
	      int max, struct cli_args *a);
void cli_args_free(struct cli_args *a);
/* Splits "K=V" (K non-empty); V may be empty. */
int cli_split_label(const char *s, struct cli_label *l);

/* The native socket's path for address: ADDRESS.fd, or address itself
 * when it ends in `.fd` already.  Free it. */
char *cli_native_path(const char *address);
/* Connects on first use.  A socket that is not there, or where nothing
 * listens, is Unavailable; one the caller may not open, PermissionDenied;
 * each message says what to do. */
int cli_connect(struct cli *cli, struct err *e);
/* Until cli_interrupt_release(): SIGINT, SIGTERM and SIGHUP print
 * `strata: MESSAGE` (what is left behind, what to do) on stderr, over a
 * progress line, and exit 128 + the signal (130 for Ctrl-C).  The message
 * is made now: the handler only writes it.  A signal ignored on entry
 * (nohup) stays ignored. */
void cli_interrupt_catch(struct sigaction old[3], const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_interrupt_release(const struct sigaction old[3]);

/* The exit status for a failed call's status code. */
int cli_exit_code(int status);
/* The status code in snake case, as --json errors give it ("not_found"). */
const char *cli_status_key(int status);
/* Prints `strata: CMD OBJ: Status: message` (with --json, one object
 * {"code","message","command"[,"object"]} on stderr) and returns the exit
 * status of e's class; obj may be NULL. */
int cli_fail(struct cli *cli, const char *obj, const struct err *e);
/* Prints `strata: CMD: message` and a hint (with --json, {"code":"usage",...}),
 * returns CLI_USAGE. */
int cli_usage(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for errors before a command is known (cmd NULL). */
int cli_usage_error(int json, const char *cmd, const char *msg);
void cli_print_help(const struct cli_cmd *cmd);

/* Builds map entries of descriptor d (a generated LabelsEntry) from
 * labels, skipping empty values when skip_empty; free with
 * cli_free_entries(). */
void **cli_label_entries(const ProtobufCMessageDescriptor *d, const struct cli_label *l, size_t n,
			 int skip_empty, size_t *count);
void cli_free_entries(void **entries, size_t n);

/* One unary call on the CLI's connection. */
int cli_unary(struct cli *cli, uint32_t method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp, ProtobufCMessage **out, struct err *e);

/* A filter of List (containerd's syntax, broker/filter.h) that no
 * snapshot could match because of its form: a selector of a field other
 * than name, parent, kind and labels.KEY, or of a kind other than active,
 * view and committed.  -1 with the reason in err; syntax the daemon judges. */
int cli_check_filter(const char *filter, char *err, size_t errlen);

/* Every snapshot (List, all batches), sorted by name; free with
 * cli_infos_free(). */
struct cli_infos {
	snap_info_msg **v;
	size_t n;
	ProtobufCMessage **batches;
	size_t nbatches;
};
int cli_list(struct cli *cli, char **filters, size_t nfilters, struct cli_infos *out, struct err *e);
void cli_infos_free(struct cli_infos *l);

/* The result of applying a layer (strata.v1.ApplyLayerResponse, done). */
struct cli_applied {
	char *diff_id, *digest;
	int64_t compressed_size, uncompressed_size, entries;
};

/* Applies the layer read from fd (closed here, always) to active snapshot
 * key; expected_digest may be NULL, expected_size < 0 when unknown.  On a
 * terminal, a progress line titled `what` is drawn on stderr.  Free the
 * result with cli_applied_free(). */
int cli_apply_fd(struct cli *cli, const char *key, int fd, const char *expected_digest, int64_t expected_size,
		 const char *what, struct cli_applied *out, struct err *e);
void cli_applied_free(struct cli_applied *r);

extern const struct cli_cmd cli_cmd_prepare, cli_cmd_view, cli_cmd_mounts, cli_cmd_commit, cli_cmd_rm,
    cli_cmd_stat, cli_cmd_ls, cli_cmd_usage, cli_cmd_label, cli_cmd_share, cli_cmd_tree, cli_cmd_cleanup,
    cli_cmd_debug, cli_cmd_apply, cli_cmd_import, cli_cmd_diff, cli_cmd_export, cli_cmd_mount, cli_cmd_umount,
    cli_cmd_fsck, cli_cmd_metrics, cli_cmd_health, cli_cmd_version;

#endif
