/* Per-role confinement as reviewable text (policy/NAME.policy, embedded in the
 * binary by policy/embed.sh): a capability set and a seccomp allowlist.
 *
 * Language (see policy/README.md):
 *   # comment                      (also after a rule)
 *   caps: CAP_X CAP_Y              (or `caps:` alone: none)
 *   syscall                        allowed with any arguments
 *   syscall: COND [&& COND]... [|| COND [&& COND]...]
 *   COND:  argN == V | argN != V | argN & V == V
 *   V:     number (decimal, 0x hex, 0 octal) or a supported constant
 *          (AF_UNIX, O_RDONLY, F_GETFL, PROT_EXEC, ...), joined with `|`.
 * Unknown syscalls, capabilities and constants are errors naming the line. */
#ifndef STRATA_POLICY_H
#define STRATA_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"

/* The embedded texts (build/gen/policy_text.c), ended by { NULL, NULL }. */
struct policy_text {
	const char *name;
	const char *text;
};
extern const struct policy_text policy_texts[];

#define POLICY_MAX_COND 6
#define POLICY_MAX_CAPS 64

enum policy_op { POLICY_EQ = 1, POLICY_NE = 2, POLICY_MASKED_EQ = 3 };

struct policy_cond {
	unsigned arg;  /* 0..5 */
	int op;	       /* enum policy_op */
	uint64_t mask; /* POLICY_MASKED_EQ */
	uint64_t value;
};

/* One allow rule: the syscall with all conditions true; or, with errnum
 * set (`syscall: errno ENOSYS`), a rule that fails the call with that errno
 * instead of killing (for calls a library tries before a fallback). */
struct policy_rule {
	int nr;
	int line;
	int errnum;
	unsigned ncond;
	struct policy_cond cond[POLICY_MAX_COND];
};

struct policy {
	char *name;
	int caps[POLICY_MAX_CAPS];
	size_t ncaps;
	int has_caps_line;
	struct policy_rule *rules;
	size_t nrules;
};

/* A compiled filter, ready for seccomp(2) in a process that may no longer
 * allocate (a freshly forked worker). */
struct policy_bpf {
	void *insns; /* struct sock_filter[] */
	unsigned short len;
	int report_fd; /* where the process reports a denied call; -1: nowhere */
};

/* What a confined process writes to its report fd, once, when its filter
 * denies a call (policy.c says how and why it is safe).  Written by the
 * confined process itself: the reader treats it as that process's word. */
struct policy_denied {
	int32_t nr;    /* the call's number (siginfo si_syscall) */
	uint32_t arch; /* its AUDIT_ARCH_* (si_arch) */
};

struct policy *policy_parse(const char *name, const char *text, struct err *e);
/* Parses the embedded policy/NAME.policy (`broker`, `import`, or a role's
 * of proto/roles.h). */
struct policy *policy_for_role(const char *role, struct err *e);
const char *policy_text_for_role(const char *role);
void policy_free(struct policy *p);
/* Whether the policy allows the syscall unconditionally or with conditions. */
int policy_mentions(const struct policy *p, int nr);

/* Denied calls trap (or are logged when log_denied), other architectures
 * are killed; a trapped process dies of SIGSYS (policy.c). */
int policy_compile(const struct policy *p, int log_denied, struct policy_bpf *out, struct err *e);
/* The same, for a process that reports its denied call on report_fd (a
 * fixed fd number in the confined process): the filter also allows a
 * write to that fd. */
int policy_compile_reporting(const struct policy *p, int log_denied, int report_fd, struct policy_bpf *out,
			     struct err *e);
void policy_bpf_free(struct policy_bpf *b);

/* Keeps exactly the policy's capabilities (effective, permitted, bounding;
 * inheritable and ambient emptied).  Needs CAP_SETPCAP to shrink the
 * bounding set when anything is dropped from it. */
int policy_apply_caps(const struct policy *p, struct err *e);
/* seccomp(SECCOMP_SET_MODE_FILTER); NO_NEW_PRIVS must be set already.  A
 * reporting filter's SIGSYS handler is installed first. */
int policy_load_bpf(const struct policy_bpf *b, struct err *e);
/* A worker's last confinement step: caps, NO_NEW_PRIVS, filter. */
int policy_enter(const struct policy *p, const struct policy_bpf *b, struct err *e);

/* For the broker: builds and loads the role's filter in the calling process
 * (which has already dropped its capabilities and set NO_NEW_PRIVS). */
int policy_confine_self(const char *role, int log_denied, struct err *e);

/* Syscall number for a name on this architecture, -1 when unknown. */
int policy_syscall_number(const char *name);
/* The name of syscall nr of AUDIT_ARCH_* arch ("?" when unknown), in buf. */
const char *policy_syscall_name(int nr, uint32_t arch, char *buf, size_t len);

#endif
