/* The low-level interface is deprecated in OpenSSL 3 (sha256.h says why it
 * is the one strata calls). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "sha256.h"

#include <openssl/sha.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(struct sha256_ctx), "SHA256_CTX fits sha256_ctx");
_Static_assert(_Alignof(SHA256_CTX) <= 8, "SHA256_CTX alignment");

void sha256_init(struct sha256_ctx *c)
{
	SHA256_Init((SHA256_CTX *)c->state);
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
	SHA256_Update((SHA256_CTX *)c->state, data, len);
}

void sha256_final(struct sha256_ctx *c, unsigned char out[32])
{
	SHA256_Final(out, (SHA256_CTX *)c->state);
}

/* Not OpenSSL's SHA256(), which OpenSSL 3 implements with EVP. */
void sha256(const void *data, size_t len, unsigned char out[32])
{
	struct sha256_ctx c;
	sha256_init(&c);
	sha256_update(&c, data, len);
	sha256_final(&c, out);
}
