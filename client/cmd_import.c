/* import ARCHIVE [--platform OS/ARCH[/VARIANT]] [--jobs N]: unpacks an OCI
 * image archive's layers into committed snapshots named by chain ID as
 * containerd's unpacker names them, reusing those already there.
 *
 * The archive is opened here, with the caller's own access, and read only
 * by confined parser processes (import_link.h): this process never parses
 * it.  Each missing layer: Prepare a temporary key, have a parser stream the
 * blob out of the archive into a pipe whose read end goes to the daemon
 * with NM_APPLY_LAYER and the blob's digest, check the diff ID against the
 * config, Commit as the chain ID.  Any failure removes the temporary
 * snapshots.
 *
 * Up to --jobs layers (default: one per core) are applied at once, as
 * containerd 2.2's parallel unpack does: a layer whose parent is not
 * committed yet is prepared without one, labelled with its parent's chain
 * ID, and committed onto it (CommitSnapshotRequest.parent) once the parent
 * is; the daemon gives it then what its lowers would have (broker/rebase.c).
 * Each apply runs in a child process of its own, with its own connection
 * and its own read of the archive; commits stay in order, here. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "import_link.h"
#include "oci_archive.h"
#include "../common/hex.h"
#include "../common/util.h"

typedef Containerd__Services__Snapshots__V1__StatSnapshotRequest stat_req;
typedef Containerd__Services__Snapshots__V1__StatSnapshotResponse stat_resp;
typedef Containerd__Services__Snapshots__V1__PrepareSnapshotRequest prepare_req;
typedef Containerd__Services__Snapshots__V1__CommitSnapshotRequest commit_req;
typedef Containerd__Services__Snapshots__V1__RemoveSnapshotRequest remove_req;

/* containerd's unpacker puts this label on the snapshots it commits. */
#define LABEL_SNAPSHOT_REF "containerd.io/snapshot.ref"
/* ... and this one, the parent's chain ID, on a layer's extraction
 * snapshot; one prepared without its parent is committed onto it. */
#define LABEL_PARENT_CHAIN "containerd.io/snapshot/parent-chain-id"

/* ---- snapshot calls -------------------------------------------------------- */

/* 1: committed snapshot name exists; 0: no such snapshot; -1: error (also
 * when name exists but is not committed). */
static int committed_exists(struct cli *cli, const char *name, struct err *e)
{
	stat_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
	ProtobufCMessage *out;
	req.snapshotter = CLI_SNAPSHOTTER;
	req.key = (char *)name;
	if (cli_unary(cli, NM_STAT, &req.base,
		      &containerd__services__snapshots__v1__stat_snapshot_response__descriptor, &out, e) < 0)
		return e->code == ST_NOT_FOUND ? 0 : -1;
	const stat_resp *r = (const stat_resp *)out;
	int committed = r && r->info && r->info->kind == CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__COMMITTED;
	if (out)
		protobuf_c_message_free_unpacked(out, NULL);
	if (!committed)
		return err_set(e, ST_FAILED_PRECONDITION, "snapshot `%s` exists but is not committed", name);
	return 1;
}

/* Prepares key on parent; with ahead, a layer to commit onto ahead (a
 * chain ID) later, prepared without a parent. */
static int prepare(struct cli *cli, const char *key, const char *parent, const char *ahead, struct err *e)
{
	prepare_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
	ProtobufCMessage *out;
	struct cli_label label = {LABEL_PARENT_CHAIN, ahead};
	req.snapshotter = CLI_SNAPSHOTTER;
	req.key = (char *)key;
	req.parent = (char *)(parent ? parent : "");
	if (ahead)
		req.labels = (void *)cli_label_entries(
		    &containerd__services__snapshots__v1__prepare_snapshot_request__labels_entry__descriptor,
		    &label, 1, 0, &req.n_labels);
	int rc =
	    cli_unary(cli, NM_PREPARE, &req.base,
		      &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor, &out, e);
	cli_free_entries((void **)req.labels, req.n_labels);
	if (rc < 0)
		return err_wrap(e, "prepare `%s`", key);
	if (out)
		protobuf_c_message_free_unpacked(out, NULL);
	return 0;
}

