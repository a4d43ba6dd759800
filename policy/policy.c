#include "policy.h"

#include <cap-ng.h>
#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/util.h"

/* Constants a condition may name.  Only what the policies need, so that a
 * reviewer can check each value here. */
static const struct {
	const char *name;
	uint64_t value;
} policy_consts[] = {
    {"ENOSYS", ENOSYS},
    {"EPERM", EPERM},
    {"CLONE_VM", CLONE_VM},
    {"CLONE_FS", CLONE_FS},
    {"CLONE_FILES", CLONE_FILES},
    {"CLONE_SIGHAND", CLONE_SIGHAND},
    {"CLONE_THREAD", CLONE_THREAD},
    {"CLONE_SYSVSEM", CLONE_SYSVSEM},
    {"CLONE_SETTLS", CLONE_SETTLS},
    {"CLONE_PARENT_SETTID", CLONE_PARENT_SETTID},
    {"CLONE_CHILD_CLEARTID", CLONE_CHILD_CLEARTID},
    {"AF_UNIX", AF_UNIX},
    {"AF_INET", AF_INET},
    {"AF_INET6", AF_INET6},
    {"AF_NETLINK", AF_NETLINK},
    {"SOCK_STREAM", SOCK_STREAM},
    {"SOCK_DGRAM", SOCK_DGRAM},
    {"SOCK_SEQPACKET", SOCK_SEQPACKET},
    {"SOCK_CLOEXEC", SOCK_CLOEXEC},
    {"SOCK_NONBLOCK", SOCK_NONBLOCK},
    {"O_RDONLY", O_RDONLY},
    {"O_WRONLY", O_WRONLY},
    {"O_RDWR", O_RDWR},
    {"O_ACCMODE", O_ACCMODE},
    {"O_CREAT", O_CREAT},
    {"O_EXCL", O_EXCL},
    {"O_TRUNC", O_TRUNC},
    {"O_APPEND", O_APPEND},
    {"O_DIRECTORY", O_DIRECTORY},
    {"O_NOFOLLOW", O_NOFOLLOW},
    {"O_CLOEXEC", O_CLOEXEC},
    {"O_PATH", O_PATH},
    {"O_TMPFILE", O_TMPFILE},
    {"F_DUPFD_CLOEXEC", F_DUPFD_CLOEXEC},
    {"F_GETFD", F_GETFD},
    {"F_SETFD", F_SETFD},
    {"F_GETFL", F_GETFL},
    {"F_SETFL", F_SETFL},
    {"F_GETLK", F_GETLK},
    {"F_SETLK", F_SETLK},
    {"F_SETLKW", F_SETLKW},
    {"F_OFD_GETLK", F_OFD_GETLK},
    {"F_OFD_SETLK", F_OFD_SETLK},
    {"F_OFD_SETLKW", F_OFD_SETLKW},
    {"PROT_NONE", PROT_NONE},
    {"PROT_READ", PROT_READ},
    {"PROT_WRITE", PROT_WRITE},
    {"PROT_EXEC", PROT_EXEC},
    {"MAP_ANONYMOUS", MAP_ANONYMOUS},
    {"MADV_DONTNEED", MADV_DONTNEED},
    {"MADV_HUGEPAGE", MADV_HUGEPAGE},
    {"AT_REMOVEDIR", AT_REMOVEDIR},
    {"RENAME_NOREPLACE", RENAME_NOREPLACE},
    {"AT_SYMLINK_NOFOLLOW", AT_SYMLINK_NOFOLLOW},
    {"AT_EMPTY_PATH", AT_EMPTY_PATH},
    {"STDERR_FILENO", STDERR_FILENO},
    {"OPEN_TREE_CLONE", OPEN_TREE_CLONE},
    {"MOVE_MOUNT_F_EMPTY_PATH", MOVE_MOUNT_F_EMPTY_PATH},
    {"CLONE_NEWUSER", CLONE_NEWUSER},
    {"CLONE_NEWNS", CLONE_NEWNS},
};

