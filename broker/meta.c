/* Snapshot metadata in LMDB, mirroring containerd's snapshots/storage
 * (bolt.go): the same checks in the same order, the same error codes.
 *
 * Named databases:
 *   snapshots  snap_key(name) -> packed strata.v1.SnapshotRecord
 *   parents    be64(parent id) be64(child id) -> empty (children of a parent)
 *   ids        be64(id) -> name (ids in use; full names of long-keyed records)
 *   info       "version" -> be32, "next_id" -> be64
 *   holds      attach path -> a mount hold's record (hold_pack)
 *
 * LMDB keys are at most 511 bytes and names may have 4096, so a name longer
 * than SHORT_KEY_MAX is keyed by a prefix of it plus its SHA-256; such keys
 * are exactly LONG_KEY_LEN bytes, longer than any short key, so the two never
 * collide.  Walks visit records in key order: name order, except among long
 * names that share their first LONG_KEY_PREFIX bytes.
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
#include "meta.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/sha256.h"
#include "../common/util.h"
#include "proto/api.h"

#define META_MAP_SIZE	(1UL << 30) /* sparse: the file grows only as it is used */
#define SCHEMA_VERSION	1
#define HASH_LEN	32
#define LONG_KEY_PREFIX 479
#define LONG_KEY_LEN	(LONG_KEY_PREFIX + HASH_LEN)
#define SHORT_KEY_MAX	LONG_KEY_PREFIX
/* More ancestors than this means a corrupt store (a loop), not a deep chain. */
#define CHAIN_MAX 100000

typedef Strata__V1__SnapshotRecord Record;
typedef Strata__V1__Label RecordLabel;

/* Ids are reserved from the store in blocks: one synced transaction per
 * ID_BLOCK snapshots instead of one per snapshot.  An id of a block lost in a
 * crash is simply never used. */
#define ID_BLOCK 64

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

struct meta {
	MDB_env *env;
	MDB_dbi snaps, parents, ids, info, holds, written;
	uint64_t id_next, id_end; /* reserved, not yet handed out: [id_next, id_end) */
	MDB_txn *batch;		  /* open batch transaction (group commit), HELD */
	void (*batch_opened)(void *ctx);
	void *batch_ctx;
	struct committer *k; /* group commit only */
};

struct snap_key {
	unsigned char b[LONG_KEY_LEN];
	size_t n;
};

/* ---- small helpers -------------------------------------------------------- */

static int lmdb_fail(struct err *e, int rc, const char *op, const char *obj)
{
	int code = ST_INTERNAL;
	if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL || rc == ENOSPC || rc == MDB_READERS_FULL)
		code = ST_RESOURCE_EXHAUSTED;
	return err_set(e, code, "metadata: %s `%.200s`: %s", op, obj, mdb_strerror(rc));
}

static void snap_key_of(const char *name, struct snap_key *k)
{
	size_t len = strlen(name);
	if (len <= SHORT_KEY_MAX) {
		memcpy(k->b, name, len);
		k->n = len;
		return;
	}
	memcpy(k->b, name, LONG_KEY_PREFIX);
	sha256(name, len, k->b + LONG_KEY_PREFIX);
	k->n = LONG_KEY_LEN;
}

static MDB_val id_val(uint64_t id, uint64_t *be)
{
	*be = htobe64(id);
	return (MDB_val){.mv_size = sizeof *be, .mv_data = be};
}

static void parent_link_key(uint64_t parent, uint64_t child, uint64_t buf[2])
{
	buf[0] = htobe64(parent);
	buf[1] = htobe64(child);
}

static int validate_name(const char *what, const char *name, struct err *e)
{
	if (!name || !name[0])
		return err_set(e, ST_INVALID_ARGUMENT, "%s must not be empty", what);
	if (strlen(name) > META_NAME_MAX)
		return err_set(e, ST_INVALID_ARGUMENT, "%s `%.40s...` longer than %d bytes", what, name,
			       META_NAME_MAX);
	return 0;
}

/* containerd's labels.Validate, plus strata's count bound. */
static int validate_labels(const struct label *l, size_t n, struct err *e)
{
	if (n > META_LABELS_MAX)
		return err_set(e, ST_INVALID_ARGUMENT, "info.Labels: %zu labels, more than %d", n,
			       META_LABELS_MAX);
	for (size_t i = 0; i < n; i++) {
		const char *k = l[i].key ? l[i].key : "", *v = l[i].value ? l[i].value : "";
		if (strlen(k) + strlen(v) > META_LABEL_MAX)
			return err_set(
			    e, ST_INVALID_ARGUMENT,
			    "info.Labels: label key and value greater than maximum size (%d bytes), "
			    "key: %.10s",
			    META_LABEL_MAX, k);
	}
	return 0;
}

/* ---- labels: normalise as containerd's map + boltutil.WriteLabels do ------- */

struct label_ref {
	const char *key, *value;
	size_t order;
};

static int label_ref_cmp(const void *a, const void *b)
{
	const struct label_ref *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Sorts refs by key; for a key given more than once the last one wins (map
 * assignment); empty values are dropped (WriteLabels does not store them).
 * Returns the number kept, compacted at the front. */
static size_t labels_normalize(struct label_ref *r, size_t n)
{
	size_t out = 0;
	for (size_t i = 0; i < n; i++) {
		r[i].key = r[i].key ? r[i].key : "";
		r[i].value = r[i].value ? r[i].value : "";
		r[i].order = i;
	}
	qsort(r, n, sizeof *r, label_ref_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && strcmp(r[i].key, r[i + 1].key) == 0)
			continue; /* a later assignment to the same key follows */
		if (r[i].value[0])
			r[out++] = r[i];
	}
	return out;
}

