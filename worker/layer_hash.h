/* SHA-256 of layer streams (the digest and the diff ID of an apply or a
 * diff), with OpenSSL's implementation: the one a worker job hashes its
 * whole layer with, SHA-NI or AVX2 where the CPU has them. */
#ifndef STRATA_WORKER_LAYER_HASH_H
#define STRATA_WORKER_LAYER_HASH_H

#include <openssl/evp.h>

/* Initialises OpenSSL without its configuration file and fetches SHA-256
 * from the default provider, once: call it before confinement (it is what
 * a first layer_hash_new would do, and needs no file).  Idempotent,
 * thread-safe. */
void layer_hash_preload(void);

/* A fresh context hashing SHA-256, or NULL when OpenSSL fails. */
EVP_MD_CTX *layer_hash_new(void);

#endif
