/* Transactions of the metadata store (broker/meta_store.h).
 *
 * Each public function is one LMDB transaction.  Alone, a write transaction
 * commits with LMDB's default sync.  With group commit on (meta_set_group_commit,
 * the broker's mode), the operations of one event-loop batch are nested
 * transactions of one batch transaction: each still applies atomically or not
 * at all, reads see the batch, and the batch is committed with one sync.  The
 * broker answers no call before that commit, so a change answered as done
 * survives a crash either way.
 *
 * The commit runs in a second thread, the committer, so that the broker's
 * loop serves reads (Stat, Mounts, List) while the disk syncs.  LMDB ties a
 * write transaction's lock to the thread that began it, so the committer
 * both begins and commits every batch; in between, the loop thread writes
 * into it.  The transaction passes between the two under a mutex:
 *   READY      the committer began it; nobody writes yet
 *   HELD       the loop took it (m->batch) and writes into it
 *   COMMITTING the loop handed it back; the committer commits, counts the
 *              commit, wakes the loop through an eventfd and begins the next
 * While a batch commits there is no transaction to write into: a write waits
 * for the next one (meta_writable() tells a caller that would rather wait in
 * the loop).  Reads then see the last committed state, through their own
 * read transactions, as LMDB's readers always may beside a writer; a read
 * may see the committing batch once LMDB has written its meta page, while
 * the sync of that page still runs, so the broker answers no call while a
 * batch commits (broker/durable.c). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../common/util.h"
#include "meta_store.h"

/* Results of recent commits, by sequence number (the loop reads each soon
 * after it is written; at most one commit is in flight). */
#define COMMIT_RESULTS 16

struct committer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	MDB_txn *ready;	     /* READY: begun, not yet taken */
	MDB_txn *committing; /* COMMITTING: handed back for commit */
	MDB_txn *aborting;   /* handed back to be dropped (meta_close) */
	bool held;	     /* HELD: the loop has it as m->batch */
	bool stop;
	int begin_rc;	 /* the last begin failed; the loop reports it once */
	uint64_t handed; /* batches handed back for commit */
	uint64_t done;	 /* commits finished */
	int rcs[COMMIT_RESULTS];
	int efd; /* eventfd: a commit finished */
};

/* ---- the committer thread ---------------------------------------------------- */

/* Begins the next batch transaction (mutex held, released meanwhile). */
static void committer_begin(struct meta *m, struct committer *k)
{
	MDB_txn *t;
	pthread_mutex_unlock(&k->mu);
	int rc = mdb_txn_begin(m->env, NULL, 0, &t);
	pthread_mutex_lock(&k->mu);
	if (rc)
		k->begin_rc = rc;
	else
		k->ready = t;
}

/* Wakes the loop: a commit finished, or a transaction is ready (so that a
 * writer that waited for one goes on). */
static void committer_wake(struct committer *k)
{
	uint64_t one = 1;
	if (write(k->efd, &one, sizeof one) < 0) {
		/* The counter cannot overflow: the loop drains it. */
	}
	pthread_cond_broadcast(&k->cv);
}

static void *committer_main(void *arg)
{
	struct meta *m = arg;
	struct committer *k = m->k;
	pthread_mutex_lock(&k->mu);
	for (;;) {
		MDB_txn *t;
		if ((t = k->aborting)) {
			k->aborting = NULL;
			mdb_txn_abort(t);
			pthread_cond_broadcast(&k->cv);
		} else if ((t = k->committing)) {
			pthread_mutex_unlock(&k->mu);
			int rc = mdb_txn_commit(t);
			/* The file may have grown into the reserve: make it
			 * whole again before the next batch (meta_space.c). */
			reserve_top_up(m);
			pthread_mutex_lock(&k->mu);
			k->committing = NULL;
			/* The next transaction is ready before the loop hears of
			 * the commit: a writer that waited for the commit never
			 * finds no transaction and nothing left to wake it. */
			if (!k->stop)
				committer_begin(m, k);
			k->rcs[k->done % COMMIT_RESULTS] = rc;
			k->done++;
			committer_wake(k);
		} else if (k->stop) {
			break;
		} else if (!k->ready && !k->held && !k->begin_rc) {
			committer_begin(m, k);
			committer_wake(k);
		} else {
			pthread_cond_wait(&k->cv, &k->mu);
		}
	}
	if (k->ready)
		mdb_txn_abort(k->ready);
	k->ready = NULL;
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

static int committer_start(struct meta *m, struct err *e)
{
	struct committer *k = xcalloc(1, sizeof *k);
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	k->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->efd < 0) {
		free(k);
		return err_errno(e, ST_INTERNAL, errno, "metadata: eventfd");
	}
	m->k = k;
	int rc = pthread_create(&k->thread, NULL, committer_main, m);
	if (rc) {
		close(k->efd);
		free(k);
		m->k = NULL;
		return err_errno(e, ST_INTERNAL, rc, "metadata: start the committer thread");
	}
	/* Until the thread has begun its first transaction, it may still make
	 * the calls of a thread's start (rseq, for one), which the broker's
	 * policy, loaded for every thread right after this, does not allow. */
	pthread_mutex_lock(&k->mu);
	while (!k->ready && !k->begin_rc)
		pthread_cond_wait(&k->cv, &k->mu);
	pthread_mutex_unlock(&k->mu);
	return 0;
}

