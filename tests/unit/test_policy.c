/* Policies: the language, the embedded files, and each worker role's
 * confinement applied for real in a forked child (caps + seccomp, without
 * the mount part): forbidden calls die of SIGSYS, the role's work passes. */
#include <check.h>
#include <pthread.h>
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sort.h"
#include "common/util.h"
#include "policy/policy.h"
#include "proto/ipc.h"
#include "proto/roles.h"
#include "worker/roles.h"
#include "run_suite.h"

/* The confined processes that are not roles of the table: the broker
 * confines itself, the CLI's import parser is confined by the CLI. */
static const char *const other_policies[] = {"broker", "import"};

/* Every policy: the other ones, then each role of the table that has one
 * (proto/roles.h), so that a role added there is tested here. */
static const char *policies[ROLE_MAX + ARRAY_SIZE(other_policies)];
static size_t npolicies;
/* The roles of the table with a policy, and those a probe may take. */
static const char *role_policies[ROLE_MAX];
static size_t nrole_policies;
static const char *probed_roles[ROLE_MAX];
static size_t nprobed_roles;

static void list_policies(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(other_policies); i++)
		policies[npolicies++] = other_policies[i];
	for (const struct role_info *r = role_first(); r; r = role_next(r)) {
		if (r->has_policy)
			policies[npolicies++] = role_policies[nrole_policies++] = r->name;
		if (r->probed)
			probed_roles[nprobed_roles++] = r->name;
	}
}

static int listed(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return 1;
	return 0;
}

/* What a policy may allow of the calls the tests below forbid, and why;
 * every other pair is forbidden, for any role the table gains. */
static const struct {
	const char *policy, *call, *why;
} allowed[] = {
    {"extract", "mknodat", "a layer's device nodes and fifos"},
    {"extract", "symlinkat", "a layer's symlinks"},
    {"extract", "linkat", "a layer's hard links"},
    {"extract", "fchmodat", "a layer's modes"},
    {"extract", "clone", "its pipeline thread, with glibc's exact thread flags"},
    {"diff", "clone", "its compression threads, with glibc's exact thread flags"},
    {"mount", "fsopen", "an overlay's superblock"},
    {"mount", "fsmount", "an overlay as a detached mount"},
    {"mount", "open_tree", "a detached clone of one layer (OPEN_TREE_CLONE only)"},
    {"mount", "move_mount", "attaching a detached fd at /out (F_EMPTY_PATH only)"},
    {"mount", "unshare", "a user and mount namespace that lock its mount's flags (exactly those)"},
    {"extract", "write", "a layer's file contents"},
    {"diff", "write", "the layer, to fd 4 only"},
    {"publish", "write", "the copy it hashes"},
    {"feed", "write", "the layer, into its worker's pipe"},
    {"import", "write", "the parsed archive, to its result pipe"},
};

static int allows(const char *policy, const char *call)
{
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
		if (!strcmp(allowed[i].policy, policy) && !strcmp(allowed[i].call, call))
			return 1;
	return 0;
}

/* Never in any policy: they would let a process leave or widen its sandbox. */
static const char *const never_allowed[] = {
    "kill",
    "tkill",
    "tgkill",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "setns",
    "unshare",
    "execve",
    "execveat",
    "fork",
    "vfork",
    "clone3",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsmount",
    "bpf",
    "init_module",
    "finit_module",
    "kexec_load",
    "kexec_file_load",
    "setuid",
    "setresuid",
    "setgid",
    "capset",
    "keyctl",
    "add_key",
    "socket",
    "connect",
    "bind",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "mknodat",
    "symlinkat",
    "linkat",
    "fchmodat",
};

static struct err e;

static struct policy *parse(const char *text)
{
	memset(&e, 0, sizeof e);
	return policy_parse("t", text, &e);
}

START_TEST(embedded_policies_parse_and_compile)
{
	for (size_t i = 0; i < npolicies; i++) {
		struct policy *p = policy_for_role(policies[i], &e);
		ck_assert_msg(p != NULL, "%s: %s", policies[i], e.msg);
		ck_assert_uint_ge(p->nrules, 5);
		struct policy_bpf b;
		ck_assert_msg(policy_compile(p, 0, &b, &e) == 0, "%s: %s", policies[i], e.msg);
		ck_assert_uint_gt(b.len, 10);
		policy_bpf_free(&b);
		policy_free(p);
	}
	/* No policy file that nothing takes. */
	for (const struct policy_text *t = policy_texts; t->name; t++)
		ck_assert_msg(listed(policies, npolicies, t->name), "policy/%s.policy: no role takes it",
			      t->name);
	ck_assert_ptr_null(policy_for_role("nosuchrole", &e));
	/* Root-side roles run with no capability at all. */
	for (const struct role_info *r = role_first(); r; r = role_next(r)) {
		if (r->process != PROC_ROOT_SIDE)
			continue;
		struct policy *p = policy_for_role(r->name, &e);
		ck_assert_ptr_nonnull(p);
		ck_assert_msg(p->ncaps == 0, "%s keeps a capability", r->name);
		policy_free(p);
	}
}
END_TEST

static char *file_text(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %m", path);
	char *buf = NULL;
	size_t cap = 0;
	/* The whole file: a policy holds no NUL. */
	ck_assert_int_gt(getdelim(&buf, &cap, '\0', f), 0);
	fclose(f);
	return buf;
}

/* The binary carries each policy file exactly as reviewed.  Only the
 * sanitizer build (make SANITIZE=1) appends policy/sanitize.policy, what
 * AddressSanitizer needs; a normal build never holds that text. */
