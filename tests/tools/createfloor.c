/* createfloor: what any extractor of a layer costs on this machine.
 *
 *   createfloor SRC DST        recreate the tree SRC under the empty
 *                              directory DST and print the milliseconds it
 *                              took
 *   createfloor --sha256 FILE  print the milliseconds SHA-256 of FILE takes
 *                              on one core, its reads not counted
 *
 * The two reference points tests/bench/apply.sh measures beside every
 * apply.  SRC (GNU tar's result of the same layer) is read into memory
 * first, untimed; then, timed,
 * its directories are made in order, its files and symbolic links created
 * by one thread per online CPU (open, one write, owner when it is not this
 * process's, mode bits chown cleared, times, close: what any extractor must
 * ask of the kernel, and no parsing, decompression or hashing), and the
 * directories' times set last.  Hardlinks become copies and devices, FIFOs and xattrs are left
 * out: none matters to the bench's layers.
 *
 * Unconfined, as root: a bench tool only, run on the bench's own trees. */
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct node {
	char *path; /* relative to SRC and DST */
	struct stat st;
	char *bytes; /* a file's contents, a symlink's target */
};

static struct node *nodes;
static size_t n_nodes, cap_nodes, src_len;
static int dst_fd;
static _Atomic size_t next_node;

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

/* Owned by someone other than this process: a chown is needed. */
static int foreign(const struct node *n)
{
	return n->st.st_uid != geteuid() || n->st.st_gid != getegid();
}

static void own(const struct node *n)
{
	if (foreign(n) && fchownat(dst_fd, n->path, n->st.st_uid, n->st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		die("chown", n->path);
}

static void create(const struct node *n)
{
	struct timespec t[2] = {n->st.st_atim, n->st.st_mtim};
	if (S_ISLNK(n->st.st_mode)) {
		if (symlinkat(n->bytes, dst_fd, n->path) < 0)
			die("symlink", n->path);
		own(n);
		if (utimensat(dst_fd, n->path, t, AT_SYMLINK_NOFOLLOW) < 0)
			die("set times of", n->path);
		return;
	}
	int fd = openat(dst_fd, n->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			n->st.st_mode & 07777);
	if (fd < 0)
		die("create", n->path);
	size_t len = (size_t)n->st.st_size;
	for (size_t at = 0; at < len;) {
		ssize_t w = write(fd, n->bytes + at, len - at);
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

static void *creator(void *arg)
{
	(void)arg;
	for (size_t i; (i = atomic_fetch_add(&next_node, 1)) < n_nodes;)
		if (!S_ISDIR(nodes[i].st.st_mode))
			create(&nodes[i]);
	return NULL;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* The diff ID alone: SHA-256 of FILE on one core, as the extract worker's
 * hasher does it: a block of 256 KiB at a time, just read into a buffer
 * used again for every block.  Only the hashing is timed, not the reads. */
#define BLOCK (256 * 1024)
static int sha256_only(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open", path);
	static unsigned char buf[BLOCK];
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned char md[32];
	double ms = 0;
	int ok = h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1;
	ssize_t n = 0;
	while (ok && (n = read(fd, buf, sizeof buf)) > 0) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		ok = EVP_DigestUpdate(h, buf, (size_t)n) == 1;
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms += ms_between(&a, &b);
	}
	if (n < 0)
		die("read", path);
	if (!ok || EVP_DigestFinal_ex(h, md, NULL) != 1)
		die("hash", path);
	printf("%.1f\n", ms);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--sha256"))
		return sha256_only(argv[2]);
	if (argc != 3) {
		fprintf(stderr, "usage: createfloor SRC DST | --sha256 FILE\n");
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
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t threads = cpus > 1 ? (size_t)cpus : 1;
	pthread_t *tid = calloc(threads, sizeof *tid);

	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	/* nftw is preorder: every directory comes before what it holds. */
	for (size_t i = 0; i < n_nodes; i++)
		if (S_ISDIR(nodes[i].st.st_mode)) {
			if (mkdirat(dst_fd, nodes[i].path, nodes[i].st.st_mode & 07777) < 0)
				die("mkdir", nodes[i].path);
			own(&nodes[i]);
			if ((nodes[i].st.st_mode & 07000) &&
			    fchmodat(dst_fd, nodes[i].path, nodes[i].st.st_mode & 07777, 0) < 0)
				die("chmod", nodes[i].path);
		}
	for (size_t t = 0; t < threads; t++)
		if (pthread_create(&tid[t], NULL, creator, NULL) != 0)
			die("start a thread for", argv[2]);
	for (size_t t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	for (size_t i = n_nodes; i-- > 0;)
		if (S_ISDIR(nodes[i].st.st_mode)) {
			struct timespec t[2] = {nodes[i].st.st_atim, nodes[i].st.st_mtim};
			if (utimensat(dst_fd, nodes[i].path, t, AT_SYMLINK_NOFOLLOW) < 0)
				die("set times of", nodes[i].path);
		}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ms_between(&a, &b));
	return 0;
}
