/* The mounts a snapshot is used through, as containerd's overlayfs
 * snapshotter returns them (snapshots/overlay/overlay.go, mounts()):
 *   no parent              bind of ID/fs, "rw" (active) or "ro" (view), "rbind"
 *   view of one parent     read-only bind of the parent's fs
 *   active with parents    overlay: [index=off] [userxattr] workdir= upperdir= lowerdir=
 *   view of several        overlay: [index=off] [userxattr] lowerdir=
 * lowerdir lists the parents nearest first. */
#ifndef STRATA_MOUNTS_H
#define STRATA_MOUNTS_H

#include <stddef.h>
#include <stdint.h>

struct mount_spec {
	char *type;
	char *source;
	size_t nopts;
	char **opts;
};

struct mount_opts {
	const char *snapshots_dir; /* ROOT/snapshots */
	int index_off;		   /* add index=off */
	int userxattr;		   /* add userxattr */
};

/* kind: enum snap_kind (active or view).  Returns the number of mounts (1). */
size_t mounts_build(const struct mount_opts *o, int kind, uint64_t id, const uint64_t *parents,
		    size_t nparents, struct mount_spec *out);
void mounts_free(struct mount_spec *m, size_t n);

#endif
