/* mount [--read-only] [--idmap SPEC] KEY DIR, umount DIR: a snapshot's
 * filesystem attached at DIR and detached again.
 *
 * The daemon never mounts anything into a namespace the client did not
 * choose: its mount worker builds the snapshot as a detached mount and
 * hands the fd over the native socket (NM_MOUNT); this process attaches it
 * with move_mount, so the mount lands in the caller's own mount namespace
 * and needs the caller's own privilege there.  The request names the
 * attach path, so the daemon's hold on the snapshot outlives this process
 * until `strata umount DIR` releases it (NM_RELEASE).  DIR is opened once
 * and both the attach and the hold's path come from that fd. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mountfd.h"
#include "../common/util.h"

#define PRIVILEGE_HINT                                                                                       \
	"mounting needs privilege: CAP_SYS_ADMIN in the mount namespace that owns the target (run as root)"

struct mount_args {
	const char *key, *dir;
	int read_only;
	const char *idmap; /* the --idmap spec, or NULL */
};

/* Returns CLI_OK with *help set after -h, CLI_OK with a filled, or CLI_USAGE. */
static int parse_mount(struct cli *cli, int argc, char **argv, struct mount_args *a, int *help)
{
	const char *pos[2];
	int npos = 0, options_done = 0;
	memset(a, 0, sizeof *a);
	*help = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (options_done || arg[0] != '-' || arg[1] == 0) {
			if (npos < 2)
				pos[npos] = arg;
			npos++;
		} else if (strcmp(arg, "--") == 0) {
			options_done = 1;
		} else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			cli_print_help(&cli_cmd_mount);
			*help = 1;
			return CLI_OK;
		} else if (strcmp(arg, "--read-only") == 0) {
			a->read_only = 1;
		} else if (strncmp(arg, "--idmap=", 8) == 0) {
			a->idmap = arg + 8;
		} else if (strcmp(arg, "--idmap") == 0) {
			if (i + 1 >= argc)
				return cli_usage(cli, "--idmap needs a value (uids=I:O:C,gids=I:O:C)");
			a->idmap = argv[++i];
		} else {
			return cli_usage(cli, "unknown option `%s`", arg);
		}
	}
	if (npos != 2)
		return cli_usage(cli, "%s arguments (usage: strata mount %s)",
				 npos < 2 ? "missing" : "too many", cli_cmd_mount.synopsis);
	a->key = pos[0];
	a->dir = pos[1];
	return CLI_OK;
}

/* DIR, resolved exactly once: the attach goes to this directory and the
 * hold is named after where it is, whatever happens to the name DIR in the
 * meantime.  Resolving the string twice (once for the name, once for
 * move_mount) let whoever can write a directory on the path swap in a
 * symlink between the two and have root mount elsewhere. */
struct mount_target {
	int fd;	    /* O_PATH of the directory */
	char *path; /* where that directory is, read back from the fd */
};

/* The path of what fd refers to in this process's root, as the kernel
 * tracks it (not a resolution of a name). */
static char *fd_path(int fd, const char *what, struct err *e)
{
	char link[64], buf[PATH_MAX];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, buf, sizeof buf - 1);
	if (n < 0) {
		err_errno(e, ST_INTERNAL, errno, "where is `%s` (readlink %s)", what, link);
		return NULL;
	}
	if (n == (ssize_t)sizeof buf - 1 || buf[0] != '/') {
		err_set(e, ST_INVALID_ARGUMENT, "`%s` has no path in this process's root", what);
		return NULL;
	}
	buf[n] = 0;
	return xstrdup(buf);
}

/* Opens dir without following a symlink in its last component (trailing
 * slashes dropped, so `link/` does not follow either): the mount lands on
 * the directory the name denotes, never where a symlink someone planted in
 * a directory they can write points.  Symlinks in the leading components
 * are followed, as by any path; umount2(UMOUNT_NOFOLLOW) and move_mount
 * (without MOVE_MOUNT_T_SYMLINKS) treat the last component the same way. */