START_TEST(embedded_texts_are_the_policy_files)
{
	char *extra = file_text("policy/sanitize.policy");
	for (const struct policy_text *t = policy_texts; t->name; t++) {
		char *path = xasprintf("policy/%s.policy", t->name);
		char *want = file_text(path);
#ifdef STRATA_SANITIZE
		char *both = xasprintf("%s%s", want, extra);
		free(want);
		want = both;
#else
		ck_assert_msg(!strstr(t->text, extra), "%s carries the sanitizer's fragment", path);
#endif
		ck_assert_msg(!strcmp(t->text, want), "the embedded %s differs from the file", path);
		free(want);
		free(path);
	}
	free(extra);
}
END_TEST

/* Syscalls newer than libseccomp by number; errno rules do not count as
 * allowing a call. */
START_TEST(numbered_syscalls_and_errno_rules)
{
	struct policy *p = policy_parse("t", "caps:\n452 # fchmodat2\nclone3: errno ENOSYS\n", &e);
	ck_assert_msg(p != NULL, "%s", e.msg);
	ck_assert(policy_mentions(p, 452));
	ck_assert(!policy_mentions(p, policy_syscall_number("clone3")));
	policy_free(p);
	ck_assert_ptr_null(policy_parse("t", "caps:\n0999999\n", &e));
	ck_assert_ptr_null(policy_parse("t", "caps:\nclone3: errno 0\n", &e));
}
END_TEST

START_TEST(forbidden_syscalls_absent)
{
	for (size_t i = 0; i < npolicies; i++) {
		struct policy *p = policy_for_role(policies[i], &e);
		ck_assert_ptr_nonnull(p);
		for (size_t k = 0; k < ARRAY_SIZE(never_allowed); k++) {
			int nr = policy_syscall_number(never_allowed[k]);
			ck_assert_int_ge(nr, 0);
			ck_assert_msg(!policy_mentions(p, nr) || allows(policies[i], never_allowed[k]),
				      "%s allows %s", policies[i], never_allowed[k]);
		}
		ck_assert_msg(!policy_mentions(p, policy_syscall_number("clone")) ||
				  allows(policies[i], "clone"),
			      "%s allows clone", policies[i]);
		policy_free(p);
	}
	struct policy *b = policy_for_role("broker", &e);
	ck_assert_uint_eq(b->ncaps, 0);
	policy_free(b);
}
END_TEST

/* Workers share one net, ipc and uts namespace, or, under the systemd unit,
 * the service's ipc and uts ones (worker/sandbox.c): safe only while no
 * worker policy allows a call that reaches what those hold. */
START_TEST(no_worker_reaches_shared_namespaces)
{
	static const char *const calls[] = {"socket",	       "socketpair",  "shmget",	      "shmat",
					    "shmctl",	       "semget",      "semop",	      "semctl",
					    "msgget",	       "msgsnd",      "msgrcv",	      "msgctl",
					    "mq_open",	       "mq_unlink",   "mq_notify",    "mq_timedsend",
					    "mq_timedreceive", "sethostname", "setdomainname"};
	for (size_t i = 0; i < npolicies; i++) {
		if (!strcmp(policies[i], "broker"))
			continue; /* the broker is not a worker: it serves sockets */
		struct policy *p = policy_for_role(policies[i], &e);
		ck_assert_ptr_nonnull(p);
		for (size_t k = 0; k < ARRAY_SIZE(calls); k++) {
			int nr = policy_syscall_number(calls[k]);
			ck_assert_int_ge(nr, 0);
			ck_assert_msg(!policy_mentions(p, nr), "%s allows %s", policies[i], calls[k]);
		}
		policy_free(p);
	}
}
END_TEST

START_TEST(language_accepts_conditions)
{
	struct policy *p = parse("# c\ncaps: CAP_FOWNER CAP_DAC_OVERRIDE  # two\n\n"
				 "read\n"
				 "unlinkat: arg2 == 0 || arg2 == AT_REMOVEDIR\n"
				 "openat: arg2 & O_ACCMODE|O_CREAT == 0 && arg0 != 0x10\n");
	ck_assert_msg(p != NULL, "%s", e.msg);
	ck_assert_uint_eq(p->ncaps, 2);
	ck_assert_int_eq(p->caps[0], CAP_FOWNER);
	ck_assert_uint_eq(p->nrules, 4);
	ck_assert_uint_eq(p->rules[1].ncond, 1);
	ck_assert_uint_eq(p->rules[2].cond[0].value, AT_REMOVEDIR);
	ck_assert_uint_eq(p->rules[3].ncond, 2);
	ck_assert_int_eq(p->rules[3].cond[0].op, POLICY_MASKED_EQ);
	ck_assert_uint_eq(p->rules[3].cond[0].mask, O_ACCMODE | O_CREAT);
	ck_assert_int_eq(p->rules[3].cond[1].op, POLICY_NE);
	ck_assert_uint_eq(p->rules[3].cond[1].value, 16);
	ck_assert_int_eq(p->rules[3].line, 6);
	policy_free(p);
	p = parse("caps:\n");
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->ncaps, 0);
	policy_free(p);
}
END_TEST

static void assert_error(const char *text, const char *needle)
{
	struct policy *p = parse(text);
	ck_assert_msg(p == NULL, "accepted: %s", text);
	ck_assert_msg(strstr(e.msg, needle) != NULL, "`%s` lacks `%s`", e.msg, needle);
}