struct parser {
	const char *file; /* policy name, for messages */
	int line;
	const char *p; /* cursor in the current line */
	const char *end;
	struct err *e;
};

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

static int parse_fail(struct parser *ps, const char *what, size_t n, const char *tok)
{
	return err_set(ps->e, ST_INVALID_ARGUMENT, "policy `%s.policy` line %d: %s `%.*s`", ps->file,
		       ps->line, what, (int)n, tok);
}

/* A word: [A-Za-z0-9_]+ */
static size_t word(struct parser *ps, const char **start)
{
	skip_ws(ps);
	*start = ps->p;
	while (ps->p < ps->end && (isalnum((unsigned char)*ps->p) || *ps->p == '_'))
		ps->p++;
	return (size_t)(ps->p - *start);
}

static int accept_tok(struct parser *ps, const char *tok)
{
	skip_ws(ps);
	size_t n = strlen(tok);
	if ((size_t)(ps->end - ps->p) >= n && !memcmp(ps->p, tok, n)) {
		ps->p += n;
		return 1;
	}
	return 0;
}

static int parse_term(struct parser *ps, uint64_t *out)
{
	const char *w;
	size_t n = word(ps, &w);
	if (!n)
		return parse_fail(ps, "expected a value at", (size_t)(ps->end - ps->p), ps->p);
	if (isdigit((unsigned char)w[0])) {
		char buf[32];
		if (n >= sizeof buf)
			return parse_fail(ps, "number too long", n, w);
		memcpy(buf, w, n);
		buf[n] = '\0';
		char *endp;
		errno = 0;
		unsigned long long v = strtoull(buf, &endp, 0);
		if (errno || *endp)
			return parse_fail(ps, "bad number", n, w);
		*out = v;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(policy_consts); i++)
		if (strlen(policy_consts[i].name) == n && !memcmp(policy_consts[i].name, w, n)) {
			*out = policy_consts[i].value;
			return 0;
		}
	return parse_fail(ps, "unknown constant", n, w);
}

/* V := term ('|' term)* */
static int parse_value(struct parser *ps, uint64_t *out)
{
	*out = 0;
	do {
		uint64_t t = 0;
		if (parse_term(ps, &t) < 0)
			return -1;
		*out |= t;
		skip_ws(ps);
		/* `|` but not `||` */
		if (ps->end - ps->p >= 2 && ps->p[0] == '|' && ps->p[1] == '|')
			break;
	} while (accept_tok(ps, "|"));
	return 0;
}

static int parse_cond(struct parser *ps, struct policy_cond *c)
{
	const char *w;
	size_t n = word(ps, &w);
	if (n != 4 || strncmp(w, "arg", 3) || w[3] < '0' || w[3] > '5')
		return parse_fail(ps, "expected arg0..arg5, not", n ? n : (size_t)(ps->end - w), w);
	c->arg = (unsigned)(w[3] - '0');
	if (accept_tok(ps, "==")) {
		c->op = POLICY_EQ;
	} else if (accept_tok(ps, "!=")) {
		c->op = POLICY_NE;
	} else if (accept_tok(ps, "&")) {
		c->op = POLICY_MASKED_EQ;
		if (parse_value(ps, &c->mask) < 0)
			return -1;
		if (!accept_tok(ps, "=="))
			return parse_fail(ps, "expected `==` after the mask at", (size_t)(ps->end - ps->p),
					  ps->p);
	} else {
		return parse_fail(ps, "expected ==, != or & at", (size_t)(ps->end - ps->p), ps->p);
	}
	return parse_value(ps, &c->value);
}

static void add_rule(struct policy *p, const struct policy_rule *r)
{
	p->rules = xrealloc(p->rules, (p->nrules + 1) * sizeof *p->rules);
	p->rules[p->nrules++] = *r;
}

