/* mountfd: an unprivileged client of mount fds, for tests/integration/mount.sh.
 *
 *   mountfd [--address ADDR] [--read-only] [--idmap SPEC] [--user ID]
 *           [--attach PATH] KEY|- OP...
 *
 * Connects (as root: the test's daemon socket is root's; or as ID itself,
 * started so, when the socket lets it), gets snapshot KEY as a mount fd
 * with strata_mount_fd() (none for `-`), then drops every privilege: no
 * supplementary groups, uid and gid ID (default 65534), and it checks that
 * no capability is left (CapEff and CapPrm 0 in /proc/self/status).  Only
 * then does it run the OPs, in order, all relative to the mount fd:
 *   read PATH         print the file's content
 *   write PATH TEXT   create or truncate PATH (mode 0644) and write TEXT
 *   stat PATH         print `UID:GID` of PATH (not followed; `.` the root)
 *   info              print `TYPE LAYERS rw|ro idmapped|plain`
 *   release PATH      end the hold of the mount attached at PATH (print
 *                     its snapshot); the daemon knows the caller by the uid
 *                     that connected
 *   hold              print `holding` and sleep until killed
 *   unlock            try, from a user and mount namespace of its own, to
 *                     clear the mount's read-only, nodev, nosuid and noexec
 *                     flags: mount_setattr on the fd, on a clone of it, and
 *                     a bind remount once it is attached in that namespace;
 *                     prints `cleared: HOW` for each way that worked, or
 *                     `refused: ENAME` when none did (the later OPs run in
 *                     those namespaces either way)
 *   open PATH         open PATH read-only (a device node: nodev must refuse)
 *   let-go            close the connection (the daemon's hold of a mount
 *                     without --attach ends) and keep the fd
 * --attach PATH asks for the mount as `strata mount` does, to be attached at
 * PATH (the hold outlives the connection), and attaches nothing: a client
 * that died before attaching.  The connection stays open throughout: the
 * daemon's hold of a mount without --attach lasts as long.
 *
 * Exit: 0 every OP succeeded; 1 an OP failed (`mountfd: OP PATH: ENAME
 * (text)` on stderr, ENAME as EROFS); 2 usage; 3 setup failed (connect,
 * mount, dropping privilege).
 *
 * It is a program of libstrata-client's: it includes only its public
 * headers, and tests/integration/install.sh builds it against an installed
 * copy with `pkg-config --cflags --libs strata-client` alone. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* setresuid, the new mount API (the strata build sets it too) */
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <strata/client.h>
#include <strata/mountfd.h>

#define EXIT_OP	   1
#define EXIT_USAGE 2
#define EXIT_SETUP 3

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define cleanup_fd __attribute__((cleanup(close_fd)))

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

struct tool_args {
	const char *address, *key, *idmap, *attach;
	int read_only;
	uid_t user;
	char **ops;
	int nops;
};

static void usage(void)
{
	fprintf(stderr, "usage: mountfd [--address ADDR] [--read-only] [--idmap SPEC] [--user ID] "
			"[--attach PATH] KEY|- {read PATH | write PATH TEXT | stat PATH | info | "
			"release PATH | unlock | open PATH | let-go | hold}...\n");
	exit(EXIT_USAGE);
}

static void parse_args(int argc, char **argv, struct tool_args *a)
{
	unsigned long v;
	char *end;
	int i = 1;
	memset(a, 0, sizeof *a); /* no --address: strata_connect()'s default */
	a->user = 65534;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (strcmp(argv[i], "--read-only") == 0)
			a->read_only = 1;
		else if (strcmp(argv[i], "--address") == 0 && i + 1 < argc)
			a->address = argv[++i];
		else if (strcmp(argv[i], "--idmap") == 0 && i + 1 < argc)
			a->idmap = argv[++i];
		else if (strcmp(argv[i], "--attach") == 0 && i + 1 < argc)
			a->attach = argv[++i];
		else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc && argv[++i][0] >= '0' &&
			 argv[i][0] <= '9' && (errno = 0, v = strtoul(argv[i], &end, 10), !errno && !*end) &&
			 v > 0 && v < UINT32_MAX)
			a->user = (uid_t)v; /* never 0: the point is to run without privilege */
		else
			usage();
	}
	if (i + 1 >= argc)
		usage();
	a->key = argv[i];
	a->ops = argv + i + 1;
	a->nops = argc - i - 1;
}

