/* The import parser (client/import_parser.c) and the CLI's side of it
 * (client/import_link.c), for real: every job runs in a forked parser under
 * policy/import.policy, so a system call the policy lacks kills the test's
 * parser with SIGSYS.  The inputs drive every path: nested indexes, many
 * layers, a gzip-compressed archive, pax headers with UTF-8 names (which
 * make glibc look for its iconv modules), a blob of tens of MiB; and the
 * refusals: other compressions, a FIFO, a parser that dies. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/import_link.h"
#include "client/import_parser.h"
#include "oci_fixture.h"

#define GZ	 "application/vnd.oci.image.layer.v1.tar+gzip"
#define NLAYERS	 300
#define BIG_SIZE (48u << 20)

static struct err e;

/* Every file of a test in a directory of its own, removed by the runner
 * (an unchecked fixture) even when the test fails. */
static char workdir[] = "/tmp/strata-test-import-XXXXXX";

static void workdir_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(workdir));
	oci_fixture_dir = workdir;
}

static void workdir_teardown(void)
{
	cleanup_free char *cmd = xasprintf("rm -rf '%s'", workdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", workdir);
}

/* A big blob of bytes that do not compress, each a function of its offset
 * (splitmix64), so that no copy is needed to check them. */
static unsigned char big_byte(size_t i)
{
	uint64_t z = (uint64_t)(i / 8) * 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (unsigned char)((z ^ (z >> 31)) >> (8 * (i % 8)));
}

/* The layers' digests in big_archive(), bottom first. */
static char *big_digests[NLAYERS];

/* NLAYERS layers ("layer N"), layer 0 BIG_SIZE bytes, a config of 3 MiB
 * (documents that size go through malloc's mmap and mremap), pax entries
 * with long UTF-8 names before everything else, the whole gzip-compressed. */
static char *big_archive(char **manifest_digest)
{
	struct fake_archive f = {0};
	char *layers[NLAYERS], *ids[NLAYERS];
	cleanup_free char *name =
	    xasprintf("notes/%s", "d\xc3\xa9j\xc3\xa0-vu \xe2\x82\xac \xf0\x9f\x98\x80");
	add_file(&f, name, "x", 1);
	char longname[300];
	memset(longname, 'n', sizeof longname - 3);
	strcpy(longname + sizeof longname - 3, "\xc3\xa9");
	add_file(&f, longname, "y", 1);
	char *big = xmalloc(BIG_SIZE);
	for (size_t i = 0; i < BIG_SIZE; i++)
		big[i] = (char)big_byte(i);
	for (size_t i = 0; i < NLAYERS; i++) {
		cleanup_free char *data = xasprintf("layer %zu", i);
		if (i == 0)
			add_blob_len(&f, big, BIG_SIZE, &layers[i]);
		else
			add_blob(&f, data, &layers[i]);
		free(big_digests[i]);
		big_digests[i] = xasprintf("%.*s", DIGEST_LEN, strstr(layers[i], "sha256:"));
		ids[i] = xasprintf("sha256:%064zx", i + 1);
	}
	free(big);
	char *pad = xmalloc(3u << 20);
	memset(pad, 'p', (3u << 20) - 1);
	pad[(3u << 20) - 1] = 0;
	cleanup_free char *extra = xasprintf("\"comment\":\"%s\",", pad);
	free(pad);
	cleanup_free char *desc =
	    add_manifest(&f, "amd64", GZ, layers, ids, NLAYERS, extra, 1, manifest_digest);
	add_index(&f, desc);
	for (size_t i = 0; i < NLAYERS; i++) {
		free(layers[i]);
		free(ids[i]);
	}
	return write_archive_as(&f, 1);
}

static char *small_archive(char **manifest_digest)
{
	struct fake_archive f = {0};
	cleanup_free char *d = add_image(&f, "amd64", GZ, 1, manifest_digest);
	add_index(&f, d);
	return write_archive(&f);
}

/* An archive the CLI's side opened, and its image for linux/amd64 as a
 * parser read it. */
struct opened {
	char *path, *manifest;
	struct import_parser p;
	struct oci_image img;
};

static void open_image(struct opened *o, char *(*build)(char **manifest_digest))
{
	struct oci_platform want;
	o->path = build(&o->manifest);
	const char *path = o->path, *manifest = o->manifest;
	ck_assert_msg(import_parser_open(&o->p, path, &e) == 0, "%s", e.msg);
	oci_parse_platform("linux/amd64", &want);
	ck_assert_msg(import_read_image(&o->p, &want, &o->img, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(o->img.manifest_digest, manifest);
}

static void close_image(struct opened *o)
{
	oci_image_free(&o->img);
	import_parser_close(&o->p);
	unlink(o->path);
	free(o->path);
	free(o->manifest);
}

/* Reads the whole pipe; returns the byte count, checking big blobs' bytes. */
static size_t drain(int fd, int check_big)
{
	static char buf[1 << 16];
	size_t n = 0, bad = SIZE_MAX;
	ssize_t r;
	while ((r = read(fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; check_big && bad == SIZE_MAX && i < r; i++)
			if ((unsigned char)buf[i] != big_byte(n + (size_t)i))
				bad = n + (size_t)i;
		n += (size_t)r;
	}
	ck_assert_msg(bad == SIZE_MAX, "byte %zu differs", bad);
	ck_assert_int_eq(r, 0);
	close(fd);
	return n;
}

START_TEST(image_and_blob_through_the_parser)
{
	struct opened o;
	open_image(&o, small_archive);
	ck_assert_str_eq(o.img.platform.arch, "amd64");
	ck_assert_uint_eq(o.img.nlayers, 2);
	ck_assert_str_eq(o.img.layers[1].media_type, GZ);
	ck_assert_str_eq(o.img.layers[1].diff_id,
			 "sha256:2222222222222222222222222222222222222222222222222222222222222222");

	struct import_blob_job j;
	int rfd, fault;
	ck_assert_msg(import_blob_start(&o.p, &o.img.layers[1], &rfd, &j, &e) == 0, "%s", e.msg);
	char buf[64] = {0};
	ck_assert_int_eq(read(rfd, buf, sizeof buf), (ssize_t)strlen("layer one amd64"));
	ck_assert_str_eq(buf, "layer one amd64");
	close(rfd);
	ck_assert_msg(import_blob_finish(&j, &fault, &e) == 0, "%s", e.msg);

	/* Errors come back with their code and text. */
	struct oci_platform want;
	struct oci_image none;
	oci_parse_platform("linux/s390x", &want);
	ck_assert_int_eq(import_read_image(&o.p, &want, &none, &e), -1);
	ck_assert_int_eq(e.code, ST_NOT_FOUND);
	ck_assert_msg(strstr(e.msg, "no image for platform linux/s390x"), "%s", e.msg);
	close_image(&o);
}
END_TEST

/* 300 layers, a 48 MiB blob, gzip, UTF-8 pax names: all under the filter. */
START_TEST(big_gzip_archive_under_the_filter)
{
	struct opened o;
	open_image(&o, big_archive);
	ck_assert_uint_eq(o.img.nlayers, NLAYERS);
	for (size_t i = 0; i < NLAYERS; i++)
		ck_assert_str_eq(o.img.layers[i].digest, big_digests[i]);
	ck_assert_int_eq(o.img.layers[0].size, BIG_SIZE);
	size_t pick[] = {0, NLAYERS - 1};
	for (size_t k = 0; k < ARRAY_SIZE(pick); k++) {
		struct import_blob_job j;
		int rfd, fault;
		ck_assert_msg(import_blob_start(&o.p, &o.img.layers[pick[k]], &rfd, &j, &e) == 0, "%s",
			      e.msg);
		ck_assert_uint_eq(drain(rfd, pick[k] == 0), (size_t)o.img.layers[pick[k]].size);
		ck_assert_msg(import_blob_finish(&j, &fault, &e) == 0, "%s", e.msg);
	}
	close_image(&o);
}
END_TEST

/* "Key:\tvalue" of /proc/PID/status. */
static char *status_field(pid_t pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	char *v = NULL;
	while (!v && fgets(line, sizeof line, f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = xasprintf("%.*s", (int)strcspn(line + strlen(key) + 2, "\n"),
				      line + strlen(key) + 2);
	fclose(f);
	ck_assert_msg(v != NULL, "no %s in %s", key, path);
	return v;
}

static void assert_status(pid_t pid, const char *key, const char *want)
{
	cleanup_free char *v = status_field(pid, key);
	ck_assert_msg(!strcmp(v, want), "%s: `%s`, not `%s`", key, v, want);
}

/* The open fds of pid, as a bit set (fds below 64). */
static uint64_t open_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	ck_assert_ptr_nonnull(d);
	uint64_t set = 0;
	for (struct dirent *de; (de = readdir(d));) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] != '.')
			set |= fd < 64 ? 1ull << fd : 1ull << 63;
	}
	closedir(d);
	return set;
}

/* A blob job whose pipe nobody reads blocks in write, confined: seen from
 * outside, it has no privilege and only its three fds. */
START_TEST(parser_runs_confined)
{
	struct opened o;
	open_image(&o, big_archive);
	struct import_blob_job j;
	int rfd, fault;
	ck_assert_msg(import_blob_start(&o.p, &o.img.layers[0], &rfd, &j, &e) == 0, "%s", e.msg);
	for (int i = 0; i < 200; i++) { /* until the pipe is full */
		cleanup_free char *state = status_field(j.pid, "State");
		cleanup_free char *sec = status_field(j.pid, "Seccomp");
		if (state[0] == 'S' && !strcmp(sec, "2"))
			break;
		usleep(20000);
	}
	if (geteuid() == 0) {
		assert_status(j.pid, "Uid", "65534\t65534\t65534\t65534");
		assert_status(j.pid, "Gid", "65534\t65534\t65534\t65534");
		cleanup_free char *groups = status_field(j.pid, "Groups");
		ck_assert_msg(groups[strspn(groups, " \t")] == 0, "Groups %s", groups);
		assert_status(j.pid, "CapBnd", "0000000000000000");
	}
	assert_status(j.pid, "CapEff", "0000000000000000");
	assert_status(j.pid, "CapPrm", "0000000000000000");
	assert_status(j.pid, "NoNewPrivs", "1");
	assert_status(j.pid, "Seccomp", "2");
	ck_assert_uint_eq(open_fds(j.pid),
			  1u << IMPORT_FD_ARCHIVE | 1u << IMPORT_FD_RESULT | 1u << IMPORT_FD_BLOB);
	ck_assert_uint_eq(drain(rfd, 1), BIG_SIZE);
	ck_assert_msg(import_blob_finish(&j, &fault, &e) == 0, "%s", e.msg);
	close_image(&o);
}
END_TEST

/* A parser killed by its filter (here: by the test) fails the job with a
 * message that says so, and the archive takes the blame. */
START_TEST(dead_parser_is_reported)
{
	struct opened o;
	open_image(&o, small_archive);
	struct import_blob_job j;
	int rfd, fault = 0;
	ck_assert_msg(import_blob_start(&o.p, &o.img.layers[0], &rfd, &j, &e) == 0, "%s", e.msg);
	kill(j.pid, SIGSYS);
	close(rfd);
	ck_assert_int_eq(import_blob_finish(&j, &fault, &e), -1);
	ck_assert_msg(strstr(e.msg, "was killed by SIGSYS"), "%s", e.msg);
	ck_assert_int_eq(fault, 1);
	close_image(&o);
}
END_TEST

/* A pipe closed by its reader (the daemon failing first) fails the blob job
 * with the write's error, which is not the archive's fault. */
START_TEST(closed_pipe_is_not_the_archives_fault)
{
	struct opened o;
	open_image(&o, big_archive);
	struct import_blob_job j;
	int rfd, fault = 1;
	ck_assert_msg(import_blob_start(&o.p, &o.img.layers[0], &rfd, &j, &e) == 0, "%s", e.msg);
	close(rfd);
	ck_assert_int_eq(import_blob_finish(&j, &fault, &e), -1);
	ck_assert_msg(strstr(e.msg, "send blob") && strstr(e.msg, "Broken pipe"), "%s", e.msg);
	ck_assert_int_eq(fault, 0);
	close_image(&o);
}
END_TEST

/* Compressions other than gzip are refused with a hint (libarchive is not
 * even asked whether it knows them); so are archives that are no regular
 * file, at once, even a FIFO without a writer. */
START_TEST(other_forms_refused)
{
	static const char *const heads[] = {
	    "LRZI\x00\x06", /* lrzip: libarchive would run `lrzip -d` */
	    "\x89LZO\x00\r\n\x1a\n",
	    "\xfd"
	    "7zXZ\x00",
	    "BZh91AY&SY",
	    "\x28\xb5\x2f\xfd",
	};
	struct oci_platform want;
	struct oci_image img;
	oci_parse_platform("linux/amd64", &want);
	for (size_t i = 0; i < ARRAY_SIZE(heads); i++) {
		cleanup_free char *path = xasprintf("%s/head-%zu", workdir, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		char data[1024] = {0};
		memcpy(data, heads[i], strlen(heads[i]) + 1);
		ck_assert_int_eq(write(fd, data, sizeof data), (ssize_t)sizeof data);
		close(fd);
		struct import_parser p;
		ck_assert_msg(import_parser_open(&p, path, &e) == 0, "%s", e.msg);
		ck_assert_int_eq(import_read_image(&p, &want, &img, &e), -1);
		ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
		ck_assert_msg(strstr(e.msg, "tar or gzip-compressed tar only"), "%zu: %s", i, e.msg);
		import_parser_close(&p);
		unlink(path);
	}
	cleanup_free char *fifo = xasprintf("%s/fifo", workdir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	struct import_parser p;
	ck_assert_int_eq(import_parser_open(&p, fifo, &e), -1);
	ck_assert_msg(strstr(e.msg, "is not a regular file"), "%s", e.msg);
	unlink(fifo);
}
END_TEST

static Suite *import_suite(void)
{
	Suite *s = suite_create("import");
	TCase *t = tcase_create("parser");
	tcase_set_timeout(t, 120);
	tcase_add_unchecked_fixture(t, workdir_setup, workdir_teardown);
	tcase_add_test(t, image_and_blob_through_the_parser);
	tcase_add_test(t, big_gzip_archive_under_the_filter);
	tcase_add_test(t, parser_runs_confined);
	tcase_add_test(t, dead_parser_is_reported);
	tcase_add_test(t, closed_pipe_is_not_the_archives_fault);
	tcase_add_test(t, other_forms_refused);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(import_suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
