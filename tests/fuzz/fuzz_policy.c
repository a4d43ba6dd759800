/* libFuzzer target over the policy language (policy/README.md): text
 * through policy_parse() (policy/policy.c) and, once parsed, compiled into
 * a seccomp filter as every confined process does before it loads it.  The
 * policies are strata's own files, embedded at build time; the target
 * holds the parser to its promise that anything else is refused with the
 * line named.
 * Input: the text of one policy. */
#include <string.h>

#include "common/util.h"
#include "fuzz.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cleanup_free char *text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct err e = {0};
	struct policy *p = policy_parse("fuzz", text, &e);
	if (!p) {
		fuzz_check_refusal("policy_parse", &e);
		return 0;
	}
	if (p->ncaps > POLICY_MAX_CAPS || !p->has_caps_line)
		fuzz_fail("a policy of %zu capabilities passed", p->ncaps);
	for (size_t i = 0; i < p->nrules; i++) {
		const struct policy_rule *r = &p->rules[i];
		if (r->nr < 0 || r->ncond > POLICY_MAX_COND || r->errnum < 0 || r->errnum > 4095)
			fuzz_fail("rule %zu (line %d) passed with syscall %d, %u conditions, errno %d", i,
				  r->line, r->nr, r->ncond, r->errnum);
		for (unsigned k = 0; k < r->ncond; k++)
			if (r->cond[k].arg > 5 || r->cond[k].op < POLICY_EQ ||
			    r->cond[k].op > POLICY_MASKED_EQ)
				fuzz_fail("rule %zu (line %d) passed with a bad condition", i, r->line);
		policy_mentions(p, r->nr);
	}
	/* Few rules compile quickly; the compiler is libseccomp's. */
	if (p->nrules <= 64) {
		struct policy_bpf b;
		if (policy_compile(p, 0, &b, &e) < 0)
			fuzz_check_refusal("policy_compile", &e);
		policy_bpf_free(&b);
	}
	policy_free(p);
	return 0;
}
