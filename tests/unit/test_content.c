/* parent/content.c and parent/publish.c: the root side's writes into the
 * content directory (the diff service's Diff).  Names are checked; an ingest
 * is created with containerd's files; a blob is published only when the
 * bytes the publisher hashed have the digest and size asked for, from a copy
 * the data file's writers cannot reach (a write through the data fd after
 * publishing changes nothing), never replacing a blob; a FIFO as data does
 * not block; abort removes the ingest; the parent's table of its own
 * ingests is exact and bounded. */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sys/wait.h>

#include "common/hex.h"
#include "common/sha256.h"
#include "policy/policy.h"
#include "parent/content.h"
#include "parent/publish.h"
#include "run_suite.h"

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

/* A new ingest holding data; returns its writable data fd, still open. */
static int write_ingest(const char *data)
{
	struct err e = {0};
	int fd = content_ingest_open(root, NAME, "my-ref", &e);
	ck_assert_msg(fd >= 0, "%s", e.msg);
	ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	return fd;
}

/* The hex sha256 of text. */
static void hex_of(const char *text, char out[65])
{
	unsigned char h[32];
	sha256(text, strlen(text), h);
	hex_encode(h, sizeof h, out);
}

/* publish_open and publish_finish, as the spawner's publisher runs them
 * (without its confinement).  Returns publish_finish's result. */
static int publish(const char *digest, uint64_t size, struct err *e)
{
	struct publish p;
	unsigned char got[32];
	uint64_t got_size;
	if (publish_open(&p, root, NAME, digest, size, e) < 0)
		return -2;
	int rc = publish_finish(&p, got, &got_size, e);
	publish_close(&p);
	return rc;
}

/* The content of blobs/sha256/HEX, or "" when it cannot be read. */
static const char *blob_text(const char *hex)
{
	static char buf[64];
	char p[256];
	snprintf(p, sizeof p, "%s/blobs/sha256/%s", root, hex);
	memset(buf, 0, sizeof buf);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ck_assert_int_ge(read(fd, buf, sizeof buf - 1), 0);
		close(fd);
	}
	return buf;
}

/* Names become paths: the publisher takes only 64 lowercase hex digits
 * (common/hex.c, tested in test_sha256.c), even for an ingest that exists. */
START_TEST(publish_refuses_malformed_names)
{
	struct err e = {0};
	struct publish p;
	char hex[65], upper[65], upper_name[65];
	close(write_ingest("layer bytes"));
	for (int i = 0; i < 65; i++)
		upper_name[i] = (char)toupper((unsigned char)NAME[i]);
	int fd = content_ingest_open(root, upper_name, "other-ref", &e);
	ck_assert_msg(fd >= 0, "%s", e.msg);
	ck_assert_int_eq(write(fd, "layer bytes", 11), 11);
	close(fd);
	hex_of("layer bytes", hex);
	ck_assert_int_eq(publish_open(&p, root, upper_name, hex, 11, &e), -1);
	ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
	for (int i = 0; i < 65; i++)
		upper[i] = (char)toupper((unsigned char)hex[i]);
	ck_assert_int_eq(publish(upper, 11, &e), -2);
	ck_assert_int_eq(publish("abc", 11, &e), -2);
	/* the same ingest and digest, well formed, publish */
	ck_assert_msg(publish(hex, 11, &e) == 0, "%s", e.msg);
}
END_TEST

START_TEST(ingest_has_containerds_files)
{
	struct err e = {0};
	close(write_ingest("layer bytes"));
	char rel[128];
	for (const char *f = "data ref startedat updatedat"; *f;) {
		size_t n = strcspn(f, " ");
		snprintf(rel, sizeof rel, "ingest/%s/%.*s", NAME, (int)n, f);
		ck_assert_msg(exists(rel), "missing %s", rel);
		f += n + (f[n] == ' ');
	}
	/* A second open of the same ref: it is being written. */
	ck_assert_int_eq(content_ingest_open(root, NAME, "my-ref", &e), -1);
	ck_assert_int_eq(e.code, ST_UNAVAILABLE);
}
END_TEST

