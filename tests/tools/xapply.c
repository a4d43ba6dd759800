/* xapply: the extract engine without the daemon, for
 * tests/integration/apply-vs-containerd.sh's parallel-unpack check.
 *
 *   xapply --rebase TARGET LAYER      apply LAYER to the directory TARGET as
 *                                     a layer whose lowers come later
 *   xapply --fixup TARGET LOWER...    then give TARGET what its lowers
 *                                     (nearest first) would have given
 *   xapply --apply TARGET LAYER       apply LAYER (- for standard input)
 *                                     to TARGET as a layer without lowers,
 *                                     printing the diff ID: the engine
 *                                     alone, for profiling
 *
 * Unconfined, as root: a test tool only, run on the test's own trees. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../worker/extract.h"

#define MAX_LOWER 64

static int open_dir(const char *p)
{
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		perror(p);
	return fd;
}

int main(int argc, char **argv)
{
	int fixup = argc >= 2 && !strcmp(argv[1], "--fixup");
	if (argc < 4 || (!fixup && strcmp(argv[1], "--rebase") && strcmp(argv[1], "--apply")) ||
	    (!fixup && argc != 4) || argc - 3 > MAX_LOWER) {
		fprintf(stderr, "usage: xapply --rebase|--apply TARGET LAYER | --fixup TARGET LOWER...\n");
		return 2;
	}
	int target = open_dir(argv[2]);
	if (target < 0)
		return 1;
	struct extract_limits lim;
	extract_limits_default(&lim);
	lim.rebase = !strcmp(argv[1], "--rebase");
	struct err e = {0};
	int rc;
	if (!fixup) {
		int in = !strcmp(argv[3], "-") ? 0 : open(argv[3], O_RDONLY | O_CLOEXEC);
		if (in < 0) {
			perror(argv[3]);
			return 1;
		}
		struct extract_result res;
		rc = extract_layer(in, target, NULL, 0, &lim, NULL, NULL, &res, &e);
		if (rc == 0 && !lim.rebase) {
			printf("sha256:");
			for (int i = 0; i < 32; i++)
				printf("%02x", res.diff_id[i]);
			printf("\n");
		}
	} else {
		int lowers[MAX_LOWER];
		for (int i = 3; i < argc; i++)
			if ((lowers[i - 3] = open_dir(argv[i])) < 0)
				return 1;
		rc = extract_rebase(target, lowers, (size_t)(argc - 3), &lim, &e);
	}
	if (rc < 0) {
		fprintf(stderr, "xapply %s: %s\n", argv[1], e.msg);
		return 1;
	}
	return 0;
}
