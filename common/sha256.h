/* SHA-256 (FIPS 180-4), for everything strata hashes: a layer's digest and
 * diff ID (the workers), the blobs and image documents the CLI exports and
 * its import parser checks, a Diff's blob (the publisher), the metadata
 * store's keys of long snapshot names (the broker).
 *
 * It is OpenSSL's implementation (its SHA-NI or AVX2 assembly where the
 * CPU has them) through OpenSSL's low-level SHA256 functions, linked
 * statically from libcrypto.a: about 40 KiB of code that needs no
 * initialisation and opens no file, so a sandboxed process can call it at
 * any time.  libcrypto.so would cost every process that loads it 17000
 * relocations and 125 page faults (2.5 ms here), and EVP's first use
 * reads openssl.cnf and activates providers (3 ms more): processes that
 * start for every job and every command (README, Performance).  OpenSSL 3
 * marks these functions deprecated in favour of EVP; they remain in 3.x
 * and run the same code. */
#ifndef STRATA_SHA256_H
#define STRATA_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* A hash in progress: OpenSSL's SHA256_CTX (sha256.c checks the size). */
struct sha256_ctx {
	_Alignas(8) unsigned char state[112];
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* The digest of everything given since sha256_init; c must be initialised
 * again before another use. */
void sha256_final(struct sha256_ctx *c, unsigned char out[32]);

void sha256(const void *data, size_t len, unsigned char out[32]);

#endif
