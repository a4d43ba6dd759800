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
 * The layer is read, never mapped.  A read copies from the page cache into
 * buffers the worker reuses, which stay mapped and cached; a mapped window
 * of the file is a fresh mapping for every MiB, set up and torn down again
 * across the worker's threads, and the copies and the hash reading from it
 * ran at half the speed.  On the 2-core virtual machines the project
 * measures on, mapping cost plain layers a third more wall time than
 * reading (README, Performance).  A regular file that ends before the size
 * it had when the apply began has shrunk under the worker (truncated or
 * rewritten): the apply fails saying so, with Aborted, not as a corrupt
 * layer. */
#include "extract.h"

#include <errno.h>
#include <isa-l/igzip_lib.h>
#include <pthread.h>
#include <time.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "../common/layer.h"
#include "../common/sha256.h"
#include "../common/util.h"

#define IN_BUF	 (128 * 1024)
#define RING_BUF (256 * 1024)
#define RING_N	 8
/* Slots that wake the hasher once it has caught up (see hcv). */
#define HASH_BATCH 2
/* 16 MiB: every zstd level up to 19 and --long=24 fit; a frame asking for
 * more is refused instead of growing the worker past its memory budget. */
#define ZSTD_WINDOW_LOG_MAX 24

enum codec { CODEC_NONE, CODEC_GZIP, CODEC_ZSTD };

struct decoder {
	int fd;
	enum codec codec;
	unsigned char *in; /* the read buffer */
	size_t in_pos, in_len;
	/* A regular file's size when the apply began (-1: not a regular
	 * file) and the offset it is read from: ending before that size, the
	 * file shrank. */
	off_t size_at_start, start;
	int in_eof, done;
	struct inflate_state *gz;
	ZSTD_DCtx *zs;
	size_t zs_hint; /* ZSTD_decompressStream's last return: 0 at a frame end */
	struct sha256_ctx h_in, h_out;
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
	/* The hasher sleeps on hcv once it has caught up, and is woken when
	 * HASH_BATCH slots wait for it or the stream ends: a wake-up per slot
	 * would cost a futex call and a context switch per 256 KiB. */
	pthread_cond_t hcv;
	unsigned char *ring[RING_N]; /* in one mapping at ring[0] (ring_map) */
	size_t len[RING_N];
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
	int prod_done, prod_rc, cancel;
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
	};
}

/* ---- decoder (producer side) -------------------------------------------- */

/* One read of the layer into buf: > 0, 0 at its end, -1.  The end of a
 * regular file before the size it had at the start is an error: the file
 * shrank (a pseudo file system's file, whose size is no promise, keeps its
 * size and ends where its contents do). */
