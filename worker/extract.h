/* The layer extraction engine: applies one image layer (tar, gzip or zstd)
 * to an overlay upperdir exactly as containerd 1.6's archive.Apply with the
 * overlay whiteout converter does, but with its own writer: every path
 * operation is relative to a directory fd, never follows a symlink and never
 * leaves the target.
 *
 * Four parts, one file each:
 *   extract.c        the stream: compression by magic, decompression
 *                    (isa-l, libzstd), SHA-256 of both streams, the optional
 *                    second thread and its ring of buffers; extract_layer()
 *   extract_tar.c    libarchive (read side only, tar formats, no filters):
 *                    headers to struct xentry, path cleaning, limits
 *   extract_write.c  the writer: creation, replacement, whiteouts, parent
 *                    directories inherited from lower layers, metadata
 *   extract_pool.c   the writer threads for small files, in tar order's
 *                    result */
#ifndef STRATA_EXTRACT_H
#define STRATA_EXTRACT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/err.h"

struct extract_limits {
	uint64_t max_bytes;   /* uncompressed stream, trailing bytes included */
	uint64_t max_entries; /* tar headers */
	uint32_t max_depth;   /* path components of an entry */
	uint32_t max_name;    /* bytes of an entry's path or link target */
	uint32_t max_xattr;   /* bytes of one xattr value */
	uint64_t max_file;    /* one file's (logical) size */
	uint32_t max_ratio;   /* uncompressed / compressed, past the first 64 MiB (0: none) */
	int strip_caps;	      /* drop security.capability and setuid/setgid bits */
	int single_thread;    /* decompress in the calling thread (no pipeline) */
	int no_digest;	      /* compressed_digest not wanted (left zero) */
	/* The lowers come at commit (a layer unpacked beside its lowers, then
	 * rebased onto them): whiteouts and opaque markers convert as over
	 * lowers, and what the lowers would give is left to extract_rebase. */
	int rebase;
};

void extract_limits_default(struct extract_limits *l);

struct extract_result {
	unsigned char diff_id[32]; /* sha256 of the uncompressed stream, trailing bytes included */
	unsigned char compressed_digest[32];
	uint64_t compressed_size, uncompressed_size, entries;
};

/* in_fd: the layer (any compression); target_fd: O_DIRECTORY fd of the
 * upperdir (read-write); lower_fds: O_DIRECTORY fds of lower layers' fs dirs,
 * nearest first (read-only).  progress(ctx, bytes_in, entries) may be NULL;
 * it is called from the calling thread at most every 100 ms and once at the
 * end.  Errors: InvalidArgument for malformed input, ResourceExhausted naming
 * the limit, Unimplemented for unknown compression, Internal.  The umask is
 * 0 while it runs (restored after).  Never closes the fds it is given. */
int extract_layer(int in_fd, int target_fd, const int *lower_fds, size_t nlower,
		  const struct extract_limits *lim,
		  void (*progress)(void *ctx, uint64_t in, uint64_t entries), void *ctx,
		  struct extract_result *res, struct err *e);

/* Once the lowers of a layer applied with lim->rebase are there (nearest
 * first, read-only): gives the directories that apply made as parents the
 * owner, mode and xattrs of the lowers' (as extract_layer would have, with
 * them), and the directory entries merged into such a parent the lowers'
 * xattrs they lack; removes every mark that apply left.  lim bounds the
 * walk (max_depth, max_name).  Never closes the fds it is given. */
int extract_rebase(int target_fd, const int *lower_fds, size_t nlower, const struct extract_limits *lim,
		   struct err *e);

/* ---- internal to worker/extract*.c (and their tests) -------------------- */

/* The uncompressed stream, as the tar reader pulls it. */
struct xstream;
/* Next block of uncompressed bytes: > 0 its length, 0 at the end, -1 on
 * error (e filled).  The block stays valid until the next call. */
