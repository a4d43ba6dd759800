/* What the daemon and the CLI agree on about layers: the media types
 * containerd applies, and sha256 digests in their "sha256:HEX" form. */
#ifndef STRATA_LAYER_H
#define STRATA_LAYER_H

#define DIGEST_LEN 71 /* "sha256:" and 64 lowercase hex digits */

/* OCI and Docker layer media types containerd's apply accepts. */
int layer_media_type_known(const char *mt);
/* The media types a layer is created in (as containerd's walking differ):
 * 0 for ...tar, 1 for ...tar+gzip (also for an empty type: the default), 2
 * for ...tar+zstd, -1 for any other. */
int layer_create_compression(const char *mt);
#define LAYER_MEDIA_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
/* Exactly "sha256:" and 64 lowercase hex digits. */
int digest_valid(const char *d);
/* "sha256:HEX" of a raw digest. */
void digest_format(char out[DIGEST_LEN + 1], const unsigned char raw[32]);

/* How a failed apply says that its layer file shrank under the extract
 * worker: the file ended before the size it had when the apply began
 * (worker/extract.c). */
#define LAYER_SHRANK "the layer file shrank while it was read: it was truncated or rewritten during the apply"

#endif