START_TEST(a_wrong_digest_or_size_is_not_published)
{
	struct err e = {0};
	char right[65], rel[160];
	hex_of("layer bytes", right);
	close(write_ingest("layer bytes"));
	ck_assert_int_eq(publish(DIGEST, 11, &e), -1);
	ck_assert_int_eq(e.code, ST_FAILED_PRECONDITION);
	ck_assert_msg(strstr(e.msg, right) != NULL, "%s", e.msg);
	snprintf(rel, sizeof rel, "blobs/sha256/%s", DIGEST);
	ck_assert(!exists(rel));
	ck_assert_int_eq(publish(right, 12, &e), -1);
	ck_assert_int_eq(e.code, ST_FAILED_PRECONDITION);
	snprintf(rel, sizeof rel, "blobs/sha256/%s", right);
	ck_assert(!exists(rel));
	/* The copy goes with a refusal. */
	snprintf(rel, sizeof rel, "ingest/%s/%s", NAME, CONTENT_PUBLISH_COPY);
	ck_assert(!exists(rel));
}
END_TEST

START_TEST(a_write_after_publishing_does_not_change_the_blob)
{
	struct err e = {0};
	char hex[65], p[256];
	hex_of("layer bytes", hex);
	int fd = write_ingest("layer bytes");
	ck_assert_msg(publish(hex, 11, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(blob_text(hex), "layer bytes");
	/* Whoever held the data file's fd writes on. */
	ck_assert_int_eq(pwrite(fd, "EVIL!", 5, 0), 5);
	ck_assert_int_eq(ftruncate(fd, 3), 0);
	close(fd);
	ck_assert_str_eq(blob_text(hex), "layer bytes");
	struct stat st;
	snprintf(p, sizeof p, "%s/blobs/sha256/%s", root, hex);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0444);
	uint64_t size = 0;
	int bfd = content_open_blob(root, hex, &size, &e);
	ck_assert_int_ge(bfd, 0);
	ck_assert_uint_eq(size, 11);
	close(bfd);
}
END_TEST

START_TEST(existing_blob_is_never_replaced)
{
	struct err e = {0};
	char hex[65], p[256];
	hex_of("first", hex);
	snprintf(p, sizeof p, "%s/blobs", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/blobs/sha256", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/blobs/sha256/%s", root, hex);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0444);
	ck_assert_int_eq(write(fd, "there", 5), 5);
	close(fd);
	close(write_ingest("first"));
	ck_assert_int_eq(publish(hex, 5, &e), 1);
	ck_assert_str_eq(blob_text(hex), "there");
}
END_TEST

START_TEST(a_fifo_as_data_is_refused_without_blocking)
{
	struct err e = {0};
	char hex[65], p[256];
	hex_of("", hex);
	close(write_ingest(""));
	snprintf(p, sizeof p, "%s/ingest/%s/data", root, NAME);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	ck_assert_int_eq(publish(hex, 0, &e), -2);
	ck_assert_int_eq(e.code, ST_FAILED_PRECONDITION);
}
END_TEST

/* The publisher as the spawner runs it: confined by policy/publish.policy
 * (a forbidden call would kill it with SIGSYS), on a blob of 48 MiB and
 * more than one read. */
START_TEST(a_large_blob_publishes_under_the_real_policy)
{
	struct err e = {0};
	static char chunk[1 << 20];
	unsigned char h[32];
	char hex[65];
	int fd = write_ingest("");
	for (size_t i = 0; i < sizeof chunk; i++)
		chunk[i] = (char)(i * 7 + i / 4096);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (int i = 0; i < 48; i++) {
		chunk[0] = (char)i;
		ck_assert_int_eq(write(fd, chunk, sizeof chunk), (ssize_t)sizeof chunk);
		EVP_DigestUpdate(c, chunk, sizeof chunk);
	}
	EVP_DigestFinal_ex(c, h, NULL);
	EVP_MD_CTX_free(c);
	close(fd);
	hex_encode(h, sizeof h, hex);
	struct policy *pol = policy_for_role("publish", &e);
	struct policy_bpf bpf;
	ck_assert_msg(pol && policy_compile(pol, 0, &bpf, &e) == 0, "%s", e.msg);
	pid_t pid = fork();
	if (pid == 0) {
		struct publish p;
		unsigned char got[32];
		uint64_t got_size;
		if (publish_open(&p, root, NAME, hex, 48u << 20, &e) < 0 || policy_enter(pol, &bpf, &e) < 0)
			_exit(2);
		_exit(publish_finish(&p, got, &got_size, &e) == 0 ? 0 : 1);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "publisher: status %#x", st);
	uint64_t size = 0;
	int bfd = content_open_blob(root, hex, &size, &e);
	ck_assert_int_ge(bfd, 0);
	ck_assert_uint_eq(size, 48u << 20);
	close(bfd);
	policy_bpf_free(&bpf);
	policy_free(pol);
}
END_TEST

