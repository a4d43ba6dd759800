/* The mount role: builds the snapshot of its view as a detached mount with
 * the new mount API and sends its fd back (IPC_JOB_MOUNT).  It runs confined:
 * its policy allows fsopen, fsconfig, fsmount and open_tree (cloning), and
 * attaching only into its own namespace on the way out (below).  The view
 * (worker/sandbox.c) has /snap (the target's fs and work), /lower/N (its
 * parents' fs, nearest first) and an empty /empty.
 *
 *   read-write (an active snapshot):  overlay upperdir=/snap/fs,
 *       workdir=/snap/work, one lowerdir+ per parent; without parents,
 *       over /empty (an overlay, not a bind, so that Commit can ask the
 *       kernel whether it is still in use: upper_in_use).
 *   read-only:  the layers only: the target's own fs on top when it is an
 *       active snapshot mounted read-only, then the parents; one layer is a
 *       clone of that directory.
 * The mount is nosuid and nodev, and read-only unless read-write.
 *
 * Those flags must hold for whoever gets the fd, an ordinary user included.
 * A mount made here, in the initial user namespace, is not locked: its
 * holder could make a user namespace of its own, in which it holds
 * CAP_SYS_ADMIN over a mount namespace it owns, and clear them with
 * mount_setattr (a view of a committed layer would become writable, a
 * layer's device nodes openable).  So the worker passes the mount through a
 * namespace the kernel considers less privileged before it sends it: it
 * attaches the mount at /out of its own (private) mount namespace, enters a
 * new user namespace and, with it, a copy of that mount namespace, and sends
 * a clone of /out taken there.  The kernel locks the flags of every mount it
 * copies into a namespace owned by a less privileged user namespace
 * (MNT_LOCK_READONLY, _NODEV, _NOSUID, _NOEXEC, _ATIME), clones keep the
 * locks, and no caller in any namespace can change a locked flag (EPERM from
 * mount_setattr and from a bind remount).  The new user namespace maps no
 * id and only lowers the worker's privilege: from then on it holds its
 * capabilities over that namespace's mounts alone. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <unistd.h>

#include "overlay.h"
#include "roles.h"

/* Where the mount is attached in the worker's own namespace on its way out
 * (worker/sandbox.c makes the directory in the view). */
#define MOUNT_OUT "/out"

/* The mount, attached at MOUNT_OUT, copied into a namespace owned by a user
 * namespace of the worker's own (which locks its flags), and cloned there as
 * the detached mount to send. */
static int lock_flags(int mnt, struct err *e)
{
	int rc = move_mount(mnt, "", AT_FDCWD, MOUNT_OUT, MOVE_MOUNT_F_EMPTY_PATH);
	close(mnt);
	if (rc < 0)
		return err_errno(e, ST_INTERNAL, errno, "mount: attach at `%s` of its own namespace",
				 MOUNT_OUT);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return err_errno(e, ST_INTERNAL, errno, "mount: enter a user namespace of its own");
	int fd = open_tree(AT_FDCWD, MOUNT_OUT, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
	if (fd < 0)
		return err_errno(e, ST_INTERNAL, errno, "mount: clone the locked mount");
	return fd;
}

/* IPC_SPAWN_MOUNT_INUSE: whether an overlay uses /snap/fs as its upperdir.
 * Every overlay takes an in-use mark on its upperdir, and one asked for with
 * index=on refuses (EBUSY) an upperdir another overlay has marked; this one
 * names its upperdir as its lower layer too, which overlay refuses (ELOOP)
 * only after that check and before it writes anything: so it never mounts,
 * and its only answer is the one asked. */
static int upper_in_use(int job_fd)
{
	struct err e = {0};
	int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", "/snap/fs", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", "/snap/fs", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "workdir", "/snap/work", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "index", "on", 0) < 0) {
		err_errno(&e, ST_INTERNAL, errno, "mount: configure the in-use probe");
		return role_send_fail(job_fd, &e);
	}
	int rc = fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0), errnum = errno;
	close(fs);
	if (rc < 0 && errnum == ELOOP)
		return ipc_send(job_fd, IPC_JOB_DONE, NULL, 0, NULL, 0, NULL) < 0 ? 1 : 0;
	if (rc < 0 && errnum == EBUSY)
		err_set(&e, ST_FAILED_PRECONDITION,
			"a read-write mount of it is still open (an fd strata issued, kept after its "
			"hold ended): close or unmount it first");
	else
		err_errno(&e, ST_INTERNAL, rc < 0 ? errnum : EEXIST, "mount: the in-use probe");
	return role_send_fail(job_fd, &e);
}

int role_mount_run(int job_fd, const struct ipc_spawn *req)
{
	if (req->flags & IPC_SPAWN_MOUNT_INUSE)
		return upper_in_use(job_fd);
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
	/* A read-write snapshot without parents is an overlay too (over an
	 * empty layer), not a clone of its directory: an overlay marks its
	 * upperdir in use, which is how Commit learns that a mount fd is still
	 * open (upper_in_use). */
	if (n == 0 && rw)
		layers[n++] = "/empty", o.nlayers = 1;
	struct err e = {0};
	int fd = overlay_open(&o, &e);
	if (fd >= 0)
		fd = lock_flags(fd, &e);
	if (fd < 0)
		return role_send_fail(job_fd, &e);
	return ipc_send(job_fd, IPC_JOB_MOUNT, NULL, 0, &fd, 1, NULL) < 0 ? 1 : 0;
}
