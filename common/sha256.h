/* SHA-256 (FIPS 180-4) for the metadata store's keys of long snapshot names.
 * The broker hashes nothing else, and linking libcrypto for this one use
 * cost the parent and the broker 1.4 MiB of resident memory each; layer
 * digests (workers, CLI) use OpenSSL's optimised implementation.  The
 * import parser checks image documents with it too: it needs no library
 * initialisation, which would open files in its sandbox. */
#ifndef STRATA_SHA256_H
#define STRATA_SHA256_H

#include <stddef.h>
#include <stdint.h>

void sha256(const void *data, size_t len, unsigned char out[32]);

#endif
