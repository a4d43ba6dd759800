/* diff KEY [--parent NAME] [-o FILE|-] [--media-type T] [--source-date-epoch N]:
 * writes the layer of KEY's changes (against its parent, or against NAME)
 * and prints its descriptor.  The CLI opens the output itself and passes
 * the fd over the native socket (NM_DIFF_LAYER): the daemon never opens a
 * path a client names, and its diff worker can write nowhere else. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"
#include "../common/util.h"

typedef Strata__V1__DiffLayerRequest diff_req;
typedef Strata__V1__DiffLayerResponse diff_resp;

#define MEDIA_TAR	   "application/vnd.oci.image.layer.v1.tar"
#define MEDIA_GZIP	   MEDIA_TAR "+gzip"
#define MEDIA_ZSTD	   MEDIA_TAR "+zstd"
#define UNCOMPRESSED_LABEL "containerd.io/uncompressed"

struct diff_opts {
	const char *key, *parent, *output, *media_type;
	int has_epoch;
	int64_t epoch;
};

struct diff_call {
	const char *key;
	struct progress progress; /* of the tar bytes written */
	int done;
	diff_resp *result; /* the done record, kept */
};

/* Short names for the three OCI layer types; a full type passes unchanged. */
static const char *media_type_of(const char *s)
{
	static const struct {
		const char *name, *type;
	} types[] = {{"tar", MEDIA_TAR}, {"gzip", MEDIA_GZIP}, {"zstd", MEDIA_ZSTD}};
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (strcmp(s, types[i].name) == 0 || strcmp(s, types[i].type) == 0)
			return types[i].type;
	return NULL;
}

/* Stores the value of option `name` (`--name V`, `--name=V`, or `-oV` for
 * the short form) in *v; returns 1 when argv[*i] was that option, 0 when
 * not, -1 when its value is missing (after a usage message). */
static int take_value(struct cli *cli, const char *name, int argc, char **argv, int *i, const char **v)
{
	const char *arg = argv[*i];
	size_t n = strlen(name);
	if (strncmp(arg, name, n) != 0)
		return 0;
	if (arg[n] == '=' && name[1] == '-') {
		*v = arg + n + 1;
		return 1;
	}
	if (arg[n] != 0 && name[1] != '-') { /* -oFILE */
		*v = arg + n;
		return 1;
	}
	if (arg[n] != 0)
		return 0;
	if (*i + 1 >= argc) {
		cli_usage(cli, "%s needs a value", name);
		return -1;
	}
	*v = argv[++*i];
	return 1;
}

static int check_opts(struct cli *cli, struct diff_opts *o, const char *media, const char *epoch)
{
	o->media_type = media_type_of(media);
	if (!o->media_type)
		return cli_usage(
		    cli, "--media-type `%s` is not tar, gzip, zstd or an OCI layer type (%s[+gzip|+zstd])",
		    media, MEDIA_TAR);
	if (epoch) {
		uint64_t v;
		if (parse_u64(epoch, &v) < 0 || v > INT64_MAX)
			return cli_usage(cli, "--source-date-epoch `%s` is not a number of seconds", epoch);
		o->has_epoch = 1;
		o->epoch = (int64_t)v;
	}
	if (o->parent && !*o->parent)
		return cli_usage(cli, "--parent needs a snapshot name");
	if (!*o->output)
		return cli_usage(cli, "-o needs a file name (or `-` for standard output)");
	return CLI_OK;
}

