/* createfloor: what any extractor of a layer costs on this machine.
 *
 *   createfloor SRC DST        recreate the tree SRC under the empty
 *                              directory DST with one thread and print the
 *                              milliseconds it took, wall and CPU
 *   createfloor SRC DST LAYER  the same while another thread does what
 *                              --stream LAYER does, and print, after
 *                              create's wall and CPU, the wall time until
 *                              both are done: how far two cores carry
 *                              the split of one thread creating and one
 *                              reading and hashing
 *   createfloor --stream FILE  read the layer FILE, decompress it and hash
 *                              it on one core, and print the CPU
 *                              milliseconds of each: read, decode,
 *                              SHA-256 of the tar (the diff ID), SHA-256
 *                              of the compressed bytes (the blob's digest;
 *                              0 for a plain tar, whose digest is its
 *                              diff ID), then the bytes of the tar
 *
 * The reference points tests/bench/apply.sh measures beside every apply.
 *
 * create: SRC (GNU tar's result of the same layer) is read into memory
 * first, untimed; then, timed, its directories are made in order, its
 * files and symbolic links created in the directory that holds them, kept
 * open (open, write in 256 KiB pieces as the worker does, owner when it is
 * not this process's, mode bits chown cleared, times, close: what any
 * extractor must ask of the kernel, and no parsing, decompression or
 * hashing), and the directories' times set last.  One thread does it all:
 * its CPU time is the kernel's work for the tree, which more threads
 * could share out but not shrink (in one directory they only add lock
 * contention).  Hardlinks become copies and devices, FIFOs and xattrs are
 * left out: none matters to the bench's layers.
 *
 * stream: the work on the layer's bytes that no extractor that reports the
 * diff ID can skip, done with the worker's libraries: read(2) in 256 KiB
 * blocks (as the worker reads a plain layer; it reads a compressed one in
 * 128 KiB blocks), isa-l's inflate or libzstd into 256 KiB blocks,
 * strata's SHA-256 (common/sha256.h).  Each part's thread CPU time is
 * summed on its own; reading that clock is a system call, which adds
 * about 1% (two calls per part and block).
 *
 * Unconfined, as root: a bench tool only, run on the bench's own trees. */
#include <fcntl.h>
#include <ftw.h>
#include <isa-l/igzip_lib.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "../../common/sha256.h"

struct node {
	char *path; /* relative to SRC and DST */
	struct stat st;
	char *bytes; /* a file's contents, a symlink's target */
};

static struct node *nodes;
static size_t n_nodes, cap_nodes, src_len;
static int dst_fd;

static void die(const char *what, const char *path)
{
	fprintf(stderr, "createfloor: %s `%s`: ", what, path);
	perror(NULL);
	exit(1);
}

static char *slurp(const char *path, size_t len)
{
	char *b = malloc(len + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!b || fd < 0)
		die("read", path);
	for (size_t at = 0; at < len;) {
		ssize_t r = read(fd, b + at, len - at);
		if (r <= 0)
			die("read", path);
		at += (size_t)r;
	}
	close(fd);
	return b;
}

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (strlen(path) <= src_len) /* SRC itself */
		return 0;
	if (flag != FTW_D && flag != FTW_SL && !S_ISREG(st->st_mode))
		return 0;
	if (n_nodes == cap_nodes) {
		cap_nodes = cap_nodes ? 2 * cap_nodes : 4096;
		if (!(nodes = realloc(nodes, cap_nodes * sizeof *nodes)))
			die("remember", path);
	}
	struct node *n = &nodes[n_nodes++];
	*n = (struct node){strdup(path + src_len + 1), *st, NULL};
	if (flag == FTW_SL) {
		n->bytes = calloc(1, (size_t)st->st_size + 1);
		if (!n->bytes || readlink(path, n->bytes, (size_t)st->st_size) != st->st_size)
			die("readlink", path);
	} else if (S_ISREG(st->st_mode)) {
		n->bytes = slurp(path, (size_t)st->st_size);
	}
	return 0;
}

/* The most one write(2) takes: the worker's block.  ext4 sizes the page
 * cache folios of a write by its length, and a write of a whole 200 MiB
 * file asks for the largest; where free memory is fragmented, as after a
 * bench's earlier runs, finding them made big's tree cost 1.0-1.7 s
 * against 0.12 s in 256 KiB writes, on the same file system in the same
 * minutes.  GNU tar writes 10 KiB at a time (0.43-0.64 s there). */
#define WRITE_MAX (256 * 1024)