/* The value of `Name:` in /proc/self/status, or "" when absent. */
static void status_field(const char *name, char *out, size_t len)
{
	char line[256];
	size_t n = strlen(name);
	FILE *f = fopen("/proc/self/status", "re");
	out[0] = 0;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			snprintf(out, len, "%s", line + n + 1 + strspn(line + n + 1, " \t"));
			out[strcspn(out, "\n")] = 0;
			break;
		}
	if (f)
		fclose(f);
}

/* From here on the process is an ordinary user: whatever it can do through
 * the mount fd, any unprivileged program holding it can do. */
static void drop_privilege(uid_t id)
{
	char eff[64], prm[64];
	/* Started as ID already (setpriv), it has nothing to drop and could not. */
	int already = getuid() == id && geteuid() == id && getgid() == id && getgroups(0, NULL) == 0;
	if (!already && (setgroups(0, NULL) < 0 || setresgid(id, id, id) < 0 || setresuid(id, id, id) < 0)) {
		fprintf(stderr, "mountfd: drop privilege to %u: %s\n", (unsigned)id, strerror(errno));
		exit(EXIT_SETUP);
	}
	status_field("CapEff", eff, sizeof eff);
	status_field("CapPrm", prm, sizeof prm);
	if (strcmp(eff, "0000000000000000") != 0 || strcmp(prm, "0000000000000000") != 0 || getuid() != id ||
	    geteuid() != id || getgid() != id) {
		fprintf(stderr, "mountfd: privilege left after the drop: CapEff %s, CapPrm %s, uid %u\n", eff,
			prm, (unsigned)geteuid());
		exit(EXIT_SETUP);
	}
	fprintf(stderr, "mountfd: running as %u:%u, CapEff %s\n", (unsigned)id, (unsigned)id, eff);
}

static int op_failed(const char *op, const char *path)
{
	int errnum = errno;
	const char *name = strerrorname_np(errnum);
	fprintf(stderr, "mountfd: %s %s: %s (%s)\n", op, path, name ? name : "?", strerror(errnum));
	return -1;
}

