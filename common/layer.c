#include "layer.h"

#include <string.h>

#include "hex.h"
#include "util.h"

int layer_media_type_known(const char *mt)
{
	static const char *const known[] = {
	    "application/vnd.oci.image.layer.v1.tar",
	    "application/vnd.oci.image.layer.v1.tar+gzip",
	    "application/vnd.oci.image.layer.v1.tar+zstd",
	    "application/vnd.oci.image.layer.nondistributable.v1.tar",
	    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
	    "application/vnd.docker.image.rootfs.diff.tar",
	    "application/vnd.docker.image.rootfs.diff.tar.gzip",
	    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	};
	for (size_t i = 0; mt && i < ARRAY_SIZE(known); i++)
		if (!strcmp(mt, known[i]))
			return 1;
	return 0;
}

int layer_create_compression(const char *mt)
{
	static const char *const made[] = {
	    "application/vnd.oci.image.layer.v1.tar",
	    "application/vnd.oci.image.layer.v1.tar+gzip",
	    "application/vnd.oci.image.layer.v1.tar+zstd",
	};
	if (!mt || !mt[0])
		return 1;
	for (size_t i = 0; i < ARRAY_SIZE(made); i++)
		if (!strcmp(mt, made[i]))
			return (int)i;
	return -1;
}

int digest_valid(const char *d)
{
	return d && strncmp(d, "sha256:", 7) == 0 && hex_sha256_valid(d + 7);
}

void digest_format(char out[DIGEST_LEN + 1], const unsigned char raw[32])
{
	memcpy(out, "sha256:", 7);
	hex_encode(raw, 32, out + 7);
}
