/* The CLI's JSON reader (client/json_read.c) and the OCI archive reader
 * built on it (client/oci_archive.c): strictness, limits, platform
 * selection through nested indexes, digest checks, chain IDs.  Archives
 * are written to a temp file with libarchive's write side. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/json_read.h"
#include "client/oci_archive.h"
#include "common/util.h"
#include "oci_fixture.h"

/* ---- JSON ------------------------------------------------------------------ */

static struct json_value *parse(const char *s, struct err *e)
{
	return json_parse(s, strlen(s), NULL, e);
}

START_TEST(json_values_and_lookups)
{
	struct err e;
	struct json_value *v =
	    parse(" {\"s\":\"a\\\"b\\\\c\\/\\n\\u00e9\\ud83d\\ude00\",\"i\":-42,\"big\":12345678901234,"
		  "\"f\":1.5e3,\"t\":true,\"n\":null,\"a\":[1,[],{}],\"o\":{\"x\":false}} ",
		  &e);
	ck_assert_msg(v != NULL, "%s", e.msg);
	ck_assert_int_eq(v->type, JSON_OBJECT);
	ck_assert_uint_eq(v->u.obj.n, 8);
	ck_assert_str_eq(json_get_str(v, "s"), "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80");
	int64_t i;
	ck_assert_int_eq(json_get_int(v, "i", &i), 0);
	ck_assert_int_eq(i, -42);
	ck_assert_int_eq(json_get_int(v, "big", &i), 0);
	ck_assert_int_eq(i, 12345678901234LL);
	ck_assert_int_eq(json_get_int(v, "f", &i), -1); /* not an integer */
	ck_assert(json_get(v, "f")->u.num.d == 1500.0);
	ck_assert_int_eq(json_get(v, "t")->u.boolean, 1);
	ck_assert_int_eq(json_get(v, "n")->type, JSON_NULL);
	ck_assert_uint_eq(json_get_arr(v, "a")->u.arr.n, 3);
	ck_assert_ptr_null(json_get_arr(v, "o"));
	ck_assert_int_eq(json_get(json_get(v, "o"), "x")->u.boolean, 0);
	ck_assert_ptr_null(json_get(v, "missing"));
	ck_assert_ptr_null(json_get_str(v, "i"));
	ck_assert_ptr_null(json_get_str(NULL, "s"));
	json_free(v);

	v = parse("\"plain\"", &e);
	ck_assert_str_eq(v->u.str.s, "plain");
	json_free(v);
	v = parse("99999999999999999999", &e); /* out of int64: a number, not an integer */
	ck_assert(v && v->type == JSON_NUMBER && !v->u.num.is_int);
	json_free(v);
}
END_TEST

START_TEST(json_refuses_malformed)
{
	static const char *const bad[] = {
	    "",
	    "{",
	    "{\"a\":1,}",
	    "[1,]",
	    "[1 2]",
	    "{\"a\" 1}",
	    "{a:1}",
	    "01",
	    "-",
	    "1.",
	    "1e",
	    ".5",
	    "+1",
	    "tru",
	    "nul",
	    "\"abc",
	    "\"\\x\"",
	    "\"\\u12g4\"",
	    "\"\\ud800\"",
	    "\"\\udc00\"",
	    "\"\\ud800\\u0041\"",
	    "\"\\u0000\"",
	    "\"a\tb\"",
	    "{} {}",
	    "\"\xc3\"",
	    "\"\xc0\xaf\"",
	    "\"\xed\xa0\x80\"",
	    "\"\xf4\x90\x80\x80\"",
	    "\xef\xbb\xbf{}",
	    "[1]x",
	    "{\"a\":1,\"a\":2}",
	    "'a'",
	    "NaN",
	    "[-]",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct err e = {0};
		struct json_value *v = parse(bad[i], &e);
		ck_assert_msg(v == NULL, "accepted bad JSON #%zu `%s`", i, bad[i]);
		ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
		ck_assert_msg(strstr(e.msg, "JSON") != NULL, "%s", e.msg);
	}
	/* An embedded NUL byte is a control character, not the end. */
	struct err e;
	ck_assert_ptr_null(json_parse("\"a\0b\"", 5, NULL, &e));
	ck_assert_ptr_null(json_parse("{}\0", 3, NULL, &e));
}
END_TEST