static struct label_ref *label_refs_of(const struct label *l, size_t n)
{
	struct label_ref *r = xcalloc(n + 1, sizeof *r);
	for (size_t i = 0; i < n; i++)
		r[i] = (struct label_ref){.key = l[i].key, .value = l[i].value};
	return r;
}

/* ---- records -------------------------------------------------------------- */

/* 1 and *rec when found, 0 when absent, -1 on a store error. */
static int record_load(struct meta *m, MDB_txn *txn, const char *name, Record **rec, struct err *e)
{
	struct snap_key k;
	snap_key_of(name, &k);
	MDB_val key = {.mv_size = k.n, .mv_data = k.b}, val;
	int rc = mdb_get(txn, m->snaps, &key, &val);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return lmdb_fail(e, rc, "reading snapshot", name);
	*rec = strata__v1__snapshot_record__unpack(NULL, val.mv_size, val.mv_data);
	if (!*rec)
		return err_set(e, ST_INTERNAL, "metadata: corrupt record for snapshot `%.200s`", name);
	return 1;
}

static int record_exists(struct meta *m, MDB_txn *txn, const char *name, struct err *e)
{
	struct snap_key k;
	snap_key_of(name, &k);
	MDB_val key = {.mv_size = k.n, .mv_data = k.b}, val;
	int rc = mdb_get(txn, m->snaps, &key, &val);
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc ? lmdb_fail(e, rc, "reading snapshot", name) : 1;
}

/* Stores rec under name with the given labels (already normalised); packs
 * straight into LMDB's page with MDB_RESERVE. */
static int record_store(struct meta *m, MDB_txn *txn, const char *name, Record *rec,
			const struct label_ref *l, size_t nl, struct err *e)
{
	RecordLabel *lv = xcalloc(nl + 1, sizeof *lv);
	RecordLabel **lp = xcalloc(nl + 1, sizeof *lp);
	for (size_t i = 0; i < nl; i++) {
		strata__v1__label__init(&lv[i]);
		lv[i].key = (char *)l[i].key;
		lv[i].value = (char *)l[i].value;
		lp[i] = &lv[i];
	}
	rec->n_labels = nl;
	rec->labels = lp;
	struct snap_key k;
	snap_key_of(name, &k);
	MDB_val key = {.mv_size = k.n, .mv_data = k.b};
	MDB_val val = {.mv_size = strata__v1__snapshot_record__get_packed_size(rec)};
	int rc = mdb_put(txn, m->snaps, &key, &val, MDB_RESERVE);
	if (rc == 0)
		strata__v1__snapshot_record__pack(rec, val.mv_data);
	rec->n_labels = 0;
	rec->labels = NULL;
	free(lp);
	free(lv);
	return rc ? lmdb_fail(e, rc, "writing snapshot", name) : 0;
}

static int record_delete(struct meta *m, MDB_txn *txn, const char *name, struct err *e)
{
	struct snap_key k;
	snap_key_of(name, &k);
	MDB_val key = {.mv_size = k.n, .mv_data = k.b};
	int rc = mdb_del(txn, m->snaps, &key, NULL);
	return rc ? lmdb_fail(e, rc, "deleting snapshot", name) : 0;
}

static int id_name_put(struct meta *m, MDB_txn *txn, uint64_t id, const char *name, struct err *e)
{
	uint64_t be;
	MDB_val key = id_val(id, &be), val = {.mv_size = strlen(name), .mv_data = (void *)name};
	int rc = mdb_put(txn, m->ids, &key, &val, 0);
	return rc ? lmdb_fail(e, rc, "writing id of", name) : 0;
}

static void info_fill(struct snap_info *out, const char *name, size_t namelen, const Record *r)
{
	memset(out, 0, sizeof *out);
	out->name = xmalloc(namelen + 1);
	memcpy(out->name, name, namelen);
	out->name[namelen] = '\0';
	out->parent = r->parent && r->parent[0] ? xstrdup(r->parent) : NULL;
	out->kind = r->kind;
	out->id = r->id;
	out->created_sec = r->created_sec;
	out->created_nsec = r->created_nsec;
	out->updated_sec = r->updated_sec;
	out->updated_nsec = r->updated_nsec;
	out->size = r->size;
	out->inodes = r->inodes;
	out->nlabels = r->n_labels;
	out->labels = xcalloc(r->n_labels + 1, sizeof *out->labels);
	for (size_t i = 0; i < r->n_labels; i++) {
		out->labels[i].key = xstrdup(r->labels[i]->key);
		out->labels[i].value = xstrdup(r->labels[i]->value);
	}
}

/* Replaces out's labels with copies of l (records being written, whose
 * labels live in the caller's refs). */
static void info_set_labels(struct snap_info *out, const struct label_ref *l, size_t nl)
{
	for (size_t i = 0; i < out->nlabels; i++) {
		free(out->labels[i].key);
		free(out->labels[i].value);
	}
	out->labels = xrealloc(out->labels, (nl + 1) * sizeof *out->labels);
	for (size_t i = 0; i < nl; i++)
		out->labels[i] = (struct label){xstrdup(l[i].key), xstrdup(l[i].value)};
	out->nlabels = nl;
}

/* ---- transactions ----------------------------------------------------------- */

typedef int (*txn_body)(struct meta *m, MDB_txn *txn, void *arg, struct err *e);

/* Runs body in one transaction; a write transaction commits only when body
 * succeeded, so a failed operation changes nothing. */
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

static void committer_stop(struct meta *m)
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

static int in_txn(struct meta *m, bool write, txn_body body, void *arg, struct err *e)
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
	return rc ? lmdb_fail(e, rc, "committing transaction in", "meta") : 0;
}

