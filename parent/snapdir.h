/* Name-safe operations on the snapshots directory, done by the parent for
 * the broker.  Every name is built here from numbers (`ID`, `new-ID`,
 * `rm-ID`), every call is an *at() call relative to an O_PATH fd of
 * ROOT/snapshots that never follows a link, and renames never replace. */
#ifndef STRATA_SNAPDIR_H
#define STRATA_SNAPDIR_H

#include <stddef.h>
#include <stdint.h>
#include "../proto/roles.h" /* enum snapdir_kind, struct snapdir */
#include "../common/err.h"

/* O_PATH|O_DIRECTORY fd of ROOT/snapshots. */
int snapdir_open(const char *snapshots_dir, struct err *e);

/* mkdir new-ID (0700), new-ID/fs (0755), new-ID/work (0711, active only);
 * fs takes the owner of PARENT/fs when parent_id != 0; rename to ID. */
int snapdir_create(int dfd, uint64_t id, uint64_t parent_id, int active, struct err *e);
/* Renames ID (SNAPDIR_LIVE) or new-ID (SNAPDIR_NEW) to rm-ID. */
int snapdir_drop(int dfd, uint64_t id, int kind, struct err *e);
/* Swaps the live ID/fs for a fresh empty directory (mode 0755, the owner
 * of PARENT/fs when parent_id != 0, else root's): mkdir rm-ID, then
 * exchange it with ID/fs, so that rm-ID holds the old tree for a remove
 * worker and ID/fs exists at every instant (proto/ipc.h IPC_SNAP_RESET). */
int snapdir_reset(int dfd, uint64_t id, uint64_t parent_id, struct err *e);
/* 1 when the live ID/fs has no entry, 0 when it has one, -1 with e when it
 * cannot be read (missing, a link, not a directory). */
int snapdir_fs_empty(int dfd, uint64_t id, struct err *e);
/* Numbered entries (ID, new-ID, rm-ID); other names are ignored. */
int snapdir_list(int dfd, struct snapdir **out, size_t *n, struct err *e);
/* Deletes rm-ID when it is the bare skeleton of a snapshot nothing was
 * written into: fs, work/work (overlayfs makes it), work and rm-ID itself,
 * each only if empty (rmdir).  Returns 1 when rm-ID is gone, 0 when
 * anything is left for a remove worker, -1 with e when rm-ID is not a
 * directory (missing, or a link). */
int snapdir_remove_empty(int dfd, uint64_t id, struct err *e);
/* rmdir rm-ID once a remove worker emptied it: 1 when it is gone, 0 when
 * something is left in it (the worker failed there), -1 with e otherwise. */
int snapdir_remove_rm(int dfd, uint64_t id, struct err *e);
/* Whether a worker target ("ID/fs" or "rm-ID", see role_target_name in proto/roles.h) is
 * a directory, not a link. */
int snapdir_check_target(int dfd, const char *name, struct err *e);

#endif
