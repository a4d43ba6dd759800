/* A worker's sandbox, built in the forked child (sandbox.h): the views, the
 * limits, the confinement the root side prepared, and the role's run. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../proto/roles.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../policy/policy.h"
#include "overlay.h"

int role_send_layer(int job_fd, const unsigned char diff_id[32], const unsigned char digest[32],
		    uint64_t size, uint64_t uncompressed_size, uint64_t entries)
{
	struct ipc_job_applied a = {
	    .compressed_size = size,
	    .uncompressed_size = uncompressed_size,
	    .entries = entries,
	};
	memcpy(a.diff_id, diff_id, sizeof a.diff_id);
	memcpy(a.digest, digest, sizeof a.digest);
	return ipc_send(job_fd, IPC_JOB_APPLIED, &a, sizeof a, NULL, 0, NULL) < 0 ? 1 : 0;
}

int role_send_fail(int job_fd, const struct err *e)
{
	struct ipc_job_fail f = {.code = e->code ? e->code : ST_INTERNAL};
	ipc_set_text(f.msg, e->msg);
	ipc_send(job_fd, IPC_JOB_FAIL, &f, sizeof f, NULL, 0, NULL);
	return 1;
}

/* A sandbox step failed: tell the broker which, and end the worker. */
__attribute__((format(printf, 1, 2))) _Noreturn static void setup_fail(const char *fmt, ...)
{
	int saved = errno;
	struct err e;
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	err_errno(&e, ST_INTERNAL, saved, "worker sandbox: %s", what);
	role_send_fail(WORKER_FD_JOB, &e);
	_exit(1);
}

void sandbox_keep_only(int job_fd, int input_fd, int report_fd, pid_t parent_pid)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	/* Staged above both targets first, so neither source is overwritten. */
	int job = fcntl(job_fd, F_DUPFD, 16);
	int input = input_fd >= 0 ? fcntl(input_fd, F_DUPFD, 16) : -1;
	int report = report_fd >= 0 ? fcntl(report_fd, F_DUPFD, 16) : -1;
	if (job < 0 || (input_fd >= 0 && input < 0) || (report_fd >= 0 && report < 0) ||
	    dup2(job, WORKER_FD_JOB) < 0 || (input >= 0 && dup2(input, WORKER_FD_INPUT) < 0) ||
	    (report >= 0 && dup2(report, WORKER_FD_REPORT) < 0))
		_exit(1);
	int last = input >= 0 ? WORKER_FD_INPUT : WORKER_FD_JOB;
	if (close_range(0, WORKER_FD_JOB - 1, 0) < 0 ||
	    (report >= 0 ? close_range(last + 1, WORKER_FD_REPORT - 1, 0) < 0 ||
			       close_range(WORKER_FD_REPORT + 1, ~0U, 0) < 0
			 : close_range(last + 1, ~0U, 0) < 0))
		setup_fail("close_range");
	/* stderr is gone: nothing to log to, and die() must make no call the
	 * policy lacks. */
	log_off();
	/* A worker must not outlive the parent that would reap it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent_pid)
		setup_fail("parent death signal");
}

static void private_mount_ns(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		setup_fail("unshare");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		setup_fail("make / private");
}

/* A detached copy of the tree at path with the given attributes. */
static int clone_tree(const char *path, uint64_t attrs)
{
	struct err e = {0};
	int tree = mount_clone(path, attrs, &e);
	if (tree < 0) {
		role_send_fail(WORKER_FD_JOB, &e);
		_exit(1);
	}
	return tree;
}

/* The target directory becomes /, and the old root is detached (not merely
 * hidden), so no path leads out of the target. */
