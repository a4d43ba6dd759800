/* The layer stream: compression detected by magic (as containerd's
 * compression.DetectCompression does, plus a clear Unimplemented for the
 * formats it would take for tar), decompression with isa-l (gzip, several
 * members as Go's multistream reader and unpigz accept) or libzstd, and the
 * SHA-256 of both the compressed and the uncompressed bytes, trailing bytes
 * after the tar end included: the diff ID containerd computes.
 *
 * The pipeline: a second thread (the producer) reads, decompresses and
 * hashes the compressed input into a ring of RING_N buffers; a third (the
 * hasher) hashes what the ring holds, the uncompressed stream; the calling
 * thread (the consumer) parses tar and writes.  A slot is refilled once
 * both the hasher and the consumer are done with it.  An uncompressed layer
 * has no producer: the consumer reads it straight into the ring, and the
 * hasher hashes it once.  (A read beside the consumer's writes costs the
 * reader several times what the same read costs between them, and the
 * bytes are the consumer's next anyway: the hasher, the longest part,
 * keeps a core to itself.)  The ring
 * and the decoder's buffers are all the memory the stream uses (about
 * 2.2 MiB, plus zstd's window, which ZSTD_WINDOW_LOG_MAX bounds), whatever
 * the layer.
 *
 * A layer that is a regular file is not read but mapped, a window at a
 * time: the decoder inflates straight from the page cache, and a plain
 * layer's ring slots are windows of the file, which the hasher hashes and
 * the writer writes from without a copy into the worker.  A slot's window
 * is unmapped when the slot is refilled, so at most RING_N windows are
 * mapped and the worker's resident memory stays bounded as with reads.  The
 * windows cover the size the file had when the apply began; what a file
 * that grows has beyond it is read, and so is a file that cannot be mapped
 * (a pseudo file system's).  (A file that shrinks under the worker faults it
 * with SIGBUS: the job fails, see broker/jobs.c.) */
#include "extract.h"

#include <errno.h>
#include <isa-l/igzip_lib.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <time.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "../common/util.h"

#define IN_BUF	 (128 * 1024)
#define RING_BUF (256 * 1024)
#define RING_N	 8
/* A mapped window: the plain layer's ring slot, the compressed input. */
#define MAP_WIN (1024 * 1024)
/* 16 MiB: every zstd level up to 19 and --long=24 fit; a frame asking for
 * more is refused instead of growing the worker past its memory budget. */
#define ZSTD_WINDOW_LOG_MAX 24

enum codec { CODEC_NONE, CODEC_GZIP, CODEC_ZSTD };

struct decoder {
	int fd;
	enum codec codec;
	unsigned char *in;	  /* the read buffer */
	const unsigned char *cur; /* the input block: in, or a mapped window */
	size_t in_pos, in_len;
	/* A regular file: mapped (map_off < map_size) a window at a time. */
	int mapped;
	int map_windows; /* a plain layer's blocks are the windows themselves */
	uint64_t map_off, map_size;
	void *win; /* the compressed input's window, or the window decode_none
		    * returned last (ring_fill takes it into its slot) */
	size_t win_len;
	int in_eof, done;
	struct inflate_state *gz;
	ZSTD_DCtx *zs;
	size_t zs_hint; /* ZSTD_decompressStream's last return: 0 at a frame end */
	EVP_MD_CTX *h_in, *h_out;
	int hash_in; /* the compressed bytes are hashed (h_in) */
	uint64_t bytes_out, max_bytes;
	uint32_t max_ratio;
	_Atomic uint64_t bytes_in;
};

#define RATIO_GRACE (64ULL << 20)

struct xstream {
	struct decoder d;
	int threaded;
	unsigned char *buf; /* single-threaded: the one block */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t hasher;
	unsigned char *ring[RING_N];
	/* A slot's bytes: ring[i], or (map_windows) the window win[i]. */
	const unsigned char *blk[RING_N];
	size_t len[RING_N];
	void *win[RING_N];
	size_t win_len[RING_N];
	/* consumed, hashed, produced: head, hashed <= tail <= RING_N + both */
	uint64_t head, hashed, tail;
	/* Writer jobs that write a slot's bytes in place (xstream_pin): the
	 * slot is not refilled until they are done. */
	unsigned pins[RING_N];
	int cur;	    /* the slot of the block xstream_next returned last, or -1 */
	int held;	    /* the consumer holds ring[head] */
	int self_fill;	    /* no producer: the consumer reads into ring[tail] */
	int started;	    /* the producer thread runs */
	int hasher_started; /* the hasher thread runs */
	int prod_done, prod_rc, cancel, hash_failed;
	struct err prod_err;
	/* Called by the consumer every WAIT_TICK_NS it waits for the producer
	 * (xstream_on_wait): a layer that trickles in is still moving. */
	void (*waiting)(void *ctx);
	void *waiting_ctx;
};