static int target_open(const char *dir, struct mount_target *t, struct err *e)
{
	cleanup_free char *name = xstrdup(dir);
	size_t len = strlen(name);
	struct stat st;
	while (len > 1 && name[len - 1] == '/')
		name[--len] = 0;
	t->path = NULL;
	t->fd = open(name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (t->fd < 0)
		return err_errno(e, 0, errno, "mount point `%s`", dir);
	if (fstat(t->fd, &st) < 0) {
		err_errno(e, ST_INTERNAL, errno, "mount point `%s` (fstat)", dir);
	} else if (S_ISLNK(st.st_mode)) {
		err_set(
		    e, ST_INVALID_ARGUMENT,
		    "mount point `%s` is a symbolic link: name the directory itself (strata mount does not "
		    "follow a symlink in the last component)",
		    dir);
	} else if (!S_ISDIR(st.st_mode)) {
		err_set(e, ST_INVALID_ARGUMENT, "mount point `%s` is not a directory", dir);
	} else if ((t->path = fd_path(t->fd, dir, e))) {
		return 0;
	}
	close(steal_fd(&t->fd));
	return -1;
}

static void target_close(struct mount_target *t)
{
	if (t->fd >= 0)
		close(steal_fd(&t->fd));
	free(steal_pointer(&t->path));
}

static void print_mounted(struct cli *cli, const struct mount_args *a, const char *target,
			  const struct strata_mount_info *info)
{
	if (cli->json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "key", a->key);
		jw_str(&w, "target", target);
		jw_str(&w, "type", info->type);
		jw_bool(&w, "read_only", info->read_only);
		jw_int(&w, "layers", info->layers);
		jw_bool(&w, "idmapped", info->idmapped);
		jw_obj_end(&w);
		jw_finish(&w);
		return;
	}
	out_text(stdout, a->key);
	fputs(" mounted at ", stdout);
	out_text(stdout, target);
	printf(": ");
	out_text(stdout, info->type);
	printf(", %lld layer%s, %s%s\n", (long long)info->layers, info->layers == 1 ? "" : "s",
	       info->read_only ? "read-only" : "read-write", info->idmapped ? ", idmapped" : "");
}

/* The mount could not be attached: end the daemon's hold, which would
 * otherwise outlive this process with nothing mounted. */
static void release_after_failure(struct cli *cli, const char *target)
{
	struct err e;
	if (mountfd_release(&cli->conn, target, NULL, &e) < 0) {
		err_wrap(&e, "releasing the hold failed too (`strata umount` it)");
		cli_fail(cli, target, &e);
	}
}

/* The directory was renamed between target_open() and the attach: the
 * mount is on it, but not where the hold says.  Detach it again (through
 * the mount fd, which names the mount, not a path). */
static int undo_moved(int fd, const struct mount_target *t, const char *where, struct err *e)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if (umount2(link, MNT_DETACH) < 0)
		return err_errno(
		    e, ST_INTERNAL, errno,
		    "`%s` was moved to `%s` while being mounted, and the mount there could not be "
		    "detached (unmount it)",
		    t->path, where);
	return err_set(e, ST_FAILED_PRECONDITION, "`%s` was moved to `%s` while being mounted: not mounted",
		       t->path, where);
}

/* Attaches mount fd at the opened target (both by fd: no name is resolved
 * here) and checks that the mount is where the hold says; *e explains a
 * failure, privilege first. */
