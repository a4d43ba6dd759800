/* The layer creation engine: the opposite of worker/extract.h.  It writes
 * the changes between two trees (or one overlay upperdir) as an OCI layer,
 * tar, tar+gzip or tar+zstd, the way containerd 1.6's walking differ
 * (continuity's fs.Changes + archive.ChangeWriter) describes them, and
 * deterministically: the same trees always give the same bytes.
 *
 * It only reads: every path operation is relative to a directory fd, never
 * follows a symlink (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, readlinkat), and the
 * only file it writes is the output fd it is given.
 *
 * Three parts, one file each:
 *   diff_walk.c      the walk: an overlay upperdir alone (fast path) or two
 *                    trees side by side (general path), in tar order
 *   diff_tar.c       the tar writer: ustar headers, PAX records for long
 *                    names, big numbers and xattrs, hardlinks, whiteouts
 *   diff_compress.c  the output: gzip (libdeflate, blocks in parallel) or zstd
 *                    (libzstd workers), SHA-256 of both streams on the fly */
#ifndef STRATA_DIFF_H
#define STRATA_DIFF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "../common/err.h"

enum diff_compression { DIFF_TAR = 0, DIFF_GZIP = 1, DIFF_ZSTD = 2 };

struct diff_opts {
	int compression;	   /* enum diff_compression */
	int64_t source_date_epoch; /* -1: none; else later mtimes are clamped to it */
	/* Compression threads; <= 1: none but the caller's.  Never "one per
	 * CPU": in the diff worker sysconf would end up asking
	 * sched_getaffinity, which its policy lacks. */
	int threads;
	/* Optional: called at most every 100 ms with the tar bytes and the
	 * entries written so far. */
	void (*progress)(void *ctx, uint64_t tar_bytes, uint64_t entries);
	void *progress_ctx;
};

struct diff_result {
	unsigned char digest[32];  /* sha256 of the output bytes */
	unsigned char diff_id[32]; /* sha256 of the uncompressed tar */
	uint64_t size, uncompressed_size, entries;
};

/* upper_fd: O_DIRECTORY fd of an overlay upperdir (fast path, lower_fd =
 * -1), or the right tree with lower_fd the left tree (general path).  Writes
 * the layer to out_fd.  Errors: InvalidArgument for bad arguments,
 * FailedPrecondition for a tree it cannot describe (an upperdir with
 * file that changes while read), Aborted for an upperdir with redirect or
 * metacopy xattrs (the fast path cannot describe it: compare the merged
 * trees instead), Internal
 * for the rest.  Never closes the fds it is given. */
int diff_layer(int lower_fd, int upper_fd, int out_fd, const struct diff_opts *o, struct diff_result *res,
	       struct err *e);

/* ---- internal to worker/diff*.c (and their tests) ----------------------- */

/* The output stream: compression and both digests.  sink_write() takes
 * uncompressed tar bytes in order. */
struct dsink;
int dsink_new(struct dsink **out, int out_fd, const struct diff_opts *o, struct err *e);
int dsink_write(struct dsink *s, const void *buf, size_t len, struct err *e);
/* Flushes, ends the compressed stream and fills digests and sizes. */
int dsink_finish(struct dsink *s, struct diff_result *res, struct err *e);
void dsink_free(struct dsink *s);

struct dxattr {
	char *name;
	void *value;
	size_t size;
};

enum dnode_kind { DN_ENTRY = 0, DN_HARDLINK, DN_WHITEOUT };

/* One tar entry, as the walk hands it to the writer.  path is relative,
 * without a trailing slash; for DN_WHITEOUT it is already `dir/.wh.NAME`. */
struct dnode {
	const char *path;
	int kind;		     /* enum dnode_kind */
	const struct stat *st;	     /* DN_ENTRY, DN_HARDLINK: type, mode, owner, times, rdev, size */
	const char *link;	     /* symlink target, or the hardlink's first name */
	const struct dxattr *xattrs; /* sorted by name, already filtered */
	size_t nxattrs;
	int fd; /* regular file with data: read st->st_size bytes from it */
};

struct tarw;
struct tarw *tarw_new(struct dsink *sink, const struct diff_opts *o);
int tarw_entry(struct tarw *t, const struct dnode *n, struct err *e);
/* Writes the two zero blocks that end a tar and flushes into the sink. */
int tarw_finish(struct tarw *t, struct err *e);
uint64_t tarw_entries(const struct tarw *t);
void tarw_free(struct tarw *t);

/* Walks the trees and writes every change to t. */
int dwalk_run(int lower_fd, int upper_fd, struct tarw *t, struct err *e);
/* Tests: behave as on a kernel without listxattrat/getxattrat (before
 * 6.13), reading xattrs through an fd of each file and directory. */
extern int dwalk_no_xattrat;

#endif
