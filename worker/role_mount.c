/* The mount role: builds the snapshot of its view as a detached mount with
 * the new mount API and sends its fd back (IPC_JOB_MOUNT).  It runs confined:
 * its policy allows fsopen, fsconfig, fsmount and open_tree (cloning), and
 * nothing that attaches a mount anywhere (no mount, move_mount,
 * pivot_root, setns).  The view (worker/sandbox.c) has /snap (the target's
 * fs and work) and /lower/N (its parents' fs, nearest first).
 *
 *   read-write (an active snapshot):  overlay upperdir=/snap/fs,
 *       workdir=/snap/work, one lowerdir+ per parent; without parents a
 *       clone of /snap/fs (a bind, as containerd's snapshotter gives).
 *   read-only:  the layers only: the target's own fs on top when it is an
 *       active snapshot mounted read-only, then the parents; one layer is a
 *       clone of that directory.
 * The mount is nosuid and nodev, and read-only unless read-write. */
#include <stdio.h>
#include <sys/mount.h>

#include "overlay.h"
#include "roles.h"

int role_mount_run(int job_fd, const struct ipc_spawn *req)
{
	static char names[IPC_MAX_LOWER + 1][24];
	static const char *layers[IPC_MAX_LOWER + 1];
	int rw = (req->flags & IPC_SPAWN_MOUNT_RW) != 0, own = (req->flags & IPC_SPAWN_MOUNT_OWN) != 0;
	size_t n = 0;
	if (own && !rw)
		layers[n++] = "/snap/fs";
	for (uint32_t i = 0; i < req->nlower; i++) {
		snprintf(names[i], sizeof names[i], "/lower/%u", i);
		layers[n++] = names[i];
	}
	struct overlay_spec o = {
	    .layers = layers,
	    .nlayers = n,
	    .upper = rw ? "/snap/fs" : NULL,
	    .work = rw ? "/snap/work" : NULL,
	    .attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (rw ? 0 : MOUNT_ATTR_RDONLY),
	    /* The view's mounts already are nosuid, nodev and, unless
	     * read-write, read-only: a clone keeps that, so the policy needs
	     * no mount_setattr. */
	    .clone_keeps_attrs = 1,
	};
	/* A view of nothing: its own (empty) fs, read-only. */
	if (n == 0 && !rw)
		layers[n++] = "/snap/fs", o.nlayers = 1;
	struct err e = {0};
	int fd = overlay_open(&o, &e);
	if (fd < 0)
		return role_send_fail(job_fd, &e);
	return ipc_send(job_fd, IPC_JOB_MOUNT, NULL, 0, &fd, 1, NULL) < 0 ? 1 : 0;
}