START_TEST(json_limits)
{
	struct err e;
	struct json_limits lim = {.max_bytes = 64, .max_depth = 3, .max_values = 5};
	struct json_value *v = json_parse("[[[1]]]", 7, &lim, &e);
	ck_assert_ptr_nonnull(v);
	json_free(v);
	ck_assert_ptr_null(json_parse("[[[[1]]]]", 9, &lim, &e));
	ck_assert_msg(strstr(e.msg, "nesting deeper than the limit of 3"), "%s", e.msg);
	ck_assert_ptr_null(json_parse("[1,2,3,4,5]", 11, &lim, &e));
	ck_assert_msg(strstr(e.msg, "more values than the limit of 5"), "%s", e.msg);
	char big[80];
	memset(big, ' ', sizeof big);
	big[0] = '1';
	ck_assert_ptr_null(json_parse(big, sizeof big, &lim, &e));
	ck_assert_msg(strstr(e.msg, "exceeds the limit of 64"), "%s", e.msg);

	/* The default depth bounds recursion: 100000 brackets fail cleanly. */
	size_t n = 100000;
	char *deep = xmalloc(n);
	memset(deep, '[', n);
	ck_assert_ptr_null(json_parse(deep, n, NULL, &e));
	ck_assert_msg(strstr(e.msg, "limit of 64"), "%s", e.msg);
	free(deep);
}
END_TEST

/* ---- platforms, chain IDs -------------------------------------------------- */

START_TEST(platforms)
{
	struct oci_platform p;
	ck_assert_int_eq(oci_parse_platform("linux/amd64", &p), 0);
	ck_assert_str_eq(p.os, "linux");
	ck_assert_str_eq(p.arch, "amd64");
	ck_assert_str_eq(p.variant, "");
	ck_assert_int_eq(oci_parse_platform("Linux/aarch64", &p), 0);
	ck_assert_str_eq(p.os, "linux");
	ck_assert_str_eq(p.arch, "arm64");
	ck_assert_int_eq(oci_parse_platform("linux/arm/v6", &p), 0);
	ck_assert_str_eq(p.variant, "v6");
	ck_assert_int_eq(oci_parse_platform("linux/x86_64", &p), 0);
	ck_assert_str_eq(p.arch, "amd64");
	static const char *const bad[] = {"linux", "linux/", "/amd64", "linux/arm/v7/x", "linux//v7", ""};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(oci_parse_platform(bad[i], &p) < 0, "accepted `%s`", bad[i]);

	oci_parse_platform("linux/arm64/v8", &p);
	ck_assert(oci_platform_match(&p, "linux", "arm64", NULL)); /* arm64 means v8 */
	ck_assert(!oci_platform_match(&p, "linux", "arm64", "v9"));
	ck_assert(!oci_platform_match(&p, "windows", "arm64", "v8"));
	oci_parse_platform("linux/arm", &p);
	ck_assert(oci_platform_match(&p, "linux", "arm", "v5")); /* no variant asked: any */
	ck_assert(!oci_platform_match(&p, "linux", "amd64", NULL));
	ck_assert(!oci_platform_match(&p, NULL, "arm", NULL));
	oci_default_platform(&p);
	ck_assert_str_eq(p.os, "linux");
	ck_assert(p.arch[0] != 0);
}
END_TEST

START_TEST(chain_ids_and_layer_types)
{
	const char *a = "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
	const char *b = "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d";
	char c[OCI_DIGEST_LEN];
	oci_chain_id(NULL, a, c);
	ck_assert_str_eq(c, a);
	/* sha256("sha256:<a> sha256:<b>"), computed with sha256sum */
	oci_chain_id(a, b, c);
	ck_assert_str_eq(c, "sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676");
	ck_assert(oci_layer_type_supported("application/vnd.oci.image.layer.v1.tar+zstd"));
	ck_assert(oci_layer_type_supported("application/vnd.docker.image.rootfs.diff.tar.gzip"));
	ck_assert(!oci_layer_type_supported("application/vnd.oci.image.layer.v1.tar+bzip2"));
	ck_assert(!oci_layer_type_supported(NULL));
}
END_TEST

