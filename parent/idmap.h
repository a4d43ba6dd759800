/* The user namespaces of idmapped mounts.  The spawner (root) creates one
 * per idmapped mount job with the job's uid and gid maps and hands its fd to
 * the mount worker, which gives it to mount_setattr(MOUNT_ATTR_IDMAP). */
#ifndef STRATA_IDMAP_H
#define STRATA_IDMAP_H

#include "../common/err.h"
#include "../proto/ipc.h"

/* 1 when both maps have 1..IPC_MAX_ID_RANGES ranges, none empty, none
 * running past 2^32 - 1 (the kernel checks overlaps when they are written). */
int idmap_valid(const struct ipc_spawn *s);
/* A new user namespace with s's maps, as an fd (O_CLOEXEC). */
int idmap_userns(const struct ipc_spawn *s, struct err *e);

#endif
