/* OCI image archives (oci_archive.h): entries are found by streaming the
 * tar with libarchive, one pass per document or blob.  Image archives are
 * plain tars in practice, where libarchive skips entry data with lseek, so
 * a pass costs little more than reading the headers.  Only the tar format
 * and the gzip filter are enabled: what OCI image archives are, decoded in
 * this process (never by a program libarchive would run). */
#include "oci_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci_json.h"
#include "../common/layer.h"
#include "../common/sha256.h"
#include "../common/util.h"

/* index.json -> image index -> image index -> manifest is as deep as real
 * archives go; more is refused rather than followed. */
#define OCI_MAX_NESTING 4

#define MT_OCI_INDEX	   "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST	   "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST	   "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

/* ---- small pieces ---------------------------------------------------------- */

int oci_layer_type_supported(const char *mt)
{
	return layer_media_type_known(mt);
}

/* The documents are small: common/sha256.c, which needs no library
 * initialisation (and so no file) in the sandboxed parser. */
static void sha256_hex(const void *data, size_t len, char out[OCI_DIGEST_LEN])
{
	unsigned char md[32];
	sha256(data, len, md);
	digest_format(out, md);
}

void oci_chain_id(const char *parent, const char *diff_id, char out[OCI_DIGEST_LEN])
{
	if (!parent) {
		snprintf(out, OCI_DIGEST_LEN, "%s", diff_id);
		return;
	}
	cleanup_free char *s = xasprintf("%s %s", parent, diff_id);
	sha256_hex(s, strlen(s), out);
}

/* ---- platforms ------------------------------------------------------------- */

/* GOARCH names for the spellings people use; variant set when implied. */
static void normalize_arch(struct oci_platform *p)
{
	static const struct {
		const char *from, *arch, *variant;
	} aliases[] = {{"x86_64", "amd64", ""}, {"x86-64", "amd64", ""}, {"aarch64", "arm64", ""},
		       {"i386", "386", ""},	{"i686", "386", ""},	 {"armhf", "arm", "v7"},
		       {"armel", "arm", "v6"},	{"armv7l", "arm", "v7"}, {"armv6l", "arm", "v6"}};
	for (size_t i = 0; i < ARRAY_SIZE(aliases); i++) {
		if (strcmp(p->arch, aliases[i].from) != 0)
			continue;
		snprintf(p->arch, sizeof p->arch, "%s", aliases[i].arch);
		if (!p->variant[0])
			snprintf(p->variant, sizeof p->variant, "%s", aliases[i].variant);
	}
}

int oci_parse_platform(const char *s, struct oci_platform *p)
{
	char *parts[3] = {p->os, p->arch, p->variant};
	size_t sizes[3] = {sizeof p->os, sizeof p->arch, sizeof p->variant};
	memset(p, 0, sizeof *p);
	for (int i = 0; i < 3; i++) {
		size_t n = strcspn(s, "/");
		if (n == 0 || n >= sizes[i])
			return -1;
		for (size_t k = 0; k < n; k++)
			parts[i][k] = (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] - 'A' + 'a' : s[k]);
		s += n;
		if (!*s)
			break;
		if (i == 2)
			return -1; /* a fourth part */
		s++;
	}
	if (!p->arch[0])
		return -1;
	normalize_arch(p);
	return 0;
}

void oci_default_platform(struct oci_platform *p)
{
	const char *arch =
#if defined(__x86_64__)
	    "amd64";
#elif defined(__aarch64__)
	    "arm64";
#elif defined(__arm__)
	    "arm";
#elif defined(__i386__)
	    "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	    "ppc64le";
#elif defined(__s390x__)
	    "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
	    "riscv64";
#else
	    "amd64";
#endif
	memset(p, 0, sizeof *p);
	snprintf(p->os, sizeof p->os, "linux");
	snprintf(p->arch, sizeof p->arch, "%s", arch);
}