#define WAIT_TICK_NS (100 * 1000 * 1000L)

void xstream_on_wait(struct xstream *s, void (*fn)(void *ctx), void *ctx)
{
	s->waiting = fn;
	s->waiting_ctx = ctx;
}

/* Waits for the producer (the mutex held), calling `waiting` between
 * ticks. */
static void ring_wait(struct xstream *s)
{
	if (!s->waiting) {
		pthread_cond_wait(&s->cv, &s->mu);
		return;
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += WAIT_TICK_NS;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT) {
		pthread_mutex_unlock(&s->mu);
		s->waiting(s->waiting_ctx);
		pthread_mutex_lock(&s->mu);
	}
}

void extract_limits_default(struct extract_limits *l)
{
	*l = (struct extract_limits){
	    .max_bytes = 64ULL << 30,
	    .max_entries = 1 << 20,
	    .max_depth = 256,
	    .max_name = 4095,
	    .max_xattr = 65536,
	    .max_file = 32ULL << 30,
	    .max_ratio = 200,
	    .strip_caps = 0,
	    .single_thread = 0,
	    .map_bytes = -1,
	};
}

void extract_preload(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c) {
		EVP_DigestInit_ex(c, EVP_sha256(), NULL);
		EVP_MD_CTX_free(c);
	}
}

/* ---- decoder (producer side) -------------------------------------------- */

/* The next window of a mapped file, at most max bytes: NULL (and *len 0)
 * past the size it was mapped for, where reading takes over at the fd's
 * offset. */
static void *map_next(struct decoder *d, size_t max, size_t *len, struct err *e)
{
	*len = 0;
	if (!d->mapped)
		return NULL;
	if (d->map_off >= d->map_size) {
		d->mapped = 0;
		if (lseek(d->fd, (off_t)d->map_size, SEEK_SET) < 0) {
			err_errno(e, ST_INTERNAL, errno, "read layer: seek past the mapped part");
			return MAP_FAILED;
		}
		return NULL;
	}
	size_t n = d->map_size - d->map_off < max ? (size_t)(d->map_size - d->map_off) : max;
	void *p = mmap(NULL, n, PROT_READ, MAP_SHARED | MAP_POPULATE, d->fd, (off_t)d->map_off);
	if (p == MAP_FAILED && d->map_off == 0) {
		/* A file that cannot be mapped (a pseudo file system's, ENODEV):
		 * read all of it, from its start (nothing was read yet). */
		d->mapped = 0;
		return NULL;
	}
	if (p == MAP_FAILED) {
		err_errno(e, ST_INTERNAL, errno, "map layer");
		return MAP_FAILED;
	}
	d->map_off += n;
	*len = n;
	return p;
}

static void unmap(void **win, size_t *len)
{
	if (*win)
		munmap(*win, *len);
	*win = NULL;
	*len = 0;
}

static int refill(struct decoder *d, struct err *e)
{
	if (d->in_pos < d->in_len || d->in_eof)
		return 0;
	unmap(&d->win, &d->win_len);
	ssize_t n;
	void *w = map_next(d, MAP_WIN, &d->win_len, e);
	if (w == MAP_FAILED)
		return -1;
	if (w) {
		d->win = w;
		d->cur = w;
		n = (ssize_t)d->win_len;
	} else {
		do
			n = read(d->fd, d->in, IN_BUF);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return err_errno(e, ST_INTERNAL, errno, "read layer");
		d->cur = d->in;
	}
	d->in_pos = 0;
	d->in_len = (size_t)n;
	if (n == 0) {
		d->in_eof = 1;
		return 0;
	}
	if (d->hash_in && EVP_DigestUpdate(d->h_in, d->cur, (size_t)n) != 1)
		return err_set(e, ST_INTERNAL, "sha256 of the layer failed");
	atomic_fetch_add(&d->bytes_in, (uint64_t)n);
	return 0;
}

