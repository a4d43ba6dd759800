/* What strata's libFuzzer targets share (Makefile: fuzzing).  A target
 * feeds its input to one parser the way the process that owns the parser
 * receives it, then checks what no sanitizer sees: a failure without a
 * status or message, an fd left open, a result that breaks the parser's
 * promise.  Each such finding aborts with one line on stderr. */
#ifndef STRATA_FUZZ_H
#define STRATA_FUZZ_H

#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "tests/rawsend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((format(printf, 1, 2), noreturn)) static inline void fuzz_fail(const char *fmt, ...);

/* A finding: the line, then abort() (libFuzzer saves the input). */
static inline void fuzz_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* A refusal names its status and says why. */
static inline void fuzz_check_refusal(const char *what, const struct err *e)
{
	if (e->code == ST_OK || !e->msg[0])
		fuzz_fail("%s: a failure without a status or message", what);
}

/* The lowest free fd: the same before and after an input, or the code
 * under test left one open. */
static inline int fuzz_lowest_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fuzz_fail("open /dev/null");
	close(fd);
	return fd;
}

/* An anonymous file holding exactly data[0..size), read from its start. */
static inline void fuzz_file_put(int fd, const void *data, size_t size)
{
	if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size) ||
	    lseek(fd, 0, SEEK_SET) < 0)
		fuzz_fail("write the input to a memfd");
}

static inline int fuzz_memfd(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		fuzz_fail("memfd_create");
	return fd;
}

/* One SOCK_SEQPACKET record as a peer sends it, with nfds copies of fd. */
static inline void fuzz_send_record(int sock, const void *rec, size_t len, int fd, size_t nfds)
{
	if (raw_send(sock, rec, len, fd, nfds) != (ssize_t)len)
		fuzz_fail("send a record of %zu bytes", len);
}

/* A SOCK_SEQPACKET socketpair that takes records of any input's size, and
 * an fd to pass on it. */
static inline void fuzz_socketpair(int sp[2], int *fd)
{
	int sz = 1 << 20;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 ||
	    setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz) < 0)
		fuzz_fail("socketpair");
	*fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		fuzz_fail("open /dev/null");
}

#endif