START_TEST(language_errors_name_the_line)
{
	assert_error("caps:\nread\nnosuchcall\n", "`t.policy` line 3: unknown syscall `nosuchcall`");
	assert_error("caps: CAP_NOPE\n", "line 1: unknown capability `CAP_NOPE`");
	assert_error("caps: dac_override\n", "line 1: unknown capability");
	assert_error("caps:\n\nread: arg7 == 1\n", "line 3: expected arg0..arg5");
	assert_error("caps:\nread: arg0 == NOT_A_CONST\n", "line 2: unknown constant `NOT_A_CONST`");
	assert_error("caps:\nread: arg0 >= 1\n", "line 2: expected ==, != or &");
	assert_error("caps:\nread: arg0 & 1\n", "line 2: expected `==` after the mask");
	assert_error("caps:\nread arg0\n", "line 2: unexpected text");
	assert_error("caps:\nread: arg0 == 1 &&\n", "line 2: expected arg0..arg5");
	assert_error("caps:\ncaps:\n", "line 2: second");
	assert_error("read\n", "no `caps:` line");
}
END_TEST

/* ---- confinement in a child ------------------------------------------------ */

typedef int (*child_fn)(void *arg);

/* When >= 0, the confined child gets this fd as its job socket (fd 3). */
static int child_job_fd = -1;
/* When > 0, the confined child is stopped (SIGSTOP) this long after it
 * started, and continued 100 ms later, as a debugger or a freeze would. */
static int stop_child_after_ms;

/* Forks; the child confines itself as `role` (caps, NO_NEW_PRIVS, filter)
 * and returns fn's value as its exit status.  Returns the wait status. */
static int run_confined(const char *role, int log_denied, child_fn fn, void *arg)
{
	struct policy *p = policy_for_role(role, &e);
	ck_assert_ptr_nonnull(p);
	struct policy_bpf b;
	ck_assert_int_eq(policy_compile(p, log_denied, &b, &e), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct err ce;
		if (child_job_fd >= 0 && dup2(child_job_fd, WORKER_FD_JOB) < 0)
			_exit(101);
		if (policy_enter(p, &b, &ce) < 0)
			_exit(100);
		_exit(fn(arg));
	}
	if (stop_child_after_ms > 0) {
		usleep((useconds_t)stop_child_after_ms * 1000);
		kill(pid, SIGSTOP);
		usleep(100000);
		kill(pid, SIGCONT);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	policy_bpf_free(&b);
	policy_free(p);
	return st;
}

static int try_mount(void *arg)
{
	return mount("none", "/tmp", "tmpfs", 0, NULL) == 0 ? 0 : 1;
}
static int try_ptrace(void *arg)
{
	return ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 0 : 1;
}
static int try_kill(void *arg)
{
	return kill(getppid(), 0) == 0 ? 0 : 1;
}
static int try_socket_inet(void *arg)
{
	return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 1;
}
static int try_execve(void *arg)
{
	char *argv[] = {"true", NULL};
	execve("/bin/true", argv, NULL);
	return 1;
}
static int try_fork(void *arg)
{
	return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) >= 0 ? 0 : 1;
}
static int try_unshare(void *arg)
{
	return syscall(SYS_unshare, 0) == 0 ? 0 : 1;
}
static int try_write_stdout(void *arg)
{
	return syscall(SYS_write, 1, "", 0) >= 0 ? 0 : 1;
}
static void *thread_body(void *arg)
{
	return arg;
}

static int try_getppid(void *arg)
{
	return syscall(SYS_getppid) > 0 ? 0 : 1;
}

/* Calls every policy forbids, unless `allowed` above names the call (then
 * `name` is the call as `allowed` names it). */
static const struct {
	const char *name;
	child_fn fn;
} forbidden_calls[] = {
    {"mount", try_mount},	 {"ptrace", try_ptrace},
    {"kill", try_kill},		 {"socket(AF_INET)", try_socket_inet},
    {"execve", try_execve},	 {"clone(SIGCHLD)", try_fork},
    {"unshare(0)", try_unshare}, {"write", try_write_stdout},
};

START_TEST(roles_die_on_forbidden_calls)
{
	const char *role = role_policies[_i];
	for (size_t k = 0; k < ARRAY_SIZE(forbidden_calls); k++) {
		if (allows(role, forbidden_calls[k].name))
			continue;
		int st = run_confined(role, 0, forbidden_calls[k].fn, NULL);
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
			      "%s: %s not killed by SIGSYS (status %#x)", role, forbidden_calls[k].name, st);
	}
}
END_TEST

/* The import parser (client/import_parser.c) holds the archive, its result
 * socket and a pipe: no capability, nothing of never_allowed, no clone, no
 * sendmsg (no fd goes back to the CLI); under its filter every forbidden
 * call dies, and an open fails with EPERM (glibc's iconv tries some) without
 * reaching the file. */
static int try_open_passwd(void *arg)
{
	return syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY) < 0 && errno == EPERM ? 0 : 1;
}

START_TEST(import_role_reads_only_what_it_is_given)
{
	struct policy *p = policy_for_role("import", &e);
	ck_assert_msg(p != NULL, "%s", e.msg);
	ck_assert_uint_eq(p->ncaps, 0);
	for (size_t k = 0; k < sizeof never_allowed / sizeof never_allowed[0]; k++)
		ck_assert_msg(!policy_mentions(p, policy_syscall_number(never_allowed[k])),
			      "import allows %s", never_allowed[k]);
	static const char *const also[] = {"clone",   "openat", "open", "sendmsg",
					   "recvmsg", "dup",	"dup2", "dup3"};
	for (size_t k = 0; k < sizeof also / sizeof also[0]; k++)
		ck_assert_msg(!policy_mentions(p, policy_syscall_number(also[k])), "import allows %s",
			      also[k]);
	policy_free(p);
	for (size_t k = 0; k < sizeof forbidden_calls / sizeof forbidden_calls[0]; k++) {
		int st = run_confined("import", 0, forbidden_calls[k].fn, NULL);
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
			      "import: %s not killed by SIGSYS (status %#x)", forbidden_calls[k].name, st);
	}
	int st = run_confined("import", 0, try_open_passwd, NULL);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "import: openat not refused with EPERM (status %#x)", st);
}
END_TEST