/* Reads until the magic numbers can be told apart (or the input ends),
 * reporting each read: a layer that trickles in is still moving. */
static int detect(struct decoder *d, void (*progress)(void *ctx, uint64_t in, uint64_t entries), void *ctx,
		  struct err *e)
{
	/* A mapped file is only peeked at: its first window starts at 0. */
	unsigned char peek[6];
	ssize_t got = 0;
	if (d->mapped) {
		do
			got = pread(d->fd, peek, sizeof peek, 0);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return err_errno(e, ST_INTERNAL, errno, "read layer");
	}
	while (!d->mapped && d->in_len < 6 && !d->in_eof) {
		ssize_t n = read(d->fd, d->in + d->in_len, IN_BUF - d->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno(e, ST_INTERNAL, errno, "read layer");
		if (n == 0)
			d->in_eof = 1;
		else if (EVP_DigestUpdate(d->h_in, d->in + d->in_len, (size_t)n) != 1)
			return err_set(e, ST_INTERNAL, "sha256 of the layer failed");
		d->in_len += (size_t)n;
		atomic_fetch_add(&d->bytes_in, (uint64_t)n);
		if (progress)
			progress(ctx, d->in_len, 0);
	}
	const unsigned char *m = d->mapped ? peek : d->in;
	size_t n = d->mapped ? (size_t)got : d->in_len;
	if (n >= 3 && m[0] == 0x1f && m[1] == 0x8b && m[2] == 0x08)
		d->codec = CODEC_GZIP;
	else if (n >= 4 && ((m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) ||
			    ((m[0] & 0xf0) == 0x50 && m[1] == 0x2a && m[2] == 0x4d && m[3] == 0x18)))
		d->codec = CODEC_ZSTD; /* a frame, or a skippable frame */
	else if (n >= 3 && m[0] == 'B' && m[1] == 'Z' && m[2] == 'h')
		return err_set(e, ST_UNIMPLEMENTED, "layer compression bzip2 is not supported");
	else if (n >= 6 && !memcmp(m,
				   "\xfd"
				   "7zXZ\0",
				   6))
		return err_set(e, ST_UNIMPLEMENTED, "layer compression xz is not supported");
	else if (n >= 4 && !memcmp(m, "\x04\x22\x4d\x18", 4))
		return err_set(e, ST_UNIMPLEMENTED, "layer compression lz4 is not supported");
	else if (n >= 2 && m[0] == 0x1f && (m[1] == 0x9d || m[1] == 0xa0))
		return err_set(e, ST_UNIMPLEMENTED, "layer compression compress(1) is not supported");
	else
		d->codec = CODEC_NONE;
	return 0;
}

static int decoder_init(struct decoder *d, int fd, const struct extract_limits *lim,
			void (*progress)(void *ctx, uint64_t in, uint64_t entries), void *ctx, struct err *e)
{
	*d = (struct decoder){.fd = fd, .max_bytes = lim->max_bytes, .max_ratio = lim->max_ratio};
	d->in = xmalloc(IN_BUF);
	d->cur = d->in;
	struct stat st;
	off_t at = lseek(fd, 0, SEEK_CUR);
	if (lim->map_bytes && at == 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		d->mapped = 1;
		d->map_size = (uint64_t)st.st_size;
		if (lim->map_bytes > 0 && (uint64_t)lim->map_bytes < d->map_size)
			d->map_size = (uint64_t)lim->map_bytes;
	}
	d->h_in = EVP_MD_CTX_new();
	d->h_out = EVP_MD_CTX_new();
	if (!d->h_in || !d->h_out || EVP_DigestInit_ex(d->h_in, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(d->h_out, EVP_sha256(), NULL) != 1)
		return err_set(e, ST_INTERNAL, "sha256 initialisation failed");
	if (detect(d, progress, ctx, e) < 0)
		return -1;
	/* An uncompressed layer's digest is its diff ID, hashed as that. */
	d->hash_in = d->codec != CODEC_NONE && !lim->no_digest;
	if (d->codec == CODEC_GZIP) {
		d->gz = xmalloc(sizeof *d->gz);
		isal_inflate_init(d->gz);
		d->gz->crc_flag = ISAL_GZIP;
	} else if (d->codec == CODEC_ZSTD) {
		d->zs = ZSTD_createDCtx();
		if (!d->zs ||
		    ZSTD_isError(ZSTD_DCtx_setParameter(d->zs, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX)))
			return err_set(e, ST_INTERNAL, "zstd initialisation failed");
	}
	return 0;
}

static void decoder_free(struct decoder *d)
{
	unmap(&d->win, &d->win_len);
	free(d->in);
	free(d->gz);
	ZSTD_freeDCtx(d->zs);
	EVP_MD_CTX_free(d->h_in);
	EVP_MD_CTX_free(d->h_out);
}

/* What detect() read first, then straight from the input into out: the
 * stream is its own uncompressed stream, hashed as that (xstream_next's
 * hash, or the hasher's). */
static ssize_t decode_none(struct decoder *d, unsigned char *out, size_t cap, struct err *e)
{
	size_t n = d->in_len - d->in_pos;
	if (n) {
		if (n > cap)
			n = cap;
		memcpy(out, d->cur + d->in_pos, n);
		d->in_pos += n;
		return (ssize_t)n;
	}
	if (d->in_eof)
		return 0;
	ssize_t r;
	if (d->map_windows) {
		/* The window is the block: ring_fill takes it into its slot. */
		void *w = map_next(d, MAP_WIN, &d->win_len, e);
		if (w == MAP_FAILED)
			return -1;
		if (w) {
			d->win = w;
			atomic_fetch_add(&d->bytes_in, (uint64_t)d->win_len);
			return (ssize_t)d->win_len;
		}
	}
	do
		r = read(d->fd, out, cap);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return err_errno(e, ST_INTERNAL, errno, "read layer");
	if (r == 0)
		d->in_eof = 1;
	atomic_fetch_add(&d->bytes_in, (uint64_t)r);
	return r;
}

/* One gzip member after another; anything after a member that is not
 * another member is an error, as Go's gzip reader reports it. */
static ssize_t decode_gzip(struct decoder *d, unsigned char *out, size_t cap, struct err *e)
{
	struct inflate_state *s = d->gz;
	size_t got = 0;
	while (got < cap) {
		if (refill(d, e) < 0)
			return -1;
		if (s->block_state == ISAL_BLOCK_FINISH) {
			if (d->in_pos == d->in_len)
				break; /* input ended after a whole member */
			isal_inflate_reset(s);
			s->crc_flag = ISAL_GZIP;
		}
		s->next_in = (unsigned char *)d->cur + d->in_pos;
		s->avail_in = (uint32_t)(d->in_len - d->in_pos);
		s->next_out = out + got;
		s->avail_out = (uint32_t)(cap - got);
		int rc = isal_inflate(s);
		size_t used = (d->in_len - d->in_pos) - s->avail_in;
		size_t made = (cap - got) - s->avail_out;
		d->in_pos += used;
		got += made;
		if (rc < 0)
			return err_set(e, ST_INVALID_ARGUMENT, "gzip: corrupt layer data (isa-l error %d)",
				       rc);
		if (!used && !made && s->block_state != ISAL_BLOCK_FINISH && d->in_eof)
			return err_set(e, ST_INVALID_ARGUMENT, "gzip: layer ends in the middle of a member");
	}
	return (ssize_t)got;
}

static ssize_t decode_zstd(struct decoder *d, unsigned char *out, size_t cap, struct err *e)
{
	ZSTD_outBuffer ob = {out, cap, 0};
	while (ob.pos < cap) {
		if (refill(d, e) < 0)
			return -1;
		ZSTD_inBuffer ib = {d->cur + d->in_pos, d->in_len - d->in_pos, 0};
		if (ib.size == 0 && d->zs_hint == 0 && d->in_eof)
			break; /* input ended at a frame boundary */
		size_t before = ob.pos;
		size_t rc = ZSTD_decompressStream(d->zs, &ob, &ib);
		d->in_pos += ib.pos;
		if (ZSTD_isError(rc)) {
			if (ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge)
				return err_set(e, ST_RESOURCE_EXHAUSTED,
					       "zstd: layer needs a window above the limit (2^%d bytes)",
					       ZSTD_WINDOW_LOG_MAX);
			return err_set(e, ST_INVALID_ARGUMENT, "zstd: corrupt layer data: %s",
				       ZSTD_getErrorName(rc));
		}
		d->zs_hint = rc;
		if (ib.pos == 0 && ob.pos == before && d->in_eof)
			return err_set(e, ST_INVALID_ARGUMENT, "zstd: layer ends in the middle of a frame");
	}
	return (ssize_t)ob.pos;
}

/* Fills out with up to cap uncompressed bytes: > 0, 0 at the end, -1.
 * With map_windows the bytes may instead be a window, d->win, which the
 * caller then owns (ring_fill): *blk says where they are. */
static ssize_t decode(struct decoder *d, unsigned char *out, size_t cap, const unsigned char **blk,
		      struct err *e)
{
	*blk = out;
	if (d->done)
		return 0;
	ssize_t n;
	switch (d->codec) {
	case CODEC_GZIP:
		n = decode_gzip(d, out, cap, e);
		break;
	case CODEC_ZSTD:
		n = decode_zstd(d, out, cap, e);
		break;
	default:
		n = decode_none(d, out, cap, e);
		break;
	}
	if (n < 0)
		return -1;
	if (n == 0) {
		d->done = 1;
		return 0;
	}
	if (d->map_windows && d->win)
		*blk = d->win;
	if ((uint64_t)n > d->max_bytes - d->bytes_out)
		return err_set(e, ST_RESOURCE_EXHAUSTED,
			       "layer exceeds the uncompressed size limit (max_bytes %llu)",
			       (unsigned long long)d->max_bytes);
	d->bytes_out += (uint64_t)n;
	/* A decompression bomb expands far more than any real layer: past the
	 * first RATIO_GRACE bytes, the output may be at most max_ratio times the
	 * input read so far. */
	uint64_t in = d->bytes_in;
	if (d->max_ratio && d->bytes_out > RATIO_GRACE && d->bytes_out / d->max_ratio > in)
		return err_set(e, ST_RESOURCE_EXHAUSTED,
			       "layer expands more than %u times (max_ratio): a decompression bomb?",
			       d->max_ratio);

	return n;
}

/* ---- the ring ------------------------------------------------------------- */

static void *producer_main(void *arg)
{
	struct xstream *s = arg;
	struct err e = {0};
	int rc = 0;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while ((s->tail - (s->head < s->hashed ? s->head : s->hashed) == RING_N ||
			s->pins[s->tail % RING_N]) &&
		       !s->cancel)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->cancel)
			break;
		unsigned slot = (unsigned)(s->tail % RING_N);
		pthread_mutex_unlock(&s->mu);
		ssize_t n = decode(&s->d, s->ring[slot], RING_BUF, &s->blk[slot], &e);
		pthread_mutex_lock(&s->mu);
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		s->len[slot] = (size_t)n;
		s->tail++;
		pthread_cond_broadcast(&s->cv);
	}
	s->prod_done = 1;
	s->prod_rc = rc;
	s->prod_err = e;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static ssize_t ring_next(struct xstream *s, const void **buf, struct err *e)
{
	pthread_mutex_lock(&s->mu);
	if (s->held) {
		s->held = 0;
		s->head++;
		pthread_cond_broadcast(&s->cv);
	}
	while (s->tail == s->head && !s->prod_done)
		ring_wait(s);
	ssize_t n;
	s->cur = -1;
	if (s->tail != s->head) {
		unsigned slot = (unsigned)(s->head % RING_N);
		*buf = s->blk[slot];
		n = (ssize_t)s->len[slot];
		s->held = 1;
		s->cur = (int)slot;
	} else if (s->prod_rc < 0) {
		if (e)
			*e = s->prod_err;
		n = -1;
	} else {
		n = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* A plain layer's next block, read by the consumer into ring[tail] once
 * the hasher is done with that slot; the block before it, which the
 * consumer held, may still be being hashed.  The reader's own progress
 * (bytes moved) is reported from here too. */
static ssize_t ring_fill(struct xstream *s, const void **buf, struct err *e)
{
	pthread_mutex_lock(&s->mu);
	s->cur = -1;
	while ((s->tail - s->hashed == RING_N || s->pins[s->tail % RING_N]) && !s->prod_done)
		pthread_cond_wait(&s->cv, &s->mu);
	if (s->prod_done) {
		int rc = s->prod_rc;
		if (rc < 0 && e)
			*e = s->prod_err;
		pthread_mutex_unlock(&s->mu);
		return rc;
	}
	unsigned slot = (unsigned)(s->tail % RING_N);
	pthread_mutex_unlock(&s->mu);
	struct err fe = {0};
	/* Hashed, and not the consumer's (it holds the slot before): the
	 * slot's old window goes. */
	unmap(&s->win[slot], &s->win_len[slot]);
	ssize_t n = decode(&s->d, s->ring[slot], RING_BUF, &s->blk[slot], &fe);
	if (s->d.win && s->d.map_windows) {
		s->win[slot] = steal_pointer(&s->d.win);
		s->win_len[slot] = s->d.win_len;
	}
	pthread_mutex_lock(&s->mu);
	if (n > 0) {
		s->len[slot] = (size_t)n;
		s->tail++;
		s->cur = (int)slot;
	} else {
		s->prod_done = 1;
		s->prod_rc = (int)n;
		s->prod_err = fe;
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (n < 0) {
		if (e)
			*e = fe;
		return -1;
	}
	*buf = s->blk[slot];
	if (n > 0 && s->waiting)
		s->waiting(s->waiting_ctx);
	return n;
}

/* The diff ID: every slot the producer fills, hashed in order beside the
 * consumer, which writes (the kernel's copy into the page cache is the
 * largest cost of a layer of large files: it must not wait for SHA-256). */
static void *hasher_main(void *arg)
{
	struct xstream *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (s->hashed == s->tail && !s->prod_done && !s->cancel)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->cancel || s->hashed == s->tail)
			break;
		unsigned slot = (unsigned)(s->hashed % RING_N);
		pthread_mutex_unlock(&s->mu);
		int ok = s->hash_failed || EVP_DigestUpdate(s->d.h_out, s->blk[slot], s->len[slot]) == 1;
		pthread_mutex_lock(&s->mu);
		s->hash_failed |= !ok;
		s->hashed++;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

ssize_t xstream_next(struct xstream *s, const void **buf, struct err *e)
{
	if (s->self_fill)
		return ring_fill(s, buf, e);
	if (s->threaded)
		return ring_next(s, buf, e);
	const unsigned char *blk;
	ssize_t n = decode(&s->d, s->buf, RING_BUF, &blk, e);
	if (n > 0)
		*buf = blk;
	if (n > 0 && EVP_DigestUpdate(s->d.h_out, *buf, (size_t)n) != 1)
		return err_set(e, ST_INTERNAL, "sha256 of the uncompressed layer failed");
	return n;
}

uint64_t xstream_bytes_in(struct xstream *s)
{
	return atomic_load(&s->d.bytes_in);
}

/* Called by the consumer: the slot of the block xstream_next returned last,
 * pinned, if the len bytes at p are in it; else -1 (one thread: its one
 * buffer is reused at once; or bytes the tar reader copied). */
int xstream_pin(struct xstream *s, const void *p, size_t len)
{
	if (!s->threaded || !len)
		return -1;
	uintptr_t b = (uintptr_t)p;
	pthread_mutex_lock(&s->mu);
	int slot = s->cur;
	uintptr_t at = slot >= 0 ? (uintptr_t)s->blk[slot] : 0;
	if (slot >= 0 && !(b >= at && len <= s->len[slot] && b - at <= s->len[slot] - len))
		slot = -1;
	if (slot >= 0)
		s->pins[slot]++;
	pthread_mutex_unlock(&s->mu);
	return slot;
}

void xstream_unpin(struct xstream *s, int slot)
{
	pthread_mutex_lock(&s->mu);
	if (--s->pins[slot] == 0)
		pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static int stream_start(struct xstream *s, struct err *e)
{
	s->cur = -1;
	if (!s->threaded) {
		s->buf = xmalloc(RING_BUF);
		return 0;
	}
	for (int i = 0; i < RING_N; i++)
		s->ring[i] = xmalloc(RING_BUF);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	int rc = pthread_create(&s->hasher, &attr, hasher_main, s);
	if (rc == 0) {
		s->hasher_started = 1;
		s->self_fill = s->d.codec == CODEC_NONE;
		s->d.map_windows = s->self_fill && s->d.mapped;
		if (!s->self_fill)
			rc = pthread_create(&s->thread, &attr, producer_main, s);
	}
	pthread_attr_destroy(&attr);
	if (rc == 0) {
		s->started = !s->self_fill;
	} else if (s->hasher_started) {
		return err_set(e, ST_RESOURCE_EXHAUSTED, "extract: cannot start the producer thread");
	} else {
		s->threaded = 0; /* nothing started: fall back to one thread */
		for (int i = 0; i < RING_N; i++)
			free(steal_pointer(&s->ring[i]));
		s->buf = xmalloc(RING_BUF);
	}
	return 0;
}

static void stream_stop(struct xstream *s)
{
	if (s->hasher_started) {
		pthread_mutex_lock(&s->mu);
		s->cancel = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		if (s->started)
			pthread_join(s->thread, NULL);
		pthread_join(s->hasher, NULL);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
	}
	for (int i = 0; i < RING_N; i++) {
		free(s->ring[i]);
		unmap(&s->win[i], &s->win_len[i]);
	}
	free(s->buf);
	decoder_free(&s->d);
}

/* containerd reads the rest of the stream after the tar end (readCounter,
 * io.Copy to io.Discard): those bytes count in the diff ID, and a corrupt
 * or truncated compressed tail fails the apply. */
static int stream_drain(struct xstream *s, struct err *e)
{
	const void *buf;
	ssize_t n;
	while ((n = xstream_next(s, &buf, e)) > 0)
		;
	return n < 0 ? -1 : 0;
}

/* After the stream's end: the hasher's last slots. */
static int hash_wait(struct xstream *s)
{
	if (!s->hasher_started)
		return 0;
	pthread_mutex_lock(&s->mu);
	while (s->hashed != s->tail)
		pthread_cond_wait(&s->cv, &s->mu);
	int failed = s->hash_failed;
	pthread_mutex_unlock(&s->mu);
	return failed ? -1 : 0;
}

static int stream_result(struct xstream *s, struct extract_result *res, struct err *e)
{
	unsigned int len = 32, len2 = 32;
	if (hash_wait(s) < 0 || EVP_DigestFinal_ex(s->d.h_out, res->diff_id, &len2) != 1 || len2 != 32 ||
	    (s->d.hash_in && (EVP_DigestFinal_ex(s->d.h_in, res->compressed_digest, &len) != 1 || len != 32)))
		return err_set(e, ST_INTERNAL, "sha256 finalisation failed");
	if (s->d.codec == CODEC_NONE)
		memcpy(res->compressed_digest, res->diff_id, 32);
	res->compressed_size = atomic_load(&s->d.bytes_in);
	res->uncompressed_size = s->d.bytes_out;
	return 0;
}

int extract_layer(int in_fd, int target_fd, const int *lower_fds, size_t nlower,
		  const struct extract_limits *lim,
		  void (*progress)(void *ctx, uint64_t in, uint64_t entries), void *ctx,
		  struct extract_result *res, struct err *e)
{
	struct extract_limits def;
	if (!lim) {
		extract_limits_default(&def);
		lim = &def;
	}
	if (in_fd < 0 || target_fd < 0 || (nlower && !lower_fds) || !res)
		return err_set(e, ST_INVALID_ARGUMENT, "extract: bad arguments");
	memset(res, 0, sizeof *res);
	mode_t old_umask = umask(0);
	struct xstream *s = xcalloc(1, sizeof *s);
	s->threaded = !lim->single_thread;
	struct xwriter *w = NULL;
	struct xpool *pool = NULL;
	uint64_t entries = 0;
	int rc = decoder_init(&s->d, in_fd, lim, progress, ctx, e);
	if (rc == 0)
		rc = stream_start(s, e);
	if (rc == 0) {
		w = xw_new(target_fd, lower_fds, nlower, lim);
		pool = xpool_new(w, s, target_fd, lower_fds, nlower, lim);
		rc = xtar_apply(s, pool, lim, progress, ctx, &entries, e);
	}
	if (rc == 0)
		rc = stream_drain(s, e);
	if (rc == 0)
		rc = xpool_finish(pool, e);
	if (rc == 0)
		rc = stream_result(s, res, e);
	res->entries = entries;
	if (rc == 0 && progress)
		progress(ctx, res->compressed_size, entries);
	xpool_free(pool);
	stream_stop(s);
	free(s);
	xw_free(w);
	umask(old_umask);
	return rc;
}
