/* The writer pool: small regular files are written by POOL_THREADS threads
 * besides the one that parses the tar, so that creating thousands of files
 * (the cost of a node_modules layer: inode and page-cache work in the
 * kernel) uses every core.  Everything else (directories, links, devices,
 * whiteouts, large files) is written by the parsing thread, in tar order.
 *
 * The result must be the one sequential application gives.  An entry
 * depends on what an earlier entry put at its own path, at a directory
 * above it (its parent, or a file that makes its path invalid), or below
 * it (a replacement or whiteout removes a tree), and a hardlink on its
 * target.  So before an entry is written or queued, the parser waits until
 * no queued or running job's path is equal to, above or below any path the
 * entry touches; jobs in flight therefore never touch each other's paths,
 * and run in any order.  What they may share are parents the layer does not
 * carry: make_parents creates them idempotently (mkdir's EEXIST is success,
 * and every creator sets the same mode and inherited metadata).
 *
 * Each thread has its own writer (parent-fd cache, buffers); a removal by
 * any writer bumps a shared generation that makes the others drop their
 * cached parent, which may be a directory that is gone.
 *
 * Data: a job writes its file from the stream's blocks in place when the
 * file lies in at most JOB_PINS blocks in a row, the block the parser reads
 * and the one before; the job pins them (xstream_pin), so that the stream
 * refills neither until the job is done, and the writers are woken for it
 * at once (the parser may next wait for the stream to refill one).  Other
 * files, and bytes the tar reader copied, are copied into the job.
 *
 * Memory: besides the stream's blocks, the jobs in flight hold at most
 * POOL_BYTES of copies (plus one job, and the one the parser fills next),
 * and a file above JOB_MAX bytes is never queued. */
#include "extract.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "../common/util.h"

#define POOL_THREADS 2
#define POOL_JOBS    64		  /* jobs queued or running */
#define JOB_MAX	     (256 * 1024) /* the largest file a job takes */
#define POOL_BYTES   (4u << 20)
#define JOB_KEEP     (16 * 1024)
/* Jobs queued before a sleeping writer is woken, unless the parser stops
 * queueing first (it waits, writes an entry itself, or ends). */
#define WAKE_BATCH 4

#define WHITEOUT_PREFIX ".wh."

/* One data block of a job: header, then len bytes, or (ext) none: the
 * bytes are in a block of the stream that the job pinned. */
struct seg {
	uint64_t off, len;
	const unsigned char *ext;
};

/* The stream blocks a job may pin: its data then spans at most two blocks
 * in a row, the consumer's and the one before (a job spanning more copies
 * its data), so the block the producer refills next is never one that the
 * job the parser is filling holds. */
#define JOB_PINS 2

struct job {
	int state; /* JOB_FREE, JOB_QUEUED, JOB_RUNNING */
	struct xentry x;
	unsigned char *buf; /* path, xattr names and values, then segments */
	size_t len, cap, data_at, cost;
	size_t next_seg;   /* replay position */
	int pin[JOB_PINS]; /* the stream slots pinned, npins of them */
	unsigned npins;
};

enum { JOB_FREE, JOB_QUEUED, JOB_RUNNING };

struct xpool {
	struct xwriter *main;	/* the parser's writer (borrowed) */
	struct xstream *stream; /* the blocks jobs pin (borrowed) */
	int threads;		/* 0: every entry goes to main */
	pthread_t tid[POOL_THREADS];
	struct xwriter *w[POOL_THREADS];
	pthread_mutex_t mu;
	/* Each side sleeps on its own condition and is woken only when it
	 * sleeps: a wake-up per file would cost more than the file. */
	pthread_cond_t work; /* writers: a job queued, or stop */
	pthread_cond_t done; /* the parser: a job finished */
	unsigned idle;	     /* writers waiting on work */
	int parser_waits;    /* the parser waits on done */
	/* ... until the jobs in flight are at most these (or one failed):
	 * waiting for room, it waits for half the pool, so that it queues
	 * jobs in bursts instead of one per job finished. */
	unsigned wake_busy;
	size_t wake_bytes;
	struct job jobs[POOL_JOBS];
	struct job spare;	   /* the parser's: the next job, filled */
	unsigned queue[POOL_JOBS]; /* slots in FIFO order */
	unsigned q_head, q_len, busy;
	size_t bytes; /* cost of the jobs in flight */
	char *victim; /* other_path's buffer: max_name + 1 bytes */
	int stop, failed;
	struct err err; /* the first job's failure */
	_Atomic unsigned gen;
};

/* a is b, or a directory above it (component-wise). */
static int path_covers(const char *a, const char *b)
{
	size_t n = strlen(a);
	return !strncmp(a, b, n) && (b[n] == '\0' || b[n] == '/');
}