/* ---- open / close ------------------------------------------------------------ */

static int open_dbs(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	static const struct {
		const char *name;
		size_t off;
	} dbs[] = {
	    {"snapshots", offsetof(struct meta, snaps)}, {"parents", offsetof(struct meta, parents)},
	    {"ids", offsetof(struct meta, ids)},	 {"info", offsetof(struct meta, info)},
	    {"holds", offsetof(struct meta, holds)},	 {"written", offsetof(struct meta, written)},
	};
	for (size_t i = 0; i < ARRAY_SIZE(dbs); i++) {
		int rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, (MDB_dbi *)((char *)m + dbs[i].off));
		if (rc)
			return lmdb_fail(e, rc, "opening database", dbs[i].name);
	}
	MDB_val key = {.mv_size = 7, .mv_data = "version"}, val;
	int rc = mdb_get(txn, m->info, &key, &val);
	if (rc == MDB_NOTFOUND) {
		uint32_t v = htobe32(SCHEMA_VERSION);
		val = (MDB_val){.mv_size = sizeof v, .mv_data = &v};
		rc = mdb_put(txn, m->info, &key, &val, 0);
		return rc ? lmdb_fail(e, rc, "writing", "version") : 0;
	}
	if (rc)
		return lmdb_fail(e, rc, "reading", "version");
	uint32_t v = 0;
	if (val.mv_size == sizeof v)
		memcpy(&v, val.mv_data, sizeof v);
	if (val.mv_size != sizeof v || be32toh(v) != SCHEMA_VERSION)
		return err_set(e, ST_FAILED_PRECONDITION,
			       "metadata: schema version %u is not supported (want %d)", be32toh(v),
			       SCHEMA_VERSION);
	return 0;
}

int meta_open(struct meta **out, const char *dir, struct err *e)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_errno(e, 0, errno, "creating metadata directory `%s`", dir);
	struct meta *m = xcalloc(1, sizeof *m);
	int rc = mdb_env_create(&m->env);
	if (rc) {
		free(m);
		return lmdb_fail(e, rc, "creating environment for", dir);
	}
	if ((rc = mdb_env_set_maxdbs(m->env, 6)) || (rc = mdb_env_set_mapsize(m->env, META_MAP_SIZE)))
		goto fail;
	/* MDB_NOTLS: read transactions are not tied to a thread's TLS slot, so
	 * the loop thread may hold several (a walk's reader stays usable while
	 * a write begins from its callback) beside the write transaction the
	 * committer thread began. */
	if ((rc = mdb_env_open(m->env, dir, MDB_NOTLS, 0600)))
		goto fail;
	if (mdb_env_get_maxkeysize(m->env) < LONG_KEY_LEN) {
		err_set(e, ST_INTERNAL, "metadata: LMDB key size %d too small (need %d)",
			mdb_env_get_maxkeysize(m->env), LONG_KEY_LEN);
		mdb_env_close(m->env);
		free(m);
		return -1;
	}
	/* Reader slots left by a broker that crashed would pin old pages forever. */
	int dead = 0;
	mdb_reader_check(m->env, &dead);
	if (in_txn(m, true, open_dbs, NULL, e) < 0) {
		mdb_env_close(m->env);
		free(m);
		return err_wrap(e, "opening metadata in `%s`", dir);
	}
	*out = m;
	return 0;
fail:
	lmdb_fail(e, rc, "opening environment in", dir);
	mdb_env_close(m->env);
	free(m);
	return -1;
}

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
	return rc ? lmdb_fail(e, rc, "committing batch in", "meta") : 1;
}

int meta_flush(struct meta *m, struct err *e)
{
	if (!m->k) {
		if (!m->batch)
			return 0;
		int rc = mdb_txn_commit(m->batch);
		m->batch = NULL;
		return rc ? lmdb_fail(e, rc, "committing batch in", "meta") : 0;
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

void meta_close(struct meta *m)
{
	if (!m)
		return;
	committer_stop(m);
	if (m->batch)
		mdb_txn_abort(m->batch);
	mdb_env_close(m->env);
	free(m);
}

/* ---- snap_info ------------------------------------------------------------- */

void snap_info_free(struct snap_info *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->parent);
	for (size_t i = 0; s->labels && i < s->nlabels; i++) {
		free(s->labels[i].key);
		free(s->labels[i].value);
	}
	free(s->labels);
	memset(s, 0, sizeof *s);
}

const char *snap_kind_name(int kind)
{
	switch (kind) {
	case KIND_ACTIVE:
		return "active";
	case KIND_VIEW:
		return "view";
	case KIND_COMMITTED:
		return "committed";
	default:
		return "unknown";
	}
}

/* ---- reads ----------------------------------------------------------------- */

struct get_args {
	const char *name;
	struct snap_info *out;
};

static int get_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct get_args *a = arg;
	Record *rec = NULL;
	int r = record_load(m, txn, a->name, &rec, e);
	if (r <= 0)
		return r < 0 ? -1 : err_set(e, ST_NOT_FOUND, "snapshot `%.200s` does not exist", a->name);
	info_fill(a->out, a->name, strlen(a->name), rec);
	strata__v1__snapshot_record__free_unpacked(rec, NULL);
	return 0;
}

int meta_get(struct meta *m, const char *name, struct snap_info *out, struct err *e)
{
	struct get_args a = {.name = name, .out = out};
	return in_txn(m, false, get_body, &a, e);
}

struct ids_args {
	const char *name;
	uint64_t *ids;
	size_t n;
};

