/* Lowercase hexadecimal: how strata writes bytes as text, and the form of
 * every sha256 it names (content-store blobs and ingests, the HEX of
 * "sha256:HEX" digests). */
#ifndef STRATA_HEX_H
#define STRATA_HEX_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

/* Writes the 2 * n lowercase hex digits of raw[0..n) and a NUL to out. */
void hex_encode(const void *raw, size_t n, char *out);
/* 1 when s is exactly 64 lowercase hex digits followed by a NUL (a sha256
 * as strata writes it); 0 otherwise, for NULL too. */
int hex_sha256_valid(const char *s);

#endif
