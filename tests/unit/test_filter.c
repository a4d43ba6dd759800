/* containerd's filter language: what it accepts, what it rejects, and which
 * snapshots each filter selects (semantics of containerd's filters package
 * and snapshotter test suite's checkWalk; cases written for strata). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/ere.h"
#include "broker/filter.h"
#include "broker/meta.h"
#include "common/util.h"
#include "run_suite.h"

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

/* The regular expressions of one filter are bounded: their programs, in
 * all and each ... */
START_TEST(regular_expressions_are_bounded_in_all)
{
	char *s[5];
	struct filter *f = NULL;
	struct err e = {0};
	for (int i = 0; i < 5; i++)
		s[i] = xasprintf("name~=a{%d}", ERE_MAX_PROGRAM - 1);
	ck_assert_int_eq(filter_parse((const char *const *)s, 4, &f, &e), 0);
	filter_free(f);
	ck_assert_int_eq(filter_parse((const char *const *)s, 5, &f, &e), -1);
	ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
	ck_assert_msg(strstr(e.msg, "more than 65536 instructions") != NULL, "%s", e.msg);
	for (int i = 0; i < 5; i++)
		free(s[i]);
	/* one (20 bytes that glibc expanded until memory ran out), and a
	 * back-reference */
	const char *one[] = {"name~=/(a{0,32767}){0,32767}/", "name~=(a)\\1"};
	const char *why[] = {"Regular expression too big", "Back-references are not supported"};
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(filter_parse(&one[i], 1, &f, &e), -1);
		ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
		ck_assert_msg(strstr(e.msg, why[i]) != NULL, "%s", e.msg);
	}
}
END_TEST

/* ... and what they run over the objects they are matched against: past
 * FILTER_STEPS, filter_match says -1, and goes on saying it. */
START_TEST(regular_expressions_run_a_bounded_number_of_steps)
{
	char *pattern = xmalloc(8 * 1024 + 16), *name = xmalloc(4097);
	strcpy(pattern, "name~=/");
	for (int i = 0; i < 4000; i++)
		strcat(pattern, ".*");
	strcat(pattern, "x/");
	memset(name, 'a', 4096);
	name[4096] = '\0';
	struct snap_info big = {.name = name, .kind = KIND_ACTIVE};
	struct filter *f = NULL;
	struct err e = {0};
	const char *p = pattern;
	ck_assert_msg(filter_parse(&p, 1, &f, &e) == 0, "%s", e.msg);
	/* each match runs its 12002 instructions at each of 4097 places:
	 * two fit in the steps, the third does not */
	int i = 0, m;
	while ((m = filter_match(f, filter_snapshot_field, &big)) == 0)
		i++;
	ck_assert_int_eq(m, -1);
	ck_assert_int_eq(i, 2);
	ck_assert_int_eq(filter_match(f, filter_snapshot_field, &objs[0]), -1);
	filter_free(f);
	free(pattern);
	free(name);
}
END_TEST

/* Plain selectors cost steps too: a conjunction of 20001 of them is
 * bounded as an expression is. */
START_TEST(plain_selectors_run_a_bounded_number_of_steps)
{
	size_t one = strlen("labels.\"strata.test/mod\"!=\"9\",");
	char *conj = xmalloc(20001 * one + 1);
	for (int i = 0; i < 20001; i++)
		memcpy(conj + i * one, "labels.\"strata.test/mod\"!=\"9\",", one);
	conj[20001 * one - 1] = '\0';
	struct label l = {"strata.test/mod", "3"};
	struct snap_info s = {.name = "m", .kind = KIND_ACTIVE, .labels = &l, .nlabels = 1};
	struct filter *f = NULL;
	struct err e = {0};
	const char *p = conj;
	ck_assert_msg(filter_parse(&p, 1, &f, &e) == 0, "%s", e.msg);
	/* each selector costs 6 steps (5, and 1 for a path of 23 bytes): a
	 * match of all 20001 costs 120006, and 833 of them fit in 10^8 */
	int i = 0, m;
	while ((m = filter_match(f, filter_snapshot_field, &s)) == 1)
		i++;
	ck_assert_int_eq(m, -1);
	ck_assert_int_eq(i, 833);
	ck_assert_int_eq(filter_match(f, filter_snapshot_field, &s), -1);
	filter_free(f);
	free(conj);
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
	/* the bounded-steps cases run a second of matching, several under ASan */
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, filters_select_like_containerd, 0, (int)ARRAY_SIZE(match_cases));
	tcase_add_loop_test(tc, syntax_errors_are_invalid_argument, 0, (int)ARRAY_SIZE(syntax_errors));
	tcase_add_test(tc, errors_name_the_position);
	tcase_add_test(tc, escaped_nul_never_matches);
	tcase_add_test(tc, null_filter_matches_everything);
	tcase_add_test(tc, regular_expressions_are_bounded_in_all);
	tcase_add_test(tc, regular_expressions_run_a_bounded_number_of_steps);
	tcase_add_test(tc, plain_selectors_run_a_bounded_number_of_steps);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