static int parent_ids_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct ids_args *a = arg;
	Record *rec = NULL;
	int r = record_load(m, txn, a->name, &rec, e);
	if (r <= 0)
		return r < 0 ? -1 : err_set(e, ST_NOT_FOUND, "snapshot `%.200s` does not exist", a->name);
	size_t cap = 0;
	while (rec->parent && rec->parent[0]) {
		Record *p = NULL;
		r = record_load(m, txn, rec->parent, &p, e);
		if (r == 0)
			err_set(e, ST_NOT_FOUND, "missing parent `%.200s` of `%.200s`", rec->parent, a->name);
		strata__v1__snapshot_record__free_unpacked(rec, NULL);
		if (r <= 0)
			return -1;
		rec = p;
		if (a->n == CHAIN_MAX) {
			strata__v1__snapshot_record__free_unpacked(rec, NULL);
			return err_set(e, ST_INTERNAL, "metadata: parent chain of `%.200s` loops", a->name);
		}
		if (a->n == cap) {
			cap = cap ? 2 * cap : 16;
			a->ids = xrealloc(a->ids, cap * sizeof *a->ids);
		}
		a->ids[a->n++] = rec->id;
	}
	strata__v1__snapshot_record__free_unpacked(rec, NULL);
	return 0;
}

int meta_parent_ids(struct meta *m, const char *name, uint64_t **ids, size_t *n, struct err *e)
{
	struct ids_args a = {.name = name};
	if (in_txn(m, false, parent_ids_body, &a, e) < 0) {
		free(a.ids);
		return -1;
	}
	*ids = a.ids ? a.ids : xcalloc(1, sizeof **ids);
	*n = a.n;
	return 0;
}

struct walk_args {
	meta_walk_fn fn;
	void *ctx;
};

/* The name of the record under key k: the key itself, or for a long key
 * the full name kept in the ids database. */
static int key_name(struct meta *m, MDB_txn *txn, const MDB_val *k, uint64_t id, MDB_val *name, struct err *e)
{
	if (k->mv_size <= SHORT_KEY_MAX) {
		*name = *k;
		return 0;
	}
	uint64_t be;
	MDB_val key = id_val(id, &be);
	int rc = mdb_get(txn, m->ids, &key, name);
	if (rc == MDB_NOTFOUND)
		return err_set(e, ST_INTERNAL, "metadata: no name for snapshot id %" PRIu64, id);
	return rc ? lmdb_fail(e, rc, "reading", "ids") : 0;
}

static int walk_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct walk_args *a = arg;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, m->snaps, &cur);
	if (rc)
		return lmdb_fail(e, rc, "walking", "snapshots");
	MDB_val k, v;
	int ret = 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Record *rec = strata__v1__snapshot_record__unpack(NULL, v.mv_size, v.mv_data);
		if (!rec) {
			ret = err_set(e, ST_INTERNAL, "metadata: corrupt snapshot record");
			break;
		}
		MDB_val name;
		struct snap_info s;
		if (key_name(m, txn, &k, rec->id, &name, e) < 0) {
			strata__v1__snapshot_record__free_unpacked(rec, NULL);
			ret = -1;
			break;
		}
		info_fill(&s, name.mv_data, name.mv_size, rec);
		strata__v1__snapshot_record__free_unpacked(rec, NULL);
		int stop = a->fn(&s, a->ctx);
		snap_info_free(&s);
		if (stop)
			break;
	}
	if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
		ret = lmdb_fail(e, rc, "walking", "snapshots");
	mdb_cursor_close(cur);
	return ret;
}

int meta_walk(struct meta *m, meta_walk_fn fn, void *ctx, struct err *e)
{
	struct walk_args a = {.fn = fn, .ctx = ctx};
	return in_txn(m, false, walk_body, &a, e);
}

static int all_ids_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct ids_args *a = arg;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, m->ids, &cur);
	if (rc)
		return lmdb_fail(e, rc, "walking", "ids");
	MDB_val k, v;
	size_t cap = 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t be;
		if (k.mv_size != sizeof be)
			continue;
		memcpy(&be, k.mv_data, sizeof be);
		if (a->n == cap) {
			cap = cap ? 2 * cap : 64;
			a->ids = xrealloc(a->ids, cap * sizeof *a->ids);
		}
		a->ids[a->n++] = be64toh(be);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : lmdb_fail(e, rc, "walking", "ids");
}

int meta_ids(struct meta *m, uint64_t **ids, size_t *n, struct err *e)
{
	struct ids_args a = {0};
	if (in_txn(m, false, all_ids_body, &a, e) < 0) {
		free(a.ids);
		return -1;
	}
	*ids = a.ids ? a.ids : xcalloc(1, sizeof **ids);
	*n = a.n;
	return 0;
}

/* ---- ids ------------------------------------------------------------------- */

static const MDB_val next_id_key = {.mv_size = 7, .mv_data = "next_id"};

/* The first id not yet handed out: ids start at 1. */
static int next_id_read(struct meta *m, MDB_txn *txn, uint64_t *next, struct err *e)
{
	MDB_val k = next_id_key, v;
	int rc = mdb_get(txn, m->info, &k, &v);
	if (rc == MDB_NOTFOUND) {
		*next = 1;
		return 0;
	}
	if (rc)
		return lmdb_fail(e, rc, "reading", "next_id");
	uint64_t be;
	if (v.mv_size != sizeof be)
		return err_set(e, ST_INTERNAL, "metadata: corrupt next_id");
	memcpy(&be, v.mv_data, sizeof be);
	*next = be64toh(be);
	return 0;
}

static int reserve_ids_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	uint64_t *first = arg, be;
	if (next_id_read(m, txn, first, e) < 0)
		return -1;
	if (*first > UINT64_MAX - ID_BLOCK)
		return err_set(e, ST_RESOURCE_EXHAUSTED, "metadata: snapshot ids exhausted");
	MDB_val k = next_id_key, v = id_val(*first + ID_BLOCK, &be);
	int rc = mdb_put(txn, m->info, &k, &v, 0);
	return rc ? lmdb_fail(e, rc, "writing", "next_id") : 0;
}