static int attach(int fd, const struct mount_target *t, struct err *e)
{
	if (move_mount(fd, "", t->fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
		int errnum = errno;
		if (errnum == EPERM || errnum == EACCES)
			return err_set(e, ST_PERMISSION_DENIED, "attach at `%s`: %s: %s", t->path,
				       strerror(errnum), PRIVILEGE_HINT);
		return err_errno(e, 0, errnum, "attach at `%s` (move_mount)", t->path);
	}
	cleanup_free char *where = fd_path(fd, t->path, e);
	if (!where || strcmp(where, t->path) == 0)
		return where ? 0 : -1;
	return undo_moved(fd, t, where, e);
}

static int do_mount(struct cli *cli, const struct mount_args *a)
{
	struct strata_idmap idmap;
	struct strata_mount_info info;
	struct mount_target t;
	struct err e;
	if (a->idmap && mountfd_idmap_parse(a->idmap, &idmap, &e) < 0)
		return cli_usage(cli, "%s", e.msg);
	if (target_open(a->dir, &t, &e) < 0)
		return cli_fail(cli, a->key, &e);
	struct strata_mount_opts o = {
	    .read_only = a->read_only, .idmap = a->idmap ? &idmap : NULL, .attach_path = t.path};
	int rc = CLI_OK, fd = -1;
	if (cli_connect(cli, &e) < 0 || (fd = mountfd_get(&cli->conn, a->key, &o, &info, &e)) < 0) {
		rc = cli_fail(cli, a->key, &e);
	} else if (attach(fd, &t, &e) < 0) {
		close(steal_fd(&fd)); /* nothing may keep the mount alive now */
		release_after_failure(cli, t.path);
		rc = cli_fail(cli, a->key, &e);
	} else {
		print_mounted(cli, a, t.path, &info);
	}
	if (fd >= 0)
		close(fd);
	target_close(&t);
	return rc;
}

static int run_mount(struct cli *cli, int argc, char **argv)
{
	struct mount_args a;
	int help, rc = parse_mount(cli, argc, argv, &a, &help);
	if (rc != CLI_OK || help)
		return rc;
	return do_mount(cli, &a);
}

/* ---- umount ---- */

static void print_unmounted(struct cli *cli, const char *target, const char *key, int was_mounted)
{
	if (cli->json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "target", target);
		jw_str(&w, "key", key);
		jw_bool(&w, "unmounted", was_mounted);
		jw_obj_end(&w);
		jw_finish(&w);
		return;
	}
	if (!was_mounted)
		fputs("nothing was mounted at ", stdout);
	else
		fputs("unmounted ", stdout);
	out_text(stdout, target);
	fputs(was_mounted ? " (" : "; released the hold of ", stdout);
	out_text(stdout, key);
	fputs(was_mounted ? ")\n" : "\n", stdout);
}

/* DIR is not mounted (not a mount point, or gone altogether): a hold left by
 * a mount that was unmounted by other means (plain umount, then perhaps
 * rmdir) still names it, and releasing it is the only way to end it.
 * Without one, the error is that DIR is not mounted (why: "is not a mount
 * point", "does not exist"); a refusal by the daemon (another user's hold)
 * is reported as it is. */
static int release_unmounted(struct cli *cli, const char *target, const char *why)
{
	struct err e, re;
	cleanup_free char *key = NULL;
	if (cli_connect(cli, &re) == 0 && mountfd_release(&cli->conn, target, &key, &re) == 0) {
		print_unmounted(cli, target, key, 0);
		return CLI_OK;
	}
	if (re.code == ST_PERMISSION_DENIED)
		return cli_fail(cli, NULL, &re);
	err_set(&e, ST_INVALID_ARGUMENT, "`%s` %s (and no strata mount holds it: %s)", target, why, re.msg);
	return cli_fail(cli, NULL, &e);
}

/* path made absolute and tidied without the file system: no empty, `.` or
 * `..` components (`..` drops the one before, as it did when the mount was
 * made through existing directories). */
static char *lexical_path(const char *path)
{
	char cwd[4096];
	cleanup_free char *abs =
	    path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", getcwd(cwd, sizeof cwd) ? cwd : "", path);
	char *out = xmalloc(strlen(abs) + 2), *save = NULL;
	size_t n = 0;
	for (char *c = strtok_r(abs, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, ".."))
			while (n > 0 && out[--n] != '/')
				;
		else if (strcmp(c, ".") != 0)
			n += (size_t)sprintf(out + n, "/%s", c);
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return out;
}

/* The path a hold names for a DIR that no longer exists (or is no longer a
 * directory): DIR's parent resolved as `strata mount` resolved DIR, plus
 * DIR's last component; without a parent to resolve, DIR tidied. */
static char *gone_target(const char *dir)
{
	char *tidy = lexical_path(dir), *slash = strrchr(tidy, '/');
	if (slash == tidy)
		return tidy;
	*slash = '\0';
	char *parent = realpath(tidy, NULL);
	*slash = '/';
	if (!parent)
		return tidy;
	char *target = xasprintf("%s%s", strcmp(parent, "/") ? parent : "", slash);
	free(parent);
	free(tidy);
	return target;
}