/* containerd's own ingest, beside strata's: never read, never published,
 * nothing made in it. */
START_TEST(a_foreign_ingest_is_not_touched)
{
	struct err e = {0};
	char hex[65], p[256];
	hex_of("containerd's", hex);
	snprintf(p, sizeof p, "%s/ingest", root);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/ingest/%s", root, NAME);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof p, "%s/ingest/%s/data", root, NAME);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_int_eq(write(fd, "containerd's", 12), 12);
	close(fd);
	ck_assert_int_eq(publish(hex, 12, &e), -2);
	ck_assert_int_eq(e.code, ST_FAILED_PRECONDITION);
	ck_assert_msg(strstr(e.msg, "not one strata created") != NULL, "%s", e.msg);
	char rel[160];
	snprintf(rel, sizeof rel, "blobs/sha256/%s", hex);
	ck_assert(!exists(rel));
	snprintf(rel, sizeof rel, "ingest/%s/%s", NAME, CONTENT_PUBLISH_COPY);
	ck_assert(!exists(rel));
}
END_TEST

/* At start the parent removes its own leftovers, never containerd's. */
START_TEST(a_sweep_removes_strata_ingests_only)
{
	struct err e = {0};
	char p[256], rel[160];
	close(write_ingest("left over"));
	snprintf(p, sizeof p, "%s/ingest/%s", root, DIGEST);
	ck_assert_int_eq(mkdir(p, 0700), 0); /* containerd's, in progress */
	ck_assert_int_eq(content_ingests_sweep(root, &e), 1);
	snprintf(rel, sizeof rel, "ingest/%s", NAME);
	ck_assert(!exists(rel));
	snprintf(rel, sizeof rel, "ingest/%s", DIGEST);
	ck_assert(exists(rel));
	ck_assert_int_eq(content_ingests_sweep(root, &e), 0);
}
END_TEST

START_TEST(abort_removes_the_ingest)
{
	struct err e = {0};
	char rel[128];
	close(write_ingest("partial"));
	ck_assert_int_eq(content_ingest_abort(root, NAME, &e), 0);
	snprintf(rel, sizeof rel, "ingest/%s", NAME);
	ck_assert(!exists(rel));
	ck_assert_int_eq(content_ingest_abort(root, NAME, &e), 0);
	ck_assert_int_eq(publish(DIGEST, 0, &e), -2);
	ck_assert_int_eq(e.code, ST_NOT_FOUND);
}
END_TEST

START_TEST(the_parent_tracks_only_its_own_ingests)
{
	static struct content_ingests t;
	char name[65];
	ck_assert_int_eq(content_ingests_add(&t, NAME), 0);
	ck_assert_int_eq(content_ingests_add(&t, NAME), -1);
	ck_assert(content_ingests_has(&t, NAME));
	ck_assert(!content_ingests_has(&t, DIGEST));
	ck_assert_int_eq(content_ingests_take(&t, DIGEST), 0);
	ck_assert_int_eq(content_ingests_take(&t, NAME), 1);
	ck_assert_int_eq(content_ingests_take(&t, NAME), 0);
	for (int i = 0; i < CONTENT_INGESTS_MAX; i++) {
		snprintf(name, sizeof name, "%064x", i);
		ck_assert_int_eq(content_ingests_add(&t, name), 0);
	}
	ck_assert_int_eq(content_ingests_add(&t, NAME), -1);
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
	ck_assert_int_eq(content_ingest_open(root, NAME, "r", &e), -1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("content");
	TCase *t = tcase_create("content");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, publish_refuses_malformed_names);
	tcase_add_test(t, ingest_has_containerds_files);
	tcase_add_test(t, a_wrong_digest_or_size_is_not_published);
	tcase_add_test(t, a_write_after_publishing_does_not_change_the_blob);
	tcase_add_test(t, existing_blob_is_never_replaced);
	tcase_add_test(t, a_fifo_as_data_is_refused_without_blocking);
	tcase_add_test(t, a_large_blob_publishes_under_the_real_policy);
	tcase_add_test(t, a_foreign_ingest_is_not_touched);
	tcase_add_test(t, a_sweep_removes_strata_ingests_only);
	tcase_add_test(t, abort_removes_the_ingest);
	tcase_add_test(t, the_parent_tracks_only_its_own_ingests);
	tcase_add_test(t, symlinked_blob_is_refused);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