int meta_next_id(struct meta *m, uint64_t *id, struct err *e)
{
	if (m->id_next == m->id_end) {
		/* The reservation must be durable before any directory is made
		 * with one of its ids: in group commit it joins the batch, and
		 * the caller commits before it uses the id (return 1). */
		uint64_t first;
		if (in_txn(m, true, reserve_ids_body, &first, e) < 0)
			return -1;
		m->id_next = first;
		m->id_end = first + ID_BLOCK;
		*id = m->id_next++;
		return m->batch_opened ? 1 : 0;
	}
	*id = m->id_next++;
	return 0;
}

void meta_forget_ids(struct meta *m)
{
	m->id_next = m->id_end = 0;
}

/* ---- create ---------------------------------------------------------------- */

/* The id must have been reserved by meta_next_id and not be in use: anything
 * else is a bug in the caller, never a client's fault. */
static int check_new_id(struct meta *m, MDB_txn *txn, uint64_t id, struct err *e)
{
	uint64_t next, be;
	if (next_id_read(m, txn, &next, e) < 0)
		return -1;
	if (id == 0 || id >= next)
		return err_set(e, ST_INTERNAL, "metadata: id %" PRIu64 " was not reserved", id);
	MDB_val k = id_val(id, &be), v;
	int rc = mdb_get(txn, m->ids, &k, &v);
	if (rc == 0)
		return err_set(e, ST_INTERNAL, "metadata: id %" PRIu64 " is already in use", id);
	return rc == MDB_NOTFOUND ? 0 : lmdb_fail(e, rc, "reading", "ids");
}

struct create_args {
	const struct snap_info *in;
	struct snap_info *out;
};

static int create_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	const struct snap_info *in = ((struct create_args *)arg)->in;
	const char *parent = in->parent && in->parent[0] ? in->parent : NULL;
	Record rec = STRATA__V1__SNAPSHOT_RECORD__INIT;
	uint64_t pid = 0;
	if (check_new_id(m, txn, in->id, e) < 0)
		return -1;
	if (parent) {
		Record *p = NULL;
		int r = record_load(m, txn, parent, &p, e);
		if (r <= 0)
			return r < 0 ? -1 : err_set(e, ST_NOT_FOUND, "missing parent `%.200s`", parent);
		int pkind = p->kind;
		pid = p->id;
		strata__v1__snapshot_record__free_unpacked(p, NULL);
		if (pkind != KIND_COMMITTED)
			return err_set(e, ST_INVALID_ARGUMENT, "parent `%.200s` is not committed snapshot",
				       parent);
	}
	int r = record_exists(m, txn, in->name, e);
	if (r != 0)
		return r < 0 ? -1
			     : err_set(e, ST_ALREADY_EXISTS, "snapshot `%.200s`: already exists", in->name);

	rec.id = in->id;
	rec.kind = in->kind;
	rec.parent = (char *)(parent ? parent : "");
	now_realtime(&rec.created_sec, &rec.created_nsec);
	rec.updated_sec = rec.created_sec;
	rec.updated_nsec = rec.created_nsec;
	cleanup_free struct label_ref *l = label_refs_of(in->labels, in->nlabels);
	size_t nl = labels_normalize(l, in->nlabels);
	if (record_store(m, txn, in->name, &rec, l, nl, e) < 0 ||
	    id_name_put(m, txn, in->id, in->name, e) < 0)
		return -1;
	if (parent) {
		uint64_t lk[2];
		parent_link_key(pid, in->id, lk);
		MDB_val k = {.mv_size = sizeof lk, .mv_data = lk}, v = {0};
		int rc = mdb_put(txn, m->parents, &k, &v, 0);
		if (rc)
			return lmdb_fail(e, rc, "writing parent link of", in->name);
	}
	struct create_args *a = arg;
	if (a->out) {
		info_fill(a->out, in->name, strlen(in->name), &rec);
		info_set_labels(a->out, l, nl);
	}
	return 0;
}

int meta_create(struct meta *m, const struct snap_info *in, struct snap_info *out, struct err *e)
{
	if (in->kind != KIND_ACTIVE && in->kind != KIND_VIEW)
		return err_set(
		    e, ST_INVALID_ARGUMENT,
		    "snapshot type %d invalid; only snapshots of type Active or View can be created",
		    in->kind);
	if (validate_name("snapshot key", in->name, e) < 0 || validate_labels(in->labels, in->nlabels, e) < 0)
		return -1;
	struct create_args a = {.in = in, .out = out};
	if (in_txn(m, true, create_body, &a, e) < 0) {
		if (out)
			snap_info_free(out);
		return -1;
	}
	return 0;
}

/* ---- commit ---------------------------------------------------------------- */

struct commit_args {
	const char *key, *name;
	const struct label *labels;
	size_t nlabels;
	int64_t size, inodes;
};