/* Commits key as name; onto parent when it was prepared without it. */
static int commit(struct cli *cli, const char *name, const char *key, const char *parent, struct err *e)
{
	commit_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__COMMIT_SNAPSHOT_REQUEST__INIT;
	struct cli_label label = {LABEL_SNAPSHOT_REF, name};
	ProtobufCMessage *out;
	req.snapshotter = CLI_SNAPSHOTTER;
	req.name = (char *)name;
	req.key = (char *)key;
	req.parent = (char *)(parent ? parent : "");
	req.labels = (void *)cli_label_entries(
	    &containerd__services__snapshots__v1__commit_snapshot_request__labels_entry__descriptor, &label,
	    1, 0, &req.n_labels);
	int rc = cli_unary(cli, NM_COMMIT, &req.base, &google__protobuf__empty__descriptor, &out, e);
	cli_free_entries((void **)req.labels, req.n_labels);
	if (rc < 0)
		return err_wrap(e, "commit `%s` as `%s`", key, name);
	if (out)
		protobuf_c_message_free_unpacked(out, NULL);
	return 0;
}

#define REMOVE_TRIES 100 /* 10 s */

/* Best effort: the caller is already failing with its own error. */
static void remove_quietly(struct cli *cli, const char *key)
{
	remove_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
	ProtobufCMessage *out;
	struct err e;
	req.snapshotter = CLI_SNAPSHOTTER;
	req.key = (char *)key;
	/* A layer's apply that was cancelled (its process stopped) ends in the
	 * daemon shortly after: until then, Remove is FailedPrecondition. */
	int rc;
	for (int tries = 0;; tries++) {
		rc = cli_unary(cli, NM_REMOVE, &req.base, &google__protobuf__empty__descriptor, &out, &e);
		if (rc == 0 || e.code != ST_FAILED_PRECONDITION || tries == REMOVE_TRIES)
			break;
		struct timespec ts = {0, 100 * 1000 * 1000L};
		nanosleep(&ts, NULL);
	}
	if (rc < 0) {
		err_wrap(&e, "cannot remove temporary snapshot");
		cli_fail(cli, key, &e);
	} else if (out) {
		protobuf_c_message_free_unpacked(out, NULL);
	}
}

/* ---- one layer ------------------------------------------------------------- */

#define TAG_BYTES 6

struct import {
	struct cli *cli;
	struct import_parser *parser;
	const struct oci_image *img;
	char tag[2 * TAG_BYTES + 1]; /* random part of the temporary keys, in hex */
};

/* Streams layer i into active snapshot key and checks its diff ID. */
static int apply_layer(struct import *im, size_t i, const char *key, struct err *e)
{
	const struct oci_layer *l = &im->img->layers[i];
	struct import_blob_job job;
	struct cli_applied res;
	int rfd = -1, archive_fault;
	if (import_blob_start(im->parser, l, &rfd, &job, e) < 0)
		return -1;
	cleanup_free char *what = xasprintf("layer %zu/%zu %.19s", i + 1, im->img->nlayers, l->digest);
	int rc = cli_apply_fd(im->cli, key, rfd, l->digest, l->size, what, &res, e);
	struct err pe;
	/* A damaged archive (or a parser that died) is the cause of whatever
	 * the daemon then says about the stream; a write error (EPIPE) is only
	 * the consequence of the daemon's own error. */
	if (import_blob_finish(&job, &archive_fault, &pe) < 0 && (rc == 0 || archive_fault)) {
		*e = pe;
		rc = -1;
	}
	if (rc < 0) {
		cli_applied_free(&res);
		return err_wrap(e, "apply layer %zu (`%s`)", i, l->digest);
	}
	if (strcmp(res.diff_id, l->diff_id) != 0)
		rc = err_set(e, ST_INVALID_ARGUMENT,
			     "layer %zu (`%s`) has diff ID `%s`, the image config says `%s`", i, l->digest,
			     res.diff_id, l->diff_id);
	cli_applied_free(&res);
	return rc;
}

/* Creates committed snapshot chain for layer i on parent (NULL for the
 * first).  *reused: another import committed it meanwhile. */
