/* The OCI archive reader (client/oci_archive.c) and its JSON
 * (client/oci_json.c, jansson with strata's limits): strictness, limits,
 * wrong types, platform selection through nested indexes, digest checks,
 * chain IDs.  Archives are written to a temp file with libarchive's write
 * side.  test_import runs the same reader under the parser's filter. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/oci_archive.h"
#include "client/oci_json.h"
#include "common/util.h"
#include "oci_fixture.h"
#include "run_suite.h"

/* ---- JSON ------------------------------------------------------------------ */

static json_t *parse(const char *s, struct err *e)
{
	return oci_json_parse(s, strlen(s), e);
}

/* Refused with InvalidArgument, the message naming JSON and want. */
static void refused(const char *s, size_t len, const char *want)
{
	struct err e = {0};
	json_t *v = oci_json_parse(s, len, &e);
	ck_assert_msg(v == NULL, "accepted `%.60s`", s);
	ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
	ck_assert_msg(strstr(e.msg, "JSON") && strstr(e.msg, want), "`%.60s`: %s", s, e.msg);
}

START_TEST(json_good_document)
{
	struct err e;
	json_t *v = parse(" {\"s\":\"a\\\"b\\\\c\\/\\n\\u00e9\\ud83d\\ude00 \xe2\x82\xac\",\"i\":-42,"
			  "\"max\":9223372036854775807,\"min\":-9223372036854775808,\"f\":1.5e3,\"t\":true,"
			  "\"n\":null,\"a\":[1,[],{}],\"o\":{\"x\":false}} ",
			  &e);
	ck_assert_msg(v != NULL, "%s", e.msg);
	ck_assert_uint_eq(json_object_size(v), 9);
	ck_assert_str_eq(json_string_value(json_object_get(v, "s")),
			 "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80 \xe2\x82\xac");
	ck_assert(json_integer_value(json_object_get(v, "i")) == -42);
	ck_assert(json_integer_value(json_object_get(v, "max")) == INT64_MAX);
	ck_assert(json_integer_value(json_object_get(v, "min")) == INT64_MIN);
	ck_assert(!json_is_integer(json_object_get(v, "f"))); /* a size must be an integer */
	ck_assert(json_real_value(json_object_get(v, "f")) == 1500.0);
	ck_assert(json_is_true(json_object_get(v, "t")));
	ck_assert(json_is_null(json_object_get(v, "n")));
	ck_assert_uint_eq(json_array_size(json_object_get(v, "a")), 3);
	ck_assert(json_is_false(json_object_get(json_object_get(v, "o"), "x")));
	json_decref(v);
	v = parse("[]", &e);
	ck_assert_msg(json_is_array(v), "%s", e.msg);
	json_decref(v);
}
END_TEST