/* Returns CLI_OK with *help set after -h, CLI_OK with o filled, or CLI_USAGE. */
static int parse_diff(struct cli *cli, int argc, char **argv, struct diff_opts *o, int *help)
{
	const char *media = "gzip", *epoch = NULL;
	int options_done = 0, npos = 0;
	memset(o, 0, sizeof *o);
	o->output = "-";
	*help = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		int r;
		if (options_done || arg[0] != '-' || arg[1] == 0) {
			if (npos++ == 0)
				o->key = arg;
		} else if (strcmp(arg, "--") == 0) {
			options_done = 1;
		} else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			cli_print_help(&cli_cmd_diff);
			*help = 1;
			return CLI_OK;
		} else if ((r = take_value(cli, "--parent", argc, argv, &i, &o->parent)) ||
			   (r = take_value(cli, "--output", argc, argv, &i, &o->output)) ||
			   (r = take_value(cli, "-o", argc, argv, &i, &o->output)) ||
			   (r = take_value(cli, "--media-type", argc, argv, &i, &media)) ||
			   (r = take_value(cli, "--source-date-epoch", argc, argv, &i, &epoch))) {
			if (r < 0)
				return CLI_USAGE;
		} else {
			return cli_usage(cli, "unknown option `%s`", arg);
		}
	}
	if (npos != 1)
		return cli_usage(cli, "%s arguments (usage: strata diff %s)", npos ? "too many" : "missing",
				 cli_cmd_diff.synopsis);
	return check_opts(cli, o, media, epoch);
}

/* Opens where the layer goes: FILE created or truncated, or standard
 * output for `-`.  A terminal is refused (CLI_USAGE): a compressed layer
 * is binary.  *created says FILE is a regular file to remove on failure. */
static int open_output(struct cli *cli, const char *file, int *fd, int *created)
{
	struct err e;
	*created = 0;
	if (strcmp(file, "-") == 0) {
		if (isatty(STDOUT_FILENO))
			return cli_usage(
			    cli, "refusing to write a binary layer to a terminal: use -o FILE or redirect "
				 "standard output");
		*fd = STDOUT_FILENO;
		return CLI_OK;
	}
	*fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
	if (*fd < 0) {
		err_errno(&e, 0, errno, "open output `%s`", file);
		return cli_fail(cli, file, &e);
	}
	if (isatty(*fd)) {
		close(*fd);
		*fd = -1;
		return cli_usage(cli, "refusing to write a binary layer to the terminal `%s`", file);
	}
	struct stat st;
	*created = fstat(*fd, &st) == 0 && S_ISREG(st.st_mode);
	return CLI_OK;
}

static int on_record(const ProtobufCMessage *msg, struct client_record *r, void *ctx, struct err *e)
{
	struct diff_call *c = ctx;
	const diff_resp *m = (const diff_resp *)msg;
	(void)e;
	if (!m->done) {
		progress_draw(&c->progress, m->uncompressed_size, m->entries);
		return 0;
	}
	if (c->done)
		return 0;
	/* client_call() frees msg after we return: unpack our own copy. */
	c->result = (diff_resp *)protobuf_c_message_unpack(&strata__v1__diff_layer_response__descriptor, NULL,
							   r->len, r->payload);
	if (!c->result)
		return err_set(e, ST_INTERNAL, "cannot decode `DiffLayerResponse` from the daemon");
	c->done = 1;
	return 0;
}

static int is_compressed(const char *media_type)
{
	return strcmp(media_type, MEDIA_TAR) != 0 &&
	       strcmp(media_type, "application/vnd.docker.image.rootfs.diff.tar") != 0;
}

/* The OCI descriptor of the layer, with containerd's uncompressed label. */
static void print_descriptor(struct cli *cli, FILE *f, const diff_resp *m)
{
	int compressed = is_compressed(m->media_type);
	if (cli->json) {
		struct jw w;
		jw_init(&w, f);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "media_type", m->media_type);
		jw_str(&w, "digest", m->digest);
		jw_int(&w, "size", m->size);
		if (compressed) {
			jw_obj_begin(&w, "annotations");
			jw_str(&w, UNCOMPRESSED_LABEL, m->diff_id);
			jw_obj_end(&w);
		}
		jw_int(&w, "entries", m->entries);
		jw_obj_end(&w);
		jw_finish(&w);
		return;
	}
	fputs("media type: ", f);
	out_text(f, m->media_type);
	fputs("\ndigest:     ", f);
	out_text(f, m->digest);
	fprintf(f, "\nsize:       %lld\n", (long long)m->size);
	if (compressed) {
		fputs(UNCOMPRESSED_LABEL ": ", f);
		out_text(f, m->diff_id);
		fputc('\n', f);
	}
	fprintf(f, "entries:    %lld\n", (long long)m->entries);
}