/* Owned by someone other than this process: a chown is needed. */
static int foreign(const struct node *n)
{
	return n->st.st_uid != geteuid() || n->st.st_gid != getegid();
}

/* The directory that holds n, opened once for a run of its entries (as an
 * extractor keeps its parent open: no path walk per file), and n's name
 * in it. */
static int parent_of(const struct node *n, const char **base)
{
	static int fd = -1;
	static char *path;
	const char *slash = strrchr(n->path, '/');
	if (!slash) {
		*base = n->path;
		return dst_fd;
	}
	*base = slash + 1;
	size_t len = (size_t)(slash - n->path);
	if (fd < 0 || strlen(path) != len || memcmp(path, n->path, len)) {
		if (fd >= 0)
			close(fd);
		free(path);
		path = strndup(n->path, len);
		fd = openat(dst_fd, path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			die("open", path);
	}
	return fd;
}

static void own(int dir, const char *name, const struct node *n)
{
	if (foreign(n) && fchownat(dir, name, n->st.st_uid, n->st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		die("chown", n->path);
}

static void create(const struct node *n)
{
	struct timespec t[2] = {n->st.st_atim, n->st.st_mtim};
	const char *base;
	int dir = parent_of(n, &base);
	if (S_ISLNK(n->st.st_mode)) {
		if (symlinkat(n->bytes, dir, base) < 0)
			die("symlink", n->path);
		own(dir, base, n);
		if (utimensat(dir, base, t, AT_SYMLINK_NOFOLLOW) < 0)
			die("set times of", n->path);
		return;
	}
	int fd =
	    openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, n->st.st_mode & 07777);
	if (fd < 0)
		die("create", n->path);
	size_t len = (size_t)n->st.st_size;
	for (size_t at = 0; at < len;) {
		ssize_t w = write(fd, n->bytes + at, len - at < WRITE_MAX ? len - at : WRITE_MAX);
		if (w <= 0)
			die("write", n->path);
		at += (size_t)w;
	}
	if (foreign(n) && fchown(fd, n->st.st_uid, n->st.st_gid) < 0)
		die("chown", n->path);
	/* chown cleared the setuid and setgid bits */
	if ((n->st.st_mode & 07000) && fchmod(fd, n->st.st_mode & 07777) < 0)
		die("chmod", n->path);
	if (futimens(fd, t) < 0)
		die("set times of", n->path);
	close(fd);
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static double cpu_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

#define IN_BLOCK  (256 * 1024)
#define OUT_BLOCK (256 * 1024)

struct parts {
	double read, decode, sha_out, sha_in;
	unsigned long long bytes_out;
};

static void hash_out(struct sha256_ctx *h, const unsigned char *b, size_t n, struct parts *p)
{
	double t = cpu_ms();
	sha256_update(h, b, n);
	p->sha_out += cpu_ms() - t;
	p->bytes_out += n;
}

/* One gzip member after another (isa-l), as the worker reads them; n == 0
 * at the end flushes what the decoder holds. */
static int gunzip(struct inflate_state *z, const unsigned char *in, size_t n, unsigned char *out,
		  struct sha256_ctx *h, struct parts *p)
{
	z->next_in = (unsigned char *)in;
	z->avail_in = (uint32_t)n;
	for (;;) {
		if (z->block_state == ISAL_BLOCK_FINISH) {
			isal_inflate_reset(z);
			z->crc_flag = ISAL_GZIP;
		}
		z->next_out = out;
		z->avail_out = OUT_BLOCK;
		double t = cpu_ms();
		int rc = isal_inflate(z);
		p->decode += cpu_ms() - t;
		if (rc != ISAL_DECOMP_OK)
			return -1;
		hash_out(h, out, OUT_BLOCK - z->avail_out, p);
		if (z->avail_out && (!z->avail_in || z->block_state != ISAL_BLOCK_FINISH))
			return 0; /* all input taken, nothing more to give */
	}
}

static int unzstd(ZSTD_DCtx *z, const unsigned char *in, size_t n, unsigned char *out, struct sha256_ctx *h,
		  struct parts *p)
{
	ZSTD_inBuffer ib = {in, n, 0};
	for (;;) {
		ZSTD_outBuffer ob = {out, OUT_BLOCK, 0};
		double t = cpu_ms();
		size_t rc = ZSTD_decompressStream(z, &ob, &ib);
		p->decode += cpu_ms() - t;
		if (ZSTD_isError(rc))
			return -1;
		hash_out(h, out, ob.pos, p);
		if (ib.pos == ib.size && ob.pos < OUT_BLOCK)
			return 0; /* all input taken, nothing more to give */
	}
}

/* The stream part; prints its parts' CPU ms unless quiet. */
static int stream(const char *path, int quiet)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open", path);
	static unsigned char in[IN_BLOCK], out[OUT_BLOCK];
	struct parts p = {0};
	struct sha256_ctx h_out, h_in;
	sha256_init(&h_out);
	sha256_init(&h_in);
	struct inflate_state gz;
	ZSTD_DCtx *zs = NULL;
	enum { PLAIN, GZIP, ZSTD } codec = PLAIN;
	ssize_t n;
	int rc = 0;
	for (int first = 1; rc == 0; first = 0) {
		double t = cpu_ms();
		n = read(fd, in, sizeof in);
		p.read += cpu_ms() - t;
		if (n < 0)
			die("read", path);
		if (first && n >= 3 && in[0] == 0x1f && in[1] == 0x8b) {
			codec = GZIP;
			isal_inflate_init(&gz);
			gz.crc_flag = ISAL_GZIP;
		} else if (first && n >= 4 && !memcmp(in, "\x28\xb5\x2f\xfd", 4)) {
			codec = ZSTD;
			if (!(zs = ZSTD_createDCtx()))
				die("start zstd for", path);
		}
		/* at the end (n == 0), the decoders give what they still hold */
		if (codec == PLAIN)
			hash_out(&h_out, in, (size_t)n, &p);
		else if (codec == GZIP)
			rc = gunzip(&gz, in, (size_t)n, out, &h_out, &p);
		else
			rc = unzstd(zs, in, (size_t)n, out, &h_out, &p);
		if (codec != PLAIN) {
			t = cpu_ms();
			sha256_update(&h_in, in, (size_t)n);
			p.sha_in += cpu_ms() - t;
		}
		if (n == 0)
			break;
	}
	if (rc < 0) {
		fprintf(stderr, "createfloor: `%s`: corrupt %s data\n", path,
			codec == GZIP ? "gzip" : "zstd");
		return 1;
	}
	unsigned char md[32];
	sha256_final(&h_out, md);
	sha256_final(&h_in, md);
	ZSTD_freeDCtx(zs);
	close(fd);
	if (!quiet)
		printf("%.1f %.1f %.1f %.1f %llu\n", p.read, p.decode, p.sha_out, p.sha_in, p.bytes_out);
	return 0;
}

static void *stream_beside(void *layer)
{
	return (void *)(intptr_t)stream(layer, 1);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--stream"))
		return stream(argv[2], 0);
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: createfloor SRC DST [LAYER] | --stream FILE\n");
		return 2;
	}
	src_len = strlen(argv[1]);
	while (src_len > 1 && argv[1][src_len - 1] == '/')
		src_len--;
	if (nftw(argv[1], visit, 64, FTW_PHYS) != 0)
		die("walk", argv[1]);
	if ((dst_fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die("open", argv[2]);
	umask(0);
	struct timespec a, b;
	pthread_t beside;
	double cpu = cpu_ms();
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (argc == 4 && pthread_create(&beside, NULL, stream_beside, argv[3]) != 0)
		die("start the stream of", argv[3]);
	/* nftw is preorder: every directory comes before what it holds. */
	for (size_t i = 0; i < n_nodes; i++)
		if (S_ISDIR(nodes[i].st.st_mode)) {
			if (mkdirat(dst_fd, nodes[i].path, nodes[i].st.st_mode & 07777) < 0)
				die("mkdir", nodes[i].path);
			own(dst_fd, nodes[i].path, &nodes[i]);
			if ((nodes[i].st.st_mode & 07000) &&
			    fchmodat(dst_fd, nodes[i].path, nodes[i].st.st_mode & 07777, 0) < 0)
				die("chmod", nodes[i].path);
		}
	for (size_t i = 0; i < n_nodes; i++)
		if (!S_ISDIR(nodes[i].st.st_mode))
			create(&nodes[i]);
	for (size_t i = n_nodes; i-- > 0;)
		if (S_ISDIR(nodes[i].st.st_mode)) {
			struct timespec t[2] = {nodes[i].st.st_atim, nodes[i].st.st_mtim};
			if (utimensat(dst_fd, nodes[i].path, t, AT_SYMLINK_NOFOLLOW) < 0)
				die("set times of", nodes[i].path);
		}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f %.1f", ms_between(&a, &b), cpu_ms() - cpu);
	if (argc == 4) {
		void *rc;
		pthread_join(beside, &rc);
		if (rc)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &b);
		printf(" %.1f", ms_between(&a, &b));
	}
	printf("\n");
	return 0;
}