static int unmount_failed(struct cli *cli, const char *target, int errnum)
{
	struct err e;
	if (errnum == EBUSY)
		err_set(&e, ST_FAILED_PRECONDITION,
			"`%s` is busy (a process uses it, or something is mounted below it): not unmounted",
			target);
	else if (errnum == EPERM)
		err_set(&e, ST_PERMISSION_DENIED, "unmount `%s`: %s: un%s", target, strerror(errnum),
			PRIVILEGE_HINT);
	else
		err_errno(&e, 0, errnum, "unmount `%s`", target);
	return cli_fail(cli, NULL, &e);
}

static int do_umount(struct cli *cli, const char *dir)
{
	struct err e;
	struct stat st;
	cleanup_free char *target = realpath(dir, NULL);
	cleanup_free char *key = NULL;
	if (!target && errno != ENOENT && errno != ENOTDIR) {
		err_errno(&e, 0, errno, "mount point `%s`", dir);
		return cli_fail(cli, NULL, &e);
	}
	/* Gone, or something else now: only the hold can be left. */
	if (!target || stat(target, &st) < 0 || !S_ISDIR(st.st_mode)) {
		free(target);
		target = gone_target(dir);
		return release_unmounted(cli, target, "is not a mounted directory");
	}
	if (umount2(target, UMOUNT_NOFOLLOW) < 0) {
		if (errno == EINVAL)
			return release_unmounted(cli, target, "is not a mount point");
		return unmount_failed(cli, target, errno);
	}
	if (cli_connect(cli, &e) < 0 || mountfd_release(&cli->conn, target, &key, &e) < 0) {
		err_wrap(&e, "unmounted `%s`, but the daemon's hold was not released", target);
		return cli_fail(cli, NULL, &e);
	}
	print_unmounted(cli, target, key, 1);
	return CLI_OK;
}

static int run_umount(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_parse(cli, &cli_cmd_umount, argc, argv, 0, 1, 1, &a);
	if (rc == CLI_OK && !a.help)
		rc = do_umount(cli, a.pos[0]);
	cli_args_free(&a);
	return rc;
}

const struct cli_cmd cli_cmd_mount = {
    .name = "mount",
    .synopsis = "[--read-only] [--idmap uids=I:O:C[;I:O:C...],gids=I:O:C[;...]] KEY DIR",
    .summary = "attach snapshot KEY's filesystem at directory DIR",
    .help = "The daemon builds KEY (an active snapshot or a view; for a committed one,\n"
	    "mount a view of it) as a detached mount, nosuid and nodev: an overlay of its\n"
	    "layers (any depth), or a bind of a snapshot without parents.  This command\n"
	    "attaches it at DIR in the caller's mount namespace, which needs\n"
	    "CAP_SYS_ADMIN there (root).  The snapshot cannot be removed until `strata\n"
	    "umount DIR`.  DIR itself must not be a symbolic link (symlinks in the leading\n"
	    "components are followed); the mount goes to the directory DIR named when the\n"
	    "command started, and the target printed is its real path.\n"
	    "--read-only: read-only even for an active snapshot (a view always is).\n"
	    "--idmap uids=INSIDE:OUTSIDE:COUNT,gids=...: an idmapped mount (1 to 5 ranges\n"
	    "each, separated by `;`), ranges as in /proc/PID/uid_map: a file owned by\n"
	    "INSIDE+k on disk is seen as owned by OUTSIDE+k, e.g.\n"
	    "uids=0:100000:65536,gids=0:100000:65536 for a container whose user\n"
	    "namespace maps its root to 100000.  Nothing on disk is chowned.\n"
	    "Prints `KEY mounted at DIR: TYPE, N layers, read-write|read-only[, idmapped]`;\n"
	    "--json: {\"key\",\"target\",\"type\",\"read_only\",\"layers\",\"idmapped\"}.\n",
    .run = run_mount,
};

const struct cli_cmd cli_cmd_umount = {
    .name = "umount",
    .synopsis = "DIR",
    .summary = "unmount a `strata mount` at DIR and release its snapshot",
    .help = "Unmounts DIR (refused while it is busy) and ends the daemon's hold on the\n"
	    "snapshot mounted there.  When DIR was already unmounted by other means (or\n"
	    "even removed), only the hold is released.  A hold belongs to the user who\n"
	    "mounted: only that user or root releases it.\n"
	    "Prints `unmounted DIR (KEY)`; --json: {\"target\",\"key\",\"unmounted\"}.\n",
    .run = run_umount,
};
