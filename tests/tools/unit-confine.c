/* unit-confine: the parts of systemd/strata.service's sandbox that take
 * system calls to set up, for tests/fixtures/stratad-as-unit.sh.
 *
 *   unit-confine [--read-only-root] [--rw [-]PATH]... [--proc OPTIONS]
 *                [--namespaces LIST] -- CMD ARGS...
 *
 * Runs as root in a mount namespace of its own (unshare --mount --propagation
 * slave), sets up, in this order, then execs CMD:
 *   --rw PATH          ReadWritePaths=: PATH stays writable (a recursive bind
 *                      of itself, so mounts the host makes under it later
 *                      still reach it); `-PATH` is skipped when PATH does not
 *                      exist, as systemd does; without `-` that is an error
 *   --read-only-root   ProtectSystem=strict: every mount read-only except the
 *                      --rw paths, /proc and /dev (which systemd leaves to
 *                      other settings: they keep their own flags)
 *   --proc OPTIONS     ProtectProc=, ProcSubset=: a new procfs on /proc
 *                      mounted with OPTIONS (e.g. hidepid=invisible,subset=pid)
 *   --namespaces LIST  RestrictNamespaces=LIST (space-separated: cgroup ipc
 *                      mnt net pid user uts): a seccomp filter, as systemd's,
 *                      that fails unshare, clone and setns of any type not in
 *                      LIST with EPERM, and clone3 (whose flags it cannot
 *                      see) with ENOSYS, so that glibc falls back to clone
 *
 * Exit: 2 usage, 3 a set-up step failed (the message names it), else CMD's. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/mount.h>

#define EXIT_USAGE 2
#define EXIT_SETUP 3
#define MAX_RW	   16

static const struct {
	const char *name;
	unsigned long flag;
} ns_types[] = {
    {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC},	  {"mnt", CLONE_NEWNS},	 {"net", CLONE_NEWNET},
    {"pid", CLONE_NEWPID},	 {"user", CLONE_NEWUSER}, {"uts", CLONE_NEWUTS},
};

static void usage(void)
{
	fprintf(stderr, "usage: unit-confine [--read-only-root] [--rw [-]PATH]... [--proc OPTIONS] "
			"[--namespaces LIST] -- CMD ARGS...\n");
	exit(EXIT_USAGE);
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "unit-confine: %s `%s`: %s\n", what, path, strerror(errno));
	exit(EXIT_SETUP);
}

static int set_attr(const char *path, unsigned int flags, uint64_t set, uint64_t clr)
{
	struct mount_attr a = {.attr_set = set, .attr_clr = clr};
	return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &a, sizeof a);
}

/* A copy of PATH's mount tree with its current flags, to put back on top
 * once everything under / is read-only. */
static int clone_tree(const char *path)
{
	int fd =
	    (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (fd < 0)
		die("open_tree", path);
	return fd;
}

static void put_back(int fd, const char *path)
{
	if (syscall(SYS_move_mount, fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		die("move_mount", path);
	close(fd);
}

static void read_only_root(char **rw, int nrw)
{
	int proc = clone_tree("/proc"), dev = clone_tree("/dev");
	if (set_attr("/", AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0) < 0)
		die("make read-only", "/");
	put_back(proc, "/proc");
	put_back(dev, "/dev");
	for (int i = 0; i < nrw; i++)
		if (set_attr(rw[i], AT_RECURSIVE, 0, MOUNT_ATTR_RDONLY) < 0)
			die("make writable", rw[i]);
}

static void restrict_namespaces(const char *list)
{
	unsigned long allowed = 0;
	char *copy = strdup(list), *save = NULL;
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		size_t i = 0;
		while (i < sizeof ns_types / sizeof ns_types[0] && strcmp(ns_types[i].name, w))
			i++;
		if (i == sizeof ns_types / sizeof ns_types[0]) {
			fprintf(stderr, "unit-confine: unknown namespace type `%s`\n", w);
			exit(EXIT_USAGE);
		}
		allowed |= ns_types[i].flag;
	}
	free(copy);
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc = ctx ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < sizeof ns_types / sizeof ns_types[0]; i++) {
		unsigned long f = ns_types[i].flag;
		if (allowed & f)
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
					      SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(setns), 1,
					      SCMP_A1(SCMP_CMP_MASKED_EQ, f, f));
	}
	/* setns(fd, 0) joins whatever fd is: allowed only when every type is. */
	unsigned long all = 0;
	for (size_t i = 0; i < sizeof ns_types / sizeof ns_types[0]; i++)
		all |= ns_types[i].flag;
	if (rc == 0 && (allowed & all) != all) {
		rc =
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(setns), 1, SCMP_A1(SCMP_CMP_EQ, 0));
		if (rc == 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	}
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0) {
		errno = -rc;
		die("seccomp filter for RestrictNamespaces=", list);
	}
}

int main(int argc, char **argv)
{
	char *rw[MAX_RW];
	int nrw = 0, ro = 0, i = 1;
	const char *proc = NULL, *ns = NULL;
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--read-only-root")) {
			ro = 1;
		} else if (!strcmp(argv[i], "--rw") && i + 1 < argc && nrw < MAX_RW) {
			const char *p = argv[++i];
			int optional = p[0] == '-';
			p += optional;
			if (access(p, F_OK) < 0 && optional)
				continue;
			if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0)
				die("bind", p);
			rw[nrw++] = (char *)p;
		} else if (!strcmp(argv[i], "--proc") && i + 1 < argc) {
			proc = argv[++i];
		} else if (!strcmp(argv[i], "--namespaces") && i + 1 < argc) {
			ns = argv[++i];
		} else {
			usage();
		}
	}
	if (i + 1 >= argc)
		usage();
	if (ro)
		read_only_root(rw, nrw);
	if (proc && mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, proc) < 0)
		die("mount proc with", proc);
	if (ns)
		restrict_namespaces(ns);
	execvp(argv[i + 1], argv + i + 1);
	die("exec", argv[i + 1]);
}
