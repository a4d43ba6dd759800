/* The import parser (client/import_parser.c) and the CLI's side of it
 * (client/import_link.c), for real: every job runs in a forked parser under
 * policy/import.policy, so a system call the policy lacks kills the test's
 * parser with SIGSYS.  The inputs drive every path: nested indexes, many
 * layers, a gzip-compressed archive, pax headers with UTF-8 names (which
 * make glibc look for its iconv modules), a blob of tens of MiB, JSON at
 * every limit of client/oci_json.h; and the refusals: other compressions,
 * a FIFO, a parser that dies, JSON beyond a limit or malformed. */
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
#include "client/oci_json.h"
#include "oci_fixture.h"
#include "run_suite.h"

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

/* ---- JSON at and beyond the limits, under the filter --------------------- */

/* Values in a descriptor as add_manifest() writes it with a platform:
 * itself, mediaType, digest, size, platform, os, architecture. */
#define DESC_VALUES 7

/* Appends to *s at *n (the buffer has room). */
static void put(char *s, size_t *n, const char *t)
{
	size_t k = strlen(t);
	memcpy(s + *n, t, k);
	*n += k;
}

/* index.json for the image of descriptor desc at the limits of one JSON
 * document (client/oci_json.h), each exceeded by over_depth, over_values
 * and over_bytes: nested arrays and objects as deep as allowed, 100000 keys
 * in one object (jansson's hash table grows), int64's extremes, reals at
 * and beyond double's range and one of 5000 digits, a long string of every
 * escape, surrogate pairs and raw UTF-8, as many values as allowed, padded
 * to the largest document the reader takes (it refuses OCI_JSON_MAX_BYTES
 * bytes or more before parsing). */
static char *limits_index(const char *desc, int over_depth, int over_values, int over_bytes)
{
	const size_t depth = OCI_JSON_MAX_DEPTH + over_depth, nkeys = 100000;
	const size_t bytes = OCI_JSON_MAX_BYTES - 1 + over_bytes;
	char *s = xmalloc(bytes + 1), num[64];
	size_t n = 0, values = 0;
	put(s, &n, "{\"schemaVersion\":2,\"manifests\":[");
	put(s, &n, desc);
	values += 3 + DESC_VALUES;
	/* the document is level 1: depth - 1 more, and a number in the last */
	put(s, &n, "],\"deep\":");
	for (size_t i = 1; i < depth; i++)
		put(s, &n, i % 2 ? "[" : "{\"k\":");
	put(s, &n, "1");
	for (size_t i = depth - 1; i >= 1; i--)
		put(s, &n, i % 2 ? "]" : "}");
	values += depth;
	put(s, &n,
	    ",\"ints\":[9223372036854775807,-9223372036854775808,0,-0],\"reals\":[1.7976931348623157e308,"
	    "-2.2250738585072014e-308,4.9e-324,1e-400,-0.0,1E+300,0.");
	for (size_t i = 0; i < 5000; i++)
		s[n++] = (char)('0' + (i * 7 + 3) % 10);
	put(s, &n, "e-5],\"keys\":{");
	values += 5 + 8 + 1 + nkeys; /* ints, reals, keys with what they hold */
	for (size_t i = 0; i < nkeys; i++) {
		snprintf(num, sizeof num, "%s\"k%07zu\":%s", i ? "," : "", i,
			 i % 2 ? "-9223372036854775807" : "9223372036854775807");
		put(s, &n, num);
	}
	put(s, &n, "},\"list\":[0");
	values += 1 + 2; /* text (below), list and its first element */
	for (; values < OCI_JSON_MAX_VALUES + (size_t)over_values; values++)
		put(s, &n, ",0");
	put(s, &n, "],\"text\":\"");
	static const char unit[] = "\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\uffff"
				   "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf ";
	ck_assert_uint_lt(n + 3, bytes);
	while (n + sizeof unit - 1 + 2 <= bytes)
		put(s, &n, unit);
	while (n + 2 < bytes)
		s[n++] = 'x';
	put(s, &n, "\"}");
	s[n] = 0;
	ck_assert_uint_eq(n, bytes);
	return s;
}

/* An archive of small_archive()'s image whose index.json is index(desc). */
static char *archive_with_index(char *(*index)(const char *desc), char **manifest_digest)
{
	struct fake_archive f = {0};
	cleanup_free char *d = add_image(&f, "amd64", GZ, 1, manifest_digest);
	cleanup_free char *top = index(d);
	add_file(&f, "index.json", top, strlen(top));
	return write_archive(&f);
}

static char *at_the_limits(const char *desc)
{
	return limits_index(desc, 0, 0, 0);
}

static char *at_the_limits_archive(char **manifest_digest)
{
	return archive_with_index(at_the_limits, manifest_digest);
}

/* index.json of the largest size whose member "x" is a number of
 * millions of digits, beginning with start. */
static char *long_number(const char *desc, const char *start)
{
	size_t n = OCI_JSON_MAX_BYTES - 1;
	char *s = xmalloc(n + 1);
	int k = snprintf(s, n, "{\"manifests\":[%s],\"x\":%s", desc, start);
	memset(s + k, '7', n - (size_t)k - 1);
	s[n - 1] = '}';
	s[n] = 0;
	return s;
}