/* containerd treats arm64 without a variant as v8 and arm as v7. */
static const char *norm_variant(const char *arch, const char *variant)
{
	if (variant && *variant)
		return variant;
	if (strcmp(arch, "arm64") == 0)
		return "v8";
	if (strcmp(arch, "arm") == 0)
		return "v7";
	return "";
}

int oci_platform_match(const struct oci_platform *want, const char *os, const char *arch, const char *variant)
{
	if (!os || !arch || strcmp(want->os, os) != 0 || strcmp(want->arch, arch) != 0)
		return 0;
	if (!want->variant[0])
		return 1;
	return strcmp(norm_variant(want->arch, want->variant), norm_variant(arch, variant)) == 0;
}

void oci_platform_format(const struct oci_platform *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
}

/* ---- finding entries ------------------------------------------------------- */

/* The entry's name without leading "./" (archives made with `tar -C dir .`). */
static const char *entry_name(struct archive_entry *ent)
{
	const char *n = archive_entry_pathname(ent);
	while (n && n[0] == '.' && n[1] == '/')
		n += 2;
	return n ? n : "";
}

#define FORMAT_HINT " (strata import reads OCI image archives as tar or gzip-compressed tar only)"

/* A new reader at the start of the archive (a regular file: the jobs of
 * one import share its offset, and each pass begins at 0). */