static int unpack_layer(struct import *im, size_t i, const char *parent, const char *chain, int *reused,
			struct err *e)
{
	cleanup_free char *key = xasprintf("import-%s-%zu", im->tag, i);
	*reused = 0;
	if (prepare(im->cli, key, parent, NULL, e) < 0)
		return -1;
	if (apply_layer(im, i, key, e) < 0) {
		remove_quietly(im->cli, key);
		return -1;
	}
	if (commit(im->cli, chain, key, NULL, e) < 0) {
		remove_quietly(im->cli, key);
		if (e->code != ST_ALREADY_EXISTS)
			return -1;
		/* Committed by someone else since our Stat: the same content. */
		if (committed_exists(im->cli, chain, e) != 1)
			return -1;
		*reused = 1;
	}
	return 0;
}

/* ---- layers at once ---------------------------------------------------------- */

/* A layer being applied by a child process of its own. */
struct pending {
	size_t i;
	char *key;
	const char *onto; /* the parent chain ID to commit onto; NULL: prepared on it, or none */
	pid_t pid;	  /* 0 once reaped */
	int err_fd;	  /* the child's error report: code, then message */
};

/* The archive again, as a file description of its own (a parser seeks in
 * it): the same file, through /proc, else by its name if that is still the
 * same file. */
static int archive_reopen(struct import_parser *p, struct err *e)
{
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", p->archive_fd);
	int fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat a, b;
	if (fd < 0 && (fd = open(p->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) >= 0 &&
	    (fstat(fd, &a) < 0 || fstat(p->archive_fd, &b) < 0 || a.st_dev != b.st_dev ||
	     a.st_ino != b.st_ino)) {
		close(fd);
		return err_set(e, ST_INVALID_ARGUMENT, "image archive `%s` changed while it was imported",
			       p->path);
	}
	if (fd < 0)
		return err_errno(e, ST_INVALID_ARGUMENT, errno, "open image archive `%s` again", p->path);
	p->archive_fd = fd;
	return 0;
}

/* The child: its own connection (the parent's stays the parent's), its own
 * archive description; the error, if any, goes to fd. */
static _Noreturn void apply_child(struct import *im, size_t i, const char *key, int fd)
{
	struct err e = {0};
	close(im->cli->conn.fd);
	im->cli->conn.fd = -1;
	/* The parent says what an interrupt leaves behind, once (a signal
	 * ignored from the start stays ignored). */
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	for (size_t k = 0; k < ARRAY_SIZE(sigs); k++) {
		struct sigaction cur;
		if (sigaction(sigs[k], NULL, &cur) == 0 && cur.sa_handler != SIG_IGN)
			signal(sigs[k], SIG_DFL);
	}
	/* Several children: no progress lines over each other. */
	int null = isatty(STDERR_FILENO) ? open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;
	if (null >= 0)
		dup2(null, STDERR_FILENO);
	int rc = archive_reopen(im->parser, &e) < 0 ? -1 : apply_layer(im, i, key, &e);
	if (rc < 0) {
		int32_t code = e.code;
		if (write(fd, &code, sizeof code) == sizeof code &&
		    write(fd, e.msg, strnlen(e.msg, sizeof e.msg)))
			rc = -1;
	}
	_exit(rc < 0 ? 1 : 0);
}

static int start_pending(struct import *im, struct pending *pd, struct err *e)
{
	int sv[2];
	if (pipe2(sv, O_CLOEXEC) < 0)
		return err_errno(e, ST_INTERNAL, errno, "pipe for layer %zu", pd->i);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		apply_child(im, pd->i, pd->key, sv[1]);
	}
	int errnum = errno;
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return err_errno(e, ST_INTERNAL, errnum, "fork for layer %zu", pd->i);
	}
	pd->pid = pid;
	pd->err_fd = sv[0];
	return 0;
}

/* Waits for pd's child; its error in e when it failed. */
static int finish_pending(struct pending *pd, struct err *e)
{
	int st = 0;
	while (waitpid(pd->pid, &st, 0) < 0 && errno == EINTR)
		;
	pd->pid = 0;
	int32_t code = 0;
	char msg[ERR_MSG_MAX] = "";
	ssize_t n = read(pd->err_fd, &code, sizeof code),
		m = n == sizeof code ? read(pd->err_fd, msg, sizeof msg - 1) : 0;
	close(pd->err_fd);
	pd->err_fd = -1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (n == sizeof code && m > 0)
		return err_set(e, code, "%s", msg);
	return err_set(e, ST_INTERNAL, "apply layer %zu: its process ended (status %#x)", pd->i, st);
}

