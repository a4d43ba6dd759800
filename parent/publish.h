/* Publishing a blob into containerd's content store, root side: the diff
 * service's Diff had a diff worker write a layer into ingest/NAME/data
 * (content.c); a publisher, forked by the spawner for the job, makes it
 * blobs/sha256/DIGEST.
 *
 * It acts only on an ingest strata created (one with the parent's mark,
 * content.h): containerd's own in-progress ingests sit in the same
 * directory.  The data file was written through fds the broker and a worker
 * held, and
 * they may hold them still: the publisher never publishes that file.  It
 * reads it once, hashing what it read and writing the same bytes into a
 * copy that it alone created (ingest/NAME/publish, mode 0444, in a directory
 * only root can enter), and renames the copy into blobs/sha256 only when
 * the hash and the size are what the broker asked for.  So a blob appears
 * only under its own digest, and no fd that can write it exists outside the
 * publisher, which closes it when it exits.  An existing blob is never
 * replaced. */
#ifndef STRATA_PUBLISH_H
#define STRATA_PUBLISH_H

#include <stdint.h>
#include <sys/types.h>

#include "../common/err.h"
#include "../proto/ipc.h"

struct publish {
	int ingest; /* ingest/NAME, O_PATH */
	int blobs;  /* blobs/sha256, O_PATH */
	int data;   /* ingest/NAME/data, read-only */
	int copy;   /* ingest/NAME/publish, created here, write-only */
	char digest[65];
	uint64_t size;
};

/* Opens what publishing NAME as DIGEST (64 hex digits each) of size bytes
 * needs, and creates the copy.  Fails on a data file that is not a regular
 * file (opened without blocking: a FIFO there stalls nothing). */
int publish_open(struct publish *p, const char *root, const char *name, const char *digest, uint64_t size,
		 struct err *e);
/* Copies and hashes; on a match, syncs the copy and renames it to
 * blobs/sha256/DIGEST.  Returns 0 (published), 1 (the blob was there
 * already: the copy is dropped), or -1 (FailedPrecondition when the bytes
 * are not what was asked: the copy is dropped).  got and got_size are what
 * was read. */
int publish_finish(struct publish *p, unsigned char got[32], uint64_t *got_size, struct err *e);
void publish_close(struct publish *p);

/* In a child the spawner forked for an IPC_PUBLISH job: job_fd becomes fd 3,
 * everything else is closed, the files are opened, the process drops every
 * capability and enters the `publish` seccomp policy, publishes and sends
 * one result (JOB_APPLIED with what it read, or JOB_FAIL), and exits. */
_Noreturn void publish_run(const char *root, int job_fd, const struct ipc_publish *req, pid_t parent_pid);

#endif