/* extract writes files, so write is allowed; everything else that would
 * reach beyond its view is not.  Threads are its own business: a clone
 * without CLONE_THREAD (a fork) dies, clone3 fails with ENOSYS. */
static int try_clone3(void *arg)
{
	struct {
		uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	} args = {.exit_signal = SIGCHLD};
	long r = syscall(435 /* clone3 */, &args, sizeof args);
	if (r == 0)
		_exit(0);
	return r < 0 && errno == ENOSYS ? 0 : 1;
}

static int try_thread(void *arg)
{
	pthread_t t;
	if (pthread_create(&t, NULL, thread_body, NULL) != 0)
		return 1;
	return pthread_join(t, NULL) == 0 ? 0 : 1;
}

/* glibc tries clone3 first: extract answers ENOSYS, and glibc falls back to
 * clone. */
START_TEST(extract_threads_fall_back_to_clone)
{
	int st = run_confined("extract", 0, try_clone3, NULL);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "extract: clone3 not ENOSYS (status %#x)", st);
	st = run_confined("extract", 0, try_thread, NULL);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "extract: a thread could not start (status %#x)",
		      st);
}
END_TEST

/* extract reads its layer and maps no file (worker/extract.c): a read-only
 * shared map of a file it holds dies, and so does a private one; an
 * anonymous map, malloc's large blocks and a thread's stack live. */
static int try_map_shared(void *arg)
{
	return mmap(NULL, 4096, PROT_READ, MAP_SHARED, *(int *)arg, 0) == MAP_FAILED ? 0 : 1;
}

static int try_map_private(void *arg)
{
	return mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, *(int *)arg, 0) == MAP_FAILED ? 0 : 1;
}

static int try_map_anonymous(void *arg)
{
	void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 1;
	memset(m, 1, 1 << 20);
	char *big = malloc(64 << 20); /* above malloc's map threshold */
	if (!big)
		return 1;
	big[(64 << 20) - 1] = 1;
	free(big);
	return try_thread(NULL);
}

START_TEST(extract_maps_no_file)
{
	int fd = memfd_create("layer", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 4096), 0);
	int st = run_confined("extract", 0, try_map_shared, &fd);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
		      "extract: a shared map of a file not killed (%#x)", st);
	st = run_confined("extract", 0, try_map_private, &fd);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
		      "extract: a private map of a file not killed (%#x)", st);
	st = run_confined("extract", 0, try_map_anonymous, NULL);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "extract: anonymous memory refused (%#x)", st);
	close(fd);
}
END_TEST

/* extract's advice on its memory is the two it gives (policy/extract.policy):
 * MADV_HUGEPAGE on a 2 MiB anonymous map and MADV_DONTNEED on it live;
 * MADV_MERGEABLE, which would hand its pages to KSM, dies. */
static int try_advise(void *arg)
{
	size_t n = 2u << 20;
	void *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 1;
	int advice[] = {MADV_HUGEPAGE, MADV_DONTNEED, *(int *)arg};
	for (size_t i = 0; i < ARRAY_SIZE(advice); i++)
		if (advice[i] >= 0 && madvise(m, n, advice[i]) < 0 && errno != EINVAL)
			return 1;
	return 0;
}

START_TEST(extract_advice_is_narrow)
{
	int none = -1, mergeable = MADV_MERGEABLE;
	int st = run_confined("extract", 0, try_advise, &none);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "extract: MADV_HUGEPAGE or MADV_DONTNEED refused (%#x)", st);
	st = run_confined("extract", 0, try_advise, &mergeable);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "extract: MADV_MERGEABLE not killed (%#x)",
		      st);
}
END_TEST

/* diff has no call that creates, changes or removes a file, and writes only
 * to fd 4. */
static int try_open_creat(void *arg)
{
	return syscall(SYS_openat, AT_FDCWD, "/tmp/strata-diff-probe", O_WRONLY | O_CREAT, 0600) >= 0 ? 0 : 1;
}

static int try_write_fd5(void *arg)
{
	return syscall(SYS_write, 5, "x", 1) == 1 ? 0 : 1;
}

