/* fsck [--repair]: the daemon compares its metadata with the snapshot
 * directories and the mount holds (native NM_FSCK, broker/fsck.c) and,
 * with --repair, fixes what it safely can.  Exit 0 clean, 1 disagreements
 * (left after --repair), 2 error (4 and 5 as for every command). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef Strata__V1__FsckRequest fsck_req;
typedef Strata__V1__FsckResponse fsck_resp;
typedef Strata__V1__FsckProblem fsck_problem;

#define FSCK_DISAGREE 1
#define FSCK_ERROR    2

static void print_problem_human(const fsck_problem *p)
{
	printf("%-17s ", p->kind);
	if (p->name[0]) {
		out_text(stdout, p->name);
		printf(" (id %llu): ", (unsigned long long)p->id);
	} else {
		printf("id %llu: ", (unsigned long long)p->id);
	}
	out_text(stdout, p->detail);
	printf("%s\n", p->note ? "" : p->repaired ? " [repaired]" : "");
}

static void print_problem_json(struct jw *w, const fsck_problem *p)
{
	jw_obj_begin(w, NULL);
	jw_str(w, "kind", p->kind);
	jw_str(w, "name", p->name);
	jw_int(w, "id", (int64_t)p->id);
	jw_str(w, "detail", p->detail);
	jw_bool(w, "repaired", p->repaired);
	jw_bool(w, "note", p->note);
	jw_obj_end(w);
}

static int run_check(struct cli *cli, int repair)
{
	fsck_req req = STRATA__V1__FSCK_REQUEST__INIT;
	ProtobufCMessage **msgs = NULL;
	size_t n = 0;
	struct err e;
	req.repair = repair;
	if (cli_connect(cli, &e) < 0 ||
	    client_collect(&cli->conn, NM_FSCK, &req.base, &strata__v1__fsck_response__descriptor, &msgs, &n,
			   &e) < 0) {
		/* Unreachable (4) and permission denied (5) as for every
		 * command; 1 means disagreements here, so other errors are 2. */
		int rc = cli_fail(cli, NULL, &e);
		return rc == CLI_UNREACHABLE || rc == CLI_DENIED ? rc : FSCK_ERROR;
	}
	const fsck_resp *last = n ? (const fsck_resp *)msgs[n - 1] : NULL;
	if (!last || !last->done) {
		cli_fail(cli, NULL, &(struct err){ST_INTERNAL, "the daemon's answer ended early"});
		client_free_msgs(msgs, n);
		return FSCK_ERROR;
	}
	size_t found = 0, left = 0, notes = 0;
	struct jw w;
	if (cli->json) {
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_arr_begin(&w, "problems");
	}
	for (size_t i = 0; i < n; i++) {
		const fsck_resp *r = (const fsck_resp *)msgs[i];
		for (size_t k = 0; k < r->n_problems; k++) {
			const fsck_problem *p = r->problems[k];
			notes += p->note;
			found += !p->note;
			left += !p->note && !p->repaired;
			if (cli->json)
				print_problem_json(&w, p);
			else
				print_problem_human(p);
		}
	}
	if (cli->json) {
		jw_arr_end(&w);
		jw_int(&w, "snapshots", (int64_t)last->snapshots);
		jw_int(&w, "directories", (int64_t)last->directories);
		jw_int(&w, "holds", (int64_t)last->holds);
		jw_int(&w, "disagreements", (int64_t)found);
		jw_int(&w, "left", (int64_t)left);
		jw_obj_end(&w);
		jw_finish(&w);
	} else {
		printf("%llu snapshots, %llu directories, %llu holds: ", (unsigned long long)last->snapshots,
		       (unsigned long long)last->directories, (unsigned long long)last->holds);
		if (!found)
			printf("clean");
		else if (repair)
			printf("%zu disagreements, %zu repaired, %zu left", found, found - left, left);
		else
			printf("%zu disagreements", found);
		if (notes)
			printf(", %zu note%s", notes, notes == 1 ? "" : "s");
		printf("\n");
	}
	client_free_msgs(msgs, n);
	return left ? FSCK_DISAGREE : CLI_OK;
}

static int run_fsck(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int repair = 0, m = 0;
	/* --repair is this command's own option; cli_parse sees the rest. */
	for (int i = 0; i < argc; i++) {
		if (i > 0 && strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[m++] = argv[i++];
			break;
		}
		if (i > 0 && strcmp(argv[i], "--repair") == 0)
			repair = 1;
		else
			argv[m++] = argv[i];
	}
	int rc = cli_parse(cli, &cli_cmd_fsck, m, argv, 0, 0, 0, &a);
	if (rc == CLI_OK && !a.help)
		rc = run_check(cli, repair);
	cli_args_free(&a);
	return rc;
}

const struct cli_cmd cli_cmd_fsck = {
    .name = "fsck",
    .synopsis = "[--repair]",
    .summary = "check the metadata against the snapshot directories (--repair: fix)",
    .help = "The daemon compares its metadata with the directories under ROOT/snapshots\n"
	    "and with its mount holds, and prints one line per finding:\n"
	    "  missing-directory  a snapshot whose directory is gone (its content is lost).\n"
	    "                     --repair removes its record, as `strata rm` would, unless\n"
	    "                     snapshots are built on it or a mount holds it.\n"
	    "  orphan-directory   a directory (ID, new-ID or rm-ID) no snapshot refers to,\n"
	    "                     and not being created or removed now.  --repair deletes\n"
	    "                     it, as `strata cleanup` does.\n"
	    "  missing-parent     a snapshot whose parent has no record (or is not\n"
	    "                     committed).  Never repaired: its lower layers are gone;\n"
	    "                     `strata rm` it.\n"
	    "  stale-hold         a mount hold of a snapshot that has no record, or of a\n"
	    "                     mount that is provably gone.  --repair ends the hold.\n"
	    "Notes, which are no disagreement:\n"
	    "  pending-usage      a committed snapshot whose usage is measured when first\n"
	    "                     asked for.  --repair measures it now.\n"
	    "  unjudged-hold      an attached mount's hold whose path the daemon cannot\n"
	    "                     see (another mount namespace); `strata umount DIR` ends it.\n"
	    "Nothing else is changed, and repairs take the paths of `strata rm`, `strata\n"
	    "usage` and `strata cleanup`.  The last line counts snapshots, directories,\n"
	    "holds and disagreements; --json: {\"problems\":[{\"kind\",\"name\",\"id\",\n"
	    "\"detail\",\"repaired\",\"note\"}],\"snapshots\",\"directories\",\"holds\",\n"
	    "\"disagreements\",\"left\"}.\n"
	    "Exit status: 0 clean, 1 disagreements found (or left after --repair), 2 error\n"
	    "(4: the daemon is unreachable, 5: permission denied, as for every command).\n",
    .run = run_fsck,
};
