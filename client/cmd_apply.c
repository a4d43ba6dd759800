/* apply KEY FILE|-: applies a layer (tar, gzip or zstd) to an active
 * snapshot.  The CLI opens the layer itself and passes the fd over the
 * native socket (NM_APPLY_LAYER): the daemon never opens a path a client
 * names.  cli_apply_fd() is shared with `strata import`. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"
#include "../common/util.h"

typedef Strata__V1__ApplyLayerRequest apply_req;
typedef Strata__V1__ApplyLayerResponse apply_resp;

/* One data record of the call: progress, or the result. */
static int on_record(const struct client_record *r, struct progress *p, struct cli_applied *out, int *done,
		     struct err *e)
{
	apply_resp *m = (apply_resp *)protobuf_c_message_unpack(&strata__v1__apply_layer_response__descriptor,
								NULL, r->len, r->payload);
	if (!m)
		return err_set(e, ST_INTERNAL, "cannot decode `ApplyLayerResponse` from the daemon");
	if (m->done && !*done) {
		*done = 1;
		out->diff_id = xstrdup(m->diff_id);
		out->digest = xstrdup(m->digest);
		out->compressed_size = m->compressed_size;
		out->uncompressed_size = m->uncompressed_size;
		out->entries = m->entries;
	} else if (!m->done) {
		progress_draw(p, m->read, m->entries);
	}
	protobuf_c_message_free_unpacked(&m->base, NULL);
	return 0;
}

/* Waits for call id's status, handling its records (other calls' are dropped). */
static int await_apply(struct cli *cli, uint32_t id, struct progress *p, struct cli_applied *out,
		       struct err *e)
{
	int done = 0;
	for (;;) {
		struct client_record r;
		if (client_recv(&cli->conn, &r, e) < 0)
			return -1;
		int rc = 0, end = 0;
		if (r.id != id)
			;
		else if (r.kind == NATIVE_STATUS) {
			end = 1;
			if (r.code != ST_OK) /* the daemon's text: data, never a format */
				rc = err_set(e, (int)r.code, "%s", (const char *)r.payload);
			else if (!done)
				rc = err_set(e, ST_INTERNAL, "the apply ended without a result");
		} else {
			rc = on_record(&r, p, out, &done, e);
		}
		client_record_free(&r);
		if (rc < 0 || end)
			return rc;
	}
}

int cli_apply_fd(struct cli *cli, const char *key, int fd, const char *expected_digest, int64_t expected_size,
		 const char *what, struct cli_applied *out, struct err *e)
{
	apply_req req = STRATA__V1__APPLY_LAYER_REQUEST__INIT;
	struct progress p;
	uint32_t id;
	memset(out, 0, sizeof *out);
	req.key = (char *)key;
	req.expected_digest = (char *)(expected_digest ? expected_digest : "");
	req.expected_size = expected_size > 0 ? expected_size : 0;
	/* Only --json shows the compressed digest: without it, the worker
	 * skips hashing the compressed bytes. */
	req.no_digest = !*req.expected_digest && !cli->json;
	if (cli_connect(cli, e) < 0) {
		close(fd);
		return -1;
	}
	int rc = client_send(&cli->conn, NM_APPLY_LAYER, &req.base, &fd, 1, &id, e);
	/* Our copy goes now: when the daemon gives up on the layer, a writer
	 * feeding this pipe must see EPIPE instead of blocking. */
	close(fd);
	if (rc < 0)
		return -1;
	progress_init(&p, what, expected_size);
	/* Interrupted while the daemon applies: the connection closes with
	 * this process, and the daemon cancels the job and undoes what it
	 * can.  What is left and what to do (a command that applies several,
	 * import, says it for all of them instead). */
	struct sigaction old[3];
	int caught = !cli->interrupt_said;
	if (caught)
		cli_interrupt_catch(old,
				    "apply interrupted: active snapshot `%.200s` is left behind, partly "
				    "applied until the daemon has cancelled the apply.  If it was empty "
				    "before, the daemon empties it again: re-run the apply.  Otherwise it is "
				    "marked failed: remove it with `strata rm %.200s`.",
				    key, key);
	rc = await_apply(cli, id, &p, out, e);
	if (caught)
		cli_interrupt_release(old);
	progress_clear(&p);
	if (rc < 0)
		cli_applied_free(out);
	return rc;
}