static int commit_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct commit_args *a = arg;
	cleanup_free struct label_ref *l = label_refs_of(a->labels, a->nlabels);
	size_t nl = labels_normalize(l, a->nlabels);
	int r = record_exists(m, txn, a->name, e);
	if (r != 0)
		return r < 0 ? -1
			     : err_set(e, ST_ALREADY_EXISTS, "committed snapshot `%.200s`: already exists",
				       a->name);
	Record *rec = NULL;
	r = record_load(m, txn, a->key, &rec, e);
	if (r <= 0)
		return r < 0 ? -1
			     : err_set(e, ST_NOT_FOUND, "failed to get active snapshot `%.200s`", a->key);
	int ret = -1;
	if (rec->kind != KIND_ACTIVE) {
		err_set(e, ST_FAILED_PRECONDITION, "snapshot `%.200s` is not active", a->key);
		goto out;
	}
	if (rec->parent && rec->parent[0]) {
		r = record_exists(m, txn, rec->parent, e);
		if (r == 0)
			err_set(e, ST_NOT_FOUND, "missing parent `%.200s` of snapshot `%.200s`", rec->parent,
				a->key);
		if (r <= 0)
			goto out;
	}
	/* As CommitActive: new times, labels replaced (not inherited), usage
	 * recorded; id and parent stay, so the parent link stays valid. */
	for (size_t i = 0; i < rec->n_labels; i++)
		strata__v1__label__free_unpacked(rec->labels[i], NULL);
	free(rec->labels);
	rec->labels = NULL;
	rec->n_labels = 0;
	rec->kind = KIND_COMMITTED;
	now_realtime(&rec->created_sec, &rec->created_nsec);
	rec->updated_sec = rec->created_sec;
	rec->updated_nsec = rec->created_nsec;
	rec->size = a->size;
	rec->inodes = a->inodes;
	if (record_delete(m, txn, a->key, e) < 0 || record_store(m, txn, a->name, rec, l, nl, e) < 0 ||
	    id_name_put(m, txn, rec->id, a->name, e) < 0)
		goto out;
	ret = 0;
out:
	strata__v1__snapshot_record__free_unpacked(rec, NULL);
	return ret;
}

int meta_commit(struct meta *m, const char *key, const char *name, const struct label *labels, size_t nlabels,
		int64_t size, int64_t inodes, struct err *e)
{
	if (validate_name("snapshot name", name, e) < 0 || validate_labels(labels, nlabels, e) < 0)
		return -1;
	if (!key)
		key = "";
	struct commit_args a = {key, name, labels, nlabels, size, inodes};
	return in_txn(m, true, commit_body, &a, e);
}

/* ---- remove ---------------------------------------------------------------- */

struct remove_args {
	const char *name;
	uint64_t id;
	int kind;
};

static int has_children(struct meta *m, MDB_txn *txn, uint64_t id, struct err *e)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, m->parents, &cur);
	if (rc)
		return lmdb_fail(e, rc, "reading", "parents");
	uint64_t be;
	MDB_val k = id_val(id, &be), v;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	int found = rc == 0 && k.mv_size >= sizeof be && memcmp(k.mv_data, &be, sizeof be) == 0;
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return lmdb_fail(e, rc, "reading", "parents");
	return found;
}

static int remove_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct remove_args *a = arg;
	Record *rec = NULL;
	int r = record_load(m, txn, a->name, &rec, e);
	if (r <= 0)
		return r < 0 ? -1 : err_set(e, ST_NOT_FOUND, "snapshot `%.200s`: not found", a->name);
	int ret = -1;
	a->id = rec->id;
	a->kind = rec->kind;
	r = has_children(m, txn, rec->id, e);
	if (r != 0) {
		if (r > 0)
			err_set(e, ST_FAILED_PRECONDITION, "cannot remove snapshot with child");
		goto out;
	}
	if (rec->parent && rec->parent[0]) {
		Record *p = NULL;
		r = record_load(m, txn, rec->parent, &p, e);
		if (r == 0)
			err_set(e, ST_NOT_FOUND, "snapshot `%.200s`: parent `%.200s` not found", a->name,
				rec->parent);
		if (r <= 0)
			goto out;
		uint64_t lk[2];
		parent_link_key(p->id, rec->id, lk);
		strata__v1__snapshot_record__free_unpacked(p, NULL);
		MDB_val k = {.mv_size = sizeof lk, .mv_data = lk};
		int rc = mdb_del(txn, m->parents, &k, NULL);
		if (rc && rc != MDB_NOTFOUND) {
			lmdb_fail(e, rc, "deleting parent link of", a->name);
			goto out;
		}
	}
	uint64_t be;
	MDB_val k = id_val(rec->id, &be);
	int rc = mdb_del(txn, m->ids, &k, NULL);
	if (rc && rc != MDB_NOTFOUND) {
		lmdb_fail(e, rc, "deleting id of", a->name);
		goto out;
	}
	ret = record_delete(m, txn, a->name, e);
out:
	strata__v1__snapshot_record__free_unpacked(rec, NULL);
	return ret;
}

int meta_remove(struct meta *m, const char *name, uint64_t *id, int *kind, struct err *e)
{
	struct remove_args a = {.name = name ? name : ""};
	if (in_txn(m, true, remove_body, &a, e) < 0)
		return -1;
	if (id)
		*id = a.id;
	if (kind)
		*kind = a.kind;
	return 0;
}

/* ---- update ---------------------------------------------------------------- */

struct update_args {
	const struct snap_info *in;
	const char *const *paths;
	size_t npaths;
	struct snap_info *out;
};

/* The value `in` gives key (the last one when repeated), "" when none: what
 * reading a Go map gives. */
static const char *in_label(const struct snap_info *in, const char *key)
{
	for (size_t i = in->nlabels; i-- > 0;)
		if (strcmp(in->labels[i].key ? in->labels[i].key : "", key) == 0)
			return in->labels[i].value ? in->labels[i].value : "";
	return "";
}

/* Builds the new label list as UpdateInfo does: start from the stored labels;
 * "labels" replaces them all with in's; "labels.KEY" assigns in's value of KEY
 * (deleting it when in has none).  Later assignments win in normalize. */
