/* OCI image archives for the unit tests of the archive reader and the
 * import parser: entries collected in memory, then written to a temp file
 * as a pax tar (optionally gzip-compressed) with libarchive's write side.
 * Include it after check.h. */
#ifndef STRATA_TESTS_OCI_FIXTURE_H
#define STRATA_TESTS_OCI_FIXTURE_H

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/oci_archive.h"
#include "common/layer.h"
#include "common/sha256.h"
#include "common/util.h"

/* Where archives are written (a test may point it at a directory of its
 * own, which it removes even when a test fails). */
static const char *oci_fixture_dir = "/tmp";

struct entry {
	char *name, *data;
	size_t len;
};

struct fake_archive {
	struct entry *e;
	size_t n;
};

static inline void digest_of(const char *data, size_t len, char out[OCI_DIGEST_LEN])
{
	unsigned char md[32];
	sha256(data, len, md);
	digest_format(out, md);
}

static inline void add_file(struct fake_archive *f, const char *name, const char *data, size_t len)
{
	f->e = xrealloc(f->e, (f->n + 1) * sizeof *f->e);
	f->e[f->n].name = xstrdup(name);
	f->e[f->n].data = xmalloc(len + 1);
	memcpy(f->e[f->n].data, data, len);
	f->e[f->n++].len = len;
}

/* Adds a blob of len bytes; *desc gets `"digest":"...","size":N`. */
static inline void add_blob_len(struct fake_archive *f, const char *data, size_t len, char **desc)
{
	char d[OCI_DIGEST_LEN];
	digest_of(data, len, d);
	cleanup_free char *name = xasprintf("./blobs/sha256/%s", d + 7);
	add_file(f, name, data, len);
	*desc = xasprintf("\"digest\":\"%s\",\"size\":%zu", d, len);
}

static inline void add_blob(struct fake_archive *f, const char *data, char **desc)
{
	add_blob_len(f, data, strlen(data), desc);
}

/* Writes the entries (and forgets them) to a new temp file, compressed
 * with gzip when asked; returns its path (free it, unlink the file).  Names
 * are UTF-8: pax headers carry those that are not ASCII (written in a UTF-8
 * locale, then back to the C locale the CLI runs in). */
static inline char *write_archive_as(struct fake_archive *f, int gzip)
{
	char *path = xasprintf("%s/strata-test-oci-XXXXXX", oci_fixture_dir);
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		abort();
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (gzip)
		ck_assert_int_eq(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open_fd(a, fd), ARCHIVE_OK);
	for (size_t i = 0; i < f->n; i++) {
		struct archive_entry *ent = archive_entry_new();
		archive_entry_set_pathname_utf8(ent, f->e[i].name);
		archive_entry_set_filetype(ent, AE_IFREG);
		archive_entry_set_perm(ent, 0644);
		archive_entry_set_size(ent, (la_int64_t)f->e[i].len);
		ck_assert_int_eq(archive_write_header(a, ent), ARCHIVE_OK);
		ck_assert_int_eq(archive_write_data(a, f->e[i].data, f->e[i].len), (la_ssize_t)f->e[i].len);
		archive_entry_free(ent);
		free(f->e[i].name);
		free(f->e[i].data);
	}
	free(f->e);
	f->e = NULL;
	f->n = 0;
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	setlocale(LC_CTYPE, "C");
	close(fd);
	return path;
}

static inline char *write_archive(struct fake_archive *f)
{
	return write_archive_as(f, 0);
}

/* The manifest of layers[0..n) (descriptors as from add_blob) and a config
 * for arch whose diff IDs are diff_ids[0..n), with config_extra (members
 * for the config object, "" for none); both added as blobs.  Returns the
 * manifest's descriptor, with a platform when with_platform;
 * *manifest_digest gets its digest. */
static inline char *add_manifest(struct fake_archive *f, const char *arch, const char *layer_type,
				 char **layers, char **diff_ids, size_t n, const char *config_extra,
				 int with_platform, char **manifest_digest)
{
	char *ls = xstrdup(""), *ids = xstrdup(""), *tmp;
	for (size_t i = 0; i < n; i++) {
		tmp = xasprintf("%s%s{\"mediaType\":\"%s\",%s}", ls, i ? "," : "", layer_type, layers[i]);
		free(ls);
		ls = tmp;
		tmp = xasprintf("%s%s\"%s\"", ids, i ? "," : "", diff_ids[i]);
		free(ids);
		ids = tmp;
	}
	cleanup_free char *cfg = NULL, *man = NULL;
	cleanup_free char *config = xasprintf(
	    "{%s\"architecture\":\"%s\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s]}}",
	    config_extra, arch, ids);
	add_blob(f, config, &cfg);
	cleanup_free char *manifest =
	    xasprintf("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		      "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",%s},"
		      "\"layers\":[%s]}",
		      cfg, ls);
	free(ls);
	free(ids);
	add_blob(f, manifest, &man);
	char d[OCI_DIGEST_LEN];
	digest_of(manifest, strlen(manifest), d);
	*manifest_digest = xstrdup(d);
	if (!with_platform)
		return xasprintf("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",%s}", man);
	return xasprintf("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",%s,"
			 "\"platform\":{\"os\":\"linux\",\"architecture\":\"%s\"}}",
			 man, arch);
}

/* One image for (arch, layer type): layer blobs "layer zero ARCH", "layer
 * one ARCH"; diff IDs fake (the reader does not check them, the daemon
 * does).  Returns the manifest's descriptor. */
static inline char *add_image(struct fake_archive *f, const char *arch, const char *layer_type,
			      int with_platform, char **manifest_digest)
{
	cleanup_free char *l0 = NULL, *l1 = NULL;
	cleanup_free char *ld0 = xasprintf("layer zero %s", arch), *ld1 = xasprintf("layer one %s", arch);
	add_blob(f, ld0, &l0);
	add_blob(f, ld1, &l1);
	char *layers[] = {l0, l1};
	char *ids[] = {"sha256:1111111111111111111111111111111111111111111111111111111111111111",
		       "sha256:2222222222222222222222222222222222222222222222222222222222222222"};
	return add_manifest(f, arch, layer_type, layers, ids, 2, "", with_platform, manifest_digest);
}

/* index.json naming descriptor desc (the whole archive's entry point). */
static inline void add_index(struct fake_archive *f, const char *desc)
{
	cleanup_free char *top = xasprintf("{\"schemaVersion\":2,\"manifests\":[%s]}", desc);
	add_file(f, "index.json", top, strlen(top));
}

#endif