/* syscall [: COND && ... || ...] */
static int parse_syscall_line(struct parser *ps, struct policy *p)
{
	const char *w;
	size_t n = word(ps, &w);
	char name[64];
	if (!n || n >= sizeof name)
		return parse_fail(ps, "expected a syscall name at", (size_t)(ps->end - w), w);
	memcpy(name, w, n);
	name[n] = '\0';
	struct policy_rule r = {.nr = seccomp_syscall_resolve_name(name), .line = ps->line};
	/* A syscall newer than libseccomp is written by its number (x86-64),
	 * with its name in the comment. */
	if ((r.nr == __NR_SCMP_ERROR || r.nr < 0) && name[0] >= '1' && name[0] <= '9') {
		char *endp;
		long v = strtol(name, &endp, 10);
		r.nr = (*endp || v < 1 || v > 1023) ? -1 : (int)v;
	}
	if (r.nr == __NR_SCMP_ERROR || r.nr < 0)
		return parse_fail(ps, "unknown syscall", n, w);
	if (!accept_tok(ps, ":")) {
		add_rule(p, &r);
	} else if (accept_tok(ps, "errno")) {
		uint64_t v;
		if (parse_value(ps, &v) < 0)
			return -1;
		if (v == 0 || v > 4095)
			return parse_fail(ps, "errno out of range for", n, w);
		r.errnum = (int)v;
		add_rule(p, &r);
	} else {
		do {
			r.ncond = 0;
			do {
				if (r.ncond == POLICY_MAX_COND)
					return parse_fail(ps, "too many conditions for", n, w);
				if (parse_cond(ps, &r.cond[r.ncond++]) < 0)
					return -1;
			} while (accept_tok(ps, "&&"));
			add_rule(p, &r);
		} while (accept_tok(ps, "||"));
	}
	skip_ws(ps);
	if (ps->p != ps->end)
		return parse_fail(ps, "unexpected text", (size_t)(ps->end - ps->p), ps->p);
	return 0;
}

static int parse_caps_line(struct parser *ps, struct policy *p)
{
	if (p->has_caps_line)
		return parse_fail(ps, "second", 5, "caps:");
	p->has_caps_line = 1;
	for (;;) {
		const char *w;
		size_t n = word(ps, &w);
		if (!n)
			break;
		char name[64];
		int cap = -1;
		if (n > 4 && n < sizeof name + 4 && !strncmp(w, "CAP_", 4)) {
			for (size_t i = 4; i < n; i++)
				name[i - 4] = (char)tolower((unsigned char)w[i]);
			name[n - 4] = '\0';
			cap = capng_name_to_capability(name);
		}
		if (cap < 0)
			return parse_fail(ps, "unknown capability", n, w);
		if (p->ncaps == POLICY_MAX_CAPS)
			return parse_fail(ps, "too many capabilities at", n, w);
		p->caps[p->ncaps++] = cap;
	}
	skip_ws(ps);
	if (ps->p != ps->end)
		return parse_fail(ps, "unexpected text", (size_t)(ps->end - ps->p), ps->p);
	return 0;
}

static int parse_line(struct parser *ps, struct policy *p)
{
	/* A trailing comment ends the line. */
	const char *hash = memchr(ps->p, '#', (size_t)(ps->end - ps->p));
	if (hash)
		ps->end = hash;
	while (ps->end > ps->p && isspace((unsigned char)ps->end[-1]))
		ps->end--;
	skip_ws(ps);
	if (ps->p == ps->end)
		return 0;
	if (accept_tok(ps, "caps:"))
		return parse_caps_line(ps, p);
	return parse_syscall_line(ps, p);
}

struct policy *policy_parse(const char *name, const char *text, struct err *e)
{
	struct policy *p = xcalloc(1, sizeof *p);
	p->name = xstrdup(name);
	struct parser ps = {.file = name, .e = e};
	for (const char *s = text; *s;) {
		const char *nl = strchr(s, '\n');
		const char *end = nl ? nl : s + strlen(s);
		ps.line++;
		ps.p = s;
		ps.end = end;
		if (parse_line(&ps, p) < 0) {
			policy_free(p);
			return NULL;
		}
		s = nl ? nl + 1 : end;
	}
	if (!p->has_caps_line) {
		err_set(e, ST_INVALID_ARGUMENT, "policy `%s.policy`: no `caps:` line", name);
		policy_free(p);
		return NULL;
	}
	return p;
}