static void enter_view(const char *path, int readonly)
{
	private_mount_ns();
	int tree = clone_tree(path, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
					(readonly ? MOUNT_ATTR_RDONLY : 0));
	if (move_mount(tree, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		setup_fail("attach `%s`", path);
	if (fchdir(tree) < 0)
		setup_fail("chdir `%s`", path);
	close(tree);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		setup_fail("pivot_root `%s`", path);
	if (umount2(".", MNT_DETACH) < 0)
		setup_fail("detach the old root");
	if (chdir("/") < 0)
		setup_fail("chdir /");
}

static void attach(int tree, const char *where)
{
	if (mkdir(where, 0755) < 0 || move_mount(tree, "", AT_FDCWD, where, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		setup_fail("attach `%s`", where);
	close(tree);
}

/* A view's root: a small read-only tmpfs over the snapshots directory, the
 * working directory once this returns.  The caller attaches what the view
 * shows, then calls view_enter(). */
static int view_tmpfs(const char *snapshots_dir, uint64_t attrs)
{
	int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "size", "1m", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		setup_fail("create the view's tmpfs");
	int root = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned)attrs);
	if (root < 0 || move_mount(root, "", AT_FDCWD, snapshots_dir, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		setup_fail("attach the view's tmpfs");
	close(fs);
	if (chdir(snapshots_dir) < 0)
		setup_fail("chdir `%s`", snapshots_dir);
	return root;
}

/* The tmpfs becomes /, read-only, and the old root is detached. */
static void view_enter(const char *snapshots_dir, int root)
{
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		setup_fail("pivot_root `%s`", snapshots_dir);
	if (umount2(".", MNT_DETACH) < 0)
		setup_fail("detach the old root");
	if (chdir("/") < 0)
		setup_fail("chdir /");
	struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
	if (mount_setattr(root, "", AT_EMPTY_PATH, &ro, sizeof ro) < 0)
		setup_fail("make the view's root read-only");
	close(root);
}

/* A mount becomes idmapped through the user namespace on fd 4 (the
 * spawner made it with the job's maps). */
static void idmap_tree(int tree, const char *what)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = WORKER_FD_INPUT};
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
		setup_fail("idmap `%s`", what);
}

/* Read-only clones of the lower layers' fs, nearest first, with attrs (and
 * idmapped when idmap); before the view's tmpfs covers the snapshots
 * directory. */
static void clone_lowers(const char *snapshots_dir, const struct ipc_spawn *req, uint64_t attrs, int idmap,
			 int *lowers)
{
	char path[4096];
	for (uint32_t i = 0; i < req->nlower; i++) {
		snprintf(path, sizeof path, "%s/%llu/fs", snapshots_dir, (unsigned long long)req->lower[i]);
		lowers[i] = clone_tree(path, attrs | MOUNT_ATTR_RDONLY);
		if (idmap)
			idmap_tree(lowers[i], path);
	}
}

/* The clones at lower/N in the view (the working directory). */
static void attach_lowers(const int *lowers, uint32_t n)
{
	char path[32];
	if (n && mkdir("lower", 0755) < 0)
		setup_fail("mkdir lower");
	for (uint32_t i = 0; i < n; i++) {
		snprintf(path, sizeof path, "lower/%u", i);
		attach(lowers[i], path);
	}
}

/* The extract view: a small read-only tmpfs as /, the target snapshot's fs
 * read-write at /target and each lower layer's fs read-only at /lower/N
 * (nearest first).  ".." from any of them leads only to that tmpfs. */
static void enter_layers_view(const char *snapshots_dir, const struct ipc_spawn *req)
{
	char path[4096];
	const uint64_t base = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	static int lowers[IPC_MAX_LOWER];
	private_mount_ns();
	/* Clones first: the tmpfs then goes over the snapshots directory. */
	snprintf(path, sizeof path, "%s/%llu/fs", snapshots_dir, (unsigned long long)req->target);
	int target = clone_tree(path, base);
	clone_lowers(snapshots_dir, req, base, 0, lowers);
	int root = view_tmpfs(snapshots_dir, base);
	attach(target, "target");
	attach_lowers(lowers, req->nlower);
	view_enter(snapshots_dir, root);
}

/* The remove view: a small read-only tmpfs as /, and the batch's rm-ID
 * directories read-write at /0, /1, ... (the target first, then lower[]).
 * ".." from any of them leads only to that tmpfs. */
static void enter_rm_view(const char *snapshots_dir, const struct ipc_spawn *req)
{
	char path[4096], at[32];
	const uint64_t base = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	static int trees[IPC_MAX_LOWER + 1];
	uint32_t n = 1 + req->nlower;
	private_mount_ns();
	for (uint32_t i = 0; i < n; i++) {
		uint64_t id = i == 0 ? req->target : req->lower[i - 1];
		snprintf(path, sizeof path, "%s/rm-%llu", snapshots_dir, (unsigned long long)id);
		trees[i] = clone_tree(path, base);
	}
	int root = view_tmpfs(snapshots_dir, base);
	for (uint32_t i = 0; i < n; i++) {
		snprintf(at, sizeof at, "%u", i);
		attach(trees[i], at);
	}
	view_enter(snapshots_dir, root);
}

/* The id that id 0 on disk shows as through an idmapped mount. */
static uint32_t mapped_root(const struct ipc_id_range *r, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (r[i].inside == 0)
			return r[i].outside;
	setup_fail("a writable idmapped mount needs a range for id 0");
}

/* Overlay does its copy-up and whiteout work on the layers with the
 * credentials of the task that created it.  On an idmapped upperdir those
 * must be mapped, or overlay falls back to read-only: the worker takes as
 * its filesystem ids the ids that root on disk has through the mount, so
 * what overlay writes for it lands as root's on disk, as it does without a
 * map.  The capabilities that setfsuid clears are set again by the policy. */
static void idmapped_creator(const struct ipc_spawn *req)
{
	uid_t u = mapped_root(req->uid_map, req->nuid_map);
	gid_t g = mapped_root(req->gid_map, req->ngid_map);
	setfsgid(g);
	setfsuid(u);
	if ((uid_t)setfsuid((uid_t)-1) != u || (gid_t)setfsgid((gid_t)-1) != g)
		setup_fail("set the filesystem ids of an idmapped mount's creator");
}

/* The mount view: a small read-only tmpfs as /, the target snapshot's
 * directory at /snap (fs and work, one mount: overlay wants upperdir and
 * workdir on the same one), read-write only for a read-write mount, and each
 * parent's fs read-only at /lower/N (nearest first).  For an idmapped mount
 * every one of them is idmapped through the user namespace on fd 4, so the
 * overlay the worker builds on them shows shifted owners.  An empty /out is
 * where the role attaches its mount to lock its flags; /empty is an empty
 * directory of the read-only root.  Nothing is
 * noexec: the layers' mount flags would carry into the overlay's files. */
static void enter_mount_view(const char *snapshots_dir, const struct ipc_spawn *req)
{
	char path[4096];
	const uint64_t base = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	int idmap = (req->flags & IPC_SPAWN_MOUNT_IDMAP) != 0;
	static int lowers[IPC_MAX_LOWER];
	private_mount_ns();
	snprintf(path, sizeof path, "%s/%llu", snapshots_dir, (unsigned long long)req->target);
	int snap = clone_tree(path, base | ((req->flags & IPC_SPAWN_MOUNT_RW) ? 0 : MOUNT_ATTR_RDONLY));
	if (idmap)
		idmap_tree(snap, path);
	clone_lowers(snapshots_dir, req, base, idmap, lowers);
	int root = view_tmpfs(snapshots_dir, base | MOUNT_ATTR_NOEXEC);
	attach(snap, "snap");
	attach_lowers(lowers, req->nlower);
	/* Where the role attaches its mount to lock its flags, and the empty
	 * lower layer of a read-write snapshot without parents (role_mount.c). */
	if (mkdir("out", 0755) < 0 || mkdir("empty", 0755) < 0)
		setup_fail("mkdir out, empty");
	view_enter(snapshots_dir, root);
	if (idmap && (req->flags & IPC_SPAWN_MOUNT_RW))
		idmapped_creator(req);
}

/* One merged, read-only tree of the chain ids[0..n) (topmost first), as a
 * detached mount.  Paths are relative to the snapshots directory (the
 * working directory), which keeps a long chain's one `lowerdir` string short
 * on kernels without `lowerdir+`. */
static int merged_tree(const uint64_t *ids, size_t n, uint64_t attrs)
{
	static char names[IPC_MAX_LOWER + 1][32];
	static const char *layers[IPC_MAX_LOWER + 1];
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof names[i], "%llu/fs", (unsigned long long)ids[i]);
		layers[i] = names[i];
	}
	struct overlay_spec o = {.layers = layers, .nlayers = n, .attrs = attrs};
	struct err e = {0};
	int fd = overlay_open(&o, &e);
	if (fd < 0) {
		role_send_fail(WORKER_FD_JOB, &e);
		_exit(1);
	}
	return fd;
}