START_TEST(diff_changes_no_file)
{
	static const char *const changing[] = {
	    "creat",	    "mkdir",	 "mkdirat",   "mknod",	   "mknodat",	  "unlink",
	    "unlinkat",	    "rmdir",	 "rename",    "renameat",  "renameat2",	  "link",
	    "linkat",	    "symlink",	 "symlinkat", "chmod",	   "fchmod",	  "fchmodat",
	    "chown",	    "fchown",	 "fchownat",  "lchown",	   "truncate",	  "ftruncate",
	    "fallocate",    "setxattr",	 "lsetxattr", "fsetxattr", "removexattr", "lremovexattr",
	    "fremovexattr", "utimensat", "utimes",    "futimesat", "openat2",	  "open",
	};
	struct policy *p = policy_for_role("diff", &e);
	ck_assert_msg(p != NULL, "%s", e.msg);
	for (size_t i = 0; i < sizeof changing / sizeof changing[0]; i++) {
		int nr = policy_syscall_number(changing[i]);
		ck_assert_int_ge(nr, 0);
		ck_assert_msg(!policy_mentions(p, nr), "diff allows %s", changing[i]);
	}
	/* fchmodat2 (452), setxattrat (463), removexattrat (466) by number */
	ck_assert(!policy_mentions(p, 452) && !policy_mentions(p, 463) && !policy_mentions(p, 466));
	policy_free(p);
	int st = run_confined("diff", 0, try_open_creat, NULL);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "diff: openat(O_CREAT) not killed (%#x)",
		      st);
	st = run_confined("diff", 0, try_write_fd5, NULL);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "diff: write to fd 5 not killed (%#x)", st);
	st = run_confined("diff", 0, try_thread, NULL);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "diff: a thread could not start (%#x)", st);
}
END_TEST

/* A thread with glibc's flags and one more: a new mount namespace (with
 * CLONE_FS, which the kernel would refuse with EINVAL, so that nothing starts
 * should the filter let it through), another namespace, or CLONE_PARENT. */
static const unsigned long glibc_thread = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
					  CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
					  CLONE_CHILD_CLEARTID;
static int try_clone_with(void *arg)
{
	unsigned long extra = *(unsigned long *)arg;
	syscall(SYS_clone, glibc_thread | extra, NULL, NULL, NULL, 0);
	return 0; /* not killed */
}

START_TEST(threads_get_no_namespace_flags)
{
	static const unsigned long extras[] = {CLONE_NEWNS,
					       CLONE_NEWNET | CLONE_NEWNS,
					       CLONE_NEWUTS | CLONE_NEWNS,
					       CLONE_NEWIPC | CLONE_NEWNS,
					       CLONE_NEWCGROUP | CLONE_NEWNS,
					       CLONE_NEWPID | CLONE_NEWNS,
					       CLONE_PARENT | CLONE_NEWNS};
	static const char *const roles[] = {"extract", "diff"};
	for (size_t r = 0; r < ARRAY_SIZE(roles); r++) {
		for (size_t i = 0; i < ARRAY_SIZE(extras); i++) {
			unsigned long extra = extras[i];
			int st = run_confined(roles[r], 0, try_clone_with, &extra);
			ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
				      "%s: a thread with extra clone flags %#lx not killed (%#x)", roles[r],
				      extra, st);
		}
		int st = run_confined(roles[r], 0, try_thread, NULL);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: pthread_create failed (%#x)",
			      roles[r], st);
	}
}
END_TEST

/* A timed wait stopped in the middle (SIGSTOP, the cgroup freezer, a
 * debugger) and continued: the kernel resumes poll, nanosleep,
 * clock_nanosleep and a futex wait as restart_syscall, which a policy that
 * allows any of them must allow too, or the thawed process dies of SIGSYS.
 * ppoll restarts itself. */
static const char *const restarted_waits[] = {"poll", "nanosleep", "clock_nanosleep", "select"};

static int timed_wait(void *arg)
{
	const char *call = arg;
	struct timespec ts = {0, 400 * 1000000L};
	long r = !strcmp(call, "clock_nanosleep")
		     ? syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL)
		 : !strcmp(call, "poll") ? syscall(SYS_poll, NULL, 0, 400)
					 : syscall(SYS_ppoll, NULL, 0, &ts, NULL, 8);
	return r == 0 ? 0 : 1;
}

START_TEST(waits_survive_a_stop)
{
	const char *role = role_policies[_i];
	struct policy *p = policy_for_role(role, &e);
	ck_assert_ptr_nonnull(p);
	const char *call = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(restarted_waits); i++)
		if (policy_mentions(p, policy_syscall_number(restarted_waits[i]))) {
			ck_assert_msg(policy_mentions(p, policy_syscall_number("restart_syscall")),
				      "%s allows %s but not restart_syscall", role, restarted_waits[i]);
			call = call ? call : restarted_waits[i];
		}
	if (!call && policy_mentions(p, policy_syscall_number("ppoll")))
		call = "ppoll";
	policy_free(p);
	if (!call || !strcmp(call, "nanosleep") || !strcmp(call, "select"))
		return; /* no wait this test can make in the role */
	struct policy *q = policy_for_role(role, &e);
	struct policy_bpf b;
	ck_assert_int_eq(policy_compile(q, 0, &b, &e), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct err ce;
		if (policy_enter(q, &b, &ce) < 0)
			_exit(100);
		_exit(timed_wait((void *)call));
	}
	usleep(100 * 1000);
	int st;
	ck_assert_int_eq(kill(pid, SIGSTOP), 0);
	ck_assert_int_eq(waitpid(pid, &st, WUNTRACED), pid);
	ck_assert_msg(WIFSTOPPED(st), "%s: not stopped (%#x)", role, st);
	ck_assert_int_eq(kill(pid, SIGCONT), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s stopped and continued: status %#x", role,
		      call, st);
	policy_bpf_free(&b);
	policy_free(q);
}
END_TEST