static int call_diff(struct cli *cli, const struct diff_opts *o, int fd, struct diff_call *c, struct err *e)
{
	diff_req req = STRATA__V1__DIFF_LAYER_REQUEST__INIT;
	req.key = (char *)o->key;
	req.parent = (char *)(o->parent ? o->parent : "");
	req.media_type = (char *)o->media_type;
	req.has_source_date_epoch = o->has_epoch;
	req.source_date_epoch = o->epoch;
	if (cli_connect(cli, e) < 0)
		return -1;
	if (client_call(&cli->conn, NM_DIFF_LAYER, &req.base, &fd, 1,
			&strata__v1__diff_layer_response__descriptor, on_record, c, e) < 0)
		return -1;
	if (!c->done)
		return err_set(e, ST_INTERNAL, "the diff ended without a result");
	return 0;
}

static int diff(struct cli *cli, const struct diff_opts *o)
{
	struct diff_call c = {.key = o->key};
	progress_init(&c.progress, o->key, -1);
	struct err e;
	int fd = -1, created = 0, rc = open_output(cli, o->output, &fd, &created);
	if (rc != CLI_OK)
		return rc;
	int r = call_diff(cli, o, fd, &c, &e);
	if (fd != STDOUT_FILENO)
		close(fd);
	progress_clear(&c.progress);
	if (r < 0) {
		/* A partial layer must not pass for one. */
		if (created)
			unlink(o->output);
		if (c.result)
			protobuf_c_message_free_unpacked(&c.result->base, NULL);
		return cli_fail(cli, o->key, &e);
	}
	/* With the layer on stdout, the descriptor goes to stderr. */
	print_descriptor(cli, fd == STDOUT_FILENO ? stderr : stdout, c.result);
	protobuf_c_message_free_unpacked(&c.result->base, NULL);
	return CLI_OK;
}

static int run_diff(struct cli *cli, int argc, char **argv)
{
	struct diff_opts o;
	int help, rc = parse_diff(cli, argc, argv, &o, &help);
	if (rc != CLI_OK || help)
		return rc;
	return diff(cli, &o);
}

const struct cli_cmd cli_cmd_diff = {
    .name = "diff",
    .synopsis = "KEY [--parent NAME] [-o FILE|-] [--media-type T] [--source-date-epoch N]",
    .summary = "write the layer of snapshot KEY's changes (tar, gzip or zstd)",
    .help = "The layer holds KEY's changes against its parent, or against any other\n"
	    "snapshot NAME with --parent (both trees are then compared file by file).\n"
	    "-o/--output FILE (created or truncated, mode 0644; removed if the diff fails)\n"
	    "or `-` "
	    "(the default): standard output, which must not be a terminal.  The file is\n"
	    "opened here and handed to the daemon.\n"
	    "--media-type: tar, gzip (default), zstd, or a full OCI layer media type\n"
	    "(application/vnd.oci.image.layer.v1.tar[+gzip|+zstd]).\n"
	    "--source-date-epoch N: clamp entry times to N seconds since the epoch.\n"
	    "Prints the layer's descriptor (on stderr when the layer goes to stdout):\n"
	    "media type, digest, size and, when compressed, the diff ID as the\n"
	    "`containerd.io/uncompressed` label, and the number of entries.  On a\n"
	    "terminal, stderr shows progress: tar bytes written, rate, entries.\n"
	    "--json: {\"media_type\",\"digest\",\"size\",\"annotations\":{\"containerd.io/uncompressed\"},\n"
	    "\"entries\"} (no annotations for tar).\n",
    .run = run_diff,
};