/* ---- archives -------------------------------------------------------------- */

/* The reader works on an open archive, as in the import parser. */
static int read_image(const char *path, const struct oci_platform *p, struct oci_image *img, struct err *e)
{
	struct oci_archive ar = {.fd = open(path, O_RDONLY | O_CLOEXEC), .path = path};
	ck_assert_int_ge(ar.fd, 0);
	int rc = oci_read_image(&ar, p, img, e);
	close(ar.fd);
	return rc;
}

#define GZ "application/vnd.oci.image.layer.v1.tar+gzip"

/* index.json -> image index -> {amd64, arm64} manifests. */
static char *nested_archive(char **amd, char **arm)
{
	struct fake_archive f = {0};
	cleanup_free char *d1 = add_image(&f, "amd64", GZ, 1, amd);
	cleanup_free char *d2 = add_image(&f, "arm64", GZ, 1, arm);
	cleanup_free char *ix = NULL;
	cleanup_free char *index = xasprintf("{\"schemaVersion\":2,\"manifests\":[%s,%s]}", d2, d1);
	add_blob(&f, index, &ix);
	cleanup_free char *top = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
					   "vnd.oci.image.index.v1+json\",%s}]}",
					   ix);
	add_file(&f, "index.json", top, strlen(top));
	add_file(&f, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	return write_archive(&f);
}

