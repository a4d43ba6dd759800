/* common/log.c: the text line (RFC 3339 time, role, pid, level, escaped
 * control characters, fields), the journal's priority prefixes, and the
 * JSON line (escapes, invalid UTF-8, a cut line that still parses). */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "run_suite.h"

/* stderr goes to a memfd; captured() reads what was logged since. */
static int out = -1;

static void capture(void)
{
	out = memfd_create("log", 0);
	ck_assert_int_ge(out, 0);
	ck_assert_int_eq(dup2(out, STDERR_FILENO), STDERR_FILENO);
}

static char *captured(void)
{
	static char buf[65536];
	ssize_t n = pread(out, buf, sizeof buf - 1, 0);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	ck_assert_int_eq(ftruncate(out, 0), 0);
	ck_assert_int_eq(lseek(STDERR_FILENO, 0, SEEK_SET), 0);
	return buf;
}

static void assert_matches(const char *s, const char *re)
{
	regex_t r;
	ck_assert_int_eq(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_msg(regexec(&r, s, 0, NULL, 0) == 0, "`%s` does not match `%s`", s, re);
	regfree(&r);
}

START_TEST(text_has_time_role_pid_level)
{
	unsetenv("JOURNAL_STREAM");
	capture();
	log_init("test-log", LOG_INFO_);
	log_info("hello %d", 42);
	log_debug("not at info");
	char *s = captured();
	assert_matches(
	    s, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z test-log\\[[0-9]+\\]: "
	       "info: hello 42\n$");
	log_err("a\nforged line\x01");
	struct log_field f[] = {{"key", "plain/key-1"}, {"other", "has \"quotes\" and\ttab"}};
	log_fields(LOG_WARN_, f, 2, "with fields");
	s = captured();
	ck_assert_ptr_nonnull(strstr(s, ": error: a\\x0aforged line\\x01\n"));
	ck_assert_ptr_nonnull(
	    strstr(s, ": warning: with fields key=plain/key-1 other=\"has \\\"quotes\\\" and\\x09tab\"\n"));
	/* Two events, two lines. */
	ck_assert_ptr_eq(strchr(strchr(s, '\n') + 1, '\n'), s + strlen(s) - 1);
}
END_TEST

START_TEST(journal_gets_priority_prefixes_and_no_time)
{
	capture();
	struct stat st;
	ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
	char js[64];
	snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	log_init("test-log", LOG_DEBUG_);
	log_err("e");
	log_warn("w");
	log_info("i");
	log_debug("d");
	char *s = captured();
	assert_matches(s, "^<3>test-log\\[[0-9]+\\]: error: e\n<4>test-log\\[[0-9]+\\]: warning: w\n"
			  "<6>test-log\\[[0-9]+\\]: info: i\n<7>test-log\\[[0-9]+\\]: debug: d\n$");
	/* Another stream (stderr redirected since): not the journal. */
	snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", js, 1);
	log_init("test-log", LOG_INFO_);
	log_info("i");
	assert_matches(captured(), "^[0-9]{4}-.*Z test-log\\[[0-9]+\\]: info: i\n$");
	unsetenv("JOURNAL_STREAM");
}
END_TEST

START_TEST(json_escapes_every_string)
{
	unsetenv("JOURNAL_STREAM");
	capture();
	log_init("test-log", LOG_INFO_);
	log_set_format(LOG_FORMAT_JSON);
	struct log_field f[] = {{"key", "k\"\\\n\xff\xc3\xa9\xed\xa0\x80\x7f"}, {"status", "NotFound"}};
	log_fields(LOG_INFO_, f, 2, "m\"\\\t\x01\xf0\x9f\x98\x80\xc3");
	char *s = captured();
	assert_matches(s,
		       "^\\{\"time\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z\","
		       "\"level\":\"info\",\"role\":\"test-log\",\"pid\":[0-9]+,");
	/* Valid UTF-8 (é, U+1F600) as it is; a surrogate, a cut sequence and
	 * 0xff as U+FFFD, one per byte. */
	ck_assert_ptr_nonnull(
	    strstr(s, ",\"msg\":\"m\\\"\\\\\\u0009\\u0001\xf0\x9f\x98\x80\\ufffd\","
		      "\"key\":\"k\\\"\\\\\\u000a\\ufffd\xc3\xa9\\ufffd\\ufffd\\ufffd\\u007f\","
		      "\"status\":\"NotFound\"}\n"));
	log_set_format(LOG_FORMAT_TEXT);
}
END_TEST

/* A line longer than the log takes is cut between escapes, its string
 * closed, the fields that no longer fit left out: it still parses. */
START_TEST(json_cut_line_still_parses)
{
	unsetenv("JOURNAL_STREAM");
	capture();
	log_init("test-log", LOG_INFO_);
	log_set_format(LOG_FORMAT_JSON);
	char big[2000];
	memset(big, 1, sizeof big - 1);
	big[sizeof big - 1] = '\0';
	struct log_field f[] = {{"key", "k"}};
	log_fields(LOG_INFO_, f, 1, "%s", big);
	char *s = captured();
	size_t n = strlen(s);
	ck_assert_uint_le(n, 8192);
	ck_assert_str_eq(s + n - 3, "\"}\n");
	char *msg = strstr(s, "\"msg\":\"");
	ck_assert_ptr_nonnull(msg);
	msg += 7;
	size_t len = (size_t)(s + n - 3 - msg);
	ck_assert_uint_eq(len % 6, 0);
	for (size_t i = 0; i < len; i += 6)
		ck_assert_int_eq(memcmp(msg + i, "\\u0001", 6), 0);
	ck_assert_ptr_null(strstr(s, "\"key\""));
	log_set_format(LOG_FORMAT_TEXT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("lines");
	tcase_add_test(tc, text_has_time_role_pid_level);
	tcase_add_test(tc, journal_gets_priority_prefixes_and_no_time);
	tcase_add_test(tc, json_escapes_every_string);
	tcase_add_test(tc, json_cut_line_still_parses);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