/* The general diff view: a small read-only tmpfs as /, the target with its
 * parents merged read-only at /right and the left tree (the snapshot it is
 * compared with, and that one's parents) at /left.  Overlay shows each
 * chain as containerd's mount of it would: whiteouts hide, opaque
 * directories cover. */
static void enter_trees_view(const char *snapshots_dir, const struct ipc_spawn *req)
{
	const uint64_t ro = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_RDONLY;
	static uint64_t right[IPC_MAX_LOWER + 1];
	size_t nright = 0;
	right[nright++] = req->target;
	for (uint32_t i = 0; i < req->nlower - req->nleft; i++)
		right[nright++] = req->lower[i];
	private_mount_ns();
	if (chdir(snapshots_dir) < 0)
		setup_fail("chdir `%s`", snapshots_dir);
	int r = merged_tree(right, nright, ro);
	int l = merged_tree(req->lower + (req->nlower - req->nleft), req->nleft, ro);
	int root = view_tmpfs(snapshots_dir, ro & ~(uint64_t)MOUNT_ATTR_RDONLY);
	attach(r, "right");
	attach(l, "left");
	view_enter(snapshots_dir, root);
}

static void set_limits(int role)
{
	const struct {
		int res;
		rlim_t max;
	} limits[] = {
	    {RLIMIT_CORE, 0},	   /* no dumps of what a worker read */
	    {RLIMIT_NOFILE, 4096}, /* one directory fd per level of a walk */
	    /* usage and remove write no file data; extract's engine bounds what
	     * it writes; diff writes the layer to the client's own fd */
	    {RLIMIT_FSIZE, role == ROLE_EXTRACT || role == ROLE_DIFF ? RLIM_INFINITY : 0},
	    {RLIMIT_AS, STRATA_RLIMIT_AS(4ull << 30)}, /* bounds the usage inode set */
	    {RLIMIT_MEMLOCK, 0},
	    {RLIMIT_MSGQUEUE, 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
		struct rlimit rl = {limits[i].max, limits[i].max};
		if (setrlimit(limits[i].res, &rl) < 0)
			setup_fail("setrlimit %d", limits[i].res);
	}
}

static const struct config *sandbox_cfg;

const struct config *sandbox_config(void)
{
	return sandbox_cfg;
}

void sandbox_run(const struct config *cfg, const struct sandbox_confinement *conf, const char *snapshots_dir,
		 int job_fd, int input_fd, int report_fd, const struct ipc_spawn *req, pid_t parent_pid,
		 const sandbox_role_fn runs[ROLE_MAX + 1])
{
	const struct role_info *role = role_info((int)req->role);
	sandbox_cfg = cfg;
	sandbox_keep_only(job_fd, input_fd, report_fd, parent_pid);
	if (!role || role->process != PROC_WORKER || !runs[role->role] || !conf ||
	    conf->role != role_confinement(req) || !runs[conf->role->role])
		setup_fail("no confinement prepared for role %u", req->role);
	const struct role_info *view = conf->role;
	char name[64], path[4096];
	role_target_name(req, name, sizeof name);
	if ((size_t)snprintf(path, sizeof path, "%s/%s", snapshots_dir, name) >= sizeof path)
		setup_fail("target path too long");
	/* A probe takes its probed role's view, except that it always works on
	 * a live snapshot's fs (role_target_name). */
	if (view->view == VIEW_LAYERS)
		enter_layers_view(snapshots_dir, req);
	else if (view->view == VIEW_MOUNT)
		enter_mount_view(snapshots_dir, req);
	else if (role->lowers == LOWERS_TREES && req->nleft)
		enter_trees_view(snapshots_dir, req);
	else if (role->view == VIEW_RM)
		enter_rm_view(snapshots_dir, req);
	else
		enter_view(path, view->readonly);
	set_limits(view->role);
	struct err e = {0};
	if (policy_enter(conf->policy, conf->bpf, &e) < 0) {
		role_send_fail(WORKER_FD_JOB, &e);
		_exit(1);
	}
	_exit(runs[role->role](WORKER_FD_JOB, req));
}
