/* The parent's operations on content_root, containerd's content store
 * layout (blobs/sha256/HEX, ingest/NAME/{data,ref,startedat,updatedat}):
 * the diff service reads layers from it and writes new ones into it.  Every
 * name is 64 lowercase hex digits, checked here; every path is built here and
 * opened *at() relative to a directory opened with O_NOFOLLOW. */
#ifndef STRATA_CONTENT_H
#define STRATA_CONTENT_H

#include <stdint.h>

#include "../common/err.h"

/* 1 when s is exactly 64 lowercase hex digits followed by a NUL. */
int content_hex_valid(const char *s);
/* blobs/sha256/HEX, read-only; fills *size.  Returns the fd. */
int content_open_blob(const char *root, const char *hex, uint64_t *size, struct err *e);
/* Creates ingest/NAME (EBUSY when it exists) with its ref and times and
 * returns its data file open for writing; with writable 0, opens the data
 * file of an existing ingest read-only. */
int content_ingest_open(const char *root, const char *name, const char *ref, int writable, struct err *e);
/* Moves ingest/NAME/data to blobs/sha256/DIGEST if its size is size, never
 * replacing a blob (then the ingest is dropped and the result is EEXIST),
 * and removes the ingest. */
int content_ingest_commit(const char *root, const char *name, const char *digest, uint64_t size,
			  struct err *e);
/* Removes ingest/NAME and what it holds; a missing ingest is not an error. */
int content_ingest_abort(const char *root, const char *name, struct err *e);

#endif