void committer_stop(struct meta *m)
{
	struct committer *k = m->k;
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	if (m->batch) {
		/* Changes never committed are dropped, as a crash would. */
		k->aborting = m->batch;
		k->held = false;
		m->batch = NULL;
	}
	k->stop = true;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->thread, NULL);
	close(k->efd);
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);
	free(k);
	m->k = NULL;
}

/* Takes the committer's transaction as m->batch, waiting for a commit in
 * flight and the next begin. */
static int batch_take(struct meta *m, struct err *e)
{
	struct committer *k = m->k;
	pthread_mutex_lock(&k->mu);
	while (!k->ready && !k->begin_rc)
		pthread_cond_wait(&k->cv, &k->mu);
	int rc = k->begin_rc;
	if (rc) {
		/* Reported to this caller; the next one asks for a new begin. */
		k->begin_rc = 0;
		pthread_cond_broadcast(&k->cv);
	} else {
		m->batch = k->ready;
		k->ready = NULL;
		k->held = true;
	}
	pthread_mutex_unlock(&k->mu);
	return rc ? lmdb_fail(e, rc, "beginning batch transaction in", "meta") : 0;
}

static int in_batch(struct meta *m, bool write, txn_body body, void *arg, struct err *e)
{
	MDB_txn *txn;
	int rc;
	if (!m->batch) {
		if (batch_take(m, e) < 0)
			return -1;
		m->batch_opened(m->batch_ctx);
	}
	/* Reads see the batch directly; a write is a nested transaction, so a
	 * failed operation leaves the batch as it was. */
	if (!write)
		return body(m, m->batch, arg, e);
	if ((rc = mdb_txn_begin(m->env, m->batch, 0, &txn)))
		return lmdb_fail(e, rc, "beginning transaction in", "meta");
	if (body(m, txn, arg, e) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	rc = mdb_txn_commit(txn);
	return rc ? lmdb_fail(e, rc, "committing transaction in", "meta") : 0;
}

int in_txn(struct meta *m, bool write, txn_body body, void *arg, struct err *e)
{
	MDB_txn *txn;
	if (m->batch_opened && (write || m->batch))
		return in_batch(m, write, body, arg, e);
	int rc = mdb_txn_begin(m->env, NULL, write ? 0 : MDB_RDONLY, &txn);
	if (rc)
		return lmdb_fail(e, rc, "beginning transaction in", "meta");
	if (body(m, txn, arg, e) < 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	if (!write) {
		mdb_txn_abort(txn);
		return 0;
	}
	rc = mdb_txn_commit(txn);
	reserve_top_up(m);
	return rc ? commit_fail(m, e, rc, "committing transaction in") : 0;
}

/* ---- group commit ------------------------------------------------------------ */

int meta_set_group_commit(struct meta *m, void (*batch_opened)(void *ctx), void *ctx, struct err *e)
{
	if (!m->k && committer_start(m, e) < 0)
		return -1;
	m->batch_opened = batch_opened;
	m->batch_ctx = ctx;
	return 0;
}

int meta_pending(const struct meta *m)
{
	return m->batch != NULL;
}

int meta_writable(const struct meta *m)
{
	if (!m->k || m->batch)
		return 1;
	pthread_mutex_lock(&m->k->mu);
	int ready = m->k->ready != NULL || m->k->begin_rc != 0;
	pthread_mutex_unlock(&m->k->mu);
	return ready;
}

int meta_commit_fd(const struct meta *m)
{
	return m->k ? m->k->efd : -1;
}

uint64_t meta_flush_async(struct meta *m)
{
	if (!m->batch)
		return 0;
	struct committer *k = m->k;
	pthread_mutex_lock(&k->mu);
	k->committing = m->batch;
	k->held = false;
	m->batch = NULL;
	uint64_t seq = ++k->handed;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
	return seq;
}

void meta_commit_drain(struct meta *m)
{
	uint64_t n;
	if (m->k && read(m->k->efd, &n, sizeof n) < 0) {
		/* Nothing counted since the last read. */
	}
}

int meta_commit_done(struct meta *m, uint64_t seq, struct err *e)
{
	struct committer *k = m->k;
	pthread_mutex_lock(&k->mu);
	uint64_t done = k->done;
	int rc = done >= seq && done - seq < COMMIT_RESULTS ? k->rcs[(seq - 1) % COMMIT_RESULTS] : 0;
	pthread_mutex_unlock(&k->mu);
	if (done < seq)
		return 0;
	if (done - seq >= COMMIT_RESULTS)
		return err_set(e, ST_INTERNAL, "metadata: the result of batch %" PRIu64 " is gone", seq);
	return rc ? commit_fail(m, e, rc, "committing batch in") : 1;
}

int meta_flush(struct meta *m, struct err *e)
{
	if (!m->k) {
		if (!m->batch)
			return 0;
		int rc = mdb_txn_commit(m->batch);
		m->batch = NULL;
		reserve_top_up(m);
		return rc ? commit_fail(m, e, rc, "committing batch in") : 0;
	}
	/* Every batch handed so far is committed when this returns. */
	uint64_t seq = meta_flush_async(m);
	struct committer *k = m->k;
	pthread_mutex_lock(&k->mu);
	while (k->done < k->handed)
		pthread_cond_wait(&k->cv, &k->mu);
	pthread_mutex_unlock(&k->mu);
	return seq && meta_commit_done(m, seq, e) < 0 ? -1 : 0;
}
