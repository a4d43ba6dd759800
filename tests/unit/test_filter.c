/* containerd's filter language: what it accepts, what it rejects, and which
 * snapshots each filter selects (semantics of containerd's filters package
 * and snapshotter test suite's checkWalk; cases written for strata). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/filter.h"
#include "broker/meta.h"
#include "common/util.h"

#define GC "containerd.io/gc.root"

/* Labels sorted by key, as meta hands them out. */
static struct label l_gc[] = {{GC, "check-walk"}};
static struct label l_gc1[] = {{GC, "check-walk"}, {"l", "1"}};
static struct label l_gc2[] = {{GC, "check-walk"}, {"l", "2"}};
static struct label l_gc3[] = {{GC, "check-walk"}, {"l", "3"}};
static struct label l_odd[] = {{"a.b", "dot"}, {"q\"uote", "v,1"}, {"sp ace", "with space"}};

static struct snap_info objs[] = {
    {.name = "a-np", .kind = KIND_ACTIVE, .labels = l_gc, .nlabels = 1},
    {.name = "p", .kind = KIND_COMMITTED, .labels = l_gc, .nlabels = 1},
    {.name = "a", .kind = KIND_ACTIVE, .parent = "p", .labels = l_gc, .nlabels = 1},
    {.name = "v", .kind = KIND_VIEW, .parent = "p", .labels = l_gc, .nlabels = 1},
    {.name = "p-wl", .kind = KIND_COMMITTED, .labels = l_gc1, .nlabels = 2},
    {.name = "a-wl", .kind = KIND_ACTIVE, .parent = "p-wl", .labels = l_gc2, .nlabels = 2},
    {.name = "v-wl", .kind = KIND_VIEW, .parent = "p-wl", .labels = l_gc3, .nlabels = 2},
    {.name = "a-np-wl", .kind = KIND_ACTIVE, .labels = l_gc2, .nlabels = 2},
    {.name = "x.y", .kind = KIND_ACTIVE, .labels = l_odd, .nlabels = 3},
    {.name = "odd-kind", .kind = KIND_UNKNOWN},
};
#define NOBJ ((int)ARRAY_SIZE(objs))
#define ALL  ((1u << NOBJ) - 1)
#define B(i) (1u << (i))

struct match_case {
	const char *f[3]; /* up to three filters, OR'ed; unused ones NULL */
	unsigned want;	  /* bit i: objs[i] matches */
};

static const struct match_case match_cases[] = {
    /* checkWalk's cases */
    {{"labels.\"" GC "\"==check-walk"}, ALL & ~B(8) & ~B(9)},
    {{"kind==active,labels.\"" GC "\"==check-walk"}, B(0) | B(2) | B(5) | B(7)},
    {{"kind==view,labels.\"" GC "\"==check-walk"}, B(3) | B(6)},
    {{"kind==committed,labels.\"" GC "\"==check-walk"}, B(1) | B(4)},
    {{"name==p", "name==a-np-wl"}, B(1) | B(7)},
    {{"name==a-wl,labels.l"}, B(5)},
    {{"parent==p"}, B(2) | B(3)},
    {{"parent!=\"\",labels.\"" GC "\"==check-walk"}, B(2) | B(3) | B(5) | B(6)},
    {{"labels.l"}, B(4) | B(5) | B(6) | B(7)},
    {{"labels.l==2"}, B(5) | B(7)},
    /* no filter string, or an empty one, matches everything */
    {{NULL}, ALL},
    {{""}, ALL},
    {{"name==nothing", ""}, ALL},
    /* AND within a string, OR across strings */
    {{"name==p,name==a"}, 0},
    {{"name==p", "name==a", "name==v"}, B(1) | B(2) | B(3)},
    /* != on a missing field compares "" */
    {{"labels.l!=2"}, ALL & ~(B(5) | B(7))},
    {{"labels.l!=\"\""}, B(4) | B(5) | B(6) | B(7)},
    {{"labels.nope!=x"}, ALL},
    /* presence: parent is always present (possibly empty), kind only when known */
    {{"parent"}, ALL},
    {{"parent==\"\""}, B(0) | B(1) | B(4) | B(7) | B(8) | B(9)},
    {{"kind"}, ALL & ~B(9)},
    {{"kind!=active"}, B(1) | B(3) | B(4) | B(6) | B(9)},
    {{"labels.nope"}, 0},
    {{"nosuchfield"}, 0},
    {{"labels"}, 0},
    /* the rest of a labels path is joined with "." */
    {{"labels.a.b==dot"}, B(8)},
    {{"labels.\"a.b\"==dot"}, B(8)},
    {{"labels.\"sp ace\"==\"with space\""}, B(8)},
    {{"labels.\"q\\\"uote\"==\"v,1\""}, B(8)},
    /* name ignores deeper path elements, as containerd's adaptor does */
    {{"name.whatever==p"}, B(1)},
    /* values: dots and other punctuation need no quotes */
    {{"name==x.y"}, B(8)},
    {{"name==a-np-wl"}, B(7)},
    /* quoted values and Go escapes */
    {{"name==\"\\x61\""}, B(2)},
    {{"name==\"\\141\""}, B(2)},
    {{"name==\"\\u0061\""}, B(2)},
    {{"name==\"\\U00000061\""}, B(2)},
    {{"\"name\"==p"}, B(1)},
    /* spaces between tokens, not after the last one */
    {{"name == p"}, B(1)},
    {{"  name==p,  kind == committed"}, B(1)},
    /* regular expressions: unquoted, "...", /.../ and |...| */
    {{"name~=^a"}, B(0) | B(2) | B(5) | B(7)},
    {{"name~=/^a-.*wl$/"}, B(5) | B(7)},
    {{"name~=|^p|"}, B(1) | B(4)},
    {{"name~=\"^v\""}, B(3) | B(6)},
    {{"name~=x\\.y"}, B(8)},
    {{"name~=wl"}, B(4) | B(5) | B(6) | B(7)},
    {{"labels.l~=^$"}, B(0) | B(1) | B(2) | B(3) | B(8) | B(9)},
    {{"labels.l~=[13]"}, B(4) | B(6)},
    /* field names may start with a digit or underscore */
    {{"1abc"}, 0},
    {{"_x!=y"}, ALL},
};