ssize_t xstream_next(struct xstream *s, const void **buf, struct err *e);
/* Bytes of the layer (compressed) read so far. */
uint64_t xstream_bytes_in(struct xstream *s);
/* Called by the consumer, for len bytes at p of the block xstream_next
 * returned last: pins that block and returns its slot, or -1 when p is not
 * in it (the tar reader copied those bytes) or the stream has one thread.
 * A pinned block stays valid, whatever the consumer reads next, until
 * xstream_unpin(slot), which any thread may call. */
int xstream_pin(struct xstream *s, const void *p, size_t len);
void xstream_unpin(struct xstream *s, int slot);
/* fn(ctx) runs in the consumer, about every 100 ms while it waits for the
 * producer, and after each block of a plain layer it reads itself: the
 * caller can report progress on a layer that trickles in. */
void xstream_on_wait(struct xstream *s, void (*fn)(void *ctx), void *ctx);

enum xentry_type { XE_REG = 1, XE_DIR, XE_SYMLINK, XE_HARDLINK, XE_CHR, XE_BLK, XE_FIFO };

struct xattr_kv {
	const char *name;
	const void *value;
	size_t size;
};

struct xtime {
	int64_t sec;
	long nsec;
};

/* One tar entry, already checked: path cleaned (relative, no `..`, not
 * "."), xattrs filtered (no trusted.*, capability as the limits say). */
struct xentry {
	const char *path;
	int type;    /* enum xentry_type */
	mode_t mode; /* permission and setuid/setgid/sticky bits */
	uid_t uid;
	gid_t gid;
	dev_t rdev;
	const char *link;	   /* symlink target as stored; hardlink target cleaned */
	struct xtime atime, mtime; /* as containerd bounds them */
	uint64_t size;		   /* logical size of a regular file */
	const struct xattr_kv *xattrs;
	size_t nxattrs;
};

/* A regular file's data: *buf, *len at offset *off (gaps are holes).
 * Returns 1 for a block, 0 at the end, -1 on error. */
struct xdata {
	int (*next)(void *ctx, const void **buf, size_t *len, uint64_t *off, struct err *e);
	void *ctx;
};

struct xwriter;
struct xwriter *xw_new(int target_fd, const int *lower_fds, size_t nlower, const struct extract_limits *lim);
int xw_entry(struct xwriter *w, const struct xentry *x, struct xdata *data, struct err *e);
/* One directory's share of extract_rebase (fd: the directory rel). */
int xw_rebase_dir(struct xwriter *w, int fd, const char *rel, struct err *e);
/* Sets the directories' times, last, as containerd does. */
int xw_finish(struct xwriter *w, struct err *e);
void xw_free(struct xwriter *w);
/* Removes `name` below dirfd (a tree too), never following a link, with a
 * bounded number of open fds whatever the depth. */
int xw_remove(int dirfd, const char *name, struct err *e);

/* The removals of writers sharing *gen bump it; a writer drops its cached
 * parent directory when it changed (threads writing one target). */
void xw_share_gen(struct xwriter *w, _Atomic unsigned *gen);

/* The writer pool (extract_pool.c): entries in tar order, small regular
 * files written by threads of their own, the rest by main, with the result
 * of applying them in order. */
struct xpool;
struct xpool *xpool_new(struct xwriter *main, struct xstream *stream, int target_fd, const int *lower_fds,
			size_t nlower, const struct extract_limits *lim);
int xpool_entry(struct xpool *p, const struct xentry *x, struct xdata *data, struct err *e);
/* Waits for the jobs in flight, then xw_finish(main). */
int xpool_finish(struct xpool *p, struct err *e);
/* Waits for the jobs in flight (after a job failed, those queued are
 * dropped), then stops the threads. */
void xpool_free(struct xpool *p);

/* Reads every entry of s into p; counts entries into *entries. */
int xtar_apply(struct xstream *s, struct xpool *p, const struct extract_limits *lim,
	       void (*progress)(void *ctx, uint64_t in, uint64_t entries), void *ctx, uint64_t *entries,
	       struct err *e);

/* Go's filepath.Clean on a relative-or-absolute tar name, in place. */
void xpath_clean(char *p);

#endif