static ssize_t read_layer(struct decoder *d, unsigned char *buf, size_t cap, struct err *e)
{
	ssize_t n;
	do
		n = read(d->fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_errno(e, ST_INTERNAL, errno, "read layer");
	if (n == 0) {
		d->in_eof = 1;
		struct stat st;
		if (d->size_at_start >= 0 &&
		    (uint64_t)d->size_at_start > (uint64_t)d->start + atomic_load(&d->bytes_in) &&
		    fstat(d->fd, &st) == 0 && st.st_size < d->size_at_start)
			return err_set(e, ST_ABORTED, "%s", LAYER_SHRANK);
	}
	atomic_fetch_add(&d->bytes_in, (uint64_t)n);
	return n;
}

static int refill(struct decoder *d, struct err *e)
{
	if (d->in_pos < d->in_len || d->in_eof)
		return 0;
	ssize_t n = read_layer(d, d->in, IN_BUF, e);
	if (n < 0)
		return -1;
	d->in_pos = 0;
	d->in_len = (size_t)n;
	if (n > 0 && d->hash_in)
		sha256_update(&d->h_in, d->in, (size_t)n);
	return 0;
}

/* Reads until the magic numbers can be told apart (or the input ends),
 * reporting each read: a layer that trickles in is still moving. */
static int detect(struct decoder *d, void (*progress)(void *ctx, uint64_t in, uint64_t entries), void *ctx,
		  struct err *e)
{
	while (d->in_len < 6 && !d->in_eof) {
		ssize_t n = read_layer(d, d->in + d->in_len, IN_BUF - d->in_len, e);
		if (n < 0)
			return -1;
		if (n > 0)
			sha256_update(&d->h_in, d->in + d->in_len, (size_t)n);
		d->in_len += (size_t)n;
		if (progress)
			progress(ctx, d->in_len, 0);
	}
	const unsigned char *m = d->in;
	size_t n = d->in_len;
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
	d->start = lseek(fd, 0, SEEK_CUR);
	struct stat st;
	d->size_at_start = d->start >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : -1;
	sha256_init(&d->h_in);
	sha256_init(&d->h_out);
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
	free(d->in);
	free(d->gz);
	ZSTD_freeDCtx(d->zs);
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
		memcpy(out, d->in + d->in_pos, n);
		d->in_pos += n;
		return (ssize_t)n;
	}
	if (d->in_eof)
		return 0;
	return read_layer(d, out, cap, e);
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
		s->next_in = (unsigned char *)d->in + d->in_pos;
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
		ZSTD_inBuffer ib = {d->in + d->in_pos, d->in_len - d->in_pos, 0};
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

/* Fills out with up to cap uncompressed bytes: > 0, 0 at the end, -1. */
static ssize_t decode(struct decoder *d, unsigned char *out, size_t cap, struct err *e)
{
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

/* Called with mu held once the ring grew or ended: wakes the hasher when
 * HASH_BATCH slots wait for it, or at the end (a signal that finds it
 * awake costs no system call).  HASH_BATCH < RING_N, so the hasher is
 * woken before a full ring waits for it. */
static void hasher_kick(struct xstream *s)
{
	if (s->tail - s->hashed >= HASH_BATCH || s->prod_done || s->cancel)
		pthread_cond_signal(&s->hcv);
}

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
		ssize_t n = decode(&s->d, s->ring[slot], RING_BUF, &e);
		pthread_mutex_lock(&s->mu);
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		s->len[slot] = (size_t)n;
		s->tail++;
		hasher_kick(s);
		pthread_cond_broadcast(&s->cv);
	}
	s->prod_done = 1;
	s->prod_rc = rc;
	s->prod_err = e;
	hasher_kick(s);
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
		*buf = s->ring[slot];
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
	ssize_t n = decode(&s->d, s->ring[slot], RING_BUF, &fe);
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
	hasher_kick(s);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (n < 0) {
		if (e)
			*e = fe;
		return -1;
	}
	*buf = s->ring[slot];
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
			pthread_cond_wait(&s->hcv, &s->mu);
		if (s->cancel || s->hashed == s->tail)
			break;
		unsigned slot = (unsigned)(s->hashed % RING_N);
		pthread_mutex_unlock(&s->mu);
		sha256_update(&s->d.h_out, s->ring[slot], s->len[slot]);
		pthread_mutex_lock(&s->mu);
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
	ssize_t n = decode(&s->d, s->buf, RING_BUF, e);
	if (n > 0)
		*buf = s->buf;
	if (n > 0)
		sha256_update(&s->d.h_out, *buf, (size_t)n);
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
	uintptr_t at = slot >= 0 ? (uintptr_t)s->ring[slot] : 0;
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

/* The ring's RING_N blocks, in one anonymous mapping aligned to 2 MiB and
 * marked for a transparent huge page.  A page touched for the first time
 * costs a fault, and on the 2-core virtual machines this project measures
 * on a fault costs about 11.5 us (a fresh 2 MiB touched page by page: 5.9
 * ms): the ring alone was 512 faults, 6 ms of the CPU of any layer above
 * 2 MiB, most of it while the pipeline fills and the other threads wait
 * for the first blocks.  Backed by a huge page it costs one fault
 * (distro.tar.zst: 1396 faults an apply, 878 with it).  Where THP is off
 * or no huge page is free, the kernel backs it with pages as before.
 * madvise is advice on this process's own memory; a failure changes
 * nothing. */
#define RING_ALIGN ((size_t)2 << 20)
#define RING_BYTES ((size_t)RING_N * RING_BUF)

static int ring_map(struct xstream *s, struct err *e)
{
	size_t span = RING_BYTES + RING_ALIGN;
	unsigned char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return err_errno(e, ST_RESOURCE_EXHAUSTED, errno,
				 "extract: no memory for the stream's blocks");
	unsigned char *base =
	    (unsigned char *)(((uintptr_t)raw + RING_ALIGN - 1) & ~(uintptr_t)(RING_ALIGN - 1));
	if (base > raw)
		munmap(raw, (size_t)(base - raw));
	if (raw + span > base + RING_BYTES)
		munmap(base + RING_BYTES, (size_t)(raw + span - (base + RING_BYTES)));
	(void)madvise(base, RING_BYTES, MADV_HUGEPAGE);
	for (int i = 0; i < RING_N; i++)
		s->ring[i] = base + (size_t)i * RING_BUF;
	return 0;
}

static void ring_unmap(struct xstream *s)
{
	if (s->ring[0])
		munmap(s->ring[0], RING_BYTES);
	memset(s->ring, 0, sizeof s->ring);
}

static int stream_start(struct xstream *s, struct err *e)
{
	s->cur = -1;
	if (!s->threaded) {
		s->buf = xmalloc(RING_BUF);
		return 0;
	}
	if (ring_map(s, e) < 0)
		return -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_cond_init(&s->hcv, NULL);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	int rc = pthread_create(&s->hasher, &attr, hasher_main, s);
	if (rc == 0) {
		s->hasher_started = 1;
		s->self_fill = s->d.codec == CODEC_NONE;
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
		ring_unmap(s);
		s->buf = xmalloc(RING_BUF);
	}
	return 0;
}

static void stream_stop(struct xstream *s)
{
	if (s->hasher_started) {
		pthread_mutex_lock(&s->mu);
		s->cancel = 1;
		hasher_kick(s);
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		if (s->started)
			pthread_join(s->thread, NULL);
		pthread_join(s->hasher, NULL);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		pthread_cond_destroy(&s->hcv);
	}
	ring_unmap(s);
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
static void hash_wait(struct xstream *s)
{
	if (!s->hasher_started)
		return;
	pthread_mutex_lock(&s->mu);
	while (s->hashed != s->tail)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

static void stream_result(struct xstream *s, struct extract_result *res)
{
	hash_wait(s);
	sha256_final(&s->d.h_out, res->diff_id);
	if (s->d.hash_in)
		sha256_final(&s->d.h_in, res->compressed_digest);
	if (s->d.codec == CODEC_NONE)
		memcpy(res->compressed_digest, res->diff_id, 32);
	res->compressed_size = atomic_load(&s->d.bytes_in);
	res->uncompressed_size = s->d.bytes_out;
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
		stream_result(s, res);
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