START_TEST(filters_select_like_containerd)
{
	const struct match_case *c = &match_cases[_i];
	size_t n = 0;
	while (n < 3 && c->f[n])
		n++;
	struct filter *f = NULL;
	struct err e = {0};
	if (filter_parse(c->f, n, &f, &e) < 0)
		ck_abort_msg("case %d: `%s`: %s", _i, c->f[0], e.msg);
	unsigned got = 0;
	for (int i = 0; i < NOBJ; i++)
		if (filter_match(f, filter_snapshot_field, &objs[i]))
			got |= B(i);
	filter_free(f);
	ck_assert_msg(got == c->want, "case %d `%s`: matched %#x, want %#x", _i, n ? c->f[0] : "(none)", got,
		      c->want);
}
END_TEST

static const char *const syntax_errors[] = {
    "name=p",		     /* unsupported operator */
    "name===p",		     /* so is a longer run */
    "name=~p",		     /* and the wrong order */
    "name==",		     /* value missing */
    "name==p,",		     /* selector missing after "," */
    ",name==p",		     /* and before it */
    "name==p name",	     /* trailing input */
    "name==p ",		     /* even a trailing space */
    " ",		     /* only space */
    "name.",		     /* field missing after "." */
    "name..x",		     /* twice */
    "na me==p",		     /* operator expected */
    "name==\"p",	     /* unterminated quote */
    "name==\"p\nq\"",	     /* newline inside quotes */
    "name==\"\\q\"",	     /* unknown escape */
    "name==\"\\x6\"",	     /* short hex escape */
    "name==\"\\400\"",	     /* octal escape above 255 */
    "name==\"\\U00110000\"", /* beyond Unicode */
    "name==/p/",	     /* /.../ only after ~= */
    "name==|p|",	     /* so is |...| */
    "labels./x/",	     /* fields quote with "..." only */
    "name~=/a\\.b/",	     /* \. is no escape containerd knows */
    "name==.p",		     /* a value cannot start with a separator */
    "@name",		     /* not a field */
    "name==\xff",	     /* invalid UTF-8 */
    "name==\xef\xbf\xbd",    /* U+FFFD counts as a decoding error */
    "name~=(",		     /* invalid regular expression */
    "name~=/a[/",	     /* also when quoted */
};

START_TEST(syntax_errors_are_invalid_argument)
{
	const char *s = syntax_errors[_i];
	struct filter *f = NULL;
	struct err e = {0};
	ck_assert_msg(filter_parse(&s, 1, &f, &e) == -1, "`%s` parsed", s);
	ck_assert_ptr_null(f);
	ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
	ck_assert_msg(strstr(e.msg, "filters:") != NULL, "`%s`: %s", s, e.msg);
}
END_TEST

