/* The import parser: the process `strata import` forks for each job on an
 * untrusted OCI image archive (find the image for a platform; stream one
 * layer blob into a pipe), so that libarchive and the JSON reader never run
 * with the CLI's privilege, which is often root's.  import_parser_main() is
 * its whole confinement; import_link.h is the CLI's side. */
#ifndef STRATA_CLIENT_IMPORT_PARSER_H
#define STRATA_CLIENT_IMPORT_PARSER_H

#include <stdint.h>
#include <sys/types.h>

#include "oci_archive.h"

/* The parser's only fds (policy/import.policy names them by number). */
#define IMPORT_FD_ARCHIVE 3 /* the archive, read-only, as the CLI opened it */
#define IMPORT_FD_RESULT  4 /* the socket its records (proto/import.h) go to */
#define IMPORT_FD_BLOB	  5 /* blob jobs: the write end of the pipe to the daemon */

/* The uid and gid (nobody, nogroup) the parser takes when the CLI is root. */
#define IMPORT_PARSER_ID 65534

enum import_job_kind { IMPORT_JOB_IMAGE = 1, IMPORT_JOB_BLOB = 2 };

struct policy_bpf;

/* What a parser does, filled in by the CLI before the fork: the parser
 * reads it from its copy of the CLI's memory, so nothing is sent to it. */
struct import_job {
	int kind;			 /* enum import_job_kind */
	int archive_fd, result_fd;	 /* the CLI's numbers; IMPORT_FD_* in the parser */
	int blob_fd;			 /* IMPORT_JOB_BLOB; -1 otherwise */
	const char *path;		 /* the archive's name, for messages */
	const struct oci_platform *want; /* IMPORT_JOB_IMAGE */
	const char *digest;		 /* IMPORT_JOB_BLOB: the blob and its size */
	int64_t size;
	const struct policy_bpf *filter; /* policy/import.policy, compiled by the CLI */
	pid_t cli;			 /* the parser dies with this process */
};

/* Runs in a child just forked from the CLI: confines it, does the job,
 * sends its records and exits. */
__attribute__((noreturn)) void import_parser_main(const struct import_job *job);

#endif
