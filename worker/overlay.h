/* Detached overlay mounts of a snapshot chain, built with the new mount API
 * (fsopen, fsconfig, fsmount) and attached nowhere: the caller decides where
 * the mount goes, or passes its fd on.  Used by the diff role's general path
 * (two merged trees, read-only) and by the mount role. */
#ifndef STRATA_OVERLAY_H
#define STRATA_OVERLAY_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

struct overlay_spec {
	const char *const *layers; /* lower layers' paths, topmost first; n >= 1 */
	size_t nlayers;
	const char *upper, *work; /* both or neither: NULL gives a read-only overlay */
	uint64_t attrs;		  /* MOUNT_ATTR_* of the detached mount */
	/* A single directory's clone keeps the attributes of the mount it
	 * comes from (no mount_setattr): for callers whose view already has
	 * the attributes they want. */
	int clone_keeps_attrs;
};

/* Returns the fd of a detached mount: an overlay of the layers (one
 * `lowerdir+` per layer, so the depth is not limited by the size of one
 * option string; kernels without it get one `lowerdir` string), or, for a
 * single read-only layer with no upper, a clone of that directory (open_tree):
 * overlay needs two layers to merge.  Relative paths resolve against the
 * working directory. */
int overlay_open(const struct overlay_spec *o, struct err *e);

/* A detached copy (open_tree OPEN_TREE_CLONE) of the directory at path, not
 * following a final symlink, with the given MOUNT_ATTR_* set (none: 0). */
int mount_clone(const char *path, uint64_t attrs, struct err *e);

#endif
