/* broker/ere.c against glibc's regcomp and regexec (REG_EXTENDED |
 * REG_NOSUB, C locale), which the broker used before: the same patterns
 * compile, and each matches the same subjects; on random patterns and
 * subjects too.  The differences are the intended ones: back-references
 * and programs past ERE_MAX_PROGRAM are refused.  And the patterns that
 * made glibc take minutes or the host's memory take milliseconds. */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/ere.h"
#include "common/util.h"
#include "run_suite.h"

/* 1 compiled and matched, 0 compiled and did not, -1 refused. */
static int glibc_match(const char *pattern, const char *subject)
{
	regex_t re;
	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return -1;
	int m = regexec(&re, subject, 0, NULL, 0) == 0;
	regfree(&re);
	return m;
}

static int ere_result(const char *pattern, const char *subject)
{
	char why[128];
	struct ere *re = ere_compile(pattern, why, sizeof why);
	if (!re)
		return -1;
	uint64_t steps = UINT64_MAX;
	int m = ere_match(re, subject, strlen(subject), &steps);
	ere_free(re);
	return m;
}

/* Patterns at the corners of glibc's syntax: each compiles, or is refused,
 * exactly as glibc does. */
static const char *const corners[] = {
    "",
    "()",
    "a|",
    "|a",
    "a||b",
    "(|a)",
    "*a",
    "a**",
    "a*+",
    "a+?",
    "^*",
    "$*",
    "a{",
    "a{x}",
    "a{1",
    "a{1,",
    "a{,2}",
    "a{2,1}",
    "a{1}{2}",
    "{1}",
    "a|*b",
    "(*a)",
    "a)",
    ")",
    "(a",
    "\\",
    "a\\",
    "\\1",
    "\\n",
    "\\.",
    "[",
    "[]",
    "[]a]",
    "[^]a]",
    "[a-]",
    "[-a]",
    "[z-a]",
    "[[:alpha:]]",
    "[[:foo:]]",
    "[[.a.]]",
    "[[.space.]]",
    "[[=a=]]",
    "[[.a.]-z]",
    "[a-[.z.]]",
    "[[:alpha:]-z]",
    "[\\]",
    "a{32768}",
    "a{0}",
    "a{0,0}",
    "\\w\\W\\s\\S\\b\\B\\<\\>",
    "\\`a",
    "a\\'",
    "[a",
    "x{1,2}{3}",
    "a{1,2,3}",
    "a{ 1}",
    "[[:alpha:",
    "[[.",
    "[[=a",
    "[[.ab.]]",
    "[a-a]",
    "(^a)",
    "a^b",
    "a$b",
    "\\(",
    "\\{",
    "a\\{1\\}",
    ".*",
    "\\x41",
    "\\d",
    "[[:space:][:digit:]]",
    "[--/]",
    "[%--]",
    "[a-c-e]",
    "{",
    "a|{",
    "(){1}",
    "a{,}",
    "\\b*",
    "\\<*",
    "\\w*",
    "\\0",
    "\\`*",
    "a\\{",
    "[[=a=]-z]",
    "[a-[=z=]]",
    "[[.-.]]",
    "[[.-.]-z]",
    "[]-a]",
    "[^-a]",
    "[a-z-]",
    "[[.].]]",
    "[[=]=]]",
    "[[:alpha:]",
    "(a|)+",
    "(a*)*",
    "(^)*",
    "($)+",
    "(\\b)*",
    "a{1}*",
    "a*{2}",
    "()*",
    "^+",
    "a|+",
    "[[:ALPHA:]]",
    "[[:alpha:]x]",
    "[[:]",
    "[[=",
    "[[.]",
    "[[:a]",
    "a{01}",
    "a{1,01}",
    "a{1 }",
    "\\{1",
    "[[.^.]]",
    "[^^]",
    "[\\\\]",
    "a{}",
    "a{,1",
    "a]",
    "[a]]",
    "[a-]]",
    "[[:alpha:]-]",
    "[a-[:alpha:]]",
    "(",
    "(()",
    "())",
    "a{1}{",
    "[a-\\]",
    "\\[",
    "[[]",
    "[[a]",
    "[[.a",
    "[]-]",
    "[^]",
    "[^]]",
    "[]]",
    "[]-z]",
    "[!--]",
};

/* Subjects for the corner patterns and the random ones. */
static const char *const subjects[] = {
    "",	   "a",	  "b",	 "ab",	"ba", "aab",  "a b",  "_a",   "a_b",  " ", "-",
    "a-b", "abc", "zz",	 "a.b", "A",  "a\nb", "a)",   "]",    "\\",   "{", "x{1}",
    "^",   "$",	  "a^b", "a$b", "0",  "9z",   "\x01", "\xe9", "aaaa", "n", "[",
};

