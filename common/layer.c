#include "layer.h"

#include <string.h>

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
	if (!d || strncmp(d, "sha256:", 7) || strlen(d) != DIGEST_LEN)
		return 0;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

void digest_format(char out[DIGEST_LEN + 1], const unsigned char raw[32])
{
	static const char hex[] = "0123456789abcdef";
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[raw[i] >> 4];
		out[8 + 2 * i] = hex[raw[i] & 15];
	}
	out[DIGEST_LEN] = '\0';
}
