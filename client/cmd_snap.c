/* Commands that create, commit and remove snapshots: prepare, view, mounts,
 * commit, rm, cleanup. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef Containerd__Services__Snapshots__V1__PrepareSnapshotRequest prepare_req;
typedef Containerd__Services__Snapshots__V1__ViewSnapshotRequest view_req;
typedef Containerd__Services__Snapshots__V1__MountsRequest mounts_req;
typedef Containerd__Services__Snapshots__V1__CommitSnapshotRequest commit_req;
typedef Containerd__Services__Snapshots__V1__RemoveSnapshotRequest remove_req;
typedef Containerd__Services__Snapshots__V1__CleanupRequest cleanup_req;
/* Prepare, View and Mounts answer with the same shape: repeated mounts. */
typedef Containerd__Services__Snapshots__V1__MountsResponse mounts_resp;

static void print_mounts(struct cli *cli, const mounts_resp *r)
{
	mount_msg *const *m = r ? r->mounts : NULL;
	size_t n = r ? r->n_mounts : 0;
	if (cli->json)
		print_mounts_json(stdout, m, n);
	else
		print_mounts_human(stdout, m, n);
}

/* {} for commands that have nothing to say but were asked for JSON. */
static void print_done(struct cli *cli)
{
	if (cli->json)
		puts("{}");
}

/* Calls method and prints the mounts of its response (same layout for
 * PrepareSnapshotResponse, ViewSnapshotResponse and MountsResponse). */
static int call_for_mounts(struct cli *cli, uint32_t method, const ProtobufCMessage *req,
			   const ProtobufCMessageDescriptor *resp, const char *key)
{
	struct err e;
	ProtobufCMessage *out;
	if (cli_unary(cli, method, req, resp, &out, &e) < 0)
		return cli_fail(cli, key, &e);
	print_mounts(cli, (const mounts_resp *)out);
	if (out)
		protobuf_c_message_free_unpacked(out, NULL);
	return CLI_OK;
}

static int run_prepare(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_parse(cli, &cli_cmd_prepare, argc, argv, CLI_OPT_LABEL, 1, 2, &a);
	if (rc == CLI_OK && !a.help) {
		prepare_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
		req.snapshotter = CLI_SNAPSHOTTER;
		req.key = a.pos[0];
		req.parent = a.npos > 1 ? a.pos[1] : "";
		req.labels = (void *)cli_label_entries(
		    &containerd__services__snapshots__v1__prepare_snapshot_request__labels_entry__descriptor,
		    a.labels, a.nlabels, 0, &req.n_labels);
		rc = call_for_mounts(
		    cli, NM_PREPARE, &req.base,
		    &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor, a.pos[0]);
		cli_free_entries((void **)req.labels, req.n_labels);
	}
	cli_args_free(&a);
	return rc;
}

static int run_view(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_parse(cli, &cli_cmd_view, argc, argv, CLI_OPT_LABEL, 2, 2, &a);
	if (rc == CLI_OK && !a.help) {
		view_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__VIEW_SNAPSHOT_REQUEST__INIT;
		req.snapshotter = CLI_SNAPSHOTTER;
		req.key = a.pos[0];
		req.parent = a.pos[1];
		req.labels = (void *)cli_label_entries(
		    &containerd__services__snapshots__v1__view_snapshot_request__labels_entry__descriptor,
		    a.labels, a.nlabels, 0, &req.n_labels);
		rc = call_for_mounts(cli, NM_VIEW, &req.base,
				     &containerd__services__snapshots__v1__view_snapshot_response__descriptor,
				     a.pos[0]);
		cli_free_entries((void **)req.labels, req.n_labels);
	}
	cli_args_free(&a);
	return rc;
}

static int run_mounts(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_parse(cli, &cli_cmd_mounts, argc, argv, 0, 1, 1, &a);
	if (rc == CLI_OK && !a.help) {
		mounts_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__MOUNTS_REQUEST__INIT;
		req.snapshotter = CLI_SNAPSHOTTER;
		req.key = a.pos[0];
		rc = call_for_mounts(cli, NM_MOUNTS, &req.base,
				     &containerd__services__snapshots__v1__mounts_response__descriptor,
				     a.pos[0]);
	}
	cli_args_free(&a);
	return rc;
}