/* Unpacks the missing layers (chains[i] committed when reused[i]), up to
 * jobs at once, committing them in order. */
static int unpack_parallel(struct import *im, char (*chains)[OCI_DIGEST_LEN], int *reused, unsigned jobs,
			   struct err *e)
{
	size_t n = im->img->nlayers, next = 0, done = 0, running = 0;
	struct pending *pd = xcalloc(n, sizeof *pd);
	int *committed = xcalloc(n, sizeof *committed);
	int rc = 0;
	for (size_t i = 0; i < n; i++)
		committed[i] = reused[i];
	while (rc == 0 && done < n) {
		/* Start layers while there is room. */
		while (rc == 0 && next < n && running < jobs) {
			size_t i = next++;
			if (committed[i])
				continue;
			pd[i].i = i;
			pd[i].key = xasprintf("import-%s-%zu", im->tag, i);
			pd[i].err_fd = -1;
			const char *parent = i && committed[i - 1] ? chains[i - 1] : NULL;
			pd[i].onto = i && !committed[i - 1] ? chains[i - 1] : NULL;
			if (prepare(im->cli, pd[i].key, parent, pd[i].onto, e) < 0) {
				free(pd[i].key);
				pd[i].key = NULL;
				rc = -1;
			} else if (start_pending(im, &pd[i], e) < 0) {
				rc = -1;
			} else {
				running++;
			}
		}
		/* Commit the next layer in order once it is applied. */
		while (rc == 0 && done < n && committed[done])
			done++;
		if (rc < 0 || done >= n)
			break;
		struct pending *p = &pd[done];
		running--;
		if (finish_pending(p, e) < 0) {
			rc = err_wrap(e, "layer %zu", done);
			break;
		}
		if (commit(im->cli, chains[done], p->key, p->onto, e) < 0) {
			if (e->code != ST_ALREADY_EXISTS || committed_exists(im->cli, chains[done], e) != 1) {
				rc = -1;
				break;
			}
			remove_quietly(im->cli, p->key); /* committed by someone else meanwhile */
			reused[done] = 1;
		}
		free(p->key);
		p->key = NULL;
		committed[done] = 1;
	}
	/* On failure: the other children stop (their connections close and the
	 * daemon cancels their applies), then their snapshots go. */
	for (size_t i = 0; i < n; i++)
		if (pd[i].pid > 0)
			kill(pd[i].pid, SIGTERM);
	for (size_t i = 0; i < n; i++) {
		if (pd[i].pid > 0) {
			struct err ignored;
			finish_pending(&pd[i], &ignored);
		}
		if (pd[i].key)
			remove_quietly(im->cli, pd[i].key);
		free(pd[i].key);
	}
	free(pd);
	free(committed);
	return rc;
}

/* ---- the command ----------------------------------------------------------- */

static void random_tag(char out[2 * TAG_BYTES + 1])
{
	unsigned char r[TAG_BYTES] = {0};
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		uint64_t t = now_ns_monotonic() ^ (uint64_t)getpid();
		memcpy(r, &t, sizeof r);
	}
	hex_encode(r, sizeof r, out);
}

static void print_result(struct cli *cli, const struct oci_image *img, char (*chains)[OCI_DIGEST_LEN],
			 const int *reused)
{
	if (!cli->json) {
		printf("%s\n", chains[img->nlayers - 1]);
		return;
	}
	struct jw w;
	jw_init(&w, stdout);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "chain_id", chains[img->nlayers - 1]);
	jw_str(&w, "manifest", img->manifest_digest);
	jw_str(&w, "config", img->config_digest);
	jw_arr_begin(&w, "layers");
	for (size_t i = 0; i < img->nlayers; i++) {
		jw_obj_begin(&w, NULL);
		jw_str(&w, "digest", img->layers[i].digest);
		jw_str(&w, "diff_id", img->layers[i].diff_id);
		jw_str(&w, "chain_id", chains[i]);
		jw_bool(&w, "reused", reused[i]);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_finish(&w);
}

