/* worker/content.c: the parent's writes into the content directory (the
 * diff service's Diff): names are checked, an ingest is created with
 * containerd's files, committed by digest only when its size is right, never
 * replacing a blob, and removed on abort. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "worker/content.h"

static char root[] = "/tmp/strata-test-content-XXXXXX";
static const char *NAME = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
static const char *DIGEST = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

static void setup(void)
{
	strcpy(root, "/tmp/strata-test-content-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
}

static int exists(const char *rel)
{
	char p[256];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", root, rel);
	return lstat(p, &st) == 0;
}

static int write_ingest(const char *data)
{
	struct err e = {0};
	int fd = content_ingest_open(root, NAME, "my-ref", 1, &e);
	ck_assert_msg(fd >= 0, "%s", e.msg);
	ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
	return 0;
}

START_TEST(hex_names)
{
	ck_assert(content_hex_valid(NAME));
	ck_assert(!content_hex_valid("00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff"));
	ck_assert(!content_hex_valid("../../../etc/passwd"));
	char longer[66];
	memset(longer, 'a', 65);
	longer[65] = 0;
	ck_assert(!content_hex_valid(longer));
	ck_assert(!content_hex_valid("abc"));
}
END_TEST

START_TEST(ingest_then_commit)
{
	struct err e = {0};
	write_ingest("layer bytes");
	char rel[128];
	for (const char *f = "data ref startedat updatedat"; *f;) {
		size_t n = strcspn(f, " ");
		snprintf(rel, sizeof rel, "ingest/%s/%.*s", NAME, (int)n, f);
		ck_assert_msg(exists(rel), "missing %s", rel);
		f += n + (f[n] == ' ');
	}
	/* read back, read-only */
	int rfd = content_ingest_open(root, NAME, "", 0, &e);
	ck_assert_int_ge(rfd, 0);
	char buf[32] = {0};
	ck_assert_int_eq(read(rfd, buf, sizeof buf), 11);
	ck_assert_int_eq(write(rfd, "x", 1), -1);
	close(rfd);
	/* the wrong size is refused and the ingest kept */
	ck_assert_int_eq(content_ingest_commit(root, NAME, DIGEST, 12, &e), -1);
	ck_assert_int_eq(e.code, ST_FAILED_PRECONDITION);
	snprintf(rel, sizeof rel, "ingest/%s/data", NAME);
	ck_assert(exists(rel));
	ck_assert_int_eq(content_ingest_commit(root, NAME, DIGEST, 11, &e), 0);
	snprintf(rel, sizeof rel, "blobs/sha256/%s", DIGEST);
	ck_assert(exists(rel));
	snprintf(rel, sizeof rel, "ingest/%s", NAME);
	ck_assert(!exists(rel));
	uint64_t size = 0;
	int fd = content_open_blob(root, DIGEST, &size, &e);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_eq(size, 11);
	close(fd);
}
END_TEST

START_TEST(existing_blob_is_never_replaced)
{
	struct err e = {0};
	write_ingest("first");
	ck_assert_int_eq(content_ingest_commit(root, NAME, DIGEST, 5, &e), 0);
	write_ingest("other");
	ck_assert_int_eq(content_ingest_commit(root, NAME, DIGEST, 5, &e), -1);
	ck_assert_int_eq(e.code, ST_ALREADY_EXISTS);
	uint64_t size;
	int fd = content_open_blob(root, DIGEST, &size, &e);
	char buf[8] = {0};
	ck_assert_int_eq(read(fd, buf, sizeof buf), 5);
	ck_assert_str_eq(buf, "first");
	close(fd);
	char rel[128];
	snprintf(rel, sizeof rel, "ingest/%s", NAME);
	ck_assert(!exists(rel));
}
END_TEST

START_TEST(busy_ref_and_abort)
{
	struct err e = {0};
	write_ingest("partial");
	ck_assert_int_eq(content_ingest_open(root, NAME, "my-ref", 1, &e), -1);
	ck_assert_int_eq(e.code, ST_UNAVAILABLE);
	ck_assert_int_eq(content_ingest_abort(root, NAME, &e), 0);
	char rel[128];
	snprintf(rel, sizeof rel, "ingest/%s", NAME);
	ck_assert(!exists(rel));
	ck_assert_int_eq(content_ingest_abort(root, NAME, &e), 0);
	ck_assert_int_eq(content_ingest_commit(root, NAME, DIGEST, 0, &e), -1);
	ck_assert_int_eq(e.code, ST_NOT_FOUND);
}
END_TEST

START_TEST(symlinked_blob_is_refused)
{
	struct err e = {0};
	char p[256];
	snprintf(p, sizeof p, "%s/blobs", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/blobs/sha256", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/blobs/sha256/%s", root, DIGEST);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	uint64_t size;
	ck_assert_int_eq(content_open_blob(root, DIGEST, &size, &e), -1);
	/* and a symlinked ingest directory is not followed */
	snprintf(p, sizeof p, "%s/ingest", root);
	ck_assert_int_eq(symlink("/tmp", p), 0);
	ck_assert_int_eq(content_ingest_open(root, NAME, "r", 1, &e), -1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("content");
	TCase *t = tcase_create("content");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, hex_names);
	tcase_add_test(t, ingest_then_commit);
	tcase_add_test(t, existing_blob_is_never_replaced);
	tcase_add_test(t, busy_ref_and_abort);
	tcase_add_test(t, symlinked_blob_is_refused);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
