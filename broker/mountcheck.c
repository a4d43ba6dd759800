/* A mount worker's result, checked before the broker hands it to a client.
 *
 * The mount worker runs with CAP_SYS_ADMIN and fsopen: were it compromised,
 * it could send a mount of another file system (proc, sysfs, a devtmpfs)
 * or one without nodev or nosuid, and the broker would pass it on to an
 * ordinary user.  So the broker accepts only what a mount worker is meant to
 * make: the root of a mount, a directory, of overlay or of the file system
 * that holds the snapshots (a clone of one snapshot directory), with nodev
 * and nosuid, and read-only when the client asked for read-only.  The
 * kernel reports a mount's flags in f_flags together with its superblock's,
 * so nothing here can be hidden by the mount's own options. */
#include "mountcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>

#include "broker.h"

int mount_fd_check(int fd, int read_only, struct stat *st, struct err *e)
{
	struct statx stx;
	struct statfs sf;
	if (fstat(fd, st) < 0 || !S_ISDIR(st->st_mode) || statx(fd, "", AT_EMPTY_PATH, STATX_TYPE, &stx) < 0)
		return err_set(e, ST_INTERNAL, "the mount worker's result is not a directory");
	if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) ||
	    !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		return err_set(e, ST_INTERNAL, "the mount worker's result is not the root of a mount");
	if (fstatfs(fd, &sf) < 0)
		return err_errno(e, ST_INTERNAL, errno, "statfs of the mount worker's result");
	if (sf.f_type != OVERLAYFS_SUPER_MAGIC && (long)sf.f_type != broker.snapshots_fs_type)
		return err_set(e, ST_INTERNAL,
			       "the mount worker's result is a file system of type %#lx, not overlay or %#lx",
			       (unsigned long)sf.f_type, (unsigned long)broker.snapshots_fs_type);
	if (!(sf.f_flags & ST_NODEV) || !(sf.f_flags & ST_NOSUID) || (read_only && !(sf.f_flags & ST_RDONLY)))
		return err_set(e, ST_INTERNAL, "the mount worker's result lacks nodev, nosuid%s",
			       read_only ? " or read-only" : "");
	return 0;
}