static void labels_assign_all(struct label_ref *l, size_t *nl, const struct snap_info *in)
{
	*nl = 0;
	for (size_t i = 0; i < in->nlabels; i++)
		l[(*nl)++] = (struct label_ref){.key = in->labels[i].key, .value = in->labels[i].value};
}

static int update_labels(const struct update_args *a, const Record *rec, struct label_ref **out, size_t *n,
			 struct err *e)
{
	const struct snap_info *in = a->in;
	size_t nl = 0, cap = rec->n_labels + in->nlabels + a->npaths + 1;
	struct label_ref *l = xcalloc(cap, sizeof *l);
	for (size_t i = 0; i < rec->n_labels; i++)
		l[nl++] = (struct label_ref){.key = rec->labels[i]->key, .value = rec->labels[i]->value};
	if (a->npaths == 0)
		labels_assign_all(l, &nl, in);
	for (size_t p = 0; p < a->npaths; p++) {
		const char *path = a->paths[p] ? a->paths[p] : "";
		if (strncmp(path, "labels.", 7) == 0) {
			l[nl++] = (struct label_ref){.key = path + 7, .value = in_label(in, path + 7)};
		} else if (strcmp(path, "labels") == 0) {
			labels_assign_all(l, &nl, in);
		} else {
			free(l);
			return err_set(e, ST_INVALID_ARGUMENT,
				       "cannot update `%.100s` field on snapshot `%.200s`", path, in->name);
		}
	}
	*n = labels_normalize(l, nl);
	if (*n > META_LABELS_MAX) {
		free(l);
		return err_set(e, ST_INVALID_ARGUMENT, "info.Labels: %zu labels, more than %d", *n,
			       META_LABELS_MAX);
	}
	*out = l;
	return 0;
}

static int update_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct update_args *a = arg;
	Record *rec = NULL;
	int r = record_load(m, txn, a->in->name, &rec, e);
	if (r <= 0)
		return r < 0 ? -1 : err_set(e, ST_NOT_FOUND, "snapshot `%.200s` does not exist", a->in->name);
	struct label_ref *l = NULL;
	size_t nl = 0;
	int ret = -1;
	if (update_labels(a, rec, &l, &nl, e) < 0)
		goto out;
	now_realtime(&rec->updated_sec, &rec->updated_nsec);
	/* record_store replaces the label list: keep the unpacked one to free
	 * (l points into it). */
	size_t old_n = rec->n_labels;
	RecordLabel **old = rec->labels;
	ret = record_store(m, txn, a->in->name, rec, l, nl, e);
	if (ret == 0 && a->out) {
		info_fill(a->out, a->in->name, strlen(a->in->name), rec);
		info_set_labels(a->out, l, nl);
	}
	rec->n_labels = old_n;
	rec->labels = old;
	free(l);
out:
	strata__v1__snapshot_record__free_unpacked(rec, NULL);
	return ret;
}

int meta_update(struct meta *m, const struct snap_info *in, const char *const *paths, size_t npaths,
		struct snap_info *out, struct err *e)
{
	if (!in->name || !in->name[0])
		return err_set(e, ST_INVALID_ARGUMENT, "snapshot name must not be empty");
	if (validate_labels(in->labels, in->nlabels, e) < 0)
		return -1;
	struct update_args a = {.in = in, .paths = paths, .npaths = npaths, .out = out};
	return in_txn(m, true, update_body, &a, e);
}

/* ---- usage measured after commit -------------------------------------------- */

struct usage_args {
	const char *name;
	uint64_t id;
	int64_t size, inodes;
};

static int set_usage_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	const struct usage_args *a = arg;
	Record *rec = NULL;
	int r = record_load(m, txn, a->name, &rec, e);
	if (r <= 0)
		return r; /* removed meanwhile: nothing to record */
	int rc = 0;
	/* Only the snapshot that was measured, and only once. */
	if (rec->id == a->id && rec->kind == KIND_COMMITTED && rec->size < 0) {
		rec->size = a->size;
		rec->inodes = a->inodes;
		struct snap_key k;
		snap_key_of(a->name, &k);
		MDB_val key = {.mv_size = k.n, .mv_data = k.b};
		MDB_val val = {.mv_size = strata__v1__snapshot_record__get_packed_size(rec)};
		rc = mdb_put(txn, m->snaps, &key, &val, MDB_RESERVE);
		if (rc == 0)
			strata__v1__snapshot_record__pack(rec, val.mv_data);
	}
	strata__v1__snapshot_record__free_unpacked(rec, NULL);
	return rc ? lmdb_fail(e, rc, "writing snapshot", a->name) : 0;
}

int meta_set_usage(struct meta *m, const char *name, uint64_t id, int64_t size, int64_t inodes, struct err *e)
{
	struct usage_args a = {name, id, size, inodes};
	return in_txn(m, true, set_usage_body, &a, e);
}

/* ---- lookup by id ------------------------------------------------------------- */

static int name_of_id_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct {
		uint64_t id;
		char *name;
	} *a = arg;
	uint64_t be;
	MDB_val key = id_val(a->id, &be), v;
	int rc = mdb_get(txn, m->ids, &key, &v);
	if (rc == MDB_NOTFOUND)
		return err_set(e, ST_NOT_FOUND, "no snapshot has id %" PRIu64, a->id);
	if (rc)
		return lmdb_fail(e, rc, "reading", "ids");
	a->name = xmalloc(v.mv_size + 1);
	memcpy(a->name, v.mv_data, v.mv_size);
	a->name[v.mv_size] = '\0';
	return 0;
}