START_TEST(log_mode_lets_denied_calls_through)
{
	int st = run_confined(role_policies[_i], 1, try_getppid, NULL);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

/* Sorting (common/sort.h) makes no call: 8192 elements of 24 bytes, far
 * past where glibc's qsort would allocate and ask sysconf for the
 * machine's memory (sysinfo), sorted under every policy. */
struct sort_rec {
	uint64_t key, a, b;
};

static int by_key(const void *x, const void *y)
{
	const struct sort_rec *p = x, *q = y;
	return p->key < q->key ? -1 : p->key > q->key;
}

static int sort_many(void *arg)
{
	static struct sort_rec v[8192];
	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		v[i] = (struct sort_rec){(i * 2654435761u) % 10007, i, ~i};
	sort_array(v, ARRAY_SIZE(v), sizeof v[0], by_key);
	for (size_t i = 1; i < ARRAY_SIZE(v); i++)
		if (v[i - 1].key > v[i].key || v[i].b != ~v[i].a)
			return 1;
	return 0;
}

START_TEST(sorting_makes_no_call)
{
	int st = run_confined(policies[_i], 0, sort_many, NULL);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: sorting failed (status %#x)", policies[_i],
		      st);
}
END_TEST

/* die() (an allocation that failed, say) ends a confined process with
 * status 1, whatever its policy: with its stderr closed, as every confined
 * process but the broker has it, logging is off and die() makes no call
 * but the exit. */
static int die_quietly(void *arg)
{
	log_off();
	die("out of memory");
}

START_TEST(dying_makes_no_forbidden_call)
{
	int st = run_confined(policies[_i], 0, die_quietly, NULL);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s: die() did not exit 1 (status %#x)",
		      policies[_i], st);
}
END_TEST

/* A denied call is reported on the report fd, by number and architecture,
 * and the process still dies of SIGSYS; a handler of SIGSYS cannot be
 * replaced (rt_sigaction of SIGSYS kills with no report), though other
 * signals' handlers may be set where the policy allows rt_sigaction. */
#define REPORT_FD 9
static int try_sigaction_sigsys(void *arg)
{
	return syscall(SYS_rt_sigaction, SIGSYS, NULL, NULL, sizeof(uint64_t)) == 0 ? 0 : 1;
}
/* A compromised worker that blocks SIGSYS to live through a denied call:
 * the kernel unblocks it for the trap, and the process dies all the same. */
static int try_ptrace_sigsys_blocked(void *arg)
{
	uint64_t set = 1ull << (SIGSYS - 1);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, sizeof set);
	syscall(SYS_ptrace, PTRACE_TRACEME, 0, NULL, NULL);
	return 0; /* lived on past the call */
}
static int try_sigaction_sigusr1(void *arg)
{
	return syscall(SYS_rt_sigaction, SIGUSR1, NULL, NULL, sizeof(uint64_t)) == 0 ? 0 : 1;
}

/* Runs fn confined as role with a reporting filter; returns the wait status
 * and what the child reported (nr -1: nothing). */
static int run_reporting(const char *role, child_fn fn, struct policy_denied *d)
{
	struct policy *p = policy_for_role(role, &e);
	ck_assert_ptr_nonnull(p);
	struct policy_bpf b;
	ck_assert_int_eq(policy_compile_reporting(p, 0, REPORT_FD, &b, &e), 0);
	int pipefd[2];
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct err ce;
		if (dup2(pipefd[1], REPORT_FD) < 0 || policy_enter(p, &b, &ce) < 0)
			_exit(100);
		_exit(fn(NULL));
	}
	close(pipefd[1]);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	*d = (struct policy_denied){.nr = -1};
	ssize_t n = read(pipefd[0], d, sizeof *d);
	ck_assert(n == 0 || n == (ssize_t)sizeof *d);
	if (n == 0)
		d->nr = -1;
	close(pipefd[0]);
	policy_bpf_free(&b);
	policy_free(p);
	return st;
}

START_TEST(denied_calls_are_reported)
{
	const char *role = role_policies[_i];
	struct policy_denied d;
	char name[64];
	int st = run_reporting(role, try_ptrace, &d);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "%s: ptrace: status %#x", role, st);
	ck_assert_msg(d.nr == SYS_ptrace && d.arch == AUDIT_ARCH_X86_64, "%s: reported %d arch %#x", role,
		      d.nr, d.arch);
	ck_assert_str_eq(policy_syscall_name(d.nr, d.arch, name, sizeof name), "ptrace");
	st = run_reporting(role, try_sigaction_sigsys, &d);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS && d.nr == -1,
		      "%s: rt_sigaction(SIGSYS): status %#x, reported %d", role, st, d.nr);
	st = run_reporting(role, try_ptrace_sigsys_blocked, &d);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "%s: ptrace with SIGSYS blocked: status %#x",
		      role, st);
	struct policy *p = policy_for_role(role, &e);
	ck_assert_ptr_nonnull(p);
	if (policy_mentions(p, SYS_rt_sigaction)) {
		st = run_reporting(role, try_sigaction_sigusr1, &d);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: rt_sigaction(SIGUSR1): %#x", role,
			      st);
	}
	policy_free(p);
}
END_TEST

/* A wait with a timeout, stopped and continued, resumes as restart_syscall:
 * extract's pipeline waits on a condition with a timeout, extract and diff
 * may sleep, the feeder polls a FIFO.  Under SIGSTOP and SIGCONT, as a
 * debugger or a cgroup freeze would stop them. */
static int wait_timed(void *arg)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	if ((until.tv_nsec += 500000000) >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&mu);
	return pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT ? 0 : 1;
}

static int sleep_a_while(void *arg)
{
	struct timespec t = {0, 500000000};
	return clock_nanosleep(CLOCK_MONOTONIC, 0, &t, NULL);
}

static int poll_a_while(void *arg)
{
	return poll(NULL, 0, 500);
}

static int ppoll_a_while(void *arg)
{
	struct timespec t = {0, 500000000};
	return ppoll(NULL, 0, &t, NULL);
}

