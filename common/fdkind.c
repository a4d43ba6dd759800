#include "fdkind.h"

#include <errno.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

int fd_kind(int fd, struct err *e)
{
	struct stat st;
	struct statfs sf;
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sf) < 0)
		return err_errno(e, ST_INVALID_ARGUMENT, errno, "the layer's fd");
	if (S_ISFIFO(st.st_mode))
		return sf.f_type == PIPEFS_MAGIC ? FD_PIPE : FD_FILE;
	if (S_ISREG(st.st_mode))
		return FD_FILE;
	const char *what = S_ISDIR(st.st_mode)	  ? "a directory"
			   : S_ISSOCK(st.st_mode) ? "a socket"
			   : S_ISCHR(st.st_mode)  ? "a character device"
			   : S_ISBLK(st.st_mode)
			       ? "a block device"
			       : "an fd of no file system (an event, timer or signal fd...)";
	return err_set(e, ST_INVALID_ARGUMENT, "a layer travels in a regular file or a pipe, not in %s",
		       what);
}