static int op_read(int mnt, const char *path)
{
	char buf[65536];
	cleanup_fd int fd = openat(mnt, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;
	if (fd < 0)
		return op_failed("read", path);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
			return op_failed("read (stdout)", path);
	return n < 0 ? op_failed("read", path) : 0;
}

static int op_write(int mnt, const char *path, const char *text)
{
	cleanup_fd int fd = openat(mnt, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
		return op_failed("write", path);
	/* An overlay reports some write errors (quota, ENOSPC) only at close. */
	int rc = close(fd);
	fd = -1;
	if (rc < 0)
		return op_failed("write (close)", path);
	return 0;
}

static int op_stat(int mnt, const char *path)
{
	struct stat st;
	if (fstatat(mnt, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return op_failed("stat", path);
	printf("%u:%u\n", (unsigned)st.st_uid, (unsigned)st.st_gid);
	return 0;
}

static int op_open(int mnt, const char *path)
{
	cleanup_fd int fd = openat(mnt, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	return fd < 0 ? op_failed("open", path) : 0;
}

/* The attack on a mount fd's flags: an ordinary user makes a user namespace
 * (and with it a mount namespace it owns, where it holds CAP_SYS_ADMIN) and
 * asks the kernel to clear the flags, three ways.  Each success is printed;
 * the op itself fails only when the namespaces cannot be made. */
static int op_unlock(int mnt)
{
	const uint64_t flags = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
	struct mount_attr clr = {.attr_clr = flags};
	static int unshared;
	int cleared = 0, errnum = EPERM;
	if (!unshared && unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return op_failed("unlock", "(unshare)");
	unshared = 1;
	if (mount_setattr(mnt, "", AT_EMPTY_PATH, &clr, sizeof clr) == 0)
		cleared++, puts("cleared: mount_setattr on the fd");
	else
		errnum = errno;
	cleanup_fd int clone = open_tree(mnt, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (clone >= 0 && mount_setattr(clone, "", AT_EMPTY_PATH, &clr, sizeof clr) == 0)
		cleared++, puts("cleared: mount_setattr on a clone");
	/* Attached below a tmpfs of this namespace's own, then remounted. */
	char dir[] = "/tmp/strata-unlock-XXXXXX";
	if (clone >= 0 && mount("none", "/tmp", "tmpfs", 0, NULL) == 0 && mkdtemp(dir) &&
	    move_mount(clone, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH) == 0 &&
	    mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND, NULL) == 0)
		cleared++, puts("cleared: bind remount of the attached clone");
	if (!cleared)
		printf("refused: %s\n", strerrorname_np(errnum) ? strerrorname_np(errnum) : "?");
	return 0;
}

static int op_release(struct strata_client *c, const char *path)
{
	struct strata_error e;
	char *key = NULL;
	if (!c) {
		fprintf(stderr, "mountfd: release %s: the connection is closed (let-go)\n", path);
		return -1;
	}
	if (strata_mount_release(c, path, &key, &e) < 0) {
		fprintf(stderr, "mountfd: release %s: %s: %s\n", path, strata_status_name(e.code), e.message);
		return -1;
	}
	printf("%s\n", key);
	free(key);
	return 0;
}

static void op_hold(void)
{
	puts("holding");
	fflush(stdout);
	for (;;)
		pause();
}

/* Runs the OPs in order; returns the exit status. */
static int run_ops(struct strata_client **c, int mnt, const struct strata_mount_info *info, char **ops,
		   int nops)
{
	for (int i = 0; i < nops; i++) {
		int rc;
		const char *op = ops[i];
		int left = nops - i - 1;
		if (strcmp(op, "read") == 0 && left >= 1)
			rc = op_read(mnt, ops[++i]);
		else if (strcmp(op, "write") == 0 && left >= 2) {
			rc = op_write(mnt, ops[i + 1], ops[i + 2]);
			i += 2;
		} else if (strcmp(op, "stat") == 0 && left >= 1)
			rc = op_stat(mnt, ops[++i]);
		else if (strcmp(op, "info") == 0) {
			printf("%s %lld %s %s\n", info->type, (long long)info->layers,
			       info->read_only ? "ro" : "rw", info->idmapped ? "idmapped" : "plain");
			rc = 0;
		} else if (strcmp(op, "unlock") == 0)
			rc = op_unlock(mnt);
		else if (strcmp(op, "open") == 0 && left >= 1)
			rc = op_open(mnt, ops[++i]);
		else if (strcmp(op, "release") == 0 && left >= 1)
			rc = op_release(*c, ops[++i]);
		else if (strcmp(op, "let-go") == 0) {
			strata_disconnect(*c);
			*c = NULL;
			puts("let go");
			rc = 0;
		} else if (strcmp(op, "hold") == 0)
			op_hold();
		else
			usage();
		fflush(stdout);
		if (rc < 0)
			return EXIT_OP;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct tool_args a;
	struct strata_idmap idmap;
	struct strata_client *c;
	struct strata_error e;
	parse_args(argc, argv, &a);
	if (a.idmap && strata_idmap_parse(a.idmap, &idmap, &e) < 0) {
		fprintf(stderr, "mountfd: %s\n", e.message);
		return EXIT_USAGE;
	}
	struct strata_mount_opts o = {
	    .read_only = a.read_only, .idmap = a.idmap ? &idmap : NULL, .attach_path = a.attach};
	struct strata_mount_info info = {0};
	if (!(c = strata_connect(a.address, &e))) {
		fprintf(stderr, "mountfd: %s\n", e.message);
		return EXIT_SETUP;
	}
	int mnt = strcmp(a.key, "-") ? strata_mount_fd(c, a.key, &o, &info, &e) : AT_FDCWD;
	if (mnt < 0 && mnt != AT_FDCWD) {
		fprintf(stderr, "mountfd: mount `%s`: %s: %s\n", a.key, strata_status_name(e.code),
			e.message);
		return EXIT_SETUP;
	}
	drop_privilege(a.user);
	int rc = run_ops(&c, mnt, &info, a.ops, a.nops);
	if (mnt >= 0)
		close(mnt);
	strata_disconnect(c);
	return rc;
}