const char *policy_text_for_role(const char *role)
{
	for (const struct policy_text *t = policy_texts; t->name; t++)
		if (!strcmp(t->name, role))
			return t->text;
	return NULL;
}

struct policy *policy_for_role(const char *role, struct err *e)
{
	const char *text = policy_text_for_role(role);
	if (!text) {
		err_set(e, ST_NOT_FOUND, "policy `%s.policy` is not built in", role);
		return NULL;
	}
	return policy_parse(role, text, e);
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->rules);
	free(p);
}

int policy_mentions(const struct policy *p, int nr)
{
	for (size_t i = 0; i < p->nrules; i++)
		if (p->rules[i].nr == nr && p->rules[i].errnum == 0)
			return 1;
	return 0;
}

int policy_syscall_number(const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);
	return (nr == __NR_SCMP_ERROR || nr < 0) ? -1 : nr;
}

static int add_seccomp_rule(scmp_filter_ctx ctx, const struct policy *p, const struct policy_rule *r,
			    struct err *e)
{
	static const enum scmp_compare ops[] = {
	    [POLICY_EQ] = SCMP_CMP_EQ, [POLICY_NE] = SCMP_CMP_NE, [POLICY_MASKED_EQ] = SCMP_CMP_MASKED_EQ};
	struct scmp_arg_cmp cmp[POLICY_MAX_COND];
	for (unsigned i = 0; i < r->ncond; i++) {
		const struct policy_cond *c = &r->cond[i];
		cmp[i] = (struct scmp_arg_cmp){
		    .arg = c->arg,
		    .op = ops[c->op],
		    .datum_a = c->op == POLICY_MASKED_EQ ? c->mask : c->value,
		    .datum_b = c->op == POLICY_MASKED_EQ ? c->value : 0,
		};
	}
	uint32_t action = r->errnum ? SCMP_ACT_ERRNO((uint32_t)r->errnum) : SCMP_ACT_ALLOW;
	int rc = seccomp_rule_add_exact_array(ctx, action, r->nr, r->ncond, cmp);
	if (rc < 0)
		return err_errno(e, ST_INTERNAL, -rc, "policy `%s.policy` line %d: seccomp rule", p->name,
				 r->line);
	return 0;
}

/* libseccomp 2.5 has no in-memory export: write the program to a memfd and
 * read it back. */
static int export_bpf(scmp_filter_ctx ctx, const char *name, struct policy_bpf *out, struct err *e)
{
	cleanup_fd int fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
	if (fd < 0)
		return err_errno(e, ST_INTERNAL, errno, "policy `%s`: memfd_create", name);
	int rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0)
		return err_errno(e, ST_INTERNAL, -rc, "policy `%s`: export filter", name);
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return err_set(e, ST_INTERNAL, "policy `%s`: exported filter has a bad size", name);
	void *buf = xmalloc((size_t)st.st_size);
	if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		free(buf);
		return err_set(e, ST_INTERNAL, "policy `%s`: read back filter", name);
	}
	out->insns = buf;
	out->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	return 0;
}