/* What parsers disagree about is refused, each case with what says why. */
START_TEST(json_refuses_malformed)
{
	static const struct {
		const char *doc, *why;
	} bad[] = {
	    {"{\"a\":1,\"a\":2}", "duplicate object key"},
	    {"{\"a\":{\"b\":1,\"b\":1}}", "duplicate object key"},
	    {"[\"\xc3\"]", "unable to decode byte"},		 /* truncated sequence */
	    {"[\"\xc0\xaf\"]", "unable to decode byte"},	 /* overlong */
	    {"[\"\xed\xa0\x80\"]", "unable to decode byte"},	 /* a surrogate in UTF-8 */
	    {"[\"\xf4\x90\x80\x80\"]", "unable to decode byte"}, /* beyond U+10FFFF */
	    {"[\"\xff\"]", "unable to decode byte"},
	    {"{} {}", "end of file expected"},
	    {"[1]x", "end of file expected"},
	    {"{\"a\":1}]", "end of file expected"},
	    {"[\"\\u0000\"]", "\\u0000 is not allowed"},
	    {"{\"a\\u0000b\":1}", "NUL byte in object key"},
	    {"[99999999999999999999]", "too big integer"}, /* OCI sizes are int64 */
	    {"[-9223372036854775809]", "too big negative integer"},
	    {"[1e999]", "real number overflow"},
	    {"\"plain\"", "'[' or '{' expected"}, /* OCI documents are objects */
	    {"12", "'[' or '{' expected"},
	    {"", "'[' or '{' expected"},
	    {"{", "string or '}' expected"},
	    {"{\"a\":1,}", "string or '}' expected"},
	    {"[1,]", "unexpected token"},
	    {"[1 2]", "']' expected"},
	    {"{\"a\" 1}", "':' expected"},
	    {"{a:1}", "string or '}' expected"},
	    {"[01]", "invalid token"},
	    {"[-]", "invalid token"},
	    {"[1.]", "invalid token"},
	    {"[1e]", "invalid token"},
	    {"[.5]", "invalid token"},
	    {"[+1]", "invalid token"},
	    {"[tru]", "invalid token"},
	    {"[NaN]", "invalid token"},
	    {"['a']", "invalid token"},
	    {"[\"abc", "premature end of input"},
	    {"[\"\\x\"]", "invalid escape"},
	    {"[\"\\u12g4\"]", "invalid escape"},
	    {"[\"\\ud800\"]", "invalid Unicode"},
	    {"[\"\\udc00\"]", "invalid Unicode"},
	    {"[\"\\ud800\\u0041\"]", "invalid Unicode"},
	    {"[\"a\tb\"]", "control character"},
	    {"\xef\xbb\xbf{}", "'[' or '{' expected"}, /* a byte order mark */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		refused(bad[i].doc, strlen(bad[i].doc), bad[i].why);
	/* An embedded NUL byte is a control character, or data after the end. */
	refused("[\"a\0b\"]", 7, "control character");
	refused("{}\0", 3, "end of file expected");
	/* The quoted input in a message is printable: no escape sequence
	 * reaches the terminal. */
	struct err e = {0};
	ck_assert_ptr_null(oci_json_parse("[\x1b[2J]", 6, &e));
	ck_assert_msg(!strchr(e.msg, '\x1b') && strstr(e.msg, "near '?'"), "%s", e.msg);
}
END_TEST

/* n nested arrays ("[[[]]]" for 3), or objects whose member "a" nests. */
static char *nested(size_t n, int objects)
{
	const char *open = objects ? "{\"a\":" : "[", *close = objects ? "}" : "]";
	char *s = xstrdup(objects ? "{}" : "[]");
	for (size_t i = 1; i < n; i++) {
		char *t = xasprintf("%s%s%s", open, s, close);
		free(s);
		s = t;
	}
	return s;
}

/* An array of n - 1 zeros: n values (n >= 2). */
static char *values(size_t n)
{
	char *s = xmalloc(2 * n + 1);
	s[0] = '[';
	for (size_t i = 1; i < n; i++)
		memcpy(s + 2 * i - 1, "0,", 2);
	memcpy(s + 2 * n - 3, "0]", 3);
	return s;
}

START_TEST(json_limits)
{
	struct err e;
	for (int objects = 0; objects < 2; objects++) {
		cleanup_free char *ok = nested(OCI_JSON_MAX_DEPTH, objects);
		cleanup_free char *deep = nested(OCI_JSON_MAX_DEPTH + 1, objects);
		json_t *v = parse(ok, &e);
		ck_assert_msg(v != NULL, "depth 64: %s", e.msg);
		json_decref(v);
		refused(deep, strlen(deep), "nesting deeper than the limit of 64");
	}
	/* Deeper than jansson's own limit: refused the same way. */
	size_t n = 100000;
	cleanup_free char *brackets = xmalloc(n);
	memset(brackets, '[', n);
	refused(brackets, n, "nesting deeper than the limit of 64");

	cleanup_free char *most = values(OCI_JSON_MAX_VALUES);
	cleanup_free char *more = values(OCI_JSON_MAX_VALUES + 1);
	json_t *v = parse(most, &e);
	ck_assert_msg(v != NULL, "%s", e.msg);
	ck_assert_uint_eq(json_array_size(v), OCI_JSON_MAX_VALUES - 1);
	json_decref(v);
	refused(more, strlen(more), "more values than the limit of 200000");

	/* The size is checked before parsing: 4 MiB of a valid document passes,
	 * one more byte does not. */
	cleanup_free char *big = xmalloc(OCI_JSON_MAX_BYTES + 1);
	memset(big, ' ', OCI_JSON_MAX_BYTES + 1);
	memcpy(big, "[]", 2);
	v = oci_json_parse(big, OCI_JSON_MAX_BYTES, &e);
	ck_assert_msg(v != NULL, "%s", e.msg);
	json_decref(v);
	refused(big, OCI_JSON_MAX_BYTES + 1, "exceeds the limit of 4194304");
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

/* The archive of f is refused (InvalidArgument) for linux/amd64 with why. */
static void archive_refused(struct fake_archive *f, const char *why)
{
	struct oci_platform p;
	struct oci_image img;
	struct err e;
	cleanup_free char *path = write_archive(f);
	oci_parse_platform("linux/amd64", &p);
	ck_assert_int_eq(read_image(path, &p, &img, &e), -1);
	ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
	ck_assert_msg(strstr(e.msg, why), "want `%s`: %s", why, e.msg);
	unlink(path);
}

/* A document of the wrong shape is refused, saying which member is wrong. */
START_TEST(archive_wrong_types)
{
#define D "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
	static const struct {
		const char *index, *why;
	} cases[] = {
	    {"[]", "has no `manifests` array"},
	    {"{\"manifests\":{}}", "has no `manifests` array"},
	    {"{\"manifests\":[\"" D "\"]}", "a descriptor in index.json has no valid sha256 digest"},
	    {"{\"manifests\":[{\"digest\":12,\"size\":12}]}",
	     "a descriptor in index.json has no valid sha256"},
	    {"{\"manifests\":[{\"digest\":\"" D "\",\"size\":\"12\"}]}",
	     "`" D "` in index.json has no valid size"},
	    {"{\"manifests\":[{\"digest\":\"" D "\",\"size\":12.0}]}",
	     "`" D "` in index.json has no valid size"},
	    {"{\"manifests\":[{\"digest\":\"" D "\",\"size\":-1}]}",
	     "`" D "` in index.json has no valid size"},
	};
#undef D
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fake_archive f = {0};
		add_file(&f, "index.json", cases[i].index, strlen(cases[i].index));
		archive_refused(&f, cases[i].why);
	}

	/* A manifest whose layers are no array; a config whose diff ID is a number. */
	static const char *const why[] = {"has no `layers` array", "diff ID 0 of the config"};
	for (size_t i = 0; i < ARRAY_SIZE(why); i++) {
		struct fake_archive f = {0};
		cleanup_free char *cfg = NULL, *layer = NULL, *man = NULL;
		add_blob(&f, "layer zero", &layer);
		add_blob(&f,
			 "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
			 "\"diff_ids\":[7]}}",
			 &cfg);
		cleanup_free char *layers =
		    i == 0 ? xstrdup("\"layers\":{}")
			   : xasprintf("\"layers\":[{\"mediaType\":\"%s\",%s}]", GZ, layer);
		cleanup_free char *manifest = xasprintf("{\"config\":{%s},%s}", cfg, layers);
		add_blob(&f, manifest, &man);
		cleanup_free char *top = xasprintf("{\"manifests\":[{%s}]}", man);
		add_file(&f, "index.json", top, strlen(top));
		archive_refused(&f, why[i]);
	}
}
END_TEST

static Suite *oci_suite(void)
{
	Suite *s = suite_create("oci_archive");
	TCase *j = tcase_create("json");
	tcase_add_test(j, json_good_document);
	tcase_add_test(j, json_refuses_malformed);
	tcase_add_test(j, json_limits);
	suite_add_tcase(s, j);
	TCase *o = tcase_create("oci");
	tcase_add_test(o, platforms);
	tcase_add_test(o, chain_ids_and_layer_types);
	tcase_add_test(o, archive_nested_index_by_platform);
	tcase_add_test(o, archive_platform_from_config);
	tcase_add_test(o, archive_refusals);
	tcase_add_test(o, archive_wrong_types);
	suite_add_tcase(s, o);
	return s;
}

int main(void)
{
	return run_suite(oci_suite());
}
