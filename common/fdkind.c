#include "fdkind.h"

#include <errno.h>
#include <fcntl.h>
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

int fd_access(int fd, int for_write, struct err *e)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return err_errno(e, ST_INVALID_ARGUMENT, errno, "the layer's fd");
	int mode = fl & O_ACCMODE;
	if ((fl & O_PATH) || (for_write ? mode == O_RDONLY : mode == O_WRONLY))
		return err_set(e, ST_INVALID_ARGUMENT, "the layer's fd is not open for %s%s",
			       for_write ? "writing" : "reading", (fl & O_PATH) ? " (O_PATH)" : "");
	return 0;
}