/* ---- a denied call ----------------------------------------------------------
 * Every filter's default action is SECCOMP_RET_TRAP, not KILL_PROCESS, so
 * that the operator learns which call a process lacked: the kernel does not
 * execute the call, and forces SIGSYS on the calling thread with the call's
 * number and architecture in siginfo.  A process confined with a reporting
 * filter has this handler (installed by trusted code before the filter is
 * loaded): it writes those two numbers to its report fd, whose reader (the
 * spawner) keeps the other end, and then makes the one call every filter
 * kills, rt_sigaction(SIGSYS): the process dies of SIGSYS, as with
 * KILL_PROCESS, all its threads with it.
 *
 * Why TRAP grants nothing KILL_PROCESS did not:
 * - the denied call is never executed, under either action;
 * - the process cannot keep running past a denied call: it cannot install
 *   a handler of its own or ignore SIGSYS (rt_sigaction of SIGSYS kills,
 *   below); when SIGSYS is blocked, or a second denied call comes while the
 *   handler runs (SIGSYS is blocked in it), the kernel resets SIGSYS to its
 *   default action and unblocks it (force_sig_seccomp), which kills; a
 *   process without the handler (the broker, the import parser, the
 *   feeder) gets that default action, death by SIGSYS, at once;
 * - even a compromised process that got control of the handler would hold
 *   no more than SECCOMP_RET_ERRNO gives: a failed call;
 * - the only call a reporting filter adds is write(2) to the report fd, a
 *   pipe whose reader only reads eight bytes as untrusted numbers; the
 *   process may write lies there, never more than a pipe's worth.
 * Other architectures' calls (x32, i386) are still killed outright. */

static int denied_fd = -1;

/* si_code of a seccomp trap (asm-generic/siginfo.h; glibc 2.36 names it
 * not). */
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

static void on_denied(int sig, siginfo_t *si, void *uc)
{
	/* Only the kernel's seccomp trap has a call to report; a SIGSYS sent
	 * with kill(2) kills all the same, unreported. */
	if (si->si_code == SYS_SECCOMP) {
		struct policy_denied d = {.nr = si->si_syscall, .arch = si->si_arch};
		ssize_t w = write(denied_fd, &d, sizeof d);
		(void)w;
	}
	/* Killed by every filter (policy_compile): death by SIGSYS. */
	syscall(SYS_rt_sigaction, SIGSYS, NULL, NULL, sizeof(uint64_t));
	_exit(128 + SIGSYS); /* not reached */
}

static int install_denied_handler(int fd, struct err *e)
{
	struct sigaction sa = {.sa_sigaction = on_denied, .sa_flags = SA_SIGINFO};
	sigset_t sys;
	sigfillset(&sa.sa_mask);
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	denied_fd = fd;
	if (sigaction(SIGSYS, &sa, NULL) < 0 || sigprocmask(SIG_UNBLOCK, &sys, NULL) < 0)
		return err_errno(e, ST_INTERNAL, errno, "install the SIGSYS handler");
	return 0;
}

/* An allowed rt_sigaction never covers SIGSYS: libseccomp lets an
 * unconditional rule of a call supersede the call's conditional ones, so
 * the kill of rt_sigaction(SIGSYS) holds only if each allow rule leaves it
 * out (arg0 != SIGSYS).  A rule that names arg0 already is refused unless
 * it names another signal. */
static int sigaction_rule_spares_sigsys(const struct policy *p, struct policy_rule *r, struct err *e)
{
	if (r->nr != SCMP_SYS(rt_sigaction) || r->errnum)
		return 0;
	for (unsigned i = 0; i < r->ncond; i++)
		if (r->cond[i].arg == 0) {
			if (r->cond[i].op == POLICY_EQ && r->cond[i].value != SIGSYS)
				return 0;
			return err_set(e, ST_INVALID_ARGUMENT,
				       "policy `%s.policy` line %d: rt_sigaction may name arg0 only as == a "
				       "signal other than SIGSYS",
				       p->name, r->line);
		}
	if (r->ncond == POLICY_MAX_COND)
		return err_set(e, ST_INVALID_ARGUMENT, "policy `%s.policy` line %d: too many conditions",
			       p->name, r->line);
	r->cond[r->ncond++] = (struct policy_cond){.arg = 0, .op = POLICY_NE, .value = SIGSYS};
	return 0;
}

