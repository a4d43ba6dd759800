/* The metadata store in LMDB (ROOT/meta): opening it (its databases and
 * schema version), closing it, and LMDB's failures as errors.
 * broker/meta_store.h lays out the store and says which file does what. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/util.h"
#include "meta_store.h"

#define SCHEMA_VERSION 1

int lmdb_fail(struct err *e, int rc, const char *op, const char *obj)
{
	int code = ST_INTERNAL;
	if (rc == MDB_MAP_FULL)
		return err_set(e, ST_RESOURCE_EXHAUSTED,
			       "metadata: %s `%.200s`: the store reached its largest size (meta_max_bytes)",
			       op, obj);
	if (rc == MDB_TXN_FULL || rc == ENOSPC || rc == EDQUOT || rc == MDB_READERS_FULL)
		code = ST_RESOURCE_EXHAUSTED;
	return err_set(e, code, "metadata: %s `%.200s`: %s", op, obj, mdb_strerror(rc));
}

static int open_dbs(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	static const struct {
		const char *name;
		size_t off;
	} dbs[] = {
	    {"snapshots", offsetof(struct meta, snaps)}, {"parents", offsetof(struct meta, parents)},
	    {"ids", offsetof(struct meta, ids)},	 {"info", offsetof(struct meta, info)},
	    {"holds", offsetof(struct meta, holds)},	 {"written", offsetof(struct meta, written)},
	    {"failed", offsetof(struct meta, failed)},	 {"applying", offsetof(struct meta, applying)},
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

static void meta_free(struct meta *m)
{
	mdb_env_close(m->env);
	free(m->dir);
	free(m);
}

int meta_open(struct meta **out, const char *dir, struct err *e)
{
	return meta_open_sized(out, dir, META_MAX_BYTES_DEFAULT, e);
}

int meta_open_sized(struct meta **out, const char *dir, uint64_t max_bytes, struct err *e)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_errno(e, 0, errno, "creating metadata directory `%s`", dir);
	struct meta *m = xcalloc(1, sizeof *m);
	int rc = mdb_env_create(&m->env);
	if (rc) {
		free(m);
		return lmdb_fail(e, rc, "creating environment for", dir);
	}
	m->dir = xstrdup(dir);
	/* The map is address space only: the file grows as pages are used. */
	m->map_size = max_bytes;
	if ((rc = mdb_env_set_maxdbs(m->env, 8)) || (rc = mdb_env_set_mapsize(m->env, (size_t)max_bytes)))
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
		meta_free(m);
		return -1;
	}
	/* A store larger than the setting keeps its size (LMDB never shrinks
	 * the map below what is used). */
	MDB_envinfo info;
	if (mdb_env_info(m->env, &info) == 0 && info.me_mapsize > m->map_size)
		m->map_size = info.me_mapsize;
	reserve_init(m);
	/* Reader slots left by a broker that crashed would pin old pages forever. */
	int dead = 0;
	mdb_reader_check(m->env, &dead);
	if (in_txn(m, true, open_dbs, NULL, e) < 0) {
		pthread_mutex_destroy(&m->rsv_mu);
		meta_free(m);
		return err_wrap(e, "opening metadata in `%s`", dir);
	}
	*out = m;
	return 0;
fail:
	lmdb_fail(e, rc, "opening environment in", dir);
	meta_free(m);
	return -1;
}

void meta_close(struct meta *m)
{
	if (!m)
		return;
	committer_stop(m);
	if (m->batch)
		mdb_txn_abort(m->batch);
	pthread_mutex_destroy(&m->rsv_mu);
	meta_free(m);
}
