/* Room for the metadata store to grow, so that a full file system or a full
 * map is an error and never a wedge (broker/meta_store.h lays out the store).
 *
 * LMDB changes pages by copy-on-write: even deleting a record writes new
 * pages, and when its free list has none to reuse, the data file grows.  On
 * a full file system that growth fails (ENOSPC), and so would every change,
 * Remove included, which is what would free the space.  So the store keeps
 * a reserve: fallocate(FALLOC_FL_KEEP_SIZE) allocates RESERVE bytes of
 * blocks past the end of data.mdb, which LMDB's writes fill when the file
 * grows without asking the file system for a block or an inode, and which
 * nothing else can take (a separate reserve file, released when needed,
 * could be taken meanwhile by a layer being extracted).  After every commit
 * the reserve is topped up.  While that fails, changes that add to the store
 * (create, commit, update: meta_room) are refused with ResourceExhausted,
 * and removals go on, on the reserve; once space returns, the next top-up
 * succeeds and everything works again, without a restart.
 *
 * The map (meta_max_bytes) is treated alike: changes that add stop RESERVE
 * short of it, so that a removal still finds pages once they are refused.
 * The map is sparse (the file grows only as it is used), so its default is
 * large; reaching it is a ResourceExhausted naming the setting. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "../common/log.h"
#include "meta_store.h"

/* A sixteenth of the file system, between these: a removal's commit needs a
 * few dozen pages, a batch of them a few hundred. */
#define RESERVE_MIN (1ULL << 20)
#define RESERVE_MAX (8ULL << 20)

static int data_fd(struct meta *m)
{
	int fd = -1;
	mdb_env_get_fd(m->env, &fd);
	return fd;
}

void reserve_init(struct meta *m)
{
	struct statfs sf;
	uint64_t size = RESERVE_MAX;
	pthread_mutex_init(&m->rsv_mu, NULL);
	if (fstatfs(data_fd(m), &sf) == 0 && sf.f_blocks) {
		size = (uint64_t)sf.f_blocks * (uint64_t)sf.f_bsize / 16;
		size = size < RESERVE_MIN ? RESERVE_MIN : size > RESERVE_MAX ? RESERVE_MAX : size;
	}
	m->rsv_size = size;
	m->rsv_short = true;
	reserve_top_up(m);
}

void reserve_top_up(struct meta *m)
{
	struct stat st;
	int fd = data_fd(m);
	pthread_mutex_lock(&m->rsv_mu);
	if (!m->rsv_size || fstat(fd, &st) < 0)
		goto out;
	uint64_t end = (uint64_t)st.st_size + m->rsv_size;
	if (!m->rsv_short && end <= m->rsv_end)
		goto out;
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, st.st_size, (off_t)m->rsv_size) == 0) {
		m->rsv_end = end;
		m->rsv_short = false;
	} else if (errno == EOPNOTSUPP) {
		/* Nothing can be kept on this file system; say so once. */
		log_warn("metadata: `%s`: its file system cannot preallocate; no space is kept for removals",
			 m->dir);
		m->rsv_size = 0;
		m->rsv_short = false;
	} else {
		m->rsv_short = true;
	}
out:
	pthread_mutex_unlock(&m->rsv_mu);
}

/* Pages on LMDB's free list: reused before the file grows. */
static uint64_t free_pages(struct meta *m)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t n = 0;
	if (mdb_txn_begin(m->env, NULL, MDB_RDONLY, &txn))
		return 0;
	if (mdb_cursor_open(txn, 0 /* FREE_DBI */, &cur) == 0) {
		int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			size_t count; /* an IDL: its length, then the page numbers */
			if (v.mv_size >= sizeof count) {
				memcpy(&count, v.mv_data, sizeof count);
				n += count;
			}
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	return n;
}

int meta_room(struct meta *m, uint64_t need, struct err *e)
{
	MDB_envinfo info;
	MDB_stat st;
	struct statfs sf;
	reserve_top_up(m);
	pthread_mutex_lock(&m->rsv_mu);
	uint64_t rsv = m->rsv_size;
	bool rsv_short = m->rsv_short;
	pthread_mutex_unlock(&m->rsv_mu);
	if (mdb_env_info(m->env, &info) == 0 && mdb_env_stat(m->env, &st) == 0) {
		/* Of a small map, an eighth is kept. */
		uint64_t keep = rsv < m->map_size / 8 ? rsv : m->map_size / 8;
		uint64_t used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
		if (used + keep + need > m->map_size) {
			uint64_t reusable = free_pages(m) * st.ms_psize;
			used = used > reusable ? used - reusable : 0;
		}
		if (used + keep + need > m->map_size)
			return err_set(e, ST_RESOURCE_EXHAUSTED,
				       "metadata: the store in `%s` is full: %" PRIu64 " of its %" PRIu64
				       " bytes (meta_max_bytes) are used and %" PRIu64
				       " are kept for removals; this change needs %" PRIu64,
				       m->dir, used, m->map_size, keep, need);
	}
	if (fstatfs(data_fd(m), &sf) < 0 || !sf.f_blocks)
		return 0;
	/* Pages the free list holds are reused before the file grows: after
	 * removals, a change as large as those removed fits again. */
	uint64_t avail = (uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize;
	if (!rsv_short && avail < need && mdb_env_stat(m->env, &st) == 0)
		avail += free_pages(m) * st.ms_psize;
	if (rsv_short || avail < need)
		return err_set(e, ST_RESOURCE_EXHAUSTED,
			       "metadata: no space left on the file system of `%s`: %" PRIu64
			       " bytes available; nothing is added to the store until there is room for "
			       "this change (%" PRIu64 " bytes) and for the %" PRIu64
			       " bytes kept for removals",
			       m->dir, avail, need, rsv);
	return 0;
}

int commit_fail(struct meta *m, struct err *e, int rc, const char *op)
{
	struct statfs sf;
	if ((rc != ENOSPC && rc != EDQUOT) || fstatfs(data_fd(m), &sf) < 0)
		return lmdb_fail(e, rc, op, m->dir);
	return err_set(e, ST_RESOURCE_EXHAUSTED,
		       "metadata: %s `%s`: %s: its file system has %" PRIu64 " bytes available", op, m->dir,
		       strerror(rc), (uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize);
}

void meta_size(struct meta *m, uint64_t *used, uint64_t *max)
{
	MDB_envinfo info;
	MDB_stat st;
	*used = 0;
	*max = m->map_size;
	if (mdb_env_info(m->env, &info) == 0 && mdb_env_stat(m->env, &st) == 0)
		*used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
}

static int health_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	uint64_t be = htobe64((uint64_t) * (int64_t *)arg);
	MDB_val key = {.mv_size = 6, .mv_data = "health"}, val = {.mv_size = sizeof be, .mv_data = &be};
	int rc = mdb_put(txn, m->info, &key, &val, 0);
	return rc ? lmdb_fail(e, rc, "writing", "info") : 0;
}

int meta_health_mark(struct meta *m, int64_t sec, struct err *e)
{
	return in_txn(m, true, health_body, &sec, e);
}
