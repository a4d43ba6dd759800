/* Small helpers shared by every process role. */
#ifndef STRATA_UTIL_H
#define STRATA_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* The bound of a confined process's address space (RLIMIT_AS).  The
 * sanitizer build (make SANITIZE=1) leaves it unbounded: AddressSanitizer
 * reserves terabytes of shadow memory, and any bound fails its first
 * allocation. */
#ifdef STRATA_SANITIZE
#define STRATA_RLIMIT_AS(max) RLIM_INFINITY
#else
#define STRATA_RLIMIT_AS(max) (max)
#endif

/* Cleanup attributes, as in bubblewrap: a variable declared with one of these
 * is released when it goes out of scope; steal_*() hands ownership on. */
static inline void cleanup_freep(void *p)
{
	free(*(void **)p);
}
static inline void cleanup_fdp(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_fd   __attribute__((cleanup(cleanup_fdp)))

static inline void *steal_pointer(void *pp)
{
	void **p = pp, *v = *p;
	*p = NULL;
	return v;
}
static inline int steal_fd(int *fd)
{
	int v = *fd;
	*fd = -1;
	return v;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that never returns NULL: out of memory is fatal everywhere. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
/* Returns p, an array of *cap elements of size bytes, with room for the
 * element at index n, doubling *cap when it is full: n appends copy O(n)
 * bytes in all.  For arrays whose length a peer or a layer decides, where
 * growing by one element would copy O(n^2). */
void *xgrow(void *p, size_t *cap, size_t n, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Loops over EINTR and short writes/reads. */
int write_all(int fd, const void *buf, size_t len);
ssize_t read_full(int fd, void *buf, size_t len);

int set_nonblock(int fd, int on);
int set_cloexec(int fd, int on);

/* Strict decimal parsing of a whole string; -1 on anything else. */
int parse_u64(const char *s, uint64_t *out);

/* Monotonic and wall-clock times. */
uint64_t now_ns_monotonic(void);
void now_realtime(int64_t *sec, int32_t *nsec);

#endif