START_TEST(archive_nested_index_by_platform)
{
	cleanup_free char *amd = NULL, *arm = NULL;
	cleanup_free char *path = nested_archive(&amd, &arm);
	struct oci_platform p;
	struct oci_image img;
	struct err e;
	oci_parse_platform("linux/amd64", &p);
	ck_assert_msg(read_image(path, &p, &img, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(img.manifest_digest, amd);
	ck_assert_uint_eq(img.nlayers, 2);
	ck_assert_str_eq(img.platform.arch, "amd64");
	ck_assert_str_eq(img.layers[0].media_type, GZ);
	ck_assert_str_eq(img.layers[1].diff_id,
			 "sha256:2222222222222222222222222222222222222222222222222222222222222222");
	ck_assert_int_eq(img.layers[0].size, (int64_t)strlen("layer zero amd64"));

	/* The blob streams out of the archive with its bytes. */
	struct oci_archive ar = {.fd = open(path, O_RDONLY | O_CLOEXEC), .path = path};
	struct archive *a;
	char buf[64];
	ck_assert_int_eq(oci_blob_open(&ar, img.layers[1].digest, img.layers[1].size, &a, &e), 0);
	la_ssize_t n = archive_read_data(a, buf, sizeof buf);
	ck_assert_int_eq(n, (la_ssize_t)strlen("layer one amd64"));
	ck_assert(memcmp(buf, "layer one amd64", (size_t)n) == 0);
	archive_read_free(a);
	/* A wrong size is refused before reading. */
	ck_assert_int_eq(oci_blob_open(&ar, img.layers[1].digest, 3, &a, &e), -1);
	ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
	close(ar.fd);
	oci_image_free(&img);

	oci_parse_platform("linux/arm64/v8", &p);
	ck_assert_msg(read_image(path, &p, &img, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(img.manifest_digest, arm);
	oci_image_free(&img);

	oci_parse_platform("linux/s390x", &p);
	ck_assert_int_eq(read_image(path, &p, &img, &e), -1);
	ck_assert_int_eq(e.code, ST_NOT_FOUND);
	ck_assert_msg(strstr(e.msg, "no image for platform linux/s390x"), "%s", e.msg);
	unlink(path);
}
END_TEST

/* docker save: index.json names the manifest without a platform; the
 * config decides. */
START_TEST(archive_platform_from_config)
{
	struct fake_archive f = {0};
	cleanup_free char *md = NULL;
	cleanup_free char *d = add_image(&f, "arm64", "application/vnd.docker.image.rootfs.diff.tar", 0, &md);
	cleanup_free char *top = xasprintf("{\"schemaVersion\":2,\"manifests\":[%s]}", d);
	add_file(&f, "index.json", top, strlen(top));
	cleanup_free char *path = write_archive(&f);
	struct oci_platform p;
	struct oci_image img;
	struct err e;
	oci_parse_platform("linux/arm64", &p);
	ck_assert_msg(read_image(path, &p, &img, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(img.manifest_digest, md);
	oci_image_free(&img);
	oci_parse_platform("linux/amd64", &p);
	ck_assert_int_eq(read_image(path, &p, &img, &e), -1);
	ck_assert_int_eq(e.code, ST_NOT_FOUND);
	unlink(path);
}
END_TEST

START_TEST(archive_refusals)
{
	struct oci_platform p;
	struct oci_image img;
	struct err e;
	oci_parse_platform("linux/amd64", &p);

	/* An unknown layer media type: Unimplemented, naming it. */
	struct fake_archive f = {0};
	cleanup_free char *md = NULL;
	cleanup_free char *d = add_image(&f, "amd64", "application/vnd.oci.image.layer.v1.tar+bzip2", 1, &md);
	cleanup_free char *top = xasprintf("{\"schemaVersion\":2,\"manifests\":[%s]}", d);
	add_file(&f, "index.json", top, strlen(top));
	cleanup_free char *path = write_archive(&f);
	ck_assert_int_eq(read_image(path, &p, &img, &e), -1);
	ck_assert_int_eq(e.code, ST_UNIMPLEMENTED);
	ck_assert_msg(strstr(e.msg, "tar+bzip2"), "%s", e.msg);
	unlink(path);

	/* A manifest blob whose content does not match its name. */
	cleanup_free char *md2 = NULL;
	cleanup_free char *d2 = add_image(&f, "amd64", GZ, 1, &md2);
	for (size_t i = 0; i < f.n; i++)
		if (strstr(f.e[i].name, md2 + 7))
			f.e[i].data[f.e[i].len - 1] = ' '; /* same size, other bytes */
	cleanup_free char *top2 = xasprintf("{\"schemaVersion\":2,\"manifests\":[%s]}", d2);
	add_file(&f, "index.json", top2, strlen(top2));
	cleanup_free char *path2 = write_archive(&f);
	ck_assert_int_eq(read_image(path2, &p, &img, &e), -1);
	ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
	ck_assert_msg(strstr(e.msg, "has digest"), "%s", e.msg);
	unlink(path2);

	/* No index.json; and not a tar at all. */
	add_file(&f, "manifest.json", "[]", 2);
	cleanup_free char *path3 = write_archive(&f);
	ck_assert_int_eq(read_image(path3, &p, &img, &e), -1);
	ck_assert_msg(strstr(e.msg, "not an OCI image archive"), "%s", e.msg);
	FILE *junk = fopen(path3, "w");
	fputs("this is not a tar archive, not even close; it is just text\n", junk);
	fclose(junk);
	ck_assert_int_eq(read_image(path3, &p, &img, &e), -1);
	ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
	unlink(path3);

	/* A digest that would name a path outside blobs/sha256 is never looked up. */
	struct oci_archive none = {.fd = -1, .path = "/nonexistent"};
	struct archive *a;
	ck_assert_int_eq(oci_blob_open(&none, "sha256:../../index.json", -1, &a, &e), -1);
	ck_assert_msg(strstr(e.msg, "malformed digest"), "%s", e.msg);
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json_read");
	TCase *j = tcase_create("json");
	tcase_add_test(j, json_values_and_lookups);
	tcase_add_test(j, json_refuses_malformed);
	tcase_add_test(j, json_limits);
	suite_add_tcase(s, j);
	TCase *o = tcase_create("oci");
	tcase_add_test(o, platforms);
	tcase_add_test(o, chain_ids_and_layer_types);
	tcase_add_test(o, archive_nested_index_by_platform);
	tcase_add_test(o, archive_platform_from_config);
	tcase_add_test(o, archive_refusals);
	suite_add_tcase(s, o);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(json_suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