void cli_applied_free(struct cli_applied *r)
{
	free(r->diff_id);
	free(r->digest);
	memset(r, 0, sizeof *r);
}

/* Opens the layer: FILE read-only, or a duplicate of stdin for `-`.
 * Regular files give their size (for progress); pipes and sockets stream;
 * anything else (a directory, a terminal, a device) is refused. */
static int open_layer(const char *file, int *fd, int64_t *size, struct err *e)
{
	struct stat st;
	int is_stdin = strcmp(file, "-") == 0;
	const char *name = is_stdin ? "standard input" : file;
	*fd =
	    is_stdin ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3) : open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (*fd < 0)
		return err_errno(e, 0, errno, "open layer `%s`", name);
	if (fstat(*fd, &st) < 0) {
		err_errno(e, 0, errno, "stat layer `%s`", name);
	} else if (S_ISREG(st.st_mode)) {
		*size = st.st_size;
		return 0;
	} else if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
		*size = -1;
		return 0;
	} else {
		err_set(e, ST_INVALID_ARGUMENT, "layer `%s` is not a regular file or a pipe", name);
	}
	close(*fd);
	*fd = -1;
	return -1;
}

static void print_applied(struct cli *cli, const struct cli_applied *r)
{
	if (!cli->json) {
		printf("%s\n", r->diff_id);
		return;
	}
	struct jw w;
	jw_init(&w, stdout);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "diff_id", r->diff_id);
	jw_str(&w, "digest", r->digest);
	jw_int(&w, "compressed_size", r->compressed_size);
	jw_int(&w, "uncompressed_size", r->uncompressed_size);
	jw_int(&w, "entries", r->entries);
	jw_obj_end(&w);
	jw_finish(&w);
}

static int apply(struct cli *cli, const struct cli_args *a)
{
	const char *key = a->pos[0], *file = a->pos[1];
	struct cli_applied res;
	struct err e;
	int fd = -1;
	int64_t size = -1;
	if (open_layer(file, &fd, &size, &e) < 0)
		return cli_fail(cli, file, &e);
	if (cli_apply_fd(cli, key, fd, a->digest, size, key, &res, &e) < 0)
		return cli_fail(cli, key, &e);
	print_applied(cli, &res);
	cli_applied_free(&res);
	return CLI_OK;
}

static int run_apply(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_parse(cli, &cli_cmd_apply, argc, argv, CLI_OPT_DIGEST, 2, 2, &a);
	if (rc == CLI_OK && !a.help)
		rc = apply(cli, &a);
	cli_args_free(&a);
	return rc;
}

const struct cli_cmd cli_cmd_apply = {
    .name = "apply",
    .synopsis = "KEY FILE|- [--digest sha256:HEX]",
    .summary = "unpack a layer (tar, gzip or zstd) into active snapshot KEY",
    .help = "FILE (or standard input for `-`) is opened here and handed to the daemon.\n"
	    "Prints the diff ID (sha256 of the uncompressed tar).  On a terminal,\n"
	    "stderr shows progress fitted to its width: bytes read of the total, rate,\n"
	    "time left (ETA, when the size is known: FILE, not a pipe), entries.\n"
	    "Ctrl-C stops the apply (exit 130) and says what is left of KEY: emptied\n"
	    "again when it was empty (re-run), else marked failed (`strata rm KEY`).\n"
	    "--digest: the layer's expected sha256 as stored (compressed); a\n"
	    "mismatch fails the apply.\n"
	    "--json: {\"diff_id\",\"digest\",\"compressed_size\",\"uncompressed_size\",\"entries\"}\n",
    .run = run_apply,
};