START_TEST(corners_compile_and_match_as_glibc)
{
	for (size_t i = 0; i < ARRAY_SIZE(corners); i++)
		for (size_t j = 0; j < ARRAY_SIZE(subjects); j++) {
			int want = glibc_match(corners[i], subjects[j]),
			    got = ere_result(corners[i], subjects[j]);
			ck_assert_msg(got == want, "pattern `%s` on `%s`: glibc %d, ere %d", corners[i],
				      subjects[j], want, got);
		}
}
END_TEST

/* ---- random patterns ---- */

static unsigned seed = 1;

static unsigned rnd(unsigned n)
{
	seed = seed * 1103515245u + 12345u;
	return (seed >> 16) % n;
}

static int has_assertion(const char *p)
{
	for (; *p; p++)
		if (*p == '^' || *p == '$' || (p[0] == '\\' && p[1] && strchr("bB<>`'", p[1])))
			return 1;
	return 0;
}

static void gen(char *out, size_t cap, int depth)
{
	static const char *const atoms[] = {
	    "a",
	    "b",
	    "_",
	    " ",
	    "-",
	    ".",
	    "[ab]",
	    "[^a]",
	    "[a-c]",
	    "[[:alpha:]]",
	    "[[:space:]_]",
	    "\\w",
	    "\\W",
	    "\\s",
	    "\\S",
	    "\\b",
	    "\\B",
	    "\\<",
	    "\\>",
	    "\\`",
	    "\\'",
	    "^",
	    "$",
	    "()",
	    "[]a]",
	    "[[.-.]]",
	    "\\.",
	};
	static const char *const quants[] = {"*", "+", "?", "{2}", "{0,2}", "{1,}", "{,1}", "{0}", "{2,3}"};
	size_t n = strlen(out);
	if (n + 40 > cap)
		return;
	unsigned k = depth > 3 ? rnd(3) : rnd(8);
	if (k < 3) {
		const char *a = atoms[rnd(ARRAY_SIZE(atoms))];
		strcat(out, a);
		/* glibc refuses a repeated anchor or assertion: so does ere,
		 * which the corner cases check; here, only repeatable atoms. */
		if (rnd(3) == 0 && !strchr("^$", a[0]) && !(a[0] == '\\' && strchr("bB<>`'", a[1])))
			strcat(out, quants[rnd(ARRAY_SIZE(quants))]);
	} else if (k < 5) {
		gen(out, cap, depth + 1);
		gen(out, cap, depth + 1);
	} else if (k < 6) {
		gen(out, cap, depth + 1);
		strcat(out, "|");
		gen(out, cap, depth + 1);
	} else {
		strcat(out, "(");
		gen(out, cap, depth + 1);
		strcat(out, ")");
		/* glibc drops the assertions in the copies it makes of a group
		 * for + and {m,n} (assertions_in_copies_hold): such a group is
		 * only repeated with * or ? here. */
		if (rnd(2))
			strcat(out, has_assertion(out + n) ? (rnd(2) ? "*" : "?")
							   : quants[rnd(ARRAY_SIZE(quants))]);
	}
}

START_TEST(random_patterns_match_as_glibc)
{
	static const char alphabet[] = "ab_ -x.\t";
	seed = 1;
	for (int i = 0; i < 3000; i++) {
		char pattern[512] = "";
		gen(pattern, sizeof pattern, 0);
		for (int j = 0; j < 20; j++) {
			char subject[16];
			size_t len = rnd(sizeof subject);
			for (size_t k = 0; k < len; k++)
				subject[k] = alphabet[rnd(sizeof alphabet - 1)];
			subject[len] = '\0';
			int want = glibc_match(pattern, subject), got = ere_result(pattern, subject);
			ck_assert_msg(got == want, "pattern `%s` on `%s`: glibc %d, ere %d", pattern, subject,
				      want, got);
		}
	}
}
END_TEST

/* glibc copies a group for + and {m,n} and drops the assertions of the
 * copies: `^(^.){2}$` matches "ab" there; and it lets `$` pass before a
 * newline (without REG_NEWLINE) when what follows could take it: `a$.`
 * matches "a\nx".  Here every copy keeps its assertions, and `$` is the
 * subject's end only, as POSIX has it.  (So the random subjects above hold
 * no newline.) */
