/* The parent's operations on content_root, containerd's content store
 * layout (blobs/sha256/HEX, ingest/NAME/{data,ref,startedat,updatedat}):
 * the diff service reads layers from it and writes new ones into it.  Every
 * name is 64 lowercase hex digits, checked here; every path is built here and
 * opened *at() relative to a directory opened with O_NOFOLLOW.  A blob is
 * published (renamed into blobs/) only by parent/publish.c, from a copy it
 * hashed itself. */
#ifndef STRATA_CONTENT_H
#define STRATA_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../common/hex.h" /* hex_sha256_valid(), the check of every name */

/* blobs/sha256/HEX, read-only; fills *size.  Returns the fd. */
int content_open_blob(const char *root, const char *hex, uint64_t *size, struct err *e);
/* Creates ingest/NAME (Unavailable when it exists: that ref is being
 * written, by strata or by containerd) with its ref and times, and returns
 * its data file open for writing. */
int content_ingest_open(const char *root, const char *name, const char *ref, struct err *e);
/* Removes ingest/NAME and what it holds; a missing ingest is not an error. */
int content_ingest_abort(const char *root, const char *name, struct err *e);

/* The copy of ingest/NAME/data that a publisher hashes and renames to
 * blobs/sha256/DIGEST (parent/publish.c). */
#define CONTENT_PUBLISH_COPY "publish"
/* An empty file content_ingest_open puts in every ingest strata creates:
 * the publisher acts on no ingest without it, so containerd's own ingests
 * (in the same directory, never with it) stay out of the broker's reach.
 * Only root writes there: nobody else can make one. */
#define CONTENT_STRATA_MARK "strata"

/* Whether ingest NAME, in the ingest directory ingest_dir, carries strata's
 * mark (and so is one strata created). */
int content_ingest_is_strata(int ingest_dir, const char *name);
/* Removes every ingest of strata's in root: at start, before any broker
 * runs, each one is left over from a daemon that died.  Returns how many,
 * or -1; containerd's own are never touched. */
int content_ingests_sweep(const char *root, struct err *e);

/* The ingests strata created, so that the parent acts on those and no
 * others (containerd's own ingests live in the same directory).  Bounded:
 * a broker that never ends its ingests is refused new ones. */
#define CONTENT_INGESTS_MAX 256
struct content_ingests {
	char names[CONTENT_INGESTS_MAX][65];
	size_t n;
};
/* -1 when the table is full or holds name already. */
int content_ingests_add(struct content_ingests *t, const char *name);
int content_ingests_has(const struct content_ingests *t, const char *name);
/* 1 when name was there (and is removed), else 0. */
int content_ingests_take(struct content_ingests *t, const char *name);

#endif