static int related(const char *a, const char *b)
{
	return path_covers(a, b) || path_covers(b, a);
}

/* Called with mu held: does a job in flight touch p? */
static int in_flight(struct xpool *p, const char *path)
{
	if (!path)
		return 0;
	for (unsigned i = 0; i < POOL_JOBS; i++)
		if (p->jobs[i].state != JOB_FREE && related(p->jobs[i].x.path, path))
			return 1;
	return 0;
}

/* The paths an entry touches besides its own: a whiteout's victim, a
 * hardlink's target (none for an opaque marker).  `victim` has room for the entry's path. */
static const char *other_path(const struct xentry *x, char *victim)
{
	if (x->type == XE_HARDLINK)
		return x->link;
	const char *slash = strrchr(x->path, '/');
	const char *base = slash ? slash + 1 : x->path;
	/* an opaque marker only sets an xattr on its directory */
	if (strncmp(base, WHITEOUT_PREFIX, 4) || !strcmp(base, ".wh..wh..opq"))
		return NULL;
	size_t dir = (size_t)(base - x->path);
	memcpy(victim, x->path, dir);
	strcpy(victim + dir, base + 4);
	return victim;
}

/* ---- the jobs' data ------------------------------------------------------ */

static void *job_put(struct job *j, const void *src, size_t n)
{
	if (j->len + n > j->cap) {
		size_t cap = j->cap ? j->cap : 4096;
		while (cap < j->len + n)
			cap *= 2;
		j->buf = xrealloc(j->buf, cap);
		j->cap = cap;
	}
	void *at = j->buf + j->len;
	if (src)
		memcpy(at, src, n);
	j->len += n;
	return at;
}

static void job_unpin(struct xpool *p, struct job *j)
{
	while (j->npins)
		xstream_unpin(p->stream, j->pin[--j->npins]);
}

/* The job's pinned segments (all its data so far, when it has any) become
 * copies, and their blocks are unpinned. */
static void job_inline(struct xpool *p, struct job *j)
{
	if (!j->npins)
		return;
	struct seg ext[JOB_PINS];
	size_t k = (j->len - j->data_at) / sizeof(struct seg);
	memcpy(ext, j->buf + j->data_at, k * sizeof(struct seg));
	j->len = j->data_at;
	for (size_t i = 0; i < k; i++) {
		job_put(j, &(struct seg){ext[i].off, ext[i].len, NULL}, sizeof(struct seg));
		job_put(j, ext[i].ext, ext[i].len);
		job_put(j, NULL, (size_t)(-(ssize_t)j->len & 7));
	}
	job_unpin(p, j);
}

/* Copies the entry and reads its data into j, checking the blocks as
 * write_data does (the same errors, before anything is queued).  Offsets
 * into buf, turned into pointers once buf no longer moves. */
static int job_fill(struct xpool *p, struct job *j, const struct xentry *x, struct xdata *data, struct err *e)
{
	job_unpin(p, j);
	j->len = 0;
	j->next_seg = 0;
	j->x = *x;
	size_t path_at = j->len;
	job_put(j, x->path, strlen(x->path) + 1);
	size_t kv_at = 0, *val_at = NULL, *name_at = NULL;
	if (x->nxattrs) {
		name_at = xcalloc(2 * x->nxattrs, sizeof *name_at);
		val_at = name_at + x->nxattrs;
		for (size_t i = 0; i < x->nxattrs; i++) {
			name_at[i] = j->len;
			job_put(j, x->xattrs[i].name, strlen(x->xattrs[i].name) + 1);
			val_at[i] = j->len;
			job_put(j, x->xattrs[i].value, x->xattrs[i].size);
		}
		/* aligned for struct xattr_kv */
		job_put(j, NULL, (size_t)(-(ssize_t)j->len & 15));
		kv_at = j->len;
		job_put(j, NULL, x->nxattrs * sizeof(struct xattr_kv));
	}
	job_put(j, NULL, (size_t)(-(ssize_t)j->len & 7));
	j->data_at = j->len;
	const void *b;
	size_t n;
	uint64_t off, pos = 0;
	int r;
	while ((r = data->next(data->ctx, &b, &n, &off, e)) > 0) {
		if (off < pos || off > x->size || n > x->size - off) {
			r = err_set(e, ST_INVALID_ARGUMENT, "file `%s`: data outside its size", x->path);
			break;
		}
		if (!n)
			continue;
		pos = off + n;
		/* In place while every segment so far is (the data area holds
		 * only their headers), for at most JOB_PINS blocks. */
		int in_place = j->len == j->data_at + j->npins * sizeof(struct seg);
		int slot = in_place && j->npins < JOB_PINS ? xstream_pin(p->stream, b, n) : -1;
		if (slot >= 0) {
			j->pin[j->npins++] = slot;
			job_put(j, &(struct seg){off, n, b}, sizeof(struct seg));
			continue;
		}
		job_inline(p, j);
		job_put(j, &(struct seg){off, n, NULL}, sizeof(struct seg));
		job_put(j, b, n);
		job_put(j, NULL, (size_t)(-(ssize_t)j->len & 7));
	}
	if (r < 0) {
		job_unpin(p, j);
		free(name_at);
		return -1;
	}
	j->x.path = (const char *)j->buf + path_at;
	if (x->nxattrs) {
		struct xattr_kv *kv = (struct xattr_kv *)(void *)(j->buf + kv_at);
		for (size_t i = 0; i < x->nxattrs; i++)
			kv[i] = (struct xattr_kv){(const char *)j->buf + name_at[i], j->buf + val_at[i],
						  x->xattrs[i].size};
		j->x.xattrs = kv;
	}
	free(name_at);
	if (!x->nxattrs)
		j->x.xattrs = NULL;
	j->x.link = NULL;
	return 0;
}

