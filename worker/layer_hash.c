/* OpenSSL's implicit initialisation, the first time EVP_sha256() is used,
 * reads the host's openssl.cnf, registers every legacy cipher and digest
 * name and activates the providers the configuration names: about 5 ms of
 * CPU here, in a process that is exec'd for every job and hashes with one
 * algorithm (README, Performance).  A layer's digests are content
 * addresses, computed as containerd's Go code computes them, whatever the
 * host's OpenSSL configuration says; so the worker initialises OpenSSL with
 * no configuration and no legacy names, and fetches SHA-256 from the
 * default provider once, explicitly. */
#include "layer_hash.h"

#include <openssl/crypto.h>
#include <pthread.h>

static EVP_MD *sha256_md;
static pthread_once_t loaded = PTHREAD_ONCE_INIT;

static void load(void)
{
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
				    OPENSSL_INIT_NO_ADD_ALL_DIGESTS,
				NULL) == 1)
		sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void layer_hash_preload(void)
{
	pthread_once(&loaded, load);
}

EVP_MD_CTX *layer_hash_new(void)
{
	layer_hash_preload();
	if (!sha256_md)
		return NULL;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c && EVP_DigestInit_ex(c, sha256_md, NULL) != 1) {
		EVP_MD_CTX_free(c);
		return NULL;
	}
	return c;
}