static int import_image(struct cli *cli, struct import_parser *parser, const struct oci_platform *want,
			unsigned jobs)
{
	const char *path = parser->path;
	struct import im = {.cli = cli, .parser = parser};
	struct oci_image img;
	struct err e;
	if (import_read_image(parser, want, &img, &e) < 0)
		return cli_fail(cli, path, &e);
	im.img = &img;
	random_tag(im.tag);
	/* Ctrl-C: the applies stop with this process (the children too: the
	 * same process group), but the temporary snapshots stay. */
	struct sigaction old[3];
	cli_interrupt_catch(
	    old,
	    "import interrupted: its temporary snapshots `import-%s-N` are left behind (`strata ls "
	    "-q 'name~=^import-%s-'` lists them): remove them with `strata rm`, then re-run the "
	    "import; the layers committed before stay and are reused.",
	    im.tag, im.tag);
	cli->interrupt_said = 1;
	char(*chains)[OCI_DIGEST_LEN] = xcalloc(img.nlayers, sizeof *chains);
	int *reused = xcalloc(img.nlayers, sizeof *reused);
	int rc = CLI_OK;
	for (size_t i = 0; i < img.nlayers && rc == CLI_OK; i++) {
		const char *parent = i ? chains[i - 1] : NULL;
		oci_chain_id(parent, img.layers[i].diff_id, chains[i]);
		int have = committed_exists(cli, chains[i], &e);
		if (have == 0 && jobs <= 1)
			have = unpack_layer(&im, i, parent, chains[i], &reused[i], &e);
		else if (have == 1)
			reused[i] = 1;
		if (have < 0)
			rc = cli_fail(cli, path, &e);
	}
	if (rc == CLI_OK && jobs > 1 && unpack_parallel(&im, chains, reused, jobs, &e) < 0)
		rc = cli_fail(cli, path, &e);
	cli_interrupt_release(old);
	cli->interrupt_said = 0;
	if (rc == CLI_OK)
		print_result(cli, &img, chains, reused);
	free(chains);
	free(reused);
	oci_image_free(&img);
	return rc;
}

static int open_and_import(struct cli *cli, const char *path, const struct oci_platform *want, unsigned jobs)
{
	struct import_parser parser;
	struct err e;
	if (import_parser_open(&parser, path, &e) < 0)
		return cli_fail(cli, path, &e);
	/* A write into a closed pipe fails with EPIPE instead of killing (the
	 * parsers, writing into the daemon's pipe, ignore SIGPIPE themselves). */
	signal(SIGPIPE, SIG_IGN);
	int rc = import_image(cli, &parser, want, jobs);
	import_parser_close(&parser);
	return rc;
}

static int run_import(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	struct oci_platform want;
	int rc = cli_parse(cli, &cli_cmd_import, argc, argv, CLI_OPT_PLATFORM | CLI_OPT_JOBS, 1, 1, &a);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned jobs = a.jobs ? a.jobs : ncpu > 0 ? (unsigned)ncpu : 1;
	if (rc == CLI_OK && !a.help) {
		if (!a.platform)
			oci_default_platform(&want);
		if (a.platform && oci_parse_platform(a.platform, &want) < 0) {
			rc = cli_usage(cli, "--platform `%s` is not OS/ARCH[/VARIANT]", a.platform);
		} else {
			rc = open_and_import(cli, a.pos[0], &want, jobs);
		}
	}
	cli_args_free(&a);
	return rc;
}

const struct cli_cmd cli_cmd_import = {
    .name = "import",
    .synopsis = "ARCHIVE [--platform OS/ARCH[/VARIANT]] [--jobs N]",
    .summary = "unpack an OCI image archive into snapshots named by chain ID",
    .help = "ARCHIVE is an OCI image layout in a tar (`ctr images export`, `skopeo copy\n"
	    "oci-archive:`, recent `docker save`).  The manifest for the platform (default:\n"
	    "linux and this machine's architecture) is found through index.json and any\n"
	    "nested image index.  Each layer becomes a committed snapshot named by its\n"
	    "chain ID, as containerd names them; layers already there are reused.\n"
	    "Prints the top chain ID.  A failure removes the temporary active snapshots\n"
	    "(`import-RANDOM-N`); the layers committed before it stay.\n"
	    "--jobs N: layers applied at once (default: one per core; 1: one after the\n"
	    "other); a layer applied before its parent is committed onto it after.\n"
	    "--json: {\"chain_id\",\"manifest\",\"config\",\"layers\":[{\"digest\",\"diff_id\",\n"
	    "\"chain_id\",\"reused\"}]}\n",
    .run = run_import,
};