int policy_compile_reporting(const struct policy *p, int log_denied, int report_fd, struct policy_bpf *out,
			     struct err *e)
{
	memset(out, 0, sizeof *out);
	out->report_fd = -1;
	scmp_filter_ctx ctx = seccomp_init(log_denied ? SCMP_ACT_LOG : SCMP_ACT_TRAP);
	if (!ctx)
		return err_set(e, ST_INTERNAL, "policy `%s`: seccomp_init failed", p->name);
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* No handler of SIGSYS but the one installed before the filter:
	 * rt_sigaction of SIGSYS, even a query, kills (on_denied relies on
	 * it).  With seccomp_log nothing traps, and nothing is killed. */
	if (rc == 0 && !log_denied)
		rc = seccomp_rule_add_exact(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(rt_sigaction), 1,
					    SCMP_A0(SCMP_CMP_EQ, SIGSYS, 0));
	/* The report of a denied call (on_denied): a write to the report fd,
	 * a pipe only the spawner reads. */
	if (rc == 0 && report_fd >= 0)
		rc = seccomp_rule_add_exact(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
					    SCMP_A0(SCMP_CMP_EQ, (uint64_t)report_fd, 0));
	if (rc < 0) {
		seccomp_release(ctx);
		return err_errno(e, ST_INTERNAL, -rc, "policy `%s`: seccomp attribute or rule", p->name);
	}
	for (size_t i = 0; i < p->nrules; i++) {
		struct policy_rule r = p->rules[i];
		if (!log_denied && sigaction_rule_spares_sigsys(p, &r, e) < 0) {
			seccomp_release(ctx);
			return -1;
		}
		if (add_seccomp_rule(ctx, p, &r, e) < 0) {
			seccomp_release(ctx);
			return -1;
		}
	}
	rc = export_bpf(ctx, p->name, out, e);
	seccomp_release(ctx);
	if (rc == 0)
		out->report_fd = report_fd;
	return rc;
}

int policy_compile(const struct policy *p, int log_denied, struct policy_bpf *out, struct err *e)
{
	return policy_compile_reporting(p, log_denied, -1, out, e);
}

const char *policy_syscall_name(int nr, uint32_t arch, char *buf, size_t len)
{
	char *name = seccomp_syscall_resolve_num_arch(arch, nr);
	snprintf(buf, len, "%s", name ? name : "?");
	free(name);
	return buf;
}

void policy_bpf_free(struct policy_bpf *b)
{
	free(b->insns);
	b->insns = NULL;
	b->len = 0;
}

int policy_apply_caps(const struct policy *p, struct err *e)
{
	capng_clear(CAPNG_SELECT_BOTH);
	for (size_t i = 0; i < p->ncaps; i++)
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
				 (unsigned)p->caps[i]) < 0)
			return err_set(e, ST_INTERNAL, "policy `%s`: capng_update", p->name);
	if (capng_apply(CAPNG_SELECT_BOTH) < 0)
		return err_set(e, ST_INTERNAL, "policy `%s`: cannot apply capabilities", p->name);
	/* Ambient capabilities would survive an exec; there must be none. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return err_errno(e, ST_INTERNAL, errno, "policy `%s`: clear ambient capabilities", p->name);
	return 0;
}

int policy_load_bpf(const struct policy_bpf *b, struct err *e)
{
	struct sock_fprog prog = {.len = b->len, .filter = b->insns};
	if (b->report_fd >= 0 && install_denied_handler(b->report_fd, e) < 0)
		return -1;
	/* TSYNC: every thread of the process gets the filter (the broker's
	 * metadata committer starts before it), or none does and this fails. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
		return err_errno(e, ST_INTERNAL, errno, "seccomp(SET_MODE_FILTER)");
	return 0;
}

int policy_enter(const struct policy *p, const struct policy_bpf *b, struct err *e)
{
	if (policy_apply_caps(p, e) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_errno(e, ST_INTERNAL, errno, "prctl(NO_NEW_PRIVS)");
	return policy_load_bpf(b, e);
}

int policy_confine_self(const char *role, int log_denied, struct err *e)
{
	struct policy *p = policy_for_role(role, e);
	if (!p)
		return -1;
	struct policy_bpf b;
	int rc = policy_compile(p, log_denied, &b, e);
	policy_free(p);
	if (rc < 0)
		return -1;
	rc = policy_load_bpf(&b, e);
	policy_bpf_free(&b);
	return rc;
}