START_TEST(stopped_waits_resume)
{
	static const struct {
		const char *policy, *what;
		child_fn fn;
	} waits[] = {
	    {"extract", "pthread_cond_timedwait", wait_timed},
	    {"extract", "clock_nanosleep", sleep_a_while},
	    {"diff", "clock_nanosleep", sleep_a_while},
	    {"feed", "poll", poll_a_while},
	    /* ppoll (a probe's hold) is restarted as itself */
	    {"usage", "ppoll", ppoll_a_while},
	    {"mount", "ppoll", ppoll_a_while},
	};
	stop_child_after_ms = 150;
	for (size_t i = 0; i < ARRAY_SIZE(waits); i++) {
		int st = run_confined(waits[i].policy, 0, waits[i].fn, NULL);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			      "%s: %s stopped and continued: status %#x", waits[i].policy, waits[i].what, st);
	}
	stop_child_after_ms = 0;
}
END_TEST

/* In a child: exactly the policy's caps, effective and permitted, and a
 * bounding set of nothing more; 0 when so, else the first cap that differs
 * plus 2. */
static int holds_exactly(const struct policy *p)
{
	capng_get_caps_process();
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		int want = 0;
		for (size_t i = 0; i < p->ncaps; i++)
			want |= p->caps[i] == cap;
		if (capng_have_capability(CAPNG_EFFECTIVE, (unsigned)cap) != want ||
		    capng_have_capability(CAPNG_PERMITTED, (unsigned)cap) != want ||
		    (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) != want)
			return cap + 2;
	}
	return 0;
}

