/* The digest role: reads WORKER_FD_INPUT (a blob another worker wrote, opened
 * read-only by the parent) to its end and reports its SHA-256 and size.  The
 * diff service's Diff commits a blob into the content store only when this
 * independent reading matches what the diff worker said it wrote: a diff
 * worker that went wrong cannot put bytes under a digest they do not have. */
#include <errno.h>
#include <openssl/evp.h>
#include <unistd.h>

#include "roles.h"

int role_digest_run(int job_fd, const struct ipc_spawn *req)
{
	(void)req;
	static unsigned char buf[1 << 20];
	struct err e = {0};
	unsigned char md[32] = {0};
	uint64_t total = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		err_set(&e, ST_INTERNAL, "digest: sha256 init");
		return role_send_fail(job_fd, &e);
	}
	for (;;) {
		ssize_t n = read(WORKER_FD_INPUT, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_errno(&e, ST_INTERNAL, errno, "digest: read the blob");
			return role_send_fail(job_fd, &e);
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(c, buf, (size_t)n);
		total += (uint64_t)n;
	}
	EVP_DigestFinal_ex(c, md, NULL);
	EVP_MD_CTX_free(c);
	return role_send_layer(job_fd, md, md, total, total, 0);
}