static char *long_real(const char *desc)
{
	return long_number(desc, "-0.");
}

static char *long_real_archive(char **manifest_digest)
{
	return archive_with_index(long_real, manifest_digest);
}

/* Documents at every limit at once, and a real of 4 million digits (glibc's
 * strtod), are read under the filter. */
START_TEST(json_at_the_limits_under_the_filter)
{
	char *(*builds[])(char **) = {at_the_limits_archive, long_real_archive};
	for (size_t i = 0; i < ARRAY_SIZE(builds); i++) {
		struct opened o;
		open_image(&o, builds[i]);
		ck_assert_uint_eq(o.img.nlayers, 2);
		ck_assert_str_eq(o.img.platform.arch, "amd64");
		close_image(&o);
	}
}
END_TEST

static char *deeper(const char *desc)
{
	return limits_index(desc, 1, 0, 0);
}
static char *more_values(const char *desc)
{
	return limits_index(desc, 0, 1, 0);
}
static char *more_bytes(const char *desc)
{
	return limits_index(desc, 0, 0, 1);
}
/* Deeper than jansson's own limit (2048). */
static char *brackets(const char *desc)
{
	char *s = xmalloc(100001);
	memset(s, '[', 100000);
	s[100000] = 0;
	return s;
}
static char *long_integer(const char *desc)
{
	return long_number(desc, "-");
}
/* The most values a document of the largest size holds: 1.4 million empty
 * objects, each with its hash table, all parsed before the count. */
static char *empty_objects(const char *desc)
{
	size_t n = OCI_JSON_MAX_BYTES - 1, k = 0;
	char *s = xmalloc(n + 1);
	s[k++] = '[';
	while (k + 6 <= n) /* room for this one and the last "{}]" */
		put(s, &k, "{},");
	put(s, &k, "{}");
	while (k < n - 1)
		s[k++] = ' ';
	s[k++] = ']';
	s[k] = 0;
	ck_assert_uint_eq(k, n);
	return s;
}

/* Documents beyond a limit or malformed are refused by the parser, with
 * the reason (never a system call its filter forbids). */
START_TEST(json_refusals_under_the_filter)
{
	static const struct {
		const char *before, *after, *why;
	} twists[] = {
	    {"{\"schemaVersion\":2,\"manifests\":[", "],\"schemaVersion\":2}", "duplicate object key"},
	    {"{\"manifests\":[", "],\"x\":\"\xc3(\"}", "unable to decode byte 0xc3"},
	    {"{\"manifests\":[", "],\"x\":\"\xed\xa0\x80\"}", "unable to decode byte 0xed"},
	    {"{\"manifests\":[", "]}x", "end of file expected"},
	    {"{\"manifests\":[", "]}\n{}", "end of file expected"},
	    {"{\"manifests\":[", "],\"x\":\"\\u0000\"}", "\\u0000 is not allowed"},
	    {"{\"manifests\":[", "],\"x\":\"\\udc00\"}", "invalid Unicode"},
	    {"{\"manifests\":[", "],\"size\":9223372036854775808}", "too big integer"},
	    {"{\"manifests\":[", "],\"x\":-1e400}", "real number overflow"},
	    {"{\"manifests\":", "}", "has no `manifests` array"},
	};
	static const struct {
		char *(*index)(const char *desc);
		const char *why;
	} big[] = {
	    {deeper, "nesting deeper than the limit of 64"},
	    {more_values, "more values than the limit of 200000"},
	    {more_bytes, "is larger than 4194304 bytes"},
	    {brackets, "nesting deeper than the limit of 64"},
	    {empty_objects, "more values than the limit of 200000"},
	    {long_integer, "too big negative integer"},
	};
	struct oci_platform want;
	oci_parse_platform("linux/amd64", &want);
	for (size_t i = 0; i < ARRAY_SIZE(twists) + ARRAY_SIZE(big); i++) {
		struct fake_archive f = {0};
		struct import_parser p;
		struct oci_image img;
		cleanup_free char *md = NULL;
		cleanup_free char *d = add_image(&f, "amd64", GZ, 1, &md);
		const char *why = i < ARRAY_SIZE(twists) ? twists[i].why : big[i - ARRAY_SIZE(twists)].why;
		cleanup_free char *top = i < ARRAY_SIZE(twists)
					     ? xasprintf("%s%s%s", twists[i].before, d, twists[i].after)
					     : big[i - ARRAY_SIZE(twists)].index(d);
		add_file(&f, "index.json", top, strlen(top));
		cleanup_free char *path = write_archive(&f);
		ck_assert_msg(import_parser_open(&p, path, &e) == 0, "%s", e.msg);
		ck_assert_msg(import_read_image(&p, &want, &img, &e) == -1, "%zu: accepted", i);
		ck_assert_msg(e.code == ST_INVALID_ARGUMENT && strstr(e.msg, why), "%zu: %s", i, e.msg);
		import_parser_close(&p);
		unlink(path);
	}
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
	tcase_add_test(t, json_at_the_limits_under_the_filter);
	tcase_add_test(t, json_refusals_under_the_filter);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return run_suite(import_suite());
}
