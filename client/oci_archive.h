/* Reading an OCI image archive (a tar holding oci-layout, index.json and
 * blobs/sha256/HEX, as `ctr images export`, `skopeo copy oci-archive:` and
 * recent `docker save` write) for `strata import`: choose the manifest for
 * a platform (following nested image indexes), read its config, list the
 * layers with their diff IDs, and open one blob for streaming.
 *
 * The archive is untrusted: these functions run only in the import parser
 * (import_parser.h), a sandboxed process.  Every JSON blob read is checked
 * against its digest and size before it is parsed (oci_json.h, strict and
 * bounded); layers are checked by the daemon (expected digest) and by the
 * caller (diff ID). */
#ifndef STRATA_CLIENT_OCI_ARCHIVE_H
#define STRATA_CLIENT_OCI_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"

struct archive;

/* "sha256:" + 64 lowercase hex digits + NUL */
#define OCI_DIGEST_LEN 72

struct oci_platform {
	char os[32], arch[32], variant[32]; /* variant "" matches any */
};

struct oci_layer {
	char *digest; /* "sha256:HEX" of the blob as stored */
	int64_t size;
	char *media_type;
	char *diff_id; /* the config's rootfs.diff_ids[i] */
};

struct oci_image {
	char *manifest_digest, *config_digest;
	struct oci_platform platform; /* the config's */
	struct oci_layer *layers;     /* bottom first */
	size_t nlayers;
};

/* "OS/ARCH[/VARIANT]", with the usual aliases (x86_64 -> amd64, aarch64 ->
 * arm64, ...).  Malformed: -1. */
int oci_parse_platform(const char *s, struct oci_platform *p);
/* linux and the architecture this CLI was built for. */
void oci_default_platform(struct oci_platform *p);
/* Whether os/arch/variant (variant may be NULL or "") satisfies want. */
int oci_platform_match(const struct oci_platform *want, const char *os, const char *arch,
		       const char *variant);
void oci_platform_format(const struct oci_platform *p, char *buf, size_t len);

/* Layer media types containerd unpacks (OCI tar, +gzip, +zstd, their
 * non-distributable forms, Docker's rootfs diff tar and tar.gzip). */
int oci_layer_type_supported(const char *media_type);
/* containerd's identity.ChainID step: parent NULL gives diff_id itself,
 * else sha256(parent + " " + diff_id) as "sha256:HEX". */
void oci_chain_id(const char *parent, const char *diff_id, char out[OCI_DIGEST_LEN]);

/* An open archive: fd, a regular file read once per document or blob from
 * its start, and its name for messages. */
struct oci_archive {
	int fd;
	const char *path;
};

/* Reads the image for want out of the archive.  No matching manifest:
 * NotFound; unsupported layer media type: Unimplemented; malformed archive
 * or documents, or an archive that is neither a tar nor a gzip-compressed
 * tar: InvalidArgument. */
int oci_read_image(struct oci_archive *ar, const struct oci_platform *want, struct oci_image *img,
		   struct err *e);
void oci_image_free(struct oci_image *img);

/* Positions a new reader of the archive at blob digest's data (a regular
 * file entry of `size` bytes; size < 0: any).  Read it with
 * archive_read_data(); release with archive_read_free(). */
int oci_blob_open(struct oci_archive *ar, const char *digest, int64_t size, struct archive **out,
		  struct err *e);

#endif