static int job_next(void *ctx, const void **buf, size_t *len, uint64_t *off, struct err *e)
{
	struct job *j = ctx;
	size_t at = j->next_seg ? j->next_seg : j->data_at;
	if (at >= j->len)
		return 0;
	struct seg s;
	memcpy(&s, j->buf + at, sizeof s);
	*len = (size_t)s.len;
	*off = s.off;
	if (s.ext) {
		*buf = s.ext;
		j->next_seg = at + sizeof s;
	} else {
		*buf = j->buf + at + sizeof s;
		j->next_seg = (at + sizeof s + (size_t)s.len + 7) & ~(size_t)7;
	}
	return 1;
}

/* ---- the threads ---------------------------------------------------------- */

struct thread_arg {
	struct xpool *p;
	int i;
};

static void *writer_main(void *arg)
{
	struct xpool *p = ((struct thread_arg *)arg)->p;
	struct xwriter *w = p->w[((struct thread_arg *)arg)->i];
	free(arg);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->q_len && !p->stop) {
			p->idle++;
			pthread_cond_wait(&p->work, &p->mu);
			p->idle--;
		}
		if (p->stop)
			break;
		struct job *j = &p->jobs[p->queue[p->q_head]];
		p->q_head = (p->q_head + 1) % POOL_JOBS;
		p->q_len--;
		j->state = JOB_RUNNING;
		int skip = p->failed;
		pthread_mutex_unlock(&p->mu);
		struct err e = {0};
		struct xdata data = {job_next, j};
		int rc = skip ? 0 : xw_entry(w, &j->x, &data, &e);
		job_unpin(p, j);
		pthread_mutex_lock(&p->mu);
		if (rc < 0 && !p->failed) {
			p->failed = 1;
			p->err = e;
		}
		/* Under mu: in_flight reads a busy job's path, which is in buf. A
		 * slot keeps a small buffer only. */
		if (j->cap > JOB_KEEP) {
			free(steal_pointer(&j->buf));
			j->cap = 0;
		}
		j->state = JOB_FREE;
		p->busy--;
		p->bytes -= j->cost;
		if (p->parser_waits && (p->failed || (p->busy <= p->wake_busy && p->bytes <= p->wake_bytes)))
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct xpool *xpool_new(struct xwriter *main, struct xstream *stream, int target_fd, const int *lower_fds,
			size_t nlower, const struct extract_limits *lim)
{
	struct xpool *p = xcalloc(1, sizeof *p);
	p->main = main;
	p->stream = stream;
	p->victim = xmalloc((size_t)lim->max_name + 1);
	if (lim->single_thread)
		return p;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	xw_share_gen(main, &p->gen);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (int i = 0; i < POOL_THREADS; i++) {
		p->w[i] = xw_new(target_fd, lower_fds, nlower, lim);
		xw_share_gen(p->w[i], &p->gen);
		struct thread_arg *a = xmalloc(sizeof *a);
		*a = (struct thread_arg){p, i};
		if (pthread_create(&p->tid[i], &attr, writer_main, a) != 0) {
			free(a);
			xw_free(p->w[i]);
			p->w[i] = NULL;
			break; /* fewer threads; none: the parser writes everything */
		}
		p->threads++;
	}
	pthread_attr_destroy(&attr);
	return p;
}

/* Called with mu held, by the parser: sleeping writers get the jobs
 * queued. */
static void wake_writers(struct xpool *p)
{
	if (!p->idle || !p->q_len)
		return;
	if (p->q_len > 1)
		pthread_cond_broadcast(&p->work);
	else
		pthread_cond_signal(&p->work);
}