static int run_commit(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_parse(cli, &cli_cmd_commit, argc, argv, CLI_OPT_LABEL, 2, 2, &a);
	if (rc == CLI_OK && !a.help) {
		commit_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__COMMIT_SNAPSHOT_REQUEST__INIT;
		struct err e;
		ProtobufCMessage *out;
		req.snapshotter = CLI_SNAPSHOTTER;
		req.name = a.pos[0];
		req.key = a.pos[1];
		req.labels = (void *)cli_label_entries(
		    &containerd__services__snapshots__v1__commit_snapshot_request__labels_entry__descriptor,
		    a.labels, a.nlabels, 0, &req.n_labels);
		if (cli_unary(cli, NM_COMMIT, &req.base, &google__protobuf__empty__descriptor, &out, &e) <
		    0) {
			rc = cli_fail(cli, a.pos[1], &e);
		} else {
			print_done(cli);
			if (out)
				protobuf_c_message_free_unpacked(out, NULL);
		}
		cli_free_entries((void **)req.labels, req.n_labels);
	}
	cli_args_free(&a);
	return rc;
}

static int remove_one(struct cli *cli, char *key, struct err *e)
{
	remove_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
	ProtobufCMessage *out;
	req.snapshotter = CLI_SNAPSHOTTER;
	req.key = key;
	if (cli_unary(cli, NM_REMOVE, &req.base, &google__protobuf__empty__descriptor, &out, e) < 0)
		return -1;
	if (out)
		protobuf_c_message_free_unpacked(out, NULL);
	return 0;
}

static int run_rm(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_parse(cli, &cli_cmd_rm, argc, argv, 0, 1, -1, &a);
	if (rc != CLI_OK || a.help) {
		cli_args_free(&a);
		return rc;
	}
	struct jw w;
	if (cli->json) {
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_arr_begin(&w, "removed");
	}
	for (int i = 0; i < a.npos; i++) {
		struct err e;
		/* Each key on its own: one failure must not stop the others. */
		if (remove_one(cli, a.pos[i], &e) < 0) {
			rc = cli_fail(cli, a.pos[i], &e);
			if (e.code == ST_UNAVAILABLE)
				client_close(&cli->conn); /* reconnect for the next key */
		} else if (cli->json) {
			jw_str(&w, NULL, a.pos[i]);
		}
	}
	if (cli->json) {
		jw_arr_end(&w);
		jw_obj_end(&w);
		jw_finish(&w);
	}
	cli_args_free(&a);
	return rc;
}

static int run_cleanup(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_parse(cli, &cli_cmd_cleanup, argc, argv, 0, 0, 0, &a);
	if (rc == CLI_OK && !a.help) {
		cleanup_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__CLEANUP_REQUEST__INIT;
		struct err e;
		ProtobufCMessage *out;
		req.snapshotter = CLI_SNAPSHOTTER;
		if (cli_unary(cli, NM_CLEANUP, &req.base, &google__protobuf__empty__descriptor, &out, &e) <
		    0) {
			rc = cli_fail(cli, NULL, &e);
		} else {
			print_done(cli);
			if (out)
				protobuf_c_message_free_unpacked(out, NULL);
		}
	}
	cli_args_free(&a);
	return rc;
}

#define MOUNTS_HELP                                                                                          \
	"Prints one line per mount: `TYPE SOURCE OPTIONS` (options comma-separated).\n"                      \
	"--json: {\"mounts\":[{\"type\",\"source\",\"target\",\"options\":[...]}]}\n"

const struct cli_cmd cli_cmd_prepare = {
    .name = "prepare",
    .synopsis = "KEY [PARENT] [--label K=V]...",
    .summary = "create an active snapshot KEY on top of committed PARENT",
    .help = MOUNTS_HELP,
    .run = run_prepare,
};

const struct cli_cmd cli_cmd_view = {
    .name = "view",
    .synopsis = "KEY PARENT [--label K=V]...",
    .summary = "create a read-only view KEY of committed PARENT",
    .help = MOUNTS_HELP,
    .run = run_view,
};

const struct cli_cmd cli_cmd_mounts = {
    .name = "mounts",
    .synopsis = "KEY",
    .summary = "print the mounts of active or view snapshot KEY",
    .help = MOUNTS_HELP,
    .run = run_mounts,
};

const struct cli_cmd cli_cmd_commit = {
    .name = "commit",
    .synopsis = "NAME KEY [--label K=V]...",
    .summary = "commit active snapshot KEY as NAME (KEY is gone afterwards)",
    .help = "Prints nothing on success (--json: {}).\n",
    .run = run_commit,
};

const struct cli_cmd cli_cmd_rm = {
    .name = "rm",
    .synopsis = "KEY...",
    .summary = "remove snapshots (each on its own; fails if any failed)",
    .help = "A snapshot with children cannot be removed (FailedPrecondition).  The exit\n"
	    "status is that of the last failure (3 for a key that does not exist).\n"
	    "--json: {\"removed\":[KEY...]}; failures go to stderr.\n",
    .run = run_rm,
};

const struct cli_cmd cli_cmd_cleanup = {
    .name = "cleanup",
    .synopsis = "",
    .summary = "remove directories no snapshot refers to (containerd's Cleanup)",
    .help = "Prints nothing on success (--json: {}).\n",
    .run = run_cleanup,
};