START_TEST(errors_name_the_position)
{
	const char *s[] = {"name==p", "kind=active"};
	struct filter *f = NULL;
	struct err e = {0};
	ck_assert_int_eq(filter_parse(s, 2, &f, &e), -1);
	ck_assert_msg(strstr(e.msg, "offset 4") != NULL, "%s", e.msg);
	ck_assert_msg(strstr(e.msg, "[kind >|=|< active]") != NULL, "%s", e.msg);
	ck_assert_msg(strstr(e.msg, "unsupported operator \"=\"") != NULL, "%s", e.msg);
}
END_TEST

/* A NUL written as an escape can never equal a C string field. */
START_TEST(escaped_nul_never_matches)
{
	const char *s[] = {"name==\"p\\x00\"", "labels.\"l\\000\""};
	struct filter *f = NULL;
	struct err e = {0};
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(filter_parse(&s[i], 1, &f, &e), 0);
		for (int j = 0; j < NOBJ; j++)
			ck_assert(!filter_match(f, filter_snapshot_field, &objs[j]));
		filter_free(f);
	}
	const char *re = "name~=\"a\\x00\"";
	ck_assert_int_eq(filter_parse(&re, 1, &f, &e), -1);
	ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
}
END_TEST

static int parses(const char *const *s, size_t n, const char *refusal)
{
	struct filter *f = NULL;
	struct err e = {0};
	int rc = filter_parse(s, n, &f, &e);
	filter_free(f);
	if (rc == 0)
		return 1;
	ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
	ck_assert_msg(!refusal || strstr(e.msg, refusal), "`%s`: %s", s[0], e.msg);
	return 0;
}

/* What a client's expression may make regcomp and regexec do is bounded
 * before regcomp runs: repetitions of repetitions (gigabytes for the first
 * one below), nested groups (regcomp recurses on each, and overflows its
 * stack), back-references (matched by backtracking). */
START_TEST(hostile_expressions_are_refused)
{
	const char *plus = "name~=a++++++++++++++++++++++++++++++++";
	ck_assert(!parses(&plus, 1, "too large"));
	const char *intervals[] = {"name~=(a{100}){100}", "name~=a{99999}",
				   "name~=x{3}{3}{3}{3}{3}{3}{3}{3}"};
	for (size_t i = 0; i < ARRAY_SIZE(intervals); i++)
		ck_assert(!parses(&intervals[i], 1, "too large"));
	size_t depth = 20000;
	char *deep = xmalloc(2 * depth + 8);
	strcpy(deep, "name~=");
	memset(deep + 6, '(', depth);
	deep[6 + depth] = 'a';
	memset(deep + 7 + depth, ')', depth);
	deep[7 + 2 * depth] = '\0';
	ck_assert(!parses((const char *const *)&deep, 1, "too deep"));
	free(deep);
	const char *backref = "name~=(a*)*\\1";
	ck_assert(!parses(&backref, 1, "back-reference"));

	/* Expressions people write pass, a digit escaped in a bracket too. */
	const char *fine[] = {"name~=^(sha256:)?[0-9a-f]{64}$", "name~=[\\1]x|^k8s\\.io/[^/]+/.*(a|b)?$",
			      "labels.\"a\"~=/[[:alpha:]]]{2,3}/", "name~=\"x{2,}y{,3}z{4}\""};
	for (size_t i = 0; i < ARRAY_SIZE(fine); i++)
		ck_assert_msg(parses(&fine[i], 1, NULL), "`%s` refused", fine[i]);
	/* The bound is one for all the expressions of a filter. */
	const char *two[] = {"name~=a{2000}", "parent~=b{2000}", "labels.x~=c{2000}"};
	ck_assert(parses(two, 2, NULL));
	ck_assert(!parses(two, 3, "too large"));
}
END_TEST

START_TEST(null_filter_matches_everything)
{
	ck_assert(filter_match(NULL, filter_snapshot_field, &objs[0]));
	filter_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("filter");
	TCase *tc = tcase_create("filter");
	tcase_add_loop_test(tc, filters_select_like_containerd, 0, (int)ARRAY_SIZE(match_cases));
	tcase_add_loop_test(tc, syntax_errors_are_invalid_argument, 0, (int)ARRAY_SIZE(syntax_errors));
	tcase_add_test(tc, errors_name_the_position);
	tcase_add_test(tc, escaped_nul_never_matches);
	tcase_add_test(tc, hostile_expressions_are_refused);
	tcase_add_test(tc, null_filter_matches_everything);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
