/* The CLI's side of the import parser (import_parser.h): `strata import`
 * opens the archive itself (the user proves access by opening it), then
 * forks one confined parser per job and trusts nothing it sends back
 * (proto/import.h).  Layer blobs go from the parser straight into a pipe
 * whose read end the CLI hands to the daemon; the CLI never reads them. */
#ifndef STRATA_CLIENT_IMPORT_LINK_H
#define STRATA_CLIENT_IMPORT_LINK_H

#include <stdint.h>
#include <sys/types.h>

#include "../common/err.h"
#include "../policy/policy.h"
#include "oci_archive.h"

struct import_parser {
	int archive_fd;
	const char *path;
	struct policy_bpf filter; /* policy/import.policy, compiled once */
};

/* Opens the archive at path read-only and compiles the parser's filter.
 * Failure: InvalidArgument for an archive that cannot be opened. */
int import_parser_open(struct import_parser *p, const char *path, struct err *e);
void import_parser_close(struct import_parser *p);

/* Runs an image job: the image for want, its layers bottom first (free with
 * oci_image_free()).  Errors as oci_read_image(); a parser that dies or
 * sends anything malformed: Internal, saying so. */
int import_read_image(struct import_parser *p, const struct oci_platform *want, struct oci_image *img,
		      struct err *e);

/* A blob job under way. */
struct import_blob_job {
	pid_t pid;
	int sock;
	const char *path;
	const struct oci_layer *layer;
};

/* Starts a parser streaming layer l's blob; *rfd gets the pipe's read end
 * (the parser holds the only write end, closed at the blob's end). */
int import_blob_start(struct import_parser *p, const struct oci_layer *l, int *rfd, struct import_blob_job *j,
		      struct err *e);
/* Waits for the job's outcome and reaps the parser.  On failure,
 * *archive_fault says whether the archive (or the parser) is to blame,
 * rather than a write into a pipe the daemon had closed. */
int import_blob_finish(struct import_blob_job *j, int *archive_fault, struct err *e);

#endif