START_TEST(roles_keep_only_their_caps)
{
	const char *role = role_policies[_i];
	struct policy *p = policy_for_role(role, &e);
	ck_assert_ptr_nonnull(p);
	pid_t pid = fork();
	if (pid == 0) {
		struct err ce;
		if (policy_apply_caps(p, &ce) < 0)
			_exit(1);
		_exit(holds_exactly(p));
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: cap %d held or missing (status %#x)", role,
		      WIFEXITED(st) ? WEXITSTATUS(st) - 2 : -1, st);
	policy_free(p);
}
END_TEST

/* ---- the role bodies under their own filters ----------------------------- */

static char tmp[64];

static void mkfile(const char *rel, const char *data, mode_t mode)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", tmp, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static void mkd(const char *rel, mode_t mode)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", tmp, rel);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static void tree_setup(void)
{
	strcpy(tmp, "/tmp/test_policy.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void tree_teardown(void)
{
	char cmd[320];
	snprintf(cmd, sizeof cmd, "chmod -R u+rwx %s 2>/dev/null; rm -rf %s %s.outside", tmp, tmp, tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", tmp);
}

/* A tree with what makes walking hard: links to outside, hardlinks,
 * unreadable and unwritable directories, a sticky directory. */
static void build_tree(void)
{
	char p1[256], p2[256];
	mkd("t", 0755);
	mkfile("t/a", "hello", 0644);
	mkd("t/d", 0755);
	mkfile("t/d/b", "0123456789", 0600);
	snprintf(p1, sizeof p1, "%s/t/d/b", tmp);
	snprintf(p2, sizeof p2, "%s/t/hard", tmp);
	ck_assert_int_eq(link(p1, p2), 0);
	snprintf(p1, sizeof p1, "%s.outside", tmp);
	int fd = open(p1, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(p2, sizeof p2, "%s/t/escape", tmp);
	ck_assert_int_eq(symlink(p1, p2), 0);
	snprintf(p2, sizeof p2, "%s/t/escapedir", tmp);
	ck_assert_int_eq(symlink("/etc", p2), 0);
	mkd("t/d/deep", 0755);
	mkd("t/d/deep/er", 0755);
	mkfile("t/d/deep/er/c", "x", 0644);
	mkd("t/sticky", 0755);
	mkfile("t/sticky/other", "o", 0644);
	snprintf(p1, sizeof p1, "%s/t/sticky/other", tmp);
	ck_assert_int_eq(chown(p1, 4242, 4242), 0);
	ck_assert_int_eq(chmod(strcat(strcpy(p2, tmp), "/t/sticky"), 01777), 0);
	ck_assert_int_eq(chmod(strcat(strcpy(p2, tmp), "/t/d/deep/er"), 0555), 0);
	ck_assert_int_eq(chmod(strcat(strcpy(p2, tmp), "/t/d/deep"), 0), 0);
}

/* Expected usage, counted the plain way (path-based, as the Go walk). */
static void count_path(const char *path, int64_t *size, int64_t *inodes, ino_t *seen, size_t *nseen)
{
	struct stat st;
	ck_assert_int_eq(lstat(path, &st), 0);
	size_t i;
	for (i = 0; i < *nseen && seen[i] != st.st_ino; i++)
		;
	if (i == *nseen) {
		seen[(*nseen)++] = st.st_ino;
		*size += st.st_blocks * 512;
		(*inodes)++;
	}
	if (!S_ISDIR(st.st_mode))
		return;
	char cmd[512];
	snprintf(cmd, sizeof cmd, "ls -A '%s'", path);
	FILE *f = popen(cmd, "r");
	char name[256];
	while (fgets(name, sizeof name, f)) {
		name[strcspn(name, "\n")] = '\0';
		char sub[512];
		snprintf(sub, sizeof sub, "%s/%s", path, name);
		count_path(sub, size, inodes, seen, nseen);
	}
	pclose(f);
}

static int64_t want_size, want_inodes;

static int usage_in_child(void *arg)
{
	char path[256];
	snprintf(path, sizeof path, "%s/t", tmp);
	int fd = openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 10;
	int64_t size, inodes;
	struct err ce;
	if (role_usage_count(fd, &size, &inodes, &ce) < 0)
		return 11;
	return size == want_size && inodes == want_inodes ? 0 : 12;
}

START_TEST(usage_role_counts_under_its_filter)
{
	build_tree();
	ino_t seen[64];
	size_t nseen = 0;
	char path[256];
	snprintf(path, sizeof path, "%s/t", tmp);
	want_size = want_inodes = 0;
	count_path(path, &want_size, &want_inodes, seen, &nseen);
	ck_assert_int_eq(want_inodes, 11); /* t a d b=hard escape escapedir deep er c sticky other */
	int st = run_confined("usage", 0, usage_in_child, NULL);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}
END_TEST

static int remove_in_child(void *arg)
{
	char path[256];
	snprintf(path, sizeof path, "%s/t", tmp);
	int fd = openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 10;
	struct err ce;
	return role_remove_tree(fd, &ce) < 0 ? 11 : 0;
}

START_TEST(remove_role_deletes_under_its_filter)
{
	build_tree();
	int st = run_confined("remove", 0, remove_in_child, NULL);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	char path[256];
	snprintf(path, sizeof path, "%s/t", tmp);
	ck_assert_int_eq(rmdir(path), 0); /* empty now */
	snprintf(path, sizeof path, "%s.outside", tmp);
	ck_assert_int_eq(access(path, F_OK), 0); /* the link's target survived */
	ck_assert_int_eq(access("/etc/passwd", F_OK), 0);
}
END_TEST

/* The probe, as the parent would run it: job socket on fd 3. */
static int probe_nr;
static int probe_in_child(void *arg)
{
	struct ipc_spawn req = {.role = ROLE_PROBE, .probe_syscall = probe_nr, .probe_hold_ms = 1};
	return role_probe_run(WORKER_FD_JOB, &req);
}

START_TEST(probe_reports_or_dies)
{
	int sp[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	child_job_fd = sp[1];
	/* an allowed call: the result arrives */
	probe_nr = SYS_close; /* close(0): allowed in every probed role */
	int st = run_confined(probed_roles[_i], 0, probe_in_child, NULL);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	struct ipc_msg m;
	ck_assert_int_eq(ipc_recv(sp[0], IPC_CH_JOB, &m, &e), 1);
	ck_assert_uint_eq(m.type, IPC_JOB_PROBE);
	/* a forbidden one: SIGSYS, nothing sent */
	probe_nr = SYS_getpid;
	st = run_confined(probed_roles[_i], 0, probe_in_child, NULL);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	close(sp[1]);
	child_job_fd = -1;
	ck_assert_int_eq(ipc_recv(sp[0], IPC_CH_JOB, &m, &e), 0);
	close(sp[0]);
}
END_TEST

int main(void)
{
	list_policies();
	Suite *s = suite_create("policy");
	TCase *lang = tcase_create("language");
	tcase_add_test(lang, embedded_policies_parse_and_compile);
	tcase_add_test(lang, embedded_texts_are_the_policy_files);
	tcase_add_test(lang, forbidden_syscalls_absent);
	tcase_add_test(lang, numbered_syscalls_and_errno_rules);
	tcase_add_test(lang, no_worker_reaches_shared_namespaces);
	tcase_add_test(lang, language_accepts_conditions);
	tcase_add_test(lang, language_errors_name_the_line);
	suite_add_tcase(s, lang);
	TCase *conf = tcase_create("confinement");
	tcase_set_timeout(conf, 30); /* stopped_waits_resume waits 3 s */
	tcase_add_loop_test(conf, roles_die_on_forbidden_calls, 0, (int)nrole_policies);
	tcase_add_test(conf, extract_threads_fall_back_to_clone);
	tcase_add_test(conf, extract_maps_no_file);
	tcase_add_test(conf, extract_advice_is_narrow);
	tcase_add_test(conf, threads_get_no_namespace_flags);
	tcase_add_test(conf, import_role_reads_only_what_it_is_given);
	tcase_add_test(conf, diff_changes_no_file);
	tcase_add_loop_test(conf, log_mode_lets_denied_calls_through, 0, (int)nrole_policies);
	tcase_add_loop_test(conf, sorting_makes_no_call, 0, (int)npolicies);
	tcase_add_loop_test(conf, dying_makes_no_forbidden_call, 0, (int)npolicies);
	tcase_add_test(conf, stopped_waits_resume);
	tcase_add_loop_test(conf, roles_keep_only_their_caps, 0, (int)nrole_policies);
	tcase_add_loop_test(conf, waits_survive_a_stop, 0, (int)nrole_policies);
	tcase_add_loop_test(conf, probe_reports_or_dies, 0, (int)nprobed_roles);
	tcase_add_loop_test(conf, denied_calls_are_reported, 0, (int)nrole_policies);
	suite_add_tcase(s, conf);
	/* Unchecked fixtures run in the runner, so the tree goes even when a
	 * test fails; one tree per case. */
	TCase *usage = tcase_create("usage role");
	tcase_add_unchecked_fixture(usage, tree_setup, tree_teardown);
	tcase_add_test(usage, usage_role_counts_under_its_filter);
	suite_add_tcase(s, usage);
	TCase *rm = tcase_create("remove role");
	tcase_add_unchecked_fixture(rm, tree_setup, tree_teardown);
	tcase_add_test(rm, remove_role_deletes_under_its_filter);
	suite_add_tcase(s, rm);
	return run_suite(s);
}