START_TEST(assertions_in_copies_hold)
{
	static const struct {
		const char *pattern, *subject;
		int want;
	} cases[] = {
	    {"^(^.){2}$", "ab", 0},    {"(\\<.){2}", "ab", 0}, {"(\\<a){2}", "aa", 0},
	    {"(.$){2}", "ab", 0},      {"(\\<.)+$", "ab", 0},  {"(\\`.){2}", "ab", 0},
	    {"(\\<a ?){2}", "a a", 1}, {"(a\\>){2}", "aa", 0}, {"a$.", "a\nx", 0},
	    {"^(.$).*", "\n\nx", 0},   {"a$", "a\n", 0},       {"^\n$", "\n", 1},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		ck_assert_msg(ere_result(cases[i].pattern, cases[i].subject) == cases[i].want, "`%s` on `%s`",
			      cases[i].pattern, cases[i].subject);
}
END_TEST

/* ---- what ere refuses and glibc does not ---- */

START_TEST(back_references_and_huge_programs_are_refused)
{
	char why[128];
	ck_assert_ptr_null(ere_compile("(a)\\1", why, sizeof why));
	ck_assert_str_eq(why, "Back-references are not supported");
	ck_assert_ptr_null(ere_compile("(a{0,32767}){0,32767}", why, sizeof why));
	ck_assert_str_eq(why, "Regular expression too big");
	ck_assert_ptr_null(ere_compile("a{32767}", why, sizeof why));
	char deep[2 * ERE_MAX_NESTING + 8];
	memset(deep, '(', ERE_MAX_NESTING + 1);
	memset(deep + ERE_MAX_NESTING + 1, ')', ERE_MAX_NESTING + 1);
	deep[2 * ERE_MAX_NESTING + 2] = '\0';
	ck_assert_ptr_null(ere_compile(deep, why, sizeof why));
	ck_assert_str_eq(why, "Regular expression nests too deeply");
	struct ere *re = ere_compile(deep + 1, why, sizeof why);
	ck_assert_ptr_nonnull(re);
	ere_free(re);
	char stars[ERE_MAX_NESTING + 3] = "a";
	memset(stars + 1, '*', ERE_MAX_NESTING + 1);
	stars[ERE_MAX_NESTING + 2] = '\0';
	ck_assert_ptr_null(ere_compile(stars, why, sizeof why));
	re = ere_compile("a{16383}", why, sizeof why);
	ck_assert_ptr_nonnull(re);
	ck_assert_uint_eq(ere_program_size(re), 16384);
	ere_free(re);
}
END_TEST

/* glibc's DFA needs a state per position of `a` among the last 20 bytes:
 * minutes over these subjects.  The NFA never has more threads than
 * instructions. */
START_TEST(exponential_patterns_run_in_linear_time)
{
	char why[128];
	static const char *const patterns[] = {"^[ab]*a[ab]{20}$", "^(a|b)*a(a|b){20}$", "(a*)*b", "(a|aa)*c",
					       "^(.*.*)*$x"};
	char *subject = xmalloc(4097);
	seed = 7;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < ARRAY_SIZE(patterns); i++) {
		struct ere *re = ere_compile(patterns[i], why, sizeof why);
		ck_assert_msg(re != NULL, "%s: %s", patterns[i], why);
		for (int n = 0; n < 64; n++) {
			for (int k = 0; k < 4096; k++)
				subject[k] = "ab"[rnd(2)];
			subject[4096] = '\0';
			uint64_t steps = UINT64_MAX;
			ck_assert_int_ge(ere_match(re, subject, 4096, &steps), 0);
			/* at most one step per instruction and byte */
			ck_assert_uint_le(UINT64_MAX - steps, (uint64_t)ere_program_size(re) * 4097);
		}
		ere_free(re);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(s < 5, "%.1f s", s);
	free(subject);
}
END_TEST

/* A match stops once it has run the steps it was given. */
START_TEST(steps_bound_a_match)
{
	char why[128];
	struct ere *re = ere_compile("(a|b)*(a|b)*(a|b)*c", why, sizeof why);
	ck_assert_ptr_nonnull(re);
	char subject[1001];
	memset(subject, 'a', 1000);
	subject[1000] = '\0';
	uint64_t steps = UINT64_MAX;
	ck_assert_int_eq(ere_match(re, subject, 1000, &steps), 0);
	uint64_t cost = UINT64_MAX - steps;
	steps = cost;
	ck_assert_int_eq(ere_match(re, subject, 1000, &steps), 0);
	ck_assert_uint_eq(steps, 0);
	steps = cost / 2;
	ck_assert_int_eq(ere_match(re, subject, 1000, &steps), -1);
	ck_assert_uint_eq(steps, 0);
	steps = cost;
	ck_assert_int_eq(ere_match(re, "c", 1, &steps), 1);
	ere_free(re);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ere");
	TCase *tc = tcase_create("ere");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, corners_compile_and_match_as_glibc);
	tcase_add_test(tc, random_patterns_match_as_glibc);
	tcase_add_test(tc, assertions_in_copies_hold);
	tcase_add_test(tc, back_references_and_huge_programs_are_refused);
	tcase_add_test(tc, exponential_patterns_run_in_linear_time);
	tcase_add_test(tc, steps_bound_a_match);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