static struct archive *archive_start(struct oci_archive *ar, struct err *e)
{
	if (lseek(ar->fd, 0, SEEK_SET) != 0) {
		err_errno(e, ST_INVALID_ARGUMENT, errno, "rewind image archive `%s`", ar->path);
		return NULL;
	}
	struct archive *a = archive_read_new();
	/* ARCHIVE_WARN from a filter means it would run an external program. */
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(a) != ARCHIVE_OK) {
		err_set(e, ST_INTERNAL, "libarchive reads no tar or has no built-in gzip: %s",
			archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	/* EILSEQ is libarchive's ARCHIVE_ERRNO_FILE_FORMAT on Linux: no reader
	 * (format or filter) recognised the data. */
	if (archive_read_open_fd(a, ar->fd, 64 * 1024) != ARCHIVE_OK) {
		err_set(e, ST_INVALID_ARGUMENT, "open image archive `%s`: %s%s", ar->path,
			archive_error_string(a), archive_errno(a) == EILSEQ ? FORMAT_HINT : "");
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* Advances to the first entry called name.  Not there: NotFound; not a
 * regular file or not `size` bytes: InvalidArgument. */
static int open_entry(struct oci_archive *ar, const char *name, int64_t size, struct archive **out,
		      struct err *e)
{
	const char *path = ar->path;
	struct archive *a = archive_start(ar, e);
	struct archive_entry *ent;
	int r;
	if (!a)
		return -1;
	while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (strcmp(entry_name(ent), name) != 0)
			continue;
		if (archive_entry_filetype(ent) != AE_IFREG)
			err_set(e, ST_INVALID_ARGUMENT, "`%s` in `%s` is not a regular file", name, path);
		else if (size >= 0 && archive_entry_size(ent) != size)
			err_set(e, ST_INVALID_ARGUMENT,
				"`%s` in `%s` has %lld bytes, its descriptor says %lld", name, path,
				(long long)archive_entry_size(ent), (long long)size);
		else {
			*out = a;
			return 0;
		}
		archive_read_free(a);
		return -1;
	}
	if (r == ARCHIVE_EOF)
		err_set(e, ST_NOT_FOUND, "`%s` is not in image archive `%s`", name, path);
	else
		err_set(e, ST_INVALID_ARGUMENT, "read image archive `%s`: %s", path, archive_error_string(a));
	archive_read_free(a);
	return -1;
}

int oci_blob_open(struct oci_archive *ar, const char *digest, int64_t size, struct archive **out,
		  struct err *e)
{
	if (!digest_valid(digest))
		return err_set(e, ST_INVALID_ARGUMENT, "unsupported or malformed digest `%s` in `%s`", digest,
			       ar->path);
	cleanup_free char *name = xasprintf("blobs/sha256/%s", digest + 7);
	return open_entry(ar, name, size, out, e);
}

/* Reads a whole entry into a NUL-terminated buffer.  Manifests and configs
 * are a few KiB: OCI_JSON_MAX_BYTES bounds what a hostile archive can make
 * the parser hold per document. */
static char *read_entry(struct archive *a, const char *path, const char *name, size_t *len, struct err *e)
{
	size_t cap = 64 * 1024, n = 0;
	char *buf = xmalloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap >= OCI_JSON_MAX_BYTES) {
				free(buf);
				err_set(e, ST_INVALID_ARGUMENT, "`%s` in `%s` is larger than %u bytes", name,
					path, OCI_JSON_MAX_BYTES);
				return NULL;
			}
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		la_ssize_t r = archive_read_data(a, buf + n, cap - n);
		if (r < 0) {
			err_set(e, ST_INVALID_ARGUMENT, "read `%s` in `%s`: %s", name, path,
				archive_error_string(a));
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

/* Reads a JSON file that is not a blob (index.json). */
static json_t *load_file_json(struct oci_archive *ar, const char *name, struct err *e)
{
	const char *path = ar->path;
	struct archive *a;
	size_t len;
	if (open_entry(ar, name, -1, &a, e) < 0)
		return NULL;
	cleanup_free char *text = read_entry(a, path, name, &len, e);
	archive_read_free(a);
	if (!text)
		return NULL;
	json_t *v = oci_json_parse(text, len, e);
	if (!v)
		err_wrap(e, "`%s` in `%s`", name, path);
	return v;
}

/* Reads blob digest (of size bytes), checks its digest, parses it. */
static json_t *load_blob_json(struct oci_archive *ar, const char *digest, int64_t size, struct err *e)
{
	const char *path = ar->path;
	struct archive *a;
	size_t len;
	char got[OCI_DIGEST_LEN];
	if (oci_blob_open(ar, digest, size, &a, e) < 0)
		return NULL;
	cleanup_free char *text = read_entry(a, path, digest, &len, e);
	archive_read_free(a);
	if (!text)
		return NULL;
	sha256_hex(text, len, got);
	if (strcmp(got, digest) != 0) {
		err_set(e, ST_INVALID_ARGUMENT, "blob `%s` in `%s` has digest `%s`", digest, path, got);
		return NULL;
	}
	json_t *v = oci_json_parse(text, len, e);
	if (!v)
		err_wrap(e, "blob `%s` in `%s`", digest, path);
	return v;
}

/* ---- choosing the manifest ------------------------------------------------- */

struct resolve {
	struct oci_archive *ar;
	const char *path;
	const struct oci_platform *want;
	json_t *manifest, *config; /* the chosen ones, owned */
	char *manifest_digest, *config_digest;
};

static int is_index_type(const char *mt)
{
	return strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0;
}

static int is_manifest_type(const char *mt)
{
	return strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0;
}

/* The string member key of obj: NULL when obj is no object, or its key is
 * missing or no string. */
static const char *str_member(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* The array member key of obj, or NULL. */
static const json_t *array_member(const json_t *obj, const char *key)
{
	const json_t *a = json_object_get(obj, key);
	return json_is_array(a) ? a : NULL;
}

/* A descriptor's digest and size (both required); *mt may become NULL. */
static int descriptor(const json_t *d, const char *where, const char **mt, const char **digest, int64_t *size,
		      struct err *e)
{
	const json_t *sz = json_object_get(d, "size");
	*mt = str_member(d, "mediaType");
	*digest = str_member(d, "digest");
	if (!digest_valid(*digest))
		return err_set(e, ST_INVALID_ARGUMENT, "a descriptor in %s has no valid sha256 digest",
			       where);
	if (!json_is_integer(sz) || (*size = json_integer_value(sz)) < 0)
		return err_set(e, ST_INVALID_ARGUMENT, "descriptor `%s` in %s has no valid size", *digest,
			       where);
	return 0;
}

/* Loads the config of manifest doc; keeps both when the config's platform
 * matches (or check_platform is 0: the index said it matches).  1 kept, 0
 * another platform, -1 error. */
static int try_manifest(struct resolve *r, json_t *doc, const char *digest, int check_platform, struct err *e)
{
	const char *mt, *cdigest;
	int64_t csize;
	const json_t *cd = json_object_get(doc, "config");
	cleanup_free char *where = xasprintf("manifest `%s`", digest);
	if (!cd || descriptor(cd, where, &mt, &cdigest, &csize, e) < 0)
		return cd ? -1 : err_set(e, ST_INVALID_ARGUMENT, "manifest `%s` has no config", digest);
	json_t *cfg = load_blob_json(r->ar, cdigest, csize, e);
	if (!cfg)
		return -1;
	if (check_platform &&
	    !oci_platform_match(r->want, str_member(cfg, "os"), str_member(cfg, "architecture"),
				str_member(cfg, "variant"))) {
		json_decref(cfg);
		return 0;
	}
	r->manifest = doc;
	r->config = cfg;
	r->manifest_digest = xstrdup(digest);
	r->config_digest = xstrdup(cdigest);
	return 1;
}

static int walk_index(struct resolve *r, const json_t *index, const char *where, int depth, struct err *e);

/* One entry of an index: 1 chosen, 0 not for this platform, -1 error. */
static int walk_descriptor(struct resolve *r, const json_t *d, const char *where, int depth, struct err *e)
{
	const char *mt, *digest;
	int64_t size;
	if (descriptor(d, where, &mt, &digest, &size, e) < 0)
		return -1;
	const json_t *plat = json_object_get(d, "platform");
	if (plat && !oci_platform_match(r->want, str_member(plat, "os"), str_member(plat, "architecture"),
					str_member(plat, "variant")))
		return 0;
	if (mt && !is_index_type(mt) && !is_manifest_type(mt))
		return 0; /* not an image (e.g. a signature or an artifact) */
	json_t *doc = load_blob_json(r->ar, digest, size, e);
	if (!doc)
		return -1;
	/* Without a media type in the descriptor, the document says what it is. */
	const char *kind = mt ? mt : str_member(doc, "mediaType");
	int rc;
	if ((kind && is_index_type(kind)) || (!kind && array_member(doc, "manifests"))) {
		if (depth + 1 >= OCI_MAX_NESTING) {
			rc = err_set(e, ST_INVALID_ARGUMENT, "image indexes in `%s` nest deeper than %d",
				     r->path, OCI_MAX_NESTING);
		} else {
			cleanup_free char *w = xasprintf("image index `%s`", digest);
			rc = walk_index(r, doc, w, depth + 1, e);
		}
		json_decref(doc);
		return rc;
	}
	rc = try_manifest(r, doc, digest, plat == NULL, e);
	if (rc <= 0)
		json_decref(doc);
	return rc;
}

/* The first descriptor, in order, that leads to a manifest for the platform. */
static int walk_index(struct resolve *r, const json_t *index, const char *where, int depth, struct err *e)
{
	const json_t *ms = array_member(index, "manifests");
	if (!ms)
		return err_set(e, ST_INVALID_ARGUMENT, "%s in `%s` has no `manifests` array", where, r->path);
	for (size_t i = 0; i < json_array_size(ms); i++) {
		int rc = walk_descriptor(r, json_array_get(ms, i), where, depth, e);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- the image ------------------------------------------------------------- */

static int layer_from(struct oci_layer *l, const json_t *d, const json_t *diff_id, const char *where,
		      size_t i, struct err *e)
{
	const char *mt, *digest;
	int64_t size;
	if (descriptor(d, where, &mt, &digest, &size, e) < 0)
		return -1;
	if (!mt || !oci_layer_type_supported(mt))
		return err_set(
		    e, ST_UNIMPLEMENTED,
		    "layer %zu (`%s`) of %s has media type `%s`, which is not a layer type strata unpacks", i,
		    digest, where, mt ? mt : "(none)");
	if (!digest_valid(json_string_value(diff_id)))
		return err_set(e, ST_INVALID_ARGUMENT,
			       "diff ID %zu of the config of %s is not a sha256 digest", i, where);
	l->digest = xstrdup(digest);
	l->size = size;
	l->media_type = xstrdup(mt);
	l->diff_id = xstrdup(json_string_value(diff_id));
	return 0;
}

static int image_from(struct resolve *r, struct oci_image *img, struct err *e)
{
	cleanup_free char *where = xasprintf("manifest `%s`", r->manifest_digest);
	const json_t *layers = array_member(r->manifest, "layers");
	const json_t *rootfs = json_object_get(r->config, "rootfs");
	const json_t *diff_ids = array_member(rootfs, "diff_ids");
	const char *rtype = str_member(rootfs, "type");
	size_t n = json_array_size(layers);
	if (!layers)
		return err_set(e, ST_INVALID_ARGUMENT, "%s has no `layers` array", where);
	if (!diff_ids || !rtype || strcmp(rtype, "layers") != 0)
		return err_set(e, ST_INVALID_ARGUMENT,
			       "config `%s` has no rootfs of type `layers` with diff_ids", r->config_digest);
	if (json_array_size(diff_ids) != n)
		return err_set(e, ST_INVALID_ARGUMENT, "%s has %zu layers but its config %zu diff IDs", where,
			       n, json_array_size(diff_ids));
	if (n == 0)
		return err_set(e, ST_INVALID_ARGUMENT, "%s has no layers", where);
	img->layers = xcalloc(n, sizeof *img->layers);
	for (size_t i = 0; i < n; i++) {
		if (layer_from(&img->layers[i], json_array_get(layers, i), json_array_get(diff_ids, i), where,
			       i, e) < 0)
			return -1;
		img->nlayers++;
	}
	img->manifest_digest = steal_pointer(&r->manifest_digest);
	img->config_digest = steal_pointer(&r->config_digest);
	const char *os = str_member(r->config, "os"), *arch = str_member(r->config, "architecture");
	const char *variant = str_member(r->config, "variant");
	snprintf(img->platform.os, sizeof img->platform.os, "%s", os ? os : "");
	snprintf(img->platform.arch, sizeof img->platform.arch, "%s", arch ? arch : "");
	snprintf(img->platform.variant, sizeof img->platform.variant, "%s", variant ? variant : "");
	return 0;
}

int oci_read_image(struct oci_archive *ar, const struct oci_platform *want, struct oci_image *img,
		   struct err *e)
{
	const char *path = ar->path;
	struct resolve r = {.ar = ar, .path = path, .want = want};
	int rc = -1;
	memset(img, 0, sizeof *img);
	json_t *index = load_file_json(ar, "index.json", e);
	if (!index) {
		if (e->code == ST_NOT_FOUND)
			err_set(e, ST_INVALID_ARGUMENT,
				"`%s` is not an OCI image archive: it has no index.json", path);
		return -1;
	}
	int found = walk_index(&r, index, "index.json", 0, e);
	json_decref(index);
	if (found == 0) {
		char p[100];
		oci_platform_format(want, p, sizeof p);
		err_set(e, ST_NOT_FOUND, "image archive `%s` has no image for platform %s", path, p);
	} else if (found > 0) {
		rc = image_from(&r, img, e);
	}
	json_decref(r.manifest);
	json_decref(r.config);
	free(r.manifest_digest);
	free(r.config_digest);
	if (rc < 0)
		oci_image_free(img);
	return rc;
}

void oci_image_free(struct oci_image *img)
{
	for (size_t i = 0; i < img->nlayers; i++) {
		free(img->layers[i].digest);
		free(img->layers[i].media_type);
		free(img->layers[i].diff_id);
	}
	free(img->layers);
	free(img->manifest_digest);
	free(img->config_digest);
	memset(img, 0, sizeof *img);
}
