/* libFuzzer target over OCI image archives as `strata import` reads them in
 * its parser: oci_read_image() (client/oci_archive.c) finds index.json,
 * follows image indexes to the manifest for a platform, reads its config
 * (every document through oci_json_parse(), client/oci_json.c), lists the
 * layers; then each layer's blob is opened and read as the parser streams
 * it, and the chain IDs computed as the CLI does.
 * Input: one byte (bit 0: raw mode; bits 1-2: the platform; bit 3: gzip),
 * then in raw mode the archive itself, else up to four documents separated
 * by NUL bytes: index.json, then blobs 1..3, written into a tar under their
 * digests.  In document k, "@j" becomes the digest of document j > k and
 * "#j" its size, so that descriptors can name blobs a fuzzer cannot hash. */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <string.h>

#include "client/oci_archive.h"
#include "client/oci_json.h"
#include "common/layer.h"
#include "common/sha256.h"
#include "common/util.h"
#include "fuzz.h"

#define NDOCS 4

static int g_fd = -1;

struct doc {
	char *text;
	size_t len;
	char digest[OCI_DIGEST_LEN];
};

/* Document k with "@j" and "#j" of the documents after it replaced. */
static void substitute(struct doc *d, int k, const struct doc *docs, int ndocs)
{
	size_t cap = d->len + 1, n = 0;
	char *out = xmalloc(cap);
	for (size_t i = 0; i < d->len; i++) {
		char c = d->text[i], add[OCI_DIGEST_LEN + 24];
		int j = i + 1 < d->len ? d->text[i + 1] - '0' : -1;
		if ((c == '@' || c == '#') && j > k && j < ndocs) {
			if (c == '@')
				snprintf(add, sizeof add, "%s", docs[j].digest);
			else
				snprintf(add, sizeof add, "%zu", docs[j].len);
			i++;
		} else {
			add[0] = c, add[1] = '\0';
		}
		size_t an = strlen(add);
		if (n + an + 1 > cap)
			out = xrealloc(out, cap = 2 * (n + an + 1));
		memcpy(out + n, add, an);
		n += an;
	}
	free(d->text);
	d->text = out;
	d->len = n;
}

static void add_entry(struct archive *a, const char *name, const char *data, size_t len)
{
	struct archive_entry *ent = archive_entry_new();
	archive_entry_set_pathname(ent, name);
	archive_entry_set_filetype(ent, AE_IFREG);
	archive_entry_set_perm(ent, 0644);
	archive_entry_set_size(ent, (la_int64_t)len);
	if (archive_write_header(a, ent) != ARCHIVE_OK || archive_write_data(a, data, len) != (la_ssize_t)len)
		fuzz_fail("write the archive: %s", archive_error_string(a));
	archive_entry_free(ent);
}

/* The archive of the documents, in g_fd. */
static void write_archive(const uint8_t *data, size_t size, int gzip)
{
	struct doc docs[NDOCS] = {0};
	int ndocs = 0;
	for (size_t off = 0; ndocs < NDOCS && off <= size; ndocs++) {
		const uint8_t *nul = memchr(data + off, 0, size - off);
		size_t len = nul ? (size_t)(nul - (data + off)) : size - off;
		docs[ndocs].text = xmalloc(len + 1);
		memcpy(docs[ndocs].text, data + off, len);
		docs[ndocs].len = len;
		off += len + 1;
	}
	for (int k = ndocs - 1; k >= 0; k--) {
		substitute(&docs[k], k, docs, ndocs);
		unsigned char md[32];
		sha256(docs[k].text, docs[k].len, md);
		digest_format(docs[k].digest, md);
	}
	fuzz_file_put(g_fd, "", 0);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (gzip)
		archive_write_add_filter_gzip(a);
	if (archive_write_open_fd(a, g_fd) != ARCHIVE_OK)
		fuzz_fail("open the archive: %s", archive_error_string(a));
	add_entry(a, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	add_entry(a, "index.json", docs[0].text, docs[0].len);
	for (int k = 1; k < ndocs; k++) {
		char name[100];
		snprintf(name, sizeof name, "blobs/sha256/%s", docs[k].digest + 7);
		add_entry(a, name, docs[k].text, docs[k].len);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		fuzz_fail("close the archive: %s", archive_error_string(a));
	archive_write_free(a);
	for (int k = 0; k < ndocs; k++)
		free(docs[k].text);
	lseek(g_fd, 0, SEEK_SET);
}

/* The blob of a layer, read to its end as the parser streams it. */
static void read_layer(struct oci_archive *ar, const struct oci_layer *l)
{
	struct archive *a;
	struct err e = {0};
	if (oci_blob_open(ar, l->digest, l->size, &a, &e) < 0) {
		fuzz_check_refusal("oci_blob_open", &e);
		return;
	}
	char buf[4096];
	la_ssize_t n;
	int64_t total = 0;
	while ((n = archive_read_data(a, buf, sizeof buf)) > 0)
		total += n;
	if (n == 0 && total != l->size)
		fuzz_fail("layer `%s` of %lld bytes read as %lld", l->digest, (long long)l->size,
			  (long long)total);
	archive_read_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const platforms[] = {"linux/amd64", "linux/arm64", "linux/arm/v7",
						"windows/amd64"};
	if (size < 1)
		return 0;
	if (g_fd < 0) {
		g_fd = fuzz_memfd("archive");
		json_object_seed(1);
	}
	struct oci_platform want;
	if (oci_parse_platform(platforms[(data[0] >> 1) & 3], &want) < 0)
		fuzz_fail("a platform of the table does not parse");
	if (data[0] & 1)
		fuzz_file_put(g_fd, data + 1, size - 1);
	else
		write_archive(data + 1, size - 1, data[0] & 8);

	struct oci_archive ar = {.fd = g_fd, .path = "fuzz.tar"};
	struct oci_image img;
	struct err e = {0};
	if (oci_read_image(&ar, &want, &img, &e) < 0) {
		fuzz_check_refusal("oci_read_image", &e);
		if (img.layers || img.nlayers || img.manifest_digest)
			fuzz_fail("a refused image left its parts");
		return 0;
	}
	if (!img.nlayers || !digest_valid(img.manifest_digest) || !digest_valid(img.config_digest))
		fuzz_fail("an image without layers or with bad digests");
	char chain[OCI_DIGEST_LEN], parent[OCI_DIGEST_LEN];
	for (size_t i = 0; i < img.nlayers; i++) {
		const struct oci_layer *l = &img.layers[i];
		if (!digest_valid(l->digest) || !digest_valid(l->diff_id) || l->size < 0 ||
		    !oci_layer_type_supported(l->media_type))
			fuzz_fail("layer %zu is not one strata can import", i);
		if (i)
			memcpy(parent, chain, sizeof chain);
		oci_chain_id(i ? parent : NULL, l->diff_id, chain);
		if (i < 2)
			read_layer(&ar, l);
	}
	oci_image_free(&img);
	return 0;
}