/* Called with mu held, by the parser: until a job finishes that leaves at
 * most busy jobs of at most bytes in flight. */
static void wait_done(struct xpool *p, unsigned busy, size_t bytes)
{
	wake_writers(p);
	p->wake_busy = busy;
	p->wake_bytes = bytes;
	p->parser_waits = 1;
	pthread_cond_wait(&p->done, &p->mu);
	p->parser_waits = 0;
}

/* Called with mu held: waits until nothing in flight touches x. */
static void wait_clear(struct xpool *p, const struct xentry *x, const char *other)
{
	while (!p->failed && (in_flight(p, x->path) || in_flight(p, other)))
		wait_done(p, POOL_JOBS, SIZE_MAX);
}

static int pool_failed(struct xpool *p, struct err *e)
{
	*e = p->err;
	pthread_mutex_unlock(&p->mu);
	return -1;
}

int xpool_entry(struct xpool *p, const struct xentry *x, struct xdata *data, struct err *e)
{
	if (!p->threads)
		return xw_entry(p->main, x, data, e);
	const char *other = other_path(x, p->victim);
	const char *slash = strrchr(x->path, '/');
	int marker = !strncmp(slash ? slash + 1 : x->path, WHITEOUT_PREFIX, 4);
	int queue = x->type == XE_REG && !marker && x->size <= JOB_MAX;
	if (!queue) {
		pthread_mutex_lock(&p->mu);
		wait_clear(p, x, other);
		if (p->failed)
			return pool_failed(p, e);
		wake_writers(p);
		pthread_mutex_unlock(&p->mu);
		return xw_entry(p->main, x, data, e);
	}
	/* Filled before the lock is taken (it reads only the stream): the
	 * parser holds mu once per job, where the writers want it too. */
	struct job *f = &p->spare;
	int rc = job_fill(p, f, x, data, e);
	pthread_mutex_lock(&p->mu);
	if (rc < 0) {
		/* In order, a failure of an entry before this one comes first. */
		while (p->busy && !p->failed)
			wait_done(p, 0, 0);
		if (p->failed)
			return pool_failed(p, e);
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	wait_clear(p, x, other);
	while (!p->failed && (p->busy == POOL_JOBS || (p->busy && p->bytes + f->len > POOL_BYTES)))
		wait_done(p, POOL_JOBS / 2, POOL_BYTES / 2);
	if (p->failed) {
		job_unpin(p, f);
		return pool_failed(p, e);
	}
	unsigned slot = 0;
	while (p->jobs[slot].state != JOB_FREE)
		slot++;
	/* The slot takes the filled buffer (the entry's pointers into it stay
	 * valid) and the spare the slot's. */
	struct job *j = &p->jobs[slot];
	unsigned char *buf = j->buf;
	size_t cap = j->cap;
	*j = *f;
	f->buf = buf;
	f->cap = cap;
	f->npins = 0; /* the job's now */
	j->state = JOB_QUEUED;
	j->cost = j->len;
	p->busy++;
	p->bytes += j->cost;
	p->queue[(p->q_head + p->q_len) % POOL_JOBS] = slot;
	p->q_len++;
	/* A job that pins stream blocks is started at once: the parser may
	 * next wait for the stream to refill one of them
	 * (jobs_pinning_blocks_of_a_trickling_pipe). */
	if (p->q_len >= WAKE_BATCH || j->npins)
		wake_writers(p);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int xpool_finish(struct xpool *p, struct err *e)
{
	if (p->threads) {
		pthread_mutex_lock(&p->mu);
		while (p->busy)
			wait_done(p, 0, 0);
		if (p->failed)
			return pool_failed(p, e);
		pthread_mutex_unlock(&p->mu);
	}
	return xw_finish(p->main, e);
}

void xpool_free(struct xpool *p)
{
	if (!p)
		return;
	if (p->threads) {
		/* The jobs handed over are written (unless one failed), so that a
		 * failed apply leaves what applying in order up to the failing
		 * entry leaves. */
		pthread_mutex_lock(&p->mu);
		while (p->busy)
			wait_done(p, 0, 0);
		p->stop = 1;
		pthread_cond_broadcast(&p->work);
		pthread_mutex_unlock(&p->mu);
		for (int i = 0; i < p->threads; i++)
			pthread_join(p->tid[i], NULL);
	}
	for (int i = 0; i < POOL_THREADS; i++)
		xw_free(p->w[i]);
	for (unsigned i = 0; i < POOL_JOBS; i++)
		free(p->jobs[i].buf);
	free(p->spare.buf);
	free(p->victim);
	if (p->threads) {
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->work);
		pthread_cond_destroy(&p->done);
	}
	free(p);
}