int meta_get_by_id(struct meta *m, uint64_t id, struct snap_info *out, struct err *e)
{
	struct {
		uint64_t id;
		char *name;
	} a = {id, NULL};
	if (in_txn(m, false, name_of_id_body, &a, e) < 0)
		return -1;
	int rc = meta_get(m, a.name, out, e);
	free(a.name);
	if (rc == 0 && out->id != id) {
		snap_info_free(out);
		return err_set(e, ST_NOT_FOUND, "no snapshot has id %" PRIu64, id);
	}
	return rc;
}

/* ---- mount holds -------------------------------------------------------------- */

/* A hold's record: be64 snapshot id, be32 uid, be32 flags, be64 dev, be64
 * ns.  Records of 8 bytes (the snapshot id alone) were written before holds
 * had owners: they load as root's, read-write, with nothing known about the
 * mount. */
#define HOLD_REC_LEN 32

struct hold_args {
	const struct meta_hold *h;
	const char *path;
	meta_hold_fn fn;
	void *ctx;
};

static void hold_pack(const struct meta_hold *h, unsigned char *rec)
{
	uint64_t id = htobe64(h->id), dev = htobe64(h->dev), ns = htobe64(h->ns);
	uint32_t uid = htobe32(h->uid), flags = htobe32(h->flags);
	memcpy(rec, &id, 8);
	memcpy(rec + 8, &uid, 4);
	memcpy(rec + 12, &flags, 4);
	memcpy(rec + 16, &dev, 8);
	memcpy(rec + 24, &ns, 8);
}

/* 0, or -1 when the record has neither known length. */
static int hold_unpack(const MDB_val *v, struct meta_hold *h)
{
	const unsigned char *rec = v->mv_data;
	uint64_t id, dev = 0, ns = 0;
	uint32_t uid = 0, flags = htobe32(META_HOLD_RW);
	if (v->mv_size != 8 && v->mv_size != HOLD_REC_LEN)
		return -1;
	memcpy(&id, rec, 8);
	if (v->mv_size == HOLD_REC_LEN) {
		memcpy(&uid, rec + 8, 4);
		memcpy(&flags, rec + 12, 4);
		memcpy(&dev, rec + 16, 8);
		memcpy(&ns, rec + 24, 8);
	}
	h->id = be64toh(id);
	h->uid = be32toh(uid);
	h->flags = be32toh(flags);
	h->dev = be64toh(dev);
	h->ns = be64toh(ns);
	return 0;
}

static int hold_put_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct hold_args *a = arg;
	unsigned char rec[HOLD_REC_LEN];
	hold_pack(a->h, rec);
	MDB_val key = {.mv_size = strlen(a->h->path), .mv_data = (void *)a->h->path},
		val = {.mv_size = sizeof rec, .mv_data = rec};
	int rc = mdb_put(txn, m->holds, &key, &val, 0);
	return rc ? lmdb_fail(e, rc, "writing", "holds") : 0;
}

static int hold_del_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct hold_args *a = arg;
	MDB_val key = {.mv_size = strlen(a->path), .mv_data = (void *)a->path};
	int rc = mdb_del(txn, m->holds, &key, NULL);
	return rc && rc != MDB_NOTFOUND ? lmdb_fail(e, rc, "deleting from", "holds") : 0;
}

static int hold_walk_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct hold_args *a = arg;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, m->holds, &cur);
	if (rc)
		return lmdb_fail(e, rc, "reading", "holds");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct meta_hold h;
		if (k.mv_size == 0 || k.mv_size > 4096 || hold_unpack(&v, &h) < 0)
			continue;
		char *path = xmalloc(k.mv_size + 1);
		memcpy(path, k.mv_data, k.mv_size);
		path[k.mv_size] = '\0';
		h.path = path;
		a->fn(&h, a->ctx);
		free(path);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : lmdb_fail(e, rc, "reading", "holds");
}

int meta_hold_put(struct meta *m, const struct meta_hold *h, struct err *e)
{
	struct hold_args a = {.h = h};
	return in_txn(m, true, hold_put_body, &a, e);
}

int meta_hold_del(struct meta *m, const char *path, struct err *e)
{
	struct hold_args a = {.path = path};
	return in_txn(m, true, hold_del_body, &a, e);
}

int meta_holds_walk(struct meta *m, meta_hold_fn fn, void *ctx, struct err *e)
{
	struct hold_args a = {.fn = fn, .ctx = ctx};
	return in_txn(m, false, hold_walk_body, &a, e);
}

/* ---- snapshots a read-write mount fd was issued for -------------------------- */

struct written_args {
	uint64_t id;
	int op; /* 1 put, -1 delete, 0 look up */
	int found;
};

static int written_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct written_args *a = arg;
	uint64_t be = htobe64(a->id);
	MDB_val key = {.mv_size = sizeof be, .mv_data = &be}, val = {.mv_size = 0, .mv_data = ""};
	int rc = a->op > 0   ? mdb_put(txn, m->written, &key, &val, 0)
		 : a->op < 0 ? mdb_del(txn, m->written, &key, NULL)
			     : mdb_get(txn, m->written, &key, &val);
	a->found = rc == 0;
	if (rc && rc != MDB_NOTFOUND)
		return lmdb_fail(e, rc, a->op ? "writing" : "reading", "written");
	return 0;
}

int meta_written_put(struct meta *m, uint64_t id, struct err *e)
{
	struct written_args a = {.id = id, .op = 1};
	return in_txn(m, true, written_body, &a, e);
}

int meta_written_del(struct meta *m, uint64_t id, struct err *e)
{
	struct written_args a = {.id = id, .op = -1};
	return in_txn(m, true, written_body, &a, e);
}

int meta_written(struct meta *m, uint64_t id)
{
	struct written_args a = {.id = id};
	struct err e;
	/* Unreadable counts as marked: the caller then checks on disk. */
	return in_txn(m, false, written_body, &a, &e) < 0 || a.found;
}
